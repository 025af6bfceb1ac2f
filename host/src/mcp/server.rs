//! The MCP server handler: tools/list (paginated) and tools/call over the
//! current catalog snapshot, logging/setLevel, for both protocol eras.
//!
//! One handler value serves one handshake-era session (a stdio connection or
//! an HTTP `Mcp-Session-Id`); a 2026-07-28 request gets its own handler and
//! carries its client info and log level in `_meta`.

use std::sync::{Arc, Mutex};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult, LoggingLevel,
    PaginatedRequestParams, ProtocolVersion, ServerCapabilities, ServerConfig,
    SetLevelRequestParams, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::Value;

use super::channel::{PeerChannel, from_mcp_level};
use super::{HostServices, convert};
use crate::context::{CallContext, ClientIdentity, LogLevel};
use crate::error::InvocationError;

/// The level logs are sent at to a handshake-era client that never called
/// `logging/setLevel`.
const DEFAULT_LOG_THRESHOLD: LogLevel = LogLevel::Info;

/// One MCP session's (or one stateless request's) handler.
#[derive(Clone)]
pub struct McpServer {
    services: Arc<HostServices>,
    /// The transport's own session id (stdio), when it has one.
    session_id: Option<String>,
    /// Set by `logging/setLevel` (handshake era).
    log_level: Arc<Mutex<Option<LoggingLevel>>>,
}

impl McpServer {
    pub fn new(services: Arc<HostServices>, session_id: Option<String>) -> Self {
        Self {
            services,
            session_id,
            log_level: Arc::new(Mutex::new(None)),
        }
    }

    fn is_modern(ctx: &RequestContext<RoleServer>) -> bool {
        ctx.protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28)
    }

    /// The session a request belongs to: the HTTP session header, else the
    /// transport's own session.
    fn session_of(&self, ctx: &RequestContext<RoleServer>) -> Option<String> {
        if let Some(parts) = ctx.extensions.get::<http::request::Parts>() {
            return parts
                .headers
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
        }
        self.session_id.clone()
    }

    fn log_threshold(&self, ctx: &RequestContext<RoleServer>) -> Option<LogLevel> {
        if Self::is_modern(ctx) {
            return ctx.meta.log_level().map(from_mcp_level);
        }
        let set = *self.log_level.lock().unwrap_or_else(|e| e.into_inner());
        Some(set.map(from_mcp_level).unwrap_or(DEFAULT_LOG_THRESHOLD))
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_logging()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
        )
        .with_server_info(Implementation::new(
            "mcp-wasm-host",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions(
            "Tools served from sandboxed WebAssembly plugins. A tool named `plugin.tool` \
             comes from the plugin `plugin`.",
        )
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let all = self.services.tool_list();
        let start = match request.and_then(|r| r.cursor) {
            None => 0,
            Some(cursor) => cursor
                .parse::<usize>()
                .ok()
                .filter(|&n| n <= all.len())
                .ok_or_else(|| {
                    McpError::invalid_params(format!("invalid cursor `{cursor}`"), None)
                })?,
        };
        let end = (start + self.services.page_size).min(all.len());
        let mut result = ListToolsResult::with_all_items(all[start..end].to_vec());
        if end < all.len() {
            result.next_cursor = Some(end.to_string());
        }
        Ok(result)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.services
            .tool_list()
            .iter()
            .find(|t| t.name == name)
            .cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let catalog = self.services.catalog.snapshot();
        let Some(tool) = catalog.tool(&request.name) else {
            return Err(McpError::invalid_params(
                format!("unknown tool `{}`", request.name),
                None,
            ));
        };
        let arguments = Value::Object(request.arguments.unwrap_or_default());
        if let Err(problem) = crate::schema::check_arguments(&tool.spec().validator, &arguments) {
            return Err(McpError::invalid_params(
                format!("invalid arguments for tool `{}`: {problem}", tool.name),
                None,
            ));
        }

        let channel = PeerChannel {
            peer: ctx.peer.clone(),
            threshold: self.log_threshold(&ctx),
            progress_token: ctx.meta.get_progress_token(),
        };
        let client = ctx.client_info().map(|i| ClientIdentity {
            name: i.name,
            version: i.version,
        });
        let protocol_version = ctx
            .protocol_version()
            .map(|v| v.to_string())
            .unwrap_or_default();
        let call = CallContext::new(
            request_id_text(&ctx),
            protocol_version,
            ctx.ct.clone(),
            Arc::new(channel),
        )
        .with_session(self.session_of(&ctx))
        .with_client(client);

        let plugin = tool.plugin.clone();
        let tool_name = tool.spec().name.clone();
        let outcome = self
            .services
            .runtime
            .call_tool(&plugin, &tool_name, &arguments, call)
            .await;
        let result = match outcome {
            Ok(result) => result,
            Err(error) => {
                match &error {
                    InvocationError::Cancelled => {
                        tracing::debug!(tool = %request.name, "call cancelled by the client")
                    }
                    other => tracing::warn!(tool = %request.name, "{other}"),
                }
                crate::tool::ToolResult::error_text(error.to_string())
            }
        };
        Ok(convert::call_result(result).into())
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        *self.log_level.lock().unwrap_or_else(|e| e.into_inner()) = Some(request.level);
        Ok(())
    }
}

fn request_id_text(ctx: &RequestContext<RoleServer>) -> String {
    match &ctx.id {
        rmcp::model::NumberOrString::Number(n) => n.to_string(),
        rmcp::model::NumberOrString::String(s) => s.to_string(),
    }
}

//! The MCP server handler, for both protocol eras: tools (listed with
//! pagination; a call goes on in [`super::tool_calls`]), resources,
//! prompts, completions, subscriptions and `logging/setLevel`, over the
//! current catalog snapshot.
//!
//! One handler value serves one handshake-era session (a stdio connection or
//! an HTTP `Mcp-Session-Id`); a 2026-07-28 request gets its own handler and
//! carries its client info, capabilities and log level in `_meta`. In that
//! era a call that asks the client something is parked and answered with
//! `InputRequiredResult` ([`super::multi_round`]).

use std::sync::{Arc, Mutex};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CancelTaskParams, CompleteRequestParams,
    CompleteResult, CustomRequest, CustomResult, GetPromptRequestParams, GetPromptResponse,
    GetTaskParams, GetTaskResult, Implementation, InitializeRequestParams, InitializeResult,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
    PaginatedRequestParams, ProtocolVersion, ReadResourceRequestParams, ReadResourceResponse,
    ServerCapabilities, ServerConfig, SetLevelRequestParams, SubscribeRequestParams,
    SubscriptionFilter, Tool, UnsubscribeRequestParams, UpdateTaskParams,
};
use rmcp::service::{RequestContext, SubscriptionContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::Value;

use super::ServerState;
use super::channel::{PeerChannel, from_mcp_level};
use super::subscriptions::SessionLogLevel;
use super::tasks::TaskAsk;
use crate::auth::Access;
use crate::context::{CallContext, ClientChannel, ClientIdentity, LogLevel};

/// The level logs are sent at to a handshake-era client that never called
/// `logging/setLevel`.
pub(super) const DEFAULT_LOG_THRESHOLD: LogLevel = LogLevel::Info;

/// The `_meta` key a 2026-07-28 client sets to keep session state across
/// its requests.
pub const STATE_HANDLE_META_KEY: &str = "mcp-wasm-host/stateHandle";

/// One MCP session's (or one stateless request's) handler.
#[derive(Clone)]
pub struct McpServer {
    pub(super) shared: Arc<ServerState>,
    /// The transport's own session id (stdio), when it has one.
    pub(super) session_id: Option<String>,
    /// Set by `logging/setLevel` (handshake era).
    log_level: SessionLogLevel,
    /// This session's id in the subscription hub.
    pub(super) hub_id: u64,
    /// Who requests over stdio are made as.
    stdio_caller: crate::auth::StdioCaller,
}

impl McpServer {
    pub fn new(services: Arc<ServerState>, session_id: Option<String>) -> Self {
        let hub_id = services.hub.next_id();
        Self {
            shared: services,
            session_id,
            log_level: Arc::new(Mutex::new(None)),
            hub_id,
            stdio_caller: crate::auth::StdioCaller::Everything,
        }
    }

    /// This server, its stdio requests made as `caller`.
    pub fn with_stdio_caller(mut self, caller: crate::auth::StdioCaller) -> Self {
        self.stdio_caller = caller;
        self
    }

    pub(super) fn is_modern(ctx: &RequestContext<RoleServer>) -> bool {
        ctx.protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28)
    }

    /// What `ctx` says about who asks and where, worked out once per
    /// request: its access, session and session-state scope, and the
    /// identities a plugin call sees.
    pub(super) fn facts(&self, ctx: &RequestContext<RoleServer>) -> RequestFacts {
        let access = self.access(ctx);
        let session = self.session_of(ctx, &access);
        let session_scope = self.session_scope(ctx, &access, session.as_deref());
        RequestFacts {
            request_id: request_id_text(ctx),
            protocol_version: ctx
                .protocol_version()
                .map(|v| v.to_string())
                .unwrap_or_default(),
            client: ctx.client_info().map(|i| ClientIdentity {
                name: i.name,
                version: i.version,
            }),
            session,
            session_scope,
            access,
            span: ctx
                .extensions
                .get::<super::traced::RequestSpan>()
                .map_or_else(tracing::Span::none, |s| s.0.clone()),
        }
    }

    /// The session a handshake-era request belongs to, keyed by its
    /// principal as well (the HTTP layer refuses a session id sent by
    /// another principal; keying by both keeps state and warm instances
    /// apart even so): the HTTP session header, else the transport's own
    /// session. A 2026-07-28 request has none, whatever headers it sends.
    fn session_of(&self, ctx: &RequestContext<RoleServer>, access: &Access) -> Option<String> {
        if Self::is_modern(ctx) && self.session_id.is_none() {
            return None;
        }
        let session = match ctx.extensions.get::<http::request::Parts>() {
            Some(parts) => parts
                .headers
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            None => self.session_id.clone(),
        }?;
        Some(session_key(
            access.principal().map(|p| p.id.as_str()),
            &session,
        ))
    }

    /// Where session state lives for this request: for a 2026-07-28
    /// request the state handle in `_meta`, else the authenticated
    /// principal, else the stdio connection (one process per client); for
    /// a handshake-era request its `session` (with its principal).
    fn session_scope(
        &self,
        ctx: &RequestContext<RoleServer>,
        access: &Access,
        session: Option<&str>,
    ) -> Option<String> {
        if !Self::is_modern(ctx) {
            return session.map(|s| format!("session:{s}"));
        }
        let principal = access.principal();
        match ctx.meta.get(STATE_HANDLE_META_KEY).and_then(Value::as_str) {
            // Handles are the client's names: each principal has its own
            // (the id's length keeps `id:handle` unambiguous).
            Some(handle) if !handle.is_empty() && handle.len() <= 256 => Some(match principal {
                Some(p) => format!("handle:{}:{}:{handle}", p.id.len(), p.id),
                None => format!("handle:{handle}"),
            }),
            _ => match principal {
                Some(p) => Some(format!("principal:{}", p.id)),
                None if ctx.extensions.get::<http::request::Parts>().is_none() => {
                    self.session_id.as_ref().map(|s| format!("session:{s}"))
                }
                None => None,
            },
        }
    }

    fn log_threshold(&self, ctx: &RequestContext<RoleServer>) -> Option<LogLevel> {
        if Self::is_modern(ctx) {
            return ctx.meta.log_level().map(from_mcp_level);
        }
        let set = *self.log_level.lock().unwrap_or_else(|e| e.into_inner());
        Some(set.map(from_mcp_level).unwrap_or(DEFAULT_LOG_THRESHOLD))
    }

    /// The channel back to the client for this request.
    pub(super) fn peer_channel(&self, ctx: &RequestContext<RoleServer>) -> Arc<PeerChannel> {
        Arc::new(PeerChannel {
            peer: ctx.peer.clone(),
            originating: ctx.id.clone(),
            threshold: self.log_threshold(ctx),
            progress_token: ctx.meta.get_progress_token(),
            capabilities: ctx.client_capabilities(),
            timeout: self.shared.client_timeout,
            hub: self.shared.hub.clone(),
            modern: Self::is_modern(ctx),
        })
    }

    /// The context of a plugin call serving the request `facts` describe.
    pub(super) fn call_context(
        &self,
        facts: &RequestFacts,
        channel: Arc<dyn ClientChannel>,
        cancel: tokio_util::sync::CancellationToken,
    ) -> CallContext {
        CallContext::new(
            facts.request_id.clone(),
            facts.protocol_version.clone(),
            cancel,
            channel,
        )
        .with_session(facts.session.clone())
        .with_client(facts.client.clone())
        .with_session_scope(facts.session_scope.clone())
        .with_host_catalog(self.shared.catalog_service.clone())
        .with_access(facts.access.clone())
        .with_span(facts.span.clone())
    }

    /// Which plugins the request may reach: over HTTP, what the transport's
    /// authentication decided (nothing, should it not have); over stdio,
    /// the stdio principal's (every plugin, without one).
    pub(super) fn access(&self, ctx: &RequestContext<RoleServer>) -> Access {
        match ctx.extensions.get::<http::request::Parts>() {
            Some(parts) => parts
                .extensions
                .get::<Access>()
                .cloned()
                .unwrap_or(Access::Nothing),
            None => self.stdio_caller.access(),
        }
    }

    /// The tool list `access` sees.
    fn visible_tools(&self, access: &Access) -> Arc<Vec<Tool>> {
        let all = self.shared.tool_list();
        if matches!(access, Access::Everything) {
            return all;
        }
        let catalog = self.shared.catalog.snapshot();
        Arc::new(
            all.iter()
                .filter(|t| {
                    catalog
                        .tool(&t.name)
                        .is_some_and(|e| access.allows(&e.plugin.name))
                })
                .cloned()
                .collect(),
        )
    }
}

/// A list page: items from the offset in `cursor`, and the next cursor.
pub(super) fn page<T: Clone>(
    all: &[T],
    request: Option<PaginatedRequestParams>,
    page_size: usize,
) -> Result<(Vec<T>, Option<String>), McpError> {
    let start = match request.and_then(|r| r.cursor) {
        None => 0,
        Some(cursor) => cursor
            .parse::<usize>()
            .ok()
            .filter(|&n| n <= all.len())
            .ok_or_else(|| McpError::invalid_params(format!("invalid cursor `{cursor}`"), None))?,
    };
    let end = (start + page_size).min(all.len());
    let next = (end < all.len()).then(|| end.to_string());
    Ok((all[start..end].to_vec(), next))
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_logging()
                .enable_completions()
                .enable_prompts()
                .enable_prompts_list_changed()
                .enable_resources()
                .enable_resources_subscribe()
                .enable_resources_list_changed()
                .enable_tools()
                .enable_tool_list_changed()
                .enable_tasks()
                .build(),
        )
        .with_server_info(Implementation::new(
            "mcp-wasm-host",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions(
            "Tools, resources and prompts served from sandboxed WebAssembly plugins. A name \
             of the form `plugin.name` comes from the plugin `plugin`.",
        )
    }

    /// The session joins the hub as it is created, not when the client's
    /// `initialized` notification is handled (which may come after the
    /// client's first request), so no broadcast can miss it.
    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, McpError> {
        context.peer.set_peer_info(request.clone());
        self.shared
            .hub
            .register_session(self.hub_id, context.peer.clone(), self.log_level.clone());
        self.negotiate_initialize(&request)
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let all = self.visible_tools(&self.access(&ctx));
        let (items, next) = page(&all, request, self.shared.page_size)?;
        let mut result = ListToolsResult::with_all_items(items);
        result.next_cursor = next;
        Ok(result)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.shared
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
        self.call_tool_asking(request, ctx, TaskAsk::Decide).await
    }

    async fn on_custom_request(
        &self,
        request: CustomRequest,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CustomResult, McpError> {
        self.custom_request(request, ctx).await
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, McpError> {
        self.task_get(request, ctx).await
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.task_update(request, ctx).await
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.task_cancel(request, ctx).await
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        *self.log_level.lock().unwrap_or_else(|e| e.into_inner()) = Some(request.level);
        Ok(())
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        self.handle_list_resources(request, ctx).await
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        self.handle_list_resource_templates(request, &self.access(&ctx))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        self.handle_read_resource(request, ctx).await
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        self.handle_list_prompts(request, &self.access(&ctx))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        self.handle_get_prompt(request, ctx).await
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        self.handle_complete(request, ctx).await
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.shared
            .hub
            .subscribe(
                self.hub_id,
                ctx.peer.clone(),
                self.log_level.clone(),
                self.access(&ctx),
                request.uri,
            )
            .map_err(|e| McpError::invalid_params(e, None))
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.shared.hub.unsubscribe(self.hub_id, &request.uri);
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(requested.clone())
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), McpError> {
        let id = self.shared.hub.next_id();
        let access = self.access(context.request_context());
        self.shared
            .hub
            .add_listener(id, context.sink().clone(), access);
        tracing::info!(listener = id, "subscriptions/listen stream open");
        context.cancelled().await;
        self.shared.hub.remove_listener(id);
        tracing::info!(listener = id, "subscriptions/listen stream closed");
        Ok(())
    }
}

/// What one request says about who asks and where ([`McpServer::facts`]).
#[derive(Debug, Clone)]
pub(super) struct RequestFacts {
    pub access: Access,
    /// The handshake-era session, keyed by principal.
    pub session: Option<String>,
    pub session_scope: Option<String>,
    request_id: String,
    protocol_version: String,
    client: Option<ClientIdentity>,
    /// The request's server span.
    pub span: tracing::Span,
}

fn request_id_text(ctx: &RequestContext<RoleServer>) -> String {
    match &ctx.id {
        rmcp::model::NumberOrString::Number(n) => n.to_string(),
        rmcp::model::NumberOrString::String(s) => s.to_string(),
    }
}

/// The key of a handshake-era session's state and warm instances: the
/// session id, prefixed by its principal when there is one.
pub(crate) fn session_key(principal: Option<&str>, session: &str) -> String {
    match principal {
        Some(id) => format!("{}:{id}:{session}", id.len()),
        None => session.to_string(),
    }
}

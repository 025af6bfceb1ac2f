//! One MCP session inside the process: a client talks to the host's own
//! server over an in-memory pipe, so `list` and `call` see exactly what a
//! client over stdio sees — the same listings, the same sandbox, budgets
//! and policy, the same errors for an unknown tool or arguments that fail
//! the schema — with no client program. What the plugin asks of the client
//! (elicitation, sampling) goes to a [`LocalUser`]; roots are the current
//! directory.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientInfo, CreateMessageRequestParams,
    CreateMessageResult, ElicitRequestParams, ElicitResult, ElicitationAction, Implementation,
    ListRootsResult, LoggingMessageNotificationParam, ProgressNotificationParam, Role, Root,
    SamplingMessage,
};
use rmcp::service::{NotificationContext, RequestContext, RoleClient, RunningService};
use rmcp::{ClientHandler, ServiceExt};
use serde_json::{Map, Value};

use super::{McpServer, ServerState};

/// The person (or the absence of one) answering what plugins ask.
pub trait LocalUser: Send + Sync + 'static {
    /// Whether someone can answer: the session then declares elicitation
    /// and sampling; otherwise plugins are told the client supports neither.
    fn interactive(&self) -> bool;
    /// Answer an elicitation form (`schema` is its requested schema).
    /// Runs on a blocking thread.
    fn elicit(&self, message: &str, schema: &Value) -> Elicited;
    /// Write the model's reply to `question`, or `None` to refuse. Runs on
    /// a blocking thread.
    fn sample(&self, question: &SamplingQuestion) -> Option<String>;
    /// A log line or progress report of the running call.
    fn notice(&self, line: &str);
}

/// An answer to an elicitation.
#[derive(Debug, Clone, PartialEq)]
pub enum Elicited {
    Accept(Map<String, Value>),
    Decline,
    Cancel,
}

/// What a plugin asked a model, as text.
#[derive(Debug, Clone)]
pub struct SamplingQuestion {
    pub system: Option<String>,
    /// Each message's role (`user`, `assistant`) and text.
    pub messages: Vec<(String, String)>,
    pub max_tokens: u32,
}

/// Why the local session could not answer.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("cannot start the in-process MCP session: {0}")]
    Start(String),
    /// The server answered with a JSON-RPC error, as it would a client.
    #[error("{message} (MCP error {code})")]
    Protocol { code: i32, message: String },
    #[error("the in-process MCP session ended: {0}")]
    Ended(String),
}

impl From<rmcp::ServiceError> for LocalError {
    fn from(error: rmcp::ServiceError) -> Self {
        match error {
            rmcp::ServiceError::McpError(e) => LocalError::Protocol {
                code: e.code.0,
                message: e.message.into_owned(),
            },
            other => LocalError::Ended(other.to_string()),
        }
    }
}

/// What the host serves, each item as MCP writes it.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing {
    pub tools: Vec<Value>,
    pub prompts: Vec<Value>,
    pub resources: Vec<Value>,
    pub resource_templates: Vec<Value>,
}

/// A tool call's result, as MCP writes it, and whether the tool failed.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    pub is_error: bool,
    pub result: Value,
}

/// A session with the host's server, in this process.
pub struct LocalSession {
    client: RunningService<RoleClient, LocalClient>,
    server: tokio::task::JoinHandle<()>,
}

impl LocalSession {
    /// Open a session with a server over `state`.
    pub async fn start(
        state: Arc<ServerState>,
        user: Arc<dyn LocalUser>,
    ) -> Result<Self, LocalError> {
        let (server_end, client_end) = tokio::io::duplex(1 << 20);
        let server = super::Traced::new(McpServer::new(
            state,
            Some(super::transport::new_session_id()),
        ));
        let server = tokio::spawn(async move {
            if let Ok(running) = server.serve(tokio::io::split(server_end)).await {
                let _ = running.waiting().await;
            }
        });
        let client = LocalClient { user }
            .serve(tokio::io::split(client_end))
            .await
            .map_err(|e| LocalError::Start(e.to_string()))?;
        Ok(Self { client, server })
    }

    /// Every tool, prompt, resource and resource template, all pages.
    pub async fn listing(&self) -> Result<Listing, LocalError> {
        let peer = self.client.peer();
        let capabilities = peer
            .peer_info()
            .map(|info| info.capabilities.clone())
            .unwrap_or_default();
        let mut listing = Listing {
            tools: json(peer.list_all_tools().await?),
            ..Listing::default()
        };
        if capabilities.prompts.is_some() {
            listing.prompts = json(peer.list_all_prompts().await?);
        }
        if capabilities.resources.is_some() {
            listing.resources = json(peer.list_all_resources().await?);
            listing.resource_templates = json(peer.list_all_resource_templates().await?);
        }
        Ok(listing)
    }

    /// Call `tool` with `arguments`.
    pub async fn call(
        &self,
        tool: &str,
        arguments: Option<Map<String, Value>>,
    ) -> Result<CallOutcome, LocalError> {
        let mut params = CallToolRequestParams::new(tool.to_string());
        if let Some(arguments) = arguments {
            params = params.with_arguments(arguments);
        }
        let result = self.client.peer().call_tool(params).await?;
        Ok(CallOutcome {
            is_error: result.is_error == Some(true),
            result: serde_json::to_value(&result).unwrap_or(Value::Null),
        })
    }

    /// End the session.
    pub async fn close(mut self) {
        let _ = self.client.close().await;
        let _ = self.server.await;
    }
}

/// The client half: declares what the [`LocalUser`] can answer and passes
/// requests on to it.
struct LocalClient {
    user: Arc<dyn LocalUser>,
}

impl LocalClient {
    async fn ask<T: Send + 'static>(
        &self,
        ask: impl FnOnce(&dyn LocalUser) -> T + Send + 'static,
    ) -> Result<T, rmcp::ErrorData> {
        let user = self.user.clone();
        tokio::task::spawn_blocking(move || ask(user.as_ref()))
            .await
            .map_err(|e| rmcp::ErrorData::internal_error(e.to_string(), None))
    }
}

impl ClientHandler for LocalClient {
    fn get_info(&self) -> ClientInfo {
        let capabilities = if self.user.interactive() {
            ClientCapabilities::builder()
                .enable_elicitation()
                .enable_sampling()
                .enable_roots()
                .build()
        } else {
            ClientCapabilities::builder().enable_roots().build()
        };
        ClientInfo::new(
            capabilities,
            Implementation::new("mcp-wasm-host", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _ctx: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, rmcp::ErrorData> {
        let ElicitRequestParams::FormElicitationParams {
            message,
            requested_schema,
            ..
        } = request
        else {
            return Ok(ElicitResult::new(ElicitationAction::Decline));
        };
        let schema = serde_json::to_value(&requested_schema).unwrap_or(Value::Null);
        let answer = self.ask(move |user| user.elicit(&message, &schema)).await?;
        Ok(match answer {
            Elicited::Accept(content) => {
                ElicitResult::new(ElicitationAction::Accept).with_content(Value::Object(content))
            }
            Elicited::Decline => ElicitResult::new(ElicitationAction::Decline),
            Elicited::Cancel => ElicitResult::new(ElicitationAction::Cancel),
        })
    }

    async fn create_message(
        &self,
        request: CreateMessageRequestParams,
        _ctx: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, rmcp::ErrorData> {
        let question = SamplingQuestion {
            system: request.system_prompt.clone(),
            messages: request
                .messages
                .iter()
                .map(|message| {
                    let role = match message.role {
                        Role::User => "user",
                        Role::Assistant => "assistant",
                    };
                    (role.to_string(), message_text(message))
                })
                .collect(),
            max_tokens: request.max_tokens,
        };
        match self.ask(move |user| user.sample(&question)).await? {
            Some(reply) => Ok(CreateMessageResult::new(
                SamplingMessage::assistant_text(reply),
                "the person at the terminal".into(),
            )
            .with_stop_reason(CreateMessageResult::STOP_REASON_END_TURN)),
            None => Err(rmcp::ErrorData::invalid_request(
                "the user declined to answer the sampling request",
                None,
            )),
        }
    }

    async fn list_roots(
        &self,
        _ctx: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, rmcp::ErrorData> {
        let roots = std::env::current_dir()
            .ok()
            .and_then(|dir| url::Url::from_directory_path(dir).ok())
            .map(|url| vec![Root::new(url.to_string())])
            .unwrap_or_default();
        Ok(ListRootsResult::new(roots))
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _ctx: NotificationContext<RoleClient>,
    ) {
        let data = match &params.data {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let level = serde_json::to_value(params.level).unwrap_or(Value::Null);
        let level = level.as_str().unwrap_or("log");
        self.user.notice(&format!("[{level}] {data}"));
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _ctx: NotificationContext<RoleClient>,
    ) {
        let total = params.total.map(|t| format!("/{t}")).unwrap_or_default();
        let message = params.message.map(|m| format!(" {m}")).unwrap_or_default();
        self.user
            .notice(&format!("[progress] {}{total}{message}", params.progress));
    }
}

/// Items as MCP writes them.
fn json<T: serde::Serialize>(items: Vec<T>) -> Vec<Value> {
    items
        .into_iter()
        .map(|item| serde_json::to_value(item).unwrap_or(Value::Null))
        .collect()
}

/// The text of a sampling message (other content named by its kind).
fn message_text(message: &SamplingMessage) -> String {
    let value = serde_json::to_value(&message.content).unwrap_or(Value::Null);
    let blocks = match value {
        Value::Array(blocks) => blocks,
        single => vec![single],
    };
    blocks
        .iter()
        .map(|block| match block.get("text").and_then(Value::as_str) {
            Some(text) => text.to_string(),
            None => format!(
                "[{}]",
                block
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("content")
            ),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

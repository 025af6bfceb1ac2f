//! The [`ClientChannel`] of one handshake-era MCP request: log messages
//! filtered by the client's threshold, progress only when the request
//! carries a token, requests to the client (sampling, elicitation, roots)
//! sent over the session after checking the client declared the capability,
//! and resource notices through the [`SubscriptionHub`].

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    ClientCapabilities, ClientResult, CreateMessageRequest, CreateMessageRequestParams,
    ElicitRequest, ElicitRequestParams, ListRootsRequest, LoggingLevel,
    LoggingMessageNotificationParam, ProgressNotificationParam, ProgressToken, ServerRequest,
};
use rmcp::model::{GetExtensions as _, RequestId};
use rmcp::model::{MetaObject, RequestMetaObject};
use rmcp::service::{OriginatingRequestId, PeerRequestOptions};
use rmcp::{Peer, RoleServer, ServiceError};
use serde_json::Value;

use super::client_wire;
use super::subscriptions::SubscriptionHub;
use crate::context::{
    BoxFuture, ClientAnswer, ClientChannel, ClientRequest, ClientRequestKind, FacadeError, LogLevel,
};
use crate::telemetry::propagation;

/// Sends one request's logs, progress and client requests to its client.
pub(super) struct PeerChannel {
    pub(super) peer: Peer<RoleServer>,
    /// The request being served: over HTTP a request to the client rides
    /// its response stream. Set here, not left to the SDK's task-local,
    /// which a call moved to the worker pool no longer carries.
    pub(super) originating: RequestId,
    /// Messages below this level are dropped; `None` drops every message
    /// (a 2026-07-28 request that did not ask for logs).
    pub(super) threshold: Option<LogLevel>,
    pub(super) progress_token: Option<ProgressToken>,
    /// What the client declared it can do.
    pub(super) capabilities: Option<ClientCapabilities>,
    /// How long to wait for the client to answer a request.
    pub(super) timeout: Duration,
    pub(super) hub: Arc<SubscriptionHub>,
    /// A 2026-07-28 request: the server may not send requests of its own;
    /// questions for the client travel in `InputRequiredResult` instead,
    /// which this host supports for tools/call, prompts/get and
    /// resources/read.
    pub(super) modern: bool,
}

impl PeerChannel {
    /// Refuse a request the client did not declare it can answer.
    pub(super) fn check_capability(&self, request: &ClientRequest) -> Result<(), FacadeError> {
        check_capability(self.capabilities.as_ref(), request)
    }
}

/// Whether `caps` allows `request`; the error names the missing capability.
pub(super) fn check_capability(
    caps: Option<&ClientCapabilities>,
    request: &ClientRequest,
) -> Result<(), FacadeError> {
    let missing = |what: &str| {
        Err(FacadeError::UnsupportedByClient(format!(
            "the client did not declare the `{what}` capability"
        )))
    };
    let Some(caps) = caps else {
        return missing(match request.kind() {
            ClientRequestKind::Sampling => "sampling",
            ClientRequestKind::Elicitation => "elicitation",
            ClientRequestKind::Roots => "roots",
        });
    };
    match request.kind() {
        ClientRequestKind::Sampling => {
            let Some(sampling) = &caps.sampling else {
                return missing("sampling");
            };
            let wants_tools = matches!(request, ClientRequest::Sampling(r) if r.uses_tools());
            if wants_tools && sampling.tools.is_none() {
                return missing("sampling.tools");
            }
            Ok(())
        }
        ClientRequestKind::Elicitation => {
            let Some(e) = &caps.elicitation else {
                return missing("elicitation");
            };
            let url_mode = matches!(request, ClientRequest::ElicitUrl { .. });
            // An empty `elicitation: {}` means form mode (the capability
            // before modes existed).
            let form_ok = e.form.is_some() || (e.form.is_none() && e.url.is_none());
            match (url_mode, form_ok, e.url.is_some()) {
                (true, _, false) => missing("elicitation.url"),
                (false, false, _) => missing("elicitation.form"),
                _ => Ok(()),
            }
        }
        ClientRequestKind::Roots => match caps.roots {
            Some(_) => Ok(()),
            None => missing("roots"),
        },
    }
}

/// The typed MCP request for a question.
pub(super) fn server_request(request: &ClientRequest) -> Result<ServerRequest, FacadeError> {
    let kind = request.kind();
    let invalid = |e: serde_json::Error| {
        FacadeError::InvalidInput(format!("not a valid `{}` request: {e}", kind.method()))
    };
    let params = client_wire::params(request);
    Ok(match kind {
        ClientRequestKind::Sampling => {
            let params: CreateMessageRequestParams =
                serde_json::from_value(params).map_err(invalid)?;
            ServerRequest::CreateMessageRequest(CreateMessageRequest::new(params))
        }
        ClientRequestKind::Elicitation => {
            let params: ElicitRequestParams = serde_json::from_value(params).map_err(invalid)?;
            ServerRequest::ElicitRequest(ElicitRequest::new(params))
        }
        ClientRequestKind::Roots => ServerRequest::ListRootsRequest(ListRootsRequest::default()),
    })
}

/// The wire form of a client's answer.
fn answer_json(result: ClientResult) -> Result<Value, FacadeError> {
    let value = match result {
        ClientResult::CreateMessageResult(r) => serde_json::to_value(*r),
        ClientResult::ElicitResult(r) => serde_json::to_value(r),
        ClientResult::ListRootsResult(r) => serde_json::to_value(r),
        other => {
            return Err(FacadeError::Failed(format!(
                "the client answered with an unexpected result: {other:?}"
            )));
        }
    };
    value.map_err(|e| FacadeError::Failed(e.to_string()))
}

impl ClientChannel for PeerChannel {
    fn log(&self, level: LogLevel, logger: Option<String>, data: Value) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if self.threshold.is_none_or(|t| level < t) {
                return;
            }
            let mut param = LoggingMessageNotificationParam::new(to_mcp_level(level), data);
            if let Some(logger) = logger {
                param = param.with_logger(logger);
            }
            if let Err(e) = self.peer.notify_logging_message(param).await {
                tracing::debug!("cannot send a log message to the client: {e}");
            }
        })
    }

    fn progress(
        &self,
        progress: f64,
        total: Option<f64>,
        message: Option<String>,
    ) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let Some(token) = &self.progress_token else {
                return;
            };
            let mut param = ProgressNotificationParam::new(token.clone(), progress);
            if let Some(total) = total {
                param = param.with_total(total);
            }
            if let Some(message) = message {
                param = param.with_message(message);
            }
            if let Err(e) = self.peer.notify_progress(param).await {
                tracing::debug!("cannot send progress to the client: {e}");
            }
        })
    }

    fn request(&self, request: ClientRequest) -> BoxFuture<'_, Result<ClientAnswer, FacadeError>> {
        Box::pin(async move {
            self.check_capability(&request)?;
            if self.modern {
                return Err(FacadeError::UnsupportedByClient(format!(
                    "with protocol 2026-07-28 this host sends `{}` only while calling a tool, \
                     getting a prompt or reading a resource",
                    request.kind().method()
                )));
            }
            let mut typed = server_request(&request)?;
            typed
                .extensions_mut()
                .insert(OriginatingRequestId(self.originating.clone()));
            let mut options = PeerRequestOptions::with_timeout(self.timeout);
            // The client continues the trace of the call that asks (the
            // request runs in its client span).
            options.meta = propagation::meta_of(&tracing::Span::current())
                .map(|meta| RequestMetaObject(MetaObject(meta)));
            let handle = self
                .peer
                .send_request_with_option(typed, options)
                .await
                .map_err(service_error)?;
            let answer = handle.await_response().await.map_err(service_error)?;
            client_wire::answer(request.kind(), answer_json(answer)?)
        })
    }

    fn resource_updated(&self, plugin: String, uri: String) -> BoxFuture<'_, ()> {
        Box::pin(async move { self.hub.resource_updated(&plugin, &uri).await })
    }

    fn resource_list_changed(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move { self.hub.resource_list_changed().await })
    }
}

fn service_error(e: ServiceError) -> FacadeError {
    match e {
        ServiceError::Timeout { .. } => FacadeError::Timeout,
        ServiceError::Cancelled { .. } => FacadeError::Cancelled,
        ServiceError::McpError(data) => FacadeError::Failed(format!(
            "the client answered with error {}: {}",
            data.code.0, data.message
        )),
        other => FacadeError::Failed(format!("the client did not answer: {other}")),
    }
}

pub(super) fn to_mcp_level(level: LogLevel) -> LoggingLevel {
    match level {
        LogLevel::Debug => LoggingLevel::Debug,
        LogLevel::Info => LoggingLevel::Info,
        LogLevel::Notice => LoggingLevel::Notice,
        LogLevel::Warning => LoggingLevel::Warning,
        LogLevel::Error => LoggingLevel::Error,
        LogLevel::Critical => LoggingLevel::Critical,
        LogLevel::Alert => LoggingLevel::Alert,
        LogLevel::Emergency => LoggingLevel::Emergency,
    }
}

pub(super) fn from_mcp_level(level: LoggingLevel) -> LogLevel {
    match level {
        LoggingLevel::Debug => LogLevel::Debug,
        LoggingLevel::Info => LogLevel::Info,
        LoggingLevel::Notice => LogLevel::Notice,
        LoggingLevel::Warning => LogLevel::Warning,
        LoggingLevel::Error => LogLevel::Error,
        LoggingLevel::Critical => LogLevel::Critical,
        LoggingLevel::Alert => LogLevel::Alert,
        LoggingLevel::Emergency => LogLevel::Emergency,
    }
}

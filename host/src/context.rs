//! The per-request facade a plugin sees while it runs: who is asking (ids,
//! client, protocol version), whether the request was cancelled, its scratch
//! state, its session-state scope, the host's catalog, and the channel back
//! to the client for logs, progress, resource notices and the requests a
//! plugin may make of the client (sampling, elicitation, roots).
//!
//! It is protocol-neutral: the MCP adapter fills it from the request and
//! implements [`ClientChannel`] once per protocol era; the capability
//! modules expose it to the guest.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::auth::Access;
pub use crate::client_request::{ClientAnswer, ClientRequest, ClientRequestKind};
use crate::content::{
    PromptDescriptor, PromptResult, ResourceContents, ResourceDescriptor, ResourceTemplate,
};

/// A boxed future, for the object-safe [`ClientChannel`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The eight MCP log levels, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

impl LogLevel {
    pub const ALL: [LogLevel; 8] = [
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Notice,
        LogLevel::Warning,
        LogLevel::Error,
        LogLevel::Critical,
        LogLevel::Alert,
        LogLevel::Emergency,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Notice => "notice",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
            LogLevel::Critical => "critical",
            LogLevel::Alert => "alert",
            LogLevel::Emergency => "emergency",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The client's name and version, as it announced them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    pub name: String,
    pub version: String,
}

/// Why a request to the client (or a host service) produced no answer; the
/// guest receives it as the WIT `facade-error`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FacadeError {
    #[error("unsupported by client: {0}")]
    UnsupportedByClient(String),
    #[error("denied: {0}")]
    Denied(String),
    #[error("timed out")]
    Timeout,
    #[error("cancelled")]
    Cancelled,
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("failed: {0}")]
    Failed(String),
    /// Not for the guest: the call must stop (a replayed call asked
    /// something other than what was recorded).
    #[error("{0}")]
    Abort(String),
}

impl FacadeError {
    /// A short name of the kind of failure (for traces).
    pub fn kind_name(&self) -> &'static str {
        match self {
            FacadeError::UnsupportedByClient(_) => "unsupported_by_client",
            FacadeError::Denied(_) => "denied",
            FacadeError::Timeout => "timeout",
            FacadeError::Cancelled => "cancelled",
            FacadeError::InvalidInput(_) => "invalid_input",
            FacadeError::Failed(_) => "failed",
            FacadeError::Abort(_) => "aborted",
        }
    }
}

/// The way back to the client during one request. Implementations decide
/// what actually goes on the wire: log messages below the client's threshold
/// and progress without a progress token are dropped there.
pub trait ClientChannel: Send + Sync {
    /// A `notifications/message` with `data` as its body.
    fn log(&self, level: LogLevel, logger: Option<String>, data: Value) -> BoxFuture<'_, ()>;
    /// A `notifications/progress` for the current request.
    fn progress(
        &self,
        progress: f64,
        total: Option<f64>,
        message: Option<String>,
    ) -> BoxFuture<'_, ()>;
    /// Send `request` to the client and wait for its answer, checking
    /// first that the client declared the capability.
    fn request(&self, request: ClientRequest) -> BoxFuture<'_, Result<ClientAnswer, FacadeError>>;
    /// `notifications/resources/updated` to the clients subscribed to `uri`
    /// that may use `plugin`, which announced it.
    fn resource_updated(&self, plugin: String, uri: String) -> BoxFuture<'_, ()>;
    /// `notifications/resources/list_changed` to every client.
    fn resource_list_changed(&self) -> BoxFuture<'_, ()>;
}

/// A channel that drops everything: for calls made outside any client
/// request (loading a plugin, benchmarks).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoClient;

impl ClientChannel for NoClient {
    fn log(&self, _: LogLevel, _: Option<String>, _: Value) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
    fn progress(&self, _: f64, _: Option<f64>, _: Option<String>) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
    fn request(&self, request: ClientRequest) -> BoxFuture<'_, Result<ClientAnswer, FacadeError>> {
        Box::pin(async move {
            Err(FacadeError::UnsupportedByClient(format!(
                "no client is attached to this call, so `{}` cannot be sent",
                request.kind().method()
            )))
        })
    }
    fn resource_updated(&self, _: String, _: String) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
    fn resource_list_changed(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// The host's resources and prompts as a request sees them (only the
/// plugins its access reaches), for plugins that read them through the
/// `host-catalog` capability. Each method that runs plugins takes the
/// context `on_behalf` of which they run: every plugin call gets a sibling
/// of it, at its depth.
pub trait HostCatalog: Send + Sync {
    fn list_resources<'a>(
        &'a self,
        on_behalf: &'a CallContext,
    ) -> BoxFuture<'a, Vec<ResourceDescriptor>>;
    fn list_resource_templates(&self, access: &Access) -> Vec<ResourceTemplate>;
    fn read_resource<'a>(
        &'a self,
        uri: &'a str,
        on_behalf: &'a CallContext,
    ) -> BoxFuture<'a, Result<Vec<ResourceContents>, FacadeError>>;
    fn list_prompts(&self, access: &Access) -> Vec<PromptDescriptor>;
    fn get_prompt<'a>(
        &'a self,
        name: &'a str,
        arguments: Vec<(String, String)>,
        on_behalf: &'a CallContext,
    ) -> BoxFuture<'a, Result<PromptResult, FacadeError>>;
}

/// Upper bound on the per-request state a plugin may keep, in bytes of JSON.
pub const REQUEST_STATE_BUDGET: usize = 1 << 20;

/// Everything a plugin call knows about the request it serves.
pub struct CallContext {
    pub request_id: String,
    pub session_id: Option<String>,
    pub client: Option<ClientIdentity>,
    pub protocol_version: String,
    pub cancel: CancellationToken,
    pub channel: Arc<dyn ClientChannel>,
    /// The session-state scope of this request, if it has one: the key
    /// naming the session, principal or state handle.
    pub session_scope: Option<String>,
    /// The host's resources and prompts, for the `host-catalog` capability;
    /// `None` outside client requests.
    pub host_catalog: Option<Arc<dyn HostCatalog>>,
    /// How many plugin calls enclose this one (a plugin reading another's
    /// resource through the host catalog runs one level deeper).
    pub depth: u32,
    /// Which plugins the request may reach, also through the host catalog.
    pub access: Access,
    /// The span the call's own spans hang under (the request's server
    /// span); disabled when tracing is off.
    pub span: tracing::Span,
    /// The call runs as a task: under the plugin's task time limit.
    pub as_task: bool,
    state: RequestState,
}

impl fmt::Debug for CallContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallContext")
            .field("request_id", &self.request_id)
            .field("session_id", &self.session_id)
            .field("client", &self.client)
            .field("protocol_version", &self.protocol_version)
            .finish_non_exhaustive()
    }
}

impl CallContext {
    pub fn new(
        request_id: String,
        protocol_version: String,
        cancel: CancellationToken,
        channel: Arc<dyn ClientChannel>,
    ) -> Self {
        Self {
            request_id,
            session_id: None,
            client: None,
            protocol_version,
            cancel,
            channel,
            session_scope: None,
            host_catalog: None,
            depth: 0,
            access: Access::everything(),
            span: tracing::Span::none(),
            as_task: false,
            state: RequestState::default(),
        }
    }

    /// A context for a call made on behalf of this one (a plugin reading a
    /// resource or prompt through the host catalog): same request, client
    /// and session, one level deeper, with its own scratch state.
    pub fn nested(&self) -> Self {
        Self {
            request_id: self.request_id.clone(),
            session_id: self.session_id.clone(),
            client: self.client.clone(),
            protocol_version: self.protocol_version.clone(),
            cancel: self.cancel.child_token(),
            channel: self.channel.clone(),
            session_scope: self.session_scope.clone(),
            host_catalog: self.host_catalog.clone(),
            depth: self.depth + 1,
            access: self.access.clone(),
            span: self.span.clone(),
            as_task: self.as_task,
            state: RequestState::default(),
        }
    }

    /// Another context like this one, at the same depth (for each of the
    /// calls a nested request makes).
    pub fn nested_sibling(&self) -> Self {
        let mut call = self.nested();
        call.depth = self.depth;
        call
    }

    pub fn with_session_scope(mut self, scope: Option<String>) -> Self {
        self.session_scope = scope;
        self
    }

    /// The call runs as a task.
    pub fn as_task(mut self) -> Self {
        self.as_task = true;
        self
    }

    pub fn with_span(mut self, span: tracing::Span) -> Self {
        self.span = span;
        self
    }

    pub fn with_access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    pub fn with_host_catalog(mut self, catalog: Arc<dyn HostCatalog>) -> Self {
        self.host_catalog = Some(catalog);
        self
    }

    /// A context for calls that serve no client request.
    pub fn detached(purpose: &str) -> Self {
        Self::new(
            purpose.to_string(),
            String::new(),
            CancellationToken::new(),
            Arc::new(NoClient),
        )
    }

    pub fn with_session(mut self, session_id: Option<String>) -> Self {
        self.session_id = session_id;
        self
    }

    pub fn with_client(mut self, client: Option<ClientIdentity>) -> Self {
        self.client = client;
        self
    }

    pub fn state(&mut self) -> &mut RequestState {
        &mut self.state
    }
}

/// JSON values under string keys, alive for one request, with a size budget
/// so a plugin cannot grow host memory without bound.
#[derive(Debug, Default)]
pub struct RequestState {
    values: BTreeMap<String, String>,
    bytes: usize,
}

impl RequestState {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// Store `json` under `key`; the text must be valid JSON.
    pub fn set(&mut self, key: String, json: String) -> Result<(), String> {
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&json) {
            return Err(format!("state value for `{key}` is not valid JSON: {e}"));
        }
        let old = self.values.get(&key).map_or(0, |v| key.len() + v.len());
        let new_total = self.bytes - old + key.len() + json.len();
        if new_total > REQUEST_STATE_BUDGET {
            return Err(format!(
                "request state would exceed its budget of {REQUEST_STATE_BUDGET} bytes"
            ));
        }
        self.bytes = new_total;
        self.values.insert(key, json);
        Ok(())
    }

    pub fn delete(&mut self, key: &str) -> bool {
        match self.values.remove(key) {
            Some(v) => {
                self.bytes -= key.len() + v.len();
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_levels_order_by_severity() {
        assert!(LogLevel::Debug < LogLevel::Info);
        assert!(LogLevel::Warning < LogLevel::Emergency);
        let mut sorted = LogLevel::ALL;
        sorted.sort();
        assert_eq!(sorted, LogLevel::ALL);
    }

    #[test]
    fn request_state_round_trips_and_rejects_bad_json() {
        let mut s = RequestState::default();
        s.set("k".into(), "{\"a\":1}".into()).unwrap();
        assert_eq!(s.get("k"), Some("{\"a\":1}"));
        assert!(
            s.set("k".into(), "{nope".into())
                .unwrap_err()
                .contains("not valid JSON")
        );
        assert_eq!(s.get("k"), Some("{\"a\":1}"));
        assert!(s.delete("k"));
        assert!(!s.delete("k"));
        assert_eq!(s.bytes, 0);
    }

    #[test]
    fn request_state_enforces_its_budget() {
        let mut s = RequestState::default();
        let big = format!("\"{}\"", "x".repeat(REQUEST_STATE_BUDGET));
        assert!(s.set("k".into(), big).unwrap_err().contains("budget"));
        s.set("k".into(), "1".into()).unwrap();
        s.set("k".into(), "2".into()).unwrap();
        assert_eq!(s.bytes, 2);
    }
}

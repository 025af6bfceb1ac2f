//! [`Context`]: the MCP request a call runs for.
//!
//! The methods defined here call the `context` interface the host provides
//! to each call. None of them fail: where the client did not ask for
//! something (a progress token, a log level low enough) the host drops it
//! quietly. The methods that reach further — elicitation, sampling, roots,
//! session state, the host catalog — live beside their own types and return
//! a [`FacadeError`](crate::FacadeError) when they get no answer.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::mcp::plugin::context as host;
use crate::bindings::mcp::plugin::types as wit;
use crate::error::ToolError;

/// Severity of a log message: the eight MCP (RFC 5424) levels, least severe
/// first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Detailed information for debugging.
    Debug,
    /// Normal progress of the work.
    Info,
    /// Normal but significant events.
    Notice,
    /// Something unexpected that the tool handled.
    Warning,
    /// A failure of part of the work.
    Error,
    /// A failure of a critical part.
    Critical,
    /// Someone must act at once.
    Alert,
    /// The system is unusable.
    Emergency,
}

impl From<Level> for wit::LogLevel {
    fn from(level: Level) -> Self {
        match level {
            Level::Debug => Self::Debug,
            Level::Info => Self::Info,
            Level::Notice => Self::Notice,
            Level::Warning => Self::Warning,
            Level::Error => Self::Error,
            Level::Critical => Self::Critical,
            Level::Alert => Self::Alert,
            Level::Emergency => Self::Emergency,
        }
    }
}

/// The client that sent the current request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's name, for example `claude-ai`.
    pub name: String,
    /// The client's version.
    pub version: String,
}

/// The authenticated caller of the current request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The operator's name for the caller.
    pub id: String,
    /// The roles the operator gave it.
    pub roles: Vec<String>,
}

/// What the policy grants the current caller of one capability, from
/// [`Context::grant`].
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    /// Whether the caller may use the capability.
    pub granted: bool,
    /// Why not (the rule, and what the caller lacks).
    pub reason: Option<String>,
    /// What the grant reaches, in the capability's own keys: `databases`,
    /// `write` and `tables` for `sql`; `origins` for `http`; ... An empty
    /// object when not granted.
    pub scope: serde_json::Value,
}

/// A handle on the MCP request the current call runs for: a tool call, a
/// resource read, a prompt or a completion.
///
/// It holds no data: each method asks the host. Handlers receive it by
/// reference; it is only valid during the call.
#[derive(Debug)]
pub struct Context {
    _private: (),
}

impl Context {
    pub(crate) fn new() -> Self {
        Self { _private: () }
    }

    /// Send a log message to the client.
    pub fn log(&self, level: Level, message: &str) {
        host::log(level.into(), None, message);
    }

    /// Send a log message naming its source (`logger`).
    pub fn log_with_logger(&self, level: Level, logger: &str, message: &str) {
        host::log(level.into(), Some(logger), message);
    }

    /// Send structured data as a log message.
    pub fn log_data(&self, level: Level, data: &serde_json::Value) {
        host::log_data(level.into(), None, &data.to_string());
    }

    /// Log at [`Level::Debug`].
    pub fn debug(&self, message: &str) {
        self.log(Level::Debug, message);
    }

    /// Log at [`Level::Info`].
    pub fn info(&self, message: &str) {
        self.log(Level::Info, message);
    }

    /// Log at [`Level::Notice`].
    pub fn notice(&self, message: &str) {
        self.log(Level::Notice, message);
    }

    /// Log at [`Level::Warning`].
    pub fn warning(&self, message: &str) {
        self.log(Level::Warning, message);
    }

    /// Log at [`Level::Error`].
    pub fn error(&self, message: &str) {
        self.log(Level::Error, message);
    }

    /// Report progress: `progress` should grow with each call; `total` is
    /// the value it will reach, when known. Sent only when the client asked
    /// for progress on this request.
    pub fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        host::progress(progress, total, message);
    }

    /// The JSON-RPC id of the current request, as text.
    pub fn request_id(&self) -> String {
        host::request_id()
    }

    /// The transport session, when the request belongs to one.
    pub fn session_id(&self) -> Option<String> {
        host::session_id()
    }

    /// The client's name and version, when it sent them.
    pub fn client(&self) -> Option<ClientInfo> {
        host::client().map(|info| ClientInfo {
            name: info.name,
            version: info.version,
        })
    }

    /// Who made the request, when the host authenticates its clients
    /// (bearer tokens over HTTP); `None` otherwise. The credential itself
    /// never reaches the plugin.
    pub fn principal(&self) -> Option<Principal> {
        host::principal().map(|p| Principal {
            id: p.id,
            roles: p.roles,
        })
    }

    /// What the policy grants this request's caller of `capability` (a name
    /// as manifests write it, such as `"sql"`), so a tool can explain what
    /// is missing before it fails on it:
    ///
    /// ```no_run
    /// # use mcp_plugin::{Context, ToolError};
    /// # fn record(ctx: &Context) -> Result<(), ToolError> {
    /// let sql = ctx.grant("sql");
    /// if sql.scope["write"] != true {
    ///     return Err(ToolError::new(
    ///         "recording an order needs write access to `crm`, which your role lacks",
    ///     ));
    /// }
    /// # Ok(()) }
    /// ```
    pub fn grant(&self, capability: &str) -> Grant {
        let grant = host::grant(capability);
        Grant {
            granted: grant.granted,
            reason: grant.reason,
            scope: serde_json::from_str(&grant.scope)
                .unwrap_or_else(|_| serde_json::Value::Object(Default::default())),
        }
    }

    /// The MCP protocol version of the current request, for example
    /// `2025-11-25`.
    pub fn protocol_version(&self) -> String {
        host::protocol_version()
    }

    /// True once the client cancelled the request. Long-running tools should
    /// check it regularly and stop early.
    pub fn is_cancelled(&self) -> bool {
        host::is_cancelled()
    }

    /// Wait for `duration` (to the millisecond) without burning fuel: no
    /// WASI needed. The call's deadline and cancellation still apply: a
    /// request cancelled or out of time while it waits ends there.
    pub fn sleep(&self, duration: std::time::Duration) {
        host::sleep(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX));
    }

    /// The value stored under `key` in the request's state, if there is one
    /// and it deserializes as `T`.
    pub fn state_get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        host::state_get(key).and_then(|json| serde_json::from_str(&json).ok())
    }

    /// Store `value` under `key` for the rest of the request. Fails when the
    /// value cannot be serialized or the request's state budget is used up.
    pub fn state_set<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), ToolError> {
        let json = serde_json::to_string(value)?;
        host::state_set(key, &json).map_err(ToolError::new)
    }

    /// Remove the value under `key`; true if there was one.
    pub fn state_delete(&self, key: &str) -> bool {
        host::state_delete(key)
    }
}

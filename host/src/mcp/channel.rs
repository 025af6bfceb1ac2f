//! The [`ClientChannel`] of one MCP request: log messages filtered by the
//! client's threshold, progress only when the request carries a token.

use rmcp::model::{
    LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam, ProgressToken,
};
use rmcp::{Peer, RoleServer};
use serde_json::Value;

use crate::context::{BoxFuture, ClientChannel, LogLevel};

/// Sends a request's logs and progress to its client.
pub(super) struct PeerChannel {
    pub(super) peer: Peer<RoleServer>,
    /// Messages below this level are dropped; `None` drops every message
    /// (a 2026-07-28 request that did not ask for logs).
    pub(super) threshold: Option<LogLevel>,
    pub(super) progress_token: Option<ProgressToken>,
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

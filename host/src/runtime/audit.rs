//! The audit log: one event per tool call at the `audit` target, saying when
//! (the event's time), who (principal, session), what (plugin, tool), how
//! long, how it ended (`ok`, `tool_error`, `denied`, or the limit or failure
//! that stopped it), what it cost (fuel, peak linear memory) and in which
//! trace. It never carries the arguments, the result or a secret. With
//! `--log-format json` it is one JSON object per line.

use std::time::Duration;

use wasmtime::Store;

use crate::error::InvocationError;
use crate::limits::PluginLimits;
use crate::tool::ToolResult;

use super::HostState;

/// The log target of the audit events (`MCP_WASM_HOST_LOG=audit=off` turns
/// them off).
pub const AUDIT_LOG: &str = "audit";

/// What one call cost the sandbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallUsage {
    /// Fuel the guest burned.
    pub fuel: u64,
    /// The most linear memory its instance held.
    pub peak_memory_bytes: usize,
}

impl CallUsage {
    /// The usage recorded in `store`, whose fuel was set from `limits` when
    /// the call began.
    pub(crate) fn of(store: &Store<HostState>, limits: PluginLimits) -> Self {
        let start = limits.fuel.unwrap_or(u64::MAX);
        let left = store.get_fuel().unwrap_or(start);
        Self {
            fuel: start.saturating_sub(left),
            peak_memory_bytes: store.data().limiter.peak,
        }
    }
}

/// One finished (or refused) tool call, as the audit log tells it.
#[derive(Debug)]
pub struct AuditEntry<'a> {
    pub principal: Option<&'a str>,
    pub session: Option<&'a str>,
    pub plugin: &'a str,
    pub tool: &'a str,
    pub duration: Duration,
    pub outcome: &'static str,
    pub usage: CallUsage,
    /// The trace the call belongs to, when tracing is on.
    pub trace_id: Option<&'a str>,
}

/// The outcome of a call refused before it ran: the caller may not reach
/// the tool, or has as many calls running as one caller may.
pub const DENIED: &str = "denied";

impl AuditEntry<'_> {
    pub fn record(&self) {
        tracing::info!(
            target: AUDIT_LOG,
            principal = self.principal.unwrap_or("-"),
            session = self.session.unwrap_or("-"),
            plugin = self.plugin,
            tool = self.tool,
            duration_ms = self.duration.as_secs_f64() * 1000.0,
            outcome = self.outcome,
            fuel = self.usage.fuel,
            peak_memory_bytes = self.usage.peak_memory_bytes,
            trace_id = self.trace_id.unwrap_or("-"),
            "tool call"
        );
    }
}

/// The name of how a call ended: `ok`, `tool_error`, or what stopped it.
pub(crate) fn outcome_name(result: &Result<ToolResult, InvocationError>) -> &'static str {
    match result {
        Ok(result) if result.is_error => "tool_error",
        Ok(_) => "ok",
        Err(error) => error_name(error),
    }
}

/// The name of what stopped a call.
pub(crate) fn error_name(error: &InvocationError) -> &'static str {
    match error {
        InvocationError::Deadline { .. } => "deadline",
        InvocationError::Memory { .. } => "memory",
        InvocationError::Fuel { .. } => "fuel",
        InvocationError::Trap { .. } => "trap",
        InvocationError::Cancelled => "cancelled",
        InvocationError::Capacity { .. } => "capacity",
        InvocationError::Instantiate { .. } => "instantiate",
        InvocationError::Busy { .. } => "busy",
        InvocationError::SessionBusy { .. } => "session_busy",
        InvocationError::ResponseTooLarge { .. } => "response_too_large",
        InvocationError::Aborted { .. } => "aborted",
        InvocationError::InvalidOutput { .. } => "invalid_output",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_name_how_the_call_ended() {
        let ok = ToolResult {
            is_error: false,
            ..ToolResult::error_text("fine")
        };
        assert_eq!(outcome_name(&Ok(ok)), "ok");
        let failed = ToolResult::error_text("no");
        assert_eq!(outcome_name(&Ok(failed)), "tool_error");
        let fuel = InvocationError::Fuel {
            plugin: "p".into(),
            fuel: 10,
        };
        assert_eq!(outcome_name(&Err(fuel)), "fuel");
        assert_eq!(outcome_name(&Err(InvocationError::Cancelled)), "cancelled");
    }
}

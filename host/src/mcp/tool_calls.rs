//! `tools/call`: the path of one call from the request to its result —
//! the host's drain and the caller's share of concurrent calls, the tool's
//! lookup under the caller's access, argument validation against the
//! tool's schema, the choice between a plain call, a task and (in the
//! 2026-07-28 era) rounds that ask the client, and the audit line of a
//! call refused before it ran.

use rmcp::model::{CallToolRequestParams, CallToolResponse};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer};
use serde_json::Value;

use super::convert;
use super::rounds::{Finished, RoundOutcome, Rounds};
use super::server::{McpServer, RequestFacts};
use super::tasks::TaskAsk;
use crate::catalog::ExposedTool;
use crate::error::InvocationError;
use crate::runtime::{AuditEntry, CallUsage, DENIED};
use crate::tool::ToolResult;

/// The log target of one event per finished tool call, at debug level
/// (`dev` shows them).
pub const CALLS_LOG: &str = "mcp_wasm_host::calls";

/// A finished tool call as the MCP result; failures the host noticed become
/// error results naming the cause.
pub(super) fn tool_response(
    tool: &str,
    outcome: Result<ToolResult, InvocationError>,
) -> CallToolResponse {
    let result = match outcome {
        Ok(result) => {
            if result.is_error {
                let text = result.content.iter().find_map(|c| match c {
                    crate::content::Content::Text(text) => Some(text.as_str()),
                    _ => None,
                });
                tracing::debug!(target: CALLS_LOG, tool, "call failed: {}", text.unwrap_or(""));
            } else {
                tracing::debug!(target: CALLS_LOG, tool, "call succeeded");
            }
            result
        }
        Err(error) => {
            tracing::debug!(target: CALLS_LOG, tool, "call failed: {error}");
            match &error {
                InvocationError::Cancelled => {
                    tracing::debug!(tool, "call cancelled by the client")
                }
                other => tracing::warn!(tool, "{other}"),
            }
            ToolResult::error_text(error.to_string())
        }
    };
    convert::call_result(result).into()
}

impl McpServer {
    /// `tools/call`: run the tool, or start it as a task when the request
    /// asks for one or the host decides it runs as one.
    pub(super) async fn call_tool_asking(
        &self,
        mut request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
        ask: TaskAsk,
    ) -> Result<CallToolResponse, McpError> {
        let resuming = Self::is_modern(&ctx) && request.request_state.is_some();
        if self.shared.is_draining() && !resuming {
            return Err(McpError::internal_error(
                "the host is shutting down and takes no new calls; call again after it restarts",
                None,
            ));
        }
        let facts = self.facts(&ctx);
        let access = &facts.access;
        let principal = access.principal().map_or("", |p| p.id.as_str());
        let Some(_share) = self.shared.shares.take(principal) else {
            let plugin = self
                .shared
                .catalog
                .snapshot()
                .tool(&request.name)
                .map(|t| t.plugin.name.to_string());
            audit_refused(
                &facts,
                plugin.as_deref(),
                &request.name,
                "calls_per_principal",
            );
            return Ok(convert::call_result(ToolResult::error_text(
                self.shared.shares.refusal(principal),
            ))
            .into());
        };
        let arguments = Value::Object(request.arguments.take().unwrap_or_default());
        // A later round of a parked 2026-07-28 call finishes on the version
        // it started with (its arguments are bound to the parked state), even
        // if a reload changed the tool's schema or removed the tool since.
        let catalog = self.shared.catalog.snapshot();
        let exposed = catalog.tool(&request.name);
        if let Some(tool) = exposed
            && !access.allows(&tool.plugin.name)
        {
            audit_refused(&facts, Some(&tool.plugin.name), &request.name, DENIED);
        }
        let exposed = exposed.filter(|t| access.allows(&t.plugin.name));
        let target = match exposed {
            Some(tool) => {
                if !resuming {
                    check_tool_arguments(tool, &arguments)
                        .map_err(|m| McpError::invalid_params(m, None))?;
                }
                Some(tool.clone())
            }
            None if resuming => None,
            None => {
                return Err(McpError::invalid_params(
                    format!("unknown tool `{}`", request.name),
                    None,
                ));
            }
        };
        drop(catalog);

        if !resuming
            && let Some(tool) = &target
            && self.runs_as_task(&ctx, tool, ask)?
        {
            // (Boxed, as the rounds below: the future of every call would
            // otherwise be as large as the largest of them.)
            return Box::pin(self.start_task(&ctx, &facts, tool.clone(), arguments, ask)).await;
        }

        if Self::is_modern(&ctx) {
            let operation = format!("tool:{}", request.name);
            let plugin = target.as_ref().map(|t| t.plugin.name.to_string());
            let rounds = Rounds::of(
                &operation,
                &arguments,
                plugin.as_deref(),
                &request.request_state,
                &request.input_responses,
            );
            let runtime = self.shared.runtime.clone();
            let name = request.name.clone();
            let shown = request.name.clone();
            // Runs when the call starts, or is replayed because its parked
            // task is gone: then on the version now in the catalog.
            return Box::pin(self.answer_rounds(
                &ctx,
                &facts,
                rounds,
                move |call| async move {
                    let Some(tool) = target else {
                        return Finished::Lost(format!(
                            "the call cannot be resumed: tool `{name}` is no longer served"
                        ));
                    };
                    if resuming && let Err(problem) = check_tool_arguments(&tool, &arguments) {
                        return Finished::Lost(format!("the call cannot be resumed: {problem}"));
                    }
                    let index = tool.index();
                    Finished::Tool(
                        runtime
                            .dispatch_tool(tool.plugin, index, arguments, call())
                            .await,
                    )
                },
                |outcome| {
                    Ok(match outcome {
                        RoundOutcome::Done(Finished::Tool(outcome)) => {
                            tool_response(&shown, outcome)
                        }
                        RoundOutcome::Done(Finished::Cancelled) => {
                            tool_response(&shown, Err(InvocationError::Cancelled))
                        }
                        RoundOutcome::Done(other) => {
                            convert::call_result(ToolResult::error_text(other.missing_result()))
                                .into()
                        }
                        RoundOutcome::Input(input) => input.into(),
                    })
                },
            ))
            .await;
        }
        let Some(tool) = target else {
            // Only a 2026-07-28 request goes on without its tool.
            return Err(McpError::invalid_params(
                format!("unknown tool `{}`", request.name),
                None,
            ));
        };
        let channel = self.peer_channel(&ctx);
        let call = self.call_context(&facts, channel, ctx.ct.clone());
        let index = tool.index();
        let outcome = self
            .shared
            .runtime
            .dispatch_tool(tool.plugin, index, arguments, call)
            .await;
        Ok(tool_response(&request.name, outcome))
    }
}

/// Check a call's arguments against the tool's input schema; the message
/// names the tool and the field.
fn check_tool_arguments(tool: &ExposedTool, arguments: &Value) -> Result<(), String> {
    crate::schema::check_arguments(&tool.spec().validator, arguments)
        .map_err(|problem| format!("invalid arguments for tool `{}`: {problem}", tool.name))
}

/// An audit line for a call refused before it ran.
fn audit_refused(facts: &RequestFacts, plugin: Option<&str>, tool: &str, outcome: &'static str) {
    let trace_id = crate::telemetry::propagation::trace_id(&facts.span);
    AuditEntry {
        principal: facts.access.principal().map(|p| p.id.as_str()),
        session: facts.session.as_deref(),
        plugin: plugin.unwrap_or("-"),
        tool,
        duration: std::time::Duration::ZERO,
        outcome,
        usage: CallUsage::default(),
        trace_id: trace_id.as_deref(),
    }
    .record();
}

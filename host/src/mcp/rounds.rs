//! Running a 2026-07-28 request in rounds: a tool call, a prompt or a
//! resource read runs as a task that may park when the plugin asks the
//! client something ([`super::mrtr`]); the request is answered with either
//! the result or an `InputRequiredResult`, and a retry resumes or replays
//! it.

use std::future::Future;
use std::sync::Arc;

use rmcp::model::{InputRequest, InputRequests, InputRequiredResult, InputResponses};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::mrtr::{ModernChannel, Recorded, RunningCall, Step, arguments_digest};
use super::server::McpServer;
use crate::bindings::types;
use crate::context::{CallContext, ClientRequest, ClientRequestKind, FacadeError};
use crate::error::InvocationError;
use crate::runtime::ServeError;
use crate::tool::ToolResult;

/// What a parkable request produced when its task finished.
pub enum Finished {
    Tool(Result<ToolResult, InvocationError>),
    Prompt(Result<types::PromptResult, ServeError>),
    Resource(Result<Vec<types::ResourceContents>, ServeError>),
    /// The request was cancelled while its task ran.
    Cancelled,
    /// The task ended without a result (it panicked or was aborted).
    Lost(String),
}

impl Finished {
    /// Why there is no result of the kind the request expects.
    pub(super) fn missing_result(self) -> String {
        match self {
            Finished::Cancelled => InvocationError::Cancelled.to_string(),
            Finished::Lost(m) => m,
            _ => "the call finished with a result of another kind".into(),
        }
    }
}

/// How a round ended.
pub(super) enum Parkable {
    Done(Finished),
    Input(InputRequiredResult),
}

/// What identifies a request across its rounds.
pub(super) struct Rounds<'a> {
    operation: String,
    arguments: String,
    request_state: Option<&'a String>,
    input_responses: Option<&'a InputResponses>,
}

impl<'a> Rounds<'a> {
    pub(super) fn of(
        operation: &str,
        arguments: &Value,
        request_state: &'a Option<String>,
        input_responses: &'a Option<InputResponses>,
    ) -> Self {
        Self {
            operation: operation.to_string(),
            arguments: arguments_digest(arguments),
            request_state: request_state.as_ref(),
            input_responses: input_responses.as_ref(),
        }
    }
}

/// Builds the context of each plugin call the request's task makes.
pub(super) type CallMaker = Arc<dyn Fn() -> CallContext + Send + Sync>;

impl McpServer {
    /// Run one round of a 2026-07-28 request whose work is `work` (given a
    /// factory of call contexts wired to the round machinery): start it, or
    /// resume the parked task, or replay it; until it finishes or asks.
    pub(super) async fn in_rounds<W, F>(
        &self,
        ctx: &RequestContext<RoleServer>,
        rounds: Rounds<'_>,
        work: W,
    ) -> Result<Parkable, McpError>
    where
        W: FnOnce(CallMaker) -> F,
        F: Future<Output = Finished> + Send + 'static,
    {
        let parked = &self.services.parked;
        let relay = self.peer_channel(ctx);
        let start = |replay: Vec<Recorded>| {
            let (channel, asks) = ModernChannel::new(relay.clone(), replay);
            let cancel = CancellationToken::new();
            let server = self.clone();
            let request = ctx.clone();
            let maker_channel = channel.clone();
            let maker_cancel = cancel.clone();
            let maker: CallMaker = Arc::new(move || {
                server.call_context(&request, maker_channel.clone(), maker_cancel.clone())
            });
            RunningCall::spawn(work(maker), channel, asks, cancel)
        };

        let (mut run, mut answers) = match rounds.request_state {
            None => (start(Vec::new()), Vec::new()),
            Some(token) => {
                let state = parked
                    .open(token, &rounds.operation, &rounds.arguments)
                    .map_err(|e| McpError::invalid_params(e.to_string(), None))?;
                let answer = rounds
                    .input_responses
                    .and_then(|r| r.get(&state.pending_key))
                    .cloned()
                    .ok_or_else(|| {
                        McpError::invalid_params(
                            format!("inputResponses has no answer for `{}`", state.pending_key),
                            None,
                        )
                    })?;
                let mut answers = state.answers.clone();
                answers.push(Recorded {
                    asked: state.pending_asked.clone(),
                    answer: answer.clone(),
                });
                match parked.take(&state) {
                    Some(mut run) => {
                        run.channel().set_relay(relay.clone());
                        run.answer(answer);
                        (run, answers)
                    }
                    None => (start(answers.clone()), answers),
                }
            }
        };

        loop {
            match run.next(&ctx.ct).await {
                Step::Done(finished) => return Ok(Parkable::Done(finished)),
                Step::Cancelled => {
                    return Ok(Parkable::Done(Finished::Tool(Err(
                        InvocationError::Cancelled,
                    ))));
                }
                Step::Failed(message) => return Ok(Parkable::Done(Finished::Lost(message))),
                Step::Ask(asked) => {
                    let input = match input_request(&asked) {
                        Ok(input) => input,
                        Err(problem) => {
                            run.refuse(FacadeError::InvalidInput(problem));
                            continue;
                        }
                    };
                    let (key, state) = parked.park(
                        run,
                        rounds.operation,
                        rounds.arguments,
                        std::mem::take(&mut answers),
                        &asked,
                    );
                    let mut requests = InputRequests::new();
                    requests.insert(key, input);
                    return Ok(Parkable::Input(InputRequiredResult::new(
                        Some(requests),
                        Some(state),
                    )));
                }
            }
        }
    }
}

/// The MCP form of a question for the client, for `inputRequests`.
fn input_request(asked: &ClientRequest) -> Result<InputRequest, String> {
    let wire = match asked.kind {
        ClientRequestKind::Roots => serde_json::json!({"method": asked.kind.method()}),
        _ => serde_json::json!({"method": asked.kind.method(), "params": asked.params}),
    };
    serde_json::from_value(wire)
        .map_err(|e| format!("not a valid `{}` request: {e}", asked.kind.method()))
}

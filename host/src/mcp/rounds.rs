//! Running a 2026-07-28 request in rounds: a tool call, a prompt or a
//! resource read runs as a task that may park when the plugin asks the
//! client something ([`super::multi_round`]); the request is answered with either
//! the result or an `InputRequiredResult`, and a retry resumes or replays
//! it.

use std::future::Future;
use std::sync::Arc;

use rmcp::model::{InputRequest, InputRequests, InputRequiredResult, InputResponses};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use serde::{Deserialize, Serialize};

use super::multi_round::{
    Bound, CallState, Caller, ModernChannel, Recorded, RunningCall, StateError, Step,
    arguments_digest,
};
use super::server::{McpServer, RequestFacts};
use crate::content::{PromptResult, ResourceContents};
use crate::context::{CallContext, ClientRequest, ClientRequestKind, FacadeError};
use crate::error::InvocationError;
use crate::metrics::Refusal;
use crate::runtime::ServeError;
use crate::state::{Bucket, Quota};
use crate::tool::ToolResult;

/// What a parkable request produced when its task finished.
pub enum Finished {
    Tool(Result<ToolResult, InvocationError>),
    Prompt(Result<PromptResult, ServeError>),
    Resource(Result<Vec<ResourceContents>, ServeError>),
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
pub(super) enum RoundOutcome {
    Done(Finished),
    Input(InputRequiredResult),
}

/// What identifies a request across its rounds.
pub(super) struct Rounds<'a> {
    bound: Bound,
    request_state: Option<&'a String>,
    input_responses: Option<&'a InputResponses>,
}

impl<'a> Rounds<'a> {
    /// The rounds of `operation` on `arguments`, served by `plugin` when
    /// that is known before the work starts.
    pub(super) fn of(
        operation: &str,
        arguments: &Value,
        plugin: Option<&str>,
        request_state: &'a Option<String>,
        input_responses: &'a Option<InputResponses>,
    ) -> Self {
        Self {
            bound: Bound {
                operation: operation.to_string(),
                arguments: arguments_digest(arguments),
                caller: Caller::default(),
                plugin: plugin.map(str::to_owned),
            },
            request_state: request_state.as_ref(),
            input_responses: input_responses.as_ref(),
        }
    }
}

/// Builds the context of each plugin call the request's task makes.
pub(super) type CallMaker = Arc<dyn Fn() -> CallContext + Send + Sync>;

/// A round's answer as kept for a retry that repeats it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "kebab-case")]
pub(super) enum StoredRound {
    Complete(Value),
    Input(Value),
    Error(Value),
}

/// A response to a request that runs in rounds, as it is kept for a retry
/// that repeats a completed round.
pub(super) trait RoundResponse: Sized {
    /// The response as kept; `None` for one that is not kept.
    fn keep(&self) -> Option<StoredRound>;
    /// The kept response back.
    fn restore(kept: StoredRound) -> Result<Self, McpError>;
}

fn kept<T: Serialize>(value: &T) -> Option<Value> {
    serde_json::to_value(value).ok()
}

fn restored<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, McpError> {
    serde_json::from_value(value).map_err(|e| {
        McpError::internal_error(
            format!("the kept result of this round is unreadable: {e}"),
            None,
        )
    })
}

macro_rules! round_response {
    ($response:ident, $complete:ty) => {
        impl RoundResponse for rmcp::model::$response {
            fn keep(&self) -> Option<StoredRound> {
                use rmcp::model::$response as Response;
                match self {
                    Response::InputRequired(input) => kept(input).map(StoredRound::Input),
                    Response::Complete(done) => kept(done).map(StoredRound::Complete),
                    #[allow(unreachable_patterns)]
                    _ => None,
                }
            }
            fn restore(kept: StoredRound) -> Result<Self, McpError> {
                match kept {
                    StoredRound::Complete(v) => Ok(restored::<$complete>(v)?.into()),
                    StoredRound::Input(v) => Ok(restored::<InputRequiredResult>(v)?.into()),
                    StoredRound::Error(v) => Err(restored::<McpError>(v)?),
                }
            }
        }
    };
}

round_response!(CallToolResponse, rmcp::model::CallToolResult);
round_response!(ReadResourceResponse, rmcp::model::ReadResourceResult);
round_response!(GetPromptResponse, rmcp::model::GetPromptResult);

/// Where kept rounds live in the state store: a key-value namespace of no
/// plugin (plugin names are never empty).
const ROUNDS_OWNER: &str = "";
const ROUNDS_NAMESPACE: &str = "rounds";

/// Most bytes of one kept round; a larger answer is replaced by an error
/// saying it was delivered once.
const MAX_KEPT_ROUND: usize = 8 << 20;

/// Whether this request runs a round, or another request did (or does).
enum Claim {
    /// This request runs the round; keep its answer under this key.
    Mine(String),
    /// The round ran before: its kept answer.
    Kept(StoredRound),
}

impl McpServer {
    /// Who is calling, as sealed states record it.
    fn caller(facts: &RequestFacts) -> Caller {
        Caller {
            principal: facts
                .access
                .principal()
                .map(|p| p.id.clone())
                .unwrap_or_default(),
            session: facts.session.clone(),
        }
    }

    /// Answer one round of a 2026-07-28 request: start `work`, or resume
    /// or replay it from the retry's sealed state, until it finishes or
    /// asks; `finish` turns that into the response. A retry whose state
    /// was issued to another caller, or for a plugin the caller may no
    /// longer use, is refused. A retry of a round that already completed
    /// gets that round's kept answer, and the work does not run again.
    pub(super) async fn answer_rounds<R, W, F>(
        &self,
        ctx: &RequestContext<RoleServer>,
        facts: &RequestFacts,
        mut rounds: Rounds<'_>,
        work: W,
        finish: impl FnOnce(RoundOutcome) -> Result<R, McpError>,
    ) -> Result<R, McpError>
    where
        R: RoundResponse,
        W: FnOnce(CallMaker) -> F,
        F: Future<Output = Finished> + Send + 'static,
    {
        let metrics = self.shared.runtime.metrics();
        rounds.bound.caller = Self::caller(facts);
        let opened = match rounds.request_state {
            None => None,
            Some(token) => {
                let state = self.shared.parked.open(token, &rounds.bound);
                let foreign = match &state {
                    Err(StateError::Foreign) => true,
                    Ok(state) => state
                        .plugin
                        .as_deref()
                        .is_some_and(|p| !facts.access.allows(p)),
                    Err(_) => false,
                };
                if foreign {
                    metrics.refused(Refusal::ForeignRequestState);
                    tracing::warn!(
                        principal = %rounds.bound.caller.principal,
                        "refused a requestState issued to another caller"
                    );
                    return Err(McpError::invalid_params(
                        StateError::Foreign.to_string(),
                        None,
                    ));
                }
                let state = state.map_err(|e| McpError::invalid_params(e.to_string(), None))?;
                Some((token.as_str(), state))
            }
        };
        let claim = match &opened {
            None => None,
            Some((token, state)) => match self.claim_round(ctx, token, state.expires).await? {
                Some(Claim::Kept(kept)) => {
                    metrics
                        .round_repeats
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return R::restore(kept);
                }
                Some(Claim::Mine(key)) => Some((key, state.expires)),
                None => None,
            },
        };
        let round = self
            .in_rounds(
                ctx,
                facts,
                rounds.bound,
                opened.map(|(_, state)| state),
                rounds.input_responses,
                work,
            )
            .await;
        // A retry refused before its round ran (an answer missing), or a
        // round cancelled while it ran, answered nothing: a later retry may
        // run it.
        let answered = match &round {
            Ok(RoundOutcome::Done(
                Finished::Cancelled | Finished::Tool(Err(InvocationError::Cancelled)),
            ))
            | Err(_) => false,
            Ok(_) => true,
        };
        let response = round.and_then(finish);
        if let Some((key, expires)) = claim {
            if !answered {
                self.release_round(&key).await;
            } else {
                self.keep_round(&key, expires, &response).await;
            }
        }
        response
    }

    fn rounds_bucket() -> Bucket<'static> {
        Bucket::KeyValue {
            plugin: ROUNDS_OWNER,
            namespace: ROUNDS_NAMESPACE,
            // Bounded by the parked-call table and the kept answers' size.
            quota: Quota::UNLIMITED,
        }
    }

    /// Claim the round `token` continues, or find its kept answer. Another
    /// request running the same round is waited for (up to the client
    /// timeout). `None` when the state store cannot say (the round then
    /// runs, at least once).
    async fn claim_round(
        &self,
        ctx: &RequestContext<RoleServer>,
        token: &str,
        expires: u64,
    ) -> Result<Option<Claim>, McpError> {
        let Some(store) = self.state_store() else {
            return Ok(None);
        };
        let key = blake3::hash(token.as_bytes()).to_hex()[..32].to_string();
        let done = format!("done:{key}");
        let kept = |bytes: Vec<u8>| serde_json::from_slice::<StoredRound>(&bytes).ok();
        match store.get(Self::rounds_bucket(), &done).await {
            Ok(Some(bytes)) => return Ok(kept(bytes).map(Claim::Kept)),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!("cannot look up the round of a retry: {e}");
                return Ok(None);
            }
        }
        let claim = format!("claim:{key}");
        match store.increment(Self::rounds_bucket(), &claim, 1).await {
            Ok(1) => {
                let _ = store
                    .set(Self::rounds_bucket(), &claim, b"1", Some(until(expires)))
                    .await;
                return Ok(Some(Claim::Mine(key)));
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!("cannot claim the round of a retry: {e}");
                return Ok(None);
            }
        }
        // Another request has this round: its answer is this one's.
        let deadline = tokio::time::Instant::now() + self.shared.client_timeout;
        loop {
            tokio::select! {
                () = tokio::time::sleep(std::time::Duration::from_millis(25)) => {}
                () = ctx.ct.cancelled() => {
                    return Err(McpError::internal_error("the request was cancelled", None));
                }
            }
            if let Ok(Some(bytes)) = store.get(Self::rounds_bucket(), &done).await {
                return Ok(kept(bytes).map(Claim::Kept));
            }
            // A claim that vanished was released (its round was cancelled).
            if let Ok(None) = store.get(Self::rounds_bucket(), &claim).await {
                return Box::pin(self.claim_round(ctx, token, expires)).await;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(McpError::internal_error(
                    "an identical retry of this round is still being answered; wait for its answer",
                    None,
                ));
            }
        }
    }

    /// Where rounds are claimed and their answers kept: the host's state
    /// store, shared with every host behind the same one.
    fn state_store(&self) -> Option<&crate::state::SharedStore> {
        self.shared.runtime.services().get()
    }

    async fn release_round(&self, key: &str) {
        let Some(store) = self.state_store() else {
            return;
        };
        let _ = store
            .delete(Self::rounds_bucket(), &format!("claim:{key}"))
            .await;
    }

    /// Keep a round's answer until its state expires.
    async fn keep_round<R: RoundResponse>(
        &self,
        key: &str,
        expires: u64,
        response: &Result<R, McpError>,
    ) {
        let stored = match response {
            Ok(r) => r.keep(),
            Err(e) => kept(e).map(StoredRound::Error),
        };
        let Some(stored) = stored else {
            return;
        };
        let mut bytes = serde_json::to_vec(&stored).unwrap_or_default();
        if bytes.len() > MAX_KEPT_ROUND {
            let error = McpError::internal_error(
                "this round was answered once and its answer is too large to keep; call again \
                 without requestState",
                None,
            );
            bytes = serde_json::to_vec(&StoredRound::Error(kept(&error).unwrap_or_default()))
                .unwrap_or_default();
        }
        let Some(store) = self.state_store() else {
            return;
        };
        if let Err(e) = store
            .set(
                Self::rounds_bucket(),
                &format!("done:{key}"),
                &bytes,
                Some(until(expires)),
            )
            .await
        {
            tracing::warn!("cannot keep the answer of a round for its retries: {e}");
        }
    }

    /// Run one round of a 2026-07-28 request whose work is `work` (given a
    /// factory of call contexts wired to the round machinery): start it, or
    /// resume the parked task `opened` names, or replay it; until it
    /// finishes or asks.
    async fn in_rounds<W, F>(
        &self,
        ctx: &RequestContext<RoleServer>,
        facts: &RequestFacts,
        bound: Bound,
        opened: Option<CallState>,
        input_responses: Option<&InputResponses>,
        work: W,
    ) -> Result<RoundOutcome, McpError>
    where
        W: FnOnce(CallMaker) -> F,
        F: Future<Output = Finished> + Send + 'static,
    {
        let parked = &self.shared.parked;
        let relay = self.peer_channel(ctx);
        let start = |replay: Vec<Recorded>| {
            let (channel, asks) = ModernChannel::new(relay.clone(), replay);
            let cancel = CancellationToken::new();
            let server = self.clone();
            let facts = facts.clone();
            let maker_channel = channel.clone();
            let maker_cancel = cancel.clone();
            let maker: CallMaker = Arc::new(move || {
                server.call_context(&facts, maker_channel.clone(), maker_cancel.clone())
            });
            RunningCall::spawn(work(maker), channel, asks, cancel)
        };

        let (mut run, mut answers) = match opened {
            None => (start(Vec::new()), Vec::new()),
            Some(state) => {
                let answer = input_responses
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
                Step::Done(finished) => return Ok(RoundOutcome::Done(finished)),
                Step::Cancelled => {
                    return Ok(RoundOutcome::Done(Finished::Tool(Err(
                        InvocationError::Cancelled,
                    ))));
                }
                Step::Failed(message) => return Ok(RoundOutcome::Done(Finished::Lost(message))),
                Step::Ask(asked) => {
                    let input = match input_request(&asked) {
                        Ok(input) => input,
                        Err(problem) => {
                            run.refuse(FacadeError::InvalidInput(problem));
                            continue;
                        }
                    };
                    let (key, state) =
                        parked.park(run, bound, std::mem::take(&mut answers), &asked);
                    let mut requests = InputRequests::new();
                    requests.insert(key, input);
                    return Ok(RoundOutcome::Input(InputRequiredResult::new(
                        Some(requests),
                        Some(state),
                    )));
                }
            }
        }
    }
}

/// The time left until the Unix second `expires` (at least a second).
fn until(expires: u64) -> std::time::Duration {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    std::time::Duration::from_secs(expires.saturating_sub(now).max(1))
}

/// The MCP form of a question for the client, for `inputRequests`.
pub(super) fn input_request(asked: &ClientRequest) -> Result<InputRequest, String> {
    let method = asked.kind().method();
    let wire = match asked.kind() {
        ClientRequestKind::Roots => serde_json::json!({"method": method}),
        _ => serde_json::json!({"method": method, "params": super::client_wire::params(asked)}),
    };
    serde_json::from_value(wire).map_err(|e| format!("not a valid `{method}` request: {e}"))
}

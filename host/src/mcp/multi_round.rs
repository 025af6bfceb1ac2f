//! Requests to the client in the 2026-07-28 era, where the server may not
//! send requests of its own: a call that asks the client something is
//! parked and the request is answered with `InputRequiredResult`; the
//! client's retry carries the answer back (multi-round tool requests).
//!
//! The guest never notices. Its `elicit()` or `sample()` blocks inside a
//! host import while its call runs on as a task; the task's question comes
//! out of [`ModernChannel`], and the call ([`RunningCall`]: its `Store` and
//! future) waits in [`ParkedCalls`], a bounded table with a time to live.
//! The `requestState` handed to the client is sealed ([`SealKey`]) and
//! records every answer so far. When the retry arrives and the call is still
//! parked, the answer is fed to it and it continues. When it is gone
//! (expired, evicted, the host restarted, another replica got the retry),
//! the call starts again from the beginning and its questions are answered
//! from the recorded answers, in order, until it asks the next new one. A
//! replayed call that asks something else at a recorded step is stopped.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::channel::PeerChannel;
use crate::context::{
    BoxFuture, ClientAnswer, ClientChannel, ClientRequest, FacadeError, LogLevel,
};
use crate::sealed::SealKey;

/// How long a `requestState` stays valid for replay.
pub const STATE_LIFETIME: Duration = Duration::from_secs(3600);

/// One question a running call put to the client.
pub(super) struct Ask {
    pub(super) request: ClientRequest,
    reply: oneshot::Sender<Result<Value, FacadeError>>,
}

/// An answer recorded in the sealed state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Recorded {
    /// [`ClientRequest::fingerprint`] of the question.
    pub(super) asked: String,
    pub(super) answer: Value,
}

/// What the sealed `requestState` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct CallState {
    /// The host process that parked the call (parked ids are per process).
    pub(super) host: String,
    /// The parked call's id in that process.
    pub(super) call: u64,
    /// What was called: `tool:<name>`.
    pub(super) operation: String,
    /// Digest of the arguments.
    pub(super) arguments: String,
    /// Who the state was issued to: the principal's id (`""` without
    /// authentication) and, on a handshake-era session, the session. A
    /// retry from anyone else is refused.
    #[serde(default)]
    pub(super) caller: Caller,
    /// The plugin that serves the call, when known when it started: a
    /// retry must still be allowed to use it.
    #[serde(default)]
    pub(super) plugin: Option<String>,
    /// Answers to the questions asked so far, in order.
    pub(super) answers: Vec<Recorded>,
    /// The key of the question waiting for an answer, and its fingerprint.
    pub(super) pending_key: String,
    pub(super) pending_asked: String,
    /// Unix seconds after which the state is refused.
    pub(super) expires: u64,
}

/// Who a sealed state belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Caller {
    pub(super) principal: String,
    pub(super) session: Option<String>,
}

/// The channel of a call in the 2026-07-28 era: logs and progress go to the
/// current round's request, questions to the client come out as [`Ask`]s
/// (or are answered from the recorded answers while replaying).
pub(super) struct ModernChannel {
    relay: Mutex<Arc<PeerChannel>>,
    replay: Mutex<VecDeque<Recorded>>,
    asks: mpsc::Sender<Ask>,
}

impl ModernChannel {
    pub(super) fn new(
        relay: Arc<PeerChannel>,
        replay: Vec<Recorded>,
    ) -> (Arc<Self>, mpsc::Receiver<Ask>) {
        let (tx, rx) = mpsc::channel(1);
        let channel = Arc::new(Self {
            relay: Mutex::new(relay),
            replay: Mutex::new(replay.into()),
            asks: tx,
        });
        (channel, rx)
    }

    fn relay(&self) -> Arc<PeerChannel> {
        self.relay.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Route logs and progress to the request of a new round.
    pub(super) fn set_relay(&self, relay: Arc<PeerChannel>) {
        *self.relay.lock().unwrap_or_else(|e| e.into_inner()) = relay;
    }
}

impl ClientChannel for ModernChannel {
    fn log(&self, level: LogLevel, logger: Option<String>, data: Value) -> BoxFuture<'_, ()> {
        Box::pin(async move { self.relay().log(level, logger, data).await })
    }

    fn progress(
        &self,
        progress: f64,
        total: Option<f64>,
        message: Option<String>,
    ) -> BoxFuture<'_, ()> {
        Box::pin(async move { self.relay().progress(progress, total, message).await })
    }

    fn request(&self, request: ClientRequest) -> BoxFuture<'_, Result<ClientAnswer, FacadeError>> {
        Box::pin(async move {
            self.relay().check_capability(&request)?;
            super::channel::server_request(&request)?;
            let kind = request.kind();
            let replayed = replay_answer(
                &mut self.replay.lock().unwrap_or_else(|e| e.into_inner()),
                &request,
            );
            let answer = match replayed {
                Some(answer) => answer?,
                None => {
                    let (reply, answer) = oneshot::channel();
                    self.asks
                        .send(Ask { request, reply })
                        .await
                        .map_err(|_| FacadeError::Cancelled)?;
                    answer.await.unwrap_or(Err(FacadeError::Cancelled))?
                }
            };
            super::client_wire::answer(kind, answer)
        })
    }

    fn resource_updated(&self, plugin: String, uri: String) -> BoxFuture<'_, ()> {
        Box::pin(async move { self.relay().resource_updated(plugin, uri).await })
    }

    fn resource_list_changed(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move { self.relay().resource_list_changed().await })
    }
}

/// While a call is replayed, the recorded answer to its next question; a
/// question that differs from the recorded one stops the call.
fn replay_answer(
    recorded: &mut VecDeque<Recorded>,
    request: &ClientRequest,
) -> Option<Result<Value, FacadeError>> {
    let next = recorded.pop_front()?;
    if next.asked != request.fingerprint() {
        recorded.clear();
        return Some(Err(FacadeError::Abort(format!(
            "the call was replayed from its recorded answers, but this time it sent a \
             different `{}` request at the same step; call the tool again without `requestState`",
            request.kind().method()
        ))));
    }
    Some(Ok(next.answer))
}

/// A call running as its own task, so it can outlive the request that
/// started it.
pub(super) struct RunningCall<T> {
    result: JoinHandle<T>,
    asks: mpsc::Receiver<Ask>,
    pending: Option<oneshot::Sender<Result<Value, FacadeError>>>,
    channel: Arc<ModernChannel>,
    cancel: CancellationToken,
}

impl<T> Drop for RunningCall<T> {
    fn drop(&mut self) {
        // An abandoned call stops at its next interruption point.
        self.cancel.cancel();
        self.result.abort();
    }
}

impl<T: Send + 'static> RunningCall<T> {
    pub(super) fn spawn(
        work: impl std::future::Future<Output = T> + Send + 'static,
        channel: Arc<ModernChannel>,
        asks: mpsc::Receiver<Ask>,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            result: tokio::spawn(work),
            asks,
            pending: None,
            channel,
            cancel,
        }
    }

    pub(super) fn channel(&self) -> &Arc<ModernChannel> {
        &self.channel
    }

    /// Hand the client's answer to the question the call is waiting on.
    pub(super) fn answer(&mut self, answer: Value) {
        if let Some(reply) = self.pending.take() {
            let _ = reply.send(Ok(answer));
        }
    }

    /// Run until the call finishes or asks the client something. `cancel`
    /// is the current request's cancellation.
    pub(super) async fn next(&mut self, cancel: &CancellationToken) -> Step<T> {
        // The task cannot return an error of its own: a join error means it
        // panicked or was aborted.
        tokio::select! {
            biased;
            done = &mut self.result => match done {
                Ok(value) => Step::Done(value),
                Err(e) => Step::Failed(format!("the call's task ended abnormally: {e}")),
            },
            ask = self.asks.recv() => match ask {
                Some(Ask { request, reply }) => {
                    self.pending = Some(reply);
                    Step::Ask(request)
                }
                None => Step::Failed("the call stopped without an answer".into()),
            },
            () = cancel.cancelled() => {
                self.cancel.cancel();
                Step::Cancelled
            }
        }
    }

    /// Tell the waiting guest its question cannot be asked (and keep going).
    pub(super) fn refuse(&mut self, error: FacadeError) {
        if let Some(reply) = self.pending.take() {
            let _ = reply.send(Err(error));
        }
    }
}

/// Where a running call got to.
pub(super) enum Step<T> {
    Done(T),
    Ask(ClientRequest),
    Cancelled,
    Failed(String),
}

/// Parked calls waiting for the client's next round, bounded in number and
/// in time.
pub struct ParkedCalls<T> {
    key: SealKey,
    /// Names this process in sealed states.
    host: String,
    next: AtomicU64,
    ttl: Duration,
    capacity: usize,
    table: Mutex<HashMap<u64, Parked<T>>>,
}

struct Parked<T> {
    expires: Instant,
    step: usize,
    /// The principal whose call it is (`""` without authentication).
    owner: String,
    call: RunningCall<T>,
}

impl<T> std::fmt::Debug for ParkedCalls<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParkedCalls")
            .field("ttl", &self.ttl)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// Why a `requestState` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum StateError {
    #[error("requestState was not issued by this server or has been altered")]
    Invalid,
    #[error("requestState has expired; call again without it")]
    Expired,
    #[error("requestState belongs to a different request")]
    Mismatch,
    #[error("requestState was issued to another caller")]
    Foreign,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

impl<T: Send + 'static> ParkedCalls<T> {
    pub fn new(key: SealKey, ttl: Duration, capacity: usize) -> Self {
        let mut nonce = [0u8; 8];
        let _ = getrandom::fill(&mut nonce);
        Self {
            key,
            host: nonce.iter().map(|b| format!("{b:02x}")).collect(),
            next: AtomicU64::new(1),
            ttl,
            capacity: capacity.max(1),
            table: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Parked<T>>> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drop calls whose time ran out (their tasks are cancelled).
    pub fn sweep(&self) {
        let now = Instant::now();
        let expired: Vec<Parked<T>> = {
            let mut table = self.lock();
            let ids: Vec<u64> = table
                .iter()
                .filter(|(_, p)| p.expires <= now)
                .map(|(id, _)| *id)
                .collect();
            ids.into_iter().filter_map(|id| table.remove(&id)).collect()
        };
        drop(expired);
    }

    /// How many calls are parked.
    pub fn parked(&self) -> usize {
        self.lock().len()
    }

    /// Park `call`, waiting on the question `asked` (answered so far:
    /// `answers`), and seal the state the client must send back.
    pub(super) fn park(
        &self,
        call: RunningCall<T>,
        bound: Bound,
        answers: Vec<Recorded>,
        asked: &ClientRequest,
    ) -> (String, String) {
        self.sweep();
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let step = answers.len();
        let key = format!("input-{step}");
        let state = CallState {
            host: self.host.clone(),
            call: id,
            operation: bound.operation,
            arguments: bound.arguments,
            caller: bound.caller,
            plugin: bound.plugin,
            answers,
            pending_key: key.clone(),
            pending_asked: asked.fingerprint(),
            expires: unix_now() + STATE_LIFETIME.as_secs(),
        };
        let owner = state.caller.principal.clone();
        let evicted = {
            let mut table = self.lock();
            let evicted = self
                .to_evict(&table, &owner)
                .and_then(|id| table.remove(&id));
            table.insert(
                id,
                Parked {
                    expires: Instant::now() + self.ttl,
                    step,
                    owner,
                    call,
                },
            );
            evicted
        };
        // The evicted call's client will be served by replay.
        drop(evicted);
        (key, self.key.seal(&state))
    }

    /// Open a sealed state sent back by `bound.caller` for
    /// `bound.operation` on `bound.arguments`.
    pub(super) fn open(&self, token: &str, bound: &Bound) -> Result<CallState, StateError> {
        let state: CallState = self.key.open(token).map_err(|_| StateError::Invalid)?;
        if state.expires < unix_now() {
            return Err(StateError::Expired);
        }
        if state.caller != bound.caller {
            return Err(StateError::Foreign);
        }
        if state.operation != bound.operation || state.arguments != bound.arguments {
            return Err(StateError::Mismatch);
        }
        Ok(state)
    }

    fn to_evict(&self, table: &HashMap<u64, Parked<T>>, owner: &str) -> Option<u64> {
        let entries: Vec<(u64, &str, Instant)> = table
            .iter()
            .map(|(id, p)| (*id, p.owner.as_str(), p.expires))
            .collect();
        evictee(&entries, self.capacity, owner)
    }

    /// Take the parked call `state` names, if this process still holds it
    /// at that step.
    pub(super) fn take(&self, state: &CallState) -> Option<RunningCall<T>> {
        if state.host != self.host {
            return None;
        }
        let mut table = self.lock();
        match table.get(&state.call) {
            Some(p) if p.step == state.answers.len() && p.expires > Instant::now() => {
                table.remove(&state.call).map(|p| p.call)
            }
            _ => None,
        }
    }
}

/// Which of the parked `entries` (id, owner, expiry) makes room for one
/// more call of `owner` in a table of `capacity`: its own oldest when it
/// holds its share (a quarter of the table for a principal, all of it
/// without authentication), else, when the table is full,
/// the oldest of the principal holding the most. One principal parking
/// calls never evicts another's.
fn evictee(entries: &[(u64, &str, Instant)], capacity: usize, owner: &str) -> Option<u64> {
    // Without authentication every caller is the same owner (`""`): the
    // whole table is its share.
    let share = if owner.is_empty() {
        capacity
    } else {
        (capacity / 4).max(1)
    };
    let held = |who: &str| entries.iter().filter(|(_, o, _)| *o == who).count();
    let from = if held(owner) >= share {
        owner
    } else if entries.len() >= capacity {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for (_, o, _) in entries {
            *counts.entry(o).or_default() += 1;
        }
        counts.into_iter().max_by_key(|(_, n)| *n)?.0
    } else {
        return None;
    };
    entries
        .iter()
        .filter(|(_, o, _)| *o == from)
        .min_by_key(|(_, _, expires)| *expires)
        .map(|(id, _, _)| *id)
}

/// What a sealed state is bound to: the operation, its arguments, the
/// caller, and the plugin serving it.
#[derive(Debug, Clone)]
pub(super) struct Bound {
    pub(super) operation: String,
    pub(super) arguments: String,
    pub(super) caller: Caller,
    pub(super) plugin: Option<String>,
}

/// Digest of a call's arguments, to bind a sealed state to them.
pub(super) fn arguments_digest(arguments: &Value) -> String {
    blake3::hash(arguments.to_string().as_bytes()).to_hex()[..32].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ask(message: &str) -> ClientRequest {
        let schema = json!({"type": "object", "properties": {}});
        ClientRequest::ElicitForm {
            message: message.into(),
            requested_schema: schema.as_object().unwrap().clone(),
        }
    }

    #[test]
    fn replay_answers_in_order_and_stops_on_divergence() {
        let mut recorded: VecDeque<Recorded> = [
            Recorded {
                asked: ask("name?").fingerprint(),
                answer: json!({"action": "accept", "content": {"name": "Ada"}}),
            },
            Recorded {
                asked: ask("age?").fingerprint(),
                answer: json!({"action": "decline"}),
            },
        ]
        .into();
        let first = replay_answer(&mut recorded, &ask("name?"))
            .unwrap()
            .unwrap();
        assert_eq!(first["content"]["name"], "Ada");
        let diverged = replay_answer(&mut recorded, &ask("favourite colour?")).unwrap();
        assert!(
            matches!(diverged, Err(FacadeError::Abort(m)) if m.contains("different `elicitation/create` request"))
        );
        assert!(
            replay_answer(&mut recorded, &ask("age?")).is_none(),
            "nothing is replayed after a divergence"
        );
    }

    #[test]
    fn a_principal_parking_calls_evicts_only_its_own() {
        let now = Instant::now();
        let at = |s: u64| now + Duration::from_secs(s);
        // Alice parked first; Mallory holds a quarter of 8.
        let entries = [
            (1, "alice", at(1)),
            (2, "mallory", at(2)),
            (3, "mallory", at(3)),
        ];
        assert_eq!(evictee(&entries, 8, "mallory"), Some(2));
        assert_eq!(
            evictee(&entries, 8, "alice"),
            None,
            "room, and within share"
        );
        // A full table gives up the oldest of whoever holds the most.
        let full = [
            (1, "alice", at(1)),
            (2, "bob", at(2)),
            (3, "carol", at(3)),
            (4, "carol", at(4)),
        ];
        assert_eq!(evictee(&full, 4, "dave"), Some(3));
        // Without authentication the whole table is the one owner's.
        let anonymous = [(1, "", at(1)), (2, "", at(2)), (3, "", at(3))];
        assert_eq!(evictee(&anonymous, 8, ""), None);
        assert_eq!(evictee(&anonymous, 3, ""), Some(1));
    }

    #[test]
    fn sealed_states_are_bound_to_their_call() {
        let parked: ParkedCalls<()> =
            ParkedCalls::new(SealKey::generate().unwrap(), Duration::from_secs(60), 4);
        let alice = Caller {
            principal: "alice".into(),
            session: None,
        };
        let bound = |operation: &str, arguments: &str, caller: &Caller| Bound {
            operation: operation.into(),
            arguments: arguments.into(),
            caller: caller.clone(),
            plugin: None,
        };
        let state = CallState {
            host: parked.host.clone(),
            call: 1,
            operation: "tool:a".into(),
            arguments: "digest".into(),
            caller: alice.clone(),
            plugin: Some("p".into()),
            answers: Vec::new(),
            pending_key: "input-0".into(),
            pending_asked: ask("x").fingerprint(),
            expires: unix_now() + 60,
        };
        let token = parked.key.seal(&state);
        assert!(
            parked
                .open(&token, &bound("tool:a", "digest", &alice))
                .is_ok()
        );
        assert_eq!(
            parked
                .open(&token, &bound("tool:b", "digest", &alice))
                .unwrap_err(),
            StateError::Mismatch
        );
        assert_eq!(
            parked
                .open(&token, &bound("tool:a", "other", &alice))
                .unwrap_err(),
            StateError::Mismatch
        );
        for other in [
            Caller {
                principal: "bob".into(),
                session: None,
            },
            Caller {
                principal: "alice".into(),
                session: Some("s".into()),
            },
            Caller::default(),
        ] {
            assert_eq!(
                parked
                    .open(&token, &bound("tool:a", "digest", &other))
                    .unwrap_err(),
                StateError::Foreign
            );
        }
        let expired = parked.key.seal(&CallState {
            expires: unix_now() - 1,
            ..state.clone()
        });
        assert_eq!(
            parked
                .open(&expired, &bound("tool:a", "digest", &alice))
                .unwrap_err(),
            StateError::Expired
        );
        assert_eq!(
            parked
                .open("garbage", &bound("tool:a", "digest", &alice))
                .unwrap_err(),
            StateError::Invalid
        );
        assert!(
            parked.take(&state).is_none(),
            "nothing is parked under that id"
        );
    }
}

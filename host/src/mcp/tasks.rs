//! Tool calls as MCP tasks, in the format of the tasks extension
//! (`io.modelcontextprotocol/tasks`): served to 2026-07-28 requests that
//! declare it in their `_meta`, and to handshake-era sessions whose
//! `initialize` declares it.
//!
//! The host decides: a tool declared (or forced by the policy) `optional`
//! runs as a task when the request declares the extension, one declared
//! `required` only then (a request without it is refused with -32021). The
//! request is answered at once with the task; the call runs on in the
//! background under the plugin's task time limit, exactly the guest code a
//! plain call runs. A question the guest asks the client (elicitation,
//! sampling, roots) moves the task to `input_required` until `tasks/update`
//! brings the answer; `tasks/cancel` stops the guest as a cancelled request
//! does.
//!
//! The records live in the state store ([`crate::tasks`]): `tasks/get`,
//! `tasks/update` and `tasks/cancel` work on any host sharing it. The host
//! running a task hears of a cancel or an answer at once when it got the
//! request itself, else at its next look at the store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    CallToolResponse, CancelTaskParams, ClientCapabilities, CreateTaskResult, DetailedTask,
    GetTaskParams, GetTaskResult, InputRequests, JsonObject, Task, TaskPayload, UpdateTaskParams,
};
use rmcp::service::{Peer, RequestContext};
use rmcp::{ErrorData as McpError, RoleServer};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::McpServer;
use super::multi_round::{ModernChannel, RunningCall, Step};
use super::rounds::{Finished, input_request};
use super::server::RequestFacts;
use super::tool_calls::tool_response;
use crate::catalog::ExposedTool;
use crate::context::FacadeError;
use crate::error::InvocationError;
use crate::tasks::{HEARTBEAT, TaskRecord, TaskStatus, TaskStore};
use crate::tool::TaskSupport;

/// Whether the request asked for a task itself.
#[derive(Debug, Clone, Copy)]
pub(super) enum TaskAsk {
    /// It did not: the host decides by the tool and the extension.
    Decide,
    /// A 2025-11-25 `tools/call` with `task` (and its time to live, ms).
    Core { ttl: Option<u64> },
}

/// How the host runs tasks.
#[derive(Debug, Clone)]
pub struct TaskOptions {
    /// How long a finished task's outcome is kept.
    pub ttl: Duration,
    /// Tasks one principal may have running at once on this host.
    pub max_per_principal: usize,
    /// Tasks of one plugin that may run at once on this host.
    pub max_per_plugin: usize,
}

impl TaskOptions {
    pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);
    /// The longest an operator may keep outcomes.
    pub const MAX_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
    pub const DEFAULT_MAX_PER_PRINCIPAL: usize = 16;
    pub const DEFAULT_MAX_PER_PLUGIN: usize = 64;
}

impl Default for TaskOptions {
    fn default() -> Self {
        Self {
            ttl: Self::DEFAULT_TTL,
            max_per_principal: Self::DEFAULT_MAX_PER_PRINCIPAL,
            max_per_plugin: Self::DEFAULT_MAX_PER_PLUGIN,
        }
    }
}

/// How often a running task looks in the store for a cancel or an answer
/// that reached another host.
const LOOK_EVERY: Duration = Duration::from_millis(200);

/// A task this host runs.
struct Local {
    owner: String,
    plugin: String,
    /// Stops the task (`tasks/cancel` reached this host).
    stop: CancellationToken,
    /// Woken when `tasks/update` brought answers to this host.
    answered: Arc<Notify>,
}

/// The tasks this host runs, with their shares.
pub struct RunningTasks {
    pub(super) options: TaskOptions,
    local: Mutex<HashMap<String, Local>>,
}

impl std::fmt::Debug for RunningTasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningTasks")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl RunningTasks {
    pub fn new(options: TaskOptions) -> Self {
        Self {
            options,
            local: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Local>> {
        self.local.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many tasks run on this host.
    pub fn running(&self) -> usize {
        self.lock().len()
    }

    /// Take a share for a new task of `owner` and `plugin`, or say why not.
    fn admit(&self, id: &str, owner: &str, plugin: &str) -> Result<Local, String> {
        let mut local = self.lock();
        let of_owner = local.values().filter(|t| t.owner == owner).count();
        if of_owner >= self.options.max_per_principal {
            return Err(format!(
                "{} already has {of_owner} tasks running, the most one caller may \
                 (--max-tasks-per-principal); start another when one has finished",
                if owner.is_empty() {
                    "this client".to_string()
                } else {
                    format!("principal `{owner}`")
                }
            ));
        }
        let of_plugin = local.values().filter(|t| t.plugin == plugin).count();
        if of_plugin >= self.options.max_per_plugin {
            return Err(format!(
                "plugin `{plugin}` already has {of_plugin} tasks running, the most it may \
                 (--max-tasks-per-plugin); start another when one has finished"
            ));
        }
        let stop = CancellationToken::new();
        let answered = Arc::new(Notify::new());
        local.insert(
            id.to_string(),
            Local {
                owner: owner.to_string(),
                plugin: plugin.to_string(),
                stop: stop.clone(),
                answered: answered.clone(),
            },
        );
        Ok(Local {
            owner: owner.to_string(),
            plugin: plugin.to_string(),
            stop,
            answered,
        })
    }

    fn release(&self, id: &str) {
        self.lock().remove(id);
    }

    fn stop(&self, id: &str) {
        if let Some(task) = self.lock().get(id) {
            task.stop.cancel();
        }
    }

    fn wake(&self, id: &str) {
        if let Some(task) = self.lock().get(id) {
            task.answered.notify_one();
        }
    }
}

/// Whether the request declared the tasks extension.
fn declares_tasks(ctx: &RequestContext<RoleServer>) -> bool {
    ctx.client_capabilities()
        .is_some_and(|caps| caps.supports_tasks())
}

fn owner_of(facts: &RequestFacts) -> String {
    facts
        .access
        .principal()
        .map_or_else(String::new, |p| p.id.clone())
}

fn unknown_task(id: &str) -> McpError {
    McpError::invalid_params(format!("unknown task `{id}`"), None)
}

fn store_failed(e: crate::state::StateError) -> McpError {
    McpError::internal_error(format!("the task store failed: {e}"), None)
}

/// An RFC 3339 UTC timestamp of `ms` since the Unix epoch.
pub(super) fn timestamp(ms: u64) -> String {
    let in_day = ms % 86_400_000;
    let (year, month, day) = crate::calendar::civil_from_days((ms / 86_400_000) as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// The wire form of `record`.
fn detailed(record: &TaskRecord) -> DetailedTask {
    let mut task = Task::new(
        record.id.clone(),
        Default::default(),
        timestamp(record.created_ms),
        timestamp(record.updated_ms),
    )
    .with_poll_interval_ms(record.poll_ms);
    task.ttl_ms = Some(match record.status.is_terminal() {
        // Kept `ttl` after it finished.
        true => record
            .updated_ms
            .saturating_sub(record.created_ms)
            .saturating_add(record.ttl_ms),
        false => record.ttl_ms,
    });
    task.status_message = record.message.clone();
    let object = |value: &Option<Value>| match value {
        Some(Value::Object(map)) => map.clone(),
        _ => JsonObject::new(),
    };
    let payload = match record.status {
        TaskStatus::Working => TaskPayload::Working,
        TaskStatus::Cancelled => TaskPayload::Cancelled,
        TaskStatus::Completed => TaskPayload::Completed {
            result: object(&record.payload),
        },
        TaskStatus::Failed => TaskPayload::Failed {
            error: match &record.payload {
                Some(Value::Object(map)) => map.clone(),
                _ => object(&Some(json!({
                    "code": -32603,
                    "message": record.message.clone().unwrap_or_else(|| "the task failed".into()),
                }))),
            },
        },
        TaskStatus::InputRequired => TaskPayload::InputRequired {
            input_requests: record
                .payload
                .clone()
                .and_then(|v| serde_json::from_value::<InputRequests>(v).ok())
                .unwrap_or_default(),
        },
    };
    DetailedTask::new(task, payload)
}

impl McpServer {
    fn task_store(&self) -> TaskStore {
        TaskStore::new(
            self.shared
                .runtime
                .services()
                .get::<crate::state::SharedStore>()
                .cloned()
                .unwrap_or_else(|| self.shared.task_fallback_store.clone()),
        )
    }

    /// Whether a call of `tool` runs as a task for this request; a tool
    /// that runs only as a task refuses a request that cannot have one.
    pub(super) fn runs_as_task(
        &self,
        ctx: &RequestContext<RoleServer>,
        tool: &ExposedTool,
        ask: TaskAsk,
    ) -> Result<bool, McpError> {
        let support = tool.task_support();
        if let TaskAsk::Core { .. } = ask {
            return super::core_tasks::decide(support, true, &tool.name);
        }
        if super::core_tasks::speaks_core_tasks(ctx) {
            // A 2025-11-25 client decides, within what the tool allows.
            return super::core_tasks::decide(support, false, &tool.name);
        }
        match (support, declares_tasks(ctx)) {
            (TaskSupport::Forbidden, _) | (TaskSupport::Optional, false) => Ok(false),
            (_, true) => Ok(true),
            (TaskSupport::Required, false) => Err(McpError::missing_required_client_capability(
                ClientCapabilities::builder().enable_tasks().build(),
            )),
        }
    }

    /// Start `tool` as a task and answer with it.
    pub(super) async fn start_task(
        &self,
        ctx: &RequestContext<RoleServer>,
        facts: &RequestFacts,
        tool: ExposedTool,
        arguments: Value,
        ask: TaskAsk,
    ) -> Result<CallToolResponse, McpError> {
        let owner = owner_of(facts);
        let plugin = tool.plugin.name.to_string();
        // A client may ask for less than the host keeps.
        let asked_ttl = match ask {
            TaskAsk::Core { ttl } => ttl,
            TaskAsk::Decide => None,
        };
        let ttl = asked_ttl
            .map(Duration::from_millis)
            .map_or(self.shared.tasks.options.ttl, |asked| {
                asked.clamp(Duration::from_millis(1), self.shared.tasks.options.ttl)
            });
        let record = TaskRecord::new(
            &owner,
            &plugin,
            &tool.name,
            ttl,
            tool.plugin.limits.task_timeout,
        );
        let local = match self.shared.tasks.admit(&record.id, &owner, &plugin) {
            Ok(local) => local,
            Err(refusal) => {
                return Ok(
                    super::convert::call_result(crate::tool::ToolResult::error_text(refusal))
                        .into(),
                );
            }
        };
        let store = self.task_store();
        if let Err(e) = store.create(&record).await {
            self.shared.tasks.release(&record.id);
            return Err(store_failed(e));
        }
        let (channel, asks) = ModernChannel::new(self.peer_channel(ctx), Vec::new());
        let cancel = CancellationToken::new();
        let call = self
            .call_context(facts, channel.clone(), cancel.clone())
            .as_task();
        let runtime = self.shared.runtime.clone();
        let index = tool.index();
        let name = tool.name.clone();
        let work = async move {
            Finished::Tool(
                runtime
                    .dispatch_tool(tool.plugin, index, arguments, call)
                    .await,
            )
        };
        let run = RunningCall::spawn(work, channel, asks, cancel);
        let tasks = self.shared.tasks.clone();
        let metrics = self.shared.runtime.metrics().clone();
        metrics
            .tasks_started
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let answer = CreateTaskResult::new(detailed(&record).task);
        // A 2025-11-25 session hears of each change of its task's status.
        let status_to = super::core_tasks::speaks_core_tasks(ctx).then(|| ctx.peer.clone());
        tokio::spawn(async move {
            let id = record.id.clone();
            let ended = drive(run, record, &name, store, local, status_to).await;
            tasks.release(&id);
            metrics.task_ended(ended);
        });
        Ok(answer.into())
    }

    /// Task `id` as the request's principal may see it, with its store;
    /// unknown when it is someone else's.
    pub(super) async fn owned_task(
        &self,
        id: &str,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<(TaskStore, TaskRecord), McpError> {
        let owner = owner_of(&self.facts(ctx));
        let store = self.task_store();
        let record = store
            .get(id, &owner)
            .await
            .map_err(store_failed)?
            .ok_or_else(|| unknown_task(id))?;
        Ok((store, record))
    }

    /// The tasks the request's principal may see, newest first.
    pub(super) async fn owned_tasks(
        &self,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<Vec<TaskRecord>, McpError> {
        let owner = owner_of(&self.facts(ctx));
        self.task_store().list(&owner).await.map_err(store_failed)
    }

    pub(super) async fn task_get(
        &self,
        request: GetTaskParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, McpError> {
        let (_, record) = self.owned_task(&request.task_id, &ctx).await?;
        Ok(GetTaskResult::new(detailed(&record)))
    }

    pub(super) async fn task_update(
        &self,
        request: UpdateTaskParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let (store, record) = self.owned_task(&request.task_id, &ctx).await?;
        let waiting: InputRequests = match (&record.status, &record.payload) {
            (TaskStatus::InputRequired, Some(payload)) => {
                serde_json::from_value(payload.clone()).unwrap_or_default()
            }
            _ => InputRequests::new(),
        };
        if let Some(key) = request
            .input_responses
            .keys()
            .find(|key| !waiting.contains_key(*key))
        {
            return Err(McpError::invalid_params(
                format!(
                    "task `{}` is not waiting for an answer to `{key}`",
                    request.task_id
                ),
                None,
            ));
        }
        for (key, answer) in &request.input_responses {
            let answer = serde_json::to_value(answer).unwrap_or(Value::Null);
            store
                .answer(&record, key, &answer)
                .await
                .map_err(store_failed)?;
        }
        self.shared.tasks.wake(&record.id);
        Ok(())
    }

    pub(super) async fn task_cancel(
        &self,
        request: CancelTaskParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let (store, record) = self.owned_task(&request.task_id, &ctx).await?;
        if record.status.is_terminal() {
            return Err(McpError::invalid_params(
                format!(
                    "task `{}` has already finished ({})",
                    record.id,
                    serde_json::to_value(record.status).unwrap_or_default()
                ),
                None,
            ));
        }
        store.request_cancel(&record).await.map_err(store_failed)?;
        self.shared.tasks.stop(&record.id);
        Ok(())
    }
}

/// Run the task's call to its end, keeping its record: its questions out,
/// its answers in, its `alive` mark fresh, a cancel from anywhere obeyed.
async fn drive(
    mut run: RunningCall<Finished>,
    record: TaskRecord,
    tool: &str,
    store: TaskStore,
    local: Local,
    status_to: Option<Peer<RoleServer>>,
) -> &'static str {
    let id = record.id.clone();
    let mut current = record;
    let mut asked = 0u32;
    let mut look = tokio::time::interval(LOOK_EVERY);
    look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_beat = tokio::time::Instant::now();
    let write = |record: &TaskRecord| {
        let store = store.clone();
        let record = record.clone();
        let status_to = status_to.clone();
        async move {
            if let Err(e) = store.put(&record).await {
                tracing::warn!(task = record.id, "cannot record the task's state: {e}");
            }
            if let Some(peer) = status_to {
                super::core_tasks::notify_status(&peer, &record).await;
            }
        }
    };
    // Look in the store now and then: renew the mark, obey a cancel that
    // reached another host.
    let keep_up = |last_beat: &mut tokio::time::Instant| {
        let store = store.clone();
        let id = id.clone();
        let beat = last_beat.elapsed() >= HEARTBEAT;
        if beat {
            *last_beat = tokio::time::Instant::now();
        }
        async move {
            if beat && let Err(e) = store.heartbeat(&id).await {
                tracing::warn!(task = id, "cannot renew the task's mark: {e}");
            }
            store.cancel_requested(&id).await.unwrap_or(false)
        }
    };
    let finished = loop {
        let step = tokio::select! {
            step = run.next(&local.stop) => step,
            _ = look.tick() => {
                if keep_up(&mut last_beat).await {
                    local.stop.cancel();
                }
                continue;
            }
        };
        match step {
            Step::Done(finished) => break finished,
            Step::Cancelled => break Finished::Cancelled,
            Step::Failed(message) => break Finished::Lost(message),
            Step::Ask(question) => {
                let input = match input_request(&question) {
                    Ok(input) => input,
                    Err(problem) => {
                        run.refuse(FacadeError::InvalidInput(problem));
                        continue;
                    }
                };
                asked += 1;
                let key = format!("q{asked}");
                let mut requests = InputRequests::new();
                requests.insert(key.clone(), input);
                current = current.moved(
                    TaskStatus::InputRequired,
                    serde_json::to_value(&requests).ok(),
                    Some("waiting for the client's answer".into()),
                );
                write(&current).await;
                let answer = loop {
                    match store.take_answer(&id, &key).await {
                        Ok(Some(answer)) => break Some(answer),
                        Ok(None) => {}
                        Err(e) => tracing::warn!(task = id, "cannot read the task's answers: {e}"),
                    }
                    tokio::select! {
                        () = local.answered.notified() => {}
                        _ = look.tick() => {
                            if keep_up(&mut last_beat).await {
                                local.stop.cancel();
                            }
                        }
                        () = local.stop.cancelled() => break None,
                    }
                };
                let Some(answer) = answer else {
                    break Finished::Cancelled;
                };
                run.answer(answer);
                current = current.moved(TaskStatus::Working, None, None);
                write(&current).await;
            }
        }
    };
    drop(run);
    let (status, payload, message) = outcome(tool, finished);
    current = current.moved(status, payload, message);
    write(&current).await;
    if let Err(e) = store.finished(&id).await {
        tracing::warn!(task = id, "cannot clear the task's mark: {e}");
    }
    drop(local);
    match status {
        TaskStatus::Completed => "completed",
        TaskStatus::Cancelled => "cancelled",
        _ => "failed",
    }
}

/// The record's final status, payload and message for what the call did:
/// a result (an error result included) completes the task; a call the
/// host ended (a limit, a crash) fails it, naming why.
fn outcome(tool: &str, finished: Finished) -> (TaskStatus, Option<Value>, Option<String>) {
    let failed = |message: String| {
        (
            TaskStatus::Failed,
            Some(json!({"code": -32603, "message": message})),
            Some(message),
        )
    };
    match finished {
        Finished::Tool(Ok(result)) => {
            let response = tool_response(tool, Ok(result));
            let value = match response {
                CallToolResponse::Complete(result) => serde_json::to_value(result).ok(),
                _ => None,
            };
            (TaskStatus::Completed, value, None)
        }
        Finished::Tool(Err(InvocationError::Cancelled)) | Finished::Cancelled => (
            TaskStatus::Cancelled,
            None,
            Some("cancelled by the client".into()),
        ),
        Finished::Tool(Err(error)) => failed(error.to_string()),
        other => failed(other.missing_result()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(timestamp(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(timestamp(1_796_341_415_007), "2026-12-03T23:43:35.007Z");
    }
}

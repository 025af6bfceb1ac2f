//! Tool calls that run as tasks: the record of each task and where it
//! lives. A task is answered at once with its id; the call runs on, and the
//! client polls the record for its status and outcome, answers the
//! questions the call asks, or cancels it.
//!
//! Records live in the state store (SQLite by default, Redis when replicas
//! share state), so any host sharing the store answers for any task, and a
//! finished task's outcome outlives a restart until its time to live. Each
//! key has one writer: the host running a task writes its record and keeps
//! its `alive` mark fresh; whoever asks writes the cancel mark and the
//! answers, which the running host picks up. A task whose `alive` mark
//! lapsed while it was unfinished is reported failed: its host stopped.
//!
//! Ids are 128 random bits. A task belongs to the principal that created
//! it; to anyone else its id is unknown. The outcome is kept as the MCP
//! adapter rendered it (JSON); nothing here knows the wire.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::state::{Bucket, MAX_LISTED_KEYS, Quota, SharedStore, StateError};

/// How often the host running a task renews its `alive` mark.
pub const HEARTBEAT: Duration = Duration::from_secs(2);

/// How long an `alive` mark lasts without renewal: then the task's host
/// is taken to have stopped.
pub const ALIVE_FOR: Duration = Duration::from_secs(10);

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Working,
    InputRequired,
    Completed,
    Failed,
    Cancelled,
}

impl TaskStatus {
    /// Completed, failed or cancelled: nothing changes any more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Cancelled
        )
    }
}

/// One task as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    pub id: String,
    /// The principal that created it; empty when the host authenticates
    /// no one.
    pub owner: String,
    pub plugin: String,
    pub tool: String,
    pub status: TaskStatus,
    /// What a person may be shown about its state.
    pub message: Option<String>,
    pub created_ms: u64,
    pub updated_ms: u64,
    /// How long the outcome is kept once the task has finished.
    pub ttl_ms: u64,
    /// How long the store keeps the record while the task runs: its
    /// deadline, then `ttl_ms`.
    pub running_ttl_ms: u64,
    /// How often the client should poll.
    pub poll_ms: u64,
    /// The outcome (`Completed`: the result, `Failed`: the error) or the
    /// questions waiting for answers (`InputRequired`), as the MCP adapter
    /// renders them.
    pub payload: Option<Value>,
}

impl TaskRecord {
    /// A new working task with a fresh id, created now.
    pub fn new(owner: &str, plugin: &str, tool: &str, ttl: Duration, deadline: Duration) -> Self {
        let now = now_ms();
        TaskRecord {
            id: new_id(),
            owner: owner.to_string(),
            plugin: plugin.to_string(),
            tool: tool.to_string(),
            status: TaskStatus::Working,
            message: None,
            created_ms: now,
            updated_ms: now,
            ttl_ms: millis(ttl),
            running_ttl_ms: millis(deadline).saturating_add(millis(ttl)),
            poll_ms: 250,
            payload: None,
        }
    }

    /// The record moved to `status` with `payload`, updated now.
    pub fn moved(
        &self,
        status: TaskStatus,
        payload: Option<Value>,
        message: Option<String>,
    ) -> Self {
        TaskRecord {
            status,
            payload,
            message,
            updated_ms: now_ms().max(self.updated_ms),
            ..self.clone()
        }
    }

    /// How long the store keeps this version of the record.
    fn keep_for(&self) -> Duration {
        if self.status.is_terminal() {
            Duration::from_millis(self.ttl_ms.max(1))
        } else {
            let elapsed = now_ms().saturating_sub(self.created_ms);
            Duration::from_millis(
                self.running_ttl_ms
                    .saturating_sub(elapsed)
                    .max(self.ttl_ms)
                    .max(1),
            )
        }
    }
}

/// The task records in a state store.
#[derive(Debug, Clone)]
pub struct TaskStore {
    store: SharedStore,
}

/// The host's own bucket for task records; no plugin has an empty name.
const TASKS: Bucket<'static> = Bucket::KeyValue {
    plugin: "",
    namespace: "tasks",
    // Bounded by the tasks each principal and plugin may run, and their
    // time to live.
    quota: Quota::UNLIMITED,
};

fn record_key(id: &str) -> String {
    format!("task:{id}")
}

/// The owner index: `owner:<len>:<owner>:<id>` (the length keeps one
/// owner's prefix from being another's).
fn owner_prefix(owner: &str) -> String {
    format!("owner:{}:{owner}:", owner.len())
}

impl TaskStore {
    pub fn new(store: SharedStore) -> Self {
        TaskStore { store }
    }

    /// Record a new task, and mark its host alive.
    pub async fn create(&self, record: &TaskRecord) -> Result<(), StateError> {
        self.put(record).await?;
        let index = format!("{}{}", owner_prefix(&record.owner), record.id);
        self.store
            .set(
                TASKS,
                &index,
                b"",
                Some(Duration::from_millis(record.running_ttl_ms)),
            )
            .await?;
        self.heartbeat(&record.id).await
    }

    /// Write `record` (only the host running the task does).
    pub async fn put(&self, record: &TaskRecord) -> Result<(), StateError> {
        let bytes = serde_json::to_vec(record).map_err(|e| StateError::Backend(e.to_string()))?;
        self.store
            .set(
                TASKS,
                &record_key(&record.id),
                &bytes,
                Some(record.keep_for()),
            )
            .await
    }

    /// Renew the mark that says the task's host runs it.
    pub async fn heartbeat(&self, id: &str) -> Result<(), StateError> {
        self.store
            .set(TASKS, &format!("alive:{id}"), b"", Some(ALIVE_FOR))
            .await
    }

    /// The task has finished: its host no longer runs it.
    pub async fn finished(&self, id: &str) -> Result<(), StateError> {
        self.store
            .delete(TASKS, &format!("alive:{id}"))
            .await
            .map(drop)
    }

    async fn read(&self, id: &str) -> Result<Option<TaskRecord>, StateError> {
        let Some(bytes) = self.store.get(TASKS, &record_key(id)).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StateError::Backend(format!("task record `{id}`: {e}")))
    }

    /// Task `id` as `owner` may see it: `None` when there is no such task
    /// (it never was, it expired, or it belongs to someone else). An
    /// unfinished task whose host stopped is reported failed.
    pub async fn get(&self, id: &str, owner: &str) -> Result<Option<TaskRecord>, StateError> {
        if !is_valid_id(id) {
            return Ok(None);
        }
        let Some(record) = self.read(id).await?.filter(|r| r.owner == owner) else {
            return Ok(None);
        };
        if record.status.is_terminal()
            || self
                .store
                .get(TASKS, &format!("alive:{id}"))
                .await?
                .is_some()
        {
            return Ok(Some(record));
        }
        // The mark lapsed: read again, in case the task finished between.
        let Some(record) = self.read(id).await? else {
            return Ok(None);
        };
        if record.status.is_terminal() {
            return Ok(Some(record));
        }
        Ok(Some(record.moved(
            TaskStatus::Failed,
            None,
            Some("the host running this task stopped before it finished".into()),
        )))
    }

    /// The tasks `owner` may see, newest first (at most
    /// [`MAX_LISTED_KEYS`]).
    pub async fn list(&self, owner: &str) -> Result<Vec<TaskRecord>, StateError> {
        let prefix = owner_prefix(owner);
        let keys = self
            .store
            .list_keys(TASKS, &prefix, MAX_LISTED_KEYS)
            .await?;
        let mut records = Vec::new();
        for key in keys {
            if let Some(record) = self.get(&key[prefix.len()..], owner).await? {
                records.push(record);
            }
        }
        records.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then(a.id.cmp(&b.id)));
        Ok(records)
    }

    /// Ask the host running task `id` to stop it.
    pub async fn request_cancel(&self, record: &TaskRecord) -> Result<(), StateError> {
        self.store
            .set(
                TASKS,
                &format!("cancel:{}", record.id),
                b"",
                Some(record.keep_for()),
            )
            .await
    }

    /// Whether someone asked to stop task `id`.
    pub async fn cancel_requested(&self, id: &str) -> Result<bool, StateError> {
        Ok(self
            .store
            .get(TASKS, &format!("cancel:{id}"))
            .await?
            .is_some())
    }

    /// Hand the host running `record` the client's answer to its question
    /// `key`.
    pub async fn answer(
        &self,
        record: &TaskRecord,
        key: &str,
        answer: &Value,
    ) -> Result<(), StateError> {
        let bytes = serde_json::to_vec(answer).map_err(|e| StateError::Backend(e.to_string()))?;
        self.store
            .set(
                TASKS,
                &format!("answer:{}:{key}", record.id),
                &bytes,
                Some(record.keep_for()),
            )
            .await
    }

    /// The answer to question `key` of task `id`, once given (and forget
    /// it).
    pub async fn take_answer(&self, id: &str, key: &str) -> Result<Option<Value>, StateError> {
        let name = format!("answer:{id}:{key}");
        let Some(bytes) = self.store.get(TASKS, &name).await? else {
            return Ok(None);
        };
        self.store.delete(TASKS, &name).await?;
        Ok(Some(serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
    }
}

/// A fresh task id: 128 random bits as 32 hex digits.
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    // An id nobody can guess is what keeps tasks apart where there are no
    // principals: no randomness, no task.
    getrandom::fill(&mut bytes).expect("the system's random source failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `id` has the shape of an id this host makes.
pub fn is_valid_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store() -> TaskStore {
        TaskStore::new(crate::state::in_memory())
    }

    fn record(owner: &str) -> TaskRecord {
        TaskRecord::new(
            owner,
            "hello",
            "countdown",
            Duration::from_secs(60),
            Duration::from_secs(60),
        )
    }

    #[tokio::test]
    async fn a_task_is_seen_only_by_its_owner() {
        let tasks = store();
        let mine = record("alice");
        tasks.create(&mine).await.unwrap();
        assert_eq!(
            tasks.get(&mine.id, "alice").await.unwrap(),
            Some(mine.clone())
        );
        assert_eq!(tasks.get(&mine.id, "bob").await.unwrap(), None);
        assert_eq!(tasks.get(&mine.id, "").await.unwrap(), None);
        assert_eq!(tasks.list("bob").await.unwrap(), vec![]);
        assert_eq!(tasks.list("alice").await.unwrap(), vec![mine]);
    }

    #[tokio::test]
    async fn ids_are_random_and_malformed_ids_are_unknown() {
        let a = new_id();
        assert!(is_valid_id(&a));
        assert_ne!(a, new_id());
        let tasks = store();
        for id in [
            "",
            "../task",
            "TASK",
            &"f".repeat(33),
            "0123456789abcdef0123456789abcdeg",
        ] {
            assert_eq!(tasks.get(id, "").await.unwrap(), None, "{id}");
        }
    }

    #[tokio::test]
    async fn an_owner_prefix_is_not_anothers() {
        let tasks = store();
        let short = record("a");
        let long = record("ab");
        tasks.create(&short).await.unwrap();
        tasks.create(&long).await.unwrap();
        assert_eq!(tasks.list("a").await.unwrap(), vec![short]);
    }

    #[tokio::test]
    async fn an_unfinished_task_whose_host_stopped_is_failed() {
        let tasks = store();
        let running = record("");
        tasks.create(&running).await.unwrap();
        tasks.finished(&running.id).await.unwrap(); // the mark lapses
        let seen = tasks.get(&running.id, "").await.unwrap().unwrap();
        assert_eq!(seen.status, TaskStatus::Failed);
        assert!(seen.message.unwrap().contains("stopped"));
        // A finished one stays as it finished.
        let done = running.moved(TaskStatus::Completed, Some(json!({"ok": true})), None);
        tasks.put(&done).await.unwrap();
        assert_eq!(tasks.get(&running.id, "").await.unwrap(), Some(done));
    }

    #[tokio::test]
    async fn a_finished_task_expires_after_its_time_to_live() {
        let tasks = store();
        let mut short = record("");
        short.ttl_ms = 50;
        tasks.create(&short).await.unwrap();
        let done = short.moved(TaskStatus::Completed, Some(json!({})), None);
        tasks.put(&done).await.unwrap();
        assert!(tasks.get(&short.id, "").await.unwrap().is_some());
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(tasks.get(&short.id, "").await.unwrap(), None);
    }

    #[tokio::test]
    async fn cancels_and_answers_reach_the_running_host() {
        let tasks = store();
        let running = record("");
        tasks.create(&running).await.unwrap();
        assert!(!tasks.cancel_requested(&running.id).await.unwrap());
        tasks
            .answer(&running, "q1", &json!({"action": "accept"}))
            .await
            .unwrap();
        assert_eq!(tasks.take_answer(&running.id, "q2").await.unwrap(), None);
        assert_eq!(
            tasks.take_answer(&running.id, "q1").await.unwrap(),
            Some(json!({"action": "accept"}))
        );
        assert_eq!(tasks.take_answer(&running.id, "q1").await.unwrap(), None);
        tasks.request_cancel(&running).await.unwrap();
        assert!(tasks.cancel_requested(&running.id).await.unwrap());
    }
}

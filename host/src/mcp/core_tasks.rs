//! Tasks in the 2025-11-25 format (core tasks, SEP-1686), which the
//! TypeScript SDK's clients speak, served over the same task records as the
//! tasks extension ([`super::tasks`]).
//!
//! The SDK does not know this format, so messages are rewritten before it
//! parses them ([`rewrite_incoming`], on stdin and on each HTTP body):
//! `initialize`'s `capabilities.tasks` becomes a private extension (beside
//! the tasks extension, so the SDK lets the session use tasks); a
//! `tools/call` asking for a task, `tasks/get` and `tasks/cancel` become
//! methods of the host's own, which [`McpServer::custom_request`] answers in
//! the format the session speaks (`tasks/list` and `tasks/result` reach it
//! as they are). Outgoing, the `initialize` result gains
//! `capabilities.tasks` and each tool in a `tools/list` result that may run
//! as a task its `execution.taskSupport` ([`rewrite_outgoing`]). `tasks/result` waits for the
//! outcome, putting the task's questions to the client as requests tagged
//! with the task (`io.modelcontextprotocol/related-task`) and handing the
//! answers to the task.

use std::sync::LazyLock;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CancelTaskParams, CreateMessageRequest,
    CreateMessageRequestParams, CustomRequest, CustomResult, ElicitRequest, ElicitRequestParams,
    GetTaskParams, InputResponses, ListRootsRequest, PaginatedRequestParams, ServerRequest,
    TASKS_EXTENSION_ID, UpdateTaskParams,
};
use rmcp::model::{CustomNotification, ServerNotification};
use rmcp::service::{Peer, RequestContext};
use rmcp::{ErrorData as McpError, RoleServer};
use serde_json::{Map, Value, json};

use super::McpServer;
use super::tasks::TaskAsk;
use crate::tasks::{TaskRecord, TaskStatus};
use crate::tool::TaskSupport;

/// Where the rewrite keeps a client's `capabilities.tasks`: a session
/// whose `initialize` has it speaks core tasks.
pub(super) const CORE_TASKS_KEY: &str = "mcp-wasm-host/core-tasks";

/// The `_meta` key naming the task a message belongs to.
const RELATED_TASK: &str = "io.modelcontextprotocol/related-task";

/// The notification telling a session its task's status changed.
const STATUS_NOTIFICATION: &str = "notifications/tasks/status";

/// The most tasks one `tasks/list` page holds.
const LIST_PAGE: usize = 100;

/// `message` with the core-task fields the SDK would drop moved where it
/// keeps them; `None` when there is nothing to move (or it is not JSON).
pub(super) fn rewrite_incoming(message: &[u8]) -> Option<Vec<u8>> {
    // Most messages say nothing of tasks: leave them unparsed.
    // (`"task` finds both `"task"` and `"tasks…"`, with memchr's search,
    // built once, rather than a byte-by-byte one: arguments may be
    // megabytes.)
    static TASK_MARK: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(b"\"task"));
    TASK_MARK.find(message)?;
    let mut value: Value = serde_json::from_slice(message).ok()?;
    let object = value.as_object_mut()?;
    let method = object.get("method")?.as_str()?.to_string();
    let renamed = match method.as_str() {
        "initialize" => {
            let capabilities = object
                .get_mut("params")?
                .get_mut("capabilities")?
                .as_object_mut()?;
            let tasks = capabilities.remove("tasks")?;
            let extensions = capabilities
                .entry("extensions")
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()?;
            // A client that declares the tasks extension itself speaks it.
            if !extensions.contains_key(TASKS_EXTENSION_ID) {
                extensions.insert(CORE_TASKS_KEY.into(), tasks);
                extensions.insert(TASKS_EXTENSION_ID.into(), json!({}));
            }
            None
        }
        "tools/call"
            if object
                .get("params")?
                .get("task")
                .is_some_and(Value::is_object) =>
        {
            Some(CALL_AS_TASK)
        }
        // Core tasks are of the handshake era: a 2026-07-28 request (its
        // version in `_meta`) speaks the extension and stays as it is.
        "tasks/get" | "tasks/cancel" if is_modern(object) => return None,
        "tasks/get" => Some(GET_TASK),
        "tasks/cancel" => Some(CANCEL_TASK),
        _ => return None,
    };
    if let Some(renamed) = renamed {
        object.insert("method".into(), json!(renamed));
    }
    serde_json::to_vec(&value).ok()
}

/// Whether a request carries its protocol version in `_meta`, as every
/// 2026-07-28 request does.
fn is_modern(request: &Map<String, Value>) -> bool {
    request
        .get("params")
        .and_then(|p| p.get("_meta"))
        .is_some_and(|m| m.get("io.modelcontextprotocol/protocolVersion").is_some())
}

/// The tasks capability of the core format.
fn tasks_capability() -> Value {
    json!({"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}})
}

/// The `_meta` key in which a tool descriptor carries its task support
/// (`optional` or `required`) until [`rewrite_outgoing`] moves it to
/// `execution.taskSupport`, which the SDK's descriptor lacks.
pub(super) const TASK_SUPPORT_MARK: &str = "mcp-wasm-host/taskSupport";

/// `message` with what the SDK cannot write put in: `capabilities.tasks` in
/// the result of a handshake-era `initialize`, and `execution.taskSupport`
/// in each tool of a `tools/list` result that carries the mark. `None` when
/// nothing changed, which is decided without parsing for any other message.
pub(super) fn rewrite_outgoing(message: &[u8]) -> Option<Vec<u8>> {
    // Every answer passes here: the searchers are built once.
    static SERVER_INFO: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(b"\"serverInfo\""));
    static SUPPORT_MARK: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(TASK_SUPPORT_MARK.as_bytes()));
    let initialize = SERVER_INFO.find(message).is_some();
    let tools = SUPPORT_MARK.find(message).is_some();
    if !initialize && !tools {
        return None;
    }
    let mut value: Value = serde_json::from_slice(message).ok()?;
    let result = value.get_mut("result")?.as_object_mut()?;
    let changed =
        (initialize && add_tasks_capability(result)) | (tools && move_task_support(result));
    if !changed {
        return None;
    }
    serde_json::to_vec(&value).ok()
}

/// Add `capabilities.tasks` to an `initialize` result; whether it is one.
fn add_tasks_capability(result: &mut Map<String, Value>) -> bool {
    if !result.get("protocolVersion").is_some_and(Value::is_string)
        || !result.contains_key("serverInfo")
    {
        return false;
    }
    let Some(capabilities) = result
        .get_mut("capabilities")
        .and_then(Value::as_object_mut)
    else {
        return false;
    };
    capabilities.insert("tasks".into(), tasks_capability());
    true
}

/// Move each listed tool's marked task support to `execution.taskSupport`;
/// whether any was.
fn move_task_support(result: &mut Map<String, Value>) -> bool {
    let Some(tools) = result.get_mut("tools").and_then(Value::as_array_mut) else {
        return false;
    };
    let mut moved = false;
    for tool in tools.iter_mut().filter_map(Value::as_object_mut) {
        let Some(meta) = tool.get_mut("_meta").and_then(Value::as_object_mut) else {
            continue;
        };
        let Some(support) = meta.remove(TASK_SUPPORT_MARK) else {
            continue;
        };
        if meta.is_empty() {
            tool.remove("_meta");
        }
        tool.insert("execution".into(), json!({ "taskSupport": support }));
        moved = true;
    }
    moved
}

/// Whether the session behind `ctx` declared core tasks.
pub(super) fn speaks_core_tasks(ctx: &RequestContext<RoleServer>) -> bool {
    ctx.peer.peer_info().is_some_and(|info| {
        info.capabilities
            .extensions
            .as_ref()
            .is_some_and(|e| e.contains_key(CORE_TASKS_KEY))
    })
}

/// The core `Task` of `record`.
pub(super) fn core_task(record: &TaskRecord) -> Value {
    let mut task = json!({
        "taskId": record.id,
        "status": record.status,
        "createdAt": super::tasks::timestamp(record.created_ms),
        "lastUpdatedAt": super::tasks::timestamp(record.updated_ms),
        "ttl": record.ttl_ms,
        "pollInterval": record.poll_ms,
    });
    if let Some(message) = &record.message {
        task["statusMessage"] = json!(message);
    }
    task
}

/// Tell a 2025-11-25 session its task's status changed
/// (`notifications/tasks/status`, the task as `tasks/get` shows it). A
/// session that has gone only misses the notice.
pub(super) async fn notify_status(peer: &Peer<RoleServer>, record: &TaskRecord) {
    let notice = CustomNotification::new(STATUS_NOTIFICATION, Some(core_task(record)));
    if let Err(e) = peer
        .send_notification(ServerNotification::CustomNotification(notice))
        .await
    {
        tracing::debug!(task = record.id, "cannot send the task's status: {e}");
    }
}

fn related(id: &str) -> Value {
    json!({RELATED_TASK: {"taskId": id}})
}

/// The core decision for a tool declared `support`: a task when the
/// request asks for one, which a tool that is `forbidden` refuses and a
/// `required` one insists on.
pub(super) fn decide(support: TaskSupport, asked: bool, tool: &str) -> Result<bool, McpError> {
    match (support, asked) {
        (TaskSupport::Forbidden, true) => Err(McpError::new(
            rmcp::model::ErrorCode::METHOD_NOT_FOUND,
            format!("tool `{tool}` does not run as a task (execution.taskSupport is forbidden)"),
            None,
        )),
        (TaskSupport::Required, false) => Err(McpError::invalid_request(
            format!("tool `{tool}` runs only as a task: call it with `task`"),
            None,
        )),
        (_, asked) => Ok(asked),
    }
}

/// The host's own names for requests it answers in the session's tasks
/// format: a `tools/call` asking for a task, `tasks/get`, `tasks/cancel`.
pub(super) const CALL_AS_TASK: &str = "mcp-wasm-host/tools/call-as-task";
pub(super) const GET_TASK: &str = "mcp-wasm-host/tasks/get";
pub(super) const CANCEL_TASK: &str = "mcp-wasm-host/tasks/cancel";

/// The wire method a request renamed by the rewrite came as.
pub(super) fn wire_method(method: &str) -> &str {
    match method {
        CALL_AS_TASK => "tools/call",
        GET_TASK => "tasks/get",
        CANCEL_TASK => "tasks/cancel",
        other => other,
    }
}

fn custom(value: Value) -> CustomResult {
    CustomResult::new(value)
}

fn task_id_of(request: &CustomRequest) -> Result<String, McpError> {
    request
        .params
        .as_ref()
        .and_then(|p| p.get("taskId"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| {
            McpError::invalid_params(
                format!("{} needs `taskId`", wire_method(&request.method)),
                None,
            )
        })
}

impl McpServer {
    /// Requests outside what the SDK types: the renamed task requests, and
    /// `tasks/list` and `tasks/result` of the core format.
    pub(super) async fn custom_request(
        &self,
        request: CustomRequest,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CustomResult, McpError> {
        let core = speaks_core_tasks(&ctx);
        let declared = ctx
            .client_capabilities()
            .is_some_and(|caps| caps.supports_tasks());
        let method = request.method.as_str();
        let is_task_method = matches!(
            method,
            GET_TASK | CANCEL_TASK | "tasks/list" | "tasks/result"
        );
        if is_task_method && !declared {
            return Err(McpError::missing_required_client_capability(
                rmcp::model::ClientCapabilities::builder()
                    .enable_tasks()
                    .build(),
            ));
        }
        match method {
            CALL_AS_TASK => self.call_as_task(request, ctx).await,
            GET_TASK => {
                let id = task_id_of(&request)?;
                if core {
                    let (_, record) = self.owned_task(&id, &ctx).await?;
                    Ok(custom(core_task(&record)))
                } else {
                    let result = self.task_get(GetTaskParams::new(id), ctx).await?;
                    serde_json::to_value(result)
                        .map(custom)
                        .map_err(|e| McpError::internal_error(e.to_string(), None))
                }
            }
            CANCEL_TASK => {
                let id = task_id_of(&request)?;
                self.task_cancel(CancelTaskParams::new(id.clone()), ctx.clone())
                    .await?;
                if core {
                    let stopped = self
                        .wait_while(&id, &ctx, |s| !s.is_terminal(), Duration::from_secs(5))
                        .await?;
                    Ok(custom(core_task(&stopped)))
                } else {
                    Ok(custom(json!({"resultType": "complete"})))
                }
            }
            "tasks/list" if core => self.list_tasks(&request, &ctx).await,
            "tasks/result" if core => self.task_result(&request, ctx).await,
            other => Err(McpError::new(
                rmcp::model::ErrorCode::METHOD_NOT_FOUND,
                format!("method not found: {}", wire_method(other)),
                None,
            )),
        }
    }

    /// A core `tools/call` with `task`: start the task, answer `{task}` (or
    /// the result, when the call was refused before it started).
    async fn call_as_task(
        &self,
        request: CustomRequest,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CustomResult, McpError> {
        let mut params = request.params.unwrap_or_default();
        let ttl = params
            .as_object_mut()
            .and_then(|p| p.remove("task"))
            .and_then(|t| t.get("ttl").and_then(Value::as_u64));
        let params: CallToolRequestParams = serde_json::from_value(params)
            .map_err(|e| McpError::invalid_params(format!("tools/call: {e}"), None))?;
        match self
            .call_tool_asking(params, ctx.clone(), TaskAsk::Core { ttl })
            .await?
        {
            CallToolResponse::Task(created) => {
                let (_, record) = self.owned_task(&created.task.task_id, &ctx).await?;
                Ok(custom(json!({"task": core_task(&record)})))
            }
            CallToolResponse::Complete(result) => serde_json::to_value(result)
                .map(custom)
                .map_err(|e| McpError::internal_error(e.to_string(), None)),
            other => Err(McpError::internal_error(
                format!("a task-augmented call came to {other:?}"),
                None,
            )),
        }
    }

    /// Poll task `id` while `waiting(status)` holds (at most `limit`, and
    /// no longer than the request lives).
    async fn wait_while(
        &self,
        id: &str,
        ctx: &RequestContext<RoleServer>,
        waiting: impl Fn(TaskStatus) -> bool,
        limit: Duration,
    ) -> Result<TaskRecord, McpError> {
        let started = tokio::time::Instant::now();
        loop {
            let (_, record) = self.owned_task(id, ctx).await?;
            if !waiting(record.status) || started.elapsed() >= limit || ctx.ct.is_cancelled() {
                return Ok(record);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn list_tasks(
        &self,
        request: &CustomRequest,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<CustomResult, McpError> {
        let records = self.owned_tasks(ctx).await?;
        let cursor = request
            .params
            .as_ref()
            .and_then(|p| p.get("cursor"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let request = cursor.map(|c| PaginatedRequestParams::default().with_cursor(Some(c)));
        let (page, next) = super::server::page(&records, request, LIST_PAGE)?;
        let mut listed = json!({"tasks": page.iter().map(core_task).collect::<Vec<_>>()});
        if let Some(next) = next {
            listed["nextCursor"] = json!(next);
        }
        Ok(custom(listed))
    }

    /// `tasks/result`: wait for the outcome, asking the client what the
    /// task asks meanwhile.
    async fn task_result(
        &self,
        request: &CustomRequest,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CustomResult, McpError> {
        let id = task_id_of(request)?;
        loop {
            let record = self
                .wait_while(
                    &id,
                    &ctx,
                    |s| s == TaskStatus::Working,
                    Duration::from_secs(24 * 3600),
                )
                .await?;
            if ctx.ct.is_cancelled() {
                return Err(McpError::internal_error("the request was cancelled", None));
            }
            match record.status {
                TaskStatus::Completed => {
                    let mut result = record.payload.clone().unwrap_or_else(|| json!({}));
                    if let Some(object) = result.as_object_mut() {
                        let meta = object
                            .entry("_meta")
                            .or_insert_with(|| Value::Object(Map::new()));
                        if let (Some(meta), Value::Object(tag)) =
                            (meta.as_object_mut(), related(&id))
                        {
                            meta.extend(tag);
                        }
                    }
                    return Ok(custom(result));
                }
                TaskStatus::Failed => {
                    let error = record.payload.clone().unwrap_or_default();
                    return Err(McpError::internal_error(
                        error
                            .get("message")
                            .and_then(Value::as_str)
                            .or(record.message.as_deref())
                            .unwrap_or("the task failed")
                            .to_string(),
                        Some(related(&id)),
                    ));
                }
                TaskStatus::Cancelled => {
                    return Err(McpError::internal_error(
                        format!("task `{id}` was cancelled"),
                        Some(related(&id)),
                    ));
                }
                TaskStatus::InputRequired => self.ask_client(&record, &ctx).await?,
                TaskStatus::Working => {}
            }
        }
    }

    /// Put the questions task `record` waits on to the client, and hand the
    /// task the answers.
    async fn ask_client(
        &self,
        record: &TaskRecord,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let Some(Value::Object(questions)) = &record.payload else {
            return Ok(());
        };
        let mut answers = InputResponses::new();
        for (key, question) in questions {
            let request = server_request(question, &record.id)?;
            let answer = ctx.peer.send_request(request).await.map_err(|e| {
                McpError::internal_error(format!("the client did not answer: {e}"), None)
            })?;
            let answer = serde_json::to_value(answer)
                .and_then(serde_json::from_value)
                .map_err(|e| McpError::internal_error(e.to_string(), None))?;
            answers.insert(key.clone(), answer);
        }
        self.task_update(
            UpdateTaskParams::new(record.id.clone(), answers),
            ctx.clone(),
        )
        .await?;
        // Let the task take the answers before looking again.
        self.wait_while(
            &record.id,
            ctx,
            |s| s == TaskStatus::InputRequired,
            Duration::from_secs(10),
        )
        .await
        .map(drop)
    }
}

/// The request for the client that `question` (an `inputRequests` entry)
/// describes, tagged with task `id`.
fn server_request(question: &Value, id: &str) -> Result<ServerRequest, McpError> {
    let method = question
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut params = question.get("params").cloned().unwrap_or_else(|| json!({}));
    if let Some(object) = params.as_object_mut() {
        object.insert("_meta".into(), related(id));
    }
    let invalid = |e: serde_json::Error| McpError::internal_error(format!("`{method}`: {e}"), None);
    Ok(match method {
        "elicitation/create" => ServerRequest::ElicitRequest(ElicitRequest::new(
            serde_json::from_value::<ElicitRequestParams>(params).map_err(invalid)?,
        )),
        "sampling/createMessage" => ServerRequest::CreateMessageRequest(CreateMessageRequest::new(
            serde_json::from_value::<CreateMessageRequestParams>(params).map_err(invalid)?,
        )),
        "roots/list" => ServerRequest::ListRootsRequest(ListRootsRequest::default()),
        other => {
            return Err(McpError::internal_error(
                format!("the task asks `{other}`, which cannot be put to the client"),
                None,
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(message: Value) -> Value {
        serde_json::from_slice(&rewrite_incoming(&serde_json::to_vec(&message).unwrap()).unwrap())
            .unwrap()
    }

    #[test]
    fn core_fields_move_where_the_sdk_keeps_them() {
        let init = rewritten(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {"tasks": {"list": {}}},
                       "clientInfo": {"name": "c", "version": "1"}}}));
        let extensions = &init["params"]["capabilities"]["extensions"];
        assert_eq!(extensions[CORE_TASKS_KEY], json!({"list": {}}));
        assert_eq!(extensions[TASKS_EXTENSION_ID], json!({}));
        assert!(init["params"]["capabilities"].get("tasks").is_none());

        let call = rewritten(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "countdown", "arguments": {}, "task": {"ttl": 5000}}}));
        assert_eq!(call["method"], CALL_AS_TASK);
        assert_eq!(call["params"]["task"], json!({"ttl": 5000}));
        for (wire, ours) in [("tasks/get", GET_TASK), ("tasks/cancel", CANCEL_TASK)] {
            let renamed = rewritten(json!({"jsonrpc": "2.0", "id": 3, "method": wire,
                "params": {"taskId": "x"}}));
            assert_eq!(renamed["method"], ours);
            assert_eq!(wire_method(ours), wire);
            let modern = json!({"jsonrpc": "2.0", "id": 4, "method": wire, "params": {"taskId": "x",
                "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}});
            assert_eq!(
                rewrite_incoming(&serde_json::to_vec(&modern).unwrap()),
                None
            );
        }
    }

    #[test]
    fn a_client_declaring_the_extension_keeps_it() {
        let init = rewritten(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {"tasks": {},
                "extensions": {TASKS_EXTENSION_ID: {}}}, "clientInfo": {"name": "c", "version": "1"}}}));
        assert!(
            init["params"]["capabilities"]["extensions"]
                .get(CORE_TASKS_KEY)
                .is_none()
        );
    }

    #[test]
    fn other_messages_are_left_alone() {
        for message in [
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "task"}}),
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                   "params": {"name": "a", "arguments": {"task": 1}}}),
            json!({"jsonrpc": "2.0", "id": 1, "result": {"tasks": []}}),
        ] {
            assert_eq!(
                rewrite_incoming(&serde_json::to_vec(&message).unwrap()),
                None
            );
        }
        assert_eq!(rewrite_incoming(b"\"tasks not json"), None);
    }

    #[test]
    fn the_initialize_result_names_the_tasks_capability() {
        let result = json!({"jsonrpc": "2.0", "id": 1, "result": {"protocolVersion": "2025-11-25",
            "capabilities": {"tools": {}}, "serverInfo": {"name": "h", "version": "1"}}});
        let out: Value = serde_json::from_slice(
            &rewrite_outgoing(&serde_json::to_vec(&result).unwrap()).unwrap(),
        )
        .unwrap();
        assert_eq!(out["result"]["capabilities"]["tasks"], tasks_capability());
        let other = json!({"jsonrpc": "2.0", "id": 2, "result": {"content": []}});
        assert_eq!(rewrite_outgoing(&serde_json::to_vec(&other).unwrap()), None);
    }

    #[test]
    fn listed_tools_carry_their_task_support_in_execution() {
        let list = json!({"jsonrpc": "2.0", "id": 3, "result": {"tools": [
            {"name": "countdown", "inputSchema": {}, "_meta": {TASK_SUPPORT_MARK: "optional"}},
            {"name": "slow", "inputSchema": {},
             "_meta": {TASK_SUPPORT_MARK: "required", "other": 1}},
            {"name": "add", "inputSchema": {}},
        ]}});
        let out: Value =
            serde_json::from_slice(&rewrite_outgoing(&serde_json::to_vec(&list).unwrap()).unwrap())
                .unwrap();
        let tools = &out["result"]["tools"];
        assert_eq!(tools[0]["execution"], json!({"taskSupport": "optional"}));
        assert!(tools[0].get("_meta").is_none());
        assert_eq!(tools[1]["execution"], json!({"taskSupport": "required"}));
        assert_eq!(tools[1]["_meta"], json!({"other": 1}));
        assert!(tools[2].get("execution").is_none());
    }

    #[test]
    fn a_tool_result_naming_the_mark_is_not_rewritten() {
        // A guest's own output may contain the mark's text: only a
        // `tools/list` result's descriptors move.
        let result = json!({"jsonrpc": "2.0", "id": 4, "result": {
            "content": [{"type": "text", "text": TASK_SUPPORT_MARK}],
            "structuredContent": {"tools": [{"_meta": {TASK_SUPPORT_MARK: "x"}}]}}});
        assert_eq!(
            rewrite_outgoing(&serde_json::to_vec(&result).unwrap()),
            None
        );
    }
}

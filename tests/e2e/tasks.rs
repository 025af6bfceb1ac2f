//! Tool calls as MCP tasks (the `io.modelcontextprotocol/tasks` extension):
//! created, polled and completed in both eras over both transports; a
//! question to the client moves a task to `input_required` until
//! `tasks/update` answers it; `tasks/cancel` stops the guest; outcomes
//! expire with their time to live and survive a restart; a task belongs to
//! its principal; a task fails at its own time limit and is refused beyond
//! its caller's or its plugin's share; and a request without the extension
//! gets an ordinary result (or -32021 from a tool that runs only as a task).

use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolResponse, CancelTaskParams, GetTaskParams, GetTaskResult, InputResponses, TaskPayload,
    TaskStatus, UpdateTaskParams,
};
use serde_json::{Value, json};

use super::support::*;

/// A client declaring the tasks extension (and elicitation).
fn task_client(era: Era, transport: Transport) -> HostOptions {
    HostOptions::new(era, transport).script(ClientScript::capable([]).with_tasks())
}

/// Call `tool` expecting a task: its id.
async fn start(host: &Connected, tool: &str, arguments: Value) -> String {
    match host
        .client
        .call_tool_once(params(tool, arguments))
        .await
        .unwrap()
    {
        CallToolResponse::Task(created) => {
            assert_eq!(created.task.status, TaskStatus::Working);
            assert!(created.task.poll_interval_ms.is_some());
            created.task.task_id
        }
        other => panic!("expected a task, got {other:?}"),
    }
}

async fn get(host: &Connected, id: &str) -> GetTaskResult {
    host.client
        .get_task(GetTaskParams::new(id))
        .await
        .unwrap_or_else(|e| panic!("tasks/get {id}: {e}"))
}

/// Poll task `id` until its status is `wanted` (at most 30 s).
async fn until(host: &Connected, id: &str, wanted: TaskStatus) -> GetTaskResult {
    let started = Instant::now();
    loop {
        let task = get(host, id).await;
        if task.task.status() == wanted {
            return task;
        }
        assert!(
            !task.task.status().is_terminal() && started.elapsed() < Duration::from_secs(30),
            "task {id} is {:?}, waiting for {wanted:?}: {task:?}",
            task.task.status()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The text of a completed task's result.
fn result_text(task: &GetTaskResult) -> String {
    match &task.task.payload {
        TaskPayload::Completed { result } => result["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        other => panic!("not completed: {other:?}"),
    }
}

#[tokio::test]
async fn a_task_is_created_polled_and_completed_in_every_era_and_transport() {
    for_each_combination(|era, transport| async move {
        let dir = PluginDir::with(&["hello"], &[]);
        let host = Connected::start(&dir, task_client(era, transport))
            .await
            .unwrap();
        let id = start(&host, "countdown", json!({"seconds": 1, "step_ms": 100})).await;
        assert_eq!(id.len(), 32, "{id}");
        let done = until(&host, &id, TaskStatus::Completed).await;
        assert_eq!(result_text(&done), "done after 10 steps");
        assert!(done.task.task.ttl_ms.is_some());
        // Polling again gives the same outcome.
        assert_eq!(result_text(&get(&host, &id).await), "done after 10 steps");
        host.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_request_without_the_extension_gets_an_ordinary_result() {
    for_each_combination(|era, transport| async move {
        let dir = PluginDir::with(&["hello"], &[]);
        let host = Connected::start(&dir, HostOptions::new(era, transport))
            .await
            .unwrap();
        let result = host.call_ok("countdown", json!({"seconds": 0})).await;
        assert_eq!(text_of(&result), "done after 0 steps");
        // And the task methods are refused for want of the extension.
        let refused = host
            .client
            .get_task(GetTaskParams::new("0".repeat(32)))
            .await
            .unwrap_err();
        assert_eq!(
            protocol_error(&refused).map(|e| e.0),
            Some(-32021),
            "{refused}"
        );
        host.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_tool_the_policy_runs_only_as_a_task_refuses_a_request_without_the_extension() {
    let dir = PluginDir::with(&["hello"], &[]);
    let options = HostOptions::new(Era::Modern, Transport::Stdio).policy(
        &dir,
        "[[rule]]\nplugins = \"hello\"\ntasks = \"required\"\n",
    );
    let host = Connected::start(&dir, options).await.unwrap();
    let error = host.call("add", json!({"a": 1, "b": 2})).await.unwrap_err();
    assert_eq!(protocol_error(&error).map(|e| e.0), Some(-32021), "{error}");
    host.shutdown().await;
    // With the extension, even `add` (declared forbidden) runs as a task.
    let dir = PluginDir::with(&["hello"], &[]);
    let options = task_client(Era::Modern, Transport::Stdio).policy(
        &dir,
        "[[rule]]\nplugins = \"hello\"\ntasks = \"required\"\n",
    );
    let host = Connected::start(&dir, options).await.unwrap();
    let id = start(&host, "add", json!({"a": 1, "b": 2})).await;
    let done = until(&host, &id, TaskStatus::Completed).await;
    assert!(result_text(&done).contains('3'), "{done:?}");
    host.shutdown().await;
}

#[tokio::test]
async fn a_task_waits_for_input_and_completes_when_answered() {
    for (era, transport) in [
        (Era::Modern, Transport::Http),
        (Era::Handshake, Transport::Stdio),
    ] {
        let dir = PluginDir::with(&[], &["facade"]);
        let options = task_client(era, transport).policy(
            &dir,
            "[[rule]]\nplugins = \"facade\"\ntasks = \"optional\"\n",
        );
        let host = Connected::start(&dir, options).await.unwrap();
        let id = start(&host, "elicit_name", json!({})).await;
        let waiting = until(&host, &id, TaskStatus::InputRequired).await;
        let TaskPayload::InputRequired { input_requests } = &waiting.task.payload else {
            panic!("{waiting:?}");
        };
        assert_eq!(input_requests.len(), 1, "{input_requests:?}");
        let (key, asked) = input_requests.iter().next().unwrap();
        let asked = serde_json::to_value(asked).unwrap();
        assert_eq!(asked["method"], "elicitation/create", "{asked}");
        // The client was not asked directly: the question waits in the task.
        assert!(host.received.lock().unwrap().elicitations.is_empty());
        // An answer to a question not asked is refused.
        let mut wrong = InputResponses::new();
        wrong.insert(
            "nope".into(),
            serde_json::from_value(json!({"action": "accept", "content": {"name": "Eve"}}))
                .unwrap(),
        );
        let refused = host
            .client
            .update_task(UpdateTaskParams::new(id.clone(), wrong))
            .await
            .unwrap_err();
        assert_eq!(
            protocol_error(&refused).map(|e| e.0),
            Some(-32602),
            "{refused}"
        );
        let mut answers = InputResponses::new();
        answers.insert(
            key.clone(),
            serde_json::from_value(json!({"action": "accept", "content": {"name": "Ada"}}))
                .unwrap(),
        );
        host.client
            .update_task(UpdateTaskParams::new(id.clone(), answers))
            .await
            .unwrap();
        let done = until(&host, &id, TaskStatus::Completed).await;
        assert!(result_text(&done).contains("Ada"), "{done:?}");
        host.shutdown().await;
    }
}

#[tokio::test]
async fn cancelling_a_task_stops_its_guest() {
    for (era, transport) in [
        (Era::Handshake, Transport::Http),
        (Era::Modern, Transport::Stdio),
    ] {
        let dir = PluginDir::with(&["hello"], &[]);
        let host = Connected::start(&dir, task_client(era, transport))
            .await
            .unwrap();
        let id = start(&host, "countdown", json!({"seconds": 60, "step_ms": 100})).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        host.client
            .cancel_task(CancelTaskParams::new(id.clone()))
            .await
            .unwrap();
        let cancelled = until(&host, &id, TaskStatus::Cancelled).await;
        assert!(matches!(cancelled.task.payload, TaskPayload::Cancelled));
        // A finished task cannot be cancelled again.
        let again = host
            .client
            .cancel_task(CancelTaskParams::new(id.clone()))
            .await
            .unwrap_err();
        assert_eq!(protocol_error(&again).map(|e| e.0), Some(-32602), "{again}");
        // The guest stopped: the host takes the next call at once.
        let result = host.call_ok("add", json!({"a": 2, "b": 2})).await;
        assert!(text_of(&result).contains('4'));
        if let Some(url) = &host.url {
            // The task's end is counted just after its status is written.
            let metrics = wait_for_metrics(url, &[], "the task's end to be counted", |text| {
                let sample = |series: &str| metric_sample(text, series);
                (
                    sample("mcp_wasm_host_tasks_ended_total{status=\"cancelled\"}"),
                    sample("mcp_wasm_host_tasks_running"),
                    sample("mcp_wasm_host_tool_calls_in_flight"),
                ) == (Some(1.0), Some(0.0), Some(0.0))
            })
            .await;
            assert_eq!(
                metric_sample(&metrics, "mcp_wasm_host_tasks_started_total"),
                Some(1.0),
                "{metrics}"
            );
        }
        host.shutdown().await;
    }
}

#[tokio::test]
async fn a_finished_task_expires_after_its_time_to_live() {
    let dir = PluginDir::with(&["hello"], &[]);
    let options = task_client(Era::Modern, Transport::Stdio).arg("--task-ttl-ms=400");
    let host = Connected::start(&dir, options).await.unwrap();
    let id = start(&host, "countdown", json!({"seconds": 0})).await;
    until(&host, &id, TaskStatus::Completed).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let gone = host
        .client
        .get_task(GetTaskParams::new(id.clone()))
        .await
        .unwrap_err();
    assert_eq!(protocol_error(&gone).map(|e| e.0), Some(-32602), "{gone}");
    host.shutdown().await;
}

#[tokio::test]
async fn a_finished_task_survives_a_restart_and_an_interrupted_one_is_failed() {
    let dir = PluginDir::with(&["hello"], &[]);
    let data = tempfile_dir("tasks-restart");
    let options = || {
        task_client(Era::Modern, Transport::Stdio)
            .arg("--data-dir")
            .arg(data.to_str().unwrap())
    };
    let host = Connected::start(&dir, options()).await.unwrap();
    let finished = start(&host, "countdown", json!({"seconds": 0})).await;
    until(&host, &finished, TaskStatus::Completed).await;
    let interrupted = start(&host, "countdown", json!({"seconds": 600, "step_ms": 1000})).await;
    until(&host, &interrupted, TaskStatus::Working).await;
    host.shutdown().await;

    let host = Connected::start(&dir, options()).await.unwrap();
    let done = get(&host, &finished).await;
    assert_eq!(result_text(&done), "done after 0 steps");
    // The host that ran it stopped: once its mark lapses, the task failed.
    let failed = until(&host, &interrupted, TaskStatus::Failed).await;
    assert!(
        failed
            .task
            .task
            .status_message
            .as_deref()
            .is_some_and(|m| m.contains("stopped")),
        "{failed:?}"
    );
    host.shutdown().await;
}

/// A fresh directory under the build's target directory.
fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let dir = repo_root().join("target").join("e2e-data").join(format!(
        "{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A second client of the host at `url`, as the bearer of `token`.
async fn another_client(
    url: &str,
    token: &str,
) -> rmcp::service::RunningService<rmcp::RoleClient, RecordingClient> {
    use rmcp::service::ClientServiceExt as _;
    let client = RecordingClient {
        script: ClientScript::capable([]).with_tasks(),
        ..RecordingClient::default()
    };
    client
        .serve_with_lifecycle(
            http_client_transport_with(url.to_string(), Some(token)),
            rmcp::service::ClientLifecycleMode::Discover {
                preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn another_principals_task_is_unknown_to_it() {
    let dir = PluginDir::with(&["hello"], &[]);
    let config = PluginDir::empty();
    config.write(
        "auth.toml",
        format!(
            "[[role]]\nname = \"all\"\nplugins = [\"*\"]\n\
             [[principal]]\nid = \"alice\"\nroles = [\"all\"]\ntoken-sha256 = \"{}\"\n\
             [[principal]]\nid = \"mallory\"\nroles = [\"all\"]\ntoken-sha256 = \"{}\"\n",
            token_digest("alice-token"),
            token_digest("mallory-token"),
        ),
    );
    let options = task_client(Era::Modern, Transport::Http)
        .arg("--auth-file")
        .arg(config.path.join("auth.toml").to_str().unwrap())
        .bearer("alice-token");
    let host = Connected::start(&dir, options).await.unwrap();
    let id = start(&host, "countdown", json!({"seconds": 60, "step_ms": 100})).await;
    let mallory = another_client(host.url.as_deref().unwrap(), "mallory-token").await;
    let unknown = |e: rmcp::service::ServiceError| {
        let (code, message) = protocol_error(&e).unwrap();
        assert_eq!(code, -32602, "{message}");
        assert!(message.contains("unknown task"), "{message}");
    };
    unknown(
        mallory
            .get_task(GetTaskParams::new(id.clone()))
            .await
            .unwrap_err(),
    );
    unknown(
        mallory
            .cancel_task(CancelTaskParams::new(id.clone()))
            .await
            .unwrap_err(),
    );
    unknown(
        mallory
            .update_task(UpdateTaskParams::new(id.clone(), InputResponses::new()))
            .await
            .unwrap_err(),
    );
    // Alice's task runs on, untouched.
    assert_eq!(get(&host, &id).await.task.status(), TaskStatus::Working);
    host.client
        .cancel_task(CancelTaskParams::new(id.clone()))
        .await
        .unwrap();
    until(&host, &id, TaskStatus::Cancelled).await;
    let _ = mallory.cancel().await;
    host.shutdown().await;
}

#[tokio::test]
async fn two_replicas_sharing_redis_answer_for_each_others_tasks() {
    let redis = super::state::Redis::start().await;
    let dir = PluginDir::with(&["hello"], &["facade"]);
    let replica = || {
        task_client(Era::Modern, Transport::Http)
            .policy(
                &dir,
                "[[rule]]\nplugins = \"facade\"\ntasks = \"optional\"\n",
            )
            .arg("--state-store")
            .arg("redis")
            .arg("--state-redis-url")
            .arg(&redis.url)
            .arg("--state-redis-prefix")
            .arg("fleet:")
    };
    let a = Connected::start(&dir, replica()).await.unwrap();
    let b = Connected::start(&dir, replica()).await.unwrap();

    // Created on a, completed and read on b.
    let quick = start(&a, "countdown", json!({"seconds": 0})).await;
    assert_eq!(
        result_text(&until(&b, &quick, TaskStatus::Completed).await),
        "done after 0 steps"
    );

    // Created on a, answered on b.
    let asking = start(&a, "elicit_name", json!({})).await;
    let waiting = until(&b, &asking, TaskStatus::InputRequired).await;
    let TaskPayload::InputRequired { input_requests } = &waiting.task.payload else {
        panic!("{waiting:?}");
    };
    let key = input_requests.keys().next().unwrap().clone();
    let mut answers = InputResponses::new();
    answers.insert(
        key,
        serde_json::from_value(json!({"action": "accept", "content": {"name": "Grace"}})).unwrap(),
    );
    b.client
        .update_task(UpdateTaskParams::new(asking.clone(), answers))
        .await
        .unwrap();
    let done = until(&a, &asking, TaskStatus::Completed).await;
    assert!(result_text(&done).contains("Grace"), "{done:?}");

    // Created on a, cancelled on b: a stops it.
    let long = start(&a, "countdown", json!({"seconds": 60, "step_ms": 100})).await;
    until(&b, &long, TaskStatus::Working).await;
    b.client
        .cancel_task(CancelTaskParams::new(long.clone()))
        .await
        .unwrap();
    until(&a, &long, TaskStatus::Cancelled).await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn a_task_fails_at_its_own_time_limit_naming_it() {
    let dir = PluginDir::with(&["hello"], &[]);
    // The policy's ceiling lowers the task limit below the default.
    let options = task_client(Era::Modern, Transport::Stdio).policy(
        &dir,
        "[[rule]]\nplugins = \"hello\"\nmax-task-timeout-ms = 400\n",
    );
    let host = Connected::start(&dir, options).await.unwrap();
    let id = start(&host, "countdown", json!({"seconds": 60, "step_ms": 50})).await;
    let failed = until(&host, &id, TaskStatus::Failed).await;
    let TaskPayload::Failed { error } = &failed.task.payload else {
        panic!("not failed: {failed:?}");
    };
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains("time limit of 400 ms"), "{error:?}");
    host.shutdown().await;
}

#[tokio::test]
async fn tasks_beyond_a_callers_or_a_plugins_share_are_refused_naming_the_share() {
    for (flag, named) in [
        ("--max-tasks-per-principal=1", "--max-tasks-per-principal"),
        ("--max-tasks-per-plugin=1", "--max-tasks-per-plugin"),
    ] {
        let dir = PluginDir::with(&["hello"], &[]);
        let options = task_client(Era::Modern, Transport::Stdio).arg(flag);
        let host = Connected::start(&dir, options).await.unwrap();
        let first = start(&host, "countdown", json!({"seconds": 60, "step_ms": 100})).await;
        let refused = host
            .client
            .call_tool_once(params("countdown", json!({"seconds": 0})))
            .await
            .unwrap();
        let CallToolResponse::Complete(refused) = refused else {
            panic!("{flag}: a second task was started: {refused:?}");
        };
        assert_eq!(refused.is_error, Some(true), "{flag}: {refused:?}");
        assert!(text_of(&refused).contains(named), "{flag}: {refused:?}");
        // Its place is free again once the first has ended.
        host.client
            .cancel_task(CancelTaskParams::new(first.clone()))
            .await
            .unwrap();
        until(&host, &first, TaskStatus::Cancelled).await;
        let started = Instant::now();
        let second = loop {
            match host
                .client
                .call_tool_once(params("countdown", json!({"seconds": 0})))
                .await
                .unwrap()
            {
                CallToolResponse::Task(created) => break created.task.task_id,
                other => assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "{flag}: the place was never freed: {other:?}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        until(&host, &second, TaskStatus::Completed).await;
        host.shutdown().await;
    }
}

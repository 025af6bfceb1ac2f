//! Tasks in the 2025-11-25 format (core tasks), which the TypeScript SDK
//! speaks: a raw JSON-RPC session over stdio (capability, create, poll,
//! result with its related-task tag, list, cancel, a question put to the
//! client through `tasks/result`, refusals), and the SDK's own experimental
//! tasks client over stdio and HTTP.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::raw_stdio::RawSession;
use super::support::*;

const FACADE_AS_TASKS: &str = "[[rule]]\nplugins = \"facade\"\ntasks = \"optional\"\n";

async fn core_session(dir: &PluginDir) -> RawSession {
    dir.write("policy.toml", FACADE_AS_TASKS);
    let policy = dir.path.join("policy.toml");
    let mut s = RawSession::start_with(dir, &["--policy", policy.to_str().unwrap()]).await;
    s.send(
        &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {"tasks": {"list": {}, "cancel": {}}, "elicitation": {"form": {}}},
            "clientInfo": {"name": "raw", "version": "0"}}})
        .to_string(),
    )
    .await;
    let init = s.response(1).await;
    assert_eq!(
        init["result"]["capabilities"]["tasks"]["requests"]["tools"]["call"],
        json!({}),
        "{init}"
    );
    assert!(
        init["result"]["capabilities"]["tasks"]["list"].is_object(),
        "{init}"
    );
    s.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .await;
    s
}

/// Send request `id` and wait for its response.
async fn ask(s: &mut RawSession, id: i64, method: &str, params: Value) -> Value {
    s.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string())
        .await;
    s.response(id).await
}

/// Poll `tasks/get` until the task's status is `wanted` (at most 30 s).
async fn until(s: &mut RawSession, id: &mut i64, task: &str, wanted: &str) -> Value {
    let started = Instant::now();
    loop {
        *id += 1;
        let got = ask(s, *id, "tasks/get", json!({"taskId": task})).await;
        if got["result"]["status"] == wanted {
            return got["result"].clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30) && got.get("error").is_none(),
            "waiting for {wanted}: {got}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_2025_11_25_client_runs_tasks_in_its_own_format_over_stdio() {
    let dir = PluginDir::with(&["hello"], &["facade"]);
    let mut s = core_session(&dir).await;
    let mut id = 1;

    // Each tool says whether it may run as a task: as declared, or as the
    // policy says for its plugin; a tool that may not says nothing.
    let listed = ask(&mut s, 100, "tools/list", json!({})).await;
    let support = |name: &str| {
        let tool = listed["result"]["tools"]
            .as_array()
            .and_then(|tools| tools.iter().find(|t| t["name"] == name))
            .unwrap_or_else(|| panic!("{name} is listed: {listed}"));
        assert!(
            tool["_meta"].get("mcp-wasm-host/taskSupport").is_none(),
            "{tool}"
        );
        tool["execution"]["taskSupport"].clone()
    };
    assert_eq!(support("countdown"), "optional");
    assert_eq!(support("elicit_name"), "optional");
    assert_eq!(support("add"), Value::Null);

    // Created with the client's time to live, polled, its result fetched.
    let created = ask(
        &mut s,
        2,
        "tools/call",
        json!({"name": "countdown",
        "arguments": {"seconds": 1, "step_ms": 100}, "task": {"ttl": 60000}}),
    )
    .await;
    let task = &created["result"]["task"];
    assert_eq!(task["status"], "working", "{created}");
    assert_eq!(task["ttl"], 60000, "{created}");
    assert!(task["pollInterval"].is_u64(), "{created}");
    let task_id = task["taskId"].as_str().unwrap().to_string();
    id = id.max(2);
    let done = until(&mut s, &mut id, &task_id, "completed").await;
    assert_eq!(done["taskId"], task_id.as_str());
    // The session also heard of it.
    let notice = s
        .notification("notifications/tasks/status", |p| {
            p["taskId"] == task_id.as_str() && p["status"] == "completed"
        })
        .await;
    assert_eq!(notice["params"]["ttl"], 60000, "{notice}");
    id += 1;
    let result = ask(&mut s, id, "tasks/result", json!({"taskId": task_id})).await;
    assert_eq!(
        result["result"]["content"][0]["text"], "done after 10 steps",
        "{result}"
    );
    assert_eq!(
        result["result"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"],
        task_id.as_str()
    );
    id += 1;
    let listed = ask(&mut s, id, "tasks/list", json!({})).await;
    assert!(
        listed["result"]["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["taskId"] == task_id.as_str()),
        "{listed}"
    );

    // Without `task`, the same tool answers as an ordinary call.
    id += 1;
    let plain = ask(
        &mut s,
        id,
        "tools/call",
        json!({"name": "countdown",
        "arguments": {"seconds": 0}}),
    )
    .await;
    assert_eq!(
        plain["result"]["content"][0]["text"], "done after 0 steps",
        "{plain}"
    );

    // A tool that does not run as a task refuses to.
    id += 1;
    let refused = ask(
        &mut s,
        id,
        "tools/call",
        json!({"name": "add",
        "arguments": {"a": 1, "b": 2}, "task": {}}),
    )
    .await;
    assert_eq!(refused["error"]["code"], -32601, "{refused}");

    // Cancelled while it runs; a second cancel is refused.
    id += 1;
    let long = ask(
        &mut s,
        id,
        "tools/call",
        json!({"name": "countdown",
        "arguments": {"seconds": 60, "step_ms": 100}, "task": {}}),
    )
    .await;
    let long_id = long["result"]["task"]["taskId"]
        .as_str()
        .unwrap()
        .to_string();
    id += 1;
    let cancelled = ask(&mut s, id, "tasks/cancel", json!({"taskId": long_id})).await;
    assert_eq!(cancelled["result"]["status"], "cancelled", "{cancelled}");
    id += 1;
    let again = ask(&mut s, id, "tasks/cancel", json!({"taskId": long_id})).await;
    assert_eq!(again["error"]["code"], -32602, "{again}");

    // A question: `tasks/result` puts it to the client, tagged with the task.
    id += 1;
    let asking = ask(
        &mut s,
        id,
        "tools/call",
        json!({"name": "elicit_name",
        "arguments": {}, "task": {}}),
    )
    .await;
    let asking_id = asking["result"]["task"]["taskId"]
        .as_str()
        .unwrap()
        .to_string();
    until(&mut s, &mut id, &asking_id, "input_required").await;
    s.notification("notifications/tasks/status", |p| {
        p["taskId"] == asking_id.as_str() && p["status"] == "input_required"
    })
    .await;
    id += 1;
    let result_id = id;
    s.send(
        &json!({"jsonrpc": "2.0", "id": result_id, "method": "tasks/result",
            "params": {"taskId": asking_id}})
        .to_string(),
    )
    .await;
    let question = loop {
        let message = s.next().await;
        if message["method"] == "elicitation/create" {
            break message;
        }
    };
    assert_eq!(
        question["params"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"],
        asking_id.as_str(),
        "{question}"
    );
    s.send(
        &json!({"jsonrpc": "2.0", "id": question["id"],
            "result": {"action": "accept", "content": {"name": "Ada"}}})
        .to_string(),
    )
    .await;
    let answered = s.response(result_id).await;
    let text = answered["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("Ada"), "{answered}");

    // An unknown task.
    id += 1;
    let unknown = ask(&mut s, id, "tasks/get", json!({"taskId": "0".repeat(32)})).await;
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");
}

/// The installed TypeScript SDK (`scripts/test.sh` installs it).
fn typescript_sdk() -> PathBuf {
    let dir = repo_root().join("target/ts-client/node_modules/@modelcontextprotocol/sdk");
    assert!(
        dir.join("package.json").exists(),
        "the TypeScript SDK is not installed in {}; scripts/test.sh installs it",
        dir.display()
    );
    dir
}

/// Run the SDK's tasks client script with `args`; what it saw.
fn run_typescript_client(args: &[&str]) -> Value {
    let output = std::process::Command::new("node")
        .arg(repo_root().join("tests/ts-client/core_tasks.mjs"))
        .arg(typescript_sdk())
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("node runs (scripts/build-plugins.sh installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the TypeScript client failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim().lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn check_typescript_client(seen: &Value) {
    assert_eq!(seen["countdownTaskSupport"], "optional", "{seen}");
    assert!(
        seen["tasksCapability"]["requests"]["tools"]["call"].is_object(),
        "{seen}"
    );
    let countdown = &seen["countdown"];
    assert_eq!(countdown["text"], "done after 10 steps", "{seen}");
    let kinds: Vec<&str> = countdown["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(kinds.first(), Some(&"taskCreated"), "{seen}");
    assert!(kinds.contains(&"status:completed"), "{seen}");
    assert_eq!(kinds.last(), Some(&"result"), "{seen}");
    assert_eq!(seen["listed"], true, "{seen}");
    assert_eq!(seen["fetched"]["status"], "completed", "{seen}");
    assert_eq!(seen["cancelled"], "cancelled", "{seen}");
    assert_eq!(seen["elicitations"], 1, "{seen}");
    assert!(
        seen["elicited"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("Ada")),
        "{seen}"
    );
    assert_eq!(seen["plain"], "done after 0 steps", "{seen}");
}

#[tokio::test]
async fn the_typescript_sdks_tasks_client_works_over_stdio_and_http() {
    let dir = PluginDir::with(&["hello"], &["facade"]);
    dir.write("policy.toml", FACADE_AS_TASKS);
    let policy = dir.path.join("policy.toml");
    let data = PluginDir::empty();
    let host = host_binary();
    let seen = run_typescript_client(&[
        "stdio",
        host.to_str().unwrap(),
        "serve",
        "--plugins",
        dir.path.to_str().unwrap(),
        "--cache-dir",
        shared_cache_dir().to_str().unwrap(),
        "--data-dir",
        data.path.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
    ]);
    check_typescript_client(&seen);

    let options = HostOptions::new(Era::Handshake, Transport::Http).policy(&dir, FACADE_AS_TASKS);
    let served = Connected::start(&dir, options).await.unwrap();
    let url = served.url.clone().unwrap();
    let seen = tokio::task::spawn_blocking(move || run_typescript_client(&["http", &url]))
        .await
        .unwrap();
    check_typescript_client(&seen);
    served.shutdown().await;
}

//! `dev DIR`: a scaffolded plugin served from its project directory, rebuilt
//! and reloaded when its source changes, a failed build leaving the version
//! serving, and each call logged with its outcome.

use std::process::Stdio;
use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::transport::TokioChildProcess;
use serde_json::json;
use tokio::process::Command;

use super::support::*;

/// The text `greet` answers now.
async fn greeting(client: &rmcp::service::RunningService<rmcp::RoleClient, ()>) -> String {
    let result = client
        .call_tool(params("greet", json!({"name": "Ada"})))
        .await
        .unwrap();
    text_of(&result)
}

#[tokio::test]
async fn dev_rebuilds_and_reloads_a_plugin_as_its_source_changes() {
    let work = PluginDir::empty();
    let created = std::process::Command::new(host_binary())
        .args(["plugin", "new", "--lang", "python", "devpy", "--dir"])
        .arg(&work.path)
        .output()
        .unwrap();
    assert!(created.status.success());
    let project = work.path.join("devpy");
    let data = PluginDir::empty();
    let mut command = Command::new(host_binary());
    command
        .arg("dev")
        .arg(&project)
        .arg("--cache-dir")
        .arg(shared_cache_dir())
        .arg("--data-dir")
        .arg(&data.path)
        .env(
            "COMPONENTIZE_PY",
            repo_root().join("target/guest-python/bin/componentize-py"),
        )
        .env_remove("MCP_WASM_HOST_LOG")
        .kill_on_drop(true);
    let (transport, child_stderr) = TokioChildProcess::builder(command)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = Stderr::default();
    stderr.spawn_reader(child_stderr.unwrap());
    // The first build runs before the host answers `initialize`.
    let client = tokio::time::timeout(Duration::from_secs(300), ().serve(transport))
        .await
        .expect("dev started within 5 minutes")
        .unwrap();
    assert_eq!(greeting(&client).await, "Hello, Ada! (greeting 1)");
    stderr
        .wait_for("call succeeded", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        stderr.text().contains("tool=\"greet\""),
        "{}",
        stderr.text()
    );

    // An edit: rebuilt and reloaded without a restart.
    let app = project.join("app.py");
    let source = std::fs::read_to_string(&app).unwrap();
    std::fs::write(&app, source.replace("Hello, {name}!", "Howdy, {name}!")).unwrap();
    wait_for_greeting(&client, "Howdy, Ada!").await;

    // A broken edit: the build fails, the version serving stays.
    let builds_failed = stderr.text().matches("the build failed").count();
    std::fs::write(&app, "def broken(:\n").unwrap();
    stderr
        .wait_until_count(
            "the build failed",
            builds_failed + 1,
            Duration::from_secs(240),
        )
        .await;
    assert!(greeting(&client).await.starts_with("Howdy, Ada!"));
    client.cancel().await.unwrap();
}

/// Call `greet` until its answer starts with `expected` (bounded).
async fn wait_for_greeting(
    client: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
    expected: &str,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    loop {
        let text = greeting(client).await;
        if text.starts_with(expected) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still answering {text:?} after 4 minutes"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

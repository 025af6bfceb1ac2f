//! Plugin state that outlives a call: SQLite state across a restart, two
//! replicas sharing one Redis (session state, counters, a call waiting for
//! input resumed on the other replica), the principal a plugin sees, and
//! idle sessions expiring.

use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResponse, InputRequiredResult};
use serde_json::{Value, json};

use super::support::*;

/// A `redis-server` of the test's own on a free loopback port, stopped on
/// drop.
pub(crate) struct Redis {
    child: std::process::Child,
    pub(crate) url: String,
}

impl Redis {
    pub(crate) async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server runs (scripts/test.sh installs it)");
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start listening on {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            child,
            url: format!("redis://127.0.0.1:{port}/0"),
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tool` called with a state handle in `_meta`.
fn with_handle(tool: &str, args: Value, handle: &str) -> CallToolRequestParams {
    let mut p = params(tool, args);
    p.meta = Some(serde_json::from_value(json!({"mcp-wasm-host/stateHandle": handle})).unwrap());
    p
}

async fn call_text(host: &Connected, p: CallToolRequestParams) -> String {
    let result = host.client.call_tool(p).await.unwrap();
    assert_ne!(result.is_error, Some(true), "{result:?}");
    text_of(&result)
}

#[tokio::test]
async fn two_replicas_sharing_redis_share_state_and_resume_each_others_calls() {
    let redis = Redis::start().await;
    let dir = PluginDir::with(&[], &["facade"]);
    let config = PluginDir::empty();
    config.write(
        "auth.toml",
        "[[role]]\nname = \"staff\"\nplugins = [\"*\"]\n\
         [[principal]]\nid = \"alice\"\nroles = [\"staff\"]\ntoken-sha256-env = \"ALICE\"\n",
    );
    let digest = {
        let output = std::process::Command::new(host_binary())
            .args(["auth", "hash-token"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(b"alice-token\n")?;
                child.wait_with_output()
            })
            .unwrap();
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    };
    let replica = |prefix: &str| {
        HostOptions::new(Era::Modern, Transport::Http)
            .script(ClientScript::capable([]))
            .arg("--state-store")
            .arg("redis")
            .arg("--state-redis-url")
            .arg(&redis.url)
            .arg("--state-redis-prefix")
            .arg(prefix)
            .arg("--state-key-file")
            .arg(config.path.join("state.key").to_str().unwrap())
            .arg("--auth-file")
            .arg(config.path.join("auth.toml").to_str().unwrap())
            .env("ALICE", &digest)
            .bearer("alice-token")
    };
    let a = Connected::start(&dir, replica("fleet:")).await.unwrap();
    let b = Connected::start(&dir, replica("fleet:")).await.unwrap();

    // The plugin sees who called, never the token.
    assert_eq!(
        text_of(&a.call_ok("whoami", empty_args()).await),
        "alice [staff]"
    );

    // Session state of the principal, written on one replica, read on the
    // other; a state handle is a scope of its own.
    a.call_ok("remember", json!({"key": "k", "value": "from a"}))
        .await;
    assert_eq!(
        text_of(&b.call_ok("recall", json!({"key": "k"})).await),
        "from a"
    );
    assert_eq!(
        call_text(&b, with_handle("recall", json!({"key": "k"}), "h1")).await,
        "missing"
    );
    call_text(
        &b,
        with_handle("remember", json!({"key": "k", "value": "in h1"}), "h1"),
    )
    .await;
    assert_eq!(
        call_text(&a, with_handle("recall", json!({"key": "k"}), "h1")).await,
        "in h1"
    );

    // Counters in the key-value store count across replicas.
    let count = json!({"namespace": "counters", "key": "visits"});
    assert_eq!(text_of(&a.call_ok("count", count.clone()).await), "count=1");
    assert_eq!(text_of(&b.call_ok("count", count.clone()).await), "count=2");

    // A call waiting for input on one replica completes on the other.
    let (key, sealed) = match a
        .client
        .call_tool_once(params("elicit_name", empty_args()))
        .await
        .unwrap()
    {
        CallToolResponse::InputRequired(InputRequiredResult {
            input_requests: Some(requests),
            request_state: Some(state),
            ..
        }) => (requests.keys().next().unwrap().clone(), state),
        other => panic!("input was expected to be required: {other:?}"),
    };
    let mut answers = rmcp::model::InputResponses::new();
    answers.insert(key, json!({"action": "accept", "content": {"name": "Ada"}}));
    let done = b
        .client
        .call_tool_once(
            params("elicit_name", empty_args())
                .with_input_responses(answers)
                .with_request_state(sealed),
        )
        .await
        .unwrap();
    match done {
        CallToolResponse::Complete(result) => assert_eq!(text_of(&result), "hello Ada"),
        other => panic!("a complete result was expected: {other:?}"),
    }

    // A host with another prefix shares nothing.
    let apart = Connected::start(&dir, replica("elsewhere:")).await.unwrap();
    assert_eq!(
        text_of(&apart.call_ok("recall", json!({"key": "k"})).await),
        "missing"
    );
    assert_eq!(text_of(&apart.call_ok("count", count).await), "count=1");
    for host in [a, b, apart] {
        host.shutdown().await;
    }
}

#[tokio::test]
async fn sqlite_state_survives_a_restart() {
    let dir = PluginDir::with(&[], &["facade"]);
    let data = PluginDir::empty();
    let options = || {
        HostOptions::new(Era::Modern, Transport::Stdio)
            .arg("--data-dir")
            .arg(data.path.to_str().unwrap())
    };
    let count = json!({"namespace": "counters", "key": "runs"});
    let first = Connected::start(&dir, options()).await.unwrap();
    call_text(
        &first,
        with_handle("remember", json!({"key": "k", "value": "kept"}), "h"),
    )
    .await;
    assert_eq!(
        text_of(&first.call_ok("count", count.clone()).await),
        "count=1"
    );
    first.shutdown().await;
    assert!(data.path.join("state.sqlite3").is_file());

    let second = Connected::start(&dir, options()).await.unwrap();
    assert_eq!(
        call_text(&second, with_handle("recall", json!({"key": "k"}), "h")).await,
        "kept"
    );
    assert_eq!(text_of(&second.call_ok("count", count).await), "count=2");
    second.shutdown().await;
}

#[tokio::test]
async fn idle_sessions_expire_and_their_state_with_them() {
    let dir = PluginDir::with(&[], &["facade"]);
    let idle = ["--session-idle-ms", "1500"];
    // The scope used every half second must never look idle, even when a
    // loaded machine stalls this test for a while: it gets 3 s here.
    let modern = Connected::start(
        &dir,
        HostOptions::new(Era::Modern, Transport::Stdio)
            .arg(idle[0])
            .arg("3000"),
    )
    .await
    .unwrap();
    call_text(
        &modern,
        with_handle("remember", json!({"key": "k", "value": "v"}), "used"),
    )
    .await;
    call_text(
        &modern,
        with_handle("remember", json!({"key": "k", "value": "v"}), "idle"),
    )
    .await;
    // Used every half second, one scope stays; the other goes.
    for _ in 0..9 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            call_text(&modern, with_handle("recall", json!({"key": "k"}), "used")).await,
            "v"
        );
    }
    assert_eq!(
        call_text(&modern, with_handle("recall", json!({"key": "k"}), "idle")).await,
        "missing"
    );
    modern.shutdown().await;

    // A handshake-era session left idle forgets its state (its transport
    // stays open while the client keeps its event stream).
    let session = Connected::start(
        &dir,
        HostOptions::new(Era::Handshake, Transport::Http)
            .arg(idle[0])
            .arg(idle[1]),
    )
    .await
    .unwrap();
    session
        .call_ok("remember", json!({"key": "k", "value": "v"}))
        .await;
    assert_eq!(
        text_of(&session.call_ok("recall", json!({"key": "k"})).await),
        "v"
    );
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert_eq!(
        text_of(&session.call_ok("recall", json!({"key": "k"})).await),
        "missing"
    );
    session.shutdown().await;
}

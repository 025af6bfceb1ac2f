//! The Rust SDK as a client sees it: a `#[tool]` function listed and called
//! over MCP like a tool built step by step, and a panic whose message
//! reaches the tool error and whose location reaches the host's log.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

async fn start(dir: &PluginDir) -> Connected {
    Connected::start(dir, HostOptions::new(Era::Handshake, Transport::Stdio))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_tool_function_is_described_and_called_over_mcp() {
    let dir = PluginDir::with(&["hello"], &[]);
    let host = start(&dir).await;
    let tools = host.client.list_all_tools().await.unwrap();
    let described = |name: &str| -> Value {
        serde_json::to_value(tools.iter().find(|t| t.name == name).unwrap()).unwrap()
    };

    let add = described("add");
    assert_eq!(add["description"], "Add two numbers");
    assert_eq!(add["title"], "Add");
    assert_eq!(
        add["annotations"],
        json!({"title": "Add", "readOnlyHint": true, "idempotentHint": true, "openWorldHint": false})
    );
    let input = &add["inputSchema"];
    assert_eq!(input["type"], "object");
    assert_eq!(input["required"], json!(["a", "b"]));
    assert_eq!(
        input["properties"],
        json!({
            "a": {"type": "number", "format": "double", "description": "The first term."},
            "b": {"type": "number", "format": "double", "description": "The second term."},
        })
    );
    let output = &add["outputSchema"];
    assert_eq!(output["type"], "object");
    assert_eq!(output["required"], json!(["sum"]));
    assert_eq!(output["properties"]["sum"]["type"], "number");
    assert_eq!(output["properties"]["sum"]["description"], "`a + b`.");

    let sum = host.call_ok("add", json!({"a": 2, "b": 3.5})).await;
    assert_eq!(sum.structured_content, Some(json!({"sum": 5.5})));
    assert_eq!(text_of(&sum), "2 + 3.5 = 5.5");

    let echo = described("echo");
    assert_eq!(echo["description"], "Return the given text unchanged");
    assert_eq!(echo["inputSchema"]["required"], json!(["text"]));
    assert_eq!(
        echo["inputSchema"]["properties"]["text"]["description"],
        "The text to return."
    );
    assert!(echo.get("outputSchema").is_none(), "{echo}");
    let echoed = host.call_ok("echo", echo_args("as it is")).await;
    assert_eq!(text_of(&echoed), "as it is");
    assert_eq!(echoed.structured_content, None);

    // The host still checks the arguments against the generated schema.
    let refused = host.call("add", json!({"a": "two", "b": 1})).await;
    assert!(refused.is_err(), "{refused:?}");
    host.shutdown().await;
}

#[tokio::test]
async fn a_panic_names_its_message_in_the_result_and_its_location_in_the_log() {
    let dir = PluginDir::with(&["hello"], &["crash"]);
    let host = start(&dir).await;
    // Twice: every call runs in a fresh instance, which reports again.
    for _ in 0..2 {
        let text = host.call_err("panic", empty_args()).await;
        assert!(
            text.contains(
                "plugin `crash` crashed: the tool panicked: crash fixture: deliberate panic"
            ),
            "{text}"
        );
        assert!(
            !text.contains("src/lib.rs"),
            "no location for the client: {text}"
        );
    }
    let log = host
        .stderr
        .wait_for("crash fixture: deliberate panic", Duration::from_secs(10))
        .await
        .unwrap();
    let line = log
        .lines()
        .find(|line| line.contains("crash fixture: deliberate panic"))
        .unwrap();
    assert!(line.contains("src/lib.rs:"), "{line}");
    assert!(line.contains("crash"), "the line names the plugin: {line}");

    let echo = host.call_ok("echo", echo_args("still here")).await;
    assert_eq!(text_of(&echo), "still here");
    host.shutdown().await;
}

#[tokio::test]
async fn a_trap_without_a_panic_is_reported_by_its_kind() {
    let dir = PluginDir::with(&[], &["crash"]);
    let host = start(&dir).await;
    let text = host.call_err("unreachable", empty_args()).await;
    assert!(
        text.contains(
            "plugin `crash` crashed: it reached unreachable code (a panic or abort in the plugin)"
        ),
        "{text}"
    );
    assert!(!text.contains("panicked"), "{text}");
    host.shutdown().await;
}

#[tokio::test]
async fn panic_reports_are_bounded_and_only_the_last_is_kept() {
    // The fixture reports a 64 KiB message a thousand times, then traps.
    let dir = PluginDir::with(&[], &["crash"]);
    let host = start(&dir).await;
    let text = host.call_err("report_flood", empty_args()).await;
    assert!(text.contains("the tool panicked: flood flood"), "{text}");
    assert!(text.ends_with('…'), "{text}");
    assert!(text.len() < 2 * 1024 + 100, "{} bytes", text.len());
    let log = host
        .stderr
        .wait_for("flood.rs:", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(log.contains("flood.rs:999:1"), "the last report: {log}");
    assert!(
        !log.contains("flood.rs:998:1"),
        "only the last report: {log}"
    );
    // The host serves on.
    let text = host.call_err("unreachable", empty_args()).await;
    assert!(text.contains("unreachable code"), "{text}");
    host.shutdown().await;
}

//! The host's log on stderr: a client that pipes stderr and never reads it
//! (the protocol lets a client ignore the log) does not stall the host.
//! Lines that find the pipe full are dropped, and counted in a warning once
//! stderr is read again.

use std::time::Duration;

use serde_json::json;
use tokio::io::AsyncReadExt;

use crate::raw_stdio::RawSession;
use crate::support::*;

/// Calls enough for their debug lines to fill a pipe (64 KiB) many times.
const CALLS: i64 = 1_500;

#[tokio::test]
async fn a_client_that_never_reads_stderr_does_not_stall_the_host() {
    let dir = PluginDir::with(&["hello"], &[]);
    let (mut s, mut stderr) =
        RawSession::start_with_stderr_unread(&dir, &[], &[("MCP_WASM_HOST_LOG", "debug")]);
    s.initialize().await;
    for id in 10..10 + CALLS {
        s.send(
            &json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
                "params":{"name":"add","arguments":{"a": id, "b": 1}}})
            .to_string(),
        )
        .await;
        // Bounded: a host blocked on its log never answers.
        let answer = s.response(id).await;
        assert_eq!(
            answer["result"]["structuredContent"]["sum"],
            json!((id + 1) as f64),
            "{answer}"
        );
    }

    // The log is read from here on: the host says what it dropped, and
    // logs again.
    let reader = tokio::spawn(async move {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text).await;
        String::from_utf8_lossy(&text).into_owned()
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    s.send(&json!({"jsonrpc":"2.0","id":5,"method":"ping"}).to_string())
        .await;
    assert_eq!(s.response(5).await["result"], json!({}));
    let answers = s.close_and_read_all().await;
    assert!(answers.iter().all(|a| a.get("error").is_none()));
    let log = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("the host closed stderr in time")
        .unwrap();
    assert!(
        log.contains("log lines were dropped"),
        "no word of the dropped lines in the log's end:\n{}",
        log.lines().rev().take(20).collect::<Vec<_>>().join("\n")
    );
}

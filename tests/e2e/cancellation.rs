//! `notifications/cancelled` (or, on 2026-07-28 HTTP, dropping the request)
//! stops the running guest: with room for a single sandbox, the next call can
//! only run once the cancelled guest is gone.

use std::time::Duration;

use crate::support::*;

/// Room for a single sandbox, and calls limited to `timeout_ms`: a call
/// waits for the sandbox for at most that long.
fn one_sandbox(options: HostOptions, timeout_ms: u64) -> HostOptions {
    options
        .arg("--max-instances")
        .arg("1")
        .arg("--default-timeout-ms")
        .arg(timeout_ms.to_string())
}

#[tokio::test]
async fn cancelling_a_request_stops_the_running_guest() {
    let dir = PluginDir::with(&["hello"], &["spin"]);
    dir.set_manifest(
        "spin",
        "name = \"spin\"\nversion = \"0.1.0\"\n[limits]\ntimeout-ms = 120000\n",
    );
    let dir = &dir;
    for_each_combination(|era, transport| async move {
        let options = one_sandbox(HostOptions::new(era, transport), 10_000);
        let host = Connected::start(dir, options).await.unwrap();

        // The client gives up once it runs; dropping the call cancels it.
        give_up_once_running(&host, host.call("spin", empty_args())).await;

        // The only sandbox frees up once the spinning guest is stopped; until
        // then this call waits (for at most its own 10 s time limit).
        let r = host.call("echo", echo_args("after")).await.unwrap();
        assert_ne!(
            r.is_error,
            Some(true),
            "{era:?}/{transport:?}: {}",
            text_of(&r)
        );
        assert_eq!(text_of(&r), "after");
        host.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn cancelling_a_request_reaches_a_guest_waiting_for_the_client() {
    // The client takes 30 s to answer the elicitation; the caller gives up
    // after a moment. With room for one sandbox, the next call runs only
    // once the waiting guest has been stopped.
    let dir = PluginDir::with(&["hello"], &["facade"]);
    let dir = &dir;
    for transport in [Transport::Stdio, Transport::Http] {
        let mut script = ClientScript::capable([accept(serde_json::json!({"name": "late"}))]);
        script.delay = Some(Duration::from_secs(30));
        let options = one_sandbox(
            HostOptions::new(Era::Handshake, transport).script(script),
            10_000,
        );
        let host = Connected::start(dir, options).await.unwrap();
        give_up_once_running(&host, host.call("elicit_name", empty_args())).await;
        let r = host.call("echo", echo_args("after")).await.unwrap();
        assert_eq!(text_of(&r), "after", "{transport:?}");
        host.shutdown().await;
    }
}

#[tokio::test]
async fn cancelling_a_request_reaches_a_guest_that_sleeps() {
    // `countdown` waits a minute on the host's clock (`context.sleep`); the
    // caller gives up after a moment. With room for one sandbox, the next
    // call runs only once the sleeping guest has been stopped.
    let dir = PluginDir::with(&["hello"], &[]);
    let dir = &dir;
    for_each_combination(|era, transport| async move {
        // Longer than the test waits: only the cancellation frees the sandbox.
        let options = one_sandbox(HostOptions::new(era, transport), 120_000);
        let host = Connected::start(dir, options).await.unwrap();
        let minute = serde_json::json!({"seconds": 60, "step_ms": 60000});
        give_up_once_running(&host, host.call("countdown", minute)).await;
        let r = tokio::time::timeout(
            Duration::from_secs(30),
            host.call("echo", echo_args("after")),
        )
        .await
        .expect("the sleeping guest kept the only sandbox")
        .unwrap();
        assert_eq!(text_of(&r), "after", "{era:?}/{transport:?}");
        host.shutdown().await;
    })
    .await;
}

//! The sandbox's limits: a guest that loops is stopped by its deadline, one
//! that grows memory is capped, one that traps is reported, and the host
//! keeps serving other calls through all of it.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

fn limited_dir() -> PluginDir {
    let dir = PluginDir::with(&["hello"], &["spin", "hog", "crash"]);
    dir.set_manifest(
        "spin",
        "name = \"spin\"\nversion = \"0.1.0\"\n[limits]\ntimeout-ms = 300\n",
    );
    dir.set_manifest(
        "hog",
        "name = \"hog\"\nversion = \"0.1.0\"\n[limits]\nmemory-mib = 16\n",
    );
    dir
}

#[tokio::test]
async fn limits_stop_hostile_guests_and_the_host_keeps_serving() {
    let dir = limited_dir();
    let dir = &dir;
    for_each_combination(|era, transport| async move {
        let host = Connected::start(dir, HostOptions::new(era, transport))
            .await
            .unwrap();

        let spin = host.call("spin", empty_args()).await.unwrap();
        assert_eq!(spin.is_error, Some(true));
        let text = text_of(&spin);
        assert!(
            text.contains("plugin `spin`") && text.contains("time limit of 300 ms"),
            "{text}"
        );

        let hog = host.call("grow", empty_args()).await.unwrap();
        assert_eq!(hog.is_error, Some(true));
        let text = text_of(&hog);
        assert!(
            text.contains("plugin `hog`") && text.contains("memory limit of 16 MiB"),
            "{text}"
        );

        for tool in ["panic", "unreachable"] {
            let crash = host.call(tool, empty_args()).await.unwrap();
            assert_eq!(crash.is_error, Some(true));
            let text = text_of(&crash);
            assert!(text.contains("plugin `crash` crashed"), "{tool}: {text}");
        }

        let echo = host.call_ok("echo", echo_args("still here")).await;
        assert_eq!(text_of(&echo), "still here");
        host.shutdown().await;
    })
    .await;
}

/// A guest waiting on the host's clock (`context.sleep`) is still bound by
/// its deadline: the host ends the call there, not when the sleep would.
#[tokio::test]
async fn a_sleeping_guest_is_stopped_at_its_deadline() {
    let dir = PluginDir::with(&["hello"], &[]);
    dir.set_manifest(
        "hello",
        "name = \"hello\"\nversion = \"0.1.0\"\n[limits]\ntimeout-ms = 500\n",
    );
    let dir = &dir;
    for_each_combination(|era, transport| async move {
        let host = Connected::start(dir, HostOptions::new(era, transport))
            .await
            .unwrap();
        let minute = json!({"seconds": 60, "step_ms": 60000});
        let r = tokio::time::timeout(Duration::from_secs(30), host.call("countdown", minute))
            .await
            .expect("the host let a sleep outlast the call's deadline")
            .unwrap();
        assert_eq!(r.is_error, Some(true));
        let text = text_of(&r);
        assert!(
            text.contains("plugin `hello`") && text.contains("time limit of 500 ms"),
            "{text}"
        );
        host.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_spinning_guest_does_not_block_concurrent_calls() {
    let dir = limited_dir();
    dir.set_manifest(
        "spin",
        "name = \"spin\"\nversion = \"0.1.0\"\n[limits]\ntimeout-ms = 5000\n",
    );
    let host = Connected::start(&dir, HostOptions::new(Era::Handshake, Transport::Stdio))
        .await
        .unwrap();
    // More spinning guests than cores: the short call must still finish first.
    let order = std::sync::Mutex::new(Vec::new());
    let spinning = futures::future::join_all((0..3).map(|_| async {
        let r = host.call("spin", empty_args()).await.unwrap();
        order.lock().unwrap().push("spin");
        r
    }));
    let add = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let r = host.call_ok("add", json!({"a": 1, "b": 2})).await;
        order.lock().unwrap().push("add");
        r
    };
    let (spun, added) = tokio::join!(spinning, add);
    assert_eq!(added.structured_content, Some(json!({"sum": 3.0})));
    assert!(spun.iter().all(|r| r.is_error == Some(true)));
    assert_eq!(order.lock().unwrap().first(), Some(&"add"));
    host.shutdown().await;
}

#[tokio::test]
async fn a_plugin_at_its_concurrency_cap_turns_further_calls_away() {
    // One call at a time; the first waits 5 s for the user, the second waits
    // its 1 s time limit for room, then fails naming the cap.
    let dir = PluginDir::with(&[], &["facade"]);
    dir.extend_manifest(
        "facade",
        "[limits]\ntimeout-ms = 1000\nmax-concurrent = 1\n",
    );
    let mut script = ClientScript::capable([
        accept(serde_json::json!({"name": "first"})),
        accept(serde_json::json!({"name": "second"})),
    ]);
    script.delay = Some(std::time::Duration::from_secs(5));
    let host = Connected::start(
        &dir,
        HostOptions::new(Era::Handshake, Transport::Stdio).script(script),
    )
    .await
    .unwrap();
    let first = host.call("elicit_name", empty_args());
    let second = async {
        // Once the first call asks the user, it surely holds the one place.
        wait_until(&host.received, "the first call's elicitation", |r| {
            !r.elicitations.is_empty()
        })
        .await;
        host.call("elicit_name", empty_args()).await
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(text_of(&first.unwrap()), "hello first");
    let second = second.unwrap();
    assert_eq!(second.is_error, Some(true));
    assert_eq!(
        text_of(&second),
        "plugin `facade` already runs its limit of 1 concurrent calls; this call waited 1000 ms and gave up"
    );
    host.shutdown().await;
}

#[tokio::test]
async fn a_result_larger_than_the_limit_is_refused() {
    let dir = PluginDir::with(&["hello"], &[]);
    let host = Connected::start(
        &dir,
        HostOptions::new(Era::Handshake, Transport::Stdio)
            .arg("--max-response-kib")
            .arg("1"),
    )
    .await
    .unwrap();
    let small = host.call_ok("echo", echo_args("fits")).await;
    assert_eq!(text_of(&small), "fits");
    let big = host
        .call("echo", echo_args(&"x".repeat(2000)))
        .await
        .unwrap();
    assert_eq!(big.is_error, Some(true));
    assert_eq!(
        text_of(&big),
        "plugin `hello` returned 2000 bytes, more than the 1024 bytes a result may have"
    );
    host.shutdown().await;
}

#[tokio::test]
async fn a_guest_cannot_make_the_host_copy_more_than_its_memory_in_one_call() {
    // 32 MiB of memory; one 8 MiB string handed over as span attributes,
    // each attribute pointing at the same bytes.
    let dir = PluginDir::with(&["hello"], &["bloat"]);
    dir.extend_manifest("bloat", "[limits]\nmemory-mib = 32\n");
    let host = Connected::start(&dir, HostOptions::new(Era::Handshake, Transport::Stdio))
        .await
        .unwrap();
    let fits = host
        .call_ok("alias_flood", json!({"mib": 8, "times": 3}))
        .await;
    assert!(
        text_of(&fits).starts_with("the host took 3 attributes of 8 MiB"),
        "{fits:?}"
    );
    // Five copies are 40 MiB: more than the guest's memory could hold
    // without aliasing, so the crossing is refused and the guest stopped.
    assert_eq!(
        host.call_err("alias_flood", json!({"mib": 8, "times": 5}))
            .await,
        "plugin `bloat` crashed: it handed the host more data in one call than its memory \
         limit (32 MiB) holds"
    );
    assert_eq!(
        host.call_err("alias_flood", json!({"mib": 8, "times": 100000}))
            .await,
        "plugin `bloat` crashed: it handed the host more data in one call than its memory \
         limit (32 MiB) holds"
    );
    assert_eq!(text_of(&host.call_ok("echo", echo_args("ok")).await), "ok");
    host.shutdown().await;
}

#[tokio::test]
async fn every_field_of_a_result_counts_toward_the_response_cap() {
    // A one-byte image whose MIME type is 2 KiB: the type is what is big.
    let dir = PluginDir::with(&[], &["bloat"]);
    let host = Connected::start(
        &dir,
        HostOptions::new(Era::Handshake, Transport::Stdio)
            .arg("--max-response-kib")
            .arg("1"),
    )
    .await
    .unwrap();
    let small = host.call_ok("long_media_type", json!({"kib": 0})).await;
    assert_eq!(small.content.len(), 1);
    assert_eq!(
        host.call_err("long_media_type", json!({"kib": 2})).await,
        "plugin `bloat` returned 2055 bytes, more than the 1024 bytes a result may have"
    );
    host.shutdown().await;
}

#[tokio::test]
async fn fuel_bounds_a_call_compute_from_the_manifest_or_the_policy() {
    // Plenty of time: only fuel can stop the loop.
    let dir = PluginDir::with(&["hello"], &["spin"]);
    dir.set_manifest(
        "spin",
        "name = \"spin\"\nversion = \"0.1.0\"\n[limits]\ntimeout-ms = 60000\nfuel = 5000000\n",
    );
    let host = Connected::start(&dir, HostOptions::new(Era::Handshake, Transport::Stdio))
        .await
        .unwrap();
    assert_eq!(
        host.call_err("spin", empty_args()).await,
        "plugin `spin` ran out of fuel (its budget is 5000000 units per call) and was stopped"
    );
    // Ordinary calls of a fuelled plugin's neighbours are unaffected.
    assert_eq!(text_of(&host.call_ok("echo", echo_args("ok")).await), "ok");
    host.shutdown().await;

    // The policy's ceiling lowers the manifest's budget.
    let options = HostOptions::new(Era::Modern, Transport::Http)
        .policy(&dir, "[[rule]]\nplugins = \"spin\"\nmax-fuel = 2000000\n");
    let host = Connected::start(&dir, options).await.unwrap();
    assert!(
        host.call_err("spin", empty_args())
            .await
            .contains("its budget is 2000000 units per call"),
    );
    host.shutdown().await;
}

#[tokio::test]
async fn a_per_session_plugin_keeps_one_instance_per_session() {
    let dir = PluginDir::with(&[], &["twin"]);
    // The default: every call a fresh instance.
    let host = Connected::start(&dir, HostOptions::new(Era::Handshake, Transport::Stdio))
        .await
        .unwrap();
    for _ in 0..2 {
        assert_eq!(text_of(&host.call_ok("calls", empty_args()).await), "1");
    }
    host.shutdown().await;

    dir.set_manifest(
        "twin",
        "name = \"twin\"\nversion = \"0.1.0\"\ninstance = \"per-session\"\n\
         [capabilities]\noptional = [\"elicitation\"]\n",
    );
    let host = Connected::start(&dir, HostOptions::new(Era::Handshake, Transport::Http))
        .await
        .unwrap();
    let other = rmcp::ServiceExt::serve(
        RecordingClient::default(),
        http_client_transport(host.url.clone().unwrap()),
    )
    .await
    .unwrap();
    let first = || async { text_of(&host.call_ok("calls", empty_args()).await) };
    let second = || async {
        let result = other
            .call_tool(params("calls", empty_args()))
            .await
            .unwrap();
        text_of(&result)
    };
    assert_eq!(first().await, "1");
    assert_eq!(first().await, "2");
    assert_eq!(first().await, "3");
    // Another session on the same host has an instance of its own.
    assert_eq!(second().await, "1");
    assert_eq!(first().await, "4");
    assert_eq!(second().await, "2");
    // A trap ends the session's instance; its next call starts afresh.
    assert!(
        host.call_err("trap", empty_args())
            .await
            .contains("plugin `twin` crashed")
    );
    assert_eq!(first().await, "1");
    assert_eq!(second().await, "3");
    let _ = other.cancel().await;
    host.shutdown().await;
}

/// The manifest of `twin` keeping one instance per session.
const PER_SESSION_TWIN: &str = "name = \"twin\"\nversion = \"0.1.0\"\ninstance = \"per-session\"\n\
     [capabilities]\noptional = [\"elicitation\"]\n";

/// The series counting `event` of the spare instances of `twin`.
fn spares_of_twin(event: &str) -> String {
    format!("mcp_wasm_host_plugin_spare_instances_total{{plugin=\"twin\",event=\"{event}\"}}")
}

/// A sample of the host's `/metrics` (0 when the series is missing).
async fn metric(url: &str, series: &str) -> f64 {
    let scraped = raw_http(url, "GET", "/metrics", &[], "").await;
    metric_sample(&scraped.body, series).unwrap_or(0.0)
}

/// Wait (at most ten seconds) for `series` to reach `at_least`.
async fn metric_reaches(url: &str, series: &str, at_least: f64) {
    for _ in 0..200 {
        if metric(url, series).await >= at_least {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{series} never reached {at_least}");
}

/// A per-session plugin keeps a spare instance made ahead of need: a new
/// session's first call starts on it without instantiating anything, yet
/// every session still gets an instance no other session has used (the
/// spare that replaces a taken one is new), also after a trap.
#[tokio::test]
async fn a_new_sessions_first_call_starts_on_a_spare_instance() {
    let dir = PluginDir::with(&[], &["twin"]);
    dir.set_manifest("twin", PER_SESSION_TWIN);
    let host = Connected::start(&dir, HostOptions::new(Era::Handshake, Transport::Http))
        .await
        .unwrap();
    let url = host.url.clone().unwrap();
    let instantiated = "mcp_wasm_host_instantiate_duration_seconds_count";
    metric_reaches(&url, &spares_of_twin("made"), 1.0).await;
    let before = metric(&url, instantiated).await;
    assert_eq!(text_of(&host.call_ok("calls", empty_args()).await), "1");
    assert_eq!(metric(&url, &spares_of_twin("used")).await, 1.0);
    assert_eq!(
        metric(&url, instantiated).await,
        before,
        "the first call instantiated nothing"
    );
    assert_eq!(text_of(&host.call_ok("calls", empty_args()).await), "2");
    // The spare ran its `list-tools` once before the call (as the load's
    // describing instance did), so the guest's one-time set-up (here the
    // SDK building its tool registry; for a language runtime, its first
    // run) was not the first call's to pay: both calls did the same work.
    host.stderr
        .wait_until_count("tool=\"calls\"", 2, Duration::from_secs(10))
        .await;
    let fuel: Vec<u64> = host
        .stderr
        .text()
        .lines()
        .filter(|l| l.contains("tool=\"calls\""))
        .map(|l| {
            let (_, after) = l.split_once("fuel=").expect("the audit line counts fuel");
            after.split(' ').next().unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(fuel[0], fuel[1], "the first call paid a set-up: {fuel:?}");

    // The next session's spare is another instance: it starts from zero.
    metric_reaches(&url, &spares_of_twin("made"), 2.0).await;
    let other = rmcp::ServiceExt::serve(
        RecordingClient::default(),
        http_client_transport(url.clone()),
    )
    .await
    .unwrap();
    let second = || async {
        text_of(
            &other
                .call_tool(params("calls", empty_args()))
                .await
                .unwrap(),
        )
    };
    assert_eq!(second().await, "1");
    assert_eq!(metric(&url, &spares_of_twin("used")).await, 2.0);
    assert_eq!(second().await, "2");
    assert_eq!(text_of(&host.call_ok("calls", empty_args()).await), "3");

    // After a trap, the session's next call starts afresh on a spare.
    metric_reaches(&url, &spares_of_twin("made"), 3.0).await;
    assert!(
        host.call_err("trap", empty_args())
            .await
            .contains("plugin `twin` crashed")
    );
    assert_eq!(text_of(&host.call_ok("calls", empty_args()).await), "1");
    assert_eq!(metric(&url, &spares_of_twin("used")).await, 3.0);
    assert_eq!(second().await, "3");
    let _ = other.cancel().await;
    host.shutdown().await;
}

/// A spare holds a sandbox slot, and gives it up to a call that needs it:
/// with room for one sandbox, the spare of `twin` is made, and a call of
/// another plugin still runs.
#[tokio::test]
async fn a_spare_instance_gives_its_slot_to_a_call() {
    let dir = PluginDir::with(&["hello"], &["twin"]);
    dir.set_manifest("twin", PER_SESSION_TWIN);
    let options = HostOptions::new(Era::Handshake, Transport::Http)
        .arg("--max-instances")
        .arg("1");
    let host = Connected::start(&dir, options).await.unwrap();
    let url = host.url.clone().unwrap();
    metric_reaches(&url, &spares_of_twin("made"), 1.0).await;
    let sum = host.call_ok("add", json!({"a": 1, "b": 2})).await;
    assert_eq!(sum.is_error, Some(false), "{sum:?}");
    assert_eq!(metric(&url, &spares_of_twin("released")).await, 1.0);
    assert_eq!(text_of(&host.call_ok("calls", empty_args()).await), "1");
    host.shutdown().await;
}

/// A plugin that takes a fresh instance per call gets no spare at load (it
/// may never be called), but once its calls come in quick succession it
/// keeps one for the next call, and every call still starts on an instance
/// that has run no other call.
#[tokio::test]
async fn calls_in_quick_succession_start_on_spares_that_ran_no_call() {
    let dir = PluginDir::with(&[], &["twin"]);
    let host = Connected::start(&dir, HostOptions::new(Era::Handshake, Transport::Http))
        .await
        .unwrap();
    let url = host.url.clone().unwrap();
    assert_eq!(
        metric(&url, &spares_of_twin("made")).await,
        0.0,
        "no spare before the first call"
    );
    // Calls sent together overlap: they come in quick succession.
    let burst = || futures::future::join_all((0..16).map(|_| host.call_ok("calls", empty_args())));
    for answer in burst().await {
        assert_eq!(text_of(&answer), "1");
    }
    metric_reaches(&url, &spares_of_twin("made"), 1.0).await;
    for answer in burst().await {
        assert_eq!(text_of(&answer), "1", "an instance ran one call only");
    }
    assert!(metric(&url, &spares_of_twin("used")).await >= 1.0);
    host.shutdown().await;
}

/// A closed session's instance of a per-session plugin goes with it: with
/// room for one sandbox, the instance of a session that closed does not
/// keep the next session waiting for a slot until its deadline.
#[tokio::test]
async fn a_closed_sessions_instance_frees_its_sandbox() {
    let dir = PluginDir::with(&[], &["twin"]);
    dir.set_manifest("twin", PER_SESSION_TWIN);
    let options = HostOptions::new(Era::Handshake, Transport::Http)
        .arg("--max-instances")
        .arg("1")
        .arg("--default-timeout-ms")
        .arg("3000");
    let host = Connected::start(&dir, options).await.unwrap();
    let url = host.url.clone().unwrap();
    for _ in 0..3 {
        let session = rmcp::ServiceExt::serve(
            RecordingClient::default(),
            http_client_transport(url.clone()),
        )
        .await
        .unwrap();
        let result = session
            .call_tool(params("calls", empty_args()))
            .await
            .unwrap();
        assert_eq!(text_of(&result), "1", "{result:?}");
        // Closing the client deletes its session.
        session.cancel().await.unwrap();
    }
    host.shutdown().await;
}

/// Guests that compute until their deadline take turns: with one lane
/// (`--long-call-lanes 1`) and four spinning, one computes while three wait
/// for their turn, short calls of another plugin keep being answered, and
/// every waiting call still stops at its own deadline.
#[tokio::test]
async fn calls_that_run_long_take_turns_and_short_calls_keep_flowing() {
    use std::time::{Duration, Instant};

    let dir = PluginDir::with(&["hello"], &["spin"]);
    dir.set_manifest(
        "spin",
        "name = \"spin\"\nversion = \"0.1.0\"\n[limits]\ntimeout-ms = 10000\n",
    );
    let options = HostOptions::new(Era::Handshake, Transport::Http)
        .arg("--long-call-lanes")
        .arg("1");
    let host = Connected::start(&dir, options).await.unwrap();
    let url = host.url.clone().unwrap();
    let metrics = |text: &str| {
        (
            metric_sample(text, "mcp_wasm_host_long_calls_total").unwrap_or(0.0),
            metric_sample(text, "mcp_wasm_host_long_calls_waiting").unwrap_or(-1.0),
        )
    };

    let spins = futures::future::join_all((0..4).map(|_| host.call("spin", empty_args())));
    let meanwhile = async {
        let start = Instant::now();
        loop {
            let (_, text) = crate::ops::get(&url, "/metrics").await;
            let (long, waiting) = metrics(&text);
            if long == 4.0 && waiting >= 3.0 {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(8),
                "four long calls, three of them waiting for their turn: \
                 {long} long, {waiting} waiting"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for n in 0..20 {
            let sum = host.call_ok("add", json!({"a": n, "b": 1})).await;
            assert_eq!(text_of(&sum), format!("{n} + 1 = {}", n + 1));
        }
    };
    let (spins, ()) = tokio::join!(spins, meanwhile);
    for spin in spins {
        let spin = spin.unwrap();
        assert_eq!(spin.is_error, Some(true));
        let text = text_of(&spin);
        assert!(text.contains("time limit of 10000 ms"), "{text}");
    }
    let (_, text) = crate::ops::get(&url, "/metrics").await;
    assert_eq!(metrics(&text), (4.0, 0.0), "no call waits once all stopped");
    host.shutdown().await;
}

//! Hot reload: plugins added, replaced, broken and deleted while clients are
//! connected; list changes announced in both eras; the policy file reloaded;
//! SIGHUP without a watcher.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rmcp::model::SubscriptionFilter;
use serde_json::json;

use crate::support::*;

/// How long a test waits for the host to notice a change.
const NOTICE: Duration = Duration::from_secs(20);

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

/// Wait until stderr holds `needle` at least `times` times.
async fn wait_for_count(host: &Connected, needle: &str, times: usize) -> String {
    let start = Instant::now();
    loop {
        let text = host.stderr.text();
        if count(&text, needle) >= times {
            return text;
        }
        assert!(
            start.elapsed() < NOTICE,
            "stderr never held {needle:?} {times} times; it was:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `hello`'s manifest with another version number: a new version of the
/// same plugin, with the same tools.
fn hello_manifest(version: u32) -> String {
    format!("name = \"hello\"\nversion = \"0.1.{version}\"\ndescription = \"Greets and adds\"\n")
}

#[tokio::test]
async fn a_plugin_added_while_connected_is_announced_and_callable() {
    for transport in [Transport::Stdio, Transport::Http] {
        let dir = PluginDir::with(&["hello"], &[]);
        let host = Connected::start(&dir, HostOptions::new(Era::Handshake, transport))
            .await
            .unwrap();
        assert!(!host.tool_names().await.contains(&"slugify".to_string()));
        dir.add_example("texttools");
        wait_until(&host.received, "tools/list_changed", |r| {
            r.tool_list_changes >= 1
        })
        .await;
        let names = host.tool_names().await;
        assert!(names.contains(&"slugify".to_string()), "{names:?}");
        assert!(names.contains(&"add".to_string()), "{names:?}");
        let slug = host
            .call_ok("slugify", json!({"text": "Hot Reload Works"}))
            .await;
        assert_eq!(text_of(&slug), "hot-reload-works", "{transport:?}");
        // The tool list changed; the prompt and resource lists did not.
        let (prompts, resources) = {
            let received = host.received.lock().unwrap();
            (received.prompt_list_changes, received.resource_list_changes)
        };
        assert_eq!((prompts, resources), (0, 0));
        host.shutdown().await;
    }
}

#[tokio::test]
async fn listeners_of_the_new_era_hear_of_added_and_deleted_plugins() {
    for transport in [Transport::Stdio, Transport::Http] {
        let dir = PluginDir::with(&["hello"], &[]);
        let host = Connected::start(&dir, HostOptions::new(Era::Modern, transport))
            .await
            .unwrap();
        let filter = SubscriptionFilter::builder()
            .tools_list_changed()
            .prompts_list_changed()
            .build();
        let mut subscription = host.client.listen(filter).await.unwrap();
        host.stderr
            .wait_for("subscriptions/listen stream open", NOTICE)
            .await
            .unwrap();

        dir.add_example("notes");
        let mut heard = Vec::new();
        while heard.len() < 2 {
            let next = tokio::time::timeout(NOTICE, subscription.next())
                .await
                .expect("a notification")
                .expect("the subscription is open");
            heard.push(serde_json::to_string(&next).unwrap());
        }
        let heard = heard.join("\n");
        assert!(
            heard.contains("notifications/tools/list_changed"),
            "{heard}"
        );
        assert!(
            heard.contains("notifications/prompts/list_changed"),
            "{heard}"
        );
        let names = host.tool_names().await;
        assert!(names.contains(&"add_note".to_string()), "{names:?}");

        dir.remove("notes");
        let next = tokio::time::timeout(NOTICE, subscription.next())
            .await
            .expect("a notification")
            .expect("the subscription is open");
        let text = serde_json::to_string(&next).unwrap();
        assert!(text.contains("list_changed"), "{text}");
        let names = host.tool_names().await;
        assert!(!names.contains(&"add_note".to_string()), "{names:?}");
        host.shutdown().await;
    }
}

#[tokio::test]
async fn deleting_a_plugin_removes_its_tools_and_tells_clients() {
    let dir = PluginDir::with(&["hello", "texttools"], &[]);
    let host = Connected::start(&dir, HostOptions::new(Era::Handshake, Transport::Http))
        .await
        .unwrap();
    host.call_ok("slugify", json!({"text": "a b"})).await;
    dir.remove("texttools");
    wait_until(&host.received, "tools/list_changed", |r| {
        r.tool_list_changes >= 1
    })
    .await;
    assert_eq!(host.tool_names().await, ["add", "countdown", "echo"]);
    let error = host
        .call("slugify", json!({"text": "a b"}))
        .await
        .unwrap_err();
    let (code, message) = protocol_error(&error).expect("a protocol error");
    assert_eq!(code, -32602, "{message}");
    assert!(message.contains("unknown tool `slugify`"), "{message}");
    host.call_ok("add", json!({"a": 1, "b": 2})).await;
    host.shutdown().await;
}

#[tokio::test]
async fn a_plugin_replaced_under_load_fails_no_call() {
    let dir = PluginDir::with(&["hello"], &[]);
    let host = Arc::new(
        Connected::start(&dir, HostOptions::new(Era::Handshake, Transport::Http))
            .await
            .unwrap(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicUsize::new(0));
    let mut callers = Vec::new();
    for caller in 0..4 {
        let (host, stop, calls) = (host.clone(), stop.clone(), calls.clone());
        callers.push(tokio::spawn(async move {
            let started = Instant::now();
            let mut failures = Vec::new();
            // Bounded in count and in time.
            for i in 0..5_000 {
                if stop.load(Ordering::Relaxed) || started.elapsed() > Duration::from_secs(60) {
                    break;
                }
                match host.call("add", json!({"a": caller, "b": i})).await {
                    Ok(r) if r.is_error != Some(true) => {
                        let sum = r.structured_content.unwrap()["sum"].as_f64().unwrap();
                        if sum != f64::from(caller + i) {
                            failures.push(format!("wrong sum {sum}"));
                        }
                    }
                    Ok(r) => failures.push(text_of(&r)),
                    Err(e) => failures.push(e.to_string()),
                }
                calls.fetch_add(1, Ordering::Relaxed);
            }
            failures
        }));
    }
    // Five new versions, each written in place while calls run.
    let component = std::fs::read(dir.path.join("hello.wasm")).unwrap();
    for version in 1..=5 {
        dir.set_manifest("hello", &hello_manifest(version));
        dir.write("hello.wasm", &component);
        wait_for_count(&host, "plugin reloaded", version as usize).await;
        assert!(
            host.stderr
                .text()
                .contains(&format!("version=0.1.{version}")),
        );
    }
    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for caller in callers {
        failures.extend(caller.await.unwrap());
    }
    let calls = calls.load(Ordering::Relaxed);
    assert!(calls > 0);
    assert!(
        failures.is_empty(),
        "{} of {calls} calls failed: {failures:?}",
        failures.len()
    );
    // Same tools in every version: nothing to announce.
    assert_eq!(host.received.lock().unwrap().tool_list_changes, 0);
    Arc::into_inner(host).unwrap().shutdown().await;
}

#[tokio::test]
async fn a_broken_replacement_leaves_the_old_version_serving() {
    for transport in [Transport::Stdio, Transport::Http] {
        let dir = PluginDir::with(&["hello"], &[]);
        let host = Connected::start(&dir, HostOptions::new(Era::Handshake, transport))
            .await
            .unwrap();
        let good_component = std::fs::read(dir.path.join("hello.wasm")).unwrap();
        let breakages: [(&str, &[u8], &str); 3] = [
            ("hello.wasm", b"\0asm not really", "not a valid WebAssembly component"),
            ("hello.toml", b"name = \"hello\"\nversion = \"0.2.0\"\ncolour = \"red\"\n", "invalid manifest"),
            (
                "hello.toml",
                b"name = \"hello\"\nversion = \"0.2.0\"\n[capabilities]\nrequired = [\"http\"]\n[capabilities.http]\nallow = [\"https://example.com\"]\n",
                "requires the `http` capability",
            ),
        ];
        for (n, (file, bytes, why)) in breakages.into_iter().enumerate() {
            dir.write(file, bytes);
            let text = wait_for_count(&host, "keeps serving", n + 1).await;
            assert!(text.contains(why), "{why}: {text}");
            assert!(
                text.contains("plugin `hello` 0.1.0 keeps serving"),
                "{text}"
            );
            let sum = host.call_ok("add", json!({"a": 2, "b": 3})).await;
            assert_eq!(sum.structured_content.unwrap()["sum"], 5.0);
            let from_host = |r: &Received| {
                r.logs
                    .iter()
                    .filter(|l| l.logger.as_deref() == Some("mcp-wasm-host"))
                    .cloned()
                    .collect::<Vec<_>>()
            };
            wait_until(&host.received, "a warning to the client", |r| {
                from_host(r).len() > n
            })
            .await;
            let log = from_host(&host.received.lock().unwrap())[n].clone();
            assert_eq!(log.level, rmcp::model::LoggingLevel::Warning);
            assert_eq!(log.logger.as_deref(), Some("mcp-wasm-host"));
            let data = log.data.to_string();
            assert!(data.contains(why), "{data}");
            // Put the good version back before the next breakage.
            dir.replace("hello.toml", hello_manifest(0));
            dir.replace("hello.wasm", &good_component);
            wait_for_count(&host, "load failure is resolved", n + 1).await;
        }
        assert_eq!(host.tool_names().await, ["add", "countdown", "echo"]);
        assert_eq!(host.received.lock().unwrap().tool_list_changes, 0);
        host.shutdown().await;
    }
}

#[tokio::test]
async fn many_rapid_writes_reload_once() {
    let dir = PluginDir::with(&["hello"], &[]);
    // A quiet period well beyond the ~150 ms of writing, so a busy machine
    // pausing this test between two writes does not split the batch.
    let host = Connected::start(
        &dir,
        HostOptions::new(Era::Handshake, Transport::Http)
            .arg("--reload-quiet-ms")
            .arg("500"),
    )
    .await
    .unwrap();
    let component = std::fs::read(dir.path.join("hello.wasm")).unwrap();
    let started = Instant::now();
    let mut last_write = started;
    let mut longest_gap = Duration::ZERO;
    for version in 1..=20 {
        dir.set_manifest("hello", &hello_manifest(version));
        dir.write("hello.wasm", &component);
        longest_gap = longest_gap.max(last_write.elapsed());
        last_write = Instant::now();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // A machine that stalled this test for most of the quiet period, or
    // past the longest a batch may wait (2 s), splits the burst: then only
    // the last version is checked.
    let undisturbed =
        longest_gap < Duration::from_millis(400) && started.elapsed() < Duration::from_millis(1500);
    if !undisturbed {
        eprintln!(
            "the writes took {:?} (longest gap {longest_gap:?})",
            started.elapsed()
        );
        let deadline = Instant::now() + NOTICE;
        while !host
            .stderr
            .text()
            .lines()
            .any(|l| l.contains("plugin reloaded") && l.contains("version=0.1.20"))
        {
            assert!(Instant::now() < deadline, "{}", host.stderr.text());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        host.shutdown().await;
        return;
    }
    let text = wait_for_count(&host, "plugin reloaded", 1).await;
    assert!(text.contains("version=0.1.20"), "{text}");
    // Nothing else comes.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let text = host.stderr.text();
    assert_eq!(count(&text, "plugin reloaded"), 1, "{text}");
    host.shutdown().await;
}

#[tokio::test]
async fn calls_running_or_waiting_for_the_client_finish_on_their_version() {
    for era in [Era::Handshake, Era::Modern] {
        let dir = PluginDir::with(&[], &["facade"]);
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let script = ClientScript {
            gate: Some(gate.clone()),
            ..ClientScript::capable([accept(json!({"name": "Ada"}))])
        };
        let host = Arc::new(
            Connected::start(&dir, HostOptions::new(era, Transport::Stdio).script(script))
                .await
                .unwrap(),
        );
        // The call asks the client, which takes its time to answer (on the
        // new era the call is parked meanwhile).
        let call = {
            let host = host.clone();
            tokio::spawn(async move { host.call("elicit_name", json!({})).await })
        };
        wait_until(&host.received, "the elicitation", |r| {
            !r.elicitations.is_empty()
        })
        .await;
        dir.remove("facade");
        wait_for_count(&host, "plugin removed", 1).await;
        // Only now does the client answer.
        gate.add_permits(1);
        let result = call.await.unwrap().expect("the call finishes");
        assert_ne!(result.is_error, Some(true), "{era:?}: {result:?}");
        assert!(text_of(&result).contains("Ada"), "{era:?}: {result:?}");
        assert!(!host.tool_names().await.contains(&"elicit_name".to_string()));
        Arc::into_inner(host).unwrap().shutdown().await;
    }
}

#[tokio::test]
async fn a_changed_policy_is_applied_and_a_broken_one_ignored() {
    let dir = PluginDir::with(&["hello", "fetch"], &[]);
    let config = PluginDir::empty();
    config.write("policy.toml", "default = \"grant-declared\"\n");
    let policy = config.path.join("policy.toml");
    let host = Connected::start(
        &dir,
        HostOptions::new(Era::Handshake, Transport::Http)
            .arg("--policy")
            .arg(policy.to_str().unwrap()),
    )
    .await
    .unwrap();
    assert!(host.tool_names().await.contains(&"fetch".to_string()));

    // A broken new hello: the version loaded keeps serving.
    dir.replace("hello.wasm", b"\0asm not really");
    wait_for_count(&host, "plugin `hello` 0.1.0 keeps serving", 1).await;

    // Granting fetch its optional `http` changes its grants, not its tools.
    let grant_http =
        "default = \"grant-declared\"\n[[rule]]\nplugins = \"fetch\"\ngrant = [\"http\"]\n";
    config.replace("policy.toml", grant_http);
    let text = wait_for_count(&host, "grants or limits changed", 1).await;
    assert!(text.contains("plugin=fetch"), "{text}");
    // The same rules moved down by a comment decide as before.
    config.replace(
        "policy.toml",
        format!("# fetch may reach the network\n{grant_http}"),
    );
    wait_for_count(&host, "it decides as before", 1).await;
    let text = wait_for_count(&host, "policy reloaded", 1).await;
    assert_eq!(count(&text, "policy reloaded"), 1, "{text}");

    // Refuse what fetch requires: it stops being served. Hello, whose new
    // version on disk is still broken, keeps its old version serving.
    config.replace(
        "policy.toml",
        "[[rule]]\nplugins = \"fetch\"\ndeny = [\"keyvalue\"]\n",
    );
    wait_until(&host.received, "tools/list_changed", |r| {
        r.tool_list_changes >= 1
    })
    .await;
    wait_for_count(&host, "policy reloaded", 2).await;
    wait_for_count(&host, "requires the `keyvalue` capability", 1).await;
    assert_eq!(host.tool_names().await, ["add", "countdown", "echo"]);
    host.call_ok("add", json!({"a": 1, "b": 1})).await;

    // An empty policy, and one that does not parse, keep the one in force.
    config.replace("policy.toml", "");
    let text = wait_for_count(&host, "the policy in force keeps serving", 1).await;
    assert!(text.contains("the policy is empty"), "{text}");
    config.replace("policy.toml", "[[rule]]\nplugins = 42\n");
    let text = wait_for_count(&host, "the policy in force keeps serving", 2).await;
    assert!(text.contains("policy.toml"), "{text}");
    assert_eq!(host.tool_names().await, ["add", "countdown", "echo"]);
    host.call_ok("add", json!({"a": 1, "b": 1})).await;

    // Granting it again brings it back.
    config.replace("policy.toml", "default = \"grant-declared\"\n");
    wait_until(&host.received, "a second tools/list_changed", |r| {
        r.tool_list_changes >= 2
    })
    .await;
    let names = host.tool_names().await;
    assert!(names.contains(&"fetch".to_string()), "{names:?}");
    assert!(names.contains(&"add".to_string()), "{names:?}");
    let text = wait_for_count(&host, "policy reloaded", 3).await;
    assert_eq!(count(&text, "policy reloaded"), 3, "{text}");
    host.shutdown().await;
}

#[cfg(unix)]
#[tokio::test]
async fn sighup_reloads_without_a_watcher() {
    let dir = PluginDir::with(&["hello"], &[]);
    let host = Connected::start(
        &dir,
        HostOptions::new(Era::Handshake, Transport::Http).arg("--no-watch"),
    )
    .await
    .unwrap();
    dir.add_example("texttools");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !host.tool_names().await.contains(&"slugify".to_string()),
        "without a watcher nothing changes by itself"
    );
    host.signal("HUP");
    wait_until(&host.received, "tools/list_changed", |r| {
        r.tool_list_changes >= 1
    })
    .await;
    host.call_ok("slugify", json!({"text": "After Hangup"}))
        .await;
    wait_for_count(&host, "SIGHUP", 1).await;
    let text = wait_for_count(&host, "plugin reloaded", 1).await;
    assert_eq!(count(&text, "plugin reloaded"), 1, "only texttools: {text}");
    host.shutdown().await;
}

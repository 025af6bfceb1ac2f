//! Fair shares: one principal's calls cannot take every place, a plugin's
//! answers of every kind stay within the response cap, and a plugin that
//! floods its output gets only its share of the log.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn one_principal_cannot_take_every_call() {
    let dir = PluginDir::with(&["hello", "notes"], &["spin"]);
    dir.extend_manifest("spin", "[limits]\ntimeout-ms = 3000\n");
    let config = PluginDir::empty();
    config.write(
        "auth.toml",
        format!(
            "[[role]]\nname = \"all\"\nplugins = [\"*\"]\nmetrics = true\n\
             [[principal]]\nid = \"alice\"\nroles = [\"all\"]\ntoken-sha256 = \"{}\"\n\
             [[principal]]\nid = \"bob\"\nroles = [\"all\"]\ntoken-sha256 = \"{}\"\n",
            token_digest("alice-token"),
            token_digest("bob-token")
        ),
    );
    let options = |token: &str| {
        HostOptions::new(Era::Modern, Transport::Http)
            .arg("--auth-file")
            .arg(config.path.join("auth.toml").to_str().unwrap())
            .arg("--max-calls-per-principal")
            .arg("1")
            .bearer(token)
    };
    let alice = Connected::start(&dir, options("alice-token"))
        .await
        .unwrap();
    let url = alice.url.clone().unwrap();
    let bob = rmcp::service::ClientServiceExt::serve_with_lifecycle(
        RecordingClient::default(),
        http_client_transport_with(url.clone(), Some("bob-token")),
        rmcp::service::ClientLifecycleMode::Discover {
            preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28],
        },
    )
    .await
    .unwrap();

    let spinning = alice.client.call_tool(params("spin", empty_args()));
    let during = async {
        // Once the spin runs (a loaded machine may take a while to start
        // it), Alice's `add` is refused.
        wait_for_metrics(
            &url,
            &[("Authorization", "Bearer alice-token")],
            "the spin to run",
            one_call_running,
        )
        .await;
        let refused = alice.call_err("add", json!({"a": 1, "b": 2})).await;
        let served = bob
            .call_tool(params("add", json!({"a": 1, "b": 2})))
            .await
            .unwrap();
        // Requests that run plugin exports take a place in the share too.
        let listing = alice.client.list_all_resources().await.unwrap_err();
        let (_, listing) = protocol_error(&listing).expect("a protocol error");
        let completing = alice
            .client
            .complete(rmcp::model::CompleteRequestParams::new(
                rmcp::model::Reference::for_prompt("review_note"),
                rmcp::model::ArgumentInfo::new("name", "n"),
            ))
            .await
            .unwrap_err();
        let (_, completing) = protocol_error(&completing).expect("a protocol error");
        let listed = bob.list_all_resources().await;
        (refused, served, [listing, completing], listed)
    };
    let (spun, (refused, served, catalog_refusals, listed)) = tokio::join!(spinning, during);
    for refusal in catalog_refusals {
        assert!(
            refusal.contains("principal `alice` already has 1 calls running"),
            "{refusal}"
        );
    }
    assert!(listed.is_ok(), "bob lists resources: {listed:?}");
    assert!(
        refused.contains("principal `alice` already has 1 calls running")
            && refused.contains("--max-calls-per-principal"),
        "{refused}"
    );
    assert_ne!(
        served.is_error,
        Some(true),
        "bob is not starved: {served:?}"
    );
    let spun = spun.unwrap();
    assert_eq!(spun.is_error, Some(true), "the spin stops at its deadline");
    // Alice's place is back once her call ended.
    alice.call_ok("add", json!({"a": 1, "b": 2})).await;
    bob.cancel().await.unwrap();
    alice.shutdown().await;
}

#[tokio::test]
async fn resource_reads_and_prompts_stay_within_the_response_cap() {
    let dir = PluginDir::with(&["notes"], &[]);
    let host = Connected::start(
        &dir,
        HostOptions::new(Era::Handshake, Transport::Stdio)
            .arg("--max-response-kib")
            .arg("1"),
    )
    .await
    .unwrap();
    host.call_ok("add_note", json!({"name": "small", "text": "short"}))
        .await;
    host.call_ok("add_note", json!({"name": "big", "text": "x".repeat(4000)}))
        .await;
    host.client
        .read_resource(rmcp::model::ReadResourceRequestParams::new("note://small"))
        .await
        .unwrap();
    let big = host
        .client
        .read_resource(rmcp::model::ReadResourceRequestParams::new("note://big"))
        .await
        .unwrap_err();
    let (_, message) = protocol_error(&big).expect("a protocol error");
    assert!(
        message.contains("more than the 1024 bytes a result may have"),
        "{message}"
    );

    // The listing is bound by the same cap: the two notes list (76 bytes),
    // ten more with long names (212 bytes each) do not, and the plugin is
    // left out of the list.
    let listed = host.client.list_all_resources().await.unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    for i in 0..10 {
        let name = format!("{i}-{}", "n".repeat(60));
        host.call_ok("add_note", json!({"name": name, "text": "t"}))
            .await;
    }
    let listed = host.client.list_all_resources().await.unwrap();
    assert!(listed.is_empty(), "{listed:?}");
    host.stderr
        .wait_for(
            "plugin `notes` returned 2196 bytes, more than the 1024 bytes",
            std::time::Duration::from_secs(10),
        )
        .await
        .unwrap();
    host.shutdown().await;
}

#[tokio::test]
async fn a_plugin_flooding_its_output_gets_only_its_share_of_the_log() {
    let dir = PluginDir::with(&[], &["chatty"]);
    let host = Connected::start(&dir, HostOptions::new(Era::Handshake, Transport::Stdio))
        .await
        .unwrap();
    host.call_ok("shout", json!({"text": "flood", "times": 5000}))
        .await;
    let log = host
        .stderr
        .wait_for("lines of output dropped", Duration::from_secs(10))
        .await
        .unwrap();
    let kept =
        log.matches("CHATTY-STDOUT: flood").count() + log.matches("CHATTY-STDERR: flood").count();
    assert!(kept < 2000, "{kept} of 10000 lines reached the log");
    assert!(kept >= 100, "the plugin's share still gets through: {kept}");
    host.shutdown().await;
}

#[tokio::test]
async fn a_plugin_flooding_notices_sends_its_share_and_never_loses_the_last_change() {
    let dir = PluginDir::with(&[], &["facade"]);
    let host = Connected::start(&dir, HostOptions::new(Era::Handshake, Transport::Stdio))
        .await
        .unwrap();
    for uri in ["fixture://busy", "fixture://last"] {
        host.client
            .subscribe(rmcp::model::SubscribeRequestParams::new(uri))
            .await
            .unwrap();
    }
    // 500 notices about one resource, then one about another: the second
    // comes after the plugin's share is spent.
    host.call_ok("flood", json!({"uris": ["fixture://busy"], "times": 500}))
        .await;
    host.call_ok("flood", json!({"uris": ["fixture://last"], "times": 1}))
        .await;
    wait_until(&host.received, "the last change", |r| {
        r.resource_updates.iter().any(|u| u == "fixture://last")
    })
    .await;
    // The trailing notice for `busy` may still be on its way; give it time.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let updates = host.received.lock().unwrap().resource_updates.clone();
    let busy = updates.iter().filter(|u| *u == "fixture://busy").count();
    assert!(busy < 100, "{busy} of 500 notices reached the client");
    assert!(busy >= 20, "the plugin's share still gets through: {busy}");
    assert_eq!(
        updates.iter().filter(|u| *u == "fixture://last").count(),
        1,
        "{updates:?}"
    );
    host.shutdown().await;
}

#[tokio::test]
async fn a_plugins_key_value_entries_stay_within_its_quota_across_restarts() {
    let dir = PluginDir::with(&[], &["facade"]);
    dir.write(
        "policy.toml",
        "[[rule]]\nplugins = \"facade\"\nkeyvalue-quota-entries = 3\nkeyvalue-quota-kib = 1\n",
    );
    let data = PluginDir::empty();
    let options = HostOptions::new(Era::Handshake, Transport::Http)
        .arg("--data-dir")
        .arg(data.path.to_str().unwrap())
        .arg("--policy")
        .arg(dir.path.join("policy.toml").to_str().unwrap());
    let count = |key: &str| json!({"namespace": "counters", "key": key});
    let over = |text: &str, unit: &str| {
        text.starts_with("keyvalue failed: invalid input: the plugin's key-value quota of")
            && text.contains(unit)
    };

    let host = Connected::start(&dir, options.clone()).await.unwrap();
    // A 1000-byte key fits the 1 KiB; two more small entries fit the count.
    let long = "k".repeat(1000);
    host.call_ok("count", count(&long)).await;
    let too_big = host.call("count", count(&"m".repeat(30))).await.unwrap();
    assert_eq!(too_big.is_error, Some(true));
    assert!(
        over(&text_of(&too_big), "1024 bytes"),
        "{}",
        text_of(&too_big)
    );
    host.call_ok("count", count("a")).await;
    host.call_ok("count", count("b")).await;
    let fourth = host.call("count", count("c")).await.unwrap();
    assert_eq!(fourth.is_error, Some(true));
    assert!(over(&text_of(&fourth), "3 entries"), "{}", text_of(&fourth));
    // What the plugin holds still works.
    assert_eq!(text_of(&host.call_ok("count", count("a")).await), "count=2");
    let url = host.url.clone().unwrap();
    let metrics = raw_http(&url, "GET", "/metrics", &[], "").await;
    assert_eq!(
        metric_sample(
            &metrics.body,
            "mcp_wasm_host_plugin_limit_hits_total{plugin=\"facade\",limit=\"keyvalue-quota\"}"
        ),
        Some(2.0),
        "{}",
        metrics.body
    );
    host.shutdown().await;

    // The usage is the store's, not the process's: a restart does not reset it.
    let host = Connected::start(&dir, options).await.unwrap();
    let again = host.call("count", count("c")).await.unwrap();
    assert!(over(&text_of(&again), "3 entries"), "{}", text_of(&again));
    assert_eq!(text_of(&host.call_ok("count", count("b")).await), "count=2");
    host.shutdown().await;
}

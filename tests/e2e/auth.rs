//! Bearer-token authentication over HTTP: no token, a wrong token, a
//! foreign Host header, a principal limited to some plugins, and one that
//! may use them all; resource updates filtered by principal.

use crate::support::*;
use serde_json::json;

#[tokio::test]
async fn tokens_principals_and_roles_decide_who_sees_what() {
    let dir = PluginDir::with(&["hello", "texttools", "notes"], &[]);
    let config = PluginDir::empty();
    config.write(
        "auth.toml",
        format!(
            "[[role]]\nname = \"reader\"\nplugins = [\"hello\", \"text*\"]\n\
             [[role]]\nname = \"admin\"\nplugins = [\"*\"]\nmetrics = true\n\
             [[principal]]\nid = \"bot\"\nroles = [\"reader\"]\ntoken-sha256 = \"{}\"\n\
             [[principal]]\nid = \"ops\"\nroles = [\"admin\"]\ntoken-sha256-env = \"OPS_DIGEST\"\n",
            token_digest("bot-token")
        ),
    );
    let auth_file = config.path.join("auth.toml");
    let options = |token: &str| {
        HostOptions::new(Era::Handshake, Transport::Http)
            .arg("--auth-file")
            .arg(auth_file.to_str().unwrap())
            .env("OPS_DIGEST", &token_digest("ops-token"))
            .bearer(token)
    };

    let bot = Connected::start(&dir, options("bot-token")).await.unwrap();
    let url = bot.url.clone().unwrap();
    // No token, a wrong token, another scheme: 401 with the challenge.
    let none = post_initialize(&url, &[]).await;
    assert!(none.starts_with("HTTP/1.1 401"), "{none}");
    assert!(
        none.contains("www-authenticate: Bearer realm=\"mcp-wasm-host\""),
        "{none}"
    );
    let wrong = post_initialize(&url, &[("Authorization", "Bearer not-a-token")]).await;
    assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");
    assert!(wrong.contains("error=\"invalid_token\""), "{wrong}");
    let basic = post_initialize(&url, &[("Authorization", "Basic Ym90LXRva2Vu")]).await;
    assert!(basic.starts_with("HTTP/1.1 401"), "{basic}");
    let right = post_initialize(&url, &[("Authorization", "Bearer bot-token")]).await;
    assert!(right.starts_with("HTTP/1.1 200"), "{right}");
    // A valid token does not make a foreign Host header acceptable.
    let foreign = post_initialize(
        &url,
        &[
            ("Authorization", "Bearer bot-token"),
            ("Host", "evil.example.com"),
        ],
    )
    .await;
    assert!(foreign.starts_with("HTTP/1.1 403"), "{foreign}");

    // The reader sees hello and texttools; notes is hidden everywhere.
    let names = bot.tool_names().await;
    assert!(names.contains(&"add".to_string()) && names.contains(&"slugify".to_string()));
    assert!(!names.iter().any(|n| n == "add_note"), "{names:?}");
    bot.call_ok("add", json!({"a": 1, "b": 2})).await;
    let hidden = bot
        .call("add_note", json!({"name": "a", "text": "x"}))
        .await
        .unwrap_err();
    assert!(
        hidden.to_string().contains("unknown tool `add_note`"),
        "{hidden}"
    );
    // The refused call leaves an audit line, though the caller is told
    // only that there is no such tool.
    bot.stderr
        .wait_for(
            "tool=\"add_note\" duration_ms=0.0 outcome=\"denied\"",
            std::time::Duration::from_secs(5),
        )
        .await
        .unwrap();
    // The failed attempts above are counted by reason.
    let metrics = raw_http(
        &url,
        "GET",
        "/metrics",
        &[("Authorization", "Bearer ops-token")],
        "",
    )
    .await
    .body;
    assert_eq!(
        metric_sample(
            &metrics,
            "mcp_wasm_host_auth_failures_total{reason=\"missing\"}"
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric_sample(
            &metrics,
            "mcp_wasm_host_auth_failures_total{reason=\"invalid\"}"
        ),
        Some(2.0),
        "{metrics}"
    );
    let prompts = bot.client.list_all_prompts().await.unwrap();
    assert!(prompts.is_empty(), "notes' prompts are hidden: {prompts:?}");
    let prompt = bot
        .client
        .get_prompt(rmcp::model::GetPromptRequestParams::new("summarize_notes"))
        .await;
    assert!(prompt.is_err(), "{prompt:?}");
    let templates = bot.client.list_all_resource_templates().await.unwrap();
    assert!(templates.is_empty(), "{templates:?}");
    let read = bot
        .client
        .read_resource(rmcp::model::ReadResourceRequestParams::new("note://a"))
        .await;
    assert!(read.is_err(), "{read:?}");
    bot.shutdown().await;

    // The admin sees everything.
    let ops = Connected::start(&dir, options("ops-token")).await.unwrap();
    let names = ops.tool_names().await;
    assert!(names.iter().any(|n| n == "add_note"), "{names:?}");
    assert!(!ops.client.list_all_prompts().await.unwrap().is_empty());
    assert!(
        !ops.client
            .list_all_resource_templates()
            .await
            .unwrap()
            .is_empty()
    );
    ops.call_ok("add_note", json!({"name": "a", "text": "x"}))
        .await;
    ops.shutdown().await;
}

#[test]
fn a_bad_auth_file_stops_the_host() {
    let config = PluginDir::empty();
    config.write(
        "auth.toml",
        "[[principal]]\nid = \"bot\"\nroles = [\"writer\"]\ntoken-sha256 = \"00\"\n",
    );
    let refused = serve_refuses([
        "--http",
        "127.0.0.1:0",
        "--plugins",
        config.path.to_str().unwrap(),
        "--auth-file",
        config.path.join("auth.toml").to_str().unwrap(),
    ]);
    assert!(refused.contains("auth.toml"), "{refused}");
    assert!(refused.contains("principal `bot`"), "{refused}");
}

/// `ops` (connected as the host's client) and `bot` (a second client over
/// the same listener), both subscribed to `fixture://greeting` of the
/// facade fixture, under the auth file `config` holds; what the bot
/// receives.
async fn ops_and_bot_subscribed(
    dir: &PluginDir,
    config: &PluginDir,
) -> (
    Connected,
    rmcp::service::RunningService<rmcp::RoleClient, RecordingClient>,
    std::sync::Arc<std::sync::Mutex<Received>>,
) {
    use rmcp::ServiceExt;
    use rmcp::model::SubscribeRequestParams;

    let ops = Connected::start(
        dir,
        HostOptions::new(Era::Handshake, Transport::Http)
            .arg("--auth-file")
            .arg(config.path.join("auth.toml").to_str().unwrap())
            .bearer("ops-token"),
    )
    .await
    .unwrap();
    let bot_handler = RecordingClient {
        received: Default::default(),
        script: ClientScript::default(),
    };
    let bot_received = bot_handler.received.clone();
    let bot = bot_handler
        .serve(http_client_transport_with(
            ops.url.clone().unwrap(),
            Some("bot-token"),
        ))
        .await
        .unwrap();
    for client in [&ops.client, &bot] {
        client
            .subscribe(SubscribeRequestParams::new(GREETING))
            .await
            .unwrap();
    }
    (ops, bot, bot_received)
}

const GREETING: &str = "fixture://greeting";

#[tokio::test]
async fn a_principal_revoked_by_sighup_hears_nothing_more_on_streams_it_opened() {
    let dir = PluginDir::with(&["hello"], &["facade"]);
    let config = PluginDir::empty();
    let principal = |id: &str| {
        format!(
            "[[principal]]\nid = \"{id}\"\nroles = [\"staff\"]\ntoken-sha256 = \"{}\"\n",
            token_digest(&format!("{id}-token"))
        )
    };
    let role = "[[role]]\nname = \"staff\"\nplugins = [\"*\"]\n";
    config.write(
        "auth.toml",
        format!("{role}{}{}", principal("ops"), principal("bot")),
    );
    let (ops, _bot, bot_received) = ops_and_bot_subscribed(&dir, &config).await;
    let uri = GREETING;
    // Before: both hear of the change.
    ops.call_ok("touch", json!({"uri": uri})).await;
    wait_until(&bot_received, "the bot's update", |r| {
        r.resource_updates.iter().any(|u| u == uri)
    })
    .await;
    bot_received.lock().unwrap().resource_updates.clear();
    ops.received.lock().unwrap().resource_updates.clear();

    // The bot's entry goes; the host re-reads the file on SIGHUP.
    config.write("auth.toml", format!("{role}{}", principal("ops")));
    send_signal(ops.pid().unwrap(), "HUP");
    ops.stderr
        .wait_for("re-read", std::time::Duration::from_secs(20))
        .await
        .unwrap();
    ops.call_ok("touch", json!({"uri": uri})).await;
    wait_until(&ops.received, "the update", |r| {
        r.resource_updates.iter().any(|u| u == uri)
    })
    .await;
    // Both sessions are told in one pass: had the bot been told, it would be
    // by now.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        bot_received.lock().unwrap().resource_updates.is_empty(),
        "the revoked bot hears nothing more"
    );
    ops.shutdown().await;
}

#[tokio::test]
async fn resource_updates_reach_only_principals_that_may_use_the_plugin() {
    let dir = PluginDir::with(&["hello"], &["facade"]);
    let config = PluginDir::empty();
    config.write(
        "auth.toml",
        format!(
            "[[role]]\nname = \"reader\"\nplugins = [\"hello\"]\n\
             [[role]]\nname = \"staff\"\nplugins = [\"*\"]\n\
             [[principal]]\nid = \"bot\"\nroles = [\"reader\"]\ntoken-sha256 = \"{}\"\n\
             [[principal]]\nid = \"ops\"\nroles = [\"staff\"]\ntoken-sha256 = \"{}\"\n",
            token_digest("bot-token"),
            token_digest("ops-token")
        ),
    );
    let (ops, bot, bot_received) = ops_and_bot_subscribed(&dir, &config).await;
    let uri = GREETING;
    ops.call_ok("touch", json!({"uri": uri})).await;
    wait_until(&ops.received, "the update", |r| {
        r.resource_updates.iter().any(|u| u == uri)
    })
    .await;
    // Both sessions are told in one pass: had the bot been told, it would be
    // by now.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        bot_received.lock().unwrap().resource_updates.is_empty(),
        "the bot may not use the facade plugin, so it hears nothing of it"
    );
    bot.cancel().await.unwrap();
    ops.shutdown().await;
}

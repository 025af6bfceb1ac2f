//! Principals own what they start: a handshake-era session answers only
//! the principal that opened it, a `requestState` resumes only for its
//! caller (and only while the caller may use the plugin), a round that
//! completed never runs again, and sessions are capped.

use rmcp::model::{CallToolResponse, InputRequiredResult, InputResponses};
use rmcp::service::ClientServiceExt;
use serde_json::{Value, json};

use crate::support::*;

/// A host over HTTP with three principals: `alice` and `mallory` may use
/// every plugin, `bob` only `hello`.
async fn principals(dir: &PluginDir, era: Era, extra: &[&str]) -> (Connected, PluginDir) {
    let config = PluginDir::empty();
    config.write(
        "auth.toml",
        format!(
            "[[role]]\nname = \"all\"\nplugins = [\"*\"]\nmetrics = true\n\
             [[role]]\nname = \"greeter\"\nplugins = [\"hello\"]\n\
             [[principal]]\nid = \"alice\"\nroles = [\"all\"]\ntoken-sha256 = \"{}\"\n\
             [[principal]]\nid = \"bob\"\nroles = [\"greeter\"]\ntoken-sha256 = \"{}\"\n\
             [[principal]]\nid = \"mallory\"\nroles = [\"all\"]\ntoken-sha256 = \"{}\"\n",
            token_digest("alice-token"),
            token_digest("bob-token"),
            token_digest("mallory-token")
        ),
    );
    let mut options = HostOptions::new(era, Transport::Http)
        .arg("--auth-file")
        .arg(config.path.join("auth.toml").to_str().unwrap())
        .bearer("alice-token")
        .script(ClientScript::capable([]));
    for arg in extra {
        options = options.arg(*arg);
    }
    (Connected::start(dir, options).await.unwrap(), config)
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#;

/// Open a handshake-era session by hand as `token`: its id.
async fn open_session(url: &str, token: &str) -> String {
    let bearer = format!("Bearer {token}");
    let opened = post_mcp(
        url,
        &[("Authorization", &bearer)],
        &serde_json::from_str(INITIALIZE).unwrap(),
    )
    .await;
    assert_eq!(opened.status, 200, "{opened:?}");
    let id = opened.header("mcp-session-id").expect("a session id");
    let initialized = post_mcp(
        url,
        &[
            ("Authorization", &bearer),
            ("Mcp-Session-Id", &id),
            ("MCP-Protocol-Version", "2025-11-25"),
        ],
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert_eq!(initialized.status, 202, "{initialized:?}");
    id
}

async fn call_in_session(
    url: &str,
    token: &str,
    session: &str,
    tool: &str,
    arguments: Value,
) -> RawResponse {
    post_mcp(
        url,
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("Mcp-Session-Id", session),
            ("MCP-Protocol-Version", "2025-11-25"),
        ],
        &json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                "params": {"name": tool, "arguments": arguments}}),
    )
    .await
}

async fn metrics(url: &str, token: &str) -> String {
    raw_http(
        url,
        "GET",
        "/metrics",
        &[("Authorization", &format!("Bearer {token}"))],
        "",
    )
    .await
    .body
}

#[tokio::test]
async fn a_session_answers_only_the_principal_that_opened_it() {
    let dir = PluginDir::with(&["hello"], &["facade"]);
    let (host, _config) = principals(&dir, Era::Handshake, &[]).await;
    let url = host.url.clone().unwrap();
    let session = open_session(&url, "alice-token").await;
    let stored = call_in_session(
        &url,
        "alice-token",
        &session,
        "remember",
        json!({"key": "k", "value": "alice's secret"}),
    )
    .await;
    assert!(stored.body.contains("remembered k"), "{stored:?}");
    let own = call_in_session(&url, "alice-token", &session, "recall", json!({"key": "k"})).await;
    assert!(own.body.contains("alice's secret"), "{own:?}");

    // Bob sends Alice's session id with his own token: no such session.
    let foreign = call_in_session(&url, "bob-token", &session, "recall", json!({"key": "k"})).await;
    assert_eq!(foreign.status, 404, "{foreign:?}");
    assert!(!foreign.body.contains("alice's secret"), "{foreign:?}");
    let foreign =
        call_in_session(&url, "bob-token", &session, "add", json!({"a": 1, "b": 2})).await;
    assert_eq!(foreign.status, 404, "{foreign:?}");
    let deleted = raw_http(
        &url,
        "DELETE",
        "/mcp",
        &[
            ("Authorization", "Bearer bob-token"),
            ("Mcp-Session-Id", &session),
        ],
        "",
    )
    .await;
    assert_eq!(deleted.status, 404, "bob cannot close it: {deleted:?}");
    let text = metrics(&url, "alice-token").await;
    assert_eq!(
        metric_sample(
            &text,
            "mcp_wasm_host_refused_total{reason=\"foreign-session\"}"
        ),
        Some(3.0),
        "{text}"
    );

    // The session still serves Alice.
    let own = call_in_session(&url, "alice-token", &session, "recall", json!({"key": "k"})).await;
    assert!(own.body.contains("alice's secret"), "{own:?}");

    // What a plugin sees of the session is not the session id.
    let seen = call_in_session(&url, "alice-token", &session, "session_id", json!({})).await;
    assert!(seen.body.contains("s-"), "{seen:?}");
    assert!(!seen.body.contains(&session), "{seen:?}");
    host.shutdown().await;
}

#[tokio::test]
async fn a_principal_making_session_scopes_pushes_out_only_its_own() {
    let dir = PluginDir::with(&[], &["facade"]);
    let (host, _config) = principals(
        &dir,
        Era::Handshake,
        &[
            "--max-session-scopes",
            "4",
            "--max-session-scopes-per-principal",
            "2",
        ],
    )
    .await;
    let url = host.url.clone().unwrap();
    let remember = async |token: &str, session: &str, value: &str| {
        let stored = call_in_session(
            &url,
            token,
            session,
            "remember",
            json!({"key": "k", "value": value}),
        )
        .await;
        assert!(stored.body.contains("remembered k"), "{stored:?}");
    };
    let recall = async |token: &str, session: &str| {
        call_in_session(&url, token, session, "recall", json!({"key": "k"}))
            .await
            .body
    };
    let alice = open_session(&url, "alice-token").await;
    remember("alice-token", &alice, "alice's value").await;
    // Mallory opens ten sessions, each keeping state: more than the whole
    // store holds.
    let mut mallorys = Vec::new();
    for i in 0..10 {
        let session = open_session(&url, "mallory-token").await;
        remember("mallory-token", &session, &format!("mallory-{i}")).await;
        mallorys.push(session);
    }
    let body = recall("alice-token", &alice).await;
    assert!(
        body.contains("alice's value"),
        "Alice's state survives Mallory's flood: {body}"
    );
    // Mallory keeps her two most recent scopes and nothing older.
    for (session, expected) in [(9, "mallory-9"), (8, "mallory-8"), (0, "missing")] {
        let body = recall("mallory-token", &mallorys[session]).await;
        assert!(body.contains(expected), "session {session}: {body}");
    }
    host.shutdown().await;
}

#[tokio::test]
async fn sessions_are_capped_and_a_closed_one_frees_its_place() {
    let dir = PluginDir::with(&["hello"], &[]);
    let (host, _config) = principals(&dir, Era::Handshake, &["--max-sessions", "2"]).await;
    let url = host.url.clone().unwrap();
    // The connected client holds one session; one more fits.
    let second = open_session(&url, "bob-token").await;
    let refused = post_mcp(
        &url,
        &[("Authorization", "Bearer bob-token")],
        &serde_json::from_str(INITIALIZE).unwrap(),
    )
    .await;
    assert_eq!(refused.status, 503, "{refused:?}");
    assert!(refused.header("retry-after").is_some(), "{refused:?}");
    assert!(
        refused.body.contains("maximum of 2 sessions"),
        "{refused:?}"
    );
    // The same method spelled with a JSON escape is the same method.
    let escaped = raw_http(
        &url,
        "POST",
        "/mcp",
        &[
            ("Authorization", "Bearer bob-token"),
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
        ],
        &INITIALIZE.replace("\"initialize\"", "\"initi\\u0061lize\""),
    )
    .await;
    assert_eq!(escaped.status, 503, "{escaped:?}");
    // Requests of existing sessions still go through.
    host.call_ok("add", json!({"a": 1, "b": 2})).await;
    let closed = raw_http(
        &url,
        "DELETE",
        "/mcp",
        &[
            ("Authorization", "Bearer bob-token"),
            ("Mcp-Session-Id", &second),
        ],
        "",
    )
    .await;
    assert!(closed.status < 300, "{closed:?}");
    open_session(&url, "bob-token").await;
    let text = metrics(&url, "alice-token").await;
    assert_eq!(
        metric_sample(
            &text,
            "mcp_wasm_host_refused_total{reason=\"sessions-full\"}"
        ),
        Some(2.0),
        "{text}"
    );
    host.shutdown().await;
}

#[tokio::test]
async fn one_principal_cannot_take_every_session() {
    // Eight sessions: a quarter, two, for each authenticated principal.
    let dir = PluginDir::with(&["hello"], &[]);
    let (host, _config) = principals(&dir, Era::Handshake, &["--max-sessions", "8"]).await;
    let url = host.url.clone().unwrap();
    let first = open_session(&url, "mallory-token").await;
    open_session(&url, "mallory-token").await;
    let refused = post_mcp(
        &url,
        &[("Authorization", "Bearer mallory-token")],
        &serde_json::from_str(INITIALIZE).unwrap(),
    )
    .await;
    assert_eq!(refused.status, 429, "{refused:?}");
    assert!(refused.header("retry-after").is_some(), "{refused:?}");
    assert!(
        refused.body.contains(
            "principal `mallory` holds its share of 2 sessions (a quarter of the host's 8)"
        ),
        "{refused:?}"
    );
    // The others still open theirs: bob two, alice (whose client holds
    // one) a second.
    open_session(&url, "bob-token").await;
    open_session(&url, "bob-token").await;
    open_session(&url, "alice-token").await;
    // A session closed gives its principal its place back.
    let closed = raw_http(
        &url,
        "DELETE",
        "/mcp",
        &[
            ("Authorization", "Bearer mallory-token"),
            ("Mcp-Session-Id", &first),
        ],
        "",
    )
    .await;
    assert!(closed.status < 300, "{closed:?}");
    open_session(&url, "mallory-token").await;
    let text = metrics(&url, "alice-token").await;
    assert_eq!(
        metric_sample(
            &text,
            "mcp_wasm_host_refused_total{reason=\"sessions-share\"}"
        ),
        Some(1.0),
        "{text}"
    );
    host.shutdown().await;
}

fn input_required(response: CallToolResponse) -> (String, String) {
    match response {
        CallToolResponse::InputRequired(InputRequiredResult {
            input_requests: Some(requests),
            request_state: Some(state),
            ..
        }) => (requests.keys().next().unwrap().clone(), state),
        other => panic!("input was expected to be required: {other:?}"),
    }
}

fn accepted(tool: &str, key: &str, name: &str, state: &str) -> rmcp::model::CallToolRequestParams {
    let mut responses = InputResponses::new();
    responses.insert(
        key.to_string(),
        json!({"action": "accept", "content": {"name": name}}),
    );
    params(tool, empty_args())
        .with_input_responses(responses)
        .with_request_state(state.to_string())
}

#[tokio::test]
async fn a_request_state_resumes_only_for_its_caller_and_a_round_runs_once() {
    let dir = PluginDir::with(&["hello"], &["facade"]);
    let (alice, _config) = principals(&dir, Era::Modern, &[]).await;
    let url = alice.url.clone().unwrap();
    let bob = RecordingClient::default()
        .serve_with_lifecycle(
            http_client_transport_with(url.clone(), Some("bob-token")),
            rmcp::service::ClientLifecycleMode::Discover {
                preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .unwrap();

    let (key, state) = input_required(
        alice
            .client
            .call_tool_once(params("elicit_name", empty_args()))
            .await
            .unwrap(),
    );
    // Bob (who may use only `hello`) retries Alice's call with an answer.
    let stolen = bob
        .call_tool_once(accepted("elicit_name", &key, "Mallory", &state))
        .await
        .unwrap_err();
    let (code, message) = protocol_error(&stolen).expect("a protocol error");
    assert_eq!(code, -32602, "{message}");
    assert!(message.contains("issued to another caller"), "{message}");

    // Alice finishes her call; sending the same final retry again returns
    // the same result without running the tool again.
    let before = metrics(&url, "alice-token").await;
    let calls = |text: &str| {
        metric_sample(
            text,
            "mcp_wasm_host_tool_calls_total{plugin=\"facade\",tool=\"elicit_name\"}",
        )
        .unwrap_or(0.0)
    };
    let done = alice
        .client
        .call_tool_once(accepted("elicit_name", &key, "Ada", &state))
        .await
        .unwrap();
    let CallToolResponse::Complete(first) = done else {
        panic!("complete: {done:?}")
    };
    assert_eq!(text_of(&first), "hello Ada");
    let after_first = metrics(&url, "alice-token").await;
    let again = alice
        .client
        .call_tool_once(accepted("elicit_name", &key, "Ada", &state))
        .await
        .unwrap();
    let CallToolResponse::Complete(second) = again else {
        panic!("complete: {again:?}")
    };
    assert_eq!(text_of(&second), "hello Ada");
    let after_repeat = metrics(&url, "alice-token").await;
    assert_eq!(calls(&after_first), calls(&before) + 1.0, "{after_first}");
    assert_eq!(calls(&after_repeat), calls(&after_first), "{after_repeat}");
    assert_eq!(
        metric_sample(&after_repeat, "mcp_wasm_host_round_repeats_total"),
        Some(1.0),
        "{after_repeat}"
    );
    // Bob cannot fetch the kept result either.
    let stolen = bob
        .call_tool_once(accepted("elicit_name", &key, "Ada", &state))
        .await
        .unwrap_err();
    assert!(
        protocol_error(&stolen).is_some_and(|(_, m)| m.contains("issued to another caller")),
        "{stolen}"
    );
    assert_eq!(
        metric_sample(
            &metrics(&url, "alice-token").await,
            "mcp_wasm_host_refused_total{reason=\"foreign-request-state\"}"
        ),
        Some(2.0)
    );
    bob.cancel().await.unwrap();
    alice.shutdown().await;
}

/// The text of the first result in an SSE or JSON response body.
fn result_text(response: &RawResponse) -> String {
    let json = response
        .body
        .lines()
        .find_map(|l| {
            l.strip_prefix("data: ")
                .or(Some(l))
                .filter(|l| l.starts_with('{'))
        })
        .unwrap_or_else(|| panic!("no JSON in {response:?}"));
    let message: Value = serde_json::from_str(json).unwrap();
    message["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no result text in {message}"))
        .to_string()
}

#[tokio::test]
async fn a_2026_07_28_request_never_takes_a_session_from_its_header() {
    let dir = PluginDir::with(&[], &["twin"]);
    dir.set_manifest(
        "twin",
        "name = \"twin\"\nversion = \"0.1.0\"\ninstance = \"per-session\"\n\
         [capabilities]\noptional = [\"elicitation\"]\n",
    );
    let host = Connected::start(&dir, HostOptions::new(Era::Modern, Transport::Http))
        .await
        .unwrap();
    let url = host.url.clone().unwrap();
    // A handshake-era session whose warm instance has served one call.
    let opened = post_mcp(&url, &[], &serde_json::from_str(INITIALIZE).unwrap()).await;
    let session = opened.header("mcp-session-id").expect("a session id");
    let in_session = [
        ("Mcp-Session-Id", session.as_str()),
        ("MCP-Protocol-Version", "2025-11-25"),
    ];
    post_mcp(
        &url,
        &in_session,
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    let calls = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                       "params": {"name": "calls", "arguments": {}}});
    assert_eq!(result_text(&post_mcp(&url, &in_session, &calls).await), "1");

    // A 2026-07-28 request carrying that session's id: a fresh instance,
    // not the session's.
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "m", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let modern = post_mcp(
        &url,
        &[
            ("Mcp-Session-Id", session.as_str()),
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", "tools/call"),
            ("Mcp-Name", "calls"),
        ],
        &json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                "params": {"name": "calls", "arguments": {}, "_meta": meta}}),
    )
    .await;
    assert_eq!(result_text(&modern), "1", "{modern:?}");
    // The session's instance was not touched.
    assert_eq!(result_text(&post_mcp(&url, &in_session, &calls).await), "2");
    host.shutdown().await;
}

/// An auth file with a `writer` (ann) and a `reader` (rex), both allowed
/// every plugin, and a policy granting the facade session state for
/// writers only.
fn writers_and_readers(dir: &PluginDir) -> PluginDir {
    let config = PluginDir::empty();
    config.write(
        "auth.toml",
        format!(
            "[[role]]\nname = \"writer\"\nplugins = [\"*\"]\n\
             [[role]]\nname = \"reader\"\nplugins = [\"*\"]\n\
             [[principal]]\nid = \"ann\"\nroles = [\"writer\"]\ntoken-sha256 = \"{}\"\n\
             [[principal]]\nid = \"rex\"\nroles = [\"reader\"]\ntoken-sha256 = \"{}\"\n",
            token_digest("ann-token"),
            token_digest("rex-token"),
        ),
    );
    dir.write(
        "policy.toml",
        "[[rule]]\nplugins = \"facade\"\nroles = [\"writer\"]\ngrant = [\"session-state\"]\n\n\
         [[rule]]\nplugins = \"facade\"\ndeny = [\"session-state\"]\n",
    );
    config
}

#[tokio::test]
async fn the_same_tool_is_granted_per_caller_role() {
    let dir = PluginDir::with(&[], &["facade"]);
    let config = writers_and_readers(&dir);
    let options = HostOptions::new(Era::Handshake, Transport::Http)
        .arg("--auth-file")
        .arg(config.path.join("auth.toml").to_str().unwrap())
        .arg("--policy")
        .arg(dir.path.join("policy.toml").to_str().unwrap())
        .bearer("ann-token")
        .script(ClientScript::capable([]));
    let host = Connected::start(&dir, options).await.unwrap();
    let url = host.url.clone().unwrap();
    let remember = |token: &'static str, session: String| {
        let url = url.clone();
        async move {
            call_in_session(
                &url,
                token,
                &session,
                "remember",
                json!({"key": "k", "value": "v"}),
            )
            .await
        }
    };
    let ann = open_session(&url, "ann-token").await;
    let stored = remember("ann-token", ann).await;
    assert!(stored.body.contains("remembered k"), "{stored:?}");
    // The same tool, the same plugin instance kind, another role.
    let rex = open_session(&url, "rex-token").await;
    let denied = remember("rex-token", rex.clone()).await;
    assert!(
        denied.body.contains("not granted to this caller")
            && denied.body.contains("only to role `writer`")
            && denied.body.contains("principal `rex` (roles: reader)"),
        "{denied:?}"
    );
    // Asked again, the answer is the same (the grant is kept per caller).
    let again = remember("rex-token", rex).await;
    assert!(
        again.body.contains("not granted to this caller"),
        "{again:?}"
    );
    // And the writer still writes.
    let ann_again = open_session(&url, "ann-token").await;
    let stored = remember("ann-token", ann_again).await;
    assert!(stored.body.contains("remembered k"), "{stored:?}");
    host.shutdown().await;
}

#[tokio::test]
async fn stdio_is_the_principal_it_is_told_to_be() {
    let dir = PluginDir::with(&[], &["facade"]);
    let config = writers_and_readers(&dir);
    let auth = config.path.join("auth.toml");
    let policy = dir.path.join("policy.toml");
    for (id, granted) in [("ann", true), ("rex", false)] {
        let options = HostOptions::new(Era::Handshake, Transport::Stdio)
            .arg("--auth-file")
            .arg(auth.to_str().unwrap())
            .arg("--stdio-principal")
            .arg(id)
            .arg("--policy")
            .arg(policy.to_str().unwrap());
        let host = Connected::start(&dir, options).await.unwrap();
        let result = host
            .call("remember", json!({"key": "k", "value": "v"}))
            .await
            .unwrap();
        let text = text_of(&result);
        if granted {
            assert!(text.contains("remembered k"), "{id}: {text}");
        } else {
            assert!(
                result.is_error == Some(true)
                    && text.contains("not granted to this caller")
                    && text.contains("principal `rex`"),
                "{id}: {text}"
            );
        }
        host.shutdown().await;
    }
    // Without a principal, stdio holds every role.
    let host = Connected::start(
        &dir,
        HostOptions::new(Era::Handshake, Transport::Stdio)
            .arg("--policy")
            .arg(policy.to_str().unwrap()),
    )
    .await
    .unwrap();
    let result = host
        .call_ok("remember", json!({"key": "k", "value": "v"}))
        .await;
    assert!(text_of(&result).contains("remembered k"));
    host.shutdown().await;
    // A principal the auth file does not name, or no auth file: the host
    // does not start.
    for args in [
        vec![
            "--auth-file",
            auth.to_str().unwrap(),
            "--stdio-principal",
            "nobody",
        ],
        vec!["--stdio-principal", "ann"],
    ] {
        let output = std::process::Command::new(host_binary())
            .arg("serve")
            .arg("--plugins")
            .arg(&dir.path)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}: {stderr}");
        assert!(stderr.contains("--stdio-principal"), "{args:?}: {stderr}");
    }
}

#[test]
fn plugin_check_shows_the_grants_of_one_principal() {
    let dir = PluginDir::with(&[], &["facade"]);
    let config = writers_and_readers(&dir);
    let check = |extra: &[&str]| {
        let output = std::process::Command::new(host_binary())
            .args(["plugin", "check"])
            .arg(dir.path.join("facade.wasm"))
            .arg("--policy")
            .arg(dir.path.join("policy.toml"))
            .arg("--auth-file")
            .arg(config.path.join("auth.toml"))
            .args(extra)
            .output()
            .unwrap();
        (
            output.status,
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (status, ann, _) = check(&["--principal", "ann"]);
    assert!(status.success(), "{ann}");
    assert!(
        ann.contains("caller: principal `ann` (roles: writer)"),
        "{ann}"
    );
    assert!(
        ann.contains("session-state: granted by policy rule 1"),
        "{ann}"
    );
    let (status, rex, _) = check(&["--principal", "rex"]);
    assert!(status.success(), "{rex}");
    assert!(
        rex.contains("session-state: not granted to this caller: policy rule 1")
            && rex.contains("role `writer`")
            && rex.contains("principal `rex` (roles: reader)"),
        "{rex}"
    );
    let (_, everyone, _) = check(&[]);
    assert!(
        everyone.contains("caller: a caller with every role"),
        "{everyone}"
    );
    assert!(everyone.contains("session-state: granted"), "{everyone}");
    let (status, _, stderr) = check(&["--principal", "nobody"]);
    assert!(
        !status.success() && stderr.contains("no such principal"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_stdio_principal_takes_its_roles_from_the_auth_file_in_force() {
    let dir = PluginDir::with(&[], &["facade"]);
    let config = writers_and_readers(&dir);
    let auth = config.path.join("auth.toml");
    let options = HostOptions::new(Era::Handshake, Transport::Stdio)
        .arg("--auth-file")
        .arg(auth.to_str().unwrap())
        .arg("--stdio-principal")
        .arg("rex")
        .arg("--policy")
        .arg(dir.path.join("policy.toml").to_str().unwrap());
    let host = Connected::start(&dir, options).await.unwrap();
    let remember = json!({"key": "k", "value": "v"});
    let denied = host.call("remember", remember.clone()).await.unwrap();
    assert!(
        text_of(&denied).contains("principal `rex` (roles: reader)"),
        "{denied:?}"
    );
    // The operator makes rex a writer and sends SIGHUP.
    let text = std::fs::read_to_string(&auth).unwrap();
    std::fs::write(
        &auth,
        text.replace(
            "id = \"rex\"\nroles = [\"reader\"]",
            "id = \"rex\"\nroles = [\"writer\"]",
        ),
    )
    .unwrap();
    // The policy is re-read too; wait for the auth file's own line.
    let auth_reread = format!("auth file {} re-read", auth.display());
    hang_up(&dir);
    host.stderr
        .wait_until_count(&auth_reread, 1, std::time::Duration::from_secs(10))
        .await;
    let granted = host.call_ok("remember", remember.clone()).await;
    assert!(text_of(&granted).contains("remembered k"), "{granted:?}");
    // Removed from the file, rex reaches nothing.
    std::fs::write(&auth, text.replace("id = \"rex\"", "id = \"rhea\"")).unwrap();
    hang_up(&dir);
    host.stderr
        .wait_until_count(&auth_reread, 2, std::time::Duration::from_secs(10))
        .await;
    let gone = host.call("remember", remember).await;
    assert!(
        gone.as_ref().map_or(true, |r| r.is_error == Some(true)),
        "{gone:?}"
    );
    host.shutdown().await;
}

/// Send SIGHUP to the stdio host serving `dir` (its process belongs to the
/// client transport, so it is found by the directory on its command line).
fn hang_up(dir: &PluginDir) {
    let wanted = dir.path.to_string_lossy().into_owned();
    let pid = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmd| {
                let cmd = String::from_utf8_lossy(&cmd);
                cmd.contains("serve") && cmd.split('\0').any(|a| a == wanted)
            })
        })
        .expect("the host serving the directory");
    send_signal(pid, "HUP");
}

//! Outbound HTTP through the `fetch` example plugin, against test servers on
//! 127.0.0.1: networking needs a policy rule; the allow-list holds for the
//! first request and for every redirect; the credential bound in the
//! manifest reaches its origin and no other, never reaches the guest, and
//! never appears in the host's log; answers are cached in the key-value
//! store; and the `secrets` capability with its no-permission twin.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde_json::json;

use super::support::*;

const TOKEN: &str = "s3cr3t-t0ken-f0r-tests";

/// What a test server saw: each request's path and headers.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(String, HeaderMap)>>>);

impl Seen {
    fn paths(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(p, _)| p.clone())
            .collect()
    }

    fn authorization_of(&self, path: &str) -> Vec<Option<String>> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, h)| {
                h.get(header::AUTHORIZATION)
                    .map(|v| v.to_str().unwrap().to_string())
            })
            .collect()
    }
}

/// A test server on 127.0.0.1 that records what it receives.
struct TestServer {
    addr: SocketAddr,
    seen: Seen,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct Routes {
    seen: Seen,
    /// The port of the other server, for cross-origin redirects.
    other_port: Arc<Mutex<u16>>,
}

async fn record(State(routes): State<Routes>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    routes
        .seen
        .0
        .lock()
        .unwrap()
        .push((path.clone(), request.headers().clone()));
    let other = *routes.other_port.lock().unwrap();
    let authorized = request
        .headers()
        .get(header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == format!("Bearer {TOKEN}").as_bytes());
    match path.as_str() {
        "/data" if authorized => (
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"answer":42}"#,
        )
            .into_response(),
        "/data" => (StatusCode::UNAUTHORIZED, "who are you?").into_response(),
        "/hop" => Redirect::to("/data").into_response(),
        "/loop" => Redirect::to("/loop").into_response(),
        // The other server, at an origin the policy does not allow.
        "/away" => Redirect::to(&format!("http://127.0.0.1:{other}/landing")).into_response(),
        // The other server, at an allowed origin that has no credential.
        "/cross" => Redirect::to(&format!("http://localhost:{other}/echo")).into_response(),
        "/echo" => "echoed".into_response(),
        "/big" => "x".repeat(3 << 20).into_response(),
        _ => (StatusCode::NOT_FOUND, "no such page").into_response(),
    }
}

impl TestServer {
    async fn start() -> Self {
        Self::start_with(Arc::default()).await
    }

    async fn start_with(other_port: Arc<Mutex<u16>>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Seen::default();
        let app = axum::Router::new()
            .fallback(get(record))
            .with_state(Routes {
                seen: seen.clone(),
                other_port,
            });
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, seen, task }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.addr.port())
    }
}

/// Two servers: `api` (allowed, with the credential) and `other` (reachable
/// only as `localhost`, which is allowed without a credential).
async fn servers() -> (TestServer, TestServer) {
    let other_port = Arc::new(Mutex::new(0));
    let api = TestServer::start_with(other_port.clone()).await;
    let other = TestServer::start().await;
    *other_port.lock().unwrap() = other.addr.port();
    (api, other)
}

/// The operator lets `fetch` reach the two servers; `localhost` is a name
/// of the host's own network, which takes `http-allow-private`.
fn policy_for(api: &TestServer, other: &TestServer) -> String {
    format!(
        "{}http-allow-private = true\n",
        policy_without_private(api, other)
    )
}

fn policy_without_private(api: &TestServer, other: &TestServer) -> String {
    format!(
        "[[rule]]\nplugins = \"fetch\"\ngrant = [\"http\"]\nhttp-allow = [\"http://127.0.0.1:{}\", \"http://localhost:{}\"]\n",
        api.addr.port(),
        other.addr.port()
    )
}

#[tokio::test]
async fn a_name_of_the_hosts_own_network_is_reached_only_when_the_rule_allows_it() {
    let (api, other) = servers().await;
    let dir = PluginDir::with(&["fetch"], &[]);
    let options = HostOptions::new(Era::Handshake, Transport::Stdio)
        .policy(
            &dir,
            &format!(
                "{}max-http-response-kib = 1\n",
                policy_without_private(&api, &other)
            ),
        )
        .env("MCP_WASM_HOST_SECRET_FETCH_LOCAL_TOKEN", TOKEN);
    let host = Connected::start(&dir, options).await.unwrap();
    // The allowed origin names the loopback literal: reachable.
    let ok = host.call_ok("fetch", fetch_args(&api.url("/data"))).await;
    assert_eq!(text_of(&ok), r#"{"answer":42}"#);
    // `localhost` is allowed by name, but resolves to the loopback.
    let by_name = format!("http://localhost:{}/landing", other.addr.port());
    let refused = host.call_err("fetch", fetch_args(&by_name)).await;
    assert!(
        refused.contains("denied:")
            && refused
                .contains("`localhost` resolves only to addresses of the host's own networks")
            && refused.contains("loopback"),
        "{refused}"
    );
    // So is a redirect hop to it.
    let cross = host.call_err("fetch", fetch_args(&api.url("/cross"))).await;
    assert!(
        cross.contains("resolves only to addresses of the host's own networks"),
        "{cross}"
    );
    assert!(other.seen.paths().is_empty(), "{:?}", other.seen.paths());
    // The rule's ceiling lowers the manifest's response cap.
    let big = host.call_err("fetch", fetch_args(&api.url("/big"))).await;
    assert!(
        big.contains("larger than the plugin's cap of 1 KiB"),
        "{big}"
    );
    host.shutdown().await;
}

#[tokio::test]
async fn a_private_address_named_only_by_the_manifest_is_not_reached() {
    // `fetch` declares `http://127.0.0.1:*`; a rule that grants `http`
    // without naming origins keeps the manifest's list, but the loopback
    // literal in it is the manifest's word alone.
    let (api, _other) = servers().await;
    let dir = PluginDir::with(&["fetch"], &[]);
    let options = HostOptions::new(Era::Handshake, Transport::Stdio)
        .policy(&dir, "[[rule]]\nplugins = \"fetch\"\ngrant = [\"http\"]\n")
        .env("MCP_WASM_HOST_SECRET_FETCH_LOCAL_TOKEN", TOKEN);
    let host = Connected::start(&dir, options).await.unwrap();
    let refused = host.call_err("fetch", fetch_args(&api.url("/data"))).await;
    assert!(
        refused.contains(
            "127.0.0.1 is a loopback address, named only by the plugin's manifest: the granting \
             rule must name it in `http-allow` (or set `http-allow-private = true`)"
        ),
        "{refused}"
    );
    host.shutdown().await;
    assert!(api.seen.paths().is_empty(), "{:?}", api.seen.paths());
}

fn fetch_args(url: &str) -> serde_json::Value {
    json!({"url": url, "max_age_seconds": 0})
}

#[tokio::test]
async fn requests_follow_the_allow_list_and_carry_the_credential_only_to_its_origin() {
    let (api, other) = servers().await;
    let dir = PluginDir::with(&["fetch"], &[]);
    let options = HostOptions::new(Era::Handshake, Transport::Stdio)
        .policy(&dir, &policy_for(&api, &other))
        .env("MCP_WASM_HOST_SECRET_FETCH_LOCAL_TOKEN", TOKEN)
        .env("MCP_WASM_HOST_LOG", "info,mcp_wasm_host=debug");
    let host = Connected::start(&dir, options).await.unwrap();

    // The credential reaches the server; the guest gets the answer, not the token.
    let ok = host.call_ok("fetch", fetch_args(&api.url("/data"))).await;
    assert_eq!(text_of(&ok), r#"{"answer":42}"#);
    let everything_the_guest_returned = serde_json::to_string(&ok).unwrap();
    assert!(!everything_the_guest_returned.contains(TOKEN));
    assert_eq!(
        api.seen.authorization_of("/data"),
        [Some(format!("Bearer {TOKEN}"))]
    );
    let structured = ok.structured_content.clone().unwrap();
    assert_eq!(structured["status"], 200);
    assert_eq!(structured["cached"], false);

    // A redirect within the origin keeps the credential.
    let hop = host.call_ok("fetch", fetch_args(&api.url("/hop"))).await;
    assert_eq!(
        hop.structured_content.unwrap()["final_url"],
        api.url("/data")
    );

    // A request to an origin that is not allowed is refused before it is sent.
    let direct = format!("http://127.0.0.1:{}/landing", other.addr.port());
    let refused = host.call_err("fetch", fetch_args(&direct)).await;
    let allowed = format!(
        "allowed: http://127.0.0.1:{}, http://localhost:{}",
        api.addr.port(),
        other.addr.port()
    );
    assert_eq!(
        refused,
        format!(
            "fetching {direct} failed: denied: http://127.0.0.1:{} is not an allowed origin ({allowed})",
            other.addr.port()
        )
    );
    let elsewhere = host
        .call_err("fetch", fetch_args("https://example.com/"))
        .await;
    assert!(
        elsewhere.contains("denied: https://example.com is not an allowed origin"),
        "{}",
        elsewhere
    );

    // So is a redirect to one; the other server never hears of it.
    let away = host.call_err("fetch", fetch_args(&api.url("/away"))).await;
    assert!(
        away.contains(&format!(
            "denied: {} redirects to {direct}, and http://127.0.0.1:{} is not an allowed origin",
            api.url("/away"),
            other.addr.port()
        )),
        "{}",
        away
    );
    assert!(other.seen.paths().is_empty(), "{:?}", other.seen.paths());

    // A redirect to another allowed origin goes there without the credential.
    let cross = host.call_ok("fetch", fetch_args(&api.url("/cross"))).await;
    assert_eq!(text_of(&cross), "echoed");
    assert_eq!(other.seen.authorization_of("/echo"), [None]);

    // Redirect loops and oversized bodies stop with a reason.
    let looping = host.call_err("fetch", fetch_args(&api.url("/loop"))).await;
    assert!(
        looping.contains("failed: stopped after 5 redirects"),
        "{}",
        looping
    );
    let big = host.call_err("fetch", fetch_args(&api.url("/big"))).await;
    assert!(
        big.contains("larger than the plugin's cap of 2048 KiB"),
        "{}",
        big
    );

    // The log shows the requests, with the credential redacted.
    let log = host
        .stderr
        .wait_for(
            "authorization: [redacted]",
            std::time::Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert!(
        log.contains(&format!("http GET {}", api.url("/data"))),
        "{log}"
    );
    assert!(!log.contains(TOKEN), "the token is in the log");
    host.shutdown().await;
}

#[tokio::test]
async fn answers_are_cached_in_the_key_value_store_across_restarts() {
    let (api, other) = servers().await;
    let dir = PluginDir::with(&["fetch"], &[]);
    let data = dir.path.join("data");
    let options = HostOptions::new(Era::Modern, Transport::Http)
        .policy(&dir, &policy_for(&api, &other))
        .arg("--data-dir")
        .arg(data.to_str().unwrap())
        .env("MCP_WASM_HOST_SECRET_FETCH_LOCAL_TOKEN", TOKEN);
    let cached = json!({"url": api.url("/data"), "max_age_seconds": 600});

    let host = Connected::start(&dir, options.clone()).await.unwrap();
    let first = host.call_ok("fetch", cached.clone()).await;
    assert_eq!(first.structured_content.unwrap()["cached"], false);
    let second = host.call_ok("fetch", cached.clone()).await;
    assert_eq!(second.structured_content.as_ref().unwrap()["cached"], true);
    assert_eq!(text_of(&second), r#"{"answer":42}"#);
    host.shutdown().await;

    let host = Connected::start(&dir, options).await.unwrap();
    let third = host.call_ok("fetch", cached).await;
    assert_eq!(third.structured_content.unwrap()["cached"], true);
    let stats = host.call_ok("fetch_stats", json!({})).await;
    assert_eq!(
        stats.structured_content.unwrap(),
        json!({"hits": 2, "misses": 1, "cached_pages": 1})
    );
    assert_eq!(api.seen.paths(), ["/data"], "one request in all");
    host.shutdown().await;
}

#[tokio::test]
async fn without_a_policy_rule_or_a_secret_nothing_is_sent() {
    let (api, _other) = servers().await;
    let dir = PluginDir::with(&["fetch"], &[]);

    // No policy: the plugin loads (http is optional), and each fetch is denied.
    let host = Connected::start(&dir, HostOptions::new(Era::Handshake, Transport::Stdio))
        .await
        .unwrap();
    let denied = host.call_err("fetch", fetch_args(&api.url("/data"))).await;
    assert!(
        denied.contains(
            "denied: the `http` capability is not granted by the policy default (grant what is \
             declared, except files, env, http, secrets and sql, which need a rule)"
        ),
        "{}",
        denied
    );
    host.shutdown().await;

    // Granted, but the operator has not set the credential's secret.
    let options = HostOptions::new(Era::Handshake, Transport::Stdio).policy(
        &dir,
        "[[rule]]\nplugins = \"fetch\"\ngrant = [\"http\"]\nhttp-allow = [\"http://127.0.0.1:*\"]\n",
    );
    let host = Connected::start(&dir, options).await.unwrap();
    let unset = host.call_err("fetch", fetch_args(&api.url("/data"))).await;
    assert!(
        unset.contains(
            "needs secret `fetch-local-token`, which the operator has not set \
             (set MCP_WASM_HOST_SECRET_FETCH_LOCAL_TOKEN or add `fetch-local-token` to the secrets file)"
        ),
        "{}",
        unset
    );
    host.shutdown().await;
    assert!(api.seen.paths().is_empty(), "{:?}", api.seen.paths());
}

#[tokio::test]
async fn secrets_are_read_only_when_a_rule_grants_them() {
    let dir = PluginDir::with(&[], &["facade"]);
    dir.write("secrets.toml", "fixture-secret = \"twelve chars\"\n");
    let secrets = dir.path.join("secrets.toml");
    let args = json!({"name": "fixture-secret"});
    let options = HostOptions::new(Era::Handshake, Transport::Stdio)
        .arg("--secrets-file")
        .arg(secrets.to_str().unwrap());

    // No rule names `secrets`: denied.
    let host = Connected::start(&dir, options.clone()).await.unwrap();
    let denied = host.call_err("secret", args.clone()).await;
    assert!(
        denied.starts_with("secrets failed: denied: the `secrets` capability is not granted"),
        "{}",
        denied
    );
    host.shutdown().await;

    let options = options.policy(
        &dir,
        "[[rule]]\nplugins = \"facade\"\ngrant = [\"secrets\"]\n",
    );
    let host = Connected::start(&dir, options).await.unwrap();
    assert_eq!(
        text_of(&host.call_ok("secret", args).await),
        "secret `fixture-secret` has 12 characters"
    );
    let undeclared = host.call_err("secret", json!({"name": "other"})).await;
    assert!(
        undeclared.contains("denied: secret `other` is not among the secrets granted"),
        "{}",
        undeclared
    );
    host.shutdown().await;
}

#[tokio::test]
async fn an_unusable_secrets_file_stops_the_host() {
    let dir = PluginDir::with(&["hello"], &[]);
    dir.write("secrets.toml", "token = 12\n");
    let secrets = dir.path.join("secrets.toml");
    let plugins = dir.path.to_str().unwrap();
    let stderr = serve_refuses([
        "--plugins",
        plugins,
        "--secrets-file",
        secrets.to_str().unwrap(),
    ]);
    assert!(
        stderr.contains("invalid secrets file")
            && stderr.contains("secret `token` must be a string"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_per_caller_credential_reaches_the_server_only_for_its_own_caller() {
    let (api, other) = servers().await;
    let dir = PluginDir::with(&["fetch"], &[]);
    let config = super::sql::crm_callers();
    config.write(
        "secrets.toml",
        "fetch-local-token = \"shared-token\"\n\
         [principal.ada]\nfetch-local-token = \"ada-credential\"\n\
         [principal.uma]\nfetch-local-token = \"uma-credential\"\n",
    );
    let options = HostOptions::new(Era::Handshake, Transport::Http)
        .policy(&dir, &policy_for(&api, &other))
        .arg("--auth-file")
        .arg(config.path.join("auth.toml").to_str().unwrap())
        .arg("--secrets-file")
        .arg(config.path.join("secrets.toml").to_str().unwrap())
        .bearer("ada-token");
    let host = Connected::start(&dir, options).await.unwrap();
    let url = host.url.clone().unwrap();
    let echo = fetch_args(&api.url("/echo"));

    assert_eq!(
        text_of(&host.call_ok("fetch", echo.clone()).await),
        "echoed"
    );
    let uma = super::sql::client_as(&url, "uma-token").await;
    let uma_result = super::sql::call_as(&uma, "fetch", echo.clone())
        .await
        .unwrap();
    assert_ne!(uma_result.is_error, Some(true), "{uma_result:?}");
    // `gus` has no value of its own and the rule allows no fallback to the
    // shared one: nothing is sent.
    let gus = super::sql::client_as(&url, "gus-token").await;
    let refused = super::sql::call_as(&gus, "fetch", echo.clone())
        .await
        .unwrap();
    assert_eq!(refused.is_error, Some(true));
    assert!(
        text_of(&refused).contains("denied")
            && text_of(&refused).contains("none for principal `gus`"),
        "{refused:?}"
    );
    assert_eq!(
        api.seen.authorization_of("/echo"),
        [
            Some("Bearer ada-credential".to_string()),
            Some("Bearer uma-credential".to_string())
        ],
        "each caller's own credential, and nothing for gus"
    );
    // The callers' own bearer tokens never leave the host.
    for (_, headers) in api.seen.0.lock().unwrap().iter() {
        for value in headers.values() {
            let value = value.to_str().unwrap_or_default();
            assert!(!value.contains("-token"), "{value}");
        }
    }
    uma.cancel().await.unwrap();
    gus.cancel().await.unwrap();
    host.shutdown().await;

    // With `http-credential-fallback`, gus sends the shared value.
    let options = HostOptions::new(Era::Handshake, Transport::Http)
        .policy(
            &dir,
            &format!(
                "{}http-credential-fallback = true\n",
                policy_for(&api, &other)
            ),
        )
        .arg("--auth-file")
        .arg(config.path.join("auth.toml").to_str().unwrap())
        .arg("--secrets-file")
        .arg(config.path.join("secrets.toml").to_str().unwrap())
        .bearer("gus-token");
    let host = Connected::start(&dir, options).await.unwrap();
    assert_eq!(text_of(&host.call_ok("fetch", echo).await), "echoed");
    assert_eq!(
        api.seen.authorization_of("/echo").last().cloned().flatten(),
        Some("Bearer shared-token".to_string())
    );
    host.shutdown().await;
}

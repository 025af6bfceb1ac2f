//! The Python and JavaScript SDKs at parity with the Rust one: the same
//! scenario against `parity-py` and `parity-js`, two fixture plugins that use
//! every part of their SDK once — the key-value store, outbound HTTP,
//! secrets, a sleep on the host's clock, session state, the host's catalog
//! (read from inside a call of a `per-session` plugin, whose own instance is
//! busy running it), resources, a resource template, a prompt and
//! completions — and an uncaught exception whose message reaches the model
//! while its traceback stays in the host's log.

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use rmcp::model::{GetPromptRequestParams, ReadResourceRequestParams, ResourceContents};
use serde_json::{Value, json};

use super::support::*;

const SECRET: &str = "open sesame";

/// A server on 127.0.0.1: `/hello` greets whoever the `x-parity` header
/// names; anything else is a 404.
async fn start_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hello = |headers: HeaderMap| async move {
        let who = headers
            .get("x-parity")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("nobody")
            .to_string();
        (
            [(header::CONTENT_TYPE, "text/plain")],
            format!("hello {who}"),
        )
    };
    let app = axum::Router::new()
        .route("/hello", get(hello))
        .fallback(|| async { (StatusCode::NOT_FOUND, "no such page").into_response() });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// The host serving `parity-<lang>`, with `http` to `server` and the
/// `parity-secret` secret granted.
async fn start_host(lang: &str, server: SocketAddr) -> (Connected, PluginDir) {
    let plugin = format!("parity-{lang}");
    let dir = PluginDir::with(&[], &[&plugin]);
    dir.write("secrets.toml", format!("parity-secret = \"{SECRET}\"\n"));
    let secrets = dir.path.join("secrets.toml");
    let policy = format!(
        "[[rule]]\nplugins = \"{plugin}\"\ngrant = [\"http\", \"secrets\"]\n\
         http-allow = [\"http://127.0.0.1:{}\"]\n",
        server.port()
    );
    let options = HostOptions::new(Era::Handshake, Transport::Stdio)
        .policy(&dir, &policy)
        .arg("--secrets-file")
        .arg(secrets.to_str().unwrap());
    let host = Connected::start(&dir, options).await.unwrap();
    (host, dir)
}

async fn structured(host: &Connected, tool: &str, arguments: Value) -> Value {
    let result = host.call_ok(tool, arguments).await;
    match result.structured_content {
        Some(value) => value,
        None => panic!(
            "`{tool}` returned no structured content: {:?}",
            result.content
        ),
    }
}

fn only_text(contents: &[ResourceContents]) -> (&str, &str, Option<&str>) {
    match contents {
        [
            ResourceContents::TextResourceContents {
                uri,
                text,
                mime_type,
                ..
            },
        ] => (uri, text, mime_type.as_deref()),
        other => panic!("one text contents was expected: {other:?}"),
    }
}

async fn the_sdk_reaches_every_host_service(lang: &str) {
    let server = start_server().await;
    let (host, _dir) = start_host(lang, server).await;

    // The key-value store: one namespace, bytes, JSON, counters, keys.
    let kv = structured(&host, "kv", json!({"key": "k1", "value": "v1"})).await;
    assert_eq!(
        kv,
        json!({"stored": "v1", "json": {"key": "k1"}, "count": 2,
               "keys": ["count", "doc", "k1"], "deleted": true, "after": null})
    );
    let again = structured(&host, "kv", json!({"key": "k2", "value": "v2"})).await;
    assert_eq!(again["count"], 4, "{again}");

    // Outbound HTTP through the host, to the origin the policy allows.
    let hello = format!("http://127.0.0.1:{}/hello", server.port());
    let fetched = structured(&host, "fetch", json!({"url": hello})).await;
    assert_eq!(
        fetched,
        json!({"status": 200, "ok": true, "content_type": "text/plain",
               "body": format!("hello {lang}"), "url": hello})
    );
    let missing = format!("http://127.0.0.1:{}/missing", server.port());
    let not_found = structured(&host, "fetch", json!({"url": missing})).await;
    assert_eq!(
        (&not_found["status"], &not_found["ok"]),
        (&json!(404), &json!(false))
    );
    let elsewhere = host
        .call_err("fetch", json!({"url": "http://127.0.0.1:9/hello"}))
        .await;
    assert!(
        elsewhere.contains("denied") && elsewhere.contains("not an allowed origin"),
        "{elsewhere}"
    );

    // Secrets: the granted one, and a name the manifest does not declare.
    let secret = host
        .call_ok("secret", json!({"name": "parity-secret"}))
        .await;
    assert_eq!(text_of(&secret), SECRET);
    let other = host.call_err("secret", json!({"name": "other"})).await;
    assert!(other.contains("denied"), "{other}");

    // A sleep on the host's clock: the call waits, without WASI's clock.
    let asked = Duration::from_millis(200);
    let started = std::time::Instant::now();
    let slept = host.call_ok("nap", json!({"ms": 200})).await;
    assert_eq!(text_of(&slept), "slept 200 ms");
    assert!(started.elapsed() >= asked, "{:?}", started.elapsed());

    // Session state across calls.
    let nothing = structured(&host, "recall", json!({})).await;
    assert_eq!(nothing, json!({"value": null, "keys": []}));
    assert_eq!(
        text_of(&host.call_ok("remember", json!({"value": "kept"})).await),
        "ok"
    );
    let recalled = structured(&host, "recall", json!({})).await;
    assert_eq!(recalled, json!({"value": "kept", "keys": ["value"]}));

    // The host's catalog, which here reads this very plugin.
    let catalog = structured(&host, "catalog", json!({})).await;
    assert_eq!(
        catalog,
        json!({"resources": ["parity://about"], "templates": ["parity://notes/{name}"],
               "read": format!("about parity-{lang}"), "prompts": ["greet"],
               "prompt": "Hello, Ada!"})
    );
    host.shutdown().await;
}

async fn the_sdk_serves_resources_prompts_and_completions(lang: &str) {
    let server = start_server().await;
    let (host, _dir) = start_host(lang, server).await;
    let client = &host.client;

    let resources = client.list_all_resources().await.unwrap();
    let [about] = resources.as_slice() else {
        panic!("one resource was expected: {resources:?}");
    };
    assert_eq!(
        (
            about.uri.as_str(),
            about.name.as_str(),
            about.description.as_deref(),
            about.mime_type.as_deref()
        ),
        (
            "parity://about",
            "about",
            Some("What this plugin is"),
            Some("text/plain")
        )
    );
    let read = client
        .read_resource(ReadResourceRequestParams::new("parity://about"))
        .await
        .unwrap();
    let expected = format!("about parity-{lang}");
    assert_eq!(
        only_text(&read.contents),
        ("parity://about", expected.as_str(), Some("text/plain"))
    );

    let templates = client.list_all_resource_templates().await.unwrap();
    let [note] = templates.as_slice() else {
        panic!("one template was expected: {templates:?}");
    };
    assert_eq!(
        (
            note.uri_template.as_str(),
            note.name.as_str(),
            note.mime_type.as_deref()
        ),
        ("parity://notes/{name}", "note", Some("text/markdown"))
    );
    let read = client
        .read_resource(ReadResourceRequestParams::new("parity://notes/caf%C3%A9"))
        .await
        .unwrap();
    assert_eq!(
        only_text(&read.contents),
        ("parity://notes/caf%C3%A9", "# café", Some("text/markdown"))
    );
    for unknown in ["parity://nope", "parity://notes/a/b"] {
        let error = client
            .read_resource(ReadResourceRequestParams::new(unknown))
            .await
            .unwrap_err();
        let (code, message) = protocol_error(&error).unwrap();
        assert_eq!(code, -32002, "{message}");
        assert!(message.contains(unknown), "{message}");
    }

    let prompts = client.list_all_prompts().await.unwrap();
    let [greet] = prompts.as_slice() else {
        panic!("one prompt was expected: {prompts:?}");
    };
    assert_eq!(greet.name, "greet");
    assert_eq!(greet.description.as_deref(), Some("Greet someone"));
    let arguments: Vec<(&str, Option<&str>, Option<bool>)> = greet
        .arguments
        .iter()
        .flatten()
        .map(|a| (a.name.as_str(), a.description.as_deref(), a.required))
        .collect();
    assert_eq!(
        arguments,
        [
            ("name", Some("Who to greet"), Some(true)),
            ("style", Some("How"), Some(false))
        ]
    );
    let mut args = serde_json::Map::new();
    args.insert("name".into(), json!("Ada"));
    args.insert("style".into(), json!("formal"));
    let rendered = client
        .get_prompt(GetPromptRequestParams::new("greet").with_arguments(args))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&rendered.messages).unwrap(),
        json!([{"role": "user", "content": {"type": "text", "text": "Hello, Ada! (formal)"}}])
    );
    let error = client
        .get_prompt(GetPromptRequestParams::new("greet"))
        .await
        .unwrap_err();
    let (code, message) = protocol_error(&error).unwrap();
    assert_eq!(code, -32602, "{message}");
    assert!(message.contains("`name`"), "{message}");

    let styles = client
        .complete_prompt_simple("greet", "style", "f")
        .await
        .unwrap();
    assert_eq!(styles, ["formal", "friendly", "funny"]);
    let styles = client
        .complete_prompt_simple("greet", "style", "fr")
        .await
        .unwrap();
    assert_eq!(styles, ["friendly"]);
    let names = client
        .complete_resource_simple("parity://notes/{name}", "name", "b")
        .await
        .unwrap();
    assert_eq!(names, ["beta"]);
    let none = client
        .complete_prompt_simple("greet", "name", "A")
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");
    host.shutdown().await;
}

/// An uncaught exception: the model reads its message; the host's log has
/// the traceback, which the result never carries.
async fn an_uncaught_exception_is_told_to_the_model_and_traced_in_the_log(
    lang: &str,
    trace_marker: &str,
) {
    let server = start_server().await;
    let (host, _dir) = start_host(lang, server).await;
    let message = host.call_err("boom", json!({})).await;
    assert!(message.contains("kaboom"), "{message}");
    assert!(!message.contains(trace_marker), "{message}");
    host.stderr
        .wait_for(trace_marker, Duration::from_secs(10))
        .await
        .unwrap_or_else(|_| panic!("no `{trace_marker}` in the log: {}", host.stderr.text()));
    host.shutdown().await;
}

#[tokio::test]
async fn python_reaches_every_host_service() {
    the_sdk_reaches_every_host_service("py").await;
}

#[tokio::test]
async fn python_serves_resources_prompts_and_completions() {
    the_sdk_serves_resources_prompts_and_completions("py").await;
}

#[tokio::test]
async fn python_exceptions_reach_the_model_with_the_traceback_in_the_log() {
    an_uncaught_exception_is_told_to_the_model_and_traced_in_the_log(
        "py",
        "Traceback (most recent call last)",
    )
    .await;
}

#[tokio::test]
async fn javascript_reaches_every_host_service() {
    the_sdk_reaches_every_host_service("js").await;
}

#[tokio::test]
async fn javascript_serves_resources_prompts_and_completions() {
    the_sdk_serves_resources_prompts_and_completions("js").await;
}

#[tokio::test]
async fn javascript_exceptions_reach_the_model_with_the_stack_in_the_log() {
    // A frame of the error's stack names the plugin's module.
    an_uncaught_exception_is_told_to_the_model_and_traced_in_the_log("js", "parity-js/app.js:")
        .await;
}

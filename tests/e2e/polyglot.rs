//! Plugins written in other languages than Rust, built from source by
//! `scripts/build-plugins.sh` with their SDKs: loaded, listed with the
//! schemas their SDKs derive, and called over MCP, context calls included.

use rmcp::model::LoggingLevel;
use serde_json::{Value, json};

use super::support::*;

/// A tool's input and output schemas as the client lists them.
async fn schemas(host: &Connected, name: &str) -> (Value, Option<Value>) {
    let tools = host.client.list_all_tools().await.unwrap();
    let tool = tools
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no tool {name}"));
    (
        Value::Object((*tool.input_schema).clone()),
        tool.output_schema
            .as_ref()
            .map(|s| Value::Object((**s).clone())),
    )
}

/// Handshake-era clients hear logs from the level they set; 2026-07-28
/// requests here carry no level, so they hear none.
async fn ask_for_info_logs(host: &Connected, era: Era) {
    if era == Era::Handshake {
        host.client
            .set_level(rmcp::model::SetLevelRequestParams::new(LoggingLevel::Info))
            .await
            .unwrap();
    }
}

/// The plugin's info line reached a client that asked for logs.
async fn expect_info_log(host: &Connected, era: Era, line: &str) {
    if era == Era::Handshake {
        wait_until(&host.received, "the plugin's info log", |r| {
            r.logs.iter().any(|l| l.data == json!(line))
        })
        .await;
    }
}

#[tokio::test]
async fn the_python_example_serves_typed_tools_with_its_context() {
    for (era, transport) in [
        (Era::Handshake, Transport::Stdio),
        (Era::Handshake, Transport::Http),
        (Era::Modern, Transport::Stdio),
    ] {
        let case = format!("{era:?} over {transport:?}");
        let dir = PluginDir::with(&["stats-py"], &[]);
        let script = ClientScript::capable([accept(json!({"name": "Grace"})), decline()]);
        let host = Connected::start(&dir, HostOptions::new(era, transport).script(script))
            .await
            .unwrap();

        // Type hints became the schemas.
        let (input, output) = schemas(&host, "describe").await;
        assert_eq!(
            input["properties"]["numbers"],
            json!({"type": "array", "items": {"type": "number"}, "minItems": 1, "description": "The sample"}),
            "{case}"
        );
        assert_eq!(input["required"], json!(["numbers"]), "{case}");
        let output = output.expect("a TypedDict return gives an output schema");
        assert_eq!(output["properties"]["count"], json!({"type": "integer"}));
        let (input, _) = schemas(&host, "days_between").await;
        assert_eq!(
            input["properties"]["unit"],
            json!({"type": "string", "enum": ["days", "weeks"], "default": "days"})
        );

        // A typed call with structured content, and the host's schema check
        // before Python runs.
        let described = host
            .call_ok("describe", json!({"numbers": [1, 2, 3, 4]}))
            .await;
        let summary = described.structured_content.expect("structured content");
        assert_eq!(
            (summary["count"].clone(), summary["mean"].clone()),
            (json!(4), json!(2.5))
        );
        let error = host
            .call("describe", json!({"numbers": []}))
            .await
            .unwrap_err();
        let (code, message) = protocol_error(&error).expect("a protocol error");
        assert_eq!(code, -32602, "{case}: {message}");
        assert!(message.contains("numbers"), "{message}");

        // A Python exception the SDK turns into a tool error.
        let text = host
            .call_err(
                "days_between",
                json!({"start": "soon", "end": "2026-03-01"}),
            )
            .await;
        assert!(text.starts_with("not a date"), "{case}: {text}");
        let weeks = host
            .call_ok(
                "days_between",
                json!({"start": "2026-01-01", "end": "2026-01-15", "unit": "weeks"}),
            )
            .await;
        assert_eq!(text_of(&weeks), "2 weeks");

        // Elicitation through the context: accepted, then declined.
        let greeted = host.call_ok("greet", json!({})).await;
        assert_eq!(text_of(&greeted), "Hello, Grace, from Python!", "{case}");
        let declined = host.call_ok("greet", json!({})).await;
        assert_eq!(text_of(&declined), "No greeting: the user chose decline.");

        // Session state kept between calls, logged at info.
        ask_for_info_logs(&host, era).await;
        let none = host.call_err("session_summary", json!({})).await;
        assert!(none.contains("call remember first"), "{case}: {none}");
        host.call_ok("remember", json!({"numbers": [5, 6]})).await;
        let kept = host.call_ok("remember", json!({"numbers": [7]})).await;
        assert_eq!(text_of(&kept), "3 numbers kept", "{case}");
        let summary = host.call_ok("session_summary", json!({})).await;
        assert_eq!(summary.structured_content.unwrap()["mean"], json!(6.0));
        expect_info_log(&host, era, "the session's sample has 3 numbers").await;
        host.shutdown().await;
    }
}

#[tokio::test]
async fn the_javascript_example_serves_declared_tools_with_its_context() {
    for (era, transport) in [
        (Era::Handshake, Transport::Stdio),
        (Era::Handshake, Transport::Http),
        (Era::Modern, Transport::Stdio),
    ] {
        let case = format!("{era:?} over {transport:?}");
        let dir = PluginDir::with(&["json-js"], &[]);
        let script = ClientScript::capable([accept(json!({"confirm": true}))]);
        let host = Connected::start(&dir, HostOptions::new(era, transport).script(script))
            .await
            .unwrap();

        // The declarative specs became the schemas.
        let (input, _) = schemas(&host, "format").await;
        assert_eq!(
            input,
            json!({
                "type": "object",
                "properties": {
                    "json": {"type": "string", "description": "The JSON text"},
                    "indent": {"type": "integer", "minimum": 0, "maximum": 8, "default": 2},
                },
                "required": ["json"],
                "additionalProperties": false,
            }),
            "{case}"
        );
        let (_, output) = schemas(&host, "query").await;
        assert_eq!(output.unwrap()["required"], json!(["found"]));

        let formatted = host
            .call_ok("format", json!({"json": "{\"a\": [1, 2]}", "indent": 0}))
            .await;
        assert_eq!(text_of(&formatted), r#"{"a":[1,2]}"#, "{case}");
        let error = host
            .call("format", json!({"json": "{}", "indent": 9}))
            .await
            .unwrap_err();
        let (code, message) = protocol_error(&error).expect("a protocol error");
        assert_eq!(code, -32602, "{case}: {message}");
        assert!(message.contains("indent"), "{message}");
        let text = host.call_err("format", json!({"json": "nope"})).await;
        assert!(text.starts_with("not JSON"), "{case}: {text}");

        let found = host
            .call_ok(
                "query",
                json!({"json": "{\"items\": [{\"name\": \"x\"}]}", "path": "items[0].name"}),
            )
            .await;
        assert_eq!(
            found.structured_content,
            Some(json!({"found": true, "value": "x"}))
        );

        // Session state, a log line, then an elicitation before clearing.
        ask_for_info_logs(&host, era).await;
        host.call_ok("stash", json!({"name": "a", "json": "[1]"}))
            .await;
        let stashed = host
            .call_ok("stash", json!({"name": "b", "json": "{\"k\": true}"}))
            .await;
        assert_eq!(text_of(&stashed), "stashed b (2 in the session)", "{case}");
        let back = host.call_ok("unstash", json!({"name": "b"})).await;
        assert_eq!(
            back.structured_content.unwrap()["document"],
            json!({"k": true})
        );
        let cleared = host.call_ok("clear_stash", json!({})).await;
        assert_eq!(text_of(&cleared), "forgot 2 document(s)", "{case}");
        assert_eq!(host.received.lock().unwrap().elicitations.len(), 1);
        let gone = host.call_err("unstash", json!({"name": "a"})).await;
        assert_eq!(gone, "nothing stashed as a");
        expect_info_log(&host, era, "stashed b; 2 document(s) in the session").await;
        host.shutdown().await;
    }
}

#[tokio::test]
async fn the_c_example_serves_its_tools_with_its_context() {
    for_each_combination(|era, transport| async move {
        let case = format!("{era:?} over {transport:?}");
        let dir = PluginDir::with(&["checksum-c"], &[]);
        let host = Connected::start(&dir, HostOptions::new(era, transport))
            .await
            .unwrap();
        let (input, output) = schemas(&host, "crc32").await;
        assert_eq!(input["required"], json!(["text"]), "{case}");
        assert!(output.is_some());
        ask_for_info_logs(&host, era).await;

        let crc = host.call_ok("crc32", json!({"text": "hello"})).await;
        assert_eq!(text_of(&crc), "3610a686", "{case}");
        assert_eq!(
            crc.structured_content,
            Some(json!({"algorithm": "crc32", "digest": "3610a686", "bytes": 5}))
        );
        // Escapes in the arguments decode to the right UTF-8 bytes.
        let fnv = host
            .call_ok("fnv1a", json!({"text": "café 😀 \"q\"\n"}))
            .await;
        assert_eq!(
            fnv.structured_content.unwrap()["bytes"],
            json!(15),
            "{case}"
        );
        let error = host.call("crc32", json!({"text": 7})).await.unwrap_err();
        assert_eq!(protocol_error(&error).unwrap().0, -32602);

        // Session state counts the bytes where the request has a session.
        let counted = host.call("bytes_hashed", json!({})).await.unwrap();
        if era == Era::Modern && transport == Transport::Http {
            assert_eq!(counted.is_error, Some(true), "{case}");
            assert_eq!(text_of(&counted), "this request has no session to count in");
        } else {
            assert_eq!(
                text_of(&counted),
                "20 bytes hashed in this session",
                "{case}"
            );
        }
        expect_info_log(&host, era, "crc32 of 5 bytes: 3610a686").await;
        host.shutdown().await;
    })
    .await;
}

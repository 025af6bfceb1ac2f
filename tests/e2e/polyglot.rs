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
        if era == Era::Handshake {
            host.client
                .set_level(rmcp::model::SetLevelRequestParams::new(LoggingLevel::Info))
                .await
                .unwrap();
        }
        let none = host.call_err("session_summary", json!({})).await;
        assert!(none.contains("call remember first"), "{case}: {none}");
        host.call_ok("remember", json!({"numbers": [5, 6]})).await;
        let kept = host.call_ok("remember", json!({"numbers": [7]})).await;
        assert_eq!(text_of(&kept), "3 numbers kept", "{case}");
        let summary = host.call_ok("session_summary", json!({})).await;
        assert_eq!(summary.structured_content.unwrap()["mean"], json!(6.0));
        if era == Era::Handshake {
            wait_until(&host.received, "the plugin's info log", |r| {
                r.logs
                    .iter()
                    .any(|l| l.data == json!("the session's sample has 3 numbers"))
            })
            .await;
        }
        host.shutdown().await;
    }
}

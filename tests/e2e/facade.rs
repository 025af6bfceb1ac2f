//! The context facade end to end, in both protocol eras: elicitation,
//! sampling, roots and session state reached from a plugin through real
//! clients; clients lacking a capability; client timeouts; and, for
//! 2026-07-28 clients, several input rounds.

use rmcp::model::ElicitRequestParams;
use serde_json::json;

use super::support::*;

async fn facade_host(era: Era, transport: Transport, script: ClientScript) -> Connected {
    let dir = PluginDir::with(&[], &["facade"]);
    Connected::start(&dir, HostOptions::new(era, transport).script(script))
        .await
        .unwrap()
        .keeping(dir)
}

#[tokio::test]
async fn elicitation_answers_reach_the_plugin() {
    for_each_combination(|era, transport| async move {
        let script = ClientScript::capable([accept(json!({"name": "Ada"})), decline(), cancel()]);
        let host = facade_host(era, transport, script).await;
        for expected in ["hello Ada", "declined", "cancelled"] {
            let result = host.call_ok("elicit_name", empty_args()).await;
            assert_eq!(text_of(&result), expected);
        }
        {
            let received = host.received.lock().unwrap();
            assert_eq!(received.elicitations.len(), 3);
            let ElicitRequestParams::FormElicitationParams {
                message,
                requested_schema,
                ..
            } = &received.elicitations[0]
            else {
                panic!("a form was expected: {:?}", received.elicitations[0]);
            };
            assert_eq!(message, "What is your name?");
            let schema = serde_json::to_value(requested_schema).unwrap();
            assert_eq!(schema["required"], json!(["name"]), "{schema}");
            assert_eq!(schema["properties"]["name"]["type"], "string", "{schema}");
        }
        host.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn several_questions_in_one_call() {
    for_each_combination(|era, transport| async move {
        let script = ClientScript::capable([
            accept(json!({"name": "Ada"})),
            accept(json!({"age": 36})),
            accept(json!({"name": "Bob"})),
            decline(),
        ]);
        let host = facade_host(era, transport, script).await;
        let result = host.call_ok("elicit_twice", empty_args()).await;
        assert_eq!(text_of(&result), "name=Ada age=36");
        let result = host.call_ok("elicit_twice", empty_args()).await;
        assert_eq!(text_of(&result), "stopped at 2: declined");
        assert_eq!(host.received.lock().unwrap().elicitations.len(), 4);
        host.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn an_answer_that_breaks_the_schema_is_an_error_for_the_plugin() {
    let script = ClientScript::capable([accept(json!({"name": 42}))]);
    let host = facade_host(Era::Handshake, Transport::Stdio, script).await;
    let result = host.call("elicit_name", empty_args()).await.unwrap();
    assert_eq!(result.is_error, Some(true));
    let text = text_of(&result);
    assert!(text.starts_with("elicitation failed: failed:"), "{text}");
    assert!(
        text.contains("does not match the requested schema"),
        "{text}"
    );
    host.shutdown().await;
}

#[tokio::test]
async fn url_elicitation_reaches_the_client() {
    for_each_combination(|era, transport| async move {
        let script = ClientScript::capable([accept(json!({}))]);
        let host = facade_host(era, transport, script).await;
        let result = host
            .call_ok("elicit_url", json!({"url": "https://example.com/sign-in"}))
            .await;
        assert_eq!(text_of(&result), "url accepted");
        {
            let received = host.received.lock().unwrap();
            let ElicitRequestParams::UrlElicitationParams {
                url,
                elicitation_id,
                ..
            } = &received.elicitations[0]
            else {
                panic!("a URL elicitation was expected");
            };
            assert_eq!(url, "https://example.com/sign-in");
            assert_eq!(elicitation_id, "sign-in-1");
        }
        host.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn sampling_and_roots_reach_the_client() {
    for_each_combination(|era, transport| async move {
        let host = facade_host(era, transport, ClientScript::capable([])).await;
        let result = host
            .call_ok("sample", json!({"prompt": "Capital of France?"}))
            .await;
        assert_eq!(
            text_of(&result),
            "model=test-model stop=endTurn text=Paris."
        );
        let result = host.call_ok("roots", empty_args()).await;
        assert_eq!(text_of(&result), "file:///workspace\nfile:///data");

        {
            let received = host.received.lock().unwrap();
            let asked = &received.samplings[0];
            assert_eq!(asked.system_prompt.as_deref(), Some("Answer briefly."));
            assert_eq!(asked.max_tokens, 64);
            let text = asked.messages[0]
                .content
                .first()
                .and_then(|c| c.as_text())
                .map(|t| t.text.clone());
            assert_eq!(text.as_deref(), Some("Capital of France?"));
            assert_eq!(received.roots_requests, 1);
        }
        host.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_client_without_the_capability_is_never_asked() {
    for_each_combination(|era, transport| async move {
        let host = facade_host(era, transport, ClientScript::default()).await;
        for (tool, args, capability) in [
            ("elicit_name", empty_args(), "`elicitation`"),
            ("sample", json!({"prompt": "x"}), "`sampling`"),
            ("roots", empty_args(), "`roots`"),
        ] {
            let result = host.call(tool, args).await.unwrap();
            assert_eq!(result.is_error, Some(true), "{tool}");
            let text = text_of(&result);
            assert!(text.contains("unsupported by client"), "{tool}: {text}");
            assert!(text.contains(capability), "{tool}: {text}");
        }
        {
            let received = host.received.lock().unwrap();
            assert!(received.elicitations.is_empty() && received.samplings.is_empty());
            assert_eq!(received.roots_requests, 0);
        }
        host.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_client_that_does_not_answer_in_time_gives_the_plugin_a_timeout() {
    for transport in [Transport::Stdio, Transport::Http] {
        let dir = PluginDir::with(&[], &["facade"]);
        let mut script = ClientScript::capable([accept(json!({"name": "late"}))]);
        script.delay = Some(std::time::Duration::from_secs(3));
        let options = HostOptions::new(Era::Handshake, transport)
            .script(script)
            .arg("--client-timeout-ms")
            .arg("200");
        let host = Connected::start(&dir, options).await.unwrap();
        let result = host.call("elicit_name", empty_args()).await.unwrap();
        assert_eq!(result.is_error, Some(true));
        assert_eq!(text_of(&result), "elicitation failed: timed out");
        host.shutdown().await;
    }
}

#[tokio::test]
async fn waiting_for_the_client_does_not_count_against_the_time_limit() {
    // The plugin may run 3 s; the user takes 5 s to answer.
    let dir = PluginDir::with(&[], &["facade"]);
    dir.extend_manifest("facade", "[limits]\ntimeout-ms = 3000\n");
    let mut script = ClientScript::capable([accept(json!({"name": "Slow"}))]);
    script.delay = Some(std::time::Duration::from_secs(5));
    let host = Connected::start(
        &dir,
        HostOptions::new(Era::Handshake, Transport::Stdio).script(script),
    )
    .await
    .unwrap();
    let result = host.call_ok("elicit_name", empty_args()).await;
    assert_eq!(text_of(&result), "hello Slow");
    host.shutdown().await;
}

#[tokio::test]
async fn prompts_and_resource_reads_can_ask_the_client_too() {
    for_each_combination(|era, transport| async move {
        let script = ClientScript::capable([
            accept(json!({"name": "Ada"})),
            accept(json!({"name": "Bo"})),
        ]);
        let host = facade_host(era, transport, script).await;
        let prompt = host
            .client
            .get_prompt(rmcp::model::GetPromptRequestParams::new("greet_prompt"))
            .await
            .unwrap();
        let rendered = serde_json::to_string(&prompt.messages).unwrap();
        assert!(rendered.contains("Write a greeting for Ada."), "{rendered}");
        let read = host
            .client
            .read_resource(rmcp::model::ReadResourceRequestParams::new(
                "fixture://asked/tea",
            ))
            .await
            .unwrap();
        let text = serde_json::to_string(&read.contents).unwrap();
        assert!(text.contains("tea for Bo"), "{text}");
        assert_eq!(host.received.lock().unwrap().elicitations.len(), 2);
        host.shutdown().await;
    })
    .await;
}

//! What plugins serve besides tools, in both eras: resources (listed, read,
//! from templates), prompts, completions, subscriptions to resource
//! updates; session state across calls; and a plugin reading another's
//! resource through the host catalog.

use rmcp::model::{
    GetPromptRequestParams, ReadResourceRequestParams, ResourceContents, SubscribeRequestParams,
    SubscriptionFilter, UnsubscribeRequestParams,
};
use serde_json::json;

use super::support::*;

fn text_contents(contents: &[ResourceContents]) -> String {
    match &contents[0] {
        ResourceContents::TextResourceContents { text, .. } => text.clone(),
        other => panic!("text contents were expected: {other:?}"),
    }
}

#[tokio::test]
async fn resources_and_prompts_are_served_in_both_eras() {
    for_each_combination(|era, transport| async move {
        let dir = PluginDir::with(&[], &["facade"]);
        dir.add_conformance();
        let host = Connected::start(&dir, HostOptions::new(era, transport))
            .await
            .unwrap();

        let resources = host.client.list_all_resources().await.unwrap();
        let uris: Vec<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
        for expected in [
            "test://static-text",
            "test://static-binary",
            "fixture://greeting",
        ] {
            assert!(uris.contains(&expected), "{uris:?}");
        }
        let templates = host.client.list_all_resource_templates().await.unwrap();
        assert!(
            templates
                .iter()
                .any(|t| t.uri_template == "test://template/{id}/data"),
            "{templates:?}"
        );

        let read = host
            .client
            .read_resource(ReadResourceRequestParams::new("test://template/123/data"))
            .await
            .unwrap();
        assert!(text_contents(&read.contents).contains("123"));
        let read = host
            .client
            .read_resource(ReadResourceRequestParams::new("fixture://greeting"))
            .await
            .unwrap();
        assert_eq!(
            text_contents(&read.contents),
            "greetings from the facade fixture"
        );
        let missing = host
            .client
            .read_resource(ReadResourceRequestParams::new("test://nothing-here"))
            .await
            .unwrap_err();
        let (code, message) = protocol_error(&missing).unwrap();
        // 2026-07-28 reports a missing resource as invalid params.
        let expected = if era == Era::Handshake {
            -32002
        } else {
            -32602
        };
        assert_eq!(code, expected, "{message}");
        assert!(message.contains("test://nothing-here"), "{message}");

        let prompts = host.client.list_all_prompts().await.unwrap();
        assert!(
            prompts
                .iter()
                .any(|p| p.name == "test_prompt_with_arguments")
        );
        let mut args = serde_json::Map::new();
        args.insert("arg1".into(), json!("first"));
        args.insert("arg2".into(), json!("second"));
        let prompt = host
            .client
            .get_prompt(
                GetPromptRequestParams::new("test_prompt_with_arguments").with_arguments(args),
            )
            .await
            .unwrap();
        let rendered = serde_json::to_string(&prompt.messages).unwrap();
        assert!(
            rendered.contains("first") && rendered.contains("second"),
            "{rendered}"
        );
        let err = host
            .client
            .get_prompt(GetPromptRequestParams::new("test_prompt_with_arguments"))
            .await
            .unwrap_err();
        let (code, message) = protocol_error(&err).unwrap();
        assert_eq!(code, -32602);
        assert!(
            message.contains("`arg1`") && message.contains("`arg2`"),
            "{message}"
        );

        let values = host
            .client
            .complete_prompt_simple("test_prompt_with_arguments", "arg1", "")
            .await
            .unwrap();
        assert!(!values.is_empty(), "the conformance prompt completes arg1");
        host.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_plugin_reads_resources_through_the_host_catalog() {
    let dir = PluginDir::with(&[], &["facade"]);
    dir.add_conformance();
    let host = Connected::start(&dir, HostOptions::new(Era::Handshake, Transport::Stdio))
        .await
        .unwrap();
    let own = host
        .call_ok("read_resource", json!({"uri": "fixture://greeting"}))
        .await;
    assert_eq!(text_of(&own), "greetings from the facade fixture");
    let other = host
        .call_ok("read_resource", json!({"uri": "test://static-text"}))
        .await;
    assert_eq!(
        text_of(&other),
        "This is the content of the static text resource."
    );
    let missing = host
        .call("read_resource", json!({"uri": "test://none"}))
        .await
        .unwrap();
    assert_eq!(missing.is_error, Some(true));
    let text = text_of(&missing);
    assert!(text.starts_with("catalog failed: invalid input:"), "{text}");
    assert!(text.contains("test://none"), "{text}");
    host.shutdown().await;
}

#[tokio::test]
async fn subscribers_hear_about_updated_resources() {
    for transport in [Transport::Stdio, Transport::Http] {
        let dir = PluginDir::with(&[], &["facade"]);
        let host = Connected::start(&dir, HostOptions::new(Era::Handshake, transport))
            .await
            .unwrap();
        host.client
            .subscribe(SubscribeRequestParams::new("fixture://greeting"))
            .await
            .unwrap();
        host.call_ok("touch", json!({"uri": "fixture://elsewhere"}))
            .await;
        host.call_ok("touch", json!({"uri": "fixture://greeting"}))
            .await;
        wait_until(&host.received, "the update", |r| {
            r.resource_updates.iter().any(|u| u == "fixture://greeting")
        })
        .await;
        assert_eq!(
            host.received.lock().unwrap().resource_updates,
            vec!["fixture://greeting".to_string()],
            "only the subscribed URI is announced"
        );
        host.client
            .unsubscribe(UnsubscribeRequestParams::new("fixture://greeting"))
            .await
            .unwrap();
        host.shutdown().await;
    }

    // 2026-07-28: subscriptions/listen.
    for transport in [Transport::Stdio, Transport::Http] {
        let dir = PluginDir::with(&[], &["facade"]);
        let host = Connected::start(&dir, HostOptions::new(Era::Modern, transport))
            .await
            .unwrap();
        let filter = SubscriptionFilter::builder()
            .resource_subscription("fixture://greeting")
            .build();
        let mut subscription = host.client.listen(filter).await.unwrap();
        // rmcp acknowledges a listen request before the server's handler
        // registers the stream, so a change made right after the
        // acknowledgement can precede the registration: touch until heard.
        let mut notice = None;
        for _ in 0..20 {
            host.call_ok("touch", json!({"uri": "fixture://greeting"}))
                .await;
            if let Ok(next) =
                tokio::time::timeout(std::time::Duration::from_millis(500), subscription.next())
                    .await
            {
                notice = Some(next.unwrap().expect("the subscription is open"));
                break;
            }
        }
        let notice = notice.expect("a notification within 10 s");
        let text = serde_json::to_string(&notice).unwrap();
        assert!(text.contains("notifications/resources/updated"), "{text}");
        assert!(text.contains("fixture://greeting"), "{text}");
        host.shutdown().await;
    }
}

#[tokio::test]
async fn session_state_outlives_a_call_and_stays_in_its_session() {
    for (era, transport) in [
        (Era::Handshake, Transport::Stdio),
        (Era::Handshake, Transport::Http),
        (Era::Modern, Transport::Stdio),
    ] {
        let dir = PluginDir::with(&[], &["facade"]);
        let options = HostOptions::new(era, transport);
        let host = Connected::start(&dir, options.clone()).await.unwrap();
        host.call_ok("remember", json!({"key": "colour", "value": "teal"}))
            .await;
        let recalled = host.call_ok("recall", json!({"key": "colour"})).await;
        assert_eq!(text_of(&recalled), "teal", "{era:?} over {transport:?}");
        if transport == Transport::Http {
            // Another session on the same host sees nothing.
            let url = host.url.clone().unwrap();
            let other =
                rmcp::ServiceExt::serve(RecordingClient::default(), http_client_transport(url))
                    .await
                    .unwrap();
            let result = other
                .call_tool(params("recall", json!({"key": "colour"})))
                .await
                .unwrap();
            assert_eq!(text_of(&result), "missing");
            let _ = other.cancel().await;
        }
        host.shutdown().await;
    }
}

#[tokio::test]
async fn stateless_requests_keep_session_state_under_a_state_handle() {
    let dir = PluginDir::with(&[], &["facade"]);
    let host = Connected::start(&dir, HostOptions::new(Era::Modern, Transport::Http))
        .await
        .unwrap();
    let without = host
        .call("remember", json!({"key": "k", "value": "v"}))
        .await
        .unwrap();
    assert_eq!(without.is_error, Some(true));
    assert!(
        text_of(&without).contains("mcp-wasm-host/stateHandle"),
        "{}",
        text_of(&without)
    );

    let with_handle = |tool: &str, args: serde_json::Value| {
        let mut p = params(tool, args);
        p.meta =
            Some(serde_json::from_value(json!({"mcp-wasm-host/stateHandle": "alice-1"})).unwrap());
        p
    };
    let stored = host
        .client
        .call_tool(with_handle("remember", json!({"key": "k", "value": "v"})))
        .await
        .unwrap();
    assert_eq!(text_of(&stored), "remembered k");
    let recalled = host
        .client
        .call_tool(with_handle("recall", json!({"key": "k"})))
        .await
        .unwrap();
    assert_eq!(text_of(&recalled), "v");
    host.shutdown().await;
}

#[tokio::test]
async fn a_plugin_lists_the_catalog_and_renders_prompts_through_it() {
    for_each_combination(|era, transport| async move {
        let dir = PluginDir::with(&[], &["facade"]);
        dir.add_conformance();
        let host = Connected::start(&dir, HostOptions::new(era, transport)).await.unwrap();
        let listed = text_of(&host.call_ok("catalog", empty_args()).await);
        let mut lines = listed.lines();
        let resources = lines.next().unwrap();
        assert!(resources.contains("fixture://greeting") && resources.contains("test://static-text"), "{listed}");
        let templates = lines.next().unwrap();
        assert!(templates.contains("fixture://asked/{what}") && templates.contains("test://template/{id}/data"), "{listed}");
        let prompts = lines.next().unwrap();
        assert!(prompts.contains("greet_prompt") && prompts.contains("test_prompt_with_arguments"), "{listed}");

        let rendered = host
            .call_ok(
                "render_prompt",
                json!({"name": "test_prompt_with_arguments", "arguments": {"arg1": "one", "arg2": "two"}}),
            )
            .await;
        let text = text_of(&rendered);
        assert!(text.contains("one") && text.contains("two"), "{text}");
        let missing = host
            .call("render_prompt", json!({"name": "test_prompt_with_arguments"}))
            .await
            .unwrap();
        assert_eq!(missing.is_error, Some(true));
        assert!(text_of(&missing).contains("`arg1`"), "{}", text_of(&missing));
        host.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn session_state_keys_can_be_listed_and_deleted() {
    let dir = PluginDir::with(&[], &["facade"]);
    let host = Connected::start(&dir, HostOptions::new(Era::Handshake, Transport::Stdio))
        .await
        .unwrap();
    host.call_ok("remember", json!({"key": "b", "value": "2"}))
        .await;
    host.call_ok("remember", json!({"key": "a", "value": "1"}))
        .await;
    assert_eq!(text_of(&host.call_ok("keys", empty_args()).await), "a,b");
    assert_eq!(
        text_of(&host.call_ok("forget", json!({"key": "a"})).await),
        "forgot a"
    );
    assert_eq!(
        text_of(&host.call_ok("forget", json!({"key": "a"})).await),
        "nothing under a"
    );
    assert_eq!(text_of(&host.call_ok("keys", empty_args()).await), "b");
    host.shutdown().await;
}

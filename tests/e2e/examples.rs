//! The example plugins as a user meets them: `profile` (a typed form,
//! remembered in session state), `summarize` (sampling) and `notes`
//! (resources, prompts, completions and change notices).

use rmcp::model::{GetPromptRequestParams, ReadResourceRequestParams, SubscribeRequestParams};
use serde_json::json;

use super::support::*;

#[tokio::test]
async fn profile_asks_once_and_remembers_for_the_session() {
    for (era, transport) in [
        (Era::Handshake, Transport::Stdio),
        (Era::Handshake, Transport::Http),
        (Era::Modern, Transport::Stdio),
    ] {
        let dir = PluginDir::with(&["profile"], &[]);
        let script =
            ClientScript::capable([accept(json!({"name": "Ada", "email": "ada@example.com"}))]);
        let host = Connected::start(&dir, HostOptions::new(era, transport).script(script))
            .await
            .unwrap();
        let first = host.call_ok("profile", empty_args()).await;
        assert_eq!(
            text_of(&first),
            "Profile stored for this session: Ada <ada@example.com>",
            "{era:?} over {transport:?}"
        );
        assert_eq!(first.structured_content.as_ref().unwrap()["source"], "form");
        let second = host.call_ok("profile", empty_args()).await;
        assert_eq!(text_of(&second), "Profile: Ada <ada@example.com>");
        assert_eq!(
            host.received.lock().unwrap().elicitations.len(),
            1,
            "asked once"
        );
        let forgotten = host.call_ok("forget_profile", empty_args()).await;
        assert_eq!(
            forgotten.structured_content.as_ref().unwrap()["forgotten"],
            true
        );
        host.shutdown().await;
    }
}

#[tokio::test]
async fn profile_stores_nothing_when_the_user_declines() {
    let dir = PluginDir::with(&["profile"], &[]);
    let script = ClientScript::capable([decline()]);
    let host = Connected::start(
        &dir,
        HostOptions::new(Era::Handshake, Transport::Stdio).script(script),
    )
    .await
    .unwrap();
    let result = host.call_ok("profile", empty_args()).await;
    assert!(
        text_of(&result).contains("nothing was stored"),
        "{}",
        text_of(&result)
    );
    host.shutdown().await;
}

#[tokio::test]
async fn summarize_asks_the_clients_model() {
    for_each_combination(|era, transport| async move {
        let dir = PluginDir::with(&["summarize"], &[]);
        let host = Connected::start(
            &dir,
            HostOptions::new(era, transport).script(ClientScript::capable([])),
        )
        .await
        .unwrap();
        let result = host
            .call_ok(
                "summarize",
                json!({"text": "France is a country. Its capital is Paris.", "max_words": 5}),
            )
            .await;
        let text = text_of(&result);
        assert!(text.starts_with("Paris."), "{text}");
        assert!(text.contains("(summarized by test-model)"), "{text}");
        let asked = serde_json::to_string(&host.received.lock().unwrap().samplings[0]).unwrap();
        assert!(asked.contains("Its capital is Paris."), "{asked}");
        assert!(asked.contains("systemPrompt"), "{asked}");
        host.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn notes_serve_resources_prompts_and_completions_and_announce_changes() {
    let dir = PluginDir::with(&["notes"], &[]);
    let host = Connected::start(&dir, HostOptions::new(Era::Handshake, Transport::Http))
        .await
        .unwrap();
    host.client
        .subscribe(SubscribeRequestParams::new("note://alpha"))
        .await
        .unwrap();
    let added = host
        .call_ok("add_note", json!({"name": "alpha", "text": "first draft"}))
        .await;
    assert_eq!(text_of(&added), "Added the note note://alpha");
    wait_until(&host.received, "list_changed and updated", |r| {
        r.resource_list_changes >= 1 && r.resource_updates.iter().any(|u| u == "note://alpha")
    })
    .await;

    let listed = host.client.list_all_resources().await.unwrap();
    assert!(listed.iter().any(|r| r.uri == "note://alpha"), "{listed:?}");
    let read = host
        .client
        .read_resource(ReadResourceRequestParams::new("note://alpha"))
        .await
        .unwrap();
    assert!(
        serde_json::to_string(&read.contents)
            .unwrap()
            .contains("first draft")
    );

    let values = host
        .client
        .complete_prompt_simple("review_note", "name", "al")
        .await
        .unwrap();
    assert_eq!(values, vec!["alpha".to_string()]);
    let values = host
        .client
        .complete_resource_simple("note://{name}", "name", "a")
        .await
        .unwrap();
    assert_eq!(values, vec!["alpha".to_string()]);

    let mut args = serde_json::Map::new();
    args.insert("name".into(), json!("alpha"));
    let prompt = host
        .client
        .get_prompt(GetPromptRequestParams::new("review_note").with_arguments(args))
        .await
        .unwrap();
    let rendered = serde_json::to_string(&prompt.messages).unwrap();
    assert!(rendered.contains("\"type\":\"resource\""), "{rendered}");
    assert!(rendered.contains("first draft"), "{rendered}");

    // Another session has its own notes.
    let other = rmcp::ServiceExt::serve(
        RecordingClient::default(),
        http_client_transport(host.url.clone().unwrap()),
    )
    .await
    .unwrap();
    let theirs = other.list_all_resources().await.unwrap();
    assert!(
        !theirs.iter().any(|r| r.uri == "note://alpha"),
        "{theirs:?}"
    );
    let _ = other.cancel().await;

    host.call_ok("delete_note", json!({"name": "alpha"})).await;
    wait_until(&host.received, "a second list_changed", |r| {
        r.resource_list_changes >= 2
    })
    .await;
    let gone = host
        .client
        .read_resource(ReadResourceRequestParams::new("note://alpha"))
        .await
        .unwrap_err();
    assert_eq!(protocol_error(&gone).unwrap().0, -32002);
    host.shutdown().await;
}

//! Multi-round tool calls (2026-07-28): the `requestState` the host seals is
//! checked, and a call whose parked sandbox is gone (expired, or the host
//! restarted) is replayed from its recorded answers; a parked call keeps
//! the version it started on across a reload.

use rmcp::model::{CallToolResponse, InputRequiredResult};
use serde_json::{Value, json};

use super::support::*;

/// One round by hand: the input request's key and the sealed state.
fn input_required(response: CallToolResponse) -> (String, String) {
    match response {
        CallToolResponse::InputRequired(InputRequiredResult {
            input_requests: Some(requests),
            request_state: Some(state),
            ..
        }) => {
            assert_eq!(requests.len(), 1, "one question per round");
            (requests.keys().next().unwrap().clone(), state)
        }
        other => panic!("input was expected to be required: {other:?}"),
    }
}

fn completed(response: CallToolResponse) -> String {
    match response {
        CallToolResponse::Complete(result) => {
            assert_ne!(result.is_error, Some(true), "{result:?}");
            text_of(&result)
        }
        other => panic!("a complete result was expected: {other:?}"),
    }
}

fn retry(
    tool: &str,
    key: &str,
    answer: Value,
    state: String,
) -> rmcp::model::CallToolRequestParams {
    let mut responses = rmcp::model::InputResponses::new();
    responses.insert(key.to_string(), answer);
    params(tool, empty_args())
        .with_input_responses(responses)
        .with_request_state(state)
}

/// One retry round answering the open question with an accepted form.
async fn accept_round(
    host: &Connected,
    tool: &str,
    key: &str,
    content: Value,
    state: String,
) -> CallToolResponse {
    let answer = json!({"action": "accept", "content": content});
    host.client
        .call_tool_once(retry(tool, key, answer, state))
        .await
        .unwrap()
}

async fn modern_host(dir: &PluginDir, extra: &[&str]) -> Connected {
    let mut options =
        HostOptions::new(Era::Modern, Transport::Http).script(ClientScript::capable([]));
    for arg in extra {
        options = options.arg(*arg);
    }
    Connected::start(dir, options).await.unwrap()
}

#[tokio::test]
async fn rounds_can_be_driven_by_hand() {
    let dir = PluginDir::with(&[], &["facade"]);
    let host = modern_host(&dir, &[]).await;
    let first = host
        .client
        .call_tool_once(params("elicit_twice", empty_args()))
        .await
        .unwrap();
    let (key, state) = input_required(first);
    let second = accept_round(&host, "elicit_twice", &key, json!({"name": "Ada"}), state).await;
    let (key2, state2) = input_required(second);
    assert_ne!(key, key2, "each round asks under a new key");
    let done = accept_round(&host, "elicit_twice", &key2, json!({"age": 36}), state2).await;
    assert_eq!(completed(done), "name=Ada age=36");
    host.shutdown().await;
}

#[tokio::test]
async fn a_tampered_or_foreign_request_state_is_refused() {
    let dir = PluginDir::with(&[], &["facade"]);
    let host = modern_host(&dir, &[]).await;
    let (key, state) = input_required(
        host.client
            .call_tool_once(params("elicit_name", empty_args()))
            .await
            .unwrap(),
    );
    let answer = json!({"action": "accept", "content": {"name": "Eve"}});

    // Flip one character of the payload.
    let mut bytes = state.clone().into_bytes();
    bytes[3] = if bytes[3] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    let err = host
        .client
        .call_tool_once(retry("elicit_name", &key, answer.clone(), tampered))
        .await
        .unwrap_err();
    let (code, message) = protocol_error(&err).expect("a protocol error");
    assert_eq!(code, -32602, "{message}");
    assert!(
        message.contains("requestState was not issued by this server"),
        "{message}"
    );

    // A genuine state, sent with another tool.
    let err = host
        .client
        .call_tool_once(retry("elicit_twice", &key, answer.clone(), state.clone()))
        .await
        .unwrap_err();
    let (_, message) = protocol_error(&err).unwrap();
    assert!(
        message.contains("belongs to a different request"),
        "{message}"
    );

    // A genuine state without the answer it waits for.
    let err = host
        .client
        .call_tool_once(retry(
            "elicit_name",
            "wrong-key",
            answer.clone(),
            state.clone(),
        ))
        .await
        .unwrap_err();
    let (_, message) = protocol_error(&err).unwrap();
    assert!(
        message.contains(&format!("no answer for `{key}`")),
        "{message}"
    );

    // The parked call is still there and finishes with the right retry.
    let done = host
        .client
        .call_tool_once(retry("elicit_name", &key, answer, state))
        .await
        .unwrap();
    assert_eq!(completed(done), "hello Eve");
    host.shutdown().await;
}

#[tokio::test]
async fn a_call_whose_parked_sandbox_expired_is_replayed() {
    let dir = PluginDir::with(&[], &["facade"]);
    let host = modern_host(&dir, &["--parked-ttl-ms", "50"]).await;
    let (key, state) = input_required(
        host.client
            .call_tool_once(params("elicit_twice", empty_args()))
            .await
            .unwrap(),
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // The call starts over; its first question is answered from the state,
    // so the client is asked only the second.
    let (key2, state2) = input_required(
        accept_round(&host, "elicit_twice", &key, json!({"name": "Ada"}), state).await,
    );
    let done = accept_round(&host, "elicit_twice", &key2, json!({"age": 7}), state2).await;
    assert_eq!(completed(done), "name=Ada age=7");
    host.shutdown().await;
}

#[tokio::test]
async fn a_call_survives_a_host_restart_through_replay() {
    let dir = PluginDir::with(&[], &["facade"]);
    let keys = PluginDir::empty();
    let key_file = keys.path.join("state.key");
    let key_arg = key_file.to_str().unwrap();
    let first = modern_host(&dir, &["--state-key-file", key_arg]).await;
    let (key, state) = input_required(
        first
            .client
            .call_tool_once(params("elicit_twice", empty_args()))
            .await
            .unwrap(),
    );
    first.shutdown().await;

    let second = modern_host(&dir, &["--state-key-file", key_arg]).await;
    let (key2, state2) = input_required(
        accept_round(&second, "elicit_twice", &key, json!({"name": "Lin"}), state).await,
    );
    let done = accept_round(&second, "elicit_twice", &key2, json!({"age": 50}), state2).await;
    assert_eq!(completed(done), "name=Lin age=50");
    second.shutdown().await;

    // A state sealed by a host with another key is refused.
    let other = modern_host(&dir, &[]).await;
    let (key, foreign) = input_required(
        other
            .client
            .call_tool_once(params("elicit_name", empty_args()))
            .await
            .unwrap(),
    );
    let third = modern_host(&dir, &["--state-key-file", key_arg]).await;
    let err = third
        .client
        .call_tool_once(retry(
            "elicit_name",
            &key,
            json!({"action": "decline"}),
            foreign,
        ))
        .await
        .unwrap_err();
    assert!(
        protocol_error(&err)
            .unwrap()
            .1
            .contains("not issued by this server")
    );
    other.shutdown().await;
    third.shutdown().await;
}

/// Wait (bounded) until the served `elicit_name` takes a `greeting`: the
/// facade's version was replaced by the twin's.
async fn wait_for_the_new_schema(host: &Connected) {
    let started = std::time::Instant::now();
    loop {
        let tools = host.client.list_all_tools().await.unwrap();
        let schema = tools
            .iter()
            .find(|t| t.name == "elicit_name")
            .map(|t| Value::Object((*t.input_schema).clone()).to_string());
        if schema.is_some_and(|s| s.contains("greeting")) {
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the new version was not loaded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_parked_call_keeps_its_version_when_the_tool_schema_changes() {
    let twin = std::fs::read(fixture_plugins().join("twin.wasm")).unwrap();

    // Parked while the reload happens: it finishes on the old version, with
    // the arguments the old schema accepted.
    let dir = PluginDir::with(&[], &["facade"]);
    let host = modern_host(&dir, &[]).await;
    let (key, state) = input_required(
        host.client
            .call_tool_once(params("elicit_name", empty_args()))
            .await
            .unwrap(),
    );
    dir.replace("facade.wasm", &twin);
    wait_for_the_new_schema(&host).await;
    let new_call = host
        .client
        .call_tool_once(params("elicit_name", empty_args()))
        .await
        .unwrap_err();
    let (_, message) = protocol_error(&new_call).unwrap();
    assert!(message.contains("greeting"), "{message}");
    let done = accept_round(&host, "elicit_name", &key, json!({"name": "Ada"}), state).await;
    assert_eq!(
        completed(done),
        "hello Ada",
        "the facade's version answered"
    );
    host.shutdown().await;

    // Its sandbox expired before the retry: replayed on the new version,
    // whose schema the old arguments no longer meet, it fails by name.
    let dir = PluginDir::with(&[], &["facade"]);
    let host = modern_host(&dir, &["--parked-ttl-ms", "50"]).await;
    let (key, state) = input_required(
        host.client
            .call_tool_once(params("elicit_name", empty_args()))
            .await
            .unwrap(),
    );
    dir.replace("facade.wasm", &twin);
    wait_for_the_new_schema(&host).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    match accept_round(&host, "elicit_name", &key, json!({"name": "Ada"}), state).await {
        CallToolResponse::Complete(result) => {
            assert_eq!(result.is_error, Some(true), "{result:?}");
            let text = text_of(&result);
            assert!(
                text.contains("cannot be resumed") && text.contains("greeting"),
                "{text}"
            );
        }
        other => panic!("a complete result was expected: {other:?}"),
    }
    host.shutdown().await;
}

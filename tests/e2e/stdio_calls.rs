//! A stdio client that pipelines more tool calls than its share
//! (`--max-calls-per-principal`): the calls beyond it wait their turn, in
//! order, instead of being refused, also when the client closes stdin; a
//! waiting call the client cancels is dropped unanswered; and while a call
//! waits for the client's answer to a request of its own, that answer is
//! still read.

use serde_json::{Value, json};

use crate::raw_stdio::RawSession;
use crate::support::*;

fn call(id: i64, tool: &str, arguments: Value) -> String {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
        "params":{"name":tool,"arguments":arguments}})
    .to_string()
}

fn text_of(response: &Value) -> &str {
    response["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text result: {response}"))
}

/// The answer to request `id`, whether already read or still to come
/// (answers of calls running at once may come in any order).
async fn answer(s: &mut RawSession, id: i64) -> Value {
    let already = s
        .seen()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|m| m["id"] == json!(id) && m.get("method").is_none());
    match already {
        Some(found) => found,
        None => s.response(id).await,
    }
}

/// `countdown`'s arguments for a call that runs one second.
fn one_second() -> Value {
    json!({"seconds": 1, "step_ms": 1000})
}

/// Calls 10 and 11, a second each, taking both places of a share of two.
async fn take_both_places(s: &mut RawSession) {
    for id in [10, 11] {
        s.send(&call(id, "countdown", one_second())).await;
    }
}

async fn start(dir: &PluginDir, share: &str, capabilities: Value) -> RawSession {
    let mut s = RawSession::start_with(dir, &["--max-calls-per-principal", share]).await;
    s.initialize_with(capabilities).await;
    s
}

#[tokio::test]
async fn calls_past_the_clients_share_wait_their_turn_and_all_run() {
    let dir = PluginDir::with(&["hello"], &[]);
    let mut s = start(&dir, "2", json!({})).await;
    // Five calls of a second each, sent at once, with room for two: two
    // run, two wait in the host, and the fifth waits unread in the pipe.
    for id in 10..15 {
        s.send(&call(id, "countdown", one_second())).await;
    }
    for id in 10..15 {
        let r = answer(&mut s, id).await;
        assert_eq!(r["result"]["isError"], json!(false), "call {id}: {r}");
        assert_eq!(text_of(&r), "done after 1 steps", "call {id}");
    }
}

#[tokio::test]
async fn calls_waiting_when_the_client_closes_stdin_still_run_and_are_answered() {
    let dir = PluginDir::with(&["hello"], &[]);
    let mut s = start(&dir, "2", json!({})).await;
    take_both_places(&mut s).await;
    // 12 waits in the host when stdin ends.
    s.send(&call(12, "add", json!({"a": 1, "b": 2}))).await;
    let messages = s.close_and_read_all().await;
    for id in 10..13 {
        let answer = messages
            .iter()
            .find(|m| m["id"] == json!(id) && m.get("method").is_none())
            .unwrap_or_else(|| panic!("call {id} was not answered: {messages:#?}"));
        assert_eq!(answer["result"]["isError"], json!(false), "{answer}");
    }
}

#[tokio::test]
async fn a_waiting_call_the_client_cancels_is_dropped_unanswered() {
    let dir = PluginDir::with(&["hello"], &[]);
    let mut s = start(&dir, "2", json!({})).await;
    take_both_places(&mut s).await;
    // 12 waits, and is cancelled while it waits.
    s.send(&call(12, "countdown", one_second())).await;
    s.send(r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":12}}"#)
        .await;
    s.send(&call(13, "add", json!({"a": 1, "b": 2}))).await;
    assert_eq!(text_of(&answer(&mut s, 10).await), "done after 1 steps");
    assert_eq!(text_of(&answer(&mut s, 11).await), "done after 1 steps");
    assert_eq!(text_of(&answer(&mut s, 13).await), "1 + 2 = 3");
    // Everything before the ping's answer has been written by then.
    s.send(r#"{"jsonrpc":"2.0","id":14,"method":"ping"}"#).await;
    answer(&mut s, 14).await;
    let cancelled_answered = s
        .seen()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .any(|m| m["id"] == json!(12));
    assert!(
        !cancelled_answered,
        "the cancelled call was answered: {:#?}",
        s.seen()
    );
}

#[tokio::test]
async fn a_call_waiting_for_the_clients_answer_gets_it_while_others_wait() {
    let dir = PluginDir::with(&["hello"], &["facade"]);
    let mut s = start(&dir, "1", json!({"sampling": {}})).await;
    s.send(&call(10, "sample", json!({"prompt": "2+2?"}))).await;
    let ask = loop {
        let message = s.next().await;
        if message["method"] == "sampling/createMessage" {
            break message;
        }
    };
    // The share is taken by the call that asks, and as many calls wait as
    // the host holds; the client's answer must still be read.
    s.send(&call(11, "add", json!({"a": 2, "b": 3}))).await;
    s.send(
        &json!({"jsonrpc":"2.0","id":ask["id"],"result":{
            "role":"assistant","content":{"type":"text","text":"4"},
            "model":"raw-model","stopReason":"endTurn"}})
        .to_string(),
    )
    .await;
    let sampled = answer(&mut s, 10).await;
    assert_eq!(
        text_of(&sampled),
        "model=raw-model stop=endTurn text=4",
        "{sampled}"
    );
    assert_eq!(text_of(&answer(&mut s, 11).await), "2 + 3 = 5");
}

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rmcp::RoleServer;
use rmcp::model::{ErrorData, NumberOrString};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::io::{AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use super::*;

fn unchanged(_: &[u8]) -> Option<Vec<u8>> {
    None
}

/// The SDK's own parse of `line`.
fn sdk_parse(line: &str) -> Option<RxJsonRpcMessage<RoleServer>> {
    serde_json::from_str(line).ok()
}

#[test]
fn common_requests_parse_as_the_sdk_parses_them() {
    let taken = [
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}"#,
        r#"{"id":"x-2","method":"tools/call","jsonrpc":"2.0","params":{"name":"add","arguments":{},"_meta":{"progressToken":"p-1","other":[1,2]}}}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"add","arguments":{"s":"\u00e9\n\"q\""},"task":{"ttl":1000}}}"#,
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/list"}"#,
        r#"{"jsonrpc":"2.0","id":5,"method":"tools/list","params":{"cursor":"abc"}}"#,
        r#"{"jsonrpc":"2.0","id":6,"method":"tools/list","params":null}"#,
        r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":8,"method":"resources/read","params":{"uri":"file:///a"}}"#,
        r#"{"jsonrpc":"2.0","id":9,"method":"resources/list","params":{}}"#,
        r#"{"jsonrpc":"2.0","id":10,"method":"prompts/get","params":{"name":"p","arguments":{"k":"v"}}}"#,
        r#"{"jsonrpc":"2.0","id":11,"method":"prompts/list","params":{"_meta":{"io.example/x":1}}}"#,
        r#"{"jsonrpc":"2.0","id":12,"method":"tools\/call","params":{"name":"add"}}"#,
        r#"{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{"arguments":{"x":[1,{"y":null}]},"_meta":{"progressToken":7},"name":"add"}}"#,
        r#"{"jsonrpc":"2.0","id":14,"method":"tools/call","params":{"name":"add","arguments":null,"_meta":null}}"#,
        r#"{"jsonrpc":"2.0","id":15,"method":"tools/call","params":{"name":"add","arguments":{"a":1},"requestState":"s"}}"#,
    ];
    for line in taken {
        let fast = common_request(line.as_bytes()).unwrap_or_else(|| panic!("not taken: {line}"));
        let sdk = sdk_parse(line).unwrap_or_else(|| panic!("the SDK refuses {line}"));
        assert_eq!(
            serde_json::to_value(&fast).unwrap(),
            serde_json::to_value(&sdk).unwrap(),
            "{line}"
        );
        assert_eq!(format!("{fast:?}"), format!("{sdk:?}"), "{line}");
    }
}

#[test]
fn anything_else_is_left_to_the_sdk() {
    let left = [
        // Members beyond JSON-RPC's four, or a result beside a method.
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"},"extra":1}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"ping","result":{}}"#,
        // A request of a common method whose params do not fit it.
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":7}}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":"x"}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call"}"#,
        // Another method, a notification, a response, another version.
        r#"{"jsonrpc":"2.0","id":3,"method":"initialize","params":{}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        r#"{"jsonrpc":"2.0","id":4,"result":{}}"#,
        r#"{"jsonrpc":"1.0","id":5,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#,
        // Twice the same member.
        r#"{"jsonrpc":"2.0","id":6,"id":7,"method":"ping"}"#,
    ];
    for line in left {
        assert!(common_request(line.as_bytes()).is_none(), "{line}");
    }
}

#[test]
fn lines_that_are_no_message_are_ignored_or_answered() {
    let cases = [
        ("{", "ignored"),
        ("not json at all", "ignored"),
        ("\u{1}\u{2}", "ignored"),
        (r#"{"jsonrpc":"2.0","method":"custom/hello"}"#, "message"),
        (
            r#"{"jsonrpc":"2.0","method":"notifications/unheard-of"}"#,
            "message",
        ),
        // What fails to parse: ignored if a notification outside MCP,
        // answered if one of MCP's.
        (r#"{"jsonrpc":"1.0","method":"custom/x"}"#, "ignored"),
        (
            r#"{"method":"notifications/unheard-of","params":{}}"#,
            "ignored",
        ),
        (
            r#"{"jsonrpc":"1.0","method":"notifications/progress"}"#,
            "invalid",
        ),
        (r#"{"jsonrpc":"1.0","id":4,"method":"custom/x"}"#, "invalid"),
        (r#"{"jsonrpc":"2.0","id":1}"#, "invalid"),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","result":{}}"#,
            "invalid",
        ),
        ("[]", "invalid"),
        ("null", "invalid"),
        (
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            "message",
        ),
        (
            r#"{"jsonrpc":"2.0","id":2,"method":"no/such/method"}"#,
            "message",
        ),
        (
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":7}}"#,
            "message",
        ),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|(line, expected)| {
            let got = match parse(line.as_bytes()) {
                Parsed::Message(_) => "message",
                Parsed::Ignored => "ignored",
                Parsed::Invalid => "invalid",
            };
            (got != *expected).then(|| format!("{line}: {got}, not {expected}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The requests `input` holds, as the wire reads them, with the id of
/// each (`Invalid Request` answers show up on `answers`).
async fn ids_read(input: &[u8]) -> (Vec<NumberOrString>, String) {
    let (sink, mut answers) = tokio::io::duplex(1 << 20);
    let mut wire = StdioWire::new(input, sink, unchanged, unchanged);
    let mut ids = Vec::new();
    while let Some(message) = wire.receive().await {
        match message {
            rmcp::model::JsonRpcMessage::Request(r) => ids.push(r.id),
            other => panic!("{other:?}"),
        }
    }
    wire.close().await.unwrap();
    drop(wire);
    let mut text = String::new();
    answers.read_to_string(&mut text).await.unwrap();
    (ids, text)
}

#[tokio::test]
async fn lines_are_read_with_crlf_bom_and_blank_lines_and_a_bad_one_answered() {
    let input = "\u{feff}{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n\
                 \n\
                 {\"jsonrpc\":\"2.0\",\"id\":1}\n\
                 {\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}\n\
                 {\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}";
    let (ids, answers) = ids_read(input.as_bytes()).await;
    // The last line never ended: no message.
    assert_eq!(ids, [NumberOrString::Number(1), NumberOrString::Number(2)]);
    let answer: serde_json::Value = serde_json::from_str(answers.trim()).unwrap();
    assert_eq!(answer["error"]["code"], -32600, "{answers}");
    assert_eq!(answer["id"], serde_json::Value::Null, "{answers}");
}

#[tokio::test]
async fn a_line_past_the_limit_is_dropped_and_the_next_is_read() {
    let mut input = br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"x":""#.to_vec();
    input.resize(input.len() + MAX_LINE_BYTES + 10, b'a');
    input.extend_from_slice(b"\"}}}\n{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n");
    let (ids, answers) = ids_read(&input).await;
    assert_eq!(ids, [NumberOrString::Number(2)]);
    assert_eq!(answers, "");
}

#[tokio::test]
async fn what_a_long_message_took_is_given_back_once_it_is_read() {
    let mut input = br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"x":""#.to_vec();
    input.resize(input.len() + (8 << 20), b'a');
    input.extend_from_slice(b"\"}}}\n{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n");
    let (sink, _answers) = tokio::io::duplex(1 << 16);
    let mut wire = StdioWire::new(&input[..], sink, unchanged, unchanged);
    assert!(wire.receive().await.is_some());
    assert!(wire.lines.buf.capacity() > 8 << 20);
    assert!(wire.receive().await.is_some());
    assert!(wire.receive().await.is_none());
    assert!(
        wire.lines.buf.capacity() <= KEPT_CAPACITY + READ_CHUNK,
        "{}",
        wire.lines.buf.capacity()
    );
}

/// A sink that records each write, and can be held shut.
#[derive(Clone, Default)]
struct Recorder {
    writes: Arc<Mutex<Vec<Vec<u8>>>>,
    shut: Arc<std::sync::atomic::AtomicBool>,
    waker: Arc<Mutex<Option<std::task::Waker>>>,
}

impl Recorder {
    fn open(&self) {
        self.shut.store(false, std::sync::atomic::Ordering::SeqCst);
        if let Some(w) = self.waker.lock().unwrap().take() {
            w.wake();
        }
    }
}

impl AsyncWrite for Recorder {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.shut.load(std::sync::atomic::Ordering::SeqCst) {
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            return Poll::Pending;
        }
        self.writes.lock().unwrap().push(buf.to_vec());
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn answer(id: i64, text: &str) -> TxJsonRpcMessage<RoleServer> {
    TxJsonRpcMessage::<RoleServer>::error(
        ErrorData::internal_error(text.to_string(), None),
        Some(NumberOrString::Number(id)),
    )
}

#[tokio::test]
async fn answers_ready_together_leave_in_one_write_in_order() {
    let sink = Recorder::default();
    let mut wire = StdioWire::new(&b""[..], sink.clone(), unchanged, unchanged);
    for id in 1..=3 {
        wire.send(answer(id, "x")).await.unwrap();
    }
    wire.close().await.unwrap();
    let writes = sink.writes.lock().unwrap().clone();
    assert_eq!(writes.len(), 1, "{writes:?}");
    let ids: Vec<i64> = String::from_utf8(writes[0].clone())
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(ids, [1, 2, 3]);
}

#[tokio::test]
async fn no_request_is_read_while_the_client_leaves_its_answers_unread() {
    let sink = Recorder::default();
    sink.shut.store(true, std::sync::atomic::Ordering::SeqCst);
    let input = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n";
    let mut wire = StdioWire::new(&input[..], sink.clone(), unchanged, unchanged);
    let big = "y".repeat(OUTPUT_HIGH_WATER / 4);
    for id in 0..5 {
        wire.send(answer(id, &big)).await.unwrap();
    }
    let held = tokio::time::timeout(Duration::from_millis(200), wire.receive()).await;
    assert!(held.is_err(), "a request was read past the high-water mark");
    sink.open();
    let read = tokio::time::timeout(Duration::from_secs(5), wire.receive())
        .await
        .expect("the request is read once the answers are")
        .unwrap();
    assert!(matches!(read, rmcp::model::JsonRpcMessage::Request(_)));
    wire.close().await.unwrap();
    let written: usize = sink.writes.lock().unwrap().iter().map(Vec::len).sum();
    assert!(written > 5 * big.len(), "{written}");
}

#[tokio::test]
async fn lines_are_rewritten_on_the_way_in_and_out() {
    fn to_ping(line: &[u8]) -> Option<Vec<u8>> {
        (line == b"PING").then(|| br#"{"jsonrpc":"2.0","id":9,"method":"ping"}"#.to_vec())
    }
    fn tag(line: &[u8]) -> Option<Vec<u8>> {
        let mut v: serde_json::Value = serde_json::from_slice(line).ok()?;
        v["tagged"] = true.into();
        serde_json::to_vec(&v).ok()
    }
    let (sink, mut out) = tokio::io::duplex(1 << 16);
    let mut wire = StdioWire::new(&b"PING\n"[..], sink, to_ping, tag);
    let Some(rmcp::model::JsonRpcMessage::Request(r)) = wire.receive().await else {
        panic!("no request");
    };
    assert_eq!(r.id, NumberOrString::Number(9));
    wire.send(answer(9, "z")).await.unwrap();
    wire.close().await.unwrap();
    drop(wire);
    let mut text = String::new();
    out.read_to_string(&mut text).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(v["tagged"], true, "{text}");
    let _ = out.shutdown().await;
}

mod properties {
    use proptest::prelude::*;

    use super::{common_request, parse, sdk_parse};
    use crate::test_strategies::CASES;

    /// One of `valid` mostly, else one of `broken`, or (rarely) nothing.
    fn member(
        valid: &[&'static str],
        broken: &[&'static str],
    ) -> BoxedStrategy<Option<&'static str>> {
        prop_oneof![
            8 => prop::sample::select(valid.to_vec()).prop_map(Some),
            1 => prop::sample::select(broken.to_vec()).prop_map(Some),
            1 => Just(None),
        ]
        .boxed()
    }

    /// A JSON object of JSON-RPC's members, each mostly valid, sometimes
    /// broken or missing, now and then with a member beyond them, in any
    /// order.
    fn message_line() -> impl Strategy<Value = String> {
        let members = (
            member(
                &[r#""jsonrpc":"2.0""#],
                &[r#""jsonrpc":"1.0""#, r#""jsonrpc":2"#],
            ),
            member(
                &[r#""id":1"#, r#""id":"a\"b""#, r#""id":-7"#],
                &[r#""id":null"#, r#""id":{}"#, r#""id":1.5"#],
            ),
            member(
                &[
                    r#""method":"tools/call""#,
                    r#""method":"tools/list""#,
                    r#""method":"ping""#,
                    r#""method":"resources/read""#,
                    r#""method":"resources/list""#,
                    r#""method":"prompts/get""#,
                    r#""method":"prompts/list""#,
                    r#""method":"tools\/call""#,
                ],
                &[
                    r#""method":"initialize""#,
                    r#""method":"custom/x""#,
                    r#""method":7"#,
                ],
            ),
            member(
                &[
                    r#""params":{"name":"add","arguments":{"a":1}}"#,
                    r#""params":{"name":"add","arguments":{"a":1},"_meta":{"progressToken":3}}"#,
                    r#""params":{"_meta":{"progressToken":"t","io.x/y":[1]},"name":"add"}"#,
                    r#""params":{"uri":"mem://x","_meta":{}}"#,
                    r#""params":{"cursor":"c","_meta":{"k":1}}"#,
                    r#""params":{}"#,
                    r#""params":{"name":"p","arguments":{"k":"v"}}"#,
                    r#""params":{"name":"add","arguments":{},"task":{"ttl":5}}"#,
                    r#""params":{"arguments":{"x":[1,{"y":null}],"z":"\u00e9"},"name":"add"}"#,
                    r#""params":{"name":"add","arguments":null}"#,
                    r#""params":{"name":"add","arguments":{"a":1},"requestState":"s"}"#,
                ],
                &[
                    r#""params":{"name":7}"#,
                    r#""params":null"#,
                    r#""params":[]"#,
                    r#""params":"s""#,
                    r#""params":{"name":"add","_meta":{"progressToken":{}}}"#,
                    r#""params":{"cursor":"c","_meta":null}"#,
                    r#""params":{"name":"add","arguments":[1]}"#,
                    r#""params":{"name":"add","_meta":[]}"#,
                ],
            ),
            prop::option::weighted(
                0.1,
                prop::sample::select(vec![
                    r#""result":{}"#,
                    r#""error":{"code":1,"message":"m"}"#,
                    r#""extra":true"#,
                    r#""id":2"#,
                ]),
            ),
        );
        members
            .prop_map(|(a, b, c, d, e)| [a, b, c, d, e].into_iter().flatten().collect::<Vec<_>>())
            .prop_shuffle()
            .prop_map(|members| format!("{{{}}}", members.join(",")))
    }

    /// The property means something only if the short way takes many of
    /// the lines generated.
    #[test]
    fn the_lines_generated_are_often_taken_the_short_way() {
        use proptest::strategy::ValueTree as _;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let taken = (0..400)
            .map(|_| message_line().new_tree(&mut runner).unwrap().current())
            .filter(|line| common_request(line.as_bytes()).is_some())
            .count();
        assert!(taken >= 100, "only {taken} of 400 lines taken");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(CASES))]

        /// Whatever the line, a request parsed the short way is the very
        /// request the SDK's parse makes of it.
        #[test]
        fn the_short_way_agrees_with_the_sdk(line in message_line()) {
            if let Some(fast) = common_request(line.as_bytes()) {
                let sdk = sdk_parse(&line);
                let Some(sdk) = sdk else {
                    return Err(TestCaseError::fail(format!("the SDK refuses what was taken: {line}")));
                };
                // Debug shows the types (which request, which id kind), the
                // JSON shows `_meta` too (Debug leaves extensions out).
                prop_assert_eq!(format!("{fast:?}"), format!("{sdk:?}"), "{}", line);
                prop_assert_eq!(
                    serde_json::to_value(&fast).unwrap(),
                    serde_json::to_value(&sdk).unwrap(),
                    "{}",
                    line
                );
            }
        }

        #[test]
        fn any_bytes_are_parsed_safely(line in any::<Vec<u8>>()) {
            let _ = parse(&line);
        }
    }
}

//! The stdio protocol stream, read byte for byte: a guest's stdout never
//! reaches it, and malformed JSON-RPC gets a protocol error while the
//! session carries on.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{ChildStderr, ChildStdin, ChildStdout, Command};

use crate::support::*;

pub(crate) struct RawSession {
    stdin: ChildStdin,
    stdout: tokio::io::Lines<BufReader<ChildStdout>>,
    child: tokio::process::Child,
    stderr: Stderr,
    /// Every line the host wrote to stdout.
    seen: Vec<String>,
}

impl RawSession {
    pub(crate) async fn start(dir: &PluginDir) -> Self {
        Self::start_with(dir, &[]).await
    }

    /// Serve `dir` with the extra `args`.
    pub(crate) async fn start_with(dir: &PluginDir, args: &[&str]) -> Self {
        let (session, unread) = Self::spawn(dir, args, &[]);
        session.stderr.spawn_reader(unread);
        session
    }

    /// Serve `dir` with the extra `args` and environment `env`, handing back
    /// the host's stderr for the caller to read, or not.
    pub(crate) fn start_with_stderr_unread(
        dir: &PluginDir,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> (Self, ChildStderr) {
        Self::spawn(dir, args, env)
    }

    fn spawn(dir: &PluginDir, args: &[&str], env: &[(&str, &str)]) -> (Self, ChildStderr) {
        let mut child = Command::new(host_binary())
            .args(["serve", "--plugins"])
            .arg(&dir.path)
            .arg("--cache-dir")
            .arg(shared_cache_dir())
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let unread = child.stderr.take().unwrap();
        let session = Self {
            stdin: child.stdin.take().unwrap(),
            stdout: BufReader::new(child.stdout.take().unwrap()).lines(),
            child,
            stderr: Stderr::default(),
            seen: Vec::new(),
        };
        (session, unread)
    }

    pub(crate) async fn send(&mut self, line: &str) {
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        self.stdin.write_all(b"\n").await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// The next message the host writes (bounded).
    pub(crate) async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(30), self.stdout.next_line())
            .await
            .expect("the host answered in time")
            .unwrap()
            .expect("the host kept stdout open");
        self.seen.push(line.clone());
        let message: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout carried a non-JSON line ({e}): {line}"));
        assert_eq!(message["jsonrpc"], "2.0", "{line}");
        message
    }

    /// The notification `method` whose params `wanted` accepts, already
    /// written or the next such one (bounded).
    pub(crate) async fn notification(
        &mut self,
        method: &str,
        wanted: impl Fn(&Value) -> bool,
    ) -> Value {
        let matches = |message: &Value| message["method"] == method && wanted(&message["params"]);
        if let Some(found) = self
            .seen
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|m| matches(m))
        {
            return found;
        }
        loop {
            let message = self.next().await;
            if matches(&message) {
                return message;
            }
        }
    }

    /// Close stdin, then read until the host closes stdout (bounded): every
    /// message the host wrote in the session.
    pub(crate) async fn close_and_read_all(self) -> Vec<Value> {
        let Self {
            stdin,
            mut stdout,
            mut child,
            mut seen,
            ..
        } = self;
        drop(stdin);
        tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = stdout.next_line().await.unwrap() {
                seen.push(line);
            }
        })
        .await
        .expect("the host closed stdout in time");
        let _ = child.wait().await;
        seen.iter()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// Every line the host wrote so far.
    pub(crate) fn seen(&self) -> &[String] {
        &self.seen
    }

    /// Read lines until the response with `id` arrives (bounded).
    pub(crate) async fn response(&mut self, id: i64) -> Value {
        loop {
            let message = self.next().await;
            if message["id"] == json!(id) && message.get("method").is_none() {
                return message;
            }
        }
    }

    pub(crate) async fn initialize(&mut self) {
        self.initialize_with(json!({})).await;
    }

    /// The handshake, declaring the client's `capabilities`.
    pub(crate) async fn initialize_with(&mut self, capabilities: Value) {
        self.send(
            &json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
                "protocolVersion":"2025-11-25","capabilities":capabilities,
                "clientInfo":{"name":"raw","version":"0"}}})
            .to_string(),
        )
        .await;
        let init = self.response(1).await;
        assert_eq!(init["result"]["protocolVersion"], "2025-11-25");
        self.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            .await;
    }
}

#[tokio::test]
async fn guest_stdout_never_reaches_the_protocol_stream() {
    let dir = PluginDir::with(&["hello"], &["chatty"]);
    let mut s = RawSession::start(&dir).await;
    s.initialize().await;
    let marker = "MARKER-7d1f";
    s.send(
        &json!({"jsonrpc":"2.0","id":2,"method":"tools/call",
        "params":{"name":"shout","arguments":{"text": marker}}})
        .to_string(),
    )
    .await;
    let r = s.response(2).await;
    assert_eq!(r["result"]["content"][0]["text"], "shouted", "{r}");
    s.send(
        &json!({"jsonrpc":"2.0","id":3,"method":"tools/call",
        "params":{"name":"echo","arguments":{"text":"next"}}})
        .to_string(),
    )
    .await;
    let r = s.response(3).await;
    assert_eq!(r["result"]["content"][0]["text"], "next");

    assert!(
        s.seen.iter().all(|l| !l.contains(marker)),
        "guest output on stdout: {:?}",
        s.seen
    );
    // It went to the host's log instead, tagged with the plugin.
    let log = s
        .stderr
        .wait_for(marker, Duration::from_secs(5))
        .await
        .unwrap();
    let line = log.lines().find(|l| l.contains(marker)).unwrap();
    assert!(line.contains("chatty"), "{line}");
    drop(s.stdin);
    let _ = s.child.wait().await;
}

#[tokio::test]
async fn malformed_json_rpc_gets_an_error_and_the_session_continues() {
    let dir = PluginDir::with(&["hello"], &[]);
    let mut s = RawSession::start(&dir).await;
    s.initialize().await;
    // A request for a method that does not exist.
    s.send(r#"{"jsonrpc":"2.0","id":5,"method":"no/such/method","params":{}}"#)
        .await;
    let r = s.response(5).await;
    assert_eq!(r["error"]["code"], -32601, "{r}");
    // Arguments of the wrong shape.
    s.send(r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"echo","arguments":{"text":42}}}"#).await;
    let r = s.response(6).await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert!(
        r["error"]["message"].as_str().unwrap().contains("`/text`"),
        "{r}"
    );
    // The session still works.
    s.send(r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"alive"}}}"#).await;
    let r = s.response(7).await;
    assert_eq!(r["result"]["content"][0]["text"], "alive");
    drop(s.stdin);
    let _ = s.child.wait().await;
}

#[tokio::test]
async fn progress_is_sent_only_when_the_request_carries_a_token() {
    let dir = PluginDir::with(&["texttools"], &[]);
    let mut s = RawSession::start(&dir).await;
    s.initialize().await;
    let text: String = (0..3000).map(|i| format!("row {i}\n")).collect();
    let call = |id: i64, meta: Value| {
        json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
            "params":{"name":"search","arguments":{"text":text,"pattern":"row 1"},"_meta":meta}})
        .to_string()
    };
    s.send(&call(2, json!({}))).await;
    s.response(2).await;
    s.send(&call(3, json!({"progressToken": "p-3"}))).await;
    s.response(3).await;
    let progress: Vec<Value> = s
        .seen
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|m| m["method"] == "notifications/progress")
        .collect();
    assert!(
        !progress.is_empty(),
        "no progress for a request with a token"
    );
    assert!(
        progress
            .iter()
            .all(|p| p["params"]["progressToken"] == "p-3"),
        "{progress:?}"
    );
    drop(s.stdin);
    let _ = s.child.wait().await;
}

/// Lines of arbitrary bytes (a fixed pseudo-random sequence, so a failure
/// repeats), mixed with broken JSON-RPC.
fn garbage_lines() -> Vec<Vec<u8>> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut lines: Vec<Vec<u8>> = [
        "{",
        "}",
        "[]",
        "null",
        "\"text\"",
        "{\"jsonrpc\":\"2.0\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}",
        "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":\"x\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"tools/call\",\"params\":{\"name\":7}}",
        "{\"jsonrpc\":\"2.0\",\"result\":{},\"id\":12345}",
        "\u{feff}{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"ping\"}",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    for _ in 0..48 {
        let len = (next() % 200) as usize;
        let line: Vec<u8> = (0..len)
            .map(|_| (next() % 256) as u8)
            .filter(|b| *b != b'\n')
            .collect();
        lines.push(line);
    }
    lines
}

#[tokio::test]
async fn arbitrary_bytes_on_stdin_never_end_the_session() {
    let dir = PluginDir::with(&["hello"], &[]);
    let mut s = RawSession::start(&dir).await;
    s.initialize().await;
    for line in garbage_lines() {
        s.stdin.write_all(&line).await.unwrap();
        s.stdin.write_all(b"\n").await.unwrap();
    }
    s.stdin.flush().await.unwrap();
    s.send(r#"{"jsonrpc":"2.0","id":77,"method":"tools/call","params":{"name":"echo","arguments":{"text":"still here"}}}"#).await;
    let r = s.response(77).await;
    assert_eq!(r["result"]["content"][0]["text"], "still here", "{r}");
    // What came back besides is JSON-RPC, line by line.
    for line in &s.seen {
        let message: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(message["jsonrpc"], "2.0", "{line}");
    }
    assert!(!s.stderr.text().contains("panicked"), "{}", s.stderr.text());
    drop(s.stdin);
    let _ = s.child.wait().await;
}

/// Wait (bounded) for a host to exit on its own.
async fn exit_of(child: &mut tokio::process::Child) -> std::process::ExitStatus {
    tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the host exited in time")
        .unwrap()
}

#[tokio::test]
async fn stdin_closed_before_initialize_ends_the_host_quietly() {
    let dir = PluginDir::with(&["hello"], &[]);
    let output = tokio::process::Command::new(host_binary())
        .args(["serve", "--plugins"])
        .arg(&dir.path)
        .arg("--cache-dir")
        .arg(shared_cache_dir())
        .stdin(Stdio::null())
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), output)
        .await
        .expect("the host exited in time")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
    assert!(output.stdout.is_empty());
    assert!(!stderr.contains("error"), "{stderr}");
}

#[tokio::test]
async fn stdin_closed_during_a_session_ends_the_host_quietly() {
    let dir = PluginDir::with(&["hello"], &[]);
    let mut s = RawSession::start(&dir).await;
    s.initialize().await;
    s.send(
        &json!({"jsonrpc":"2.0","id":2,"method":"tools/call",
        "params":{"name":"add","arguments":{"a": 1, "b": 2}}})
        .to_string(),
    )
    .await;
    s.response(2).await;
    let RawSession {
        stdin,
        mut child,
        stderr,
        ..
    } = s;
    drop(stdin);
    let status = exit_of(&mut child).await;
    assert!(status.success(), "{status:?}: {}", stderr.text());
    assert!(!stderr.text().contains("error"), "{}", stderr.text());
}

#[tokio::test]
async fn a_reader_that_closes_stdout_ends_the_host_quietly() {
    // The client reads nothing: the host's first answer hits a closed pipe,
    // where a C program would die of SIGPIPE.
    let dir = PluginDir::with(&["hello"], &[]);
    let s = RawSession::start(&dir).await;
    let RawSession {
        mut stdin,
        stdout,
        mut child,
        stderr,
        ..
    } = s;
    drop(stdout);
    let initialize = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-11-25","capabilities":{},
        "clientInfo":{"name":"raw","version":"0"}}});
    stdin
        .write_all(format!("{initialize}\n").as_bytes())
        .await
        .unwrap();
    stdin.flush().await.unwrap();
    let status = exit_of(&mut child).await;
    assert!(status.success(), "{status:?}: {}", stderr.text());
    assert!(!stderr.text().contains("error"), "{}", stderr.text());
    // Its stdin stayed open all along: it was the closed stdout that ended it.
    drop(stdin);
}

#[tokio::test]
async fn a_client_that_leaves_its_answers_unread_stops_being_read_and_loses_nothing() {
    let dir = PluginDir::with(&["hello"], &[]);
    let mut s = RawSession::start(&dir).await;
    s.initialize().await;
    // 1 000 calls whose answers hold 32 KiB each: 32 MiB of answers, far
    // past what the host lets wait for a client (4 MiB).
    const CALLS: i64 = 1000;
    let text = "z".repeat(32 << 10);
    let RawSession {
        mut stdin,
        mut stdout,
        mut child,
        ..
    } = s;
    let writer = tokio::spawn(async move {
        for id in 100..100 + CALLS {
            let call = json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
                "params":{"name":"echo","arguments":{"text":text}}});
            stdin
                .write_all(format!("{call}\n").as_bytes())
                .await
                .unwrap();
        }
        stdin.flush().await.unwrap();
        stdin
    });
    // Nobody reads stdout: the host stops reading stdin, so the client's
    // writes cannot all go through.
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(
        !writer.is_finished(),
        "the host read 32 MiB of requests while none of their answers was read"
    );
    // Once the client reads, every call is answered, once.
    let mut answered = std::collections::BTreeSet::new();
    while answered.len() < CALLS as usize {
        let line = tokio::time::timeout(Duration::from_secs(30), stdout.next_line())
            .await
            .expect("the host answered in time")
            .unwrap()
            .expect("the host kept stdout open");
        let r: Value = serde_json::from_str(&line).unwrap();
        if r.get("method").is_some() {
            continue;
        }
        let id = r["id"].as_i64().expect("an answer to a call");
        assert!((100..100 + CALLS).contains(&id), "{id}");
        assert!(answered.insert(id), "call {id} answered twice");
        assert_eq!(
            r["result"]["content"][0]["text"].as_str().map(str::len),
            Some(32 << 10),
            "call {id}: {}",
            r["result"]["content"][0]["text"]
        );
    }
    let stdin = tokio::time::timeout(Duration::from_secs(30), writer)
        .await
        .expect("every request was read")
        .unwrap();
    drop(stdin);
    let _ = child.wait().await;
}

#[cfg(unix)]
#[tokio::test]
async fn a_call_running_at_sigterm_over_stdio_finishes_and_its_answer_is_written() {
    let dir = PluginDir::with(&["hello"], &[]);
    let mut s = RawSession::start(&dir).await;
    s.initialize().await;
    s.send(r#"{"jsonrpc":"2.0","id":40,"method":"tools/call","params":{"name":"countdown","arguments":{"seconds":1,"step_ms":100},"_meta":{"progressToken":"t40"}}}"#).await;
    // The call counts down for a second; once its first step is reported
    // (so it surely runs), the host is told to stop.
    s.notification("notifications/progress", |p| p["progressToken"] == "t40")
        .await;
    send_signal(s.child.id().expect("the host runs"), "TERM");
    let r = s.response(40).await;
    assert_eq!(
        r["result"]["content"][0]["text"], "done after 10 steps",
        "{r}"
    );
    let exited = exit_of(&mut s.child).await;
    assert!(exited.success(), "{exited:?}");
}

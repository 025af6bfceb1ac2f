//! The stdio wire: JSON-RPC messages as lines on stdin and stdout, as the
//! SDK's [`Transport`].
//!
//! Each line is read once. A request for one of the common methods is
//! parsed straight into its type: the SDK's own parse buffers the whole
//! message, then tries each kind of request in turn, building an error for
//! every kind that does not match. Any other line goes through the SDK's
//! parse, with its rules: a line that is not JSON is ignored, a notification
//! outside MCP is ignored, and well-formed JSON that is no JSON-RPC message
//! is answered with "Invalid Request".
//!
//! Answers are written in batches by a task of their own: those that are
//! ready together leave in one `write`, which wakes the client once. While
//! more than [`OUTPUT_HIGH_WATER`] bytes of answers wait for a client that
//! does not read them, no more requests are read, so such a client cannot
//! make the host hold more. Tool calls beyond the client's share are held
//! back by its [`CallWindow`]. Every line passes through a rewrite (the
//! core tasks format) on its way in and out.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use rmcp::RoleServer;
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, ClientRequest, ErrorData, JsonRpcMessage,
    JsonRpcRequest, JsonRpcVersion2_0, RequestId, RequestMetaObject,
};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::Notify;

use super::stdio_window::CallWindow;

/// A rewrite of one message: `None` leaves it as it is.
pub(super) type Rewrite = fn(&[u8]) -> Option<Vec<u8>>;

/// The longest line read (as long as the largest HTTP body the SDK's
/// clients accept); a longer one is dropped, and the session goes on.
pub(super) const MAX_LINE_BYTES: usize = 16 << 20;

/// Bytes of answers waiting for the client beyond which no more requests
/// are read.
pub(super) const OUTPUT_HIGH_WATER: usize = 4 << 20;

/// How much one read asks for.
const READ_CHUNK: usize = 64 << 10;

/// The most a buffer keeps between messages; more, taken by a long
/// message or a burst of answers, is given back.
const KEPT_CAPACITY: usize = 1 << 20;

/// MCP over a pair of byte streams, one message per line.
pub(super) struct StdioWire<R> {
    lines: Lines<R>,
    output: Arc<Output>,
    writer: Option<tokio::task::JoinHandle<()>>,
    rewrite_in: Rewrite,
    rewrite_out: Rewrite,
    calls: CallWindow,
}

impl<R: AsyncRead + Unpin> StdioWire<R> {
    /// The wire over `input` and `sink`; the task writing to `sink` is
    /// spawned at once (so this must run inside a tokio runtime).
    pub(super) fn new<W>(input: R, sink: W, rewrite_in: Rewrite, rewrite_out: Rewrite) -> Self
    where
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let output = Arc::new(Output::default());
        let writer = tokio::spawn(write_out(sink, output.clone()));
        Self {
            lines: Lines::new(input),
            output,
            writer: Some(writer),
            rewrite_in,
            rewrite_out,
            calls: CallWindow::new(usize::MAX),
        }
    }

    /// Hand the server at most `limit` tool calls at a time (the client's
    /// share), holding the rest back.
    pub(super) fn with_call_limit(mut self, limit: usize) -> Self {
        self.calls = CallWindow::new(limit);
        self
    }
}

impl<R> Drop for StdioWire<R> {
    fn drop(&mut self) {
        // The writer writes what is queued, then ends.
        self.output.close();
    }
}

impl<R: AsyncRead + Unpin + Send> Transport<RoleServer> for StdioWire<R> {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.calls.sent(&item);
        // Queued now, so answers leave in the order they were sent.
        std::future::ready(self.output.push(&item, self.rewrite_out))
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            // The SDK asks again after each message it sends, which is
            // what makes room in the window or lets the wire read on.
            if let Some(call) = self.calls.release() {
                return Some(call);
            }
            if !self.calls.may_read() {
                std::future::pending::<()>().await;
            }
            // Cancel-safe up to here: nothing of a line is taken before
            // `next` returns it, and nothing after awaits.
            self.output.room().await;
            let range = match self.lines.next().await {
                Line::At(range) => range,
                Line::Oversized => {
                    tracing::error!(
                        max_bytes = MAX_LINE_BYTES,
                        "a message on stdin is longer than the limit; it is dropped"
                    );
                    continue;
                }
                // Calls still held are handed over first.
                Line::Eof if self.calls.holds_calls() => std::future::pending().await,
                Line::Eof => return None,
                Line::Failed(e) => {
                    tracing::error!("cannot read stdin: {e}");
                    return None;
                }
            };
            let line = trim_line(&self.lines.buf[range]);
            if line.is_empty() {
                continue;
            }
            let rewritten = (self.rewrite_in)(line);
            let size = line.len();
            match parse(rewritten.as_deref().unwrap_or(line)) {
                Parsed::Message(message) => match self.calls.admit(message, size) {
                    Some(message) => return Some(message),
                    None => continue,
                },
                Parsed::Ignored => continue,
                Parsed::Invalid => {
                    let answer = TxJsonRpcMessage::<RoleServer>::error(
                        ErrorData::invalid_request("Invalid request", None),
                        None,
                    );
                    if self.output.push(&answer, self.rewrite_out).is_err() {
                        return None;
                    }
                }
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.output.close();
        if let Some(writer) = self.writer.take() {
            let _ = writer.await;
        }
        Ok(())
    }
}

/// A line without its carriage return and byte order mark.
fn trim_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
}

/// What a line holds.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "made once per line and moved once; a box would cost an allocation per message"
)]
enum Parsed {
    Message(RxJsonRpcMessage<RoleServer>),
    /// Nothing to act on: not JSON, or a notification outside MCP.
    Ignored,
    /// JSON that is no JSON-RPC message the server takes.
    Invalid,
}

fn parse(line: &[u8]) -> Parsed {
    if let Some(message) = common_request(line) {
        return Parsed::Message(message);
    }
    match serde_json::from_slice(line) {
        Ok(message) => Parsed::Message(message),
        Err(_) if ignored_notification(line) => Parsed::Ignored,
        Err(e) => {
            tracing::debug!("a message on stdin is not one the server takes: {e}");
            match e.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                    // No id to answer to, and answering garbage can start an
                    // echo storm with a peer that answers it in turn.
                    Parsed::Ignored
                }
                serde_json::error::Category::Data | serde_json::error::Category::Io => {
                    Parsed::Invalid
                }
            }
        }
    }
}

/// The envelope of a request with nothing but the four members of
/// JSON-RPC (anything else takes the SDK's parse).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestLine<'a> {
    jsonrpc: JsonRpcVersion2_0,
    id: RequestId,
    #[serde(borrow)]
    method: Cow<'a, str>,
    #[serde(default)]
    params: Option<Value>,
}

/// `line` as a request, if it is one for a common method that parses as
/// that method's request; `None` leaves it to the SDK's parse, which then
/// decides exactly as it would have.
fn common_request(line: &[u8]) -> Option<RxJsonRpcMessage<RoleServer>> {
    let head: RequestLine = serde_json::from_slice(line).ok()?;
    let params = head.params;
    let method = &*head.method;
    let request = match method {
        "tools/call" => ClientRequest::CallToolRequest(match plain_call(params) {
            Ok(request) => request,
            Err(params) => typed(method, params)?,
        }),
        "tools/list" => ClientRequest::ListToolsRequest(typed(method, params)?),
        "resources/read" => ClientRequest::ReadResourceRequest(typed(method, params)?),
        "resources/list" => ClientRequest::ListResourcesRequest(typed(method, params)?),
        "prompts/get" => ClientRequest::GetPromptRequest(typed(method, params)?),
        "prompts/list" => ClientRequest::ListPromptsRequest(typed(method, params)?),
        "ping" => ClientRequest::PingRequest(typed(method, params)?),
        _ => return None,
    };
    Some(JsonRpcMessage::Request(JsonRpcRequest {
        jsonrpc: head.jsonrpc,
        id: head.id,
        request,
    }))
}

/// A `tools/call` whose params hold nothing but `name` (a string),
/// `arguments` and `_meta` (objects, or left out), built from the parsed
/// values as the SDK would build it (`_meta` into the request's
/// extensions) without parsing them again; any other params are handed
/// back.
fn plain_call(params: Option<Value>) -> Result<CallToolRequest, Option<Value>> {
    let Some(Value::Object(mut members)) = params else {
        return Err(params);
    };
    let plain = matches!(members.get("name"), Some(Value::String(_)))
        && matches!(members.get("arguments"), None | Some(Value::Object(_)))
        && matches!(members.get("_meta"), None | Some(Value::Object(_)))
        && members
            .keys()
            .all(|key| matches!(key.as_str(), "name" | "arguments" | "_meta"));
    if !plain {
        return Err(Some(Value::Object(members)));
    }
    let object = |value| match value {
        Some(Value::Object(object)) => Some(object),
        _ => None,
    };
    let Some(Value::String(name)) = members.remove("name") else {
        unreachable!("checked above");
    };
    let mut call = CallToolRequestParams::new(name);
    call.arguments = object(members.remove("arguments"));
    let mut request = CallToolRequest::new(call);
    if let Some(meta) = object(members.remove("_meta")) {
        request.extensions.insert(RequestMetaObject::from(meta));
    }
    Ok(request)
}

/// The request of `method` with `params`, through the SDK's own
/// deserializer for it (which takes `_meta` apart).
fn typed<T: DeserializeOwned>(method: &str, params: Option<Value>) -> Option<T> {
    let mut body = serde_json::Map::with_capacity(2);
    body.insert("method".into(), Value::String(method.into()));
    if let Some(params) = params {
        body.insert("params".into(), params);
    }
    T::deserialize(Value::Object(body)).ok()
}

/// Whether `line` is a notification the server ignores: one outside MCP
/// (a client speaking another protocol on the same stream), or one under
/// `notifications/` that MCP does not define.
fn ignored_notification(line: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<Value>(line) else {
        return false;
    };
    let Some(method) = value.get("method").and_then(Value::as_str) else {
        return false;
    };
    let notification = value.get("id").is_none();
    if method.starts_with("notifications/") {
        return !NOTIFICATIONS.contains(&method);
    }
    notification && !REQUESTS.contains(&method)
}

/// The requests MCP defines that a client may send or answer.
const REQUESTS: &[&str] = &[
    "initialize",
    "ping",
    "server/discover",
    "prompts/get",
    "prompts/list",
    "resources/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "resources/templates/list",
    "subscriptions/listen",
    "tools/call",
    "tools/list",
    "completion/complete",
    "elicitation/create",
    "logging/setLevel",
    "roots/list",
    "sampling/createMessage",
];

/// The notifications MCP defines.
const NOTIFICATIONS: &[&str] = &[
    "notifications/cancelled",
    "notifications/initialized",
    "notifications/message",
    "notifications/progress",
    "notifications/prompts/list_changed",
    "notifications/resources/list_changed",
    "notifications/resources/updated",
    "notifications/roots/list_changed",
    "notifications/subscriptions/acknowledged",
    "notifications/tools/list_changed",
];

/// Lines read from a byte stream, bounded in length.
struct Lines<R> {
    input: R,
    buf: Vec<u8>,
    /// Where the next line begins.
    start: usize,
    /// From `start` up to here, `buf` holds no newline.
    scanned: usize,
    /// Dropping the rest of a line that was too long.
    discarding: bool,
}

enum Line {
    /// The line at this range of `buf`, without its newline.
    At(std::ops::Range<usize>),
    Oversized,
    Eof,
    Failed(std::io::Error),
}

impl<R: AsyncRead + Unpin> Lines<R> {
    fn new(input: R) -> Self {
        Self {
            input,
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            discarding: false,
        }
    }

    /// The next line. Cancel-safe: a line is taken only when returned.
    async fn next(&mut self) -> Line {
        loop {
            if let Some(at) = memchr::memchr(b'\n', &self.buf[self.scanned..]) {
                let end = self.scanned + at;
                let line = self.start..end;
                self.start = end + 1;
                self.scanned = self.start;
                if std::mem::take(&mut self.discarding) {
                    continue;
                }
                if line.len() > MAX_LINE_BYTES {
                    return Line::Oversized;
                }
                return Line::At(line);
            }
            // No newline in what is buffered: keep the unfinished line at
            // the front, and read on.
            self.buf.drain(..self.start);
            self.start = 0;
            self.scanned = self.buf.len();
            if self.discarding {
                self.buf.clear();
                self.scanned = 0;
            } else if self.buf.len() > MAX_LINE_BYTES {
                self.buf.clear();
                self.scanned = 0;
                self.discarding = true;
                return Line::Oversized;
            }
            if self.buf.is_empty() {
                // What a long message took is given back once it is read.
                self.buf.shrink_to(KEPT_CAPACITY);
            }
            self.buf.reserve(READ_CHUNK);
            let mut input = (&mut self.input).take(READ_CHUNK as u64);
            match input.read_buf(&mut self.buf).await {
                // A last line without its newline is no message.
                Ok(0) => return Line::Eof,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Line::Failed(e),
            }
        }
    }
}

/// Answers waiting to be written, shared by the wire and its writer.
#[derive(Default)]
struct Output {
    queue: Mutex<Queue>,
    /// Wakes the writer: there is something to write, or the wire closed.
    wake: Notify,
    /// Wakes the reader waiting for the client to read its answers.
    drained: Notify,
}

#[derive(Default)]
struct Queue {
    bytes: Vec<u8>,
    /// Bytes taken by the writer and not yet written.
    writing: usize,
    closed: bool,
    /// The output failed: nothing more can be written.
    failed: bool,
}

impl Queue {
    fn waiting(&self) -> usize {
        self.bytes.len() + self.writing
    }
}

impl Output {
    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue `message` as a line, rewritten (serialized straight into the
    /// queue: no copy of its own).
    fn push(
        &self,
        message: &TxJsonRpcMessage<RoleServer>,
        rewrite: Rewrite,
    ) -> std::io::Result<()> {
        let mut queue = self.queue();
        if queue.failed {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        let was_empty = queue.bytes.is_empty();
        let start = queue.bytes.len();
        if let Err(e) = serde_json::to_writer(&mut queue.bytes, message) {
            queue.bytes.truncate(start);
            return Err(e.into());
        }
        if let Some(new) = rewrite(&queue.bytes[start..]) {
            queue.bytes.truncate(start);
            queue.bytes.extend_from_slice(&new);
        }
        queue.bytes.push(b'\n');
        drop(queue);
        if was_empty {
            self.wake.notify_one();
        }
        Ok(())
    }

    fn close(&self) {
        self.queue().closed = true;
        self.wake.notify_one();
    }

    /// Wait until no more than [`OUTPUT_HIGH_WATER`] bytes wait for the
    /// client (or the output failed).
    async fn room(&self) {
        loop {
            let drained = self.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            {
                let queue = self.queue();
                if queue.failed || queue.waiting() <= OUTPUT_HIGH_WATER {
                    return;
                }
            }
            drained.await;
        }
    }
}

/// Write what is queued, a batch per write, until the wire closes.
async fn write_out<W: AsyncWrite + Unpin>(mut sink: W, output: Arc<Output>) {
    let mut batch = Vec::new();
    loop {
        let (took, closed) = {
            let mut queue = output.queue();
            std::mem::swap(&mut queue.bytes, &mut batch);
            queue.writing = batch.len();
            (!batch.is_empty(), queue.closed)
        };
        output.drained.notify_waiters();
        if !took {
            if closed {
                break;
            }
            output.wake.notified().await;
            continue;
        }
        let written = async {
            sink.write_all(&batch).await?;
            sink.flush().await
        }
        .await;
        batch.clear();
        batch.shrink_to(KEPT_CAPACITY);
        if let Err(e) = written {
            tracing::error!("cannot write to stdout: {e}");
            let mut queue = output.queue();
            queue.failed = true;
            queue.bytes = Vec::new();
            queue.writing = 0;
            drop(queue);
            output.drained.notify_waiters();
            return;
        }
    }
}

#[cfg(test)]
#[path = "stdio_wire_tests.rs"]
mod tests;

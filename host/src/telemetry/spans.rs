//! The spans the host exports. Each MCP request or notification gets one
//! server span after the OpenTelemetry MCP semantic conventions (named
//! `{mcp.method.name} {target}`, e.g. `tools/call add`); a plugin call
//! under it gets children for instantiation, the guest's run, every
//! facade call, the client requests it makes, and the spans the plugin
//! opens itself. Compiling a component is a span of its own.
//!
//! All are built at [`TRACE_TARGET`]: with tracing off their callsites are
//! disabled and building one costs next to nothing.

use tracing::field::Empty;

use super::TRACE_TARGET;

/// The attribute names of the MCP semantic conventions the host sets.
pub mod attribute {
    pub const METHOD: &str = "mcp.method.name";
    pub const PROTOCOL_VERSION: &str = "mcp.protocol.version";
    pub const SESSION_ID: &str = "mcp.session.id";
    pub const RESOURCE_URI: &str = "mcp.resource.uri";
    pub const REQUEST_ID: &str = "jsonrpc.request.id";
    pub const TOOL_NAME: &str = "gen_ai.tool.name";
    pub const PROMPT_NAME: &str = "gen_ai.prompt.name";
    pub const OPERATION_NAME: &str = "gen_ai.operation.name";
    pub const ERROR_TYPE: &str = "error.type";
    pub const STATUS_CODE: &str = "rpc.response.status_code";
    pub const TRANSPORT: &str = "network.transport";
    pub const PROTOCOL_NAME: &str = "network.protocol.name";
}

/// The `error.type` of a tool call whose result says `isError`.
pub const TOOL_ERROR: &str = "tool_error";

/// How a message reached the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Stdio,
    Http,
}

/// What the server span of one MCP message says.
#[derive(Debug, Default)]
pub struct Message<'a> {
    /// `mcp.method.name`, e.g. `tools/call`.
    pub method: &'a str,
    /// The tool or prompt it names, which also names the span.
    pub tool: Option<&'a str>,
    pub prompt: Option<&'a str>,
    pub resource_uri: Option<&'a str>,
    /// The JSON-RPC id; `None` for a notification.
    pub request_id: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub protocol_version: Option<&'a str>,
    pub transport: Option<Transport>,
}

/// Whether the host exports spans (tracing is on), so spans are worth
/// building.
pub fn enabled() -> bool {
    tracing::enabled!(target: TRACE_TARGET, tracing::Level::INFO)
}

/// The server span of `message`, a root until
/// [`continue_trace`](super::propagation::continue_trace) gives it the
/// caller's parent (never the transport's long-lived spans).
pub fn server(message: &Message<'_>) -> tracing::Span {
    let span = tracing::info_span!(
        target: TRACE_TARGET,
        parent: None,
        "mcp.server",
        otel.name = Empty,
        otel.kind = "server",
        mcp.method.name = message.method,
        mcp.protocol.version = Empty,
        mcp.session.id = Empty,
        mcp.resource.uri = Empty,
        jsonrpc.request.id = Empty,
        gen_ai.tool.name = Empty,
        gen_ai.prompt.name = Empty,
        gen_ai.operation.name = Empty,
        network.transport = Empty,
        network.protocol.name = Empty,
        error.type = Empty,
        rpc.response.status_code = Empty,
        otel.status_code = Empty,
        otel.status_description = Empty,
    );
    if span.is_disabled() {
        return span;
    }
    let name = match message.tool.or(message.prompt) {
        Some(target) => format!("{} {target}", message.method),
        None => message.method.to_string(),
    };
    span.record("otel.name", name);
    if let Some(tool) = message.tool {
        span.record(attribute::TOOL_NAME, tool);
        span.record(attribute::OPERATION_NAME, "execute_tool");
    }
    let optional = [
        (attribute::PROMPT_NAME, message.prompt),
        (attribute::RESOURCE_URI, message.resource_uri),
        (attribute::REQUEST_ID, message.request_id),
        (attribute::SESSION_ID, message.session_id),
        (
            attribute::PROTOCOL_VERSION,
            message.protocol_version.filter(|v| !v.is_empty()),
        ),
    ];
    for (field, value) in optional {
        if let Some(value) = value {
            span.record(field, value);
        }
    }
    match message.transport {
        Some(Transport::Stdio) => {
            span.record(attribute::TRANSPORT, "pipe");
        }
        Some(Transport::Http) => {
            span.record(attribute::TRANSPORT, "tcp");
            span.record(attribute::PROTOCOL_NAME, "http");
        }
        None => {}
    }
    span
}

/// Mark `span` failed: `error_type` is the JSON-RPC code as text, or
/// [`TOOL_ERROR`], or a short name of what stopped a run.
pub fn fail(span: &tracing::Span, error_type: &str, code: Option<i32>, message: &str) {
    if span.is_disabled() {
        return;
    }
    span.record(attribute::ERROR_TYPE, error_type);
    if let Some(code) = code {
        span.record(attribute::STATUS_CODE, code.to_string());
    }
    span.record("otel.status_code", "error");
    span.record("otel.status_description", message);
}

/// The compilation of a plugin's component (only on a compile-cache miss).
pub fn compile(plugin: &str) -> tracing::Span {
    tracing::info_span!(
        target: TRACE_TARGET,
        parent: None,
        "compile",
        otel.name = %format_args!("compile {plugin}"),
        mcp_wasm_host.plugin = plugin,
    )
}

/// The instantiation of a plugin's component for one call.
pub fn instantiate(parent: &tracing::Span, plugin: &str) -> tracing::Span {
    tracing::info_span!(
        target: TRACE_TARGET,
        parent: parent,
        "instantiate",
        mcp_wasm_host.plugin = plugin,
    )
}

/// A plugin running one export (a tool call, a resource read, ...):
/// [`finish_guest`] records what it cost and how it ended.
pub fn guest(parent: &tracing::Span, plugin: &str) -> tracing::Span {
    tracing::info_span!(
        target: TRACE_TARGET,
        parent: parent,
        "guest",
        otel.name = %format_args!("guest {plugin}"),
        mcp_wasm_host.plugin = plugin,
        mcp_wasm_host.fuel = Empty,
        mcp_wasm_host.memory.peak_bytes = Empty,
        mcp_wasm_host.outcome = Empty,
        otel.status_code = Empty,
        otel.status_description = Empty,
    )
}

/// Record on a [`guest`] span the fuel burned, the memory peak and the
/// outcome (`ok`, `tool_error`, or the limit or failure that stopped it).
pub fn finish_guest(span: &tracing::Span, fuel: u64, peak_memory_bytes: usize, outcome: &str) {
    if span.is_disabled() {
        return;
    }
    span.record("mcp_wasm_host.fuel", fuel);
    span.record("mcp_wasm_host.memory.peak_bytes", peak_memory_bytes as u64);
    span.record("mcp_wasm_host.outcome", outcome);
    if outcome != "ok" {
        span.record("otel.status_code", "error");
        span.record("otel.status_description", outcome);
    }
}

/// A call of the context facade (`keyvalue.get`, `http.send`, ...).
pub fn facade(parent: &tracing::Span, function: &'static str) -> tracing::Span {
    tracing::info_span!(
        target: TRACE_TARGET,
        parent: parent,
        "facade",
        otel.name = function,
        mcp_wasm_host.facade = function,
        otel.status_code = Empty,
        otel.status_description = Empty,
    )
}

/// A request the host sends the client for a plugin (`sampling/createMessage`,
/// `elicitation/create`, `roots/list`): a client span, as the conventions
/// say for requests a server sends.
pub fn client_request(parent: &tracing::Span, method: &'static str) -> tracing::Span {
    tracing::info_span!(
        target: TRACE_TARGET,
        parent: parent,
        "mcp.client",
        otel.name = method,
        otel.kind = "client",
        mcp.method.name = method,
        error.type = Empty,
        otel.status_code = Empty,
        otel.status_description = Empty,
    )
}

/// A log line of the guest, as an event of its span.
pub fn guest_log(span: &tracing::Span, level: &str, logger: &str, message: &str) {
    if span.is_disabled() {
        return;
    }
    tracing::info!(
        target: TRACE_TARGET,
        parent: span,
        level = level,
        logger = logger,
        "{message}"
    );
}

/// A span plugin `plugin` opened itself, named by it.
pub fn plugin(parent: &tracing::Span, plugin: &str, name: &str) -> tracing::Span {
    tracing::info_span!(
        target: TRACE_TARGET,
        parent: parent,
        "plugin",
        otel.name = name,
        mcp_wasm_host.plugin = plugin,
    )
}

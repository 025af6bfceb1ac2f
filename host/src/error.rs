//! Typed errors of the host's library layers, each variant saying what went
//! wrong and whose fault it is (plugin author, operator, client or host).

use std::path::PathBuf;
use std::time::Duration;

/// Why a plugin could not be loaded. Reported per plugin; one plugin failing
/// never stops the others.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The operator pointed us at something unreadable.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A `.wasm` without its manifest: plugins without one are never loaded.
    #[error("{} has no manifest: expected {}", wasm.display(), manifest.display())]
    MissingManifest { wasm: PathBuf, manifest: PathBuf },
    /// A manifest without its component.
    #[error("{} has no component: expected {}", manifest.display(), wasm.display())]
    MissingComponent { manifest: PathBuf, wasm: PathBuf },
    /// The manifest is not valid TOML or breaks a rule of the manifest format.
    #[error("invalid manifest {}: {message}", path.display())]
    Manifest { path: PathBuf, message: String },
    /// The bytes are not a WebAssembly component this host can compile.
    #[error("{} is not a valid WebAssembly component: {reason}", path.display())]
    InvalidComponent { path: PathBuf, reason: String },
    /// The component imports what its manifest does not declare, or the
    /// policy refuses a capability it requires.
    #[error("plugin `{plugin}` is refused: {reason}")]
    Capability { plugin: String, reason: String },
    /// The component does not fit the plugin world (missing export, unknown import).
    #[error("plugin `{plugin}` cannot be linked: {reason}")]
    Link { plugin: String, reason: String },
    /// Asking the plugin for its tools failed.
    #[error("plugin `{plugin}` failed to list its tools: {reason}")]
    ListTools { plugin: String, reason: String },
    /// Asking the plugin for its tools, resources or prompts failed.
    #[error("plugin `{plugin}` failed to describe its tools, resources and prompts: {reason}")]
    Describe { plugin: String, reason: String },
    /// A resource template or prompt breaks the rules.
    #[error("plugin `{plugin}`, {what}: {reason}")]
    InvalidDeclaration {
        plugin: String,
        what: String,
        reason: String,
    },
    /// A tool descriptor breaks the rules (bad name, invalid schema, duplicate).
    #[error("plugin `{plugin}`, tool `{tool}`: {reason}")]
    InvalidTool {
        plugin: String,
        tool: String,
        reason: String,
    },
    /// The policy requires a signature by a trusted key, and there is none.
    #[error(
        "plugin `{plugin}` is refused: {by} requires a signature by a trusted key; it is {state}"
    )]
    Signature {
        plugin: String,
        by: String,
        state: String,
    },
    /// It reaches what the operator has not approved: compiled and
    /// checked, never served, until `plugin approve`.
    #[error(
        "plugin `{plugin}` is pending the operator's consent ({by}): not yet approved: {}; \
         run `mcp-wasm-host plugin pending` to review and `mcp-wasm-host plugin approve {plugin}`",
        unapproved.join(", ")
    )]
    ConsentPending {
        plugin: String,
        by: String,
        unapproved: Vec<String>,
    },
    /// The operator denied this plugin reaching what it reaches.
    #[error("plugin `{plugin}` is refused: the operator denied it (on version {digest})")]
    ConsentDenied { plugin: String, digest: String },
    /// The consent file cannot be read, so nothing needing consent is served.
    #[error("plugin `{plugin}` is pending: {reason}")]
    ConsentUnknown { plugin: String, reason: String },
    /// The compile cache could not be used; the load itself may still succeed.
    #[error("compile cache {}: {reason}", path.display())]
    Cache { path: PathBuf, reason: String },
}

/// Why a tool call did not produce a result from the plugin. Every variant
/// becomes a tool error result the model can read.
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    /// The plugin ran past its wall-clock budget and was stopped.
    #[error("plugin `{plugin}` exceeded its time limit of {} ms and was stopped", limit.as_millis())]
    Deadline { plugin: String, limit: Duration },
    /// The plugin asked for more memory than its cap allows.
    #[error("plugin `{plugin}` exceeded its memory limit of {} MiB and was stopped", limit_bytes / (1024 * 1024))]
    Memory { plugin: String, limit_bytes: usize },
    /// The plugin used up its fuel (its per-call instruction budget).
    #[error(
        "plugin `{plugin}` ran out of fuel (its budget is {fuel} units per call) and was stopped"
    )]
    Fuel { plugin: String, fuel: u64 },
    /// The plugin trapped (a panic, `unreachable`, an out-of-bounds access).
    #[error("plugin `{plugin}` crashed: {message}")]
    Trap { plugin: String, message: String },
    /// The client cancelled the request; the guest was stopped.
    #[error("the request was cancelled")]
    Cancelled,
    /// Every sandbox stayed busy until the call's deadline.
    #[error(
        "plugin `{plugin}` could not run: all {slots} sandboxes stayed busy until the call's time limit"
    )]
    Capacity { plugin: String, slots: u32 },
    /// The sandbox could not be set up.
    #[error("plugin `{plugin}` could not be started: {message}")]
    Instantiate { plugin: String, message: String },
    /// The plugin already runs as many calls as its limit allows, and none
    /// finished while this one waited.
    #[error(
        "plugin `{plugin}` already runs its limit of {max_concurrent} concurrent calls; this call waited {} ms and gave up",
        waited.as_millis()
    )]
    Busy {
        plugin: String,
        max_concurrent: u32,
        waited: Duration,
    },
    /// A per-session plugin's instance stayed busy with the session's
    /// previous call until this call's deadline.
    #[error(
        "plugin `{plugin}` keeps one instance per session, and this session's previous call \
         did not finish within {} ms",
        waited.as_millis()
    )]
    SessionBusy { plugin: String, waited: Duration },
    /// The result is larger than the host accepts.
    #[error(
        "plugin `{plugin}` returned {size} bytes, more than the {limit} bytes a result may have"
    )]
    ResponseTooLarge {
        plugin: String,
        size: usize,
        limit: usize,
    },
    /// The host stopped the call for a reason it names.
    #[error("plugin `{plugin}` was stopped: {message}")]
    Aborted { plugin: String, message: String },
    /// The plugin answered with something the contract does not allow.
    #[error("plugin `{plugin}` returned an invalid result: {message}")]
    InvalidOutput { plugin: String, message: String },
}

/// A wasmtime error and its causes on one line (`outer: cause: root`), with
/// runs of whitespace collapsed, so log lines and tool errors stay whole.
pub(crate) fn one_line(error: &wasmtime::Error) -> String {
    let text = error
        .chain()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(": ");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A command (`call`, `plugin check`) failed and has said why on stdout:
/// the process exits with status 1 and prints nothing more.
#[derive(Debug, thiserror::Error)]
#[error("the command failed")]
pub struct CommandFailed;

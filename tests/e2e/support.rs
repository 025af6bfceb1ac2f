//! Shared helpers: plugin directories assembled from the built plugins, the
//! host binary started as a child process, and real MCP clients (rmcp) in
//! either protocol era over stdio or Streamable HTTP.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use std::collections::VecDeque;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientInfo,
    CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams, ElicitResult,
    Implementation, ListRootsResult, LoggingMessageNotificationParam, ProgressNotificationParam,
    ProtocolVersion, ResourceUpdatedNotificationParam, Root, SamplingMessage,
};
use rmcp::service::{
    ClientLifecycleMode, ClientServiceExt, NotificationContext, RequestContext, RunningService,
};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, RoleClient, ServiceError};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

mod client;
mod raw_http;
pub use client::*;
pub use raw_http::*;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The host binary under test.
pub fn host_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mcp-wasm-host"))
}

fn built(dir: &str) -> PathBuf {
    let path = repo_root().join("target").join(dir);
    assert!(
        path.is_dir(),
        "{} is missing: build the plugins first with scripts/build-plugins.sh",
        path.display()
    );
    path
}

/// Where the example plugins are built.
pub fn example_plugins() -> PathBuf {
    built("plugins")
}

/// Where the conformance suite's plugin is built.
pub fn conformance_plugins() -> PathBuf {
    built("conformance-plugins")
}

/// Where the sandbox fixture plugins are built.
pub fn fixture_plugins() -> PathBuf {
    built("fixture-plugins")
}

/// One compile cache for the whole test run, so each plugin compiles once.
pub fn shared_cache_dir() -> PathBuf {
    repo_root().join("target").join("e2e-compile-cache")
}

static DIR_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary plugin directory, removed on drop.
pub struct PluginDir {
    pub path: PathBuf,
}

impl PluginDir {
    pub fn empty() -> Self {
        let path = std::env::temp_dir().join(format!(
            "mcp-wasm-host-e2e-{}-{}",
            std::process::id(),
            DIR_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self { path }
    }

    /// A directory holding the named example and fixture plugins.
    pub fn with(examples: &[&str], fixtures: &[&str]) -> Self {
        let dir = Self::empty();
        for name in examples {
            dir.copy_from(&example_plugins(), name);
        }
        for name in fixtures {
            dir.copy_from(&fixture_plugins(), name);
        }
        dir
    }

    /// Copy the conformance suite's plugin into the directory.
    pub fn add_conformance(&self) {
        self.copy_from(&conformance_plugins(), "conformance");
    }

    /// Copy an example plugin (component and manifest) into the directory.
    pub fn add_example(&self, name: &str) {
        self.copy_from(&example_plugins(), name);
    }

    /// Delete a plugin's component and manifest.
    pub fn remove(&self, name: &str) {
        for ext in ["wasm", "toml"] {
            std::fs::remove_file(self.path.join(format!("{name}.{ext}"))).unwrap();
        }
    }

    fn copy_from(&self, source: &Path, name: &str) {
        for ext in ["wasm", "toml"] {
            let from = source.join(format!("{name}.{ext}"));
            std::fs::copy(&from, self.path.join(format!("{name}.{ext}")))
                .unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
        }
    }

    /// Write a file into the directory.
    pub fn write(&self, file: &str, bytes: impl AsRef<[u8]>) {
        std::fs::write(self.path.join(file), bytes).unwrap();
    }

    /// Put `bytes` in place as `file` at once: written beside it under a
    /// hidden name, then renamed over it.
    pub fn replace(&self, file: &str, bytes: impl AsRef<[u8]>) {
        let temporary = self.path.join(format!(".{file}.tmp"));
        std::fs::write(&temporary, bytes).unwrap();
        std::fs::rename(temporary, self.path.join(file)).unwrap();
    }

    /// Replace a plugin's manifest.
    pub fn set_manifest(&self, name: &str, toml: &str) {
        self.write(&format!("{name}.toml"), toml);
    }

    /// Add tables (such as `[limits]`) to a plugin's own manifest.
    pub fn extend_manifest(&self, name: &str, tables: &str) {
        let path = self.path.join(format!("{name}.toml"));
        let mut toml = std::fs::read_to_string(&path).unwrap();
        toml.push('\n');
        toml.push_str(tables);
        std::fs::write(path, toml).unwrap();
    }
}

impl Drop for PluginDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The protocol era a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// `initialize` handshake, protocol 2025-11-25.
    Handshake,
    /// `server/discover`, protocol 2026-07-28.
    Modern,
}

/// The transport a client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Stdio,
    Http,
}

/// Every era over every transport.
pub const ALL_COMBINATIONS: [(Era, Transport); 4] = [
    (Era::Handshake, Transport::Stdio),
    (Era::Modern, Transport::Stdio),
    (Era::Handshake, Transport::Http),
    (Era::Modern, Transport::Http),
];

/// Collected stderr of a host process.
#[derive(Clone, Default)]
pub struct Stderr(Arc<Mutex<String>>);

impl Stderr {
    pub fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }

    /// Wait until stderr contains `needle` (bounded).
    pub async fn wait_for(&self, needle: &str, timeout: Duration) -> anyhow::Result<String> {
        let start = Instant::now();
        loop {
            let text = self.text();
            if text.contains(needle) {
                return Ok(text);
            }
            if start.elapsed() > timeout {
                bail!("stderr never contained {needle:?}; it was:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Wait until `needle` occurs `count` times in stderr (bounded).
    pub async fn wait_until_count(&self, needle: &str, count: usize, timeout: Duration) {
        let start = Instant::now();
        while self.text().matches(needle).count() < count {
            assert!(
                start.elapsed() < timeout,
                "stderr never held {count} of {needle:?}; it was:\n{}",
                self.text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn push_line(&self, line: &str) {
        let mut s = self.0.lock().unwrap();
        s.push_str(line);
        s.push('\n');
    }

    pub fn spawn_reader(&self, stream: impl tokio::io::AsyncRead + Unpin + Send + 'static) {
        let sink = self.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                sink.push_line(&line);
            }
        });
    }
}

/// Run `mcp-wasm-host serve ARGS` expecting it to refuse to start: it
/// exits with failure having written nothing to stdout; returns its stderr.
pub fn serve_refuses<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let output = std::process::Command::new(host_binary())
        .arg("serve")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "it started: {stderr}");
    assert!(output.stdout.is_empty(), "it wrote to stdout: {stderr}");
    stderr
}

/// A Streamable HTTP client transport to `url`. The client's TLS stack
/// (unused on 127.0.0.1, but built with the client) needs a crypto provider.
pub fn http_client_transport(
    url: impl Into<std::sync::Arc<str>>,
) -> StreamableHttpClientTransport<reqwest::Client> {
    http_client_transport_with(url, None)
}

/// A Streamable HTTP client transport to `url` sending `bearer`, if any, as
/// its bearer token.
pub fn http_client_transport_with(
    url: impl Into<std::sync::Arc<str>>,
    bearer: Option<&str>,
) -> StreamableHttpClientTransport<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = StreamableHttpClientTransportConfig::with_uri(url);
    if let Some(token) = bearer {
        config = config.auth_header(token);
    }
    StreamableHttpClientTransport::from_config(config)
}

/// Options for starting a host.
#[derive(Clone)]
pub struct HostOptions {
    pub era: Era,
    pub transport: Transport,
    pub extra_args: Vec<String>,
    /// Compile cache directory; the run's shared one when `None`.
    pub cache_dir: Option<PathBuf>,
    /// Leave out `--plugins`, so the host picks its default directory.
    pub default_plugin_dir: bool,
    /// How the client answers the server's requests.
    pub script: ClientScript,
    /// Extra environment variables for the host process.
    pub env: Vec<(String, String)>,
    /// The bearer token the HTTP client sends.
    pub bearer: Option<String>,
}

impl HostOptions {
    pub fn new(era: Era, transport: Transport) -> Self {
        Self {
            era,
            transport,
            extra_args: Vec::new(),
            cache_dir: None,
            default_plugin_dir: false,
            script: ClientScript::default(),
            env: Vec::new(),
            bearer: None,
        }
    }

    /// Send `token` as the bearer token (HTTP).
    pub fn bearer(mut self, token: &str) -> Self {
        self.bearer = Some(token.to_string());
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    pub fn script(mut self, script: ClientScript) -> Self {
        self.script = script;
        self
    }

    pub fn default_plugin_dir(mut self) -> Self {
        self.default_plugin_dir = true;
        self
    }

    pub fn cache_dir(mut self, dir: &Path) -> Self {
        self.cache_dir = Some(dir.to_path_buf());
        self
    }

    /// Write `policy` as the directory's `policy.toml` and serve with it.
    pub fn policy(self, dir: &PluginDir, policy: &str) -> Self {
        dir.write("policy.toml", policy);
        let path = dir.path.join("policy.toml");
        self.arg("--policy").arg(path.to_str().unwrap())
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.extra_args.push(arg.into());
        self
    }
}

/// A running host with a connected client.
pub struct Connected {
    pub client: RunningService<RoleClient, RecordingClient>,
    /// The HTTP endpoint, when serving HTTP.
    pub url: Option<String>,
    pub received: Arc<Mutex<Received>>,
    pub stderr: Stderr,
    child: Option<tokio::process::Child>,
    /// Plugin directories that must outlive the host (it watches them).
    kept: Vec<PluginDir>,
}

impl Connected {
    /// Start the host on `dir` and connect a client.
    pub async fn start(dir: &PluginDir, options: HostOptions) -> anyhow::Result<Self> {
        let mut command = Command::new(host_binary());
        command.arg("serve");
        if !options.default_plugin_dir {
            command.arg("--plugins").arg(&dir.path);
        }
        if !options.extra_args.iter().any(|a| a == "--data-dir") {
            // Keep every test's data (the key-value store) to itself.
            let data = repo_root().join("target").join("e2e-data").join(format!(
                "{}-{}",
                std::process::id(),
                DIR_COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            command.arg("--data-dir").arg(data);
        }
        command
            .arg("--cache-dir")
            .arg(options.cache_dir.clone().unwrap_or_else(shared_cache_dir))
            .args(&options.extra_args)
            .env("MCP_WASM_HOST_LOG", "info")
            .envs(options.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .kill_on_drop(true);
        let handler = RecordingClient {
            received: Arc::default(),
            script: options.script.clone(),
        };
        let received = handler.received.clone();
        let stderr = Stderr::default();
        let lifecycle = match options.era {
            Era::Handshake => ClientLifecycleMode::Initialize,
            Era::Modern => ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        };
        match options.transport {
            Transport::Stdio => {
                let (transport, child_stderr) = TokioChildProcess::builder(command)
                    .stderr(Stdio::piped())
                    .spawn()
                    .context("starting the host")?;
                if let Some(s) = child_stderr {
                    stderr.spawn_reader(s);
                }
                let client = handler
                    .serve_with_lifecycle(transport, lifecycle)
                    .await
                    .with_context(|| {
                        format!("connecting over stdio; stderr:\n{}", stderr.text())
                    })?;
                Ok(Self {
                    client,
                    url: None,
                    received,
                    stderr,
                    child: None,
                    kept: Vec::new(),
                })
            }
            Transport::Http => {
                command
                    .arg("--http")
                    .arg("127.0.0.1:0")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped());
                let mut child = command.spawn().context("starting the host")?;
                stderr.spawn_reader(child.stderr.take().unwrap());
                let text = stderr
                    .wait_for("listening on http://", Duration::from_secs(60))
                    .await?;
                let url = text
                    .split("listening on ")
                    .nth(1)
                    // Text logs end the URL with a space, JSON logs with a quote.
                    .and_then(|rest| rest.split(|c: char| c.is_whitespace() || c == '"').next())
                    .context("no URL in the listening line")?
                    .to_string();
                let transport = http_client_transport_with(url.clone(), options.bearer.as_deref());
                let client = handler
                    .serve_with_lifecycle(transport, lifecycle)
                    .await
                    .with_context(|| format!("connecting over HTTP; stderr:\n{}", stderr.text()))?;
                Ok(Self {
                    client,
                    url: Some(url),
                    received,
                    stderr,
                    child: Some(child),
                    kept: Vec::new(),
                })
            }
        }
    }

    /// Call a tool with JSON arguments.
    pub async fn call(&self, name: &str, arguments: Value) -> Result<CallToolResult, ServiceError> {
        self.client.call_tool(params(name, arguments)).await
    }

    /// Call a tool and expect a successful result.
    pub async fn call_ok(&self, name: &str, arguments: Value) -> CallToolResult {
        let result = self
            .call(name, arguments)
            .await
            .unwrap_or_else(|e| panic!("calling {name}: {e}"));
        assert_ne!(result.is_error, Some(true), "{name} failed: {result:?}");
        result
    }

    /// Call a tool that must answer with a tool error; returns its text.
    pub async fn call_err(&self, name: &str, arguments: Value) -> String {
        let result = self
            .call(name, arguments)
            .await
            .unwrap_or_else(|e| panic!("calling {name}: {e}"));
        assert_eq!(result.is_error, Some(true), "{name} succeeded: {result:?}");
        text_of(&result)
    }

    pub async fn tool_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .client
            .list_all_tools()
            .await
            .expect("tools/list")
            .into_iter()
            .map(|t| t.name.to_string())
            .collect();
        names.sort();
        names
    }

    /// Keep `dir` until the host stops: the host watches its plugin
    /// directory, and deleting it would remove its plugins.
    pub fn keeping(mut self, dir: PluginDir) -> Self {
        self.kept.push(dir);
        self
    }

    /// The host's process id (HTTP hosts only: the stdio child belongs to
    /// the client transport).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    /// Send the host (an HTTP host) `signal`, as `kill -<signal>` does.
    #[cfg(unix)]
    pub fn signal(&self, signal: &str) {
        send_signal(self.pid().expect("an HTTP host"), signal);
    }

    /// Wait (at most `limit`) for the host process (an HTTP host) to exit.
    pub async fn exited(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut().expect("an HTTP host");
        tokio::time::timeout(limit, child.wait()).await.ok()?.ok()
    }

    pub async fn shutdown(mut self) {
        let _ = self.client.cancel().await;
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }
}

/// Wait (bounded) until `check` holds for what the client received.
pub async fn wait_until(
    received: &Arc<Mutex<Received>>,
    what: &str,
    check: impl Fn(&Received) -> bool,
) {
    let start = Instant::now();
    while !check(&received.lock().unwrap()) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `tools/call` parameters from a JSON object.
pub fn params(name: &str, arguments: Value) -> CallToolRequestParams {
    let Value::Object(map) = arguments else {
        panic!("arguments must be an object");
    };
    CallToolRequestParams::new(name.to_string()).with_arguments(map)
}

/// The concatenated text blocks of a result.
pub fn text_of(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A JSON-RPC error's code and message, if `error` is one.
pub fn protocol_error(error: &ServiceError) -> Option<(i32, String)> {
    match error {
        ServiceError::McpError(e) => Some((e.code.0, e.message.to_string())),
        _ => None,
    }
}

pub fn empty_args() -> Value {
    Value::Object(Map::new())
}

/// Run `f` for each era/transport combination, naming the failing one.
pub async fn for_each_combination<F, Fut>(f: F)
where
    F: Fn(Era, Transport) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for (era, transport) in ALL_COMBINATIONS {
        eprintln!("--- {era:?} over {transport:?}");
        f(era, transport).await;
    }
}

pub fn echo_args(text: &str) -> Value {
    json!({ "text": text })
}

/// Run `command` with `input` on its stdin (then closed); its whole output.
pub fn output_fed(command: &mut std::process::Command, input: &[u8]) -> std::process::Output {
    use std::io::Write as _;
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// SHA-256 of `token`, as `mcp-wasm-host auth hash-token` prints it.
pub fn token_digest(token: &str) -> String {
    let output = output_fed(
        std::process::Command::new(host_binary()).args(["auth", "hash-token"]),
        format!("{token}\n").as_bytes(),
    );
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// Send process `pid` `signal` (`TERM`, `HUP`, ...), as `kill -<signal>` does.
pub fn send_signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

//! WASI preview 2 for plugins, deny by default: no preopened directories, no
//! environment variables, no arguments, no network. Clocks and random are
//! available. Capabilities that give WASI data add it to each call's
//! context ([`super::HostCapability::configure_wasi`]): `files` its granted
//! directories, read-only, `env` its granted variables. A guest's stdout and stderr never reach the host's stdout (the
//! protocol channel on stdio): each line becomes a tracing event on stderr,
//! tagged with the plugin's name.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime::component::Linker;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::policy::Grants;
use crate::runtime::{HostState, PluginCounters, PluginShares};

/// Longest line kept from guest output; the rest of a longer line is dropped.
const MAX_LINE_BYTES: usize = 4096;

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let (plugin, grants) = (&self.plugin, &self.grants);
        let (counters, shares) = (&self.counters, &self.shares);
        let ctx = self
            .wasi
            .get_or_insert_with(|| ctx_for(plugin, grants, counters, shares));
        WasiCtxView {
            ctx,
            table: &mut self.table,
        }
    }
}

/// The WASI context of one call of `plugin`, with what `grants` allows.
fn ctx_for(
    plugin: &Arc<str>,
    grants: &Grants,
    counters: &Arc<PluginCounters>,
    shares: &Arc<PluginShares>,
) -> WasiCtx {
    let mut builder = WasiCtxBuilder::new();
    let output = |kind| GuestOutput {
        plugin: plugin.clone(),
        kind,
        counters: counters.clone(),
        shares: shares.clone(),
    };
    builder
        .stdout(output(OutputKind::Stdout))
        .stderr(output(OutputKind::Stderr))
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    // Only granted capabilities with a narrowed grant can add anything
    // (most plugins have none, so most calls skip this entirely).
    for (id, grant) in &grants.params {
        if let Some(capability) = super::registry()
            .host_capabilities()
            .iter()
            .find(|c| c.id() == *id)
        {
            capability.configure_wasi(plugin, Some(&**grant), &mut builder);
        }
    }
    builder.build()
}

#[derive(Debug, Clone, Copy)]
enum OutputKind {
    Stdout,
    Stderr,
}

/// A guest output stream that turns lines into tracing events, within the
/// plugin's share of the log.
#[derive(Clone)]
struct GuestOutput {
    plugin: Arc<str>,
    kind: OutputKind,
    counters: Arc<PluginCounters>,
    shares: Arc<PluginShares>,
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineWriter {
            plugin: self.plugin.clone(),
            kind: self.kind,
            counters: self.counters.clone(),
            shares: self.shares.clone(),
            line: Vec::new(),
            dropped: 0,
        })
    }
}

/// Buffers bytes until a newline, then emits the line, unless the plugin
/// is over its share of the log (then the line is dropped and counted, and
/// the next line that gets through says how many were).
struct LineWriter {
    plugin: Arc<str>,
    kind: OutputKind,
    counters: Arc<PluginCounters>,
    shares: Arc<PluginShares>,
    line: Vec<u8>,
    dropped: u64,
}

impl LineWriter {
    fn emit(&mut self) {
        if self.line.is_empty() {
            return;
        }
        if !self.shares.output_rate.allow() {
            self.dropped += 1;
            PluginCounters::bump(&self.counters.output_dropped);
            self.line.clear();
            return;
        }
        if self.dropped > 0 {
            tracing::warn!(
                target: "plugin",
                plugin = %self.plugin,
                "{} lines of output dropped: the plugin writes more than {} lines a second",
                self.dropped,
                crate::runtime::OUTPUT_LINES_PER_SECOND
            );
            self.dropped = 0;
        }
        let text = String::from_utf8_lossy(&self.line);
        let text = text.trim_end_matches(['\r', '\n']);
        match self.kind {
            OutputKind::Stdout => {
                tracing::info!(target: "plugin", plugin = %self.plugin, stream = "stdout", "{text}")
            }
            OutputKind::Stderr => {
                tracing::info!(target: "plugin", plugin = %self.plugin, stream = "stderr", "{text}")
            }
        }
        self.line.clear();
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        for chunk in buf.split_inclusive(|b| *b == b'\n') {
            let room = MAX_LINE_BYTES.saturating_sub(self.line.len());
            let keep = chunk.len().min(room);
            self.line.extend_from_slice(&chunk[..keep]);
            if chunk.ends_with(b"\n") {
                self.emit();
            }
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.emit();
        Poll::Ready(Ok(()))
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        self.emit();
        if self.dropped > 0 {
            tracing::warn!(
                target: "plugin",
                plugin = %self.plugin,
                "{} lines of output dropped: the plugin writes more than {} lines a second",
                self.dropped,
                crate::runtime::OUTPUT_LINES_PER_SECOND
            );
        }
    }
}

//! The `mcp:plugin/context` interface: logging, progress, request and client
//! identity, cancellation and per-request state, backed by the call's
//! [`CallContext`](crate::context::CallContext), and the guest's report of
//! a panic, kept in the call's store for the trap that follows.

use wasmtime::component::{HasSelf, Linker};

use crate::bindings::{context, types};
use crate::capability::CapabilitySet as _;
use crate::context::{ClientIdentity, LogLevel};
use crate::runtime::{Admission, HostState, Notice, PanicReport};
use crate::telemetry::{propagation, spans};

/// Largest log message or progress text accepted from a guest, in bytes;
/// longer text is cut so a plugin cannot flood the client.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    types::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
    context::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
    Ok(())
}

impl From<types::LogLevel> for LogLevel {
    fn from(level: types::LogLevel) -> Self {
        match level {
            types::LogLevel::Debug => LogLevel::Debug,
            types::LogLevel::Info => LogLevel::Info,
            types::LogLevel::Notice => LogLevel::Notice,
            types::LogLevel::Warning => LogLevel::Warning,
            types::LogLevel::Error => LogLevel::Error,
            types::LogLevel::Critical => LogLevel::Critical,
            types::LogLevel::Alert => LogLevel::Alert,
            types::LogLevel::Emergency => LogLevel::Emergency,
        }
    }
}

fn truncate(mut text: String) -> String {
    if text.len() > MAX_MESSAGE_BYTES {
        text.truncate(text.floor_char_boundary(MAX_MESSAGE_BYTES));
        text.push('…');
    }
    text
}

impl types::Host for HostState {
    fn convert_facade_error(
        &mut self,
        failure: crate::bindings::FacadeFailure,
    ) -> wasmtime::Result<types::FacadeError> {
        match failure {
            crate::bindings::FacadeFailure::Guest(error) => Ok(error),
            crate::bindings::FacadeFailure::Trap(trap) => Err(trap),
        }
    }
}

impl HostState {
    /// Send a guest's log line to the client (as JSON data when `structured`
    /// and it parses), and record it as an event of the guest's open span.
    async fn send_log(
        &mut self,
        level: types::LogLevel,
        logger: Option<String>,
        text: String,
        structured: bool,
    ) {
        let text = truncate(text);
        let logger = logger.unwrap_or_else(|| self.plugin.to_string());
        let level = LogLevel::from(level);
        let span = self.spans.current(&self.call.span);
        spans::guest_log(span, level.as_str(), &logger, &text);
        let data = match structured {
            true => serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
            false => serde_json::Value::String(text),
        };
        self.call.channel.log(level, Some(logger), data).await;
    }
}

impl context::Host for HostState {
    async fn log(
        &mut self,
        level: types::LogLevel,
        logger: Option<String>,
        message: String,
    ) -> wasmtime::Result<()> {
        self.send_log(level, logger, message, false).await;
        Ok(())
    }

    async fn log_data(
        &mut self,
        level: types::LogLevel,
        logger: Option<String>,
        data: String,
    ) -> wasmtime::Result<()> {
        self.send_log(level, logger, data, true).await;
        Ok(())
    }

    async fn progress(
        &mut self,
        progress: f64,
        total: Option<f64>,
        message: Option<String>,
    ) -> wasmtime::Result<()> {
        if !progress.is_finite() || total.is_some_and(|t| !t.is_finite()) {
            return Ok(());
        }
        let message = message.map(truncate);
        self.call.channel.progress(progress, total, message).await;
        Ok(())
    }

    async fn request_id(&mut self) -> wasmtime::Result<String> {
        Ok(self.call.request_id.clone())
    }

    async fn session_id(&mut self) -> wasmtime::Result<Option<String>> {
        Ok(self
            .call
            .session_id
            .as_deref()
            .map(|session| opaque_session_id(&self.plugin, session)))
    }

    async fn client(&mut self) -> wasmtime::Result<Option<types::ClientInfo>> {
        Ok(self
            .call
            .client
            .as_ref()
            .map(|ClientIdentity { name, version }| types::ClientInfo {
                name: name.clone(),
                version: version.clone(),
            }))
    }

    async fn principal(&mut self) -> wasmtime::Result<Option<context::PrincipalInfo>> {
        Ok(match &self.call.access {
            crate::auth::Access::Principal(p) => Some(context::PrincipalInfo {
                id: p.id.clone(),
                roles: p.roles.clone(),
            }),
            _ => None,
        })
    }

    async fn grant(&mut self, capability: String) -> wasmtime::Result<context::CapabilityGrant> {
        let registry = super::registry();
        let Some(kind) = registry.kind(&capability) else {
            return Ok(context::CapabilityGrant {
                granted: false,
                reason: Some(format!(
                    "this host has no capability `{}` (it has {})",
                    capability.chars().take(64).collect::<String>(),
                    registry.names()
                )),
                scope: "{}".into(),
            });
        };
        let id = kind.id();
        Ok(if self.grants.allows(id) {
            context::CapabilityGrant {
                granted: true,
                reason: None,
                scope: kind
                    .scope(self.grants.params.get(&id).map(|p| &**p))
                    .to_string(),
            }
        } else {
            context::CapabilityGrant {
                granted: false,
                reason: Some(self.grants.denial(id)),
                scope: "{}".into(),
            }
        })
    }

    async fn protocol_version(&mut self) -> wasmtime::Result<String> {
        Ok(self.call.protocol_version.clone())
    }

    async fn is_cancelled(&mut self) -> wasmtime::Result<bool> {
        Ok(self.call.cancel.is_cancelled())
    }

    /// The call's own race against its deadline and cancellation ends a
    /// sleep that outlasts either.
    async fn sleep(&mut self, milliseconds: u64) -> wasmtime::Result<()> {
        tokio::time::sleep(std::time::Duration::from_millis(milliseconds)).await;
        Ok(())
    }

    async fn state_get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.call.state().get(&key).map(str::to_owned))
    }

    async fn state_set(
        &mut self,
        key: String,
        value: String,
    ) -> wasmtime::Result<Result<(), String>> {
        Ok(self.call.state().set(key, value))
    }

    async fn state_delete(&mut self, key: String) -> wasmtime::Result<bool> {
        Ok(self.call.state().delete(&key))
    }

    async fn resource_updated(&mut self, uri: String) -> wasmtime::Result<()> {
        if uri.is_empty() || uri.len() > MAX_MESSAGE_BYTES {
            return Ok(());
        }
        self.notify(Notice::ResourceUpdated(uri)).await;
        Ok(())
    }

    async fn resource_list_changed(&mut self) -> wasmtime::Result<()> {
        self.notify(Notice::ResourceListChanged).await;
        Ok(())
    }

    async fn open_span(
        &mut self,
        name: String,
        attributes: Vec<(String, String)>,
    ) -> wasmtime::Result<Option<u32>> {
        let run = self.call.span.clone();
        Ok(self.spans.open(&run, &self.plugin, &name, &attributes))
    }

    async fn end_span(&mut self, span: u32) -> wasmtime::Result<()> {
        self.spans.end(span);
        Ok(())
    }

    async fn trace_id(&mut self) -> wasmtime::Result<Option<String>> {
        Ok(propagation::trace_id(&self.call.span))
    }

    async fn report_panic(
        &mut self,
        message: String,
        location: Option<String>,
    ) -> wasmtime::Result<()> {
        // The last report replaces any earlier one: a guest reporting in a
        // loop holds one bounded report, never more.
        self.panic = Some(PanicReport::new(message, location));
        Ok(())
    }
}

impl HostState {
    /// Send `notice` to clients within the plugin's share
    /// ([`crate::runtime::NOTICES_PER_SECOND`]); beyond it, the notice is
    /// held back and merged with identical ones, and a background task
    /// sends what is held as the share allows.
    async fn notify(&mut self, notice: Notice) {
        let shares = &self.shares;
        match shares
            .notices
            .offer(notice.clone(), &self.counters.notices_dropped)
        {
            Admission::SendNow => send_notice(&*self.call.channel, &self.plugin, notice).await,
            Admission::HeldStartDrain => {
                let shares = shares.clone();
                let channel = self.call.channel.clone();
                let plugin = self.plugin.to_string();
                tokio::spawn(async move {
                    shares
                        .notices
                        .drain(|notice| {
                            let channel = channel.clone();
                            let plugin = plugin.clone();
                            Box::pin(async move { send_notice(&*channel, &plugin, notice).await })
                        })
                        .await;
                });
            }
            Admission::Held | Admission::Merged | Admission::Dropped => {}
        }
    }
}

async fn send_notice(channel: &dyn crate::context::ClientChannel, plugin: &str, notice: Notice) {
    match notice {
        Notice::ResourceUpdated(uri) => channel.resource_updated(plugin.to_string(), uri).await,
        Notice::ResourceListChanged => channel.resource_list_changed().await,
    }
}

/// What a plugin sees of a session: an id that stays the same for every
/// call of the session to this plugin, but is neither the transport's own
/// session id (which would let a plugin that leaks it hand the session to
/// someone else) nor the same for two plugins.
fn opaque_session_id(plugin: &str, session: &str) -> String {
    static KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(|| {
        let mut key = [0u8; 32];
        let _ = getrandom::fill(&mut key);
        key
    });
    let mut hasher = blake3::Hasher::new_keyed(key);
    hasher.update(plugin.as_bytes());
    hasher.update(&[0]);
    hasher.update(session.as_bytes());
    format!("s-{}", &hasher.finalize().to_hex()[..32])
}

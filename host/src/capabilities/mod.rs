//! Host capabilities: one module per capability, each owning all of it —
//! its WIT host implementation and linking, its manifest section, its
//! policy keys and how they narrow a declaration, how `plugin check`
//! describes the grant, and its tests — by implementing
//! [`CapabilityKind`] and [`HostCapability`]. [`registry`] lists them; the
//! manifest, the policy and `plugin check` go through it and name none.
//!
//! - [`sampling`], [`elicitation`], [`roots`]: requests to the client.
//! - [`session_state`]: state that outlives a request.
//! - [`host_catalog`]: the host's resources and prompts.
//! - [`files`], [`env`](mod@env): host directories and variables, through WASI.
//! - [`keyvalue`]: the host's persistent key-value store.
//! - [`http`]: outbound HTTP to allowed origins, with host-injected
//!   credentials.
//! - [`secrets`]: the operator's named secrets.
//! - [`sql`]: parameterized SQL against the operator's databases.
//!
//! Always linked, never declared: [`context`] (logging, progress, request
//! identity, cancellation, per-request state, resource change notices) and
//! [`wasi`] (a deny-by-default WASI environment). [`table`] maps a
//! component's imports to the capabilities that unlock them; a plugin's
//! imports are checked against it at load, and each call of a declared but
//! not granted capability answers `denied`.

pub mod context;
pub mod elicitation;
pub mod env;
pub mod files;
pub mod host_catalog;
pub mod http;
pub mod keyvalue;
pub mod roots;
pub mod sampling;
pub mod secrets;
pub mod services;
pub mod session_state;
pub mod sql;
pub mod table;
pub mod wasi;

mod client_requests;

use std::any::Any;
use std::sync::{Arc, OnceLock};

use wasmtime::component::Linker;
use wasmtime_wasi::WasiCtxBuilder;

use crate::capability::{Capability, CapabilityKind, CapabilitySet, Params};
use crate::runtime::{CapabilityWiring, HostServices, HostState};
use services::{Opening, Setting, SettingValues};

/// A capability of this host: what the manifest and the policy see of it
/// ([`CapabilityKind`]), and how it reaches a plugin's sandbox.
pub trait HostCapability: CapabilityKind {
    /// Link its interfaces (nothing for capabilities that only configure
    /// WASI).
    fn add_to_linker(&self, _linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        Ok(())
    }

    /// Add what its grant reaches to a WASI context of `plugin`'s calls.
    fn configure_wasi(
        &self,
        _plugin: &str,
        _grant: Option<&dyn Params>,
        _wasi: &mut WasiCtxBuilder,
    ) {
    }

    /// The operator's `serve` settings of its service.
    fn settings(&self) -> &'static [Setting] {
        &[]
    }

    /// Open its service from `settings` into `services` (nothing for
    /// capabilities without one). A failure stops the host.
    fn open<'a>(
        &'a self,
        _settings: &'a SettingValues,
        _services: &'a mut HostServices,
    ) -> Opening<'a> {
        Box::pin(async { Ok(()) })
    }
}

/// `items` joined for `plugin check`, or `(none)`.
pub(crate) fn listed(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_string()
    } else {
        items.join(", ")
    }
}

/// Every capability a plugin may declare.
static ALL: &[&dyn HostCapability] = &[
    &sampling::Sampling,
    &elicitation::Elicitation,
    &roots::Roots,
    &session_state::SessionState,
    &host_catalog::HostCatalogCapability,
    &files::Files,
    &env::Env,
    &keyvalue::KeyValue,
    &http::Http,
    &secrets::Secrets,
    &sql::Sql,
];

/// The host's capabilities, as manifests and policies are checked against
/// them.
pub struct Registry {
    kinds: OnceLock<Vec<&'static dyn CapabilityKind>>,
}

static REGISTRY: Registry = Registry {
    kinds: OnceLock::new(),
};

/// The host's capabilities.
pub fn registry() -> &'static Registry {
    &REGISTRY
}

impl CapabilitySet for Registry {
    fn kinds(&self) -> &[&'static dyn CapabilityKind] {
        self.kinds.get_or_init(|| {
            ALL.iter()
                .map(|&c| c as &'static dyn CapabilityKind)
                .collect()
        })
    }
}

impl Registry {
    /// Every capability, with its host side.
    pub fn host_capabilities(&self) -> &'static [&'static dyn HostCapability] {
        ALL
    }
}

/// The host's capabilities, wired into a runtime with `services`.
pub fn wiring(services: HostServices) -> CapabilityWiring {
    CapabilityWiring {
        link: link_all,
        services: Arc::new(services),
    }
}

impl HostState {
    /// The shared service of type `T`; a `failed` error for the guest when
    /// the host runs without one.
    pub(crate) fn service<T: Any + Send + Sync>(
        &self,
    ) -> Result<&T, crate::bindings::types::FacadeError> {
        self.services.get::<T>().ok_or_else(|| {
            crate::bindings::types::FacadeError::Failed(format!(
                "the host runs without the service this needs ({})",
                std::any::type_name::<T>()
            ))
        })
    }

    /// The span of one facade call (`keyvalue.get`, ...) under the
    /// innermost span the guest opened, else its run; it ends when dropped.
    pub(crate) fn facade_span(&self, function: &'static str) -> tracing::Span {
        crate::telemetry::spans::facade(self.spans.current(&self.call.span), function)
    }

    /// Refuse a call of `capability` unless the policy grants it.
    pub(crate) fn check_grant(
        &self,
        capability: Capability,
    ) -> Result<(), crate::bindings::types::FacadeError> {
        if self.grants.allows(capability) {
            Ok(())
        } else {
            crate::runtime::PluginCounters::bump(&self.counters.denials);
            Err(crate::bindings::types::FacadeError::Denied(
                self.grants.denial(capability),
            ))
        }
    }
}

/// Link the always-granted interfaces and every capability into `linker`.
fn link_all(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    context::add_to_linker(linker)?;
    wasi::add_to_linker(linker)?;
    for capability in ALL {
        capability.add_to_linker(linker)?;
    }
    Ok(())
}

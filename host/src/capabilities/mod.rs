//! Host capabilities: one module per capability, each owning its WIT host
//! implementation and its linking.
//!
//! - [`context`]: logging, progress, request identity, cancellation,
//!   per-request state, resource change notices (always granted).
//! - [`wasi`]: a deny-by-default WASI environment (clocks, random, captured
//!   stdio; no files, no network, no environment; always granted).
//! - [`sampling`], [`elicitation`], [`roots`]: requests to the client.
//! - [`session_state`]: state that outlives a request.
//! - [`host_catalog`]: the host's resources and prompts.
//! - [`keyvalue`]: the host's persistent key-value store (SQLite).
//! - [`http`]: outbound HTTP to allowed origins, with host-injected
//!   credentials.
//! - [`secrets`]: the operator's named secrets.
//!
//! [`table`] says which interfaces each capability unlocks; a plugin's
//! imports are checked against it at load, and each call of a declared but
//! not granted capability answers `denied`.

pub mod context;
pub mod elicitation;
pub mod host_catalog;
pub mod http;
pub mod keyvalue;
pub mod roots;
pub mod sampling;
pub mod secrets;
pub mod session_state;
pub mod table;
pub mod wasi;

mod client_requests;

use std::any::Any;
use std::sync::Arc;

use wasmtime::component::Linker;

pub use table::Capability;

use crate::runtime::{CapabilityWiring, HostState};

/// The host's capabilities, wired into a runtime with `services`.
pub fn wiring(services: HostServices) -> CapabilityWiring {
    CapabilityWiring {
        link: link_all,
        services: Arc::new(services),
    }
}

impl HostServices {
    /// The services a runtime was wired with (by [`wiring`]).
    pub fn of(wired: &Arc<dyn Any + Send + Sync>) -> &HostServices {
        wired.downcast_ref().expect(
            "the runtime is wired with capabilities::wiring, whose services are HostServices",
        )
    }
}

impl HostState {
    /// The services the capabilities share.
    pub(crate) fn services(&self) -> &HostServices {
        HostServices::of(&self.services)
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

/// Link every capability into `linker`.
fn link_all(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    context::add_to_linker(linker)?;
    wasi::add_to_linker(linker)?;
    sampling::add_to_linker(linker)?;
    elicitation::add_to_linker(linker)?;
    roots::add_to_linker(linker)?;
    session_state::add_to_linker(linker)?;
    host_catalog::add_to_linker(linker)?;
    keyvalue::add_to_linker(linker)?;
    http::add_to_linker(linker)?;
    secrets::add_to_linker(linker)?;
    Ok(())
}

/// The services behind the host-service capabilities, shared by every call.
#[derive(Debug)]
pub struct HostServices {
    /// Where key-value entries and session state live.
    pub state: crate::state::SharedStore,
    pub http: http::HttpClient,
    pub secrets: secrets::SecretStore,
}

impl Default for HostServices {
    /// State in memory, no outbound HTTP allowances, no secrets.
    fn default() -> Self {
        Self {
            state: crate::state::in_memory(),
            http: Default::default(),
            secrets: Default::default(),
        }
    }
}

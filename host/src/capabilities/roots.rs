//! The `mcp:plugin/roots` interface: the client's roots (`roots/list`).

use wasmtime::component::{HasSelf, Linker};

use super::HostCapability;
use super::client_requests::{FacadeResult, unexpected_answer};
use crate::bindings::roots;
use crate::capability::{Capability, CapabilityKind};
use crate::context::{ClientAnswer, ClientRequest};
use crate::runtime::HostState;

/// The client's roots (`mcp:plugin/roots`).
pub const ROOTS: Capability = Capability::named("roots");

/// The `roots` capability.
pub struct Roots;

impl CapabilityKind for Roots {
    fn id(&self) -> Capability {
        ROOTS
    }

    fn interfaces(&self) -> &'static [&'static str] {
        &["mcp:plugin/roots"]
    }
}

impl HostCapability for Roots {
    fn add_to_linker(&self, linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        roots::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)
    }
}

impl roots::Host for HostState {
    async fn list_roots(&mut self) -> FacadeResult<Vec<roots::Root>> {
        self.check_grant(ROOTS)?;
        match self.ask_client(ClientRequest::Roots).await? {
            ClientAnswer::Roots(list) => Ok(list
                .into_iter()
                .map(|r| roots::Root {
                    uri: r.uri,
                    name: r.name,
                })
                .collect()),
            other => Err(unexpected_answer("roots", &other).into()),
        }
    }
}

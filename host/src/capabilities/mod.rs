//! Host capabilities: one module per capability, each owning its WIT host
//! implementation and its linking. Today every plugin gets the always-granted
//! set: the [`context`] facade and a deny-by-default [`wasi`] environment
//! (clocks, random, captured stdio; no files, no network, no environment).

pub mod context;
pub mod wasi;

use wasmtime::component::Linker;

use crate::runtime::HostState;

/// Link every always-granted capability into `linker`.
pub(crate) fn link_always_granted(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    context::add_to_linker(linker)?;
    wasi::add_to_linker(linker)?;
    Ok(())
}

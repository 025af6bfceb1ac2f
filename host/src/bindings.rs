//! Host bindings generated from the WIT package in `wit/`.
//!
//! Private to the crate: capability modules implement the generated `Host`
//! traits, and the runtime calls the generated export wrappers. Every import
//! is async (host functions may await the client) and trappable (a host bug
//! or an exceeded limit ends the call; guest-visible failures are WIT values).
//! The bindings cover the `plugin` world, which names every interface; a
//! component that exports only some of them is called through the export
//! indices it has.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub(crate) use exports::mcp::plugin::{completions, prompts, resources, tools};
pub(crate) use mcp::plugin::{
    context, elicitation, host_catalog, http, keyvalue, roots, sampling, secrets, session_state,
    types,
};

//! Host bindings generated from the WIT package in `wit/`.
//!
//! Private to the crate: capability modules implement the generated `Host`
//! traits, and the runtime calls the generated export wrappers. Every import
//! is async (host functions may await the client) and trappable (a host bug
//! or an exceeded limit ends the call; guest-visible failures are WIT
//! values, and imports that return a `facade-error` return a
//! [`FacadeFailure`] that may be either).
//! The bindings cover the `plugin` world, which names every interface; a
//! component that exports only some of them is called through the export
//! indices it has.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    imports: { default: async | trappable },
    exports: { default: async },
    trappable_error_type: {
        "mcp:plugin/types.facade-error" => crate::bindings::FacadeFailure,
    },
});

/// How a host import that returns `result<_, facade-error>` fails: with a
/// `facade-error` the guest receives and handles, or with a trap that ends
/// the call (a host bug, an exceeded limit, a replay that diverged). Both
/// convert with `?`.
#[derive(Debug)]
pub(crate) enum FacadeFailure {
    Guest(types::FacadeError),
    Trap(wasmtime::Error),
}

impl From<types::FacadeError> for FacadeFailure {
    fn from(error: types::FacadeError) -> Self {
        FacadeFailure::Guest(error)
    }
}

impl From<wasmtime::Error> for FacadeFailure {
    fn from(error: wasmtime::Error) -> Self {
        FacadeFailure::Trap(error)
    }
}

pub(crate) use exports::mcp::plugin::{completions, prompts, resources, tools};
pub(crate) use mcp::plugin::{
    context, elicitation, host_catalog, http, keyvalue, roots, sampling, secrets, session_state,
    types,
};

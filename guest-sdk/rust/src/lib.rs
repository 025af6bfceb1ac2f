//! Write MCP tools for `mcp-wasm-host` in Rust.
//!
//! A plugin is a `cdylib` crate compiled to WebAssembly and turned into a
//! component that implements the `tool-plugin` world of the `mcp:plugin` WIT
//! package. This crate implements that world's `tools` export for you: you
//! describe each tool with a [`Tool`] — name, description, hints, and a
//! handler taking typed arguments — register them in a [`Registry`], and call
//! [`plugin!`] once. Input schemas are generated from the argument types with
//! [`schemars`]; the host validates every call against them before the
//! handler runs.
//!
//! Inside a handler, the [`Context`] talks back to the MCP request that
//! caused the call: logging, progress, cancellation, request metadata and
//! per-request state.
//!
//! # Example
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "hello"
//! version = "0.1.0"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! mcp-plugin-sdk = { path = "../../guest-sdk/rust" }
//! serde = { version = "1", features = ["derive"] }
//! schemars = "1"
//! ```
//!
//! `src/lib.rs`:
//!
//! ```no_run
//! use mcp_plugin::{Context, Json, Registry, Tool, ToolError, ToolOutput};
//! use schemars::JsonSchema;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct EchoArgs {
//!     /// The text to send back.
//!     text: String,
//! }
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct AddArgs {
//!     a: f64,
//!     b: f64,
//! }
//!
//! #[derive(Serialize, JsonSchema)]
//! struct AddResult {
//!     sum: f64,
//! }
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct Nothing {}
//!
//! fn register(tools: &mut Registry) {
//!     tools.tool(
//!         Tool::new("echo", "Return the text unchanged")
//!             .read_only()
//!             .handler(|_ctx: &Context, args: EchoArgs| Ok(args.text)),
//!     );
//!     tools.tool(
//!         Tool::new("add", "Add two numbers")
//!             .title("Add")
//!             .read_only()
//!             .idempotent()
//!             .output::<AddResult>()
//!             .handler(|ctx: &Context, args: AddArgs| {
//!                 ctx.debug("adding");
//!                 let sum = args.a + args.b;
//!                 Ok(ToolOutput::structured(&AddResult { sum })?
//!                     .with_text(format!("{} + {} = {sum}", args.a, args.b)))
//!             }),
//!     );
//!     tools.tool(
//!         Tool::new("whoami", "Describe the calling client")
//!             .handler(|ctx: &Context, _: Nothing| {
//!                 let client = ctx.client().ok_or_else(|| ToolError::new("anonymous client"))?;
//!                 Ok(Json(serde_json::json!({
//!                     "name": client.name,
//!                     "version": client.version,
//!                     "protocol": ctx.protocol_version(),
//!                 })))
//!             }),
//!     );
//! }
//!
//! mcp_plugin::plugin!(register);
//! ```
//!
//! # Building
//!
//! Build the crate for `wasm32-unknown-unknown` (or `wasm32-wasip1` when the
//! plugin needs WASI, for example to print to stdout) and turn the core
//! module into a component with `mcp-wasm-host componentize`; the
//! repository's `scripts/build-plugins.sh` does both. The type information
//! the component needs travels in the module's `component-type` custom
//! section, which [`plugin!`] emits.
//!
//! # Errors and panics
//!
//! A handler's [`ToolError`] is shown to the model as a failed tool result.
//! A panic aborts the instance: the host reports the call as failed and
//! starts the next call in a fresh instance. Mistakes in the registration
//! itself (an invalid or duplicate tool name, a tool without a handler, an
//! argument type that is not a JSON object) panic when the plugin is loaded,
//! so they surface before any call.

mod context;
mod error;
mod output;
mod tool;

pub use context::{ClientInfo, Context, Level};
pub use error::ToolError;
pub use output::{Content, IntoToolOutput, Json, ResourceBody, ResourceLink, ToolOutput};
pub use tool::{Registry, Tool};

pub use schemars;
pub use serde;
pub use serde_json;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "tool-plugin",
        pub_export_macro: true,
    });
}

/// Export the plugin: `register` fills the [`Registry`] with the plugin's
/// tools.
///
/// Invoke it exactly once, at the root of the plugin crate. `register` must
/// be a `fn(&mut Registry)` (a function or a closure that captures nothing);
/// it runs once per plugin instance, the first time the host asks for the
/// tool list or calls a tool.
///
/// ```ignore
/// fn register(tools: &mut mcp_plugin::Registry) { /* tools.tool(...) */ }
/// mcp_plugin::plugin!(register);
/// ```
#[macro_export]
macro_rules! plugin {
    ($register:expr $(,)?) => {
        const _: () = {
            struct McpPluginExport;

            impl $crate::__private::Guest for McpPluginExport {
                fn list_tools() -> $crate::__private::Vec<$crate::__private::ToolDescriptor> {
                    $crate::__private::list_tools($register)
                }

                fn call_tool(
                    name: $crate::__private::String,
                    arguments: $crate::__private::String,
                ) -> ::core::result::Result<
                    $crate::__private::CallResult,
                    $crate::__private::WitToolError,
                > {
                    $crate::__private::call_tool($register, name, arguments)
                }
            }

            $crate::__private::export! { McpPluginExport with_types_in $crate::bindings }
        };
    };
}

/// Support for [`plugin!`]; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::export;
    pub use crate::bindings::exports::mcp::plugin::tools::Guest;
    pub use crate::bindings::mcp::plugin::types::{
        CallResult, ToolDescriptor, ToolError as WitToolError,
    };
    pub use std::string::String;
    pub use std::vec::Vec;

    use crate::{Registry, ToolError};
    use std::cell::OnceCell;

    thread_local! {
        static REGISTRY: OnceCell<Registry> = const { OnceCell::new() };
    }

    fn with_registry<R>(register: fn(&mut Registry), f: impl FnOnce(&Registry) -> R) -> R {
        REGISTRY.with(|cell| {
            f(cell.get_or_init(|| {
                let mut registry = Registry::new();
                register(&mut registry);
                registry
            }))
        })
    }

    /// The `list-tools` export.
    pub fn list_tools(register: fn(&mut Registry)) -> Vec<ToolDescriptor> {
        with_registry(register, Registry::descriptors)
    }

    /// The `call-tool` export.
    pub fn call_tool(
        register: fn(&mut Registry),
        name: String,
        arguments: String,
    ) -> Result<CallResult, WitToolError> {
        with_registry(register, |registry| {
            registry
                .call(&name, &arguments)
                .map(|output| output.into_wit())
                .map_err(ToolError::into_wit)
        })
    }
}

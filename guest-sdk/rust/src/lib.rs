//! Write MCP plugins for `mcp-wasm-host` in Rust: tools, resources, prompts
//! and completions.
//!
//! A plugin is a `cdylib` crate compiled to WebAssembly and turned into a
//! component that implements the `plugin` world of the `mcp:plugin` WIT
//! package. This crate implements that world's exports for you: you
//! describe each tool with a [`Tool`] — name, description, hints, and a
//! handler taking typed arguments — and each [`Resource`],
//! [`ResourceTemplate`] and [`Prompt`] the same way, register them in a
//! [`Registry`], and call [`plugin!`] once. Input schemas are generated from
//! the argument types with [`schemars`]; the host validates every call
//! against them before the handler runs. A plugin that registers no
//! resources or prompts serves none.
//!
//! Inside a handler, the [`Context`] talks back to the MCP request that
//! caused the call: logging, progress, cancellation, request metadata and
//! per-request state. Through it a plugin can also reach the client and the
//! host, when the host's policy grants it:
//!
//! - [`Context::elicit`] asks the user to fill in a form generated from a
//!   Rust type ([`Context::elicit_schema`], [`Context::elicit_url`] for
//!   hand-written schemas and URLs);
//! - [`Sampling`] and [`Context::sample`] ask the client's model;
//! - [`Context::roots`] lists the client's roots;
//! - [`Context::session`] keeps typed state across requests of a session;
//! - [`Context::catalog`] reads resources and prompts of every plugin, and
//!   [`Context::resource_updated`] / [`Context::resource_list_changed`]
//!   notify clients.
//!
//! These return a [`FacadeError`] when the client cannot do it, the host
//! refuses, or time runs out; `?` turns it into a [`ToolError`].
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
//! # Memory
//!
//! On WebAssembly this crate installs [`ArenaFirst`] as the global
//! allocator: a call's allocations come from a static arena in the
//! module's initial memory, so a fresh instance never has to grow its
//! memory for a small call. A plugin with its own `#[global_allocator]`
//! depends on this crate with `default-features = false`.
//!
//! # Errors and panics
//!
//! A handler's [`ToolError`] is shown to the model as a failed tool result.
//! A panic aborts the instance: the host reports the call as failed and
//! starts the next call in a fresh instance. Mistakes in the registration
//! itself (an invalid or duplicate tool name, a tool without a handler, an
//! argument type that is not a JSON object) panic when the plugin is loaded,
//! so they surface before any call.

mod arena;
mod args;
mod catalog;
mod completion;
mod context;
mod elicitation;
mod error;
mod export;
mod form_schema;
mod http;
mod keyvalue;
mod output;
mod prompt;
mod registry;
mod resource;
mod roots;
mod sampling;
mod session;
mod tool;
mod uri_template;

pub use arena::{ARENA_BYTES, ArenaFirst};
pub use args::{Arguments, PromptArgs, TemplateVars};
pub use catalog::Catalog;
pub use completion::{Completion, CompletionRef, CompletionRequest};
pub use context::{ClientInfo, Context, Level, Principal};
pub use elicitation::{Elicited, UrlOutcome};
pub use error::{ExportError, FacadeError, ToolError};
pub use http::{Request, Response};
pub use keyvalue::KeyValue;
pub use output::{Content, IntoToolOutput, Json, ResourceBody, ResourceLink, Role, ToolOutput};
pub use prompt::{Prompt, PromptArgument, PromptDescriptor, PromptMessage, PromptResult};
pub use registry::Registry;
pub use resource::{
    IntoResourceContents, Resource, ResourceContents, ResourceDescriptor, ResourceTemplate,
    ResourceTemplateDescriptor,
};
pub use roots::Root;
pub use sampling::{
    IncludeContext, SampledMessage, Sampling, SamplingContent, SamplingMessage, ToolChoice,
};
pub use session::Session;
pub use tool::Tool;

pub use schemars;
pub use serde;
pub use serde_json;

/// With the default `arena` feature, calls allocate from a static arena in
/// the initial memory before the standard allocator (see [`ArenaFirst`]).
#[cfg(all(
    feature = "arena",
    target_family = "wasm",
    not(target_feature = "atomics")
))]
#[global_allocator]
static ALLOCATOR: ArenaFirst = ArenaFirst::new();

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "plugin",
        pub_export_macro: true,
    });
}

/// Export the plugin: `register` fills the [`Registry`] with the plugin's
/// tools, resources and prompts.
///
/// Invoke it exactly once, at the root of the plugin crate. `register` must
/// be a `fn(&mut Registry)` (a function or a closure that captures nothing);
/// it runs once per plugin instance, the first time the host asks the
/// plugin anything.
///
/// ```ignore
/// fn register(tools: &mut mcp_plugin::Registry) { /* tools.tool(...) */ }
/// mcp_plugin::plugin!(register);
/// ```
#[macro_export]
macro_rules! plugin {
    ($register:expr $(,)?) => {
        const _: () = {
            use $crate::__private as __mcp;

            struct McpPluginExport;

            impl __mcp::ToolsGuest for McpPluginExport {
                fn list_tools() -> __mcp::Vec<__mcp::ToolDescriptor> {
                    __mcp::list_tools($register)
                }

                fn call_tool(
                    name: __mcp::String,
                    arguments: __mcp::String,
                ) -> ::core::result::Result<__mcp::CallResult, __mcp::WitToolError> {
                    __mcp::call_tool($register, name, arguments)
                }
            }

            impl __mcp::ResourcesGuest for McpPluginExport {
                fn describe_resources() -> __mcp::ResourceSupport {
                    __mcp::describe_resources($register)
                }

                fn list_resources() -> ::core::result::Result<
                    __mcp::Vec<__mcp::WitResourceDescriptor>,
                    __mcp::WitExportError,
                > {
                    __mcp::list_resources($register)
                }

                fn read_resource(
                    uri: __mcp::String,
                ) -> ::core::result::Result<
                    __mcp::Vec<__mcp::WitResourceContents>,
                    __mcp::WitExportError,
                > {
                    __mcp::read_resource($register, uri)
                }
            }

            impl __mcp::PromptsGuest for McpPluginExport {
                fn list_prompts() -> __mcp::Vec<__mcp::WitPromptDescriptor> {
                    __mcp::list_prompts($register)
                }

                fn get_prompt(
                    name: __mcp::String,
                    arguments: __mcp::Vec<(__mcp::String, __mcp::String)>,
                ) -> ::core::result::Result<__mcp::WitPromptResult, __mcp::WitExportError> {
                    __mcp::get_prompt($register, name, arguments)
                }
            }

            impl __mcp::CompletionsGuest for McpPluginExport {
                fn complete(
                    reference: __mcp::WitCompletionRef,
                    argument: __mcp::String,
                    value: __mcp::String,
                    context: __mcp::Vec<(__mcp::String, __mcp::String)>,
                ) -> ::core::result::Result<__mcp::WitCompletion, __mcp::WitExportError> {
                    __mcp::complete($register, reference, argument, value, context)
                }
            }

            __mcp::export! { McpPluginExport with_types_in $crate::bindings }
        };
    };
}

/// Support for [`plugin!`]; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::export::*;
}

//! Write MCP plugins for `mcp-wasm-host` in Rust: tools, resources, prompts
//! and completions.
//!
//! A plugin is a `cdylib` crate compiled to WebAssembly and turned into a
//! component that implements the `plugin` world of the `mcp:plugin` WIT
//! package. This crate implements that world's exports for you. A tool is
//! most simply a documented function marked [`#[tool]`](tool): its doc
//! comment is the description, its parameters the arguments, its return type
//! the result. A [`Tool`] built step by step says what the attribute cannot
//! (a hand-written schema, a handler that is a closure); each [`Resource`],
//! [`ResourceTemplate`] and [`Prompt`] is built the same way. They are
//! registered in a [`Registry`], and [`plugin!`] is called once. Input
//! schemas are generated from the argument types with [`schemars`]; the
//! host validates every call against them before the handler runs. A plugin
//! that registers no resources or prompts serves none.
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
//! ```
//!
//! `src/lib.rs`:
//!
//! ```no_run
//! use mcp_plugin::{Context, ToolError, tool};
//!
//! /// Add two numbers.
//! #[tool(read_only, idempotent)]
//! fn add(_ctx: &Context, a: f64, b: f64) -> f64 {
//!     a + b
//! }
//!
//! /// Repeat a text.
//! #[tool(read_only)]
//! fn repeat(
//!     ctx: &Context,
//!     /// The text to repeat.
//!     text: String,
//!     /// How often (1 to 10; 2 when left out).
//!     times: Option<u8>,
//! ) -> Result<String, ToolError> {
//!     let times = times.unwrap_or(2);
//!     if !(1..=10).contains(&times) {
//!         return Err(ToolError::new("times must be between 1 and 10"));
//!     }
//!     ctx.debug("repeating");
//!     Ok(text.repeat(usize::from(times)))
//! }
//!
//! mcp_plugin::plugin!(tools: [add, repeat]);
//! ```
//!
//! `add` is listed with the input schema `{a: number, b: number}` (both
//! required), the output schema `{result: number}`, and returns `{"result":
//! 5.0}` with the text `5.0`; `repeat` takes `text` and an optional `times`
//! and returns plain text.
//!
//! # Tools as functions: `#[tool]`
//!
//! [`#[tool]`](tool) on a function `f` keeps `f` as it is and adds `f::tool()`,
//! the [`Tool`] its signature describes. [`plugin!`]`(tools: [f, g])` serves
//! such functions; a registration function mixes them with everything else
//! (`registry.tool(f::tool())`). The function must be declared where
//! `plugin!` (or the registration function) can name it.
//!
//! **Description.** The doc comment, whole: the indentation common to its
//! lines removed and the text trimmed, paragraphs and line breaks kept.
//! Write it for the model. `#[tool(description = "...")]` replaces it (any
//! expression giving a string, `include_str!("add.md")` for example). A
//! tool without either does not compile.
//!
//! **Parameters.** An optional first parameter `&Context` (any pattern,
//! `_ctx` when unused); then each parameter is an argument named like it,
//! of its type, which must be owned (`String`, not `&str`) and implement
//! `Deserialize` and `JsonSchema`. The parameters become the fields of a
//! hidden struct deriving both, so [`schemars`] writes the input schema and
//! the host-validated arguments deserialize into it. A parameter takes what
//! such a field takes: a doc comment (Rust accepts it there only because
//! `#[tool]` moves it to the field) is its description;
//! `#[schemars(description = "...")]` says the same on one line;
//! `#[serde(default = "path")]`, `#[serde(rename = "...")]` and other
//! `#[serde(...)]` and `#[schemars(...)]` attributes work as on a field. An
//! `Option<T>` parameter is optional (`None` when left out); every other
//! one is required unless it has a serde default.
//!
//! **Return type**, read as written:
//!
//! | returns | result | output schema |
//! |---|---|---|
//! | `String`, `&str`, `Cow<str>` | one text block | none |
//! | `ToolOutput`, `Json<T>` | as built, as with a [`Tool`] handler | none, or `output = T`'s |
//! | a `T: Serialize + JsonSchema` whose schema is an object (a struct, a map, an enum of structs) | `T` as structured content, and its JSON as text | `T`'s |
//! | any other such `T` (numbers, strings in enums, `Vec`s, `Option`s) | `{"result": value}` as structured content, and the value as text (a string as it is, anything else as JSON) | `{result: T}` |
//! | `Result<T, E>`, `E: Into<ToolError>` | `T`'s, or the error as a failed result | `T`'s |
//!
//! `E` may be [`ToolError`], [`FacadeError`] or any [`std::error::Error`];
//! aliases such as `io::Result<T>` work. A type alias for `String` counts as
//! a `T`, not as text: the macro sees only the words written.
//!
//! **Attribute arguments**, in any order:
//!
//! | argument | meaning | builder |
//! |---|---|---|
//! | `name = "..."` | the tool's name (default: the function's) | [`Tool::new`] |
//! | `title = "..."` | a title for user interfaces | [`Tool::title`] |
//! | `description = ...` | instead of the doc comment | [`Tool::new`] |
//! | `read_only` | hint: changes nothing | [`Tool::read_only`] |
//! | `destructive` | hint: may destroy data | [`Tool::destructive`] |
//! | `idempotent` | hint: a repeated call changes nothing more | [`Tool::idempotent`] |
//! | `open_world = true\|false` | hint: reaches an open world (`open_world` alone means `true`) | [`Tool::open_world`] |
//! | `output = T` | the output schema of a `ToolOutput` or `Json` return | [`Tool::output`] |
//! | `task = "forbidden"\|"optional"\|"required"` | whether a call may run as an MCP task (default `"forbidden"`) | [`Tool::task`] |
//!
//! What the attribute refuses at compile time, each with its reason: an
//! `async`, `unsafe` or generic function, a `self` parameter, a reference
//! parameter other than a leading `&Context` (and `&Context` anywhere else,
//! or `&mut Context`), a parameter that is a pattern rather than a name, a
//! function returning nothing or `impl Trait`, an undocumented function, an
//! invalid name, a `task` other than `"forbidden"`, `"optional"` or
//! `"required"`, and attribute arguments it does not know or that repeat.
//! For what it cannot say — a hand-written input schema, a handler that is
//! a closure over configuration — build a [`Tool`]:
//!
//! ```no_run
//! use mcp_plugin::{Context, Registry, Tool, ToolError, ToolOutput, tool};
//! use schemars::JsonSchema;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, JsonSchema)]
//! struct AddResult {
//!     sum: f64,
//! }
//!
//! /// Add two numbers
//! #[tool(title = "Add", read_only, output = AddResult)]
//! fn add(a: f64, b: f64) -> Result<ToolOutput, ToolError> {
//!     let sum = a + b;
//!     Ok(ToolOutput::structured(&AddResult { sum })?.with_text(format!("{a} + {b} = {sum}")))
//! }
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct EchoArgs {
//!     /// The text to send back.
//!     text: String,
//! }
//!
//! fn register(tools: &mut Registry) {
//!     tools.tool(add::tool()).tool(
//!         Tool::new("echo", "Return the text unchanged")
//!             .read_only()
//!             .handler(|_ctx: &Context, args: EchoArgs| Ok(args.text)),
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
//! A panic aborts the instance: the host reports the call as failed with
//! `the tool panicked: <message>`, logs the message with the panic's
//! location (file, line and column), and starts the next call in a fresh
//! instance. (The SDK's panic hook, installed on the first call into the
//! plugin, hands both to the host before the instance traps; a plugin that
//! installs its own hook loses that.) Mistakes in the registration itself
//! (an invalid or duplicate tool name, a tool without a handler, an
//! argument type that is not a JSON object) panic when the plugin is loaded,
//! so they surface, with their message, before any call.

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
mod panics;
mod prompt;
mod registry;
mod resource;
mod roots;
mod sampling;
mod session;
mod sql;
mod tool;
mod trace;
mod typed;
mod uri_template;

// The code `#[tool]` generates names the SDK `::mcp_plugin`, as plugins
// see it; this lets the SDK's own tests use the attribute too.
extern crate self as mcp_plugin;

pub use arena::{ARENA_BYTES, ArenaFirst};
pub use args::{Arguments, PromptArgs, TemplateVars};
pub use catalog::Catalog;
pub use completion::{Completion, CompletionRef, CompletionRequest};
pub use context::{ClientInfo, Context, Grant, Level, Principal};
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
pub use sql::{Database, Rows, SqlValue, value_to_json};
pub use tool::{TaskSupport, Tool};
pub use trace::Span;

/// Make a function a tool: its doc comment is the description, its
/// parameters the arguments, its return type the result; `name::tool()`
/// is the [`Tool`]. See [the crate documentation](crate#tools-as-functions-tool).
pub use mcp_plugin_macros::tool;

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

/// Export the plugin, in one of two forms:
///
/// - `plugin!(tools: [add, echo])` serves the [`#[tool]`](tool) functions
///   listed (paths such as `math::add` work too), and nothing else;
/// - `plugin!(register)` lets `register` fill the [`Registry`] with the
///   plugin's tools — builder ones, and `#[tool]` functions as
///   `add::tool()` — resources and prompts.
///
/// Invoke it exactly once, at the root of the plugin crate. `register` must
/// be a `fn(&mut Registry)` (a function or a closure that captures nothing);
/// it runs once per plugin instance, the first time the host asks the
/// plugin anything.
///
/// ```ignore
/// fn register(registry: &mut mcp_plugin::Registry) {
///     registry.tool(add::tool()).tool(Tool::new("echo", "...").handler(echo));
/// }
/// mcp_plugin::plugin!(register);
/// ```
#[macro_export]
macro_rules! plugin {
    (tools: [$($($tool:ident)::+),* $(,)?] $(,)?) => {
        $crate::plugin!(|registry: &mut $crate::Registry| {
            $(registry.tool($($tool)::+::tool());)*
        });
    };
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

//! `mcp-wasm-host`: serve Model Context Protocol tools from sandboxed
//! WebAssembly components.
//!
//! Data flows one way through the crate:
//!
//! 1. [`loader`] reads a plugin directory: each `<name>.wasm` with its
//!    `<name>.toml` [`manifest`], compiled through the [`runtime`]'s on-disk
//!    compile cache and linked against the host's [`capabilities`].
//! 2. The loaded plugins form an immutable [`catalog::Catalog`] snapshot,
//!    published through one atomic pointer ([`catalog::CatalogHandle`]).
//! 3. The [`mcp`] adapter (the only module that knows the MCP SDK) answers
//!    clients over stdio or Streamable HTTP; a tool call validates its
//!    arguments ([`schema`]), then runs in a fresh sandbox through
//!    [`runtime::Runtime::call_tool`] with a per-request [`context`].

pub mod admission;
pub mod allocator;
pub mod auth;
pub mod calendar;
pub mod capabilities;
pub mod capability;
pub mod catalog;
pub mod cli;
pub mod client_request;
pub mod componentize;
pub mod config;
pub mod content;
pub mod context;
pub mod contract;
pub mod dev;
pub mod distribution;
pub mod error;
pub mod inspect;
pub mod launch;
pub mod limits;
pub mod listener;
pub mod loader;
pub mod manifest;
pub mod mcp;
pub mod metrics;
pub mod ops;
pub mod plugin;
pub mod policy;
pub mod reload;
pub mod runtime;
pub mod scaffold;
pub mod schema;
pub mod sealed;
pub mod serving;
pub mod state;
pub mod tasks;
pub mod telemetry;
pub mod tool;
pub mod trust;
pub mod tryout;
pub mod uri_template;

mod bindings;
#[cfg(test)]
mod layers;
#[cfg(test)]
mod test_strategies;

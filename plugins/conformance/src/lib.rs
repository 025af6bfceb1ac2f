//! The server side of the official MCP conformance suite
//! (`@modelcontextprotocol/conformance`): the tools, resources, resource
//! templates, prompts and completions its server scenarios call, under the
//! exact names, arguments, texts and media types they check.
//!
//! The protocol-level scenarios (initialization, ping, logging levels,
//! subscriptions, HTTP streams, DNS-rebinding protection) are the host's
//! business; this plugin only supplies the content. `scripts/conformance.sh`
//! serves it beside the example plugins and runs the suite.

mod media;
mod prompts;
mod resources;
mod tools;

use mcp_plugin::Registry;

fn register(registry: &mut Registry) {
    tools::register(registry);
    resources::register(registry);
    prompts::register(registry);
}

mcp_plugin::plugin!(register);

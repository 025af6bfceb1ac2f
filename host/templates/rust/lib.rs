//! The {{name}} plugin: tools written in Rust.
//!
//! Build with ./build.sh; see docs/writing-plugins-rust.md for the SDK.

use mcp_plugin::{Context, ToolError, tool};

/// Greet someone, counting the greetings of this session.
// The doc comment above is the description the model reads; the
// parameters after the context are the tool's arguments.
#[tool(read_only)]
fn greet(
    ctx: &Context,
    /// Who to greet.
    name: String,
) -> Result<String, ToolError> {
    if name.is_empty() {
        return Err(ToolError::new("name must not be empty"));
    }
    // No session for this request: count from one.
    let count = ctx
        .session()
        .get::<u64>("greetings")
        .ok()
        .flatten()
        .unwrap_or(0)
        + 1;
    let _ = ctx.session().set("greetings", &count);
    ctx.info(&format!("greeting {name} (greeting {count} of this session)"));
    Ok(format!("Hello, {name}! (greeting {count})"))
}

mcp_plugin::plugin!(tools: [greet]);

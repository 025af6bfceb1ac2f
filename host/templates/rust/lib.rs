//! The {{name}} plugin: tools written in Rust.
//!
//! Build with ./build.sh; see docs/writing-plugins-rust.md for the SDK.

use mcp_plugin::{Context, Registry, Tool, ToolError};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
struct GreetArgs {
    /// Who to greet.
    name: String,
}

fn greet(ctx: &Context, args: GreetArgs) -> Result<String, ToolError> {
    if args.name.is_empty() {
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
    ctx.info(&format!(
        "greeting {} (greeting {count} of this session)",
        args.name
    ));
    Ok(format!("Hello, {}! (greeting {count})", args.name))
}

fn register(tools: &mut Registry) {
    tools.tool(
        Tool::new(
            "greet",
            "Greet someone, counting the greetings of this session.",
        )
        .read_only()
        .handler(greet),
    );
}

mcp_plugin::plugin!(register);

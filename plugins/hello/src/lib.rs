//! The smallest useful plugin: `echo` returns its text, `add` adds two
//! numbers and returns the sum as structured content.

use mcp_plugin::{Context, Registry, Tool, ToolError, ToolOutput};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, JsonSchema)]
struct EchoArgs {
    /// The text to return.
    text: String,
}

#[derive(Deserialize, JsonSchema)]
struct AddArgs {
    /// The first term.
    a: f64,
    /// The second term.
    b: f64,
}

#[derive(Serialize, JsonSchema)]
struct AddResult {
    /// `a + b`.
    sum: f64,
}

fn echo(_ctx: &Context, args: EchoArgs) -> Result<String, ToolError> {
    Ok(args.text)
}

fn add(_ctx: &Context, AddArgs { a, b }: AddArgs) -> Result<ToolOutput, ToolError> {
    let sum = a + b;
    Ok(ToolOutput::structured(&AddResult { sum })?.with_text(format!("{a} + {b} = {sum}")))
}

fn register(tools: &mut Registry) {
    tools
        .tool(
            Tool::new("echo", "Return the given text unchanged")
                .title("Echo")
                .read_only()
                .idempotent()
                .open_world(false)
                .handler(echo),
        )
        .tool(
            Tool::new("add", "Add two numbers")
                .title("Add")
                .read_only()
                .idempotent()
                .open_world(false)
                .output::<AddResult>()
                .handler(add),
        );
}

mcp_plugin::plugin!(register);

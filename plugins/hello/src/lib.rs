//! The smallest useful plugin: `echo` returns its text, `add` adds two
//! numbers and returns the sum as structured content. Both are `#[tool]`
//! functions: the doc comment is the description, the parameters the
//! arguments.

use mcp_plugin::{ToolError, ToolOutput, tool};
use schemars::JsonSchema;
use serde::Serialize;

/// Return the given text unchanged
#[tool(title = "Echo", read_only, idempotent, open_world = false)]
fn echo(
    /// The text to return.
    text: String,
) -> String {
    text
}

#[derive(Serialize, JsonSchema)]
struct AddResult {
    /// `a + b`.
    sum: f64,
}

/// Add two numbers
#[tool(title = "Add", read_only, idempotent, open_world = false, output = AddResult)]
fn add(
    #[schemars(description = "The first term.")] a: f64,
    #[schemars(description = "The second term.")] b: f64,
) -> Result<ToolOutput, ToolError> {
    let sum = a + b;
    Ok(ToolOutput::structured(&AddResult { sum })?.with_text(format!("{a} + {b} = {sum}")))
}

mcp_plugin::plugin!(tools: [echo, add]);

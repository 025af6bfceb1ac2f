//! The smallest useful plugin: `echo` returns its text, `add` adds two
//! numbers and returns the sum as structured content, and `countdown` waits
//! in steps, reporting progress and stopping when cancelled. All three are
//! `#[tool]` functions: the doc comment is the description, the parameters
//! the arguments.
//!
//! `countdown` may run as an MCP task (`task = "optional"`): a client that
//! supports tasks gets a task id at once and polls it while the countdown
//! runs; any other client gets an ordinary call. The function is the same
//! either way. It waits with [`Context::sleep`], which needs no WASI, so
//! the plugin imports nothing but the plugin interfaces.

use std::time::Duration;

use mcp_plugin::{Context, ToolError, ToolOutput, tool};
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

/// The longest countdown, in seconds.
const MAX_SECONDS: u32 = 3600;
/// The shortest step, in milliseconds.
const MIN_STEP_MS: u32 = 1;
/// The longest step, in milliseconds.
const MAX_STEP_MS: u32 = 60_000;

fn default_step_ms() -> u32 {
    1000
}

/// Count down `seconds` in steps of `step_ms` milliseconds, reporting
/// progress after each step; stops early when the request is cancelled.
#[tool(
    title = "Countdown",
    read_only,
    idempotent,
    open_world = false,
    task = "optional"
)]
fn countdown(
    ctx: &Context,
    /// How long to count down, in seconds (0 to 3600).
    #[schemars(range(max = MAX_SECONDS))]
    seconds: u32,
    /// How long each step takes, in milliseconds (1 to 60000; 1000 when left out).
    #[serde(default = "default_step_ms")]
    #[schemars(range(min = MIN_STEP_MS, max = MAX_STEP_MS))]
    step_ms: u32,
) -> Result<String, ToolError> {
    // The host checks the arguments against the schema; this keeps a direct
    // call from dividing by zero or sleeping for hours.
    if seconds > MAX_SECONDS || !(MIN_STEP_MS..=MAX_STEP_MS).contains(&step_ms) {
        return Err(ToolError::new(format!(
            "seconds must be 0 to {MAX_SECONDS} and step_ms {MIN_STEP_MS} to {MAX_STEP_MS}"
        )));
    }
    let steps = seconds * 1000 / step_ms;
    let step = Duration::from_millis(u64::from(step_ms));
    for done in 0..steps {
        if ctx.is_cancelled() {
            return Err(ToolError::new(format!(
                "cancelled after {done} of {steps} steps"
            )));
        }
        ctx.sleep(step);
        let step_number = done + 1;
        ctx.progress(
            f64::from(step_number),
            Some(f64::from(steps)),
            Some(&format!("step {step_number} of {steps}")),
        );
    }
    Ok(format!("done after {steps} steps"))
}

mcp_plugin::plugin!(tools: [echo, add, countdown]);

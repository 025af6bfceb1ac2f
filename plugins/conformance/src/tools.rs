//! Tools: one per `tools-call-*`, elicitation and JSON Schema scenario.

use mcp_plugin::{Context, Elicited, Registry, Sampling, Tool, ToolError, ToolOutput, serde_json};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::media;

#[derive(Deserialize, JsonSchema)]
struct SamplingArgs {
    /// The prompt to send to the client's model.
    prompt: String,
}

#[derive(Deserialize, JsonSchema)]
struct ElicitationArgs {
    /// The message to show the user.
    message: String,
}

fn simple_text(_: &Context, (): ()) -> Result<String, ToolError> {
    Ok("This is a simple text response for testing.".into())
}

fn image_content(_: &Context, (): ()) -> Result<ToolOutput, ToolError> {
    Ok(ToolOutput::new().with_image(media::png(), media::PNG_MIME))
}

fn audio_content(_: &Context, (): ()) -> Result<ToolOutput, ToolError> {
    Ok(ToolOutput::new().with_audio(media::wav(), media::WAV_MIME))
}

fn embedded_resource(_: &Context, (): ()) -> Result<ToolOutput, ToolError> {
    Ok(ToolOutput::new().with_embedded_text(
        "test://embedded-resource",
        "text/plain",
        "This is an embedded resource content.",
    ))
}

fn multiple_content_types(_: &Context, (): ()) -> Result<ToolOutput, ToolError> {
    Ok(ToolOutput::text("Multiple content types test:")
        .with_image(media::png(), media::PNG_MIME)
        .with_embedded_text(
            "test://mixed-content-resource",
            "application/json",
            json!({"test": "data", "value": 123}).to_string(),
        ))
}

/// Three info logs. The suite's reference server spaces them 50 ms apart;
/// a plugin without WASI has no clock to wait on, so they go out at once
/// (the scenario only counts them).
fn with_logging(ctx: &Context, (): ()) -> Result<String, ToolError> {
    ctx.info("Tool execution started");
    ctx.info("Tool processing data");
    ctx.info("Tool execution completed");
    Ok("Logging test completed".into())
}

fn error_handling(_: &Context, (): ()) -> Result<String, ToolError> {
    Err(ToolError::new(
        "This tool intentionally returns an error for testing",
    ))
}

fn with_progress(ctx: &Context, (): ()) -> Result<String, ToolError> {
    for step in [0.0, 50.0, 100.0] {
        ctx.progress(step, Some(100.0), None);
    }
    Ok("Progress test completed".into())
}

fn sampling(ctx: &Context, args: SamplingArgs) -> Result<String, ToolError> {
    let answer = Sampling::new()
        .user(args.prompt)
        .max_tokens(100)
        .send(ctx)
        .map_err(|error| ToolError::new(format!("sampling failed: {error}")))?;
    Ok(format!("LLM response: {}", answer.text()))
}

/// Elicit with a schema sent exactly as written and describe the outcome
/// as `<lead>: action=<accept|decline|cancel>[, content=<json>]`.
fn elicit(ctx: &Context, lead: &str, message: &str, schema: Value) -> Result<String, ToolError> {
    let answer = ctx
        .elicit_schema(message, schema)
        .map_err(|error| ToolError::new(format!("elicitation failed: {error}")))?;
    Ok(match answer {
        Elicited::Accepted(content) => format!("{lead}: action=accept, content={content}"),
        Elicited::Declined => format!("{lead}: action=decline"),
        Elicited::Cancelled => format!("{lead}: action=cancel"),
    })
}

fn elicitation(ctx: &Context, args: ElicitationArgs) -> Result<String, ToolError> {
    let schema = json!({
        "type": "object",
        "properties": {
            "username": {"type": "string", "description": "User's response"},
            "email": {"type": "string", "description": "User's email address"},
        },
        "required": ["username", "email"],
    });
    elicit(ctx, "User response", &args.message, schema)
}

fn elicitation_defaults(ctx: &Context, (): ()) -> Result<String, ToolError> {
    let schema = json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "User's name", "default": "John Doe"},
            "age": {"type": "integer", "description": "User's age", "default": 30},
            "score": {"type": "number", "description": "User's score", "default": 95.5},
            "status": {
                "type": "string",
                "description": "User's status",
                "enum": ["active", "inactive", "pending"],
                "default": "active",
            },
            "verified": {
                "type": "boolean",
                "description": "Whether user is verified",
                "default": true,
            },
        },
    });
    elicit(
        ctx,
        "Elicitation completed",
        "Please provide values (all have defaults)",
        schema,
    )
}

fn elicitation_enums(ctx: &Context, (): ()) -> Result<String, ToolError> {
    let schema = json!({
        "type": "object",
        "properties": {
            "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
            "titledSingle": {
                "type": "string",
                "oneOf": [
                    {"const": "value1", "title": "First Option"},
                    {"const": "value2", "title": "Second Option"},
                    {"const": "value3", "title": "Third Option"},
                ],
            },
            "legacyEnum": {
                "type": "string",
                "enum": ["opt1", "opt2", "opt3"],
                "enumNames": ["Option One", "Option Two", "Option Three"],
            },
            "untitledMulti": {
                "type": "array",
                "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
            },
            "titledMulti": {
                "type": "array",
                "items": {
                    "anyOf": [
                        {"const": "value1", "title": "First Choice"},
                        {"const": "value2", "title": "Second Choice"},
                        {"const": "value3", "title": "Third Choice"},
                    ],
                },
            },
        },
    });
    elicit(
        ctx,
        "Elicitation completed",
        "Test enum schema improvements",
        schema,
    )
}

/// The input schema `json-schema-2020-12` looks for, verbatim.
fn json_schema_2020_12() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {
            "address": {
                "type": "object",
                "properties": {
                    "street": {"type": "string"},
                    "city": {"type": "string"},
                },
            },
        },
        "properties": {
            "name": {"type": "string"},
            "address": {"$ref": "#/$defs/address"},
        },
        "additionalProperties": false,
    })
}

fn json_schema_tool(_: &Context, args: Value) -> Result<String, ToolError> {
    Ok(format!("JSON Schema 2020-12 tool called with: {args}"))
}

fn reconnection(_: &Context, (): ()) -> Result<String, ToolError> {
    Ok("Reconnection test completed".into())
}

pub fn register(registry: &mut Registry) {
    registry
        .tool(
            Tool::new("test_simple_text", "Returns a simple text response")
                .read_only()
                .handler(simple_text),
        )
        .tool(
            Tool::new("test_image_content", "Returns a PNG image")
                .read_only()
                .handler(image_content),
        )
        .tool(
            Tool::new("test_audio_content", "Returns a WAV audio clip")
                .read_only()
                .handler(audio_content),
        )
        .tool(
            Tool::new(
                "test_embedded_resource",
                "Returns an embedded text resource",
            )
            .read_only()
            .handler(embedded_resource),
        )
        .tool(
            Tool::new(
                "test_multiple_content_types",
                "Returns text, an image and an embedded resource",
            )
            .read_only()
            .handler(multiple_content_types),
        )
        .tool(
            Tool::new(
                "test_tool_with_logging",
                "Sends three log messages while running",
            )
            .read_only()
            .handler(with_logging),
        )
        .tool(
            Tool::new("test_error_handling", "Always fails with a tool error")
                .read_only()
                .handler(error_handling),
        )
        .tool(
            Tool::new(
                "test_tool_with_progress",
                "Reports progress 0, 50 and 100 of 100",
            )
            .read_only()
            .handler(with_progress),
        )
        .tool(
            Tool::new(
                "test_sampling",
                "Asks the client's model to answer a prompt",
            )
            .handler(sampling),
        )
        .tool(
            Tool::new(
                "test_elicitation",
                "Asks the user for a username and an email",
            )
            .handler(elicitation),
        )
        .tool(
            Tool::new(
                "test_elicitation_sep1034_defaults",
                "Asks the user for values that all have defaults (SEP-1034)",
            )
            .handler(elicitation_defaults),
        )
        .tool(
            Tool::new(
                "test_elicitation_sep1330_enums",
                "Asks the user to pick from every kind of enum (SEP-1330)",
            )
            .handler(elicitation_enums),
        )
        .tool(
            Tool::new(
                "json_schema_2020_12_tool",
                "Tool with JSON Schema 2020-12 features",
            )
            .input_schema_json(json_schema_2020_12())
            .read_only()
            .handler(json_schema_tool),
        )
        .tool(
            Tool::new(
                "test_reconnection",
                "Answers after the stream may have reconnected",
            )
            .read_only()
            .handler(reconnection),
        );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_2020_12_schema_has_what_the_suite_checks() {
        let schema = json_schema_2020_12();
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        assert!(schema["$defs"]["address"].is_object());
        assert_eq!(schema["additionalProperties"], false);
    }
}

//! Prompts: a simple one, one with two required arguments (with
//! completion of the first), one embedding a resource and one showing an
//! image.

use mcp_plugin::{Completion, Prompt, PromptMessage, PromptResult, Registry, ResourceContents};

use crate::media;

/// Suggestions for `test_prompt_with_arguments`'s `arg1`.
const ARG1_VALUES: [&str; 3] = ["testValue1", "testValue2", "testValue3"];

pub fn register(registry: &mut Registry) {
    registry
        .prompt(
            Prompt::new("test_simple_prompt", "A simple prompt without arguments")
                .title("Simple Prompt")
                .handler(|_, _| {
                    Ok(PromptMessage::user_text(
                        "This is a simple prompt for testing.",
                    ))
                }),
        )
        .prompt(
            Prompt::new(
                "test_prompt_with_arguments",
                "A prompt with two required arguments",
            )
            .title("Prompt With Arguments")
            .argument("arg1", "First test argument", true)
            .argument("arg2", "Second test argument", true)
            .handler(|_, args| {
                let text = format!(
                    "Prompt with arguments: arg1='{}', arg2='{}'",
                    args.require("arg1")?,
                    args.require("arg2")?
                );
                Ok(PromptMessage::user_text(text))
            })
            .complete_argument("arg1", |_, typed, _| {
                Completion::by_prefix(typed, ARG1_VALUES)
            }),
        )
        .prompt(
            Prompt::new(
                "test_prompt_with_embedded_resource",
                "A prompt that embeds a resource",
            )
            .title("Prompt With Embedded Resource")
            .argument("resourceUri", "URI of the resource to embed", true)
            .handler(|_, args| {
                let uri = args.require("resourceUri")?;
                let contents =
                    ResourceContents::text(uri, "Embedded resource content for testing.")
                        .with_mime_type("text/plain");
                Ok(PromptResult::new()
                    .message(PromptMessage::user_resource(contents))
                    .user_text("Please process the embedded resource above."))
            }),
        )
        .prompt(
            Prompt::new("test_prompt_with_image", "A prompt that shows an image")
                .title("Prompt With Image")
                .handler(|_, _| {
                    Ok(PromptResult::new()
                        .message(PromptMessage::user_image(media::png(), media::PNG_MIME))
                        .user_text("Please analyze the image above."))
                }),
        );
}

//! The prompts: review one note, or summarize them all. Each embeds the
//! notes as resources, so the model sees their URIs and contents.

use mcp_plugin::{
    Context, ExportError, Prompt, PromptArgs, PromptMessage, PromptResult, Registry,
    ResourceContents,
};

use crate::store::{Notes, uri};
use crate::{MARKDOWN, complete_name};

fn embedded(name: &str, text: String) -> PromptMessage {
    PromptMessage::user_resource(ResourceContents::text(uri(name), text).with_mime_type(MARKDOWN))
}

fn review_note(ctx: &Context, args: &PromptArgs) -> Result<PromptResult, ExportError> {
    let name = args.require("name")?;
    let text = Notes::of(ctx)
        .get(name)?
        .ok_or_else(|| ExportError::invalid_params(format!("there is no note named `{name}`")))?;
    Ok(PromptResult::new()
        .description(format!("Review of the note {}", uri(name)))
        .message(embedded(name, text))
        .user_text(
            "Review the note above. Point out unclear or contradictory passages and missing \
             information, then suggest concrete improvements. Keep its markdown structure.",
        ))
}

fn summarize_notes(ctx: &Context, _: &PromptArgs) -> Result<PromptResult, ExportError> {
    let notes = Notes::of(ctx);
    let names = notes.names()?;
    if names.is_empty() {
        return Ok(PromptResult::new().user_text(
            "There are no notes in this session yet. Offer to help write the first one.",
        ));
    }
    let mut result = PromptResult::new().description(format!("Summary of {} notes", names.len()));
    for name in &names {
        if let Some(text) = notes.get(name)? {
            result = result.message(embedded(name, text));
        }
    }
    Ok(result.user_text(
        "Summarize the notes above in a few bullet points: the main topics, decisions and \
         open questions, citing each note by its URI.",
    ))
}

pub fn register(registry: &mut Registry) {
    registry
        .prompt(
            Prompt::new(
                "review_note",
                "Ask the model to review one note and suggest improvements",
            )
            .title("Review a note")
            .argument("name", "The note's name", true)
            .handler(review_note)
            .complete_argument("name", |ctx, typed, _| complete_name(ctx, typed)),
        )
        .prompt(
            Prompt::new(
                "summarize_notes",
                "Ask the model to summarize every note of this session",
            )
            .title("Summarize the notes")
            .handler(summarize_notes),
        );
}

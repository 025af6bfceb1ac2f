//! Example plugin: markdown notes kept per session, through every kind of
//! thing a plugin can serve.
//!
//! - Tools `add_note` and `delete_note` write the notes (in session state)
//!   and tell clients what changed.
//! - Resource template `note://{name}` reads one note; the resource list
//!   shows the session's notes.
//! - Prompts `review_note` (the note embedded as a resource, plus an
//!   instruction) and `summarize_notes` (every note).
//! - Completion of `review_note`'s `name` and of the template's `name` from
//!   the existing notes.

mod prompts;
mod store;

use mcp_plugin::{
    Completion, Context, ExportError, FacadeError, Registry, ResourceContents, ResourceDescriptor,
    ResourceTemplate, TemplateVars, Tool, ToolError,
};
use schemars::JsonSchema;
use serde::Deserialize;

use store::{Notes, check_name, uri};

/// The notes' MIME type.
const MARKDOWN: &str = "text/markdown";

#[derive(Deserialize, JsonSchema)]
struct AddNoteArgs {
    /// The note's name: ASCII letters, digits, `-`, `_` or `.`. It becomes
    /// part of the note's URI, `note://<name>`.
    name: String,
    /// The note's text (markdown). Replaces the note if it exists.
    text: String,
}

#[derive(Deserialize, JsonSchema)]
struct NoteName {
    /// The note's name.
    name: String,
}

fn state_error(error: FacadeError) -> ToolError {
    ToolError::new(format!("cannot reach this session's notes: {error}"))
}

fn add_note(ctx: &Context, args: AddNoteArgs) -> Result<String, ToolError> {
    check_name(&args.name).map_err(ToolError::new)?;
    let created = Notes::of(ctx)
        .put(&args.name, &args.text)
        .map_err(state_error)?;
    let uri = uri(&args.name);
    if created {
        ctx.resource_list_changed();
    }
    ctx.resource_updated(&uri);
    Ok(if created {
        format!("Added the note {uri}")
    } else {
        format!("Replaced the note {uri}")
    })
}

fn delete_note(ctx: &Context, args: NoteName) -> Result<String, ToolError> {
    let uri = uri(&args.name);
    if !Notes::of(ctx).delete(&args.name).map_err(state_error)? {
        return Err(ToolError::new(format!(
            "there is no note named `{}`",
            args.name
        )));
    }
    ctx.resource_list_changed();
    ctx.resource_updated(&uri);
    Ok(format!("Deleted the note {uri}"))
}

/// `resources/list`: the session's notes. A client without a session has
/// none, rather than an error.
fn list_notes(ctx: &Context) -> Result<Vec<ResourceDescriptor>, ExportError> {
    let notes = Notes::of(ctx);
    let names = match notes.names() {
        Ok(names) => names,
        Err(FacadeError::UnsupportedByClient(_)) => return Ok(Vec::new()),
        Err(error) => return Err(error.into()),
    };
    let mut listed = Vec::with_capacity(names.len());
    for name in names {
        let mut descriptor = ResourceDescriptor::new(uri(&name), name.as_str())
            .title(format!("Note: {name}"))
            .mime_type(MARKDOWN);
        if let Some(text) = notes.get(&name)? {
            descriptor = descriptor.size(text.len() as u64);
        }
        listed.push(descriptor);
    }
    Ok(listed)
}

/// `resources/read` of `note://{name}`.
fn read_note(
    ctx: &Context,
    uri: &str,
    vars: &TemplateVars,
) -> Result<ResourceContents, ExportError> {
    let name = vars.require("name")?;
    match Notes::of(ctx).get(name)? {
        Some(text) => Ok(ResourceContents::text(uri, text)),
        None => Err(ExportError::not_found(format!(
            "there is no note named `{name}`"
        ))),
    }
}

/// Note names starting with what the user typed; none without a session.
pub(crate) fn complete_name(ctx: &Context, typed: &str) -> Completion {
    let names = Notes::of(ctx).names().unwrap_or_default();
    Completion::by_prefix(typed, names)
}

fn register(registry: &mut Registry) {
    registry
        .tool(
            Tool::new(
                "add_note",
                "Add a markdown note to this session, or replace the note of that name",
            )
            .title("Add note")
            .idempotent()
            .handler(add_note),
        )
        .tool(
            Tool::new("delete_note", "Delete a note of this session")
                .title("Delete note")
                .destructive()
                .handler(delete_note),
        )
        .resource_template(
            ResourceTemplate::new("note://{name}", "note")
                .title("Note")
                .description("A markdown note of this session, by name")
                .mime_type(MARKDOWN)
                .reader(read_note)
                .complete_argument("name", |ctx, typed, _| complete_name(ctx, typed)),
        )
        .list_resources_with(list_notes);
    prompts::register(registry);
}

mcp_plugin::plugin!(register);

//! Mapping the host's protocol-neutral tool and content models to MCP wire
//! types: the one place the host's content becomes rmcp's.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rmcp::model::{CallToolResult, ContentBlock, Tool, ToolAnnotations};

use super::core_tasks::TASK_SUPPORT_MARK;
use crate::catalog::ExposedTool;
use crate::content::Content;
use crate::tool::{TaskSupport, ToolResult};

/// The MCP descriptor of an exposed tool.
pub(super) fn tool_descriptor(exposed: &ExposedTool) -> Tool {
    let spec = exposed.spec();
    let description = spec.description.clone().unwrap_or_default();
    let mut tool = Tool::new(exposed.name.clone(), description, spec.input_schema.clone());
    if spec.description.is_none() {
        tool.description = None;
    }
    if let Some(title) = &spec.title {
        tool = tool.with_title(title.clone());
    }
    if let Some(output) = &spec.output_schema {
        tool = tool.with_raw_output_schema(Arc::clone(output));
    }
    if let Some(hints) = &spec.hints {
        let mut a = ToolAnnotations::new();
        a.title = hints.title.clone();
        a.read_only_hint = hints.read_only;
        a.destructive_hint = hints.destructive;
        a.idempotent_hint = hints.idempotent;
        a.open_world_hint = hints.open_world;
        tool = tool.with_annotations(a);
    }
    let support = exposed.task_support();
    if support != TaskSupport::Forbidden {
        // The SDK's descriptor has no `execution`; the outgoing rewrite
        // moves this there.
        let mut meta = rmcp::model::MetaObject::new();
        meta.0
            .insert(TASK_SUPPORT_MARK.into(), support.as_str().into());
        tool.meta = Some(meta);
    }
    tool
}

/// The MCP result of a tool call.
pub(super) fn call_result(result: ToolResult) -> CallToolResult {
    let content: Vec<ContentBlock> = result.content.into_iter().map(content_block).collect();
    let mut out = if result.is_error {
        CallToolResult::error(content)
    } else {
        CallToolResult::success(content)
    };
    out.structured_content = result.structured;
    out
}

pub(super) fn content_block(content: Content) -> ContentBlock {
    match content {
        Content::Text(text) => ContentBlock::text(text),
        Content::Image { data, mime_type } => ContentBlock::image(BASE64.encode(data), mime_type),
        Content::Audio { data, mime_type } => ContentBlock::audio(BASE64.encode(data), mime_type),
        Content::ResourceLink(link) => ContentBlock::resource_link(catalog_items::resource(link)),
        Content::Resource(contents) => ContentBlock::resource(catalog_items::contents(contents)),
    }
}

/// The MCP form of the resources, templates, contents, prompts, rendered
/// prompts and completions the host serves.
pub(super) mod catalog_items {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use rmcp::model::{
        CompletionInfo, GetPromptResult, Prompt, PromptArgument, PromptMessage, Resource,
        ResourceContents, ResourceTemplate, Role,
    };

    use crate::content;

    pub(in crate::mcp) fn resource(r: content::ResourceDescriptor) -> Resource {
        let mut out = Resource::new(r.uri, r.name);
        out.title = r.title;
        out.description = r.description;
        out.mime_type = r.mime_type;
        out.size = r.size;
        out
    }

    pub(in crate::mcp) fn template(t: content::ResourceTemplate) -> ResourceTemplate {
        let mut out = ResourceTemplate::new(t.uri_template, t.name);
        out.title = t.title;
        out.description = t.description;
        out.mime_type = t.mime_type;
        out
    }

    pub(in crate::mcp) fn contents(c: content::ResourceContents) -> ResourceContents {
        let contents = match c.body {
            content::ResourceBody::Text(text) => ResourceContents::text(text, c.uri),
            content::ResourceBody::Blob(bytes) => {
                ResourceContents::blob(BASE64.encode(bytes), c.uri)
            }
        };
        match c.mime_type {
            Some(m) => contents.with_mime_type(m),
            None => contents,
        }
    }

    pub(in crate::mcp) fn prompt(p: content::PromptDescriptor) -> Prompt {
        let arguments = (!p.arguments.is_empty()).then(|| {
            p.arguments
                .into_iter()
                .map(|a| {
                    let mut argument = PromptArgument::new(a.name);
                    argument.title = a.title;
                    argument.description = a.description;
                    argument.required = Some(a.required);
                    argument
                })
                .collect()
        });
        let mut out = Prompt::new(p.name, p.description, arguments);
        out.title = p.title;
        out
    }

    pub(in crate::mcp) fn prompt_result(r: content::PromptResult) -> GetPromptResult {
        let messages = r
            .messages
            .into_iter()
            .map(|m| {
                let role = match m.role {
                    content::Role::User => Role::User,
                    content::Role::Assistant => Role::Assistant,
                };
                PromptMessage::new(role, super::content_block(m.content))
            })
            .collect();
        let mut out = GetPromptResult::new(messages);
        out.description = r.description;
        out
    }

    pub(in crate::mcp) fn completion(c: content::Completion) -> CompletionInfo {
        let mut out = CompletionInfo::default();
        out.values = c.values;
        out.total = c.total;
        out.has_more = Some(c.has_more);
        out
    }
}

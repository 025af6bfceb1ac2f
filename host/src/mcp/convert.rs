//! Mapping the host's protocol-neutral tool model to MCP wire types.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rmcp::model::{
    CallToolResult, ContentBlock, Resource, ResourceContents, Tool, ToolAnnotations,
};

use crate::catalog::ExposedTool;
use crate::tool::{Content, ResourceBody, ToolResult};

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

fn content_block(content: Content) -> ContentBlock {
    match content {
        Content::Text(text) => ContentBlock::text(text),
        Content::Image { data, mime_type } => ContentBlock::image(BASE64.encode(data), mime_type),
        Content::Audio { data, mime_type } => ContentBlock::audio(BASE64.encode(data), mime_type),
        Content::ResourceLink {
            uri,
            name,
            title,
            description,
            mime_type,
            size,
        } => {
            let mut r = Resource::new(uri, name);
            if let Some(t) = title {
                r = r.with_title(t);
            }
            if let Some(d) = description {
                r = r.with_description(d);
            }
            if let Some(m) = mime_type {
                r = r.with_mime_type(m);
            }
            if let Some(s) = size {
                r = r.with_size(s);
            }
            ContentBlock::resource_link(r)
        }
        Content::Resource {
            uri,
            mime_type,
            body,
        } => {
            let mut contents = match body {
                ResourceBody::Text(text) => ResourceContents::text(text, uri),
                ResourceBody::Blob(bytes) => ResourceContents::blob(BASE64.encode(bytes), uri),
            };
            if let Some(m) = mime_type {
                contents = contents.with_mime_type(m);
            }
            ContentBlock::resource(contents)
        }
    }
}

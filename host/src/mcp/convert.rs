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

/// The MCP form of a plugin's resource, template, contents, prompt,
/// rendered prompt and completion. They go through their wire JSON, which
/// is what the WIT records mirror.
pub(super) mod catalog_items {
    use rmcp::model::{
        CompletionInfo, GetPromptResult, Prompt, Resource, ResourceContents, ResourceTemplate,
    };
    use serde_json::{Value, json};

    use crate::bindings::{completions, types};
    use crate::capabilities::context::content_block_json;

    fn put(v: &mut Value, key: &str, value: Option<impl Into<Value>>) {
        if let Some(value) = value {
            v[key] = value.into();
        }
    }

    fn typed<T: serde::de::DeserializeOwned>(what: &str, v: Value) -> Result<T, String> {
        serde_json::from_value(v).map_err(|e| format!("the plugin's {what} is not valid MCP: {e}"))
    }

    pub(in crate::mcp) fn resource(r: types::ResourceDescriptor) -> Result<Resource, String> {
        let mut v = json!({"uri": r.uri, "name": r.name});
        put(&mut v, "title", r.title);
        put(&mut v, "description", r.description);
        put(&mut v, "mimeType", r.mime_type);
        put(&mut v, "size", r.size);
        typed("resource", v)
    }

    pub(in crate::mcp) fn template(t: types::ResourceTemplate) -> Result<ResourceTemplate, String> {
        let mut v = json!({"uriTemplate": t.uri_template, "name": t.name});
        put(&mut v, "title", t.title);
        put(&mut v, "description", t.description);
        put(&mut v, "mimeType", t.mime_type);
        typed("resource template", v)
    }

    pub(in crate::mcp) fn contents(c: types::ResourceContents) -> Result<ResourceContents, String> {
        let block = content_block_json(types::ContentBlock::EmbeddedResource(c));
        typed("resource contents", block["resource"].clone())
    }

    pub(in crate::mcp) fn prompt(p: types::PromptDescriptor) -> Result<Prompt, String> {
        let mut v = json!({"name": p.name});
        put(&mut v, "title", p.title);
        put(&mut v, "description", p.description);
        if !p.arguments.is_empty() {
            let args: Vec<Value> = p
                .arguments
                .into_iter()
                .map(|a| {
                    let mut v = json!({"name": a.name, "required": a.required});
                    put(&mut v, "title", a.title);
                    put(&mut v, "description", a.description);
                    v
                })
                .collect();
            v["arguments"] = args.into();
        }
        typed("prompt", v)
    }

    pub(in crate::mcp) fn prompt_result(r: types::PromptResult) -> Result<GetPromptResult, String> {
        let messages: Vec<Value> = r
            .messages
            .into_iter()
            .map(|m| {
                let role = match m.role {
                    types::Role::User => "user",
                    types::Role::Assistant => "assistant",
                };
                json!({"role": role, "content": content_block_json(m.content)})
            })
            .collect();
        let mut v = json!({"messages": messages});
        put(&mut v, "description", r.description);
        typed("prompt result", v)
    }

    pub(in crate::mcp) fn completion(c: completions::Completion) -> Result<CompletionInfo, String> {
        let mut v = json!({"values": c.values, "hasMore": c.has_more});
        put(&mut v, "total", c.total);
        typed("completion", v)
    }
}

//! The one crossing between the generated WIT records and the host's
//! neutral [content model](crate::content): what guests return is
//! converted here once, and what the host hands guests (through the
//! `host-catalog` capability) is converted back here.

use crate::bindings::{completions, types};
use crate::content::{
    Completion, CompletionTarget, Content, PromptArgument, PromptDescriptor, PromptMessage,
    PromptResult, ResourceBody, ResourceContents, ResourceDescriptor, ResourceTemplate, Role,
};
use crate::tool::{TaskSupport, ToolDeclaration, ToolHints};

impl From<types::ResourceBody> for ResourceBody {
    fn from(body: types::ResourceBody) -> Self {
        match body {
            types::ResourceBody::Text(t) => ResourceBody::Text(t),
            types::ResourceBody::Blob(b) => ResourceBody::Blob(b),
        }
    }
}

impl From<ResourceBody> for types::ResourceBody {
    fn from(body: ResourceBody) -> Self {
        match body {
            ResourceBody::Text(t) => types::ResourceBody::Text(t),
            ResourceBody::Blob(b) => types::ResourceBody::Blob(b),
        }
    }
}

impl From<types::EmbeddedResource> for ResourceContents {
    fn from(r: types::EmbeddedResource) -> Self {
        ResourceContents {
            uri: r.uri,
            mime_type: r.mime_type,
            body: r.body.into(),
        }
    }
}

impl From<ResourceContents> for types::EmbeddedResource {
    fn from(r: ResourceContents) -> Self {
        types::EmbeddedResource {
            uri: r.uri,
            mime_type: r.mime_type,
            body: r.body.into(),
        }
    }
}

impl From<types::ResourceDescriptor> for ResourceDescriptor {
    fn from(r: types::ResourceDescriptor) -> Self {
        ResourceDescriptor {
            uri: r.uri,
            name: r.name,
            title: r.title,
            description: r.description,
            mime_type: r.mime_type,
            size: r.size,
        }
    }
}

impl From<ResourceDescriptor> for types::ResourceDescriptor {
    fn from(r: ResourceDescriptor) -> Self {
        types::ResourceDescriptor {
            uri: r.uri,
            name: r.name,
            title: r.title,
            description: r.description,
            mime_type: r.mime_type,
            size: r.size,
        }
    }
}

impl From<types::ResourceLink> for ResourceDescriptor {
    fn from(l: types::ResourceLink) -> Self {
        ResourceDescriptor {
            uri: l.uri,
            name: l.name,
            title: l.title,
            description: l.description,
            mime_type: l.mime_type,
            size: l.size,
        }
    }
}

impl From<ResourceDescriptor> for types::ResourceLink {
    fn from(r: ResourceDescriptor) -> Self {
        types::ResourceLink {
            uri: r.uri,
            name: r.name,
            title: r.title,
            description: r.description,
            mime_type: r.mime_type,
            size: r.size,
        }
    }
}

impl From<types::ResourceTemplate> for ResourceTemplate {
    fn from(t: types::ResourceTemplate) -> Self {
        ResourceTemplate {
            uri_template: t.uri_template,
            name: t.name,
            title: t.title,
            description: t.description,
            mime_type: t.mime_type,
        }
    }
}

impl From<ResourceTemplate> for types::ResourceTemplate {
    fn from(t: ResourceTemplate) -> Self {
        types::ResourceTemplate {
            uri_template: t.uri_template,
            name: t.name,
            title: t.title,
            description: t.description,
            mime_type: t.mime_type,
        }
    }
}

impl From<types::ContentBlock> for Content {
    fn from(block: types::ContentBlock) -> Self {
        match block {
            types::ContentBlock::Text(text) => Content::Text(text),
            types::ContentBlock::Image(b) => Content::Image {
                data: b.data,
                mime_type: b.mime_type,
            },
            types::ContentBlock::Audio(b) => Content::Audio {
                data: b.data,
                mime_type: b.mime_type,
            },
            types::ContentBlock::ResourceLink(l) => Content::ResourceLink(l.into()),
            types::ContentBlock::EmbeddedResource(r) => Content::Resource(r.into()),
        }
    }
}

impl From<Content> for types::ContentBlock {
    fn from(content: Content) -> Self {
        match content {
            Content::Text(text) => types::ContentBlock::Text(text),
            Content::Image { data, mime_type } => {
                types::ContentBlock::Image(types::BinaryContent { data, mime_type })
            }
            Content::Audio { data, mime_type } => {
                types::ContentBlock::Audio(types::BinaryContent { data, mime_type })
            }
            Content::ResourceLink(link) => types::ContentBlock::ResourceLink(link.into()),
            Content::Resource(r) => types::ContentBlock::EmbeddedResource(r.into()),
        }
    }
}

impl From<types::Role> for Role {
    fn from(role: types::Role) -> Self {
        match role {
            types::Role::User => Role::User,
            types::Role::Assistant => Role::Assistant,
        }
    }
}

impl From<Role> for types::Role {
    fn from(role: Role) -> Self {
        match role {
            Role::User => types::Role::User,
            Role::Assistant => types::Role::Assistant,
        }
    }
}

impl From<types::PromptArgument> for PromptArgument {
    fn from(a: types::PromptArgument) -> Self {
        PromptArgument {
            name: a.name,
            title: a.title,
            description: a.description,
            required: a.required,
        }
    }
}

impl From<PromptArgument> for types::PromptArgument {
    fn from(a: PromptArgument) -> Self {
        types::PromptArgument {
            name: a.name,
            title: a.title,
            description: a.description,
            required: a.required,
        }
    }
}

impl From<types::PromptDescriptor> for PromptDescriptor {
    fn from(p: types::PromptDescriptor) -> Self {
        PromptDescriptor {
            name: p.name,
            title: p.title,
            description: p.description,
            arguments: p.arguments.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<PromptDescriptor> for types::PromptDescriptor {
    fn from(p: PromptDescriptor) -> Self {
        types::PromptDescriptor {
            name: p.name,
            title: p.title,
            description: p.description,
            arguments: p.arguments.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<types::PromptResult> for PromptResult {
    fn from(r: types::PromptResult) -> Self {
        PromptResult {
            description: r.description,
            messages: r
                .messages
                .into_iter()
                .map(|m| PromptMessage {
                    role: m.role.into(),
                    content: m.content.into(),
                })
                .collect(),
        }
    }
}

impl From<PromptResult> for types::PromptResult {
    fn from(r: PromptResult) -> Self {
        types::PromptResult {
            description: r.description,
            messages: r
                .messages
                .into_iter()
                .map(|m| types::PromptMessage {
                    role: m.role.into(),
                    content: m.content.into(),
                })
                .collect(),
        }
    }
}

impl From<types::ToolDescriptor> for ToolDeclaration {
    fn from(d: types::ToolDescriptor) -> Self {
        ToolDeclaration {
            name: d.name,
            title: d.title,
            description: d.description,
            input_schema: d.input_schema,
            output_schema: d.output_schema,
            hints: d.annotations.map(|a| ToolHints {
                title: a.title,
                read_only: a.read_only_hint,
                destructive: a.destructive_hint,
                idempotent: a.idempotent_hint,
                open_world: a.open_world_hint,
            }),
            task_support: match d.task_support {
                types::TaskSupport::Forbidden => TaskSupport::Forbidden,
                types::TaskSupport::Optional => TaskSupport::Optional,
                types::TaskSupport::Required => TaskSupport::Required,
            },
        }
    }
}

impl From<completions::Completion> for Completion {
    fn from(c: completions::Completion) -> Self {
        Completion {
            values: c.values,
            total: c.total,
            has_more: c.has_more,
        }
    }
}

impl From<CompletionTarget> for completions::CompletionRef {
    fn from(target: CompletionTarget) -> Self {
        match target {
            CompletionTarget::Prompt(name) => completions::CompletionRef::Prompt(name),
            CompletionTarget::ResourceTemplate(uri) => {
                completions::CompletionRef::ResourceTemplate(uri)
            }
        }
    }
}

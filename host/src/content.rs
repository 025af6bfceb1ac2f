//! The host's one content model, neutral to both the WIT contract and the
//! MCP SDK: content blocks, resources and their contents, prompts and their
//! messages, completions. The runtime converts what a guest returns into
//! these once; the MCP adapter converts them to the wire once; the
//! `host-catalog` capability hands them back to guests. Content derives
//! serde (bytes as base64) so that a question for the client that carries
//! it can be recorded and fingerprinted.

use serde::{Deserialize, Serialize};

/// The body of a resource: text or raw bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceBody {
    Text(String),
    Blob(#[serde(with = "base64_bytes")] Vec<u8>),
}

impl ResourceBody {
    /// Its size in bytes.
    pub fn len(&self) -> usize {
        match self {
            ResourceBody::Text(t) => t.len(),
            ResourceBody::Blob(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The contents of one resource, as read (or embedded in a result).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceContents {
    pub uri: String,
    pub mime_type: Option<String>,
    pub body: ResourceBody,
}

impl ResourceContents {
    /// The bytes it carries: URI, MIME type and body.
    pub fn size(&self) -> usize {
        self.uri.len() + self.mime_type.as_ref().map_or(0, String::len) + self.body.len()
    }
}

/// A resource at a fixed URI, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceDescriptor {
    pub uri: String,
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub mime_type: Option<String>,
    pub size: Option<u64>,
}

impl ResourceDescriptor {
    /// The bytes it carries: every string in it.
    pub fn size(&self) -> usize {
        let optional = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        self.uri.len()
            + self.name.len()
            + optional(&self.title)
            + optional(&self.description)
            + optional(&self.mime_type)
    }
}

/// A family of resources named by a URI template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceTemplate {
    pub uri_template: String,
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub mime_type: Option<String>,
}

/// One block of a tool result or a prompt message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Content {
    Text(String),
    Image {
        #[serde(with = "base64_bytes")]
        data: Vec<u8>,
        mime_type: String,
    },
    Audio {
        #[serde(with = "base64_bytes")]
        data: Vec<u8>,
        mime_type: String,
    },
    /// A link to a resource the client may read.
    ResourceLink(ResourceDescriptor),
    /// A resource whose contents travel inside the block.
    Resource(ResourceContents),
}

impl Content {
    /// The bytes the block carries: every string and byte string in it, so
    /// that no field (a MIME type, a title) escapes the response cap.
    pub fn size(&self) -> usize {
        match self {
            Content::Text(t) => t.len(),
            Content::Image { data, mime_type } | Content::Audio { data, mime_type } => {
                data.len() + mime_type.len()
            }
            Content::ResourceLink(link) => link.size(),
            Content::Resource(r) => r.size(),
        }
    }
}

/// One argument a prompt accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptArgument {
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub required: bool,
}

/// One prompt, as declared and listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptDescriptor {
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub arguments: Vec<PromptArgument>,
}

/// Who speaks a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    User,
    Assistant,
}

/// One message of a rendered prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptMessage {
    pub role: Role,
    pub content: Content,
}

/// A rendered prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptResult {
    pub description: Option<String>,
    pub messages: Vec<PromptMessage>,
}

/// What a completion request refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompletionTarget {
    /// A prompt, by name.
    Prompt(String),
    /// A resource template, by its URI template.
    ResourceTemplate(String),
}

/// Suggested values for an argument being completed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Completion {
    pub values: Vec<String>,
    pub total: Option<u32>,
    pub has_more: bool,
}

/// Bytes as base64 text in serde.
pub(crate) mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&BASE64.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        BASE64.decode(text).map_err(serde::de::Error::custom)
    }
}

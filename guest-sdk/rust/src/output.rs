//! What a tool returns: content blocks and structured content.
//!
//! A handler returns any [`IntoToolOutput`] type: a `String`, `&str` or
//! `Cow<str>` (one text block), a [`Json`] value (structured content), or a
//! [`ToolOutput`] built block by block. Structured content must serialize to
//! a JSON object; when a result has structured content but no content
//! blocks, the SDK adds the serialized JSON as a text block, so clients that
//! ignore structured content still see the result.

use serde::Serialize;

use crate::bindings::mcp::plugin::types as wit;
use crate::error::ToolError;

/// A successful tool result: content blocks, in order, and optional
/// structured content.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolOutput {
    content: Vec<Content>,
    structured: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ToolOutput {
    /// An empty result; add blocks with the `with_*` methods.
    pub fn new() -> Self {
        Self::default()
    }

    /// A result holding one text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self::new().with_text(text)
    }

    /// A result whose structured content is `value`, which must serialize to
    /// a JSON object. Unless content blocks are added, the result also
    /// carries `value` as JSON text.
    pub fn structured<T: Serialize + ?Sized>(value: &T) -> Result<Self, ToolError> {
        match serde_json::to_value(value)? {
            serde_json::Value::Object(map) => Ok(Self {
                content: Vec::new(),
                structured: Some(map),
            }),
            other => Err(ToolError::new(format!(
                "structured content must be a JSON object, not {}",
                json_kind(&other)
            ))),
        }
    }

    /// Append a content block.
    pub fn with_content(mut self, content: Content) -> Self {
        self.content.push(content);
        self
    }

    /// Append a text block.
    pub fn with_text(self, text: impl Into<String>) -> Self {
        self.with_content(Content::text(text))
    }

    /// Append an image (raw bytes; the host encodes them).
    pub fn with_image(self, data: impl Into<Vec<u8>>, mime_type: impl Into<String>) -> Self {
        self.with_content(Content::image(data, mime_type))
    }

    /// Append an audio clip (raw bytes; the host encodes them).
    pub fn with_audio(self, data: impl Into<Vec<u8>>, mime_type: impl Into<String>) -> Self {
        self.with_content(Content::audio(data, mime_type))
    }

    /// Append a link to a resource the client may read.
    pub fn with_resource_link(self, link: ResourceLink) -> Self {
        self.with_content(Content::ResourceLink(link))
    }

    /// Append an embedded text resource.
    pub fn with_embedded_text(
        self,
        uri: impl Into<String>,
        mime_type: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        self.with_content(Content::embedded_text(uri, mime_type, text))
    }

    /// Append an embedded binary resource (raw bytes; the host encodes them).
    pub fn with_embedded_blob(
        self,
        uri: impl Into<String>,
        mime_type: impl Into<String>,
        data: impl Into<Vec<u8>>,
    ) -> Self {
        self.with_content(Content::embedded_blob(uri, mime_type, data))
    }

    /// The content blocks, in order.
    pub fn content(&self) -> &[Content] {
        &self.content
    }

    /// The structured content, if any.
    pub fn structured_content(&self) -> Option<&serde_json::Map<String, serde_json::Value>> {
        self.structured.as_ref()
    }

    pub(crate) fn into_wit(self) -> wit::CallResult {
        let structured = self
            .structured
            .map(|map| serde_json::Value::Object(map).to_string());
        let mut content: Vec<wit::ContentBlock> =
            self.content.into_iter().map(Content::into_wit).collect();
        if content.is_empty()
            && let Some(json) = &structured
        {
            content.push(wit::ContentBlock::Text(json.clone()));
        }
        wit::CallResult {
            content,
            structured_content: structured,
        }
    }
}

/// One block of a tool result (or of a [`ToolError`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Content {
    /// Plain text.
    Text(String),
    /// An image: raw bytes and their MIME type.
    Image {
        /// The encoded image (PNG, JPEG, ...).
        data: Vec<u8>,
        /// For example `image/png`.
        mime_type: String,
    },
    /// An audio clip: raw bytes and their MIME type.
    Audio {
        /// The encoded audio.
        data: Vec<u8>,
        /// For example `audio/wav`.
        mime_type: String,
    },
    /// A link to a resource the client may read.
    ResourceLink(ResourceLink),
    /// A resource whose contents travel inside the result.
    EmbeddedResource {
        /// The resource's URI.
        uri: String,
        /// Its MIME type, when known.
        mime_type: Option<String>,
        /// Its contents.
        body: ResourceBody,
    },
}

impl Content {
    /// A text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    /// An image block.
    pub fn image(data: impl Into<Vec<u8>>, mime_type: impl Into<String>) -> Self {
        Self::Image {
            data: data.into(),
            mime_type: mime_type.into(),
        }
    }

    /// An audio block.
    pub fn audio(data: impl Into<Vec<u8>>, mime_type: impl Into<String>) -> Self {
        Self::Audio {
            data: data.into(),
            mime_type: mime_type.into(),
        }
    }

    /// An embedded text resource.
    pub fn embedded_text(
        uri: impl Into<String>,
        mime_type: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        Self::EmbeddedResource {
            uri: uri.into(),
            mime_type: Some(mime_type.into()),
            body: ResourceBody::Text(text.into()),
        }
    }

    /// An embedded binary resource.
    pub fn embedded_blob(
        uri: impl Into<String>,
        mime_type: impl Into<String>,
        data: impl Into<Vec<u8>>,
    ) -> Self {
        Self::EmbeddedResource {
            uri: uri.into(),
            mime_type: Some(mime_type.into()),
            body: ResourceBody::Blob(data.into()),
        }
    }

    pub(crate) fn into_wit(self) -> wit::ContentBlock {
        match self {
            Self::Text(text) => wit::ContentBlock::Text(text),
            Self::Image { data, mime_type } => {
                wit::ContentBlock::Image(wit::BinaryContent { data, mime_type })
            }
            Self::Audio { data, mime_type } => {
                wit::ContentBlock::Audio(wit::BinaryContent { data, mime_type })
            }
            Self::ResourceLink(link) => wit::ContentBlock::ResourceLink(wit::ResourceLink {
                uri: link.uri,
                name: link.name,
                title: link.title,
                description: link.description,
                mime_type: link.mime_type,
                size: link.size,
            }),
            Self::EmbeddedResource {
                uri,
                mime_type,
                body,
            } => wit::ContentBlock::EmbeddedResource(wit::EmbeddedResource {
                uri,
                mime_type,
                body: body.into_wit(),
            }),
        }
    }

    pub(crate) fn from_wit(block: wit::ContentBlock) -> Self {
        match block {
            wit::ContentBlock::Text(text) => Self::Text(text),
            wit::ContentBlock::Image(image) => Self::Image {
                data: image.data,
                mime_type: image.mime_type,
            },
            wit::ContentBlock::Audio(audio) => Self::Audio {
                data: audio.data,
                mime_type: audio.mime_type,
            },
            wit::ContentBlock::ResourceLink(link) => Self::ResourceLink(ResourceLink {
                uri: link.uri,
                name: link.name,
                title: link.title,
                description: link.description,
                mime_type: link.mime_type,
                size: link.size,
            }),
            wit::ContentBlock::EmbeddedResource(resource) => Self::EmbeddedResource {
                uri: resource.uri,
                mime_type: resource.mime_type,
                body: ResourceBody::from_wit(resource.body),
            },
        }
    }
}

/// Who speaks a message of a prompt or of a sampling conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The user (or the application acting for them).
    User,
    /// The model.
    Assistant,
}

impl From<Role> for wit::Role {
    fn from(role: Role) -> Self {
        match role {
            Role::User => Self::User,
            Role::Assistant => Self::Assistant,
        }
    }
}

impl From<wit::Role> for Role {
    fn from(role: wit::Role) -> Self {
        match role {
            wit::Role::User => Self::User,
            wit::Role::Assistant => Self::Assistant,
        }
    }
}

/// The contents of an embedded resource.
#[derive(Debug, Clone, PartialEq)]
pub enum ResourceBody {
    /// Text contents.
    Text(String),
    /// Binary contents (raw bytes; the host encodes them).
    Blob(Vec<u8>),
}

impl ResourceBody {
    pub(crate) fn into_wit(self) -> wit::ResourceBody {
        match self {
            Self::Text(text) => wit::ResourceBody::Text(text),
            Self::Blob(data) => wit::ResourceBody::Blob(data),
        }
    }

    pub(crate) fn from_wit(body: wit::ResourceBody) -> Self {
        match body {
            wit::ResourceBody::Text(text) => Self::Text(text),
            wit::ResourceBody::Blob(data) => Self::Blob(data),
        }
    }
}

/// A link to a resource the client may read, built from its URI and name.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceLink {
    uri: String,
    name: String,
    title: Option<String>,
    description: Option<String>,
    mime_type: Option<String>,
    size: Option<u64>,
}

impl ResourceLink {
    /// A link to `uri`, called `name`.
    pub fn new(uri: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            name: name.into(),
            title: None,
            description: None,
            mime_type: None,
            size: None,
        }
    }

    /// A human-readable title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// The linked resource's URI.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The linked resource's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the resource holds.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The resource's MIME type.
    pub fn mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = Some(mime_type.into());
        self
    }

    /// The resource's size in bytes.
    pub fn size(mut self, size: u64) -> Self {
        self.size = Some(size);
        self
    }
}

/// Structured content: `Json(value)` returns `value` (which must serialize
/// to a JSON object) as the result's structured content, plus the same JSON
/// as a text block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Json<T>(pub T);

/// Types a tool handler may return.
pub trait IntoToolOutput {
    /// Convert into a tool result; fails when structured content cannot be
    /// serialized as a JSON object.
    fn into_tool_output(self) -> Result<ToolOutput, ToolError>;
}

impl IntoToolOutput for ToolOutput {
    fn into_tool_output(self) -> Result<ToolOutput, ToolError> {
        Ok(self)
    }
}

impl IntoToolOutput for String {
    fn into_tool_output(self) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput::text(self))
    }
}

impl IntoToolOutput for &str {
    fn into_tool_output(self) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput::text(self))
    }
}

impl IntoToolOutput for std::borrow::Cow<'_, str> {
    fn into_tool_output(self) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput::text(self))
    }
}

impl<T: Serialize> IntoToolOutput for Json<T> {
    fn into_tool_output(self) -> Result<ToolOutput, ToolError> {
        ToolOutput::structured(&self.0)
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn texts(result: &wit::CallResult) -> Vec<&str> {
        result
            .content
            .iter()
            .map(|block| match block {
                wit::ContentBlock::Text(text) => text.as_str(),
                _ => "<not text>",
            })
            .collect()
    }

    #[test]
    fn structured_without_blocks_gets_a_json_text_block() {
        let result = Json(json!({"sum": 5}))
            .into_tool_output()
            .unwrap()
            .into_wit();
        assert_eq!(result.structured_content.as_deref(), Some(r#"{"sum":5}"#));
        assert_eq!(texts(&result), [r#"{"sum":5}"#]);
    }

    #[test]
    fn structured_with_blocks_keeps_only_those_blocks() {
        let result = ToolOutput::structured(&json!({"sum": 5}))
            .unwrap()
            .with_text("2 + 3 = 5")
            .into_wit();
        assert_eq!(texts(&result), ["2 + 3 = 5"]);
        assert!(result.structured_content.is_some());
    }

    #[test]
    fn structured_content_must_be_an_object() {
        let error = ToolOutput::structured(&[1, 2]).unwrap_err();
        assert_eq!(
            error.message(),
            "structured content must be a JSON object, not an array"
        );
    }

    #[test]
    fn blocks_keep_their_order_and_kind() {
        let result = ToolOutput::text("a")
            .with_image(vec![1, 2], "image/png")
            .with_audio(vec![3], "audio/wav")
            .with_resource_link(ResourceLink::new("file:///a", "a").size(3))
            .with_embedded_text("mem://t", "text/plain", "t")
            .with_embedded_blob("mem://b", "application/octet-stream", vec![0])
            .into_wit();
        assert_eq!(result.content.len(), 6);
        assert!(result.structured_content.is_none());
        assert!(
            matches!(&result.content[1], wit::ContentBlock::Image(image) if image.mime_type == "image/png")
        );
        assert!(
            matches!(&result.content[3], wit::ContentBlock::ResourceLink(link) if link.size == Some(3))
        );
        assert!(matches!(
            &result.content[5],
            wit::ContentBlock::EmbeddedResource(wit::EmbeddedResource { body: wit::ResourceBody::Blob(data), .. }) if data == &[0]
        ));
    }
}

//! The protocol-neutral model of tools: what a plugin declares
//! ([`ToolDeclaration`], validated into a [`ToolSpec`]) and what a call
//! returns ([`ToolResult`]). The MCP adapter
//! maps these to the wire; nothing here knows the MCP SDK.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::content::Content;

/// Hints a client may use to present a tool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolHints {
    pub title: Option<String>,
    pub read_only: Option<bool>,
    pub destructive: Option<bool>,
    pub idempotent: Option<bool>,
    pub open_world: Option<bool>,
}

/// One tool as a plugin declares it, its schemas still JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolDeclaration {
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub input_schema: String,
    pub output_schema: Option<String>,
    pub hints: Option<ToolHints>,
}

/// One tool as its plugin declared it, with its input validator compiled.
#[derive(Clone)]
pub struct ToolSpec {
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub input_schema: Arc<Map<String, Value>>,
    pub output_schema: Option<Arc<Map<String, Value>>>,
    pub hints: Option<ToolHints>,
    pub(crate) validator: Arc<jsonschema::Validator>,
    pub(crate) output_validator: Option<Arc<jsonschema::Validator>>,
}

impl std::fmt::Debug for ToolSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolSpec")
            .field("name", &self.name)
            .field("title", &self.title)
            .finish_non_exhaustive()
    }
}

/// What a tool call produced: the plugin's result, or its error, or the
/// host's account of why the plugin could not finish (`is_error` set).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    pub content: Vec<Content>,
    pub structured: Option<Value>,
    pub is_error: bool,
}

impl ToolResult {
    /// An error result carrying one text block.
    pub fn error_text(message: impl Into<String>) -> Self {
        Self {
            content: vec![Content::Text(message.into())],
            structured: None,
            is_error: true,
        }
    }

    /// Roughly how many bytes the result's content blocks carry: text and
    /// binary data (the structured content is measured where its text is).
    pub fn content_bytes(&self) -> usize {
        self.content.iter().map(Content::size).sum()
    }

    /// The concatenated text blocks (handy for logs and tests).
    pub fn text(&self) -> String {
        self.content
            .iter()
            .filter_map(|c| match c {
                Content::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

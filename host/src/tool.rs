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

/// Whether a call of a tool may run as an MCP task (answered at once with a
/// task the client polls while the call runs on).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TaskSupport {
    /// Every call is answered when it finishes.
    #[default]
    Forbidden,
    /// A call runs as a task when the client supports tasks.
    Optional,
    /// Calls run only as tasks; a client without tasks is refused.
    Required,
}

impl TaskSupport {
    /// The name the manifest, the policy and the wire use.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskSupport::Forbidden => "forbidden",
            TaskSupport::Optional => "optional",
            TaskSupport::Required => "required",
        }
    }

    /// The value named `name`, if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "forbidden" => Some(TaskSupport::Forbidden),
            "optional" => Some(TaskSupport::Optional),
            "required" => Some(TaskSupport::Required),
            _ => None,
        }
    }
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
    pub task_support: TaskSupport,
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
    /// As the plugin declared it; the policy may override it per plugin.
    pub task_support: TaskSupport,
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

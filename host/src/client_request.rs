//! What a plugin may ask the client during a call, and the answers, in the
//! host's own terms: sampling the client's model, eliciting from the user,
//! listing the client's roots. The capability modules build these from
//! what a guest sent (after checking it) and hand the answers back; the
//! MCP adapter alone turns them into wire messages and parses what the
//! client says. Questions serialize, so a 2026-07-28 call can record them
//! and check that a replay asks the same thing.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::content::{Content, Role, base64_bytes};

/// A question for the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ClientRequest {
    /// `sampling/createMessage`.
    Sampling(SamplingRequest),
    /// `elicitation/create` in form mode: the user fills in an object
    /// matching `requested_schema` (an object schema, checked).
    ElicitForm {
        message: String,
        requested_schema: Map<String, Value>,
    },
    /// `elicitation/create` in URL mode: the user visits `url`.
    ElicitUrl {
        message: String,
        url: String,
        elicitation_id: String,
    },
    /// `roots/list`.
    Roots,
}

/// What kind of question, for capability checks, method names and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientRequestKind {
    /// `sampling/createMessage`
    Sampling,
    /// `elicitation/create`, form or URL mode
    Elicitation,
    /// `roots/list`
    Roots,
}

impl ClientRequestKind {
    /// The MCP method that carries it.
    pub fn method(self) -> &'static str {
        match self {
            ClientRequestKind::Sampling => "sampling/createMessage",
            ClientRequestKind::Elicitation => "elicitation/create",
            ClientRequestKind::Roots => "roots/list",
        }
    }
}

impl ClientRequest {
    pub fn kind(&self) -> ClientRequestKind {
        match self {
            ClientRequest::Sampling(_) => ClientRequestKind::Sampling,
            ClientRequest::ElicitForm { .. } | ClientRequest::ElicitUrl { .. } => {
                ClientRequestKind::Elicitation
            }
            ClientRequest::Roots => ClientRequestKind::Roots,
        }
    }

    /// A digest naming this exact question, to check that a replayed call
    /// asks the same thing at the same step.
    pub fn fingerprint(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        blake3::hash(text.as_bytes()).to_hex()[..32].to_string()
    }
}

/// A request for the client's model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingRequest {
    pub messages: Vec<SamplingMessage>,
    pub max_tokens: u32,
    pub system_prompt: Option<String>,
    pub temperature: Option<f64>,
    pub stop_sequences: Vec<String>,
    pub model_preferences: Option<ModelPreferences>,
    pub include_context: Option<IncludeContext>,
    /// Tools the model may use (the client must support sampling tools).
    pub tools: Vec<SamplingTool>,
    pub tool_choice: Option<ToolChoice>,
    /// A JSON object passed through to the client.
    pub metadata: Option<Map<String, Value>>,
}

impl SamplingRequest {
    /// Whether it needs the client's `sampling.tools` capability.
    pub fn uses_tools(&self) -> bool {
        !self.tools.is_empty() || self.tool_choice.is_some()
    }
}

/// One message of a sampling conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingMessage {
    pub role: Role,
    pub content: Vec<SamplingContent>,
}

/// One block of a sampling message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SamplingContent {
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
    /// The model asks to use a tool; `input` is a JSON object.
    ToolUse {
        id: String,
        name: String,
        input: Map<String, Value>,
    },
    /// What a tool the model used returned.
    ToolResult {
        tool_use_id: String,
        content: Vec<Content>,
        structured_content: Option<Value>,
        is_error: bool,
    },
}

/// How the client should pick a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelPreferences {
    pub hints: Vec<String>,
    pub cost_priority: Option<f64>,
    pub speed_priority: Option<f64>,
    pub intelligence_priority: Option<f64>,
}

/// Which servers' context the client may add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IncludeContext {
    None,
    ThisServer,
    AllServers,
}

/// A tool the model may use while sampling; its schema is a JSON object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingTool {
    pub name: String,
    pub description: Option<String>,
    pub input_schema: Map<String, Value>,
}

/// Whether and how the model must use the tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ToolChoice {
    Auto,
    Required,
    None,
}

/// The client's answer to a question.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientAnswer {
    Sampling(SamplingResponse),
    Elicitation(ElicitationAnswer),
    Roots(Vec<Root>),
}

/// What the client's model produced.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingResponse {
    pub role: Role,
    pub content: Vec<SamplingContent>,
    pub model: String,
    pub stop_reason: Option<String>,
}

/// What the user did with an elicitation.
#[derive(Debug, Clone, PartialEq)]
pub struct ElicitationAnswer {
    pub action: ElicitationAction,
    /// The form's content, when accepted (unchecked: the capability checks
    /// it against the schema it asked with).
    pub content: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElicitationAction {
    Accept,
    Decline,
    Cancel,
}

/// One of the client's roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    pub uri: String,
    pub name: Option<String>,
}

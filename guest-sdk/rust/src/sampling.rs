//! Asking the client's language model for a completion
//! (`sampling/createMessage`).
//!
//! Build a request with [`Sampling`] — the conversation, a system prompt,
//! limits and model preferences — and [`send`](Sampling::send) it; or call
//! [`Context::sample`] for a single prompt. The client chooses the model,
//! may show the request to its user, and may refuse.
//!
//! ```no_run
//! # use mcp_plugin::{Context, Sampling, ToolError};
//! fn haiku(ctx: &Context, topic: &str) -> Result<String, ToolError> {
//!     let answer = Sampling::new()
//!         .system("You write haiku and nothing else.")
//!         .user(format!("A haiku about {topic}"))
//!         .max_tokens(100)
//!         .temperature(0.8)
//!         .model_hint("claude")
//!         .send(ctx)?;
//!     Ok(answer.text())
//! }
//! ```

use crate::bindings::mcp::plugin::sampling as host;
use crate::context::Context;
use crate::error::FacadeError;
use crate::output::{Content, Role};

/// One block of a sampling message.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SamplingContent {
    /// Plain text.
    Text(String),
    /// An image: raw bytes and their MIME type.
    Image {
        /// The encoded image.
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
    /// The model asks to run a tool (assistant messages only).
    ToolUse {
        /// Identifies this use in the matching [`SamplingContent::ToolResult`].
        id: String,
        /// The tool's name.
        name: String,
        /// The tool's arguments, a JSON object.
        input: serde_json::Value,
    },
    /// The outcome of a tool the model asked for (user messages only).
    ToolResult {
        /// The `id` of the [`SamplingContent::ToolUse`] this answers.
        tool_use_id: String,
        /// The tool's result.
        content: Vec<Content>,
        /// The tool's structured result, if any.
        structured_content: Option<serde_json::Value>,
        /// Whether the tool failed.
        is_error: bool,
    },
}

impl SamplingContent {
    /// The text, if this is a text block.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(text) => Some(text),
            _ => None,
        }
    }

    fn into_wit(self) -> host::SamplingContent {
        match self {
            Self::Text(text) => host::SamplingContent::Text(text),
            Self::Image { data, mime_type } => {
                host::SamplingContent::Image(host::BinaryContent { data, mime_type })
            }
            Self::Audio { data, mime_type } => {
                host::SamplingContent::Audio(host::BinaryContent { data, mime_type })
            }
            Self::ToolUse { id, name, input } => host::SamplingContent::ToolUse(host::ToolUse {
                id,
                name,
                input: input.to_string(),
            }),
            Self::ToolResult {
                tool_use_id,
                content,
                structured_content,
                is_error,
            } => host::SamplingContent::ToolResult(host::ToolResult {
                tool_use_id,
                content: content.into_iter().map(Content::into_wit).collect(),
                structured_content: structured_content.map(|value| value.to_string()),
                is_error,
            }),
        }
    }

    fn from_wit(content: host::SamplingContent) -> Self {
        match content {
            host::SamplingContent::Text(text) => Self::Text(text),
            host::SamplingContent::Image(image) => Self::Image {
                data: image.data,
                mime_type: image.mime_type,
            },
            host::SamplingContent::Audio(audio) => Self::Audio {
                data: audio.data,
                mime_type: audio.mime_type,
            },
            host::SamplingContent::ToolUse(tool_use) => Self::ToolUse {
                id: tool_use.id,
                name: tool_use.name,
                input: parse_json(tool_use.input),
            },
            host::SamplingContent::ToolResult(result) => Self::ToolResult {
                tool_use_id: result.tool_use_id,
                content: result.content.into_iter().map(Content::from_wit).collect(),
                structured_content: result.structured_content.map(parse_json),
                is_error: result.is_error,
            },
        }
    }
}

/// JSON text from the host as a value; text that does not parse stays a
/// JSON string rather than being lost.
fn parse_json(text: String) -> serde_json::Value {
    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
}

/// One message of a sampling conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingMessage {
    /// Who speaks.
    pub role: Role,
    /// What they say, in order.
    pub content: Vec<SamplingContent>,
}

impl SamplingMessage {
    /// A message of several blocks.
    pub fn new(role: Role, content: Vec<SamplingContent>) -> Self {
        Self { role, content }
    }

    /// A user message holding one text block.
    pub fn user_text(text: impl Into<String>) -> Self {
        Self::new(Role::User, vec![SamplingContent::Text(text.into())])
    }

    /// An assistant message holding one text block.
    pub fn assistant_text(text: impl Into<String>) -> Self {
        Self::new(Role::Assistant, vec![SamplingContent::Text(text.into())])
    }
}

/// Which context from MCP servers the client should add to the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncludeContext {
    /// None.
    None,
    /// Context from this server only.
    ThisServer,
    /// Context from every server the client is connected to.
    AllServers,
}

/// Whether the model must, may or must not call the request's tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// The model must call a tool.
    Required,
    /// The model must not call a tool.
    None,
}

/// A sampling request, built step by step and sent with
/// [`send`](Self::send).
///
/// Messages are kept in the order they are added. `max_tokens` defaults to
/// [`Sampling::DEFAULT_MAX_TOKENS`]; everything else is left to the client unless set.
/// Model preferences (hints and priorities) are sent only when one is set.
#[derive(Debug, Clone)]
pub struct Sampling {
    messages: Vec<SamplingMessage>,
    system: Option<String>,
    max_tokens: u32,
    temperature: Option<f64>,
    stop_sequences: Vec<String>,
    hints: Vec<String>,
    cost_priority: Option<f64>,
    speed_priority: Option<f64>,
    intelligence_priority: Option<f64>,
    include_context: Option<IncludeContext>,
    tools: Vec<host::SamplingTool>,
    tool_choice: Option<ToolChoice>,
    metadata: Option<serde_json::Value>,
}

impl Default for Sampling {
    fn default() -> Self {
        Self::new()
    }
}

impl Sampling {
    /// The `max_tokens` of a request unless set.
    pub const DEFAULT_MAX_TOKENS: u32 = 1024;

    /// An empty request.
    pub fn new() -> Self {
        Self {
            messages: Vec::new(),
            system: None,
            max_tokens: Self::DEFAULT_MAX_TOKENS,
            temperature: None,
            stop_sequences: Vec::new(),
            hints: Vec::new(),
            cost_priority: None,
            speed_priority: None,
            intelligence_priority: None,
            include_context: None,
            tools: Vec::new(),
            tool_choice: None,
            metadata: None,
        }
    }

    /// The system prompt.
    pub fn system(mut self, prompt: impl Into<String>) -> Self {
        self.system = Some(prompt.into());
        self
    }

    /// Append a message.
    pub fn message(mut self, message: SamplingMessage) -> Self {
        self.messages.push(message);
        self
    }

    /// Append a user text message.
    pub fn user(self, text: impl Into<String>) -> Self {
        self.message(SamplingMessage::user_text(text))
    }

    /// Append an assistant text message (an earlier answer of the model).
    pub fn assistant(self, text: impl Into<String>) -> Self {
        self.message(SamplingMessage::assistant_text(text))
    }

    /// Append a user message holding an image (raw bytes).
    pub fn user_image(self, data: impl Into<Vec<u8>>, mime_type: impl Into<String>) -> Self {
        let image = SamplingContent::Image {
            data: data.into(),
            mime_type: mime_type.into(),
        };
        self.message(SamplingMessage::new(Role::User, vec![image]))
    }

    /// Append a user message holding an audio clip (raw bytes).
    pub fn user_audio(self, data: impl Into<Vec<u8>>, mime_type: impl Into<String>) -> Self {
        let audio = SamplingContent::Audio {
            data: data.into(),
            mime_type: mime_type.into(),
        };
        self.message(SamplingMessage::new(Role::User, vec![audio]))
    }

    /// The most tokens the model may produce.
    pub fn max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = max_tokens;
        self
    }

    /// The sampling temperature.
    pub fn temperature(mut self, temperature: f64) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// Add a sequence that ends generation.
    pub fn stop_sequence(mut self, sequence: impl Into<String>) -> Self {
        self.stop_sequences.push(sequence.into());
        self
    }

    /// Add a preferred model name or family (for example `claude`); the
    /// first added is the most preferred.
    pub fn model_hint(mut self, name: impl Into<String>) -> Self {
        self.hints.push(name.into());
        self
    }

    /// How much a cheap model matters, from 0.0 to 1.0.
    pub fn cost_priority(mut self, priority: f64) -> Self {
        self.cost_priority = Some(priority);
        self
    }

    /// How much a fast model matters, from 0.0 to 1.0.
    pub fn speed_priority(mut self, priority: f64) -> Self {
        self.speed_priority = Some(priority);
        self
    }

    /// How much a capable model matters, from 0.0 to 1.0.
    pub fn intelligence_priority(mut self, priority: f64) -> Self {
        self.intelligence_priority = Some(priority);
        self
    }

    /// Which MCP server context the client should add to the prompt.
    pub fn include_context(mut self, include: IncludeContext) -> Self {
        self.include_context = Some(include);
        self
    }

    /// Offer the model a tool; `input_schema` is a JSON Schema object for
    /// its arguments. Needs a client that supports tools in sampling.
    pub fn tool(
        mut self,
        name: impl Into<String>,
        description: impl Into<String>,
        input_schema: serde_json::Value,
    ) -> Self {
        self.tools.push(host::SamplingTool {
            name: name.into(),
            description: Some(description.into()),
            input_schema: input_schema.to_string(),
        });
        self
    }

    /// Whether the model must, may or must not call the offered tools.
    pub fn tool_choice(mut self, choice: ToolChoice) -> Self {
        self.tool_choice = Some(choice);
        self
    }

    /// Provider-specific metadata (a JSON object).
    pub fn metadata(mut self, metadata: serde_json::Value) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Send the request and wait for the model's answer.
    ///
    /// # Errors
    ///
    /// [`FacadeError::InvalidInput`] without messages; otherwise whatever
    /// the host reports: the client cannot sample, refused, timed out, ...
    pub fn send(self, ctx: &Context) -> Result<SampledMessage, FacadeError> {
        // Taking the context ties the call to a request; the host knows which.
        let _ = ctx;
        if self.messages.is_empty() {
            return Err(FacadeError::InvalidInput(
                "a sampling request needs at least one message".into(),
            ));
        }
        let response = host::create_message(&self.into_wit())?;
        Ok(SampledMessage {
            role: response.role.into(),
            content: response
                .content
                .into_iter()
                .map(SamplingContent::from_wit)
                .collect(),
            model: response.model,
            stop_reason: response.stop_reason,
        })
    }

    fn into_wit(self) -> host::SamplingRequest {
        let wants_preferences = !self.hints.is_empty()
            || self.cost_priority.is_some()
            || self.speed_priority.is_some()
            || self.intelligence_priority.is_some();
        host::SamplingRequest {
            messages: self
                .messages
                .into_iter()
                .map(|message| host::SamplingMessage {
                    role: message.role.into(),
                    content: message
                        .content
                        .into_iter()
                        .map(SamplingContent::into_wit)
                        .collect(),
                })
                .collect(),
            system_prompt: self.system,
            max_tokens: self.max_tokens,
            temperature: self.temperature,
            stop_sequences: self.stop_sequences,
            model_preferences: wants_preferences.then_some(host::ModelPreferences {
                hints: self.hints,
                cost_priority: self.cost_priority,
                speed_priority: self.speed_priority,
                intelligence_priority: self.intelligence_priority,
            }),
            include_context: self.include_context.map(|include| match include {
                IncludeContext::None => host::IncludeContext::None,
                IncludeContext::ThisServer => host::IncludeContext::ThisServer,
                IncludeContext::AllServers => host::IncludeContext::AllServers,
            }),
            tools: self.tools,
            tool_choice: self.tool_choice.map(|choice| match choice {
                ToolChoice::Auto => host::ToolChoice::Auto,
                ToolChoice::Required => host::ToolChoice::Required,
                ToolChoice::None => host::ToolChoice::None,
            }),
            metadata: self.metadata.map(|metadata| metadata.to_string()),
        }
    }
}

/// The model's answer to a sampling request.
#[derive(Debug, Clone, PartialEq)]
pub struct SampledMessage {
    /// Who speaks: the assistant.
    pub role: Role,
    /// The answer's blocks, in order.
    pub content: Vec<SamplingContent>,
    /// The model that produced the answer.
    pub model: String,
    /// Why generation stopped, for example `endTurn`, `stopSequence`,
    /// `maxTokens` or `toolUse`.
    pub stop_reason: Option<String>,
}

impl SampledMessage {
    /// The text blocks of the answer, joined by newlines.
    pub fn text(&self) -> String {
        self.content
            .iter()
            .filter_map(SamplingContent::as_text)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Context {
    /// Ask the client's model to answer `prompt` (one user message) in at
    /// most `max_tokens` tokens. For anything more, build a [`Sampling`].
    pub fn sample(
        &self,
        prompt: impl Into<String>,
        max_tokens: u32,
    ) -> Result<SampledMessage, FacadeError> {
        Sampling::new()
            .user(prompt)
            .max_tokens(max_tokens)
            .send(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_keep_messages_in_order_and_omit_unset_preferences() {
        let request = Sampling::new()
            .system("Be brief.")
            .user("Hi")
            .assistant("Hello")
            .user_image(vec![1, 2], "image/png")
            .into_wit();
        assert_eq!(request.messages.len(), 3);
        assert_eq!(request.system_prompt.as_deref(), Some("Be brief."));
        assert_eq!(request.max_tokens, Sampling::DEFAULT_MAX_TOKENS);
        assert!(request.model_preferences.is_none());
        assert!(matches!(request.messages[1].role, host::Role::Assistant));
        assert!(matches!(
            &request.messages[2].content[0],
            host::SamplingContent::Image(image) if image.mime_type == "image/png"
        ));
    }

    #[test]
    fn preferences_and_tools_are_carried() {
        let request = Sampling::new()
            .user("Weather?")
            .max_tokens(50)
            .temperature(0.2)
            .stop_sequence("END")
            .model_hint("claude")
            .intelligence_priority(0.9)
            .include_context(IncludeContext::ThisServer)
            .tool("weather", "Look up the weather", json!({"type": "object"}))
            .tool_choice(ToolChoice::Auto)
            .into_wit();
        let preferences = request.model_preferences.unwrap();
        assert_eq!(preferences.hints, ["claude"]);
        assert_eq!(preferences.intelligence_priority, Some(0.9));
        assert_eq!(preferences.cost_priority, None);
        assert_eq!(request.stop_sequences, ["END"]);
        assert_eq!(request.tools[0].input_schema, r#"{"type":"object"}"#);
        assert!(matches!(request.tool_choice, Some(host::ToolChoice::Auto)));
        assert!(matches!(
            request.include_context,
            Some(host::IncludeContext::ThisServer)
        ));
    }

    #[test]
    fn answers_join_their_text_blocks() {
        let answer = SampledMessage {
            role: Role::Assistant,
            content: vec![
                SamplingContent::Text("one".into()),
                SamplingContent::ToolUse {
                    id: "1".into(),
                    name: "t".into(),
                    input: json!({}),
                },
                SamplingContent::Text("two".into()),
            ],
            model: "m".into(),
            stop_reason: None,
        };
        assert_eq!(answer.text(), "one\ntwo");
    }

    #[test]
    fn tool_use_input_is_parsed_as_json() {
        let content = SamplingContent::from_wit(host::SamplingContent::ToolUse(host::ToolUse {
            id: "1".into(),
            name: "t".into(),
            input: r#"{"a":1}"#.into(),
        }));
        assert!(
            matches!(content, SamplingContent::ToolUse { input, .. } if input == json!({"a": 1}))
        );
    }
}

//! The `mcp:plugin/sampling` interface: ask the client's model for a
//! completion (`sampling/createMessage`), with tools where the client
//! supports them.

use serde_json::{Map, Value};
use wasmtime::component::{HasSelf, Linker};

use super::HostCapability;
use super::client_requests::{FacadeResult, unexpected_answer};
use crate::bindings::{sampling, types};
use crate::capability::{Capability, CapabilityKind};
use crate::client_request::{
    IncludeContext, ModelPreferences, SamplingContent, SamplingMessage, SamplingRequest,
    SamplingResponse, SamplingTool, ToolChoice,
};
use crate::content::Content;
use crate::context::{ClientAnswer, ClientRequest};
use crate::runtime::HostState;

/// Ask the client's model (`mcp:plugin/sampling`).
pub const SAMPLING: Capability = Capability::named("sampling");

/// The `sampling` capability.
pub struct Sampling;

impl CapabilityKind for Sampling {
    fn id(&self) -> Capability {
        SAMPLING
    }

    fn interfaces(&self) -> &'static [&'static str] {
        &["mcp:plugin/sampling"]
    }
}

impl HostCapability for Sampling {
    fn add_to_linker(&self, linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        sampling::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)
    }
}

/// Largest sampling request a guest may send, in bytes of JSON.
const MAX_REQUEST_BYTES: usize = 4 << 20;

impl sampling::Host for HostState {
    async fn create_message(
        &mut self,
        request: sampling::SamplingRequest,
    ) -> FacadeResult<sampling::SamplingResponse> {
        self.check_grant(SAMPLING)?;
        let request = ClientRequest::Sampling(checked_request(request)?);
        match self.ask_client(request).await? {
            ClientAnswer::Sampling(response) => Ok(guest_response(response)),
            other => Err(unexpected_answer("sampling", &other).into()),
        }
    }
}

fn invalid(message: impl Into<String>) -> types::FacadeError {
    types::FacadeError::InvalidInput(message.into())
}

/// A JSON object from the guest's text; the error names `what`.
fn json_object(what: &str, text: &str) -> Result<Map<String, Value>, types::FacadeError> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid(format!("{what} is not a JSON object"))),
        Err(e) => Err(invalid(format!("{what} is not valid JSON: {e}"))),
    }
}

/// The guest's request, checked: at least one message, each with content,
/// priorities and temperature in range, schemas and metadata JSON objects,
/// the whole within [`MAX_REQUEST_BYTES`].
fn checked_request(r: sampling::SamplingRequest) -> Result<SamplingRequest, types::FacadeError> {
    if r.messages.is_empty() {
        return Err(invalid("a sampling request needs at least one message"));
    }
    if r.max_tokens == 0 {
        return Err(invalid("max-tokens must be at least 1"));
    }
    let mut messages = Vec::with_capacity(r.messages.len());
    for m in r.messages {
        if m.content.is_empty() {
            return Err(invalid(
                "a sampling message needs at least one content block",
            ));
        }
        messages.push(SamplingMessage {
            role: m.role.into(),
            content: m
                .content
                .into_iter()
                .map(checked_content)
                .collect::<Result<_, _>>()?,
        });
    }
    if let Some(t) = r.temperature
        && !(0.0..=2.0).contains(&t)
    {
        return Err(invalid(format!("temperature {t} is outside 0.0 to 2.0")));
    }
    let model_preferences = match r.model_preferences {
        None => None,
        Some(p) => {
            for (key, value) in [
                ("costPriority", p.cost_priority),
                ("speedPriority", p.speed_priority),
                ("intelligencePriority", p.intelligence_priority),
            ] {
                if let Some(v) = value
                    && !(0.0..=1.0).contains(&v)
                {
                    return Err(invalid(format!("{key} {v} is outside 0.0 to 1.0")));
                }
            }
            Some(ModelPreferences {
                hints: p.hints,
                cost_priority: p.cost_priority,
                speed_priority: p.speed_priority,
                intelligence_priority: p.intelligence_priority,
            })
        }
    };
    let tools = r
        .tools
        .into_iter()
        .map(|t| {
            let input_schema = json_object(
                &format!("the input schema of tool `{}`", t.name),
                &t.input_schema,
            )?;
            Ok(SamplingTool {
                name: t.name,
                description: t.description,
                input_schema,
            })
        })
        .collect::<Result<Vec<_>, types::FacadeError>>()?;
    let metadata = match r.metadata {
        Some(m) => Some(json_object("the sampling metadata", &m)?),
        None => None,
    };
    let request = SamplingRequest {
        messages,
        max_tokens: r.max_tokens,
        system_prompt: r.system_prompt,
        temperature: r.temperature,
        stop_sequences: r.stop_sequences,
        model_preferences,
        include_context: r.include_context.map(|c| match c {
            sampling::IncludeContext::None => IncludeContext::None,
            sampling::IncludeContext::ThisServer => IncludeContext::ThisServer,
            sampling::IncludeContext::AllServers => IncludeContext::AllServers,
        }),
        tools,
        tool_choice: r.tool_choice.map(|c| match c {
            sampling::ToolChoice::Auto => ToolChoice::Auto,
            sampling::ToolChoice::Required => ToolChoice::Required,
            sampling::ToolChoice::None => ToolChoice::None,
        }),
        metadata,
    };
    let size = serde_json::to_string(&request).map_or(usize::MAX, |t| t.len());
    if size > MAX_REQUEST_BYTES {
        return Err(invalid(format!(
            "the sampling request is larger than {MAX_REQUEST_BYTES} bytes"
        )));
    }
    Ok(request)
}

fn checked_content(c: sampling::SamplingContent) -> Result<SamplingContent, types::FacadeError> {
    Ok(match c {
        sampling::SamplingContent::Text(text) => SamplingContent::Text(text),
        sampling::SamplingContent::Image(b) => SamplingContent::Image {
            data: b.data,
            mime_type: b.mime_type,
        },
        sampling::SamplingContent::Audio(b) => SamplingContent::Audio {
            data: b.data,
            mime_type: b.mime_type,
        },
        sampling::SamplingContent::ToolUse(u) => SamplingContent::ToolUse {
            input: json_object(&format!("the input of tool use `{}`", u.id), &u.input)?,
            id: u.id,
            name: u.name,
        },
        sampling::SamplingContent::ToolResult(r) => {
            SamplingContent::ToolResult {
                tool_use_id: r.tool_use_id,
                content: r.content.into_iter().map(Content::from).collect(),
                structured_content: match r.structured_content {
                    Some(s) => Some(serde_json::from_str(&s).map_err(|e| {
                        invalid(format!("structured content is not valid JSON: {e}"))
                    })?),
                    None => None,
                },
                is_error: r.is_error,
            }
        }
    })
}

/// The client's answer as the guest sees it.
fn guest_response(r: SamplingResponse) -> sampling::SamplingResponse {
    sampling::SamplingResponse {
        role: r.role.into(),
        content: r.content.into_iter().filter_map(guest_content).collect(),
        model: r.model,
        stop_reason: r.stop_reason,
    }
}

/// An answer block as the guest sees it (tool results never come back
/// from the model, so there are none to drop in practice).
fn guest_content(c: SamplingContent) -> Option<sampling::SamplingContent> {
    Some(match c {
        SamplingContent::Text(text) => sampling::SamplingContent::Text(text),
        SamplingContent::Image { data, mime_type } => {
            sampling::SamplingContent::Image(types::BinaryContent { data, mime_type })
        }
        SamplingContent::Audio { data, mime_type } => {
            sampling::SamplingContent::Audio(types::BinaryContent { data, mime_type })
        }
        SamplingContent::ToolUse { id, name, input } => {
            sampling::SamplingContent::ToolUse(sampling::ToolUse {
                id,
                name,
                input: Value::Object(input).to_string(),
            })
        }
        SamplingContent::ToolResult { .. } => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> sampling::SamplingRequest {
        sampling::SamplingRequest {
            messages: vec![sampling::SamplingMessage {
                role: types::Role::User,
                content: vec![sampling::SamplingContent::Text("hi".into())],
            }],
            system_prompt: Some("be brief".into()),
            max_tokens: 10,
            temperature: Some(0.5),
            stop_sequences: vec![],
            model_preferences: None,
            include_context: Some(sampling::IncludeContext::ThisServer),
            tools: vec![],
            tool_choice: None,
            metadata: None,
        }
    }

    #[test]
    fn requests_are_checked_and_kept_whole() {
        let r = checked_request(request()).unwrap();
        assert_eq!(r.max_tokens, 10);
        assert_eq!(r.include_context, Some(IncludeContext::ThisServer));
        assert!(matches!(&r.messages[0].content[..], [SamplingContent::Text(t)] if t == "hi"));
    }

    #[test]
    fn bad_requests_are_invalid_input() {
        let mut r = request();
        r.max_tokens = 0;
        assert!(matches!(
            checked_request(r),
            Err(types::FacadeError::InvalidInput(_))
        ));
        let mut r = request();
        r.temperature = Some(9.0);
        assert!(
            matches!(checked_request(r), Err(types::FacadeError::InvalidInput(m)) if m.contains("temperature"))
        );
        let mut r = request();
        r.metadata = Some("[1]".into());
        assert!(
            matches!(checked_request(r), Err(types::FacadeError::InvalidInput(m)) if m.contains("not a JSON object"))
        );
        let mut r = request();
        r.messages[0].content = vec![sampling::SamplingContent::ToolUse(sampling::ToolUse {
            id: "1".into(),
            name: "t".into(),
            input: "{".into(),
        })];
        assert!(
            matches!(checked_request(r), Err(types::FacadeError::InvalidInput(m)) if m.contains("tool use `1`"))
        );
    }
}

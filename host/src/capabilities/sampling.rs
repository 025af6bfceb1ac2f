//! The `mcp:plugin/sampling` interface: ask the client's model for a
//! completion (`sampling/createMessage`), with tools where the client
//! supports them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};
use wasmtime::component::{HasSelf, Linker};

use super::HostCapability;
use super::client_requests::{FacadeResult, bad_answer};
use crate::bindings::{sampling, types};
use crate::capability::{Capability, CapabilityKind};
use crate::context::{ClientRequest, ClientRequestKind};
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
        let params = request_params(request)?;
        let request = ClientRequest {
            kind: ClientRequestKind::Sampling,
            params,
        };
        let answer = self.ask_client(request).await?;
        Ok(parse_response(answer)?)
    }
}

fn invalid(message: impl Into<String>) -> types::FacadeError {
    types::FacadeError::InvalidInput(message.into())
}

fn json_text(what: &str, text: &str) -> Result<Value, types::FacadeError> {
    serde_json::from_str(text).map_err(|e| invalid(format!("{what} is not valid JSON: {e}")))
}

fn role_name(role: types::Role) -> &'static str {
    match role {
        types::Role::User => "user",
        types::Role::Assistant => "assistant",
    }
}

/// The wire `params` of `sampling/createMessage` for a guest's request.
fn request_params(r: sampling::SamplingRequest) -> Result<Value, types::FacadeError> {
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
        let mut blocks = m
            .content
            .into_iter()
            .map(content_json)
            .collect::<Result<Vec<_>, _>>()?;
        let content = if blocks.len() == 1 {
            blocks.pop().expect("one block")
        } else {
            Value::Array(blocks)
        };
        messages.push(json!({"role": role_name(m.role), "content": content}));
    }
    let mut params = Map::new();
    params.insert("messages".into(), Value::Array(messages));
    params.insert("maxTokens".into(), r.max_tokens.into());
    if let Some(s) = r.system_prompt {
        params.insert("systemPrompt".into(), s.into());
    }
    if let Some(t) = r.temperature {
        if !(0.0..=2.0).contains(&t) {
            return Err(invalid(format!("temperature {t} is outside 0.0 to 2.0")));
        }
        params.insert("temperature".into(), t.into());
    }
    if !r.stop_sequences.is_empty() {
        params.insert("stopSequences".into(), r.stop_sequences.into());
    }
    if let Some(p) = r.model_preferences {
        let mut prefs = Map::new();
        if !p.hints.is_empty() {
            let hints: Vec<Value> = p.hints.into_iter().map(|h| json!({"name": h})).collect();
            prefs.insert("hints".into(), hints.into());
        }
        for (key, value) in [
            ("costPriority", p.cost_priority),
            ("speedPriority", p.speed_priority),
            ("intelligencePriority", p.intelligence_priority),
        ] {
            if let Some(v) = value {
                if !(0.0..=1.0).contains(&v) {
                    return Err(invalid(format!("{key} {v} is outside 0.0 to 1.0")));
                }
                prefs.insert(key.into(), v.into());
            }
        }
        params.insert("modelPreferences".into(), Value::Object(prefs));
    }
    if let Some(c) = r.include_context {
        let c = match c {
            sampling::IncludeContext::None => "none",
            sampling::IncludeContext::ThisServer => "thisServer",
            sampling::IncludeContext::AllServers => "allServers",
        };
        params.insert("includeContext".into(), c.into());
    }
    if !r.tools.is_empty() {
        let tools = r
            .tools
            .into_iter()
            .map(|t| {
                let schema = json_text(
                    &format!("the input schema of tool `{}`", t.name),
                    &t.input_schema,
                )?;
                if !schema.is_object() {
                    return Err(invalid(format!(
                        "the input schema of tool `{}` is not an object",
                        t.name
                    )));
                }
                let mut tool = json!({"name": t.name, "inputSchema": schema});
                if let Some(d) = t.description {
                    tool["description"] = d.into();
                }
                Ok(tool)
            })
            .collect::<Result<Vec<_>, _>>()?;
        params.insert("tools".into(), tools.into());
    }
    if let Some(choice) = r.tool_choice {
        let mode = match choice {
            sampling::ToolChoice::Auto => "auto",
            sampling::ToolChoice::Required => "required",
            sampling::ToolChoice::None => "none",
        };
        params.insert("toolChoice".into(), json!({"mode": mode}));
    }
    if let Some(m) = r.metadata {
        let m = json_text("the sampling metadata", &m)?;
        if !m.is_object() {
            return Err(invalid("the sampling metadata must be a JSON object"));
        }
        params.insert("metadata".into(), m);
    }
    let params = Value::Object(params);
    if params.to_string().len() > MAX_REQUEST_BYTES {
        return Err(invalid(format!(
            "the sampling request is larger than {MAX_REQUEST_BYTES} bytes"
        )));
    }
    Ok(params)
}

fn content_json(c: sampling::SamplingContent) -> Result<Value, types::FacadeError> {
    Ok(match c {
        sampling::SamplingContent::Text(text) => json!({"type": "text", "text": text}),
        sampling::SamplingContent::Image(b) => {
            json!({"type": "image", "data": BASE64.encode(&b.data), "mimeType": b.mime_type})
        }
        sampling::SamplingContent::Audio(b) => {
            json!({"type": "audio", "data": BASE64.encode(&b.data), "mimeType": b.mime_type})
        }
        sampling::SamplingContent::ToolUse(u) => {
            let input = json_text(&format!("the input of tool use `{}`", u.id), &u.input)?;
            if !input.is_object() {
                return Err(invalid(format!(
                    "the input of tool use `{}` is not an object",
                    u.id
                )));
            }
            json!({"type": "tool_use", "id": u.id, "name": u.name, "input": input})
        }
        sampling::SamplingContent::ToolResult(r) => {
            let mut v = json!({
                "type": "tool_result",
                "toolUseId": r.tool_use_id,
                "content": r.content.into_iter().map(super::context::content_block_json).collect::<Vec<_>>(),
            });
            if let Some(s) = r.structured_content {
                v["structuredContent"] = json_text("structured content", &s)?;
            }
            if r.is_error {
                v["isError"] = true.into();
            }
            v
        }
    })
}

/// The guest's view of a `CreateMessageResult`.
fn parse_response(answer: Value) -> Result<sampling::SamplingResponse, types::FacadeError> {
    let role = match answer.get("role").and_then(Value::as_str) {
        Some("assistant") => types::Role::Assistant,
        Some("user") => types::Role::User,
        _ => return Err(bad_answer("sampling", "no valid `role`")),
    };
    let model = answer
        .get("model")
        .and_then(Value::as_str)
        .ok_or_else(|| bad_answer("sampling", "no `model`"))?
        .to_string();
    let blocks = match answer.get("content") {
        Some(Value::Array(items)) => items.clone(),
        Some(item @ Value::Object(_)) => vec![item.clone()],
        _ => return Err(bad_answer("sampling", "no `content`")),
    };
    let content = blocks
        .iter()
        .map(parse_content)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(sampling::SamplingResponse {
        role,
        content,
        model,
        stop_reason: answer
            .get("stopReason")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

fn parse_content(block: &Value) -> Result<sampling::SamplingContent, types::FacadeError> {
    let text_field = |key: &str| {
        block
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| bad_answer("sampling", format!("a content block has no `{key}`")))
    };
    let binary = || -> Result<types::BinaryContent, types::FacadeError> {
        let data = BASE64
            .decode(text_field("data")?)
            .map_err(|e| bad_answer("sampling", format!("content data is not base64: {e}")))?;
        Ok(types::BinaryContent {
            data,
            mime_type: text_field("mimeType")?,
        })
    };
    Ok(match block.get("type").and_then(Value::as_str) {
        Some("text") => sampling::SamplingContent::Text(text_field("text")?),
        Some("image") => sampling::SamplingContent::Image(binary()?),
        Some("audio") => sampling::SamplingContent::Audio(binary()?),
        Some("tool_use") => sampling::SamplingContent::ToolUse(sampling::ToolUse {
            id: text_field("id")?,
            name: text_field("name")?,
            input: block
                .get("input")
                .cloned()
                .unwrap_or_else(|| json!({}))
                .to_string(),
        }),
        other => {
            return Err(bad_answer(
                "sampling",
                format!("unsupported content type {}", other.unwrap_or("(none)")),
            ));
        }
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
            model_preferences: Some(sampling::ModelPreferences {
                hints: vec!["claude".into()],
                cost_priority: None,
                speed_priority: Some(0.5),
                intelligence_priority: None,
            }),
            include_context: Some(sampling::IncludeContext::ThisServer),
            tools: vec![],
            tool_choice: None,
            metadata: None,
        }
    }

    #[test]
    fn requests_take_the_wire_shape() {
        let p = request_params(request()).unwrap();
        assert_eq!(
            p["messages"][0],
            json!({"role":"user","content":{"type":"text","text":"hi"}})
        );
        assert_eq!(p["maxTokens"], 10);
        assert_eq!(p["systemPrompt"], "be brief");
        assert_eq!(
            p["modelPreferences"],
            json!({"hints":[{"name":"claude"}],"speedPriority":0.5})
        );
        assert_eq!(p["includeContext"], "thisServer");
    }

    #[test]
    fn bad_requests_are_invalid_input() {
        let mut r = request();
        r.max_tokens = 0;
        assert!(matches!(
            request_params(r),
            Err(types::FacadeError::InvalidInput(_))
        ));
        let mut r = request();
        r.temperature = Some(9.0);
        assert!(
            matches!(request_params(r), Err(types::FacadeError::InvalidInput(m)) if m.contains("temperature"))
        );
    }

    #[test]
    fn answers_are_parsed_in_both_content_shapes() {
        let single = parse_response(
            json!({"role":"assistant","model":"m","stopReason":"endTurn",
            "content":{"type":"text","text":"Paris."}}),
        )
        .unwrap();
        assert_eq!(single.model, "m");
        assert!(
            matches!(&single.content[..], [sampling::SamplingContent::Text(t)] if t == "Paris.")
        );
        let many = parse_response(json!({"role":"assistant","model":"m",
            "content":[{"type":"text","text":"a"},{"type":"tool_use","id":"1","name":"t","input":{"x":1}}]}))
        .unwrap();
        assert_eq!(many.content.len(), 2);
        assert!(parse_response(json!({"role":"assistant","content":[]})).is_err());
    }
}

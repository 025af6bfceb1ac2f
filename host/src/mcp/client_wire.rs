//! The wire form of the questions plugins ask the client (the `params` of
//! `sampling/createMessage`, `elicitation/create` and `roots/list`) and
//! the host's reading of the client's answers. Both protocol eras use it:
//! the handshake era sends the request to the peer, the 2026-07-28 era
//! puts it in `inputRequests` and reads the answer from `inputResponses`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};

use super::convert::content_block;
use crate::client_request::{
    ClientAnswer, ClientRequest, ClientRequestKind, ElicitationAction, ElicitationAnswer,
    IncludeContext, Root, SamplingContent, SamplingRequest, SamplingResponse, ToolChoice,
};
use crate::content::Role;
use crate::context::FacadeError;

/// The `params` of `request`'s method.
pub(super) fn params(request: &ClientRequest) -> Value {
    match request {
        ClientRequest::Sampling(r) => sampling_params(r),
        ClientRequest::ElicitForm {
            message,
            requested_schema,
        } => json!({"mode": "form", "message": message, "requestedSchema": requested_schema}),
        ClientRequest::ElicitUrl {
            message,
            url,
            elicitation_id,
        } => {
            json!({"mode": "url", "message": message, "url": url, "elicitationId": elicitation_id})
        }
        ClientRequest::Roots => json!({}),
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

fn sampling_params(r: &SamplingRequest) -> Value {
    let messages: Vec<Value> = r
        .messages
        .iter()
        .map(|m| {
            let mut blocks: Vec<Value> = m.content.iter().map(sampling_content).collect();
            let content = if blocks.len() == 1 {
                blocks.pop().expect("one block")
            } else {
                Value::Array(blocks)
            };
            json!({"role": role_name(m.role), "content": content})
        })
        .collect();
    let mut params = Map::new();
    params.insert("messages".into(), Value::Array(messages));
    params.insert("maxTokens".into(), r.max_tokens.into());
    if let Some(s) = &r.system_prompt {
        params.insert("systemPrompt".into(), s.clone().into());
    }
    if let Some(t) = r.temperature {
        params.insert("temperature".into(), t.into());
    }
    if !r.stop_sequences.is_empty() {
        params.insert("stopSequences".into(), r.stop_sequences.clone().into());
    }
    if let Some(p) = &r.model_preferences {
        let mut prefs = Map::new();
        if !p.hints.is_empty() {
            let hints: Vec<Value> = p.hints.iter().map(|h| json!({"name": h})).collect();
            prefs.insert("hints".into(), hints.into());
        }
        for (key, value) in [
            ("costPriority", p.cost_priority),
            ("speedPriority", p.speed_priority),
            ("intelligencePriority", p.intelligence_priority),
        ] {
            if let Some(v) = value {
                prefs.insert(key.into(), v.into());
            }
        }
        params.insert("modelPreferences".into(), Value::Object(prefs));
    }
    if let Some(c) = r.include_context {
        let c = match c {
            IncludeContext::None => "none",
            IncludeContext::ThisServer => "thisServer",
            IncludeContext::AllServers => "allServers",
        };
        params.insert("includeContext".into(), c.into());
    }
    if !r.tools.is_empty() {
        let tools: Vec<Value> = r
            .tools
            .iter()
            .map(|t| {
                let mut tool = json!({"name": t.name, "inputSchema": t.input_schema});
                if let Some(d) = &t.description {
                    tool["description"] = d.clone().into();
                }
                tool
            })
            .collect();
        params.insert("tools".into(), tools.into());
    }
    if let Some(choice) = r.tool_choice {
        let mode = match choice {
            ToolChoice::Auto => "auto",
            ToolChoice::Required => "required",
            ToolChoice::None => "none",
        };
        params.insert("toolChoice".into(), json!({"mode": mode}));
    }
    if let Some(m) = &r.metadata {
        params.insert("metadata".into(), Value::Object(m.clone()));
    }
    Value::Object(params)
}

fn sampling_content(c: &SamplingContent) -> Value {
    match c {
        SamplingContent::Text(text) => json!({"type": "text", "text": text}),
        SamplingContent::Image { data, mime_type } => {
            json!({"type": "image", "data": BASE64.encode(data), "mimeType": mime_type})
        }
        SamplingContent::Audio { data, mime_type } => {
            json!({"type": "audio", "data": BASE64.encode(data), "mimeType": mime_type})
        }
        SamplingContent::ToolUse { id, name, input } => {
            json!({"type": "tool_use", "id": id, "name": name, "input": input})
        }
        SamplingContent::ToolResult {
            tool_use_id,
            content,
            structured_content,
            is_error,
        } => {
            let blocks: Vec<Value> = content
                .iter()
                .map(|c| serde_json::to_value(content_block(c.clone())).unwrap_or(Value::Null))
                .collect();
            let mut v = json!({"type": "tool_result", "toolUseId": tool_use_id, "content": blocks});
            if let Some(s) = structured_content {
                v["structuredContent"] = s.clone();
            }
            if *is_error {
                v["isError"] = true.into();
            }
            v
        }
    }
}

/// A malformed answer from the client.
fn bad_answer(what: &str, problem: impl std::fmt::Display) -> FacadeError {
    FacadeError::Failed(format!(
        "the client's {what} answer is malformed: {problem}"
    ))
}

/// The client's answer (the JSON of the method's result) to a question of
/// `kind`.
pub(super) fn answer(kind: ClientRequestKind, answer: Value) -> Result<ClientAnswer, FacadeError> {
    match kind {
        ClientRequestKind::Sampling => sampling_response(answer).map(ClientAnswer::Sampling),
        ClientRequestKind::Elicitation => elicitation_answer(answer).map(ClientAnswer::Elicitation),
        ClientRequestKind::Roots => roots(answer).map(ClientAnswer::Roots),
    }
}

fn elicitation_answer(answer: Value) -> Result<ElicitationAnswer, FacadeError> {
    let action = match answer.get("action").and_then(Value::as_str) {
        Some("accept") => ElicitationAction::Accept,
        Some("decline") => ElicitationAction::Decline,
        Some("cancel") => ElicitationAction::Cancel,
        Some(other) => {
            return Err(bad_answer(
                "elicitation",
                format!("unknown action `{other}`"),
            ));
        }
        None => return Err(bad_answer("elicitation", "no `action`")),
    };
    let content = match answer.get("content") {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => Some(map.clone()),
        Some(_) => return Err(bad_answer("elicitation", "`content` is not an object")),
    };
    Ok(ElicitationAnswer { action, content })
}

fn roots(answer: Value) -> Result<Vec<Root>, FacadeError> {
    let list = answer
        .get("roots")
        .and_then(Value::as_array)
        .ok_or_else(|| bad_answer("roots", "no `roots` array"))?;
    list.iter()
        .map(|root| {
            let uri = root
                .get("uri")
                .and_then(Value::as_str)
                .ok_or_else(|| bad_answer("roots", "a root has no `uri`"))?;
            Ok(Root {
                uri: uri.to_string(),
                name: root.get("name").and_then(Value::as_str).map(str::to_owned),
            })
        })
        .collect()
}

fn sampling_response(answer: Value) -> Result<SamplingResponse, FacadeError> {
    let role = match answer.get("role").and_then(Value::as_str) {
        Some("assistant") => Role::Assistant,
        Some("user") => Role::User,
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
        .map(sampling_answer_content)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SamplingResponse {
        role,
        content,
        model,
        stop_reason: answer
            .get("stopReason")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

fn sampling_answer_content(block: &Value) -> Result<SamplingContent, FacadeError> {
    let text_field = |key: &str| {
        block
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| bad_answer("sampling", format!("a content block has no `{key}`")))
    };
    let binary = || -> Result<(Vec<u8>, String), FacadeError> {
        let data = BASE64
            .decode(text_field("data")?)
            .map_err(|e| bad_answer("sampling", format!("content data is not base64: {e}")))?;
        Ok((data, text_field("mimeType")?))
    };
    Ok(match block.get("type").and_then(Value::as_str) {
        Some("text") => SamplingContent::Text(text_field("text")?),
        Some("image") => {
            let (data, mime_type) = binary()?;
            SamplingContent::Image { data, mime_type }
        }
        Some("audio") => {
            let (data, mime_type) = binary()?;
            SamplingContent::Audio { data, mime_type }
        }
        Some("tool_use") => SamplingContent::ToolUse {
            id: text_field("id")?,
            name: text_field("name")?,
            input: match block.get("input") {
                Some(Value::Object(map)) => map.clone(),
                None | Some(Value::Null) => Map::new(),
                Some(_) => {
                    return Err(bad_answer(
                        "sampling",
                        "a tool use's `input` is not an object",
                    ));
                }
            },
        },
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
    use crate::client_request::{ModelPreferences, SamplingMessage};

    fn request() -> SamplingRequest {
        SamplingRequest {
            messages: vec![SamplingMessage {
                role: Role::User,
                content: vec![SamplingContent::Text("hi".into())],
            }],
            system_prompt: Some("be brief".into()),
            max_tokens: 10,
            temperature: Some(0.5),
            stop_sequences: vec![],
            model_preferences: Some(ModelPreferences {
                hints: vec!["claude".into()],
                cost_priority: None,
                speed_priority: Some(0.5),
                intelligence_priority: None,
            }),
            include_context: Some(IncludeContext::ThisServer),
            tools: vec![],
            tool_choice: None,
            metadata: None,
        }
    }

    #[test]
    fn sampling_requests_take_the_wire_shape() {
        let p = params(&ClientRequest::Sampling(request()));
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
    fn sampling_answers_are_read_in_both_content_shapes() {
        let single = sampling_response(
            json!({"role":"assistant","model":"m","stopReason":"endTurn",
            "content":{"type":"text","text":"Paris."}}),
        )
        .unwrap();
        assert_eq!(single.model, "m");
        assert!(matches!(&single.content[..], [SamplingContent::Text(t)] if t == "Paris."));
        let many = sampling_response(json!({"role":"assistant","model":"m",
            "content":[{"type":"text","text":"a"},{"type":"tool_use","id":"1","name":"t","input":{"x":1}}]}))
        .unwrap();
        assert_eq!(many.content.len(), 2);
        assert!(sampling_response(json!({"role":"assistant","content":[]})).is_err());
    }

    #[test]
    fn roots_and_elicitation_answers_are_read_or_named_malformed() {
        let roots =
            roots(json!({"roots":[{"uri":"file:///w","name":"w"},{"uri":"file:///x"}]})).unwrap();
        assert_eq!(roots.len(), 2);
        assert_eq!(roots[1].name, None);
        assert!(super::roots(json!({"roots":[{"name":"x"}]})).is_err());
        let accepted =
            elicitation_answer(json!({"action":"accept","content":{"name":"Ada"}})).unwrap();
        assert_eq!(accepted.action, ElicitationAction::Accept);
        assert!(elicitation_answer(json!({"action":"maybe"})).is_err());
        assert!(elicitation_answer(json!({"action":"accept","content":3})).is_err());
    }
}

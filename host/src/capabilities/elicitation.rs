//! The `mcp:plugin/elicitation` interface: ask the user for input through
//! the client (`elicitation/create`), as a form checked against a JSON
//! Schema or as a URL to visit.

use serde_json::{Map, Value};
use wasmtime::component::{HasSelf, Linker};

use super::HostCapability;
use super::client_requests::{FacadeResult, unexpected_answer};
use crate::bindings::FacadeFailure;
use crate::bindings::{elicitation, types};
use crate::capability::{Capability, CapabilityKind};
use crate::client_request::{ElicitationAction, ElicitationAnswer};
use crate::context::{ClientAnswer, ClientRequest};
use crate::runtime::HostState;

/// Ask the user (`mcp:plugin/elicitation`).
pub const ELICITATION: Capability = Capability::named("elicitation");

/// The `elicitation` capability.
pub struct Elicitation;

impl CapabilityKind for Elicitation {
    fn id(&self) -> Capability {
        ELICITATION
    }

    fn interfaces(&self) -> &'static [&'static str] {
        &["mcp:plugin/elicitation"]
    }
}

impl HostCapability for Elicitation {
    fn add_to_linker(&self, linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        elicitation::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)
    }
}

/// Largest message or schema a guest may send, in bytes.
const MAX_REQUEST_BYTES: usize = 64 * 1024;

impl elicitation::Host for HostState {
    async fn elicit_form(
        &mut self,
        message: String,
        requested_schema: String,
    ) -> FacadeResult<elicitation::FormOutcome> {
        self.check_grant(ELICITATION)?;
        let schema = form_schema(&message, &requested_schema)?;
        let request = ClientRequest::ElicitForm {
            message,
            requested_schema: schema.clone(),
        };
        match self.ask_client(request).await? {
            ClientAnswer::Elicitation(answer) => Ok(form_outcome(&schema, answer)?),
            other => Err(unexpected_answer("elicitation", &other).into()),
        }
    }

    async fn elicit_url(
        &mut self,
        message: String,
        url: String,
        elicitation_id: String,
    ) -> FacadeResult<elicitation::UrlOutcome> {
        self.check_grant(ELICITATION)?;
        if message.len() + url.len() + elicitation_id.len() > MAX_REQUEST_BYTES {
            return Err(FacadeFailure::Guest(types::FacadeError::InvalidInput(
                format!("the elicitation is larger than {MAX_REQUEST_BYTES} bytes"),
            )));
        }
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(FacadeFailure::Guest(types::FacadeError::InvalidInput(
                format!("`{url}` is not an http(s) URL"),
            )));
        }
        let request = ClientRequest::ElicitUrl {
            message,
            url,
            elicitation_id,
        };
        match self.ask_client(request).await? {
            ClientAnswer::Elicitation(answer) => Ok(match answer.action {
                ElicitationAction::Accept => elicitation::UrlOutcome::Accepted,
                ElicitationAction::Decline => elicitation::UrlOutcome::Declined,
                ElicitationAction::Cancel => elicitation::UrlOutcome::Cancelled,
            }),
            other => Err(unexpected_answer("elicitation", &other).into()),
        }
    }
}

/// Check a guest's form request: JSON, an object schema, within bounds.
fn form_schema(message: &str, schema: &str) -> Result<Map<String, Value>, types::FacadeError> {
    let invalid = |m: String| types::FacadeError::InvalidInput(m);
    if message.len() + schema.len() > MAX_REQUEST_BYTES {
        return Err(invalid(format!(
            "the elicitation is larger than {MAX_REQUEST_BYTES} bytes"
        )));
    }
    let value: Value = serde_json::from_str(schema)
        .map_err(|e| invalid(format!("the requested schema is not valid JSON: {e}")))?;
    if value.get("type").and_then(Value::as_str) != Some("object")
        || !value.get("properties").is_some_and(Value::is_object)
    {
        return Err(invalid(
            "the requested schema must be an object schema with `properties`".into(),
        ));
    }
    let Value::Object(schema) = value else {
        unreachable!("checked above: its type is object")
    };
    crate::schema::compile(&schema).map_err(|e| invalid(format!("the requested {e}")))?;
    Ok(schema)
}

/// The user's answer to a form, checked against the schema it was asked with.
fn form_outcome(
    schema: &Map<String, Value>,
    answer: ElicitationAnswer,
) -> Result<elicitation::FormOutcome, types::FacadeError> {
    match answer.action {
        ElicitationAction::Decline => Ok(elicitation::FormOutcome::Declined),
        ElicitationAction::Cancel => Ok(elicitation::FormOutcome::Cancelled),
        ElicitationAction::Accept => {
            let content = Value::Object(answer.content.unwrap_or_default());
            let validator = crate::schema::compile(schema)
                .map_err(|e| types::FacadeError::Failed(e.to_string()))?;
            crate::schema::check_arguments(&validator, &content).map_err(|problem| {
                types::FacadeError::Failed(format!(
                    "the client's answer does not match the requested schema: {problem}"
                ))
            })?;
            Ok(elicitation::FormOutcome::Accepted(content.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Map<String, Value> {
        form_schema(
            "m",
            r#"{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}"#,
        )
        .unwrap()
    }

    fn answer(action: ElicitationAction, content: Option<Value>) -> ElicitationAnswer {
        ElicitationAnswer {
            action,
            content: content.map(|c| c.as_object().unwrap().clone()),
        }
    }

    #[test]
    fn answers_are_checked_against_the_schema() {
        let ok = form_outcome(
            &schema(),
            answer(ElicitationAction::Accept, Some(json!({"name":"Ada"}))),
        )
        .unwrap();
        assert!(matches!(ok, elicitation::FormOutcome::Accepted(c) if c.contains("Ada")));
        let bad = form_outcome(
            &schema(),
            answer(ElicitationAction::Accept, Some(json!({"name":3}))),
        );
        assert!(matches!(bad, Err(types::FacadeError::Failed(m)) if m.contains("does not match")));
        let missing = form_outcome(&schema(), answer(ElicitationAction::Accept, None));
        assert!(matches!(missing, Err(types::FacadeError::Failed(_))));
        assert!(matches!(
            form_outcome(&schema(), answer(ElicitationAction::Decline, None)),
            Ok(elicitation::FormOutcome::Declined)
        ));
    }

    #[test]
    fn malformed_requests_are_invalid_input() {
        assert!(
            matches!(form_schema("m", "{"), Err(types::FacadeError::InvalidInput(m)) if m.contains("not valid JSON"))
        );
        assert!(matches!(
            form_schema("m", r#"{"type":"string"}"#),
            Err(types::FacadeError::InvalidInput(_))
        ));
    }
}

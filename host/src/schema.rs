//! JSON Schema handling for tool descriptors: checking that a plugin's
//! schemas are usable (at load), and validating call arguments against the
//! input schema (before the guest runs), with messages that name the field.

use serde_json::{Map, Value};

/// At most this many schema violations are listed in one message.
const MAX_LISTED_ERRORS: usize = 3;
/// Each violation's text is cut to this many characters.
const MAX_ERROR_CHARS: usize = 200;

/// Parse a schema carried as JSON text and require an object schema at the
/// top level (MCP requires `"type": "object"` for tool input and output).
pub fn parse_object_schema(text: &str) -> Result<Map<String, Value>, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("schema is not valid JSON: {e}"))?;
    let Value::Object(map) = value else {
        return Err("schema must be a JSON object".into());
    };
    match map.get("type") {
        Some(Value::String(t)) if t == "object" => Ok(map),
        Some(other) => Err(format!("schema type must be \"object\", found {other}")),
        None => Err("schema must declare \"type\": \"object\"".into()),
    }
}

/// Compile a validator for `schema`; an invalid schema is an error naming why.
pub fn compile(schema: &Map<String, Value>) -> Result<jsonschema::Validator, String> {
    jsonschema::validator_for(&Value::Object(schema.clone())).map_err(|e| {
        format!(
            "schema is not a valid JSON Schema: {}",
            shorten(&e.to_string())
        )
    })
}

/// Validate `arguments`; on failure, a message listing the violations with
/// the path of each offending field.
pub fn check_arguments(validator: &jsonschema::Validator, arguments: &Value) -> Result<(), String> {
    if validator.is_valid(arguments) {
        return Ok(());
    }
    let mut problems = Vec::new();
    let mut total = 0usize;
    for error in validator.iter_errors(arguments) {
        total += 1;
        if problems.len() < MAX_LISTED_ERRORS {
            let path = error.instance_path().to_string();
            let location = if path.is_empty() {
                "arguments".to_string()
            } else {
                format!("`{path}`")
            };
            problems.push(format!("{location}: {}", shorten(&error.to_string())));
        }
    }
    if total == 0 {
        return Ok(());
    }
    let mut message = problems.join("; ");
    if total > problems.len() {
        message.push_str(&format!(" (and {} more)", total - problems.len()));
    }
    Err(message)
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_ERROR_CHARS {
        return text.to_string();
    }
    let mut s: String = text.chars().take(MAX_ERROR_CHARS).collect();
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn add_schema() -> Map<String, Value> {
        parse_object_schema(
            r#"{"type":"object","properties":{"a":{"type":"number"},"b":{"type":"number"}},"required":["a","b"]}"#,
        )
        .unwrap()
    }

    #[test]
    fn accepts_valid_arguments() {
        let v = compile(&add_schema()).unwrap();
        check_arguments(&v, &json!({"a": 1, "b": 2.5})).unwrap();
    }

    #[test]
    fn names_the_wrong_field_and_the_missing_one() {
        let v = compile(&add_schema()).unwrap();
        let err = check_arguments(&v, &json!({"a": "x"})).unwrap_err();
        assert!(err.contains("`/a`"), "{err}");
        assert!(err.contains("not of type \"number\""), "{err}");
        assert!(err.contains("\"b\" is a required property"), "{err}");
    }

    #[test]
    fn rejects_non_object_schemas() {
        assert!(
            parse_object_schema("[1]")
                .unwrap_err()
                .contains("JSON object")
        );
        assert!(
            parse_object_schema(r#"{"type":"string"}"#)
                .unwrap_err()
                .contains("must be \"object\"")
        );
        assert!(
            parse_object_schema("{")
                .unwrap_err()
                .contains("not valid JSON")
        );
    }

    #[test]
    fn rejects_invalid_schemas() {
        let bad =
            parse_object_schema(r#"{"type":"object","properties":{"a":{"type":42}}}"#).unwrap();
        assert!(
            compile(&bad)
                .unwrap_err()
                .contains("not a valid JSON Schema")
        );
    }
}

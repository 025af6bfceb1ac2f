//! The run-time half of [`#[tool]`](crate::tool): how the value a tool
//! function returns becomes structured content, and the output schema it
//! declares.
//!
//! A value whose schema says it is always a JSON object is the structured
//! content itself. Any other value (a number, a string, a list, an
//! `Option`, an enum with unit variants) travels as `{"result": value}`,
//! with a text block holding the value (a string as it is, anything else as
//! JSON), and the output schema describes that wrapper.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde::Serialize;
use serde_json::Value;

use crate::error::ToolError;
use crate::output::ToolOutput;
use crate::tool::{Tool, output_schema_of};

// `{"result": value}`. (No doc comment: it would become the description
// of every wrapped output schema.)
#[derive(Serialize, JsonSchema)]
struct Wrapped<T> {
    result: T,
}

/// `tool` declaring the output schema of a function returning `T`.
pub fn with_return_schema<T: JsonSchema>(tool: Tool) -> Tool {
    tool.output_schema_fn(return_schema::<T>)
}

/// The result of a tool function that returned `value`.
pub fn structured_output<T: Serialize + JsonSchema>(value: T) -> Result<ToolOutput, ToolError> {
    if is_object::<T>() {
        return ToolOutput::structured(&value);
    }
    let value = serde_json::to_value(&value)?;
    let text = match &value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    Ok(ToolOutput::structured(&Wrapped { result: value })?.with_text(text))
}

fn return_schema<T: JsonSchema>() -> Result<Schema, &'static str> {
    if is_object::<T>() {
        output_schema_of::<T>()
    } else {
        output_schema_of::<Wrapped<T>>()
    }
}

/// Whether every value of `T` is a JSON object, by its schema.
fn is_object<T: JsonSchema>() -> bool {
    let schema = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>();
    describes_object(schema.as_value())
}

/// `"type": "object"`, or alternatives (`oneOf`, `anyOf`) that all are.
/// Anything else — a reference, a schema accepting every value — is not
/// known to be an object: wrapping it is always valid.
fn describes_object(schema: &Value) -> bool {
    match schema.get("type") {
        Some(kind) => kind == "object",
        None => ["oneOf", "anyOf"].iter().any(|key| {
            schema
                .get(key)
                .and_then(Value::as_array)
                .is_some_and(|options| !options.is_empty() && options.iter().all(describes_object))
        }),
    }
}

#[cfg(test)]
mod tests {
    use schemars::JsonSchema;
    use serde::Serialize;
    use serde_json::{Value, json};

    use crate::bindings::mcp::plugin::types as wit;
    use crate::{Context, Json, Registry, Tool, ToolError, ToolOutput, tool};

    /// Add two numbers.
    ///
    ///   Both may be negative.
    #[tool(read_only, idempotent)]
    fn add(_ctx: &Context, a: f64, b: f64) -> f64 {
        a + b
    }

    #[derive(Serialize, JsonSchema)]
    struct Greeting {
        /// The greeting.
        line: String,
        times: u8,
    }

    /// Greet someone.
    #[tool(
        name = "greet.person",
        title = "Greet",
        destructive,
        open_world = false
    )]
    fn greet(
        /// Who to greet.
        name: String,
        #[schemars(description = "How many times (1 by default).")]
        #[serde(default = "one")]
        times: u8,
        /// A title, such as `Dr`.
        title: Option<String>,
    ) -> Result<Greeting, ToolError> {
        if name.is_empty() {
            return Err(ToolError::new("name must not be empty"));
        }
        let name = title.map_or(name.clone(), |title| format!("{title} {name}"));
        Ok(Greeting {
            line: format!("Hello, {name}!"),
            times,
        })
    }

    fn one() -> u8 {
        1
    }

    /// Return the text unchanged.
    #[tool]
    fn echo(text: String) -> String {
        text
    }

    /// A fixed text.
    #[tool]
    fn fixed(_ctx: &Context) -> &str {
        "fixed"
    }

    /// Split words.
    #[tool]
    fn words(text: String) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[derive(Serialize, JsonSchema)]
    enum Color {
        Red,
    }

    /// A color, maybe.
    #[tool]
    fn color(pick: bool) -> Option<Color> {
        pick.then_some(Color::Red)
    }

    /// Parse a number.
    #[tool]
    fn parse(text: String) -> Result<i64, std::num::ParseIntError> {
        text.trim().parse()
    }

    /// Add and say so.
    #[tool(output = Sum)]
    fn add_text(a: f64, b: f64) -> Result<ToolOutput, ToolError> {
        let sum = a + b;
        Ok(ToolOutput::structured(&Sum { sum })?.with_text(format!("{a} + {b} = {sum}")))
    }

    #[derive(Serialize, JsonSchema)]
    struct Sum {
        sum: f64,
    }

    /// Wait, maybe as a task.
    #[tool(task = "optional", read_only)]
    fn wait(seconds: u32) -> String {
        format!("waited {seconds} s")
    }

    /// Wait, only as a task.
    #[tool(name = "wait.long", task = "required")]
    fn wait_long(_ctx: &Context) -> &str {
        "waited long"
    }

    /// Raw JSON.
    #[tool(description = "Described by the attribute")]
    fn raw() -> Json<Value> {
        Json(json!({"raw": true}))
    }

    fn registry() -> Registry {
        let mut registry = Registry::new();
        for tool in [
            add::tool(),
            greet::tool(),
            echo::tool(),
            fixed::tool(),
            words::tool(),
            color::tool(),
            parse::tool(),
            add_text::tool(),
            raw::tool(),
        ] {
            registry.tool(tool);
        }
        registry
    }

    fn descriptor(tool: Tool) -> (wit::ToolDescriptor, Value, Option<Value>) {
        let descriptor = tool.descriptor();
        let input = serde_json::from_str(&descriptor.input_schema).unwrap();
        let output = descriptor
            .output_schema
            .as_deref()
            .map(|schema| serde_json::from_str(schema).unwrap());
        (descriptor, input, output)
    }

    /// The structured content and the text blocks of calling `name`.
    fn call(name: &str, arguments: Value) -> (Option<Value>, Vec<String>) {
        let result = registry()
            .call(name, &arguments.to_string())
            .unwrap()
            .into_wit();
        let texts = result
            .content
            .into_iter()
            .map(|block| match block {
                wit::ContentBlock::Text(text) => text,
                _ => panic!("text blocks only"),
            })
            .collect();
        let structured = result
            .structured_content
            .map(|text| serde_json::from_str(&text).unwrap());
        (structured, texts)
    }

    #[test]
    fn the_doc_comment_and_the_attribute_describe_the_tool() {
        let (add, input, output) = descriptor(add::tool());
        assert_eq!(add.name, "add");
        assert_eq!(
            add.description.as_deref(),
            Some("Add two numbers.\n\n  Both may be negative.")
        );
        let hints = add.annotations.unwrap();
        assert_eq!(hints.read_only_hint, Some(true));
        assert_eq!(hints.idempotent_hint, Some(true));
        assert_eq!(hints.destructive_hint, None);
        assert_eq!(hints.open_world_hint, None);
        assert_eq!(input["type"], "object");
        assert_eq!(input["required"], json!(["a", "b"]));
        assert_eq!(input["properties"]["a"]["type"], "number");
        assert!(input.get("title").is_none());
        // A number is wrapped as {"result": ...}.
        let output = output.unwrap();
        assert_eq!(output["type"], "object");
        assert_eq!(output["properties"]["result"]["type"], "number");
        assert_eq!(output["required"], json!(["result"]));
        assert!(output.get("title").is_none() && output.get("description").is_none());

        let (greet, _, _) = descriptor(greet::tool());
        assert_eq!(greet.name, "greet.person");
        assert_eq!(greet.title.as_deref(), Some("Greet"));
        let hints = greet.annotations.unwrap();
        assert_eq!(hints.destructive_hint, Some(true));
        assert_eq!(hints.open_world_hint, Some(false));
        let (raw, _, output) = descriptor(raw::tool());
        assert_eq!(
            raw.description.as_deref(),
            Some("Described by the attribute")
        );
        assert!(output.is_none(), "Json keeps the builder's rule");
    }

    #[test]
    fn the_attribute_says_whether_a_call_may_run_as_a_task() {
        let (add, _, _) = descriptor(add::tool());
        assert_eq!(add.task_support, wit::TaskSupport::Forbidden);
        let (wait, input, _) = descriptor(wait::tool());
        assert_eq!(wait.task_support, wit::TaskSupport::Optional);
        assert_eq!(wait.annotations.unwrap().read_only_hint, Some(true));
        assert_eq!(input["required"], json!(["seconds"]));
        let (long, _, _) = descriptor(wait_long::tool());
        assert_eq!(long.name, "wait.long");
        assert_eq!(long.task_support, wit::TaskSupport::Required);
        assert!(long.annotations.is_none());
    }

    #[test]
    fn parameters_are_the_input_schema() {
        let (_, input, output) = descriptor(greet::tool());
        assert_eq!(input["required"], json!(["name"]));
        let properties = &input["properties"];
        assert_eq!(properties["name"]["description"], "Who to greet.");
        assert_eq!(
            properties["times"]["description"],
            "How many times (1 by default)."
        );
        assert_eq!(properties["times"]["default"], 1);
        assert_eq!(properties["title"]["description"], "A title, such as `Dr`.");
        // A struct is the output schema itself.
        let output = output.unwrap();
        assert_eq!(output["required"], json!(["line", "times"]));
        assert_eq!(output["properties"]["line"]["description"], "The greeting.");
        let (_, input, _) = descriptor(echo::tool());
        assert_eq!(input["required"], json!(["text"]));
        let (_, input, _) = descriptor(raw::tool());
        assert_eq!(input["type"], "object");
        assert_eq!(input["properties"], json!({}));
    }

    #[test]
    fn arguments_reach_the_function() {
        let (structured, texts) = call("greet.person", json!({"name": "Ada"}));
        let expected = json!({"line": "Hello, Ada!", "times": 1});
        assert_eq!(structured, Some(expected.clone()));
        assert_eq!(texts, [expected.to_string()]);
        let (structured, _) = call(
            "greet.person",
            json!({"name": "Ada", "times": 2, "title": "Dr"}),
        );
        assert_eq!(
            structured,
            Some(json!({"line": "Hello, Dr Ada!", "times": 2}))
        );
    }

    #[test]
    fn values_that_are_not_objects_are_wrapped() {
        let (structured, texts) = call("add", json!({"a": 2, "b": 3.5}));
        assert_eq!(structured, Some(json!({"result": 5.5})));
        assert_eq!(texts, ["5.5"]);
        let (structured, texts) = call("words", json!({"text": "a b"}));
        assert_eq!(structured, Some(json!({"result": ["a", "b"]})));
        assert_eq!(texts, [r#"["a","b"]"#]);
        let (structured, texts) = call("color", json!({"pick": true}));
        assert_eq!(structured, Some(json!({"result": "Red"})));
        assert_eq!(texts, ["Red"]);
        let (structured, texts) = call("color", json!({"pick": false}));
        assert_eq!(structured, Some(json!({"result": null})));
        assert_eq!(texts, ["null"]);
        let (_, _, output) = descriptor(color::tool());
        assert!(output.unwrap()["properties"]["result"].is_object());
    }

    #[test]
    fn text_returns_are_plain_text() {
        for (name, arguments, expected) in [
            ("echo", json!({"text": "hi"}), "hi"),
            ("fixed", json!({}), "fixed"),
        ] {
            let (structured, texts) = call(name, arguments);
            assert_eq!(structured, None, "{name}");
            assert_eq!(texts, [expected], "{name}");
        }
        for tool in [echo::tool(), fixed::tool()] {
            assert!(descriptor(tool).2.is_none());
        }
    }

    #[test]
    fn results_unwrap_and_errors_become_tool_errors() {
        let (structured, _) = call("parse", json!({"text": " 42 "}));
        assert_eq!(structured, Some(json!({"result": 42})));
        let error = registry().call("parse", r#"{"text": "x"}"#).unwrap_err();
        assert_eq!(error.message(), "invalid digit found in string");
        let error = registry()
            .call("greet.person", r#"{"name": ""}"#)
            .unwrap_err();
        assert_eq!(error.message(), "name must not be empty");
    }

    #[test]
    fn tool_output_keeps_the_builders_rules() {
        let (_, _, output) = descriptor(add_text::tool());
        assert_eq!(output.unwrap()["required"], json!(["sum"]));
        let (structured, texts) = call("add_text", json!({"a": 2, "b": 3}));
        assert_eq!(structured, Some(json!({"sum": 5.0})));
        assert_eq!(texts, ["2 + 3 = 5"]);
        let (structured, texts) = call("raw", json!({}));
        assert_eq!(structured, Some(json!({"raw": true})));
        assert_eq!(texts, [r#"{"raw":true}"#]);
    }

    #[test]
    fn the_function_stays_callable() {
        assert_eq!(add(&Context::new(), 1.0, 2.0), 3.0);
        assert_eq!(echo("x".into()), "x");
    }
}

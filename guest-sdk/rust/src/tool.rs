//! [`Tool`]: one tool, its description and its handler.
//!
//! A `Tool` couples what the host advertises (name, description, hints, the
//! JSON Schemas of arguments and structured output) with a handler. The
//! input schema comes from the handler's argument type through
//! [`schemars`] (or is given as JSON with [`Tool::input_schema_json`]); at
//! call time the SDK deserializes the host's JSON arguments into that type,
//! runs the handler and converts its output. [`TaskSupport`] says whether
//! a call may run as an MCP task.

use schemars::{JsonSchema, Schema, generate::SchemaSettings};
use serde::de::DeserializeOwned;

use crate::bindings::mcp::plugin::types as wit;
use crate::context::Context;
use crate::error::ToolError;
use crate::output::{IntoToolOutput, ToolOutput};

/// Whether a call of a tool may run as an MCP task: answered at once with a
/// task id the client polls while the call runs on. The handler is the same
/// either way: progress, logs, elicitation and cancellation all work inside
/// a task.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TaskSupport {
    /// Every call is an ordinary call, answered when it finishes (the
    /// default).
    #[default]
    Forbidden,
    /// The host runs a call as a task when the client supports MCP tasks,
    /// and as an ordinary call otherwise.
    Optional,
    /// Calls run only as tasks; a client without MCP tasks is refused.
    Required,
}

impl TaskSupport {
    fn to_wit(self) -> wit::TaskSupport {
        match self {
            Self::Forbidden => wit::TaskSupport::Forbidden,
            Self::Optional => wit::TaskSupport::Optional,
            Self::Required => wit::TaskSupport::Required,
        }
    }
}

type Handler = Box<dyn Fn(&Context, &str) -> Result<ToolOutput, ToolError>>;

/// Produces a schema on demand: each call runs in a fresh instance that
/// never lists its tools, so schemas are built only for `list-tools`.
pub(crate) type SchemaFn = fn() -> Result<Schema, &'static str>;

/// One tool: its description for the client and its handler.
///
/// ```
/// # use mcp_plugin::{Context, Tool};
/// # #[derive(serde::Deserialize, schemars::JsonSchema)]
/// # struct Args { text: String }
/// let tool = Tool::new("shout", "Upper-case the text")
///     .read_only()
///     .handler(|_ctx: &Context, args: Args| Ok(args.text.to_uppercase()));
/// ```
pub struct Tool {
    name: String,
    title: Option<String>,
    description: String,
    read_only: Option<bool>,
    destructive: Option<bool>,
    idempotent: Option<bool>,
    open_world: Option<bool>,
    task_support: TaskSupport,
    input_schema: Option<SchemaFn>,
    output_schema: Option<SchemaFn>,
    input_schema_json: Option<serde_json::Value>,
    output_schema_json: Option<serde_json::Value>,
    handler: Option<Handler>,
}

impl std::fmt::Debug for Tool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tool")
            .field("name", &self.name)
            .field("title", &self.title)
            .field("description", &self.description)
            .field("task_support", &self.task_support)
            .field("has_output_schema", &self.output_schema.is_some())
            .finish_non_exhaustive()
    }
}

impl Tool {
    /// A tool called `name` (letters, digits, `_`, `-` and `.`; unique within
    /// the plugin) that the model knows by `description`.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            title: None,
            description: description.into(),
            read_only: None,
            destructive: None,
            idempotent: None,
            open_world: None,
            task_support: TaskSupport::Forbidden,
            input_schema: None,
            output_schema: None,
            input_schema_json: None,
            output_schema_json: None,
            handler: None,
        }
    }

    /// A human-readable title for user interfaces.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Hint: the tool does not modify its environment.
    pub fn read_only(mut self) -> Self {
        self.read_only = Some(true);
        self
    }

    /// Hint: the tool may destroy or overwrite data.
    pub fn destructive(mut self) -> Self {
        self.destructive = Some(true);
        self
    }

    /// Hint: calling the tool again with the same arguments has no further
    /// effect.
    pub fn idempotent(mut self) -> Self {
        self.idempotent = Some(true);
        self
    }

    /// Hint: whether the tool reaches an open world of external entities
    /// (the web, say) rather than a closed domain.
    pub fn open_world(mut self, open_world: bool) -> Self {
        self.open_world = Some(open_world);
        self
    }

    /// Whether a call may run as an MCP task ([`TaskSupport::Forbidden`]
    /// unless set).
    pub fn task(mut self, support: TaskSupport) -> Self {
        self.task_support = support;
        self
    }

    /// Declare the structured output: every result then carries structured
    /// content matching `T`'s schema (return [`crate::Json`] or
    /// [`ToolOutput::structured`]). `T` must describe a JSON object.
    ///
    /// # Panics
    ///
    /// When the plugin lists its tools (at load), if `T` is not an object.
    pub fn output<T: JsonSchema>(mut self) -> Self {
        self.output_schema = Some(output_schema_of::<T>);
        self
    }

    /// Declare the structured output with a schema made on demand (for
    /// [`crate::tool`]'s return types).
    pub(crate) fn output_schema_fn(mut self, schema: SchemaFn) -> Self {
        self.output_schema = Some(schema);
        self
    }

    /// Advertise `schema`, exactly as given, as the tool's input schema
    /// instead of the one generated from the handler's argument type: for
    /// schemas [`schemars`] does not produce (`$defs` written by hand,
    /// `additionalProperties: false`, keywords of a particular draft). The
    /// host validates calls against it; the handler's argument type must
    /// still deserialize every valid call (`serde_json::Value` always
    /// does).
    ///
    /// # Panics
    ///
    /// When the plugin lists its tools (at load), if `schema` is not a JSON
    /// object with `"type": "object"`.
    pub fn input_schema_json(mut self, schema: serde_json::Value) -> Self {
        self.input_schema_json = Some(schema);
        self
    }

    /// Declare the structured output with `schema`, exactly as given,
    /// instead of [`Tool::output`]'s generated one.
    ///
    /// # Panics
    ///
    /// When the plugin lists its tools (at load), if `schema` is not a JSON
    /// object with `"type": "object"`.
    pub fn output_schema_json(mut self, schema: serde_json::Value) -> Self {
        self.output_schema_json = Some(schema);
        self
    }

    /// Set the handler. Its argument type `A` defines the tool's input
    /// schema and must describe a JSON object (a struct with named fields;
    /// a unit struct or `()` stands for "no arguments").
    ///
    /// # Panics
    ///
    /// When the plugin lists its tools (at load), if `A` is not an object.
    pub fn handler<A, O, F>(mut self, handler: F) -> Self
    where
        A: DeserializeOwned + JsonSchema,
        O: IntoToolOutput,
        F: Fn(&Context, A) -> Result<O, ToolError> + 'static,
    {
        self.input_schema = Some(input_schema_of::<A>);
        let name = self.name.clone();
        self.handler = Some(Box::new(move |context, arguments| {
            let parsed = serde_json::from_str::<A>(arguments).or_else(|error| {
                // A tool without arguments (unit struct, `()`) sees `{}` as null.
                if arguments.trim() == "{}" {
                    serde_json::from_str::<A>("null").map_err(|_| error)
                } else {
                    Err(error)
                }
            });
            let arguments = parsed.map_err(|error| {
                ToolError::new(format!("invalid arguments for tool {name}: {error}"))
            })?;
            handler(context, arguments)?.into_tool_output()
        }));
        self
    }

    fn schema_text(&self, schema: SchemaFn, what: &str) -> String {
        match schema() {
            Ok(schema) => schema.as_value().to_string(),
            Err(kind) => panic!(
                "tool `{}`: {what} type must be a JSON object, not {kind}",
                self.name
            ),
        }
    }

    fn json_schema_text(&self, schema: &serde_json::Value, what: &str) -> String {
        assert!(
            schema.get("type").is_some_and(|kind| kind == "object"),
            "tool `{}`: the {what} schema must be a JSON object with \"type\": \"object\"",
            self.name
        );
        schema.to_string()
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn has_handler(&self) -> bool {
        self.handler.is_some()
    }

    pub(crate) fn call(&self, arguments: &str) -> Result<ToolOutput, ToolError> {
        let handler = self
            .handler
            .as_ref()
            .expect("registered tools have handlers");
        handler(&Context::new(), arguments)
    }

    pub(crate) fn descriptor(&self) -> wit::ToolDescriptor {
        let hints = [
            self.read_only,
            self.destructive,
            self.idempotent,
            self.open_world,
        ];
        let annotations = (self.title.is_some() || hints.iter().any(Option::is_some)).then(|| {
            wit::ToolAnnotations {
                title: self.title.clone(),
                read_only_hint: self.read_only,
                destructive_hint: self.destructive,
                idempotent_hint: self.idempotent,
                open_world_hint: self.open_world,
            }
        });
        wit::ToolDescriptor {
            name: self.name.clone(),
            title: self.title.clone(),
            description: Some(self.description.clone()),
            input_schema: match (&self.input_schema_json, self.input_schema) {
                (Some(schema), _) => self.json_schema_text(schema, "input"),
                (None, Some(schema)) => self.schema_text(schema, "argument"),
                (None, None) => String::new(),
            },
            output_schema: match (&self.output_schema_json, self.output_schema) {
                (Some(schema), _) => Some(self.json_schema_text(schema, "output")),
                (None, Some(schema)) => Some(self.schema_text(schema, "output")),
                (None, None) => None,
            },
            annotations,
            task_support: self.task_support.to_wit(),
        }
    }
}

fn input_schema_of<A: JsonSchema>() -> Result<Schema, &'static str> {
    match object_schema::<A>(SchemaSettings::draft2020_12().for_deserialize()) {
        Err("null") => Ok(empty_object_schema()),
        other => other,
    }
}

pub(crate) fn output_schema_of<T: JsonSchema>() -> Result<Schema, &'static str> {
    object_schema::<T>(SchemaSettings::draft2020_12().for_serialize())
}

/// The root schema of `T`, if it describes a JSON object; otherwise the JSON
/// type it describes.
fn object_schema<T: JsonSchema>(settings: SchemaSettings) -> Result<Schema, &'static str> {
    let mut schema = settings.into_generator().into_root_schema_for::<T>();
    let kind = match schema.get("type") {
        None => "object",
        Some(serde_json::Value::String(kind)) => match kind.as_str() {
            "object" => "object",
            "null" => "null",
            "array" => "an array",
            "string" => "a string",
            "number" | "integer" => "a number",
            "boolean" => "a boolean",
            _ => "an unknown type",
        },
        Some(_) => "several types",
    };
    if kind != "object" {
        return Err(kind);
    }
    // Enums of objects (`oneOf`, `anyOf`) have no top-level type; MCP wants
    // one. The Rust type name in `title` means nothing to a client.
    schema.insert("type".into(), "object".into());
    schema.remove("title");
    Ok(schema)
}

fn empty_object_schema() -> Schema {
    schemars::json_schema!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Json;
    use crate::registry::Registry;
    use serde::{Deserialize, Serialize};
    use serde_json::{Value, json};

    #[derive(Deserialize, JsonSchema)]
    struct AddArgs {
        /// First term.
        a: f64,
        b: f64,
    }

    #[derive(Serialize, JsonSchema)]
    struct AddResult {
        sum: f64,
    }

    #[derive(Deserialize, JsonSchema)]
    struct Unit;

    #[derive(Deserialize, JsonSchema)]
    struct Empty {}

    fn add(_: &Context, args: AddArgs) -> Result<Json<AddResult>, ToolError> {
        Ok(Json(AddResult {
            sum: args.a + args.b,
        }))
    }

    fn input_schema(tool: Tool) -> Value {
        serde_json::from_str(&tool.descriptor().input_schema).unwrap()
    }

    #[test]
    fn struct_arguments_give_an_object_schema() {
        let schema = input_schema(Tool::new("add", "Add").handler(add));
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["required"], json!(["a", "b"]));
        assert_eq!(schema["properties"]["a"]["description"], "First term.");
        assert!(schema.get("title").is_none());
    }

    #[test]
    fn arguments_without_fields_give_an_object_schema() {
        let unit = Tool::new("u", "Unit").handler(|_: &Context, _: Unit| Ok("unit"));
        let empty = Tool::new("e", "Empty").handler(|_: &Context, _: Empty| Ok("empty"));
        let nothing = Tool::new("n", "Nothing").handler(|_: &Context, (): ()| Ok("nothing"));
        for tool in [unit, empty, nothing] {
            assert_eq!(input_schema(tool)["type"], "object");
        }
    }

    #[test]
    fn unit_arguments_accept_an_empty_object() {
        let mut registry = Registry::new();
        registry.tool(Tool::new("u", "Unit").handler(|_: &Context, _: Unit| Ok("unit")));
        registry.tool(Tool::new("n", "Nothing").handler(|_: &Context, (): ()| Ok("nothing")));
        assert_eq!(registry.call("u", "{}").unwrap(), ToolOutput::text("unit"));
        assert_eq!(
            registry.call("n", "{}").unwrap(),
            ToolOutput::text("nothing")
        );
    }

    #[test]
    #[should_panic(expected = "tool `s`: argument type must be a JSON object, not a string")]
    fn non_object_arguments_are_refused_at_listing() {
        let _ = Tool::new("s", "String")
            .handler(|_: &Context, s: String| Ok(s))
            .descriptor();
    }

    #[test]
    fn descriptor_carries_hints_and_output_schema() {
        let descriptor = Tool::new("add", "Add two numbers")
            .title("Add")
            .read_only()
            .idempotent()
            .open_world(false)
            .output::<AddResult>()
            .handler(add)
            .descriptor();
        assert_eq!(descriptor.title.as_deref(), Some("Add"));
        assert_eq!(descriptor.description.as_deref(), Some("Add two numbers"));
        let annotations = descriptor.annotations.unwrap();
        assert_eq!(annotations.read_only_hint, Some(true));
        assert_eq!(annotations.destructive_hint, None);
        assert_eq!(annotations.idempotent_hint, Some(true));
        assert_eq!(annotations.open_world_hint, Some(false));
        let output: Value = serde_json::from_str(&descriptor.output_schema.unwrap()).unwrap();
        assert_eq!(output["type"], "object");
        assert_eq!(output["required"], json!(["sum"]));
    }

    #[test]
    fn raw_schemas_are_advertised_unchanged() {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "$defs": {"address": {"type": "object"}},
            "properties": {"address": {"$ref": "#/$defs/address"}},
            "additionalProperties": false,
        });
        let descriptor = Tool::new("raw", "Raw schema")
            .input_schema_json(schema.clone())
            .handler(|_: &Context, _: Value| Ok("ok"))
            .descriptor();
        let advertised: Value = serde_json::from_str(&descriptor.input_schema).unwrap();
        assert_eq!(advertised, schema);
    }

    #[test]
    #[should_panic(expected = "tool `raw`: the input schema must be a JSON object")]
    fn raw_schemas_must_be_objects() {
        let _ = Tool::new("raw", "Raw schema")
            .input_schema_json(json!({"type": "string"}))
            .handler(|_: &Context, _: Value| Ok("ok"))
            .descriptor();
    }

    #[test]
    fn descriptor_without_hints_has_no_annotations() {
        let descriptor = Tool::new("add", "Add").handler(add).descriptor();
        assert!(descriptor.annotations.is_none());
        assert!(descriptor.output_schema.is_none());
    }

    #[test]
    fn calls_run_as_tasks_only_when_the_tool_says_so() {
        let support = |tool: Tool| tool.handler(add).descriptor().task_support;
        assert_eq!(
            support(Tool::new("add", "Add")),
            wit::TaskSupport::Forbidden
        );
        assert_eq!(TaskSupport::default(), TaskSupport::Forbidden);
        for (declared, advertised) in [
            (TaskSupport::Forbidden, wit::TaskSupport::Forbidden),
            (TaskSupport::Optional, wit::TaskSupport::Optional),
            (TaskSupport::Required, wit::TaskSupport::Required),
        ] {
            assert_eq!(support(Tool::new("add", "Add").task(declared)), advertised);
        }
        // Task support is no hint: it adds no annotations.
        let descriptor = Tool::new("add", "Add")
            .task(TaskSupport::Required)
            .handler(add)
            .descriptor();
        assert!(descriptor.annotations.is_none());
    }

    #[test]
    fn calls_dispatch_by_name() {
        let mut registry = Registry::new();
        registry.tool(Tool::new("add", "Add").handler(add));
        let output = registry.call("add", r#"{"a": 2, "b": 3}"#).unwrap();
        assert_eq!(output.structured_content(), json!({"sum": 5.0}).as_object());
        let error = registry.call("nope", "{}").unwrap_err();
        assert_eq!(error.message(), "unknown tool nope");
    }

    #[test]
    fn bad_arguments_name_the_problem() {
        let mut registry = Registry::new();
        registry.tool(Tool::new("add", "Add").handler(add));
        let error = registry.call("add", r#"{"a": 2}"#).unwrap_err();
        assert!(
            error
                .message()
                .starts_with("invalid arguments for tool add: missing field `b`"),
            "{}",
            error.message()
        );
    }

    #[test]
    #[should_panic(expected = "tool `add` is registered twice")]
    fn duplicate_names_are_refused() {
        let mut registry = Registry::new();
        registry.tool(Tool::new("add", "Add").handler(add));
        registry.tool(Tool::new("add", "Add").handler(add));
    }

    #[test]
    #[should_panic(expected = "must be 1 to 128 ASCII letters")]
    fn invalid_names_are_refused() {
        Registry::new().tool(Tool::new("a b", "Spaced").handler(add));
    }

    #[test]
    #[should_panic(expected = "tool `bare` has no handler")]
    fn tools_need_a_handler() {
        Registry::new().tool(Tool::new("bare", "No handler"));
    }
}

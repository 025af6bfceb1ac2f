//! [`Tool`] descriptions and the [`Registry`] that holds them.
//!
//! A `Tool` couples what the host advertises (name, description, hints, the
//! JSON Schemas of arguments and structured output) with a handler. The
//! input schema comes from the handler's argument type through
//! [`schemars`]; at call time the SDK deserializes the host's JSON arguments
//! into that type, runs the handler and converts its output.

use schemars::{JsonSchema, Schema, generate::SchemaSettings};
use serde::de::DeserializeOwned;

use crate::bindings::mcp::plugin::types as wit;
use crate::context::Context;
use crate::error::ToolError;
use crate::output::{IntoToolOutput, ToolOutput};

type Handler = Box<dyn Fn(&Context, &str) -> Result<ToolOutput, ToolError>>;

/// Produces a schema on demand: each call runs in a fresh instance that
/// never lists its tools, so schemas are built only for `list-tools`.
type SchemaFn = fn() -> Result<Schema, &'static str>;

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
    input_schema: Option<SchemaFn>,
    output_schema: Option<SchemaFn>,
    handler: Option<Handler>,
}

impl std::fmt::Debug for Tool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tool")
            .field("name", &self.name)
            .field("title", &self.title)
            .field("description", &self.description)
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
            input_schema: None,
            output_schema: None,
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

    fn descriptor(&self) -> wit::ToolDescriptor {
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
            input_schema: self
                .input_schema
                .map(|schema| self.schema_text(schema, "argument"))
                .unwrap_or_default(),
            output_schema: self
                .output_schema
                .map(|schema| self.schema_text(schema, "output")),
            annotations,
        }
    }
}

/// The plugin's tools, filled once per plugin instance by the function given
/// to [`crate::plugin!`].
#[derive(Debug, Default)]
pub struct Registry {
    tools: Vec<Tool>,
}

impl Registry {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Add a tool.
    ///
    /// # Panics
    ///
    /// When the name is empty, longer than 128 bytes, contains characters
    /// other than ASCII letters, digits, `_`, `-` and `.`, or is already
    /// taken, and when the tool has no handler. These are mistakes in the
    /// plugin, reported when it loads.
    pub fn tool(&mut self, tool: Tool) -> &mut Self {
        let name = &tool.name;
        let valid_name = !name.is_empty()
            && name.len() <= 128
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        assert!(
            valid_name,
            "tool name `{name}` must be 1 to 128 ASCII letters, digits, `_`, `-` or `.`"
        );
        assert!(
            self.find(name).is_none(),
            "tool `{name}` is registered twice"
        );
        assert!(tool.handler.is_some(), "tool `{name}` has no handler");
        self.tools.push(tool);
        self
    }

    fn find(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|tool| tool.name == name)
    }

    pub(crate) fn descriptors(&self) -> Vec<wit::ToolDescriptor> {
        self.tools.iter().map(Tool::descriptor).collect()
    }

    pub(crate) fn call(&self, name: &str, arguments: &str) -> Result<ToolOutput, ToolError> {
        let tool = self
            .find(name)
            .ok_or_else(|| ToolError::new(format!("unknown tool {name}")))?;
        let handler = tool
            .handler
            .as_ref()
            .expect("registered tools have handlers");
        handler(&Context::new(), arguments)
    }
}

fn input_schema_of<A: JsonSchema>() -> Result<Schema, &'static str> {
    match object_schema::<A>(SchemaSettings::draft2020_12().for_deserialize()) {
        Err("null") => Ok(empty_object_schema()),
        other => other,
    }
}

fn output_schema_of<T: JsonSchema>() -> Result<Schema, &'static str> {
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
    fn descriptor_without_hints_has_no_annotations() {
        let descriptor = Tool::new("add", "Add").handler(add).descriptor();
        assert!(descriptor.annotations.is_none());
        assert!(descriptor.output_schema.is_none());
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

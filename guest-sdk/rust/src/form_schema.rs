//! The requested schema of a typed elicitation form: a Rust type's JSON
//! Schema, reduced to the flat shape MCP elicitation accepts.
//!
//! MCP clients render forms from a restricted schema: a top-level object
//! whose properties are primitives — string (optionally with an MCP
//! `format`: `email`, `uri`, `date`, `date-time`), number, integer, boolean,
//! single-select enums (`enum`, or `oneOf` of `const`/`title` pairs) and
//! multi-select arrays of string enums. [`form_schema_of`] generates the
//! schema with [`schemars`] (subschemas inlined), then:
//!
//! - keeps only `type`, `properties` and `required` at the top level (no
//!   `$schema`, `title`, `$defs`);
//! - turns `Option<T>` (`["string", "null"]`, `anyOf` with `null`) into `T`;
//! - turns unit enums whose variants carry doc comments (`oneOf` of
//!   `const`s) into titled single-selects, the doc comment as title;
//! - keeps the keywords MCP defines for each kind (`title`, `description`,
//!   `default`, `minimum`, `maximum`, `minLength`, `maxLength`, `minItems`,
//!   `maxItems`, ...) and drops the rest, such as the Rust-specific numeric
//!   `format`s (`uint32`, `double`) schemars adds;
//! - refuses anything else (nested objects, arrays of non-enums, references)
//!   with a panic naming the type and the property: that is a mistake in
//!   the plugin, not in the user's answer.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

/// The flat elicitation schema of `T`.
///
/// # Panics
///
/// If `T` is not a struct whose fields are all flat primitives (see the
/// module documentation); the message names `T` and the field.
pub(crate) fn form_schema_of<T: JsonSchema>() -> Value {
    let mut settings = SchemaSettings::draft2020_12().for_deserialize();
    settings.inline_subschemas = true;
    let schema = settings.into_generator().into_root_schema_for::<T>();
    match flatten(schema.to_value()) {
        Ok(schema) => schema,
        Err(problem) => panic!("elicitation form type `{}` {problem}", type_name::<T>()),
    }
}

/// `T`'s name without its module path (`Profile`, not `my_plugin::Profile`).
pub(crate) fn type_name<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    if full.contains('<') {
        full
    } else {
        full.rsplit("::").next().unwrap_or(full)
    }
}

/// Reduce a generated root schema to the flat form; the error completes the
/// sentence "elicitation form type `T` ...".
pub(crate) fn flatten(root: Value) -> Result<Value, String> {
    let Value::Object(root) = root else {
        return Err("is not a struct with named fields".into());
    };
    let is_object = match root.get("type") {
        Some(kind) => kind == "object",
        None => root.contains_key("properties"),
    };
    if !is_object
        || ["oneOf", "anyOf", "allOf"]
            .iter()
            .any(|k| root.contains_key(*k))
    {
        return Err("is not a struct with named fields".into());
    }
    let mut properties = Map::new();
    if let Some(Value::Object(fields)) = root.get("properties") {
        for (name, schema) in fields {
            let flat = property(schema.clone())
                .map_err(|problem| format!("cannot be a form: field `{name}` {problem}"))?;
            properties.insert(name.clone(), flat);
        }
    }
    let mut flat = json!({"type": "object", "properties": properties});
    if let Some(Value::Array(required)) = root.get("required")
        && !required.is_empty()
    {
        flat["required"] = Value::Array(required.clone());
    }
    Ok(flat)
}

/// Keywords every primitive keeps.
const COMMON: &[&str] = &["type", "title", "description", "default"];
/// The string formats MCP elicitation defines.
const STRING_FORMATS: &[&str] = &["email", "uri", "date", "date-time"];

/// One property, made flat; the error completes "field `x` ...".
fn property(schema: Value) -> Result<Value, String> {
    let Value::Object(mut schema) = schema else {
        return Err("has a schema that is not an object".into());
    };
    if schema.contains_key("$ref") {
        return Err("refers to a separate definition ($ref); use a flat primitive type".into());
    }
    unwrap_nullable(&mut schema)?;
    const_choices_to_titled_enum(&mut schema);
    let kind = schema
        .get("type")
        .and_then(Value::as_str)
        .ok_or("has no single primitive type")?
        .to_owned();
    let extra: &[&str] = match kind.as_str() {
        "string" => &[
            "enum",
            "enumNames",
            "oneOf",
            "minLength",
            "maxLength",
            "format",
        ],
        "number" | "integer" => &["minimum", "maximum"],
        "boolean" => &[],
        "array" => {
            let items = schema
                .remove("items")
                .ok_or("is an array without `items`")?;
            schema.insert("items".into(), multi_select_items(items)?);
            &["items", "minItems", "maxItems"]
        }
        "object" => {
            return Err(
                "is an object; MCP elicitation forms accept only flat primitive fields".into(),
            );
        }
        other => return Err(format!("has the type `{other}`, which forms cannot show")),
    };
    schema.retain(|key, _| COMMON.contains(&key.as_str()) || extra.contains(&key.as_str()));
    if let Some(format) = schema.get("format")
        && !format.as_str().is_some_and(|f| STRING_FORMATS.contains(&f))
    {
        schema.remove("format");
    }
    Ok(Value::Object(schema))
}

/// `Option<T>`: drop the `null` alternative, wherever schemars put it.
fn unwrap_nullable(schema: &mut Map<String, Value>) -> Result<(), String> {
    for key in ["anyOf", "oneOf"] {
        let Some(Value::Array(options)) = schema.get(key) else {
            continue;
        };
        let is_null = |option: &Value| option.get("type").is_some_and(|t| t == "null");
        if options.len() == 2 && options.iter().any(is_null) {
            let inner = options.iter().find(|o| !is_null(o)).cloned();
            schema.remove(key);
            match inner {
                Some(Value::Object(inner)) => {
                    if inner.contains_key("$ref") {
                        return Err(
                            "refers to a separate definition ($ref); use a flat primitive type"
                                .into(),
                        );
                    }
                    for (k, v) in inner {
                        schema.entry(k).or_insert(v);
                    }
                }
                _ => return Err("has an optional value of no single type".into()),
            }
        }
    }
    if let Some(Value::Array(kinds)) = schema.get_mut("type") {
        kinds.retain(|kind| kind != "null");
        match kinds.as_slice() {
            [single] => {
                let single = single.clone();
                schema.insert("type".into(), single);
            }
            _ => return Err("has several types".into()),
        }
    }
    if let Some(Value::Array(values)) = schema.get_mut("enum") {
        values.retain(|value| !value.is_null());
    }
    if schema.get("default").is_some_and(Value::is_null) {
        schema.remove("default");
    }
    Ok(())
}

/// A unit enum whose variants have doc comments comes out as `oneOf` of
/// `{"const": ..., "description": ...}`: make it a string single-select,
/// titled by the doc comments (or a plain `enum` if none has one).
fn const_choices_to_titled_enum(schema: &mut Map<String, Value>) {
    for key in ["oneOf", "anyOf"] {
        let Some(Value::Array(options)) = schema.get(key) else {
            continue;
        };
        let Some(choices) = const_choices(options) else {
            continue;
        };
        schema.remove(key);
        schema.insert("type".into(), "string".into());
        if choices.iter().any(|(_, title)| title.is_some()) {
            let one_of = choices
                .into_iter()
                .map(|(value, title)| {
                    let title = title.unwrap_or_else(|| value.clone());
                    json!({"const": value, "title": title})
                })
                .collect();
            schema.insert("oneOf".into(), Value::Array(one_of));
        } else {
            let values = choices.into_iter().map(|(value, _)| value.into()).collect();
            schema.insert("enum".into(), Value::Array(values));
        }
        return;
    }
}

/// `(value, title)` of each option, if every option is a string constant.
fn const_choices(options: &[Value]) -> Option<Vec<(String, Option<String>)>> {
    options
        .iter()
        .map(|option| {
            let value = option
                .get("const")
                .or_else(|| match option.get("enum") {
                    Some(Value::Array(values)) if values.len() == 1 => values.first(),
                    _ => None,
                })?
                .as_str()?;
            let title = ["title", "description"]
                .iter()
                .find_map(|key| option.get(*key).and_then(Value::as_str));
            Some((value.to_owned(), title.map(str::to_owned)))
        })
        .collect()
}

/// The `items` of a multi-select: string choices, untitled (`enum`) or
/// titled (`anyOf` of `const`/`title`).
fn multi_select_items(items: Value) -> Result<Value, String> {
    const NOT_CHOICES: &str = "is an array of something other than string choices; \
                               forms accept only multi-selects of enum values";
    let Value::Object(mut items) = items else {
        return Err(NOT_CHOICES.into());
    };
    if items.contains_key("$ref") {
        return Err("refers to a separate definition ($ref); use a flat primitive type".into());
    }
    const_choices_to_titled_enum(&mut items);
    if let Some(one_of) = items.remove("oneOf") {
        return Ok(json!({"anyOf": one_of}));
    }
    match (items.get("type"), items.get("enum")) {
        (Some(kind), Some(Value::Array(values)))
            if kind == "string" && values.iter().all(Value::is_string) =>
        {
            Ok(json!({"type": "string", "enum": values}))
        }
        _ => match items.get("anyOf") {
            Some(Value::Array(options)) if const_choices(options).is_some() => {
                Ok(json!({"anyOf": options}))
            }
            _ => Err(NOT_CHOICES.into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Profile {
        /// Your full name.
        name: String,
        /// Where we can reach you.
        #[schemars(email)]
        email: String,
        role: Option<String>,
        age: Option<u32>,
        #[serde(default = "default_score")]
        score: f64,
        subscribed: bool,
    }

    fn default_score() -> f64 {
        95.5
    }

    #[derive(Deserialize, JsonSchema)]
    #[serde(rename_all = "lowercase")]
    #[allow(dead_code)]
    enum Status {
        Active,
        Inactive,
    }

    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)]
    enum Size {
        /// Small (8 oz)
        Small,
        /// Large (16 oz)
        Large,
    }

    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Order {
        status: Status,
        size: Option<Size>,
        #[serde(default)]
        toppings: Vec<Status>,
        extras: Vec<Size>,
    }

    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Address {
        street: String,
    }

    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Nested {
        address: Address,
    }

    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct ListOfText {
        lines: Vec<String>,
    }

    #[test]
    fn structs_become_flat_object_schemas() {
        let schema = form_schema_of::<Profile>();
        assert_eq!(
            schema,
            json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "Your full name."},
                    "email": {
                        "type": "string",
                        "description": "Where we can reach you.",
                        "format": "email",
                    },
                    "role": {"type": "string"},
                    "age": {"type": "integer", "minimum": 0},
                    "score": {"type": "number", "default": 95.5},
                    "subscribed": {"type": "boolean"},
                },
                "required": ["name", "email", "subscribed"],
            })
        );
    }

    #[test]
    fn enums_become_single_and_multi_selects() {
        let schema = form_schema_of::<Order>();
        let properties = &schema["properties"];
        assert_eq!(
            properties["status"],
            json!({"type": "string", "enum": ["active", "inactive"]})
        );
        assert_eq!(
            properties["size"],
            json!({"type": "string", "oneOf": [
                {"const": "Small", "title": "Small (8 oz)"},
                {"const": "Large", "title": "Large (16 oz)"},
            ]})
        );
        assert_eq!(
            properties["toppings"],
            json!({"type": "array", "items": {"type": "string", "enum": ["active", "inactive"]}})
        );
        assert_eq!(
            properties["extras"],
            json!({"type": "array", "items": {"anyOf": [
                {"const": "Small", "title": "Small (8 oz)"},
                {"const": "Large", "title": "Large (16 oz)"},
            ]}})
        );
        assert_eq!(schema["required"], json!(["status", "extras"]));
    }

    #[test]
    fn no_top_level_extras_survive() {
        let schema = form_schema_of::<Profile>();
        let keys: Vec<_> = schema.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["properties", "required", "type"]);
        assert!(!schema.to_string().contains("$ref"));
        assert!(!schema.to_string().contains("uint32"));
    }

    #[test]
    #[should_panic(expected = "`Nested` cannot be a form: field `address` is an object")]
    fn nested_objects_are_refused() {
        form_schema_of::<Nested>();
    }

    #[test]
    #[should_panic(expected = "field `lines` is an array of something other than string choices")]
    fn arrays_of_text_are_refused() {
        form_schema_of::<ListOfText>();
    }

    #[test]
    #[should_panic(expected = "is not a struct with named fields")]
    fn non_structs_are_refused() {
        form_schema_of::<Status>();
    }

    #[test]
    fn references_are_refused() {
        let root = json!({
            "type": "object",
            "properties": {"a": {"$ref": "#/$defs/A"}},
            "$defs": {"A": {"type": "string"}},
        });
        assert!(
            flatten(root)
                .unwrap_err()
                .contains("field `a` refers to a separate definition")
        );
    }
}

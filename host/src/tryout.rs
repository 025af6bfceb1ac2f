//! Trying plugins without an MCP client: `list` prints what a plugin
//! directory (or one component) serves, with the schemas; `call` runs one
//! tool call. Both open the host exactly as `serve` does (the same
//! settings, policy, limits and services) and talk to it through an
//! in-process MCP session, so what they print — results, and errors such as
//! an unknown tool or arguments that fail the schema — is what a client
//! would see. When stdin and stderr are a terminal, the person there
//! answers the plugin's elicitations and sampling requests; otherwise the
//! plugin is told the client supports neither.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::Args;
use serde_json::{Map, Value};

use crate::config::ServeArgs;
use crate::launch::open_host;
use crate::mcp::local::{Elicited, LocalSession, LocalUser, SamplingQuestion};

#[derive(Debug, Args)]
pub struct ListArgs {
    /// A plugin directory or one component (`<name>.wasm` with its
    /// `<name>.toml`); the same as `--plugins`.
    pub path: Option<PathBuf>,
    /// Print JSON (`tools`, `prompts`, `resources`, `resourceTemplates`,
    /// each item as MCP lists it).
    #[arg(long)]
    pub json: bool,
    /// Every `serve` setting applies (`--plugins`, `--policy`, limits,
    /// services, `--config`).
    #[command(flatten)]
    pub host: ServeArgs,
}

#[derive(Debug, Args)]
pub struct CallArgs {
    /// The tool's name.
    pub tool: String,
    /// Its arguments, a JSON object (default `{}`); `-` reads them from
    /// stdin.
    pub arguments: Option<String>,
    /// Print the whole result as MCP returns it (JSON).
    #[arg(long)]
    pub json: bool,
    /// Every `serve` setting applies (`--plugins DIR` or `--plugins
    /// FILE.wasm`, `--policy`, limits, services, `--config`).
    #[command(flatten)]
    pub host: ServeArgs,
}

/// `list`: print what the plugins serve.
pub async fn list(mut args: ListArgs) -> anyhow::Result<()> {
    if let Some(path) = args.path.take() {
        args.host.plugins = Some(path);
    }
    let session = open_session(&args.host, Arc::new(Terminal::detect())).await?;
    let listing = session.listing().await;
    session.close().await;
    let listing = listing?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&listing)?);
        return Ok(());
    }
    let mut out = String::new();
    section(&mut out, "tools", &listing.tools, |item, out| {
        entry(out, item, "name");
        schema_line(out, "input", item.get("inputSchema"));
        schema_line(out, "output", item.get("outputSchema"));
    });
    section(&mut out, "prompts", &listing.prompts, |item, out| {
        entry(out, item, "name");
        let arguments: Vec<String> = item
            .get("arguments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|a| {
                let name = a.get("name").and_then(Value::as_str).unwrap_or("?");
                if a.get("required") == Some(&Value::Bool(true)) {
                    format!("{name} (required)")
                } else {
                    name.to_string()
                }
            })
            .collect();
        if !arguments.is_empty() {
            out.push_str(&format!("    arguments: {}\n", arguments.join(", ")));
        }
    });
    section(&mut out, "resources", &listing.resources, |item, out| {
        entry(out, item, "uri");
    });
    section(
        &mut out,
        "resource templates",
        &listing.resource_templates,
        |item, out| entry(out, item, "uriTemplate"),
    );
    print!("{out}");
    Ok(())
}

/// `call`: run one tool call and print its result. A tool that ran and
/// failed exits with status 1 after printing its error; a request the host
/// refuses is an error naming the cause.
pub async fn call(args: CallArgs) -> anyhow::Result<()> {
    let arguments = parse_arguments(args.arguments.as_deref())?;
    let session = open_session(&args.host, Arc::new(Terminal::detect())).await?;
    let outcome = session.call(&args.tool, arguments).await;
    session.close().await;
    let outcome = outcome.with_context(|| format!("calling `{}`", args.tool))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome.result)?);
    } else {
        print!("{}", render_result(&outcome.result));
    }
    if outcome.is_error {
        return Err(crate::error::CommandFailed.into());
    }
    Ok(())
}

async fn open_session(host: &ServeArgs, user: Arc<dyn LocalUser>) -> anyhow::Result<LocalSession> {
    let opened = open_host(host).await?;
    for failure in opened.catalog.snapshot().failures() {
        eprintln!(
            "warning: {} did not load: {}",
            failure.path.display(),
            failure.reason
        );
    }
    Ok(LocalSession::start(opened.state, user).await?)
}

/// The arguments of `call`: a JSON object, or `-` for one on stdin.
fn parse_arguments(given: Option<&str>) -> anyhow::Result<Option<Map<String, Value>>> {
    let text = match given {
        None => return Ok(None),
        Some("-") => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .context("reading the arguments from stdin")?;
            text
        }
        Some(text) => text.to_string(),
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(other) => bail!(
            "the arguments must be a JSON object such as '{{\"a\": 1}}', not {}",
            kind_of(&other)
        ),
        Err(e) => bail!("the arguments are not valid JSON: {e}"),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn section(out: &mut String, title: &str, items: &[Value], each: impl Fn(&Value, &mut String)) {
    if items.is_empty() {
        return;
    }
    out.push_str(&format!("{title} ({}):\n", items.len()));
    for item in items {
        each(item, out);
    }
}

/// `  <key> — <title or description>`.
fn entry(out: &mut String, item: &Value, key: &str) {
    let name = item.get(key).and_then(Value::as_str).unwrap_or("?");
    let about = ["description", "title", "name"]
        .iter()
        .filter(|field| **field != key)
        .find_map(|field| item.get(*field).and_then(Value::as_str));
    match about {
        Some(about) => out.push_str(&format!("  {name} — {}\n", first_line(about))),
        None => out.push_str(&format!("  {name}\n")),
    }
}

/// A schema on one line, without its `$schema` (every one has the same).
fn schema_line(out: &mut String, label: &str, schema: Option<&Value>) {
    if let Some(schema) = schema {
        let mut schema = schema.clone();
        if let Some(object) = schema.as_object_mut() {
            object.remove("$schema");
        }
        out.push_str(&format!("    {label}: {schema}\n"));
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// A result's content as a person reads it: text as it is, other blocks
/// named; the structured content when there is no text.
fn render_result(result: &Value) -> String {
    let mut out = String::new();
    let blocks = result
        .get("content")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for block in &blocks {
        let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
        let line = match kind {
            "text" => block
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            "image" | "audio" => format!(
                "[{kind}: {}, {} bytes of base64]",
                block.get("mimeType").and_then(Value::as_str).unwrap_or("?"),
                block
                    .get("data")
                    .and_then(Value::as_str)
                    .map_or(0, str::len)
            ),
            "resource_link" => format!(
                "[link: {}]",
                block.get("uri").and_then(Value::as_str).unwrap_or("?")
            ),
            "resource" => {
                let resource = block.get("resource").cloned().unwrap_or(Value::Null);
                match resource.get("text").and_then(Value::as_str) {
                    Some(text) => text.to_string(),
                    None => format!(
                        "[resource: {}]",
                        resource.get("uri").and_then(Value::as_str).unwrap_or("?")
                    ),
                }
            }
            other => format!("[{other}]"),
        };
        out.push_str(&line);
        out.push('\n');
    }
    let has_text = blocks.iter().any(|b| b.get("type") == Some(&"text".into()));
    if !has_text && let Some(structured) = result.get("structuredContent") {
        out.push_str(&serde_json::to_string_pretty(structured).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// The terminal as the client's user: answers when stdin and stderr are a
/// terminal, asking on stderr (stdout carries only the result).
struct Terminal {
    interactive: bool,
}

impl Terminal {
    fn detect() -> Self {
        Self {
            interactive: std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
        }
    }

    fn ask(&self, prompt: &str) -> Option<String> {
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "{prompt}");
        let _ = stderr.flush();
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_string()),
        }
    }
}

impl LocalUser for Terminal {
    fn interactive(&self) -> bool {
        self.interactive
    }

    fn elicit(&self, message: &str, schema: &Value) -> Elicited {
        if !self.interactive {
            return Elicited::Decline;
        }
        eprintln!("The plugin asks: {message}");
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut content = Map::new();
        let properties = schema
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (name, property) in &properties {
            let needed = required.contains(&name.as_str());
            loop {
                let prompt = field_prompt(name, property, needed);
                let Some(answer) = self.ask(&prompt) else {
                    return Elicited::Cancel;
                };
                if answer.is_empty() && !needed {
                    break;
                }
                match field_value(property, &answer) {
                    Ok(value) => {
                        content.insert(name.clone(), value);
                        break;
                    }
                    Err(why) => eprintln!("  {why}"),
                }
            }
        }
        match self.ask("Send this answer? [Y]es, [n]o (decline), [c]ancel: ") {
            None => Elicited::Cancel,
            Some(a) if a.eq_ignore_ascii_case("n") || a.eq_ignore_ascii_case("no") => {
                Elicited::Decline
            }
            Some(a) if a.eq_ignore_ascii_case("c") || a.eq_ignore_ascii_case("cancel") => {
                Elicited::Cancel
            }
            Some(_) => Elicited::Accept(content),
        }
    }

    fn sample(&self, question: &SamplingQuestion) -> Option<String> {
        if !self.interactive {
            return None;
        }
        eprintln!(
            "The plugin asks a model (up to {} tokens); you answer as the model.",
            question.max_tokens
        );
        if let Some(system) = &question.system {
            eprintln!("  system: {system}");
        }
        for (role, text) in &question.messages {
            eprintln!("  {role}: {text}");
        }
        let mut reply = Vec::new();
        eprintln!("Type the reply, then an empty line (an empty reply refuses):");
        while let Some(line) = self.ask("") {
            if line.is_empty() {
                break;
            }
            reply.push(line);
        }
        (!reply.is_empty()).then(|| reply.join("\n"))
    }

    fn notice(&self, line: &str) {
        eprintln!("{line}");
    }
}

fn field_prompt(name: &str, property: &Value, required: bool) -> String {
    let kind = property
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("string");
    let mut prompt = format!(
        "  {name} ({kind}{})",
        if required { ", required" } else { "" }
    );
    if let Some(about) = property
        .get("description")
        .or_else(|| property.get("title"))
        .and_then(Value::as_str)
    {
        prompt.push_str(&format!(" — {about}"));
    }
    if let Some(choices) = property.get("enum").and_then(Value::as_array) {
        let choices: Vec<String> = choices
            .iter()
            .map(|c| c.as_str().map_or_else(|| c.to_string(), str::to_string))
            .collect();
        prompt.push_str(&format!(" [{}]", choices.join(", ")));
    }
    prompt.push_str(": ");
    prompt
}

/// What a person typed for a property of the form, as its JSON type.
fn field_value(property: &Value, answer: &str) -> Result<Value, String> {
    match property.get("type").and_then(Value::as_str) {
        Some("boolean") => match answer.to_ascii_lowercase().as_str() {
            "y" | "yes" | "true" => Ok(Value::Bool(true)),
            "n" | "no" | "false" => Ok(Value::Bool(false)),
            _ => Err("answer yes or no".into()),
        },
        Some("integer") => answer
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| "a whole number, please".into()),
        Some("number") => answer
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| "a number, please".into()),
        _ => Ok(Value::String(answer.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arguments_must_be_a_json_object() {
        assert_eq!(parse_arguments(None).unwrap(), None);
        assert_eq!(
            parse_arguments(Some(r#"{"a": 1}"#)).unwrap().unwrap()["a"],
            json!(1)
        );
        let err = parse_arguments(Some("[1]")).unwrap_err().to_string();
        assert!(
            err.contains("JSON object") && err.contains("an array"),
            "{err}"
        );
        let err = parse_arguments(Some("{a:")).unwrap_err().to_string();
        assert!(err.contains("not valid JSON"), "{err}");
    }

    #[test]
    fn typed_answers_become_their_json_type() {
        let boolean = json!({"type": "boolean"});
        assert_eq!(field_value(&boolean, "Yes"), Ok(json!(true)));
        assert!(field_value(&boolean, "maybe").is_err());
        assert_eq!(
            field_value(&json!({"type": "integer"}), "42"),
            Ok(json!(42))
        );
        assert!(field_value(&json!({"type": "integer"}), "4.2").is_err());
        assert_eq!(
            field_value(&json!({"type": "number"}), "4.5"),
            Ok(json!(4.5))
        );
        assert_eq!(field_value(&json!({}), "text"), Ok(json!("text")));
    }

    #[test]
    fn results_render_text_and_name_other_blocks() {
        let result = json!({"content": [
            {"type": "text", "text": "3"},
            {"type": "image", "mimeType": "image/png", "data": "AAAA"},
            {"type": "resource_link", "uri": "notes://a", "name": "a"},
        ]});
        assert_eq!(
            render_result(&result),
            "3\n[image: image/png, 4 bytes of base64]\n[link: notes://a]\n"
        );
        let structured = json!({"content": [], "structuredContent": {"sum": 3}});
        assert!(render_result(&structured).contains("\"sum\": 3"));
    }
}

//! [`Registry`]: everything a plugin serves — tools, resources, resource
//! templates, prompts and completions — filled once per plugin instance by
//! the function given to [`crate::plugin!`], and the dispatch of each
//! export to the right entry.

use crate::args::PromptArgs;
use crate::bindings::mcp::plugin::types as wit;
use crate::completion::{Completion, CompletionRef, CompletionRequest};
use crate::context::Context;
use crate::error::{ExportError, ToolError};
use crate::output::ToolOutput;
use crate::prompt::{Prompt, PromptDescriptor, PromptResult};
use crate::resource::{
    Resource, ResourceContents, ResourceDescriptor, ResourceTemplate, ResourceTemplateDescriptor,
};
use crate::tool::Tool;

type Lister = Box<dyn Fn(&Context) -> Result<Vec<ResourceDescriptor>, ExportError>>;
type RegistryCompleter = Box<dyn Fn(&Context, &CompletionRequest) -> Completion>;

/// What the plugin serves, filled once per plugin instance by the function
/// given to [`crate::plugin!`].
///
/// Every registration method checks its entry and panics on a mistake (an
/// invalid or duplicate name, a missing handler or reader, a malformed URI
/// template, a completer for an argument that does not exist): these are
/// bugs in the plugin, reported when it loads, before any call.
#[derive(Default)]
pub struct Registry {
    tools: Vec<Tool>,
    resources: Vec<Resource>,
    templates: Vec<ResourceTemplate>,
    listers: Vec<Lister>,
    prompts: Vec<Prompt>,
    completer: Option<RegistryCompleter>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("tools", &self.tools)
            .field("resources", &self.resources)
            .field("templates", &self.templates)
            .field("listers", &self.listers.len())
            .field("prompts", &self.prompts)
            .field("has_completer", &self.completer.is_some())
            .finish()
    }
}

/// Panic unless `name` is a valid tool or prompt name.
fn check_name(kind: &str, name: &str) {
    let valid = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    assert!(
        valid,
        "{kind} name `{name}` must be 1 to 128 ASCII letters, digits, `_`, `-` or `.`"
    );
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
    /// taken, and when the tool has no handler.
    pub fn tool(&mut self, tool: Tool) -> &mut Self {
        let name = tool.name();
        check_name("tool", name);
        assert!(
            self.find_tool(name).is_none(),
            "tool `{name}` is registered twice"
        );
        assert!(tool.has_handler(), "tool `{name}` has no handler");
        self.tools.push(tool);
        self
    }

    /// Add a resource at a fixed URI. It is listed on every
    /// `resources/list`, before those of [`Registry::list_resources_with`].
    ///
    /// # Panics
    ///
    /// When the URI is empty or already registered, or the resource has no
    /// reader.
    pub fn resource(&mut self, resource: Resource) -> &mut Self {
        let uri = resource.uri();
        assert!(!uri.is_empty(), "a resource has an empty URI");
        assert!(
            self.resources.iter().all(|other| other.uri() != uri),
            "resource `{uri}` is registered twice"
        );
        assert!(resource.has_reader(), "resource `{uri}` has no reader");
        self.resources.push(resource);
        self
    }

    /// Add a resource template. Reads of URIs that no fixed resource has
    /// go to the first template that matches them.
    ///
    /// # Panics
    ///
    /// When the URI template is malformed or already registered, the
    /// template has no reader, or it completes a variable it does not have.
    pub fn resource_template(&mut self, template: ResourceTemplate) -> &mut Self {
        let uri_template = template.uri_template();
        if let Some(problem) = template.problem() {
            panic!("resource template `{uri_template}` {problem}");
        }
        assert!(
            self.find_template(uri_template).is_none(),
            "resource template `{uri_template}` is registered twice"
        );
        self.templates.push(template);
        self
    }

    /// List more resources on every `resources/list`, computed per request
    /// (for example from session state): `lister` returns their
    /// descriptors. Reads of them go to the fixed resource or template
    /// that serves the URI, so pair a lister with a [`ResourceTemplate`].
    pub fn list_resources_with<F>(&mut self, lister: F) -> &mut Self
    where
        F: Fn(&Context) -> Result<Vec<ResourceDescriptor>, ExportError> + 'static,
    {
        self.listers.push(Box::new(lister));
        self
    }

    /// Add a prompt.
    ///
    /// # Panics
    ///
    /// When the name is invalid (the rules of [`Registry::tool`]) or taken,
    /// the prompt has no handler, declares an argument twice, or completes
    /// an argument it does not declare.
    pub fn prompt(&mut self, prompt: Prompt) -> &mut Self {
        let name = prompt.name();
        check_name("prompt", name);
        assert!(
            self.find_prompt(name).is_none(),
            "prompt `{name}` is registered twice"
        );
        if let Some(problem) = prompt.problem() {
            panic!("prompt `{name}` {problem}");
        }
        self.prompts.push(prompt);
        self
    }

    /// Answer completion requests for which no prompt or template has a
    /// completer of its own, including arguments of prompts and templates
    /// this plugin does not declare. Without it, those complete to nothing.
    ///
    /// # Panics
    ///
    /// When called twice.
    pub fn complete_with<O, F>(&mut self, complete: F) -> &mut Self
    where
        O: Into<Completion>,
        F: Fn(&Context, &CompletionRequest) -> O + 'static,
    {
        assert!(
            self.completer.is_none(),
            "Registry::complete_with is called twice"
        );
        self.completer = Some(Box::new(move |ctx, request| complete(ctx, request).into()));
        self
    }

    fn find_tool(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|tool| tool.name() == name)
    }

    fn find_template(&self, uri_template: &str) -> Option<&ResourceTemplate> {
        self.templates
            .iter()
            .find(|template| template.uri_template() == uri_template)
    }

    fn find_prompt(&self, name: &str) -> Option<&Prompt> {
        self.prompts.iter().find(|prompt| prompt.name() == name)
    }

    pub(crate) fn descriptors(&self) -> Vec<wit::ToolDescriptor> {
        self.tools.iter().map(Tool::descriptor).collect()
    }

    pub(crate) fn call(&self, name: &str, arguments: &str) -> Result<ToolOutput, ToolError> {
        self.find_tool(name)
            .ok_or_else(|| ToolError::new(format!("unknown tool {name}")))?
            .call(arguments)
    }

    pub(crate) fn resource_templates(&self) -> Vec<ResourceTemplateDescriptor> {
        self.templates
            .iter()
            .map(|template| template.descriptor().clone())
            .collect()
    }

    /// Whether `list_resources` can return anything.
    pub(crate) fn lists_resources(&self) -> bool {
        !self.resources.is_empty() || !self.listers.is_empty()
    }

    pub(crate) fn list_resources(
        &self,
        ctx: &Context,
    ) -> Result<Vec<ResourceDescriptor>, ExportError> {
        let mut listed: Vec<ResourceDescriptor> = self
            .resources
            .iter()
            .map(|resource| resource.descriptor().clone())
            .collect();
        for lister in &self.listers {
            listed.extend(lister(ctx)?);
        }
        Ok(listed)
    }

    pub(crate) fn read_resource(
        &self,
        ctx: &Context,
        uri: &str,
    ) -> Result<Vec<ResourceContents>, ExportError> {
        if let Some(resource) = self.resources.iter().find(|r| r.uri() == uri) {
            return resource.read(ctx);
        }
        self.templates
            .iter()
            .find_map(|template| template.try_read(ctx, uri))
            .unwrap_or_else(|| Err(ExportError::not_found(format!("no resource {uri}"))))
    }

    pub(crate) fn prompt_descriptors(&self) -> Vec<PromptDescriptor> {
        self.prompts
            .iter()
            .map(|prompt| prompt.descriptor().clone())
            .collect()
    }

    pub(crate) fn get_prompt(
        &self,
        ctx: &Context,
        name: &str,
        args: &PromptArgs,
    ) -> Result<PromptResult, ExportError> {
        self.find_prompt(name)
            .ok_or_else(|| ExportError::not_found(format!("no prompt named {name}")))?
            .render(ctx, args)
    }

    pub(crate) fn complete(
        &self,
        ctx: &Context,
        request: &CompletionRequest,
    ) -> Result<Completion, ExportError> {
        let argument = request.argument.as_str();
        let fallback = self.completer.is_some();
        match &request.reference {
            CompletionRef::Prompt(name) => match self.find_prompt(name) {
                Some(prompt) => {
                    if let Some(complete) = prompt.completer(argument) {
                        return Ok(complete(ctx, &request.value, &request.context));
                    }
                    if !prompt.has_argument(argument) && !fallback {
                        return Err(ExportError::invalid_params(format!(
                            "prompt `{name}` has no argument `{argument}`"
                        )));
                    }
                }
                None if !fallback => {
                    return Err(ExportError::not_found(format!("no prompt named {name}")));
                }
                None => {}
            },
            CompletionRef::ResourceTemplate(uri_template) => {
                match self.find_template(uri_template) {
                    Some(template) => {
                        if let Some(complete) = template.completer(argument) {
                            return Ok(complete(ctx, &request.value, &request.context));
                        }
                        if !template.has_variable(argument) && !fallback {
                            return Err(ExportError::invalid_params(format!(
                                "resource template `{uri_template}` has no variable `{argument}`"
                            )));
                        }
                    }
                    None if !fallback => {
                        return Err(ExportError::not_found(format!(
                            "no resource template {uri_template}"
                        )));
                    }
                    None => {}
                }
            }
        }
        Ok(self
            .completer
            .as_ref()
            .map(|complete| complete(ctx, request))
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Arguments;
    use crate::output::{Content, ResourceBody};
    use crate::prompt::PromptMessage;

    fn notes() -> Registry {
        let mut registry = Registry::new();
        registry
            .resource(
                Resource::new("test://static-text", "static")
                    .mime_type("text/plain")
                    .static_text("hello"),
            )
            .resource_template(
                ResourceTemplate::new("note://{name}", "note")
                    .mime_type("text/markdown")
                    .reader(|_, uri, vars| {
                        if vars.require("name")? == "missing" {
                            return Err(ExportError::not_found("no such note"));
                        }
                        Ok(ResourceContents::text(
                            uri,
                            format!("# {}", vars.require("name")?),
                        ))
                    })
                    .complete_argument("name", |_, typed, _| {
                        Completion::by_prefix(typed, ["groceries", "goals", "ideas"])
                    }),
            )
            .list_resources_with(|_| Ok(vec![ResourceDescriptor::new("note://ideas", "ideas")]))
            .prompt(
                Prompt::new("greet", "Greet someone")
                    .argument("name", "Who", true)
                    .argument("mood", "How", false)
                    .handler(|_, args| {
                        let mood = args.get("mood").unwrap_or("warmly");
                        Ok(PromptMessage::user_text(format!(
                            "Greet {} {mood}",
                            args.require("name")?
                        )))
                    })
                    .complete_argument("mood", |_, _, _| vec!["warmly", "briefly"]),
            );
        registry
    }

    fn request(reference: CompletionRef, argument: &str, value: &str) -> CompletionRequest {
        CompletionRequest {
            reference,
            argument: argument.into(),
            value: value.into(),
            context: Arguments::new(),
        }
    }

    #[test]
    fn fixed_resources_and_listers_are_listed_in_order() {
        let registry = notes();
        assert!(registry.lists_resources());
        let uris: Vec<_> = registry
            .list_resources(&Context::new())
            .unwrap()
            .into_iter()
            .map(|r| r.uri)
            .collect();
        assert_eq!(uris, ["test://static-text", "note://ideas"]);
        assert_eq!(
            registry.resource_templates()[0].uri_template,
            "note://{name}"
        );
        assert!(!Registry::new().lists_resources());
    }

    #[test]
    fn reads_go_to_the_resource_or_template_serving_the_uri() {
        let registry = notes();
        let ctx = Context::new();
        let text = registry.read_resource(&ctx, "test://static-text").unwrap();
        assert_eq!(text[0].as_text(), Some("hello"));
        assert_eq!(text[0].mime_type.as_deref(), Some("text/plain"));
        let note = registry.read_resource(&ctx, "note://my%20list").unwrap();
        assert_eq!(note[0].uri, "note://my%20list");
        assert_eq!(note[0].body, ResourceBody::Text("# my list".into()));
        assert_eq!(note[0].mime_type.as_deref(), Some("text/markdown"));
        assert_eq!(
            registry.read_resource(&ctx, "note://missing"),
            Err(ExportError::not_found("no such note"))
        );
        assert_eq!(
            registry.read_resource(&ctx, "other://x"),
            Err(ExportError::not_found("no resource other://x"))
        );
    }

    #[test]
    fn prompts_check_required_arguments() {
        let registry = notes();
        let ctx = Context::new();
        let args: Arguments = [("name", "Ada"), ("extra", "ignored")]
            .into_iter()
            .collect();
        let result = registry.get_prompt(&ctx, "greet", &args).unwrap();
        assert_eq!(
            result.messages[0].content,
            Content::text("Greet Ada warmly")
        );
        assert_eq!(
            registry.get_prompt(&ctx, "greet", &Arguments::new()),
            Err(ExportError::invalid_params(
                "prompt `greet` needs the argument `name`"
            ))
        );
        assert_eq!(
            registry.get_prompt(&ctx, "nope", &Arguments::new()),
            Err(ExportError::not_found("no prompt named nope"))
        );
        let descriptors = registry.prompt_descriptors();
        assert_eq!(descriptors[0].arguments.len(), 2);
        assert!(descriptors[0].arguments[0].required);
    }

    #[test]
    fn completions_go_to_the_argument_completer() {
        let registry = notes();
        let ctx = Context::new();
        let template = CompletionRef::ResourceTemplate("note://{name}".into());
        let completion = registry.complete(&ctx, &request(template.clone(), "name", "g"));
        assert_eq!(completion.unwrap().values, ["groceries", "goals"]);
        let prompt = CompletionRef::Prompt("greet".into());
        let mood = registry.complete(&ctx, &request(prompt.clone(), "mood", ""));
        assert_eq!(mood.unwrap().values, ["warmly", "briefly"]);
        let name = registry.complete(&ctx, &request(prompt.clone(), "name", "A"));
        assert_eq!(name.unwrap(), Completion::default());
        assert_eq!(
            registry.complete(&ctx, &request(prompt, "color", "")),
            Err(ExportError::invalid_params(
                "prompt `greet` has no argument `color`"
            ))
        );
        assert_eq!(
            registry.complete(&ctx, &request(CompletionRef::Prompt("x".into()), "a", "")),
            Err(ExportError::not_found("no prompt named x"))
        );
    }

    #[test]
    fn the_registry_completer_is_the_fallback() {
        let mut registry = notes();
        registry.complete_with(|_, request: &CompletionRequest| vec![request.argument.clone()]);
        let ctx = Context::new();
        let other = request(CompletionRef::Prompt("elsewhere".into()), "topic", "");
        assert_eq!(registry.complete(&ctx, &other).unwrap().values, ["topic"]);
        let template = CompletionRef::ResourceTemplate("note://{name}".into());
        let own = registry.complete(&ctx, &request(template, "name", "i"));
        assert_eq!(own.unwrap().values, ["ideas"]);
    }

    #[test]
    #[should_panic(expected = "resource `a://b` is registered twice")]
    fn duplicate_resources_are_refused() {
        Registry::new()
            .resource(Resource::new("a://b", "b").static_text(""))
            .resource(Resource::new("a://b", "b").static_text(""));
    }

    #[test]
    #[should_panic(expected = "resource `a://b` has no reader")]
    fn resources_need_a_reader() {
        Registry::new().resource(Resource::new("a://b", "b"));
    }

    #[test]
    #[should_panic(expected = "resource template `a://{x` URI template has a `{` without")]
    fn malformed_templates_are_refused() {
        Registry::new().resource_template(
            ResourceTemplate::new("a://{x", "x")
                .reader(|_, uri, _| Ok(ResourceContents::text(uri, ""))),
        );
    }

    #[test]
    #[should_panic(
        expected = "resource template `a://{x}` completes `y`, which is not one of its variables"
    )]
    fn template_completers_need_a_variable() {
        Registry::new().resource_template(
            ResourceTemplate::new("a://{x}", "x")
                .reader(|_, uri, _| Ok(ResourceContents::text(uri, "")))
                .complete_argument("y", |_, _, _| Vec::<String>::new()),
        );
    }

    #[test]
    #[should_panic(expected = "prompt `p` is registered twice")]
    fn duplicate_prompts_are_refused() {
        let prompt = || Prompt::new("p", "P").handler(|_, _| Ok(PromptResult::new()));
        Registry::new().prompt(prompt()).prompt(prompt());
    }

    #[test]
    #[should_panic(expected = "prompt name `a prompt` must be 1 to 128 ASCII letters")]
    fn invalid_prompt_names_are_refused() {
        Registry::new()
            .prompt(Prompt::new("a prompt", "P").handler(|_, _| Ok(PromptResult::new())));
    }

    #[test]
    #[should_panic(expected = "prompt `p` declares the argument `a` twice")]
    fn duplicate_prompt_arguments_are_refused() {
        Registry::new().prompt(
            Prompt::new("p", "P")
                .argument("a", "A", true)
                .argument("a", "A", false)
                .handler(|_, _| Ok(PromptResult::new())),
        );
    }

    #[test]
    #[should_panic(expected = "prompt `p` completes `b`, which is not one of its arguments")]
    fn prompt_completers_need_an_argument() {
        Registry::new().prompt(
            Prompt::new("p", "P")
                .argument("a", "A", true)
                .handler(|_, _| Ok(PromptResult::new()))
                .complete_argument("b", |_, _, _| Vec::<String>::new()),
        );
    }

    #[test]
    #[should_panic(expected = "prompt `p` has no handler")]
    fn prompts_need_a_handler() {
        Registry::new().prompt(Prompt::new("p", "P"));
    }
}

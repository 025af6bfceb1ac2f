//! Prompts a plugin offers: a [`Prompt`] declares its arguments and renders
//! a [`PromptResult`] — messages of text, images, audio or embedded
//! resources — from the values the client sends.
//!
//! The host lists the plugin's prompts once, when it loads, and routes each
//! `prompts/get` to the plugin that declared the name. Before the handler
//! runs, the SDK checks that every required argument is present (the
//! client gets an invalid-params error naming the one missing); arguments
//! the prompt does not declare are ignored.

use crate::args::PromptArgs;
use crate::bindings::mcp::plugin::types as wit;
use crate::completion::{Completer, Completion, completer};
use crate::context::Context;
use crate::error::ExportError;
use crate::output::{Content, Role};
use crate::resource::ResourceContents;

/// One message of a rendered prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptMessage {
    /// Who speaks.
    pub role: Role,
    /// What they say.
    pub content: Content,
}

impl PromptMessage {
    /// A message of any content.
    pub fn new(role: Role, content: impl Into<Content>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }

    /// A user message of text.
    pub fn user_text(text: impl Into<String>) -> Self {
        Self::new(Role::User, Content::text(text))
    }

    /// An assistant message of text.
    pub fn assistant_text(text: impl Into<String>) -> Self {
        Self::new(Role::Assistant, Content::text(text))
    }

    /// A user message holding an image (raw bytes).
    pub fn user_image(data: impl Into<Vec<u8>>, mime_type: impl Into<String>) -> Self {
        Self::new(Role::User, Content::image(data, mime_type))
    }

    /// A user message embedding a resource's contents.
    pub fn user_resource(contents: ResourceContents) -> Self {
        Self::new(Role::User, contents)
    }

    fn into_wit(self) -> wit::PromptMessage {
        wit::PromptMessage {
            role: self.role.into(),
            content: self.content.into_wit(),
        }
    }

    fn from_wit(message: wit::PromptMessage) -> Self {
        Self {
            role: message.role.into(),
            content: Content::from_wit(message.content),
        }
    }
}

/// A rendered prompt: an optional description and the messages.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromptResult {
    /// What this rendering is, when it says more than the prompt's
    /// description.
    pub description: Option<String>,
    /// The messages, in order.
    pub messages: Vec<PromptMessage>,
}

impl PromptResult {
    /// No messages yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Append a message.
    pub fn message(mut self, message: PromptMessage) -> Self {
        self.messages.push(message);
        self
    }

    /// Append a user text message.
    pub fn user_text(self, text: impl Into<String>) -> Self {
        self.message(PromptMessage::user_text(text))
    }

    /// Append an assistant text message.
    pub fn assistant_text(self, text: impl Into<String>) -> Self {
        self.message(PromptMessage::assistant_text(text))
    }

    pub(crate) fn into_wit(self) -> wit::PromptResult {
        wit::PromptResult {
            description: self.description,
            messages: self
                .messages
                .into_iter()
                .map(PromptMessage::into_wit)
                .collect(),
        }
    }

    pub(crate) fn from_wit(result: wit::PromptResult) -> Self {
        Self {
            description: result.description,
            messages: result
                .messages
                .into_iter()
                .map(PromptMessage::from_wit)
                .collect(),
        }
    }
}

impl From<Vec<PromptMessage>> for PromptResult {
    fn from(messages: Vec<PromptMessage>) -> Self {
        Self {
            description: None,
            messages,
        }
    }
}

impl From<PromptMessage> for PromptResult {
    fn from(message: PromptMessage) -> Self {
        vec![message].into()
    }
}

/// One argument a prompt accepts, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptArgument {
    /// The argument's name.
    pub name: String,
    /// A human-readable title.
    pub title: Option<String>,
    /// What to give.
    pub description: Option<String>,
    /// Whether the prompt needs it.
    pub required: bool,
}

/// A prompt as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptDescriptor {
    /// The prompt's name.
    pub name: String,
    /// A human-readable title.
    pub title: Option<String>,
    /// What the prompt is for.
    pub description: Option<String>,
    /// The arguments it accepts, in order.
    pub arguments: Vec<PromptArgument>,
}

impl PromptDescriptor {
    pub(crate) fn into_wit(self) -> wit::PromptDescriptor {
        wit::PromptDescriptor {
            name: self.name,
            title: self.title,
            description: self.description,
            arguments: self
                .arguments
                .into_iter()
                .map(|argument| wit::PromptArgument {
                    name: argument.name,
                    title: argument.title,
                    description: argument.description,
                    required: argument.required,
                })
                .collect(),
        }
    }

    pub(crate) fn from_wit(descriptor: wit::PromptDescriptor) -> Self {
        Self {
            name: descriptor.name,
            title: descriptor.title,
            description: descriptor.description,
            arguments: descriptor
                .arguments
                .into_iter()
                .map(|argument| PromptArgument {
                    name: argument.name,
                    title: argument.title,
                    description: argument.description,
                    required: argument.required,
                })
                .collect(),
        }
    }
}

type Handler = Box<dyn Fn(&Context, &PromptArgs) -> Result<PromptResult, ExportError>>;

/// One prompt: its description for the client, its arguments, and the
/// handler that renders it.
///
/// ```
/// # use mcp_plugin::{Completion, Prompt, PromptResult};
/// let prompt = Prompt::new("translate", "Translate a text")
///     .argument("text", "The text to translate", true)
///     .argument("language", "The target language (default: French)", false)
///     .handler(|_ctx, args| {
///         let text = args.require("text")?;
///         let language = args.get("language").unwrap_or("French");
///         Ok(PromptResult::new().user_text(format!("Translate into {language}:\n\n{text}")))
///     })
///     .complete_argument("language", |_ctx, typed, _| {
///         Completion::by_prefix(typed, ["English", "French", "German"])
///     });
/// ```
pub struct Prompt {
    descriptor: PromptDescriptor,
    handler: Option<Handler>,
    completers: Vec<(String, Completer)>,
}

impl std::fmt::Debug for Prompt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prompt")
            .field("descriptor", &self.descriptor)
            .finish_non_exhaustive()
    }
}

impl Prompt {
    /// A prompt called `name` (letters, digits, `_`, `-` and `.`; unique
    /// within the plugin) that clients show with `description`.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            descriptor: PromptDescriptor {
                name: name.into(),
                title: None,
                description: Some(description.into()),
                arguments: Vec::new(),
            },
            handler: None,
            completers: Vec::new(),
        }
    }

    /// A human-readable title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.descriptor.title = Some(title.into());
        self
    }

    /// Declare an argument, in the order clients should show it.
    pub fn argument(
        mut self,
        name: impl Into<String>,
        description: impl Into<String>,
        required: bool,
    ) -> Self {
        self.descriptor.arguments.push(PromptArgument {
            name: name.into(),
            title: None,
            description: Some(description.into()),
            required,
        });
        self
    }

    /// Set the handler: it receives the arguments (every required one is
    /// present) and returns the rendered prompt — a [`PromptResult`], a
    /// `Vec` of [`PromptMessage`]s or a single one.
    pub fn handler<O, F>(mut self, handler: F) -> Self
    where
        O: Into<PromptResult>,
        F: Fn(&Context, &PromptArgs) -> Result<O, ExportError> + 'static,
    {
        self.handler = Some(Box::new(move |ctx, args| {
            handler(ctx, args).map(Into::into)
        }));
        self
    }

    /// Suggest values for the argument `argument`: `complete` receives what
    /// the user typed so far and the arguments already filled in, and
    /// returns suggestions (a `Vec` of strings or a [`Completion`]).
    pub fn complete_argument<O, F>(mut self, argument: impl Into<String>, complete: F) -> Self
    where
        O: Into<Completion>,
        F: Fn(&Context, &str, &PromptArgs) -> O + 'static,
    {
        self.completers.push((argument.into(), completer(complete)));
        self
    }

    pub(crate) fn name(&self) -> &str {
        &self.descriptor.name
    }

    pub(crate) fn descriptor(&self) -> &PromptDescriptor {
        &self.descriptor
    }

    /// Why the prompt cannot be registered, if it cannot.
    pub(crate) fn problem(&self) -> Option<String> {
        if self.handler.is_none() {
            return Some("has no handler".into());
        }
        let arguments = &self.descriptor.arguments;
        for (i, argument) in arguments.iter().enumerate() {
            if argument.name.is_empty() {
                return Some("has an argument without a name".into());
            }
            if arguments[..i].iter().any(|a| a.name == argument.name) {
                return Some(format!("declares the argument `{}` twice", argument.name));
            }
        }
        for (i, (name, _)) in self.completers.iter().enumerate() {
            if !self.has_argument(name) {
                return Some(format!(
                    "completes `{name}`, which is not one of its arguments"
                ));
            }
            if self.completers[..i].iter().any(|(other, _)| other == name) {
                return Some(format!("completes `{name}` twice"));
            }
        }
        None
    }

    pub(crate) fn has_argument(&self, name: &str) -> bool {
        self.descriptor.arguments.iter().any(|a| a.name == name)
    }

    pub(crate) fn completer(&self, argument: &str) -> Option<&Completer> {
        self.completers
            .iter()
            .find(|(name, _)| name == argument)
            .map(|(_, complete)| complete)
    }

    /// Check the required arguments, then render.
    pub(crate) fn render(
        &self,
        ctx: &Context,
        args: &PromptArgs,
    ) -> Result<PromptResult, ExportError> {
        if let Some(missing) = self
            .descriptor
            .arguments
            .iter()
            .find(|argument| argument.required && !args.contains(&argument.name))
        {
            return Err(ExportError::invalid_params(format!(
                "prompt `{}` needs the argument `{}`",
                self.descriptor.name, missing.name
            )));
        }
        let handler = self
            .handler
            .as_ref()
            .expect("registered prompts have handlers");
        handler(ctx, args)
    }
}

//! Resources a plugin serves: [`Resource`]s at fixed URIs and
//! [`ResourceTemplate`]s for families of URIs (`note://{name}`), plus the
//! data types shared with the host catalog.
//!
//! Register them in the [`Registry`](crate::Registry). The host asks the
//! plugin which templates it has and whether it lists resources once, when
//! it loads; it asks for the list of resources on every `resources/list`
//! (fixed resources first, then those of
//! [`Registry::list_resources_with`](crate::Registry::list_resources_with)),
//! and routes each `resources/read` to the plugin that serves the URI: the
//! fixed resource with that URI, else the first template that matches it.

use crate::args::TemplateVars;
use crate::bindings::mcp::plugin::types as wit;
use crate::completion::{Completer, Completion, completer};
use crate::context::Context;
use crate::error::ExportError;
use crate::output::{Content, ResourceBody};
use crate::uri_template::UriTemplate;

/// A resource as listed: its URI and what a client shows about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceDescriptor {
    /// The resource's URI.
    pub uri: String,
    /// A short name.
    pub name: String,
    /// A human-readable title.
    pub title: Option<String>,
    /// What the resource holds.
    pub description: Option<String>,
    /// Its MIME type.
    pub mime_type: Option<String>,
    /// Its size in bytes.
    pub size: Option<u64>,
}

impl ResourceDescriptor {
    /// A resource at `uri` called `name`.
    pub fn new(uri: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            name: name.into(),
            title: None,
            description: None,
            mime_type: None,
            size: None,
        }
    }

    /// Set the title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Set the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Set the MIME type.
    pub fn mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = Some(mime_type.into());
        self
    }

    /// Set the size in bytes.
    pub fn size(mut self, size: u64) -> Self {
        self.size = Some(size);
        self
    }

    pub(crate) fn into_wit(self) -> wit::ResourceDescriptor {
        wit::ResourceDescriptor {
            uri: self.uri,
            name: self.name,
            title: self.title,
            description: self.description,
            mime_type: self.mime_type,
            size: self.size,
        }
    }

    pub(crate) fn from_wit(descriptor: wit::ResourceDescriptor) -> Self {
        Self {
            uri: descriptor.uri,
            name: descriptor.name,
            title: descriptor.title,
            description: descriptor.description,
            mime_type: descriptor.mime_type,
            size: descriptor.size,
        }
    }
}

/// A resource template as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceTemplateDescriptor {
    /// The RFC 6570 URI template, such as `note://{name}`.
    pub uri_template: String,
    /// A short name.
    pub name: String,
    /// A human-readable title.
    pub title: Option<String>,
    /// What the resources hold.
    pub description: Option<String>,
    /// Their MIME type.
    pub mime_type: Option<String>,
}

impl ResourceTemplateDescriptor {
    pub(crate) fn into_wit(self) -> wit::ResourceTemplate {
        wit::ResourceTemplate {
            uri_template: self.uri_template,
            name: self.name,
            title: self.title,
            description: self.description,
            mime_type: self.mime_type,
        }
    }

    pub(crate) fn from_wit(template: wit::ResourceTemplate) -> Self {
        Self {
            uri_template: template.uri_template,
            name: template.name,
            title: template.title,
            description: template.description,
            mime_type: template.mime_type,
        }
    }
}

/// The contents of one resource, as read.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceContents {
    /// The URI these contents belong to.
    pub uri: String,
    /// Their MIME type. When a reader leaves it unset, the SDK fills in the
    /// MIME type the resource or template declares.
    pub mime_type: Option<String>,
    /// Text or bytes.
    pub body: ResourceBody,
}

impl ResourceContents {
    /// Text contents of `uri`.
    pub fn text(uri: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            mime_type: None,
            body: ResourceBody::Text(text.into()),
        }
    }

    /// Binary contents of `uri` (raw bytes; the host encodes them).
    pub fn blob(uri: impl Into<String>, data: impl Into<Vec<u8>>) -> Self {
        Self {
            uri: uri.into(),
            mime_type: None,
            body: ResourceBody::Blob(data.into()),
        }
    }

    /// Set the MIME type.
    pub fn with_mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = Some(mime_type.into());
        self
    }

    /// The text, for text contents.
    pub fn as_text(&self) -> Option<&str> {
        match &self.body {
            ResourceBody::Text(text) => Some(text),
            ResourceBody::Blob(_) => None,
        }
    }

    /// The bytes, for binary contents.
    pub fn as_blob(&self) -> Option<&[u8]> {
        match &self.body {
            ResourceBody::Blob(data) => Some(data),
            ResourceBody::Text(_) => None,
        }
    }

    pub(crate) fn into_wit(self) -> wit::ResourceContents {
        wit::EmbeddedResource {
            uri: self.uri,
            mime_type: self.mime_type,
            body: self.body.into_wit(),
        }
    }

    pub(crate) fn from_wit(contents: wit::ResourceContents) -> Self {
        Self {
            uri: contents.uri,
            mime_type: contents.mime_type,
            body: ResourceBody::from_wit(contents.body),
        }
    }
}

impl From<ResourceContents> for Content {
    /// An embedded resource block holding these contents.
    fn from(contents: ResourceContents) -> Self {
        Content::EmbeddedResource {
            uri: contents.uri,
            mime_type: contents.mime_type,
            body: contents.body,
        }
    }
}

/// What a resource reader may return: one [`ResourceContents`] or several.
pub trait IntoResourceContents {
    /// Convert into a list of contents.
    fn into_resource_contents(self) -> Vec<ResourceContents>;
}

impl IntoResourceContents for ResourceContents {
    fn into_resource_contents(self) -> Vec<ResourceContents> {
        vec![self]
    }
}

impl IntoResourceContents for Vec<ResourceContents> {
    fn into_resource_contents(self) -> Vec<ResourceContents> {
        self
    }
}

type Reader = Box<dyn Fn(&Context, &str) -> Result<Vec<ResourceContents>, ExportError>>;
type TemplateReader =
    Box<dyn Fn(&Context, &str, &TemplateVars) -> Result<Vec<ResourceContents>, ExportError>>;

/// Fill in the declared MIME type where a reader left it unset.
fn with_default_mime_type(
    mut contents: Vec<ResourceContents>,
    mime_type: Option<&String>,
) -> Vec<ResourceContents> {
    if let Some(mime_type) = mime_type {
        for item in &mut contents {
            item.mime_type.get_or_insert_with(|| mime_type.clone());
        }
    }
    contents
}

/// A resource at a fixed URI, and how to read it.
///
/// ```
/// # use mcp_plugin::{Resource, ResourceContents};
/// let motd = Resource::new("motd://today", "motd")
///     .description("The message of the day")
///     .mime_type("text/plain")
///     .reader(|_ctx, uri| Ok(ResourceContents::text(uri, "Be kind.")));
/// let logo = Resource::new("img://logo", "logo")
///     .mime_type("image/png")
///     .static_blob(vec![0x89, b'P', b'N', b'G']);
/// ```
pub struct Resource {
    descriptor: ResourceDescriptor,
    reader: Option<Reader>,
}

impl std::fmt::Debug for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resource")
            .field("descriptor", &self.descriptor)
            .finish_non_exhaustive()
    }
}

impl Resource {
    /// A resource at `uri` called `name`.
    pub fn new(uri: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            descriptor: ResourceDescriptor::new(uri, name),
            reader: None,
        }
    }

    /// A human-readable title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.descriptor.title = Some(title.into());
        self
    }

    /// What the resource holds.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.descriptor.description = Some(description.into());
        self
    }

    /// The resource's MIME type, also given to contents that set none.
    pub fn mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.descriptor.mime_type = Some(mime_type.into());
        self
    }

    /// The resource's size in bytes, when known in advance.
    pub fn size(mut self, size: u64) -> Self {
        self.descriptor.size = Some(size);
        self
    }

    /// Set the reader: it receives the URI being read and returns the
    /// contents (one [`ResourceContents`] or a `Vec` of them).
    pub fn reader<O, F>(mut self, reader: F) -> Self
    where
        O: IntoResourceContents,
        F: Fn(&Context, &str) -> Result<O, ExportError> + 'static,
    {
        self.reader = Some(Box::new(move |ctx, uri| {
            reader(ctx, uri).map(IntoResourceContents::into_resource_contents)
        }));
        self
    }

    /// Serve this text, always the same.
    pub fn static_text(self, text: impl Into<String>) -> Self {
        let text = text.into();
        self.reader(move |_, uri| Ok(ResourceContents::text(uri, text.clone())))
    }

    /// Serve these bytes, always the same.
    pub fn static_blob(self, data: impl Into<Vec<u8>>) -> Self {
        let data = data.into();
        self.reader(move |_, uri| Ok(ResourceContents::blob(uri, data.clone())))
    }

    pub(crate) fn uri(&self) -> &str {
        &self.descriptor.uri
    }

    pub(crate) fn has_reader(&self) -> bool {
        self.reader.is_some()
    }

    pub(crate) fn descriptor(&self) -> &ResourceDescriptor {
        &self.descriptor
    }

    pub(crate) fn read(&self, ctx: &Context) -> Result<Vec<ResourceContents>, ExportError> {
        let reader = self
            .reader
            .as_ref()
            .expect("registered resources have readers");
        let contents = reader(ctx, &self.descriptor.uri)?;
        Ok(with_default_mime_type(
            contents,
            self.descriptor.mime_type.as_ref(),
        ))
    }
}

/// A family of resources named by a URI template, and how to read them.
///
/// The template uses RFC 6570 level-1 expressions only: `{name}` between
/// literal text, as in `note://{name}` or `db://{table}/{id}.json`. A URI
/// matches when it is the template with each variable replaced by a
/// non-empty value without `/`, `?` or `#`; the reader gets the
/// percent-decoded values in [`TemplateVars`].
///
/// ```
/// # use mcp_plugin::{ResourceContents, ResourceTemplate};
/// let notes = ResourceTemplate::new("note://{name}", "note")
///     .description("A note, by name")
///     .mime_type("text/markdown")
///     .reader(|_ctx, uri, vars| {
///         let name = vars.require("name")?;
///         Ok(ResourceContents::text(uri, format!("# {name}\n")))
///     })
///     .complete_argument("name", |_ctx, typed, _| vec![format!("{typed}-draft")]);
/// ```
pub struct ResourceTemplate {
    descriptor: ResourceTemplateDescriptor,
    template: Result<UriTemplate, String>,
    reader: Option<TemplateReader>,
    completers: Vec<(String, Completer)>,
}

impl std::fmt::Debug for ResourceTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceTemplate")
            .field("descriptor", &self.descriptor)
            .finish_non_exhaustive()
    }
}

impl ResourceTemplate {
    /// Resources matching `uri_template`, called `name` as a family.
    pub fn new(uri_template: impl Into<String>, name: impl Into<String>) -> Self {
        let uri_template = uri_template.into();
        Self {
            template: UriTemplate::parse(&uri_template),
            descriptor: ResourceTemplateDescriptor {
                uri_template,
                name: name.into(),
                title: None,
                description: None,
                mime_type: None,
            },
            reader: None,
            completers: Vec::new(),
        }
    }

    /// A human-readable title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.descriptor.title = Some(title.into());
        self
    }

    /// What the resources hold.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.descriptor.description = Some(description.into());
        self
    }

    /// The resources' MIME type, also given to contents that set none.
    pub fn mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.descriptor.mime_type = Some(mime_type.into());
        self
    }

    /// Set the reader: it receives the URI being read and the template's
    /// variables, and returns the contents. Return
    /// [`ExportError::NotFound`] for a URI that matches but names nothing.
    pub fn reader<O, F>(mut self, reader: F) -> Self
    where
        O: IntoResourceContents,
        F: Fn(&Context, &str, &TemplateVars) -> Result<O, ExportError> + 'static,
    {
        self.reader = Some(Box::new(move |ctx, uri, vars| {
            reader(ctx, uri, vars).map(IntoResourceContents::into_resource_contents)
        }));
        self
    }

    /// Suggest values for the template variable `variable`: `complete`
    /// receives what the user typed so far and the variables already
    /// filled in, and returns suggestions (a `Vec` of strings or a
    /// [`Completion`]).
    pub fn complete_argument<O, F>(mut self, variable: impl Into<String>, complete: F) -> Self
    where
        O: Into<Completion>,
        F: Fn(&Context, &str, &TemplateVars) -> O + 'static,
    {
        self.completers.push((variable.into(), completer(complete)));
        self
    }

    pub(crate) fn uri_template(&self) -> &str {
        &self.descriptor.uri_template
    }

    pub(crate) fn descriptor(&self) -> &ResourceTemplateDescriptor {
        &self.descriptor
    }

    /// Why the template cannot be registered, if it cannot.
    pub(crate) fn problem(&self) -> Option<String> {
        let template = match &self.template {
            Ok(template) => template,
            Err(problem) => return Some(format!("URI template {problem}")),
        };
        if self.reader.is_none() {
            return Some("has no reader".into());
        }
        for (variable, _) in &self.completers {
            if !template.variables().any(|name| name == variable) {
                return Some(format!(
                    "completes `{variable}`, which is not one of its variables"
                ));
            }
        }
        let mut seen = Vec::new();
        for (variable, _) in &self.completers {
            if seen.contains(&variable) {
                return Some(format!("completes `{variable}` twice"));
            }
            seen.push(variable);
        }
        None
    }

    pub(crate) fn has_variable(&self, name: &str) -> bool {
        self.template
            .as_ref()
            .is_ok_and(|template| template.variables().any(|v| v == name))
    }

    pub(crate) fn completer(&self, variable: &str) -> Option<&Completer> {
        self.completers
            .iter()
            .find(|(name, _)| name == variable)
            .map(|(_, complete)| complete)
    }

    /// Read `uri` if it matches the template.
    pub(crate) fn try_read(
        &self,
        ctx: &Context,
        uri: &str,
    ) -> Option<Result<Vec<ResourceContents>, ExportError>> {
        let vars = self.template.as_ref().ok()?.matches(uri)?;
        let reader = self
            .reader
            .as_ref()
            .expect("registered templates have readers");
        Some(
            reader(ctx, uri, &vars).map(|contents| {
                with_default_mime_type(contents, self.descriptor.mime_type.as_ref())
            }),
        )
    }
}

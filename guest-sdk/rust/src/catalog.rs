//! The host's catalog: the resources and prompts every loaded plugin serves
//! (this one included), as the client sees them. A plugin can read another
//! plugin's resource or render its prompt, and can tell clients that its
//! own resources changed.

use crate::bindings::mcp::plugin::context as context_host;
use crate::bindings::mcp::plugin::host_catalog as host;
use crate::context::Context;
use crate::error::FacadeError;
use crate::prompt::{PromptDescriptor, PromptResult};
use crate::resource::{ResourceContents, ResourceDescriptor, ResourceTemplateDescriptor};

/// A handle on the host's catalog, from [`Context::catalog`].
#[derive(Debug, Clone, Copy)]
pub struct Catalog<'a> {
    _context: &'a Context,
}

impl Context {
    /// The resources and prompts the host serves.
    pub fn catalog(&self) -> Catalog<'_> {
        Catalog { _context: self }
    }

    /// Tell subscribed clients that the resource `uri` changed
    /// (`notifications/resources/updated`); clients that did not subscribe
    /// to it hear nothing.
    pub fn resource_updated(&self, uri: &str) {
        context_host::resource_updated(uri);
    }

    /// Tell clients that the set of resources changed
    /// (`notifications/resources/list_changed`), for example after the
    /// plugin created one.
    pub fn resource_list_changed(&self) {
        context_host::resource_list_changed();
    }
}

impl Catalog<'_> {
    /// Every resource at a fixed URI.
    pub fn list_resources(&self) -> Result<Vec<ResourceDescriptor>, FacadeError> {
        Ok(host::list_resources()?
            .into_iter()
            .map(ResourceDescriptor::from_wit)
            .collect())
    }

    /// Every resource template.
    pub fn list_resource_templates(&self) -> Result<Vec<ResourceTemplateDescriptor>, FacadeError> {
        Ok(host::list_resource_templates()?
            .into_iter()
            .map(ResourceTemplateDescriptor::from_wit)
            .collect())
    }

    /// Read the resource `uri`, whichever plugin serves it.
    ///
    /// # Errors
    ///
    /// [`FacadeError::InvalidInput`] when no plugin serves it; otherwise
    /// whatever the host reports.
    pub fn read_resource(&self, uri: &str) -> Result<Vec<ResourceContents>, FacadeError> {
        Ok(host::read_resource(uri)?
            .into_iter()
            .map(ResourceContents::from_wit)
            .collect())
    }

    /// Every prompt.
    pub fn list_prompts(&self) -> Result<Vec<PromptDescriptor>, FacadeError> {
        Ok(host::list_prompts()?
            .into_iter()
            .map(PromptDescriptor::from_wit)
            .collect())
    }

    /// Render the prompt `name` with these arguments (name and value
    /// pairs; `&Arguments::new()` for none).
    pub fn get_prompt<K, V>(
        &self,
        name: &str,
        arguments: impl IntoIterator<Item = (K, V)>,
    ) -> Result<PromptResult, FacadeError>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let arguments: serde_json::Map<String, serde_json::Value> = arguments
            .into_iter()
            .map(|(name, value)| (name.into(), serde_json::Value::String(value.into())))
            .collect();
        let arguments = serde_json::Value::Object(arguments).to_string();
        Ok(PromptResult::from_wit(host::get_prompt(name, &arguments)?))
    }
}

//! What the host serves besides tools, merged across plugins: resources
//! (fixed URIs listed live on every request, URI templates declared at
//! load), prompts and argument completions. The MCP adapter answers clients
//! from here, and the `host-catalog` capability answers plugins from here,
//! so both see the same thing.

use std::collections::HashSet;
use std::sync::Arc;

use crate::auth::Access;
use crate::catalog::CatalogHandle;
use crate::content::{
    Completion, CompletionTarget, PromptDescriptor, PromptResult, ResourceContents,
    ResourceDescriptor, ResourceTemplate,
};
use crate::context::{BoxFuture, CallContext, FacadeError, HostCatalog};
use crate::error::InvocationError;
use crate::plugin::Plugin;
use crate::runtime::{Runtime, ServeError};

/// Builds the context of each plugin call made while serving one request.
pub type CallFactory<'a> = &'a (dyn Fn() -> CallContext + Send + Sync);

/// The catalog and the runtime, for serving resources, prompts and
/// completions.
#[derive(Debug)]
pub struct CatalogService {
    pub catalog: Arc<CatalogHandle>,
    pub runtime: Arc<Runtime>,
}

impl CatalogService {
    /// The resources at fixed URIs, from every plugin that lists some. A
    /// plugin whose listing fails is left out (and logged); a URI listed by
    /// two plugins is kept once, from the first in name order.
    pub async fn list_resources(
        &self,
        access: &Access,
        make_call: CallFactory<'_>,
    ) -> Vec<ResourceDescriptor> {
        let catalog = self.catalog.snapshot();
        let mut seen = HashSet::new();
        let mut all = Vec::new();
        for plugin in visible(&catalog, access).filter(|p| p.lists_resources) {
            match self.runtime.list_resources(plugin, make_call()).await {
                Ok(list) => all.extend(list.into_iter().filter(|r| seen.insert(r.uri.clone()))),
                Err(e) => tracing::warn!(plugin = %plugin.name, "listing resources failed: {e}"),
            }
        }
        all
    }

    /// Every plugin's resource templates.
    pub fn list_resource_templates(&self, access: &Access) -> Vec<ResourceTemplate> {
        let catalog = self.catalog.snapshot();
        visible(&catalog, access)
            .filter(|p| p.serves_resources())
            .flat_map(|p| p.templates.iter().map(|t| t.template.clone()))
            .collect()
    }

    /// Read `uri`: plugins with a matching template are asked first, then
    /// those that list resources, until one does not answer `not-found`.
    pub async fn read_resource(
        &self,
        uri: &str,
        access: &Access,
        make_call: CallFactory<'_>,
    ) -> Result<Vec<ResourceContents>, ServeError> {
        let catalog = self.catalog.snapshot();
        let mut candidates: Vec<&Arc<Plugin>> = visible(&catalog, access)
            .filter(|p| p.serves_resources() && p.templates.iter().any(|t| t.pattern.matches(uri)))
            .collect();
        for plugin in visible(&catalog, access).filter(|p| p.lists_resources) {
            if !candidates.iter().any(|c| Arc::ptr_eq(c, plugin)) {
                candidates.push(plugin);
            }
        }
        for plugin in candidates {
            match self.runtime.read_resource(plugin, uri, make_call()).await {
                Err(ServeError::NotFound(_)) => continue,
                Ok(contents) if contents.is_empty() => {
                    return Err(ServeError::Failed {
                        plugin: plugin.name.to_string(),
                        message: format!("reading `{uri}` returned no contents"),
                    });
                }
                other => return other,
            }
        }
        Err(ServeError::NotFound(format!(
            "no plugin serves the resource `{uri}`"
        )))
    }

    /// Every exposed prompt, under the name clients see.
    pub fn list_prompts(&self, access: &Access) -> Vec<PromptDescriptor> {
        let catalog = self.catalog.snapshot();
        catalog
            .prompts()
            .iter()
            .filter(|p| access.allows(&p.plugin.name))
            .map(|p| PromptDescriptor {
                name: p.name.clone(),
                ..p.spec().descriptor.clone()
            })
            .collect()
    }

    /// Render the prompt clients know as `name`, after checking that every
    /// required argument is present.
    pub async fn get_prompt(
        &self,
        name: &str,
        arguments: Vec<(String, String)>,
        access: &Access,
        make_call: CallFactory<'_>,
    ) -> Result<PromptResult, ServeError> {
        let catalog = self.catalog.snapshot();
        let prompt = catalog
            .prompt(name)
            .filter(|p| access.allows(&p.plugin.name))
            .ok_or_else(|| ServeError::InvalidParams(format!("unknown prompt `{name}`")))?;
        let spec = prompt.spec();
        let missing: Vec<&str> = spec
            .descriptor
            .arguments
            .iter()
            .filter(|a| a.required && !arguments.iter().any(|(k, _)| *k == a.name))
            .map(|a| a.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(ServeError::InvalidParams(format!(
                "prompt `{name}` needs the argument(s) {}",
                missing
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let declared = spec.descriptor.name.clone();
        self.runtime
            .get_prompt(&prompt.plugin, &declared, arguments, make_call())
            .await
    }

    /// Suggest values for `argument` of a prompt (named as clients see it)
    /// or resource template.
    /// Targets nobody serves get no suggestions rather than an error, as
    /// clients ask while the user types.
    pub async fn complete(
        &self,
        target: CompletionTarget,
        argument: String,
        value: String,
        context: Vec<(String, String)>,
        access: &Access,
        make_call: CallFactory<'_>,
    ) -> Result<Completion, ServeError> {
        let catalog = self.catalog.snapshot();
        let (plugin, reference) = match &target {
            CompletionTarget::Prompt(name) => match catalog
                .prompt(name)
                .filter(|p| access.allows(&p.plugin.name))
            {
                Some(p) => (
                    p.plugin.clone(),
                    CompletionTarget::Prompt(p.spec().descriptor.name.clone()),
                ),
                None => {
                    return Err(ServeError::InvalidParams(format!(
                        "unknown prompt `{name}`"
                    )));
                }
            },
            CompletionTarget::ResourceTemplate(uri_template) => {
                let owner = visible(&catalog, access).find(|p| {
                    p.serves_resources()
                        && p.templates
                            .iter()
                            .any(|t| t.template.uri_template == *uri_template)
                });
                match owner {
                    Some(p) => (
                        p.clone(),
                        CompletionTarget::ResourceTemplate(uri_template.clone()),
                    ),
                    None => return Ok(Completion::default()),
                }
            }
        };
        let mut completion = self
            .runtime
            .complete(&plugin, reference, argument, value, context, make_call())
            .await?;
        if completion.values.len() > MAX_COMPLETION_VALUES {
            completion.values.truncate(MAX_COMPLETION_VALUES);
            completion.has_more = true;
        }
        Ok(completion)
    }
}

/// The plugins of `catalog` that `access` reaches.
fn visible<'a>(
    catalog: &'a crate::catalog::Catalog,
    access: &'a Access,
) -> impl Iterator<Item = &'a Arc<Plugin>> + 'a {
    catalog.plugins().iter().filter(|p| access.allows(&p.name))
}

/// MCP allows at most 100 completion values per answer.
pub const MAX_COMPLETION_VALUES: usize = 100;

/// A plugin reading the host's catalog is told what went wrong as a facade
/// error: a name or URI nobody serves, or bad arguments, is its own input.
fn facade_error(e: ServeError) -> FacadeError {
    match e {
        ServeError::NotFound(m) | ServeError::InvalidParams(m) => FacadeError::InvalidInput(m),
        ServeError::Invocation(InvocationError::Cancelled) => FacadeError::Cancelled,
        other => FacadeError::Failed(other.to_string()),
    }
}

impl HostCatalog for CatalogService {
    fn list_resources<'a>(
        &'a self,
        on_behalf: &'a CallContext,
    ) -> BoxFuture<'a, Vec<ResourceDescriptor>> {
        Box::pin(async move {
            let make_call = || on_behalf.nested_sibling();
            CatalogService::list_resources(self, &on_behalf.access, &make_call).await
        })
    }

    fn list_resource_templates(&self, access: &Access) -> Vec<ResourceTemplate> {
        CatalogService::list_resource_templates(self, access)
    }

    fn read_resource<'a>(
        &'a self,
        uri: &'a str,
        on_behalf: &'a CallContext,
    ) -> BoxFuture<'a, Result<Vec<ResourceContents>, FacadeError>> {
        Box::pin(async move {
            let make_call = || on_behalf.nested_sibling();
            CatalogService::read_resource(self, uri, &on_behalf.access, &make_call)
                .await
                .map_err(facade_error)
        })
    }

    fn list_prompts(&self, access: &Access) -> Vec<PromptDescriptor> {
        CatalogService::list_prompts(self, access)
    }

    fn get_prompt<'a>(
        &'a self,
        name: &'a str,
        arguments: Vec<(String, String)>,
        on_behalf: &'a CallContext,
    ) -> BoxFuture<'a, Result<PromptResult, FacadeError>> {
        Box::pin(async move {
            let make_call = || on_behalf.nested_sibling();
            CatalogService::get_prompt(self, name, arguments, &on_behalf.access, &make_call)
                .await
                .map_err(facade_error)
        })
    }
}

//! The `mcp:plugin/host-catalog` interface: a plugin reads the resources and
//! prompts the host serves (its own and other plugins'), exactly as a client
//! would see them. Reads run the serving plugin in its own sandbox, one
//! level deeper than the caller, and nesting is bounded.

use std::sync::Arc;

use serde_json::Value;
use wasmtime::component::{HasSelf, Linker};

use super::HostCapability;
use super::client_requests::FacadeResult;
use crate::bindings::{host_catalog, types};
use crate::capability::{Capability, CapabilityKind};
use crate::context::{CallContext, HostCatalog};
use crate::runtime::HostState;

/// The host's resources and prompts (`mcp:plugin/host-catalog`).
pub const HOST_CATALOG: Capability = Capability::named("host-catalog");

/// The `host-catalog` capability.
pub struct HostCatalogCapability;

impl CapabilityKind for HostCatalogCapability {
    fn id(&self) -> Capability {
        HOST_CATALOG
    }

    fn interfaces(&self) -> &'static [&'static str] {
        &["mcp:plugin/host-catalog"]
    }
}

impl HostCapability for HostCatalogCapability {
    fn add_to_linker(&self, linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        host_catalog::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)
    }
}

/// How deeply plugin calls may nest through the host catalog.
pub const MAX_NESTING: u32 = 4;

impl HostState {
    /// The catalog, once the grant is checked, and the context on behalf
    /// of which nested calls run.
    fn host_catalog(&self) -> Result<(Arc<dyn HostCatalog>, CallContext), types::FacadeError> {
        self.check_grant(HOST_CATALOG)?;
        let catalog = self.call.host_catalog.clone().ok_or_else(|| {
            types::FacadeError::UnsupportedByClient(
                "the host catalog is only available while serving a client request".into(),
            )
        })?;
        if self.call.depth >= MAX_NESTING {
            return Err(types::FacadeError::Denied(format!(
                "plugin calls through the host catalog may nest at most {MAX_NESTING} deep"
            )));
        }
        Ok((catalog, self.call.nested()))
    }
}

impl host_catalog::Host for HostState {
    async fn list_resources(&mut self) -> FacadeResult<Vec<types::ResourceDescriptor>> {
        let (catalog, on_behalf) = self.host_catalog()?;
        let listed = catalog.list_resources(&on_behalf).await;
        Ok(listed.into_iter().map(Into::into).collect())
    }

    async fn list_resource_templates(&mut self) -> FacadeResult<Vec<types::ResourceTemplate>> {
        let (catalog, on_behalf) = self.host_catalog()?;
        Ok(catalog
            .list_resource_templates(&on_behalf.access)
            .into_iter()
            .map(Into::into)
            .collect())
    }

    async fn read_resource(&mut self, uri: String) -> FacadeResult<Vec<types::ResourceContents>> {
        let (catalog, on_behalf) = self.host_catalog()?;
        let contents = catalog.read_resource(&uri, &on_behalf).await?;
        Ok(contents.into_iter().map(Into::into).collect())
    }

    async fn list_prompts(&mut self) -> FacadeResult<Vec<types::PromptDescriptor>> {
        let (catalog, on_behalf) = self.host_catalog()?;
        Ok(catalog
            .list_prompts(&on_behalf.access)
            .into_iter()
            .map(Into::into)
            .collect())
    }

    async fn get_prompt(
        &mut self,
        name: String,
        arguments: String,
    ) -> FacadeResult<types::PromptResult> {
        let (catalog, on_behalf) = self.host_catalog()?;
        let arguments = prompt_arguments(&arguments)?;
        Ok(catalog
            .get_prompt(&name, arguments, &on_behalf)
            .await?
            .into())
    }
}

/// Prompt arguments from a JSON object of strings.
fn prompt_arguments(text: &str) -> Result<Vec<(String, String)>, types::FacadeError> {
    let invalid = |m: String| types::FacadeError::InvalidInput(m);
    let value: Value = serde_json::from_str(if text.trim().is_empty() { "{}" } else { text })
        .map_err(|e| invalid(format!("prompt arguments are not valid JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(invalid("prompt arguments must be a JSON object".into()));
    };
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            other => Err(invalid(format!(
                "prompt argument `{k}` must be a string, not {other}"
            ))),
        })
        .collect()
}

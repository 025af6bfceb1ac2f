//! The `mcp:plugin/host-catalog` interface: a plugin reads the resources and
//! prompts the host serves (its own and other plugins'), exactly as a client
//! would see them. Reads run the serving plugin in its own sandbox, one
//! level deeper than the caller, and nesting is bounded.

use serde_json::Value;
use wasmtime::component::{HasSelf, Linker};

use super::client_requests::FacadeResult;
use crate::bindings::{host_catalog, types};
use crate::capabilities::Capability;
use crate::context::CallContext;
use crate::runtime::{HostState, ServeError};
use crate::serving::CatalogService;

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    host_catalog::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)
}

/// How deeply plugin calls may nest through the host catalog.
pub const MAX_NESTING: u32 = 4;

impl HostState {
    /// The catalog, and a factory for the contexts of nested calls.
    fn served(&self) -> Result<(std::sync::Arc<CatalogService>, CallContext), types::FacadeError> {
        let served = self.call.served.clone().ok_or_else(|| {
            types::FacadeError::UnsupportedByClient(
                "the host catalog is only available while serving a client request".into(),
            )
        })?;
        if self.call.depth >= MAX_NESTING {
            return Err(types::FacadeError::Denied(format!(
                "plugin calls through the host catalog may nest at most {MAX_NESTING} deep"
            )));
        }
        Ok((served, self.call.nested()))
    }
}

fn serve_error(e: ServeError) -> types::FacadeError {
    match e {
        ServeError::NotFound(m) | ServeError::InvalidParams(m) => {
            types::FacadeError::InvalidInput(m)
        }
        ServeError::Invocation(crate::error::InvocationError::Cancelled) => {
            types::FacadeError::Cancelled
        }
        other => types::FacadeError::Failed(other.to_string()),
    }
}

impl host_catalog::Host for HostState {
    async fn list_resources(&mut self) -> FacadeResult<Vec<types::ResourceDescriptor>> {
        if let Err(denied) = self.check_grant(Capability::HostCatalog) {
            return Ok(Err(denied));
        }
        let (served, template) = match self.served() {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        let make_call = || template.nested_sibling();
        Ok(Ok(served
            .list_resources(&template.access, &make_call)
            .await))
    }

    async fn list_resource_templates(&mut self) -> FacadeResult<Vec<types::ResourceTemplate>> {
        if let Err(denied) = self.check_grant(Capability::HostCatalog) {
            return Ok(Err(denied));
        }
        Ok(self
            .served()
            .map(|(s, call)| s.list_resource_templates(&call.access)))
    }

    async fn read_resource(&mut self, uri: String) -> FacadeResult<Vec<types::ResourceContents>> {
        if let Err(denied) = self.check_grant(Capability::HostCatalog) {
            return Ok(Err(denied));
        }
        let (served, template) = match self.served() {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        let make_call = || template.nested_sibling();
        Ok(served
            .read_resource(&uri, &template.access, &make_call)
            .await
            .map_err(serve_error))
    }

    async fn list_prompts(&mut self) -> FacadeResult<Vec<types::PromptDescriptor>> {
        if let Err(denied) = self.check_grant(Capability::HostCatalog) {
            return Ok(Err(denied));
        }
        Ok(self.served().map(|(s, call)| s.list_prompts(&call.access)))
    }

    async fn get_prompt(
        &mut self,
        name: String,
        arguments: String,
    ) -> FacadeResult<types::PromptResult> {
        if let Err(denied) = self.check_grant(Capability::HostCatalog) {
            return Ok(Err(denied));
        }
        let (served, template) = match self.served() {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        let arguments = match prompt_arguments(&arguments) {
            Ok(a) => a,
            Err(e) => return Ok(Err(e)),
        };
        let make_call = || template.nested_sibling();
        Ok(served
            .get_prompt(&name, arguments, &template.access, &make_call)
            .await
            .map_err(serve_error))
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

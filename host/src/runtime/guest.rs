//! What the runtime runs: a loaded plugin as the runtime sees it
//! ([`Runnable`], [`Guest`]: who runs, under which limits), the exports its
//! component has, what it declares at load, and why a request it serves
//! was not served ([`ServeError`]).

use std::sync::Arc;

use wasmtime::component::InstancePre;

use super::HostState;
use crate::bindings::{completions, prompts, resources, tools, types};
use crate::content::{PromptDescriptor, ResourceTemplate};
use crate::error::InvocationError;
use crate::limits::PluginLimits;
use crate::tool::{ToolDeclaration, ToolSpec};

/// Why a resource, prompt or completion request was not served.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// No plugin (or not this one) serves that name or URI.
    #[error("{0}")]
    NotFound(String),
    /// The request's arguments are wrong.
    #[error("{0}")]
    InvalidParams(String),
    /// The plugin ran and reported a failure.
    #[error("plugin `{plugin}` failed: {message}")]
    Failed { plugin: String, message: String },
    /// The plugin could not finish.
    #[error(transparent)]
    Invocation(#[from] InvocationError),
}

impl ServeError {
    pub(super) fn from_export(plugin: &str, error: types::ExportError) -> Self {
        match error {
            types::ExportError::NotFound(m) => ServeError::NotFound(m),
            types::ExportError::InvalidParams(m) => ServeError::InvalidParams(m),
            types::ExportError::Failed(message) => ServeError::Failed {
                plugin: plugin.to_string(),
                message,
            },
        }
    }
}

/// What a plugin declares at load, per export it has.
#[derive(Debug, Default)]
pub struct Declarations {
    pub tools: Option<Vec<ToolDeclaration>>,
    pub resources: Option<ResourceSupport>,
    pub prompts: Option<Vec<PromptDescriptor>>,
}

/// What a plugin with the resources export serves.
#[derive(Debug, Default)]
pub struct ResourceSupport {
    /// The URI templates it reads.
    pub templates: Vec<ResourceTemplate>,
    /// Whether listing its resources may return anything.
    pub lists_resources: bool,
}

/// The optional exports a component has, as indices ready to call.
#[derive(Clone, Default)]
pub struct GuestExports {
    pub(crate) tools: Option<tools::GuestIndices>,
    pub(crate) resources: Option<resources::GuestIndices>,
    pub(crate) prompts: Option<prompts::GuestIndices>,
    pub(crate) completions: Option<completions::GuestIndices>,
}

impl GuestExports {
    /// The exports `pre`'s component has.
    pub fn of(pre: &InstancePre<HostState>) -> Self {
        GuestExports {
            tools: tools::GuestIndices::new(pre).ok(),
            resources: resources::GuestIndices::new(pre).ok(),
            prompts: prompts::GuestIndices::new(pre).ok(),
            completions: completions::GuestIndices::new(pre).ok(),
        }
    }

    /// Whether it has at least one of the tools, resources and prompts
    /// exports (completions alone serve nothing).
    pub fn serves_anything(&self) -> bool {
        self.tools.is_some() || self.resources.is_some() || self.prompts.is_some()
    }
}

/// What the runtime runs: a loaded plugin, as the runtime sees it. The
/// loaded plugin implements it; the runtime knows nothing else of it.
pub trait Runnable: Send + Sync {
    /// Who runs, under which limits.
    fn guest(&self) -> Guest<'_>;
    fn exports(&self) -> &GuestExports;
    /// Its tool number `index` (as the catalog holds it).
    fn tool_spec(&self, index: usize) -> Option<&ToolSpec>;
    /// Whether it serves any resources at all (the export alone is not
    /// enough: it must list some or declare templates).
    fn serves_resources(&self) -> bool;
}

/// The resources export of `plugin`, if it serves resources.
pub(super) fn resources_export(
    plugin: &impl Runnable,
) -> Result<resources::GuestIndices, ServeError> {
    plugin
        .exports()
        .resources
        .clone()
        .filter(|_| plugin.serves_resources())
        .ok_or_else(|| {
            ServeError::NotFound(format!(
                "plugin `{}` serves no resources",
                plugin.guest().name
            ))
        })
}

/// Who runs, under which limits: enough to run an export before the
/// plugin is loaded.
pub struct Guest<'a> {
    pub name: &'a Arc<str>,
    pub limits: PluginLimits,
    /// What a caller with every role is granted.
    pub grants: &'a Arc<crate::policy::Grants>,
    /// What each caller is granted, when that differs between callers.
    pub caller_grants: Option<&'a crate::policy::CallerGrants>,
    pub budget: &'a super::PluginBudget,
    pub pre: &'a InstancePre<HostState>,
}

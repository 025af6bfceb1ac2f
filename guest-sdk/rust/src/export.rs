//! The glue [`crate::plugin!`] expands to: the WIT exports, each answered
//! from the plugin's [`Registry`], built once per plugin instance (after
//! the panic hook is installed).
//!
//! Public only so that the macros can name it (as `mcp_plugin::__private`);
//! not part of the API.

pub use crate::bindings::export;
pub use crate::bindings::exports::mcp::plugin::completions::{
    Completion as WitCompletion, CompletionRef as WitCompletionRef, Guest as CompletionsGuest,
};
pub use crate::bindings::exports::mcp::plugin::prompts::Guest as PromptsGuest;
pub use crate::bindings::exports::mcp::plugin::resources::{
    Guest as ResourcesGuest, ResourceSupport,
};
pub use crate::bindings::exports::mcp::plugin::tools::Guest as ToolsGuest;
pub use crate::bindings::mcp::plugin::types::{
    CallResult, ExportError as WitExportError, PromptDescriptor as WitPromptDescriptor,
    PromptResult as WitPromptResult, ResourceContents as WitResourceContents,
    ResourceDescriptor as WitResourceDescriptor, ToolDescriptor, ToolError as WitToolError,
};
pub use crate::typed::{structured_output, with_return_schema};
pub use std::string::String;
pub use std::vec::Vec;

use std::cell::OnceCell;

use crate::args::Arguments;
use crate::completion::{CompletionRef, CompletionRequest};
use crate::context::Context;
use crate::error::{ExportError, ToolError};
use crate::registry::Registry;

thread_local! {
    static REGISTRY: OnceCell<Registry> = const { OnceCell::new() };
}

fn with_registry<R>(register: fn(&mut Registry), f: impl FnOnce(&Registry) -> R) -> R {
    // Before `register` runs: a mistake in a registration panics too.
    crate::panics::install_hook();
    REGISTRY.with(|cell| {
        f(cell.get_or_init(|| {
            let mut registry = Registry::new();
            register(&mut registry);
            registry
        }))
    })
}

/// The `list-tools` export.
pub fn list_tools(register: fn(&mut Registry)) -> Vec<ToolDescriptor> {
    with_registry(register, Registry::descriptors)
}

/// The `call-tool` export.
pub fn call_tool(
    register: fn(&mut Registry),
    name: String,
    arguments: String,
) -> Result<CallResult, WitToolError> {
    with_registry(register, |registry| {
        registry
            .call(&name, &arguments)
            .map(|output| output.into_wit())
            .map_err(ToolError::into_wit)
    })
}

/// The `describe-resources` export.
pub fn describe_resources(register: fn(&mut Registry)) -> ResourceSupport {
    with_registry(register, |registry| ResourceSupport {
        templates: registry
            .resource_templates()
            .into_iter()
            .map(|template| template.into_wit())
            .collect(),
        lists_resources: registry.lists_resources(),
    })
}

/// The `list-resources` export.
pub fn list_resources(
    register: fn(&mut Registry),
) -> Result<Vec<WitResourceDescriptor>, WitExportError> {
    with_registry(register, |registry| {
        registry
            .list_resources(&Context::new())
            .map(|listed| listed.into_iter().map(|r| r.into_wit()).collect())
            .map_err(ExportError::into_wit)
    })
}

/// The `read-resource` export.
pub fn read_resource(
    register: fn(&mut Registry),
    uri: String,
) -> Result<Vec<WitResourceContents>, WitExportError> {
    with_registry(register, |registry| {
        registry
            .read_resource(&Context::new(), &uri)
            .map(|contents| contents.into_iter().map(|c| c.into_wit()).collect())
            .map_err(ExportError::into_wit)
    })
}

/// The `list-prompts` export.
pub fn list_prompts(register: fn(&mut Registry)) -> Vec<WitPromptDescriptor> {
    with_registry(register, |registry| {
        registry
            .prompt_descriptors()
            .into_iter()
            .map(|prompt| prompt.into_wit())
            .collect()
    })
}

/// The `get-prompt` export.
pub fn get_prompt(
    register: fn(&mut Registry),
    name: String,
    arguments: Vec<(String, String)>,
) -> Result<WitPromptResult, WitExportError> {
    let arguments: Arguments = arguments.into_iter().collect();
    with_registry(register, |registry| {
        registry
            .get_prompt(&Context::new(), &name, &arguments)
            .map(|result| result.into_wit())
            .map_err(ExportError::into_wit)
    })
}

/// The `complete` export.
pub fn complete(
    register: fn(&mut Registry),
    reference: WitCompletionRef,
    argument: String,
    value: String,
    context: Vec<(String, String)>,
) -> Result<WitCompletion, WitExportError> {
    let request = CompletionRequest {
        reference: CompletionRef::from_wit(reference),
        argument,
        value,
        context: context.into_iter().collect(),
    };
    with_registry(register, |registry| {
        registry
            .complete(&Context::new(), &request)
            .map(|completion| completion.into_wit())
            .map_err(ExportError::into_wit)
    })
}

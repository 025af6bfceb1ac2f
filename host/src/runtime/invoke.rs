//! Running a plugin export in a fresh sandbox and turning what happened
//! (a result, a tool error, a trap, an exceeded limit, a cancellation) into
//! a [`ToolResult`] or an [`InvocationError`] that names the cause.

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use wasmtime::Store;

use super::{HostState, Interrupted, Runtime};
use crate::bindings::types;
use crate::context::CallContext;
use crate::error::InvocationError;
use crate::plugin::Plugin;
use crate::tool::{Content, ResourceBody, ToolResult};

impl Runtime {
    /// Call `tool` of `plugin` with `arguments` (a JSON object already
    /// validated against the tool's input schema).
    pub async fn call_tool(
        &self,
        plugin: &Plugin,
        tool: &str,
        arguments: &Value,
        call: CallContext,
    ) -> Result<ToolResult, InvocationError> {
        let arguments = arguments.to_string();
        let cancel = call.cancel.clone();
        let deadline = Instant::now() + plugin.limits.timeout;
        let _slot = tokio::select! {
            slot = self.acquire_slot(deadline) => slot.ok_or_else(|| InvocationError::Capacity {
                plugin: plugin.name.to_string(),
                slots: self.limits().max_instances,
            })?,
            () = cancel.cancelled() => return Err(InvocationError::Cancelled),
        };
        let mut store = self.new_store(
            plugin.name.clone(),
            call,
            plugin.limits.memory_bytes,
            deadline,
        );
        let run = async {
            let instance = plugin.pre.instantiate_async(&mut store).await?;
            let guest = plugin.tools_export.load(&mut store, &instance)?;
            guest.call_call_tool(&mut store, tool, &arguments).await
        };
        let outcome = tokio::select! {
            biased;
            r = run => r,
            () = cancel.cancelled() => Err(wasmtime::Error::new(Interrupted::Cancelled)),
            () = tokio::time::sleep_until(deadline.into()) => Err(wasmtime::Error::new(Interrupted::Deadline)),
        };
        match outcome {
            Ok(Ok(result)) => {
                let spec = plugin.tool(tool);
                convert_result(
                    plugin,
                    spec.and_then(|s| s.output_validator.as_deref()),
                    result,
                )
            }
            Ok(Err(error)) => Ok(convert_tool_error(error)),
            Err(e) => Err(classify(plugin, &store, e)),
        }
    }

    /// Ask a plugin for its tool descriptors (done once, at load).
    pub(crate) async fn list_tools(
        &self,
        plugin_name: &Arc<str>,
        pre: &wasmtime::component::InstancePre<HostState>,
        export: &crate::bindings::tools::GuestIndices,
        limits: crate::limits::PluginLimits,
    ) -> Result<Vec<types::ToolDescriptor>, String> {
        let deadline = Instant::now() + limits.timeout;
        let _slot = self
            .acquire_slot(deadline)
            .await
            .ok_or("timed out waiting for a free sandbox")?;
        let mut store = self.new_store(
            plugin_name.clone(),
            CallContext::detached("list-tools"),
            limits.memory_bytes,
            deadline,
        );
        let run = async {
            let instance = pre.instantiate_async(&mut store).await?;
            let guest = export.load(&mut store, &instance)?;
            guest.call_list_tools(&mut store).await
        };
        let outcome = tokio::select! {
            r = run => r,
            () = tokio::time::sleep_until(deadline.into()) => Err(wasmtime::Error::new(Interrupted::Deadline)),
        };
        outcome.map_err(|e| {
            let limits_desc = format!(
                "{} ms, {} MiB",
                limits.timeout.as_millis(),
                limits.memory_bytes >> 20
            );
            match e.downcast_ref::<Interrupted>() {
                Some(Interrupted::Deadline) => format!("timed out ({limits_desc})"),
                _ if store.data().limiter.hit => {
                    format!("exceeded its memory limit ({limits_desc})")
                }
                _ => crate::error::one_line(&e),
            }
        })
    }
}

/// Name the cause of a failed call.
fn classify(plugin: &Plugin, store: &Store<HostState>, error: wasmtime::Error) -> InvocationError {
    let name = plugin.name.to_string();
    match error.downcast_ref::<Interrupted>() {
        Some(Interrupted::Deadline) => {
            return InvocationError::Deadline {
                plugin: name,
                limit: plugin.limits.timeout,
            };
        }
        Some(Interrupted::Cancelled) => return InvocationError::Cancelled,
        None => {}
    }
    if store.data().limiter.hit {
        return InvocationError::Memory {
            plugin: name,
            limit_bytes: plugin.limits.memory_bytes,
        };
    }
    if let Some(trap) = error.downcast_ref::<wasmtime::Trap>() {
        return InvocationError::Trap {
            plugin: name,
            message: trap_message(*trap),
        };
    }
    InvocationError::Instantiate {
        plugin: name,
        message: crate::error::one_line(&error),
    }
}

fn trap_message(trap: wasmtime::Trap) -> String {
    match trap {
        wasmtime::Trap::UnreachableCodeReached => {
            "it reached unreachable code (a panic or abort in the plugin)".into()
        }
        wasmtime::Trap::StackOverflow => "it overflowed its stack".into(),
        wasmtime::Trap::MemoryOutOfBounds => "it accessed memory out of bounds".into(),
        other => other.to_string(),
    }
}

fn convert_result(
    plugin: &Plugin,
    output_validator: Option<&jsonschema::Validator>,
    result: types::CallResult,
) -> Result<ToolResult, InvocationError> {
    let invalid = |message: String| InvocationError::InvalidOutput {
        plugin: plugin.name.to_string(),
        message,
    };
    let structured = match result.structured_content {
        Some(text) => Some(
            serde_json::from_str::<Value>(&text)
                .map_err(|e| invalid(format!("structured content is not valid JSON: {e}")))?,
        ),
        None => None,
    };
    if let Some(validator) = output_validator {
        let Some(value) = &structured else {
            return Err(invalid(
                "the tool declares an output schema but returned no structured content".into(),
            ));
        };
        crate::schema::check_arguments(validator, value).map_err(|e| {
            invalid(format!(
                "structured content does not match the output schema: {e}"
            ))
        })?;
    }
    Ok(ToolResult {
        content: result.content.into_iter().map(convert_content).collect(),
        structured,
        is_error: false,
    })
}

fn convert_tool_error(error: types::ToolError) -> ToolResult {
    let mut content = vec![Content::Text(error.message)];
    content.extend(error.content.into_iter().map(convert_content));
    ToolResult {
        content,
        structured: None,
        is_error: true,
    }
}

fn convert_content(block: types::ContentBlock) -> Content {
    match block {
        types::ContentBlock::Text(text) => Content::Text(text),
        types::ContentBlock::Image(b) => Content::Image {
            data: b.data,
            mime_type: b.mime_type,
        },
        types::ContentBlock::Audio(b) => Content::Audio {
            data: b.data,
            mime_type: b.mime_type,
        },
        types::ContentBlock::ResourceLink(l) => Content::ResourceLink {
            uri: l.uri,
            name: l.name,
            title: l.title,
            description: l.description,
            mime_type: l.mime_type,
            size: l.size,
        },
        types::ContentBlock::EmbeddedResource(r) => Content::Resource {
            uri: r.uri,
            mime_type: r.mime_type,
            body: match r.body {
                types::ResourceBody::Text(t) => ResourceBody::Text(t),
                types::ResourceBody::Blob(b) => ResourceBody::Blob(b),
            },
        },
    }
}

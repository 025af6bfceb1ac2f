//! Running the exports a plugin serves the host's catalog through (its
//! resources, prompts and completions), each in a fresh sandbox like a
//! tool call, and holding what they return to `--max-response-kib`.

use std::sync::Arc;
use std::time::Instant;

use super::guest::{Runnable, ServeError, resources_export};
use super::invoke::{Body, export_call};
use super::panic::Runs;
use super::{PluginCounters, Runtime};
use crate::bindings::{completions, types};
use crate::content::{
    Completion, CompletionTarget, PromptResult, ResourceContents, ResourceDescriptor,
};
use crate::context::CallContext;
use crate::error::InvocationError;

impl Runtime {
    /// Run one of `plugin`'s catalog exports in a fresh sandbox, where
    /// [`CallPlacement`](super::CallPlacement) puts it given how long its
    /// exports took lately (so one that computes leaves a serving thread as
    /// a tool call does, and the next goes to the pool at once): what
    /// stopped the sandbox, or the error the export returned, as a
    /// [`ServeError`].
    async fn run_export<P: Runnable + 'static, T: Send + 'static>(
        self: &Arc<Self>,
        plugin: &Arc<P>,
        call: CallContext,
        body: Body<Result<T, types::ExportError>>,
    ) -> Result<T, ServeError> {
        let runtime = self.clone();
        let placed = plugin.clone();
        let run =
            Box::pin(async move { runtime.run(placed.guest(), call, Runs::Plugin, body).await });
        let pace = &plugin.guest().budget.export_pace;
        let started = Instant::now();
        let ran = self.placement.run(pace, run).await;
        pace.record(started.elapsed());
        ran?.map_err(|e| ServeError::from_export(plugin.guest().name, e))
    }

    /// The resources `plugin` lists at fixed URIs for this request.
    pub(crate) async fn list_resources(
        self: &Arc<Self>,
        plugin: &Arc<impl Runnable + 'static>,
        call: CallContext,
    ) -> Result<Vec<ResourceDescriptor>, ServeError> {
        let export = resources_export(&**plugin)?;
        let listed: Vec<ResourceDescriptor> = self
            .run_export(plugin, call, export_call!(export.call_list_resources()))
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        self.within_response_cap(&**plugin, listed.iter().map(ResourceDescriptor::size).sum())?;
        Ok(listed)
    }

    /// Read `uri` from `plugin`.
    pub(crate) async fn read_resource(
        self: &Arc<Self>,
        plugin: &Arc<impl Runnable + 'static>,
        uri: &str,
        call: CallContext,
    ) -> Result<Vec<ResourceContents>, ServeError> {
        let export = resources_export(&**plugin)?;
        let uri = uri.to_string();
        let contents = self
            .run_export(plugin, call, export_call!(export.call_read_resource(&uri)))
            .await?;
        let contents: Vec<ResourceContents> = contents.into_iter().map(Into::into).collect();
        self.within_response_cap(&**plugin, contents.iter().map(ResourceContents::size).sum())?;
        Ok(contents)
    }

    /// Refuse what a plugin served when it is larger than `--max-response-kib`
    /// (tool results are checked in [`Self::run_tool`]).
    fn within_response_cap(&self, plugin: &impl Runnable, size: usize) -> Result<(), ServeError> {
        let limit = self.limits().max_response_bytes;
        if size > limit {
            PluginCounters::bump(&plugin.guest().budget.counters.oversized);
            return Err(ServeError::Invocation(InvocationError::ResponseTooLarge {
                plugin: plugin.guest().name.to_string(),
                size,
                limit,
            }));
        }
        Ok(())
    }

    /// Render prompt `name` of `plugin`.
    pub(crate) async fn get_prompt(
        self: &Arc<Self>,
        plugin: &Arc<impl Runnable + 'static>,
        name: &str,
        arguments: Vec<(String, String)>,
        call: CallContext,
    ) -> Result<PromptResult, ServeError> {
        let Some(export) = plugin.exports().prompts.clone() else {
            return Err(ServeError::NotFound(format!(
                "plugin `{}` serves no prompts",
                plugin.guest().name
            )));
        };
        let name = name.to_string();
        let prompt: PromptResult = self
            .run_export(
                plugin,
                call,
                export_call!(export.call_get_prompt(&name, &arguments)),
            )
            .await?
            .into();
        let size = prompt.description.as_ref().map_or(0, String::len)
            + prompt
                .messages
                .iter()
                .map(|m| m.content.size())
                .sum::<usize>();
        self.within_response_cap(&**plugin, size)?;
        Ok(prompt)
    }

    /// Ask `plugin` to complete an argument of one of its prompts or templates.
    pub(crate) async fn complete(
        self: &Arc<Self>,
        plugin: &Arc<impl Runnable + 'static>,
        target: CompletionTarget,
        argument: String,
        value: String,
        context: Vec<(String, String)>,
        call: CallContext,
    ) -> Result<Completion, ServeError> {
        let Some(export) = plugin.exports().completions.clone() else {
            return Ok(Completion::default());
        };
        let reference = completions::CompletionRef::from(target);
        let completion: Completion = self
            .run_export(
                plugin,
                call,
                export_call!(export.call_complete(&reference, &argument, &value, &context)),
            )
            .await?
            .into();
        self.within_response_cap(&**plugin, completion.values.iter().map(String::len).sum())?;
        Ok(completion)
    }
}

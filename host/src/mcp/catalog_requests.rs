//! The MCP requests for what plugins serve besides tools: resources
//! (list, templates, read), prompts (list, get) and completions, answered
//! from [`crate::serving::CatalogService`]. With a 2026-07-28 client, prompts and
//! resource reads run in rounds ([`super::rounds`]) like tool calls, so a
//! plugin may ask the client something while serving them.

use rmcp::model::{
    CompleteRequestParams, CompleteResult, GetPromptRequestParams, GetPromptResponse,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Reference,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer};

use serde_json::Value;

use super::convert::catalog_items as convert;
use super::rounds::{Finished, RoundOutcome, Rounds};
use super::server::{McpServer, RequestFacts, page};
use super::shares::CallShare;
use crate::auth::Access;
use crate::content::{CompletionTarget, PromptResult, ResourceContents};
use crate::context::CallContext;
use crate::runtime::ServeError;

/// The protocol error for a request that could not be served.
fn mcp_error(e: ServeError, not_found: fn(String) -> McpError) -> McpError {
    match e {
        ServeError::NotFound(m) => not_found(m),
        ServeError::InvalidParams(m) => McpError::invalid_params(m, None),
        other => McpError::internal_error(other.to_string(), None),
    }
}

fn resource_not_found(message: String) -> McpError {
    McpError::resource_not_found(message, None)
}

fn invalid_params(message: String) -> McpError {
    McpError::invalid_params(message, None)
}

/// A resource read's contents as the MCP result.
fn resource_result(
    contents: Result<Vec<ResourceContents>, ServeError>,
) -> Result<ReadResourceResult, McpError> {
    let contents = contents
        .map_err(|e| mcp_error(e, resource_not_found))?
        .into_iter()
        .map(convert::contents)
        .collect();
    Ok(ReadResourceResult::new(contents))
}

/// A prompt's messages as the MCP result.
fn prompt_result(
    result: Result<PromptResult, ServeError>,
) -> Result<rmcp::model::GetPromptResult, McpError> {
    Ok(convert::prompt_result(
        result.map_err(|e| mcp_error(e, invalid_params))?,
    ))
}

impl McpServer {
    /// One page of `all`, each item converted to its MCP form.
    fn converted_page<T: Clone, U>(
        &self,
        all: &[T],
        request: Option<PaginatedRequestParams>,
        convert: fn(T) -> U,
    ) -> Result<(Vec<U>, Option<String>), McpError> {
        let (items, next) = page(all, request, self.shared.page_size)?;
        Ok((items.into_iter().map(convert).collect(), next))
    }

    /// Over HTTP, the caller's place among its running calls for a request
    /// that runs plugin exports, or the refusal naming the cap once it
    /// holds its share (see [`super::shares`]). Over stdio the one client
    /// has no other caller to starve: `None`.
    fn catalog_share(
        &self,
        ctx: &RequestContext<RoleServer>,
        facts: &RequestFacts,
    ) -> Result<Option<CallShare>, McpError> {
        if ctx.extensions.get::<http::request::Parts>().is_none() {
            return Ok(None);
        }
        let principal = facts.access.principal().map_or("", |p| p.id.as_str());
        match self.shared.shares.take(principal) {
            Some(share) => Ok(Some(share)),
            None => Err(McpError::internal_error(
                self.shared.shares.refusal(principal),
                None,
            )),
        }
    }

    /// A factory for the contexts of the plugin calls serving `ctx`, which
    /// `facts` describe.
    fn call_factory(
        &self,
        ctx: &RequestContext<RoleServer>,
        facts: &RequestFacts,
    ) -> impl Fn() -> CallContext + Send + Sync + use<> {
        let server = self.clone();
        let facts = facts.clone();
        let cancel = ctx.ct.clone();
        let channel = self.peer_channel(ctx);
        move || server.call_context(&facts, channel.clone(), cancel.clone())
    }

    pub(super) async fn handle_list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let facts = self.facts(&ctx);
        let _share = self.catalog_share(&ctx, &facts)?;
        let make_call = self.call_factory(&ctx, &facts);
        let all = self
            .shared
            .catalog_service
            .list_resources(&facts.access, &make_call)
            .await;
        let (items, next) = self.converted_page(&all, request, convert::resource)?;
        let mut result = ListResourcesResult::with_all_items(items);
        result.next_cursor = next;
        Ok(result)
    }

    pub(super) fn handle_list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        access: &Access,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        let all = self.shared.catalog_service.list_resource_templates(access);
        let (items, next) = self.converted_page(&all, request, convert::template)?;
        let mut result = ListResourceTemplatesResult::with_all_items(items);
        result.next_cursor = next;
        Ok(result)
    }

    pub(super) async fn handle_read_resource(
        &self,
        request: ReadResourceRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let facts = self.facts(&ctx);
        let _share = self.catalog_share(&ctx, &facts)?;
        if Self::is_modern(&ctx) {
            let uri = Value::String(request.uri.clone());
            let rounds = Rounds::of(
                "resource",
                &uri,
                None,
                &request.request_state,
                &request.input_responses,
            );
            let served = self.shared.catalog_service.clone();
            let wanted = request.uri.clone();
            let access = facts.access.clone();
            return self
                .answer_rounds(
                    &ctx,
                    &facts,
                    rounds,
                    move |call| async move {
                        Finished::Resource(served.read_resource(&wanted, &access, &*call).await)
                    },
                    |outcome| match outcome {
                        RoundOutcome::Done(Finished::Resource(r)) => Ok(resource_result(r)?.into()),
                        RoundOutcome::Done(other) => {
                            Err(McpError::internal_error(other.missing_result(), None))
                        }
                        RoundOutcome::Input(input) => Ok(input.into()),
                    },
                )
                .await;
        }
        let make_call = self.call_factory(&ctx, &facts);
        let contents = self
            .shared
            .catalog_service
            .read_resource(&request.uri, &facts.access, &make_call)
            .await;
        Ok(resource_result(contents)?.into())
    }

    pub(super) fn handle_list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        access: &Access,
    ) -> Result<ListPromptsResult, McpError> {
        let all = self.shared.catalog_service.list_prompts(access);
        let (items, next) = self.converted_page(&all, request, convert::prompt)?;
        let mut result = ListPromptsResult::with_all_items(items);
        result.next_cursor = next;
        Ok(result)
    }

    pub(super) async fn handle_get_prompt(
        &self,
        request: GetPromptRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let mut arguments = Vec::new();
        for (name, value) in request.arguments.unwrap_or_default() {
            match value {
                serde_json::Value::String(s) => arguments.push((name, s)),
                other => {
                    return Err(McpError::invalid_params(
                        format!("prompt argument `{name}` must be a string, not {other}"),
                        None,
                    ));
                }
            }
        }
        let facts = self.facts(&ctx);
        let _share = self.catalog_share(&ctx, &facts)?;
        if Self::is_modern(&ctx) {
            let key = serde_json::json!([request.name, arguments]);
            let rounds = Rounds::of(
                "prompt",
                &key,
                None,
                &request.request_state,
                &request.input_responses,
            );
            let served = self.shared.catalog_service.clone();
            let name = request.name.clone();
            let access = facts.access.clone();
            return self
                .answer_rounds(
                    &ctx,
                    &facts,
                    rounds,
                    move |call| async move {
                        Finished::Prompt(served.get_prompt(&name, arguments, &access, &*call).await)
                    },
                    |outcome| match outcome {
                        RoundOutcome::Done(Finished::Prompt(r)) => Ok(prompt_result(r)?.into()),
                        RoundOutcome::Done(other) => {
                            Err(McpError::internal_error(other.missing_result(), None))
                        }
                        RoundOutcome::Input(input) => Ok(input.into()),
                    },
                )
                .await;
        }
        let make_call = self.call_factory(&ctx, &facts);
        let result = self
            .shared
            .catalog_service
            .get_prompt(&request.name, arguments, &facts.access, &make_call)
            .await;
        Ok(prompt_result(result)?.into())
    }

    pub(super) async fn handle_complete(
        &self,
        request: CompleteRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let target = match request.r#ref {
            Reference::Prompt(p) => CompletionTarget::Prompt(p.name),
            Reference::Resource(r) => CompletionTarget::ResourceTemplate(r.uri),
            _ => {
                return Err(McpError::invalid_params(
                    "completion/complete refers to something other than a prompt or a resource template",
                    None,
                ));
            }
        };
        let context: Vec<(String, String)> = request
            .context
            .and_then(|c| c.arguments)
            .map(|a| a.into_iter().collect())
            .unwrap_or_default();
        let facts = self.facts(&ctx);
        let _share = self.catalog_share(&ctx, &facts)?;
        let make_call = self.call_factory(&ctx, &facts);
        let completion = self
            .shared
            .catalog_service
            .complete(
                target,
                request.argument.name,
                request.argument.value,
                context,
                &facts.access,
                &make_call,
            )
            .await
            .map_err(|e| mcp_error(e, invalid_params))?;
        Ok(CompleteResult::new(convert::completion(completion)))
    }
}

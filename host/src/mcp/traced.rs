//! One server span per MCP request and notification, after the
//! OpenTelemetry MCP semantic conventions: [`Traced`] wraps a session's
//! handler, opens the span (continuing the caller's trace from
//! `params._meta`, else from the HTTP headers), hands it to the handler in
//! the request's extensions, and marks it failed for a protocol error or
//! an `isError` tool result. With tracing off the spans are disabled and
//! each method only forwards.

use std::borrow::Cow;
use std::future::Future;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CancelTaskParams, CancelledNotificationParam,
    CompleteRequestParams, CompleteResult, CustomNotification, CustomRequest, CustomResult,
    DiscoverResult, GetPromptRequestParams, GetPromptResponse, GetSkillRequestParams,
    GetSkillResult, GetTaskParams, GetTaskResult, InitializeRequestParams, InitializeResult,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListSkillsResult,
    ListToolsResult, PaginatedRequestParams, ProgressNotificationParam, ProtocolVersion,
    ReadResourceDirectoryRequestParams, ReadResourceDirectoryResult, ReadResourceRequestParams,
    ReadResourceResponse, ServerConfig, SetLevelRequestParams, SubscribeRequestParams,
    SubscriptionFilter, Tool, UnsubscribeRequestParams, UpdateTaskParams,
};
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use tracing::Instrument as _;

use super::McpServer;
use crate::telemetry::propagation;
use crate::telemetry::spans::{self, Message, TOOL_ERROR, Transport};

/// The server span of the request being handled, in its extensions.
#[derive(Clone)]
pub(super) struct RequestSpan(pub(super) tracing::Span);

/// A session's handler, traced.
#[derive(Clone)]
pub struct Traced(McpServer);

/// What a request names besides its method.
#[derive(Default)]
struct Target<'a> {
    tool: Option<&'a str>,
    prompt: Option<&'a str>,
    resource_uri: Option<&'a str>,
}

impl Traced {
    pub fn new(server: McpServer) -> Self {
        Self(server)
    }

    /// The transport, the MCP session id and the HTTP headers of a message.
    fn transport_facts<'a>(
        &'a self,
        extensions: &'a rmcp::model::Extensions,
    ) -> (Transport, Option<&'a str>, Option<&'a http::HeaderMap>) {
        match extensions.get::<http::request::Parts>() {
            Some(parts) => (
                Transport::Http,
                parts
                    .headers
                    .get("mcp-session-id")
                    .and_then(|v| v.to_str().ok()),
                Some(&parts.headers),
            ),
            None => (Transport::Stdio, self.0.session_id.as_deref(), None),
        }
    }

    /// Open the server span of a request and hand it to the handler.
    fn open(
        &self,
        method: &str,
        target: Target<'_>,
        context: &mut RequestContext<RoleServer>,
    ) -> tracing::Span {
        let span = {
            let (transport, session_id, headers) = self.transport_facts(&context.extensions);
            let request_id = context.id.to_string();
            let protocol_version = context.protocol_version().map(|v| v.to_string());
            let span = spans::server(&Message {
                method,
                tool: target.tool,
                prompt: target.prompt,
                resource_uri: target.resource_uri,
                request_id: Some(&request_id),
                session_id,
                protocol_version: protocol_version.as_deref(),
                transport: Some(transport),
            });
            if !span.is_disabled() {
                propagation::continue_trace(
                    &span,
                    propagation::from_meta(&context.meta.0.0),
                    headers.and_then(propagation::from_headers),
                );
            }
            span
        };
        context.extensions.insert(RequestSpan(span.clone()));
        span
    }

    /// Open the server span of a notification.
    fn open_notification(
        &self,
        method: &str,
        context: &NotificationContext<RoleServer>,
    ) -> tracing::Span {
        let (transport, session_id, headers) = self.transport_facts(&context.extensions);
        let span = spans::server(&Message {
            method,
            session_id,
            transport: Some(transport),
            ..Message::default()
        });
        if !span.is_disabled() {
            propagation::continue_trace(
                &span,
                propagation::from_meta(&context.meta.0.0),
                headers.and_then(propagation::from_headers),
            );
        }
        span
    }
}

/// Run `handler` in `span`, marking the span failed for a protocol error.
async fn answer<T>(
    span: tracing::Span,
    handler: impl Future<Output = Result<T, McpError>>,
) -> Result<T, McpError> {
    let result = handler.instrument(span.clone()).await;
    if let Err(error) = &result {
        let code = error.code.0;
        spans::fail(&span, &code.to_string(), Some(code), &error.message);
    }
    result
}

/// Handler methods that open a request's span (with the prompt or
/// resource the request names, if it does) and forward.
macro_rules! traced_requests {
    ($($handler:ident($params:ty) -> $result:ty = $method:literal $(, $request:ident => $target:expr)?;)*) => {$(
        async fn $handler(
            &self,
            request: $params,
            mut context: RequestContext<RoleServer>,
        ) -> Result<$result, McpError> {
            $(let $request = &request;)?
            let target = traced_requests!(@target $($target)?);
            let span = self.open($method, target, &mut context);
            answer(span, self.0.$handler(request, context)).await
        }
    )*};
    (@target) => { Target::default() };
    (@target $target:expr) => { $target };
}

impl ServerHandler for Traced {
    traced_requests! {
        get_prompt(GetPromptRequestParams) -> GetPromptResponse = "prompts/get",
            r => Target { prompt: Some(&r.name), ..Target::default() };
        read_resource(ReadResourceRequestParams) -> ReadResourceResponse = "resources/read",
            r => Target { resource_uri: Some(&r.uri), ..Target::default() };
        subscribe(SubscribeRequestParams) -> () = "resources/subscribe",
            r => Target { resource_uri: Some(&r.uri), ..Target::default() };
        unsubscribe(UnsubscribeRequestParams) -> () = "resources/unsubscribe",
            r => Target { resource_uri: Some(&r.uri), ..Target::default() };
        complete(CompleteRequestParams) -> CompleteResult = "completion/complete";
        set_level(SetLevelRequestParams) -> () = "logging/setLevel";
        list_prompts(Option<PaginatedRequestParams>) -> ListPromptsResult = "prompts/list";
        list_resources(Option<PaginatedRequestParams>) -> ListResourcesResult = "resources/list";
        list_resource_templates(Option<PaginatedRequestParams>) -> ListResourceTemplatesResult = "resources/templates/list";
        list_tools(Option<PaginatedRequestParams>) -> ListToolsResult = "tools/list";
        get_task(GetTaskParams) -> GetTaskResult = "tasks/get";
        update_task(UpdateTaskParams) -> () = "tasks/update";
        cancel_task(CancelTaskParams) -> () = "tasks/cancel";
        list_skills(Option<PaginatedRequestParams>) -> ListSkillsResult = "skills/list";
        get_skill(GetSkillRequestParams) -> GetSkillResult = "skills/get";
        read_resource_directory(ReadResourceDirectoryRequestParams) -> ReadResourceDirectoryResult = "resources/directory/read";
    }

    fn get_info(&self) -> ServerConfig {
        self.0.get_info()
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        ServerHandler::supported_protocol_versions(&self.0)
    }

    fn negotiate_initialize(
        &self,
        request: &InitializeRequestParams,
    ) -> Result<InitializeResult, McpError> {
        self.0.negotiate_initialize(request)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.0.get_tool(name)
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        self.0.accepted_subscription_filter(requested)
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), McpError> {
        self.0.listen(context).await
    }

    async fn ping(&self, mut context: RequestContext<RoleServer>) -> Result<(), McpError> {
        let span = self.open("ping", Target::default(), &mut context);
        answer(span, self.0.ping(context)).await
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        mut context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, McpError> {
        let span = self.open("initialize", Target::default(), &mut context);
        answer(span, self.0.initialize(request, context)).await
    }

    async fn discover(
        &self,
        mut context: RequestContext<RoleServer>,
    ) -> Result<DiscoverResult, McpError> {
        let span = self.open("server/discover", Target::default(), &mut context);
        answer(span, self.0.discover(context)).await
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        mut context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let target = Target {
            tool: Some(&request.name),
            ..Target::default()
        };
        let span = self.open("tools/call", target, &mut context);
        let response = answer(span.clone(), self.0.call_tool(request, context)).await;
        if let Ok(CallToolResponse::Complete(result)) = &response
            && result.is_error == Some(true)
        {
            spans::fail(&span, TOOL_ERROR, None, "the tool reported an error");
        }
        response
    }

    async fn on_custom_request(
        &self,
        request: CustomRequest,
        mut context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, McpError> {
        let method = request.method.clone();
        let span = self.open(&method, Target::default(), &mut context);
        answer(span, self.0.on_custom_request(request, context)).await
    }

    async fn on_cancelled(
        &self,
        notification: CancelledNotificationParam,
        context: NotificationContext<RoleServer>,
    ) {
        let span = self.open_notification("notifications/cancelled", &context);
        self.0
            .on_cancelled(notification, context)
            .instrument(span)
            .await
    }

    async fn on_progress(
        &self,
        notification: ProgressNotificationParam,
        context: NotificationContext<RoleServer>,
    ) {
        let span = self.open_notification("notifications/progress", &context);
        self.0
            .on_progress(notification, context)
            .instrument(span)
            .await
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let span = self.open_notification("notifications/initialized", &context);
        self.0.on_initialized(context).instrument(span).await
    }

    async fn on_roots_list_changed(&self, context: NotificationContext<RoleServer>) {
        let span = self.open_notification("notifications/roots/list_changed", &context);
        self.0.on_roots_list_changed(context).instrument(span).await
    }

    async fn on_custom_notification(
        &self,
        notification: CustomNotification,
        context: NotificationContext<RoleServer>,
    ) {
        let method = notification.method.clone();
        let span = self.open_notification(&method, &context);
        self.0
            .on_custom_notification(notification, context)
            .instrument(span)
            .await
    }
}

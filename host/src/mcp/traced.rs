//! One server span per MCP request and notification, after the
//! OpenTelemetry MCP semantic conventions: [`Traced`] wraps a session's
//! handler, opens the span (continuing the caller's trace from
//! `params._meta`, else from the HTTP headers), hands it to the handler in
//! the request's extensions, and marks it failed for a protocol error or
//! an `isError` tool result. With tracing off the spans are disabled and
//! each method only forwards.

use std::borrow::Cow;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

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
use crate::metrics::Metrics;
use crate::metrics::mcp::Labels;
use crate::telemetry::propagation;
use crate::telemetry::spans::{self, Message, TOOL_ERROR, Transport};

/// The server span of the request being handled, in its extensions.
#[derive(Clone)]
pub(super) struct RequestSpan(pub(super) tracing::Span);

/// A session's handler, traced.
#[derive(Clone)]
pub struct Traced(McpServer, Arc<SessionClock>);

/// How long a handshake-era session lasted, recorded when its handler
/// (every clone of it) is gone.
struct SessionClock {
    started: Instant,
    /// Set by a successful `initialize`: only then is it a session.
    protocol_version: OnceLock<String>,
    transport: Transport,
    metrics: Arc<Metrics>,
}

impl SessionClock {
    fn labels(&self, version: &str) -> Labels {
        vec![
            ("mcp_protocol_version", version.to_string()),
            (
                "network_transport",
                transport_name(self.transport).to_string(),
            ),
        ]
    }

    /// `initialize` succeeded with `version`: a session is open.
    fn opened(&self, version: String) {
        let labels = self.labels(&version);
        if self.protocol_version.set(version).is_ok() {
            self.metrics.mcp.session_opened(&labels);
        }
    }
}

impl Drop for SessionClock {
    fn drop(&mut self) {
        if let Some(version) = self.protocol_version.get() {
            let labels = self.labels(version);
            self.metrics
                .mcp
                .session_closed(labels, self.started.elapsed());
        }
    }
}

/// `network.transport` of the conventions.
fn transport_name(transport: Transport) -> &'static str {
    match transport {
        Transport::Stdio => "pipe",
        Transport::Http => "tcp",
    }
}

/// A message being handled: its span, when it arrived, and its labels on
/// `mcp_server_operation_duration_seconds`.
struct Opened {
    span: tracing::Span,
    started: Instant,
    labels: Labels,
}

/// What a request names besides its method.
#[derive(Default)]
struct Target<'a> {
    tool: Option<&'a str>,
    prompt: Option<&'a str>,
    resource_uri: Option<&'a str>,
}

impl Traced {
    pub fn new(server: McpServer) -> Self {
        let clock = SessionClock {
            started: Instant::now(),
            protocol_version: OnceLock::new(),
            // Only stdio (and in-process) sessions have a transport id.
            transport: match server.session_id {
                Some(_) => Transport::Stdio,
                None => Transport::Http,
            },
            metrics: server.shared.runtime.metrics().clone(),
        };
        Self(server, Arc::new(clock))
    }

    /// Record on the span and in the metrics how the message ended:
    /// `error_type` is the JSON-RPC code as text, or `tool_error`.
    fn finish(&self, opened: Opened, error: Option<(String, Option<i32>, &str)>) {
        let mut labels = opened.labels;
        if let Some((error_type, code, message)) = error {
            spans::fail(&opened.span, &error_type, code, message);
            labels.push(("error_type", error_type));
        }
        self.0
            .shared
            .runtime
            .metrics()
            .mcp
            .operation(labels, opened.started.elapsed());
    }

    /// Run `handler` in the message's span and record how it ended (a
    /// protocol error, or a result `tool_error` calls a tool error).
    ///
    /// The handler's future is boxed when the request arrives: a request's
    /// future is moved whole when its task is spawned, and the handlers'
    /// futures are kilobytes.
    fn answer<'a, T: Send + 'a>(
        &'a self,
        opened: Opened,
        handler: impl Future<Output = Result<T, McpError>> + Send + 'a,
        tool_error: impl FnOnce(&T) -> bool + Send + 'a,
    ) -> impl Future<Output = Result<T, McpError>> + Send + 'a {
        let handler = Box::pin(handler);
        async move {
            let result = handler.instrument(opened.span.clone()).await;
            match &result {
                Err(error) => {
                    let code = error.code.0;
                    self.finish(opened, Some((code.to_string(), Some(code), &error.message)));
                }
                Ok(value) if tool_error(value) => {
                    self.finish(
                        opened,
                        Some((TOOL_ERROR.to_string(), None, "the tool reported an error")),
                    );
                }
                Ok(_) => self.finish(opened, None),
            }
            result
        }
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
    ) -> Opened {
        let started = Instant::now();
        let mut labels = operation_labels(method, &target);
        let (transport, session_id, headers) = self.transport_facts(&context.extensions);
        let protocol_version = context.protocol_version().map(|v| v.to_string());
        labels.push(("network_transport", transport_name(transport).to_string()));
        let span = if spans::enabled() {
            let request_id = context.id.to_string();
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
            propagation::continue_trace(
                &span,
                propagation::from_meta(&context.meta.0.0),
                headers.and_then(propagation::from_headers),
            );
            span
        } else {
            tracing::Span::none()
        };
        if let Some(version) = protocol_version {
            labels.push(("mcp_protocol_version", version));
        }
        if span.is_disabled() {
            return Opened {
                span,
                started,
                labels,
            };
        }
        context.extensions.insert(RequestSpan(span.clone()));
        Opened {
            span,
            started,
            labels,
        }
    }

    /// Open the server span of a notification.
    fn open_notification(&self, method: &str, context: &NotificationContext<RoleServer>) -> Opened {
        let started = Instant::now();
        let (transport, session_id, headers) = self.transport_facts(&context.extensions);
        let mut labels = operation_labels(method, &Target::default());
        labels.push(("network_transport", transport_name(transport).to_string()));
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
        Opened {
            span,
            started,
            labels,
        }
    }

    /// Run a notification's handler in its span, and time it.
    async fn notified(&self, opened: Opened, handler: impl Future<Output = ()>) {
        handler.instrument(opened.span.clone()).await;
        self.finish(opened, None);
    }
}

/// The labels of a message on `mcp_server_operation_duration_seconds`
/// (never the session, request id or resource URI: too many values).
fn operation_labels(method: &str, target: &Target<'_>) -> Labels {
    let mut labels = vec![("mcp_method_name", method.to_string())];
    if let Some(tool) = target.tool {
        labels.push(("gen_ai_tool_name", tool.to_string()));
    }
    if let Some(prompt) = target.prompt {
        labels.push(("gen_ai_prompt_name", prompt.to_string()));
    }
    labels
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
            let opened = self.open($method, target, &mut context);
            self.answer(opened, self.0.$handler(request, context), |_| false).await
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
        let opened = self.open("ping", Target::default(), &mut context);
        self.answer(opened, self.0.ping(context), |_| false).await
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        mut context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, McpError> {
        let opened = self.open("initialize", Target::default(), &mut context);
        let result = self
            .answer(opened, self.0.initialize(request, context), |_| false)
            .await;
        if let Ok(initialized) = &result {
            self.1.opened(initialized.protocol_version.to_string());
        }
        result
    }

    async fn discover(
        &self,
        mut context: RequestContext<RoleServer>,
    ) -> Result<DiscoverResult, McpError> {
        let opened = self.open("server/discover", Target::default(), &mut context);
        self.answer(opened, self.0.discover(context), |_| false)
            .await
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
        let opened = self.open("tools/call", target, &mut context);
        let is_tool_error = |response: &CallToolResponse| matches!(response, CallToolResponse::Complete(result) if result.is_error == Some(true));
        self.answer(opened, self.0.call_tool(request, context), is_tool_error)
            .await
    }

    async fn on_custom_request(
        &self,
        request: CustomRequest,
        mut context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, McpError> {
        let method = super::core_tasks::wire_method(&request.method).to_string();
        let opened = self.open(&method, Target::default(), &mut context);
        self.answer(opened, self.0.on_custom_request(request, context), |_| {
            false
        })
        .await
    }

    async fn on_cancelled(
        &self,
        notification: CancelledNotificationParam,
        context: NotificationContext<RoleServer>,
    ) {
        let opened = self.open_notification("notifications/cancelled", &context);
        self.notified(opened, self.0.on_cancelled(notification, context))
            .await
    }

    async fn on_progress(
        &self,
        notification: ProgressNotificationParam,
        context: NotificationContext<RoleServer>,
    ) {
        let opened = self.open_notification("notifications/progress", &context);
        self.notified(opened, self.0.on_progress(notification, context))
            .await
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let opened = self.open_notification("notifications/initialized", &context);
        self.notified(opened, self.0.on_initialized(context)).await
    }

    async fn on_roots_list_changed(&self, context: NotificationContext<RoleServer>) {
        let opened = self.open_notification("notifications/roots/list_changed", &context);
        self.notified(opened, self.0.on_roots_list_changed(context))
            .await
    }

    async fn on_custom_notification(
        &self,
        notification: CustomNotification,
        context: NotificationContext<RoleServer>,
    ) {
        let method = notification.method.clone();
        let opened = self.open_notification(&method, &context);
        self.notified(opened, self.0.on_custom_notification(notification, context))
            .await
    }
}

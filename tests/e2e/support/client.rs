//! The MCP client the tests drive the host with: it records what the host
//! sends besides responses and answers the host's requests from a script.

use super::*;

/// What the client received besides responses.
#[derive(Debug, Default)]
pub struct Received {
    pub logs: Vec<LoggingMessageNotificationParam>,
    pub progress: Vec<ProgressNotificationParam>,
    /// The server's elicitation requests, in order.
    pub elicitations: Vec<ElicitRequestParams>,
    /// The `traceparent` in each elicitation request's `_meta`, if any.
    pub elicitation_traceparents: Vec<Option<String>>,
    /// The server's sampling requests, in order.
    pub samplings: Vec<CreateMessageRequestParams>,
    pub roots_requests: usize,
    /// URIs of `notifications/resources/updated`.
    pub resource_updates: Vec<String>,
    pub resource_list_changes: usize,
    pub tool_list_changes: usize,
    pub prompt_list_changes: usize,
}

/// How the test client answers the server's requests.
#[derive(Clone, Default)]
pub struct ClientScript {
    /// Declare sampling, elicitation (form and URL) and roots.
    pub capable: bool,
    /// Answers to elicitations, in order; when exhausted, the client declines.
    pub elicit_answers: Arc<Mutex<VecDeque<ElicitResult>>>,
    /// Wait this long before answering any request.
    pub delay: Option<Duration>,
    /// Answer requests only once the test has added permits to this.
    pub gate: Option<Arc<tokio::sync::Semaphore>>,
    /// Declare the tasks extension (`io.modelcontextprotocol/tasks`).
    pub tasks: bool,
}

impl ClientScript {
    /// A client declaring every capability, answering elicitations with `answers`.
    pub fn capable(answers: impl IntoIterator<Item = ElicitResult>) -> Self {
        Self {
            capable: true,
            elicit_answers: Arc::new(Mutex::new(answers.into_iter().collect())),
            delay: None,
            gate: None,
            tasks: false,
        }
    }

    /// Also declare the tasks extension.
    pub fn with_tasks(mut self) -> Self {
        self.tasks = true;
        self
    }
}

/// An accepted form with `content`.
pub fn accept(content: Value) -> ElicitResult {
    ElicitResult::new(rmcp::model::ElicitationAction::Accept).with_content(content)
}

pub fn decline() -> ElicitResult {
    ElicitResult::new(rmcp::model::ElicitationAction::Decline)
}

pub fn cancel() -> ElicitResult {
    ElicitResult::new(rmcp::model::ElicitationAction::Cancel)
}

/// An MCP client handler that records notifications and requests (as they
/// arrive) and answers requests as its [`ClientScript`] says.
#[derive(Clone, Default)]
pub struct RecordingClient {
    pub received: Arc<Mutex<Received>>,
    pub script: ClientScript,
}

impl RecordingClient {
    async fn pause(&self) {
        if let Some(d) = self.script.delay {
            tokio::time::sleep(d).await;
        }
        if let Some(gate) = &self.script.gate {
            // Closed never; the permit goes back at once.
            let _ = gate.acquire().await;
        }
    }
}

impl ClientHandler for RecordingClient {
    fn get_info(&self) -> ClientInfo {
        let mut capabilities = if self.script.capable {
            ClientCapabilities::builder()
                .enable_elicitation_with(
                    rmcp::model::ElicitationCapability::new()
                        .with_form(rmcp::model::FormElicitationCapability::new())
                        .with_url(rmcp::model::UrlElicitationCapability::new()),
                )
                .enable_sampling()
                .enable_roots()
                .build()
        } else {
            ClientCapabilities::default()
        };
        if self.script.tasks {
            capabilities
                .extensions
                .get_or_insert_default()
                .insert(rmcp::model::TASKS_EXTENSION_ID.into(), Default::default());
        }
        ClientInfo::new(capabilities, Implementation::new("e2e-client", "1.2.3"))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        ctx: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, rmcp::ErrorData> {
        let traceparent = ctx.meta.get_traceparent().map(str::to_string);
        {
            let mut received = self.received.lock().unwrap();
            received.elicitations.push(request);
            received.elicitation_traceparents.push(traceparent);
        }
        self.pause().await;
        let next = self.script.elicit_answers.lock().unwrap().pop_front();
        Ok(next.unwrap_or_else(decline))
    }

    async fn create_message(
        &self,
        request: CreateMessageRequestParams,
        _ctx: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, rmcp::ErrorData> {
        self.received.lock().unwrap().samplings.push(request);
        self.pause().await;
        Ok(CreateMessageResult::new(
            SamplingMessage::assistant_text("Paris."),
            "test-model".into(),
        )
        .with_stop_reason(CreateMessageResult::STOP_REASON_END_TURN))
    }

    async fn list_roots(
        &self,
        _ctx: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, rmcp::ErrorData> {
        self.received.lock().unwrap().roots_requests += 1;
        self.pause().await;
        Ok(ListRootsResult::new(vec![
            Root::new("file:///workspace").with_name("workspace"),
            Root::new("file:///data"),
        ]))
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _ctx: NotificationContext<RoleClient>,
    ) {
        self.received
            .lock()
            .unwrap()
            .resource_updates
            .push(params.uri);
    }

    async fn on_resource_list_changed(&self, _ctx: NotificationContext<RoleClient>) {
        self.received.lock().unwrap().resource_list_changes += 1;
    }

    async fn on_tool_list_changed(&self, _ctx: NotificationContext<RoleClient>) {
        self.received.lock().unwrap().tool_list_changes += 1;
    }

    async fn on_prompt_list_changed(&self, _ctx: NotificationContext<RoleClient>) {
        self.received.lock().unwrap().prompt_list_changes += 1;
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _ctx: NotificationContext<RoleClient>,
    ) {
        self.received.lock().unwrap().logs.push(params);
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _ctx: NotificationContext<RoleClient>,
    ) {
        self.received.lock().unwrap().progress.push(params);
    }
}

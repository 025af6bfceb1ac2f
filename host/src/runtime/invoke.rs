//! Running a plugin export in a fresh sandbox and turning what happened
//! (a result, a tool error, a trap, an exceeded limit, a cancellation) into
//! a [`ToolResult`] or an error that names the cause.

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use tokio_util::sync::CancellationToken;
use wasmtime::Store;
use wasmtime::component::Instance;

use super::audit::{self, AuditEntry, CallUsage};
use super::guest::{Declarations, Guest, GuestExports, ResourceSupport, Runnable};
use super::panic::Runs;
use super::warm::WarmInstance;
use super::{CallClock, HostState, Interrupted, PluginCounters, Runtime};
use crate::bindings::types;
use crate::content::Content;
use crate::context::{BoxFuture, CallContext};
use crate::error::InvocationError;
use crate::limits::PluginLimits;
use crate::metrics::CallOutcome;
use crate::telemetry::{propagation, spans};
use crate::tool::{ToolResult, ToolSpec};

/// The [`Body`] calling `export.method(args...)` on the fresh instance.
macro_rules! export_call {
    ($export:ident . $method:ident ( $($arg:expr),* )) => {
        Box::new(
            move |store: &mut wasmtime::Store<super::HostState>,
                  instance: wasmtime::component::Instance| {
                Box::pin(async move {
                    $export.load(&mut *store, &instance)?.$method(store $(, $arg)*).await
                })
            },
        )
    };
}
pub(super) use export_call;

/// The body of a guest call: given the store and the fresh instance, call
/// one export.
pub(super) type Body<R> = Box<
    dyn for<'s> FnOnce(&'s mut Store<HostState>, Instance) -> BoxFuture<'s, wasmtime::Result<R>>
        + Send,
>;

impl Runtime {
    /// Run `body` in a sandbox of `guest`: wait for room, take the
    /// session's warm instance (a `per-session` plugin) or build a fresh
    /// store and instance, and stop the guest on its deadline or when the
    /// request is cancelled. A trap the guest reported a panic for is named
    /// by the panic's message, `runs` being what panicked.
    pub(super) async fn run<R: Send>(
        &self,
        guest: Guest<'_>,
        call: CallContext,
        runs: Runs,
        body: Body<R>,
    ) -> Result<R, InvocationError> {
        let mut usage = CallUsage::default();
        let span = spans::guest(&call.span, guest.name);
        let call = call.with_span(span.clone());
        let result = self.run_measured(guest, call, runs, body, &mut usage).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(error) => audit::error_name(error),
        };
        spans::finish_guest(&span, usage.fuel, usage.peak_memory_bytes, outcome);
        result
    }

    /// [`Runtime::run`], telling `usage` what the guest burned and held
    /// when it ran (it stays zero when the call never reached the guest).
    /// `call`'s span is the guest's: instantiation and the facade calls
    /// hang under it.
    async fn run_measured<R: Send>(
        &self,
        guest: Guest<'_>,
        call: CallContext,
        runs: Runs,
        body: Body<R>,
        usage: &mut CallUsage,
    ) -> Result<R, InvocationError> {
        // A task runs under its own time limit (every kind of run, tool
        // calls included); fuel and memory stay.
        let guest = if call.as_task {
            Guest {
                limits: PluginLimits {
                    timeout: guest.limits.task_timeout,
                    ..guest.limits
                },
                ..guest
            }
        } else {
            guest
        };
        let cancel: CancellationToken = call.cancel.clone();
        let clock = CallClock::new(Instant::now() + guest.limits.timeout);
        let wait_deadline = Instant::now() + guest.limits.timeout;
        let counters = &guest.budget.counters;
        let _admitted = tokio::select! {
            admitted = guest.budget.admit(wait_deadline) => admitted.map_err(|()| {
                PluginCounters::bump(&counters.busy);
                InvocationError::Busy {
                    plugin: guest.name.to_string(),
                    max_concurrent: guest.budget.max_concurrent.unwrap_or_default(),
                    waited: guest.limits.timeout,
                }
            })?,
            () = cancel.cancelled() => return Err(InvocationError::Cancelled),
        };
        // A per-session plugin: wait for the session's previous call to
        // hand its instance back. A call made from inside another (through
        // the host catalog) may come from this session's instance itself,
        // busy until the call returns: it runs on a fresh instance instead
        // of waiting for itself.
        // What this caller is granted (evaluated once per caller and plugin
        // version, when rules for some callers match the plugin).
        let grants = match guest.caller_grants {
            Some(by_caller) if by_caller.depends_on_caller() => {
                by_caller.for_caller(&call.access.caller())
            }
            _ => guest.grants.clone(),
        };
        let mut warm_place = match (&guest.budget.warm, &call.session_id) {
            (Some(pool), Some(session)) if call.depth == 0 => {
                let owner = call.access.principal().map_or("", |p| p.id.as_str());
                let cell = pool.cell(owner, session);
                Some(tokio::select! {
                    place = tokio::time::timeout_at(wait_deadline.into(), cell.lock_owned()) => {
                        place.map_err(|_| {
                            PluginCounters::bump(&counters.busy);
                            InvocationError::SessionBusy {
                                plugin: guest.name.to_string(),
                                waited: guest.limits.timeout,
                            }
                        })?
                    }
                    () = cancel.cancelled() => return Err(InvocationError::Cancelled),
                })
            }
            _ => None,
        };
        // A warm instance granted otherwise (its caller's roles changed)
        // is dropped: its WASI context holds what it was granted.
        let warm = warm_place
            .as_mut()
            .and_then(|p| p.take())
            .filter(|w| Arc::ptr_eq(&w.store.data().grants, &grants));
        // A session without an instance starts on the plugin's spare, and
        // so does a call of a plugin that keeps no instance between calls.
        let warm = match (warm, &warm_place, &guest.budget.warm) {
            (None, Some(_), Some(_)) | (None, None, None) => {
                guest.budget.spare.take(&grants).inspect(|_| {
                    PluginCounters::bump(&counters.spares_used);
                })
            }
            (warm, ..) => warm,
        };
        // The slot is bound before the store, so that the store goes first
        // however this future ends: also when it is dropped mid-call (a
        // cancelled call on the worker pool), where the locals are dropped
        // in reverse order. A slot freed before its instance would let the
        // next call past the semaphore into the pooling allocator's limit.
        let (slot, warm_instance, mut store) = match warm {
            Some(warm) => {
                let mut store = warm.store;
                self.reuse_store(&mut store, call, guest.limits, clock.clone());
                (warm._slot, Some(warm.instance), store)
            }
            None => {
                let slot = tokio::select! {
                    slot = self.acquire_slot(wait_deadline) => slot.ok_or_else(|| InvocationError::Capacity {
                        plugin: guest.name.to_string(),
                        slots: self.limits().max_instances,
                    })?,
                    () = cancel.cancelled() => return Err(InvocationError::Cancelled),
                };
                let store = self.new_store(
                    guest.name.clone(),
                    call,
                    grants,
                    guest.budget,
                    guest.limits,
                    clock.clone(),
                );
                (slot, None, store)
            }
        };
        let pre = guest.pre;
        self.long_calls.call_began();
        let _ticking = self.ticker.guest_running();
        // A failure is told apart by how far the call got: setting up the
        // sandbox, or the guest's own call.
        let run = async {
            let instance = match warm_instance {
                Some(instance) => instance,
                None => {
                    let started = Instant::now();
                    let span = spans::instantiate(&store.data().call.span, guest.name);
                    let instance = pre
                        .instantiate_async(&mut store)
                        .await
                        .map_err(|e| (Stage::Starting, e))?;
                    drop(span);
                    self.metrics().instantiate.observe(started.elapsed());
                    instance
                }
            };
            body(&mut store, instance)
                .await
                .map(|r| (r, instance))
                .map_err(|e| (Stage::Running, e))
        };
        let interrupted = |why| Err((Stage::Running, wasmtime::Error::new(why)));
        let outcome = tokio::select! {
            biased;
            r = run => r,
            () = cancel.cancelled() => interrupted(Interrupted::Cancelled),
            () = clock.expired() => interrupted(Interrupted::Deadline),
        };
        *usage = CallUsage::of(&store, guest.limits);
        // The spans the guest left open end with its call, and a warm
        // instance kept for the session holds none of them.
        store.data_mut().spans.end_all();
        store.data_mut().call.span = tracing::Span::none();
        match outcome {
            Ok((result, instance)) => {
                // A finished call hands a per-session instance back.
                match warm_place.as_mut() {
                    Some(place) => {
                        **place = Some(WarmInstance {
                            store,
                            instance,
                            _slot: slot,
                        })
                    }
                    None => {
                        drop(store);
                        drop(slot);
                    }
                }
                Ok(result)
            }
            Err((stage, e)) => {
                let error = classify(guest.name, guest.limits, &store, e, runs, stage);
                if let (InvocationError::Trap { .. }, Some(report)) = (&error, &store.data().panic)
                {
                    report.log(guest.name, guest.budget);
                }
                match &error {
                    InvocationError::Deadline { .. } => PluginCounters::bump(&counters.deadlines),
                    InvocationError::Memory { .. } => PluginCounters::bump(&counters.memory),
                    InvocationError::Fuel { .. } => PluginCounters::bump(&counters.fuel),
                    InvocationError::Trap { .. } => PluginCounters::bump(&counters.traps),
                    _ => {}
                }
                // The instance may be mid-way through anything: never reused.
                drop(store);
                drop(slot);
                Err(error)
            }
        }
    }

    /// Call tool number `tool` of `plugin` with `arguments` (a JSON object
    /// already validated against the tool's input schema), counting the
    /// call in the metrics.
    pub async fn call_tool(
        &self,
        plugin: &impl Runnable,
        tool: usize,
        arguments: &Value,
        call: CallContext,
    ) -> Result<ToolResult, InvocationError> {
        let Some(spec) = plugin.tool_spec(tool) else {
            return Err(InvocationError::Instantiate {
                plugin: plugin.guest().name.to_string(),
                message: format!("it has no tool number {tool}"),
            });
        };
        let _running = self.metrics().begin_call();
        let principal = call.access.principal().map(|p| p.id.clone());
        let session = call.session_id.clone();
        let started = Instant::now();
        let mut usage = CallUsage::default();
        let span = spans::guest(&call.span, plugin.guest().name);
        let call = call.with_span(span.clone());
        let result = self
            .run_tool(plugin, spec, arguments, call, &mut usage)
            .await;
        let duration = started.elapsed();
        // Where the plugin's next calls run depends on it.
        plugin.guest().budget.pace.record(duration);
        let outcome = audit::outcome_name(&result);
        spans::finish_guest(&span, usage.fuel, usage.peak_memory_bytes, outcome);
        AuditEntry {
            principal: principal.as_deref(),
            session: session.as_deref(),
            plugin: plugin.guest().name,
            tool: &spec.name,
            duration,
            outcome,
            usage,
            trace_id: propagation::trace_id(&span).as_deref(),
        }
        .record();
        let outcome = match &result {
            Ok(r) if r.is_error => CallOutcome::ToolError,
            Ok(_) => CallOutcome::Ok,
            // Not a call that ran: nothing to count.
            Err(InvocationError::Cancelled) => return result,
            Err(_) => CallOutcome::HostError,
        };
        self.metrics()
            .record_call(plugin.guest().name, &spec.name, outcome, duration);
        result
    }

    /// [`Runtime::call_tool`], run where [`CallPlacement`](super::CallPlacement) puts
    /// it: where it is awaited, or on the worker pool when a single-threaded
    /// server is already running a call.
    pub async fn dispatch_tool(
        self: &Arc<Self>,
        plugin: Arc<impl Runnable + 'static>,
        tool: usize,
        arguments: Value,
        call: CallContext,
    ) -> Result<ToolResult, InvocationError> {
        let runtime = self.clone();
        let placed = plugin.clone();
        // Boxed: it is kilobytes, and moved whole to the pool or up the
        // futures of the request's handling otherwise.
        let call =
            Box::pin(async move { runtime.call_tool(&*placed, tool, &arguments, call).await });
        let result = self.placement.run(&plugin.guest().budget.pace, call).await;
        // The call may have taken the plugin's spare instance: the next
        // call (of a per-session plugin: the next session's first) gets a
        // new one.
        self.replace_spare(plugin.guest());
        result
    }

    async fn run_tool(
        &self,
        plugin: &impl Runnable,
        tool: &ToolSpec,
        arguments: &Value,
        call: CallContext,
        usage: &mut CallUsage,
    ) -> Result<ToolResult, InvocationError> {
        let Some(export) = plugin.exports().tools.clone() else {
            return Err(InvocationError::Instantiate {
                plugin: plugin.guest().name.to_string(),
                message: "it does not export tools".into(),
            });
        };
        let arguments = arguments.to_string();
        let name = tool.name.clone();
        let result = self
            .run_measured(
                plugin.guest(),
                call,
                Runs::Tool,
                export_call!(export.call_call_tool(&name, &arguments)),
                usage,
            )
            .await?;
        // The structured content is measured as the text the guest sent,
        // not serialized again.
        let (result, structured_bytes) = match result {
            Ok(result) => {
                let structured_bytes = result.structured_content.as_ref().map_or(0, String::len);
                let validator = tool.output_validator.as_deref();
                (convert_result(plugin, validator, result)?, structured_bytes)
            }
            Err(error) => (convert_tool_error(error), 0),
        };
        let size = result.content_bytes() + structured_bytes;
        let limit = self.limits().max_response_bytes;
        if size > limit {
            PluginCounters::bump(&plugin.guest().budget.counters.oversized);
            return Err(InvocationError::ResponseTooLarge {
                plugin: plugin.guest().name.to_string(),
                size,
                limit,
            });
        }
        Ok(result)
    }

    /// Ask a plugin what it declares — tools, resources, prompts — in one
    /// sandbox (done once, at load).
    pub async fn describe(
        &self,
        guest: Guest<'_>,
        exports: &GuestExports,
    ) -> Result<Declarations, String> {
        let exports = exports.clone();
        self.run(
            guest,
            CallContext::detached("describe"),
            Runs::Plugin,
            Box::new(move |store, instance| {
                Box::pin(async move {
                    let mut declared = Declarations::default();
                    if let Some(e) = &exports.tools {
                        let guest = e.load(&mut *store, &instance)?;
                        let tools = guest.call_list_tools(&mut *store).await?;
                        declared.tools = Some(tools.into_iter().map(Into::into).collect());
                    }
                    if let Some(e) = &exports.resources {
                        let guest = e.load(&mut *store, &instance)?;
                        let support = guest.call_describe_resources(&mut *store).await?;
                        declared.resources = Some(ResourceSupport {
                            templates: support.templates.into_iter().map(Into::into).collect(),
                            lists_resources: support.lists_resources,
                        });
                    }
                    if let Some(e) = &exports.prompts {
                        let guest = e.load(&mut *store, &instance)?;
                        let prompts = guest.call_list_prompts(&mut *store).await?;
                        declared.prompts = Some(prompts.into_iter().map(Into::into).collect());
                    }
                    Ok(declared)
                })
            }),
        )
        .await
        .map_err(|e| load_failure(&e))
    }
}

/// A load-time call's failure, as the reason a plugin did not load.
fn load_failure(error: &InvocationError) -> String {
    match error {
        InvocationError::Deadline { limit, .. } => {
            format!("timed out ({} ms)", limit.as_millis())
        }
        InvocationError::Memory { limit_bytes, .. } => {
            format!("exceeded its memory limit ({} MiB)", limit_bytes >> 20)
        }
        InvocationError::Trap { message, .. } => format!("crashed: {message}"),
        InvocationError::Capacity { .. } => "timed out waiting for a free sandbox".into(),
        InvocationError::Instantiate { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// How far a failed call got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Setting up the sandbox.
    Starting,
    /// The guest's own call.
    Running,
}

/// Name the cause of a failed call: a trap the guest reported a panic for
/// is named by the panic's message; an error the call's data raised while
/// crossing into the host (out of bounds, not UTF-8, more than the guest's
/// memory) stops the guest like a trap.
fn classify(
    plugin: &str,
    limits: PluginLimits,
    store: &Store<HostState>,
    error: wasmtime::Error,
    runs: Runs,
    stage: Stage,
) -> InvocationError {
    let name = plugin.to_string();
    match error.downcast_ref::<Interrupted>() {
        Some(Interrupted::Deadline) => {
            return InvocationError::Deadline {
                plugin: name,
                limit: limits.timeout,
            };
        }
        Some(Interrupted::Aborted(message)) => {
            return InvocationError::Aborted {
                plugin: name,
                message: message.clone(),
            };
        }
        Some(Interrupted::Cancelled) => return InvocationError::Cancelled,
        None => {}
    }
    if let (Some(wasmtime::Trap::OutOfFuel), Some(fuel)) =
        (error.downcast_ref::<wasmtime::Trap>(), limits.fuel)
    {
        return InvocationError::Fuel { plugin: name, fuel };
    }
    if store.data().limiter.hit {
        return InvocationError::Memory {
            plugin: name,
            limit_bytes: limits.memory_bytes,
        };
    }
    if let Some(trap) = error.downcast_ref::<wasmtime::Trap>() {
        let message = match &store.data().panic {
            Some(report) => report.error_message(runs),
            None => trap_message(*trap),
        };
        return InvocationError::Trap {
            plugin: name,
            message,
        };
    }
    match stage {
        Stage::Starting => InvocationError::Instantiate {
            plugin: name,
            message: crate::error::one_line(&error),
        },
        Stage::Running => InvocationError::Trap {
            plugin: name,
            message: crossing_message(&error, limits),
        },
    }
}

/// Why data the guest handed over was refused, without the wasm backtrace.
/// Wasmtime names an over-long crossing (`set_hostcall_fuel`, which the
/// store sets to the guest's memory limit) only in its message.
fn crossing_message(error: &wasmtime::Error, limits: PluginLimits) -> String {
    let cause = error.root_cause().to_string();
    if cause.contains("fuel allocated for hostcalls") {
        format!(
            "it handed the host more data in one call than its memory limit ({} MiB) holds",
            limits.memory_bytes >> 20
        )
    } else {
        format!("it handed the host data it could not take: {cause}")
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
    plugin: &impl Runnable,
    output_validator: Option<&jsonschema::Validator>,
    result: types::CallResult,
) -> Result<ToolResult, InvocationError> {
    let invalid = |message: String| InvocationError::InvalidOutput {
        plugin: plugin.guest().name.to_string(),
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
        content: result.content.into_iter().map(Content::from).collect(),
        structured,
        is_error: false,
    })
}

fn convert_tool_error(error: types::ToolError) -> ToolResult {
    let mut content = vec![Content::Text(error.message)];
    content.extend(error.content.into_iter().map(Content::from));
    ToolResult {
        content,
        structured: None,
        is_error: true,
    }
}

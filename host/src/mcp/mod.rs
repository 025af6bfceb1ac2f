//! The MCP adapter: the only module that knows the MCP SDK (rmcp). It maps
//! the catalog and the runtime to MCP requests, and serves them over stdio
//! and Streamable HTTP.

#![allow(deprecated)] // logging and progress are deprecated by SEP-2577 yet still on the wire

mod catalog_requests;
mod channel;
mod client_wire;
mod convert;
mod core_tasks;
mod gate;
pub mod local;
mod multi_round;
mod reloads;
mod rounds;
mod server;
mod sessions;
mod shares;
pub mod stdin_watch;
mod stdio_window;
mod stdio_wire;
mod subscriptions;
mod tasks;
mod tool_calls;
mod traced;
mod transport;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::Tool;

pub use multi_round::ParkedCalls;
pub use server::McpServer;
pub use shares::CallShares;
pub use subscriptions::{ListKind, SubscriptionHub};
pub use tasks::{RunningTasks, TaskOptions};
pub use tool_calls::CALLS_LOG;
pub use traced::Traced;
pub use transport::{HttpOptions, serve_http, serve_stdio};

use crate::catalog::CatalogHandle;
use crate::runtime::Runtime;
use crate::sealed::SealKey;
use crate::serving::CatalogService;

/// How the host handles what plugins ask of clients.
#[derive(Debug, Clone)]
pub struct FacadeOptions {
    /// How long a handshake-era client has to answer a sampling,
    /// elicitation or roots request.
    pub client_timeout: Duration,
    /// How long a 2026-07-28 call waiting for input stays parked.
    pub parked_ttl: Duration,
    /// How many calls may wait parked at once (the oldest is evicted, and
    /// replayed if its client comes back).
    pub max_parked: usize,
    /// The key sealing `requestState`.
    pub state_key: SealKey,
    /// Tool calls one principal may have running at once.
    pub max_calls_per_principal: usize,
    /// How tool calls run as tasks.
    pub tasks: TaskOptions,
}

impl FacadeOptions {
    pub const DEFAULT_CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
    pub const DEFAULT_PARKED_TTL: Duration = Duration::from_secs(120);
    pub const DEFAULT_MAX_PARKED: usize = 64;

    /// The defaults, with `state_key`.
    pub fn new(state_key: SealKey) -> Self {
        Self {
            client_timeout: Self::DEFAULT_CLIENT_TIMEOUT,
            parked_ttl: Self::DEFAULT_PARKED_TTL,
            max_parked: Self::DEFAULT_MAX_PARKED,
            state_key,
            max_calls_per_principal: shares::CallShares::DEFAULT_MAX,
            tasks: TaskOptions::default(),
        }
    }
}

/// Default number of tools per `tools/list` page.
pub const DEFAULT_PAGE_SIZE: usize = 100;

/// What every MCP session shares: the catalog, the runtime, the tool list
/// rendered once per catalog generation, subscribers, and
/// the calls parked waiting for a client's input.
pub struct ServerState {
    pub catalog: Arc<CatalogHandle>,
    pub runtime: Arc<Runtime>,
    pub page_size: usize,
    pub catalog_service: Arc<CatalogService>,
    pub hub: Arc<SubscriptionHub>,
    pub parked: ParkedCalls<rounds::Finished>,
    pub client_timeout: Duration,
    /// Each principal's share of the calls running.
    pub shares: Arc<shares::CallShares>,
    /// The tool calls running as tasks on this host.
    pub tasks: Arc<RunningTasks>,
    /// Where task records live when the host has no state store.
    task_fallback_store: crate::state::SharedStore,
    /// Set once shutdown begins: calls running finish, new ones are refused.
    draining: std::sync::atomic::AtomicBool,
    rendered: Mutex<Option<(u64, Arc<Vec<Tool>>)>>,
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerState")
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

impl ServerState {
    pub fn new(
        catalog: Arc<CatalogHandle>,
        runtime: Arc<Runtime>,
        page_size: usize,
        facade: FacadeOptions,
    ) -> Self {
        Self {
            catalog_service: Arc::new(CatalogService {
                catalog: catalog.clone(),
                runtime: runtime.clone(),
            }),
            catalog,
            runtime,
            page_size: page_size.max(1),
            hub: Arc::new(SubscriptionHub::new()),
            parked: ParkedCalls::new(facade.state_key, facade.parked_ttl, facade.max_parked),
            client_timeout: facade.client_timeout,
            shares: Arc::new(shares::CallShares::new(facade.max_calls_per_principal)),
            tasks: Arc::new(RunningTasks::new(facade.tasks)),
            task_fallback_store: crate::state::in_memory(),
            draining: Default::default(),
            rendered: Mutex::new(None),
        }
    }

    /// Whether shutdown has begun.
    pub fn is_draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Shutdown begins: refuse new tool calls from now on.
    pub fn start_draining(&self) {
        self.draining
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Drop expired parked calls every few seconds while `self` lives.
    pub fn spawn_sweeper(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                match weak.upgrade() {
                    Some(services) => services.parked.sweep(),
                    None => break,
                }
            }
        });
    }

    /// The MCP descriptors of the current catalog, rendered once per
    /// generation.
    fn tool_list(&self) -> Arc<Vec<Tool>> {
        let catalog = self.catalog.snapshot();
        let mut rendered = self.rendered.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((generation, tools)) = &*rendered
            && *generation == catalog.generation()
        {
            return tools.clone();
        }
        let tools: Arc<Vec<Tool>> = Arc::new(
            catalog
                .tools()
                .iter()
                .map(convert::tool_descriptor)
                .collect(),
        );
        *rendered = Some((catalog.generation(), tools.clone()));
        tools
    }
}

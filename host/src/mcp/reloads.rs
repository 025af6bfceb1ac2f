//! Telling clients about reloads: `list_changed` notifications for the lists
//! that really changed (to handshake-era sessions and to 2026-07-28
//! `subscriptions/listen` streams), and a warning log message to
//! handshake-era sessions when a new version could not be loaded.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::subscriptions::ListKind;
use super::{ServerState, convert};
use crate::catalog::Catalog;
use crate::context::LogLevel;
use crate::reload::ReloadReport;

/// The logger name of the host's own log messages to clients.
const HOST_LOGGER: &str = "mcp-wasm-host";

/// Which of the lists clients see differ between two snapshots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct ListChanges {
    pub tools: bool,
    pub prompts: bool,
    pub resources: bool,
}

impl ListChanges {
    /// Compare what clients would be sent: tool and prompt descriptors as
    /// rendered, and which plugin versions serve resources.
    pub(super) fn between(before: &Catalog, after: &Catalog) -> Self {
        Self {
            tools: tool_list(before) != tool_list(after),
            prompts: prompt_list(before) != prompt_list(after),
            resources: resource_servers(before) != resource_servers(after),
        }
    }

    fn all() -> Self {
        Self {
            tools: true,
            prompts: true,
            resources: true,
        }
    }
}

fn tool_list(catalog: &Catalog) -> Vec<Value> {
    catalog
        .tools()
        .iter()
        .map(|t| serde_json::to_value(convert::tool_descriptor(t)).unwrap_or(Value::Null))
        .collect()
}

fn prompt_list(catalog: &Catalog) -> Vec<Value> {
    catalog
        .prompts()
        .iter()
        .map(|p| {
            let descriptor = crate::content::PromptDescriptor {
                name: p.name.clone(),
                ..p.spec().descriptor.clone()
            };
            serde_json::to_value(convert::catalog_items::prompt(descriptor)).unwrap_or(Value::Null)
        })
        .collect()
}

/// The plugin versions that serve resources: a new version may list or
/// read different ones.
fn resource_servers(catalog: &Catalog) -> BTreeSet<(String, String)> {
    catalog
        .plugins()
        .iter()
        .filter(|p| p.serves_resources())
        .map(|p| (p.name.to_string(), p.digest.clone()))
        .collect()
}

impl ServerState {
    /// Tell clients about every reload `reports` carries, until the host
    /// stops.
    pub fn spawn_reload_announcer(
        self: &Arc<Self>,
        mut reports: broadcast::Receiver<Arc<ReloadReport>>,
    ) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let changes = match reports.recv().await {
                    Ok(report) => {
                        let Some(services) = weak.upgrade() else {
                            return;
                        };
                        services.warn_sessions(&report).await;
                        ListChanges::between(&report.previous, &report.current)
                    }
                    // Some reports were missed: assume everything changed.
                    Err(broadcast::error::RecvError::Lagged(_)) => ListChanges::all(),
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                let Some(services) = weak.upgrade() else {
                    return;
                };
                services.announce(changes).await;
            }
        });
    }

    async fn announce(&self, changes: ListChanges) {
        if changes.tools {
            self.hub.broadcast(ListKind::Tools).await;
        }
        if changes.prompts {
            self.hub.broadcast(ListKind::Prompts).await;
        }
        if changes.resources {
            self.hub.broadcast(ListKind::Resources).await;
        }
    }

    /// A warning to every handshake-era session for each failure (2026-07-28
    /// clients have no channel for log messages outside a request).
    async fn warn_sessions(&self, report: &ReloadReport) {
        for failure in &report.failures {
            let data = json!({
                "message": failure.to_string(),
                "path": failure.path.display().to_string(),
                "reason": failure.reason,
                "kept": failure.kept,
            });
            self.hub
                .log_to_sessions(LogLevel::Warning, HOST_LOGGER, data)
                .await;
        }
    }
}

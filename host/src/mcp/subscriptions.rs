//! Who hears about changes: handshake-era sessions (their peers, and the
//! resource URIs each subscribed to with `resources/subscribe`) and
//! 2026-07-28 `subscriptions/listen` streams (their sinks, which filter by
//! what was accepted). One hub per host; notices from plugins and from
//! catalog reloads go through it.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use std::sync::Arc;

use rmcp::model::{
    LoggingLevel, LoggingMessageNotificationParam, ResourceUpdatedNotificationParam,
};
use rmcp::service::SubscriptionSink;
use rmcp::{Peer, RoleServer};

use crate::auth::Access;

/// Every listener of the host.
#[derive(Debug, Default)]
pub struct SubscriptionHub {
    next_id: AtomicU64,
    state: Mutex<HubState>,
}

#[derive(Debug, Default)]
struct HubState {
    sessions: HashMap<u64, Session>,
    listeners: HashMap<u64, (SubscriptionSink, Access)>,
}

/// A session's `logging/setLevel` choice (`None`: the default threshold).
pub(super) type SessionLogLevel = Arc<Mutex<Option<LoggingLevel>>>;

#[derive(Debug)]
struct Session {
    peer: Peer<RoleServer>,
    uris: HashSet<String>,
    log_level: SessionLogLevel,
    /// What the session's last subscription request could see: updates
    /// from other plugins do not reach it.
    access: Access,
}

impl Session {
    fn new(peer: Peer<RoleServer>, log_level: SessionLogLevel) -> Self {
        Self {
            peer,
            uris: HashSet::new(),
            log_level,
            access: Access::everything(),
        }
    }
}

/// Sessions and listeners to notify, with their ids.
type Audience = (Vec<(u64, Peer<RoleServer>)>, Vec<(u64, SubscriptionSink)>);

/// Most resource subscriptions one session may hold.
pub const MAX_SUBSCRIPTIONS_PER_SESSION: usize = 1024;

impl SubscriptionHub {
    pub fn new() -> Self {
        Self::default()
    }

    /// A fresh id for a session or a listener.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remember a handshake-era session, for list-changed broadcasts.
    pub(super) fn register_session(
        &self,
        id: u64,
        peer: Peer<RoleServer>,
        log_level: SessionLogLevel,
    ) {
        self.lock()
            .sessions
            .entry(id)
            .or_insert_with(|| Session::new(peer, log_level));
    }

    /// `resources/subscribe`.
    pub(super) fn subscribe(
        &self,
        id: u64,
        peer: Peer<RoleServer>,
        log_level: SessionLogLevel,
        access: Access,
        uri: String,
    ) -> Result<(), String> {
        let mut state = self.lock();
        let session = state
            .sessions
            .entry(id)
            .or_insert_with(|| Session::new(peer, log_level));
        if session.uris.len() >= MAX_SUBSCRIPTIONS_PER_SESSION && !session.uris.contains(&uri) {
            return Err(format!(
                "a session may subscribe to at most {MAX_SUBSCRIPTIONS_PER_SESSION} resources"
            ));
        }
        session.uris.insert(uri);
        session.access = access;
        Ok(())
    }

    /// Drop every session whose connection has closed (called as a
    /// session closes, so the hub never keeps a dead peer).
    pub fn forget_closed_sessions(&self) {
        self.lock()
            .sessions
            .retain(|_, s| !s.peer.is_transport_closed());
    }

    /// `resources/unsubscribe`.
    pub fn unsubscribe(&self, id: u64, uri: &str) {
        if let Some(session) = self.lock().sessions.get_mut(&id) {
            session.uris.remove(uri);
        }
    }

    /// The auth file was re-read: every session and listener of an
    /// authenticated principal now sees what `current` says that principal
    /// may use (nothing, once its entry is gone), so a revoked or narrowed
    /// principal stops hearing of plugins on streams it opened before.
    pub fn refresh_access(&self, current: impl Fn(&str) -> Access) {
        let refreshed = |access: &mut Access| {
            if let Some(principal) = access.principal() {
                *access = current(&principal.id);
            }
        };
        let mut state = self.lock();
        for session in state.sessions.values_mut() {
            refreshed(&mut session.access);
        }
        for (_, access) in state.listeners.values_mut() {
            refreshed(access);
        }
    }

    /// Add a `subscriptions/listen` stream until [`Self::remove_listener`].
    pub fn add_listener(&self, id: u64, sink: SubscriptionSink, access: Access) {
        self.lock().listeners.insert(id, (sink, access));
    }

    pub fn remove_listener(&self, id: u64) {
        self.lock().listeners.remove(&id);
    }

    /// Every session and listener; with `update`, only the sessions
    /// subscribed to its URI, and only those that may use its plugin.
    fn audience(&self, update: Option<(&str, &str)>) -> Audience {
        let state = self.lock();
        let allowed = |access: &Access| update.is_none_or(|(plugin, _)| access.allows(plugin));
        let peers = state
            .sessions
            .iter()
            .filter(|(_, s)| update.is_none_or(|(_, uri)| s.uris.contains(uri)))
            .filter(|(_, s)| allowed(&s.access))
            .map(|(id, s)| (*id, s.peer.clone()))
            .collect();
        let sinks = state
            .listeners
            .iter()
            .filter(|(_, (_, access))| allowed(access))
            .map(|(id, (sink, _))| (*id, sink.clone()))
            .collect();
        (peers, sinks)
    }

    /// Handshake-era sessions whose transport is still open.
    pub fn active_sessions(&self) -> usize {
        self.lock()
            .sessions
            .values()
            .filter(|s| !s.peer.is_transport_closed())
            .count()
    }

    fn forget_closed(&self, sessions: &[u64], listeners: &[u64]) {
        if sessions.is_empty() && listeners.is_empty() {
            return;
        }
        let mut state = self.lock();
        for id in sessions {
            state.sessions.remove(id);
        }
        for id in listeners {
            state.listeners.remove(id);
        }
    }

    /// `notifications/resources/updated` to whoever subscribed to `uri`
    /// and may use `plugin`, which announced it.
    pub async fn resource_updated(&self, plugin: &str, uri: &str) {
        let (peers, sinks) = self.audience(Some((plugin, uri)));
        let mut closed = Vec::new();
        for (id, peer) in peers {
            if peer.is_transport_closed() {
                closed.push(id);
                continue;
            }
            let param = ResourceUpdatedNotificationParam::new(uri.to_string());
            if let Err(e) = peer.notify_resource_updated(param).await {
                tracing::debug!("cannot notify a session of a resource update: {e}");
            }
        }
        for (_, sink) in sinks {
            let subscribed = sink
                .accepted()
                .resource_subscriptions
                .as_ref()
                .is_some_and(|uris| uris.iter().any(|u| u == uri));
            if subscribed {
                let _ = sink.notify_resource_updated(uri.to_string()).await;
            }
        }
        self.forget_closed(&closed, &[]);
    }

    /// A log message from the host itself to every handshake-era session
    /// whose level lets it through.
    pub(super) async fn log_to_sessions(
        &self,
        level: crate::context::LogLevel,
        logger: &str,
        data: serde_json::Value,
    ) {
        let peers: Vec<(u64, Peer<RoleServer>)> = {
            let state = self.lock();
            state
                .sessions
                .iter()
                .filter(|(_, s)| {
                    let set = *s.log_level.lock().unwrap_or_else(|e| e.into_inner());
                    let threshold = set
                        .map(super::channel::from_mcp_level)
                        .unwrap_or(super::server::DEFAULT_LOG_THRESHOLD);
                    level >= threshold
                })
                .map(|(id, s)| (*id, s.peer.clone()))
                .collect()
        };
        let mut closed = Vec::new();
        for (id, peer) in peers {
            if peer.is_transport_closed() {
                closed.push(id);
                continue;
            }
            let param = LoggingMessageNotificationParam::new(
                super::channel::to_mcp_level(level),
                data.clone(),
            )
            .with_logger(logger.to_string());
            if let Err(e) = peer.notify_logging_message(param).await {
                tracing::debug!("cannot send a log message to a session: {e}");
            }
        }
        self.forget_closed(&closed, &[]);
    }

    /// `notifications/resources/list_changed` to every session and listener.
    pub async fn resource_list_changed(&self) {
        self.broadcast(ListKind::Resources).await;
    }

    /// `notifications/{tools,prompts,resources}/list_changed` to everyone.
    pub async fn broadcast(&self, kind: ListKind) {
        let (peers, sinks) = self.audience(None);
        let mut closed_sessions = Vec::new();
        for (id, peer) in peers {
            if peer.is_transport_closed() {
                closed_sessions.push(id);
                continue;
            }
            let sent = match kind {
                ListKind::Tools => peer.notify_tool_list_changed().await,
                ListKind::Prompts => peer.notify_prompt_list_changed().await,
                ListKind::Resources => peer.notify_resource_list_changed().await,
            };
            if let Err(e) = sent {
                tracing::debug!("cannot notify a session of a list change: {e}");
            }
        }
        let mut closed_listeners = Vec::new();
        for (id, sink) in sinks {
            let sent = match kind {
                ListKind::Tools => sink.notify_tool_list_changed().await,
                ListKind::Prompts => sink.notify_prompt_list_changed().await,
                ListKind::Resources => sink.notify_resource_list_changed().await,
            };
            if let Err(rmcp::service::SubscriptionSendError::SubscriptionClosed) = sent {
                closed_listeners.push(id);
            }
        }
        self.forget_closed(&closed_sessions, &closed_listeners);
    }
}

/// Which list changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    Tools,
    Prompts,
    Resources,
}

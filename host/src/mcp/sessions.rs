//! Handshake-era HTTP sessions and who owns them. [`OwnedSessions`] wraps
//! rmcp's in-memory session manager: it caps how many sessions exist at
//! once, records the principal that opened each one (bound by the HTTP
//! layer as the `initialize` response leaves), and, when a session closes
//! (DELETE, idle, or its stream ended), forgets it and drops it from the
//! subscription hub and its instances of per-session plugins at once. A
//! request naming a session with another principal is answered as if the
//! session did not exist. A second after sessions stop closing, the memory
//! they held is given back to the system
//! ([`crate::allocator::release_freed_memory_soon`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_core::Stream;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError,
};
use rmcp::transport::streamable_http_server::session::{
    RestoreOutcome, ServerSseMessage, SessionId, SessionManager,
};

use super::SubscriptionHub;
use crate::metrics::Refusal;

/// Who may use a session: `None` until the `initialize` response binds it;
/// then the principal's id, or `""` when the transport has no
/// authentication.
type Owner = Option<String>;

/// Why a session could not be created.
#[derive(Debug, thiserror::Error)]
pub enum SessionsError {
    #[error("the host holds its maximum of {0} sessions; retry later")]
    Full(usize),
    #[error(transparent)]
    Local(#[from] LocalSessionManagerError),
}

/// The live sessions and their owners, shared with the HTTP layer.
#[derive(Debug)]
pub struct SessionOwners {
    max: usize,
    live: Mutex<HashMap<SessionId, Owner>>,
}

/// What a request's session id names.
#[derive(Debug, PartialEq, Eq)]
pub enum SessionCheck {
    /// A session of this principal (or one the host does not know, which
    /// the session manager answers 404 itself).
    Allowed,
    /// Another principal's session: answer as if it did not exist.
    Foreign,
}

impl SessionOwners {
    pub fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            live: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, Owner>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many sessions exist.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// Whether a new session would exceed the cap.
    pub fn full(&self) -> bool {
        self.count() >= self.max
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// How many sessions one authenticated principal may hold: a quarter of
    /// the maximum (at least one), so that one principal opening sessions
    /// without end cannot lock the others out.
    pub fn share(&self) -> usize {
        (self.max / 4).max(1)
    }

    /// Why `principal` (`""`: no authentication) may not open one more
    /// session: the host holds its maximum (503), or an authenticated
    /// principal holds its [`share`](Self::share) (429); `None`: it may.
    pub fn no_room_for(&self, principal: &str) -> Option<NoRoom> {
        let live = self.lock();
        if live.len() >= self.max {
            return Some(NoRoom {
                status: http::StatusCode::SERVICE_UNAVAILABLE,
                reason: Refusal::SessionsFull,
                message: format!(
                    "the host holds its maximum of {} sessions; retry later\n",
                    self.max
                ),
            });
        }
        let share = self.share();
        let held = live
            .values()
            .filter(|owner| owner.as_deref() == Some(principal))
            .count();
        (!principal.is_empty() && held >= share).then(|| NoRoom {
            status: http::StatusCode::TOO_MANY_REQUESTS,
            reason: Refusal::SessionsShare,
            message: format!(
                "principal `{principal}` holds its share of {share} sessions (a quarter of the \
                 host's {}); close one (DELETE /mcp) or retry later\n",
                self.max
            ),
        })
    }

    /// The `initialize` response for session `id` is leaving: from now on
    /// only `principal` (`""`: no authentication) may use it.
    pub fn bind(&self, id: &str, principal: &str) {
        if let Some(owner) = self.lock().get_mut(id)
            && owner.is_none()
        {
            *owner = Some(principal.to_string());
        }
    }

    /// Whether `principal` may use the session `id`.
    pub fn check(&self, id: &str, principal: &str) -> SessionCheck {
        match self.lock().get(id) {
            None => SessionCheck::Allowed,
            Some(Some(owner)) if owner == principal => SessionCheck::Allowed,
            Some(_) => SessionCheck::Foreign,
        }
    }

    fn reserve(&self, id: &SessionId) -> Result<(), SessionsError> {
        let mut live = self.lock();
        if live.len() >= self.max {
            return Err(SessionsError::Full(self.max));
        }
        live.insert(id.clone(), None);
        Ok(())
    }

    /// Forget session `id`; who owned it, if it was bound.
    fn forget(&self, id: &SessionId) -> Option<String> {
        self.lock().remove(id).flatten()
    }
}

/// Why a new session is refused: the answer's status, the metric's reason
/// and a message naming the cap.
#[derive(Debug)]
pub struct NoRoom {
    pub status: http::StatusCode,
    pub reason: Refusal,
    pub message: String,
}

/// rmcp's local session manager with owners, a cap, and prompt cleanup.
#[derive(Debug)]
pub struct OwnedSessions {
    inner: LocalSessionManager,
    owners: Arc<SessionOwners>,
    hub: Arc<SubscriptionHub>,
    /// Where the plugins keeping an instance per session are.
    catalog: Arc<crate::catalog::CatalogHandle>,
}

impl OwnedSessions {
    pub fn new(
        inner: LocalSessionManager,
        owners: Arc<SessionOwners>,
        hub: Arc<SubscriptionHub>,
        catalog: Arc<crate::catalog::CatalogHandle>,
    ) -> Self {
        Self {
            inner,
            owners,
            hub,
            catalog,
        }
    }
}

impl SessionManager for OwnedSessions {
    type Error = SessionsError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        if self.owners.full() {
            return Err(SessionsError::Full(self.owners.max()));
        }
        let (id, transport) = self.inner.create_session().await?;
        if let Err(full) = self.owners.reserve(&id) {
            // Lost a race for the last place.
            let _ = self.inner.close_session(&id).await;
            return Err(full);
        }
        Ok((id, transport))
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        Ok(self.inner.initialize_session(id, message).await?)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        Ok(self.inner.has_session(id).await?)
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        let closed = self.inner.close_session(id).await;
        if let Some(owner) = self.owners.forget(id) {
            // Its instances of per-session plugins go now, not when idle.
            let key =
                super::server::session_key(Some(owner.as_str()).filter(|o| !o.is_empty()), id);
            self.catalog.snapshot().session_closed(&key);
        }
        self.hub.forget_closed_sessions();
        // What the session held is freed now; give it back once closes stop.
        crate::allocator::release_freed_memory_soon();
        Ok(closed?)
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.create_stream(id, message).await?)
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        Ok(self.inner.accept_message(id, message).await?)
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.create_standalone_stream(id).await?)
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.resume(id, last_event_id).await?)
    }

    async fn restore_session(
        &self,
        _id: SessionId,
    ) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        // Sessions live in this process only: one the host does not hold
        // is unknown, never recreated on a client's word.
        Ok(RestoreOutcome::NotSupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_belong_to_the_principal_that_opened_them() {
        let owners = SessionOwners::new(2);
        let a: SessionId = "s-a".to_string().into();
        owners.reserve(&a).unwrap();
        assert_eq!(
            owners.check("s-a", "alice"),
            SessionCheck::Foreign,
            "unbound: nobody"
        );
        owners.bind("s-a", "alice");
        owners.bind("s-a", "bob");
        assert_eq!(owners.check("s-a", "alice"), SessionCheck::Allowed);
        assert_eq!(owners.check("s-a", "bob"), SessionCheck::Foreign);
        assert_eq!(owners.check("s-a", ""), SessionCheck::Foreign);
        assert_eq!(owners.check("unknown", "bob"), SessionCheck::Allowed);
        let b: SessionId = "s-b".to_string().into();
        owners.reserve(&b).unwrap();
        assert!(owners.full());
        let c: SessionId = "s-c".to_string().into();
        assert!(matches!(owners.reserve(&c), Err(SessionsError::Full(2))));
        owners.forget(&a);
        assert!(!owners.full());
    }
}

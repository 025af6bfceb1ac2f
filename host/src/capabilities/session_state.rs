//! The `mcp:plugin/session-state` interface: JSON values that outlive a
//! request, private to each plugin, kept per scope (a handshake-era
//! session, an authenticated principal, or a client's state handle) in the
//! host's [state store](crate::state), which bounds each plugin's bytes
//! per scope and each principal's scopes, and forgets scopes left idle.

use wasmtime::component::{HasSelf, Linker};

use super::HostCapability;
use super::client_requests::FacadeResult;
use super::keyvalue::facade_error;
use crate::bindings::FacadeFailure;
use crate::bindings::{session_state, types};
use crate::capability::{Capability, CapabilityKind};
use crate::runtime::HostState;
use crate::state::{Bucket, MAX_LISTED_KEYS, SharedStore};

/// State that outlives a request (`mcp:plugin/session-state`).
pub const SESSION_STATE: Capability = Capability::named("session-state");

/// The `session-state` capability.
pub struct SessionState;

impl CapabilityKind for SessionState {
    fn id(&self) -> Capability {
        SESSION_STATE
    }

    fn interfaces(&self) -> &'static [&'static str] {
        &["mcp:plugin/session-state"]
    }
}

impl HostCapability for SessionState {
    fn add_to_linker(&self, linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        session_state::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)
    }
}

impl HostState {
    /// The scope's key, if the plugin may use session state and the request
    /// has a scope.
    fn session_scope(&self) -> Result<String, types::FacadeError> {
        self.check_grant(SESSION_STATE)?;
        self.call.session_scope.clone().ok_or_else(|| {
            types::FacadeError::UnsupportedByClient(
                "this request belongs to no session: a 2026-07-28 client keeps session state \
                 by sending a state handle in `_meta` (`mcp-wasm-host/stateHandle`)"
                    .into(),
            )
        })
    }

    fn session_bucket<'a>(&'a self, scope: &'a str) -> Bucket<'a> {
        Bucket::Session {
            // The principal holds the scope, within its share of scopes.
            owner: self.call.access.principal().map_or("", |p| p.id.as_str()),
            scope,
            plugin: &self.plugin,
        }
    }
}

impl session_state::Host for HostState {
    async fn get(&mut self, key: String) -> FacadeResult<Option<String>> {
        let _span = self.facade_span("session-state.get");
        let scope = self.session_scope()?;
        let bucket = self.session_bucket(&scope);
        let value = self
            .service::<SharedStore>()?
            .get(bucket, &key)
            .await
            .map_err(facade_error)?;
        Ok(value.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    async fn set(&mut self, key: String, value: String) -> FacadeResult<()> {
        let _span = self.facade_span("session-state.set");
        let scope = self.session_scope()?;
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&value) {
            return Err(FacadeFailure::Guest(types::FacadeError::InvalidInput(
                format!("the value for `{key}` is not valid JSON: {e}"),
            )));
        }
        let bucket = self.session_bucket(&scope);
        Ok(self
            .service::<SharedStore>()?
            .set(bucket, &key, value.as_bytes(), None)
            .await
            .map_err(facade_error)?)
    }

    async fn delete(&mut self, key: String) -> FacadeResult<bool> {
        let _span = self.facade_span("session-state.delete");
        let scope = self.session_scope()?;
        let bucket = self.session_bucket(&scope);
        Ok(self
            .service::<SharedStore>()?
            .delete(bucket, &key)
            .await
            .map_err(facade_error)?)
    }

    async fn list_keys(&mut self) -> FacadeResult<Vec<String>> {
        let _span = self.facade_span("session-state.list-keys");
        let scope = self.session_scope()?;
        let bucket = self.session_bucket(&scope);
        Ok(self
            .service::<SharedStore>()?
            .list_keys(bucket, "", MAX_LISTED_KEYS)
            .await
            .map_err(facade_error)?)
    }
}

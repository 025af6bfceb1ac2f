//! The `mcp:plugin/session-state` interface and the store behind it: JSON
//! values that outlive a request, private to each plugin, kept per scope (a
//! handshake-era session, a principal, or a client's state handle).
//!
//! The store is in memory and bounded: each plugin may keep
//! [`SCOPE_BUDGET`] bytes per scope, and at most [`MAX_SCOPES`] scopes are
//! kept, the least recently used going first. It lives as long as the host
//! process.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Instant;

use wasmtime::component::{HasSelf, Linker};

use super::client_requests::FacadeResult;
use crate::bindings::{session_state, types};
use crate::capabilities::Capability;
use crate::runtime::HostState;

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    session_state::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)
}

/// Bytes of keys and JSON values one plugin may keep in one scope.
pub const SCOPE_BUDGET: usize = 1 << 20;
/// Scopes kept at once; the least recently used is dropped beyond this.
pub const MAX_SCOPES: usize = 4096;

/// Session state of every plugin in every scope.
#[derive(Debug, Default)]
pub struct SessionStore {
    scopes: Mutex<HashMap<(String, String), Scope>>,
}

#[derive(Debug)]
struct Scope {
    values: BTreeMap<String, String>,
    bytes: usize,
    used: Instant,
}

impl SessionStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn with_scope<R>(&self, scope: &str, plugin: &str, f: impl FnOnce(&mut Scope) -> R) -> R {
        let mut scopes = self.scopes.lock().unwrap_or_else(|e| e.into_inner());
        let key = (scope.to_string(), plugin.to_string());
        if !scopes.contains_key(&key) && scopes.len() >= MAX_SCOPES {
            let oldest = scopes
                .iter()
                .min_by_key(|(_, s)| s.used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                scopes.remove(&oldest);
            }
        }
        let entry = scopes.entry(key).or_insert_with(|| Scope {
            values: BTreeMap::new(),
            bytes: 0,
            used: Instant::now(),
        });
        entry.used = Instant::now();
        f(entry)
    }

    pub fn get(&self, scope: &str, plugin: &str, key: &str) -> Option<String> {
        self.with_scope(scope, plugin, |s| s.values.get(key).cloned())
    }

    /// Store `json` (which must be valid JSON) under `key`.
    pub fn set(&self, scope: &str, plugin: &str, key: String, json: String) -> Result<(), String> {
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&json) {
            return Err(format!("the value for `{key}` is not valid JSON: {e}"));
        }
        self.with_scope(scope, plugin, |s| {
            let old = s.values.get(&key).map_or(0, |v| key.len() + v.len());
            let total = s.bytes - old + key.len() + json.len();
            if total > SCOPE_BUDGET {
                return Err(format!(
                    "session state would exceed its budget of {SCOPE_BUDGET} bytes"
                ));
            }
            s.bytes = total;
            s.values.insert(key, json);
            Ok(())
        })
    }

    pub fn delete(&self, scope: &str, plugin: &str, key: &str) -> bool {
        self.with_scope(scope, plugin, |s| match s.values.remove(key) {
            Some(v) => {
                s.bytes -= key.len() + v.len();
                true
            }
            None => false,
        })
    }

    pub fn keys(&self, scope: &str, plugin: &str) -> Vec<String> {
        self.with_scope(scope, plugin, |s| s.values.keys().cloned().collect())
    }
}

impl HostState {
    fn session_scope(&self) -> Result<crate::context::SessionScope, types::FacadeError> {
        self.call.session_scope.clone().ok_or_else(|| {
            types::FacadeError::UnsupportedByClient(
                "this request belongs to no session: a 2026-07-28 client keeps session state \
                 by sending a state handle in `_meta` (`mcp-wasm-host/stateHandle`)"
                    .into(),
            )
        })
    }
}

impl session_state::Host for HostState {
    async fn get(&mut self, key: String) -> FacadeResult<Option<String>> {
        if let Err(denied) = self.check_grant(Capability::SessionState) {
            return Ok(Err(denied));
        }
        Ok(self
            .session_scope()
            .map(|s| s.store.get(&s.key, &self.plugin, &key)))
    }

    async fn set(&mut self, key: String, value: String) -> FacadeResult<()> {
        if let Err(denied) = self.check_grant(Capability::SessionState) {
            return Ok(Err(denied));
        }
        Ok(self.session_scope().and_then(|s| {
            s.store
                .set(&s.key, &self.plugin, key, value)
                .map_err(types::FacadeError::InvalidInput)
        }))
    }

    async fn delete(&mut self, key: String) -> FacadeResult<bool> {
        if let Err(denied) = self.check_grant(Capability::SessionState) {
            return Ok(Err(denied));
        }
        Ok(self
            .session_scope()
            .map(|s| s.store.delete(&s.key, &self.plugin, &key)))
    }

    async fn list_keys(&mut self) -> FacadeResult<Vec<String>> {
        if let Err(denied) = self.check_grant(Capability::SessionState) {
            return Ok(Err(denied));
        }
        Ok(self
            .session_scope()
            .map(|s| s.store.keys(&s.key, &self.plugin)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_and_plugins_are_isolated() {
        let store = SessionStore::new();
        store.set("s1", "p", "k".into(), "1".into()).unwrap();
        assert_eq!(store.get("s1", "p", "k").as_deref(), Some("1"));
        assert_eq!(store.get("s2", "p", "k"), None);
        assert_eq!(store.get("s1", "q", "k"), None);
        assert_eq!(store.keys("s1", "p"), vec!["k".to_string()]);
        assert!(store.delete("s1", "p", "k"));
        assert!(!store.delete("s1", "p", "k"));
    }

    #[test]
    fn values_must_be_json_and_fit_the_budget() {
        let store = SessionStore::new();
        assert!(
            store
                .set("s", "p", "k".into(), "{".into())
                .unwrap_err()
                .contains("not valid JSON")
        );
        let big = format!("\"{}\"", "x".repeat(SCOPE_BUDGET));
        assert!(
            store
                .set("s", "p", "k".into(), big)
                .unwrap_err()
                .contains("budget")
        );
    }
}

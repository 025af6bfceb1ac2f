//! The `mcp:plugin/keyvalue` interface over the host's [state
//! store](crate::state): each plugin sees only its own entries, and only in
//! the namespaces its manifest declares and the policy grants, and within
//! the quota of entries and bytes the policy gives it.

use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};

use super::client_requests::FacadeResult;
use crate::bindings::{keyvalue, types};
use crate::capabilities::Capability;
use crate::runtime::HostState;
use crate::state::{Bucket, SharedStore, StateError};

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    keyvalue::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)
}

/// Largest key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 1 << 20;
pub use crate::state::MAX_LISTED_KEYS;

impl HostState {
    /// The store, if the namespace is one the plugin may use.
    fn keyvalue(
        &self,
        namespace: &str,
        key: Option<&str>,
    ) -> Result<SharedStore, types::FacadeError> {
        self.check_grant(Capability::KeyValue)?;
        if !self.grants.namespaces.iter().any(|n| n == namespace) {
            super::super::runtime::PluginCounters::bump(&self.counters.denials);
            return Err(types::FacadeError::Denied(format!(
                "namespace `{namespace}` is not among the plugin's key-value namespaces ({})",
                self.grants.namespaces.join(", ")
            )));
        }
        if let Some(key) = key
            && (key.is_empty() || key.len() > MAX_KEY_BYTES)
        {
            return Err(types::FacadeError::InvalidInput(format!(
                "a key must be 1 to {MAX_KEY_BYTES} bytes"
            )));
        }
        Ok(self.services().state.clone())
    }

    /// A store failure as the plugin sees it; a write over the quota is
    /// counted.
    fn kv_error(&self, error: StateError) -> types::FacadeError {
        if matches!(error, StateError::OverQuota { .. }) {
            crate::runtime::PluginCounters::bump(&self.counters.keyvalue_quota);
        }
        facade_error(error)
    }

    fn bucket<'a>(&'a self, namespace: &'a str) -> Bucket<'a> {
        Bucket::KeyValue {
            plugin: &self.plugin,
            namespace,
            quota: self.grants.keyvalue_quota,
        }
    }
}

/// How a store failure reaches the plugin: its own mistakes are
/// `invalid-input`, the store's are `failed`.
pub(crate) fn facade_error(error: StateError) -> types::FacadeError {
    match error {
        StateError::Backend(_) => types::FacadeError::Failed(error.to_string()),
        _ => types::FacadeError::InvalidInput(error.to_string()),
    }
}

impl keyvalue::Host for HostState {
    async fn get(&mut self, namespace: String, key: String) -> FacadeResult<Option<Vec<u8>>> {
        let store = match self.keyvalue(&namespace, Some(&key)) {
            Ok(store) => store,
            Err(e) => return Ok(Err(e)),
        };
        Ok(store
            .get(self.bucket(&namespace), &key)
            .await
            .map_err(facade_error))
    }

    async fn set(
        &mut self,
        namespace: String,
        key: String,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> FacadeResult<()> {
        if value.len() > MAX_VALUE_BYTES {
            return Ok(Err(types::FacadeError::InvalidInput(format!(
                "a value may have at most {MAX_VALUE_BYTES} bytes"
            ))));
        }
        let store = match self.keyvalue(&namespace, Some(&key)) {
            Ok(store) => store,
            Err(e) => return Ok(Err(e)),
        };
        Ok(store
            .set(
                self.bucket(&namespace),
                &key,
                &value,
                ttl_ms.map(Duration::from_millis),
            )
            .await
            .map_err(|e| self.kv_error(e)))
    }

    async fn delete(&mut self, namespace: String, key: String) -> FacadeResult<bool> {
        let store = match self.keyvalue(&namespace, Some(&key)) {
            Ok(store) => store,
            Err(e) => return Ok(Err(e)),
        };
        Ok(store
            .delete(self.bucket(&namespace), &key)
            .await
            .map_err(facade_error))
    }

    async fn list_keys(&mut self, namespace: String, prefix: String) -> FacadeResult<Vec<String>> {
        let store = match self.keyvalue(&namespace, None) {
            Ok(store) => store,
            Err(e) => return Ok(Err(e)),
        };
        Ok(store
            .list_keys(self.bucket(&namespace), &prefix, MAX_LISTED_KEYS)
            .await
            .map_err(facade_error))
    }

    async fn increment(&mut self, namespace: String, key: String, delta: i64) -> FacadeResult<i64> {
        let store = match self.keyvalue(&namespace, Some(&key)) {
            Ok(store) => store,
            Err(e) => return Ok(Err(e)),
        };
        Ok(store
            .increment(self.bucket(&namespace), &key, delta)
            .await
            .map_err(|e| self.kv_error(e)))
    }
}

//! The `mcp:plugin/keyvalue` interface over the host's [state
//! store](crate::state): each plugin sees only its own entries, and only in
//! the namespaces its manifest declares and the policy grants, and within
//! the quota of entries and bytes the policy gives it.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use wasmtime::component::{HasSelf, Linker};

use super::HostCapability;
use super::client_requests::FacadeResult;
use crate::bindings::FacadeFailure;
use crate::bindings::{keyvalue, types};
use crate::capability::{
    Capability, CapabilityKind, Narrowed, Narrowing, Params, ParamsRef, Toml, TomlProblem,
    downcast, from_toml,
};
use crate::runtime::HostState;
use crate::state::{Bucket, Quota, SharedStore, StateError};

/// The host's key-value store (`mcp:plugin/keyvalue`).
pub const KEYVALUE: Capability = Capability::named("keyvalue");

/// `[capabilities.keyvalue]`: the namespaces the plugin keeps entries in.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct KeyValueParams {
    pub namespaces: Vec<String>,
}

/// A rule's `keyvalue-quota-entries` and `keyvalue-quota-kib`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct KeyValueRule {
    keyvalue_quota_entries: Option<u64>,
    keyvalue_quota_kib: Option<u64>,
}

/// The namespaces granted, and what the plugin may keep in them together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyValueGrant {
    pub namespaces: Vec<String>,
    pub quota: Quota,
}

/// The `keyvalue` capability.
pub struct KeyValue;

impl CapabilityKind for KeyValue {
    fn id(&self) -> Capability {
        KEYVALUE
    }

    fn interfaces(&self) -> &'static [&'static str] {
        &["mcp:plugin/keyvalue"]
    }

    fn section_lists(&self) -> Option<&'static str> {
        Some("namespace")
    }

    fn declaration(&self, section: Toml<'_>) -> Result<ParamsRef, TomlProblem> {
        let kv: KeyValueParams = from_toml(section)?;
        if kv.namespaces.is_empty() {
            return Err("capabilities.keyvalue.namespaces lists no namespace".into());
        }
        if let Some(n) = kv.namespaces.iter().find(|n| {
            n.is_empty()
                || n.len() > 64
                || !n
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        }) {
            return Err(format!(
                "capabilities.keyvalue.namespaces: `{n}` is not a namespace (1-64 letters, digits, `_`, `-`, `.`)"
            )
            .into());
        }
        Ok(Arc::new(kv))
    }

    fn rule_keys(&self) -> &'static [&'static str] {
        &["keyvalue-quota-entries", "keyvalue-quota-kib"]
    }

    fn rule(&self, keys: Toml<'_>, _grants_it: bool) -> Result<Option<ParamsRef>, TomlProblem> {
        let rule: KeyValueRule = from_toml(keys)?;
        if rule.keyvalue_quota_entries == Some(0) || rule.keyvalue_quota_kib == Some(0) {
            return Err("a ceiling or quota must be at least 1".into());
        }
        if rule == KeyValueRule::default() {
            return Ok(None);
        }
        Ok(Some(Arc::new(rule)))
    }

    fn narrow(&self, narrowing: Narrowing<'_>) -> Narrowed {
        let rules: Vec<&KeyValueRule> = narrowing
            .matching_rules
            .iter()
            .filter_map(|r| downcast::<KeyValueRule>(*r))
            .collect();
        let lowest = |f: fn(&KeyValueRule) -> Option<u64>| rules.iter().filter_map(|r| f(r)).min();
        let grant = KeyValueGrant {
            namespaces: narrowing
                .declared
                .and_then(downcast::<KeyValueParams>)
                .map(|k| k.namespaces.clone())
                .unwrap_or_default(),
            quota: Quota {
                entries: lowest(|r| r.keyvalue_quota_entries).unwrap_or(Quota::DEFAULT.entries),
                bytes: lowest(|r| r.keyvalue_quota_kib)
                    .map_or(Quota::DEFAULT.bytes, |kib| kib.saturating_mul(1024)),
            },
        };
        Narrowed {
            grant: Some(Arc::new(grant)),
            withheld: Vec::new(),
        }
    }

    fn describe(&self, grant: Option<&dyn Params>) -> Vec<String> {
        let grant = grant
            .and_then(downcast::<KeyValueGrant>)
            .cloned()
            .unwrap_or_default();
        vec![format!(
            "namespaces: {} (quota: {} entries, {} KiB)",
            super::listed(&grant.namespaces),
            grant.quota.entries,
            grant.quota.bytes / 1024
        )]
    }

    fn scope(&self, grant: Option<&dyn Params>) -> serde_json::Value {
        let grant = grant
            .and_then(downcast::<KeyValueGrant>)
            .cloned()
            .unwrap_or_default();
        serde_json::json!({
            "namespaces": grant.namespaces,
            "quota-entries": grant.quota.entries,
            "quota-kib": grant.quota.bytes / 1024,
        })
    }
}

impl HostCapability for KeyValue {
    fn add_to_linker(&self, linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        keyvalue::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)
    }
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
        self.check_grant(KEYVALUE)?;
        let namespaces = self.keyvalue_grant().namespaces.as_slice();
        if !namespaces.iter().any(|n| n == namespace) {
            super::super::runtime::PluginCounters::bump(&self.counters.denials);
            return Err(types::FacadeError::Denied(format!(
                "namespace `{namespace}` is not among the plugin's key-value namespaces ({})",
                namespaces.join(", ")
            )));
        }
        if let Some(key) = key
            && (key.is_empty() || key.len() > MAX_KEY_BYTES)
        {
            return Err(types::FacadeError::InvalidInput(format!(
                "a key must be 1 to {MAX_KEY_BYTES} bytes"
            )));
        }
        Ok(self.service::<crate::state::SharedStore>()?.clone())
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
            quota: self.keyvalue_grant().quota,
        }
    }

    /// What the policy grants the plugin's key-value use.
    fn keyvalue_grant(&self) -> &KeyValueGrant {
        static NONE: KeyValueGrant = KeyValueGrant {
            namespaces: Vec::new(),
            quota: Quota::DEFAULT,
        };
        self.grants.params(KEYVALUE).unwrap_or(&NONE)
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
        let _span = self.facade_span("keyvalue.get");
        let store = self.keyvalue(&namespace, Some(&key))?;
        Ok(store
            .get(self.bucket(&namespace), &key)
            .await
            .map_err(facade_error)?)
    }

    async fn set(
        &mut self,
        namespace: String,
        key: String,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> FacadeResult<()> {
        let _span = self.facade_span("keyvalue.set");
        if value.len() > MAX_VALUE_BYTES {
            return Err(FacadeFailure::Guest(types::FacadeError::InvalidInput(
                format!("a value may have at most {MAX_VALUE_BYTES} bytes"),
            )));
        }
        let store = self.keyvalue(&namespace, Some(&key))?;
        Ok(store
            .set(
                self.bucket(&namespace),
                &key,
                &value,
                ttl_ms.map(Duration::from_millis),
            )
            .await
            .map_err(|e| self.kv_error(e))?)
    }

    async fn delete(&mut self, namespace: String, key: String) -> FacadeResult<bool> {
        let _span = self.facade_span("keyvalue.delete");
        let store = self.keyvalue(&namespace, Some(&key))?;
        Ok(store
            .delete(self.bucket(&namespace), &key)
            .await
            .map_err(facade_error)?)
    }

    async fn list_keys(&mut self, namespace: String, prefix: String) -> FacadeResult<Vec<String>> {
        let _span = self.facade_span("keyvalue.list-keys");
        let store = self.keyvalue(&namespace, None)?;
        Ok(store
            .list_keys(self.bucket(&namespace), &prefix, MAX_LISTED_KEYS)
            .await
            .map_err(facade_error)?)
    }

    async fn increment(&mut self, namespace: String, key: String, delta: i64) -> FacadeResult<i64> {
        let _span = self.facade_span("keyvalue.increment");
        let store = self.keyvalue(&namespace, Some(&key))?;
        Ok(store
            .increment(self.bucket(&namespace), &key, delta)
            .await
            .map_err(|e| self.kv_error(e))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::testing::{declaring, no_policy, policy};

    #[test]
    fn the_quota_is_the_lowest_of_the_matching_rules() {
        let d = declaring(
            "[capabilities]\nrequired = [\"keyvalue\"]\n[capabilities.keyvalue]\nnamespaces = [\"ns\"]\n",
        );
        let default = no_policy().evaluate("p", &d);
        let grant = default.params::<KeyValueGrant>(KEYVALUE).unwrap();
        assert_eq!(grant.quota, Quota::DEFAULT);
        assert_eq!(grant.namespaces, vec!["ns".to_string()]);
        let policy = policy(
            "[[rule]]\nplugins = \"p*\"\nkeyvalue-quota-entries = 10\nkeyvalue-quota-kib = 4\n\
             [[rule]]\nplugins = \"*\"\nkeyvalue-quota-entries = 5\n",
        )
        .unwrap();
        assert_eq!(
            policy
                .evaluate("p", &d)
                .params::<KeyValueGrant>(KEYVALUE)
                .unwrap()
                .quota,
            Quota {
                entries: 5,
                bytes: 4096
            }
        );
        let err = crate::capability::testing::policy(
            "[[rule]]\nplugins = \"p\"\nkeyvalue-quota-kib = 0\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("line 2: a ceiling or quota must be at least 1"),
            "{err}"
        );
    }
}

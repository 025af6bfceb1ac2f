//! The host's key-value store: bytes (or JSON values) under string keys,
//! private to the plugin, kept across requests, sessions and restarts.
//! Entries live in namespaces the plugin's manifest declares:
//!
//! ```toml
//! [capabilities]
//! required = ["keyvalue"]
//!
//! [capabilities.keyvalue]
//! namespaces = ["cache"]
//! ```
//!
//! ```no_run
//! # use mcp_plugin::{Context, ToolError};
//! fn hits(ctx: &Context) -> Result<String, ToolError> {
//!     let n = ctx.keyvalue("cache").increment("hits", 1)?;
//!     Ok(format!("{n} hits so far"))
//! }
//! ```

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::mcp::plugin::keyvalue as host;
use crate::context::Context;
use crate::error::FacadeError;
use crate::form_schema::type_name;

/// One namespace of the store, from [`Context::keyvalue`]. Each method asks
/// the host.
#[derive(Debug, Clone, Copy)]
pub struct KeyValue<'a> {
    _context: &'a Context,
    namespace: &'a str,
}

impl Context {
    /// The key-value namespace `namespace` (one the manifest declares;
    /// others answer [`FacadeError::Denied`]).
    pub fn keyvalue<'a>(&'a self, namespace: &'a str) -> KeyValue<'a> {
        KeyValue {
            _context: self,
            namespace,
        }
    }
}

impl KeyValue<'_> {
    /// The bytes under `key`, if any (expired entries are gone).
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, FacadeError> {
        Ok(host::get(self.namespace, key)?)
    }

    /// The JSON value under `key`, as a `T`.
    ///
    /// # Errors
    ///
    /// [`FacadeError::InvalidInput`] when the stored bytes are not a `T` in
    /// JSON; otherwise whatever the host reports.
    pub fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, FacadeError> {
        let Some(bytes) = self.get(key)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|error| {
            FacadeError::InvalidInput(format!(
                "the value under `{key}` is not a `{}`: {error}",
                type_name::<T>()
            ))
        })
    }

    /// Store `value` under `key`, replacing any earlier entry.
    pub fn set(&self, key: &str, value: &[u8]) -> Result<(), FacadeError> {
        Ok(host::set(self.namespace, key, value, None)?)
    }

    /// Store `value` under `key` for `ttl`, after which it is gone.
    pub fn set_with_ttl(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), FacadeError> {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        Ok(host::set(self.namespace, key, value, Some(ms))?)
    }

    /// Store `value` as JSON under `key`.
    pub fn set_json<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), FacadeError> {
        self.set(key, &to_json(key, value)?)
    }

    /// Store `value` as JSON under `key` for `ttl`.
    pub fn set_json_with_ttl<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> Result<(), FacadeError> {
        self.set_with_ttl(key, &to_json(key, value)?, ttl)
    }

    /// Remove the entry under `key`; true if there was one.
    pub fn delete(&self, key: &str) -> Result<bool, FacadeError> {
        Ok(host::delete(self.namespace, key)?)
    }

    /// The keys starting with `prefix`, sorted (at most 1000).
    pub fn keys(&self, prefix: &str) -> Result<Vec<String>, FacadeError> {
        Ok(host::list_keys(self.namespace, prefix)?)
    }

    /// Add `delta` to the integer under `key` (absent counts as 0) and
    /// return the new value, atomically.
    pub fn increment(&self, key: &str, delta: i64) -> Result<i64, FacadeError> {
        Ok(host::increment(self.namespace, key, delta)?)
    }
}

fn to_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<Vec<u8>, FacadeError> {
    serde_json::to_vec(value).map_err(|error| {
        FacadeError::InvalidInput(format!("cannot store the value under `{key}`: {error}"))
    })
}

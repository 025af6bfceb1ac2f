//! State that outlives one request: typed values under string keys, private
//! to the plugin, kept per client session.
//!
//! The scope is the client's session (an HTTP session or a stdio
//! connection) for clients that open one, and the authenticated principal
//! or the state handle the client sends for newer clients. Where a request
//! has no such scope every call fails with
//! [`FacadeError::UnsupportedByClient`]. The host bounds the stored size
//! per scope.
//!
//! ```no_run
//! # use mcp_plugin::{Context, ToolError};
//! fn count_visits(ctx: &Context) -> Result<String, ToolError> {
//!     let session = ctx.session();
//!     let visits = session.get::<u32>("visits")?.unwrap_or(0) + 1;
//!     session.set("visits", &visits)?;
//!     Ok(format!("visit number {visits}"))
//! }
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::mcp::plugin::session_state as host;
use crate::context::Context;
use crate::error::FacadeError;
use crate::form_schema::type_name;

/// A handle on the session's state, from [`Context::session`]. Values are
/// stored as JSON; each method asks the host.
#[derive(Debug, Clone, Copy)]
pub struct Session<'a> {
    _context: &'a Context,
}

impl Context {
    /// The state of the client's session.
    pub fn session(&self) -> Session<'_> {
        Session { _context: self }
    }
}

impl Session<'_> {
    /// The value under `key`, if there is one.
    ///
    /// # Errors
    ///
    /// [`FacadeError::InvalidInput`] when the stored value does not
    /// deserialize as `T`; otherwise whatever the host reports.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, FacadeError> {
        let Some(json) = host::get(key)? else {
            return Ok(None);
        };
        serde_json::from_str(&json).map(Some).map_err(|error| {
            FacadeError::InvalidInput(format!(
                "the value under `{key}` is not a `{}`: {error}",
                type_name::<T>()
            ))
        })
    }

    /// Store `value` under `key`, replacing any earlier value.
    ///
    /// # Errors
    ///
    /// [`FacadeError::InvalidInput`] when `value` cannot be serialized or
    /// the scope's size budget would be exceeded; otherwise whatever the
    /// host reports.
    pub fn set<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), FacadeError> {
        let json = serde_json::to_string(value).map_err(|error| {
            FacadeError::InvalidInput(format!("cannot store the value under `{key}`: {error}"))
        })?;
        Ok(host::set(key, &json)?)
    }

    /// Remove the value under `key`; true if there was one.
    pub fn delete(&self, key: &str) -> Result<bool, FacadeError> {
        Ok(host::delete(key)?)
    }

    /// Every key the plugin holds in this session, sorted.
    pub fn keys(&self) -> Result<Vec<String>, FacadeError> {
        Ok(host::list_keys()?)
    }
}

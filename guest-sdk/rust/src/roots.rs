//! The client's roots (`roots/list`): the directories or other URIs the
//! user has put in scope.

use crate::bindings::mcp::plugin::roots as host;
use crate::context::Context;
use crate::error::FacadeError;

/// One root the client exposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// A URI, usually `file://...`.
    pub uri: String,
    /// A name for people, when the client gave one.
    pub name: Option<String>,
}

impl Context {
    /// The client's roots, in the client's order.
    ///
    /// # Errors
    ///
    /// [`FacadeError::UnsupportedByClient`] when the client does not offer
    /// roots; otherwise whatever the host reports.
    pub fn roots(&self) -> Result<Vec<Root>, FacadeError> {
        Ok(host::list_roots()?
            .into_iter()
            .map(|root| Root {
                uri: root.uri,
                name: root.name,
            })
            .collect())
    }
}

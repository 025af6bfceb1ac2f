//! Outbound HTTP, sent by the host to the origins the manifest allows and
//! the operator grants. The host follows redirects (checking each one
//! against the same list) and adds the credentials the manifest binds to an
//! origin, so an API token never passes through the plugin:
//!
//! ```toml
//! [capabilities]
//! required = ["http"]
//!
//! [capabilities.http]
//! allow = ["https://api.example.com"]
//!
//! [[capabilities.http.credentials]]
//! origin = "https://api.example.com"
//! secret = "example-token"            # the operator sets its value
//! ```
//!
//! ```no_run
//! # use mcp_plugin::{Context, ToolError};
//! #[derive(serde::Deserialize)]
//! struct Status { healthy: bool }
//!
//! fn healthy(ctx: &Context) -> Result<bool, ToolError> {
//!     let response = ctx
//!         .http(mcp_plugin::Request::get("https://api.example.com/status"))?
//!         .error_for_status()?;
//!     Ok(response.json::<Status>()?.healthy)
//! }
//! ```

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::mcp::plugin::http as host;
use crate::context::Context;
use crate::error::FacadeError;
use crate::form_schema::type_name;

/// A request to send with [`Context::http`].
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    timeout: Option<Duration>,
}

impl Request {
    /// A request with any method (`GET`, `POST`, `PUT`, `PATCH`, `DELETE`,
    /// `HEAD`, `OPTIONS`).
    pub fn new(method: &str, url: impl Into<String>) -> Self {
        Self {
            method: method.to_string(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
            timeout: None,
        }
    }

    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    pub fn post(url: impl Into<String>) -> Self {
        Self::new("POST", url)
    }

    /// Add a header (headers the host owns, like `host`, are refused).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Send these bytes as the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Send `value` as a JSON body (and say so in `content-type`).
    pub fn json<T: Serialize>(self, value: &T) -> Result<Self, FacadeError> {
        let body = serde_json::to_vec(value).map_err(|e| {
            FacadeError::InvalidInput(format!("cannot encode the body as JSON: {e}"))
        })?;
        Ok(self.header("content-type", "application/json").body(body))
    }

    /// Give up after `timeout` (the host allows at most 60 s, and the
    /// call's own deadline still applies).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// A response: any status, the headers, the whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Header names are lowercase.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The URL that answered, after redirects.
    pub url: String,
}

impl Response {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The response itself when its status is 2xx, else
    /// [`FacadeError::Failed`] naming the status and the URL.
    pub fn error_for_status(self) -> Result<Self, FacadeError> {
        if self.is_success() {
            Ok(self)
        } else {
            Err(FacadeError::Failed(format!(
                "{} answered with status {}",
                self.url, self.status
            )))
        }
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON of type `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, FacadeError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            FacadeError::InvalidInput(format!(
                "the response from {} is not a `{}` in JSON: {e}",
                self.url,
                type_name::<T>()
            ))
        })
    }
}

impl Context {
    /// Send `request` through the host and read the whole response. A
    /// response with an error status is still `Ok`; see
    /// [`Response::error_for_status`].
    ///
    /// # Errors
    ///
    /// [`FacadeError::Denied`] for an origin (or a redirect to one) that is
    /// not allowed, [`FacadeError::InvalidInput`] for a malformed request,
    /// [`FacadeError::Timeout`], and [`FacadeError::Failed`] when no
    /// response came (connection refused, too many redirects, a body over
    /// the manifest's cap).
    pub fn http(&self, request: Request) -> Result<Response, FacadeError> {
        let timeout_ms = request
            .timeout
            .map(|t| u32::try_from(t.as_millis()).unwrap_or(u32::MAX));
        let response = host::send(&host::Request {
            method: request.method,
            url: request.url,
            headers: request.headers,
            body: request.body,
            timeout_ms,
        })?;
        Ok(Response {
            status: response.status,
            headers: response.headers,
            body: response.body,
            url: response.url,
        })
    }

    /// The operator's secret `name` (declared in `[capabilities.secrets]`
    /// and granted by a policy rule). Prefer HTTP credentials bound in the
    /// manifest, which the plugin never sees.
    pub fn secret(&self, name: &str) -> Result<String, FacadeError> {
        Ok(crate::bindings::mcp::plugin::secrets::get(name)?)
    }
}

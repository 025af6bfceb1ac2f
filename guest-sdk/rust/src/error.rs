//! The three ways things fail in a plugin.
//!
//! - [`ToolError`]: a tool that ran and failed. Its message is what the
//!   model reads, so it should say what went wrong in terms of the tool's
//!   arguments.
//! - [`ExportError`]: a resource, prompt or completion the plugin could not
//!   serve (nothing by that name, bad arguments, or a failure).
//! - [`FacadeError`]: a call into the client or a host service (sampling,
//!   elicitation, roots, session state, the host catalog) that produced no
//!   answer.
//!
//! Any [`std::error::Error`] — `FacadeError` included — converts into a
//! `ToolError` or an `ExportError` (its message followed by its sources), so
//! `?` works on parse, I/O, serialization and facade errors inside handlers.

use std::fmt;

use crate::bindings::mcp::plugin::types as wit;
use crate::output::Content;

/// A failed tool call: a message for the model, plus optional content blocks
/// shown after it.
///
/// `ToolError` deliberately does not implement [`std::error::Error`]; that is
/// what lets every error type convert into it with `?`.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolError {
    message: String,
    content: Vec<Content>,
}

impl ToolError {
    /// An error with this message and no extra content.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            content: Vec::new(),
        }
    }

    /// Append a content block shown after the message (for example the
    /// offending input, or a log excerpt).
    pub fn with_content(mut self, content: Content) -> Self {
        self.content.push(content);
        self
    }

    /// The message shown to the model.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The extra content blocks, in order.
    pub fn content(&self) -> &[Content] {
        &self.content
    }

    pub(crate) fn into_wit(self) -> wit::ToolError {
        wit::ToolError {
            message: self.message,
            content: self.content.into_iter().map(Content::into_wit).collect(),
        }
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: std::error::Error> From<E> for ToolError {
    fn from(error: E) -> Self {
        Self::new(error_chain(&error))
    }
}

/// The error's message followed by those of its sources, `: `-separated.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// Why a call into the client or a host service produced no answer: the
/// `facade-error` of the WIT contract.
///
/// It implements [`std::error::Error`], so `?` turns it into a
/// [`ToolError`] (or an [`ExportError`]) whose message is the `Display`
/// text below. Match on it to react to a particular case, for example to
/// fall back when the client cannot sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FacadeError {
    /// The client did not declare the capability this needs (the text names
    /// it), or its protocol version offers no way to do it.
    UnsupportedByClient(String),
    /// The host's policy does not grant this to the plugin.
    Denied(String),
    /// No answer arrived in time.
    Timeout,
    /// The request this call serves was cancelled.
    Cancelled,
    /// What the plugin sent was rejected before it reached the client, or
    /// the answer did not match what the plugin asked for.
    InvalidInput(String),
    /// The client or the host answered with an error.
    Failed(String),
}

impl fmt::Display for FacadeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedByClient(what) => write!(f, "unsupported by client: {what}"),
            Self::Denied(what) => write!(f, "denied: {what}"),
            Self::Timeout => f.write_str("timed out"),
            Self::Cancelled => f.write_str("cancelled"),
            Self::InvalidInput(what) => write!(f, "invalid input: {what}"),
            Self::Failed(what) => write!(f, "failed: {what}"),
        }
    }
}

impl std::error::Error for FacadeError {}

impl From<wit::FacadeError> for FacadeError {
    fn from(error: wit::FacadeError) -> Self {
        match error {
            wit::FacadeError::UnsupportedByClient(what) => Self::UnsupportedByClient(what),
            wit::FacadeError::Denied(what) => Self::Denied(what),
            wit::FacadeError::Timeout => Self::Timeout,
            wit::FacadeError::Cancelled => Self::Cancelled,
            wit::FacadeError::InvalidInput(what) => Self::InvalidInput(what),
            wit::FacadeError::Failed(what) => Self::Failed(what),
        }
    }
}

/// Why the plugin could not serve a resource, prompt or completion.
///
/// Like [`ToolError`], it does not implement [`std::error::Error`], so any
/// error converts into it with `?` (as [`ExportError::Failed`]); a
/// `ToolError` converts too, keeping its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportError {
    /// Nothing by that name or URI here (the text says what).
    NotFound(String),
    /// The request's arguments are wrong (the text says how).
    InvalidParams(String),
    /// It exists, but serving it failed.
    Failed(String),
}

impl ExportError {
    /// [`ExportError::NotFound`] with this message.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }

    /// [`ExportError::InvalidParams`] with this message.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::InvalidParams(message.into())
    }

    /// [`ExportError::Failed`] with this message.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }

    /// The message, whatever the kind.
    pub fn message(&self) -> &str {
        match self {
            Self::NotFound(message) | Self::InvalidParams(message) | Self::Failed(message) => {
                message
            }
        }
    }

    pub(crate) fn into_wit(self) -> wit::ExportError {
        match self {
            Self::NotFound(message) => wit::ExportError::NotFound(message),
            Self::InvalidParams(message) => wit::ExportError::InvalidParams(message),
            Self::Failed(message) => wit::ExportError::Failed(message),
        }
    }
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl<E: std::error::Error> From<E> for ExportError {
    fn from(error: E) -> Self {
        Self::Failed(error_chain(&error))
    }
}

impl From<ToolError> for ExportError {
    fn from(error: ToolError) -> Self {
        Self::Failed(error.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("reading input")
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn converted_errors_carry_their_sources() {
        let error: ToolError = Outer(std::io::Error::other("disk on fire")).into();
        assert_eq!(error.message(), "reading input: disk on fire");
    }

    #[test]
    fn facade_errors_display_their_kind() {
        let cases = [
            (
                FacadeError::UnsupportedByClient("sampling".into()),
                "unsupported by client: sampling",
            ),
            (FacadeError::Denied("roots".into()), "denied: roots"),
            (FacadeError::Timeout, "timed out"),
            (FacadeError::Cancelled, "cancelled"),
            (
                FacadeError::InvalidInput("bad schema".into()),
                "invalid input: bad schema",
            ),
            (
                FacadeError::Failed("client said no".into()),
                "failed: client said no",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
    }

    #[test]
    fn facade_errors_convert_with_question_mark() {
        fn tool() -> Result<(), ToolError> {
            Err(FacadeError::Timeout)?
        }
        fn export() -> Result<(), ExportError> {
            Err(FacadeError::Denied("state".into()))?
        }
        assert_eq!(tool().unwrap_err().message(), "timed out");
        assert_eq!(export().unwrap_err(), ExportError::failed("denied: state"));
    }

    #[test]
    fn tool_errors_convert_to_export_errors() {
        let error: ExportError = ToolError::new("broken").into();
        assert_eq!(error, ExportError::Failed("broken".into()));
        assert_eq!(error.to_string(), "broken");
    }

    #[test]
    fn content_is_kept_in_order() {
        let error = ToolError::new("bad")
            .with_content(Content::text("one"))
            .with_content(Content::text("two"));
        let wit = error.into_wit();
        assert_eq!(wit.message, "bad");
        assert_eq!(wit.content.len(), 2);
    }
}

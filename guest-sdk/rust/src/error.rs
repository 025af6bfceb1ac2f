//! [`ToolError`]: a tool that ran and failed.
//!
//! The error's message is what the model reads, so it should say what went
//! wrong in terms of the tool's arguments. Any [`std::error::Error`] converts
//! into a `ToolError` (its message followed by its sources), so `?` works on
//! parse, I/O and serialization errors inside a handler.

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
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Self::new(message)
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
    fn content_is_kept_in_order() {
        let error = ToolError::new("bad")
            .with_content(Content::text("one"))
            .with_content(Content::text("two"));
        let wit = error.into_wit();
        assert_eq!(wit.message, "bad");
        assert_eq!(wit.content.len(), 2);
    }
}

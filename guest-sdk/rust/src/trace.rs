//! The plugin's own spans in the call's trace: [`Context::span`] opens one
//! that ends when dropped, nested under the spans still open. Without
//! tracing on the host they cost a host call and record nothing.

use crate::bindings::mcp::plugin::context as host;
use crate::context::Context;

/// A span the plugin opened; it ends when dropped (or with [`Span::end`]),
/// and at the latest when the call ends.
#[derive(Debug)]
#[must_use = "a span ends when dropped: bind it to a variable for the work it measures"]
pub struct Span {
    /// `None` once the call has opened as many spans as the host allows.
    handle: Option<u32>,
}

impl Span {
    /// End the span now.
    pub fn end(self) {}

    /// Whether the host opened it (it refuses beyond 64 spans per call).
    pub fn is_open(&self) -> bool {
        self.handle.is_some()
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            host::end_span(handle);
        }
    }
}

impl Context {
    /// Open a span named `name` in the call's trace, under the innermost
    /// span this call opened and has not ended.
    ///
    /// ```no_run
    /// # fn parse(ctx: &mcp_plugin::Context) {
    /// let _parsing = ctx.span("parse");
    /// // ... the work the span measures ...
    /// # }
    /// ```
    pub fn span(&self, name: &str) -> Span {
        self.span_with(name, &[])
    }

    /// [`Context::span`] with attributes (at most 32; the host cuts long
    /// keys and values).
    pub fn span_with(&self, name: &str, attributes: &[(&str, &str)]) -> Span {
        let attributes: Vec<(String, String)> = attributes
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        Span {
            handle: host::open_span(name, &attributes),
        }
    }

    /// The id of the trace this call belongs to (32 hex digits), when the
    /// host exports traces: to carry in the plugin's own logs or requests.
    pub fn trace_id(&self) -> Option<String> {
        host::trace_id()
    }
}

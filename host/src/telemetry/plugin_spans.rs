//! The spans a plugin opens itself (`open-span`/`end-span` of the context
//! facade): nested as the plugin opens them, bounded per call in number,
//! name and attributes, and all ended when the call ends. The plugin holds
//! only small handles; the host's span ids stay with the host.

use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::spans;

/// Spans one call may open.
pub const MAX_SPANS_PER_CALL: u32 = 64;
/// Attributes one span may carry.
pub const MAX_ATTRIBUTES: usize = 32;
/// Longest span name or attribute key, in bytes.
pub const MAX_NAME_BYTES: usize = 128;
/// Longest attribute value, in bytes.
pub const MAX_VALUE_BYTES: usize = 1024;

/// The spans a call's plugin opened and has not ended, innermost last.
#[derive(Debug, Default)]
pub struct PluginSpans {
    open: Vec<(u32, tracing::Span)>,
    opened: u32,
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    &text[..text.floor_char_boundary(max)]
}

impl PluginSpans {
    /// Open a span named `name` under the innermost open one, else under
    /// `run` (the plugin's run); `None` once the call opened its share.
    pub fn open(
        &mut self,
        run: &tracing::Span,
        plugin: &str,
        name: &str,
        attributes: &[(String, String)],
    ) -> Option<u32> {
        if self.opened >= MAX_SPANS_PER_CALL {
            return None;
        }
        self.opened += 1;
        let handle = self.opened;
        let span = spans::plugin(self.current(run), plugin, cut(name, MAX_NAME_BYTES));
        if !span.is_disabled() {
            for (key, value) in attributes.iter().take(MAX_ATTRIBUTES) {
                span.set_attribute(
                    cut(key, MAX_NAME_BYTES).to_string(),
                    cut(value, MAX_VALUE_BYTES).to_string(),
                );
            }
        }
        self.open.push((handle, span));
        Some(handle)
    }

    /// End span `handle` and the spans opened inside it.
    pub fn end(&mut self, handle: u32) {
        if let Some(at) = self.open.iter().position(|(h, _)| *h == handle) {
            self.open.truncate(at);
        }
    }

    /// End every span still open, and let the next call open its share.
    pub fn end_all(&mut self) {
        self.open.clear();
        self.opened = 0;
    }

    /// The innermost span still open, else `run`: where the guest's facade
    /// calls and log lines belong.
    pub fn current<'a>(&'a self, run: &'a tracing::Span) -> &'a tracing::Span {
        self.open.last().map_or(run, |(_, span)| span)
    }

    /// How many spans are open.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_opens_at_most_its_share_of_spans() {
        let mut spans = PluginSpans::default();
        let run = tracing::Span::none();
        for n in 1..=MAX_SPANS_PER_CALL {
            assert_eq!(spans.open(&run, "p", "step", &[]), Some(n));
            spans.end(n);
        }
        assert_eq!(spans.open(&run, "p", "one too many", &[]), None);
        assert_eq!(spans.open_count(), 0);
        spans.end_all();
        assert_eq!(spans.open(&run, "p", "next call", &[]), Some(1));
    }

    #[test]
    fn ending_a_span_ends_the_spans_opened_inside_it() {
        let mut spans = PluginSpans::default();
        let run = tracing::Span::none();
        let outer = spans.open(&run, "p", "outer", &[]).unwrap();
        let _inner = spans.open(&run, "p", "inner", &[]).unwrap();
        let _innermost = spans.open(&run, "p", "innermost", &[]).unwrap();
        spans.end(999);
        assert_eq!(spans.open_count(), 3);
        spans.end(outer);
        assert_eq!(spans.open_count(), 0);
        spans.end(outer);
        assert_eq!(spans.open_count(), 0);
    }

    #[test]
    fn names_are_cut_on_a_character_boundary() {
        let long = "é".repeat(100);
        let cut_name = cut(&long, MAX_NAME_BYTES);
        assert!(cut_name.len() <= MAX_NAME_BYTES);
        assert!(long.starts_with(cut_name));
    }
}

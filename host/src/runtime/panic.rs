//! A guest's report of its own panic (`context.report-panic`): kept, bounded,
//! in the call's store until the trap that follows, then named in the
//! call's error and logged with its location.

use super::{PluginBudget, PluginCounters};

/// Longest panic message kept from a guest, in bytes.
pub(crate) const MAX_PANIC_MESSAGE_BYTES: usize = 2 * 1024;

/// Longest panic location kept from a guest, in bytes.
pub(crate) const MAX_PANIC_LOCATION_BYTES: usize = 256;

/// What a guest call runs, as the error of a panic names it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Runs {
    /// A tool call: `the tool panicked: ...`.
    Tool,
    /// Loading, resources, prompts, completions: `the plugin panicked: ...`.
    Plugin,
}

/// What a guest said about its panic before trapping: the message and where
/// it happened, each cut to a bound. A report replaces the previous one, so
/// a guest that reports in a loop holds at most one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PanicReport {
    pub(crate) message: String,
    pub(crate) location: Option<String>,
}

impl PanicReport {
    pub(crate) fn new(message: String, location: Option<String>) -> Self {
        Self {
            message: cut(message, MAX_PANIC_MESSAGE_BYTES),
            location: location.map(|l| cut(l, MAX_PANIC_LOCATION_BYTES)),
        }
    }

    /// The call's error, without the location (which only the log gets).
    pub(crate) fn error_message(&self, runs: Runs) -> String {
        let subject = match runs {
            Runs::Tool => "the tool",
            Runs::Plugin => "the plugin",
        };
        format!("{subject} panicked: {}", self.message)
    }

    /// Log the panic of a call of `plugin` that trapped, within the
    /// plugin's share of the log (as its output lines are). Control
    /// characters are escaped, so a message cannot forge log lines.
    pub(crate) fn log(&self, plugin: &str, budget: &PluginBudget) {
        if !budget.shares.output_rate.allow() {
            PluginCounters::bump(&budget.counters.output_dropped);
            return;
        }
        let location = self.location.as_deref().unwrap_or("an unknown location");
        tracing::warn!(
            target: "plugin",
            plugin = %plugin,
            "panicked at {}: {}",
            location.escape_debug(),
            self.message.escape_debug()
        );
    }
}

/// `text` cut to at most `max` bytes, on a character boundary, ending in
/// `…` when it was cut.
fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        text.truncate(text.floor_char_boundary(max - '…'.len_utf8()));
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_cut_on_a_character_boundary() {
        let short = PanicReport::new("boom".into(), Some("src/lib.rs:1:2".into()));
        assert_eq!(short.message, "boom");
        assert_eq!(short.location.as_deref(), Some("src/lib.rs:1:2"));
        // Two-byte characters, so the bound falls inside one.
        let long = PanicReport::new("é".repeat(5000), Some("x".repeat(10_000)));
        assert!(long.message.len() <= MAX_PANIC_MESSAGE_BYTES);
        assert!(long.message.starts_with("éé") && long.message.ends_with('…'));
        let location = long.location.unwrap();
        assert!(location.len() <= MAX_PANIC_LOCATION_BYTES && location.ends_with('…'));
        let exact = PanicReport::new("a".repeat(MAX_PANIC_MESSAGE_BYTES), None);
        assert_eq!(exact.message.len(), MAX_PANIC_MESSAGE_BYTES);
        assert!(!exact.message.ends_with('…'));
    }

    #[test]
    fn the_error_names_the_message_but_not_the_location() {
        let report = PanicReport::new("boom".into(), Some("src/lib.rs:3:9".into()));
        assert_eq!(report.error_message(Runs::Tool), "the tool panicked: boom");
        assert_eq!(
            report.error_message(Runs::Plugin),
            "the plugin panicked: boom"
        );
    }
}

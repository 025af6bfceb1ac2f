//! Argument completion (`completion/complete`) for the plugin's prompts and
//! resource templates.
//!
//! Attach a completer to one argument with
//! [`Prompt::complete_argument`](crate::Prompt::complete_argument) or
//! [`ResourceTemplate::complete_argument`](crate::ResourceTemplate::complete_argument),
//! or handle every request in one place with
//! [`Registry::complete_with`](crate::Registry::complete_with), which the
//! SDK asks when no argument-specific completer exists. Arguments without
//! any completer complete to nothing.

use crate::args::Arguments;
use crate::bindings::exports::mcp::plugin::completions as wit;
use crate::context::Context;

/// Suggested values for an argument.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Completion {
    /// The suggestions, best first; at most [`Completion::MAX_VALUES`].
    pub values: Vec<String>,
    /// How many suggestions exist in all, when known.
    pub total: Option<u32>,
    /// Whether there are more than `values` holds.
    pub has_more: bool,
}

impl Completion {
    /// The most values a client receives.
    pub const MAX_VALUES: usize = 100;

    /// Suggest `values`, best first. Beyond [`Completion::MAX_VALUES`] the
    /// rest are dropped, and `total` and `has_more` say so.
    pub fn new<S: Into<String>>(values: impl IntoIterator<Item = S>) -> Self {
        let mut values: Vec<String> = values.into_iter().map(Into::into).collect();
        let total = values.len();
        values.truncate(Self::MAX_VALUES);
        Self {
            has_more: total > values.len(),
            total: Some(u32::try_from(total).unwrap_or(u32::MAX)),
            values,
        }
    }

    /// The `candidates` that start with `prefix` (what the user typed so
    /// far), in their order.
    pub fn by_prefix<S: AsRef<str>>(prefix: &str, candidates: impl IntoIterator<Item = S>) -> Self {
        Self::new(
            candidates
                .into_iter()
                .filter(|candidate| candidate.as_ref().starts_with(prefix))
                .map(|candidate| candidate.as_ref().to_owned()),
        )
    }

    pub(crate) fn into_wit(self) -> wit::Completion {
        wit::Completion {
            values: self.values,
            total: self.total,
            has_more: self.has_more,
        }
    }
}

impl<S: Into<String>> From<Vec<S>> for Completion {
    fn from(values: Vec<S>) -> Self {
        Self::new(values)
    }
}

/// What is being completed: an argument of a prompt, or a variable of a
/// resource template.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CompletionRef {
    /// A prompt, by name.
    Prompt(String),
    /// A resource template, by its URI template.
    ResourceTemplate(String),
}

impl CompletionRef {
    pub(crate) fn from_wit(reference: wit::CompletionRef) -> Self {
        match reference {
            wit::CompletionRef::Prompt(name) => Self::Prompt(name),
            wit::CompletionRef::ResourceTemplate(template) => Self::ResourceTemplate(template),
        }
    }
}

/// One completion request, as [`Registry::complete_with`](crate::Registry::complete_with)
/// receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletionRequest {
    /// The prompt or template.
    pub reference: CompletionRef,
    /// The argument (or template variable) being completed.
    pub argument: String,
    /// What the user typed so far.
    pub value: String,
    /// The arguments already filled in.
    pub context: Arguments,
}

/// A completer for one argument: (context, typed value, other arguments).
pub(crate) type Completer = Box<dyn Fn(&Context, &str, &Arguments) -> Completion>;

/// Box a user's completer, converting its answer.
pub(crate) fn completer<O, F>(complete: F) -> Completer
where
    O: Into<Completion>,
    F: Fn(&Context, &str, &Arguments) -> O + 'static,
{
    Box::new(move |ctx, value, context| complete(ctx, value, context).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lists_are_cut_and_say_so() {
        let completion = Completion::new((0..150).map(|i| i.to_string()));
        assert_eq!(completion.values.len(), 100);
        assert_eq!(completion.total, Some(150));
        assert!(completion.has_more);
        let short = Completion::from(vec!["a", "b"]);
        assert_eq!(short.total, Some(2));
        assert!(!short.has_more);
    }

    #[test]
    fn prefixes_filter_candidates() {
        let completion = Completion::by_prefix("gr", ["groceries", "ideas", "grades"]);
        assert_eq!(completion.values, ["groceries", "grades"]);
        assert_eq!(Completion::by_prefix("", ["a", "b"]).values, ["a", "b"]);
    }
}

//! [`Arguments`]: named string values, as prompts, URI templates and
//! completions receive them.

use std::collections::BTreeMap;

use crate::error::ExportError;

/// Named string values: a prompt's arguments ([`PromptArgs`]), the
/// variables a URI template matched ([`TemplateVars`]), or the arguments
/// already filled in when completing another one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Arguments {
    values: BTreeMap<String, String>,
}

/// A prompt's arguments, by name.
pub type PromptArgs = Arguments;

/// The variables a URI template matched, by name (percent-decoded).
pub type TemplateVars = Arguments;

impl Arguments {
    /// No values.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The value of `name`, or [`ExportError::InvalidParams`] naming it.
    pub fn require(&self, name: &str) -> Result<&str, ExportError> {
        self.get(name)
            .ok_or_else(|| ExportError::invalid_params(format!("missing argument `{name}`")))
    }

    /// Whether `name` has a value.
    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// Set `name` to `value`, replacing any earlier value.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.values.insert(name.into(), value.into());
    }

    /// Every name and value, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.into_iter()
    }

    /// How many values there are.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Arguments {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self {
            values: iter
                .into_iter()
                .map(|(name, value)| (name.into(), value.into()))
                .collect(),
        }
    }
}

impl<'a> IntoIterator for &'a Arguments {
    type Item = (&'a str, &'a str);
    type IntoIter = std::iter::Map<
        std::collections::btree_map::Iter<'a, String, String>,
        fn((&'a String, &'a String)) -> (&'a str, &'a str),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.values
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_found_by_name() {
        let args: Arguments = [("b", "2"), ("a", "1")].into_iter().collect();
        assert_eq!(args.get("a"), Some("1"));
        assert_eq!(args.get("c"), None);
        assert_eq!(args.require("b"), Ok("2"));
        assert_eq!(
            args.require("c"),
            Err(ExportError::invalid_params("missing argument `c`"))
        );
        assert_eq!(args.iter().collect::<Vec<_>>(), [("a", "1"), ("b", "2")]);
    }
}

//! RFC 6570 level-1 URI templates (`note://{name}`), matched against URIs
//! to find a resource template's variables.
//!
//! Only simple string expansion is supported: `{name}` expressions between
//! literal text. An expansion percent-encodes every reserved character, so a
//! variable matches a non-empty run of characters without `/`, `?` or `#`,
//! ending where the following literal text first appears; the matched text
//! is percent-decoded.

use crate::args::Arguments;

/// A parsed URI template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UriTemplate {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Variable(String),
}

impl UriTemplate {
    /// Parse `template`; the error says what is wrong with it.
    pub(crate) fn parse(template: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = template;
        while !rest.is_empty() {
            match rest.find(['{', '}']) {
                Some(at) if rest.as_bytes()[at] == b'}' => {
                    return Err("has a `}` without a matching `{`".into());
                }
                Some(at) => {
                    if at > 0 {
                        parts.push(Part::Literal(rest[..at].to_owned()));
                    }
                    let Some(len) = rest[at..].find('}') else {
                        return Err("has a `{` without a matching `}`".into());
                    };
                    let name = &rest[at + 1..at + len];
                    check_variable(name)?;
                    if matches!(parts.last(), Some(Part::Variable(_))) {
                        return Err(format!(
                            "puts `{{{name}}}` right after another variable; \
                             separate variables with literal text"
                        ));
                    }
                    if parts.contains(&Part::Variable(name.to_owned())) {
                        return Err(format!("uses `{{{name}}}` twice"));
                    }
                    parts.push(Part::Variable(name.to_owned()));
                    rest = &rest[at + len + 1..];
                }
                None => {
                    parts.push(Part::Literal(rest.to_owned()));
                    rest = "";
                }
            }
        }
        if parts.is_empty() {
            return Err("is empty".into());
        }
        Ok(Self { parts })
    }

    /// The variables' names, in order.
    pub(crate) fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Variable(name) => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// The variables of `uri`, if it is an expansion of this template.
    pub(crate) fn matches(&self, uri: &str) -> Option<Arguments> {
        let mut vars = Arguments::new();
        let mut rest = uri;
        let mut parts = self.parts.iter().peekable();
        while let Some(part) = parts.next() {
            match part {
                Part::Literal(literal) => rest = rest.strip_prefix(literal.as_str())?,
                Part::Variable(name) => {
                    let end = match parts.peek() {
                        Some(Part::Literal(next)) => rest.find(next.as_str())?,
                        _ => rest.len(),
                    };
                    let raw = &rest[..end];
                    if raw.is_empty() || raw.contains(['/', '?', '#']) {
                        return None;
                    }
                    vars.insert(name.as_str(), percent_decode(raw)?);
                    rest = &rest[end..];
                }
            }
        }
        rest.is_empty().then_some(vars)
    }
}

/// Check the inside of a `{...}` expression: a level-1 variable name.
fn check_variable(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("has an empty `{}`".into());
    }
    if name.starts_with(['+', '#', '.', '/', ';', '?', '&', '=', ',', '!', '@', '|'])
        || name.contains([',', '*', ':'])
    {
        return Err(format!(
            "uses `{{{name}}}`; only simple `{{name}}` expressions (RFC 6570 level 1) \
             are supported"
        ));
    }
    let valid = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'%'));
    if !valid {
        return Err(format!(
            "has the variable name `{name}`; use ASCII letters, digits and `_`"
        ));
    }
    Ok(())
}

/// Decode `%XX` escapes; `None` when an escape is malformed or the result is
/// not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    if !text.contains('%') {
        return Some(text.to_owned());
    }
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(template: &str, uri: &str) -> Option<Vec<(String, String)>> {
        UriTemplate::parse(template)
            .unwrap()
            .matches(uri)
            .map(|vars| {
                vars.iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect()
            })
    }

    fn pairs(list: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(
            list.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn variables_between_literals_match() {
        assert_eq!(
            vars("test://template/{id}/data", "test://template/123/data"),
            pairs(&[("id", "123")])
        );
        assert_eq!(
            vars("note://{name}", "note://groceries"),
            pairs(&[("name", "groceries")])
        );
        assert_eq!(
            vars("db://{table}/{row}.json", "db://users/42.json"),
            pairs(&[("row", "42"), ("table", "users")])
        );
    }

    #[test]
    fn values_are_percent_decoded() {
        assert_eq!(
            vars("note://{name}", "note://my%20list%C3%A9"),
            pairs(&[("name", "my listé")])
        );
        assert_eq!(vars("note://{name}", "note://bad%2"), None);
        assert_eq!(vars("note://{name}", "note://bad%zz"), None);
    }

    #[test]
    fn mismatches_are_refused() {
        assert_eq!(
            vars("test://template/{id}/data", "test://template/123"),
            None
        );
        assert_eq!(
            vars("test://template/{id}/data", "test://template//data"),
            None
        );
        assert_eq!(
            vars("test://template/{id}/data", "test://template/1/2/data"),
            None
        );
        assert_eq!(
            vars("test://template/{id}/data", "test://template/1/data/x"),
            None
        );
        assert_eq!(vars("note://{name}", "notes://a"), None);
        assert_eq!(vars("note://{name}", "note://a/b"), None);
        assert_eq!(vars("note://{name}", "note://a?b"), None);
        assert_eq!(vars("note://{name}", "note://"), None);
    }

    #[test]
    fn templates_without_variables_match_exactly() {
        assert_eq!(vars("fixed://x", "fixed://x"), pairs(&[]));
        assert_eq!(vars("fixed://x", "fixed://xy"), None);
    }

    #[test]
    fn variables_are_listed_in_order() {
        let template = UriTemplate::parse("db://{table}/{row}").unwrap();
        assert_eq!(template.variables().collect::<Vec<_>>(), ["table", "row"]);
    }

    #[test]
    fn malformed_templates_say_why() {
        let error = |template| UriTemplate::parse(template).unwrap_err();
        assert_eq!(error("a://{x"), "has a `{` without a matching `}`");
        assert_eq!(error("a://x}"), "has a `}` without a matching `{`");
        assert_eq!(error("a://{}"), "has an empty `{}`");
        assert!(error("a://{+path}").contains("RFC 6570 level 1"));
        assert!(error("a://{x,y}").contains("RFC 6570 level 1"));
        assert!(error("a://{x*}").contains("RFC 6570 level 1"));
        assert!(error("a://{x}{y}").contains("right after another variable"));
        assert_eq!(error("a://{x}/{x}"), "uses `{x}` twice");
        assert!(error("a://{a b}").contains("variable name `a b`"));
        assert_eq!(error(""), "is empty");
    }
}

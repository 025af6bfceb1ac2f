//! URI templates for resource templates: the RFC 6570 subset plugins may
//! declare (`{var}` and reserved `{+var}` expansions), compiled once at load
//! and matched against the URIs clients read.

/// A URI template (RFC 6570, simple `{var}` and reserved `{+var}`
/// expansions), compiled for matching URIs against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriPattern {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// A variable; `reserved` ones may span `/`.
    Var {
        name: String,
        reserved: bool,
    },
}

impl UriPattern {
    pub fn parse(template: &str) -> Result<Self, String> {
        if template.is_empty() {
            return Err("the URI template is empty".into());
        }
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_string()));
            }
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| format!("unclosed `{{` in `{template}`"))?
                + open;
            let expr = &rest[open + 1..close];
            let (reserved, name) = match expr.strip_prefix('+') {
                Some(name) => (true, name),
                None => (false, expr),
            };
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.'))
            {
                return Err(format!(
                    "`{{{expr}}}` in `{template}` is not a supported expression \
                     (use `{{name}}` or `{{+name}}`)"
                ));
            }
            if matches!(parts.last(), Some(Part::Var { .. })) {
                return Err(format!(
                    "two variables without text between them in `{template}` cannot be matched"
                ));
            }
            parts.push(Part::Var {
                name: name.to_string(),
                reserved,
            });
            rest = &rest[close + 1..];
        }
        if rest.contains('}') {
            return Err(format!("unmatched `}}` in `{template}`"));
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        Ok(Self { parts })
    }

    pub fn matches(&self, uri: &str) -> bool {
        self.captures(uri).is_some()
    }

    /// The variables' values when `uri` matches.
    pub fn captures(&self, uri: &str) -> Option<Vec<(String, String)>> {
        let mut out = Vec::new();
        let mut rest = uri;
        let mut parts = self.parts.iter().peekable();
        while let Some(part) = parts.next() {
            match part {
                Part::Literal(text) => rest = rest.strip_prefix(text.as_str())?,
                Part::Var { name, reserved } => {
                    let end = match parts.peek() {
                        Some(Part::Literal(next)) => rest.find(next.as_str())?,
                        _ => rest.len(),
                    };
                    let value = &rest[..end];
                    if value.is_empty() || (!reserved && value.contains('/')) {
                        return None;
                    }
                    out.push((name.clone(), value.to_string()));
                    rest = &rest[end..];
                }
            }
        }
        rest.is_empty().then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_and_capture() {
        let p = UriPattern::parse("test://template/{id}/data").unwrap();
        assert_eq!(
            p.captures("test://template/123/data"),
            Some(vec![("id".into(), "123".into())])
        );
        assert!(!p.matches("test://template/1/2/data"));
        assert!(!p.matches("test://template//data"));
        assert!(!p.matches("test://template/123/data/more"));
        let p = UriPattern::parse("file:///{+path}").unwrap();
        assert_eq!(
            p.captures("file:///a/b.txt"),
            Some(vec![("path".into(), "a/b.txt".into())])
        );
        assert!(
            UriPattern::parse("note://{name}")
                .unwrap()
                .matches("note://x")
        );
    }

    #[test]
    fn malformed_templates_are_refused_with_the_reason() {
        assert!(
            UriPattern::parse("x://{a")
                .unwrap_err()
                .contains("unclosed")
        );
        assert!(
            UriPattern::parse("x://{a}{b}")
                .unwrap_err()
                .contains("two variables")
        );
        assert!(
            UriPattern::parse("x://{?q}")
                .unwrap_err()
                .contains("not a supported")
        );
        assert!(
            UriPattern::parse("x://a}")
                .unwrap_err()
                .contains("unmatched")
        );
    }
}

#[cfg(test)]
mod properties {
    use super::UriPattern;
    use crate::test_strategies::{CASES, text_from};
    use proptest::prelude::*;

    const FRAGMENTS: &[&str] = &[
        "note://", "{name}", "{+path}", "{", "}", "/", "{a}{b}", "{.}", "x", "é",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(CASES))]

        /// Templates parse or are refused with a reason; a parsed template
        /// matches any URI without panicking, and what it captures is part
        /// of the URI.
        #[test]
        fn uri_templates_parse_and_match(template in text_from(FRAGMENTS, 6), uri in text_from(FRAGMENTS, 8)) {
            match UriPattern::parse(&template) {
                Err(problem) => prop_assert!(!problem.trim().is_empty()),
                Ok(pattern) => {
                    if let Some(captures) = pattern.captures(&uri) {
                        for (_, value) in captures {
                            prop_assert!(uri.contains(&value));
                        }
                    }
                }
            }
        }
    }
}

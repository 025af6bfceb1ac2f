//! A small text toolkit: `count` measures a text, `slugify` turns it into a
//! URL-friendly slug, and `search` finds the matches of a regular expression
//! line by line, with bounded output, progress reports and cancellation.
//!
//! The text processing is plain Rust below; the tool handlers only add
//! logging, progress and the conversion to tool results.

use mcp_plugin::{Context, Json, Registry, Tool, ToolError};
use regex::{Regex, RegexBuilder};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The most matches `search` returns, whatever the caller asks for.
const MAX_MATCHES_LIMIT: usize = 1000;
/// Bound on the compiled size of a pattern (and of its lazy DFA), so a
/// pathological pattern fails fast instead of eating the plugin's memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// `search` reports progress every this many lines.
const PROGRESS_EVERY: usize = 1000;

#[derive(Deserialize, JsonSchema)]
struct CountArgs {
    /// The text to measure.
    text: String,
}

#[derive(Debug, PartialEq, Serialize, JsonSchema)]
struct Counts {
    /// Unicode scalar values.
    characters: usize,
    /// Runs of non-whitespace.
    words: usize,
    /// Lines; a final line break does not start a new line.
    lines: usize,
    /// UTF-8 bytes.
    bytes: usize,
}

fn count_text(text: &str) -> Counts {
    Counts {
        characters: text.chars().count(),
        words: text.split_whitespace().count(),
        lines: text.lines().count(),
        bytes: text.len(),
    }
}

#[derive(Deserialize, JsonSchema)]
struct SlugifyArgs {
    /// The text to turn into a slug.
    text: String,
    /// What joins the words of the slug.
    #[serde(default = "default_separator")]
    separator: String,
}

fn default_separator() -> String {
    "-".into()
}

/// Lower-cased runs of letters and digits, joined by `separator`.
fn slugify(text: &str, separator: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    let mut pending_separator = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if pending_separator && !slug.is_empty() {
                slug.push_str(separator);
            }
            pending_separator = false;
            slug.extend(c.to_lowercase());
        } else {
            pending_separator = true;
        }
    }
    slug
}

#[derive(Deserialize, JsonSchema)]
struct SearchArgs {
    /// The text to search.
    text: String,
    /// A regular expression (Rust `regex` syntax; `\w`, `\d`, `\s` and case folding
    /// are Unicode-aware, `\p{..}` classes are not available), matched within each line.
    pattern: String,
    /// Ignore letter case.
    #[serde(default)]
    case_insensitive: bool,
    /// Stop after this many matches.
    #[serde(default = "default_max_matches")]
    #[schemars(range(min = 1, max = 1000))]
    max_matches: usize,
}

fn default_max_matches() -> usize {
    100
}

#[derive(Debug, PartialEq, Serialize, JsonSchema)]
struct Match {
    /// Line number, from 1.
    line: usize,
    /// Character offset of the match within the line, from 0.
    start: usize,
    /// Character offset just past the match.
    end: usize,
    /// The matched text.
    text: String,
}

#[derive(Debug, PartialEq, Serialize, JsonSchema)]
struct SearchResult {
    /// The matches, in order.
    matches: Vec<Match>,
    /// True when the search stopped at `max_matches` and more matches exist.
    truncated: bool,
}

fn compile(pattern: &str, case_insensitive: bool) -> Result<Regex, ToolError> {
    RegexBuilder::new(pattern)
        .case_insensitive(case_insensitive)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|error| ToolError::new(format!("invalid pattern `{pattern}`: {error}")))
}

/// Append the matches of `regex` in `line` (line number `number`) to
/// `matches`, keeping at most `max` of them; true if a match was left out.
fn search_line(
    regex: &Regex,
    number: usize,
    line: &str,
    max: usize,
    matches: &mut Vec<Match>,
) -> bool {
    for found in regex.find_iter(line) {
        if matches.len() == max {
            return true;
        }
        let start = line[..found.start()].chars().count();
        matches.push(Match {
            line: number,
            start,
            end: start + found.as_str().chars().count(),
            text: found.as_str().to_owned(),
        });
    }
    false
}

fn search(ctx: &Context, args: SearchArgs) -> Result<Json<SearchResult>, ToolError> {
    let regex = compile(&args.pattern, args.case_insensitive)?;
    let max = args.max_matches.clamp(1, MAX_MATCHES_LIMIT);
    let total = args.text.lines().count();
    let noun = if total == 1 { "line" } else { "lines" };
    ctx.info(&format!("searching {total} {noun} for /{}/", args.pattern));

    let mut matches = Vec::new();
    let mut truncated = false;
    for (index, line) in args.text.lines().enumerate() {
        if ctx.is_cancelled() {
            return Err(ToolError::new(format!(
                "search cancelled after {index} of {total} lines"
            )));
        }
        if index > 0 && index % PROGRESS_EVERY == 0 {
            ctx.progress(
                index as f64,
                Some(total as f64),
                Some(&format!("scanned {index} of {total} lines")),
            );
        }
        truncated = search_line(&regex, index + 1, line, max, &mut matches);
        if truncated {
            ctx.debug(&format!("stopped at {max} matches on line {}", index + 1));
            break;
        }
    }
    ctx.progress(
        total as f64,
        Some(total as f64),
        Some(&format!("found {} matches", matches.len())),
    );
    ctx.debug(&format!(
        "found {} matches (truncated: {truncated})",
        matches.len()
    ));
    Ok(Json(SearchResult { matches, truncated }))
}

fn register(tools: &mut Registry) {
    tools
        .tool(
            Tool::new(
                "count",
                "Count the characters, words, lines and bytes of a text",
            )
            .title("Count text")
            .read_only()
            .idempotent()
            .open_world(false)
            .output::<Counts>()
            .handler(|_: &Context, args: CountArgs| Ok(Json(count_text(&args.text)))),
        )
        .tool(
            Tool::new(
                "slugify",
                "Turn a text into a lower-case slug of letters and digits joined by a separator",
            )
            .title("Slugify")
            .read_only()
            .idempotent()
            .open_world(false)
            .handler(|_: &Context, args: SlugifyArgs| Ok(slugify(&args.text, &args.separator))),
        )
        .tool(
            Tool::new(
                "search",
                "Find the matches of a regular expression in a text, line by line",
            )
            .title("Search text")
            .read_only()
            .idempotent()
            .open_world(false)
            .output::<SearchResult>()
            .handler(search),
        );
}

mcp_plugin::plugin!(register);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(
            count_text("héllo wörld\nsecond  line\n"),
            Counts {
                characters: 25,
                words: 4,
                lines: 2,
                bytes: 27,
            }
        );
        assert_eq!(count_text("").lines, 0);
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("  Hello, World! 2024 ", "-"), "hello-world-2024");
        assert_eq!(slugify("Ünïcode Straße", "_"), "ünïcode_straße");
        assert_eq!(slugify("a--b", ""), "ab");
        assert_eq!(slugify("!!!", "-"), "");
    }

    fn find(text: &str, pattern: &str, max: usize) -> (Vec<Match>, bool) {
        let regex = compile(pattern, false).unwrap();
        let mut matches = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if search_line(&regex, index + 1, line, max, &mut matches) {
                return (matches, true);
            }
        }
        (matches, false)
    }

    #[test]
    fn matches_use_character_offsets() {
        let (matches, truncated) = find("ßx foo\nfoo", "foo", 10);
        assert!(!truncated);
        assert_eq!(
            matches,
            [
                Match {
                    line: 1,
                    start: 3,
                    end: 6,
                    text: "foo".into()
                },
                Match {
                    line: 2,
                    start: 0,
                    end: 3,
                    text: "foo".into()
                },
            ]
        );
    }

    #[test]
    fn truncation_only_when_more_matches_exist() {
        assert!(!find("a a", "a", 2).1);
        let (matches, truncated) = find("a a\na", "a", 2);
        assert!(truncated);
        assert_eq!(matches.len(), 2);
    }

    #[test]
    fn invalid_patterns_are_named() {
        let error = compile("(unclosed", false).unwrap_err();
        assert!(
            error.message().starts_with("invalid pattern `(unclosed`"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn huge_patterns_are_refused() {
        assert!(compile(r"\w{1000}{1000}", false).is_err());
    }
}

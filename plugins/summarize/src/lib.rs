//! Example plugin: summarize a text with the client's own model.
//!
//! The plugin holds no model and no API key: `summarize` asks the client to
//! run its model (MCP sampling) with a system prompt, model preferences and
//! a low temperature, and returns the summary with the name of the model
//! that wrote it.

use mcp_plugin::{Context, FacadeError, Registry, Sampling, Tool, ToolError, ToolOutput};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Summary length when the caller gives none, in words.
const DEFAULT_MAX_WORDS: u32 = 60;
/// The longest summary one may ask for, in words.
const MAX_WORDS_LIMIT: u32 = 1000;

#[derive(Deserialize, JsonSchema)]
struct SummarizeArgs {
    /// The text to summarize.
    text: String,
    /// The longest summary wanted, in words (1 to 1000; default 60).
    max_words: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
struct Summary {
    /// The summary.
    summary: String,
    /// The model that wrote it, as the client named it.
    model: String,
    /// How many words the summary has.
    words: usize,
}

/// A readable message for a sampling failure.
fn sampling_error(error: FacadeError) -> ToolError {
    ToolError::new(match error {
        FacadeError::UnsupportedByClient(_) => {
            "this client cannot lend its model to servers (it does not support sampling), \
             so the text cannot be summarized here"
                .to_owned()
        }
        FacadeError::Denied(why) => {
            format!("this plugin is not allowed to use the client's model: {why}")
        }
        FacadeError::Timeout => "the client's model did not answer in time".to_owned(),
        FacadeError::Cancelled => "summarizing was cancelled".to_owned(),
        FacadeError::InvalidInput(why) | FacadeError::Failed(why) => {
            format!("the client's model could not summarize the text: {why}")
        }
    })
}

/// Room for `max_words` words of English, with some slack.
fn token_budget(max_words: u32) -> u32 {
    max_words.saturating_mul(2).saturating_add(32)
}

fn summarize(ctx: &Context, args: SummarizeArgs) -> Result<ToolOutput, ToolError> {
    let text = args.text.trim();
    if text.is_empty() {
        return Err(ToolError::new("there is no text to summarize"));
    }
    let max_words = args.max_words.unwrap_or(DEFAULT_MAX_WORDS);
    if !(1..=MAX_WORDS_LIMIT).contains(&max_words) {
        return Err(ToolError::new(format!(
            "max_words must be between 1 and {MAX_WORDS_LIMIT}, not {max_words}"
        )));
    }
    let answer = Sampling::new()
        .system(format!(
            "You summarize texts faithfully. Answer with the summary only, in at most \
             {max_words} words, in the language of the text. Do not add facts."
        ))
        .user(text)
        .max_tokens(token_budget(max_words))
        .temperature(0.2)
        .model_hint("claude-haiku")
        .model_hint("claude")
        .speed_priority(0.7)
        .cost_priority(0.6)
        .intelligence_priority(0.4)
        .send(ctx)
        .map_err(sampling_error)?;
    let summary = answer.text().trim().to_owned();
    if summary.is_empty() {
        return Err(ToolError::new(format!(
            "the client's model ({}) answered without any text",
            answer.model
        )));
    }
    let text = format!("{summary}\n\n(summarized by {})", answer.model);
    let words = summary.split_whitespace().count();
    let result = Summary {
        summary,
        model: answer.model,
        words,
    };
    Ok(ToolOutput::structured(&result)?.with_text(text))
}

fn register(registry: &mut Registry) {
    registry.tool(
        Tool::new(
            "summarize",
            "Summarize a text in a given number of words, using the client's own model",
        )
        .title("Summarize")
        .read_only()
        .output::<Summary>()
        .handler(summarize),
    );
}

mcp_plugin::plugin!(register);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_read_well() {
        let unsupported = sampling_error(FacadeError::UnsupportedByClient("sampling".into()));
        assert!(unsupported.message().contains("does not support sampling"));
        let timeout = sampling_error(FacadeError::Timeout);
        assert_eq!(
            timeout.message(),
            "the client's model did not answer in time"
        );
    }

    #[test]
    fn budgets_grow_with_the_word_count() {
        assert_eq!(token_budget(60), 152);
        assert_eq!(token_budget(u32::MAX), u32::MAX);
    }
}

//! Example plugin: fetch pages and JSON from the origins the manifest
//! allows, through the host's outbound HTTP, and keep successful answers in
//! the host's key-value store so repeated questions cost no request.
//!
//! - `fetch {url, max_age_seconds, max_chars}`: the body as text, plus
//!   structured `{url, final_url, status, content_type, bytes, cached,
//!   truncated}`. Answers with a 2xx status are cached for `max_age_seconds`.
//! - `fetch_stats {}`: cache hits and misses (kept across restarts).
//! - `forget {url?}`: drop one cached answer, or all of them.
//!
//! Credentials (an API token for an origin) are bound in the manifest and
//! added by the host; this code never sees them.

use mcp_plugin::{Context, FacadeError, Registry, Request, Tool, ToolError, ToolOutput};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

const PAGES: &str = "pages";
const STATS: &str = "stats";

fn default_max_age() -> u32 {
    300
}

fn default_max_chars() -> u32 {
    20_000
}

#[derive(Deserialize, JsonSchema)]
struct FetchArgs {
    /// The URL to fetch: http or https, on an origin the plugin may reach.
    url: String,
    /// Use a cached answer stored by a fetch at most this many seconds ago
    /// (default 300); 0 always asks the server and caches nothing.
    #[serde(default = "default_max_age")]
    max_age_seconds: u32,
    /// Return at most this many characters of the body (default 20000).
    #[serde(default = "default_max_chars")]
    #[schemars(range(min = 1, max = 1_000_000))]
    max_chars: u32,
}

#[derive(Serialize, JsonSchema)]
struct Fetched {
    /// The URL asked for.
    url: String,
    /// The URL that answered, after redirects.
    final_url: String,
    status: u16,
    content_type: Option<String>,
    /// The body's size in bytes.
    bytes: usize,
    /// Whether the answer came from the cache.
    cached: bool,
    /// Whether the text returned is cut at `max_chars`.
    truncated: bool,
}

/// What the cache keeps per URL.
#[derive(Serialize, Deserialize)]
struct CachedPage {
    final_url: String,
    status: u16,
    content_type: Option<String>,
    body: String,
}

fn cache_error(error: FacadeError) -> ToolError {
    ToolError::new(format!("the cache failed: {error}"))
}

fn fetch(ctx: &Context, args: FetchArgs) -> Result<ToolOutput, ToolError> {
    let pages = ctx.keyvalue(PAGES);
    let stats = ctx.keyvalue(STATS);
    let use_cache = args.max_age_seconds > 0;
    let cached = if use_cache {
        pages
            .get_json::<CachedPage>(&args.url)
            .map_err(cache_error)?
    } else {
        None
    };
    let (page, was_cached) = match cached {
        Some(page) => {
            stats.increment("hits", 1).map_err(cache_error)?;
            ctx.debug(&format!("cache hit for {}", args.url));
            (page, true)
        }
        None => {
            stats.increment("misses", 1).map_err(cache_error)?;
            let response = ctx
                .http(Request::get(&args.url).header("accept", "application/json, text/*;q=0.9"))
                .map_err(|e| ToolError::new(format!("fetching {} failed: {e}", args.url)))?;
            let page = CachedPage {
                final_url: response.url.clone(),
                status: response.status,
                content_type: response.header("content-type").map(str::to_string),
                body: response.text(),
            };
            if use_cache && response.is_success() {
                let ttl = std::time::Duration::from_secs(args.max_age_seconds.into());
                pages
                    .set_json_with_ttl(&args.url, &page, ttl)
                    .map_err(cache_error)?;
            }
            (page, false)
        }
    };
    let limit = args.max_chars as usize;
    let (text, truncated) = match page.body.char_indices().nth(limit) {
        Some((cut, _)) => (&page.body[..cut], true),
        None => (page.body.as_str(), false),
    };
    let fetched = Fetched {
        url: args.url.clone(),
        final_url: page.final_url.clone(),
        status: page.status,
        content_type: page.content_type.clone(),
        bytes: page.body.len(),
        cached: was_cached,
        truncated,
    };
    let output = ToolOutput::structured(&fetched)?.with_text(text.to_string());
    if (200..300).contains(&page.status) {
        Ok(output)
    } else {
        Err(ToolError::new(format!(
            "{} answered with status {}: {text}",
            page.final_url, page.status
        )))
    }
}

#[derive(Deserialize, JsonSchema)]
struct NoArgs {}

#[derive(Serialize, JsonSchema)]
struct Stats {
    hits: i64,
    misses: i64,
    /// URLs with a cached answer (counted up to 1000).
    cached_pages: usize,
}

fn fetch_stats(ctx: &Context, _: NoArgs) -> Result<ToolOutput, ToolError> {
    let stats = ctx.keyvalue(STATS);
    let stats = Stats {
        hits: stats.increment("hits", 0).map_err(cache_error)?,
        misses: stats.increment("misses", 0).map_err(cache_error)?,
        cached_pages: ctx.keyvalue(PAGES).keys("").map_err(cache_error)?.len(),
    };
    let text = format!(
        "{} hits, {} misses, {} cached pages",
        stats.hits, stats.misses, stats.cached_pages
    );
    Ok(ToolOutput::structured(&stats)?.with_text(text))
}

#[derive(Deserialize, JsonSchema)]
struct ForgetArgs {
    /// The URL whose cached answer to drop; without it, every cached answer.
    url: Option<String>,
}

fn forget(ctx: &Context, args: ForgetArgs) -> Result<String, ToolError> {
    let pages = ctx.keyvalue(PAGES);
    let urls = match args.url {
        Some(url) => vec![url],
        None => pages.keys("").map_err(cache_error)?,
    };
    let mut dropped = 0;
    for url in &urls {
        if pages.delete(url).map_err(cache_error)? {
            dropped += 1;
        }
    }
    Ok(format!("dropped {dropped} cached answer(s)"))
}

fn register(tools: &mut Registry) {
    tools
        .tool(
            Tool::new(
                "fetch",
                "Fetch a URL (on an allowed origin) and return its body as text; answers are cached",
            )
            .title("Fetch")
            .read_only()
            .open_world(true)
            .output::<Fetched>()
            .handler(fetch),
        )
        .tool(
            Tool::new("fetch_stats", "Cache hits and misses of the fetch tool")
                .read_only()
                .open_world(false)
                .output::<Stats>()
                .handler(fetch_stats),
        )
        .tool(
            Tool::new("forget", "Drop a cached answer, or all of them")
                .idempotent()
                .open_world(false)
                .handler(forget),
        );
}

mcp_plugin::plugin!(register);

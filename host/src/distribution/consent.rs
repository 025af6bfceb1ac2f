//! `plugin pending`, `plugin approve` and `plugin deny`: what each plugin
//! of a directory reaches under the policy, whether the operator has
//! consented to it, and recording the operator's decision (bound to the
//! version's digest and what it reaches) in the data directory, where a
//! running host picks it up.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Args;

use crate::manifest::PluginManifest;
use crate::policy::Policy;
use crate::trust::PluginDigests;
use crate::trust::consent::{ConsentBook, ConsentState, Decision, Verdict, now};

#[derive(Debug, Args)]
pub struct ConsentArgs {
    /// The plugin directory.
    #[arg(long, env = "MCP_WASM_HOST_PLUGINS", value_name = "DIR")]
    pub plugins: Option<PathBuf>,
    /// The operator policy (whose rules say which plugins need consent).
    #[arg(long, env = "MCP_WASM_HOST_POLICY", value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The data directory holding the decisions.
    #[arg(long, env = "MCP_WASM_HOST_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// A `serve` configuration file, for its `plugins`, `policy` and
    /// `data-dir`.
    #[arg(long, env = "MCP_WASM_HOST_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    /// The plugin (its file stem in the directory).
    pub name: String,
    /// Decide only if the version in the directory has this digest (as
    /// `plugin pending` prints it), so what was reviewed is what is
    /// decided on.
    #[arg(long, value_name = "SHA256")]
    pub digest: Option<String>,
    #[command(flatten)]
    pub scope: ConsentArgs,
}

/// One plugin of the directory as consent sees it.
#[derive(Debug, serde::Serialize)]
struct Candidate {
    name: String,
    version: String,
    digest: String,
    /// What its grants reach.
    reaches: Vec<String>,
    /// Which rule asks for consent; `None`: none does.
    required_by: Option<String>,
    state: String,
    #[serde(skip)]
    consent: ConsentState,
}

fn consent_file(args: &ConsentArgs) -> anyhow::Result<PathBuf> {
    let dir = args
        .data_dir
        .clone()
        .or_else(crate::launch::default_data_dir)
        .context("no data directory: give --data-dir")?;
    Ok(crate::trust::consent::consent_file(&dir))
}

/// Every plugin of the directory, evaluated under the policy.
fn candidates(args: &ConsentArgs) -> anyhow::Result<Vec<Candidate>> {
    let capabilities = crate::capabilities::registry();
    let policy = match &args.policy {
        Some(path) => Policy::load(path, capabilities)?,
        None => Policy::grant_declared(capabilities),
    };
    let dir = args
        .plugins
        .clone()
        .unwrap_or_else(crate::launch::default_plugin_dir);
    let book = ConsentBook::load(&consent_file(args)?)?;
    let mut found = Vec::new();
    for stem in crate::loader::plugin_stems(&dir, args.policy.as_deref())? {
        let (wasm, manifest_path) = crate::loader::plugin_files(&dir, &stem);
        let (Ok(component), Ok(text)) = (
            std::fs::read(&wasm),
            std::fs::read_to_string(&manifest_path),
        ) else {
            continue; // Not a whole plugin; `serve` names what is missing.
        };
        let Ok(manifest) = PluginManifest::parse(&text, &stem, capabilities) else {
            continue; // `plugin check` names what is wrong.
        };
        let grants = policy.evaluate(&manifest.name, &manifest.capabilities);
        let reaches = grants.reach(capabilities);
        let required_by = policy.consent_required_by(&manifest.name);
        let consent = match required_by {
            None => ConsentState::NotRequired,
            Some(_) => book.state(&manifest.name, &reaches),
        };
        found.push(Candidate {
            name: manifest.name.clone(),
            version: manifest.version.to_string(),
            digest: PluginDigests::of(&component, text.as_bytes()).version(),
            reaches,
            required_by,
            state: consent.to_string(),
            consent,
        });
    }
    Ok(found)
}

/// `plugin pending`: the plugins waiting for consent, what they reach,
/// and what no approval covers yet.
pub fn list_pending(args: &ConsentArgs) -> anyhow::Result<()> {
    let pending: Vec<Candidate> = candidates(args)?
        .into_iter()
        .filter(|c| matches!(c.consent, ConsentState::Pending { .. }))
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&pending)?);
        return Ok(());
    }
    if pending.is_empty() {
        println!("no plugin is waiting for consent");
        return Ok(());
    }
    for c in &pending {
        println!("{} {} (digest {})", c.name, c.version, c.digest);
        if let Some(by) = &c.required_by {
            println!("  consent required by {by}");
        }
        let ConsentState::Pending { unapproved } = &c.consent else {
            continue;
        };
        for line in &c.reaches {
            let new = if unapproved.contains(line) {
                "  (new)"
            } else {
                ""
            };
            println!("  reaches {line}{new}");
        }
        println!(
            "  approve: mcp-wasm-host plugin approve {} --digest {}",
            c.name, c.digest
        );
    }
    Ok(())
}

/// `plugin approve` and `plugin deny`.
pub fn approve_or_deny(args: &DecideArgs, verdict: Verdict) -> anyhow::Result<()> {
    let candidate = candidates(&args.scope)?
        .into_iter()
        .find(|c| c.name == args.name)
        .with_context(|| format!("no plugin `{}` in the plugin directory", args.name))?;
    if let Some(wanted) = &args.digest
        && *wanted != candidate.digest
    {
        bail!(
            "plugin `{}` in the directory is now version {}, not {wanted}; review it again \
             with `mcp-wasm-host plugin pending`",
            candidate.name,
            candidate.digest
        );
    }
    if candidate.required_by.is_none() {
        eprintln!(
            "note: no policy rule asks for consent for `{}`; the decision is recorded anyway",
            candidate.name
        );
    }
    let file = consent_file(&args.scope)?;
    ConsentBook::record(
        &file,
        Decision {
            name: candidate.name.clone(),
            verdict,
            digest: candidate.digest.clone(),
            capabilities: candidate.reaches.clone(),
            decided_at: now(),
        },
    )?;
    let what = match verdict {
        Verdict::Approved => "approved",
        Verdict::Denied => "denied",
    };
    println!(
        "{what} plugin `{}` {} (digest {}), reaching: {}",
        candidate.name,
        candidate.version,
        candidate.digest,
        if candidate.reaches.is_empty() {
            "nothing".to_string()
        } else {
            candidate.reaches.join(", ")
        }
    );
    Ok(())
}

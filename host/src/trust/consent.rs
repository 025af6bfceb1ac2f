//! The operator's decisions on what plugins may reach, kept in the data
//! directory (`consent/consent.toml`). A decision names a plugin, the version it
//! was made on (its digest) and the capabilities that version reaches; an
//! approval covers any later version reaching no more. Only the
//! `plugin approve` and `plugin deny` commands write it: nothing a client
//! or a plugin can call does.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where the decisions are kept in data directory `data_dir`: a directory
/// of their own, so the host watches it without hearing every write of
/// the plugin state beside it.
pub fn consent_file(data_dir: &Path) -> PathBuf {
    data_dir.join("consent").join("consent.toml")
}

/// The decisions on record.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentBook {
    #[serde(default, rename = "plugin")]
    decisions: Vec<Decision>,
}

/// One decision on one plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub name: String,
    pub verdict: Verdict,
    /// The version decided on (see `PluginDigests::version`).
    pub digest: String,
    /// What that version reaches, one line per capability or scope.
    pub capabilities: Vec<String>,
    /// When, as seconds since the Unix epoch.
    pub decided_at: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Approved,
    Denied,
}

/// Whether a version may be served, as far as consent goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentState {
    /// No rule asks for consent.
    NotRequired,
    /// It reaches nothing, so there is nothing to consent to.
    NothingToApprove,
    /// Approved (on the version with this digest).
    Approved { digest: String },
    /// Waiting for the operator: what it reaches that no approval covers.
    Pending { unapproved: Vec<String> },
    /// The operator denied a version reaching exactly this.
    Denied { digest: String },
}

impl ConsentState {
    pub fn allows_serving(&self) -> bool {
        matches!(
            self,
            ConsentState::NotRequired
                | ConsentState::NothingToApprove
                | ConsentState::Approved { .. }
        )
    }
}

impl std::fmt::Display for ConsentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConsentState::NotRequired => f.write_str("not required"),
            ConsentState::NothingToApprove => f.write_str("required; nothing to approve"),
            ConsentState::Approved { digest } => write!(f, "approved (on version {digest})"),
            ConsentState::Pending { unapproved } => {
                write!(f, "pending; not yet approved: {}", unapproved.join(", "))
            }
            ConsentState::Denied { digest } => write!(f, "denied (on version {digest})"),
        }
    }
}

/// Why the consent file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    #[error("cannot read the consent file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the consent file {}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("cannot write the consent file {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ConsentBook {
    /// The decisions in `path`; none when it does not exist.
    pub fn load(path: &Path) -> Result<Self, ConsentError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(ConsentError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        toml::from_str(&text).map_err(|e| ConsentError::Invalid {
            path: path.to_path_buf(),
            message: crate::manifest::describe_toml_error(&text, &e),
        })
    }

    pub fn decisions(&self) -> &[Decision] {
        &self.decisions
    }

    /// Whether plugin `name` reaching `reaches` may be served: an
    /// approval of at least that admits it; a denial of exactly that
    /// refuses it; anything else waits.
    pub fn state(&self, name: &str, reaches: &[String]) -> ConsentState {
        if reaches.is_empty() {
            return ConsentState::NothingToApprove;
        }
        let asked: BTreeSet<&String> = reaches.iter().collect();
        let mine = || self.decisions.iter().filter(|d| d.name == name);
        if let Some(approval) = mine().find(|d| d.verdict == Verdict::Approved && d.covers(&asked))
        {
            return ConsentState::Approved {
                digest: approval.digest.clone(),
            };
        }
        if let Some(denial) = mine().find(|d| d.verdict == Verdict::Denied && d.is_exactly(&asked))
        {
            return ConsentState::Denied {
                digest: denial.digest.clone(),
            };
        }
        let approved: BTreeSet<&String> = mine()
            .filter(|d| d.verdict == Verdict::Approved)
            .flat_map(|d| &d.capabilities)
            .collect();
        ConsentState::Pending {
            unapproved: reaches
                .iter()
                .filter(|r| !approved.contains(r))
                .cloned()
                .collect(),
        }
    }

    /// Record `decision` and write the file (atomically: a running host
    /// never reads half of it). An approval replaces the plugin's earlier
    /// approval and lifts the denials it covers; a denial revokes an
    /// approval that would admit what it denies, and leaves one of less
    /// standing (denying an upgrade keeps the version before it).
    pub fn record(path: &Path, decision: Decision) -> Result<(), ConsentError> {
        let mut book = Self::load(path)?;
        let set: BTreeSet<&String> = decision.capabilities.iter().collect();
        book.decisions.retain(|d| {
            d.name != decision.name
                || match decision.verdict {
                    Verdict::Approved => {
                        d.verdict == Verdict::Denied && !decision.covers_decision(d)
                    }
                    Verdict::Denied => match d.verdict {
                        Verdict::Approved => !d.covers(&set),
                        Verdict::Denied => !d.is_exactly(&set),
                    },
                }
        });
        book.decisions.push(decision);
        book.decisions.sort_by(|a, b| a.name.cmp(&b.name));
        let text = toml::to_string_pretty(&book).map_err(|e| ConsentError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let write_error = |source| ConsentError::Write {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(write_error)?;
        }
        let text =
            format!("# Written by `mcp-wasm-host plugin approve` and `plugin deny`.\n{text}");
        super::write_atomically(path, text.as_bytes()).map_err(write_error)
    }
}

impl Decision {
    fn covers(&self, asked: &BTreeSet<&String>) -> bool {
        asked.iter().all(|a| self.capabilities.contains(a))
    }

    fn covers_decision(&self, other: &Decision) -> bool {
        other
            .capabilities
            .iter()
            .all(|c| self.capabilities.contains(c))
    }

    fn is_exactly(&self, asked: &BTreeSet<&String>) -> bool {
        self.capabilities.iter().collect::<BTreeSet<_>>() == *asked
    }
}

/// Seconds since the Unix epoch, now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

//! The operator's policy: which capabilities each plugin is granted, and
//! ceilings on its limits. A TOML file of rules, each naming plugins by name
//! or glob (`*` matches any run of characters); for each capability the
//! first rule that matches the plugin and names the capability decides.
//! Capabilities no rule names follow the file's `default`: `grant-declared`
//! (what the manifest declares is granted, except `files`, `env`, `http`
//! and `secrets`, which reach the host's own data or the network and need a
//! rule that names them) or `deny`.
//!
//! ```toml
//! default = "grant-declared"
//!
//! [[rule]]
//! plugins = "notes"
//! grant = ["session-state"]
//!
//! [[rule]]
//! plugins = "untrusted-*"
//! deny = ["sampling", "host-catalog"]
//! max-memory-mib = 16
//! max-timeout-ms = 2000
//! max-concurrent = 2
//! ```
//!
//! With no policy file, every declared capability is granted except `files`,
//! `env`, `http`, `secrets` and `sql`. Besides the keys every rule has (`plugins`,
//! `grant`, `deny`, the `max-*` ceilings), a rule may carry keys owned by
//! one capability (`files-read-only`, `http-allow`, `keyvalue-quota-kib`,
//! ...): this module hands each capability its keys and, when it grants
//! the capability, lets it narrow the plugin's declaration; it knows no
//! capability by name. A policy that cannot be read or parsed stops the
//! host (fail closed), naming the line.

mod caller;
mod grants;
mod parse;
mod provenance;

pub use caller::{Audience, Caller, CallerGrants};
pub use grants::{Decider, Grants, NeedsRule};
pub use provenance::ConsentMode;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::capability::{Capability, CapabilitySet, ParamsRef, same_params};
use crate::tool::TaskSupport;

/// What the policy does with capabilities no rule names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DefaultGrant {
    #[default]
    GrantDeclared,
    Deny,
}

/// One rule, with where it was written.
#[derive(Debug, Clone)]
pub struct Rule {
    pub plugins: String,
    pub line: usize,
    /// The callers it applies to (`roles`, `principals`); `None`: every
    /// caller. A rule with an audience grants, denies and narrows only.
    pub audience: Option<Audience>,
    pub grant: Vec<Capability>,
    pub deny: Vec<Capability>,
    pub max_memory_mib: Option<u64>,
    pub max_timeout_ms: Option<u64>,
    pub max_task_timeout_ms: Option<u64>,
    pub max_concurrent: Option<u32>,
    pub max_fuel: Option<u64>,
    /// Whether calls of the plugins' tools run as MCP tasks, whatever the
    /// plugins declare.
    pub tasks: Option<TaskSupport>,
    /// Whether the plugins must be signed by a trusted key.
    pub require_signature: Option<bool>,
    /// Whether the plugins need the operator's consent to be served.
    pub consent: Option<ConsentMode>,
    /// What the rule says of each capability with keys of its own (the
    /// directories `files` may reach, the origins `http` may, ...), as the
    /// capability parsed it.
    pub params: BTreeMap<Capability, ParamsRef>,
}

impl PartialEq for Rule {
    fn eq(&self, other: &Self) -> bool {
        self.plugins == other.plugins
            && self.line == other.line
            && self.audience == other.audience
            && self.grant == other.grant
            && self.deny == other.deny
            && self.max_memory_mib == other.max_memory_mib
            && self.max_timeout_ms == other.max_timeout_ms
            && self.max_task_timeout_ms == other.max_task_timeout_ms
            && self.max_concurrent == other.max_concurrent
            && self.max_fuel == other.max_fuel
            && self.tasks == other.tasks
            && self.require_signature == other.require_signature
            && self.consent == other.consent
            && same_params(&self.params, &other.params)
    }
}

/// The operator's policy.
#[derive(Clone)]
pub struct Policy {
    /// The file it came from; `None` for the built-in default.
    pub source: Option<PathBuf>,
    pub default: DefaultGrant,
    pub rules: Vec<Rule>,
    /// Whether plugins no rule decides for need consent to be served.
    pub consent: ConsentMode,
    /// The keys whose signatures are trusted (`[trusted-keys]`).
    trusted_keys: Vec<crate::trust::TrustedKey>,
    /// The host's own files and directories (data directory, compile cache,
    /// state key, secrets, auth file, policy), and the key files this policy
    /// trusts, resolved: no plugin is ever granted a directory holding one of
    /// them or lying inside one, whatever a rule says. The host sets its own
    /// ([`Policy::protecting`]); the key files come with the policy.
    pub protected: Vec<PathBuf>,
    /// The host's own part of `protected`, kept across policy changes.
    host_files: Vec<PathBuf>,
    /// The host's capabilities, which parsed the rules and narrow grants.
    capabilities: &'static dyn CapabilitySet,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("source", &self.source)
            .field("default", &self.default)
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Policy {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
            && self.default == other.default
            && self.rules == other.rules
            && self.consent == other.consent
            && self.trusted_keys == other.trusted_keys
            && self.protected == other.protected
    }
}

/// Why a policy file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read the policy {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid policy {}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

/// The policy in force, replaced whole when its file changes: plugins
/// loaded from then on are granted under the new one.
pub struct PolicyHandle(arc_swap::ArcSwap<Policy>);

impl fmt::Debug for PolicyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PolicyHandle").field(&self.0.load()).finish()
    }
}

impl PolicyHandle {
    pub fn new(policy: Policy) -> Self {
        PolicyHandle(arc_swap::ArcSwap::from_pointee(policy))
    }

    /// The policy now in force.
    pub fn current(&self) -> Arc<Policy> {
        self.0.load_full()
    }

    /// Put `policy` in force. The host's own files stay protected whatever
    /// the new file says.
    pub fn replace(&self, policy: Policy) {
        let host_files = self.0.load().host_files.clone();
        self.0
            .store(Arc::new(policy.protecting_resolved(host_files)));
    }
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// `path` resolved where it exists, else lexically.
fn resolved(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| normalized(path))
}

/// `path` with `.` and `..` resolved lexically (no file system access).
pub fn normalized(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

impl Policy {
    /// The policy with no file: what is declared is granted, except the
    /// capabilities that need a rule.
    pub fn grant_declared(capabilities: &'static dyn CapabilitySet) -> Self {
        Policy {
            source: None,
            default: DefaultGrant::GrantDeclared,
            rules: Vec::new(),
            consent: ConsentMode::NotRequired,
            trusted_keys: Vec::new(),
            protected: Vec::new(),
            host_files: Vec::new(),
            capabilities,
        }
    }

    /// Read and check a policy file.
    pub fn load(
        path: &Path,
        capabilities: &'static dyn CapabilitySet,
    ) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, Some(path), capabilities)
    }

    /// The host's capabilities this policy knows.
    pub fn capabilities(&self) -> &'static dyn CapabilitySet {
        self.capabilities
    }

    /// This policy, never granting the host's own `paths` (each resolved
    /// where it exists).
    pub fn protecting(self, paths: impl IntoIterator<Item = PathBuf>) -> Self {
        let resolved = paths.into_iter().map(|p| resolved(&p)).collect();
        self.protecting_resolved(resolved)
    }

    fn protecting_resolved(mut self, host_files: Vec<PathBuf>) -> Self {
        self.protected = host_files
            .iter()
            .cloned()
            .chain(
                self.trusted_keys
                    .iter()
                    .filter_map(|k| k.file.as_deref())
                    .map(resolved),
            )
            .collect();
        self.host_files = host_files;
        self
    }

    /// Whether `other` grants and limits every plugin exactly as this
    /// policy does (where the rules sit in their files aside).
    pub fn decides_like(&self, other: &Policy) -> bool {
        let rules = |policy: &Policy| -> Vec<Rule> {
            policy
                .rules
                .iter()
                .map(|r| Rule {
                    line: 0,
                    ..r.clone()
                })
                .collect()
        };
        self.default == other.default
            && rules(self) == rules(other)
            && self.consent == other.consent
            && self.trusted_keys == other.trusted_keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::session_state::SESSION_STATE;
    use crate::capabilities::{elicitation::ELICITATION, roots::ROOTS, sampling::SAMPLING};
    use crate::capability::testing::{declaring, no_policy, policy};

    #[test]
    fn globs_match_runs_of_characters() {
        assert!(glob_matches("notes", "notes"));
        assert!(!glob_matches("notes", "notes2"));
        assert!(glob_matches("untrusted-*", "untrusted-a"));
        assert!(glob_matches("*", "anything"));
        assert!(glob_matches("a*c*e", "abcde"));
        assert!(!glob_matches("a*c*e", "abcd"));
        assert!(!glob_matches("*-x", "x"));
    }

    #[test]
    fn without_a_file_everything_declared_is_granted() {
        let g = no_policy().evaluate(
            "p",
            &declaring("[capabilities]\nrequired = [\"sampling\"]\noptional = [\"roots\"]\n"),
        );
        assert!(g.allows(SAMPLING) && g.allows(ROOTS));
        assert!(!g.allows(ELICITATION), "only what is declared");
    }

    #[test]
    fn the_first_rule_naming_a_capability_decides() {
        let policy = policy(
            "default = \"deny\"\n\n[[rule]]\nplugins = \"notes\"\ngrant = [\"session-state\"]\n\n[[rule]]\nplugins = \"*\"\ndeny = [\"session-state\"]\ngrant = [\"roots\"]\nmax-timeout-ms = 500\n",
        )
        .unwrap();
        let d = declaring(
            "[capabilities]\nrequired = [\"session-state\"]\noptional = [\"roots\", \"sampling\"]\n",
        );
        let notes = policy.evaluate("notes", &d);
        assert!(notes.allows(SESSION_STATE));
        assert!(notes.allows(ROOTS));
        assert_eq!(
            notes.refused.get(&SAMPLING),
            Some(&Decider::Default(
                DefaultGrant::Deny,
                NeedsRule("files, env, http, secrets and sql".into())
            ))
        );
        assert_eq!(notes.max_timeout_ms, Some(500));
        let other = policy.evaluate("other", &d);
        assert_eq!(
            other
                .refused
                .get(&SESSION_STATE)
                .map(ToString::to_string)
                .as_deref(),
            Some("policy rule 2 (line 8, plugins = \"*\")")
        );
    }

    #[test]
    fn policies_that_decide_alike_are_found_alike() {
        let a = policy(
            "[[rule]]\nplugins = \"p\"\ngrant = [\"http\"]\nhttp-allow = [\"https://a.example\"]\n",
        )
        .unwrap();
        let moved = policy("\n\n[[rule]]\nplugins = \"p\"\ngrant = [\"http\"]\nhttp-allow = [\"https://a.example\"]\n").unwrap();
        let other = policy(
            "[[rule]]\nplugins = \"p\"\ngrant = [\"http\"]\nhttp-allow = [\"https://b.example\"]\n",
        )
        .unwrap();
        assert!(a.decides_like(&moved));
        assert!(!a.decides_like(&other), "a capability's own keys count");
    }

    #[test]
    fn invalid_policies_name_the_line() {
        let err = policy(" \n\n").unwrap_err().to_string();
        assert!(err.contains("the policy is empty"), "{err}");
        let err = policy("# comments only\n").unwrap_err().to_string();
        assert!(err.contains("the policy is empty"), "{err}");
        assert!(policy("default = \"grant-declared\"\n").is_ok());
        let err = policy("[[rule]]\nplugins = \"a\"\ngrant = [\"network\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3: unknown variant `network`"), "{err}");
        let err = policy("[[rule]]\nplugins = \"a\"\ncolour = 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3: unknown field `colour`"), "{err}");
        let err = policy("[[rule]]\nplugins = \"a\"\nmax-fuel = \"lots\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3: invalid type"), "{err}");
        let err = policy("rule = 3\n").unwrap_err().to_string();
        assert!(err.contains("line 1: `rule` must be tables"), "{err}");
        let err = policy("[[rule]]\nplugins = \"a\"\ngrant = [\"roots\"]\ndeny = [\"roots\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2: capability `roots` is both granted and denied"),
            "{err}"
        );
    }
}

#[cfg(test)]
mod properties {
    use super::Policy;
    use crate::test_strategies::{CASES, text_from};
    use proptest::prelude::*;

    const FRAGMENTS: &[&str] = &[
        "default = \"deny\"\n",
        "default = \"grant-declared\"\n",
        "[[rule]]\n",
        "plugins = \"*\"\n",
        "plugins = \"\"\n",
        "grant = [\"files\", \"env\", \"http\"]\n",
        "deny = [\"files\"]\n",
        "files-read-only = [\"/\", \"rel\"]\n",
        "env-variables = []\n",
        "http-allow = [\"https://*.a\", \"a.b\"]\n",
        "http-allow-private = true\n",
        "max-http-response-kib = 0\n",
        "keyvalue-quota-entries = 0\n",
        "keyvalue-quota-kib = 18446744073709551615\n",
        "max-memory-mib = 18446744073709551615\n",
        "max-concurrent = -1\n",
        "colour = 1\n",
        "[[",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(CASES))]

        #[test]
        fn policies_parse_or_name_the_problem(text in text_from(FRAGMENTS, 12)) {
            if let Err(problem) = Policy::parse(&text, None, crate::capabilities::registry()) {
                prop_assert!(problem.to_string().contains("invalid policy"));
            }
        }
    }
}

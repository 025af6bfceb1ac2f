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
//! `env`, `http` and `secrets`. The rule granting one of these may narrow it:
//! `files-read-only` (allowed host directories), `env-variables`,
//! `http-allow` (origins), `http-credentials` (secrets that may be sent as
//! credentials) and `secret-names`. `keyvalue-quota-entries` and
//! `keyvalue-quota-kib` set what a plugin may keep in its key-value
//! namespaces (default 100000 entries and 64 MiB). A policy
//! that cannot be read or parsed stops the host (fail closed), naming the
//! line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::capabilities::Capability;
use crate::capabilities::http::{HttpCeilings, HttpGrant, OriginPattern};
use crate::limits::PluginLimits;
use crate::manifest::{ManifestCapabilities, describe_toml_error};
use crate::state::Quota;

/// What the policy does with capabilities no rule names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DefaultGrant {
    #[default]
    GrantDeclared,
    Deny,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PolicyFile {
    #[serde(default)]
    default: Option<DefaultGrant>,
    #[serde(default)]
    rule: Vec<RuleFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RuleFile {
    plugins: toml::Spanned<String>,
    #[serde(default)]
    grant: Vec<Capability>,
    #[serde(default)]
    deny: Vec<Capability>,
    max_memory_mib: Option<u64>,
    max_timeout_ms: Option<u64>,
    max_concurrent: Option<u32>,
    max_fuel: Option<u64>,
    files_read_only: Option<Vec<PathBuf>>,
    env_variables: Option<Vec<String>>,
    http_allow: Option<Vec<OriginPattern>>,
    http_credentials: Option<Vec<String>>,
    http_allow_private: Option<bool>,
    max_http_response_kib: Option<u64>,
    secret_names: Option<Vec<String>>,
    keyvalue_quota_entries: Option<u64>,
    keyvalue_quota_kib: Option<u64>,
}

/// One rule, with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub plugins: String,
    pub line: usize,
    pub grant: Vec<Capability>,
    pub deny: Vec<Capability>,
    pub max_memory_mib: Option<u64>,
    pub max_timeout_ms: Option<u64>,
    pub max_concurrent: Option<u32>,
    pub max_fuel: Option<u64>,
    /// When this rule grants `files`: the host directories it allows (a
    /// declared directory is granted if it is one of these or inside one);
    /// `None` allows every declared directory.
    pub files_read_only: Option<Vec<PathBuf>>,
    /// When this rule grants `env`: the variables it allows; `None` allows
    /// every declared variable.
    pub env_variables: Option<Vec<String>>,
    /// When this rule grants `http`: the origins it allows (each declared
    /// origin is narrowed to its part within these); `None` allows every
    /// declared origin.
    pub http_allow: Option<Vec<OriginPattern>>,
    /// When this rule grants `http`: the secrets whose declared credentials
    /// may be sent; `None` allows every declared credential.
    pub http_credentials: Option<Vec<String>>,
    /// When this rule grants `http`: whether names may resolve to the
    /// host's own networks (loopback, private, link-local, ...).
    pub http_allow_private: bool,
    /// When this rule grants `http`: the largest response body a manifest
    /// may ask for, in KiB.
    pub max_http_response_kib: Option<u64>,
    /// When this rule grants `secrets`: the names the plugin may read;
    /// `None` allows every declared name.
    pub secret_names: Option<Vec<String>>,
    /// The entries a plugin may keep in its key-value namespaces.
    pub keyvalue_quota_entries: Option<u64>,
    /// The KiB of keys and values a plugin may keep in its key-value
    /// namespaces.
    pub keyvalue_quota_kib: Option<u64>,
}

/// The operator's policy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    /// The file it came from; `None` for the built-in default.
    pub source: Option<PathBuf>,
    pub default: DefaultGrant,
    pub rules: Vec<Rule>,
    /// The host's own files and directories (data directory, compile cache,
    /// state key, secrets, auth file, policy), resolved: no plugin is ever
    /// granted a directory holding one of them or lying inside one, whatever
    /// a rule says. Not part of the file; the host sets it.
    pub protected: Vec<PathBuf>,
}

/// A host directory a plugin reads: where the plugin sees it (the declared
/// path, `.` and `..` resolved) and the directory it really is (every
/// symbolic link resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantedDir {
    pub guest: PathBuf,
    pub host: PathBuf,
}

/// The prefix of the host's own environment variables, never visible to a
/// plugin.
pub const HOST_VARIABLE_PREFIX: &str = "MCP_WASM_HOST_";

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

/// Who decided about a capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decider {
    /// A rule of the policy file (its number from 1, its line, its pattern).
    Rule {
        number: usize,
        line: usize,
        plugins: String,
    },
    /// The policy's default for capabilities no rule names.
    Default(DefaultGrant),
}

impl fmt::Display for Decider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decider::Rule {
                number,
                line,
                plugins,
            } => write!(
                f,
                "policy rule {number} (line {line}, plugins = \"{plugins}\")"
            ),
            Decider::Default(DefaultGrant::GrantDeclared) => f.write_str(
                "the policy default (grant what is declared, except files, env, http and secrets, which need a rule)",
            ),
            Decider::Default(DefaultGrant::Deny) => f.write_str("the policy default (deny)"),
        }
    }
}

/// What the policy grants one plugin.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grants {
    pub granted: BTreeMap<Capability, Decider>,
    pub refused: BTreeMap<Capability, Decider>,
    pub max_memory_mib: Option<u64>,
    pub max_timeout_ms: Option<u64>,
    pub max_concurrent: Option<u32>,
    pub max_fuel: Option<u64>,
    /// Host directories the plugin reads (when `files` is granted).
    pub files: Vec<GrantedDir>,
    /// Environment variables the plugin sees (when `env` is granted).
    pub env: Vec<String>,
    /// Key-value namespaces the plugin uses (when `keyvalue` is granted).
    pub namespaces: Vec<String>,
    /// What the plugin may keep in them, together.
    pub keyvalue_quota: Quota,
    /// Origins and credentials of outbound HTTP (when `http` is granted).
    pub http: HttpGrant,
    /// Secrets the plugin reads (when `secrets` is granted).
    pub secrets: Vec<String>,
    /// What a granted capability's declaration asked for and does not get,
    /// each with the reason (for the load log and `plugin check`).
    pub withheld: Vec<String>,
}

impl Grants {
    /// Everything declared is granted (no policy, or tests).
    pub fn all_declared(declared: &ManifestCapabilities) -> Self {
        Policy::default().evaluate("", declared)
    }

    pub fn allows(&self, capability: Capability) -> bool {
        self.granted.contains_key(&capability)
    }

    /// Why a capability is not available, for the guest's `denied`.
    pub fn denial(&self, capability: Capability) -> String {
        match self.refused.get(&capability) {
            Some(decider) => format!("the `{capability}` capability is not granted by {decider}"),
            None => format!("the plugin's manifest does not declare the `{capability}` capability"),
        }
    }

    /// Limits lowered to the policy's ceilings.
    pub fn clamp(&self, limits: PluginLimits) -> PluginLimits {
        let memory = self
            .max_memory_mib
            .map(|mib| (mib as usize).saturating_mul(1 << 20));
        let timeout = self.max_timeout_ms.map(Duration::from_millis);
        fn lowest<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
            match (a, b) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }
        PluginLimits {
            memory_bytes: memory.map_or(limits.memory_bytes, |m| m.min(limits.memory_bytes)),
            timeout: timeout.map_or(limits.timeout, |t| t.min(limits.timeout)),
            max_concurrent: lowest(limits.max_concurrent, self.max_concurrent),
            fuel: lowest(limits.fuel, self.max_fuel),
        }
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
    /// A declared directory as granted under the policy roots `roots`: it
    /// must resolve (`..` and symbolic links followed) to a directory
    /// inside a resolved root, and neither hold nor lie inside one of the
    /// host's own files. `Err` says why not.
    fn grant_directory(&self, dir: &Path, roots: &[PathBuf]) -> Result<GrantedDir, String> {
        let host = std::fs::canonicalize(dir)
            .map_err(|e| format!("cannot be resolved on this host ({e})"))?;
        if !host.is_dir() {
            return Err(format!("resolves to {}, not a directory", host.display()));
        }
        let inside_a_root = roots
            .iter()
            .any(|root| std::fs::canonicalize(root).is_ok_and(|root| host.starts_with(root)));
        if !inside_a_root {
            let allowed: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
            return Err(format!(
                "resolves to {}, which is not inside the rule's files-read-only [{}]",
                host.display(),
                allowed.join(", ")
            ));
        }
        if let Some(own) = self
            .protected
            .iter()
            .find(|own| own.starts_with(&host) || host.starts_with(own))
        {
            return Err(format!(
                "resolves to {}, which would reach the host's own {}",
                host.display(),
                own.display()
            ));
        }
        Ok(GrantedDir {
            guest: normalized(dir),
            host,
        })
    }

    /// Read and check a policy file.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, Some(path))
    }

    pub fn parse(text: &str, path: Option<&Path>) -> Result<Self, PolicyError> {
        let shown = path.map_or_else(|| PathBuf::from("(policy)"), Path::to_path_buf);
        let invalid = |message: String| PolicyError::Invalid {
            path: shown.clone(),
            message,
        };
        let file: PolicyFile =
            toml::from_str(text).map_err(|e| invalid(describe_toml_error(text, &e)))?;
        if file.default.is_none() && file.rule.is_empty() {
            // Most likely a file caught between being emptied and written.
            return Err(invalid(
                "the policy is empty; write at least `default = \"grant-declared\"` or \
                 `default = \"deny\"` (to replace the policy of a running host, write the \
                 new one to a temporary file and rename it into place)"
                    .into(),
            ));
        }
        let mut rules = Vec::with_capacity(file.rule.len());
        for r in file.rule {
            let line = text[..r.plugins.span().start.min(text.len())]
                .matches('\n')
                .count()
                + 1;
            let plugins = r.plugins.into_inner();
            if plugins.is_empty() {
                return Err(invalid(format!("line {line}: `plugins` must not be empty")));
            }
            if let Some(c) = r.grant.iter().find(|c| r.deny.contains(c)) {
                return Err(invalid(format!(
                    "line {line}: capability `{c}` is both granted and denied by the same rule"
                )));
            }
            for (capability, list, named) in [
                (
                    Capability::Files,
                    "files-read-only",
                    r.files_read_only.is_some(),
                ),
                (Capability::Env, "env-variables", r.env_variables.is_some()),
            ] {
                if r.grant.contains(&capability) && !named {
                    return Err(invalid(format!(
                        "line {line}: a rule that grants `{capability}` must say what it \
                         allows with `{list}` (an empty list allows nothing)"
                    )));
                }
            }
            if let Some(p) = r
                .files_read_only
                .iter()
                .flatten()
                .find(|p| !p.is_absolute())
            {
                return Err(invalid(format!(
                    "line {line}: files-read-only: `{}` is not an absolute path",
                    p.display()
                )));
            }
            if r.max_memory_mib == Some(0)
                || r.max_timeout_ms == Some(0)
                || r.max_concurrent == Some(0)
                || r.max_fuel == Some(0)
                || r.max_http_response_kib == Some(0)
                || r.keyvalue_quota_entries == Some(0)
                || r.keyvalue_quota_kib == Some(0)
            {
                return Err(invalid(format!(
                    "line {line}: a ceiling or quota must be at least 1"
                )));
            }
            rules.push(Rule {
                plugins,
                line,
                grant: r.grant,
                deny: r.deny,
                max_memory_mib: r.max_memory_mib,
                max_timeout_ms: r.max_timeout_ms,
                max_concurrent: r.max_concurrent,
                max_fuel: r.max_fuel,
                files_read_only: r.files_read_only,
                env_variables: r.env_variables,
                http_allow: r.http_allow,
                http_credentials: r.http_credentials,
                http_allow_private: r.http_allow_private.unwrap_or(false),
                max_http_response_kib: r.max_http_response_kib,
                secret_names: r.secret_names,
                keyvalue_quota_entries: r.keyvalue_quota_entries,
                keyvalue_quota_kib: r.keyvalue_quota_kib,
            });
        }
        Ok(Self {
            source: path.map(Path::to_path_buf),
            default: file.default.unwrap_or_default(),
            rules,
            protected: Vec::new(),
        })
    }

    /// This policy, never granting the host's own `paths` (each resolved
    /// where it exists).
    pub fn protecting(mut self, paths: impl IntoIterator<Item = PathBuf>) -> Self {
        self.protected = paths
            .into_iter()
            .map(|p| std::fs::canonicalize(&p).unwrap_or_else(|_| normalized(&p)))
            .collect();
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
        self.default == other.default && rules(self) == rules(other)
    }

    /// What the policy grants `plugin`, which declares `declared`.
    pub fn evaluate(&self, plugin: &str, declared: &ManifestCapabilities) -> Grants {
        let matching: Vec<(usize, &Rule)> = self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| glob_matches(&r.plugins, plugin))
            .collect();
        let mut grants = Grants::default();
        for capability in declared.declared() {
            let decided = matching.iter().find_map(|(i, r)| {
                let decider = Decider::Rule {
                    number: i + 1,
                    line: r.line,
                    plugins: r.plugins.clone(),
                };
                if r.deny.contains(&capability) {
                    Some((false, decider, None))
                } else if r.grant.contains(&capability) {
                    Some((true, decider, Some(*r)))
                } else {
                    None
                }
            });
            let (granted, decider, rule) = decided.unwrap_or((
                self.default == DefaultGrant::GrantDeclared && capability.granted_by_default(),
                Decider::Default(self.default),
                None,
            ));
            if !granted {
                grants.refused.insert(capability, decider);
                continue;
            }
            grants.granted.insert(capability, decider);
            match capability {
                Capability::Files => {
                    let roots = rule
                        .and_then(|r| r.files_read_only.as_deref())
                        .unwrap_or_default();
                    for dir in declared.files.iter().flat_map(|f| &f.read_only) {
                        match self.grant_directory(dir, roots) {
                            Ok(granted) => grants.files.push(granted),
                            Err(why) => grants
                                .withheld
                                .push(format!("files: `{}` {why}", dir.display())),
                        }
                    }
                }
                Capability::Env => {
                    let allowed = rule
                        .and_then(|r| r.env_variables.as_deref())
                        .unwrap_or_default();
                    for name in declared.env.iter().flat_map(|e| &e.variables) {
                        if name.starts_with(HOST_VARIABLE_PREFIX) {
                            grants.withheld.push(format!(
                                "env: `{name}` is one of the host's own variables \
                                 ({HOST_VARIABLE_PREFIX}*), never visible to plugins"
                            ));
                        } else if allowed.contains(name) {
                            grants.env.push(name.clone());
                        } else {
                            grants
                                .withheld
                                .push(format!("env: `{name}` is not in the rule's env-variables"));
                        }
                    }
                }
                Capability::KeyValue => {
                    grants.namespaces = declared
                        .keyvalue
                        .iter()
                        .flat_map(|k| k.namespaces.iter().cloned())
                        .collect();
                    let lowest = |f: fn(&Rule) -> Option<u64>| {
                        matching.iter().filter_map(|(_, r)| f(r)).min()
                    };
                    grants.keyvalue_quota = Quota {
                        entries: lowest(|r| r.keyvalue_quota_entries)
                            .unwrap_or(Quota::DEFAULT.entries),
                        bytes: lowest(|r| r.keyvalue_quota_kib)
                            .map_or(Quota::DEFAULT.bytes, |kib| kib.saturating_mul(1024)),
                    };
                }
                Capability::Http => {
                    if let Some(http) = &declared.http {
                        grants.http = HttpGrant::narrowed(
                            http,
                            rule.and_then(|r| r.http_allow.as_deref()),
                            rule.and_then(|r| r.http_credentials.as_deref()),
                            HttpCeilings {
                                max_response_kib: rule.and_then(|r| r.max_http_response_kib),
                                allow_private: rule.is_some_and(|r| r.http_allow_private),
                            },
                        );
                    }
                }
                Capability::Secrets => {
                    let allowed = rule.and_then(|r| r.secret_names.as_ref());
                    grants.secrets = declared
                        .secrets
                        .iter()
                        .flat_map(|s| &s.names)
                        .filter(|n| allowed.is_none_or(|a| a.contains(n)))
                        .cloned()
                        .collect();
                }
                _ => {}
            }
        }
        let lowest = |f: fn(&Rule) -> Option<u64>| matching.iter().filter_map(|(_, r)| f(r)).min();
        grants.max_memory_mib = lowest(|r| r.max_memory_mib);
        grants.max_timeout_ms = lowest(|r| r.max_timeout_ms);
        grants.max_concurrent = matching.iter().filter_map(|(_, r)| r.max_concurrent).min();
        grants.max_fuel = lowest(|r| r.max_fuel);
        grants
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(required: &[Capability], optional: &[Capability]) -> ManifestCapabilities {
        ManifestCapabilities {
            required: required.to_vec(),
            optional: optional.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn files_and_env_need_a_rule_that_may_narrow_them() {
        let mut d = declared(&[], &[Capability::Files, Capability::Env]);
        d.files = Some(crate::manifest::FilesParams {
            read_only: vec!["/srv/docs".into(), "/etc".into()],
        });
        d.env = Some(crate::manifest::EnvParams {
            variables: vec!["LANG".into(), "SECRET".into()],
        });
        let none = Policy::default().evaluate("p", &d);
        assert!(!none.allows(Capability::Files) && !none.allows(Capability::Env));
        assert!(none.files.is_empty() && none.env.is_empty());
        let policy = Policy::parse(
            "[[rule]]\nplugins = \"p\"\ngrant = [\"files\", \"env\"]\nfiles-read-only = [\"/srv\"]\nenv-variables = [\"LANG\"]\n",
            None,
        )
        .unwrap();
        let g = policy.evaluate("p", &d);
        assert!(g.files.is_empty(), "neither directory exists here: {g:?}");
        assert_eq!(g.env, vec!["LANG".to_string()]);
        assert!(
            g.withheld
                .iter()
                .any(|w| w.contains("env: `SECRET` is not in the rule's env-variables")),
            "{:?}",
            g.withheld
        );
    }

    fn files_declaring(dirs: &[&Path]) -> ManifestCapabilities {
        let mut d = declared(&[], &[Capability::Files]);
        d.files = Some(crate::manifest::FilesParams {
            read_only: dirs.iter().map(|p| p.to_path_buf()).collect(),
        });
        d
    }

    fn temp_tree(name: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("policy-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("ok/docs")).unwrap();
        std::fs::create_dir_all(root.join("outside")).unwrap();
        root
    }

    #[test]
    fn declared_directories_resolve_inside_a_root_or_are_withheld() {
        let root = temp_tree("resolve");
        let policy = Policy::parse(
            &format!(
                "[[rule]]\nplugins = \"p\"\ngrant = [\"files\"]\nfiles-read-only = [\"{}\"]\n",
                root.join("ok").display()
            ),
            None,
        )
        .unwrap();
        // `..` climbing out of the root, spelled to start inside it.
        let climbing = root.join("ok/../outside");
        #[cfg(unix)]
        std::os::unix::fs::symlink(root.join("outside"), root.join("ok/link")).unwrap();
        let linked = root.join("ok/link");
        let missing = root.join("ok/missing");
        let inside = root.join("ok/docs/../docs");
        let g = policy.evaluate(
            "p",
            &files_declaring(&[&climbing, &linked, &missing, &inside]),
        );
        assert_eq!(
            g.files,
            vec![GrantedDir {
                guest: root.join("ok/docs"),
                host: std::fs::canonicalize(root.join("ok/docs")).unwrap(),
            }]
        );
        let withheld = g.withheld.join("\n");
        assert!(
            withheld.contains("ok/../outside` resolves to")
                && withheld.contains("not inside the rule's files-read-only"),
            "{withheld}"
        );
        #[cfg(unix)]
        assert!(withheld.contains("ok/link` resolves to"), "{withheld}");
        assert!(
            withheld.contains("ok/missing` cannot be resolved"),
            "{withheld}"
        );
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn the_hosts_own_files_are_never_granted() {
        let root = temp_tree("own");
        std::fs::create_dir_all(root.join("ok/data")).unwrap();
        let policy = Policy::parse(
            "[[rule]]\nplugins = \"p\"\ngrant = [\"files\"]\nfiles-read-only = [\"/\"]\n",
            None,
        )
        .unwrap()
        .protecting([root.join("ok/data"), root.join("outside/state.key")]);
        let g = policy.evaluate(
            "p",
            &files_declaring(&[
                &root.join("ok"),
                &root.join("ok/data"),
                &root.join("ok/docs"),
            ]),
        );
        assert_eq!(g.files.len(), 1, "{g:?}");
        assert!(g.files[0].guest.ends_with("ok/docs"));
        let withheld = g.withheld.join("\n");
        assert_eq!(
            withheld.matches("would reach the host's own").count(),
            2,
            "{withheld}"
        );
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn files_and_env_rules_must_name_their_lists() {
        for (grant, list) in [("files", "files-read-only"), ("env", "env-variables")] {
            let err = Policy::parse(
                &format!("[[rule]]\nplugins = \"p\"\ngrant = [\"{grant}\"]\n"),
                None,
            )
            .unwrap_err()
            .to_string();
            assert!(
                err.contains(&format!(
                    "line 2: a rule that grants `{grant}` must say what it allows with `{list}`"
                )),
                "{err}"
            );
        }
    }

    #[test]
    fn the_hosts_own_variables_are_never_granted() {
        let mut d = declared(&[], &[Capability::Env]);
        d.env = Some(crate::manifest::EnvParams {
            variables: vec!["MCP_WASM_HOST_SECRET_API".into(), "LANG".into()],
        });
        let policy = Policy::parse(
            "[[rule]]\nplugins = \"p\"\ngrant = [\"env\"]\nenv-variables = [\"MCP_WASM_HOST_SECRET_API\", \"LANG\"]\n",
            None,
        )
        .unwrap();
        let g = policy.evaluate("p", &d);
        assert_eq!(g.env, vec!["LANG".to_string()]);
        assert!(
            g.withheld[0].contains("host's own variables"),
            "{:?}",
            g.withheld
        );
    }

    #[test]
    fn http_and_secrets_need_a_rule_that_may_narrow_them() {
        let manifest = crate::manifest::PluginManifest::parse(
            "name = \"p\"\nversion = \"1\"\n[capabilities]\noptional = [\"http\", \"secrets\"]\n\
             [capabilities.http]\nallow = [\"http://127.0.0.1:*\", \"https://api.example.com\"]\n\
             [[capabilities.http.credentials]]\norigin = \"https://api.example.com\"\nsecret = \"api\"\n\
             [capabilities.secrets]\nnames = [\"a\", \"b\"]\n",
            "p",
        )
        .unwrap();
        let d = &manifest.capabilities;
        let none = Policy::default().evaluate("p", d);
        assert!(!none.allows(Capability::Http) && !none.allows(Capability::Secrets));
        assert!(none.http.allow.is_empty() && none.secrets.is_empty());
        let policy = Policy::parse(
            "[[rule]]\nplugins = \"p\"\ngrant = [\"http\", \"secrets\"]\nhttp-allow = [\"http://127.0.0.1:8080\"]\nhttp-credentials = []\nsecret-names = [\"b\"]\n",
            None,
        )
        .unwrap();
        let g = policy.evaluate("p", d);
        assert_eq!(g.http.allowed_list(), "http://127.0.0.1:8080");
        assert!(g.http.credentials.is_empty());
        assert_eq!(g.secrets, vec!["b".to_string()]);
        let err = Policy::parse(
            "[[rule]]\nplugins = \"p\"\ngrant = [\"http\"]\nhttp-allow = [\"api.example.com\"]\n",
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("line 4: `api.example.com` is not an origin"),
            "{err}"
        );
    }

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
        let g = Policy::default().evaluate(
            "p",
            &declared(&[Capability::Sampling], &[Capability::Roots]),
        );
        assert!(g.allows(Capability::Sampling) && g.allows(Capability::Roots));
        assert!(!g.allows(Capability::Elicitation), "only what is declared");
    }

    #[test]
    fn the_first_rule_naming_a_capability_decides() {
        let policy = Policy::parse(
            "default = \"deny\"\n\n[[rule]]\nplugins = \"notes\"\ngrant = [\"session-state\"]\n\n[[rule]]\nplugins = \"*\"\ndeny = [\"session-state\"]\ngrant = [\"roots\"]\nmax-timeout-ms = 500\n",
            None,
        )
        .unwrap();
        let d = declared(
            &[Capability::SessionState],
            &[Capability::Roots, Capability::Sampling],
        );
        let notes = policy.evaluate("notes", &d);
        assert!(notes.allows(Capability::SessionState));
        assert!(notes.allows(Capability::Roots));
        assert_eq!(
            notes.refused.get(&Capability::Sampling),
            Some(&Decider::Default(DefaultGrant::Deny))
        );
        assert_eq!(notes.max_timeout_ms, Some(500));
        let other = policy.evaluate("other", &d);
        assert_eq!(
            other
                .refused
                .get(&Capability::SessionState)
                .map(ToString::to_string)
                .as_deref(),
            Some("policy rule 2 (line 8, plugins = \"*\")")
        );
    }

    #[test]
    fn the_key_value_quota_is_the_lowest_of_the_matching_rules() {
        let mut d = declared(&[Capability::KeyValue], &[]);
        d.keyvalue = Some(crate::manifest::KeyValueParams {
            namespaces: vec!["ns".into()],
        });
        assert_eq!(
            Policy::default().evaluate("p", &d).keyvalue_quota,
            Quota::DEFAULT
        );
        let policy = Policy::parse(
            "[[rule]]\nplugins = \"p*\"\nkeyvalue-quota-entries = 10\nkeyvalue-quota-kib = 4\n\
             [[rule]]\nplugins = \"*\"\nkeyvalue-quota-entries = 5\n",
            None,
        )
        .unwrap();
        assert_eq!(
            policy.evaluate("p", &d).keyvalue_quota,
            Quota {
                entries: 5,
                bytes: 4096
            }
        );
        let err = Policy::parse("[[rule]]\nplugins = \"p\"\nkeyvalue-quota-kib = 0\n", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 1"), "{err}");
    }

    #[test]
    fn invalid_policies_name_the_line() {
        let err = Policy::parse(" \n\n", None).unwrap_err().to_string();
        assert!(err.contains("the policy is empty"), "{err}");
        let err = Policy::parse("# comments only\n", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("the policy is empty"), "{err}");
        assert!(Policy::parse("default = \"grant-declared\"\n", None).is_ok());
        let err = Policy::parse("[[rule]]\nplugins = \"a\"\ngrant = [\"network\"]\n", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3: unknown variant `network`"), "{err}");
        let err = Policy::parse("[[rule]]\nplugins = \"a\"\ncolour = 1\n", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3: unknown field `colour`"), "{err}");
        let err = Policy::parse(
            "[[rule]]\nplugins = \"a\"\ngrant = [\"roots\"]\ndeny = [\"roots\"]\n",
            None,
        )
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
            if let Err(problem) = Policy::parse(&text, None) {
                prop_assert!(problem.to_string().contains("invalid policy"));
            }
        }
    }
}

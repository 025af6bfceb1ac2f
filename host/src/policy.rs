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
//! `env`, `http` and `secrets`. Besides the keys every rule has (`plugins`,
//! `grant`, `deny`, the `max-*` ceilings), a rule may carry keys owned by
//! one capability (`files-read-only`, `http-allow`, `keyvalue-quota-kib`,
//! ...): this module hands each capability its keys and, when it grants
//! the capability, lets it narrow the plugin's declaration; it knows no
//! capability by name. A policy that cannot be read or parsed stops the
//! host (fail closed), naming the line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::capability::{
    Capability, CapabilitySet, Narrowing, Params, ParamsRef, TomlProblem, from_toml, line_of,
    resolve_names, same_params,
};
use crate::limits::PluginLimits;
use crate::manifest::{ManifestCapabilities, describe_toml_error};
use crate::tool::TaskSupport;

/// What the policy does with capabilities no rule names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DefaultGrant {
    #[default]
    GrantDeclared,
    Deny,
}

/// The file's top level, its `[[rule]]` tables set aside.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PolicyFile {
    #[serde(default)]
    default: Option<DefaultGrant>,
}

/// The keys every rule may have; the others belong to capabilities.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RuleFile {
    plugins: Spanned<String>,
    #[serde(default)]
    grant: Vec<Spanned<String>>,
    #[serde(default)]
    deny: Vec<Spanned<String>>,
    max_memory_mib: Option<u64>,
    max_timeout_ms: Option<u64>,
    max_task_timeout_ms: Option<u64>,
    max_concurrent: Option<u32>,
    max_fuel: Option<u64>,
    tasks: Option<Spanned<String>>,
}

const RULE_KEYS: &[&str] = &[
    "plugins",
    "grant",
    "deny",
    "max-memory-mib",
    "max-timeout-ms",
    "max-task-timeout-ms",
    "max-concurrent",
    "tasks",
    "max-fuel",
];

/// One rule, with where it was written.
#[derive(Debug, Clone)]
pub struct Rule {
    pub plugins: String,
    pub line: usize,
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
    /// What the rule says of each capability with keys of its own (the
    /// directories `files` may reach, the origins `http` may, ...), as the
    /// capability parsed it.
    pub params: BTreeMap<Capability, ParamsRef>,
}

impl PartialEq for Rule {
    fn eq(&self, other: &Self) -> bool {
        self.plugins == other.plugins
            && self.line == other.line
            && self.grant == other.grant
            && self.deny == other.deny
            && self.max_memory_mib == other.max_memory_mib
            && self.max_timeout_ms == other.max_timeout_ms
            && self.max_task_timeout_ms == other.max_task_timeout_ms
            && self.max_concurrent == other.max_concurrent
            && self.max_fuel == other.max_fuel
            && self.tasks == other.tasks
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
    /// The host's own files and directories (data directory, compile cache,
    /// state key, secrets, auth file, policy), resolved: no plugin is ever
    /// granted a directory holding one of them or lying inside one, whatever
    /// a rule says. Not part of the file; the host sets it.
    pub protected: Vec<PathBuf>,
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

/// Who decided about a capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decider {
    /// A rule of the policy file (its number from 1, its line, its pattern).
    Rule {
        number: usize,
        line: usize,
        plugins: String,
    },
    /// The policy's default for capabilities no rule names, and the
    /// capabilities it never grants (they need a rule naming them).
    Default(DefaultGrant, NeedsRule),
}

/// The capabilities a `grant-declared` default does not grant, as a list
/// for messages (`files, env, http and secrets`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedsRule(pub String);

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
            Decider::Default(DefaultGrant::GrantDeclared, NeedsRule(names)) => write!(
                f,
                "the policy default (grant what is declared, except {names}, which need a rule)"
            ),
            Decider::Default(DefaultGrant::Deny, _) => f.write_str("the policy default (deny)"),
        }
    }
}

/// What the policy grants one plugin.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    pub granted: BTreeMap<Capability, Decider>,
    pub refused: BTreeMap<Capability, Decider>,
    pub max_memory_mib: Option<u64>,
    pub max_timeout_ms: Option<u64>,
    pub max_task_timeout_ms: Option<u64>,
    pub max_concurrent: Option<u32>,
    pub max_fuel: Option<u64>,
    /// Whether its tools' calls run as MCP tasks, overriding what the
    /// plugin declares (the first matching rule that says).
    pub tasks: Option<TaskSupport>,
    /// What each granted capability reaches, as it narrowed its
    /// declaration (directories, origins, namespaces, ...).
    pub params: BTreeMap<Capability, ParamsRef>,
    /// What a granted capability's declaration asked for and does not get,
    /// each with the reason (for the load log and `plugin check`).
    pub withheld: Vec<String>,
}

impl PartialEq for Grants {
    fn eq(&self, other: &Self) -> bool {
        self.granted == other.granted
            && self.refused == other.refused
            && self.max_memory_mib == other.max_memory_mib
            && self.max_timeout_ms == other.max_timeout_ms
            && self.max_task_timeout_ms == other.max_task_timeout_ms
            && self.max_concurrent == other.max_concurrent
            && self.max_fuel == other.max_fuel
            && self.tasks == other.tasks
            && same_params(&self.params, &other.params)
            && self.withheld == other.withheld
    }
}

impl Grants {
    pub fn allows(&self, capability: Capability) -> bool {
        self.granted.contains_key(&capability)
    }

    /// What the granted `capability` reaches, as the type it narrowed its
    /// declaration into.
    pub fn params<T: 'static>(&self, capability: Capability) -> Option<&T> {
        self.params
            .get(&capability)
            .and_then(|p| crate::capability::downcast(&**p))
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
        let task_timeout = self.max_task_timeout_ms.map(Duration::from_millis);
        fn lowest<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
            match (a, b) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }
        PluginLimits {
            memory_bytes: memory.map_or(limits.memory_bytes, |m| m.min(limits.memory_bytes)),
            timeout: timeout.map_or(limits.timeout, |t| t.min(limits.timeout)),
            task_timeout: task_timeout.map_or(limits.task_timeout, |t| t.min(limits.task_timeout)),
            max_concurrent: lowest(limits.max_concurrent, self.max_concurrent),
            fuel: lowest(limits.fuel, self.max_fuel),
        }
    }
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
    pub fn replace(&self, mut policy: Policy) {
        policy.protected = self.0.load().protected.clone();
        self.0.store(Arc::new(policy));
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
    /// The policy with no file: what is declared is granted, except the
    /// capabilities that need a rule.
    pub fn grant_declared(capabilities: &'static dyn CapabilitySet) -> Self {
        Policy {
            source: None,
            default: DefaultGrant::GrantDeclared,
            rules: Vec::new(),
            protected: Vec::new(),
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

    pub fn parse(
        text: &str,
        path: Option<&Path>,
        capabilities: &'static dyn CapabilitySet,
    ) -> Result<Self, PolicyError> {
        let shown = path.map_or_else(|| PathBuf::from("(policy)"), Path::to_path_buf);
        let invalid = |message: String| PolicyError::Invalid {
            path: shown.clone(),
            message,
        };
        let toml_error = |e: &toml::de::Error| invalid(describe_toml_error(text, e));
        let document = DeTable::parse(text).map_err(|e| toml_error(&e))?;
        let span = document.span();
        let mut top = document.into_inner();
        let mut tables = Vec::new();
        if let Some(rules) = top.remove("rule") {
            let line = line_of(text, rules.span().start);
            let not_tables = || {
                invalid(format!(
                    "line {line}: `rule` must be tables, written [[rule]]"
                ))
            };
            let DeValue::Array(items) = rules.into_inner() else {
                return Err(not_tables());
            };
            for item in items.iter() {
                let item_span = item.span();
                match item.get_ref() {
                    DeValue::Table(table) => tables.push(Spanned::new(item_span, table.clone())),
                    _ => return Err(not_tables()),
                }
            }
        }
        let file: PolicyFile =
            from_toml(Spanned::new(span, DeValue::Table(top))).map_err(|e| toml_error(&e))?;
        if file.default.is_none() && tables.is_empty() {
            // Most likely a file caught between being emptied and written.
            return Err(invalid(
                "the policy is empty; write at least `default = \"grant-declared\"` or \
                 `default = \"deny\"` (to replace the policy of a running host, write the \
                 new one to a temporary file and rename it into place)"
                    .into(),
            ));
        }
        let mut rules = Vec::with_capacity(tables.len());
        for table in tables {
            rules.push(parse_rule(text, table, capabilities).map_err(invalid)?);
        }
        Ok(Self {
            source: path.map(Path::to_path_buf),
            default: file.default.unwrap_or_default(),
            rules,
            protected: Vec::new(),
            capabilities,
        })
    }

    /// The host's capabilities this policy knows.
    pub fn capabilities(&self) -> &'static dyn CapabilitySet {
        self.capabilities
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
        let needs_rule = NeedsRule(self.capabilities.needing_a_rule());
        for capability in declared.declared() {
            let Some(kind) = self.capabilities.kind_of(capability) else {
                continue;
            };
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
                self.default == DefaultGrant::GrantDeclared && kind.granted_by_default(),
                Decider::Default(self.default, needs_rule.clone()),
                None,
            ));
            if !granted {
                grants.refused.insert(capability, decider);
                continue;
            }
            grants.granted.insert(capability, decider);
            fn rule_params(r: &Rule, capability: Capability) -> Option<&dyn Params> {
                r.params.get(&capability).map(|p| &**p)
            }
            let narrowed = kind.narrow(Narrowing {
                declared: declared.params(capability),
                granting_rule: rule.and_then(|r| rule_params(r, capability)),
                matching_rules: matching
                    .iter()
                    .filter_map(|(_, r)| rule_params(r, capability))
                    .collect(),
                protected: &self.protected,
            });
            if let Some(grant) = narrowed.grant {
                grants.params.insert(capability, grant);
            }
            grants.withheld.extend(narrowed.withheld);
        }
        let lowest = |f: fn(&Rule) -> Option<u64>| matching.iter().filter_map(|(_, r)| f(r)).min();
        grants.max_memory_mib = lowest(|r| r.max_memory_mib);
        grants.max_timeout_ms = lowest(|r| r.max_timeout_ms);
        grants.max_task_timeout_ms = lowest(|r| r.max_task_timeout_ms);
        grants.tasks = matching.iter().find_map(|(_, r)| r.tasks);
        grants.max_concurrent = matching.iter().filter_map(|(_, r)| r.max_concurrent).min();
        grants.max_fuel = lowest(|r| r.max_fuel);
        grants
    }
}

/// One `[[rule]]`: its own keys, then each capability's.
fn parse_rule(
    text: &str,
    table: Spanned<DeTable<'_>>,
    capabilities: &dyn CapabilitySet,
) -> Result<Rule, String> {
    let span = table.span();
    let mut own = DeTable::new();
    let mut claimed: BTreeMap<Capability, DeTable<'_>> = BTreeMap::new();
    for (key, value) in table.into_inner() {
        let name = key.get_ref().to_string();
        if RULE_KEYS.contains(&name.as_str()) {
            own.insert(key, value);
            continue;
        }
        match capabilities
            .kinds()
            .iter()
            .find(|k| k.rule_keys().contains(&name.as_str()))
        {
            Some(kind) => {
                claimed.entry(kind.id()).or_default().insert(key, value);
            }
            None => {
                return Err(format!(
                    "line {}: unknown field `{name}`",
                    line_of(text, key.span().start)
                ));
            }
        }
    }
    let r: RuleFile = from_toml(Spanned::new(span.clone(), DeValue::Table(own)))
        .map_err(|e| describe_toml_error(text, &e))?;
    let line = line_of(text, r.plugins.span().start);
    let plugins = r.plugins.into_inner();
    if plugins.is_empty() {
        return Err(format!("line {line}: `plugins` must not be empty"));
    }
    let tasks = match &r.tasks {
        None => None,
        Some(value) => Some(TaskSupport::parse(value.get_ref()).ok_or_else(|| {
            format!(
                "line {}: `tasks` is `{}`; expected forbidden, optional or required",
                line_of(text, value.span().start),
                value.get_ref()
            )
        })?),
    };
    let grant = resolve_names(text, r.grant, capabilities)?;
    let deny = resolve_names(text, r.deny, capabilities)?;
    if let Some(c) = grant.iter().find(|c| deny.contains(c)) {
        return Err(format!(
            "line {line}: capability `{c}` is both granted and denied by the same rule"
        ));
    }
    if r.max_memory_mib == Some(0)
        || r.max_timeout_ms == Some(0)
        || r.max_task_timeout_ms == Some(0)
        || r.max_concurrent == Some(0)
        || r.max_fuel == Some(0)
    {
        return Err(format!(
            "line {line}: a ceiling or quota must be at least 1"
        ));
    }
    let mut params = BTreeMap::new();
    for kind in capabilities.kinds() {
        let keys = claimed.remove(&kind.id()).unwrap_or_default();
        let parsed = kind
            .rule(
                Spanned::new(span.clone(), DeValue::Table(keys)),
                grant.contains(&kind.id()),
            )
            .map_err(|problem| match problem {
                TomlProblem::Toml(e) => describe_toml_error(text, &e),
                TomlProblem::Message(m) => format!("line {line}: {m}"),
            })?;
        if let Some(p) = parsed {
            params.insert(kind.id(), p);
        }
    }
    Ok(Rule {
        plugins,
        line,
        grant,
        deny,
        max_memory_mib: r.max_memory_mib,
        max_timeout_ms: r.max_timeout_ms,
        max_task_timeout_ms: r.max_task_timeout_ms,
        max_concurrent: r.max_concurrent,
        max_fuel: r.max_fuel,
        tasks,
        params,
    })
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
                NeedsRule("files, env, http and secrets".into())
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

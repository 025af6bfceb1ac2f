//! What the policy grants one plugin: the evaluation of the rules that
//! match it, who decided each capability, and the ceilings on its limits.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::{Caller, DefaultGrant, Policy, Rule, glob_matches};
use crate::capability::{Capability, Narrowing, Params, ParamsRef, same_params};
use crate::limits::PluginLimits;
use crate::manifest::ManifestCapabilities;
use crate::tool::TaskSupport;

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
/// for messages (`files, env, http, secrets and sql`).
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
    /// Refused capabilities that a rule grants to other callers, with which
    /// rule and whom it is for.
    pub not_for_caller: BTreeMap<Capability, String>,
}

impl Grants {
    /// What the granted capabilities reach, one line each (`keyvalue`,
    /// `http: origins: https://api.example.com`): what the operator
    /// consents to.
    pub fn reach(&self, capabilities: &dyn crate::capability::CapabilitySet) -> Vec<String> {
        let mut lines = Vec::new();
        for c in self.granted.keys() {
            let described = capabilities
                .kind_of(*c)
                .map(|kind| kind.describe(self.params.get(c).map(|p| &**p)))
                .unwrap_or_default();
            if described.is_empty() {
                lines.push(c.to_string());
            }
            lines.extend(described.into_iter().map(|line| format!("{c}: {line}")));
        }
        lines
    }
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
            && self.not_for_caller == other.not_for_caller
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
        if let Some(other_callers) = self.not_for_caller.get(&capability) {
            return format!(
                "the `{capability}` capability is not granted to this caller: {other_callers}"
            );
        }
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

impl Policy {
    /// The declared capabilities some caller of `plugin` may be granted:
    /// the ones to link. For each, the first rule for every caller that
    /// names it decides, unless a rule for some callers grants it first.
    pub fn grantable(&self, plugin: &str, declared: &ManifestCapabilities) -> Vec<Capability> {
        declared
            .declared()
            .filter(|capability| {
                let Some(kind) = self.capabilities.kind_of(*capability) else {
                    return false;
                };
                for rule in self
                    .rules
                    .iter()
                    .filter(|r| glob_matches(&r.plugins, plugin))
                {
                    if rule.grant.contains(capability) {
                        return true;
                    }
                    if rule.audience.is_none() && rule.deny.contains(capability) {
                        return false;
                    }
                }
                self.default == DefaultGrant::GrantDeclared && kind.granted_by_default()
            })
            .collect()
    }

    /// What the policy grants `plugin`, which declares `declared`, for a
    /// caller with every role.
    pub fn evaluate(&self, plugin: &str, declared: &ManifestCapabilities) -> Grants {
        self.evaluate_for(plugin, declared, &Caller::EveryRole)
    }

    /// What the policy grants `plugin`, which declares `declared`, when
    /// `caller` calls it: the rules for other callers are passed over.
    pub fn evaluate_for(
        &self,
        plugin: &str,
        declared: &ManifestCapabilities,
        caller: &Caller,
    ) -> Grants {
        let for_plugin: Vec<(usize, &Rule)> = self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| glob_matches(&r.plugins, plugin))
            .collect();
        let matching: Vec<(usize, &Rule)> = for_plugin
            .iter()
            .copied()
            .filter(|(_, r)| r.audience.as_ref().is_none_or(|a| a.admits(caller)))
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
                // A rule for other callers that would grant it: say so.
                if let Some((i, r, audience)) = for_plugin.iter().find_map(|(i, r)| {
                    let audience = r.audience.as_ref()?;
                    (!audience.admits(caller) && r.grant.contains(&capability))
                        .then_some((i, r, audience))
                }) {
                    grants.not_for_caller.insert(
                        capability,
                        format!(
                            "policy rule {} (line {}) grants it only to {audience}, and the \
                             caller is {caller}",
                            i + 1,
                            r.line
                        ),
                    );
                }
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

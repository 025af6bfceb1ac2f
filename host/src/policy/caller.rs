//! Rules for some callers: a rule's audience (the roles and principals it
//! is written for), the caller a grant is evaluated for, and a plugin's
//! grants per caller, evaluated once per caller and plugin version.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use super::{Grants, Policy, Rule, glob_matches};
use crate::manifest::ManifestCapabilities;

/// Callers whose grants one plugin version keeps; beyond, the cache starts
/// over (a flood of principals costs evaluations, never memory).
const CACHED_CALLERS: usize = 1024;

/// What the policy grants one plugin, per caller. A plugin version is
/// replaced when the rules that match it change, so the cache never
/// outlives the rules it was evaluated under.
pub struct CallerGrants {
    policy: Arc<Policy>,
    plugin: String,
    declared: ManifestCapabilities,
    every_role: Arc<Grants>,
    /// `None` when no rule matching the plugin names callers: every
    /// caller has `every_role`.
    by_caller: Option<Mutex<HashMap<Caller, Arc<Grants>>>>,
}

impl fmt::Debug for CallerGrants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallerGrants")
            .field("plugin", &self.plugin)
            .field("depends_on_caller", &self.depends_on_caller())
            .finish_non_exhaustive()
    }
}

impl CallerGrants {
    /// `plugin`'s grants under `policy`; `every_role` is what a caller
    /// with every role gets (its evaluation, done at load).
    pub fn new(
        policy: Arc<Policy>,
        plugin: &str,
        declared: &ManifestCapabilities,
        every_role: Arc<Grants>,
    ) -> Self {
        let depends = matching(&policy, plugin).any(|r| r.audience.is_some());
        Self {
            policy,
            plugin: plugin.to_string(),
            declared: declared.clone(),
            every_role,
            by_caller: depends.then(|| Mutex::new(HashMap::new())),
        }
    }

    /// Whether some rule makes the grants differ between callers.
    pub fn depends_on_caller(&self) -> bool {
        self.by_caller.is_some()
    }

    /// What `caller` is granted.
    pub fn for_caller(&self, caller: &Caller) -> Arc<Grants> {
        let Some(cache) = &self.by_caller else {
            return self.every_role.clone();
        };
        if *caller == Caller::EveryRole {
            return self.every_role.clone();
        }
        let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(grants) = cache.get(caller) {
            return grants.clone();
        }
        if cache.len() >= CACHED_CALLERS {
            cache.clear();
        }
        let grants = Arc::new(
            self.policy
                .evaluate_for(&self.plugin, &self.declared, caller),
        );
        cache.insert(caller.clone(), grants.clone());
        grants
    }

    /// Whether `policy` has the same rules for this plugin (and the same
    /// default) as the one these grants were evaluated under.
    pub fn same_rules_as(&self, policy: &Policy) -> bool {
        let rules = |p: &Policy| -> Vec<Rule> {
            matching(p, &self.plugin)
                .map(|r| Rule {
                    line: 0,
                    ..r.clone()
                })
                .collect()
        };
        self.policy.default == policy.default
            && self.policy.protected == policy.protected
            && rules(&self.policy) == rules(policy)
    }
}

fn matching<'a>(policy: &'a Policy, plugin: &'a str) -> impl Iterator<Item = &'a Rule> + 'a {
    policy
        .rules
        .iter()
        .filter(move |r| glob_matches(&r.plugins, plugin))
}

/// Whom a rule applies to: callers holding one of `roles`, and the
/// principals named in `principals`. A rule without an audience applies to
/// every caller.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Audience {
    pub roles: Vec<String>,
    pub principals: Vec<String>,
}

impl Audience {
    /// Whether a rule written for this audience applies to `caller`.
    pub fn admits(&self, caller: &Caller) -> bool {
        match caller {
            // Holds every role, but is no principal a rule could name.
            Caller::EveryRole => !self.roles.is_empty(),
            Caller::Principal { id, roles } => {
                self.principals.iter().any(|p| p == id)
                    || self.roles.iter().any(|r| roles.contains(r))
            }
        }
    }
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |kind: &str, names: &[String]| {
            let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            match quoted.len() {
                0 => None,
                1 => Some(format!("{kind} {}", quoted[0])),
                _ => Some(format!("{kind}s {}", quoted.join(", "))),
            }
        };
        let parts: Vec<String> = [
            list("role", &self.roles),
            list("principal", &self.principals),
        ]
        .into_iter()
        .flatten()
        .collect();
        f.write_str(&parts.join(" or "))
    }
}

/// The caller a grant is evaluated for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    /// No identity to narrow by (stdio by default, or HTTP without an
    /// auth file): holds every role, and is none of the named principals.
    EveryRole,
    /// An authenticated principal and its roles.
    Principal { id: String, roles: Vec<String> },
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Caller::EveryRole => f.write_str("a caller with every role"),
            Caller::Principal { id, roles } if roles.is_empty() => {
                write!(f, "principal `{id}`, which holds no role")
            }
            Caller::Principal { id, roles } => {
                write!(f, "principal `{id}` (roles: {})", roles.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::http::HTTP;
    use crate::capabilities::{roots::ROOTS, sampling::SAMPLING};
    use crate::capability::testing::{declaring, policy};

    fn principal(id: &str, roles: &[&str]) -> Caller {
        Caller::Principal {
            id: id.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        }
    }

    const ROLE_GATED: &str = "default = \"deny\"\n\n\
        [[rule]]\nplugins = \"crm\"\nroles = [\"admin\"]\nprincipals = [\"bob\"]\ngrant = [\"sampling\"]\n\n\
        [[rule]]\nplugins = \"crm\"\ngrant = [\"roots\"]\n";

    #[test]
    fn a_rule_for_some_roles_grants_only_to_callers_holding_one() {
        let policy = policy(ROLE_GATED).unwrap();
        let d = declaring("[capabilities]\noptional = [\"sampling\", \"roots\"]\n");
        let admin = policy.evaluate_for("crm", &d, &principal("ada", &["admin"]));
        assert!(admin.allows(SAMPLING) && admin.allows(ROOTS));
        let bob = policy.evaluate_for("crm", &d, &principal("bob", &[]));
        assert!(bob.allows(SAMPLING), "named principals are admitted too");

        let reader = policy.evaluate_for("crm", &d, &principal("eve", &["reader"]));
        assert!(reader.allows(ROOTS));
        assert!(!reader.allows(SAMPLING));
        let denial = reader.denial(SAMPLING);
        assert!(
            denial.contains(
                "policy rule 1 (line 4) grants it only to role `admin` or principal `bob`"
            ) && denial.contains("principal `eve` (roles: reader)"),
            "{denial}"
        );
        // Without an identity, every role is held.
        assert!(policy.evaluate("crm", &d).allows(SAMPLING));
        // Another plugin is not reached by the rule at all.
        let other = policy.evaluate_for("other", &d, &principal("ada", &["admin"]));
        assert!(!other.allows(SAMPLING) && !other.allows(ROOTS));
    }

    #[test]
    fn a_rule_for_named_principals_is_not_for_a_caller_without_identity() {
        let policy = policy(
            "default = \"deny\"\n[[rule]]\nplugins = \"*\"\nprincipals = [\"deploy\"]\ngrant = [\"sampling\"]\n",
        )
        .unwrap();
        let d = declaring("[capabilities]\noptional = [\"sampling\"]\n");
        assert!(!policy.evaluate("p", &d).allows(SAMPLING));
        assert!(
            !policy
                .evaluate_for("p", &d, &principal("depl", &["deploy"]))
                .allows(SAMPLING)
        );
        assert!(
            policy
                .evaluate_for("p", &d, &principal("deploy", &[]))
                .allows(SAMPLING)
        );
    }

    #[test]
    fn what_a_grant_reaches_differs_per_role() {
        let policy = policy(
            "[[rule]]\nplugins = \"p\"\nroles = [\"ops\"]\ngrant = [\"http\"]\n\
             http-allow = [\"https://ops.example\", \"https://public.example\"]\n\n\
             [[rule]]\nplugins = \"p\"\ngrant = [\"http\"]\nhttp-allow = [\"https://public.example\"]\n",
        )
        .unwrap();
        let d = declaring(
            "[capabilities]\noptional = [\"http\"]\n\
             [capabilities.http]\nallow = [\"https://ops.example\", \"https://public.example\"]\n",
        );
        let reach = |caller: &Caller| {
            let grants = policy.evaluate_for("p", &d, caller);
            assert!(grants.allows(HTTP));
            policy
                .capabilities()
                .kind_of(HTTP)
                .unwrap()
                .describe(grants.params.get(&HTTP).map(|p| &**p))
                .join("\n")
        };
        let ops = reach(&principal("o", &["ops"]));
        let reader = reach(&principal("r", &["reader"]));
        assert!(ops.contains("ops.example"), "{ops}");
        assert!(!reader.contains("ops.example"), "{reader}");
        assert!(reader.contains("public.example"), "{reader}");
    }

    #[test]
    fn what_could_be_granted_to_some_caller_is_grantable() {
        let policy = policy(
            "default = \"deny\"\n\
             [[rule]]\nplugins = \"p\"\nroles = [\"a\"]\ndeny = [\"roots\"]\n\n\
             [[rule]]\nplugins = \"p\"\ngrant = [\"roots\"]\n\n\
             [[rule]]\nplugins = \"p\"\ndeny = [\"sampling\"]\n\n\
             [[rule]]\nplugins = \"p\"\nroles = [\"a\"]\ngrant = [\"sampling\", \"elicitation\"]\n",
        )
        .unwrap();
        let d =
            declaring("[capabilities]\noptional = [\"roots\", \"sampling\", \"elicitation\"]\n");
        let names: Vec<String> = policy
            .grantable("p", &d)
            .into_iter()
            .map(|c| c.to_string())
            .collect();
        // A deny for every caller stops a later grant for some.
        assert_eq!(names, ["roots", "elicitation"]);
        assert!(
            !policy
                .evaluate_for("p", &d, &principal("x", &["a"]))
                .allows(ROOTS)
        );
    }

    #[test]
    fn a_rule_for_some_callers_sets_no_limits_and_names_someone() {
        for (rule, problem) in [
            (
                "roles = [\"a\"]\nmax-fuel = 10\n",
                "`max-fuel` is set on a rule for some callers (role `a`)",
            ),
            (
                "principals = [\"p\"]\ntasks = \"required\"\n",
                "`tasks` is set on a rule for some callers (principal `p`)",
            ),
            ("roles = []\nprincipals = []\n", "name no caller"),
        ] {
            let err = policy(&format!("[[rule]]\nplugins = \"*\"\n{rule}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("line 2") && err.contains(problem), "{err}");
        }
    }

    #[test]
    fn grants_are_evaluated_once_per_caller_and_only_when_rules_differ() {
        let scoped = Arc::new(policy(ROLE_GATED).unwrap());
        let d = declaring("[capabilities]\noptional = [\"sampling\", \"roots\"]\n");
        let every = Arc::new(scoped.evaluate("crm", &d));
        let by_caller = CallerGrants::new(scoped.clone(), "crm", &d, every.clone());
        assert!(by_caller.depends_on_caller());
        let eve = principal("eve", &["reader"]);
        let first = by_caller.for_caller(&eve);
        assert!(Arc::ptr_eq(&first, &by_caller.for_caller(&eve)), "kept");
        assert!(!first.allows(SAMPLING));
        assert!(Arc::ptr_eq(
            &every,
            &by_caller.for_caller(&Caller::EveryRole)
        ));
        // A plugin no rule for some callers matches: one answer for all.
        let plain = CallerGrants::new(scoped.clone(), "other", &d, every.clone());
        assert!(!plain.depends_on_caller());
        assert!(Arc::ptr_eq(&every, &plain.for_caller(&eve)));
        // Moving a rule's line changes nothing; changing its roles does.
        assert!(by_caller.same_rules_as(&policy(&format!("\n\n{ROLE_GATED}")).unwrap()));
        assert!(!by_caller.same_rules_as(&policy(&ROLE_GATED.replace("admin", "ops")).unwrap()));
    }
}

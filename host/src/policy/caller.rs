//! Rules for some callers: a rule's audience (the roles and principals it
//! is written for) and the caller a grant is evaluated for.

use std::fmt;

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
}

#[cfg(test)]
mod enforcement {
    use crate::capability::testing::policy;

    #[test]
    fn a_host_that_cannot_enforce_rules_for_some_callers_refuses_them() {
        let scoped =
            policy("[[rule]]\nplugins = \"*\"\nroles = [\"admin\"]\ngrant = [\"http\"]\n").unwrap();
        let err = scoped.enforceable().unwrap_err().to_string();
        assert!(
            err.contains("line 2") && err.contains("per caller"),
            "{err}"
        );
        let plain = policy("[[rule]]\nplugins = \"*\"\ngrant = [\"http\"]\n").unwrap();
        assert!(plain.enforceable().is_ok());
    }
}

//! The `env` capability: named host environment variables a plugin sees
//! through WASI's environment. It owns the manifest section
//! (`[capabilities.env]`, `variables`), the policy key `env-variables` (a
//! rule granting `env` must name the variables it allows), the narrowing
//! (the host's own `MCP_WASM_HOST_*` variables are never granted), and
//! setting the granted variables that exist in a call's WASI context.
//! Never granted by the policy's default.

use std::sync::Arc;

use serde::Deserialize;
use wasmtime_wasi::WasiCtxBuilder;

use super::HostCapability;
use crate::capability::{
    Capability, CapabilityKind, Narrowed, Narrowing, Params, ParamsRef, Toml, TomlProblem,
    downcast, from_toml,
};

/// Named host environment variables, through WASI's environment.
pub const ENV: Capability = Capability::named("env");

/// The prefix of the host's own environment variables, never visible to a
/// plugin.
pub const HOST_VARIABLE_PREFIX: &str = "MCP_WASM_HOST_";

/// `[capabilities.env]`: host environment variables the plugin sees.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EnvParams {
    pub variables: Vec<String>,
}

/// A rule's `env-variables`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct EnvRule {
    env_variables: Option<Vec<String>>,
}

/// The variables granted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnvGrant {
    pub variables: Vec<String>,
}

/// The `env` capability.
pub struct Env;

impl CapabilityKind for Env {
    fn id(&self) -> Capability {
        ENV
    }

    fn interfaces(&self) -> &'static [&'static str] {
        // Data for WASI's environment, which is always linked.
        &[]
    }

    fn granted_by_default(&self) -> bool {
        false
    }

    fn section_lists(&self) -> Option<&'static str> {
        Some("variable")
    }

    fn declaration(&self, section: Toml<'_>) -> Result<ParamsRef, TomlProblem> {
        let env: EnvParams = from_toml(section)?;
        if let Some(v) = env
            .variables
            .iter()
            .find(|v| v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        {
            return Err(format!("capabilities.env.variables: `{v}` is not a variable name").into());
        }
        Ok(Arc::new(env))
    }

    fn rule_keys(&self) -> &'static [&'static str] {
        &["env-variables"]
    }

    fn rule(&self, keys: Toml<'_>, grants_it: bool) -> Result<Option<ParamsRef>, TomlProblem> {
        let rule: EnvRule = from_toml(keys)?;
        if rule.env_variables.is_none() {
            if grants_it {
                return Err("a rule that grants `env` must say what it allows with \
                            `env-variables` (an empty list allows nothing)"
                    .into());
            }
            return Ok(None);
        }
        Ok(Some(Arc::new(rule)))
    }

    fn narrow(&self, narrowing: Narrowing<'_>) -> Narrowed {
        let allowed = narrowing
            .granting_rule
            .and_then(downcast::<EnvRule>)
            .and_then(|r| r.env_variables.as_deref())
            .unwrap_or_default();
        let declared = narrowing.declared.and_then(downcast::<EnvParams>);
        let mut grant = EnvGrant::default();
        let mut withheld = Vec::new();
        for name in declared.iter().flat_map(|e| &e.variables) {
            if name.starts_with(HOST_VARIABLE_PREFIX) {
                withheld.push(format!(
                    "env: `{name}` is one of the host's own variables \
                     ({HOST_VARIABLE_PREFIX}*), never visible to plugins"
                ));
            } else if allowed.contains(name) {
                grant.variables.push(name.clone());
            } else {
                withheld.push(format!("env: `{name}` is not in the rule's env-variables"));
            }
        }
        Narrowed {
            grant: Some(Arc::new(grant)),
            withheld,
        }
    }

    fn describe(&self, grant: Option<&dyn Params>) -> Vec<String> {
        let variables = grant
            .and_then(downcast::<EnvGrant>)
            .map(|g| g.variables.clone())
            .unwrap_or_default();
        vec![format!("variables: {}", super::listed(&variables))]
    }

    fn scope(&self, grant: Option<&dyn Params>) -> serde_json::Value {
        let variables = grant
            .and_then(downcast::<EnvGrant>)
            .map(|g| g.variables.clone())
            .unwrap_or_default();
        serde_json::json!({ "variables": variables })
    }
}

impl HostCapability for Env {
    fn configure_wasi(&self, _plugin: &str, grant: Option<&dyn Params>, wasi: &mut WasiCtxBuilder) {
        for name in grant
            .and_then(downcast::<EnvGrant>)
            .iter()
            .flat_map(|g| &g.variables)
        {
            if name.starts_with(HOST_VARIABLE_PREFIX) {
                continue;
            }
            if let Ok(value) = std::env::var(name) {
                wasi.env(name, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::testing::{declaring, no_policy, policy};

    fn granted(g: &crate::policy::Grants) -> Vec<String> {
        g.params::<EnvGrant>(ENV)
            .map(|e| e.variables.clone())
            .unwrap_or_default()
    }

    #[test]
    fn env_needs_a_rule_that_may_narrow_it() {
        let d = declaring(
            "[capabilities]\noptional = [\"env\"]\n[capabilities.env]\nvariables = [\"LANG\", \"SECRET\"]\n",
        );
        let none = no_policy().evaluate("p", &d);
        assert!(!none.allows(ENV) && granted(&none).is_empty());
        let g =
            policy("[[rule]]\nplugins = \"p\"\ngrant = [\"env\"]\nenv-variables = [\"LANG\"]\n")
                .unwrap()
                .evaluate("p", &d);
        assert_eq!(granted(&g), vec!["LANG".to_string()]);
        assert!(
            g.withheld
                .iter()
                .any(|w| w.contains("env: `SECRET` is not in the rule's env-variables")),
            "{:?}",
            g.withheld
        );
        let err = policy("[[rule]]\nplugins = \"p\"\ngrant = [\"env\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "line 2: a rule that grants `env` must say what it allows with `env-variables`"
            ),
            "{err}"
        );
    }

    #[test]
    fn the_hosts_own_variables_are_never_granted() {
        let d = declaring(
            "[capabilities]\noptional = [\"env\"]\n[capabilities.env]\nvariables = [\"MCP_WASM_HOST_SECRET_API\", \"LANG\"]\n",
        );
        let g = policy(
            "[[rule]]\nplugins = \"p\"\ngrant = [\"env\"]\nenv-variables = [\"MCP_WASM_HOST_SECRET_API\", \"LANG\"]\n",
        )
        .unwrap()
        .evaluate("p", &d);
        assert_eq!(granted(&g), vec!["LANG".to_string()]);
        assert!(
            g.withheld[0].contains("host's own variables"),
            "{:?}",
            g.withheld
        );
    }
}

//! Secrets: values the operator gives the host by name, from a secrets file
//! (`--secrets-file`, TOML `name = "value"` lines) or from the environment
//! (`MCP_WASM_HOST_SECRET_<NAME>`, which wins). The file may also give a
//! secret a value per principal (`[principal.<id>]` tables): a caller then
//! gets its own value, and the shared one only when the granting rule allows
//! falling back to it (`secret-fallback`, `http-credential-fallback`); a
//! caller with neither is denied before anything leaves the host. The
//! caller's own bearer token is never a secret. Plugins reach them two ways:
//! the `secrets` capability (`mcp:plugin/secrets`) reads the names the
//! manifest declares in `[capabilities.secrets]` and a policy rule grants;
//! and credentials bound in `[capabilities.http]`, which the host adds to
//! outbound requests without the guest ever seeing them. A value never
//! appears in the host's logs: [`SecretValue`] prints as `[redacted]`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use wasmtime::component::{HasSelf, Linker};

use super::HostCapability;
use super::client_requests::FacadeResult;
use super::services::{Opening, Setting, SettingValues};
use crate::bindings::FacadeFailure;
use crate::bindings::{secrets, types};
use crate::capability::{
    Capability, CapabilityKind, Narrowed, Narrowing, Params, ParamsRef, Toml, TomlProblem,
    downcast, from_toml,
};
use crate::runtime::{HostServices, HostState, PluginCounters};

/// Named secrets of the operator (`mcp:plugin/secrets`).
pub const SECRETS: Capability = Capability::named("secrets");

/// A rule's `secret-names` (the names a plugin may read) and
/// `secret-fallback` (whether a caller without its own value of a
/// per-caller secret gets the shared one).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct SecretsRule {
    secret_names: Option<Vec<String>>,
    secret_fallback: Option<bool>,
}

/// The secrets granted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SecretsGrant {
    pub names: Vec<String>,
    /// Callers without their own value of a per-caller secret get the
    /// shared one.
    pub fallback: bool,
}

/// The `secrets` capability.
pub struct Secrets;

impl CapabilityKind for Secrets {
    fn id(&self) -> Capability {
        SECRETS
    }

    fn interfaces(&self) -> &'static [&'static str] {
        &["mcp:plugin/secrets"]
    }

    fn granted_by_default(&self) -> bool {
        false
    }

    fn section_lists(&self) -> Option<&'static str> {
        Some("secret")
    }

    fn declaration(&self, section: Toml<'_>) -> Result<ParamsRef, TomlProblem> {
        let params: SecretsParams = from_toml(section)?;
        params.check()?;
        Ok(Arc::new(params))
    }

    fn rule_keys(&self) -> &'static [&'static str] {
        &["secret-names", "secret-fallback"]
    }

    fn rule(&self, keys: Toml<'_>, _grants_it: bool) -> Result<Option<ParamsRef>, TomlProblem> {
        let rule: SecretsRule = from_toml(keys)?;
        Ok((rule != SecretsRule::default()).then(|| Arc::new(rule) as ParamsRef))
    }

    fn narrow(&self, narrowing: Narrowing<'_>) -> Narrowed {
        let rule = narrowing.granting_rule.and_then(downcast::<SecretsRule>);
        let allowed = rule.and_then(|r| r.secret_names.as_ref());
        let names = narrowing
            .declared
            .and_then(downcast::<SecretsParams>)
            .iter()
            .flat_map(|s| &s.names)
            .filter(|n| allowed.is_none_or(|a| a.contains(n)))
            .cloned()
            .collect();
        Narrowed {
            grant: Some(Arc::new(SecretsGrant {
                names,
                fallback: rule.is_some_and(|r| r.secret_fallback == Some(true)),
            })),
            withheld: Vec::new(),
        }
    }

    fn describe(&self, grant: Option<&dyn Params>) -> Vec<String> {
        let names = grant
            .and_then(downcast::<SecretsGrant>)
            .map(|g| g.names.clone())
            .unwrap_or_default();
        vec![format!("names: {}", super::listed(&names))]
    }

    fn scope(&self, grant: Option<&dyn Params>) -> serde_json::Value {
        let grant = grant
            .and_then(downcast::<SecretsGrant>)
            .cloned()
            .unwrap_or_default();
        serde_json::json!({ "names": grant.names, "fallback": grant.fallback })
    }
}

impl HostCapability for Secrets {
    fn add_to_linker(&self, linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        secrets::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)
    }

    fn settings(&self) -> &'static [Setting] {
        &[Setting {
            name: SECRETS_FILE,
            env: "MCP_WASM_HOST_SECRETS_FILE",
            value_name: "FILE",
            help: "Secrets for plugins (TOML, `name = \"value\"` lines), read by plugins \
                   granted `secrets` or sent as the HTTP credentials their manifests bind. \
                   `MCP_WASM_HOST_SECRET_<NAME>` variables override it. An unreadable or \
                   invalid file stops the host.",
            host_file: true,
        }]
    }

    /// The [`SecretStore`] of `--secrets-file` and the environment, also
    /// read by `http` for the credentials it injects.
    fn open<'a>(
        &'a self,
        settings: &'a SettingValues,
        services: &'a mut HostServices,
    ) -> Opening<'a> {
        Box::pin(async move {
            services.insert(SecretStore::load(
                settings.get(SECRETS_FILE).map(Path::new),
            )?);
            Ok(())
        })
    }
}

/// The setting naming the secrets file.
const SECRETS_FILE: &str = "secrets-file";

/// The secrets file's table of values per principal.
const PER_PRINCIPAL: &str = "principal";

/// One `name = "value"` line of the secrets file.
fn secret_entry(name: String, value: toml::Value) -> Result<(String, SecretValue), String> {
    if !is_secret_name(&name) {
        return Err(secret_name_error(&name));
    }
    match value {
        toml::Value::String(value) => Ok((name, SecretValue(value))),
        _ => Err(format!("secret `{name}` must be a string")),
    }
}

/// The prefix of environment variables holding secrets.
pub const ENV_PREFIX: &str = "MCP_WASM_HOST_SECRET_";

/// `[capabilities.secrets]`: the secrets the plugin reads itself.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SecretsParams {
    pub names: Vec<String>,
}

impl SecretsParams {
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.names.is_empty() {
            return Err("capabilities.secrets.names lists no secret".into());
        }
        match self.names.iter().find(|n| !is_secret_name(n)) {
            Some(n) => Err(format!(
                "capabilities.secrets.names: {}",
                secret_name_error(n)
            )),
            None => Ok(()),
        }
    }
}

/// 1-64 of a-z, 0-9, `-`, `_`, starting with a letter.
pub fn is_secret_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

pub(crate) fn secret_name_error(name: &str) -> String {
    format!("`{name}` is not a secret name (1-64 of a-z, 0-9, `-`, `_`, starting with a letter)")
}

/// The environment variable that holds secret `name`.
pub fn env_var(name: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        name.to_ascii_uppercase().replace('-', "_")
    )
}

/// A secret's value. Its `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Why the secrets file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("cannot read the secrets file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid secrets file {}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

/// Where secret values come from.
#[derive(Debug, Default)]
pub struct SecretStore {
    from_file: BTreeMap<String, SecretValue>,
    /// Values per principal id, then secret name.
    per_principal: BTreeMap<String, BTreeMap<String, SecretValue>>,
}

/// A secret's value as one caller gets it.
#[derive(Debug, PartialEq)]
pub enum CallerSecret {
    Value(SecretValue),
    /// The operator set no value the caller could get.
    NotSet,
    /// The secret has values per caller, none for this one, and falling
    /// back to the shared value is not allowed (the text says why).
    NotForCaller(String),
}

impl SecretStore {
    /// The secrets of `file` (if any), with the environment consulted on
    /// every lookup. An unreadable or invalid file is an error: the host
    /// does not start without the secrets the operator meant to give.
    pub fn load(file: Option<&Path>) -> Result<Self, SecretsError> {
        let Some(path) = file else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path).map_err(|source| SecretsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        warn_if_readable_by_others(path);
        Self::parse(&text).map_err(|message| SecretsError::Invalid {
            path: path.to_path_buf(),
            message,
        })
    }

    fn parse(text: &str) -> Result<Self, String> {
        let mut table: BTreeMap<String, toml::Value> =
            toml::from_str(text).map_err(|e| crate::manifest::describe_toml_error(text, &e))?;
        let mut per_principal = BTreeMap::new();
        match table.remove(PER_PRINCIPAL) {
            None => {}
            Some(toml::Value::Table(principals)) => {
                for (id, values) in principals {
                    let toml::Value::Table(values) = values else {
                        return Err(format!(
                            "[{PER_PRINCIPAL}.{id}] must be a table of `name = \"value\"` lines"
                        ));
                    };
                    let values = values
                        .into_iter()
                        .map(|(name, value)| {
                            secret_entry(name, value)
                                .map_err(|e| format!("[{PER_PRINCIPAL}.{id}]: {e}"))
                        })
                        .collect::<Result<_, _>>()?;
                    per_principal.insert(id, values);
                }
            }
            Some(_) => {
                return Err(format!(
                    "`{PER_PRINCIPAL}` holds values per principal: [{PER_PRINCIPAL}.<id>] tables"
                ));
            }
        }
        let from_file = table
            .into_iter()
            .map(|(name, value)| secret_entry(name, value))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            from_file,
            per_principal,
        })
    }

    /// The value of secret `name` for the caller `principal` (`None`: a
    /// caller without identity). `fallback`: a caller without its own value
    /// of a per-caller secret gets the shared one.
    pub fn for_caller(&self, name: &str, principal: Option<&str>, fallback: bool) -> CallerSecret {
        if let Some(value) = principal.and_then(|id| {
            self.per_principal
                .get(id)
                .and_then(|values| values.get(name))
        }) {
            return CallerSecret::Value(value.clone());
        }
        let per_caller = self.per_principal.values().any(|v| v.contains_key(name));
        if per_caller && !fallback {
            let who = principal.map_or("a caller without identity".to_string(), |id| {
                format!("principal `{id}`")
            });
            return CallerSecret::NotForCaller(format!(
                "secret `{name}` has a value per caller and none for {who}, and the policy does \
                 not let it fall back to the shared value"
            ));
        }
        self.get(name)
            .map_or(CallerSecret::NotSet, CallerSecret::Value)
    }

    /// The value of secret `name`: its environment variable, else the file.
    pub fn get(&self, name: &str) -> Option<SecretValue> {
        std::env::var(env_var(name))
            .ok()
            .map(SecretValue)
            .or_else(|| self.from_file.get(name).cloned())
    }

    /// Where the operator sets `name`, for error messages.
    pub fn where_to_set(name: &str) -> String {
        format!("set {} or add `{name}` to the secrets file", env_var(name))
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            "the secrets file {} is readable by other users (chmod 600 it)",
            path.display()
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &Path) {}

impl secrets::Host for HostState {
    async fn get(&mut self, name: String) -> FacadeResult<String> {
        self.check_grant(SECRETS)?;
        let granted = self
            .grants
            .params::<SecretsGrant>(SECRETS)
            .map_or(&[][..], |g| g.names.as_slice());
        if !granted.contains(&name) {
            PluginCounters::bump(&self.counters.denials);
            return Err(FacadeFailure::Guest(types::FacadeError::Denied(format!(
                "secret `{name}` is not among the secrets granted to the plugin ({})",
                granted.join(", ")
            ))));
        }
        let fallback = self
            .grants
            .params::<SecretsGrant>(SECRETS)
            .is_some_and(|g| g.fallback);
        let principal = self.call.access.principal().map(|p| p.id.clone());
        match self
            .service::<SecretStore>()?
            .for_caller(&name, principal.as_deref(), fallback)
        {
            CallerSecret::Value(value) => Ok(value.expose().to_string()),
            CallerSecret::NotForCaller(why) => {
                PluginCounters::bump(&self.counters.denials);
                Err(FacadeFailure::Guest(types::FacadeError::Denied(why)))
            }
            CallerSecret::NotSet => Err(FacadeFailure::Guest(types::FacadeError::Failed(format!(
                "the operator has not set secret `{name}` ({})",
                SecretStore::where_to_set(&name)
            )))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_from_the_environment_then_the_file() {
        let store = SecretStore::parse("api-token = \"from-file\"\nother = \"x\"\n").unwrap();
        assert_eq!(store.get("api-token").unwrap().expose(), "from-file");
        assert_eq!(env_var("api-token"), "MCP_WASM_HOST_SECRET_API_TOKEN");
        // SAFETY: this test is the only one touching this variable.
        unsafe { std::env::set_var("MCP_WASM_HOST_SECRET_OTHER", "from-env") };
        assert_eq!(store.get("other").unwrap().expose(), "from-env");
        assert!(store.get("missing").is_none());
        assert_eq!(format!("{:?}", store.get("other").unwrap()), "[redacted]");
        assert_eq!(store.get("other").unwrap().to_string(), "[redacted]");
    }

    #[test]
    fn a_per_caller_secret_goes_only_to_its_caller() {
        let store = SecretStore::parse(
            "crm-api = \"shared\"\nplain = \"p\"\n\
             [principal.ann]\ncrm-api = \"ann's\"\n[principal.rex]\ncrm-api = \"rex's\"\n",
        )
        .unwrap();
        let value = |name, who, fallback| match store.for_caller(name, who, fallback) {
            CallerSecret::Value(v) => Ok(v.expose().to_string()),
            other => Err(other),
        };
        assert_eq!(value("crm-api", Some("ann"), false).unwrap(), "ann's");
        assert_eq!(value("crm-api", Some("rex"), false).unwrap(), "rex's");
        let denied = value("crm-api", Some("gus"), false).unwrap_err();
        assert!(
            matches!(&denied, CallerSecret::NotForCaller(w) if w.contains("none for principal `gus`")),
            "{denied:?}"
        );
        assert!(value("crm-api", None, false).is_err());
        assert_eq!(value("crm-api", Some("gus"), true).unwrap(), "shared");
        // A secret with no per-caller values is shared as before.
        assert_eq!(value("plain", Some("gus"), false).unwrap(), "p");
        assert_eq!(
            store.for_caller("missing", Some("ann"), false),
            CallerSecret::NotSet
        );
        let err = SecretStore::parse("principal = \"x\"").unwrap_err();
        assert!(err.contains("[principal.<id>] tables"), "{err}");
        let err = SecretStore::parse("[principal.ann]\nBad = \"x\"").unwrap_err();
        assert!(
            err.contains("[principal.ann]") && err.contains("`Bad`"),
            "{err}"
        );
    }

    #[test]
    fn bad_files_name_the_problem() {
        let err = SecretStore::parse("Bad = \"x\"").unwrap_err();
        assert!(err.contains("`Bad` is not a secret name"), "{err}");
        let err = SecretStore::parse("n = 1").unwrap_err();
        assert!(err.contains("secret `n` must be a string"), "{err}");
        let err = SecretStore::parse("n = \"x\"\nn = \"y\"").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn secrets_need_a_rule_that_may_narrow_them() {
        use crate::capability::testing::{declaring, no_policy, policy};
        let d = declaring(
            "[capabilities]\noptional = [\"secrets\"]\n[capabilities.secrets]\nnames = [\"a\", \"b\"]\n",
        );
        let none = no_policy().evaluate("p", &d);
        assert!(!none.allows(SECRETS) && none.params::<SecretsGrant>(SECRETS).is_none());
        let g =
            policy("[[rule]]\nplugins = \"p\"\ngrant = [\"secrets\"]\nsecret-names = [\"b\"]\n")
                .unwrap()
                .evaluate("p", &d);
        assert_eq!(
            g.params::<SecretsGrant>(SECRETS).unwrap().names,
            vec!["b".to_string()]
        );
        let all = policy("[[rule]]\nplugins = \"p\"\ngrant = [\"secrets\"]\n")
            .unwrap()
            .evaluate("p", &d);
        assert_eq!(all.params::<SecretsGrant>(SECRETS).unwrap().names.len(), 2);
    }
}

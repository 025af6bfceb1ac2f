//! Secrets: values the operator gives the host by name, from a secrets file
//! (`--secrets-file`, TOML `name = "value"` lines) or from the environment
//! (`MCP_WASM_HOST_SECRET_<NAME>`, which wins). Plugins reach them two ways:
//! the `secrets` capability (`mcp:plugin/secrets`) reads the names the
//! manifest declares in `[capabilities.secrets]` and a policy rule grants;
//! and credentials bound in `[capabilities.http]`, which the host adds to
//! outbound requests without the guest ever seeing them. A value never
//! appears in the host's logs: [`SecretValue`] prints as `[redacted]`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use wasmtime::component::{HasSelf, Linker};

use super::client_requests::FacadeResult;
use crate::bindings::{secrets, types};
use crate::capabilities::Capability;
use crate::runtime::{HostState, PluginCounters};

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    secrets::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)
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
        let table: BTreeMap<String, toml::Value> =
            toml::from_str(text).map_err(|e| crate::manifest::describe_toml_error(text, &e))?;
        let mut from_file = BTreeMap::new();
        for (name, value) in table {
            if !is_secret_name(&name) {
                return Err(secret_name_error(&name));
            }
            let toml::Value::String(value) = value else {
                return Err(format!("secret `{name}` must be a string"));
            };
            from_file.insert(name, SecretValue(value));
        }
        Ok(Self { from_file })
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
        if let Err(denied) = self.check_grant(Capability::Secrets) {
            return Ok(Err(denied));
        }
        if !self.grants.secrets.contains(&name) {
            PluginCounters::bump(&self.counters.denials);
            return Ok(Err(types::FacadeError::Denied(format!(
                "secret `{name}` is not among the secrets granted to the plugin ({})",
                self.grants.secrets.join(", ")
            ))));
        }
        Ok(match self.services().secrets.get(&name) {
            Some(value) => Ok(value.expose().to_string()),
            None => Err(types::FacadeError::Failed(format!(
                "the operator has not set secret `{name}` ({})",
                SecretStore::where_to_set(&name)
            ))),
        })
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
    fn bad_files_name_the_problem() {
        let err = SecretStore::parse("Bad = \"x\"").unwrap_err();
        assert!(err.contains("`Bad` is not a secret name"), "{err}");
        let err = SecretStore::parse("n = 1").unwrap_err();
        assert!(err.contains("secret `n` must be a string"), "{err}");
        let err = SecretStore::parse("n = \"x\"\nn = \"y\"").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }
}

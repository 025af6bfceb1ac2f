//! The operator's settings of capabilities and the services capabilities
//! open from them. A capability backed by a host service (a client, a
//! store, a connection pool) declares its `serve` settings here
//! ([`HostCapability::settings`]) and opens its service from their values
//! ([`HostCapability::open`]); the command line, the environment and the
//! configuration file reach them with no code outside the capability.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use super::HostCapability;
use crate::capability::Capability;
use crate::runtime::HostServices;

/// One `serve` setting a capability reads: the flag `--<name>`, its
/// environment variable and the line `--help` prints.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The long flag name, also its key in the configuration file.
    pub name: &'static str,
    /// `MCP_WASM_HOST_` and the name in capitals, `-` as `_`.
    pub env: &'static str,
    pub value_name: &'static str,
    pub help: &'static str,
    /// The value names one of the host's own files, which no plugin's grant
    /// may reach.
    pub host_file: bool,
}

/// The values the operator gave the capabilities' settings, by name.
#[derive(Debug, Clone, Default)]
pub struct SettingValues {
    values: BTreeMap<&'static str, String>,
}

impl SettingValues {
    /// `value` for the setting `name`.
    pub fn set(&mut self, name: &'static str, value: String) {
        self.values.insert(name, value);
    }

    /// The value of setting `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The files the given settings name that are the host's own.
    pub fn host_files(&self) -> Vec<PathBuf> {
        every_setting()
            .filter(|setting| setting.host_file)
            .filter_map(|setting| self.get(setting.name))
            .map(PathBuf::from)
            .collect()
    }
}

/// Every capability's settings.
pub fn every_setting() -> impl Iterator<Item = &'static Setting> {
    super::registry()
        .host_capabilities()
        .iter()
        .flat_map(|capability| capability.settings())
}

/// A capability's service could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the {capability} service: {source}")]
pub struct ServiceError {
    pub capability: Capability,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// What [`HostCapability::open`] returns.
pub type Opening<'a> =
    Pin<Box<dyn Future<Output = Result<(), Box<dyn std::error::Error + Send + Sync>>> + Send + 'a>>;

/// `services` (those the host itself opened, such as the state store) with
/// the service of every capability that has one, opened from `settings`.
pub async fn open_services(
    settings: &SettingValues,
    mut services: HostServices,
) -> Result<HostServices, ServiceError> {
    for capability in super::registry().host_capabilities() {
        open_one(*capability, settings, &mut services).await?;
    }
    Ok(services)
}

async fn open_one(
    capability: &dyn HostCapability,
    settings: &SettingValues,
    services: &mut HostServices,
) -> Result<(), ServiceError> {
    capability
        .open(settings, services)
        .await
        .map_err(|source| ServiceError {
            capability: capability.id(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setting_names_are_unique_and_their_variables_follow_the_names() {
        let mut seen = std::collections::BTreeSet::new();
        for setting in every_setting() {
            assert!(seen.insert(setting.name), "--{} twice", setting.name);
            assert_eq!(
                setting.env,
                format!(
                    "MCP_WASM_HOST_{}",
                    setting.name.to_uppercase().replace('-', "_")
                ),
            );
            assert!(!setting.help.is_empty(), "--{} has no help", setting.name);
        }
    }

    #[test]
    fn only_host_file_settings_are_protected() {
        let mut values = SettingValues::default();
        values.set("secrets-file", "/etc/host/secrets.toml".into());
        values.set("not-a-setting", "/elsewhere".into());
        assert_eq!(
            values.host_files(),
            vec![PathBuf::from("/etc/host/secrets.toml")]
        );
    }
}

//! Which WIT interfaces each capability unlocks, and which every plugin may
//! import. A component's imports, read from its component type at load,
//! must all be covered by the capabilities its manifest declares plus the
//! always-granted set; anything else refuses the plugin, naming the
//! interface.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A capability a plugin may declare in its manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// Ask the client's model (`mcp:plugin/sampling`).
    Sampling,
    /// Ask the user (`mcp:plugin/elicitation`).
    Elicitation,
    /// The client's roots (`mcp:plugin/roots`).
    Roots,
    /// State that outlives a request (`mcp:plugin/session-state`).
    SessionState,
    /// The host's resources and prompts (`mcp:plugin/host-catalog`).
    HostCatalog,
    /// Read-only host directories, through WASI's filesystem.
    Files,
    /// Named host environment variables, through WASI's environment.
    Env,
    /// The host's key-value store (`mcp:plugin/keyvalue`).
    #[serde(rename = "keyvalue")]
    KeyValue,
    /// Outbound HTTP to allowed origins (`mcp:plugin/http`).
    Http,
    /// Named secrets of the operator (`mcp:plugin/secrets`).
    Secrets,
}

impl Capability {
    pub const ALL: [Capability; 10] = [
        Capability::Sampling,
        Capability::Elicitation,
        Capability::Roots,
        Capability::SessionState,
        Capability::HostCatalog,
        Capability::Files,
        Capability::Env,
        Capability::KeyValue,
        Capability::Http,
        Capability::Secrets,
    ];

    /// The name used in manifests and policies.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Sampling => "sampling",
            Capability::Elicitation => "elicitation",
            Capability::Roots => "roots",
            Capability::SessionState => "session-state",
            Capability::HostCatalog => "host-catalog",
            Capability::Files => "files",
            Capability::Env => "env",
            Capability::KeyValue => "keyvalue",
            Capability::Http => "http",
            Capability::Secrets => "secrets",
        }
    }

    /// Whether a policy's `grant-declared` default grants it. Capabilities
    /// that reach the host's own data or the network (files, environment,
    /// outbound HTTP, secrets) are granted only by a rule that names them.
    pub fn granted_by_default(self) -> bool {
        !matches!(
            self,
            Capability::Files | Capability::Env | Capability::Http | Capability::Secrets
        )
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The interfaces (`namespace:package/interface`, no version) it unlocks.
    pub fn interfaces(self) -> &'static [&'static str] {
        match self {
            Capability::Sampling => &["mcp:plugin/sampling"],
            Capability::Elicitation => &["mcp:plugin/elicitation"],
            Capability::Roots => &["mcp:plugin/roots"],
            Capability::SessionState => &["mcp:plugin/session-state"],
            Capability::HostCatalog => &["mcp:plugin/host-catalog"],
            Capability::KeyValue => &["mcp:plugin/keyvalue"],
            Capability::Http => &["mcp:plugin/http"],
            Capability::Secrets => &["mcp:plugin/secrets"],
            // Data, not interfaces: WASI's filesystem and environment are
            // always linked, and empty unless these are granted.
            Capability::Files | Capability::Env => &[],
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Interfaces every plugin may import. WASI's filesystem, environment and
/// sockets are linked so that programs built for WASI start (language
/// runtimes such as componentize-py's import them all), but a plugin sees no
/// preopened directory, no environment variable, and may open no socket: the
/// WASI context refuses TCP, UDP and name lookups.
pub const ALWAYS_GRANTED: &[&str] = &[
    "mcp:plugin/types",
    "mcp:plugin/context",
    "wasi:io/*",
    "wasi:clocks/*",
    "wasi:random/*",
    "wasi:cli/*",
    "wasi:filesystem/*",
    "wasi:sockets/*",
];

/// What an import is allowed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportRule {
    /// Every plugin may import it.
    Always,
    /// Only a plugin that declares this capability.
    Capability(Capability),
    /// Nothing grants it.
    Unknown,
}

/// `namespace:package/interface` without its `@version`.
pub fn unversioned(import: &str) -> &str {
    import.split_once('@').map_or(import, |(name, _)| name)
}

fn matches(pattern: &str, interface: &str) -> bool {
    match pattern.strip_suffix("/*") {
        Some(package) => interface
            .strip_prefix(package)
            .is_some_and(|rest| rest.starts_with('/')),
        None => pattern == interface,
    }
}

/// What allows the import named `import` (as a component names it, with or
/// without a version).
pub fn rule_for(import: &str) -> ImportRule {
    let interface = unversioned(import);
    if ALWAYS_GRANTED.iter().any(|p| matches(p, interface)) {
        return ImportRule::Always;
    }
    Capability::ALL
        .into_iter()
        .find(|c| c.interfaces().iter().any(|p| matches(p, interface)))
        .map_or(ImportRule::Unknown, ImportRule::Capability)
}

/// Check that every import is covered by the always-granted set or by a
/// declared capability; the error names the first import that is not.
pub fn check_imports(
    declared: &crate::manifest::ManifestCapabilities,
    imports: &[String],
) -> Result<(), String> {
    for import in imports {
        match rule_for(import) {
            ImportRule::Always => {}
            ImportRule::Capability(c) if declared.declares(c) => {}
            ImportRule::Capability(c) => {
                return Err(format!(
                    "it imports `{import}`, which needs the `{c}` capability, and its manifest \
                     does not declare it (add it under [capabilities] required or optional)"
                ));
            }
            ImportRule::Unknown => {
                return Err(format!(
                    "it imports `{import}`, which no capability of this host grants"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_map_to_their_capability() {
        assert_eq!(rule_for("mcp:plugin/context@0.1.0"), ImportRule::Always);
        assert_eq!(rule_for("wasi:io/streams@0.2.6"), ImportRule::Always);
        assert_eq!(
            rule_for("mcp:plugin/sampling@0.1.0"),
            ImportRule::Capability(Capability::Sampling)
        );
        assert_eq!(
            rule_for("mcp:plugin/session-state@0.1.0"),
            ImportRule::Capability(Capability::SessionState)
        );
        assert_eq!(rule_for("wasi:sockets/tcp@0.2.9"), ImportRule::Always);
        assert_eq!(
            rule_for("wasi:http/outgoing-handler@0.2.6"),
            ImportRule::Unknown
        );
        assert_eq!(rule_for("wasi:iox/streams"), ImportRule::Unknown);
        assert_eq!(rule_for("example:other/thing"), ImportRule::Unknown);
    }

    #[test]
    fn imports_beyond_the_manifest_are_named() {
        let declared = crate::manifest::ManifestCapabilities {
            required: vec![Capability::Sampling],
            ..Default::default()
        };
        let ok = [
            "mcp:plugin/context@0.1.0".to_string(),
            "mcp:plugin/sampling@0.1.0".into(),
        ];
        assert!(check_imports(&declared, &ok).is_ok());
        let err = check_imports(&declared, &["mcp:plugin/roots@0.1.0".to_string()]).unwrap_err();
        assert!(
            err.contains("`mcp:plugin/roots@0.1.0`") && err.contains("`roots` capability"),
            "{err}"
        );
        let err = check_imports(&declared, &["wasi:http/outgoing-handler@0.2.6".to_string()])
            .unwrap_err();
        assert!(err.contains("no capability of this host grants"), "{err}");
    }

    #[test]
    fn names_round_trip() {
        for c in Capability::ALL {
            assert_eq!(Capability::from_name(c.name()), Some(c));
            // Manifests and policies spell it the same way.
            let parsed: Capability = serde_json::from_value(serde_json::json!(c.name())).unwrap();
            assert_eq!(parsed, c);
        }
        assert_eq!(Capability::from_name("network"), None);
    }
}

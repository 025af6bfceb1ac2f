//! Which WIT interfaces every plugin may import, and which capability (by
//! the interfaces it names) unlocks each of the others. A component's imports, read from its component type at load,
//! must all be covered by the capabilities its manifest declares plus the
//! always-granted set; anything else refuses the plugin, naming the
//! interface.

use crate::capability::{Capability, CapabilitySet};

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
    super::registry()
        .kinds()
        .iter()
        .find(|c| c.interfaces().iter().any(|p| matches(p, interface)))
        .map_or(ImportRule::Unknown, |c| ImportRule::Capability(c.id()))
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
            ImportRule::Capability(super::super::sampling::SAMPLING)
        );
        assert_eq!(
            rule_for("mcp:plugin/session-state@0.1.0"),
            ImportRule::Capability(super::super::session_state::SESSION_STATE)
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
            required: vec![super::super::sampling::SAMPLING],
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
    fn every_capability_has_its_own_name_and_interfaces() {
        let kinds = super::super::registry().kinds();
        for (i, kind) in kinds.iter().enumerate() {
            for other in &kinds[..i] {
                assert_ne!(kind.id(), other.id());
                assert!(
                    kind.interfaces()
                        .iter()
                        .all(|i| !other.interfaces().contains(i)),
                    "{} and {} both unlock an interface",
                    kind.id(),
                    other.id()
                );
            }
            for interface in kind.interfaces() {
                assert_eq!(rule_for(interface), ImportRule::Capability(kind.id()));
            }
        }
    }
}

//! The plugin manifest (`<name>.toml` beside `<name>.wasm`): typed, strict
//! (`deny_unknown_fields`), and checked before the component is compiled.

use serde::Deserialize;

/// A parsed, validated plugin manifest.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PluginManifest {
    /// The plugin's name; must equal the file stem of the manifest.
    pub name: String,
    /// The plugin's version (free text, semver recommended).
    pub version: String,
    /// What the plugin is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Requested execution limits, clamped to the operator's ceilings.
    #[serde(default)]
    pub limits: Option<ManifestLimits>,
}

/// Limits a plugin asks for.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ManifestLimits {
    /// Linear memory cap per call, in MiB.
    pub memory_mib: Option<u64>,
    /// Wall-clock time per call, in milliseconds.
    pub timeout_ms: Option<u64>,
}

impl PluginManifest {
    /// Parse and validate manifest text. `expected_name` is the file stem.
    pub fn parse(text: &str, expected_name: &str) -> Result<Self, String> {
        let manifest: PluginManifest =
            toml::from_str(text).map_err(|e| describe_toml_error(text, &e))?;
        if !is_valid_plugin_name(&manifest.name) {
            return Err(format!(
                "name `{}` is not a valid plugin name (1-64 of a-z, 0-9, `-`, `_`, starting with a letter)",
                manifest.name
            ));
        }
        if manifest.name != expected_name {
            return Err(format!(
                "name `{}` does not match the file name `{expected_name}`",
                manifest.name
            ));
        }
        if manifest.version.trim().is_empty() {
            return Err("version must not be empty".into());
        }
        if let Some(limits) = &manifest.limits {
            if limits.memory_mib == Some(0) {
                return Err("limits.memory-mib must be at least 1".into());
            }
            if limits.timeout_ms == Some(0) {
                return Err("limits.timeout-ms must be at least 1".into());
            }
        }
        Ok(manifest)
    }
}

/// A TOML error as one line: `line N: message`.
pub fn describe_toml_error(text: &str, error: &toml::de::Error) -> String {
    match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {}", error.message())
        }
        None => error.message().to_string(),
    }
}

/// Plugin names become tool-name prefixes, so they are kept simple.
pub fn is_valid_plugin_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_minimal_manifest() {
        let m = PluginManifest::parse("name = \"hello\"\nversion = \"0.1.0\"\n", "hello").unwrap();
        assert_eq!(m.name, "hello");
        assert_eq!(m.limits, None);
    }

    #[test]
    fn parses_limits() {
        let m = PluginManifest::parse(
            "name = \"a\"\nversion = \"1\"\n[limits]\nmemory-mib = 16\ntimeout-ms = 250\n",
            "a",
        )
        .unwrap();
        assert_eq!(
            m.limits,
            Some(ManifestLimits {
                memory_mib: Some(16),
                timeout_ms: Some(250)
            })
        );
    }

    #[test]
    fn rejects_unknown_fields_naming_them() {
        let err = PluginManifest::parse("name = \"a\"\nversion = \"1\"\ncolour = \"red\"\n", "a")
            .unwrap_err();
        assert!(err.starts_with("line 3: unknown field `colour`"), "{err}");
    }

    #[test]
    fn rejects_a_name_that_differs_from_the_file() {
        let err = PluginManifest::parse("name = \"a\"\nversion = \"1\"\n", "b").unwrap_err();
        assert!(err.contains("does not match the file name `b`"), "{err}");
    }

    #[test]
    fn rejects_missing_version_and_bad_names() {
        assert!(
            PluginManifest::parse("name = \"a\"\n", "a")
                .unwrap_err()
                .contains("missing field `version`")
        );
        assert!(
            PluginManifest::parse("name = \"A b\"\nversion = \"1\"\n", "A b")
                .unwrap_err()
                .contains("not a valid plugin name")
        );
    }
}

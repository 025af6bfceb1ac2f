//! The plugin manifest (`<name>.toml` beside `<name>.wasm`): typed, strict
//! (`deny_unknown_fields`), and checked before the component is compiled.

use serde::Deserialize;

use crate::capabilities::Capability;
use crate::capabilities::http::HttpParams;
use crate::capabilities::secrets::SecretsParams;

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
    /// The capabilities the plugin needs (beyond the always-granted ones).
    #[serde(default)]
    pub capabilities: ManifestCapabilities,
    /// Whether each call gets a fresh instance or a session reuses one.
    #[serde(default)]
    pub instance: InstanceMode,
}

/// How long a plugin's instances live.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceMode {
    /// A fresh instance for every call: nothing survives a call.
    #[default]
    PerCall,
    /// One instance per session, reused by its calls one at a time (calls
    /// without a session still get a fresh one).
    PerSession,
}

/// What a plugin declares it needs. A component may import only the
/// interfaces of the capabilities declared here (plus the always-granted
/// ones).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ManifestCapabilities {
    /// Without these the plugin cannot work: if the policy does not grant
    /// one, the plugin is not loaded.
    #[serde(default)]
    pub required: Vec<Capability>,
    /// The plugin copes without these: if the policy does not grant one, the
    /// plugin loads and each use of it answers `denied`.
    #[serde(default)]
    pub optional: Vec<Capability>,
    /// Parameters of the `files` capability.
    #[serde(default)]
    pub files: Option<FilesParams>,
    /// Parameters of the `env` capability.
    #[serde(default)]
    pub env: Option<EnvParams>,
    /// Parameters of the `keyvalue` capability.
    #[serde(default)]
    pub keyvalue: Option<KeyValueParams>,
    /// Parameters of the `http` capability.
    #[serde(default)]
    pub http: Option<HttpParams>,
    /// Parameters of the `secrets` capability.
    #[serde(default)]
    pub secrets: Option<SecretsParams>,
}

/// `[capabilities.keyvalue]`: the namespaces the plugin keeps entries in.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct KeyValueParams {
    pub namespaces: Vec<String>,
}

/// `[capabilities.files]`: host directories the plugin reads.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FilesParams {
    /// Absolute host directories, each visible to the plugin read-only at
    /// the same path.
    pub read_only: Vec<std::path::PathBuf>,
}

/// `[capabilities.env]`: host environment variables the plugin sees.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EnvParams {
    pub variables: Vec<String>,
}

impl ManifestCapabilities {
    /// Every declared capability, required ones first.
    pub fn declared(&self) -> impl Iterator<Item = Capability> + '_ {
        self.required.iter().chain(&self.optional).copied()
    }

    pub fn declares(&self, capability: Capability) -> bool {
        self.declared().any(|c| c == capability)
    }
}

/// Limits a plugin asks for.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ManifestLimits {
    /// Linear memory cap per call, in MiB.
    pub memory_mib: Option<u64>,
    /// Wall-clock time per call, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Calls that may run at once; more wait (up to their time limit).
    pub max_concurrent: Option<u32>,
    /// Fuel per call: a budget of executed instructions, so a call's
    /// compute is bounded independently of the machine's speed.
    pub fuel: Option<u64>,
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
        let caps = &manifest.capabilities;
        for (i, c) in caps.declared().enumerate() {
            if caps.declared().take(i).any(|earlier| earlier == c) {
                return Err(format!(
                    "capability `{c}` is declared twice (a capability is either required or optional)"
                ));
            }
        }
        check_capability_params(caps)?;
        if let Some(limits) = &manifest.limits {
            if limits.memory_mib == Some(0) {
                return Err("limits.memory-mib must be at least 1".into());
            }
            if limits.timeout_ms == Some(0) {
                return Err("limits.timeout-ms must be at least 1".into());
            }
            if limits.max_concurrent == Some(0) {
                return Err("limits.max-concurrent must be at least 1".into());
            }
            if limits.fuel == Some(0) {
                return Err("limits.fuel must be at least 1".into());
            }
        }
        Ok(manifest)
    }
}

/// A capability's parameters go with declaring it: a section without the
/// capability, or the capability without its section, is refused.
fn check_capability_params(caps: &ManifestCapabilities) -> Result<(), String> {
    fn section<T>(
        caps: &ManifestCapabilities,
        capability: Capability,
        params: &Option<T>,
        lists_no: &str,
        check: impl FnOnce(&T) -> Result<(), String>,
    ) -> Result<(), String> {
        match (params, caps.declares(capability)) {
            (Some(p), true) => check(p),
            (Some(_), false) => Err(format!(
                "[capabilities.{capability}] is set but `{capability}` is not declared"
            )),
            (None, true) => Err(format!(
                "`{capability}` is declared but [capabilities.{capability}] lists no {lists_no}"
            )),
            (None, false) => Ok(()),
        }
    }
    section(caps, Capability::Files, &caps.files, "directory", |files| {
        if files.read_only.is_empty() {
            return Err("capabilities.files.read-only lists no directory".into());
        }
        match files.read_only.iter().find(|p| !p.is_absolute()) {
            Some(p) => Err(format!(
                "capabilities.files.read-only: `{}` is not an absolute path",
                p.display()
            )),
            None => Ok(()),
        }
    })?;
    section(
        caps,
        Capability::Env,
        &caps.env,
        "variable",
        |env| match env
            .variables
            .iter()
            .find(|v| v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        {
            Some(v) => Err(format!(
                "capabilities.env.variables: `{v}` is not a variable name"
            )),
            None => Ok(()),
        },
    )?;
    section(
        caps,
        Capability::KeyValue,
        &caps.keyvalue,
        "namespace",
        |kv| {
            if kv.namespaces.is_empty() {
                return Err("capabilities.keyvalue.namespaces lists no namespace".into());
            }
            match kv.namespaces.iter().find(|n| {
                n.is_empty()
                    || n.len() > 64
                    || !n
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            }) {
                Some(n) => Err(format!(
                    "capabilities.keyvalue.namespaces: `{n}` is not a namespace (1-64 letters, digits, `_`, `-`, `.`)"
                )),
                None => Ok(()),
            }
        },
    )?;
    section(
        caps,
        Capability::Http,
        &caps.http,
        "origin",
        HttpParams::check,
    )?;
    section(
        caps,
        Capability::Secrets,
        &caps.secrets,
        "secret",
        SecretsParams::check,
    )
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
                timeout_ms: Some(250),
                max_concurrent: None,
                fuel: None,
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
    fn parses_capabilities_and_refuses_unknown_or_repeated_ones() {
        let m = PluginManifest::parse(
            "name = \"a\"\nversion = \"1\"\n[capabilities]\nrequired = [\"sampling\"]\noptional = [\"session-state\"]\n",
            "a",
        )
        .unwrap();
        assert_eq!(m.capabilities.required, vec![Capability::Sampling]);
        assert!(m.capabilities.declares(Capability::SessionState));
        assert!(!m.capabilities.declares(Capability::Roots));

        let err = PluginManifest::parse(
            "name = \"a\"\nversion = \"1\"\n[capabilities]\nrequired = [\"network\"]\n",
            "a",
        )
        .unwrap_err();
        assert!(
            err.starts_with("line 4: unknown variant `network`"),
            "{err}"
        );
        let err = PluginManifest::parse(
            "name = \"a\"\nversion = \"1\"\n[capabilities]\nrequired = [\"roots\"]\noptional = [\"roots\"]\n",
            "a",
        )
        .unwrap_err();
        assert!(
            err.contains("capability `roots` is declared twice"),
            "{err}"
        );
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

/// The manifests in `tests/golden/manifests`: every `valid-*.toml` parses;
/// every `invalid-*.toml` is refused with the text in its `.expected` file.
#[cfg(test)]
mod golden {
    use super::PluginManifest;

    #[test]
    fn golden_manifests() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden/manifests");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "toml") {
                continue;
            }
            let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            let parsed = PluginManifest::parse(&text, &stem);
            if stem.starts_with("valid-") {
                assert!(parsed.is_ok(), "{stem}: {parsed:?}");
            } else {
                let expected = std::fs::read_to_string(path.with_extension("expected")).unwrap();
                let error = parsed.expect_err(&stem);
                assert!(
                    error.contains(expected.trim()),
                    "{stem}: expected `{}`, got `{error}`",
                    expected.trim()
                );
            }
            checked += 1;
        }
        assert!(checked >= 10, "only {checked} golden manifests found");
    }
}

#[cfg(test)]
mod properties {
    use super::PluginManifest;
    use crate::test_strategies::{CASES, text_from};
    use proptest::prelude::*;

    const FRAGMENTS: &[&str] = &[
        "name = \"p\"\n",
        "version = \"1\"\n",
        "description = \"d\"\n",
        "instance = \"per-session\"\n",
        "[limits]\n",
        "memory-mib = 0\n",
        "timeout-ms = 18446744073709551615\n",
        "fuel = -1\n",
        "[capabilities]\n",
        "required = [\"files\", \"http\"]\n",
        "optional = [\"env\", \"secrets\", \"keyvalue\", \"nope\"]\n",
        "[capabilities.files]\n",
        "read-only = [\"/srv/../etc\", \"rel\"]\n",
        "[capabilities.env]\n",
        "variables = [\"A\", \"\"]\n",
        "[capabilities.http]\n",
        "allow = [\"https://*.x\", \"http://127.0.0.1:*\", \"ftp://a\"]\n",
        "max-response-kib = 99999999\n",
        "[[capabilities.http.credentials]]\n",
        "origin = \"https://a\"\nsecret = \"s\"\n",
        "format = \"{secret}{secret}\"\n",
        "[capabilities.keyvalue]\nnamespaces = [\"a\", \"../b\"]\n",
        "[capabilities.secrets]\nnames = [\"s\"]\n",
        "= \"\n",
        "[[",
        "\"\"\"",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(CASES))]

        /// Any text: a manifest or an error that says what is wrong; never
        /// a panic.
        #[test]
        fn manifests_parse_or_name_the_problem(text in text_from(FRAGMENTS, 12)) {
            if let Err(problem) = PluginManifest::parse(&text, "p") {
                prop_assert!(!problem.trim().is_empty());
            }
        }
    }
}

//! The plugin manifest (`<name>.toml` beside `<name>.wasm`): typed, strict
//! (`deny_unknown_fields`), and checked before the component is compiled.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::capability::{
    Capability, CapabilitySet, ParamsRef, TomlProblem, line_of, resolve_names, same_params,
};

/// A parsed, validated plugin manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginManifest {
    /// The plugin's name; must equal the file stem of the manifest.
    pub name: String,
    /// The plugin's version (free text, semver recommended).
    pub version: String,
    /// What the plugin is for.
    pub description: Option<String>,
    /// Requested execution limits, clamped to the operator's ceilings.
    pub limits: Option<ManifestLimits>,
    /// The capabilities the plugin needs (beyond the always-granted ones).
    pub capabilities: ManifestCapabilities,
    /// Whether each call gets a fresh instance or a session reuses one.
    pub instance: InstanceMode,
}

/// The manifest as TOML spells it, its capabilities still names and its
/// capability sections set aside for their capabilities.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ManifestFile {
    name: String,
    version: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    limits: Option<ManifestLimits>,
    #[serde(default)]
    capabilities: CapabilityNames,
    #[serde(default)]
    instance: InstanceMode,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CapabilityNames {
    #[serde(default)]
    required: Vec<Spanned<String>>,
    #[serde(default)]
    optional: Vec<Spanned<String>>,
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
#[derive(Debug, Clone, Default)]
pub struct ManifestCapabilities {
    /// Without these the plugin cannot work: if the policy does not grant
    /// one, the plugin is not loaded.
    pub required: Vec<Capability>,
    /// The plugin copes without these: if the policy does not grant one, the
    /// plugin loads and each use of it answers `denied`.
    pub optional: Vec<Capability>,
    /// Each declared capability's section (`[capabilities.<name>]`), as its
    /// capability parsed it.
    pub params: BTreeMap<Capability, ParamsRef>,
}

impl PartialEq for ManifestCapabilities {
    fn eq(&self, other: &Self) -> bool {
        self.required == other.required
            && self.optional == other.optional
            && same_params(&self.params, &other.params)
    }
}

impl ManifestCapabilities {
    /// Every declared capability, required ones first.
    pub fn declared(&self) -> impl Iterator<Item = Capability> + '_ {
        self.required.iter().chain(&self.optional).copied()
    }

    pub fn declares(&self, capability: Capability) -> bool {
        self.declared().any(|c| c == capability)
    }

    /// The section of `capability`, as its capability parsed it.
    pub fn params(&self, capability: Capability) -> Option<&dyn crate::capability::Params> {
        self.params.get(&capability).map(|p| &**p)
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
    /// Wall-clock time per call run as an MCP task, in milliseconds.
    pub task_timeout_ms: Option<u64>,
    /// Calls that may run at once; more wait (up to their time limit).
    pub max_concurrent: Option<u32>,
    /// Fuel per call: a budget of executed instructions, so a call's
    /// compute is bounded independently of the machine's speed.
    pub fuel: Option<u64>,
}

impl PluginManifest {
    /// Parse and validate manifest text. `expected_name` is the file stem;
    /// `capabilities` are the host's, each parsing its own section.
    pub fn parse(
        text: &str,
        expected_name: &str,
        capabilities: &dyn CapabilitySet,
    ) -> Result<Self, String> {
        let toml_error = |e: &toml::de::Error| describe_toml_error(text, e);
        let document = DeTable::parse(text).map_err(|e| toml_error(&e))?;
        let span = document.span();
        let mut table = document.into_inner();
        let mut sections = Vec::new();
        if let Some(caps) = table.get_mut("capabilities")
            && let DeValue::Table(caps) = caps.get_mut()
        {
            let names: Vec<String> = caps
                .keys()
                .map(|k| k.get_ref().to_string())
                .filter(|k| k != "required" && k != "optional")
                .collect();
            for name in names {
                sections.extend(caps.remove_entry(name.as_str()));
            }
        }
        let file: ManifestFile =
            crate::capability::from_toml(Spanned::new(span, DeValue::Table(table)))
                .map_err(|e| toml_error(&e))?;
        if !is_valid_plugin_name(&file.name) {
            return Err(format!(
                "name `{}` is not a valid plugin name (1-64 of a-z, 0-9, `-`, `_`, starting with a letter)",
                file.name
            ));
        }
        if file.name != expected_name {
            return Err(format!(
                "name `{}` does not match the file name `{expected_name}`",
                file.name
            ));
        }
        if file.version.trim().is_empty() {
            return Err("version must not be empty".into());
        }
        let mut caps = ManifestCapabilities {
            required: resolve_names(text, file.capabilities.required, capabilities)?,
            optional: resolve_names(text, file.capabilities.optional, capabilities)?,
            params: BTreeMap::new(),
        };
        for (i, c) in caps.declared().enumerate() {
            if caps.declared().take(i).any(|earlier| earlier == c) {
                return Err(format!(
                    "capability `{c}` is declared twice (a capability is either required or optional)"
                ));
            }
        }
        for (name, section) in sections {
            let line = line_of(text, name.span().start);
            let Some(kind) = capabilities.kind(name.get_ref()) else {
                return Err(format!(
                    "line {line}: unknown field `{}` in [capabilities]",
                    name.get_ref()
                ));
            };
            let c = kind.id();
            if kind.section_lists().is_some() && !caps.declares(c) {
                return Err(format!(
                    "[capabilities.{c}] is set but `{c}` is not declared"
                ));
            }
            let params = kind.declaration(section).map_err(|problem| match problem {
                TomlProblem::Toml(e) => toml_error(&e),
                TomlProblem::Message(m) => m,
            })?;
            caps.params.insert(c, params);
        }
        for c in caps.declared() {
            if let Some(lists) = capabilities.kind_of(c).and_then(|k| k.section_lists())
                && !caps.params.contains_key(&c)
            {
                return Err(format!(
                    "`{c}` is declared but [capabilities.{c}] lists no {lists}"
                ));
            }
        }
        if let Some(limits) = &file.limits {
            if limits.memory_mib == Some(0) {
                return Err("limits.memory-mib must be at least 1".into());
            }
            if limits.timeout_ms == Some(0) {
                return Err("limits.timeout-ms must be at least 1".into());
            }
            if limits.task_timeout_ms == Some(0) {
                return Err("limits.task-timeout-ms must be at least 1".into());
            }
            if limits.max_concurrent == Some(0) {
                return Err("limits.max-concurrent must be at least 1".into());
            }
            if limits.fuel == Some(0) {
                return Err("limits.fuel must be at least 1".into());
            }
        }
        Ok(PluginManifest {
            name: file.name,
            version: file.version,
            description: file.description,
            limits: file.limits,
            capabilities: caps,
            instance: file.instance,
        })
    }
}

/// A TOML error as one line: `line N: message`.
pub fn describe_toml_error(text: &str, error: &toml::de::Error) -> String {
    match error.span() {
        Some(span) => {
            format!("line {}: {}", line_of(text, span.start), error.message())
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
    use crate::capabilities::{roots::ROOTS, sampling::SAMPLING, session_state::SESSION_STATE};

    fn parse(text: &str, expected_name: &str) -> Result<PluginManifest, String> {
        PluginManifest::parse(text, expected_name, crate::capabilities::registry())
    }

    #[test]
    fn parses_a_minimal_manifest() {
        let m = parse("name = \"hello\"\nversion = \"0.1.0\"\n", "hello").unwrap();
        assert_eq!(m.name, "hello");
        assert_eq!(m.limits, None);
    }

    #[test]
    fn parses_limits() {
        let m = parse(
            "name = \"a\"\nversion = \"1\"\n[limits]\nmemory-mib = 16\ntimeout-ms = 250\n",
            "a",
        )
        .unwrap();
        assert_eq!(
            m.limits,
            Some(ManifestLimits {
                memory_mib: Some(16),
                timeout_ms: Some(250),
                task_timeout_ms: None,
                max_concurrent: None,
                fuel: None,
            })
        );
    }

    #[test]
    fn rejects_unknown_fields_naming_them() {
        let err = parse("name = \"a\"\nversion = \"1\"\ncolour = \"red\"\n", "a").unwrap_err();
        assert!(err.starts_with("line 3: unknown field `colour`"), "{err}");
    }

    #[test]
    fn parses_capabilities_and_refuses_unknown_or_repeated_ones() {
        let m = parse(
            "name = \"a\"\nversion = \"1\"\n[capabilities]\nrequired = [\"sampling\"]\noptional = [\"session-state\"]\n",
            "a",
        )
        .unwrap();
        assert_eq!(m.capabilities.required, vec![SAMPLING]);
        assert!(m.capabilities.declares(SESSION_STATE));
        assert!(!m.capabilities.declares(ROOTS));

        let err = parse(
            "name = \"a\"\nversion = \"1\"\n[capabilities]\nrequired = [\"network\"]\n",
            "a",
        )
        .unwrap_err();
        assert!(
            err.starts_with("line 4: unknown variant `network`"),
            "{err}"
        );
        let err = parse(
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
    fn capability_sections_go_to_their_capability_or_are_refused() {
        let err = parse(
            "name = \"a\"\nversion = \"1\"\n[capabilities]\nrequired = [\"sampling\"]\n[capabilities.network]\nhosts = [\"x\"]\n",
            "a",
        )
        .unwrap_err();
        assert!(
            err.contains("line 5: unknown field `network` in [capabilities]"),
            "{err}"
        );
        let err = parse(
            "name = \"a\"\nversion = \"1\"\n[capabilities]\nrequired = [\"sampling\"]\n[capabilities.sampling]\nx = 1\n",
            "a",
        )
        .unwrap_err();
        assert!(
            err.contains("`sampling` takes no [capabilities.sampling] section"),
            "{err}"
        );
        let err = parse(
            "name = \"a\"\nversion = \"1\"\n[capabilities]\noptional = [\"http\"]\n[capabilities.http]\nallow = [\"https://a.example\"]\ncolour = 1\n",
            "a",
        )
        .unwrap_err();
        assert!(err.contains("line 7: unknown field `colour`"), "{err}");
    }

    #[test]
    fn rejects_a_name_that_differs_from_the_file() {
        let err = parse("name = \"a\"\nversion = \"1\"\n", "b").unwrap_err();
        assert!(err.contains("does not match the file name `b`"), "{err}");
    }

    #[test]
    fn rejects_missing_version_and_bad_names() {
        assert!(
            parse("name = \"a\"\n", "a")
                .unwrap_err()
                .contains("missing field `version`")
        );
        assert!(
            parse("name = \"A b\"\nversion = \"1\"\n", "A b")
                .unwrap_err()
                .contains("not a valid plugin name")
        );
    }
}

/// The manifests in `tests/golden/manifests`: every `valid-*.toml` parses;
/// every `invalid-*.toml` is refused with the text in its `.expected` file.
#[cfg(test)]
mod golden {
    fn parse(text: &str, expected_name: &str) -> Result<super::PluginManifest, String> {
        super::PluginManifest::parse(text, expected_name, crate::capabilities::registry())
    }

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
            let parsed = parse(&text, &stem);
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
    fn parse(text: &str, expected_name: &str) -> Result<super::PluginManifest, String> {
        super::PluginManifest::parse(text, expected_name, crate::capabilities::registry())
    }
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
            if let Err(problem) = parse(&text, "p") {
                prop_assert!(!problem.trim().is_empty());
            }
        }
    }
}

//! `plugin new`: a new plugin's directory that builds and runs as it is —
//! source with one working tool, manifest, build script, and the SDK for its
//! language (embedded in the binary, so the plugin does not depend on a
//! checkout of this repository, and its SDK matches this host's contract).

use std::path::{Path, PathBuf};

use crate::contract::WIT_FILES;

/// The languages `plugin new` writes plugins in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Rust,
    Python,
    JavaScript,
}

/// Why no plugin was written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("`{0}` is not a plugin name: 1-64 of a-z, 0-9, `-` and `_`, starting with a letter")]
    BadName(String),
    #[error("{0} already exists; choose another name or directory")]
    Exists(String),
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
}

// The SDKs a new plugin gets a copy of, listed from their directories by
// the build script.
const PYTHON_SDK: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/python_sdk.rs"));
const JS_SDK: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/js_sdk.rs"));
const RUST_SDK: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/rust_sdk.rs"));

/// The crate of the Rust SDK's `#[tool]` attribute, which the SDK's copy
/// depends on (`sdk/rust-macros`); every file of its `src`.
const RUST_MACROS: &[(&str, &str)] = &[
    (
        "sdk/rust-macros/src/lib.rs",
        include_str!("../../guest-sdk/rust-macros/src/lib.rs"),
    ),
    (
        "sdk/rust-macros/src/options.rs",
        include_str!("../../guest-sdk/rust-macros/src/options.rs"),
    ),
    (
        "sdk/rust-macros/src/signature.rs",
        include_str!("../../guest-sdk/rust-macros/src/signature.rs"),
    ),
];

/// The files of a new plugin: (path relative to its directory, template,
/// executable).
fn templates(language: Language) -> Vec<(String, &'static str, bool)> {
    let own = |path: &str, text: &'static str, exec: bool| (path.to_string(), text, exec);
    let mut files = match language {
        Language::Python => vec![
            own("app.py", include_str!("../templates/python/app.py"), false),
            own(
                "{{name}}.toml",
                include_str!("../templates/python/manifest.toml"),
                false,
            ),
            own(
                "build.sh",
                include_str!("../templates/python/build.sh"),
                true,
            ),
            own(
                ".gitignore",
                include_str!("../templates/python/gitignore"),
                false,
            ),
        ],
        Language::JavaScript => vec![
            own("app.js", include_str!("../templates/js/app.js"), false),
            own(
                "{{name}}.toml",
                include_str!("../templates/js/manifest.toml"),
                false,
            ),
            own(
                "package.json",
                include_str!("../templates/js/package.json"),
                false,
            ),
            own("build.sh", include_str!("../templates/js/build.sh"), true),
            own(
                ".gitignore",
                include_str!("../templates/js/gitignore"),
                false,
            ),
        ],
        Language::Rust => vec![
            own(
                "Cargo.toml",
                include_str!("../templates/rust/Cargo.toml"),
                false,
            ),
            own(
                "src/lib.rs",
                include_str!("../templates/rust/lib.rs"),
                false,
            ),
            own(
                "{{name}}.toml",
                include_str!("../templates/rust/manifest.toml"),
                false,
            ),
            own("build.sh", include_str!("../templates/rust/build.sh"), true),
            own(
                ".gitignore",
                include_str!("../templates/rust/gitignore"),
                false,
            ),
            own(
                "sdk/rust/Cargo.toml",
                include_str!("../templates/rust/sdk-Cargo.toml"),
                false,
            ),
            own(
                "sdk/rust-macros/Cargo.toml",
                include_str!("../templates/rust/macros-Cargo.toml"),
                false,
            ),
        ],
    };
    let sdk: &[(&str, &str)] = match language {
        Language::Python => PYTHON_SDK,
        Language::JavaScript => JS_SDK,
        Language::Rust => RUST_SDK,
    };
    files.extend(
        sdk.iter()
            .map(|(path, text)| (path.to_string(), *text, false)),
    );
    if language == Language::Rust {
        files.extend(
            RUST_MACROS
                .iter()
                .map(|(path, text)| (path.to_string(), *text, false)),
        );
        // The SDK binds `../../wit` from its own directory.
        files.extend(
            WIT_FILES
                .iter()
                .map(|(name, text)| (format!("wit/{name}"), *text, false)),
        );
    }
    files
}

/// Whether `name` is a valid plugin name (as the manifest requires).
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Write a new plugin `name` in `language` into `parent/name`, which must
/// not exist. `host` is this binary, which the build script uses to write
/// the world and componentize. Returns the plugin's directory.
pub fn new_plugin(
    parent: &Path,
    name: &str,
    language: Language,
    host: &Path,
) -> Result<PathBuf, ScaffoldError> {
    if !valid_name(name) {
        return Err(ScaffoldError::BadName(name.to_string()));
    }
    let dir = parent.join(name);
    if dir.exists() {
        return Err(ScaffoldError::Exists(dir.display().to_string()));
    }
    let crate_name = name.replace('_', "-");
    let substitute = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{crate}}", &crate_name)
            .replace("{{crate_file}}", &crate_name.replace('-', "_"))
            .replace("{{version}}", env!("CARGO_PKG_VERSION"))
            .replace("{{host}}", &host.display().to_string())
    };
    let failed = |path: &Path, e: std::io::Error| ScaffoldError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    for (relative, template, executable) in templates(language) {
        let path = dir.join(substitute(&relative));
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(|e| failed(folder, e))?;
        }
        // SDK files are copied as they are; templates get the plugin's names.
        let text = if relative.starts_with("sdk/") && !relative.ends_with("Cargo.toml") {
            template.to_string()
        } else {
            substitute(template)
        };
        std::fs::write(&path, text).map_err(|e| failed(&path, e))?;
        #[cfg(unix)]
        if executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| failed(&path, e))?;
        }
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_manifest_rules() {
        for good in ["a", "my-tool", "tool_2"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", "2tools", "My", "a b", "../x", &"a".repeat(65)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_embedded_rust_sdk_is_complete() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk/rust/src");
        let on_disk = std::fs::read_dir(dir).unwrap().count();
        assert_eq!(
            on_disk,
            RUST_SDK.len(),
            "a Rust SDK file is missing from RUST_SDK"
        );
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk/rust-macros/src");
        let on_disk = std::fs::read_dir(dir).unwrap().count();
        assert_eq!(
            on_disk,
            RUST_MACROS.len(),
            "a file of the `#[tool]` macro crate is missing from RUST_MACROS"
        );
    }

    #[test]
    fn a_plugin_is_written_once_with_valid_manifest_and_no_placeholders() {
        let parent = std::env::temp_dir().join(format!("scaffold-{}", std::process::id()));
        let host = Path::new("/opt/mcp-wasm-host");
        for (language, name) in [
            (Language::Python, "py_tool"),
            (Language::JavaScript, "js-tool"),
            (Language::Rust, "rs_tool"),
        ] {
            let dir = new_plugin(&parent, name, language, host).unwrap();
            let manifest = std::fs::read_to_string(dir.join(format!("{name}.toml"))).unwrap();
            crate::manifest::PluginManifest::parse(
                &manifest,
                name,
                crate::capabilities::registry(),
            )
            .unwrap();
            for (relative, _, _) in templates(language) {
                if relative.starts_with("sdk/") || relative.starts_with("wit/") {
                    continue;
                }
                let path = dir.join(relative.replace("{{name}}", name));
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(
                    !text.contains("{{"),
                    "{} keeps a placeholder",
                    path.display()
                );
            }
            let build = std::fs::read_to_string(dir.join("build.sh")).unwrap();
            assert!(build.contains("/opt/mcp-wasm-host"), "{build}");
            assert!(matches!(
                new_plugin(&parent, name, language, host),
                Err(ScaffoldError::Exists(_))
            ));
        }
        let rust = std::fs::read_to_string(parent.join("rs_tool/Cargo.toml")).unwrap();
        assert!(rust.contains("name = \"rs-tool\""), "{rust}");
        let build = std::fs::read_to_string(parent.join("rs_tool/build.sh")).unwrap();
        assert!(build.contains("release/rs_tool.wasm"), "{build}");
        assert!(matches!(
            new_plugin(&parent, "Bad Name", Language::Rust, host),
            Err(ScaffoldError::BadName(_))
        ));
        std::fs::remove_dir_all(&parent).unwrap();
    }
}

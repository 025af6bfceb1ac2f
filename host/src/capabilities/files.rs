//! The `files` capability: host directories a plugin reads, read-only,
//! through WASI's filesystem. It owns the manifest section
//! (`[capabilities.files]`, `read-only` absolute directories), the policy
//! key `files-read-only` (a rule granting `files` must name the roots it
//! allows), the narrowing (each declared directory is resolved, `..` and
//! symbolic links followed, and granted only inside a root and away from
//! the host's own files), and opening the granted directories in a call's
//! WASI context. Never granted by the policy's default.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use super::HostCapability;
use crate::capability::{
    Capability, CapabilityKind, Narrowed, Narrowing, Params, ParamsRef, Toml, TomlProblem,
    downcast, from_toml,
};
use crate::policy::normalized;

/// Read-only host directories, through WASI's filesystem.
pub const FILES: Capability = Capability::named("files");

/// `[capabilities.files]`: host directories the plugin reads.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FilesParams {
    /// Absolute host directories, each visible to the plugin read-only at
    /// the same path.
    pub read_only: Vec<PathBuf>,
}

/// A rule's `files-read-only`: the roots declared directories must lie in.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FilesRule {
    files_read_only: Option<Vec<PathBuf>>,
}

/// A host directory a plugin reads: where the plugin sees it (the declared
/// path, `.` and `..` resolved) and the directory it really is (every
/// symbolic link resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantedDir {
    pub guest: PathBuf,
    pub host: PathBuf,
}

/// The directories granted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FilesGrant {
    pub dirs: Vec<GrantedDir>,
}

/// The `files` capability.
pub struct Files;

impl CapabilityKind for Files {
    fn id(&self) -> Capability {
        FILES
    }

    fn interfaces(&self) -> &'static [&'static str] {
        // Data for WASI's filesystem, which is always linked.
        &[]
    }

    fn granted_by_default(&self) -> bool {
        false
    }

    fn section_lists(&self) -> Option<&'static str> {
        Some("directory")
    }

    fn declaration(&self, section: Toml<'_>) -> Result<ParamsRef, TomlProblem> {
        let files: FilesParams = from_toml(section)?;
        if files.read_only.is_empty() {
            return Err("capabilities.files.read-only lists no directory".into());
        }
        if let Some(p) = files.read_only.iter().find(|p| !p.is_absolute()) {
            return Err(format!(
                "capabilities.files.read-only: `{}` is not an absolute path",
                p.display()
            )
            .into());
        }
        Ok(std::sync::Arc::new(files))
    }

    fn rule_keys(&self) -> &'static [&'static str] {
        &["files-read-only"]
    }

    fn rule(&self, keys: Toml<'_>, grants_it: bool) -> Result<Option<ParamsRef>, TomlProblem> {
        let rule: FilesRule = from_toml(keys)?;
        let Some(roots) = &rule.files_read_only else {
            if grants_it {
                return Err("a rule that grants `files` must say what it allows with \
                            `files-read-only` (an empty list allows nothing)"
                    .into());
            }
            return Ok(None);
        };
        if let Some(p) = roots.iter().find(|p| !p.is_absolute()) {
            return Err(
                format!("files-read-only: `{}` is not an absolute path", p.display()).into(),
            );
        }
        Ok(Some(std::sync::Arc::new(rule)))
    }

    fn narrow(&self, narrowing: Narrowing<'_>) -> Narrowed {
        let roots = narrowing
            .granting_rule
            .and_then(downcast::<FilesRule>)
            .and_then(|r| r.files_read_only.as_deref())
            .unwrap_or_default();
        let declared = narrowing.declared.and_then(downcast::<FilesParams>);
        let mut grant = FilesGrant::default();
        let mut withheld = Vec::new();
        for dir in declared.iter().flat_map(|f| &f.read_only) {
            match grant_directory(dir, roots, narrowing.protected) {
                Ok(granted) => grant.dirs.push(granted),
                Err(why) => withheld.push(format!("files: `{}` {why}", dir.display())),
            }
        }
        Narrowed {
            grant: Some(std::sync::Arc::new(grant)),
            withheld,
        }
    }

    fn describe(&self, grant: Option<&dyn Params>) -> Vec<String> {
        let dirs: Vec<String> = grant
            .and_then(downcast::<FilesGrant>)
            .iter()
            .flat_map(|g| &g.dirs)
            .map(|d| {
                if d.guest == d.host {
                    d.guest.display().to_string()
                } else {
                    format!("{} (resolves to {})", d.guest.display(), d.host.display())
                }
            })
            .collect();
        vec![format!("read-only: {}", super::listed(&dirs))]
    }

    fn scope(&self, grant: Option<&dyn Params>) -> serde_json::Value {
        let dirs: Vec<String> = grant
            .and_then(downcast::<FilesGrant>)
            .iter()
            .flat_map(|g| &g.dirs)
            .map(|d| d.guest.display().to_string())
            .collect();
        serde_json::json!({ "read-only": dirs })
    }
}

impl HostCapability for Files {
    fn configure_wasi(&self, plugin: &str, grant: Option<&dyn Params>, wasi: &mut WasiCtxBuilder) {
        // Each directory is opened at its resolved path; WASI resolves the
        // guest's paths inside it and never follows a link out of it.
        for dir in grant
            .and_then(downcast::<FilesGrant>)
            .iter()
            .flat_map(|g| &g.dirs)
        {
            let guest_path = dir.guest.to_string_lossy();
            if let Err(e) = wasi.preopened_dir(&dir.host, guest_path.as_ref(), FsPerms::ReadOnly) {
                tracing::warn!(
                    plugin,
                    "cannot open granted directory {}: {e}",
                    dir.host.display()
                );
            }
        }
    }
}

/// A declared directory as granted under the policy roots `roots`: it must
/// resolve (`..` and symbolic links followed) to a directory inside a
/// resolved root, and neither hold nor lie inside one of the host's own
/// files (`protected`). `Err` says why not.
fn grant_directory(
    dir: &Path,
    roots: &[PathBuf],
    protected: &[PathBuf],
) -> Result<GrantedDir, String> {
    let host =
        std::fs::canonicalize(dir).map_err(|e| format!("cannot be resolved on this host ({e})"))?;
    if !host.is_dir() {
        return Err(format!("resolves to {}, not a directory", host.display()));
    }
    let inside_a_root = roots
        .iter()
        .any(|root| std::fs::canonicalize(root).is_ok_and(|root| host.starts_with(root)));
    if !inside_a_root {
        let allowed: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
        return Err(format!(
            "resolves to {}, which is not inside the rule's files-read-only [{}]",
            host.display(),
            allowed.join(", ")
        ));
    }
    if let Some(own) = protected
        .iter()
        .find(|own| own.starts_with(&host) || host.starts_with(own))
    {
        return Err(format!(
            "resolves to {}, which would reach the host's own {}",
            host.display(),
            own.display()
        ));
    }
    Ok(GrantedDir {
        guest: normalized(dir),
        host,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::testing::{declaring, no_policy, policy};
    use crate::manifest::ManifestCapabilities;

    fn files_declaring(dirs: &[&Path]) -> ManifestCapabilities {
        let listed: Vec<String> = dirs
            .iter()
            .map(|d| format!("{:?}", d.display().to_string()))
            .collect();
        declaring(&format!(
            "[capabilities]\noptional = [\"files\"]\n[capabilities.files]\nread-only = [{}]\n",
            listed.join(", ")
        ))
    }

    fn granted(g: &crate::policy::Grants) -> Vec<GrantedDir> {
        g.params::<FilesGrant>(FILES)
            .map(|f| f.dirs.clone())
            .unwrap_or_default()
    }

    fn temp_tree(name: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("ok/docs")).unwrap();
        std::fs::create_dir_all(root.join("outside")).unwrap();
        root
    }

    #[test]
    fn files_need_a_rule_naming_them() {
        let d = files_declaring(&[Path::new("/srv/docs")]);
        let none = no_policy().evaluate("p", &d);
        assert!(!none.allows(FILES) && granted(&none).is_empty());
        let g = policy(
            "[[rule]]\nplugins = \"p\"\ngrant = [\"files\"]\nfiles-read-only = [\"/srv\"]\n",
        )
        .unwrap()
        .evaluate("p", &d);
        assert!(g.allows(FILES));
        assert!(
            granted(&g).is_empty(),
            "the directory does not exist here: {g:?}"
        );
        let err = policy("[[rule]]\nplugins = \"p\"\ngrant = [\"files\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "line 2: a rule that grants `files` must say what it allows with `files-read-only`"
            ),
            "{err}"
        );
        let err = policy("[[rule]]\nplugins = \"p\"\nfiles-read-only = [\"rel\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`rel` is not an absolute path"), "{err}");
    }

    #[test]
    fn declared_directories_resolve_inside_a_root_or_are_withheld() {
        let root = temp_tree("resolve");
        let policy = policy(&format!(
            "[[rule]]\nplugins = \"p\"\ngrant = [\"files\"]\nfiles-read-only = [\"{}\"]\n",
            root.join("ok").display()
        ))
        .unwrap();
        // `..` climbing out of the root, spelled to start inside it.
        let climbing = root.join("ok/../outside");
        #[cfg(unix)]
        std::os::unix::fs::symlink(root.join("outside"), root.join("ok/link")).unwrap();
        let linked = root.join("ok/link");
        let missing = root.join("ok/missing");
        let inside = root.join("ok/docs/../docs");
        let g = policy.evaluate(
            "p",
            &files_declaring(&[&climbing, &linked, &missing, &inside]),
        );
        assert_eq!(
            granted(&g),
            vec![GrantedDir {
                guest: root.join("ok/docs"),
                host: std::fs::canonicalize(root.join("ok/docs")).unwrap(),
            }]
        );
        let withheld = g.withheld.join("\n");
        assert!(
            withheld.contains("ok/../outside` resolves to")
                && withheld.contains("not inside the rule's files-read-only"),
            "{withheld}"
        );
        #[cfg(unix)]
        assert!(withheld.contains("ok/link` resolves to"), "{withheld}");
        assert!(
            withheld.contains("ok/missing` cannot be resolved"),
            "{withheld}"
        );
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn the_hosts_own_files_are_never_granted() {
        let root = temp_tree("own");
        std::fs::create_dir_all(root.join("ok/data")).unwrap();
        let policy =
            policy("[[rule]]\nplugins = \"p\"\ngrant = [\"files\"]\nfiles-read-only = [\"/\"]\n")
                .unwrap()
                .protecting([root.join("ok/data"), root.join("outside/state.key")]);
        let g = policy.evaluate(
            "p",
            &files_declaring(&[
                &root.join("ok"),
                &root.join("ok/data"),
                &root.join("ok/docs"),
            ]),
        );
        let dirs = granted(&g);
        assert_eq!(dirs.len(), 1, "{g:?}");
        assert!(dirs[0].guest.ends_with("ok/docs"));
        let withheld = g.withheld.join("\n");
        assert_eq!(
            withheld.matches("would reach the host's own").count(),
            2,
            "{withheld}"
        );
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn the_keys_the_policy_trusts_are_never_granted() {
        // A plugin that could write the trusted key file could sign itself.
        let root = temp_tree("keys");
        std::fs::create_dir_all(root.join("etc/keys")).unwrap();
        std::fs::create_dir_all(root.join("etc/docs")).unwrap();
        std::fs::write(
            root.join("etc/keys/release.pub"),
            "RWTfcQKogJSDwb6goEGnm5NpPLdUhuwjrzbajNVSTpAGHC8uaJ5w3vnp\n",
        )
        .unwrap();
        let text = format!(
            "[trusted-keys]\nrelease = {{ minisign-file = {:?} }}\n\n[[rule]]\nplugins = \"p\"\n\
             grant = [\"files\"]\nfiles-read-only = [\"/\"]\n",
            root.join("etc/keys/release.pub")
        );
        let declared = files_declaring(&[
            &root.join("etc"),
            &root.join("etc/keys"),
            &root.join("etc/docs"),
        ]);
        for policy in [
            policy(&text).unwrap(),
            policy(&text).unwrap().protecting([]),
        ] {
            let g = policy.evaluate("p", &declared);
            let dirs = granted(&g);
            assert_eq!(dirs.len(), 1, "{g:?}");
            assert!(dirs[0].guest.ends_with("etc/docs"));
            assert_eq!(
                g.withheld
                    .join("\n")
                    .matches("would reach the host's own")
                    .count(),
                2,
                "{:?}",
                g.withheld
            );
        }
        let _ = std::fs::remove_dir_all(root);
    }
}

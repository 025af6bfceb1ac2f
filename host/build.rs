//! Embeds the plugin contract (`wit/*.wit`) and the guest SDKs the
//! scaffolder writes, listed from their directories so that a new WIT file
//! or SDK module is picked up without editing a list.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One embedded set: its name (its file in `OUT_DIR`, holding a
/// `&[(path, text)]` expression, is the name in lower case, `.rs`), the
/// directory, the extensions kept, and the prefix of each file's path in
/// the output.
struct Embedded {
    constant: &'static str,
    dir: &'static str,
    extensions: &'static [&'static str],
    prefix: &'static str,
}

const EMBEDDED: &[Embedded] = &[
    Embedded {
        constant: "WIT_FILES",
        dir: "wit",
        extensions: &["wit"],
        prefix: "",
    },
    Embedded {
        constant: "PYTHON_SDK",
        dir: "guest-sdk/python/mcp_plugin",
        extensions: &["py"],
        prefix: "sdk/mcp_plugin/",
    },
    Embedded {
        constant: "JS_SDK",
        dir: "guest-sdk/js",
        extensions: &["js", "mjs"],
        prefix: "sdk/",
    },
    Embedded {
        constant: "RUST_SDK",
        dir: "guest-sdk/rust/src",
        extensions: &["rs"],
        prefix: "sdk/rust/src/",
    },
];

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join("..");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    record_commit(&root);
    record_versions(&root);
    for set in EMBEDDED {
        let mut code = String::new();
        let dir = root.join(set.dir);
        println!("cargo:rerun-if-changed={}", dir.display());
        let files = files_in(&dir, set.extensions);
        assert!(!files.is_empty(), "no files to embed in {}", dir.display());
        code.push_str("&[\n");
        for file in files {
            let name = file
                .file_name()
                .unwrap()
                .to_str()
                .expect("UTF-8 file names");
            println!("cargo:rerun-if-changed={}", file.display());
            writeln!(
                code,
                "    ({:?}, include_str!({:?})),",
                format!("{}{name}", set.prefix),
                file.canonicalize()
                    .expect("an embedded file")
                    .display()
                    .to_string()
            )
            .unwrap();
        }
        code.push_str("]\n");
        let out = out_dir.join(format!("{}.rs", set.constant.to_ascii_lowercase()));
        std::fs::write(out, code).expect("writable OUT_DIR");
    }
}

/// Set `MCP_WASM_HOST_COMMIT` to the commit being built (for `--version`),
/// or to a note saying there is none (a build outside a git checkout).
fn record_commit(root: &Path) {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .map(|text| text.trim().to_string())
    };
    // A build without the repository (a container build) may name it.
    println!("cargo:rerun-if-env-changed=MCP_WASM_HOST_COMMIT");
    let commit = std::env::var("MCP_WASM_HOST_COMMIT")
        .ok()
        .filter(|commit| !commit.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "commit not recorded".to_string());
    println!("cargo:rustc-env=MCP_WASM_HOST_COMMIT={commit}");
    if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        let git_dir = PathBuf::from(git_dir);
        println!("cargo:rerun-if-changed={}", git_dir.join("HEAD").display());
        if let Some(head) = git(&["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={}", git_dir.join(head).display());
        }
    }
}

/// The versions of wasmtime and rmcp the lock file resolved, for
/// `mcp_wasm_host_build_info`.
fn record_versions(root: &Path) {
    let lock_path = root.join("Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock_path.display());
    let lock = std::fs::read_to_string(&lock_path).unwrap_or_default();
    for (package, variable) in [
        ("wasmtime", "MCP_WASM_HOST_WASMTIME_VERSION"),
        ("rmcp", "MCP_WASM_HOST_RMCP_VERSION"),
    ] {
        let name_line = format!("name = \"{package}\"");
        let version = lock
            .split("[[package]]")
            .find(|entry| entry.lines().any(|l| l.trim() == name_line))
            .and_then(|entry| {
                entry
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("version = "))
                    .map(|v| v.trim_matches('"').to_string())
            })
            .unwrap_or_else(|| "unknown".to_string());
        println!("cargo:rustc-env={variable}={version}");
    }
}

/// The files of `dir` with one of `extensions`, by name.
fn files_in(dir: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| extensions.contains(&e))
        })
        .collect();
    files.sort();
    files
}

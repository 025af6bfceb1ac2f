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

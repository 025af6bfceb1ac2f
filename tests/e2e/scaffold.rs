//! `plugin new`: a new plugin in each language builds with its own
//! `build.sh`, as written, loads, and answers over MCP with its context.
//! The language toolchains are the ones `scripts/build-plugins.sh`
//! installed for the examples.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use super::support::*;

/// Scaffold `name` in `language` under a fresh directory and build it with
/// its `build.sh`; returns the plugin's own project directory, which holds
/// `<name>.wasm` and `<name>.toml` beside its sources (and a `Cargo.toml`
/// or `package.json`), served as it is.
fn scaffold_and_build(language: &str, name: &str, env: &[(&str, &Path)]) -> PluginDir {
    let work = PluginDir::empty();
    let created = Command::new(host_binary())
        .args(["plugin", "new", "--lang", language, name, "--dir"])
        .arg(&work.path)
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "plugin new: {}",
        String::from_utf8_lossy(&created.stderr)
    );
    let mut build = Command::new(work.path.join(name).join("build.sh"));
    for (key, value) in env {
        build.env(key, value);
    }
    let built = build.output().unwrap();
    assert!(
        built.status.success(),
        "{language} build.sh failed:\n{}\n{}",
        String::from_utf8_lossy(&built.stdout),
        String::from_utf8_lossy(&built.stderr)
    );
    let project = PluginDir::empty();
    std::fs::remove_dir(&project.path).unwrap();
    std::fs::rename(work.path.join(name), &project.path).unwrap();
    project
}

async fn greets_twice(plugins: &PluginDir, language: &str) {
    // Its own project directory (sources, `Cargo.toml` or `package.json`
    // beside the component) lists just its tool, with nothing refused.
    let listed = Command::new(host_binary())
        .arg("list")
        .arg(&plugins.path)
        .args(["--cache-dir", shared_cache_dir().to_str().unwrap()])
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&listed.stdout),
        String::from_utf8_lossy(&listed.stderr),
    );
    assert!(listed.status.success(), "{language}: {err}");
    assert!(out.starts_with("tools (1):\n  greet"), "{language}: {out}");
    assert!(err.is_empty(), "{language}: {err}");
    let host = Connected::start(plugins, HostOptions::new(Era::Handshake, Transport::Stdio))
        .await
        .unwrap();
    let first = host.call_ok("greet", json!({"name": "Ada"})).await;
    assert_eq!(text_of(&first), "Hello, Ada! (greeting 1)", "{language}");
    let second = host.call_ok("greet", json!({"name": "Ada"})).await;
    assert_eq!(text_of(&second), "Hello, Ada! (greeting 2)", "{language}");
    wait_until(&host.received, "the greeting's log line", |r| {
        r.logs
            .iter()
            .any(|l| l.data == json!("greeting Ada (greeting 2 of this session)"))
    })
    .await;
    host.shutdown().await;
}

#[tokio::test]
async fn new_python_and_javascript_plugins_build_and_run_as_written() {
    let root = repo_root();
    let python = root.join("target/guest-python/bin/componentize-py");
    let js = root.join("target/guest-js/node_modules/.bin/componentize-js");
    let plugins = scaffold_and_build("python", "py-greeter", &[("COMPONENTIZE_PY", &python)]);
    greets_twice(&plugins, "python").await;
    let plugins = scaffold_and_build("js", "js_greeter", &[("COMPONENTIZE_JS", &js)]);
    greets_twice(&plugins, "js").await;
}

#[tokio::test]
async fn a_new_plugin_never_overwrites_and_names_are_checked() {
    let work = PluginDir::empty();
    let new = |name: &str| {
        Command::new(host_binary())
            .args(["plugin", "new", "--lang", "python", name, "--dir"])
            .arg(&work.path)
            .output()
            .unwrap()
    };
    assert!(new("mine").status.success());
    std::fs::write(work.path.join("mine/app.py"), "# my own work\n").unwrap();
    let again = new("mine");
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already exists"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(work.path.join("mine/app.py")).unwrap(),
        "# my own work\n"
    );
    let bad = new("../escape");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not a plugin name"));
}

#[tokio::test]
async fn a_new_rust_plugin_builds_and_runs_as_written() {
    // A target directory kept between runs, so only the first run compiles
    // the dependencies (and, on the Debian route, std).
    let target = repo_root().join("target/scaffold-rust");
    let plugins = scaffold_and_build("rust", "rs_greeter", &[("CARGO_TARGET_DIR", &target)]);
    greets_twice(&plugins, "rust").await;
}

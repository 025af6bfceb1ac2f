//! Trust boundaries tried as an attacker would: a plugin's `files` grant
//! escaped with `..` or a symbolic link, the host's own files and
//! variables reached through a broad rule, a rule that grants without
//! narrowing. Each test fails on a host that lets the attack through.

use std::path::Path;

use crate::support::*;
use serde_json::json;

fn chatty_reading(dirs: &[&Path], variables: &[&str]) -> String {
    let dirs: Vec<String> = dirs
        .iter()
        .map(|d| format!("\"{}\"", d.display()))
        .collect();
    let variables: Vec<String> = variables.iter().map(|v| format!("\"{v}\"")).collect();
    format!(
        "name = \"chatty\"\nversion = \"0.1.0\"\n[capabilities]\noptional = [\"files\", \"env\"]\n\
         [capabilities.files]\nread-only = [{}]\n[capabilities.env]\nvariables = [{}]\n",
        dirs.join(", "),
        variables.join(", ")
    )
}

fn files_rule(roots: &[&Path], variables: &[&str]) -> String {
    let roots: Vec<String> = roots
        .iter()
        .map(|d| format!("\"{}\"", d.display()))
        .collect();
    let variables: Vec<String> = variables.iter().map(|v| format!("\"{v}\"")).collect();
    format!(
        "[[rule]]\nplugins = \"chatty\"\ngrant = [\"files\", \"env\"]\n\
         files-read-only = [{}]\nenv-variables = [{}]\n",
        roots.join(", "),
        variables.join(", ")
    )
}

/// `plugin check` of chatty in `dir` under its `policy.toml`: stdout.
fn check_chatty(dir: &PluginDir) -> String {
    let output = std::process::Command::new(host_binary())
        .args(["plugin", "check"])
        .arg(dir.path.join("chatty.wasm"))
        .arg("--policy")
        .arg(dir.path.join("policy.toml"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn a_declared_directory_that_climbs_out_of_its_root_is_not_granted() {
    let data = PluginDir::empty();
    std::fs::create_dir_all(data.path.join("ok")).unwrap();
    data.write("ok/inside.txt", "inside");
    let root = data.path.join("ok");
    // Enough `..` to reach `/` from any temporary directory, then /etc.
    let depth = root.components().count();
    let climbing = root.join("../".repeat(depth)).join("etc");
    let dir = PluginDir::with(&[], &["chatty"]);
    dir.set_manifest("chatty", &chatty_reading(&[&climbing, &root], &[]));
    let options = HostOptions::new(Era::Handshake, Transport::Stdio);
    let options = options.policy(&dir, &files_rule(&[&root], &[]));

    let check = check_chatty(&dir);
    assert!(
        check.contains("withheld: files:")
            && check.contains("resolves to /etc, which is not inside the rule's files-read-only"),
        "{check}"
    );
    assert!(check.contains("verdict: loads"), "{check}");

    let host = Connected::start(&dir, options).await.unwrap();
    host.stderr
        .wait_for("not granted: files:", std::time::Duration::from_secs(10))
        .await
        .unwrap();
    for path in [
        climbing.join("hostname"),
        Path::new("/etc/hostname").to_path_buf(),
    ] {
        let read = host.call("read_file", json!({"path": path})).await.unwrap();
        assert_eq!(read.is_error, Some(true), "{path:?}: {}", text_of(&read));
    }
    assert_eq!(
        text_of(
            &host
                .call_ok("read_file", json!({"path": root.join("inside.txt")}))
                .await
        ),
        "inside"
    );
    host.shutdown().await;
}

#[cfg(unix)]
#[tokio::test]
async fn a_symbolic_link_inside_a_granted_directory_is_not_followed_out() {
    let data = PluginDir::empty();
    std::fs::create_dir_all(data.path.join("ok")).unwrap();
    data.write("ok/inside.txt", "inside");
    let root = data.path.join("ok");
    std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", root.join("hostname")).unwrap();
    let dir = PluginDir::with(&[], &["chatty"]);
    dir.set_manifest("chatty", &chatty_reading(&[&root], &[]));
    let options = HostOptions::new(Era::Handshake, Transport::Stdio);
    let options = options.policy(&dir, &files_rule(&[&root], &[]));
    let host = Connected::start(&dir, options).await.unwrap();
    for path in [root.join("etc/hostname"), root.join("hostname")] {
        let read = host.call("read_file", json!({"path": path})).await.unwrap();
        assert_eq!(read.is_error, Some(true), "{path:?}: {}", text_of(&read));
    }
    host.call_ok("read_file", json!({"path": root.join("inside.txt")}))
        .await;
    host.shutdown().await;

    // A declared directory that is itself a link out of the root resolves
    // outside it, and is not granted.
    dir.set_manifest("chatty", &chatty_reading(&[&root.join("etc")], &[]));
    let check = check_chatty(&dir);
    assert!(
        check.contains("resolves to /etc, which is not inside"),
        "{check}"
    );
}

#[tokio::test]
async fn the_hosts_own_files_and_variables_stay_out_of_reach() {
    // The plugin asks for a directory that holds the host's data directory
    // and its state key, and for the one holding its secrets file (named by
    // the `secrets` capability's own setting); the rule allows all of `/`.
    let own = PluginDir::empty();
    let data_dir = own.path.join("data");
    let key = own.path.join("state.key");
    let vault = PluginDir::empty();
    vault.write("secrets.toml", "vaulted = \"hunter3\"\n");
    let secrets_file = vault.path.join("secrets.toml");
    let dir = PluginDir::with(&[], &["chatty"]);
    dir.set_manifest(
        "chatty",
        &chatty_reading(
            &[&own.path, &data_dir, &vault.path],
            &["MCP_WASM_HOST_LOG", "MCP_WASM_HOST_SECRET_API"],
        ),
    );
    let options = HostOptions::new(Era::Handshake, Transport::Stdio)
        .arg("--data-dir")
        .arg(data_dir.to_str().unwrap())
        .arg("--state-key-file")
        .arg(key.to_str().unwrap())
        .arg("--secrets-file")
        .arg(secrets_file.to_str().unwrap())
        .env("MCP_WASM_HOST_SECRET_API", "hunter2")
        .policy(
            &dir,
            &files_rule(
                &[Path::new("/")],
                &["MCP_WASM_HOST_LOG", "MCP_WASM_HOST_SECRET_API"],
            ),
        );
    let host = Connected::start(&dir, options).await.unwrap();
    // Each refusal is a log line of its own; wait for the last of them.
    let stderr = host
        .stderr
        .wait_for("host's own variables", std::time::Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        stderr.contains("which would reach the host's own"),
        "{stderr}"
    );
    assert!(key.exists(), "the host made its key");
    #[cfg(unix)]
    for own_file in [&key, &data_dir.join("state.sqlite3")] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(own_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{own_file:?}");
    }
    for path in [&key, &secrets_file] {
        let read = host.call("read_file", json!({"path": path})).await.unwrap();
        assert_eq!(read.is_error, Some(true), "{path:?}: {}", text_of(&read));
        assert!(!text_of(&read).contains("hunter3"), "{}", text_of(&read));
    }
    for name in ["MCP_WASM_HOST_LOG", "MCP_WASM_HOST_SECRET_API"] {
        assert_eq!(
            text_of(&host.call_ok("env", json!({"name": name})).await),
            "unset",
            "{name}"
        );
    }
    host.shutdown().await;
}

#[test]
fn a_rule_granting_files_or_env_without_its_list_stops_the_host() {
    let dir = PluginDir::empty();
    for (grant, list) in [("files", "files-read-only"), ("env", "env-variables")] {
        dir.write(
            "policy.toml",
            format!("[[rule]]\nplugins = \"*\"\ngrant = [\"{grant}\"]\n"),
        );
        let refused = serve_refuses([
            "--plugins",
            dir.path.to_str().unwrap(),
            "--policy",
            dir.path.join("policy.toml").to_str().unwrap(),
        ]);
        assert!(
            refused.contains(&format!(
                "a rule that grants `{grant}` must say what it allows with `{list}`"
            )),
            "{refused}"
        );
    }
}

fn cache_entries(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    entries.sort();
    entries
}

#[tokio::test]
async fn compile_cache_entries_swapped_or_altered_are_never_run() {
    let cache = PluginDir::empty();
    let dir = PluginDir::with(&["hello", "texttools"], &[]);
    let options = HostOptions::new(Era::Handshake, Transport::Stdio).cache_dir(&cache.path);
    let host = Connected::start(&dir, options.clone()).await.unwrap();
    host.call_ok("add", json!({"a": 1, "b": 2})).await;
    host.shutdown().await;

    // Each entry is valid native code for this engine; swap the two, so
    // each plugin's name leads to the other's code.
    let entries = cache_entries(&cache.path);
    assert_eq!(entries.len(), 2, "{entries:?}");
    let (a, b) = (
        std::fs::read(&entries[0]).unwrap(),
        std::fs::read(&entries[1]).unwrap(),
    );
    std::fs::write(&entries[0], &b).unwrap();
    std::fs::write(&entries[1], &a).unwrap();

    let host = Connected::start(&dir, options).await.unwrap();
    host.stderr
        .wait_for(
            "fails its integrity check",
            std::time::Duration::from_secs(10),
        )
        .await
        .unwrap();
    let add = host.call_ok("add", json!({"a": 1, "b": 2})).await;
    assert_eq!(add.structured_content, Some(json!({"sum": 3.0})));
    host.call_ok("slugify", json!({"text": "A b"})).await;
    host.shutdown().await;
}

#[cfg(unix)]
#[tokio::test]
async fn a_cache_directory_others_may_write_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let cache = PluginDir::empty();
    std::fs::set_permissions(&cache.path, std::fs::Permissions::from_mode(0o777)).unwrap();
    let dir = PluginDir::with(&["hello"], &[]);
    let host = Connected::start(
        &dir,
        HostOptions::new(Era::Handshake, Transport::Stdio).cache_dir(&cache.path),
    )
    .await
    .unwrap();
    let stderr = host
        .stderr
        .wait_for(
            "not using the compile cache",
            std::time::Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert!(stderr.contains("group or others may write it"), "{stderr}");
    host.call_ok("add", json!({"a": 1, "b": 2})).await;
    host.shutdown().await;
    assert!(
        cache_entries(&cache.path).is_empty(),
        "nothing was cached there"
    );
    assert!(
        !cache.path.join("state.key").exists(),
        "no key was kept there"
    );
}

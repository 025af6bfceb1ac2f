//! The container image: built with `docker` or `podman` when one of them
//! can build here, otherwise skipped with a message saying why.

use std::process::Command;

use super::support::*;

/// A container engine that answers, if there is one.
fn container_engine() -> Option<&'static str> {
    ["docker", "podman"].into_iter().find(|engine| {
        Command::new(engine)
            .arg("info")
            .output()
            .is_ok_and(|out| out.status.success())
    })
}

#[test]
fn the_container_image_builds_runs_unprivileged_and_lists_the_examples() {
    let Some(engine) = container_engine() else {
        eprintln!("skipped: neither docker nor podman can build images on this machine");
        return;
    };
    let tag = format!("mcp-wasm-host-e2e:{}", std::process::id());
    let built = Command::new(engine)
        .args(["build", "-t", &tag, "."])
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{engine} build failed:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let run = |args: &[&str]| {
        let out = Command::new(engine)
            .args(["run", "--rm"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let listed = run(&[&tag, "list"]);
    assert!(listed.contains("  add — "), "{listed}");
    assert!(!listed.contains("test_simple_text"), "{listed}");
    let user = run(&["--entrypoint", "id", &tag, "-u"]);
    assert_eq!(user.trim(), "10001");
    let _ = Command::new(engine).args(["rmi", &tag]).output();
}

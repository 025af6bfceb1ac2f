//! Loading a plugin directory: broken plugins are reported and skipped while
//! good ones serve, and tool-name collisions are resolved visibly.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn broken_plugins_are_reported_and_the_good_ones_serve() {
    let dir = PluginDir::with(&["hello"], &[]);
    // Not WebAssembly at all.
    dir.write("garbage.wasm", b"this is not wasm");
    dir.write("garbage.toml", "name = \"garbage\"\nversion = \"1\"\n");
    // A valid component without a manifest.
    let hello = std::fs::read(example_plugins().join("hello.wasm")).unwrap();
    dir.write("orphan.wasm", &hello);
    // A manifest with an unknown field.
    dir.write("typo.wasm", &hello);
    dir.write(
        "typo.toml",
        "name = \"typo\"\nversion = \"1\"\ncapabilitys = []\n",
    );
    // A manifest whose name disagrees with its file.
    dir.write("alias.wasm", &hello);
    dir.write("alias.toml", "name = \"other\"\nversion = \"1\"\n");
    // A core module, not a component.
    dir.write("core.wasm", b"\0asm\x01\0\0\0");
    dir.write("core.toml", "name = \"core\"\nversion = \"1\"\n");
    // A component cut off in the middle.
    dir.write("truncated.wasm", &hello[..hello.len() / 2]);
    dir.write("truncated.toml", "name = \"truncated\"\nversion = \"1\"\n");
    // A manifest without a component.
    dir.write("lonely.toml", "name = \"lonely\"\nversion = \"1\"\n");

    let host = Connected::start(&dir, HostOptions::new(Era::Handshake, Transport::Stdio))
        .await
        .unwrap();
    assert_eq!(host.tool_names().await, ["add", "countdown", "echo"]);
    assert_eq!(text_of(&host.call_ok("echo", echo_args("ok")).await), "ok");

    let expect = [
        (
            "garbage.wasm",
            "does not start with the WebAssembly magic number",
        ),
        ("orphan.wasm", "has no manifest"),
        ("typo.wasm", "line 3: unknown field `capabilitys`"),
        ("alias.wasm", "does not match the file name `alias`"),
        ("core.wasm", "is a core WebAssembly module, not a component"),
        ("lonely.wasm", "has no component"),
        ("truncated.wasm", "is not a valid WebAssembly component"),
    ];
    host.stderr
        .wait_until_count("plugin not loaded", expect.len(), Duration::from_secs(10))
        .await;
    let log = host.stderr.text();
    for (file, reason) in expect {
        let line = log
            .lines()
            .find(|l| l.contains("plugin not loaded") && l.contains(file))
            .unwrap_or_else(|| panic!("no load failure reported for {file}:\n{log}"));
        assert!(
            line.contains(reason),
            "{file}: expected {reason:?} in {line}"
        );
    }
    host.shutdown().await;
}

#[tokio::test]
async fn colliding_tool_names_are_qualified_by_plugin() {
    let dir = PluginDir::with(&["hello"], &["twin"]);
    for (era, transport) in [
        (Era::Handshake, Transport::Stdio),
        (Era::Modern, Transport::Http),
    ] {
        let host = Connected::start(&dir, HostOptions::new(era, transport))
            .await
            .unwrap();
        assert_eq!(
            host.tool_names().await,
            [
                "add",
                "calls",
                "countdown",
                "elicit_name",
                "hello.echo",
                "trap",
                "twin.echo"
            ]
        );
        let a = host.call_ok("hello.echo", echo_args("x")).await;
        let b = host.call_ok("twin.echo", echo_args("x")).await;
        assert_eq!(text_of(&a), "x");
        assert_eq!(text_of(&b), "twin: x");
        let bare = host.call("echo", json!({"text": "x"})).await.unwrap_err();
        assert_eq!(protocol_error(&bare).unwrap().0, -32602);
        host.stderr
            .wait_for(
                "tool `echo` is declared by plugins hello, twin",
                Duration::from_secs(10),
            )
            .await
            .expect("the collision is reported");
        host.shutdown().await;
    }
}

#[tokio::test]
async fn a_missing_plugin_directory_stops_the_host_with_a_clear_error() {
    let stderr = serve_refuses(["--plugins", "/nonexistent/plugins"]);
    assert!(
        stderr.contains("/nonexistent/plugins does not exist"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_restart_loads_from_the_compile_cache() {
    let dir = PluginDir::with(&["hello"], &[]);
    let cache = PluginDir::empty();
    let options = HostOptions::new(Era::Handshake, Transport::Stdio).cache_dir(&cache.path);
    let first = Connected::start(&dir, options.clone()).await.unwrap();
    let log = first
        .stderr
        .wait_for("plugin loaded", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(log.contains("cache=Miss"), "{log}");
    first.shutdown().await;
    let compiled = || {
        std::fs::read_dir(&cache.path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        compiled().len(),
        1,
        "one precompiled component in the cache"
    );

    let second = Connected::start(&dir, options).await.unwrap();
    let log = second
        .stderr
        .wait_for("plugin loaded", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(log.contains("cache=Hit"), "{log}");
    assert_eq!(
        text_of(&second.call_ok("echo", echo_args("cached")).await),
        "cached"
    );
    second.shutdown().await;

    // A corrupt cache entry fails its integrity check: it is discarded and
    // rebuilt, never trusted.
    for entry in compiled() {
        std::fs::write(entry, b"garbage").unwrap();
    }
    let third = Connected::start(
        &dir,
        HostOptions::new(Era::Handshake, Transport::Stdio).cache_dir(&cache.path),
    )
    .await
    .unwrap();
    let log = third
        .stderr
        .wait_for("plugin loaded", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        log.contains("discarding a compile-cache entry that fails its integrity check"),
        "{log}"
    );
    assert_eq!(
        text_of(&third.call_ok("echo", echo_args("rebuilt")).await),
        "rebuilt"
    );
    third.shutdown().await;
}

#[tokio::test]
async fn without_plugins_the_host_serves_the_built_examples() {
    // Started from elsewhere, the binary still finds target/plugins beside its build directory.
    let unused = PluginDir::empty();
    let host = Connected::start(
        &unused,
        HostOptions::new(Era::Handshake, Transport::Stdio).default_plugin_dir(),
    )
    .await
    .unwrap();
    let names = host.tool_names().await;
    for expected in ["add", "echo", "search"] {
        assert!(names.iter().any(|n| n == expected), "{names:?}");
    }
    host.shutdown().await;
}

//! `list`, `call`, `completions` and `--version`: trying plugins without
//! an MCP client, in each example language, with the errors a client would
//! get.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use super::support::*;

/// Run the host binary with `args` (and the shared compile cache, a private
/// data directory), stdin empty.
fn host(args: &[&str], data: &PluginDir) -> Output {
    Command::new(host_binary())
        .args(args)
        .arg("--cache-dir")
        .arg(shared_cache_dir())
        .arg("--data-dir")
        .arg(&data.path)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn example(name: &str) -> PathBuf {
    example_plugins().join(format!("{name}.wasm"))
}

fn conformance() -> PathBuf {
    conformance_plugins().join("conformance.wasm")
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn list_shows_tools_prompts_and_resources_with_their_schemas() {
    let data = PluginDir::empty();
    let dir = PluginDir::with(&["hello", "notes"], &[]);
    let listed = host(&["list", path(&dir.path), "--json"], &data);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let listing: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let add = listing["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "add")
        .expect("add is listed");
    assert_eq!(add["inputSchema"]["required"], json!(["a", "b"]));
    assert_eq!(add["outputSchema"]["required"], json!(["sum"]));
    let names = |key: &str, field: &str| -> Vec<String> {
        listing[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item[field].as_str().unwrap().to_string())
            .collect()
    };
    assert!(names("tools", "name").contains(&"add_note".to_string()));
    assert!(names("prompts", "name").contains(&"review_note".to_string()));
    assert_eq!(names("resourceTemplates", "uriTemplate"), ["note://{name}"]);

    // One component, for people.
    let listed = host(&["list", path(&example("hello"))], &data);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let text = stdout(&listed);
    assert!(text.starts_with("tools (3):\n"), "{text}");
    assert!(text.contains("  add — "), "{text}");
    assert!(text.contains("    input: {\"properties\":{\"a\""), "{text}");
    assert!(
        !text.contains("add_note") && !text.contains("$schema"),
        "{text}"
    );
}

#[test]
fn call_runs_a_tool_in_each_example_language() {
    let data = PluginDir::empty();
    let cases = [
        ("hello", "add", json!({"a": 2, "b": 3}), "2 + 3 = 5"),
        (
            "stats-py",
            "describe",
            json!({"numbers": [1, 2, 3, 4]}),
            "\"mean\": 2.5",
        ),
        (
            "json-js",
            "format",
            json!({"json": "{\"a\": [1, 2]}", "indent": 0}),
            "{\"a\":[1,2]}",
        ),
        ("checksum-c", "crc32", json!({"text": "hello"}), "3610a686"),
    ];
    for (plugin, tool, arguments, expected) in cases {
        let arguments = arguments.to_string();
        let called = host(
            &[
                "call",
                tool,
                &arguments,
                "--plugins",
                path(&example(plugin)),
            ],
            &data,
        );
        assert!(called.status.success(), "{plugin}: {}", stderr(&called));
        assert!(
            stdout(&called).contains(expected),
            "{plugin}: {}",
            stdout(&called)
        );
    }
    // The whole result, as MCP returns it.
    let called = host(
        &[
            "call",
            "add",
            r#"{"a": 1, "b": 2}"#,
            "--json",
            "--plugins",
            path(&example_plugins()),
        ],
        &data,
    );
    assert!(called.status.success(), "{}", stderr(&called));
    let result: Value = serde_json::from_slice(&called.stdout).unwrap();
    assert_eq!(result["structuredContent"]["sum"], json!(3.0));
}

#[test]
fn call_names_the_errors_a_client_would_get() {
    let data = PluginDir::empty();
    let hello = example("hello");
    let refused = |args: &[&str], needle: &str| {
        let mut all = vec!["call"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--plugins", path(&hello)]);
        let output = host(&all, &data);
        assert!(!output.status.success(), "{args:?} succeeded");
        let text = stderr(&output);
        assert!(text.contains(needle), "{args:?}: {text}");
        // One line naming the cause, not the SDK's log of it.
        assert!(!text.contains("rmcp"), "{args:?}: {text}");
        output
    };
    refused(&["nope"], "unknown tool `nope` (MCP error -32602)");
    refused(
        &["add", r#"{"a": "x", "b": 1}"#],
        "invalid arguments for tool `add`: `/a`: \"x\" is not of type \"number\"",
    );
    refused(&["add", "{a:"], "the arguments are not valid JSON");
    refused(&["add", "[1, 2]"], "must be a JSON object");

    // A tool that ran and failed: its error is the output, the status 1.
    let failed = host(
        &[
            "call",
            "test_error_handling",
            "--plugins",
            path(&conformance()),
        ],
        &data,
    );
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    assert!(
        stdout(&failed).contains("intentionally returns an error"),
        "{}",
        stdout(&failed)
    );

    let neither = host(
        &["list", path(&example_plugins().join("hello.toml"))],
        &data,
    );
    assert!(!neither.status.success());
    assert!(
        stderr(&neither).contains("is neither a plugin directory nor a component"),
        "{}",
        stderr(&neither)
    );
}

#[test]
fn without_a_terminal_the_plugin_is_told_the_client_cannot_ask() {
    let data = PluginDir::empty();
    let conformance = conformance();
    for (tool, arguments, capability) in [
        (
            "test_elicitation",
            r#"{"message": "Who are you?"}"#,
            "elicitation",
        ),
        (
            "test_sampling",
            r#"{"prompt": "Capital of France?"}"#,
            "sampling",
        ),
    ] {
        let called = host(
            &["call", tool, arguments, "--plugins", path(&conformance)],
            &data,
        );
        assert!(
            stdout(&called).contains(&format!("did not declare the `{capability}` capability")),
            "{tool}: {}{}",
            stdout(&called),
            stderr(&called)
        );
    }
}

/// Run `call` on a terminal (a pseudo-terminal from `script`), typing
/// `typed`; `None` when this machine has no `script`.
fn call_on_a_terminal(
    data: &PluginDir,
    tool: &str,
    arguments: &str,
    typed: &str,
) -> Option<String> {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: no `script` to give `call` a terminal");
        return None;
    }
    let command = format!(
        "{} call {tool} '{arguments}' --plugins {} --cache-dir {} --data-dir {}",
        path(&host_binary()),
        path(&conformance()),
        path(&shared_cache_dir()),
        path(&data.path),
    );
    let output = output_fed(
        Command::new("script").args(["-qec", &command, "/dev/null"]),
        typed.as_bytes(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    Some(stdout(&output))
}

#[test]
fn on_a_terminal_the_person_answers_elicitation_and_sampling() {
    let data = PluginDir::empty();
    let Some(screen) = call_on_a_terminal(
        &data,
        "test_elicitation",
        r#"{"message": "Who are you?"}"#,
        "ada@example.com\nada\ny\n",
    ) else {
        return;
    };
    assert!(screen.contains("The plugin asks: Who are you?"), "{screen}");
    assert!(
        screen.contains(r#"action=accept, content={"email":"ada@example.com","username":"ada"}"#),
        "{screen}"
    );
    let Some(screen) = call_on_a_terminal(
        &data,
        "test_sampling",
        r#"{"prompt": "Capital of France?"}"#,
        "Paris.\n\n",
    ) else {
        return;
    };
    assert!(screen.contains("user: Capital of France?"), "{screen}");
    assert!(screen.contains("LLM response: Paris."), "{screen}");
}

#[test]
fn completions_and_version() {
    for (shell, marker) in [
        ("bash", "-o bashdefault -o default mcp-wasm-host"),
        ("zsh", "#compdef mcp-wasm-host"),
        ("fish", "complete -c mcp-wasm-host"),
    ] {
        let output = Command::new(host_binary())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(output.status.success(), "{shell}");
        let script = stdout(&output);
        assert!(script.contains(marker), "{shell}: {script:.200}");
        assert!(
            script.contains("call") && script.contains("list"),
            "{shell}"
        );
    }
    let version = Command::new(host_binary())
        .arg("--version")
        .output()
        .unwrap();
    let version = stdout(&version);
    assert!(
        version.starts_with(&format!("mcp-wasm-host {} (", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(repo_root())
        .output();
    if let Ok(head) = head
        && head.status.success()
    {
        let head = stdout(&head);
        assert!(
            version.contains(head.trim()),
            "{version} is not built from {head}"
        );
    }
}

#[test]
fn an_installed_binary_finds_its_plugins_in_its_data_directory() {
    // Installed (`cargo install --path host` puts it in ~/.cargo/bin), the
    // binary has no build directory beside it.
    let home = PluginDir::empty();
    std::fs::create_dir_all(home.path.join("bin")).unwrap();
    let installed = home.path.join("bin/mcp-wasm-host");
    std::fs::copy(host_binary(), &installed).unwrap();
    let data = home.path.join("share");
    let list = || {
        Command::new(&installed)
            .args(["list", "--cache-dir", path(&shared_cache_dir())])
            .env("XDG_DATA_HOME", &data)
            .env_remove("MCP_WASM_HOST_PLUGINS")
            .env_remove("MCP_WASM_HOST_DATA_DIR")
            .output()
            .unwrap()
    };
    let plugins = data.join("mcp-wasm-host/plugins");
    let missing = list();
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains(&format!(
            "plugin directory {} does not exist",
            plugins.display()
        )),
        "{}",
        stderr(&missing)
    );
    std::fs::create_dir_all(&plugins).unwrap();
    for file in ["hello.wasm", "hello.toml"] {
        std::fs::copy(example_plugins().join(file), plugins.join(file)).unwrap();
    }
    let listed = list();
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert!(
        stdout(&listed).starts_with("tools (3):"),
        "{}",
        stdout(&listed)
    );
}

#[test]
fn plugin_inspect_describes_the_component_its_grants_and_its_tools() {
    let dir = PluginDir::with(&["fetch"], &[]);
    dir.write(
        "policy.toml",
        "[[rule]]\nplugins = \"fetch\"\ngrant = [\"http\"]\nhttp-allow = [\"https://api.github.com\"]\n",
    );
    let inspect = |policy: &str, json: bool| {
        let mut command = Command::new(host_binary());
        command
            .args(["plugin", "inspect"])
            .arg(dir.path.join("fetch.wasm"))
            .arg("--policy")
            .arg(dir.path.join(policy));
        if json {
            command.arg("--json");
        }
        command.output().unwrap()
    };
    let inspected = inspect("policy.toml", true);
    assert!(inspected.status.success(), "{}", stderr(&inspected));
    let report: Value = serde_json::from_slice(&inspected.stdout).unwrap();
    let bytes = std::fs::read(dir.path.join("fetch.wasm")).unwrap();
    let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(report["digest"], json!(format!("sha256:{hex}")));
    assert_eq!(report["sizeBytes"], json!(bytes.len()));
    let imports = report["imports"].as_array().unwrap();
    assert!(
        imports.iter().any(|i| i["interface"]
            .as_str()
            .unwrap()
            .starts_with("mcp:plugin/http")
            && i["grantedBy"] == "capability http"),
        "{imports:?}"
    );
    assert_eq!(report["declared"]["required"], json!(["keyvalue"]));
    let http = report["granted"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["capability"] == "http")
        .expect("http is granted");
    assert!(
        http["decidedBy"].as_str().unwrap().contains("rule 1"),
        "{http}"
    );
    let reaches = http["reaches"].to_string();
    assert!(reaches.contains("https://api.github.com"), "{reaches}");
    assert!(!reaches.contains("raw.githubusercontent.com"), "{reaches}");
    assert_eq!(report["loads"], json!(true));
    let fetch = report["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "fetch")
        .expect("the fetch tool");
    assert!(
        fetch["inputSchema"]["properties"]["url"].is_object(),
        "{fetch}"
    );

    // For people: the same, with each tool's schemas.
    let text = stdout(&inspect("policy.toml", false));
    assert!(text.contains("  sha256:"), "{text}");
    assert!(text.contains("tool fetch — "), "{text}");
    assert!(text.contains("  input: {"), "{text}");

    // Refused: status 1, and the JSON says why.
    dir.write(
        "deny.toml",
        "[[rule]]\nplugins = \"fetch\"\ndeny = [\"keyvalue\"]\n",
    );
    let refused = inspect("deny.toml", true);
    assert_eq!(refused.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert_eq!(report["loads"], json!(false));
    assert!(
        report["refusal"].as_str().unwrap().contains("keyvalue"),
        "{report}"
    );
    let keyvalue = report["refused"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["capability"] == "keyvalue")
        .expect("keyvalue is refused");
    assert_eq!(keyvalue["consequence"], "the plugin is refused");
    assert!(keyvalue["decidedBy"].as_str().unwrap().contains("rule 1"));
    assert_eq!(report["tools"], json!([]));
}

/// `list` with the log filter taken from `variables` (name, value).
fn list_logging(variables: &[(&str, &str)], data: &PluginDir) -> Output {
    let mut command = Command::new(host_binary());
    command
        .args(["list", path(&example("hello"))])
        .arg("--cache-dir")
        .arg(shared_cache_dir())
        .arg("--data-dir")
        .arg(&data.path)
        .env_remove("MCP_WASM_HOST_LOG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    for (name, value) in variables {
        command.env(name, value);
    }
    command.output().unwrap()
}

#[test]
fn the_log_filter_comes_from_mcp_wasm_host_log_then_rust_log() {
    let data = PluginDir::empty();
    let loaded = "plugin state in"; // an info line of every start
    // `list` logs warnings only by default.
    let quiet = list_logging(&[], &data);
    assert!(quiet.status.success(), "{}", stderr(&quiet));
    assert!(!stderr(&quiet).contains(loaded), "{}", stderr(&quiet));
    // RUST_LOG is honoured...
    let rust_log = list_logging(&[("RUST_LOG", "info")], &data);
    assert!(stderr(&rust_log).contains(loaded), "{}", stderr(&rust_log));
    // ...unless MCP_WASM_HOST_LOG says otherwise.
    let both = list_logging(
        &[("RUST_LOG", "info"), ("MCP_WASM_HOST_LOG", "warn")],
        &data,
    );
    assert!(!stderr(&both).contains(loaded), "{}", stderr(&both));
    // A filter that does not parse is an error naming its variable.
    for variable in ["MCP_WASM_HOST_LOG", "RUST_LOG"] {
        let bad = list_logging(&[(variable, "info,wasmtime=loudest")], &data);
        assert!(!bad.status.success());
        let text = stderr(&bad);
        assert!(
            text.contains(&format!(
                "{variable}=\"info,wasmtime=loudest\" is not a log filter"
            )),
            "{text}"
        );
    }
}

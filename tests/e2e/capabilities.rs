//! Capabilities at link time: a component may import only what its manifest
//! declares; the operator's policy grants or refuses each declared
//! capability (refusing a required one refuses the plugin, an optional one
//! answers `denied`); a policy that cannot be used stops the host; and
//! `plugin check` says all of this before anything is served.

use std::process::Command;

use serde_json::json;

use super::support::*;

const FACADE_CAPABILITIES: &str = "[capabilities]\nrequired = [\"elicitation\"]\noptional = [\"sampling\", \"roots\", \"session-state\", \"host-catalog\", \"keyvalue\", \"secrets\"]\n[capabilities.keyvalue]\nnamespaces = [\"counters\"]\n[capabilities.secrets]\nnames = [\"fixture-secret\"]\n";

fn facade_manifest(capabilities: &str) -> String {
    format!("name = \"facade\"\nversion = \"0.1.0\"\ndescription = \"d\"\n{capabilities}")
}

#[tokio::test]
async fn an_import_beyond_the_manifest_refuses_the_plugin_naming_the_interface() {
    let dir = PluginDir::with(&["hello"], &["facade"]);
    // The component imports sampling, roots, ... but the manifest declares only elicitation.
    dir.set_manifest(
        "facade",
        &facade_manifest("[capabilities]\nrequired = [\"elicitation\"]\n"),
    );
    let host = Connected::start(&dir, HostOptions::new(Era::Handshake, Transport::Stdio))
        .await
        .unwrap();
    let log = host
        .stderr
        .wait_for(
            "plugin `facade` is refused",
            std::time::Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert!(log.contains("it imports `mcp:plugin/"), "{log}");
    assert!(log.contains("its manifest does not declare it"), "{log}");
    let names = host.tool_names().await;
    assert!(names.contains(&"echo".to_string()) && !names.contains(&"elicit_name".to_string()));
    host.shutdown().await;
}

/// Every optional capability of the facade fixture, with a tool that uses it
/// and the tool's arguments.
const FACADE_USES: &[(&str, &str, &str)] = &[
    ("sampling", "sample", r#"{"prompt": "x"}"#),
    ("roots", "roots", "{}"),
    ("session-state", "remember", r#"{"key": "k", "value": "v"}"#),
    ("host-catalog", "catalog", "{}"),
    (
        "keyvalue",
        "count",
        r#"{"namespace": "counters", "key": "k"}"#,
    ),
    ("secrets", "secret", r#"{"name": "fixture-secret"}"#),
];

#[tokio::test]
async fn each_capability_works_when_granted_and_answers_denied_when_not() {
    let dir = PluginDir::with(&[], &["facade"]);
    dir.write("secrets.toml", "fixture-secret = \"value\"\n");
    let secrets = dir.path.join("secrets.toml");
    let grant_all = "[[rule]]\nplugins = \"facade\"\ngrant = [\"sampling\", \"roots\", \"session-state\", \"host-catalog\", \"keyvalue\", \"secrets\", \"elicitation\"]\n";
    let deny_all = "[[rule]]\nplugins = \"facade\"\ndeny = [\"sampling\", \"roots\", \"session-state\", \"host-catalog\", \"keyvalue\", \"secrets\"]\ngrant = [\"elicitation\"]\n";
    for (policy, granted) in [(grant_all, true), (deny_all, false)] {
        let options = HostOptions::new(Era::Handshake, Transport::Stdio)
            .script(ClientScript::capable([]))
            .policy(&dir, policy)
            .arg("--secrets-file")
            .arg(secrets.to_str().unwrap());
        let host = Connected::start(&dir, options).await.unwrap();
        for (capability, tool, args) in FACADE_USES {
            let args: serde_json::Value = serde_json::from_str(args).unwrap();
            let result = host.call(tool, args).await.unwrap();
            let text = text_of(&result);
            if granted {
                assert_ne!(result.is_error, Some(true), "{capability}: {text}");
            } else {
                assert_eq!(result.is_error, Some(true), "{capability}: {text}");
                assert!(
                    text.contains(&format!(
                        "denied: the `{capability}` capability is not granted by policy rule 1"
                    )),
                    "{capability}: {text}"
                );
            }
        }
        host.shutdown().await;
    }
}

#[tokio::test]
async fn the_policy_grants_refuses_and_denies() {
    let dir = PluginDir::with(&["hello"], &["facade"]);
    dir.set_manifest("facade", &facade_manifest(FACADE_CAPABILITIES));
    // Optional sampling refused by a rule: the plugin loads, sampling answers `denied`.
    dir.write(
        "policy.toml",
        "[[rule]]\nplugins = \"fac*\"\ndeny = [\"sampling\"]\n",
    );
    let policy = dir.path.join("policy.toml");
    let options = HostOptions::new(Era::Handshake, Transport::Stdio)
        .script(ClientScript::capable([accept(json!({"name": "Ada"}))]))
        .arg("--policy")
        .arg(policy.to_str().unwrap());
    let host = Connected::start(&dir, options).await.unwrap();
    let result = host.call("sample", json!({"prompt": "x"})).await.unwrap();
    assert_eq!(result.is_error, Some(true));
    assert_eq!(
        text_of(&result),
        "sampling failed: denied: the `sampling` capability is not granted by policy rule 1 \
         (line 2, plugins = \"fac*\")"
    );
    assert!(
        host.received.lock().unwrap().samplings.is_empty(),
        "the client was never asked"
    );
    // Granted capabilities still work.
    assert_eq!(
        text_of(&host.call_ok("elicit_name", empty_args()).await),
        "hello Ada"
    );
    host.shutdown().await;

    // Required elicitation refused: the plugin is not loaded, and the log says why.
    dir.write(
        "policy.toml",
        "default = \"deny\"\n\n[[rule]]\nplugins = \"hello\"\ngrant = []\n",
    );
    let options = HostOptions::new(Era::Handshake, Transport::Stdio)
        .arg("--policy")
        .arg(policy.to_str().unwrap());
    let host = Connected::start(&dir, options).await.unwrap();
    let log = host
        .stderr
        .wait_for(
            "plugin `facade` is refused",
            std::time::Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert!(
        log.contains("it requires the `elicitation` capability, which the policy default (deny) does not grant"),
        "{log}"
    );
    assert!(host.tool_names().await.contains(&"echo".to_string()));
    host.shutdown().await;
}

#[test]
fn an_invalid_policy_stops_the_host_naming_the_line() {
    let dir = PluginDir::with(&["hello"], &[]);
    dir.write(
        "policy.toml",
        "[[rule]]\nplugins = \"x\"\ngrant = [\"network\"]\n",
    );
    let policy = dir.path.join("policy.toml");
    let plugins = dir.path.to_str().unwrap();
    let stderr = serve_refuses(["--plugins", plugins, "--policy", policy.to_str().unwrap()]);
    assert!(stderr.contains("invalid policy"), "{stderr}");
    assert!(
        stderr.contains("line 3: unknown variant `network`"),
        "{stderr}"
    );
    let missing = serve_refuses(["--policy", "/nonexistent/policy.toml"]);
    assert!(missing.contains("cannot read the policy"), "{missing}");
}

#[test]
fn plugin_check_reports_imports_grants_and_the_verdict() {
    let dir = PluginDir::with(&[], &["facade"]);
    dir.set_manifest("facade", &facade_manifest(FACADE_CAPABILITIES));
    dir.write(
        "policy.toml",
        "[[rule]]\nplugins = \"facade\"\ndeny = [\"roots\"]\n",
    );
    let output = Command::new(host_binary())
        .args(["plugin", "check"])
        .arg(dir.path.join("facade.wasm"))
        .arg("--policy")
        .arg(dir.path.join("policy.toml"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("mcp:plugin/sampling@0.1.0"), "{text}");
    assert!(text.contains("capability `sampling`"), "{text}");
    assert!(text.contains("mcp:plugin/tools@0.1.0"), "{text}");
    assert!(text.contains("required: elicitation"), "{text}");
    assert!(
        text.contains("roots: not granted by policy rule 1"),
        "{text}"
    );
    assert!(text.contains("each use answers `denied`"), "{text}");
    assert!(text.contains("verdict: loads"), "{text}");

    dir.set_manifest("facade", &facade_manifest(""));
    let output = Command::new(host_binary())
        .args(["plugin", "check"])
        .arg(dir.path.join("facade.wasm"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("verdict: refused"), "{text}");
    assert!(text.contains("its manifest does not declare it"), "{text}");
}

const CHATTY_WITH_FILES_AND_ENV: &str = "name = \"chatty\"\nversion = \"0.1.0\"\n\
[capabilities]\noptional = [\"files\", \"env\"]\n\
[capabilities.files]\nread-only = [\"DIR\"]\n\
[capabilities.env]\nvariables = [\"E2E_COLOUR\", \"E2E_SECRET\"]\n";

#[tokio::test]
async fn files_and_env_reach_a_plugin_only_when_a_rule_grants_them() {
    let data = PluginDir::empty();
    data.write("note.txt", "from the host");
    let note = data.path.join("note.txt");
    let note = note.to_str().unwrap();
    let dir = PluginDir::with(&[], &["chatty"]);
    dir.set_manifest(
        "chatty",
        &CHATTY_WITH_FILES_AND_ENV.replace("DIR", data.path.to_str().unwrap()),
    );

    // Declared but not granted (no rule names them): nothing is visible.
    let options = HostOptions::new(Era::Handshake, Transport::Stdio)
        .env("E2E_COLOUR", "teal")
        .env("E2E_SECRET", "hunter2");
    let host = Connected::start(&dir, options.clone()).await.unwrap();
    let read = host.call("read_file", json!({"path": note})).await.unwrap();
    assert_eq!(read.is_error, Some(true), "{}", text_of(&read));
    assert_eq!(
        text_of(&host.call_ok("env", json!({"name": "E2E_COLOUR"})).await),
        "unset"
    );
    host.shutdown().await;

    // Granted by a rule, narrowed to one variable: the directory is readable,
    // not writable; only the allowed variable is set.
    dir.write(
        "policy.toml",
        format!(
            "[[rule]]\nplugins = \"chatty\"\ngrant = [\"files\", \"env\"]\n\
             files-read-only = [\"{}\"]\nenv-variables = [\"E2E_COLOUR\"]\n",
            data.path.display()
        ),
    );
    let policy = dir.path.join("policy.toml");
    let host = Connected::start(&dir, options.arg("--policy").arg(policy.to_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(
        text_of(&host.call_ok("read_file", json!({"path": note})).await),
        "from the host"
    );
    let write = host
        .call("write_file", json!({"path": note, "text": "overwritten"}))
        .await
        .unwrap();
    assert_eq!(write.is_error, Some(true), "{}", text_of(&write));
    assert_eq!(std::fs::read_to_string(note).unwrap(), "from the host");
    let elsewhere = host
        .call("read_file", json!({"path": "/etc/hostname"}))
        .await
        .unwrap();
    assert_eq!(elsewhere.is_error, Some(true), "{}", text_of(&elsewhere));
    assert_eq!(
        text_of(&host.call_ok("env", json!({"name": "E2E_COLOUR"})).await),
        "teal"
    );
    assert_eq!(
        text_of(&host.call_ok("env", json!({"name": "E2E_SECRET"})).await),
        "unset"
    );
    host.shutdown().await;
}

#[tokio::test]
async fn the_key_value_store_survives_a_restart_and_keeps_to_its_namespaces() {
    let dir = PluginDir::with(&[], &["facade"]);
    let data = PluginDir::empty();
    let options = HostOptions::new(Era::Handshake, Transport::Stdio)
        .arg("--data-dir")
        .arg(data.path.to_str().unwrap());
    let count = json!({"namespace": "counters", "key": "visits"});

    let host = Connected::start(&dir, options.clone()).await.unwrap();
    assert_eq!(
        text_of(&host.call_ok("count", count.clone()).await),
        "count=1"
    );
    assert_eq!(
        text_of(&host.call_ok("count", count.clone()).await),
        "count=2"
    );
    let other = host
        .call("count", json!({"namespace": "elsewhere", "key": "visits"}))
        .await
        .unwrap();
    assert_eq!(other.is_error, Some(true));
    assert!(
        text_of(&other).starts_with("keyvalue failed: denied: namespace `elsewhere`"),
        "{}",
        text_of(&other)
    );
    host.shutdown().await;

    // A new host on the same data directory continues the count.
    let host = Connected::start(&dir, options.clone()).await.unwrap();
    assert_eq!(
        text_of(&host.call_ok("count", count.clone()).await),
        "count=3"
    );
    host.shutdown().await;

    // The no-permission twin: the policy refuses the (optional) capability.
    dir.write(
        "policy.toml",
        "[[rule]]\nplugins = \"facade\"\ndeny = [\"keyvalue\"]\n",
    );
    let policy = dir.path.join("policy.toml");
    let host = Connected::start(&dir, options.arg("--policy").arg(policy.to_str().unwrap()))
        .await
        .unwrap();
    let denied = host.call("count", count).await.unwrap();
    assert_eq!(denied.is_error, Some(true));
    assert!(
        text_of(&denied).starts_with(
            "keyvalue failed: denied: the `keyvalue` capability is not granted by policy rule 1"
        ),
        "{}",
        text_of(&denied)
    );
    host.shutdown().await;
}

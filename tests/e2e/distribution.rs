//! Plugins from registries, signed plugins, and the operator's consent:
//! `plugin push` and `plugin pull` against a real OCI registry (Debian's
//! `docker-registry`, the CNCF distribution registry, installed by
//! `scripts/test.sh` and started here on 127.0.0.1 in a temporary
//! directory); cosign and minisign signatures under `require-signature`
//! (keys made in the tests: cosign's with the same library the host
//! verifies with, minisign's with the `minisign` tool); and consent:
//! pending, approved, upgraded, denied, with a host serving throughout.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

static REGISTRIES: AtomicU64 = AtomicU64::new(0);

/// A registry of the test's own, stopped and removed on drop.
struct Registry {
    child: std::process::Child,
    dir: PathBuf,
    port: u16,
}

impl Registry {
    fn start() -> Self {
        let dir = scratch("registry");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        std::fs::write(
            dir.join("config.yml"),
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
                 http:\n  addr: 127.0.0.1:{port}\n",
                dir.join("data").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.join("config.yml"))
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("docker-registry is installed (scripts/test.sh installs it)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the registry did not listen: {}",
                std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, dir, port }
    }

    fn reference(&self, name: &str) -> String {
        format!("127.0.0.1:{}/{name}", self.port)
    }

    /// Where the registry keeps the blob with `digest`.
    fn blob(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.dir
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn scratch(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mcp-wasm-host-{what}-{}-{}",
        std::process::id(),
        REGISTRIES.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Run the host binary with `args`.
fn host(args: &[&str]) -> Output {
    Command::new(host_binary())
        .args(args)
        .env("MCP_WASM_HOST_LOG", "warn")
        .env("COSIGN_PASSWORD", "correct horse")
        .output()
        .unwrap()
}

fn succeeds(output: Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn fails(output: Output) -> String {
    assert!(
        !output.status.success(),
        "succeeded: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn push(wasm: &Path, reference: &str, extra: &[&str]) -> String {
    let mut args = vec!["plugin", "push", path(wasm), reference, "--plain-http"];
    args.extend_from_slice(extra);
    let out = succeeds(host(&args));
    let digest = out
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("push prints the digest")
        .to_string();
    assert!(digest.starts_with("sha256:"), "{out}");
    digest
}

fn pull(reference: &str, dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "plugin",
        "pull",
        reference,
        "--dir",
        path(dir),
        "--plain-http",
    ];
    args.extend_from_slice(extra);
    host(&args)
}

fn read(dir: &Path, file: &str) -> Vec<u8> {
    std::fs::read(dir.join(file)).unwrap()
}

/// How often the host's log holds `needle`.
fn logged(host: &Connected, needle: &str) -> usize {
    host.stderr.text().matches(needle).count()
}

/// Wait (bounded) until the host's log holds `needle` once more than the
/// `before` times it did.
async fn logged_again(host: &Connected, needle: &str, before: usize) {
    host.stderr
        .wait_until_count(needle, before + 1, Duration::from_secs(15))
        .await;
}

/// Wait (bounded) until the host lists tool `name`, or no longer does.
async fn until_listed(host: &Connected, name: &str, listed: bool) {
    let started = Instant::now();
    loop {
        let names = host.tool_names().await;
        if names.iter().any(|n| n == name) == listed {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "tool {name} listed: {}, wanted {listed}; tools: {names:?}\nstderr:\n{}",
            !listed,
            host.stderr.text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn pushed_plugins_pull_by_tag_and_digest_and_the_lock_holds() {
    let registry = Registry::start();
    let source = PluginDir::with(&["hello"], &[]);
    let tag = registry.reference("plugins/hello:0.1");
    let digest = push(&source.path.join("hello.wasm"), &tag, &[]);

    let by_tag = PluginDir::empty();
    succeeds(pull(&tag, &by_tag.path, &[]));
    for file in ["hello.wasm", "hello.toml"] {
        assert_eq!(read(&by_tag.path, file), read(&source.path, file), "{file}");
    }
    let lock = String::from_utf8(read(&by_tag.path, "plugins.lock")).unwrap();
    assert!(lock.contains(&digest) && lock.contains(&tag), "{lock}");

    let by_digest = PluginDir::empty();
    let pinned = format!("{}@{digest}", registry.reference("plugins/hello"));
    succeeds(pull(&pinned, &by_digest.path, &[]));
    assert_eq!(
        read(&by_digest.path, "hello.wasm"),
        read(&source.path, "hello.wasm")
    );
    let served = Connected::start(
        &by_digest,
        HostOptions::new(Era::Handshake, Transport::Stdio),
    )
    .await
    .unwrap();
    let sum = served.call_ok("add", json!({"a": 2, "b": 3})).await;
    assert!(text_of(&sum).contains('5'), "{sum:?}");
    served.shutdown().await;
    // Files edited after the pull no longer match the lock.
    by_digest.extend_manifest("hello", "# edited by hand\n");
    let report = succeeds(host(&[
        "plugin",
        "check",
        path(&by_digest.path.join("hello.wasm")),
    ]));
    assert!(
        report.contains("lock: differs from plugins.lock") && report.contains("manifest sha256:"),
        "{report}"
    );

    // The tag moves to another artifact: a locked pull refuses it and
    // leaves the directory as it was.
    source.extend_manifest("hello", "# rebuilt\n");
    let moved = push(&source.path.join("hello.wasm"), &tag, &[]);
    assert_ne!(moved, digest);
    let refused = fails(pull(&tag, &by_tag.path, &["--locked"]));
    assert!(
        refused.contains(&format!("resolves to {moved}"))
            && refused.contains(&format!("pins plugin `hello` at {digest}")),
        "{refused}"
    );
    assert!(
        !String::from_utf8(read(&by_tag.path, "hello.toml"))
            .unwrap()
            .contains("rebuilt")
    );
    // An unlocked pull takes it and moves the lock.
    succeeds(pull(&tag, &by_tag.path, &[]));
    let lock = String::from_utf8(read(&by_tag.path, "plugins.lock")).unwrap();
    assert!(lock.contains(&moved) && !lock.contains(&digest), "{lock}");
    // A pinned pull of a digest the registry does not hold fails.
    let unknown = format!(
        "{}@sha256:{}",
        registry.reference("plugins/hello"),
        "0".repeat(64)
    );
    fails(pull(&unknown, &PluginDir::empty().path, &[]));
}

#[tokio::test]
async fn a_tampered_layer_is_refused_and_nothing_is_written() {
    let registry = Registry::start();
    let source = PluginDir::with(&["hello"], &[]);
    let tag = registry.reference("plugins/hello:tampered");
    push(&source.path.join("hello.wasm"), &tag, &[]);
    let component = mcp_wasm_host::trust::sha256(&read(&source.path, "hello.wasm"));
    let blob = registry.blob(&component);
    let mut bytes = std::fs::read(&blob).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&blob, bytes).unwrap();

    let target = PluginDir::empty();
    let refused = fails(pull(&tag, &target.path, &[]));
    assert!(refused.contains(&component), "{refused}");
    let left: Vec<_> = std::fs::read_dir(&target.path)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A cosign key pair as `cosign generate-key-pair` writes it: the public
/// key in PEM, the private key encrypted with COSIGN_PASSWORD.
fn cosign_keys(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let signer = sigstore::crypto::SigningScheme::ECDSA_P256_SHA256_ASN1
        .create_signer()
        .unwrap();
    let pair = signer.to_sigstore_keypair().unwrap();
    let public = dir.join(format!("{name}.pub"));
    let private = dir.join(format!("{name}.key"));
    std::fs::write(&public, pair.public_key_to_pem().unwrap()).unwrap();
    std::fs::write(
        &private,
        pair.private_key_to_encrypted_pem(b"correct horse")
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    (public, private)
}

#[tokio::test]
async fn cosign_signatures_decide_under_require_signature() {
    let registry = Registry::start();
    let keys = scratch("cosign-keys");
    let (trusted_pub, trusted_key) = cosign_keys(&keys, "ci");
    let (_, stranger_key) = cosign_keys(&keys, "stranger");
    let policy = keys.join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "[trusted-keys]\nci = {{ cosign-file = {:?} }}\n\n[[rule]]\nplugins = \"hello\"\nrequire-signature = true\n",
            path(&trusted_pub)
        ),
    )
    .unwrap();
    // Three artifacts (a signature belongs to an artifact's digest, so
    // each must differ): signed by the trusted key, unsigned, signed by
    // another key.
    let source = PluginDir::with(&["hello"], &[]);
    let wasm = source.path.join("hello.wasm");
    push(
        &wasm,
        &registry.reference("plugins/hello:signed"),
        &["--cosign-key", path(&trusted_key)],
    );
    source.extend_manifest("hello", "# unsigned\n");
    push(&wasm, &registry.reference("plugins/hello:unsigned"), &[]);
    source.extend_manifest("hello", "# stranger\n");
    push(
        &wasm,
        &registry.reference("plugins/hello:stranger"),
        &["--cosign-key", path(&stranger_key)],
    );
    let check = |dir: &PluginDir| {
        host(&[
            "plugin",
            "check",
            path(&dir.path.join("hello.wasm")),
            "--policy",
            path(&policy),
        ])
    };

    let signed = PluginDir::empty();
    succeeds(pull(
        &registry.reference("plugins/hello:signed"),
        &signed.path,
        &[],
    ));
    assert!(signed.path.join("hello.wasm.cosign.json").is_file());
    let report = succeeds(check(&signed));
    assert!(
        report.contains("signed by trusted key `ci` (cosign)"),
        "{report}"
    );
    let inspected: Value = serde_json::from_str(&succeeds(host(&[
        "plugin",
        "inspect",
        path(&signed.path.join("hello.wasm")),
        "--policy",
        path(&policy),
        "--json",
    ])))
    .unwrap();
    let provenance = &inspected["provenance"];
    assert_eq!(provenance["signedBy"], "ci", "{provenance}");
    assert!(
        provenance["lock"]
            .as_str()
            .unwrap()
            .starts_with("matches plugins.lock")
    );
    assert!(
        provenance["signatureRequiredBy"]
            .as_str()
            .unwrap()
            .contains("policy rule 1")
    );

    let unsigned = PluginDir::empty();
    succeeds(pull(
        &registry.reference("plugins/hello:unsigned"),
        &unsigned.path,
        &[],
    ));
    let refused = fails(check(&unsigned));
    assert!(
        refused.contains("requires a signature by a trusted key; it is unsigned"),
        "{refused}"
    );

    let stranger = PluginDir::empty();
    succeeds(pull(
        &registry.reference("plugins/hello:stranger"),
        &stranger.path,
        &[],
    ));
    let refused = fails(check(&stranger));
    assert!(refused.contains("is by a trusted cosign key"), "{refused}");

    // The signed component with another manifest (wider grants) beside it.
    signed.extend_manifest("hello", "[capabilities]\noptional = [\"sampling\"]\n");
    let refused = fails(check(&signed));
    assert!(refused.contains("does not hold this manifest"), "{refused}");
    let _ = std::fs::remove_dir_all(&keys);
}

/// `minisign` with `args`, which must succeed.
fn minisign(args: &[&str]) {
    let out = Command::new("minisign")
        .args(args)
        .output()
        .expect("minisign is installed (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "minisign {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A minisign key pair `<name>.pub` and `<name>.key` (no password) in `dir`.
fn minisign_keys(dir: &Path, name: &str) {
    minisign(&[
        "-G",
        "-W",
        "-p",
        path(&dir.join(format!("{name}.pub"))),
        "-s",
        path(&dir.join(format!("{name}.key"))),
    ]);
}

/// Sign plugin `name` of `dir` with the minisign secret key `secret`.
fn minisign_plugin(dir: &PluginDir, name: &str, secret: &Path) {
    let statement = dir.path.join(format!(".{name}.digests"));
    let wasm = dir.path.join(format!("{name}.wasm"));
    std::fs::write(
        &statement,
        succeeds(host(&["plugin", "digest", path(&wasm)])),
    )
    .unwrap();
    let signature = dir.path.join(format!(".{name}.minisig.new"));
    minisign(&[
        "-S",
        "-s",
        path(secret),
        "-m",
        path(&statement),
        "-x",
        path(&signature),
    ]);
    // Renamed into place whole, as a careful operator would.
    std::fs::rename(&signature, dir.path.join(format!("{name}.wasm.minisig"))).unwrap();
}

#[tokio::test]
async fn minisign_signatures_are_checked_at_load_and_at_every_reload() {
    let keys = scratch("minisign-keys");
    for name in ["release", "stranger"] {
        minisign_keys(&keys, name);
    }
    let dir = PluginDir::with(&["hello"], &[]);
    let policy = format!(
        "[trusted-keys]\nrelease = {{ minisign-file = {:?} }}\n\n[[rule]]\nplugins = \"hello\"\nrequire-signature = true\n",
        path(&keys.join("release.pub"))
    );
    let options = HostOptions::new(Era::Handshake, Transport::Stdio).policy(&dir, &policy);
    let served = Connected::start(&dir, options).await.unwrap();
    assert!(!served.tool_names().await.contains(&"add".to_string()));
    served
        .stderr
        .wait_for(
            "requires a signature by a trusted key; it is unsigned",
            Duration::from_secs(10),
        )
        .await
        .unwrap();

    // Signed: served without a restart.
    minisign_plugin(&dir, "hello", &keys.join("release.key"));
    until_listed(&served, "add", true).await;
    served.call_ok("add", json!({"a": 1, "b": 1})).await;

    // The signed component beside another manifest: refused, and the
    // signed version keeps serving.
    let kept = logged(&served, "keeps serving");
    dir.extend_manifest("hello", "# swapped\n");
    logged_again(&served, "does not cover this component and manifest", 0).await;
    logged_again(&served, "keeps serving", kept).await;
    served.call_ok("add", json!({"a": 1, "b": 1})).await;

    // Signed by a key the policy does not trust: still refused.
    minisign_plugin(&dir, "hello", &keys.join("stranger.key"));
    logged_again(&served, "which the policy does not trust", 0).await;
    served.call_ok("add", json!({"a": 1, "b": 1})).await;

    // Signed again by the trusted key: the new version loads.
    let reloads = logged(&served, "plugin reloaded");
    minisign_plugin(&dir, "hello", &keys.join("release.key"));
    logged_again(&served, "plugin reloaded", reloads).await;
    served.call_ok("add", json!({"a": 1, "b": 1})).await;
    served.shutdown().await;
    let _ = std::fs::remove_dir_all(&keys);
}

#[tokio::test]
async fn consent_holds_new_powers_until_the_operator_approves() {
    let dir = PluginDir::with(&["notes"], &[]);
    let data = scratch("consent-data");
    let policy = dir.path.join("policy.toml");
    let options = HostOptions::new(Era::Handshake, Transport::Stdio)
        .policy(&dir, "consent = \"required\"\n")
        .arg("--data-dir")
        .arg(path(&data));
    let served = Connected::start(&dir, options).await.unwrap();
    served
        .stderr
        .wait_for("pending the operator's consent", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(!served.tool_names().await.contains(&"add_note".to_string()));
    let scope = [
        "--plugins",
        path(&dir.path),
        "--policy",
        path(&policy),
        "--data-dir",
        path(&data),
    ];
    let command = |verb: &str, extra: &[&str]| {
        let mut args = vec!["plugin", verb];
        args.extend_from_slice(extra);
        args.extend_from_slice(&scope);
        host(&args)
    };
    let pending: Value = serde_json::from_str(&succeeds(command("pending", &["--json"]))).unwrap();
    let notes = &pending[0];
    assert_eq!(notes["name"], "notes", "{pending}");
    assert_eq!(notes["reaches"], json!(["session-state"]), "{pending}");
    let digest = notes["digest"].as_str().unwrap().to_string();
    let check = || {
        host(&[
            "plugin",
            "check",
            path(&dir.path.join("notes.wasm")),
            "--policy",
            path(&policy),
            "--data-dir",
            path(&data),
        ])
    };
    let report = fails(check());
    assert!(
        report.contains("consent: pending; not yet approved: session-state")
            && report.contains("pending the operator's consent"),
        "{report}"
    );

    // A stale review is refused; the reviewed version is approved and
    // served without a restart.
    let stale = fails(command("approve", &["notes", "--digest", "sha256:0"]));
    assert!(stale.contains("review it again"), "{stale}");
    succeeds(command("approve", &["notes", "--digest", &digest]));
    let report = succeeds(check());
    assert!(
        report.contains(&format!("consent: approved (on version {digest})")),
        "{report}"
    );
    until_listed(&served, "add_note", true).await;
    served
        .call_ok("add_note", json!({"name": "n", "text": "kept"}))
        .await;

    // A new version reaching the same needs no new approval.
    let reloads = logged(&served, "plugin reloaded");
    dir.extend_manifest("notes", "# 0.1.1\n");
    logged_again(&served, "plugin reloaded", reloads).await;
    assert!(served.tool_names().await.contains(&"add_note".to_string()));

    // One asking for more waits, and the approved version keeps serving.
    let manifest = String::from_utf8(read(&dir.path, "notes.toml")).unwrap();
    dir.replace(
        "notes.toml",
        manifest.replace(
            "required = [\"session-state\"]",
            "required = [\"session-state\"]\noptional = [\"sampling\"]",
        ),
    );
    logged_again(&served, "pending the operator's consent", 1).await;
    logged_again(&served, "keeps serving", 0).await;
    served
        .call_ok("add_note", json!({"name": "m", "text": "still"}))
        .await;
    let listed = succeeds(command("pending", &[]));
    assert!(listed.contains("reaches sampling  (new)"), "{listed}");
    assert!(!listed.contains("reaches session-state  (new)"), "{listed}");

    // Denied: the upgrade stays out, the approved version serves on.
    succeeds(command("deny", &["notes"]));
    served
        .stderr
        .wait_for("the operator denied it", Duration::from_secs(10))
        .await
        .unwrap();
    served
        .call_ok("add_note", json!({"name": "o", "text": "still"}))
        .await;
    assert!(succeeds(command("pending", &[])).contains("no plugin is waiting"));

    // Approved after all: the new version is served.
    let reloads = logged(&served, "plugin reloaded");
    succeeds(command("approve", &["notes"]));
    logged_again(&served, "plugin reloaded", reloads).await;
    served
        .call_ok("add_note", json!({"name": "p", "text": "new"}))
        .await;
    served.shutdown().await;
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test]
async fn a_policy_that_comes_to_require_signatures_stops_the_unsigned() {
    let keys = scratch("minisign-policy-keys");
    minisign_keys(&keys, "release");
    let dir = PluginDir::with(&["hello", "texttools"], &[]);
    minisign_plugin(&dir, "hello", &keys.join("release.key"));
    let trusted = format!(
        "[trusted-keys]\nrelease = {{ minisign-file = {:?} }}\n",
        path(&keys.join("release.pub"))
    );
    let options = HostOptions::new(Era::Handshake, Transport::Stdio)
        .policy(&dir, &format!("default = \"grant-declared\"\n{trusted}"));
    let served = Connected::start(&dir, options).await.unwrap();
    until_listed(&served, "slugify", true).await;
    until_listed(&served, "add", true).await;

    // Signatures become required: the unsigned plugin stops being served,
    // the signed one (checked against the files it loaded from) serves on.
    dir.replace(
        "policy.toml",
        format!("{trusted}\n[[rule]]\nplugins = \"*\"\nrequire-signature = true\n"),
    );
    until_listed(&served, "slugify", false).await;
    served
        .stderr
        .wait_for(
            "requires a signature by a trusted key; it is unsigned",
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    served.call_ok("add", json!({"a": 1, "b": 2})).await;
    served.shutdown().await;
    let _ = std::fs::remove_dir_all(&keys);
}

/// Push `wasm` as `wkg` publishes a component: the wasm config and one
/// `application/wasm` layer, no plugin manifest.
async fn push_bare_component(reference: &str, wasm: &Path) {
    use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = oci_client::Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..ClientConfig::default()
    });
    let layers = vec![ImageLayer::new(
        std::fs::read(wasm).unwrap(),
        "application/wasm".to_string(),
        None,
    )];
    let config = Config::new(
        br#"{"architecture":"wasm","os":"wasip2"}"#.to_vec(),
        "application/vnd.wasm.config.v0+json".to_string(),
        None,
    );
    client
        .push(
            &reference.parse().unwrap(),
            &layers,
            config,
            &oci_client::secrets::RegistryAuth::Anonymous,
            None,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_bare_component_is_pulled_only_with_the_operators_manifest() {
    let registry = Registry::start();
    let source = PluginDir::with(&["hello"], &[]);
    let reference = registry.reference("components/hello:0.1");
    push_bare_component(&reference, &source.path.join("hello.wasm")).await;

    let target = PluginDir::empty();
    let refused = fails(pull(&reference, &target.path, &[]));
    assert!(refused.contains("is a bare component"), "{refused}");
    assert!(!target.path.join("hello.wasm").exists());
    succeeds(pull(
        &reference,
        &target.path,
        &["--manifest", path(&source.path.join("hello.toml"))],
    ));
    let report = succeeds(host(&[
        "plugin",
        "check",
        path(&target.path.join("hello.wasm")),
    ]));
    assert!(report.contains("verdict: loads"), "{report}");
    // An artifact with its own manifest layer takes no other.
    let published = registry.reference("plugins/hello:0.1");
    push(&source.path.join("hello.wasm"), &published, &[]);
    let refused = fails(pull(
        &published,
        &PluginDir::empty().path,
        &["--manifest", path(&source.path.join("hello.toml"))],
    ));
    assert!(
        refused.contains("carries its own plugin manifest"),
        "{refused}"
    );
}

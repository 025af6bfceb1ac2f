use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::*;

const COMPONENT: &[u8] = b"component bytes";
const MANIFEST: &[u8] = b"name = \"x\"\nversion = \"0.1.0\"\n";

/// Made with the minisign tool: `minisign -G -W`, then
/// `minisign -S -m <statement of COMPONENT and MANIFEST> -x x.wasm.minisig`.
const MINISIGN_KEY: &str = "untrusted comment: minisign public key C1839480A80271DF\n\
    RWTfcQKogJSDwb6goEGnm5NpPLdUhuwjrzbajNVSTpAGHC8uaJ5w3vnp\n";
const OTHER_MINISIGN_KEY: &str = "RWTMgP9JlZE5BllM8FGsH575zNlXLVdfGxexjglgfdOlSQ8IQ9gZJASy";
const MINISIG: &str = "untrusted comment: signature from minisign secret key\n\
RUTfcQKogJSDwWFTa08cpvdzVrjFQhDBClbrrmKu3WaRjJpSrpEd9UlHGhU8taZf97QEfU4vVvUO/CLiMnQ2S3ChIA8UsvmF2wY=\n\
trusted comment: timestamp:1796390030\tfile:statement\thashed\n\
4SmqXIRguDAFuYc5PRDo8yxM3yrFjjiujHc66tlsfZNnJZ7uQ9DLTsW7ZzUW6aQMpC8+rD3jUVsM2KCY8PUTDg==\n";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trust-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_statement_names_both_digests() {
    let digests = PluginDigests::of(COMPONENT, MANIFEST);
    let statement = digests.statement();
    assert!(statement.contains(&format!("component {}", sha256(COMPONENT))));
    assert!(statement.contains(&format!("manifest {}", sha256(MANIFEST))));
    assert_ne!(
        digests.version(),
        PluginDigests::of(COMPONENT, b"name = \"x\"\nversion = \"0.2.0\"\n").version()
    );
}

#[test]
fn minisign_signatures_cover_the_component_and_the_manifest() {
    let dir = scratch("minisign");
    let wasm = dir.join("x.wasm");
    let keys = vec![TrustedKey::minisign("release", MINISIGN_KEY).unwrap()];
    let digests = PluginDigests::of(COMPONENT, MANIFEST);
    assert_eq!(verify(&keys, &wasm, &digests), SignatureState::Unsigned);
    std::fs::write(minisig_path(&wasm), MINISIG).unwrap();
    assert_eq!(
        verify(&keys, &wasm, &digests),
        SignatureState::Signed {
            key: "release".into(),
            format: SignatureFormat::Minisign
        }
    );
    // The same signature beside another manifest (wider grants) or
    // another component is no signature of theirs.
    let swapped = PluginDigests::of(COMPONENT, b"name = \"x\"\nversion = \"0.1.0\"\n#\n");
    let SignatureState::Invalid(why) = verify(&keys, &wasm, &swapped) else {
        panic!("a swapped manifest counted as signed");
    };
    assert!(
        why.contains("x.wasm.minisig: the signature by trusted key `release` does not cover"),
        "{why}"
    );
    let other_component = PluginDigests::of(b"component bytez", MANIFEST);
    assert!(matches!(
        verify(&keys, &wasm, &other_component),
        SignatureState::Invalid(_)
    ));
    // A key the policy does not trust.
    let others = vec![TrustedKey::minisign("other", OTHER_MINISIGN_KEY).unwrap()];
    let SignatureState::Invalid(why) = verify(&others, &wasm, &digests) else {
        panic!("an untrusted key's signature counted");
    };
    assert!(
        why.contains("signed by key C1839480A80271DF, which the policy does not trust"),
        "{why}"
    );
    std::fs::write(minisig_path(&wasm), "garbage").unwrap();
    let SignatureState::Invalid(why) = verify(&keys, &wasm, &digests) else {
        panic!("garbage counted");
    };
    assert!(why.contains("not a minisign signature"), "{why}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn keys_that_are_not_keys_are_named() {
    let err = TrustedKey::minisign("k", "RWnotakey").unwrap_err();
    assert!(
        err.contains("trusted key `k` is not a minisign public key"),
        "{err}"
    );
    let err = TrustedKey::cosign(
        "c",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
    )
    .unwrap_err();
    assert!(
        err.contains("trusted key `c` is not a cosign public key"),
        "{err}"
    );
}

/// A cosign key pair as `cosign generate-key-pair` makes (ECDSA P-256).
fn cosign_pair(name: &str) -> (sigstore::crypto::SigStoreSigner, TrustedKey) {
    let signer = sigstore::crypto::SigningScheme::ECDSA_P256_SHA256_ASN1
        .create_signer()
        .unwrap();
    let pem = signer
        .to_sigstore_keypair()
        .unwrap()
        .public_key_to_pem()
        .unwrap();
    (signer, TrustedKey::cosign(name, &pem).unwrap())
}

fn artifact_manifest(component: &[u8], manifest: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.wasm.config.v0+json", "digest": sha256(b"{}"), "size": 2},
        "layers": [
            {"mediaType": COMPONENT_MEDIA_TYPE, "digest": sha256(component), "size": component.len()},
            {"mediaType": MANIFEST_MEDIA_TYPE, "digest": sha256(manifest), "size": manifest.len()},
        ],
    }))
    .unwrap()
}

fn sidecar(
    signer: &sigstore::crypto::SigStoreSigner,
    artifact: &[u8],
    signed_digest: &str,
) -> Vec<u8> {
    let payload = simple_signing_payload("127.0.0.1:5000/plugins/x", signed_digest);
    let signature = signer.sign(payload.as_bytes()).unwrap();
    serde_json::to_vec(&CosignSidecar {
        reference: "127.0.0.1:5000/plugins/x:1".into(),
        manifest: BASE64.encode(artifact),
        signatures: vec![CosignSignature {
            payload: BASE64.encode(payload),
            signature: BASE64.encode(signature),
        }],
    })
    .unwrap()
}

#[test]
fn cosign_signatures_cover_the_artifact_holding_both_files() {
    let dir = scratch("cosign");
    let wasm = dir.join("x.wasm");
    let (signer, key) = cosign_pair("ci");
    let (_, other_key) = cosign_pair("other");
    let digests = PluginDigests::of(COMPONENT, MANIFEST);
    let artifact = artifact_manifest(COMPONENT, MANIFEST);
    std::fs::write(
        cosign_path(&wasm),
        sidecar(&signer, &artifact, &sha256(&artifact)),
    )
    .unwrap();
    assert_eq!(
        verify(std::slice::from_ref(&key), &wasm, &digests),
        SignatureState::Signed {
            key: "ci".into(),
            format: SignatureFormat::Cosign
        }
    );
    // Another key, another manifest beside the same component, a
    // signature over another artifact.
    assert!(!verify(&[other_key], &wasm, &digests).is_signed());
    let swapped = PluginDigests::of(COMPONENT, b"name = \"x\"\n[capabilities]\n");
    let SignatureState::Invalid(why) = verify(std::slice::from_ref(&key), &wasm, &swapped) else {
        panic!("a swapped manifest counted as signed");
    };
    assert!(why.contains("does not hold this manifest"), "{why}");
    std::fs::write(
        cosign_path(&wasm),
        sidecar(&signer, &artifact, &sha256(b"another artifact")),
    )
    .unwrap();
    assert!(!verify(std::slice::from_ref(&key), &wasm, &digests).is_signed());
    // A signature moved onto a manifest that lists other layers.
    let other_artifact = artifact_manifest(COMPONENT, b"name = \"x\"\n[capabilities]\n");
    let mut forged: CosignSidecar =
        serde_json::from_slice(&sidecar(&signer, &artifact, &sha256(&artifact))).unwrap();
    forged.manifest = BASE64.encode(&other_artifact);
    std::fs::write(cosign_path(&wasm), serde_json::to_vec(&forged).unwrap()).unwrap();
    assert!(!verify(&[key], &wasm, &swapped).is_signed());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn signature_files_belong_to_their_plugin() {
    assert_eq!(signature_stem("x.wasm.minisig"), Some("x"));
    assert_eq!(signature_stem("x.wasm.cosign.json"), Some("x"));
    assert_eq!(signature_stem(".x.wasm.minisig"), None);
    assert_eq!(signature_stem("x.toml"), None);
    assert_eq!(
        minisig_path(Path::new("/p/x.wasm")),
        Path::new("/p/x.wasm.minisig")
    );
}

#[test]
fn consent_covers_versions_reaching_no_more() {
    use consent::{ConsentBook, ConsentState, Decision, Verdict};
    let dir = scratch("consent");
    let file = dir.join("consent.toml");
    let book = ConsentBook::load(&file).unwrap();
    let asks = vec![
        "keyvalue".to_string(),
        "http: origins: https://a.example".into(),
    ];
    assert_eq!(
        book.state("x", &asks),
        ConsentState::Pending {
            unapproved: asks.clone()
        }
    );
    assert_eq!(book.state("x", &[]), ConsentState::NothingToApprove);
    ConsentBook::record(
        &file,
        Decision {
            name: "x".into(),
            verdict: Verdict::Approved,
            digest: "sha256:1".into(),
            capabilities: asks.clone(),
            decided_at: 1,
        },
    )
    .unwrap();
    let book = ConsentBook::load(&file).unwrap();
    assert!(book.state("x", &asks).allows_serving());
    assert!(
        book.state("x", &asks[..1]).allows_serving(),
        "asks for less"
    );
    let more = [asks.clone(), vec!["secrets".to_string()]].concat();
    assert_eq!(
        book.state("x", &more),
        ConsentState::Pending {
            unapproved: vec!["secrets".into()]
        }
    );
    assert!(
        !book.state("y", &asks).allows_serving(),
        "another plugin's approval"
    );
    ConsentBook::record(
        &file,
        Decision {
            name: "x".into(),
            verdict: Verdict::Denied,
            digest: "sha256:2".into(),
            capabilities: more.clone(),
            decided_at: 2,
        },
    )
    .unwrap();
    // Denying an upgrade keeps the version before it.
    let book = ConsentBook::load(&file).unwrap();
    assert_eq!(book.decisions().len(), 2);
    assert!(matches!(
        book.state("x", &more),
        ConsentState::Denied { .. }
    ));
    assert!(book.state("x", &asks).allows_serving());
    // Denying what the approval covers revokes it; approving lifts it.
    let deny_all = |caps: &[String]| Decision {
        name: "x".into(),
        verdict: Verdict::Denied,
        digest: "sha256:3".into(),
        capabilities: caps.to_vec(),
        decided_at: 3,
    };
    ConsentBook::record(&file, deny_all(&asks)).unwrap();
    let book = ConsentBook::load(&file).unwrap();
    assert!(matches!(
        book.state("x", &asks),
        ConsentState::Denied { .. }
    ));
    assert!(matches!(
        book.state("x", &asks[..1]),
        ConsentState::Pending { .. }
    ));
    ConsentBook::record(
        &file,
        Decision {
            verdict: Verdict::Approved,
            ..deny_all(&more)
        },
    )
    .unwrap();
    let book = ConsentBook::load(&file).unwrap();
    assert!(book.state("x", &asks).allows_serving());
    assert!(book.state("x", &more).allows_serving());
    assert_eq!(
        book.decisions().len(),
        1,
        "the approval lifted both denials"
    );
    std::fs::write(&file, "[[plugin]]\nname = 1\n").unwrap();
    let err = ConsentBook::load(&file).unwrap_err().to_string();
    assert!(err.contains("line 2"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_lock_tells_pulled_bytes_from_others() {
    use lock::{LockEntry, LockFile, LockState};
    let dir = scratch("lock");
    let digests = PluginDigests::of(COMPONENT, MANIFEST);
    LockFile::record(
        &dir,
        LockEntry {
            name: "x".into(),
            reference: "r/x:1".into(),
            digest: "sha256:a".into(),
            component: digests.component.clone(),
            manifest: digests.manifest.clone(),
        },
    )
    .unwrap();
    let lock = LockFile::load(&dir).unwrap();
    assert!(matches!(
        lock.state("x", &digests),
        LockState::Matches { .. }
    ));
    assert_eq!(lock.state("y", &digests), LockState::NotLocked);
    let changed = PluginDigests::of(b"other", MANIFEST);
    let LockState::Differs { what, .. } = lock.state("x", &changed) else {
        panic!("changed bytes matched the lock");
    };
    assert!(
        what.contains("component") && !what.contains("manifest"),
        "{what}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

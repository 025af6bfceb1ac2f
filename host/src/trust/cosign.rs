//! cosign signatures of a plugin pulled from an OCI registry, kept beside
//! it: the artifact's manifest (whose layers are the component and the
//! plugin manifest, by digest) and the signatures cosign stored for it
//! (simple-signing payloads naming the artifact manifest's digest).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use super::{
    COMPONENT_MEDIA_TYPE, KeyMaterial, MANIFEST_MEDIA_TYPE, PluginDigests, TrustedKey, sha256,
};

/// The media type of a cosign signature layer.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding a cosign signature (base64).
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// What `<name>.wasm.cosign.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CosignSidecar {
    /// The reference it was pulled by.
    pub reference: String,
    /// The artifact's OCI manifest, exactly as the registry served it
    /// (base64): its digest is what cosign signed.
    pub manifest: String,
    pub signatures: Vec<CosignSignature>,
}

/// One cosign signature: the payload and the signature over it, base64.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CosignSignature {
    pub payload: String,
    pub signature: String,
}

/// The simple-signing payload cosign signs for the artifact with digest
/// `digest` pushed as `repository`.
pub fn simple_signing_payload(repository: &str, digest: &str) -> String {
    serde_json::json!({
        "critical": {
            "identity": {"docker-reference": repository},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": null,
    })
    .to_string()
}

#[derive(Deserialize)]
struct ArtifactManifest {
    layers: Vec<Layer>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Layer {
    media_type: String,
    digest: String,
}

#[derive(Deserialize)]
struct Payload {
    critical: Critical,
}

#[derive(Deserialize)]
struct Critical {
    image: Image,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct Image {
    #[serde(rename = "docker-manifest-digest")]
    digest: String,
}

/// The name of the trusted key one of whose signatures in `sidecar`
/// covers an artifact holding exactly these digests, or why none does.
pub(super) fn verify(
    keys: &[TrustedKey],
    sidecar: &[u8],
    digests: &PluginDigests,
) -> Result<String, String> {
    let sidecar: CosignSidecar =
        serde_json::from_slice(sidecar).map_err(|e| format!("unreadable: {e}"))?;
    let manifest = BASE64
        .decode(&sidecar.manifest)
        .map_err(|e| format!("the artifact manifest is not base64: {e}"))?;
    let artifact: ArtifactManifest = serde_json::from_slice(&manifest)
        .map_err(|e| format!("the artifact manifest is not an OCI manifest: {e}"))?;
    let holds = |media_type: &str, digest: &str| {
        artifact
            .layers
            .iter()
            .any(|l| l.media_type == media_type && l.digest == digest)
    };
    if !holds(COMPONENT_MEDIA_TYPE, &digests.component) {
        return Err(format!(
            "the signed artifact ({}) does not hold this component ({})",
            sidecar.reference, digests.component
        ));
    }
    if !holds(MANIFEST_MEDIA_TYPE, &digests.manifest) {
        return Err(format!(
            "the signed artifact ({}) does not hold this manifest ({})",
            sidecar.reference, digests.manifest
        ));
    }
    let artifact_digest = sha256(&manifest);
    let cosign_keys: Vec<_> = keys
        .iter()
        .filter_map(|k| match &k.material {
            KeyMaterial::Cosign(public) => Some((k, public)),
            KeyMaterial::Minisign(_) => None,
        })
        .collect();
    if cosign_keys.is_empty() {
        return Err("the policy trusts no cosign key".into());
    }
    if sidecar.signatures.is_empty() {
        return Err(format!("{} has no cosign signature", sidecar.reference));
    }
    for signature in &sidecar.signatures {
        let Ok(payload) = BASE64.decode(&signature.payload) else {
            continue;
        };
        let Ok(parsed) = serde_json::from_slice::<Payload>(&payload) else {
            continue;
        };
        if parsed.critical.kind != "cosign container image signature"
            || parsed.critical.image.digest != artifact_digest
        {
            continue;
        }
        for (key, public) in &cosign_keys {
            let checked = public.verify_signature(
                sigstore::crypto::Signature::Base64Encoded(signature.signature.as_bytes()),
                &payload,
            );
            if checked.is_ok() {
                return Ok(key.name.clone());
            }
        }
    }
    Err(format!(
        "no signature of {} ({artifact_digest}) is by a trusted cosign key",
        sidecar.reference
    ))
}

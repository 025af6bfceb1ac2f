//! Plugins as OCI artifacts, in the wasm OCI artifact layout (the one
//! `wkg` publishes: a `application/vnd.wasm.config.v0+json` config and an
//! `application/wasm` component layer), with the plugin's manifest as a
//! second layer; and the cosign signatures stored beside an artifact
//! (tag `sha256-<hex>.sig`, simple-signing layers).

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use crate::trust::{
    COMPONENT_MEDIA_TYPE, CosignSignature, MANIFEST_MEDIA_TYPE, SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING_MEDIA_TYPE, sha256,
};

/// The config media type of the wasm OCI artifact layout.
pub const WASM_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The largest layer pulled (a component or a manifest).
const MAX_LAYER_BYTES: usize = 256 * 1024 * 1024;

/// Why talking to a registry failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("`{0}` is not an OCI reference: {1}")]
    Reference(String, String),
    #[error("{reference}: {message}")]
    Registry { reference: String, message: String },
    #[error("{reference}: {message}")]
    Artifact { reference: String, message: String },
}

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// Plain HTTP instead of HTTPS (a registry on a test machine).
    pub plain_http: bool,
    /// A bearer token for the registry, instead of the Docker config file.
    pub token: Option<String>,
}

/// One pulled plugin artifact.
#[derive(Debug)]
pub struct PulledArtifact {
    pub reference: String,
    /// The artifact manifest's digest.
    pub digest: String,
    /// The artifact manifest as the registry served it.
    pub manifest_bytes: Vec<u8>,
    pub component: Vec<u8>,
    /// The plugin manifest layer; `None` for a bare component (as `wkg`
    /// publishes one).
    pub plugin_manifest: Option<Vec<u8>>,
    /// The cosign signatures stored for the artifact.
    pub signatures: Vec<CosignSignature>,
}

pub fn parse_reference(text: &str) -> Result<Reference, RegistryError> {
    text.parse::<Reference>()
        .map_err(|e| RegistryError::Reference(text.to_string(), e.to_string()))
}

fn client(connection: &Connection) -> Client {
    // reqwest is built without a default crypto provider: use ring's.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::new(ClientConfig {
        protocol: if connection.plain_http {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        },
        ..ClientConfig::default()
    })
}

/// The credentials for `registry`: the token given, else the Docker config
/// file's (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`), else
/// none. Never logged.
fn auth(connection: &Connection, registry: &str) -> RegistryAuth {
    if let Some(token) = &connection.token {
        return RegistryAuth::Bearer(token.clone());
    }
    let file = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))
        .map(|dir| dir.join("config.json"));
    let entry = file
        .and_then(|f| std::fs::read(f).ok())
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|config| {
            config
                .get("auths")?
                .get(registry)?
                .get("auth")?
                .as_str()
                .map(str::to_owned)
        })
        .and_then(|encoded| BASE64.decode(encoded).ok())
        .and_then(|decoded| String::from_utf8(decoded).ok());
    match entry.as_deref().and_then(|pair| pair.split_once(':')) {
        Some((user, password)) => RegistryAuth::Basic(user.to_string(), password.to_string()),
        None => RegistryAuth::Anonymous,
    }
}

fn registry_error(
    reference: &Reference,
) -> impl Fn(oci_client::errors::OciDistributionError) -> RegistryError + '_ {
    move |e| RegistryError::Registry {
        reference: reference.whole(),
        message: e.to_string(),
    }
}

/// Pull the plugin artifact `reference`: its manifest, both layers (each
/// checked against its digest), and its cosign signatures.
pub async fn pull(
    connection: &Connection,
    reference: &Reference,
) -> Result<PulledArtifact, RegistryError> {
    let client = client(connection);
    let auth = auth(connection, reference.resolve_registry());
    let (manifest_bytes, digest) = client
        .pull_manifest_raw(reference, &auth, &[OCI_IMAGE_MEDIA_TYPE])
        .await
        .map_err(registry_error(reference))?;
    let artifact_error = |message: String| RegistryError::Artifact {
        reference: reference.whole(),
        message,
    };
    let computed = sha256(&manifest_bytes);
    if computed != digest || reference.digest().is_some_and(|wanted| wanted != computed) {
        return Err(artifact_error(format!(
            "the registry served a manifest whose digest is {computed}, not {}",
            reference.digest().unwrap_or(&digest)
        )));
    }
    let manifest: OciImageManifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| artifact_error(format!("not an OCI image manifest: {e}")))?;
    let layer = |media_type: &str| {
        let mut found = manifest
            .layers
            .iter()
            .filter(|l| l.media_type == media_type);
        match (found.next(), found.next()) {
            (Some(layer), None) => Ok(layer.clone()),
            (None, _) => Err(artifact_error(format!(
                "it has no component layer ({media_type})"
            ))),
            (Some(_), Some(_)) => Err(artifact_error(format!(
                "it has more than one {media_type} layer"
            ))),
        }
    };
    let component_layer = layer(COMPONENT_MEDIA_TYPE)?;
    let manifest_layer = match manifest
        .layers
        .iter()
        .any(|l| l.media_type == MANIFEST_MEDIA_TYPE)
    {
        true => Some(layer(MANIFEST_MEDIA_TYPE)?),
        false => None,
    };
    let pinned = reference.clone_with_digest(digest.clone());
    let component = pull_layer(&client, &pinned, &component_layer).await?;
    let plugin_manifest = match &manifest_layer {
        Some(layer) => Some(pull_layer(&client, &pinned, layer).await?),
        None => None,
    };
    let signatures = pull_signatures(&client, &auth, reference, &digest).await?;
    Ok(PulledArtifact {
        reference: reference.whole(),
        digest,
        manifest_bytes: manifest_bytes.to_vec(),
        component,
        plugin_manifest,
        signatures,
    })
}

async fn pull_layer(
    client: &Client,
    reference: &Reference,
    layer: &oci_client::manifest::OciDescriptor,
) -> Result<Vec<u8>, RegistryError> {
    let artifact_error = |message: String| RegistryError::Artifact {
        reference: reference.whole(),
        message,
    };
    if layer.size < 0 || layer.size as usize > MAX_LAYER_BYTES {
        return Err(artifact_error(format!(
            "layer {} is {} bytes; at most {MAX_LAYER_BYTES} are pulled",
            layer.digest, layer.size
        )));
    }
    let mut bytes = Vec::with_capacity(layer.size as usize);
    client
        .pull_blob(reference, layer, &mut bytes)
        .await
        .map_err(|e| artifact_error(format!("layer {}: {e}", layer.digest)))?;
    // The client checks too; this is the check this host relies on.
    let computed = sha256(&bytes);
    if computed != layer.digest || bytes.len() as i64 != layer.size {
        return Err(artifact_error(format!(
            "layer {} does not match its digest: the registry served {} bytes hashing to {computed}",
            layer.digest,
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// The cosign signature tag of the artifact with `digest`.
fn signature_reference(reference: &Reference, digest: &str) -> Reference {
    Reference::with_tag(
        reference.registry().to_string(),
        reference.repository().to_string(),
        format!("{}.sig", digest.replace(':', "-")),
    )
}

async fn pull_signatures(
    client: &Client,
    auth: &RegistryAuth,
    reference: &Reference,
    digest: &str,
) -> Result<Vec<CosignSignature>, RegistryError> {
    let signatures = signature_reference(reference, digest);
    let manifest = match client.pull_image_manifest(&signatures, auth).await {
        Ok((manifest, _)) => manifest,
        // No signature tag: unsigned. (Registries answer "manifest unknown".)
        Err(_) => return Ok(Vec::new()),
    };
    let mut found = Vec::new();
    for layer in manifest
        .layers
        .iter()
        .filter(|l| l.media_type == SIMPLE_SIGNING_MEDIA_TYPE)
    {
        let Some(signature) = layer
            .annotations
            .as_ref()
            .and_then(|a| a.get(SIGNATURE_ANNOTATION))
        else {
            continue;
        };
        let payload = pull_layer(client, &signatures, layer).await?;
        found.push(CosignSignature {
            payload: BASE64.encode(payload),
            signature: signature.clone(),
        });
    }
    Ok(found)
}

/// Push a plugin (component and manifest) as `reference`; returns the
/// artifact's digest.
pub async fn push(
    connection: &Connection,
    reference: &Reference,
    component: Vec<u8>,
    plugin_manifest: Vec<u8>,
) -> Result<String, RegistryError> {
    let client = client(connection);
    let auth = auth(connection, reference.resolve_registry());
    let layers = vec![
        ImageLayer::new(component, COMPONENT_MEDIA_TYPE.to_string(), None),
        ImageLayer::new(plugin_manifest, MANIFEST_MEDIA_TYPE.to_string(), None),
    ];
    let config = serde_json::json!({
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": layers.iter().map(ImageLayer::sha256_digest).collect::<Vec<_>>(),
    });
    let config = Config::new(
        serde_json::to_vec(&config).unwrap_or_default(),
        WASM_CONFIG_MEDIA_TYPE.to_string(),
        None,
    );
    let manifest = OciImageManifest::build(&layers, &config, None);
    client
        .push(reference, &layers, config, &auth, Some(manifest))
        .await
        .map_err(registry_error(reference))?;
    let (_, digest) = client
        .pull_manifest_raw(reference, &auth, &[OCI_IMAGE_MEDIA_TYPE])
        .await
        .map_err(registry_error(reference))?;
    Ok(digest)
}

/// Store a cosign signature (`payload`, `signature` base64) for the
/// artifact with `digest`, as cosign does: one more layer on the manifest
/// tagged `sha256-<hex>.sig`.
pub async fn push_signature(
    connection: &Connection,
    reference: &Reference,
    digest: &str,
    payload: Vec<u8>,
    signature: String,
) -> Result<(), RegistryError> {
    let client = client(connection);
    let auth = auth(connection, reference.resolve_registry());
    let target = signature_reference(reference, digest);
    let mut layers = Vec::new();
    if let Ok((existing, _)) = client.pull_image_manifest(&target, &auth).await {
        for layer in existing.layers {
            let bytes = pull_layer(&client, &target, &layer).await?;
            layers.push(ImageLayer::new(bytes, layer.media_type, layer.annotations));
        }
    }
    layers.push(ImageLayer::new(
        payload,
        SIMPLE_SIGNING_MEDIA_TYPE.to_string(),
        Some(BTreeMap::from([(
            SIGNATURE_ANNOTATION.to_string(),
            signature,
        )])),
    ));
    let config = Config::new(
        b"{}".to_vec(),
        oci_client::manifest::IMAGE_CONFIG_MEDIA_TYPE.to_string(),
        None,
    );
    let manifest = OciImageManifest::build(&layers, &config, None);
    client
        .push(&target, &layers, config, &auth, Some(manifest))
        .await
        .map_err(registry_error(&target))?;
    Ok(())
}

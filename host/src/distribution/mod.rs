//! The operator's commands for plugins from elsewhere: `plugin pull` and
//! `plugin push` (OCI registries, with `plugins.lock`), `plugin digest`
//! (the statement a minisign signature covers), and the consent workflow,
//! `plugin pending`, `plugin approve` and `plugin deny`. Nothing here is
//! reachable from MCP or from a plugin: only the operator's shell approves.

mod consent;
pub mod registry;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::Args;

pub use consent::{ConsentArgs, DecideArgs, approve_or_deny, list_pending};
use registry::Connection;

use crate::trust::lock::{LockEntry, LockFile};
use crate::trust::{
    CosignSidecar, PluginDigests, cosign_path, minisig_path, simple_signing_payload,
    write_atomically,
};

#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Talk to the registry over plain HTTP (a registry on 127.0.0.1).
    #[arg(long)]
    pub plain_http: bool,
    /// A bearer token for the registry (default: the Docker config file's
    /// credentials, else none). Never logged.
    #[arg(
        long,
        env = "MCP_WASM_HOST_REGISTRY_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub registry_token: Option<String>,
}

impl RegistryArgs {
    fn connection(&self) -> Connection {
        Connection {
            plain_http: self.plain_http,
            token: self.registry_token.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The artifact: `registry/repository:tag` or `…@sha256:<hex>`.
    pub reference: String,
    /// The plugin directory to write into.
    #[arg(long, default_value = "plugins")]
    pub dir: PathBuf,
    /// Refuse an artifact whose digest differs from the one `plugins.lock`
    /// records for the plugin.
    #[arg(long)]
    pub locked: bool,
    /// The manifest to serve a bare component with (an artifact without a
    /// plugin manifest layer, as `wkg` publishes). A signature in the
    /// registry cannot cover it; sign the pair with minisign if the
    /// policy requires signatures.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The component (`<name>.wasm`).
    pub file: PathBuf,
    /// Where to publish: `registry/repository:tag`.
    pub reference: String,
    /// Its manifest (default: `<name>.toml` beside it).
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Also sign the artifact with this cosign private key (`cosign.key`,
    /// its password in COSIGN_PASSWORD), as `cosign sign --key` does.
    #[arg(long, value_name = "FILE")]
    pub cosign_key: Option<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct DigestArgs {
    /// The component (`<name>.wasm`).
    pub file: PathBuf,
    /// Its manifest (default: `<name>.toml` beside it).
    #[arg(long)]
    pub manifest: Option<PathBuf>,
}

fn manifest_of(file: &Path, manifest: Option<&PathBuf>) -> PathBuf {
    manifest
        .cloned()
        .unwrap_or_else(|| file.with_extension("toml"))
}

/// `plugin digest`: print the statement a minisign signature covers.
pub fn digest(args: &DigestArgs) -> anyhow::Result<()> {
    let manifest = manifest_of(&args.file, args.manifest.as_ref());
    let digests = PluginDigests::of_files(&args.file, &manifest)
        .with_context(|| format!("reading {} and {}", args.file.display(), manifest.display()))?;
    print!("{}", digests.statement());
    Ok(())
}

/// `plugin push`.
pub async fn push(args: &PushArgs) -> anyhow::Result<()> {
    let reference = registry::parse_reference(&args.reference)?;
    if reference.digest().is_some() {
        bail!("push to a tag, not a digest: {}", args.reference);
    }
    let manifest_path = manifest_of(&args.file, args.manifest.as_ref());
    let component =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let plugin_manifest = std::fs::read(&manifest_path)
        .with_context(|| format!("reading {}", manifest_path.display()))?;
    crate::plugin::check_component_bytes(&component).map_err(|reason| {
        anyhow::anyhow!("{} is not a component: {reason}", args.file.display())
    })?;
    let signer = match &args.cosign_key {
        Some(path) => Some(cosign_signer(path)?),
        None => None,
    };
    let connection = args.registry.connection();
    let digest = registry::push(&connection, &reference, component, plugin_manifest).await?;
    println!("pushed {}@{digest}", reference.whole());
    if let Some(signer) = signer {
        let repository = format!("{}/{}", reference.registry(), reference.repository());
        let payload = simple_signing_payload(&repository, &digest).into_bytes();
        let signature = signer
            .sign(&payload)
            .map_err(|e| anyhow::anyhow!("signing with the cosign key: {e}"))?;
        registry::push_signature(
            &connection,
            &reference,
            &digest,
            payload,
            BASE64.encode(signature),
        )
        .await?;
        println!("signed {repository}@{digest} (cosign)");
    }
    Ok(())
}

/// A cosign private key (`cosign.key`, encrypted with COSIGN_PASSWORD).
fn cosign_signer(path: &Path) -> anyhow::Result<sigstore::crypto::SigStoreSigner> {
    let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let password = std::env::var("COSIGN_PASSWORD").unwrap_or_default();
    let keys = sigstore::crypto::signing_key::SigStoreKeyPair::from_encrypted_pem(
        &pem,
        password.as_bytes(),
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "{} is not a cosign private key (or COSIGN_PASSWORD is wrong): {e}",
            path.display()
        )
    })?;
    keys.to_sigstore_signer(&sigstore::crypto::SigningScheme::ECDSA_P256_SHA256_ASN1)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// `plugin pull`.
pub async fn pull(args: &PullArgs) -> anyhow::Result<()> {
    let reference = registry::parse_reference(&args.reference)?;
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let lock = LockFile::load(&args.dir)?;
    let pulled = registry::pull(&args.registry.connection(), &reference).await?;
    let plugin_manifest = match (&pulled.plugin_manifest, &args.manifest) {
        (Some(layer), None) => layer.clone(),
        (None, Some(file)) => {
            std::fs::read(file).with_context(|| format!("reading {}", file.display()))?
        }
        (Some(_), Some(_)) => bail!(
            "{} carries its own plugin manifest; --manifest is only for bare components",
            pulled.reference
        ),
        (None, None) => bail!(
            "{} is a bare component: it has no plugin manifest layer ({}). Publish plugins \
             with `mcp-wasm-host plugin push`, which adds it, or give the manifest to serve it \
             with (--manifest FILE)",
            pulled.reference,
            crate::trust::MANIFEST_MEDIA_TYPE
        ),
    };
    let manifest_text =
        std::str::from_utf8(&plugin_manifest).context("the plugin manifest is not UTF-8 text")?;
    let name = plugin_name(manifest_text)?;
    if args.locked {
        match lock.entry(&name) {
            Some(entry) if entry.digest != pulled.digest => bail!(
                "{} resolves to {}, but plugins.lock pins plugin `{name}` at {} ({}); \
                 nothing was written",
                pulled.reference,
                pulled.digest,
                entry.digest,
                entry.reference
            ),
            Some(_) => {}
            None => bail!(
                "plugins.lock has no entry for plugin `{name}`; pull it once without --locked"
            ),
        }
    }
    let digests = PluginDigests::of(&pulled.component, &plugin_manifest);
    let wasm = args.dir.join(format!("{name}.wasm"));
    let manifest = args.dir.join(format!("{name}.toml"));
    // Signatures first, the component last: each file is renamed into
    // place whole, and the watcher reloads once the directory settles.
    let sidecar = cosign_path(&wasm);
    if pulled.signatures.is_empty() {
        remove_if_present(&sidecar)?;
    } else {
        let kept = CosignSidecar {
            reference: pulled.reference.clone(),
            manifest: BASE64.encode(&pulled.manifest_bytes),
            signatures: pulled.signatures.clone(),
        };
        write_atomically(&sidecar, &serde_json::to_vec_pretty(&kept)?)
            .with_context(|| format!("writing {}", sidecar.display()))?;
    }
    // A minisign signature of an earlier version signs other files.
    remove_if_present(&minisig_path(&wasm))?;
    write_atomically(&manifest, &plugin_manifest)
        .with_context(|| format!("writing {}", manifest.display()))?;
    write_atomically(&wasm, &pulled.component)
        .with_context(|| format!("writing {}", wasm.display()))?;
    LockFile::record(
        &args.dir,
        LockEntry {
            name: name.clone(),
            reference: pulled.reference.clone(),
            digest: pulled.digest.clone(),
            component: digests.component,
            manifest: digests.manifest,
        },
    )?;
    println!(
        "pulled plugin `{name}` from {} ({}) into {}; {} cosign signature(s)",
        pulled.reference,
        pulled.digest,
        args.dir.display(),
        pulled.signatures.len()
    );
    Ok(())
}

/// The plugin's name from its manifest: the file stem it is written as,
/// so it must be a plain name (a registry is not trusted with paths).
fn plugin_name(manifest_text: &str) -> anyhow::Result<String> {
    let table: toml::Table = manifest_text
        .parse()
        .context("the plugin manifest layer is not valid TOML")?;
    let name = table
        .get("name")
        .and_then(toml::Value::as_str)
        .context("the plugin manifest layer has no `name`")?;
    let plain = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['.', '-'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !plain {
        bail!("the plugin manifest names the plugin {name:?}, which is not a plain file name");
    }
    Ok(name.to_string())
}

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::plugin_name;

    #[test]
    fn a_registry_cannot_name_a_path() {
        assert_eq!(plugin_name("name = \"hello\"\n").unwrap(), "hello");
        for hostile in ["../x", "a/b", ".hidden", "", "x\0y", "-flag"] {
            let text = format!("name = {hostile:?}\n");
            assert!(plugin_name(&text).is_err(), "{hostile:?}");
        }
    }
}

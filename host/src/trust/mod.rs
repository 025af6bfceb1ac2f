//! Where a plugin comes from and who vouches for it: the SHA-256 digests
//! of its component and its manifest, and whether a key the operator
//! trusts signed the two together. Two formats are read, both verified
//! offline: a minisign detached signature beside the component
//! (`<name>.wasm.minisig`, over the plugin's digest statement), and cosign
//! signatures of the OCI artifact it was pulled as, kept beside it
//! (`<name>.wasm.cosign.json`, with the artifact's manifest, whose layers
//! name both digests). [`consent`] records the operator's decisions on
//! what plugins may reach; [`lock`] pins pulled plugins to their digests.

pub mod consent;
mod cosign;
pub mod lock;
mod minisign;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use cosign::{
    CosignSidecar, CosignSignature, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE,
    simple_signing_payload,
};

/// The media type of the component layer (the wasm OCI artifact layout).
pub const COMPONENT_MEDIA_TYPE: &str = "application/wasm";
/// The media type of the layer holding a plugin's manifest.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.mcp-wasm-host.plugin-manifest.v1+toml";

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = String::with_capacity(71);
    out.push_str("sha256:");
    for b in digest.as_ref() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The digest identifying a plugin version as the host tracks it (fast,
/// not for signatures): its component bytes and its manifest text.
pub fn content_digest(component: &[u8], manifest_text: &str) -> String {
    version_digest(&blake3::hash(component), manifest_text)
}

/// [`content_digest`] from the BLAKE3 hash of the component's bytes, which
/// a load computes once (the compile cache's key derives from it too).
pub fn version_digest(component_hash: &blake3::Hash, manifest_text: &str) -> String {
    let mut h = blake3::Hasher::new();
    h.update(component_hash.as_bytes());
    h.update(manifest_text.as_bytes());
    h.finalize().to_hex()[..16].to_string()
}

/// The [`content_digest`] of the plugin files as they are on disk now;
/// `None` when either cannot be read.
pub async fn files_digest(wasm_path: &Path, manifest_path: &Path) -> Option<String> {
    let component = tokio::fs::read(wasm_path).await.ok()?;
    let manifest_text = tokio::fs::read_to_string(manifest_path).await.ok()?;
    Some(content_digest(&component, &manifest_text))
}

/// The digests of one plugin version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginDigests {
    /// `sha256:` of the component's bytes.
    pub component: String,
    /// `sha256:` of the manifest's bytes.
    pub manifest: String,
}

impl PluginDigests {
    pub fn of(component: &[u8], manifest: &[u8]) -> Self {
        Self {
            component: sha256(component),
            manifest: sha256(manifest),
        }
    }

    /// Read both files.
    pub fn of_files(wasm: &Path, manifest: &Path) -> std::io::Result<Self> {
        Ok(Self::of(&std::fs::read(wasm)?, &std::fs::read(manifest)?))
    }

    /// The digests of the version with [`content_digest`] `version`, read
    /// from its files (`<name>.wasm` and `<name>.toml`), for a version that
    /// loaded before a rule required its signature; why not when the files
    /// are no longer that version's (whose reload then follows).
    pub fn of_version(wasm: &Path, version: &str) -> Result<Self, String> {
        let component = std::fs::read(wasm)
            .map_err(|e| format!("cannot read its component to check its signature: {e}"))?;
        let manifest = std::fs::read_to_string(wasm.with_extension("toml"))
            .map_err(|e| format!("cannot read its manifest to check its signature: {e}"))?;
        if content_digest(&component, &manifest) != version {
            return Err(
                "its files changed since it loaded; the new version is checked as it loads".into(),
            );
        }
        Ok(Self::of(&component, manifest.as_bytes()))
    }

    /// The text a minisign signature covers: both digests, so neither file
    /// can be swapped under a signature of the other.
    pub fn statement(&self) -> String {
        format!(
            "mcp-wasm-host plugin digests v1\ncomponent {}\nmanifest {}\n",
            self.component, self.manifest
        )
    }

    /// One digest naming the version: that of its statement. Consent and
    /// `plugin inspect` name versions by it.
    pub fn version(&self) -> String {
        sha256(self.statement().as_bytes())
    }
}

/// The signature files kept beside a plugin's component.
pub fn minisig_path(wasm: &Path) -> PathBuf {
    sidecar(wasm, "minisig")
}

pub fn cosign_path(wasm: &Path) -> PathBuf {
    sidecar(wasm, "cosign.json")
}

fn sidecar(wasm: &Path, suffix: &str) -> PathBuf {
    let mut name = wasm.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    wasm.with_file_name(name)
}

/// The plugin stem a signature file belongs to: `x` for `x.wasm.minisig`
/// and `x.wasm.cosign.json`.
pub fn signature_stem(file_name: &str) -> Option<&str> {
    file_name
        .strip_suffix(".wasm.minisig")
        .or_else(|| file_name.strip_suffix(".wasm.cosign.json"))
        .filter(|stem| !stem.is_empty() && !stem.starts_with('.'))
}

/// A public key the operator trusts, as the policy's `[trusted-keys]`
/// names it.
#[derive(Clone)]
pub struct TrustedKey {
    pub name: String,
    /// The key as written (base64 or PEM), to compare policies.
    pub text: String,
    /// The file it was read from, if any: never granted to a plugin.
    pub file: Option<PathBuf>,
    material: KeyMaterial,
}

#[derive(Clone)]
enum KeyMaterial {
    Minisign(Arc<minisign_verify::PublicKey>),
    Cosign(Arc<sigstore::crypto::CosignVerificationKey>),
}

impl fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrustedKey({}, {})", self.name, self.format())
    }
}

impl PartialEq for TrustedKey {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.text == other.text && self.format() == other.format()
    }
}

/// The two signature formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureFormat {
    Minisign,
    Cosign,
}

impl fmt::Display for SignatureFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SignatureFormat::Minisign => "minisign",
            SignatureFormat::Cosign => "cosign",
        })
    }
}

impl TrustedKey {
    /// A minisign public key: its base64 line (`RW…`), or the whole
    /// `.pub` file with its comment line.
    pub fn minisign(name: &str, text: &str) -> Result<Self, String> {
        let line = text
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
            .unwrap_or_default();
        let key = minisign_verify::PublicKey::from_base64(line)
            .map_err(|e| format!("trusted key `{name}` is not a minisign public key: {e}"))?;
        Ok(Self {
            name: name.to_string(),
            text: line.to_string(),
            file: None,
            material: KeyMaterial::Minisign(Arc::new(key)),
        })
    }

    /// A cosign public key (`cosign.pub`: PEM, ECDSA P-256 or another
    /// scheme cosign signs with).
    pub fn cosign(name: &str, pem: &str) -> Result<Self, String> {
        let key = sigstore::crypto::CosignVerificationKey::try_from_pem(pem.trim().as_bytes())
            .map_err(|e| format!("trusted key `{name}` is not a cosign public key (PEM): {e}"))?;
        Ok(Self {
            name: name.to_string(),
            text: pem.trim().to_string(),
            file: None,
            material: KeyMaterial::Cosign(Arc::new(key)),
        })
    }

    /// This key, read from `file`.
    pub fn with_file(mut self, file: PathBuf) -> Self {
        self.file = Some(file);
        self
    }

    pub fn format(&self) -> SignatureFormat {
        match self.material {
            KeyMaterial::Minisign(_) => SignatureFormat::Minisign,
            KeyMaterial::Cosign(_) => SignatureFormat::Cosign,
        }
    }
}

/// Whether a plugin version is signed by a trusted key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureState {
    /// A signature by this key covers both digests.
    Signed {
        key: String,
        format: SignatureFormat,
    },
    /// No signature file beside the component.
    Unsigned,
    /// Signature files are there, and none is a trusted key's signature
    /// over these digests: why, for each.
    Invalid(String),
}

impl SignatureState {
    pub fn is_signed(&self) -> bool {
        matches!(self, SignatureState::Signed { .. })
    }
}

impl fmt::Display for SignatureState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureState::Signed { key, format } => {
                write!(f, "signed by trusted key `{key}` ({format})")
            }
            SignatureState::Unsigned => f.write_str(
                "unsigned (no <name>.wasm.minisig or <name>.wasm.cosign.json beside the component)",
            ),
            SignatureState::Invalid(why) => write!(f, "not validly signed: {why}"),
        }
    }
}

/// The signature files beside a component as they were read: kept with
/// the version loaded, so that version's signature can be checked again
/// (against changed keys) after the files beside it are replaced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignatureFiles {
    /// Each signature file there is (`<name>.wasm.minisig`,
    /// `<name>.wasm.cosign.json`): its format, name, and its bytes or why
    /// it could not be read.
    found: Vec<(SignatureFormat, String, Result<Vec<u8>, String>)>,
}

/// Read the signature files beside `wasm`.
pub fn read_signatures(wasm: &Path) -> SignatureFiles {
    let mut found = Vec::new();
    for (format, path) in [
        (SignatureFormat::Minisign, minisig_path(wasm)),
        (SignatureFormat::Cosign, cosign_path(wasm)),
    ] {
        let read = match std::fs::read(&path) {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => Err(format!("cannot be read: {e}")),
        };
        found.push((format, file_name(&path), read));
    }
    SignatureFiles { found }
}

impl SignatureFiles {
    /// Whether a key of `keys` signed the version with `digests`.
    pub fn verify(&self, keys: &[TrustedKey], digests: &PluginDigests) -> SignatureState {
        let mut problems = Vec::new();
        for (format, name, read) in &self.found {
            let verified = read
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|bytes| match format {
                    SignatureFormat::Minisign => std::str::from_utf8(bytes)
                        .map_err(|_| "not a minisign signature: not UTF-8 text".to_string())
                        .and_then(|text| minisign::verify(keys, text, digests)),
                    SignatureFormat::Cosign => cosign::verify(keys, bytes, digests),
                });
            match verified {
                Ok(key) => {
                    return SignatureState::Signed {
                        key,
                        format: *format,
                    };
                }
                Err(why) => problems.push(format!("{name}: {why}")),
            }
        }
        if problems.is_empty() {
            SignatureState::Unsigned
        } else {
            SignatureState::Invalid(problems.join("; "))
        }
    }
}

/// Check the signature files beside `wasm` against `keys` for the version
/// with `digests`.
pub fn verify(keys: &[TrustedKey], wasm: &Path, digests: &PluginDigests) -> SignatureState {
    read_signatures(wasm).verify(keys, digests)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Write `bytes` to `path` through a temporary file in the same directory
/// renamed into place, so a reader (or the watcher) never sees half of it.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temporary = dir.join(format!(".{name}.{}.partial", std::process::id()));
    let result = (|| {
        use std::io::Write;
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

#[cfg(test)]
mod tests;

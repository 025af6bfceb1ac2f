//! minisign detached signatures over a plugin's digest statement
//! (`minisign -Sm <statement file> -x <name>.wasm.minisig`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::{KeyMaterial, PluginDigests, TrustedKey};

/// The key id of a minisign signature or public key (base64, as in the
/// files): bytes 2 to 10, shown as minisign shows it.
fn key_id(base64_line: &str) -> Option<String> {
    let bytes = BASE64.decode(base64_line.trim()).ok()?;
    let id: [u8; 8] = bytes.get(2..10)?.try_into().ok()?;
    Some(format!("{:016X}", u64::from_le_bytes(id)))
}

/// The name of the trusted key whose signature `text` is over the
/// statement of `digests`, or why there is none.
pub(super) fn verify(
    keys: &[TrustedKey],
    text: &str,
    digests: &PluginDigests,
) -> Result<String, String> {
    let signature = minisign_verify::Signature::decode(text)
        .map_err(|e| format!("not a minisign signature: {e}"))?;
    let signed_by = text
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with("untrusted comment:"))
        .and_then(key_id);
    let statement = digests.statement();
    let minisign_keys: Vec<_> = keys
        .iter()
        .filter_map(|k| match &k.material {
            KeyMaterial::Minisign(public) => Some((k, public)),
            KeyMaterial::Cosign(_) => None,
        })
        .collect();
    if minisign_keys.is_empty() {
        return Err("the policy trusts no minisign key".into());
    }
    for (key, public) in &minisign_keys {
        // Prehashed signatures only (minisign's default since 0.8): the
        // legacy format is refused.
        if public
            .verify(statement.as_bytes(), &signature, false)
            .is_ok()
        {
            return Ok(key.name.clone());
        }
    }
    let id = signed_by.unwrap_or_else(|| "?".into());
    match minisign_keys
        .iter()
        .find(|(key, _)| key_id(&key.text).as_deref() == Some(id.as_str()))
    {
        Some((key, _)) => Err(format!(
            "the signature by trusted key `{}` does not cover this component and manifest \
             (it signs other files)",
            key.name
        )),
        None => Err(format!(
            "no trusted minisign key signed it: it is signed by key {id}, which the policy \
             does not trust"
        )),
    }
}

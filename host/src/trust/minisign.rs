//! minisign detached signatures over a plugin's digest statement
//! (`minisign -Sm <statement file> -x <name>.wasm.minisig`).

use super::{KeyMaterial, PluginDigests, TrustedKey};

/// The name of the trusted key whose signature `text` is over the
/// statement of `digests`, or why there is none.
pub(super) fn verify(
    keys: &[TrustedKey],
    text: &str,
    digests: &PluginDigests,
) -> Result<String, String> {
    let signature = minisign_verify::Signature::decode(text)
        .map_err(|e| format!("not a minisign signature: {e}"))?;
    let statement = digests.statement();
    let mut tried = 0;
    for key in keys {
        let KeyMaterial::Minisign(public) = &key.material else {
            continue;
        };
        tried += 1;
        // Prehashed signatures only (minisign's default since 0.8): the
        // legacy format hashes nothing and is refused.
        if public
            .verify(statement.as_bytes(), &signature, false)
            .is_ok()
        {
            return Ok(key.name.clone());
        }
    }
    Err(if tried == 0 {
        "the policy trusts no minisign key".into()
    } else {
        "no trusted minisign key signed this component and manifest \
         (signed by another key, or over other files)"
            .into()
    })
}

//! Whether a plugin version may be served, beyond what it asks for: the
//! signature the policy requires of it, and the operator's consent to what
//! it reaches. Checked when a version loads and again whenever the policy,
//! a signature file or the consent file changes (a loaded version against
//! the signature files it loaded with); a version refused here never
//! replaces the one serving.

use std::path::Path;

use crate::error::LoadError;
use crate::policy::{Grants, Policy};
use crate::trust::consent::{ConsentBook, ConsentState};
use crate::trust::{PluginDigests, SignatureFiles, SignatureState};

/// Where a served version comes from and who let it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub digests: PluginDigests,
    /// The signature files as they were when the version loaded.
    pub signature_files: SignatureFiles,
    pub signature: SignatureState,
    pub consent: ConsentState,
}

/// The signature state of version `digests` of plugin `name` (with the
/// signature files `files`), or the refusal when the policy requires a
/// signature and there is no valid one. Checked before the component is
/// compiled.
pub fn check_signature(
    policy: &Policy,
    name: &str,
    files: &SignatureFiles,
    digests: &PluginDigests,
) -> Result<SignatureState, LoadError> {
    let signature = files.verify(policy.trusted_keys(), digests);
    match policy.signature_required_by(name) {
        Some(by) if !signature.is_signed() => Err(LoadError::Signature {
            plugin: name.to_string(),
            by,
            state: signature.to_string(),
        }),
        _ => Ok(signature),
    }
}

/// Admit version `digests` of plugin `name` (signed by `signature_files`),
/// granted `grants`, under
/// `policy` and the decisions in `consent_file`: its provenance, or the refusal naming what is missing.
pub fn admit(
    policy: &Policy,
    consent_file: Option<&Path>,
    name: &str,
    signature_files: SignatureFiles,
    digests: &PluginDigests,
    grants: &Grants,
) -> Result<Provenance, LoadError> {
    let signature = check_signature(policy, name, &signature_files, digests)?;
    let consent = check_consent(policy, consent_file, name, grants)?;
    Ok(Provenance {
        digests: digests.clone(),
        signature_files,
        signature,
        consent,
    })
}

/// The consent state of a version, or the refusal when it may not be
/// served.
pub fn check_consent(
    policy: &Policy,
    consent_file: Option<&Path>,
    name: &str,
    grants: &Grants,
) -> Result<ConsentState, LoadError> {
    let Some(by) = policy.consent_required_by(name) else {
        return Ok(ConsentState::NotRequired);
    };
    let Some(file) = consent_file else {
        return Err(LoadError::ConsentUnknown {
            plugin: name.to_string(),
            reason: format!("{by} requires consent, and the host has no data directory to keep it"),
        });
    };
    let book = ConsentBook::load(file).map_err(|e| LoadError::ConsentUnknown {
        plugin: name.to_string(),
        reason: e.to_string(),
    })?;
    let state = book.state(name, &grants.reach(policy.capabilities()));
    match state {
        ConsentState::Pending { unapproved } => Err(LoadError::ConsentPending {
            plugin: name.to_string(),
            by,
            unapproved,
        }),
        ConsentState::Denied { digest } => Err(LoadError::ConsentDenied {
            plugin: name.to_string(),
            digest,
        }),
        admitted => Ok(admitted),
    }
}

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
    /// The signature files as they were when the version loaded.
    pub signature_files: SignatureFiles,
    /// When a rule requires a signature: the version's SHA-256 digests
    /// and its signature (hashing is paid only for what a rule asks).
    pub signed: Option<Signed>,
    pub consent: ConsentState,
}

/// A version's digests and the signature found over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub digests: PluginDigests,
    pub signature: SignatureState,
}

/// When the policy requires plugin `name` to be signed: its digests
/// (`known`, or computed by `digests`) and the signature `files` hold over
/// them, or the refusal when no trusted key signed it. `None` when no rule
/// requires a signature. Checked before the component is compiled.
pub fn check_signature(
    policy: &Policy,
    name: &str,
    files: &SignatureFiles,
    known: Option<&PluginDigests>,
    digests: impl FnOnce() -> Result<PluginDigests, LoadError>,
) -> Result<Option<Signed>, LoadError> {
    let Some(by) = policy.signature_required_by(name) else {
        return Ok(None);
    };
    let digests = match known {
        Some(known) => known.clone(),
        None => digests()?,
    };
    let signature = files.verify(policy.trusted_keys(), &digests);
    if !signature.is_signed() {
        return Err(LoadError::Signature {
            plugin: name.to_string(),
            by,
            state: signature.to_string(),
        });
    }
    Ok(Some(Signed { digests, signature }))
}

/// Admit a version of plugin `name` whose signature `signed` was checked
/// (with its `signature_files`), granted `grants`, under `policy` and the
/// decisions in `consent_file`: its provenance, or the refusal naming what
/// is missing.
pub fn admit(
    policy: &Policy,
    consent_file: Option<&Path>,
    name: &str,
    signature_files: SignatureFiles,
    signed: Option<Signed>,
    grants: &Grants,
) -> Result<Provenance, LoadError> {
    let consent = check_consent(policy, consent_file, name, grants)?;
    Ok(Provenance {
        signature_files,
        signed,
        consent,
    })
}

/// What consent says of plugin `name` granted `grants`: which rule asks
/// for it (`None`: none does, and the state is `NotRequired`) and the
/// state the decisions in `consent_file` give; `Err` says why they cannot
/// be read.
pub fn consent_state(
    policy: &Policy,
    consent_file: Option<&Path>,
    name: &str,
    grants: &Grants,
) -> (Option<String>, Result<ConsentState, String>) {
    let Some(by) = policy.consent_required_by(name) else {
        return (None, Ok(ConsentState::NotRequired));
    };
    let state = match consent_file {
        None => Err(format!(
            "{by} requires consent, and the host has no data directory to keep it"
        )),
        Some(file) => ConsentBook::load(file)
            .map(|book| book.state(name, &grants.reach(policy.capabilities())))
            .map_err(|e| e.to_string()),
    };
    (Some(by), state)
}

/// The consent state of a version, or the refusal when it may not be
/// served.
pub fn check_consent(
    policy: &Policy,
    consent_file: Option<&Path>,
    name: &str,
    grants: &Grants,
) -> Result<ConsentState, LoadError> {
    let (by, state) = consent_state(policy, consent_file, name, grants);
    let state = state.map_err(|reason| LoadError::ConsentUnknown {
        plugin: name.to_string(),
        reason,
    })?;
    match state {
        ConsentState::Pending { unapproved } => Err(LoadError::ConsentPending {
            plugin: name.to_string(),
            by: by.unwrap_or_default(),
            unapproved,
        }),
        ConsentState::Denied { digest } => Err(LoadError::ConsentDenied {
            plugin: name.to_string(),
            digest,
        }),
        admitted => Ok(admitted),
    }
}

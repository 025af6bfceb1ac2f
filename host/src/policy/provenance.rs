//! What the policy says of where plugins come from: the keys it trusts
//! (`[trusted-keys]`), which plugins must be signed by one of them
//! (`require-signature` on a rule), and which need the operator's consent
//! before they are served (`consent = "required"`, on a rule or for the
//! whole file). The first matching rule that sets a key decides, like
//! every other rule key.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::{Policy, Rule, glob_matches};
use crate::trust::TrustedKey;

/// Whether plugins need the operator's approval before they are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConsentMode {
    Required,
    #[default]
    NotRequired,
}

/// One `[trusted-keys]` entry: exactly one of its keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct KeyEntry {
    minisign: Option<String>,
    minisign_file: Option<String>,
    cosign: Option<String>,
    cosign_file: Option<String>,
}

/// Read the `[trusted-keys]` table; files are relative to the policy's
/// directory.
pub(super) fn trusted_keys(
    entries: BTreeMap<String, KeyEntry>,
    policy_path: Option<&Path>,
) -> Result<Vec<TrustedKey>, String> {
    let base = policy_path.and_then(Path::parent).unwrap_or(Path::new("."));
    let read = |name: &str, file: &str| {
        let path = base.join(file);
        std::fs::read_to_string(&path)
            .map_err(|e| format!("trusted key `{name}`: cannot read {}: {e}", path.display()))
    };
    let mut keys = Vec::with_capacity(entries.len());
    for (name, entry) in entries {
        let given = [
            entry.minisign.is_some(),
            entry.minisign_file.is_some(),
            entry.cosign.is_some(),
            entry.cosign_file.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(format!(
                "trusted key `{name}` must give exactly one of `minisign`, `minisign-file`, \
                 `cosign` and `cosign-file`"
            ));
        }
        let key = match entry {
            KeyEntry {
                minisign: Some(text),
                ..
            } => TrustedKey::minisign(&name, &text)?,
            KeyEntry {
                minisign_file: Some(file),
                ..
            } => TrustedKey::minisign(&name, &read(&name, &file)?)?.with_file(base.join(file)),
            KeyEntry {
                cosign: Some(pem), ..
            } => TrustedKey::cosign(&name, &pem)?,
            KeyEntry {
                cosign_file: Some(file),
                ..
            } => TrustedKey::cosign(&name, &read(&name, &file)?)?.with_file(base.join(file)),
            _ => unreachable!("exactly one was given"),
        };
        keys.push(key);
    }
    Ok(keys)
}

/// Which rule (or the file) decided a provenance requirement.
fn rule_name(number: usize, rule: &Rule) -> String {
    format!(
        "policy rule {number} (line {}, plugins = \"{}\")",
        rule.line, rule.plugins
    )
}

impl Policy {
    /// The keys whose signatures the policy trusts.
    pub fn trusted_keys(&self) -> &[TrustedKey] {
        &self.trusted_keys
    }

    /// What requires plugin `name` to be signed, if anything: the first
    /// matching rule that sets `require-signature`, if it sets it true.
    pub fn signature_required_by(&self, name: &str) -> Option<String> {
        self.rules
            .iter()
            .enumerate()
            .find(|(_, r)| r.require_signature.is_some() && glob_matches(&r.plugins, name))
            .filter(|(_, r)| r.require_signature == Some(true))
            .map(|(i, r)| rule_name(i + 1, r))
    }

    /// What requires consent before plugin `name` is served, if anything:
    /// the first matching rule that sets `consent`, else the file's own.
    pub fn consent_required_by(&self, name: &str) -> Option<String> {
        match self
            .rules
            .iter()
            .enumerate()
            .find(|(_, r)| r.consent.is_some() && glob_matches(&r.plugins, name))
        {
            Some((i, r)) => (r.consent == Some(ConsentMode::Required)).then(|| rule_name(i + 1, r)),
            None => (self.consent == ConsentMode::Required)
                .then(|| "the policy's `consent = \"required\"`".to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::capability::testing::policy;

    const KEY: &str = "RWTfcQKogJSDwb6goEGnm5NpPLdUhuwjrzbajNVSTpAGHC8uaJ5w3vnp";

    #[test]
    fn the_first_matching_rule_that_says_decides() {
        let p = policy(&format!(
            "consent = \"required\"\n\n[trusted-keys]\nrelease = {{ minisign = \"{KEY}\" }}\n\n\
             [[rule]]\nplugins = \"local-*\"\nrequire-signature = false\nconsent = \"not-required\"\n\n\
             [[rule]]\nplugins = \"*\"\nrequire-signature = true\n"
        ))
        .unwrap();
        assert_eq!(p.trusted_keys().len(), 1);
        assert_eq!(p.signature_required_by("local-tool"), None);
        assert_eq!(p.consent_required_by("local-tool"), None);
        assert_eq!(
            p.signature_required_by("fetched").as_deref(),
            Some("policy rule 2 (line 12, plugins = \"*\")")
        );
        assert!(
            p.consent_required_by("fetched")
                .is_some_and(|by| by.contains("consent = \"required\""))
        );
        // A changed key is a changed policy.
        let other = policy("consent = \"required\"\n").unwrap();
        assert!(!p.decides_like(&other));
    }

    #[test]
    fn bad_keys_and_misplaced_settings_are_named() {
        let err = policy("[trusted-keys]\nk = { minisign = \"nope\" }\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("trusted key `k` is not a minisign public key"),
            "{err}"
        );
        let err = policy(&format!(
            "[trusted-keys]\nk = {{ minisign = \"{KEY}\", cosign-file = \"c.pub\" }}\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("exactly one of"), "{err}");
        let err = policy("[trusted-keys]\nk = { cosign-file = \"/nonexistent/c.pub\" }\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot read /nonexistent/c.pub"), "{err}");
        let err =
            policy("[[rule]]\nplugins = \"*\"\nroles = [\"admin\"]\nrequire-signature = true\n")
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("`require-signature` is set on a rule for some callers"),
            "{err}"
        );
        let err = policy("consent = \"maybe\"\n").unwrap_err().to_string();
        assert!(err.contains("unknown variant `maybe`"), "{err}");
    }
}

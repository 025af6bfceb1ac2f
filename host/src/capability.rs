//! What a capability is to the manifest and the policy, which know no
//! capability by name: an id ([`Capability`]), the TOML it owns (a
//! manifest section `[capabilities.<name>]`, keys of policy rules), how the
//! policy narrows a declaration into a grant, and how `plugin check`
//! describes that grant ([`CapabilityKind`]). Each capability module
//! implements the trait; the host's set of them ([`CapabilitySet`]) is
//! handed to manifest parsing and to the policy, so neither holds a
//! per-capability arm.

use std::any::Any;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::de::{DeserializeOwned, IntoDeserializer};
use toml::Spanned;
use toml::de::DeValue;

/// A capability, by the name manifests and policies use.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Capability(&'static str);

impl Capability {
    /// The capability called `name` (each capability module names its own).
    pub const fn named(name: &'static str) -> Self {
        Capability(name)
    }

    pub fn name(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Capability({})", self.0)
    }
}

/// Parameters a capability owns, kept by the manifest, a policy rule or
/// the grants without their type; the capability that made them reads them
/// back with [`downcast`].
pub trait Params: Any + fmt::Debug + Send + Sync {
    fn as_any(&self) -> &dyn Any;
    /// Whether `other` holds the same parameters.
    fn same_as(&self, other: &dyn Params) -> bool;
}

impl<T: Any + fmt::Debug + PartialEq + Send + Sync> Params for T {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn same_as(&self, other: &dyn Params) -> bool {
        other.as_any().downcast_ref::<T>() == Some(self)
    }
}

/// Shared, type-erased parameters.
pub type ParamsRef = Arc<dyn Params>;

/// `params` as the type its capability made them with.
pub fn downcast<T: Any>(params: &dyn Params) -> Option<&T> {
    params.as_any().downcast_ref()
}

/// Whether two maps of parameters hold the same ones.
pub fn same_params<K: Ord>(
    a: &std::collections::BTreeMap<K, ParamsRef>,
    b: &std::collections::BTreeMap<K, ParamsRef>,
) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((ka, va), (kb, vb))| ka == kb && va.same_as(&**vb))
}

/// A piece of TOML a capability owns, with the positions of its parts in
/// the file, so errors name their line.
pub type Toml<'i> = Spanned<DeValue<'i>>;

/// Deserialize `value` as `T`; errors keep the position of the part they
/// are about.
pub fn from_toml<T: DeserializeOwned>(value: Toml<'_>) -> Result<T, toml::de::Error> {
    T::deserialize(value.into_deserializer())
}

/// An error about a capability's TOML: a position-less message (its
/// caller says where) or a TOML error (which knows where).
#[derive(Debug)]
pub enum TomlProblem {
    Message(String),
    Toml(toml::de::Error),
}

impl From<String> for TomlProblem {
    fn from(message: String) -> Self {
        TomlProblem::Message(message)
    }
}

impl From<&str> for TomlProblem {
    fn from(message: &str) -> Self {
        TomlProblem::Message(message.to_string())
    }
}

impl From<toml::de::Error> for TomlProblem {
    fn from(error: toml::de::Error) -> Self {
        TomlProblem::Toml(error)
    }
}

/// What the policy hands a capability to narrow a declaration.
pub struct Narrowing<'a> {
    /// The manifest's section for the capability, if it has one.
    pub declared: Option<&'a dyn Params>,
    /// The capability's keys in the rule that granted it; `None` when the
    /// policy's default did.
    pub granting_rule: Option<&'a dyn Params>,
    /// The capability's keys in every rule that matches the plugin, first
    /// rule first (for values where the lowest of them applies).
    pub matching_rules: Vec<&'a dyn Params>,
    /// The host's own files and directories, never granted.
    pub protected: &'a [PathBuf],
}

/// A declaration narrowed by the policy: what is granted (for the
/// capability's own use at call time and for `plugin check`) and what the
/// declaration asked for but does not get, each with the reason.
#[derive(Default)]
pub struct Narrowed {
    pub grant: Option<ParamsRef>,
    pub withheld: Vec<String>,
}

/// A capability as the manifest and the policy see it.
pub trait CapabilityKind: Send + Sync {
    fn id(&self) -> Capability;

    /// The WIT interfaces (`namespace:package/interface`, no version, `/*`
    /// for a whole package) it unlocks; empty for capabilities that are
    /// data given to always-linked interfaces.
    fn interfaces(&self) -> &'static [&'static str];

    /// Whether a policy's `grant-declared` default grants it; those that
    /// reach the host's own data or the network need a rule naming them.
    fn granted_by_default(&self) -> bool {
        true
    }

    /// The noun of what its manifest section lists (`"origin"`), when it
    /// has one: declaring it then requires the section, and the section
    /// requires declaring it.
    fn section_lists(&self) -> Option<&'static str> {
        None
    }

    /// Parse and check its manifest section.
    fn declaration(&self, _section: Toml<'_>) -> Result<ParamsRef, TomlProblem> {
        Err(TomlProblem::Message(format!(
            "`{}` takes no [capabilities.{}] section",
            self.id(),
            self.id()
        )))
    }

    /// The keys of a policy rule it owns.
    fn rule_keys(&self) -> &'static [&'static str] {
        &[]
    }

    /// Parse and check its keys of one rule (`keys` is a table of them,
    /// empty when the rule sets none); `grants_it` says whether the rule
    /// grants the capability. `None` when the rule says nothing of it.
    fn rule(&self, _keys: Toml<'_>, _grants_it: bool) -> Result<Option<ParamsRef>, TomlProblem> {
        Ok(None)
    }

    /// What the granted capability reaches, narrowed by the policy.
    fn narrow(&self, _narrowing: Narrowing<'_>) -> Narrowed {
        Narrowed::default()
    }

    /// Lines for `plugin check` saying what exactly the grant reaches.
    fn describe(&self, _grant: Option<&dyn Params>) -> Vec<String> {
        Vec::new()
    }

    /// What the grant reaches as a JSON object of the capability's own
    /// keys, for a plugin that asks before it acts (`context.grant`).
    fn scope(&self, _grant: Option<&dyn Params>) -> serde_json::Value {
        serde_json::json!({})
    }
}

/// The line of byte `offset` in `text`, from 1.
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Capability names as written in `text` (a manifest or a policy), each
/// one `capabilities` has; the error names the line of the first unknown.
pub fn resolve_names(
    text: &str,
    names: Vec<Spanned<String>>,
    capabilities: &dyn CapabilitySet,
) -> Result<Vec<Capability>, String> {
    names
        .into_iter()
        .map(|name| match capabilities.kind(name.get_ref()) {
            Some(kind) => Ok(kind.id()),
            None => Err(format!(
                "line {}: unknown variant `{}`, expected one of {}",
                line_of(text, name.span().start),
                name.get_ref(),
                capabilities.names()
            )),
        })
        .collect()
}

/// The capabilities a host has.
pub trait CapabilitySet: Send + Sync {
    fn kinds(&self) -> &[&'static dyn CapabilityKind];

    /// The capability called `name`.
    fn kind(&self, name: &str) -> Option<&'static dyn CapabilityKind> {
        self.kinds().iter().copied().find(|k| k.id().name() == name)
    }

    fn kind_of(&self, capability: Capability) -> Option<&'static dyn CapabilityKind> {
        self.kind(capability.name())
    }

    /// The capabilities a `grant-declared` policy default does not grant,
    /// for messages: `files, env, http, secrets and sql`.
    fn needing_a_rule(&self) -> String {
        let names: Vec<&str> = self
            .kinds()
            .iter()
            .filter(|k| !k.granted_by_default())
            .map(|k| k.id().name())
            .collect();
        match names.split_last() {
            None => "nothing".into(),
            Some((last, [])) => (*last).to_string(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        }
    }

    /// Every name, for error messages.
    fn names(&self) -> String {
        self.kinds()
            .iter()
            .map(|k| format!("`{}`", k.id()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Debug for dyn CapabilitySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.kinds().iter().map(|k| k.id()))
            .finish()
    }
}

/// Helpers for the tests of the manifest, the policy and each capability.
#[cfg(test)]
pub(crate) mod testing {
    use crate::manifest::{ManifestCapabilities, PluginManifest};
    use crate::policy::{Policy, PolicyError};

    /// `text` as a policy of this host's capabilities.
    pub(crate) fn policy(text: &str) -> Result<Policy, PolicyError> {
        Policy::parse(text, None, crate::capabilities::registry())
    }

    /// The policy with no file.
    pub(crate) fn no_policy() -> Policy {
        Policy::grant_declared(crate::capabilities::registry())
    }

    /// The manifest of plugin `p` with `capabilities` (TOML from
    /// `[capabilities]` on).
    pub(crate) fn manifest(capabilities: &str) -> Result<PluginManifest, String> {
        PluginManifest::parse(
            &format!("name = \"p\"\nversion = \"1\"\n{capabilities}"),
            "p",
            crate::capabilities::registry(),
        )
    }

    /// What plugin `p` declares with `capabilities`, which must be valid.
    pub(crate) fn declaring(capabilities: &str) -> ManifestCapabilities {
        manifest(capabilities)
            .unwrap_or_else(|e| panic!("{e}"))
            .capabilities
    }
}

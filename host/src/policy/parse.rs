//! Reading a policy file: its top level and each `[[rule]]`, the keys
//! every rule has and those each capability owns, with the line of any
//! problem.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::provenance::{KeyEntry, trusted_keys};
use super::{Audience, ConsentMode, DefaultGrant, Policy, PolicyError, Rule};
use crate::capability::{
    Capability, CapabilitySet, TomlProblem, from_toml, line_of, resolve_names,
};
use crate::manifest::describe_toml_error;
use crate::tool::TaskSupport;

/// The file's top level, its `[[rule]]` tables set aside.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PolicyFile {
    #[serde(default)]
    default: Option<DefaultGrant>,
    #[serde(default)]
    consent: Option<ConsentMode>,
    #[serde(default)]
    trusted_keys: BTreeMap<String, KeyEntry>,
}

/// The keys every rule may have; the others belong to capabilities.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RuleFile {
    plugins: Spanned<String>,
    #[serde(default)]
    grant: Vec<Spanned<String>>,
    #[serde(default)]
    deny: Vec<Spanned<String>>,
    max_memory_mib: Option<u64>,
    max_timeout_ms: Option<u64>,
    max_task_timeout_ms: Option<u64>,
    max_concurrent: Option<u32>,
    max_fuel: Option<u64>,
    tasks: Option<Spanned<String>>,
    roles: Option<Vec<String>>,
    principals: Option<Vec<String>>,
    require_signature: Option<bool>,
    consent: Option<ConsentMode>,
}

const RULE_KEYS: &[&str] = &[
    "plugins",
    "roles",
    "principals",
    "grant",
    "deny",
    "max-memory-mib",
    "max-timeout-ms",
    "max-task-timeout-ms",
    "max-concurrent",
    "tasks",
    "max-fuel",
    "require-signature",
    "consent",
];

impl Policy {
    pub fn parse(
        text: &str,
        path: Option<&Path>,
        capabilities: &'static dyn CapabilitySet,
    ) -> Result<Self, PolicyError> {
        let shown = path.map_or_else(|| PathBuf::from("(policy)"), Path::to_path_buf);
        let invalid = |message: String| PolicyError::Invalid {
            path: shown.clone(),
            message,
        };
        let toml_error = |e: &toml::de::Error| invalid(describe_toml_error(text, e));
        let document = DeTable::parse(text).map_err(|e| toml_error(&e))?;
        let span = document.span();
        let mut top = document.into_inner();
        let mut tables = Vec::new();
        if let Some(rules) = top.remove("rule") {
            let line = line_of(text, rules.span().start);
            let not_tables = || {
                invalid(format!(
                    "line {line}: `rule` must be tables, written [[rule]]"
                ))
            };
            let DeValue::Array(items) = rules.into_inner() else {
                return Err(not_tables());
            };
            for item in items.iter() {
                let item_span = item.span();
                match item.get_ref() {
                    DeValue::Table(table) => tables.push(Spanned::new(item_span, table.clone())),
                    _ => return Err(not_tables()),
                }
            }
        }
        let file: PolicyFile =
            from_toml(Spanned::new(span, DeValue::Table(top))).map_err(|e| toml_error(&e))?;
        if file.default.is_none()
            && tables.is_empty()
            && file.consent.is_none()
            && file.trusted_keys.is_empty()
        {
            // Most likely a file caught between being emptied and written.
            return Err(invalid(
                "the policy is empty; write at least `default = \"grant-declared\"` or \
                 `default = \"deny\"` (to replace the policy of a running host, write the \
                 new one to a temporary file and rename it into place)"
                    .into(),
            ));
        }
        let mut rules = Vec::with_capacity(tables.len());
        for table in tables {
            rules.push(parse_rule(text, table, capabilities).map_err(invalid)?);
        }
        let trusted_keys = trusted_keys(file.trusted_keys, path).map_err(invalid)?;
        Ok(Self {
            source: path.map(Path::to_path_buf),
            default: file.default.unwrap_or_default(),
            rules,
            consent: file.consent.unwrap_or_default(),
            trusted_keys,
            protected: Vec::new(),
            host_files: Vec::new(),
            capabilities,
        }
        .protecting_resolved(Vec::new()))
    }
}

/// One `[[rule]]`: its own keys, then each capability's.
fn parse_rule(
    text: &str,
    table: Spanned<DeTable<'_>>,
    capabilities: &dyn CapabilitySet,
) -> Result<Rule, String> {
    let span = table.span();
    let mut own = DeTable::new();
    let mut claimed: BTreeMap<Capability, DeTable<'_>> = BTreeMap::new();
    for (key, value) in table.into_inner() {
        let name = key.get_ref().to_string();
        if RULE_KEYS.contains(&name.as_str()) {
            own.insert(key, value);
            continue;
        }
        match capabilities
            .kinds()
            .iter()
            .find(|k| k.rule_keys().contains(&name.as_str()))
        {
            Some(kind) => {
                claimed.entry(kind.id()).or_default().insert(key, value);
            }
            None => {
                return Err(format!(
                    "line {}: unknown field `{name}`",
                    line_of(text, key.span().start)
                ));
            }
        }
    }
    let r: RuleFile = from_toml(Spanned::new(span.clone(), DeValue::Table(own)))
        .map_err(|e| describe_toml_error(text, &e))?;
    let line = line_of(text, r.plugins.span().start);
    let plugins = r.plugins.into_inner();
    if plugins.is_empty() {
        return Err(format!("line {line}: `plugins` must not be empty"));
    }
    let tasks = match &r.tasks {
        None => None,
        Some(value) => Some(TaskSupport::parse(value.get_ref()).ok_or_else(|| {
            format!(
                "line {}: `tasks` is `{}`; expected forbidden, optional or required",
                line_of(text, value.span().start),
                value.get_ref()
            )
        })?),
    };
    let audience = match (r.roles, r.principals) {
        (None, None) => None,
        (roles, principals) => {
            let audience = Audience {
                roles: roles.unwrap_or_default(),
                principals: principals.unwrap_or_default(),
            };
            if audience.roles.is_empty() && audience.principals.is_empty() {
                return Err(format!(
                    "line {line}: `roles` and `principals` name no caller, so the rule would \
                     apply to none; name at least one, or leave both out for every caller"
                ));
            }
            let per_plugin = [
                ("max-memory-mib", r.max_memory_mib.is_some()),
                ("max-timeout-ms", r.max_timeout_ms.is_some()),
                ("max-task-timeout-ms", r.max_task_timeout_ms.is_some()),
                ("max-concurrent", r.max_concurrent.is_some()),
                ("max-fuel", r.max_fuel.is_some()),
                ("tasks", r.tasks.is_some()),
                ("require-signature", r.require_signature.is_some()),
                ("consent", r.consent.is_some()),
            ];
            if let Some((key, _)) = per_plugin.iter().find(|(_, set)| *set) {
                return Err(format!(
                    "line {line}: `{key}` is set on a rule for some callers ({audience}); \
                     limits, task support, signatures and consent hold for every caller of \
                     a plugin, so set them on a rule without `roles` or `principals`"
                ));
            }
            Some(audience)
        }
    };
    let grant = resolve_names(text, r.grant, capabilities)?;
    let deny = resolve_names(text, r.deny, capabilities)?;
    if let Some(c) = grant.iter().find(|c| deny.contains(c)) {
        return Err(format!(
            "line {line}: capability `{c}` is both granted and denied by the same rule"
        ));
    }
    if r.max_memory_mib == Some(0)
        || r.max_timeout_ms == Some(0)
        || r.max_task_timeout_ms == Some(0)
        || r.max_concurrent == Some(0)
        || r.max_fuel == Some(0)
    {
        return Err(format!(
            "line {line}: a ceiling or quota must be at least 1"
        ));
    }
    let mut params = BTreeMap::new();
    for kind in capabilities.kinds() {
        let keys = claimed.remove(&kind.id()).unwrap_or_default();
        let parsed = kind
            .rule(
                Spanned::new(span.clone(), DeValue::Table(keys)),
                grant.contains(&kind.id()),
            )
            .map_err(|problem| match problem {
                TomlProblem::Toml(e) => describe_toml_error(text, &e),
                TomlProblem::Message(m) => format!("line {line}: {m}"),
            })?;
        if let Some(p) = parsed {
            params.insert(kind.id(), p);
        }
    }
    Ok(Rule {
        plugins,
        line,
        audience,
        grant,
        deny,
        max_memory_mib: r.max_memory_mib,
        max_timeout_ms: r.max_timeout_ms,
        max_task_timeout_ms: r.max_task_timeout_ms,
        max_concurrent: r.max_concurrent,
        max_fuel: r.max_fuel,
        tasks,
        require_signature: r.require_signature,
        consent: r.consent,
        params,
    })
}

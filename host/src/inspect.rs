//! `mcp-wasm-host plugin check` and `plugin inspect`: what a component is
//! (its digest, imports and exports), what its manifest declares, what the
//! policy grants it and what each grant reaches, whether (and why not) it
//! would load, and the tools, prompts and resource templates it offers
//! with their schemas — without serving anything. One [`Inspection`],
//! printed for people or as JSON.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use crate::auth::Access;
use crate::capabilities::table::{ImportRule, rule_for};
use crate::capability::Capability;
use crate::manifest::PluginManifest;
use crate::plugin::{LoadContext, Plugin, component_exports, component_imports};

/// Everything `plugin inspect` says about a plugin.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inspection {
    pub component: PathBuf,
    /// `sha256:<hex>` of the component's bytes, when it can be read.
    pub digest: Option<String>,
    pub size_bytes: Option<u64>,
    /// The interfaces it imports, each with what grants it.
    pub imports: Vec<Import>,
    pub exports: Vec<String>,
    pub manifest: PathBuf,
    /// What the manifest declares, when it parses.
    pub declared: Option<Declared>,
    /// The policy file, or `None` for the default policy.
    pub policy: Option<PathBuf>,
    /// Whom the grants are evaluated for (`a caller with every role`, or a
    /// principal and its roles).
    pub caller: String,
    /// Whether the auth file lets that caller list and call the plugin.
    pub caller_may_use: bool,
    pub granted: Vec<Grant>,
    /// Capabilities declared optional that a rule's refusal withholds.
    pub withheld: Vec<String>,
    pub refused: Vec<Refusal>,
    /// Whether it would load, and why not.
    pub loads: bool,
    pub refusal: Option<String>,
    /// What it offers, as MCP lists it (when it loads).
    pub tools: Vec<Value>,
    pub prompts: Vec<Value>,
    pub resource_templates: Vec<Value>,
    pub lists_resources: bool,
    /// Digests, signature, lock and consent (when both files can be read).
    pub provenance: Option<ProvenanceReport>,
    #[serde(skip)]
    default_policy: String,
}

/// Where the plugin comes from and who let it in.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvenanceReport {
    /// The version's digest (of its digest statement).
    pub version_digest: String,
    pub component_digest: String,
    pub manifest_digest: String,
    /// Whether a trusted key signed it, or why not.
    pub signature: String,
    /// The trusted key that signed it.
    pub signed_by: Option<String>,
    /// The rule requiring a signature, if one does.
    pub signature_required_by: Option<String>,
    /// How its files compare with `plugins.lock`.
    pub lock: String,
    /// Whether it is approved, pending or denied, and what asks for it.
    pub consent: String,
    pub consent_required_by: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Import {
    pub interface: String,
    /// `always`, `capability <name>`, or `nothing` (no capability grants it).
    pub granted_by: String,
}

#[derive(Debug, Serialize)]
pub struct Declared {
    pub name: String,
    pub version: String,
    pub required: Vec<String>,
    pub optional: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Grant {
    pub capability: String,
    pub decided_by: String,
    /// What the grant reaches (directories, origins, names, ...).
    pub reaches: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    pub capability: String,
    pub decided_by: String,
    /// When a rule grants it to other callers: which rule, whom it is for,
    /// and who this caller is.
    pub granted_to_others: Option<String>,
    /// `the plugin is refused` (required) or `each use answers denied`.
    pub consequence: String,
}

/// Inspect the plugin `wasm` described by `manifest` against the policy in
/// force, with the grants `caller` gets.
pub async fn inspect(
    cx: &LoadContext,
    wasm: &Path,
    manifest: &Path,
    access: &Access,
) -> Inspection {
    let caller = access.caller();
    let runtime = &cx.runtime;
    let policy = cx.policy.current();
    let mut inspection = Inspection {
        component: wasm.to_path_buf(),
        digest: None,
        size_bytes: None,
        imports: Vec::new(),
        exports: Vec::new(),
        manifest: manifest.to_path_buf(),
        declared: None,
        policy: policy.source.clone(),
        caller: caller.to_string(),
        caller_may_use: true,
        granted: Vec::new(),
        withheld: Vec::new(),
        refused: Vec::new(),
        loads: false,
        refusal: None,
        tools: Vec::new(),
        prompts: Vec::new(),
        resource_templates: Vec::new(),
        lists_resources: false,
        provenance: None,
        default_policy: policy.capabilities().needing_a_rule(),
    };
    let stem = wasm
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if let Ok(bytes) = std::fs::read(wasm) {
        inspection.digest = Some(format!("sha256:{}", crate::auth::sha256_hex(&bytes)));
        inspection.size_bytes = Some(bytes.len() as u64);
        if wasmparser::Parser::is_component(&bytes)
            && let Ok((component, _)) = runtime.compile(stem, &bytes)
        {
            inspection.imports = component_imports(runtime.engine(), &component)
                .into_iter()
                .map(|interface| {
                    let granted_by = match rule_for(&interface) {
                        ImportRule::Always => "always".to_string(),
                        ImportRule::Capability(c) => format!("capability {c}"),
                        ImportRule::Unknown => "nothing".to_string(),
                    };
                    Import {
                        interface,
                        granted_by,
                    }
                })
                .collect();
            inspection.exports = component_exports(runtime.engine(), &component);
        }
    }

    if let Some(parsed) = std::fs::read_to_string(manifest)
        .ok()
        .and_then(|text| PluginManifest::parse(&text, stem, policy.capabilities()).ok())
    {
        let names = |caps: &[Capability]| caps.iter().map(|c| c.name().to_string()).collect();
        inspection.declared = Some(Declared {
            name: parsed.name.clone(),
            version: parsed.version.clone(),
            required: names(&parsed.capabilities.required),
            optional: names(&parsed.capabilities.optional),
        });
        inspection.provenance = provenance(cx, &policy, &parsed, wasm, manifest);
        let grants = policy.evaluate_for(&parsed.name, &parsed.capabilities, &caller);
        inspection.caller_may_use = access.allows(&parsed.name);
        for (c, decider) in &grants.granted {
            let reaches = policy
                .capabilities()
                .kind_of(*c)
                .map(|kind| kind.describe(grants.params.get(c).map(|p| &**p)))
                .unwrap_or_default();
            inspection.granted.push(Grant {
                capability: c.to_string(),
                decided_by: decider.to_string(),
                reaches,
            });
        }
        inspection.withheld = grants.withheld.iter().map(ToString::to_string).collect();
        for (c, decider) in &grants.refused {
            let consequence = if parsed.capabilities.required.contains(c) {
                "the plugin is refused"
            } else {
                "each use answers `denied`"
            };
            inspection.refused.push(Refusal {
                capability: c.to_string(),
                decided_by: decider.to_string(),
                granted_to_others: grants.not_for_caller.get(c).cloned(),
                consequence: consequence.to_string(),
            });
        }
    }

    match Plugin::load(cx, wasm, manifest).await {
        Ok(plugin) => {
            inspection.loads = true;
            inspection.tools = plugin.tools.iter().map(tool_json).collect();
            inspection.prompts = plugin
                .prompts
                .iter()
                .map(|p| {
                    let d = &p.descriptor;
                    json!({
                        "name": d.name,
                        "title": d.title,
                        "description": d.description,
                        "arguments": d.arguments.iter().map(|a| json!({
                            "name": a.name,
                            "description": a.description,
                            "required": a.required,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            inspection.resource_templates = plugin
                .templates
                .iter()
                .map(|t| {
                    let t = &t.template;
                    json!({
                        "uriTemplate": t.uri_template,
                        "name": t.name,
                        "description": t.description,
                        "mimeType": t.mime_type,
                    })
                })
                .collect();
            inspection.lists_resources = plugin.lists_resources;
        }
        Err(e) => inspection.refusal = Some(e.to_string()),
    }
    inspection
}

/// The provenance of the plugin files, whether or not they would load.
fn provenance(
    cx: &LoadContext,
    policy: &crate::policy::Policy,
    parsed: &PluginManifest,
    wasm: &Path,
    manifest: &Path,
) -> Option<ProvenanceReport> {
    let digests = crate::trust::PluginDigests::of_files(wasm, manifest).ok()?;
    let signature = crate::trust::verify(policy.trusted_keys(), wasm, &digests);
    let signed_by = match &signature {
        crate::trust::SignatureState::Signed { key, .. } => Some(key.clone()),
        _ => None,
    };
    let lock = match crate::trust::lock::LockFile::load(wasm.parent().unwrap_or(Path::new("."))) {
        Ok(lock) => lock.state(&parsed.name, &digests).to_string(),
        Err(e) => e.to_string(),
    };
    let grants = policy.evaluate(&parsed.name, &parsed.capabilities);
    let (consent_required_by, consent) =
        crate::admission::consent_state(policy, cx.consent_file.as_deref(), &parsed.name, &grants);
    let consent = consent.map_or_else(|why| why, |state| state.to_string());
    Some(ProvenanceReport {
        version_digest: digests.version(),
        component_digest: digests.component.clone(),
        manifest_digest: digests.manifest.clone(),
        signature: signature.to_string(),
        signed_by,
        signature_required_by: policy.signature_required_by(&parsed.name),
        lock,
        consent,
        consent_required_by,
    })
}

fn tool_json(tool: &crate::tool::ToolSpec) -> Value {
    json!({
        "name": tool.name,
        "title": tool.title,
        "description": tool.description,
        "inputSchema": &*tool.input_schema,
        "outputSchema": tool.output_schema.as_deref(),
    })
}

impl Inspection {
    /// The report for people.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "component: {}", self.component.display());
        if let (Some(digest), Some(size)) = (&self.digest, self.size_bytes) {
            let _ = writeln!(out, "  {digest}, {size} bytes");
        }
        if !self.imports.is_empty() || !self.exports.is_empty() {
            let _ = writeln!(out, "imports:");
            for import in &self.imports {
                let rule = match import.granted_by.as_str() {
                    "always" => "always granted".to_string(),
                    "nothing" => "no capability grants it".to_string(),
                    other => format!(
                        "capability `{}`",
                        other.strip_prefix("capability ").unwrap_or(other)
                    ),
                };
                let _ = writeln!(out, "  {:<44} {rule}", import.interface);
            }
            let _ = writeln!(out, "exports:");
            for export in &self.exports {
                let _ = writeln!(out, "  {export}");
            }
        }
        let _ = writeln!(out, "manifest: {}", self.manifest.display());
        if let Some(declared) = &self.declared {
            let list = |items: &[String]| {
                if items.is_empty() {
                    "(none)".to_string()
                } else {
                    items.join(", ")
                }
            };
            let _ = writeln!(out, "  required: {}", list(&declared.required));
            let _ = writeln!(out, "  optional: {}", list(&declared.optional));
            match &self.policy {
                Some(path) => {
                    let _ = writeln!(out, "policy: {}", path.display());
                }
                None => {
                    let _ = writeln!(
                        out,
                        "policy: none (what is declared is granted, except {})",
                        self.default_policy
                    );
                }
            }
            let _ = writeln!(
                out,
                "caller: {}{}",
                self.caller,
                if self.caller_may_use {
                    ""
                } else {
                    " — the auth file does not let it list or call this plugin"
                }
            );
            for grant in &self.granted {
                let _ = writeln!(
                    out,
                    "  {}: granted by {}",
                    grant.capability, grant.decided_by
                );
                for line in &grant.reaches {
                    let _ = writeln!(out, "    {line}");
                }
            }
            for withheld in &self.withheld {
                let _ = writeln!(out, "  withheld: {withheld}");
            }
            for refusal in &self.refused {
                let _ = match &refusal.granted_to_others {
                    Some(others) => writeln!(
                        out,
                        "  {}: not granted to this caller: {others}; {}",
                        refusal.capability, refusal.consequence
                    ),
                    None => writeln!(
                        out,
                        "  {}: not granted by {}; {}",
                        refusal.capability, refusal.decided_by, refusal.consequence
                    ),
                };
            }
        }
        if let Some(p) = &self.provenance {
            let _ = writeln!(out, "provenance:");
            let _ = writeln!(out, "  version digest: {}", p.version_digest);
            let _ = writeln!(out, "  manifest: {}", p.manifest_digest);
            let required = |by: &Option<String>| {
                by.as_ref()
                    .map(|by| format!(" (required by {by})"))
                    .unwrap_or_default()
            };
            let _ = writeln!(
                out,
                "  signature: {}{}",
                p.signature,
                required(&p.signature_required_by)
            );
            let _ = writeln!(out, "  lock: {}", p.lock);
            let _ = writeln!(
                out,
                "  consent: {}{}",
                p.consent,
                required(&p.consent_required_by)
            );
        }
        match &self.refusal {
            None => {
                let _ = writeln!(
                    out,
                    "verdict: loads — {} tool(s), {} prompt(s), {} resource template(s){}",
                    self.tools.len(),
                    self.prompts.len(),
                    self.resource_templates.len(),
                    if self.lists_resources {
                        ", lists resources"
                    } else {
                        ""
                    }
                );
            }
            Some(reason) => {
                let _ = writeln!(out, "verdict: refused — {reason}");
            }
        }
        for tool in &self.tools {
            let field = |key: &str| tool.get(key).and_then(Value::as_str);
            let _ = writeln!(
                out,
                "tool {}{}",
                field("name").unwrap_or("?"),
                field("description")
                    .map(|d| format!(" — {}", d.lines().next().unwrap_or("")))
                    .unwrap_or_default()
            );
            for (label, key) in [("input", "inputSchema"), ("output", "outputSchema")] {
                if let Some(schema) = tool.get(key).filter(|s| !s.is_null()) {
                    let mut schema = schema.clone();
                    if let Some(object) = schema.as_object_mut() {
                        object.remove("$schema");
                    }
                    let _ = writeln!(out, "  {label}: {schema}");
                }
            }
        }
        for prompt in &self.prompts {
            let _ = writeln!(
                out,
                "prompt {}",
                prompt.get("name").and_then(Value::as_str).unwrap_or("?")
            );
        }
        for template in &self.resource_templates {
            let _ = writeln!(
                out,
                "resource template {}",
                template
                    .get("uriTemplate")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
            );
        }
        out
    }
}

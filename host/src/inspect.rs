//! `mcp-wasm-host plugin check`: what a component imports and exports, what
//! its manifest declares, what the policy grants it, and whether (and why
//! not) it would load — without serving anything.

use std::fmt::Write as _;
use std::path::Path;

use crate::capabilities::table::{ImportRule, rule_for};
use crate::capability::Capability;
use crate::manifest::PluginManifest;
use crate::plugin::{LoadContext, Plugin, component_exports, component_imports};

/// The outcome of a check: a printable report, and whether the plugin loads.
#[derive(Debug)]
pub struct Report {
    pub text: String,
    pub loads: bool,
}

/// Check the plugin `wasm` described by `manifest` against the policy in
/// force.
pub async fn check(cx: &LoadContext, wasm: &Path, manifest: &Path) -> Report {
    let runtime = &cx.runtime;
    let mut out = String::new();
    let bytes = std::fs::read(wasm);
    let _ = writeln!(out, "component: {}", wasm.display());
    if let Ok(bytes) = &bytes
        && wasmparser::Parser::is_component(bytes)
        && let Ok((component, _)) = runtime.compile(bytes)
    {
        let _ = writeln!(out, "imports:");
        for import in component_imports(runtime.engine(), &component) {
            let rule = match rule_for(&import) {
                ImportRule::Always => "always granted".to_string(),
                ImportRule::Capability(c) => format!("capability `{c}`"),
                ImportRule::Unknown => "no capability grants it".to_string(),
            };
            let _ = writeln!(out, "  {import:<44} {rule}");
        }
        let _ = writeln!(out, "exports:");
        for export in component_exports(runtime.engine(), &component) {
            let _ = writeln!(out, "  {export}");
        }
    }

    let _ = writeln!(out, "manifest: {}", manifest.display());
    let stem = wasm
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if let Some(parsed) = std::fs::read_to_string(manifest).ok().and_then(|text| {
        PluginManifest::parse(&text, stem, cx.policy.current().capabilities()).ok()
    }) {
        let list = |caps: &[Capability]| {
            if caps.is_empty() {
                "(none)".to_string()
            } else {
                caps.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ")
            }
        };
        let _ = writeln!(out, "  required: {}", list(&parsed.capabilities.required));
        let _ = writeln!(out, "  optional: {}", list(&parsed.capabilities.optional));
        let policy = cx.policy.current();
        match &policy.source {
            Some(path) => {
                let _ = writeln!(out, "policy: {}", path.display());
            }
            None => {
                let _ = writeln!(
                    out,
                    "policy: none (what is declared is granted, except {})",
                    policy.capabilities().needing_a_rule()
                );
            }
        }
        let grants = policy.evaluate(&parsed.name, &parsed.capabilities);
        for (c, decider) in &grants.granted {
            let _ = writeln!(out, "  {c}: granted by {decider}");
            if let Some(kind) = policy.capabilities().kind_of(*c) {
                for line in kind.describe(grants.params.get(c).map(|p| &**p)) {
                    let _ = writeln!(out, "    {line}");
                }
            }
        }
        for withheld in &grants.withheld {
            let _ = writeln!(out, "  withheld: {withheld}");
        }
        for (c, decider) in &grants.refused {
            let consequence = if parsed.capabilities.required.contains(c) {
                "the plugin is refused"
            } else {
                "each use answers `denied`"
            };
            let _ = writeln!(out, "  {c}: not granted by {decider}; {consequence}");
        }
    }

    let loads = match Plugin::load(cx, wasm, manifest).await {
        Ok(plugin) => {
            let _ = writeln!(
                out,
                "verdict: loads — {} tool(s), {} prompt(s), {} resource template(s){}",
                plugin.tools.len(),
                plugin.prompts.len(),
                plugin.templates.len(),
                if plugin.lists_resources {
                    ", lists resources"
                } else {
                    ""
                }
            );
            true
        }
        Err(e) => {
            let _ = writeln!(out, "verdict: refused — {e}");
            false
        }
    };
    Report { text: out, loads }
}

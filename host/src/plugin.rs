//! One loaded plugin: its manifest, effective limits, validated tool specs,
//! resource templates and prompts, the exports it has, and the pre-linked
//! component every call instantiates from.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::component::InstancePre;

use crate::admission::Provenance;
use crate::content::{PromptDescriptor, ResourceTemplate};
use crate::error::LoadError;
use crate::limits::PluginLimits;
use crate::manifest::PluginManifest;
use crate::policy::{CallerGrants, Grants, PolicyHandle};
use crate::runtime::{CacheOutcome, Guest, GuestExports, HostState, Runnable, Runtime};
use crate::schema;
use crate::tool::{ToolDeclaration, ToolSpec};
pub use crate::trust::{content_digest, files_digest};

/// A plugin may declare at most this many tools.
pub const MAX_TOOLS_PER_PLUGIN: usize = 1024;
/// A plugin may declare at most this many prompts.
pub const MAX_PROMPTS_PER_PLUGIN: usize = 1024;
/// A plugin may declare at most this many resource templates.
pub const MAX_RESOURCE_TEMPLATES_PER_PLUGIN: usize = 1024;

/// What loading a plugin needs: the runtime that compiles and runs it,
/// and the policy in force, which grants it.
#[derive(Debug, Clone)]
pub struct LoadContext {
    pub runtime: Arc<Runtime>,
    pub policy: Arc<PolicyHandle>,
    /// Where the operator's consent decisions are kept (in the data
    /// directory); `None` without one.
    pub consent_file: Option<PathBuf>,
}

/// A resource template as the plugin declared it.
#[derive(Debug, Clone)]
pub struct TemplateSpec {
    pub template: ResourceTemplate,
    /// The template split into literal text and variable names.
    pub(crate) pattern: crate::uri_template::UriPattern,
}

/// A prompt as the plugin declared it.
#[derive(Debug, Clone)]
pub struct PromptSpec {
    pub descriptor: PromptDescriptor,
}
/// A plugin ready to serve calls. Immutable once loaded.
pub struct Plugin {
    pub name: Arc<str>,
    pub manifest: PluginManifest,
    pub limits: PluginLimits,
    pub wasm_path: PathBuf,
    /// Hash of the component bytes and the manifest text.
    pub digest: String,
    /// Whether the compiled code came from the compile cache.
    pub cache: CacheOutcome,
    /// The compiled component, shared with every loaded plugin of the same
    /// bytes (see `CompileCache`).
    pub(crate) compiled: Arc<wasmtime::component::Component>,
    pub tools: Vec<ToolSpec>,
    /// URI templates of the resources it reads.
    pub templates: Vec<TemplateSpec>,
    /// Whether its `list-resources` may return anything.
    pub lists_resources: bool,
    pub prompts: Vec<PromptSpec>,
    /// The interfaces the component imports, as it names them.
    pub imports: Vec<String>,
    /// What the policy grants a caller with every role.
    pub grants: Arc<Grants>,
    /// What the policy grants each caller.
    pub caller_grants: CallerGrants,
    /// Its digests, signature and consent.
    pub provenance: Provenance,
    /// Its concurrency cap and its counters of denials and limit hits.
    pub budget: crate::runtime::PluginBudget,
    pub(crate) pre: InstancePre<HostState>,
    pub(crate) exports: GuestExports,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("wasm_path", &self.wasm_path)
            .field("tools", &self.tools)
            .finish_non_exhaustive()
    }
}

impl Runnable for Plugin {
    fn guest(&self) -> Guest<'_> {
        Guest {
            name: &self.name,
            limits: self.limits,
            grants: &self.grants,
            caller_grants: Some(&self.caller_grants),
            budget: &self.budget,
            pre: &self.pre,
        }
    }

    fn exports(&self) -> &GuestExports {
        &self.exports
    }

    fn tool_spec(&self, index: usize) -> Option<&ToolSpec> {
        self.tools.get(index)
    }

    fn serves_resources(&self) -> bool {
        Plugin::serves_resources(self)
    }
}

impl Plugin {
    pub fn tool(&self, name: &str) -> Option<&ToolSpec> {
        self.tools.iter().find(|t| t.name == name)
    }

    pub fn prompt(&self, name: &str) -> Option<&PromptSpec> {
        self.prompts.iter().find(|p| p.descriptor.name == name)
    }

    /// Whether it serves any resources at all.
    pub fn serves_resources(&self) -> bool {
        self.exports.resources.is_some() && (self.lists_resources || !self.templates.is_empty())
    }

    /// Load the plugin `wasm_path` described by `manifest_path`: parse the
    /// manifest, compile (off the async threads, through the cache), link,
    /// and read its tool descriptors once.
    pub async fn load(
        cx: &LoadContext,
        wasm_path: &Path,
        manifest_path: &Path,
    ) -> Result<Plugin, LoadError> {
        let runtime = &cx.runtime;
        let stem = wasm_path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let manifest_text = read_to_string(manifest_path).await?;
        let manifest =
            PluginManifest::parse(&manifest_text, &stem, crate::capabilities::registry()).map_err(
                |message| LoadError::Manifest {
                    path: manifest_path.to_path_buf(),
                    message,
                },
            )?;
        let bytes = tokio::fs::read(wasm_path)
            .await
            .map_err(|source| LoadError::Read {
                path: wasm_path.to_path_buf(),
                source,
            })?;
        let component_hash = blake3::hash(&bytes);
        let digest = crate::trust::version_digest(&component_hash, &manifest_text);
        let signature_files = crate::trust::read_signatures(wasm_path);
        // Refused before the compiler sees the bytes.
        let signed = crate::admission::check_signature(
            &cx.policy.current(),
            &manifest.name,
            &signature_files,
            None,
            || {
                Ok(crate::trust::PluginDigests::of(
                    &bytes,
                    manifest_text.as_bytes(),
                ))
            },
        )?;

        check_component_bytes(&bytes).map_err(|reason| LoadError::InvalidComponent {
            path: wasm_path.to_path_buf(),
            reason,
        })?;
        let compile_runtime = runtime.clone();
        let compiled_name = manifest.name.clone();
        let (component, cache) = tokio::task::spawn_blocking(move || {
            compile_runtime.compile_hashed(&compiled_name, &bytes, &component_hash)
        })
        .await
        .map_err(|e| LoadError::InvalidComponent {
            path: wasm_path.to_path_buf(),
            reason: format!("compilation did not finish: {e}"),
        })?
        .map_err(|e| LoadError::InvalidComponent {
            path: wasm_path.to_path_buf(),
            reason: crate::error::one_line(&e),
        })?;

        let name: Arc<str> = Arc::from(manifest.name.as_str());
        let link_error = |reason: String| LoadError::Link {
            plugin: name.to_string(),
            reason,
        };
        let imports = component_imports(runtime.engine(), &component);
        let capability_error = |reason: String| LoadError::Capability {
            plugin: name.to_string(),
            reason,
        };
        crate::capabilities::table::check_imports(&manifest.capabilities, &imports)
            .map_err(capability_error)?;
        let (grants, caller_grants, limits) = grant(cx, &name, &manifest)?;
        let provenance = crate::admission::admit(
            &cx.policy.current(),
            cx.consent_file.as_deref(),
            &name,
            signature_files,
            signed,
            &grants,
        )?;
        let pre = runtime
            .instantiate_pre(&component)
            .map_err(|e| link_error(crate::error::one_line(&e)))?;
        let exports = GuestExports::of(&pre);
        if !exports.serves_anything() {
            return Err(link_error(
                "it exports none of the `mcp:plugin/tools@0.1.0`, `mcp:plugin/resources@0.1.0` \
                 and `mcp:plugin/prompts@0.1.0` interfaces"
                    .into(),
            ));
        }
        let budget = crate::runtime::PluginBudget::new(
            limits.max_concurrent,
            manifest.instance,
            runtime.metrics().plugin(&name),
            runtime.shares(&name),
        );
        let guest = Guest {
            name: &name,
            limits,
            grants: &grants,
            caller_grants: None,
            budget: &budget,
            pre: &pre,
        };
        let declared =
            runtime
                .describe(guest, &exports)
                .await
                .map_err(|reason| LoadError::Describe {
                    plugin: name.to_string(),
                    reason,
                })?;
        let tools = match declared.tools {
            Some(descriptors) => validate_tools(&name, descriptors)?,
            None => Vec::new(),
        };
        let (templates, lists_resources) = match declared.resources {
            Some(support) => (
                validate_templates(&name, support.templates)?,
                support.lists_resources,
            ),
            None => (Vec::new(), false),
        };
        let prompts = match declared.prompts {
            Some(descriptors) => validate_prompts(&name, descriptors)?,
            None => Vec::new(),
        };

        Ok(Plugin {
            name,
            manifest,
            limits,
            wasm_path: wasm_path.to_path_buf(),
            digest,
            cache,
            compiled: component,
            tools,
            templates,
            lists_resources,
            prompts,
            imports,
            grants,
            caller_grants,
            provenance,
            budget,
            pre,
            exports,
        })
    }

    /// This version under the policy now in force: `Ok(None)` when its
    /// grants and limits stay as they are, `Ok(Some(_))` with the new ones
    /// (the same compiled component and descriptors, fresh instances), or
    /// the [`LoadError::Capability`] refusing a capability it requires.
    pub fn under_policy(&self, cx: &LoadContext) -> Result<Option<Plugin>, LoadError> {
        let (grants, caller_grants, limits) = grant(cx, &self.name, &self.manifest)?;
        let policy = cx.policy.current();
        let signed = crate::admission::check_signature(
            &policy,
            &self.name,
            &self.provenance.signature_files,
            self.provenance.signed.as_ref().map(|s| &s.digests),
            || {
                crate::trust::PluginDigests::of_version(&self.wasm_path, &self.digest).map_err(
                    |reason| LoadError::Capability {
                        plugin: self.name.to_string(),
                        reason,
                    },
                )
            },
        )?;
        let provenance = crate::admission::admit(
            &policy,
            cx.consent_file.as_deref(),
            &self.name,
            self.provenance.signature_files.clone(),
            signed,
            &grants,
        )?;
        if *grants == *self.grants
            && limits == self.limits
            && provenance == self.provenance
            && self.caller_grants.same_rules_as(&cx.policy.current())
        {
            return Ok(None);
        }
        Ok(Some(Plugin {
            name: self.name.clone(),
            manifest: self.manifest.clone(),
            limits,
            wasm_path: self.wasm_path.clone(),
            digest: self.digest.clone(),
            cache: self.cache,
            compiled: self.compiled.clone(),
            tools: self.tools.clone(),
            templates: self.templates.clone(),
            lists_resources: self.lists_resources,
            prompts: self.prompts.clone(),
            imports: self.imports.clone(),
            grants,
            caller_grants,
            provenance,
            budget: crate::runtime::PluginBudget::new(
                limits.max_concurrent,
                self.manifest.instance,
                self.budget.counters.clone(),
                self.budget.shares.clone(),
            ),
            pre: self.pre.clone(),
            exports: self.exports.clone(),
        }))
    }
}

/// What the policy in force grants plugin `name` (a caller with every
/// role, and each caller) and the limits it runs under; a required
/// capability no caller may be granted is an error.
fn grant(
    cx: &LoadContext,
    name: &str,
    manifest: &PluginManifest,
) -> Result<(Arc<Grants>, CallerGrants, PluginLimits), LoadError> {
    let policy = cx.policy.current();
    let grants = Arc::new(policy.evaluate(name, &manifest.capabilities));
    for withheld in &grants.withheld {
        tracing::warn!(plugin = name, "not granted: {withheld}");
    }
    let grantable = policy.grantable(name, &manifest.capabilities);
    if let Some((c, decider)) = manifest
        .capabilities
        .required
        .iter()
        .filter(|c| !grantable.contains(c))
        .find_map(|c| grants.refused.get(c).map(|d| (c, d)))
    {
        return Err(LoadError::Capability {
            plugin: name.to_string(),
            reason: format!("it requires the `{c}` capability, which {decider} does not grant"),
        });
    }
    let limits = grants.clamp(cx.runtime.limits().for_plugin(manifest.limits.as_ref()));
    let caller_grants = CallerGrants::new(policy, name, &manifest.capabilities, grants.clone());
    Ok((grants, caller_grants, limits))
}

/// The names of the interfaces `component` imports.
pub fn component_imports(
    engine: &wasmtime::Engine,
    component: &wasmtime::component::Component,
) -> Vec<String> {
    component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .collect()
}

/// The names of the interfaces `component` exports.
pub fn component_exports(
    engine: &wasmtime::Engine,
    component: &wasmtime::component::Component,
) -> Vec<String> {
    component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect()
}

async fn read_to_string(path: &Path) -> Result<String, LoadError> {
    tokio::fs::read_to_string(path)
        .await
        .map_err(|source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        })
}

/// A clear reason for bytes that are not a component, before compiling.
pub(crate) fn check_component_bytes(bytes: &[u8]) -> Result<(), String> {
    if wasmparser::Parser::is_component(bytes) {
        Ok(())
    } else if wasmparser::Parser::is_core_wasm(bytes) {
        Err("it is a core WebAssembly module, not a component \
             (turn it into one with `mcp-wasm-host componentize`)"
            .into())
    } else {
        Err("it does not start with the WebAssembly magic number and component version".into())
    }
}

/// MCP tool names: 1–128 characters of ASCII letters, digits, `_`, `-`, `.`.
pub fn is_valid_tool_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn validate_tools(
    plugin: &str,
    descriptors: Vec<ToolDeclaration>,
) -> Result<Vec<ToolSpec>, LoadError> {
    if descriptors.len() > MAX_TOOLS_PER_PLUGIN {
        return Err(LoadError::ListTools {
            plugin: plugin.to_string(),
            reason: format!(
                "it declares {} tools; at most {MAX_TOOLS_PER_PLUGIN} are allowed",
                descriptors.len()
            ),
        });
    }
    let mut seen = HashSet::new();
    let mut specs = Vec::with_capacity(descriptors.len());
    for d in descriptors {
        let invalid = |reason: String| LoadError::InvalidTool {
            plugin: plugin.to_string(),
            tool: d.name.clone(),
            reason,
        };
        if !is_valid_tool_name(&d.name) {
            return Err(invalid(
                "a tool name must be 1-128 ASCII letters, digits, `_`, `-` or `.`".into(),
            ));
        }
        if !seen.insert(d.name.clone()) {
            return Err(invalid("the plugin declares this tool twice".into()));
        }
        let input = schema::parse_object_schema(&d.input_schema)
            .map_err(|e| invalid(format!("input schema: {e}")))?;
        let validator =
            schema::compile(&input).map_err(|e| invalid(format!("input schema: {e}")))?;
        let (output, output_validator) = match &d.output_schema {
            Some(text) => {
                let output = schema::parse_object_schema(text)
                    .map_err(|e| invalid(format!("output schema: {e}")))?;
                let v =
                    schema::compile(&output).map_err(|e| invalid(format!("output schema: {e}")))?;
                (Some(Arc::new(output)), Some(Arc::new(v)))
            }
            None => (None, None),
        };
        specs.push(ToolSpec {
            name: d.name.clone(),
            title: d.title,
            description: d.description,
            input_schema: Arc::new(input),
            output_schema: output,
            hints: d.hints,
            task_support: d.task_support,
            validator: Arc::new(validator),
            output_validator,
        });
    }
    Ok(specs)
}

fn validate_templates(
    plugin: &str,
    templates: Vec<ResourceTemplate>,
) -> Result<Vec<TemplateSpec>, LoadError> {
    let invalid = |what: String, reason: String| LoadError::InvalidDeclaration {
        plugin: plugin.to_string(),
        what,
        reason,
    };
    if templates.len() > MAX_RESOURCE_TEMPLATES_PER_PLUGIN {
        return Err(invalid(
            "resource templates".into(),
            format!("at most {MAX_RESOURCE_TEMPLATES_PER_PLUGIN} are allowed"),
        ));
    }
    let mut seen = HashSet::new();
    templates
        .into_iter()
        .map(|template| {
            let what = format!("resource template `{}`", template.uri_template);
            if !seen.insert(template.uri_template.clone()) {
                return Err(invalid(what, "the plugin declares it twice".into()));
            }
            let pattern = crate::uri_template::UriPattern::parse(&template.uri_template)
                .map_err(|reason| invalid(what, reason))?;
            Ok(TemplateSpec { template, pattern })
        })
        .collect()
}

fn validate_prompts(
    plugin: &str,
    descriptors: Vec<PromptDescriptor>,
) -> Result<Vec<PromptSpec>, LoadError> {
    let invalid = |what: String, reason: String| LoadError::InvalidDeclaration {
        plugin: plugin.to_string(),
        what,
        reason,
    };
    if descriptors.len() > MAX_PROMPTS_PER_PLUGIN {
        return Err(invalid(
            "prompts".into(),
            format!("at most {MAX_PROMPTS_PER_PLUGIN} are allowed"),
        ));
    }
    let mut seen = HashSet::new();
    descriptors
        .into_iter()
        .map(|descriptor| {
            let what = format!("prompt `{}`", descriptor.name);
            if !is_valid_tool_name(&descriptor.name) {
                return Err(invalid(
                    what,
                    "a prompt name must be 1-128 ASCII letters, digits, `_`, `-` or `.`".into(),
                ));
            }
            if !seen.insert(descriptor.name.clone()) {
                return Err(invalid(what, "the plugin declares it twice".into()));
            }
            let mut args = HashSet::new();
            for a in &descriptor.arguments {
                if a.name.is_empty() || !args.insert(a.name.as_str()) {
                    return Err(invalid(
                        what,
                        format!("argument `{}` is empty or declared twice", a.name),
                    ));
                }
            }
            Ok(PromptSpec { descriptor })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_follow_the_mcp_rules() {
        assert!(is_valid_tool_name("echo"));
        assert!(is_valid_tool_name("hello.echo-2_x"));
        assert!(!is_valid_tool_name(""));
        assert!(!is_valid_tool_name("has space"));
        assert!(!is_valid_tool_name(&"x".repeat(129)));
    }

    fn descriptor(name: &str, input: &str) -> ToolDeclaration {
        ToolDeclaration {
            name: name.into(),
            title: None,
            description: None,
            input_schema: input.into(),
            output_schema: None,
            hints: None,
            task_support: Default::default(),
        }
    }

    #[test]
    fn duplicate_and_malformed_tools_are_refused_by_name() {
        let ok = r#"{"type":"object"}"#;
        let err = validate_tools("p", vec![descriptor("a", ok), descriptor("a", ok)]).unwrap_err();
        assert!(
            err.to_string()
                .contains("tool `a`: the plugin declares this tool twice")
        );
        let err = validate_tools("p", vec![descriptor("b", "{")]).unwrap_err();
        assert!(
            err.to_string()
                .contains("tool `b`: input schema: schema is not valid JSON")
        );
    }
}

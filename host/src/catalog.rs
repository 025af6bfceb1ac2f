//! The catalog: an immutable snapshot of the loaded plugins and the tool
//! names they are exposed under, published through one atomic pointer. A
//! request takes the snapshot once and finishes on it, whatever is published
//! meanwhile.
//!
//! Tool and prompt names are resolved deterministically (plugins in name
//! order, declarations in order). A name declared by one plugin is exposed
//! as is; a name declared by several is exposed as `plugin.name` for each of
//! them, and the collision is recorded in [`Catalog::notices`]. Nothing is
//! shadowed silently.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::plugin::{Plugin, PromptSpec};
use crate::tool::ToolSpec;

/// A tool as clients see it.
#[derive(Debug, Clone)]
pub struct ExposedTool {
    /// The name clients call it by.
    pub name: String,
    pub plugin: Arc<Plugin>,
    index: usize,
}

impl ExposedTool {
    pub fn spec(&self) -> &ToolSpec {
        &self.plugin.tools[self.index]
    }

    /// Its number among its plugin's tools, which the runtime calls it by.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Whether its calls may, must or must not run as tasks: what the
    /// policy says for its plugin, else what the tool declares.
    pub fn task_support(&self) -> crate::tool::TaskSupport {
        self.plugin.grants.tasks.unwrap_or(self.spec().task_support)
    }
}

/// A prompt as clients see it.
#[derive(Debug, Clone)]
pub struct ExposedPrompt {
    /// The name clients ask for.
    pub name: String,
    pub plugin: Arc<Plugin>,
    index: usize,
}

impl ExposedPrompt {
    pub fn spec(&self) -> &PromptSpec {
        &self.plugin.prompts[self.index]
    }
}

/// Give every declared name its exposed name: as declared when one plugin
/// declares it, `plugin.name` when several do (with a notice).
fn expose(
    plugins: &[Arc<Plugin>],
    kind: &str,
    notices: &mut Vec<String>,
    names_of: impl Fn(&Plugin) -> Vec<&str>,
) -> Vec<(String, Arc<Plugin>, usize)> {
    let mut declared: HashMap<&str, Vec<&str>> = HashMap::new();
    for plugin in plugins {
        for name in names_of(plugin) {
            declared.entry(name).or_default().push(&plugin.name);
        }
    }
    let mut collided: Vec<(&str, &Vec<&str>)> = declared
        .iter()
        .filter(|(_, owners)| owners.len() > 1)
        .map(|(name, owners)| (*name, owners))
        .collect();
    collided.sort_unstable();
    for (name, owners) in collided {
        notices.push(format!(
            "{kind} `{name}` is declared by plugins {}; each is exposed as `<plugin>.{name}`",
            owners.join(", ")
        ));
    }
    let mut exposed = Vec::new();
    let mut taken = std::collections::HashSet::new();
    for plugin in plugins {
        for (index, name) in names_of(plugin).into_iter().enumerate() {
            let public = if declared[name].len() > 1 {
                format!("{}.{name}", plugin.name)
            } else {
                name.to_string()
            };
            if !taken.insert(public.clone()) {
                notices.push(format!(
                    "{kind} `{name}` of plugin `{}` is not exposed: the name `{public}` is already taken",
                    plugin.name
                ));
                continue;
            }
            exposed.push((public, plugin.clone(), index));
        }
    }
    exposed
}

/// A plugin that failed to load, and why.
#[derive(Debug, Clone)]
pub struct LoadFailure {
    pub path: PathBuf,
    pub reason: String,
}

/// One published state of the host's plugins.
#[derive(Debug, Default)]
pub struct Catalog {
    generation: u64,
    plugins: Vec<Arc<Plugin>>,
    tools: Vec<ExposedTool>,
    by_name: HashMap<String, usize>,
    prompts: Vec<ExposedPrompt>,
    prompt_by_name: HashMap<String, usize>,
    failures: Vec<LoadFailure>,
    notices: Vec<String>,
}

impl Catalog {
    /// Build a snapshot from loaded plugins (any order) and load failures.
    pub fn new(generation: u64, mut plugins: Vec<Arc<Plugin>>, failures: Vec<LoadFailure>) -> Self {
        plugins.sort_by(|a, b| a.name.cmp(&b.name));
        let mut notices = Vec::new();
        let tools = expose(&plugins, "tool", &mut notices, |p| {
            p.tools.iter().map(|t| t.name.as_str()).collect()
        })
        .into_iter()
        .map(|(name, plugin, index)| ExposedTool {
            name,
            plugin,
            index,
        })
        .collect::<Vec<_>>();
        let prompts = expose(&plugins, "prompt", &mut notices, |p| {
            p.prompts
                .iter()
                .map(|t| t.descriptor.name.as_str())
                .collect()
        })
        .into_iter()
        .map(|(name, plugin, index)| ExposedPrompt {
            name,
            plugin,
            index,
        })
        .collect::<Vec<_>>();
        let by_name = tools
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        let prompt_by_name = prompts
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.clone(), i))
            .collect();
        Self {
            generation,
            plugins,
            tools,
            by_name,
            prompts,
            prompt_by_name,
            failures,
            notices,
        }
    }

    /// Every exposed prompt, in a stable order.
    pub fn prompts(&self) -> &[ExposedPrompt] {
        &self.prompts
    }

    pub fn prompt(&self, name: &str) -> Option<&ExposedPrompt> {
        self.prompt_by_name.get(name).map(|&i| &self.prompts[i])
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn plugins(&self) -> &[Arc<Plugin>] {
        &self.plugins
    }

    /// Every exposed tool, in a stable order.
    pub fn tools(&self) -> &[ExposedTool] {
        &self.tools
    }

    pub fn tool(&self, name: &str) -> Option<&ExposedTool> {
        self.by_name.get(name).map(|&i| &self.tools[i])
    }

    /// Session `key` closed: its instances of per-session plugins go.
    pub fn session_closed(&self, key: &str) {
        for plugin in &self.plugins {
            if let Some(pool) = &plugin.budget.warm {
                pool.forget(key);
            }
        }
    }

    pub fn failures(&self) -> &[LoadFailure] {
        &self.failures
    }

    /// Name collisions and other things an operator should know.
    pub fn notices(&self) -> &[String] {
        &self.notices
    }
}

/// The one place the current catalog lives.
#[derive(Debug)]
pub struct CatalogHandle {
    current: ArcSwap<Catalog>,
}

impl CatalogHandle {
    pub fn new(catalog: Catalog) -> Self {
        Self {
            current: ArcSwap::from_pointee(catalog),
        }
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Catalog> {
        self.current.load_full()
    }

    /// Publish a new snapshot; calls already running keep the old one.
    pub fn publish(&self, catalog: Catalog) {
        self.publish_arc(Arc::new(catalog));
    }

    /// [`Self::publish`] a snapshot the caller keeps a handle to.
    pub fn publish_arc(&self, catalog: Arc<Catalog>) {
        self.current.store(catalog);
    }
}

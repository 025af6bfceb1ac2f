//! The catalog: an immutable snapshot of the loaded plugins and the tool
//! names they are exposed under, published through one atomic pointer. A
//! request takes the snapshot once and finishes on it, whatever is published
//! meanwhile.
//!
//! Tool names are resolved deterministically (plugins in name order, tools in
//! declaration order). A name declared by one plugin is exposed as is; a name
//! declared by several is exposed as `plugin.tool` for each of them, and the
//! collision is recorded in [`Catalog::notices`]. Nothing is shadowed
//! silently.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::plugin::Plugin;
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
    failures: Vec<LoadFailure>,
    notices: Vec<String>,
}

impl Catalog {
    /// Build a snapshot from loaded plugins (any order) and load failures.
    pub fn new(generation: u64, mut plugins: Vec<Arc<Plugin>>, failures: Vec<LoadFailure>) -> Self {
        plugins.sort_by(|a, b| a.name.cmp(&b.name));
        let mut declared: HashMap<&str, usize> = HashMap::new();
        for plugin in &plugins {
            for tool in &plugin.tools {
                *declared.entry(tool.name.as_str()).or_default() += 1;
            }
        }
        let mut notices = Vec::new();
        let mut collided: Vec<&str> = declared
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(name, _)| *name)
            .collect();
        collided.sort_unstable();
        for name in &collided {
            let owners: Vec<&str> = plugins
                .iter()
                .filter(|p| p.tool(name).is_some())
                .map(|p| &*p.name)
                .collect();
            notices.push(format!(
                "tool `{name}` is declared by plugins {}; each is exposed as `<plugin>.{name}`",
                owners.join(", ")
            ));
        }

        let mut tools = Vec::new();
        let mut by_name = HashMap::new();
        for plugin in &plugins {
            for (index, tool) in plugin.tools.iter().enumerate() {
                let exposed = if declared[tool.name.as_str()] > 1 {
                    format!("{}.{}", plugin.name, tool.name)
                } else {
                    tool.name.clone()
                };
                if by_name.contains_key(&exposed) {
                    notices.push(format!(
                        "tool `{}` of plugin `{}` is not exposed: the name `{exposed}` is already taken",
                        tool.name, plugin.name
                    ));
                    continue;
                }
                by_name.insert(exposed.clone(), tools.len());
                tools.push(ExposedTool {
                    name: exposed,
                    plugin: plugin.clone(),
                    index,
                });
            }
        }
        Self {
            generation,
            plugins,
            tools,
            by_name,
            failures,
            notices,
        }
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
        self.current.store(Arc::new(catalog));
    }
}

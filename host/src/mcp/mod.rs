//! The MCP adapter: the only module that knows the MCP SDK (rmcp). It maps
//! the catalog and the runtime to MCP requests, and serves them over stdio
//! and Streamable HTTP.

#![allow(deprecated)] // logging and progress are deprecated by SEP-2577 yet still on the wire

mod channel;
mod convert;
mod server;
mod transport;

use std::sync::{Arc, Mutex};

use rmcp::model::Tool;

pub use server::McpServer;
pub use transport::{HttpOptions, serve_http, serve_stdio};

use crate::catalog::CatalogHandle;
use crate::runtime::Runtime;

/// Default number of tools per `tools/list` page.
pub const DEFAULT_PAGE_SIZE: usize = 100;

/// What every MCP session shares: the catalog, the runtime, and the tool
/// list rendered once per catalog generation.
pub struct HostServices {
    pub catalog: Arc<CatalogHandle>,
    pub runtime: Arc<Runtime>,
    pub page_size: usize,
    rendered: Mutex<Option<(u64, Arc<Vec<Tool>>)>>,
}

impl std::fmt::Debug for HostServices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostServices")
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

impl HostServices {
    pub fn new(catalog: Arc<CatalogHandle>, runtime: Arc<Runtime>, page_size: usize) -> Self {
        Self {
            catalog,
            runtime,
            page_size: page_size.max(1),
            rendered: Mutex::new(None),
        }
    }

    /// The MCP descriptors of the current catalog, rendered once per
    /// generation.
    fn tool_list(&self) -> Arc<Vec<Tool>> {
        let catalog = self.catalog.snapshot();
        let mut rendered = self.rendered.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((generation, tools)) = &*rendered
            && *generation == catalog.generation()
        {
            return tools.clone();
        }
        let tools: Arc<Vec<Tool>> = Arc::new(
            catalog
                .tools()
                .iter()
                .map(convert::tool_descriptor)
                .collect(),
        );
        *rendered = Some((catalog.generation(), tools.clone()));
        tools
    }
}

//! Turning a core WebAssembly module into a component, for toolchains that
//! produce core modules (Rust's `wasm32-unknown-unknown` and `wasm32-wasip1`,
//! C with wasi-libc, ...). The module's WIT metadata comes from the custom
//! section `wit-bindgen` embeds, or from a WIT directory and world given
//! here. A module importing WASI preview 1 is wrapped with the preview 1
//! reactor adapter (plugins export functions and have no `_start`).

use std::path::Path;

use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
    WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
};

/// Which WASI preview 1 adapter to link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Adapter {
    /// The reactor adapter if the module imports WASI preview 1, else none.
    #[default]
    Auto,
    Reactor,
    Command,
    None,
}

/// Why componentizing failed.
#[derive(Debug, thiserror::Error)]
pub enum ComponentizeError {
    #[error("the input is not a core WebAssembly module: {0}")]
    NotAModule(String),
    #[error("cannot read the WIT package at {path}: {reason}")]
    Wit { path: String, reason: String },
    #[error("cannot build the component: {0}")]
    Encode(String),
}

/// Where the module's WIT world comes from when it does not carry one.
#[derive(Debug, Clone, Copy)]
pub struct WitSource<'a> {
    pub dir: &'a Path,
    pub world: Option<&'a str>,
}

/// Encode `module` as a component.
pub fn componentize(
    module: &[u8],
    wit: Option<WitSource<'_>>,
    adapter: Adapter,
) -> Result<Vec<u8>, ComponentizeError> {
    let imports_wasi_p1 = imports_module(module, WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME)?;
    let mut module = module.to_vec();
    let has_world = wit.is_some();
    if let Some(wit) = wit {
        embed_world(&mut module, wit)?;
    }
    let adapter_bytes = match adapter {
        Adapter::Auto if imports_wasi_p1 => Some(WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER),
        Adapter::Auto | Adapter::None => None,
        Adapter::Reactor => Some(WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER),
        Adapter::Command => Some(WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER),
    };
    let encode = || -> anyhow::Result<Vec<u8>> {
        let mut encoder = wit_component::ComponentEncoder::default()
            .validate(true)
            .module(&module)?;
        if let Some(bytes) = adapter_bytes {
            encoder = encoder.adapter(WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, bytes)?;
        }
        encoder.encode()
    };
    encode().map_err(|e| {
        let hint = if !has_world && !carries_world(&module) {
            " (the module carries no WIT world: give one with --wit DIR --world NAME)"
        } else {
            ""
        };
        ComponentizeError::Encode(format!("{e:#}{hint}"))
    })
}

/// Whether the module has the `component-type` custom section wit-bindgen
/// embeds (its WIT world).
fn carries_world(module: &[u8]) -> bool {
    wasmparser::Parser::new(0)
        .parse_all(module)
        .filter_map(Result::ok)
        .any(|payload| {
            matches!(&payload, wasmparser::Payload::CustomSection(reader)
                if reader.name().starts_with("component-type"))
        })
}

/// Whether the core module imports anything from `import_module`.
fn imports_module(module: &[u8], import_module: &str) -> Result<bool, ComponentizeError> {
    if !wasmparser::Parser::is_core_wasm(module) {
        return Err(ComponentizeError::NotAModule(
            if wasmparser::Parser::is_component(module) {
                "it is already a component".into()
            } else {
                "missing the WebAssembly magic number and version".into()
            },
        ));
    }
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        let payload = payload.map_err(|e| ComponentizeError::NotAModule(e.to_string()))?;
        if let wasmparser::Payload::ImportSection(reader) = payload {
            for import in reader.into_imports() {
                let import = import.map_err(|e| ComponentizeError::NotAModule(e.to_string()))?;
                if import.module == import_module {
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}

fn embed_world(module: &mut Vec<u8>, wit: WitSource<'_>) -> Result<(), ComponentizeError> {
    let wit_error = |reason: String| ComponentizeError::Wit {
        path: wit.dir.display().to_string(),
        reason,
    };
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve
        .push_path(wit.dir)
        .map_err(|e| wit_error(format!("{e:#}")))?;
    let world = resolve
        .select_world(&[package], wit.world)
        .map_err(|e| wit_error(format!("{e:#}")))?;
    wit_component::embed_component_metadata(
        module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .map_err(|e| ComponentizeError::Encode(format!("embedding WIT metadata: {e:#}")))
}

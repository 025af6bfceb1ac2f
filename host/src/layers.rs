//! The crate's layers, checked: every top-level module sits in one layer,
//! and a module may use only modules of its own layer or below, never in a
//! cycle. The check reads the sources (each `crate::` and `super::` path
//! outside `#[cfg(test)]` code and test files) and fails naming each edge
//! that goes up or closes a cycle, so the layering in
//! `docs/architecture.md` cannot rot.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom first. A module may use what is in its own layer or
/// a lower one.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "model",
        &[
            "error",
            "allocator",
            "calendar",
            "schema",
            "sealed",
            "state",
            "tasks",
            "metrics",
            "telemetry",
            "limits",
            "manifest",
            "policy",
            "auth",
            "context",
            "tool",
            "content",
            "capability",
            "client_request",
            "uri_template",
            "trust",
        ],
    ),
    (
        "runtime",
        &["bindings", "contract", "componentize", "runtime"],
    ),
    ("capabilities", &["capabilities"]),
    (
        "plugins",
        &[
            "plugin",
            "admission",
            "catalog",
            "serving",
            "loader",
            "reload",
            "inspect",
            "scaffold",
        ],
    ),
    (
        "edge",
        &[
            "listener",
            "ops",
            "mcp",
            "config",
            "launch",
            "tryout",
            "dev",
            "distribution",
            "cli",
        ],
    ),
];

/// Modules compiled only for tests.
const TEST_ONLY: &[&str] = &["layers", "test_strategies"];

/// The top-level modules each top-level module uses, from its sources.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files = Vec::new();
    collect_rust_files(src, &mut files);
    for file in files {
        let relative = file.strip_prefix(src).expect("under src");
        let module = module_path(relative);
        let Some(top) = module.first().cloned() else {
            continue; // lib.rs and main.rs
        };
        if TEST_ONLY.contains(&top.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("a readable source file");
        for used in used_modules(&without_tests(&text), &module) {
            if used != top {
                graph.entry(top.clone()).or_default().insert(used);
            }
        }
    }
    graph
}

fn collect_rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect_rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") && !is_test_file(&path) {
            into.push(path);
        }
    }
}

/// Whether `path` holds a test module of its own (`tests.rs`,
/// `…_tests.rs`), declared under `#[cfg(test)]` by its parent.
fn is_test_file(path: &Path) -> bool {
    path.file_stem()
        .and_then(|stem| stem.to_str())
        .is_some_and(|stem| stem == "tests" || stem.ends_with("_tests"))
}

/// `runtime/store.rs` is `[runtime, store]`, `runtime/mod.rs` is
/// `[runtime]`, `lib.rs` is `[]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The source without its test-only code: from the first `#[cfg(test)]`
/// that opens a module to the end (test modules close the files here), and
/// single `#[cfg(test)]` items.
fn without_tests(text: &str) -> String {
    let mut kept = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            let next = lines.peek().map_or("", |l| l.trim_start());
            if next.starts_with("mod ") || next.starts_with("pub(crate) mod ") {
                if next.ends_with(';') {
                    lines.next();
                    continue;
                }
                break;
            }
            // One item: skip up to the end of its first statement or block.
            let mut depth = 0i32;
            for item in lines.by_ref() {
                depth += item.matches('{').count() as i32 - item.matches('}').count() as i32;
                if depth <= 0 && (item.trim_end().ends_with(';') || item.trim_end().ends_with('}'))
                {
                    break;
                }
            }
            continue;
        }
        kept.push_str(line);
        kept.push('\n');
    }
    kept
}

/// The top-level modules a file at `module` names through `crate::` or
/// enough `super::`s, braces included (`crate::{a, b::c}`).
fn used_modules(text: &str, module: &[String]) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let code: String = text
        .lines()
        .filter(|l| {
            let l = l.trim_start();
            !l.starts_with("//")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let bytes = code.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        if !code.is_char_boundary(i) || (i > 0 && (is_ident(bytes[i - 1]) || bytes[i - 1] == b':'))
        {
            i += 1;
            continue;
        }
        let rest = &code[i..];
        let (after, base_depth) = if let Some(after) = rest.strip_prefix("crate::") {
            (after, Some(0usize))
        } else if rest.starts_with("super::") {
            let mut after = rest;
            let mut supers = 0;
            while let Some(next) = after.strip_prefix("super::") {
                after = next;
                supers += 1;
            }
            // A file's own `super` is its parent module; reaching the
            // crate root means the next name is a top-level module.
            (after, module.len().checked_sub(supers))
        } else {
            i += 1;
            continue;
        };
        let consumed = rest.len() - after.len();
        if base_depth == Some(0) {
            used.extend(first_segments(after).into_iter().filter(|n| !n.is_empty()));
        } else if let Some(depth) = base_depth
            && depth >= 1
        {
            used.insert(module[0].clone());
        }
        i += consumed.max(1);
    }
    used
}

/// The first path segment of `a::b` or of each item of `{a, b::c}`.
fn first_segments(after: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let Some(group) = after.strip_prefix('{') else {
        return vec![ident(after)];
    };
    let mut names = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                names.push(ident(&group[start..i]));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                names.push(ident(&group[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    names.retain(|n| !n.is_empty() && n != "self");
    names
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

/// Edges that go up a layer, and edges inside a layer that close a cycle.
fn breaches(graph: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (from, tos) in graph {
        for to in tos {
            if let (Some(a), Some(b)) = (layer_of(from), layer_of(to))
                && b > a
            {
                found.insert((from.clone(), to.clone()));
            }
        }
    }
    // Within a layer: an edge whose target reaches back to its source
    // inside the layer (a cycle through other layers has an edge going up,
    // found above).
    let reaches = |from: &str, target: &str| {
        let layer = layer_of(from);
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_string()];
        while let Some(m) = stack.pop() {
            if m == target {
                return true;
            }
            if seen.insert(m.clone()) {
                let next = graph.get(&m).into_iter().flatten();
                stack.extend(next.filter(|n| layer_of(n) == layer).cloned());
            }
        }
        false
    };
    for (from, tos) in graph {
        for to in tos {
            if layer_of(from) == layer_of(to) && reaches(to, from) {
                found.insert((from.clone(), to.clone()));
            }
        }
    }
    found
}

#[test]
fn modules_use_only_their_own_layer_or_below_without_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = module_graph(&src);
    let unplaced: Vec<&String> = graph
        .keys()
        .chain(graph.values().flatten())
        .filter(|m| layer_of(m).is_none())
        .collect();
    assert!(
        unplaced.is_empty(),
        "modules in no layer (add them to LAYERS): {unplaced:?}"
    );
    let found = breaches(&graph);
    assert!(
        found.is_empty(),
        "these uses go up a layer or close a cycle: {found:?}"
    );
}

#[test]
fn the_check_sees_every_form_of_path() {
    let module = vec!["capabilities".to_string(), "keyvalue".to_string()];
    let text = "use crate::{runtime::HostState, state::{Bucket, Quota}};\n\
                use super::super::metrics::Thing;\n\
                use super::table;\n\
                fn f() { crate::serving::x(); }\n\
                // crate::commented::out\n\
                #[cfg(test)]\nuse crate::hidden::Thing;\n";
    let used = used_modules(&without_tests(text), &module);
    let expected: BTreeSet<String> = ["runtime", "state", "metrics", "capabilities", "serving"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(used, expected);
    let mut graph = BTreeMap::new();
    graph.insert("auth".to_string(), BTreeSet::from(["policy".to_string()]));
    graph.insert("policy".to_string(), BTreeSet::from(["auth".to_string()]));
    graph.insert("tool".to_string(), BTreeSet::from(["cli".to_string()]));
    let found = breaches(&graph);
    assert!(
        found.contains(&("auth".into(), "policy".into())),
        "{found:?}"
    );
    assert!(
        found.contains(&("policy".into(), "auth".into())),
        "{found:?}"
    );
    assert!(found.contains(&("tool".into(), "cli".into())), "{found:?}");
}

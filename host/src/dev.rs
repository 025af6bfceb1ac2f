//! `dev DIR`: a plugin's project served while it is written. The project's
//! own `build.sh` (as `plugin new` writes it) runs at start and again after
//! every change to its sources; the host serves the project directory
//! itself, so each successful build is hot-reloaded like any change to a
//! plugin directory (a failed one leaves the version serving). Each tool
//! call and its outcome goes to the log.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use tokio::sync::mpsc;

use crate::config::ServeArgs;

#[derive(Debug, Args)]
pub struct DevArgs {
    /// The plugin's project directory, holding its `build.sh`.
    pub dir: PathBuf,
    /// Every `serve` setting applies (stdio by default, `--http ADDR`,
    /// `--policy`, limits, ...); `--plugins` is the project directory.
    #[command(flatten)]
    pub host: ServeArgs,
}

/// How long the sources must be quiet after a change before a build.
const QUIET: Duration = Duration::from_millis(300);

/// Directories of a project that builds write or tools keep, never sources.
const NOT_SOURCES: &[&str] = &["build", "target", "node_modules", "__pycache__"];

/// The rebuilding of a project; it stops when dropped.
pub struct DevSession {
    _watcher: notify::RecommendedWatcher,
}

/// Build the project of `args` once, start rebuilding it on every change,
/// and return the settings to serve it with.
pub async fn start(mut args: DevArgs) -> anyhow::Result<(ServeArgs, DevSession)> {
    let dir = std::fs::canonicalize(&args.dir)
        .with_context(|| format!("the plugin project {}", args.dir.display()))?;
    let script = dir.join("build.sh");
    if !script.is_file() {
        bail!(
            "{} has no build.sh (`mcp-wasm-host plugin new` writes a project with one)",
            dir.display()
        );
    }
    build(&script).await;
    let (changes, mut changed) = mpsc::unbounded_channel::<()>();
    let root = dir.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // Reading a file (the host loading the manifest, the build reading
        // the sources) is no change.
        if let Ok(event) = event
            && matches!(
                event.kind,
                notify::EventKind::Create(_)
                    | notify::EventKind::Modify(_)
                    | notify::EventKind::Remove(_)
            )
            && event.paths.iter().any(|path| is_source(&root, path))
        {
            let _ = changes.send(());
        }
    })
    .context("cannot watch the plugin project")?;
    notify::Watcher::watch(&mut watcher, &dir, notify::RecursiveMode::Recursive)
        .with_context(|| format!("cannot watch {}", dir.display()))?;
    tokio::spawn(async move {
        while changed.recv().await.is_some() {
            // Wait for the sources to be quiet, then build once.
            while let Ok(Some(())) = tokio::time::timeout(QUIET, changed.recv()).await {}
            // A change during the build (only sources count, so not the
            // build's own outputs) is built again after it.
            build(&script).await;
        }
    });
    tracing::info!(
        "dev: serving {} and rebuilding it when its sources change",
        dir.display()
    );
    args.host.plugins = Some(dir);
    Ok((args.host, DevSession { _watcher: watcher }))
}

/// Whether `path` (inside the project `root`) is one of its sources: not
/// hidden, not in a directory builds write, not a built component.
fn is_source(root: &Path, path: &Path) -> bool {
    let Ok(relative) = path.strip_prefix(root) else {
        return false;
    };
    if relative.as_os_str().is_empty() {
        return false;
    }
    let output_or_hidden = |part: std::path::Component<'_>| {
        let part = part.as_os_str().to_string_lossy();
        part.starts_with('.') || NOT_SOURCES.iter().any(|dir| part == *dir)
    };
    if relative.components().any(output_or_hidden) {
        return false;
    }
    let name = relative
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    !(name.ends_with(".wasm") || name.ends_with(".tmp") || name.ends_with('~'))
}

/// Run the project's build script, its output on stderr (stdout may be the
/// MCP channel), with this binary as the host it uses.
async fn build(script: &Path) {
    tracing::info!("dev: building with {}", script.display());
    let started = std::time::Instant::now();
    let mut command = tokio::process::Command::new(script);
    if let Some(dir) = script.parent() {
        command.current_dir(dir);
    }
    if let Ok(host) = std::env::current_exe() {
        command.env("MCP_WASM_HOST", host);
    }
    command.stdin(std::process::Stdio::null());
    if let Some(stderr) = stderr_for_child() {
        command.stdout(stderr);
    }
    match command.status().await {
        Ok(status) if status.success() => tracing::info!(
            "dev: built in {:.1} s; the host loads the new version",
            started.elapsed().as_secs_f64()
        ),
        Ok(status) => tracing::warn!("dev: the build failed ({status}); the version serving stays"),
        Err(e) => tracing::warn!("dev: cannot run {}: {e}", script.display()),
    }
}

/// A handle on this process's stderr for a child's stdout.
fn stderr_for_child() -> Option<std::process::Stdio> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        let fd = std::io::stderr().as_fd().try_clone_to_owned().ok()?;
        Some(std::process::Stdio::from(fd))
    }
    #[cfg(not(unix))]
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sources_trigger_a_build() {
        let root = Path::new("/p");
        for source in [
            "/p/app.py",
            "/p/src/lib.rs",
            "/p/greeter.toml",
            "/p/sdk/x.js",
        ] {
            assert!(is_source(root, Path::new(source)), "{source}");
        }
        for output in [
            "/p/greeter.wasm",
            "/p/build/wit/world.wit",
            "/p/target/wasm32/release/x.wasm",
            "/p/.venv/bin/python",
            "/p/node_modules/x/index.js",
            "/p/sdk/mcp_plugin/__pycache__/_context.cpython-311.pyc",
            "/p/src/.lib.rs.swp",
            "/p/greeter.wasm.tmp",
            "/elsewhere/app.py",
            "/p",
        ] {
            assert!(!is_source(root, Path::new(output)), "{output}");
        }
    }
}

//! The plugin directory watcher: file-system events (through `notify`) on
//! `*.wasm`, `*.toml` and the policy file, gathered until the directory has
//! been quiet for a moment, become one [`ReloadRequest`] each.
//!
//! Writing a component in many small writes, or copying a component and its
//! manifest one after the other, therefore reloads the plugin once. Events
//! the host's own reads cause (opens, reads, closes without writing) are
//! ignored, and so are hidden files, so a tool that writes `.x.wasm.tmp` and
//! renames it into place triggers one reload, on the rename.
//!
//! A component seen complete (closed after writing, or renamed into place)
//! starts compiling into the compile cache at once, so a batch's quiet
//! period and the compilation overlap.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

use super::{ReloadRequest, Reloader};

/// How long the directory must be quiet before a batch of events is acted on.
pub const DEFAULT_QUIET: Duration = Duration::from_millis(50);

/// The longest a batch is held while events keep coming.
const MAX_BATCH_DELAY: Duration = Duration::from_secs(2);

/// Why the directory cannot be watched.
#[derive(Debug, thiserror::Error)]
#[error("cannot watch {}: {source}", path.display())]
pub struct WatchError {
    path: PathBuf,
    #[source]
    source: notify::Error,
}

/// A running watch; dropping it stops watching.
pub struct DirectoryWatch {
    _watcher: notify::RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DirectoryWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Where events that matter come from.
#[derive(Debug, Clone)]
struct Watched {
    dir: PathBuf,
    /// The policy file's directory and file name; when it is a symbolic
    /// link, also those of the file it points to.
    policy: Vec<(PathBuf, std::ffi::OsString)>,
    /// The consent file's directory and file name, when that directory
    /// exists.
    consent: Option<(PathBuf, std::ffi::OsString)>,
}

/// Start watching the reloader's plugin directory (and the directory of its
/// policy file); batches of changes reload after `quiet` without events.
/// Files changed since `loaded_at` (when the catalog was read), before the
/// watch began, are caught up on with one rescan.
pub fn watch(
    reloader: Arc<Reloader>,
    quiet: Duration,
    loaded_at: SystemTime,
) -> Result<DirectoryWatch, WatchError> {
    let canonical = |path: &Path| std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let watched = Watched {
        dir: canonical(reloader.dir()),
        policy: reloader
            .policy_file()
            .map(|file| policy_locations(file, canonical))
            .unwrap_or_default(),
        consent: reloader.consent_file().and_then(|file| {
            let dir = file.parent().filter(|dir| dir.is_dir())?;
            Some((canonical(dir), file.file_name()?.to_owned()))
        }),
    };
    let (events, received) = mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event| {
        // The receiver is gone only when the watch is being dropped.
        let _ = events.send(event);
    })
    .map_err(|source| WatchError {
        path: watched.dir.clone(),
        source,
    })?;
    let mut add = |path: &Path| {
        watcher
            .watch(path, RecursiveMode::NonRecursive)
            .map_err(|source| WatchError {
                path: path.to_owned(),
                source,
            })
    };
    add(&watched.dir)?;
    let mut dirs = vec![watched.dir.clone()];
    for (dir, _) in watched.policy.iter().chain(&watched.consent) {
        if !dirs.contains(dir) {
            add(dir)?;
            dirs.push(dir.clone());
        }
    }
    tracing::info!(dir = %watched.dir.display(), "watching the plugin directory for changes");
    let task = tokio::spawn(async move {
        if watched.changed_since(loaded_at) {
            reloader.reload(&ReloadRequest::rescan()).await;
        }
        gather(reloader, watched, received, quiet).await;
    });
    Ok(DirectoryWatch {
        _watcher: watcher,
        task,
    })
}

/// Where changes to the policy file `file` show: its own directory entry
/// and, when it is a symbolic link, the file it points to.
fn policy_locations(
    file: &Path,
    canonical: impl Fn(&Path) -> PathBuf,
) -> Vec<(PathBuf, std::ffi::OsString)> {
    let split = |file: &Path| {
        let name = file.file_name()?.to_owned();
        let parent = match file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        Some((canonical(parent), name))
    };
    let mut locations: Vec<_> = split(file).into_iter().collect();
    if let Ok(target) = std::fs::canonicalize(file)
        && let Some(location) = split(&target)
        && !locations.contains(&location)
    {
        locations.push(location);
    }
    locations
}

/// Turn events into reloads: one per quiet period.
async fn gather(
    reloader: Arc<Reloader>,
    watched: Watched,
    mut received: mpsc::UnboundedReceiver<notify::Result<notify::Event>>,
    quiet: Duration,
) {
    loop {
        let Some(first) = received.recv().await else {
            return;
        };
        let mut request = ReloadRequest::default();
        let precompile = |stems: Vec<String>| {
            for stem in stems {
                reloader.precompile(&stem);
            }
        };
        precompile(watched.add(&mut request, first));
        let started = Instant::now();
        let mut closed = false;
        while started.elapsed() < MAX_BATCH_DELAY {
            match tokio::time::timeout(quiet, received.recv()).await {
                Ok(Some(event)) => precompile(watched.add(&mut request, event)),
                Ok(None) => {
                    closed = true;
                    break;
                }
                Err(_quiet) => break,
            }
        }
        if !request.is_empty() {
            reloader.reload(&request).await;
        }
        if closed {
            return;
        }
    }
}

impl Watched {
    /// Whether the policy file or a plugin file was modified at or after
    /// `since` (allowing for coarse file-system clocks).
    fn changed_since(&self, since: SystemTime) -> bool {
        let since = since - Duration::from_millis(20);
        let modified_since = |path: &Path| {
            std::fs::metadata(path)
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified >= since)
        };
        let policy_changed = self
            .policy
            .iter()
            .any(|(dir, name)| modified_since(&dir.join(name)));
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return true;
        };
        policy_changed
            || modified_since(&self.dir)
            || entries.flatten().any(|entry| {
                let name = entry.file_name();
                name.to_str().and_then(crate::loader::plugin_stem).is_some()
                    && modified_since(&entry.path())
            })
    }

    /// Add what `event` asks to reload to `request`. Returns the stems
    /// whose component the event shows complete (written and closed, or
    /// renamed into place): worth compiling before the batch ends.
    fn add(
        &self,
        request: &mut ReloadRequest,
        event: notify::Result<notify::Event>,
    ) -> Vec<String> {
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                // Events may have been lost: look at everything.
                tracing::warn!("watching the plugin directory: {e}; rescanning it");
                *request = ReloadRequest::rescan();
                return Vec::new();
            }
        };
        if event.need_rescan() {
            *request = ReloadRequest::rescan();
            return Vec::new();
        }
        if !changes_content(&event.kind) {
            return Vec::new();
        }
        let complete = matches!(
            event.kind,
            EventKind::Access(AccessKind::Close(AccessMode::Write))
                | EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both))
        );
        let mut ready = Vec::new();
        for path in &event.paths {
            let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
                continue;
            };
            if self
                .policy
                .iter()
                .any(|(policy_dir, policy_name)| parent == policy_dir && name == policy_name)
            {
                request.policy = true;
                continue;
            }
            if self
                .consent
                .as_ref()
                .is_some_and(|(dir, file)| parent == dir && name == file)
            {
                request.provenance = true;
                continue;
            }
            if parent != self.dir {
                continue;
            }
            let Some(file) = name.to_str() else { continue };
            if crate::trust::signature_stem(file).is_some() {
                request.provenance = true;
                continue;
            }
            if let Some(stem) = crate::loader::plugin_stem(file) {
                request.plugins.insert(stem.to_owned());
                if complete && file.ends_with(".wasm") && path.is_file() {
                    ready.push(stem.to_owned());
                }
            }
        }
        ready
    }
}

/// Whether an event can mean a file's content or presence changed (reads,
/// opens and read-only closes cannot).
fn changes_content(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, RemoveKind};

    fn event(kind: EventKind, path: &str) -> notify::Result<notify::Event> {
        Ok(notify::Event::new(kind).add_path(PathBuf::from(path)))
    }

    fn watched() -> Watched {
        Watched {
            dir: PathBuf::from("/plugins"),
            policy: vec![(PathBuf::from("/etc/host"), "policy.toml".into())],
            consent: Some((PathBuf::from("/var/lib/host"), "consent.toml".into())),
        }
    }

    #[test]
    fn events_name_the_plugins_and_the_policy() {
        let w = watched();
        let mut r = ReloadRequest::default();
        w.add(
            &mut r,
            event(EventKind::Create(CreateKind::File), "/plugins/a.wasm"),
        );
        w.add(
            &mut r,
            event(EventKind::Modify(ModifyKind::Any), "/plugins/a.toml"),
        );
        w.add(
            &mut r,
            event(EventKind::Remove(RemoveKind::File), "/plugins/b.wasm"),
        );
        w.add(
            &mut r,
            event(EventKind::Modify(ModifyKind::Any), "/etc/host/policy.toml"),
        );
        assert_eq!(
            r.plugins.iter().map(String::as_str).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(r.policy);
        assert!(!r.everything);
        assert!(!r.provenance);
    }

    #[test]
    fn signature_and_consent_files_readmit_every_plugin() {
        let w = watched();
        for path in [
            "/plugins/a.wasm.minisig",
            "/plugins/a.wasm.cosign.json",
            "/var/lib/host/consent.toml",
        ] {
            let mut r = ReloadRequest::default();
            w.add(&mut r, event(EventKind::Modify(ModifyKind::Any), path));
            assert!(r.provenance && r.plugins.is_empty(), "{path}");
        }
        let mut r = ReloadRequest::default();
        w.add(
            &mut r,
            event(
                EventKind::Modify(ModifyKind::Any),
                "/var/lib/host/other.toml",
            ),
        );
        assert!(r.is_empty(), "another file of the data directory");
    }

    #[test]
    fn reads_hidden_files_and_strangers_are_ignored() {
        let w = watched();
        let mut r = ReloadRequest::default();
        let read = EventKind::Access(AccessKind::Close(AccessMode::Read));
        w.add(&mut r, event(read, "/plugins/a.wasm"));
        w.add(
            &mut r,
            event(
                EventKind::Access(AccessKind::Open(AccessMode::Any)),
                "/plugins/a.wasm",
            ),
        );
        w.add(
            &mut r,
            event(EventKind::Create(CreateKind::File), "/plugins/.a.wasm.tmp"),
        );
        w.add(
            &mut r,
            event(EventKind::Create(CreateKind::File), "/plugins/notes.txt"),
        );
        w.add(
            &mut r,
            event(EventKind::Create(CreateKind::File), "/elsewhere/a.wasm"),
        );
        w.add(
            &mut r,
            event(EventKind::Modify(ModifyKind::Any), "/etc/host/other.toml"),
        );
        assert!(r.is_empty(), "{r:?}");
        let closed = EventKind::Access(AccessKind::Close(AccessMode::Write));
        w.add(&mut r, event(closed, "/plugins/a.wasm"));
        assert!(r.plugins.contains("a"));
    }

    #[test]
    fn a_component_written_or_renamed_into_place_is_ready_to_compile() {
        let dir = std::env::temp_dir().join(format!("mcp-wasm-host-watch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.wasm"), b"\0asm").unwrap();
        std::fs::write(dir.join("a.toml"), b"").unwrap();
        let w = Watched {
            dir: dir.clone(),
            policy: Vec::new(),
            consent: None,
        };
        let path = |f: &str| dir.join(f).to_str().unwrap().to_owned();
        let mut r = ReloadRequest::default();
        let written = EventKind::Modify(ModifyKind::Data(notify::event::DataChange::Any));
        assert!(w.add(&mut r, event(written, &path("a.wasm"))).is_empty());
        let closed = EventKind::Access(AccessKind::Close(AccessMode::Write));
        assert_eq!(w.add(&mut r, event(closed, &path("a.wasm"))), ["a"]);
        let renamed = EventKind::Modify(ModifyKind::Name(RenameMode::To));
        assert_eq!(w.add(&mut r, event(renamed, &path("a.wasm"))), ["a"]);
        // A manifest is not compiled; a file already gone is not either.
        assert!(w.add(&mut r, event(closed, &path("a.toml"))).is_empty());
        assert!(w.add(&mut r, event(closed, &path("gone.wasm"))).is_empty());
        assert_eq!(r.plugins.len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_watch_error_rescans_everything() {
        let w = watched();
        let mut r = ReloadRequest::default();
        w.add(&mut r, Err(notify::Error::generic("queue overflow")));
        assert_eq!(r, ReloadRequest::rescan());
    }

    #[cfg(unix)]
    #[test]
    fn changes_before_the_watch_began_are_noticed() {
        let dir =
            std::env::temp_dir().join(format!("mcp-wasm-host-watch-since-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let link_target = dir.join("real-policy.toml");
        std::fs::write(&link_target, "default = \"deny\"\n").unwrap();
        let link = dir.join("policy-link.toml");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&link_target, &link).unwrap();
        let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
        let locations = policy_locations(&link, canonical);
        assert_eq!(locations.len(), 2, "{locations:?}");
        assert!(locations.iter().any(|(_, name)| name == "real-policy.toml"));

        let watched = Watched {
            dir: dir.clone(),
            policy: Vec::new(),
            consent: None,
        };
        let later = SystemTime::now() + Duration::from_secs(60);
        assert!(!watched.changed_since(later));
        let before = SystemTime::now() - Duration::from_secs(60);
        std::fs::write(dir.join("p.toml"), "name = \"p\"\n").unwrap();
        assert!(watched.changed_since(before));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

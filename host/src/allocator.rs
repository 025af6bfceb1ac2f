//! The process's C allocator, kept from hoarding memory: how many heaps
//! (arenas) it may grow, and when it gives freed pages back to the system.
//!
//! glibc's `malloc` gives threads up to eight arenas per core. Each arena
//! keeps what it freed for its own next allocations, so after a burst (a
//! thousand HTTP sessions opened and closed) the freed memory lies spread
//! over many half-empty arenas and the resident set stays near the peak.
//! The host caps the arenas at one per core (at least two) and, once
//! sessions stop closing, asks the allocator to return its free pages.
//! Other allocators and platforms are left alone.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// The environment variable with which an operator sets glibc's arena cap
/// themself; when it is set the host does not override it.
pub const ARENA_MAX_ENV: &str = "MALLOC_ARENA_MAX";

/// How long after the last release request the freed memory is given back.
const RELEASE_AFTER: Duration = Duration::from_secs(1);

/// The arena cap for a machine with `cores` cores: one per core, at least
/// two so that a thread allocating does not wait for one busy elsewhere.
fn arena_cap(cores: usize) -> usize {
    cores.max(2)
}

/// Cap the allocator's arenas at one per core, unless the operator chose a
/// cap through [`ARENA_MAX_ENV`]. Call it first thing in `main`, before any
/// thread is started: arenas made before the cap stay.
pub fn cap_arenas() {
    if std::env::var_os(ARENA_MAX_ENV).is_some() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    set_arena_max(arena_cap(cores));
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_arena_max(arenas: usize) {
    let arenas = libc::c_int::try_from(arenas).unwrap_or(libc::c_int::MAX);
    // SAFETY: `mallopt` changes a tuning parameter of the allocator; it is
    // called before any other thread exists and takes no pointers.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_arena_max(_arenas: usize) {}

/// Give the memory freed by a burst (closed sessions, say) back to the
/// system once the requests stop coming for [`RELEASE_AFTER`]. One release
/// at a time; requests meanwhile push it back. Outside a tokio runtime it
/// does nothing.
pub fn release_freed_memory_soon() {
    static PENDING: AtomicBool = AtomicBool::new(false);
    /// Requests so far; the release waits until a quiet second passes.
    static REQUESTS: AtomicU64 = AtomicU64::new(0);
    REQUESTS.fetch_add(1, Ordering::Relaxed);
    if PENDING.swap(true, Ordering::AcqRel) {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        PENDING.store(false, Ordering::Release);
        return;
    };
    runtime.spawn(async {
        loop {
            loop {
                let seen = REQUESTS.load(Ordering::Relaxed);
                tokio::time::sleep(RELEASE_AFTER).await;
                if REQUESTS.load(Ordering::Relaxed) == seen {
                    break;
                }
            }
            let released_after = REQUESTS.load(Ordering::Relaxed);
            let _ = tokio::task::spawn_blocking(release_freed_memory).await;
            PENDING.store(false, Ordering::Release);
            // A request that came during the release left it to us.
            if REQUESTS.load(Ordering::Relaxed) == released_after
                || PENDING.swap(true, Ordering::AcqRel)
            {
                break;
            }
        }
    });
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_freed_memory() {
    // SAFETY: `malloc_trim` only returns free pages of the allocator's own
    // arenas to the system; it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_freed_memory() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arena_cap_is_one_per_core_and_never_below_two() {
        assert_eq!(arena_cap(1), 2);
        assert_eq!(arena_cap(2), 2);
        assert_eq!(arena_cap(16), 16);
    }
}

//! The process's allocators, and how they give memory back.
//!
//! On Linux the host's own allocations go to jemalloc (this module sets the
//! global allocator). Calls allocate and free many short-lived objects on
//! several threads at once (serving threads, the worker pool); glibc's
//! `malloc` served them with about a quarter fewer HTTP calls per second
//! (`docs/benchmarks.md`, 2026-12-06).
//!
//! Either allocator keeps what it freed for its next allocations, so after a
//! burst (a thousand HTTP sessions opened and closed) the resident set stays
//! near the peak. Once sessions stop closing, the host asks both to return
//! their free pages: jemalloc for its arenas, glibc for what C libraries
//! (SQLite, say) allocated through `malloc`. glibc would also give threads up
//! to eight arenas per core, each keeping its own free memory; the host caps
//! them at one per core (at least two). Other platforms are left alone.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::ThreadId;
use std::time::Duration;

#[cfg(target_os = "linux")]
#[global_allocator]
static HOST_ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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

/// Cap glibc's arenas at one per core, unless the operator chose a
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
/// system once the requests stop coming for [`RELEASE_AFTER`]. Each thread
/// that asks gets one release at a time, run on its own runtime (on a
/// serving thread: on that thread), which first empties the thread's own
/// cache of freed blocks, then has the allocators return their free pages;
/// requests meanwhile push it back. Outside a tokio runtime it does nothing.
pub fn release_freed_memory_soon() {
    /// Threads with a release pending.
    static PENDING: Mutex<Vec<ThreadId>> = Mutex::new(Vec::new());
    /// Requests so far; a release waits until a quiet second passes.
    static REQUESTS: AtomicU64 = AtomicU64::new(0);
    let pending = || PENDING.lock().unwrap_or_else(|e| e.into_inner());
    REQUESTS.fetch_add(1, Ordering::Relaxed);
    let thread = std::thread::current().id();
    {
        let mut pending = pending();
        if pending.contains(&thread) {
            return;
        }
        pending.push(thread);
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        pending().retain(|t| *t != thread);
        return;
    };
    runtime.spawn(async move {
        loop {
            loop {
                let seen = REQUESTS.load(Ordering::Relaxed);
                tokio::time::sleep(RELEASE_AFTER).await;
                if REQUESTS.load(Ordering::Relaxed) == seen {
                    break;
                }
            }
            let released_after = REQUESTS.load(Ordering::Relaxed);
            flush_thread_cache();
            let _ = tokio::task::spawn_blocking(release_freed_memory).await;
            // A request that came during the release is served by this
            // same release running again. Checked under the lock a request
            // takes after counting itself, so none falls between the check
            // and the thread leaving the pending list.
            let mut pending = pending();
            if REQUESTS.load(Ordering::Relaxed) == released_after {
                pending.retain(|t| *t != thread);
                break;
            }
        }
    });
}

/// Empty the calling thread's cache of freed blocks into the allocator's
/// arenas, where a release can return them. A thread that served a burst
/// keeps megabytes there, and no other thread can empty it.
pub fn flush_thread_cache() {
    #[cfg(target_os = "linux")]
    jemalloc_control(c"thread.tcache.flush");
}

/// Return the free pages of both allocators to the system now.
pub fn release_freed_memory() {
    release_jemalloc_pages();
    release_malloc_pages();
}

#[cfg(target_os = "linux")]
fn release_jemalloc_pages() {
    // `MALLCTL_ARENAS_ALL` (4096) in place of an arena index: every arena.
    jemalloc_control(c"arena.4096.purge");
}

/// Run the jemalloc control `name`, one that neither reads nor writes a
/// value.
#[cfg(target_os = "linux")]
fn jemalloc_control(name: &std::ffi::CStr) {
    // SAFETY: no pointers but the name, a NUL-terminated string that
    // outlives the call; the control takes no value and gives none.
    let status = unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    if status != 0 {
        tracing::debug!(status, control = ?name, "the allocator refused a control");
    }
}

#[cfg(not(target_os = "linux"))]
fn release_jemalloc_pages() {}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_malloc_pages() {
    // SAFETY: `malloc_trim` only returns free pages of the allocator's own
    // arenas to the system; it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_malloc_pages() {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The process's resident memory, in bytes.
    #[cfg(target_os = "linux")]
    fn resident_bytes() -> u64 {
        let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
        let pages: u64 = statm
            .split_whitespace()
            .nth(1)
            .and_then(|f| f.parse().ok())
            .expect("resident pages in statm");
        pages * rustix::param::page_size() as u64
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn memory_freed_by_a_burst_leaves_the_process_once_released() {
        const BLOCK: usize = 64 << 10;
        const TOTAL: usize = 128 << 20;
        // Blocks of a size the allocator keeps for reuse once freed.
        let blocks: Vec<Vec<u8>> = (0..TOTAL / BLOCK).map(|i| vec![i as u8; BLOCK]).collect();
        let peak = resident_bytes();
        drop(blocks);
        release_freed_memory();
        let after = resident_bytes();
        let returned = peak.saturating_sub(after);
        assert!(
            returned >= (TOTAL as u64) * 3 / 4,
            "{} MiB of the {} MiB freed went back (resident {} MiB, then {} MiB)",
            returned >> 20,
            TOTAL >> 20,
            peak >> 20,
            after >> 20
        );
    }

    #[test]
    fn the_arena_cap_is_one_per_core_and_never_below_two() {
        assert_eq!(arena_cap(1), 2);
        assert_eq!(arena_cap(2), 2);
        assert_eq!(arena_cap(16), 16);
    }
}

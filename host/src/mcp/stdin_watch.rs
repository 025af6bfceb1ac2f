//! The stdio server's wait for the client's next message.
//!
//! Over stdio one thread serves the session. When it runs out of work it
//! sleeps in the event loop until stdin has data, and waking a sleeping
//! thread when the next message arrives can cost more than handling the
//! message: on virtual machines a sleeping CPU is halted, and waking it goes
//! through the hypervisor (tens of microseconds). So, shortly after traffic,
//! the thread first watches stdin (a `poll` that does not block) for a
//! bounded window, and sleeps only when nothing came. A client that sends
//! its next request right after reading a response — an agent chaining
//! calls — finds the host awake; an idle host never watches, because the
//! window opens only within [`RECENT`] of the last message read.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How recent the last message from the client must be for the thread to
/// watch stdin before sleeping.
pub const RECENT: Duration = Duration::from_millis(20);

/// The default watch window.
pub const DEFAULT_WINDOW: Duration = Duration::from_micros(200);

/// When the process began, the origin of [`LAST_INPUT`].
fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// Nanoseconds after [`origin`] at which stdin last gave data; 0: never.
static LAST_INPUT: AtomicU64 = AtomicU64::new(0);

/// Record that stdin just gave data.
pub(crate) fn note_input() {
    let nanos = origin().elapsed().as_nanos().max(1);
    LAST_INPUT.store(u64::try_from(nanos).unwrap_or(u64::MAX), Ordering::Relaxed);
}

/// Whether stdin gave data within `recent` of now.
fn input_within(recent: Duration) -> bool {
    let last = LAST_INPUT.load(Ordering::Relaxed);
    if last == 0 {
        return false;
    }
    let now = origin().elapsed().as_nanos();
    now.saturating_sub(u128::from(last)) <= recent.as_nanos()
}

/// The hook to run before the serving thread sleeps (tokio's
/// `on_thread_park`): watch stdin for up to `window` if a message came
/// within [`RECENT`]. A zero window never watches.
pub fn before_sleep(window: Duration) -> impl Fn() + Send + Sync + 'static {
    move || {
        if window.is_zero() || !input_within(RECENT) {
            return;
        }
        watch_stdin(window);
    }
}

/// Return as soon as stdin is readable (or closed, or not pollable), or
/// once `window` has passed.
#[cfg(unix)]
fn watch_stdin(window: Duration) {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    use std::os::fd::AsFd;

    let stdin = std::io::stdin();
    let fd = stdin.as_fd();
    let until = Instant::now() + window;
    let no_wait = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    loop {
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        match poll(&mut fds, Some(&no_wait)) {
            Ok(0) => {}
            // Readable, closed, or an error: the event loop takes it from here.
            Ok(_) | Err(_) => return,
        }
        if Instant::now() >= until {
            return;
        }
        std::hint::spin_loop();
    }
}

#[cfg(not(unix))]
fn watch_stdin(_window: Duration) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_follows_recent_input_only() {
        note_input();
        assert!(input_within(RECENT));
        std::thread::sleep(Duration::from_millis(5));
        assert!(!input_within(Duration::from_millis(1)));
        assert!(input_within(Duration::from_secs(3600)));
    }
}

//! The stdio server's wait for the client's next message.
//!
//! Over stdio one thread serves the session. When it runs out of work it
//! sleeps in the event loop until stdin has data, and waking a sleeping
//! thread when the next message arrives can cost more than handling the
//! message: on virtual machines a sleeping CPU is halted, and waking it goes
//! through the hypervisor (tens of microseconds). So the thread may first
//! watch stdin (a `poll` that does not block) for a bounded window, and
//! sleep only when nothing came. It watches only when that is likely to
//! pay: within [`RECENT`] of the last message read (an idle host never
//! watches), and only if the client's last message came within the window
//! after the thread began to wait. A client that sends its next request
//! right after reading a response (an agent chaining calls) finds the host
//! awake; one that sends a request every few milliseconds finds it asleep,
//! and the host spends no CPU watching for it. One message that comes
//! quickly again turns the watch back on.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// Nanoseconds after [`origin`] at which the serving thread last began to
/// wait for work; 0: never.
static WAIT_BEGAN: AtomicU64 = AtomicU64::new(0);

/// The watch window, in nanoseconds.
static WINDOW_NANOS: AtomicU64 = AtomicU64::new(0);

/// Whether the client's last message came within the window after the
/// thread began to wait (or while it was busy).
static CAME_QUICKLY: AtomicBool = AtomicBool::new(true);

fn now_nanos() -> u64 {
    u64::try_from(origin().elapsed().as_nanos().max(1)).unwrap_or(u64::MAX)
}

/// Record that stdin just gave data, and whether it came quickly.
pub(crate) fn note_input() {
    let now = now_nanos();
    let began = WAIT_BEGAN.load(Ordering::Relaxed);
    if began > LAST_INPUT.load(Ordering::Relaxed) {
        let waited = now.saturating_sub(began);
        CAME_QUICKLY.store(
            waited <= WINDOW_NANOS.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
    }
    LAST_INPUT.store(now, Ordering::Relaxed);
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
/// within [`RECENT`] and the last one came quickly (see the module docs).
/// A zero window never watches.
pub fn before_sleep(window: Duration) -> impl Fn() + Send + Sync + 'static {
    WINDOW_NANOS.store(
        u64::try_from(window.as_nanos()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
    move || {
        WAIT_BEGAN.store(now_nanos(), Ordering::Relaxed);
        if window.is_zero() || !CAME_QUICKLY.load(Ordering::Relaxed) || !input_within(RECENT) {
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

    /// The tests share the process-wide state: one at a time.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn the_watch_stops_after_a_slow_message_and_resumes_after_a_quick_one() {
        let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let park = before_sleep(Duration::from_millis(2));
        // Quick: a message right after the thread began to wait.
        park();
        note_input();
        assert!(CAME_QUICKLY.load(Ordering::Relaxed));
        // Slow: the next one comes well after the window.
        WAIT_BEGAN.store(now_nanos(), Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(10));
        note_input();
        assert!(
            !CAME_QUICKLY.load(Ordering::Relaxed),
            "a slow message turns the watch off"
        );
        // Input while the thread was busy (it never waited) changes nothing.
        note_input();
        assert!(!CAME_QUICKLY.load(Ordering::Relaxed));
        WAIT_BEGAN.store(now_nanos(), Ordering::Relaxed);
        note_input();
        assert!(
            CAME_QUICKLY.load(Ordering::Relaxed),
            "a quick one turns it back on"
        );
    }

    #[test]
    fn the_window_follows_recent_input_only() {
        let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        note_input();
        assert!(input_within(RECENT));
        std::thread::sleep(Duration::from_millis(5));
        assert!(!input_within(Duration::from_millis(1)));
        assert!(input_within(Duration::from_secs(3600)));
    }
}

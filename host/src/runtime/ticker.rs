//! The epoch ticker: a thread that advances the engine's epoch every
//! [`EPOCH_TICK`](super::EPOCH_TICK) while guests run, so a guest computing
//! without calling the host reaches its epoch callback (deadline,
//! cancellation, yield) and long calls get their turns
//! ([`LongCalls::tick`]). Most calls end well within a tick, so when the
//! ticker finds no guest running it *dozes*: it looks again every [`DOZE`]
//! instead of every tick, and calls that start meanwhile do not wake it (a
//! guest's first tick then comes at most `DOZE` + a tick after it began).
//! Once no guest has run for [`IDLE_PARK`] it parks, so an idle host wakes
//! no CPU; the next guest to start unparks it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use wasmtime::Engine;

use super::long_calls::LongCalls;
use super::{EPOCH_TICK, RuntimeError};

/// How long the ticker keeps ticking after the last guest finished.
pub const IDLE_PARK: Duration = Duration::from_secs(1);

/// How often a ticker that found no guest running looks again.
pub const DOZE: Duration = Duration::from_millis(20);

/// The handle on the ticker thread.
#[derive(Debug)]
pub(crate) struct EpochTicker {
    shared: Arc<Shared>,
    thread: std::thread::Thread,
}

#[derive(Debug, Default)]
struct Shared {
    /// Guests running now.
    running: AtomicUsize,
    /// The ticker is parked (not dozing): a starting guest must unpark it.
    parked: AtomicBool,
    stop: AtomicBool,
}

impl EpochTicker {
    pub(crate) fn start(
        engine: &Engine,
        long_calls: Option<Arc<LongCalls>>,
    ) -> Result<Self, RuntimeError> {
        let shared = Arc::new(Shared::default());
        let weak = engine.weak();
        let ticking = shared.clone();
        let handle = std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                let mut idle_since: Option<Instant> = None;
                while !ticking.stop.load(Ordering::Acquire) {
                    if ticking.running.load(Ordering::SeqCst) == 0 {
                        let since = *idle_since.get_or_insert_with(Instant::now);
                        if since.elapsed() >= IDLE_PARK {
                            ticking.parked.store(true, Ordering::SeqCst);
                            // A guest starting after `parked` was set sees
                            // it and unparks us (park then returns at once).
                            if ticking.running.load(Ordering::SeqCst) == 0 {
                                std::thread::park();
                            }
                            ticking.parked.store(false, Ordering::SeqCst);
                            idle_since = None;
                            continue;
                        }
                        std::thread::sleep(DOZE);
                        continue;
                    }
                    idle_since = None;
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                    if let Some(long_calls) = &long_calls {
                        long_calls.tick();
                    }
                }
            })
            .map_err(|e| RuntimeError(format!("cannot start the epoch ticker: {e}")))?;
        Ok(Self {
            shared,
            thread: handle.thread().clone(),
        })
    }

    /// A guest is about to run: keep (or start) ticking until the guard is
    /// dropped.
    pub(crate) fn guest_running(&self) -> RunningGuest<'_> {
        self.shared.running.fetch_add(1, Ordering::SeqCst);
        if self.shared.parked.load(Ordering::SeqCst) {
            self.thread.unpark();
        }
        RunningGuest(&self.shared)
    }

    /// Guests running now.
    #[cfg(test)]
    fn guests(&self) -> usize {
        self.shared.running.load(Ordering::Acquire)
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// Counts a running guest while alive.
#[must_use = "the guest counts as running while the guard lives"]
pub(crate) struct RunningGuest<'a>(&'a Shared);

impl Drop for RunningGuest<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(module (func (export "spin") (loop br 0)))`
    const SPIN_MODULE: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
        0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // types: () -> ()
        0x03, 0x02, 0x01, 0x00, // functions: one of type 0
        0x07, 0x08, 0x01, 0x04, b's', b'p', b'i', b'n', 0x00, 0x00, // export "spin"
        0x0a, 0x09, 0x01, 0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b, // loop br 0
    ];

    #[test]
    fn the_epoch_advances_for_a_guest_started_after_the_ticker_parked() {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config).unwrap();
        let ticker = EpochTicker::start(&engine, None).unwrap();
        // Let the ticker go idle and park.
        std::thread::sleep(IDLE_PARK + Duration::from_millis(200));
        let running = ticker.guest_running();
        assert_eq!(ticker.guests(), 1);
        // Without a tick the guest loops forever; with one it traps.
        let (done, outcome) = std::sync::mpsc::channel();
        let spinning_engine = engine.clone();
        std::thread::spawn(move || {
            let mut store = wasmtime::Store::new(&spinning_engine, ());
            store.set_epoch_deadline(1);
            let module = wasmtime::Module::new(&spinning_engine, SPIN_MODULE).unwrap();
            let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
            let spin = instance
                .get_typed_func::<(), ()>(&mut store, "spin")
                .unwrap();
            let _ = done.send(spin.call(&mut store, ()).is_err());
        });
        let trapped = outcome.recv_timeout(Duration::from_secs(30));
        drop(running);
        assert_eq!(
            trapped,
            Ok(true),
            "the woken ticker interrupts the spinning guest"
        );
        assert_eq!(ticker.guests(), 0);
    }
}

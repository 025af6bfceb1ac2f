//! The host's log output (stderr), written by a thread of its own, so that
//! no thread serving calls ever waits for whoever reads the log. An MCP
//! client may ignore the server's stderr; one that pipes it and never reads
//! it fills the pipe, and a log written in place would then block every
//! thread that logs. Here a formatted event is queued instead (at most
//! [`QUEUE_BYTES`]); an event that finds the queue full is dropped and
//! counted, and once events flow again the writer reports how many were
//! lost. At exit, what is queued is written within a grace period.
//!
//! The writer writes a batch per `write`. An event after a pause is
//! written at once; one that comes within [`FLUSH_DELAY`] of the last
//! write waits up to that long (or until [`FLUSH_BYTES`] are queued) for
//! others to join, so a busy host logs one line per call without a wake-up
//! and a system call for each.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;

/// The most bytes of formatted events waiting for the output.
pub const QUEUE_BYTES: usize = 1 << 20;

/// How long the writer waits for more events before writing a batch.
pub const FLUSH_DELAY: Duration = Duration::from_millis(10);

/// Queued bytes that make the writer write at once.
pub const FLUSH_BYTES: usize = 64 << 10;

/// Where the log goes: hand it to the formatting layer as its writer.
#[derive(Clone, Debug)]
pub struct LogSink {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// Events were queued, or the sink closed.
    queued: Condvar,
    /// The writer finished a batch.
    written: Condvar,
}

#[derive(Debug, Default)]
struct State {
    events: VecDeque<Vec<u8>>,
    bytes: usize,
    capacity: usize,
    /// Events dropped since the writer last reported.
    dropped: u64,
    /// The writer is writing a batch.
    writing: bool,
    /// The writer sleeps until an event comes.
    idle: bool,
    /// The writer waits for a batch to fill.
    filling: bool,
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl LogSink {
    /// Start the writer thread, writing to `output`. When events had been
    /// dropped, `report_dropped` is called with their number from the
    /// writer thread (what it logs is queued like any event).
    pub fn start(
        output: impl Write + Send + 'static,
        capacity: usize,
        report_dropped: impl Fn(u64) + Send + 'static,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        shared.lock().capacity = capacity;
        let writer = shared.clone();
        std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || write_out(&writer, output, report_dropped))?;
        Ok(Self { shared })
    }

    /// Queue one formatted event, or count it dropped when the queue is
    /// full. Never waits for the output.
    fn queue(&self, event: Vec<u8>) {
        if event.is_empty() {
            return;
        }
        let mut state = self.shared.lock();
        if state.bytes + event.len() > state.capacity {
            state.dropped += 1;
            // (An idle writer has an empty queue: the event alone was too
            // large. It reports the loss now.)
            let wake = state.idle;
            drop(state);
            if wake {
                self.shared.queued.notify_one();
            }
            return;
        }
        state.bytes += event.len();
        state.events.push_back(event);
        // Wake the writer only when it sleeps, or when a batch it waits for
        // has filled.
        let wake = state.idle || (state.filling && state.bytes >= FLUSH_BYTES);
        drop(state);
        if wake {
            self.shared.queued.notify_one();
        }
    }

    /// Stop taking events and wait, at most `grace`, until what is queued
    /// has been written. Whether everything was written.
    pub fn close(&self, grace: Duration) -> bool {
        let deadline = Instant::now() + grace;
        let mut state = self.shared.lock();
        state.closed = true;
        self.shared.queued.notify_all();
        while !state.events.is_empty() || state.writing || state.dropped > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .shared
                .written
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

/// The writer thread: write batches until the sink closes and nothing is
/// left.
fn write_out(shared: &Shared, mut output: impl Write, report_dropped: impl Fn(u64)) {
    let mut buffer = Vec::new();
    let mut last_write = None;
    loop {
        let (batch, dropped) = {
            let mut state = shared.lock();
            while state.events.is_empty() && state.dropped == 0 && !state.closed {
                state.idle = true;
                state = shared.queued.wait(state).unwrap_or_else(|e| e.into_inner());
                state.idle = false;
            }
            if state.events.is_empty() && state.dropped == 0 {
                return;
            }
            // Lines that come after a pause are written at once; while they
            // keep coming, the writer waits for a batch to fill.
            let busy = last_write.is_some_and(|at: Instant| at.elapsed() < FLUSH_DELAY);
            if busy && !state.closed && state.dropped == 0 && state.bytes < FLUSH_BYTES {
                state.filling = true;
                state = shared
                    .queued
                    .wait_timeout(state, FLUSH_DELAY)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                state.filling = false;
            }
            state.writing = true;
            state.bytes = 0;
            (
                std::mem::take(&mut state.events),
                std::mem::take(&mut state.dropped),
            )
        };
        buffer.clear();
        for event in &batch {
            buffer.extend_from_slice(event);
        }
        // Nowhere to report a failing log; the events are let go.
        let _ = output.write_all(&buffer);
        let _ = output.flush();
        last_write = Some(Instant::now());
        buffer.shrink_to(FLUSH_BYTES);
        // After the batch, so the report follows what came before the loss.
        if dropped > 0 {
            report_dropped(dropped);
        }
        shared.lock().writing = false;
        shared.written.notify_all();
    }
}

/// One event as the formatting layer writes it, queued whole when done.
pub struct EventWriter<'a> {
    sink: &'a LogSink,
    event: Vec<u8>,
}

impl Write for EventWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.event.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for EventWriter<'_> {
    fn drop(&mut self) {
        self.sink.queue(std::mem::take(&mut self.event));
    }
}

impl<'a> MakeWriter<'a> for LogSink {
    type Writer = EventWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        EventWriter {
            sink: self,
            event: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    /// An output that takes nothing until it is opened, like a pipe nobody
    /// reads, and then hands what it is written to a channel.
    struct Gate {
        open: mpsc::Receiver<()>,
        opened: bool,
        written: mpsc::Sender<Vec<u8>>,
    }

    impl Write for Gate {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if !self.opened {
                let _ = self.open.recv();
                self.opened = true;
            }
            let _ = self.written.send(bytes.to_vec());
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn event(sink: &LogSink, text: &str) {
        let mut writer = sink.make_writer();
        writer.write_all(text.as_bytes()).unwrap();
    }

    /// A sink of `capacity` bytes whose writer has taken the event
    /// `first` and is stuck writing it to a closed [`Gate`]; the sender
    /// opens the gate, the receiver gets what the gate was written.
    fn stuck_sink(
        capacity: usize,
        report_dropped: impl Fn(u64) + Send + 'static,
    ) -> (LogSink, mpsc::Sender<()>, mpsc::Receiver<Vec<u8>>) {
        let (open, gate_open) = mpsc::channel();
        let (written_tx, written) = mpsc::channel();
        let gate = Gate {
            open: gate_open,
            opened: false,
            written: written_tx,
        };
        let sink = LogSink::start(gate, capacity, report_dropped).unwrap();
        event(&sink, "first\n");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let state = sink.shared.lock();
            if state.events.is_empty() && state.writing {
                break;
            }
            drop(state);
            assert!(Instant::now() < deadline, "the writer never took the event");
            std::thread::sleep(Duration::from_millis(1));
        }
        (sink, open, written)
    }

    #[test]
    fn a_stuck_output_drops_and_counts_events_instead_of_blocking_the_logger() {
        let (reports_tx, reports) = mpsc::channel();
        let (sink, open, written) =
            stuck_sink(100, move |dropped| reports_tx.send(dropped).unwrap());
        // Ten events of ten bytes fill the queue; five more find it full.
        for n in 0..15 {
            event(&sink, &format!("event {n:03}\n"));
        }
        assert_eq!(sink.shared.lock().dropped, 5);

        open.send(()).unwrap();
        assert!(sink.close(Duration::from_secs(10)));
        let text: String = written
            .try_iter()
            .map(|bytes| String::from_utf8(bytes).unwrap())
            .collect();
        let expected: String = std::iter::once("first\n".to_string())
            .chain((0..10).map(|n| format!("event {n:03}\n")))
            .collect();
        assert_eq!(text, expected);
        assert_eq!(reports.try_iter().collect::<Vec<_>>(), vec![5]);
    }

    #[test]
    fn an_event_is_queued_whole_however_it_is_written() {
        // While the writer is stuck, what follows stays queued, one entry
        // per event.
        let (sink, _open, _written) = stuck_sink(QUEUE_BYTES, |_| {});
        {
            let mut writer = sink.make_writer();
            writer.write_all(b"one ").unwrap();
            writer.write_all(b"event\n").unwrap();
        }
        event(&sink, "two\n");
        let queued: Vec<Vec<u8>> = sink.shared.lock().events.iter().cloned().collect();
        assert_eq!(queued, vec![b"one event\n".to_vec(), b"two\n".to_vec()]);
    }
}

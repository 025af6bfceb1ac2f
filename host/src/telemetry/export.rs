//! The way spans leave the process: a bounded queue in front of the SDK's
//! batch exporter that drops (and counts) what does not fit instead of
//! making a call wait, and an exporter wrapper that counts failed batches
//! as dropped. The first drop is logged once; the count is a metric.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, Span as SdkSpan, SpanData, SpanExporter, SpanProcessor,
};

/// What happened to the spans the host finished.
#[derive(Debug, Default)]
pub struct ExportStats {
    /// Spans handed to the batch exporter and not yet sent.
    queued: AtomicUsize,
    /// Spans dropped: the queue was full or the collector refused or was
    /// unreachable.
    dropped: AtomicU64,
    /// Spans the collector accepted.
    exported: AtomicU64,
    /// Whether the first drop has been logged.
    warned: AtomicBool,
}

impl ExportStats {
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub fn exported(&self) -> u64 {
        self.exported.load(Ordering::Relaxed)
    }

    fn drop_spans(&self, count: u64, why: &str) {
        self.dropped.fetch_add(count, Ordering::Relaxed);
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                why,
                "dropping trace spans; later drops are only counted \
                 (mcp_wasm_host_trace_spans_dropped_total)"
            );
        }
    }
}

/// The counters of this process's exporter (zero while tracing is off).
pub fn stats() -> &'static ExportStats {
    static STATS: ExportStats = ExportStats {
        queued: AtomicUsize::new(0),
        dropped: AtomicU64::new(0),
        exported: AtomicU64::new(0),
        warned: AtomicBool::new(false),
    };
    &STATS
}

/// An exporter that tells [`stats`] how each batch went.
#[derive(Debug)]
pub(super) struct CountingExporter<E> {
    pub(super) inner: E,
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let count = batch.len();
        // The batch left the queue, whatever happens to it now.
        stats().queued.fetch_sub(count, Ordering::AcqRel);
        let result = self.inner.export(batch).await;
        match &result {
            Ok(()) => {
                stats().exported.fetch_add(count as u64, Ordering::Relaxed);
            }
            Err(error) => stats().drop_spans(count as u64, &error.to_string()),
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    // Without this the spans lose `service.name` and the other resource
    // attributes.
    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource)
    }
}

/// The batch processor behind a queue bound of its own, equal to the
/// processor's: a span that would overflow it is dropped and counted here
/// (the SDK drops too, but keeps its count to itself).
#[derive(Debug)]
pub(super) struct BoundedProcessor {
    pub(super) inner: BatchSpanProcessor,
    pub(super) capacity: usize,
}

impl SpanProcessor for BoundedProcessor {
    fn on_start(&self, span: &mut SdkSpan, cx: &Context) {
        self.inner.on_start(span, cx)
    }

    fn on_end(&self, span: SpanData) {
        let before = stats().queued.fetch_add(1, Ordering::AcqRel);
        if before >= self.capacity {
            stats().queued.fetch_sub(1, Ordering::AcqRel);
            stats().drop_spans(1, "the export queue is full");
            return;
        }
        self.inner.on_end(span)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource)
    }
}

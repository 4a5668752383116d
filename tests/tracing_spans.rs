//! What the bus reports through `tracing`: an "event" span per emit and a
//! "handler" span per attempt, both at debug level, a warning for each retry
//! and an error for each final failure, rejected event and detached event
//! cancelled at shutdown.
//!
//! Each test installs its own subscriber for the current thread only, with a
//! layer that records spans and log events, so tests running in parallel do
//! not see each other's records.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use events::{on, Bus, Envelope, Event};
use serde::{Deserialize, Serialize};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// A span as it was opened.
#[derive(Clone, Debug)]
struct SpanRecord {
    name: &'static str,
    fields: BTreeMap<String, String>,
    parent: Option<&'static str>,
}

/// A log event with the names of the spans it happened in, innermost first.
#[derive(Clone, Debug)]
struct LogRecord {
    level: Level,
    fields: BTreeMap<String, String>,
    spans: Vec<&'static str>,
}

impl LogRecord {
    fn message(&self) -> &str {
        self.fields.get("message").map_or("", String::as_str)
    }
}

#[derive(Clone, Default)]
struct Recording {
    spans: Arc<Mutex<Vec<SpanRecord>>>,
    logs: Arc<Mutex<Vec<LogRecord>>>,
}

impl Recording {
    fn spans_named(&self, name: &str) -> Vec<SpanRecord> {
        let spans = self.spans.lock().unwrap();
        spans
            .iter()
            .filter(|span| span.name == name)
            .cloned()
            .collect()
    }

    fn logs_at(&self, level: Level) -> Vec<LogRecord> {
        let logs = self.logs.lock().unwrap();
        logs.iter()
            .filter(|log| log.level == level)
            .cloned()
            .collect()
    }
}

/// Collects field values as text: strings as they are, other values through
/// their `Debug` output, which for `%value` fields is the `Display` output.
struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S> Layer<S> for Recording
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let parent = ctx
            .span(id)
            .and_then(|span| span.parent())
            .map(|parent| parent.name());
        let mut spans = self.spans.lock().unwrap();
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanIndex(spans.len()));
        }
        spans.push(SpanRecord {
            name: attrs.metadata().name(),
            fields,
            parent,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let Some(&SpanIndex(index)) = span.extensions().get::<SpanIndex>() else {
            return;
        };
        values.record(&mut Fields(&mut self.spans.lock().unwrap()[index].fields));
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let spans = ctx
            .event_scope(event)
            .map(|scope| scope.map(|span| span.name()).collect())
            .unwrap_or_default();
        self.logs.lock().unwrap().push(LogRecord {
            level: *event.metadata().level(),
            fields,
            spans,
        });
    }
}

/// The position of a span's record in [`Recording::spans`].
struct SpanIndex(usize);

/// Runs `body` with a recording subscriber on this thread.
fn record<R>(body: impl FnOnce() -> R) -> (R, Recording) {
    let recording = Recording::default();
    let subscriber = tracing_subscriber::registry().with(recording.clone());
    let result = tracing::subscriber::with_default(subscriber, body);
    (result, recording)
}

fn field<'a>(fields: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    fields
        .get(name)
        .unwrap_or_else(|| panic!("no field `{name}` in {fields:?}"))
}

// The "event" span.

#[derive(Event, Serialize, Deserialize)]
#[event(version = 2)]
struct OrderTraced;

#[on(OrderTraced, name = "trace.order")]
fn trace_order(_: &OrderTraced) {
    tracing::info!("inside the handler");
}

#[test]
fn emit_opens_event_span_with_ids() {
    let bus = Bus::new();
    let envelope = Envelope::new(OrderTraced)
        .with_id("order-traced-1")
        .with_correlation_id("checkout-9");

    let (report, recording) = record(|| bus.emit_envelope(envelope));

    assert!(report.is_ok(), "{report}");
    let spans = recording.spans_named("event");
    assert_eq!(spans.len(), 1, "{spans:?}");
    let fields = &spans[0].fields;
    assert_eq!(field(fields, "name"), "OrderTraced");
    assert_eq!(field(fields, "version"), "2");
    assert_eq!(field(fields, "id"), "order-traced-1");
    assert_eq!(field(fields, "correlation_id"), "checkout-9");
    assert_eq!(field(fields, "depth"), "0");
    let inside = recording.logs_at(Level::INFO);
    assert_eq!(inside.len(), 1);
    assert!(inside[0].spans.contains(&"event"), "{inside:?}");
}

#[test]
fn event_span_correlation_defaults_to_id() {
    let bus = Bus::new();
    let envelope = Envelope::new(OrderTraced).with_id("order-traced-2");

    let ((), recording) = record(|| {
        bus.emit_envelope(envelope);
    });

    let spans = recording.spans_named("event");
    assert_eq!(field(&spans[0].fields, "correlation_id"), "order-traced-2");
}

// The "handler" span.

#[test]
fn sync_handler_runs_in_handler_span() {
    let bus = Bus::new();

    let ((), recording) = record(|| {
        bus.emit(OrderTraced);
    });

    let spans = recording.spans_named("handler");
    assert_eq!(spans.len(), 1, "{spans:?}");
    assert_eq!(field(&spans[0].fields, "handler"), "trace.order");
    assert_eq!(field(&spans[0].fields, "attempt"), "1");
    assert_eq!(spans[0].parent, Some("event"));
}

#[derive(Event, Serialize, Deserialize)]
struct StockTraced;

#[on(StockTraced, name = "trace.stock", attempts = 3)]
fn trace_stock(_: &StockTraced, cx: events::Context) -> Result<(), String> {
    if cx.attempt() == 1 {
        return Err("warehouse timeout".into());
    }
    Ok(())
}

#[test]
fn retried_handler_span_per_attempt() {
    let bus = Bus::new();

    let (report, recording) = record(|| bus.emit(StockTraced));

    assert!(report.is_ok(), "{report}");
    let spans = recording.spans_named("handler");
    let attempts: Vec<(&str, &str)> = spans
        .iter()
        .map(|span| {
            (
                field(&span.fields, "handler"),
                field(&span.fields, "attempt"),
            )
        })
        .collect();
    assert_eq!(attempts, [("trace.stock", "1"), ("trace.stock", "2")]);
    let outcomes: Vec<&str> = spans
        .iter()
        .map(|span| field(&span.fields, "outcome"))
        .collect();
    assert_eq!(outcomes, ["error", "ok"]);
    assert!(
        spans.iter().all(|span| span.parent == Some("event")),
        "{spans:?}"
    );
}

#[test]
fn retry_logs_warning() {
    let bus = Bus::new();

    let (_, recording) = record(|| bus.emit(StockTraced));

    let warnings = recording.logs_at(Level::WARN);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let warning = &warnings[0];
    assert_eq!(warning.message(), "event handler failed; retrying");
    assert_eq!(field(&warning.fields, "event"), "StockTraced");
    assert_eq!(field(&warning.fields, "handler"), "trace.stock");
    assert_eq!(field(&warning.fields, "attempt"), "1");
    assert_eq!(field(&warning.fields, "max_attempts"), "3");
    assert_eq!(field(&warning.fields, "error"), "warehouse timeout");
    assert_eq!(warning.spans, ["handler", "event"]);
    assert!(recording.logs_at(Level::ERROR).is_empty());
}

#[derive(Event, Serialize, Deserialize)]
struct PaymentTraced;

#[on(PaymentTraced, name = "trace.payment")]
async fn trace_payment(_: &PaymentTraced) {
    tokio::task::yield_now().await;
    tracing::info!("inside the async handler");
}

#[test]
fn async_handler_runs_in_handler_span() {
    let bus = Bus::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();

    let (report, recording) = record(|| runtime.block_on(bus.emit_async(PaymentTraced)));

    assert!(report.is_ok(), "{report}");
    let spans = recording.spans_named("handler");
    assert_eq!(spans.len(), 1, "{spans:?}");
    assert_eq!(field(&spans[0].fields, "handler"), "trace.payment");
    assert_eq!(field(&spans[0].fields, "attempt"), "1");
    assert_eq!(field(&spans[0].fields, "outcome"), "ok");
    assert_eq!(spans[0].parent, Some("event"));
    let inside = recording.logs_at(Level::INFO);
    assert_eq!(inside.len(), 1);
    assert_eq!(inside[0].spans, ["handler", "event"]);
}

// Final failures.

#[derive(Event, Serialize, Deserialize)]
struct InvoiceTraced;

#[on(InvoiceTraced, name = "trace.invoice", attempts = 2)]
fn trace_invoice(_: &InvoiceTraced) -> Result<(), String> {
    Err("ERP unreachable".into())
}

#[test]
fn dead_letter_logs_error() {
    let bus = Bus::new();
    let envelope = Envelope::new(InvoiceTraced).with_id("invoice-traced-1");

    let (_, recording) = record(|| bus.emit_envelope(envelope));

    assert_eq!(recording.logs_at(Level::WARN).len(), 1);
    let errors = recording.logs_at(Level::ERROR);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let error = &errors[0];
    assert_eq!(
        error.message(),
        "event handler failed; the event is kept in the dead-letter store"
    );
    assert_eq!(field(&error.fields, "event"), "InvoiceTraced");
    assert_eq!(field(&error.fields, "id"), "invoice-traced-1");
    assert_eq!(field(&error.fields, "handler"), "trace.invoice");
    assert_eq!(field(&error.fields, "attempts"), "2");
    assert_eq!(field(&error.fields, "error"), "ERP unreachable");
    assert_eq!(bus.dead_letters().list().unwrap().len(), 1);
}

#[derive(Event, Serialize, Deserialize)]
struct AuditTraced;

#[on(AuditTraced, name = "trace.audit", on_failure = "log")]
fn trace_audit(_: &AuditTraced) -> Result<(), String> {
    Err("audit disk full".into())
}

#[test]
fn log_policy_logs_error() {
    let bus = Bus::new();

    let (_, recording) = record(|| bus.emit(AuditTraced));

    let errors = recording.logs_at(Level::ERROR);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].message(), "event handler failed");
    assert_eq!(field(&errors[0].fields, "handler"), "trace.audit");
    assert_eq!(field(&errors[0].fields, "error"), "audit disk full");
}

#[derive(Event, Serialize, Deserialize)]
struct ExportTraced;

#[on(ExportTraced, name = "trace.export", timeout = "10ms")]
async fn trace_export(_: &ExportTraced) {
    std::future::pending::<()>().await;
}

#[test]
fn async_timeout_logs_error() {
    let bus = Bus::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();

    let (_, recording) = record(|| runtime.block_on(bus.emit_async(ExportTraced)));

    let errors = recording.logs_at(Level::ERROR);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(field(&errors[0].fields, "handler"), "trace.export");
    assert_eq!(
        field(&errors[0].fields, "error"),
        format!("timed out after {:?}", Duration::from_millis(10))
    );
}

// Events the bus rejects.

#[derive(Event, Serialize, Deserialize)]
struct CartTraced;

#[on(CartTraced)]
fn trace_cart(_: &CartTraced) {}

#[test]
fn shutdown_rejection_logs_error() {
    let bus = Bus::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(bus.shutdown(Duration::ZERO));

    let (report, recording) = record(|| bus.emit(CartTraced));

    assert!(report.rejected().is_some());
    let errors = recording.logs_at(Level::ERROR);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        errors[0].message(),
        "event emitted after the bus was shut down; it is kept in the dead-letter store"
    );
    assert_eq!(field(&errors[0].fields, "event"), "CartTraced");
    assert!(recording.spans_named("event").is_empty());
}

#[derive(Event, Serialize, Deserialize)]
struct UploadTraced;

#[on(UploadTraced, name = "trace.upload")]
async fn trace_upload(_: &UploadTraced) {
    std::future::pending::<()>().await;
}

#[test]
fn shutdown_cancellation_logs_error() {
    let bus = Bus::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();

    let ((report, id), recording) = record(|| {
        runtime.block_on(async {
            let detached = bus.emit_detached(UploadTraced).unwrap();
            let id = detached.id().to_string();
            // The handler never finishes, so a zero timeout cancels it.
            (bus.shutdown(Duration::ZERO).await, id)
        })
    });

    assert_eq!(report.still_running().len(), 1, "{report}");
    let errors = recording.logs_at(Level::ERROR);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let error = &errors[0];
    assert_eq!(
        error.message(),
        "detached event cancelled at shutdown; the event is kept in the dead-letter store"
    );
    assert_eq!(field(&error.fields, "event"), "UploadTraced");
    assert_eq!(field(&error.fields, "id"), id);
    // The event starts its own chain, so its correlation id is its id.
    assert_eq!(field(&error.fields, "correlation_id"), id);
    assert_eq!(field(&error.fields, "timeout"), "0ns");
    assert_eq!(
        field(&error.fields, "error"),
        "still running when the shutdown timed out"
    );
    assert_eq!(bus.dead_letters().list().unwrap().len(), 1);
}

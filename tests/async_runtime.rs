//! The bus on a tokio runtime: time limits of `async` handlers, concurrent
//! and sequential handlers, `emit_detached`, `shutdown` and what the bus
//! does with events emitted after it, and `redispatch_async`.
//!
//! Tests run in parallel, so each test emits its own event types and
//! records into its own statics.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use events::dead_letter::DeadLetterReason;
use events::policy::Concurrency;
use events::{on, Bus, Context, Event, HandlerError, Rejection};
use serde::{Deserialize, Serialize};
use tokio::sync::{Barrier, Notify};

/// The maximum time a test waits for work that should finish at once, so
/// that a bug fails the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(10);

fn calls(counter: &AtomicU32) -> u32 {
    counter.load(Ordering::SeqCst)
}

/// Counts a call and returns its number, from 1.
fn count(counter: &AtomicU32) -> u32 {
    counter.fetch_add(1, Ordering::SeqCst) + 1
}

fn record(log: &Mutex<Vec<&'static str>>, entry: &'static str) {
    log.lock().unwrap().push(entry);
}

fn entries(log: &Mutex<Vec<&'static str>>) -> Vec<&'static str> {
    log.lock().unwrap().clone()
}

// Time limits.

#[derive(Event, Serialize, Deserialize)]
struct ReportGenerated;

static REPORT_FINISHED: AtomicBool = AtomicBool::new(false);

#[on(ReportGenerated, name = "report.generate", timeout = "50ms")]
async fn generate_report(_: &ReportGenerated) {
    tokio::time::sleep(Duration::from_secs(60)).await;
    REPORT_FINISHED.store(true, Ordering::SeqCst);
}

#[tokio::test]
async fn timeout_cancels_async_handler() {
    let bus = Bus::new();

    let report = bus.emit_async(ReportGenerated).await;

    assert_eq!(report.handlers_run(), 1);
    let failure = &report.failures()[0];
    assert_eq!(failure.handler(), "report.generate");
    assert_eq!(
        failure.error(),
        &HandlerError::TimedOut(Duration::from_millis(50))
    );
    assert_eq!(failure.attempts(), 1);
    assert!(!REPORT_FINISHED.load(Ordering::SeqCst));
    let letter = bus
        .dead_letters()
        .get(failure.dead_letter().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(letter.error(), "timed out after 50ms");
    assert_eq!(letter.reason(), DeadLetterReason::HandlerFailed);
}

#[derive(Event, Serialize, Deserialize)]
struct ExportStarted;

static EXPORT_CALLS: AtomicU32 = AtomicU32::new(0);

#[on(ExportStarted, attempts = 2, timeout = "20ms")]
async fn start_export(_: &ExportStarted) {
    if count(&EXPORT_CALLS) == 1 {
        std::future::pending::<()>().await;
    }
}

#[tokio::test]
async fn timed_out_attempt_retried() {
    let bus = Bus::new();

    let report = tokio::time::timeout(PATIENCE, bus.emit_async(ExportStarted))
        .await
        .expect("the second attempt finishes at once");

    assert!(report.is_ok(), "{report}");
    assert_eq!(calls(&EXPORT_CALLS), 2);
}

#[derive(Event, Serialize, Deserialize)]
struct ImportStarted;

static IMPORT_LOG: Mutex<Vec<&str>> = Mutex::new(Vec::new());

#[on(ImportStarted, name = "import.bus_limit")]
async fn import_under_bus_limit(_: &ImportStarted) {
    tokio::time::sleep(Duration::from_secs(60)).await;
    record(&IMPORT_LOG, "bus limit finished");
}

#[on(ImportStarted, name = "import.own_limit", timeout = "10s")]
async fn import_under_own_limit(_: &ImportStarted) {
    tokio::time::sleep(Duration::from_millis(40)).await;
    record(&IMPORT_LOG, "own limit finished");
}

#[tokio::test]
async fn bus_timeout_overridden_by_attribute() {
    let bus = Bus::builder()
        .timeout(Duration::from_millis(20))
        .build()
        .unwrap();

    let report = bus.emit_async(ImportStarted).await;

    assert_eq!(entries(&IMPORT_LOG), ["own limit finished"]);
    assert_eq!(report.failures().len(), 1);
    assert_eq!(report.failures()[0].handler(), "import.bus_limit");
    assert_eq!(
        report.failures()[0].error(),
        &HandlerError::TimedOut(Duration::from_millis(20))
    );
}

// Concurrent and sequential handlers.

#[derive(Event, Serialize, Deserialize)]
struct BatchStarted;

static BATCH_BARRIER: OnceLock<Barrier> = OnceLock::new();
static BATCH_LOG: Mutex<Vec<&str>> = Mutex::new(Vec::new());

fn batch_barrier() -> &'static Barrier {
    BATCH_BARRIER.get_or_init(|| Barrier::new(2))
}

#[on(BatchStarted, name = "batch.left", priority = 2, concurrent)]
async fn batch_left(_: &BatchStarted) {
    record(&BATCH_LOG, "left waiting");
    batch_barrier().wait().await;
    record(&BATCH_LOG, "left done");
}

#[on(BatchStarted, name = "batch.right", priority = 1, concurrent)]
async fn batch_right(_: &BatchStarted) {
    record(&BATCH_LOG, "right waiting");
    batch_barrier().wait().await;
    record(&BATCH_LOG, "right done");
}

#[on(BatchStarted, name = "batch.summary")]
async fn batch_summary(_: &BatchStarted) {
    record(&BATCH_LOG, "summary");
}

#[tokio::test]
async fn concurrent_handlers_overlap() {
    let bus = Bus::new();

    // Each handler waits for the other at the barrier, so run one at a time
    // they would wait forever.
    let report = tokio::time::timeout(PATIENCE, bus.emit_async(BatchStarted))
        .await
        .expect("concurrent handlers run together");

    assert!(report.is_ok(), "{report}");
    assert_eq!(report.handlers_run(), 3);
    let log = entries(&BATCH_LOG);
    assert_eq!(log[..2], ["left waiting", "right waiting"]);
    // The sequential handler after the group starts when both have finished.
    assert_eq!(log.last(), Some(&"summary"));
    assert_eq!(log.len(), 5);
}

#[derive(Event, Serialize, Deserialize)]
struct SyncBatchStarted;

static SYNC_BATCH_BARRIER: OnceLock<Barrier> = OnceLock::new();

fn sync_batch_barrier() -> &'static Barrier {
    SYNC_BATCH_BARRIER.get_or_init(|| Barrier::new(2))
}

#[on(SyncBatchStarted)]
async fn sync_batch_first(_: &SyncBatchStarted) {
    sync_batch_barrier().wait().await;
}

#[on(SyncBatchStarted)]
async fn sync_batch_second(_: &SyncBatchStarted) {
    sync_batch_barrier().wait().await;
}

#[tokio::test]
async fn bus_concurrency_makes_handlers_overlap() {
    let bus = Bus::builder()
        .concurrency(Concurrency::Concurrent)
        .build()
        .unwrap();

    let report = tokio::time::timeout(PATIENCE, bus.emit_async(SyncBatchStarted))
        .await
        .expect("handlers run together under a concurrent bus");

    assert!(report.is_ok(), "{report}");
    assert_eq!(report.handlers_run(), 2);
}

#[derive(Event, Serialize, Deserialize)]
struct MigrationStep;

static MIGRATION_LOG: Mutex<Vec<&str>> = Mutex::new(Vec::new());

#[on(MigrationStep, name = "migration.schema", priority = 1)]
async fn migrate_schema(_: &MigrationStep) {
    record(&MIGRATION_LOG, "schema start");
    tokio::time::sleep(Duration::from_millis(5)).await;
    record(&MIGRATION_LOG, "schema end");
}

#[on(MigrationStep, name = "migration.data")]
async fn migrate_data(_: &MigrationStep) {
    record(&MIGRATION_LOG, "data start");
    tokio::task::yield_now().await;
    record(&MIGRATION_LOG, "data end");
}

#[tokio::test]
async fn async_handlers_sequential_by_default() {
    let bus = Bus::new();

    let report = bus.emit_async(MigrationStep).await;

    assert!(report.is_ok(), "{report}");
    assert_eq!(
        entries(&MIGRATION_LOG),
        ["schema start", "schema end", "data start", "data end"]
    );
}

// Detached emits and shutdown.

#[derive(Event, Serialize, Deserialize)]
struct ThumbnailQueued;

#[derive(Event, Serialize, Deserialize)]
struct CrawlQueued;

#[derive(Event, Serialize, Deserialize)]
struct StreamOpened {
    stream_id: u64,
}

static THUMBNAILS_DONE: AtomicU32 = AtomicU32::new(0);

#[on(ThumbnailQueued)]
async fn make_thumbnail(_: &ThumbnailQueued) {
    tokio::time::sleep(Duration::from_millis(5)).await;
    count(&THUMBNAILS_DONE);
}

#[on(CrawlQueued, name = "crawl.fetch")]
async fn crawl(_: &CrawlQueued) -> Result<(), String> {
    tokio::task::yield_now().await;
    Err("robots.txt forbids the crawl".into())
}

#[on(StreamOpened)]
async fn follow_stream(_: &StreamOpened) {
    std::future::pending::<()>().await;
}

#[tokio::test]
async fn shutdown_reports_finished_failed_and_running() {
    let bus = Bus::new();
    let first = bus.emit_detached(ThumbnailQueued).unwrap();
    bus.emit_detached(ThumbnailQueued).unwrap();
    bus.emit_detached(CrawlQueued).unwrap();
    let stream = bus.emit_detached(StreamOpened { stream_id: 77 }).unwrap();
    let stream_id = stream.id().clone();

    let report = bus.shutdown(Duration::from_millis(500)).await;

    assert_eq!(calls(&THUMBNAILS_DONE), 2);
    assert_eq!(report.finished(), 3);
    assert!(!report.is_clean());
    assert_eq!(report.failed().len(), 1);
    assert_eq!(report.failed()[0].event(), "CrawlQueued");
    assert_eq!(report.failed()[0].failures()[0].handler(), "crawl.fetch");

    assert_eq!(report.still_running().len(), 1);
    let running = &report.still_running()[0];
    assert_eq!(running.event(), "StreamOpened");
    assert_eq!(running.id(), &stream_id);
    let letter_id = running.dead_letter().expect("the cancelled event is kept");
    let letter = bus.dead_letters().get(letter_id).unwrap().unwrap();
    assert_eq!(letter.reason(), DeadLetterReason::Cancelled);
    assert_eq!(letter.event_name(), "StreamOpened");
    assert_eq!(letter.event_id(), stream_id.to_string());
    assert_eq!(letter.handler(), None);
    assert_eq!(letter.error(), "still running when the shutdown timed out");
    let decoded = events::decode(letter.event()).unwrap();
    assert_eq!(decoded.payload::<StreamOpened>().unwrap().stream_id, 77);

    assert!(report.to_string().starts_with(
        "shutdown: 3 detached event(s) finished, 1 failed, 1 still running\n  - `StreamOpened` "
    ));
    assert!(first.report().await.unwrap().is_ok());
    assert!(stream.report().await.is_none(), "the task was cancelled");
}

#[tokio::test]
async fn shutdown_without_work_is_clean() {
    let bus = Bus::new();
    assert!(!bus.is_shut_down());

    let report = bus.shutdown(Duration::from_secs(1)).await;

    assert!(bus.is_shut_down());
    assert!(report.is_clean());
    assert_eq!(report.finished(), 0);
    assert_eq!(
        report.to_string(),
        "shutdown: 0 detached event(s) finished, 0 failed, 0 still running"
    );
}

#[derive(Event, Serialize, Deserialize)]
struct PingQueued;

#[on(PingQueued)]
async fn answer_ping(_: &PingQueued) {}

/// Emits detached events on one thread while another shuts the bus down.
/// Every emit that `emit_detached` accepts must be counted in the shutdown
/// report, whichever side wins the race. `failed()` is a subset of
/// `finished()`, so the events accepted are `finished` plus `still_running`.
#[test]
fn shutdown_reports_every_accepted_emit() {
    // The race window is a few instructions wide, so one round rarely hits it.
    const ROUNDS: usize = 300;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();

    for round in 0..ROUNDS {
        let bus = Bus::new();
        let started = Arc::new(std::sync::Barrier::new(2));
        let emitter = std::thread::spawn({
            let bus = bus.clone();
            let started = Arc::clone(&started);
            let runtime = runtime.handle().clone();
            move || {
                let _in_runtime = runtime.enter();
                started.wait();
                let mut accepted = 0;
                while bus.emit_detached(PingQueued).is_ok() {
                    accepted += 1;
                }
                accepted
            }
        });

        started.wait();
        let report = runtime.block_on(bus.shutdown(PATIENCE));
        let accepted = emitter.join().unwrap();

        assert!(report.failed().is_empty(), "round {round}: {report}");
        assert_eq!(
            report.finished() + report.still_running().len(),
            accepted,
            "round {round}: {report}"
        );
    }
}

// Events emitted after shutdown began.

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
struct CartAbandoned {
    cart_id: u64,
}

static CART_CALLS: AtomicU32 = AtomicU32::new(0);

#[on(CartAbandoned)]
async fn remind_cart(_: &CartAbandoned) {
    count(&CART_CALLS);
}

#[tokio::test]
async fn emits_after_shutdown_rejected() {
    let bus = Bus::new();
    bus.shutdown(Duration::ZERO).await;

    let sync_report = bus.emit(CartAbandoned { cart_id: 1 });
    let async_report = bus.emit_async(CartAbandoned { cart_id: 2 }).await;
    let detached = bus.emit_detached(CartAbandoned { cart_id: 3 });

    assert_eq!(calls(&CART_CALLS), 0);
    for report in [&sync_report, &async_report] {
        assert_eq!(report.rejected(), Some(&Rejection::ShutDown));
        assert_eq!(report.handlers_run(), 0);
        assert_eq!(
            report.to_string(),
            "`CartAbandoned` rejected: the bus has been shut down; the event is kept in the dead-letter store"
        );
    }
    let error = detached.unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot emit `CartAbandoned`: the bus has been shut down"
    );
    assert_eq!(error.into_event(), CartAbandoned { cart_id: 3 });

    let letters = bus.dead_letters().list().unwrap();
    assert_eq!(letters.len(), 2);
    for ((_, letter), cart_id) in letters.iter().zip([1, 2]) {
        assert_eq!(letter.reason(), DeadLetterReason::ShutDown);
        assert_eq!(letter.handler(), None);
        assert_eq!(letter.error(), "emitted after the bus was shut down");
        let decoded = events::decode(letter.event()).unwrap();
        assert_eq!(decoded.payload::<CartAbandoned>().unwrap().cart_id, cart_id);
    }
}

#[derive(Event, Serialize, Deserialize)]
struct DrainStarted;

#[derive(Event, Serialize, Deserialize)]
struct DrainFinished;

static DRAIN_GATE: OnceLock<Notify> = OnceLock::new();
static DRAIN_LOG: Mutex<Vec<&str>> = Mutex::new(Vec::new());

fn drain_gate() -> &'static Notify {
    DRAIN_GATE.get_or_init(Notify::new)
}

#[on(DrainStarted)]
async fn start_drain(_: &DrainStarted, cx: Context<'_>) -> Result<(), String> {
    drain_gate().notified().await;
    let report = cx.emit_async(DrainFinished).await;
    if report.is_ok() {
        Ok(())
    } else {
        Err(report.to_string())
    }
}

#[on(DrainFinished)]
async fn finish_drain(_: &DrainFinished) {
    record(&DRAIN_LOG, "finished");
}

#[tokio::test]
async fn shutdown_lets_running_handlers_emit_follow_ups() {
    let bus = Bus::new();
    let detached = bus.emit_detached(DrainStarted).unwrap();

    let release = async {
        // `shutdown` has begun by the time this runs, because `join!` polls
        // its futures in order.
        assert!(bus.is_shut_down());
        drain_gate().notify_one();
    };
    let (report, ()) = tokio::join!(bus.shutdown(PATIENCE), release);

    assert!(report.is_clean(), "{report}");
    assert_eq!(report.finished(), 1);
    assert_eq!(entries(&DRAIN_LOG), ["finished"]);
    assert!(detached.report().await.unwrap().is_ok());
}

// `redispatch_async`.

#[derive(Event, Serialize, Deserialize)]
struct SearchIndexed {
    document_id: u64,
}

static INDEX_UP: AtomicBool = AtomicBool::new(false);
static INDEX_CALLS: AtomicU32 = AtomicU32::new(0);

#[on(SearchIndexed, name = "search.index")]
async fn index_document(document: &SearchIndexed) -> Result<(), String> {
    count(&INDEX_CALLS);
    tokio::task::yield_now().await;
    if INDEX_UP.load(Ordering::SeqCst) {
        Ok(())
    } else {
        Err(format!(
            "index unreachable for document {}",
            document.document_id
        ))
    }
}

#[tokio::test]
async fn redispatch_async_after_fix_removes_letter() {
    let bus = Bus::new();
    let failed = bus.emit_async(SearchIndexed { document_id: 3 }).await;
    let id = failed.failures()[0].dead_letter().unwrap();

    INDEX_UP.store(true, Ordering::SeqCst);
    let report = bus.redispatch_async(id).await.unwrap();

    assert!(report.is_ok(), "{report}");
    assert_eq!(calls(&INDEX_CALLS), 2);
    assert!(bus.dead_letters().list().unwrap().is_empty());
}

#[derive(Event, Serialize, Deserialize)]
struct ParcelBooked {
    parcel_id: u64,
}

#[on(ParcelBooked, name = "carrier.book")]
async fn book_parcel(parcel: &ParcelBooked) -> Result<(), String> {
    Err(format!("carrier rejected parcel {}", parcel.parcel_id))
}

#[tokio::test]
async fn sync_redispatch_keeps_async_letter() {
    let bus = Bus::new();
    let report = bus.emit_async(ParcelBooked { parcel_id: 5 }).await;
    let id = report.failures()[0]
        .dead_letter()
        .expect("the failure is dead-lettered");

    let error = bus.redispatch(id).unwrap_err();

    assert!(matches!(error, events::RedispatchError::NeedsAsync { .. }));
    assert_eq!(
        error.to_string(),
        format!("dead letter {id} needs an `async` handler; redispatch it with `redispatch_async(..).await`")
    );
    assert_eq!(bus.dead_letters().list().unwrap().len(), 1);
    let again = bus.redispatch_async(id).await.unwrap();
    assert_eq!(
        again.failures()[0].error().to_string(),
        "carrier rejected parcel 5"
    );
}

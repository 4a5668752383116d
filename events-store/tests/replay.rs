//! Replaying stored events through the bus: order, paging, replay-only
//! handlers, undecodable rows and handler failures.
//!
//! Each test uses event types of its own, because every test binary's bus
//! reaches every registered handler and tests run in parallel.

use std::sync::Mutex;

use events::dead_letter::DeadLetterReason;
use events::{on, upcaster, Bus, Context, Envelope, Event};
use events_store::{
    replay, replay_async, Query, ReadFrom, Replay, ReplayOptions, SqliteStore, Step, Store,
    StoreError,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An order, for the ordering and paging test.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "replay.OrderPlaced")]
struct OrderPlaced {
    order_id: u64,
}

static PROJECTED_ORDERS: Mutex<Vec<u64>> = Mutex::new(Vec::new());

#[on(OrderPlaced)]
fn project_order(order: &OrderPlaced, cx: Context) {
    assert!(cx.is_replay(), "a replayed event must be marked as replay");
    PROJECTED_ORDERS.lock().unwrap().push(order.order_id);
}

#[on(OrderPlaced, replay = false)]
fn confirm_order(order: &OrderPlaced) {
    panic!("order {} was confirmed during a replay", order.order_id);
}

/// A stock movement, for the tests with undecodable rows.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "replay.StockMoved", version = 2)]
struct StockMoved {
    sku: String,
    quantity: i64,
}

/// Version 1 carried the quantity as text; text that is not a number
/// cannot be upgraded.
#[upcaster(name = "replay.StockMoved", from = 1)]
fn stock_moved_v1_to_v2(payload: Value) -> Result<Value, String> {
    let quantity = payload["quantity"]
        .as_str()
        .and_then(|text| text.parse::<i64>().ok())
        .ok_or_else(|| format!("quantity {} is not a number", payload["quantity"]))?;
    Ok(serde_json::json!({ "sku": payload["sku"], "quantity": quantity }))
}

static STOCK_MOVES: Mutex<Vec<(String, i64)>> = Mutex::new(Vec::new());

#[on(StockMoved)]
fn count_stock(moved: &StockMoved) {
    STOCK_MOVES
        .lock()
        .unwrap()
        .push((moved.sku.clone(), moved.quantity));
}

/// Returns the quantities handled for `sku`, which each test chooses
/// apart from the others.
fn stock_moves_of(sku: &str) -> Vec<i64> {
    let moves = STOCK_MOVES.lock().unwrap();
    moves
        .iter()
        .filter(|(moved, _)| moved == sku)
        .map(|(_, quantity)| *quantity)
        .collect()
}

/// A payment, for the handler failure test.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "replay.PaymentReceived")]
struct PaymentReceived {
    cents: u64,
}

#[on(PaymentReceived)]
fn book_payment(payment: &PaymentReceived) -> Result<(), String> {
    if payment.cents == 0 {
        return Err("a payment of 0 cents cannot be booked".into());
    }
    Ok(())
}

/// An invoice, for the async test.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "replay.InvoiceSent")]
struct InvoiceSent {
    invoice_id: u64,
}

static INVOICES: Mutex<Vec<u64>> = Mutex::new(Vec::new());

#[on(InvoiceSent)]
async fn archive_invoice(invoice: &InvoiceSent, cx: Context<'_>) {
    assert!(cx.is_replay());
    INVOICES.lock().unwrap().push(invoice.invoice_id);
}

/// A watched lesson, for the `replay_async` test of replay-only handlers.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "replay.LessonWatched")]
struct LessonWatched {
    lesson: u64,
}

static WATCHED_LESSONS: Mutex<Vec<u64>> = Mutex::new(Vec::new());
static NOTIFIED_LESSONS: Mutex<Vec<u64>> = Mutex::new(Vec::new());

#[on(LessonWatched)]
async fn track_progress(watched: &LessonWatched, cx: Context<'_>) {
    assert!(cx.is_replay(), "a replayed event must be marked as replay");
    tokio::task::yield_now().await;
    WATCHED_LESSONS.lock().unwrap().push(watched.lesson);
}

#[on(LessonWatched, replay = false)]
async fn notify_teacher(watched: &LessonWatched) {
    NOTIFIED_LESSONS.lock().unwrap().push(watched.lesson);
}

/// A graded quiz, for the `replay_async` stop test. A score above 100 fails.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "replay.QuizGraded")]
struct QuizGraded {
    score: u64,
}

#[on(QuizGraded)]
async fn record_grade(quiz: &QuizGraded) -> Result<(), String> {
    tokio::task::yield_now().await;
    if quiz.score > 100 {
        return Err(format!("score {} is above 100", quiz.score));
    }
    Ok(())
}

fn stock_moved(sku: &str, quantity: i64) -> Envelope<StockMoved> {
    Envelope::new(StockMoved {
        sku: sku.to_owned(),
        quantity,
    })
}

/// Stores one event of each undecodable kind between valid ones:
/// position 2 has an unknown name, 4 a failed upcast, 6 corrupt JSON.
fn store_with_undecodable_rows(path: &std::path::Path, sku: &str) -> SqliteStore {
    let mut store = SqliteStore::open(path).unwrap();
    let unknown = r#"{"specversion":"1.0","id":"u-1","source":"erp","type":"replay.VendorSynced"}"#;
    let version_1 = |id: &str, quantity: &str| {
        format!(
            r#"{{"specversion":"1.0","id":"{id}","source":"shop","type":"replay.StockMoved","dataversion":1,"data":{{"sku":"{sku}","quantity":"{quantity}"}}}}"#
        )
    };
    store.append(&[stock_moved(sku, 1)]).unwrap();
    store.append(&[unknown]).unwrap();
    store.append(&[version_1("s-1", "5")]).unwrap();
    store.append(&[version_1("s-2", "many")]).unwrap();
    store.append(&[stock_moved(sku, 2)]).unwrap();
    store.append(&[stock_moved(sku, 3)]).unwrap();
    store.append(&[stock_moved(sku, 4)]).unwrap();

    // The store checks JSON on append, so corrupt a stored row directly,
    // as a faulty tool or disk would.
    let connection = rusqlite::Connection::open(path).unwrap();
    connection
        .execute(
            "UPDATE events SET payload = CAST('{\"specversion\":' AS BLOB) WHERE position = 6",
            [],
        )
        .unwrap();
    store
}

#[test]
fn replay_dispatches_in_position_order_across_pages() {
    let mut store = SqliteStore::in_memory().unwrap();
    for order_id in 1..=7 {
        store
            .append(&[Envelope::new(OrderPlaced { order_id })])
            .unwrap();
    }

    let query = Query::from(ReadFrom::Start).page_size(2);
    let report = replay(&store, &Bus::new(), query, ReplayOptions::new()).unwrap();

    assert_eq!(*PROJECTED_ORDERS.lock().unwrap(), [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(report.read, 7);
    assert_eq!(report.dispatched, 7);
    assert_eq!(report.handler_failures, 0);
    assert_eq!(report.last_position, Some(7));
    assert!(!report.stopped);
    assert!(report.is_ok());
}

#[test]
fn replay_reports_and_dead_letters_undecodable_rows() {
    let directory = tempfile::tempdir().unwrap();
    let store = store_with_undecodable_rows(&directory.path().join("events.db"), "sku-report");
    let bus = Bus::new();

    let report = replay(&store, &bus, ReadFrom::Start, ReplayOptions::new()).unwrap();

    assert_eq!(report.read, 7);
    assert_eq!(report.dispatched, 4);
    assert_eq!(report.last_position, Some(7));
    assert!(!report.stopped);
    assert!(!report.is_ok());
    // Quantity 5 was upgraded from version 1.
    assert_eq!(stock_moves_of("sku-report"), [1, 5, 2, 4]);

    let positions: Vec<u64> = report.undecodable.iter().map(|row| row.position).collect();
    assert_eq!(positions, [2, 4, 6]);
    assert!(report.undecodable[0].error.contains("replay.VendorSynced"));
    assert!(report.undecodable[1]
        .error
        .contains("quantity \"many\" is not a number"));

    let letters = bus.dead_letters().list().unwrap();
    assert_eq!(letters.len(), 3);
    for ((id, letter), (row, position)) in
        letters.iter().zip(report.undecodable.iter().zip([2, 4, 6]))
    {
        assert_eq!(row.dead_letter, Some(*id));
        assert_eq!(letter.reason(), DeadLetterReason::Undecodable);
        assert_eq!(letter.handler(), None);
        assert_eq!(letter.attempts(), 0);
        let prefix = format!("undecodable stored event at position {position}: ");
        assert!(letter.error().starts_with(&prefix), "{}", letter.error());
    }
    assert_eq!(letters[0].1.event_name(), "replay.VendorSynced");
    assert_eq!(letters[1].1.event_version(), 1);
    assert_eq!(letters[2].1.event(), br#"{"specversion":"#);
}

#[test]
fn replay_stop_on_error_stops_early() {
    let directory = tempfile::tempdir().unwrap();
    let store = store_with_undecodable_rows(&directory.path().join("events.db"), "sku-stop");
    let bus = Bus::new();

    let options = ReplayOptions::new().stop_on_error(true);
    let report = replay(&store, &bus, ReadFrom::Start, options).unwrap();

    assert!(report.stopped);
    assert_eq!(report.read, 2);
    assert_eq!(report.dispatched, 1);
    assert_eq!(report.last_position, Some(2));
    assert_eq!(report.undecodable.len(), 1);
    assert_eq!(bus.dead_letters().list().unwrap().len(), 1);
    assert_eq!(stock_moves_of("sku-stop"), [1]);
}

#[test]
fn replay_counts_handler_failures_and_goes_on() {
    let mut store = SqliteStore::in_memory().unwrap();
    for cents in [500, 0, 700, 0, 900] {
        store
            .append(&[Envelope::new(PaymentReceived { cents })])
            .unwrap();
    }
    let bus = Bus::new();

    let report = replay(&store, &bus, ReadFrom::Start, ReplayOptions::new()).unwrap();

    assert_eq!(report.dispatched, 5);
    assert_eq!(report.handler_failures, 2);
    assert_eq!(report.failed_positions, [2, 4]);
    assert!(report.undecodable.is_empty());
    // The bus dead-letters the failed handlers itself.
    let letters = bus.dead_letters().list().unwrap();
    assert_eq!(letters.len(), 2);
    assert!(letters[0].1.handler().unwrap().ends_with("book_payment"));

    let options = ReplayOptions::new().stop_on_error(true);
    let stopped = replay(&store, &bus, ReadFrom::Start, options).unwrap();
    assert!(stopped.stopped);
    assert_eq!(stopped.last_position, Some(2));
}

#[test]
fn replay_from_position_with_filter() {
    let mut store = SqliteStore::in_memory().unwrap();
    store
        .append(&[Envelope::new(PaymentReceived { cents: 100 })])
        .unwrap();
    store.append(&[stock_moved("sku-filter", 10)]).unwrap();
    store
        .append(&[Envelope::new(PaymentReceived { cents: 200 })])
        .unwrap();
    store
        .append(&[Envelope::new(PaymentReceived { cents: 300 })])
        .unwrap();

    let query = Query::from(ReadFrom::Position(2)).name("replay.PaymentReceived");
    let report = replay(&store, &Bus::new(), query, ReplayOptions::new()).unwrap();

    assert_eq!(report.read, 2);
    assert_eq!(report.last_position, Some(4));
}

#[test]
fn replay_handles_invalid_rows_without_dead_letter() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("events.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store
        .append(&[Envelope::new(PaymentReceived { cents: 1 })])
        .unwrap();
    store
        .append(&[Envelope::new(PaymentReceived { cents: 2 })])
        .unwrap();
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection
        .execute("UPDATE events SET version = 'two' WHERE position = 1", [])
        .unwrap();
    let bus = Bus::new();

    let report = replay(&store, &bus, ReadFrom::Start, ReplayOptions::new()).unwrap();

    assert_eq!(report.read, 2);
    assert_eq!(report.dispatched, 1);
    assert_eq!(report.undecodable.len(), 1);
    assert_eq!(report.undecodable[0].position, 1);
    assert_eq!(report.undecodable[0].dead_letter, None);
    assert!(bus.dead_letters().list().unwrap().is_empty());
}

#[test]
fn replay_step_returns_store_errors() {
    let bus = Bus::new();
    let mut replay = Replay::new(ReplayOptions::new());
    let error = StoreError::UnsupportedSchema {
        location: "events.db".into(),
        found: 9,
        supported: 1,
    };

    let result = replay.handle(&bus, Err(error));

    assert!(matches!(result, Err(StoreError::UnsupportedSchema { .. })));
    assert_eq!(replay.report().read, 0);
}

#[tokio::test]
async fn replay_async_runs_async_handlers() {
    let mut store = SqliteStore::in_memory().unwrap();
    for invoice_id in [11, 12, 13] {
        store
            .append(&[Envelope::new(InvoiceSent { invoice_id })])
            .unwrap();
    }
    let page: Vec<_> = store.read(ReadFrom::Start).collect();
    let bus = Bus::new();

    let mut replay = Replay::new(ReplayOptions::new());
    for event in page {
        assert_eq!(
            replay.handle_async(&bus, event).await.unwrap(),
            Step::Continue
        );
    }

    assert_eq!(*INVOICES.lock().unwrap(), [11, 12, 13]);
    let report = replay.into_report();
    assert_eq!(report.dispatched, 3);
    assert!(report.is_ok());
}

#[tokio::test]
async fn replay_async_skips_replay_false_handlers() {
    let mut store = SqliteStore::in_memory().unwrap();
    for lesson in 1..=5 {
        store
            .append(&[Envelope::new(LessonWatched { lesson })])
            .unwrap();
    }

    let query = Query::from(ReadFrom::Start).page_size(2);
    let report = replay_async(&store, &Bus::new(), query, ReplayOptions::new())
        .await
        .unwrap();

    assert_eq!(*WATCHED_LESSONS.lock().unwrap(), [1, 2, 3, 4, 5]);
    assert!(NOTIFIED_LESSONS.lock().unwrap().is_empty());
    assert_eq!(report.read, 5);
    assert_eq!(report.dispatched, 5);
    assert_eq!(report.handler_failures, 0);
    assert_eq!(report.last_position, Some(5));
    assert!(!report.stopped);
    assert!(report.is_ok());
}

#[tokio::test]
async fn replay_async_stop_on_error_stops_early() {
    let mut store = SqliteStore::in_memory().unwrap();
    for score in [90, 120, 80] {
        store
            .append(&[Envelope::new(QuizGraded { score })])
            .unwrap();
    }
    let bus = Bus::new();

    let options = ReplayOptions::new().stop_on_error(true);
    let report = replay_async(&store, &bus, ReadFrom::Start, options)
        .await
        .unwrap();

    assert!(report.stopped);
    assert_eq!(report.read, 2);
    assert_eq!(report.handler_failures, 1);
    assert_eq!(report.failed_positions, [2]);
    assert_eq!(report.last_position, Some(2));
    let letters = bus.dead_letters().list().unwrap();
    assert_eq!(letters.len(), 1);
    assert!(letters[0].1.handler().unwrap().ends_with("record_grade"));
}

/// A certificate, whose handler is `async`, for the synchronous replay test.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "replay.CertificateIssued")]
struct CertificateIssued {
    student: u64,
}

#[on(CertificateIssued, name = "replay.mail_certificate")]
async fn mail_certificate(_: &CertificateIssued) {}

#[test]
fn sync_replay_stops_at_async_handler() {
    let mut store = SqliteStore::in_memory().unwrap();
    store
        .append(&[
            Envelope::new(CertificateIssued { student: 1 }),
            Envelope::new(CertificateIssued { student: 2 }),
        ])
        .unwrap();

    let error = replay(&store, &Bus::new(), ReadFrom::Start, ReplayOptions::new()).unwrap_err();

    // The event counts as not read, so a replay with the async form starts at it.
    assert_eq!(error.report().read, 0);
    assert_eq!(error.report().last_position, None);
    match error.store_error() {
        StoreError::NeedsAsync {
            position,
            event,
            handler,
        } => {
            assert_eq!(*position, 1);
            assert_eq!(event, "replay.CertificateIssued");
            assert_eq!(handler, "replay.mail_certificate");
        }
        other => panic!("expected NeedsAsync, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains("replay_async"), "{message}");
}

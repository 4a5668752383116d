//! The transactional outbox: rows and events commit or roll back together,
//! and the relay dispatches committed events once, in commit order, across
//! restarts.

use std::error::Error;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use events::{on, Bus, Envelope, Event};
use events_store::{
    CheckpointStore, ExpectedVersion, OutboxRelay, ReadFrom, SqliteCheckpoints, SqliteOutbox,
    SqliteStore, Store, StoreError,
};
use serde::{Deserialize, Serialize};

/// An order, appended in the same transaction as its row.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "outbox.OrderPlaced")]
struct OrderPlaced {
    order_id: u64,
}

static RELAYED: Mutex<Vec<u64>> = Mutex::new(Vec::new());

#[on(OrderPlaced)]
fn publish_order(order: &OrderPlaced) {
    RELAYED.lock().unwrap().push(order.order_id);
}

fn take_relayed() -> Vec<u64> {
    std::mem::take(&mut *RELAYED.lock().unwrap())
}

/// A captured payment, relayed to an `async` handler.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "outbox.PaymentCaptured")]
struct PaymentCaptured {
    payment_id: u64,
}

static PUBLISHED_PAYMENTS: Mutex<Vec<u64>> = Mutex::new(Vec::new());

#[on(PaymentCaptured)]
async fn publish_payment(payment: &PaymentCaptured) {
    tokio::task::yield_now().await;
    PUBLISHED_PAYMENTS.lock().unwrap().push(payment.payment_id);
}

/// Commits one payment row and its event in one outbox transaction.
fn capture_payment(outbox: &mut SqliteOutbox, payment_id: u64) {
    outbox
        .transaction(|tx| {
            tx.execute("INSERT INTO payments (id) VALUES (?1)", [payment_id as i64])?;
            tx.append(&[Envelope::new(PaymentCaptured { payment_id })])?;
            Ok::<_, Box<dyn Error>>(())
        })
        .unwrap();
}

/// Checkpoints that make the relay "crash" (panic outside any handler)
/// when asked to mark `crash_at` relayed, after the event there was
/// dispatched.
struct CrashingCheckpoints {
    inner: SqliteCheckpoints,
    crash_at: u64,
}

impl CheckpointStore for CrashingCheckpoints {
    fn load(&mut self, name: &str) -> Result<Option<u64>, StoreError> {
        self.inner.load(name)
    }

    fn save(&mut self, name: &str, position: u64) -> Result<(), StoreError> {
        if position == self.crash_at {
            panic!("simulated crash before marking position {position} relayed");
        }
        self.inner.save(name, position)
    }
}

fn open_shop(path: &std::path::Path) -> SqliteOutbox {
    let outbox = SqliteOutbox::open(path).unwrap();
    outbox
        .execute_batch("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY)")
        .unwrap();
    outbox
}

fn place_order(outbox: &mut SqliteOutbox, order_id: u64) {
    outbox
        .transaction(|tx| {
            tx.execute("INSERT INTO orders (id) VALUES (?1)", [order_id as i64])?;
            tx.append(&[Envelope::new(OrderPlaced { order_id })])?;
            Ok::<_, Box<dyn Error>>(())
        })
        .unwrap();
}

fn count_orders(outbox: &SqliteOutbox) -> i64 {
    outbox
        .query_row("SELECT COUNT(*) FROM orders", [], |row| row.get(0))
        .unwrap()
}

#[test]
fn outbox_relay_dispatches_after_crash_once_each() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("shop.db");
    let mut outbox = open_shop(&path);
    let store = SqliteStore::open(&path).unwrap();
    let bus = Bus::new();

    // Committed, then the process stops before any relay ran.
    place_order(&mut outbox, 101);
    place_order(&mut outbox, 102);
    let relay = OutboxRelay::new(SqliteCheckpoints::open(&path).unwrap()).unwrap();
    drop(relay);
    assert!(take_relayed().is_empty());

    // A new relay dispatches both, then crashes before marking the third.
    place_order(&mut outbox, 103);
    let checkpoints = CrashingCheckpoints {
        inner: SqliteCheckpoints::open(&path).unwrap(),
        crash_at: 3,
    };
    let mut relay = OutboxRelay::new(checkpoints).unwrap();
    let crash = catch_unwind(AssertUnwindSafe(|| relay.poll(&store, &bus)));
    assert!(crash.is_err());
    drop(relay);
    assert_eq!(take_relayed(), [101, 102, 103]);

    // After the restart, only the unmarked event is dispatched again.
    place_order(&mut outbox, 104);
    let mut relay = OutboxRelay::new(SqliteCheckpoints::open(&path).unwrap()).unwrap();
    assert_eq!(relay.relayed(), 2);
    let report = relay.poll(&store, &bus).unwrap();
    assert_eq!(take_relayed(), [103, 104]);
    assert_eq!(report.dispatched, 2);
    assert_eq!(relay.relayed(), 4);

    let again = relay.poll(&store, &bus).unwrap();
    assert_eq!(again.read, 0);
    assert!(take_relayed().is_empty());
    let mut checkpoints = SqliteCheckpoints::open(&path).unwrap();
    let relay_checkpoint = OutboxRelay::<SqliteCheckpoints>::CHECKPOINT;
    assert_eq!(checkpoints.load(relay_checkpoint).unwrap(), Some(4));
    assert_eq!(count_orders(&outbox), 4);
}

#[test]
fn outbox_rollback_stores_neither_row_nor_events() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("shop.db");
    let mut outbox = open_shop(&path);

    let failed = outbox.transaction(|tx| {
        tx.execute("INSERT INTO orders (id) VALUES (7)", [])?;
        tx.append(&[Envelope::new(OrderPlaced { order_id: 7 })])?;
        Err::<(), Box<dyn Error>>("payment declined".into())
    });
    assert_eq!(failed.unwrap_err().to_string(), "payment declined");

    let panicked = catch_unwind(AssertUnwindSafe(|| {
        outbox.transaction(|tx| {
            tx.execute("INSERT INTO orders (id) VALUES (8)", [])?;
            tx.append(&[Envelope::new(OrderPlaced { order_id: 8 })])?;
            panic!("the process crashes before the commit");
            #[allow(unreachable_code)]
            Ok::<(), Box<dyn Error>>(())
        })
    }));
    assert!(panicked.is_err());

    assert_eq!(count_orders(&outbox), 0);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.read(ReadFrom::Start).count(), 0);

    // The outbox still works after both rollbacks.
    place_order(&mut outbox, 9);
    assert_eq!(count_orders(&outbox), 1);
    assert_eq!(store.read(ReadFrom::Start).count(), 1);
}

#[test]
fn outbox_append_reports_duplicates_and_positions() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("shop.db");
    let mut outbox = open_shop(&path);
    let mut store = SqliteStore::open(&path).unwrap();
    let first = Envelope::new(OrderPlaced { order_id: 1 }).with_id("order-1");
    store.append(&[&first]).unwrap();

    let appended = outbox
        .transaction(|tx| {
            let second = Envelope::new(OrderPlaced { order_id: 2 });
            tx.append(&[&first, &second])
        })
        .unwrap();

    assert!(appended[0].duplicate);
    assert_eq!(appended[0].position, 1);
    assert!(!appended[1].duplicate);
    assert_eq!(appended[1].position, 2);
    assert_eq!(appended[1].stream_version, None);
    let stored = store.read(ReadFrom::Position(2)).next().unwrap().unwrap();
    assert_eq!(
        stored
            .decode()
            .unwrap()
            .payload::<OrderPlaced>()
            .unwrap()
            .order_id,
        2
    );
}

#[test]
fn outbox_append_rejects_invalid_event() {
    let directory = tempfile::tempdir().unwrap();
    let mut outbox = open_shop(&directory.path().join("shop.db"));

    let result = outbox.transaction(|tx| {
        tx.execute("INSERT INTO orders (id) VALUES (5)", [])?;
        tx.append(&[r#"{"specversion":"1.0","id":"1"}"#])?;
        Ok::<_, Box<dyn Error>>(())
    });

    let error = result.unwrap_err().downcast::<StoreError>().unwrap();
    assert!(matches!(*error, StoreError::InvalidEvent { index: 0, .. }));
    assert_eq!(count_orders(&outbox), 0);
}

#[tokio::test]
async fn outbox_relay_poll_async_relays_in_commit_order() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("shop.db");
    let mut checkout = SqliteOutbox::open(&path).unwrap();
    checkout
        .execute_batch("CREATE TABLE payments (id INTEGER PRIMARY KEY)")
        .unwrap();
    let mut terminal = SqliteOutbox::open(&path).unwrap();
    let store = SqliteStore::open(&path).unwrap();
    let bus = Bus::new();

    // Two connections commit in turn, with ids out of numeric order.
    capture_payment(&mut checkout, 30);
    capture_payment(&mut terminal, 10);
    capture_payment(&mut checkout, 20);
    let mut relay = OutboxRelay::new(SqliteCheckpoints::open(&path).unwrap()).unwrap();
    let report = relay.poll_async(&store, &bus).await.unwrap();

    assert_eq!(*PUBLISHED_PAYMENTS.lock().unwrap(), [30, 10, 20]);
    assert_eq!(report.dispatched, 3);
    assert!(report.is_ok());
    assert_eq!(relay.relayed(), 3);

    capture_payment(&mut terminal, 15);
    let report = relay.poll_async(&store, &bus).await.unwrap();
    assert_eq!(report.dispatched, 1);
    assert_eq!(*PUBLISHED_PAYMENTS.lock().unwrap(), [30, 10, 20, 15]);

    let again = relay.poll_async(&store, &bus).await.unwrap();
    assert_eq!(again.read, 0);
    let mut checkpoints = SqliteCheckpoints::open(&path).unwrap();
    let relay_checkpoint = OutboxRelay::<SqliteCheckpoints>::CHECKPOINT;
    assert_eq!(checkpoints.load(relay_checkpoint).unwrap(), Some(4));
}

#[test]
fn outbox_stream_conflict_rolls_back_row() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("shop.db");
    let mut outbox = open_shop(&path);
    let first = outbox
        .transaction(|tx| -> Result<_, Box<dyn Error>> {
            tx.execute("INSERT INTO orders (id) VALUES (7)", [])?;
            Ok(tx.append_to_stream(
                "order-7",
                ExpectedVersion::NoStream,
                &[Envelope::new(OrderPlaced { order_id: 7 })],
            )?)
        })
        .unwrap();
    assert_eq!(first[0].stream_version, Some(1));

    // A second writer that read the order before it existed loses, and
    // its row goes with its event.
    let conflict = outbox
        .transaction(|tx| -> Result<_, Box<dyn Error>> {
            tx.execute("INSERT INTO orders (id) VALUES (8)", [])?;
            Ok(tx.append_to_stream(
                "order-7",
                ExpectedVersion::NoStream,
                &[Envelope::new(OrderPlaced { order_id: 8 })],
            )?)
        })
        .unwrap_err()
        .downcast::<StoreError>()
        .unwrap();
    assert!(
        matches!(*conflict, StoreError::Conflict { actual: 1, .. }),
        "{conflict:?}"
    );
    assert_eq!(count_orders(&outbox), 1);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.stream_version("order-7").unwrap(), 1);
    assert_eq!(store.read(ReadFrom::Start).count(), 1);
}

//! Durable subscriptions: resuming from the checkpoint after a crash,
//! independent names, live delivery and following new appends.
//!
//! Each test uses event types of its own, because every test binary's bus
//! reaches every registered handler and tests run in parallel.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use events::{on, Bus, Context, Envelope, Event};
use events_store::{
    CheckpointStore, Query, ReadFrom, SqliteCheckpoints, SqliteStore, Store, StoreError,
    Subscription,
};
use serde::{Deserialize, Serialize};

/// A shipment, for the crash test.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "subscription.ParcelShipped")]
struct ParcelShipped {
    parcel: u64,
}

static SHIPPED: Mutex<Vec<u64>> = Mutex::new(Vec::new());

#[on(ParcelShipped)]
fn track_parcel(parcel: &ParcelShipped, cx: Context) {
    assert!(!cx.is_replay(), "a subscription delivers events as new");
    SHIPPED.lock().unwrap().push(parcel.parcel);
}

/// A sign-up, for the independent names test.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "subscription.UserSignedUp")]
struct UserSignedUp {
    user: u64,
}

static SIGNED_UP: Mutex<Vec<u64>> = Mutex::new(Vec::new());

#[on(UserSignedUp)]
fn welcome_user(user: &UserSignedUp) {
    SIGNED_UP.lock().unwrap().push(user.user);
}

/// A reading, for the follow test.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "subscription.MeterRead")]
struct MeterRead {
    kwh: u64,
}

static METER_READS: Mutex<Vec<u64>> = Mutex::new(Vec::new());

/// Runs for live events only; a subscription must reach it.
#[on(MeterRead, replay = false)]
fn bill_reading(reading: &MeterRead) {
    METER_READS.lock().unwrap().push(reading.kwh);
}

/// A ticket, for the async delivery test.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "subscription.TicketBooked")]
struct TicketBooked {
    ticket: u64,
}

static BOOKED: Mutex<Vec<u64>> = Mutex::new(Vec::new());

#[on(TicketBooked)]
async fn confirm_ticket(ticket: &TicketBooked, cx: Context<'_>) {
    assert!(!cx.is_replay(), "a subscription delivers events as new");
    tokio::task::yield_now().await;
    BOOKED.lock().unwrap().push(ticket.ticket);
}

/// A refund, for the async failure test. A refund of 0 cents fails.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "subscription.RefundIssued")]
struct RefundIssued {
    cents: u64,
}

#[on(RefundIssued)]
async fn pay_refund(refund: &RefundIssued) -> Result<(), String> {
    tokio::task::yield_now().await;
    if refund.cents == 0 {
        return Err("a refund of 0 cents cannot be paid".into());
    }
    Ok(())
}

/// A crate loaded on a truck, for the cancellation test.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "subscription.CrateLoaded")]
struct CrateLoaded {
    id: u64,
}

/// The crate whose handler waits forever, 0 for none.
static STUCK_CRATE: AtomicU64 = AtomicU64::new(0);
static LOADED: Mutex<Vec<u64>> = Mutex::new(Vec::new());

#[on(CrateLoaded)]
async fn record_crate(loaded: &CrateLoaded) {
    if loaded.id == STUCK_CRATE.load(Ordering::Relaxed) {
        std::future::pending::<()>().await;
    }
    LOADED.lock().unwrap().push(loaded.id);
}

/// A gauge reading, for the `run_async` follow test.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "subscription.GaugeRead")]
struct GaugeRead {
    kpa: u64,
}

static GAUGE_READS: Mutex<Vec<u64>> = Mutex::new(Vec::new());

/// Runs for live events only, so `run_async` must deliver readings as new.
#[on(GaugeRead, replay = false)]
async fn record_gauge(reading: &GaugeRead) {
    tokio::task::yield_now().await;
    GAUGE_READS.lock().unwrap().push(reading.kpa);
}

/// A delivery, for the `run_blocking` test.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "subscription.DeliveryMade")]
struct DeliveryMade {
    delivery: u64,
}

static DELIVERED: Mutex<Vec<u64>> = Mutex::new(Vec::new());

#[on(DeliveryMade)]
async fn record_delivery(delivery: &DeliveryMade, cx: Context<'_>) {
    assert!(!cx.is_replay(), "a subscription delivers events as new");
    tokio::task::yield_now().await;
    DELIVERED.lock().unwrap().push(delivery.delivery);
}

/// A seat, whose handler is `async`, for the synchronous poll test.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "subscription.SeatReserved")]
struct SeatReserved {
    seat: u64,
}

static RESERVED: Mutex<Vec<u64>> = Mutex::new(Vec::new());

#[on(SeatReserved, name = "subscription.hold_seat")]
async fn hold_seat(seat: &SeatReserved) {
    RESERVED.lock().unwrap().push(seat.seat);
}

/// Checkpoints that make the process "crash" (panic outside any handler)
/// when asked to save `crash_at`, after the event there was handled.
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
            panic!("simulated crash before saving checkpoint {position}");
        }
        self.inner.save(name, position)
    }
}

fn take(log: &Mutex<Vec<u64>>) -> Vec<u64> {
    std::mem::take(&mut *log.lock().unwrap())
}

#[test]
fn subscription_resumes_from_checkpoint_after_crash() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("events.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let bus = Bus::new();
    let ship = |parcel| Envelope::new(ParcelShipped { parcel });
    store.append(&[ship(1), ship(2), ship(3)]).unwrap();

    let checkpoints = CrashingCheckpoints {
        inner: SqliteCheckpoints::open(&path).unwrap(),
        crash_at: 4,
    };
    let mut subscription = Subscription::new("tracking", checkpoints).unwrap();
    let report = subscription.poll(&store, &bus).unwrap();
    assert_eq!(report.dispatched, 3);
    assert_eq!(take(&SHIPPED), [1, 2, 3]);

    store.append(&[ship(4), ship(5), ship(6)]).unwrap();
    let crash = catch_unwind(AssertUnwindSafe(|| subscription.poll(&store, &bus)));
    assert!(
        crash.is_err(),
        "the checkpoint write of position 4 must crash"
    );
    drop(subscription);
    assert_eq!(take(&SHIPPED), [4], "event 4 was handled before the crash");

    let mut checkpoints = SqliteCheckpoints::open(&path).unwrap();
    assert_eq!(checkpoints.load("tracking").unwrap(), Some(3));
    let mut restarted = Subscription::new("tracking", checkpoints).unwrap();
    assert_eq!(restarted.position(), 3);
    let report = restarted.poll(&store, &bus).unwrap();

    assert_eq!(
        take(&SHIPPED),
        [4, 5, 6],
        "redelivery starts right after the checkpoint"
    );
    assert_eq!(report.dispatched, 3);
    assert_eq!(report.last_position, Some(6));
    assert_eq!(restarted.checkpoints().load("tracking").unwrap(), Some(6));

    let idle = restarted.poll(&store, &bus).unwrap();
    assert_eq!(idle.read, 0);
    assert!(take(&SHIPPED).is_empty());
}

#[test]
fn subscription_names_keep_independent_checkpoints() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("events.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let bus = Bus::new();
    let sign_up = |user| Envelope::new(UserSignedUp { user });
    store.append(&[sign_up(1), sign_up(2)]).unwrap();

    let mut mailer = Subscription::new("mailer", SqliteCheckpoints::open(&path).unwrap()).unwrap();
    mailer.poll(&store, &bus).unwrap();
    assert_eq!(take(&SIGNED_UP), [1, 2]);

    store.append(&[sign_up(3)]).unwrap();
    let mut crm = Subscription::new("crm", SqliteCheckpoints::open(&path).unwrap()).unwrap();
    assert_eq!(crm.position(), 0);
    crm.poll(&store, &bus).unwrap();
    assert_eq!(take(&SIGNED_UP), [1, 2, 3]);

    mailer.poll(&store, &bus).unwrap();
    assert_eq!(take(&SIGNED_UP), [3]);

    let mut checkpoints = SqliteCheckpoints::open(&path).unwrap();
    assert_eq!(checkpoints.load("mailer").unwrap(), Some(3));
    assert_eq!(checkpoints.load("crm").unwrap(), Some(3));
    assert_eq!(checkpoints.load("billing").unwrap(), None);
}

#[test]
fn subscription_checkpoint_every_batches_saves() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("events.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let unknown = r#"{"specversion":"1.0","id":"x","source":"erp","type":"subscription.Unknown"}"#;
    let events: Vec<String> = (0..5)
        .map(|i| unknown.replace("\"x\"", &format!("\"x{i}\"")))
        .collect();
    store.append(&events).unwrap();
    let bus = Bus::new();

    let checkpoints = CrashingCheckpoints {
        inner: SqliteCheckpoints::open(&path).unwrap(),
        crash_at: 4,
    };
    let mut subscription = Subscription::new("batched", checkpoints)
        .unwrap()
        .checkpoint_every(2);
    let crash = catch_unwind(AssertUnwindSafe(|| subscription.poll(&store, &bus)));
    assert!(crash.is_err());

    // Saved after 2 events; the save after 4 crashed.
    let mut checkpoints = SqliteCheckpoints::open(&path).unwrap();
    assert_eq!(checkpoints.load("batched").unwrap(), Some(2));
    // Undecodable events are dead-lettered and count as handled.
    assert_eq!(bus.dead_letters().list().unwrap().len(), 4);
}

#[test]
fn subscription_filter_skips_other_events() {
    let mut store = SqliteStore::in_memory().unwrap();
    let foreign =
        br#"{"specversion":"1.0","id":"f-1","source":"erp","type":"subscription.Foreign"}"#;
    store.append(&[&foreign[..]]).unwrap();
    let bus = Bus::new();

    let query = Query::from(ReadFrom::Start).name("subscription.ParcelShipped");
    let mut subscription = Subscription::new("filtered", SqliteCheckpoints::in_memory().unwrap())
        .unwrap()
        .filter(query);
    let report = subscription.poll(&store, &bus).unwrap();

    assert_eq!(report.read, 0);
    assert!(bus.dead_letters().list().unwrap().is_empty());
}

#[test]
fn subscription_run_follows_new_appends() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("events.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store
        .append(&[Envelope::new(MeterRead { kwh: 10 })])
        .unwrap();
    let stop = AtomicBool::new(false);

    std::thread::scope(|scope| {
        let follower = scope.spawn(|| {
            let store = SqliteStore::open(&path).unwrap();
            let checkpoints = SqliteCheckpoints::open(&path).unwrap();
            let mut subscription = Subscription::new("billing", checkpoints).unwrap();
            subscription
                .run(&store, &Bus::new(), Duration::from_millis(5), &stop)
                .unwrap();
            subscription.position()
        });

        store
            .append(&[Envelope::new(MeterRead { kwh: 20 })])
            .unwrap();
        store
            .append(&[Envelope::new(MeterRead { kwh: 30 })])
            .unwrap();
        // Stops the follower however this thread leaves the scope, so that
        // a failed assertion ends the test instead of waiting for it.
        let stop_guard = StopOnDrop(&stop);
        let mut checkpoints = SqliteCheckpoints::open(&path).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while checkpoints.load("billing").unwrap() != Some(3) {
            assert!(
                Instant::now() < deadline,
                "the follower did not reach position 3"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(stop_guard);
        assert_eq!(follower.join().unwrap(), 3);
    });

    assert_eq!(*METER_READS.lock().unwrap(), [10, 20, 30]);
}

/// Sets the flag when dropped, also while a panic unwinds.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[tokio::test]
async fn subscription_poll_async_runs_async_handlers() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("events.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let book = |ticket| Envelope::new(TicketBooked { ticket });
    store.append(&[book(1), book(2), book(3)]).unwrap();
    let bus = Bus::new();

    let checkpoints = SqliteCheckpoints::open(&path).unwrap();
    let mut subscription = Subscription::new("tickets", checkpoints).unwrap();
    let report = subscription.poll_async(&store, &bus).await.unwrap();

    assert_eq!(take(&BOOKED), [1, 2, 3]);
    assert_eq!(report.dispatched, 3);
    assert_eq!(report.handler_failures, 0);
    assert!(report.is_ok());
    assert_eq!(subscription.position(), 3);
    let mut checkpoints = SqliteCheckpoints::open(&path).unwrap();
    assert_eq!(checkpoints.load("tickets").unwrap(), Some(3));

    store.append(&[book(4)]).unwrap();
    let report = subscription.poll_async(&store, &bus).await.unwrap();
    assert_eq!(report.read, 1);
    assert_eq!(take(&BOOKED), [4]);
    let idle = subscription.poll_async(&store, &bus).await.unwrap();
    assert_eq!(idle.read, 0);
    assert!(take(&BOOKED).is_empty());
}

#[tokio::test]
async fn subscription_poll_async_checkpoints_past_failed_handlers() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("events.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let refund = |cents| Envelope::new(RefundIssued { cents });
    store
        .append(&[refund(500), refund(0), refund(700)])
        .unwrap();
    let bus = Bus::new();

    let checkpoints = SqliteCheckpoints::open(&path).unwrap();
    let mut subscription = Subscription::new("refunds", checkpoints).unwrap();
    let report = subscription.poll_async(&store, &bus).await.unwrap();

    assert_eq!(report.dispatched, 3);
    assert_eq!(report.handler_failures, 1);
    assert_eq!(report.failed_positions, [2]);
    // The failed handler finished: the bus dead-lettered it, so the
    // checkpoint moves past its event.
    let letters = bus.dead_letters().list().unwrap();
    assert_eq!(letters.len(), 1);
    assert!(letters[0].1.handler().unwrap().ends_with("pay_refund"));
    assert_eq!(subscription.position(), 3);
    let mut checkpoints = SqliteCheckpoints::open(&path).unwrap();
    assert_eq!(checkpoints.load("refunds").unwrap(), Some(3));
}

#[tokio::test]
async fn subscription_poll_async_cancelled_keeps_unfinished_event() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("events.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let load = |id| Envelope::new(CrateLoaded { id });
    store.append(&[load(1), load(2), load(3)]).unwrap();
    let bus = Bus::new();
    STUCK_CRATE.store(2, Ordering::Relaxed);

    let checkpoints = SqliteCheckpoints::open(&path).unwrap();
    let mut subscription = Subscription::new("loading", checkpoints).unwrap();
    let cancelled = tokio::time::timeout(
        Duration::from_millis(200),
        subscription.poll_async(&store, &bus),
    )
    .await;

    assert!(
        cancelled.is_err(),
        "the handler of crate 2 never finishes, so the poll must time out"
    );
    assert_eq!(take(&LOADED), [1]);
    assert_eq!(subscription.position(), 1);
    let mut checkpoints = SqliteCheckpoints::open(&path).unwrap();
    assert_eq!(checkpoints.load("loading").unwrap(), Some(1));

    // The next poll delivers the cancelled event again.
    STUCK_CRATE.store(0, Ordering::Relaxed);
    let report = subscription.poll_async(&store, &bus).await.unwrap();
    assert_eq!(take(&LOADED), [2, 3]);
    assert_eq!(report.dispatched, 2);
    assert_eq!(subscription.position(), 3);
    assert_eq!(checkpoints.load("loading").unwrap(), Some(3));
}

#[test]
fn subscription_run_async_follows_new_appends() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("events.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store
        .append(&[Envelope::new(GaugeRead { kpa: 1 })])
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));

    // The runtime gets a thread of its own, so that a `run_async` that
    // blocks its thread fails this test at the deadline below instead of
    // hanging it.
    let scenario = {
        let path = path.clone();
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap();
            runtime.block_on(follow_gauge_reads(path, &stop))
        })
    };
    let stop_guard = StopOnDrop(&stop);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !scenario.is_finished() {
        assert!(
            Instant::now() < deadline,
            "run_async did not return within 30 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(stop_guard);

    let position = scenario.join().unwrap_or_else(|panic| resume_unwind(panic));
    assert_eq!(position, 3);
    assert_eq!(*GAUGE_READS.lock().unwrap(), [1, 2, 3]);
}

/// Runs the subscription "gauges" with `run_async` while another task on
/// the same runtime appends gauge readings 2 and 3, and stops it once its
/// checkpoint reaches position 3. Returns the final position.
///
/// The appends can only happen while `run_async` sleeps with tokio, since
/// the runtime has one thread.
async fn follow_gauge_reads(path: PathBuf, stop: &AtomicBool) -> u64 {
    let store = SqliteStore::open(&path).unwrap();
    let checkpoints = SqliteCheckpoints::open(&path).unwrap();
    let mut subscription = Subscription::new("gauges", checkpoints).unwrap();
    let bus = Bus::new();

    let appender_path = path.clone();
    let appender = tokio::spawn(async move {
        let mut store = SqliteStore::open(&appender_path).unwrap();
        for kpa in [2, 3] {
            tokio::time::sleep(Duration::from_millis(20)).await;
            store.append(&[Envelope::new(GaugeRead { kpa })]).unwrap();
        }
    });

    let follow = subscription.run_async(&store, &bus, Duration::from_millis(5), stop);
    let watch = async {
        // Stops the subscription however this future ends, so that a
        // timeout ends the test instead of leaving `run_async` running.
        let _stop = StopOnDrop(stop);
        let mut checkpoints = SqliteCheckpoints::open(&path).unwrap();
        let reached = async {
            while checkpoints.load("gauges").unwrap() != Some(3) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), reached).await
    };
    let (followed, reached) = tokio::join!(follow, watch);

    followed.unwrap();
    reached.expect("the checkpoint did not reach position 3 within 10 s");
    appender.await.unwrap();
    subscription.position()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn subscription_run_blocking_runs_async_handlers() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("events.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store
        .append(&[Envelope::new(DeliveryMade { delivery: 1 })])
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));

    // The follower owns its store and runs on the blocking pool, so the
    // task that spawns it needs neither a `Sync` store nor a local set.
    let follower = {
        let path = path.clone();
        let stop = Arc::clone(&stop);
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let store = SqliteStore::open(&path).unwrap();
            let checkpoints = SqliteCheckpoints::open(&path).unwrap();
            let mut subscription = Subscription::new("deliveries", checkpoints).unwrap();
            let bus = Bus::new();
            let result =
                subscription.run_blocking(&store, &bus, &runtime, Duration::from_millis(5), &stop);
            (result, subscription.position())
        })
    };
    let stop_guard = StopOnDrop(&stop);

    store
        .append(&[Envelope::new(DeliveryMade { delivery: 2 })])
        .unwrap();
    let mut checkpoints = SqliteCheckpoints::open(&path).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while checkpoints.load("deliveries").unwrap() != Some(2) {
        assert!(
            Instant::now() < deadline,
            "the follower did not reach position 2"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(stop_guard);

    let (result, position) = follower.await.unwrap();
    result.unwrap();
    assert_eq!(position, 2);
    assert_eq!(take(&DELIVERED), [1, 2]);
}

#[tokio::test]
async fn sync_poll_stops_at_async_handler() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("events.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store
        .append(&[
            Envelope::new(SeatReserved { seat: 1 }),
            Envelope::new(SeatReserved { seat: 2 }),
        ])
        .unwrap();
    let bus = Bus::new();
    let mut seats = Subscription::new("seats", SqliteCheckpoints::open(&path).unwrap()).unwrap();

    // The synchronous poll cannot run the handler, so it stops before the
    // first event instead of moving the checkpoint past it.
    let error = seats.poll(&store, &bus).unwrap_err();
    assert!(
        matches!(
            error.store_error(),
            StoreError::NeedsAsync { position: 1, .. }
        ),
        "{error}"
    );
    assert_eq!(seats.position(), 0);
    assert_eq!(seats.checkpoints().load("seats").unwrap(), None);
    assert!(bus.dead_letters().list().unwrap().is_empty());

    let report = seats.poll_async(&store, &bus).await.unwrap();
    assert_eq!(report.dispatched, 2);
    assert_eq!(take(&RESERVED), [1, 2]);
}

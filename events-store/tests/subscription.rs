//! Durable subscriptions: resuming from the checkpoint after a crash,
//! independent names, live delivery and following new appends.
//!
//! Each test uses event types of its own, because every test binary's bus
//! reaches every registered handler and tests run in parallel.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
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

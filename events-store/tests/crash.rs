//! Killing a writer that appends in a loop loses no acknowledged event
//! and leaves no half-written one, and killing an outbox relay loses no
//! committed event.
//!
//! The tests run their own binary again as the child process: with
//! `EVENTS_STORE_CRASH_WRITER` set to a database path, `crash_writer`
//! appends batches in a loop and prints `ack <position> <id>` for each
//! event once its append has returned. With `EVENTS_STORE_CRASH_RELAY`
//! set, `crash_relay` relays the outbox of that file and prints
//! `handled <order>` from the handler, whose work for one order does not
//! return. The parent kills each child with SIGKILL partway and checks what
//! the file holds.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use events::{on, Bus, Envelope, Event};
use events_store::{
    CheckpointStore, OutboxRelay, ReadFrom, SqliteCheckpoints, SqliteOutbox, SqliteStore, Store,
};
use serde::{Deserialize, Serialize};

const WRITER_ENV: &str = "EVENTS_STORE_CRASH_WRITER";

/// Acknowledgements the parent waits for before it kills the writer.
const ACKS_BEFORE_KILL: usize = 400;

/// A sensor reading. Its note is 0 to 2,800 bytes long, so batches write
/// rows of different sizes.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "crash.SensorRead")]
struct SensorRead {
    sensor: u64,
    value: f64,
    note: String,
}

/// The writer side; does nothing unless the parent started this binary
/// with `EVENTS_STORE_CRASH_WRITER`.
#[test]
fn crash_writer() {
    let Ok(path) = std::env::var(WRITER_ENV) else {
        return;
    };
    let mut store = SqliteStore::open(&path).unwrap();
    let mut stdout = std::io::stdout().lock();
    for round in 0u64.. {
        // Batches of 1 to 7 events, some into a stream.
        let batch: Vec<_> = (0..round % 7 + 1)
            .map(|index| {
                Envelope::new(SensorRead {
                    sensor: round * 10 + index,
                    value: round as f64 / 3.0,
                    note: "x".repeat((round % 5 * 700) as usize),
                })
            })
            .collect();
        let appended = if round % 2 == 0 {
            store.append(&batch).unwrap()
        } else {
            store
                .append_to_stream("sensors", events_store::ExpectedVersion::Any, &batch)
                .unwrap()
        };
        for (event, result) in batch.iter().zip(appended) {
            writeln!(stdout, "ack {} {}", result.position, event.id()).unwrap();
        }
        stdout.flush().unwrap();
    }
}

#[test]
fn killed_writer_loses_no_acknowledged_event() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("events.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_writer", "--nocapture", "--test-threads=1"])
        .env(WRITER_ENV, &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();

    let mut acknowledged = BTreeMap::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while acknowledged.len() < ACKS_BEFORE_KILL {
        let line = lines
            .next()
            .expect("the writer exited before enough acknowledgements")
            .unwrap();
        // The first one follows the harness's `test crash_writer ... `.
        let Some((_, ack)) = line.split_once("ack ") else {
            continue;
        };
        let (position, id) = ack.split_once(' ').unwrap();
        acknowledged.insert(position.parse::<u64>().unwrap(), id.to_owned());
    }
    // Child::kill sends SIGKILL on Unix.
    child.kill().unwrap();
    child.wait().unwrap();

    let store = SqliteStore::open(&path).unwrap();
    let stored: Vec<_> = store.read(ReadFrom::Start).map(Result::unwrap).collect();

    let positions: Vec<u64> = stored.iter().map(|event| event.position).collect();
    let contiguous: Vec<u64> = (1..=stored.len() as u64).collect();
    assert_eq!(positions, contiguous, "positions have a gap");
    for event in &stored {
        let json: serde_json::Value = serde_json::from_slice(&event.json)
            .unwrap_or_else(|error| panic!("position {}: {error}", event.position));
        assert_eq!(json["id"], event.id.as_str());
        let decoded = event.decode().unwrap();
        assert!(decoded.payload::<SensorRead>().is_some());
    }
    for (position, id) in &acknowledged {
        let event = stored
            .get(*position as usize - 1)
            .unwrap_or_else(|| panic!("acknowledged position {position} is missing"));
        assert_eq!(&event.id, id, "position {position}");
    }
    let stream_versions: Vec<u64> = stored
        .iter()
        .filter_map(|event| event.stream_version)
        .collect();
    assert_eq!(
        stream_versions,
        (1..=stream_versions.len() as u64).collect::<Vec<_>>()
    );
}

const RELAY_ENV: &str = "EVENTS_STORE_CRASH_RELAY";

/// Orders the parent commits before it starts the relay.
const ORDERS: u64 = 300;

/// The order whose handler, in the child, stops after its work and before
/// it returns, so that the kill lands between the work and the checkpoint.
const STALLED_ORDER: u64 = 101;

/// An order paid, committed through the outbox with its row.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "crash.OrderPaid")]
struct OrderPaid {
    order: u64,
}

/// The orders this process relayed.
static RELAYED: Mutex<Vec<u64>> = Mutex::new(Vec::new());

#[on(OrderPaid)]
fn publish_payment(paid: &OrderPaid) {
    RELAYED.lock().unwrap().push(paid.order);
    if std::env::var_os(RELAY_ENV).is_some() {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "handled {}", paid.order).unwrap();
        stdout.flush().unwrap();
        if paid.order == STALLED_ORDER {
            // Waits for the parent's SIGKILL.
            std::thread::sleep(Duration::from_secs(600));
        }
    }
}

/// The relay side; does nothing unless the parent started this binary
/// with `EVENTS_STORE_CRASH_RELAY`.
#[test]
fn crash_relay() {
    let Ok(path) = std::env::var(RELAY_ENV) else {
        return;
    };
    let store = SqliteStore::open(&path).unwrap();
    let mut relay = OutboxRelay::new(SqliteCheckpoints::open(&path).unwrap()).unwrap();
    relay.poll(&store, &Bus::new()).unwrap();
}

#[test]
fn killed_relay_loses_no_committed_event() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("shop.db");
    let mut outbox = SqliteOutbox::open(&path).unwrap();
    outbox
        .execute_batch("CREATE TABLE payments (order_id INTEGER PRIMARY KEY)")
        .unwrap();
    for order in 1..=ORDERS {
        outbox
            .transaction(|tx| {
                tx.execute(
                    "INSERT INTO payments (order_id) VALUES (?1)",
                    [order as i64],
                )?;
                tx.append(&[Envelope::new(OrderPaid { order })])?;
                Ok::<_, Box<dyn std::error::Error>>(())
            })
            .unwrap();
    }

    // The child does not inherit the parent's stderr, so a child left
    // waiting by a failed assertion cannot keep the test run's output open.
    // The guard kills it on every exit path.
    let mut child = KillOnDrop(
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_relay", "--nocapture", "--test-threads=1"])
            .env(RELAY_ENV, &path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut handled_by_child = BTreeSet::new();
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    while !handled_by_child.contains(&STALLED_ORDER) {
        let line = lines
            .next()
            .expect("the relay exited before the kill")
            .unwrap();
        if let Some(order) = handled_order(&line) {
            handled_by_child.insert(order);
        }
    }
    drop(child);
    assert_eq!(
        handled_by_child,
        (1..=STALLED_ORDER).collect::<BTreeSet<_>>()
    );

    // The checkpoint never passes an order whose handler did not finish.
    let relay_checkpoint = OutboxRelay::<SqliteCheckpoints>::CHECKPOINT;
    let checkpoint = SqliteCheckpoints::open(&path)
        .unwrap()
        .load(relay_checkpoint)
        .unwrap();
    assert_eq!(checkpoint, Some(STALLED_ORDER - 1));

    // A restarted relay delivers every order after the checkpoint: each
    // committed order is handled at least once, and only the stalled one,
    // whose work was done but not marked, twice.
    let store = SqliteStore::open(&path).unwrap();
    let mut relay = OutboxRelay::new(SqliteCheckpoints::open(&path).unwrap()).unwrap();
    assert_eq!(relay.relayed(), STALLED_ORDER - 1);
    relay.poll(&store, &Bus::new()).unwrap();
    assert_eq!(relay.relayed(), ORDERS);
    let handled_after_restart: Vec<u64> = RELAYED.lock().unwrap().clone();
    assert_eq!(
        handled_after_restart,
        (STALLED_ORDER..=ORDERS).collect::<Vec<_>>()
    );
}

/// Reads the order of a `handled <order>` line. The first one follows the
/// test harness's `test crash_relay ... ` on the same line.
fn handled_order(line: &str) -> Option<u64> {
    let (_, order) = line.split_once("handled ")?;
    Some(order.trim().parse().unwrap())
}

/// A child process that is killed, with SIGKILL on Unix, and reaped when
/// dropped.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

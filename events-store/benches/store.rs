//! Costs of appending and reading events through the SQLite store, against
//! hand-written rusqlite code doing the same work.
//!
//! Run with `cargo bench -p events-store --bench store`.
//!
//! - `append`: 100,000 small events in one batch into a new database file.
//!   The store serialises each `Envelope` and parses the JSON back for its
//!   columns. The hand-written version serialises each `Envelope`, takes the
//!   columns from its accessors and inserts them with one prepared
//!   statement in one transaction, into the same schema with the same WAL
//!   and `synchronous = FULL` settings.
//! - `read`: the same 100,000 events read back in position order. The store
//!   pages through them and decodes each with `events::decode` into a typed
//!   `Envelope`. The hand-written version runs one query and parses each
//!   payload with `serde_json` into `Envelope<PriceChanged>`.
//! - `replay`: the same 100,000 events replayed with `events_store::replay`
//!   through `Bus::replay` into one no-op typed handler, against the
//!   hand-written read of `read`.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use events::chrono::SecondsFormat;
use events::{on, Bus, Envelope, Event};
use events_store::{replay, ReadFrom, ReplayOptions, SqliteStore, Store};
use serde::{Deserialize, Serialize};

const EVENTS: u64 = 100_000;

/// A product's price changed.
#[derive(Event, Serialize, Deserialize, Clone, Debug)]
#[event(name = "bench.PriceChanged")]
struct PriceChanged {
    product_id: u64,
    price_cents: u64,
}

#[on(PriceChanged)]
fn ignore_price(_: &PriceChanged) {}

fn envelopes() -> Vec<Envelope<PriceChanged>> {
    (0..EVENTS)
        .map(|product_id| {
            Envelope::new(PriceChanged {
                product_id,
                price_cents: product_id % 10_000,
            })
            .with_subject(format!("product-{product_id}"))
        })
        .collect()
}

/// The store's schema, written out for the hand-written baseline.
const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE events (
    position       INTEGER PRIMARY KEY,
    event_id       TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    version        INTEGER NOT NULL,
    time           TEXT,
    time_ns        INTEGER,
    source         TEXT NOT NULL,
    subject        TEXT,
    correlation_id TEXT,
    causation_id   TEXT,
    stream         TEXT,
    stream_version INTEGER,
    payload        BLOB NOT NULL,
    UNIQUE (stream, stream_version),
    CHECK ((stream IS NULL) = (stream_version IS NULL))
);
";

fn hand_written_append(path: &Path, envelopes: &[Envelope<PriceChanged>]) {
    let mut connection = rusqlite::Connection::open(path).unwrap();
    connection.execute_batch(SCHEMA).unwrap();
    let transaction = connection.transaction().unwrap();
    {
        let mut insert = transaction
            .prepare(
                "INSERT INTO events (event_id, name, version, time, time_ns, source, subject, \
                 correlation_id, causation_id, payload) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .unwrap();
        for envelope in envelopes {
            let payload = serde_json::to_vec(envelope).unwrap();
            insert
                .execute(rusqlite::params![
                    envelope.id().to_string(),
                    envelope.name(),
                    envelope.version(),
                    envelope.time().to_rfc3339_opts(SecondsFormat::AutoSi, true),
                    envelope.time().timestamp_nanos_opt(),
                    envelope.source(),
                    envelope.subject(),
                    envelope.correlation_id().map(ToString::to_string),
                    envelope.causation_id().map(ToString::to_string),
                    payload,
                ])
                .unwrap();
        }
    }
    transaction.commit().unwrap();
}

fn hand_written_read(path: &Path) -> u64 {
    let connection = rusqlite::Connection::open(path).unwrap();
    let mut select = connection
        .prepare("SELECT payload FROM events ORDER BY position")
        .unwrap();
    let mut rows = select.query([]).unwrap();
    let mut total = 0;
    while let Some(row) = rows.next().unwrap() {
        let payload = row.get_ref(0).unwrap().as_blob().unwrap();
        let envelope: Envelope<PriceChanged> = serde_json::from_slice(payload).unwrap();
        total += envelope.price_cents;
    }
    total
}

fn store_read(path: &Path) -> u64 {
    let store = SqliteStore::open(path).unwrap();
    let mut total = 0;
    for event in store.read(ReadFrom::Start) {
        let envelope = event.unwrap().decode().unwrap();
        let typed = envelope.downcast::<PriceChanged>().unwrap();
        total += typed.price_cents;
    }
    total
}

fn append(c: &mut Criterion) {
    let envelopes = envelopes();
    let mut group = c.benchmark_group("append");
    group.throughput(Throughput::Elements(EVENTS));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));

    // Each iteration writes a new file; the directory is returned so that
    // removing it is not timed.
    group.bench_function("store", |b| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |directory| {
                let mut store = SqliteStore::open(directory.path().join("events.db")).unwrap();
                black_box(store.append(&envelopes).unwrap());
                directory
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("hand_written", |b| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |directory| {
                hand_written_append(&directory.path().join("events.db"), &envelopes);
                directory
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn read(c: &mut Criterion) {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("events.db");
    SqliteStore::open(&path)
        .unwrap()
        .append(&envelopes())
        .unwrap();
    assert_eq!(store_read(&path), hand_written_read(&path));

    let mut group = c.benchmark_group("read");
    group.throughput(Throughput::Elements(EVENTS));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("store", |b| b.iter(|| black_box(store_read(&path))));
    group.bench_function("hand_written", |b| {
        b.iter(|| black_box(hand_written_read(&path)))
    });
    group.finish();
}

fn store_replay(path: &Path, bus: &Bus) -> u64 {
    let store = SqliteStore::open(path).unwrap();
    let report = replay(&store, bus, ReadFrom::Start, ReplayOptions::new()).unwrap();
    assert_eq!(report.handler_failures, 0);
    report.dispatched
}

fn replay_group(c: &mut Criterion) {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("events.db");
    SqliteStore::open(&path)
        .unwrap()
        .append(&envelopes())
        .unwrap();
    let bus = Bus::new();
    assert_eq!(store_replay(&path, &bus), EVENTS);

    let mut group = c.benchmark_group("replay");
    group.throughput(Throughput::Elements(EVENTS));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("store_into_handler", |b| {
        b.iter(|| black_box(store_replay(&path, &bus)))
    });
    group.bench_function("hand_written_read", |b| {
        b.iter(|| black_box(hand_written_read(&path)))
    });
    group.finish();
}

criterion_group!(benches, append, read, replay_group);
criterion_main!(benches);

//! Costs of appending and reading events through the PostgreSQL store,
//! against hand-written `postgres` code doing the same work.
//!
//! Run with
//! `EVENTS_TEST_POSTGRES_URL='host=127.0.0.1 user=postgres dbname=test' cargo bench -p events-store --features postgres --bench postgres`.
//! Without the variable the benchmark prints why it skipped and exits.
//! Each measurement uses a new schema `events_bench_<random>`, dropped
//! after it, so the user needs the right to create schemas.
//!
//! - `append`: 100,000 small events in one batch into an empty table. The
//!   store serialises each `Envelope`, parses the JSON back for its columns
//!   and sends the rows as column arrays, 2,000 rows per `INSERT`. The
//!   hand-written versions serialise each `Envelope`, take the columns from
//!   its accessors and insert into the same table in one transaction.
//!   `per_row` executes one prepared `INSERT` per event. `arrays` sends the
//!   same column arrays as the store, all 100,000 rows in one
//!   `INSERT ... UNNEST`.
//! - `read`: the same 100,000 events read back in position order. The
//!   store pages through them, 500 rows per query, and decodes each with
//!   `events::decode` into a typed `Envelope`. The hand-written version
//!   runs one query and parses each payload with `serde_json` into
//!   `Envelope<PriceChanged>`.
//! - `replay`: the same 100,000 events replayed with `events_store::replay`
//!   through `Bus::replay` into one no-op typed handler, against the
//!   hand-written read of `read`.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, BatchSize, Criterion, Throughput};
use events::chrono::SecondsFormat;
use events::{on, Bus, Envelope, Event};
use events_store::{replay, PostgresStore, ReadFrom, ReplayOptions, Store};
use postgres::{Client, Config, NoTls};
use serde::{Deserialize, Serialize};

const URL_VARIABLE: &str = "EVENTS_TEST_POSTGRES_URL";

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

/// A new schema holding an empty `events` table, created by the store,
/// and dropped with the value.
struct BenchSchema {
    name: String,
    /// The server's configuration with this schema as the `search_path`.
    config: Config,
    admin: Client,
}

impl BenchSchema {
    fn create() -> BenchSchema {
        let url = std::env::var(URL_VARIABLE).unwrap();
        let server: Config = url.parse().unwrap();
        let name = format!(
            "events_bench_{:016x}",
            RandomState::new().build_hasher().finish()
        );
        let mut config = server.clone();
        let options = server.get_options().unwrap_or("");
        config.options(&format!("{options} -c search_path={name}"));

        let mut admin = server.connect(NoTls).unwrap();
        admin
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .unwrap();
        drop(PostgresStore::connect_with(&config).unwrap());
        BenchSchema {
            name,
            config,
            admin,
        }
    }

    fn store(&self) -> PostgresStore {
        PostgresStore::connect_with(&self.config).unwrap()
    }

    fn client(&self) -> Client {
        self.config.connect(NoTls).unwrap()
    }
}

impl Drop for BenchSchema {
    fn drop(&mut self) {
        let drop = format!("DROP SCHEMA {} CASCADE", self.name);
        if let Err(error) = self.admin.batch_execute(&drop) {
            eprintln!("failed to drop the benchmark schema {}: {error}", self.name);
        }
    }
}

const INSERT_COLUMNS: &str = "position, event_id, name, version, time, time_ns, source, \
                              subject, correlation_id, causation_id, payload";

fn hand_written_per_row(client: &mut Client, envelopes: &[Envelope<PriceChanged>]) {
    let mut transaction = client.transaction().unwrap();
    let insert = transaction
        .prepare(&format!(
            "INSERT INTO events ({INSERT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .unwrap();
    for (position, envelope) in (1i64..).zip(envelopes) {
        let payload = serde_json::to_vec(envelope).unwrap();
        transaction
            .execute(
                &insert,
                &[
                    &position,
                    &envelope.id().to_string(),
                    &envelope.name(),
                    &i64::from(envelope.version()),
                    &envelope.time().to_rfc3339_opts(SecondsFormat::AutoSi, true),
                    &envelope.time().timestamp_nanos_opt(),
                    &envelope.source(),
                    &envelope.subject(),
                    &envelope.correlation_id().map(ToString::to_string),
                    &envelope.causation_id().map(ToString::to_string),
                    &payload,
                ],
            )
            .unwrap();
    }
    transaction.commit().unwrap();
}

fn hand_written_arrays(client: &mut Client, envelopes: &[Envelope<PriceChanged>]) {
    let count = envelopes.len();
    let mut positions = Vec::with_capacity(count);
    let mut ids = Vec::with_capacity(count);
    let mut names = Vec::with_capacity(count);
    let mut versions = Vec::with_capacity(count);
    let mut times = Vec::with_capacity(count);
    let mut times_ns = Vec::with_capacity(count);
    let mut sources = Vec::with_capacity(count);
    let mut subjects = Vec::with_capacity(count);
    let mut correlation_ids = Vec::with_capacity(count);
    let mut causation_ids = Vec::with_capacity(count);
    let mut payloads = Vec::with_capacity(count);
    for (position, envelope) in (1i64..).zip(envelopes) {
        positions.push(position);
        ids.push(envelope.id().to_string());
        names.push(envelope.name());
        versions.push(i64::from(envelope.version()));
        times.push(envelope.time().to_rfc3339_opts(SecondsFormat::AutoSi, true));
        times_ns.push(envelope.time().timestamp_nanos_opt());
        sources.push(envelope.source());
        subjects.push(envelope.subject());
        correlation_ids.push(envelope.correlation_id().map(ToString::to_string));
        causation_ids.push(envelope.causation_id().map(ToString::to_string));
        payloads.push(serde_json::to_vec(envelope).unwrap());
    }

    let mut transaction = client.transaction().unwrap();
    transaction
        .execute(
            &format!(
                "INSERT INTO events ({INSERT_COLUMNS}) \
                 SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bigint[], \
                 $5::text[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[], \
                 $11::bytea[])"
            ),
            &[
                &positions,
                &ids,
                &names,
                &versions,
                &times,
                &times_ns,
                &sources,
                &subjects,
                &correlation_ids,
                &causation_ids,
                &payloads,
            ],
        )
        .unwrap();
    transaction.commit().unwrap();
}

fn hand_written_read(client: &mut Client) -> u64 {
    let rows = client
        .query("SELECT payload FROM events ORDER BY position", &[])
        .unwrap();
    let mut total = 0;
    for row in rows {
        let payload: &[u8] = row.get(0);
        let envelope: Envelope<PriceChanged> = serde_json::from_slice(payload).unwrap();
        total += envelope.price_cents;
    }
    total
}

fn store_read(store: &PostgresStore) -> u64 {
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
    group.measurement_time(Duration::from_secs(30));

    // Each iteration writes into a new schema. The schema is returned so
    // that dropping it is not timed.
    group.bench_function("store", |b| {
        b.iter_batched(
            || {
                let schema = BenchSchema::create();
                let store = schema.store();
                (schema, store)
            },
            |(schema, mut store)| {
                black_box(store.append(&envelopes).unwrap());
                schema
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("hand_written_per_row", |b| {
        b.iter_batched(
            || {
                let schema = BenchSchema::create();
                let client = schema.client();
                (schema, client)
            },
            |(schema, mut client)| {
                hand_written_per_row(&mut client, &envelopes);
                schema
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("hand_written_arrays", |b| {
        b.iter_batched(
            || {
                let schema = BenchSchema::create();
                let client = schema.client();
                (schema, client)
            },
            |(schema, mut client)| {
                hand_written_arrays(&mut client, &envelopes);
                schema
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn read(c: &mut Criterion) {
    let schema = BenchSchema::create();
    let mut store = schema.store();
    store.append(&envelopes()).unwrap();
    let mut client = schema.client();
    assert_eq!(store_read(&store), hand_written_read(&mut client));

    let mut group = c.benchmark_group("read");
    group.throughput(Throughput::Elements(EVENTS));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("store", |b| b.iter(|| black_box(store_read(&store))));
    group.bench_function("hand_written", |b| {
        b.iter(|| black_box(hand_written_read(&mut client)))
    });
    group.finish();
}

fn store_replay(store: &PostgresStore, bus: &Bus) -> u64 {
    let report = replay(store, bus, ReadFrom::Start, ReplayOptions::new()).unwrap();
    assert!(report.is_ok());
    report.dispatched
}

fn replay_group(c: &mut Criterion) {
    let schema = BenchSchema::create();
    let mut store = schema.store();
    store.append(&envelopes()).unwrap();
    let mut client = schema.client();
    let bus = Bus::new();
    assert_eq!(store_replay(&store, &bus), EVENTS);

    let mut group = c.benchmark_group("replay");
    group.throughput(Throughput::Elements(EVENTS));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("store", |b| {
        b.iter(|| black_box(store_replay(&store, &bus)))
    });
    group.bench_function("hand_written", |b| {
        b.iter(|| black_box(hand_written_read(&mut client)))
    });
    group.finish();
}

criterion_group!(benches, append, read, replay_group);

fn main() {
    if std::env::var(URL_VARIABLE).map_or(true, |url| url.is_empty()) {
        eprintln!(
            "skipped: {URL_VARIABLE} is not set; set it to a connection string such as \
             `host=127.0.0.1 port=5432 user=postgres dbname=test` to run this benchmark"
        );
        return;
    }
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}

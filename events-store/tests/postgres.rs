//! Behaviour of the PostgreSQL backend: appends, idempotency, stream
//! versions, concurrent writers, reads with filters, rows written by other
//! tools, outbox transactions and their relay, subscription checkpoints,
//! and replay.
//!
//! The tests connect to the server named by `EVENTS_TEST_POSTGRES_URL`, a
//! connection string of the `postgres` crate such as
//! `host=127.0.0.1 port=5432 user=postgres dbname=test`. Each test creates
//! its own schema `events_test_<random>`, connects its stores with that
//! schema as the `search_path`, and drops the schema at the end. The user
//! needs the right to create schemas in the database. When the variable is
//! unset, the tests that need the server are reported as ignored.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use events::testing::Recorder;
use events::{on, Bus, Envelope, Event};
use events_store::{
    replay, Appended, CheckpointStore, ExpectedVersion, OutboxRelay, PostgresCheckpoints,
    PostgresOutbox, PostgresStore, Query, ReadFrom, Replay, ReplayOptions, Store, StoreError,
    Subscription,
};
use libtest_mimic::{Arguments, Failed, Trial};
use postgres::{Client, Config, NoTls};
use serde::{Deserialize, Serialize};

const URL_VARIABLE: &str = "EVENTS_TEST_POSTGRES_URL";

/// A customer placed an order.
#[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[event(name = "store.OrderPlaced", version = 2)]
struct OrderPlaced {
    order_id: u64,
    total_cents: u64,
}

/// An order left the warehouse.
#[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[event(name = "store.OrderShipped")]
struct OrderShipped {
    order_id: u64,
}

fn placed(order_id: u64) -> Envelope<OrderPlaced> {
    Envelope::new(OrderPlaced {
        order_id,
        total_cents: order_id * 100,
    })
}

fn positions(store: &PostgresStore, query: impl Into<Query>) -> Vec<u64> {
    store
        .read(query)
        .map(|event| event.unwrap().position)
        .collect()
}

/// A schema of its own for one test, dropped when the value is dropped.
struct TestSchema {
    name: String,
    /// The server's configuration with this schema as the `search_path`.
    config: Config,
    /// A connection for setting up rows and reading columns directly.
    admin: Client,
}

impl TestSchema {
    fn create(url: &str) -> TestSchema {
        let server: Config = url
            .parse()
            .unwrap_or_else(|error| panic!("{URL_VARIABLE} is invalid: {error}"));
        let name = format!(
            "events_test_{:016x}",
            RandomState::new().build_hasher().finish()
        );
        let mut config = server.clone();
        let options = server.get_options().unwrap_or("");
        config.options(&format!("{options} -c search_path={name}"));
        config.application_name(&name);

        let mut admin = server.connect(NoTls).unwrap_or_else(|error| {
            panic!("failed to connect to {URL_VARIABLE}: {error}; is the server running?")
        });
        admin
            .batch_execute(&format!("CREATE SCHEMA {name}; SET search_path = {name}"))
            .unwrap();
        TestSchema {
            name,
            config,
            admin,
        }
    }

    fn store(&self) -> PostgresStore {
        PostgresStore::connect_with(&self.config).unwrap()
    }

    fn outbox(&self) -> PostgresOutbox {
        let mut outbox = PostgresOutbox::connect_with(&self.config).unwrap();
        outbox
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS orders (id BIGINT PRIMARY KEY, total_cents BIGINT)",
            )
            .unwrap();
        outbox
    }

    fn checkpoints(&self) -> PostgresCheckpoints {
        PostgresCheckpoints::connect_with(&self.config).unwrap()
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let drop = format!("DROP SCHEMA {} CASCADE", self.name);
        if let Err(error) = self.admin.batch_execute(&drop) {
            eprintln!("failed to drop the test schema {}: {error}", self.name);
        }
    }
}

type ServerTest = fn(&mut TestSchema);

/// Pairs each test function with its name.
macro_rules! named_tests {
    ($($test:ident),* $(,)?) => {
        &[$((stringify!($test), $test as ServerTest)),*]
    };
}

fn main() {
    let arguments = Arguments::from_args();
    let url = std::env::var(URL_VARIABLE)
        .ok()
        .filter(|url| !url.is_empty());

    let server_tests: &[(&str, ServerTest)] = named_tests![
        append_returns_consecutive_positions,
        round_trip_keeps_every_attribute_byte_for_byte,
        append_keeps_encoded_json_byte_for_byte,
        append_reports_duplicates_without_storing_them,
        append_reports_duplicates_within_a_batch,
        append_rejects_invalid_event_and_stores_nothing,
        append_rolls_back_failed_batch,
        append_rolls_back_every_chunk_of_large_batch,
        append_to_stream_assigns_versions,
        append_to_stream_rejects_wrong_version,
        append_to_stream_retry_returns_duplicates,
        concurrent_writers_same_version_one_wins,
        follower_sees_positions_in_commit_order,
        read_pages_through_every_event,
        read_sees_events_appended_while_reading,
        outbox_commits_rows_and_events_together,
        outbox_error_rolls_back_everything,
        outbox_append_waits_for_earlier_commit,
        outbox_relay_resumes_after_restart,
        subscription_resumes_from_postgres_checkpoint,
        replay_skips_undecodable_rows,
        replay_async_handlers_from_blocking_thread,
        subscription_poll_blocking_runs_async_handlers,
        connections_close_when_dropped_in_runtime,
        connect_names_missing_search_path_schema,
        read_filters_by_name_stream_and_time,
        read_keeps_bad_rows_as_errors,
        connect_creates_schema_once,
        connect_rejects_unknown_schema_version,
        lost_connection_reports_database_error,
    ];

    let mut trials = vec![Trial::test(
        "connect_reports_unreachable_server",
        connect_reports_unreachable_server,
    )];
    for &(name, test) in server_tests {
        let trial = match &url {
            Some(url) => {
                let url = url.clone();
                Trial::test(name, move || {
                    test(&mut TestSchema::create(&url));
                    Ok(())
                })
            }
            // Run with --include-ignored, the test fails instead of passing
            // without having checked anything.
            None => Trial::test(name, || {
                Err(Failed::from(format!("{URL_VARIABLE} is not set")))
            })
            .with_ignored_flag(true),
        };
        trials.push(trial);
    }
    if url.is_none() {
        eprintln!(
            "skipped: {URL_VARIABLE} is not set, so the {} tests that need a PostgreSQL \
             server are reported as ignored; set it to a connection string such as \
             `host=127.0.0.1 port=5432 user=postgres dbname=test`",
            server_tests.len()
        );
    }
    libtest_mimic::run(&arguments, trials).exit();
}

fn append_returns_consecutive_positions(schema: &mut TestSchema) {
    let mut store = schema.store();
    let first = store.append(&[placed(1), placed(2)]).unwrap();
    let second = store.append(&[placed(3)]).unwrap();

    let expected = |position| Appended {
        position,
        stream_version: None,
        duplicate: false,
    };
    assert_eq!(first, [expected(1), expected(2)]);
    assert_eq!(second, [expected(3)]);
    assert_eq!(positions(&store, ReadFrom::Start), [1, 2, 3]);
}

fn round_trip_keeps_every_attribute_byte_for_byte(schema: &mut TestSchema) {
    let mut store = schema.store();
    let envelope = placed(7)
        .with_id("order-7-placed")
        .with_time("2026-01-02T03:04:05.123456789Z".parse().unwrap())
        .with_source("https://shop.example/orders")
        .with_subject("order-7")
        .with_dataschema("https://shop.example/schemas/order-placed-v2.json")
        .with_correlation_id("checkout-42")
        .with_causation_id("cart-checked-out-7")
        .with_extension("tenant", "acme")
        .with_extension("attempt", 2)
        .with_extension("replayed", false);
    let json = serde_json::to_vec(&envelope).unwrap();

    store
        .append_to_stream("order-7", ExpectedVersion::NoStream, &[&envelope])
        .unwrap();
    let stored = store.read(ReadFrom::Start).next().unwrap().unwrap();

    assert_eq!(stored.json, json);
    assert_eq!(stored.position, 1);
    assert_eq!(stored.id, "order-7-placed");
    assert_eq!(stored.name, "store.OrderPlaced");
    assert_eq!(stored.version, 2);
    assert_eq!(
        stored.time.as_deref(),
        Some("2026-01-02T03:04:05.123456789Z")
    );
    assert_eq!(stored.stream.as_deref(), Some("order-7"));
    assert_eq!(stored.stream_version, Some(1));

    let decoded = stored.decode().unwrap();
    assert_eq!(serde_json::to_vec(&decoded).unwrap(), json);
    let typed = decoded.downcast::<OrderPlaced>().unwrap();
    assert_eq!(typed.payload(), envelope.payload());
    assert_eq!(typed.id(), envelope.id());
    assert_eq!(typed.time(), envelope.time());
    assert_eq!(typed.source(), envelope.source());
    assert_eq!(typed.subject(), envelope.subject());
    assert_eq!(typed.correlation_id(), envelope.correlation_id());
    assert_eq!(typed.causation_id(), envelope.causation_id());
    assert_eq!(typed.extensions(), envelope.extensions());

    // The columns that copy attributes, as tools querying the table see them.
    let row = schema
        .admin
        .query_one(
            "SELECT version, time_ns, source, subject, correlation_id, causation_id, \
             pg_typeof(payload)::text FROM events",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 2);
    assert_eq!(
        row.get::<_, Option<i64>>(1),
        Some(1_767_323_045_123_456_789)
    );
    assert_eq!(row.get::<_, &str>(2), "https://shop.example/orders");
    assert_eq!(row.get::<_, Option<&str>>(3), Some("order-7"));
    assert_eq!(row.get::<_, Option<&str>>(4), Some("checkout-42"));
    assert_eq!(row.get::<_, Option<&str>>(5), Some("cart-checked-out-7"));
    assert_eq!(row.get::<_, &str>(6), "bytea");
}

fn append_keeps_encoded_json_byte_for_byte(schema: &mut TestSchema) {
    let mut store = schema.store();
    // Spacing, attribute order, an escape and a time offset that
    // serialising again or storing as JSONB would change.
    let received = concat!(
        r#"{ "type": "store.OrderShipped", "specversion": "1.0", "id": "erp-\u0031","#,
        r#" "source": "erp", "time": "2026-01-02T04:04:05.5+01:00", "data": { "order_id": 7 } }"#
    );

    store.append(&[received]).unwrap();
    let stored = store.read(ReadFrom::Start).next().unwrap().unwrap();

    assert_eq!(stored.json, received.as_bytes());
    assert_eq!(stored.id, "erp-1");
    assert_eq!(stored.time.as_deref(), Some("2026-01-02T04:04:05.5+01:00"));
    let shipped = stored.decode().unwrap().downcast::<OrderShipped>().unwrap();
    assert_eq!(shipped.order_id, 7);
}

fn append_reports_duplicates_without_storing_them(schema: &mut TestSchema) {
    let mut store = schema.store();
    let order = placed(1);
    store.append(&[&order]).unwrap();

    let appended = store
        .append(&[&placed(2), &order, &placed(2).with_id(order.id().clone())])
        .unwrap();

    assert_eq!(
        appended[0],
        Appended {
            position: 2,
            stream_version: None,
            duplicate: false
        }
    );
    assert_eq!(
        appended[1],
        Appended {
            position: 1,
            stream_version: None,
            duplicate: true
        }
    );
    assert_eq!(
        appended[2],
        Appended {
            position: 1,
            stream_version: None,
            duplicate: true
        }
    );
    assert_eq!(positions(&store, ReadFrom::Start), [1, 2]);

    // Duplicates take no position, so the next event follows without a gap.
    let next = store.append(&[placed(3)]).unwrap();
    assert_eq!(next[0].position, 3);
}

fn append_reports_duplicates_within_a_batch(schema: &mut TestSchema) {
    let mut store = schema.store();
    let order = placed(1);

    let appended = store
        .append_to_stream(
            "order-1",
            ExpectedVersion::NoStream,
            &[&order, &placed(2), &order],
        )
        .unwrap();

    assert_eq!(
        appended[0],
        Appended {
            position: 1,
            stream_version: Some(1),
            duplicate: false
        }
    );
    assert_eq!(
        appended[1],
        Appended {
            position: 2,
            stream_version: Some(2),
            duplicate: false
        }
    );
    assert_eq!(
        appended[2],
        Appended {
            position: 1,
            stream_version: Some(1),
            duplicate: true
        }
    );
    assert_eq!(store.stream_version("order-1").unwrap(), 2);
}

fn append_rejects_invalid_event_and_stores_nothing(schema: &mut TestSchema) {
    let mut store = schema.store();
    let valid = serde_json::to_string(&placed(1)).unwrap();
    let missing_source = r#"{"specversion":"1.0","id":"x","type":"store.OrderShipped"}"#.to_owned();

    let error = store.append(&[valid, missing_source]).unwrap_err();

    match &error {
        StoreError::InvalidEvent { index, reason } => {
            assert_eq!(*index, 1);
            assert!(reason.contains("`source` is missing"), "{reason}");
        }
        other => panic!("expected an invalid event, got {other:?}"),
    }
    assert!(error.to_string().contains("event 1 of the batch"));
    assert_eq!(store.read(ReadFrom::Start).count(), 0);
}

/// Installs a trigger that fails the insert of the event with this id.
fn reject_event_id(schema: &mut TestSchema, id: &str) {
    schema
        .admin
        .batch_execute(&format!(
            "CREATE FUNCTION reject_event() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 IF NEW.event_id = '{id}' THEN RAISE EXCEPTION 'rejected {id}'; END IF;
                 RETURN NEW;
             END $$;
             CREATE TRIGGER reject_event BEFORE INSERT ON events
                 FOR EACH ROW EXECUTE FUNCTION reject_event();"
        ))
        .unwrap();
}

fn append_rolls_back_failed_batch(schema: &mut TestSchema) {
    let mut store = schema.store();
    reject_event_id(schema, "order-13");

    let batch = [placed(11), placed(12), placed(13).with_id("order-13")];
    let error = store
        .append_to_stream("orders", ExpectedVersion::Any, &batch)
        .unwrap_err();

    assert!(
        matches!(
            error,
            StoreError::Postgres {
                operation: "append events",
                ..
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("rejected order-13"), "{message}");
    assert!(message.contains(&schema.name), "{message}");
    assert_eq!(store.read(ReadFrom::Start).count(), 0);
    assert_eq!(store.stream_version("orders").unwrap(), 0);

    // The rolled back batch left no gap in the positions.
    let appended = store.append(&[placed(14)]).unwrap();
    assert_eq!(appended[0].position, 1);
}

fn append_rolls_back_every_chunk_of_large_batch(schema: &mut TestSchema) {
    let mut store = schema.store();
    reject_event_id(schema, "order-4500");
    // Larger than one INSERT statement of the store, so the failing event
    // is in a later statement than the first rows of the batch.
    let batch: Vec<_> = (0..5_000)
        .map(|order_id| placed(order_id).with_id(format!("order-{order_id}")))
        .collect();

    let error = store
        .append_to_stream("orders", ExpectedVersion::NoStream, &batch)
        .unwrap_err();
    assert!(matches!(error, StoreError::Postgres { .. }), "{error:?}");
    assert_eq!(store.read(ReadFrom::Start).count(), 0);

    schema
        .admin
        .batch_execute("DROP TRIGGER reject_event ON events")
        .unwrap();
    let appended = store
        .append_to_stream("orders", ExpectedVersion::NoStream, &batch)
        .unwrap();
    assert_eq!(appended.len(), 5_000);
    assert_eq!(
        appended[4_999],
        Appended {
            position: 5_000,
            stream_version: Some(5_000),
            duplicate: false
        }
    );
    assert_eq!(
        positions(&store, Query::from(ReadFrom::Start).stream("orders")),
        (1..=5_000).collect::<Vec<_>>()
    );
}

fn append_to_stream_assigns_versions(schema: &mut TestSchema) {
    let mut store = schema.store();
    store.append(&[placed(100)]).unwrap();

    let first = store
        .append_to_stream("order-1", ExpectedVersion::NoStream, &[placed(1)])
        .unwrap();
    let second = store
        .append_to_stream(
            "order-1",
            ExpectedVersion::Exact(1),
            &[placed(1), placed(1)],
        )
        .unwrap();
    let other = store
        .append_to_stream("order-2", ExpectedVersion::Exact(0), &[placed(2)])
        .unwrap();

    assert_eq!(
        first[0],
        Appended {
            position: 2,
            stream_version: Some(1),
            duplicate: false
        }
    );
    assert_eq!(second[0].stream_version, Some(2));
    assert_eq!(second[1].stream_version, Some(3));
    assert_eq!(
        other[0],
        Appended {
            position: 5,
            stream_version: Some(1),
            duplicate: false
        }
    );
    assert_eq!(store.stream_version("order-1").unwrap(), 3);
    assert_eq!(store.stream_version("order-3").unwrap(), 0);
}

fn append_to_stream_rejects_wrong_version(schema: &mut TestSchema) {
    let mut store = schema.store();
    store
        .append_to_stream("order-1", ExpectedVersion::Any, &[placed(1), placed(1)])
        .unwrap();

    let cases = [
        (ExpectedVersion::NoStream, "expected no stream"),
        (ExpectedVersion::Exact(1), "expected version 1"),
        (ExpectedVersion::Exact(3), "expected version 3"),
    ];
    for (expected, message) in cases {
        let error = store
            .append_to_stream("order-1", expected, &[placed(1)])
            .unwrap_err();
        match &error {
            StoreError::Conflict {
                stream,
                expected: reported,
                actual,
            } => {
                assert_eq!(stream, "order-1");
                assert_eq!(*reported, expected);
                assert_eq!(*actual, 2);
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert!(
            error
                .to_string()
                .contains("stream `order-1` is at version 2"),
            "{error}"
        );
        assert!(error.to_string().contains(message), "{error}");
    }
    let empty: [Envelope<OrderPlaced>; 0] = [];
    let error = store
        .append_to_stream("order-1", ExpectedVersion::NoStream, &empty)
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Conflict { actual: 2, .. }),
        "{error:?}"
    );
    assert_eq!(store.stream_version("order-1").unwrap(), 2);
    assert_eq!(store.read(ReadFrom::Start).count(), 2);
}

fn append_to_stream_retry_returns_duplicates(schema: &mut TestSchema) {
    let mut store = schema.store();
    let batch = [placed(1), placed(1)];
    let first = store
        .append_to_stream("order-1", ExpectedVersion::NoStream, &batch)
        .unwrap();

    let retried = store
        .append_to_stream("order-1", ExpectedVersion::NoStream, &batch)
        .unwrap();

    for (original, retry) in first.iter().zip(&retried) {
        assert_eq!(retry.position, original.position);
        assert_eq!(retry.stream_version, original.stream_version);
        assert!(retry.duplicate);
    }
    assert_eq!(store.stream_version("order-1").unwrap(), 2);
}

fn concurrent_writers_same_version_one_wins(schema: &mut TestSchema) {
    let mut writers = [schema.store(), schema.store()];

    for round in 0..20u64 {
        let barrier = Barrier::new(2);
        let results: Vec<Result<Vec<Appended>, StoreError>> = thread::scope(|scope| {
            let handles: Vec<_> = writers
                .iter_mut()
                .enumerate()
                .map(|(writer, store)| {
                    let barrier = &barrier;
                    scope.spawn(move || {
                        let event = placed(round * 10 + writer as u64);
                        barrier.wait();
                        store.append_to_stream("order-1", ExpectedVersion::Exact(round), &[event])
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().unwrap())
                .collect()
        });

        let winners = results.iter().filter(|result| result.is_ok()).count();
        assert_eq!(winners, 1, "round {round}: {results:?}");
        let conflict = results
            .iter()
            .find_map(|result| result.as_ref().err())
            .unwrap();
        match conflict {
            StoreError::Conflict {
                stream,
                expected,
                actual,
            } => {
                assert_eq!(stream, "order-1");
                assert_eq!(*expected, ExpectedVersion::Exact(round));
                assert_eq!(*actual, round + 1);
            }
            other => panic!("round {round}: expected a conflict, got {other:?}"),
        }
    }
    let reader = schema.store();
    assert_eq!(reader.stream_version("order-1").unwrap(), 20);
    assert_eq!(
        positions(&reader, ReadFrom::Start),
        (1..=20).collect::<Vec<_>>()
    );
}

fn follower_sees_positions_in_commit_order(schema: &mut TestSchema) {
    const WRITERS: u64 = 3;
    const BATCHES: u64 = 60;
    const BATCH_SIZE: u64 = 5;
    let total = WRITERS * BATCHES * BATCH_SIZE;
    let mut writers: Vec<PostgresStore> = (0..WRITERS).map(|_| schema.store()).collect();
    let follower = schema.store();

    // A follower polls from its checkpoint while the writers append. It
    // must read every position once and in order, with no position skipped
    // because a later one became visible first.
    let seen = thread::scope(|scope| {
        for (writer, store) in writers.iter_mut().enumerate() {
            scope.spawn(move || {
                for batch in 0..BATCHES {
                    let events: Vec<_> = (0..BATCH_SIZE)
                        .map(|index| placed((writer as u64 * BATCHES + batch) * BATCH_SIZE + index))
                        .collect();
                    store.append(&events).unwrap();
                }
            });
        }
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while (seen.len() as u64) < total {
            assert!(
                Instant::now() < deadline,
                "the follower read {} of {total} events",
                seen.len()
            );
            let checkpoint = seen.last().copied().unwrap_or(0);
            for event in follower.read(Query::from(ReadFrom::Position(checkpoint + 1)).page_size(7))
            {
                seen.push(event.unwrap().position);
            }
        }
        seen
    });

    assert_eq!(seen, (1..=total).collect::<Vec<_>>());
}

fn read_pages_through_every_event(schema: &mut TestSchema) {
    let mut store = schema.store();
    let batch: Vec<_> = (0..1234).map(placed).collect();
    store.append(&batch).unwrap();

    for page_size in [1, 7, 500, 1234, 5000] {
        let read = positions(&store, Query::from(ReadFrom::Start).page_size(page_size));
        assert_eq!(
            read,
            (1..=1234).collect::<Vec<_>>(),
            "page size {page_size}"
        );
    }
    let tail = positions(&store, Query::from(ReadFrom::Position(1200)).page_size(10));
    assert_eq!(tail, (1200..=1234).collect::<Vec<_>>());
    assert_eq!(store.read(ReadFrom::Position(5000)).count(), 0);
}

fn read_sees_events_appended_while_reading(schema: &mut TestSchema) {
    let mut writer = schema.store();
    let reader = schema.store();
    writer.append(&[placed(1), placed(2)]).unwrap();

    let mut events = reader.read(Query::from(ReadFrom::Start).page_size(2));
    assert_eq!(events.next().unwrap().unwrap().position, 1);
    writer.append(&[placed(3)]).unwrap();
    let rest: Vec<u64> = events.map(|event| event.unwrap().position).collect();

    assert_eq!(rest, [2, 3]);
}

fn read_filters_by_name_stream_and_time(schema: &mut TestSchema) {
    let mut store = schema.store();
    let at = |text: &str| text.parse().unwrap();
    store
        .append_to_stream(
            "order-1",
            ExpectedVersion::Any,
            &[placed(1).with_time(at("2026-01-01T00:00:00Z"))],
        )
        .unwrap();
    store
        .append(
            &[Envelope::new(OrderShipped { order_id: 9 }).with_time(at("2026-01-15T00:00:00Z"))],
        )
        .unwrap();
    store
        .append_to_stream(
            "order-1",
            ExpectedVersion::Any,
            &[Envelope::new(OrderShipped { order_id: 1 }).with_time(at("2026-02-01T00:00:00Z"))],
        )
        .unwrap();
    store
        .append_to_stream(
            "order-2",
            ExpectedVersion::Any,
            &[placed(2).with_time(at("2026-02-01T00:00:00.000000001Z"))],
        )
        .unwrap();
    let start = || Query::from(ReadFrom::Start).page_size(1);

    assert_eq!(
        positions(&store, start().name("store.OrderShipped")),
        [2, 3]
    );
    assert_eq!(
        positions(
            &store,
            start().names(["store.OrderShipped", "store.OrderPlaced"])
        ),
        [1, 2, 3, 4]
    );
    assert_eq!(positions(&store, start().stream("order-1")), [1, 3]);
    assert_eq!(
        positions(&store, start().stream("order-1").name("store.OrderPlaced")),
        [1]
    );
    assert_eq!(
        positions(&store, Query::from(ReadFrom::Position(2)).stream("order-1")),
        [3]
    );
    assert!(positions(&store, start().stream("order-3")).is_empty());

    let january = at("2026-01-01T00:00:00Z")..at("2026-02-01T00:00:00Z");
    assert_eq!(positions(&store, start().time_range(january)), [1, 2]);
    assert_eq!(
        positions(&store, start().time_range(at("2026-02-01T00:00:00Z")..)),
        [3, 4]
    );
    assert_eq!(
        positions(&store, start().time_range(..=at("2026-02-01T00:00:00Z"))),
        [1, 2, 3]
    );
    assert_eq!(
        positions(
            &store,
            start()
                .stream("order-1")
                .time_range(at("2026-01-02T00:00:00Z")..)
        ),
        [3]
    );
}

fn read_keeps_bad_rows_as_errors(schema: &mut TestSchema) {
    let mut store = schema.store();
    store.append(&[placed(1), placed(2), placed(3)]).unwrap();
    // A tool outside the crate drops a check and writes a version that
    // does not fit in a u32.
    schema
        .admin
        .batch_execute(
            "ALTER TABLE events DROP CONSTRAINT events_version_check; \
             UPDATE events SET version = -1 WHERE position = 2",
        )
        .unwrap();

    let read: Vec<_> = store
        .read(Query::from(ReadFrom::Start).page_size(2))
        .collect();

    assert_eq!(read.len(), 3);
    assert_eq!(read[0].as_ref().unwrap().position, 1);
    match &read[1] {
        Err(StoreError::InvalidRow {
            position, reason, ..
        }) => {
            assert_eq!(*position, 2);
            assert!(reason.contains("the version -1 is not a u32"), "{reason}");
        }
        other => panic!("expected an invalid row, got {other:?}"),
    }
    assert_eq!(read[2].as_ref().unwrap().position, 3);
}

fn connect_creates_schema_once(schema: &mut TestSchema) {
    // Stores connecting to an empty schema at the same time all find one table.
    let barrier = Barrier::new(4);
    let locations: Vec<String> = thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let barrier = &barrier;
                let config = &schema.config;
                scope.spawn(move || {
                    barrier.wait();
                    PostgresStore::connect_with(config)
                        .unwrap()
                        .location()
                        .to_owned()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    });

    for location in &locations {
        assert!(
            location.ends_with(&format!(" schema={}", schema.name)),
            "{location}"
        );
    }
    let tables: i64 = schema
        .admin
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = $1",
            &[&schema.name],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 1);
    let comment: Option<String> = schema
        .admin
        .query_one(
            "SELECT obj_description('events'::regclass, 'pg_class')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(comment.as_deref(), Some("events-store schema version 1"));
}

fn connect_rejects_unknown_schema_version(schema: &mut TestSchema) {
    drop(schema.store());
    schema
        .admin
        .batch_execute("COMMENT ON TABLE events IS 'events-store schema version 2'")
        .unwrap();

    let error = PostgresStore::connect_with(&schema.config).unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::UnsupportedSchema {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains(&schema.name), "{error}");

    // A table named `events` that this crate did not create.
    schema
        .admin
        .batch_execute("DROP TABLE events; CREATE TABLE events (id int)")
        .unwrap();
    let error = PostgresStore::connect_with(&schema.config).unwrap_err();
    assert!(
        matches!(error, StoreError::UnsupportedSchema { found: 0, .. }),
        "{error:?}"
    );
}

fn lost_connection_reports_database_error(schema: &mut TestSchema) {
    let mut store = schema.store();
    store.append(&[placed(1)]).unwrap();
    let terminated: i64 = schema
        .admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = $1 AND pid <> pg_backend_pid()",
            &[&schema.name],
        )
        .unwrap()
        .get(0);
    assert_eq!(terminated, 1);

    let error = store.append(&[placed(2)]).unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Postgres {
                operation: "append events",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("connect a new store and retry"),
        "{error}"
    );
    let read = store.read(ReadFrom::Start).collect::<Vec<_>>();
    assert_eq!(read.len(), 1);
    assert!(
        matches!(
            read[0],
            Err(StoreError::Postgres {
                operation: "read events",
                ..
            })
        ),
        "{read:?}"
    );
    let version = store.stream_version("order-1").unwrap_err();
    assert!(
        matches!(
            version,
            StoreError::Postgres {
                operation: "read a stream version",
                ..
            }
        ),
        "{version:?}"
    );
}

/// Stores an order row and its event in one outbox transaction.
fn place_order(outbox: &mut PostgresOutbox, order_id: u64) -> Appended {
    outbox
        .transaction(|tx| {
            tx.execute(
                "INSERT INTO orders (id, total_cents) VALUES ($1, $2)",
                &[&(order_id as i64), &(order_id as i64 * 100)],
            )?;
            let appended = tx.append(&[placed(order_id)])?;
            Ok::<_, Box<dyn std::error::Error>>(appended[0])
        })
        .unwrap()
}

fn count_orders(outbox: &mut PostgresOutbox) -> i64 {
    outbox
        .query_one("SELECT count(*) FROM orders", &[])
        .unwrap()
        .get(0)
}

/// Builds a bus that records what it dispatches, since this test binary
/// registers no handlers.
fn recording_bus() -> (Bus, Recorder) {
    let recorder = Recorder::new();
    let bus = Bus::builder().observer(recorder.clone()).build().unwrap();
    (bus, recorder)
}

fn order_ids(recorder: &Recorder) -> Vec<u64> {
    recorder
        .events::<OrderPlaced>()
        .iter()
        .map(|order| order.order_id)
        .collect()
}

fn outbox_commits_rows_and_events_together(schema: &mut TestSchema) {
    let mut outbox = schema.outbox();
    assert_eq!(place_order(&mut outbox, 7).position, 1);
    assert_eq!(place_order(&mut outbox, 8).position, 2);

    assert_eq!(count_orders(&mut outbox), 2);
    let store = schema.store();
    let stored: Vec<_> = store.read(ReadFrom::Start).map(Result::unwrap).collect();
    let ids: Vec<u64> = stored
        .iter()
        .map(|event| {
            event
                .decode()
                .unwrap()
                .payload::<OrderPlaced>()
                .unwrap()
                .order_id
        })
        .collect();
    assert_eq!(ids, [7, 8]);

    // A stream append in a transaction checks the expected version.
    let conflict = outbox
        .transaction(|tx| {
            tx.append_to_stream("order-7", ExpectedVersion::NoStream, &[placed(9)])?;
            tx.append_to_stream("order-7", ExpectedVersion::NoStream, &[placed(10)])
        })
        .unwrap_err();
    assert!(
        matches!(conflict, StoreError::Conflict { actual: 1, .. }),
        "{conflict:?}"
    );
    assert_eq!(store.stream_version("order-7").unwrap(), 0);
}

fn outbox_error_rolls_back_everything(schema: &mut TestSchema) {
    let mut outbox = schema.outbox();
    let result = outbox.transaction(|tx| {
        tx.execute("INSERT INTO orders (id, total_cents) VALUES (7, 700)", &[])?;
        tx.append(&[placed(7)])?;
        Err::<(), Box<dyn std::error::Error>>("payment declined".into())
    });
    assert_eq!(result.unwrap_err().to_string(), "payment declined");
    assert_eq!(count_orders(&mut outbox), 0);
    assert_eq!(schema.store().read(ReadFrom::Start).count(), 0);

    // The position the rolled-back event had is given to the next one.
    assert_eq!(place_order(&mut outbox, 8).position, 1);
}

fn outbox_append_waits_for_earlier_commit(schema: &mut TestSchema) {
    let mut first = schema.outbox();
    let mut second = schema.outbox();
    let appended = Barrier::new(2);

    // The first transaction appends, then lingers before its commit. The
    // second appends meanwhile and must wait, so that its position comes
    // after the first's, as a reader paging by position needs.
    let (first_position, (second_position, second_waited)) = thread::scope(|scope| {
        let earlier = scope.spawn(|| {
            first
                .transaction(|tx| {
                    let position = tx.append(&[placed(1)])?[0].position;
                    appended.wait();
                    thread::sleep(Duration::from_millis(300));
                    Ok::<_, StoreError>(position)
                })
                .unwrap()
        });
        appended.wait();
        let started = Instant::now();
        let position = second
            .transaction(|tx| Ok::<_, StoreError>(tx.append(&[placed(2)])?[0].position))
            .unwrap();
        (earlier.join().unwrap(), (position, started.elapsed()))
    });

    assert_eq!((first_position, second_position), (1, 2));
    assert!(
        second_waited >= Duration::from_millis(200),
        "the second append returned after {second_waited:?}, before the first committed"
    );
}

fn outbox_relay_resumes_after_restart(schema: &mut TestSchema) {
    let mut outbox = schema.outbox();
    let store = schema.store();
    for order_id in [7, 8, 9] {
        place_order(&mut outbox, order_id);
    }

    let (bus, recorder) = recording_bus();
    let mut relay = OutboxRelay::new(schema.checkpoints()).unwrap();
    assert_eq!(relay.poll(&store, &bus).unwrap().dispatched, 3);
    assert_eq!(relay.relayed(), 3);
    assert_eq!(order_ids(&recorder), [7, 8, 9]);

    // A restarted relay loads the checkpoint from the database and relays
    // only what was committed since.
    drop(relay);
    place_order(&mut outbox, 10);
    let mut restarted = OutboxRelay::new(schema.checkpoints()).unwrap();
    assert_eq!(restarted.relayed(), 3);
    let report = restarted.poll(&store, &bus).unwrap();
    assert_eq!((report.dispatched, report.last_position), (1, Some(4)));
    assert_eq!(order_ids(&recorder), [7, 8, 9, 10]);
    assert_eq!(restarted.poll(&store, &bus).unwrap().read, 0);
}

fn subscription_resumes_from_postgres_checkpoint(schema: &mut TestSchema) {
    let mut store = schema.store();
    store.append(&[placed(1), placed(2)]).unwrap();
    let (bus, recorder) = recording_bus();

    let mut billing = Subscription::new("billing", schema.checkpoints()).unwrap();
    assert_eq!(billing.poll(&store, &bus).unwrap().dispatched, 2);
    drop(billing);

    store.append(&[placed(3)]).unwrap();
    let mut restarted = Subscription::new("billing", schema.checkpoints()).unwrap();
    assert_eq!(restarted.position(), 2);
    assert_eq!(restarted.poll(&store, &bus).unwrap().dispatched, 1);
    assert_eq!(order_ids(&recorder), [1, 2, 3]);

    // Another name has its own checkpoint, and a second connection loads it.
    let mut checkpoints = schema.checkpoints();
    assert_eq!(checkpoints.load("billing").unwrap(), Some(3));
    assert_eq!(checkpoints.load("search").unwrap(), None);
    checkpoints.save("search", 2).unwrap();
    assert_eq!(schema.checkpoints().load("search").unwrap(), Some(2));
}

fn replay_skips_undecodable_rows(schema: &mut TestSchema) {
    let mut store = schema.store();
    store.append(&[placed(1)]).unwrap();
    let unknown = br#"{"specversion":"1.0","id":"u-1","source":"erp","type":"erp.VendorSynced"}"#;
    store.append(&[&unknown[..]]).unwrap();
    store.append(&[placed(3)]).unwrap();

    let (bus, recorder) = recording_bus();
    let report = replay(&store, &bus, ReadFrom::Start, ReplayOptions::new()).unwrap();
    assert_eq!((report.read, report.dispatched), (3, 2));
    assert_eq!(report.undecodable.len(), 1);
    assert_eq!(report.undecodable[0].position, 2);
    assert!(
        report.undecodable[0].error.contains("erp.VendorSynced"),
        "{}",
        report.undecodable[0].error
    );
    assert_eq!(order_ids(&recorder), [1, 3]);
    let letters = bus.dead_letters().list().unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].1.event_name(), "erp.VendorSynced");
}

/// A shipment, handled by an `async` handler.
#[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[event(name = "store.ParcelShipped")]
struct ParcelShipped {
    parcel_id: u64,
}

#[on(ParcelShipped)]
async fn track_parcel(parcel: &ParcelShipped) -> Result<(), String> {
    tokio::task::yield_now().await;
    if parcel.parcel_id == 0 {
        return Err(String::from("parcel 0 has no carrier"));
    }
    Ok(())
}

fn replay_async_handlers_from_blocking_thread(schema: &mut TestSchema) {
    let mut store = schema.store();
    let parcels: Vec<_> = (1..=3)
        .map(|parcel_id| Envelope::new(ParcelShipped { parcel_id }))
        .collect();
    store.append(&parcels).unwrap();

    // The synchronous client may not run inside the runtime, so the pages
    // are read on a blocking thread, and each event's async handlers run
    // on the runtime through its handle, between two reads.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let report = runtime.block_on(async move {
        tokio::task::spawn_blocking(move || {
            let handle = tokio::runtime::Handle::current();
            let bus = Bus::new();
            let mut replay = Replay::new(ReplayOptions::new());
            for event in store.read(ReadFrom::Start) {
                handle.block_on(replay.handle_async(&bus, event)).unwrap();
            }
            replay.into_report()
        })
        .await
        .unwrap()
    });
    assert_eq!(report.dispatched, 3);
    assert_eq!(report.handler_failures, 0);
}

fn subscription_poll_blocking_runs_async_handlers(schema: &mut TestSchema) {
    let mut store = schema.store();
    let parcels: Vec<_> = (0..3)
        .map(|parcel_id| Envelope::new(ParcelShipped { parcel_id }))
        .collect();
    store.append(&parcels).unwrap();
    let checkpoints = schema.checkpoints();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let (report, bus) = runtime.block_on(async move {
        tokio::task::spawn_blocking(move || {
            let runtime = tokio::runtime::Handle::current();
            let bus = Bus::new();
            let mut tracker = Subscription::new("tracker", checkpoints).unwrap();
            let report = tracker.poll_blocking(&store, &bus, &runtime).unwrap();
            (report, bus)
        })
        .await
        .unwrap()
    });

    // Parcel 0 has no carrier: its handler fails, the event is kept as a
    // dead letter, and the checkpoint moves past it.
    assert_eq!(report.dispatched, 3);
    assert_eq!(report.failed_positions, [1]);
    assert_eq!(bus.dead_letters().list().unwrap().len(), 1);
    assert_eq!(schema.checkpoints().load("tracker").unwrap(), Some(3));
}

fn connections_close_when_dropped_in_runtime(schema: &mut TestSchema) {
    let store = schema.store();
    let outbox = schema.outbox();
    let checkpoints = schema.checkpoints();
    assert_eq!(open_connections(schema), 3);

    // The client closes its connection through a runtime of its own, which
    // may not start inside another: dropping it in async code must not panic.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async move {
        drop(store);
        drop(outbox);
        drop(checkpoints);
    });

    let deadline = Instant::now() + Duration::from_secs(10);
    while open_connections(schema) > 0 {
        assert!(
            Instant::now() < deadline,
            "{} connections still open",
            open_connections(schema)
        );
        thread::sleep(Duration::from_millis(10));
    }
}

fn connect_names_missing_search_path_schema(schema: &mut TestSchema) {
    let mut config = schema.config.clone();
    let missing = format!("{}_missing", schema.name);
    config.options(&format!("-c search_path={missing}"));

    let error = PostgresStore::connect_with(&config).unwrap_err();
    assert!(
        matches!(error, StoreError::PostgresConnect { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains(&format!("search_path={missing}")),
        "{message}"
    );
    assert!(message.contains("exists"), "{message}");
}

/// Counts the server connections of the test's stores, which carry the
/// schema name as their application name.
fn open_connections(schema: &mut TestSchema) -> i64 {
    schema
        .admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            &[&schema.name],
        )
        .unwrap()
        .get(0)
}

/// Runs without a server: nothing listens on port 1 of the loopback address.
fn connect_reports_unreachable_server() -> Result<(), Failed> {
    let error = PostgresStore::connect(
        "host=127.0.0.1 port=1 user=shop password=secret dbname=shop connect_timeout=5",
    )
    .unwrap_err();

    assert!(
        matches!(error, StoreError::PostgresConnect { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("host=127.0.0.1 port=1 dbname=shop user=shop"),
        "{message}"
    );
    assert!(!message.contains("secret"), "{message}");

    let invalid = PostgresStore::connect("host=127.0.0.1 port=not-a-number").unwrap_err();
    assert!(
        matches!(invalid, StoreError::InvalidConnectionString { .. }),
        "{invalid:?}"
    );
    let message = invalid.to_string();
    assert!(
        message.contains("`host=127.0.0.1 port=not-a-number`"),
        "{message}"
    );
    assert!(message.contains("postgresql://"), "{message}");
    assert!(message.contains("option `port`"), "{message}");

    // The password of a string that does not parse stays out of the message.
    for params in [
        "postgress://shop:secret@127.0.0.1/shop",
        "host=127.0.0.1 password=secret port=x",
        "postgresql://127.0.0.1/shop?password=secret&port=x",
    ] {
        let message = PostgresStore::connect(params).unwrap_err().to_string();
        assert!(!message.contains("secret"), "{message}");
        assert!(message.contains("***"), "{message}");
    }

    // Without a host, the location shows `host=(none)` rather than a default.
    let no_host = PostgresStore::connect("user=shop connect_timeout=5").unwrap_err();
    assert!(no_host.to_string().contains("host=(none)"), "{no_host}");
    Ok(())
}

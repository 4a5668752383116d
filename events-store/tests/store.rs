//! Behaviour of the SQLite store: appends, idempotency, stream versions,
//! reads with filters, and rows written by other tools.

use std::sync::Barrier;

use events::{Envelope, Event};
use events_store::{Appended, ExpectedVersion, Query, ReadFrom, SqliteStore, Store, StoreError};
use serde::{Deserialize, Serialize};

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

fn positions(store: &SqliteStore, query: impl Into<Query>) -> Vec<u64> {
    store
        .read(query)
        .map(|event| event.unwrap().position)
        .collect()
}

#[test]
fn append_returns_consecutive_positions() {
    let mut store = SqliteStore::in_memory().unwrap();
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

#[test]
fn round_trip_keeps_every_attribute_byte_for_byte() {
    let mut store = SqliteStore::in_memory().unwrap();
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

    store.append(&[&envelope]).unwrap();
    let stored = store.read(ReadFrom::Start).next().unwrap().unwrap();

    assert_eq!(stored.json, json);
    assert_eq!(stored.id, "order-7-placed");
    assert_eq!(stored.name, "store.OrderPlaced");
    assert_eq!(stored.version, 2);
    assert_eq!(
        stored.time.as_deref(),
        Some("2026-01-02T03:04:05.123456789Z")
    );

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
}

#[test]
fn append_keeps_encoded_json_byte_for_byte() {
    let mut store = SqliteStore::in_memory().unwrap();
    // Spacing, attribute order and a time offset that serialising again would change.
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

#[test]
fn append_accepts_dyn_envelopes() {
    let mut store = SqliteStore::in_memory().unwrap();
    let received = br#"{"specversion":"1.0","id":"erp-2","source":"erp","type":"store.OrderShipped","data":{"order_id":8,  "note":"kept"}}"#;
    let decoded = events::decode(received).unwrap();

    store.append(&[&decoded]).unwrap();
    let stored = store.read(ReadFrom::Start).next().unwrap().unwrap();

    assert_eq!(stored.json, serde_json::to_vec(&decoded).unwrap());
    assert_eq!(
        stored.decode().unwrap().data_json(),
        Some(r#"{"order_id":8,  "note":"kept"}"#)
    );
}

#[test]
fn append_reports_duplicates_without_storing_them() {
    let mut store = SqliteStore::in_memory().unwrap();
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
}

#[test]
fn append_reports_duplicates_within_a_batch() {
    let mut store = SqliteStore::in_memory().unwrap();
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

#[test]
fn append_rejects_invalid_event_and_stores_nothing() {
    let mut store = SqliteStore::in_memory().unwrap();
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

#[test]
fn append_rolls_back_failed_batch() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("events.db");
    let mut store = SqliteStore::open(&path).unwrap();
    // A trigger that fails the insert of one event, after others of the
    // batch are inserted.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER reject_order_13 BEFORE INSERT ON events \
             WHEN NEW.event_id = 'order-13' BEGIN SELECT RAISE(ABORT, 'rejected'); END;",
        )
        .unwrap();

    let batch = [placed(11), placed(12), placed(13).with_id("order-13")];
    let error = store
        .append_to_stream("orders", ExpectedVersion::Any, &batch)
        .unwrap_err();

    assert!(
        matches!(
            error,
            StoreError::Database {
                operation: "append events",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("events.db"), "{error}");
    assert_eq!(store.read(ReadFrom::Start).count(), 0);
    assert_eq!(store.stream_version("orders").unwrap(), 0);
}

#[test]
fn append_to_stream_assigns_versions() {
    let mut store = SqliteStore::in_memory().unwrap();
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
}

#[test]
fn append_to_stream_rejects_wrong_version() {
    let mut store = SqliteStore::in_memory().unwrap();
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
}

#[test]
fn append_to_stream_retry_returns_duplicates() {
    let mut store = SqliteStore::in_memory().unwrap();
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

#[test]
fn concurrent_writers_same_version_one_wins() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("events.db");
    let mut writers = [
        SqliteStore::open(&path).unwrap(),
        SqliteStore::open(&path).unwrap(),
    ];

    for round in 0..20u64 {
        let barrier = Barrier::new(2);
        let results: Vec<Result<Vec<Appended>, StoreError>> = std::thread::scope(|scope| {
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
    let reader = SqliteStore::open(&path).unwrap();
    assert_eq!(reader.stream_version("order-1").unwrap(), 20);
    assert_eq!(
        positions(&reader, ReadFrom::Start),
        (1..=20).collect::<Vec<_>>()
    );
}

#[test]
fn concurrent_opens_of_new_file_succeed() {
    // Switching a new file to WAL mode needs it for a moment alone, and
    // SQLite reports the others' attempts as busy without waiting. Without
    // the retry in `open`, about one round in fourteen fails here.
    const OPENERS: usize = 4;
    for round in 0..100 {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("events.db");
        let barrier = Barrier::new(OPENERS);
        let results: Vec<Result<SqliteStore, StoreError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..OPENERS)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        SqliteStore::open(&path)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().unwrap())
                .collect()
        });
        for (opener, result) in results.into_iter().enumerate() {
            let mut store =
                result.unwrap_or_else(|error| panic!("round {round}, opener {opener}: {error}"));
            store.append(&[placed(opener as u64)]).unwrap();
        }
    }
}

#[test]
fn read_pages_through_every_event() {
    let mut store = SqliteStore::in_memory().unwrap();
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

#[test]
fn read_sees_events_appended_while_reading() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("events.db");
    let mut writer = SqliteStore::open(&path).unwrap();
    let reader = SqliteStore::open(&path).unwrap();
    writer.append(&[placed(1), placed(2)]).unwrap();

    let mut events = reader.read(Query::from(ReadFrom::Start).page_size(2));
    assert_eq!(events.next().unwrap().unwrap().position, 1);
    writer.append(&[placed(3)]).unwrap();
    let rest: Vec<u64> = events.map(|event| event.unwrap().position).collect();

    assert_eq!(rest, [2, 3]);
}

#[test]
fn read_filters_by_name_stream_and_time() {
    let mut store = SqliteStore::in_memory().unwrap();
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

#[test]
fn read_keeps_bad_rows_as_errors() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("events.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store.append(&[placed(1)]).unwrap();
    // Rows a tool outside the store wrote: a version that is not a number,
    // and a payload that is not an event.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "INSERT INTO events (event_id, name, version, source, payload) \
                 VALUES ('bad-version', 'store.OrderPlaced', 'two', 'tool', x'7b7d'); \
             INSERT INTO events (event_id, name, version, source, payload) \
                 VALUES ('bad-payload', 'store.OrderPlaced', 2, 'tool', 'not json');",
        )
        .unwrap();
    store.append(&[placed(4)]).unwrap();

    let results: Vec<_> = store
        .read(Query::from(ReadFrom::Start).page_size(2))
        .collect();

    assert_eq!(results.len(), 4);
    assert!(results[0].as_ref().unwrap().decode().is_ok());
    match &results[1] {
        Err(StoreError::InvalidRow {
            position, reason, ..
        }) => {
            assert_eq!(*position, 2);
            assert!(reason.contains("`version`"), "{reason}");
        }
        other => panic!("expected an invalid row, got {other:?}"),
    }
    let bad_payload = results[2].as_ref().unwrap();
    assert_eq!(bad_payload.json, b"not json");
    assert_eq!(bad_payload.decode().unwrap_err().reason(), "malformed JSON");
    assert_eq!(results[3].as_ref().unwrap().position, 4);
}

#[test]
fn open_rejects_unknown_schema_version() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("events.db");
    drop(SqliteStore::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 2)
        .unwrap();

    let error = SqliteStore::open(&path).unwrap_err();

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
    assert!(error.to_string().contains("events.db"), "{error}");
}

#[test]
fn open_uses_wal_mode() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("events.db");
    drop(SqliteStore::open(&path).unwrap());

    let mode: String = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();

    assert_eq!(mode, "wal");
}

/// Returns the names of the tables in the SQLite file at `path`.
fn table_names(path: &std::path::Path) -> Vec<String> {
    let connection = rusqlite::Connection::open(path).unwrap();
    let mut statement = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap();
    let names = statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    names
}

#[test]
fn open_existing_rejects_missing_file() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("missing.db");

    let error = SqliteStore::open_existing(&path).unwrap_err();

    assert!(matches!(error, StoreError::Open { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("missing.db"), "{message}");
    assert!(message.contains("the file does not exist"), "{message}");
    assert!(!path.exists(), "the file was created");
}

#[test]
fn open_existing_leaves_empty_file_unchanged() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("empty.db");
    std::fs::write(&path, b"").unwrap();

    let error = SqliteStore::open_existing(&path).unwrap_err();

    assert!(
        matches!(error, StoreError::NotAnEventStore { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("empty.db"), "{error}");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
}

#[test]
fn open_existing_rejects_foreign_database() {
    // Other programs set `user_version` for their own schemas, 1 included.
    for user_version in [0, 1, 7] {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("foreign.db");
        let foreign = rusqlite::Connection::open(&path).unwrap();
        foreign
            .execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
            .unwrap();
        foreign
            .pragma_update(None, "user_version", user_version)
            .unwrap();
        drop(foreign);

        let error = SqliteStore::open_existing(&path).unwrap_err();

        assert!(
            matches!(error, StoreError::NotAnEventStore { .. }),
            "user_version {user_version}: {error:?}"
        );
        assert_eq!(table_names(&path), ["users"], "user_version {user_version}");
    }
}

#[test]
fn open_existing_rejects_text_file() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("notes.db");
    std::fs::write(&path, b"not a database\n").unwrap();

    let error = SqliteStore::open_existing(&path).unwrap_err();

    assert!(matches!(error, StoreError::Open { .. }), "{error:?}");
    assert!(
        error.to_string().contains("file is not a database"),
        "{error}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"not a database\n");
}

#[test]
fn open_existing_rejects_directory() {
    let directory = tempfile::tempdir().unwrap();

    let error = SqliteStore::open_existing(directory.path()).unwrap_err();

    assert!(matches!(error, StoreError::Open { .. }), "{error:?}");
    assert!(
        error.to_string().contains("the path is a directory"),
        "{error}"
    );
    assert_eq!(std::fs::read_dir(directory.path()).unwrap().count(), 0);
}

#[test]
fn open_existing_reads_and_appends_to_store() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("events.db");
    SqliteStore::open(&path)
        .unwrap()
        .append(&[placed(1), placed(2)])
        .unwrap();

    let mut store = SqliteStore::open_existing(&path).unwrap();

    assert_eq!(store.location(), path.display().to_string());
    assert_eq!(positions(&store, ReadFrom::Start), [1, 2]);
    store.append(&[placed(3)]).unwrap();
    assert_eq!(positions(&store, ReadFrom::Start), [1, 2, 3]);
}

#[test]
fn open_existing_rejects_unknown_schema_version() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("events.db");
    drop(SqliteStore::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 2)
        .unwrap();

    let error = SqliteStore::open_existing(&path).unwrap_err();

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
}

#[test]
fn open_rejects_foreign_events_table() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("audit.db");
    let foreign = rusqlite::Connection::open(&path).unwrap();
    foreign
        .execute_batch("CREATE TABLE events (id INTEGER PRIMARY KEY, message TEXT)")
        .unwrap();
    drop(foreign);

    let error = SqliteStore::open(&path).unwrap_err();

    assert!(
        matches!(error, StoreError::NotAnEventStore { .. }),
        "{error:?}"
    );
    // The other program's table and version are left as they were.
    let check = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = check
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, 0);
    let columns: i64 = check
        .query_row(
            "SELECT count(*) FROM pragma_table_info('events')",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(columns, 2);
}

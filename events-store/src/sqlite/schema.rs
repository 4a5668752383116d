//! Creating and checking the SQLite schema.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::StoreError;

/// The schema version recorded in `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 1;

/// The schema, shown in the crate documentation; keep both in step.
const CREATE: &str = "
CREATE TABLE IF NOT EXISTS events (
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
PRAGMA user_version = 1;
";

/// Creates the schema in a database that has none, and rejects a database
/// with another schema version.
pub(super) fn create_if_missing(
    connection: &mut Connection,
    location: &str,
) -> Result<(), StoreError> {
    let open_error = |source| StoreError::Open {
        location: location.to_owned(),
        error: source,
    };
    // The write lock makes a second process opening a new file at the same
    // time wait, then find the schema in place.
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(open_error)?;
    let found: i64 = transaction
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(open_error)?;
    match found {
        0 => {
            // A table named `events` in a database without a version was
            // created by another program, and `CREATE TABLE IF NOT EXISTS`
            // would adopt it.
            let foreign: bool = transaction
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM sqlite_master \
                     WHERE type = 'table' AND name = 'events')",
                    [],
                    |row| row.get(0),
                )
                .map_err(open_error)?;
            if foreign {
                return Err(StoreError::NotAnEventStore {
                    location: location.to_owned(),
                });
            }
            transaction.execute_batch(CREATE).map_err(open_error)?;
        }
        SCHEMA_VERSION => {}
        _ => {
            return Err(StoreError::UnsupportedSchema {
                location: location.to_owned(),
                found,
                supported: SCHEMA_VERSION,
            })
        }
    }
    transaction.commit().map_err(open_error)
}

/// Reads the schema version and whether the `events` table exists, in one
/// statement so that both come from the same snapshot.
const INSPECT: &str = "SELECT (SELECT user_version FROM pragma_user_version), \
     EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events')";

/// Checks that a database already contains the schema of this crate, without
/// creating or changing anything.
///
/// A database without the `events` table, or with `PRAGMA user_version` 0,
/// is not an event store. A file that is not an SQLite database fails with
/// [`StoreError::Open`], because this is the first read of the file.
pub(super) fn check_existing(connection: &Connection, location: &str) -> Result<(), StoreError> {
    let (found, has_table): (i64, bool) = connection
        .query_row(INSPECT, [], |row| Ok((row.get(0)?, row.get(1)?)))
        .map_err(|source| StoreError::Open {
            location: location.to_owned(),
            error: source,
        })?;
    // Other programs set `user_version` too, so a database without the
    // table is not an event store whatever its version.
    let found = if has_table { found } else { 0 };
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    if found == 0 {
        return Err(StoreError::NotAnEventStore {
            location: location.to_owned(),
        });
    }
    Err(StoreError::UnsupportedSchema {
        location: location.to_owned(),
        found,
        supported: SCHEMA_VERSION,
    })
}

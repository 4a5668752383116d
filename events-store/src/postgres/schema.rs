//! Creating and checking the PostgreSQL schema.

use ::postgres::{Client, IsolationLevel, Transaction};

use crate::error::StoreError;

/// The schema version, recorded in the comment on the `events` table as
/// `events-store schema version 1`.
const SCHEMA_VERSION: i64 = 1;

/// The prefix of the table comment that carries the schema version.
const COMMENT_PREFIX: &str = "events-store schema version ";

/// The key of the transaction-level advisory lock that serialises schema
/// creation, so that two stores connecting to a new database at the same
/// time do not both run `CREATE TABLE`. It is the bytes of "evstore1".
const CREATE_LOCK: i64 = 0x6576_7374_6f72_6531;

/// The schema, shown in the `PostgresStore` documentation; keep both in step.
const CREATE: &str = "
CREATE TABLE events (
    position       BIGINT PRIMARY KEY CHECK (position >= 1),
    event_id       TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    version        BIGINT NOT NULL CHECK (version BETWEEN 0 AND 4294967295),
    time           TEXT,
    time_ns        BIGINT,
    source         TEXT NOT NULL,
    subject        TEXT,
    correlation_id TEXT,
    causation_id   TEXT,
    stream         TEXT,
    stream_version BIGINT CHECK (stream_version >= 1),
    payload        BYTEA NOT NULL,
    UNIQUE (stream, stream_version),
    CHECK ((stream IS NULL) = (stream_version IS NULL))
);
COMMENT ON TABLE events IS 'events-store schema version 1';
";

/// Creates the `events` table in the first schema of the `search_path`
/// when no table of that name is visible, and rejects a table with another
/// schema version. Returns the name of the schema the table is in.
pub(super) fn create_if_missing(client: &mut Client, location: &str) -> Result<String, StoreError> {
    let connect_error = |source| StoreError::PostgresConnect {
        location: location.to_owned(),
        error: source,
    };
    let mut transaction = begin_locked(client).map_err(connect_error)?;

    // `to_regclass` resolves the name through the `search_path`, as the
    // queries of the store do.
    let existing = transaction
        .query_opt(
            "SELECT n.nspname::text, obj_description(c.oid, 'pg_class') \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.oid = to_regclass('events')",
            &[],
        )
        .map_err(connect_error)?;

    let schema = match existing {
        None => {
            transaction.batch_execute(CREATE).map_err(connect_error)?;
            transaction
                .query_one("SELECT current_schema()::text", &[])
                .and_then(|row| row.try_get::<_, String>(0))
                .map_err(connect_error)?
        }
        Some(row) => {
            let schema: String = row.try_get(0).map_err(connect_error)?;
            let comment: Option<String> = row.try_get(1).map_err(connect_error)?;
            let found = comment
                .as_deref()
                .and_then(|comment| comment.strip_prefix(COMMENT_PREFIX))
                .and_then(|version| version.parse().ok())
                // NOTE: a table named `events` that this crate did not
                // create has no such comment and is reported as version 0.
                .unwrap_or(0);
            if found != SCHEMA_VERSION {
                return Err(StoreError::UnsupportedSchema {
                    location: format!("{location} schema={schema}"),
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            schema
        }
    };
    transaction.commit().map_err(connect_error)?;
    Ok(schema)
}

/// The checkpoint table, shown in the `PostgresCheckpoints` documentation;
/// keep both in step.
const CREATE_CHECKPOINTS: &str = "
CREATE TABLE IF NOT EXISTS checkpoints (
    name     TEXT PRIMARY KEY,
    position BIGINT NOT NULL CHECK (position >= 0)
)";

/// Creates the `checkpoints` table when no table of that name is visible
/// through the `search_path`.
pub(super) fn create_checkpoints_if_missing(
    client: &mut Client,
    location: &str,
) -> Result<(), StoreError> {
    let connect_error = |source| StoreError::PostgresConnect {
        location: location.to_owned(),
        error: source,
    };
    // Two connections running `CREATE TABLE IF NOT EXISTS` at once can
    // both miss the table, and one then fails on a catalog constraint.
    let mut transaction = begin_locked(client).map_err(connect_error)?;
    transaction
        .batch_execute(CREATE_CHECKPOINTS)
        .map_err(connect_error)?;
    transaction.commit().map_err(connect_error)
}

/// Begins a transaction that holds the lock serialising schema creation
/// until it ends.
fn begin_locked(client: &mut Client) -> Result<Transaction<'_>, ::postgres::Error> {
    let mut transaction = client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()?;
    transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&CREATE_LOCK])?;
    Ok(transaction)
}

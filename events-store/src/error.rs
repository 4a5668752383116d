//! Errors of every store backend.

use crate::stream::ExpectedVersion;

/// A failure of an event store operation.
///
/// Each message names the database, the stream or the position involved,
/// the cause, and what to do next. Since the message contains the cause,
/// [`source`](std::error::Error::source) returns `None`, so that printing
/// the chain of causes (as `anyhow` does) does not repeat it. The cause
/// itself is the `error` field of the variants that have one.
///
/// ```
/// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// use events_store::{ExpectedVersion, SqliteStore, Store, StoreError};
///
/// let mut store = SqliteStore::in_memory()?;
/// let order = [Envelope::new(OrderPlaced { order_id: 7 })];
/// let error = store.append_to_stream("order-7", ExpectedVersion::Exact(2), &order).unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "stream `order-7` is at version 0 (no events), but the append expected version 2; \
///      read the stream again and retry the command against its current state"
/// );
/// # Ok::<(), StoreError>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database could not be opened or prepared for use.
    #[error(
        "failed to open the event store at {location}: {error}; check that the directory \
         exists and is writable and that the file is an SQLite database"
    )]
    Open {
        /// The file path, or `:memory:`.
        location: String,
        /// The SQLite error.
        error: rusqlite::Error,
    },

    /// The database has a schema version this crate does not know.
    #[error(
        "the event store at {location} has schema version {found}, but this version of \
         events-store reads version {supported}; open it with a matching events-store version"
    )]
    UnsupportedSchema {
        /// The file path, or the PostgreSQL server, database and schema.
        location: String,
        /// The version found: `PRAGMA user_version` in SQLite, the comment
        /// on the `events` table in PostgreSQL.
        found: i64,
        /// The version this crate reads and writes.
        supported: i64,
    },

    /// The SQLite file is not an event store: it has no `events` table of
    /// this crate, or another program's table of that name. Nothing was
    /// created or changed in it.
    #[error(
        "{location} is not an event store: it has no `events` table of events-store; \
         pass the path of a file that `SqliteStore::open` created, or of a new file"
    )]
    NotAnEventStore {
        /// The file path.
        location: String,
    },

    /// A database operation failed.
    #[error(
        "failed to {operation} in the event store at {location}: {error}; \
         if the database is locked, another writer held it longer than the busy timeout"
    )]
    Database {
        /// The file path, or `:memory:`.
        location: String,
        /// The failed operation, such as `append events`.
        operation: &'static str,
        /// The SQLite error.
        error: rusqlite::Error,
    },

    /// The PostgreSQL server could not be reached, or the schema could not
    /// be created or checked.
    #[cfg(feature = "postgres")]
    #[error(
        "failed to connect to the PostgreSQL event store at {location}: {}; check the \
         connection string, that the server is running and accepts this user, and that the \
         first schema of its `search_path` exists and the user may create tables in it",
        postgres_reason(error)
    )]
    PostgresConnect {
        /// The server and database, without the password.
        location: String,
        /// The error of the `postgres` client.
        error: postgres::Error,
    },

    /// A PostgreSQL connection string could not be parsed.
    #[cfg(feature = "postgres")]
    #[error(
        "invalid PostgreSQL connection string `{params}`: {}; write `key=value` pairs \
         such as `host=127.0.0.1 port=5432 user=shop dbname=shop`, or a URL such as \
         `postgresql://shop@127.0.0.1:5432/shop`",
        postgres_reason(error)
    )]
    InvalidConnectionString {
        /// The connection string, with its password replaced by `***`.
        params: String,
        /// The error of the `postgres` client.
        error: postgres::Error,
    },

    /// A PostgreSQL operation failed. A failed append stored nothing.
    #[cfg(feature = "postgres")]
    #[error(
        "failed to {operation} in the PostgreSQL event store at {location}: {}; \
         if the connection was lost, connect a new store and retry, since appends of \
         events with the same ids are idempotent",
        postgres_reason(error)
    )]
    Postgres {
        /// The server, database and schema, without the password.
        location: String,
        /// The failed operation, such as `append events`.
        operation: &'static str,
        /// The error of the `postgres` client.
        error: postgres::Error,
    },

    /// The stream is not at the version the append expected. Nothing was stored.
    #[error(
        "stream `{stream}` is at version {actual}{}, but the append expected {expected}; \
         read the stream again and retry the command against its current state",
        if *actual == 0 { " (no events)" } else { "" }
    )]
    Conflict {
        /// The stream id.
        stream: String,
        /// The version the append expected.
        expected: ExpectedVersion,
        /// The version the stream is at: its number of events.
        actual: u64,
    },

    /// An event of a batch could not be serialised. Nothing was stored.
    #[error(
        "failed to serialise event {index} of the batch as JSON: {error}; \
         check the payload's `Serialize` implementation"
    )]
    Serialize {
        /// The index of the event in the batch, from 0.
        index: usize,
        /// The `serde_json` error.
        error: serde_json::Error,
    },

    /// An event of a batch is not a CloudEvents 1.0 JSON event. Nothing was stored.
    #[error(
        "event {index} of the batch is not a valid CloudEvents JSON event: {reason}; \
         fix the event or leave it out of the batch"
    )]
    InvalidEvent {
        /// The index of the event in the batch, from 0.
        index: usize,
        /// The reason it is invalid.
        reason: String,
    },

    /// A handler of a stored event is `async`, and a synchronous replay or
    /// poll cannot run it. Its handlers did not all run, and the replay or
    /// poll stopped before the event, without moving a checkpoint past it.
    #[error(
        "the handler `{handler}` of `{event}`, run for the stored event at position {position}, \
         is async, which a synchronous replay or poll cannot run; for subscriptions and the \
         outbox relay use `poll_blocking` (any store) or `poll_async` (SQLite only), and for \
         a replay `replay_async`"
    )]
    NeedsAsync {
        /// The global position of the stored event.
        position: u64,
        /// The name of the event the handler takes: the stored event's, or
        /// that of a follow-up one of its handlers emitted.
        event: String,
        /// The handler's name.
        handler: String,
    },

    /// A stored row could not be read, for example because a tool outside
    /// this crate wrote a NULL payload.
    #[error(
        "the row at position {position} of the event store at {location} is invalid: {reason}; \
         repair or delete the row with the database's shell (sqlite3 or psql)"
    )]
    InvalidRow {
        /// The file path, `:memory:`, or the PostgreSQL server, database and schema.
        location: String,
        /// The global position of the row.
        position: u64,
        /// The reason it is invalid.
        reason: String,
    },
}

/// Describes a `postgres` client error with its cause, which its own
/// `Display` leaves out: the server's message, or the I/O error of a failed
/// connection.
#[cfg(feature = "postgres")]
fn postgres_reason(error: &postgres::Error) -> String {
    if let Some(server) = error.as_db_error() {
        return server.to_string();
    }
    match std::error::Error::source(error) {
        Some(cause) => format!("{error}: {cause}"),
        None => error.to_string(),
    }
}

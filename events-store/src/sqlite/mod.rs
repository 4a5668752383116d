//! The SQLite backend.

mod read;
mod schema;

use std::borrow::Cow;
use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{
    ffi, params, Connection, ErrorCode, OpenFlags, OptionalExtension, Transaction,
    TransactionBehavior,
};

use crate::appendable::{encode_all, parse_all, Appendable, Attributes};
use crate::error::StoreError;
use crate::query::Query;
use crate::stream::{Appended, ExpectedVersion};
use crate::Store;

pub use read::SqliteEvents;

const INSERT: &str =
    "INSERT INTO events (event_id, name, version, time, time_ns, source, subject, \
     correlation_id, causation_id, stream, stream_version, payload) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
     ON CONFLICT (event_id) DO NOTHING";

const FIND_BY_ID: &str = "SELECT position, stream_version FROM events WHERE event_id = ?1";

const STREAM_VERSION: &str = "SELECT MAX(stream_version) FROM events WHERE stream = ?1";

/// An event store in one SQLite database file, through one connection.
///
/// Several stores, in one process or many, may open the same file: SQLite
/// serialises their appends with its write lock. See the crate
/// documentation for the schema.
///
/// ```
/// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// use events_store::{ReadFrom, SqliteStore, Store};
///
/// let directory = tempfile::tempdir().unwrap();
/// let path = directory.path().join("events.db");
/// SqliteStore::open(&path)?.append(&[Envelope::new(OrderPlaced { order_id: 7 })])?;
///
/// let reopened = SqliteStore::open(&path)?;
/// assert_eq!(reopened.read(ReadFrom::Start).count(), 1);
/// # Ok::<(), events_store::StoreError>(())
/// ```
pub struct SqliteStore {
    connection: Connection,
    /// The file path, or `:memory:`, for error messages.
    location: String,
}

impl SqliteStore {
    /// How long an append waits for another connection's write lock before
    /// it fails with [`StoreError::Database`]: 5 seconds.
    ///
    /// ```
    /// assert_eq!(events_store::SqliteStore::BUSY_TIMEOUT.as_secs(), 5);
    /// ```
    pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

    /// Opens the store in the SQLite file at `path`, creating the file and
    /// the schema if they are missing, and switches the database to WAL mode.
    ///
    /// # Errors
    ///
    /// [`StoreError::Open`] when the file cannot be opened or is not an
    /// SQLite database, [`StoreError::NotAnEventStore`] when another program
    /// created a table named `events` in it, and
    /// [`StoreError::UnsupportedSchema`] when it was written by an
    /// events-store with another schema version.
    ///
    /// ```
    /// use events_store::{SqliteStore, StoreError};
    ///
    /// let directory = tempfile::tempdir().unwrap();
    /// let store = SqliteStore::open(directory.path().join("events.db"))?;
    /// assert!(store.location().ends_with("events.db"));
    ///
    /// let error = SqliteStore::open(directory.path().join("missing/events.db")).unwrap_err();
    /// assert!(matches!(error, StoreError::Open { .. }));
    /// # Ok::<(), StoreError>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let location = path.as_ref().display().to_string();
        let open_error = |source| StoreError::Open {
            location: location.clone(),
            error: source,
        };
        let connection = Connection::open(path.as_ref()).map_err(open_error)?;
        connection
            .busy_timeout(Self::BUSY_TIMEOUT)
            .map_err(open_error)?;
        switch_to_wal(&connection).map_err(open_error)?;
        SqliteStore::prepare(connection, location)
    }

    /// Opens the store in the SQLite file at `path` only when the file
    /// already contains one, for readers such as a replay. Unlike
    /// [`open`](SqliteStore::open), it creates neither the file nor the
    /// schema, and writes nothing to a file that is not an event store.
    /// It opens the file for reading and writing, so that WAL mode works
    /// and the store can also be appended to.
    ///
    /// # Errors
    ///
    /// - [`StoreError::Open`] when the file does not exist, the path is a
    ///   directory, or the file is not an SQLite database.
    /// - [`StoreError::NotAnEventStore`] when the file is an SQLite
    ///   database without the `events` table of this crate, such as an
    ///   empty file or another program's database.
    /// - [`StoreError::UnsupportedSchema`] when an events-store with another
    ///   schema version wrote it.
    ///
    /// ```
    /// use events_store::{ReadFrom, SqliteStore, Store, StoreError};
    ///
    /// let directory = tempfile::tempdir().unwrap();
    /// let path = directory.path().join("events.db");
    ///
    /// let error = SqliteStore::open_existing(&path).unwrap_err();
    /// assert!(matches!(error, StoreError::Open { .. }));
    /// assert!(!path.exists());
    ///
    /// drop(SqliteStore::open(&path)?);
    /// let store = SqliteStore::open_existing(&path)?;
    /// assert_eq!(store.read(ReadFrom::Start).count(), 0);
    /// # Ok::<(), StoreError>(())
    /// ```
    pub fn open_existing(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref();
        let location = path.display().to_string();
        let open_error = |source| StoreError::Open {
            location: location.clone(),
            error: source,
        };
        // The flags of `Connection::open` without `SQLITE_OPEN_CREATE`.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let connection = Connection::open_with_flags(path, flags)
            .map_err(|source| open_error(explain_open_failure(path, source)))?;
        connection
            .busy_timeout(Self::BUSY_TIMEOUT)
            .map_err(open_error)?;
        // Checked before the switch to WAL mode, which writes to the file.
        schema::check_existing(&connection, &location)?;
        switch_to_wal(&connection).map_err(open_error)?;
        make_durable(&connection).map_err(open_error)?;
        Ok(SqliteStore {
            connection,
            location,
        })
    }

    /// Opens a store that lives in memory and disappears when dropped, for tests.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// use events_store::{SqliteStore, Store};
    ///
    /// let mut store = SqliteStore::in_memory()?;
    /// assert_eq!(store.location(), ":memory:");
    /// store.append(&[Envelope::new(OrderPlaced { order_id: 7 })])?;
    /// # Ok::<(), events_store::StoreError>(())
    /// ```
    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        let location = String::from(":memory:");
        let connection = Connection::open_in_memory().map_err(|source| StoreError::Open {
            location: location.clone(),
            error: source,
        })?;
        SqliteStore::prepare(connection, location)
    }

    /// Returns the path of the database file, or `:memory:`.
    ///
    /// ```
    /// let store = events_store::SqliteStore::in_memory()?;
    /// assert_eq!(store.location(), ":memory:");
    /// # Ok::<(), events_store::StoreError>(())
    /// ```
    pub fn location(&self) -> &str {
        &self.location
    }

    fn prepare(connection: Connection, location: String) -> Result<SqliteStore, StoreError> {
        make_durable(&connection).map_err(|source| StoreError::Open {
            location: location.clone(),
            error: source,
        })?;
        let mut store = SqliteStore {
            connection,
            location,
        };
        schema::create_if_missing(&mut store.connection, &store.location)?;
        Ok(store)
    }

    /// Returns a function that wraps an SQLite error of `operation`.
    fn database_error(&self, operation: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
        let location = self.location.clone();
        move |source| StoreError::Database {
            location: location.clone(),
            operation,
            error: source,
        }
    }

    fn append_batch<T: Appendable>(
        &mut self,
        stream: Option<(&str, ExpectedVersion)>,
        events: &[T],
    ) -> Result<Vec<Appended>, StoreError> {
        let jsons = encode_all(events)?;
        let attributes = parse_all(&jsons)?;

        let error = self.database_error("append events");
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&error)?;
        let appended = append_in(&transaction, stream, &attributes, &jsons, &error)?;
        transaction.commit().map_err(&error)?;
        Ok(appended)
    }
}

/// Appends encoded events inside `transaction`, which the caller commits.
///
/// The transaction must hold the write lock from its start (`BEGIN
/// IMMEDIATE`), so that positions follow commit order and the stream
/// version read here cannot change before the insert.
pub(crate) fn append_in(
    transaction: &Transaction<'_>,
    stream: Option<(&str, ExpectedVersion)>,
    attributes: &[Attributes<'_>],
    jsons: &[Cow<'_, [u8]>],
    error: &impl Fn(rusqlite::Error) -> StoreError,
) -> Result<Vec<Appended>, StoreError> {
    let mut next_version = None;
    if let Some((stream, expected)) = stream {
        if let Some(duplicates) = find_all(transaction, attributes).map_err(error)? {
            return Ok(duplicates);
        }
        let actual = current_version(transaction, stream).map_err(error)?;
        if !expected.matches(actual) {
            return Err(StoreError::Conflict {
                stream: stream.to_owned(),
                expected,
                actual,
            });
        }
        next_version = Some(actual + 1);
    }

    let stream_name = stream.map(|(stream, _)| stream);
    insert_all(transaction, stream_name, next_version, attributes, jsons).map_err(error)
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl Store for SqliteStore {
    type Events<'a> = SqliteEvents<'a>;

    fn append<T: Appendable>(&mut self, events: &[T]) -> Result<Vec<Appended>, StoreError> {
        self.append_batch(None, events)
    }

    fn append_to_stream<T: Appendable>(
        &mut self,
        stream: &str,
        expected: ExpectedVersion,
        events: &[T],
    ) -> Result<Vec<Appended>, StoreError> {
        self.append_batch(Some((stream, expected)), events)
    }

    fn read(&self, query: impl Into<Query>) -> SqliteEvents<'_> {
        SqliteEvents::new(&self.connection, &self.location, query.into())
    }

    fn stream_version(&self, stream: &str) -> Result<u64, StoreError> {
        current_version(&self.connection, stream)
            .map_err(self.database_error("read a stream version"))
    }
}

/// Switches the database file to WAL mode, which it keeps for every later
/// connection.
///
/// The switch needs the file to itself for a moment, and SQLite reports a
/// busy database at once, without waiting for the busy timeout, when another
/// connection opens the same new file at the same time. The switch is
/// therefore tried again until [`SqliteStore::BUSY_TIMEOUT`] has passed.
fn switch_to_wal(connection: &Connection) -> rusqlite::Result<()> {
    let deadline = Instant::now() + SqliteStore::BUSY_TIMEOUT;
    loop {
        let result = connection.query_row("PRAGMA journal_mode = WAL", [], |row| {
            row.get::<_, String>(0)
        });
        match result {
            Ok(_) => return Ok(()),
            Err(error) if is_busy(&error) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(error) => return Err(error),
        }
    }
}

/// Sets `synchronous = FULL`, which makes each commit wait for the disk, so
/// an acknowledged append survives a power loss, not only a crash of the
/// process.
fn make_durable(connection: &Connection) -> rusqlite::Result<()> {
    connection.pragma_update(None, "synchronous", "FULL")
}

/// Replaces SQLite's "unable to open database file" with the reason, when
/// the path does not exist or is a directory.
fn explain_open_failure(path: &Path, error: rusqlite::Error) -> rusqlite::Error {
    if error.sqlite_error_code() != Some(ErrorCode::CannotOpen) {
        return error;
    }
    let reason = match std::fs::metadata(path) {
        Err(missing) if missing.kind() == std::io::ErrorKind::NotFound => "the file does not exist",
        Ok(metadata) if metadata.is_dir() => "the path is a directory, not a database file",
        _ => return error,
    };
    rusqlite::Error::SqliteFailure(
        ffi::Error::new(ffi::SQLITE_CANTOPEN),
        Some(reason.to_owned()),
    )
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Returns the stored copies when the batch is not empty and every event
/// of it is stored already. The lookups stop at the first event that is not
/// stored, so a batch of new events costs one.
fn find_all(
    transaction: &Transaction<'_>,
    attributes: &[Attributes<'_>],
) -> rusqlite::Result<Option<Vec<Appended>>> {
    if attributes.is_empty() {
        return Ok(None);
    }
    let mut found = Vec::with_capacity(attributes.len());
    for event in attributes {
        match find_by_id(transaction, &event.id)? {
            Some(appended) => found.push(appended),
            None => return Ok(None),
        }
    }
    Ok(Some(found))
}

fn find_by_id(connection: &Connection, id: &str) -> rusqlite::Result<Option<Appended>> {
    connection
        .prepare_cached(FIND_BY_ID)?
        .query_row([id], |row| {
            Ok(Appended {
                position: to_u64(row.get(0)?),
                stream_version: row.get::<_, Option<i64>>(1)?.map(to_u64),
                duplicate: true,
            })
        })
        .optional()
}

fn current_version(connection: &Connection, stream: &str) -> rusqlite::Result<u64> {
    let version: Option<i64> = connection
        .prepare_cached(STREAM_VERSION)?
        .query_row([stream], |row| row.get(0))?;
    Ok(version.map_or(0, to_u64))
}

/// Inserts every event that is not stored yet. New events of a stream take
/// consecutive versions from `next_version`.
fn insert_all(
    transaction: &Transaction<'_>,
    stream: Option<&str>,
    mut next_version: Option<u64>,
    attributes: &[Attributes<'_>],
    jsons: &[Cow<'_, [u8]>],
) -> rusqlite::Result<Vec<Appended>> {
    let mut insert = transaction.prepare_cached(INSERT)?;
    let mut appended = Vec::with_capacity(attributes.len());
    for (event, json) in attributes.iter().zip(jsons) {
        let inserted = insert.execute(params![
            event.id,
            event.name,
            event.version,
            event.time,
            event.time_ns,
            event.source,
            event.subject,
            event.correlation_id,
            event.causation_id,
            stream,
            next_version.map(to_i64),
            &json[..],
        ])?;
        if inserted == 0 {
            // The id is stored already: an earlier append or this batch.
            let stored =
                find_by_id(transaction, &event.id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
            appended.push(stored);
            continue;
        }
        appended.push(Appended {
            position: to_u64(transaction.last_insert_rowid()),
            stream_version: next_version,
            duplicate: false,
        });
        next_version = next_version.map(|version| version + 1);
    }
    Ok(appended)
}

/// Converts a position or stream version from SQLite, where both are
/// positive, to the public `u64`.
fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// Converts a stream version to SQLite's `i64`. Versions stay below
/// `i64::MAX` because each one is a stored row.
fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

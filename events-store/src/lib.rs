//! Persistent event store of the `events` framework.
//!
//! The store keeps every event as its complete CloudEvents JSON, byte for
//! byte as it was serialised, under a global position that grows by one with
//! each new event. Events may belong to a stream (an aggregate such as one
//! order), where they get consecutive stream versions and appends check the
//! version they expect, so that two writers cannot both extend the same
//! stream from the same state.
//!
//! ```
//! use events::{Envelope, Event};
//! use events_store::{ExpectedVersion, Query, ReadFrom, SqliteStore, Store};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Serialize, Deserialize)]
//! struct OrderPlaced { order_id: u64 }
//!
//! let mut store = SqliteStore::in_memory()?;
//! let placed = Envelope::new(OrderPlaced { order_id: 7 });
//! let appended = store.append_to_stream("order-7", ExpectedVersion::NoStream, &[placed])?;
//! assert_eq!(appended[0].position, 1);
//! assert_eq!(appended[0].stream_version, Some(1));
//!
//! for stored in store.read(Query::from(ReadFrom::Start).stream("order-7")) {
//!     let order = stored?.decode()?.downcast::<OrderPlaced>().unwrap();
//!     assert_eq!(order.order_id, 7);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Backends
//!
//! [`Store`] is the interface every backend implements, so application code
//! can be written once against `impl Store`. [`SqliteStore`] is the SQLite
//! backend, and `PostgresStore`, behind the `postgres` cargo feature, is
//! the PostgreSQL one for several processes or machines. Errors of every
//! backend are variants of one [`StoreError`].
//!
//! | | SQLite | PostgreSQL (feature `postgres`) |
//! |---|---|---|
//! | events | [`SqliteStore`] | `PostgresStore` |
//! | subscription checkpoints | [`SqliteCheckpoints`] | `PostgresCheckpoints` |
//! | outbox transactions | [`SqliteOutbox`] | `PostgresOutbox` |
//!
//! [`replay`](replay()), [`Subscription`] and [`OutboxRelay`] work on every
//! backend.
//!
//! # The SQLite schema
//!
//! [`SqliteStore::open`] creates this table when the file has none, and
//! records schema version 1 in `PRAGMA user_version`:
//!
//! ```sql
//! CREATE TABLE events (
//!     position       INTEGER PRIMARY KEY,   -- global position, from 1
//!     event_id       TEXT NOT NULL UNIQUE,  -- CloudEvents `id`
//!     name           TEXT NOT NULL,         -- CloudEvents `type`
//!     version        INTEGER NOT NULL,      -- `dataversion`, 1 when absent
//!     time           TEXT,                  -- `time`, exactly as in the JSON
//!     time_ns        INTEGER,               -- `time` in nanoseconds since the Unix epoch
//!     source         TEXT NOT NULL,         -- `source`
//!     subject        TEXT,                  -- `subject`
//!     correlation_id TEXT,                  -- `correlationid`
//!     causation_id   TEXT,                  -- `causationid`
//!     stream         TEXT,                  -- stream id, NULL outside streams
//!     stream_version INTEGER,               -- 1 for the first event of a stream
//!     payload        BLOB NOT NULL,         -- the CloudEvents JSON, byte for byte
//!     UNIQUE (stream, stream_version),
//!     CHECK ((stream IS NULL) = (stream_version IS NULL))
//! );
//! ```
//!
//! The columns other than `position`, `stream`, `stream_version` and
//! `payload` are copies of attributes of the payload, for filtering and for
//! tools that query the table directly. `time` and `time_ns` are NULL for an
//! encoded event without a `time` attribute, and `time_ns` is NULL for times
//! outside the years 1677 to 2262, which do not fit in 64-bit nanoseconds.
//!
//! The database runs in WAL mode with `synchronous = FULL`, so an append
//! that returned has reached the disk. Each append takes the write lock at
//! the start of its transaction (`BEGIN IMMEDIATE`), so positions are
//! assigned in commit order and a reader paging by position never skips an
//! event committed later. Writers on other connections wait up to
//! [`SqliteStore::BUSY_TIMEOUT`] for the lock.
//!
//! # Async code
//!
//! The store is synchronous: SQLite calls block the thread. From async code,
//! run them on the blocking thread pool, for example with tokio's
//! `spawn_blocking`, and share the store behind a mutex (or open one store
//! per task, since each [`SqliteStore`] is one connection):
//!
//! ```
//! use std::sync::{Arc, Mutex};
//!
//! use events::{Envelope, Event};
//! use events_store::{SqliteStore, Store};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Serialize, Deserialize)]
//! struct OrderPlaced { order_id: u64 }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = Arc::new(Mutex::new(SqliteStore::in_memory().unwrap()));
//! let shared = Arc::clone(&store);
//! let appended = tokio::task::spawn_blocking(move || {
//!     let mut store = shared.lock().unwrap();
//!     store.append(&[Envelope::new(OrderPlaced { order_id: 7 })])
//! })
//! .await
//! .unwrap()
//! .unwrap();
//! assert_eq!(appended[0].position, 1);
//! # });
//! ```
//!
//! Handlers may be `async` all the same, in two ways:
//!
//! - [`Subscription::poll_blocking`] and [`OutboxRelay::poll_blocking`] (and
//!   their `run_blocking` loops) run on a thread outside the runtime, such
//!   as a `spawn_blocking` closure that owns the store, and wait there for
//!   each event's handlers, which run on the runtime. They work with every
//!   store, including `PostgresStore`, whose synchronous client panics
//!   inside a tokio runtime. For a replay, drive a [`Replay`] the same way,
//!   with `Handle::block_on(replay.handle_async(&bus, event))`.
//! - [`replay_async`], [`Subscription::poll_async`] and
//!   [`OutboxRelay::poll_async`] (and the `run_async` loops) are futures
//!   that read the store on the calling task. That suits SQLite, whose
//!   reads are short and local, but not PostgreSQL. The future holds a
//!   reference to the store, so it is `Send`, and can go to `tokio::spawn`,
//!   only for a store that is `Sync`, which `SqliteStore` is not.

#![deny(missing_docs)]

mod appendable;
mod error;
mod outbox;
#[cfg(feature = "postgres")]
mod postgres;
mod query;
mod replay;
mod sqlite;
mod stored;
mod stream;
mod subscription;

#[cfg(feature = "postgres")]
pub use self::postgres::{
    PostgresCheckpoints, PostgresEvents, PostgresOutbox, PostgresOutboxTransaction, PostgresStore,
};
pub use appendable::Appendable;
pub use error::StoreError;
pub use outbox::{OutboxRelay, OutboxTransaction, SqliteOutbox};
pub use query::{Query, ReadFrom, DEFAULT_PAGE_SIZE};
pub use replay::{
    replay, replay_async, Replay, ReplayError, ReplayOptions, ReplayReport, Step, Undecodable,
};
pub use sqlite::{SqliteEvents, SqliteStore};
pub use stored::StoredEvent;
pub use stream::{Appended, ExpectedVersion};
pub use subscription::{CheckpointStore, SqliteCheckpoints, Subscription};

/// The operations of an event store, implemented by each backend.
///
/// Methods that write take `&mut self` because a store is one database
/// connection with one open transaction at a time.
///
/// ```
/// use events::{Envelope, Event};
/// use events_store::{ReadFrom, SqliteStore, Store, StoreError};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize)]
/// struct OrderPlaced { order_id: u64 }
///
/// // Written once for every backend.
/// fn count_events(store: &impl Store) -> Result<usize, StoreError> {
///     store.read(ReadFrom::Start).try_fold(0, |count, event| event.map(|_| count + 1))
/// }
///
/// let mut store = SqliteStore::in_memory()?;
/// store.append(&[Envelope::new(OrderPlaced { order_id: 7 })])?;
/// assert_eq!(count_events(&store)?, 1);
/// # Ok::<(), StoreError>(())
/// ```
pub trait Store {
    /// The iterator [`read`](Store::read) returns.
    type Events<'a>: Iterator<Item = Result<StoredEvent, StoreError>>
    where
        Self: 'a;

    /// Appends a batch of events outside any stream, in one transaction:
    /// either every new event is stored or none is.
    ///
    /// Returns one [`Appended`] per input event, in input order. An event
    /// whose id is stored already (by an earlier append or earlier in the
    /// same batch) is not stored again and is reported as a duplicate with
    /// the position of the stored copy.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// use events_store::{SqliteStore, Store};
    ///
    /// let mut store = SqliteStore::in_memory()?;
    /// let placed = Envelope::new(OrderPlaced { order_id: 7 });
    /// let first = store.append(&[&placed, &Envelope::new(OrderPlaced { order_id: 8 })])?;
    /// assert_eq!((first[0].position, first[1].position), (1, 2));
    ///
    /// let retried = store.append(&[placed])?;
    /// assert!(retried[0].duplicate);
    /// assert_eq!(retried[0].position, 1);
    /// # Ok::<(), events_store::StoreError>(())
    /// ```
    fn append<T: Appendable>(&mut self, events: &[T]) -> Result<Vec<Appended>, StoreError>;

    /// Appends a batch of events to the end of `stream` if the stream is at
    /// the `expected` version, in one transaction.
    ///
    /// The new events get the stream versions following the current one.
    /// Duplicates, as in [`append`](Store::append), take no stream version.
    /// When every event of the batch is stored already, the call returns
    /// them all as duplicates without checking the version, so that
    /// retrying an append that committed succeeds.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] when the stream is at another version than
    /// `expected`. Nothing is stored then.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// use events_store::{ExpectedVersion, SqliteStore, Store, StoreError};
    ///
    /// let mut store = SqliteStore::in_memory()?;
    /// let order = [Envelope::new(OrderPlaced { order_id: 7 })];
    /// store.append_to_stream("order-7", ExpectedVersion::NoStream, &order)?;
    ///
    /// let late = [Envelope::new(OrderPlaced { order_id: 7 })];
    /// let error = store.append_to_stream("order-7", ExpectedVersion::NoStream, &late).unwrap_err();
    /// assert!(matches!(error, StoreError::Conflict { actual: 1, .. }));
    /// # Ok::<(), StoreError>(())
    /// ```
    fn append_to_stream<T: Appendable>(
        &mut self,
        stream: &str,
        expected: ExpectedVersion,
        events: &[T],
    ) -> Result<Vec<Appended>, StoreError>;

    /// Reads events in position order, one page of rows at a time, so that
    /// reading a large store does not load it into memory.
    ///
    /// Errors are items of the iterator: a failed page query ends the
    /// iteration after its error, while a row that cannot be read yields its
    /// error and the iteration goes on with the next row.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// use events_store::{ReadFrom, SqliteStore, Store};
    ///
    /// let mut store = SqliteStore::in_memory()?;
    /// store.append(&[Envelope::new(OrderPlaced { order_id: 7 }), Envelope::new(OrderPlaced { order_id: 8 })])?;
    ///
    /// let positions: Vec<u64> = store
    ///     .read(ReadFrom::Position(2))
    ///     .map(|event| event.map(|event| event.position))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(positions, [2]);
    /// # Ok::<(), events_store::StoreError>(())
    /// ```
    fn read(&self, query: impl Into<Query>) -> Self::Events<'_>;

    /// Returns the current version of `stream`: the number of events in it,
    /// 0 when it has none.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// use events_store::{ExpectedVersion, SqliteStore, Store};
    ///
    /// let mut store = SqliteStore::in_memory()?;
    /// assert_eq!(store.stream_version("order-7")?, 0);
    /// let order = [Envelope::new(OrderPlaced { order_id: 7 })];
    /// store.append_to_stream("order-7", ExpectedVersion::Any, &order)?;
    /// assert_eq!(store.stream_version("order-7")?, 1);
    /// # Ok::<(), events_store::StoreError>(())
    /// ```
    fn stream_version(&self, stream: &str) -> Result<u64, StoreError>;
}

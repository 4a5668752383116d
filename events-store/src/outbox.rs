//! The transactional outbox: application rows and events committed together,
//! then relayed to the bus.

use std::ops::Deref;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use events_core::Bus;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::runtime::Handle;

use crate::appendable::{encode_all, parse_all, Appendable};
use crate::error::StoreError;
use crate::replay::{ReplayError, ReplayReport};
use crate::sqlite::{self, SqliteStore};
use crate::stream::{Appended, ExpectedVersion};
use crate::subscription::{CheckpointStore, Subscription};
use crate::Store;

/// A connection to the SQLite file of a [`SqliteStore`] on which the
/// application writes its own rows and appends events in one transaction,
/// so that either both are committed or neither is.
///
/// An [`OutboxRelay`] then dispatches the committed events to the bus.
/// Since every append takes SQLite's write lock when its transaction
/// begins, positions follow commit order, and the relay dispatches events
/// in the order their transactions committed.
///
/// ```
/// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// use events_store::{ReadFrom, SqliteOutbox, SqliteStore, Store};
///
/// let directory = tempfile::tempdir().unwrap();
/// let path = directory.path().join("shop.db");
/// let mut outbox = SqliteOutbox::open(&path)?;
/// outbox.execute_batch("CREATE TABLE orders (id INTEGER PRIMARY KEY, total_cents INTEGER)")?;
///
/// outbox.transaction(|tx| {
///     tx.execute("INSERT INTO orders (id, total_cents) VALUES (?1, ?2)", (7, 1_000))?;
///     tx.append(&[Envelope::new(OrderPlaced { order_id: 7 })])?;
///     Ok::<_, Box<dyn std::error::Error>>(())
/// })?;
///
/// let store = SqliteStore::open(&path)?;
/// assert_eq!(store.read(ReadFrom::Start).count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SqliteOutbox {
    connection: Connection,
    location: String,
}

impl SqliteOutbox {
    /// Opens the SQLite file at `path`, creating it and the event store's
    /// schema if they are missing, as [`SqliteStore::open`] does.
    ///
    /// # Errors
    ///
    /// The errors of [`SqliteStore::open`].
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteOutbox, StoreError> {
        // Creates or checks the schema and switches the file to WAL mode.
        drop(SqliteStore::open(path.as_ref())?);

        let location = path.as_ref().display().to_string();
        let open_error = |source| StoreError::Open {
            location: location.clone(),
            error: source,
        };
        let connection = Connection::open(path.as_ref()).map_err(open_error)?;
        connection
            .busy_timeout(SqliteStore::BUSY_TIMEOUT)
            .map_err(open_error)?;
        // As in the store: a committed transaction has reached the disk.
        connection
            .pragma_update(None, "synchronous", "FULL")
            .map_err(open_error)?;
        Ok(SqliteOutbox {
            connection,
            location,
        })
    }

    /// Runs `work` in one transaction and commits it when `work` returns
    /// `Ok`. When `work` returns `Err` or panics, the transaction is rolled
    /// back: none of its rows and none of its events are stored.
    ///
    /// The transaction takes the write lock when it begins (`BEGIN
    /// IMMEDIATE`), so it waits up to [`SqliteStore::BUSY_TIMEOUT`] for
    /// other writers, and its events get positions in commit order.
    ///
    /// # Errors
    ///
    /// The error of `work`, or a [`StoreError::Database`] converted into
    /// `E` when the transaction cannot begin or commit.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// use events_store::{ReadFrom, SqliteOutbox, SqliteStore, Store};
    ///
    /// let directory = tempfile::tempdir().unwrap();
    /// let path = directory.path().join("shop.db");
    /// let mut outbox = SqliteOutbox::open(&path)?;
    /// outbox.execute_batch("CREATE TABLE orders (id INTEGER PRIMARY KEY)")?;
    ///
    /// let result = outbox.transaction(|tx| {
    ///     tx.execute("INSERT INTO orders (id) VALUES (7)", ())?;
    ///     tx.append(&[Envelope::new(OrderPlaced { order_id: 7 })])?;
    ///     Err::<(), Box<dyn std::error::Error>>("payment declined".into())
    /// });
    /// assert!(result.is_err());
    ///
    /// let orders: i64 = outbox.query_row("SELECT COUNT(*) FROM orders", (), |row| row.get(0))?;
    /// assert_eq!(orders, 0);
    /// assert_eq!(SqliteStore::open(&path)?.read(ReadFrom::Start).count(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn transaction<T, E: From<StoreError>>(
        &mut self,
        work: impl FnOnce(&OutboxTransaction<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let location = &self.location;
        let database_error = |operation| {
            move |source| StoreError::Database {
                location: location.clone(),
                operation,
                error: source,
            }
        };
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(database_error("begin an outbox transaction"))?;
        let outbox = OutboxTransaction {
            transaction,
            location,
        };
        // Dropping the transaction, on error or panic, rolls it back.
        let value = work(&outbox)?;
        outbox
            .transaction
            .commit()
            .map_err(database_error("commit an outbox transaction"))?;
        Ok(value)
    }
}

/// The connection, for the application's own SQL outside transactions,
/// such as creating its tables.
impl Deref for SqliteOutbox {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.connection
    }
}

/// An open outbox transaction. It dereferences to the
/// [`rusqlite::Transaction`], for the application's own SQL.
///
/// ```
/// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// use events_store::SqliteOutbox;
///
/// let directory = tempfile::tempdir().unwrap();
/// let mut outbox = SqliteOutbox::open(directory.path().join("shop.db"))?;
/// let appended = outbox.transaction(|tx| {
///     let events: i64 = tx.query_row("SELECT COUNT(*) FROM events", (), |row| row.get(0))?;
///     assert_eq!(events, 0);
///     Ok::<_, Box<dyn std::error::Error>>(tx.append(&[Envelope::new(OrderPlaced { order_id: 7 })])?)
/// })?;
/// assert_eq!(appended[0].position, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct OutboxTransaction<'c> {
    transaction: Transaction<'c>,
    location: &'c str,
}

impl OutboxTransaction<'_> {
    /// Appends a batch of events outside any stream, as
    /// [`Store::append`] does, as part of this transaction: they are
    /// stored when the transaction commits.
    ///
    /// Returns one [`Appended`] per input event, in input order, with
    /// duplicates (events whose id is stored already) marked as in
    /// [`Store::append`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Serialize`] or [`StoreError::InvalidEvent`] for an
    /// event that cannot be stored, before anything is inserted, and
    /// [`StoreError::Database`] when an insert fails. Returning the error
    /// from the transaction's closure rolls everything back.
    pub fn append<T: Appendable>(&self, events: &[T]) -> Result<Vec<Appended>, StoreError> {
        self.append_batch(None, events)
    }

    /// Appends a batch of events to `stream` when its version is
    /// `expected`, as [`Store::append_to_stream`] does, as part of this
    /// transaction.
    ///
    /// # Errors
    ///
    /// As [`append`](OutboxTransaction::append), and
    /// [`StoreError::Conflict`] when the stream has another version.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// use events_store::{ExpectedVersion, SqliteOutbox, StoreError};
    ///
    /// let directory = tempfile::tempdir().unwrap();
    /// let mut outbox = SqliteOutbox::open(directory.path().join("shop.db"))?;
    /// let placed = Envelope::new(OrderPlaced { order_id: 7 });
    /// outbox.transaction(|tx| tx.append_to_stream("order-7", ExpectedVersion::NoStream, &[placed]))?;
    ///
    /// let again = Envelope::new(OrderPlaced { order_id: 7 });
    /// let error = outbox
    ///     .transaction(|tx| tx.append_to_stream("order-7", ExpectedVersion::NoStream, &[again]))
    ///     .unwrap_err();
    /// assert!(matches!(error, StoreError::Conflict { actual: 1, .. }));
    /// # Ok::<(), StoreError>(())
    /// ```
    pub fn append_to_stream<T: Appendable>(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: &[T],
    ) -> Result<Vec<Appended>, StoreError> {
        self.append_batch(Some((stream, expected)), events)
    }

    fn append_batch<T: Appendable>(
        &self,
        stream: Option<(&str, ExpectedVersion)>,
        events: &[T],
    ) -> Result<Vec<Appended>, StoreError> {
        let jsons = encode_all(events)?;
        let attributes = parse_all(&jsons)?;
        let error = |source| StoreError::Database {
            location: self.location.to_owned(),
            operation: "append events in an outbox transaction",
            error: source,
        };
        sqlite::append_in(&self.transaction, stream, &attributes, &jsons, &error)
    }
}

impl<'c> Deref for OutboxTransaction<'c> {
    type Target = Transaction<'c>;

    fn deref(&self) -> &Transaction<'c> {
        &self.transaction
    }
}

/// Dispatches the events of a store through the bus in position order,
/// which is commit order, and marks each one relayed once its handlers
/// finished.
///
/// The relay is a [`Subscription`] named [`OutboxRelay::CHECKPOINT`] that
/// saves its checkpoint after every event. After a crash, a new relay
/// dispatches the events that were committed but not yet marked, and
/// never an event marked relayed. An event whose handlers ran but which
/// was not yet marked when the process stopped is dispatched again, so
/// handlers should tolerate a repeated event id. The relay dispatches
/// every event of the store, whether an outbox transaction or
/// [`Store::append`] stored it.
///
/// ```
/// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// use events::Bus;
/// use events_store::{OutboxRelay, SqliteCheckpoints, SqliteOutbox, SqliteStore};
///
/// let directory = tempfile::tempdir().unwrap();
/// let path = directory.path().join("shop.db");
/// let mut outbox = SqliteOutbox::open(&path)?;
/// outbox.transaction(|tx| tx.append(&[Envelope::new(OrderPlaced { order_id: 7 })]))?;
///
/// let store = SqliteStore::open(&path)?;
/// let mut relay = OutboxRelay::new(SqliteCheckpoints::open(&path)?)?;
/// assert_eq!(relay.poll(&store, &Bus::new())?.dispatched, 1);
/// assert_eq!(relay.relayed(), 1);
/// assert_eq!(relay.poll(&store, &Bus::new())?.dispatched, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct OutboxRelay<C: CheckpointStore> {
    subscription: Subscription<C>,
}

impl<C: CheckpointStore> OutboxRelay<C> {
    /// The name under which the relay keeps its checkpoint: the position of
    /// the last event relayed.
    pub const CHECKPOINT: &'static str = "outbox-relay";

    /// Creates the relay and loads its checkpoint.
    ///
    /// # Errors
    ///
    /// The checkpoint store's error when loading fails.
    pub fn new(checkpoints: C) -> Result<OutboxRelay<C>, StoreError> {
        Ok(OutboxRelay {
            subscription: Subscription::new(Self::CHECKPOINT, checkpoints)?,
        })
    }

    /// Returns the position of the last event relayed, 0 before the first.
    pub fn relayed(&self) -> u64 {
        self.subscription.position()
    }

    /// Dispatches every event committed after the last relayed one, marking
    /// each one relayed after its handlers finished. See
    /// [`Subscription::poll`].
    ///
    /// # Errors
    ///
    /// As [`Subscription::poll`], including [`StoreError::NeedsAsync`] at an
    /// event with an `async` handler: use
    /// [`poll_blocking`](OutboxRelay::poll_blocking) for those.
    pub fn poll<S: Store>(&mut self, store: &S, bus: &Bus) -> Result<ReplayReport, ReplayError> {
        self.subscription.poll(store, bus)
    }

    /// Polls until `stop` is set, sleeping for `interval` after each poll
    /// that found nothing to relay. See [`Subscription::run`].
    ///
    /// # Errors
    ///
    /// As [`Subscription::run`], including [`StoreError::NeedsAsync`] at an
    /// event with an `async` handler.
    pub fn run<S: Store>(
        &mut self,
        store: &S,
        bus: &Bus,
        interval: Duration,
        stop: &AtomicBool,
    ) -> Result<(), ReplayError> {
        self.subscription.run(store, bus, interval, stop)
    }

    /// Dispatches every event committed after the last relayed one, as
    /// [`poll`](OutboxRelay::poll) does, and runs `async` handlers too, on
    /// the tokio runtime of `runtime`. Call it from `spawn_blocking` or a
    /// thread of its own; it works with every store. See
    /// [`Subscription::poll_blocking`].
    ///
    /// # Errors
    ///
    /// As [`Subscription::poll`].
    ///
    /// # Panics
    ///
    /// As [`Subscription::poll_blocking`].
    pub fn poll_blocking<S: Store>(
        &mut self,
        store: &S,
        bus: &Bus,
        runtime: &Handle,
    ) -> Result<ReplayReport, ReplayError> {
        self.subscription.poll_blocking(store, bus, runtime)
    }

    /// Polls with [`poll_blocking`](OutboxRelay::poll_blocking) until `stop`
    /// is set, sleeping for `interval` after each poll that found nothing
    /// to relay. See [`Subscription::run_blocking`].
    ///
    /// # Errors
    ///
    /// As [`Subscription::run`].
    ///
    /// # Panics
    ///
    /// As [`Subscription::poll_blocking`].
    pub fn run_blocking<S: Store>(
        &mut self,
        store: &S,
        bus: &Bus,
        runtime: &Handle,
        interval: Duration,
        stop: &AtomicBool,
    ) -> Result<(), ReplayError> {
        self.subscription
            .run_blocking(store, bus, runtime, interval, stop)
    }

    /// Dispatches every event committed after the last relayed one, as
    /// [`poll`](OutboxRelay::poll) does, but with [`Bus::dispatch_async`],
    /// so that `async` handlers run too.
    ///
    /// The store is read with its blocking calls on the calling task. That
    /// suits SQLite, but the client of `PostgresStore` panics inside a tokio
    /// runtime, so with PostgreSQL use
    /// [`poll_blocking`](OutboxRelay::poll_blocking) instead. [`Subscription::poll_async`]
    /// describes these limits and cancellation in full.
    ///
    /// # Errors
    ///
    /// As [`Subscription::poll`].
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// use events::{on, Bus};
    /// use events_store::{OutboxRelay, SqliteCheckpoints, SqliteOutbox, SqliteStore};
    ///
    /// #[on(OrderPlaced)]
    /// async fn publish(_: &OrderPlaced) {}
    ///
    /// let directory = tempfile::tempdir().unwrap();
    /// let path = directory.path().join("shop.db");
    /// let mut outbox = SqliteOutbox::open(&path)?;
    /// outbox.transaction(|tx| tx.append(&[Envelope::new(OrderPlaced { order_id: 7 })]))?;
    /// let store = SqliteStore::open(&path)?;
    /// let mut relay = OutboxRelay::new(SqliteCheckpoints::open(&path)?)?;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let report = relay.poll_async(&store, &Bus::new()).await?;
    /// assert_eq!(report.dispatched, 1);
    /// assert!(report.is_ok());
    /// assert_eq!(relay.relayed(), 1);
    /// # Ok::<(), events_store::ReplayError>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn poll_async<S: Store>(
        &mut self,
        store: &S,
        bus: &Bus,
    ) -> Result<ReplayReport, ReplayError> {
        self.subscription.poll_async(store, bus).await
    }

    /// Polls with [`poll_async`](OutboxRelay::poll_async) until `stop` is
    /// set, sleeping for `interval` with `tokio::time::sleep` after each
    /// poll that found nothing to relay. See [`Subscription::run_async`].
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::time::Duration;
    ///
    /// use events::{on, Bus};
    /// use events_store::{OutboxRelay, SqliteCheckpoints, SqliteOutbox, SqliteStore};
    ///
    /// static STOP: AtomicBool = AtomicBool::new(false);
    ///
    /// // A service sets `stop` from its shutdown signal; here the handler does.
    /// #[on(OrderPlaced)]
    /// async fn publish(_: &OrderPlaced) {
    ///     STOP.store(true, Ordering::Relaxed);
    /// }
    ///
    /// let directory = tempfile::tempdir().unwrap();
    /// let path = directory.path().join("shop.db");
    /// let mut outbox = SqliteOutbox::open(&path)?;
    /// outbox.transaction(|tx| tx.append(&[Envelope::new(OrderPlaced { order_id: 7 })]))?;
    /// let store = SqliteStore::open(&path)?;
    /// let mut relay = OutboxRelay::new(SqliteCheckpoints::open(&path)?)?;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// relay.run_async(&store, &Bus::new(), Duration::from_millis(100), &STOP).await?;
    /// assert_eq!(relay.relayed(), 1);
    /// # Ok::<(), events_store::ReplayError>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Subscription::run_async`].
    ///
    /// # Panics
    ///
    /// As [`Subscription::run_async`]: when a poll found nothing to relay
    /// and the task does not run in a tokio runtime whose time driver is
    /// enabled.
    pub async fn run_async<S: Store>(
        &mut self,
        store: &S,
        bus: &Bus,
        interval: Duration,
        stop: &AtomicBool,
    ) -> Result<(), ReplayError> {
        self.subscription
            .run_async(store, bus, interval, stop)
            .await
    }
}

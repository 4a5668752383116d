//! Durable subscriptions: named consumers that resume from a checkpoint.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use events_core::{Bus, DynEnvelope, Report};
use rusqlite::{Connection, OptionalExtension};
use tokio::runtime::Handle;

use crate::error::StoreError;
use crate::query::{Query, ReadFrom};
use crate::replay::{Replay, ReplayError, ReplayOptions, ReplayReport, Step};
use crate::sqlite::SqliteStore;
use crate::Store;

/// Storage of subscription checkpoints: for each subscription name, the
/// position of the last event it handled completely.
///
/// Each backend implements it on a table of its database, so that the
/// checkpoints live next to the events.
///
/// ```
/// use events_store::{CheckpointStore, SqliteCheckpoints};
///
/// let mut checkpoints = SqliteCheckpoints::in_memory()?;
/// assert_eq!(checkpoints.load("projections")?, None);
/// checkpoints.save("projections", 42)?;
/// assert_eq!(checkpoints.load("projections")?, Some(42));
/// # Ok::<(), events_store::StoreError>(())
/// ```
pub trait CheckpointStore {
    /// Returns the checkpoint of subscription `name`, or `None` when it has
    /// none yet.
    fn load(&mut self, name: &str) -> Result<Option<u64>, StoreError>;

    /// Sets the checkpoint of subscription `name` to `position`, durably:
    /// once `save` returned, a restarted process loads this position.
    fn save(&mut self, name: &str, position: u64) -> Result<(), StoreError>;
}

const CREATE_CHECKPOINTS: &str = "
CREATE TABLE IF NOT EXISTS checkpoints (
    name     TEXT PRIMARY KEY,
    position INTEGER NOT NULL
)";

const LOAD_CHECKPOINT: &str = "SELECT position FROM checkpoints WHERE name = ?1";

const SAVE_CHECKPOINT: &str = "INSERT INTO checkpoints (name, position) VALUES (?1, ?2) \
     ON CONFLICT (name) DO UPDATE SET position = excluded.position";

/// Checkpoints in the table `checkpoints` of an SQLite file, usually the
/// file of the [`SqliteStore`], through a connection of their own.
///
/// [`open`](SqliteCheckpoints::open) creates the table when it is missing:
///
/// ```sql
/// CREATE TABLE checkpoints (
///     name     TEXT PRIMARY KEY,  -- the subscription name
///     position INTEGER NOT NULL   -- the last position it handled completely
/// );
/// ```
///
/// ```
/// use events_store::{CheckpointStore, SqliteCheckpoints, SqliteStore};
///
/// let directory = tempfile::tempdir().unwrap();
/// let path = directory.path().join("events.db");
/// let store = SqliteStore::open(&path)?;
/// SqliteCheckpoints::open(store.location())?.save("projections", 3)?;
///
/// let mut reopened = SqliteCheckpoints::open(&path)?;
/// assert_eq!(reopened.load("projections")?, Some(3));
/// # Ok::<(), events_store::StoreError>(())
/// ```
#[derive(Debug)]
pub struct SqliteCheckpoints {
    connection: Connection,
    location: String,
}

impl SqliteCheckpoints {
    /// Opens the checkpoints in the SQLite file at `path`, creating the file
    /// and the table if they are missing.
    ///
    /// # Errors
    ///
    /// [`StoreError::Open`] when the file cannot be opened or the table
    /// cannot be created.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteCheckpoints, StoreError> {
        let location = path.as_ref().display().to_string();
        let connection = Connection::open(path.as_ref()).map_err(|source| StoreError::Open {
            location: location.clone(),
            error: source,
        })?;
        SqliteCheckpoints::prepare(connection, location)
    }

    /// Opens checkpoints that live in memory and disappear when dropped, for
    /// tests. They cannot share the memory of an in-memory [`SqliteStore`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Open`] when SQLite cannot allocate the database.
    pub fn in_memory() -> Result<SqliteCheckpoints, StoreError> {
        let location = String::from(":memory:");
        let connection = Connection::open_in_memory().map_err(|source| StoreError::Open {
            location: location.clone(),
            error: source,
        })?;
        SqliteCheckpoints::prepare(connection, location)
    }

    fn prepare(connection: Connection, location: String) -> Result<SqliteCheckpoints, StoreError> {
        let open_error = |source| StoreError::Open {
            location: location.clone(),
            error: source,
        };
        connection
            .busy_timeout(SqliteStore::BUSY_TIMEOUT)
            .map_err(open_error)?;
        // FULL makes a saved checkpoint survive a power loss, as an append does.
        connection
            .pragma_update(None, "synchronous", "FULL")
            .map_err(open_error)?;
        connection
            .execute_batch(CREATE_CHECKPOINTS)
            .map_err(open_error)?;
        Ok(SqliteCheckpoints {
            connection,
            location,
        })
    }

    fn database_error(&self, operation: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
        let location = self.location.clone();
        move |source| StoreError::Database {
            location: location.clone(),
            operation,
            error: source,
        }
    }
}

impl CheckpointStore for SqliteCheckpoints {
    fn load(&mut self, name: &str) -> Result<Option<u64>, StoreError> {
        let position: Option<i64> = self
            .connection
            .prepare_cached(LOAD_CHECKPOINT)
            .and_then(|mut statement| statement.query_row([name], |row| row.get(0)).optional())
            .map_err(self.database_error("load a checkpoint"))?;
        Ok(position.map(|position| u64::try_from(position).unwrap_or(0)))
    }

    fn save(&mut self, name: &str, position: u64) -> Result<(), StoreError> {
        let position = i64::try_from(position).unwrap_or(i64::MAX);
        self.connection
            .prepare_cached(SAVE_CHECKPOINT)
            .and_then(|mut statement| statement.execute(rusqlite::params![name, position]))
            .map_err(self.database_error("save a checkpoint"))?;
        Ok(())
    }
}

/// A named, durable consumer of the events of a store.
///
/// A subscription delivers each stored event after its checkpoint to the
/// bus with [`Bus::dispatch`], in position order, then moves the
/// checkpoint past it. Events reach every synchronous handler, including
/// those marked `replay = false`, because each one is delivered as new.
/// The `_blocking` and `_async` forms of [`poll`](Subscription::poll) and
/// [`run`](Subscription::run) deliver with [`Bus::dispatch_async`]
/// instead, so that `async` handlers run too; the crate documentation
/// compares them. After a restart, a subscription with the same name resumes after the
/// saved checkpoint.
///
/// # Delivery
///
/// Delivery is at least once. The checkpoint advances only past events
/// whose handlers all finished. A handler that fails, panics or times out
/// has finished: the bus has kept the event in its dead-letter store. An
/// event that does not decode is dead-lettered the same way (see
/// [`replay`](crate::replay())) and also counts as finished. A crash, or a
/// panic outside the handlers, between the handling and the checkpoint
/// write makes the next subscription with the name deliver the events
/// after the saved checkpoint again. With
/// [`checkpoint_every`](Subscription::checkpoint_every) set above 1, that
/// may be several events.
///
/// # Following new events
///
/// [`poll`](Subscription::poll) delivers everything stored after the
/// checkpoint and returns, so a caller (or a test) drives the subscription
/// one step at a time. [`run`](Subscription::run) polls in a loop, sleeping
/// for an interval whenever a poll found nothing new. Their async forms
/// follow the same checkpoint rules.
///
/// ```
/// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// use events::Bus;
/// use events_store::{SqliteCheckpoints, SqliteStore, Store, Subscription};
///
/// let directory = tempfile::tempdir().unwrap();
/// let path = directory.path().join("events.db");
/// let mut store = SqliteStore::open(&path)?;
/// let bus = Bus::new();
/// store.append(&[Envelope::new(OrderPlaced { order_id: 7 })])?;
///
/// let mut mailer = Subscription::new("mailer", SqliteCheckpoints::open(&path)?)?;
/// assert_eq!(mailer.poll(&store, &bus)?.dispatched, 1);
///
/// // A restarted process resumes after the checkpoint.
/// store.append(&[Envelope::new(OrderPlaced { order_id: 8 })])?;
/// let mut restarted = Subscription::new("mailer", SqliteCheckpoints::open(&path)?)?;
/// assert_eq!(restarted.position(), 1);
/// let report = restarted.poll(&store, &bus)?;
/// assert_eq!(report.dispatched, 1);
/// assert_eq!(report.last_position, Some(2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Subscription<C: CheckpointStore> {
    name: String,
    checkpoints: C,
    /// The position of the last event handled completely, 0 before the first.
    position: u64,
    /// The read of each poll; its start is replaced by the position.
    query: Query,
    checkpoint_every: u64,
}

impl<C: CheckpointStore> Subscription<C> {
    /// Creates the subscription `name` and loads its checkpoint. A name
    /// without a checkpoint starts at the first event of the store.
    ///
    /// # Errors
    ///
    /// The checkpoint store's error when loading fails.
    pub fn new(name: impl Into<String>, mut checkpoints: C) -> Result<Subscription<C>, StoreError> {
        let name = name.into();
        let position = checkpoints.load(&name)?.unwrap_or(0);
        Ok(Subscription {
            name,
            checkpoints,
            position,
            query: Query::from(ReadFrom::Start),
            checkpoint_every: 1,
        })
    }

    /// Delivers only the events that `query` selects, for example some event
    /// names, so that a service does not dead-letter events of types it has
    /// not registered. The start of `query` is ignored: each poll starts
    /// after the checkpoint. Its page size applies.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// use events::Bus;
    /// use events_store::{Query, ReadFrom, SqliteCheckpoints, SqliteStore, Store, Subscription};
    ///
    /// let mut store = SqliteStore::in_memory()?;
    /// let foreign = br#"{"specversion":"1.0","id":"1","source":"erp","type":"VendorSynced"}"#;
    /// store.append(&[&foreign[..]])?;
    /// store.append(&[Envelope::new(OrderPlaced { order_id: 7 })])?;
    ///
    /// let orders = Query::from(ReadFrom::Start).name("OrderPlaced");
    /// let mut subscription = Subscription::new("orders", SqliteCheckpoints::in_memory()?)?.filter(orders);
    /// let report = subscription.poll(&store, &Bus::new())?;
    /// assert_eq!(report.read, 1);
    /// assert!(report.undecodable.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn filter(mut self, query: Query) -> Subscription<C> {
        self.query = query;
        self
    }

    /// Sets after how many handled events the checkpoint is saved during a
    /// poll, at least 1 (the default). Every poll also saves at its end.
    /// Larger values mean fewer writes and more events delivered again after
    /// a crash.
    ///
    /// ```
    /// # use events_store::{SqliteCheckpoints, Subscription};
    /// let subscription = Subscription::new("search-index", SqliteCheckpoints::in_memory()?)?
    ///     .checkpoint_every(100);
    /// # Ok::<(), events_store::StoreError>(())
    /// ```
    pub fn checkpoint_every(mut self, events: u64) -> Subscription<C> {
        self.checkpoint_every = events.max(1);
        self
    }

    /// Returns the subscription name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the position of the last event handled completely, 0 before
    /// the first. It is ahead of the saved checkpoint only during a poll,
    /// or after a poll whose checkpoint write failed.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Returns the checkpoint store.
    pub fn checkpoints(&mut self) -> &mut C {
        &mut self.checkpoints
    }

    /// Delivers every event stored after the position, in position order,
    /// saving the checkpoint as set by
    /// [`checkpoint_every`](Subscription::checkpoint_every) and at the end.
    /// Events appended during the poll are delivered too.
    ///
    /// The report counts what this poll did; `read` is 0 when there was
    /// nothing new.
    ///
    /// # Errors
    ///
    /// A [`ReplayError`] with the report so far when reading fails, a
    /// checkpoint cannot be saved, or an event has an `async` handler,
    /// which `poll` cannot run ([`StoreError::NeedsAsync`]; use
    /// [`poll_blocking`](Subscription::poll_blocking) for those). The
    /// checkpoint then covers the events handled before the failure if it
    /// could be saved, and the next poll starts after
    /// [`position`](Subscription::position).
    pub fn poll<S: Store>(&mut self, store: &S, bus: &Bus) -> Result<ReplayReport, ReplayError> {
        self.poll_with(store, bus, |envelope| bus.dispatch(envelope))
    }

    /// Delivers every event stored after the position, as
    /// [`poll`](Subscription::poll) does, and runs `async` handlers too, on
    /// the tokio runtime of `runtime`, while this thread waits for them.
    ///
    /// This is the async form for a thread outside the runtime: a
    /// `tokio::task::spawn_blocking` closure or a thread of its own. Unlike
    /// [`poll_async`](Subscription::poll_async), it works with every store,
    /// including `PostgresStore`, whose synchronous client cannot run
    /// inside the runtime, and the closure that calls it can be spawned
    /// because it owns the store.
    ///
    /// # Errors
    ///
    /// As [`poll`](Subscription::poll).
    ///
    /// # Panics
    ///
    /// Panics when called from async code on a runtime thread, as
    /// `Handle::block_on` does.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// use events::{on, Bus};
    /// use events_store::{SqliteCheckpoints, SqliteStore, Store, Subscription};
    ///
    /// #[on(OrderPlaced)]
    /// async fn send_confirmation(_: &OrderPlaced) {}
    ///
    /// let directory = tempfile::tempdir().unwrap();
    /// let path = directory.path().join("events.db");
    /// let mut store = SqliteStore::open(&path)?;
    /// store.append(&[Envelope::new(OrderPlaced { order_id: 7 })])?;
    /// let mut mailer = Subscription::new("mailer", SqliteCheckpoints::open(&path)?)?;
    ///
    /// # let runtime = tokio::runtime::Builder::new_multi_thread().build()?;
    /// # let report = runtime.block_on(async move {
    /// let bus = Bus::new();
    /// let runtime = tokio::runtime::Handle::current();
    /// let report = tokio::task::spawn_blocking(move || mailer.poll_blocking(&store, &bus, &runtime))
    ///     .await
    ///     .unwrap()?;
    /// assert_eq!(report.dispatched, 1);
    /// assert!(report.is_ok());
    /// # Ok::<_, events_store::ReplayError>(report)
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn poll_blocking<S: Store>(
        &mut self,
        store: &S,
        bus: &Bus,
        runtime: &Handle,
    ) -> Result<ReplayReport, ReplayError> {
        self.poll_with(store, bus, |envelope| {
            runtime.block_on(bus.dispatch_async(envelope))
        })
    }

    fn poll_with<S: Store>(
        &mut self,
        store: &S,
        bus: &Bus,
        mut dispatch: impl FnMut(&DynEnvelope) -> Report,
    ) -> Result<ReplayReport, ReplayError> {
        let mut replay = Replay::new(ReplayOptions::new());
        let mut unsaved = 0;
        for event in store.read(self.next_query()) {
            let handled = replay.handle_with(bus, event, &mut dispatch);
            if let Err(error) = self.advance(&replay, handled, &mut unsaved) {
                return Err(replay.fail(error));
            }
        }
        self.finish_poll(replay, unsaved)
    }

    /// Delivers every event stored after the position, as
    /// [`poll`](Subscription::poll) does, but with [`Bus::dispatch_async`],
    /// so that `async` handlers run too. The checkpoint rules are those of
    /// `poll`.
    ///
    /// Dropping the future, for example when `tokio::time::timeout` or
    /// `tokio::select!` cancels it, also cancels the handler that is
    /// running. The position stays at the last event whose handlers
    /// finished, so the next poll delivers the cancelled event again. With
    /// [`checkpoint_every`](Subscription::checkpoint_every) above 1, the
    /// events handled since the last save are saved by the next poll that
    /// handles an event.
    ///
    /// # Blocking reads
    ///
    /// The store and the checkpoints are read and written with their
    /// blocking calls on the calling task, so the thread is held while a
    /// page of rows is read or a checkpoint is saved. That is fine for
    /// [`SqliteStore`] and [`SqliteCheckpoints`], whose calls are local and
    /// short. `poll_async` and `run_async` are for stores that can be read
    /// inside a tokio runtime. `PostgresStore` (feature `postgres`) uses the
    /// synchronous `postgres` client, which panics when called inside a
    /// runtime, so with PostgreSQL use
    /// [`poll_blocking`](Subscription::poll_blocking) instead.
    ///
    /// The future is not `Send` when the store is not `Sync`, which is the
    /// case of `SqliteStore`, so it cannot be passed to `tokio::spawn`.
    /// Await it on the task that owns the store, or spawn it on a
    /// `tokio::task::LocalSet`.
    ///
    /// # Errors
    ///
    /// As [`poll`](Subscription::poll).
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// use std::sync::atomic::{AtomicU64, Ordering};
    ///
    /// use events::{on, Bus};
    /// use events_store::{SqliteCheckpoints, SqliteStore, Store, Subscription};
    ///
    /// static CONFIRMED: AtomicU64 = AtomicU64::new(0);
    ///
    /// #[on(OrderPlaced)]
    /// async fn send_confirmation(order: &OrderPlaced) {
    ///     CONFIRMED.store(order.order_id, Ordering::Relaxed);
    /// }
    ///
    /// let directory = tempfile::tempdir().unwrap();
    /// let path = directory.path().join("events.db");
    /// let mut store = SqliteStore::open(&path)?;
    /// store.append(&[Envelope::new(OrderPlaced { order_id: 7 })])?;
    /// let mut mailer = Subscription::new("mailer", SqliteCheckpoints::open(&path)?)?;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let report = mailer.poll_async(&store, &Bus::new()).await?;
    /// assert_eq!(report.dispatched, 1);
    /// assert!(report.is_ok());
    /// assert_eq!(CONFIRMED.load(Ordering::Relaxed), 7);
    /// assert_eq!(mailer.position(), 1);
    /// # Ok::<(), events_store::ReplayError>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn poll_async<S: Store>(
        &mut self,
        store: &S,
        bus: &Bus,
    ) -> Result<ReplayReport, ReplayError> {
        let mut replay = Replay::new(ReplayOptions::new());
        let mut unsaved = 0;
        for event in store.read(self.next_query()) {
            let handled = replay.handle_live_async(bus, event).await;
            if let Err(error) = self.advance(&replay, handled, &mut unsaved) {
                return Err(replay.fail(error));
            }
        }
        self.finish_poll(replay, unsaved)
    }

    /// Polls until `stop` is set, sleeping for `interval` after each poll
    /// that found no new event. `stop` is checked between polls, so a poll
    /// that is catching up on many events finishes first.
    ///
    /// A service sets `stop` from its shutdown signal. In this example the
    /// handler of the last order sets it.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::time::Duration;
    ///
    /// use events::{on, Bus, Envelope, Event};
    /// use events_store::{SqliteCheckpoints, SqliteStore, Store, Subscription};
    ///
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct OrderPlaced {
    ///     order_id: u64,
    /// }
    ///
    /// static STOP: AtomicBool = AtomicBool::new(false);
    ///
    /// #[on(OrderPlaced)]
    /// fn stop_after_order_8(order: &OrderPlaced) {
    ///     if order.order_id == 8 {
    ///         STOP.store(true, Ordering::Relaxed);
    ///     }
    /// }
    ///
    /// let directory = tempfile::tempdir().unwrap();
    /// let path = directory.path().join("events.db");
    /// let mut store = SqliteStore::open(&path)?;
    /// store.append(&[7, 8].map(|order_id| Envelope::new(OrderPlaced { order_id })))?;
    ///
    /// let mut follower = Subscription::new("follower", SqliteCheckpoints::open(&path)?)?;
    /// follower.run(&store, &Bus::new(), Duration::from_millis(100), &STOP)?;
    /// assert_eq!(follower.position(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The [`ReplayError`] of the first poll that fails, including
    /// [`StoreError::NeedsAsync`] at an event with an `async` handler.
    /// Calling `run` again resumes after [`position`](Subscription::position).
    pub fn run<S: Store>(
        &mut self,
        store: &S,
        bus: &Bus,
        interval: Duration,
        stop: &AtomicBool,
    ) -> Result<(), ReplayError> {
        self.run_with(interval, stop, |subscription| subscription.poll(store, bus))
    }

    /// Polls with [`poll_blocking`](Subscription::poll_blocking) until
    /// `stop` is set, sleeping for `interval` after each poll that found no
    /// new event, as [`run`](Subscription::run) does. It blocks its thread:
    /// run it in `tokio::task::spawn_blocking` or on a thread of its own.
    ///
    /// # Errors
    ///
    /// As [`run`](Subscription::run).
    ///
    /// # Panics
    ///
    /// As [`poll_blocking`](Subscription::poll_blocking).
    pub fn run_blocking<S: Store>(
        &mut self,
        store: &S,
        bus: &Bus,
        runtime: &Handle,
        interval: Duration,
        stop: &AtomicBool,
    ) -> Result<(), ReplayError> {
        self.run_with(interval, stop, |subscription| {
            subscription.poll_blocking(store, bus, runtime)
        })
    }

    fn run_with(
        &mut self,
        interval: Duration,
        stop: &AtomicBool,
        mut poll: impl FnMut(&mut Self) -> Result<ReplayReport, ReplayError>,
    ) -> Result<(), ReplayError> {
        while !stop.load(Ordering::Relaxed) {
            let report = poll(self)?;
            if report.read == 0 {
                std::thread::sleep(interval);
            }
        }
        Ok(())
    }

    /// Polls with [`poll_async`](Subscription::poll_async) until `stop` is
    /// set, sleeping for `interval` with `tokio::time::sleep` after each
    /// poll that found no new event. `stop` is checked between polls, as in
    /// [`run`](Subscription::run).
    ///
    /// The store is read on the calling task, and the future is not `Send`
    /// for a store that is not `Sync`; see
    /// [`poll_async`](Subscription::poll_async) for both limits and for
    /// PostgreSQL.
    ///
    /// A service sets `stop` from its shutdown signal. In this example the
    /// handler of the last order sets it.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::time::Duration;
    ///
    /// use events::{on, Bus, Envelope, Event};
    /// use events_store::{SqliteCheckpoints, SqliteStore, Store, Subscription};
    ///
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct OrderPlaced {
    ///     order_id: u64,
    /// }
    ///
    /// static STOP: AtomicBool = AtomicBool::new(false);
    ///
    /// #[on(OrderPlaced)]
    /// async fn stop_after_order_8(order: &OrderPlaced) {
    ///     if order.order_id == 8 {
    ///         STOP.store(true, Ordering::Relaxed);
    ///     }
    /// }
    ///
    /// let directory = tempfile::tempdir().unwrap();
    /// let path = directory.path().join("events.db");
    /// let mut store = SqliteStore::open(&path)?;
    /// store.append(&[7, 8].map(|order_id| Envelope::new(OrderPlaced { order_id })))?;
    /// let mut follower = Subscription::new("follower", SqliteCheckpoints::open(&path)?)?;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// follower.run_async(&store, &Bus::new(), Duration::from_millis(100), &STOP).await?;
    /// assert_eq!(follower.position(), 2);
    /// # Ok::<(), events_store::ReplayError>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The [`ReplayError`] of the first poll that fails. Calling
    /// `run_async` again resumes after
    /// [`position`](Subscription::position).
    ///
    /// # Panics
    ///
    /// Panics, as `tokio::time::sleep` does, when a poll found nothing new
    /// and the task does not run in a tokio runtime whose time driver is
    /// enabled (`enable_time` or `enable_all` on the runtime builder).
    pub async fn run_async<S: Store>(
        &mut self,
        store: &S,
        bus: &Bus,
        interval: Duration,
        stop: &AtomicBool,
    ) -> Result<(), ReplayError> {
        while !stop.load(Ordering::Relaxed) {
            let report = self.poll_async(store, bus).await?;
            if report.read == 0 {
                tokio::time::sleep(interval).await;
            }
        }
        Ok(())
    }

    /// Returns the query of the next poll: the filter, starting at the event
    /// after the position.
    fn next_query(&self) -> Query {
        let mut query = self.query.clone();
        query.from = ReadFrom::Position(self.position + 1);
        query
    }

    /// Moves the position past the event `replay` handled last and saves
    /// the checkpoint every [`checkpoint_every`](Subscription::checkpoint_every)
    /// events. `unsaved` counts the events handled since the last save.
    ///
    /// When `handled` is a read error, saves the events handled before it
    /// and returns the error, or the save's error if saving failed too.
    fn advance(
        &mut self,
        replay: &Replay,
        handled: Result<Step, StoreError>,
        unsaved: &mut u64,
    ) -> Result<(), StoreError> {
        if let Err(error) = handled {
            self.save_if(*unsaved > 0)?;
            return Err(error);
        }
        if let Some(position) = replay.report().last_position {
            self.position = position;
        }
        *unsaved += 1;
        if *unsaved >= self.checkpoint_every {
            self.save_if(true)?;
            *unsaved = 0;
        }
        Ok(())
    }

    /// Saves the events handled since the last save and ends the poll.
    fn finish_poll(&mut self, replay: Replay, unsaved: u64) -> Result<ReplayReport, ReplayError> {
        match self.save_if(unsaved > 0) {
            Ok(()) => Ok(replay.into_report()),
            Err(error) => Err(replay.fail(error)),
        }
    }

    fn save_if(&mut self, unsaved: bool) -> Result<(), StoreError> {
        if unsaved {
            self.checkpoints.save(&self.name, self.position)?;
        }
        Ok(())
    }
}

//! The transactional outbox on PostgreSQL.

use std::fmt;
use std::ops::{Deref, DerefMut};

use ::postgres::{Client, Config, IsolationLevel, Transaction};

use super::{append_in, OwnedClient, PostgresStore};
use crate::appendable::{encode_all, parse_all, Appendable};
use crate::error::StoreError;
use crate::stream::{Appended, ExpectedVersion};

/// A connection to the database of a [`PostgresStore`] on which the
/// application writes its own rows and appends events in one transaction,
/// so that either both are committed or neither is.
///
/// It is the PostgreSQL counterpart of [`SqliteOutbox`](crate::SqliteOutbox).
/// An [`OutboxRelay`](crate::OutboxRelay) on a [`PostgresStore`] then
/// dispatches the committed events in commit order, keeping its checkpoint
/// in [`PostgresCheckpoints`](crate::PostgresCheckpoints).
///
/// Outside transactions the outbox dereferences to the
/// [`postgres::Client`](::postgres::Client), for the application's own SQL
/// such as creating its tables.
///
/// ```no_run
/// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// use events_store::{PostgresOutbox, PostgresStore, ReadFrom, Store};
///
/// let params = "host=127.0.0.1 user=postgres dbname=shop";
/// let mut outbox = PostgresOutbox::connect(params)?;
/// outbox.batch_execute("CREATE TABLE IF NOT EXISTS orders (id BIGINT PRIMARY KEY, total_cents BIGINT)")?;
///
/// outbox.transaction(|tx| {
///     tx.execute("INSERT INTO orders (id, total_cents) VALUES ($1, $2)", &[&7_i64, &1_000_i64])?;
///     tx.append(&[Envelope::new(OrderPlaced { order_id: 7 })])?;
///     Ok::<_, Box<dyn std::error::Error>>(())
/// })?;
///
/// let store = PostgresStore::connect(params)?;
/// assert_eq!(store.read(ReadFrom::Start).count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PostgresOutbox {
    client: OwnedClient,
    location: String,
}

impl PostgresOutbox {
    /// Connects as [`PostgresStore::connect`] does, creating the `events`
    /// table if it is missing.
    ///
    /// # Errors
    ///
    /// The errors of [`PostgresStore::connect`].
    pub fn connect(params: &str) -> Result<PostgresOutbox, StoreError> {
        PostgresStore::connect(params).map(PostgresOutbox::from_store)
    }

    /// Connects with an already built client configuration, as
    /// [`PostgresStore::connect_with`] does.
    ///
    /// # Errors
    ///
    /// The errors of [`PostgresStore::connect_with`].
    pub fn connect_with(config: &Config) -> Result<PostgresOutbox, StoreError> {
        PostgresStore::connect_with(config).map(PostgresOutbox::from_store)
    }

    fn from_store(store: PostgresStore) -> PostgresOutbox {
        PostgresOutbox {
            client: store.client.into_inner(),
            location: store.location,
        }
    }

    /// Returns the server, database, user and schema, as
    /// [`PostgresStore::location`] does.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Runs `work` in one transaction, at isolation level READ COMMITTED,
    /// and commits it when `work` returns `Ok`. When `work` returns `Err`
    /// or panics, the transaction is rolled back: none of its rows and none
    /// of its events are stored.
    ///
    /// The first append of the transaction takes the lock that orders
    /// appends (see [`PostgresStore`]) and holds it until the commit, so
    /// that positions follow commit order. Other appends wait meanwhile, so
    /// append as the last step of the transaction. Work done after the
    /// append makes every other writer wait for it. A row lock taken after
    /// the append can deadlock with a transaction that holds that row and
    /// waits to append, and PostgreSQL then aborts one of the two.
    ///
    /// # Errors
    ///
    /// The error of `work`, or a [`StoreError::Postgres`] converted into
    /// `E` when the transaction cannot begin or commit.
    ///
    /// ```no_run
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// use events_store::PostgresOutbox;
    ///
    /// let mut outbox = PostgresOutbox::connect("host=127.0.0.1 user=postgres dbname=shop")?;
    /// let result = outbox.transaction(|tx| {
    ///     tx.execute("INSERT INTO orders (id) VALUES (7)", &[])?;
    ///     tx.append(&[Envelope::new(OrderPlaced { order_id: 7 })])?;
    ///     Err::<(), Box<dyn std::error::Error>>("payment declined".into())
    /// });
    /// // Neither the order row nor the event is stored.
    /// assert!(result.is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn transaction<T, E: From<StoreError>>(
        &mut self,
        work: impl FnOnce(&mut PostgresOutboxTransaction<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let location = &self.location;
        let database_error = |operation| {
            move |source| StoreError::Postgres {
                location: location.clone(),
                operation,
                error: source,
            }
        };
        let transaction = self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .map_err(database_error("begin an outbox transaction"))?;
        let mut outbox = PostgresOutboxTransaction {
            transaction,
            location,
        };
        // Dropping the transaction, on error or panic, rolls it back.
        let value = work(&mut outbox)?;
        outbox
            .transaction
            .commit()
            .map_err(database_error("commit an outbox transaction"))?;
        Ok(value)
    }
}

impl fmt::Debug for PostgresOutbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresOutbox")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// The client, for the application's own SQL outside transactions.
impl Deref for PostgresOutbox {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl DerefMut for PostgresOutbox {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// An open transaction of a [`PostgresOutbox`]. It dereferences to the
/// [`postgres::Transaction`](::postgres::Transaction), for the
/// application's own SQL.
pub struct PostgresOutboxTransaction<'c> {
    transaction: Transaction<'c>,
    location: &'c str,
}

impl PostgresOutboxTransaction<'_> {
    /// Appends a batch of events outside any stream, as
    /// [`Store::append`](crate::Store::append) does, as part of this
    /// transaction: they are stored when the transaction commits.
    ///
    /// Returns one [`Appended`] per input event, in input order, with
    /// duplicates (events whose id is stored already) marked as in
    /// [`Store::append`](crate::Store::append). The positions are final:
    /// no other append can take them before this transaction ends.
    ///
    /// # Errors
    ///
    /// [`StoreError::Serialize`] or [`StoreError::InvalidEvent`] for an
    /// event that cannot be stored, before anything is inserted, and
    /// [`StoreError::Postgres`] when an insert fails. Returning the error
    /// from the transaction's closure rolls everything back.
    pub fn append<T: Appendable>(&mut self, events: &[T]) -> Result<Vec<Appended>, StoreError> {
        self.append_batch(None, events)
    }

    /// Appends a batch of events to `stream` when its version is
    /// `expected`, as [`Store::append_to_stream`](crate::Store::append_to_stream)
    /// does, as part of this transaction.
    ///
    /// # Errors
    ///
    /// As [`append`](PostgresOutboxTransaction::append), and
    /// [`StoreError::Conflict`] when the stream has another version.
    pub fn append_to_stream<T: Appendable>(
        &mut self,
        stream: &str,
        expected: ExpectedVersion,
        events: &[T],
    ) -> Result<Vec<Appended>, StoreError> {
        self.append_batch(Some((stream, expected)), events)
    }

    fn append_batch<T: Appendable>(
        &mut self,
        stream: Option<(&str, ExpectedVersion)>,
        events: &[T],
    ) -> Result<Vec<Appended>, StoreError> {
        let jsons = encode_all(events)?;
        let attributes = parse_all(&jsons)?;
        let location = self.location;
        let error = |source| StoreError::Postgres {
            location: location.to_owned(),
            operation: "append events in an outbox transaction",
            error: source,
        };
        append_in(&mut self.transaction, stream, &attributes, &jsons, &error)
    }
}

impl fmt::Debug for PostgresOutboxTransaction<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresOutboxTransaction")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl<'c> Deref for PostgresOutboxTransaction<'c> {
    type Target = Transaction<'c>;

    fn deref(&self) -> &Transaction<'c> {
        &self.transaction
    }
}

impl<'c> DerefMut for PostgresOutboxTransaction<'c> {
    fn deref_mut(&mut self) -> &mut Transaction<'c> {
        &mut self.transaction
    }
}

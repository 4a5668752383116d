//! Subscription checkpoints in PostgreSQL.

use std::fmt;

use ::postgres::{Client, Config, Statement};

use super::{schema, to_u64, OwnedClient, PostgresStore};
use crate::error::StoreError;
use crate::subscription::CheckpointStore;

const LOAD_CHECKPOINT: &str = "SELECT position FROM checkpoints WHERE name = $1";

const SAVE_CHECKPOINT: &str = "INSERT INTO checkpoints (name, position) VALUES ($1, $2) \
     ON CONFLICT (name) DO UPDATE SET position = excluded.position";

/// Checkpoints in the table `checkpoints` next to the `events` table of a
/// [`PostgresStore`], through a connection of their own.
///
/// It is the PostgreSQL counterpart of
/// [`SqliteCheckpoints`](crate::SqliteCheckpoints), so that a
/// [`Subscription`](crate::Subscription) or an
/// [`OutboxRelay`](crate::OutboxRelay) of a PostgreSQL store keeps its
/// position in the same database. [`connect`](PostgresCheckpoints::connect)
/// creates the `events` table as [`PostgresStore::connect`] does, and this
/// one, in the same schema, when they are missing:
///
/// ```sql
/// CREATE TABLE checkpoints (
///     name     TEXT PRIMARY KEY,                        -- the subscription name
///     position BIGINT NOT NULL CHECK (position >= 0)    -- the last position it handled completely
/// );
/// ```
///
/// Each [`save`](CheckpointStore::save) is one committed statement, so a
/// saved checkpoint survives a crash of the process or of the server.
///
/// ```no_run
/// use events::Bus;
/// use events_store::{PostgresCheckpoints, PostgresStore, Subscription};
///
/// let params = "host=127.0.0.1 user=postgres dbname=shop";
/// let store = PostgresStore::connect(params)?;
/// let mut mailer = Subscription::new("mailer", PostgresCheckpoints::connect(params)?)?;
/// let report = mailer.poll(&store, &Bus::new())?;
/// println!("delivered {} events, now at position {}", report.dispatched, mailer.position());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PostgresCheckpoints {
    client: OwnedClient,
    load: Statement,
    save: Statement,
    location: String,
}

impl PostgresCheckpoints {
    /// Connects as [`PostgresStore::connect`] does and creates the
    /// `checkpoints` table when it is missing.
    ///
    /// # Errors
    ///
    /// The errors of [`PostgresStore::connect`], and
    /// [`StoreError::PostgresConnect`] when the table cannot be created.
    pub fn connect(params: &str) -> Result<PostgresCheckpoints, StoreError> {
        PostgresStore::connect(params).and_then(PostgresCheckpoints::from_store)
    }

    /// Connects with an already built client configuration, as
    /// [`PostgresStore::connect_with`] does, and creates the `checkpoints`
    /// table when it is missing.
    ///
    /// # Errors
    ///
    /// As [`connect`](PostgresCheckpoints::connect).
    pub fn connect_with(config: &Config) -> Result<PostgresCheckpoints, StoreError> {
        PostgresStore::connect_with(config).and_then(PostgresCheckpoints::from_store)
    }

    fn from_store(store: PostgresStore) -> Result<PostgresCheckpoints, StoreError> {
        let mut client = store.client.into_inner();
        let location = store.location;
        schema::create_checkpoints_if_missing(&mut client, &location)?;
        // Prepared once: a relay saves its checkpoint after every event.
        let prepare = |client: &mut Client, sql| {
            client
                .prepare(sql)
                .map_err(|source| StoreError::PostgresConnect {
                    location: location.clone(),
                    error: source,
                })
        };
        let load = prepare(&mut client, LOAD_CHECKPOINT)?;
        let save = prepare(&mut client, SAVE_CHECKPOINT)?;
        Ok(PostgresCheckpoints {
            client,
            load,
            save,
            location,
        })
    }

    /// Returns the server, database, user and schema, as
    /// [`PostgresStore::location`] does.
    pub fn location(&self) -> &str {
        &self.location
    }

    fn database_error(&self, operation: &'static str) -> impl Fn(::postgres::Error) -> StoreError {
        let location = self.location.clone();
        move |source| StoreError::Postgres {
            location: location.clone(),
            operation,
            error: source,
        }
    }
}

impl CheckpointStore for PostgresCheckpoints {
    fn load(&mut self, name: &str) -> Result<Option<u64>, StoreError> {
        let error = self.database_error("load a checkpoint");
        let row = self
            .client
            .query_opt(&self.load, &[&name])
            .map_err(&error)?;
        row.map(|row| row.try_get::<_, i64>(0).map(to_u64))
            .transpose()
            .map_err(&error)
    }

    fn save(&mut self, name: &str, position: u64) -> Result<(), StoreError> {
        let position = i64::try_from(position).unwrap_or(i64::MAX);
        self.client
            .execute(&self.save, &[&name, &position])
            .map_err(self.database_error("save a checkpoint"))?;
        Ok(())
    }
}

impl fmt::Debug for PostgresCheckpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresCheckpoints")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

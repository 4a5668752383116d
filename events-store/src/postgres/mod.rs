//! The PostgreSQL backend, behind the `postgres` feature.

mod checkpoints;
mod client;
mod outbox;
mod read;
mod schema;

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use ::postgres::config::Host;
use ::postgres::{Config, IsolationLevel, NoTls, Statement, Transaction};

use crate::appendable::{encode_all, parse_all, Appendable, Attributes};
use crate::error::StoreError;
use crate::query::Query;
use crate::stream::{Appended, ExpectedVersion};
use crate::Store;

pub use checkpoints::PostgresCheckpoints;
use client::OwnedClient;
pub use outbox::{PostgresOutbox, PostgresOutboxTransaction};
pub use read::PostgresEvents;

/// Inserts one chunk of new events, passed as one array per column.
const INSERT: &str = "
INSERT INTO events (position, event_id, name, version, time, time_ns, source, subject,
                    correlation_id, causation_id, stream, stream_version, payload)
SELECT position, event_id, name, version, time, time_ns, source, subject,
       correlation_id, causation_id, $11::text, stream_version, payload
FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[],
            $7::text[], $8::text[], $9::text[], $10::text[], $12::bigint[], $13::bytea[])
    AS batch (position, event_id, name, version, time, time_ns, source, subject,
              correlation_id, causation_id, stream_version, payload)";

const FIND_BY_IDS: &str =
    "SELECT event_id, position, stream_version FROM events WHERE event_id = ANY($1::text[])";

const STREAM_VERSION: &str =
    "SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream = $1";

const LAST_POSITION: &str = "SELECT COALESCE(MAX(position), 0) FROM events";

/// The maximum number of rows one `INSERT` or id lookup sends.
const CHUNK_ROWS: usize = 2_000;

/// The maximum number of payload bytes one `INSERT` sends, unless a single
/// event is larger.
const CHUNK_BYTES: usize = 8 * 1024 * 1024;

/// An event store in one PostgreSQL database, through one connection of
/// the synchronous [`postgres`](::postgres) client.
///
/// [`connect`](PostgresStore::connect) creates the `events` table in the
/// first schema of the connection's `search_path` when no `events` table
/// is visible there, and marks it with the comment
/// `events-store schema version 1`:
///
/// ```sql
/// CREATE TABLE events (
///     position       BIGINT PRIMARY KEY CHECK (position >= 1),  -- global position, from 1
///     event_id       TEXT NOT NULL UNIQUE,      -- CloudEvents `id`
///     name           TEXT NOT NULL,             -- CloudEvents `type`
///     version        BIGINT NOT NULL CHECK (version BETWEEN 0 AND 4294967295),
///     time           TEXT,                      -- `time`, exactly as in the JSON
///     time_ns        BIGINT,                    -- `time` in nanoseconds since the Unix epoch
///     source         TEXT NOT NULL,             -- `source`
///     subject        TEXT,                      -- `subject`
///     correlation_id TEXT,                      -- `correlationid`
///     causation_id   TEXT,                      -- `causationid`
///     stream         TEXT,                      -- stream id, NULL outside streams
///     stream_version BIGINT CHECK (stream_version >= 1),
///     payload        BYTEA NOT NULL,            -- the CloudEvents JSON, byte for byte
///     UNIQUE (stream, stream_version),
///     CHECK ((stream IS NULL) = (stream_version IS NULL))
/// );
/// ```
///
/// The columns mean what they mean in the SQLite schema of the crate
/// documentation. The payload is `BYTEA`, not `JSONB`, because `JSONB`
/// reorders keys and drops whitespace and duplicate keys.
///
/// # Positions follow commit order
///
/// Each append takes `LOCK TABLE events IN EXCLUSIVE MODE` at the start of
/// its transaction. The lock conflicts with every other append and with
/// any `INSERT`, `UPDATE` or `DELETE` on the table, but not with `SELECT`,
/// so reads go on while appends wait for each other. Under the lock the
/// append reads the largest position and numbers its new events from the
/// next one. The next append can only number its events after this one has
/// committed or rolled back, so positions are assigned in commit order,
/// without gaps, and a reader paging by position never skips an event that
/// commits later. An identity column would leave gaps, because PostgreSQL
/// draws a sequence value also for a row that `ON CONFLICT DO NOTHING`
/// skips and for a row of a transaction that rolls back.
///
/// Duplicates are found by looking their ids up under the same lock, so no
/// other writer can store an id between the lookup and the insert.
///
/// # Async code
///
/// The `postgres` client runs its own tokio runtime and blocks the calling
/// thread on it, so calling it on a thread of another tokio runtime panics.
/// From async code, call every method of the store, including
/// [`connect`](PostgresStore::connect) and the iteration of
/// [`read`](Store::read), inside `tokio::task::spawn_blocking` or on a
/// dedicated thread. Dropping a store is safe anywhere: inside a runtime,
/// its connection is closed on a thread of its own. The store is [`Send`]
/// but not [`Sync`]: share it behind a mutex, or connect one store per
/// task.
///
/// To follow the store with `async` handlers, use
/// [`Subscription::poll_blocking`](crate::Subscription::poll_blocking)
/// inside `spawn_blocking`. The `_async` forms of polling and replay read
/// the store inside the runtime, so they panic with this store.
///
/// ```no_run
/// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// use std::sync::{Arc, Mutex};
///
/// use events_store::{PostgresStore, Store};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = tokio::task::spawn_blocking(|| {
///     PostgresStore::connect("host=127.0.0.1 user=postgres dbname=shop")
/// })
/// .await
/// .unwrap()
/// .unwrap();
/// let store = Arc::new(Mutex::new(store));
///
/// let shared = Arc::clone(&store);
/// let appended = tokio::task::spawn_blocking(move || {
///     shared.lock().unwrap().append(&[Envelope::new(OrderPlaced { order_id: 7 })])
/// })
/// .await
/// .unwrap()
/// .unwrap();
/// println!("stored at position {}", appended[0].position);
/// # });
/// ```
pub struct PostgresStore {
    /// The connection, in a `RefCell` because `Store::read` takes `&self`
    /// while the client needs `&mut` for every query. No borrow outlives
    /// one query, so reads never overlap another borrow.
    client: RefCell<OwnedClient>,
    /// The server, database and schema, for error messages.
    location: String,
}

impl PostgresStore {
    /// Connects without TLS to the server that `params` names, and creates
    /// the schema if it is missing.
    ///
    /// `params` is a connection string of the `postgres` crate, either
    /// `key=value` pairs (`host=127.0.0.1 port=5432 user=shop dbname=shop`)
    /// or a URL (`postgresql://shop@127.0.0.1:5432/shop`). To keep the
    /// table in another schema than `public`, set the `search_path` in the
    /// options: `options='-c search_path=orders'`. The schema must exist.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidConnectionString`] when the string cannot be
    /// parsed, [`StoreError::PostgresConnect`] when the server cannot be
    /// reached or rejects the user, or the table cannot be created, and
    /// [`StoreError::UnsupportedSchema`] when an `events` table
    /// of another schema version is visible.
    ///
    /// ```no_run
    /// use events_store::PostgresStore;
    ///
    /// let store = PostgresStore::connect("host=127.0.0.1 user=postgres dbname=shop")?;
    /// assert!(store.location().contains("dbname=shop"));
    /// # Ok::<(), events_store::StoreError>(())
    /// ```
    // NOTE: only unencrypted connections are supported; a TLS connector
    // parameter would be needed for servers that require TLS.
    pub fn connect(params: &str) -> Result<PostgresStore, StoreError> {
        let config: Config =
            params
                .parse()
                .map_err(|error| StoreError::InvalidConnectionString {
                    params: redact_password(params),
                    error,
                })?;
        PostgresStore::connect_with(&config)
    }

    /// Connects without TLS with an already built client configuration, and
    /// creates the schema if it is missing, as
    /// [`connect`](PostgresStore::connect) does.
    ///
    /// ```no_run
    /// use events_store::PostgresStore;
    ///
    /// let mut config = postgres::Config::new();
    /// config.host("127.0.0.1").user("postgres").dbname("shop").options("-c search_path=orders");
    /// let store = PostgresStore::connect_with(&config)?;
    /// assert!(store.location().ends_with("schema=orders"));
    /// # Ok::<(), events_store::StoreError>(())
    /// ```
    pub fn connect_with(config: &Config) -> Result<PostgresStore, StoreError> {
        let location = describe(config);
        let mut client = config
            .connect(NoTls)
            .map_err(|source| StoreError::PostgresConnect {
                location: location.clone(),
                error: source,
            })?;
        // The schema is created in the first schema of the `search_path`,
        // so a failure there names it.
        let setup_location = match search_path(config) {
            Some(path) => format!("{location} search_path={path}"),
            None => location.clone(),
        };
        let schema = schema::create_if_missing(&mut client, &setup_location)?;
        Ok(PostgresStore {
            client: RefCell::new(OwnedClient::new(client)),
            location: format!("{location} schema={schema}"),
        })
    }

    /// Returns the server, database, user and schema of the store, without
    /// the password: `host=127.0.0.1 port=5432 dbname=shop user=shop schema=public`.
    ///
    /// ```no_run
    /// let store = events_store::PostgresStore::connect("host=127.0.0.1 user=postgres dbname=shop")?;
    /// assert_eq!(store.location(), "host=127.0.0.1 port=5432 dbname=shop user=postgres schema=public");
    /// # Ok::<(), events_store::StoreError>(())
    /// ```
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Returns a function that wraps a client error of `operation`.
    fn database_error(&self, operation: &'static str) -> impl Fn(::postgres::Error) -> StoreError {
        let location = self.location.clone();
        move |source| StoreError::Postgres {
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
        let mut transaction = self
            .client
            .get_mut()
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .map_err(&error)?;
        let appended = append_in(&mut transaction, stream, &attributes, &jsons, &error)?;
        transaction.commit().map_err(&error)?;
        Ok(appended)
    }
}

/// Appends encoded events inside `transaction`, which the caller commits.
///
/// It first takes the table lock, which the transaction then holds until it
/// ends, so that positions follow commit order (see [`PostgresStore`]).
fn append_in(
    transaction: &mut Transaction<'_>,
    stream: Option<(&str, ExpectedVersion)>,
    attributes: &[Attributes<'_>],
    jsons: &[Cow<'_, [u8]>],
    error: &impl Fn(::postgres::Error) -> StoreError,
) -> Result<Vec<Appended>, StoreError> {
    transaction
        .batch_execute("LOCK TABLE events IN EXCLUSIVE MODE")
        .map_err(error)?;
    let stored = find_stored(transaction, attributes).map_err(error)?;

    let mut next_version = None;
    if let Some((stream, expected)) = stream {
        let all_stored = attributes
            .iter()
            .all(|event| stored.contains_key(event.id.as_ref()));
        if !attributes.is_empty() && all_stored {
            return Ok(attributes
                .iter()
                .map(|event| stored[event.id.as_ref()])
                .collect());
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

    let last_position: i64 = transaction
        .query_one(LAST_POSITION, &[])
        .and_then(|row| row.try_get(0))
        .map_err(error)?;
    let insert = transaction.prepare(INSERT).map_err(error)?;
    let mut rows = InsertRows::new(stream.map(|(stream, _)| stream));
    let mut seen: HashMap<&str, Appended> = HashMap::new();
    let mut next_position = last_position + 1;
    let mut appended = Vec::with_capacity(attributes.len());

    for (event, json) in attributes.iter().zip(jsons) {
        let id = event.id.as_ref();
        if let Some(copy) = stored.get(id).or_else(|| seen.get(id)) {
            appended.push(Appended {
                duplicate: true,
                ..*copy
            });
            continue;
        }
        let new = Appended {
            position: to_u64(next_position),
            stream_version: next_version,
            duplicate: false,
        };
        rows.push(next_position, next_version.map(to_i64), event, json);
        if rows.is_full() {
            rows.flush(transaction, &insert).map_err(error)?;
        }
        seen.insert(id, new);
        appended.push(new);
        next_position += 1;
        next_version = next_version.map(|version| version + 1);
    }
    rows.flush(transaction, &insert).map_err(error)?;
    Ok(appended)
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl Store for PostgresStore {
    type Events<'a> = PostgresEvents<'a>;

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

    fn read(&self, query: impl Into<Query>) -> PostgresEvents<'_> {
        PostgresEvents::new(&self.client, &self.location, query.into())
    }

    fn stream_version(&self, stream: &str) -> Result<u64, StoreError> {
        let version: i64 = self
            .client
            .borrow_mut()
            .query_one(STREAM_VERSION, &[&stream])
            .and_then(|row| row.try_get(0))
            .map_err(self.database_error("read a stream version"))?;
        Ok(to_u64(version))
    }
}

/// Describes the server and database of `config` for error messages,
/// leaving out the password.
fn describe(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|host| match host {
            Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    let hosts = if hosts.is_empty() {
        String::from("(none)")
    } else {
        hosts.join(",")
    };
    let ports = if ports.is_empty() {
        String::from("5432")
    } else {
        ports.join(",")
    };
    let mut location = format!("host={hosts} port={ports}");
    if let Some(dbname) = config.get_dbname() {
        location.push_str(&format!(" dbname={dbname}"));
    }
    if let Some(user) = config.get_user() {
        location.push_str(&format!(" user={user}"));
    }
    location
}

/// Returns the `search_path` that the options of `config` set, if any.
fn search_path(config: &Config) -> Option<&str> {
    let options = config.get_options()?;
    let start = options.find("search_path=")? + "search_path=".len();
    let rest = &options[start..];
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Replaces the password of a connection string, in `key=value` or URL
/// form, with `***`, so that an error message can show the string.
fn redact_password(params: &str) -> String {
    let mut redacted = params.to_owned();
    // The `user:password@` part of a URL.
    if let Some(scheme_end) = redacted.find("://") {
        let authority = scheme_end + 3;
        let end = redacted[authority..]
            .find(['/', '?'])
            .map_or(redacted.len(), |offset| authority + offset);
        if let Some(at) = redacted[authority..end].rfind('@') {
            let user_info = authority..authority + at;
            if let Some(colon) = redacted[user_info.clone()].find(':') {
                redacted.replace_range(user_info.start + colon + 1..user_info.end, "***");
            }
        }
    }
    // `password=...` as a key of the `key=value` form or a URL parameter.
    let mut from = 0;
    while let Some(found) = redacted[from..].find("password=") {
        let value = from + found + "password=".len();
        let end = redacted[value..]
            .find([' ', '&'])
            .map_or(redacted.len(), |offset| value + offset);
        redacted.replace_range(value..end, "***");
        from = value + 3;
    }
    redacted
}

/// Looks up which ids of the batch are stored already, with the position
/// and stream version of each stored copy.
fn find_stored(
    transaction: &mut Transaction<'_>,
    attributes: &[Attributes<'_>],
) -> Result<HashMap<String, Appended>, ::postgres::Error> {
    let mut ids: Vec<&str> = attributes.iter().map(|event| event.id.as_ref()).collect();
    ids.sort_unstable();
    ids.dedup();

    let mut stored = HashMap::new();
    if ids.is_empty() {
        return Ok(stored);
    }
    let statement = transaction.prepare(FIND_BY_IDS)?;
    for chunk in ids.chunks(CHUNK_ROWS) {
        for row in transaction.query(&statement, &[&chunk])? {
            let id: String = row.try_get(0)?;
            let position: i64 = row.try_get(1)?;
            let stream_version: Option<i64> = row.try_get(2)?;
            stored.insert(
                id,
                Appended {
                    position: to_u64(position),
                    stream_version: stream_version.map(to_u64),
                    duplicate: true,
                },
            );
        }
    }
    Ok(stored)
}

fn current_version(
    transaction: &mut Transaction<'_>,
    stream: &str,
) -> Result<u64, ::postgres::Error> {
    let version: i64 = transaction
        .query_one(STREAM_VERSION, &[&stream])?
        .try_get(0)?;
    Ok(to_u64(version))
}

/// New events waiting to be inserted, one vector per column, sent as
/// arrays to `INSERT` so that a chunk costs one round trip.
struct InsertRows<'a> {
    stream: Option<&'a str>,
    positions: Vec<i64>,
    ids: Vec<&'a str>,
    names: Vec<&'a str>,
    versions: Vec<i64>,
    times: Vec<Option<&'a str>>,
    times_ns: Vec<Option<i64>>,
    sources: Vec<&'a str>,
    subjects: Vec<Option<&'a str>>,
    correlation_ids: Vec<Option<&'a str>>,
    causation_ids: Vec<Option<&'a str>>,
    stream_versions: Vec<Option<i64>>,
    payloads: Vec<&'a [u8]>,
    payload_bytes: usize,
}

impl<'a> InsertRows<'a> {
    fn new(stream: Option<&'a str>) -> Self {
        InsertRows {
            stream,
            positions: Vec::new(),
            ids: Vec::new(),
            names: Vec::new(),
            versions: Vec::new(),
            times: Vec::new(),
            times_ns: Vec::new(),
            sources: Vec::new(),
            subjects: Vec::new(),
            correlation_ids: Vec::new(),
            causation_ids: Vec::new(),
            stream_versions: Vec::new(),
            payloads: Vec::new(),
            payload_bytes: 0,
        }
    }

    fn push(
        &mut self,
        position: i64,
        stream_version: Option<i64>,
        event: &'a Attributes<'a>,
        json: &'a [u8],
    ) {
        self.positions.push(position);
        self.ids.push(&event.id);
        self.names.push(&event.name);
        self.versions.push(i64::from(event.version));
        self.times.push(event.time.as_deref());
        self.times_ns.push(event.time_ns);
        self.sources.push(&event.source);
        self.subjects.push(event.subject.as_deref());
        self.correlation_ids.push(event.correlation_id.as_deref());
        self.causation_ids.push(event.causation_id.as_deref());
        self.stream_versions.push(stream_version);
        self.payloads.push(json);
        self.payload_bytes += json.len();
    }

    fn is_full(&self) -> bool {
        self.positions.len() >= CHUNK_ROWS || self.payload_bytes >= CHUNK_BYTES
    }

    /// Inserts the waiting rows, if any, and empties the vectors.
    fn flush(
        &mut self,
        transaction: &mut Transaction<'_>,
        insert: &Statement,
    ) -> Result<(), ::postgres::Error> {
        if self.positions.is_empty() {
            return Ok(());
        }
        transaction.execute(
            insert,
            &[
                &self.positions,
                &self.ids,
                &self.names,
                &self.versions,
                &self.times,
                &self.times_ns,
                &self.sources,
                &self.subjects,
                &self.correlation_ids,
                &self.causation_ids,
                &self.stream,
                &self.stream_versions,
                &self.payloads,
            ],
        )?;
        *self = InsertRows::new(self.stream);
        Ok(())
    }
}

/// Converts a position or stream version from PostgreSQL, where the table's
/// checks keep both positive, to the public `u64`.
fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// Converts a stream version to PostgreSQL's `BIGINT`. Versions stay below
/// `i64::MAX` because each one is a stored row.
fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

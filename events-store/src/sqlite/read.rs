//! Reading events page by page.

use std::ops::Bound;

use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, Row};

use crate::error::StoreError;
use crate::query::{Query, ReadFrom};
use crate::stored::StoredEvent;

/// The iterator [`SqliteStore::read`](crate::Store::read) returns. Each
/// page is one query for the next rows after the last one returned, so
/// events appended while reading appear once the iterator reaches them.
///
/// ```
/// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// use events_store::{Query, ReadFrom, SqliteEvents, SqliteStore, Store};
///
/// let mut store = SqliteStore::in_memory()?;
/// let orders: Vec<_> = (0..1200).map(|order_id| Envelope::new(OrderPlaced { order_id })).collect();
/// store.append(&orders)?;
///
/// // Three queries of at most 500 rows.
/// let events: SqliteEvents<'_> = store.read(ReadFrom::Start);
/// let mut total = 0;
/// for event in events {
///     let order = event?.decode()?.downcast::<OrderPlaced>().unwrap();
///     total += order.order_id;
/// }
/// assert_eq!(total, (0..1200).sum::<u64>());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SqliteEvents<'a> {
    connection: &'a Connection,
    location: &'a str,
    query: Query,
    sql: String,
    /// The smallest position the next page may return.
    next_position: i64,
    /// The smallest stream version the next page may return, with a stream filter.
    next_stream_version: i64,
    page: std::vec::IntoIter<Result<StoredEvent, StoreError>>,
    finished: bool,
}

impl<'a> SqliteEvents<'a> {
    pub(super) fn new(connection: &'a Connection, location: &'a str, query: Query) -> Self {
        let next_position = match query.from {
            ReadFrom::Start => 1,
            ReadFrom::Position(position) => i64::try_from(position).unwrap_or(i64::MAX),
        };
        SqliteEvents {
            connection,
            location,
            sql: select_sql(&query),
            query,
            next_position,
            next_stream_version: 1,
            page: Vec::new().into_iter(),
            finished: false,
        }
    }

    /// Fetches the next page, or returns the error that ends the iteration.
    fn fetch_page(&mut self) -> Result<Vec<Result<StoredEvent, StoreError>>, StoreError> {
        let database_error = |source| StoreError::Database {
            location: self.location.to_owned(),
            operation: "read events",
            error: source,
        };
        let mut statement = self
            .connection
            .prepare_cached(&self.sql)
            .map_err(database_error)?;
        let mut rows = statement
            .query(rusqlite::params_from_iter(self.parameters()))
            .map_err(database_error)?;

        let mut page = Vec::with_capacity(self.query.page_size);
        while let Some(row) = rows.next().map_err(database_error)? {
            let position: i64 = row.get(0).map_err(database_error)?;
            let event = read_row(row, position).map_err(|reason| StoreError::InvalidRow {
                location: self.location.to_owned(),
                position: u64::try_from(position).unwrap_or(0),
                reason,
            });
            let stream_version: Option<i64> = row.get(6).ok().flatten();
            if let Err(error) = self.advance(position, stream_version) {
                page.push(Err(error));
                self.finished = true;
                return Ok(page);
            }
            page.push(event);
        }
        if page.len() < self.query.page_size {
            self.finished = true;
        }
        Ok(page)
    }

    /// Moves the cursor past a row; with a stream filter, the cursor is the
    /// stream version, because the rows come in that order.
    fn advance(&mut self, position: i64, stream_version: Option<i64>) -> Result<(), StoreError> {
        if self.query.stream.is_none() {
            self.next_position = position.saturating_add(1);
            return Ok(());
        }
        match stream_version {
            Some(version) => {
                self.next_stream_version = version.saturating_add(1);
                Ok(())
            }
            // Without a readable version the cursor cannot move on.
            None => Err(StoreError::InvalidRow {
                location: self.location.to_owned(),
                position: u64::try_from(position).unwrap_or(0),
                reason: "the stream version is not an integer, so the read cannot go on \
                         past this row"
                    .to_owned(),
            }),
        }
    }

    /// Returns the values of the query's parameters, in the order of `select_sql`.
    fn parameters(&self) -> Vec<Value> {
        let mut values = vec![Value::Integer(self.next_position)];
        if let Some(stream) = &self.query.stream {
            values.push(Value::Text(stream.clone()));
            values.push(Value::Integer(self.next_stream_version));
        }
        values.extend(self.query.names.iter().cloned().map(Value::Text));
        for bound in [self.query.time_from, self.query.time_to] {
            if let Bound::Included(nanos) | Bound::Excluded(nanos) = bound {
                values.push(Value::Integer(nanos));
            }
        }
        values.push(Value::Integer(
            i64::try_from(self.query.page_size).unwrap_or(i64::MAX),
        ));
        values
    }
}

impl Iterator for SqliteEvents<'_> {
    type Item = Result<StoredEvent, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(event) = self.page.next() {
                return Some(event);
            }
            if self.finished {
                return None;
            }
            match self.fetch_page() {
                Ok(page) => self.page = page.into_iter(),
                Err(error) => {
                    self.finished = true;
                    return Some(Err(error));
                }
            }
        }
    }
}

/// Builds the page query. Parameters are numbered in the order
/// `SqliteEvents::parameters` lists their values.
fn select_sql(query: &Query) -> String {
    let mut sql = String::from(
        "SELECT position, event_id, name, version, time, stream, stream_version, payload \
         FROM events WHERE position >= ?",
    );
    if query.stream.is_some() {
        sql.push_str(" AND stream = ? AND stream_version >= ?");
    }
    if !query.names.is_empty() {
        let placeholders = vec!["?"; query.names.len()].join(", ");
        sql.push_str(&format!(" AND name IN ({placeholders})"));
    }
    match query.time_from {
        Bound::Included(_) => sql.push_str(" AND time_ns >= ?"),
        Bound::Excluded(_) => sql.push_str(" AND time_ns > ?"),
        Bound::Unbounded => {}
    }
    match query.time_to {
        Bound::Included(_) => sql.push_str(" AND time_ns <= ?"),
        Bound::Excluded(_) => sql.push_str(" AND time_ns < ?"),
        Bound::Unbounded => {}
    }
    // NOTE: name and time filters have no index, so a selective filter on a
    // large store scans the rows in position order until a page fills.
    if query.stream.is_some() {
        sql.push_str(" ORDER BY stream_version LIMIT ?");
    } else {
        sql.push_str(" ORDER BY position LIMIT ?");
    }
    sql
}

/// Reads the columns of one row, or returns which one is invalid.
fn read_row(row: &Row<'_>, position: i64) -> Result<StoredEvent, String> {
    let column_error =
        |column: &str, error: rusqlite::Error| format!("the column `{column}` is invalid: {error}");
    let version: i64 = row.get(3).map_err(|error| column_error("version", error))?;
    let stream_version: Option<i64> = row
        .get(6)
        .map_err(|error| column_error("stream_version", error))?;
    let json = match row
        .get_ref(7)
        .map_err(|error| column_error("payload", error))?
    {
        ValueRef::Blob(bytes) | ValueRef::Text(bytes) => bytes.to_vec(),
        other => {
            return Err(format!(
                "the column `payload` contains {:?} instead of JSON",
                other.data_type()
            ))
        }
    };
    Ok(StoredEvent {
        position: u64::try_from(position).map_err(|_| "the position is negative".to_owned())?,
        id: row
            .get(1)
            .map_err(|error| column_error("event_id", error))?,
        name: row.get(2).map_err(|error| column_error("name", error))?,
        version: u32::try_from(version)
            .map_err(|_| format!("the version {version} is not a u32"))?,
        time: row.get(4).map_err(|error| column_error("time", error))?,
        stream: row.get(5).map_err(|error| column_error("stream", error))?,
        stream_version: stream_version
            .map(u64::try_from)
            .transpose()
            .map_err(|_| "the stream version is negative".to_owned())?,
        json,
    })
}

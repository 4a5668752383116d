//! Reading events page by page.

use std::cell::RefCell;
use std::ops::Bound;

use super::OwnedClient;
use ::postgres::types::ToSql;
use ::postgres::{Row, Statement};

use crate::error::StoreError;
use crate::query::{Query, ReadFrom};
use crate::stored::StoredEvent;

/// The iterator [`PostgresStore::read`](crate::Store::read) returns. Each
/// page is one query for the next rows after the last one returned, so
/// events committed while reading appear once the iterator reaches them.
///
/// Each page runs in its own statement, outside any transaction, so a read
/// holds no lock and no snapshot between pages.
///
/// ```no_run
/// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// use events_store::{PostgresEvents, PostgresStore, ReadFrom, Store};
///
/// let store = PostgresStore::connect("host=127.0.0.1 user=postgres dbname=shop")?;
/// let events: PostgresEvents<'_> = store.read(ReadFrom::Start);
/// let mut total = 0;
/// for event in events {
///     let order = event?.decode()?.downcast::<OrderPlaced>().unwrap();
///     total += order.order_id;
/// }
/// println!("sum of order ids: {total}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PostgresEvents<'a> {
    client: &'a RefCell<OwnedClient>,
    location: &'a str,
    query: Query,
    sql: String,
    /// The page statement, prepared by the first page.
    statement: Option<Statement>,
    /// The smallest position the next page may return.
    next_position: i64,
    /// The smallest stream version the next page may return, with a stream filter.
    next_stream_version: i64,
    page: std::vec::IntoIter<Result<StoredEvent, StoreError>>,
    finished: bool,
}

impl<'a> PostgresEvents<'a> {
    pub(super) fn new(client: &'a RefCell<OwnedClient>, location: &'a str, query: Query) -> Self {
        let next_position = match query.from {
            ReadFrom::Start => 1,
            ReadFrom::Position(position) => i64::try_from(position).unwrap_or(i64::MAX),
        };
        PostgresEvents {
            client,
            location,
            sql: select_sql(&query),
            query,
            statement: None,
            next_position,
            next_stream_version: 1,
            page: Vec::new().into_iter(),
            finished: false,
        }
    }

    /// Fetches the next page, or returns the error that ends the iteration.
    fn fetch_page(&mut self) -> Result<Vec<Result<StoredEvent, StoreError>>, StoreError> {
        let database_error = |source| StoreError::Postgres {
            location: self.location.to_owned(),
            operation: "read events",
            error: source,
        };
        let rows = {
            let mut client = self.client.borrow_mut();
            let statement = match &self.statement {
                Some(statement) => statement.clone(),
                None => client.prepare(&self.sql).map_err(database_error)?,
            };
            self.statement = Some(statement.clone());
            let parameters = self.parameters();
            let references: Vec<&(dyn ToSql + Sync)> = parameters
                .iter()
                .map(|parameter| parameter.as_ref() as &(dyn ToSql + Sync))
                .collect();
            client
                .query(&statement, &references)
                .map_err(database_error)?
        };

        let mut page = Vec::with_capacity(rows.len());
        let full = rows.len() >= self.query.page_size;
        for row in &rows {
            let position: i64 = row.try_get(0).map_err(database_error)?;
            let event = read_row(row, position).map_err(|reason| StoreError::InvalidRow {
                location: self.location.to_owned(),
                position: u64::try_from(position).unwrap_or(0),
                reason,
            });
            let stream_version: Option<i64> = row.try_get(6).ok().flatten();
            if let Err(error) = self.advance(position, stream_version) {
                page.push(Err(error));
                self.finished = true;
                return Ok(page);
            }
            page.push(event);
        }
        if !full {
            self.finished = true;
        }
        Ok(page)
    }

    /// Moves the cursor past a row. With a stream filter, the cursor is the
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
            // Without a stream version the cursor cannot move on.
            None => Err(StoreError::InvalidRow {
                location: self.location.to_owned(),
                position: u64::try_from(position).unwrap_or(0),
                reason: "the row matched a stream but has no stream version, so the read \
                         cannot go on past this row"
                    .to_owned(),
            }),
        }
    }

    /// Returns the values of the query's parameters, in the order of `select_sql`.
    fn parameters(&self) -> Vec<Box<dyn ToSql + Sync>> {
        let mut values: Vec<Box<dyn ToSql + Sync>> = vec![Box::new(self.next_position)];
        if let Some(stream) = &self.query.stream {
            values.push(Box::new(stream.clone()));
            values.push(Box::new(self.next_stream_version));
        }
        if !self.query.names.is_empty() {
            values.push(Box::new(self.query.names.clone()));
        }
        for bound in [self.query.time_from, self.query.time_to] {
            if let Bound::Included(nanos) | Bound::Excluded(nanos) = bound {
                values.push(Box::new(nanos));
            }
        }
        values.push(Box::new(
            i64::try_from(self.query.page_size).unwrap_or(i64::MAX),
        ));
        values
    }
}

impl Iterator for PostgresEvents<'_> {
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
/// `PostgresEvents::parameters` lists their values.
fn select_sql(query: &Query) -> String {
    let mut sql = String::from(
        "SELECT position, event_id, name, version, time, stream, stream_version, payload \
         FROM events WHERE position >= $1",
    );
    let mut next = 2;
    let mut placeholder = || {
        let text = format!("${next}");
        next += 1;
        text
    };
    if query.stream.is_some() {
        let stream = placeholder();
        let version = placeholder();
        sql.push_str(&format!(
            " AND stream = {stream}::text AND stream_version >= {version}::bigint"
        ));
    }
    if !query.names.is_empty() {
        sql.push_str(&format!(" AND name = ANY({}::text[])", placeholder()));
    }
    match query.time_from {
        Bound::Included(_) => sql.push_str(&format!(" AND time_ns >= {}::bigint", placeholder())),
        Bound::Excluded(_) => sql.push_str(&format!(" AND time_ns > {}::bigint", placeholder())),
        Bound::Unbounded => {}
    }
    match query.time_to {
        Bound::Included(_) => sql.push_str(&format!(" AND time_ns <= {}::bigint", placeholder())),
        Bound::Excluded(_) => sql.push_str(&format!(" AND time_ns < {}::bigint", placeholder())),
        Bound::Unbounded => {}
    }
    // NOTE: name and time filters have no index, so a selective filter on a
    // large store scans the rows in position order until a page fills.
    if query.stream.is_some() {
        sql.push_str(&format!(" ORDER BY stream_version LIMIT {}", placeholder()));
    } else {
        sql.push_str(&format!(" ORDER BY position LIMIT {}", placeholder()));
    }
    sql
}

/// Reads the columns of one row, or returns which one is invalid.
fn read_row(row: &Row, position: i64) -> Result<StoredEvent, String> {
    let column_error = |column: &str, error: ::postgres::Error| {
        format!("the column `{column}` is invalid: {error}")
    };
    let version: i64 = row
        .try_get(3)
        .map_err(|error| column_error("version", error))?;
    let stream_version: Option<i64> = row
        .try_get(6)
        .map_err(|error| column_error("stream_version", error))?;
    Ok(StoredEvent {
        position: u64::try_from(position).map_err(|_| "the position is negative".to_owned())?,
        id: row
            .try_get(1)
            .map_err(|error| column_error("event_id", error))?,
        name: row
            .try_get(2)
            .map_err(|error| column_error("name", error))?,
        version: u32::try_from(version)
            .map_err(|_| format!("the version {version} is not a u32"))?,
        time: row
            .try_get(4)
            .map_err(|error| column_error("time", error))?,
        stream: row
            .try_get(5)
            .map_err(|error| column_error("stream", error))?,
        stream_version: stream_version
            .map(u64::try_from)
            .transpose()
            .map_err(|_| "the stream version is negative".to_owned())?,
        json: row
            .try_get(7)
            .map_err(|error| column_error("payload", error))?,
    })
}

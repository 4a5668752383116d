//! Read queries: a start position and filters.

use std::ops::{Bound, RangeBounds};

use events_core::chrono::{DateTime, Utc};

/// The number of rows a read fetches per query unless
/// [`Query::page_size`] sets another.
///
/// ```
/// assert_eq!(events_store::DEFAULT_PAGE_SIZE, 500);
/// ```
pub const DEFAULT_PAGE_SIZE: usize = 500;

/// The start of a read.
///
/// ```
/// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// use events_store::{ReadFrom, SqliteStore, Store};
///
/// let mut store = SqliteStore::in_memory()?;
/// store.append(&[Envelope::new(OrderPlaced { order_id: 7 }), Envelope::new(OrderPlaced { order_id: 8 })])?;
///
/// // Resume after the last position a consumer processed.
/// let checkpoint = 1;
/// let next = store.read(ReadFrom::Position(checkpoint + 1)).next().unwrap()?;
/// assert_eq!(next.position, 2);
/// # Ok::<(), events_store::StoreError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReadFrom {
    /// The first event of the store.
    Start,
    /// The event at this global position, included, or the next one after
    /// it that matches the filters.
    Position(u64),
}

/// A read: where it starts, which events it returns and how many rows it
/// fetches per query. All filters must match.
///
/// ```
/// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// # #[derive(Event, Serialize, Deserialize)] struct OrderShipped { order_id: u64 }
/// use events_store::{ExpectedVersion, Query, ReadFrom, SqliteStore, Store};
///
/// let mut store = SqliteStore::in_memory()?;
/// let time = "2026-01-02T03:04:05Z".parse().unwrap();
/// store.append_to_stream("order-7", ExpectedVersion::Any, &[Envelope::new(OrderPlaced { order_id: 7 }).with_time(time)])?;
/// store.append_to_stream("order-7", ExpectedVersion::Any, &[Envelope::new(OrderShipped { order_id: 7 })])?;
///
/// let query = Query::from(ReadFrom::Start)
///     .stream("order-7")
///     .name("OrderPlaced")
///     .time_range(time..)
///     .page_size(100);
/// let found: Vec<_> = store.read(query).collect::<Result<_, _>>()?;
/// assert_eq!(found.len(), 1);
/// assert_eq!(found[0].name, "OrderPlaced");
/// # Ok::<(), events_store::StoreError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Query {
    pub(crate) from: ReadFrom,
    pub(crate) names: Vec<String>,
    pub(crate) stream: Option<String>,
    /// Nanoseconds since the Unix epoch.
    pub(crate) time_from: Bound<i64>,
    /// Nanoseconds since the Unix epoch.
    pub(crate) time_to: Bound<i64>,
    pub(crate) page_size: usize,
}

impl From<ReadFrom> for Query {
    fn from(from: ReadFrom) -> Query {
        Query {
            from,
            names: Vec::new(),
            stream: None,
            time_from: Bound::Unbounded,
            time_to: Bound::Unbounded,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

impl Query {
    /// Keeps events with this name (CloudEvents `type`). Called more than
    /// once, it keeps events with any of the names.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderShipped { order_id: u64 }
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPaid { order_id: u64 }
    /// use events_store::{ExpectedVersion, Query, ReadFrom, SqliteStore, Store};
    ///
    /// let mut store = SqliteStore::in_memory()?;
    /// store.append(&[Envelope::new(OrderPlaced { order_id: 7 })])?;
    /// store.append(&[Envelope::new(OrderShipped { order_id: 7 })])?;
    /// store.append(&[Envelope::new(OrderPaid { order_id: 7 })])?;
    /// let names: Vec<String> = store
    ///     .read(Query::from(ReadFrom::Start).name("OrderPlaced").name("OrderShipped"))
    ///     .map(|event| event.map(|event| event.name))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(names, ["OrderPlaced", "OrderShipped"]);
    /// # Ok::<(), events_store::StoreError>(())
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Query {
        self.names.push(name.into());
        self
    }

    /// Keeps events with any of these names.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderShipped { order_id: u64 }
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPaid { order_id: u64 }
    /// use events_store::{ExpectedVersion, Query, ReadFrom, SqliteStore, Store};
    ///
    /// let mut store = SqliteStore::in_memory()?;
    /// store.append(&[Envelope::new(OrderPlaced { order_id: 7 })])?;
    /// store.append(&[Envelope::new(OrderShipped { order_id: 7 })])?;
    /// store.append(&[Envelope::new(OrderPaid { order_id: 7 })])?;
    /// let names: Vec<String> = store
    ///     .read(Query::from(ReadFrom::Start).names(["OrderShipped", "OrderPaid"]))
    ///     .map(|event| event.map(|event| event.name))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(names, ["OrderShipped", "OrderPaid"]);
    /// # Ok::<(), events_store::StoreError>(())
    /// ```
    pub fn names<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Query {
        self.names.extend(names.into_iter().map(Into::into));
        self
    }

    /// Keeps the events of one stream, in stream version order (which is
    /// also position order).
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderShipped { order_id: u64 }
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPaid { order_id: u64 }
    /// use events_store::{ExpectedVersion, Query, ReadFrom, SqliteStore, Store};
    ///
    /// let mut store = SqliteStore::in_memory()?;
    /// store.append_to_stream("order-7", ExpectedVersion::Any, &[Envelope::new(OrderPlaced { order_id: 7 })])?;
    /// store.append_to_stream("order-8", ExpectedVersion::Any, &[Envelope::new(OrderPlaced { order_id: 8 })])?;
    /// store.append_to_stream("order-7", ExpectedVersion::Any, &[Envelope::new(OrderShipped { order_id: 7 })])?;
    /// let versions: Vec<Option<u64>> = store
    ///     .read(Query::from(ReadFrom::Start).stream("order-7"))
    ///     .map(|event| event.map(|event| event.stream_version))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(versions, [Some(1), Some(2)]);
    /// # Ok::<(), events_store::StoreError>(())
    /// ```
    pub fn stream(mut self, stream: impl Into<String>) -> Query {
        self.stream = Some(stream.into());
        self
    }

    /// Keeps events whose `time` is in `range`. Events stored without a
    /// `time`, or with one outside the years 1677 to 2262, never match.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderShipped { order_id: u64 }
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPaid { order_id: u64 }
    /// use events_store::{ExpectedVersion, Query, ReadFrom, SqliteStore, Store};
    ///
    /// let mut store = SqliteStore::in_memory()?;
    /// let start = "2026-01-01T00:00:00Z".parse().unwrap();
    /// let end = "2026-02-01T00:00:00Z".parse().unwrap();
    /// let new_year = Envelope::new(OrderPlaced { order_id: 7 }).with_time(start);
    /// let february = Envelope::new(OrderPlaced { order_id: 8 }).with_time(end);
    /// store.append(&[new_year, february])?;
    /// let january: Vec<_> = store
    ///     .read(Query::from(ReadFrom::Start).time_range(start..end))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(january.len(), 1);
    /// assert_eq!(january[0].time.as_deref(), Some("2026-01-01T00:00:00Z"));
    /// # Ok::<(), events_store::StoreError>(())
    /// ```
    pub fn time_range(mut self, range: impl RangeBounds<DateTime<Utc>>) -> Query {
        self.time_from = nanos_bound(range.start_bound());
        self.time_to = nanos_bound(range.end_bound());
        self
    }

    /// Sets how many rows each query fetches, at least 1. Larger pages mean
    /// fewer queries and more memory per page.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderShipped { order_id: u64 }
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPaid { order_id: u64 }
    /// use events_store::{ExpectedVersion, Query, ReadFrom, SqliteStore, Store};
    ///
    /// let mut store = SqliteStore::in_memory()?;
    /// let orders: Vec<_> = (0..5).map(|order_id| Envelope::new(OrderPlaced { order_id })).collect();
    /// store.append(&orders)?;
    /// // Three queries of at most two rows each.
    /// let read = store.read(Query::from(ReadFrom::Start).page_size(2)).count();
    /// assert_eq!(read, 5);
    /// # Ok::<(), events_store::StoreError>(())
    /// ```
    pub fn page_size(mut self, rows: usize) -> Query {
        self.page_size = rows.max(1);
        self
    }
}

/// Converts a time bound to nanoseconds since the Unix epoch, saturating
/// times outside the `i64` range so that the comparison keeps its meaning.
fn nanos_bound(bound: Bound<&DateTime<Utc>>) -> Bound<i64> {
    let nanos = |time: &DateTime<Utc>| {
        time.timestamp_nanos_opt()
            .unwrap_or(if time.timestamp() < 0 {
                i64::MIN
            } else {
                i64::MAX
            })
    };
    match bound {
        Bound::Included(time) => Bound::Included(nanos(time)),
        Bound::Excluded(time) => Bound::Excluded(nanos(time)),
        Bound::Unbounded => Bound::Unbounded,
    }
}

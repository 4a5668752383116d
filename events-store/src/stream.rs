//! Stream versions and the outcome of an append.

use std::fmt;

/// The version a stream must be at for an append to it to go ahead.
///
/// A stream's version is its number of events: 0 before its first event,
/// and the stream version of its last event after that.
///
/// ```
/// use events_store::ExpectedVersion;
///
/// assert!(ExpectedVersion::Any.matches(3));
/// assert!(ExpectedVersion::NoStream.matches(0));
/// assert!(ExpectedVersion::Exact(3).matches(3));
/// assert!(!ExpectedVersion::Exact(2).matches(3));
/// assert_eq!(ExpectedVersion::Exact(2).to_string(), "version 2");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExpectedVersion {
    /// Append whatever the version: no concurrency check.
    Any,
    /// The stream must have no events yet.
    NoStream,
    /// The stream must be at exactly this version. `Exact(0)` is the same as
    /// [`NoStream`](ExpectedVersion::NoStream).
    Exact(u64),
}

impl ExpectedVersion {
    /// Returns whether a stream at version `actual` satisfies the expectation.
    ///
    /// ```
    /// use events_store::ExpectedVersion;
    ///
    /// assert!(ExpectedVersion::Exact(0).matches(0));
    /// assert!(!ExpectedVersion::NoStream.matches(1));
    /// ```
    pub fn matches(self, actual: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::Exact(expected) => actual == expected,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(version) => write!(f, "version {version}"),
        }
    }
}

/// The outcome of appending one event.
///
/// ```
/// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// use events_store::{Appended, ExpectedVersion, SqliteStore, Store};
///
/// let mut store = SqliteStore::in_memory()?;
/// let placed = Envelope::new(OrderPlaced { order_id: 7 });
/// let appended = store.append_to_stream("order-7", ExpectedVersion::Any, &[&placed, &placed])?;
/// assert_eq!(appended[0], Appended { position: 1, stream_version: Some(1), duplicate: false });
/// assert_eq!(appended[1], Appended { position: 1, stream_version: Some(1), duplicate: true });
/// # Ok::<(), events_store::StoreError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Appended {
    /// The global position of the event, from 1. For a duplicate, the
    /// position of the copy stored earlier.
    pub position: u64,
    /// The version of the event in its stream, or `None` outside streams.
    /// For a duplicate, the stream version of the stored copy, which may be
    /// in another stream than the one of this append.
    pub stream_version: Option<u64>,
    /// Whether an event with the same id was stored already, in which case
    /// this append stored nothing for it.
    pub duplicate: bool,
}

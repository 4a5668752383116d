//! Events as read back from a store.

use events_core::{DecodeError, Decoder, DynEnvelope};

/// One stored event: its place in the store and its CloudEvents JSON.
///
/// `json` contains the bytes exactly as they were appended. The other fields
/// are read from the store's columns without parsing the JSON.
///
/// ```
/// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// use events_store::{ExpectedVersion, ReadFrom, SqliteStore, Store};
///
/// let mut store = SqliteStore::in_memory()?;
/// let placed = Envelope::new(OrderPlaced { order_id: 7 })
///     .with_id("order-7-placed")
///     .with_time("2026-01-02T03:04:05.5Z".parse().unwrap());
/// store.append_to_stream("order-7", ExpectedVersion::NoStream, &[&placed])?;
///
/// let stored = store.read(ReadFrom::Start).next().unwrap()?;
/// assert_eq!(stored.position, 1);
/// assert_eq!(stored.id, "order-7-placed");
/// assert_eq!(stored.name, "OrderPlaced");
/// assert_eq!(stored.version, 1);
/// assert_eq!(stored.time.as_deref(), Some("2026-01-02T03:04:05.500Z"));
/// assert_eq!(stored.stream.as_deref(), Some("order-7"));
/// assert_eq!(stored.stream_version, Some(1));
/// assert_eq!(stored.json, serde_json::to_vec(&placed).unwrap());
/// # Ok::<(), events_store::StoreError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredEvent {
    /// The global position, from 1.
    pub position: u64,
    /// The CloudEvents `id`.
    pub id: String,
    /// The event name, CloudEvents `type`.
    pub name: String,
    /// The event version, `dataversion`.
    pub version: u32,
    /// The CloudEvents `time` exactly as in the JSON, when it has one.
    pub time: Option<String>,
    /// The stream the event belongs to, if any.
    pub stream: Option<String>,
    /// The version of the event in its stream, from 1.
    pub stream_version: Option<u64>,
    /// The complete CloudEvents JSON, byte for byte as appended.
    pub json: Vec<u8>,
}

impl StoredEvent {
    /// Decodes the JSON with [`events::decode`](events_core::decode), which
    /// looks the event type up in the registry and upgrades old versions.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] when the type is not registered in this program,
    /// the payload does not match it, or the JSON is larger than
    /// [`DEFAULT_MAX_SIZE`](events_core::DEFAULT_MAX_SIZE) (see
    /// [`decode_with`](StoredEvent::decode_with) to raise the limit).
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// use events_store::{ReadFrom, SqliteStore, Store};
    ///
    /// let mut store = SqliteStore::in_memory()?;
    /// let unknown = br#"{"specversion":"1.0","id":"1","source":"erp","type":"VendorSynced"}"#;
    /// store.append(&[&unknown[..]])?;
    /// store.append(&[Envelope::new(OrderPlaced { order_id: 7 })])?;
    ///
    /// let mut read = store.read(ReadFrom::Start);
    /// let error = read.next().unwrap()?.decode().unwrap_err();
    /// assert_eq!(error.reason(), "unknown event");
    /// let order = read.next().unwrap()?.decode().unwrap();
    /// assert_eq!(order.payload::<OrderPlaced>().unwrap().order_id, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn decode(&self) -> Result<DynEnvelope, DecodeError> {
        events_core::decode(&self.json)
    }

    /// Decodes the JSON with the given decoder, for another registry or
    /// size limit.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// use events::Decoder;
    /// use events_store::{ReadFrom, SqliteStore, Store};
    ///
    /// let mut store = SqliteStore::in_memory()?;
    /// store.append(&[Envelope::new(OrderPlaced { order_id: 7 })])?;
    ///
    /// let stored = store.read(ReadFrom::Start).next().unwrap()?;
    /// let decoder = Decoder::new().max_size(16 * 1024 * 1024);
    /// assert_eq!(stored.decode_with(&decoder)?.name(), "OrderPlaced");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn decode_with(&self, decoder: &Decoder<'_>) -> Result<DynEnvelope, DecodeError> {
        decoder.decode(&self.json)
    }
}

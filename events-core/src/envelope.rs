//! Envelopes: an event payload with its identity, time, origin and causal links.
//!
//! A bus links an event emitted from inside a handler to the event being
//! handled: the follow-up gets that event's id as its causation id, and the
//! correlation id of the chain.
//!
//! ```
//! use events::{on, Bus, Envelope, Event, EventId};
//! use serde::{Deserialize, Serialize};
//! use std::sync::Mutex;
//!
//! #[derive(Event, Serialize, Deserialize)]
//! struct OrderPlaced { order_id: u64 }
//!
//! #[derive(Event, Serialize, Deserialize)]
//! struct StockReserved { order_id: u64 }
//!
//! static LINKS: Mutex<Option<(EventId, EventId)>> = Mutex::new(None);
//!
//! #[on(OrderPlaced)]
//! fn reserve_stock(order: &OrderPlaced) {
//!     Bus::new().emit(StockReserved { order_id: order.order_id });
//! }
//!
//! #[on(StockReserved)]
//! fn record_links(reserved: &Envelope<StockReserved>) {
//!     let correlation = reserved.correlation_id().unwrap().clone();
//!     let causation = reserved.causation_id().unwrap().clone();
//!     *LINKS.lock().unwrap() = Some((correlation, causation));
//! }
//!
//! let order = Envelope::new(OrderPlaced { order_id: 7 });
//! let order_id = order.id().clone();
//! assert!(Bus::new().emit_envelope(order).is_ok());
//!
//! let (correlation, causation) = LINKS.lock().unwrap().take().unwrap();
//! assert_eq!(causation, order_id);
//! assert_eq!(correlation, order_id);
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::event::Event;

/// The source used when a bus or an envelope was given none.
///
/// ```
/// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// use events::envelope::DEFAULT_SOURCE;
///
/// assert_eq!(Envelope::new(OrderPlaced { order_id: 7 }).source(), DEFAULT_SOURCE);
/// assert_eq!(events::Bus::new().source(), DEFAULT_SOURCE);
/// ```
pub const DEFAULT_SOURCE: &str = "urn:events:local";

/// Returns the shared [`DEFAULT_SOURCE`] text, so that unset sources cost no
/// allocation and a bus can tell them from a source set by the caller.
pub(crate) fn default_source() -> Arc<str> {
    static DEFAULT: std::sync::OnceLock<Arc<str>> = std::sync::OnceLock::new();
    Arc::clone(DEFAULT.get_or_init(|| Arc::from(DEFAULT_SOURCE)))
}

/// Returns whether a source is the shared default, never set by the caller.
pub(crate) fn is_default_source(source: &Arc<str>) -> bool {
    Arc::ptr_eq(source, &default_source())
}

/// The identifier of an event: a UUIDv7 for events created here, or the
/// string an external producer chose.
///
/// CloudEvents allows any non-empty string as an id, so decoded envelopes keep
/// the producer's text as is.
///
/// ```
/// use events::EventId;
///
/// let generated = EventId::new();
/// assert!(generated.as_uuid().is_some());
///
/// let external = EventId::from("2549961020");
/// assert_eq!(external.to_string(), "2549961020");
/// assert_eq!(external, EventId::from(String::from("2549961020")));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(IdRepr);

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum IdRepr {
    Uuid(Uuid),
    Text(Arc<str>),
}

impl EventId {
    /// Generates a new UUIDv7 id: ids generated in different milliseconds sort
    /// by time; within one millisecond their order is random.
    ///
    /// ```
    /// let a = events::EventId::new();
    /// let b = events::EventId::new();
    /// assert_ne!(a, b);
    /// ```
    #[allow(clippy::new_without_default)]
    pub fn new() -> EventId {
        EventId::at(SystemTime::now())
    }

    /// Generates a UUIDv7 id for the given time. No shared counter is
    /// involved, so generating ids takes no lock.
    pub(crate) fn at(time: SystemTime) -> EventId {
        let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        let timestamp = uuid::Timestamp::from_unix(
            uuid::NoContext,
            since_epoch.as_secs(),
            since_epoch.subsec_nanos(),
        );
        EventId(IdRepr::Uuid(Uuid::new_v7(timestamp)))
    }

    /// Returns the UUID when the id is one generated here or given as a [`Uuid`].
    ///
    /// ```
    /// assert!(events::EventId::from("order-7").as_uuid().is_none());
    /// ```
    pub fn as_uuid(&self) -> Option<Uuid> {
        match &self.0 {
            IdRepr::Uuid(uuid) => Some(*uuid),
            IdRepr::Text(_) => None,
        }
    }
}

impl From<Uuid> for EventId {
    fn from(uuid: Uuid) -> EventId {
        EventId(IdRepr::Uuid(uuid))
    }
}

impl From<&str> for EventId {
    /// Keeps the text, stored as a UUID when it is one in canonical form
    /// (lowercase, hyphenated), so that equal text means equal ids.
    fn from(text: &str) -> EventId {
        if text.len() == uuid::fmt::Hyphenated::LENGTH {
            if let Ok(uuid) = Uuid::try_parse(text) {
                let mut buffer = Uuid::encode_buffer();
                if uuid.hyphenated().encode_lower(&mut buffer) == text {
                    return EventId(IdRepr::Uuid(uuid));
                }
            }
        }
        EventId(IdRepr::Text(Arc::from(text)))
    }
}

impl From<String> for EventId {
    fn from(text: String) -> EventId {
        EventId::from(text.as_str())
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            IdRepr::Uuid(uuid) => fmt::Display::fmt(uuid, f),
            IdRepr::Text(text) => f.write_str(text),
        }
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({self})")
    }
}

/// The value of a CloudEvents extension attribute.
///
/// The CloudEvents type system allows booleans, 32-bit signed integers and
/// strings (URIs and timestamps travel as strings in JSON).
///
/// ```
/// use events::ExtensionValue;
///
/// assert_eq!(ExtensionValue::from("eu-west").to_string(), "eu-west");
/// assert_eq!(ExtensionValue::from(3), ExtensionValue::Integer(3));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ExtensionValue {
    /// A boolean.
    Boolean(bool),
    /// A whole number from -2,147,483,648 to 2,147,483,647.
    Integer(i32),
    /// A string.
    String(String),
}

impl fmt::Display for ExtensionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtensionValue::Boolean(value) => write!(f, "{value}"),
            ExtensionValue::Integer(value) => write!(f, "{value}"),
            ExtensionValue::String(value) => f.write_str(value),
        }
    }
}

impl From<bool> for ExtensionValue {
    fn from(value: bool) -> Self {
        ExtensionValue::Boolean(value)
    }
}

impl From<i32> for ExtensionValue {
    fn from(value: i32) -> Self {
        ExtensionValue::Integer(value)
    }
}

impl From<&str> for ExtensionValue {
    fn from(value: &str) -> Self {
        ExtensionValue::String(value.to_owned())
    }
}

impl From<String> for ExtensionValue {
    fn from(value: String) -> Self {
        ExtensionValue::String(value)
    }
}

/// The CloudEvents attributes of an envelope, everything but the payload.
///
/// ```
/// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
/// let envelope = Envelope::new(OrderPlaced).with_subject("order-7");
/// let metadata = envelope.metadata();
/// assert_eq!(metadata.name(), "OrderPlaced");
/// assert_eq!(metadata.subject(), Some("order-7"));
/// ```
#[derive(Clone, Debug)]
pub struct Metadata {
    pub(crate) id: EventId,
    pub(crate) time: DateTime<Utc>,
    /// The `time` attribute as it was received, reused on encoding while
    /// `time` is unchanged so that decoded timestamps re-encode byte for byte.
    pub(crate) time_text: Option<(DateTime<Utc>, Box<str>)>,
    pub(crate) source: Arc<str>,
    pub(crate) subject: Option<String>,
    pub(crate) name: &'static str,
    pub(crate) version: u32,
    pub(crate) dataschema: Option<String>,
    pub(crate) correlation_id: Option<EventId>,
    pub(crate) causation_id: Option<EventId>,
    pub(crate) extensions: BTreeMap<String, ExtensionValue>,
}

impl Metadata {
    /// Creates the metadata of a new event: a UUIDv7 id and the current time,
    /// both from one clock reading.
    pub(crate) fn new(name: &'static str, version: u32, source: Arc<str>) -> Self {
        let now = SystemTime::now();
        Metadata {
            id: EventId::at(now),
            time: DateTime::<Utc>::from(now),
            time_text: None,
            source,
            subject: None,
            name,
            version,
            dataschema: None,
            correlation_id: None,
            causation_id: None,
            extensions: BTreeMap::new(),
        }
    }

    /// Returns the event id (`id`).
    ///
    /// ```
    /// # use events::{Envelope, Event, EventId}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let envelope = Envelope::new(OrderPlaced { order_id: 7 }).with_id("order-7-placed");
    /// assert_eq!(envelope.metadata().id(), &EventId::from("order-7-placed"));
    /// ```
    pub fn id(&self) -> &EventId {
        &self.id
    }

    /// Returns when the event happened (`time`), with nanosecond precision.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let time = "2026-01-02T03:04:05.123456789Z".parse().unwrap();
    /// let envelope = Envelope::new(OrderPlaced { order_id: 7 }).with_time(time);
    /// assert_eq!(envelope.metadata().time().timestamp_subsec_nanos(), 123_456_789);
    /// ```
    pub fn time(&self) -> DateTime<Utc> {
        self.time
    }

    /// Returns the context in which the event happened (`source`), a URI-reference.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let envelope = Envelope::new(OrderPlaced { order_id: 7 }).with_source("https://shop.example/orders");
    /// assert_eq!(envelope.metadata().source(), "https://shop.example/orders");
    /// ```
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Returns the subject of the event within its source (`subject`), such as an order id.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let envelope = Envelope::new(OrderPlaced { order_id: 7 });
    /// assert_eq!(envelope.metadata().subject(), None);
    /// assert_eq!(envelope.with_subject("order-7").metadata().subject(), Some("order-7"));
    /// ```
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// Returns the event name (`type`).
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let envelope = Envelope::new(OrderPlaced { order_id: 7 });
    /// assert_eq!(envelope.metadata().name(), "OrderPlaced");
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Returns the payload version (extension `dataversion`).
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let envelope = Envelope::new(OrderPlaced { order_id: 7 });
    /// assert_eq!(envelope.metadata().version(), 1);
    /// ```
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Returns the URI of the payload's schema (`dataschema`), when one was given.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let envelope = Envelope::new(OrderPlaced { order_id: 7 })
    ///     .with_dataschema("https://shop.example/schemas/order-placed-v1.json");
    /// assert_eq!(envelope.metadata().dataschema(), Some("https://shop.example/schemas/order-placed-v1.json"));
    /// ```
    pub fn dataschema(&self) -> Option<&str> {
        self.dataschema.as_deref()
    }

    /// Returns the id shared by every event of one causal chain (extension
    /// `correlationid`); an event that starts a chain has none.
    ///
    /// ```
    /// # use events::{Envelope, Event, EventId}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let envelope = Envelope::new(OrderPlaced { order_id: 7 });
    /// assert_eq!(envelope.metadata().correlation_id(), None);
    /// let envelope = envelope.with_correlation_id("checkout-42");
    /// assert_eq!(envelope.metadata().correlation_id(), Some(&EventId::from("checkout-42")));
    /// ```
    pub fn correlation_id(&self) -> Option<&EventId> {
        self.correlation_id.as_ref()
    }

    /// Returns the id of the event whose handler emitted this one (extension `causationid`).
    ///
    /// ```
    /// # use events::{Envelope, Event, EventId}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let envelope = Envelope::new(OrderPlaced { order_id: 7 }).with_causation_id("cart-checked-out-7");
    /// assert_eq!(envelope.metadata().causation_id(), Some(&EventId::from("cart-checked-out-7")));
    /// ```
    pub fn causation_id(&self) -> Option<&EventId> {
        self.causation_id.as_ref()
    }

    /// Returns the correlation id, or the event's own id when it starts a chain.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let first = Envelope::new(OrderPlaced { order_id: 7 });
    /// assert_eq!(first.metadata().correlation_or_id(), first.id());
    /// let follow_up = Envelope::new(OrderPlaced { order_id: 8 }).with_correlation_id(first.id().clone());
    /// assert_eq!(follow_up.metadata().correlation_or_id(), first.id());
    /// ```
    pub fn correlation_or_id(&self) -> &EventId {
        self.correlation_id.as_ref().unwrap_or(&self.id)
    }

    /// Returns the extension attributes other than `dataversion`, `correlationid`
    /// and `causationid`, ordered by name.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let envelope = Envelope::new(OrderPlaced { order_id: 7 })
    ///     .with_extension("tenant", "acme")
    ///     .with_extension("attempt", 2);
    /// let names: Vec<&str> = envelope.metadata().extensions().keys().map(String::as_str).collect();
    /// assert_eq!(names, ["attempt", "tenant"]);
    /// ```
    pub fn extensions(&self) -> &BTreeMap<String, ExtensionValue> {
        &self.extensions
    }
}

/// An event payload together with its [`Metadata`].
///
/// It serialises as a CloudEvents 1.0 structured JSON event
/// (`application/cloudevents+json`), and a slice of envelopes as a batch
/// (`application/cloudevents-batch+json`). See the [`cloudevents`](crate::cloudevents)
/// module for the attribute mapping.
///
/// `Envelope<E>` dereferences to `E`.
///
/// ```
/// use events::{Envelope, Event};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
/// struct OrderPlaced { order_id: u64 }
///
/// let envelope = Envelope::new(OrderPlaced { order_id: 7 })
///     .with_source("https://shop.example/orders")
///     .with_subject("order-7")
///     .with_extension("tenant", "acme");
///
/// let json = serde_json::to_string(&envelope).unwrap();
/// let back: Envelope<OrderPlaced> = serde_json::from_str(&json).unwrap();
/// assert_eq!(back.order_id, 7);
/// assert_eq!(back.id(), envelope.id());
/// assert_eq!(back.time(), envelope.time());
/// assert_eq!(serde_json::to_string(&back).unwrap(), json);
/// ```
#[derive(Clone)]
pub struct Envelope<E> {
    pub(crate) metadata: Metadata,
    pub(crate) payload: E,
}

impl<E: Event> Envelope<E> {
    /// Wraps a payload with a new UUIDv7 id, the current time and the default source.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// let envelope = Envelope::new(OrderPlaced);
    /// assert_eq!(envelope.source(), events::envelope::DEFAULT_SOURCE);
    /// assert_eq!(envelope.version(), 1);
    /// ```
    pub fn new(payload: E) -> Self {
        Self::from_parts(
            payload,
            Metadata::new(E::NAME, E::VERSION, default_source()),
        )
    }

    pub(crate) fn from_parts(payload: E, metadata: Metadata) -> Self {
        Envelope { metadata, payload }
    }
}

impl<E> Envelope<E> {
    /// Returns the payload.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let envelope = Envelope::new(OrderPlaced { order_id: 7 });
    /// assert_eq!(envelope.payload().order_id, 7);
    /// ```
    pub fn payload(&self) -> &E {
        &self.payload
    }

    /// Returns the payload, dropping the metadata.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let order: OrderPlaced = Envelope::new(OrderPlaced { order_id: 7 }).into_payload();
    /// assert_eq!(order.order_id, 7);
    /// ```
    pub fn into_payload(self) -> E {
        self.payload
    }

    /// Returns the metadata.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let envelope = Envelope::new(OrderPlaced { order_id: 7 }).with_subject("order-7");
    /// assert_eq!(envelope.metadata().subject(), Some("order-7"));
    /// ```
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Splits the envelope into its metadata and payload.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let (metadata, order) = Envelope::new(OrderPlaced { order_id: 7 }).into_parts();
    /// assert_eq!(metadata.name(), "OrderPlaced");
    /// assert_eq!(order.order_id, 7);
    /// ```
    pub fn into_parts(self) -> (Metadata, E) {
        (self.metadata, self.payload)
    }

    /// Returns the event id.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let envelope = Envelope::new(OrderPlaced { order_id: 7 });
    /// assert!(envelope.id().as_uuid().is_some());
    /// assert_eq!(envelope.with_id("order-7-placed").id().to_string(), "order-7-placed");
    /// ```
    pub fn id(&self) -> &EventId {
        &self.metadata.id
    }

    /// Returns when the event happened.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let time = "2026-01-02T03:04:05Z".parse().unwrap();
    /// let envelope = Envelope::new(OrderPlaced { order_id: 7 }).with_time(time);
    /// assert_eq!(envelope.time().to_rfc3339(), "2026-01-02T03:04:05+00:00");
    /// ```
    pub fn time(&self) -> DateTime<Utc> {
        self.metadata.time
    }

    /// Returns the source, a URI-reference naming the producer.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let envelope = Envelope::new(OrderPlaced { order_id: 7 }).with_source("https://shop.example/orders");
    /// assert_eq!(envelope.source(), "https://shop.example/orders");
    /// ```
    pub fn source(&self) -> &str {
        &self.metadata.source
    }

    /// Returns the subject within the source, when one was set.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let envelope = Envelope::new(OrderPlaced { order_id: 7 });
    /// assert_eq!(envelope.subject(), None);
    /// assert_eq!(envelope.with_subject("order-7").subject(), Some("order-7"));
    /// ```
    pub fn subject(&self) -> Option<&str> {
        self.metadata.subject.as_deref()
    }

    /// Returns the event name.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// # #[derive(Event, Serialize, Deserialize)] #[event(name = "shop.order.shipped")] struct OrderShipped;
    /// let envelope = Envelope::new(OrderShipped);
    /// assert_eq!(envelope.name(), "shop.order.shipped");
    /// ```
    pub fn name(&self) -> &'static str {
        self.metadata.name
    }

    /// Returns the payload version.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// # #[derive(Event, Serialize, Deserialize)] #[event(version = 3)] struct OrderShipped;
    /// let envelope = Envelope::new(OrderShipped);
    /// assert_eq!(envelope.version(), 3);
    /// ```
    pub fn version(&self) -> u32 {
        self.metadata.version
    }

    /// Returns the correlation id; an event that starts a chain has none.
    ///
    /// ```
    /// # use events::{Envelope, Event, EventId}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let envelope = Envelope::new(OrderPlaced { order_id: 7 });
    /// assert_eq!(envelope.correlation_id(), None);
    /// let envelope = envelope.with_correlation_id("checkout-42");
    /// assert_eq!(envelope.correlation_id(), Some(&EventId::from("checkout-42")));
    /// ```
    pub fn correlation_id(&self) -> Option<&EventId> {
        self.metadata.correlation_id.as_ref()
    }

    /// Returns the id of the event whose handler emitted this one.
    ///
    /// ```
    /// # use events::{Envelope, Event, EventId}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let envelope = Envelope::new(OrderPlaced { order_id: 7 }).with_causation_id("cart-checked-out-7");
    /// assert_eq!(envelope.causation_id(), Some(&EventId::from("cart-checked-out-7")));
    /// ```
    pub fn causation_id(&self) -> Option<&EventId> {
        self.metadata.causation_id.as_ref()
    }

    /// Returns the extension attributes, ordered by name.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// # use events::ExtensionValue;
    /// let envelope = Envelope::new(OrderPlaced { order_id: 7 }).with_extension("partition", 3);
    /// assert_eq!(envelope.extensions()["partition"], ExtensionValue::Integer(3));
    /// ```
    pub fn extensions(&self) -> &BTreeMap<String, ExtensionValue> {
        &self.metadata.extensions
    }

    /// Replaces the id.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// let envelope = Envelope::new(OrderPlaced).with_id("order-7-placed");
    /// assert_eq!(envelope.id().to_string(), "order-7-placed");
    /// ```
    pub fn with_id(mut self, id: impl Into<EventId>) -> Self {
        self.metadata.id = id.into();
        self
    }

    /// Replaces the time.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// let time = "2026-01-02T03:04:05.123456789Z".parse().unwrap();
    /// let envelope = Envelope::new(OrderPlaced).with_time(time);
    /// assert_eq!(envelope.time(), time);
    /// ```
    pub fn with_time(mut self, time: DateTime<Utc>) -> Self {
        self.metadata.time = time;
        self
    }

    /// Replaces the source, a URI-reference such as `https://shop.example/orders`.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let envelope = Envelope::new(OrderPlaced { order_id: 7 }).with_source("https://shop.example/orders");
    /// let json = serde_json::to_value(&envelope).unwrap();
    /// assert_eq!(json["source"], "https://shop.example/orders");
    /// ```
    pub fn with_source(mut self, source: impl AsRef<str>) -> Self {
        self.metadata.source = Arc::from(source.as_ref());
        self
    }

    /// Sets the subject, such as the id of the order the event is about.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let envelope = Envelope::new(OrderPlaced { order_id: 7 }).with_subject("order-7");
    /// let json = serde_json::to_value(&envelope).unwrap();
    /// assert_eq!(json["subject"], "order-7");
    /// ```
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.metadata.subject = Some(subject.into());
        self
    }

    /// Sets the URI of the payload's schema.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let envelope = Envelope::new(OrderPlaced { order_id: 7 })
    ///     .with_dataschema("https://shop.example/schemas/order-placed-v1.json");
    /// let json = serde_json::to_value(&envelope).unwrap();
    /// assert_eq!(json["dataschema"], "https://shop.example/schemas/order-placed-v1.json");
    /// ```
    pub fn with_dataschema(mut self, uri: impl Into<String>) -> Self {
        self.metadata.dataschema = Some(uri.into());
        self
    }

    /// Sets the correlation id. A bus keeps an id set here instead of the
    /// one it would inherit from the emitting handler's event.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let envelope = Envelope::new(OrderPlaced { order_id: 7 }).with_correlation_id("checkout-42");
    /// let json = serde_json::to_value(&envelope).unwrap();
    /// assert_eq!(json["correlationid"], "checkout-42");
    /// ```
    pub fn with_correlation_id(mut self, id: impl Into<EventId>) -> Self {
        self.metadata.correlation_id = Some(id.into());
        self
    }

    /// Sets the causation id. A bus keeps an id set here instead of the
    /// emitting handler's event id.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let envelope = Envelope::new(OrderPlaced { order_id: 7 }).with_causation_id("cart-checked-out-7");
    /// let json = serde_json::to_value(&envelope).unwrap();
    /// assert_eq!(json["causationid"], "cart-checked-out-7");
    /// ```
    pub fn with_causation_id(mut self, id: impl Into<EventId>) -> Self {
        self.metadata.causation_id = Some(id.into());
        self
    }

    /// Sets an extension attribute whose name is fixed in the code.
    ///
    /// Use [`try_with_extension`](Self::try_with_extension) for names that
    /// come from configuration or input.
    ///
    /// # Panics
    ///
    /// Panics if `name` is empty, contains anything but lowercase ASCII letters
    /// and digits, as CloudEvents requires, or is a name this crate maps
    /// itself (see [`cloudevents`](crate::cloudevents)).
    ///
    /// ```
    /// # use events::{Envelope, Event, ExtensionValue}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// let envelope = Envelope::new(OrderPlaced).with_extension("tenant", "acme");
    /// assert_eq!(envelope.extensions()["tenant"], ExtensionValue::from("acme"));
    /// ```
    pub fn with_extension(self, name: &str, value: impl Into<ExtensionValue>) -> Self {
        match self.try_with_extension(name, value) {
            Ok(envelope) => envelope,
            Err(error) => panic!("{error}"),
        }
    }

    /// Sets an extension attribute, or returns an error naming the attribute
    /// when `name` breaks the rules listed on
    /// [`with_extension`](Self::with_extension). The envelope is dropped with
    /// the error, so build it again or clone it first when it must survive.
    ///
    /// ```
    /// # use events::{Envelope, Event, ExtensionValue}; use serde::{Deserialize, Serialize};
    /// # #[derive(Debug, Event, Serialize, Deserialize)] struct OrderPlaced;
    /// let envelope = Envelope::new(OrderPlaced).try_with_extension("region", "eu").unwrap();
    /// assert_eq!(envelope.extensions()["region"], ExtensionValue::from("eu"));
    ///
    /// let error = Envelope::new(OrderPlaced).try_with_extension("Tenant-Id", "acme").unwrap_err();
    /// assert_eq!(error.attribute, "Tenant-Id");
    /// assert_eq!(
    ///     error.to_string(),
    ///     "invalid CloudEvents attribute `Tenant-Id` = \"acme\": names may contain only \
    ///      lowercase ASCII letters and digits; rename it, for example to `tenantid`"
    /// );
    /// ```
    pub fn try_with_extension(
        mut self,
        name: &str,
        value: impl Into<ExtensionValue>,
    ) -> Result<Self, crate::cloudevents::AttributeError> {
        let value = value.into();
        if let Err(reason) = crate::cloudevents::check_extension_name(name) {
            return Err(crate::cloudevents::invalid_extension_name(
                name, &value, reason,
            ));
        }
        self.metadata.extensions.insert(name.to_owned(), value);
        Ok(self)
    }
}

impl<E> std::ops::Deref for Envelope<E> {
    type Target = E;

    fn deref(&self) -> &E {
        &self.payload
    }
}

impl<E: fmt::Debug> fmt::Debug for Envelope<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("metadata", &self.metadata)
            .field("payload", &self.payload)
            .finish()
    }
}

//! Decoding CloudEvents JSON of any registered event by its name and version.

use std::any::{Any, TypeId};
use std::fmt;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::cloudevents::{self, AttributeError, BytesForm, Checked, RawData};
use crate::envelope::{Envelope, EventId, Metadata};
use crate::event::{Event, EventInfo};
use crate::registry::{self, Registry};
use crate::upcast;

/// The largest input [`decode`] accepts: 1 MiB, the default maximum message
/// size of NATS and a common broker limit.
///
/// ```
/// use events::DEFAULT_MAX_SIZE;
///
/// assert_eq!(DEFAULT_MAX_SIZE, 1024 * 1024);
/// let error = events::decode(&vec![b' '; DEFAULT_MAX_SIZE + 1]).unwrap_err();
/// assert_eq!(error.reason(), "too large");
/// ```
pub const DEFAULT_MAX_SIZE: usize = 1024 * 1024;

/// The largest input [`decode_batch`] accepts: 16 MiB.
///
/// ```
/// use events::DEFAULT_MAX_BATCH_SIZE;
///
/// assert_eq!(DEFAULT_MAX_BATCH_SIZE, 16 * 1024 * 1024);
/// let error = events::decode_batch(&vec![b' '; DEFAULT_MAX_BATCH_SIZE + 1]).unwrap_err();
/// assert_eq!(error.reason(), "too large");
/// ```
pub const DEFAULT_MAX_BATCH_SIZE: usize = 16 * 1024 * 1024;

/// An envelope of an event type chosen at run time: what [`decode`] returns.
///
/// A [`Bus`](crate::Bus) dispatches it to the same typed handlers as an
/// emitted [`Envelope<E>`]. It serialises back to CloudEvents JSON with the
/// `data` exactly as it was received.
///
/// ```
/// use events::{decode, Event};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize, Debug)]
/// struct VendorSynced { vendor_id: u32, items: u32 }
///
/// let bytes = br#"{"specversion":"1.0","id":"sync-1","source":"erp","type":"VendorSynced",
///                  "data":{"vendor_id":12,"items":340}}"#;
/// let envelope = decode(bytes).unwrap();
/// assert_eq!(envelope.name(), "VendorSynced");
/// assert_eq!(envelope.payload::<VendorSynced>().unwrap().items, 340);
///
/// let typed = envelope.downcast::<VendorSynced>().unwrap();
/// assert_eq!(typed.vendor_id, 12);
/// ```
pub struct DynEnvelope {
    info: &'static EventInfo,
    envelope: Box<dyn ErasedEnvelope>,
    data: ReceivedData,
    datacontenttype: Option<String>,
    upcast_from: Option<u32>,
}

/// The payload as it was received, for re-encoding without loss.
enum ReceivedData {
    Json(Box<RawValue>),
    Base64(String),
    Absent,
}

/// An `Envelope<E>` whose `E` is known only at run time.
pub(crate) trait ErasedEnvelope: Send + Sync {
    fn metadata(&self) -> &Metadata;
    fn as_any(&self) -> &(dyn Any + Send + Sync);
    /// Returns the `TypeId` of `Envelope<E>`, in static memory.
    fn envelope_type_id(&self) -> &'static TypeId;
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send + Sync>;
    /// Encodes the envelope as CloudEvents JSON.
    fn to_json(&self) -> Result<Vec<u8>, serde_json::Error>;
}

impl<E: Event> ErasedEnvelope for Envelope<E> {
    fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    fn as_any(&self) -> &(dyn Any + Send + Sync) {
        self
    }

    fn envelope_type_id(&self) -> &'static TypeId {
        crate::handler::static_type_id::<Envelope<E>>()
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send + Sync> {
        self
    }

    fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }
}

impl DynEnvelope {
    /// Returns the registered description of the event.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(version = 2)] struct VendorSynced { vendor_id: u32 }
    /// let bytes = br#"{"specversion":"1.0","id":"sync-1","source":"erp","type":"VendorSynced","dataversion":2,"data":{"vendor_id":12}}"#;
    /// let envelope = events::decode(bytes).unwrap();
    /// assert_eq!(envelope.info().rust_type(), std::any::type_name::<VendorSynced>());
    /// ```
    pub fn info(&self) -> &'static EventInfo {
        self.info
    }

    /// Returns the metadata.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(version = 2)] struct VendorSynced { vendor_id: u32 }
    /// let bytes = br#"{"specversion":"1.0","id":"sync-1","source":"erp","type":"VendorSynced","dataversion":2,"data":{"vendor_id":12}}"#;
    /// let envelope = events::decode(bytes).unwrap();
    /// assert_eq!(envelope.metadata().source(), "erp");
    /// ```
    pub fn metadata(&self) -> &Metadata {
        self.envelope.metadata()
    }

    /// Returns the event name.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(version = 2)] struct VendorSynced { vendor_id: u32 }
    /// let bytes = br#"{"specversion":"1.0","id":"sync-1","source":"erp","type":"VendorSynced","dataversion":2,"data":{"vendor_id":12}}"#;
    /// let envelope = events::decode(bytes).unwrap();
    /// assert_eq!(envelope.name(), "VendorSynced");
    /// ```
    pub fn name(&self) -> &'static str {
        self.info.name()
    }

    /// Returns the event version.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(version = 2)] struct VendorSynced { vendor_id: u32 }
    /// let bytes = br#"{"specversion":"1.0","id":"sync-1","source":"erp","type":"VendorSynced","dataversion":2,"data":{"vendor_id":12}}"#;
    /// let envelope = events::decode(bytes).unwrap();
    /// assert_eq!(envelope.version(), 2);
    /// ```
    pub fn version(&self) -> u32 {
        self.info.version()
    }

    /// Returns the event id.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(version = 2)] struct VendorSynced { vendor_id: u32 }
    /// let bytes = br#"{"specversion":"1.0","id":"sync-1","source":"erp","type":"VendorSynced","dataversion":2,"data":{"vendor_id":12}}"#;
    /// let envelope = events::decode(bytes).unwrap();
    /// assert_eq!(envelope.id().to_string(), "sync-1");
    /// ```
    pub fn id(&self) -> &EventId {
        self.metadata().id()
    }

    /// Returns whether the payload is of type `E`.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(version = 2)] struct VendorSynced { vendor_id: u32 }
    /// # #[derive(Event, Serialize, Deserialize)] struct VendorDeleted { vendor_id: u32 }
    /// let bytes = br#"{"specversion":"1.0","id":"sync-1","source":"erp","type":"VendorSynced","dataversion":2,"data":{"vendor_id":12}}"#;
    /// let envelope = events::decode(bytes).unwrap();
    /// assert!(envelope.is::<VendorSynced>());
    /// assert!(!envelope.is::<VendorDeleted>());
    /// ```
    pub fn is<E: Event>(&self) -> bool {
        self.info.type_id() == TypeId::of::<E>()
    }

    /// Returns the payload if it is of type `E`.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(version = 2)] struct VendorSynced { vendor_id: u32 }
    /// # #[derive(Event, Serialize, Deserialize)] struct VendorDeleted { vendor_id: u32 }
    /// let bytes = br#"{"specversion":"1.0","id":"sync-1","source":"erp","type":"VendorSynced","dataversion":2,"data":{"vendor_id":12}}"#;
    /// let envelope = events::decode(bytes).unwrap();
    /// assert_eq!(envelope.payload::<VendorSynced>().unwrap().vendor_id, 12);
    /// assert!(envelope.payload::<VendorDeleted>().is_none());
    /// ```
    pub fn payload<E: Event>(&self) -> Option<&E> {
        self.envelope
            .as_any()
            .downcast_ref::<Envelope<E>>()
            .map(Envelope::payload)
    }

    /// Returns the typed envelope if the payload is of type `E`, or else gives
    /// `self` back unchanged.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(version = 2)] struct VendorSynced { vendor_id: u32 }
    /// # #[derive(Event, Serialize, Deserialize, Debug)] struct VendorDeleted { vendor_id: u32 }
    /// let bytes = br#"{"specversion":"1.0","id":"sync-1","source":"erp","type":"VendorSynced","dataversion":2,"data":{"vendor_id":12}}"#;
    /// let envelope = events::decode(bytes).unwrap();
    /// let envelope = envelope.downcast::<VendorDeleted>().unwrap_err();
    /// let typed: events::Envelope<VendorSynced> = envelope.downcast().unwrap();
    /// assert_eq!(typed.vendor_id, 12);
    /// ```
    pub fn downcast<E: Event>(self) -> Result<Envelope<E>, DynEnvelope> {
        if !self.is::<E>() {
            return Err(self);
        }
        let any = self.envelope.into_any();
        match any.downcast::<Envelope<E>>() {
            Ok(envelope) => Ok(*envelope),
            Err(_) => unreachable!("type id matched but downcast failed"),
        }
    }

    /// Returns the `data` attribute as received, when the event carried JSON `data`.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(version = 2)] struct VendorSynced { vendor_id: u32 }
    /// let bytes = br#"{"specversion":"1.0","id":"sync-1","source":"erp","type":"VendorSynced","dataversion":2,
    ///                  "data": {"vendor_id": 12, "note": "kept"}}"#;
    /// let envelope = events::decode(bytes).unwrap();
    /// assert_eq!(envelope.data_json(), Some(r#"{"vendor_id": 12, "note": "kept"}"#));
    /// ```
    pub fn data_json(&self) -> Option<&str> {
        match &self.data {
            ReceivedData::Json(raw) => Some(raw.get()),
            ReceivedData::Base64(_) | ReceivedData::Absent => None,
        }
    }

    /// Returns the version the event had before decoding upgraded it to the
    /// latest, or `None` when it arrived in the version it has now.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct CourseCompleted { course_id: u32 }
    /// let bytes = br#"{"specversion":"1.0","id":"c-1","source":"lms","type":"CourseCompleted","data":{"course_id":101}}"#;
    /// assert_eq!(events::decode(bytes).unwrap().upcast_from(), None);
    /// ```
    pub fn upcast_from(&self) -> Option<u32> {
        self.upcast_from
    }

    pub(crate) fn input(&self) -> crate::handler::Input<'_> {
        crate::handler::Input::of_erased(self.envelope.as_any(), self.envelope.envelope_type_id())
    }
}

impl fmt::Debug for DynEnvelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynEnvelope")
            .field("metadata", self.metadata())
            .field("data", &self.data_json())
            .finish()
    }
}

impl Serialize for DynEnvelope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        cloudevents::serialize_attributes(
            &mut map,
            self.metadata(),
            self.datacontenttype.as_deref(),
        )?;
        match &self.data {
            ReceivedData::Json(raw) => map.serialize_entry("data", raw)?,
            ReceivedData::Base64(text) => map.serialize_entry("data_base64", text)?,
            ReceivedData::Absent => {}
        }
        map.end()
    }
}

/// The payload of an event as found in its CloudEvents JSON.
pub(crate) enum PayloadSource<'a> {
    Json(&'a str),
    Bytes { bytes: &'a [u8], form: BytesForm },
    Absent,
}

/// Deserialises a payload of one registered type into a boxed `Envelope<E>`.
pub(crate) type DecodeFn =
    fn(PayloadSource<'_>, Metadata) -> Result<Box<dyn ErasedEnvelope>, PayloadError>;

/// A payload that does not match its type, with the path of the offending field.
pub(crate) struct PayloadError {
    field: Option<String>,
    error: serde_json::Error,
}

impl From<serde_json::Error> for PayloadError {
    fn from(error: serde_json::Error) -> Self {
        PayloadError { field: None, error }
    }
}

pub(crate) fn decode_typed<E: Event>(
    source: PayloadSource<'_>,
    metadata: Metadata,
) -> Result<Box<dyn ErasedEnvelope>, PayloadError> {
    let payload: E = match source {
        PayloadSource::Json(text) => serde_json::from_str(text).map_err(|error| PayloadError {
            field: field_path::<E>(text),
            error,
        })?,
        PayloadSource::Bytes { bytes, form } => {
            cloudevents::decode_base64_payload::<E>(bytes, form)?
        }
        PayloadSource::Absent => cloudevents::payload_from_nothing::<E>()?,
    };
    Ok(Box::new(Envelope::from_parts(payload, metadata)))
}

/// Finds the path of the field where `text` fails to deserialise as `E`.
///
/// This decodes again with path tracking, which is slower, so it runs only
/// after a failure.
fn field_path<E: Event>(text: &str) -> Option<String> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    match serde_path_to_error::deserialize::<_, E>(&mut deserializer) {
        Ok(_) => None,
        Err(error) => failing_field(error.path(), error.inner()),
    }
}

/// Returns the path of the field that `error` is about, such as
/// `lines[2].quantity`, or `None` for the payload itself. `serde` reports a
/// missing field at the object that lacks it, so its name is added from the
/// message.
pub(crate) fn failing_field(
    path: &serde_path_to_error::Path,
    error: &serde_json::Error,
) -> Option<String> {
    let path = path.to_string();
    let parent = (path != ".").then_some(path);
    let message = serde_message(error);
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'));
    match (parent, missing) {
        (Some(parent), Some(name)) => Some(format!("{parent}.{name}")),
        (None, Some(name)) => Some(name.to_owned()),
        (parent, None) => parent,
    }
}

/// A failure to decode bytes into an envelope. The input bytes are kept
/// in the error, so nothing is lost when an event cannot be handled.
///
/// ```
/// use events::{decode, DecodeErrorKind};
///
/// let error = decode(br#"{"specversion":"1.0","id":"1","source":"s","type":"NoSuchEvent"}"#).unwrap_err();
/// assert!(matches!(error.kind(), DecodeErrorKind::UnknownEvent { .. }));
/// assert!(error.to_string().contains("NoSuchEvent"));
/// assert_eq!(error.raw(), br#"{"specversion":"1.0","id":"1","source":"s","type":"NoSuchEvent"}"#);
/// ```
pub struct DecodeError {
    kind: DecodeErrorKind,
    raw: Vec<u8>,
}

/// The cause of a [`DecodeError`].
///
/// ```
/// use events::{decode, DecodeErrorKind, Event};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize)]
/// struct VendorSynced { vendor_id: u32 }
///
/// let bytes = br#"{"specversion":"1.0","id":"1","source":"erp","type":"VendorSynced","data":{"vendor_id":"twelve"}}"#;
/// match decode(bytes).unwrap_err().kind() {
///     DecodeErrorKind::Payload { name, error, .. } => {
///         assert_eq!(*name, "VendorSynced");
///         assert!(error.to_string().starts_with("invalid type: string \"twelve\""));
///     }
///     other => panic!("expected a payload error, got {other:?}"),
/// }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input is larger than the decoder's limit.
    TooLarge {
        /// The input size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The input is not JSON, or not a JSON object (or array, for a batch).
    Json(serde_json::Error),
    /// A CloudEvents attribute is missing or breaks the format's rules.
    Attribute(AttributeError),
    /// No registered event has this name and version.
    UnknownEvent {
        /// The `type` attribute.
        name: String,
        /// The `dataversion` attribute, 1 when absent.
        version: u32,
        /// Whether the event carried a `dataversion` attribute.
        version_given: bool,
        /// The versions registered under this name, lowest first; empty when
        /// the name is unknown.
        known_versions: Vec<u32>,
    },
    /// The event is of an older version with a type of its own, but no
    /// valid upcast leads from it to the latest version, because the chain is
    /// broken (see [`registry::validate`](crate::registry::validate)). The
    /// error's [`raw`](DecodeError::raw) bytes keep the stored event.
    BrokenChain {
        /// The event name.
        name: &'static str,
        /// The event's own version.
        version: u32,
        /// The latest version.
        latest: u32,
        /// The Rust type of the event's own version, which
        /// [`Decoder::keep_version`] decodes into.
        rust_type: &'static str,
    },
    /// The payload of an older version could not be upgraded to the latest.
    /// The error's [`raw`](DecodeError::raw) bytes keep the stored event.
    Upcast {
        /// The event name.
        name: &'static str,
        /// The event's own version.
        from: u32,
        /// The latest version, which decoding aimed at.
        to: u32,
        /// The step that failed, as (from, to) versions.
        step: (u32, u32),
        /// The path of the offending field in the payload the step read,
        /// when known.
        field: Option<String>,
        /// The step's error message.
        message: String,
    },
    /// The payload does not match the registered type.
    Payload {
        /// The event name.
        name: &'static str,
        /// The event version.
        version: u32,
        /// The Rust type the payload was decoded into.
        rust_type: &'static str,
        /// The path of the offending field inside `data`, such as
        /// `lines[2].quantity`, when the error is inside a field.
        field: Option<String>,
        /// The deserialisation error.
        error: serde_json::Error,
    },
}

impl DecodeError {
    fn new(kind: DecodeErrorKind, raw: &[u8]) -> Self {
        DecodeError {
            kind,
            raw: raw.to_vec(),
        }
    }

    /// Returns the cause.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(version = 2)] struct VendorSynced { vendor_id: u32 }
    /// # use events::DecodeErrorKind;
    /// let bytes = br#"{"specversion":"1.0","id":"1","source":"erp","type":"VendorSynced","dataversion":5}"#;
    /// let error = events::decode(bytes).unwrap_err();
    /// let DecodeErrorKind::UnknownEvent { known_versions, .. } = error.kind() else { unreachable!() };
    /// assert_eq!(known_versions, &[2]);
    /// ```
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.kind
    }

    /// Returns the input bytes that failed to decode.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(version = 2)] struct VendorSynced { vendor_id: u32 }
    /// let bytes = br#"{"specversion":"1.0","id":"1","source":"erp"}"#;
    /// let error = events::decode(bytes).unwrap_err();
    /// assert_eq!(error.raw(), bytes);
    /// ```
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// Returns the input bytes that failed to decode, consuming the error.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(version = 2)] struct VendorSynced { vendor_id: u32 }
    /// let bytes = br#"{"specversion":"1.0","id":"1","source":"erp"}"#;
    /// let dead_letter: Vec<u8> = events::decode(bytes).unwrap_err().into_raw();
    /// assert_eq!(dead_letter, bytes);
    /// ```
    pub fn into_raw(self) -> Vec<u8> {
        self.raw
    }

    /// Returns a short label of the cause, such as `unknown event` or
    /// `invalid payload`, for counting failures by reason.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(version = 2)] struct VendorSynced { vendor_id: u32 }
    /// let reason = |bytes: &[u8]| events::decode(bytes).unwrap_err().reason();
    /// assert_eq!(reason(b"not json"), "malformed JSON");
    /// assert_eq!(reason(br#"{"specversion":"1.0","id":"1","source":"erp"}"#), "invalid attribute");
    /// assert_eq!(reason(br#"{"specversion":"1.0","id":"1","source":"erp","type":"VendorDeleted"}"#), "unknown event");
    /// assert_eq!(reason(br#"{"specversion":"1.0","id":"1","source":"erp","type":"VendorSynced"}"#), "unknown version");
    /// ```
    pub fn reason(&self) -> &'static str {
        match &self.kind {
            DecodeErrorKind::TooLarge { .. } => "too large",
            DecodeErrorKind::Json(_) => "malformed JSON",
            DecodeErrorKind::Attribute(_) => "invalid attribute",
            DecodeErrorKind::UnknownEvent { known_versions, .. } if known_versions.is_empty() => {
                "unknown event"
            }
            DecodeErrorKind::UnknownEvent { .. } => "unknown version",
            DecodeErrorKind::BrokenChain { .. } => "broken upcast chain",
            DecodeErrorKind::Upcast { .. } => "failed upcast",
            DecodeErrorKind::Payload { .. } => "invalid payload",
        }
    }
}

/// Shows the input as text, cut after 200 characters, rather than as a byte array.
impl fmt::Debug for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = String::from_utf8_lossy(&self.raw);
        let preview: String = text.chars().take(200).collect();
        let cut = if preview.len() < text.len() {
            "..."
        } else {
            ""
        };
        f.debug_struct("DecodeError")
            .field("kind", &self.kind)
            .field(
                "raw",
                &format_args!("{preview:?}{cut} ({} bytes)", self.raw.len()),
            )
            .finish()
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            DecodeErrorKind::TooLarge { size, limit } => write!(
                f,
                "event of {size} bytes is larger than the limit of {limit} bytes; raise it with `Decoder::max_size` if such events are expected"
            ),
            DecodeErrorKind::Json(error) => write!(
                f,
                "invalid CloudEvents JSON: {error}; send one JSON object per event, or a JSON array for a batch"
            ),
            DecodeErrorKind::Attribute(error) => fmt::Display::fmt(error, f),
            DecodeErrorKind::UnknownEvent {
                name,
                version,
                known_versions,
                ..
            } if known_versions.is_empty() => write!(
                f,
                "unknown event `{name}` (version {version}): no event with this name is registered; add `#[derive(Event)]` with `#[event(name = \"{name}\")]` to its payload type and link it into the program"
            ),
            DecodeErrorKind::UnknownEvent {
                name,
                version_given: false,
                known_versions,
                ..
            } => {
                let known: Vec<String> = known_versions.iter().map(u32::to_string).collect();
                let latest = known_versions.last().copied().unwrap_or(1);
                write!(
                    f,
                    "event `{name}` has no `dataversion` attribute, which means version 1, but its registered versions are {}; add `\"dataversion\": {latest}` (or the version the payload has) to the event",
                    known.join(", ")
                )
            }
            DecodeErrorKind::UnknownEvent {
                name,
                version,
                known_versions,
                ..
            } => {
                let known: Vec<String> = known_versions.iter().map(u32::to_string).collect();
                write!(
                    f,
                    "unknown version {version} of event `{name}`: registered versions are {}; register a type with `#[event(name = \"{name}\", version = {version})]`",
                    known.join(", ")
                )
            }
            DecodeErrorKind::BrokenChain {
                name,
                version,
                latest,
                rust_type,
            } => write!(
                f,
                "cannot upgrade event `{name}` from version {version} to {latest}: no valid \
                 upcast leads from v{version} because the upcast chain is broken; \
                 `events::registry::validate()` names the problem, and \
                 `Decoder::new().keep_version(true)` decodes the event as `{rust_type}` \
                 (the error keeps the raw event)"
            ),
            DecodeErrorKind::Upcast {
                name,
                from,
                to,
                step,
                field,
                message,
            } => {
                write!(
                    f,
                    "cannot upgrade event `{name}` from version {from} to {to}: step v{} -> v{} failed",
                    step.0, step.1
                )?;
                if let Some(field) = field {
                    write!(f, " at field `{field}`")?;
                }
                write!(
                    f,
                    ": {message}; fix the upcaster or the stored payload (the error keeps the raw event)"
                )
            }
            DecodeErrorKind::Payload {
                name,
                version,
                rust_type,
                field,
                error,
            } => {
                write!(f, "invalid `data` for event `{name}` version {version}")?;
                if let Some(field) = field {
                    write!(f, " at field `{field}`")?;
                }
                // serde_json counts lines and columns inside the `data` text,
                // not the whole event, so the position is labelled as such.
                let message = error.to_string();
                let position = format!(" at line {} column {}", error.line(), error.column());
                let message = message.strip_suffix(&position).unwrap_or(&message);
                write!(
                    f,
                    ": {message} (line {}, column {} of `data`); the payload must deserialise into `{rust_type}`",
                    error.line(),
                    error.column()
                )
            }
        }
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            DecodeErrorKind::Json(error) | DecodeErrorKind::Payload { error, .. } => Some(error),
            DecodeErrorKind::Attribute(error) => Some(error),
            DecodeErrorKind::TooLarge { .. }
            | DecodeErrorKind::UnknownEvent { .. }
            | DecodeErrorKind::BrokenChain { .. }
            | DecodeErrorKind::Upcast { .. } => None,
        }
    }
}

/// Decodes CloudEvents JSON into envelopes of registered events, with a size limit.
///
/// ```
/// use events::{Decoder, DecodeErrorKind};
///
/// let decoder = Decoder::new().max_size(64);
/// let error = decoder.decode(&[b' '; 65]).unwrap_err();
/// assert!(matches!(error.kind(), DecodeErrorKind::TooLarge { size: 65, limit: 64 }));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Decoder<'r> {
    registry: Option<&'r Registry>,
    max_size: usize,
    max_batch_size: usize,
    keep_version: bool,
}

impl Default for Decoder<'static> {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder<'static> {
    /// Creates a decoder over the program-wide registry with the default limits.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(version = 2)] struct VendorSynced { vendor_id: u32 }
    /// let bytes = br#"{"specversion":"1.0","id":"sync-1","source":"erp","type":"VendorSynced","dataversion":2,"data":{"vendor_id":12}}"#;
    /// let envelope = events::Decoder::new().decode(bytes).unwrap();
    /// assert_eq!(envelope.payload::<VendorSynced>().unwrap().vendor_id, 12);
    /// ```
    pub fn new() -> Self {
        Decoder {
            registry: None,
            max_size: DEFAULT_MAX_SIZE,
            max_batch_size: DEFAULT_MAX_BATCH_SIZE,
            keep_version: false,
        }
    }
}

impl<'r> Decoder<'r> {
    /// Creates a decoder that looks events up in `registry` instead of the
    /// program-wide one.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(version = 2)] struct VendorSynced { vendor_id: u32 }
    /// use events::{registry::Registry, Decoder};
    ///
    /// # #[derive(Event, Serialize, Deserialize)] struct VendorDeleted { vendor_id: u32 }
    /// let registry = Registry::new([VendorSynced::info()]).unwrap();
    /// let decoder = Decoder::with_registry(&registry);
    /// let bytes = br#"{"specversion":"1.0","id":"1","source":"erp","type":"VendorDeleted","data":{"vendor_id":12}}"#;
    /// assert_eq!(decoder.decode(bytes).unwrap_err().reason(), "unknown event");
    /// assert!(events::decode(bytes).is_ok());
    /// ```
    pub fn with_registry(registry: &'r Registry) -> Self {
        Decoder {
            registry: Some(registry),
            max_size: DEFAULT_MAX_SIZE,
            max_batch_size: DEFAULT_MAX_BATCH_SIZE,
            keep_version: false,
        }
    }

    /// Sets the largest single event accepted, in bytes.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(version = 2)] struct VendorSynced { vendor_id: u32 }
    /// let decoder = events::Decoder::new().max_size(32);
    /// let error = decoder.decode(br#"{"specversion":"1.0","id":"sync-1","source":"erp"}"#).unwrap_err();
    /// assert_eq!(error.to_string(), "event of 50 bytes is larger than the limit of 32 bytes; raise it with `Decoder::max_size` if such events are expected");
    /// ```
    pub fn max_size(mut self, bytes: usize) -> Self {
        self.max_size = bytes;
        self
    }

    /// Sets the largest batch accepted, in bytes.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(version = 2)] struct VendorSynced { vendor_id: u32 }
    /// let decoder = events::Decoder::new().max_batch_size(1);
    /// assert_eq!(decoder.decode_batch(b"[]").unwrap_err().reason(), "too large");
    /// ```
    pub fn max_batch_size(mut self, bytes: usize) -> Self {
        self.max_batch_size = bytes;
        self
    }

    /// Decodes an event of an older version into that version's own type,
    /// when it has one, instead of upgrading it to the latest version. The
    /// handlers of the older version then receive it.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// #[event(name = "OrderPlaced", version = 1)]
    /// struct OrderPlacedV1 { order_id: u64 }
    ///
    /// #[derive(Event, Serialize, Deserialize)]
    /// #[event(version = 2, upcast_from = OrderPlacedV1)]
    /// struct OrderPlaced { order_id: u64, currency: String }
    ///
    /// impl From<OrderPlacedV1> for OrderPlaced {
    ///     fn from(v1: OrderPlacedV1) -> Self { OrderPlaced { order_id: v1.order_id, currency: "EUR".into() } }
    /// }
    ///
    /// let stored = br#"{"specversion":"1.0","id":"o-1","source":"shop","type":"OrderPlaced","data":{"order_id":7}}"#;
    /// assert_eq!(events::decode(stored).unwrap().version(), 2);
    /// assert_eq!(events::Decoder::new().keep_version(true).decode(stored).unwrap().version(), 1);
    /// ```
    pub fn keep_version(mut self, keep: bool) -> Self {
        self.keep_version = keep;
        self
    }

    fn registry(&self) -> &Registry {
        match self.registry {
            Some(registry) => registry,
            None => registry::global(),
        }
    }

    /// Decodes one CloudEvents JSON event.
    ///
    /// # Panics
    ///
    /// Panics if two event types share a name and version (see
    /// [`registry::validate`]).
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(version = 2)] struct VendorSynced { vendor_id: u32 }
    /// let bytes = br#"{"specversion":"1.0","id":"sync-1","source":"erp","type":"VendorSynced","dataversion":2,"data":{"vendor_id":12}}"#;
    /// let envelope = events::Decoder::new().max_size(4096).decode(bytes).unwrap();
    /// assert_eq!(envelope.name(), "VendorSynced");
    /// ```
    pub fn decode(&self, bytes: &[u8]) -> Result<DynEnvelope, DecodeError> {
        if bytes.len() > self.max_size {
            let kind = DecodeErrorKind::TooLarge {
                size: bytes.len(),
                limit: self.max_size,
            };
            return Err(DecodeError::new(kind, bytes));
        }
        self.decode_unchecked(bytes)
            .map_err(|kind| DecodeError::new(kind, bytes))
    }

    /// Decodes a JSON array of CloudEvents events. A failure of one element
    /// does not affect the others; each failed element keeps its own bytes.
    ///
    /// ```
    /// let batch = br#"[{"specversion":"1.0","id":"1","source":"s","type":"Unknown"}]"#;
    /// let results = events::Decoder::new().decode_batch(batch).unwrap();
    /// assert_eq!(results.len(), 1);
    /// assert_eq!(results[0].as_ref().unwrap_err().reason(), "unknown event");
    /// ```
    pub fn decode_batch(
        &self,
        bytes: &[u8],
    ) -> Result<Vec<Result<DynEnvelope, DecodeError>>, DecodeError> {
        if bytes.len() > self.max_batch_size {
            let kind = DecodeErrorKind::TooLarge {
                size: bytes.len(),
                limit: self.max_batch_size,
            };
            return Err(DecodeError::new(kind, bytes));
        }
        let elements: Vec<&RawValue> = serde_json::from_slice(bytes)
            .map_err(|error| DecodeError::new(DecodeErrorKind::Json(error), bytes))?;
        Ok(elements
            .into_iter()
            .map(|element| self.decode(element.get().as_bytes()))
            .collect())
    }

    fn decode_unchecked(&self, bytes: &[u8]) -> Result<DynEnvelope, DecodeErrorKind> {
        let parsed = cloudevents::parse_raw(bytes).map_err(DecodeErrorKind::Json)?;
        let (checked, RawData(data)) = parsed.check().map_err(DecodeErrorKind::Attribute)?;
        let (info, upcast_from) = self.lookup(&checked)?;
        let upgraded = match upcast_from {
            Some(from) if data.is_none() && checked.data_base64.is_some() => {
                return Err(DecodeErrorKind::Upcast {
                    name: info.name(),
                    from,
                    to: info.version(),
                    step: (from, info.version()),
                    field: None,
                    message:
                        "only JSON `data` can be upgraded, and this event carries `data_base64`"
                            .to_owned(),
                });
            }
            Some(from) => Some(upgrade(info, from, data)?),
            None => None,
        };
        let data = upgraded.as_deref().or(data);

        let bytes_payload = checked
            .decode_base64()
            .transpose()
            .map_err(DecodeErrorKind::Attribute)?;
        let source = match (data, &bytes_payload) {
            (Some(raw), _) => PayloadSource::Json(raw.get()),
            (None, Some(bytes)) => PayloadSource::Bytes {
                bytes,
                form: checked.base64_form(),
            },
            (None, None) => PayloadSource::Absent,
        };
        let metadata = checked
            .metadata_without_name
            .complete(info.name(), info.version());
        let envelope =
            (info.vtable.decode)(source, metadata).map_err(|error| match upcast_from {
                // The chain ran, but its last step produced a payload that the
                // latest type rejects: that step is at fault, not the stored data.
                Some(from) => {
                    let last_step = crate::registry::upcast_steps(info.name())
                        .into_iter()
                        .find(|step| step.to_version() == info.version())
                        .map_or((from, info.version()), |step| {
                            (step.from_version(), step.to_version())
                        });
                    DecodeErrorKind::Upcast {
                        name: info.name(),
                        from,
                        to: info.version(),
                        step: last_step,
                        field: error.field,
                        message: upcast::output_mismatch(
                            info.rust_type(),
                            &serde_message(&error.error),
                        ),
                    }
                }
                None => DecodeErrorKind::Payload {
                    name: info.name(),
                    version: info.version(),
                    rust_type: info.rust_type(),
                    field: error.field,
                    error: error.error,
                },
            })?;

        let received = match (data, checked.data_base64) {
            (Some(raw), _) => ReceivedData::Json(raw.to_owned()),
            (None, Some(text)) => ReceivedData::Base64(text.into_owned()),
            (None, None) => ReceivedData::Absent,
        };
        Ok(DynEnvelope {
            info,
            envelope,
            data: received,
            datacontenttype: checked.datacontenttype,
            upcast_from,
        })
    }

    /// Finds the type to decode into, and the version to upgrade from when
    /// that is the latest version rather than the event's own.
    fn lookup(
        &self,
        checked: &Checked<'_>,
    ) -> Result<(&'static EventInfo, Option<u32>), DecodeErrorKind> {
        let registry = self.registry();
        let versions = registry.versions(&checked.name);
        let exact = versions
            .iter()
            .find(|info| info.version() == checked.version);
        let latest = versions.last();
        match (exact, latest) {
            (Some(info), Some(latest))
                if info.version() == latest.version() || self.keep_version =>
            {
                Ok((info, None))
            }
            (_, Some(latest)) if upcast::has_step_from(&checked.name, checked.version) => {
                Ok((latest, Some(checked.version)))
            }
            // An older version with a type but no upcast from it: the chain
            // is broken, and decoding it as its own version would hand the
            // latest version's handlers nothing without saying why.
            (Some(info), Some(latest)) => Err(DecodeErrorKind::BrokenChain {
                name: info.name(),
                version: info.version(),
                latest: latest.version(),
                rust_type: info.rust_type(),
            }),
            _ => Err(DecodeErrorKind::UnknownEvent {
                name: checked.name.clone().into_owned(),
                version: checked.version,
                version_given: checked.version_given,
                known_versions: versions.iter().map(|info| info.version()).collect(),
            }),
        }
    }
}

/// Returns a `serde_json` error's message without its line and column,
/// which point into an upgraded value that exists only in memory.
pub(crate) fn serde_message(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    match message.strip_suffix(&position) {
        Some(stripped) => stripped.to_owned(),
        None => message,
    }
}

/// Upgrades the JSON `data` of an event from version `from` to `latest`.
fn upgrade(
    latest: &'static EventInfo,
    from: u32,
    data: Option<&RawValue>,
) -> Result<Box<RawValue>, DecodeErrorKind> {
    let payload = match data {
        Some(raw) => serde_json::from_str(raw.get()).map_err(DecodeErrorKind::Json)?,
        None => serde_json::Value::Null,
    };
    let upgraded =
        upcast::upgrade(latest.name(), from, latest.version(), payload).map_err(|failure| {
            DecodeErrorKind::Upcast {
                name: latest.name(),
                from,
                to: latest.version(),
                step: (failure.from, failure.to),
                field: failure.field,
                message: failure.message,
            }
        })?;
    serde_json::value::to_raw_value(&upgraded).map_err(DecodeErrorKind::Json)
}

/// Decodes one CloudEvents JSON event of any registered type, looked up by its
/// `type` and `dataversion` attributes, with the default size limit.
///
/// # Panics
///
/// Panics if two event types share a name and version (see [`registry::validate`]).
///
/// ```
/// use events::{decode, Event};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize)]
/// #[event(version = 2)]
/// struct OrderFulfilled { order_id: u64 }
///
/// let bytes = br#"{"specversion":"1.0","id":"1","source":"s","type":"OrderFulfilled","dataversion":3,"data":{}}"#;
/// let error = decode(bytes).unwrap_err();
/// assert!(error.to_string().contains("registered versions are 2"));
/// ```
pub fn decode(bytes: &[u8]) -> Result<DynEnvelope, DecodeError> {
    Decoder::new().decode(bytes)
}

/// Decodes a JSON array of CloudEvents events with the default size limits.
///
/// # Panics
///
/// Panics if two event types share a name and version (see [`registry::validate`]).
///
/// ```
/// let results = events::decode_batch(b"[]").unwrap();
/// assert!(results.is_empty());
/// ```
pub fn decode_batch(bytes: &[u8]) -> Result<Vec<Result<DynEnvelope, DecodeError>>, DecodeError> {
    Decoder::new().decode_batch(bytes)
}

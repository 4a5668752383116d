//! Decoding CloudEvents JSON of any registered event by its name and version.

use std::any::{Any, TypeId};
use std::fmt;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::cloudevents::{self, AttributeError, Checked, RawData};
use crate::envelope::{Envelope, EventId, Metadata};
use crate::event::{Event, EventInfo};
use crate::registry::{self, Registry};

/// The largest input [`decode`] accepts: 1 MiB, the default maximum message
/// size of NATS and a common broker limit.
pub const DEFAULT_MAX_SIZE: usize = 1024 * 1024;

/// The largest input [`decode_batch`] accepts: 16 MiB.
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
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send + Sync>;
}

impl<E: Event> ErasedEnvelope for Envelope<E> {
    fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    fn as_any(&self) -> &(dyn Any + Send + Sync) {
        self
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send + Sync> {
        self
    }
}

impl DynEnvelope {
    /// Returns the registered description of the event.
    pub fn info(&self) -> &'static EventInfo {
        self.info
    }

    /// Returns the metadata.
    pub fn metadata(&self) -> &Metadata {
        self.envelope.metadata()
    }

    /// Returns the event name.
    pub fn name(&self) -> &'static str {
        self.info.name()
    }

    /// Returns the event version.
    pub fn version(&self) -> u32 {
        self.info.version()
    }

    /// Returns the event id.
    pub fn id(&self) -> &EventId {
        self.metadata().id()
    }

    /// Returns whether the payload is of type `E`.
    pub fn is<E: Event>(&self) -> bool {
        self.info.type_id() == TypeId::of::<E>()
    }

    /// Returns the payload if it is of type `E`.
    pub fn payload<E: Event>(&self) -> Option<&E> {
        self.envelope
            .as_any()
            .downcast_ref::<Envelope<E>>()
            .map(Envelope::payload)
    }

    /// Returns the typed envelope if the payload is of type `E`, or else gives
    /// `self` back unchanged.
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
    pub fn data_json(&self) -> Option<&str> {
        match &self.data {
            ReceivedData::Json(raw) => Some(raw.get()),
            ReceivedData::Base64(_) | ReceivedData::Absent => None,
        }
    }

    pub(crate) fn erased(&self) -> &(dyn Any + Send + Sync) {
        self.envelope.as_any()
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
    Bytes { bytes: &'a [u8], is_json: bool },
    Absent,
}

/// Deserialises a payload of one registered type into a boxed `Envelope<E>`.
pub(crate) type DecodeFn =
    fn(PayloadSource<'_>, Metadata) -> Result<Box<dyn ErasedEnvelope>, serde_json::Error>;

pub(crate) fn decode_typed<E: Event>(
    source: PayloadSource<'_>,
    metadata: Metadata,
) -> Result<Box<dyn ErasedEnvelope>, serde_json::Error> {
    let payload: E = match source {
        PayloadSource::Json(text) => serde_json::from_str(text)?,
        PayloadSource::Bytes { bytes, is_json } => {
            cloudevents::decode_base64_payload::<E>(bytes, is_json)?
        }
        PayloadSource::Absent => cloudevents::payload_from_nothing::<E>()?,
    };
    Ok(Box::new(Envelope::from_parts(payload, metadata)))
}

/// Why bytes could not be decoded into an envelope. The input bytes are kept
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
#[derive(Debug)]
pub struct DecodeError {
    kind: DecodeErrorKind,
    raw: Vec<u8>,
}

/// The cause of a [`DecodeError`].
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
        /// The versions registered under this name, lowest first; empty when
        /// the name is unknown.
        known_versions: Vec<u32>,
    },
    /// The payload does not match the registered type.
    Payload {
        /// The event name.
        name: &'static str,
        /// The event version.
        version: u32,
        /// The Rust type the payload was decoded into.
        rust_type: &'static str,
        /// The deserialisation error, which names the field.
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
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.kind
    }

    /// Returns the input bytes that failed to decode.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// Returns the input bytes that failed to decode, consuming the error.
    pub fn into_raw(self) -> Vec<u8> {
        self.raw
    }

    /// Returns a short label of the cause, such as `unknown event` or
    /// `invalid payload`, for counting failures by reason.
    pub fn reason(&self) -> &'static str {
        match &self.kind {
            DecodeErrorKind::TooLarge { .. } => "too large",
            DecodeErrorKind::Json(_) => "malformed JSON",
            DecodeErrorKind::Attribute(_) => "invalid attribute",
            DecodeErrorKind::UnknownEvent { known_versions, .. } if known_versions.is_empty() => {
                "unknown event"
            }
            DecodeErrorKind::UnknownEvent { .. } => "unknown version",
            DecodeErrorKind::Payload { .. } => "invalid payload",
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            DecodeErrorKind::TooLarge { size, limit } => write!(
                f,
                "event of {size} bytes is larger than the limit of {limit} bytes; raise it with `Decoder::max_size` if such events are expected"
            ),
            DecodeErrorKind::Json(error) => write!(f, "invalid CloudEvents JSON: {error}"),
            DecodeErrorKind::Attribute(error) => fmt::Display::fmt(error, f),
            DecodeErrorKind::UnknownEvent {
                name,
                version,
                known_versions,
            } if known_versions.is_empty() => write!(
                f,
                "unknown event `{name}` (version {version}): no event with this name is registered; add `#[derive(Event)]` with `#[event(name = \"{name}\")]` to its payload type and link it into the program"
            ),
            DecodeErrorKind::UnknownEvent {
                name,
                version,
                known_versions,
            } => {
                let known: Vec<String> = known_versions.iter().map(u32::to_string).collect();
                write!(
                    f,
                    "unknown version {version} of event `{name}`: registered versions are {}; register a type with `#[event(name = \"{name}\", version = {version})]`",
                    known.join(", ")
                )
            }
            DecodeErrorKind::Payload {
                name,
                version,
                rust_type,
                error,
            } => write!(
                f,
                "invalid `data` for event `{name}` version {version} (`{rust_type}`): {error}"
            ),
        }
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            DecodeErrorKind::Json(error) | DecodeErrorKind::Payload { error, .. } => Some(error),
            DecodeErrorKind::Attribute(error) => Some(error),
            DecodeErrorKind::TooLarge { .. } | DecodeErrorKind::UnknownEvent { .. } => None,
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
}

impl Default for Decoder<'static> {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder<'static> {
    /// Creates a decoder over the program-wide registry with the default limits.
    pub fn new() -> Self {
        Decoder {
            registry: None,
            max_size: DEFAULT_MAX_SIZE,
            max_batch_size: DEFAULT_MAX_BATCH_SIZE,
        }
    }
}

impl<'r> Decoder<'r> {
    /// Creates a decoder that looks events up in `registry` instead of the
    /// program-wide one.
    pub fn with_registry(registry: &'r Registry) -> Self {
        Decoder {
            registry: Some(registry),
            max_size: DEFAULT_MAX_SIZE,
            max_batch_size: DEFAULT_MAX_BATCH_SIZE,
        }
    }

    /// Sets the largest single event accepted, in bytes.
    pub fn max_size(mut self, bytes: usize) -> Self {
        self.max_size = bytes;
        self
    }

    /// Sets the largest batch accepted, in bytes.
    pub fn max_batch_size(mut self, bytes: usize) -> Self {
        self.max_batch_size = bytes;
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
        let info = self.lookup(&checked)?;

        let bytes_payload = checked
            .decode_base64()
            .transpose()
            .map_err(DecodeErrorKind::Attribute)?;
        let source = match (data, &bytes_payload) {
            (Some(raw), _) => PayloadSource::Json(raw.get()),
            (None, Some(bytes)) => PayloadSource::Bytes {
                bytes,
                is_json: checked.base64_is_json(),
            },
            (None, None) => PayloadSource::Absent,
        };
        let metadata = checked
            .metadata_without_name
            .complete(info.name(), info.version());
        let envelope =
            (info.vtable.decode)(source, metadata).map_err(|error| DecodeErrorKind::Payload {
                name: info.name(),
                version: info.version(),
                rust_type: info.rust_type(),
                error,
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
        })
    }

    fn lookup(&self, checked: &Checked<'_>) -> Result<&'static EventInfo, DecodeErrorKind> {
        let registry = self.registry();
        let versions = registry.versions(&checked.name);
        match versions
            .iter()
            .find(|info| info.version() == checked.version)
        {
            Some(info) => Ok(info),
            None => Err(DecodeErrorKind::UnknownEvent {
                name: checked.name.clone().into_owned(),
                version: checked.version,
                known_versions: versions.iter().map(|info| info.version()).collect(),
            }),
        }
    }
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

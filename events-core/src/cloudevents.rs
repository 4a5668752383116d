//! The CloudEvents 1.0 JSON format of envelopes.
//!
//! An [`Envelope`] serialises as one structured-mode event
//! (`application/cloudevents+json`); a slice or `Vec` of envelopes serialises
//! as a JSON array, the batch form (`application/cloudevents-batch+json`).
//!
//! | Envelope | CloudEvents attribute |
//! |---|---|
//! | always `"1.0"` | `specversion` |
//! | [`id`](Envelope::id) | `id` |
//! | [`source`](Envelope::source) | `source` |
//! | event name ([`Event::NAME`]) | `type` |
//! | event version ([`Event::VERSION`]) | `dataversion`, an integer extension |
//! | [`subject`](Envelope::subject) | `subject`, when set |
//! | [`time`](Envelope::time) | `time`, RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits |
//! | `"application/json"` unless decoded with another | `datacontenttype` |
//! | dataschema | `dataschema`, when set |
//! | [`correlation_id`](Envelope::correlation_id) | `correlationid`, when set |
//! | [`causation_id`](Envelope::causation_id) | `causationid`, when set |
//! | [`extensions`](Envelope::extensions) | one attribute each |
//! | payload | `data` (`data_base64` is accepted on decoding) |
//!
//! Decoding rules:
//! - An event without `dataversion` is version 1. `dataversion` may be a
//!   JSON integer or a string of digits.
//! - A `time` decoded from JSON re-encodes byte for byte, offset and
//!   fractional digits included, as long as it is not replaced.
//! - Extension values must be booleans, strings or integers from
//!   -2,147,483,648 to 2,147,483,647. A decimal number, an object or an array
//!   is rejected with an error naming the attribute.
//! - Attributes whose value is `null` are treated as absent.
//!
//! ```
//! use events::{cloudevents, Envelope, Event};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Serialize, Deserialize)]
//! #[event(version = 2)]
//! struct OrderPlaced { order_id: u64 }
//!
//! let envelope = Envelope::new(OrderPlaced { order_id: 7 })
//!     .with_time("2026-03-01T09:30:00.5Z".parse().unwrap());
//! let json: serde_json::Value = serde_json::to_value(&envelope).unwrap();
//! assert_eq!(json["specversion"], "1.0");
//! assert_eq!(json["type"], "OrderPlaced");
//! assert_eq!(json["dataversion"], 2);
//! assert_eq!(json["time"], "2026-03-01T09:30:00.500Z");
//! assert_eq!(json["data"]["order_id"], 7);
//!
//! let batch = serde_json::to_string(&[&envelope, &envelope]).unwrap();
//! assert_eq!(cloudevents::BATCH_CONTENT_TYPE, "application/cloudevents-batch+json");
//! assert!(batch.starts_with('['));
//! ```

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Deserializer, Serialize};

use crate::envelope::{Envelope, EventId, ExtensionValue, Metadata};
use crate::event::Event;

/// The media type of one event in structured mode.
///
/// ```
/// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// use events::cloudevents::{BATCH_CONTENT_TYPE, CONTENT_TYPE};
///
/// let outbox = vec![Envelope::new(OrderPlaced { order_id: 7 })];
/// let (body, content_type) = match outbox.as_slice() {
///     [single] => (serde_json::to_vec(single).unwrap(), CONTENT_TYPE),
///     batch => (serde_json::to_vec(batch).unwrap(), BATCH_CONTENT_TYPE),
/// };
/// assert_eq!(content_type, "application/cloudevents+json");
/// assert_eq!(body[0], b'{');
/// ```
pub const CONTENT_TYPE: &str = "application/cloudevents+json";

/// The media type of a JSON array of events.
///
/// ```
/// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// use events::cloudevents::BATCH_CONTENT_TYPE;
///
/// let batch = [Envelope::new(OrderPlaced { order_id: 7 }), Envelope::new(OrderPlaced { order_id: 8 })];
/// let body = serde_json::to_vec(&batch).unwrap();
/// assert_eq!(events::decode_batch(&body).unwrap().len(), 2);
/// assert_eq!(BATCH_CONTENT_TYPE, "application/cloudevents-batch+json");
/// ```
pub const BATCH_CONTENT_TYPE: &str = "application/cloudevents-batch+json";

/// The CloudEvents version this crate reads and writes.
///
/// ```
/// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// let json = serde_json::to_value(Envelope::new(OrderPlaced { order_id: 7 })).unwrap();
/// assert_eq!(json["specversion"], events::cloudevents::SPEC_VERSION);
/// assert_eq!(events::cloudevents::SPEC_VERSION, "1.0");
/// ```
pub const SPEC_VERSION: &str = "1.0";

/// The extension attribute that carries the event version.
///
/// ```
/// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// # #[derive(Event, Serialize, Deserialize)] #[event(version = 2)] struct OrderShipped;
/// use events::cloudevents::VERSION_ATTRIBUTE;
///
/// let json = serde_json::to_value(Envelope::new(OrderShipped)).unwrap();
/// assert_eq!(VERSION_ATTRIBUTE, "dataversion");
/// assert_eq!(json[VERSION_ATTRIBUTE], 2);
/// ```
pub const VERSION_ATTRIBUTE: &str = "dataversion";

/// The extension attribute that carries the correlation id.
///
/// ```
/// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// use events::cloudevents::CORRELATION_ATTRIBUTE;
///
/// let envelope = Envelope::new(OrderPlaced { order_id: 7 }).with_correlation_id("checkout-42");
/// let json = serde_json::to_value(&envelope).unwrap();
/// assert_eq!(CORRELATION_ATTRIBUTE, "correlationid");
/// assert_eq!(json[CORRELATION_ATTRIBUTE], "checkout-42");
/// ```
pub const CORRELATION_ATTRIBUTE: &str = "correlationid";

/// The extension attribute that carries the causation id.
///
/// ```
/// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// use events::cloudevents::CAUSATION_ATTRIBUTE;
///
/// let envelope = Envelope::new(OrderPlaced { order_id: 7 }).with_causation_id("cart-checked-out-7");
/// let json = serde_json::to_value(&envelope).unwrap();
/// assert_eq!(CAUSATION_ATTRIBUTE, "causationid");
/// assert_eq!(json[CAUSATION_ATTRIBUTE], "cart-checked-out-7");
/// ```
pub const CAUSATION_ATTRIBUTE: &str = "causationid";

const JSON_CONTENT_TYPE: &str = "application/json";

/// Attribute names with a meaning of their own, which extensions cannot take.
const RESERVED: &[&str] = &[
    "specversion",
    "id",
    "source",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "dataschema",
    "data",
    "data_base64",
    VERSION_ATTRIBUTE,
    CORRELATION_ATTRIBUTE,
    CAUSATION_ATTRIBUTE,
];

/// Checks an extension attribute name against the CloudEvents naming rules.
pub(crate) fn check_extension_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("names must not be empty");
    }
    if !name
        .bytes()
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit())
    {
        return Err("names may contain only lowercase ASCII letters and digits");
    }
    if RESERVED.contains(&name) {
        return Err("the name is a CloudEvents or `events` attribute");
    }
    Ok(())
}

/// Builds the error for an extension name set in code that breaks
/// [`check_extension_name`], with a compliant name to use instead.
pub(crate) fn invalid_extension_name(
    name: &str,
    value: &ExtensionValue,
    reason: &str,
) -> AttributeError {
    let suggestion: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let fix = if suggestion.is_empty() || RESERVED.contains(&suggestion.as_str()) {
        "rename it to lowercase ASCII letters and digits that no CloudEvents attribute uses"
            .to_owned()
    } else {
        format!("rename it, for example to `{suggestion}`")
    };
    let value = match value {
        ExtensionValue::String(text) => serde_json::to_string(text).unwrap_or_default(),
        other => other.to_string(),
    };
    AttributeError {
        attribute: name.to_owned(),
        value: Some(value),
        reason: format!("{reason}; {fix}"),
    }
}

/// Formats a time as RFC 3339 in UTC with the fewest fractional digits (0, 3, 6 or 9)
/// that keep every nanosecond.
pub(crate) fn format_time(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn is_json_content_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == JSON_CONTENT_TYPE || essence == "text/json" || essence.ends_with("+json")
}

/// Writes every attribute except the payload.
pub(crate) fn serialize_attributes<M: SerializeMap>(
    map: &mut M,
    metadata: &Metadata,
    datacontenttype: Option<&str>,
) -> Result<(), M::Error> {
    map.serialize_entry("specversion", SPEC_VERSION)?;
    map.serialize_entry("id", &DisplayStr(&metadata.id))?;
    map.serialize_entry("source", &*metadata.source)?;
    map.serialize_entry("type", metadata.name)?;
    map.serialize_entry(VERSION_ATTRIBUTE, &metadata.version)?;

    if let Some(subject) = metadata.subject.as_deref().filter(|s| !s.is_empty()) {
        map.serialize_entry("subject", subject)?;
    }
    match &metadata.time_text {
        Some((time, text)) if *time == metadata.time => map.serialize_entry("time", &**text)?,
        _ => map.serialize_entry("time", &format_time(&metadata.time))?,
    }
    map.serialize_entry(
        "datacontenttype",
        datacontenttype.unwrap_or(JSON_CONTENT_TYPE),
    )?;

    if let Some(dataschema) = &metadata.dataschema {
        map.serialize_entry("dataschema", dataschema)?;
    }
    if let Some(id) = &metadata.correlation_id {
        map.serialize_entry(CORRELATION_ATTRIBUTE, &DisplayStr(id))?;
    }
    if let Some(id) = &metadata.causation_id {
        map.serialize_entry(CAUSATION_ATTRIBUTE, &DisplayStr(id))?;
    }

    for (name, value) in &metadata.extensions {
        match value {
            ExtensionValue::Boolean(value) => map.serialize_entry(name, value)?,
            ExtensionValue::Integer(value) => map.serialize_entry(name, value)?,
            ExtensionValue::String(value) => map.serialize_entry(name, value)?,
        }
    }
    Ok(())
}

/// Serialises a `Display` value as a string without an intermediate `String`.
struct DisplayStr<'a, T>(&'a T);

impl<T: fmt::Display> Serialize for DisplayStr<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self.0)
    }
}

impl<E: Serialize> Serialize for Envelope<E> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        BorrowedEnvelope {
            metadata: &self.metadata,
            payload: &self.payload,
        }
        .serialize(serializer)
    }
}

/// An envelope whose metadata and payload live apart, serialised like
/// [`Envelope`].
pub(crate) struct BorrowedEnvelope<'a, E> {
    pub(crate) metadata: &'a Metadata,
    pub(crate) payload: &'a E,
}

impl<E: Serialize> Serialize for BorrowedEnvelope<'_, E> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        serialize_attributes(&mut map, self.metadata, None)?;
        map.serialize_entry("data", self.payload)?;
        map.end()
    }
}

/// A string borrowed from the input when it has no escapes.
pub(crate) struct Text<'de>(pub(crate) Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(value)))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(value.to_owned())))
            }

            fn visit_string<E: de::Error>(self, value: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(value)))
            }
        }

        deserializer.deserialize_str(TextVisitor)
    }
}

/// An attribute value as found in the JSON, before the CloudEvents type rules are applied.
#[derive(Debug)]
pub(crate) enum RawValue<'de> {
    Null,
    Boolean(bool),
    Integer(i64),
    Unsigned(u64),
    Decimal(f64),
    String(Cow<'de, str>),
    Object,
    Array,
}

impl RawValue<'_> {
    fn describe(&self) -> String {
        match self {
            RawValue::Null => "null".to_owned(),
            RawValue::Boolean(value) => value.to_string(),
            RawValue::Integer(value) => value.to_string(),
            RawValue::Unsigned(value) => value.to_string(),
            RawValue::Decimal(value) => format!("{value:?}"),
            RawValue::String(value) => format!("{value:?}"),
            RawValue::Object => "an object".to_owned(),
            RawValue::Array => "an array".to_owned(),
        }
    }
}

impl<'de> Deserialize<'de> for RawValue<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RawVisitor;

        impl<'de> Visitor<'de> for RawVisitor {
            type Value = RawValue<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a CloudEvents attribute value")
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(RawValue::Null)
            }

            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(RawValue::Null)
            }

            fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
                Ok(RawValue::Boolean(value))
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
                Ok(RawValue::Integer(value))
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
                Ok(RawValue::Unsigned(value))
            }

            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
                Ok(RawValue::Decimal(value))
            }

            fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
                Ok(RawValue::String(Cow::Borrowed(value)))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
                Ok(RawValue::String(Cow::Owned(value.to_owned())))
            }

            fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
                Ok(RawValue::String(Cow::Owned(value)))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(RawValue::Object)
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(RawValue::Array)
            }
        }

        deserializer.deserialize_any(RawVisitor)
    }
}

/// A CloudEvents attribute that failed the format's rules.
///
/// ```
/// use events::{decode, DecodeErrorKind};
///
/// let error = decode(br#"{"specversion":"1.0","id":"","source":"erp","type":"VendorSynced"}"#).unwrap_err();
/// let DecodeErrorKind::Attribute(invalid) = error.kind() else { unreachable!() };
/// assert_eq!(invalid.attribute, "id");
/// assert_eq!(invalid.value.as_deref(), Some("\"\""));
/// assert_eq!(invalid.reason, "must not be empty");
/// assert_eq!(invalid.to_string(), "invalid CloudEvents attribute `id` = \"\": must not be empty");
///
/// let error = decode(br#"{"specversion":"1.0","id":"1","source":"erp"}"#).unwrap_err();
/// let DecodeErrorKind::Attribute(missing) = error.kind() else { unreachable!() };
/// assert_eq!(missing.attribute, "type");
/// assert_eq!(missing.value, None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttributeError {
    /// The attribute name.
    pub attribute: String,
    /// The value as found in the input, or `None` when the attribute is missing.
    pub value: Option<String>,
    /// The problem and its fix.
    pub reason: String,
}

impl fmt::Display for AttributeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(value) => write!(
                f,
                "invalid CloudEvents attribute `{}` = {}: {}",
                self.attribute, value, self.reason
            ),
            None => write!(
                f,
                "missing CloudEvents attribute `{}`: {}",
                self.attribute, self.reason
            ),
        }
    }
}

impl std::error::Error for AttributeError {}

fn invalid(attribute: &str, value: &RawValue<'_>, reason: impl Into<String>) -> AttributeError {
    AttributeError {
        attribute: attribute.to_owned(),
        value: Some(value.describe()),
        reason: reason.into(),
    }
}

fn missing(attribute: &str) -> AttributeError {
    AttributeError {
        attribute: attribute.to_owned(),
        value: None,
        reason: "every CloudEvents 1.0 event needs `specversion`, `id`, `source` and `type`"
            .to_owned(),
    }
}

/// The destination of the `data` attribute while an event is parsed.
pub(crate) trait DataSlot<'de>: Default {
    fn read<A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<(), A::Error>;
    fn is_set(&self) -> bool;
}

/// The attributes of one event, parsed but not yet checked.
pub(crate) struct Parsed<'de, D> {
    attributes: Vec<(Cow<'de, str>, RawValue<'de>)>,
    pub(crate) data: D,
}

/// The attributes of one event, checked against the CloudEvents rules.
pub(crate) struct Checked<'de> {
    pub(crate) name: Cow<'de, str>,
    pub(crate) version: u32,
    /// Whether `dataversion` was present; an absent one means version 1.
    pub(crate) version_given: bool,
    pub(crate) metadata_without_name: PartialMetadata,
    pub(crate) datacontenttype: Option<String>,
    pub(crate) data_base64: Option<Cow<'de, str>>,
}

/// Metadata whose name is filled in once the event type is known.
pub(crate) struct PartialMetadata {
    id: EventId,
    time: Option<(DateTime<Utc>, Box<str>)>,
    source: Arc<str>,
    subject: Option<String>,
    dataschema: Option<String>,
    correlation_id: Option<EventId>,
    causation_id: Option<EventId>,
    extensions: BTreeMap<String, ExtensionValue>,
}

impl PartialMetadata {
    pub(crate) fn complete(self, name: &'static str, version: u32) -> Metadata {
        let (time, time_text) = match self.time {
            Some((time, text)) => (time, Some((time, text))),
            // An event without `time` is stamped when it is decoded.
            None => (Utc::now(), None),
        };
        Metadata {
            id: self.id,
            time,
            time_text,
            source: self.source,
            subject: self.subject,
            name,
            version,
            dataschema: self.dataschema,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            extensions: self.extensions,
        }
    }
}

impl<'de, D: DataSlot<'de>> Parsed<'de, D> {
    pub(crate) fn check(self) -> Result<(Checked<'de>, D), AttributeError> {
        let mut specversion = None;
        let mut id = None;
        let mut source = None;
        let mut name = None;
        let mut version = 1;
        let mut version_given = false;
        let mut subject = None;
        let mut time = None;
        let mut datacontenttype = None;
        let mut dataschema = None;
        let mut data_base64 = None;
        let mut correlation_id = None;
        let mut causation_id = None;
        let mut extensions = BTreeMap::new();

        for (attribute, value) in self.attributes {
            if matches!(value, RawValue::Null) {
                continue;
            }
            match &*attribute {
                "specversion" => {
                    let text = string(&attribute, value)?;
                    if text != SPEC_VERSION {
                        return Err(AttributeError {
                            attribute: "specversion".to_owned(),
                            value: Some(format!("{text:?}")),
                            reason:
                                "only CloudEvents 1.0 is supported; send `\"specversion\": \"1.0\"`"
                                    .to_owned(),
                        });
                    }
                    specversion = Some(());
                }
                "id" => id = Some(non_empty(&attribute, value)?),
                "source" => source = Some(non_empty(&attribute, value)?),
                "type" => name = Some(non_empty(&attribute, value)?),
                // CloudEvents requires a present `subject` to be non-empty;
                // producers that send "" mean "no subject".
                "subject" => {
                    subject =
                        Some(string(&attribute, value)?.into_owned()).filter(|s| !s.is_empty())
                }
                "time" => time = Some(parse_time(value)?),
                "datacontenttype" => {
                    datacontenttype = Some(string(&attribute, value)?.into_owned())
                }
                "dataschema" => dataschema = Some(non_empty(&attribute, value)?.into_owned()),
                "data_base64" => data_base64 = Some(string(&attribute, value)?),
                VERSION_ATTRIBUTE => {
                    version = parse_version(value)?;
                    version_given = true;
                }
                CORRELATION_ATTRIBUTE => {
                    correlation_id = Some(EventId::from(&*non_empty(&attribute, value)?))
                }
                CAUSATION_ATTRIBUTE => {
                    causation_id = Some(EventId::from(&*non_empty(&attribute, value)?))
                }
                _ => {
                    let value = extension_value(&attribute, value)?;
                    extensions.insert(attribute.into_owned(), value);
                }
            }
        }

        if specversion.is_none() {
            return Err(missing("specversion"));
        }
        let id = id.ok_or_else(|| missing("id"))?;
        let source = source.ok_or_else(|| missing("source"))?;
        let name = name.ok_or_else(|| missing("type"))?;
        if let (Some(text), true) = (&data_base64, self.data.is_set()) {
            return Err(AttributeError {
                attribute: "data_base64".to_owned(),
                value: Some(format!("{:?}", truncate(text, 40))),
                reason: "an event carries `data` or `data_base64`, not both; remove one".to_owned(),
            });
        }

        let checked = Checked {
            name,
            version,
            version_given,
            metadata_without_name: PartialMetadata {
                id: EventId::from(&*id),
                time,
                source: Arc::from(&*source),
                subject,
                dataschema,
                correlation_id,
                causation_id,
                extensions,
            },
            datacontenttype,
            data_base64,
        };
        Ok((checked, self.data))
    }
}

impl Checked<'_> {
    /// Returns the payload bytes of `data_base64`, decoded.
    pub(crate) fn decode_base64(&self) -> Option<Result<Vec<u8>, AttributeError>> {
        let text = self.data_base64.as_ref()?;
        Some(
            base64::engine::general_purpose::STANDARD
                .decode(text.as_bytes())
                .map_err(|error| AttributeError {
                    attribute: "data_base64".to_owned(),
                    value: Some(format!("{:?}", truncate(text, 40))),
                    reason: format!("not valid base64 ({error}); encode the payload with the standard alphabet and padding"),
                }),
        )
    }

    /// Returns how to read the payload bytes of `data_base64`, from the content type.
    pub(crate) fn base64_form(&self) -> BytesForm {
        match self.datacontenttype.as_deref() {
            None => BytesForm::Json,
            Some(content_type) if is_json_content_type(content_type) => BytesForm::Json,
            Some(content_type) if content_type.trim_start().starts_with("text/") => BytesForm::Text,
            Some(_) => BytesForm::Binary,
        }
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

fn string<'de>(attribute: &str, value: RawValue<'de>) -> Result<Cow<'de, str>, AttributeError> {
    match value {
        RawValue::String(text) => Ok(text),
        other => Err(invalid(attribute, &other, "expected a string")),
    }
}

fn non_empty<'de>(attribute: &str, value: RawValue<'de>) -> Result<Cow<'de, str>, AttributeError> {
    let text = string(attribute, value)?;
    if text.is_empty() {
        return Err(AttributeError {
            attribute: attribute.to_owned(),
            value: Some("\"\"".to_owned()),
            reason: "must not be empty".to_owned(),
        });
    }
    Ok(text)
}

fn parse_time(value: RawValue<'_>) -> Result<(DateTime<Utc>, Box<str>), AttributeError> {
    let text = string("time", value)?;
    match DateTime::parse_from_rfc3339(&text) {
        Ok(time) => Ok((time.with_timezone(&Utc), Box::from(&*text))),
        Err(error) => Err(AttributeError {
            attribute: "time".to_owned(),
            value: Some(format!("{text:?}")),
            reason: format!(
                "not an RFC 3339 timestamp ({error}); write it like \"2026-01-31T23:59:59.123Z\""
            ),
        }),
    }
}

fn parse_version(value: RawValue<'_>) -> Result<u32, AttributeError> {
    let parsed = match &value {
        RawValue::Integer(number) => u32::try_from(*number).ok(),
        RawValue::Unsigned(number) => u32::try_from(*number).ok(),
        RawValue::String(text) => text.parse::<u32>().ok(),
        _ => None,
    };
    match parsed {
        Some(version) if version >= 1 => Ok(version),
        _ => Err(invalid(
            VERSION_ATTRIBUTE,
            &value,
            "expected the event version as a whole number from 1 to 4294967295",
        )),
    }
}

fn extension_value(attribute: &str, value: RawValue<'_>) -> Result<ExtensionValue, AttributeError> {
    if let Err(reason) = check_extension_name(attribute) {
        return Err(invalid(
            attribute,
            &value,
            format!("not a valid extension attribute: {reason}"),
        ));
    }
    let integer_range = "CloudEvents integers are whole numbers from -2147483648 to 2147483647; send the value as a string";
    match value {
        RawValue::Boolean(value) => Ok(ExtensionValue::Boolean(value)),
        RawValue::String(value) => Ok(ExtensionValue::String(value.into_owned())),
        RawValue::Integer(number) => match i32::try_from(number) {
            Ok(number) => Ok(ExtensionValue::Integer(number)),
            Err(_) => Err(invalid(attribute, &value, integer_range)),
        },
        RawValue::Unsigned(number) => match i32::try_from(number) {
            Ok(number) => Ok(ExtensionValue::Integer(number)),
            Err(_) => Err(invalid(attribute, &value, integer_range)),
        },
        RawValue::Decimal(_) => Err(invalid(
            attribute,
            &value,
            "a decimal number is not a CloudEvents type; send a whole number or a string",
        )),
        RawValue::Object | RawValue::Array => Err(invalid(
            attribute,
            &value,
            "extension attributes hold a boolean, an integer or a string; move structured values into `data`",
        )),
        RawValue::Null => unreachable!("null attributes are skipped before this point"),
    }
}

struct ParsedVisitor<D>(PhantomData<D>);

impl<'de, D: DataSlot<'de>> Visitor<'de> for ParsedVisitor<D> {
    type Value = Parsed<'de, D>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CloudEvents JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut attributes: Vec<(Cow<'de, str>, RawValue<'de>)> = Vec::with_capacity(12);
        let mut data = D::default();
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            if key == "data" {
                if data.is_set() {
                    return Err(de::Error::custom("duplicate CloudEvents attribute `data`"));
                }
                data.read(&mut map)?;
                continue;
            }
            if attributes.iter().any(|(seen, _)| *seen == key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate CloudEvents attribute `{key}`"
                )));
            }
            let value = map.next_value::<RawValue<'de>>()?;
            attributes.push((key, value));
        }
        Ok(Parsed { attributes, data })
    }
}

impl<'de, D: DataSlot<'de>> Deserialize<'de> for Parsed<'de, D> {
    fn deserialize<De: Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        deserializer.deserialize_map(ParsedVisitor(PhantomData))
    }
}

/// The payload of a typed envelope, deserialised in place.
struct TypedData<E>(Option<E>);

impl<E> Default for TypedData<E> {
    fn default() -> Self {
        TypedData(None)
    }
}

impl<'de, E: Deserialize<'de>> DataSlot<'de> for TypedData<E> {
    fn read<A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<(), A::Error> {
        self.0 = Some(map.next_value_seed(PhantomData::<E>)?);
        Ok(())
    }

    fn is_set(&self) -> bool {
        self.0.is_some()
    }
}

/// Deserialises a payload when the event has no `data`, so that unit structs
/// and `Option` payloads work.
pub(crate) fn payload_from_nothing<'de, E: Deserialize<'de>>() -> Result<E, serde_json::Error> {
    E::deserialize(serde_json::Value::Null).map_err(|error| {
        de::Error::custom(format_args!(
            "the event has no `data` and the payload type cannot be empty: {error}"
        ))
    })
}

impl<'de, E: Event> Deserialize<'de> for Envelope<E> {
    /// Reads one CloudEvents JSON event whose `type` and `dataversion` are
    /// `E::NAME` and `E::VERSION`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let parsed = Parsed::<TypedData<E>>::deserialize(deserializer)?;
        let (checked, data) = parsed.check().map_err(de::Error::custom)?;

        if checked.name != E::NAME || checked.version != E::VERSION {
            return Err(de::Error::custom(format_args!(
                "expected event `{}` version {}, found `{}` version {}; decode events of unknown type with `events::decode`",
                E::NAME,
                E::VERSION,
                checked.name,
                checked.version
            )));
        }

        let payload = match (data.0, checked.decode_base64()) {
            (Some(payload), _) => payload,
            (None, Some(bytes)) => {
                let bytes = bytes.map_err(de::Error::custom)?;
                decode_base64_payload::<E>(&bytes, checked.base64_form())
                    .map_err(de::Error::custom)?
            }
            (None, None) => payload_from_nothing::<E>().map_err(de::Error::custom)?,
        };
        let metadata = checked.metadata_without_name.complete(E::NAME, E::VERSION);
        Ok(Envelope::from_parts(payload, metadata))
    }
}

/// The way payload bytes from `data_base64` are handed to the payload type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BytesForm {
    /// Parsed as JSON: the content type is JSON or absent.
    Json,
    /// A string: the content type is `text/*`.
    Text,
    /// A sequence of bytes, which `Vec<u8>` and byte-buffer types accept.
    Binary,
}

/// Deserialises a payload from the bytes of `data_base64` in the given form.
pub(crate) fn decode_base64_payload<E: Event>(
    bytes: &[u8],
    form: BytesForm,
) -> Result<E, serde_json::Error> {
    match form {
        BytesForm::Json => serde_json::from_slice(bytes),
        BytesForm::Text => match std::str::from_utf8(bytes) {
            Ok(text) => E::deserialize(serde_json::Value::from(text)),
            Err(error) => Err(de::Error::custom(format_args!(
                "`data_base64` of a `text/*` event is not UTF-8 ({error}); declare another `datacontenttype`"
            ))),
        },
        BytesForm::Binary => {
            let values = bytes.iter().map(|byte| serde_json::Value::from(*byte));
            E::deserialize(serde_json::Value::Array(values.collect()))
        }
    }
}

/// The raw JSON text of `data`, borrowed from the input.
#[derive(Default)]
pub(crate) struct RawData<'de>(pub(crate) Option<&'de serde_json::value::RawValue>);

impl<'de> DataSlot<'de> for RawData<'de> {
    fn read<A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<(), A::Error> {
        self.0 = Some(map.next_value::<&'de serde_json::value::RawValue>()?);
        Ok(())
    }

    fn is_set(&self) -> bool {
        self.0.is_some()
    }
}

/// Parses the attributes of one event and keeps `data` as raw JSON text.
pub(crate) fn parse_raw(bytes: &[u8]) -> Result<Parsed<'_, RawData<'_>>, serde_json::Error> {
    serde_json::from_slice(bytes)
}

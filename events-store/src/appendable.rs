//! Events the store accepts, and the attributes it copies into columns.

use std::borrow::Cow;
use std::fmt;

use events_core::chrono::{DateTime, Utc};
use events_core::{DynEnvelope, Envelope, Event};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::error::StoreError;

/// An event the store can append: its CloudEvents JSON is stored as is.
///
/// Implemented for typed [`Envelope`]s and [`DynEnvelope`]s, which are
/// serialised with `serde_json`, and for already encoded JSON (`[u8]`,
/// `Vec<u8>`, `str`, `String`), which is stored byte for byte. Encoded JSON
/// must be one CloudEvents 1.0 event with `specversion`, `id`, `source` and
/// `type`, but its type need not be registered in this program.
///
/// ```
/// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// use events_store::{ReadFrom, SqliteStore, Store};
///
/// let received = br#"{"specversion":"1.0","id":"erp-1","source":"erp","type":"OrderPlaced","data":{"order_id":7}}"#;
/// let mut store = SqliteStore::in_memory()?;
/// store.append(&[&received[..]])?;
///
/// let stored = store.read(ReadFrom::Start).next().unwrap()?;
/// assert_eq!(stored.json, received);
/// # Ok::<(), events_store::StoreError>(())
/// ```
pub trait Appendable {
    /// Returns the CloudEvents JSON of the event, borrowed when it is
    /// encoded already.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// use events_store::Appendable;
    ///
    /// let envelope = Envelope::new(OrderPlaced { order_id: 7 });
    /// let json = envelope.to_cloudevents_json().unwrap();
    /// assert!(json.starts_with(br#"{"specversion":"1.0""#));
    /// ```
    fn to_cloudevents_json(&self) -> Result<Cow<'_, [u8]>, serde_json::Error>;
}

impl<E: Event> Appendable for Envelope<E> {
    fn to_cloudevents_json(&self) -> Result<Cow<'_, [u8]>, serde_json::Error> {
        serde_json::to_vec(self).map(Cow::Owned)
    }
}

impl Appendable for DynEnvelope {
    fn to_cloudevents_json(&self) -> Result<Cow<'_, [u8]>, serde_json::Error> {
        serde_json::to_vec(self).map(Cow::Owned)
    }
}

impl Appendable for [u8] {
    fn to_cloudevents_json(&self) -> Result<Cow<'_, [u8]>, serde_json::Error> {
        Ok(Cow::Borrowed(self))
    }
}

impl Appendable for Vec<u8> {
    fn to_cloudevents_json(&self) -> Result<Cow<'_, [u8]>, serde_json::Error> {
        Ok(Cow::Borrowed(self))
    }
}

impl Appendable for str {
    fn to_cloudevents_json(&self) -> Result<Cow<'_, [u8]>, serde_json::Error> {
        Ok(Cow::Borrowed(self.as_bytes()))
    }
}

impl Appendable for String {
    fn to_cloudevents_json(&self) -> Result<Cow<'_, [u8]>, serde_json::Error> {
        Ok(Cow::Borrowed(self.as_bytes()))
    }
}

impl<T: Appendable + ?Sized> Appendable for &T {
    fn to_cloudevents_json(&self) -> Result<Cow<'_, [u8]>, serde_json::Error> {
        (**self).to_cloudevents_json()
    }
}

/// The attributes of one event that the store copies into columns.
#[derive(Debug)]
pub(crate) struct Attributes<'a> {
    pub(crate) id: Cow<'a, str>,
    pub(crate) name: Cow<'a, str>,
    pub(crate) version: u32,
    pub(crate) time: Option<Cow<'a, str>>,
    /// `time` in nanoseconds since the Unix epoch, `None` outside 1677 to 2262.
    pub(crate) time_ns: Option<i64>,
    pub(crate) source: Cow<'a, str>,
    pub(crate) subject: Option<Cow<'a, str>>,
    pub(crate) correlation_id: Option<Cow<'a, str>>,
    pub(crate) causation_id: Option<Cow<'a, str>>,
}

/// The attributes as found in the JSON, before their values are checked.
/// Other attributes and `data` are skipped.
#[derive(Deserialize)]
struct RawAttributes<'a> {
    #[serde(borrow)]
    specversion: Option<Text<'a>>,
    #[serde(borrow)]
    id: Option<Text<'a>>,
    #[serde(borrow, rename = "type")]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    source: Option<Text<'a>>,
    #[serde(default)]
    dataversion: Option<Version>,
    #[serde(borrow, default)]
    time: Option<Text<'a>>,
    #[serde(borrow, default)]
    subject: Option<Text<'a>>,
    #[serde(borrow, default)]
    correlationid: Option<Text<'a>>,
    #[serde(borrow, default)]
    causationid: Option<Text<'a>>,
}

/// A JSON string, borrowed from the input unless it contains escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }

            fn visit_string<E: de::Error>(self, text: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }

        deserializer.deserialize_str(TextVisitor)
    }
}

/// `dataversion`: a JSON integer or a string of digits, as the decoder accepts.
struct Version(u32);

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct VersionVisitor;

        impl Visitor<'_> for VersionVisitor {
            type Value = Version;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("an integer from 0 to 4294967295 or a string of its digits")
            }

            fn visit_u64<E: de::Error>(self, number: u64) -> Result<Version, E> {
                u32::try_from(number)
                    .map(Version)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(number), &self))
            }

            fn visit_i64<E: de::Error>(self, number: i64) -> Result<Version, E> {
                u32::try_from(number)
                    .map(Version)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(number), &self))
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Version, E> {
                text.parse()
                    .map(Version)
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(text), &self))
            }
        }

        deserializer.deserialize_any(VersionVisitor)
    }
}

/// Reads the attributes the store keeps in columns from one CloudEvents
/// JSON event, or returns why the bytes are not one.
pub(crate) fn parse_attributes(json: &[u8]) -> Result<Attributes<'_>, String> {
    let raw: RawAttributes<'_> =
        serde_json::from_slice(json).map_err(|error| format!("invalid JSON object: {error}"))?;

    let specversion = required(raw.specversion, "specversion")?;
    if specversion != events_core::cloudevents::SPEC_VERSION {
        return Err(format!(
            "`specversion` is {specversion:?}, but only \"1.0\" is supported"
        ));
    }
    let time = raw.time.map(|text| text.0);
    let time_ns = match &time {
        Some(text) => Some(parse_time(text)?),
        None => None,
    }
    .flatten();

    Ok(Attributes {
        id: non_empty(required(raw.id, "id")?, "id")?,
        name: non_empty(required(raw.name, "type")?, "type")?,
        version: raw.dataversion.map_or(1, |version| version.0),
        time,
        time_ns,
        source: non_empty(required(raw.source, "source")?, "source")?,
        subject: raw.subject.map(|text| text.0),
        correlation_id: raw.correlationid.map(|text| text.0),
        causation_id: raw.causationid.map(|text| text.0),
    })
}

fn required<'a>(value: Option<Text<'a>>, attribute: &str) -> Result<Cow<'a, str>, String> {
    value
        .map(|text| text.0)
        .ok_or_else(|| format!("the required attribute `{attribute}` is missing"))
}

fn non_empty<'a>(value: Cow<'a, str>, attribute: &str) -> Result<Cow<'a, str>, String> {
    if value.is_empty() {
        return Err(format!("the attribute `{attribute}` must not be empty"));
    }
    Ok(value)
}

/// Parses an RFC 3339 `time` into nanoseconds since the Unix epoch, `None`
/// when it does not fit in an `i64`.
fn parse_time(text: &str) -> Result<Option<i64>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc).timestamp_nanos_opt())
        .map_err(|error| format!("`time` {text:?} is not an RFC 3339 timestamp: {error}"))
}

/// Encodes each event of a batch as CloudEvents JSON, failing on the first
/// one that cannot be serialised.
pub(crate) fn encode_all<T: Appendable>(events: &[T]) -> Result<Vec<Cow<'_, [u8]>>, StoreError> {
    events
        .iter()
        .enumerate()
        .map(|(index, event)| {
            event
                .to_cloudevents_json()
                .map_err(|error| StoreError::Serialize { index, error })
        })
        .collect()
}

/// Reads the stored columns of each encoded event of a batch, failing on
/// the first one that is not a valid CloudEvents event.
pub(crate) fn parse_all<'a>(jsons: &'a [Cow<'_, [u8]>]) -> Result<Vec<Attributes<'a>>, StoreError> {
    jsons
        .iter()
        .enumerate()
        .map(|(index, json)| {
            parse_attributes(json).map_err(|reason| StoreError::InvalidEvent { index, reason })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_attributes_reads_every_column() {
        let json = br#"{"specversion":"1.0","id":"a\"1","source":"erp","type":"OrderPlaced",
            "dataversion":"3","time":"2026-01-02T03:04:05.123456789+01:00","subject":"order-7",
            "correlationid":"c","causationid":"d","data":{"id":"ignored"}}"#;
        let attributes = parse_attributes(json).unwrap();
        assert_eq!(attributes.id, "a\"1");
        assert_eq!(attributes.name, "OrderPlaced");
        assert_eq!(attributes.version, 3);
        assert_eq!(
            attributes.time.as_deref(),
            Some("2026-01-02T03:04:05.123456789+01:00")
        );
        assert_eq!(attributes.time_ns, Some(1_767_319_445_123_456_789));
        assert_eq!(attributes.source, "erp");
        assert_eq!(attributes.subject.as_deref(), Some("order-7"));
        assert_eq!(attributes.correlation_id.as_deref(), Some("c"));
        assert_eq!(attributes.causation_id.as_deref(), Some("d"));
    }

    #[test]
    fn parse_attributes_defaults_version_and_time() {
        let json = br#"{"specversion":"1.0","id":"1","source":"s","type":"T","time":null}"#;
        let attributes = parse_attributes(json).unwrap();
        assert_eq!(attributes.version, 1);
        assert_eq!(attributes.time, None);
        assert_eq!(attributes.time_ns, None);
    }

    #[test]
    fn parse_attributes_rejects_invalid_events() {
        let cases: [(&[u8], &str); 6] = [
            (b"[1]", "invalid JSON object"),
            (
                br#"{"id":"1","source":"s","type":"T"}"#,
                "`specversion` is missing",
            ),
            (
                br#"{"specversion":"0.3","id":"1","source":"s","type":"T"}"#,
                "only \"1.0\"",
            ),
            (
                br#"{"specversion":"1.0","id":"","source":"s","type":"T"}"#,
                "`id` must not be empty",
            ),
            (
                br#"{"specversion":"1.0","id":"1","source":"s","type":"T","time":"noon"}"#,
                "not an RFC 3339",
            ),
            (
                br#"{"specversion":"1.0","id":"1","source":"s","type":"T","dataversion":-1}"#,
                "invalid JSON object",
            ),
        ];
        for (json, expected) in cases {
            let error = parse_attributes(json).unwrap_err();
            assert!(error.contains(expected), "{error:?} lacks {expected:?}");
        }
    }
}

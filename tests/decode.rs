//! Decoding CloudEvents JSON with `events::decode`, `Decoder` and typed
//! `Envelope<E>` deserialisation: accepted inputs, rejected inputs and the
//! errors that explain them.

use events::cloudevents::AttributeError;
use events::{
    decode, decode_batch, DecodeError, DecodeErrorKind, Decoder, Envelope, Event, ExtensionValue,
    DEFAULT_MAX_SIZE,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// A customer placed an order.
#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "shop.order.placed")]
struct OrderPlaced {
    order_id: u64,
    total_cents: u64,
}

/// A customer emptied the cart.
#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "shop.cart.cleared")]
struct CartCleared;

/// An invoice was issued, in the first payload version.
#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "billing.invoice.issued", version = 1)]
struct InvoiceIssuedV1 {
    invoice_id: u64,
}

/// An invoice was issued, in the second payload version, which adds the currency.
#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "billing.invoice.issued", version = 2)]
struct InvoiceIssuedV2 {
    invoice_id: u64,
    currency: String,
}

/// A file was attached. The payload travels as opaque bytes in `data_base64`.
#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "files.attachment.added")]
struct AttachmentAdded(Vec<u8>);

// Helpers.

/// Returns the attributes of a valid `shop.order.placed` event.
fn order_attributes() -> Map<String, Value> {
    let event = json!({
        "specversion": "1.0",
        "id": "order-7-placed",
        "source": "https://shop.example/orders",
        "type": "shop.order.placed",
        "data": {"order_id": 7, "total_cents": 1250},
    });
    match event {
        Value::Object(attributes) => attributes,
        _ => unreachable!(),
    }
}

/// Returns a valid `shop.order.placed` event with `changes` applied.
fn order_event_with(changes: &[(&str, Value)]) -> Vec<u8> {
    let mut attributes = order_attributes();
    for (name, value) in changes {
        attributes.insert((*name).to_owned(), value.clone());
    }
    serde_json::to_vec(&attributes).unwrap()
}

/// Returns a valid `shop.order.placed` event without `removed`.
fn order_event_without(removed: &str) -> Vec<u8> {
    let mut attributes = order_attributes();
    attributes.remove(removed);
    serde_json::to_vec(&attributes).unwrap()
}

fn attribute_error(error: &DecodeError) -> &AttributeError {
    match error.kind() {
        DecodeErrorKind::Attribute(attribute) => attribute,
        other => panic!("expected an attribute error, got {other:?}: {error}"),
    }
}

// Accepted events.

#[test]
fn decode_reads_valid_event() {
    let envelope = decode(&order_event_with(&[])).unwrap();

    assert_eq!(envelope.name(), "shop.order.placed");
    assert_eq!(envelope.version(), 1);
    assert_eq!(envelope.id().to_string(), "order-7-placed");
    assert_eq!(envelope.metadata().source(), "https://shop.example/orders");
    assert_eq!(
        envelope.payload::<OrderPlaced>(),
        Some(&OrderPlaced {
            order_id: 7,
            total_cents: 1250
        })
    );
}

#[test]
fn missing_payload_field_named() {
    let bytes = br#"{"specversion":"1.0","id":"inv-2","source":"billing","type":"billing.invoice.issued","dataversion":2,"data":{"invoice_id":2}}"#;

    let error = decode(bytes).unwrap_err();

    let DecodeErrorKind::Payload { field, .. } = error.kind() else {
        panic!("expected a payload error, got {error:?}");
    };
    assert_eq!(field.as_deref(), Some("currency"));
    assert!(
        error.to_string().contains("missing field `currency`"),
        "{error}"
    );
}

#[test]
fn old_version_without_upcast_rejected() {
    let bytes = br#"{"specversion":"1.0","id":"inv-1","source":"billing","type":"billing.invoice.issued","dataversion":1,"data":{"invoice_id":1}}"#;

    let error = decode(bytes).unwrap_err();

    assert_eq!(error.reason(), "broken upcast chain");
    assert_eq!(error.raw(), bytes);
    assert!(
        matches!(
            error.kind(),
            DecodeErrorKind::BrokenChain {
                name: "billing.invoice.issued",
                version: 1,
                latest: 2,
                ..
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("no valid upcast leads from v1"),
        "{message}"
    );
    assert!(message.contains("registry::validate()"), "{message}");
    assert!(message.contains("keep_version(true)"), "{message}");
    assert!(message.contains("InvoiceIssuedV1"), "{message}");
}

#[test]
fn decode_selects_version_by_dataversion() {
    let first = br#"{"specversion":"1.0","id":"inv-1","source":"billing","type":"billing.invoice.issued","data":{"invoice_id":1}}"#;
    let second = br#"{"specversion":"1.0","id":"inv-2","source":"billing","type":"billing.invoice.issued","dataversion":2,"data":{"invoice_id":2,"currency":"EUR"}}"#;

    // No upcast joins the two versions, so only a decoder that keeps each
    // event's own version reads version 1.
    let decoder = Decoder::new().keep_version(true);
    let first = decoder.decode(first).unwrap();
    let second = decode(second).unwrap();

    assert_eq!(first.version(), 1);
    assert!(first.is::<InvoiceIssuedV1>());
    assert_eq!(second.version(), 2);
    assert_eq!(
        second.payload::<InvoiceIssuedV2>(),
        Some(&InvoiceIssuedV2 {
            invoice_id: 2,
            currency: "EUR".to_owned()
        })
    );
}

#[test]
fn decode_accepts_dataversion_string() {
    let bytes = br#"{"specversion":"1.0","id":"inv-2","source":"billing","type":"billing.invoice.issued","dataversion":"2","data":{"invoice_id":2,"currency":"EUR"}}"#;

    let envelope = decode(bytes).unwrap();

    assert_eq!(envelope.version(), 2);
    assert!(envelope.is::<InvoiceIssuedV2>());
}

// Unknown events.

#[test]
fn decode_rejects_unknown_name() {
    let bytes = order_event_with(&[("type", json!("shop.order.cancelled"))]);

    let error = decode(&bytes).unwrap_err();
    let message = error.to_string();

    let DecodeErrorKind::UnknownEvent {
        name,
        version,
        known_versions,
        ..
    } = error.kind()
    else {
        panic!("expected an unknown event error, got {error}");
    };
    assert_eq!(name, "shop.order.cancelled");
    assert_eq!(*version, 1);
    assert!(known_versions.is_empty());
    assert_eq!(error.reason(), "unknown event");
    assert!(message.contains("`shop.order.cancelled`"), "{message}");
    assert!(message.contains("#[derive(Event)]"), "{message}");
    assert!(
        message.contains(r#"#[event(name = "shop.order.cancelled")]"#),
        "{message}"
    );
    assert_eq!(error.raw(), bytes.as_slice());
}

#[test]
fn decode_rejects_unknown_version() {
    let bytes = br#"{"specversion":"1.0","id":"inv-3","source":"billing","type":"billing.invoice.issued","dataversion":3,"data":{}}"#;

    let error = decode(bytes).unwrap_err();
    let message = error.to_string();

    let DecodeErrorKind::UnknownEvent {
        name,
        version,
        known_versions,
        ..
    } = error.kind()
    else {
        panic!("expected an unknown event error, got {error}");
    };
    assert_eq!(name, "billing.invoice.issued");
    assert_eq!(*version, 3);
    assert_eq!(known_versions, &[1, 2]);
    assert_eq!(error.reason(), "unknown version");
    assert!(message.contains("unknown version 3"), "{message}");
    assert!(
        message.contains("registered versions are 1, 2"),
        "{message}"
    );
    assert!(
        message.contains(r#"#[event(name = "billing.invoice.issued", version = 3)]"#),
        "{message}"
    );
}

/// A registered version 2 only, so that an event without `dataversion`
/// (which means version 1) is unknown.
#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "crm.contact.merged", version = 2)]
struct ContactMerged {
    contact_id: u64,
}

#[test]
fn decode_names_missing_dataversion() {
    let bytes = br#"{"specversion":"1.0","id":"m-1","source":"crm","type":"crm.contact.merged","data":{"contact_id":4}}"#;

    let error = decode(bytes).unwrap_err();
    let message = error.to_string();

    let DecodeErrorKind::UnknownEvent {
        version,
        version_given,
        known_versions,
        ..
    } = error.kind()
    else {
        panic!("expected an unknown event error, got {error}");
    };
    assert_eq!(*version, 1);
    assert!(!version_given);
    assert_eq!(known_versions, &[2]);
    assert!(message.contains("no `dataversion` attribute"), "{message}");
    assert!(message.contains(r#"add `"dataversion": 2`"#), "{message}");
}

#[test]
fn decode_error_debug_shows_input_as_text() {
    let error = decode(br#"{"specversion":"1.0","id":"x"}"#).unwrap_err();

    let debug = format!("{error:?}");

    assert!(
        debug.contains(r#"raw: "{\"specversion\":\"1.0\",\"id\":\"x\"}" (30 bytes)"#),
        "{debug}"
    );
}

#[test]
fn decode_error_keeps_raw_bytes_for_every_kind() {
    let too_large = vec![b' '; 1_000];
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("too large", too_large),
        ("malformed JSON", b"{\"specversion\":".to_vec()),
        (
            "invalid attribute",
            order_event_with(&[("specversion", json!("0.3"))]),
        ),
        (
            "unknown event",
            order_event_with(&[("type", json!("shop.order.cancelled"))]),
        ),
        (
            "unknown version",
            order_event_with(&[("dataversion", json!(2))]),
        ),
        (
            "invalid payload",
            order_event_with(&[("data", json!({"order_id": "seven"}))]),
        ),
    ];
    let decoder = Decoder::new().max_size(999);

    for (reason, bytes) in cases {
        let error = decoder.decode(&bytes).unwrap_err();

        assert_eq!(error.reason(), reason);
        assert_eq!(error.raw(), bytes.as_slice(), "{reason}");
        assert_eq!(error.into_raw(), bytes, "{reason}");
    }
}

// Inputs that are not a CloudEvents JSON object.

#[test]
fn decode_rejects_malformed_json() {
    let bytes = br#"{"specversion":"1.0","id":"1",}"#;

    let error = decode(bytes).unwrap_err();
    let message = error.to_string();

    assert!(matches!(error.kind(), DecodeErrorKind::Json(_)));
    assert_eq!(error.reason(), "malformed JSON");
    assert!(
        message.starts_with("invalid CloudEvents JSON: "),
        "{message}"
    );
    assert!(message.contains("line 1 column"), "{message}");
}

#[test]
fn decode_rejects_json_array() {
    let error = decode(br#"[{"specversion":"1.0"}]"#).unwrap_err();
    let message = error.to_string();

    assert!(matches!(error.kind(), DecodeErrorKind::Json(_)));
    assert!(message.contains("sequence"), "{message}");
    assert!(
        message.contains("expected a CloudEvents JSON object"),
        "{message}"
    );
}

#[test]
fn decode_rejects_json_string() {
    let error = decode(br#""order placed""#).unwrap_err();
    let message = error.to_string();

    assert!(matches!(error.kind(), DecodeErrorKind::Json(_)));
    assert!(message.contains(r#""order placed""#), "{message}");
    assert!(
        message.contains("expected a CloudEvents JSON object"),
        "{message}"
    );
}

// Required attributes.

#[test]
fn decode_rejects_missing_required_attribute() {
    for attribute in ["specversion", "id", "source", "type"] {
        let error = decode(&order_event_without(attribute)).unwrap_err();
        let message = error.to_string();
        let details = attribute_error(&error);

        assert_eq!(details.attribute, attribute);
        assert_eq!(details.value, None, "{attribute}");
        assert!(
            message.starts_with(&format!("missing CloudEvents attribute `{attribute}`")),
            "{message}"
        );
        assert!(
            message.contains("`specversion`, `id`, `source` and `type`"),
            "{message}"
        );
    }
}

#[test]
fn decode_rejects_specversion_0_3() {
    let error = decode(&order_event_with(&[("specversion", json!("0.3"))])).unwrap_err();
    let message = error.to_string();
    let details = attribute_error(&error);

    assert_eq!(details.attribute, "specversion");
    assert_eq!(details.value.as_deref(), Some(r#""0.3""#));
    assert!(message.contains(r#""0.3""#), "{message}");
    assert!(message.contains(r#""specversion": "1.0""#), "{message}");
}

#[test]
fn decode_rejects_empty_required_string() {
    for attribute in ["id", "source", "type"] {
        let error = decode(&order_event_with(&[(attribute, json!(""))])).unwrap_err();
        let message = error.to_string();
        let details = attribute_error(&error);

        assert_eq!(details.attribute, attribute);
        assert_eq!(details.value.as_deref(), Some(r#""""#), "{attribute}");
        assert!(
            message.contains(&format!("`{attribute}` = \"\"")),
            "{message}"
        );
        assert!(message.contains("must not be empty"), "{message}");
    }
}

#[test]
fn decode_rejects_non_string_id() {
    let error = decode(&order_event_with(&[("id", json!(42))])).unwrap_err();
    let message = error.to_string();
    let details = attribute_error(&error);

    assert_eq!(details.attribute, "id");
    assert_eq!(details.value.as_deref(), Some("42"));
    assert!(message.contains("expected a string"), "{message}");
}

// Optional attributes.

#[test]
fn decode_rejects_invalid_time() {
    for time in ["yesterday", "2018-04-26T14:48:09", "2018-13-01T00:00:00Z"] {
        let error = decode(&order_event_with(&[("time", json!(time))])).unwrap_err();
        let message = error.to_string();
        let details = attribute_error(&error);

        assert_eq!(details.attribute, "time");
        assert_eq!(details.value, Some(format!("{time:?}")));
        assert!(message.contains(&format!("{time:?}")), "{message}");
        assert!(message.contains("not an RFC 3339 timestamp"), "{message}");
        assert!(message.contains("2026-01-31T23:59:59.123Z"), "{message}");
    }
}

#[test]
fn decode_rejects_invalid_dataversion() {
    let cases = [
        (json!(0), "0"),
        (json!(-1), "-1"),
        (json!("x"), r#""x""#),
        (json!(""), r#""""#),
        (json!(1.5), "1.5"),
        (json!(4_294_967_296_u64), "4294967296"),
        (json!(true), "true"),
    ];
    for (value, described) in cases {
        let error = decode(&order_event_with(&[("dataversion", value)])).unwrap_err();
        let message = error.to_string();
        let details = attribute_error(&error);

        assert_eq!(details.attribute, "dataversion");
        assert_eq!(details.value.as_deref(), Some(described));
        assert!(message.contains(described), "{message}");
        assert!(
            message.contains("whole number from 1 to 4294967295"),
            "{message}"
        );
    }
}

#[test]
fn decode_rejects_uppercase_extension_name() {
    for name in ["Tenant", "tenantId"] {
        let error = decode(&order_event_with(&[(name, json!("acme"))])).unwrap_err();
        let message = error.to_string();
        let details = attribute_error(&error);

        assert_eq!(details.attribute, name);
        assert!(message.contains(&format!("`{name}`")), "{message}");
        assert!(
            message.contains("only lowercase ASCII letters and digits"),
            "{message}"
        );
    }
}

#[test]
fn decode_rejects_structured_extension_value() {
    let cases = [
        (json!({"region": "eu"}), "an object"),
        (json!(["eu", "us"]), "an array"),
    ];
    for (value, described) in cases {
        let error = decode(&order_event_with(&[("tenant", value)])).unwrap_err();
        let message = error.to_string();
        let details = attribute_error(&error);

        assert_eq!(details.attribute, "tenant");
        assert_eq!(details.value.as_deref(), Some(described));
        assert!(message.contains(described), "{message}");
        assert!(
            message.contains("move structured values into `data`"),
            "{message}"
        );
    }
}

#[test]
fn decode_rejects_extension_beyond_i32() {
    for value in [2_147_483_648_i64, -2_147_483_649] {
        let error = decode(&order_event_with(&[("retries", json!(value))])).unwrap_err();
        let message = error.to_string();
        let details = attribute_error(&error);

        assert_eq!(details.attribute, "retries");
        assert_eq!(details.value, Some(value.to_string()));
        assert!(message.contains(&value.to_string()), "{message}");
        assert!(message.contains("send the value as a string"), "{message}");
    }
}

#[test]
fn decode_accepts_extension_at_i32_bounds() {
    for value in [i32::MAX, i32::MIN] {
        let envelope = decode(&order_event_with(&[("retries", json!(value))])).unwrap();

        assert_eq!(
            envelope.metadata().extensions().get("retries"),
            Some(&ExtensionValue::Integer(value))
        );
    }
}

#[test]
fn decode_rejects_decimal_extension() {
    let error = decode(&order_event_with(&[("ratio", json!(0.25))])).unwrap_err();
    let message = error.to_string();
    let details = attribute_error(&error);

    assert_eq!(details.attribute, "ratio");
    assert_eq!(details.value.as_deref(), Some("0.25"));
    assert!(
        message.contains("send a whole number or a string"),
        "{message}"
    );
}

// Payload attributes.

#[test]
fn decode_rejects_data_and_data_base64() {
    let error = decode(&order_event_with(&[("data_base64", json!("e30="))])).unwrap_err();
    let message = error.to_string();
    let details = attribute_error(&error);

    assert_eq!(details.attribute, "data_base64");
    assert!(
        message.contains("an event carries `data` or `data_base64`, not both"),
        "{message}"
    );
    assert!(message.contains("remove one"), "{message}");
}

#[test]
fn decode_both_payloads_message_not_missing() {
    let error = decode(&order_event_with(&[("data_base64", json!("e30="))])).unwrap_err();
    let message = error.to_string();

    assert!(!message.starts_with("missing"), "{message}");
}

#[test]
fn decode_rejects_invalid_base64() {
    for text in ["!!", "e30", "e3 0="] {
        let bytes = order_event_without("data");
        let mut attributes: Map<String, Value> = serde_json::from_slice(&bytes).unwrap();
        attributes.insert("data_base64".to_owned(), json!(text));

        let error = decode(&serde_json::to_vec(&attributes).unwrap()).unwrap_err();
        let message = error.to_string();
        let details = attribute_error(&error);

        assert_eq!(details.attribute, "data_base64");
        assert_eq!(details.value, Some(format!("{text:?}")));
        assert!(message.contains("not valid base64"), "{message}");
        assert!(
            message.contains("standard alphabet and padding"),
            "{message}"
        );
    }
}

#[test]
fn decode_reads_json_data_base64() {
    // `{"order_id":7,"total_cents":1250}` in base64.
    let bytes = br#"{"specversion":"1.0","id":"1","source":"s","type":"shop.order.placed","data_base64":"eyJvcmRlcl9pZCI6NywidG90YWxfY2VudHMiOjEyNTB9"}"#;

    let envelope = decode(bytes).unwrap();

    assert_eq!(
        envelope.payload::<OrderPlaced>(),
        Some(&OrderPlaced {
            order_id: 7,
            total_cents: 1250
        })
    );
}

#[test]
fn decode_reads_binary_data_into_byte_vector() {
    let bytes = br#"{"specversion":"1.0","id":"1","source":"s","type":"files.attachment.added","datacontenttype":"application/octet-stream","data_base64":"AAEC"}"#;

    let envelope = decode(bytes).unwrap();

    assert_eq!(
        envelope.payload::<AttachmentAdded>(),
        Some(&AttachmentAdded(vec![0, 1, 2]))
    );
}

#[test]
fn decode_treats_empty_subject_as_absent() {
    let envelope = decode(&order_event_with(&[("subject", json!(""))])).unwrap();
    assert_eq!(envelope.metadata().subject(), None);

    let encoded: serde_json::Value = serde_json::to_value(&envelope).unwrap();
    assert!(encoded.get("subject").is_none(), "{encoded}");
}

// Size limits.

#[test]
fn decoder_rejects_input_over_max_size() {
    let bytes = order_event_with(&[]);
    let limit = bytes.len() - 1;

    let error = Decoder::new().max_size(limit).decode(&bytes).unwrap_err();
    let message = error.to_string();

    let DecodeErrorKind::TooLarge { size, limit: found } = error.kind() else {
        panic!("expected a size error, got {error}");
    };
    assert_eq!(*size, bytes.len());
    assert_eq!(*found, limit);
    assert_eq!(error.reason(), "too large");
    assert!(
        message.contains(&format!("{} bytes", bytes.len())),
        "{message}"
    );
    assert!(message.contains(&format!("{limit} bytes")), "{message}");
    assert!(message.contains("`Decoder::max_size`"), "{message}");
}

#[test]
fn decoder_accepts_input_at_max_size() {
    let bytes = order_event_with(&[]);

    let envelope = Decoder::new().max_size(bytes.len()).decode(&bytes);

    assert!(envelope.is_ok(), "{:?}", envelope.unwrap_err());
}

#[test]
fn decode_applies_default_max_size() {
    let mut at_limit = order_event_with(&[]);
    at_limit.resize(DEFAULT_MAX_SIZE, b' ');
    let mut over_limit = at_limit.clone();
    over_limit.push(b' ');

    let accepted = decode(&at_limit);
    let error = decode(&over_limit).unwrap_err();

    assert!(accepted.is_ok(), "{:?}", accepted.unwrap_err());
    assert!(matches!(
        error.kind(),
        DecodeErrorKind::TooLarge {
            size,
            limit: DEFAULT_MAX_SIZE
        } if *size == DEFAULT_MAX_SIZE + 1
    ));
}

// Payloads.

#[test]
fn decode_rejects_payload_field_of_wrong_type() {
    let bytes = order_event_with(&[("data", json!({"order_id": "seven", "total_cents": 1250}))]);

    let error = decode(&bytes).unwrap_err();
    let message = error.to_string();

    let DecodeErrorKind::Payload {
        name,
        version,
        rust_type,
        ..
    } = error.kind()
    else {
        panic!("expected a payload error, got {error}");
    };
    assert_eq!(*name, "shop.order.placed");
    assert_eq!(*version, 1);
    assert!(rust_type.ends_with("OrderPlaced"), "{rust_type}");
    assert_eq!(error.reason(), "invalid payload");
    assert!(
        message.contains("invalid `data` for event `shop.order.placed` version 1"),
        "{message}"
    );
    assert!(message.contains(r#""seven""#), "{message}");
    assert!(message.contains("expected u64"), "{message}");
}

#[test]
fn decode_payload_error_names_field() {
    let bytes = order_event_with(&[("data", json!({"order_id": "seven", "total_cents": 1250}))]);

    let message = decode(&bytes).unwrap_err().to_string();

    assert!(message.contains("order_id"), "{message}");
}

#[test]
fn decode_payload_error_names_missing_field() {
    let bytes = order_event_with(&[("data", json!({"order_id": 7}))]);

    let message = decode(&bytes).unwrap_err().to_string();

    assert!(message.contains("missing field `total_cents`"), "{message}");
}

#[test]
fn decode_accepts_missing_data_for_unit_struct() {
    let bytes =
        br#"{"specversion":"1.0","id":"cart-1","source":"shop","type":"shop.cart.cleared"}"#;

    let envelope = decode(bytes).unwrap();

    assert_eq!(envelope.payload::<CartCleared>(), Some(&CartCleared));
    assert_eq!(envelope.data_json(), None);
}

#[test]
fn decode_rejects_missing_data_for_struct_with_fields() {
    let error = decode(&order_event_without("data")).unwrap_err();
    let message = error.to_string();

    assert!(matches!(error.kind(), DecodeErrorKind::Payload { .. }));
    assert!(message.contains("the event has no `data`"), "{message}");
    assert!(message.contains("cannot be empty"), "{message}");
}

// Attribute keys and null values.

#[test]
fn decode_rejects_duplicate_attribute() {
    let cases: [(&str, &[u8]); 3] = [
        (
            "id",
            br#"{"specversion":"1.0","id":"1","id":"2","source":"s","type":"shop.cart.cleared"}"#,
        ),
        (
            "data",
            br#"{"specversion":"1.0","id":"1","source":"s","type":"shop.cart.cleared","data":null,"data":null}"#,
        ),
        (
            "tenant",
            br#"{"specversion":"1.0","id":"1","source":"s","type":"shop.cart.cleared","tenant":"a","tenant":"b"}"#,
        ),
    ];
    for (attribute, bytes) in cases {
        let error = decode(bytes).unwrap_err();
        let message = error.to_string();

        assert!(
            matches!(error.kind(), DecodeErrorKind::Json(_)),
            "{message}"
        );
        assert!(
            message.contains(&format!("duplicate CloudEvents attribute `{attribute}`")),
            "{message}"
        );
    }
}

#[test]
fn decode_treats_null_attributes_as_absent() {
    let bytes = order_event_with(&[
        ("subject", Value::Null),
        ("time", Value::Null),
        ("dataschema", Value::Null),
        ("datacontenttype", Value::Null),
        ("data_base64", Value::Null),
        ("dataversion", Value::Null),
        ("correlationid", Value::Null),
        ("tenant", Value::Null),
    ]);

    let envelope = decode(&bytes).unwrap();
    let metadata = envelope.metadata();

    assert_eq!(metadata.subject(), None);
    assert_eq!(metadata.dataschema(), None);
    assert_eq!(metadata.correlation_id(), None);
    assert_eq!(envelope.version(), 1);
    assert!(metadata.extensions().is_empty());
    assert!(envelope.payload::<OrderPlaced>().is_some());

    let reencoded = serde_json::to_value(&envelope).unwrap();
    assert_eq!(reencoded.get("subject"), None);
    assert_eq!(reencoded.get("tenant"), None);
    assert_eq!(reencoded.get("data_base64"), None);
}

#[test]
fn decode_treats_null_required_attribute_as_missing() {
    let error = decode(&order_event_with(&[("id", Value::Null)])).unwrap_err();
    let details = attribute_error(&error);

    assert_eq!(details.attribute, "id");
    assert_eq!(details.value, None);
}

// Batches.

#[test]
fn decode_batch_reports_each_element() {
    let good = r#"{"specversion":"1.0","id":"cart-1","source":"shop","type":"shop.cart.cleared"}"#;
    let bad = r#"{ "specversion": "1.0", "id": "cart-2", "source": "shop", "type": "shop.cart.emptied" }"#;
    let batch = format!("[{good},\n  {bad}]");

    let results = decode_batch(batch.as_bytes()).unwrap();

    assert_eq!(results.len(), 2);
    let first = results[0].as_ref().unwrap();
    assert_eq!(first.id().to_string(), "cart-1");
    let second = results[1].as_ref().unwrap_err();
    assert_eq!(second.reason(), "unknown event");
    assert_eq!(second.raw(), bad.as_bytes());
}

#[test]
fn decode_batch_rejects_non_array() {
    let bytes =
        br#"{"specversion":"1.0","id":"cart-1","source":"shop","type":"shop.cart.cleared"}"#;

    let error = decode_batch(bytes).unwrap_err();
    let message = error.to_string();

    assert!(matches!(error.kind(), DecodeErrorKind::Json(_)));
    assert!(message.contains("expected a sequence"), "{message}");
    assert_eq!(error.raw(), bytes);
}

#[test]
fn decoder_rejects_batch_over_max_batch_size() {
    let batch = format!("[{}]", String::from_utf8(order_event_with(&[])).unwrap());

    let error = Decoder::new()
        .max_batch_size(batch.len() - 1)
        .decode_batch(batch.as_bytes())
        .unwrap_err();

    assert!(matches!(
        error.kind(),
        DecodeErrorKind::TooLarge { size, limit } if *size == batch.len() && *limit == batch.len() - 1
    ));
}

#[test]
fn decoder_applies_max_size_to_batch_elements() {
    let element = String::from_utf8(order_event_with(&[])).unwrap();
    let batch = format!("[{element}]");

    let results = Decoder::new()
        .max_size(element.len() - 1)
        .decode_batch(batch.as_bytes())
        .unwrap();

    assert_eq!(results.len(), 1);
    assert_eq!(results[0].as_ref().unwrap_err().reason(), "too large");
}

// Re-encoding and conversion.

#[test]
fn dyn_envelope_serialises_data_byte_identical() {
    // Spacing, key order, an escape and a field unknown to `OrderPlaced` all survive.
    let data = r#"{ "total_cents" : 1250,"order_id":7 , "note":"caf\u00e9" }"#;
    let bytes = format!(
        r#"{{"specversion":"1.0","id":"1","source":"s","type":"shop.order.placed","data":{data}}}"#
    );

    let envelope = decode(bytes.as_bytes()).unwrap();
    let reencoded = serde_json::to_string(&envelope).unwrap();

    assert_eq!(envelope.data_json(), Some(data));
    assert!(
        reencoded.ends_with(&format!(r#","data":{data}}}"#)),
        "{reencoded}"
    );
}

#[test]
fn downcast_to_wrong_type_returns_envelope() {
    let envelope = decode(&order_event_with(&[])).unwrap();

    let envelope = envelope.downcast::<CartCleared>().unwrap_err();

    assert_eq!(envelope.name(), "shop.order.placed");
    assert_eq!(envelope.id().to_string(), "order-7-placed");
    let typed = envelope.downcast::<OrderPlaced>().unwrap();
    assert_eq!(typed.order_id, 7);
    assert_eq!(typed.source(), "https://shop.example/orders");
}

#[test]
fn typed_envelope_rejects_other_type() {
    let bytes =
        br#"{"specversion":"1.0","id":"cart-1","source":"shop","type":"shop.cart.cleared"}"#;

    let error = serde_json::from_slice::<Envelope<OrderPlaced>>(bytes).unwrap_err();
    let message = error.to_string();

    assert!(
        message.contains(
            "expected event `shop.order.placed` version 1, found `shop.cart.cleared` version 1"
        ),
        "{message}"
    );
    assert!(message.contains("`events::decode`"), "{message}");
}

#[test]
fn typed_envelope_rejects_other_version() {
    let bytes = br#"{"specversion":"1.0","id":"inv-2","source":"billing","type":"billing.invoice.issued","dataversion":2,"data":{"invoice_id":2,"currency":"EUR"}}"#;

    let error = serde_json::from_slice::<Envelope<InvoiceIssuedV1>>(bytes).unwrap_err();
    let message = error.to_string();

    assert!(
        message.contains("expected event `billing.invoice.issued` version 1, found `billing.invoice.issued` version 2"),
        "{message}"
    );
}

#[test]
fn typed_envelope_applies_attribute_rules() {
    let bytes = order_event_with(&[("specversion", json!("0.3"))]);

    let error = serde_json::from_slice::<Envelope<OrderPlaced>>(&bytes).unwrap_err();
    let message = error.to_string();

    assert!(message.contains("`specversion`"), "{message}");
    assert!(message.contains(r#""0.3""#), "{message}");
}

//! Upcasting stored events of older versions to the latest on decode.
//!
//! `OrderPlaced` has four versions. The Rust type of version 1 was deleted,
//! so a JSON upcaster upgrades its payloads to version 2, and versions 2, 3
//! and 4 are types linked by `upcast_from`. `InvoiceSent` has a JSON
//! upcaster that skips a version, `PaymentCaptured` a `TryFrom` upcast that
//! can fail, and `CartSubmitted` and `CouponApplied` are deprecated.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use events::registry;
use events::{on, upcaster, Bus, DecodeErrorKind, Decoder, Event};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tracing::field::{Field, Visit};
use tracing::{Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

// `OrderPlaced`, versions 1 to 4.

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct OrderLine {
    sku: String,
    quantity: u32,
}

/// The line of `fn order_placed_v1` below.
const ORDER_UPCASTER_LINE: u32 = line!() + 6;

/// Upgrades version 1, whose type was deleted. It carried the total as
/// `amount` and one `skus` entry per item, each of quantity 1:
/// `{"order_id": 7, "amount": 1250, "skus": ["TSHIRT-M"]}`.
#[upcaster(name = "OrderPlaced", from = 1)]
fn order_placed_v1(payload: Value) -> Result<Value, String> {
    let Some(total_cents) = payload["amount"].as_u64() else {
        return Err(format!(
            "`amount` must be the order total in cents, found {}",
            payload["amount"]
        ));
    };
    let Some(skus) = payload["skus"].as_array() else {
        return Err(format!(
            "`skus` must be an array of SKUs, found {}",
            payload["skus"]
        ));
    };
    let lines: Vec<Value> = skus
        .iter()
        .map(|sku| json!({ "sku": sku, "quantity": 1 }))
        .collect();
    Ok(json!({
        "order_id": payload["order_id"],
        "total_cents": total_cents,
        "lines": lines,
    }))
}

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "OrderPlaced", version = 2)]
struct OrderPlacedV2 {
    order_id: u64,
    total_cents: u64,
    lines: Vec<OrderLine>,
}

/// Version 3 added the currency. Every earlier order was in euros.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "OrderPlaced", version = 3, upcast_from = OrderPlacedV2)]
struct OrderPlacedV3 {
    order_id: u64,
    total_cents: u64,
    currency: String,
    lines: Vec<OrderLine>,
}

impl From<OrderPlacedV2> for OrderPlacedV3 {
    fn from(v2: OrderPlacedV2) -> Self {
        OrderPlacedV3 {
            order_id: v2.order_id,
            total_cents: v2.total_cents,
            currency: "EUR".to_owned(),
            lines: v2.lines,
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Money {
    cents: u64,
    currency: String,
}

/// Version 4 groups the amount and its currency and adds the sales channel.
/// Every earlier order came from the web shop.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(version = 4, upcast_from = OrderPlacedV3)]
struct OrderPlaced {
    order_id: u64,
    total: Money,
    lines: Vec<OrderLine>,
    channel: String,
}

impl From<OrderPlacedV3> for OrderPlaced {
    fn from(v3: OrderPlacedV3) -> Self {
        OrderPlaced {
            order_id: v3.order_id,
            total: Money {
                cents: v3.total_cents,
                currency: v3.currency,
            },
            lines: v3.lines,
            channel: "web".to_owned(),
        }
    }
}

thread_local! {
    /// What the handlers below received on this thread. `Bus::dispatch` runs
    /// synchronous handlers on the calling thread, so each test reads only
    /// the records of its own dispatches.
    static RECEIVED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn take_received() -> Vec<String> {
    RECEIVED.with(|received| received.take())
}

#[on(OrderPlaced, name = "orders.latest")]
fn record_latest(order: &OrderPlaced) {
    let record = format!(
        "v4 order {}: {} {} via {}",
        order.order_id, order.total.cents, order.total.currency, order.channel
    );
    RECEIVED.with(|received| received.borrow_mut().push(record));
}

#[on(OrderPlacedV2, name = "orders.v2")]
fn record_v2(order: &OrderPlacedV2) {
    let record = format!("v2 order {}: {}", order.order_id, order.total_cents);
    RECEIVED.with(|received| received.borrow_mut().push(record));
}

/// Builds a stored `OrderPlaced` event of `version` with JSON `data`.
fn stored_order(version: u32, data: &Value) -> Vec<u8> {
    let event = json!({
        "specversion": "1.0",
        "id": format!("order-v{version}"),
        "source": "https://shop.example/orders",
        "type": "OrderPlaced",
        "dataversion": version,
        "data": data,
    });
    serde_json::to_vec(&event).unwrap()
}

fn v1_data() -> Value {
    json!({ "order_id": 7, "amount": 1250, "skus": ["TSHIRT-M", "MUG-WHT"] })
}

fn v2_data() -> Value {
    json!({
        "order_id": 8,
        "total_cents": 2490,
        "lines": [{ "sku": "HOODIE-L", "quantity": 1 }],
    })
}

fn v3_data() -> Value {
    json!({
        "order_id": 9,
        "total_cents": 3100,
        "currency": "USD",
        "lines": [{ "sku": "SOCKS-42", "quantity": 4 }],
    })
}

fn v4_data() -> Value {
    json!({
        "order_id": 10,
        "total": { "cents": 500, "currency": "CHF" },
        "lines": [{ "sku": "CAP-BLK", "quantity": 1 }],
        "channel": "app",
    })
}

fn line(sku: &str, quantity: u32) -> OrderLine {
    OrderLine {
        sku: sku.to_owned(),
        quantity,
    }
}

fn money(cents: u64, currency: &str) -> Money {
    Money {
        cents,
        currency: currency.to_owned(),
    }
}

#[test]
fn registry_chains_are_valid() {
    registry::validate().unwrap();
}

#[test]
fn v1_upgrades_through_three_steps() {
    let envelope = events::decode(&stored_order(1, &v1_data())).unwrap();

    assert_eq!(envelope.version(), 4);
    assert_eq!(envelope.upcast_from(), Some(1));
    assert!(envelope.is::<OrderPlaced>());
    let order = envelope.payload::<OrderPlaced>().unwrap();
    assert_eq!(order.order_id, 7);
    assert_eq!(order.total, money(1250, "EUR"));
    assert_eq!(order.lines, [line("TSHIRT-M", 1), line("MUG-WHT", 1)]);
    assert_eq!(order.channel, "web");
}

#[test]
fn v2_upgrades_through_two_steps() {
    let envelope = events::decode(&stored_order(2, &v2_data())).unwrap();

    assert_eq!(envelope.version(), 4);
    assert_eq!(envelope.upcast_from(), Some(2));
    let order = envelope.payload::<OrderPlaced>().unwrap();
    assert_eq!(order.order_id, 8);
    assert_eq!(order.total, money(2490, "EUR"));
    assert_eq!(order.lines, [line("HOODIE-L", 1)]);
    assert_eq!(order.channel, "web");
}

#[test]
fn v3_upgrades_through_one_step() {
    let envelope = events::decode(&stored_order(3, &v3_data())).unwrap();

    assert_eq!(envelope.version(), 4);
    assert_eq!(envelope.upcast_from(), Some(3));
    let order = envelope.payload::<OrderPlaced>().unwrap();
    assert_eq!(order.order_id, 9);
    assert_eq!(order.total, money(3100, "USD"));
    assert_eq!(order.lines, [line("SOCKS-42", 4)]);
    assert_eq!(order.channel, "web");
}

#[test]
fn v4_decodes_without_upcast() {
    let envelope = events::decode(&stored_order(4, &v4_data())).unwrap();

    assert_eq!(envelope.version(), 4);
    assert_eq!(envelope.upcast_from(), None);
    let order = envelope.payload::<OrderPlaced>().unwrap();
    assert_eq!(order.order_id, 10);
    assert_eq!(order.total, money(500, "CHF"));
    assert_eq!(order.channel, "app");
}

#[test]
fn upgraded_event_keeps_metadata() {
    let envelope = events::decode(&stored_order(2, &v2_data())).unwrap();

    assert_eq!(envelope.id().to_string(), "order-v2");
    assert_eq!(envelope.metadata().source(), "https://shop.example/orders");
    assert_eq!(envelope.name(), "OrderPlaced");
}

#[test]
fn upgraded_event_serialises_as_latest() {
    let envelope = events::decode(&stored_order(1, &v1_data())).unwrap();

    let encoded: Value = serde_json::to_value(&envelope).unwrap();
    assert_eq!(encoded["dataversion"], 4);
    assert_eq!(
        encoded["data"]["total"],
        json!({ "cents": 1250, "currency": "EUR" })
    );
    let data: Value = serde_json::from_str(envelope.data_json().unwrap()).unwrap();
    assert_eq!(data["channel"], "web");
}

#[test]
fn dispatch_reaches_latest_handlers() {
    let bus = Bus::new();

    for (version, data) in [(1, v1_data()), (2, v2_data()), (3, v3_data())] {
        let envelope = events::decode(&stored_order(version, &data)).unwrap();
        let report = bus.dispatch(&envelope);
        assert!(report.is_ok(), "{report:?}");
        assert_eq!(report.handlers_run(), 1);
    }

    assert_eq!(
        take_received(),
        [
            "v4 order 7: 1250 EUR via web",
            "v4 order 8: 2490 EUR via web",
            "v4 order 9: 3100 USD via web",
        ]
    );
}

#[test]
fn keep_version_decodes_old_type() {
    let decoder = Decoder::new().keep_version(true);

    let envelope = decoder.decode(&stored_order(2, &v2_data())).unwrap();

    assert_eq!(envelope.version(), 2);
    assert_eq!(envelope.upcast_from(), None);
    assert!(envelope.is::<OrderPlacedV2>());
    let order = envelope.payload::<OrderPlacedV2>().unwrap();
    assert_eq!(order.order_id, 8);
    assert_eq!(order.total_cents, 2490);
    assert_eq!(order.lines, [line("HOODIE-L", 1)]);
}

#[test]
fn keep_version_dispatches_to_old_handlers() {
    let bus = Bus::new();
    let envelope = Decoder::new()
        .keep_version(true)
        .decode(&stored_order(2, &v2_data()))
        .unwrap();

    let report = bus.dispatch(&envelope);

    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.handlers_run(), 1);
    assert_eq!(take_received(), ["v2 order 8: 2490"]);
}

#[test]
fn keep_version_upgrades_deleted_version() {
    // Version 1 has no type to keep, so it is upgraded to the latest.
    let envelope = Decoder::new()
        .keep_version(true)
        .decode(&stored_order(1, &v1_data()))
        .unwrap();

    assert_eq!(envelope.version(), 4);
    assert_eq!(envelope.upcast_from(), Some(1));
    assert_eq!(envelope.payload::<OrderPlaced>().unwrap().order_id, 7);
}

#[test]
fn keep_version_off_by_default() {
    let envelope = Decoder::new()
        .keep_version(true)
        .keep_version(false)
        .decode(&stored_order(3, &v3_data()))
        .unwrap();

    assert_eq!(envelope.version(), 4);
    assert_eq!(envelope.upcast_from(), Some(3));
}

// Failed steps.

#[test]
fn json_upcaster_error_names_step() {
    let bytes = stored_order(1, &json!({ "order_id": 7, "amount": "12.50", "skus": [] }));

    let error = events::decode(&bytes).unwrap_err();

    let DecodeErrorKind::Upcast {
        name,
        from,
        to,
        step,
        field,
        message,
    } = error.kind()
    else {
        panic!("expected an upcast error, got {error:?}");
    };
    assert_eq!(*name, "OrderPlaced");
    assert_eq!((*from, *to), (1, 4));
    assert_eq!(*step, (1, 2));
    assert_eq!(*field, None);
    assert_eq!(
        message,
        "`amount` must be the order total in cents, found \"12.50\""
    );
    assert_eq!(error.reason(), "failed upcast");
    assert_eq!(error.raw(), bytes.as_slice());
}

#[test]
fn missing_field_names_field_and_keeps_raw() {
    // The second line of this stored version 2 order lacks its quantity,
    // so the typed step v2 -> v3 cannot read it as `OrderPlacedV2`.
    let data = json!({
        "order_id": 8,
        "total_cents": 2490,
        "lines": [{ "sku": "HOODIE-L", "quantity": 1 }, { "sku": "CAP-BLK" }],
    });
    let bytes = stored_order(2, &data);

    let error = events::decode(&bytes).unwrap_err();

    let DecodeErrorKind::Upcast {
        name,
        from,
        to,
        step,
        field,
        message,
    } = error.kind()
    else {
        panic!("expected an upcast error, got {error:?}");
    };
    assert_eq!(*name, "OrderPlaced");
    assert_eq!((*from, *to), (2, 4));
    assert_eq!(*step, (2, 3));
    assert_eq!(field.as_deref(), Some("lines[1].quantity"));
    assert_eq!(
        message,
        "the payload does not match `upcast::OrderPlacedV2`: missing field `quantity`"
    );
    assert_eq!(error.raw(), bytes.as_slice());
    assert_eq!(
        error.to_string(),
        "cannot upgrade event `OrderPlaced` from version 2 to 4: step v2 -> v3 failed at field `lines[1].quantity`: the payload does not match `upcast::OrderPlacedV2`: missing field `quantity`; fix the upcaster or the stored payload (the error keeps the raw event)"
    );
    assert_eq!(error.into_raw(), bytes);
}

#[test]
fn typed_step_after_json_step_fails() {
    // The JSON upcaster accepts this version 1 order, but its output has a
    // null `order_id`, which the typed step v2 -> v3 cannot read. The error
    // blames the upcaster that wrote it.
    let bytes = stored_order(1, &json!({ "amount": 990, "skus": [] }));

    let error = events::decode(&bytes).unwrap_err();

    let DecodeErrorKind::Upcast {
        from, step, field, ..
    } = error.kind()
    else {
        panic!("expected an upcast error, got {error:?}");
    };
    assert_eq!(*from, 1);
    assert_eq!(*step, (1, 2));
    assert_eq!(field.as_deref(), Some("order_id"));
    assert_eq!(
        error.to_string(),
        "cannot upgrade event `OrderPlaced` from version 1 to 4: step v1 -> v2 failed at field `order_id`: its output does not fit `upcast::OrderPlacedV2`: invalid type: null, expected u64; fix the upcaster or the stored payload (the error keeps the raw event)"
    );
}

// `data_base64`.

/// `{"order_id":9,"total_cents":990,"lines":[{"sku":"MUG-WHT","quantity":1}]}`
/// in base64.
const V2_DATA_BASE64: &str = "eyJvcmRlcl9pZCI6OSwidG90YWxfY2VudHMiOjk5MCwibGluZXMiOlt7InNrdSI6Ik1VRy1XSFQiLCJxdWFudGl0eSI6MX1dfQ==";

fn stored_v2_base64() -> Vec<u8> {
    let event = json!({
        "specversion": "1.0",
        "id": "order-b64",
        "source": "https://shop.example/orders",
        "type": "OrderPlaced",
        "dataversion": 2,
        "datacontenttype": "application/json",
        "data_base64": V2_DATA_BASE64,
    });
    serde_json::to_vec(&event).unwrap()
}

#[test]
fn data_base64_of_old_version_rejected() {
    let bytes = stored_v2_base64();

    let error = events::decode(&bytes).unwrap_err();

    let DecodeErrorKind::Upcast {
        name,
        from,
        to,
        step,
        field,
        ..
    } = error.kind()
    else {
        panic!("expected an upcast error, got {error:?}");
    };
    assert_eq!(*name, "OrderPlaced");
    assert_eq!((*from, *to), (2, 4));
    assert_eq!(*step, (2, 4));
    assert_eq!(*field, None);
    assert_eq!(error.reason(), "failed upcast");
    assert_eq!(
        error.to_string(),
        "cannot upgrade event `OrderPlaced` from version 2 to 4: step v2 -> v4 failed: only JSON `data` can be upgraded, and this event carries `data_base64`; fix the upcaster or the stored payload (the error keeps the raw event)"
    );
    assert_eq!(error.raw(), bytes.as_slice());
}

#[test]
fn keep_version_reads_data_base64() {
    let envelope = Decoder::new()
        .keep_version(true)
        .decode(&stored_v2_base64())
        .unwrap();

    assert_eq!(envelope.version(), 2);
    let order = envelope.payload::<OrderPlacedV2>().unwrap();
    assert_eq!(order.order_id, 9);
    assert_eq!(order.lines, [line("MUG-WHT", 1)]);
}

// `InvoiceSent`: a JSON upcaster that skips version 2, which never existed.

/// The line of `fn invoice_sent_v1` below.
const INVOICE_UPCASTER_LINE: u32 = line!() + 4;

/// Version 1 had a single `email`, and version 3 has a list of recipients.
#[upcaster(name = "InvoiceSent", from = 1, to = 3)]
fn invoice_sent_v1(payload: Value) -> Result<Value, &'static str> {
    let Some(email) = payload["email"].as_str() else {
        return Err("`email` is missing");
    };
    Ok(json!({ "invoice_id": payload["invoice_id"], "recipients": [email] }))
}

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(version = 3)]
struct InvoiceSent {
    invoice_id: u64,
    recipients: Vec<String>,
}

#[test]
fn upcaster_skips_missing_version() {
    let bytes = br#"{"specversion":"1.0","id":"inv-1","source":"billing","type":"InvoiceSent","dataversion":1,"data":{"invoice_id":31,"email":"ap@example.com"}}"#;

    let envelope = events::decode(bytes).unwrap();

    assert_eq!(envelope.version(), 3);
    assert_eq!(envelope.upcast_from(), Some(1));
    let invoice = envelope.payload::<InvoiceSent>().unwrap();
    assert_eq!(invoice.invoice_id, 31);
    assert_eq!(invoice.recipients, ["ap@example.com"]);
}

#[test]
fn json_upcaster_output_checked_against_latest() {
    // The upcaster copies a missing `invoice_id` as null, which version 3
    // rejects: the error blames the upcaster's step, not version 3 data.
    let bytes = br#"{"specversion":"1.0","id":"inv-3","source":"billing","type":"InvoiceSent","dataversion":1,"data":{"email":"ap@example.com"}}"#;

    let error = events::decode(bytes).unwrap_err();

    assert_eq!(error.reason(), "failed upcast");
    assert_eq!(error.raw(), bytes);
    let DecodeErrorKind::Upcast {
        from,
        to,
        step,
        field,
        ..
    } = error.kind()
    else {
        panic!("expected an upcast error, got {error:?}");
    };
    assert_eq!((*from, *to, *step), (1, 3, (1, 3)));
    assert_eq!(field.as_deref(), Some("invoice_id"));
    assert_eq!(
        error.to_string(),
        "cannot upgrade event `InvoiceSent` from version 1 to 3: step v1 -> v3 failed at field `invoice_id`: its output does not fit `upcast::InvoiceSent`: invalid type: null, expected u64; fix the upcaster or the stored payload (the error keeps the raw event)"
    );
}

#[test]
fn version_without_step_is_unknown() {
    let bytes = br#"{"specversion":"1.0","id":"inv-2","source":"billing","type":"InvoiceSent","dataversion":2,"data":{}}"#;

    let error = events::decode(bytes).unwrap_err();

    assert_eq!(error.reason(), "unknown version");
    assert!(
        matches!(
            error.kind(),
            DecodeErrorKind::UnknownEvent { version: 2, known_versions, .. } if known_versions == &[3]
        ),
        "{error:?}"
    );
}

// `PaymentCaptured`: a `TryFrom` upcast that rejects some payloads.

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "PaymentCaptured", version = 1)]
struct PaymentCapturedV1 {
    payment_id: u64,
    /// Euros with two decimals, as text: `"12.50"`.
    amount: String,
}

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(version = 2, upcast_from = PaymentCapturedV1)]
struct PaymentCaptured {
    payment_id: u64,
    amount_cents: u64,
}

/// An amount of version 1 that is not euros with two decimals.
#[derive(Debug)]
struct InvalidAmount(String);

impl fmt::Display for InvalidAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "amount `{}` is not euros with two decimals, such as `12.50`",
            self.0
        )
    }
}

impl TryFrom<PaymentCapturedV1> for PaymentCaptured {
    type Error = InvalidAmount;

    fn try_from(v1: PaymentCapturedV1) -> Result<Self, Self::Error> {
        let invalid = || InvalidAmount(v1.amount.clone());
        let (euros, cents) = v1.amount.split_once('.').ok_or_else(invalid)?;
        if cents.len() != 2 {
            return Err(invalid());
        }
        let euros: u64 = euros.parse().map_err(|_| invalid())?;
        let cents: u64 = cents.parse().map_err(|_| invalid())?;
        Ok(PaymentCaptured {
            payment_id: v1.payment_id,
            amount_cents: euros * 100 + cents,
        })
    }
}

fn stored_payment_v1(amount: &str) -> Vec<u8> {
    let event = json!({
        "specversion": "1.0",
        "id": "pay-1",
        "source": "payments",
        "type": "PaymentCaptured",
        "data": { "payment_id": 5, "amount": amount },
    });
    serde_json::to_vec(&event).unwrap()
}

#[test]
fn try_from_upcast_succeeds() {
    let envelope = events::decode(&stored_payment_v1("12.50")).unwrap();

    assert_eq!(envelope.version(), 2);
    assert_eq!(envelope.upcast_from(), Some(1));
    let payment = envelope.payload::<PaymentCaptured>().unwrap();
    assert_eq!(payment.payment_id, 5);
    assert_eq!(payment.amount_cents, 1250);
}

#[test]
fn try_from_error_names_event_versions() {
    let bytes = stored_payment_v1("twelve");

    let error = events::decode(&bytes).unwrap_err();

    let DecodeErrorKind::Upcast {
        name,
        from,
        to,
        step,
        field,
        message,
    } = error.kind()
    else {
        panic!("expected an upcast error, got {error:?}");
    };
    assert_eq!(*name, "PaymentCaptured");
    assert_eq!((*from, *to), (1, 2));
    assert_eq!(*step, (1, 2));
    assert_eq!(*field, None);
    assert_eq!(
        message,
        "amount `twelve` is not euros with two decimals, such as `12.50`"
    );
    assert_eq!(
        error.to_string(),
        "cannot upgrade event `PaymentCaptured` from version 1 to 2: step v1 -> v2 failed: amount `twelve` is not euros with two decimals, such as `12.50`; fix the upcaster or the stored payload (the error keeps the raw event)"
    );
    assert_eq!(error.raw(), bytes.as_slice());
}

#[test]
fn try_from_error_in_batch_is_per_event() {
    let batch = format!(
        "[{},{}]",
        String::from_utf8(stored_payment_v1("1.05")).unwrap(),
        String::from_utf8(stored_payment_v1("1.5")).unwrap()
    );

    let results = events::decode_batch(batch.as_bytes()).unwrap();

    assert_eq!(results.len(), 2);
    let first = results[0].as_ref().unwrap();
    assert_eq!(
        first.payload::<PaymentCaptured>().unwrap().amount_cents,
        105
    );
    let second = results[1].as_ref().unwrap_err();
    assert_eq!(second.reason(), "failed upcast");
    assert_eq!(second.raw(), stored_payment_v1("1.5").as_slice());
}

// Listings.

#[test]
fn upcast_steps_list_order_chain() {
    let steps = registry::upcast_steps("OrderPlaced");

    let versions: Vec<(u32, u32)> = steps
        .iter()
        .map(|step| (step.from_version(), step.to_version()))
        .collect();
    assert_eq!(versions, [(1, 2), (2, 3), (3, 4)]);
    assert!(steps.iter().all(|step| step.name() == "OrderPlaced"));

    let json_step = steps[0].upcaster().unwrap();
    assert_eq!(json_step.function(), "upcast::order_placed_v1");
    assert!(steps[0].types().is_none());
    assert_eq!(
        steps[0].to_string(),
        format!(
            "v1 -> v2: JSON upcaster `upcast::order_placed_v1` ({}:{ORDER_UPCASTER_LINE})",
            file!()
        )
    );

    let (from, to) = steps[1].types().unwrap();
    assert!(std::ptr::eq(from, OrderPlacedV2::info()));
    assert!(std::ptr::eq(to, OrderPlacedV3::info()));
    assert!(steps[1].upcaster().is_none());
    assert_eq!(
        steps[1].to_string(),
        "v2 -> v3: `From`/`TryFrom` conversion from `upcast::OrderPlacedV2` to `upcast::OrderPlacedV3`"
    );
    assert_eq!(
        steps[2].to_string(),
        "v3 -> v4: `From`/`TryFrom` conversion from `upcast::OrderPlacedV3` to `upcast::OrderPlaced`"
    );
}

#[test]
fn upcast_steps_of_other_names() {
    let invoice: Vec<(u32, u32)> = registry::upcast_steps("InvoiceSent")
        .iter()
        .map(|step| (step.from_version(), step.to_version()))
        .collect();
    assert_eq!(invoice, [(1, 3)]);

    let payment = registry::upcast_steps("PaymentCaptured");
    assert_eq!(payment.len(), 1);
    assert!(payment[0].types().is_some());

    assert!(registry::upcast_steps("CartSubmitted").is_empty());
    assert!(registry::upcast_steps("NoSuchEvent").is_empty());
}

#[test]
fn upcasters_listed_by_name() {
    let upcasters = registry::upcasters();

    let listed: Vec<(&str, u32, u32, &str)> = upcasters
        .iter()
        .map(|upcaster| {
            (
                upcaster.name(),
                upcaster.from_version(),
                upcaster.to_version(),
                upcaster.function(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("InvoiceSent", 1, 3, "upcast::invoice_sent_v1"),
            ("OrderPlaced", 1, 2, "upcast::order_placed_v1"),
        ]
    );
    assert!(upcasters.iter().all(|upcaster| upcaster.file() == file!()));
    assert_eq!(upcasters[0].line(), INVOICE_UPCASTER_LINE);
    assert_eq!(upcasters[1].line(), ORDER_UPCASTER_LINE);
}

#[test]
fn upcasts_from_links_types() {
    let previous = OrderPlaced::info().upcasts_from().unwrap();
    assert!(std::ptr::eq(previous, OrderPlacedV3::info()));
    let previous = OrderPlacedV3::info().upcasts_from().unwrap();
    assert!(std::ptr::eq(previous, OrderPlacedV2::info()));

    // Version 2 follows a JSON upcaster, not a type.
    assert!(OrderPlacedV2::info().upcasts_from().is_none());
    assert!(InvoiceSent::info().upcasts_from().is_none());
}

// Deprecation.

#[derive(Event, Serialize, Deserialize)]
#[event(deprecated = "emit CartCheckedOut instead")]
struct CartSubmitted {
    cart_id: u64,
}

#[derive(Event, Serialize, Deserialize)]
#[event(
    version = 2,
    deprecated = "coupons are discounts now, so emit DiscountApplied"
)]
struct CouponApplied {
    code: String,
}

#[derive(Event, Serialize, Deserialize)]
struct CartCheckedOut {
    cart_id: u64,
}

#[on(CartSubmitted)]
fn ignore_cart(_: &CartSubmitted) {}

/// Records the warnings logged on this thread, each as its fields.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<BTreeMap<String, String>>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: Subscriber> Layer<S> for Warnings {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if *event.metadata().level() == Level::WARN {
            let mut fields = BTreeMap::new();
            event.record(&mut Fields(&mut fields));
            self.0.lock().unwrap().push(fields);
        }
    }
}

#[test]
fn deprecated_reason_in_info() {
    assert_eq!(
        CartSubmitted::info().deprecated(),
        Some("emit CartCheckedOut instead")
    );
    assert_eq!(
        CartSubmitted::DEPRECATED,
        Some("emit CartCheckedOut instead")
    );
    assert_eq!(
        CouponApplied::info().deprecated(),
        Some("coupons are discounts now, so emit DiscountApplied")
    );
    assert_eq!(CartCheckedOut::info().deprecated(), None);
    assert_eq!(CartCheckedOut::DEPRECATED, None);
    assert_eq!(OrderPlaced::info().deprecated(), None);
}

// This is the only test that emits `CartSubmitted` and `CouponApplied`:
// the bus warns once per type for the whole process.
#[test]
fn deprecated_emit_warns_once_per_type() {
    let bus = Bus::new();
    let warnings = Warnings::default();
    let subscriber = tracing_subscriber::registry().with(warnings.clone());

    tracing::subscriber::with_default(subscriber, || {
        for cart_id in 1..=3 {
            assert!(bus.emit(CartSubmitted { cart_id }).is_ok());
            bus.emit(CouponApplied {
                code: format!("SPRING{cart_id}"),
            });
            bus.emit(CartCheckedOut { cart_id });
        }
    });

    let warnings = warnings.0.lock().unwrap();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    let expected = [
        ("CartSubmitted", "1", "emit CartCheckedOut instead"),
        (
            "CouponApplied",
            "2",
            "coupons are discounts now, so emit DiscountApplied",
        ),
    ];
    for (warning, (event, version, reason)) in warnings.iter().zip(expected) {
        assert_eq!(warning["event"], event);
        assert_eq!(warning["version"], version);
        assert_eq!(warning["reason"], reason);
        assert_eq!(
            warning["message"],
            format!("emitting a deprecated event: {reason}")
        );
    }
}

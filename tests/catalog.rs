//! The event catalog: its JSON shape, the Markdown page and the AsyncAPI
//! document built from the events and handlers of this test binary.
//!
//! Handlers here take no `State<T>`, so that `Bus::new()` builds.

use events::catalog::{AsyncApiInfo, Catalog};
use events::{on, upcaster, Bus, Envelope, Event};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A customer placed an order, in the first payload shape.
#[derive(Event, Serialize, Deserialize)]
#[event(name = "OrderPlaced", version = 1, deprecated = "emit OrderPlaced v2")]
struct OrderPlacedV1 {
    /// Order number.
    order_id: u64,
}

/// A customer placed an order.
///
/// Billing charges it and the warehouse reserves its stock.
#[derive(Event, Serialize, Deserialize)]
#[event(
    name = "OrderPlaced",
    version = 2,
    kind = "integration",
    upcast_from = OrderPlacedV1
)]
struct OrderPlaced {
    /// Order number.
    order_id: u64,
    /// Amount in cents | before tax.
    total_cents: u64,
}

impl From<OrderPlacedV1> for OrderPlaced {
    fn from(previous: OrderPlacedV1) -> OrderPlaced {
        OrderPlaced {
            order_id: previous.order_id,
            total_cents: 0,
        }
    }
}

/// A refund was paid out. Version 1 had a single `amount`, and its type is gone.
#[derive(Event, Serialize, Deserialize)]
#[event(name = "RefundIssued", version = 2)]
struct RefundIssued {
    order_id: u64,
    amount_cents: u64,
}

#[upcaster(name = "RefundIssued", from = 1)]
fn refund_v1_to_v2(mut payload: Value) -> Result<Value, String> {
    let cents = payload["amount"].take();
    Ok(json!({ "order_id": payload["order_id"], "amount_cents": cents }))
}

#[derive(Event, Serialize, Deserialize)]
struct CartCleared;

#[on(OrderPlaced, name = "stock.reserve")]
fn reserve(_: &OrderPlaced) {}

#[on(
    OrderPlaced,
    name = "billing.charge",
    priority = 10,
    after = "stock.reserve",
    attempts = 3,
    backoff = fixed("20ms"),
    on_failure = "stop"
)]
fn charge(_: &OrderPlaced) {}

#[on(
    OrderPlaced,
    name = "mail.confirm",
    priority = -5,
    timeout = "2s",
    concurrent
)]
async fn confirm(_: &Envelope<OrderPlaced>) {}

#[on(OrderPlacedV1, name = "legacy.audit", before = "legacy.archive")]
fn audit_legacy(_: &OrderPlacedV1) {}

#[on(OrderPlacedV1, name = "legacy.archive")]
fn archive_legacy(_: &OrderPlacedV1) {}

#[on(RefundIssued, name = "ledger.refund")]
fn record_refund(_: &RefundIssued) {}

fn info() -> AsyncApiInfo {
    AsyncApiInfo::new("Shop", "2.3.0").with_description("Orders and refunds.")
}

fn event<'a>(json: &'a Value, name: &str, version: u64) -> &'a Value {
    json["events"]
        .as_array()
        .expect("`events` is an array")
        .iter()
        .find(|event| event["name"] == name && event["version"] == version)
        .unwrap_or_else(|| panic!("{name} v{version} is in the catalog"))
}

fn handler_names(event: &Value) -> Vec<&str> {
    event["handlers"]
        .as_array()
        .expect("`handlers` is an array")
        .iter()
        .map(|handler| handler["name"].as_str().expect("a handler has a name"))
        .collect()
}

/// Collects every `$ref` string of a JSON document.
fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match value {
                    Value::String(reference) if key == "$ref" => found.push(reference.clone()),
                    _ => references(value, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, found)),
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------

#[test]
fn json_lists_events_by_name_and_version() {
    let json = Catalog::new().to_json();

    let listed: Vec<(String, u64)> = json["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            (
                event["name"].as_str().unwrap().to_owned(),
                event["version"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("CartCleared", 1),
        ("OrderPlaced", 1),
        ("OrderPlaced", 2),
        ("RefundIssued", 2),
    ];
    let expected: Vec<(String, u64)> = expected
        .iter()
        .map(|(name, version)| (name.to_string(), *version))
        .collect();
    assert_eq!(listed, expected);
}

#[test]
fn json_describes_event() {
    let json = Catalog::new().to_json();
    let order = event(&json, "OrderPlaced", 2);

    assert_eq!(order["kind"], "integration");
    assert_eq!(
        order["description"],
        "A customer placed an order.\n\nBilling charges it and the warehouse reserves its stock."
    );
    assert_eq!(order["rust_type"], std::any::type_name::<OrderPlaced>());
    assert_eq!(order["module"], module_path!());
    let location = order["location"].as_str().unwrap();
    assert!(location.starts_with("tests/catalog.rs:"), "{location}");
    assert_eq!(
        order["fields"],
        json!([
            { "name": "order_id", "type": "u64", "description": "Order number." },
            { "name": "total_cents", "type": "u64", "description": "Amount in cents | before tax." },
        ])
    );
    assert_eq!(order["deprecated"], Value::Null);
}

#[test]
fn json_schema_is_null_without_schemars() {
    let json = Catalog::new().to_json();

    for event in json["events"].as_array().unwrap() {
        assert_eq!(event["schema"], Value::Null, "{}", event["name"]);
    }
}

#[test]
fn json_describes_unit_event_without_handlers() {
    let json = Catalog::new().to_json();
    let cart = event(&json, "CartCleared", 1);

    assert_eq!(cart["kind"], "domain");
    assert_eq!(cart["description"], "");
    assert_eq!(cart["fields"], json!([]));
    assert_eq!(cart["handlers"], json!([]));
    assert_eq!(cart["upcasts"], json!([]));
}

#[test]
fn json_records_deprecation_reason() {
    let json = Catalog::new().to_json();

    assert_eq!(
        event(&json, "OrderPlaced", 1)["deprecated"],
        "emit OrderPlaced v2"
    );
}

#[test]
fn json_lists_handlers_in_run_order() {
    let json = Catalog::new().to_json();

    assert_eq!(
        handler_names(event(&json, "OrderPlaced", 2)),
        ["stock.reserve", "billing.charge", "mail.confirm"]
    );
    assert_eq!(
        handler_names(event(&json, "OrderPlaced", 1)),
        ["legacy.audit", "legacy.archive"]
    );
}

#[test]
fn json_lists_handler_options() {
    let json = Catalog::new().to_json();
    let handlers = &event(&json, "OrderPlaced", 2)["handlers"];

    let charge = &handlers[1];
    assert_eq!(charge["function"], concat!(module_path!(), "::charge"));
    assert_eq!(charge["priority"], 10);
    assert_eq!(charge["after"], json!(["stock.reserve"]));
    assert_eq!(charge["before"], json!([]));
    assert_eq!(charge["retry"], "3 attempts, fixed 20ms");
    assert_eq!(charge["on_failure"], "stop");
    assert_eq!(charge["timeout"], Value::Null);
    assert_eq!(charge["concurrency"], Value::Null);
    assert_eq!(charge["async"], false);
    assert_eq!(charge["takes_envelope"], false);
    assert_eq!(charge["state"], json!([]));
    let location = charge["location"].as_str().unwrap();
    assert!(location.starts_with("tests/catalog.rs:"), "{location}");

    let confirm = &handlers[2];
    assert_eq!(confirm["priority"], -5);
    assert_eq!(confirm["retry"], Value::Null);
    assert_eq!(confirm["on_failure"], Value::Null);
    assert_eq!(confirm["timeout"], "2s");
    assert_eq!(confirm["concurrency"], "concurrent");
    assert_eq!(confirm["async"], true);
    assert_eq!(confirm["takes_envelope"], true);
}

#[test]
fn json_lists_typed_upcast_for_every_version() {
    let json = Catalog::new().to_json();

    for version in [1, 2] {
        let upcasts = &event(&json, "OrderPlaced", version)["upcasts"];
        assert_eq!(upcasts.as_array().unwrap().len(), 1, "v{version}");
        assert_eq!(upcasts[0]["kind"], "typed");
        assert_eq!(upcasts[0]["from_version"], 1);
        assert_eq!(upcasts[0]["to_version"], 2);
        assert_eq!(
            upcasts[0]["from_type"],
            std::any::type_name::<OrderPlacedV1>()
        );
        assert_eq!(upcasts[0]["to_type"], std::any::type_name::<OrderPlaced>());
    }
}

#[test]
fn json_lists_json_upcaster() {
    let json = Catalog::new().to_json();
    let upcasts = &event(&json, "RefundIssued", 2)["upcasts"];

    assert_eq!(upcasts.as_array().unwrap().len(), 1);
    assert_eq!(upcasts[0]["kind"], "json");
    assert_eq!(upcasts[0]["from_version"], 1);
    assert_eq!(upcasts[0]["to_version"], 2);
    assert_eq!(
        upcasts[0]["function"],
        concat!(module_path!(), "::refund_v1_to_v2")
    );
    let location = upcasts[0]["location"].as_str().unwrap();
    assert!(location.starts_with("tests/catalog.rs:"), "{location}");
}

#[test]
fn for_bus_follows_bus_handlers() {
    let bus = Bus::builder().disable("mail.confirm").build().unwrap();
    let json = Catalog::for_bus(&bus).to_json();

    assert_eq!(
        handler_names(event(&json, "OrderPlaced", 2)),
        ["stock.reserve", "billing.charge"]
    );
    assert_eq!(
        handler_names(event(&json, "RefundIssued", 2)),
        ["ledger.refund"]
    );
}

#[test]
fn for_default_bus_equals_registry_catalog() {
    let from_bus = Catalog::for_bus(&Bus::new()).to_json();

    assert_eq!(from_bus, Catalog::new().to_json());
}

// ---------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------

#[test]
fn markdown_starts_with_contents() {
    let page = Catalog::new().to_markdown();

    let expected_start = "# Event catalog\n\n\
        4 event versions under 3 names, consumed by 6 handlers.\n\n\
        ## Contents\n\n\
        - [CartCleared](#cartcleared): v1\n\
        - [OrderPlaced](#orderplaced): v1, v2\n\
        - [RefundIssued](#refundissued): v2\n";
    assert!(page.starts_with(expected_start), "{page}");
}

#[test]
fn markdown_has_section_per_name_and_version() {
    let page = Catalog::new().to_markdown();

    for heading in [
        "\n## CartCleared\n",
        "\n## OrderPlaced\n",
        "\n### OrderPlaced v1\n",
        "\n### OrderPlaced v2\n",
        "\n### Upcast chain of OrderPlaced\n",
        "\n## RefundIssued\n",
        "\n### Upcast chain of RefundIssued\n",
    ] {
        assert!(page.contains(heading), "missing {heading:?} in\n{page}");
    }
    let order = page.find("\n## OrderPlaced\n").unwrap();
    let refund = page.find("\n## RefundIssued\n").unwrap();
    assert!(order < refund);
}

#[test]
fn markdown_shows_description_and_fields() {
    let page = Catalog::new().to_markdown();

    assert!(page.contains(
        "A customer placed an order.\n\nBilling charges it and the warehouse reserves its stock.\n"
    ));
    assert!(page.contains("- Kind: integration\n"));
    assert!(page.contains("| Field | Type | Description |\n|---|---|---|\n"));
    assert!(page.contains("| `order_id` | `u64` | Order number. |\n"));
    assert!(page.contains("| `total_cents` | `u64` | Amount in cents \\| before tax. |\n"));
    assert!(page.contains("_Undocumented._\n"));
    assert!(page.contains("No fields.\n"));
}

#[test]
fn markdown_lists_consumers_in_run_order() {
    let page = Catalog::new().to_markdown();

    let reserve = page.find("| 1 | `stock.reserve` | 0 | sync, takes `&E` | bus defaults |");
    let charge = page.find(
        "| 2 | `billing.charge` | 10 | sync, takes `&E` | after `stock.reserve`; \
         retry 3 attempts, fixed 20ms; on failure stop |",
    );
    let confirm = page
        .find("| 3 | `mail.confirm` | -5 | async, takes `&Envelope<E>` | timeout 2s; concurrent |");
    assert!(reserve.is_some(), "{page}");
    assert!(charge.is_some(), "{page}");
    assert!(confirm.is_some(), "{page}");
    assert!(reserve < charge);
    assert!(charge < confirm);
    assert!(page.contains("No consumers.\n"));
}

#[test]
fn markdown_notes_deprecation_and_upcasts() {
    let page = Catalog::new().to_markdown();

    assert!(page.contains("> **Deprecated:** emit OrderPlaced v2\n"));
    let typed = format!(
        "- v1 to v2: typed upcast from `{}`, declared at `tests/catalog.rs:",
        std::any::type_name::<OrderPlacedV1>()
    );
    assert!(page.contains(&typed), "{page}");
    let json_upcaster = format!(
        "- v1 to v2: JSON upcaster `{}::refund_v1_to_v2` at `tests/catalog.rs:",
        module_path!()
    );
    assert!(page.contains(&json_upcaster), "{page}");
}

#[test]
fn markdown_sends_old_versions_to_latest_consumers() {
    let page = Catalog::new().to_markdown();

    let v1 = page.find("## OrderPlaced v1").unwrap();
    let v2 = page.find("## OrderPlaced v2").unwrap();
    let note = "Decoding upgrades stored events of this version to v2, so the consumers of v2 \
                receive them.";
    let found = page.find(note).expect(&page);
    assert!(v1 < found, "{page}");
    assert!(found < v2, "{page}");
    assert_eq!(page.matches(note).count(), 1, "{page}");
}

// ---------------------------------------------------------------------------
// AsyncAPI
// ---------------------------------------------------------------------------

#[test]
fn asyncapi_has_version_and_info() {
    let document = Catalog::new().to_asyncapi(&info());

    assert_eq!(document["asyncapi"], "3.0.0");
    assert_eq!(
        document["info"],
        json!({ "title": "Shop", "version": "2.3.0", "description": "Orders and refunds." })
    );
    assert_eq!(document["defaultContentType"], "application/json");

    let without_description = Catalog::new().to_asyncapi(&AsyncApiInfo::new("Shop", "1"));
    assert_eq!(
        without_description["info"],
        json!({ "title": "Shop", "version": "1" })
    );
}

#[test]
fn asyncapi_has_channel_per_name_and_version() {
    let document = Catalog::new().to_asyncapi(&info());
    let channels = document["channels"].as_object().unwrap();

    let keys: Vec<&str> = channels.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "CartCleared.v1",
            "OrderPlaced.v1",
            "OrderPlaced.v2",
            "RefundIssued.v2"
        ]
    );
    let channel = &channels["OrderPlaced.v2"];
    assert_eq!(channel["address"], "OrderPlaced");
    assert_eq!(channel["title"], "OrderPlaced v2");
    assert_eq!(channel["summary"], "A customer placed an order.");
    assert_eq!(
        channel["messages"],
        json!({ "OrderPlaced.v2": { "$ref": "#/components/messages/OrderPlaced.v2" } })
    );
}

#[test]
fn asyncapi_has_message_per_name_and_version() {
    let document = Catalog::new().to_asyncapi(&info());
    let messages = document["components"]["messages"].as_object().unwrap();

    assert_eq!(messages.len(), 4);
    let message = &messages["OrderPlaced.v1"];
    assert_eq!(message["name"], "OrderPlaced");
    assert_eq!(message["title"], "OrderPlaced v1");
    assert_eq!(
        message["summary"],
        "A customer placed an order, in the first payload shape."
    );
    assert_eq!(message["contentType"], "application/json");
    assert_eq!(message["deprecated"], true);
    assert_eq!(message["x-events-deprecated"], "emit OrderPlaced v2");
    assert_eq!(message["x-events-version"], 1);
    assert_eq!(message["x-events-kind"], "domain");
    assert_eq!(message["tags"], json!([{ "name": "domain" }]));
    assert_eq!(message["x-events-fields"][0]["name"], "order_id");
    assert_eq!(message["x-events-upcasts"][0]["kind"], "typed");
    // Without the `schema` feature and `schemars::JsonSchema` there is no payload schema.
    assert!(message.get("payload").is_none());

    let cart = &messages["CartCleared.v1"];
    assert!(cart.get("summary").is_none());
    assert!(cart.get("deprecated").is_none());
    assert!(cart.get("x-events-upcasts").is_none());
}

#[test]
fn asyncapi_has_receive_operation_per_handler() {
    let document = Catalog::new().to_asyncapi(&info());
    let operations = document["operations"].as_object().unwrap();

    assert_eq!(operations.len(), 6);
    let charge = &operations["billing.charge"];
    assert_eq!(charge["action"], "receive");
    assert_eq!(
        charge["channel"],
        json!({ "$ref": "#/channels/OrderPlaced.v2" })
    );
    assert_eq!(
        charge["messages"],
        json!([{ "$ref": "#/channels/OrderPlaced.v2/messages/OrderPlaced.v2" }])
    );
    assert_eq!(charge["title"], "billing.charge");
    assert_eq!(charge["x-events-order"], 2);
    assert_eq!(
        charge["x-events-handler"]["retry"],
        "3 attempts, fixed 20ms"
    );
    assert_eq!(
        charge["x-events-handler"]["after"],
        json!(["stock.reserve"])
    );

    assert_eq!(operations["stock.reserve"]["x-events-order"], 1);
    assert_eq!(operations["mail.confirm"]["x-events-order"], 3);
    assert_eq!(
        operations["ledger.refund"]["channel"],
        json!({ "$ref": "#/channels/RefundIssued.v2" })
    );
}

#[test]
fn asyncapi_references_resolve() {
    let document = Catalog::new().to_asyncapi(&info());
    let mut found = Vec::new();
    references(&document, &mut found);

    assert!(found.len() > 10, "{found:?}");
    for reference in found {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{reference} is local"));
        assert!(
            document.pointer(pointer).is_some(),
            "{reference} points nowhere"
        );
    }
}

// ---------------------------------------------------------------------------
// Determinism
// ---------------------------------------------------------------------------

#[test]
fn two_builds_render_equal_documents() {
    let first = Catalog::new();
    let second = Catalog::new();

    assert_eq!(
        serde_json::to_string(&first.to_json()).unwrap(),
        serde_json::to_string(&second.to_json()).unwrap()
    );
    assert_eq!(first.to_markdown(), second.to_markdown());
    assert_eq!(
        serde_json::to_string(&first.to_asyncapi(&info())).unwrap(),
        serde_json::to_string(&second.to_asyncapi(&info())).unwrap()
    );
}

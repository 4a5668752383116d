// A versioned event builds without warnings: a JSON upcaster for a deleted
// version with its own error type, a `TryFrom` upcast, the `crate` option,
// and a deprecated event. The upcaster is called only through the registry,
// so it must not count as dead code.
#![deny(warnings)]

use std::fmt;

use events::{upcaster, Bus, Event};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Debug)]
struct MissingTotal;

impl fmt::Display for MissingTotal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`total` is missing")
    }
}

#[upcaster(name = "OrderPlaced", from = 1)]
fn order_placed_v1(payload: Value) -> Result<Value, MissingTotal> {
    let total = payload.get("total").ok_or(MissingTotal)?;
    Ok(json!({ "order_id": payload["order_id"], "total_cents": total }))
}

#[derive(Event, Serialize, Deserialize)]
#[event(name = "OrderPlaced", version = 2)]
struct OrderPlacedV2 {
    order_id: u64,
    total_cents: i64,
}

#[derive(Event, Serialize, Deserialize)]
#[event(version = 3, upcast_from = OrderPlacedV2, crate = "events")]
struct OrderPlaced {
    order_id: u64,
    total_cents: u64,
}

impl TryFrom<OrderPlacedV2> for OrderPlaced {
    type Error = String;

    fn try_from(v2: OrderPlacedV2) -> Result<Self, String> {
        let total_cents = u64::try_from(v2.total_cents)
            .map_err(|_| format!("negative total {}", v2.total_cents))?;
        Ok(OrderPlaced {
            order_id: v2.order_id,
            total_cents,
        })
    }
}

#[derive(Event, Serialize, Deserialize)]
#[event(deprecated = "emit OrderPlaced instead")]
struct OrderSubmitted {
    order_id: u64,
}

fn main() {
    events::registry::validate().unwrap();

    let stored = br#"{"specversion":"1.0","id":"o-1","source":"shop","type":"OrderPlaced","data":{"order_id":7,"total":1250}}"#;
    let envelope = events::decode(stored).unwrap();
    assert_eq!(envelope.upcast_from(), Some(1));
    assert_eq!(envelope.payload::<OrderPlaced>().unwrap().total_cents, 1250);

    let negative = br#"{"specversion":"1.0","id":"o-2","source":"shop","type":"OrderPlaced","dataversion":2,"data":{"order_id":8,"total_cents":-5}}"#;
    let error = events::decode(negative).unwrap_err();
    assert!(error.to_string().contains("negative total -5"), "{error}");

    assert_eq!(OrderSubmitted::DEPRECATED, Some("emit OrderPlaced instead"));
    assert!(Bus::new().emit(OrderSubmitted { order_id: 9 }).is_ok());
}

// `upcast_from` needs a `From` or `TryFrom` conversion from the previous version.
use events::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(name = "OrderPlaced", version = 1)]
struct OrderPlacedV1 {
    order_id: u64,
}

#[derive(Event, Serialize, Deserialize)]
#[event(version = 2, upcast_from = OrderPlacedV1)]
struct OrderPlaced {
    order_id: u64,
    currency: String,
}

fn main() {}

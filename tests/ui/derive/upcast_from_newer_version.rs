// An upcast goes from an older version to a newer one.
use events::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(name = "OrderPlaced", version = 3)]
struct OrderPlacedV3 {
    order_id: u64,
}

#[derive(Event, Serialize, Deserialize)]
#[event(name = "OrderPlaced", version = 2, upcast_from = OrderPlacedV3)]
struct OrderPlacedV2 {
    order_id: u64,
}

impl From<OrderPlacedV3> for OrderPlacedV2 {
    fn from(v3: OrderPlacedV3) -> Self {
        OrderPlacedV2 {
            order_id: v3.order_id,
        }
    }
}

fn main() {}

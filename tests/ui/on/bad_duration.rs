// Durations are a whole number and a unit, such as "5s"; words are not units.
use events::{on, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

#[on(OrderPlaced, timeout = "5 seconds")]
async fn reserve_stock(order: &OrderPlaced) {
    let _ = order.order_id;
}

fn main() {}

// A handler name appears in reports and logs, so it must not be empty.
use events::{on, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

#[on(OrderPlaced, name = "")]
fn reserve_stock(order: &OrderPlaced) {
    let _ = order.order_id;
}

fn main() {}

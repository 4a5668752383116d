// Each `#[on]` option may be given once.
use events::{on, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

#[on(OrderPlaced, priority = 1, priority = 2)]
fn reserve_stock(order: &OrderPlaced) {
    let _ = order.order_id;
}

fn main() {}

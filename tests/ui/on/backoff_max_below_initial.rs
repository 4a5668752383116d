// An exponential backoff grows from its first wait to its longest, so the longest cannot be shorter.
use events::{on, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

#[on(OrderPlaced, attempts = 3, backoff = exponential("1s", "10ms"))]
fn reserve_stock(order: &OrderPlaced) {
    let _ = order.order_id;
}

fn main() {}

// The priority is an `i32`.
use events::{on, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

#[on(OrderPlaced, priority = 3000000000)]
fn reserve_stock(order: &OrderPlaced) {
    let _ = order.order_id;
}

fn main() {}

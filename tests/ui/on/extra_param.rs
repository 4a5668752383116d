// After the event, a handler takes only what the bus can pass: `State<T>` or
// `Context`. A plain `u32` is neither.
use events::{on, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

#[on(OrderPlaced)]
fn reserve_stock(order: &OrderPlaced, warehouse: u32) {
    let _ = (order.order_id, warehouse);
}

fn main() {}

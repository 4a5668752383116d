// A handler takes exactly one parameter, the event; the bus has nothing to pass
// as a second one.
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

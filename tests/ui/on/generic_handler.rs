// The registry stores one function pointer per handler, so a handler cannot be generic.
use events::{on, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

#[on(OrderPlaced)]
fn reserve_stock<T>(order: &OrderPlaced) {
    let _ = order.order_id;
}

fn main() {}

// A bare `#[on]` does not say which event the function handles.
use events::{on, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

#[on]
fn reserve_stock(order: &OrderPlaced) {
    let _ = order.order_id;
}

fn main() {}

// The bus shares one event with every handler, so a handler borrows it instead
// of taking it by value.
use events::{on, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

#[on(OrderPlaced)]
fn reserve_stock(order: OrderPlaced) {
    let _ = order.order_id;
}

fn main() {}

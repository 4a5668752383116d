// Handlers share the event with other handlers, so they cannot borrow it mutably.
use events::{on, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

#[on(OrderPlaced)]
fn reserve_stock(order: &mut OrderPlaced) {
    order.order_id += 1;
}

fn main() {}

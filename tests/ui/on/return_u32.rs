// A handler returns `()` or `Result<(), E>`; the bus cannot interpret a `u32`.
use events::{on, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

#[on(OrderPlaced)]
fn reserve_stock(order: &OrderPlaced) -> u32 {
    order.order_id as u32
}

fn main() {}

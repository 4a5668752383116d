// An async handler has the same return rule as a synchronous one.
use events::{on, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

#[on(OrderPlaced)]
async fn reserve_stock(order: &OrderPlaced) -> u32 {
    order.order_id as u32
}

fn main() {}

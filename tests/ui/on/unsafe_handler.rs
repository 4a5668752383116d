// The bus calls handlers from safe code, so a handler cannot be `unsafe fn`.
use events::{on, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

#[on(OrderPlaced)]
unsafe fn reserve_stock(order: &OrderPlaced) {
    let _ = order.order_id;
}

fn main() {}

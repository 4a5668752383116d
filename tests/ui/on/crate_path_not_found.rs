// `crate = "..."` must name a path where the runtime crate is reachable;
// nothing is declared at `crate::runtime`.
use events::{on, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

#[on(OrderPlaced, crate = "crate::runtime")]
fn reserve_stock(order: &OrderPlaced) {
    let _ = order.order_id;
}

fn main() {}

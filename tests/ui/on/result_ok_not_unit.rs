// `Result<T, E>` is accepted only with `T = ()`: the bus has nowhere to put a value.
use events::{on, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

#[on(OrderPlaced)]
fn reserve_stock(order: &OrderPlaced) -> Result<u64, String> {
    Ok(order.order_id)
}

fn main() {}

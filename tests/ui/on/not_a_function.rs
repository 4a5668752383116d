// `#[on]` registers functions; a struct cannot handle an event.
use events::{on, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

#[on(OrderPlaced)]
struct StockReserver;

fn main() {}

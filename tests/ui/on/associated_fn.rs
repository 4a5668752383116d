// Even without a receiver, `#[on]` inside an impl block would register a path
// that does not resolve outside the block.
use events::{on, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

struct Stock;

impl Stock {
    #[on(OrderPlaced)]
    fn reserve(order: &OrderPlaced) {
        let _ = order.order_id;
    }
}

fn main() {}

// A handler is registered as a plain function pointer, so it cannot be a
// method that needs a receiver.
use events::{on, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

struct Stock;

impl Stock {
    #[on(OrderPlaced)]
    fn reserve(&self, order: &OrderPlaced) {
        let _ = order.order_id;
    }
}

fn main() {}

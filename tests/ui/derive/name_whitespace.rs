// Event names may not contain whitespace.
use events::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(name = "order placed")]
struct OrderPlaced {
    order_id: u64,
}

fn main() {}

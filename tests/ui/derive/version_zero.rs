// Event versions start at 1.
use events::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(version = 0)]
struct OrderPlaced {
    order_id: u64,
}

fn main() {}

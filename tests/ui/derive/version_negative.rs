// An event version is a whole number from 1; a negative number is not one.
use events::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(version = -1)]
struct OrderPlaced {
    order_id: u64,
}

fn main() {}

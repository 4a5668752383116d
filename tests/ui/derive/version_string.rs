// The version is an integer literal, not a string.
use events::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(version = "2")]
struct OrderPlaced {
    order_id: u64,
}

fn main() {}

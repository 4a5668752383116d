// Options are collected from every `#[event]` attribute of the type, so a
// version repeated in a second attribute is a duplicate too.
use events::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(version = 2)]
#[event(version = 3)]
struct OrderPlaced {
    order_id: u64,
}

fn main() {}

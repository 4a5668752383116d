// `crate = "..."` takes a Rust path to the runtime crate.
use events::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(crate = "not a path")]
struct OrderPlaced {
    order_id: u64,
}

fn main() {}

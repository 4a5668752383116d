// An event name is written to the CloudEvents `type` attribute, which must not be empty.
use events::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(name = "")]
struct OrderPlaced {
    order_id: u64,
}

fn main() {}

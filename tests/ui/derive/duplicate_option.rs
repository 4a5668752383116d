// Each `#[event]` option may be given once; two names would make the event
// name depend on which one wins.
use events::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(name = "OrderPlaced", name = "OrderCreated")]
struct OrderPlaced {
    order_id: u64,
}

fn main() {}

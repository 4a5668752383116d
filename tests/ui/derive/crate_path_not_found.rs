// `crate = "..."` must name a path where the runtime crate is reachable;
// nothing is declared at `crate::runtime`.
use events::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(crate = "crate::runtime")]
struct OrderPlaced {
    order_id: u64,
}

fn main() {}

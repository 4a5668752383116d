// The kind is `domain` or `integration`; `public` is neither.
use events::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(kind = "public")]
struct OrderPlaced {
    order_id: u64,
}

fn main() {}

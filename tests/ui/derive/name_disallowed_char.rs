// Event names contain only ASCII letters, digits and `.` `_` `-` `:` `/`; `@` is not allowed.
use events::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(name = "shop@order_placed")]
struct OrderPlaced {
    order_id: u64,
}

fn main() {}

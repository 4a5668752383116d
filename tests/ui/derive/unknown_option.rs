// `#[event]` accepts `name`, `version`, `kind` and `crate`; `schema` is not an option.
use events::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(schema = "order.json")]
struct OrderPlaced {
    order_id: u64,
}

fn main() {}

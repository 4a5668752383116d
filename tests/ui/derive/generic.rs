// The registry stores one concrete type per event name and version, so a
// generic payload type cannot be registered.
use events::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct ItemAdded<T> {
    item: T,
}

fn main() {}

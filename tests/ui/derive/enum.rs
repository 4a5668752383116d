// An enum has no single set of fields to register, and serde would encode each
// variant differently, so `#[derive(Event)]` accepts structs only.
use events::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
enum OrderStatus {
    Placed,
    Shipped,
}

fn main() {}

// The bus shares events between threads, so the payload must be `Sync`; a
// `Cell` field is not.
use events::Event;
use serde::{Deserialize, Serialize};
use std::cell::Cell;

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: Cell<u64>,
}

fn main() {}

// `#[on(...)]` names an event type, one with `#[derive(Event)]`; `String` is not.
use events::{on, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

#[on(String)]
fn log(line: &String) {
    let _ = line.len();
}

fn main() {}

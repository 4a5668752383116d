// Decoding needs `Deserialize` as well as `Serialize`.
use events::Event;
use serde::Serialize;

#[derive(Event, Serialize)]
struct OrderPlaced {
    order_id: u64,
}

fn main() {}

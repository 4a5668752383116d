// The payload is serialised by serde, so an event must also derive
// `Serialize` and `Deserialize`.
use events::Event;

#[derive(Event)]
struct OrderPlaced {
    order_id: u64,
}

fn main() {}

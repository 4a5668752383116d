// An upcaster's `to` version must be newer than its `from` version.
use events::upcaster;
use serde_json::Value;

#[upcaster(name = "OrderPlaced", from = 2, to = 2)]
fn order_placed_v2(payload: Value) -> Result<Value, String> {
    Ok(payload)
}

fn main() {}

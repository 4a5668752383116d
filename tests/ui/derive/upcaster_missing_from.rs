// An upcaster names the version it upgrades from.
use events::upcaster;
use serde_json::Value;

#[upcaster(name = "OrderPlaced")]
fn order_placed_v1(payload: Value) -> Result<Value, String> {
    Ok(payload)
}

fn main() {}

// The bus records a failed handler by the error's `Display` text, so `E` in
// `Result<(), E>` must implement `Display`.
use events::{on, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

struct StockError;

#[on(OrderPlaced)]
fn reserve_stock(order: &OrderPlaced) -> Result<(), StockError> {
    if order.order_id == 0 {
        return Err(StockError);
    }
    Ok(())
}

fn main() {}

// A handler's first parameter is the event; state and context follow it.
use events::{on, Event, State};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

struct Inventory;

#[on(OrderPlaced)]
fn reserve_stock(stock: State<Inventory>, order: &OrderPlaced) {
    let _ = (stock, order.order_id);
}

fn main() {}

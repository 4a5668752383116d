// `crate = "..."` routes generated code through a re-export of the facade.
use events::{on, Event};
use serde::{Deserialize, Serialize};

pub use events as rt;

#[derive(Event, Serialize, Deserialize)]
#[event(crate = "crate::rt", version = 2)]
struct OrderPlaced {
    order_id: u64,
}

#[on(OrderPlaced, crate = "crate::rt", priority = 1)]
fn reserve_stock(order: &OrderPlaced) -> Result<(), String> {
    match order.order_id {
        0 => Err("order 0 does not exist".to_owned()),
        _ => Ok(()),
    }
}

fn main() {
    assert_eq!(<OrderPlaced as rt::Event>::VERSION, 2);
    let report = rt::Bus::new().emit(OrderPlaced { order_id: 0 });
    assert_eq!(report.handlers_run(), 1);
    assert_eq!(
        report.failures()[0].error().to_string(),
        "order 0 does not exist"
    );
}

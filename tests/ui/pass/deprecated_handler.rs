// A deprecated handler builds without a warning: the bus calling it is not a
// use by the program, so `#![deny(warnings)]` must not fail the build.
#![deny(warnings)]

use events::{on, Bus, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

#[deprecated = "stock is reserved by the warehouse service now"]
#[on(OrderPlaced)]
fn deprecated_before(_: &OrderPlaced) {}

#[on(OrderPlaced)]
#[deprecated = "stock is reserved by the warehouse service now"]
fn deprecated_after(_: &OrderPlaced) {}

fn main() {
    let report = Bus::new().emit(OrderPlaced { order_id: 1 });
    assert_eq!(report.handlers_run(), 2);
}

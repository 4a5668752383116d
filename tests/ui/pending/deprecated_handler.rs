// A deprecated handler should build without a warning: the bus calling it is
// not a use by the program. Today the generated entry point calls the
// function directly, so rustc reports `use of deprecated function` at the
// handler itself, and `#![deny(warnings)]` turns that into an error.
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

// Lint and codegen attributes stay on the handler function and do not disturb
// the registration, before or after `#[on]`.
#![deny(warnings)]

use events::{on, Bus, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

#[allow(unused_variables)]
#[on(OrderPlaced)]
fn allow_before(order: &OrderPlaced) {
    let unused = 1;
}

#[on(OrderPlaced)]
#[allow(unused_variables)]
fn allow_after(order: &OrderPlaced) {
    let unused = 1;
}

#[must_use = "the check result tells whether stock was reserved"]
#[on(OrderPlaced)]
fn must_use_before(order: &OrderPlaced) -> Result<(), String> {
    match order.order_id {
        0 => Err("order 0 does not exist".to_owned()),
        _ => Ok(()),
    }
}

#[on(OrderPlaced)]
#[must_use]
fn must_use_after(_: &OrderPlaced) -> Result<(), String> {
    Ok(())
}

#[inline]
#[on(OrderPlaced)]
fn inline_before(_: &OrderPlaced) {}

#[on(OrderPlaced)]
#[inline(always)]
fn inline_after(_: &OrderPlaced) {}

fn main() {
    let report = Bus::new().emit(OrderPlaced { order_id: 0 });
    assert_eq!(report.handlers_run(), 6);
    assert_eq!(report.failures().len(), 1);
    assert!(report.failures()[0]
        .handler()
        .ends_with("::must_use_before"));
}

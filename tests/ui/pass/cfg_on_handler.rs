// `#[cfg]` next to `#[on]`, before or after it, keeps or removes the handler
// together with its registration.
use events::{on, registry, Bus, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

#[cfg(all())]
#[on(OrderPlaced)]
fn enabled_before(_: &OrderPlaced) {}

#[on(OrderPlaced)]
#[cfg(all())]
fn enabled_after(_: &OrderPlaced) {}

#[cfg(any())]
#[on(OrderPlaced)]
fn disabled_before(_: &OrderPlaced) {}

#[on(OrderPlaced)]
#[cfg(any())]
fn disabled_after(_: &OrderPlaced) {}

#[on(OrderPlaced)]
#[cfg_attr(all(), cfg(any()))]
fn disabled_by_cfg_attr(_: &OrderPlaced) {}

fn main() {
    let names: Vec<&str> = registry::handlers_of::<OrderPlaced>()
        .map(|handler| handler.name().rsplit("::").next().unwrap())
        .collect();
    assert_eq!(names, ["enabled_after", "enabled_before"]);

    let report = Bus::new().emit(OrderPlaced { order_id: 1 });
    assert_eq!(report.handlers_run(), 2);
}

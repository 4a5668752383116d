// `#[tracing::instrument]` composes with `#[on]` in both orders, on sync and
// async handlers.
#![deny(warnings)]

use events::{on, Bus, Event};
use serde::{Deserialize, Serialize};

#[derive(Debug, Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

#[tracing::instrument]
#[on(OrderPlaced)]
fn instrument_before(order: &OrderPlaced) {
    tracing::info!(order.order_id, "reserving stock");
}

#[on(OrderPlaced)]
#[tracing::instrument]
fn instrument_after(order: &OrderPlaced) {
    tracing::info!(order.order_id, "reserving stock");
}

#[tracing::instrument(skip(order), fields(order_id = order.order_id), err)]
#[on(OrderPlaced)]
fn instrument_result(order: &OrderPlaced) -> Result<(), String> {
    Err(format!("order {} has no lines", order.order_id))
}

#[tracing::instrument]
#[on(OrderPlaced)]
async fn instrument_async_before(order: &OrderPlaced) {
    tracing::info!(order.order_id, "sending confirmation");
}

#[on(OrderPlaced)]
#[tracing::instrument(level = "debug")]
async fn instrument_async_after(order: &OrderPlaced) -> Result<(), String> {
    tracing::debug!(order.order_id, "sending invoice");
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let report = Bus::new().emit_async(OrderPlaced { order_id: 5 }).await;
    assert_eq!(report.handlers_run(), 5);
    assert_eq!(report.failures().len(), 1);
    assert_eq!(
        report.failures()[0].error().to_string(),
        "order 5 has no lines"
    );
}

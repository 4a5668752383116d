// An `async` handler takes `Context` with or without its lifetime, because
// the macro writes a bare `Context` as `Context<'_>`.
#![deny(warnings)]

use std::sync::atomic::{AtomicU32, Ordering};

use events::{on, Bus, Context, Envelope, Event, State};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

#[derive(Event, Serialize, Deserialize)]
struct PaymentRequested {
    order_id: u64,
}

struct Db;

static PAYMENTS: AtomicU32 = AtomicU32::new(0);

#[on(OrderPlaced)]
async fn reserve(order: &OrderPlaced, _db: State<Db>, cx: Context) {
    cx.emit_async(PaymentRequested { order_id: order.order_id }).await;
}

#[on(OrderPlaced)]
async fn audit(_: &OrderPlaced, cx: events::Context) -> Result<(), String> {
    assert_eq!(cx.attempt(), 1);
    Ok(())
}

#[on(OrderPlaced)]
async fn confirm(_: &OrderPlaced, cx: Context<'_>, _db: State<Db>) {
    assert!(!cx.is_replay());
}

#[on(PaymentRequested)]
async fn charge(payment: &Envelope<PaymentRequested>) {
    assert_eq!(payment.order_id, 7);
    assert!(payment.causation_id().is_some());
    PAYMENTS.fetch_add(1, Ordering::SeqCst);
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let bus = Bus::builder().state(Db).build().unwrap();
    let report = bus.emit_async(OrderPlaced { order_id: 7 }).await;
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.handlers_run(), 3);
    assert_eq!(PAYMENTS.load(Ordering::SeqCst), 1);
}

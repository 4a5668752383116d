// Every `#[on]` option together, with state and context parameters, on
// synchronous and `async` handlers.
use events::{on, Context, Event, State};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

struct Inventory;
struct Ledger;

#[on(
    OrderPlaced,
    name = "stock.reserve",
    priority = 5,
    attempts = 3,
    backoff = exponential("10ms", "1s"),
    jitter,
    on_failure = "stop"
)]
fn reserve_stock(order: &OrderPlaced, _stock: State<Inventory>, cx: Context) {
    let _ = (order.order_id, cx.attempt());
}

#[on(
    OrderPlaced,
    name = "ledger.post",
    after = "stock.reserve",
    before = ["mail.confirm"],
    attempts = 2,
    backoff = fixed("250ms"),
    on_failure = "log",
    timeout = "5s",
    concurrent
)]
async fn post(_: &OrderPlaced, _ledger: State<Ledger>, cx: Context<'_>) -> Result<(), String> {
    cx.emit_async(OrderPlaced { order_id: 0 }).await;
    Ok(())
}

#[on(OrderPlaced, name = "mail.confirm", on_failure = "dead_letter", concurrent = false)]
async fn confirm(_: &events::Envelope<OrderPlaced>) {}

fn main() {}

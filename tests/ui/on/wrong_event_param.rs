// The parameter must borrow the event named in `#[on(...)]`; a handler of
// `OrderPlaced` cannot take `&PaymentSucceeded`.
use events::{on, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

#[derive(Event, Serialize, Deserialize)]
struct PaymentSucceeded {
    order_id: u64,
}

#[on(OrderPlaced)]
fn charge(payment: &PaymentSucceeded) {
    let _ = payment.order_id;
}

fn main() {}

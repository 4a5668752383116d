// An envelope parameter must carry the event named in `#[on(...)]`.
use events::{on, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

use events::Envelope;

#[derive(Event, Serialize, Deserialize)]
struct PaymentSucceeded {
    order_id: u64,
}

#[on(OrderPlaced)]
fn charge(payment: &Envelope<PaymentSucceeded>) {
    let _ = payment.order_id;
}

fn main() {}

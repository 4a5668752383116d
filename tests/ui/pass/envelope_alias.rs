// A handler may name the envelope through a type alias or a fully qualified
// path, because the compiler, not the macro, distinguishes `&Envelope<E>`
// from `&E`.
use events::{on, Bus, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

type OrderEnvelope = events::Envelope<OrderPlaced>;

#[on(OrderPlaced)]
fn by_alias(order: &OrderEnvelope) {
    assert_eq!(order.subject(), Some("order-1"));
}

#[on(OrderPlaced)]
fn by_path(order: &::events::envelope::Envelope<OrderPlaced>) {
    assert_eq!(order.subject(), Some("order-1"));
}

fn main() {
    let envelope = events::Envelope::new(OrderPlaced { order_id: 1 }).with_subject("order-1");
    let report = Bus::new().emit_envelope(envelope);
    assert!(report.is_ok(), "failures: {:?}", report.failures());
    assert_eq!(report.handlers_run(), 2);
}

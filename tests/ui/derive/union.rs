// A union has no serde representation, so it cannot be an event payload.
use events::Event;

#[derive(Event)]
union PaymentAmount {
    cents: u64,
    units: f64,
}

fn main() {}

// An event may itself be called `Envelope`, say for a mail service, and a
// handler of it borrows it like any other event.
use events::{on, Bus, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(name = "mail.envelope_sealed")]
struct Envelope {
    recipient: String,
}

#[on(Envelope)]
fn stamp(envelope: &Envelope) {
    assert_eq!(envelope.recipient, "ada");
}

fn main() {
    let report = Bus::new().emit(Envelope {
        recipient: "ada".to_owned(),
    });
    assert!(report.is_ok(), "failures: {:?}", report.failures());
    assert_eq!(report.handlers_run(), 1);
}

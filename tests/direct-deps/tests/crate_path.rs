//! `crate = "..."` in `#[event]` and `#[on]`: the generated code reaches the
//! runtime through a path the crate chooses, here a re-export of
//! `events-core` under another name.

use events_macros::{on, Event};
use serde::{Deserialize, Serialize};

/// The runtime under the name this crate uses for it.
pub use events_core as rt;

/// A nested re-export, as a crate that keeps its dependencies in one module would write.
pub mod deps {
    pub mod events {
        pub use events_core::*;
    }
}

/// A ticket was sold.
#[derive(Event, Serialize, Deserialize)]
#[event(crate = "crate::rt", name = "box_office.ticket_sold")]
struct TicketSold {
    seat: String,
}

#[derive(Event, Serialize, Deserialize)]
#[event(version = 3, crate = "crate::deps::events")]
struct TicketRefunded(u32);

#[derive(Event, Serialize, Deserialize)]
#[event(crate = "::events_core")]
struct TicketScanned;

#[on(TicketSold, crate = "crate::rt", name = "box_office.print")]
fn print_ticket(ticket: &TicketSold) -> Result<(), String> {
    if ticket.seat.is_empty() {
        return Err("no seat assigned".into());
    }
    Ok(())
}

#[on(TicketRefunded, priority = 3, crate = "crate::deps::events")]
async fn refund(ticket: &rt::Envelope<TicketRefunded>) {
    assert_eq!(ticket.version(), 3);
}

#[on(TicketScanned, crate = "::events_core")]
fn scan(_: &TicketScanned) {}

#[test]
fn crate_path_derive_registers() {
    use rt::Event as _;

    let sold = rt::registry::find("box_office.ticket_sold", 1).unwrap();
    assert_eq!(sold.type_id(), std::any::TypeId::of::<TicketSold>());
    assert_eq!(sold.doc(), "A ticket was sold.");
    assert_eq!(TicketRefunded::VERSION, 3);
    assert_eq!(TicketScanned::info().name(), "TicketScanned");
}

#[test]
fn crate_path_handler_registers() {
    let handler = rt::registry::handlers_of::<TicketRefunded>()
        .next()
        .unwrap();
    assert_eq!(handler.name(), "crate_path::refund");
    assert_eq!(handler.priority(), 3);
    assert!(handler.is_async());
    assert!(handler.takes_envelope());
}

#[test]
fn crate_path_handler_runs() {
    let bus = rt::Bus::new();
    let report = bus.emit(TicketSold {
        seat: String::new(),
    });
    assert_eq!(report.handlers_run(), 1);
    assert_eq!(report.failures()[0].handler(), "box_office.print");
    assert_eq!(report.failures()[0].error().to_string(), "no seat assigned");

    assert!(bus.emit(TicketScanned).is_ok());
}

#[tokio::test(flavor = "current_thread")]
async fn crate_path_async_handler_runs() {
    let report = rt::Bus::new().emit_async(TicketRefunded(12)).await;
    assert!(report.is_ok(), "failures: {:?}", report.failures());
    assert_eq!(report.handlers_run(), 1);
}

#[test]
fn crate_path_event_decodes() {
    let bytes = serde_json::to_vec(&rt::Envelope::new(TicketRefunded(4))).unwrap();
    let decoded = rt::decode(&bytes).unwrap();
    assert_eq!(decoded.version(), 3);
    assert_eq!(decoded.payload::<TicketRefunded>().unwrap().0, 4);
}

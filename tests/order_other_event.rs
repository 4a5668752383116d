//! A program in which a handler is ordered against a handler of another
//! event: every bus fails to build with `BuildError::Order`.

use events::{on, BuildError, Bus, Event, OrderError};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced;

#[derive(Event, Serialize, Deserialize)]
struct OrderShipped;

#[on(OrderPlaced, name = "reserve")]
fn reserve(_: &OrderPlaced) {}

#[on(OrderShipped, name = "notify", after = "reserve")]
fn notify(_: &OrderShipped) {}

#[test]
fn build_reports_other_event() {
    let error = Bus::builder().build().unwrap_err();

    let BuildError::Order(errors) = &error else {
        panic!("expected BuildError::Order, got {error:?}");
    };
    assert_eq!(
        errors,
        &[OrderError::OtherEvent {
            event: "OrderShipped",
            handler: "notify",
            constraint: "after",
            other: "reserve",
            other_event: "OrderPlaced",
        }]
    );
    assert_eq!(
        error.to_string(),
        "handler order constraints cannot be met:\n  \
         - handler `notify` of `OrderShipped` runs after `reserve`, which handles `OrderPlaced`; order constraints apply to handlers of the same event"
    );
}

//! A program whose handlers take state: a bus built without that state fails
//! with `BuildError::MissingState` naming every handler and state type, and
//! disabled or replaced handlers need no state. Also the build errors for
//! unknown handler names and for fakes of the wrong event type, which are
//! checked before state.
//!
//! Every bus in this binary includes both handlers below, so the missing
//! state errors live in their own test binary.

use std::any::type_name;
use std::panic::catch_unwind;

use events::{on, BuildError, Bus, Event, State};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

#[derive(Event, Serialize, Deserialize)]
struct PaymentRequested {
    cents: u64,
}

struct Inventory;

struct PaymentGateway;

#[on(OrderPlaced, name = "stock.reserve")]
fn reserve(_: &OrderPlaced, _inventory: State<Inventory>) {}

#[on(PaymentRequested, name = "psp.charge")]
fn charge(_: &PaymentRequested, _gateway: State<PaymentGateway>, _inventory: State<Inventory>) {}

fn missing_state(error: BuildError) -> Vec<(String, String, String)> {
    let BuildError::MissingState(missing) = error else {
        panic!("expected BuildError::MissingState, got {error:?}");
    };
    missing
        .iter()
        .map(|entry| {
            (
                entry.handler().to_owned(),
                entry.event().to_owned(),
                entry.state_type().to_owned(),
            )
        })
        .collect()
}

#[test]
fn build_lists_every_missing_state() {
    let error = Bus::builder().build().unwrap_err();

    let missing = missing_state(error);

    let inventory = type_name::<Inventory>().to_owned();
    let gateway = type_name::<PaymentGateway>().to_owned();
    assert_eq!(
        missing,
        [
            (
                "stock.reserve".into(),
                "OrderPlaced".into(),
                inventory.clone()
            ),
            ("psp.charge".into(), "PaymentRequested".into(), gateway),
            ("psp.charge".into(), "PaymentRequested".into(), inventory),
        ]
    );
}

#[test]
fn missing_state_display_names_fix() {
    let error = Bus::builder().build().unwrap_err();

    assert_eq!(
        error.to_string(),
        "handlers take state the bus was not given:\n  \
         - handler `stock.reserve` of `OrderPlaced` takes `State<missing_state::Inventory>`; give it with `Bus::builder().state(..)`\n  \
         - handler `psp.charge` of `PaymentRequested` takes `State<missing_state::PaymentGateway>`; give it with `Bus::builder().state(..)`\n  \
         - handler `psp.charge` of `PaymentRequested` takes `State<missing_state::Inventory>`; give it with `Bus::builder().state(..)`"
    );
}

#[test]
fn build_lists_only_states_not_given() {
    let error = Bus::builder().state(Inventory).build().unwrap_err();

    let missing = missing_state(error);

    assert_eq!(
        missing,
        [(
            "psp.charge".into(),
            "PaymentRequested".into(),
            type_name::<PaymentGateway>().into()
        )]
    );
}

#[test]
fn build_succeeds_with_every_state() {
    let bus = Bus::builder()
        .state(Inventory)
        .state(PaymentGateway)
        .build()
        .unwrap();

    assert!(bus.emit(OrderPlaced { order_id: 1 }).is_ok());
    assert!(bus.emit(PaymentRequested { cents: 500 }).is_ok());
}

#[test]
fn bus_new_panics_with_missing_state() {
    let panic = catch_unwind(Bus::new).unwrap_err();

    let message = panic
        .downcast_ref::<String>()
        .expect("the panic message is a String");
    assert!(
        message
            .starts_with("cannot build the event bus: handlers take state the bus was not given:"),
        "{message}"
    );
    assert!(message.contains("handler `psp.charge`"), "{message}");
}

#[test]
fn disabled_handlers_need_no_state() {
    let bus = Bus::builder()
        .disable("stock.reserve")
        .disable("psp.charge")
        .build()
        .unwrap();

    assert_eq!(bus.emit(OrderPlaced { order_id: 2 }).handlers_run(), 0);
    assert!(bus.handlers_of::<PaymentRequested>().is_empty());
}

#[test]
fn replaced_handler_needs_no_state() {
    let bus = Bus::builder()
        .state(Inventory)
        .replace(
            "psp.charge",
            |request: &PaymentRequested| -> Result<(), String> {
                if request.cents > 10_000 {
                    Err(format!("declined {} cents", request.cents))
                } else {
                    Ok(())
                }
            },
        )
        .build()
        .unwrap();

    let accepted = bus.emit(PaymentRequested { cents: 500 });
    let declined = bus.emit(PaymentRequested { cents: 50_000 });

    assert!(accepted.is_ok(), "{accepted}");
    assert_eq!(declined.failures().len(), 1);
    assert_eq!(declined.failures()[0].handler(), "psp.charge");
    assert_eq!(
        declined.failures()[0].error().to_string(),
        "declined 50000 cents"
    );
}

#[test]
fn unknown_handler_names_reported() {
    let error = Bus::builder()
        .state(Inventory)
        .state(PaymentGateway)
        .disable("stock.reserv")
        .replace("psp.refund", |_: &PaymentRequested| {})
        .build()
        .unwrap_err();

    let BuildError::UnknownHandlers { unknown, known } = &error else {
        panic!("expected BuildError::UnknownHandlers, got {error:?}");
    };
    assert_eq!(unknown, &["stock.reserv", "psp.refund"]);
    assert_eq!(known, &["psp.charge", "stock.reserve"]);
    assert_eq!(
        error.to_string(),
        "no handler is registered as `stock.reserv`, `psp.refund`; registered handlers are `psp.charge`, `stock.reserve`"
    );
}

#[test]
fn several_problem_kinds_reported_together() {
    let error = Bus::builder().disable("stock.reserv").build().unwrap_err();

    let BuildError::Several(problems) = &error else {
        panic!("expected BuildError::Several, got {error:?}");
    };
    assert_eq!(problems.len(), 2, "{error}");
    assert!(matches!(problems[0], BuildError::UnknownHandlers { .. }));
    assert!(matches!(problems[1], BuildError::MissingState(_)));
    let text = error.to_string();
    assert!(
        text.starts_with(
            "the bus cannot be built for 2 reasons:\nno handler is registered as `stock.reserv`"
        ),
        "{text}"
    );
    assert!(
        text.contains("handlers take state the bus was not given:"),
        "{text}"
    );
}

#[test]
fn fake_of_other_event_rejected() {
    let error = Bus::builder()
        .state(Inventory)
        .state(PaymentGateway)
        .replace("stock.reserve", |_: &PaymentRequested| {})
        .build()
        .unwrap_err();

    let BuildError::ReplacementType(mismatches) = &error else {
        panic!("expected BuildError::ReplacementType, got {error:?}");
    };
    assert_eq!(mismatches.len(), 1);
    assert_eq!(
        error.to_string(),
        "fakes take another event than the handler they replace:\n  \
         - handler `stock.reserve` handles `missing_state::OrderPlaced`, but its fake takes `&missing_state::PaymentRequested`"
    );
}

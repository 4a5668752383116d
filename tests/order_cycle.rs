//! A program whose handler order constraints form cycles: every bus fails to
//! build with `BuildError::Order`, naming each cycle.

use std::panic::catch_unwind;

use events::{on, BuildError, Bus, Event, OrderError};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct OrderPlaced;

#[on(OrderPlaced, name = "charge", after = "reserve")]
fn charge(_: &OrderPlaced) {}

#[on(OrderPlaced, name = "reserve", after = "charge")]
fn reserve(_: &OrderPlaced) {}

/// A cycle of three, closed by a `before` constraint.
#[derive(Event, Serialize, Deserialize)]
struct ParcelPacked;

#[on(ParcelPacked, name = "pack", after = "pick")]
fn pack(_: &ParcelPacked) {}

#[on(ParcelPacked, name = "pick")]
fn pick(_: &ParcelPacked) {}

#[on(ParcelPacked, name = "ship", after = "pack", before = "pick")]
fn ship(_: &ParcelPacked) {}

const TWO_CYCLE: &str = "handlers of `OrderPlaced` form a cycle: `charge` runs after `reserve`, which runs after `charge`; remove one of these constraints";

const THREE_CYCLE: &str = "handlers of `ParcelPacked` form a cycle: `pack` runs after `pick`, which runs after `ship`, which runs after `pack`; remove one of these constraints";

#[test]
fn build_reports_every_cycle() {
    let error = Bus::builder().build().unwrap_err();

    let BuildError::Order(errors) = &error else {
        panic!("expected BuildError::Order, got {error:?}");
    };
    assert_eq!(
        errors[0],
        OrderError::Cycle {
            event: "OrderPlaced",
            handlers: vec!["charge", "reserve"],
        }
    );
    assert_eq!(
        errors[1],
        OrderError::Cycle {
            event: "ParcelPacked",
            handlers: vec!["pack", "pick", "ship"],
        }
    );
    assert_eq!(errors.len(), 2);
}

#[test]
fn cycle_error_text() {
    let error = Bus::builder().build().unwrap_err();

    assert_eq!(
        error.to_string(),
        format!("handler order constraints cannot be met:\n  - {TWO_CYCLE}\n  - {THREE_CYCLE}")
    );
}

#[test]
fn bus_new_panics_with_cycle() {
    let panic = catch_unwind(Bus::new).unwrap_err();

    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains(TWO_CYCLE), "{message}");
}

#[test]
fn disabling_one_handler_breaks_cycle() {
    let bus = Bus::builder().disable("reserve").disable("pick").build();

    let bus = match bus {
        Ok(bus) => bus,
        Err(error) => panic!("the bus did not build: {error}"),
    };
    assert_eq!(bus.emit(OrderPlaced).handlers_run(), 1);
}

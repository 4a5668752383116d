//! A program whose handler order constraints name handlers that do not
//! exist: every bus fails to build with `BuildError::Order`, listing the
//! handlers the constraint may have meant.

use events::{on, BuildError, Bus, Event, OrderError};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
struct PaymentSettled;

#[on(PaymentSettled, name = "receipt", after = "ledgr")]
fn receipt(_: &PaymentSettled) {}

#[on(PaymentSettled, name = "ledger", priority = 5, before = ["receipt", "archive"])]
fn ledger(_: &PaymentSettled) {}

#[test]
fn build_reports_unknown_names() {
    let error = Bus::builder().build().unwrap_err();

    let BuildError::Order(errors) = &error else {
        panic!("expected BuildError::Order, got {error:?}");
    };
    assert_eq!(
        errors,
        &[
            OrderError::UnknownHandler {
                event: "PaymentSettled",
                handler: "ledger",
                constraint: "before",
                missing: "archive",
                known: vec!["ledger", "receipt"],
            },
            OrderError::UnknownHandler {
                event: "PaymentSettled",
                handler: "receipt",
                constraint: "after",
                missing: "ledgr",
                known: vec!["ledger", "receipt"],
            },
        ]
    );
}

#[test]
fn unknown_name_error_text() {
    let error = Bus::builder().build().unwrap_err();

    assert_eq!(
        error.to_string(),
        "handler order constraints cannot be met:\n  \
         - handler `ledger` of `PaymentSettled` runs before `archive`, but no handler has that name; the handlers of `PaymentSettled` are `ledger`, `receipt`\n  \
         - handler `receipt` of `PaymentSettled` runs after `ledgr`, but no handler has that name; the handlers of `PaymentSettled` are `ledger`, `receipt`"
    );
}

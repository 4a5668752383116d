//! `after` and `before` constraints: they reorder handlers against their
//! priority, `Bus::handlers_of` shows the resolved order, and emits run
//! handlers in that order at synchronous and `async` call sites.
//!
//! Constraints that cannot be met make every bus of a binary fail to build,
//! so those cases live in `order_cycle.rs`, `order_unknown.rs` and
//! `order_other_event.rs`.

use std::sync::Mutex;

use events::{on, Bus, Event};
use serde::{Deserialize, Serialize};

fn names_of<E: Event>(bus: &Bus) -> Vec<&'static str> {
    bus.handlers_of::<E>()
        .iter()
        .map(|handler| handler.name())
        .collect()
}

fn take(log: &Mutex<Vec<&'static str>>) -> Vec<&'static str> {
    std::mem::take(&mut *log.lock().unwrap())
}

// Single names: `before` moves a low-priority handler forward and `after`
// moves a high-priority one back.

#[derive(Event, Serialize, Deserialize)]
struct AccountOpened;

static ACCOUNT_LOG: Mutex<Vec<&str>> = Mutex::new(Vec::new());

#[on(AccountOpened, name = "account.welcome", priority = 10)]
fn welcome(_: &AccountOpened) {
    ACCOUNT_LOG.lock().unwrap().push("account.welcome");
}

#[on(AccountOpened, name = "account.crm", before = "account.welcome")]
fn crm(_: &AccountOpened) {
    ACCOUNT_LOG.lock().unwrap().push("account.crm");
}

#[on(
    AccountOpened,
    name = "account.audit",
    priority = 20,
    after = "account.crm"
)]
fn audit(_: &AccountOpened) {
    ACCOUNT_LOG.lock().unwrap().push("account.audit");
}

#[on(AccountOpened, name = "account.analytics", priority = 5)]
fn analytics(_: &AccountOpened) {
    ACCOUNT_LOG.lock().unwrap().push("account.analytics");
}

/// By priority alone the order would be audit, welcome, analytics, crm.
/// Audit and welcome wait for crm, and among the handlers ready to run the
/// highest priority goes first.
const ACCOUNT_ORDER: [&str; 4] = [
    "account.analytics",
    "account.crm",
    "account.audit",
    "account.welcome",
];

#[test]
fn handlers_of_shows_resolved_order() {
    let bus = Bus::new();

    assert_eq!(names_of::<AccountOpened>(&bus), ACCOUNT_ORDER);
}

#[test]
fn emit_runs_resolved_order() {
    let bus = Bus::new();

    let report = bus.emit(AccountOpened);

    assert!(report.is_ok(), "{report}");
    assert_eq!(take(&ACCOUNT_LOG), ACCOUNT_ORDER);
}

#[test]
fn constraints_in_handler_info() {
    let crm = events::registry::handler("account.crm").unwrap();
    let audit = events::registry::handler("account.audit").unwrap();

    assert_eq!(crm.before(), ["account.welcome"]);
    assert!(crm.after().is_empty());
    assert_eq!(audit.after(), ["account.crm"]);
    assert!(audit.before().is_empty());
}

// Lists of names.

#[derive(Event, Serialize, Deserialize)]
struct PaymentSettled;

#[on(PaymentSettled, name = "settle.receipt", priority = 10, after = ["settle.ledger", "settle.tax"])]
fn receipt(_: &PaymentSettled) {}

#[on(PaymentSettled, name = "settle.ledger")]
fn ledger(_: &PaymentSettled) {}

#[on(PaymentSettled, name = "settle.tax", priority = -10)]
fn tax(_: &PaymentSettled) {}

#[on(PaymentSettled, name = "settle.fraud", priority = -20, before = ["settle.ledger", "settle.receipt"])]
fn fraud(_: &PaymentSettled) {}

#[test]
fn list_constraints_resolve() {
    let bus = Bus::new();

    let names = names_of::<PaymentSettled>(&bus);

    assert_eq!(
        names,
        [
            "settle.tax",
            "settle.fraud",
            "settle.ledger",
            "settle.receipt"
        ]
    );
    let receipt = events::registry::handler("settle.receipt").unwrap();
    assert_eq!(receipt.after(), ["settle.ledger", "settle.tax"]);
}

// `async` handlers follow the same order.

#[derive(Event, Serialize, Deserialize)]
struct ReportPublished;

static PUBLISH_LOG: Mutex<Vec<&str>> = Mutex::new(Vec::new());

#[on(
    ReportPublished,
    name = "publish.upload",
    priority = 5,
    after = "publish.render"
)]
async fn upload(_: &ReportPublished) {
    PUBLISH_LOG.lock().unwrap().push("upload start");
    tokio::task::yield_now().await;
    PUBLISH_LOG.lock().unwrap().push("upload end");
}

#[on(ReportPublished, name = "publish.render")]
async fn render(_: &ReportPublished) {
    PUBLISH_LOG.lock().unwrap().push("render start");
    tokio::task::yield_now().await;
    PUBLISH_LOG.lock().unwrap().push("render end");
}

#[on(
    ReportPublished,
    name = "publish.notify",
    priority = 1,
    after = "publish.upload"
)]
fn notify(_: &ReportPublished) {
    PUBLISH_LOG.lock().unwrap().push("notify");
}

#[tokio::test]
async fn emit_async_runs_resolved_order() {
    let bus = Bus::new();

    let report = bus.emit_async(ReportPublished).await;

    assert!(report.is_ok(), "{report}");
    assert_eq!(
        names_of::<ReportPublished>(&bus),
        ["publish.render", "publish.upload", "publish.notify"]
    );
    assert_eq!(
        take(&PUBLISH_LOG),
        [
            "render start",
            "render end",
            "upload start",
            "upload end",
            "notify"
        ]
    );
}

// Disabling a handler that others are ordered against.

#[test]
fn disabled_constraint_target_builds() {
    let bus = Bus::builder().disable("account.crm").build();

    let bus = match bus {
        Ok(bus) => bus,
        Err(error) => panic!("the bus did not build: {error}"),
    };
    assert_eq!(
        names_of::<AccountOpened>(&bus),
        ["account.audit", "account.welcome", "account.analytics"]
    );
}

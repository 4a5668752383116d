//! Handler parameters after the event: `State<T>` injected from the bus and
//! `Context` for follow-up events, ids, attempts and state lookups, in
//! synchronous and `async` handlers.
//!
//! Every `#[on]` handler in this binary is on every bus built here, and some
//! take state, so every bus is built from [`builder`], which gives all of it.
//! Each test builds its own bus and reads what its handlers recorded from
//! that bus's own state, so tests running in parallel do not see each
//! other's records.

use std::sync::{Arc, Mutex};

use events::observe::{Observed, Observer};
use events::{on, Bus, BusBuilder, Context, Envelope, Event, EventId, State};
use serde::{Deserialize, Serialize};

/// Lines that handlers append to.
#[derive(Default)]
struct Log(Mutex<Vec<String>>);

impl Log {
    fn push(&self, line: impl Into<String>) {
        self.0.lock().unwrap().push(line.into());
    }

    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

struct Config {
    region: &'static str,
}

/// The addresses of the `Ledger` values that handlers were given.
#[derive(Default)]
struct Ledger {
    seen_at: Mutex<Vec<usize>>,
}

/// The ids each handler saw, for checking correlation and causation links.
#[derive(Default)]
struct Links(Mutex<Vec<Link>>);

#[derive(Clone, Debug)]
struct Link {
    event: &'static str,
    id: EventId,
    correlation: Option<EventId>,
    causation: Option<EventId>,
}

impl Links {
    fn push<E>(&self, envelope: &Envelope<E>) {
        self.0.lock().unwrap().push(Link {
            event: envelope.name(),
            id: envelope.id().clone(),
            correlation: envelope.correlation_id().cloned(),
            causation: envelope.causation_id().cloned(),
        });
    }

    fn get(&self, event: &str) -> Link {
        let links = self.0.lock().unwrap();
        let found: Vec<&Link> = links.iter().filter(|link| link.event == event).collect();
        assert_eq!(found.len(), 1, "links of `{event}`: {links:?}");
        found[0].clone()
    }
}

/// A state type that no bus is given.
struct NotGiven;

/// Starts a bus with every state the handlers of this binary take.
fn builder() -> BusBuilder {
    Bus::builder()
        .state(Log::default())
        .state(Config { region: "eu-west" })
        .state(Ledger::default())
        .state(Links::default())
}

fn log_of(bus: &Bus) -> Vec<String> {
    bus.state::<Log>().expect("every bus has a log").lines()
}

// One state in a synchronous handler.

#[derive(Event, Serialize, Deserialize)]
struct StockReserved {
    sku: String,
    quantity: u32,
}

#[on(StockReserved, name = "state.reserve")]
fn reserve(event: &StockReserved, log: State<Log>) {
    log.push(format!("{} x{}", event.sku, event.quantity));
}

#[test]
fn sync_handler_gets_state() {
    let bus = builder().build().unwrap();

    let first = bus.emit(StockReserved {
        sku: "mug".into(),
        quantity: 2,
    });
    let second = bus.emit(StockReserved {
        sku: "plate".into(),
        quantity: 1,
    });

    assert!(first.is_ok(), "{first}");
    assert!(second.is_ok(), "{second}");
    assert_eq!(first.handlers_run(), 1);
    assert_eq!(log_of(&bus), ["mug x2", "plate x1"]);
}

// Several states in a synchronous handler.

#[derive(Event, Serialize, Deserialize)]
struct ShipmentBooked {
    parcel_id: u64,
}

#[on(ShipmentBooked)]
fn book(event: &ShipmentBooked, config: State<Config>, ledger: State<Ledger>, log: State<Log>) {
    ledger
        .seen_at
        .lock()
        .unwrap()
        .push(std::ptr::from_ref::<Ledger>(&ledger) as usize);
    log.push(format!("parcel {} from {}", event.parcel_id, config.region));
}

#[test]
fn sync_handler_gets_several_states() {
    let bus = builder().build().unwrap();

    let report = bus.emit(ShipmentBooked { parcel_id: 31 });

    assert!(report.is_ok(), "{report}");
    assert_eq!(log_of(&bus), ["parcel 31 from eu-west"]);
    let ledger = bus.state::<Ledger>().unwrap();
    assert_eq!(ledger.seen_at.lock().unwrap().len(), 1);
}

#[test]
fn state_given_twice_keeps_last_value() {
    let bus = builder()
        .state(Config { region: "us-east" })
        .build()
        .unwrap();

    let report = bus.emit(ShipmentBooked { parcel_id: 32 });

    assert!(report.is_ok(), "{report}");
    assert_eq!(log_of(&bus), ["parcel 32 from us-east"]);
}

// Shared state is the caller's value, not a copy.

#[derive(Event, Serialize, Deserialize)]
struct LedgerPosted {
    amount_cents: u64,
}

#[on(LedgerPosted)]
fn post(_: &LedgerPosted, ledger: State<Ledger>) {
    let address = std::ptr::from_ref::<Ledger>(&ledger) as usize;
    ledger.seen_at.lock().unwrap().push(address);
}

#[test]
fn shared_state_is_callers_value() {
    let ledger = Arc::new(Ledger::default());
    let bus = builder().shared_state(Arc::clone(&ledger)).build().unwrap();

    bus.emit(LedgerPosted { amount_cents: 100 });
    bus.emit(LedgerPosted { amount_cents: 250 });

    let address = Arc::as_ptr(&ledger) as usize;
    assert_eq!(*ledger.seen_at.lock().unwrap(), [address, address]);
    assert!(Arc::ptr_eq(&bus.state_arc::<Ledger>().unwrap(), &ledger));
}

#[test]
fn shared_state_is_shared_by_bus_clones() {
    let ledger = Arc::new(Ledger::default());
    let bus = builder().shared_state(Arc::clone(&ledger)).build().unwrap();
    let clone = bus.clone();

    bus.emit(LedgerPosted { amount_cents: 1 });
    clone.emit(LedgerPosted { amount_cents: 2 });

    assert_eq!(ledger.seen_at.lock().unwrap().len(), 2);
    assert!(Arc::ptr_eq(&clone.state_arc::<Ledger>().unwrap(), &ledger));
}

#[test]
fn bus_state_is_not_shared_between_buses() {
    let ledger = Arc::new(Ledger::default());
    let shared = builder().shared_state(Arc::clone(&ledger)).build().unwrap();
    let other = builder().build().unwrap();

    other.emit(LedgerPosted { amount_cents: 5 });

    assert!(ledger.seen_at.lock().unwrap().is_empty());
    assert_eq!(
        other
            .state::<Ledger>()
            .unwrap()
            .seen_at
            .lock()
            .unwrap()
            .len(),
        1
    );
    assert!(!Arc::ptr_eq(
        &shared.state_arc::<Ledger>().unwrap(),
        &other.state_arc::<Ledger>().unwrap()
    ));
}

// State in `async` handlers.

#[derive(Event, Serialize, Deserialize)]
struct QuoteRequested {
    quote_id: u64,
}

#[on(QuoteRequested)]
async fn quote(event: &QuoteRequested, config: State<Config>, log: State<Log>) {
    let region = config.region;
    // The states must stay valid across a suspension point.
    tokio::task::yield_now().await;
    log.push(format!("quote {} in {region}", event.quote_id));
}

#[tokio::test]
async fn async_handler_gets_several_states() {
    let bus = builder().build().unwrap();

    let report = bus.emit_async(QuoteRequested { quote_id: 4 }).await;

    assert!(report.is_ok(), "{report}");
    assert_eq!(report.handlers_run(), 1);
    assert_eq!(log_of(&bus), ["quote 4 in eu-west"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_handler_state_in_spawned_tasks() {
    let bus = builder().build().unwrap();

    let tasks: Vec<_> = (0..8)
        .map(|quote_id| {
            let bus = bus.clone();
            tokio::spawn(async move { bus.emit_async(QuoteRequested { quote_id }).await })
        })
        .collect();
    for task in tasks {
        let report = task.await.unwrap();
        assert!(report.is_ok(), "{report}");
    }

    let mut lines = log_of(&bus);
    lines.sort();
    let mut expected: Vec<String> = (0..8).map(|id| format!("quote {id} in eu-west")).collect();
    expected.sort();
    assert_eq!(lines, expected);
}

// Follow-ups emitted through `Context` link to the event being handled.

#[derive(Event, Serialize, Deserialize)]
struct OrderSubmitted {
    order_id: u64,
}

#[derive(Event, Serialize, Deserialize)]
struct PaymentQueued {
    order_id: u64,
}

#[derive(Event, Serialize, Deserialize)]
struct ReceiptQueued {
    order_id: u64,
}

#[on(OrderSubmitted)]
fn submit(event: &Envelope<OrderSubmitted>, cx: Context, links: State<Links>, log: State<Log>) {
    links.push(event);
    log.push(format!("context id {}", cx.event_id() == *event.id()));
    log.push(format!(
        "context correlation {}",
        cx.correlation_id() == *event.metadata().correlation_or_id()
    ));
    let report = cx.emit(PaymentQueued {
        order_id: event.order_id,
    });
    log.push(format!("payment follow-up ok {}", report.is_ok()));
}

#[on(PaymentQueued)]
fn queue_payment(event: &Envelope<PaymentQueued>, cx: Context, links: State<Links>) {
    links.push(event);
    cx.emit(ReceiptQueued {
        order_id: event.order_id,
    });
}

#[on(ReceiptQueued)]
fn queue_receipt(event: &Envelope<ReceiptQueued>, links: State<Links>) {
    links.push(event);
}

#[test]
fn context_emit_links_follow_ups_to_parent() {
    let bus = builder().build().unwrap();
    let root = Envelope::new(OrderSubmitted { order_id: 7 }).with_id("order-submitted-1");

    let report = bus.emit_envelope(root);

    assert!(report.is_ok(), "{report}");
    let links = bus.state::<Links>().unwrap();
    let root_id = EventId::from("order-submitted-1");
    let order = links.get("OrderSubmitted");
    let payment = links.get("PaymentQueued");
    let receipt = links.get("ReceiptQueued");
    assert_eq!(order.correlation, None);
    assert_eq!(order.causation, None);
    assert_eq!(payment.causation.as_ref(), Some(&root_id));
    assert_eq!(payment.correlation.as_ref(), Some(&root_id));
    assert_eq!(receipt.causation.as_ref(), Some(&payment.id));
    assert_eq!(receipt.correlation.as_ref(), Some(&root_id));
    assert_ne!(payment.id, root_id);
    assert_ne!(receipt.id, payment.id);
    assert_eq!(
        log_of(&bus),
        [
            "context id true",
            "context correlation true",
            "payment follow-up ok true"
        ]
    );
}

#[test]
fn context_emit_keeps_chain_correlation() {
    let bus = builder().build().unwrap();
    let root = Envelope::new(OrderSubmitted { order_id: 8 })
        .with_id("order-submitted-2")
        .with_correlation_id("checkout-42");

    let report = bus.emit_envelope(root);

    assert!(report.is_ok(), "{report}");
    let links = bus.state::<Links>().unwrap();
    let checkout = EventId::from("checkout-42");
    let payment = links.get("PaymentQueued");
    let receipt = links.get("ReceiptQueued");
    assert_eq!(payment.causation, Some(EventId::from("order-submitted-2")));
    assert_eq!(payment.correlation.as_ref(), Some(&checkout));
    assert_eq!(receipt.correlation.as_ref(), Some(&checkout));
    assert_eq!(receipt.causation.as_ref(), Some(&payment.id));
}

#[test]
fn context_emit_links_plain_emit() {
    let bus = builder().build().unwrap();

    let report = bus.emit(OrderSubmitted { order_id: 9 });

    assert!(report.is_ok(), "{report}");
    let links = bus.state::<Links>().unwrap();
    let order = links.get("OrderSubmitted");
    let payment = links.get("PaymentQueued");
    assert_eq!(payment.causation.as_ref(), Some(&order.id));
    assert_eq!(payment.correlation.as_ref(), Some(&order.id));
}

// Follow-ups emitted through `Context` from `async` handlers.

#[derive(Event, Serialize, Deserialize)]
struct RefundRequested {
    refund_id: u64,
}

#[derive(Event, Serialize, Deserialize)]
struct RefundApproved {
    refund_id: u64,
}

#[on(RefundRequested)]
async fn request_refund(event: &Envelope<RefundRequested>, cx: Context<'_>, links: State<Links>) {
    links.push(event);
    tokio::task::yield_now().await;
    let report = cx
        .emit_async(RefundApproved {
            refund_id: event.refund_id,
        })
        .await;
    assert!(report.is_ok(), "{report}");
}

#[on(RefundApproved)]
async fn approve_refund(event: &Envelope<RefundApproved>, links: State<Links>, log: State<Log>) {
    links.push(event);
    log.push(format!("refund {} approved", event.refund_id));
}

#[tokio::test]
async fn async_context_emit_links_follow_up() {
    let bus = builder().build().unwrap();
    let root = Envelope::new(RefundRequested { refund_id: 3 }).with_id("refund-3");

    let report = bus.emit_envelope_async(root).await;

    assert!(report.is_ok(), "{report}");
    assert_eq!(log_of(&bus), ["refund 3 approved"]);
    let approved = bus.state::<Links>().unwrap().get("RefundApproved");
    assert_eq!(approved.causation, Some(EventId::from("refund-3")));
    assert_eq!(approved.correlation, Some(EventId::from("refund-3")));
}

// `Context::attempt`.

#[derive(Event, Serialize, Deserialize)]
struct InvoiceSent;

#[on(InvoiceSent, attempts = 3)]
fn send_invoice(_: &InvoiceSent, cx: Context, log: State<Log>) -> Result<(), String> {
    log.push(format!("attempt {}", cx.attempt()));
    if cx.attempt() < 3 {
        return Err(format!("mail server busy on attempt {}", cx.attempt()));
    }
    Ok(())
}

#[test]
fn context_attempt_counts_from_one() {
    let bus = builder().build().unwrap();

    let report = bus.emit(InvoiceSent);

    assert!(report.is_ok(), "{report}");
    assert_eq!(log_of(&bus), ["attempt 1", "attempt 2", "attempt 3"]);
}

#[derive(Event, Serialize, Deserialize)]
struct ReminderSent;

#[on(ReminderSent, attempts = 2)]
async fn send_reminder(_: &ReminderSent, cx: Context<'_>, log: State<Log>) -> Result<(), String> {
    let attempt = cx.attempt();
    tokio::task::yield_now().await;
    log.push(format!("attempt {attempt}"));
    if attempt == 1 {
        return Err("push service busy".into());
    }
    Ok(())
}

#[tokio::test]
async fn async_context_attempt_counts_from_one() {
    let bus = builder().build().unwrap();

    let report = bus.emit_async(ReminderSent).await;

    assert!(report.is_ok(), "{report}");
    assert_eq!(log_of(&bus), ["attempt 1", "attempt 2"]);
}

// `Context::state`, `Context::handler` and `Context::bus`.

#[derive(Event, Serialize, Deserialize)]
struct RegionChecked;

#[on(RegionChecked, name = "state.region_check")]
fn check_region(_: &RegionChecked, cx: Context) {
    let log = cx.state::<Log>().expect("the bus has a log");
    log.push(format!("region {}", cx.state::<Config>().unwrap().region));
    log.push(format!("not given {}", cx.state::<NotGiven>().is_none()));
    log.push(format!("handler {}", cx.handler().name()));
    log.push(format!("source {}", cx.bus().source()));
}

#[test]
fn context_state_reads_bus_state() {
    let bus = builder().source("urn:shop:regions").build().unwrap();

    let report = bus.emit(RegionChecked);

    assert!(report.is_ok(), "{report}");
    assert_eq!(
        log_of(&bus),
        [
            "region eu-west",
            "not given true",
            "handler state.region_check",
            "source urn:shop:regions"
        ]
    );
}

// Observers see follow-ups emitted through `Context`.

/// An event name with its causation id, as an observer saw it.
type SeenEvent = (String, Option<EventId>);

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<SeenEvent>>>);

impl Observer for Seen {
    fn observe(&self, event: &Observed<'_>) {
        let metadata = event.metadata();
        self.0
            .lock()
            .unwrap()
            .push((metadata.name().to_owned(), metadata.causation_id().cloned()));
    }
}

#[test]
fn observer_sees_context_follow_ups() {
    let seen = Seen::default();
    let bus = builder().observer(seen.clone()).build().unwrap();
    let root = Envelope::new(OrderSubmitted { order_id: 10 }).with_id("order-submitted-10");

    let report = bus.emit_envelope(root);

    assert!(report.is_ok(), "{report}");
    let payment_id = bus.state::<Links>().unwrap().get("PaymentQueued").id;
    let seen = seen.0.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            ("OrderSubmitted".to_owned(), None),
            (
                "PaymentQueued".to_owned(),
                Some(EventId::from("order-submitted-10"))
            ),
            ("ReceiptQueued".to_owned(), Some(payment_id)),
        ]
    );
}

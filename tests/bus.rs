//! `Bus` at synchronous call sites: handler order, envelope metadata, reports
//! and failures, events emitted from handlers and their causal links, the
//! depth limit, dispatch of decoded envelopes and use from several threads.
//!
//! Tests run in parallel, so each test emits its own event types and records
//! into its own statics.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use events::{on, Bus, Envelope, Event, EventId, HandlerError, Rejection, Report};
use serde::{Deserialize, Serialize};

mod common;

use common::{bus, id, record, take, take_matching};

// Priority order.

#[derive(Event, Serialize, Deserialize)]
#[event(name = "bus.ordered")]
struct Ordered;

static ORDERED_LOG: Mutex<Vec<&str>> = Mutex::new(Vec::new());

#[on(Ordered, name = "ordered.low", priority = -5)]
fn ordered_low(_: &Ordered) {
    record(&ORDERED_LOG, "low");
}

#[on(Ordered, name = "ordered.b")]
fn ordered_b(_: &Ordered) {
    record(&ORDERED_LOG, "b");
}

#[on(Ordered, name = "ordered.high", priority = 10)]
fn ordered_high(_: &Ordered) {
    record(&ORDERED_LOG, "high");
}

#[on(Ordered, name = "ordered.a")]
fn ordered_a(_: &Ordered) {
    record(&ORDERED_LOG, "a");
}

#[test]
fn emit_runs_handlers_by_priority_then_name() {
    let report = bus().emit(Ordered);

    assert_eq!(take(&ORDERED_LOG), ["high", "a", "b", "low"]);
    assert_eq!(report.handlers_run(), 4);
    assert!(report.is_ok(), "{report}");
}

#[test]
fn handlers_of_lists_run_order() {
    let names: Vec<&str> = bus()
        .handlers_of::<Ordered>()
        .iter()
        .map(|handler| handler.name())
        .collect();

    assert_eq!(
        names,
        ["ordered.high", "ordered.a", "ordered.b", "ordered.low"]
    );
}

// Envelope metadata seen by a handler.

#[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[event(name = "bus.metadata_seen", version = 3)]
struct MetadataSeen {
    order_id: u64,
}

static METADATA_SEEN: Mutex<Vec<Envelope<MetadataSeen>>> = Mutex::new(Vec::new());

#[on(MetadataSeen)]
fn keep_metadata(envelope: &Envelope<MetadataSeen>) {
    record(&METADATA_SEEN, envelope.clone());
}

#[test]
fn envelope_handler_sees_metadata() {
    let bus = Bus::builder()
        .source("https://shop.example/orders")
        .build()
        .unwrap();

    let before = SystemTime::now();
    let report = bus.emit(MetadataSeen { order_id: 7 });
    let after = SystemTime::now();
    assert!(report.is_ok(), "{report}");

    // Other tests emit this event too, so pick this test's envelope by source.
    let seen = take_matching(&METADATA_SEEN, |envelope| {
        envelope.source() == "https://shop.example/orders"
    });
    assert_eq!(seen.len(), 1);
    let envelope = &seen[0];
    assert_eq!(envelope.payload(), &MetadataSeen { order_id: 7 });
    assert_eq!(
        envelope.id().as_uuid().map(|uuid| uuid.get_version_num()),
        Some(7)
    );
    let time = SystemTime::from(envelope.time());
    assert!(
        time >= before,
        "event time {time:?} is before the emit started"
    );
    assert!(
        time <= after,
        "event time {time:?} is after the emit returned"
    );
    assert_eq!(envelope.source(), "https://shop.example/orders");
    assert_eq!(envelope.name(), "bus.metadata_seen");
    assert_eq!(envelope.version(), 3);
    assert_eq!(envelope.subject(), None);
    assert_eq!(envelope.correlation_id(), None);
    assert_eq!(envelope.causation_id(), None);
}

#[test]
fn emit_generates_new_id_each_time() {
    let bus = Bus::builder()
        .source("https://shop.example/ids")
        .build()
        .unwrap();

    bus.emit(MetadataSeen { order_id: 100 });
    bus.emit(MetadataSeen { order_id: 101 });

    // Other tests emit this event too, so pick this test's envelopes by source.
    let ids: Vec<EventId> = take_matching(&METADATA_SEEN, |envelope| {
        envelope.source() == "https://shop.example/ids"
    })
    .into_iter()
    .map(|envelope| envelope.id().clone())
    .collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
}

// Reports.

#[derive(Event, Serialize, Deserialize)]
#[event(name = "bus.counted")]
struct Counted;

#[on(Counted, name = "counted.first")]
fn counted_first(_: &Counted) {}

#[on(Counted, name = "counted.second")]
fn counted_second(_: &Counted) -> Result<(), String> {
    Ok(())
}

#[test]
fn report_counts_successful_handlers() {
    let report = bus().emit(Counted);

    assert_eq!(report.event(), "bus.counted");
    assert_eq!(report.handlers_run(), 2);
    assert!(report.failures().is_empty());
    assert!(report.rejected().is_none());
    assert!(report.is_ok());
    assert_eq!(
        report.to_string(),
        "`bus.counted`: 2 handler(s) ran, 0 failed"
    );
}

#[derive(Event, Serialize, Deserialize)]
#[event(name = "bus.unhandled")]
struct Unhandled {
    note: String,
}

#[test]
fn emit_without_handlers_reports_ok() {
    let report = bus().emit(Unhandled {
        note: "nobody listens".into(),
    });

    assert_eq!(report.event(), "bus.unhandled");
    assert_eq!(report.handlers_run(), 0);
    assert!(report.failures().is_empty());
    assert!(report.rejected().is_none());
    assert!(report.is_ok());
    assert_eq!(
        report.to_string(),
        "`bus.unhandled`: 0 handler(s) ran, 0 failed"
    );
}

#[test]
fn dispatch_without_handlers_reports_ok() {
    let bytes = br#"{"specversion":"1.0","id":"u-1","source":"test","type":"bus.unhandled","data":{"note":"n"}}"#;
    let envelope = events::decode(bytes).unwrap();

    let report = bus().dispatch(&envelope);

    assert_eq!(report.event(), "bus.unhandled");
    assert_eq!(report.handlers_run(), 0);
    assert!(report.is_ok());
}

// Handlers that return errors.

#[derive(Event, Serialize, Deserialize)]
#[event(name = "bus.failing")]
struct Failing;

static FAILING_LOG: Mutex<Vec<&str>> = Mutex::new(Vec::new());

#[on(Failing, name = "failing.string", priority = 3)]
fn fail_with_string(_: &Failing) -> Result<(), String> {
    record(&FAILING_LOG, "string");
    Err("card declined".to_owned())
}

#[on(Failing, name = "failing.boxed", priority = 2)]
fn fail_with_boxed_error(_: &Failing) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    record(&FAILING_LOG, "boxed");
    Err(std::io::Error::other("disk full").into())
}

#[on(Failing, name = "failing.anyhow", priority = 1)]
fn fail_with_anyhow(_: &Failing) -> anyhow::Result<()> {
    record(&FAILING_LOG, "anyhow");
    let cause = anyhow::anyhow!("quota of {} requests exceeded", 100);
    Err(cause.context("rate limiter rejected the call"))
}

#[on(Failing, name = "failing.succeeds")]
fn succeed_after_failures(_: &Failing) -> Result<(), String> {
    record(&FAILING_LOG, "succeeds");
    Ok(())
}

#[test]
fn handler_errors_are_reported_and_others_run() {
    let report = bus().emit(Failing);

    assert_eq!(
        take(&FAILING_LOG),
        ["string", "boxed", "anyhow", "succeeds"]
    );
    assert_eq!(report.handlers_run(), 4);
    assert!(!report.is_ok());
    assert!(report.rejected().is_none());

    let failures = report.failures();
    assert_eq!(failures.len(), 3);
    assert_eq!(failures[0].handler(), "failing.string");
    assert_eq!(
        failures[0].error(),
        &HandlerError::Failed("card declined".into())
    );
    assert_eq!(failures[1].handler(), "failing.boxed");
    assert_eq!(
        failures[1].error(),
        &HandlerError::Failed("disk full".into())
    );
    assert_eq!(failures[2].handler(), "failing.anyhow");
    assert_eq!(
        failures[2].error(),
        &HandlerError::Failed(
            "rate limiter rejected the call: quota of 100 requests exceeded".into()
        )
    );
    assert_eq!(failures[2].handler_info().priority(), 1);

    assert_eq!(
        report.to_string(),
        "`bus.failing`: 4 handler(s) ran, 3 failed\n  \
         - failing.string: card declined; kept as dead letter 1\n  \
         - failing.boxed: disk full; kept as dead letter 2\n  \
         - failing.anyhow: rate limiter rejected the call: quota of 100 requests exceeded; \
         kept as dead letter 3"
    );
}

// Handlers that panic.

#[derive(Event, Serialize, Deserialize)]
#[event(name = "bus.panicking")]
struct Panicking;

static PANICKING_LOG: Mutex<Vec<&str>> = Mutex::new(Vec::new());

// The panics below print their message to stderr through the default panic
// hook. Replacing the hook would also hide panics of tests running in parallel.

#[on(Panicking, name = "panicking.literal", priority = 3)]
fn panic_with_literal(_: &Panicking) {
    record(&PANICKING_LOG, "literal");
    panic!("inventory service down");
}

#[on(Panicking, name = "panicking.formatted", priority = 2)]
fn panic_with_formatted(_: &Panicking) {
    record(&PANICKING_LOG, "formatted");
    panic!("order {} not found", 7);
}

#[on(Panicking, name = "panicking.any", priority = 1)]
fn panic_with_integer(_: &Panicking) {
    record(&PANICKING_LOG, "any");
    std::panic::panic_any(42_u32);
}

#[on(Panicking, name = "panicking.survivor")]
fn survive_panics(_: &Panicking) {
    record(&PANICKING_LOG, "survivor");
}

#[test]
fn panicking_handlers_are_reported_and_others_run() {
    let report = bus().emit(Panicking);

    assert_eq!(
        take(&PANICKING_LOG),
        ["literal", "formatted", "any", "survivor"]
    );
    assert_eq!(report.handlers_run(), 4);
    assert!(!report.is_ok());

    let failures = report.failures();
    assert_eq!(failures.len(), 3);
    assert_eq!(failures[0].handler(), "panicking.literal");
    assert_eq!(
        failures[0].error(),
        &HandlerError::Panicked("inventory service down".into())
    );
    assert_eq!(
        failures[0].error().to_string(),
        "panicked: inventory service down"
    );
    assert_eq!(failures[1].handler(), "panicking.formatted");
    assert_eq!(
        failures[1].error(),
        &HandlerError::Panicked("order 7 not found".into())
    );
    assert_eq!(failures[2].handler(), "panicking.any");
    assert_eq!(
        failures[2].error(),
        &HandlerError::Panicked("a non-string panic payload".into())
    );

    let after_panics = bus().emit(Counted);
    assert_eq!(after_panics.handlers_run(), 2);
    assert!(after_panics.is_ok(), "{after_panics}");
}

// Async handlers at a synchronous call site.

#[derive(Event, Serialize, Deserialize)]
#[event(name = "bus.mixed")]
struct Mixed;

static MIXED_SYNC_RUNS: AtomicUsize = AtomicUsize::new(0);
static MIXED_ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[on(Mixed, name = "mixed.async", priority = 1)]
async fn mixed_async(_: &Mixed) {
    MIXED_ASYNC_RUNS.fetch_add(1, Ordering::SeqCst);
}

#[on(Mixed, name = "mixed.sync")]
fn mixed_sync(_: &Mixed) {
    MIXED_SYNC_RUNS.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn emit_reports_async_handler_as_needs_async() {
    let report = bus().emit(Mixed);

    assert_eq!(report.handlers_run(), 1);
    assert!(!report.is_ok());
    assert_eq!(report.failures().len(), 1);
    assert_eq!(report.failures()[0].handler(), "mixed.async");
    assert_eq!(report.failures()[0].error(), &HandlerError::NeedsAsync);
    assert_eq!(MIXED_SYNC_RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(MIXED_ASYNC_RUNS.load(Ordering::SeqCst), 0);
    assert!(
        report.to_string().starts_with(
            "`bus.mixed`: 1 handler(s) ran, 0 failed, 1 not run\n  - mixed.async: not run:"
        ),
        "{report}"
    );
}

// Events emitted from inside handlers: run order.

#[derive(Event, Serialize, Deserialize)]
#[event(name = "bus.nested.outer")]
struct NestedOuter;

#[derive(Event, Serialize, Deserialize)]
#[event(name = "bus.nested.middle")]
struct NestedMiddle;

#[derive(Event, Serialize, Deserialize)]
#[event(name = "bus.nested.inner")]
struct NestedInner;

static NESTED_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[on(NestedOuter, name = "outer.first", priority = 1)]
fn outer_first(_: &NestedOuter) {
    record(&NESTED_LOG, "outer.first start".to_owned());
    let report = bus().emit(NestedMiddle);
    record(
        &NESTED_LOG,
        format!("outer.first end, middle ran {}", report.handlers_run()),
    );
}

#[on(NestedOuter, name = "outer.second")]
fn outer_second(_: &NestedOuter) {
    record(&NESTED_LOG, "outer.second".to_owned());
}

#[on(NestedMiddle, name = "middle.first", priority = 1)]
fn middle_first(_: &NestedMiddle) {
    record(&NESTED_LOG, "middle.first start".to_owned());
    let report = bus().emit(NestedInner);
    record(
        &NESTED_LOG,
        format!("middle.first end, inner ran {}", report.handlers_run()),
    );
}

#[on(NestedMiddle, name = "middle.second")]
fn middle_second(_: &NestedMiddle) {
    record(&NESTED_LOG, "middle.second".to_owned());
}

#[on(NestedInner, name = "inner.only")]
fn inner_only(_: &NestedInner) {
    record(&NESTED_LOG, "inner.only".to_owned());
}

#[test]
fn nested_emit_runs_depth_first() {
    let report = bus().emit(NestedOuter);

    assert!(report.is_ok(), "{report}");
    assert_eq!(report.handlers_run(), 2);
    assert_eq!(
        take(&NESTED_LOG),
        [
            "outer.first start",
            "middle.first start",
            "inner.only",
            "middle.first end, inner ran 1",
            "middle.second",
            "outer.first end, middle ran 2",
            "outer.second",
        ]
    );
}

// Causal links of events emitted with `emit` from a root without envelope handlers.

#[derive(Event, Serialize, Deserialize)]
#[event(name = "bus.chain.root")]
struct ChainRoot;

#[derive(Event, Serialize, Deserialize, Clone, Debug)]
#[event(name = "bus.chain.middle")]
struct ChainMiddle;

#[derive(Event, Serialize, Deserialize, Clone, Debug)]
#[event(name = "bus.chain.leaf")]
struct ChainLeaf;

static CHAIN_MIDDLE_SEEN: Mutex<Vec<Envelope<ChainMiddle>>> = Mutex::new(Vec::new());
static CHAIN_LEAF_SEEN: Mutex<Vec<Envelope<ChainLeaf>>> = Mutex::new(Vec::new());

#[on(ChainRoot)]
fn chain_root(_: &ChainRoot) {
    bus().emit(ChainMiddle);
}

#[on(ChainMiddle)]
fn chain_middle(envelope: &Envelope<ChainMiddle>) {
    record(&CHAIN_MIDDLE_SEEN, envelope.clone());
    bus().emit(ChainLeaf);
}

#[on(ChainLeaf)]
fn chain_leaf(envelope: &Envelope<ChainLeaf>) {
    record(&CHAIN_LEAF_SEEN, envelope.clone());
}

#[test]
fn emit_chain_links_lazily_generated_root_id() {
    let report = bus().emit(ChainRoot);
    assert!(report.is_ok(), "{report}");

    let middles = take(&CHAIN_MIDDLE_SEEN);
    let leaves = take(&CHAIN_LEAF_SEEN);
    assert_eq!(middles.len(), 1);
    assert_eq!(leaves.len(), 1);
    let middle = &middles[0];
    let leaf = &leaves[0];

    // The root has no envelope, so the bus generated its id when the middle
    // event needed it as causation id. The root starts the chain, so the same
    // id is also the correlation id.
    let root_id = middle
        .causation_id()
        .expect("the middle event has a causation id");
    assert!(root_id.as_uuid().is_some(), "root id {root_id} is no UUID");
    assert_eq!(middle.correlation_id(), Some(root_id));
    assert_ne!(middle.id(), root_id);

    assert_eq!(leaf.causation_id(), Some(middle.id()));
    assert_eq!(leaf.correlation_id(), Some(root_id));
    assert_ne!(leaf.id(), middle.id());
}

// Causal links of a chain whose root is emitted with `emit_envelope`.

#[derive(Event, Serialize, Deserialize, Clone, Debug)]
#[event(name = "bus.envelope_chain.root")]
struct EnvelopeChainRoot {
    case: u32,
}

#[derive(Event, Serialize, Deserialize, Clone, Debug)]
#[event(name = "bus.envelope_chain.middle")]
struct EnvelopeChainMiddle {
    case: u32,
}

#[derive(Event, Serialize, Deserialize, Clone, Debug)]
#[event(name = "bus.envelope_chain.leaf")]
struct EnvelopeChainLeaf {
    case: u32,
}

static ENVELOPE_ROOT_SEEN: Mutex<Vec<Envelope<EnvelopeChainRoot>>> = Mutex::new(Vec::new());
static ENVELOPE_MIDDLE_SEEN: Mutex<Vec<Envelope<EnvelopeChainMiddle>>> = Mutex::new(Vec::new());
static ENVELOPE_LEAF_SEEN: Mutex<Vec<Envelope<EnvelopeChainLeaf>>> = Mutex::new(Vec::new());

#[on(EnvelopeChainRoot)]
fn envelope_chain_root(envelope: &Envelope<EnvelopeChainRoot>) {
    record(&ENVELOPE_ROOT_SEEN, envelope.clone());
    bus().emit(EnvelopeChainMiddle {
        case: envelope.case,
    });
}

#[on(EnvelopeChainMiddle)]
fn envelope_chain_middle(envelope: &Envelope<EnvelopeChainMiddle>) {
    record(&ENVELOPE_MIDDLE_SEEN, envelope.clone());
    bus().emit(EnvelopeChainLeaf {
        case: envelope.case,
    });
}

#[on(EnvelopeChainLeaf)]
fn envelope_chain_leaf(envelope: &Envelope<EnvelopeChainLeaf>) {
    record(&ENVELOPE_LEAF_SEEN, envelope.clone());
}

#[test]
fn emit_envelope_keeps_user_set_correlation_id() {
    let root = Envelope::new(EnvelopeChainRoot { case: 1 })
        .with_id("order-7-placed")
        .with_correlation_id("checkout-42")
        .with_subject("order-7");

    let report = bus().emit_envelope(root);
    assert!(report.is_ok(), "{report}");

    let roots = take_matching(&ENVELOPE_ROOT_SEEN, |envelope| envelope.case == 1);
    let middles = take_matching(&ENVELOPE_MIDDLE_SEEN, |envelope| envelope.case == 1);
    let leaves = take_matching(&ENVELOPE_LEAF_SEEN, |envelope| envelope.case == 1);
    assert_eq!(roots.len(), 1);
    assert_eq!(middles.len(), 1);
    assert_eq!(leaves.len(), 1);

    assert_eq!(roots[0].id(), &id("order-7-placed"));
    assert_eq!(roots[0].correlation_id(), Some(&id("checkout-42")));
    assert_eq!(roots[0].causation_id(), None);
    assert_eq!(roots[0].subject(), Some("order-7"));

    assert_eq!(middles[0].causation_id(), Some(&id("order-7-placed")));
    assert_eq!(middles[0].correlation_id(), Some(&id("checkout-42")));

    assert_eq!(leaves[0].causation_id(), Some(middles[0].id()));
    assert_eq!(leaves[0].correlation_id(), Some(&id("checkout-42")));
}

#[test]
fn emit_envelope_root_id_becomes_correlation_id() {
    let root = Envelope::new(EnvelopeChainRoot { case: 2 }).with_id("order-8-placed");

    let report = bus().emit_envelope(root);
    assert!(report.is_ok(), "{report}");

    let roots = take_matching(&ENVELOPE_ROOT_SEEN, |envelope| envelope.case == 2);
    let middles = take_matching(&ENVELOPE_MIDDLE_SEEN, |envelope| envelope.case == 2);
    let leaves = take_matching(&ENVELOPE_LEAF_SEEN, |envelope| envelope.case == 2);
    assert_eq!(roots.len(), 1);
    assert_eq!(middles.len(), 1);
    assert_eq!(leaves.len(), 1);

    assert_eq!(roots[0].id(), &id("order-8-placed"));
    assert_eq!(roots[0].correlation_id(), None);

    assert_eq!(middles[0].causation_id(), Some(&id("order-8-placed")));
    assert_eq!(middles[0].correlation_id(), Some(&id("order-8-placed")));

    assert_eq!(leaves[0].causation_id(), Some(middles[0].id()));
    assert_eq!(leaves[0].correlation_id(), Some(&id("order-8-placed")));
}

// Ids set on a follow-up envelope inside a handler.

#[derive(Event, Serialize, Deserialize)]
#[event(name = "bus.explicit.parent")]
struct ExplicitParent;

#[derive(Event, Serialize, Deserialize, Clone, Debug)]
#[event(name = "bus.explicit.child")]
struct ExplicitChild;

static EXPLICIT_CHILD_SEEN: Mutex<Vec<Envelope<ExplicitChild>>> = Mutex::new(Vec::new());

#[on(ExplicitParent)]
fn explicit_parent(_: &ExplicitParent) {
    bus().emit_envelope(Envelope::new(ExplicitChild).with_causation_id("manual-cause"));
}

#[on(ExplicitChild)]
fn explicit_child(envelope: &Envelope<ExplicitChild>) {
    record(&EXPLICIT_CHILD_SEEN, envelope.clone());
}

#[test]
fn nested_emit_envelope_keeps_set_causation_id() {
    let root = Envelope::new(ExplicitParent).with_id("parent-1");

    bus().emit_envelope(root);

    let children = take(&EXPLICIT_CHILD_SEEN);
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].causation_id(), Some(&id("manual-cause")));
    assert_eq!(children[0].correlation_id(), Some(&id("parent-1")));
}

// Several handlers of one root emitting follow-ups.

#[derive(Event, Serialize, Deserialize)]
#[event(name = "bus.fanout.root")]
struct FanoutRoot;

#[derive(Event, Serialize, Deserialize, Clone, Debug)]
#[event(name = "bus.fanout.child")]
struct FanoutChild {
    emitted_by: String,
}

static FANOUT_SEEN: Mutex<Vec<Envelope<FanoutChild>>> = Mutex::new(Vec::new());

#[on(FanoutRoot, name = "fanout.first", priority = 1)]
fn fanout_first(_: &FanoutRoot) {
    bus().emit(FanoutChild {
        emitted_by: "first".into(),
    });
}

#[on(FanoutRoot, name = "fanout.second")]
fn fanout_second(_: &FanoutRoot) {
    bus().emit(FanoutChild {
        emitted_by: "second".into(),
    });
}

#[on(FanoutChild)]
fn fanout_child(envelope: &Envelope<FanoutChild>) {
    record(&FANOUT_SEEN, envelope.clone());
}

#[test]
fn sibling_handlers_share_parent_id() {
    let report = bus().emit(FanoutRoot);
    assert!(report.is_ok(), "{report}");

    let children = take(&FANOUT_SEEN);
    assert_eq!(children.len(), 2);
    assert_eq!(children[0].emitted_by, "first");
    assert_eq!(children[1].emitted_by, "second");

    let parent_id = children[0]
        .causation_id()
        .expect("the first child has a causation id");
    assert_eq!(children[1].causation_id(), Some(parent_id));
    assert_eq!(children[0].correlation_id(), Some(parent_id));
    assert_eq!(children[1].correlation_id(), Some(parent_id));
    assert_ne!(children[0].id(), children[1].id());
}

// The depth limit.

/// Returns a bus whose limit lets a chain of four events run and rejects the fifth.
fn depth_bus() -> &'static Bus {
    static BUS: OnceLock<Bus> = OnceLock::new();
    BUS.get_or_init(|| Bus::builder().max_depth(3).build().unwrap())
}

#[derive(Event, Serialize, Deserialize)]
#[event(name = "bus.ping")]
struct Ping;

#[derive(Event, Serialize, Deserialize)]
#[event(name = "bus.pong")]
struct Pong;

static PING_RUNS: AtomicUsize = AtomicUsize::new(0);
static PONG_RUNS: AtomicUsize = AtomicUsize::new(0);
static REJECTED_REPORTS: Mutex<Vec<Report>> = Mutex::new(Vec::new());

/// Keeps the report of an emit from a handler when the bus rejected it.
fn keep_if_rejected(report: Report) {
    if report.rejected().is_some() {
        record(&REJECTED_REPORTS, report);
    }
}

#[on(Ping)]
fn answer_ping(_: &Ping) {
    PING_RUNS.fetch_add(1, Ordering::SeqCst);
    keep_if_rejected(depth_bus().emit(Pong));
}

#[on(Pong)]
fn answer_pong(_: &Pong) {
    PONG_RUNS.fetch_add(1, Ordering::SeqCst);
    keep_if_rejected(depth_bus().emit(Ping));
}

#[derive(Event, Serialize, Deserialize)]
#[event(name = "bus.after_loop")]
struct AfterLoop;

static AFTER_LOOP_RUNS: AtomicUsize = AtomicUsize::new(0);

#[on(AfterLoop)]
fn after_loop(_: &AfterLoop) {
    AFTER_LOOP_RUNS.fetch_add(1, Ordering::SeqCst);
}

/// Returns the event names along the first follow-up of each report, from
/// the root's first follow-up down to the deepest one.
fn follow_up_path(report: &Report) -> Vec<&'static str> {
    let mut names = Vec::new();
    let mut current = report;
    while let Some(next) = current.follow_ups().first() {
        names.push(next.event());
        current = next;
    }
    names
}

#[test]
fn endless_chain_stops_at_max_depth() {
    for round in 1..=2 {
        let report = depth_bus().emit(Ping);

        assert!(!report.is_ok(), "round {round}: {report}");
        assert!(report.failures().is_empty(), "round {round}");
        assert_eq!(report.handlers_run(), 1, "round {round}");
        let nested_events = follow_up_path(&report);
        assert_eq!(
            nested_events,
            ["bus.pong", "bus.ping", "bus.pong", "bus.ping"],
            "round {round}"
        );
        assert_eq!(PING_RUNS.swap(0, Ordering::SeqCst), 2, "round {round}");
        assert_eq!(PONG_RUNS.swap(0, Ordering::SeqCst), 2, "round {round}");

        let rejected = take(&REJECTED_REPORTS);
        assert_eq!(rejected.len(), 1, "round {round}");
        let rejected = &rejected[0];
        assert_eq!(rejected.event(), "bus.ping");
        assert_eq!(rejected.handlers_run(), 0);
        assert!(!rejected.is_ok());
        assert_eq!(
            rejected.rejected(),
            Some(&Rejection::DepthExceeded {
                chain: vec!["bus.ping", "bus.pong", "bus.ping", "bus.pong", "bus.ping"],
                max_depth: 3,
            })
        );
        assert!(
            rejected.to_string().starts_with(
                "`bus.ping` rejected: event chain bus.ping -> bus.pong -> bus.ping -> bus.pong -> bus.ping is deeper than the limit of 3"
            ),
            "{rejected}"
        );
    }

    let report = depth_bus().emit(AfterLoop);
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.handlers_run(), 1);
    assert_eq!(AFTER_LOOP_RUNS.load(Ordering::SeqCst), 1);
}

// Dispatch of decoded envelopes.

#[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[event(name = "bus.dispatched", version = 2)]
struct Dispatched {
    vendor_id: u32,
}

static DISPATCHED_PAYLOADS: Mutex<Vec<Dispatched>> = Mutex::new(Vec::new());
static DISPATCHED_ENVELOPES: Mutex<Vec<Envelope<Dispatched>>> = Mutex::new(Vec::new());

#[on(Dispatched, name = "dispatched.payload")]
fn dispatched_payload(event: &Dispatched) {
    record(&DISPATCHED_PAYLOADS, event.clone());
}

#[on(Dispatched, name = "dispatched.envelope")]
fn dispatched_envelope(envelope: &Envelope<Dispatched>) {
    record(&DISPATCHED_ENVELOPES, envelope.clone());
}

#[test]
fn dispatch_reaches_typed_handlers() {
    let bytes = br#"{
        "specversion": "1.0",
        "id": "erp-sync-1",
        "source": "https://erp.example/sync",
        "type": "bus.dispatched",
        "dataversion": 2,
        "subject": "vendor-12",
        "time": "2026-01-02T03:04:05.123Z",
        "correlationid": "nightly-sync",
        "data": {"vendor_id": 12}
    }"#;
    let decoded = events::decode(bytes).unwrap();

    let report = bus().dispatch(&decoded);

    assert!(report.is_ok(), "{report}");
    assert_eq!(report.event(), "bus.dispatched");
    assert_eq!(report.handlers_run(), 2);
    assert_eq!(take(&DISPATCHED_PAYLOADS), [Dispatched { vendor_id: 12 }]);

    let envelopes = take(&DISPATCHED_ENVELOPES);
    assert_eq!(envelopes.len(), 1);
    let envelope = &envelopes[0];
    assert_eq!(envelope.payload(), &Dispatched { vendor_id: 12 });
    assert_eq!(envelope.id(), &id("erp-sync-1"));
    assert_eq!(envelope.source(), "https://erp.example/sync");
    assert_eq!(envelope.subject(), Some("vendor-12"));
    // 2026-01-02T03:04:05.123Z in milliseconds since the Unix epoch.
    assert_eq!(envelope.time().timestamp_millis(), 1_767_323_045_123);
    assert_eq!(envelope.time(), decoded.metadata().time());
    assert_eq!(envelope.name(), "bus.dispatched");
    assert_eq!(envelope.version(), 2);
    assert_eq!(envelope.correlation_id(), Some(&id("nightly-sync")));
    assert_eq!(envelope.causation_id(), None);
}

// Use from several threads.

#[test]
fn bus_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Bus>();
    assert_send_sync::<Report>();
}

#[derive(Event, Serialize, Deserialize)]
#[event(name = "bus.threaded.root")]
struct ThreadedRoot {
    amount: u64,
}

#[derive(Event, Serialize, Deserialize)]
#[event(name = "bus.threaded.child")]
struct ThreadedChild;

static THREADED_TOTAL: AtomicU64 = AtomicU64::new(0);
static THREADED_ROOT_IDS: Mutex<Vec<EventId>> = Mutex::new(Vec::new());
static THREADED_CAUSATION_IDS: Mutex<Vec<EventId>> = Mutex::new(Vec::new());

#[on(ThreadedRoot, name = "threaded.add")]
fn threaded_add(event: &ThreadedRoot) {
    THREADED_TOTAL.fetch_add(event.amount, Ordering::SeqCst);
}

#[on(ThreadedRoot, name = "threaded.follow_up")]
fn threaded_follow_up(envelope: &Envelope<ThreadedRoot>) {
    record(&THREADED_ROOT_IDS, envelope.id().clone());
    bus().emit(ThreadedChild);
}

#[on(ThreadedChild)]
fn threaded_child(envelope: &Envelope<ThreadedChild>) {
    let causation = envelope
        .causation_id()
        .expect("a follow-up has a causation id");
    record(&THREADED_CAUSATION_IDS, causation.clone());
}

#[test]
fn bus_emits_from_several_threads() {
    const THREADS: u64 = 4;
    const EMITS_PER_THREAD: u64 = 250;
    let bus = Bus::new();

    let handlers_run: Vec<usize> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|thread| {
                let bus = &bus;
                scope.spawn(move || {
                    let mut handlers_run = 0;
                    for emit in 0..EMITS_PER_THREAD {
                        let amount = thread * EMITS_PER_THREAD + emit + 1;
                        let report = bus.emit(ThreadedRoot { amount });
                        assert!(report.is_ok(), "{report}");
                        handlers_run += report.handlers_run();
                    }
                    handlers_run
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap())
            .collect()
    });

    let emits = THREADS * EMITS_PER_THREAD;
    assert_eq!(
        handlers_run,
        [2 * EMITS_PER_THREAD as usize; THREADS as usize]
    );
    // Amounts are 1..=emits, each emitted once.
    assert_eq!(
        THREADED_TOTAL.load(Ordering::SeqCst),
        emits * (emits + 1) / 2
    );

    // Each follow-up links to the root handled on its own thread, so every
    // root id is the causation id of exactly one child.
    let root_ids = take(&THREADED_ROOT_IDS);
    let causation_ids = take(&THREADED_CAUSATION_IDS);
    assert_eq!(root_ids.len(), emits as usize);
    assert_eq!(causation_ids.len(), emits as usize);
    let root_set: HashSet<EventId> = root_ids.into_iter().collect();
    let causation_set: HashSet<EventId> = causation_ids.into_iter().collect();
    assert_eq!(root_set.len(), emits as usize);
    assert_eq!(causation_set, root_set);
}

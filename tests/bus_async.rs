//! `Bus` at `async` call sites: `emit_async`, `emit_envelope_async` and
//! `dispatch_async` with synchronous and `async` handlers, failures, events
//! emitted from `async` handlers and their causal links, on single- and
//! multi-threaded Tokio runtimes.
//!
//! Tests run in parallel, so each test emits its own event types or picks its
//! own records by a payload field.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use events::{on, Bus, Envelope, Event, EventId, HandlerError, Report};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

mod common;

use common::{bus, id, record, take, take_matching};

// Run order of synchronous and async handlers.

#[derive(Event, Serialize, Deserialize)]
#[event(name = "async.ordered")]
struct Ordered;

static ORDERED_LOG: Mutex<Vec<&str>> = Mutex::new(Vec::new());

#[on(Ordered, name = "ordered.sync_first", priority = 3)]
fn ordered_sync_first(_: &Ordered) {
    record(&ORDERED_LOG, "sync first");
}

#[on(Ordered, name = "ordered.async", priority = 2)]
async fn ordered_async(_: &Ordered) {
    record(&ORDERED_LOG, "async start");
    tokio::task::yield_now().await;
    record(&ORDERED_LOG, "async end");
}

#[on(Ordered, name = "ordered.sync_second", priority = 1)]
fn ordered_sync_second(_: &Ordered) {
    record(&ORDERED_LOG, "sync second");
}

#[on(Ordered, name = "ordered.async_envelope")]
async fn ordered_async_envelope(envelope: &Envelope<Ordered>) {
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(envelope.name(), "async.ordered");
    record(&ORDERED_LOG, "async envelope");
}

#[tokio::test]
async fn emit_async_runs_all_handlers_in_order() {
    let report = bus().emit_async(Ordered).await;

    assert!(report.is_ok(), "{report}");
    assert_eq!(report.handlers_run(), 4);
    assert_eq!(
        take(&ORDERED_LOG),
        [
            "sync first",
            "async start",
            "async end",
            "sync second",
            "async envelope"
        ]
    );
}

#[derive(Event, Serialize, Deserialize)]
#[event(name = "async.unhandled")]
struct Unhandled;

#[tokio::test]
async fn emit_async_without_handlers_reports_ok() {
    let report = bus().emit_async(Unhandled).await;

    assert_eq!(report.event(), "async.unhandled");
    assert_eq!(report.handlers_run(), 0);
    assert!(report.is_ok());
}

// Failures of async handlers.

#[derive(Event, Serialize, Deserialize)]
#[event(name = "async.failing")]
struct Failing;

static FAILING_LOG: Mutex<Vec<&str>> = Mutex::new(Vec::new());

#[on(Failing, name = "failing.async_error", priority = 3)]
async fn fail_async(_: &Failing) -> Result<(), String> {
    record(&FAILING_LOG, "async error");
    tokio::task::yield_now().await;
    Err("payment gateway timed out".to_owned())
}

// The panic below prints its message to stderr through the default panic
// hook. Replacing the hook would also hide panics of tests running in parallel.
#[on(Failing, name = "failing.async_panic", priority = 2)]
async fn panic_after_await(_: &Failing) {
    record(&FAILING_LOG, "async panic");
    tokio::task::yield_now().await;
    panic!("connection lost after {} retries", 3);
}

#[on(Failing, name = "failing.sync_error", priority = 1)]
fn fail_sync(_: &Failing) -> anyhow::Result<()> {
    record(&FAILING_LOG, "sync error");
    Err(anyhow::anyhow!("ledger is read-only"))
}

#[on(Failing, name = "failing.survivor")]
async fn survive_failures(_: &Failing) {
    tokio::task::yield_now().await;
    record(&FAILING_LOG, "survivor");
}

#[tokio::test]
async fn async_failures_are_reported_and_others_run() {
    let report = bus().emit_async(Failing).await;

    assert_eq!(
        take(&FAILING_LOG),
        ["async error", "async panic", "sync error", "survivor"]
    );
    assert_eq!(report.handlers_run(), 4);
    assert!(!report.is_ok());

    let failures = report.failures();
    assert_eq!(failures.len(), 3);
    assert_eq!(failures[0].handler(), "failing.async_error");
    assert_eq!(
        failures[0].error(),
        &HandlerError::Failed("payment gateway timed out".into())
    );
    assert_eq!(failures[1].handler(), "failing.async_panic");
    assert_eq!(
        failures[1].error(),
        &HandlerError::Panicked("connection lost after 3 retries".into())
    );
    assert_eq!(failures[2].handler(), "failing.sync_error");
    assert_eq!(
        failures[2].error(),
        &HandlerError::Failed("ledger is read-only".into())
    );
}

// Events emitted from inside async handlers.

#[derive(Event, Serialize, Deserialize, Clone, Debug)]
#[event(name = "async.chain.root")]
struct ChainRoot {
    case: u32,
}

#[derive(Event, Serialize, Deserialize, Clone, Debug)]
#[event(name = "async.chain.child")]
struct ChainChild {
    case: u32,
}

#[derive(Event, Serialize, Deserialize, Clone, Debug)]
#[event(name = "async.chain.grandchild")]
struct ChainGrandchild {
    case: u32,
}

static CHAIN_ROOTS: Mutex<Vec<Envelope<ChainRoot>>> = Mutex::new(Vec::new());
static CHAIN_CHILDREN: Mutex<Vec<Envelope<ChainChild>>> = Mutex::new(Vec::new());
static CHAIN_GRANDCHILDREN: Mutex<Vec<Envelope<ChainGrandchild>>> = Mutex::new(Vec::new());
static CHAIN_LOG: Mutex<Vec<(u32, &str)>> = Mutex::new(Vec::new());

#[on(ChainRoot)]
async fn chain_root(envelope: &Envelope<ChainRoot>) {
    let case = envelope.case;
    record(&CHAIN_ROOTS, envelope.clone());
    record(&CHAIN_LOG, (case, "root start"));
    tokio::task::yield_now().await;

    let report = bus().emit_async(ChainChild { case }).await;
    assert!(report.is_ok(), "{report}");
    record(&CHAIN_LOG, (case, "root end"));
}

#[on(ChainChild)]
async fn chain_child(envelope: &Envelope<ChainChild>) {
    let case = envelope.case;
    record(&CHAIN_CHILDREN, envelope.clone());
    tokio::time::sleep(Duration::from_millis(1)).await;

    // A synchronous emit inside an async handler links to the handler's event too.
    let report = bus().emit(ChainGrandchild { case });
    assert!(report.is_ok(), "{report}");
    record(&CHAIN_LOG, (case, "child end"));
}

#[on(ChainGrandchild)]
fn chain_grandchild(envelope: &Envelope<ChainGrandchild>) {
    record(&CHAIN_GRANDCHILDREN, envelope.clone());
    record(&CHAIN_LOG, (envelope.case, "grandchild"));
}

/// The envelopes one root of the chain led to.
struct Chain {
    root: Envelope<ChainRoot>,
    child: Envelope<ChainChild>,
    grandchild: Envelope<ChainGrandchild>,
    log: Vec<&'static str>,
}

fn take_chain(case: u32) -> Chain {
    let mut roots = take_matching(&CHAIN_ROOTS, |envelope| envelope.case == case);
    let mut children = take_matching(&CHAIN_CHILDREN, |envelope| envelope.case == case);
    let mut grandchildren = take_matching(&CHAIN_GRANDCHILDREN, |envelope| envelope.case == case);
    assert_eq!(roots.len(), 1, "roots of case {case}");
    assert_eq!(children.len(), 1, "children of case {case}");
    assert_eq!(grandchildren.len(), 1, "grandchildren of case {case}");
    let log = take_matching(&CHAIN_LOG, |(entry_case, _)| *entry_case == case)
        .into_iter()
        .map(|(_, entry)| entry)
        .collect();
    Chain {
        root: roots.remove(0),
        child: children.remove(0),
        grandchild: grandchildren.remove(0),
        log,
    }
}

#[tokio::test]
async fn nested_emit_async_links_causation_and_correlation() {
    let report = bus().emit_async(ChainRoot { case: 1 }).await;
    assert!(report.is_ok(), "{report}");

    let chain = take_chain(1);
    let root_id = chain.root.id();
    assert_eq!(chain.root.correlation_id(), None);
    assert_eq!(chain.root.causation_id(), None);

    assert_eq!(chain.child.causation_id(), Some(root_id));
    assert_eq!(chain.child.correlation_id(), Some(root_id));

    assert_eq!(chain.grandchild.causation_id(), Some(chain.child.id()));
    assert_eq!(chain.grandchild.correlation_id(), Some(root_id));

    assert_eq!(
        chain.log,
        ["root start", "grandchild", "child end", "root end"]
    );
}

#[tokio::test]
async fn emit_envelope_async_keeps_user_set_ids() {
    let root = Envelope::new(ChainRoot { case: 2 })
        .with_id("import-job-2")
        .with_correlation_id("nightly-batch-9")
        .with_subject("vendor-12")
        .with_source("https://erp.example/import");

    let report = bus().emit_envelope_async(root).await;
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.handlers_run(), 1);

    let chain = take_chain(2);
    assert_eq!(chain.root.id(), &id("import-job-2"));
    assert_eq!(chain.root.correlation_id(), Some(&id("nightly-batch-9")));
    assert_eq!(chain.root.subject(), Some("vendor-12"));
    assert_eq!(chain.root.source(), "https://erp.example/import");

    assert_eq!(chain.child.causation_id(), Some(&id("import-job-2")));
    assert_eq!(chain.child.correlation_id(), Some(&id("nightly-batch-9")));

    assert_eq!(chain.grandchild.causation_id(), Some(chain.child.id()));
    assert_eq!(
        chain.grandchild.correlation_id(),
        Some(&id("nightly-batch-9"))
    );
}

// A follow-up future created inside a handler and spawned.

#[derive(Event, Serialize, Deserialize, Clone, Debug)]
#[event(name = "async.spawn.root")]
struct SpawnRoot;

#[derive(Event, Serialize, Deserialize, Clone, Debug)]
#[event(name = "async.spawn.child")]
struct SpawnChild;

static SPAWN_ROOTS: Mutex<Vec<EventId>> = Mutex::new(Vec::new());
static SPAWN_CHILDREN: Mutex<Vec<Envelope<SpawnChild>>> = Mutex::new(Vec::new());
static SPAWN_HANDLES: Mutex<Vec<JoinHandle<Report>>> = Mutex::new(Vec::new());

#[on(SpawnRoot)]
async fn spawn_follow_up(envelope: &Envelope<SpawnRoot>) {
    record(&SPAWN_ROOTS, envelope.id().clone());
    // The task runs after this handler returned, outside its frame.
    let handle = tokio::spawn(bus().emit_async(SpawnChild));
    record(&SPAWN_HANDLES, handle);
}

#[on(SpawnChild)]
async fn spawned_child(envelope: &Envelope<SpawnChild>) {
    tokio::task::yield_now().await;
    record(&SPAWN_CHILDREN, envelope.clone());
}

#[tokio::test]
async fn spawned_follow_up_links_to_handler_event() {
    let report = bus().emit_async(SpawnRoot).await;
    assert!(report.is_ok(), "{report}");

    let handles = take(&SPAWN_HANDLES);
    assert_eq!(handles.len(), 1);
    for handle in handles {
        let child_report = handle.await.unwrap();
        assert!(child_report.is_ok(), "{child_report}");
        assert_eq!(child_report.handlers_run(), 1);
    }

    let roots = take(&SPAWN_ROOTS);
    let children = take(&SPAWN_CHILDREN);
    assert_eq!(roots.len(), 1);
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].causation_id(), Some(&roots[0]));
    assert_eq!(children[0].correlation_id(), Some(&roots[0]));
}

// Handlers that yield on a multi-threaded runtime.

#[derive(Event, Serialize, Deserialize, Clone, Debug)]
#[event(name = "async.threaded.root")]
struct ThreadedRoot {
    task: u32,
}

#[derive(Event, Serialize, Deserialize, Clone, Debug)]
#[event(name = "async.threaded.async_child")]
struct ThreadedAsyncChild {
    task: u32,
}

#[derive(Event, Serialize, Deserialize, Clone, Debug)]
#[event(name = "async.threaded.sync_child")]
struct ThreadedSyncChild {
    task: u32,
}

/// Links observed on the multi-threaded runtime: (task, event id, causation id, correlation id).
type Links = Mutex<Vec<(u32, EventId, Option<EventId>, Option<EventId>)>>;

static THREADED_ROOTS: Links = Mutex::new(Vec::new());
static THREADED_ASYNC_CHILDREN: Links = Mutex::new(Vec::new());
static THREADED_SYNC_CHILDREN: Links = Mutex::new(Vec::new());

fn record_links<E>(log: &Links, task: u32, envelope: &Envelope<E>) {
    record(
        log,
        (
            task,
            envelope.id().clone(),
            envelope.causation_id().cloned(),
            envelope.correlation_id().cloned(),
        ),
    );
}

#[on(ThreadedRoot)]
async fn threaded_root(envelope: &Envelope<ThreadedRoot>) {
    let task = envelope.task;
    record_links(&THREADED_ROOTS, task, envelope);

    // Several polls, between which the task may move to another worker
    // thread and other tasks' handlers run on this one.
    for _ in 0..3 {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let report = bus().emit_async(ThreadedAsyncChild { task }).await;
    assert!(report.is_ok(), "{report}");

    tokio::time::sleep(Duration::from_millis(1)).await;
    let report = bus().emit(ThreadedSyncChild { task });
    assert!(report.is_ok(), "{report}");
}

#[on(ThreadedAsyncChild)]
async fn threaded_async_child(envelope: &Envelope<ThreadedAsyncChild>) {
    tokio::task::yield_now().await;
    record_links(&THREADED_ASYNC_CHILDREN, envelope.task, envelope);
}

#[on(ThreadedSyncChild)]
fn threaded_sync_child(envelope: &Envelope<ThreadedSyncChild>) {
    record_links(&THREADED_SYNC_CHILDREN, envelope.task, envelope);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_thread_runtime_keeps_links() {
    const TASKS: u32 = 16;

    let tasks: Vec<JoinHandle<Report>> = (0..TASKS)
        .map(|task| tokio::spawn(bus().emit_async(ThreadedRoot { task })))
        .collect();
    for task in tasks {
        let report = task.await.unwrap();
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.handlers_run(), 1);
    }

    let root_ids: HashMap<u32, EventId> = take(&THREADED_ROOTS)
        .into_iter()
        .map(|(task, id, _, _)| (task, id))
        .collect();
    assert_eq!(root_ids.len(), TASKS as usize);

    for (kind, log) in [
        ("async child", &THREADED_ASYNC_CHILDREN),
        ("sync child", &THREADED_SYNC_CHILDREN),
    ] {
        let children = take(log);
        assert_eq!(children.len(), TASKS as usize, "{kind} count");
        for (task, _, causation, correlation) in children {
            let root_id = &root_ids[&task];
            assert_eq!(causation.as_ref(), Some(root_id), "{kind} of task {task}");
            assert_eq!(correlation.as_ref(), Some(root_id), "{kind} of task {task}");
        }
    }
}

// Dispatch of decoded envelopes.

#[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[event(name = "async.dispatched", version = 2)]
struct Dispatched {
    tokens: u32,
}

static DISPATCHED_PAYLOADS: Mutex<Vec<Dispatched>> = Mutex::new(Vec::new());
static DISPATCHED_ENVELOPES: Mutex<Vec<Envelope<Dispatched>>> = Mutex::new(Vec::new());

#[on(Dispatched, name = "dispatched.async_envelope", priority = 1)]
async fn dispatched_async_envelope(envelope: &Envelope<Dispatched>) {
    tokio::task::yield_now().await;
    record(&DISPATCHED_ENVELOPES, envelope.clone());
}

#[on(Dispatched, name = "dispatched.sync_payload")]
fn dispatched_sync_payload(event: &Dispatched) {
    record(&DISPATCHED_PAYLOADS, event.clone());
}

#[tokio::test]
async fn dispatch_async_runs_decoded_envelope() {
    let bytes = br#"{
        "specversion": "1.0",
        "id": "completion-81",
        "source": "https://ai.example/completions",
        "type": "async.dispatched",
        "dataversion": 2,
        "subject": "request-81",
        "time": "2026-01-02T03:04:05.123Z",
        "data": {"tokens": 812}
    }"#;
    let decoded = events::decode(bytes).unwrap();

    let report = bus().dispatch_async(&decoded).await;

    assert!(report.is_ok(), "{report}");
    assert_eq!(report.event(), "async.dispatched");
    assert_eq!(report.handlers_run(), 2);
    assert_eq!(take(&DISPATCHED_PAYLOADS), [Dispatched { tokens: 812 }]);

    let envelopes = take(&DISPATCHED_ENVELOPES);
    assert_eq!(envelopes.len(), 1);
    let envelope = &envelopes[0];
    assert_eq!(envelope.payload(), &Dispatched { tokens: 812 });
    assert_eq!(envelope.id(), &id("completion-81"));
    assert_eq!(envelope.source(), "https://ai.example/completions");
    assert_eq!(envelope.subject(), Some("request-81"));
    // 2026-01-02T03:04:05.123Z in milliseconds since the Unix epoch.
    assert_eq!(envelope.time().timestamp_millis(), 1_767_323_045_123);
    assert_eq!(envelope.version(), 2);
}

// The depth limit across awaits.

/// Returns a bus whose limit lets a chain of three events run and rejects the fourth.
fn depth_bus() -> &'static Bus {
    static BUS: OnceLock<Bus> = OnceLock::new();
    BUS.get_or_init(|| Bus::builder().max_depth(2).build().unwrap())
}

#[derive(Event, Serialize, Deserialize)]
#[event(name = "async.ping")]
struct Ping;

#[derive(Event, Serialize, Deserialize)]
#[event(name = "async.pong")]
struct Pong;

static PING_PONG_RUNS: Mutex<Vec<&str>> = Mutex::new(Vec::new());
static REJECTED_REPORTS: Mutex<Vec<Report>> = Mutex::new(Vec::new());

/// Keeps the report of an emit from a handler when the bus rejected it.
fn keep_if_rejected(report: Report) {
    if report.rejected().is_some() {
        record(&REJECTED_REPORTS, report);
    }
}

#[on(Ping)]
async fn answer_ping(_: &Ping) {
    record(&PING_PONG_RUNS, "ping");
    tokio::task::yield_now().await;
    keep_if_rejected(depth_bus().emit_async(Pong).await);
}

#[on(Pong)]
async fn answer_pong(_: &Pong) {
    record(&PING_PONG_RUNS, "pong");
    tokio::time::sleep(Duration::from_millis(1)).await;
    keep_if_rejected(depth_bus().emit_async(Ping).await);
}

#[tokio::test]
async fn endless_async_chain_stops_at_max_depth() {
    let report = depth_bus().emit_async(Ping).await;

    assert!(!report.is_ok(), "{report}");
    assert!(report.failures().is_empty());
    let pong = &report.follow_ups()[0];
    assert_eq!(pong.event(), "async.pong");
    let ping = &pong.follow_ups()[0];
    assert_eq!(ping.event(), "async.ping");
    let rejected_pong = &ping.follow_ups()[0];
    assert!(rejected_pong.rejected().is_some());
    assert_eq!(take(&PING_PONG_RUNS), ["ping", "pong", "ping"]);
    let rejected = take(&REJECTED_REPORTS);
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].event(), "async.pong");
    assert_eq!(rejected[0].handlers_run(), 0);
    assert_eq!(
        rejected[0].rejected(),
        Some(&events::Rejection::DepthExceeded {
            chain: vec!["async.ping", "async.pong", "async.ping", "async.pong"],
            max_depth: 2,
        })
    );
}

// Cancelled emits.

#[derive(Event, Serialize, Deserialize)]
#[event(name = "async.slow")]
struct Slow;

#[derive(Event, Serialize, Deserialize, Clone, Debug)]
#[event(name = "async.after_cancel")]
struct AfterCancel;

static AFTER_CANCEL_SEEN: Mutex<Vec<Envelope<AfterCancel>>> = Mutex::new(Vec::new());

#[on(Slow)]
async fn wait_for_an_hour(_: &Slow) {
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

#[on(AfterCancel)]
fn after_cancel(envelope: &Envelope<AfterCancel>) {
    record(&AFTER_CANCEL_SEEN, envelope.clone());
}

#[tokio::test]
async fn cancelled_emit_async_leaves_no_parent() {
    let outcome = tokio::time::timeout(Duration::from_millis(10), bus().emit_async(Slow)).await;
    assert!(outcome.is_err(), "the slow handler finished");

    let report = bus().emit(AfterCancel);

    assert!(report.is_ok(), "{report}");
    let seen = take(&AFTER_CANCEL_SEEN);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].causation_id(), None);
    assert_eq!(seen[0].correlation_id(), None);
}

//! Costs of emitting, decoding and looking up events.
//!
//! Run with `cargo bench --bench emit`. BENCHMARKS.md records the results
//! and the machine they were measured on.
//!
//! - `emit`: one event to one synchronous handler, called directly, through
//!   the bus (handler taking `&E` or `&Envelope<E>`), through a hand-written
//!   `TypeId` map of boxed closures, and through a `tokio::sync::broadcast`
//!   channel. Every variant builds the event the same way and its handler
//!   does the same work: it adds the amount to an atomic counter. One more
//!   variant emits to a handler that also takes `State<T>` and `Context`.
//! - `async`: one event to one `async` handler that yields once, awaited
//!   directly, through `Bus::emit_async`, and spawned with `tokio::spawn`,
//!   on a current-thread tokio runtime.
//! - `decode`: typed `serde_json` deserialisation of a CloudEvents event
//!   against `events::decode` plus `Bus::dispatch` of the same bytes.
//! - `upcast`: `events::decode` plus `Bus::dispatch` of an order stored in
//!   its latest version, version 3, against the same order stored as
//!   version 1, which decoding upgrades through a JSON upcaster to version 2
//!   and a `From` conversion to version 3.
//! - `registry`: `Registry::find` and `Registry::latest` on registries of 10
//!   and 10,000 events.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use events::registry::Registry;
use events::{on, upcaster, Bus, Context, Envelope, Event, EventInfo, EventKind, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A payment was captured. Its only bus handler takes the bare payload.
#[derive(Event, Serialize, Deserialize, Clone, Debug)]
#[event(name = "bench.PaymentCaptured")]
struct PaymentCaptured {
    order_id: u64,
    amount_cents: u64,
}

/// A payment was settled. Its only bus handler takes the envelope.
#[derive(Event, Serialize, Deserialize)]
#[event(name = "bench.PaymentSettled")]
struct PaymentSettled {
    order_id: u64,
    amount_cents: u64,
}

/// The sum of the amounts all handlers have seen. Adding to it is the work
/// every variant does.
static TOTAL_CENTS: AtomicU64 = AtomicU64::new(0);

fn record_amount(amount_cents: u64) {
    TOTAL_CENTS.fetch_add(amount_cents, Ordering::Relaxed);
}

#[on(PaymentCaptured)]
fn add_captured(payment: &PaymentCaptured) {
    record_amount(payment.amount_cents);
}

#[on(PaymentSettled)]
fn add_settled(payment: &Envelope<PaymentSettled>) {
    record_amount(payment.amount_cents);
}

fn captured() -> PaymentCaptured {
    PaymentCaptured {
        order_id: black_box(48_213),
        amount_cents: black_box(12_970),
    }
}

fn settled() -> PaymentSettled {
    PaymentSettled {
        order_id: black_box(48_213),
        amount_cents: black_box(12_970),
    }
}

type BoxedHandler = Box<dyn Fn(&dyn Any)>;

/// The baseline a framework has to beat: a map from `TypeId` to boxed
/// closures, each downcasting the event back to its type.
#[derive(Default)]
struct HandWrittenBus {
    routes: HashMap<TypeId, Vec<BoxedHandler>>,
}

impl HandWrittenBus {
    fn subscribe<E: 'static>(&mut self, handler: fn(&E)) {
        let boxed: BoxedHandler = Box::new(move |event: &dyn Any| {
            if let Some(event) = event.downcast_ref::<E>() {
                handler(event);
            }
        });
        self.routes
            .entry(TypeId::of::<E>())
            .or_default()
            .push(boxed);
    }

    fn emit<E: 'static>(&self, event: E) {
        if let Some(handlers) = self.routes.get(&TypeId::of::<E>()) {
            for handler in handlers {
                handler(&event);
            }
        }
    }
}

/// A refund was issued. Its only bus handler takes state and a context,
/// which the bus resolves on every call.
#[derive(Event, Serialize, Deserialize)]
#[event(name = "bench.RefundIssued")]
struct RefundIssued {
    order_id: u64,
    amount_cents: u64,
}

/// The state the refund handler takes.
struct Ledger {
    refunded_cents: AtomicU64,
}

#[on(RefundIssued)]
fn add_refund(refund: &RefundIssued, ledger: State<Ledger>, cx: Context) {
    ledger
        .refunded_cents
        .fetch_add(refund.amount_cents, Ordering::Relaxed);
    black_box(cx.attempt());
}

fn refund() -> RefundIssued {
    RefundIssued {
        order_id: black_box(48_213),
        amount_cents: black_box(12_970),
    }
}

/// A payment was authorised. Its only bus handler is `async`.
#[derive(Event, Serialize, Deserialize)]
#[event(name = "bench.PaymentAuthorized")]
struct PaymentAuthorized {
    order_id: u64,
    amount_cents: u64,
}

#[on(PaymentAuthorized)]
async fn add_authorized(payment: &PaymentAuthorized) {
    record_amount(payment.amount_cents);
    tokio::task::yield_now().await;
}

fn authorized() -> PaymentAuthorized {
    PaymentAuthorized {
        order_id: black_box(48_213),
        amount_cents: black_box(12_970),
    }
}

fn bench_bus() -> Bus {
    Bus::builder()
        .state(Ledger {
            refunded_cents: AtomicU64::new(0),
        })
        .build()
        .expect("the benchmark's handlers are valid")
}

fn bench_emit(c: &mut Criterion) {
    let bus = bench_bus();
    assert_eq!(bus.handlers_of::<PaymentCaptured>().len(), 1);
    assert_eq!(bus.handlers_of::<PaymentSettled>().len(), 1);
    assert!(bus.emit(captured()).is_ok());
    assert!(bus.emit(settled()).is_ok());

    let mut hand_written = HandWrittenBus::default();
    hand_written.subscribe(add_captured);

    let (sender, mut receiver) = tokio::sync::broadcast::channel::<PaymentCaptured>(16);

    let mut group = c.benchmark_group("emit");
    group.bench_function("direct_call", |b| {
        b.iter(|| {
            let event = captured();
            add_captured(black_box(&event));
        })
    });
    group.bench_function("bus_payload_handler", |b| b.iter(|| bus.emit(captured())));
    group.bench_function("bus_envelope_handler", |b| b.iter(|| bus.emit(settled())));
    group.bench_function("bus_state_context_handler", |b| {
        b.iter(|| bus.emit(refund()))
    });
    group.bench_function("hand_written_bus", |b| {
        b.iter(|| hand_written.emit(captured()))
    });
    group.bench_function("tokio_broadcast", |b| {
        b.iter(|| {
            sender.send(captured()).expect("the receiver is alive");
            let event = receiver.try_recv().expect("one event was sent");
            add_captured(&event);
        })
    });
    group.finish();
}

/// Runs `iters` awaits of `body` in one `block_on`, so that the runtime's
/// own entry cost is not part of each iteration.
fn time_async<F, Fut>(runtime: &tokio::runtime::Runtime, iters: u64, body: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    runtime.block_on(async {
        let started = Instant::now();
        for _ in 0..iters {
            body().await;
        }
        started.elapsed()
    })
}

fn bench_async(c: &mut Criterion) {
    let bus = bench_bus();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        assert!(bus.emit_async(authorized()).await.is_ok());
    });

    let mut group = c.benchmark_group("async");
    group.bench_function("direct_await", |b| {
        b.iter_custom(|iters| {
            time_async(&runtime, iters, || async {
                let event = authorized();
                add_authorized(black_box(&event)).await;
            })
        })
    });
    group.bench_function("bus_emit_async", |b| {
        b.iter_custom(|iters| {
            time_async(&runtime, iters, || async {
                black_box(bus.emit_async(authorized()).await);
            })
        })
    });
    group.bench_function("tokio_spawn", |b| {
        b.iter_custom(|iters| {
            time_async(&runtime, iters, || async {
                let event = authorized();
                let handle = tokio::spawn(async move { add_authorized(&event).await });
                handle.await.expect("the task finishes");
            })
        })
    });
    group.finish();
}

/// A customer placed an order: the payload of the decode benchmarks.
#[derive(Event, Serialize, Deserialize)]
#[event(name = "bench.OrderPlaced", kind = "integration")]
struct OrderPlaced {
    order_id: u64,
    customer_id: String,
    currency: String,
    total_cents: u64,
    lines: Vec<OrderLine>,
    shipping_country: String,
}

#[derive(Serialize, Deserialize)]
struct OrderLine {
    sku: String,
    quantity: u32,
    unit_price_cents: u64,
}

#[on(OrderPlaced)]
fn ignore_order(_: &OrderPlaced) {}

/// A structured CloudEvents 1.0 event as a broker would deliver it.
const ORDER_PLACED_JSON: &str = r#"{"specversion":"1.0","id":"0190f3b2-7c4e-7a51-9d1e-5b2c8f0a4e17","source":"https://shop.example/orders","type":"bench.OrderPlaced","subject":"order-48213","time":"2025-03-14T09:26:53.589Z","dataversion":1,"correlationid":"0190f3b2-7c4e-7a51-9d1e-5b2c8f0a4e00","data":{"order_id":48213,"customer_id":"cus_8Hq2LmZx","currency":"EUR","total_cents":12970,"lines":[{"sku":"TSHIRT-BLK-M","quantity":2,"unit_price_cents":2490},{"sku":"HOODIE-GRY-L","quantity":1,"unit_price_cents":5990},{"sku":"SOCKS-WHT-42","quantity":4,"unit_price_cents":500}],"shipping_country":"DE"}}"#;

fn bench_decode(c: &mut Criterion) {
    let bytes = ORDER_PLACED_JSON.as_bytes();
    let bus = bench_bus();

    let typed: Envelope<OrderPlaced> =
        serde_json::from_slice(bytes).expect("the benchmark event is valid CloudEvents JSON");
    assert_eq!(typed.lines.len(), 3);
    let decoded = events::decode(bytes).expect("the benchmark event decodes");
    assert_eq!(bus.dispatch(&decoded).handlers_run(), 1);

    let mut group = c.benchmark_group("decode");
    group.bench_function(format!("serde_json_typed/{}_bytes", bytes.len()), |b| {
        b.iter(|| serde_json::from_slice::<Envelope<OrderPlaced>>(black_box(bytes)).unwrap())
    });
    group.bench_function(format!("decode_and_dispatch/{}_bytes", bytes.len()), |b| {
        b.iter(|| {
            let envelope = events::decode(black_box(bytes)).unwrap();
            bus.dispatch(&envelope)
        })
    });
    group.finish();
}

/// Upgrades version 1 of the upcast benchmarks' order, whose type was
/// deleted: it carried the total in cents as `amount`.
#[upcaster(name = "bench.OrderSubmitted", from = 1)]
fn order_submitted_v1(mut payload: Value) -> Result<Value, String> {
    let Some(fields) = payload.as_object_mut() else {
        return Err(format!("the payload is not an object: {payload}"));
    };
    let Some(amount) = fields.remove("amount") else {
        return Err("`amount` is missing".to_owned());
    };
    fields.insert("total_cents".to_owned(), amount);
    Ok(payload)
}

/// Version 2 of the order in the upcast benchmarks.
#[derive(Event, Serialize, Deserialize)]
#[event(name = "bench.OrderSubmitted", version = 2)]
struct OrderSubmittedV2 {
    order_id: u64,
    customer_id: String,
    total_cents: u64,
    lines: Vec<OrderLine>,
    shipping_country: String,
}

/// Version 3, the latest, added the currency. Earlier orders were in euros.
#[derive(Event, Serialize, Deserialize)]
#[event(name = "bench.OrderSubmitted", version = 3, upcast_from = OrderSubmittedV2)]
struct OrderSubmitted {
    order_id: u64,
    customer_id: String,
    currency: String,
    total_cents: u64,
    lines: Vec<OrderLine>,
    shipping_country: String,
}

impl From<OrderSubmittedV2> for OrderSubmitted {
    fn from(v2: OrderSubmittedV2) -> Self {
        OrderSubmitted {
            order_id: v2.order_id,
            customer_id: v2.customer_id,
            currency: "EUR".to_owned(),
            total_cents: v2.total_cents,
            lines: v2.lines,
            shipping_country: v2.shipping_country,
        }
    }
}

#[on(OrderSubmitted)]
fn ignore_submitted(_: &OrderSubmitted) {}

/// The order of `ORDER_PLACED_JSON` as `bench.OrderSubmitted` version 3.
const ORDER_SUBMITTED_V3_JSON: &str = r#"{"specversion":"1.0","id":"0190f3b2-7c4e-7a51-9d1e-5b2c8f0a4e17","source":"https://shop.example/orders","type":"bench.OrderSubmitted","subject":"order-48213","time":"2025-03-14T09:26:53.589Z","dataversion":3,"correlationid":"0190f3b2-7c4e-7a51-9d1e-5b2c8f0a4e00","data":{"order_id":48213,"customer_id":"cus_8Hq2LmZx","currency":"EUR","total_cents":12970,"lines":[{"sku":"TSHIRT-BLK-M","quantity":2,"unit_price_cents":2490},{"sku":"HOODIE-GRY-L","quantity":1,"unit_price_cents":5990},{"sku":"SOCKS-WHT-42","quantity":4,"unit_price_cents":500}],"shipping_country":"DE"}}"#;

/// The same order as version 1: `amount` in place of `total_cents`, and no
/// currency.
const ORDER_SUBMITTED_V1_JSON: &str = r#"{"specversion":"1.0","id":"0190f3b2-7c4e-7a51-9d1e-5b2c8f0a4e17","source":"https://shop.example/orders","type":"bench.OrderSubmitted","subject":"order-48213","time":"2025-03-14T09:26:53.589Z","dataversion":1,"correlationid":"0190f3b2-7c4e-7a51-9d1e-5b2c8f0a4e00","data":{"order_id":48213,"customer_id":"cus_8Hq2LmZx","amount":12970,"lines":[{"sku":"TSHIRT-BLK-M","quantity":2,"unit_price_cents":2490},{"sku":"HOODIE-GRY-L","quantity":1,"unit_price_cents":5990},{"sku":"SOCKS-WHT-42","quantity":4,"unit_price_cents":500}],"shipping_country":"DE"}}"#;

fn bench_upcast(c: &mut Criterion) {
    let bus = bench_bus();
    let latest = ORDER_SUBMITTED_V3_JSON.as_bytes();
    let v1 = ORDER_SUBMITTED_V1_JSON.as_bytes();

    // Both inputs decode to the same order, and only the v1 one is upgraded.
    let from_latest = events::decode(latest).expect("the v3 event decodes");
    let from_v1 = events::decode(v1).expect("the v1 event upgrades to v3");
    assert_eq!(from_latest.upcast_from(), None);
    assert_eq!(from_v1.upcast_from(), Some(1));
    let upgraded = from_v1.payload::<OrderSubmitted>().expect("a v3 payload");
    assert_eq!(upgraded.currency, "EUR");
    let stored = from_latest
        .payload::<OrderSubmitted>()
        .expect("a v3 payload");
    assert_eq!(
        serde_json::to_value(upgraded).unwrap(),
        serde_json::to_value(stored).unwrap()
    );
    assert_eq!(bus.dispatch(&from_latest).handlers_run(), 1);
    assert_eq!(bus.dispatch(&from_v1).handlers_run(), 1);

    let mut group = c.benchmark_group("upcast");
    group.bench_function("decode_latest", |b| {
        b.iter(|| {
            let envelope = events::decode(black_box(latest)).unwrap();
            bus.dispatch(&envelope)
        })
    });
    group.bench_function("decode_v1_upcast", |b| {
        b.iter(|| {
            let envelope = events::decode(black_box(v1)).unwrap();
            bus.dispatch(&envelope)
        })
    });
    group.finish();
}

/// The Rust type behind every synthetic registry entry. Its own registration
/// in the program-wide registry plays no part in the benchmark.
#[derive(Event, Serialize, Deserialize)]
#[event(name = "bench.SyntheticEvent")]
struct SyntheticEvent;

const SYNTHETIC_VERSIONS: u32 = 2;

/// The name looked up in every synthetic registry, present in all of them.
const LOOKUP_NAME: &str = "bench.synthetic.Event00003";

/// Builds a registry of `event_count` events: names `bench.synthetic.EventNNNNN`,
/// each with versions 1 and 2.
///
/// The program links only a handful of events, so the 10,000-event case needs
/// a synthetic registry. It exercises the same lookup code as the global one,
/// because `registry::find` and `registry::latest` call `Registry::find` and
/// `Registry::latest` on the program-wide `Registry`.
fn synthetic_registry(event_count: usize) -> Registry {
    let name_count = event_count / SYNTHETIC_VERSIONS as usize;
    let mut infos: Vec<&'static EventInfo> = Vec::with_capacity(event_count);
    for index in 0..name_count {
        let name: &'static str =
            Box::leak(format!("bench.synthetic.Event{index:05}").into_boxed_str());
        for version in 1..=SYNTHETIC_VERSIONS {
            let info = EventInfo::__new::<SyntheticEvent>(
                name,
                version,
                EventKind::Domain,
                &[],
                &[],
                module_path!(),
                file!(),
                line!(),
            );
            infos.push(Box::leak(Box::new(info)));
        }
    }
    Registry::new(infos).expect("synthetic event names are unique")
}

fn bench_registry(c: &mut Criterion) {
    let mut group = c.benchmark_group("registry");
    for event_count in [10, 10_000] {
        let registry = synthetic_registry(event_count);
        assert_eq!(registry.all().len(), event_count);
        let found = registry.find(LOOKUP_NAME, 1).expect("the name is present");
        assert_eq!(found.version(), 1);
        let latest = registry.latest(LOOKUP_NAME).expect("the name is present");
        assert_eq!(latest.version(), SYNTHETIC_VERSIONS);

        group.bench_with_input(
            BenchmarkId::new("find", event_count),
            &registry,
            |b, registry| b.iter(|| registry.find(black_box(LOOKUP_NAME), black_box(1))),
        );
        group.bench_with_input(
            BenchmarkId::new("latest", event_count),
            &registry,
            |b, registry| b.iter(|| registry.latest(black_box(LOOKUP_NAME))),
        );
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_emit, bench_async, bench_decode, bench_upcast, bench_registry
}
criterion_main!(benches);

//! Heap allocations per emit, counted by a global allocator.
//!
//! The allocator counts per thread, so tests running in parallel (and the
//! test harness itself) do not disturb each other's counts. Each test warms
//! up on its own thread first, because the first emit on a thread allocates
//! once-per-thread state such as the stack of events being handled and the
//! random number generator behind new event ids.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use events::{on, Bus, Context, Envelope, Event, State};
use serde::{Deserialize, Serialize};

/// Wraps the system allocator and counts the allocations of each thread.
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count_allocation() {
    // `try_with` fails only while the thread is being torn down, and such
    // allocations are outside any measured section.
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System` upholds the `GlobalAlloc` contract. Counting touches
// only a const-initialised thread-local `Cell<u64>`, which has no destructor
// and never allocates, so it cannot recurse into the allocator.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_allocation();
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Returns how many allocations, reallocations included, `work` made on this thread.
fn allocations_during(work: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    work();
    ALLOCATIONS.with(Cell::get) - before
}

const EMITS: u64 = 10_000;

/// A stock level changed. Its only handler takes the bare payload.
#[derive(Event, Serialize, Deserialize)]
#[event(name = "alloc.StockAdjusted")]
struct StockAdjusted {
    sku_id: u64,
    delta: u64,
}

static STOCK_DELTAS: AtomicU64 = AtomicU64::new(0);

#[on(StockAdjusted)]
fn add_stock_delta(adjustment: &StockAdjusted) {
    STOCK_DELTAS.fetch_add(adjustment.delta, Ordering::Relaxed);
}

/// A refund was issued. Its only handler takes the envelope.
#[derive(Event, Serialize, Deserialize)]
#[event(name = "alloc.RefundIssued")]
struct RefundIssued {
    order_id: u64,
    amount_cents: u64,
}

static REFUNDED_CENTS: AtomicU64 = AtomicU64::new(0);

#[on(RefundIssued)]
fn add_refund(refund: &Envelope<RefundIssued>) {
    REFUNDED_CENTS.fetch_add(refund.amount_cents, Ordering::Relaxed);
}

/// A shipment was delayed. Its only handler fails.
#[derive(Event, Serialize, Deserialize)]
#[event(name = "alloc.ShipmentDelayed")]
struct ShipmentDelayed {
    shipment_id: u64,
}

#[on(ShipmentDelayed)]
fn notify_carrier(shipment: &ShipmentDelayed) -> Result<(), String> {
    Err(format!(
        "carrier unreachable for shipment {}",
        shipment.shipment_id
    ))
}

/// An audit entry was written. No handler consumes it.
#[derive(Event, Serialize, Deserialize)]
#[event(name = "alloc.AuditWritten")]
struct AuditWritten {
    entry_id: u64,
}

/// Stock was counted in a warehouse. Its handler takes state and a context.
#[derive(Event, Serialize, Deserialize)]
#[event(name = "alloc.StockCounted")]
struct StockCounted {
    sku_id: u64,
    units: u64,
}

/// The state of the counting handler.
struct Warehouse {
    units: AtomicU64,
}

#[on(StockCounted)]
fn record_count(count: &StockCounted, warehouse: State<Warehouse>, cx: Context) {
    assert_eq!(cx.attempt(), 1);
    warehouse.units.fetch_add(count.units, Ordering::Relaxed);
}

/// Gives every bus of this file the warehouse, which `record_count` takes.
fn builder() -> events::BusBuilder {
    Bus::builder().state(Warehouse {
        units: AtomicU64::new(0),
    })
}

fn bus() -> Bus {
    builder()
        .build()
        .expect("the handlers of this file are valid")
}

#[test]
fn emit_to_state_and_context_handler_allocates_nothing() {
    let bus = bus();
    assert!(bus
        .emit(StockCounted {
            sku_id: 0,
            units: 0
        })
        .is_ok());

    let allocations = allocations_during(|| {
        for sku_id in 0..EMITS {
            let report = bus.emit(StockCounted { sku_id, units: 2 });
            assert_eq!(report.handlers_run(), 1);
        }
    });

    // Resolving `State<Warehouse>` clones an `Arc`, and `Context` borrows
    // the bus: neither allocates.
    assert_eq!(allocations, 0);
    let warehouse = bus
        .state::<Warehouse>()
        .expect("the bus holds the warehouse");
    assert_eq!(warehouse.units.load(Ordering::Relaxed), EMITS * 2);
}

#[test]
fn emit_to_payload_handler_allocates_nothing() {
    let bus = bus();
    let warm_up = bus.emit(StockAdjusted {
        sku_id: 0,
        delta: 1,
    });
    assert!(warm_up.is_ok());
    let before = STOCK_DELTAS.load(Ordering::Relaxed);

    let allocations = allocations_during(|| {
        for sku_id in 0..EMITS {
            let report = bus.emit(StockAdjusted { sku_id, delta: 1 });
            assert_eq!(report.handlers_run(), 1);
        }
    });

    assert_eq!(allocations, 0);
    assert_eq!(STOCK_DELTAS.load(Ordering::Relaxed) - before, EMITS);
}

#[test]
fn emit_to_envelope_handler_allocates_nothing() {
    let bus = bus();
    let warm_up = bus.emit(RefundIssued {
        order_id: 0,
        amount_cents: 1,
    });
    assert!(warm_up.is_ok());
    let before = REFUNDED_CENTS.load(Ordering::Relaxed);

    let allocations = allocations_during(|| {
        for order_id in 0..EMITS {
            let report = bus.emit(RefundIssued {
                order_id,
                amount_cents: 1,
            });
            assert_eq!(report.handlers_run(), 1);
        }
    });

    // The envelope the bus builds contains a UUIDv7 id, a timestamp, a clone
    // of the bus's `Arc<str>` source and an empty extension map. None of
    // these allocates, so building the envelope costs no heap allocation.
    assert_eq!(allocations, 0);
    assert_eq!(REFUNDED_CENTS.load(Ordering::Relaxed) - before, EMITS);
}

#[test]
fn emit_without_handlers_allocates_nothing() {
    let bus = bus();
    assert_eq!(bus.emit(AuditWritten { entry_id: 0 }).handlers_run(), 0);

    let allocations = allocations_during(|| {
        for entry_id in 0..EMITS {
            let report = bus.emit(AuditWritten { entry_id });
            assert_eq!(report.handlers_run(), 0);
        }
    });

    assert_eq!(allocations, 0);
}

#[test]
fn failing_handler_report_allocates() {
    // Logging instead of dead-lettering keeps the count to the report's own
    // allocations; a dead letter adds the event's JSON and the letter.
    let bus = builder()
        .on_failure(events::policy::OnFailure::Log)
        .build()
        .unwrap();
    assert!(!bus.emit(ShipmentDelayed { shipment_id: 0 }).is_ok());

    let mut report = None;
    let allocations = allocations_during(|| {
        report = Some(bus.emit(ShipmentDelayed { shipment_id: 9 }));
    });

    // The handler's `format!`, the formatting of its error into
    // `HandlerError::Failed`, the box that carries the error out of the
    // handler, the report's box of problems and its list of failures. No
    // `tracing` subscriber is installed, so logging the failure allocates
    // nothing.
    assert_eq!(allocations, 5);
    let report = report.expect("the emit ran");
    assert_eq!(report.failures().len(), 1);
    assert_eq!(
        report.failures()[0].error().to_string(),
        "carrier unreachable for shipment 9"
    );
}

/// A parcel was weighed. Its async handler takes only the payload.
#[derive(Event, Serialize, Deserialize)]
#[event(name = "alloc.ParcelWeighed")]
struct ParcelWeighed {
    grams: u64,
}

#[on(ParcelWeighed)]
async fn record_weight(parcel: &ParcelWeighed) {
    PARCEL_GRAMS.fetch_add(parcel.grams, Ordering::Relaxed);
}

static PARCEL_GRAMS: AtomicU64 = AtomicU64::new(0);

/// A parcel was counted. Its async handler also takes state and a context.
#[derive(Event, Serialize, Deserialize)]
#[event(name = "alloc.ParcelCounted")]
struct ParcelCounted {
    units: u64,
}

#[on(ParcelCounted)]
async fn record_parcels(parcel: &ParcelCounted, warehouse: State<Warehouse>, cx: Context) {
    assert_eq!(cx.attempt(), 1);
    warehouse.units.fetch_add(parcel.units, Ordering::Relaxed);
}

#[test]
fn async_state_and_context_add_no_allocation() {
    // An async emit allocates for its envelope and the handler's future
    // either way; taking state and a context must not add to that.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime starts");
    let bus = bus();
    runtime.block_on(async {
        assert!(bus.emit_async(ParcelWeighed { grams: 1 }).await.is_ok());
        assert!(bus.emit_async(ParcelCounted { units: 1 }).await.is_ok());
    });

    let payload_only = allocations_during(|| {
        runtime.block_on(async {
            for grams in 0..EMITS {
                let report = bus.emit_async(ParcelWeighed { grams }).await;
                assert_eq!(report.handlers_run(), 1);
            }
        });
    });
    let with_state = allocations_during(|| {
        runtime.block_on(async {
            for units in 0..EMITS {
                let report = bus.emit_async(ParcelCounted { units }).await;
                assert_eq!(report.handlers_run(), 1);
            }
        });
    });

    // Shown with `--nocapture`, for the figure in BENCHMARKS.md.
    println!("async emits: {payload_only} allocations with `&E` only, {with_state} with state and context");
    assert_eq!(with_state, payload_only);
}

//! A crate that depends on `events-core` and `events-macros` directly, without
//! the `events` facade: the macros find the runtime as `::events_core`.

use std::sync::atomic::{AtomicU64, Ordering};

use events_core::{registry, Bus, DecodeErrorKind, Envelope, Event, EventKind, HandlerError};
use events_macros::{on, Event};
use serde::{Deserialize, Serialize};

/// A parcel left the warehouse.
#[derive(Event, Serialize, Deserialize)]
#[event(name = "logistics.parcel_shipped", version = 2, kind = "integration")]
struct ParcelShipped {
    /// Tracking number printed on the label.
    tracking: String,
    weight_grams: u64,
}

#[derive(Event, Serialize, Deserialize)]
struct ParcelLost(u64);

static SHIPPED_GRAMS: AtomicU64 = AtomicU64::new(0);
static ASYNC_SEEN: AtomicU64 = AtomicU64::new(0);

#[on(ParcelShipped, priority = 1)]
fn add_weight(parcel: &ParcelShipped) {
    SHIPPED_GRAMS.fetch_add(parcel.weight_grams, Ordering::SeqCst);
}

#[on(ParcelShipped, name = "logistics.check_label")]
fn check_label(parcel: &Envelope<ParcelShipped>) -> Result<(), String> {
    if parcel.tracking.is_empty() {
        return Err(format!("parcel {} has no tracking number", parcel.id()));
    }
    Ok(())
}

#[on(ParcelShipped)]
async fn notify_customer(parcel: &ParcelShipped) {
    ASYNC_SEEN.fetch_add(parcel.weight_grams, Ordering::SeqCst);
}

#[on(ParcelLost)]
fn open_claim(_: &ParcelLost) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Err("claims desk closed".into())
}

#[test]
fn derive_registers_info() {
    let info = ParcelShipped::info();
    assert_eq!(info.name(), "logistics.parcel_shipped");
    assert_eq!(info.version(), 2);
    assert_eq!(info.kind(), EventKind::Integration);
    assert_eq!(info.doc(), "A parcel left the warehouse.");
    assert_eq!(
        info.fields()[0].doc(),
        "Tracking number printed on the label."
    );
    assert_eq!(info.module_path(), "direct");
    assert!(std::ptr::eq(
        registry::find("logistics.parcel_shipped", 2).unwrap(),
        info
    ));
}

#[test]
fn handlers_registered_in_order() {
    let names: Vec<&str> = registry::handlers_of::<ParcelShipped>()
        .map(|handler| handler.name())
        .collect();
    assert_eq!(
        names,
        [
            "direct::add_weight",
            "direct::notify_customer",
            "logistics.check_label",
        ]
    );
}

#[test]
fn bus_emit_runs_sync_handlers() {
    let bus = Bus::new();
    let report = bus.emit(ParcelShipped {
        tracking: "TRK-1".into(),
        weight_grams: 1_500,
    });
    assert_eq!(report.handlers_run(), 2);
    assert_eq!(report.failures().len(), 1);
    assert_eq!(report.failures()[0].error(), &HandlerError::NeedsAsync);
    assert!(SHIPPED_GRAMS.load(Ordering::SeqCst) >= 1_500);
}

#[tokio::test(flavor = "current_thread")]
async fn bus_emit_async_runs_every_handler() {
    let bus = Bus::new();
    let report = bus
        .emit_async(ParcelShipped {
            tracking: "TRK-2".into(),
            weight_grams: 700,
        })
        .await;
    assert!(report.is_ok(), "failures: {:?}", report.failures());
    assert_eq!(report.handlers_run(), 3);
    assert!(ASYNC_SEEN.load(Ordering::SeqCst) >= 700);
}

#[test]
fn handler_error_is_reported() {
    let report = Bus::new().emit(ParcelLost(9));
    assert_eq!(report.failures().len(), 1);
    assert_eq!(
        report.failures()[0].error().to_string(),
        "claims desk closed"
    );
}

#[test]
fn decode_round_trip_dispatches() {
    let envelope = Envelope::new(ParcelShipped {
        tracking: String::new(),
        weight_grams: 10,
    })
    .with_subject("parcel-10");
    let bytes = serde_json::to_vec(&envelope).unwrap();

    let decoded = events_core::decode(&bytes).unwrap();
    assert_eq!(decoded.name(), "logistics.parcel_shipped");
    assert_eq!(decoded.version(), 2);
    assert_eq!(decoded.id(), envelope.id());
    assert_eq!(decoded.payload::<ParcelShipped>().unwrap().weight_grams, 10);

    // The async handler cannot run at the synchronous call site and is the
    // first failure; the label check rejects the empty tracking number.
    let report = Bus::new().dispatch(&decoded);
    assert_eq!(report.failures().len(), 2);
    assert_eq!(report.failures()[0].error(), &HandlerError::NeedsAsync);
    assert_eq!(report.failures()[1].handler(), "logistics.check_label");
    assert_eq!(
        report.failures()[1].error().to_string(),
        format!("parcel {} has no tracking number", envelope.id())
    );

    let typed = decoded.downcast::<ParcelShipped>().ok().unwrap();
    assert_eq!(typed.subject(), Some("parcel-10"));
}

#[test]
fn decode_rejects_unknown_version() {
    let bytes = br#"{"specversion":"1.0","id":"p-1","source":"tests","type":"logistics.parcel_shipped","dataversion":9,"data":{"tracking":"T","weight_grams":1}}"#;
    let error = events_core::decode(bytes).unwrap_err();
    let DecodeErrorKind::UnknownEvent {
        version,
        known_versions,
        ..
    } = error.kind()
    else {
        panic!("expected an unknown event, got {:?}", error.kind());
    };
    assert_eq!(*version, 9);
    assert_eq!(known_versions, &[2]);
}

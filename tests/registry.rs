//! The program-wide registry of events and handlers: listing order, lookups,
//! validation, and registries built over a chosen subset.
//!
//! This test binary registers exactly the events and handlers declared in this
//! file, so listings are compared in full.

use std::any::TypeId;

use events::registry::{self, Registry};
use events::{on, Envelope, Event, EventInfo, EventKind};
use serde::{Deserialize, Serialize};

// Declared out of sorted order on purpose: the registry sorts by name, then
// by version as a number (2 before 10).

/// A shipment left the warehouse.
#[derive(Event, Serialize, Deserialize)]
#[event(name = "zeta.shipped", kind = "integration")]
struct ZetaShipped {
    /// Carrier tracking number.
    tracking: String,
    parcels: u32,
}

// Each version upgrades the one before it, because a version without a path
// to the latest makes the registry invalid.
#[derive(Event, Serialize, Deserialize)]
#[event(name = "alpha.created", version = 10, upcast_from = AlphaCreatedV2)]
struct AlphaCreatedV10 {
    id: u64,
}

#[derive(Event, Serialize, Deserialize)]
#[event(name = "alpha.created", version = 2, upcast_from = AlphaCreatedV1)]
struct AlphaCreatedV2 {
    id: u64,
}

impl From<AlphaCreatedV2> for AlphaCreatedV10 {
    fn from(v2: AlphaCreatedV2) -> Self {
        AlphaCreatedV10 { id: v2.id }
    }
}

impl From<AlphaCreatedV1> for AlphaCreatedV2 {
    fn from(v1: AlphaCreatedV1) -> Self {
        AlphaCreatedV2 {
            id: u64::from(v1.id),
        }
    }
}

#[derive(Event, Serialize, Deserialize)]
#[event(name = "mid.updated")]
struct MidUpdated;

#[derive(Event, Serialize, Deserialize)]
#[event(name = "alpha.created")]
struct AlphaCreatedV1 {
    id: u32,
}

#[derive(Event, Serialize, Deserialize)]
#[event(name = "alpha")]
struct Alpha;

fn name_and_version(info: &EventInfo) -> (&'static str, u32) {
    (info.name(), info.version())
}

#[test]
fn all_is_sorted_by_name_then_version() {
    let listed: Vec<(&str, u32)> = registry::all()
        .iter()
        .map(|info| name_and_version(info))
        .collect();

    assert_eq!(
        listed,
        [
            ("alpha", 1),
            ("alpha.created", 1),
            ("alpha.created", 2),
            ("alpha.created", 10),
            ("mid.updated", 1),
            ("zeta.shipped", 1),
        ]
    );
}

#[test]
fn all_returns_derived_descriptions() {
    let zeta = registry::all()
        .iter()
        .find(|info| info.name() == "zeta.shipped")
        .expect("zeta.shipped is listed");

    assert!(std::ptr::eq(*zeta, ZetaShipped::info()));
}

#[test]
fn find_returns_exact_version() {
    let found = registry::find("alpha.created", 10).expect("version 10 is registered");

    assert!(std::ptr::eq(found, AlphaCreatedV10::info()));
    assert_eq!(found.rust_type(), "registry::AlphaCreatedV10");
    assert_eq!(found.type_id(), TypeId::of::<AlphaCreatedV10>());
}

#[test]
fn find_rejects_unknown_version_and_name() {
    assert!(registry::find("alpha.created", 3).is_none());
    assert!(registry::find("alpha.created", 0).is_none());
    assert!(registry::find("omega.deleted", 1).is_none());
    // Lookups match whole names, not prefixes.
    assert!(registry::find("alpha.create", 1).is_none());
}

#[test]
fn latest_returns_highest_version() {
    let latest = registry::latest("alpha.created").expect("alpha.created is registered");

    assert!(std::ptr::eq(latest, AlphaCreatedV10::info()));
    assert_eq!(latest.version(), 10);
    assert_eq!(
        registry::latest("mid.updated").map(EventInfo::version),
        Some(1)
    );
    assert!(registry::latest("omega.deleted").is_none());
}

#[test]
fn versions_lists_lowest_first() {
    let versions: Vec<u32> = registry::versions("alpha.created")
        .iter()
        .map(|info| info.version())
        .collect();

    assert_eq!(versions, [1, 2, 10]);
    assert_eq!(registry::versions("alpha").len(), 1);
    assert!(registry::versions("omega.deleted").is_empty());
}

#[test]
fn of_returns_description_of_type() {
    let info = registry::of::<AlphaCreatedV2>().expect("AlphaCreatedV2 is registered");

    assert!(std::ptr::eq(info, AlphaCreatedV2::info()));
    assert_eq!(name_and_version(info), ("alpha.created", 2));
    assert!(std::ptr::eq(
        registry::global()
            .by_type_id(TypeId::of::<MidUpdated>())
            .expect("MidUpdated is registered"),
        MidUpdated::info()
    ));
    assert!(registry::global()
        .by_type_id(TypeId::of::<String>())
        .is_none());
}

#[test]
fn registered_description_keeps_declaration() {
    let info = registry::find("zeta.shipped", 1).expect("zeta.shipped is registered");

    assert_eq!(info.kind(), EventKind::Integration);
    assert_eq!(info.doc(), "A shipment left the warehouse.");
    assert_eq!(info.module_path(), "registry");
    assert_eq!(info.file(), file!());
    let fields: Vec<(&str, &str, &str)> = info
        .fields()
        .iter()
        .map(|field| (field.name(), field.ty(), field.doc()))
        .collect();
    assert_eq!(
        fields,
        [
            ("tracking", "String", "Carrier tracking number."),
            ("parcels", "u32", ""),
        ]
    );
}

#[test]
fn validate_accepts_distinct_events() {
    registry::validate().unwrap();
}

// Handlers, declared out of sorted order.

#[on(ZetaShipped, name = "zeta.notify")]
fn zeta_notify(_: &ZetaShipped) {}

#[on(AlphaCreatedV2, name = "alpha2.index", priority = -1)]
fn alpha2_index(_: &AlphaCreatedV2) {}

#[on(AlphaCreatedV2, name = "alpha2.audit", priority = 5)]
async fn alpha2_audit(_: &Envelope<AlphaCreatedV2>) {}

#[on(AlphaCreatedV1, name = "alpha1.b")]
fn alpha1_b(_: &AlphaCreatedV1) {}

#[on(AlphaCreatedV1, name = "alpha1.a")]
fn alpha1_a(_: &AlphaCreatedV1) {}

#[on(AlphaCreatedV2, name = "alpha2.cache")]
fn alpha2_cache(_: &AlphaCreatedV2) {}

#[on(AlphaCreatedV10)]
fn alpha10_default_name(_: &AlphaCreatedV10) {}

#[on(Alpha, name = "alpha.bare")]
fn alpha_bare(_: &Alpha) {}

#[test]
fn handlers_sorted_by_event_then_run_order() {
    let listed: Vec<(&str, u32, i32, &str)> = registry::handlers()
        .iter()
        .map(|handler| {
            let event = handler.event();
            (
                event.name(),
                event.version(),
                handler.priority(),
                handler.name(),
            )
        })
        .collect();

    assert_eq!(
        listed,
        [
            ("alpha", 1, 0, "alpha.bare"),
            ("alpha.created", 1, 0, "alpha1.a"),
            ("alpha.created", 1, 0, "alpha1.b"),
            ("alpha.created", 2, 5, "alpha2.audit"),
            ("alpha.created", 2, 0, "alpha2.cache"),
            ("alpha.created", 2, -1, "alpha2.index"),
            ("alpha.created", 10, 0, "registry::alpha10_default_name"),
            ("zeta.shipped", 1, 0, "zeta.notify"),
        ]
    );
}

#[test]
fn handlers_of_returns_run_order() {
    let names: Vec<&str> = registry::handlers_of::<AlphaCreatedV2>()
        .map(|handler| handler.name())
        .collect();

    assert_eq!(names, ["alpha2.audit", "alpha2.cache", "alpha2.index"]);
    assert_eq!(registry::handlers_of::<MidUpdated>().count(), 0);
}

#[test]
fn handler_info_describes_function() {
    let audit = registry::handlers_of::<AlphaCreatedV2>()
        .next()
        .expect("AlphaCreatedV2 has handlers");

    assert_eq!(audit.name(), "alpha2.audit");
    assert_eq!(audit.function(), "registry::alpha2_audit");
    assert_eq!(audit.priority(), 5);
    assert!(audit.is_async());
    assert!(audit.takes_envelope());
    assert!(std::ptr::eq(audit.event(), AlphaCreatedV2::info()));
    assert_eq!(audit.event_type_id(), TypeId::of::<AlphaCreatedV2>());
    assert_eq!(audit.file(), file!());

    let default_named = registry::handlers_of::<AlphaCreatedV10>()
        .next()
        .expect("AlphaCreatedV10 has a handler");
    assert_eq!(default_named.name(), default_named.function());
    assert!(!default_named.is_async());
    assert!(!default_named.takes_envelope());
}

// Registries over a chosen subset.

#[test]
fn registry_new_over_subset() {
    let subset = Registry::new([
        ZetaShipped::info(),
        AlphaCreatedV10::info(),
        AlphaCreatedV1::info(),
    ])
    .expect("the subset has no duplicates");

    let listed: Vec<(&str, u32)> = subset
        .all()
        .iter()
        .map(|info| name_and_version(info))
        .collect();
    assert_eq!(
        listed,
        [
            ("alpha.created", 1),
            ("alpha.created", 10),
            ("zeta.shipped", 1)
        ]
    );

    assert!(std::ptr::eq(
        subset
            .find("alpha.created", 10)
            .expect("version 10 is in the subset"),
        AlphaCreatedV10::info()
    ));
    assert!(subset.find("alpha.created", 2).is_none());
    assert!(subset.find("mid.updated", 1).is_none());
    assert_eq!(
        subset.latest("alpha.created").map(EventInfo::version),
        Some(10)
    );
    let versions: Vec<u32> = subset
        .versions("alpha.created")
        .iter()
        .map(|info| info.version())
        .collect();
    assert_eq!(versions, [1, 10]);
    assert!(subset.of::<ZetaShipped>().is_some());
    assert!(subset.of::<AlphaCreatedV2>().is_none());
    assert_eq!(
        format!("{subset:?}"),
        r#"[("alpha.created", 1), ("alpha.created", 10), ("zeta.shipped", 1)]"#
    );
}

#[test]
fn registry_new_over_empty_set() {
    let empty = Registry::new([]).expect("an empty set has no duplicates");

    assert!(empty.all().is_empty());
    assert!(empty.find("alpha.created", 1).is_none());
    assert!(empty.latest("alpha.created").is_none());
    assert!(empty.versions("alpha.created").is_empty());
    assert!(empty.of::<Alpha>().is_none());
}

#[test]
fn registry_new_rejects_same_info_twice() {
    let error = Registry::new([MidUpdated::info(), MidUpdated::info()])
        .expect_err("one description listed twice is a duplicate");

    assert_eq!(error.duplicates().len(), 1);
}

#[test]
fn decoder_uses_chosen_registry() {
    let subset = Registry::new([AlphaCreatedV1::info()]).unwrap();
    let decoder = events::Decoder::with_registry(&subset);
    let known =
        br#"{"specversion":"1.0","id":"1","source":"s","type":"alpha.created","data":{"id":5}}"#;
    let outside = br#"{"specversion":"1.0","id":"2","source":"s","type":"mid.updated"}"#;

    let decoded = decoder
        .decode(known)
        .expect("alpha.created 1 is in the subset");
    assert_eq!(
        decoded.payload::<AlphaCreatedV1>().map(|event| event.id),
        Some(5)
    );
    let error = decoder
        .decode(outside)
        .expect_err("mid.updated is not in the subset");
    assert_eq!(error.reason(), "unknown event");
}

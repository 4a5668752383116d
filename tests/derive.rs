//! Behaviour of `#[derive(Event)]` and `#[on]`: what they register, as read
//! back through `Event::info()` and the `registry` functions.
//!
//! All tests of this file share one program-wide registry, so no two events
//! below share a name and version, and each event is emitted by one test only.

use std::collections::HashMap;
use std::sync::Mutex;

use events::{on, registry, Bus, Envelope, Event, EventKind};
use serde::{Deserialize, Serialize};

/// Returns the names of the fields of `E`, in declaration order.
fn field_names<E: Event>() -> Vec<&'static str> {
    E::info()
        .fields()
        .iter()
        .map(|field| field.name())
        .collect()
}

/// Returns the type text of the field `name` of `E`.
fn field_type<E: Event>(name: &str) -> &'static str {
    E::info()
        .fields()
        .iter()
        .find(|field| field.name() == name)
        .unwrap_or_else(|| panic!("`{}` has no field `{name}`", E::NAME))
        .ty()
}

// ---------------------------------------------------------------------------
// Struct shapes
// ---------------------------------------------------------------------------

#[derive(Event, Serialize, Deserialize)]
struct ShapeNamed {
    order_id: u64,
    customer: String,
    total_cents: u64,
}

#[derive(Event, Serialize, Deserialize)]
struct ShapeTuple(u64, String);

#[derive(Event, Serialize, Deserialize)]
struct ShapeUnit;

#[test]
fn named_struct_lists_fields_in_order() {
    assert_eq!(
        field_names::<ShapeNamed>(),
        ["order_id", "customer", "total_cents"]
    );
    assert_eq!(field_type::<ShapeNamed>("customer"), "String");
}

#[test]
fn tuple_struct_names_fields_by_index() {
    assert_eq!(field_names::<ShapeTuple>(), ["0", "1"]);
    assert_eq!(field_type::<ShapeTuple>("0"), "u64");
    assert_eq!(field_type::<ShapeTuple>("1"), "String");
}

#[test]
fn unit_struct_has_no_fields() {
    assert!(ShapeUnit::info().fields().is_empty());
    assert_eq!(ShapeUnit::NAME, "ShapeUnit");
}

#[test]
fn unit_struct_decodes() {
    let json = serde_json::to_vec(&Envelope::new(ShapeUnit)).unwrap();
    let decoded = events::decode(&json).unwrap();
    assert!(decoded.is::<ShapeUnit>());
    assert!(decoded.payload::<ShapeUnit>().is_some());
}

#[test]
fn tuple_struct_decodes() {
    let json = serde_json::to_vec(&Envelope::new(ShapeTuple(4, "four".into()))).unwrap();
    let decoded = events::decode(&json).unwrap();
    let payload = decoded.payload::<ShapeTuple>().unwrap();
    assert_eq!(payload.0, 4);
    assert_eq!(payload.1, "four");
}

// ---------------------------------------------------------------------------
// Raw identifiers
// ---------------------------------------------------------------------------

#[derive(Event, Serialize, Deserialize)]
struct RawFieldShipped {
    r#type: String,
    r#ref: u32,
    carrier: String,
}

#[allow(non_camel_case_types)]
#[derive(Event, Serialize, Deserialize)]
struct r#yield {
    percent: u8,
}

#[derive(Event, Serialize, Deserialize)]
struct r#RawTypeNamed {
    id: u64,
}

#[test]
fn raw_field_names_drop_prefix() {
    assert_eq!(field_names::<RawFieldShipped>(), ["type", "ref", "carrier"]);
}

#[test]
fn raw_field_serialises_without_prefix() {
    let event = RawFieldShipped {
        r#type: "express".into(),
        r#ref: 9,
        carrier: "post".into(),
    };
    let json = serde_json::to_value(Envelope::new(event)).unwrap();
    assert_eq!(json["data"]["type"], "express");
    assert_eq!(json["data"]["ref"], 9);
}

#[test]
fn raw_keyword_type_name_drops_prefix() {
    assert_eq!(r#yield::NAME, "yield");
    assert_eq!(r#yield::info().name(), "yield");
    assert!(registry::find("yield", 1).is_some());
    assert_eq!(r#yield::info().rust_type(), "derive::yield");
}

#[test]
fn raw_plain_type_name_drops_prefix() {
    assert_eq!(RawTypeNamed::NAME, "RawTypeNamed");
    assert_eq!(RawTypeNamed::info().rust_type(), "derive::RawTypeNamed");
}

// ---------------------------------------------------------------------------
// `#[cfg]` on fields
// ---------------------------------------------------------------------------

// `all()` and `any()` are the always-true and always-false conditions.
#[allow(clippy::non_minimal_cfg)]
#[derive(Event, Serialize, Deserialize)]
struct CfgFields {
    id: u64,
    #[cfg(any())]
    compiled_out: u64,
    #[cfg(all())]
    compiled_in: u64,
    #[cfg_attr(all(), doc = "Documented through `cfg_attr`.")]
    through_cfg_attr: u64,
}

#[test]
fn cfg_disabled_field_is_absent() {
    assert!(!field_names::<CfgFields>().contains(&"compiled_out"));
}

#[test]
fn cfg_enabled_field_is_present() {
    assert_eq!(
        field_names::<CfgFields>(),
        ["id", "compiled_in", "through_cfg_attr"]
    );
}

#[test]
fn cfg_attr_doc_is_expanded() {
    assert_eq!(
        CfgFields::info().fields()[2].doc(),
        "Documented through `cfg_attr`."
    );
}

#[test]
fn cfg_fields_match_serialised_payload() {
    let event = CfgFields {
        id: 1,
        compiled_in: 2,
        through_cfg_attr: 3,
    };
    let data = serde_json::to_value(&event).unwrap();
    let mut serialised: Vec<&str> = data
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    serialised.sort_unstable();
    let mut registered = field_names::<CfgFields>();
    registered.sort_unstable();
    assert_eq!(serialised, registered);
}

// ---------------------------------------------------------------------------
// Doc comments
// ---------------------------------------------------------------------------

/// Says "hello" with a \ backslash.
#[derive(Event, Serialize, Deserialize)]
struct DocQuotes {
    /// The "quoted" field with C:\path.
    value: u32,
    undocumented: u32,
}

#[doc = "Written as an attribute with \"escapes\" and a \\ backslash."]
#[derive(Event, Serialize, Deserialize)]
struct DocAttribute;

/// First paragraph.
///
/// Second paragraph, with a list:
///   - indented item
///     - nested item
///
/// ```
/// let example = 1;
/// ```
#[derive(Event, Serialize, Deserialize)]
struct DocMultiline;

/** Block comment, one line. */
#[derive(Event, Serialize, Deserialize)]
struct DocBlockOneLine;

/**
    Block comment over lines,
      with an indented line.
*/
#[derive(Event, Serialize, Deserialize)]
struct DocBlockMultiline;

/**
 * Block comment with leading stars,
 * the style of C and Java.
 */
#[derive(Event, Serialize, Deserialize)]
struct DocBlockStars;

#[derive(Event, Serialize, Deserialize)]
struct DocMissing;

/// Line comment first.
#[doc = "Then an attribute."]
/// And a line comment again.
#[derive(Event, Serialize, Deserialize)]
struct DocMixed;

/// Ends with a macro:
#[doc = concat!("built ", "by concat!")]
#[derive(Event, Serialize, Deserialize)]
struct DocFromMacro;

#[test]
fn doc_keeps_quotes_and_backslashes() {
    assert_eq!(
        DocQuotes::info().doc(),
        "Says \"hello\" with a \\ backslash."
    );
}

#[test]
fn doc_of_field_keeps_quotes() {
    assert_eq!(
        DocQuotes::info().fields()[0].doc(),
        "The \"quoted\" field with C:\\path."
    );
}

#[test]
fn doc_of_undocumented_field_is_empty() {
    assert_eq!(DocQuotes::info().fields()[1].doc(), "");
}

#[test]
fn doc_attribute_is_unescaped() {
    assert_eq!(
        DocAttribute::info().doc(),
        "Written as an attribute with \"escapes\" and a \\ backslash."
    );
}

#[test]
fn doc_multiline_keeps_relative_indentation() {
    assert_eq!(
        DocMultiline::info().doc(),
        "First paragraph.\n\
         \n\
         Second paragraph, with a list:\n  \
         - indented item\n    \
         - nested item\n\
         \n\
         ```\n\
         let example = 1;\n\
         ```"
    );
}

#[test]
fn doc_block_one_line_is_trimmed() {
    assert_eq!(DocBlockOneLine::info().doc(), "Block comment, one line.");
}

#[test]
fn doc_block_multiline_removes_common_indentation() {
    assert_eq!(
        DocBlockMultiline::info().doc(),
        "Block comment over lines,\n  with an indented line."
    );
}

#[test]
fn doc_block_with_stars_drops_stars() {
    // rustdoc 1.95 renders this comment without the ` * ` prefix shared by its lines.
    assert_eq!(
        DocBlockStars::info().doc(),
        "Block comment with leading stars,\nthe style of C and Java."
    );
}

#[test]
fn doc_missing_is_empty() {
    assert_eq!(DocMissing::info().doc(), "");
}

#[test]
fn doc_mixed_forms_join_lines() {
    // rustdoc 1.95 removes the space after `///` even when a `#[doc = "..."]`
    // line without leading space sits between the comments.
    assert_eq!(
        DocMixed::info().doc(),
        "Line comment first.\nThen an attribute.\nAnd a line comment again."
    );
}

#[test]
fn doc_from_macro_is_appended() {
    let doc = DocFromMacro::info().doc();
    assert!(doc.contains("Ends with a macro:"), "doc: {doc:?}");
    assert!(doc.ends_with("\nbuilt by concat!"), "doc: {doc:?}");
}

#[test]
fn doc_from_macro_matches_rustdoc() {
    assert_eq!(
        DocFromMacro::info().doc(),
        "Ends with a macro:\nbuilt by concat!"
    );
}

// ---------------------------------------------------------------------------
// Types declared inside function bodies and by `macro_rules!`
// ---------------------------------------------------------------------------

#[test]
fn local_type_is_registered() {
    /// Declared inside a test function.
    #[derive(Event, Serialize, Deserialize)]
    struct LocalAuditLogged {
        entry: String,
    }

    let info = registry::find("LocalAuditLogged", 1).unwrap();
    assert_eq!(info.type_id(), std::any::TypeId::of::<LocalAuditLogged>());
    assert_eq!(info.doc(), "Declared inside a test function.");
    assert_eq!(info.rust_type(), std::any::type_name::<LocalAuditLogged>());
    assert_eq!(
        info.rust_type(),
        "derive::local_type_is_registered::LocalAuditLogged"
    );
    assert_eq!(info.module_path(), "derive");
}

#[test]
fn local_type_decodes() {
    #[derive(Event, Serialize, Deserialize)]
    struct LocalQuotaExceeded {
        quota: u32,
    }

    let bytes = br#"{"specversion":"1.0","id":"q-1","source":"tests","type":"LocalQuotaExceeded","data":{"quota":10}}"#;
    let decoded = events::decode(bytes).unwrap();
    assert_eq!(decoded.payload::<LocalQuotaExceeded>().unwrap().quota, 10);
}

#[test]
fn local_type_handler_runs() {
    use std::sync::atomic::{AtomicU32, Ordering};

    static SEEN: AtomicU32 = AtomicU32::new(0);

    #[derive(Event, Serialize, Deserialize)]
    struct LocalSeatBooked {
        seat: u32,
    }

    #[on(LocalSeatBooked)]
    fn count_seat(booking: &LocalSeatBooked) {
        SEEN.fetch_add(booking.seat, Ordering::SeqCst);
    }

    let report = Bus::new().emit(LocalSeatBooked { seat: 12 });
    assert_eq!(report.handlers_run(), 1);
    assert_eq!(SEEN.load(Ordering::SeqCst), 12);

    let handler = registry::handlers_of::<LocalSeatBooked>().next().unwrap();
    assert_eq!(handler.name(), "derive::count_seat");
}

/// Declares an event struct with one field, the way a crate might generate a
/// family of similar events.
macro_rules! declare_event {
    ($ty:ident, $name:literal, $version:literal, $field:ident: $field_ty:ty) => {
        /// Declared by `declare_event!`.
        #[derive(Event, Serialize, Deserialize)]
        #[event(name = $name, version = $version)]
        struct $ty {
            $field: $field_ty,
        }
    };
}

declare_event!(MacroStockLow, "macro.stock_low", 2, sku: String);
declare_event!(MacroStockOut, "macro.stock_out", 1, skus: Vec<String>);

#[test]
fn macro_rules_type_is_registered() {
    let info = registry::find("macro.stock_low", 2).unwrap();
    assert_eq!(info.type_id(), std::any::TypeId::of::<MacroStockLow>());
    assert_eq!(info.doc(), "Declared by `declare_event!`.");
}

#[test]
fn macro_rules_field_is_listed() {
    assert_eq!(field_names::<MacroStockOut>(), ["skus"]);
    assert_eq!(field_type::<MacroStockOut>("skus"), "Vec<String>");
}

#[test]
fn macro_rules_location_is_the_invocation() {
    assert_eq!(MacroStockLow::info().file(), file!());
    assert_eq!(MacroStockLow::info().module_path(), "derive");
}

// ---------------------------------------------------------------------------
// Name, version and kind
// ---------------------------------------------------------------------------

#[derive(Event, Serialize, Deserialize)]
struct DefaultsApplied;

// Versions 1 and 3 coexist; version 3 upgrades version 1 directly, because a
// version without a path to the latest makes the registry invalid.
#[derive(Event, Serialize, Deserialize)]
#[event(
    name = "billing.invoice_issued",
    version = 3,
    kind = "integration",
    upcast_from = InvoiceIssuedV1
)]
struct InvoiceIssuedV3;

#[derive(Event, Serialize, Deserialize)]
#[event(name = "billing.invoice_issued", kind = "integration")]
struct InvoiceIssuedV1;

impl From<InvoiceIssuedV1> for InvoiceIssuedV3 {
    fn from(_: InvoiceIssuedV1) -> Self {
        InvoiceIssuedV3
    }
}

#[derive(Event, Serialize, Deserialize)]
#[event(kind = "domain")]
#[event(version = 7)]
struct SplitAttributes;

#[derive(Event, Serialize, Deserialize)]
#[event(name = "a.b-c_d:e/f9")]
struct EveryAllowedCharacter;

#[test]
fn defaults_use_type_name_version_one_domain() {
    assert_eq!(DefaultsApplied::NAME, "DefaultsApplied");
    assert_eq!(DefaultsApplied::VERSION, 1);
    assert_eq!(DefaultsApplied::KIND, EventKind::Domain);
}

#[test]
fn info_matches_constants() {
    let info = InvoiceIssuedV3::info();
    assert_eq!(info.name(), InvoiceIssuedV3::NAME);
    assert_eq!(info.version(), InvoiceIssuedV3::VERSION);
    assert_eq!(info.kind(), InvoiceIssuedV3::KIND);
}

#[test]
fn overrides_set_name_version_kind() {
    assert_eq!(InvoiceIssuedV3::NAME, "billing.invoice_issued");
    assert_eq!(InvoiceIssuedV3::VERSION, 3);
    assert_eq!(InvoiceIssuedV3::KIND, EventKind::Integration);
}

#[test]
fn options_combine_across_attributes() {
    assert_eq!(SplitAttributes::VERSION, 7);
    assert_eq!(SplitAttributes::KIND, EventKind::Domain);
    assert_eq!(SplitAttributes::NAME, "SplitAttributes");
}

#[test]
fn name_accepts_every_allowed_character() {
    assert_eq!(EveryAllowedCharacter::NAME, "a.b-c_d:e/f9");
}

#[test]
fn versions_of_one_name_are_ordered() {
    let versions: Vec<u32> = registry::versions("billing.invoice_issued")
        .iter()
        .map(|info| info.version())
        .collect();
    assert_eq!(versions, [1, 3]);
    assert_eq!(
        registry::latest("billing.invoice_issued")
            .unwrap()
            .type_id(),
        std::any::TypeId::of::<InvoiceIssuedV3>()
    );
}

#[test]
fn registry_of_returns_own_info() {
    let info = registry::of::<InvoiceIssuedV1>().unwrap();
    assert!(std::ptr::eq(info, InvoiceIssuedV1::info()));
}

#[test]
fn registry_validates() {
    assert!(registry::validate().is_ok());
}

// ---------------------------------------------------------------------------
// Field type text
// ---------------------------------------------------------------------------

#[derive(Event, Serialize, Deserialize)]
struct FieldTypes {
    lines: Vec<(String, u32)>,
    tags: HashMap<String, Vec<u64>>,
    checksum: [u8; 4],
    note: Option<String>,
    qualified: std::collections::BTreeMap<u32, bool>,
    nested: Option<Vec<Option<(u8, i64)>>>,
    unit: (),
}

#[test]
fn field_type_text_is_normalised() {
    let cases = [
        ("lines", "Vec<(String, u32)>"),
        ("tags", "HashMap<String, Vec<u64>>"),
        ("checksum", "[u8; 4]"),
        ("note", "Option<String>"),
        ("qualified", "std::collections::BTreeMap<u32, bool>"),
        ("nested", "Option<Vec<Option<(u8, i64)>>>"),
        ("unit", "()"),
    ];
    for (field, expected) in cases {
        assert_eq!(field_type::<FieldTypes>(field), expected, "field `{field}`");
    }
}

// ---------------------------------------------------------------------------
// Source location
// ---------------------------------------------------------------------------

mod billing {
    use events::Event;
    use serde::{Deserialize, Serialize};

    #[derive(Event, Serialize, Deserialize)]
    pub struct LocationRefundIssued;
}

#[test]
fn file_is_this_file() {
    assert_eq!(billing::LocationRefundIssued::info().file(), file!());
    assert_eq!(
        billing::LocationRefundIssued::info().file(),
        "tests/derive.rs"
    );
}

#[test]
fn module_path_is_declaring_module() {
    assert_eq!(
        billing::LocationRefundIssued::info().module_path(),
        "derive::billing"
    );
    assert_eq!(
        billing::LocationRefundIssued::info().rust_type(),
        "derive::billing::LocationRefundIssued"
    );
}

#[test]
fn line_is_type_name_line() {
    #[derive(Event, Serialize, Deserialize)]
    struct LocationLineChecked;
    let expected = line!() - 1;

    assert_eq!(LocationLineChecked::info().line(), expected);
}

#[test]
fn line_skips_attributes_and_docs() {
    /// A doc comment above.
    #[derive(Event, Serialize, Deserialize)]
    #[event(version = 2)]
    struct LocationMultilineDeclared {
        id: u64,
    }
    let expected = line!() - 3;

    assert_eq!(LocationMultilineDeclared::info().line(), expected);
}

// ---------------------------------------------------------------------------
// `#[on]` handler information
// ---------------------------------------------------------------------------

#[derive(Event, Serialize, Deserialize)]
struct HandlerOrderChecked {
    step: u32,
}

/// Names of the handlers of `HandlerOrderChecked`, in the order they ran.
static RUN_ORDER: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

fn record(step: &'static str) {
    RUN_ORDER.lock().unwrap().push(step);
}

#[on(HandlerOrderChecked)]
fn default_named(_: &HandlerOrderChecked) {
    record("default_named");
}

#[on(HandlerOrderChecked, name = "custom.high", priority = 10)]
fn custom_high(_: &HandlerOrderChecked) {
    record("custom.high");
}

#[on(HandlerOrderChecked, name = "b.zero")]
fn zero_b(_: &HandlerOrderChecked) {
    record("b.zero");
}

#[on(HandlerOrderChecked, name = "a.zero", priority = 0)]
fn zero_a(_: &Envelope<HandlerOrderChecked>) {
    record("a.zero");
}

#[on(HandlerOrderChecked, name = "negative", priority = -5)]
async fn negative(_: &HandlerOrderChecked) {
    record("negative");
}

#[on(HandlerOrderChecked, name = "max", priority = 2147483647)]
fn max_priority(_: &HandlerOrderChecked) {
    record("max");
}

#[on(HandlerOrderChecked, name = "min", priority = -2147483648)]
fn min_priority(_: &HandlerOrderChecked) {
    record("min");
}

mod nested_handlers {
    use super::{record, HandlerOrderChecked};
    use events::on;

    #[on(HandlerOrderChecked)]
    pub(crate) fn r#in_module(_: &HandlerOrderChecked) {
        record("in_module");
    }
}

/// Handler names of `HandlerOrderChecked` in run order: highest priority
/// first, and names in byte order within one priority.
const EXPECTED_ORDER: [&str; 8] = [
    "max",
    "custom.high",
    "a.zero",
    "b.zero",
    "derive::default_named",
    "derive::nested_handlers::in_module",
    "negative",
    "min",
];

#[test]
fn handler_default_name_is_module_path() {
    let handler = registry::handlers_of::<HandlerOrderChecked>()
        .find(|handler| handler.function() == "derive::default_named")
        .unwrap();
    assert_eq!(handler.name(), "derive::default_named");
    assert_eq!(handler.priority(), 0);
}

#[test]
fn handler_in_module_named_by_module_path() {
    assert!(registry::handlers_of::<HandlerOrderChecked>()
        .any(|handler| handler.name() == "derive::nested_handlers::in_module"));
}

#[test]
fn handler_custom_name_keeps_function() {
    let handler = registry::handlers_of::<HandlerOrderChecked>()
        .find(|handler| handler.name() == "custom.high")
        .unwrap();
    assert_eq!(handler.function(), "derive::custom_high");
    assert_eq!(handler.priority(), 10);
}

#[test]
fn handlers_ordered_by_priority_then_name() {
    let names: Vec<&str> = registry::handlers_of::<HandlerOrderChecked>()
        .map(|handler| handler.name())
        .collect();
    assert_eq!(names, EXPECTED_ORDER);
}

#[test]
fn bus_handlers_match_registry_order() {
    let bus = Bus::new();
    let names: Vec<&str> = bus
        .handlers_of::<HandlerOrderChecked>()
        .iter()
        .map(|handler| handler.name())
        .collect();
    assert_eq!(names, EXPECTED_ORDER);
}

#[test]
fn handlers_run_in_registered_order() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let report = runtime.block_on(Bus::new().emit_async(HandlerOrderChecked { step: 1 }));
    assert!(report.is_ok());
    assert_eq!(report.handlers_run(), 8);

    let ran = RUN_ORDER.lock().unwrap().clone();
    let expected: Vec<&str> = EXPECTED_ORDER
        .iter()
        .map(|name| name.rsplit("::").next().unwrap())
        .collect();
    assert_eq!(ran, expected);
}

#[test]
fn handler_flags_envelope_and_async() {
    let by_name = |name: &str| {
        registry::handlers_of::<HandlerOrderChecked>()
            .find(|handler| handler.name() == name)
            .unwrap()
    };
    assert!(by_name("a.zero").takes_envelope());
    assert!(!by_name("a.zero").is_async());
    assert!(!by_name("negative").takes_envelope());
    assert!(by_name("negative").is_async());
    assert!(!by_name("b.zero").takes_envelope());
    assert!(!by_name("b.zero").is_async());
}

#[test]
fn handler_event_is_its_event() {
    for handler in registry::handlers_of::<HandlerOrderChecked>() {
        assert!(std::ptr::eq(handler.event(), HandlerOrderChecked::info()));
    }
}

#[test]
fn handler_location_is_function_name() {
    #[derive(Event, Serialize, Deserialize)]
    struct HandlerLocated;

    #[on(HandlerLocated)]
    fn located(_: &HandlerLocated) {}
    let expected = line!() - 1;

    let handler = registry::handlers_of::<HandlerLocated>().next().unwrap();
    assert_eq!(handler.file(), file!());
    assert_eq!(handler.line(), expected);
}

#[test]
fn handlers_listing_includes_every_handler() {
    let count = registry::handlers()
        .iter()
        .filter(|handler| handler.event().name() == "HandlerOrderChecked")
        .count();
    assert_eq!(count, EXPECTED_ORDER.len());
}

#[test]
fn event_without_handlers_has_none() {
    assert_eq!(registry::handlers_of::<ShapeUnit>().count(), 0);
    assert_eq!(Bus::new().emit(ShapeUnit).handlers_run(), 0);
}

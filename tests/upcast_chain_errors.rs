//! A program whose upcast chains are broken in every way a declaration can
//! break them: `registry::validate` reports all of them together, with the
//! Rust types and upcaster functions involved, and no bus can be built.
//!
//! - `ParcelShipped` v1 is a type with no upcast to v2, the latest.
//! - `InvoiceIssued` v1 has a typed upcast and a JSON upcaster.
//! - `RefundIssued` v1, whose type was deleted, has two JSON upcasters.
//! - `CartAbandoned` v1 has a JSON upcaster to v2, which has no type and no
//!   upcast onward; the latest version is 3.
//! - `GiftCardIssued` has JSON upcasters but no event type at all.

use events::registry::{self, ChainProblem};
use events::{upcaster, BuildError, Bus, DecodeErrorKind, Event};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Event, Serialize, Deserialize)]
#[event(name = "ParcelShipped", version = 1)]
struct ParcelShippedV1 {
    parcel_id: u64,
}

#[derive(Event, Serialize, Deserialize)]
#[event(version = 2)]
struct ParcelShipped {
    parcel_id: u64,
    carrier: String,
}

#[derive(Event, Serialize, Deserialize)]
#[event(name = "InvoiceIssued", version = 1)]
struct InvoiceIssuedV1 {
    invoice_id: u64,
}

#[derive(Event, Serialize, Deserialize)]
#[event(version = 2, upcast_from = InvoiceIssuedV1)]
struct InvoiceIssued {
    invoice_id: u64,
    due_days: u32,
}

impl From<InvoiceIssuedV1> for InvoiceIssued {
    fn from(v1: InvoiceIssuedV1) -> Self {
        InvoiceIssued {
            invoice_id: v1.invoice_id,
            due_days: 30,
        }
    }
}

/// The line of `fn invoice_v1` below.
const INVOICE_V1_LINE: u32 = line!() + 3;

#[upcaster(name = "InvoiceIssued", from = 1)]
fn invoice_v1(payload: Value) -> Result<Value, String> {
    Ok(payload)
}

/// The line of `fn refund_v1_to_v2` below.
const REFUND_V1_TO_V2_LINE: u32 = line!() + 3;

#[upcaster(name = "RefundIssued", from = 1)]
fn refund_v1_to_v2(payload: Value) -> Result<Value, String> {
    Ok(payload)
}

/// The line of `fn refund_v1_to_v3` below.
const REFUND_V1_TO_V3_LINE: u32 = line!() + 3;

#[upcaster(name = "RefundIssued", from = 1, to = 3)]
fn refund_v1_to_v3(payload: Value) -> Result<Value, String> {
    Ok(payload)
}

#[derive(Event, Serialize, Deserialize)]
#[event(name = "RefundIssued", version = 2)]
struct RefundIssuedV2 {
    refund_id: u64,
}

#[derive(Event, Serialize, Deserialize)]
#[event(version = 3, upcast_from = RefundIssuedV2)]
struct RefundIssued {
    refund_id: u64,
    reason: String,
}

impl From<RefundIssuedV2> for RefundIssued {
    fn from(v2: RefundIssuedV2) -> Self {
        RefundIssued {
            refund_id: v2.refund_id,
            reason: String::new(),
        }
    }
}

/// The line of `fn cart_v1` below.
const CART_V1_LINE: u32 = line!() + 3;

#[upcaster(name = "CartAbandoned", from = 1)]
fn cart_v1(payload: Value) -> Result<Value, String> {
    Ok(payload)
}

#[derive(Event, Serialize, Deserialize)]
#[event(version = 3)]
struct CartAbandoned {
    cart_id: u64,
}

/// The line of `fn gift_card_v1` below.
const GIFT_CARD_V1_LINE: u32 = line!() + 3;

#[upcaster(name = "GiftCardIssued", from = 1)]
fn gift_card_v1(payload: Value) -> Result<Value, String> {
    Ok(payload)
}

/// The line of `fn gift_card_v2` below.
const GIFT_CARD_V2_LINE: u32 = line!() + 3;

#[upcaster(name = "GiftCardIssued", from = 2)]
fn gift_card_v2(payload: Value) -> Result<Value, String> {
    Ok(payload)
}

/// Formats the step of the JSON upcaster `function` at `line` of this file.
fn json_step(from: u32, to: u32, function: &str, line: u32) -> String {
    format!(
        "v{from} -> v{to}: JSON upcaster `upcast_chain_errors::{function}` ({}:{line})",
        file!()
    )
}

const INVOICE_TYPED_STEP: &str = "v1 -> v2: `From`/`TryFrom` conversion from `upcast_chain_errors::InvoiceIssuedV1` to `upcast_chain_errors::InvoiceIssued`";

fn expected_problems() -> Vec<ChainProblem> {
    vec![
        ChainProblem::Gap {
            name: "CartAbandoned",
            step: json_step(1, 2, "cart_v1", CART_V1_LINE),
            missing: 2,
        },
        ChainProblem::NoEventType {
            name: "GiftCardIssued",
            upcasters: vec![
                json_step(1, 2, "gift_card_v1", GIFT_CARD_V1_LINE),
                json_step(2, 3, "gift_card_v2", GIFT_CARD_V2_LINE),
            ],
        },
        ChainProblem::TwoUpcasters {
            name: "InvoiceIssued",
            from: 1,
            steps: vec![
                INVOICE_TYPED_STEP.to_owned(),
                json_step(1, 2, "invoice_v1", INVOICE_V1_LINE),
            ],
        },
        ChainProblem::NoPath {
            name: "ParcelShipped",
            version: 1,
            latest: 2,
            rust_type: Some("upcast_chain_errors::ParcelShippedV1"),
        },
        ChainProblem::TwoUpcasters {
            name: "RefundIssued",
            from: 1,
            steps: vec![
                json_step(1, 2, "refund_v1_to_v2", REFUND_V1_TO_V2_LINE),
                json_step(1, 3, "refund_v1_to_v3", REFUND_V1_TO_V3_LINE),
            ],
        },
    ]
}

/// Returns the text of each expected problem, in the order of
/// `expected_problems`.
fn expected_lines() -> Vec<String> {
    vec![
        format!(
            "`CartAbandoned` {} leads to v2, which has no event type and no upcast onward; register v2 or upcast straight to an existing version",
            json_step(1, 2, "cart_v1", CART_V1_LINE)
        ),
        format!(
            "upcasters of `GiftCardIssued` exist but no event type has that name: {}; {}",
            json_step(1, 2, "gift_card_v1", GIFT_CARD_V1_LINE),
            json_step(2, 3, "gift_card_v2", GIFT_CARD_V2_LINE)
        ),
        format!(
            "`InvoiceIssued` has 2 upcasts from v1: {INVOICE_TYPED_STEP}; {}; keep one",
            json_step(1, 2, "invoice_v1", INVOICE_V1_LINE)
        ),
        "`ParcelShipped` v1 (`upcast_chain_errors::ParcelShippedV1`) has no upcast to a newer version, so stored v1 events cannot reach v2; declare `upcast_from` on the next version's type or add `#[upcaster(name = \"ParcelShipped\", from = 1)]`".to_owned(),
        format!(
            "`RefundIssued` has 2 upcasts from v1: {}; {}; keep one",
            json_step(1, 2, "refund_v1_to_v2", REFUND_V1_TO_V2_LINE),
            json_step(1, 3, "refund_v1_to_v3", REFUND_V1_TO_V3_LINE)
        ),
    ]
}

fn expected_report() -> String {
    let mut report = "broken upcast chains:".to_owned();
    for line in expected_lines() {
        report.push_str("\n  - ");
        report.push_str(&line);
    }
    report
}

/// Asserts that every expected problem is in `problems`, in the expected
/// order, and returns the problems that are not expected.
fn check_expected_present(problems: &[ChainProblem]) -> Vec<&ChainProblem> {
    let expected = expected_problems();
    let mut positions = Vec::new();
    for problem in &expected {
        let position = problems.iter().position(|found| found == problem);
        assert!(position.is_some(), "{problem:?} is not in {problems:#?}");
        positions.push(position);
    }
    assert!(positions.is_sorted(), "out of order: {problems:#?}");
    problems
        .iter()
        .filter(|problem| !expected.contains(problem))
        .collect()
}

#[test]
fn validate_reports_every_problem() {
    let error = registry::validate().unwrap_err();

    assert!(error.duplicates().is_empty());
    check_expected_present(error.chain_problems());
}

#[test]
fn problem_texts() {
    let error = registry::validate().unwrap_err();

    let texts: Vec<String> = error
        .chain_problems()
        .iter()
        .map(ToString::to_string)
        .collect();
    for line in expected_lines() {
        assert!(texts.contains(&line), "{line:?} is not in {texts:#?}");
    }
}

#[test]
fn build_fails_with_registry_error() {
    let error = Bus::builder().build().unwrap_err();

    let BuildError::Registry(registry_error) = &error else {
        panic!("expected BuildError::Registry, got {error:?}");
    };
    check_expected_present(registry_error.chain_problems());
    let text = error.to_string();
    assert_eq!(text, registry::validate().unwrap_err().to_string());
    assert!(text.starts_with("broken upcast chains:\n  - "), "{text}");
    for line in expected_lines() {
        assert!(
            text.contains(&format!("\n  - {line}")),
            "{line:?} is not in {text}"
        );
    }
}

#[test]
fn two_upcasts_not_reported_as_none() {
    let error = registry::validate().unwrap_err();

    let unexpected = check_expected_present(error.chain_problems());
    assert!(
        unexpected.is_empty(),
        "unexpected problems: {unexpected:#?}"
    );
}

#[test]
fn validate_error_text() {
    let error = registry::validate().unwrap_err();

    assert_eq!(error.chain_problems(), expected_problems());
    assert_eq!(error.to_string(), expected_report());
}

#[test]
fn unambiguous_steps_still_listed() {
    // The clash from v1 leaves out both of its steps, and the step from v2
    // stays.
    let refund: Vec<(u32, u32)> = registry::upcast_steps("RefundIssued")
        .iter()
        .map(|step| (step.from_version(), step.to_version()))
        .collect();
    assert_eq!(refund, [(2, 3)]);

    assert!(registry::upcast_steps("InvoiceIssued").is_empty());
    assert!(registry::upcast_steps("ParcelShipped").is_empty());
    assert!(registry::upcast_steps("GiftCardIssued").is_empty());
}

#[test]
fn stranded_version_fails_on_decode() {
    // `ParcelShipped` v1 cannot be upgraded, and the handlers of v2 would
    // never see it, so decoding reports the broken chain.
    let bytes = br#"{"specversion":"1.0","id":"p-1","source":"warehouse","type":"ParcelShipped","data":{"parcel_id":4}}"#;

    let error = events::decode(bytes).unwrap_err();

    assert_eq!(error.reason(), "broken upcast chain");
    assert!(
        matches!(
            error.kind(),
            DecodeErrorKind::BrokenChain {
                name: "ParcelShipped",
                version: 1,
                latest: 2,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("registry::validate()"),
        "{error}"
    );
}

#[test]
fn stranded_version_decodes_when_kept() {
    let bytes = br#"{"specversion":"1.0","id":"p-1","source":"warehouse","type":"ParcelShipped","data":{"parcel_id":4}}"#;

    let envelope = events::Decoder::new()
        .keep_version(true)
        .decode(bytes)
        .unwrap();

    assert_eq!(envelope.version(), 1);
    assert_eq!(envelope.upcast_from(), None);
    assert_eq!(envelope.payload::<ParcelShippedV1>().unwrap().parcel_id, 4);
}

#[test]
fn gap_fails_on_decode() {
    let bytes = br#"{"specversion":"1.0","id":"c-1","source":"shop","type":"CartAbandoned","data":{"cart_id":4}}"#;

    let error = events::decode(bytes).unwrap_err();

    let DecodeErrorKind::Upcast {
        from,
        to,
        step,
        message,
        ..
    } = error.kind()
    else {
        panic!("expected an upcast error, got {error:?}");
    };
    assert_eq!((*from, *to), (1, 3));
    assert_eq!(*step, (2, 3));
    assert_eq!(message, "no upcast from v2");
}

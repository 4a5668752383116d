//! A program in which two event types share a name and version: validation
//! reports both declarations, lookups panic with that report, and a bus cannot
//! be built.

use std::panic::catch_unwind;

use events::registry::{self, Registry, RegistryError};
use events::{BuildError, Bus, Event};
use serde::{Deserialize, Serialize};

mod billing {
    use events::Event;
    use serde::{Deserialize, Serialize};

    /// The line of the `struct` below, the declaration's name.
    pub const LINE: u32 = line!() + 3;
    #[derive(Event, Serialize, Deserialize)]
    #[event(name = "invoice.paid", version = 1)]
    pub struct InvoicePaid {
        pub invoice_id: u64,
    }
}

mod ledger {
    use events::Event;
    use serde::{Deserialize, Serialize};

    /// The line of the `struct` below, the declaration's name.
    pub const LINE: u32 = line!() + 3;
    #[derive(Event, Serialize, Deserialize)]
    #[event(name = "invoice.paid", version = 1)]
    pub struct InvoicePaid {
        pub amount_cents: u64,
    }

    /// Same name, another version: no clash.
    #[derive(Event, Serialize, Deserialize)]
    #[event(name = "invoice.paid", version = 2)]
    pub struct InvoicePaidV2 {
        pub amount_cents: u64,
    }
}

/// An event that clashes with nothing.
#[derive(Event, Serialize, Deserialize)]
#[event(name = "invoice.voided")]
struct InvoiceVoided;

fn billing_location() -> String {
    format!("{}:{}", file!(), billing::LINE)
}

fn ledger_location() -> String {
    format!("{}:{}", file!(), ledger::LINE)
}

/// Returns the panic message of `run`, which must panic.
fn panic_message(run: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let payload = catch_unwind(run).expect_err("the call panics");
    if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else {
        panic!("the panic payload is not a string");
    }
}

fn assert_names_both_declarations(message: &str) {
    assert!(
        message.contains("event `invoice.paid` version 1"),
        "{message}"
    );
    assert!(
        message.contains("`registry_duplicates::billing::InvoicePaid`"),
        "{message}"
    );
    assert!(
        message.contains("`registry_duplicates::ledger::InvoicePaid`"),
        "{message}"
    );
    assert!(message.contains(&billing_location()), "{message}");
    assert!(message.contains(&ledger_location()), "{message}");
    assert!(
        message.contains("give one of each pair another `#[event(name = \"...\")]` or `version`"),
        "{message}"
    );
}

#[test]
fn derived_locations_match_declarations() {
    assert_eq!(billing::InvoicePaid::info().file(), file!());
    assert_eq!(billing::InvoicePaid::info().line(), billing::LINE);
    assert_eq!(ledger::InvoicePaid::info().line(), ledger::LINE);
}

#[test]
fn validate_names_both_declarations() {
    let error = registry::validate().expect_err("two types share invoice.paid version 1");

    assert_names_both_declarations(&error.to_string());
    assert_eq!(
        error.to_string(),
        format!(
            "duplicate event registrations:\n  \
             - event `invoice.paid` version 1 is registered by both \
             `registry_duplicates::billing::InvoicePaid` ({}) and \
             `registry_duplicates::ledger::InvoicePaid` ({})\n\
             fix: give one of each pair another `#[event(name = \"...\")]` or `version`",
            billing_location(),
            ledger_location(),
        )
    );
}

#[test]
fn validate_lists_only_clashing_pair() {
    let error = registry::validate().expect_err("two types share invoice.paid version 1");

    let duplicates = error.duplicates();
    assert_eq!(duplicates.len(), 1);
    let (first, second) = duplicates[0].infos();
    assert!(std::ptr::eq(first, billing::InvoicePaid::info()));
    assert!(std::ptr::eq(second, ledger::InvoicePaid::info()));
}

#[test]
#[should_panic(expected = "is registered by both `registry_duplicates::billing::InvoicePaid`")]
fn all_panics_on_duplicates() {
    registry::all();
}

#[test]
#[should_panic(expected = "is registered by both `registry_duplicates::billing::InvoicePaid`")]
fn find_panics_on_duplicates() {
    // An event without a clash does not avoid the panic: the registry is built as a whole.
    registry::find("invoice.voided", 1);
}

#[test]
fn lookups_panic_with_validate_message() {
    let expected = registry::validate().unwrap_err().to_string();

    let lookups: [(&str, fn()); 6] = [
        ("all", || {
            registry::all();
        }),
        ("find", || {
            registry::find("invoice.paid", 2);
        }),
        ("latest", || {
            registry::latest("invoice.paid");
        }),
        ("versions", || {
            registry::versions("invoice.paid");
        }),
        ("of", || {
            registry::of::<InvoiceVoided>();
        }),
        ("global", || {
            registry::global();
        }),
    ];
    for (name, lookup) in lookups {
        let message = panic_message(lookup);
        assert_eq!(message, expected, "panic message of registry::{name}");
    }
}

#[test]
fn bus_builder_returns_registry_error() {
    let error = Bus::builder()
        .build()
        .expect_err("a bus cannot be built over duplicates");

    let BuildError::Registry(registry_error) = &error else {
        panic!("expected BuildError::Registry, got {error:?}");
    };
    assert_eq!(registry_error.duplicates().len(), 1);
    assert_names_both_declarations(&error.to_string());
}

#[test]
fn bus_new_panics_with_registry_error() {
    let message = panic_message(|| {
        Bus::new();
    });

    assert!(
        message.starts_with("cannot build the event bus: duplicate event registrations:"),
        "{message}"
    );
    assert_names_both_declarations(&message);
}

#[test]
fn registry_new_reports_hand_picked_duplicate() {
    let error: RegistryError = Registry::new([
        InvoiceVoided::info(),
        ledger::InvoicePaid::info(),
        ledger::InvoicePaidV2::info(),
        billing::InvoicePaid::info(),
    ])
    .expect_err("billing and ledger share invoice.paid version 1");

    let duplicates = error.duplicates();
    assert_eq!(duplicates.len(), 1);
    let (first, second) = duplicates[0].infos();
    // Ordered by Rust type path, whatever the input order.
    assert_eq!(
        first.rust_type(),
        "registry_duplicates::billing::InvoicePaid"
    );
    assert_eq!(
        second.rust_type(),
        "registry_duplicates::ledger::InvoicePaid"
    );
    assert_names_both_declarations(&error.to_string());
}

#[test]
fn registry_new_accepts_set_without_clash() {
    let registry = Registry::new([
        billing::InvoicePaid::info(),
        ledger::InvoicePaidV2::info(),
        InvoiceVoided::info(),
    ])
    .expect("versions 1 and 2 of invoice.paid do not clash");

    assert!(std::ptr::eq(
        registry
            .find("invoice.paid", 1)
            .expect("version 1 is registered"),
        billing::InvoicePaid::info()
    ));
    assert_eq!(
        registry.latest("invoice.paid").map(|info| info.version()),
        Some(2)
    );
}

#[test]
fn decode_panics_on_duplicates() {
    let bytes = br#"{"specversion":"1.0","id":"1","source":"s","type":"invoice.voided"}"#;

    let message = panic_message(|| {
        let _ = events::decode(bytes);
    });

    assert_names_both_declarations(&message);
}

#[test]
fn chosen_registry_decodes_despite_duplicates() {
    let registry = Registry::new([billing::InvoicePaid::info(), InvoiceVoided::info()]).unwrap();
    let bytes = br#"{"specversion":"1.0","id":"1","source":"s","type":"invoice.paid","data":{"invoice_id":4}}"#;

    let decoded = events::Decoder::with_registry(&registry)
        .decode(bytes)
        .expect("invoice.paid 1 is in the chosen registry");

    assert_eq!(
        decoded
            .payload::<billing::InvoicePaid>()
            .map(|event| event.invoice_id),
        Some(4)
    );
}

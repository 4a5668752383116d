//! `events::testing`: the recorder, the assertion macros, `assert_routes`,
//! and the fakes of `BusBuilder` used together with them.
//!
//! Every bus built here runs every handler in this file, so each test that
//! has handlers uses event types of its own. Events without handlers are
//! shared, because each test records into its own recorder.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};

use events::testing::{assert_routes, Recorder};
use events::{assert_emitted, assert_not_emitted, on, Bus, Context, Envelope, Event};
use serde::{Deserialize, Serialize};

// Events without handlers.

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "testing.order_placed")]
struct OrderPlaced {
    order_id: u64,
    total_cents: u64,
}

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "testing.refund_issued")]
struct RefundIssued(u64, String);

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "testing.cart_emptied")]
struct CartEmptied;

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "testing.note_added")]
struct NoteAdded {
    text: String,
}

/// A payload that serde cannot write as JSON: map keys must be strings.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "testing.stock_counted")]
struct StockCounted {
    by_shelf: HashMap<(u32, u32), u32>,
}

mod shop {
    use events::Event;
    use serde::{Deserialize, Serialize};

    #[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
    #[event(name = "testing.shop.item_added")]
    pub struct ItemAdded {
        pub sku: String,
        pub quantity: u32,
    }

    #[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
    #[event(name = "testing.shop.checkout_abandoned")]
    pub struct CheckoutAbandoned;
}

/// Returns a recorder and a bus that shows it every event.
fn recorded_bus() -> (Recorder, Bus) {
    let recorder = Recorder::new();
    let bus = Bus::builder()
        .observer(recorder.clone())
        .build()
        .expect("the handlers of this file need no state");
    (recorder, bus)
}

/// Runs `assertion` and returns the message it panicked with.
fn panic_message(assertion: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(assertion)).expect_err("the assertion passed");
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => (*payload.downcast::<&str>().expect("a string panic")).to_owned(),
    }
}

// Recording.

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "testing.checkout_started")]
struct CheckoutStarted {
    cart_id: u64,
}

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "testing.stock_reserved")]
struct StockReserved {
    cart_id: u64,
}

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "testing.stock_logged")]
struct StockLogged {
    cart_id: u64,
}

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "testing.payment_started")]
struct PaymentStarted {
    cart_id: u64,
}

#[on(CheckoutStarted)]
fn start_checkout(checkout: &CheckoutStarted, cx: Context) {
    cx.emit(StockReserved {
        cart_id: checkout.cart_id,
    });
    cx.emit(PaymentStarted {
        cart_id: checkout.cart_id,
    });
}

#[on(StockReserved)]
fn log_stock(stock: &StockReserved, cx: Context) {
    cx.emit(StockLogged {
        cart_id: stock.cart_id,
    });
}

#[test]
fn recorder_records_follow_ups_depth_first() {
    let (recorder, bus) = recorded_bus();

    let report = bus.emit(CheckoutStarted { cart_id: 4 });

    assert!(report.is_ok(), "{report}");
    assert_eq!(
        recorder.names(),
        [
            "testing.checkout_started",
            "testing.stock_reserved",
            "testing.stock_logged",
            "testing.payment_started",
        ]
    );
    assert_eq!(recorder.len(), 4);
    assert_eq!(
        recorder.events::<StockLogged>(),
        [StockLogged { cart_id: 4 }]
    );
}

#[test]
fn recorder_metadata_links_follow_ups() {
    let (recorder, bus) = recorded_bus();

    bus.emit(CheckoutStarted { cart_id: 5 });

    let metadata = recorder.metadata();
    let [started, reserved, logged, payment] = &metadata[..] else {
        panic!("expected four events, got {:?}", recorder.names());
    };
    assert_eq!(started.causation_id(), None);
    assert_eq!(reserved.causation_id(), Some(started.id()));
    assert_eq!(logged.causation_id(), Some(reserved.id()));
    assert_eq!(payment.causation_id(), Some(started.id()));
    for follow_up in [reserved, logged, payment] {
        assert_eq!(follow_up.correlation_id(), Some(started.id()));
    }
}

#[test]
fn recorder_records_event_without_handlers() {
    let (recorder, bus) = recorded_bus();

    let report = bus.emit(CartEmptied);

    assert_eq!(report.handlers_run(), 0);
    assert_eq!(recorder.names(), ["testing.cart_emptied"]);
    assert_eq!(recorder.count::<CartEmptied>(), 1);
    assert_eq!(recorder.events::<CartEmptied>(), [CartEmptied]);
}

#[test]
fn recorder_records_dispatched_envelope() {
    let (recorder, bus) = recorded_bus();
    let json = br#"{"specversion":"1.0","id":"note-1","source":"crm","type":"testing.note_added","data":{"text":"call back"}}"#;

    bus.dispatch(&events::decode(json).unwrap());

    let envelopes = recorder.envelopes::<NoteAdded>();
    assert_eq!(envelopes.len(), 1);
    assert_eq!(envelopes[0].id().to_string(), "note-1");
    assert_eq!(envelopes[0].source(), "crm");
    assert_eq!(envelopes[0].text, "call back");
}

#[test]
fn recorder_envelopes_keep_metadata() {
    let recorder = Recorder::new();
    let bus = Bus::builder()
        .source("urn:shop:orders")
        .observer(recorder.clone())
        .build()
        .unwrap();

    bus.emit(OrderPlaced {
        order_id: 1,
        total_cents: 10,
    });
    bus.emit_envelope(
        Envelope::new(OrderPlaced {
            order_id: 2,
            total_cents: 20,
        })
        .with_subject("order-2")
        .with_extension("tenant", "acme"),
    );

    let envelopes = recorder.envelopes::<OrderPlaced>();
    assert_eq!(envelopes.len(), 2);
    assert_eq!(envelopes[0].source(), "urn:shop:orders");
    assert_eq!(envelopes[0].subject(), None);
    assert_eq!(envelopes[1].subject(), Some("order-2"));
    assert_eq!(envelopes[1].extensions()["tenant"].to_string(), "acme");
    assert_eq!(envelopes[1].order_id, 2);
    assert_eq!(envelopes[1].id(), recorder.metadata()[1].id());
}

#[test]
fn recorder_counts_and_decodes_by_type() {
    let (recorder, bus) = recorded_bus();

    bus.emit(OrderPlaced {
        order_id: 1,
        total_cents: 10,
    });
    bus.emit(CartEmptied);
    bus.emit(OrderPlaced {
        order_id: 2,
        total_cents: 20,
    });

    assert_eq!(recorder.count::<OrderPlaced>(), 2);
    assert_eq!(recorder.count::<CartEmptied>(), 1);
    assert_eq!(recorder.count::<NoteAdded>(), 0);
    assert_eq!(
        recorder.events::<OrderPlaced>(),
        [
            OrderPlaced {
                order_id: 1,
                total_cents: 10
            },
            OrderPlaced {
                order_id: 2,
                total_cents: 20
            },
        ]
    );
    assert!(recorder.events::<NoteAdded>().is_empty());
}

#[test]
fn recorder_clones_share_records() {
    let recorder = Recorder::new();
    let bus = Bus::builder().observer(recorder.clone()).build().unwrap();
    assert!(recorder.is_empty());

    bus.emit(CartEmptied);
    let other = recorder.clone();
    bus.emit(CartEmptied);

    assert_eq!(recorder.len(), 2);
    assert_eq!(other.len(), 2);
    other.clear();
    assert!(recorder.is_empty());
    assert_eq!(recorder.len(), 0);
    assert!(recorder.names().is_empty());
}

#[test]
fn recorder_debug_lists_names() {
    let (recorder, bus) = recorded_bus();

    bus.emit(CartEmptied);

    assert_eq!(
        format!("{recorder:?}"),
        r#"Recorder { events: ["testing.cart_emptied"] }"#
    );
}

#[test]
fn recorder_events_panics_on_payload_without_json() {
    let (recorder, bus) = recorded_bus();

    bus.emit(StockCounted {
        by_shelf: HashMap::from([((1, 2), 30)]),
    });

    assert_eq!(recorder.names(), ["testing.stock_counted"]);
    assert_eq!(recorder.count::<StockCounted>(), 1);
    let message = panic_message(|| {
        recorder.events::<StockCounted>();
    });
    assert!(
        message.starts_with("recorded `testing.stock_counted` event "),
        "{message}"
    );
    assert!(
        message.contains("could not be encoded as JSON: key must be a string"),
        "{message}"
    );
}

// Recording at `async` call sites.

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "testing.upload_finished")]
struct UploadFinished {
    file_id: u64,
}

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "testing.thumbnail_rendered")]
struct ThumbnailRendered {
    file_id: u64,
}

#[on(UploadFinished)]
async fn render_thumbnail(upload: &UploadFinished, cx: Context<'_>) {
    tokio::task::yield_now().await;
    cx.emit_async(ThumbnailRendered {
        file_id: upload.file_id,
    })
    .await;
}

#[tokio::test]
async fn recorder_records_async_follow_ups() {
    let (recorder, bus) = recorded_bus();

    let report = bus.emit_async(UploadFinished { file_id: 9 }).await;

    assert!(report.is_ok(), "{report}");
    assert_eq!(
        recorder.names(),
        ["testing.upload_finished", "testing.thumbnail_rendered"]
    );
    assert_emitted!(recorder, ThumbnailRendered { file_id: 9 });
}

// Pattern forms of `assert_emitted!`.

#[test]
fn assert_emitted_matches_struct_pattern() {
    let (recorder, bus) = recorded_bus();

    bus.emit(OrderPlaced {
        order_id: 7,
        total_cents: 1_250,
    });

    assert_emitted!(recorder, OrderPlaced { order_id: 7, .. });
    assert_emitted!(
        recorder,
        OrderPlaced {
            order_id: 7,
            total_cents: 1_250
        }
    );
    assert_emitted!(recorder, OrderPlaced { .. },);
    assert_emitted!(
        &recorder,
        OrderPlaced {
            order_id: 5..=9,
            ..
        }
    );
}

#[test]
fn assert_emitted_matches_with_guard() {
    let (recorder, bus) = recorded_bus();
    let expected_order = 7;

    bus.emit(OrderPlaced {
        order_id: 7,
        total_cents: 1_250,
    });

    assert_emitted!(recorder, OrderPlaced { total_cents, .. } if *total_cents > 100);
    assert_emitted!(recorder, OrderPlaced { order_id, .. } if *order_id == expected_order);
    let message = panic_message(|| {
        assert_emitted!(recorder, OrderPlaced { total_cents, .. } if *total_cents > 5_000);
    });
    assert!(
        message.starts_with("no recorded `testing.order_placed` event matches `OrderPlaced"),
        "{message}"
    );
    assert!(message.contains("if *total_cents > 5_000"), "{message}");
}

#[test]
fn assert_emitted_matches_tuple_and_unit_structs() {
    let (recorder, bus) = recorded_bus();

    bus.emit(RefundIssued(7, "damaged".into()));
    bus.emit(CartEmptied);

    assert_emitted!(recorder, RefundIssued(7, _));
    assert_emitted!(recorder, RefundIssued(_, reason) if reason == "damaged");
    assert_emitted!(recorder, CartEmptied);
    assert_emitted!(recorder, CartEmptied, times = 1);
    assert_not_emitted!(recorder, RefundIssued(8, _));
}

#[test]
fn assert_emitted_matches_module_path() {
    let (recorder, bus) = recorded_bus();

    bus.emit(shop::ItemAdded {
        sku: "mug".into(),
        quantity: 2,
    });
    bus.emit(shop::CheckoutAbandoned);

    assert_emitted!(recorder, shop::ItemAdded { sku, quantity: 2 } if sku == "mug");
    assert_emitted!(recorder, self::shop::ItemAdded { .. });
    assert_emitted!(recorder, crate::shop::CheckoutAbandoned);
    assert_not_emitted!(recorder, shop::ItemAdded { quantity: 3, .. });
}

#[test]
fn assert_emitted_works_through_runtime_crate() {
    let recorder = events_core::testing::Recorder::new();
    let bus = events_core::Bus::builder()
        .observer(recorder.clone())
        .build()
        .unwrap();

    bus.emit(CartEmptied);

    events_core::assert_emitted!(recorder, CartEmptied);
    events_core::assert_not_emitted!(recorder, OrderPlaced { .. });
    events_core::testing::assert_emitted!(recorder, CartEmptied, times = 1);
}

// Counts.

#[test]
fn assert_emitted_times_counts_matches() {
    let (recorder, bus) = recorded_bus();

    for order_id in 1..=3 {
        bus.emit(OrderPlaced {
            order_id,
            total_cents: order_id * 100,
        });
    }

    assert_emitted!(recorder, OrderPlaced { .. }, times = 3);
    assert_emitted!(recorder, OrderPlaced { total_cents, .. } if *total_cents >= 200, times = 2);
    assert_emitted!(recorder, OrderPlaced { order_id: 9, .. }, times = 0);
}

#[test]
fn assert_emitted_times_fails_marking_matches() {
    let (recorder, bus) = recorded_bus();

    bus.emit(OrderPlaced {
        order_id: 1,
        total_cents: 100,
    });
    bus.emit(OrderPlaced {
        order_id: 2,
        total_cents: 200,
    });

    let message = panic_message(|| {
        assert_emitted!(recorder, OrderPlaced { order_id: 2, .. }, times = 2);
    });

    assert_eq!(
        message,
        "expected 2 recorded `testing.order_placed` events to match \
         `OrderPlaced { order_id: 2, .. }`, found 1\n\
         recorded `testing.order_placed` events (2), matching ones marked with `*`:\n    \
         {\"order_id\":1,\"total_cents\":100}\n  \
         * {\"order_id\":2,\"total_cents\":200}"
    );
}

#[test]
fn assert_emitted_times_fails_without_events() {
    let (recorder, bus) = recorded_bus();

    bus.emit(RefundIssued(1, "late".into()));

    let message = panic_message(|| {
        assert_emitted!(recorder, CartEmptied, times = 1);
    });

    assert_eq!(
        message,
        "expected 1 recorded `testing.cart_emptied` event to match `CartEmptied`, found 0\n\
         recorded events (1), none of them `testing.cart_emptied`:\n  \
         testing.refund_issued (1)"
    );
}

// Failure messages of `assert_emitted!`.

#[test]
fn assert_emitted_fails_listing_recorded_events() {
    let (recorder, bus) = recorded_bus();

    bus.emit(OrderPlaced {
        order_id: 8,
        total_cents: 90,
    });
    bus.emit(CartEmptied);
    bus.emit(OrderPlaced {
        order_id: 9,
        total_cents: 10,
    });

    let message = panic_message(|| {
        assert_emitted!(recorder, OrderPlaced { order_id: 7, .. });
    });

    assert_eq!(
        message,
        "no recorded `testing.order_placed` event matches `OrderPlaced { order_id: 7, .. }`\n\
         recorded `testing.order_placed` events (2):\n  \
         {\"order_id\":8,\"total_cents\":90}\n  \
         {\"order_id\":9,\"total_cents\":10}"
    );
}

#[test]
fn assert_emitted_fails_naming_recorded_types() {
    let (recorder, bus) = recorded_bus();

    bus.emit(CartEmptied);
    bus.emit(RefundIssued(1, "late".into()));
    bus.emit(CartEmptied);

    let message = panic_message(|| {
        assert_emitted!(recorder, OrderPlaced { .. });
    });

    assert_eq!(
        message,
        "no recorded `testing.order_placed` event matches `OrderPlaced { .. }`\n\
         recorded events (3), none of them `testing.order_placed`:\n  \
         testing.cart_emptied (2)\n  \
         testing.refund_issued (1)"
    );
}

#[test]
fn assert_emitted_fails_on_empty_recorder() {
    let recorder = Recorder::new();

    let message = panic_message(|| {
        assert_emitted!(recorder, CartEmptied);
    });

    assert!(
        message.starts_with("no recorded `testing.cart_emptied` event matches `CartEmptied`\n"),
        "{message}"
    );
    assert!(
        message.contains("the recorder contains no events"),
        "{message}"
    );
    assert!(
        message.contains("Bus::builder().observer(recorder.clone())"),
        "{message}"
    );
}

#[test]
fn assert_emitted_truncates_long_payloads() {
    let (recorder, bus) = recorded_bus();

    bus.emit(NoteAdded {
        text: "é".repeat(300),
    });

    let message = panic_message(|| {
        assert_emitted!(recorder, NoteAdded { text } if text.is_empty());
    });

    let listed = message.lines().last().unwrap();
    assert!(listed.starts_with("  {\"text\":\"éé"), "{message}");
    assert!(listed.ends_with("... (611 bytes)"), "{message}");
    assert!(listed.len() < 230, "{message}");
}

#[test]
fn assert_emitted_lists_at_most_ten_events() {
    let (recorder, bus) = recorded_bus();

    for order_id in 0..12 {
        bus.emit(OrderPlaced {
            order_id,
            total_cents: 0,
        });
    }

    let message = panic_message(|| {
        assert_emitted!(recorder, OrderPlaced { total_cents: 1, .. });
    });

    assert!(message.contains("events (12):"), "{message}");
    assert!(message.contains(r#"{"order_id":9,"#), "{message}");
    assert!(!message.contains(r#"{"order_id":10,"#), "{message}");
    assert!(message.ends_with("\n  ... and 2 more"), "{message}");
}

// `assert_not_emitted!`.

#[test]
fn assert_not_emitted_passes_without_match() {
    let (recorder, bus) = recorded_bus();

    bus.emit(OrderPlaced {
        order_id: 7,
        total_cents: 1_250,
    });

    assert_not_emitted!(recorder, CartEmptied);
    assert_not_emitted!(recorder, OrderPlaced { order_id: 8, .. });
    assert_not_emitted!(recorder, OrderPlaced { total_cents, .. } if *total_cents > 2_000);
    assert_not_emitted!(recorder, RefundIssued(..));
}

#[test]
fn assert_not_emitted_fails_listing_matches() {
    let (recorder, bus) = recorded_bus();

    for order_id in 1..=3 {
        bus.emit(OrderPlaced {
            order_id,
            total_cents: 500,
        });
    }

    let message = panic_message(|| {
        assert_not_emitted!(recorder, OrderPlaced { order_id, .. } if *order_id >= 2);
    });

    assert_eq!(
        message,
        "expected no recorded `testing.order_placed` event to match \
         `OrderPlaced { order_id, .. } if *order_id >= 2`, found 2:\n  \
         {\"order_id\":2,\"total_cents\":500}\n  \
         {\"order_id\":3,\"total_cents\":500}"
    );
}

// Fakes: disabled and replaced handlers.

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "testing.signup_completed")]
struct SignupCompleted {
    user_id: u64,
}

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "testing.welcome_mailed")]
struct WelcomeMailed {
    user_id: u64,
}

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "testing.crm_synced")]
struct CrmSynced {
    user_id: u64,
}

#[on(SignupCompleted, name = "testing.signup.mail")]
fn mail_welcome(signup: &SignupCompleted, cx: Context) {
    cx.emit(WelcomeMailed {
        user_id: signup.user_id,
    });
}

#[on(SignupCompleted, name = "testing.signup.crm", priority = 10)]
fn sync_crm(signup: &SignupCompleted, cx: Context) {
    cx.emit(CrmSynced {
        user_id: signup.user_id,
    });
}

#[test]
fn disabled_handler_emits_no_follow_up() {
    let recorder = Recorder::new();
    let bus = Bus::builder()
        .observer(recorder.clone())
        .disable("testing.signup.mail")
        .build()
        .unwrap();

    let report = bus.emit(SignupCompleted { user_id: 3 });

    assert_eq!(report.handlers_run(), 1);
    assert_routes::<SignupCompleted>(&bus, &["testing.signup.crm"]);
    assert_emitted!(recorder, CrmSynced { user_id: 3 });
    assert_not_emitted!(recorder, WelcomeMailed { .. });
}

#[test]
fn enabled_handlers_emit_follow_ups() {
    let (recorder, bus) = recorded_bus();

    bus.emit(SignupCompleted { user_id: 4 });

    assert_eq!(
        recorder.names(),
        [
            "testing.signup_completed",
            "testing.crm_synced",
            "testing.welcome_mailed",
        ]
    );
}

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "testing.payment_due")]
struct PaymentDue {
    cents: u64,
}

#[on(PaymentDue, name = "testing.psp.charge")]
async fn charge(_: &PaymentDue) -> Result<(), String> {
    Err("reached the payment provider".into())
}

#[test]
fn replaced_handler_runs_fake() {
    static CHARGED_CENTS: AtomicU64 = AtomicU64::new(0);
    let recorder = Recorder::new();
    let bus = Bus::builder()
        .observer(recorder.clone())
        .replace(
            "testing.psp.charge",
            |due: &PaymentDue| -> Result<(), String> {
                if due.cents > 10_000 {
                    return Err(format!("{} cents declined", due.cents));
                }
                CHARGED_CENTS.fetch_add(due.cents, Ordering::SeqCst);
                Ok(())
            },
        )
        .build()
        .unwrap();

    let accepted = bus.emit(PaymentDue { cents: 500 });
    let declined = bus.emit(PaymentDue { cents: 50_000 });

    assert!(accepted.is_ok(), "{accepted}");
    assert_eq!(declined.failures().len(), 1);
    assert_eq!(
        declined.failures()[0].error().to_string(),
        "50000 cents declined"
    );
    assert_eq!(CHARGED_CENTS.load(Ordering::SeqCst), 500);
    assert_routes::<PaymentDue>(&bus, &["testing.psp.charge"]);
    assert_emitted!(recorder, PaymentDue { .. }, times = 2);
}

// `assert_routes`.

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "testing.invoice_issued")]
struct InvoiceIssued {
    invoice_id: u64,
}

#[on(InvoiceIssued, name = "testing.invoice.archive")]
fn archive_invoice(_: &InvoiceIssued) {}

#[on(InvoiceIssued, name = "testing.invoice.book", priority = 5)]
fn book_invoice(_: &InvoiceIssued) {}

#[test]
fn assert_routes_passes_in_run_order() {
    let bus = Bus::new();

    assert_routes::<InvoiceIssued>(&bus, &["testing.invoice.book", "testing.invoice.archive"]);
    assert_routes::<CartEmptied>(&bus, &[]);
}

#[test]
fn assert_routes_fails_with_both_lists() {
    let bus = Bus::new();

    let message = panic_message(|| {
        assert_routes::<InvoiceIssued>(&bus, &["testing.invoice.archive", "testing.invoice.book"]);
    });

    assert_eq!(
        message,
        "the bus routes `testing.invoice_issued` to handlers \
         [\"testing.invoice.book\", \"testing.invoice.archive\"], \
         expected [\"testing.invoice.archive\", \"testing.invoice.book\"]"
    );
}

#[test]
fn assert_routes_fails_on_disabled_handler() {
    let bus = Bus::builder()
        .disable("testing.invoice.archive")
        .build()
        .unwrap();

    let message = panic_message(|| {
        assert_routes::<InvoiceIssued>(&bus, &["testing.invoice.book", "testing.invoice.archive"]);
    });

    assert!(
        message.contains(r#"handlers ["testing.invoice.book"], expected"#),
        "{message}"
    );
}

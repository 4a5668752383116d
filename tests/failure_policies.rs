//! Failure policies at synchronous call sites: retries, backoff, the final
//! policy (`dead_letter`, `log`, `stop`), the dead-letter store and
//! redispatch, the depth limit, and bus-wide defaults that handler
//! attributes override.
//!
//! Tests run in parallel, so each test emits its own event types and counts
//! calls in its own statics.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use events::dead_letter::{
    DeadLetter, DeadLetterId, DeadLetterReason, DeadLetterStore, InMemoryDeadLetters, StoreError,
};
use events::policy::{OnFailure, Retry};
use events::{on, Bus, Context, Envelope, Event, HandlerError, RedispatchError, Rejection};
use serde::{Deserialize, Serialize};

fn calls(counter: &AtomicU32) -> u32 {
    counter.load(Ordering::SeqCst)
}

/// Counts a call and returns its number, from 1.
fn count(counter: &AtomicU32) -> u32 {
    counter.fetch_add(1, Ordering::SeqCst) + 1
}

// A handler that succeeds on its third attempt.

#[derive(Event, Serialize, Deserialize)]
struct StockSynced;

static STOCK_SYNC_CALLS: AtomicU32 = AtomicU32::new(0);

#[on(StockSynced, attempts = 3)]
fn sync_stock(_: &StockSynced) -> Result<(), String> {
    let call = count(&STOCK_SYNC_CALLS);
    if call < 3 {
        return Err(format!("warehouse timeout on call {call}"));
    }
    Ok(())
}

#[test]
fn retry_succeeds_on_last_attempt() {
    let bus = Bus::new();

    let report = bus.emit(StockSynced);

    assert!(report.is_ok(), "{report}");
    assert_eq!(report.handlers_run(), 1);
    assert_eq!(calls(&STOCK_SYNC_CALLS), 3);
    assert!(bus.dead_letters().list().unwrap().is_empty());
}

// A handler that fails on every attempt ends in the dead-letter store.

#[derive(Event, Serialize, Deserialize)]
struct InvoiceExported {
    invoice_id: u64,
}

static EXPORT_CALLS: AtomicU32 = AtomicU32::new(0);

#[on(InvoiceExported, name = "erp.export", attempts = 4)]
fn export_invoice(invoice: &InvoiceExported) -> Result<(), String> {
    count(&EXPORT_CALLS);
    Err(format!("ERP rejected invoice {}", invoice.invoice_id))
}

#[test]
fn exhausted_retries_write_dead_letter() {
    let bus = Bus::new();
    let envelope = Envelope::new(InvoiceExported { invoice_id: 12 }).with_id("invoice-12");

    let report = bus.emit_envelope(envelope);

    assert_eq!(calls(&EXPORT_CALLS), 4);
    assert_eq!(report.handlers_run(), 1);
    let failure = &report.failures()[0];
    assert_eq!(failure.handler(), "erp.export");
    assert_eq!(failure.attempts(), 4);
    assert_eq!(
        failure.error(),
        &HandlerError::Failed("ERP rejected invoice 12".into())
    );
    let id = failure
        .dead_letter()
        .expect("the failure has a dead letter");
    assert_eq!(
        failure.to_string(),
        format!("erp.export: ERP rejected invoice 12 (after 4 attempts); kept as dead letter {id}")
    );

    let letters = bus.dead_letters().list().unwrap();
    assert_eq!(letters.len(), 1);
    let (listed_id, letter) = &letters[0];
    assert_eq!(*listed_id, id);
    assert_eq!(letter.reason(), DeadLetterReason::HandlerFailed);
    assert_eq!(letter.handler(), Some("erp.export"));
    assert_eq!(letter.attempts(), 4);
    assert_eq!(letter.error(), "ERP rejected invoice 12");
    assert_eq!(letter.event_name(), "InvoiceExported");
    assert_eq!(letter.event_version(), 1);
    assert_eq!(letter.event_id(), "invoice-12");
    assert!(letter.first_attempt_at() <= letter.failed_at());
    assert_eq!(
        letter.to_string(),
        "`InvoiceExported` v1 invoice-12 at `erp.export`: handler failed after 4 attempt(s): ERP rejected invoice 12"
    );
    let debug = format!("{letter:?}");
    assert!(debug.contains(r#"\"id\":\"invoice-12\""#), "{debug}");
    assert!(debug.contains("attempts: 4"), "{debug}");
}

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
struct CreditNoteIssued {
    note_id: u64,
    lines: Vec<String>,
}

#[on(CreditNoteIssued)]
fn export_credit_note(note: &CreditNoteIssued) -> Result<(), String> {
    Err(format!("ERP rejected credit note {}", note.note_id))
}

#[test]
fn dead_letter_event_decodes_back() {
    let bus = Bus::new();
    let note = CreditNoteIssued {
        note_id: 13,
        lines: vec!["refund: 4.99".into(), "shipping: 0.00".into()],
    };
    let envelope = Envelope::new(note)
        .with_id("credit-note-13")
        .with_subject("credit-notes/13");

    let report = bus.emit_envelope(envelope);

    let id = report.failures()[0].dead_letter().unwrap();
    let letter = bus.dead_letters().get(id).unwrap().unwrap();
    let decoded = events::decode(letter.event()).expect("the dead letter holds CloudEvents JSON");
    assert_eq!(decoded.name(), "CreditNoteIssued");
    assert_eq!(decoded.id(), &events::EventId::from("credit-note-13"));
    let decoded = decoded
        .downcast::<CreditNoteIssued>()
        .expect("the event decodes to its type");
    assert_eq!(decoded.subject(), Some("credit-notes/13"));
    assert_eq!(
        decoded.into_payload(),
        CreditNoteIssued {
            note_id: 13,
            lines: vec!["refund: 4.99".into(), "shipping: 0.00".into()],
        }
    );
}

// Redispatch after the cause is fixed.

#[derive(Event, Serialize, Deserialize)]
struct LedgerSynced {
    entry_id: u64,
}

static LEDGER_UP: AtomicBool = AtomicBool::new(false);
static LEDGER_SYNC_CALLS: AtomicU32 = AtomicU32::new(0);
static LEDGER_AUDIT_CALLS: AtomicU32 = AtomicU32::new(0);

#[on(LedgerSynced, name = "ledger.sync")]
fn sync_ledger(entry: &LedgerSynced) -> Result<(), String> {
    count(&LEDGER_SYNC_CALLS);
    if LEDGER_UP.load(Ordering::SeqCst) {
        Ok(())
    } else {
        Err(format!("ledger unreachable for entry {}", entry.entry_id))
    }
}

#[on(LedgerSynced, name = "ledger.audit")]
fn audit_ledger(_: &LedgerSynced) {
    count(&LEDGER_AUDIT_CALLS);
}

#[test]
fn redispatch_after_fix_removes_letter() {
    let bus = Bus::new();
    let failed = bus.emit(LedgerSynced { entry_id: 5 });
    let id = failed.failures()[0].dead_letter().unwrap();
    assert_eq!(bus.dead_letters().list().unwrap().len(), 1);

    LEDGER_UP.store(true, Ordering::SeqCst);
    let report = bus.redispatch(id).expect("the letter exists and decodes");

    assert!(report.is_ok(), "{report}");
    assert_eq!(report.handlers_run(), 1);
    assert_eq!(calls(&LEDGER_SYNC_CALLS), 2);
    // Only the handler that failed runs again.
    assert_eq!(calls(&LEDGER_AUDIT_CALLS), 1);
    assert!(bus.dead_letters().get(id).unwrap().is_none());
    assert!(bus.dead_letters().list().unwrap().is_empty());
}

#[derive(Event, Serialize, Deserialize)]
struct PayoutSent {
    payout_id: u64,
}

#[on(PayoutSent, name = "bank.payout")]
fn send_payout(payout: &PayoutSent) -> Result<(), String> {
    Err(format!("bank rejected payout {}", payout.payout_id))
}

#[test]
fn redispatch_failing_again_keeps_new_letter() {
    let bus = Bus::new();
    let id = bus.emit(PayoutSent { payout_id: 9 }).failures()[0]
        .dead_letter()
        .unwrap();

    let report = bus.redispatch(id).unwrap();

    assert_eq!(report.failures().len(), 1);
    let again = report.failures()[0]
        .dead_letter()
        .expect("a new dead letter");
    assert_ne!(again, id);
    assert!(bus.dead_letters().get(id).unwrap().is_none());
    let letter = bus.dead_letters().get(again).unwrap().unwrap();
    assert_eq!(letter.error(), "bank rejected payout 9");
    assert_eq!(letter.handler(), Some("bank.payout"));
}

#[test]
fn redispatch_unknown_id_fails() {
    let bus = Bus::new();

    let error = bus.redispatch(DeadLetterId(999)).unwrap_err();

    assert!(
        matches!(error, RedispatchError::NotFound(DeadLetterId(999))),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "no dead letter has id 999");
}

#[test]
fn redispatch_to_disabled_handler_keeps_letter() {
    let store = Arc::new(InMemoryDeadLetters::new());
    let bus = Bus::builder()
        .shared_dead_letters(store.clone())
        .build()
        .unwrap();
    let id = bus.emit(PayoutSent { payout_id: 10 }).failures()[0]
        .dead_letter()
        .unwrap();
    let without_payout = Bus::builder()
        .shared_dead_letters(store.clone())
        .disable("bank.payout")
        .build()
        .unwrap();

    let error = without_payout.redispatch(id).unwrap_err();

    assert!(
        matches!(error, RedispatchError::UnknownHandler { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!("dead letter {id} is for handler `bank.payout` of `PayoutSent`, which this bus does not run")
    );
    assert!(store.get(id).unwrap().is_some());
}

// `on_failure = "log"`.

#[derive(Event, Serialize, Deserialize)]
struct AuditWritten;

#[on(AuditWritten, name = "audit.write", on_failure = "log", attempts = 2)]
fn write_audit(_: &AuditWritten) -> Result<(), String> {
    Err("audit disk full".into())
}

#[test]
fn on_failure_log_keeps_no_letter() {
    let bus = Bus::new();

    let report = bus.emit(AuditWritten);

    assert!(!report.is_ok());
    let failure = &report.failures()[0];
    assert_eq!(failure.handler(), "audit.write");
    assert_eq!(failure.attempts(), 2);
    assert_eq!(failure.dead_letter(), None);
    assert!(bus.dead_letters().list().unwrap().is_empty());
}

// `on_failure = "stop"`.

#[derive(Event, Serialize, Deserialize)]
struct CheckoutValidated;

static CHECKOUT_LOG: Mutex<Vec<&str>> = Mutex::new(Vec::new());

#[on(CheckoutValidated, name = "checkout.trace", priority = 20)]
fn trace_checkout(_: &CheckoutValidated) {
    CHECKOUT_LOG.lock().unwrap().push("trace");
}

#[on(
    CheckoutValidated,
    name = "checkout.validate",
    priority = 10,
    on_failure = "stop"
)]
fn validate_checkout(_: &CheckoutValidated) -> Result<(), String> {
    CHECKOUT_LOG.lock().unwrap().push("validate");
    Err("cart is empty".into())
}

#[on(CheckoutValidated, name = "checkout.charge", priority = 5)]
fn charge_checkout(_: &CheckoutValidated) {
    CHECKOUT_LOG.lock().unwrap().push("charge");
}

#[on(CheckoutValidated, name = "checkout.mail")]
fn mail_checkout(_: &CheckoutValidated) {
    CHECKOUT_LOG.lock().unwrap().push("mail");
}

#[test]
fn on_failure_stop_skips_later_handlers() {
    let bus = Bus::new();

    let report = bus.emit(CheckoutValidated);

    assert_eq!(*CHECKOUT_LOG.lock().unwrap(), ["trace", "validate"]);
    assert_eq!(report.handlers_run(), 2);
    let failures: Vec<(&str, &HandlerError, u32)> = report
        .failures()
        .iter()
        .map(|failure| (failure.handler(), failure.error(), failure.attempts()))
        .collect();
    assert_eq!(
        failures,
        [
            (
                "checkout.validate",
                &HandlerError::Failed("cart is empty".into()),
                1
            ),
            (
                "checkout.charge",
                &HandlerError::Stopped("checkout.validate"),
                0
            ),
            (
                "checkout.mail",
                &HandlerError::Stopped("checkout.validate"),
                0
            ),
        ]
    );
    assert!(report.failures().iter().all(|f| f.dead_letter().is_none()));
    assert!(bus.dead_letters().list().unwrap().is_empty());
    assert_eq!(
        report.to_string(),
        "`CheckoutValidated`: 2 handler(s) ran, 1 failed, 2 not run\n  \
         - checkout.validate: cart is empty\n  \
         - checkout.charge: not run: handler `checkout.validate` failed and stops the event\n  \
         - checkout.mail: not run: handler `checkout.validate` failed and stops the event"
    );
}

// Panics are failures and are retried.

#[derive(Event, Serialize, Deserialize)]
struct ThumbnailRendered;

static THUMBNAIL_CALLS: AtomicU32 = AtomicU32::new(0);

#[on(ThumbnailRendered, attempts = 2)]
fn render_thumbnail(_: &ThumbnailRendered) {
    if count(&THUMBNAIL_CALLS) == 1 {
        panic!("image decoder crashed");
    }
}

#[test]
fn panicking_handler_retried() {
    let bus = Bus::new();

    let report = bus.emit(ThumbnailRendered);

    assert!(report.is_ok(), "{report}");
    assert_eq!(calls(&THUMBNAIL_CALLS), 2);
}

#[derive(Event, Serialize, Deserialize)]
struct PreviewRendered;

static PREVIEW_CALLS: AtomicU32 = AtomicU32::new(0);

#[on(PreviewRendered, name = "preview.render", attempts = 3)]
fn render_preview(_: &PreviewRendered) {
    count(&PREVIEW_CALLS);
    panic!("preview decoder crashed");
}

#[test]
fn always_panicking_handler_dead_lettered() {
    let bus = Bus::new();

    let report = bus.emit(PreviewRendered);

    assert_eq!(calls(&PREVIEW_CALLS), 3);
    let failure = &report.failures()[0];
    assert_eq!(
        failure.error(),
        &HandlerError::Panicked("preview decoder crashed".into())
    );
    assert_eq!(failure.attempts(), 3);
    let letter = bus
        .dead_letters()
        .get(failure.dead_letter().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(letter.error(), "panicked: preview decoder crashed");
    assert_eq!(letter.attempts(), 3);
}

// Backoff between attempts. Only lower bounds on time are checked, because
// a loaded machine may run the attempts later than asked.

#[derive(Event, Serialize, Deserialize)]
struct WebhookDelivered;

static WEBHOOK_ATTEMPTS: Mutex<Vec<Instant>> = Mutex::new(Vec::new());

#[on(WebhookDelivered, attempts = 3, backoff = fixed("5ms"))]
fn deliver_webhook(_: &WebhookDelivered) -> Result<(), String> {
    WEBHOOK_ATTEMPTS.lock().unwrap().push(Instant::now());
    Err("endpoint returned 503".into())
}

#[test]
fn fixed_backoff_waits_between_attempts() {
    let bus = Bus::new();
    let started = Instant::now();

    let report = bus.emit(WebhookDelivered);

    assert!(started.elapsed() >= Duration::from_millis(10));
    assert_eq!(report.failures()[0].attempts(), 3);
    let attempts = WEBHOOK_ATTEMPTS.lock().unwrap().clone();
    assert_eq!(attempts.len(), 3);
    for pair in attempts.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(5),
            "{attempts:?}"
        );
    }
}

#[derive(Event, Serialize, Deserialize)]
struct FeedRefreshed;

static FEED_ATTEMPTS: Mutex<Vec<Instant>> = Mutex::new(Vec::new());

#[on(FeedRefreshed, attempts = 4, backoff = exponential("2ms", "5ms"))]
fn refresh_feed(_: &FeedRefreshed) -> Result<(), String> {
    FEED_ATTEMPTS.lock().unwrap().push(Instant::now());
    Err("feed returned 502".into())
}

#[test]
fn exponential_backoff_doubles_up_to_max() {
    let bus = Bus::new();
    let started = Instant::now();

    bus.emit(FeedRefreshed);

    // Waits of 2ms, 4ms and 5ms (4ms doubled, capped at 5ms).
    assert!(started.elapsed() >= Duration::from_millis(11));
    let attempts = FEED_ATTEMPTS.lock().unwrap().clone();
    assert_eq!(attempts.len(), 4);
    let minimum_waits = [2, 4, 5].map(Duration::from_millis);
    for (pair, minimum) in attempts.windows(2).zip(minimum_waits) {
        assert!(pair[1] - pair[0] >= minimum, "{attempts:?}");
    }
}

#[derive(Event, Serialize, Deserialize)]
struct CacheWarmed;

static CACHE_ATTEMPTS: Mutex<Vec<Instant>> = Mutex::new(Vec::new());

#[on(CacheWarmed, attempts = 3, backoff = fixed("10ms"), jitter)]
fn warm_cache(_: &CacheWarmed) -> Result<(), String> {
    CACHE_ATTEMPTS.lock().unwrap().push(Instant::now());
    Err("cache node down".into())
}

#[test]
fn jittered_backoff_waits_at_least_half() {
    let handler = events::registry::handlers_of::<CacheWarmed>()
        .next()
        .unwrap();
    assert_eq!(
        handler.retry().unwrap().to_string(),
        "3 attempts, fixed 10ms with jitter"
    );
    let bus = Bus::new();

    bus.emit(CacheWarmed);

    let attempts = CACHE_ATTEMPTS.lock().unwrap().clone();
    assert_eq!(attempts.len(), 3);
    for pair in attempts.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(5),
            "{attempts:?}"
        );
    }
}

// The depth limit stops a cascade of events that emit each other.

#[derive(Event, Serialize, Deserialize)]
struct PriceChanged {
    remaining: u32,
}

#[derive(Event, Serialize, Deserialize)]
struct CatalogRepriced {
    remaining: u32,
}

static PRICE_CALLS: AtomicU32 = AtomicU32::new(0);
static CATALOG_CALLS: AtomicU32 = AtomicU32::new(0);

#[on(PriceChanged)]
fn reprice_catalog(price: &PriceChanged, cx: Context) {
    count(&PRICE_CALLS);
    if price.remaining > 0 {
        cx.emit(CatalogRepriced {
            remaining: price.remaining - 1,
        });
    }
}

#[on(CatalogRepriced)]
fn change_prices(catalog: &CatalogRepriced, cx: Context) {
    count(&CATALOG_CALLS);
    if catalog.remaining > 0 {
        cx.emit(PriceChanged {
            remaining: catalog.remaining - 1,
        });
    }
}

#[test]
fn depth_limit_stops_cascade() {
    let bus = Bus::builder().max_depth(2).build().unwrap();

    let report = bus.emit(PriceChanged { remaining: 10 });

    // Depths 0, 1 and 2 run; the emit at depth 3 is rejected.
    assert_eq!(calls(&PRICE_CALLS), 2);
    assert_eq!(calls(&CATALOG_CALLS), 1);
    assert!(!report.is_ok());
    assert!(report.failures().is_empty());
    let deepest = &report.follow_ups()[0].follow_ups()[0].follow_ups()[0];
    let chain = vec![
        "PriceChanged",
        "CatalogRepriced",
        "PriceChanged",
        "CatalogRepriced",
    ];
    assert_eq!(
        deepest.rejected(),
        Some(&Rejection::DepthExceeded {
            chain: chain.clone(),
            max_depth: 2
        })
    );
    assert_eq!(deepest.handlers_run(), 0);
    assert_eq!(
        deepest.rejected().unwrap().to_string(),
        "event chain PriceChanged -> CatalogRepriced -> PriceChanged -> CatalogRepriced is deeper than the limit of 2; look for handlers that emit each other's events, or raise the limit with `BusBuilder::max_depth`"
    );

    let letters = bus.dead_letters().list().unwrap();
    assert_eq!(letters.len(), 1);
    let letter = &letters[0].1;
    assert_eq!(letter.reason(), DeadLetterReason::DepthExceeded);
    assert_eq!(letter.event_name(), "CatalogRepriced");
    assert_eq!(letter.handler(), None);
    assert_eq!(letter.attempts(), 0);
    assert_eq!(
        letter.error(),
        "event chain PriceChanged -> CatalogRepriced -> PriceChanged -> CatalogRepriced is deeper than the limit of 2"
    );
    let decoded = events::decode(letter.event()).unwrap();
    let payload = decoded.payload::<CatalogRepriced>().unwrap();
    assert_eq!(payload.remaining, 7);

    // The bus is not left in a nested state: a short chain afterwards runs.
    let later = bus.emit(PriceChanged { remaining: 1 });

    assert!(later.is_ok(), "{later}");
    assert_eq!(calls(&PRICE_CALLS), 3);
    assert_eq!(calls(&CATALOG_CALLS), 2);
    assert_eq!(bus.dead_letters().list().unwrap().len(), 1);
}

// Bus-wide defaults and the attributes that override them.

#[derive(Event, Serialize, Deserialize)]
struct ShipmentTracked;

static TRACK_DEFAULT_CALLS: AtomicU32 = AtomicU32::new(0);
static TRACK_TWICE_CALLS: AtomicU32 = AtomicU32::new(0);

#[on(ShipmentTracked, name = "track.default")]
fn track_default(_: &ShipmentTracked) -> Result<(), String> {
    count(&TRACK_DEFAULT_CALLS);
    Err("carrier API down".into())
}

#[on(ShipmentTracked, name = "track.twice", attempts = 2)]
fn track_twice(_: &ShipmentTracked) -> Result<(), String> {
    count(&TRACK_TWICE_CALLS);
    Err("carrier API down".into())
}

#[test]
fn bus_retry_overridden_by_attribute() {
    let bus = Bus::builder().retry(Retry::attempts(3)).build().unwrap();

    let report = bus.emit(ShipmentTracked);

    assert_eq!(calls(&TRACK_DEFAULT_CALLS), 3);
    assert_eq!(calls(&TRACK_TWICE_CALLS), 2);
    let attempts: Vec<(&str, u32)> = report
        .failures()
        .iter()
        .map(|failure| (failure.handler(), failure.attempts()))
        .collect();
    assert_eq!(attempts, [("track.default", 3), ("track.twice", 2)]);
}

#[derive(Event, Serialize, Deserialize)]
struct TaxFiled;

#[on(TaxFiled, name = "tax.default")]
fn file_tax(_: &TaxFiled) -> Result<(), String> {
    Err("tax office offline".into())
}

#[on(TaxFiled, name = "tax.kept", on_failure = "dead_letter")]
fn file_tax_kept(_: &TaxFiled) -> Result<(), String> {
    Err("tax office offline".into())
}

#[test]
fn bus_on_failure_overridden_by_attribute() {
    let bus = Bus::builder().on_failure(OnFailure::Log).build().unwrap();

    let report = bus.emit(TaxFiled);

    let kept: Vec<(&str, bool)> = report
        .failures()
        .iter()
        .map(|failure| (failure.handler(), failure.dead_letter().is_some()))
        .collect();
    assert_eq!(kept, [("tax.default", false), ("tax.kept", true)]);
    let letters = bus.dead_letters().list().unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].1.handler(), Some("tax.kept"));
}

// Dead-letter stores given to the bus.

#[test]
fn shared_store_receives_letters() {
    let store = Arc::new(InMemoryDeadLetters::new());
    let bus = Bus::builder()
        .shared_dead_letters(store.clone())
        .build()
        .unwrap();

    let report = bus.emit(PayoutSent { payout_id: 11 });

    let id = report.failures()[0].dead_letter().unwrap();
    let letter = store.get(id).unwrap().expect("the caller's store has it");
    assert_eq!(letter.error(), "bank rejected payout 11");
}

/// A store whose database is down.
struct UnreachableStore;

impl DeadLetterStore for UnreachableStore {
    fn push(&self, _: DeadLetter) -> Result<DeadLetterId, StoreError> {
        Err(StoreError::new("database unreachable"))
    }

    fn list(&self) -> Result<Vec<(DeadLetterId, DeadLetter)>, StoreError> {
        Err(StoreError::new("database unreachable"))
    }

    fn get(&self, _: DeadLetterId) -> Result<Option<DeadLetter>, StoreError> {
        Err(StoreError::new("database unreachable"))
    }

    fn remove(&self, _: DeadLetterId) -> Result<Option<DeadLetter>, StoreError> {
        Err(StoreError::new("database unreachable"))
    }
}

#[test]
fn failing_store_leaves_failure_without_letter() {
    let bus = Bus::builder()
        .dead_letters(UnreachableStore)
        .build()
        .unwrap();

    let report = bus.emit(PayoutSent { payout_id: 12 });

    assert_eq!(report.failures().len(), 1);
    assert_eq!(report.failures()[0].dead_letter(), None);
    let error = bus.redispatch(DeadLetterId(1)).unwrap_err();
    assert!(matches!(error, RedispatchError::Store(_)), "{error:?}");
    assert_eq!(error.to_string(), "dead-letter store: database unreachable");
}

// An `async` handler at a synchronous call site is not run and not retried.

#[derive(Event, Serialize, Deserialize)]
struct AvatarResized;

static AVATAR_CALLS: AtomicU32 = AtomicU32::new(0);

#[on(AvatarResized, name = "avatar.resize", attempts = 3)]
async fn resize_avatar(_: &AvatarResized) {
    count(&AVATAR_CALLS);
}

#[test]
fn async_handler_in_sync_emit_not_retried() {
    let bus = Bus::new();

    let report = bus.emit(AvatarResized);

    assert_eq!(calls(&AVATAR_CALLS), 0);
    assert_eq!(report.handlers_run(), 0);
    let failure = &report.failures()[0];
    assert_eq!(failure.error(), &HandlerError::NeedsAsync);
    assert_eq!(failure.attempts(), 0);
    assert_eq!(failure.dead_letter(), None);
    assert!(bus.dead_letters().list().unwrap().is_empty());
}

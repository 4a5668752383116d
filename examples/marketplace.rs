//! A simulated day of an online marketplace, built on typed events.
//!
//! ```text
//! cargo run --example marketplace                        # catalog, then a day of 200 orders, stored
//! cargo run --example marketplace -- --seed 7 --orders 50
//! cargo run --example marketplace -- --write day.jsonl   # also save every envelope
//! cargo run --example marketplace -- --read day.jsonl    # replay a saved day
//! cargo run --example marketplace -- --store day.sqlite3  # store the day in this event store
//! cargo run --example marketplace -- --replay-store day.sqlite3   # replay the last stored day
//! cargo run --example marketplace -- --catalog asyncapi  # only the catalog: json, markdown or asyncapi
//! cargo run --example marketplace -- --replay-v1 examples/data/orders-v1.jsonl
//! cargo run --features schema --example marketplace -- --lock-write examples/marketplace.lock.json
//! cargo run --features schema --example marketplace -- --lock-check examples/marketplace.lock.json
//! cargo run --features schema --example marketplace -- --lock-check examples/marketplace.lock.json --mode full-transitive
//! cargo run --example marketplace -- --help
//! ```
//!
//! The program first prints the catalog: every registered event with its
//! version, kind, description and fields, and the handlers of each event in
//! the order the day's bus resolved for them. Each handler is listed with its
//! priority, its `after` and `before` constraints, the retry, failure and
//! timeout options of its `#[on]` attribute, the state types it takes and
//! the file and line that define it. The program then simulates a day and
//! prints a summary. Users register, vendors create products and sync their
//! stock from an ERP, customers place orders, an AI shopping assistant
//! answers requests, and sellers finish training courses. The day is
//! deterministic: the same `--seed` and `--orders` give the same counts
//! (event ids and times differ between runs).
//!
//! # State
//!
//! Handlers keep their data in state given to the bus with
//! `Bus::builder().state(..)` and take it as `State<T>` parameters: the
//! [`Inventory`] (units on hand per SKU and the units reserved for each
//! unpaid order), the [`Ledger`] (one entry per captured payment) and the
//! [`Day`] (the day's counters and the journal of handled envelopes). A
//! state is shared read-only, so each one keeps its data behind a `Mutex`.
//! [`build_bus`] gives every bus new state, so a day starts from zero and
//! days on different threads never see each other's counts.
//!
//! # Follow-ups, order and failures
//!
//! Handlers chain: an order placed leads to a payment, the payment to a
//! fulfilment, and the fulfilment to a shipping notification. Handlers emit
//! these follow-ups through their `Context` parameter, so every event of
//! such a chain carries the id of its order's `OrderPlaced` event as
//! correlation id and the id of the event that caused it as causation id.
//!
//! `payments.charge_card` has a higher priority than
//! `inventory.reserve_stock`, but runs `after` it, so stock is reserved
//! before the card is charged.
//!
//! Orders paid with the card ending in [`DECLINED_CARD_LAST4`] are declined:
//! the charge releases the reservation, and its `on_failure = "log"` logs
//! the decline instead of keeping the order as a dead letter, because the
//! gateway's decline is final. AI requests beyond [`DAILY_TOKEN_QUOTA`] are
//! rejected and kept in the bus's dead-letter store. The simulated ERP is
//! busy on the first attempt to post the invoice of an order whose number is
//! a multiple of [`ERP_BUSY_EVERY`], and on the second attempt too for a
//! multiple of [`ERP_BUSY_TWICE_EVERY`]. The bus retries `erp.post_invoice`,
//! which has three attempts with exponential backoff, so every post
//! succeeds in the end.
//!
//! The summary lists the handler failures, counts the retried handler calls
//! and the events in the dead-letter store, and reports as lost every failed
//! event that the dead-letter policy should have kept but the store does not
//! contain. Retries and failures are also logged to stderr through `tracing`.
//!
//! # Saving and replaying a day
//!
//! `--write FILE` saves every envelope of the day, follow-ups included, as
//! CloudEvents JSON, one event per line, in the order the bus handled them:
//! each event comes before the events its handlers emitted.
//!
//! `--read FILE` decodes each line with [`events::decode`] (by the `type` and
//! `dataversion` attributes) and dispatches it to the same handlers on a new
//! bus. Because the file already contains the follow-ups, handlers do not emit
//! follow-ups during a replay: the `OrderPlaced` handlers still reserve stock
//! and try the payment (and still decline the same cards) but leave the
//! `PaymentSucceeded` event to the next line of the file. A replayed day
//! therefore prints the same summary as the day that wrote the file, with
//! the same event ids, retries and dead letters. Lines that cannot be
//! decoded are listed in the summary with their line number and reason, and
//! make the program exit with an error.
//!
//! # The event store
//!
//! A simulated day is also appended to an SQLite event store (see the
//! `events-store` crate): the file of `--store PATH`, else the file named by
//! the environment variable `EVENTS_MARKETPLACE_STORE`, else
//! `events-marketplace.sqlite3` in the system temp directory. `--no-store`
//! turns this off. The envelopes are appended when the day ends, in the
//! order the bus handled them, in batches of [`STORE_BATCH_EVENTS`]. Each
//! day goes to a new stream of the store, `day-1`, `day-2` and so on, so
//! a store keeps every day stored in it and no run overwrites an earlier one.
//!
//! `--replay-store PATH` replays the last day of the store at `PATH` into
//! handlers on a new bus with new state. `PATH` must be an event store
//! already: a missing file, a directory or another program's database is
//! rejected, and nothing is created or written in it. It reads the day's stream back,
//! decodes each event with [`events_store::StoredEvent::decode`] and
//! dispatches it with [`Bus::replay_async`], so handlers see
//! `Context::is_replay` and, as with `--read`, emit no follow-ups. It prints
//! the same summary as the day that stored the events. Events that cannot be
//! decoded are listed with their position in the store and make the program
//! exit with an error.
//!
//! Appending and replaying at least [`PROGRESS_FROM_EVENTS`] events show a
//! progress bar on standard error when it is a terminal, such as a day of
//! `--orders 100000`.
//!
//! # Versions
//!
//! `OrderPlaced` is at version 2, which itemises the VAT that prices
//! include, and [`OrderPlacedV1`] keeps the shape of version 1, which had
//! none. [`events::decode`] upgrades a version 1 event with
//! `From<OrderPlacedV1> for OrderPlaced`, so only version 2 has handlers.
//! `--replay-v1 FILE` decodes a file of stored events, such as the version 1
//! orders in `examples/data/orders-v1.jsonl`, and dispatches them to those
//! handlers. Unlike `--read`, it lets handlers emit follow-ups, and it needs
//! no server. It prints the day's summary, then how many events it read,
//! upgraded from version 1, handled, failed in a handler and could not decode.
//!
//! # Schema lock
//!
//! Every payload also derives `schemars::JsonSchema`, so with the `schema`
//! feature the catalog carries a JSON Schema for each event version.
//! `--lock-write PATH` records them in a lock file, and
//! `examples/marketplace.lock.json` is the committed one. `--lock-check PATH`
//! compares the program with a lock file under `--mode`, which defaults to
//! `backward-transitive`: consumers of each version read events of every
//! earlier version. It prints every break with its field path and fix, or
//! "compatible", and exits with an error on breaks. Without the `schema`
//! feature both options fail and name the feature to enable.
//!
//! The lock records that an upcaster leads from `OrderPlaced` version 1 to
//! version 2, so the check does not compare those two schemas with each
//! other: consumers of version 2 read version 1 events through the upcaster.

use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use std::fs::File;
use std::io::{BufWriter, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use anyhow::{anyhow, bail, Context as _};
use clap::Parser;
use events::catalog::{AsyncApiInfo, Catalog, CheckError};
use events::compat::{Break, Lock, Mode};
use events::policy::{Concurrency, OnFailure, Retry};
use events::{
    on, registry, Bus, Context, Envelope, Event, EventId, EventInfo, HandlerInfo, Report, State,
};
use events_store::{ExpectedVersion, Query, ReadFrom, SqliteStore, Store, StoreError};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom as _;
use rand::{Rng as _, SeedableRng as _};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Last four digits of the card that the simulated payment gateway declines.
///
/// `4000 0000 0000 0002` is a common test number for a declined card.
pub const DECLINED_CARD_LAST4: &str = "0002";

/// AI assistant tokens (prompt plus completion) one user may spend per day.
pub const DAILY_TOKEN_QUOTA: u64 = 15_000;

/// The simulated ERP is busy on the first attempt to post the invoice of
/// every order whose number is a multiple of this.
pub const ERP_BUSY_EVERY: u64 = 7;

/// The simulated ERP is busy on the first two attempts to post the invoice
/// of every order whose number is a multiple of this. `erp.post_invoice`
/// has three attempts, so these posts still succeed.
pub const ERP_BUSY_TWICE_EVERY: u64 = 35;

/// ISO 4217 code of every amount in the marketplace.
const CURRENCY: &str = "EUR";

/// Orders of at least this many cents ship for free.
const FREE_SHIPPING_FROM_CENTS: u64 = 5_000;

/// Shipping fee in cents for orders below [`FREE_SHIPPING_FROM_CENTS`].
const SHIPPING_FEE_CENTS: u64 = 495;

/// VAT rate of every product of the marketplace, in basis points: the
/// German standard rate of 19 %.
pub const STANDARD_VAT_RATE_BASIS_POINTS: u32 = 1_900;

/// The `source` attribute of every envelope the marketplace bus creates.
const SOURCE: &str = "https://marketplace.example/shop";

/// Retry policy of handlers whose `#[on]` attribute sets none.
const DEFAULT_RETRY: Retry = Retry::NONE;

/// Final policy of handlers whose `#[on]` attribute sets no `on_failure`.
const DEFAULT_ON_FAILURE: OnFailure = OnFailure::DeadLetter;

/// Concurrency of `async` handlers whose attribute does not set `concurrent`.
const DEFAULT_CONCURRENCY: Concurrency = Concurrency::Sequential;

// ---------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------

/// A customer placed an order, which is charged next.
///
/// Version 2 itemises the VAT that the prices include, per line and for the
/// order. Decoding upgrades version 1 events with `From<OrderPlacedV1>`, so
/// the handlers see version 2 only.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(version = 2, kind = "integration", upcast_from = OrderPlacedV1)]
pub struct OrderPlaced {
    /// Order number, unique within the marketplace.
    pub order_id: u64,
    /// Customer who placed the order.
    pub user_id: u64,
    /// Ordered products.
    pub lines: Vec<OrderLine>,
    /// Sum of the lines in cents, VAT included.
    pub subtotal_cents: u64,
    /// VAT included in `subtotal_cents`: the sum of the lines' VAT.
    pub vat_cents: u64,
    /// Shipping fee in cents, zero from the free-shipping threshold on.
    pub shipping_cents: u64,
    /// Amount to charge in cents: `subtotal_cents` plus `shipping_cents`.
    pub total_cents: u64,
    /// ISO 4217 code of every amount in the order.
    pub currency: String,
    /// Last four digits of the card the customer pays with.
    pub card_last4: String,
}

/// One product line of an order, with the VAT its price includes.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct OrderLine {
    /// Stock keeping unit of the product.
    pub sku: String,
    /// Number of units ordered.
    pub quantity: u32,
    /// Price of one unit in cents when the order was placed, VAT included.
    pub unit_price_cents: u64,
    /// VAT rate of the product in basis points: 1900 is 19 %.
    pub vat_rate_basis_points: u32,
    /// VAT included in the line's price (`quantity` × `unit_price_cents`), in cents.
    pub vat_cents: u64,
}

/// Version 1 of [`OrderPlaced`], which carried no VAT.
///
/// Orders stored before version 2 still have this shape, such as the ones
/// in `examples/data/orders-v1.jsonl`.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "OrderPlaced", version = 1, kind = "integration")]
pub struct OrderPlacedV1 {
    /// Order number, unique within the marketplace.
    pub order_id: u64,
    /// Customer who placed the order.
    pub user_id: u64,
    /// Ordered products.
    pub lines: Vec<OrderLineV1>,
    /// Shipping fee in cents, zero from the free-shipping threshold on.
    pub shipping_cents: u64,
    /// Amount to charge in cents: every line plus shipping.
    pub total_cents: u64,
    /// ISO 4217 code of every amount in the order.
    pub currency: String,
    /// Last four digits of the card the customer pays with.
    pub card_last4: String,
}

/// One product line of a version 1 order.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct OrderLineV1 {
    /// Stock keeping unit of the product.
    pub sku: String,
    /// Number of units ordered.
    pub quantity: u32,
    /// Price of one unit in cents when the order was placed, VAT included.
    pub unit_price_cents: u64,
}

impl OrderLine {
    /// Creates a line whose price includes VAT at `vat_rate_basis_points`.
    pub fn new(
        sku: String,
        quantity: u32,
        unit_price_cents: u64,
        vat_rate_basis_points: u32,
    ) -> OrderLine {
        let gross_cents = unit_price_cents * u64::from(quantity);
        OrderLine {
            sku,
            quantity,
            unit_price_cents,
            vat_rate_basis_points,
            vat_cents: included_vat_cents(gross_cents, vat_rate_basis_points),
        }
    }

    /// Returns the price of the line in cents, VAT included.
    pub fn gross_cents(&self) -> u64 {
        self.unit_price_cents * u64::from(self.quantity)
    }
}

impl From<OrderPlacedV1> for OrderPlaced {
    /// Upgrades a version 1 order. Version 1 prices already included VAT at
    /// [`STANDARD_VAT_RATE_BASIS_POINTS`], the rate of every product of the
    /// marketplace, so each line gets that rate and the VAT it implies. The
    /// amounts charged stay as they were.
    fn from(order: OrderPlacedV1) -> OrderPlaced {
        let lines: Vec<OrderLine> = order
            .lines
            .into_iter()
            .map(|line| {
                OrderLine::new(
                    line.sku,
                    line.quantity,
                    line.unit_price_cents,
                    STANDARD_VAT_RATE_BASIS_POINTS,
                )
            })
            .collect();
        OrderPlaced {
            order_id: order.order_id,
            user_id: order.user_id,
            subtotal_cents: lines.iter().map(OrderLine::gross_cents).sum(),
            vat_cents: lines.iter().map(|line| line.vat_cents).sum(),
            lines,
            shipping_cents: order.shipping_cents,
            total_cents: order.total_cents,
            currency: order.currency,
            card_last4: order.card_last4,
        }
    }
}

/// Returns the VAT included in a gross price, in cents, rounded half up:
/// `gross × rate / (10 000 + rate)` with the rate in basis points.
pub fn included_vat_cents(gross_cents: u64, vat_rate_basis_points: u32) -> u64 {
    let rate = u64::from(vat_rate_basis_points);
    let divisor = 10_000 + rate;
    (gross_cents * rate + divisor / 2) / divisor
}

/// The payment gateway captured the amount of an order.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "PaymentSucceeded", version = 1, kind = "integration")]
pub struct PaymentSucceeded {
    /// Payment reference of the gateway.
    pub payment_id: String,
    /// Order the payment is for.
    pub order_id: u64,
    /// Customer who paid.
    pub user_id: u64,
    /// Captured amount in cents.
    pub amount_cents: u64,
    /// ISO 4217 code of the amount.
    pub currency: String,
    /// Last four digits of the charged card.
    pub card_last4: String,
}

/// The warehouse handed a paid order to a carrier.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "OrderFulfilled", version = 1, kind = "domain")]
pub struct OrderFulfilled {
    /// Order that was shipped.
    pub order_id: u64,
    /// Customer who receives the parcel.
    pub user_id: u64,
    /// Shipment number of the warehouse.
    pub shipment_id: String,
    /// Carrier that transports the parcel.
    pub carrier: String,
    /// Tracking number issued by the carrier.
    pub tracking_number: String,
    /// Correlation id of the order's events, printed on the packing slip so
    /// that support staff can find every event of the order.
    pub order_reference: String,
}

/// A vendor added a product to the catalog.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "ProductCreated", version = 1, kind = "domain")]
pub struct ProductCreated {
    /// Stock keeping unit, unique within the marketplace.
    pub sku: String,
    /// Title shown in the shop.
    pub title: String,
    /// Vendor who sells the product.
    pub vendor_id: u64,
    /// Price of one unit in cents.
    pub price_cents: u64,
    /// ISO 4217 code of the price.
    pub currency: String,
    /// Units in stock when the product was created.
    pub stock: u32,
}

/// A visitor created a customer account.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "UserRegistered", version = 1, kind = "domain")]
pub struct UserRegistered {
    /// Account number, unique within the marketplace.
    pub user_id: u64,
    /// Email address the account was registered with.
    pub email: String,
    /// ISO 3166-1 alpha-2 code of the shipping country.
    pub country: String,
    /// Referral code the visitor signed up with, if any.
    pub referral_code: Option<String>,
}

/// A message to a user left the notification service.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "NotificationSent", version = 1, kind = "domain")]
pub struct NotificationSent {
    /// Notification number, unique within the day.
    pub notification_id: u64,
    /// Recipient.
    pub user_id: u64,
    /// Delivery channel: `email`, `sms` or `push`.
    pub channel: String,
    /// Template of the message, such as `order_shipped`.
    pub template: String,
    /// Subject of the message, such as `order-17`.
    pub related_to: String,
}

/// A vendor's catalog was synchronised with the vendor's ERP system.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "VendorSynced", version = 1, kind = "domain")]
pub struct VendorSynced {
    /// Vendor whose catalog was synchronised.
    pub vendor_id: u64,
    /// ERP system the records came from.
    pub erp_system: String,
    /// Products created from new ERP records.
    pub items_created: u32,
    /// Products whose price or stock changed.
    pub items_updated: u32,
    /// ERP records that could not be imported.
    pub items_failed: u32,
    /// Wall-clock duration of the sync in milliseconds.
    pub duration_ms: u64,
    /// Error of the first record that could not be imported, if any.
    pub first_error: Option<String>,
}

/// The AI shopping assistant completed a request of a user.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "AIRequestCompleted", version = 1, kind = "domain")]
pub struct AiRequestCompleted {
    /// Request number, unique within the day.
    pub request_id: u64,
    /// User who sent the request.
    pub user_id: u64,
    /// Model that produced the completion.
    pub model: String,
    /// Assistant feature that sent the request, such as `product_search`.
    pub feature: String,
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Tokens in the completion.
    pub completion_tokens: u32,
    /// Time from the request to the last completion token in milliseconds.
    pub latency_ms: u32,
}

/// A seller finished a course of the seller academy.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "CourseCompleted", version = 1, kind = "domain")]
pub struct CourseCompleted {
    /// Seller who finished the course.
    pub user_id: u64,
    /// Course identifier, such as `shipping-201`.
    pub course_id: String,
    /// Course title.
    pub title: String,
    /// Final quiz score in percent, from 0 to 100.
    pub score_percent: u8,
    /// Minutes spent on the course's lessons.
    pub study_minutes: u32,
}

// ---------------------------------------------------------------------------
// The bus and its state
// ---------------------------------------------------------------------------

/// Builds a bus for one day, with new [`Day`], [`Inventory`] and [`Ledger`]
/// state.
///
/// # Errors
///
/// Fails when the registered events and handlers do not make a valid bus,
/// for example when two events share a name and version or an order
/// constraint names an unknown handler.
pub fn build_bus() -> anyhow::Result<Bus> {
    Bus::builder()
        .source(SOURCE)
        .retry(DEFAULT_RETRY)
        .on_failure(DEFAULT_ON_FAILURE)
        .concurrency(DEFAULT_CONCURRENCY)
        .state(Day::default())
        .state(Inventory::default())
        .state(Ledger::default())
        .build()
        .context("failed to build the marketplace bus")
}

/// Locks a mutex of the state. A handler that panics while it holds the
/// lock fails on its own, and every update leaves the data consistent, so a
/// poisoned lock is used as it is.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The counters and records of one day, live or replayed.
#[derive(Default)]
pub struct Day {
    /// Set by [`run_day`], so that a bus runs one day only.
    started: AtomicBool,
    /// Whether the events come from a file, so handlers must not emit follow-ups.
    replaying: AtomicBool,
    /// Whether the journal also keeps each envelope as a CloudEvents JSON line.
    keep_json: AtomicBool,
    records: Mutex<DayRecords>,
}

#[derive(Default)]
struct DayRecords {
    journal: Vec<JournalEntry>,
    json_lines: Vec<String>,
    totals: Totals,
    events: BTreeMap<String, u64>,
    failures: Vec<Failure>,
    tokens_by_user: HashMap<u64, u64>,
    last_notification_id: u64,
    retried_calls: u64,
    retry_attempts: u64,
}

/// The causal metadata of one handled envelope.
struct JournalEntry {
    name: &'static str,
    id: EventId,
    correlation_id: Option<EventId>,
    causation_id: Option<EventId>,
}

impl Day {
    fn update<R>(&self, update: impl FnOnce(&mut DayRecords) -> R) -> R {
        update(&mut lock(&self.records))
    }

    /// Returns whether handlers emit follow-ups: on a live day, not on a replay.
    fn emits_follow_ups(&self) -> bool {
        !self.replaying.load(Ordering::Relaxed)
    }

    fn next_notification_id(&self) -> u64 {
        self.update(|records| {
            records.last_notification_id += 1;
            records.last_notification_id
        })
    }

    /// Counts one call of a handler that has a retry policy, by the attempt
    /// number the bus gives it, counted from 1.
    fn count_attempt(&self, attempt: u32) {
        self.update(|records| {
            if attempt == 2 {
                records.retried_calls += 1;
            }
            if attempt >= 2 {
                records.retry_attempts += 1;
            }
        });
    }

    /// Adds the failures of one emitted or dispatched event to the day,
    /// including those of the follow-ups its handlers emitted.
    fn record_report(&self, report: &Report) {
        if report.is_ok() {
            return;
        }
        for follow_up in report.follow_ups() {
            self.record_report(follow_up);
        }
        self.update(|records| {
            for failure in report.failures() {
                let on_failure = failure
                    .handler_info()
                    .on_failure()
                    .unwrap_or(DEFAULT_ON_FAILURE);
                records.failures.push(Failure {
                    event: report.event().to_owned(),
                    handler: failure.handler().to_owned(),
                    error: failure.error().to_string(),
                    attempts: failure.attempts(),
                    on_failure: on_failure.to_string(),
                });
            }
            if let Some(rejection) = report.rejected() {
                // The bus keeps a rejected event in the dead-letter store.
                records.failures.push(Failure {
                    event: report.event().to_owned(),
                    handler: "(no handler ran)".to_owned(),
                    error: rejection.to_string(),
                    attempts: 0,
                    on_failure: OnFailure::DeadLetter.to_string(),
                });
            }
        });
    }
}

/// The warehouse stock: units on hand per SKU and the units reserved for
/// orders that are not paid and shipped yet.
///
/// A reservation takes what is on hand and counts the rest as backordered,
/// so an order never fails for want of stock. A declined payment releases
/// the reservation, and a fulfilment ships it.
#[derive(Default)]
pub struct Inventory {
    book: Mutex<StockBook>,
}

#[derive(Default)]
struct StockBook {
    /// Units on hand and not reserved, per SKU.
    available: BTreeMap<String, u64>,
    /// Units reserved per order, by SKU.
    reservations: HashMap<u64, Vec<(String, u64)>>,
    counts: StockCounts,
}

/// Unit movements of the warehouse during one day.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StockCounts {
    /// Units received with new products.
    pub received: u64,
    /// Units reserved for orders.
    pub reserved: u64,
    /// Units ordered beyond the stock on hand.
    pub backordered: u64,
    /// Reserved units shipped with a fulfilment.
    pub shipped: u64,
    /// Reserved units returned to stock after a declined payment.
    pub released: u64,
    /// Units on hand and not reserved at the end of the day.
    pub available: u64,
    /// Units still reserved at the end of the day.
    pub still_reserved: u64,
}

impl Inventory {
    fn receive(&self, sku: &str, units: u32) {
        let mut book = lock(&self.book);
        *book.available.entry(sku.to_owned()).or_default() += u64::from(units);
        book.counts.received += u64::from(units);
    }

    /// Reserves the lines of an order, each up to the units available.
    fn reserve(&self, order_id: u64, lines: &[OrderLine]) {
        let mut book = lock(&self.book);
        let mut reserved = Vec::with_capacity(lines.len());
        for line in lines {
            let requested = u64::from(line.quantity);
            let available = book.available.entry(line.sku.clone()).or_default();
            let units = requested.min(*available);
            *available -= units;
            book.counts.reserved += units;
            book.counts.backordered += requested - units;
            if units > 0 {
                reserved.push((line.sku.clone(), units));
            }
        }
        book.reservations.insert(order_id, reserved);
    }

    /// Returns the reserved units of an order to stock.
    fn release(&self, order_id: u64) {
        let mut book = lock(&self.book);
        for (sku, units) in book.reservations.remove(&order_id).unwrap_or_default() {
            *book.available.entry(sku).or_default() += units;
            book.counts.released += units;
        }
    }

    /// Ships the reserved units of an order.
    fn ship(&self, order_id: u64) {
        let mut book = lock(&self.book);
        let shipped: u64 = book
            .reservations
            .remove(&order_id)
            .unwrap_or_default()
            .iter()
            .map(|(_, units)| units)
            .sum();
        book.counts.shipped += shipped;
    }

    /// Returns the day's unit movements and the stock left.
    pub fn counts(&self) -> StockCounts {
        let book = lock(&self.book);
        StockCounts {
            available: book.available.values().sum(),
            still_reserved: book
                .reservations
                .values()
                .flatten()
                .map(|(_, units)| units)
                .sum(),
            ..book.counts.clone()
        }
    }
}

/// The payments captured during the day, one entry each, in the order they
/// were booked.
#[derive(Default)]
pub struct Ledger {
    entries: Mutex<Vec<LedgerEntry>>,
}

/// One captured payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerEntry {
    /// Payment reference of the gateway.
    pub payment_id: String,
    /// Order the payment is for.
    pub order_id: u64,
    /// Captured amount in cents.
    pub amount_cents: u64,
    /// Number of the ERP invoice, once `erp.post_invoice` posted the entry.
    pub erp_invoice: Option<String>,
}

impl Ledger {
    fn book(&self, payment: &PaymentSucceeded) {
        lock(&self.entries).push(LedgerEntry {
            payment_id: payment.payment_id.clone(),
            order_id: payment.order_id,
            amount_cents: payment.amount_cents,
            erp_invoice: None,
        });
    }

    /// Stores the ERP invoice number in the entry of the payment.
    fn mark_posted(&self, payment_id: &str, invoice: String) -> Result<(), String> {
        let mut entries = lock(&self.entries);
        let entry = entries
            .iter_mut()
            .find(|entry| entry.payment_id == payment_id)
            .ok_or_else(|| format!("payment {payment_id} has no ledger entry to post"))?;
        entry.erp_invoice = Some(invoice);
        Ok(())
    }

    /// Returns a copy of every entry.
    pub fn entries(&self) -> Vec<LedgerEntry> {
        lock(&self.entries).clone()
    }
}

// ---------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------

/// Reserves the ordered units. Its priority is below that of
/// `payments.charge_card`, and the charge's `after` constraint is what makes
/// it run first.
#[on(OrderPlaced, name = "inventory.reserve_stock", priority = 50)]
fn reserve_stock(order: &OrderPlaced, inventory: State<Inventory>) {
    inventory.reserve(order.order_id, &order.lines);
}

/// Charges the customer's card and emits `PaymentSucceeded` when the gateway
/// accepts it. A declined card releases the order's reservation, and the
/// decline is logged rather than kept as a dead letter: charging the same
/// card again would be declined again.
#[on(
    OrderPlaced,
    name = "payments.charge_card",
    priority = 100,
    after = "inventory.reserve_stock",
    on_failure = "log"
)]
async fn charge_card(
    order: &OrderPlaced,
    day: State<Day>,
    inventory: State<Inventory>,
    cx: Context<'_>,
) -> Result<(), String> {
    day.update(|records| records.totals.payments_attempted += 1);

    // Stands in for the round trip to the payment gateway.
    tokio::task::yield_now().await;

    if order.card_last4 == DECLINED_CARD_LAST4 {
        inventory.release(order.order_id);
        day.update(|records| records.totals.payments_declined += 1);
        return Err(format!(
            "card ending {} declined for order {} ({} cents)",
            order.card_last4, order.order_id, order.total_cents
        ));
    }

    if day.emits_follow_ups() {
        cx.emit_async(PaymentSucceeded {
            payment_id: format!("pay_{:08}", order.order_id),
            order_id: order.order_id,
            user_id: order.user_id,
            amount_cents: order.total_cents,
            currency: order.currency.clone(),
            card_last4: order.card_last4.clone(),
        })
        .await;
    }
    Ok(())
}

#[on(OrderPlaced, name = "analytics.count_order")]
fn count_order(order: &OrderPlaced, day: State<Day>) {
    let units: u64 = order
        .lines
        .iter()
        .map(|line| u64::from(line.quantity))
        .sum();
    day.update(|records| {
        records.totals.orders += 1;
        records.totals.units_ordered += units;
        records.totals.order_vat_cents += order.vat_cents;
    });
}

/// Books the payment. It runs before `warehouse.fulfil`, so money is booked
/// before goods leave.
#[on(PaymentSucceeded, name = "ledger.record_payment", priority = 100)]
fn record_payment(payment: &PaymentSucceeded, ledger: State<Ledger>) {
    ledger.book(payment);
}

/// Posts the payment's ledger entry to the ERP as an invoice.
///
/// It runs after `ledger.record_payment`, which creates the entry. The
/// simulated ERP is busy now and then (see [`ERP_BUSY_EVERY`]), so the bus
/// tries the post up to three times, waiting 1 ms and then 2 ms in between.
#[on(
    PaymentSucceeded,
    name = "erp.post_invoice",
    after = "ledger.record_payment",
    attempts = 3,
    backoff = exponential("1ms", "20ms"),
    timeout = "2s"
)]
async fn post_invoice(
    payment: &PaymentSucceeded,
    ledger: State<Ledger>,
    day: State<Day>,
    cx: Context<'_>,
) -> Result<(), String> {
    let attempt = cx.attempt();
    day.count_attempt(attempt);

    // Stands in for the HTTP call to the ERP.
    tokio::task::yield_now().await;

    if erp_is_busy(payment.order_id, attempt) {
        return Err(format!(
            "ERP returned 503 Service Unavailable for the invoice of order {} on attempt {attempt}",
            payment.order_id
        ));
    }
    ledger.mark_posted(&payment.payment_id, format!("INV-{:08}", payment.order_id))
}

/// Returns whether the simulated ERP rejects this attempt to post the
/// invoice of an order as busy.
fn erp_is_busy(order_id: u64, attempt: u32) -> bool {
    match attempt {
        1 => order_id.is_multiple_of(ERP_BUSY_EVERY),
        2 => order_id.is_multiple_of(ERP_BUSY_TWICE_EVERY),
        _ => false,
    }
}

/// Ships the reserved units of a paid order and emits `OrderFulfilled`,
/// labelled with the order's correlation id.
#[on(PaymentSucceeded, name = "warehouse.fulfil")]
fn fulfil(
    payment: &Envelope<PaymentSucceeded>,
    inventory: State<Inventory>,
    day: State<Day>,
    cx: Context,
) {
    inventory.ship(payment.order_id);
    if !day.emits_follow_ups() {
        return;
    }

    // The payment was emitted by a handler of the order's `OrderPlaced`, so
    // its correlation id is that event's id. An envelope that starts a chain
    // has no correlation id, so its own id takes that role.
    let order_reference = payment.metadata().correlation_or_id().to_string();
    let carriers = ["DHL", "UPS", "PostNL"];
    let carrier = carriers[(payment.order_id % 3) as usize];

    // Every handler of `OrderFulfilled` is synchronous, so the synchronous
    // `emit` runs them all. The bus adds a failed follow-up's report to the
    // report of the payment, which `Day::record_report` reads.
    cx.emit(OrderFulfilled {
        order_id: payment.order_id,
        user_id: payment.user_id,
        shipment_id: format!("shp_{:08}", payment.order_id),
        carrier: carrier.to_owned(),
        tracking_number: format!("{}{:010}", &carrier[..2].to_uppercase(), payment.order_id),
        order_reference,
    });
}

#[on(OrderFulfilled, name = "analytics.count_fulfilment", priority = 10)]
fn count_fulfilment(_: &OrderFulfilled, day: State<Day>) {
    day.update(|records| records.totals.fulfilments += 1);
}

/// Tells the customer that the parcel is on its way.
#[on(OrderFulfilled, name = "notifications.send_shipping_notice")]
fn send_shipping_notice(shipment: &OrderFulfilled, day: State<Day>, cx: Context) {
    if !day.emits_follow_ups() {
        return;
    }
    cx.emit(NotificationSent {
        notification_id: day.next_notification_id(),
        user_id: shipment.user_id,
        channel: "email".to_owned(),
        template: "order_shipped".to_owned(),
        related_to: format!("order-{}", shipment.order_id),
    });
}

#[on(NotificationSent, name = "analytics.count_notification")]
fn count_notification(_: &NotificationSent, day: State<Day>) {
    day.update(|records| records.totals.notifications += 1);
}

#[on(UserRegistered, name = "analytics.count_user", priority = 10)]
fn count_user(_: &UserRegistered, day: State<Day>) {
    day.update(|records| records.totals.users_registered += 1);
}

#[on(UserRegistered, name = "notifications.send_welcome")]
fn send_welcome(user: &UserRegistered, day: State<Day>, cx: Context) {
    if !day.emits_follow_ups() {
        return;
    }
    cx.emit(NotificationSent {
        notification_id: day.next_notification_id(),
        user_id: user.user_id,
        channel: "email".to_owned(),
        template: "welcome".to_owned(),
        related_to: format!("user-{}", user.user_id),
    });
}

#[on(ProductCreated, name = "search.index_product")]
fn index_product(_: &ProductCreated, day: State<Day>) {
    day.update(|records| records.totals.products_created += 1);
}

#[on(ProductCreated, name = "inventory.stock_product")]
fn stock_product(product: &ProductCreated, inventory: State<Inventory>) {
    inventory.receive(&product.sku, product.stock);
}

#[on(VendorSynced, name = "catalog.record_vendor_sync")]
fn record_vendor_sync(sync: &VendorSynced, day: State<Day>) {
    day.update(|records| {
        let totals = &mut records.totals;
        totals.vendor_syncs += 1;
        totals.vendor_items_created += u64::from(sync.items_created);
        totals.vendor_items_updated += u64::from(sync.items_updated);
        totals.vendor_items_failed += u64::from(sync.items_failed);
    });
}

/// Bills the tokens of a request to the user, rejecting use beyond
/// [`DAILY_TOKEN_QUOTA`]. A rejected request is kept in the dead-letter
/// store, from where it can be billed once the user's quota is raised.
#[on(
    AiRequestCompleted,
    name = "ai.bill_tokens",
    on_failure = "dead_letter"
)]
async fn bill_tokens(request: &AiRequestCompleted, day: State<Day>) -> Result<(), String> {
    // Stands in for the call to the billing service.
    tokio::task::yield_now().await;

    let tokens = u64::from(request.prompt_tokens) + u64::from(request.completion_tokens);
    let used_today = day.update(|records| {
        records.totals.ai_requests += 1;
        records.totals.ai_tokens += tokens;
        let used = records.tokens_by_user.entry(request.user_id).or_default();
        *used += tokens;
        *used
    });

    if used_today > DAILY_TOKEN_QUOTA {
        day.update(|records| records.totals.ai_requests_over_quota += 1);
        return Err(format!(
            "user {} is over the daily AI quota: {used_today} of {DAILY_TOKEN_QUOTA} tokens used",
            request.user_id
        ));
    }
    Ok(())
}

/// Counts the course and emails the certificate.
#[on(CourseCompleted, name = "lms.issue_certificate")]
fn issue_certificate(course: &CourseCompleted, day: State<Day>, cx: Context) {
    day.update(|records| records.totals.courses_completed += 1);
    if !day.emits_follow_ups() {
        return;
    }
    cx.emit(NotificationSent {
        notification_id: day.next_notification_id(),
        user_id: course.user_id,
        channel: "email".to_owned(),
        template: "course_certificate".to_owned(),
        related_to: course.course_id.clone(),
    });
}

/// Records one envelope in the day's journal, as JSON too when the day is saved.
fn record_in_journal<E: Event>(envelope: &Envelope<E>, day: &Day) -> Result<(), serde_json::Error> {
    let json = if day.keep_json.load(Ordering::Relaxed) {
        Some(serde_json::to_string(envelope)?)
    } else {
        None
    };
    day.update(|records| {
        *records
            .events
            .entry(envelope.name().to_owned())
            .or_default() += 1;
        records.journal.push(JournalEntry {
            name: envelope.name(),
            id: envelope.id().clone(),
            correlation_id: envelope.correlation_id().cloned(),
            causation_id: envelope.causation_id().cloned(),
        });
        records.json_lines.extend(json);
    });
    Ok(())
}

/// Defines the journal handler of one event type.
///
/// The journal runs first (priority 1000), before any handler can emit a
/// follow-up, so that it lists each event before the events it caused. A
/// replay then dispatches the events in the order the live day handled them.
macro_rules! journal_handler {
    ($function:ident, $event:ident, $name:tt) => {
        #[on($event, name = $name, priority = 1000)]
        fn $function(
            envelope: &Envelope<$event>,
            day: State<Day>,
        ) -> Result<(), serde_json::Error> {
            record_in_journal(envelope, &day)
        }
    };
}

journal_handler!(journal_order_placed, OrderPlaced, "journal.order_placed");
journal_handler!(
    journal_payment_succeeded,
    PaymentSucceeded,
    "journal.payment_succeeded"
);
journal_handler!(
    journal_order_fulfilled,
    OrderFulfilled,
    "journal.order_fulfilled"
);
journal_handler!(
    journal_product_created,
    ProductCreated,
    "journal.product_created"
);
journal_handler!(
    journal_user_registered,
    UserRegistered,
    "journal.user_registered"
);
journal_handler!(
    journal_notification_sent,
    NotificationSent,
    "journal.notification_sent"
);
journal_handler!(journal_vendor_synced, VendorSynced, "journal.vendor_synced");
journal_handler!(
    journal_ai_request_completed,
    AiRequestCompleted,
    "journal.ai_request_completed"
);
journal_handler!(
    journal_course_completed,
    CourseCompleted,
    "journal.course_completed"
);

// ---------------------------------------------------------------------------
// Options and the entry point
// ---------------------------------------------------------------------------

/// Simulates a day of an online marketplace on typed events and prints what happened.
///
/// Prints the catalog of registered events and handlers, then either
/// simulates a day (the default) or replays one saved with `--write` or
/// stored with `--store`. A simulated day is appended to an SQLite event
/// store file unless `--no-store` is given: see `--store` for where.
#[derive(Parser, Debug, Clone, PartialEq, Eq)]
#[command(name = "marketplace", after_help = progress_help())]
pub struct Options {
    /// Seed of the random generator that shapes the day. Equal seeds give equal counts.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Number of orders placed during the day.
    #[arg(long, default_value_t = 200)]
    pub orders: u64,

    /// Saves every envelope of the day to FILE as CloudEvents JSON, one per line.
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,

    /// Replays a day saved with `--write` from FILE instead of simulating one.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["write", "seed", "orders"])]
    pub read: Option<PathBuf>,

    /// Prints the catalog of events and handlers as FORMAT to stdout and
    /// exits without running a day.
    #[arg(long, value_name = "FORMAT", value_enum, conflicts_with_all = ["write", "read", "seed", "orders"])]
    pub catalog: Option<CatalogFormat>,

    /// Decodes the events of FILE, upgrading `OrderPlaced` version 1 to
    /// version 2, and runs them through the handlers instead of simulating a day.
    #[arg(
        long = "replay-v1",
        value_name = "FILE",
        conflicts_with_all = ["write", "read", "seed", "orders", "catalog"]
    )]
    pub replay_v1: Option<PathBuf>,

    /// Writes the JSON Schema of every event version to the lock file PATH
    /// and exits. Needs the `schema` feature.
    #[arg(
        long,
        value_name = "PATH",
        conflicts_with_all = ["write", "read", "seed", "orders", "catalog", "replay_v1", "lock_check"]
    )]
    pub lock_write: Option<PathBuf>,

    /// Compares the payload schemas with the lock file PATH, prints every
    /// break or "compatible", and exits, with an error on breaks. Needs the
    /// `schema` feature.
    #[arg(
        long,
        value_name = "PATH",
        conflicts_with_all = ["write", "read", "seed", "orders", "catalog", "replay_v1"]
    )]
    pub lock_check: Option<PathBuf>,

    /// Compatibility mode of `--lock-check`.
    #[arg(long, value_name = "MODE", value_enum, default_value_t = CompatMode::BackwardTransitive, requires = "lock_check")]
    pub mode: CompatMode,

    /// Appends every envelope of the day to the SQLite event store PATH, as
    /// a new stream. Without it, the program uses `EVENTS_MARKETPLACE_STORE`
    /// or `events-marketplace.sqlite3` in the system temp directory.
    #[arg(
        long,
        value_name = "PATH",
        conflicts_with_all = ["read", "catalog", "replay_v1", "lock_write", "lock_check"]
    )]
    pub store: Option<PathBuf>,

    /// Does not store the day in an event store.
    #[arg(long, conflicts_with = "store")]
    pub no_store: bool,

    /// Replays the last day stored in the SQLite event store PATH into new
    /// handlers instead of simulating one.
    #[arg(
        long = "replay-store",
        value_name = "PATH",
        conflicts_with_all = [
            "write", "read", "seed", "orders", "catalog", "replay_v1",
            "lock_write", "lock_check", "store", "no_store",
        ]
    )]
    pub replay_store: Option<PathBuf>,

    /// Whether appending and replaying many events draw a progress bar on
    /// standard error. `main` sets it when standard error is a terminal.
    #[arg(skip)]
    pub progress: bool,
}

/// Returns the paragraph of `--help` on the progress bar, with its threshold.
fn progress_help() -> String {
    format!(
        "Storing or replaying at least {PROGRESS_FROM_EVENTS} envelopes draws a progress bar on \
         standard error when it is a terminal."
    )
}

/// A compatibility mode of `--mode`, as [`events::compat::Mode`] defines it.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompatMode {
    /// Consumers of each version read events of the previous version.
    Backward,
    /// Consumers of each version read events of the next version.
    Forward,
    /// Both `backward` and `forward`.
    Full,
    /// Consumers of each version read events of every earlier version.
    BackwardTransitive,
    /// Consumers of each version read events of every later version.
    ForwardTransitive,
    /// Both `backward-transitive` and `forward-transitive`.
    FullTransitive,
}

impl From<CompatMode> for Mode {
    fn from(mode: CompatMode) -> Mode {
        match mode {
            CompatMode::Backward => Mode::Backward,
            CompatMode::Forward => Mode::Forward,
            CompatMode::Full => Mode::Full,
            CompatMode::BackwardTransitive => Mode::BackwardTransitive,
            CompatMode::ForwardTransitive => Mode::ForwardTransitive,
            CompatMode::FullTransitive => Mode::FullTransitive,
        }
    }
}

/// A document format of `--catalog`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatalogFormat {
    /// The JSON catalog of `events::catalog`.
    Json,
    /// A Markdown page for readers.
    Markdown,
    /// An AsyncAPI 3.0.0 document in JSON.
    Asyncapi,
}

impl Options {
    /// Options for a live day without a file.
    pub fn day(seed: u64, orders: u64) -> Options {
        Options {
            seed,
            orders,
            write: None,
            read: None,
            catalog: None,
            replay_v1: None,
            lock_write: None,
            lock_check: None,
            mode: CompatMode::BackwardTransitive,
            store: None,
            no_store: false,
            replay_store: None,
            progress: false,
        }
    }
}

/// Builds a bus with [`build_bus`] and runs the day described by `options`
/// on it with [`run_day`].
///
/// # Errors
///
/// As for [`build_bus`] and [`run_day`].
pub fn run(options: &Options) -> anyhow::Result<Summary> {
    let bus = build_bus()?;
    run_day(&bus, options)
}

/// Simulates the day described by `options` on `bus`, or replays the file of
/// `--read` or `--replay-v1` or the store of `--replay-store`, and returns
/// its summary.
///
/// `bus` must come from [`build_bus`] and not have run a day before,
/// because its state keeps the counts of the day.
///
/// # Errors
///
/// Fails when the bus already ran a day or lacks the marketplace state,
/// when `write` or `store` is set together with a replay, when the file of
/// `read` or `replay_v1` or the store of `replay_store` cannot be read, or
/// when the file of `write` or the store of `store` cannot be written.
/// Events of a replay that cannot be decoded are not errors: the summary
/// lists them.
pub fn run_day(bus: &Bus, options: &Options) -> anyhow::Result<Summary> {
    run_day_with_store(bus, options).map(|(summary, _)| summary)
}

/// Runs a day as [`run_day`] does, and also returns the stored day that
/// the run appended (with `store`) or replayed (with `replay_store`).
///
/// # Errors
///
/// As for [`run_day`].
pub fn run_day_with_store(
    bus: &Bus,
    options: &Options,
) -> anyhow::Result<(Summary, Option<StoredDay>)> {
    let replay = options
        .read
        .as_ref()
        .or(options.replay_v1.as_ref())
        .or(options.replay_store.as_ref());
    for (flag, output) in [("--write", &options.write), ("--store", &options.store)] {
        if let (Some(read), Some(output)) = (replay, output) {
            bail!(
                "`{}` and `{flag} {}` cannot be combined: a replay emits no new events to save",
                read.display(),
                output.display()
            );
        }
    }
    if let Some(path) = &options.replay_v1 {
        return Ok((replay_v1(bus, path)?.summary, None));
    }
    let day = start_day(bus)?;
    let runtime = new_runtime()?;

    if let Some(path) = &options.read {
        let (envelopes, undecodable) = read_day(path, "--read")?;
        day.replaying.store(true, Ordering::Relaxed);
        runtime.block_on(replay_day(bus, day, &envelopes));
        return Ok((Summary::new(bus, undecodable)?, None));
    }
    if let Some(path) = &options.replay_store {
        day.replaying.store(true, Ordering::Relaxed);
        let (stored, undecodable) =
            runtime.block_on(replay_stored_day(bus, day, path, options.progress))?;
        return Ok((Summary::new(bus, undecodable)?, Some(stored)));
    }

    day.keep_json.store(
        options.write.is_some() || options.store.is_some(),
        Ordering::Relaxed,
    );
    runtime.block_on(simulate_day(bus, options.seed, options.orders));

    let json_lines = day.update(|records| std::mem::take(&mut records.json_lines));
    if let Some(path) = &options.write {
        write_day(path, &json_lines)?;
    }
    let stored = match &options.store {
        Some(path) => Some(store_day(path, &json_lines, options.progress)?),
        None => None,
    };
    Ok((Summary::new(bus, Vec::new())?, stored))
}

/// Marks the day of `bus` as started and returns its state.
fn start_day(bus: &Bus) -> anyhow::Result<&Day> {
    let Some(day) = bus.state::<Day>() else {
        bail!("the bus has no `Day` state; build it with `build_bus`");
    };
    if day.started.swap(true, Ordering::Relaxed) {
        bail!("the bus already ran a day and keeps its counts; build a new one with `build_bus`");
    }
    Ok(day)
}

/// Starts the runtime of a day. Its timer serves the waits between retries
/// and the timeouts of `async` handlers.
fn new_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .context("failed to start the Tokio runtime")
}

fn main() -> anyhow::Result<()> {
    let mut options = Options::parse();
    options.progress = std::io::stderr().is_terminal();
    let simulates_day = options.read.is_none() && options.replay_store.is_none();
    if simulates_day && options.store.is_none() && !options.no_store {
        options.store = Some(default_store_path());
    }
    // Checked before the day runs, so that a wrong path costs no simulation.
    if let Some(path) = options.store.as_deref().filter(|path| path.is_dir()) {
        return Err(store_is_directory(path));
    }
    // Retries and handler failures are logged to stderr, and the catalog and
    // summary go to stdout.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::WARN)
        .with_target(false)
        .init();

    let bus = build_bus()?;
    if let Some(format) = options.catalog {
        print!("{}", catalog_document(&bus, format)?);
        return Ok(());
    }
    if let Some(path) = &options.lock_write {
        let lock = write_lock(&bus, path)?;
        let versions: usize = lock
            .event_names()
            .map(|name| lock.versions(name).count())
            .sum();
        println!(
            "Wrote the payload schemas of {versions} event versions to {}",
            path.display()
        );
        return Ok(());
    }
    if let Some(path) = &options.lock_check {
        let mode = Mode::from(options.mode);
        let breaks = check_lock(&bus, path, mode)?;
        if breaks.is_empty() {
            println!(
                "compatible: the catalog keeps {mode} compatibility with {}",
                path.display()
            );
            return Ok(());
        }
        for found in &breaks {
            println!("{found}");
        }
        bail!(
            "{} break(s) of {mode} compatibility with {}",
            breaks.len(),
            path.display()
        );
    }
    if let Some(path) = &options.replay_v1 {
        let replay = replay_v1(&bus, path)?;
        print!("{}", replay.summary);
        println!();
        print!("{replay}");
        if !replay.summary.undecodable.is_empty() {
            bail!(
                "{} line(s) of {} could not be decoded; see the list above",
                replay.summary.undecodable.len(),
                path.display()
            );
        }
        return Ok(());
    }
    // The day runs before anything is printed, so that an unreadable file
    // shows only the error.
    let (summary, stored) = run_day_with_store(&bus, &options)?;

    print!("{}", catalog(&bus));
    println!();
    print!("{summary}");

    if let Some(path) = &options.write {
        println!();
        println!(
            "Wrote {} envelopes to {}",
            summary.envelopes(),
            path.display()
        );
    }
    if let Some(stored) = &stored {
        if options.write.is_none() {
            println!();
        }
        let (verb, preposition) = if options.replay_store.is_some() {
            ("Replayed", "from")
        } else {
            ("Stored", "in")
        };
        println!(
            "{verb} {} envelopes of stream `{}` {preposition} the event store {}",
            stored.events,
            stored.stream,
            stored.path.display()
        );
    }
    let replayed = options.read.as_ref().or(options.replay_store.as_ref());
    if let Some(path) = replayed {
        if !summary.undecodable.is_empty() {
            bail!(
                "{} event(s) of {} could not be decoded; see the list above",
                summary.undecodable.len(),
                path.display()
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The simulated day
// ---------------------------------------------------------------------------

const VENDORS: [(u64, &str); 4] = [
    (1, "sap-s4hana"),
    (2, "odoo"),
    (3, "dynamics-365"),
    (4, "netsuite"),
];

const PRODUCT_TITLES: [&str; 16] = [
    "Linen duvet cover",
    "Oak cutting board",
    "Ceramic pour-over set",
    "Merino wool beanie",
    "Cast iron skillet",
    "Bamboo toothbrush, 4 pack",
    "Hiking socks",
    "Enamel camping mug",
    "Beeswax food wraps",
    "Stoneware dinner plate",
    "Insulated water bottle",
    "Canvas tote bag",
    "Walnut desk organiser",
    "Wool throw blanket",
    "Glass storage jars, 3 pack",
    "Trail running cap",
];

const CARDS: [&str; 4] = ["4242", "4444", "1881", "0005"];
const COUNTRIES: [&str; 6] = ["DE", "FR", "NL", "US", "GB", "ES"];
const MODELS: [&str; 2] = ["assistant-small", "assistant-large"];
const FEATURES: [&str; 3] = ["product_search", "size_advice", "support_reply"];
const COURSES: [(&str, &str); 3] = [
    ("seller-onboarding-101", "Selling on the marketplace"),
    ("photo-basics-120", "Product photography basics"),
    ("shipping-201", "Shipping and returns"),
];

/// Every this many users, counting from user 3, pays with [`DECLINED_CARD_LAST4`].
const DECLINED_CARD_EVERY: u64 = 10;

/// Only the first few users of the day try the AI assistant, so some of
/// them exceed [`DAILY_TOKEN_QUOTA`].
const AI_USERS: usize = 12;

/// Orders between two ERP syncs of a vendor.
const ORDERS_PER_VENDOR_SYNC: u64 = 40;

struct Product {
    sku: String,
    price_cents: u64,
}

struct Customer {
    user_id: u64,
    card_last4: &'static str,
}

/// The random choices of one day, the ids handed out so far, and the bus
/// the day runs on.
struct Simulation<'a> {
    bus: &'a Bus,
    day_state: &'a Day,
    rng: StdRng,
    products: Vec<Product>,
    customers: Vec<Customer>,
    last_ai_request_id: u64,
}

/// Plays a day: products first, then `orders` orders with registrations, AI
/// requests, courses and ERP syncs in between.
async fn simulate_day(bus: &Bus, seed: u64, orders: u64) {
    let mut day = Simulation {
        bus,
        day_state: bus
            .state::<Day>()
            .expect("`run_day` checked that the bus has the day's state"),
        rng: StdRng::seed_from_u64(seed),
        products: Vec::new(),
        customers: Vec::new(),
        last_ai_request_id: 0,
    };

    for (index, title) in PRODUCT_TITLES.iter().enumerate() {
        day.create_product(index, title).await;
    }

    for order_id in 1..=orders {
        if order_id % ORDERS_PER_VENDOR_SYNC == 1 {
            day.sync_vendor(order_id / ORDERS_PER_VENDOR_SYNC).await;
        }
        if day.customers.is_empty() || day.rng.random_bool(0.35) {
            day.register_user().await;
        }
        day.place_order(order_id).await;
        if day.rng.random_bool(0.3) {
            day.complete_ai_request().await;
        }
        if day.rng.random_bool(0.06) {
            day.complete_course().await;
        }
    }
}

impl Simulation<'_> {
    /// Emits an event that starts a chain, with a subject naming what it is about.
    async fn emit_root<E: Event>(&self, event: E, subject: String) {
        // The bus gives the envelope its own source, because none is set here.
        let envelope = Envelope::new(event).with_subject(subject);
        let report = self.bus.emit_envelope_async(envelope).await;
        self.day_state.record_report(&report);
    }

    async fn create_product(&mut self, index: usize, title: &str) {
        let vendor_id = VENDORS[index % VENDORS.len()].0;
        let product = ProductCreated {
            sku: format!("V{vendor_id}-{:04}", index + 1),
            title: title.to_owned(),
            vendor_id,
            price_cents: self.rng.random_range(5..=130) * 100 - 1,
            currency: CURRENCY.to_owned(),
            stock: self.rng.random_range(5..=250),
        };
        self.products.push(Product {
            sku: product.sku.clone(),
            price_cents: product.price_cents,
        });
        let subject = product.sku.clone();
        self.emit_root(product, subject).await;
    }

    async fn sync_vendor(&mut self, round: u64) {
        let (vendor_id, erp_system) = VENDORS[(round % VENDORS.len() as u64) as usize];
        let items_failed = if self.rng.random_bool(0.4) {
            self.rng.random_range(1..=4)
        } else {
            0
        };
        let first_error = (items_failed > 0).then(|| {
            format!(
                "record V{vendor_id}-{:04}: price missing in the ERP record",
                self.rng.random_range(100..1000)
            )
        });
        let sync = VendorSynced {
            vendor_id,
            erp_system: erp_system.to_owned(),
            items_created: self.rng.random_range(0..=12),
            items_updated: self.rng.random_range(10..=160),
            items_failed,
            duration_ms: self.rng.random_range(800..=45_000),
            first_error,
        };
        self.emit_root(sync, format!("vendor-{vendor_id}")).await;
    }

    async fn register_user(&mut self) {
        let user_id = self.customers.len() as u64 + 1;
        let card_last4 = if user_id % DECLINED_CARD_EVERY == 3 {
            DECLINED_CARD_LAST4
        } else {
            CARDS.choose(&mut self.rng).copied().unwrap_or(CARDS[0])
        };
        self.customers.push(Customer {
            user_id,
            card_last4,
        });

        let referral_code = self
            .rng
            .random_bool(0.2)
            .then(|| format!("FRIEND{:04}", self.rng.random_range(1..10_000)));
        let user = UserRegistered {
            user_id,
            email: format!("customer{user_id}@mail.example"),
            country: COUNTRIES
                .choose(&mut self.rng)
                .copied()
                .unwrap_or("DE")
                .to_owned(),
            referral_code,
        };
        self.emit_root(user, format!("user-{user_id}")).await;
    }

    async fn place_order(&mut self, order_id: u64) {
        let customer = &self.customers[self.rng.random_range(0..self.customers.len())];
        let (user_id, card_last4) = (customer.user_id, customer.card_last4);

        let line_count = self.rng.random_range(1..=3);
        let lines: Vec<OrderLine> = (0..line_count)
            .map(|_| {
                let product = &self.products[self.rng.random_range(0..self.products.len())];
                OrderLine::new(
                    product.sku.clone(),
                    self.rng.random_range(1..=3),
                    product.price_cents,
                    STANDARD_VAT_RATE_BASIS_POINTS,
                )
            })
            .collect();
        let subtotal_cents: u64 = lines.iter().map(OrderLine::gross_cents).sum();
        let shipping_cents = if subtotal_cents >= FREE_SHIPPING_FROM_CENTS {
            0
        } else {
            SHIPPING_FEE_CENTS
        };

        let order = OrderPlaced {
            order_id,
            user_id,
            subtotal_cents,
            vat_cents: lines.iter().map(|line| line.vat_cents).sum(),
            lines,
            shipping_cents,
            total_cents: subtotal_cents + shipping_cents,
            currency: CURRENCY.to_owned(),
            card_last4: card_last4.to_owned(),
        };
        self.emit_root(order, format!("order-{order_id}")).await;
    }

    async fn complete_ai_request(&mut self) {
        let users = self.customers.len().min(AI_USERS);
        let user_id = self.customers[self.rng.random_range(0..users)].user_id;
        self.last_ai_request_id += 1;

        let completion_tokens = self.rng.random_range(80..=1_200);
        let request = AiRequestCompleted {
            request_id: self.last_ai_request_id,
            user_id,
            model: MODELS
                .choose(&mut self.rng)
                .copied()
                .unwrap_or(MODELS[0])
                .to_owned(),
            feature: FEATURES
                .choose(&mut self.rng)
                .copied()
                .unwrap_or(FEATURES[0])
                .to_owned(),
            prompt_tokens: self.rng.random_range(300..=3_000),
            completion_tokens,
            latency_ms: 180 + completion_tokens * 14 + self.rng.random_range(0..=400),
        };
        self.emit_root(request, format!("user-{user_id}")).await;
    }

    async fn complete_course(&mut self) {
        let user_id = self.customers[self.rng.random_range(0..self.customers.len())].user_id;
        let (course_id, title) = COURSES[self.rng.random_range(0..COURSES.len())];
        let course = CourseCompleted {
            user_id,
            course_id: course_id.to_owned(),
            title: title.to_owned(),
            score_percent: self.rng.random_range(60..=100),
            study_minutes: self.rng.random_range(25..=240),
        };
        self.emit_root(course, format!("user-{user_id}")).await;
    }
}

// ---------------------------------------------------------------------------
// Saving and replaying a day
// ---------------------------------------------------------------------------

fn write_day(path: &Path, json_lines: &[String]) -> anyhow::Result<()> {
    let file = File::create(path)
        .with_context(|| format!("failed to create `{}` for --write", path.display()))?;
    let mut writer = BufWriter::new(file);
    for line in json_lines {
        writeln!(writer, "{line}")?;
    }
    writer
        .flush()
        .with_context(|| format!("failed to write `{}`", path.display()))
}

/// Decodes every line of a saved day, the file of `flag`, and skips empty lines.
fn read_day(
    path: &Path,
    flag: &str,
) -> anyhow::Result<(Vec<events::DynEnvelope>, Vec<UndecodableLine>)> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("failed to read `{}` for {flag}", path.display()))?;

    let mut envelopes = Vec::new();
    let mut undecodable = Vec::new();
    for (index, line) in bytes.split(|byte| *byte == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        match events::decode(line) {
            Ok(envelope) => envelopes.push(envelope),
            Err(error) => undecodable.push(UndecodableLine {
                line: index + 1,
                reason: error.reason().to_owned(),
                error: error.to_string(),
                in_store: false,
            }),
        }
    }
    Ok((envelopes, undecodable))
}

/// Dispatches saved envelopes in file order. Handlers emit no follow-ups during a replay.
async fn replay_day(bus: &Bus, day: &Day, envelopes: &[events::DynEnvelope]) {
    for envelope in envelopes {
        let report = bus.dispatch_async(envelope).await;
        day.record_report(&report);
    }
}

// ---------------------------------------------------------------------------
// The event store
// ---------------------------------------------------------------------------

/// Number of envelopes appended to the event store per transaction.
pub const STORE_BATCH_EVENTS: usize = 1_000;

/// Appending or replaying fewer envelopes than this draws no progress bar,
/// because it ends too soon for one to help.
pub const PROGRESS_FROM_EVENTS: u64 = 10_000;

/// The environment variable that sets the event store of a simulated day
/// when `--store` does not.
pub const STORE_ENV: &str = "EVENTS_MARKETPLACE_STORE";

/// Prefix of the stream names of stored days: `day-1`, `day-2` and so on.
const DAY_STREAM_PREFIX: &str = "day-";

/// A day in an event store: where, under which stream, and how many envelopes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredDay {
    /// The SQLite file of the store.
    pub path: PathBuf,
    /// The stream that contains the day, such as `day-3`.
    pub stream: String,
    /// Envelopes appended to the stream, or read back from it by a replay.
    pub events: u64,
}

/// Returns the event store of a day without `--store`: the file named by
/// [`STORE_ENV`], else `events-marketplace.sqlite3` in the temp directory.
pub fn default_store_path() -> PathBuf {
    match std::env::var_os(STORE_ENV) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => std::env::temp_dir().join("events-marketplace.sqlite3"),
    }
}

/// Returns the name of the stream of the `number`th day of a store.
fn day_stream(number: u64) -> String {
    format!("{DAY_STREAM_PREFIX}{number}")
}

/// Returns the number of days in the store: the days are the streams
/// `day-1` up to `day-N` with no gap, because [`store_day`] appends to the
/// first one that is empty.
fn stored_days(store: &SqliteStore) -> Result<u64, StoreError> {
    let mut days = 0;
    while store.stream_version(&day_stream(days + 1))? > 0 {
        days += 1;
    }
    Ok(days)
}

/// Returns a progress bar on standard error for `total` events, hidden when
/// `progress` is off or the run is too short for one to help.
fn progress_bar(progress: bool, total: u64, action: &'static str) -> ProgressBar {
    if !progress || total < PROGRESS_FROM_EVENTS {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(
        "{msg} [{bar:40}] {human_pos}/{human_len} envelopes ({per_sec:0}, {eta} left)",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    ProgressBar::new(total)
        .with_style(style)
        .with_message(action)
}

/// Appends the envelopes of a day, as CloudEvents JSON lines, to a new
/// stream of the event store at `path`, creating the store if it is missing.
///
/// The stream is expected to be empty at every first append, so two runs
/// that store a day in the same store at the same time cannot share a
/// stream: the later one fails with a conflict.
/// Explains that the `--store` path is a directory.
fn store_is_directory(path: &Path) -> anyhow::Error {
    anyhow!(
        "the event store `{}` is a directory; set --store or {STORE_ENV} to the path of an \
         SQLite file, such as `day.sqlite3` inside it",
        path.display()
    )
}

fn store_day(path: &Path, json_lines: &[String], progress: bool) -> anyhow::Result<StoredDay> {
    let mut store = SqliteStore::open(path).map_err(|error| {
        if path.is_dir() {
            return store_is_directory(path);
        }
        anyhow::Error::from(error)
    })?;
    let days = stored_days(&store).context("failed to count the days in the event store")?;
    let stream = day_stream(days + 1);

    // A store error names the store, its cause and the fix, except for a
    // conflict, which here means that another run stored a day at once.
    let append_error = |error| match error {
        StoreError::Conflict { .. } => anyhow!(
            "another run appended to stream `{stream}` of the event store `{}` at the same \
             time; run again to store this day as the next stream",
            path.display()
        ),
        error => anyhow::Error::from(error),
    };

    // NOTE: the JSON of every envelope stays in memory until the day ends,
    // so a day of many orders needs memory in proportion.
    let bar = progress_bar(progress, json_lines.len() as u64, "storing");
    let mut version = 0;
    for batch in json_lines.chunks(STORE_BATCH_EVENTS) {
        let expected = ExpectedVersion::Exact(version);
        let appended = store
            .append_to_stream(&stream, expected, batch)
            .map_err(append_error)?;
        version += appended.iter().filter(|event| !event.duplicate).count() as u64;
        bar.inc(batch.len() as u64);
    }
    bar.finish_and_clear();

    Ok(StoredDay {
        path: path.to_owned(),
        stream,
        events: version,
    })
}

/// Opens the event store of `--replay-store` at `path`, which must exist and
/// be an event store, so that a wrong path creates nothing.
fn open_day_store(path: &Path) -> anyhow::Result<SqliteStore> {
    let error = match SqliteStore::open_existing(path) {
        Ok(store) => return Ok(store),
        Err(error) => error,
    };
    if path.is_dir() {
        bail!(
            "the event store `{}` is a directory; pass --replay-store the SQLite file that \
             --store wrote, such as the default `{}`",
            path.display(),
            default_store_path().display()
        );
    }
    if !path.exists() {
        bail!(
            "no event store at `{}`; store a day there first with --store",
            path.display()
        );
    }
    if let StoreError::NotAnEventStore { .. } = error {
        bail!(
            "`{}` is not an event store: it has no `events` table of events-store; pass \
             --replay-store the SQLite file that --store wrote, such as the default `{}`",
            path.display(),
            default_store_path().display()
        );
    }
    Err(error.into())
}

/// Reads the last day of the event store at `path` back and dispatches each
/// event to the handlers of `bus` as a replay, in the order it was stored.
///
/// Returns the day and the events that could not be read or decoded, each
/// with its position in the store.
///
/// The loop is written out rather than run by `events_store::Replay`,
/// because the summary lists each failed handler with its error, and a
/// replay report keeps only the positions of failed events.
async fn replay_stored_day(
    bus: &Bus,
    day: &Day,
    path: &Path,
    progress: bool,
) -> anyhow::Result<(StoredDay, Vec<UndecodableLine>)> {
    let store = open_day_store(path)?;
    let days = stored_days(&store).context("failed to count the days in the event store")?;
    if days == 0 {
        bail!(
            "the event store `{}` contains no day: it has no stream `{}`; store a day there \
             first with --store",
            path.display(),
            day_stream(1)
        );
    }
    let stream = day_stream(days);
    let total = store.stream_version(&stream)?;

    let bar = progress_bar(progress, total, "replaying");
    let mut events = 0;
    let mut undecodable = Vec::new();
    for stored in store.read(Query::from(ReadFrom::Start).stream(stream.as_str())) {
        events += 1;
        bar.inc(1);
        let stored = match stored {
            Ok(stored) => stored,
            Err(StoreError::InvalidRow {
                position, reason, ..
            }) => {
                undecodable.push(UndecodableLine {
                    line: position as usize,
                    reason: "unreadable row".to_owned(),
                    error: reason.to_string(),
                    in_store: true,
                });
                continue;
            }
            Err(error) => {
                return Err(error).with_context(|| format!("failed to replay stream `{stream}`"))
            }
        };
        match stored.decode() {
            Ok(envelope) => {
                let report = bus.replay_async(&envelope).await;
                day.record_report(&report);
            }
            Err(error) => undecodable.push(UndecodableLine {
                line: stored.position as usize,
                reason: error.reason().to_owned(),
                error: error.to_string(),
                in_store: true,
            }),
        }
    }
    bar.finish_and_clear();

    let stored = StoredDay {
        path: path.to_owned(),
        stream,
        events,
    };
    Ok((stored, undecodable))
}

/// The counts of a `--replay-v1` run and the summary of the day it made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct V1Replay {
    /// The file that was read.
    pub path: PathBuf,
    /// Non-empty lines of the file, decoded or not.
    pub events_read: u64,
    /// Events that decoding upgraded from version 1.
    pub upgraded_from_v1: u64,
    /// Events of the file whose handlers, and the handlers of their
    /// follow-ups, all succeeded.
    pub handled: u64,
    /// Events of the file with a failed handler, their own or a follow-up's.
    /// The summary lists the failures.
    pub failed: u64,
    /// The day made of the file's events and their follow-ups.
    pub summary: Summary,
}

/// Decodes every line of `path` and dispatches the events in file order to
/// the handlers of `bus`. Decoding upgrades `OrderPlaced` version 1 to
/// version 2, so the version 2 handlers run for them.
///
/// Unlike a `--read` replay, handlers emit follow-ups: such a file holds
/// orders only, so the payments, fulfilments and notifications are new.
/// The file creates no products, so every ordered unit is backordered.
///
/// # Errors
///
/// As for [`run_day`]. Lines that cannot be decoded are not errors: the
/// summary lists them.
pub fn replay_v1(bus: &Bus, path: &Path) -> anyhow::Result<V1Replay> {
    let day = start_day(bus)?;
    let runtime = new_runtime()?;
    let (envelopes, undecodable) = read_day(path, "--replay-v1")?;

    let upgraded_from_v1 = envelopes
        .iter()
        .filter(|envelope| envelope.upcast_from() == Some(1))
        .count() as u64;
    let mut handled = 0;
    let mut failed = 0;
    runtime.block_on(async {
        for envelope in &envelopes {
            let report = bus.dispatch_async(envelope).await;
            day.record_report(&report);
            if report.is_ok() {
                handled += 1;
            } else {
                failed += 1;
            }
        }
    });

    let events_read = (envelopes.len() + undecodable.len()) as u64;
    Ok(V1Replay {
        path: path.to_owned(),
        events_read,
        upgraded_from_v1,
        handled,
        failed,
        summary: Summary::new(bus, undecodable)?,
    })
}

impl fmt::Display for V1Replay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Replay of {}", self.path.display())?;
        writeln!(f, "  events read          {}", self.events_read)?;
        writeln!(f, "  upgraded from v1     {}", self.upgraded_from_v1)?;
        writeln!(f, "  handled              {}", self.handled)?;
        writeln!(f, "  failed               {}", self.failed)?;
        writeln!(
            f,
            "  undecodable          {}",
            self.summary.undecodable.len()
        )
    }
}

// ---------------------------------------------------------------------------
// The lock file
// ---------------------------------------------------------------------------

/// Writes the lock file of the catalog of `bus` to `path`: the JSON Schema
/// of every event version, to commit next to the code. When the file exists,
/// the schemas it records for changed versions stay as earlier ones, and so
/// do versions whose type was deleted but which an upcaster still upgrades.
///
/// # Errors
///
/// Fails with [`CheckError::MissingSchemas`](events::catalog::CheckError::MissingSchemas) without the `schema` feature,
/// or when the file cannot be read, parsed or written.
pub fn write_lock(bus: &Bus, path: &Path) -> anyhow::Result<Lock> {
    let catalog = Catalog::for_bus(bus);
    let lock = if path.exists() {
        catalog.updated_lock(&Lock::read(path)?)?
    } else {
        catalog.lock()?
    };
    lock.write(path)?;
    Ok(lock)
}

/// Compares the catalog of `bus` with the lock file at `path` under `mode`
/// and returns every break, none when the catalog is compatible.
///
/// # Errors
///
/// Fails with [`CheckError::MissingSchemas`](events::catalog::CheckError::MissingSchemas) without the `schema` feature,
/// before the file is read, or when the file cannot be read or parsed.
pub fn check_lock(bus: &Bus, path: &Path, mode: Mode) -> anyhow::Result<Vec<Break>> {
    let catalog = Catalog::for_bus(bus);
    catalog.lock()?;
    let recorded = Lock::read(path)?;
    match catalog.check(&recorded, mode) {
        Ok(()) => Ok(Vec::new()),
        Err(CheckError::Incompatible(error)) => Ok(error.breaks().to_vec()),
        Err(error) => Err(error.into()),
    }
}

// ---------------------------------------------------------------------------
// The summary
// ---------------------------------------------------------------------------

/// Counters kept by the handlers during a day.
///
/// The payments that succeeded, the revenue and the posted invoices are
/// read from the [`Ledger`] when the day ends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// `OrderPlaced` events handled.
    pub orders: u64,
    /// Units over every order line.
    pub units_ordered: u64,
    /// VAT included in the lines of every order, in cents.
    pub order_vat_cents: u64,
    /// Card charges attempted, one per order.
    pub payments_attempted: u64,
    /// Charges the gateway accepted.
    pub payments_succeeded: u64,
    /// Charges the gateway declined.
    pub payments_declined: u64,
    /// Sum of the accepted charges in cents.
    pub revenue_cents: u64,
    /// Payments posted to the ERP as invoices.
    pub invoices_posted: u64,
    /// Orders handed to a carrier.
    pub fulfilments: u64,
    /// Notifications sent, of every template.
    pub notifications: u64,
    /// New customer accounts.
    pub users_registered: u64,
    /// Products added to the catalog.
    pub products_created: u64,
    /// ERP syncs of vendor catalogs.
    pub vendor_syncs: u64,
    /// Products created by ERP syncs.
    pub vendor_items_created: u64,
    /// Products updated by ERP syncs.
    pub vendor_items_updated: u64,
    /// ERP records that could not be imported.
    pub vendor_items_failed: u64,
    /// AI assistant requests billed.
    pub ai_requests: u64,
    /// Prompt and completion tokens of every AI request.
    pub ai_tokens: u64,
    /// AI requests that went beyond a user's daily quota.
    pub ai_requests_over_quota: u64,
    /// Seller academy courses finished.
    pub courses_completed: u64,
}

/// One handler that failed on its last attempt, or one event the bus rejected.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Failure {
    /// Name of the event being handled.
    pub event: String,
    /// Name of the handler that failed.
    pub handler: String,
    /// The handler's error message.
    pub error: String,
    /// How many times the handler was tried: 0 if it did not run.
    pub attempts: u32,
    /// The handler's final policy, such as `dead_letter` or `log`.
    pub on_failure: String,
}

/// One event in the bus's dead-letter store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetterEntry {
    /// Name of the event.
    pub event: String,
    /// Name of the handler that failed, or `None` when the bus rejected the
    /// event before any handler ran.
    pub handler: Option<String>,
    /// The error of the last attempt, or the rejection.
    pub error: String,
    /// How many times the handler was tried.
    pub attempts: u32,
}

/// One event of a causal chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainLink {
    /// Event name.
    pub name: String,
    /// Event id.
    pub id: String,
    /// Correlation id, `None` for the event that starts the chain.
    pub correlation_id: Option<String>,
    /// Id of the event whose handler emitted this one.
    pub causation_id: Option<String>,
}

/// A line of a saved day, or an event of a stored day, that could not be
/// decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UndecodableLine {
    /// 1-based line number in the file, or the global position in the event
    /// store when `in_store` is set.
    pub line: usize,
    /// Short label of the cause, such as `unknown event`.
    pub reason: String,
    /// The full decoding error.
    pub error: String,
    /// Whether the event was read from an event store by `--replay-store`
    /// rather than from a file.
    pub in_store: bool,
}

/// The outcome of one day, live or replayed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Counters kept by the handlers.
    pub totals: Totals,
    /// Envelopes handled per event name.
    pub events: BTreeMap<String, u64>,
    /// Handler failures, ordered by event and handler name and, within one
    /// handler, in the order they happened.
    pub failures: Vec<Failure>,
    /// Unit movements of the warehouse, from the [`Inventory`].
    pub stock: StockCounts,
    /// Handler calls that needed more than one attempt.
    pub retried_calls: u64,
    /// Attempts after the first, over every handler call.
    pub retry_attempts: u64,
    /// The events in the bus's dead-letter store, ordered by event and
    /// handler name and, within one handler, in the order they were kept.
    pub dead_letters: Vec<DeadLetterEntry>,
    /// Failed events that the dead-letter policy should have kept but the
    /// store does not contain.
    pub lost_events: u64,
    /// Events emitted by a handler rather than by the simulation.
    pub follow_ups: u64,
    /// Follow-ups whose causation id names no earlier event of the day, or whose
    /// correlation id is not the id of the event that started their chain.
    pub broken_links: u64,
    /// The longest chain of events, starting with the event that started it.
    /// Of several equally long chains, the first one.
    pub longest_chain: Vec<ChainLink>,
    /// Lines of the `--read` file or events of the `--replay-store` store
    /// that could not be decoded, empty for a live day.
    pub undecodable: Vec<UndecodableLine>,
}

impl Summary {
    /// Collects the summary from the state and the dead-letter store of a
    /// bus that ran a day.
    fn new(bus: &Bus, undecodable: Vec<UndecodableLine>) -> anyhow::Result<Summary> {
        let day = bus
            .state::<Day>()
            .context("the bus has no `Day` state; build it with `build_bus`")?;
        let inventory = bus
            .state::<Inventory>()
            .context("the bus has no `Inventory` state; build it with `build_bus`")?;
        let ledger = bus
            .state::<Ledger>()
            .context("the bus has no `Ledger` state; build it with `build_bus`")?;
        let records = std::mem::take(&mut *lock(&day.records));

        let chains = analyse_chains(&records.journal);
        let mut failures = records.failures;
        // A live day records a failure when the emit that caused it returns,
        // which for a nested event is after its own follow-ups. A replay
        // records each event's failures in file order. Sorting by event and
        // handler (a stable sort) gives both days the same list.
        failures.sort_by(|a, b| (&a.event, &a.handler).cmp(&(&b.event, &b.handler)));

        let mut totals = records.totals;
        let entries = ledger.entries();
        totals.payments_succeeded = entries.len() as u64;
        totals.revenue_cents = entries.iter().map(|entry| entry.amount_cents).sum();
        totals.invoices_posted = entries
            .iter()
            .filter(|entry| entry.erp_invoice.is_some())
            .count() as u64;

        let mut dead_letters: Vec<DeadLetterEntry> = bus
            .dead_letters()
            .list()
            .context("failed to list the dead letters of the day")?
            .into_iter()
            .map(|(_, letter)| DeadLetterEntry {
                event: letter.event_name().to_owned(),
                handler: letter.handler().map(str::to_owned),
                error: letter.error().to_owned(),
                attempts: letter.attempts(),
            })
            .collect();
        dead_letters.sort_by(|a, b| (&a.event, &a.handler).cmp(&(&b.event, &b.handler)));
        let to_keep = failures
            .iter()
            .filter(|failure| failure.on_failure == OnFailure::DeadLetter.to_string())
            .count();
        let lost_events = to_keep.saturating_sub(dead_letters.len()) as u64;

        Ok(Summary {
            totals,
            events: records.events,
            failures,
            stock: inventory.counts(),
            retried_calls: records.retried_calls,
            retry_attempts: records.retry_attempts,
            dead_letters,
            lost_events,
            follow_ups: chains.follow_ups,
            broken_links: chains.broken_links,
            longest_chain: chains.longest,
            undecodable,
        })
    }

    /// Returns the number of envelopes handled, over every event.
    pub fn envelopes(&self) -> u64 {
        self.events.values().sum()
    }
}

struct ChainAnalysis {
    follow_ups: u64,
    broken_links: u64,
    longest: Vec<ChainLink>,
}

/// Follows the causation ids of a journal, where every cause precedes its effects.
fn analyse_chains(journal: &[JournalEntry]) -> ChainAnalysis {
    let mut position: HashMap<&EventId, usize> = HashMap::with_capacity(journal.len());
    // For each entry: its cause's position, its chain's first event, and the chain length.
    let mut parent: Vec<Option<usize>> = Vec::with_capacity(journal.len());
    let mut root: Vec<usize> = Vec::with_capacity(journal.len());
    let mut length: Vec<usize> = Vec::with_capacity(journal.len());
    let mut follow_ups = 0;
    let mut broken_links = 0;

    for (index, entry) in journal.iter().enumerate() {
        let cause = match &entry.causation_id {
            None => None,
            Some(causation_id) => {
                follow_ups += 1;
                let cause = position.get(causation_id).copied();
                let linked = cause.is_some_and(|cause| {
                    entry.correlation_id.as_ref() == Some(&journal[root[cause]].id)
                });
                if !linked {
                    broken_links += 1;
                }
                cause
            }
        };
        parent.push(cause);
        root.push(cause.map_or(index, |cause| root[cause]));
        length.push(cause.map_or(1, |cause| length[cause] + 1));
        position.insert(&entry.id, index);
    }

    let mut longest = Vec::new();
    let last = (0..journal.len()).reduce(|best, index| {
        if length[index] > length[best] {
            index
        } else {
            best
        }
    });
    let mut next = last;
    while let Some(index) = next {
        let entry = &journal[index];
        longest.push(ChainLink {
            name: entry.name.to_owned(),
            id: entry.id.to_string(),
            correlation_id: entry.correlation_id.as_ref().map(EventId::to_string),
            causation_id: entry.causation_id.as_ref().map(EventId::to_string),
        });
        next = parent[index];
    }
    longest.reverse();

    ChainAnalysis {
        follow_ups,
        broken_links,
        longest,
    }
}

/// Formats cents as `1234.56 EUR`.
fn money(cents: u64) -> String {
    format!("{}.{:02} {CURRENCY}", cents / 100, cents % 100)
}

/// How many messages of one handler's failures the summary prints.
const FAILURE_EXAMPLES: usize = 3;

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.totals;
        writeln!(f, "Summary of the day")?;
        writeln!(
            f,
            "  orders placed        {} ({} units)",
            t.orders, t.units_ordered
        )?;
        writeln!(
            f,
            "  payments             {} attempted, {} succeeded, {} declined",
            t.payments_attempted, t.payments_succeeded, t.payments_declined
        )?;
        writeln!(f, "  revenue              {}", money(t.revenue_cents))?;
        writeln!(f, "  VAT in orders        {}", money(t.order_vat_cents))?;
        writeln!(
            f,
            "  invoices posted      {} of {} payments",
            t.invoices_posted, t.payments_succeeded
        )?;
        writeln!(f, "  fulfilments          {}", t.fulfilments)?;
        let stock = &self.stock;
        writeln!(
            f,
            "  stock units          {} received, {} reserved, {} backordered, {} shipped, {} released",
            stock.received, stock.reserved, stock.backordered, stock.shipped, stock.released
        )?;
        writeln!(
            f,
            "  stock at day end     {} available, {} still reserved",
            stock.available, stock.still_reserved
        )?;
        writeln!(f, "  notifications        {}", t.notifications)?;
        writeln!(f, "  users registered     {}", t.users_registered)?;
        writeln!(f, "  products created     {}", t.products_created)?;
        writeln!(
            f,
            "  vendor syncs         {} ({} items created, {} updated, {} failed)",
            t.vendor_syncs, t.vendor_items_created, t.vendor_items_updated, t.vendor_items_failed
        )?;
        writeln!(
            f,
            "  AI requests          {} ({} tokens, {} over quota)",
            t.ai_requests, t.ai_tokens, t.ai_requests_over_quota
        )?;
        writeln!(f, "  courses completed    {}", t.courses_completed)?;

        writeln!(f)?;
        writeln!(f, "Envelopes handled: {}", self.envelopes())?;
        for (name, count) in &self.events {
            writeln!(f, "  {name:<20} {count}")?;
        }

        writeln!(f)?;
        writeln!(f, "Handler failures: {}", self.failures.len())?;
        for group in self
            .failures
            .chunk_by(|a, b| (&a.event, &a.handler) == (&b.event, &b.handler))
        {
            writeln!(
                f,
                "  {} on {}: {} (on failure {})",
                group[0].handler,
                group[0].event,
                group.len(),
                group[0].on_failure
            )?;
            for failure in group.iter().take(FAILURE_EXAMPLES) {
                writeln!(f, "    - {}", failure.error)?;
            }
            if group.len() > FAILURE_EXAMPLES {
                writeln!(f, "    - ... and {} more", group.len() - FAILURE_EXAMPLES)?;
            }
        }

        let failed_after_retries = self
            .failures
            .iter()
            .filter(|failure| failure.attempts > 1)
            .count() as u64;
        writeln!(f)?;
        writeln!(
            f,
            "Retries: {} handler calls retried with {} extra attempts, {} succeeded on a retry",
            self.retried_calls,
            self.retry_attempts,
            self.retried_calls.saturating_sub(failed_after_retries)
        )?;
        writeln!(
            f,
            "Dead letters: {} events kept in the store, {} lost",
            self.dead_letters.len(),
            self.lost_events
        )?;
        for group in self
            .dead_letters
            .chunk_by(|a, b| (&a.event, &a.handler) == (&b.event, &b.handler))
        {
            writeln!(
                f,
                "  {} on {}: {}",
                group[0].handler.as_deref().unwrap_or("(no handler ran)"),
                group[0].event,
                group.len()
            )?;
        }

        writeln!(f)?;
        writeln!(
            f,
            "Causal links: {} follow-up events, {} broken",
            self.follow_ups, self.broken_links
        )?;
        writeln!(f, "Longest chain ({} event(s)):", self.longest_chain.len())?;
        for link in &self.longest_chain {
            writeln!(f, "  {:<17} id {}", link.name, link.id)?;
            writeln!(
                f,
                "  {:<17}   correlation {}, causation {}",
                "",
                link.correlation_id.as_deref().unwrap_or("-"),
                link.causation_id.as_deref().unwrap_or("-")
            )?;
        }

        if !self.undecodable.is_empty() {
            writeln!(f)?;
            writeln!(f, "Undecodable lines: {}", self.undecodable.len())?;
            for line in &self.undecodable {
                let unit = if line.in_store { "position" } else { "line" };
                writeln!(
                    f,
                    "  {unit} {} ({}): {}",
                    line.line, line.reason, line.error
                )?;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The catalog
// ---------------------------------------------------------------------------

/// Describes every registered event and the handlers `bus` runs for it, in
/// the order the bus resolved from their priorities and order constraints.
pub fn catalog(bus: &Bus) -> String {
    let events = registry::all();
    let handler_count: usize = events
        .iter()
        .map(|info| bus.handlers_of_type(info.type_id()).len())
        .sum();
    let mut out = String::new();
    // Writing to a `String` cannot fail.
    let _ = writeln!(
        out,
        "Catalog: {} events, {handler_count} handlers",
        events.len()
    );
    let _ = writeln!(
        out,
        "Handler options not listed take the bus defaults: retry {DEFAULT_RETRY}, \
         on failure {DEFAULT_ON_FAILURE}, no timeout, {DEFAULT_CONCURRENCY}."
    );
    for info in events {
        let _ = describe_event(&mut out, info, &bus.handlers_of_type(info.type_id()));
    }
    out
}

/// Renders the catalog of `bus` as a document in `format`, ending in a newline.
///
/// # Errors
///
/// Fails when the document cannot be serialised as JSON.
pub fn catalog_document(bus: &Bus, format: CatalogFormat) -> anyhow::Result<String> {
    let catalog = Catalog::for_bus(bus);
    let document = match format {
        CatalogFormat::Markdown => return Ok(catalog.to_markdown()),
        CatalogFormat::Json => catalog.to_json(),
        CatalogFormat::Asyncapi => {
            let info = AsyncApiInfo::new("Marketplace", API_VERSION).with_description(
                "Events of a simulated online marketplace and the handlers that consume them.",
            );
            catalog.to_asyncapi(&info)
        }
    };
    let mut json = serde_json::to_string_pretty(&document)
        .context("failed to serialise the catalog as JSON")?;
    json.push('\n');
    Ok(json)
}

/// The version of the marketplace's event API in the AsyncAPI document.
const API_VERSION: &str = "1.0.0";

/// Returns the first paragraph of a doc comment on one line, as rustdoc's summaries do.
fn first_paragraph(doc: &str) -> String {
    let lines: Vec<&str> = doc
        .lines()
        .map(str::trim)
        .take_while(|line| !line.is_empty())
        .collect();
    lines.join(" ")
}

fn describe_event(out: &mut String, info: &EventInfo, handlers: &[&HandlerInfo]) -> fmt::Result {
    writeln!(out)?;
    writeln!(out, "{} v{} ({})", info.name(), info.version(), info.kind())?;
    let summary = first_paragraph(info.doc());
    writeln!(
        out,
        "  {}",
        if summary.is_empty() {
            "(undocumented)"
        } else {
            &summary
        }
    )?;

    writeln!(out, "  fields:")?;
    let name_width = info
        .fields()
        .iter()
        .map(|field| field.name().len())
        .max()
        .unwrap_or(0);
    let type_width = info
        .fields()
        .iter()
        .map(|field| field.ty().len())
        .max()
        .unwrap_or(0);
    for field in info.fields() {
        let doc = first_paragraph(field.doc());
        writeln!(
            out,
            "    {:<name_width$}  {:<type_width$}  {doc}",
            field.name(),
            field.ty()
        )?;
    }

    writeln!(out, "  handlers, in run order:")?;
    if handlers.is_empty() {
        writeln!(out, "    (none)")?;
    }
    let width = handlers
        .iter()
        .map(|handler| handler.name().len())
        .max()
        .unwrap_or(0);
    for handler in handlers {
        describe_handler(out, handler, width)?;
    }
    Ok(())
}

/// Writes one handler: its name, priority, event parameter and the state
/// types it takes, then the options its `#[on]` attribute sets, if any, then
/// where it is defined.
fn describe_handler(out: &mut String, handler: &HandlerInfo, width: usize) -> fmt::Result {
    let states: Vec<&str> = handler
        .requirements()
        .map(|requirement| short_type_name(requirement.type_name()))
        .collect();
    write!(
        out,
        "    {:<width$}  priority {:>4}  {:<5}  takes {:<12}",
        handler.name(),
        handler.priority(),
        if handler.is_async() { "async" } else { "sync" },
        if handler.takes_envelope() {
            "&Envelope<E>"
        } else {
            "&E"
        },
    )?;
    if states.is_empty() {
        writeln!(out)?;
    } else {
        writeln!(out, "  state {}", states.join(", "))?;
    }

    let options = handler_options(handler);
    if !options.is_empty() {
        writeln!(out, "    {:<width$}  {}", "", options.join("; "))?;
    }
    writeln!(
        out,
        "    {:<width$}  defined at {}:{}",
        "",
        handler.file(),
        handler.line()
    )
}

/// Lists the order constraints and policies that a handler's `#[on]`
/// attribute sets, such as `after ledger.record_payment`.
fn handler_options(handler: &HandlerInfo) -> Vec<String> {
    let mut options = Vec::new();
    if !handler.after().is_empty() {
        options.push(format!("after {}", handler.after().join(", ")));
    }
    if !handler.before().is_empty() {
        options.push(format!("before {}", handler.before().join(", ")));
    }
    if let Some(retry) = handler.retry() {
        options.push(format!("retry {retry}"));
    }
    if let Some(on_failure) = handler.on_failure() {
        options.push(format!("on failure {on_failure}"));
    }
    if let Some(timeout) = handler.timeout() {
        options.push(format!("timeout {timeout:?}"));
    }
    if let Some(concurrency) = handler.concurrency() {
        options.push(concurrency.to_string());
    }
    options
}

/// Returns a type name without its module path: `Inventory` for
/// `marketplace::Inventory`. Generic arguments keep their paths.
fn short_type_name(type_name: &str) -> &str {
    let base_end = type_name.find('<').unwrap_or(type_name.len());
    let start = type_name[..base_end]
        .rfind("::")
        .map_or(0, |index| index + 2);
    &type_name[start..]
}

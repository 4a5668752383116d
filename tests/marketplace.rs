//! Tests of the marketplace example: the counts of a simulated day, the
//! stock, ledger, retries and dead letters it leaves, the causal links
//! between its events, saving and replaying a day through a file and an
//! event store, replaying version 1
//! orders, the catalog, and its schemas against the committed lock file.
//!
//! Every test in this binary shares the example's registered handlers, but
//! each day runs on its own bus from `build_bus`, whose state keeps that
//! day's counts, so the tests may run in parallel without seeing each
//! other's counts.

#[allow(dead_code)]
#[path = "../examples/marketplace.rs"]
mod marketplace;

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use clap::Parser;
use events::catalog::{Catalog, CheckError};
use events::compat::{Break, BreakKind, Lock, Mode};
use events::registry;
use marketplace::{
    build_bus, catalog, check_lock, replay_v1, run, run_day, run_day_with_store, CompatMode,
    Options, OrderLineV1, OrderPlaced, OrderPlacedV1, PaymentSucceeded, Summary,
    DECLINED_CARD_LAST4, ERP_BUSY_EVERY, ERP_BUSY_TWICE_EVERY, STANDARD_VAT_RATE_BASIS_POINTS,
};
use serde_json::Value;

const SEED: u64 = 7;
const ORDERS: u64 = 120;

/// Version 1 orders, stored before `OrderPlaced` version 2 existed.
const ORDERS_V1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/orders-v1.jsonl");

/// The committed lock file of the example's payload schemas.
#[cfg_attr(not(feature = "schema"), allow(dead_code))]
const LOCK_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/marketplace.lock.json"
);

fn live_day() -> Summary {
    run(&Options::day(SEED, ORDERS)).expect("a live day needs no files")
}

/// Runs a live day that saves its envelopes to `path`.
fn saved_day(path: &Path) -> Summary {
    let options = Options {
        write: Some(path.to_owned()),
        ..Options::day(SEED, ORDERS)
    };
    run(&options).expect("the day is written to a temporary directory")
}

fn replayed_day(path: &Path) -> Summary {
    let options = Options {
        read: Some(path.to_owned()),
        ..Options::day(SEED, ORDERS)
    };
    run(&options).expect("the saved day is readable")
}

fn read_json_lines(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .expect("the saved day is readable")
        .lines()
        .map(|line| serde_json::from_str(line).expect("every saved line is JSON"))
        .collect()
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` is a string in {value}"))
}

/// Returns the `data` of every saved line of event `name`.
fn data_of<'a>(lines: &'a [Value], name: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|line| text(line, "type") == name)
        .map(|line| &line["data"])
        .collect()
}

/// Returns the section of the catalog that describes version `version` of event `name`.
fn catalog_section<'a>(catalog: &'a str, name: &str, version: u32) -> &'a str {
    catalog
        .split("\n\n")
        .find(|section| section.starts_with(&format!("{name} v{version} ")))
        .unwrap_or_else(|| panic!("the catalog describes {name} v{version}"))
}

/// Returns the handler names of a catalog section, in the order listed.
fn listed_handlers(section: &str) -> Vec<&str> {
    section
        .lines()
        .skip_while(|line| !line.starts_with("  handlers, in run order:"))
        .skip(1)
        .filter(|line| line.contains(" priority "))
        .map(|line| line.split_whitespace().next().expect("a handler name"))
        .collect()
}

#[test]
fn day_counts_follow_from_orders() {
    let summary = live_day();
    let totals = &summary.totals;

    assert_eq!(totals.orders, ORDERS);
    assert_eq!(totals.payments_attempted, totals.orders);
    assert_eq!(
        totals.payments_succeeded + totals.payments_declined,
        totals.payments_attempted
    );
    assert!(totals.payments_declined > 0, "seed {SEED} has declines");
    assert_eq!(totals.fulfilments, totals.payments_succeeded);
    assert_eq!(
        totals.notifications,
        totals.fulfilments + totals.users_registered + totals.courses_completed
    );
    assert_eq!(totals.products_created, 16);
    // One ERP sync before orders 1, 41 and 81.
    assert_eq!(totals.vendor_syncs, 3);
    assert!(totals.ai_requests > 0, "seed {SEED} has AI requests");
}

#[test]
fn day_counts_each_event_name() {
    let summary = live_day();
    let totals = &summary.totals;
    let expected = [
        ("AIRequestCompleted", totals.ai_requests),
        ("CourseCompleted", totals.courses_completed),
        ("NotificationSent", totals.notifications),
        ("OrderFulfilled", totals.fulfilments),
        ("OrderPlaced", totals.orders),
        ("PaymentSucceeded", totals.payments_succeeded),
        ("ProductCreated", totals.products_created),
        ("UserRegistered", totals.users_registered),
        ("VendorSynced", totals.vendor_syncs),
    ];

    for (name, count) in expected {
        assert_eq!(summary.events.get(name), Some(&count), "count of {name}");
    }
    assert_eq!(summary.events.len(), expected.len());
}

#[test]
fn day_reports_declines_and_quota_failures() {
    let summary = live_day();
    let totals = &summary.totals;
    let declines: Vec<_> = summary
        .failures
        .iter()
        .filter(|failure| failure.handler == "payments.charge_card")
        .collect();
    let over_quota = summary
        .failures
        .iter()
        .filter(|failure| failure.handler == "ai.bill_tokens")
        .count() as u64;

    assert_eq!(declines.len() as u64, totals.payments_declined);
    assert_eq!(over_quota, totals.ai_requests_over_quota);
    assert_eq!(
        summary.failures.len() as u64,
        totals.payments_declined + totals.ai_requests_over_quota
    );
    assert!(declines.iter().all(|failure| failure.on_failure == "log"));
    assert!(declines.iter().all(|failure| failure.attempts == 1));
    assert_eq!(declines[0].event, "OrderPlaced");
    assert!(
        declines[0].error.starts_with(&format!(
            "card ending {DECLINED_CARD_LAST4} declined for order "
        )),
        "unexpected message: {}",
        declines[0].error
    );
}

#[test]
fn day_repeats_for_same_seed() {
    let first = live_day();
    let second = live_day();
    let other_seed = run(&Options::day(SEED + 1, ORDERS)).expect("a live day needs no files");

    assert_eq!(first.totals, second.totals);
    assert_eq!(first.events, second.events);
    assert_eq!(first.failures, second.failures);
    assert_ne!(first.totals, other_seed.totals);
}

#[test]
fn day_without_orders_creates_products_only() {
    let summary = run(&Options::day(SEED, 0)).expect("a live day needs no files");

    assert_eq!(summary.totals.products_created, 16);
    assert_eq!(summary.totals.orders, 0);
    assert_eq!(summary.envelopes(), 16);
    assert_eq!(summary.follow_ups, 0);
    assert_eq!(summary.longest_chain.len(), 1);
}

#[test]
fn follow_ups_link_to_their_causes() {
    let summary = live_day();
    let totals = &summary.totals;

    assert_eq!(
        summary.follow_ups,
        3 * totals.payments_succeeded + totals.users_registered + totals.courses_completed
    );
    assert_eq!(summary.broken_links, 0);
}

#[test]
fn longest_chain_runs_from_order_to_notification() {
    let summary = live_day();
    let chain = &summary.longest_chain;
    let names: Vec<&str> = chain.iter().map(|link| link.name.as_str()).collect();

    assert_eq!(
        names,
        [
            "OrderPlaced",
            "PaymentSucceeded",
            "OrderFulfilled",
            "NotificationSent"
        ]
    );
    assert_eq!(chain[0].correlation_id, None);
    assert_eq!(chain[0].causation_id, None);
    for pair in chain.windows(2) {
        assert_eq!(pair[1].correlation_id.as_ref(), Some(&chain[0].id));
        assert_eq!(pair[1].causation_id.as_ref(), Some(&pair[0].id));
    }
}

#[test]
fn saved_chains_share_their_order_correlation_id() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("day.jsonl");
    let summary = saved_day(&path);
    let lines = read_json_lines(&path);
    let position: HashMap<&str, usize> = lines
        .iter()
        .enumerate()
        .map(|(index, line)| (text(line, "id"), index))
        .collect();
    let cause_of = |line: &Value| -> (usize, &Value) {
        let cause = position[text(line, "causationid")];
        (cause, &lines[cause])
    };

    let mut payments = 0;
    let mut fulfilments = 0;
    let mut shipping_notices = 0;
    for (index, line) in lines.iter().enumerate() {
        let data = &line["data"];
        match text(line, "type") {
            "OrderPlaced" => {
                assert_eq!(line.get("correlationid"), None);
                assert_eq!(line.get("causationid"), None);
                assert_eq!(text(line, "subject"), format!("order-{}", data["order_id"]));
            }
            "PaymentSucceeded" => {
                payments += 1;
                let (cause, order) = cause_of(line);
                assert!(cause < index, "the order precedes its payment");
                assert_eq!(text(order, "type"), "OrderPlaced");
                assert_eq!(order["data"]["order_id"], data["order_id"]);
                assert_eq!(order["data"]["total_cents"], data["amount_cents"]);
                assert_eq!(text(line, "correlationid"), text(order, "id"));
            }
            "OrderFulfilled" => {
                fulfilments += 1;
                let (cause, payment) = cause_of(line);
                assert!(cause < index, "the payment precedes its fulfilment");
                assert_eq!(text(payment, "type"), "PaymentSucceeded");
                assert_eq!(payment["data"]["order_id"], data["order_id"]);
                assert_eq!(text(line, "correlationid"), text(payment, "correlationid"));
                assert_eq!(text(data, "order_reference"), text(line, "correlationid"));
            }
            "NotificationSent" if text(data, "template") == "order_shipped" => {
                shipping_notices += 1;
                let (cause, shipment) = cause_of(line);
                assert!(cause < index, "the fulfilment precedes its notice");
                assert_eq!(text(shipment, "type"), "OrderFulfilled");
                assert_eq!(
                    text(data, "related_to"),
                    format!("order-{}", shipment["data"]["order_id"])
                );
                assert_eq!(text(line, "correlationid"), text(shipment, "correlationid"));
            }
            _ => {}
        }
    }

    assert_eq!(payments, summary.totals.payments_succeeded);
    assert_eq!(fulfilments, summary.totals.fulfilments);
    assert_eq!(shipping_notices, summary.totals.fulfilments);
}

#[test]
fn saved_day_holds_every_envelope() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("day.jsonl");
    let summary = saved_day(&path);
    let lines = read_json_lines(&path);
    let revenue: u64 = lines
        .iter()
        .filter(|line| text(line, "type") == "PaymentSucceeded")
        .map(|line| line["data"]["amount_cents"].as_u64().expect("cents"))
        .sum();

    assert_eq!(lines.len() as u64, summary.envelopes());
    assert_eq!(revenue, summary.totals.revenue_cents);
    assert!(lines.iter().all(|line| line["specversion"] == "1.0"));
    for line in &lines {
        let expected = if text(line, "type") == "OrderPlaced" {
            2
        } else {
            1
        };
        assert_eq!(line["dataversion"], expected, "version of {line}");
    }
}

#[test]
fn replayed_day_equals_live_day() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("day.jsonl");
    let live = saved_day(&path);

    let replayed = replayed_day(&path);

    assert_eq!(replayed, live);
    assert_eq!(replayed.to_string(), live.to_string());
}

#[test]
fn replay_emits_no_follow_ups() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("day.jsonl");
    saved_day(&path);
    let saved = fs::read_to_string(&path).expect("the saved day is readable");
    let paid_order = saved
        .lines()
        .zip(saved.lines().skip(1))
        .find(|(line, next)| {
            line.contains(r#""type":"OrderPlaced""#)
                && next.contains(r#""type":"PaymentSucceeded""#)
        })
        .map(|(line, _)| line)
        .expect("the day has a paid order");
    let single = directory.path().join("single.jsonl");
    fs::write(&single, format!("{paid_order}\n")).expect("the file is written");

    let summary = replayed_day(&single);

    assert_eq!(summary.totals.orders, 1);
    assert_eq!(summary.totals.payments_attempted, 1);
    assert_eq!(summary.totals.payments_succeeded, 0);
    assert_eq!(summary.events.len(), 1);
    assert_eq!(summary.events.get("OrderPlaced"), Some(&1));
    assert_eq!(summary.follow_ups, 0);
}

#[test]
fn replay_lists_undecodable_lines() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("day.jsonl");
    let live = saved_day(&path);
    let saved = fs::read_to_string(&path).expect("the saved day is readable");
    let saved_lines = saved.lines().count();
    let unknown_event = r#"{"specversion":"1.0","id":"r-1","source":"https://marketplace.example/shop","type":"RefundIssued","data":{"order_id":3}}"#;
    let invalid_payload = r#"{"specversion":"1.0","id":"o-1","source":"https://marketplace.example/shop","type":"OrderPlaced","dataversion":2,"data":{"order_id":"three"}}"#;
    let damaged = format!("{saved}not json\n\n{unknown_event}\r\n{invalid_payload}\n");
    fs::write(&path, damaged).expect("the file is written");

    let replayed = replayed_day(&path);
    let found: Vec<(usize, &str)> = replayed
        .undecodable
        .iter()
        .map(|line| (line.line, line.reason.as_str()))
        .collect();

    assert_eq!(
        found,
        [
            (saved_lines + 1, "malformed JSON"),
            (saved_lines + 3, "unknown event"),
            (saved_lines + 4, "invalid payload"),
        ]
    );
    assert!(replayed.undecodable[1].error.contains("RefundIssued"));
    assert!(replayed.undecodable[2]
        .error
        .contains("`OrderPlaced` version 2"));
    assert!(replayed.undecodable[2].error.contains(r#"string "three""#));
    assert_eq!(replayed.totals, live.totals);
    assert_eq!(replayed.events, live.events);
    assert!(replayed
        .to_string()
        .contains(&format!("line {} (unknown event)", saved_lines + 3)));
}

#[test]
fn replay_of_missing_file_fails() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("missing.jsonl");

    let error = run(&Options {
        read: Some(path.clone()),
        ..Options::day(SEED, ORDERS)
    })
    .expect_err("the file does not exist");

    assert!(
        error.to_string().contains(&path.display().to_string()),
        "the error names the file: {error}"
    );
}

#[test]
fn run_rejects_read_with_write() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let options = Options {
        read: Some(directory.path().join("in.jsonl")),
        write: Some(directory.path().join("out.jsonl")),
        ..Options::day(SEED, ORDERS)
    };

    let error = run(&options).expect_err("a replay writes nothing");

    assert!(
        error.to_string().contains("cannot be combined"),
        "unexpected error: {error}"
    );
}

#[test]
fn options_default_to_a_day_of_200_orders() {
    let options = Options::try_parse_from(["marketplace"]).expect("no argument is required");

    assert_eq!(options, Options::day(42, 200));
}

#[test]
fn options_reject_read_with_seed() {
    let parsed = Options::try_parse_from(["marketplace", "--read", "day.jsonl", "--seed", "3"]);

    let error = parsed.expect_err("a replay has no seed");
    assert_eq!(error.kind(), clap::error::ErrorKind::ArgumentConflict);
}

#[test]
fn catalog_lists_events_with_handlers_in_run_order() {
    let bus = build_bus().expect("the marketplace bus builds");
    let catalog = catalog(&bus);
    let order_placed = catalog_section(&catalog, "OrderPlaced", 2);
    let order_placed_v1 = catalog_section(&catalog, "OrderPlaced", 1);

    assert!(catalog.starts_with("Catalog: 10 events, 25 handlers\n"));
    assert!(order_placed.starts_with("OrderPlaced v2 (integration)\n"));
    assert!(
        order_placed.contains("vat_cents       u64             VAT included in `subtotal_cents`")
    );
    assert!(order_placed_v1.starts_with("OrderPlaced v1 (integration)\n"));
    assert!(order_placed_v1.contains("lines           Vec<OrderLineV1>  Ordered products."));
    assert!(listed_handlers(order_placed_v1).is_empty());
    assert!(order_placed.contains("lines           Vec<OrderLine>  Ordered products."));
    assert_eq!(
        listed_handlers(order_placed),
        [
            "journal.order_placed",
            "inventory.reserve_stock",
            "payments.charge_card",
            "analytics.count_order"
        ]
    );
    assert!(order_placed.contains(
        "payments.charge_card     priority  100  async  takes &E            state Day, Inventory\n"
    ));
    assert!(catalog.contains(
        "warehouse.fulfil           priority    0  sync   takes &Envelope<E>  state Inventory, Day\n"
    ));
}

#[test]
fn catalog_follows_bus_run_order() {
    let bus = build_bus().expect("the marketplace bus builds");
    let catalog = catalog(&bus);

    for info in registry::all() {
        let section = catalog_section(&catalog, info.name(), info.version());
        let resolved: Vec<&str> = bus
            .handlers_of_type(info.type_id())
            .iter()
            .map(|handler| handler.name())
            .collect();
        assert_eq!(
            listed_handlers(section),
            resolved,
            "handlers of {}",
            info.name()
        );
    }
}

#[test]
fn after_constraint_overrides_priority() {
    let bus = build_bus().expect("the marketplace bus builds");
    let handlers = bus.handlers_of::<OrderPlaced>();
    let position = |name: &str| {
        handlers
            .iter()
            .position(|handler| handler.name() == name)
            .unwrap_or_else(|| panic!("{name} handles OrderPlaced"))
    };
    let reserve = handlers[position("inventory.reserve_stock")];
    let charge = handlers[position("payments.charge_card")];

    assert!(charge.priority() > reserve.priority());
    assert_eq!(charge.after(), ["inventory.reserve_stock"]);
    assert!(position("inventory.reserve_stock") < position("payments.charge_card"));
}

#[test]
fn catalog_shows_handler_policies() {
    let bus = build_bus().expect("the marketplace bus builds");
    let catalog = catalog(&bus);
    let order_placed = catalog_section(&catalog, "OrderPlaced", 2);
    let payment = catalog_section(&catalog, "PaymentSucceeded", 1);
    let ai_request = catalog_section(&catalog, "AIRequestCompleted", 1);

    assert!(catalog.contains(
        "Handler options not listed take the bus defaults: retry 1 attempt, on failure dead_letter, no timeout, sequential.\n"
    ));
    assert!(order_placed.contains("  after inventory.reserve_stock; on failure log\n"));
    assert!(payment.contains(
        "  after ledger.record_payment; retry 3 attempts, exponential 1ms up to 20ms; timeout 2s\n"
    ));
    assert!(ai_request.contains("  on failure dead_letter\n"));
    assert!(payment.contains("takes &E            state Ledger, Day\n"));
    assert!(payment.contains("  defined at "));
    assert_eq!(
        payment.matches("  defined at ").count(),
        bus.handlers_of::<PaymentSucceeded>().len(),
        "every handler has a source location"
    );
    let erp = bus
        .handlers_of::<PaymentSucceeded>()
        .into_iter()
        .find(|handler| handler.name() == "erp.post_invoice")
        .expect("erp.post_invoice handles PaymentSucceeded");
    assert!(payment.contains(&format!("marketplace.rs:{}\n", erp.line())));
}

#[test]
fn day_retries_busy_erp_posts() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("day.jsonl");
    let summary = saved_day(&path);
    let lines = read_json_lines(&path);
    let paid_orders: Vec<u64> = data_of(&lines, "PaymentSucceeded")
        .iter()
        .map(|data| data["order_id"].as_u64().expect("an order number"))
        .collect();
    let busy_once = paid_orders
        .iter()
        .filter(|order_id| order_id.is_multiple_of(ERP_BUSY_EVERY))
        .count() as u64;
    let busy_twice = paid_orders
        .iter()
        .filter(|order_id| order_id.is_multiple_of(ERP_BUSY_TWICE_EVERY))
        .count() as u64;

    assert!(
        busy_twice > 0,
        "seed {SEED} has a post that needs two retries"
    );
    assert_eq!(summary.retried_calls, busy_once);
    assert_eq!(summary.retry_attempts, busy_once + busy_twice);
    assert_eq!(
        summary.totals.invoices_posted,
        summary.totals.payments_succeeded
    );
    assert!(summary
        .failures
        .iter()
        .all(|failure| failure.handler != "erp.post_invoice"));
    assert!(summary.to_string().contains(&format!(
        "Retries: {busy_once} handler calls retried with {} extra attempts, {busy_once} succeeded on a retry\n",
        busy_once + busy_twice
    )));
}

#[test]
fn day_loses_no_failed_events() {
    // The default day, because seed 7 with 120 orders has no request over the quota.
    let summary = run(&Options::day(42, 200)).expect("a live day needs no files");
    let over_quota = summary.totals.ai_requests_over_quota;

    assert!(over_quota > 0, "seed 42 has requests over the quota");
    assert_eq!(summary.lost_events, 0);
    assert_eq!(summary.dead_letters.len() as u64, over_quota);
    for letter in &summary.dead_letters {
        assert_eq!(letter.event, "AIRequestCompleted");
        assert_eq!(letter.handler.as_deref(), Some("ai.bill_tokens"));
        assert_eq!(letter.attempts, 1);
        assert!(
            letter.error.contains("over the daily AI quota"),
            "{}",
            letter.error
        );
    }
    assert!(summary.to_string().contains(&format!(
        "Dead letters: {over_quota} events kept in the store, 0 lost\n"
    )));
}

#[test]
fn stock_balances_at_day_end() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("day.jsonl");
    let summary = saved_day(&path);
    let lines = read_json_lines(&path);
    let stock = &summary.stock;
    let received: u64 = data_of(&lines, "ProductCreated")
        .iter()
        .map(|data| data["stock"].as_u64().expect("units"))
        .sum();

    assert_eq!(stock.received, received);
    assert_eq!(
        stock.reserved + stock.backordered,
        summary.totals.units_ordered
    );
    assert_eq!(stock.reserved, stock.shipped + stock.released);
    assert_eq!(stock.still_reserved, 0);
    assert_eq!(stock.available, stock.received - stock.shipped);
    assert!(stock.released > 0, "declined orders return their units");
}

#[test]
fn bus_runs_one_day_only() {
    let bus = build_bus().expect("the marketplace bus builds");
    run_day(&bus, &Options::day(SEED, 5)).expect("a live day needs no files");

    let error = run_day(&bus, &Options::day(SEED, 5)).expect_err("the bus keeps the first day");

    assert!(
        error.to_string().contains("already ran a day"),
        "unexpected error: {error}"
    );
}

#[test]
fn replay_error_names_invalid_field() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("day.jsonl");
    let line = r#"{"specversion":"1.0","id":"o-1","source":"https://marketplace.example/shop","type":"OrderPlaced","data":{"order_id":"three"}}"#;
    fs::write(&path, format!("{line}\n")).expect("the file is written");

    let replayed = replayed_day(&path);

    assert_eq!(replayed.undecodable.len(), 1);
    assert!(
        replayed.undecodable[0].error.contains("order_id"),
        "the error names the field: {}",
        replayed.undecodable[0].error
    );
}

/// Returns the `data` of every line of the version 1 orders file.
fn orders_v1() -> Vec<Value> {
    read_json_lines(Path::new(ORDERS_V1))
        .into_iter()
        .map(|line| {
            assert_eq!(line["dataversion"], 1, "every stored order is version 1");
            line["data"].clone()
        })
        .collect()
}

/// Returns the VAT included in `gross_cents` at 19 %, rounded half up.
fn vat_at_19_percent(gross_cents: u64) -> u64 {
    (gross_cents * 19 * 2 + 119) / (119 * 2)
}

#[test]
fn replay_v1_upgrades_every_order() {
    let orders = orders_v1();
    let declined = orders
        .iter()
        .filter(|order| text(order, "card_last4") == DECLINED_CARD_LAST4)
        .count() as u64;

    let replay = replay_v1(
        &build_bus().expect("the marketplace bus builds"),
        Path::new(ORDERS_V1),
    )
    .expect("the version 1 file is readable");

    assert!(orders.len() >= 10, "the file has a dozen or so orders");
    assert!(declined > 0, "the file has a declined card");
    assert_eq!(replay.events_read, orders.len() as u64);
    assert_eq!(replay.upgraded_from_v1, orders.len() as u64);
    assert_eq!(replay.handled, orders.len() as u64 - declined);
    assert_eq!(replay.failed, declined);
    assert!(replay.summary.undecodable.is_empty());
    assert!(replay
        .to_string()
        .contains(&format!("  upgraded from v1     {}\n", orders.len())));
}

#[test]
fn replay_v1_handlers_see_upgraded_orders() {
    let orders = orders_v1();
    let mut units = 0;
    let mut vat_cents = 0;
    let mut paid_cents = 0;
    for order in &orders {
        for line in order["lines"].as_array().expect("`lines` is an array") {
            let quantity = line["quantity"].as_u64().expect("a quantity");
            let price = line["unit_price_cents"].as_u64().expect("a price");
            units += quantity;
            vat_cents += vat_at_19_percent(quantity * price);
        }
        if text(order, "card_last4") != DECLINED_CARD_LAST4 {
            paid_cents += order["total_cents"].as_u64().expect("a total");
        }
    }

    let replay = replay_v1(
        &build_bus().expect("the marketplace bus builds"),
        Path::new(ORDERS_V1),
    )
    .expect("the version 1 file is readable");
    let totals = &replay.summary.totals;

    assert_eq!(totals.orders, orders.len() as u64);
    assert_eq!(totals.units_ordered, units);
    assert_eq!(totals.order_vat_cents, vat_cents);
    assert_eq!(totals.revenue_cents, paid_cents);
    assert_eq!(totals.fulfilments, totals.payments_succeeded);
    assert_eq!(
        replay.summary.events.get("OrderPlaced"),
        Some(&(orders.len() as u64))
    );
    assert_eq!(replay.summary.broken_links, 0);
}

#[test]
fn order_v1_upgrade_itemises_vat() {
    let v1 = OrderPlacedV1 {
        order_id: 9,
        user_id: 4,
        lines: vec![
            OrderLineV1 {
                sku: "V1-0001".to_owned(),
                quantity: 2,
                unit_price_cents: 2_499,
            },
            OrderLineV1 {
                sku: "V2-0002".to_owned(),
                quantity: 1,
                unit_price_cents: 899,
            },
        ],
        shipping_cents: 0,
        total_cents: 5_897,
        currency: "EUR".to_owned(),
        card_last4: "4242".to_owned(),
    };

    let v2 = OrderPlaced::from(v1);

    assert_eq!(v2.subtotal_cents, 5_897);
    assert_eq!(v2.total_cents, 5_897);
    assert_eq!(
        v2.lines[0].vat_rate_basis_points,
        STANDARD_VAT_RATE_BASIS_POINTS
    );
    // 4998 × 19 / 119 = 798.0 and 899 × 19 / 119 = 143.5, rounded half up.
    assert_eq!(v2.lines[0].vat_cents, 798);
    assert_eq!(v2.lines[1].vat_cents, 144);
    assert_eq!(v2.vat_cents, 942);
}

#[test]
fn replay_v1_reports_undecodable_lines() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("orders.jsonl");
    let stored = fs::read_to_string(ORDERS_V1).expect("the version 1 file is readable");
    let first = stored.lines().next().expect("the file has an order");
    let without_total = first.replace(r#","total_cents":"#, r#","old_total":"#);
    fs::write(&path, format!("{first}\n{without_total}\n")).expect("the file is written");

    let replay = replay_v1(&build_bus().expect("the marketplace bus builds"), &path)
        .expect("the file is readable");

    assert_eq!(replay.events_read, 2);
    assert_eq!(replay.upgraded_from_v1, 1);
    assert_eq!(replay.handled, 1);
    assert_eq!(replay.summary.undecodable.len(), 1);
    assert_eq!(replay.summary.undecodable[0].line, 2);
    assert!(
        replay.summary.undecodable[0].error.contains("total_cents"),
        "the error names the missing field: {}",
        replay.summary.undecodable[0].error
    );
}

#[test]
fn options_parse_replay_v1_and_lock_check() {
    let replay = Options::try_parse_from(["marketplace", "--replay-v1", "orders.jsonl"])
        .expect("--replay-v1 takes a file");
    let check = Options::try_parse_from([
        "marketplace",
        "--lock-check",
        "events.lock.json",
        "--mode",
        "full-transitive",
    ])
    .expect("--lock-check takes a file and a mode");
    let replay_with_seed =
        Options::try_parse_from(["marketplace", "--replay-v1", "orders.jsonl", "--seed", "3"]);
    let mode_alone = Options::try_parse_from(["marketplace", "--mode", "full"]);

    assert_eq!(replay.replay_v1.as_deref(), Some(Path::new("orders.jsonl")));
    assert_eq!(check.mode, CompatMode::FullTransitive);
    assert_eq!(
        replay_with_seed.expect_err("a replay has no seed").kind(),
        clap::error::ErrorKind::ArgumentConflict
    );
    assert_eq!(
        mode_alone
            .expect_err("--mode belongs to --lock-check")
            .kind(),
        clap::error::ErrorKind::MissingRequiredArgument
    );
}

#[test]
#[cfg_attr(
    not(feature = "schema"),
    ignore = "needs the `schema` feature: cargo test --features schema --test marketplace"
)]
fn events_are_compatible() {
    let bus = build_bus().expect("the marketplace bus builds");
    let lock = Lock::read(LOCK_FILE).expect("the committed lock file is readable");

    // `Catalog::check` fails on a missing lock file, where `catalog::check` would write one.
    Catalog::for_bus(&bus)
        .check(&lock, Mode::BackwardTransitive)
        .unwrap_or_else(|error| {
            panic!("the events broke {LOCK_FILE}:\n{error}\nIf the change is intended, rewrite the lock with `cargo run --features schema --example marketplace -- --lock-write examples/marketplace.lock.json`")
        });
}

#[test]
#[cfg_attr(
    not(feature = "schema"),
    ignore = "needs the `schema` feature: cargo test --features schema --test marketplace"
)]
fn broken_lock_reports_field_path() {
    let bus = build_bus().expect("the marketplace bus builds");
    let lock_text = fs::read_to_string(LOCK_FILE).expect("the committed lock file is readable");
    let mut lock_json: Value = serde_json::from_str(&lock_text).expect("the lock file is JSON");
    // As if version 2 had been released with `shipping_cents` as a string.
    lock_json["events"]["OrderPlaced"]["2"]["schema"]["properties"]["shipping_cents"] =
        serde_json::json!({ "type": "string" });
    let broken: Lock = lock_json
        .to_string()
        .parse()
        .expect("the edited lock is valid");

    let error = Catalog::for_bus(&bus)
        .check(&broken, Mode::BackwardTransitive)
        .expect_err("the type of a locked field changed");
    let CheckError::Incompatible(incompatible) = error else {
        panic!("expected breaks, found {error}");
    };
    // The upcast from v1 to v2 is recorded, so only the change within v2 is
    // a break.
    let within_v2: Vec<&Break> = incompatible.breaks().iter().collect();

    assert_eq!(within_v2.len(), 1, "{incompatible}");
    assert_eq!(within_v2[0].event(), "OrderPlaced");
    assert_eq!(within_v2[0].path(), "shipping_cents");
    assert_eq!(
        within_v2[0].kind(),
        &BreakKind::ChangedType {
            from: "string".to_owned(),
            to: "integer (uint64)".to_owned(),
        }
    );
    assert!(within_v2[0].to_string().contains("at `shipping_cents`"));
}

#[test]
#[cfg_attr(
    not(feature = "schema"),
    ignore = "needs the `schema` feature: cargo test --features schema --test marketplace"
)]
fn lock_check_passes_on_committed_lock() {
    let bus = build_bus().expect("the marketplace bus builds");

    let breaks = check_lock(&bus, Path::new(LOCK_FILE), Mode::FullTransitive)
        .expect("the lock file is readable");

    assert!(breaks.is_empty(), "unexpected breaks: {breaks:?}");
}

#[cfg(not(feature = "schema"))]
#[test]
fn lock_check_needs_schema_feature() {
    let bus = build_bus().expect("the marketplace bus builds");

    let error = check_lock(&bus, Path::new(LOCK_FILE), Mode::BackwardTransitive)
        .expect_err("payloads have no schema without the feature");

    assert!(
        matches!(
            error.downcast_ref::<CheckError>(),
            Some(CheckError::MissingSchemas(_))
        ),
        "unexpected error: {error}"
    );
    assert!(error.to_string().contains("enable the `schema` feature"));
}

/// Runs a live day of `orders` orders that appends its envelopes to the
/// event store at `path`.
fn stored_day(path: &Path, orders: u64) -> Summary {
    let options = Options {
        store: Some(path.to_owned()),
        ..Options::day(SEED, orders)
    };
    run(&options).expect("the day is stored in a temporary directory")
}

fn replay_store_options(path: &Path) -> Options {
    Options {
        replay_store: Some(path.to_owned()),
        ..Options::day(SEED, ORDERS)
    }
}

#[test]
fn store_replay_equals_live_day() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("day.sqlite3");
    let live = stored_day(&path, ORDERS);

    let (replayed, stored) =
        run_day_with_store(&build_bus().unwrap(), &replay_store_options(&path))
            .expect("the stored day is readable");

    assert_eq!(replayed, live);
    assert_eq!(replayed.to_string(), live.to_string());
    let stored = stored.expect("a store replay names the day it read");
    assert_eq!(stored.stream, "day-1");
    assert_eq!(stored.events, live.envelopes());
}

#[test]
fn store_keeps_every_envelope_in_order() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let store_path = directory.path().join("day.sqlite3");
    let file_path = directory.path().join("day.jsonl");
    let options = Options {
        store: Some(store_path.clone()),
        write: Some(file_path.clone()),
        ..Options::day(SEED, ORDERS)
    };
    let (summary, stored) =
        run_day_with_store(&build_bus().unwrap(), &options).expect("the day is stored");

    let store = events_store::SqliteStore::open(&store_path).expect("the store opens");
    let ids: Vec<String> = events_store::Store::read(&store, events_store::ReadFrom::Start)
        .map(|event| event.expect("every stored row is readable").id)
        .collect();
    let saved = read_json_lines(&file_path);
    let saved_ids: Vec<&str> = saved.iter().map(|line| text(line, "id")).collect();

    assert_eq!(
        stored.expect("the day was stored").events,
        summary.envelopes()
    );
    assert_eq!(ids.len() as u64, summary.envelopes());
    assert_eq!(ids, saved_ids);
}

#[test]
fn store_replay_takes_last_day() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("days.sqlite3");
    stored_day(&path, ORDERS);
    let second = stored_day(&path, 5);

    let (replayed, stored) =
        run_day_with_store(&build_bus().unwrap(), &replay_store_options(&path))
            .expect("the stored days are readable");

    assert_eq!(
        stored.expect("a store replay names the day").stream,
        "day-2"
    );
    assert_eq!(replayed.totals.orders, 5);
    assert_eq!(replayed, second);
}

#[test]
fn store_replay_lists_undecodable_events() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("day.sqlite3");
    let live = stored_day(&path, ORDERS);
    let mut store = events_store::SqliteStore::open(&path).expect("the store opens");
    let version = events_store::Store::stream_version(&store, "day-1").expect("a version");
    let unknown = r#"{"specversion":"1.0","id":"r-1","source":"https://marketplace.example/shop","type":"RefundIssued","data":{"order_id":3}}"#;
    events_store::Store::append_to_stream(
        &mut store,
        "day-1",
        events_store::ExpectedVersion::Exact(version),
        &[unknown],
    )
    .expect("the append succeeds");

    let replayed = run(&replay_store_options(&path)).expect("the stored day is readable");

    assert_eq!(replayed.undecodable.len(), 1);
    let listed = &replayed.undecodable[0];
    assert_eq!(listed.line as u64, version + 1);
    assert_eq!(listed.reason, "unknown event");
    assert!(listed.in_store);
    assert_eq!(replayed.totals, live.totals);
    assert!(replayed
        .to_string()
        .contains(&format!("position {} (unknown event)", version + 1)));
}

#[test]
fn store_replay_of_missing_store_fails() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("missing.sqlite3");

    let error = run(&replay_store_options(&path)).expect_err("the store does not exist");

    assert!(
        error.to_string().contains(&path.display().to_string()),
        "the error names the store: {error}"
    );
    assert!(!path.exists(), "the replay created no store");
}

#[test]
fn run_rejects_read_with_store() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let options = Options {
        read: Some(directory.path().join("in.jsonl")),
        store: Some(directory.path().join("out.sqlite3")),
        ..Options::day(SEED, ORDERS)
    };

    let error = run(&options).expect_err("a replay stores nothing");

    assert!(
        error.to_string().contains("cannot be combined"),
        "unexpected error: {error}"
    );
}

#[test]
fn options_parse_store_flags() {
    let stored = Options::try_parse_from(["marketplace", "--store", "day.sqlite3"])
        .expect("--store takes a path");
    let replay = Options::try_parse_from(["marketplace", "--replay-store", "day.sqlite3"])
        .expect("--replay-store takes a path");
    let replay_with_seed = Options::try_parse_from([
        "marketplace",
        "--replay-store",
        "day.sqlite3",
        "--seed",
        "3",
    ]);
    let store_without_store =
        Options::try_parse_from(["marketplace", "--store", "day.sqlite3", "--no-store"]);

    assert_eq!(stored.store.as_deref(), Some(Path::new("day.sqlite3")));
    assert_eq!(
        replay.replay_store.as_deref(),
        Some(Path::new("day.sqlite3"))
    );
    let error = replay_with_seed.expect_err("a replay has no seed");
    assert_eq!(error.kind(), clap::error::ErrorKind::ArgumentConflict);
    let error = store_without_store.expect_err("--no-store contradicts --store");
    assert_eq!(error.kind(), clap::error::ErrorKind::ArgumentConflict);
}

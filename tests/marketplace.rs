//! Tests of the marketplace example: the counts of a simulated day, the
//! causal links between its events, and saving and replaying a day.
//!
//! Every test in this binary shares the example's handlers and its static bus.
//! The counters of a day live in a thread-local slot that `run` fills and
//! empties again, and each test runs its days on its own test thread, so the
//! tests may run in parallel without seeing each other's counts.

#[allow(dead_code)]
#[path = "../examples/marketplace.rs"]
mod marketplace;

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use clap::Parser;
use marketplace::{catalog, run, Options, Summary, DECLINED_CARD_LAST4};
use serde_json::Value;

const SEED: u64 = 7;
const ORDERS: u64 = 120;

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
    assert!(lines.iter().all(|line| line["dataversion"] == 1));
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
    let invalid_payload = r#"{"specversion":"1.0","id":"o-1","source":"https://marketplace.example/shop","type":"OrderPlaced","data":{"order_id":"three"}}"#;
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
        .contains("`OrderPlaced` version 1"));
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
    let catalog = catalog();
    let order_placed = catalog
        .split("\n\n")
        .find(|section| section.starts_with("OrderPlaced v1"))
        .expect("the catalog describes OrderPlaced");
    let position = |handler: &str| {
        order_placed
            .find(handler)
            .unwrap_or_else(|| panic!("{handler} is listed under OrderPlaced"))
    };

    assert!(catalog.starts_with("Catalog: 9 events, 22 handlers\n"));
    assert!(order_placed.starts_with("OrderPlaced v1 (integration)\n"));
    assert!(order_placed.contains("lines           Vec<OrderLine>  Ordered products."));
    assert!(position("journal.order_placed") < position("payments.charge_card"));
    assert!(position("payments.charge_card") < position("analytics.count_order"));
    assert!(order_placed.contains("payments.charge_card   priority  100  async  takes &E"));
    assert!(catalog.contains("warehouse.fulfil           priority    0  sync   takes &Envelope<E>"));
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

//! Counters and latencies through the `metrics` facade, with the `metrics`
//! feature. The "Metrics" section of the `events` crate documentation
//! (`src/lib.rs` of the facade) lists their names, kinds and labels for
//! users, so change it together with this file.

use std::time::Duration;

use metrics::Label;

use crate::dead_letter::{DeadLetter, DeadLetterReason};

pub(crate) fn event_handled(event: &'static str) {
    metrics::counter!("events_handled_total", "event" => event).increment(1);
}

pub(crate) fn handler_ran(event: &'static str, handler: &'static str, ok: bool, took: Duration) {
    let outcome = if ok { "ok" } else { "error" };
    metrics::counter!(
        "events_handler_runs_total",
        "event" => event,
        "handler" => handler,
        "outcome" => outcome
    )
    .increment(1);
    metrics::histogram!(
        "events_handler_duration_seconds",
        "event" => event,
        "handler" => handler
    )
    .record(took.as_secs_f64());
}

pub(crate) fn handler_retried(event: &'static str, handler: &'static str) {
    metrics::counter!("events_handler_retries_total", "event" => event, "handler" => handler)
        .increment(1);
}

/// Returns the labels of `events_dead_letters_total` for `letter`, taken
/// before the store consumes it. `handler` is empty when the bus kept the
/// whole event rather than one handler's failure.
pub(crate) fn dead_letter_labels(letter: &DeadLetter) -> Vec<Label> {
    vec![
        Label::new("event", letter.event_name().to_owned()),
        Label::new("handler", letter.handler().unwrap_or_default().to_owned()),
        Label::new("reason", reason_label(letter.reason())),
    ]
}

/// Counts a dead letter that the store accepted.
pub(crate) fn dead_letter_kept(labels: Vec<Label>) {
    metrics::counter!("events_dead_letters_total", labels).increment(1);
}

fn reason_label(reason: DeadLetterReason) -> &'static str {
    match reason {
        DeadLetterReason::HandlerFailed => "handler_failed",
        DeadLetterReason::ShutDown => "shut_down",
        DeadLetterReason::DepthExceeded => "depth_exceeded",
        DeadLetterReason::Cancelled => "cancelled",
        DeadLetterReason::Undecodable => "undecodable",
    }
}

//! Counters and latencies through the `metrics` facade, with the `metrics`
//! feature. Install any `metrics` recorder (Prometheus, StatsD, ...) to
//! collect them:
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `events_handled_total` | counter | `event` |
//! | `events_handler_runs_total` | counter, one per attempt | `event`, `handler`, `outcome` (`ok` or `error`) |
//! | `events_handler_duration_seconds` | histogram, one value per attempt | `event`, `handler` |
//! | `events_handler_retries_total` | counter | `event`, `handler` |
//! | `events_dead_letters_total` | counter | `event`, `handler` |

use std::time::Duration;

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

pub(crate) fn handler_failed(event: &'static str, handler: &'static str, dead_lettered: bool) {
    if dead_lettered {
        metrics::counter!("events_dead_letters_total", "event" => event, "handler" => handler)
            .increment(1);
    }
}

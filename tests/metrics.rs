//! Counters and latencies through the `metrics` facade, with the `metrics`
//! feature: `cargo test --features metrics --test metrics`.

#[cfg(not(feature = "metrics"))]
#[test]
#[ignore = "needs the `metrics` feature: cargo test --features metrics --test metrics"]
fn metrics_are_recorded() {}

#[cfg(feature = "metrics")]
mod with_feature {
    use events::{on, Bus, Context, Event};
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use serde::{Deserialize, Serialize};

    #[derive(Event, Serialize, Deserialize)]
    #[event(name = "metrics.InvoiceIssued")]
    struct InvoiceIssued {
        invoice_id: u64,
    }

    #[on(InvoiceIssued, name = "metrics.export", attempts = 2)]
    fn export(invoice: &InvoiceIssued, cx: Context) -> Result<(), String> {
        // Invoice 1 succeeds on its second attempt; invoice 2 never does.
        match (invoice.invoice_id, cx.attempt()) {
            (1, 1) | (2, _) => Err("ERP unreachable".into()),
            _ => Ok(()),
        }
    }

    /// A recorded metric: its name, its labels and its value.
    type Recorded = (String, Vec<(String, String)>, DebugValue);

    /// Finds the value of the metric `name` whose labels include every pair in `labels`.
    fn find<'a>(
        snapshot: &'a [Recorded],
        name: &str,
        labels: &[(&str, &str)],
    ) -> Option<&'a DebugValue> {
        snapshot
            .iter()
            .find(|(key, key_labels, _)| {
                key == name
                    && labels.iter().all(|(label, value)| {
                        key_labels.iter().any(|(l, v)| l == label && v == value)
                    })
            })
            .map(|(_, _, value)| value)
    }

    #[test]
    fn emits_count_runs_retries_and_dead_letters() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            let bus = Bus::new();
            assert!(bus.emit(InvoiceIssued { invoice_id: 1 }).is_ok());
            assert!(!bus.emit(InvoiceIssued { invoice_id: 2 }).is_ok());
        });

        let snapshot: Vec<_> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let key = key.key();
                let labels = key
                    .labels()
                    .map(|label| (label.key().to_owned(), label.value().to_owned()))
                    .collect();
                (key.name().to_owned(), labels, value)
            })
            .collect();

        let event = ("event", "metrics.InvoiceIssued");
        let handler = ("handler", "metrics.export");
        assert_eq!(
            find(&snapshot, "events_handled_total", &[event]),
            Some(&DebugValue::Counter(2))
        );
        // Invoice 1: one failed and one successful attempt. Invoice 2: two failed.
        assert_eq!(
            find(
                &snapshot,
                "events_handler_runs_total",
                &[event, handler, ("outcome", "error")]
            ),
            Some(&DebugValue::Counter(3))
        );
        assert_eq!(
            find(
                &snapshot,
                "events_handler_runs_total",
                &[event, handler, ("outcome", "ok")]
            ),
            Some(&DebugValue::Counter(1))
        );
        assert_eq!(
            find(&snapshot, "events_handler_retries_total", &[event, handler]),
            Some(&DebugValue::Counter(2))
        );
        assert_eq!(
            find(&snapshot, "events_dead_letters_total", &[event, handler]),
            Some(&DebugValue::Counter(1))
        );
        let Some(DebugValue::Histogram(latencies)) = find(
            &snapshot,
            "events_handler_duration_seconds",
            &[event, handler],
        ) else {
            panic!("no handler latency histogram in {snapshot:?}");
        };
        assert_eq!(latencies.len(), 4);
    }
}

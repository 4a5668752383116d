//! Counters and latencies through the `metrics` facade, with the `metrics`
//! feature: `cargo test --features metrics --test metrics`.

#[cfg(not(feature = "metrics"))]
#[test]
#[ignore = "needs the `metrics` feature: cargo test --features metrics --test metrics"]
fn metrics_are_recorded() {}

#[cfg(feature = "metrics")]
mod with_feature {
    use std::time::Duration;

    use events::dead_letter::{DeadLetter, DeadLetterReason};
    use events::{on, Bus, Context, Event};
    use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
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

    /// Takes every metric recorded so far.
    fn snapshot(snapshotter: &Snapshotter) -> Vec<Recorded> {
        snapshotter
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
            .collect()
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

        let snapshot = snapshot(&snapshotter);

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
            find(
                &snapshot,
                "events_dead_letters_total",
                &[event, handler, ("reason", "handler_failed")]
            ),
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

    #[derive(Event, Serialize, Deserialize)]
    #[event(name = "metrics.PriceChanged")]
    struct PriceChanged;

    // Re-emits its own event, so only the depth limit ends the chain.
    #[on(PriceChanged, name = "metrics.reprice")]
    fn reprice(_: &PriceChanged, cx: Context) {
        cx.emit(PriceChanged);
    }

    #[derive(Event, Serialize, Deserialize)]
    #[event(name = "metrics.StreamOpened")]
    struct StreamOpened;

    #[on(StreamOpened, name = "metrics.follow")]
    async fn follow(_: &StreamOpened) {
        std::future::pending::<()>().await;
    }

    #[test]
    fn dead_letters_of_whole_events_counted() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let bus = Bus::builder().max_depth(1).build().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        metrics::with_local_recorder(&recorder, || {
            // Depths 0 and 1 run the handler, and the emit at depth 2 is rejected.
            assert!(!bus.emit(PriceChanged).is_ok());
            runtime.block_on(async {
                bus.emit_detached(StreamOpened).unwrap();
                // The handler never finishes, so a zero timeout cancels it.
                let report = bus.shutdown(Duration::ZERO).await;
                assert_eq!(report.still_running().len(), 1, "{report}");
            });
            assert!(bus.emit(PriceChanged).rejected().is_some());
        });

        let snapshot = snapshot(&snapshotter);
        let no_handler = ("handler", "");
        let price = ("event", "metrics.PriceChanged");
        assert_eq!(
            find(
                &snapshot,
                "events_dead_letters_total",
                &[price, no_handler, ("reason", "depth_exceeded")]
            ),
            Some(&DebugValue::Counter(1))
        );
        assert_eq!(
            find(
                &snapshot,
                "events_dead_letters_total",
                &[price, no_handler, ("reason", "shut_down")]
            ),
            Some(&DebugValue::Counter(1))
        );
        assert_eq!(
            find(
                &snapshot,
                "events_dead_letters_total",
                &[
                    ("event", "metrics.StreamOpened"),
                    no_handler,
                    ("reason", "cancelled")
                ]
            ),
            Some(&DebugValue::Counter(1))
        );
        assert_eq!(bus.dead_letters().list().unwrap().len(), 3);
    }

    #[test]
    fn kept_dead_letters_counted() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let bus = Bus::new();
        let raw = br#"{"specversion":"1.0","id":"s-9","source":"store","type":"metrics.Gone"}"#;
        let letter = DeadLetter::builder(raw.to_vec(), "metrics.Gone", 1, "s-9")
            .reason(DeadLetterReason::Undecodable)
            .error("unknown event")
            .attempts(0)
            .build();

        metrics::with_local_recorder(&recorder, || {
            bus.keep_dead_letter(letter.clone()).unwrap();
            // Pushed past the bus, the letter is kept but not counted.
            bus.dead_letters().push(letter).unwrap();
        });

        let snapshot = snapshot(&snapshotter);
        assert_eq!(
            find(
                &snapshot,
                "events_dead_letters_total",
                &[
                    ("event", "metrics.Gone"),
                    ("handler", ""),
                    ("reason", "undecodable")
                ]
            ),
            Some(&DebugValue::Counter(1))
        );
        assert_eq!(bus.dead_letters().list().unwrap().len(), 2);
    }
}

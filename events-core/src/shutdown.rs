//! Detached emits and the shutdown that waits for them.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio::task::{AbortHandle, JoinHandle};

use crate::dead_letter::{DeadLetter, DeadLetterId, DeadLetterReason};
use crate::decode::ErasedEnvelope;
use crate::envelope::{Envelope, EventId};
use crate::event::Event;
use crate::report::Report;

/// The error of a dead letter kept for work cancelled at shutdown.
pub(crate) const CANCELLED_ERROR: &str = "still running when the shutdown timed out";

/// The detached work of a bus, and whether the bus still accepts new work.
#[derive(Default)]
pub(crate) struct Tracker {
    state: Mutex<TrackerState>,
    idle: Notify,
    /// Set by [`close`](Tracker::close) when shutdown begins. It is written
    /// under the `state` lock and read under it by [`spawn`](Tracker::spawn),
    /// so every spawn either registers its work before the shutdown looks
    /// for running work, or is rejected.
    closed: AtomicBool,
}

#[derive(Default)]
struct TrackerState {
    next_key: u64,
    running: BTreeMap<u64, StillRunning>,
    finished: usize,
    failed: Vec<Report>,
}

impl Tracker {
    fn state(&self) -> MutexGuard<'_, TrackerState> {
        // Every change under the lock is one insert, removal or push, so a
        // panic elsewhere cannot leave it half-done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Returns whether [`close`](Tracker::close) was called.
    pub(crate) fn is_closed(&self) -> bool {
        // The flag guards no other data, and `spawn` reads it again under
        // the lock, so a relaxed load is enough here.
        self.closed.load(Ordering::Relaxed)
    }

    /// Closes the tracker, so that every later [`spawn`](Tracker::spawn)
    /// returns its event unspawned.
    pub(crate) fn close(&self) {
        let _state = self.state();
        self.closed.store(true, Ordering::Relaxed);
    }

    /// Spawns the work that `start` returns for `envelope`, unless the
    /// tracker is closed, in which case it returns the event unspawned.
    /// The work must call [`finish`](Tracker::finish) with the key it is
    /// given when done.
    pub(crate) fn spawn<E, F>(
        &self,
        envelope: Envelope<E>,
        start: impl FnOnce(u64, Arc<Envelope<E>>) -> F,
    ) -> Result<Detached, E>
    where
        E: Event,
        F: Future<Output = Report> + Send + 'static,
    {
        let mut state = self.state();
        // Checked under the lock that `close` takes, so a shutdown cannot
        // begin between this check and the insert below.
        if self.closed.load(Ordering::Relaxed) {
            return Err(envelope.into_payload());
        }
        state.next_key += 1;
        let key = state.next_key;
        let id = envelope.metadata.id.clone();
        let envelope = Arc::new(envelope);
        let erased: Arc<dyn ErasedEnvelope> = envelope.clone();
        // The lock is held until the entry is in, so a task that finishes at
        // once on another thread waits for it in `finish`.
        let handle = tokio::spawn(start(key, envelope));
        state.running.insert(
            key,
            StillRunning {
                event: E::NAME,
                id: id.clone(),
                since: Utc::now(),
                envelope: erased,
                abort: Some(handle.abort_handle()),
                dead_letter: None,
            },
        );
        Ok(Detached { id, handle })
    }

    pub(crate) fn finish(&self, key: u64, report: &Report) {
        let mut state = self.state();
        if state.running.remove(&key).is_some() {
            state.finished += 1;
            if !report.is_ok() {
                state.failed.push(report.clone());
            }
        }
        if state.running.is_empty() {
            self.idle.notify_waiters();
        }
    }

    /// Waits until no work runs or `timeout` passes, then cancels what still
    /// runs and returns it.
    pub(crate) async fn drain(&self, timeout: Duration) -> Vec<StillRunning> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let mut notified = std::pin::pin!(self.idle.notified());
            notified.as_mut().enable();
            if self.state().running.is_empty() {
                return Vec::new();
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                break;
            }
        }
        let running = std::mem::take(&mut self.state().running);
        running
            .into_values()
            .map(|mut running| {
                if let Some(abort) = running.abort.take() {
                    abort.abort();
                }
                running
            })
            .collect()
    }

    pub(crate) fn report(&self, still_running: Vec<StillRunning>) -> ShutdownReport {
        let mut state = self.state();
        ShutdownReport {
            finished: state.finished,
            failed: std::mem::take(&mut state.failed),
            still_running,
        }
    }
}

/// Work spawned by [`Bus::emit_detached`](crate::Bus::emit_detached).
///
/// Dropping it does not cancel the work; the bus keeps tracking it.
#[derive(Debug)]
pub struct Detached {
    id: EventId,
    handle: JoinHandle<Report>,
}

impl Detached {
    /// Returns the id of the spawned event.
    ///
    /// ```
    /// # use events::{Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let detached = Bus::new().emit_detached(OrderPlaced).unwrap();
    /// assert!(detached.id().as_uuid().is_some());
    /// # });
    /// ```
    pub fn id(&self) -> &EventId {
        &self.id
    }

    /// Waits for the work to finish and returns its report, or `None` if it
    /// was cancelled by a shutdown that timed out.
    ///
    /// ```
    /// # use events::{Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let report = Bus::new().emit_detached(OrderPlaced).unwrap().report().await;
    /// assert_eq!(report.unwrap().handlers_run(), 0);
    /// # });
    /// ```
    pub async fn report(self) -> Option<Report> {
        self.handle.await.ok()
    }
}

/// The outcome of [`Bus::shutdown`](crate::Bus::shutdown).
///
/// ```
/// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let report = Bus::new().shutdown(std::time::Duration::from_secs(1)).await;
/// assert_eq!(report.to_string(), "shutdown: 0 detached event(s) finished, 0 failed, 0 still running");
/// # });
/// ```
#[derive(Debug)]
pub struct ShutdownReport {
    finished: usize,
    failed: Vec<Report>,
    still_running: Vec<StillRunning>,
}

impl ShutdownReport {
    /// Returns how many detached events were handled to the end, with or
    /// without failures, since the bus was built.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct InvoiceIssued { invoice_id: u64 }
    /// #[on(InvoiceIssued)]
    /// async fn export(invoice: &InvoiceIssued) -> Result<(), String> {
    ///     if invoice.invoice_id == 0 { Err("invoice id 0 is invalid".into()) } else { Ok(()) }
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let bus = Bus::new();
    /// bus.emit_detached(InvoiceIssued { invoice_id: 0 }).unwrap();
    /// bus.emit_detached(InvoiceIssued { invoice_id: 12 }).unwrap();
    /// let report = bus.shutdown(std::time::Duration::from_secs(5)).await;
    /// assert_eq!(report.finished(), 2);
    /// # });
    /// ```
    pub fn finished(&self) -> usize {
        self.finished
    }

    /// Returns the reports of detached events that finished with failures.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct InvoiceIssued { invoice_id: u64 }
    /// #[on(InvoiceIssued)]
    /// async fn export(invoice: &InvoiceIssued) -> Result<(), String> {
    ///     if invoice.invoice_id == 0 { Err("invoice id 0 is invalid".into()) } else { Ok(()) }
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let bus = Bus::new();
    /// bus.emit_detached(InvoiceIssued { invoice_id: 0 }).unwrap();
    /// bus.emit_detached(InvoiceIssued { invoice_id: 12 }).unwrap();
    /// let report = bus.shutdown(std::time::Duration::from_secs(5)).await;
    /// for failed in report.failed() {
    ///     eprintln!("{failed}");
    /// }
    /// assert_eq!(report.failed().len(), 1);
    /// assert_eq!(report.failed()[0].failures()[0].error().to_string(), "invoice id 0 is invalid");
    /// # });
    /// ```
    pub fn failed(&self) -> &[Report] {
        &self.failed
    }

    /// Returns the detached events still being handled when the timeout
    /// passed. They were cancelled and kept in the dead-letter store.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct ExportRequested { batch: u32 }
    /// # #[on(ExportRequested)] async fn export(_: &ExportRequested) { std::future::pending::<()>().await }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let bus = Bus::new();
    /// bus.emit_detached(ExportRequested { batch: 3 }).unwrap();
    /// let report = bus.shutdown(std::time::Duration::from_millis(10)).await;
    /// assert_eq!(report.still_running().len(), 1);
    /// assert_eq!(bus.dead_letters().list().unwrap().len(), 1);
    /// # });
    /// ```
    pub fn still_running(&self) -> &[StillRunning] {
        &self.still_running
    }

    /// Returns whether every detached event finished without failures.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct InvoiceIssued { invoice_id: u64 }
    /// #[on(InvoiceIssued)]
    /// async fn export(invoice: &InvoiceIssued) -> Result<(), String> {
    ///     if invoice.invoice_id == 0 { Err("invoice id 0 is invalid".into()) } else { Ok(()) }
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let bus = Bus::new();
    /// bus.emit_detached(InvoiceIssued { invoice_id: 0 }).unwrap();
    /// bus.emit_detached(InvoiceIssued { invoice_id: 12 }).unwrap();
    /// let report = bus.shutdown(std::time::Duration::from_secs(5)).await;
    /// if !report.is_clean() {
    ///     eprintln!("{report}");
    /// }
    /// assert!(!report.is_clean());
    /// # });
    /// ```
    pub fn is_clean(&self) -> bool {
        self.failed.is_empty() && self.still_running.is_empty()
    }
}

impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "shutdown: {} detached event(s) finished, {} failed, {} still running",
            self.finished,
            self.failed.len(),
            self.still_running.len()
        )?;
        for running in &self.still_running {
            write!(f, "\n  - {running}")?;
        }
        Ok(())
    }
}

/// A detached event that was still being handled when a shutdown timed out.
///
/// ```
/// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct ExportRequested { batch: u32 }
/// use events::dead_letter::DeadLetterReason;
/// use std::time::Duration;
///
/// #[on(ExportRequested)]
/// async fn export(_: &ExportRequested) {
///     // A peer that never responds.
///     std::future::pending::<()>().await;
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let bus = Bus::new();
/// let detached = bus.emit_detached(ExportRequested { batch: 3 }).unwrap();
/// let id = detached.id().clone();
///
/// let report = bus.shutdown(Duration::from_millis(10)).await;
/// let running = &report.still_running()[0];
/// eprintln!("cancelled: {running}");
/// assert_eq!(running.event(), "ExportRequested");
/// assert_eq!(running.id(), &id);
///
/// // The cancelled event waits in the dead-letter store for a later redispatch.
/// let letter = bus.dead_letters().get(running.dead_letter().unwrap()).unwrap().unwrap();
/// assert_eq!(letter.reason(), DeadLetterReason::Cancelled);
/// # });
/// ```
pub struct StillRunning {
    event: &'static str,
    id: EventId,
    since: DateTime<Utc>,
    envelope: Arc<dyn ErasedEnvelope>,
    abort: Option<AbortHandle>,
    pub(crate) dead_letter: Option<DeadLetterId>,
}

impl StillRunning {
    /// Returns the event's name.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct ExportRequested { batch: u32 }
    /// # #[on(ExportRequested)] async fn export(_: &ExportRequested) { std::future::pending::<()>().await }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let bus = Bus::new();
    /// bus.emit_detached(ExportRequested { batch: 3 }).unwrap();
    /// let report = bus.shutdown(std::time::Duration::from_millis(10)).await;
    /// assert_eq!(report.still_running()[0].event(), "ExportRequested");
    /// # });
    /// ```
    pub fn event(&self) -> &'static str {
        self.event
    }

    /// Returns the event's id.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct ExportRequested { batch: u32 }
    /// # #[on(ExportRequested)] async fn export(_: &ExportRequested) { std::future::pending::<()>().await }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let bus = Bus::new();
    /// let id = bus.emit_detached(ExportRequested { batch: 3 }).unwrap().id().clone();
    /// let report = bus.shutdown(std::time::Duration::from_millis(10)).await;
    /// assert_eq!(report.still_running()[0].id(), &id);
    /// # });
    /// ```
    pub fn id(&self) -> &EventId {
        &self.id
    }

    /// Returns when the event was spawned.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct ExportRequested { batch: u32 }
    /// # #[on(ExportRequested)] async fn export(_: &ExportRequested) { std::future::pending::<()>().await }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let bus = Bus::new();
    /// let before = events::chrono::Utc::now();
    /// bus.emit_detached(ExportRequested { batch: 3 }).unwrap();
    /// let report = bus.shutdown(std::time::Duration::from_millis(10)).await;
    /// let running = &report.still_running()[0];
    /// eprintln!("`{}` ran for {}", running.event(), events::chrono::Utc::now() - running.since());
    /// assert!(running.since() >= before);
    /// # });
    /// ```
    pub fn since(&self) -> DateTime<Utc> {
        self.since
    }

    /// Returns the id of the dead letter that keeps the event, or `None` when
    /// the event could not be encoded or the store failed to keep it.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct ExportRequested { batch: u32 }
    /// # #[on(ExportRequested)] async fn export(_: &ExportRequested) { std::future::pending::<()>().await }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let bus = Bus::new();
    /// bus.emit_detached(ExportRequested { batch: 3 }).unwrap();
    /// let report = bus.shutdown(std::time::Duration::from_millis(10)).await;
    /// let id = report.still_running()[0].dead_letter().unwrap();
    /// let letter = bus.dead_letters().get(id).unwrap().unwrap();
    /// assert_eq!(letter.event_name(), "ExportRequested");
    /// # });
    /// ```
    pub fn dead_letter(&self) -> Option<DeadLetterId> {
        self.dead_letter
    }

    /// Returns the event's correlation id, or its id when it starts a chain.
    pub(crate) fn correlation_id(&self) -> &EventId {
        self.envelope.metadata().correlation_or_id()
    }

    pub(crate) fn to_dead_letter(&self, reason: DeadLetterReason) -> Option<DeadLetter> {
        let metadata = self.envelope.metadata();
        match self.envelope.to_json() {
            Ok(json) => Some(
                DeadLetter::builder(json, self.event, metadata.version(), self.id.to_string())
                    .reason(reason)
                    .error(CANCELLED_ERROR)
                    .attempts(0)
                    .times(self.since, Utc::now())
                    .build(),
            ),
            Err(error) => {
                tracing::error!(event = self.event, id = %self.id, %error, "cannot encode the event for the dead-letter store");
                None
            }
        }
    }
}

impl fmt::Debug for StillRunning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StillRunning")
            .field("event", &self.event)
            .field("id", &self.id)
            .field("since", &self.since)
            .field("dead_letter", &self.dead_letter)
            .finish()
    }
}

impl fmt::Display for StillRunning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` {} since {}", self.event, self.id, self.since)?;
        if let Some(id) = self.dead_letter {
            write!(f, " (dead letter {id})")?;
        }
        Ok(())
    }
}

//! Replaying stored events through a bus.

use std::fmt;

use events_core::dead_letter::{DeadLetter, DeadLetterId, DeadLetterReason};
use events_core::{Bus, DynEnvelope, HandlerError, Report};

use crate::error::StoreError;
use crate::query::Query;
use crate::stored::StoredEvent;
use crate::Store;

/// Settings of a [`replay`].
///
/// ```
/// let options = events_store::ReplayOptions::new().stop_on_error(true);
/// assert!(options.stops_on_error());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplayOptions {
    stop_on_error: bool,
}

impl ReplayOptions {
    /// Returns the default options: the replay goes on after errors.
    pub fn new() -> ReplayOptions {
        ReplayOptions::default()
    }

    /// Sets whether the replay stops after the first event that is
    /// undecodable or whose handlers did not all succeed. The default is
    /// `false`: such events are counted in the report and the replay goes on.
    ///
    /// ```
    /// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
    /// use events::Bus;
    /// use events_store::{replay, ReadFrom, ReplayOptions, SqliteStore, Store};
    ///
    /// let mut store = SqliteStore::in_memory()?;
    /// let unknown = br#"{"specversion":"1.0","id":"1","source":"erp","type":"VendorSynced"}"#;
    /// store.append(&[&unknown[..], &unknown[..]])?;
    ///
    /// let options = ReplayOptions::new().stop_on_error(true);
    /// let report = replay(&store, &Bus::new(), ReadFrom::Start, options)?;
    /// assert!(report.stopped);
    /// assert_eq!(report.read, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stop_on_error(mut self, stop: bool) -> ReplayOptions {
        self.stop_on_error = stop;
        self
    }

    /// Returns whether the replay stops after the first error.
    pub fn stops_on_error(&self) -> bool {
        self.stop_on_error
    }
}

/// A stored row that could not be dispatched because it did not decode or
/// could not be read.
///
/// ```
/// use events::Bus;
/// use events_store::{replay, ReadFrom, ReplayOptions, SqliteStore, Store};
///
/// let mut store = SqliteStore::in_memory()?;
/// let unknown = br#"{"specversion":"1.0","id":"1","source":"erp","type":"VendorSynced"}"#;
/// store.append(&[&unknown[..]])?;
///
/// let bus = Bus::new();
/// let report = replay(&store, &bus, ReadFrom::Start, ReplayOptions::new())?;
/// let undecodable = &report.undecodable[0];
/// assert_eq!(undecodable.position, 1);
/// assert!(undecodable.error.contains("VendorSynced"));
/// let letter = bus.dead_letters().get(undecodable.dead_letter.unwrap())?.unwrap();
/// assert_eq!(letter.event(), unknown);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Undecodable {
    /// The global position of the row.
    pub position: u64,
    /// Why the row could not be decoded or read. When keeping it in the
    /// dead-letter store failed, the message ends with that error.
    pub error: String,
    /// The id of the row's dead letter in the bus's dead-letter store.
    /// `None` when the row could not be read, so that there was no JSON to
    /// keep, or when the dead-letter store failed.
    pub dead_letter: Option<DeadLetterId>,
}

/// The outcome of a [`replay`], or of one
/// [`poll`](crate::Subscription::poll) of a subscription.
///
/// ```
/// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// use events::Bus;
/// use events_store::{replay, ReadFrom, ReplayOptions, SqliteStore, Store};
///
/// let mut store = SqliteStore::in_memory()?;
/// store.append(&[Envelope::new(OrderPlaced { order_id: 7 }), Envelope::new(OrderPlaced { order_id: 8 })])?;
///
/// let report = replay(&store, &Bus::new(), ReadFrom::Start, ReplayOptions::new())?;
/// assert_eq!(report.read, 2);
/// assert_eq!(report.dispatched, 2);
/// assert_eq!(report.handler_failures, 0);
/// assert_eq!(report.last_position, Some(2));
/// assert!(report.is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplayReport {
    /// The rows read, decodable or not.
    pub read: u64,
    /// The events decoded and dispatched to the bus.
    pub dispatched: u64,
    /// The handlers that failed after their last attempt, summed over the
    /// dispatched events. Follow-up events emitted by handlers are not
    /// counted here, but make their event appear in `failed_positions`.
    pub handler_failures: u64,
    /// The positions of dispatched events whose bus [`Report`] was not ok:
    /// a handler failed, the bus rejected the event, or a follow-up failed.
    pub failed_positions: Vec<u64>,
    /// The rows that could not be decoded or read, in position order.
    pub undecodable: Vec<Undecodable>,
    /// The position of the last row read, `None` when no row was read.
    pub last_position: Option<u64>,
    /// Whether [`ReplayOptions::stop_on_error`] ended the replay early, at
    /// `last_position`.
    pub stopped: bool,
}

impl ReplayReport {
    /// Returns whether every row read was decoded and handled without failure.
    pub fn is_ok(&self) -> bool {
        self.failed_positions.is_empty() && self.undecodable.is_empty()
    }
}

/// A replay that ended because the store failed, with what it did before.
///
/// ```
/// use events_store::ReplayError;
///
/// fn resume_point(error: &ReplayError) -> Option<u64> {
///     error.report().last_position.map(|position| position + 1)
/// }
/// ```
#[derive(Debug)]
pub struct ReplayError {
    /// Boxed, so that results with this error stay small.
    inner: Box<(ReplayReport, StoreError)>,
}

impl ReplayError {
    /// Returns what the replay did before the store failed.
    pub fn report(&self) -> &ReplayReport {
        &self.inner.0
    }

    /// Returns the store error.
    pub fn store_error(&self) -> &StoreError {
        &self.inner.1
    }

    /// Splits the error into the partial report and the store error.
    pub fn into_parts(self) -> (ReplayReport, StoreError) {
        *self.inner
    }
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (report, source) = &*self.inner;
        match report.last_position {
            Some(position) => write!(
                f,
                "stopped after position {position}, so start again from position {} once \
                 this is fixed: {source}",
                position + 1,
            ),
            None => write!(f, "stopped before the first event: {source}"),
        }
    }
}

/// The message contains the store error, so `source` returns `None`, as
/// for [`StoreError`]; [`store_error`](ReplayError::store_error) returns it.
impl std::error::Error for ReplayError {}

/// Dispatches the stored events that `query` selects, in position order,
/// through [`Bus::replay`], reading one page of rows at a time.
///
/// Handlers see [`Context::is_replay`](events_core::Context::is_replay)
/// return `true`, and handlers marked `#[on(E, replay = false)]` do not run.
/// Only synchronous handlers run, as with [`Bus::replay`]. An event with an
/// `async` handler stops the replay before it with
/// [`StoreError::NeedsAsync`]: use [`replay_async`] for those.
///
/// A row that does not decode (an unknown event name or version, a failed
/// upcast, invalid JSON or payload) is listed in the report with its
/// position. It is also kept in the bus's dead-letter store with reason
/// [`Undecodable`](events_core::dead_letter::DeadLetterReason::Undecodable),
/// no handler, and an error that starts with `undecodable stored event at
/// position N:`. A row whose columns cannot be read is listed the same way
/// but not dead-lettered, since its JSON cannot be read. The replay goes on
/// after both unless [`ReplayOptions::stop_on_error`] is set.
///
/// # Errors
///
/// A [`ReplayError`], with the report so far, when a page query fails or
/// an event has an `async` handler.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// use events::{on, Bus, Context, Envelope, Event};
/// use events_store::{replay, ReadFrom, ReplayOptions, SqliteStore, Store};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize)]
/// struct OrderPlaced { order_id: u64, total_cents: u64 }
///
/// static REVENUE: AtomicU64 = AtomicU64::new(0);
///
/// #[on(OrderPlaced)]
/// fn add_revenue(order: &OrderPlaced, cx: Context) {
///     assert!(cx.is_replay());
///     REVENUE.fetch_add(order.total_cents, Ordering::Relaxed);
/// }
///
/// #[on(OrderPlaced, replay = false)]
/// fn send_confirmation(_: &OrderPlaced) {
///     unreachable!("replayed orders are not confirmed again");
/// }
///
/// let mut store = SqliteStore::in_memory()?;
/// store.append(&[
///     Envelope::new(OrderPlaced { order_id: 7, total_cents: 1_000 }),
///     Envelope::new(OrderPlaced { order_id: 8, total_cents: 250 }),
/// ])?;
///
/// let report = replay(&store, &Bus::new(), ReadFrom::Start, ReplayOptions::new())?;
/// assert_eq!(report.dispatched, 2);
/// assert_eq!(REVENUE.load(Ordering::Relaxed), 1_250);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn replay<S: Store>(
    store: &S,
    bus: &Bus,
    query: impl Into<Query>,
    options: ReplayOptions,
) -> Result<ReplayReport, ReplayError> {
    let mut replay = Replay::new(options);
    for event in store.read(query) {
        match replay.handle(bus, event) {
            Ok(Step::Continue) => {}
            Ok(Step::Stop) => break,
            Err(source) => return Err(replay.fail(source)),
        }
    }
    Ok(replay.into_report())
}

/// Dispatches the stored events that `query` selects, as [`replay`] does,
/// but through [`Bus::replay_async`], so that `async` handlers run too.
///
/// Undecodable rows, [`ReplayOptions`] and the report are handled as in
/// [`replay`]. Handlers marked `#[on(E, replay = false)]` do not run.
///
/// # Blocking reads
///
/// The store is read with its blocking calls on the calling task, so the
/// thread is held while a page of rows is read. That is fine for
/// [`SqliteStore`](crate::SqliteStore), whose reads are local and short.
/// `replay_async` is for stores that can be read inside a tokio runtime.
/// `PostgresStore` (feature `postgres`) uses the synchronous
/// `postgres` client, which panics when called inside a runtime, so with
/// PostgreSQL read inside `tokio::task::spawn_blocking` and drive a
/// [`Replay`] there, running each event's handlers with
/// `Handle::block_on(replay.handle_async(&bus, event))`.
///
/// The future is not `Send` when the store is not `Sync`, which is the case
/// of `SqliteStore`, so it cannot be passed to `tokio::spawn`. Await it on
/// the task that owns the store, or spawn it on a `tokio::task::LocalSet`.
///
/// # Errors
///
/// A [`ReplayError`], with the report so far, when a page query fails.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// use events::{on, Bus, Context, Envelope, Event};
/// use events_store::{replay_async, ReadFrom, ReplayOptions, SqliteStore, Store};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize)]
/// struct OrderPlaced { order_id: u64, total_cents: u64 }
///
/// static REVENUE: AtomicU64 = AtomicU64::new(0);
///
/// #[on(OrderPlaced)]
/// async fn add_revenue(order: &OrderPlaced, cx: Context<'_>) {
///     assert!(cx.is_replay());
///     REVENUE.fetch_add(order.total_cents, Ordering::Relaxed);
/// }
///
/// #[on(OrderPlaced, replay = false)]
/// async fn send_confirmation(_: &OrderPlaced) {
///     unreachable!("replayed orders are not confirmed again");
/// }
///
/// let mut store = SqliteStore::in_memory()?;
/// store.append(&[
///     Envelope::new(OrderPlaced { order_id: 7, total_cents: 1_000 }),
///     Envelope::new(OrderPlaced { order_id: 8, total_cents: 250 }),
/// ])?;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let report = replay_async(&store, &Bus::new(), ReadFrom::Start, ReplayOptions::new()).await?;
/// assert_eq!(report.dispatched, 2);
/// assert!(report.is_ok());
/// assert_eq!(REVENUE.load(Ordering::Relaxed), 1_250);
/// # Ok::<(), events_store::ReplayError>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn replay_async<S: Store>(
    store: &S,
    bus: &Bus,
    query: impl Into<Query>,
    options: ReplayOptions,
) -> Result<ReplayReport, ReplayError> {
    let mut replay = Replay::new(options);
    for event in store.read(query) {
        match replay.handle_async(bus, event).await {
            Ok(Step::Continue) => {}
            Ok(Step::Stop) => break,
            Err(source) => return Err(replay.fail(source)),
        }
    }
    Ok(replay.into_report())
}

/// Whether a replay goes on after an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Handle the next event.
    Continue,
    /// Stop, because [`ReplayOptions::stop_on_error`] is set and this event
    /// was undecodable or failed.
    Stop,
}

/// A replay driven one stored event at a time, for callers that read the
/// store themselves, such as async code that reads pages on a blocking
/// thread and runs `async` handlers with [`handle_async`](Replay::handle_async).
///
/// ```
/// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// use events::{on, Bus};
/// use events_store::{ReadFrom, Replay, ReplayOptions, SqliteStore, Step, Store};
///
/// #[on(OrderPlaced)]
/// async fn project(_: &OrderPlaced) {}
///
/// let mut store = SqliteStore::in_memory()?;
/// store.append(&[Envelope::new(OrderPlaced { order_id: 7 })])?;
/// let page: Vec<_> = store.read(ReadFrom::Start).collect();
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let bus = Bus::new();
/// let mut replay = Replay::new(ReplayOptions::new());
/// for event in page {
///     if replay.handle_async(&bus, event).await? == Step::Stop {
///         break;
///     }
/// }
/// assert_eq!(replay.report().dispatched, 1);
/// assert!(replay.report().is_ok());
/// # Ok::<(), events_store::StoreError>(())
/// # }).unwrap();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Replay {
    options: ReplayOptions,
    report: ReplayReport,
}

impl Replay {
    /// Starts a replay with an empty report.
    pub fn new(options: ReplayOptions) -> Replay {
        Replay {
            options,
            report: ReplayReport::default(),
        }
    }

    /// Dispatches one item of a store read through [`Bus::replay`] and
    /// records it in the report.
    ///
    /// # Errors
    ///
    /// Returns a store error other than [`StoreError::InvalidRow`] as is,
    /// because it means the read cannot go on. An invalid row is recorded
    /// as undecodable instead. An event with an `async` handler, which
    /// `handle` cannot run, returns [`StoreError::NeedsAsync`] and is not
    /// counted as read.
    pub fn handle(
        &mut self,
        bus: &Bus,
        event: Result<StoredEvent, StoreError>,
    ) -> Result<Step, StoreError> {
        self.handle_with(bus, event, |envelope| bus.replay(envelope))
    }

    /// Like [`handle`](Replay::handle), dispatching through
    /// [`Bus::replay_async`] so that `async` handlers run too.
    ///
    /// # Errors
    ///
    /// As [`handle`](Replay::handle).
    pub async fn handle_async(
        &mut self,
        bus: &Bus,
        event: Result<StoredEvent, StoreError>,
    ) -> Result<Step, StoreError> {
        let previous = self.report.last_position;
        let outcome = match self.decode(bus, event)? {
            Decoded::Event(position, envelope) => {
                Some((position, bus.replay_async(&envelope).await))
            }
            Decoded::Undecodable => None,
        };
        self.finish(previous, outcome)
    }

    /// Returns the report so far.
    pub fn report(&self) -> &ReplayReport {
        &self.report
    }

    /// Ends the replay and returns its report.
    pub fn into_report(self) -> ReplayReport {
        self.report
    }

    /// Ends the replay with a store error.
    pub(crate) fn fail(self, source: StoreError) -> ReplayError {
        ReplayError {
            inner: Box::new((self.report, source)),
        }
    }

    /// Dispatches one item with `dispatch` and records it in the report.
    /// Replays pass [`Bus::replay`], and subscriptions, which deliver each
    /// event as new, pass [`Bus::dispatch`] or its async form.
    pub(crate) fn handle_with(
        &mut self,
        bus: &Bus,
        event: Result<StoredEvent, StoreError>,
        dispatch: impl FnOnce(&DynEnvelope) -> Report,
    ) -> Result<Step, StoreError> {
        let previous = self.report.last_position;
        let outcome = match self.decode(bus, event)? {
            Decoded::Event(position, envelope) => Some((position, dispatch(&envelope))),
            Decoded::Undecodable => None,
        };
        self.finish(previous, outcome)
    }

    /// Like [`handle_with`](Replay::handle_with), dispatching through
    /// [`Bus::dispatch_async`] so that `async` handlers run too.
    pub(crate) async fn handle_live_async(
        &mut self,
        bus: &Bus,
        event: Result<StoredEvent, StoreError>,
    ) -> Result<Step, StoreError> {
        let previous = self.report.last_position;
        let outcome = match self.decode(bus, event)? {
            Decoded::Event(position, envelope) => {
                Some((position, bus.dispatch_async(&envelope).await))
            }
            Decoded::Undecodable => None,
        };
        self.finish(previous, outcome)
    }

    /// Decodes one read item, recording and dead-lettering it when it does
    /// not decode.
    fn decode(
        &mut self,
        bus: &Bus,
        event: Result<StoredEvent, StoreError>,
    ) -> Result<Decoded, StoreError> {
        let stored = match event {
            Ok(stored) => stored,
            Err(StoreError::InvalidRow {
                position, reason, ..
            }) => {
                self.report.read += 1;
                self.report.last_position = Some(position);
                self.report.undecodable.push(Undecodable {
                    position,
                    error: format!("unreadable row at position {position}: {reason}"),
                    dead_letter: None,
                });
                return Ok(Decoded::Undecodable);
            }
            Err(error) => return Err(error),
        };
        self.report.read += 1;
        self.report.last_position = Some(stored.position);
        match stored.decode() {
            Ok(envelope) => Ok(Decoded::Event(stored.position, envelope)),
            Err(error) => {
                let undecodable = dead_letter_undecodable(bus, stored, &error.to_string());
                self.report.undecodable.push(undecodable);
                Ok(Decoded::Undecodable)
            }
        }
    }

    /// Records the outcome of one event, or stops before the event when an
    /// `async` handler could not run because it was dispatched
    /// synchronously. Such an event counts as not read, so that the next
    /// replay or poll starts at it; `previous` is the last position before it.
    fn finish(
        &mut self,
        previous: Option<u64>,
        outcome: Option<(u64, Report)>,
    ) -> Result<Step, StoreError> {
        if let Some((position, report)) = &outcome {
            if let Some((event, handler)) = needs_async(report) {
                self.report.read -= 1;
                self.report.last_position = previous;
                return Err(StoreError::NeedsAsync {
                    position: *position,
                    event: event.to_owned(),
                    handler: handler.to_owned(),
                });
            }
        }
        Ok(self.record(outcome))
    }

    /// Records the bus report of a dispatched event, or nothing for an
    /// undecodable one, and decides whether to go on.
    fn record(&mut self, outcome: Option<(u64, Report)>) -> Step {
        let failed = match outcome {
            Some((position, report)) => {
                self.report.dispatched += 1;
                self.report.handler_failures += report.failures().len() as u64;
                if !report.is_ok() {
                    self.report.failed_positions.push(position);
                }
                !report.is_ok()
            }
            None => true,
        };
        if failed && self.options.stop_on_error {
            self.report.stopped = true;
            return Step::Stop;
        }
        Step::Continue
    }
}

enum Decoded {
    Event(u64, DynEnvelope),
    Undecodable,
}

/// Returns the event and handler of the first `async` handler that a
/// synchronous dispatch could not run, in the report or its follow-ups.
fn needs_async(report: &Report) -> Option<(&'static str, &'static str)> {
    let skipped = report
        .failures()
        .iter()
        .find(|failure| matches!(failure.error(), HandlerError::NeedsAsync));
    match skipped {
        Some(failure) => Some((report.event(), failure.handler())),
        None => report.follow_ups().iter().find_map(needs_async),
    }
}

/// Keeps an undecodable stored event in the bus's dead-letter store.
fn dead_letter_undecodable(bus: &Bus, stored: StoredEvent, error: &str) -> Undecodable {
    let position = stored.position;
    let error = format!("undecodable stored event at position {position}: {error}");
    let letter = DeadLetter::builder(stored.json, stored.name, stored.version, stored.id)
        .reason(DeadLetterReason::Undecodable)
        .error(error.clone())
        .attempts(0)
        .build();
    match bus.keep_dead_letter(letter) {
        Ok(id) => Undecodable {
            position,
            error,
            dead_letter: Some(id),
        },
        Err(push_error) => Undecodable {
            position,
            error: format!("{error}; keeping it in the dead-letter store failed: {push_error}"),
            dead_letter: None,
        },
    }
}

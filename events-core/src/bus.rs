//! The bus: routes each event to the handlers registered for its type.

use std::any::{Any, TypeId};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::Utc;
use tracing::Span;

use crate::dead_letter::{
    DeadLetter, DeadLetterId, DeadLetterReason, DeadLetterStore, InMemoryDeadLetters, StoreError,
};
use crate::decode::{DecodeError, DynEnvelope};
use crate::envelope::{self, Envelope, Metadata};
use crate::event::{Event, EventInfo};
use crate::frame::{self, Frame, Scoped, Seed};
use crate::handler::{
    AsyncEntry, Call, HandlerError, HandlerFn, HandlerInfo, HandlerReturn, Input, Outcome,
    SyncEntry,
};
use crate::observe::{Observed, Observer};
use crate::order::{self, OrderError};
use crate::policy::{Concurrency, OnFailure, Retry};
use crate::registry::{self, RegistryError};
use crate::report::Tally;
pub use crate::report::{HandlerFailure, Rejection, Report};
use crate::shutdown::{Detached, ShutdownReport, Tracker, CANCELLED_ERROR};

/// The default maximum nesting depth of events emitted from handlers.
///
/// An event emitted at the top level has depth 0, and an event emitted by one
/// of its handlers has depth 1. Chains in real services are a handful of
/// steps long, so a deeper chain almost always means two events that emit
/// each other.
///
/// ```
/// use events::{Bus, DEFAULT_MAX_DEPTH};
///
/// assert_eq!(DEFAULT_MAX_DEPTH, 32);
/// assert!(Bus::builder().max_depth(DEFAULT_MAX_DEPTH * 2).build().is_ok());
/// ```
pub const DEFAULT_MAX_DEPTH: u32 = 32;

/// Routes events to the `#[on(...)]` handlers of their type.
///
/// A bus collects the registered handlers when it is built and never changes
/// afterwards, so one bus can be shared between threads (it is `Send + Sync`,
/// and cloning it is cheap: clones share the handlers, the state, the
/// dead-letter store and the shutdown).
///
/// # Call sites
///
/// - [`emit`](Bus::emit) runs the synchronous handlers inline. An `async`
///   handler cannot run there and is reported as a failure of kind
///   [`HandlerError::NeedsAsync`].
/// - [`emit_async`](Bus::emit_async) runs synchronous and `async` handlers
///   in order; `async` handlers marked concurrent run together (see
///   [`Concurrency`]).
/// - [`emit_detached`](Bus::emit_detached) spawns that work on tokio and
///   tracks it until [`shutdown`](Bus::shutdown).
///
/// # Order
///
/// Handlers of one event run in the order their `after` and `before`
/// constraints give, and otherwise by priority (highest first), then by
/// name. An event emitted from inside a handler is handled completely, by
/// all its handlers and their own follow-ups, before the emitting handler
/// continues: like a function call, depth first. The follow-up inherits the
/// correlation id of the event being handled (or its id, if that one started
/// the chain) and gets its id as causation id.
///
/// # Failures
///
/// A handler that returns `Err`, panics or times out is tried again under
/// its [`Retry`] policy. After the last attempt, its [`OnFailure`] policy
/// decides: keep the event in the [dead-letter store](crate::dead_letter)
/// (the default), log it, or stop the event's remaining handlers. Every
/// failure is recorded in the [`Report`] and logged through `tracing`.
///
/// ```
/// use events::{on, Bus, Event};
/// use serde::{Deserialize, Serialize};
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// #[derive(Event, Serialize, Deserialize)]
/// struct OrderPlaced { order_id: u64, total_cents: u64 }
///
/// static REVENUE: AtomicU64 = AtomicU64::new(0);
///
/// #[on(OrderPlaced)]
/// fn add_revenue(order: &OrderPlaced) {
///     REVENUE.fetch_add(order.total_cents, Ordering::Relaxed);
/// }
///
/// let bus = Bus::new();
/// let report = bus.emit(OrderPlaced { order_id: 1, total_cents: 4_999 });
/// assert!(report.is_ok());
/// assert_eq!(report.handlers_run(), 1);
/// assert_eq!(REVENUE.load(Ordering::Relaxed), 4_999);
/// ```
#[derive(Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

struct Inner {
    routes: HashMap<TypeId, Route, BuildHasherDefault<TypeIdHasher>>,
    /// Set when observers are registered, so that every emit builds an envelope.
    observed: bool,
    source: Arc<str>,
    max_depth: u32,
    states: HashMap<TypeId, Arc<dyn Any + Send + Sync>, BuildHasherDefault<TypeIdHasher>>,
    dead_letters: Arc<dyn DeadLetterStore>,
    observers: Vec<Arc<dyn Observer>>,
    tracker: Tracker,
}

/// The handlers of one event type, in run order.
struct Route {
    event: &'static EventInfo,
    handlers: Box<[RouteHandler]>,
    /// Whether any handler takes `&Envelope<E>`, so that emitting must build one.
    needs_envelope: bool,
}

/// A handler with the policies the bus resolved for it.
struct RouteHandler {
    info: &'static HandlerInfo,
    call: RouteCall,
    /// `retry.max_attempts() == 1`, kept apart for the emit fast path.
    single_attempt: bool,
    retry: Retry,
    on_failure: OnFailure,
    timeout: Option<Duration>,
    concurrent: bool,
}

#[derive(Clone)]
enum RouteCall {
    Sync(SyncEntry),
    Async(AsyncEntry),
    Replaced(Arc<ReplacementFn>),
}

type ReplacementFn = dyn Fn(Input<'_>) -> Outcome + Send + Sync;

/// Hashes a [`TypeId`], which is already a hash, by keeping its bits.
#[derive(Default)]
struct TypeIdHasher(u64);

impl Hasher for TypeIdHasher {
    fn write(&mut self, bytes: &[u8]) {
        // `TypeId` writes a `u64` today; this fallback keeps other inputs correct.
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Configures a [`Bus`].
///
/// ```
/// use events::policy::{Backoff, OnFailure, Retry};
/// use std::time::Duration;
///
/// let bus = events::Bus::builder()
///     .source("https://shop.example/orders")
///     .max_depth(8)
///     .retry(Retry::attempts(3).backoff(Backoff::fixed(Duration::from_millis(5))))
///     .on_failure(OnFailure::Log)
///     .build()
///     .expect("event registrations are valid");
/// assert_eq!(bus.source(), "https://shop.example/orders");
/// ```
#[must_use = "call `build` to get the bus"]
pub struct BusBuilder {
    source: Arc<str>,
    max_depth: u32,
    retry: Retry,
    on_failure: OnFailure,
    timeout: Option<Duration>,
    concurrency: Concurrency,
    states: HashMap<TypeId, Arc<dyn Any + Send + Sync>, BuildHasherDefault<TypeIdHasher>>,
    dead_letters: Option<Arc<dyn DeadLetterStore>>,
    observers: Vec<Arc<dyn Observer>>,
    disabled: Vec<String>,
    replaced: Vec<Replacement>,
}

struct Replacement {
    name: String,
    event_type_id: TypeId,
    event_type: &'static str,
    call: Arc<ReplacementFn>,
}

impl fmt::Debug for BusBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BusBuilder")
            .field("source", &self.source)
            .field("max_depth", &self.max_depth)
            .field("retry", &self.retry)
            .field("on_failure", &self.on_failure)
            .field("timeout", &self.timeout)
            .field("concurrency", &self.concurrency)
            .field("states", &self.states.len())
            .field("observers", &self.observers.len())
            .field("disabled", &self.disabled)
            .field(
                "replaced",
                &self.replaced.iter().map(|r| &r.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl BusBuilder {
    /// Sets the `source` attribute of envelopes the bus creates, a
    /// URI-reference naming this producer. Defaults to
    /// [`DEFAULT_SOURCE`](crate::envelope::DEFAULT_SOURCE).
    ///
    /// ```
    /// # use events::{Bus, Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// #[events::on(OrderPlaced)]
    /// fn check_source(order: &Envelope<OrderPlaced>) {
    ///     assert_eq!(order.source(), "https://shop.example/orders");
    /// }
    ///
    /// let bus = Bus::builder().source("https://shop.example/orders").build().unwrap();
    /// assert!(bus.emit(OrderPlaced { order_id: 7 }).is_ok());
    /// ```
    pub fn source(mut self, source: impl AsRef<str>) -> Self {
        self.source = Arc::from(source.as_ref());
        self
    }

    /// Sets how deep events emitted from handlers may nest (see
    /// [`DEFAULT_MAX_DEPTH`]). An emit beyond it runs no handler, its report
    /// marks it as [`rejected`](Report::rejected) with the chain of event
    /// names, and the event is kept in the dead-letter store. Later emits are
    /// not affected.
    ///
    /// ```
    /// # use events::{on, Bus, Context, Event}; use serde::{Deserialize, Serialize};
    /// use std::sync::atomic::{AtomicU32, Ordering};
    ///
    /// # #[derive(Event, Serialize, Deserialize)] struct PriceChanged;
    /// static RUNS: AtomicU32 = AtomicU32::new(0);
    ///
    /// // Re-emits its own event, so only the depth limit ends the chain.
    /// #[on(PriceChanged)]
    /// fn reprice(_: &PriceChanged, cx: Context) {
    ///     RUNS.fetch_add(1, Ordering::Relaxed);
    ///     cx.emit(PriceChanged);
    /// }
    ///
    /// let bus = Bus::builder().max_depth(2).build().unwrap();
    /// bus.emit(PriceChanged);
    /// // The handler runs at depths 0, 1 and 2; the emit at depth 3 is rejected.
    /// assert_eq!(RUNS.load(Ordering::Relaxed), 3);
    /// assert_eq!(bus.dead_letters().list().unwrap().len(), 1);
    /// ```
    pub fn max_depth(mut self, depth: u32) -> Self {
        self.max_depth = depth;
        self
    }

    /// Sets the retry policy of handlers whose attribute sets none. The
    /// default is one attempt.
    ///
    /// ```
    /// # use events::{on, Bus, Context, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// use events::policy::Retry;
    ///
    /// #[on(OrderPlaced)]
    /// fn flaky(_: &OrderPlaced, cx: Context) -> Result<(), String> {
    ///     if cx.attempt() == 1 { Err("connection reset".into()) } else { Ok(()) }
    /// }
    ///
    /// let bus = Bus::builder().retry(Retry::attempts(2)).build().unwrap();
    /// assert!(bus.emit(OrderPlaced).is_ok());
    /// ```
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// Sets what happens after the last failed attempt of handlers whose
    /// attribute sets no `on_failure`. The default is
    /// [`OnFailure::DeadLetter`].
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// use events::policy::OnFailure;
    ///
    /// #[on(OrderPlaced)]
    /// fn fails(_: &OrderPlaced) -> Result<(), String> { Err("no stock".into()) }
    ///
    /// let bus = Bus::builder().on_failure(OnFailure::Log).build().unwrap();
    /// assert!(!bus.emit(OrderPlaced).is_ok());
    /// assert!(bus.dead_letters().list().unwrap().is_empty());
    /// ```
    pub fn on_failure(mut self, on_failure: OnFailure) -> Self {
        self.on_failure = on_failure;
        self
    }

    /// Sets the time limit of `async` handlers whose attribute sets no
    /// `timeout`. By default they have none. A handler that runs out of time
    /// is cancelled and fails with [`HandlerError::TimedOut`]. Timeouts use
    /// the tokio timer.
    ///
    /// ```
    /// # use events::{on, Bus, Event, HandlerError}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// use std::time::Duration;
    ///
    /// #[on(OrderPlaced)]
    /// async fn slow(_: &OrderPlaced) {
    ///     tokio::time::sleep(Duration::from_secs(60)).await;
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let bus = Bus::builder().timeout(Duration::from_millis(10)).build().unwrap();
    /// let report = bus.emit_async(OrderPlaced).await;
    /// assert_eq!(report.failures()[0].error(), &HandlerError::TimedOut(Duration::from_millis(10)));
    /// # });
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets whether `async` handlers whose attribute does not say run one at
    /// a time or together. The default is [`Concurrency::Sequential`].
    ///
    /// ```
    /// use events::policy::Concurrency;
    /// let bus = events::Bus::builder().concurrency(Concurrency::Concurrent).build().unwrap();
    /// # drop(bus);
    /// ```
    pub fn concurrency(mut self, concurrency: Concurrency) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// Gives the bus a state value that handlers take as [`State<T>`](crate::State).
    /// The bus keeps one value per type; giving a second value of the same
    /// type replaces the first.
    ///
    /// ```
    /// # use events::{on, Bus, Event, State}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// struct Db { url: String }
    ///
    /// #[on(OrderPlaced)]
    /// fn save(_: &OrderPlaced, db: State<Db>) {
    ///     assert_eq!(db.url, "postgres://127.0.0.1/shop");
    /// }
    ///
    /// let bus = Bus::builder()
    ///     .state(Db { url: "postgres://127.0.0.1/shop".into() })
    ///     .build()
    ///     .unwrap();
    /// assert!(bus.emit(OrderPlaced).is_ok());
    /// ```
    pub fn state<T: Send + Sync + 'static>(self, state: T) -> Self {
        self.shared_state(Arc::new(state))
    }

    /// Gives the bus a state value it shares with the caller.
    ///
    /// ```
    /// # use events::Bus; use std::sync::Arc;
    /// let config = Arc::new(String::from("eu-west"));
    /// let bus = Bus::builder().shared_state(Arc::clone(&config)).build().unwrap();
    /// assert!(Arc::ptr_eq(&bus.state_arc::<String>().unwrap(), &config));
    /// ```
    pub fn shared_state<T: Send + Sync + 'static>(mut self, state: Arc<T>) -> Self {
        self.states.insert(TypeId::of::<T>(), state);
        self
    }

    /// Sets where the bus keeps dead letters. The default is an
    /// [`InMemoryDeadLetters`] of its own.
    ///
    /// ```
    /// use events::dead_letter::InMemoryDeadLetters;
    /// let bus = events::Bus::builder().dead_letters(InMemoryDeadLetters::new()).build().unwrap();
    /// assert!(bus.dead_letters().list().unwrap().is_empty());
    /// ```
    pub fn dead_letters(self, store: impl DeadLetterStore) -> Self {
        self.shared_dead_letters(Arc::new(store))
    }

    /// Sets a dead-letter store that the bus shares with the caller.
    ///
    /// ```
    /// use events::dead_letter::{DeadLetterStore, InMemoryDeadLetters};
    /// use std::sync::Arc;
    ///
    /// let store = Arc::new(InMemoryDeadLetters::new());
    /// let bus = events::Bus::builder().shared_dead_letters(store.clone()).build().unwrap();
    /// assert!(store.list().unwrap().is_empty());
    /// # drop(bus);
    /// ```
    pub fn shared_dead_letters(mut self, store: Arc<dyn DeadLetterStore>) -> Self {
        self.dead_letters = Some(store);
        self
    }

    /// Adds an observer that receives every event the bus handles, before its
    /// handlers run, including events that have no handler. The
    /// [`Recorder`](crate::testing::Recorder) of tests is one.
    ///
    /// ```
    /// # use events::{Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// use events::testing::Recorder;
    ///
    /// let recorder = Recorder::new();
    /// let bus = Bus::builder().observer(recorder.clone()).build().unwrap();
    /// bus.emit(OrderPlaced { order_id: 7 });
    /// assert_eq!(recorder.count::<OrderPlaced>(), 1);
    /// ```
    pub fn observer(mut self, observer: impl Observer) -> Self {
        self.observers.push(Arc::new(observer));
        self
    }

    /// Leaves out the handler registered under `name`, for a test that
    /// must not reach a real mail server or payment provider.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// #[on(OrderPlaced, name = "mail.confirmation")]
    /// fn send_mail(_: &OrderPlaced) { unreachable!("no mail in tests") }
    ///
    /// let bus = Bus::builder().disable("mail.confirmation").build().unwrap();
    /// assert_eq!(bus.emit(OrderPlaced).handlers_run(), 0);
    /// ```
    pub fn disable(mut self, name: impl Into<String>) -> Self {
        self.disabled.push(name.into());
        self
    }

    /// Runs `fake` in place of the handler registered under `name`, at the
    /// same place in the order and with the same policies. The fake is
    /// synchronous, even when it replaces an `async` handler.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct PaymentRequested { cents: u64 }
    ///
    /// #[on(PaymentRequested, name = "psp.charge")]
    /// async fn charge(_: &PaymentRequested) -> Result<(), String> { unreachable!("no network in tests") }
    ///
    /// let bus = Bus::builder()
    ///     .replace("psp.charge", |request: &PaymentRequested| -> Result<(), String> {
    ///         if request.cents > 10_000 { Err("declined".into()) } else { Ok(()) }
    ///     })
    ///     .build()
    ///     .unwrap();
    /// assert!(bus.emit(PaymentRequested { cents: 500 }).is_ok());
    /// assert!(!bus.emit(PaymentRequested { cents: 50_000 }).is_ok());
    /// ```
    pub fn replace<E, R>(
        mut self,
        name: impl Into<String>,
        fake: impl Fn(&E) -> R + Send + Sync + 'static,
    ) -> Self
    where
        E: Event,
        R: HandlerReturn,
    {
        self.replaced.push(Replacement {
            name: name.into(),
            event_type_id: TypeId::of::<E>(),
            event_type: std::any::type_name::<E>(),
            call: Arc::new(move |input: Input<'_>| {
                fake(input.payload::<E>())
                    .into_handler_result()
                    .map_err(Box::new)
            }),
        });
        self
    }

    /// Collects the registered handlers into a bus, checking that every
    /// handler's state was given, that order constraints can be met and that
    /// disabled and replaced handlers exist.
    ///
    /// # Errors
    ///
    /// Returns every problem found, grouped by kind: an invalid registry
    /// (duplicate registrations, broken upcast chains), missing state,
    /// impossible order constraints, and unknown handler names or mismatched
    /// fakes given to [`disable`](BusBuilder::disable) and
    /// [`replace`](BusBuilder::replace). Several kinds at once come as
    /// [`BuildError::Several`].
    ///
    /// ```
    /// # use events::{on, Bus, BuildError, Event, State}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// struct Inventory;
    ///
    /// #[on(OrderPlaced, name = "reserve")]
    /// fn reserve(_: &OrderPlaced, _: State<Inventory>) {}
    ///
    /// let error = Bus::builder().build().unwrap_err();
    /// assert!(matches!(error, BuildError::MissingState(_)));
    /// assert!(error.to_string().contains("handler `reserve` of `OrderPlaced` takes `State<"));
    /// ```
    pub fn build(self) -> Result<Bus, BuildError> {
        // Every check runs, so that one error lists every problem.
        let mut problems = Vec::new();
        if let Err(error) = registry::validate() {
            problems.push(BuildError::Registry(error));
        }
        let all = registry::handlers();

        let known: HashSet<&str> = all.iter().map(|handler| handler.name()).collect();
        let unknown: Vec<String> = self
            .disabled
            .iter()
            .chain(self.replaced.iter().map(|replacement| &replacement.name))
            .filter(|name| !known.contains(name.as_str()))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            let mut known: Vec<&'static str> = all.iter().map(|handler| handler.name()).collect();
            known.sort_unstable();
            known.dedup();
            problems.push(BuildError::UnknownHandlers { unknown, known });
        }
        let mismatched: Vec<ReplacementMismatch> = self
            .replaced
            .iter()
            .flat_map(|replacement| {
                all.iter()
                    .filter(|handler| handler.name() == replacement.name)
                    .filter(|handler| handler.event_type_id() != replacement.event_type_id)
                    .map(|handler| ReplacementMismatch {
                        handler: handler.name(),
                        handles: handler.event().rust_type(),
                        fake_takes: replacement.event_type,
                    })
            })
            .collect();
        if !mismatched.is_empty() {
            problems.push(BuildError::ReplacementType(mismatched));
        }

        let active: Vec<&'static HandlerInfo> = all
            .iter()
            .copied()
            .filter(|handler| !self.disabled.iter().any(|name| name == handler.name()))
            .collect();

        let missing: Vec<MissingState> = active
            .iter()
            .filter(|handler| !self.replaced.iter().any(|r| r.name == handler.name()))
            .flat_map(|handler| {
                handler
                    .requirements()
                    .filter(|requirement| !self.states.contains_key(&requirement.type_id()))
                    .map(|requirement| MissingState {
                        handler: handler.name(),
                        event: handler.event().name(),
                        state_type: requirement.type_name(),
                    })
            })
            .collect();
        if !missing.is_empty() {
            problems.push(BuildError::MissingState(missing));
        }

        let mut grouped: HashMap<TypeId, Vec<&'static HandlerInfo>> = HashMap::new();
        for handler in &active {
            grouped
                .entry(handler.event_type_id())
                .or_default()
                .push(handler);
        }

        let mut order_errors = Vec::new();
        let mut routes = HashMap::default();
        for (type_id, handlers) in grouped {
            let ordered = order::resolve(&handlers, all, &mut order_errors);
            let handlers: Box<[RouteHandler]> = ordered
                .into_iter()
                .map(|info| self.route_handler(info))
                .collect();
            let needs_envelope = handlers.iter().any(|handler| {
                handler.info.takes_envelope() && !matches!(handler.call, RouteCall::Replaced(_))
            });
            let route = Route {
                event: handlers[0].info.event(),
                handlers,
                needs_envelope,
            };
            routes.insert(type_id, route);
        }
        if !order_errors.is_empty() {
            order_errors.sort_by_key(ToString::to_string);
            problems.push(BuildError::Order(order_errors));
        }
        match problems.len() {
            0 => {}
            1 => return Err(problems.remove(0)),
            _ => return Err(BuildError::Several(problems)),
        }

        Ok(Bus {
            inner: Arc::new(Inner {
                routes,
                observed: !self.observers.is_empty(),
                source: self.source,
                max_depth: self.max_depth,
                states: self.states,
                dead_letters: self
                    .dead_letters
                    .unwrap_or_else(|| Arc::new(InMemoryDeadLetters::new())),
                observers: self.observers,
                tracker: Tracker::default(),
            }),
        })
    }

    fn route_handler(&self, info: &'static HandlerInfo) -> RouteHandler {
        let replacement = self
            .replaced
            .iter()
            .rev()
            .find(|replacement| replacement.name == info.name());
        let call = match (replacement, info.call) {
            (Some(replacement), _) => RouteCall::Replaced(Arc::clone(&replacement.call)),
            (None, HandlerFn::Sync(call)) => RouteCall::Sync(call),
            (None, HandlerFn::Async(call)) => RouteCall::Async(call),
        };
        RouteHandler {
            info,
            concurrent: matches!(call, RouteCall::Async(_))
                && info.concurrency().unwrap_or(self.concurrency) == Concurrency::Concurrent,
            call,
            single_attempt: info.retry().unwrap_or(self.retry).max_attempts() == 1,
            retry: info.retry().unwrap_or(self.retry),
            on_failure: info.on_failure().unwrap_or(self.on_failure),
            timeout: info.timeout().or(self.timeout),
        }
    }
}

/// The reason a [`Bus`] could not be built. Each variant lists every
/// instance of its problem.
///
/// ```
/// # use events::{Bus, BuildError, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced")] struct LegacyOrderPlaced;
/// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced")] struct OrderPlaced;
/// let BuildError::Registry(error) = Bus::builder().build().unwrap_err() else { unreachable!() };
/// assert_eq!(error.duplicates()[0].infos().0.name(), "OrderPlaced");
/// ```
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Two event types share a name and version.
    #[error(transparent)]
    Registry(RegistryError),
    /// Handlers take [`State`](crate::State) types the bus was not given.
    #[error("{}", list("handlers take state the bus was not given", .0))]
    MissingState(Vec<MissingState>),
    /// `after` and `before` constraints that cannot be met.
    #[error("{}", list("handler order constraints cannot be met", .0))]
    Order(Vec<OrderError>),
    /// Names given to [`BusBuilder::disable`] or [`BusBuilder::replace`]
    /// that no handler has.
    #[error(
        "no handler is registered as {}; registered handlers are {}",
        quoted(.unknown),
        quoted(.known)
    )]
    UnknownHandlers {
        /// The names that match no handler.
        unknown: Vec<String>,
        /// Every registered handler name.
        known: Vec<&'static str>,
    },
    /// Fakes given to [`BusBuilder::replace`] that take another event than
    /// the handler they replace.
    #[error("{}", list("fakes take another event than the handler they replace", .0))]
    ReplacementType(Vec<ReplacementMismatch>),
    /// Problems of more than one of the kinds above, each listed in full.
    #[error("{}", several(.0))]
    Several(Vec<BuildError>),
}

fn several(problems: &[BuildError]) -> String {
    let texts: Vec<String> = problems.iter().map(ToString::to_string).collect();
    format!(
        "the bus cannot be built for {} reasons:\n{}",
        problems.len(),
        texts.join("\n")
    )
}

fn list<T: fmt::Display>(title: &str, items: &[T]) -> String {
    let mut text = format!("{title}:");
    for item in items {
        text.push_str("\n  - ");
        text.push_str(&item.to_string());
    }
    text
}

fn quoted<T: fmt::Display>(names: &[T]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A handler that takes a state type the bus was not given.
///
/// ```
/// # use events::{on, Bus, BuildError, Event, State}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
/// struct Ledger;
///
/// #[on(OrderPlaced, name = "post")]
/// fn post(_: &OrderPlaced, _: State<Ledger>) {}
///
/// let Err(BuildError::MissingState(missing)) = Bus::builder().build() else { panic!() };
/// assert_eq!(missing[0].handler(), "post");
/// assert!(missing[0].state_type().ends_with("Ledger"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingState {
    handler: &'static str,
    event: &'static str,
    state_type: &'static str,
}

impl MissingState {
    /// Returns the handler's name.
    ///
    /// ```
    /// # use events::{on, Bus, BuildError, Event, State}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// # struct Ledger;
    /// # #[on(OrderPlaced, name = "ledger.post")] fn post(_: &OrderPlaced, _: State<Ledger>) {}
    /// let Err(BuildError::MissingState(missing)) = Bus::builder().build() else { panic!() };
    /// assert_eq!(missing[0].handler(), "ledger.post");
    /// ```
    pub fn handler(&self) -> &'static str {
        self.handler
    }

    /// Returns the name of the event the handler handles.
    ///
    /// ```
    /// # use events::{on, Bus, BuildError, Event, State}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// # struct Ledger;
    /// # #[on(OrderPlaced, name = "ledger.post")] fn post(_: &OrderPlaced, _: State<Ledger>) {}
    /// let Err(BuildError::MissingState(missing)) = Bus::builder().build() else { panic!() };
    /// assert_eq!(missing[0].event(), "OrderPlaced");
    /// ```
    pub fn event(&self) -> &'static str {
        self.event
    }

    /// Returns the missing state type, as [`type_name`](std::any::type_name) gives it.
    ///
    /// ```
    /// # use events::{on, Bus, BuildError, Event, State}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// # struct Ledger;
    /// # #[on(OrderPlaced, name = "ledger.post")] fn post(_: &OrderPlaced, _: State<Ledger>) {}
    /// let Err(BuildError::MissingState(missing)) = Bus::builder().build() else { panic!() };
    /// assert_eq!(missing[0].state_type(), std::any::type_name::<Ledger>());
    /// ```
    pub fn state_type(&self) -> &'static str {
        self.state_type
    }
}

impl fmt::Display for MissingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "handler `{}` of `{}` takes `State<{}>`; give it with `Bus::builder().state(..)`",
            self.handler, self.event, self.state_type
        )
    }
}

/// A fake that takes another event type than the handler it replaces.
///
/// ```
/// # use events::{on, Bus, BuildError, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
/// # #[derive(Event, Serialize, Deserialize)] struct OrderShipped;
/// #[on(OrderPlaced, name = "mail.confirmation")]
/// fn send_mail(_: &OrderPlaced) {}
///
/// // The fake takes `&OrderShipped`, but the handler it replaces handles `OrderPlaced`.
/// let error = Bus::builder()
///     .replace("mail.confirmation", |_: &OrderShipped| {})
///     .build()
///     .unwrap_err();
/// let BuildError::ReplacementType(mismatches) = &error else { panic!("{error}") };
/// let message = mismatches[0].to_string();
/// assert!(message.starts_with("handler `mail.confirmation` handles `"));
/// assert!(message.ends_with("OrderShipped`"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplacementMismatch {
    handler: &'static str,
    handles: &'static str,
    fake_takes: &'static str,
}

impl fmt::Display for ReplacementMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "handler `{}` handles `{}`, but its fake takes `&{}`",
            self.handler, self.handles, self.fake_takes
        )
    }
}

/// Why [`Bus::redispatch`] could not run a dead letter.
///
/// ```
/// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct InvoiceIssued { invoice_id: u64 }
/// use events::RedispatchError;
///
/// #[on(InvoiceIssued)]
/// async fn export(_: &InvoiceIssued) -> Result<(), String> { Err("ERP unreachable".into()) }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let bus = Bus::new();
/// let report = bus.emit_async(InvoiceIssued { invoice_id: 4 }).await;
/// let id = report.failures()[0].dead_letter().unwrap();
///
/// // The synchronous `redispatch` cannot run the `async` handler and leaves the letter.
/// match bus.redispatch(id) {
///     Err(RedispatchError::NeedsAsync { id: kept }) => assert_eq!(kept, id),
///     other => panic!("expected `NeedsAsync`, got {other:?}"),
/// }
///
/// // `redispatch_async` takes the letter out of the store, so its id is gone afterwards.
/// bus.redispatch_async(id).await.unwrap();
/// let error = bus.redispatch(id).unwrap_err();
/// assert!(matches!(error, RedispatchError::NotFound(_)));
/// assert_eq!(error.to_string(), format!("no dead letter has id {id}"));
/// # });
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedispatchError {
    /// The store has no letter with this id.
    #[error("no dead letter has id {0}")]
    NotFound(DeadLetterId),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The letter's event no longer decodes, for example because its type
    /// was removed. The letter stays in the store.
    #[error("dead letter {id} no longer decodes: {error}")]
    Decode {
        /// The letter's id.
        id: DeadLetterId,
        /// The decoding error.
        error: Box<DecodeError>,
    },
    /// The letter's handlers include an `async` one, which
    /// [`Bus::redispatch`] cannot run. The letter stays in the store; use
    /// [`Bus::redispatch_async`].
    #[error("dead letter {id} needs an `async` handler; redispatch it with `redispatch_async(..).await`")]
    NeedsAsync {
        /// The letter's id.
        id: DeadLetterId,
    },
    /// The letter's handler is not on this bus (renamed, removed or
    /// disabled). The letter stays in the store.
    #[error(
        "dead letter {id} is for handler `{handler}` of `{event}`, which this bus does not run"
    )]
    UnknownHandler {
        /// The letter's id.
        id: DeadLetterId,
        /// The handler named in the letter.
        handler: String,
        /// The event's name.
        event: String,
    },
}

impl Default for Bus {
    fn default() -> Self {
        Bus::new()
    }
}

impl Bus {
    /// Builds a bus with the default settings.
    ///
    /// # Panics
    ///
    /// Panics with the [`BuildError`] if the bus cannot be built, for
    /// example when a handler takes state. Use [`Bus::builder`] to give
    /// state and to get problems as an error.
    ///
    /// ```
    /// let bus = events::Bus::new();
    /// assert_eq!(bus.source(), events::envelope::DEFAULT_SOURCE);
    /// ```
    pub fn new() -> Bus {
        match Bus::builder().build() {
            Ok(bus) => bus,
            Err(error) => panic!("cannot build the event bus: {error}"),
        }
    }

    /// Starts configuring a bus.
    ///
    /// ```
    /// let bus = events::Bus::builder()
    ///     .source("https://shop.example/orders")
    ///     .max_depth(8)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(bus.source(), "https://shop.example/orders");
    /// ```
    pub fn builder() -> BusBuilder {
        BusBuilder {
            source: envelope::default_source(),
            max_depth: DEFAULT_MAX_DEPTH,
            retry: Retry::NONE,
            on_failure: OnFailure::DeadLetter,
            timeout: None,
            concurrency: Concurrency::Sequential,
            states: HashMap::default(),
            dead_letters: None,
            observers: Vec::new(),
            disabled: Vec::new(),
            replaced: Vec::new(),
        }
    }

    /// Returns the `source` attribute of envelopes this bus creates.
    ///
    /// ```
    /// let bus = events::Bus::builder().source("urn:shop:orders").build().unwrap();
    /// assert_eq!(bus.source(), "urn:shop:orders");
    /// ```
    pub fn source(&self) -> &str {
        &self.inner.source
    }

    /// Returns the handlers of `E` in the order this bus runs them.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct UserRegistered { user_id: u64 }
    ///
    /// #[on(UserRegistered, name = "welcome_mail")]
    /// fn welcome(_: &UserRegistered) {}
    ///
    /// #[on(UserRegistered, name = "crm.sync", before = "welcome_mail")]
    /// fn sync(_: &UserRegistered) {}
    ///
    /// let names: Vec<_> = Bus::new().handlers_of::<UserRegistered>().iter().map(|h| h.name()).collect();
    /// assert_eq!(names, ["crm.sync", "welcome_mail"]);
    /// ```
    pub fn handlers_of<E: Event>(&self) -> Vec<&'static HandlerInfo> {
        self.handlers_of_type(TypeId::of::<E>())
    }

    /// Returns the handlers of the event type with this `TypeId`, in the
    /// order this bus runs them.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct UserRegistered;
    /// # #[on(UserRegistered)] fn welcome(_: &UserRegistered) {}
    /// let info = events::registry::of::<UserRegistered>().unwrap();
    /// assert_eq!(Bus::new().handlers_of_type(info.type_id()).len(), 1);
    /// ```
    pub fn handlers_of_type(&self, type_id: TypeId) -> Vec<&'static HandlerInfo> {
        self.route(type_id)
            .map(|route| route.handlers.iter().map(|handler| handler.info).collect())
            .unwrap_or_default()
    }

    /// Returns the state of type `T` the bus was given.
    ///
    /// ```
    /// let bus = events::Bus::builder().state(42_u32).build().unwrap();
    /// assert_eq!(bus.state::<u32>(), Some(&42));
    /// assert_eq!(bus.state::<u64>(), None);
    /// ```
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.inner.states.get(&TypeId::of::<T>())?.downcast_ref()
    }

    /// Returns a shared pointer to the state of type `T`.
    ///
    /// ```
    /// let bus = events::Bus::builder().state(String::from("eu")).build().unwrap();
    /// assert_eq!(bus.state_arc::<String>().unwrap().as_str(), "eu");
    /// ```
    pub fn state_arc<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        let state = self.inner.states.get(&TypeId::of::<T>())?;
        Arc::clone(state).downcast().ok()
    }

    /// Returns the bus's dead-letter store.
    ///
    /// ```
    /// assert!(events::Bus::new().dead_letters().list().unwrap().is_empty());
    /// ```
    pub fn dead_letters(&self) -> &dyn DeadLetterStore {
        &*self.inner.dead_letters
    }

    /// Keeps `letter` in the bus's dead-letter store and, with the `metrics`
    /// feature, counts it in `events_dead_letters_total`, as the bus does
    /// with its own dead letters. Use it for events that never reached the
    /// bus, such as stored events that do not decode; pushing to
    /// [`dead_letters`](Bus::dead_letters) directly skips the count.
    ///
    /// # Errors
    ///
    /// Returns the store's error when it cannot keep the letter.
    ///
    /// ```
    /// use events::dead_letter::{DeadLetter, DeadLetterReason};
    ///
    /// let bus = events::Bus::new();
    /// let raw = br#"{"specversion":"1.0","id":"7","source":"erp","type":"VendorSynced"}"#;
    /// let letter = DeadLetter::builder(raw.to_vec(), "VendorSynced", 9, "7")
    ///     .reason(DeadLetterReason::Undecodable)
    ///     .error("unknown version 9 of event `VendorSynced`")
    ///     .attempts(0)
    ///     .build();
    ///
    /// let id = bus.keep_dead_letter(letter).unwrap();
    /// assert_eq!(bus.dead_letters().get(id).unwrap().unwrap().event_version(), 9);
    /// ```
    pub fn keep_dead_letter(&self, letter: DeadLetter) -> Result<DeadLetterId, StoreError> {
        #[cfg(feature = "metrics")]
        let labels = crate::metrics::dead_letter_labels(&letter);
        let id = self.inner.dead_letters.push(letter)?;
        #[cfg(feature = "metrics")]
        crate::metrics::dead_letter_kept(labels);
        Ok(id)
    }

    #[inline]
    fn route(&self, type_id: TypeId) -> Option<&Route> {
        self.inner.routes.get(&type_id)
    }

    /// Whether this emit must take the slow path: the bus is observed or
    /// shut down.
    #[inline]
    fn is_special(&self) -> bool {
        self.inner.observed || self.inner.tracker.is_closed()
    }

    /// Runs the synchronous handlers of `event` inline and reports what happened.
    ///
    /// When no handler of the event takes `&Envelope<E>`, no envelope is built:
    /// an id is generated only if a handler emits a follow-up that needs it as
    /// causation id.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct PaymentFailed { order_id: u64 }
    ///
    /// #[on(PaymentFailed)]
    /// fn notify(_: &PaymentFailed) -> Result<(), String> {
    ///     Err("mail server unreachable".into())
    /// }
    ///
    /// let report = Bus::new().emit(PaymentFailed { order_id: 3 });
    /// assert!(!report.is_ok());
    /// assert_eq!(report.failures()[0].error().to_string(), "mail server unreachable");
    /// ```
    pub fn emit<E: Event>(&self, event: E) -> Report {
        warn_if_deprecated::<E>();
        if self.is_special() {
            return self.emit_special(event);
        }
        let Some(route) = self.route(TypeId::of::<E>()) else {
            return Report::empty(&const { E::NAME });
        };
        if route.needs_envelope {
            return self.emit_in_envelope(route, event);
        }
        self.emit_payload(route, Input::of_payload(&event))
    }

    /// Runs the handlers of an event emitted without an envelope. Not generic,
    /// so that each event type's `emit` is only the route lookup and this call.
    fn emit_payload(&self, route: &Route, input: Input<'_>) -> Report {
        if frame::is_nested() {
            return self.emit_payload_nested(route, input);
        }
        // An event emitted outside of any handler has depth 0, within every
        // limit, and no parent to hand a failed report to.
        let frame = Frame::top(route.event.name());
        self.run_handlers(route, &route.handlers, input, &frame)
            .into_report(route.event.name_ref())
    }

    /// Runs the handlers of an event emitted without an envelope from inside
    /// a handler, linking it to that handler's event.
    #[inline(never)]
    fn emit_payload_nested(&self, route: &Route, input: Input<'_>) -> Report {
        let frame = Frame::lazy(route.event.name());
        self.run_sync(route, &route.handlers, input, &frame)
    }

    /// Builds the envelope that some handler of `E` takes, then runs the
    /// handlers. Kept out of line so that `emit` stays small for events
    /// whose handlers take only `&E`.
    #[inline(never)]
    fn emit_in_envelope<E: Event>(&self, route: &Route, event: E) -> Report {
        let envelope = self.envelope(event);
        self.run_envelope_sync(route, &envelope)
    }

    #[cold]
    #[inline(never)]
    fn emit_special<E: Event>(&self, event: E) -> Report {
        self.emit_envelope(self.envelope(event))
    }

    /// Runs the synchronous handlers of an envelope built by the caller.
    ///
    /// The bus keeps the envelope's id, time, source and subject. Inside a
    /// handler, it fills in the correlation and causation ids unless they are set.
    ///
    /// ```
    /// # use events::{on, Bus, Envelope, Event}; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct ProductCreated { sku: String }
    ///
    /// #[on(ProductCreated)]
    /// fn index(product: &Envelope<ProductCreated>) {
    ///     assert_eq!(product.subject(), Some("sku-1"));
    /// }
    ///
    /// let envelope = Envelope::new(ProductCreated { sku: "sku-1".into() }).with_subject("sku-1");
    /// assert!(Bus::new().emit_envelope(envelope).is_ok());
    /// ```
    pub fn emit_envelope<E: Event>(&self, envelope: Envelope<E>) -> Report {
        warn_if_deprecated::<E>();
        let envelope = self.adopt(envelope);
        if self.is_special() {
            let json = || serde_json::to_vec(&envelope);
            if let Some(report) = self.intercept(&const { E::NAME }, &envelope.metadata, &json) {
                return report;
            }
        }
        let Some(route) = self.route(TypeId::of::<E>()) else {
            return Report::empty(&const { E::NAME });
        };
        self.run_envelope_sync(route, &envelope)
    }

    /// Runs the synchronous handlers of a decoded envelope: the same typed
    /// handlers an emitted event of its type reaches.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct CourseCompleted { course_id: u32 }
    ///
    /// #[on(CourseCompleted)]
    /// fn certify(course: &CourseCompleted) {
    ///     assert_eq!(course.course_id, 101);
    /// }
    ///
    /// let bytes = br#"{"specversion":"1.0","id":"c-1","source":"lms","type":"CourseCompleted","data":{"course_id":101}}"#;
    /// let envelope = events::decode(bytes).unwrap();
    /// assert_eq!(Bus::new().dispatch(&envelope).handlers_run(), 1);
    /// ```
    pub fn dispatch(&self, envelope: &DynEnvelope) -> Report {
        self.dispatch_decoded(envelope, false)
    }

    /// Runs the synchronous handlers of a decoded envelope, as a replay of a
    /// stored event when `replay` is set.
    fn dispatch_decoded(&self, envelope: &DynEnvelope, replay: bool) -> Report {
        if self.is_special() {
            if let Some(report) = self.intercept_dyn(envelope) {
                return report;
            }
        }
        let Some(route) = self.route(envelope.info().type_id()) else {
            return Report::empty(envelope.info().name_ref());
        };
        let mut frame = Frame::of(envelope.metadata(), frame::next_depth());
        frame.replay = replay;
        self.run_sync(route, &route.handlers, envelope.input(), &frame)
    }

    /// Runs every handler of `event`, synchronous and `async`.
    ///
    /// The parent of the new event (for correlation and causation) is taken
    /// when this method is called, so a future created inside a handler and
    /// awaited later, or spawned, still links to that handler's event.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct AiRequestCompleted { tokens: u32 }
    ///
    /// #[on(AiRequestCompleted)]
    /// async fn bill(request: &AiRequestCompleted) -> Result<(), String> {
    ///     if request.tokens == 0 { return Err("empty completion".into()) }
    ///     Ok(())
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let report = Bus::new().emit_async(AiRequestCompleted { tokens: 812 }).await;
    /// assert!(report.is_ok());
    /// # });
    /// ```
    pub fn emit_async<E: Event>(&self, event: E) -> impl Future<Output = Report> + Send + '_ {
        self.emit_envelope_async(self.envelope(event))
    }

    /// Runs every handler of an envelope built by the caller, synchronous and
    /// `async`.
    ///
    /// ```
    /// # use events::{on, Bus, Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// #[on(OrderPlaced)]
    /// async fn confirm(order: &Envelope<OrderPlaced>) {
    ///     assert_eq!(order.subject(), Some("order-7"));
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let envelope = Envelope::new(OrderPlaced { order_id: 7 }).with_subject("order-7");
    /// let report = Bus::new().emit_envelope_async(envelope).await;
    /// assert_eq!(report.handlers_run(), 1);
    /// assert!(report.is_ok());
    /// # });
    /// ```
    pub fn emit_envelope_async<E: Event>(
        &self,
        envelope: Envelope<E>,
    ) -> impl Future<Output = Report> + Send + '_ {
        warn_if_deprecated::<E>();
        let envelope = self.adopt(envelope);
        let depth = frame::next_depth();
        let intercepted = if self.is_special() {
            self.intercept(&const { E::NAME }, &envelope.metadata, &|| {
                serde_json::to_vec(&envelope)
            })
        } else {
            None
        };
        async move {
            if let Some(report) = intercepted {
                return report;
            }
            self.run_envelope_async(&envelope, depth).await
        }
    }

    async fn run_envelope_async<E: Event>(&self, envelope: &Envelope<E>, depth: u32) -> Report {
        let Some(route) = self.route(TypeId::of::<E>()) else {
            return Report::empty(&const { E::NAME });
        };
        let frame = Frame::of(&envelope.metadata, depth);
        self.run_async(route, &route.handlers, Input::of_envelope(envelope), frame)
            .await
    }

    /// Runs every handler of a decoded envelope, synchronous and `async`.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct CourseCompleted { course_id: u32 }
    /// #[on(CourseCompleted)]
    /// async fn certify(course: &CourseCompleted) -> Result<(), String> {
    ///     Err(format!("no certificate template for course {}", course.course_id))
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let bytes = br#"{"specversion":"1.0","id":"c-1","source":"lms","type":"CourseCompleted","data":{"course_id":101}}"#;
    /// let envelope = events::decode(bytes).unwrap();
    /// let report = Bus::new().dispatch_async(&envelope).await;
    /// assert_eq!(report.failures()[0].error().to_string(), "no certificate template for course 101");
    /// # });
    /// ```
    pub fn dispatch_async<'a>(
        &'a self,
        envelope: &'a DynEnvelope,
    ) -> impl Future<Output = Report> + Send + 'a {
        self.dispatch_decoded_async(envelope, false)
    }

    /// Runs every handler of a decoded envelope, as a replay of a stored
    /// event when `replay` is set.
    fn dispatch_decoded_async<'a>(
        &'a self,
        envelope: &'a DynEnvelope,
        replay: bool,
    ) -> impl Future<Output = Report> + Send + 'a {
        let depth = frame::next_depth();
        let intercepted = if self.is_special() {
            self.intercept_dyn(envelope)
        } else {
            None
        };
        async move {
            if let Some(report) = intercepted {
                return report;
            }
            let Some(route) = self.route(envelope.info().type_id()) else {
                return Report::empty(envelope.info().name_ref());
            };
            let mut frame = Frame::of(envelope.metadata(), depth);
            frame.replay = replay;
            self.run_async(route, &route.handlers, envelope.input(), frame)
                .await
        }
    }

    /// Runs the synchronous handlers of a stored event that is being
    /// replayed, such as one read back from an event store. Handlers marked
    /// `#[on(E, replay = false)]` do not run, and the others see
    /// [`Context::is_replay`](crate::Context::is_replay) return `true`.
    ///
    /// ```
    /// # use events::{on, Bus, Context, Event}; use serde::{Deserialize, Serialize};
    /// # use std::sync::atomic::{AtomicU32, Ordering};
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct OrderPlaced { order_id: u64 }
    ///
    /// static PROJECTED: AtomicU32 = AtomicU32::new(0);
    ///
    /// #[on(OrderPlaced)]
    /// fn project(_: &OrderPlaced, cx: Context) {
    ///     assert!(cx.is_replay());
    ///     PROJECTED.fetch_add(1, Ordering::Relaxed);
    /// }
    ///
    /// #[on(OrderPlaced, replay = false)]
    /// fn send_mail(_: &OrderPlaced) { unreachable!("no mail for old orders") }
    ///
    /// let stored = br#"{"specversion":"1.0","id":"o-1","source":"shop","type":"OrderPlaced","data":{"order_id":7}}"#;
    /// let report = Bus::new().replay(&events::decode(stored).unwrap());
    /// assert_eq!(report.handlers_run(), 1);
    /// assert_eq!(PROJECTED.load(Ordering::Relaxed), 1);
    /// ```
    pub fn replay(&self, envelope: &DynEnvelope) -> Report {
        self.dispatch_decoded(envelope, true)
    }

    /// Like [`replay`](Bus::replay), running `async` handlers too.
    ///
    /// ```
    /// # use events::{on, Bus, Context, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// #[on(OrderPlaced)]
    /// async fn project(_: &OrderPlaced, cx: Context<'_>) {
    ///     assert!(cx.is_replay());
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let stored = br#"{"specversion":"1.0","id":"o-1","source":"shop","type":"OrderPlaced","data":{"order_id":7}}"#;
    /// let report = Bus::new().replay_async(&events::decode(stored).unwrap()).await;
    /// assert!(report.is_ok());
    /// # });
    /// ```
    pub fn replay_async<'a>(
        &'a self,
        envelope: &'a DynEnvelope,
    ) -> impl Future<Output = Report> + Send + 'a {
        self.dispatch_decoded_async(envelope, true)
    }

    /// Spawns the handling of `event` on the current tokio runtime and
    /// returns at once. The bus tracks the work, so that
    /// [`shutdown`](Bus::shutdown) can wait for it.
    ///
    /// # Errors
    ///
    /// After `shutdown` began, returns the event in a [`ShutDownError`]
    /// instead of spawning, so that the caller keeps it.
    ///
    /// # Panics
    ///
    /// Panics outside a tokio runtime, like [`tokio::spawn`].
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// #[on(OrderPlaced)]
    /// async fn confirm(_: &OrderPlaced) {}
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let bus = Bus::new();
    /// let detached = bus.emit_detached(OrderPlaced { order_id: 7 }).unwrap();
    /// let report = detached.report().await.unwrap();
    /// assert!(report.is_ok());
    /// # });
    /// ```
    pub fn emit_detached<E: Event>(&self, event: E) -> Result<Detached, ShutDownError<E>> {
        warn_if_deprecated::<E>();
        let depth = frame::next_depth();
        let bus = self.clone();
        let work = move |key, envelope: Arc<Envelope<E>>| async move {
            if bus.inner.observed {
                bus.observe(&envelope.metadata, &|| serde_json::to_vec(&*envelope));
            }
            let report = bus.run_envelope_async(&envelope, depth).await;
            bus.inner.tracker.finish(key, &report);
            report
        };
        // The tracker checks for a shutdown and registers the work under one
        // lock, so the event is either rejected here or in the shutdown report.
        let spawned = self.inner.tracker.spawn(self.envelope(event), work);
        spawned.map_err(ShutDownError)
    }

    /// Stops accepting new events, waits up to `timeout` for detached work
    /// to finish, and reports what finished, what failed and what was still
    /// running.
    ///
    /// Work still running at the timeout is cancelled and its events are
    /// kept in the dead-letter store with the reason
    /// [`Cancelled`](DeadLetterReason::Cancelled). After shutdown began, a
    /// top-level emit is rejected with [`Rejection::ShutDown`] and its event
    /// kept in the dead-letter store; `emit_detached` returns the event to
    /// the caller. Follow-ups emitted by handlers still running are handled,
    /// so that in-flight work can finish.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// use std::time::Duration;
    ///
    /// #[on(OrderPlaced)]
    /// async fn confirm(_: &OrderPlaced) {
    ///     tokio::time::sleep(Duration::from_millis(5)).await;
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let bus = Bus::new();
    /// bus.emit_detached(OrderPlaced).unwrap();
    /// let report = bus.shutdown(Duration::from_secs(5)).await;
    /// assert_eq!(report.finished(), 1);
    /// assert!(report.still_running().is_empty());
    /// assert!(bus.emit(OrderPlaced).rejected().is_some());
    /// # });
    /// ```
    pub async fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        self.inner.tracker.close();
        let cancelled = self.inner.tracker.drain(timeout).await;
        let still_running = cancelled
            .into_iter()
            .map(|mut running| {
                tracing::error!(
                    event = running.event(),
                    id = %running.id(),
                    correlation_id = %running.correlation_id(),
                    timeout = ?timeout,
                    error = CANCELLED_ERROR,
                    "detached event cancelled at shutdown; the event is kept in the dead-letter store"
                );
                let letter = running.to_dead_letter(DeadLetterReason::Cancelled);
                running.dead_letter = letter.and_then(|letter| self.keep(letter));
                running
            })
            .collect();
        self.inner.tracker.report(still_running)
    }

    /// Returns whether [`shutdown`](Bus::shutdown) has begun.
    ///
    /// ```
    /// assert!(!events::Bus::new().is_shut_down());
    /// ```
    pub fn is_shut_down(&self) -> bool {
        self.inner.tracker.is_closed()
    }

    /// Removes a dead letter from the store and dispatches its event again:
    /// to the handler that failed, or to every handler when the letter names
    /// none (the bus rejected the event, or a shutdown cancelled it). Only
    /// synchronous handlers run here; use
    /// [`redispatch_async`](Bus::redispatch_async) for `async` ones.
    ///
    /// A letter cancelled at shutdown does not record which handlers had
    /// finished, so they run again too; such handlers must be idempotent.
    ///
    /// If the handler fails again, its policies apply as on any emit, so the
    /// event may come back as a new dead letter.
    ///
    /// # Errors
    ///
    /// When the letter does not exist, the store fails, the event no longer
    /// decodes, the handler is not on this bus, or a handler is `async`. In
    /// the last three cases the letter stays in the store.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// use std::sync::atomic::{AtomicBool, Ordering};
    ///
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct InvoiceIssued { invoice_id: u64 }
    ///
    /// static ERP_UP: AtomicBool = AtomicBool::new(false);
    ///
    /// #[on(InvoiceIssued)]
    /// fn export(_: &InvoiceIssued) -> Result<(), String> {
    ///     if ERP_UP.load(Ordering::Relaxed) { Ok(()) } else { Err("ERP unreachable".into()) }
    /// }
    ///
    /// let bus = Bus::new();
    /// let report = bus.emit(InvoiceIssued { invoice_id: 4 });
    /// let id = report.failures()[0].dead_letter().unwrap();
    ///
    /// ERP_UP.store(true, Ordering::Relaxed);
    /// assert!(bus.redispatch(id).unwrap().is_ok());
    /// assert!(bus.dead_letters().list().unwrap().is_empty());
    /// ```
    pub fn redispatch(&self, id: DeadLetterId) -> Result<Report, RedispatchError> {
        let (letter, envelope) = self.take_letter(id, false)?;
        let Some(route) = self.route(envelope.info().type_id()) else {
            return Ok(Report::empty(envelope.info().name_ref()));
        };
        let handlers = self.letter_handlers(route, &letter);
        let frame = Frame::of(envelope.metadata(), frame::next_depth());
        Ok(self.run_sync(route, handlers, envelope.input(), &frame))
    }

    /// Like [`redispatch`](Bus::redispatch), running `async` handlers too.
    ///
    /// # Errors
    ///
    /// As for [`redispatch`](Bus::redispatch).
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct InvoiceIssued;
    /// #[on(InvoiceIssued)]
    /// async fn export(_: &InvoiceIssued) -> Result<(), String> { Err("ERP unreachable".into()) }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let bus = Bus::new();
    /// let report = bus.emit_async(InvoiceIssued).await;
    /// let id = report.failures()[0].dead_letter().unwrap();
    /// let again = bus.redispatch_async(id).await.unwrap();
    /// assert_eq!(again.failures()[0].error().to_string(), "ERP unreachable");
    /// // The failure was kept again, under a new id.
    /// assert_eq!(bus.dead_letters().list().unwrap().len(), 1);
    /// # });
    /// ```
    pub async fn redispatch_async(&self, id: DeadLetterId) -> Result<Report, RedispatchError> {
        let (letter, envelope) = self.take_letter(id, true)?;
        let Some(route) = self.route(envelope.info().type_id()) else {
            return Ok(Report::empty(envelope.info().name_ref()));
        };
        let handlers = self.letter_handlers(route, &letter);
        let frame = Frame::of(envelope.metadata(), frame::next_depth());
        Ok(self
            .run_async(route, handlers, envelope.input(), frame)
            .await)
    }

    /// Reads a dead letter and removes it from the store once it is sure
    /// that its handlers can run here: `async` handlers need `async_site`.
    fn take_letter(
        &self,
        id: DeadLetterId,
        async_site: bool,
    ) -> Result<(DeadLetter, DynEnvelope), RedispatchError> {
        let store = &self.inner.dead_letters;
        let letter = store.get(id)?.ok_or(RedispatchError::NotFound(id))?;
        let envelope =
            crate::decode::decode(letter.event()).map_err(|error| RedispatchError::Decode {
                id,
                error: Box::new(error),
            })?;
        if let Some(handler) = letter.handler() {
            let on_bus = self
                .route(envelope.info().type_id())
                .is_some_and(|route| route.handlers.iter().any(|h| h.info.name() == handler));
            if !on_bus {
                return Err(RedispatchError::UnknownHandler {
                    id,
                    handler: handler.to_owned(),
                    event: letter.event_name().to_owned(),
                });
            }
        }
        if !async_site {
            let route = self.route(envelope.info().type_id());
            let needs_async = route.is_some_and(|route| {
                self.letter_handlers(route, &letter)
                    .iter()
                    .any(|handler| matches!(handler.call, RouteCall::Async(_)))
            });
            if needs_async {
                return Err(RedispatchError::NeedsAsync { id });
            }
        }
        store.remove(id)?;
        Ok((letter, envelope))
    }

    fn letter_handlers<'r>(&self, route: &'r Route, letter: &DeadLetter) -> &'r [RouteHandler] {
        match letter.handler() {
            Some(name) => {
                let index = route
                    .handlers
                    .iter()
                    .position(|handler| handler.info.name() == name)
                    .expect("checked by take_letter");
                &route.handlers[index..=index]
            }
            None => &route.handlers,
        }
    }

    /// Gives a caller-built envelope this bus's source, unless the caller set
    /// one, and links it to the event being handled, if any.
    fn adopt<E>(&self, mut envelope: Envelope<E>) -> Envelope<E> {
        if envelope::is_default_source(&envelope.metadata.source) {
            envelope.metadata.source = Arc::clone(&self.inner.source);
        }
        link_to_parent(envelope)
    }

    /// Wraps a payload in a new envelope linked to the event being handled, if any.
    fn envelope<E: Event>(&self, event: E) -> Envelope<E> {
        let metadata = Metadata::new(E::NAME, E::VERSION, Arc::clone(&self.inner.source));
        link_to_parent(Envelope::from_parts(event, metadata))
    }

    /// Shows an event to the observers and, after shutdown, rejects it.
    /// Returns the report of a rejected event.
    #[cold]
    fn intercept(
        &self,
        event: &'static &'static str,
        metadata: &Metadata,
        json: &dyn Fn() -> Result<Vec<u8>, serde_json::Error>,
    ) -> Option<Report> {
        // Observers see rejected events too: they were emitted.
        if self.inner.observed {
            self.observe(metadata, json);
        }
        if !self.inner.tracker.is_closed() || frame::next_depth() > 0 {
            return None;
        }
        tracing::error!(
            event = metadata.name(),
            id = %metadata.id(),
            "event emitted after the bus was shut down; it is kept in the dead-letter store"
        );
        let error = "emitted after the bus was shut down";
        if let Some(letter) = letter_for(metadata, json, DeadLetterReason::ShutDown, error) {
            self.keep(letter);
        }
        let tally = Tally::new().reject(Rejection::ShutDown);
        Some(tally.into_report(event))
    }

    fn intercept_dyn(&self, envelope: &DynEnvelope) -> Option<Report> {
        self.intercept(envelope.info().name_ref(), envelope.metadata(), &|| {
            serde_json::to_vec(envelope)
        })
    }

    fn observe(&self, metadata: &Metadata, json: &dyn Fn() -> Result<Vec<u8>, serde_json::Error>) {
        let observed = Observed::new(metadata, json);
        for observer in &self.inner.observers {
            observer.observe(&observed);
        }
    }

    fn run_envelope_sync<E: Event>(&self, route: &Route, envelope: &Envelope<E>) -> Report {
        let frame = Frame::of(&envelope.metadata, frame::next_depth());
        self.run_sync(route, &route.handlers, Input::of_envelope(envelope), &frame)
    }

    fn run_sync(
        &self,
        route: &Route,
        handlers: &[RouteHandler],
        input: Input<'_>,
        frame: &Frame,
    ) -> Report {
        let tally = if frame.depth > self.inner.max_depth {
            self.reject_depth(route, input, frame)
        } else {
            self.run_handlers(route, handlers, input, frame)
        };
        let report = tally.into_report(route.event.name_ref());
        if !report.is_ok() {
            frame::hand_to_parent(&report);
        }
        report
    }

    /// Runs synchronous handlers with `frame` as the current frame.
    #[inline(always)]
    fn run_handlers(
        &self,
        route: &Route,
        handlers: &[RouteHandler],
        input: Input<'_>,
        frame: &Frame,
    ) -> Tally {
        #[cfg(feature = "metrics")]
        crate::metrics::event_handled(route.event.name());
        if tracing::level_enabled!(tracing::Level::DEBUG) {
            return self.run_handlers_traced(route, handlers, input, frame);
        }
        self.run_handlers_in(route, handlers, input, frame, false)
    }

    /// Runs synchronous handlers inside an `event` span, each in a `handler` span.
    #[cold]
    #[inline(never)]
    fn run_handlers_traced(
        &self,
        route: &Route,
        handlers: &[RouteHandler],
        input: Input<'_>,
        frame: &Frame,
    ) -> Tally {
        let span = self.event_span(true, route, frame);
        let _in_span = span.enter();
        self.run_handlers_in(route, handlers, input, frame, true)
    }

    /// Runs synchronous handlers. With `traced`, every handler takes the
    /// path that opens a span for it.
    #[inline(always)]
    fn run_handlers_in(
        &self,
        route: &Route,
        handlers: &[RouteHandler],
        input: Input<'_>,
        frame: &Frame,
        traced: bool,
    ) -> Tally {
        let mut tally = Tally::new();
        let mut node = frame::Node::new(frame);
        let entered = node.enter();
        let mut stopped_by = None;
        for handler in handlers {
            if frame.replay && !handler.info.replays() {
                continue;
            }
            if let Some(by) = stopped_by {
                tally = tally.record_failure(not_run(handler, HandlerError::Stopped(by)));
                continue;
            }
            let outcome = match handler.call {
                RouteCall::Sync(call) if handler.single_attempt && !traced => {
                    #[cfg(feature = "metrics")]
                    let clock = std::time::Instant::now();
                    let outcome = run_caught(|| call(input, &self.call(handler, 1, frame.replay)));
                    #[cfg(feature = "metrics")]
                    crate::metrics::handler_ran(
                        route.event.name(),
                        handler.info.name(),
                        outcome.is_ok(),
                        clock.elapsed(),
                    );
                    outcome
                }
                RouteCall::Async(_) => {
                    tally = tally.record_failure(not_run(handler, HandlerError::NeedsAsync));
                    continue;
                }
                _ => self.run_retrying_sync(handler, input, frame),
            };
            tally = match outcome {
                Ok(()) => tally.record_ok(),
                Err(error) => {
                    let failure = self.fail(route, handler, input, frame, *error, None);
                    if handler.on_failure == OnFailure::Stop {
                        stopped_by = Some(handler.info.name());
                    }
                    tally.record_failure(failure)
                }
            };
        }
        drop(entered);
        tally = tally.add_follow_ups(frame);

        tally
    }

    #[inline]
    fn call(&self, handler: &RouteHandler, attempt: u32, replay: bool) -> Call<'_> {
        Call {
            bus: self,
            handler: handler.info,
            attempt,
            replay,
        }
    }

    /// Runs a synchronous handler under its retry policy; the attempts that
    /// failed are recorded in the thread-local [`Attempts`].
    #[inline(never)]
    fn run_retrying_sync(
        &self,
        handler: &RouteHandler,
        input: Input<'_>,
        frame: &Frame,
    ) -> Outcome {
        // Converted to a calendar time only if the handler fails for good.
        let first_at = SystemTime::now();
        let attempts = handler.retry.max_attempts();
        let mut attempt = 1;
        loop {
            let span = handler_span(handler, attempt);
            let _in_span = span.enter();
            #[cfg(feature = "metrics")]
            let clock = std::time::Instant::now();
            let outcome = match &handler.call {
                RouteCall::Sync(call) => {
                    run_caught(|| call(input, &self.call(handler, attempt, frame.replay)))
                }
                RouteCall::Replaced(call) => run_caught(|| call(input)),
                RouteCall::Async(_) => Err(Box::new(HandlerError::NeedsAsync)),
            };
            record_outcome(&span, &outcome);
            #[cfg(feature = "metrics")]
            crate::metrics::handler_ran(
                frame.name,
                handler.info.name(),
                outcome.is_ok(),
                clock.elapsed(),
            );
            match outcome {
                Ok(()) => return Ok(()),
                Err(error) if attempt < attempts && !error.is_not_run() => {
                    let delay = handler.retry.backoff_policy().delay(attempt);
                    warn_retry(handler, &frame.seed(), attempt, &error, delay);
                    if !delay.is_zero() {
                        std::thread::sleep(delay);
                    }
                    attempt += 1;
                }
                Err(error) => {
                    ATTEMPTS.with(|cell| cell.set((attempt, Some(first_at))));
                    return Err(error);
                }
            }
        }
    }

    async fn run_async(
        &self,
        route: &Route,
        handlers: &[RouteHandler],
        input: Input<'_>,
        frame: Frame,
    ) -> Report {
        let event = route.event.name_ref();
        if frame.depth > self.inner.max_depth {
            let report = self.reject_depth(route, input, &frame).into_report(event);
            frame::hand_to_parent(&report);
            return report;
        }
        #[cfg(feature = "metrics")]
        crate::metrics::event_handled(route.event.name());
        let traced = tracing::level_enabled!(tracing::Level::DEBUG);
        let span = self.event_span(traced, route, &frame);
        // Handlers run in frames made from this seed: a `&Frame` held across
        // `await` would make the future not `Send`.
        let seed = frame.seed();
        let mut tally = Tally::new();
        let mut stopped_by = None;
        let mut index = 0;
        let skipped = |handler: &RouteHandler| frame.replay && !handler.info.replays();
        while index < handlers.len() {
            let handler = &handlers[index];
            if skipped(handler) {
                index += 1;
                continue;
            }
            if let Some(by) = stopped_by {
                tally = tally.record_failure(not_run(handler, HandlerError::Stopped(by)));
                index += 1;
                continue;
            }
            // A run of concurrent handlers starts together.
            let group_end = if handler.concurrent {
                index
                    + handlers[index..]
                        .iter()
                        .take_while(|handler| handler.concurrent && !skipped(handler))
                        .count()
            } else {
                index + 1
            };
            let group = &handlers[index..group_end];
            if let [handler] = group {
                let run = tracing::Instrument::instrument(
                    self.run_one_async(handler, input, &seed),
                    span.clone(),
                )
                .await;
                tally = self.settle(route, handler, input, &frame, run, tally, &mut stopped_by);
            } else {
                let runs = crate::join::join_all(group.iter().map(|handler| {
                    tracing::Instrument::instrument(
                        self.run_one_async(handler, input, &seed),
                        span.clone(),
                    )
                }))
                .await;
                for (handler, run) in group.iter().zip(runs) {
                    tally = self.settle(route, handler, input, &frame, run, tally, &mut stopped_by);
                }
            }
            index = group_end;
        }
        let report = tally.add_follow_ups(&frame).into_report(event);
        if !report.is_ok() {
            frame::hand_to_parent(&report);
        }
        report
    }

    /// Records the outcome of one handler run at an `async` call site and
    /// applies its final policy if it failed.
    #[allow(clippy::too_many_arguments)]
    fn settle(
        &self,
        route: &Route,
        handler: &RouteHandler,
        input: Input<'_>,
        frame: &Frame,
        run: AsyncRun,
        tally: Tally,
        stopped_by: &mut Option<&'static str>,
    ) -> Tally {
        let tally = tally.add_reports(run.follow_ups);
        match run.outcome {
            Ok(()) => tally.record_ok(),
            Err(error) if error.is_not_run() => tally.record_failure(not_run(handler, *error)),
            Err(error) => {
                let attempts = Some((run.attempts, run.first_at));
                let failure = self.fail(route, handler, input, frame, *error, attempts);
                if handler.on_failure == OnFailure::Stop {
                    *stopped_by = Some(handler.info.name());
                }
                tally.record_failure(failure)
            }
        }
    }

    /// Runs one handler at an `async` call site, under its retry policy and
    /// time limit.
    async fn run_one_async(
        &self,
        handler: &RouteHandler,
        input: Input<'_>,
        seed: &Seed,
    ) -> AsyncRun {
        // Converted to a calendar time only if the handler fails for good.
        let first_at = SystemTime::now();
        let attempts = handler.retry.max_attempts();
        let mut follow_ups = Vec::new();
        let mut attempt = 1;
        loop {
            let span = handler_span(handler, attempt);
            let call = self.call(handler, attempt, seed.replay);
            #[cfg(feature = "metrics")]
            let clock = std::time::Instant::now();
            let attempt_frame = seed.frame();
            // Synchronous handlers run inside the span here; an `async`
            // one's future is instrumented with it below.
            let started = span.in_scope(|| {
                frame::within(&attempt_frame, || match &handler.call {
                    RouteCall::Sync(entry) => run_caught(|| entry(input, &call)).map(|()| None),
                    RouteCall::Replaced(entry) => run_caught(|| entry(input)).map(|()| None),
                    RouteCall::Async(entry) => run_caught(|| Ok(entry(input, &call))).map(Some),
                })
            });
            let outcome = match started {
                Ok(Some(future)) => {
                    let scoped = Scoped {
                        frame: attempt_frame,
                        future,
                    };
                    let finished = tracing::Instrument::instrument(
                        with_timeout(handler.timeout, scoped.finish()),
                        span.clone(),
                    )
                    .await;
                    match finished {
                        Some((outcome, handler_frame)) => {
                            follow_ups.append(&mut handler_frame.take_follow_ups());
                            outcome
                        }
                        None => Err(Box::new(HandlerError::TimedOut(
                            handler.timeout.unwrap_or_default(),
                        ))),
                    }
                }
                Ok(None) => {
                    follow_ups.append(&mut attempt_frame.take_follow_ups());
                    Ok(())
                }
                Err(error) => {
                    follow_ups.append(&mut attempt_frame.take_follow_ups());
                    Err(error)
                }
            };
            record_outcome(&span, &outcome);
            #[cfg(feature = "metrics")]
            crate::metrics::handler_ran(
                seed.name,
                handler.info.name(),
                outcome.is_ok(),
                clock.elapsed(),
            );
            match outcome {
                Err(error) if attempt < attempts && !error.is_not_run() => {
                    let delay = handler.retry.backoff_policy().delay(attempt);
                    warn_retry(handler, seed, attempt, &error, delay);
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    attempt += 1;
                }
                outcome => {
                    return AsyncRun {
                        outcome,
                        attempts: attempt,
                        first_at,
                        follow_ups,
                    }
                }
            }
        }
    }

    /// Logs a failed handler after its last attempt and applies its final
    /// policy.
    #[cold]
    #[inline(never)]
    fn fail(
        &self,
        route: &Route,
        handler: &RouteHandler,
        input: Input<'_>,
        frame: &Frame,
        error: HandlerError,
        attempts: Option<(u32, SystemTime)>,
    ) -> HandlerFailure {
        let (attempts, first_at) = attempts.unwrap_or_else(|| {
            let (attempts, first_at) = ATTEMPTS.with(|cell| cell.replace((1, None)));
            (attempts, first_at.unwrap_or_else(SystemTime::now))
        });
        let (id, correlation_id) = frame.ids();
        let mut dead_letter = None;
        match handler.on_failure {
            OnFailure::DeadLetter => {
                tracing::error!(
                    event = frame.name,
                    %id,
                    %correlation_id,
                    handler = handler.info.name(),
                    attempts,
                    error = %error,
                    "event handler failed; the event is kept in the dead-letter store"
                );
                let metadata = || self.frame_metadata(route, frame);
                let json = |metadata: &dyn Fn() -> Metadata| (handler.info.encode)(input, metadata);
                let letter = match json(&metadata) {
                    Ok(json) => Some(
                        DeadLetter::builder(
                            json,
                            frame.name,
                            route.event.version(),
                            id.to_string(),
                        )
                        .handler(handler.info.name())
                        .error(error.to_string())
                        .attempts(attempts)
                        .times(first_at.into(), Utc::now())
                        .build(),
                    ),
                    Err(encode_error) => {
                        tracing::error!(
                            event = frame.name,
                            %id,
                            error = %encode_error,
                            "cannot encode the event for the dead-letter store"
                        );
                        None
                    }
                };
                dead_letter = letter.and_then(|letter| self.keep(letter));
            }
            OnFailure::Log => tracing::error!(
                event = frame.name,
                %id,
                %correlation_id,
                handler = handler.info.name(),
                attempts,
                error = %error,
                "event handler failed"
            ),
            OnFailure::Stop => tracing::error!(
                event = frame.name,
                %id,
                %correlation_id,
                handler = handler.info.name(),
                attempts,
                error = %error,
                "event handler failed; the event's remaining handlers do not run"
            ),
        }
        HandlerFailure::new(handler.info, error, attempts, dead_letter)
    }

    /// Writes a dead letter to the store and counts it. When the store
    /// fails, logs the letter whole so that the event is still not lost.
    fn keep(&self, letter: DeadLetter) -> Option<DeadLetterId> {
        let json = String::from_utf8_lossy(letter.event()).into_owned();
        match self.keep_dead_letter(letter) {
            Ok(id) => Some(id),
            Err(error) => {
                tracing::error!(%error, event = %json, "cannot keep a dead letter; the event is logged here instead");
                None
            }
        }
    }

    /// Builds the metadata of an event emitted without an envelope, for encoding it.
    fn frame_metadata(&self, route: &Route, frame: &Frame) -> Metadata {
        let (id, correlation) = frame.ids();
        let mut metadata = Metadata::new(
            route.event.name(),
            route.event.version(),
            Arc::clone(&self.inner.source),
        );
        metadata.id = id.clone();
        if let Some(causation) = frame.causation() {
            metadata.causation_id = Some(causation);
            metadata.correlation_id = Some(correlation);
        } else if correlation != id {
            metadata.correlation_id = Some(correlation);
        }
        metadata
    }

    #[cold]
    fn reject_depth(&self, route: &Route, input: Input<'_>, frame: &Frame) -> Tally {
        let mut chain = frame::current_chain();
        chain.push(frame.name);
        tracing::error!(
            event = frame.name,
            max_depth = self.inner.max_depth,
            chain = %chain.join(" -> "),
            "event chain exceeds the maximum depth; its handlers did not run and the event is kept in the dead-letter store"
        );
        let error = format!(
            "event chain {} is deeper than the limit of {}",
            chain.join(" -> "),
            self.inner.max_depth
        );
        if let Some(handler) = route.handlers.first() {
            let metadata = || self.frame_metadata(route, frame);
            if let Ok(json) = (handler.info.encode)(input, &metadata) {
                let (id, _) = frame.ids();
                let letter =
                    DeadLetter::builder(json, frame.name, route.event.version(), id.to_string())
                        .reason(DeadLetterReason::DepthExceeded)
                        .error(error)
                        .attempts(0)
                        .build();
                self.keep(letter);
            }
        }
        Tally::new().reject(Rejection::DepthExceeded {
            chain,
            max_depth: self.inner.max_depth,
        })
    }

    /// Opens the span of one event's handling when `traced` is set.
    #[inline]
    fn event_span(&self, traced: bool, route: &Route, frame: &Frame) -> Span {
        if !traced {
            return Span::none();
        }
        let (id, correlation_id) = frame.ids();
        tracing::debug_span!(
            "event",
            name = route.event.name(),
            version = route.event.version(),
            %id,
            %correlation_id,
            depth = frame.depth,
        )
    }
}

/// Logs a warning the first time a deprecated event type is emitted.
#[inline(always)]
fn warn_if_deprecated<E: Event>() {
    if let Some(reason) = E::DEPRECATED {
        warn_deprecated(E::NAME, E::VERSION, reason);
    }
}

#[cold]
fn warn_deprecated(name: &'static str, version: u32, reason: &'static str) {
    static WARNED: std::sync::Mutex<Vec<(&'static str, u32)>> = std::sync::Mutex::new(Vec::new());
    let mut warned = WARNED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !warned.contains(&(name, version)) {
        warned.push((name, version));
        tracing::warn!(
            event = name,
            version,
            reason,
            "emitting a deprecated event: {reason}"
        );
    }
}

/// The outcome of one `async` handler run, with its attempts and follow-ups.
struct AsyncRun {
    outcome: Outcome,
    attempts: u32,
    first_at: SystemTime,
    follow_ups: Vec<Report>,
}

thread_local! {
    /// The attempts of the synchronous handler that just failed, handed from
    /// the retry loop to [`Bus::fail`] without widening the hot path's types.
    static ATTEMPTS: std::cell::Cell<(u32, Option<SystemTime>)> = const { std::cell::Cell::new((1, None)) };
}

fn not_run(handler: &RouteHandler, error: HandlerError) -> HandlerFailure {
    HandlerFailure::new(handler.info, error, 0, None)
}

fn handler_span(handler: &RouteHandler, attempt: u32) -> Span {
    if !tracing::level_enabled!(tracing::Level::DEBUG) {
        return Span::none();
    }
    tracing::debug_span!(
        "handler",
        handler = handler.info.name(),
        attempt,
        outcome = tracing::field::Empty
    )
}

/// Records how a handler attempt ended on its span: `ok`, `error` or `not_run`.
fn record_outcome(span: &Span, outcome: &Outcome) {
    let value = match outcome {
        Ok(()) => "ok",
        Err(error) if error.is_not_run() => "not_run",
        Err(_) => "error",
    };
    span.record("outcome", value);
}

#[cold]
fn warn_retry(
    handler: &RouteHandler,
    seed: &Seed,
    attempt: u32,
    error: &HandlerError,
    delay: Duration,
) {
    tracing::warn!(
        event = seed.name,
        id = %seed.id,
        correlation_id = %seed.chain_correlation,
        handler = handler.info.name(),
        attempt,
        max_attempts = handler.retry.max_attempts(),
        retry_in = ?delay,
        error = %error,
        "event handler failed; retrying"
    );
    #[cfg(feature = "metrics")]
    crate::metrics::handler_retried(seed.name, handler.info.name());
}

async fn with_timeout<F: Future>(timeout: Option<Duration>, future: F) -> Option<F::Output> {
    match timeout {
        Some(limit) => tokio::time::timeout(limit, future).await.ok(),
        None => Some(future.await),
    }
}

fn letter_for(
    metadata: &Metadata,
    json: &dyn Fn() -> Result<Vec<u8>, serde_json::Error>,
    reason: DeadLetterReason,
    error: &str,
) -> Option<DeadLetter> {
    match json() {
        Ok(json) => Some(
            DeadLetter::builder(
                json,
                metadata.name(),
                metadata.version(),
                metadata.id().to_string(),
            )
            .reason(reason)
            .error(error)
            .attempts(0)
            .build(),
        ),
        Err(encode_error) => {
            tracing::error!(
                event = metadata.name(),
                id = %metadata.id(),
                error = %encode_error,
                "cannot encode the event for the dead-letter store"
            );
            None
        }
    }
}

/// The event given back by [`Bus::emit_detached`] after shutdown began.
///
/// ```
/// # use events::{Bus, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize, Debug, PartialEq)] struct OrderPlaced { order_id: u64 }
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let bus = Bus::new();
/// bus.shutdown(std::time::Duration::ZERO).await;
/// let error = bus.emit_detached(OrderPlaced { order_id: 7 }).unwrap_err();
/// assert_eq!(error.to_string(), "cannot emit `OrderPlaced`: the bus has been shut down");
/// assert_eq!(error.into_event(), OrderPlaced { order_id: 7 });
/// # });
/// ```
pub struct ShutDownError<E>(E);

impl<E> ShutDownError<E> {
    /// Returns the event that was not emitted.
    ///
    /// ```
    /// # use events::{Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let bus = Bus::new();
    /// bus.shutdown(std::time::Duration::ZERO).await;
    ///
    /// // A caller that must not lose the event keeps it for the next process.
    /// let mut outbox = Vec::new();
    /// if let Err(error) = bus.emit_detached(OrderPlaced { order_id: 7 }) {
    ///     outbox.push(error.into_event());
    /// }
    /// assert_eq!(outbox[0].order_id, 7);
    /// # });
    /// ```
    pub fn into_event(self) -> E {
        self.0
    }
}

impl<E: Event> fmt::Display for ShutDownError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot emit `{}`: the bus has been shut down", E::NAME)
    }
}

impl<E: Event> fmt::Debug for ShutDownError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ShutDownError").field(&E::NAME).finish()
    }
}

impl<E: Event> std::error::Error for ShutDownError<E> {}

impl fmt::Debug for Bus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bus")
            .field("source", &self.inner.source)
            .field("max_depth", &self.inner.max_depth)
            .field("events_with_handlers", &self.inner.routes.len())
            .field("states", &self.inner.states.len())
            .field("observers", &self.inner.observers.len())
            .field("shut_down", &self.is_shut_down())
            .finish()
    }
}

#[inline(always)]
pub(crate) fn run_caught<T>(
    call: impl FnOnce() -> Result<T, Box<HandlerError>>,
) -> Result<T, Box<HandlerError>> {
    match catch_unwind(AssertUnwindSafe(call)) {
        Ok(outcome) => outcome,
        Err(panic) => Err(Box::new(HandlerError::Panicked(panic_message(&*panic)))),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(message) = panic.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = panic.downcast_ref::<String>() {
        message.clone()
    } else {
        "a non-string panic payload".to_owned()
    }
}

/// Fills in correlation and causation ids from the event being handled,
/// keeping ids the caller set.
fn link_to_parent<E>(mut envelope: Envelope<E>) -> Envelope<E> {
    if let Some(link) = frame::parent_link() {
        let metadata = &mut envelope.metadata;
        metadata.correlation_id.get_or_insert(link.correlation);
        metadata.causation_id.get_or_insert(link.causation);
    }
    envelope
}

#[allow(dead_code)]
fn assert_bus_is_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<Bus>();
}

//! The bus: routes each event to the handlers registered for its type.

use std::any::TypeId;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::decode::DynEnvelope;
use crate::envelope::{Envelope, EventId, Metadata, DEFAULT_SOURCE};
use crate::event::Event;
use crate::handler::{HandlerError, HandlerFn, HandlerInfo, Input};
use crate::registry::{self, RegistryError};

/// How deep a chain of events emitted from handlers may nest by default.
///
/// An event emitted at the top level has depth 0, and an event emitted by one
/// of its handlers has depth 1. Chains in real services are a handful of
/// steps long, so a deeper chain almost always means two events that emit
/// each other.
pub const DEFAULT_MAX_DEPTH: u32 = 32;

/// Routes events to the `#[on(...)]` handlers of their type.
///
/// A bus collects the registered handlers when it is built and never changes
/// afterwards, so one bus can be shared between threads (it is `Send + Sync`,
/// and cloning it is cheap).
///
/// # Call sites
///
/// - [`emit`](Bus::emit) runs the synchronous handlers inline. An `async`
///   handler cannot run there and is reported as a failure of kind
///   [`HandlerError::NeedsAsync`].
/// - [`emit_async`](Bus::emit_async) runs synchronous and `async` handlers,
///   one after another, in order.
///
/// # Order
///
/// Handlers of one event run by priority (highest first), then by name. An
/// event emitted from inside a handler is handled completely, by all its
/// handlers and their own follow-ups, before the emitting handler continues:
/// like a function call, depth first. The follow-up inherits the correlation
/// id of the event being handled (or its id, if that one started the chain)
/// and gets its id as causation id.
///
/// # Failures
///
/// A handler that returns `Err` or panics is recorded in the [`Report`] and
/// logged through `tracing`; the remaining handlers still run.
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
    source: Arc<str>,
    max_depth: u32,
}

/// The handlers of one event type, in run order.
struct Route {
    handlers: Box<[&'static HandlerInfo]>,
    /// Whether any handler takes `&Envelope<E>`, so that emitting must build one.
    needs_envelope: bool,
}

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
/// let bus = events::Bus::builder()
///     .source("https://shop.example/orders")
///     .max_depth(8)
///     .build()
///     .expect("event registrations are valid");
/// assert_eq!(bus.source(), "https://shop.example/orders");
/// ```
#[derive(Debug)]
pub struct BusBuilder {
    source: Arc<str>,
    max_depth: u32,
}

impl BusBuilder {
    /// Sets the `source` attribute of envelopes the bus creates, a
    /// URI-reference naming this producer. Defaults to
    /// [`DEFAULT_SOURCE`](crate::envelope::DEFAULT_SOURCE).
    pub fn source(mut self, source: impl AsRef<str>) -> Self {
        self.source = Arc::from(source.as_ref());
        self
    }

    /// Sets how deep events emitted from handlers may nest (see
    /// [`DEFAULT_MAX_DEPTH`]). An emit beyond it runs no handler and its
    /// report says [`rejected`](Report::rejected).
    pub fn max_depth(mut self, depth: u32) -> Self {
        self.max_depth = depth;
        self
    }

    /// Collects the registered handlers into a bus.
    ///
    /// # Errors
    ///
    /// Returns the registry's error if two event types share a name and version.
    pub fn build(self) -> Result<Bus, BuildError> {
        registry::validate().map_err(BuildError::Registry)?;

        let mut grouped: HashMap<TypeId, Vec<&'static HandlerInfo>> = HashMap::new();
        for handler in registry::handlers() {
            grouped
                .entry(handler.event_type_id())
                .or_default()
                .push(handler);
        }

        let routes = grouped
            .into_iter()
            .map(|(type_id, handlers)| {
                let needs_envelope = handlers.iter().any(|handler| handler.takes_envelope());
                let route = Route {
                    handlers: handlers.into_boxed_slice(),
                    needs_envelope,
                };
                (type_id, route)
            })
            .collect();

        Ok(Bus {
            inner: Arc::new(Inner {
                routes,
                source: self.source,
                max_depth: self.max_depth,
            }),
        })
    }
}

/// Why a [`Bus`] could not be built.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Two event types share a name and version.
    #[error(transparent)]
    Registry(RegistryError),
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
    /// Panics if two event types share a name and version. Use
    /// [`Bus::builder`] to get that as an error.
    pub fn new() -> Bus {
        match Bus::builder().build() {
            Ok(bus) => bus,
            Err(error) => panic!("cannot build the event bus: {error}"),
        }
    }

    /// Starts configuring a bus.
    pub fn builder() -> BusBuilder {
        BusBuilder {
            source: Arc::from(DEFAULT_SOURCE),
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }

    /// Returns the `source` attribute of envelopes this bus creates.
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
    /// let names: Vec<_> = Bus::new().handlers_of::<UserRegistered>().iter().map(|h| h.name()).collect();
    /// assert_eq!(names, ["welcome_mail"]);
    /// ```
    pub fn handlers_of<E: Event>(&self) -> &[&'static HandlerInfo] {
        self.route(TypeId::of::<E>())
            .map(|route| &*route.handlers)
            .unwrap_or_default()
    }

    fn route(&self, type_id: TypeId) -> Option<&Route> {
        self.inner.routes.get(&type_id)
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
        let Some(route) = self.route(TypeId::of::<E>()) else {
            return Report::new(E::NAME);
        };
        if route.needs_envelope {
            let envelope = self.envelope(event);
            return self.run_envelope_sync(route, &envelope);
        }
        let frame = Frame::lazy(E::NAME);
        self.run_sync(route, Input::Payload(&event), frame)
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
        let Some(route) = self.route(TypeId::of::<E>()) else {
            return Report::new(E::NAME);
        };
        let envelope = link_to_parent(envelope);
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
        let Some(route) = self.route(envelope.info().type_id()) else {
            return Report::new(envelope.name());
        };
        let frame = Frame::of(envelope.metadata(), parent_depth());
        self.run_sync(route, Input::Envelope(envelope.erased()), frame)
    }

    /// Runs every handler of `event`, synchronous and `async`, in order.
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
        let envelope = self.envelope(event);
        let depth = parent_depth();
        async move {
            let Some(route) = self.route(TypeId::of::<E>()) else {
                return Report::new(E::NAME);
            };
            let frame = Frame::of(&envelope.metadata, depth);
            self.run_async(route, Input::Envelope(&envelope), frame)
                .await
        }
    }

    /// Runs every handler of an envelope built by the caller, synchronous and
    /// `async`, in order.
    pub fn emit_envelope_async<E: Event>(
        &self,
        envelope: Envelope<E>,
    ) -> impl Future<Output = Report> + Send + '_ {
        let envelope = link_to_parent(envelope);
        let depth = parent_depth();
        async move {
            let Some(route) = self.route(TypeId::of::<E>()) else {
                return Report::new(E::NAME);
            };
            let frame = Frame::of(&envelope.metadata, depth);
            self.run_async(route, Input::Envelope(&envelope), frame)
                .await
        }
    }

    /// Runs every handler of a decoded envelope, synchronous and `async`, in order.
    pub fn dispatch_async<'a>(
        &'a self,
        envelope: &'a DynEnvelope,
    ) -> impl Future<Output = Report> + Send + 'a {
        let depth = parent_depth();
        async move {
            let Some(route) = self.route(envelope.info().type_id()) else {
                return Report::new(envelope.name());
            };
            let frame = Frame::of(envelope.metadata(), depth);
            self.run_async(route, Input::Envelope(envelope.erased()), frame)
                .await
        }
    }

    /// Wraps a payload in a new envelope linked to the event being handled, if any.
    fn envelope<E: Event>(&self, event: E) -> Envelope<E> {
        let metadata = Metadata::new(
            E::NAME,
            E::VERSION,
            EventId::new(),
            Arc::clone(&self.inner.source),
        );
        link_to_parent(Envelope::from_parts(event, metadata))
    }

    fn run_envelope_sync<E: Event>(&self, route: &Route, envelope: &Envelope<E>) -> Report {
        let frame = Frame::of(&envelope.metadata, parent_depth());
        self.run_sync(route, Input::Envelope(envelope), frame)
    }

    fn run_sync(&self, route: &Route, input: Input<'_>, frame: Frame) -> Report {
        let mut report = Report::new(frame.name);
        if let Some(rejection) = self.check_depth(&frame) {
            report.rejected = Some(rejection);
            return report;
        }

        let _scope = FrameScope::enter(frame);
        for handler in route.handlers.iter() {
            let outcome = match handler.call {
                HandlerFn::Sync(call) => run_caught(|| call(input)),
                HandlerFn::Async(_) => Err(HandlerError::NeedsAsync),
            };
            report.record(handler, outcome);
        }
        report
    }

    async fn run_async(&self, route: &Route, input: Input<'_>, frame: Frame) -> Report {
        let mut report = Report::new(frame.name);
        if let Some(rejection) = self.check_depth(&frame) {
            report.rejected = Some(rejection);
            return report;
        }

        for handler in route.handlers.iter() {
            let outcome = match handler.call {
                HandlerFn::Sync(call) => {
                    let _scope = FrameScope::enter(frame.clone());
                    run_caught(|| call(input))
                }
                HandlerFn::Async(call) => {
                    let future = {
                        let _scope = FrameScope::enter(frame.clone());
                        run_caught(|| Ok(call(input)))
                    };
                    match future {
                        Ok(future) => {
                            Scoped {
                                frame: frame.clone(),
                                future,
                            }
                            .await
                        }
                        Err(error) => Err(error),
                    }
                }
            };
            report.record(handler, outcome);
        }
        report
    }

    fn check_depth(&self, frame: &Frame) -> Option<Rejection> {
        if frame.depth <= self.inner.max_depth {
            return None;
        }
        let mut chain = current_chain();
        chain.push(frame.name);
        tracing::error!(
            event = frame.name,
            max_depth = self.inner.max_depth,
            chain = %chain.join(" -> "),
            "event chain exceeds the maximum depth; its handlers did not run"
        );
        Some(Rejection::DepthExceeded {
            chain,
            max_depth: self.inner.max_depth,
        })
    }
}

impl fmt::Debug for Bus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bus")
            .field("source", &self.inner.source)
            .field("max_depth", &self.inner.max_depth)
            .field("events_with_handlers", &self.inner.routes.len())
            .finish()
    }
}

fn run_caught<T>(call: impl FnOnce() -> Result<T, HandlerError>) -> Result<T, HandlerError> {
    match catch_unwind(AssertUnwindSafe(call)) {
        Ok(outcome) => outcome,
        Err(panic) => Err(HandlerError::Panicked(panic_message(&*panic))),
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

/// The event whose handlers are running on this thread, for linking follow-ups.
#[derive(Clone)]
struct Frame {
    name: &'static str,
    /// `None` until a follow-up needs it, for events emitted without an envelope.
    id: Option<EventId>,
    /// The correlation id of the chain, or `None` when this event starts it.
    correlation: Option<EventId>,
    depth: u32,
}

impl Frame {
    fn lazy(name: &'static str) -> Frame {
        match parent_link() {
            Some(link) => Frame {
                name,
                id: None,
                correlation: Some(link.correlation),
                depth: link.depth + 1,
            },
            None => Frame {
                name,
                id: None,
                correlation: None,
                depth: 0,
            },
        }
    }

    fn of(metadata: &Metadata, depth: u32) -> Frame {
        Frame {
            name: metadata.name(),
            id: Some(metadata.id().clone()),
            correlation: metadata.correlation_id().cloned(),
            depth,
        }
    }
}

/// What a follow-up takes from the event whose handler emitted it.
struct ParentLink {
    correlation: EventId,
    causation: EventId,
    depth: u32,
}

thread_local! {
    static FRAMES: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

/// Returns the link to the event being handled on this thread, generating its
/// id if it has none yet.
fn parent_link() -> Option<ParentLink> {
    FRAMES.with(|frames| {
        let mut frames = frames.borrow_mut();
        let parent = frames.last_mut()?;
        let id = parent.id.get_or_insert_with(EventId::new).clone();
        Some(ParentLink {
            correlation: parent.correlation.clone().unwrap_or_else(|| id.clone()),
            causation: id,
            depth: parent.depth,
        })
    })
}

/// Returns the depth a new event gets on this thread.
fn parent_depth() -> u32 {
    FRAMES.with(|frames| frames.borrow().last().map_or(0, |parent| parent.depth + 1))
}

fn current_chain() -> Vec<&'static str> {
    FRAMES.with(|frames| frames.borrow().iter().map(|frame| frame.name).collect())
}

/// Fills in correlation and causation ids from the event being handled,
/// keeping ids the caller set.
fn link_to_parent<E>(mut envelope: Envelope<E>) -> Envelope<E> {
    if let Some(link) = parent_link() {
        let metadata = &mut envelope.metadata;
        metadata.correlation_id.get_or_insert(link.correlation);
        metadata.causation_id.get_or_insert(link.causation);
    }
    envelope
}

/// Marks a frame as the event being handled on this thread until dropped.
struct FrameScope;

impl FrameScope {
    fn enter(frame: Frame) -> FrameScope {
        FRAMES.with(|frames| frames.borrow_mut().push(frame));
        FrameScope
    }
}

impl Drop for FrameScope {
    fn drop(&mut self) {
        FRAMES.with(|frames| frames.borrow_mut().pop());
    }
}

/// Polls an async handler with its event as the current frame, catching panics.
struct Scoped<F> {
    frame: Frame,
    future: F,
}

impl<F> Future for Scoped<F>
where
    F: Future<Output = Result<(), HandlerError>> + Unpin,
{
    type Output = Result<(), HandlerError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let _scope = FrameScope::enter(this.frame.clone());
        let future = &mut this.future;
        match catch_unwind(AssertUnwindSafe(|| Pin::new(future).poll(cx))) {
            Ok(poll) => poll,
            Err(panic) => Poll::Ready(Err(HandlerError::Panicked(panic_message(&*panic)))),
        }
    }
}

/// What happened when one event was emitted or dispatched.
///
/// ```
/// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
/// #[derive(Event, Serialize, Deserialize)]
/// struct StockChecked { sku: String }
///
/// #[on(StockChecked)]
/// fn crash(_: &StockChecked) { panic!("inventory service down") }
///
/// #[on(StockChecked)]
/// fn log(_: &StockChecked) {}
///
/// let report = Bus::new().emit(StockChecked { sku: "a".into() });
/// assert_eq!(report.handlers_run(), 2);
/// assert_eq!(report.failures().len(), 1);
/// assert!(report.failures()[0].handler().ends_with("crash"));
/// assert_eq!(report.failures()[0].error().to_string(), "panicked: inventory service down");
/// ```
#[derive(Clone, Debug)]
pub struct Report {
    event: &'static str,
    handlers_run: usize,
    failures: Vec<HandlerFailure>,
    rejected: Option<Rejection>,
}

impl Report {
    fn new(event: &'static str) -> Report {
        Report {
            event,
            handlers_run: 0,
            failures: Vec::new(),
            rejected: None,
        }
    }

    fn record(&mut self, handler: &'static HandlerInfo, outcome: Result<(), HandlerError>) {
        if matches!(outcome, Err(HandlerError::NeedsAsync)) {
            tracing::error!(
                event = self.event,
                handler = handler.name(),
                "async handler skipped at a synchronous call site; emit with `emit_async`"
            );
        } else {
            self.handlers_run += 1;
        }
        if let Err(error) = outcome {
            if !matches!(error, HandlerError::NeedsAsync) {
                tracing::error!(
                    event = self.event,
                    handler = handler.name(),
                    error = %error,
                    "event handler failed"
                );
            }
            self.failures.push(HandlerFailure { handler, error });
        }
    }

    /// Returns the event name.
    pub fn event(&self) -> &'static str {
        self.event
    }

    /// Returns how many handlers ran, whether they succeeded or not.
    pub fn handlers_run(&self) -> usize {
        self.handlers_run
    }

    /// Returns the handlers that failed or could not run, in run order.
    pub fn failures(&self) -> &[HandlerFailure] {
        &self.failures
    }

    /// Returns why no handler ran, when the bus rejected the event.
    pub fn rejected(&self) -> Option<&Rejection> {
        self.rejected.as_ref()
    }

    /// Returns `true` when every handler ran and succeeded.
    pub fn is_ok(&self) -> bool {
        self.failures.is_empty() && self.rejected.is_none()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(rejection) = &self.rejected {
            return write!(f, "`{}` rejected: {rejection}", self.event);
        }
        write!(
            f,
            "`{}`: {} handler(s) ran, {} failed",
            self.event,
            self.handlers_run,
            self.failures.len()
        )?;
        for failure in &self.failures {
            write!(f, "\n  - {failure}")?;
        }
        Ok(())
    }
}

/// One handler that failed, with its error.
#[derive(Clone, Debug)]
pub struct HandlerFailure {
    handler: &'static HandlerInfo,
    error: HandlerError,
}

impl HandlerFailure {
    /// Returns the handler's name.
    pub fn handler(&self) -> &'static str {
        self.handler.name()
    }

    /// Returns the handler's description.
    pub fn handler_info(&self) -> &'static HandlerInfo {
        self.handler
    }

    /// Returns the error.
    pub fn error(&self) -> &HandlerError {
        &self.error
    }
}

impl fmt::Display for HandlerFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.handler.name(), self.error)
    }
}

/// Why a bus ran none of an event's handlers.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// The event was emitted deeper than the bus allows; the chain lists the
    /// event names from the top-level event to the rejected one.
    DepthExceeded {
        /// Event names from the outermost to the rejected event.
        chain: Vec<&'static str>,
        /// The bus's limit.
        max_depth: u32,
    },
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::DepthExceeded { chain, max_depth } => write!(
                f,
                "event chain {} is deeper than the limit of {max_depth}; look for handlers that emit each other's events, or raise the limit with `BusBuilder::max_depth`",
                chain.join(" -> ")
            ),
        }
    }
}

#[allow(dead_code)]
fn assert_bus_is_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<Bus>();
}

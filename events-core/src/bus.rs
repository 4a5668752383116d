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
use crate::envelope::{self, Envelope, EventId, Metadata};
use crate::event::Event;
use crate::handler::{HandlerError, HandlerFn, HandlerInfo, Input};
use crate::registry::{self, RegistryError};

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
    /// [`DEFAULT_MAX_DEPTH`]). An emit beyond it runs no handler, and its
    /// report marks it as [`rejected`](Report::rejected).
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::sync::OnceLock;
    ///
    /// # #[derive(Event, Serialize, Deserialize)] struct PriceChanged;
    /// static BUS: OnceLock<Bus> = OnceLock::new();
    /// static RUNS: AtomicU32 = AtomicU32::new(0);
    ///
    /// // Re-emits its own event, so only the depth limit ends the chain.
    /// #[on(PriceChanged)]
    /// fn reprice(_: &PriceChanged) {
    ///     RUNS.fetch_add(1, Ordering::Relaxed);
    ///     BUS.get().unwrap().emit(PriceChanged);
    /// }
    ///
    /// let bus = BUS.get_or_init(|| Bus::builder().max_depth(2).build().unwrap());
    /// bus.emit(PriceChanged);
    /// // The handler runs at depths 0, 1 and 2; the emit at depth 3 is rejected.
    /// assert_eq!(RUNS.load(Ordering::Relaxed), 3);
    /// ```
    pub fn max_depth(mut self, depth: u32) -> Self {
        self.max_depth = depth;
        self
    }

    /// Collects the registered handlers into a bus.
    ///
    /// # Errors
    ///
    /// Returns the registry's error if two event types share a name and version.
    ///
    /// ```
    /// use events::{Bus, BuildError, Event};
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Event, Serialize, Deserialize)]
    /// #[event(name = "OrderPlaced")]
    /// struct LegacyOrderPlaced;
    ///
    /// #[derive(Event, Serialize, Deserialize)]
    /// #[event(name = "OrderPlaced")]
    /// struct OrderPlaced;
    ///
    /// let error = Bus::builder().build().unwrap_err();
    /// assert!(matches!(error, BuildError::Registry(_)));
    /// ```
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

/// The reason a [`Bus`] could not be built.
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
        let envelope = self.adopt(envelope);
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
        let envelope = self.adopt(envelope);
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
            return report.hand_to_parent();
        }

        let scope = FrameScope::enter(frame);
        for handler in route.handlers.iter() {
            let outcome = match handler.call {
                HandlerFn::Sync(call) => run_caught(|| call(input)),
                HandlerFn::Async(_) => Err(HandlerError::NeedsAsync),
            };
            report.record(handler, outcome);
        }
        report.follow_ups = scope.exit().follow_ups;
        report.hand_to_parent()
    }

    async fn run_async(&self, route: &Route, input: Input<'_>, frame: Frame) -> Report {
        let mut report = Report::new(frame.name);
        if let Some(rejection) = self.check_depth(&frame) {
            report.rejected = Some(rejection);
            return report.hand_to_parent();
        }

        let mut follow_ups = Vec::new();
        for handler in route.handlers.iter() {
            let scope = FrameScope::enter(frame.clone());
            let outcome = match handler.call {
                HandlerFn::Sync(call) => run_caught(|| call(input)).map(|()| None),
                HandlerFn::Async(call) => run_caught(|| Ok(call(input))).map(Some),
            };
            follow_ups.append(&mut scope.exit().follow_ups);

            let outcome = match outcome {
                Ok(Some(future)) => {
                    Scoped {
                        frame: Some(frame.clone()),
                        future,
                        follow_ups: &mut follow_ups,
                    }
                    .await
                }
                Ok(None) => Ok(()),
                Err(error) => Err(error),
            };
            report.record(handler, outcome);
        }
        report.follow_ups = follow_ups;
        report.hand_to_parent()
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
    /// Reports of follow-ups emitted by the running handler that did not succeed.
    follow_ups: Vec<Report>,
}

impl Frame {
    fn lazy(name: &'static str) -> Frame {
        match parent_link() {
            Some(link) => Frame {
                name,
                id: None,
                correlation: Some(link.correlation),
                depth: link.depth + 1,
                follow_ups: Vec::new(),
            },
            None => Frame {
                name,
                id: None,
                correlation: None,
                depth: 0,
                follow_ups: Vec::new(),
            },
        }
    }

    fn of(metadata: &Metadata, depth: u32) -> Frame {
        Frame {
            name: metadata.name(),
            id: Some(metadata.id().clone()),
            correlation: metadata.correlation_id().cloned(),
            depth,
            follow_ups: Vec::new(),
        }
    }
}

/// The ids and depth a follow-up takes from the event whose handler emitted it.
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

    /// Leaves the scope, returning the frame with what handlers recorded in it.
    fn exit(self) -> Frame {
        std::mem::forget(self);
        FRAMES
            .with(|frames| frames.borrow_mut().pop())
            .expect("the frame entered by this scope is still on the stack")
    }
}

impl Drop for FrameScope {
    fn drop(&mut self) {
        FRAMES.with(|frames| frames.borrow_mut().pop());
    }
}

/// Polls an async handler with its event as the current frame, catching
/// panics and collecting the reports of failed follow-ups.
struct Scoped<'a, F> {
    /// `None` only while the future is being polled.
    frame: Option<Frame>,
    future: F,
    follow_ups: &'a mut Vec<Report>,
}

impl<F> Future for Scoped<'_, F>
where
    F: Future<Output = Result<(), HandlerError>> + Unpin,
{
    type Output = Result<(), HandlerError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let frame = this.frame.take().expect("Scoped polled re-entrantly");
        let scope = FrameScope::enter(frame);
        let future = &mut this.future;
        let poll = catch_unwind(AssertUnwindSafe(|| Pin::new(future).poll(cx)));
        let mut frame = scope.exit();
        this.follow_ups.append(&mut frame.follow_ups);
        this.frame = Some(frame);

        match poll {
            Ok(poll) => poll,
            Err(panic) => Poll::Ready(Err(HandlerError::Panicked(panic_message(&*panic)))),
        }
    }
}

/// The outcome of emitting or dispatching one event.
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
    follow_ups: Vec<Report>,
}

impl Report {
    fn new(event: &'static str) -> Report {
        Report {
            event,
            handlers_run: 0,
            failures: Vec::new(),
            rejected: None,
            follow_ups: Vec::new(),
        }
    }

    /// Copies a report that is not ok into the frame of the handler that
    /// emitted this event, if any, so the top-level report shows it.
    fn hand_to_parent(self) -> Report {
        if !self.is_ok() {
            FRAMES.with(|frames| {
                if let Some(parent) = frames.borrow_mut().last_mut() {
                    parent.follow_ups.push(self.clone());
                }
            });
        }
        self
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
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let report = Bus::new().emit(OrderPlaced { order_id: 7 });
    /// assert_eq!(report.event(), "OrderPlaced");
    /// ```
    pub fn event(&self) -> &'static str {
        self.event
    }

    /// Returns how many handlers ran, whether they succeeded or not.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// #[on(OrderPlaced)]
    /// fn reserve_stock(_: &OrderPlaced) -> Result<(), String> { Err("warehouse offline".into()) }
    ///
    /// #[on(OrderPlaced)]
    /// async fn send_receipt(_: &OrderPlaced) {}
    ///
    /// // `emit` cannot run the async handler, so only the failing one counts.
    /// assert_eq!(Bus::new().emit(OrderPlaced { order_id: 7 }).handlers_run(), 1);
    /// ```
    pub fn handlers_run(&self) -> usize {
        self.handlers_run
    }

    /// Returns the handlers that failed or could not run, in run order.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// # use events::HandlerError;
    /// #[on(OrderPlaced)]
    /// async fn send_receipt(_: &OrderPlaced) {}
    ///
    /// let report = Bus::new().emit(OrderPlaced { order_id: 7 });
    /// assert_eq!(report.failures()[0].error(), &HandlerError::NeedsAsync);
    /// ```
    pub fn failures(&self) -> &[HandlerFailure] {
        &self.failures
    }

    /// Returns why no handler ran, when the bus rejected the event.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # use std::sync::OnceLock;
    /// # #[derive(Event, Serialize, Deserialize)] struct PriceChanged;
    /// # static BUS: OnceLock<Bus> = OnceLock::new();
    /// #[on(PriceChanged)]
    /// fn reprice(_: &PriceChanged) {
    ///     BUS.get().unwrap().emit(PriceChanged);
    /// }
    ///
    /// let bus = BUS.get_or_init(|| Bus::builder().max_depth(0).build().unwrap());
    /// let report = bus.emit(PriceChanged);
    /// assert!(report.rejected().is_none());
    /// assert!(report.follow_ups()[0].rejected().is_some());
    /// ```
    pub fn rejected(&self) -> Option<&Rejection> {
        self.rejected.as_ref()
    }

    /// Returns `true` when every handler ran and succeeded.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// #[on(OrderPlaced)]
    /// fn reserve_stock(order: &OrderPlaced) -> Result<(), String> {
    ///     if order.order_id == 0 { return Err("order id 0 is invalid".into()) }
    ///     Ok(())
    /// }
    ///
    /// assert!(Bus::new().emit(OrderPlaced { order_id: 7 }).is_ok());
    /// assert!(!Bus::new().emit(OrderPlaced { order_id: 0 }).is_ok());
    /// ```
    pub fn is_ok(&self) -> bool {
        self.failures.is_empty() && self.rejected.is_none() && self.follow_ups.is_empty()
    }

    /// Returns the reports of follow-up events that did not succeed: events
    /// emitted by this event's handlers, at any depth, whose handlers failed
    /// or which the bus rejected. Follow-ups that succeeded are not listed.
    ///
    /// A follow-up counts when its emit completes while the emitting handler
    /// runs; an `emit_async` future spawned as a separate task reports only
    /// to whoever awaits it.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct OrderShipped { order_id: u64 }
    ///
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct ShippingMailQueued { order_id: u64 }
    ///
    /// #[on(OrderShipped)]
    /// fn queue_mail(order: &OrderShipped) {
    ///     let bus = Bus::new();
    ///     bus.emit(ShippingMailQueued { order_id: order.order_id });
    /// }
    ///
    /// #[on(ShippingMailQueued)]
    /// fn send_mail(_: &ShippingMailQueued) -> Result<(), String> {
    ///     Err("mail server unreachable".into())
    /// }
    ///
    /// let report = Bus::new().emit(OrderShipped { order_id: 5 });
    /// assert!(report.failures().is_empty());
    /// assert!(!report.is_ok());
    /// let follow_up = &report.follow_ups()[0];
    /// assert_eq!(follow_up.event(), "ShippingMailQueued");
    /// assert_eq!(follow_up.failures()[0].error().to_string(), "mail server unreachable");
    /// ```
    pub fn follow_ups(&self) -> &[Report] {
        &self.follow_ups
    }

    fn write_indented(&self, f: &mut fmt::Formatter<'_>, indent: usize) -> fmt::Result {
        let pad = "  ".repeat(indent);
        if let Some(rejection) = &self.rejected {
            return write!(f, "{pad}`{}` rejected: {rejection}", self.event);
        }
        write!(
            f,
            "{pad}`{}`: {} handler(s) ran, {} failed",
            self.event,
            self.handlers_run,
            self.failures.len()
        )?;
        for failure in &self.failures {
            write!(f, "\n{pad}  - {failure}")?;
        }
        for follow_up in &self.follow_ups {
            write!(f, "\n{pad}  follow-up:\n")?;
            follow_up.write_indented(f, indent + 2)?;
        }
        Ok(())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_indented(f, 0)
    }
}

/// One handler that failed, with its error.
///
/// ```
/// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// #[on(OrderPlaced, name = "reserve_stock")]
/// fn reserve_stock(_: &OrderPlaced) -> Result<(), String> { Err("warehouse offline".into()) }
///
/// let report = Bus::new().emit(OrderPlaced { order_id: 7 });
/// assert_eq!(report.failures()[0].to_string(), "reserve_stock: warehouse offline");
/// ```
#[derive(Clone, Debug)]
pub struct HandlerFailure {
    handler: &'static HandlerInfo,
    error: HandlerError,
}

impl HandlerFailure {
    /// Returns the handler's name.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// #[on(OrderPlaced, name = "reserve_stock")]
    /// fn reserve_stock(_: &OrderPlaced) -> Result<(), String> { Err("warehouse offline".into()) }
    ///
    /// let report = Bus::new().emit(OrderPlaced { order_id: 7 });
    /// assert_eq!(report.failures()[0].handler(), "reserve_stock");
    /// ```
    pub fn handler(&self) -> &'static str {
        self.handler.name()
    }

    /// Returns the handler's description.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// #[on(OrderPlaced, priority = 10)]
    /// fn reserve_stock(_: &OrderPlaced) -> Result<(), String> { Err("warehouse offline".into()) }
    ///
    /// let report = Bus::new().emit(OrderPlaced { order_id: 7 });
    /// assert_eq!(report.failures()[0].handler_info().priority(), 10);
    /// ```
    pub fn handler_info(&self) -> &'static HandlerInfo {
        self.handler
    }

    /// Returns the error.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// # use events::HandlerError;
    /// #[on(OrderPlaced)]
    /// fn reserve_stock(_: &OrderPlaced) { panic!("warehouse offline") }
    ///
    /// let report = Bus::new().emit(OrderPlaced { order_id: 7 });
    /// assert_eq!(report.failures()[0].error(), &HandlerError::Panicked("warehouse offline".into()));
    /// ```
    pub fn error(&self) -> &HandlerError {
        &self.error
    }
}

impl fmt::Display for HandlerFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.handler.name(), self.error)
    }
}

/// The reason a bus ran none of an event's handlers.
///
/// ```
/// use events::{on, Bus, Event, Rejection};
/// use serde::{Deserialize, Serialize};
/// use std::sync::OnceLock;
///
/// #[derive(Event, Serialize, Deserialize)]
/// struct PriceChanged;
///
/// static BUS: OnceLock<Bus> = OnceLock::new();
///
/// // Re-emits its own event, so only the depth limit ends the chain.
/// #[on(PriceChanged)]
/// fn reprice(_: &PriceChanged) {
///     BUS.get().unwrap().emit(PriceChanged);
/// }
///
/// let bus = BUS.get_or_init(|| Bus::builder().max_depth(1).build().unwrap());
/// let report = bus.emit(PriceChanged);
///
/// // The handler ran at depths 0 and 1; the emit at depth 2 was rejected.
/// let deepest = &report.follow_ups()[0].follow_ups()[0];
/// let expected = Rejection::DepthExceeded { chain: vec!["PriceChanged"; 3], max_depth: 1 };
/// assert_eq!(deepest.rejected(), Some(&expected));
/// ```
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

//! The bus: routes each event to the handlers registered for its type.

use std::any::TypeId;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::decode::DynEnvelope;
use crate::envelope::{self, Envelope, Metadata};
use crate::event::Event;
use crate::frame::{self, Frame, Scoped};
use crate::handler::{HandlerError, HandlerFn, HandlerInfo, Input};
use crate::registry::{self, RegistryError};
use crate::report::Tally;
pub use crate::report::{HandlerFailure, Rejection, Report};

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
    event_name: &'static str,
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
                    event_name: handlers[0].event().name(),
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

    #[inline]
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
            return Report::empty(E::NAME);
        };
        if route.needs_envelope {
            return self.emit_in_envelope(route, event);
        }
        let frame = Frame::lazy(E::NAME);
        self.run_sync(route, Input::of_payload(&event), &frame)
    }

    /// Builds the envelope that some handler of `E` takes, then runs the
    /// handlers. Kept out of line so that `emit` stays small for events
    /// whose handlers take only `&E`.
    #[inline(never)]
    fn emit_in_envelope<E: Event>(&self, route: &Route, event: E) -> Report {
        let envelope = self.envelope(event);
        self.run_envelope_sync(route, &envelope)
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
            return Report::empty(E::NAME);
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
            return Report::empty(envelope.name());
        };
        let frame = Frame::of(envelope.metadata(), frame::next_depth());
        self.run_sync(route, envelope.input(), &frame)
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
        let depth = frame::next_depth();
        async move {
            let Some(route) = self.route(TypeId::of::<E>()) else {
                return Report::empty(E::NAME);
            };
            let frame = Frame::of(&envelope.metadata, depth);
            self.run_async(route, Input::of_envelope(&envelope), frame)
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
        let depth = frame::next_depth();
        async move {
            let Some(route) = self.route(TypeId::of::<E>()) else {
                return Report::empty(E::NAME);
            };
            let frame = Frame::of(&envelope.metadata, depth);
            self.run_async(route, Input::of_envelope(&envelope), frame)
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
        let depth = frame::next_depth();
        async move {
            let Some(route) = self.route(envelope.info().type_id()) else {
                return Report::empty(envelope.name());
            };
            let frame = Frame::of(envelope.metadata(), depth);
            self.run_async(route, envelope.input(), frame).await
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

    fn run_envelope_sync<E: Event>(&self, route: &Route, envelope: &Envelope<E>) -> Report {
        let frame = Frame::of(&envelope.metadata, frame::next_depth());
        self.run_sync(route, Input::of_envelope(envelope), &frame)
    }

    fn run_sync(&self, route: &Route, input: Input<'_>, frame: &Frame) -> Report {
        let event = route.event_name;
        let mut tally = Tally::new();
        if frame.depth > self.inner.max_depth {
            tally = tally.reject(self.depth_exceeded(frame));
        } else {
            let mut node = frame::Node::new(frame);
            let entered = node.enter();
            for handler in route.handlers.iter() {
                let outcome = match handler.call {
                    HandlerFn::Sync(call) => run_caught(|| call(input)),
                    HandlerFn::Async(_) => Err(Box::new(HandlerError::NeedsAsync)),
                };
                tally = tally.record(frame, handler, outcome);
            }
            drop(entered);
            tally = tally.add_follow_ups(frame);
        }
        let report = tally.into_report(event);
        if !report.is_ok() {
            frame::hand_to_parent(&report);
        }
        report
    }

    async fn run_async(&self, route: &Route, input: Input<'_>, frame: Frame) -> Report {
        let event = route.event_name;
        let mut tally = Tally::new();
        if frame.depth > self.inner.max_depth {
            let report = tally.reject(self.depth_exceeded(&frame)).into_report(event);
            frame::hand_to_parent(&report);
            return report;
        }

        for handler in route.handlers.iter() {
            let started = frame::within(&frame, || match handler.call {
                HandlerFn::Sync(call) => run_caught(|| call(input)).map(|()| None),
                HandlerFn::Async(call) => run_caught(|| Ok(call(input))).map(Some),
            });
            let outcome = match started {
                Ok(Some(future)) => {
                    let scoped = Scoped {
                        frame: frame.sibling(),
                        future,
                    };
                    let (outcome, handler_frame) = scoped.finish().await;
                    tally = tally.add_follow_ups(&handler_frame);
                    outcome
                }
                Ok(None) => Ok(()),
                Err(error) => Err(error),
            };
            tally = tally.record(&frame, handler, outcome);
        }
        let report = tally.add_follow_ups(&frame).into_report(event);
        if !report.is_ok() {
            frame::hand_to_parent(&report);
        }
        report
    }

    #[cold]
    fn depth_exceeded(&self, frame: &Frame) -> Rejection {
        let mut chain = frame::current_chain();
        chain.push(frame.name);
        tracing::error!(
            event = frame.name,
            max_depth = self.inner.max_depth,
            chain = %chain.join(" -> "),
            "event chain exceeds the maximum depth; its handlers did not run"
        );
        Rejection::DepthExceeded {
            chain,
            max_depth: self.inner.max_depth,
        }
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

//! Handler descriptions registered by `#[on(Event)]`, and what handlers may return.

use core::any::{Any, TypeId};
use core::cmp::Ordering;
use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::ptr;

use std::sync::Arc;
use std::time::Duration;

use crate::bus::Bus;
use crate::envelope::{Envelope, EventId, Metadata};
use crate::event::{Event, EventInfo};
use crate::policy::{Concurrency, OnFailure, Retry};

/// The registered description of one `#[on(Event)]` function.
///
/// ```
/// # use events::{on, Event}; use serde::{Deserialize, Serialize};
/// #[derive(Event, Serialize, Deserialize)]
/// struct PaymentSucceeded { amount_cents: u64 }
///
/// #[on(PaymentSucceeded, name = "ledger.record", priority = 10)]
/// async fn record(_: &events::Envelope<PaymentSucceeded>) {}
///
/// let handler = events::registry::handlers_of::<PaymentSucceeded>().next().unwrap();
/// assert_eq!(handler.name(), "ledger.record");
/// assert_eq!(handler.priority(), 10);
/// assert!(handler.is_async());
/// assert!(handler.takes_envelope());
/// assert_eq!(handler.event().name(), "PaymentSucceeded");
/// ```
pub struct HandlerInfo {
    name: &'static str,
    function: &'static str,
    priority: i32,
    takes_envelope: bool,
    file: &'static str,
    line: u32,
    event: fn() -> &'static EventInfo,
    event_type_id: fn() -> TypeId,
    pub(crate) call: HandlerFn,
    pub(crate) encode: EncodeFn,
    retry: Option<Retry>,
    on_failure: Option<OnFailure>,
    timeout: Option<Duration>,
    concurrency: Option<Concurrency>,
    after: &'static [&'static str],
    before: &'static [&'static str],
    requires: &'static [fn() -> Option<StateRequirement>],
    replays: bool,
}

impl HandlerInfo {
    /// Returns the handler name: `#[on(E, name = "...")]`, or else the
    /// function's module path and name.
    ///
    /// ```
    /// # use events::{on, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct PaymentSucceeded;
    /// #[on(PaymentSucceeded)]
    /// fn record(_: &PaymentSucceeded) {}
    ///
    /// let handler = events::registry::handlers_of::<PaymentSucceeded>().next().unwrap();
    /// assert_eq!(handler.name(), concat!(module_path!(), "::record"));
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Returns the function's module path and name.
    ///
    /// ```
    /// # use events::{on, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct PaymentSucceeded;
    /// #[on(PaymentSucceeded, name = "ledger.record")]
    /// fn record(_: &PaymentSucceeded) {}
    ///
    /// let handler = events::registry::handlers_of::<PaymentSucceeded>().next().unwrap();
    /// assert_eq!(handler.function(), concat!(module_path!(), "::record"));
    /// ```
    pub fn function(&self) -> &'static str {
        self.function
    }

    /// Returns the priority; handlers with a higher priority run first.
    ///
    /// ```
    /// # use events::{on, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct PaymentSucceeded;
    /// #[on(PaymentSucceeded, priority = -5)]
    /// fn archive(_: &PaymentSucceeded) {}
    ///
    /// let handler = events::registry::handlers_of::<PaymentSucceeded>().next().unwrap();
    /// assert_eq!(handler.priority(), -5);
    /// ```
    pub fn priority(&self) -> i32 {
        self.priority
    }

    /// Returns whether the function takes `&Envelope<E>` instead of `&E`.
    ///
    /// ```
    /// # use events::{on, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct PaymentSucceeded;
    /// #[on(PaymentSucceeded)]
    /// fn audit(_: &events::Envelope<PaymentSucceeded>) {}
    ///
    /// let handler = events::registry::handlers_of::<PaymentSucceeded>().next().unwrap();
    /// assert!(handler.takes_envelope());
    /// ```
    pub fn takes_envelope(&self) -> bool {
        self.takes_envelope
    }

    /// Returns whether the function is `async`.
    ///
    /// ```
    /// # use events::{on, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct PaymentSucceeded;
    /// #[on(PaymentSucceeded)]
    /// async fn notify(_: &PaymentSucceeded) {}
    ///
    /// let handler = events::registry::handlers_of::<PaymentSucceeded>().next().unwrap();
    /// assert!(handler.is_async());
    /// ```
    pub fn is_async(&self) -> bool {
        matches!(self.call, HandlerFn::Async(_))
    }

    /// Returns the description of the event this handler consumes.
    ///
    /// ```
    /// # use events::{on, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct PaymentSucceeded;
    /// #[on(PaymentSucceeded)]
    /// fn record(_: &PaymentSucceeded) {}
    ///
    /// let handler = events::registry::handlers_of::<PaymentSucceeded>().next().unwrap();
    /// assert_eq!(handler.event().name(), "PaymentSucceeded");
    /// ```
    pub fn event(&self) -> &'static EventInfo {
        (self.event)()
    }

    /// Returns the [`TypeId`] of the event type this handler consumes.
    ///
    /// ```
    /// # use events::{on, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct PaymentSucceeded;
    /// #[on(PaymentSucceeded)]
    /// fn record(_: &PaymentSucceeded) {}
    ///
    /// let handler = events::registry::handlers_of::<PaymentSucceeded>().next().unwrap();
    /// assert_eq!(handler.event_type_id(), std::any::TypeId::of::<PaymentSucceeded>());
    /// ```
    pub fn event_type_id(&self) -> TypeId {
        (self.event_type_id)()
    }

    /// Returns the source file of the function, as [`file!`] spells it.
    ///
    /// ```
    /// # use events::{on, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct PaymentSucceeded;
    /// #[on(PaymentSucceeded)]
    /// fn record(_: &PaymentSucceeded) {}
    ///
    /// let handler = events::registry::handlers_of::<PaymentSucceeded>().next().unwrap();
    /// assert_eq!(handler.file(), file!());
    /// ```
    pub fn file(&self) -> &'static str {
        self.file
    }

    /// Returns the 1-based line of the function's name.
    ///
    /// ```
    /// # use events::{on, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct PaymentSucceeded;
    /// #[on(PaymentSucceeded)]
    /// fn record(_: &PaymentSucceeded) {}
    /// let declared_on = line!() - 1;
    ///
    /// let handler = events::registry::handlers_of::<PaymentSucceeded>().next().unwrap();
    /// assert_eq!(handler.line(), declared_on);
    /// ```
    pub fn line(&self) -> u32 {
        self.line
    }

    /// Returns the retry policy set in the attribute (`attempts`, `backoff`,
    /// `jitter`), or `None` to use the bus's default.
    ///
    /// ```
    /// # use events::{on, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct PaymentSucceeded;
    /// #[on(PaymentSucceeded, attempts = 3, backoff = fixed("20ms"))]
    /// fn record(_: &PaymentSucceeded) {}
    ///
    /// let handler = events::registry::handlers_of::<PaymentSucceeded>().next().unwrap();
    /// assert_eq!(handler.retry().unwrap().to_string(), "3 attempts, fixed 20ms");
    /// ```
    pub fn retry(&self) -> Option<Retry> {
        self.retry
    }

    /// Returns the final policy set in the attribute (`on_failure`), or
    /// `None` to use the bus's default.
    ///
    /// ```
    /// # use events::{on, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct PaymentSucceeded;
    /// use events::policy::OnFailure;
    ///
    /// #[on(PaymentSucceeded, on_failure = "stop")]
    /// fn record(_: &PaymentSucceeded) {}
    ///
    /// let handler = events::registry::handlers_of::<PaymentSucceeded>().next().unwrap();
    /// assert_eq!(handler.on_failure(), Some(OnFailure::Stop));
    /// ```
    pub fn on_failure(&self) -> Option<OnFailure> {
        self.on_failure
    }

    /// Returns the time limit set in the attribute (`timeout`), or `None` to
    /// use the bus's default. Only `async` handlers have one.
    ///
    /// ```
    /// # use events::{on, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct PaymentSucceeded;
    /// #[on(PaymentSucceeded, timeout = "2s")]
    /// async fn record(_: &PaymentSucceeded) {}
    ///
    /// let handler = events::registry::handlers_of::<PaymentSucceeded>().next().unwrap();
    /// assert_eq!(handler.timeout(), Some(std::time::Duration::from_secs(2)));
    /// ```
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Returns whether the attribute marks this `async` handler `concurrent`,
    /// or `None` to use the bus's default.
    ///
    /// ```
    /// # use events::{on, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct PaymentSucceeded;
    /// use events::policy::Concurrency;
    ///
    /// #[on(PaymentSucceeded, concurrent)]
    /// async fn record(_: &PaymentSucceeded) {}
    ///
    /// let handler = events::registry::handlers_of::<PaymentSucceeded>().next().unwrap();
    /// assert_eq!(handler.concurrency(), Some(Concurrency::Concurrent));
    /// ```
    pub fn concurrency(&self) -> Option<Concurrency> {
        self.concurrency
    }

    /// Returns the names of the handlers this one runs after (`after = ...`).
    ///
    /// ```
    /// # use events::{on, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct PaymentSucceeded;
    /// #[on(PaymentSucceeded, name = "ledger")]
    /// fn ledger(_: &PaymentSucceeded) {}
    ///
    /// #[on(PaymentSucceeded, name = "receipt", after = "ledger")]
    /// fn receipt(_: &PaymentSucceeded) {}
    ///
    /// let handler = events::registry::handler("receipt").unwrap();
    /// assert_eq!(handler.after(), ["ledger"]);
    /// ```
    pub fn after(&self) -> &'static [&'static str] {
        self.after
    }

    /// Returns the names of the handlers this one runs before (`before = ...`).
    ///
    /// ```
    /// # use events::{on, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct PaymentSucceeded;
    /// #[on(PaymentSucceeded, name = "audit", before = ["ledger", "receipt"])]
    /// fn audit(_: &PaymentSucceeded) {}
    ///
    /// let handler = events::registry::handler("audit").unwrap();
    /// assert_eq!(handler.before(), ["ledger", "receipt"]);
    /// ```
    pub fn before(&self) -> &'static [&'static str] {
        self.before
    }

    /// Returns whether the handler runs when stored events are replayed
    /// ([`Bus::replay`](crate::Bus::replay)). `#[on(E, replay = false)]` turns
    /// it off, for handlers with effects outside the process such as mail.
    ///
    /// ```
    /// # use events::{on, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct PaymentSucceeded;
    /// #[on(PaymentSucceeded, name = "mail.receipt", replay = false)]
    /// fn send_receipt(_: &PaymentSucceeded) {}
    ///
    /// assert!(!events::registry::handler("mail.receipt").unwrap().replays());
    /// ```
    pub fn replays(&self) -> bool {
        self.replays
    }

    /// Returns the state types the handler takes through [`State`], which
    /// the bus must be given when it is built.
    ///
    /// ```
    /// # use events::{on, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct PaymentSucceeded;
    /// use events::State;
    ///
    /// struct Ledger;
    ///
    /// #[on(PaymentSucceeded)]
    /// fn record(_: &PaymentSucceeded, _ledger: State<Ledger>) {}
    ///
    /// let handler = events::registry::handlers_of::<PaymentSucceeded>().next().unwrap();
    /// let needs: Vec<_> = handler.requirements().map(|r| r.type_name()).collect();
    /// assert_eq!(needs, [std::any::type_name::<Ledger>()]);
    /// ```
    pub fn requirements(&self) -> impl Iterator<Item = StateRequirement> + '_ {
        self.requires.iter().filter_map(|requirement| requirement())
    }
}

impl fmt::Debug for HandlerInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerInfo")
            .field("name", &self.name)
            .field("event", &self.event().name())
            .field("priority", &self.priority)
            .field("takes_envelope", &self.takes_envelope)
            .field("async", &self.is_async())
            .field("retry", &self.retry)
            .field("on_failure", &self.on_failure)
            .field("timeout", &self.timeout)
            .field("concurrency", &self.concurrency)
            .field("after", &self.after)
            .field("before", &self.before)
            .field("replays", &self.replays)
            .field("file", &self.file)
            .field("line", &self.line)
            .finish()
    }
}

/// Orders two handlers of one event: higher priority first, then by name.
pub(crate) fn run_order(a: &HandlerInfo, b: &HandlerInfo) -> Ordering {
    b.priority
        .cmp(&a.priority)
        .then_with(|| a.name.cmp(b.name))
        .then_with(|| a.function.cmp(b.function))
}

/// The reason a handler did not complete.
///
/// ```
/// use events::HandlerError;
///
/// let error = HandlerError::Failed("card declined".into());
/// assert_eq!(error.to_string(), "card declined");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandlerError {
    /// The handler returned `Err`. The message is the error's alternate `Display`
    /// output (`{:#}`), which for `anyhow::Error` includes the chain of causes.
    #[error("{0}")]
    Failed(String),
    /// The handler panicked; the message is the panic payload when it is a string.
    #[error("panicked: {0}")]
    Panicked(String),
    /// The handler is `async` and the event was emitted at a synchronous call
    /// site, so it did not run.
    #[error(
        "not run: the handler is `async` and the event was emitted with a synchronous call; emit it with `emit_async(..).await`, and for a follow-up make the emitting handler `async` too"
    )]
    NeedsAsync,
    /// The `async` handler did not finish within its time limit and was cancelled.
    #[error("timed out after {0:?}")]
    TimedOut(core::time::Duration),
    /// The handler did not run because an earlier handler of the event failed
    /// under [`OnFailure::Stop`].
    #[error("not run: handler `{0}` failed and stops the event")]
    Stopped(&'static str),
}

impl HandlerError {
    /// Returns whether the handler did not run at all, as opposed to running
    /// and failing.
    ///
    /// ```
    /// use events::HandlerError;
    /// assert!(HandlerError::NeedsAsync.is_not_run());
    /// assert!(!HandlerError::Failed("disk full".into()).is_not_run());
    /// ```
    pub fn is_not_run(&self) -> bool {
        matches!(self, HandlerError::NeedsAsync | HandlerError::Stopped(_))
    }
}

/// A value an `#[on]` handler may return: `()` or `Result<(), E>` where `E: Display`.
///
/// Boxed errors (`Box<dyn std::error::Error + Send + Sync>`) and `anyhow::Error`
/// implement `Display`, so they work too.
///
/// ```
/// use events::HandlerReturn;
///
/// assert!(().into_handler_result().is_ok());
/// let failed: Result<(), String> = Err("out of stock".into());
/// assert_eq!(failed.into_handler_result().unwrap_err().to_string(), "out of stock");
/// ```
#[diagnostic::on_unimplemented(
    message = "an `#[on]` handler cannot return `{Self}`",
    label = "handlers return `()` or `Result<(), E>` with `E: Display`",
    note = "return `Result<(), E>` where `E` implements `Display`, such as `String`, `Box<dyn std::error::Error + Send + Sync>` or `anyhow::Error`"
)]
pub trait HandlerReturn {
    /// Converts the returned value into the handler's outcome.
    ///
    /// ```
    /// use events::{HandlerError, HandlerReturn};
    ///
    /// let failed: Result<(), std::num::ParseIntError> = "x".parse::<u8>().map(drop);
    /// let error = failed.into_handler_result().unwrap_err();
    /// assert_eq!(error, HandlerError::Failed("invalid digit found in string".into()));
    /// ```
    fn into_handler_result(self) -> Result<(), HandlerError>;
}

impl HandlerReturn for () {
    fn into_handler_result(self) -> Result<(), HandlerError> {
        Ok(())
    }
}

impl<E: fmt::Display> HandlerReturn for Result<(), E> {
    fn into_handler_result(self) -> Result<(), HandlerError> {
        self.map_err(|error| HandlerError::Failed(format!("{error:#}")))
    }
}

#[doc(hidden)]
pub type BoxFuture<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// The result of a handler's entry point. The error is boxed so that the
/// common `Ok` case fits in a register.
#[doc(hidden)]
pub type Outcome = Result<(), Box<HandlerError>>;

/// The type-erased entry point of a handler.
#[derive(Clone, Copy)]
pub(crate) enum HandlerFn {
    Sync(SyncEntry),
    Async(AsyncEntry),
}

#[doc(hidden)]
pub type SyncEntry = fn(Input<'_>, &Call<'_>) -> Outcome;

#[doc(hidden)]
pub type AsyncEntry = for<'a> fn(Input<'a>, &Call<'a>) -> BoxFuture<'a>;

/// Encodes the event behind an input as CloudEvents JSON, for the
/// dead-letter store. The closure supplies the metadata when the input is a
/// bare payload.
pub(crate) type EncodeFn =
    fn(Input<'_>, &dyn Fn() -> Metadata) -> Result<Vec<u8>, serde_json::Error>;

fn encode_input<E: Event>(
    input: Input<'_>,
    metadata: &dyn Fn() -> Metadata,
) -> Result<Vec<u8>, serde_json::Error> {
    if *input.type_id == TypeId::of::<Envelope<E>>() {
        return serde_json::to_vec(input.envelope::<E>());
    }
    let envelope = crate::cloudevents::BorrowedEnvelope {
        metadata: &metadata(),
        payload: input.payload::<E>(),
    };
    serde_json::to_vec(&envelope)
}

/// The input a bus hands to a handler's entry point: the bare payload `E`, or
/// an `Envelope<E>` when any handler of the event needs the metadata.
///
/// It is a type-erased shared reference together with the [`TypeId`] of what
/// it points to, kept in static memory so that the whole input is two words
/// and travels in registers. A handler checks the type with one comparison
/// instead of a virtual `Any::type_id` call on every emit.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Input<'a> {
    target: *const (),
    type_id: &'static TypeId,
    _borrow: PhantomData<&'a (dyn Any + Send + Sync)>,
}

// SAFETY: an `Input` is a shared reference to a `Send + Sync` value (every
// constructor requires one), so sending or sharing it is as safe as sending
// `&'a (dyn Any + Send + Sync)`.
unsafe impl Send for Input<'_> {}
unsafe impl Sync for Input<'_> {}

/// Returns the [`TypeId`] of `T` in static memory.
pub(crate) fn static_type_id<T: 'static>() -> &'static TypeId {
    &const { TypeId::of::<T>() }
}

impl<'a> Input<'a> {
    pub(crate) fn of_payload<E: Send + Sync + 'static>(payload: &'a E) -> Self {
        Input {
            target: ptr::from_ref(payload).cast(),
            type_id: static_type_id::<E>(),
            _borrow: PhantomData,
        }
    }

    pub(crate) fn of_envelope<E: Send + Sync + 'static>(envelope: &'a Envelope<E>) -> Self {
        Input {
            target: ptr::from_ref(envelope).cast(),
            type_id: static_type_id::<Envelope<E>>(),
            _borrow: PhantomData,
        }
    }

    /// Wraps a value known only as `dyn Any`; `type_id` must be its type's id.
    pub(crate) fn of_erased(target: &'a (dyn Any + Send + Sync), type_id: &'static TypeId) -> Self {
        assert_eq!(
            *type_id,
            target.type_id(),
            "erased input with a wrong type id"
        );
        Input {
            target: ptr::from_ref(target).cast(),
            type_id,
            _borrow: PhantomData,
        }
    }

    pub(crate) fn payload<E: Send + Sync + 'static>(self) -> &'a E {
        if *self.type_id == TypeId::of::<E>() {
            // SAFETY: every constructor stores the `TypeId` of the value that
            // `target` points to, and it is `E`'s, so `target` is a valid `&'a E`.
            return unsafe { &*self.target.cast::<E>() };
        }
        &self.envelope::<E>().payload
    }

    fn envelope<E: Send + Sync + 'static>(self) -> &'a Envelope<E> {
        if *self.type_id != TypeId::of::<Envelope<E>>() {
            wrong_input::<E>();
        }
        // SAFETY: every constructor stores the `TypeId` of the value that
        // `target` points to, and it is `Envelope<E>`'s, so `target` is a
        // valid `&'a Envelope<E>`.
        unsafe { &*self.target.cast::<Envelope<E>>() }
    }
}

#[cold]
fn wrong_input<E>() -> ! {
    unreachable!(
        "bus passed the wrong input to a handler of `{}`",
        core::any::type_name::<E>()
    )
}

/// A handler parameter: `&E`, or `&Envelope<E>` for handlers that read the metadata.
///
/// The compiler distinguishes the two, so type aliases of `Envelope<E>` and
/// events that happen to be named `Envelope` work as parameters.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "an `#[on({E})]` handler cannot take `{Self}`",
    label = "expected `&{E}` or `&Envelope<{E}>`",
    note = "the parameter of a handler borrows the event it handles: `event: &{E}`, or `envelope: &Envelope<{E}>` to read the metadata"
)]
pub trait HandlerParam<'a, E>: Sized {
    const TAKES_ENVELOPE: bool;

    fn extract(input: Input<'a>) -> Self;
}

impl<'a, E: Send + Sync + 'static> HandlerParam<'a, E> for &'a E {
    const TAKES_ENVELOPE: bool = false;

    fn extract(input: Input<'a>) -> Self {
        input.payload::<E>()
    }
}

impl<'a, E: Send + Sync + 'static> HandlerParam<'a, E> for &'a Envelope<E> {
    const TAKES_ENVELOPE: bool = true;

    fn extract(input: Input<'a>) -> Self {
        input.envelope::<E>()
    }
}

/// The link-time registration of one handler.
#[doc(hidden)]
pub struct HandlerRegistration(pub &'static HandlerInfo);

inventory::collect!(HandlerRegistration);

// Not public API. Used by generated code, which starts from `__sync` or
// `__async` and sets the attribute's options with the `const` methods.
#[doc(hidden)]
impl HandlerInfo {
    pub const fn __sync<E: Event>(
        name: &'static str,
        function: &'static str,
        file: &'static str,
        line: u32,
        call: SyncEntry,
    ) -> Self {
        Self::new::<E>(name, function, file, line, HandlerFn::Sync(call))
    }

    pub const fn __async<E: Event>(
        name: &'static str,
        function: &'static str,
        file: &'static str,
        line: u32,
        call: AsyncEntry,
    ) -> Self {
        Self::new::<E>(name, function, file, line, HandlerFn::Async(call))
    }

    const fn new<E: Event>(
        name: &'static str,
        function: &'static str,
        file: &'static str,
        line: u32,
        call: HandlerFn,
    ) -> Self {
        HandlerInfo {
            name,
            function,
            priority: 0,
            takes_envelope: false,
            file,
            line,
            event: E::info,
            event_type_id: TypeId::of::<E>,
            call,
            encode: encode_input::<E>,
            retry: None,
            on_failure: None,
            timeout: None,
            concurrency: None,
            after: &[],
            before: &[],
            requires: &[],
            replays: true,
        }
    }

    pub const fn __replays(mut self, replays: bool) -> Self {
        self.replays = replays;
        self
    }

    pub const fn __priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    pub const fn __takes_envelope(mut self, takes_envelope: bool) -> Self {
        self.takes_envelope = takes_envelope;
        self
    }

    pub const fn __retry(mut self, retry: Retry) -> Self {
        self.retry = Some(retry);
        self
    }

    pub const fn __on_failure(mut self, on_failure: OnFailure) -> Self {
        self.on_failure = Some(on_failure);
        self
    }

    pub const fn __timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    pub const fn __concurrency(mut self, concurrency: Concurrency) -> Self {
        self.concurrency = Some(concurrency);
        self
    }

    pub const fn __after(mut self, after: &'static [&'static str]) -> Self {
        self.after = after;
        self
    }

    pub const fn __before(mut self, before: &'static [&'static str]) -> Self {
        self.before = before;
        self
    }

    pub const fn __requires(
        mut self,
        requires: &'static [fn() -> Option<StateRequirement>],
    ) -> Self {
        self.requires = requires;
        self
    }
}

/// The part of a handler call that comes from the bus besides the event:
/// the bus, the handler and the attempt. Not public API; handlers see it through
/// [`Context`] and [`State`].
#[doc(hidden)]
pub struct Call<'a> {
    pub(crate) bus: &'a Bus,
    pub(crate) handler: &'static HandlerInfo,
    pub(crate) attempt: u32,
    pub(crate) replay: bool,
}

/// A handler parameter after the event: [`State<T>`] or [`Context`].
///
/// The bus resolves these parameters on every call. Types that need
/// something from the bus name it through [`requirement`](FromCall::requirement),
/// which the bus checks when it is built.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "an `#[on]` handler cannot take `{Self}` as an extra parameter",
    label = "not a `State<T>` or a `Context`",
    note = "after the event, a handler takes `State<T>` for state given to `Bus::builder().state(..)` and `Context` to emit follow-up events; wrap other values in the state"
)]
pub trait FromCall<'a>: Sized {
    /// Produces the parameter for one call.
    fn from_call(call: &Call<'a>) -> Self;

    /// The state the bus must hold for [`from_call`](FromCall::from_call) to succeed.
    fn requirement() -> Option<StateRequirement> {
        None
    }
}

/// A state type that a handler takes through [`State`].
///
/// ```
/// # use events::{on, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
/// struct Inventory;
///
/// #[on(OrderPlaced)]
/// fn reserve(_: &OrderPlaced, _stock: events::State<Inventory>) {}
///
/// let handler = events::registry::handlers_of::<OrderPlaced>().next().unwrap();
/// let requirement = handler.requirements().next().unwrap();
/// assert_eq!(requirement.type_id(), std::any::TypeId::of::<Inventory>());
/// assert!(requirement.type_name().ends_with("Inventory"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateRequirement {
    type_id: TypeId,
    type_name: &'static str,
}

impl StateRequirement {
    /// Returns the requirement of a state of type `T`.
    ///
    /// ```
    /// let requirement = events::StateRequirement::of::<String>();
    /// assert_eq!(requirement.type_name(), "alloc::string::String");
    /// ```
    pub fn of<T: 'static>() -> StateRequirement {
        StateRequirement {
            type_id: TypeId::of::<T>(),
            type_name: core::any::type_name::<T>(),
        }
    }

    /// Returns the `TypeId` of the state type.
    ///
    /// ```
    /// let requirement = events::StateRequirement::of::<u32>();
    /// assert_eq!(requirement.type_id(), std::any::TypeId::of::<u32>());
    /// ```
    pub fn type_id(&self) -> TypeId {
        self.type_id
    }

    /// Returns the name of the state type, as [`type_name`](core::any::type_name) gives it.
    ///
    /// ```
    /// assert_eq!(events::StateRequirement::of::<u32>().type_name(), "u32");
    /// ```
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }
}

/// Shared application state, given to the bus when it is built and taken by
/// handlers as a parameter.
///
/// Any `Send + Sync + 'static` type can be state: a database pool, a client,
/// a cache. The bus keeps one value per type and hands each handler call a
/// cheap clone of its [`Arc`], so resolving state never allocates. Building
/// the bus fails if a handler takes a state type the bus was not given.
///
/// ```
/// use events::{on, Bus, Event, State};
/// use serde::{Deserialize, Serialize};
/// use std::sync::Mutex;
///
/// #[derive(Event, Serialize, Deserialize)]
/// struct OrderPlaced { sku: String, quantity: u32 }
///
/// #[derive(Default)]
/// struct Inventory { reserved: Mutex<Vec<(String, u32)>> }
///
/// #[on(OrderPlaced)]
/// fn reserve(order: &OrderPlaced, inventory: State<Inventory>) {
///     inventory.reserved.lock().unwrap().push((order.sku.clone(), order.quantity));
/// }
///
/// let bus = Bus::builder().state(Inventory::default()).build().unwrap();
/// bus.emit(OrderPlaced { sku: "mug".into(), quantity: 2 });
/// let inventory = bus.state::<Inventory>().unwrap();
/// assert_eq!(*inventory.reserved.lock().unwrap(), [("mug".to_owned(), 2)]);
/// ```
pub struct State<T: ?Sized>(Arc<T>);

impl<T: ?Sized> State<T> {
    /// Returns the shared pointer, to keep the state beyond the handler call,
    /// for example in a spawned task.
    ///
    /// ```
    /// # use events::{on, Bus, Event, State}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// struct Mailer;
    ///
    /// #[on(OrderPlaced)]
    /// fn later(_: &OrderPlaced, mailer: State<Mailer>) {
    ///     let mailer: std::sync::Arc<Mailer> = mailer.into_arc();
    ///     std::thread::spawn(move || drop(mailer));
    /// }
    /// # Bus::builder().state(Mailer).build().unwrap().emit(OrderPlaced);
    /// ```
    pub fn into_arc(self) -> Arc<T> {
        self.0
    }
}

impl<T: ?Sized> core::ops::Deref for State<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: ?Sized> Clone for State<T> {
    fn clone(&self) -> Self {
        State(Arc::clone(&self.0))
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for State<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("State").field(&&*self.0).finish()
    }
}

impl<'a, T: Send + Sync + 'static> FromCall<'a> for State<T> {
    fn from_call(call: &Call<'a>) -> Self {
        match call.bus.state_arc::<T>() {
            Some(state) => State(state),
            None => missing_state::<T>(call.handler),
        }
    }

    fn requirement() -> Option<StateRequirement> {
        Some(StateRequirement::of::<T>())
    }
}

#[cold]
fn missing_state<T>(handler: &HandlerInfo) -> ! {
    // Building a bus checks every handler's state, so only a bus whose
    // handlers were replaced after that check can get here.
    panic!(
        "handler `{}` takes `State<{}>`, which the bus does not hold; give it with `Bus::builder().state(..)`",
        handler.name(),
        core::any::type_name::<T>()
    )
}

/// The bus as a running handler sees it, to emit follow-up events, read the
/// event's ids and the attempt number, and reach the state.
///
/// Follow-ups emitted through the context inherit the correlation id of the
/// event being handled and get its id as causation id.
///
/// ```
/// use events::{on, Bus, Context, Envelope, Event};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize)]
/// struct OrderPlaced { order_id: u64 }
///
/// #[derive(Event, Serialize, Deserialize)]
/// struct PaymentRequested { order_id: u64 }
///
/// #[on(OrderPlaced)]
/// fn request_payment(order: &OrderPlaced, cx: Context) {
///     cx.emit(PaymentRequested { order_id: order.order_id });
/// }
///
/// #[on(PaymentRequested)]
/// fn check_link(request: &Envelope<PaymentRequested>) {
///     assert!(request.causation_id().is_some());
/// }
///
/// let report = Bus::new().emit(OrderPlaced { order_id: 7 });
/// assert!(report.is_ok());
/// assert_eq!(report.follow_ups().len(), 0); // follow-ups are listed only when they fail
/// ```
///
/// A handler may write the parameter as `Context` or `Context<'_>`, also when
/// it is `async`. An `async fn` rejects a lifetime left out of a path (error
/// E0726), so `#[on]` writes a bare `Context` of an `async` handler as
/// `Context<'_>`.
///
/// ```
/// # use events::{on, Bus, Context, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// # #[derive(Event, Serialize, Deserialize)] struct PaymentRequested { order_id: u64 }
/// #[on(OrderPlaced)]
/// async fn request_payment(order: &OrderPlaced, cx: Context) {
///     cx.emit_async(PaymentRequested { order_id: order.order_id }).await;
/// }
///
/// #[on(OrderPlaced)]
/// async fn audit(_: &OrderPlaced, cx: Context<'_>) {
///     assert_eq!(cx.attempt(), 1);
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let report = Bus::new().emit_async(OrderPlaced { order_id: 7 }).await;
/// assert_eq!(report.handlers_run(), 2);
/// # });
/// ```
pub struct Context<'a> {
    bus: &'a Bus,
    handler: &'static HandlerInfo,
    attempt: u32,
    replay: bool,
}

impl<'a> Context<'a> {
    /// Returns the bus running the handler.
    ///
    /// ```
    /// # use events::{on, Bus, Context, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// #[on(OrderPlaced)]
    /// fn check(_: &OrderPlaced, cx: Context) {
    ///     assert_eq!(cx.bus().source(), "urn:shop");
    /// }
    /// # Bus::builder().source("urn:shop").build().unwrap().emit(OrderPlaced);
    /// ```
    pub fn bus(&self) -> &'a Bus {
        self.bus
    }

    /// Returns the description of the running handler.
    ///
    /// ```
    /// # use events::{on, Bus, Context, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// #[on(OrderPlaced, name = "audit")]
    /// fn audit(_: &OrderPlaced, cx: Context) {
    ///     assert_eq!(cx.handler().name(), "audit");
    /// }
    /// # Bus::new().emit(OrderPlaced);
    /// ```
    pub fn handler(&self) -> &'static HandlerInfo {
        self.handler
    }

    /// Returns which attempt this call is, counted from 1.
    ///
    /// ```
    /// # use events::{on, Bus, Context, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// #[on(OrderPlaced, attempts = 3)]
    /// fn flaky(_: &OrderPlaced, cx: Context) -> Result<(), String> {
    ///     if cx.attempt() < 3 { Err("not yet".into()) } else { Ok(()) }
    /// }
    /// assert!(Bus::new().emit(OrderPlaced).is_ok());
    /// ```
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Returns whether the event is a stored one being replayed through
    /// [`Bus::replay`](crate::Bus::replay), rather than one happening now.
    /// Follow-ups emitted during a replay are new events.
    ///
    /// ```
    /// # use events::{on, Bus, Context, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// #[on(OrderPlaced)]
    /// fn project(_: &OrderPlaced, cx: Context) {
    ///     assert!(!cx.is_replay());
    /// }
    /// # Bus::new().emit(OrderPlaced);
    /// ```
    pub fn is_replay(&self) -> bool {
        self.replay
    }

    /// Returns the id of the event being handled. For an event emitted
    /// without an envelope, the id is created on first use.
    ///
    /// ```
    /// # use events::{on, Bus, Context, Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// #[on(OrderPlaced)]
    /// fn check(order: &Envelope<OrderPlaced>, cx: Context) {
    ///     assert_eq!(&cx.event_id(), order.id());
    /// }
    /// # Bus::new().emit(OrderPlaced);
    /// ```
    pub fn event_id(&self) -> EventId {
        crate::frame::current_ids().map_or_else(EventId::new, |(id, _)| id)
    }

    /// Returns the correlation id of the chain the event belongs to: the id of
    /// the event that started it.
    ///
    /// ```
    /// # use events::{on, Bus, Context, Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// #[on(OrderPlaced)]
    /// fn check(order: &Envelope<OrderPlaced>, cx: Context) {
    ///     assert_eq!(&cx.correlation_id(), order.metadata().correlation_or_id());
    /// }
    /// # Bus::new().emit(OrderPlaced);
    /// ```
    pub fn correlation_id(&self) -> EventId {
        crate::frame::current_ids().map_or_else(EventId::new, |(_, correlation)| correlation)
    }

    /// Returns the state of type `T` the bus holds.
    ///
    /// ```
    /// # use events::{on, Bus, Context, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// #[on(OrderPlaced)]
    /// fn check(_: &OrderPlaced, cx: Context) {
    ///     assert_eq!(cx.state::<&str>(), Some(&"eu-west"));
    /// }
    /// # Bus::builder().state("eu-west").build().unwrap().emit(OrderPlaced);
    /// ```
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<&'a T> {
        self.bus.state::<T>()
    }

    /// Emits a follow-up event and runs its synchronous handlers before returning.
    ///
    /// ```
    /// # use events::{on, Bus, Context, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderConfirmed;
    /// #[on(OrderPlaced)]
    /// fn confirm(_: &OrderPlaced, cx: Context) {
    ///     assert!(cx.emit(OrderConfirmed).is_ok());
    /// }
    /// # Bus::new().emit(OrderPlaced);
    /// ```
    pub fn emit<E: Event>(&self, event: E) -> crate::Report {
        self.bus.emit(event)
    }

    /// Emits a follow-up event built as an envelope, for a subject or extensions.
    ///
    /// ```
    /// # use events::{on, Bus, Context, Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderConfirmed;
    /// #[on(OrderPlaced)]
    /// fn confirm(_: &OrderPlaced, cx: Context) {
    ///     cx.emit_envelope(Envelope::new(OrderConfirmed).with_subject("order-7"));
    /// }
    /// # Bus::new().emit(OrderPlaced);
    /// ```
    pub fn emit_envelope<E: Event>(&self, envelope: Envelope<E>) -> crate::Report {
        self.bus.emit_envelope(envelope)
    }

    /// Emits a follow-up event and runs all its handlers, `async` ones
    /// included. The link to the event being handled is taken when this
    /// method is called.
    ///
    /// ```
    /// # use events::{on, Bus, Context, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderConfirmed;
    /// #[on(OrderPlaced)]
    /// async fn confirm(_: &OrderPlaced, cx: Context<'_>) {
    ///     assert!(cx.emit_async(OrderConfirmed).await.is_ok());
    /// }
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap()
    /// #     .block_on(Bus::new().emit_async(OrderPlaced));
    /// ```
    pub fn emit_async<E: Event>(
        &self,
        event: E,
    ) -> impl core::future::Future<Output = crate::Report> + Send + 'a {
        self.bus.emit_async(event)
    }
}

impl fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("handler", &self.handler.name())
            .field("attempt", &self.attempt)
            .field("replay", &self.replay)
            .finish_non_exhaustive()
    }
}

impl<'a> FromCall<'a> for Context<'a> {
    fn from_call(call: &Call<'a>) -> Self {
        Context {
            bus: call.bus,
            handler: call.handler,
            attempt: call.attempt,
            replay: call.replay,
        }
    }
}

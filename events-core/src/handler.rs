//! Handler descriptions registered by `#[on(Event)]`, and what handlers may return.

use core::any::{Any, TypeId};
use core::cmp::Ordering;
use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::ptr;

use crate::envelope::Envelope;
use crate::event::{Event, EventInfo};

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
}

impl fmt::Debug for HandlerInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerInfo")
            .field("name", &self.name)
            .field("event", &self.event().name())
            .field("priority", &self.priority)
            .field("takes_envelope", &self.takes_envelope)
            .field("async", &self.is_async())
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
    Sync(fn(Input<'_>) -> Outcome),
    Async(for<'a> fn(Input<'a>) -> BoxFuture<'a>),
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

    fn payload<E: Send + Sync + 'static>(self) -> &'a E {
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

// Not public API. Used by generated code.
#[doc(hidden)]
impl HandlerInfo {
    #[allow(clippy::too_many_arguments)]
    pub const fn __sync<E: Event>(
        name: &'static str,
        function: &'static str,
        priority: i32,
        takes_envelope: bool,
        file: &'static str,
        line: u32,
        call: fn(Input<'_>) -> Outcome,
    ) -> Self {
        Self::new::<E>(
            name,
            function,
            priority,
            takes_envelope,
            file,
            line,
            HandlerFn::Sync(call),
        )
    }

    #[allow(clippy::too_many_arguments)]
    pub const fn __async<E: Event>(
        name: &'static str,
        function: &'static str,
        priority: i32,
        takes_envelope: bool,
        file: &'static str,
        line: u32,
        call: for<'a> fn(Input<'a>) -> BoxFuture<'a>,
    ) -> Self {
        Self::new::<E>(
            name,
            function,
            priority,
            takes_envelope,
            file,
            line,
            HandlerFn::Async(call),
        )
    }

    #[allow(clippy::too_many_arguments)]
    const fn new<E: Event>(
        name: &'static str,
        function: &'static str,
        priority: i32,
        takes_envelope: bool,
        file: &'static str,
        line: u32,
        call: HandlerFn,
    ) -> Self {
        HandlerInfo {
            name,
            function,
            priority,
            takes_envelope,
            file,
            line,
            event: E::info,
            event_type_id: TypeId::of::<E>,
            call,
        }
    }
}

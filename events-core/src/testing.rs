//! Helpers for tests of code that emits and handles events.
//!
//! - [`Recorder`] is an [`Observer`] that records every event a bus
//!   handles, in order: events emitted by the test, follow-ups emitted by
//!   handlers, and events that have no handler.
//! - [`assert_emitted!`](crate::assert_emitted) and
//!   [`assert_not_emitted!`](crate::assert_not_emitted) check the recorded
//!   events against a pattern whose struct path names the event type.
//! - [`assert_routes`] checks which handlers a bus runs for an event, and in
//!   which order.
//!
//! # Fakes
//!
//! A test keeps handlers away from mail servers and payment providers with
//! two settings of [`BusBuilder`](crate::BusBuilder):
//! [`disable`](crate::BusBuilder::disable) leaves a handler out, and
//! [`replace`](crate::BusBuilder::replace) runs a synchronous fake at the
//! handler's place in the order. Both take the handler's name and fail
//! [`build`](crate::BusBuilder::build) when no handler has it.
//!
//! ```
//! use events::testing::{assert_routes, Recorder};
//! use events::{assert_emitted, assert_not_emitted, on, Bus, Context, Event};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Serialize, Deserialize)]
//! struct OrderPlaced { order_id: u64, total_cents: u64 }
//!
//! #[derive(Event, Serialize, Deserialize)]
//! struct PaymentRequested { order_id: u64, cents: u64 }
//!
//! #[derive(Event, Serialize, Deserialize)]
//! struct ConfirmationMailed { order_id: u64 }
//!
//! #[on(OrderPlaced, name = "payment.request", priority = 10)]
//! fn request_payment(order: &OrderPlaced, cx: Context) {
//!     cx.emit(PaymentRequested { order_id: order.order_id, cents: order.total_cents });
//! }
//!
//! #[on(OrderPlaced, name = "mail.confirmation")]
//! fn send_confirmation(order: &OrderPlaced, cx: Context) {
//!     // Talks to the mail server in production.
//!     cx.emit(ConfirmationMailed { order_id: order.order_id });
//! }
//!
//! #[on(PaymentRequested, name = "psp.charge")]
//! async fn charge(_: &PaymentRequested) -> Result<(), String> {
//!     unreachable!("no network in tests")
//! }
//!
//! let recorder = Recorder::new();
//! let bus = Bus::builder()
//!     .observer(recorder.clone())
//!     .disable("mail.confirmation")
//!     .replace("psp.charge", |request: &PaymentRequested| -> Result<(), String> {
//!         if request.cents > 100_000 { Err("declined".into()) } else { Ok(()) }
//!     })
//!     .build()
//!     .unwrap();
//!
//! assert_routes::<OrderPlaced>(&bus, &["payment.request"]);
//! assert!(bus.emit(OrderPlaced { order_id: 7, total_cents: 1_250 }).is_ok());
//!
//! assert_eq!(recorder.names(), ["OrderPlaced", "PaymentRequested"]);
//! assert_emitted!(recorder, PaymentRequested { order_id: 7, cents } if *cents == 1_250);
//! assert_not_emitted!(recorder, ConfirmationMailed { .. });
//! ```

use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::bus::Bus;
use crate::envelope::{Envelope, Metadata};
use crate::event::Event;
use crate::observe::{Observed, Observer};

#[doc(no_inline)]
pub use crate::{assert_emitted, assert_not_emitted};

/// The maximum number of events listed in a failure message.
const MAX_LISTED: usize = 10;

/// The maximum length of one event's JSON in a failure message, in bytes.
const MAX_JSON_LEN: usize = 200;

/// Records every event a bus handles, for tests to inspect.
///
/// Give a clone to [`BusBuilder::observer`](crate::BusBuilder::observer) and
/// keep the original: clones share one list. The bus shows each event to
/// the recorder before its handlers run, so a follow-up emitted by a
/// handler comes after the event that caused it. Events that have no
/// handler are recorded too.
///
/// The recorder stores each event's [`Metadata`] and its CloudEvents JSON,
/// and decodes the JSON again when a test requests typed payloads. A
/// payload type whose serde implementation does not read back what it
/// writes cannot be inspected through [`events`](Recorder::events).
///
/// ```
/// use events::{on, Bus, Context, Event};
/// use events::testing::Recorder;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
/// struct OrderPlaced { order_id: u64 }
///
/// #[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
/// struct StockReserved { order_id: u64 }
///
/// #[on(OrderPlaced)]
/// fn reserve(order: &OrderPlaced, cx: Context) {
///     cx.emit(StockReserved { order_id: order.order_id });
/// }
///
/// let recorder = Recorder::new();
/// let bus = Bus::builder().observer(recorder.clone()).build().unwrap();
/// bus.emit(OrderPlaced { order_id: 7 });
///
/// assert_eq!(recorder.names(), ["OrderPlaced", "StockReserved"]);
/// assert_eq!(recorder.events::<StockReserved>(), [StockReserved { order_id: 7 }]);
/// ```
#[derive(Clone, Default)]
pub struct Recorder {
    records: Arc<Mutex<Vec<Record>>>,
}

/// One recorded event.
#[derive(Clone)]
struct Record {
    metadata: Metadata,
    /// The CloudEvents JSON, or the payload's serialisation error.
    json: Result<Arc<[u8]>, String>,
}

impl Record {
    fn is<E: Event>(&self) -> bool {
        self.metadata.name() == E::NAME && self.metadata.version() == E::VERSION
    }
}

impl Recorder {
    /// Creates an empty recorder.
    ///
    /// ```
    /// let recorder = events::testing::Recorder::new();
    /// assert!(recorder.is_empty());
    /// ```
    pub fn new() -> Recorder {
        Recorder::default()
    }

    /// Returns the number of recorded events.
    ///
    /// ```
    /// # use events::{Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let recorder = events::testing::Recorder::new();
    /// let bus = Bus::builder().observer(recorder.clone()).build().unwrap();
    /// bus.emit(OrderPlaced { order_id: 1 });
    /// bus.emit(OrderPlaced { order_id: 2 });
    /// assert_eq!(recorder.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Returns whether no event was recorded.
    ///
    /// ```
    /// # use events::{Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let recorder = events::testing::Recorder::new();
    /// let bus = Bus::builder().observer(recorder.clone()).build().unwrap();
    /// assert!(recorder.is_empty());
    /// bus.emit(OrderPlaced { order_id: 1 });
    /// assert!(!recorder.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Removes every recorded event, for example the events of a test's
    /// setup.
    ///
    /// ```
    /// # use events::{Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let recorder = events::testing::Recorder::new();
    /// let bus = Bus::builder().observer(recorder.clone()).build().unwrap();
    /// bus.emit(OrderPlaced { order_id: 1 });
    /// recorder.clear();
    /// bus.emit(OrderPlaced { order_id: 2 });
    /// assert_eq!(recorder.len(), 1);
    /// ```
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Returns the names of the recorded events, in the order the bus handled
    /// them.
    ///
    /// ```
    /// # use events::{Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// #[derive(Event, Serialize, Deserialize)]
    /// #[event(name = "shop.order.cancelled")]
    /// struct OrderCancelled { order_id: u64 }
    ///
    /// let recorder = events::testing::Recorder::new();
    /// let bus = Bus::builder().observer(recorder.clone()).build().unwrap();
    /// bus.emit(OrderPlaced { order_id: 1 });
    /// bus.emit(OrderCancelled { order_id: 1 });
    /// assert_eq!(recorder.names(), ["OrderPlaced", "shop.order.cancelled"]);
    /// ```
    pub fn names(&self) -> Vec<&'static str> {
        self.lock()
            .iter()
            .map(|record| record.metadata.name())
            .collect()
    }

    /// Returns the number of recorded events of type `E`.
    ///
    /// ```
    /// # use events::{Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderShipped { order_id: u64 }
    /// let recorder = events::testing::Recorder::new();
    /// let bus = Bus::builder().observer(recorder.clone()).build().unwrap();
    /// bus.emit(OrderPlaced { order_id: 1 });
    /// bus.emit(OrderPlaced { order_id: 2 });
    /// assert_eq!(recorder.count::<OrderPlaced>(), 2);
    /// assert_eq!(recorder.count::<OrderShipped>(), 0);
    /// ```
    pub fn count<E: Event>(&self) -> usize {
        self.lock().iter().filter(|record| record.is::<E>()).count()
    }

    /// Returns the recorded payloads of type `E`, in order, decoded from
    /// their CloudEvents JSON.
    ///
    /// # Panics
    ///
    /// Panics if an event of type `E` could not be encoded when it was
    /// recorded, or its JSON does not decode back into `E`.
    ///
    /// ```
    /// # use events::{Bus, Event}; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
    /// struct OrderPlaced { order_id: u64 }
    ///
    /// let recorder = events::testing::Recorder::new();
    /// let bus = Bus::builder().observer(recorder.clone()).build().unwrap();
    /// bus.emit(OrderPlaced { order_id: 1 });
    /// bus.emit(OrderPlaced { order_id: 2 });
    /// assert_eq!(
    ///     recorder.events::<OrderPlaced>(),
    ///     [OrderPlaced { order_id: 1 }, OrderPlaced { order_id: 2 }]
    /// );
    /// ```
    #[track_caller]
    pub fn events<E: Event>(&self) -> Vec<E> {
        self.envelopes::<E>()
            .into_iter()
            .map(Envelope::into_payload)
            .collect()
    }

    /// Returns the recorded envelopes of type `E`, in order, decoded from
    /// their CloudEvents JSON: the payload with its id, source, subject,
    /// correlation and causation ids.
    ///
    /// # Panics
    ///
    /// Panics if an event of type `E` could not be encoded when it was
    /// recorded, or its JSON does not decode back into `E`.
    ///
    /// ```
    /// # use events::{Bus, Envelope, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let recorder = events::testing::Recorder::new();
    /// let bus = Bus::builder().observer(recorder.clone()).build().unwrap();
    /// bus.emit_envelope(Envelope::new(OrderPlaced { order_id: 7 }).with_subject("order-7"));
    ///
    /// let envelopes = recorder.envelopes::<OrderPlaced>();
    /// assert_eq!(envelopes[0].subject(), Some("order-7"));
    /// assert_eq!(envelopes[0].order_id, 7);
    /// ```
    #[track_caller]
    pub fn envelopes<E: Event>(&self) -> Vec<Envelope<E>> {
        let records: Vec<Record> = self
            .lock()
            .iter()
            .filter(|record| record.is::<E>())
            .cloned()
            .collect();
        let mut envelopes = Vec::with_capacity(records.len());
        for record in &records {
            envelopes.push(decode::<E>(record));
        }
        envelopes
    }

    /// Returns the metadata of every recorded event, in order.
    ///
    /// ```
    /// # use events::{on, Bus, Context, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// # #[derive(Event, Serialize, Deserialize)] struct StockReserved { order_id: u64 }
    /// #[on(OrderPlaced)]
    /// fn reserve(order: &OrderPlaced, cx: Context) {
    ///     cx.emit(StockReserved { order_id: order.order_id });
    /// }
    ///
    /// let recorder = events::testing::Recorder::new();
    /// let bus = Bus::builder().observer(recorder.clone()).build().unwrap();
    /// bus.emit(OrderPlaced { order_id: 7 });
    ///
    /// let [placed, reserved] = &recorder.metadata()[..] else { panic!("expected two events") };
    /// assert_eq!(reserved.causation_id(), Some(placed.id()));
    /// ```
    pub fn metadata(&self) -> Vec<Metadata> {
        self.lock()
            .iter()
            .map(|record| record.metadata.clone())
            .collect()
    }

    /// Locks the records. A test that panicked while holding the lock left
    /// them complete, because every change is a single push or clear.
    fn lock(&self) -> MutexGuard<'_, Vec<Record>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Returns each recorded name with its number of events, in order of
    /// first appearance.
    fn name_counts(&self) -> Vec<(&'static str, usize)> {
        let mut counts: Vec<(&'static str, usize)> = Vec::new();
        for name in self.names() {
            match counts.iter_mut().find(|(seen, _)| *seen == name) {
                Some((_, count)) => *count += 1,
                None => counts.push((name, 1)),
            }
        }
        counts
    }
}

impl Observer for Recorder {
    fn observe(&self, event: &Observed<'_>) {
        let record = Record {
            metadata: event.metadata().clone(),
            json: event
                .to_json()
                .map(Arc::from)
                .map_err(|error| error.to_string()),
        };
        self.lock().push(record);
    }
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("events", &self.names())
            .finish()
    }
}

/// Decodes one record of type `E`, panicking with the event's id and the
/// reason when that fails.
#[track_caller]
fn decode<E: Event>(record: &Record) -> Envelope<E> {
    let name = record.metadata.name();
    let id = record.metadata.id();
    let json = match &record.json {
        Ok(json) => json,
        Err(error) => panic!("recorded `{name}` event {id} could not be encoded as JSON: {error}"),
    };
    match serde_json::from_slice(json) {
        Ok(envelope) => envelope,
        Err(error) => panic!(
            "recorded `{name}` event {id} does not decode back into `{}`: {error}. Its JSON: {}",
            std::any::type_name::<E>(),
            truncate(String::from_utf8_lossy(json).into_owned()),
        ),
    }
}

/// Asserts that `bus` runs exactly the handlers named in `expected` for
/// events of type `E`, in this order.
///
/// # Panics
///
/// Panics with both lists of names when they differ.
///
/// ```
/// use events::testing::assert_routes;
/// use events::{on, Bus, Event};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize)]
/// struct OrderPlaced { order_id: u64 }
///
/// #[on(OrderPlaced, name = "stock.reserve", priority = 10)]
/// fn reserve(_: &OrderPlaced) {}
///
/// #[on(OrderPlaced, name = "mail.confirmation")]
/// fn confirm(_: &OrderPlaced) {}
///
/// assert_routes::<OrderPlaced>(&Bus::new(), &["stock.reserve", "mail.confirmation"]);
///
/// let without_mail = Bus::builder().disable("mail.confirmation").build().unwrap();
/// assert_routes::<OrderPlaced>(&without_mail, &["stock.reserve"]);
/// ```
#[track_caller]
pub fn assert_routes<E: Event>(bus: &Bus, expected: &[&str]) {
    let actual: Vec<&str> = bus
        .handlers_of::<E>()
        .iter()
        .map(|handler| handler.name())
        .collect();
    if actual != expected {
        panic!(
            "the bus routes `{}` to handlers {actual:?}, expected {expected:?}",
            E::NAME
        );
    }
}

/// Asserts that the recorder contains an event matching a pattern, optionally
/// with a guard and an exact number of matches.
///
/// The pattern is a struct, tuple struct or unit struct pattern whose path
/// names the event type: `OrderPlaced { order_id: 7, .. }`,
/// `OrderPlaced(7, _)`, `OrderPlaced` or `shop::OrderPlaced { .. }`. The
/// macro decodes the recorded events of that type and matches each one by
/// reference, so bindings in the guard are references: `if *cents > 100`.
/// With `times = N` after the pattern, exactly `N` events must match.
///
/// # Panics
///
/// Panics with the pattern and the recorded events of its type, as JSON,
/// when no event matches or the number of matches differs from `times`.
/// When no event of the type was recorded, the message lists the names of
/// the events that were. Also panics where
/// [`Recorder::events`](crate::testing::Recorder::events) does.
///
/// ```
/// use events::testing::Recorder;
/// use events::{assert_emitted, Bus, Event};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize)]
/// struct OrderPlaced { order_id: u64, total_cents: u64 }
///
/// #[derive(Event, Serialize, Deserialize)]
/// struct RefundIssued(u64);
///
/// #[derive(Event, Serialize, Deserialize)]
/// struct CartEmptied;
///
/// let recorder = Recorder::new();
/// let bus = Bus::builder().observer(recorder.clone()).build().unwrap();
/// bus.emit(OrderPlaced { order_id: 7, total_cents: 1_250 });
/// bus.emit(OrderPlaced { order_id: 8, total_cents: 90 });
/// bus.emit(RefundIssued(7));
/// bus.emit(CartEmptied);
///
/// assert_emitted!(recorder, OrderPlaced { order_id: 7, .. });
/// assert_emitted!(recorder, OrderPlaced { total_cents, .. } if *total_cents < 100);
/// assert_emitted!(recorder, OrderPlaced { .. }, times = 2);
/// assert_emitted!(recorder, RefundIssued(7));
/// assert_emitted!(recorder, CartEmptied);
///
/// let failure = std::panic::catch_unwind(|| {
///     assert_emitted!(recorder, OrderPlaced { order_id: 9, .. });
/// });
/// let message = *failure.unwrap_err().downcast::<String>().unwrap();
/// assert!(message.contains(r#"{"order_id":8,"total_cents":90}"#), "{message}");
/// ```
#[macro_export]
macro_rules! assert_emitted {
    ($recorder:expr, $($segment:ident)::+ { $($fields:tt)* } $(if $guard:expr)? $(, times = $times:expr)? $(,)?) => {
        $crate::__match_recorded!(
            $recorder,
            ($($segment)::+),
            ($($segment)::+ { $($fields)* }),
            ($(if $guard)?)
        )
        .assert_emitted(
            ::core::stringify!($($segment)::+ { $($fields)* } $(if $guard)?),
            ::core::option::Option::None $(.or(::core::option::Option::Some($times)))?,
        )
    };
    ($recorder:expr, $($segment:ident)::+ ( $($fields:tt)* ) $(if $guard:expr)? $(, times = $times:expr)? $(,)?) => {
        $crate::__match_recorded!(
            $recorder,
            ($($segment)::+),
            ($($segment)::+ ( $($fields)* )),
            ($(if $guard)?)
        )
        .assert_emitted(
            ::core::stringify!($($segment)::+ ( $($fields)* ) $(if $guard)?),
            ::core::option::Option::None $(.or(::core::option::Option::Some($times)))?,
        )
    };
    ($recorder:expr, $($segment:ident)::+ $(if $guard:expr)? $(, times = $times:expr)? $(,)?) => {
        $crate::__match_recorded!(
            $recorder,
            ($($segment)::+),
            ($($segment)::+),
            ($(if $guard)?)
        )
        .assert_emitted(
            ::core::stringify!($($segment)::+ $(if $guard)?),
            ::core::option::Option::None $(.or(::core::option::Option::Some($times)))?,
        )
    };
}

/// Asserts that the recorder contains no event matching a pattern.
///
/// The pattern takes the forms of [`assert_emitted!`](crate::assert_emitted),
/// without `times`.
///
/// # Panics
///
/// Panics with the pattern and the matching events, as JSON. Also panics
/// where [`Recorder::events`](crate::testing::Recorder::events) does.
///
/// ```
/// use events::testing::Recorder;
/// use events::{assert_not_emitted, Bus, Event};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize)]
/// struct OrderPlaced { order_id: u64, total_cents: u64 }
///
/// #[derive(Event, Serialize, Deserialize)]
/// struct OrderShipped { order_id: u64 }
///
/// let recorder = Recorder::new();
/// let bus = Bus::builder().observer(recorder.clone()).build().unwrap();
/// bus.emit(OrderPlaced { order_id: 7, total_cents: 1_250 });
///
/// assert_not_emitted!(recorder, OrderShipped { .. });
/// assert_not_emitted!(recorder, OrderPlaced { total_cents: 0, .. });
/// assert_not_emitted!(recorder, OrderPlaced { order_id, .. } if *order_id > 7);
/// ```
#[macro_export]
macro_rules! assert_not_emitted {
    ($recorder:expr, $($segment:ident)::+ { $($fields:tt)* } $(if $guard:expr)? $(,)?) => {
        $crate::__match_recorded!(
            $recorder,
            ($($segment)::+),
            ($($segment)::+ { $($fields)* }),
            ($(if $guard)?)
        )
        .assert_not_emitted(::core::stringify!($($segment)::+ { $($fields)* } $(if $guard)?))
    };
    ($recorder:expr, $($segment:ident)::+ ( $($fields:tt)* ) $(if $guard:expr)? $(,)?) => {
        $crate::__match_recorded!(
            $recorder,
            ($($segment)::+),
            ($($segment)::+ ( $($fields)* )),
            ($(if $guard)?)
        )
        .assert_not_emitted(::core::stringify!($($segment)::+ ( $($fields)* ) $(if $guard)?))
    };
    ($recorder:expr, $($segment:ident)::+ $(if $guard:expr)? $(,)?) => {
        $crate::__match_recorded!($recorder, ($($segment)::+), ($($segment)::+), ($(if $guard)?))
            .assert_not_emitted(::core::stringify!($($segment)::+ $(if $guard)?))
    };
}

// Not public API. Used by the assertion macros.
#[doc(hidden)]
#[macro_export]
macro_rules! __match_recorded {
    ($recorder:expr, ($($event:tt)*), ($($pattern:tt)*), ($($guard:tt)*)) => {
        $crate::testing::__private::Matches::<$($event)*>::collect(
            &$recorder,
            |__event: &$($event)*| {
                // The pattern may be irrefutable, such as `OrderPlaced { .. }`.
                #[allow(unreachable_patterns)]
                let __is_match = match __event {
                    $($pattern)* $($guard)* => true,
                    _ => false,
                };
                __is_match
            },
        )
    };
}

// Not public API. Used by the assertion macros.
#[doc(hidden)]
pub mod __private {
    use super::{describe_recorded_names, list_events, Recorder};
    use crate::event::Event;

    /// The recorded events of one type, each marked as matching a pattern or not.
    pub struct Matches<'a, E> {
        recorder: &'a Recorder,
        events: Vec<E>,
        matched: Vec<bool>,
    }

    impl<'a, E: Event> Matches<'a, E> {
        #[track_caller]
        pub fn collect(recorder: &'a Recorder, is_match: impl Fn(&E) -> bool) -> Self {
            let events = recorder.events::<E>();
            let matched = events.iter().map(is_match).collect();
            Matches {
                recorder,
                events,
                matched,
            }
        }

        #[track_caller]
        pub fn assert_emitted(&self, pattern: &str, times: Option<usize>) {
            let found = self.matched.iter().filter(|matched| **matched).count();
            let mut message = match times {
                Some(times) if found != times => format!(
                    "expected {times} recorded `{}` {} to match `{pattern}`, found {found}",
                    E::NAME,
                    if times == 1 { "event" } else { "events" }
                ),
                None if found == 0 => {
                    format!("no recorded `{}` event matches `{pattern}`", E::NAME)
                }
                _ => return,
            };

            if self.events.is_empty() {
                message.push_str(&describe_recorded_names::<E>(self.recorder));
            } else if times.is_some() {
                message.push_str(&format!(
                    "\nrecorded `{}` events ({}), matching ones marked with `*`:",
                    E::NAME,
                    self.events.len()
                ));
                let marked = self
                    .events
                    .iter()
                    .zip(&self.matched)
                    .map(|(event, &matched)| (event, if matched { "* " } else { "  " }));
                message.push_str(&list_events(marked));
            } else {
                message.push_str(&format!(
                    "\nrecorded `{}` events ({}):",
                    E::NAME,
                    self.events.len()
                ));
                message.push_str(&list_events(self.events.iter().map(|event| (event, ""))));
            }
            panic!("{message}");
        }

        #[track_caller]
        pub fn assert_not_emitted(&self, pattern: &str) {
            let matching: Vec<(&E, &str)> = self
                .events
                .iter()
                .zip(&self.matched)
                .filter(|(_, &matched)| matched)
                .map(|(event, _)| (event, ""))
                .collect();
            if matching.is_empty() {
                return;
            }
            let mut message = format!(
                "expected no recorded `{}` event to match `{pattern}`, found {}:",
                E::NAME,
                matching.len()
            );
            message.push_str(&list_events(matching.into_iter()));
            panic!("{message}");
        }
    }
}

/// Describes what the recorder contains when it has no event of type `E`.
fn describe_recorded_names<E: Event>(recorder: &Recorder) -> String {
    let counts = recorder.name_counts();
    if counts.is_empty() {
        return "\nthe recorder contains no events. \
                Is it given to the bus with `Bus::builder().observer(recorder.clone())`?"
            .to_owned();
    }
    let total: usize = counts.iter().map(|(_, count)| count).sum();
    let mut text = format!("\nrecorded events ({total}), none of them `{}`:", E::NAME);
    for (name, count) in counts {
        let _ = write!(text, "\n  {name} ({count})");
    }
    text
}

/// Lists events as JSON payloads, one a line after its prefix, up to
/// [`MAX_LISTED`] of them.
fn list_events<'e, E: Event>(events: impl Iterator<Item = (&'e E, &'e str)>) -> String {
    let mut text = String::new();
    let mut left_off = 0;
    for (index, (event, prefix)) in events.enumerate() {
        if index >= MAX_LISTED {
            left_off += 1;
            continue;
        }
        let json = serde_json::to_string(event)
            .unwrap_or_else(|error| format!("<cannot encode the payload: {error}>"));
        let _ = write!(text, "\n  {prefix}{}", truncate(json));
    }
    if left_off > 0 {
        let _ = write!(text, "\n  ... and {left_off} more");
    }
    text
}

/// Shortens `json` to at most [`MAX_JSON_LEN`] bytes, at a character
/// boundary, and appends its full length.
fn truncate(mut json: String) -> String {
    if json.len() <= MAX_JSON_LEN {
        return json;
    }
    let mut end = MAX_JSON_LEN;
    while !json.is_char_boundary(end) {
        end -= 1;
    }
    let total = json.len();
    json.truncate(end);
    let _ = write!(json, "... ({total} bytes)");
    json
}

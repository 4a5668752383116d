//! Typed application events for Rust services.
//!
//! - `#[derive(Event)]` gives a payload struct a stable name, a version and a
//!   kind, and registers its description (doc comment, fields, source location).
//! - [`registry`] lists every event linked into the program and looks events
//!   up by name and version.
//! - `#[on(Event)]` registers a function as a handler; a [`Bus`] routes each
//!   emitted event to the handlers of its type, synchronous or `async`.
//! - [`Envelope`] carries the payload with its id, time, source, correlation
//!   and causation ids, and serialises as CloudEvents 1.0 JSON; [`decode`]
//!   reads such JSON back for any registered event.
//!
//! ```
//! use events::{on, registry, Bus, Envelope, Event};
//! use serde::{Deserialize, Serialize};
//!
//! /// A customer placed an order.
//! #[derive(Event, Serialize, Deserialize)]
//! #[event(name = "OrderPlaced", version = 1, kind = "integration")]
//! struct OrderPlaced {
//!     order_id: u64,
//!     total_cents: u64,
//! }
//!
//! #[on(OrderPlaced)]
//! fn reserve_stock(order: &OrderPlaced) -> Result<(), String> {
//!     if order.total_cents == 0 {
//!         return Err(format!("order {} is empty", order.order_id));
//!     }
//!     Ok(())
//! }
//!
//! let info = registry::find("OrderPlaced", 1).unwrap();
//! assert_eq!(info.doc(), "A customer placed an order.");
//!
//! let bus = Bus::new();
//! let report = bus.emit(OrderPlaced { order_id: 7, total_cents: 1_250 });
//! assert!(report.is_ok());
//!
//! let json = serde_json::to_vec(&Envelope::new(OrderPlaced { order_id: 8, total_cents: 0 })).unwrap();
//! let decoded = events::decode(&json).unwrap();
//! let report = bus.dispatch(&decoded);
//! assert_eq!(report.failures()[0].error().to_string(), "order 8 is empty");
//! ```
//!
//! # `#[derive(Event)]`
//!
//! Options, all optional, in `#[event(...)]`:
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `name = "..."` | the type's name (`r#type` gives `type`) | the stable name, written to the CloudEvents `type` attribute |
//! | `version = N` | `1` | the payload version, from 1 |
//! | `kind = "domain" \| "integration"` | `"domain"` | whether other services consume the event |
//! | `upcast_from = Type` | none | the previous version this one upgrades, through `From<Type>` or `TryFrom<Type>` (see [`upcast`]) |
//! | `deprecated = "reason"` | none | marks the event; the catalog shows it and the first emit logs a warning |
//! | `crate = "path"` | `::events`, or `::events_core` | where generated code finds the runtime |
//!
//! Event names contain ASCII letters, digits and `.` `_` `-` `:` `/`. They
//! start with a letter and are at most 256 characters long. Other names are
//! rejected at compile time.
//!
//! Named, tuple and unit structs work, also inside function bodies and from
//! `macro_rules!`. Fields under `#[cfg]` are listed only when compiled in.
//! Generic types, enums and unions are rejected with a compile error: the
//! registry needs one concrete type per name and version, so wrap a generic
//! or enum payload in a concrete struct.
//!
//! The payload is serialised by serde: derive `Serialize` and `Deserialize`
//! next to `Event`.
//!
//! # `#[on(Event)]`
//!
//! A handler is a free function, sync or `async`, taking `&E` or
//! `&Envelope<E>` and returning `()` or `Result<(), E>` with `E: Display`
//! (which covers boxed errors and `anyhow::Error`). After the event it may
//! take [`State<T>`](State) for state given to the bus and [`Context`] to
//! emit follow-ups, in any order. `Context` and `Context<'_>` both work, in
//! `async` handlers too, where the macro adds the `'_` that an `async fn`
//! requires.
//! `&Envelope<E>` may be spelled through a type alias. On an associated
//! function inside an `impl` block, the compiler reports `cannot find
//! function`: move the handler out of the `impl`.
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `name = "..."` | the function's module path and name | the name in reports, logs and `after`/`before` |
//! | `priority = N` | `0` | handlers with a higher priority run first; ties run by name |
//! | `after = "name"` or `["a", "b"]` | none | run after these handlers of the same event, whatever their priority |
//! | `before = "name"` or `["a", "b"]` | none | run before these handlers |
//! | `attempts = N` | the bus's [`retry`](BusBuilder::retry), one attempt | tries in all, the first included |
//! | `backoff = fixed("100ms")` or `exponential("10ms", "1s")` | no wait | the wait between attempts; needs `attempts` |
//! | `jitter` | off | picks each wait at random between half and all of it |
//! | `on_failure = "dead_letter" \| "log" \| "stop"` | the bus's, `"dead_letter"` | what happens after the last failed attempt (see [`policy::OnFailure`]) |
//! | `timeout = "5s"` | the bus's, none | time limit of an `async` handler |
//! | `concurrent` | the bus's, sequential | an `async` handler that runs together with its concurrent neighbours |
//! | `replay = false` | `true` | skip stored events replayed through [`Bus::replay`] |
//! | `crate = "path"` | as for `#[derive(Event)]` | where generated code finds the runtime |
//!
//! [`policy`] describes the options and their bus-wide defaults.
//!
//! # `#[upcaster]`
//!
//! `#[upcaster(name = "OrderPlaced", from = 1)]` on a function
//! `fn(serde_json::Value) -> Result<serde_json::Value, E>` upgrades stored
//! payloads of a version whose Rust type was deleted; `to = N` defaults to
//! `from + 1`. See [`upcast`].
//!
//! Mistakes are compile errors on the offending token:
//!
//! ```compile_fail
//! use events::{on, Event};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Serialize, Deserialize)]
//! struct OrderPlaced;
//!
//! #[on(OrderPlaced)]
//! fn wrong(order: OrderPlaced) {} // must borrow: `&OrderPlaced`
//! ```
//!
//! # Metrics
//!
//! With the `metrics` feature (`features = ["metrics"]` on the `events`
//! dependency), the bus records counters and handler latencies through the
//! facade of the `metrics` crate. Install any `metrics` recorder, such as a
//! Prometheus exporter, to collect them. Without the feature the bus records
//! none and does not depend on `metrics`.
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `events_handled_total` | counter, one per event whose handlers start running | `event` |
//! | `events_handler_runs_total` | counter, one per attempt | `event`, `handler`, `outcome` |
//! | `events_handler_duration_seconds` | histogram in seconds, one value per attempt | `event`, `handler` |
//! | `events_handler_retries_total` | counter, one per retry | `event`, `handler` |
//! | `events_dead_letters_total` | counter, one per dead letter the bus writes or [`Bus::keep_dead_letter`] keeps | `event`, `handler`, `reason` |
//!
//! `event` is the event name and `handler` the handler name. `outcome` is
//! `ok` or `error`. In `events_dead_letters_total`, `handler` is empty when
//! the bus keeps the whole event, and `reason` is one of `handler_failed`,
//! `shut_down`, `depth_exceeded`, `cancelled` and `undecodable` (stored
//! events that `events-store` could not decode during a replay or a
//! subscription), after [`DeadLetterReason`](dead_letter::DeadLetterReason).
//! `events_handled_total` leaves out events that have no handler on the
//! bus. A letter pushed to [`Bus::dead_letters`] directly is not counted.
//!
//! # Using the runtime and macro crates directly
//!
//! A crate that depends on `events-core` and `events-macros` instead of this
//! facade gets code that refers to `::events_core`. Where the runtime is
//! reachable under yet another path, say so with `crate = "..."` in
//! `#[event]` and `#[on]`.

#![deny(missing_docs)]

extern crate self as events;

pub use events_core::*;
/// The macros of the framework. `#[derive(Event)]` implements the
/// [`Event`](trait@Event) trait for a payload struct and registers its
/// description. `#[on(E)]` registers a function as a handler of `E`. The
/// [crate documentation](crate) lists the options of both.
///
/// ```
/// use events::{on, registry, Bus, Event};
/// use serde::{Deserialize, Serialize};
///
/// /// A customer cancelled an order.
/// #[derive(Event, Serialize, Deserialize)]
/// #[event(name = "shop.order.cancelled", version = 2, kind = "integration")]
/// struct OrderCancelled {
///     order_id: u64,
/// }
///
/// #[on(OrderCancelled, name = "refund", priority = 10)]
/// fn refund(order: &OrderCancelled) -> Result<(), String> {
///     if order.order_id == 0 {
///         return Err("order id 0 is invalid".into());
///     }
///     Ok(())
/// }
///
/// let info = registry::find("shop.order.cancelled", 2).unwrap();
/// assert_eq!(info.doc(), "A customer cancelled an order.");
/// assert_eq!(info.kind(), events::EventKind::Integration);
///
/// let handler = registry::handlers_of::<OrderCancelled>().next().unwrap();
/// assert_eq!(handler.name(), "refund");
/// assert_eq!(handler.priority(), 10);
/// assert!(Bus::new().emit(OrderCancelled { order_id: 7 }).is_ok());
/// ```
pub use events_macros::{on, upcaster, Event};

// Compiles and runs the README's Rust examples as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;

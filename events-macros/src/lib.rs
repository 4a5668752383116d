//! Procedural macros of the `events` framework: `#[derive(Event)]`, `#[on]`
//! and `#[upcaster]`.
//!
//! Use them through the `events` crate, which re-exports them. The generated
//! code refers to the runtime crate by an absolute path: `::events` when the
//! user's manifest depends on it (under any name), `::events_core` when it
//! depends on `events-core` instead, or the path given with `crate = "..."`.
//!
//! ```
//! use events::{on, Bus, Event};
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
//! let bus = Bus::new();
//! let report = bus.emit(OrderPlaced { order_id: 7, total_cents: 1_250 });
//! assert!(report.is_ok());
//! ```
//!
//! # `#[derive(Event)]`
//!
//! The derive accepts structs with named fields, tuple structs and unit
//! structs. Enums, unions and generic types are rejected. Every option of
//! `#[event(...)]` is optional and may be given once. Options may be split
//! over several `#[event]` attributes.
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `name = "..."` | the type's name, without `r#` | the stable event name: 1 to 256 characters, ASCII letters, digits and `.` `_` `-` `:` `/`, starting with a letter |
//! | `version = N` | `1` | the payload version, an integer literal from 1 to 4294967295 |
//! | `kind = "domain"` or `"integration"` | `"domain"` | whether other services consume the event |
//! | `upcast_from = Type` | none | the previous version: the same event name and a lower version. The deriving type implements `From<Type>`, or `TryFrom<Type>` with an error that implements `Display` |
//! | `deprecated = "reason"` | none | a non-empty reason, which the catalog shows. The first emit of the type logs a warning |
//! | `crate = "path"` | `::events`, or `::events_core` | the path where generated code finds the runtime |
//!
//! # `#[on(Event)]`
//!
//! The first argument is the event type. The function is a free function,
//! sync or `async`, that is not generic, `unsafe`, `extern` or variadic. Its
//! first parameter is `&E` or `&Envelope<E>`, and any further parameters are
//! `State<T>` or `Context`, in any order. It returns `()` or `Result<(), E>`
//! with `E: Display`. Each option may be given once.
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `name = "..."` | `module::path::function` | the non-empty name in reports, logs, `after`/`before` and `BusBuilder::replace` |
//! | `priority = N` | `0` | an `i32`. Handlers with a higher priority run first, and ties run by name |
//! | `after = "name"` or `["a", "b"]` | none | run after these handlers of the same event, whatever their priority |
//! | `before = "name"` or `["a", "b"]` | none | run before these handlers |
//! | `attempts = N` | the bus's retry policy, one attempt | tries in all, the first included, from 1 to 4294967295 |
//! | `backoff = fixed("100ms")` | no wait | the same wait between attempts. Needs `attempts` |
//! | `backoff = exponential("10ms", "1s")` | no wait | a wait that doubles from the first value up to the second. Needs `attempts` |
//! | `jitter` or `jitter = true` | off | picks each wait at random between half and all of it. Needs `backoff`, and `jitter = false` leaves it off |
//! | `on_failure = "dead_letter"`, `"log"` or `"stop"` | the bus's, `"dead_letter"` | what happens after the last failed attempt |
//! | `timeout = "5s"` | the bus's, none | a positive time limit for each attempt, for `async` handlers only |
//! | `concurrent` or `concurrent = true` | the bus's, sequential | for `async` handlers only: runs together with the event's other concurrent handlers. `concurrent = false` makes the handler sequential whatever the bus's default |
//! | `replay = false` or `replay = true` | `true` | `false` skips stored events replayed through `Bus::replay` |
//! | `crate = "path"` | as for `#[derive(Event)]` | the path where generated code finds the runtime |
//!
//! A duration is a whole number followed by a unit: `ns`, `us` (or `µs`),
//! `ms`, `s`, `m` (or `min`) or `h`, as in `"250ms"`.
//!
//! # `#[upcaster]`
//!
//! `#[upcaster(name = "OrderPlaced", from = 1)]` registers a function
//! `fn(serde_json::Value) -> Result<serde_json::Value, E>`, with
//! `E: Display`, that upgrades stored payloads of a version whose Rust type
//! was deleted. The function is synchronous and not generic.
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `name = "..."` | required | the event name, with the rules of `#[event(name)]` |
//! | `from = N` | required | the version the function upgrades, from 1 |
//! | `to = N` | `from + 1` | the version it returns, newer than `from` |
//! | `crate = "path"` | as for `#[derive(Event)]` | the path where generated code finds the runtime |

mod attr;
mod derive_event;
mod docs;
mod krate;
mod on;
mod type_text;
mod upcaster;

use proc_macro::TokenStream;

/// Implements `events::Event` for a struct and registers its description.
///
/// The [crate documentation](crate) lists the options of `#[event(...)]`.
///
/// ```
/// use events::Event;
/// use serde::{Deserialize, Serialize};
///
/// /// A customer cancelled an order.
/// #[derive(Event, Serialize, Deserialize)]
/// #[event(name = "shop.order.cancelled", version = 2, kind = "integration")]
/// struct OrderCancelled {
///     order_id: u64,
/// }
///
/// let info = events::registry::find("shop.order.cancelled", 2).unwrap();
/// assert_eq!(info.doc(), "A customer cancelled an order.");
/// ```
#[proc_macro_derive(Event, attributes(event))]
pub fn derive_event(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    derive_event::expand(input).into()
}

/// Registers a function as a handler of one event type.
///
/// The [crate documentation](crate) lists the accepted signatures and the
/// options of `#[on(...)]`.
///
/// ```
/// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct InvoiceIssued { invoice_id: u64 }
/// #[on(InvoiceIssued, name = "erp.export", attempts = 3, backoff = fixed("100ms"))]
/// fn export(invoice: &InvoiceIssued) -> Result<(), String> {
///     if invoice.invoice_id == 0 {
///         return Err("invoice id 0 is invalid".into());
///     }
///     Ok(())
/// }
///
/// let handler = events::registry::handler("erp.export").unwrap();
/// assert_eq!(handler.retry().unwrap().to_string(), "3 attempts, fixed 100ms");
/// assert!(Bus::new().emit(InvoiceIssued { invoice_id: 12 }).is_ok());
/// ```
#[proc_macro_attribute]
pub fn on(args: TokenStream, item: TokenStream) -> TokenStream {
    on::expand(args.into(), item.into()).into()
}

/// Registers a JSON upcaster for a version of an event whose Rust type was
/// deleted: `#[upcaster(name = "OrderPlaced", from = 1)]` on a function
/// `fn(serde_json::Value) -> Result<serde_json::Value, E>` with `E: Display`.
/// `to` defaults to `from + 1`. See the runtime's `upcast` module.
///
/// ```
/// use serde_json::{json, Value};
///
/// /// A refund was issued. Version 2 names the unit of the amount.
/// #[derive(events::Event, serde::Serialize, serde::Deserialize)]
/// #[event(version = 2)]
/// struct RefundIssued {
///     order_id: u64,
///     amount_cents: u64,
/// }
///
/// /// Version 1 stored the amount in cents as `amount`.
/// #[events::upcaster(name = "RefundIssued", from = 1)]
/// fn refund_v1_to_v2(mut payload: Value) -> Result<Value, String> {
///     let cents = payload["amount"].take();
///     Ok(json!({ "order_id": payload["order_id"], "amount_cents": cents }))
/// }
///
/// let info = events::registry::upcasters().iter().find(|u| u.name() == "RefundIssued").unwrap();
/// assert_eq!((info.from_version(), info.to_version()), (1, 2));
/// ```
#[proc_macro_attribute]
pub fn upcaster(args: TokenStream, item: TokenStream) -> TokenStream {
    upcaster::expand(args.into(), item.into()).into()
}

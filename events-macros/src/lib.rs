//! Procedural macros of the `events` framework: `#[derive(Event)]` and `#[on]`.
//!
//! Use them through the `events` crate, which documents both in full. The
//! generated code refers to the runtime crate by an absolute path: `::events`
//! when the user's manifest depends on it, `::events_core` otherwise, or the
//! path given with `crate = "..."`.

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
/// Options, all optional: `#[event(name = "OrderPlaced", version = 2,
/// kind = "integration", crate = "path::to::events")]`.
#[proc_macro_derive(Event, attributes(event))]
pub fn derive_event(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    derive_event::expand(input).into()
}

/// Registers a function as a handler of one event type.
///
/// `#[on(OrderPlaced)]`, with the options `name = "..."`, `priority = N` and
/// `crate = "path::to::events"`.
#[proc_macro_attribute]
pub fn on(args: TokenStream, item: TokenStream) -> TokenStream {
    on::expand(args.into(), item.into()).into()
}

/// Registers a JSON upcaster for a version of an event whose Rust type was
/// deleted: `#[upcaster(name = "OrderPlaced", from = 1)]` on a function
/// `fn(serde_json::Value) -> Result<serde_json::Value, E>` with `E: Display`.
/// `to` defaults to `from + 1`. See the runtime's `upcast` module.
#[proc_macro_attribute]
pub fn upcaster(args: TokenStream, item: TokenStream) -> TokenStream {
    upcaster::expand(args.into(), item.into()).into()
}

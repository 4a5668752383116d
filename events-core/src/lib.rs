//! Runtime of the `events` framework: typed application events, a registry of
//! every event linked into the program, a bus that routes them to handlers,
//! and envelopes that travel as CloudEvents 1.0 JSON.
//!
//! Applications depend on the `events` facade crate, which re-exports this
//! crate together with the `#[derive(Event)]` and `#[on]` macros. Depending on
//! `events-core` and `events-macros` directly works too.
//!
//! With the `metrics` feature, the bus records counters and handler
//! latencies through the facade of the `metrics` crate. The "Metrics"
//! section of the `events` crate documentation lists their names, kinds and
//! labels.
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
//! }
//!
//! #[on(OrderPlaced)]
//! fn reserve_stock(order: &OrderPlaced) {
//!     assert_eq!(order.order_id, 42);
//! }
//!
//! let info = registry::find("OrderPlaced", 1).unwrap();
//! assert_eq!(info.doc(), "A customer placed an order.");
//!
//! let bus = Bus::new();
//! assert!(bus.emit(OrderPlaced { order_id: 42 }).is_ok());
//!
//! let json = serde_json::to_vec(&Envelope::new(OrderPlaced { order_id: 42 })).unwrap();
//! let decoded = events::decode(&json).unwrap();
//! assert!(bus.dispatch(&decoded).is_ok());
//! ```

#![deny(missing_docs)]

extern crate self as events_core;

mod bus;
pub mod catalog;
pub mod cloudevents;
pub mod compat;
pub mod dead_letter;
mod decode;
mod doc;
pub mod envelope;
mod event;
mod frame;
mod handler;
mod join;
#[cfg(feature = "metrics")]
mod metrics;
pub mod observe;
mod order;
pub mod policy;
pub mod registry;
mod report;
mod shutdown;
pub mod testing;
pub mod upcast;

pub use bus::{
    BuildError, Bus, BusBuilder, HandlerFailure, MissingState, RedispatchError, Rejection,
    ReplacementMismatch, Report, ShutDownError, DEFAULT_MAX_DEPTH,
};
pub use decode::{
    decode, decode_batch, DecodeError, DecodeErrorKind, Decoder, DynEnvelope,
    DEFAULT_MAX_BATCH_SIZE, DEFAULT_MAX_SIZE,
};
pub use envelope::{Envelope, EventId, ExtensionValue, Metadata};
pub use event::{Event, EventInfo, EventKind, FieldInfo, UpcastFrom};
pub use handler::{Context, State, StateRequirement};
pub use handler::{HandlerError, HandlerInfo, HandlerReturn};
pub use order::OrderError;
pub use shutdown::{Detached, ShutdownReport, StillRunning};

/// The date and time library of [`Envelope::time`], re-exported so that
/// applications name `chrono::DateTime<chrono::Utc>` without a version clash.
///
/// ```
/// # use events::{Envelope, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// use events::chrono::{DateTime, TimeZone, Utc};
///
/// let placed_at: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).unwrap();
/// let envelope = Envelope::new(OrderPlaced { order_id: 7 }).with_time(placed_at);
/// assert_eq!(envelope.time(), placed_at);
/// ```
pub use chrono;

// Not public API. Used by generated code.
#[doc(hidden)]
pub mod __private {
    pub use crate::doc::{DocFragment, DocKind};
    pub use crate::handler::{
        BoxFuture, Call, FromCall, HandlerParam, HandlerRegistration, Input, Outcome,
    };
    pub use crate::upcast::{UpcasterInfo, UpcasterRegistration};

    /// Turns what a JSON upcaster returns into the registry's form.
    pub fn into_upcast_result<E: core::fmt::Display>(
        returned: Result<serde_json::Value, E>,
    ) -> Result<serde_json::Value, String> {
        returned.map_err(|error| error.to_string())
    }
    pub use core::any::type_name;
    pub use core::time::Duration;
    pub use serde_json;

    /// Finds the JSON Schema of `T` by autoref specialisation: the derive
    /// calls `(&&SchemaProbe::<T>::new()).schema()`. Method lookup tries
    /// `&SchemaProbe<T>` first, where [`WithSchema`] applies when `T`
    /// implements `schemars::JsonSchema` and the `schema` feature is on, and
    /// then `SchemaProbe<T>`, where [`NoSchema`] always applies.
    pub struct SchemaProbe<T>(core::marker::PhantomData<T>);

    impl<T> SchemaProbe<T> {
        #[allow(clippy::new_without_default)]
        pub fn new() -> Self {
            SchemaProbe(core::marker::PhantomData)
        }
    }

    pub trait NoSchema {
        fn schema(&self) -> Option<serde_json::Value> {
            None
        }
    }

    impl<T> NoSchema for SchemaProbe<T> {}

    pub trait WithSchema {
        fn schema(&self) -> Option<serde_json::Value>;
    }

    #[cfg(feature = "schema")]
    impl<T: schemars::JsonSchema> WithSchema for &SchemaProbe<T> {
        fn schema(&self) -> Option<serde_json::Value> {
            Some(schemars::schema_for!(T).to_value())
        }
    }

    /// Checks at compile time that `upcast_from` links two versions of one event.
    pub const fn check_upcast(
        name: &str,
        version: u32,
        previous_name: &str,
        previous_version: u32,
    ) {
        assert!(
            str_eq(name, previous_name),
            "`upcast_from` names an event with another name; an upcast links two versions of one event name"
        );
        assert!(
            previous_version < version,
            "`upcast_from` names a version that is not older; an upcast goes from an older version to a newer one"
        );
    }

    const fn str_eq(a: &str, b: &str) -> bool {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let mut index = 0;
        while index < a.len() {
            if a[index] != b[index] {
                return false;
            }
            index += 1;
        }
        true
    }
    pub use inventory;

    use crate::event::EventInfo;
    use crate::handler::HandlerReturn;

    /// The link-time registration of one event type.
    pub struct EventRegistration(pub &'static EventInfo);

    inventory::collect!(EventRegistration);

    #[inline]
    pub fn into_result<R: HandlerReturn>(returned: R) -> Outcome {
        returned.into_handler_result().map_err(Box::new)
    }

    pub fn boxed<'a, F>(future: F) -> BoxFuture<'a>
    where
        F: core::future::Future<Output = Outcome> + Send + 'a,
    {
        Box::pin(future)
    }
}

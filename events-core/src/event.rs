//! The [`Event`] trait and the static description every event registers.

use core::any::TypeId;
use core::fmt;

use serde::de::DeserializeOwned;

use crate::doc::{Doc, DocFragment};
use serde::Serialize;

/// A typed application event: a payload struct with a stable name and version.
///
/// Implement it with `#[derive(Event)]`, which also registers the event's
/// [`EventInfo`] so that [`registry::all`](crate::registry::all) lists it and
/// [`decode`](crate::decode()) can turn CloudEvents bytes back into it. Writing the
/// impl by hand is possible but leaves the event out of the registry.
///
/// The payload is serialised by serde, so derive `Serialize` and `Deserialize`
/// next to `Event`.
///
/// ```
/// use events::Event;
/// use serde::{Deserialize, Serialize};
///
/// /// A customer placed an order.
/// #[derive(Event, Serialize, Deserialize)]
/// #[event(name = "OrderPlaced", version = 2, kind = "integration")]
/// struct OrderPlaced {
///     order_id: u64,
/// }
///
/// assert_eq!(OrderPlaced::NAME, "OrderPlaced");
/// assert_eq!(OrderPlaced::VERSION, 2);
/// assert_eq!(OrderPlaced::KIND, events::EventKind::Integration);
/// assert_eq!(OrderPlaced::info().doc(), "A customer placed an order.");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event",
    label = "not an event",
    note = "add `#[derive(Event, Serialize, Deserialize)]` to the definition of `{Self}`"
)]
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The stable name, written to the CloudEvents `type` attribute.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct OrderPlaced;
    /// assert_eq!(OrderPlaced::NAME, "OrderPlaced");
    /// ```
    const NAME: &'static str;
    /// The payload version, starting at 1.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// #[event(version = 2)]
    /// struct OrderPlaced { order_id: u64, currency: String }
    /// assert_eq!(OrderPlaced::VERSION, 2);
    /// ```
    const VERSION: u32;
    /// Whether the event stays inside its service or crosses service boundaries.
    ///
    /// ```
    /// # use events::{Event, EventKind}; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// #[event(kind = "integration")]
    /// struct OrderPlaced;
    /// assert_eq!(OrderPlaced::KIND, EventKind::Integration);
    /// ```
    const KIND: EventKind;

    /// The deprecation reason, from `#[event(deprecated = "...")]`.
    /// Emitting it logs a warning once per event type.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// #[event(deprecated = "emit CartCheckedOut instead")]
    /// struct CartSubmitted;
    /// assert_eq!(CartSubmitted::DEPRECATED, Some("emit CartCheckedOut instead"));
    /// ```
    const DEPRECATED: Option<&'static str> = None;

    /// Returns the registered description of this event.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct OrderPlaced;
    /// let info = OrderPlaced::info();
    /// assert!(std::ptr::eq(info, events::registry::of::<OrderPlaced>().unwrap()));
    /// ```
    fn info() -> &'static EventInfo;
}

/// Whether an event is internal to one service or part of a contract between services.
///
/// ```
/// use events::EventKind;
///
/// assert_eq!(EventKind::default(), EventKind::Domain);
/// assert_eq!(EventKind::Integration.as_str(), "integration");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// A fact inside one bounded context; free to change with the service.
    #[default]
    Domain,
    /// A fact published to other services; its schema is a contract.
    Integration,
}

impl EventKind {
    /// Returns the lowercase name used in `#[event(kind = "...")]`.
    ///
    /// ```
    /// assert_eq!(events::EventKind::Domain.as_str(), "domain");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::Domain => "domain",
            EventKind::Integration => "integration",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The registered description of one event type: what `#[derive(Event)]` records.
///
/// Instances are created by the derive macro and live in static memory; get
/// them from [`Event::info`] or the [`registry`](crate::registry).
///
/// ```
/// use events::Event;
/// use serde::{Deserialize, Serialize};
///
/// /// A user signed up.
/// #[derive(Event, Serialize, Deserialize)]
/// struct UserRegistered {
///     /// Primary key of the new user.
///     user_id: u64,
///     email: String,
/// }
///
/// let info = UserRegistered::info();
/// assert_eq!(info.name(), "UserRegistered");
/// assert_eq!(info.version(), 1);
/// assert_eq!(info.fields()[0].name(), "user_id");
/// assert_eq!(info.fields()[0].ty(), "u64");
/// assert_eq!(info.fields()[0].doc(), "Primary key of the new user.");
/// assert!(info.rust_type().ends_with("UserRegistered"));
/// ```
pub struct EventInfo {
    name: &'static str,
    version: u32,
    kind: EventKind,
    doc: Doc,
    fields: &'static [FieldInfo],
    module_path: &'static str,
    file: &'static str,
    line: u32,
    type_name: fn() -> &'static str,
    type_id: fn() -> TypeId,
    pub(crate) vtable: EventVtable,
    deprecated: Option<&'static str>,
    pub(crate) upcast: Option<TypedUpcast>,
    schema: fn() -> Option<serde_json::Value>,
}

/// A typed upcast declared with `#[event(upcast_from = Previous)]`.
#[derive(Clone, Copy)]
pub(crate) struct TypedUpcast {
    pub(crate) from: fn() -> &'static EventInfo,
    /// Converts a payload of the previous version into this version, both
    /// as JSON.
    pub(crate) convert: fn(serde_json::Value) -> Result<serde_json::Value, StepError>,
}

/// The failure of one step of an upcast chain.
#[derive(Debug)]
pub(crate) struct StepError {
    /// The path of the offending field in the previous version's payload.
    pub(crate) field: Option<String>,
    pub(crate) message: String,
    /// The step's input type and the `serde` error, when the payload did not
    /// deserialise into that type, so that a step before it can be blamed.
    pub(crate) input_mismatch: Option<(&'static str, String)>,
}

/// Type-erased operations on one event type, filled in by the derive macro.
#[derive(Clone, Copy)]
pub(crate) struct EventVtable {
    pub(crate) decode: crate::decode::DecodeFn,
}

impl EventInfo {
    /// Returns the stable event name.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// #[event(name = "shop.order.placed")]
    /// struct OrderPlaced;
    /// assert_eq!(OrderPlaced::info().name(), "shop.order.placed");
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Returns the event name behind a pointer to static memory, one word.
    pub(crate) fn name_ref(&'static self) -> &'static &'static str {
        &self.name
    }

    /// Returns the payload version.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// #[event(version = 3)]
    /// struct OrderPlaced;
    /// assert_eq!(OrderPlaced::info().version(), 3);
    /// ```
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Returns whether the event is a domain or an integration event.
    ///
    /// ```
    /// # use events::{Event, EventKind}; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct OrderPlaced;
    /// assert_eq!(OrderPlaced::info().kind(), EventKind::Domain);
    /// ```
    pub fn kind(&self) -> EventKind {
        self.kind
    }

    /// Returns the doc comment of the type as rustdoc renders it, with the
    /// common indentation removed and lines joined by `\n`; empty if undocumented.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// /// First line.
    /// ///
    /// ///     indented
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct OrderPlaced;
    /// assert_eq!(OrderPlaced::info().doc(), "First line.\n\n    indented");
    /// ```
    pub fn doc(&self) -> &str {
        self.doc.get()
    }

    /// Returns the payload fields in declaration order; empty for unit structs.
    ///
    /// Fields removed by `#[cfg]` are absent. Tuple struct fields are named `0`, `1`, ...
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct PaymentSucceeded(u64, String);
    /// let names: Vec<_> = PaymentSucceeded::info().fields().iter().map(|f| f.name()).collect();
    /// assert_eq!(names, ["0", "1"]);
    /// ```
    pub fn fields(&self) -> &'static [FieldInfo] {
        self.fields
    }

    /// Returns the full Rust path of the type, as [`core::any::type_name`] spells it.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct OrderPlaced;
    /// assert!(OrderPlaced::info().rust_type().ends_with("::OrderPlaced"));
    /// ```
    pub fn rust_type(&self) -> &'static str {
        (self.type_name)()
    }

    /// Returns why the event is deprecated, from `#[event(deprecated = "...")]`.
    /// Emitting a deprecated event logs a warning once per event type.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// #[event(deprecated = "use CartCheckedOut")]
    /// struct CartSubmitted;
    ///
    /// assert_eq!(CartSubmitted::info().deprecated(), Some("use CartCheckedOut"));
    /// ```
    pub fn deprecated(&self) -> Option<&'static str> {
        self.deprecated
    }

    /// Returns the previous version this one upgrades from, declared with
    /// `#[event(upcast_from = Previous)]`.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// #[event(name = "OrderPlaced", version = 1)]
    /// struct OrderPlacedV1 { order_id: u64 }
    ///
    /// #[derive(Event, Serialize, Deserialize)]
    /// #[event(version = 2, upcast_from = OrderPlacedV1)]
    /// struct OrderPlaced { order_id: u64, currency: String }
    ///
    /// impl From<OrderPlacedV1> for OrderPlaced {
    ///     fn from(v1: OrderPlacedV1) -> Self {
    ///         OrderPlaced { order_id: v1.order_id, currency: "EUR".into() }
    ///     }
    /// }
    ///
    /// let previous = OrderPlaced::info().upcasts_from().unwrap();
    /// assert_eq!(previous.version(), 1);
    /// ```
    pub fn upcasts_from(&self) -> Option<&'static EventInfo> {
        self.upcast.map(|upcast| (upcast.from)())
    }

    /// Returns the JSON Schema of the payload: with the `schema` feature,
    /// for payloads that also derive `schemars::JsonSchema`; `None` otherwise.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct CartCleared { cart_id: u64 }
    ///
    /// // Without `schemars::JsonSchema` on the payload there is no schema.
    /// assert!(CartCleared::info().schema().is_none());
    /// ```
    pub fn schema(&self) -> Option<serde_json::Value> {
        (self.schema)()
    }

    /// Returns the module path where the type is declared.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct OrderPlaced;
    /// assert_eq!(OrderPlaced::info().module_path(), module_path!());
    /// ```
    pub fn module_path(&self) -> &'static str {
        self.module_path
    }

    /// Returns the source file of the declaration, as [`file!`] spells it.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct OrderPlaced;
    /// assert_eq!(OrderPlaced::info().file(), file!());
    /// ```
    pub fn file(&self) -> &'static str {
        self.file
    }

    /// Returns the 1-based line of the declaration's name.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct OrderPlaced;
    /// assert_eq!(OrderPlaced::info().line(), line!() - 1);
    /// ```
    pub fn line(&self) -> u32 {
        self.line
    }

    /// Returns the [`TypeId`] of the payload type.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// use std::any::TypeId;
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct OrderPlaced;
    /// assert_eq!(OrderPlaced::info().type_id(), TypeId::of::<OrderPlaced>());
    /// ```
    pub fn type_id(&self) -> TypeId {
        (self.type_id)()
    }

    /// Returns `file:line` of the declaration, for messages.
    pub(crate) fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

impl fmt::Debug for EventInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventInfo")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("kind", &self.kind)
            .field("rust_type", &self.rust_type())
            .field("file", &self.file)
            .field("line", &self.line)
            .field("fields", &self.fields)
            .finish()
    }
}

/// One payload field of an event, as declared in Rust.
///
/// ```
/// # use events::Event; use serde::{Deserialize, Serialize};
/// #[derive(Event, Serialize, Deserialize)]
/// struct OrderPlaced {
///     /// Line items as (sku, quantity).
///     lines: Vec<(String, u32)>,
/// }
/// let field = &OrderPlaced::info().fields()[0];
/// assert_eq!(field.name(), "lines");
/// assert_eq!(field.ty(), "Vec<(String, u32)>");
/// assert_eq!(field.doc(), "Line items as (sku, quantity).");
/// ```
pub struct FieldInfo {
    name: &'static str,
    ty: &'static str,
    doc: Doc,
}

impl fmt::Debug for FieldInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldInfo")
            .field("name", &self.name)
            .field("ty", &self.ty)
            .field("doc", &self.doc())
            .finish()
    }
}

impl FieldInfo {
    /// Returns the field name without a raw-identifier prefix (`r#type` is `type`),
    /// or its index for tuple structs.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct PageViewed { r#type: String }
    /// assert_eq!(PageViewed::info().fields()[0].name(), "type");
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Returns the field type as written in the source, with normalised spacing.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct CartUpdated { quantities: std::collections::BTreeMap < String , u32 > }
    /// assert_eq!(CartUpdated::info().fields()[0].ty(), "std::collections::BTreeMap<String, u32>");
    /// ```
    pub fn ty(&self) -> &'static str {
        self.ty
    }

    /// Returns the field's doc comment; empty if undocumented.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct InvoicePaid {
    ///     /// Amount in cents.
    ///     amount: u64,
    ///     currency: String,
    /// }
    /// let fields = InvoicePaid::info().fields();
    /// assert_eq!(fields[0].doc(), "Amount in cents.");
    /// assert_eq!(fields[1].doc(), "");
    /// ```
    pub fn doc(&self) -> &str {
        self.doc.get()
    }
}

// Not public API. Used by generated code.
#[doc(hidden)]
impl EventInfo {
    #[allow(clippy::too_many_arguments)]
    pub const fn __new<E: Event>(
        name: &'static str,
        version: u32,
        kind: EventKind,
        doc: &'static [DocFragment],
        fields: &'static [FieldInfo],
        module_path: &'static str,
        file: &'static str,
        line: u32,
    ) -> Self {
        EventInfo {
            name,
            version,
            kind,
            doc: Doc::new(doc),
            fields,
            module_path,
            file,
            line,
            type_name: core::any::type_name::<E>,
            type_id: TypeId::of::<E>,
            vtable: EventVtable {
                decode: crate::decode::decode_typed::<E>,
            },
            deprecated: None,
            upcast: None,
            schema: no_schema,
        }
    }

    pub const fn __deprecated(mut self, reason: &'static str) -> Self {
        self.deprecated = Some(reason);
        self
    }

    pub const fn __upcast_from<Previous: Event, Next: Event + UpcastFrom<Previous>>(
        mut self,
    ) -> Self {
        self.upcast = Some(TypedUpcast {
            from: Previous::info,
            convert: convert_typed::<Previous, Next>,
        });
        self
    }

    pub const fn __schema(mut self, schema: fn() -> Option<serde_json::Value>) -> Self {
        self.schema = schema;
        self
    }
}

fn no_schema() -> Option<serde_json::Value> {
    None
}

/// A conversion from the previous version of an event, required by
/// `#[event(upcast_from = Previous)]`. Implement `From<Previous>` (or
/// `TryFrom<Previous>` with an error that implements `Display`) to get it.
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// use events::{Event, UpcastFrom};
///
/// #[derive(Event, Serialize, Deserialize)]
/// #[event(name = "PaymentCaptured", version = 1)]
/// struct PaymentCapturedV1 { amount: String }
///
/// #[derive(Event, Serialize, Deserialize)]
/// #[event(version = 2, upcast_from = PaymentCapturedV1)]
/// struct PaymentCaptured { amount_cents: u64 }
///
/// // Version 1 stored the amount as text, which may not parse.
/// impl TryFrom<PaymentCapturedV1> for PaymentCaptured {
///     type Error = String;
///
///     fn try_from(v1: PaymentCapturedV1) -> Result<Self, String> {
///         let amount_cents = v1.amount.parse().map_err(|_| {
///             format!("amount {:?} is not a whole number of cents", v1.amount)
///         })?;
///         Ok(PaymentCaptured { amount_cents })
///     }
/// }
///
/// // Decoding a stored v1 event runs the conversion.
/// let stored = br#"{"specversion":"1.0","id":"p-1","source":"psp","type":"PaymentCaptured","dataversion":1,"data":{"amount":"1250"}}"#;
/// let envelope = events::decode(stored).unwrap();
/// assert_eq!(envelope.payload::<PaymentCaptured>().unwrap().amount_cents, 1250);
///
/// // A unit test can call the conversion directly.
/// let rejected = PaymentCaptured::upcast_from(PaymentCapturedV1 { amount: "12.50".into() });
/// assert_eq!(rejected.err().unwrap(), r#"amount "12.50" is not a whole number of cents"#);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` declares `upcast_from = {Previous}` but cannot be converted from it",
    label = "no `From<{Previous}>` or `TryFrom<{Previous}>` for `{Self}`",
    note = "implement `impl From<{Previous}> for {Self}`, or `TryFrom` with an error that implements `Display` when the upgrade can fail"
)]
pub trait UpcastFrom<Previous>: Sized {
    /// Upgrades a payload of the previous version.
    ///
    /// # Errors
    ///
    /// Returns the conversion's error message when it rejects the payload.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced", version = 1)] struct OrderPlacedV1 { order_id: u64 }
    /// # #[derive(Event, Serialize, Deserialize)] #[event(version = 2, upcast_from = OrderPlacedV1)]
    /// # struct OrderPlaced { order_id: u64, currency: String }
    /// use events::UpcastFrom;
    ///
    /// impl From<OrderPlacedV1> for OrderPlaced {
    ///     fn from(v1: OrderPlacedV1) -> Self {
    ///         OrderPlaced { order_id: v1.order_id, currency: "EUR".into() }
    ///     }
    /// }
    ///
    /// let upgraded = OrderPlaced::upcast_from(OrderPlacedV1 { order_id: 7 }).unwrap();
    /// assert_eq!((upgraded.order_id, upgraded.currency.as_str()), (7, "EUR"));
    /// ```
    fn upcast_from(previous: Previous) -> Result<Self, String>;
}

impl<Previous, Next> UpcastFrom<Previous> for Next
where
    Next: TryFrom<Previous>,
    <Next as TryFrom<Previous>>::Error: core::fmt::Display,
{
    fn upcast_from(previous: Previous) -> Result<Self, String> {
        Next::try_from(previous).map_err(|error| error.to_string())
    }
}

fn convert_typed<Previous: Event, Next: Event + UpcastFrom<Previous>>(
    value: serde_json::Value,
) -> Result<serde_json::Value, StepError> {
    let previous: Previous = serde_path_to_error::deserialize(value).map_err(|error| {
        let rust_type = core::any::type_name::<Previous>();
        StepError {
            field: crate::decode::failing_field(error.path(), error.inner()),
            message: format!(
                "the payload does not match `{rust_type}`: {}",
                error.inner()
            ),
            input_mismatch: Some((rust_type, crate::decode::serde_message(error.inner()))),
        }
    })?;
    let next = Next::upcast_from(previous).map_err(|message| StepError {
        field: None,
        message,
        input_mismatch: None,
    })?;
    serde_json::to_value(next).map_err(|error| StepError {
        field: None,
        message: error.to_string(),
        input_mismatch: None,
    })
}

#[doc(hidden)]
impl FieldInfo {
    pub const fn __new(name: &'static str, ty: &'static str, doc: &'static [DocFragment]) -> Self {
        FieldInfo {
            name,
            ty,
            doc: Doc::new(doc),
        }
    }
}

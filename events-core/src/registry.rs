//! Every event and handler linked into the program, collected at link time.
//!
//! `#[derive(Event)]` and `#[on(...)]` submit their descriptions through the
//! [`inventory`](https://docs.rs/inventory) crate; this module sorts them into a
//! registry built once, on first use. Listings are ordered by name and then
//! version, never by link order, so output is the same on every build.
//!
//! ```
//! use events::{registry, Event};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Serialize, Deserialize)]
//! #[event(name = "ProductCreated", version = 2)]
//! struct ProductCreated { sku: String }
//!
//! let info = registry::find("ProductCreated", 2).unwrap();
//! assert_eq!(info.rust_type(), std::any::type_name::<ProductCreated>());
//! assert_eq!(registry::latest("ProductCreated").unwrap().version(), 2);
//! assert!(registry::all().iter().any(|e| e.name() == "ProductCreated"));
//! registry::validate().unwrap();
//! ```

use std::any::TypeId;
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use crate::event::{Event, EventInfo};
use crate::handler::{HandlerInfo, HandlerRegistration};
pub use crate::upcast::{ChainProblem, UpcastStep, UpcasterInfo};

/// A lookup table over a set of event descriptions.
///
/// The program-wide registry behind [`all`], [`find`] and friends is one of
/// these. Building one from a chosen set is useful in tests and benchmarks.
///
/// ```
/// use events::registry::Registry;
///
/// let registry = Registry::new(events::registry::all().iter().copied()).unwrap();
/// assert_eq!(registry.all().len(), events::registry::all().len());
/// ```
pub struct Registry {
    sorted: Vec<&'static EventInfo>,
    /// For each name, the range of its versions in `sorted`.
    by_name: HashMap<&'static str, (usize, usize)>,
    by_type: HashMap<TypeId, &'static EventInfo>,
}

impl Registry {
    /// Builds a registry, rejecting two descriptions with the same name and version.
    ///
    /// ```
    /// use events::registry::Registry;
    ///
    /// let empty = Registry::new([]).unwrap();
    /// assert!(empty.find("OrderPlaced", 1).is_none());
    /// ```
    pub fn new(
        infos: impl IntoIterator<Item = &'static EventInfo>,
    ) -> Result<Registry, RegistryError> {
        let mut sorted: Vec<&'static EventInfo> = infos.into_iter().collect();
        sorted.sort_by(|a, b| {
            (a.name(), a.version(), a.rust_type()).cmp(&(b.name(), b.version(), b.rust_type()))
        });

        let duplicates: Vec<Duplicate> = sorted
            .windows(2)
            .filter(|pair| {
                pair[0].name() == pair[1].name() && pair[0].version() == pair[1].version()
            })
            .map(|pair| Duplicate {
                first: pair[0],
                second: pair[1],
            })
            .collect();
        if !duplicates.is_empty() {
            return Err(RegistryError {
                duplicates,
                chains: Vec::new(),
            });
        }

        let mut by_name = HashMap::with_capacity(sorted.len());
        let mut start = 0;
        for end in 1..=sorted.len() {
            if end == sorted.len() || sorted[end].name() != sorted[start].name() {
                by_name.insert(sorted[start].name(), (start, end));
                start = end;
            }
        }
        let by_type = sorted.iter().map(|info| (info.type_id(), *info)).collect();

        Ok(Registry {
            sorted,
            by_name,
            by_type,
        })
    }

    /// Returns every event, ordered by name and then version.
    ///
    /// ```
    /// # use events::{registry::Registry, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced", version = 1)] struct OrderPlacedV1;
    /// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced", version = 2)] struct OrderPlacedV2;
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderShipped;
    /// let registry = Registry::new([OrderShipped::info(), OrderPlacedV2::info(), OrderPlacedV1::info()]).unwrap();
    /// let listed: Vec<_> = registry.all().iter().map(|e| (e.name(), e.version())).collect();
    /// assert_eq!(listed, [("OrderPlaced", 1), ("OrderPlaced", 2), ("OrderShipped", 1)]);
    /// ```
    pub fn all(&self) -> &[&'static EventInfo] {
        &self.sorted
    }

    /// Returns the event with this name and version.
    ///
    /// ```
    /// # use events::{registry::Registry, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced", version = 1)] struct OrderPlacedV1;
    /// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced", version = 2)] struct OrderPlacedV2;
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderShipped;
    /// let registry = Registry::new([OrderShipped::info(), OrderPlacedV2::info(), OrderPlacedV1::info()]).unwrap();
    /// let info = registry.find("OrderPlaced", 1).unwrap();
    /// assert!(info.rust_type().ends_with("OrderPlacedV1"));
    /// assert!(registry.find("OrderPlaced", 3).is_none());
    /// ```
    pub fn find(&self, name: &str, version: u32) -> Option<&'static EventInfo> {
        self.versions(name)
            .iter()
            .find(|info| info.version() == version)
            .copied()
    }

    /// Returns the highest version registered under this name.
    ///
    /// ```
    /// # use events::{registry::Registry, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced", version = 1)] struct OrderPlacedV1;
    /// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced", version = 2)] struct OrderPlacedV2;
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderShipped;
    /// let registry = Registry::new([OrderShipped::info(), OrderPlacedV2::info(), OrderPlacedV1::info()]).unwrap();
    /// assert_eq!(registry.latest("OrderPlaced").unwrap().version(), 2);
    /// assert!(registry.latest("OrderCancelled").is_none());
    /// ```
    pub fn latest(&self, name: &str) -> Option<&'static EventInfo> {
        self.versions(name).last().copied()
    }

    /// Returns every version registered under this name, lowest first.
    ///
    /// ```
    /// # use events::{registry::Registry, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced", version = 1)] struct OrderPlacedV1;
    /// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced", version = 2)] struct OrderPlacedV2;
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderShipped;
    /// let registry = Registry::new([OrderShipped::info(), OrderPlacedV2::info(), OrderPlacedV1::info()]).unwrap();
    /// let versions: Vec<u32> = registry.versions("OrderPlaced").iter().map(|e| e.version()).collect();
    /// assert_eq!(versions, [1, 2]);
    /// ```
    pub fn versions(&self, name: &str) -> &[&'static EventInfo] {
        match self.by_name.get(name) {
            Some(&(start, end)) => &self.sorted[start..end],
            None => &[],
        }
    }

    /// Returns the description registered for the Rust type `E`.
    ///
    /// ```
    /// # use events::{registry::Registry, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced", version = 1)] struct OrderPlacedV1;
    /// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced", version = 2)] struct OrderPlacedV2;
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderShipped;
    /// let registry = Registry::new([OrderPlacedV1::info()]).unwrap();
    /// assert_eq!(registry.of::<OrderPlacedV1>().unwrap().version(), 1);
    /// assert!(registry.of::<OrderShipped>().is_none());
    /// ```
    pub fn of<E: Event>(&self) -> Option<&'static EventInfo> {
        self.by_type.get(&TypeId::of::<E>()).copied()
    }

    /// Returns the description registered for this [`TypeId`].
    ///
    /// ```
    /// # use events::{registry::Registry, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced", version = 1)] struct OrderPlacedV1;
    /// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced", version = 2)] struct OrderPlacedV2;
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderShipped;
    /// let registry = Registry::new([OrderShipped::info(), OrderPlacedV2::info(), OrderPlacedV1::info()]).unwrap();
    /// let info = registry.by_type_id(std::any::TypeId::of::<OrderPlacedV2>()).unwrap();
    /// assert_eq!((info.name(), info.version()), ("OrderPlaced", 2));
    /// ```
    pub fn by_type_id(&self, type_id: TypeId) -> Option<&'static EventInfo> {
        self.by_type.get(&type_id).copied()
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.sorted.iter().map(|info| (info.name(), info.version())))
            .finish()
    }
}

/// Two or more event types registered under the same name and version.
///
/// ```
/// use events::{registry::Registry, Event};
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
/// let error = Registry::new([LegacyOrderPlaced::info(), OrderPlaced::info()]).unwrap_err();
/// assert!(error.to_string().contains("event `OrderPlaced` version 1 is registered by both"));
/// ```
#[derive(Clone, Debug)]
pub struct RegistryError {
    duplicates: Vec<Duplicate>,
    chains: Vec<ChainProblem>,
}

impl RegistryError {
    /// Returns each clashing pair, ordered by name and version.
    ///
    /// ```
    /// # use events::{registry::Registry, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced")] struct LegacyOrderPlaced;
    /// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced")] struct OrderPlaced;
    /// let error = Registry::new([LegacyOrderPlaced::info(), OrderPlaced::info()]).unwrap_err();
    /// assert_eq!(error.duplicates().len(), 1);
    /// assert_eq!(error.duplicates()[0].infos().0.name(), "OrderPlaced");
    /// ```
    pub fn duplicates(&self) -> &[Duplicate] {
        &self.duplicates
    }

    /// Returns the broken upcast chains: versions without a path to the
    /// latest, two upcasts from one version, steps to missing versions.
    ///
    /// ```
    /// events::registry::validate().expect("this program's upcast chains are complete");
    /// ```
    pub fn chain_problems(&self) -> &[ChainProblem] {
        &self.chains
    }
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.duplicates.is_empty() {
            write!(f, "duplicate event registrations:")?;
            for duplicate in &self.duplicates {
                write!(f, "\n  - {duplicate}")?;
            }
            write!(
                f,
                "\nfix: give one of each pair another `#[event(name = \"...\")]` or `version`"
            )?;
        }
        if !self.chains.is_empty() {
            if !self.duplicates.is_empty() {
                writeln!(f)?;
            }
            write!(f, "broken upcast chains:")?;
            for problem in &self.chains {
                write!(f, "\n  - {problem}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for RegistryError {}

/// One pair of event types that share a name and version.
///
/// ```
/// # use events::{registry::Registry, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced")] struct LegacyOrderPlaced;
/// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced")] struct OrderPlaced;
/// let error = Registry::new([LegacyOrderPlaced::info(), OrderPlaced::info()]).unwrap_err();
/// let duplicate = &error.duplicates()[0];
/// assert!(duplicate.to_string().starts_with("event `OrderPlaced` version 1 is registered by both"));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Duplicate {
    first: &'static EventInfo,
    second: &'static EventInfo,
}

impl Duplicate {
    /// Returns both descriptions, ordered by Rust type path.
    ///
    /// ```
    /// # use events::{registry::Registry, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced")] struct LegacyOrderPlaced;
    /// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced")] struct OrderPlaced;
    /// let error = Registry::new([OrderPlaced::info(), LegacyOrderPlaced::info()]).unwrap_err();
    /// let (first, second) = error.duplicates()[0].infos();
    /// assert!(first.rust_type().ends_with("::LegacyOrderPlaced"));
    /// assert!(second.rust_type().ends_with("::OrderPlaced"));
    /// ```
    pub fn infos(&self) -> (&'static EventInfo, &'static EventInfo) {
        (self.first, self.second)
    }
}

impl fmt::Display for Duplicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "event `{}` version {} is registered by both `{}` ({}) and `{}` ({})",
            self.first.name(),
            self.first.version(),
            self.first.rust_type(),
            self.first.location(),
            self.second.rust_type(),
            self.second.location(),
        )
    }
}

static GLOBAL: OnceLock<Result<Registry, RegistryError>> = OnceLock::new();

fn build_global() -> Result<Registry, RegistryError> {
    let infos = inventory::iter::<crate::__private::EventRegistration>
        .into_iter()
        .map(|registration| registration.0);
    Registry::new(infos)
}

/// Returns the program-wide registry, building it on first use.
///
/// # Panics
///
/// Panics with the message of [`validate`] if two event types share a name and
/// version. Call [`validate`] at startup to handle that as an error instead.
///
/// ```
/// let registry = events::registry::global();
/// assert_eq!(registry.all().len(), events::registry::all().len());
/// ```
pub fn global() -> &'static Registry {
    match GLOBAL.get_or_init(build_global) {
        Ok(registry) => registry,
        Err(error) => panic!("{error}"),
    }
}

/// Checks that no two event types share a name and version, and that every
/// upcast chain is whole. A whole chain has no gap and no two upcasters from
/// one version, every version has a path to the latest, and every upcaster
/// has an event type. Building a bus runs the same checks.
///
/// ```
/// events::registry::validate().expect("event names are unique");
/// ```
pub fn validate() -> Result<(), RegistryError> {
    if let Err(error) = GLOBAL.get_or_init(build_global) {
        return Err(error.clone());
    }
    let chains = crate::upcast::problems();
    if chains.is_empty() {
        Ok(())
    } else {
        Err(RegistryError {
            duplicates: Vec::new(),
            chains: chains.to_vec(),
        })
    }
}

/// Returns every JSON upcaster registered with `#[upcaster(...)]`, ordered
/// by name and version.
///
/// ```
/// # use events::upcaster; use serde_json::Value;
/// #[upcaster(name = "WishlistShared", from = 1)]
/// fn wishlist_v1(payload: Value) -> Result<Value, String> { Ok(payload) }
///
/// let names: Vec<_> = events::registry::upcasters().iter().map(|u| u.name()).collect();
/// assert_eq!(names, ["WishlistShared"]);
/// ```
pub fn upcasters() -> &'static [&'static UpcasterInfo] {
    crate::upcast::upcasters()
}

/// Returns the upcast chain of an event name, oldest step first: typed
/// upcasts declared with `upcast_from` and JSON upcasters. A broken chain
/// (see [`validate`]) lists the steps that are unambiguous.
///
/// ```
/// assert!(events::registry::upcast_steps("NoSuchEvent").is_empty());
/// ```
pub fn upcast_steps(name: &str) -> Vec<UpcastStep> {
    crate::upcast::steps_of(name)
}

/// Returns every registered event, ordered by name and then version.
///
/// # Panics
///
/// Panics if two event types share a name and version (see [`validate`]).
///
/// ```
/// # use events::Event; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
/// # #[derive(Event, Serialize, Deserialize)] #[event(version = 2)] struct CartCleared;
/// let listed: Vec<_> = events::registry::all().iter().map(|e| (e.name(), e.version())).collect();
/// assert_eq!(listed, [("CartCleared", 2), ("OrderPlaced", 1)]);
/// ```
pub fn all() -> &'static [&'static EventInfo] {
    global().all()
}

/// Returns the registered event with this name and version.
///
/// # Panics
///
/// Panics if two event types share a name and version (see [`validate`]).
///
/// ```
/// # use events::Event; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] #[event(name = "shop.order.placed")] struct OrderPlaced;
/// let info = events::registry::find("shop.order.placed", 1).unwrap();
/// assert_eq!(info.rust_type(), std::any::type_name::<OrderPlaced>());
/// assert!(events::registry::find("shop.order.placed", 2).is_none());
/// ```
pub fn find(name: &str, version: u32) -> Option<&'static EventInfo> {
    global().find(name, version)
}

/// Returns the highest registered version of the event with this name.
///
/// # Panics
///
/// Panics if two event types share a name and version (see [`validate`]).
///
/// ```
/// # use events::Event; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced", version = 1)] struct OrderPlacedV1;
/// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced", version = 2)] struct OrderPlacedV2;
/// assert_eq!(events::registry::latest("OrderPlaced").unwrap().version(), 2);
/// assert!(events::registry::latest("NoSuchEvent").is_none());
/// ```
pub fn latest(name: &str) -> Option<&'static EventInfo> {
    global().latest(name)
}

/// Returns every registered version of the event with this name, lowest first.
///
/// # Panics
///
/// Panics if two event types share a name and version (see [`validate`]).
///
/// ```
/// # use events::Event; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced", version = 1)] struct OrderPlacedV1;
/// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced", version = 2)] struct OrderPlacedV2;
/// let versions: Vec<u32> = events::registry::versions("OrderPlaced").iter().map(|e| e.version()).collect();
/// assert_eq!(versions, [1, 2]);
/// assert!(events::registry::versions("NoSuchEvent").is_empty());
/// ```
pub fn versions(name: &str) -> &'static [&'static EventInfo] {
    global().versions(name)
}

/// Returns the registered description of the event type `E`.
///
/// # Panics
///
/// Panics if two event types share a name and version (see [`validate`]).
///
/// ```
/// # use events::Event; use serde::{Deserialize, Serialize};
/// #[derive(Event, Serialize, Deserialize)]
/// struct CourseCompleted { course_id: u32 }
///
/// let info = events::registry::of::<CourseCompleted>().unwrap();
/// assert_eq!(info.name(), "CourseCompleted");
/// ```
pub fn of<E: Event>() -> Option<&'static EventInfo> {
    global().of::<E>()
}

/// Returns every registered handler, ordered by event name, event version and
/// then run order: `after` and `before` constraints, then priority (highest
/// first), then handler name. This is the order a bus runs them in;
/// constraints that cannot be met are reported by
/// [`BusBuilder::build`](crate::BusBuilder::build), and here the handlers of
/// that event keep their priority order.
///
/// ```
/// # use events::{on, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
/// # #[derive(Event, Serialize, Deserialize)] struct CartCleared;
/// #[on(OrderPlaced, name = "reserve_stock")]
/// fn reserve_stock(_: &OrderPlaced) {}
///
/// #[on(CartCleared, name = "release_stock")]
/// fn release_stock(_: &CartCleared) {}
///
/// let listed: Vec<_> = events::registry::handlers().iter().map(|h| (h.event().name(), h.name())).collect();
/// assert_eq!(listed, [("CartCleared", "release_stock"), ("OrderPlaced", "reserve_stock")]);
/// ```
pub fn handlers() -> &'static [&'static HandlerInfo] {
    static HANDLERS: OnceLock<Vec<&'static HandlerInfo>> = OnceLock::new();
    HANDLERS.get_or_init(|| {
        let mut registered: Vec<&'static HandlerInfo> = inventory::iter::<HandlerRegistration>
            .into_iter()
            .map(|registration| registration.0)
            .collect();
        registered.sort_by(|a, b| {
            let a_event = a.event();
            let b_event = b.event();
            (a_event.name(), a_event.version())
                .cmp(&(b_event.name(), b_event.version()))
                .then_with(|| crate::handler::run_order(a, b))
        });
        // Handlers of one event are now adjacent; apply their constraints.
        let mut ordered = Vec::with_capacity(registered.len());
        let mut ignored_errors = Vec::new();
        for group in registered.chunk_by(|a, b| a.event_type_id() == b.event_type_id()) {
            ordered.extend(crate::order::resolve(
                group,
                &registered,
                &mut ignored_errors,
            ));
        }
        ordered
    })
}

/// Returns the handlers of the event type `E` in the order a bus runs them.
///
/// ```
/// # use events::{on, Event}; use serde::{Deserialize, Serialize};
/// #[derive(Event, Serialize, Deserialize)]
/// struct NotificationSent { channel: String }
///
/// #[on(NotificationSent, priority = 5)]
/// fn audit(_: &NotificationSent) {}
///
/// #[on(NotificationSent)]
/// fn count(_: &NotificationSent) {}
///
/// let names: Vec<_> = events::registry::handlers_of::<NotificationSent>()
///     .map(|h| h.name().rsplit("::").next().unwrap())
///     .collect();
/// assert_eq!(names, ["audit", "count"]);
/// ```
pub fn handlers_of<E: Event>() -> impl Iterator<Item = &'static HandlerInfo> {
    handlers()
        .iter()
        .copied()
        .filter(|handler| handler.event_type_id() == TypeId::of::<E>())
}

/// Returns the handler registered under `name`, the name that `after` and
/// `before` constraints and [`BusBuilder::replace`](crate::BusBuilder::replace) use.
///
/// ```
/// # use events::{on, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
/// #[on(OrderPlaced, name = "billing.charge")]
/// fn charge(_: &OrderPlaced) {}
///
/// let handler = events::registry::handler("billing.charge").unwrap();
/// assert_eq!(handler.event().name(), "OrderPlaced");
/// assert!(events::registry::handler("billing.refund").is_none());
/// ```
pub fn handler(name: &str) -> Option<&'static HandlerInfo> {
    handlers()
        .iter()
        .copied()
        .find(|handler| handler.name() == name)
}

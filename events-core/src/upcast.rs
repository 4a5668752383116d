//! Upcasting: upgrading stored payloads of older event versions to the latest.
//!
//! Events outlive the code that wrote them. When the payload of an event
//! changes incompatibly, the new shape gets a new version, and an upcaster
//! upgrades payloads of the previous version:
//!
//! - A typed upcast, when the previous version still has a Rust type:
//!   `#[event(version = 2, upcast_from = OrderPlacedV1)]` on the new type,
//!   with `impl From<OrderPlacedV1> for OrderPlaced` (or `TryFrom`). The
//!   compiler checks that the conversion exists and that both types share a
//!   name.
//! - A JSON upcaster, when the previous version's type was deleted: a
//!   function over `serde_json::Value` registered with
//!   `#[upcaster(name = "OrderPlaced", from = 1)]`.
//!
//! [`decode`](crate::decode) runs the chain v1 → v2 → v3 and returns the
//! latest version, so the handlers of the latest version receive upgraded
//! events. Handlers of an older version receive only events emitted in that
//! version's own Rust type, or decoded with
//! [`Decoder::keep_version`](crate::Decoder::keep_version).
//!
//! [`registry::validate`] reports every broken
//! chain together, and building a bus runs it. The problems it finds are a
//! version without a path to the latest, two upcasters from one version, a
//! step to a version that does not exist, and upcasters of a name without
//! any event type. A cycle cannot be declared: every step goes to a newer
//! version, which the compiler checks.
//!
//! ```
//! use events::{upcaster, Event};
//! use serde::{Deserialize, Serialize};
//! use serde_json::{json, Value};
//!
//! /// Version 1 had a single `amount` in cents; its type is gone.
//! #[upcaster(name = "RefundIssued", from = 1)]
//! fn refund_v1_to_v2(mut payload: Value) -> Result<Value, String> {
//!     let cents = payload["amount"].take();
//!     Ok(json!({ "order_id": payload["order_id"], "amount_cents": cents, "currency": "EUR" }))
//! }
//!
//! #[derive(Event, Serialize, Deserialize)]
//! #[event(name = "RefundIssued", version = 2)]
//! struct RefundIssued { order_id: u64, amount_cents: u64, currency: String }
//!
//! let stored = br#"{"specversion":"1.0","id":"r-1","source":"shop","type":"RefundIssued","dataversion":1,"data":{"order_id":7,"amount":1250}}"#;
//! let envelope = events::decode(stored).unwrap();
//! assert_eq!(envelope.version(), 2);
//! assert_eq!(envelope.upcast_from(), Some(1));
//! assert_eq!(envelope.payload::<RefundIssued>().unwrap().currency, "EUR");
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::OnceLock;

use crate::event::{EventInfo, StepError};
use crate::registry;

/// A JSON upcaster registered with `#[upcaster(name = "...", from = N)]`.
///
/// ```
/// # use events::upcaster; use serde_json::Value;
/// #[upcaster(name = "CartAbandoned", from = 1, to = 2)]
/// fn cart_v1(payload: Value) -> Result<Value, String> { Ok(payload) }
///
/// let info = events::registry::upcasters().iter().find(|u| u.name() == "CartAbandoned").unwrap();
/// assert_eq!((info.from_version(), info.to_version()), (1, 2));
/// assert!(info.function().ends_with("cart_v1"));
/// ```
pub struct UpcasterInfo {
    name: &'static str,
    from_version: u32,
    to_version: u32,
    function: &'static str,
    file: &'static str,
    line: u32,
    convert: fn(serde_json::Value) -> Result<serde_json::Value, String>,
}

impl UpcasterInfo {
    /// Returns the event name.
    ///
    /// ```
    /// # use events::upcaster; use serde_json::Value;
    /// # #[upcaster(name = "CartAbandoned", from = 1)]
    /// # fn cart_v1(payload: Value) -> Result<Value, String> { Ok(payload) }
    /// let names: Vec<&str> = events::registry::upcasters().iter().map(|u| u.name()).collect();
    /// assert!(names.contains(&"CartAbandoned"));
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Returns the version it upgrades from.
    ///
    /// ```
    /// # use events::upcaster; use serde_json::Value;
    /// # #[upcaster(name = "CartAbandoned", from = 1)]
    /// # fn cart_v1(payload: Value) -> Result<Value, String> { Ok(payload) }
    /// let info = events::registry::upcasters().iter().find(|u| u.name() == "CartAbandoned").unwrap();
    /// assert_eq!(info.from_version(), 1);
    /// ```
    pub fn from_version(&self) -> u32 {
        self.from_version
    }

    /// Returns the version it upgrades to.
    ///
    /// ```
    /// # use events::upcaster; use serde_json::Value;
    /// // Version 2 was never released, so this upcaster skips it.
    /// #[upcaster(name = "CartAbandoned", from = 1, to = 3)]
    /// fn cart_v1(payload: Value) -> Result<Value, String> { Ok(payload) }
    ///
    /// let info = events::registry::upcasters().iter().find(|u| u.name() == "CartAbandoned").unwrap();
    /// assert_eq!(info.to_version(), 3);
    /// ```
    pub fn to_version(&self) -> u32 {
        self.to_version
    }

    /// Returns the function's path, as `module::function`.
    ///
    /// ```
    /// # use events::upcaster; use serde_json::Value;
    /// # #[upcaster(name = "CartAbandoned", from = 1)]
    /// # fn cart_v1(payload: Value) -> Result<Value, String> { Ok(payload) }
    /// let info = events::registry::upcasters().iter().find(|u| u.name() == "CartAbandoned").unwrap();
    /// assert_eq!(info.function(), concat!(module_path!(), "::cart_v1"));
    /// ```
    pub fn function(&self) -> &'static str {
        self.function
    }

    /// Returns the source file of the function.
    ///
    /// ```
    /// # use events::upcaster; use serde_json::Value;
    /// # #[upcaster(name = "CartAbandoned", from = 1)]
    /// # fn cart_v1(payload: Value) -> Result<Value, String> { Ok(payload) }
    /// let info = events::registry::upcasters().iter().find(|u| u.name() == "CartAbandoned").unwrap();
    /// assert_eq!(info.file(), file!());
    /// ```
    pub fn file(&self) -> &'static str {
        self.file
    }

    /// Returns the line of the function's name.
    ///
    /// ```
    /// # use events::upcaster; use serde_json::Value;
    /// #[upcaster(name = "CartAbandoned", from = 1)]
    /// fn cart_v1(payload: Value) -> Result<Value, String> { Ok(payload) }
    /// let declared_at = line!() - 1;
    ///
    /// let info = events::registry::upcasters().iter().find(|u| u.name() == "CartAbandoned").unwrap();
    /// println!("upcaster at {}:{}", info.file(), info.line());
    /// assert_eq!(info.line(), declared_at);
    /// ```
    pub fn line(&self) -> u32 {
        self.line
    }
}

impl fmt::Debug for UpcasterInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpcasterInfo")
            .field("name", &self.name)
            .field("from_version", &self.from_version)
            .field("to_version", &self.to_version)
            .field("function", &self.function)
            .field("file", &self.file)
            .field("line", &self.line)
            .finish()
    }
}

// Not public API. Used by generated code.
#[doc(hidden)]
impl UpcasterInfo {
    pub const fn __new(
        name: &'static str,
        from_version: u32,
        to_version: u32,
        function: &'static str,
        file: &'static str,
        line: u32,
        convert: fn(serde_json::Value) -> Result<serde_json::Value, String>,
    ) -> Self {
        UpcasterInfo {
            name,
            from_version,
            to_version,
            function,
            file,
            line,
            convert,
        }
    }
}

#[doc(hidden)]
pub struct UpcasterRegistration(pub &'static UpcasterInfo);

inventory::collect!(UpcasterRegistration);

/// Returns every registered JSON upcaster, ordered by name and version.
pub(crate) fn upcasters() -> &'static [&'static UpcasterInfo] {
    static UPCASTERS: OnceLock<Vec<&'static UpcasterInfo>> = OnceLock::new();
    UPCASTERS.get_or_init(|| {
        let mut upcasters: Vec<&'static UpcasterInfo> = inventory::iter::<UpcasterRegistration>
            .into_iter()
            .map(|registration| registration.0)
            .collect();
        upcasters.sort_by_key(|upcaster| {
            (
                upcaster.name,
                upcaster.from_version,
                upcaster.to_version,
                upcaster.function,
            )
        });
        upcasters
    })
}

/// One step of an upcast chain.
///
/// ```
/// # use events::Event; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced", version = 1)] struct OrderPlacedV1 { id: u64 }
/// # #[derive(Event, Serialize, Deserialize)] #[event(version = 2, upcast_from = OrderPlacedV1)] struct OrderPlaced { id: u64 }
/// # impl From<OrderPlacedV1> for OrderPlaced { fn from(v: OrderPlacedV1) -> Self { OrderPlaced { id: v.id } } }
/// let steps = events::registry::upcast_steps("OrderPlaced");
/// assert_eq!(steps.len(), 1);
/// assert_eq!((steps[0].from_version(), steps[0].to_version()), (1, 2));
/// assert!(steps[0].to_string().starts_with("v1 -> v2: `From`/`TryFrom` conversion from "));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct UpcastStep {
    name: &'static str,
    from_version: u32,
    to_version: u32,
    kind: StepKind,
}

#[derive(Clone, Copy, Debug)]
enum StepKind {
    Typed {
        from: &'static EventInfo,
        to: &'static EventInfo,
    },
    Json(&'static UpcasterInfo),
}

impl UpcastStep {
    /// Returns the event name.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced", version = 1)] struct OrderPlacedV1 { id: u64 }
    /// # #[derive(Event, Serialize, Deserialize)] #[event(version = 2, upcast_from = OrderPlacedV1)] struct OrderPlaced { id: u64 }
    /// # impl From<OrderPlacedV1> for OrderPlaced { fn from(v: OrderPlacedV1) -> Self { OrderPlaced { id: v.id } } }
    /// let steps = events::registry::upcast_steps("OrderPlaced");
    /// assert_eq!(steps[0].name(), "OrderPlaced");
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Returns the version it upgrades from.
    ///
    /// ```
    /// # use events::{upcaster, Event}; use serde::{Deserialize, Serialize}; use serde_json::Value;
    /// // Version 2 was never released, so the upcaster of version 1 skips it.
    /// #[upcaster(name = "CartAbandoned", from = 1, to = 3)]
    /// fn cart_v1(payload: Value) -> Result<Value, String> { Ok(payload) }
    ///
    /// #[derive(Event, Serialize, Deserialize)]
    /// #[event(version = 3)]
    /// struct CartAbandoned { cart_id: u64 }
    ///
    /// let step = events::registry::upcast_steps("CartAbandoned")[0];
    /// assert_eq!(step.from_version(), 1);
    /// ```
    pub fn from_version(&self) -> u32 {
        self.from_version
    }

    /// Returns the version it upgrades to.
    ///
    /// ```
    /// # use events::{upcaster, Event}; use serde::{Deserialize, Serialize}; use serde_json::Value;
    /// // Version 2 was never released, so the upcaster of version 1 skips it.
    /// #[upcaster(name = "CartAbandoned", from = 1, to = 3)]
    /// fn cart_v1(payload: Value) -> Result<Value, String> { Ok(payload) }
    ///
    /// #[derive(Event, Serialize, Deserialize)]
    /// #[event(version = 3)]
    /// struct CartAbandoned { cart_id: u64 }
    ///
    /// let step = events::registry::upcast_steps("CartAbandoned")[0];
    /// assert_eq!(step.to_version(), 3);
    /// ```
    pub fn to_version(&self) -> u32 {
        self.to_version
    }

    /// Returns the JSON upcaster of this step, or `None` for a typed step.
    ///
    /// ```
    /// # use events::{upcaster, Event}; use serde::{Deserialize, Serialize}; use serde_json::Value;
    /// // Version 2 was never released, so the upcaster of version 1 skips it.
    /// #[upcaster(name = "CartAbandoned", from = 1, to = 3)]
    /// fn cart_v1(payload: Value) -> Result<Value, String> { Ok(payload) }
    ///
    /// #[derive(Event, Serialize, Deserialize)]
    /// #[event(version = 3)]
    /// struct CartAbandoned { cart_id: u64 }
    ///
    /// let step = events::registry::upcast_steps("CartAbandoned")[0];
    /// let upcaster = step.upcaster().expect("version 1 has no Rust type");
    /// assert!(upcaster.function().ends_with("::cart_v1"));
    /// ```
    pub fn upcaster(&self) -> Option<&'static UpcasterInfo> {
        match self.kind {
            StepKind::Json(upcaster) => Some(upcaster),
            StepKind::Typed { .. } => None,
        }
    }

    /// Returns the types of a typed step, previous version first, or `None`
    /// for a JSON upcaster.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] #[event(name = "OrderPlaced", version = 1)] struct OrderPlacedV1 { id: u64 }
    /// # #[derive(Event, Serialize, Deserialize)] #[event(version = 2, upcast_from = OrderPlacedV1)] struct OrderPlaced { id: u64 }
    /// # impl From<OrderPlacedV1> for OrderPlaced { fn from(v: OrderPlacedV1) -> Self { OrderPlaced { id: v.id } } }
    /// let (from, to) = events::registry::upcast_steps("OrderPlaced")[0].types().unwrap();
    /// assert!(from.rust_type().ends_with("::OrderPlacedV1"));
    /// assert!(to.rust_type().ends_with("::OrderPlaced"));
    /// ```
    pub fn types(&self) -> Option<(&'static EventInfo, &'static EventInfo)> {
        match self.kind {
            StepKind::Typed { from, to } => Some((from, to)),
            StepKind::Json(_) => None,
        }
    }

    fn apply(&self, payload: serde_json::Value) -> Result<serde_json::Value, StepError> {
        match self.kind {
            StepKind::Typed { to, .. } => {
                let upcast = to
                    .upcast
                    .expect("a typed step comes from an upcast declaration");
                (upcast.convert)(payload)
            }
            StepKind::Json(upcaster) => (upcaster.convert)(payload).map_err(|message| StepError {
                field: None,
                message,
                input_mismatch: None,
            }),
        }
    }
}

impl fmt::Display for UpcastStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{} -> v{}: ", self.from_version, self.to_version)?;
        match self.kind {
            StepKind::Typed { from, to } => write!(
                f,
                "`From`/`TryFrom` conversion from `{}` to `{}`",
                from.rust_type(),
                to.rust_type()
            ),
            StepKind::Json(upcaster) => write!(
                f,
                "JSON upcaster `{}` ({}:{})",
                upcaster.function, upcaster.file, upcaster.line
            ),
        }
    }
}

/// A broken upcast chain, found when the registry is validated.
///
/// [`registry::validate`] and [`BusBuilder::build`](crate::BusBuilder::build)
/// return every problem in a [`RegistryError`](registry::RegistryError).
///
/// ```
/// # use events::Event; use serde::{Deserialize, Serialize};
/// use events::registry::{self, ChainProblem};
///
/// #[derive(Event, Serialize, Deserialize)]
/// #[event(name = "OrderPlaced", version = 1)]
/// struct OrderPlacedV1 { order_id: u64 }
///
/// // Version 2 lacks `upcast_from = OrderPlacedV1`, so stored v1 events cannot be decoded.
/// #[derive(Event, Serialize, Deserialize)]
/// #[event(version = 2)]
/// struct OrderPlaced { order_id: u64, currency: String }
///
/// let error = registry::validate().unwrap_err();
/// let stranded: Vec<(&str, u32, u32)> = error
///     .chain_problems()
///     .iter()
///     .filter_map(|problem| match problem {
///         ChainProblem::NoPath { name, version, latest, .. } => Some((*name, *version, *latest)),
///         _ => None,
///     })
///     .collect();
/// assert!(stranded.contains(&("OrderPlaced", 1, 2)));
/// eprintln!("{error}");
/// assert!(error.to_string().contains("declare `upcast_from` on the next version's type"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChainProblem {
    /// A version that is not the latest has no step to a newer one, so its
    /// stored events cannot be decoded as the latest.
    NoPath {
        /// The event name.
        name: &'static str,
        /// The stranded version.
        version: u32,
        /// The latest version.
        latest: u32,
        /// The Rust type of the stranded version, if it has one.
        rust_type: Option<&'static str>,
    },
    /// Several steps leave one version.
    TwoUpcasters {
        /// The event name.
        name: &'static str,
        /// The version they all upgrade from.
        from: u32,
        /// The steps, as their descriptions.
        steps: Vec<String>,
    },
    /// A step leads to a version that has neither a Rust type nor a step onward.
    Gap {
        /// The event name.
        name: &'static str,
        /// The step.
        step: String,
        /// The version the step leads to.
        missing: u32,
    },
    /// A step goes from a version to the same or an older one.
    Backwards {
        /// The event name.
        name: &'static str,
        /// The step.
        step: String,
    },
    /// JSON upcasters of a name that no event type has.
    NoEventType {
        /// The event name.
        name: &'static str,
        /// The upcasters, as their descriptions.
        upcasters: Vec<String>,
    },
}

impl fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainProblem::NoPath {
                name,
                version,
                latest,
                rust_type,
            } => {
                write!(f, "`{name}` v{version}")?;
                if let Some(rust_type) = rust_type {
                    write!(f, " (`{rust_type}`)")?;
                }
                write!(
                    f,
                    " has no upcast to a newer version, so stored v{version} events cannot reach v{latest}; declare `upcast_from` on the next version's type or add `#[upcaster(name = \"{name}\", from = {version})]`"
                )
            }
            ChainProblem::TwoUpcasters { name, from, steps } => write!(
                f,
                "`{name}` has {} upcasts from v{from}: {}; keep one",
                steps.len(),
                steps.join("; ")
            ),
            ChainProblem::Gap {
                name,
                step,
                missing,
            } => write!(
                f,
                "`{name}` {step} leads to v{missing}, which has no event type and no upcast onward; register v{missing} or upcast straight to an existing version"
            ),
            ChainProblem::Backwards { name, step } => write!(
                f,
                "`{name}` {step} does not go to a newer version; an upcast goes from an older version to a newer one"
            ),
            ChainProblem::NoEventType { name, upcasters } => write!(
                f,
                "upcasters of `{name}` exist but no event type has that name: {}",
                upcasters.join("; ")
            ),
        }
    }
}

/// The upcast chains of every event name, checked.
struct Chains {
    /// For each name, the step that leaves each version.
    steps: BTreeMap<&'static str, BTreeMap<u32, UpcastStep>>,
    problems: Vec<ChainProblem>,
}

fn chains() -> &'static Chains {
    static CHAINS: OnceLock<Chains> = OnceLock::new();
    CHAINS.get_or_init(|| build_chains(registry::global().all(), upcasters()))
}

fn build_chains(events: &[&'static EventInfo], upcasters: &[&'static UpcasterInfo]) -> Chains {
    let mut all_steps: BTreeMap<&'static str, Vec<UpcastStep>> = BTreeMap::new();
    let mut typed_versions: BTreeMap<&'static str, BTreeMap<u32, &'static EventInfo>> =
        BTreeMap::new();
    for info in events {
        typed_versions
            .entry(info.name())
            .or_default()
            .insert(info.version(), info);
        if let Some(from) = info.upcasts_from() {
            all_steps.entry(info.name()).or_default().push(UpcastStep {
                name: info.name(),
                from_version: from.version(),
                to_version: info.version(),
                kind: StepKind::Typed { from, to: info },
            });
        }
    }
    for upcaster in upcasters {
        all_steps
            .entry(upcaster.name)
            .or_default()
            .push(UpcastStep {
                name: upcaster.name,
                from_version: upcaster.from_version,
                to_version: upcaster.to_version,
                kind: StepKind::Json(upcaster),
            });
    }

    let mut problems = Vec::new();
    let mut steps: BTreeMap<&'static str, BTreeMap<u32, UpcastStep>> = BTreeMap::new();
    let names: BTreeSet<&'static str> = typed_versions
        .keys()
        .chain(all_steps.keys())
        .copied()
        .collect();
    for name in names {
        let typed = typed_versions.get(name);
        let name_steps = all_steps.get(name).map(Vec::as_slice).unwrap_or_default();
        let Some(latest) = typed.and_then(|typed| typed.keys().next_back().copied()) else {
            problems.push(ChainProblem::NoEventType {
                name,
                upcasters: name_steps.iter().map(ToString::to_string).collect(),
            });
            continue;
        };

        let mut leaving: BTreeMap<u32, Vec<UpcastStep>> = BTreeMap::new();
        for step in name_steps {
            if step.to_version <= step.from_version {
                problems.push(ChainProblem::Backwards {
                    name,
                    step: step.to_string(),
                });
                continue;
            }
            leaving.entry(step.from_version).or_default().push(*step);
        }
        let mut chosen = BTreeMap::new();
        let mut ambiguous = BTreeSet::new();
        for (from, candidates) in leaving {
            if candidates.len() > 1 {
                ambiguous.insert(from);
                problems.push(ChainProblem::TwoUpcasters {
                    name,
                    from,
                    steps: candidates.iter().map(ToString::to_string).collect(),
                });
            } else {
                chosen.insert(from, candidates[0]);
            }
        }
        for step in chosen.values() {
            let target = step.to_version;
            let has_type = typed.is_some_and(|typed| typed.contains_key(&target));
            if target != latest && !has_type && !chosen.contains_key(&target) {
                problems.push(ChainProblem::Gap {
                    name,
                    step: step.to_string(),
                    missing: target,
                });
            }
        }
        if let Some(typed) = typed {
            for (&version, info) in typed {
                // A version with several upcasts is reported as such, not as
                // one without any.
                if version != latest
                    && !chosen.contains_key(&version)
                    && !ambiguous.contains(&version)
                {
                    problems.push(ChainProblem::NoPath {
                        name,
                        version,
                        latest,
                        rust_type: Some(info.rust_type()),
                    });
                }
            }
        }
        steps.insert(name, chosen);
    }
    Chains { steps, problems }
}

/// Returns every broken upcast chain.
pub(crate) fn problems() -> &'static [ChainProblem] {
    &chains().problems
}

/// Returns the steps of a name's chain, oldest first.
pub(crate) fn steps_of(name: &str) -> Vec<UpcastStep> {
    chains()
        .steps
        .get(name)
        .map(|steps| steps.values().copied().collect())
        .unwrap_or_default()
}

/// Returns whether stored events of `name` at `version` can be upgraded.
pub(crate) fn has_step_from(name: &str, version: u32) -> bool {
    chains()
        .steps
        .get(name)
        .is_some_and(|steps| steps.contains_key(&version))
}

/// A failed upgrade of one payload.
#[derive(Debug)]
pub(crate) struct UpcastFailure {
    pub(crate) from: u32,
    pub(crate) to: u32,
    pub(crate) field: Option<String>,
    pub(crate) message: String,
}

/// Upgrades a payload of `name` from `version` to `latest`, step by step.
pub(crate) fn upgrade(
    name: &str,
    version: u32,
    latest: u32,
    mut payload: serde_json::Value,
) -> Result<serde_json::Value, UpcastFailure> {
    let Some(steps) = chains().steps.get(name) else {
        return Err(UpcastFailure {
            from: version,
            to: latest,
            field: None,
            message: "no upcast is registered for this event".to_owned(),
        });
    };
    let mut current = version;
    // The JSON upcaster that produced `payload`, if one did.
    let mut produced_by: Option<&UpcastStep> = None;
    while current != latest {
        let Some(step) = steps.get(&current) else {
            return Err(UpcastFailure {
                from: current,
                to: latest,
                field: None,
                message: format!("no upcast from v{current}"),
            });
        };
        payload = step
            .apply(payload)
            .map_err(|error| step_failure(step, produced_by, error))?;
        produced_by = matches!(step.kind, StepKind::Json(_)).then_some(step);
        current = step.to_version;
    }
    Ok(payload)
}

/// Describes a JSON upcaster's output that the next type rejects.
pub(crate) fn output_mismatch(rust_type: &str, detail: &str) -> String {
    format!("its output does not fit `{rust_type}`: {detail}")
}

/// Describes a failed step. When a typed step rejected what a JSON upcaster
/// wrote, the upcaster is at fault, not the stored payload or the conversion.
fn step_failure(
    step: &UpcastStep,
    produced_by: Option<&UpcastStep>,
    error: StepError,
) -> UpcastFailure {
    match (error.input_mismatch, produced_by) {
        (Some((rust_type, detail)), Some(upcaster)) => UpcastFailure {
            from: upcaster.from_version,
            to: upcaster.to_version,
            field: error.field,
            message: output_mismatch(rust_type, &detail),
        },
        _ => UpcastFailure {
            from: step.from_version,
            to: step.to_version,
            field: error.field,
            message: error.message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_upcaster(name: &'static str, from: u32, to: u32) -> &'static UpcasterInfo {
        Box::leak(Box::new(UpcasterInfo::__new(
            name,
            from,
            to,
            "tests::up",
            "upcast.rs",
            1,
            Ok,
        )))
    }

    #[test]
    fn upcasters_without_event_type_are_reported() {
        let chains = build_chains(&[], &[json_upcaster("Ghost", 1, 2)]);
        assert_eq!(chains.problems.len(), 1);
        assert!(matches!(
            chains.problems[0],
            ChainProblem::NoEventType { name: "Ghost", .. }
        ));
    }
}

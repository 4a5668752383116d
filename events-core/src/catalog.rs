//! A catalog of every registered event and the handlers that consume it, as
//! JSON, as a Markdown page and as an AsyncAPI 3.0.0 document.
//!
//! [`Catalog::new`] describes the program-wide registry with every
//! registered handler. [`Catalog::for_bus`] describes the handlers one bus
//! runs, in the order it resolved, without the handlers it disabled.
//!
//! ```
//! use events::catalog::{AsyncApiInfo, Catalog};
//! use events::{on, Event};
//! use serde::{Deserialize, Serialize};
//!
//! /// A customer placed an order.
//! #[derive(Event, Serialize, Deserialize)]
//! #[event(name = "OrderPlaced", version = 1, kind = "integration")]
//! struct OrderPlaced {
//!     /// Order number.
//!     order_id: u64,
//! }
//!
//! #[on(OrderPlaced, name = "billing.charge", priority = 10)]
//! fn charge(_: &OrderPlaced) {}
//!
//! let catalog = Catalog::for_bus(&events::Bus::new());
//!
//! let json = catalog.to_json();
//! assert_eq!(json["events"][0]["name"], "OrderPlaced");
//! assert_eq!(json["events"][0]["handlers"][0]["name"], "billing.charge");
//!
//! assert!(catalog.to_markdown().contains("## OrderPlaced"));
//!
//! let document = catalog.to_asyncapi(&AsyncApiInfo::new("Shop", "1.0.0"));
//! assert_eq!(document["asyncapi"], "3.0.0");
//! assert_eq!(document["operations"]["billing.charge"]["action"], "receive");
//! ```
//!
//! # JSON
//!
//! [`Catalog::to_json`] returns an object with one key, `events`: every
//! event ordered by name and then version, each an object with
//!
//! | Key | Value |
//! |---|---|
//! | `name`, `version`, `kind` | the event's name, version and `"domain"` or `"integration"` |
//! | `description` | the doc comment of the type, `""` if undocumented |
//! | `rust_type`, `module`, `location` | the Rust path of the type, its module and `"file:line"` |
//! | `fields` | `[{"name", "type", "description"}]` in declaration order |
//! | `schema` | the JSON Schema of the payload ([`EventInfo::schema`]), or `null` |
//! | `deprecated` | the deprecation reason, or `null` |
//! | `upcasts` | the upcast chain of the event's name, oldest step first (below) |
//! | `handlers` | the consumers in run order (below) |
//!
//! An upcast step is `{"from_version", "to_version", "kind", "location"}`.
//! `kind` is `"typed"` for `#[event(upcast_from = ...)]`, with `from_type`
//! and `to_type` and the location of the newer type, or `"json"` for an
//! `#[upcaster]` function, with `function` and the location of the function.
//!
//! A handler is `{"name", "function", "priority", "after", "before",
//! "retry", "on_failure", "timeout", "concurrency", "async",
//! "takes_envelope", "replay", "state", "location"}`. `replay` is `false`
//! for handlers that skip replayed events. `retry` is the policy's
//! `Display` form (`"3 attempts, fixed 20ms"`), `timeout` the `Debug` form of
//! the duration (`"2s"`), and `null` in `retry`, `on_failure`, `timeout` or
//! `concurrency` means that the attribute does not set it, so the bus
//! default applies. `state` lists the type names of the handler's
//! [`State`](crate::State) parameters.
//!
//! # AsyncAPI
//!
//! [`Catalog::to_asyncapi`] returns an AsyncAPI 3.0.0 document. Each event
//! name and version becomes one channel and one message, both keyed
//! `<name>.v<version>`, and each handler becomes an operation of action
//! `receive` on that channel, keyed by the handler name. Characters other
//! than ASCII letters, digits, `.`, `-` and `_` in these keys become `_`.
//!
//! - A channel's `address` is the event name, which envelopes carry in the
//!   CloudEvents `type` attribute. Versions share it, and the `dataversion`
//!   attribute distinguishes them.
//! - A message describes the event's payload, the `data` member of its
//!   CloudEvents envelope, so its `contentType` is `application/json`. The
//!   payload is a reference to `components.schemas`, present when the event
//!   has a JSON Schema. The version is in `x-events-version`, and
//!   `x-events-*` fields carry the kind, Rust type, location, fields,
//!   deprecation reason and upcast chain.
//! - An operation's `x-events-handler` is the handler object of the JSON
//!   catalog, and `x-events-order` its 1-based position in the run order.
//!
//! AsyncAPI 3.0.0 requires tools to support JSON Schema draft-07 but names
//! no format for draft 2020-12, which `schemars` writes. So each schema is
//! converted into an AsyncAPI Schema Object, the default schema format and a
//! superset of draft-07: `$schema` is dropped, the definitions in `$defs`
//! (or draft-07 `definitions`) move to `components.schemas` under
//! `<message key>.<definition>` with their `$ref`s rewritten, and
//! `prefixItems` becomes the draft-07 array form of `items`.

use std::any::TypeId;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::{self, Write as _};

use serde_json::{json, Map, Value};

use crate::bus::Bus;
use crate::compat::{self, CompatError, Lock, LockError, LockedVersion, Mode};
use crate::event::EventInfo;
use crate::handler::HandlerInfo;
use crate::registry;

/// Every registered event with the handlers that consume it, in run order.
///
/// ```
/// let catalog = events::catalog::Catalog::new();
/// let json = catalog.to_json();
/// assert_eq!(json["events"].as_array().unwrap().len(), events::registry::all().len());
/// ```
#[derive(Clone, Debug)]
pub struct Catalog {
    entries: Vec<Entry>,
}

#[derive(Clone, Debug)]
struct Entry {
    info: &'static EventInfo,
    handlers: Vec<&'static HandlerInfo>,
}

impl Catalog {
    /// Builds the catalog of the program-wide registry and every registered
    /// handler, in the order [`registry::handlers`] gives.
    ///
    /// # Panics
    ///
    /// Panics if the registry is invalid (see [`registry::validate`]).
    ///
    /// ```
    /// let markdown = events::catalog::Catalog::new().to_markdown();
    /// assert!(markdown.starts_with("# Event catalog\n"));
    /// ```
    pub fn new() -> Catalog {
        let mut by_event: HashMap<TypeId, Vec<&'static HandlerInfo>> = HashMap::new();
        for handler in registry::handlers() {
            by_event
                .entry(handler.event_type_id())
                .or_default()
                .push(handler);
        }
        Catalog::from_events(|info| by_event.remove(&info.type_id()).unwrap_or_default())
    }

    /// Builds the catalog of the program-wide registry with the handlers
    /// that `bus` runs, in the order it runs them.
    ///
    /// # Panics
    ///
    /// Panics if the registry is invalid, which [`BusBuilder::build`](crate::BusBuilder::build)
    /// reports before a bus exists.
    ///
    /// ```
    /// # use events::{on, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// #[on(OrderPlaced, name = "audit")]
    /// fn audit(_: &OrderPlaced) {}
    ///
    /// let bus = events::Bus::builder().disable("audit").build().unwrap();
    /// let json = events::catalog::Catalog::for_bus(&bus).to_json();
    /// assert_eq!(json["events"][0]["handlers"], serde_json::json!([]));
    /// ```
    pub fn for_bus(bus: &Bus) -> Catalog {
        Catalog::from_events(|info| bus.handlers_of_type(info.type_id()))
    }

    fn from_events(
        mut handlers_of: impl FnMut(&EventInfo) -> Vec<&'static HandlerInfo>,
    ) -> Catalog {
        let entries = registry::all()
            .iter()
            .map(|&info| Entry {
                info,
                handlers: handlers_of(info),
            })
            .collect();
        Catalog { entries }
    }

    /// Describes every event and its consumers as JSON. The module
    /// documentation lists the keys.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// /// A cart was emptied.
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct CartCleared { cart_id: u64 }
    ///
    /// let json = events::catalog::Catalog::new().to_json();
    /// let event = &json["events"][0];
    /// assert_eq!(event["description"], "A cart was emptied.");
    /// assert_eq!(event["fields"][0]["type"], "u64");
    /// ```
    pub fn to_json(&self) -> Value {
        let mut chains = UpcastChains::default();
        let events: Vec<Value> = self
            .entries
            .iter()
            .map(|entry| {
                let upcasts = chains.of(entry.info.name());
                event_json(entry, upcasts)
            })
            .collect();
        json!({ "events": events })
    }

    /// Renders a Markdown page: a table of contents, then one section per
    /// event name with each version's description, fields and consumers,
    /// and the name's upcast chain.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct CartCleared { cart_id: u64 }
    ///
    /// let page = events::catalog::Catalog::new().to_markdown();
    /// assert!(page.contains("- [CartCleared](#cartcleared): v1\n"));
    /// assert!(page.contains("| `cart_id` | `u64` |  |\n"));
    /// ```
    pub fn to_markdown(&self) -> String {
        render_markdown(self)
    }

    /// Builds an AsyncAPI 3.0.0 document with `info` as its `info` object.
    /// The module documentation describes the mapping.
    ///
    /// ```
    /// # use events::{on, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct CartCleared;
    /// # #[on(CartCleared, name = "carts.archive")] fn archive(_: &CartCleared) {}
    /// use events::catalog::{AsyncApiInfo, Catalog};
    ///
    /// let info = AsyncApiInfo::new("Carts", "2.1.0").with_description("Cart events.");
    /// let document = Catalog::new().to_asyncapi(&info);
    /// assert_eq!(document["info"]["title"], "Carts");
    /// assert_eq!(document["channels"]["CartCleared.v1"]["address"], "CartCleared");
    /// assert_eq!(
    ///     document["operations"]["carts.archive"]["channel"]["$ref"],
    ///     "#/channels/CartCleared.v1"
    /// );
    /// ```
    pub fn to_asyncapi(&self, info: &AsyncApiInfo) -> Value {
        render_asyncapi(self, info)
    }
}

impl Catalog {
    /// Records the payload schema of every event in a [`Lock`], to write
    /// next to the code and commit.
    ///
    /// # Errors
    ///
    /// Returns [`CheckError::MissingSchemas`] listing the events without a
    /// schema: a lock without them could not detect their breaks. Schemas
    /// need the `schema` feature and `schemars::JsonSchema` on the payload.
    ///
    /// ```
    /// # use events::Event; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct CartCleared { cart_id: u64 }
    /// use events::catalog::{Catalog, CheckError};
    ///
    /// // Without `schemars::JsonSchema` on `CartCleared`, it cannot be locked.
    /// let Err(CheckError::MissingSchemas(names)) = Catalog::new().lock() else { panic!() };
    /// assert_eq!(names, ["CartCleared v1"]);
    /// ```
    pub fn lock(&self) -> Result<Lock, CheckError> {
        let mut lock = Lock::new();
        let mut missing = Vec::new();
        for entry in &self.entries {
            let info = entry.info;
            match info.schema() {
                Some(schema) => {
                    let mut locked = LockedVersion::new(schema).with_kind(info.kind().to_string());
                    let step = registry::upcast_steps(info.name())
                        .into_iter()
                        .find(|step| step.to_version() == info.version());
                    if let Some(step) = step {
                        locked = locked.with_upcast_from(step.from_version());
                    }
                    lock.insert(info.name(), info.version(), locked);
                }
                None => missing.push(format!("{} v{}", info.name(), info.version())),
            }
        }
        if missing.is_empty() {
            Ok(lock)
        } else {
            Err(CheckError::MissingSchemas(missing))
        }
    }

    /// Compares the events of this catalog with a lock written earlier,
    /// under `mode`, and reports every break field by field.
    ///
    /// # Errors
    ///
    /// Returns the breaks, or the events without a schema.
    ///
    /// ```
    /// use events::catalog::{Catalog, CheckError};
    /// use events::compat::{Lock, Mode};
    ///
    /// // An empty program against an empty lock: nothing can break.
    /// # if events::registry::all().is_empty() {
    /// Catalog::new().check(&Lock::new(), Mode::BackwardTransitive).unwrap();
    /// # }
    /// ```
    ///
    /// A version recorded in `lock` whose type was deleted is not a break
    /// when a JSON upcaster (`#[upcaster]`) upgrades it: the check keeps its
    /// recorded schema, because stored events of it still decode.
    pub fn check(&self, lock: &Lock, mode: Mode) -> Result<(), CheckError> {
        let current = self.lock_keeping_upcast_versions(lock)?;
        compat::check(lock, &current, mode).map_err(CheckError::Incompatible)
    }

    /// Returns the lock to write after this catalog passed
    /// [`check`](Catalog::check) against `lock`. It contains the current
    /// schemas, and each changed version keeps its recorded schemas as
    /// earlier ones (see [`Lock::updated_with`]). Recorded versions whose
    /// type was deleted stay when a JSON upcaster still upgrades them.
    ///
    /// # Errors
    ///
    /// Returns [`CheckError::MissingSchemas`] as [`lock`](Catalog::lock) does.
    ///
    /// ```
    /// use events::catalog::Catalog;
    /// use events::compat::Lock;
    ///
    /// # if events::registry::all().is_empty() {
    /// let updated = Catalog::new().updated_lock(&Lock::new()).unwrap();
    /// assert!(updated.is_empty());
    /// # }
    /// ```
    pub fn updated_lock(&self, lock: &Lock) -> Result<Lock, CheckError> {
        Ok(lock.updated_with(&self.lock_keeping_upcast_versions(lock)?))
    }

    /// Builds the current lock, plus each version of `recorded` that has no
    /// type any more but is the start of a JSON upcaster.
    fn lock_keeping_upcast_versions(&self, recorded: &Lock) -> Result<Lock, CheckError> {
        let mut current = self.lock()?;
        for name in recorded.event_names() {
            let steps = registry::upcast_steps(name);
            for (version, locked) in recorded.versions(name) {
                let upgraded = steps.iter().any(|step| step.from_version() == version);
                if upgraded && current.get(name, version).is_none() {
                    current.insert(name, version, locked.clone());
                }
            }
        }
        Ok(current)
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Checks the program's events against the lock file at `path`, for a test
/// such as `#[test] fn events_are_compatible()`.
///
/// When the file does not exist, writes it and passes, so that the first run
/// records the catalog. When the check passes and the catalog changed, for
/// example by an added optional field or a new version, rewrites the file
/// with [`Catalog::updated_lock`]. The next check then starts from the
/// current schemas, and the transitive modes also see the earlier ones.
/// Commit the file after each change. To accept an intended break, delete
/// the file and run the test again.
///
/// # Errors
///
/// Returns the breaks with their fixes, events without a schema, a lock
/// file that cannot be read or written, or [`CheckError::NoEvents`] when the
/// program registers no event.
///
/// ```no_run
/// #[test]
/// fn events_are_compatible() {
///     events::catalog::check("events.lock.json", events::compat::Mode::BackwardTransitive)
///         .unwrap_or_else(|error| panic!("{error}"));
/// }
/// ```
pub fn check(path: impl AsRef<std::path::Path>, mode: Mode) -> Result<(), CheckError> {
    let path = path.as_ref();
    let catalog = Catalog::new();
    if catalog.is_empty() {
        return Err(CheckError::NoEvents);
    }
    if !path.exists() {
        catalog.lock()?.write(path).map_err(CheckError::Lock)?;
        return Ok(());
    }
    let lock = Lock::read(path).map_err(CheckError::Lock)?;
    let current = catalog.lock_keeping_upcast_versions(&lock)?;
    compat::check(&lock, &current, mode).map_err(CheckError::Incompatible)?;
    let updated = lock.updated_with(&current);
    if updated != lock {
        updated.write(path).map_err(CheckError::Lock)?;
    }
    Ok(())
}

/// The reason the catalog could not be locked or checked.
///
/// ```
/// # use events::Event; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct CartCleared { cart_id: u64 }
/// use events::catalog::{Catalog, CheckError};
/// use events::compat::{Lock, Mode};
///
/// // `CartCleared` does not derive `schemars::JsonSchema`, so it has no schema to compare.
/// let error = Catalog::new().check(&Lock::new(), Mode::BackwardTransitive).unwrap_err();
/// match &error {
///     CheckError::MissingSchemas(events) => assert!(events.contains(&"CartCleared v1".to_owned())),
///     CheckError::Incompatible(breaks) => panic!("breaking changes: {breaks}"),
///     other => panic!("{other}"),
/// }
/// eprintln!("{error}");
/// assert!(error.to_string().contains("derive `schemars::JsonSchema` on their payloads"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// Events whose payload has no JSON Schema, as `Name vN`.
    #[error(
        "events without a JSON Schema cannot be locked or checked: {}; enable the `schema` feature and derive `schemars::JsonSchema` on their payloads",
        .0.join(", ")
    )]
    MissingSchemas(Vec<String>),
    /// Changes that break consumers under the chosen mode.
    #[error(transparent)]
    Incompatible(CompatError),
    /// The lock file could not be read or written.
    #[error(transparent)]
    Lock(LockError),
    /// The program registers no event, so a lock written now would be empty
    /// and every later check would pass.
    #[error(
        "no event is registered in this program, so there is nothing to lock or check; \
         in an integration test, the linker may drop the events of the crate under test \
         when the test uses none of its items, so use one before the check, for example \
         `events::registry::of::<my_service::OrderPlaced>()`"
    )]
    NoEvents,
}

impl Default for Catalog {
    /// Builds the catalog of [`Catalog::new`].
    fn default() -> Catalog {
        Catalog::new()
    }
}

/// The `info` object of an AsyncAPI document: the application's title and
/// API version, and an optional description (CommonMark).
///
/// ```
/// let info = events::catalog::AsyncApiInfo::new("Marketplace", "1.4.0");
/// assert_eq!(info.title, "Marketplace");
/// assert_eq!(info.description, None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsyncApiInfo {
    /// The title of the application.
    pub title: String,
    /// The version of the application's API, not of the AsyncAPI specification.
    pub version: String,
    /// A description of the application.
    pub description: Option<String>,
}

impl AsyncApiInfo {
    /// Creates an `info` object without a description.
    ///
    /// ```
    /// let info = events::catalog::AsyncApiInfo::new("Shop", "1.0.0");
    /// assert_eq!(info.version, "1.0.0");
    /// ```
    pub fn new(title: impl Into<String>, version: impl Into<String>) -> AsyncApiInfo {
        AsyncApiInfo {
            title: title.into(),
            version: version.into(),
            description: None,
        }
    }

    /// Sets the description.
    ///
    /// ```
    /// let info = events::catalog::AsyncApiInfo::new("Shop", "1.0.0").with_description("Orders.");
    /// assert_eq!(info.description.as_deref(), Some("Orders."));
    /// ```
    pub fn with_description(mut self, description: impl Into<String>) -> AsyncApiInfo {
        self.description = Some(description.into());
        self
    }
}

// ---------------------------------------------------------------------------
// JSON objects shared by the JSON catalog and the AsyncAPI document
// ---------------------------------------------------------------------------

fn event_json(entry: &Entry, upcasts: &[Value]) -> Value {
    let info = entry.info;
    let handlers: Vec<Value> = entry.handlers.iter().map(|h| handler_json(h)).collect();
    json!({
        "name": info.name(),
        "version": info.version(),
        "kind": info.kind().as_str(),
        "description": info.doc(),
        "rust_type": info.rust_type(),
        "module": info.module_path(),
        "location": location(info.file(), info.line()),
        "fields": fields_json(info),
        "schema": info.schema(),
        "deprecated": info.deprecated(),
        "upcasts": upcasts,
        "handlers": handlers,
    })
}

fn fields_json(info: &EventInfo) -> Value {
    info.fields()
        .iter()
        .map(|field| {
            json!({
                "name": field.name(),
                "type": field.ty(),
                "description": field.doc(),
            })
        })
        .collect()
}

fn handler_json(handler: &HandlerInfo) -> Value {
    let state: Vec<&str> = handler
        .requirements()
        .map(|requirement| requirement.type_name())
        .collect();
    json!({
        "name": handler.name(),
        "function": handler.function(),
        "priority": handler.priority(),
        "after": handler.after(),
        "before": handler.before(),
        "retry": handler.retry().map(|retry| retry.to_string()),
        "on_failure": handler.on_failure().map(|policy| policy.to_string()),
        "timeout": handler.timeout().map(|timeout| format!("{timeout:?}")),
        "concurrency": handler.concurrency().map(|concurrency| concurrency.to_string()),
        "async": handler.is_async(),
        "takes_envelope": handler.takes_envelope(),
        "replay": handler.replays(),
        "state": state,
        "location": location(handler.file(), handler.line()),
    })
}

fn location(file: &str, line: u32) -> String {
    format!("{file}:{line}")
}

/// The upcast chains of event names as JSON step objects, computed once per name.
#[derive(Default)]
struct UpcastChains {
    by_name: HashMap<&'static str, Vec<Value>>,
}

impl UpcastChains {
    fn of(&mut self, name: &'static str) -> &[Value] {
        self.by_name
            .entry(name)
            .or_insert_with(|| upcast_chain(name))
    }
}

/// Lists the typed upcasts and JSON upcasters of `name`, ordered by the
/// version they upgrade from.
fn upcast_chain(name: &str) -> Vec<Value> {
    let mut steps: Vec<(u32, u32, Value)> = Vec::new();
    for &info in registry::versions(name) {
        if let Some(previous) = info.upcasts_from() {
            steps.push((
                previous.version(),
                info.version(),
                json!({
                    "from_version": previous.version(),
                    "to_version": info.version(),
                    "kind": "typed",
                    "from_type": previous.rust_type(),
                    "to_type": info.rust_type(),
                    "location": location(info.file(), info.line()),
                }),
            ));
        }
    }
    for upcaster in registry::upcasters() {
        if upcaster.name() == name {
            steps.push((
                upcaster.from_version(),
                upcaster.to_version(),
                json!({
                    "from_version": upcaster.from_version(),
                    "to_version": upcaster.to_version(),
                    "kind": "json",
                    "function": upcaster.function(),
                    "location": location(upcaster.file(), upcaster.line()),
                }),
            ));
        }
    }
    // Two steps from one version are a broken chain that `validate` reports.
    // Ordering ties by the JSON text keeps even such a chain deterministic.
    steps.sort_by_cached_key(|step| (step.0, step.1, step.2.to_string()));
    steps.into_iter().map(|(_, _, step)| step).collect()
}

/// Returns the first paragraph of a doc comment on one line.
fn summary(doc: &str) -> String {
    let lines: Vec<&str> = doc
        .lines()
        .map(str::trim)
        .take_while(|line| !line.is_empty())
        .collect();
    lines.join(" ")
}

/// Groups the entries by event name, keeping the registry order.
fn by_name(entries: &[Entry]) -> BTreeMap<&'static str, Vec<&Entry>> {
    let mut groups: BTreeMap<&'static str, Vec<&Entry>> = BTreeMap::new();
    for entry in entries {
        groups.entry(entry.info.name()).or_default().push(entry);
    }
    groups
}

/// Hands out keys that match `^[A-Za-z0-9._-]+$`, the pattern AsyncAPI
/// requires of component keys, unique within one set.
#[derive(Default)]
struct Keys {
    taken: HashSet<String>,
}

impl Keys {
    fn unique(&mut self, raw: &str) -> String {
        let base = sanitize_key(raw);
        let mut key = base.clone();
        let mut suffix = 2;
        while !self.taken.insert(key.clone()) {
            key = format!("{base}-{suffix}");
            suffix += 1;
        }
        key
    }
}

fn sanitize_key(raw: &str) -> String {
    let key: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if key.is_empty() {
        "_".to_owned()
    } else {
        key
    }
}

/// Writes to a `String`, which cannot fail.
fn push(out: &mut String, args: fmt::Arguments<'_>) {
    out.write_fmt(args)
        .expect("writing to a String cannot fail");
}

/// Builds an object from key-value pairs, leaving out `None` values.
fn object(pairs: impl IntoIterator<Item = (&'static str, Option<Value>)>) -> Value {
    let map: Map<String, Value> = pairs
        .into_iter()
        .filter_map(|(key, value)| value.map(|value| (key.to_owned(), value)))
        .collect();
    Value::Object(map)
}

// ---------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------

fn render_markdown(catalog: &Catalog) -> String {
    let groups = by_name(&catalog.entries);
    let handler_count: usize = catalog.entries.iter().map(|e| e.handlers.len()).sum();
    let mut slugs = Slugs::default();
    let mut chains = UpcastChains::default();

    let mut page = String::new();
    push(&mut page, format_args!("# {}\n\n", "Event catalog"));
    slugs.add("Event catalog");
    push(
        &mut page,
        format_args!(
            "{} event versions under {} names, consumed by {handler_count} handlers.\n\n",
            catalog.entries.len(),
            groups.len()
        ),
    );
    push(&mut page, format_args!("## Contents\n\n"));
    slugs.add("Contents");

    let mut sections = String::new();
    for (name, versions) in &groups {
        let slug = slugs.add(name);
        let listed: Vec<String> = versions
            .iter()
            .map(|entry| format!("v{}", entry.info.version()))
            .collect();
        push(
            &mut page,
            format_args!(
                "- [{}](#{slug}): {}\n",
                escape_text(name),
                listed.join(", ")
            ),
        );
        write_name_section(&mut sections, &mut slugs, name, versions, chains.of(name));
    }
    if groups.is_empty() {
        push(&mut page, format_args!("No events are registered.\n"));
    }
    page.push_str(&sections);
    page
}

fn write_name_section(
    out: &mut String,
    slugs: &mut Slugs,
    name: &str,
    versions: &[&Entry],
    upcasts: &[Value],
) {
    push(out, format_args!("\n## {}\n", escape_text(name)));
    for entry in versions {
        let heading = format!("{name} v{}", entry.info.version());
        slugs.add(&heading);
        push(out, format_args!("\n### {}\n\n", escape_text(&heading)));
        write_version(out, entry);
    }
    if !upcasts.is_empty() {
        let heading = format!("Upcast chain of {name}");
        slugs.add(&heading);
        push(out, format_args!("\n### {}\n\n", escape_text(&heading)));
        for step in upcasts {
            write_upcast_step(out, step);
        }
    }
}

fn write_version(out: &mut String, entry: &Entry) {
    let info = entry.info;
    if let Some(reason) = info.deprecated() {
        push(
            out,
            format_args!("> **Deprecated:** {}\n\n", one_line(reason)),
        );
    }
    if info.doc().is_empty() {
        push(out, format_args!("_Undocumented._\n\n"));
    } else {
        push(out, format_args!("{}\n\n", info.doc()));
    }
    push(out, format_args!("- Kind: {}\n", info.kind()));
    push(
        out,
        format_args!("- Rust type: {}\n", code(info.rust_type())),
    );
    push(
        out,
        format_args!(
            "- Declared in {} at {}\n\n",
            code(info.module_path()),
            code(&location(info.file(), info.line()))
        ),
    );
    write_fields(out, info);
    write_consumers(out, &entry.handlers);
    let latest = registry::latest(info.name()).map_or(info.version(), EventInfo::version);
    if latest > info.version() {
        push(
            out,
            format_args!(
                "\nDecoding upgrades stored events of this version to v{latest}, so the \
                 consumers of v{latest} receive them.\n"
            ),
        );
    }
}

fn write_fields(out: &mut String, info: &EventInfo) {
    if info.fields().is_empty() {
        push(out, format_args!("No fields.\n\n"));
        return;
    }
    push(
        out,
        format_args!("| Field | Type | Description |\n|---|---|---|\n"),
    );
    for field in info.fields() {
        push(
            out,
            format_args!(
                "| {} | {} | {} |\n",
                cell(&code(field.name())),
                cell(&code(field.ty())),
                cell(field.doc())
            ),
        );
    }
    out.push('\n');
}

fn write_consumers(out: &mut String, handlers: &[&HandlerInfo]) {
    if handlers.is_empty() {
        push(out, format_args!("No consumers.\n"));
        return;
    }
    push(out, format_args!("Consumers, in run order:\n\n"));
    push(
        out,
        format_args!(
            "| # | Handler | Priority | Call | Options | State | Defined at |\n\
             |---|---|---|---|---|---|---|\n"
        ),
    );
    for (index, handler) in handlers.iter().enumerate() {
        let call = format!(
            "{}, takes {}",
            if handler.is_async() { "async" } else { "sync" },
            if handler.takes_envelope() {
                code("&Envelope<E>")
            } else {
                code("&E")
            }
        );
        let options = handler_options(handler);
        let state: Vec<String> = handler
            .requirements()
            .map(|requirement| code(requirement.type_name()))
            .collect();
        push(
            out,
            format_args!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                index + 1,
                cell(&code(handler.name())),
                handler.priority(),
                cell(&call),
                cell(&options),
                cell(&state.join(", ")),
                cell(&code(&location(handler.file(), handler.line()))),
            ),
        );
    }
}

/// Lists the options a handler's attribute sets. The others take the bus defaults.
fn handler_options(handler: &HandlerInfo) -> String {
    let mut options = Vec::new();
    if !handler.after().is_empty() {
        let names: Vec<String> = handler.after().iter().map(|name| code(name)).collect();
        options.push(format!("after {}", names.join(", ")));
    }
    if !handler.before().is_empty() {
        let names: Vec<String> = handler.before().iter().map(|name| code(name)).collect();
        options.push(format!("before {}", names.join(", ")));
    }
    if let Some(retry) = handler.retry() {
        options.push(format!("retry {retry}"));
    }
    if let Some(on_failure) = handler.on_failure() {
        options.push(format!("on failure {on_failure}"));
    }
    if let Some(timeout) = handler.timeout() {
        options.push(format!("timeout {timeout:?}"));
    }
    if let Some(concurrency) = handler.concurrency() {
        options.push(concurrency.to_string());
    }
    if options.is_empty() {
        "bus defaults".to_owned()
    } else {
        options.join("; ")
    }
}

fn write_upcast_step(out: &mut String, step: &Value) {
    let from = &step["from_version"];
    let to = &step["to_version"];
    let place = code(step["location"].as_str().unwrap_or_default());
    if step["kind"] == "typed" {
        let from_type = code(step["from_type"].as_str().unwrap_or_default());
        push(
            out,
            format_args!(
                "- v{from} to v{to}: typed upcast from {from_type}, declared at {place}\n"
            ),
        );
    } else {
        let function = code(step["function"].as_str().unwrap_or_default());
        push(
            out,
            format_args!("- v{from} to v{to}: JSON upcaster {function} at {place}\n"),
        );
    }
}

/// Wraps text in a code span, with longer fences when it contains backticks.
fn code(text: &str) -> String {
    if !text.contains('`') {
        return format!("`{text}`");
    }
    let longest_run = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest_run + 1);
    format!("{fence} {text} {fence}")
}

/// Makes text fit one table cell: one line, with `|` escaped.
fn cell(text: &str) -> String {
    one_line(text).replace('|', "\\|")
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Escapes the characters that Markdown would read as inline syntax.
fn escape_text(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|'
        ) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Heading anchors as GitHub generates them: lowercase, spaces to `-`, other
/// punctuation than `-` and `_` dropped, and `-1`, `-2`, ... appended to
/// repeats, counted over the whole page.
#[derive(Default)]
struct Slugs {
    seen: HashMap<String, usize>,
}

impl Slugs {
    fn add(&mut self, heading: &str) -> String {
        let base: String = heading
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                '-' | '_' => Some(c),
                c if c.is_alphanumeric() => Some(c),
                _ => None,
            })
            .collect();
        let repeats = self.seen.entry(base.clone()).or_insert(0);
        let slug = if *repeats == 0 {
            base
        } else {
            format!("{base}-{repeats}")
        };
        *repeats += 1;
        slug
    }
}

// ---------------------------------------------------------------------------
// AsyncAPI
// ---------------------------------------------------------------------------

/// The `contentType` of every message: the payload is the CloudEvents `data`.
const CONTENT_TYPE: &str = "application/json";

fn render_asyncapi(catalog: &Catalog, info: &AsyncApiInfo) -> Value {
    let mut channels = Map::new();
    let mut messages = Map::new();
    let mut operations = Map::new();
    let mut schemas = Map::new();
    let mut message_keys = Keys::default();
    let mut schema_keys = Keys::default();
    let mut operation_keys = Keys::default();
    let mut chains = UpcastChains::default();

    for entry in &catalog.entries {
        let event = entry.info;
        let key = message_keys.unique(&format!("{}.v{}", event.name(), event.version()));
        let payload = event
            .schema()
            .map(|schema| add_schema(&mut schemas, &mut schema_keys, &key, schema));
        let upcasts = chains.of(event.name());
        messages.insert(key.clone(), message_json(entry, payload, upcasts));
        channels.insert(key.clone(), channel_json(event, &key));
        for (index, handler) in entry.handlers.iter().enumerate() {
            let operation_key = operation_keys.unique(handler.name());
            operations.insert(operation_key, operation_json(handler, index, &key));
        }
    }

    let info_object = object([
        ("title", Some(json!(info.title))),
        ("version", Some(json!(info.version))),
        ("description", info.description.as_ref().map(|d| json!(d))),
    ]);
    json!({
        "asyncapi": "3.0.0",
        "info": info_object,
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": schemas,
        },
    })
}

fn channel_json(event: &EventInfo, key: &str) -> Value {
    let summary = summary(event.doc());
    object([
        ("address", Some(json!(event.name()))),
        (
            "title",
            Some(json!(format!("{} v{}", event.name(), event.version()))),
        ),
        ("summary", (!summary.is_empty()).then(|| json!(summary))),
        (
            "messages",
            Some(json!({ key: { "$ref": format!("#/components/messages/{key}") } })),
        ),
    ])
}

fn message_json(entry: &Entry, payload: Option<Value>, upcasts: &[Value]) -> Value {
    let event = entry.info;
    let summary = summary(event.doc());
    let description = event.doc();
    object([
        ("name", Some(json!(event.name()))),
        (
            "title",
            Some(json!(format!("{} v{}", event.name(), event.version()))),
        ),
        ("summary", (!summary.is_empty()).then(|| json!(summary))),
        (
            "description",
            (!description.is_empty()).then(|| json!(description)),
        ),
        ("contentType", Some(json!(CONTENT_TYPE))),
        ("payload", payload),
        ("deprecated", event.deprecated().map(|_| json!(true))),
        ("tags", Some(json!([{ "name": event.kind().as_str() }]))),
        ("x-events-version", Some(json!(event.version()))),
        ("x-events-kind", Some(json!(event.kind().as_str()))),
        ("x-events-rust-type", Some(json!(event.rust_type()))),
        ("x-events-module", Some(json!(event.module_path()))),
        (
            "x-events-location",
            Some(json!(location(event.file(), event.line()))),
        ),
        ("x-events-fields", Some(fields_json(event))),
        (
            "x-events-deprecated",
            event.deprecated().map(|reason| json!(reason)),
        ),
        (
            "x-events-upcasts",
            (!upcasts.is_empty()).then(|| json!(upcasts)),
        ),
    ])
}

fn operation_json(handler: &HandlerInfo, index: usize, key: &str) -> Value {
    let event = handler.event();
    json!({
        "action": "receive",
        "channel": { "$ref": format!("#/channels/{key}") },
        "messages": [{ "$ref": format!("#/channels/{key}/messages/{key}") }],
        "title": handler.name(),
        "summary": format!(
            "Runs {} on {} v{}.",
            handler.function(),
            event.name(),
            event.version()
        ),
        "x-events-order": index + 1,
        "x-events-handler": handler_json(handler),
    })
}

/// Adds a payload schema and its definitions to `components.schemas` as
/// AsyncAPI Schema Objects, and returns the payload's reference.
fn add_schema(
    schemas: &mut Map<String, Value>,
    keys: &mut Keys,
    key: &str,
    schema: Value,
) -> Value {
    let mut root = schema;
    let mut definitions = Map::new();
    if let Value::Object(object) = &mut root {
        object.remove("$schema");
        for keyword in ["$defs", "definitions"] {
            if let Some(Value::Object(found)) = object.remove(keyword) {
                definitions.extend(found);
            }
        }
    }

    let root_key = keys.unique(key);
    let mut targets = HashMap::new();
    for name in definitions.keys() {
        targets.insert(name.clone(), keys.unique(&format!("{key}.{name}")));
    }
    let refs = RefTargets {
        root: &root_key,
        definitions: &targets,
    };

    convert_schema(&mut root, &refs);
    schemas.insert(root_key.clone(), root);
    for (name, mut definition) in definitions {
        convert_schema(&mut definition, &refs);
        schemas.insert(targets[&name].clone(), definition);
    }
    json!({ "$ref": format!("#/components/schemas/{root_key}") })
}

/// The targets in the AsyncAPI document of one payload schema's local references.
struct RefTargets<'a> {
    root: &'a str,
    definitions: &'a HashMap<String, String>,
}

impl RefTargets<'_> {
    /// Rewrites a reference into the original schema document. References
    /// outside it, such as URLs, stay as they are.
    fn rewrite(&self, reference: &str) -> Option<String> {
        let pointer = reference.strip_prefix('#')?;
        for keyword in ["/$defs/", "/definitions/"] {
            if let Some(rest) = pointer.strip_prefix(keyword) {
                let (name, tail) = rest.split_once('/').map_or((rest, ""), |(n, t)| (n, t));
                let name = name.replace("~1", "/").replace("~0", "~");
                let target = self.definitions.get(&name)?;
                let tail = if tail.is_empty() {
                    String::new()
                } else {
                    format!("/{tail}")
                };
                return Some(format!("#/components/schemas/{target}{tail}"));
            }
        }
        Some(format!("#/components/schemas/{}{pointer}", self.root))
    }
}

/// Keywords whose value is one subschema, in draft-07 or draft 2020-12.
const SUBSCHEMA: [&str; 12] = [
    "additionalItems",
    "additionalProperties",
    "contains",
    "contentSchema",
    "else",
    "if",
    "items",
    "not",
    "propertyNames",
    "then",
    "unevaluatedItems",
    "unevaluatedProperties",
];

/// Keywords whose value is an array of subschemas.
const SUBSCHEMA_ARRAYS: [&str; 4] = ["allOf", "anyOf", "oneOf", "items"];

/// Keywords whose value maps names to subschemas.
const SUBSCHEMA_MAPS: [&str; 3] = ["properties", "patternProperties", "dependentSchemas"];

/// Turns one draft 2020-12 (or draft-07) schema into an AsyncAPI Schema
/// Object: rewrites local `$ref`s and `prefixItems`, then the subschemas.
fn convert_schema(schema: &mut Value, refs: &RefTargets<'_>) {
    let Value::Object(object) = schema else {
        return;
    };

    if let Some(Value::String(reference)) = object.get("$ref") {
        if let Some(rewritten) = refs.rewrite(reference) {
            object.insert("$ref".to_owned(), Value::String(rewritten));
        }
    }

    // Draft 2020-12 `prefixItems` + `items` is draft-07 `items` (an array)
    // + `additionalItems`.
    if let Some(prefix) = object.remove("prefixItems") {
        if let Some(rest) = object.remove("items") {
            object.insert("additionalItems".to_owned(), rest);
        }
        object.insert("items".to_owned(), prefix);
    }

    for (keyword, value) in object.iter_mut() {
        let keyword = keyword.as_str();
        match value {
            Value::Array(items) if SUBSCHEMA_ARRAYS.contains(&keyword) => {
                items.iter_mut().for_each(|item| convert_schema(item, refs));
            }
            Value::Object(map) if SUBSCHEMA_MAPS.contains(&keyword) => {
                map.values_mut().for_each(|item| convert_schema(item, refs));
            }
            _ if SUBSCHEMA.contains(&keyword) => convert_schema(value, refs),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns every `$ref` of `value` that does not resolve inside `document`.
    fn dangling(document: &Value, value: &Value) -> Vec<String> {
        let mut found = Vec::new();
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    match value {
                        Value::String(reference) if key == "$ref" => {
                            let resolves = reference
                                .strip_prefix('#')
                                .is_some_and(|pointer| document.pointer(pointer).is_some());
                            if !resolves {
                                found.push(reference.clone());
                            }
                        }
                        _ => found.extend(dangling(document, value)),
                    }
                }
            }
            Value::Array(items) => items
                .iter()
                .for_each(|item| found.extend(dangling(document, item))),
            _ => {}
        }
        found
    }

    fn components(schema: Value) -> (Value, Value) {
        let mut schemas = Map::new();
        let payload = add_schema(&mut schemas, &mut Keys::default(), "shop.order.v2", schema);
        let document = json!({ "components": { "schemas": schemas } });
        (payload, document)
    }

    #[test]
    fn add_schema_moves_definitions_and_rewrites_references() {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Order",
            "type": "object",
            "properties": {
                "line": { "$ref": "#/$defs/Line" },
                "pair": {
                    "type": "array",
                    "prefixItems": [{ "type": "string" }, { "$ref": "#/$defs/Line" }],
                    "items": false
                },
                "parent": { "anyOf": [{ "$ref": "#" }, { "type": "null" }] }
            },
            "$defs": {
                "Line": {
                    "type": "object",
                    "properties": { "next": { "$ref": "#/$defs/Line" } }
                }
            }
        });

        let (payload, document) = components(schema);

        assert_eq!(
            payload,
            json!({ "$ref": "#/components/schemas/shop.order.v2" })
        );
        assert_eq!(dangling(&document, &document), Vec::<String>::new());
        let order = &document["components"]["schemas"]["shop.order.v2"];
        assert!(order.get("$schema").is_none());
        assert!(order.get("$defs").is_none());
        assert_eq!(
            order["properties"]["line"]["$ref"],
            "#/components/schemas/shop.order.v2.Line"
        );
        assert_eq!(
            order["properties"]["pair"],
            json!({
                "type": "array",
                "items": [
                    { "type": "string" },
                    { "$ref": "#/components/schemas/shop.order.v2.Line" }
                ],
                "additionalItems": false
            })
        );
        assert_eq!(
            order["properties"]["parent"]["anyOf"][0]["$ref"],
            "#/components/schemas/shop.order.v2"
        );
        let line = &document["components"]["schemas"]["shop.order.v2.Line"];
        assert_eq!(
            line["properties"]["next"]["$ref"],
            "#/components/schemas/shop.order.v2.Line"
        );
    }

    #[test]
    fn add_schema_accepts_draft_07_definitions() {
        let schema = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "properties": { "note": { "$ref": "#/definitions/Note~1Text" } },
            "definitions": { "Note/Text": { "type": "string" } }
        });

        let (_, document) = components(schema);

        assert_eq!(dangling(&document, &document), Vec::<String>::new());
        assert_eq!(
            document["components"]["schemas"]["shop.order.v2"]["properties"]["note"]["$ref"],
            "#/components/schemas/shop.order.v2.Note_Text"
        );
    }

    #[test]
    fn keys_replace_invalid_characters_and_stay_unique() {
        let mut keys = Keys::default();

        assert_eq!(keys.unique("shop/order placed.v1"), "shop_order_placed.v1");
        assert_eq!(
            keys.unique("shop order/placed.v1"),
            "shop_order_placed.v1-2"
        );
        assert_eq!(keys.unique(""), "_");
    }

    #[test]
    fn slugs_follow_github_and_count_repeats() {
        let mut slugs = Slugs::default();

        assert_eq!(slugs.add("OrderPlaced v2"), "orderplaced-v2");
        assert_eq!(slugs.add("shop.order_placed"), "shoporder_placed");
        assert_eq!(slugs.add("OrderPlaced v2"), "orderplaced-v2-1");
    }

    #[cfg(feature = "schema")]
    #[test]
    fn add_schema_converts_schemars_output() {
        #[allow(dead_code)]
        #[derive(schemars::JsonSchema)]
        struct Order {
            lines: Vec<Line>,
            pair: (String, u8),
            note: Option<Box<Order>>,
            channel: Channel,
        }

        #[allow(dead_code)]
        #[derive(schemars::JsonSchema)]
        struct Line {
            sku: String,
            quantity: u32,
        }

        #[allow(dead_code)]
        #[derive(schemars::JsonSchema)]
        enum Channel {
            Web,
            Store { store_id: u32 },
        }

        let (_, document) = components(schemars::schema_for!(Order).to_value());

        assert_eq!(dangling(&document, &document), Vec::<String>::new());
        let text = document.to_string();
        assert!(!text.contains("$defs"), "{text}");
        assert!(!text.contains("prefixItems"), "{text}");
        assert!(!text.contains("$schema"), "{text}");
    }
}

//! Compatibility checks of the event catalog against a lock file.
//!
//! A [`Lock`] records, for each event name, every version with the JSON
//! Schema of its payload. Commit the lock file next to the code. In CI, build
//! a second [`Lock`] from the schemas of the current code and [`check`] it
//! against the committed one. The check fails with a [`CompatError`] that
//! lists every [`Break`] with the event, the versions, the field path, the
//! kind of change and a fix. When the check passes, write the current catalog
//! over the lock file.
//!
//! The schemas are JSON Schema draft 2020-12 documents in the shape that the
//! `schemars` 1.x crate derives from Rust types. Objects have `properties`,
//! `required` and `additionalProperties`, and `$ref` points into the
//! document's own `$defs`. Nullable values are `type: ["string", "null"]` or
//! an `anyOf` with `{"type": "null"}`. Enums use `enum`, `const` and `oneOf`,
//! arrays use `items` or `prefixItems`, and integers carry a `format` such as
//! `uint64`.
//!
//! ```
//! use events::compat::{check, BreakKind, Lock, Mode};
//! use serde_json::json;
//!
//! let lock = Lock::from_events([(
//!     "OrderPlaced",
//!     1,
//!     json!({
//!         "type": "object",
//!         "properties": { "order_id": { "type": "integer", "format": "uint64", "minimum": 0 } },
//!         "required": ["order_id"]
//!     }),
//! )]);
//!
//! // Version 1 gained a required field: events written before cannot be read.
//! let current = Lock::from_events([(
//!     "OrderPlaced",
//!     1,
//!     json!({
//!         "type": "object",
//!         "properties": {
//!             "order_id": { "type": "integer", "format": "uint64", "minimum": 0 },
//!             "currency": { "type": "string" }
//!         },
//!         "required": ["order_id", "currency"]
//!     }),
//! )]);
//!
//! let error = check(&lock, &current, Mode::Backward).unwrap_err();
//! assert_eq!(error.breaks()[0].path(), "currency");
//! assert_eq!(error.breaks()[0].kind(), &BreakKind::AddedRequiredField);
//! ```
//!
//! # Modes
//!
//! The modes follow the usual meaning in schema registries. "Old" and "new"
//! are two versions of one event, or the recorded and the changed schema of
//! one version.
//!
//! | mode | guarantee | compared with |
//! |---|---|---|
//! | [`Backward`](Mode::Backward) | consumers of the new schema read events written with the old one | the previous version, and the recorded schema of the same version |
//! | [`Forward`](Mode::Forward) | consumers of the old schema read events written with the new one | the same |
//! | [`Full`](Mode::Full) | both | the same |
//! | [`BackwardTransitive`](Mode::BackwardTransitive), [`ForwardTransitive`](Mode::ForwardTransitive), [`FullTransitive`](Mode::FullTransitive) | the same | every earlier version, and every schema recorded for the same version |
//!
//! Each mode also reports every recorded version that is missing from the
//! current catalog. Pairs of schemas that are both taken from the lock file
//! are not compared again, because the lock file is the accepted baseline.
//!
//! Two versions joined by upcasters are not compared with each other:
//! decoding upgrades the older events, so their schemas may differ freely
//! (see [`LockedVersion::with_upcast_from`]). In a program where every
//! version has an upcast path to the latest, which [`crate::registry::validate`]
//! requires, the transitive modes therefore matter for the schemas one
//! version had over time. [`Lock::updated_with`] keeps them, and
//! [`catalog::check`](crate::catalog::check) writes the updated lock after
//! each passing check. For example, version 2 first has a required
//! `coupon: String`, a later change drops it, and a still later one adds an
//! optional `coupon: u32`. Each step passes [`Backward`](Mode::Backward),
//! but stored version 2 events from the first schema carry a string that
//! the current code cannot read, and
//! [`BackwardTransitive`](Mode::BackwardTransitive) reports it.
//!
//! # Open and closed objects
//!
//! JSON Schema treats an object without `additionalProperties` as open: it
//! accepts any property it does not declare. Read literally, every property
//! that an old open schema does not mention could carry any value, so a naive
//! check would report every change as a break. This checker reads schemas the
//! way serde uses them instead:
//!
//! - A schema as the writer produces only the properties it declares. An
//!   `additionalProperties` schema (a map, or a `#[serde(flatten)]` map) lets
//!   it write other properties as well.
//! - A schema as the reader ignores undeclared properties when the object is
//!   open (no `additionalProperties`, or `true`). It rejects them when the
//!   object is closed (`additionalProperties: false`, which
//!   `#[serde(deny_unknown_fields)]` produces), and checks them against an
//!   `additionalProperties` schema.
//!
//! So adding an optional property to an open object is compatible in both
//! directions. Adding any property to a closed object breaks forward
//! compatibility ([`BreakKind::AddedField`]), and removing a property from an
//! object that is closed in the new schema breaks backward compatibility
//! ([`BreakKind::RemovedField`]).
//!
//! # Limits
//!
//! The checker compares types, integer ranges (from `format`, `minimum` and
//! `maximum`), string formats, required and nullable fields, enum values,
//! `oneOf` variants, nested objects, maps, arrays and tuples. It ignores
//! validation keywords such as `minLength`, `pattern`, `maxItems`,
//! `uniqueItems`, `patternProperties`, `not` and `if`/`then`/`else`, and it
//! resolves only `$ref`s that point into the same document (`#/$defs/...`).
//! An unresolvable `$ref` is reported as a break.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A catalog lock file: for each event name, every recorded version with the
/// JSON Schema of its payload and, optionally, its kind.
///
/// Names and versions are kept sorted (versions as numbers), so the file is
/// the same for the same catalog and diffs well in version control. The file
/// is pretty-printed JSON:
///
/// ```json
/// {
///   "events": {
///     "OrderPlaced": {
///       "1": {
///         "kind": "integration",
///         "schema": { "type": "object", "properties": { "order_id": { "type": "integer" } } }
///       }
///     }
///   }
/// }
/// ```
///
/// ```
/// use events::compat::{Lock, LockedVersion};
/// use serde_json::json;
///
/// let mut lock = Lock::from_events([("OrderPlaced", 1, json!({ "type": "object" }))]);
/// lock.insert(
///     "OrderPlaced",
///     2,
///     LockedVersion::new(json!({ "type": "object" })).with_kind("integration"),
/// );
///
/// let text = lock.to_string();
/// assert!(text.starts_with("{\n  \"events\": {\n    \"OrderPlaced\": {\n      \"1\": {"));
/// assert_eq!(text.parse::<Lock>().unwrap(), lock);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    events: BTreeMap<String, BTreeMap<u32, LockedVersion>>,
}

/// One recorded version of an event: the JSON Schema of its payload,
/// optionally its kind (`"domain"` or `"integration"`) and the version an
/// upcaster upgrades to it, and the schemas this version had before
/// compatible changes (see [`Lock::updated_with`]).
///
/// ```
/// use events::compat::LockedVersion;
/// use serde_json::json;
///
/// let version = LockedVersion::new(json!({ "type": "object" })).with_kind("integration");
/// assert_eq!(version.kind(), Some("integration"));
/// assert_eq!(version.schema(), &json!({ "type": "object" }));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedVersion {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    upcast_from: Option<u32>,
    schema: Value,
    /// Earlier schemas of this version, oldest first. Stored events may
    /// still have been written with them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    earlier: Vec<Value>,
}

impl LockedVersion {
    /// Records a payload schema without a kind.
    ///
    /// ```
    /// let version = events::compat::LockedVersion::new(serde_json::json!(true));
    /// assert_eq!(version.kind(), None);
    /// ```
    pub fn new(schema: Value) -> LockedVersion {
        LockedVersion {
            kind: None,
            upcast_from: None,
            schema,
            earlier: Vec::new(),
        }
    }

    /// Sets the event's kind, such as [`EventKind::as_str`](crate::EventKind::as_str)
    /// returns it. The kind is stored for readers of the lock file and not checked.
    ///
    /// ```
    /// let version = events::compat::LockedVersion::new(serde_json::json!(true))
    ///     .with_kind(events::EventKind::Integration.as_str());
    /// assert_eq!(version.kind(), Some("integration"));
    /// ```
    pub fn with_kind(mut self, kind: impl Into<String>) -> LockedVersion {
        self.kind = Some(kind.into());
        self
    }

    /// Records that payloads of `version` are upgraded to this version by
    /// an upcaster. The check then does not compare the two schemas with
    /// each other: consumers of this version read the older events through
    /// the upcaster, so their schemas may differ freely.
    ///
    /// ```
    /// use events::compat::{check, Lock, LockedVersion, Mode};
    /// use serde_json::json;
    ///
    /// let v1 = json!({ "type": "object", "properties": { "total": { "type": "number" } }, "required": ["total"] });
    /// let v2 = json!({ "type": "object", "properties": { "total_cents": { "type": "integer" } }, "required": ["total_cents"] });
    ///
    /// let lock = Lock::from_events([("OrderPlaced", 1, v1.clone())]);
    /// let unlinked = Lock::from_events([("OrderPlaced", 1, v1.clone()), ("OrderPlaced", 2, v2.clone())]);
    /// assert!(check(&lock, &unlinked, Mode::Backward).is_err());
    ///
    /// let mut linked = Lock::from_events([("OrderPlaced", 1, v1)]);
    /// linked.insert("OrderPlaced", 2, LockedVersion::new(v2).with_upcast_from(1));
    /// assert!(check(&lock, &linked, Mode::BackwardTransitive).is_ok());
    /// ```
    pub fn with_upcast_from(mut self, version: u32) -> LockedVersion {
        self.upcast_from = Some(version);
        self
    }

    /// Returns the version an upcaster upgrades to this one, if any.
    ///
    /// ```
    /// # use events::compat::LockedVersion;
    /// let locked = LockedVersion::new(serde_json::json!({})).with_upcast_from(1);
    /// assert_eq!(locked.upcast_from(), Some(1));
    /// ```
    pub fn upcast_from(&self) -> Option<u32> {
        self.upcast_from
    }

    /// Records a schema that this version had before its current one, for
    /// the transitive modes. Call it oldest first.
    ///
    /// ```
    /// use events::compat::LockedVersion;
    /// use serde_json::json;
    ///
    /// let version = LockedVersion::new(json!({ "type": "object", "properties": {} }))
    ///     .with_earlier_schema(json!({ "type": "object" }));
    /// assert_eq!(version.earlier_schemas(), [json!({ "type": "object" })]);
    /// ```
    pub fn with_earlier_schema(mut self, schema: Value) -> LockedVersion {
        self.earlier.push(schema);
        self
    }

    /// Returns the schemas this version had before its current one, oldest
    /// first. [`Lock::updated_with`] adds to them.
    ///
    /// ```
    /// let version = events::compat::LockedVersion::new(serde_json::json!(true));
    /// assert!(version.earlier_schemas().is_empty());
    /// ```
    pub fn earlier_schemas(&self) -> &[Value] {
        &self.earlier
    }

    /// Returns the JSON Schema of the payload.
    ///
    /// ```
    /// let version = events::compat::LockedVersion::new(serde_json::json!({ "type": "object" }));
    /// assert_eq!(version.schema()["type"], "object");
    /// ```
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// Returns the event's kind, when one was recorded.
    ///
    /// ```
    /// let version = events::compat::LockedVersion::new(serde_json::json!(true)).with_kind("domain");
    /// assert_eq!(version.kind(), Some("domain"));
    /// ```
    pub fn kind(&self) -> Option<&str> {
        self.kind.as_deref()
    }
}

impl From<Value> for LockedVersion {
    /// ```
    /// use events::compat::LockedVersion;
    /// let version = LockedVersion::from(serde_json::json!({ "type": "object" }));
    /// assert_eq!(version, LockedVersion::new(serde_json::json!({ "type": "object" })));
    /// ```
    fn from(schema: Value) -> LockedVersion {
        LockedVersion::new(schema)
    }
}

impl Lock {
    /// Creates an empty lock.
    ///
    /// ```
    /// assert!(events::compat::Lock::new().is_empty());
    /// ```
    pub fn new() -> Lock {
        Lock::default()
    }

    /// Builds a lock from `(name, version, schema)` triples. The schema is a
    /// [`Value`] or a [`LockedVersion`]. A later triple with the same name and
    /// version replaces an earlier one.
    ///
    /// ```
    /// use events::compat::Lock;
    /// use serde_json::json;
    ///
    /// let lock = Lock::from_events([
    ///     ("OrderPlaced", 2, json!({ "type": "object" })),
    ///     ("OrderPlaced", 1, json!({ "type": "object" })),
    ///     ("InvoiceIssued", 1, json!({ "type": "object" })),
    /// ]);
    /// assert_eq!(lock.event_names().collect::<Vec<_>>(), ["InvoiceIssued", "OrderPlaced"]);
    /// assert_eq!(lock.versions("OrderPlaced").map(|(version, _)| version).collect::<Vec<_>>(), [1, 2]);
    /// ```
    pub fn from_events<I, N, V>(events: I) -> Lock
    where
        I: IntoIterator<Item = (N, u32, V)>,
        N: Into<String>,
        V: Into<LockedVersion>,
    {
        let mut lock = Lock::new();
        for (name, version, entry) in events {
            lock.insert(name, version, entry);
        }
        lock
    }

    /// Records `version` of the event `name`, and returns the entry it replaces.
    ///
    /// ```
    /// use events::compat::Lock;
    /// use serde_json::json;
    ///
    /// let mut lock = Lock::new();
    /// assert!(lock.insert("OrderPlaced", 1, json!({ "type": "object" })).is_none());
    /// assert!(lock.insert("OrderPlaced", 1, json!({ "type": "array" })).is_some());
    /// assert_eq!(lock.get("OrderPlaced", 1).unwrap().schema()["type"], "array");
    /// ```
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        version: u32,
        entry: impl Into<LockedVersion>,
    ) -> Option<LockedVersion> {
        self.events
            .entry(name.into())
            .or_default()
            .insert(version, entry.into())
    }

    /// Returns the recorded `version` of the event `name`.
    ///
    /// ```
    /// let lock = events::compat::Lock::from_events([("OrderPlaced", 1, serde_json::json!(true))]);
    /// assert!(lock.get("OrderPlaced", 1).is_some());
    /// assert!(lock.get("OrderPlaced", 2).is_none());
    /// ```
    pub fn get(&self, name: &str, version: u32) -> Option<&LockedVersion> {
        self.events.get(name)?.get(&version)
    }

    /// Lists the recorded versions of the event `name`, in ascending order.
    ///
    /// ```
    /// let lock = events::compat::Lock::from_events([
    ///     ("OrderPlaced", 10, serde_json::json!(true)),
    ///     ("OrderPlaced", 2, serde_json::json!(true)),
    /// ]);
    /// let versions: Vec<u32> = lock.versions("OrderPlaced").map(|(version, _)| version).collect();
    /// assert_eq!(versions, [2, 10]);
    /// assert_eq!(lock.versions("InvoiceIssued").count(), 0);
    /// ```
    pub fn versions(&self, name: &str) -> impl Iterator<Item = (u32, &LockedVersion)> {
        self.events
            .get(name)
            .into_iter()
            .flatten()
            .map(|(version, entry)| (*version, entry))
    }

    /// Lists the recorded event names, in ascending order.
    ///
    /// ```
    /// let lock = events::compat::Lock::from_events([("OrderPlaced", 1, serde_json::json!(true))]);
    /// assert_eq!(lock.event_names().collect::<Vec<_>>(), ["OrderPlaced"]);
    /// ```
    pub fn event_names(&self) -> impl Iterator<Item = &str> {
        self.events.keys().map(String::as_str)
    }

    /// Returns the lock to write after `current` passed [`check`] against
    /// this one: the versions of `current`, where each version whose schema
    /// changed keeps its recorded schemas as earlier ones. The transitive
    /// modes compare a version's next change with all of them, because stored
    /// events may have been written with any of them.
    ///
    /// A recorded schema that differs from the current one only in
    /// annotations such as `description` or `title` is not kept, because it
    /// accepts the same payloads. Versions recorded here but missing from
    /// `current` are left out, so `current` must carry the versions to keep.
    ///
    /// ```
    /// use events::compat::Lock;
    /// use serde_json::json;
    ///
    /// let first = json!({ "type": "object", "properties": { "sku": { "type": "string" } } });
    /// let second = json!({ "type": "object", "properties": {} });
    /// let recorded = Lock::from_events([("ProductListed", 1, first.clone())]);
    /// let current = Lock::from_events([("ProductListed", 1, second.clone())]);
    ///
    /// let updated = recorded.updated_with(&current);
    /// let version = updated.get("ProductListed", 1).unwrap();
    /// assert_eq!(version.schema(), &second);
    /// assert_eq!(version.earlier_schemas(), [first]);
    /// ```
    pub fn updated_with(&self, current: &Lock) -> Lock {
        let mut updated = current.clone();
        for (name, versions) in &mut updated.events {
            for (version, entry) in versions.iter_mut() {
                let Some(recorded) = self.get(name, *version) else {
                    continue;
                };
                let mut earlier = recorded.earlier.clone();
                earlier.push(recorded.schema.clone());
                for schema in &entry.earlier {
                    earlier.push(schema.clone());
                }
                // A schema that differs from a kept one only in descriptions
                // and other annotations accepts the same payloads, so it adds
                // nothing to check and would only grow the file.
                let current_shape = without_annotations(&entry.schema);
                let mut kept: Vec<Value> = Vec::new();
                let mut kept_shapes = vec![current_shape];
                for schema in earlier {
                    let shape = without_annotations(&schema);
                    if !kept_shapes.contains(&shape) {
                        kept_shapes.push(shape);
                        kept.push(schema);
                    }
                }
                entry.earlier = kept;
            }
        }
        updated
    }

    /// Returns whether the lock records no event.
    ///
    /// ```
    /// let lock = events::compat::Lock::from_events([("OrderPlaced", 1, serde_json::json!(true))]);
    /// assert!(!lock.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Reads a lock file written by [`write`](Lock::write).
    ///
    /// ```
    /// use events::compat::{Lock, LockError};
    ///
    /// let missing = std::env::temp_dir().join("events-compat-doc-missing.lock.json");
    /// assert!(matches!(Lock::read(&missing), Err(LockError::Read { .. })));
    /// ```
    pub fn read(path: impl AsRef<Path>) -> Result<Lock, LockError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| LockError::Read {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| LockError::InvalidFile {
            path: path.to_owned(),
            source,
        })
    }

    /// Writes the lock as pretty-printed JSON with a final newline, replacing
    /// the file at `path`.
    ///
    /// ```
    /// use events::compat::Lock;
    ///
    /// let path = std::env::temp_dir().join(format!("events-compat-doc-{}.lock.json", std::process::id()));
    /// let lock = Lock::from_events([("OrderPlaced", 1, serde_json::json!({ "type": "object" }))]);
    /// lock.write(&path).unwrap();
    /// assert_eq!(Lock::read(&path).unwrap(), lock);
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), LockError> {
        let path = path.as_ref();
        std::fs::write(path, format!("{self}\n")).map_err(|source| LockError::Write {
            path: path.to_owned(),
            source,
        })
    }
}

impl fmt::Display for Lock {
    /// Writes the lock as pretty-printed JSON, the format of the lock file.
    ///
    /// ```
    /// let lock = events::compat::Lock::new();
    /// assert_eq!(lock.to_string(), "{\n  \"events\": {}\n}");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string_pretty(self).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl FromStr for Lock {
    type Err = LockError;

    /// Parses the JSON of a lock file.
    ///
    /// ```
    /// use events::compat::Lock;
    ///
    /// let lock: Lock = r#"{ "events": { "OrderPlaced": { "1": { "schema": true } } } }"#.parse().unwrap();
    /// assert!(lock.get("OrderPlaced", 1).is_some());
    /// assert!("{ \"event\": {} }".parse::<Lock>().is_err());
    /// ```
    fn from_str(text: &str) -> Result<Lock, LockError> {
        serde_json::from_str(text).map_err(|source| LockError::Invalid { source })
    }
}

/// An error reading, parsing or writing a lock file.
///
/// ```
/// let error = "not json".parse::<events::compat::Lock>().unwrap_err();
/// assert!(error.to_string().starts_with("invalid event catalog lock: "));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// The lock file could not be read.
    #[error("failed to read the event catalog lock {}: {source}", path.display())]
    Read {
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The lock file could not be written.
    #[error("failed to write the event catalog lock {}: {source}", path.display())]
    Write {
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The lock file is not a valid lock.
    #[error("invalid event catalog lock {}: {source}", path.display())]
    InvalidFile {
        /// The lock file.
        path: PathBuf,
        /// The JSON error, with line and column.
        source: serde_json::Error,
    },
    /// The text is not a valid lock.
    #[error("invalid event catalog lock: {source}")]
    Invalid {
        /// The JSON error, with line and column.
        source: serde_json::Error,
    },
}

/// The compatibility a [`check`] requires between versions of an event.
///
/// ```
/// use events::compat::Mode;
///
/// assert_eq!(Mode::default(), Mode::Backward);
/// assert_eq!("FULL_TRANSITIVE".parse::<Mode>().unwrap(), Mode::FullTransitive);
/// assert_eq!(Mode::ForwardTransitive.to_string(), "forward_transitive");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Consumers of each new version read events written with the previous version.
    #[default]
    Backward,
    /// Consumers of each previous version read events written with the new version.
    Forward,
    /// Both [`Backward`](Mode::Backward) and [`Forward`](Mode::Forward).
    Full,
    /// Consumers of each new version read events written with every earlier version.
    BackwardTransitive,
    /// Consumers of every earlier version read events written with each new version.
    ForwardTransitive,
    /// Both [`BackwardTransitive`](Mode::BackwardTransitive) and
    /// [`ForwardTransitive`](Mode::ForwardTransitive).
    FullTransitive,
}

impl Mode {
    const ALL: [Mode; 6] = [
        Mode::Backward,
        Mode::Forward,
        Mode::Full,
        Mode::BackwardTransitive,
        Mode::ForwardTransitive,
        Mode::FullTransitive,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Mode::Backward => "backward",
            Mode::Forward => "forward",
            Mode::Full => "full",
            Mode::BackwardTransitive => "backward_transitive",
            Mode::ForwardTransitive => "forward_transitive",
            Mode::FullTransitive => "full_transitive",
        }
    }

    fn is_transitive(self) -> bool {
        matches!(
            self,
            Mode::BackwardTransitive | Mode::ForwardTransitive | Mode::FullTransitive
        )
    }

    fn directions(self) -> &'static [Direction] {
        match self {
            Mode::Backward | Mode::BackwardTransitive => &[Direction::Backward],
            Mode::Forward | Mode::ForwardTransitive => &[Direction::Forward],
            Mode::Full | Mode::FullTransitive => &[Direction::Backward, Direction::Forward],
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = ParseModeError;

    /// Parses a mode name in any letter case, such as `backward` or
    /// `BACKWARD_TRANSITIVE`.
    ///
    /// ```
    /// use events::compat::Mode;
    /// assert_eq!("Forward".parse::<Mode>().unwrap(), Mode::Forward);
    /// assert!("sideways".parse::<Mode>().is_err());
    /// ```
    fn from_str(text: &str) -> Result<Mode, ParseModeError> {
        Mode::ALL
            .into_iter()
            .find(|mode| mode.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| ParseModeError(text.to_owned()))
    }
}

/// An error parsing a [`Mode`] name.
///
/// ```
/// let error = "sideways".parse::<events::compat::Mode>().unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "invalid compatibility mode `sideways`: expected backward, forward, full, backward_transitive, forward_transitive or full_transitive"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid compatibility mode `{0}`: expected backward, forward, full, backward_transitive, forward_transitive or full_transitive")]
pub struct ParseModeError(String);

/// The direction in which a [`Break`] fails.
///
/// ```
/// use events::compat::{check, Direction, Lock, Mode};
/// use serde_json::json;
///
/// let lock = Lock::from_events([("OrderPlaced", 1, json!({ "type": "integer" }))]);
/// let current = Lock::from_events([("OrderPlaced", 1, json!({ "type": "string" }))]);
/// let error = check(&lock, &current, Mode::Full).unwrap_err();
/// let directions: Vec<_> = error.breaks().iter().map(|b| b.direction()).collect();
/// assert_eq!(directions, [Some(Direction::Backward), Some(Direction::Forward)]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Consumers of the new schema cannot read events written with the old one.
    Backward,
    /// Consumers of the old schema cannot read events written with the new one.
    Forward,
}

/// One incompatible change between two schemas of an event.
///
/// ```
/// use events::compat::{check, BreakKind, Direction, Lock, Mode};
/// use serde_json::json;
///
/// let lock = Lock::from_events([("OrderPlaced", 1, json!({
///     "type": "object",
///     "properties": { "order_id": { "type": "integer" } },
///     "required": ["order_id"]
/// }))]);
/// let current = Lock::from_events([
///     ("OrderPlaced", 1, lock.get("OrderPlaced", 1).unwrap().schema().clone()),
///     ("OrderPlaced", 2, json!({ "type": "object", "properties": {} })),
/// ]);
///
/// let error = check(&lock, &current, Mode::Forward).unwrap_err();
/// let found = &error.breaks()[0];
/// assert_eq!(found.event(), "OrderPlaced");
/// assert_eq!((found.old_version(), found.new_version()), (1, 2));
/// assert_eq!(found.path(), "order_id");
/// assert_eq!(found.kind(), &BreakKind::RemovedRequiredField);
/// assert_eq!(found.direction(), Some(Direction::Forward));
/// assert!(found.fix().contains("upcaster"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Break {
    event: String,
    old_version: u32,
    old_is_earlier: bool,
    new_version: u32,
    path: String,
    kind: BreakKind,
    direction: Option<Direction>,
}

impl Break {
    /// Returns the event's name.
    ///
    /// ```
    /// # use events::compat::{check, Lock, Mode}; use serde_json::json;
    /// # let lock = Lock::from_events([("OrderPlaced", 1, json!({ "type": "integer" }))]);
    /// # let error = check(&lock, &Lock::new(), Mode::Backward).unwrap_err();
    /// assert_eq!(error.breaks()[0].event(), "OrderPlaced");
    /// ```
    pub fn event(&self) -> &str {
        &self.event
    }

    /// Returns the older of the two compared versions. It equals
    /// [`new_version`](Break::new_version) when a version's schema changed, and
    /// for [`BreakKind::RemovedVersion`].
    ///
    /// ```
    /// # use events::compat::{check, Lock, Mode}; use serde_json::json;
    /// # let lock = Lock::from_events([("OrderPlaced", 3, json!({ "type": "integer" }))]);
    /// # let error = check(&lock, &Lock::new(), Mode::Backward).unwrap_err();
    /// assert_eq!(error.breaks()[0].old_version(), 3);
    /// ```
    pub fn old_version(&self) -> u32 {
        self.old_version
    }

    /// Returns the newer of the two compared versions.
    ///
    /// ```
    /// # use events::compat::{check, Lock, Mode}; use serde_json::json;
    /// # let lock = Lock::from_events([("OrderPlaced", 3, json!({ "type": "integer" }))]);
    /// # let error = check(&lock, &Lock::new(), Mode::Backward).unwrap_err();
    /// assert_eq!(error.breaks()[0].new_version(), 3);
    /// ```
    pub fn new_version(&self) -> u32 {
        self.new_version
    }

    /// Returns the path of the field in the payload, with property names
    /// joined by `.`. Arrays add `[]` for their items and tuples `[0]` for an
    /// element. Maps add `{}` for their values, and internally tagged enums
    /// add `[type=Shipped]` for a variant. The path of the payload itself is empty.
    ///
    /// ```
    /// # use events::compat::{check, Lock, Mode}; use serde_json::json;
    /// let lock = Lock::from_events([("OrderPlaced", 1, json!({
    ///     "type": "object",
    ///     "properties": { "lines": { "type": "array", "items": {
    ///         "type": "object", "properties": { "sku": { "type": "string" } }
    ///     } } }
    /// }))]);
    /// let current = Lock::from_events([("OrderPlaced", 1, json!({
    ///     "type": "object",
    ///     "properties": { "lines": { "type": "array", "items": {
    ///         "type": "object", "properties": { "sku": { "type": "integer" } }
    ///     } } }
    /// }))]);
    /// let error = check(&lock, &current, Mode::Backward).unwrap_err();
    /// assert_eq!(error.breaks()[0].path(), "lines[].sku");
    /// ```
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Returns what changed.
    ///
    /// ```
    /// # use events::compat::{check, BreakKind, Lock, Mode}; use serde_json::json;
    /// # let lock = Lock::from_events([("OrderPlaced", 1, json!({ "type": "integer" }))]);
    /// # let error = check(&lock, &Lock::new(), Mode::Backward).unwrap_err();
    /// assert_eq!(error.breaks()[0].kind(), &BreakKind::RemovedVersion);
    /// ```
    pub fn kind(&self) -> &BreakKind {
        &self.kind
    }

    /// Returns which consumers cannot read which events, or `None` for a
    /// [`RemovedVersion`](BreakKind::RemovedVersion).
    ///
    /// ```
    /// # use events::compat::{check, Lock, Mode}; use serde_json::json;
    /// # let lock = Lock::from_events([("OrderPlaced", 1, json!({ "type": "integer" }))]);
    /// # let error = check(&lock, &Lock::new(), Mode::Backward).unwrap_err();
    /// assert_eq!(error.breaks()[0].direction(), None);
    /// ```
    pub fn direction(&self) -> Option<Direction> {
        self.direction
    }

    /// Returns how to fix the break, in words.
    ///
    /// ```
    /// # use events::compat::{check, Lock, Mode}; use serde_json::json;
    /// # let lock = Lock::from_events([("OrderPlaced", 1, json!({ "type": "integer" }))]);
    /// # let error = check(&lock, &Lock::new(), Mode::Backward).unwrap_err();
    /// assert!(error.breaks()[0].fix().starts_with("restore the type of this version"));
    /// ```
    pub fn fix(&self) -> &'static str {
        self.kind.fix()
    }
}

impl fmt::Display for Break {
    /// Writes the break on one line: the event and versions, the field, the
    /// change, who cannot read what, and the fix.
    ///
    /// ```
    /// # use events::compat::{check, Lock, Mode}; use serde_json::json;
    /// let lock = Lock::from_events([("OrderPlaced", 1, json!({ "type": "integer" }))]);
    /// let current = Lock::from_events([("OrderPlaced", 1, json!({ "type": "string" }))]);
    /// let error = check(&lock, &current, Mode::Backward).unwrap_err();
    /// assert_eq!(
    ///     error.breaks()[0].to_string(),
    ///     "`OrderPlaced` recorded v1 -> changed v1 at the payload root: changed type from integer \
    ///      to string, so changed v1 consumers cannot read recorded v1 events. Fix: keep the old \
    ///      type and add a field with a new name for the new one, or bump the version and add an upcaster."
    /// );
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(direction) = self.direction else {
            return write!(
                f,
                "`{}` v{}: {}. Fix: {}.",
                self.event,
                self.old_version,
                self.kind,
                self.kind.fix()
            );
        };
        let (old, new) = match (self.old_version == self.new_version, self.old_is_earlier) {
            (true, false) => (
                format!("recorded v{}", self.old_version),
                format!("changed v{}", self.new_version),
            ),
            (true, true) => (
                format!("earlier v{}", self.old_version),
                format!("changed v{}", self.new_version),
            ),
            (false, false) => (
                format!("v{}", self.old_version),
                format!("v{}", self.new_version),
            ),
            (false, true) => (
                format!("earlier v{}", self.old_version),
                format!("v{}", self.new_version),
            ),
        };
        let (reader, writer) = match direction {
            Direction::Backward => (&new, &old),
            Direction::Forward => (&old, &new),
        };
        write!(f, "`{}` {old} -> {new} at ", self.event)?;
        if self.path.is_empty() {
            f.write_str("the payload root")?;
        } else {
            write!(f, "`{}`", self.path)?;
        }
        write!(
            f,
            ": {}, so {reader} consumers cannot read {writer} events. Fix: {}.",
            self.kind,
            self.kind.fix()
        )
    }
}

/// The kind of an incompatible change. "Old" and "new" are the two compared
/// schemas, whichever [`Direction`] fails.
///
/// ```
/// use events::compat::BreakKind;
///
/// let kind = BreakKind::ChangedType { from: "integer (uint64)".into(), to: "string".into() };
/// assert_eq!(kind.to_string(), "changed type from integer (uint64) to string");
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum BreakKind {
    /// The old schema required the field and the new one does not declare it,
    /// so old consumers miss it.
    RemovedRequiredField,
    /// The new schema requires a field that the old one does not declare, so
    /// old events lack it.
    AddedRequiredField,
    /// The new schema requires a field that was optional, so old events may lack it.
    MadeRequired,
    /// The new schema makes a required field optional, so old consumers may miss it.
    MadeOptional,
    /// The new schema no longer declares a field and rejects unknown fields
    /// (`additionalProperties: false`), so it rejects old events that carry it.
    RemovedField,
    /// The new schema declares a field that the old one rejects as unknown
    /// (`additionalProperties: false`).
    AddedField,
    /// The old object accepted extra properties (a map) and the new one
    /// rejects unknown fields.
    OpenToClosed,
    /// The new object writes extra properties (a map) and the old one rejects
    /// unknown fields.
    ClosedToOpen,
    /// The value's type, integer range or string format changed so that one
    /// side rejects values of the other.
    ChangedType {
        /// The old type, such as `integer (uint64)` or `string or null`.
        from: String,
        /// The new type.
        to: String,
    },
    /// The new schema allows `null` where the old one does not.
    MadeNullable,
    /// The old schema allowed `null` and the new one does not.
    MadeNonNullable,
    /// The new schema no longer accepts some enum values or `oneOf` variants.
    NarrowedEnum {
        /// The values, or the names of the variants, that the new schema rejects.
        removed: Vec<Value>,
    },
    /// The new schema adds enum values or `oneOf` variants that the old one rejects.
    WidenedEnum {
        /// The values, or the names of the variants, that the old schema rejects.
        added: Vec<Value>,
    },
    /// A version recorded in the lock file is missing from the current catalog.
    RemovedVersion,
    /// A `$ref` does not point into the schema's own document, so the field
    /// cannot be compared.
    UnresolvedReference {
        /// The `$ref` value.
        reference: String,
    },
}

impl BreakKind {
    /// Returns how to fix a break of this kind, in words.
    ///
    /// ```
    /// use events::compat::BreakKind;
    /// assert_eq!(
    ///     BreakKind::AddedRequiredField.fix(),
    ///     "make the field optional with a default (an `Option` or `#[serde(default)]`), \
    ///      or bump the version and add an upcaster"
    /// );
    /// ```
    pub fn fix(&self) -> &'static str {
        match self {
            BreakKind::RemovedRequiredField => {
                "keep the field, or bump the version and add an upcaster"
            }
            BreakKind::AddedRequiredField => {
                "make the field optional with a default (an `Option` or `#[serde(default)]`), \
                 or bump the version and add an upcaster"
            }
            BreakKind::MadeRequired => {
                "keep the field optional with a default, or bump the version and add an upcaster"
            }
            BreakKind::MadeOptional => {
                "keep the field required, or bump the version and add an upcaster"
            }
            BreakKind::RemovedField => {
                "keep the field, or accept unknown fields in the new schema \
                 (drop `#[serde(deny_unknown_fields)]`)"
            }
            BreakKind::AddedField => {
                "bump the version and add an upcaster, because consumers of the old schema \
                 reject unknown fields"
            }
            BreakKind::OpenToClosed => {
                "keep accepting extra properties, or bump the version and add an upcaster"
            }
            BreakKind::ClosedToOpen => {
                "stop writing extra properties, or bump the version and add an upcaster"
            }
            BreakKind::ChangedType { .. } => {
                "keep the old type and add a field with a new name for the new one, \
                 or bump the version and add an upcaster"
            }
            BreakKind::MadeNullable => {
                "keep the field non-null, or bump the version and add an upcaster"
            }
            BreakKind::MadeNonNullable => {
                "keep accepting null (an `Option`), or bump the version and add an upcaster"
            }
            BreakKind::NarrowedEnum { .. } => {
                "keep the removed values, or bump the version and add an upcaster that maps them"
            }
            BreakKind::WidenedEnum { .. } => {
                "bump the version and add an upcaster, because consumers of the old schema \
                 reject the new values"
            }
            BreakKind::RemovedVersion => {
                "restore the type of this version, or register a JSON upcaster from it \
                 (`#[upcaster(name = ..., from = ...)]`) so that stored events still decode, \
                 or delete the version from the lock file once no stored or in-flight event uses it"
            }
            BreakKind::UnresolvedReference { .. } => {
                "make the schema self-contained, with every `$ref` pointing into its own `$defs`"
            }
        }
    }
}

impl fmt::Display for BreakKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BreakKind::RemovedRequiredField => f.write_str("removed required field"),
            BreakKind::AddedRequiredField => f.write_str("added required field"),
            BreakKind::MadeRequired => f.write_str("made optional field required"),
            BreakKind::MadeOptional => f.write_str("made required field optional"),
            BreakKind::RemovedField => {
                f.write_str("removed field that the new schema rejects as unknown")
            }
            BreakKind::AddedField => {
                f.write_str("added field that the old schema rejects as unknown")
            }
            BreakKind::OpenToClosed => {
                f.write_str("closed an object that accepted extra properties")
            }
            BreakKind::ClosedToOpen => {
                f.write_str("opened an object to extra properties that the old schema rejects")
            }
            BreakKind::ChangedType { from, to } => write!(f, "changed type from {from} to {to}"),
            BreakKind::MadeNullable => f.write_str("made field nullable"),
            BreakKind::MadeNonNullable => f.write_str("made nullable field non-nullable"),
            BreakKind::NarrowedEnum { removed } => {
                write!(f, "removed enum values {}", join_values(removed))
            }
            BreakKind::WidenedEnum { added } => {
                write!(f, "added enum values {}", join_values(added))
            }
            BreakKind::RemovedVersion => f.write_str("version removed from the catalog"),
            BreakKind::UnresolvedReference { reference } => {
                write!(f, "cannot resolve $ref `{reference}`")
            }
        }
    }
}

fn join_values(values: &[Value]) -> String {
    let texts: Vec<String> = values.iter().map(Value::to_string).collect();
    texts.join(", ")
}

/// The breaks that a [`check`] found, in the order of event names.
///
/// Its [`Display`](fmt::Display) writes one break per line.
///
/// ```
/// use events::compat::{check, Lock, Mode};
/// use serde_json::json;
///
/// let lock = Lock::from_events([
///     ("InvoiceIssued", 1, json!({ "type": "object" })),
///     ("OrderPlaced", 1, json!({ "type": "object" })),
/// ]);
/// let error = check(&lock, &Lock::new(), Mode::Full).unwrap_err();
/// assert_eq!(error.mode(), Mode::Full);
/// let text = error.to_string();
/// let lines: Vec<&str> = text.lines().collect();
/// assert_eq!(lines.len(), 2);
/// assert!(lines[0].starts_with("`InvoiceIssued` v1: version removed from the catalog. Fix: "));
/// assert!(lines[1].starts_with("`OrderPlaced` v1: version removed from the catalog. Fix: "));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CompatError {
    mode: Mode,
    breaks: Vec<Break>,
}

impl CompatError {
    /// Returns the mode that the check required.
    ///
    /// ```
    /// # use events::compat::{check, Lock, Mode}; use serde_json::json;
    /// # let lock = Lock::from_events([("OrderPlaced", 1, json!({ "type": "integer" }))]);
    /// let error = check(&lock, &Lock::new(), Mode::ForwardTransitive).unwrap_err();
    /// assert_eq!(error.mode(), Mode::ForwardTransitive);
    /// ```
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Returns every break found, never empty.
    ///
    /// ```
    /// # use events::compat::{check, Lock, Mode}; use serde_json::json;
    /// # let lock = Lock::from_events([("OrderPlaced", 1, json!({ "type": "integer" }))]);
    /// let error = check(&lock, &Lock::new(), Mode::Backward).unwrap_err();
    /// assert_eq!(error.breaks().len(), 1);
    /// ```
    pub fn breaks(&self) -> &[Break] {
        &self.breaks
    }
}

impl fmt::Display for CompatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, found) in self.breaks.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{found}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CompatError {}

/// Checks the `current` catalog against the recorded `lock` under `mode`, and
/// returns every break found.
///
/// For each event, the check compares a changed schema of a recorded version
/// with its recorded schema, and in the transitive modes also with its
/// earlier schemas. It reports recorded versions missing from `current`. It
/// compares each version with the previous one (every earlier one in the
/// transitive modes), unless upcasters lead from the earlier version to the
/// later one (see [`LockedVersion::with_upcast_from`]). A version whose
/// recorded and current schemas differ is compared in both forms, because
/// events of both exist.
///
/// ```
/// use events::compat::{check, Lock, Mode};
/// use serde_json::json;
///
/// let v1 = json!({
///     "type": "object",
///     "properties": { "order_id": { "type": "integer", "format": "uint64", "minimum": 0 } },
///     "required": ["order_id"]
/// });
/// // Version 2 adds an optional field: compatible in every mode.
/// let v2 = json!({
///     "type": "object",
///     "properties": {
///         "order_id": { "type": "integer", "format": "uint64", "minimum": 0 },
///         "coupon": { "type": ["string", "null"] }
///     },
///     "required": ["order_id"]
/// });
///
/// let lock = Lock::from_events([("OrderPlaced", 1, v1.clone())]);
/// let current = Lock::from_events([("OrderPlaced", 1, v1), ("OrderPlaced", 2, v2)]);
/// assert!(check(&lock, &current, Mode::FullTransitive).is_ok());
/// ```
pub fn check(lock: &Lock, current: &Lock, mode: Mode) -> Result<(), CompatError> {
    let names: BTreeSet<&str> = lock.event_names().chain(current.event_names()).collect();
    let empty = BTreeMap::new();
    let mut breaks = Vec::new();
    for name in names {
        let recorded = lock.events.get(name).unwrap_or(&empty);
        let present = current.events.get(name).unwrap_or(&empty);
        check_event(name, recorded, present, mode, &mut breaks);
    }
    if breaks.is_empty() {
        Ok(())
    } else {
        Err(CompatError { mode, breaks })
    }
}

fn check_event(
    name: &str,
    recorded: &BTreeMap<u32, LockedVersion>,
    current: &BTreeMap<u32, LockedVersion>,
    mode: Mode,
    breaks: &mut Vec<Break>,
) {
    let versions: Vec<u32> = recorded
        .keys()
        .chain(current.keys())
        .copied()
        .collect::<BTreeSet<u32>>()
        .into_iter()
        .collect();

    for &version in &versions {
        match (recorded.get(&version), current.get(&version)) {
            (Some(_), None) => push_unique(
                breaks,
                Break {
                    event: name.to_owned(),
                    old_version: version,
                    old_is_earlier: false,
                    new_version: version,
                    path: String::new(),
                    kind: BreakKind::RemovedVersion,
                    direction: None,
                },
            ),
            // An unchanged schema was accepted with its earlier ones when
            // the lock was written.
            (Some(old), Some(new)) if old.schema != new.schema => {
                for (snapshot, schema) in snapshots(Some(old), None, mode) {
                    let pair = SchemaPair {
                        event: name,
                        old_version: version,
                        old: schema,
                        old_is_earlier: snapshot == Snapshot::Earlier,
                        new_version: version,
                        new: &new.schema,
                    };
                    pair.compare(mode, breaks);
                }
            }
            _ => {}
        }
    }

    for (index, &new_version) in versions.iter().enumerate() {
        let earlier = if mode.is_transitive() {
            &versions[..index]
        } else {
            &versions[index.saturating_sub(1)..index]
        };
        for &old_version in earlier {
            if linked(recorded, current, old_version, new_version) {
                continue;
            }
            let olds = snapshots(recorded.get(&old_version), current.get(&old_version), mode);
            let news = snapshots(recorded.get(&new_version), current.get(&new_version), mode);
            for &(old_snapshot, old) in &olds {
                for &(new_snapshot, new) in &news {
                    // Both taken from the lock file: accepted when it was written.
                    if old_snapshot != Snapshot::Current && new_snapshot != Snapshot::Current {
                        continue;
                    }
                    let pair = SchemaPair {
                        event: name,
                        old_version,
                        old,
                        old_is_earlier: old_snapshot == Snapshot::Earlier,
                        new_version,
                        new,
                    };
                    pair.compare(mode, breaks);
                }
            }
        }
    }
}

/// Returns whether upcasters lead from `old` to `new`, following the
/// `upcast_from` links of the current catalog and then of the lock.
fn linked(
    recorded: &BTreeMap<u32, LockedVersion>,
    current: &BTreeMap<u32, LockedVersion>,
    old: u32,
    new: u32,
) -> bool {
    let mut version = new;
    while version > old {
        let link = current
            .get(&version)
            .and_then(LockedVersion::upcast_from)
            .or_else(|| recorded.get(&version).and_then(LockedVersion::upcast_from));
        match link {
            Some(previous) if previous < version => version = previous,
            _ => return false,
        }
    }
    version == old
}

/// JSON Schema keywords that describe a value without constraining it.
const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "examples",
    "$comment",
    "deprecated",
    "readOnly",
    "writeOnly",
];

/// Returns `schema` without the annotation keywords of its schema objects,
/// so that two schemas compare equal when they accept the same payloads and
/// differ only in documentation. Property names stay, even when a property
/// is called `description`.
fn without_annotations(schema: &Value) -> Value {
    match schema {
        Value::Object(object) => {
            let mut stripped = Map::new();
            for (key, value) in object {
                if ANNOTATIONS.contains(&key.as_str()) {
                    continue;
                }
                let value = if is_schema_map(key) {
                    strip_map_values(value)
                } else {
                    without_annotations(value)
                };
                stripped.insert(key.clone(), value);
            }
            Value::Object(stripped)
        }
        Value::Array(items) => Value::Array(items.iter().map(without_annotations).collect()),
        other => other.clone(),
    }
}

/// Returns whether `key` maps names to schemas, so that the names are data,
/// not keywords.
fn is_schema_map(key: &str) -> bool {
    matches!(
        key,
        "properties" | "$defs" | "definitions" | "patternProperties"
    )
}

fn strip_map_values(map: &Value) -> Value {
    match map {
        Value::Object(entries) => Value::Object(
            entries
                .iter()
                .map(|(name, schema)| (name.clone(), without_annotations(schema)))
                .collect(),
        ),
        other => without_annotations(other),
    }
}

/// The source of one schema of a version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Snapshot {
    /// The schema recorded in the lock.
    Recorded,
    /// A schema the version had before the recorded one.
    Earlier,
    /// The schema of the current catalog.
    Current,
}

/// Lists the schemas that events of one version may have been written with:
/// the recorded one, in the transitive modes also the earlier ones, and the
/// current one when it differs from the recorded one.
fn snapshots<'a>(
    recorded: Option<&'a LockedVersion>,
    current: Option<&'a LockedVersion>,
    mode: Mode,
) -> Vec<(Snapshot, &'a Value)> {
    let mut schemas = Vec::new();
    if let Some(recorded) = recorded {
        // The recorded schema goes first, so that a break it shows is
        // reported against it rather than against an earlier schema.
        schemas.push((Snapshot::Recorded, &recorded.schema));
        if mode.is_transitive() {
            schemas.extend(
                recorded
                    .earlier
                    .iter()
                    .map(|schema| (Snapshot::Earlier, schema)),
            );
        }
    }
    if let Some(current) = current {
        if recorded.is_none_or(|recorded| recorded.schema != current.schema) {
            schemas.push((Snapshot::Current, &current.schema));
        }
    }
    schemas
}

fn push_unique(breaks: &mut Vec<Break>, found: Break) {
    if !breaks.contains(&found) {
        breaks.push(found);
    }
}

/// Two schemas of one event to compare.
struct SchemaPair<'a> {
    event: &'a str,
    old_version: u32,
    old: &'a Value,
    /// Whether `old` is one of the schemas the version had before the
    /// recorded one.
    old_is_earlier: bool,
    new_version: u32,
    new: &'a Value,
}

impl SchemaPair<'_> {
    fn compare(&self, mode: Mode, breaks: &mut Vec<Break>) {
        if self.old == self.new {
            return;
        }
        for &direction in mode.directions() {
            let (writer, reader) = match direction {
                Direction::Backward => (self.old, self.new),
                Direction::Forward => (self.new, self.old),
            };
            let mut comparison = Comparison {
                writer_root: writer,
                reader_root: reader,
                direction,
                active: Vec::new(),
            };
            let mut findings = Vec::new();
            comparison.compare(writer, reader, "", &mut findings);
            for finding in findings {
                // A field that already breaks against the recorded schema is
                // reported once, against it: one edit gets one set of fixes.
                let already_found = self.old_is_earlier
                    && breaks.iter().any(|found| {
                        !found.old_is_earlier
                            && found.event == self.event
                            && found.old_version == self.old_version
                            && found.new_version == self.new_version
                            && found.path == finding.path
                            && found.direction == Some(direction)
                    });
                if already_found {
                    continue;
                }
                push_unique(
                    breaks,
                    Break {
                        event: self.event.to_owned(),
                        old_version: self.old_version,
                        old_is_earlier: self.old_is_earlier,
                        new_version: self.new_version,
                        path: finding.path,
                        kind: finding.kind,
                        direction: Some(direction),
                    },
                );
            }
        }
    }
}

/// A break found inside one pair of schemas.
struct Finding {
    path: String,
    kind: BreakKind,
}

/// The schema `true`, which accepts any value.
static ANY_SCHEMA: Value = Value::Bool(true);

/// `additionalProperties: false`.
static CLOSED: Value = Value::Bool(false);

/// The maximum nesting of `$ref`, `allOf`, `anyOf` and `oneOf` while
/// normalising one schema, so that a `$ref` cycle without an object in
/// between terminates. A schema nested deeper counts as accepting any value.
const MAX_NORMALIZE_DEPTH: usize = 64;

/// A check of whether readers of one schema can read the values that another
/// schema writes.
struct Comparison<'a> {
    writer_root: &'a Value,
    reader_root: &'a Value,
    direction: Direction,
    /// The (writer, reader) schema pairs being compared further up. A pair that
    /// comes back is a recursive type, which is compatible as far as compared.
    active: Vec<(*const Value, *const Value)>,
}

impl<'a> Comparison<'a> {
    /// Picks the kind for this direction: `backward` when the writer is the
    /// old schema, `forward` when it is the new one.
    fn pick(&self, backward: BreakKind, forward: BreakKind) -> BreakKind {
        match self.direction {
            Direction::Backward => backward,
            Direction::Forward => forward,
        }
    }

    fn changed_type(&self, writer: String, reader: String) -> BreakKind {
        let (from, to) = match self.direction {
            Direction::Backward => (writer, reader),
            Direction::Forward => (reader, writer),
        };
        BreakKind::ChangedType { from, to }
    }

    fn compare(
        &mut self,
        writer: &'a Value,
        reader: &'a Value,
        path: &str,
        out: &mut Vec<Finding>,
    ) {
        let key = (
            ref_target(self.writer_root, writer) as *const Value,
            ref_target(self.reader_root, reader) as *const Value,
        );
        if self.active.contains(&key) {
            return;
        }
        let normalized = alternatives(self.writer_root, writer, 0)
            .and_then(|writers| Ok((writers, alternatives(self.reader_root, reader, 0)?)));
        let (writers, readers) = match normalized {
            Ok(both) => both,
            Err(reference) => {
                push(out, path, BreakKind::UnresolvedReference { reference });
                return;
            }
        };
        self.active.push(key);
        self.compare_alternatives(&writers, &readers, path, out);
        self.active.pop();
    }

    fn compare_alternatives(
        &mut self,
        writers: &[Alt<'a>],
        readers: &[Alt<'a>],
        path: &str,
        out: &mut Vec<Finding>,
    ) {
        if readers.iter().any(|reader| matches!(reader, Alt::Any)) {
            return;
        }
        let reader_has_values = readers
            .iter()
            .any(|reader| matches!(reader, Alt::Values(_)));
        let mut lost_values = Vec::new();
        let mut lost_null = false;
        let mut type_changed = false;

        for writer in writers {
            match writer {
                Alt::Any => type_changed = true,
                Alt::Null => lost_null |= !accepts(readers, &Value::Null),
                Alt::Values(values) => {
                    for value in values {
                        if accepts(readers, value) {
                            continue;
                        }
                        if reader_has_values {
                            lost_values.push((*value).clone());
                        } else {
                            type_changed = true;
                        }
                    }
                }
                Alt::Array(array) => {
                    let candidates: Vec<&ArrayShape<'a>> = readers
                        .iter()
                        .filter_map(|reader| match reader {
                            Alt::Array(shape) => Some(shape),
                            _ => None,
                        })
                        .collect();
                    if candidates.is_empty() {
                        type_changed = true;
                    } else {
                        self.best_match(&candidates, out, |this, candidate, found| {
                            this.compare_arrays(array, candidate, path, found)
                        });
                    }
                }
                Alt::Object(object) => {
                    let candidates: Vec<&ObjectShape<'a>> = readers
                        .iter()
                        .filter_map(|reader| match reader {
                            Alt::Object(shape) => Some(shape),
                            _ => None,
                        })
                        .collect();
                    if candidates.is_empty() {
                        type_changed = true;
                    } else {
                        self.compare_variant(object, &candidates, path, &mut lost_values, out);
                    }
                }
                scalar => {
                    type_changed |= !readers.iter().any(|reader| reads_scalar(reader, scalar))
                }
            }
        }

        if type_changed {
            let kind = self.changed_type(describe(writers), describe(readers));
            push(out, path, kind);
        } else if lost_null {
            let kind = self.pick(BreakKind::MadeNonNullable, BreakKind::MadeNullable);
            push(out, path, kind);
        }
        if !lost_values.is_empty() {
            let kind = self.pick(
                BreakKind::NarrowedEnum {
                    removed: lost_values.clone(),
                },
                BreakKind::WidenedEnum { added: lost_values },
            );
            push(out, path, kind);
        }
    }

    /// Compares one object alternative of the writer with the object
    /// alternatives of the reader: by variant when the writer's object is an
    /// enum variant, else with the reader's object that fits best.
    fn compare_variant(
        &mut self,
        object: &ObjectShape<'a>,
        candidates: &[&ObjectShape<'a>],
        path: &str,
        lost_values: &mut Vec<Value>,
        out: &mut Vec<Finding>,
    ) {
        if let Some(variant) = object.discriminator() {
            let same = candidates
                .iter()
                .find(|candidate| candidate.discriminator().as_ref() == Some(&variant));
            if let Some(reader) = same {
                let path = match &variant {
                    Discriminator::Tag { property, value } => {
                        let text = value
                            .as_str()
                            .map_or_else(|| value.to_string(), str::to_owned);
                        format!("{path}[{property}={text}]")
                    }
                    Discriminator::Key(_) => path.to_owned(),
                };
                return self.compare_objects(object, reader, &path, out);
            }
            if candidates
                .iter()
                .any(|candidate| candidate.discriminator().is_some())
            {
                lost_values.push(variant.name());
                return;
            }
        }
        self.best_match(candidates, out, |this, candidate, found| {
            this.compare_objects(object, candidate, path, found)
        });
    }

    /// Compares with each candidate and keeps the findings of the candidate
    /// with the fewest, as an untagged enum reads the first variant that fits.
    fn best_match<T>(
        &mut self,
        candidates: &[T],
        out: &mut Vec<Finding>,
        mut compare: impl FnMut(&mut Self, &T, &mut Vec<Finding>),
    ) {
        let mut best: Option<Vec<Finding>> = None;
        for candidate in candidates {
            let mut found = Vec::new();
            compare(self, candidate, &mut found);
            if found.is_empty() {
                return;
            }
            if best.as_ref().is_none_or(|best| found.len() < best.len()) {
                best = Some(found);
            }
        }
        out.extend(best.unwrap_or_default());
    }

    fn compare_objects(
        &mut self,
        writer: &ObjectShape<'a>,
        reader: &ObjectShape<'a>,
        path: &str,
        out: &mut Vec<Finding>,
    ) {
        for (&name, &reader_schema) in &reader.properties {
            let child = join(path, name);
            let required = reader.required.contains(name);
            match writer.properties.get(name) {
                None if required => {
                    let kind = self.pick(
                        BreakKind::AddedRequiredField,
                        BreakKind::RemovedRequiredField,
                    );
                    push(out, &child, kind);
                }
                None => {}
                Some(&writer_schema) => {
                    if required && !writer.required.contains(name) {
                        let kind = self.pick(BreakKind::MadeRequired, BreakKind::MadeOptional);
                        push(out, &child, kind);
                    }
                    self.compare(writer_schema, reader_schema, &child, out);
                }
            }
        }

        for (&name, &writer_schema) in &writer.properties {
            if reader.properties.contains_key(name) {
                continue;
            }
            let child = join(path, name);
            match reader.additional {
                Some(Value::Bool(false)) => {
                    let kind = self.pick(BreakKind::RemovedField, BreakKind::AddedField);
                    push(out, &child, kind);
                }
                Some(Value::Bool(true)) | None => {}
                Some(extra) => self.compare(writer_schema, extra, &child, out),
            }
        }

        let writer_extra = writer
            .additional
            .filter(|extra| !matches!(extra, Value::Bool(false)));
        if let Some(writer_extra) = writer_extra {
            match reader.additional {
                Some(Value::Bool(false)) => {
                    let kind = self.pick(BreakKind::OpenToClosed, BreakKind::ClosedToOpen);
                    push(out, path, kind);
                }
                Some(Value::Bool(true)) | None => {}
                Some(reader_extra) => {
                    self.compare(writer_extra, reader_extra, &format!("{path}{{}}"), out)
                }
            }
        }
    }

    fn compare_arrays(
        &mut self,
        writer: &ArrayShape<'a>,
        reader: &ArrayShape<'a>,
        path: &str,
        out: &mut Vec<Finding>,
    ) {
        match (writer.prefix, reader.prefix) {
            (None, None) => {
                if let Some(reader_items) = reader.items {
                    let writer_items = writer.items.unwrap_or(&ANY_SCHEMA);
                    self.compare(writer_items, reader_items, &format!("{path}[]"), out);
                }
            }
            (Some(writer_prefix), Some(reader_prefix)) => {
                if writer_prefix.len() != reader_prefix.len() {
                    let kind = self.changed_type(writer.describe(), reader.describe());
                    push(out, path, kind);
                }
                for (index, (writer_item, reader_item)) in
                    writer_prefix.iter().zip(reader_prefix).enumerate()
                {
                    self.compare(writer_item, reader_item, &format!("{path}[{index}]"), out);
                }
            }
            _ => {
                let kind = self.changed_type(writer.describe(), reader.describe());
                push(out, path, kind);
            }
        }
    }
}

fn push(out: &mut Vec<Finding>, path: &str, kind: BreakKind) {
    out.push(Finding {
        path: path.to_owned(),
        kind,
    });
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// One alternative of a normalised schema: a value matches the schema when it
/// matches one of its alternatives.
#[derive(Clone, Debug)]
enum Alt<'a> {
    Any,
    Null,
    Boolean,
    Integer(IntegerRange<'a>),
    Number,
    String(Option<&'a str>),
    /// Exactly these values, from `enum` or `const`.
    Values(Vec<&'a Value>),
    Array(ArrayShape<'a>),
    Object(ObjectShape<'a>),
}

/// The values an integer schema accepts. The bounds are `f64` so that the
/// ranges of `int128` and `uint128` fit; the formats' bounds stay distinct.
#[derive(Clone, Copy, Debug)]
struct IntegerRange<'a> {
    format: Option<&'a str>,
    min: f64,
    max: f64,
}

#[derive(Clone, Copy, Debug)]
struct ArrayShape<'a> {
    items: Option<&'a Value>,
    prefix: Option<&'a [Value]>,
}

impl ArrayShape<'_> {
    fn describe(&self) -> String {
        match self.prefix {
            Some(prefix) => format!("tuple of {}", prefix.len()),
            None => "array".to_owned(),
        }
    }
}

#[derive(Clone, Debug, Default)]
struct ObjectShape<'a> {
    properties: BTreeMap<&'a str, &'a Value>,
    required: BTreeSet<&'a str>,
    /// `additionalProperties`, absent when the schema does not set it.
    additional: Option<&'a Value>,
}

/// The property that distinguishes a `oneOf` variant of an enum from the others.
#[derive(Clone, Debug, PartialEq)]
enum Discriminator<'a> {
    /// Internally tagged: a property with a `const` value.
    Tag { property: &'a str, value: &'a Value },
    /// Externally tagged: a closed object with one required property.
    Key(&'a str),
}

impl Discriminator<'_> {
    fn name(&self) -> Value {
        match self {
            Discriminator::Tag { value, .. } => (*value).clone(),
            Discriminator::Key(name) => Value::String((*name).to_owned()),
        }
    }
}

impl<'a> ObjectShape<'a> {
    fn from_map(map: &'a Map<String, Value>) -> ObjectShape<'a> {
        let properties = match map.get("properties") {
            Some(Value::Object(properties)) => properties
                .iter()
                .map(|(name, schema)| (name.as_str(), schema))
                .collect(),
            _ => BTreeMap::new(),
        };
        let required = match map.get("required") {
            Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
            _ => BTreeSet::new(),
        };
        ObjectShape {
            properties,
            required,
            additional: map.get("additionalProperties"),
        }
    }

    fn discriminator(&self) -> Option<Discriminator<'a>> {
        for (&property, &schema) in &self.properties {
            if let Some(value) = schema.get("const") {
                return Some(Discriminator::Tag { property, value });
            }
        }
        let closed = matches!(self.additional, Some(Value::Bool(false)));
        if closed && self.properties.len() == 1 && self.required.len() == 1 {
            let (&name, _) = self.properties.first_key_value()?;
            if self.required.contains(name) {
                return Some(Discriminator::Key(name));
            }
        }
        None
    }

    /// Merges two object schemas that both apply (`allOf`, or `$ref` with
    /// sibling keywords). The object is closed when either is.
    fn merge(&self, other: &ObjectShape<'a>) -> ObjectShape<'a> {
        let mut merged = self.clone();
        for (&name, &schema) in &other.properties {
            merged.properties.entry(name).or_insert(schema);
        }
        merged.required.extend(other.required.iter().copied());
        merged.additional = match (self.additional, other.additional) {
            (Some(Value::Bool(false)), _) | (_, Some(Value::Bool(false))) => Some(&CLOSED),
            (mine, theirs) => mine.or(theirs),
        };
        merged
    }
}

/// Normalises `schema` into its alternatives, resolving `$ref` against
/// `root` and flattening `allOf`, `anyOf`, `oneOf` and `type` arrays. Returns
/// the `$ref` that cannot be resolved as the error.
fn alternatives<'a>(
    root: &'a Value,
    schema: &'a Value,
    depth: usize,
) -> Result<Vec<Alt<'a>>, String> {
    let map = match schema {
        Value::Bool(false) => return Ok(Vec::new()),
        Value::Object(map) if depth <= MAX_NORMALIZE_DEPTH => map,
        _ => return Ok(vec![Alt::Any]),
    };

    let mut result = own_alternatives(map);
    if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
        let target = resolve(root, reference).ok_or_else(|| reference.to_owned())?;
        result = intersect(&result, &alternatives(root, target, depth + 1)?);
    }
    if let Some(Value::Array(members)) = map.get("allOf") {
        for member in members {
            result = intersect(&result, &alternatives(root, member, depth + 1)?);
        }
    }
    for keyword in ["anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = map.get(keyword) {
            let mut union = Vec::new();
            for branch in branches {
                union.extend(alternatives(root, branch, depth + 1)?);
            }
            result = intersect(&result, &union);
        }
    }
    Ok(result)
}

/// Returns the alternatives from the keywords of `map` itself, without `$ref` and
/// the combining keywords.
fn own_alternatives(map: &Map<String, Value>) -> Vec<Alt<'_>> {
    if let Some(value) = map.get("const") {
        return vec![Alt::Values(vec![value])];
    }
    if let Some(Value::Array(values)) = map.get("enum") {
        return vec![Alt::Values(values.iter().collect())];
    }
    let types: Vec<&str> = match map.get("type") {
        Some(Value::String(name)) => vec![name.as_str()],
        Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
        _ if ["properties", "required", "additionalProperties"]
            .iter()
            .any(|keyword| map.contains_key(*keyword)) =>
        {
            vec!["object"]
        }
        _ if map.contains_key("items") || map.contains_key("prefixItems") => vec!["array"],
        _ => return vec![Alt::Any],
    };
    let format = map.get("format").and_then(Value::as_str);
    types
        .into_iter()
        .map(|name| match name {
            "null" => Alt::Null,
            "boolean" => Alt::Boolean,
            "integer" => Alt::Integer(integer_range(map, format)),
            "number" => Alt::Number,
            "string" => Alt::String(format),
            "array" => Alt::Array(ArrayShape {
                items: map.get("items"),
                prefix: map
                    .get("prefixItems")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice),
            }),
            "object" => Alt::Object(ObjectShape::from_map(map)),
            _ => Alt::Any,
        })
        .collect()
}

/// Computes the range of an integer schema: the range of its `format` (as `schemars`
/// writes it for Rust integer types), narrowed by `minimum` and `maximum`.
fn integer_range<'a>(map: &'a Map<String, Value>, format: Option<&'a str>) -> IntegerRange<'a> {
    let bits = |width: i32| 2f64.powi(width);
    let (mut min, mut max) = match format {
        Some("int8") => (-bits(7), bits(7) - 1.0),
        Some("int16") => (-bits(15), bits(15) - 1.0),
        Some("int32") => (-bits(31), bits(31) - 1.0),
        Some("int64" | "int") => (-bits(63), bits(63) - 1.0),
        Some("int128") => (-bits(127), bits(127) - 1.0),
        Some("uint8") => (0.0, bits(8) - 1.0),
        Some("uint16") => (0.0, bits(16) - 1.0),
        Some("uint32") => (0.0, bits(32) - 1.0),
        Some("uint64" | "uint") => (0.0, bits(64) - 1.0),
        Some("uint128") => (0.0, bits(128) - 1.0),
        _ => (f64::NEG_INFINITY, f64::INFINITY),
    };
    if let Some(minimum) = map.get("minimum").and_then(Value::as_f64) {
        min = min.max(minimum);
    }
    if let Some(maximum) = map.get("maximum").and_then(Value::as_f64) {
        max = max.min(maximum);
    }
    IntegerRange { format, min, max }
}

/// Resolves a `$ref` into the same document (`#` or `#/...`).
///
/// NOTE: percent-encoded characters in the fragment are not decoded; the
/// `$defs` names that `schemars` writes do not need it.
fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    root.pointer(pointer)
}

/// Follows `$ref`s that carry only annotations besides, so that every use of
/// one definition is the same schema for the recursion check.
fn ref_target<'a>(root: &'a Value, mut schema: &'a Value) -> &'a Value {
    const ANNOTATIONS: [&str; 9] = [
        "$ref",
        "$defs",
        "$schema",
        "$comment",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
    ];
    for _ in 0..MAX_NORMALIZE_DEPTH {
        let Some(map) = schema.as_object() else { break };
        let Some(reference) = map.get("$ref").and_then(Value::as_str) else {
            break;
        };
        if !map.keys().all(|key| ANNOTATIONS.contains(&key.as_str())) {
            break;
        }
        match resolve(root, reference) {
            Some(target) => schema = target,
            None => break,
        }
    }
    schema
}

/// Returns the alternatives that match both lists.
fn intersect<'a>(left: &[Alt<'a>], right: &[Alt<'a>]) -> Vec<Alt<'a>> {
    let mut result = Vec::new();
    for a in left {
        for b in right {
            if let Some(merged) = merge(a, b) {
                result.push(merged);
            }
        }
    }
    result
}

fn merge<'a>(a: &Alt<'a>, b: &Alt<'a>) -> Option<Alt<'a>> {
    match (a, b) {
        (Alt::Any, other) | (other, Alt::Any) => Some(other.clone()),
        (Alt::Values(values), other) | (other, Alt::Values(values)) => {
            let matching: Vec<&Value> = values
                .iter()
                .copied()
                .filter(|value| accepts(std::slice::from_ref(other), value))
                .collect();
            (!matching.is_empty()).then_some(Alt::Values(matching))
        }
        (Alt::Object(left), Alt::Object(right)) => Some(Alt::Object(left.merge(right))),
        (Alt::Integer(left), Alt::Integer(right)) => Some(Alt::Integer(IntegerRange {
            format: left.format.or(right.format),
            min: left.min.max(right.min),
            max: left.max.min(right.max),
        })),
        (Alt::Integer(range), Alt::Number) | (Alt::Number, Alt::Integer(range)) => {
            Some(Alt::Integer(*range))
        }
        (Alt::String(left), Alt::String(right)) => Some(Alt::String(left.or(*right))),
        (Alt::Array(left), Alt::Array(right)) => {
            let merged = if left.items.is_some() || left.prefix.is_some() {
                left
            } else {
                right
            };
            Some(Alt::Array(*merged))
        }
        (Alt::Null, Alt::Null) => Some(Alt::Null),
        (Alt::Boolean, Alt::Boolean) => Some(Alt::Boolean),
        (Alt::Number, Alt::Number) => Some(Alt::Number),
        _ => None,
    }
}

/// Returns whether some alternative accepts the JSON `value`. Only the value's type
/// and, for integers, the range are checked against the non-enum alternatives.
fn accepts(alternatives: &[Alt<'_>], value: &Value) -> bool {
    alternatives.iter().any(|alternative| match alternative {
        Alt::Any => true,
        Alt::Null => value.is_null(),
        Alt::Boolean => value.is_boolean(),
        Alt::Integer(range) => value.as_f64().is_some_and(|number| {
            number.fract() == 0.0 && range.min <= number && number <= range.max
        }),
        Alt::Number => value.is_number(),
        Alt::String(_) => value.is_string(),
        Alt::Values(values) => values.contains(&value),
        Alt::Array(_) => value.is_array(),
        Alt::Object(_) => value.is_object(),
    })
}

/// Returns whether the `reader` alternative reads every value of the scalar `writer`
/// alternative.
fn reads_scalar(reader: &Alt<'_>, writer: &Alt<'_>) -> bool {
    match (writer, reader) {
        (Alt::Boolean, Alt::Boolean) | (Alt::Number, Alt::Number) => true,
        (Alt::Integer(_), Alt::Number) => true,
        (Alt::Integer(written), Alt::Integer(read)) => {
            read.min <= written.min && written.max <= read.max
        }
        (Alt::String(written), Alt::String(read)) => read.is_none() || read == written,
        _ => false,
    }
}

/// Describes alternatives for a [`BreakKind::ChangedType`], such as
/// `integer (uint64)` or `string or null`.
fn describe(alternatives: &[Alt<'_>]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for alternative in alternatives {
        let part = match alternative {
            Alt::Any => "any value".to_owned(),
            Alt::Null => "null".to_owned(),
            Alt::Boolean => "boolean".to_owned(),
            Alt::Integer(range) => match range.format {
                Some(format) => format!("integer ({format})"),
                None => "integer".to_owned(),
            },
            Alt::Number => "number".to_owned(),
            Alt::String(Some(format)) => format!("string ({format})"),
            Alt::String(None) => "string".to_owned(),
            Alt::Values(values) => {
                let texts: Vec<String> = values.iter().map(|value| value.to_string()).collect();
                format!("one of {}", texts.join(", "))
            }
            Alt::Array(array) => array.describe(),
            Alt::Object(_) => "object".to_owned(),
        };
        if !parts.contains(&part) {
            parts.push(part);
        }
    }
    if parts.is_empty() {
        "no value".to_owned()
    } else {
        parts.join(" or ")
    }
}

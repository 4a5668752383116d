//! Events that could not be handled, kept so that nothing is lost.
//!
//! When a handler fails on its last attempt under
//! [`OnFailure::DeadLetter`](crate::policy::OnFailure::DeadLetter) (the
//! default), the bus writes a [`DeadLetter`] to its store: the event as
//! CloudEvents JSON, the handler, the error, the number of attempts and when
//! they happened. Events the bus rejects as a whole (emitted after
//! [`shutdown`](crate::Bus::shutdown), or beyond the depth limit) are kept
//! the same way, without a handler.
//!
//! Every bus has an [`InMemoryDeadLetters`] store unless it is given another
//! [`DeadLetterStore`] when it is built. Dead letters can be listed and
//! dispatched again with [`Bus::redispatch`](crate::Bus::redispatch).
//!
//! ```
//! use events::{on, Bus, Event};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Serialize, Deserialize)]
//! struct InvoiceIssued { invoice_id: u64 }
//!
//! #[on(InvoiceIssued, name = "erp.export", attempts = 2)]
//! fn export(invoice: &InvoiceIssued) -> Result<(), String> {
//!     Err(format!("ERP rejected invoice {}", invoice.invoice_id))
//! }
//!
//! let bus = Bus::new();
//! bus.emit(InvoiceIssued { invoice_id: 12 });
//!
//! let letters = bus.dead_letters().list().unwrap();
//! let (_, letter) = &letters[0];
//! assert_eq!(letter.handler(), Some("erp.export"));
//! assert_eq!(letter.attempts(), 2);
//! assert_eq!(letter.error(), "ERP rejected invoice 12");
//! assert_eq!(letter.event_name(), "InvoiceIssued");
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// An event that a handler, or the bus, could not handle.
///
/// ```
/// use events::dead_letter::{DeadLetter, DeadLetterReason};
///
/// let letter = DeadLetter::builder(
///     br#"{"specversion":"1.0","id":"e-1","source":"shop","type":"OrderPlaced","data":{}}"#.to_vec(),
///     "OrderPlaced",
///     1,
///     "e-1",
/// )
/// .handler("billing.charge")
/// .error("card declined")
/// .attempts(3)
/// .build();
/// assert_eq!(letter.reason(), DeadLetterReason::HandlerFailed);
/// assert_eq!(letter.handler(), Some("billing.charge"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct DeadLetter {
    event: Vec<u8>,
    event_name: String,
    event_version: u32,
    event_id: String,
    handler: Option<String>,
    reason: DeadLetterReason,
    error: String,
    attempts: u32,
    first_attempt_at: DateTime<Utc>,
    failed_at: DateTime<Utc>,
}

/// Shows the kept event as text rather than as a list of bytes.
impl fmt::Debug for DeadLetter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeadLetter")
            .field("event", &String::from_utf8_lossy(&self.event))
            .field("event_name", &self.event_name)
            .field("event_version", &self.event_version)
            .field("event_id", &self.event_id)
            .field("handler", &self.handler)
            .field("reason", &self.reason)
            .field("error", &self.error)
            .field("attempts", &self.attempts)
            .field("first_attempt_at", &self.first_attempt_at)
            .field("failed_at", &self.failed_at)
            .finish()
    }
}

/// The reason an event is in the dead-letter store.
///
/// ```
/// use events::dead_letter::DeadLetterReason;
/// assert_eq!(DeadLetterReason::HandlerFailed.to_string(), "handler failed");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeadLetterReason {
    /// A handler failed on its last attempt.
    HandlerFailed,
    /// The bus had been shut down when the event was emitted, so no handler ran.
    ShutDown,
    /// The event was emitted beyond the depth limit, so no handler ran.
    DepthExceeded,
    /// The event was still being handled when a shutdown timed out and was
    /// cancelled. The letter names no handler, and handlers that had
    /// finished run again when it is re-dispatched.
    Cancelled,
    /// A stored or received event did not decode (an unknown name or
    /// version, a failed upcast, invalid JSON), so no handler could run.
    Undecodable,
}

impl fmt::Display for DeadLetterReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeadLetterReason::HandlerFailed => "handler failed",
            DeadLetterReason::ShutDown => "emitted after shutdown",
            DeadLetterReason::DepthExceeded => "depth limit exceeded",
            DeadLetterReason::Cancelled => "cancelled at shutdown",
            DeadLetterReason::Undecodable => "does not decode",
        })
    }
}

impl DeadLetter {
    /// Starts a dead letter for the CloudEvents JSON `event`, for stores and
    /// tests that build their own. The reason defaults to
    /// [`HandlerFailed`](DeadLetterReason::HandlerFailed), the attempts to 1
    /// and both times to now.
    ///
    /// ```
    /// let letter = events::dead_letter::DeadLetter::builder(b"{}".to_vec(), "OrderPlaced", 2, "e-1").build();
    /// assert_eq!(letter.event_version(), 2);
    /// assert_eq!(letter.attempts(), 1);
    /// ```
    pub fn builder(
        event: Vec<u8>,
        event_name: impl Into<String>,
        event_version: u32,
        event_id: impl Into<String>,
    ) -> DeadLetterBuilder {
        let now = Utc::now();
        DeadLetterBuilder(DeadLetter {
            event,
            event_name: event_name.into(),
            event_version,
            event_id: event_id.into(),
            handler: None,
            reason: DeadLetterReason::HandlerFailed,
            error: String::new(),
            attempts: 1,
            first_attempt_at: now,
            failed_at: now,
        })
    }

    /// Returns the event as CloudEvents JSON, which [`decode`](crate::decode) reads.
    ///
    /// ```
    /// # let letter = events::dead_letter::DeadLetter::builder(b"{}".to_vec(), "OrderPlaced", 1, "e-1").build();
    /// assert_eq!(letter.event(), b"{}");
    /// ```
    pub fn event(&self) -> &[u8] {
        &self.event
    }

    /// Returns the event's name.
    ///
    /// ```
    /// # let letter = events::dead_letter::DeadLetter::builder(b"{}".to_vec(), "OrderPlaced", 1, "e-1").build();
    /// assert_eq!(letter.event_name(), "OrderPlaced");
    /// ```
    pub fn event_name(&self) -> &str {
        &self.event_name
    }

    /// Returns the event's version.
    ///
    /// ```
    /// # let letter = events::dead_letter::DeadLetter::builder(b"{}".to_vec(), "OrderPlaced", 1, "e-1").build();
    /// assert_eq!(letter.event_version(), 1);
    /// ```
    pub fn event_version(&self) -> u32 {
        self.event_version
    }

    /// Returns the event's id.
    ///
    /// ```
    /// # let letter = events::dead_letter::DeadLetter::builder(b"{}".to_vec(), "OrderPlaced", 1, "e-1").build();
    /// assert_eq!(letter.event_id(), "e-1");
    /// ```
    pub fn event_id(&self) -> &str {
        &self.event_id
    }

    /// Returns the name of the handler that failed, or `None` when the bus
    /// rejected the event before any handler ran.
    ///
    /// ```
    /// # let letter = events::dead_letter::DeadLetter::builder(b"{}".to_vec(), "OrderPlaced", 1, "e-1").build();
    /// assert_eq!(letter.handler(), None);
    /// ```
    pub fn handler(&self) -> Option<&str> {
        self.handler.as_deref()
    }

    /// Returns why the event is here.
    ///
    /// ```
    /// # use events::dead_letter::{DeadLetter, DeadLetterReason};
    /// let letter = DeadLetter::builder(b"{}".to_vec(), "OrderPlaced", 1, "e-1")
    ///     .reason(DeadLetterReason::ShutDown)
    ///     .build();
    /// assert_eq!(letter.reason(), DeadLetterReason::ShutDown);
    /// ```
    pub fn reason(&self) -> DeadLetterReason {
        self.reason
    }

    /// Returns the error of the last attempt, or the rejection.
    ///
    /// ```
    /// # let letter = events::dead_letter::DeadLetter::builder(b"{}".to_vec(), "OrderPlaced", 1, "e-1").error("timeout").build();
    /// assert_eq!(letter.error(), "timeout");
    /// ```
    pub fn error(&self) -> &str {
        &self.error
    }

    /// Returns how many times the handler was tried.
    ///
    /// ```
    /// # let letter = events::dead_letter::DeadLetter::builder(b"{}".to_vec(), "OrderPlaced", 1, "e-1").attempts(4).build();
    /// assert_eq!(letter.attempts(), 4);
    /// ```
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Returns when the first attempt started.
    ///
    /// ```
    /// # let letter = events::dead_letter::DeadLetter::builder(b"{}".to_vec(), "OrderPlaced", 1, "e-1").build();
    /// assert!(letter.first_attempt_at() <= letter.failed_at());
    /// ```
    pub fn first_attempt_at(&self) -> DateTime<Utc> {
        self.first_attempt_at
    }

    /// Returns when the last attempt failed, or when the bus rejected the event.
    ///
    /// ```
    /// # let letter = events::dead_letter::DeadLetter::builder(b"{}".to_vec(), "OrderPlaced", 1, "e-1").build();
    /// assert!(letter.failed_at() <= events::chrono::Utc::now());
    /// ```
    pub fn failed_at(&self) -> DateTime<Utc> {
        self.failed_at
    }
}

impl fmt::Display for DeadLetter {
    /// ```
    /// # use events::dead_letter::DeadLetter;
    /// let letter = DeadLetter::builder(b"{}".to_vec(), "OrderPlaced", 1, "e-1")
    ///     .handler("billing.charge")
    ///     .error("card declined")
    ///     .attempts(3)
    ///     .build();
    /// assert_eq!(letter.to_string(), "`OrderPlaced` v1 e-1 at `billing.charge`: handler failed after 3 attempt(s): card declined");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` v{} {}",
            self.event_name, self.event_version, self.event_id
        )?;
        if let Some(handler) = &self.handler {
            write!(f, " at `{handler}`")?;
        }
        write!(f, ": {}", self.reason)?;
        if self.reason == DeadLetterReason::HandlerFailed {
            write!(f, " after {} attempt(s)", self.attempts)?;
        }
        if !self.error.is_empty() {
            write!(f, ": {}", self.error)?;
        }
        Ok(())
    }
}

/// Sets the optional parts of a [`DeadLetter`].
///
/// ```
/// # use events::dead_letter::DeadLetter;
/// let letter = DeadLetter::builder(b"{}".to_vec(), "OrderPlaced", 1, "e-1").attempts(2).build();
/// assert_eq!(letter.attempts(), 2);
/// ```
#[derive(Debug)]
#[must_use = "call `build` to get the dead letter"]
pub struct DeadLetterBuilder(DeadLetter);

impl DeadLetterBuilder {
    /// Sets the handler that failed.
    ///
    /// ```
    /// use events::dead_letter::DeadLetter;
    ///
    /// let letter = DeadLetter::builder(b"{}".to_vec(), "OrderPlaced", 1, "e-1")
    ///     .handler("billing.charge")
    ///     .build();
    /// assert_eq!(letter.handler(), Some("billing.charge"));
    /// ```
    pub fn handler(mut self, handler: impl Into<String>) -> Self {
        self.0.handler = Some(handler.into());
        self
    }

    /// Sets why the event is kept.
    ///
    /// ```
    /// use events::dead_letter::{DeadLetter, DeadLetterReason};
    ///
    /// // A consumer keeps a received message that names no registered event.
    /// let received = br#"{"specversion":"1.0","id":"m-1","source":"shop","type":"OrderRefunded","data":{}}"#;
    /// let error = events::decode(received).unwrap_err();
    /// let letter = DeadLetter::builder(received.to_vec(), "OrderRefunded", 1, "m-1")
    ///     .reason(DeadLetterReason::Undecodable)
    ///     .error(error.to_string())
    ///     .build();
    /// assert_eq!(letter.reason(), DeadLetterReason::Undecodable);
    /// assert_eq!(letter.handler(), None);
    /// ```
    pub fn reason(mut self, reason: DeadLetterReason) -> Self {
        self.0.reason = reason;
        self
    }

    /// Sets the error of the last attempt.
    ///
    /// ```
    /// use events::dead_letter::DeadLetter;
    ///
    /// let failure = std::io::Error::new(std::io::ErrorKind::TimedOut, "ERP timed out");
    /// let letter = DeadLetter::builder(b"{}".to_vec(), "InvoiceIssued", 1, "e-1")
    ///     .error(failure.to_string())
    ///     .build();
    /// assert_eq!(letter.error(), "ERP timed out");
    /// ```
    pub fn error(mut self, error: impl Into<String>) -> Self {
        self.0.error = error.into();
        self
    }

    /// Sets how many times the handler was tried.
    ///
    /// ```
    /// use events::dead_letter::DeadLetter;
    ///
    /// let letter = DeadLetter::builder(b"{}".to_vec(), "OrderPlaced", 1, "e-1")
    ///     .handler("billing.charge")
    ///     .attempts(5)
    ///     .build();
    /// assert!(letter.to_string().contains("after 5 attempt(s)"));
    /// ```
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.0.attempts = attempts;
        self
    }

    /// Sets when the first attempt started and when the last one failed.
    ///
    /// ```
    /// use events::chrono::{TimeZone, Utc};
    /// use events::dead_letter::DeadLetter;
    ///
    /// // A store that reads letters back from a database restores their times.
    /// let first_attempt_at = Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).unwrap();
    /// let failed_at = Utc.with_ymd_and_hms(2026, 3, 1, 9, 31, 0).unwrap();
    /// let letter = DeadLetter::builder(b"{}".to_vec(), "OrderPlaced", 1, "e-1")
    ///     .times(first_attempt_at, failed_at)
    ///     .build();
    /// assert_eq!((letter.failed_at() - letter.first_attempt_at()).num_seconds(), 60);
    /// ```
    pub fn times(mut self, first_attempt_at: DateTime<Utc>, failed_at: DateTime<Utc>) -> Self {
        self.0.first_attempt_at = first_attempt_at;
        self.0.failed_at = failed_at;
        self
    }

    /// Finishes the dead letter.
    ///
    /// ```
    /// use events::dead_letter::{DeadLetter, DeadLetterStore, InMemoryDeadLetters};
    ///
    /// let store = InMemoryDeadLetters::new();
    /// let letter = DeadLetter::builder(b"{}".to_vec(), "OrderPlaced", 1, "e-1")
    ///     .error("card declined")
    ///     .build();
    /// let id = store.push(letter).unwrap();
    /// assert_eq!(store.get(id).unwrap().unwrap().error(), "card declined");
    /// ```
    pub fn build(self) -> DeadLetter {
        self.0
    }
}

/// The identifier a store gives a dead letter.
///
/// ```
/// let id = events::dead_letter::DeadLetterId(7);
/// assert_eq!(id.to_string(), "7");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeadLetterId(pub u64);

impl fmt::Display for DeadLetterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A failure of a dead-letter store, such as a database that cannot be reached.
///
/// ```
/// let error = events::dead_letter::StoreError::new("database is locked");
/// assert_eq!(error.to_string(), "dead-letter store: database is locked");
/// ```
#[derive(Debug, thiserror::Error)]
#[error("dead-letter store: {message}")]
pub struct StoreError {
    message: String,
}

impl StoreError {
    /// Creates an error with a message that names what failed.
    ///
    /// ```
    /// use events::dead_letter::StoreError;
    ///
    /// // A database-backed store wraps its driver's error.
    /// let cause = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
    /// let error = StoreError::new(format!("cannot insert into `dead_letters`: {cause}"));
    /// assert_eq!(
    ///     error.to_string(),
    ///     "dead-letter store: cannot insert into `dead_letters`: connection refused"
    /// );
    /// ```
    pub fn new(message: impl Into<String>) -> StoreError {
        StoreError {
            message: message.into(),
        }
    }
}

/// The storage of a bus's dead letters.
///
/// Implement it to keep dead letters in a database; the bus calls
/// [`push`](DeadLetterStore::push) from the thread or task that ran the
/// failed handler. A store that fails to keep a letter makes the bus log the
/// event at error level, with its JSON, so that it is still not lost.
///
/// ```
/// use events::dead_letter::{DeadLetter, DeadLetterId, DeadLetterStore, InMemoryDeadLetters, StoreError};
/// use events::Bus;
/// use std::sync::Arc;
///
/// // A store that counts what it keeps, then delegates.
/// #[derive(Default)]
/// struct Counting { inner: InMemoryDeadLetters, pushed: std::sync::atomic::AtomicU32 }
///
/// impl DeadLetterStore for Counting {
///     fn push(&self, letter: DeadLetter) -> Result<DeadLetterId, StoreError> {
///         self.pushed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
///         self.inner.push(letter)
///     }
///     fn list(&self) -> Result<Vec<(DeadLetterId, DeadLetter)>, StoreError> { self.inner.list() }
///     fn get(&self, id: DeadLetterId) -> Result<Option<DeadLetter>, StoreError> { self.inner.get(id) }
///     fn remove(&self, id: DeadLetterId) -> Result<Option<DeadLetter>, StoreError> { self.inner.remove(id) }
/// }
///
/// let bus = Bus::builder().dead_letters(Counting::default()).build().unwrap();
/// assert!(bus.dead_letters().list().unwrap().is_empty());
/// ```
pub trait DeadLetterStore: Send + Sync + 'static {
    /// Keeps a dead letter and returns its id.
    ///
    /// ```
    /// use events::dead_letter::{DeadLetter, DeadLetterStore, InMemoryDeadLetters};
    ///
    /// let store = InMemoryDeadLetters::new();
    /// let id = store.push(DeadLetter::builder(b"{}".to_vec(), "OrderPlaced", 1, "e-1").build()).unwrap();
    /// assert_eq!(store.get(id).unwrap().unwrap().event_id(), "e-1");
    /// ```
    fn push(&self, letter: DeadLetter) -> Result<DeadLetterId, StoreError>;

    /// Returns every dead letter, oldest first.
    ///
    /// ```
    /// use events::dead_letter::{DeadLetter, DeadLetterStore, InMemoryDeadLetters};
    ///
    /// let store = InMemoryDeadLetters::new();
    /// for id in ["e-1", "e-2"] {
    ///     store.push(DeadLetter::builder(b"{}".to_vec(), "OrderPlaced", 1, id).build()).unwrap();
    /// }
    /// let ids: Vec<String> = store.list().unwrap().iter().map(|(_, letter)| letter.event_id().to_owned()).collect();
    /// assert_eq!(ids, ["e-1", "e-2"]);
    /// ```
    fn list(&self) -> Result<Vec<(DeadLetterId, DeadLetter)>, StoreError>;

    /// Returns one dead letter, or `None` when no letter has this id.
    ///
    /// ```
    /// use events::dead_letter::{DeadLetter, DeadLetterId, DeadLetterStore, InMemoryDeadLetters};
    ///
    /// let store = InMemoryDeadLetters::new();
    /// let id = store.push(DeadLetter::builder(b"{}".to_vec(), "OrderPlaced", 1, "e-1").build()).unwrap();
    /// assert_eq!(store.get(id).unwrap().unwrap().event_name(), "OrderPlaced");
    /// assert!(store.get(DeadLetterId(999)).unwrap().is_none());
    /// ```
    fn get(&self, id: DeadLetterId) -> Result<Option<DeadLetter>, StoreError>;

    /// Removes a dead letter and returns it, or `None` when no letter has this id.
    ///
    /// ```
    /// use events::dead_letter::{DeadLetter, DeadLetterStore, InMemoryDeadLetters};
    ///
    /// let store = InMemoryDeadLetters::new();
    /// let id = store.push(DeadLetter::builder(b"{}".to_vec(), "OrderPlaced", 1, "e-1").build()).unwrap();
    /// let removed = store.remove(id).unwrap().unwrap();
    /// assert_eq!(removed.event_id(), "e-1");
    /// assert!(store.remove(id).unwrap().is_none());
    /// ```
    fn remove(&self, id: DeadLetterId) -> Result<Option<DeadLetter>, StoreError>;
}

/// A dead-letter store in memory, the default. It keeps letters until they
/// are removed or the process ends.
///
/// ```
/// use events::dead_letter::{DeadLetter, DeadLetterStore, InMemoryDeadLetters};
///
/// let store = InMemoryDeadLetters::new();
/// let id = store.push(DeadLetter::builder(b"{}".to_vec(), "OrderPlaced", 1, "e-1").build()).unwrap();
/// assert_eq!(store.list().unwrap().len(), 1);
/// assert!(store.remove(id).unwrap().is_some());
/// assert!(store.list().unwrap().is_empty());
/// ```
#[derive(Debug, Default)]
pub struct InMemoryDeadLetters {
    letters: Mutex<Letters>,
}

#[derive(Debug, Default)]
struct Letters {
    next_id: u64,
    by_id: BTreeMap<u64, DeadLetter>,
}

impl InMemoryDeadLetters {
    /// Creates an empty store.
    ///
    /// ```
    /// use events::dead_letter::{DeadLetterStore, InMemoryDeadLetters};
    ///
    /// let store = InMemoryDeadLetters::new();
    /// assert!(store.list().unwrap().is_empty());
    /// let bus = events::Bus::builder().dead_letters(store).build().unwrap();
    /// assert!(bus.dead_letters().list().unwrap().is_empty());
    /// ```
    pub fn new() -> InMemoryDeadLetters {
        InMemoryDeadLetters::default()
    }

    fn letters(&self) -> std::sync::MutexGuard<'_, Letters> {
        // A panic while the lock is held cannot leave the map half-changed:
        // every operation is a single insert, lookup or removal.
        self.letters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl DeadLetterStore for InMemoryDeadLetters {
    fn push(&self, letter: DeadLetter) -> Result<DeadLetterId, StoreError> {
        let mut letters = self.letters();
        letters.next_id += 1;
        let id = letters.next_id;
        letters.by_id.insert(id, letter);
        Ok(DeadLetterId(id))
    }

    fn list(&self) -> Result<Vec<(DeadLetterId, DeadLetter)>, StoreError> {
        Ok(self
            .letters()
            .by_id
            .iter()
            .map(|(id, letter)| (DeadLetterId(*id), letter.clone()))
            .collect())
    }

    fn get(&self, id: DeadLetterId) -> Result<Option<DeadLetter>, StoreError> {
        Ok(self.letters().by_id.get(&id.0).cloned())
    }

    fn remove(&self, id: DeadLetterId) -> Result<Option<DeadLetter>, StoreError> {
        Ok(self.letters().by_id.remove(&id.0))
    }
}

//! Observers: code that receives every event a bus handles, such as the test
//! [`Recorder`](crate::testing::Recorder).
//!
//! ```
//! use events::testing::Recorder;
//! use events::{Bus, Event};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Serialize, Deserialize)]
//! struct OrderPlaced { order_id: u64 }
//!
//! // The recorder receives every event the bus handles, also one without handlers.
//! let recorder = Recorder::new();
//! let bus = Bus::builder().observer(recorder.clone()).build().unwrap();
//! bus.emit(OrderPlaced { order_id: 7 });
//! assert_eq!(recorder.events::<OrderPlaced>()[0].order_id, 7);
//! ```

use std::fmt;

use crate::envelope::Metadata;

/// Receives every event a bus handles, before its handlers run.
///
/// Give observers to [`BusBuilder::observer`](crate::BusBuilder::observer).
/// A bus with observers builds an envelope for every emit, so observing
/// costs an envelope per event; a bus without observers pays nothing.
///
/// ```
/// use events::observe::{Observed, Observer};
/// use events::{Bus, Event};
/// use serde::{Deserialize, Serialize};
/// use std::sync::{Arc, Mutex};
///
/// #[derive(Event, Serialize, Deserialize)]
/// struct OrderPlaced { order_id: u64 }
///
/// #[derive(Clone, Default)]
/// struct Names(Arc<Mutex<Vec<String>>>);
///
/// impl Observer for Names {
///     fn observe(&self, event: &Observed<'_>) {
///         self.0.lock().unwrap().push(event.metadata().name().to_owned());
///     }
/// }
///
/// let names = Names::default();
/// let bus = Bus::builder().observer(names.clone()).build().unwrap();
/// bus.emit(OrderPlaced { order_id: 7 });
/// assert_eq!(*names.0.lock().unwrap(), ["OrderPlaced"]);
/// ```
pub trait Observer: Send + Sync + 'static {
    /// Called once per event, on the thread or task that emits it.
    fn observe(&self, event: &Observed<'_>);
}

/// An event as an [`Observer`] receives it: its metadata, and its CloudEvents
/// JSON on request.
///
/// ```
/// # use events::{Bus, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// use events::observe::{Observed, Observer};
/// use std::sync::{Arc, Mutex};
///
/// /// Copies every event, as CloudEvents JSON, into an outbox table.
/// #[derive(Clone, Default)]
/// struct Outbox(Arc<Mutex<Vec<Vec<u8>>>>);
///
/// impl Observer for Outbox {
///     fn observe(&self, event: &Observed<'_>) {
///         match event.to_json() {
///             Ok(json) => self.0.lock().unwrap().push(json),
///             Err(error) => eprintln!("event {} not copied: {error}", event.metadata().id()),
///         }
///     }
/// }
///
/// let outbox = Outbox::default();
/// let bus = Bus::builder().observer(outbox.clone()).build().unwrap();
/// bus.emit(OrderPlaced { order_id: 7 });
///
/// let rows = outbox.0.lock().unwrap();
/// let copied = events::decode(&rows[0]).unwrap();
/// assert_eq!(copied.payload::<OrderPlaced>().unwrap().order_id, 7);
/// ```
pub struct Observed<'a> {
    metadata: &'a Metadata,
    json: &'a dyn Fn() -> Result<Vec<u8>, serde_json::Error>,
}

impl<'a> Observed<'a> {
    pub(crate) fn new(
        metadata: &'a Metadata,
        json: &'a dyn Fn() -> Result<Vec<u8>, serde_json::Error>,
    ) -> Self {
        Observed { metadata, json }
    }

    /// Returns the event's metadata: id, time, source, name, version, ids
    /// of the chain.
    ///
    /// ```
    /// # use events::{Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// use events::observe::{Observed, Observer};
    /// use std::sync::{Arc, Mutex};
    ///
    /// #[derive(Clone, Default)]
    /// struct Sources(Arc<Mutex<Vec<String>>>);
    ///
    /// impl Observer for Sources {
    ///     fn observe(&self, event: &Observed<'_>) {
    ///         self.0.lock().unwrap().push(event.metadata().source().to_owned());
    ///     }
    /// }
    ///
    /// let sources = Sources::default();
    /// let bus = Bus::builder().source("/shop/checkout").observer(sources.clone()).build().unwrap();
    /// bus.emit(OrderPlaced);
    /// assert_eq!(*sources.0.lock().unwrap(), ["/shop/checkout"]);
    /// ```
    pub fn metadata(&self) -> &'a Metadata {
        self.metadata
    }

    /// Encodes the event as CloudEvents JSON.
    ///
    /// # Errors
    ///
    /// Returns the payload's serialisation error, such as a map with
    /// non-string keys.
    ///
    /// ```
    /// # use events::{Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// use events::observe::{Observed, Observer};
    /// use std::sync::{Arc, Mutex};
    ///
    /// #[derive(Clone, Default)]
    /// struct JsonLog(Arc<Mutex<Vec<String>>>);
    ///
    /// impl Observer for JsonLog {
    ///     fn observe(&self, event: &Observed<'_>) {
    ///         let json = event.to_json().expect("`OrderPlaced` serialises");
    ///         self.0.lock().unwrap().push(String::from_utf8(json).unwrap());
    ///     }
    /// }
    ///
    /// let log = JsonLog::default();
    /// let bus = Bus::builder().observer(log.clone()).build().unwrap();
    /// bus.emit(OrderPlaced { order_id: 7 });
    /// assert!(log.0.lock().unwrap()[0].contains(r#""data":{"order_id":7}"#));
    /// ```
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        (self.json)()
    }
}

impl fmt::Debug for Observed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observed")
            .field("metadata", self.metadata)
            .finish_non_exhaustive()
    }
}

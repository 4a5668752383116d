//! The report of an emit: handlers run, failures, rejections and failed follow-ups.

use std::fmt;
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use crate::dead_letter::DeadLetterId;
use crate::frame::Frame;
use crate::handler::{HandlerError, HandlerInfo};

/// The outcome of emitting or dispatching one event.
///
/// ```
/// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
/// #[derive(Event, Serialize, Deserialize)]
/// struct StockChecked { sku: String }
///
/// #[on(StockChecked)]
/// fn crash(_: &StockChecked) { panic!("inventory service down") }
///
/// #[on(StockChecked)]
/// fn log(_: &StockChecked) {}
///
/// let report = Bus::new().emit(StockChecked { sku: "a".into() });
/// assert_eq!(report.handlers_run(), 2);
/// assert_eq!(report.failures().len(), 1);
/// assert!(report.failures()[0].handler().ends_with("crash"));
/// assert_eq!(report.failures()[0].error().to_string(), "panicked: inventory service down");
/// ```
pub struct Report {
    /// The event name, behind a pointer to static memory so that the report
    /// is two words and returned in registers.
    event: &'static &'static str,
    state: State,
}

/// The count of a report without problems, or the box of its problems.
///
/// A report of a successful emit keeps `handlers_run << 1 | 1`, which no
/// box address equals because boxes are aligned; any other value is an owned
/// `Box<Problems>` that also contains the count. This keeps a report at two
/// words, and dropping a successful one is one inlined bit test.
struct State {
    word: NonNull<Problems>,
    _owns: PhantomData<Box<Problems>>,
}

// SAFETY: a `State` is either a plain number or an owned `Box<Problems>`,
// and `Problems` is `Send + Sync` (checked below), so it may be sent and
// shared like the box.
unsafe impl Send for State {}
// SAFETY: as for `Send`.
unsafe impl Sync for State {}

#[allow(dead_code)]
fn assert_problems_are_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<Vec<HandlerFailure>>();
    check::<Option<Rejection>>();
}

impl State {
    #[inline(always)]
    fn count(handlers_run: usize) -> State {
        let tagged = handlers_run << 1 | 1;
        State {
            // SAFETY: the lowest bit is set, so `tagged` is not zero.
            word: unsafe { NonNull::new_unchecked(ptr::without_provenance_mut(tagged)) },
            _owns: PhantomData,
        }
    }

    #[inline]
    fn boxed(problems: Box<Problems>) -> State {
        let word = NonNull::from(Box::leak(problems));
        debug_assert!(word.addr().get() & 1 == 0, "boxes are aligned");
        State {
            word,
            _owns: PhantomData,
        }
    }

    #[inline(always)]
    fn problems(&self) -> Option<&Problems> {
        if self.word.addr().get() & 1 == 1 {
            return None;
        }
        // SAFETY: an even word is the pointer of a live box this state owns.
        Some(unsafe { self.word.as_ref() })
    }

    #[inline]
    fn handlers_run(&self) -> usize {
        match self.problems() {
            None => self.word.addr().get() >> 1,
            Some(problems) => problems.handlers_run,
        }
    }
}

impl Drop for State {
    #[inline(always)]
    fn drop(&mut self) {
        if self.word.addr().get() & 1 == 0 {
            drop_problems(self.word);
        }
    }
}

#[cold]
#[inline(never)]
fn drop_problems(problems: NonNull<Problems>) {
    // SAFETY: `State` calls this once, with the pointer of the box it owns.
    drop(unsafe { Box::from_raw(problems.as_ptr()) });
}

impl Clone for State {
    fn clone(&self) -> State {
        match self.problems() {
            None => State {
                word: self.word,
                _owns: PhantomData,
            },
            Some(problems) => State::boxed(Box::new(problems.clone())),
        }
    }
}

#[derive(Clone, Debug, Default)]
struct Problems {
    handlers_run: usize,
    failures: Vec<HandlerFailure>,
    rejected: Option<Rejection>,
    follow_ups: Vec<Report>,
}

/// The running count of one emit, kept in registers while handlers run.
///
/// It is passed by value (two words) rather than through `&mut`, so that the
/// compiler keeps it out of memory and writes the final [`Report`] once.
/// Copying a report that was just written field by field stalls the
/// processor and measurably slows every emit.
pub(crate) struct Tally {
    handlers_run: usize,
    problems: Option<Box<Problems>>,
}

impl Tally {
    #[inline]
    pub(crate) fn new() -> Tally {
        Tally {
            handlers_run: 0,
            problems: None,
        }
    }

    /// Counts one handler run.
    #[inline]
    pub(crate) fn record_ok(self) -> Tally {
        Tally {
            handlers_run: self.handlers_run + 1,
            problems: self.problems,
        }
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn record_failure(mut self, failure: HandlerFailure) -> Tally {
        if !failure.error.is_not_run() {
            self.handlers_run += 1;
        }
        self.problems_mut().failures.push(failure);
        self
    }

    #[cold]
    pub(crate) fn reject(mut self, rejection: Rejection) -> Tally {
        self.problems_mut().rejected = Some(rejection);
        self
    }

    /// Moves the reports of failed follow-ups recorded in `frame` into the tally.
    #[inline(always)]
    pub(crate) fn add_follow_ups(self, frame: &Frame) -> Tally {
        if frame.has_state() {
            self.take_follow_ups(frame)
        } else {
            self
        }
    }

    #[inline(never)]
    fn take_follow_ups(self, frame: &Frame) -> Tally {
        self.add_reports(frame.take_follow_ups())
    }

    #[inline]
    pub(crate) fn add_reports(mut self, mut follow_ups: Vec<Report>) -> Tally {
        if !follow_ups.is_empty() {
            self.problems_mut().follow_ups.append(&mut follow_ups);
        }
        self
    }

    fn problems_mut(&mut self) -> &mut Problems {
        self.problems.get_or_insert_with(Box::default)
    }

    #[inline]
    pub(crate) fn into_report(self, event: &'static &'static str) -> Report {
        let state = match self.problems {
            None => State::count(self.handlers_run),
            Some(problems) => with_problems(problems, self.handlers_run),
        };
        Report { event, state }
    }
}

#[cold]
fn with_problems(mut problems: Box<Problems>, handlers_run: usize) -> State {
    problems.handlers_run = handlers_run;
    State::boxed(problems)
}

impl Clone for Report {
    fn clone(&self) -> Report {
        Report {
            event: self.event,
            state: self.state.clone(),
        }
    }
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Report")
            .field("event", &self.event())
            .field("handlers_run", &self.handlers_run())
            .field("failures", &self.failures())
            .field("rejected", &self.rejected())
            .field("follow_ups", &self.follow_ups())
            .finish()
    }
}

impl Report {
    /// Returns a report of an event that has no handlers.
    #[inline]
    pub(crate) fn empty(event: &'static &'static str) -> Report {
        Tally::new().into_report(event)
    }

    /// Returns the event name.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// let report = Bus::new().emit(OrderPlaced { order_id: 7 });
    /// assert_eq!(report.event(), "OrderPlaced");
    /// ```
    pub fn event(&self) -> &'static str {
        self.event
    }

    /// Returns how many handlers ran, whether they succeeded or not.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// #[on(OrderPlaced)]
    /// fn reserve_stock(_: &OrderPlaced) -> Result<(), String> { Err("warehouse offline".into()) }
    ///
    /// #[on(OrderPlaced)]
    /// async fn send_receipt(_: &OrderPlaced) {}
    ///
    /// // `emit` cannot run the async handler, so only the failing one counts.
    /// assert_eq!(Bus::new().emit(OrderPlaced { order_id: 7 }).handlers_run(), 1);
    /// ```
    pub fn handlers_run(&self) -> usize {
        self.state.handlers_run()
    }

    /// Returns the handlers that failed or could not run, in run order.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// # use events::HandlerError;
    /// #[on(OrderPlaced)]
    /// async fn send_receipt(_: &OrderPlaced) {}
    ///
    /// let report = Bus::new().emit(OrderPlaced { order_id: 7 });
    /// assert_eq!(report.failures()[0].error(), &HandlerError::NeedsAsync);
    /// ```
    pub fn failures(&self) -> &[HandlerFailure] {
        self.state
            .problems()
            .map_or(&[], |problems| &problems.failures)
    }

    /// Returns why no handler ran, when the bus rejected the event.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # use std::sync::OnceLock;
    /// # #[derive(Event, Serialize, Deserialize)] struct PriceChanged;
    /// # static BUS: OnceLock<Bus> = OnceLock::new();
    /// #[on(PriceChanged)]
    /// fn reprice(_: &PriceChanged) {
    ///     BUS.get().unwrap().emit(PriceChanged);
    /// }
    ///
    /// let bus = BUS.get_or_init(|| Bus::builder().max_depth(0).build().unwrap());
    /// let report = bus.emit(PriceChanged);
    /// assert!(report.rejected().is_none());
    /// assert!(report.follow_ups()[0].rejected().is_some());
    /// ```
    pub fn rejected(&self) -> Option<&Rejection> {
        self.state.problems()?.rejected.as_ref()
    }

    /// Returns `true` when every handler ran and succeeded, and so did the
    /// handlers of every follow-up event they emitted (see
    /// [`follow_ups`](Report::follow_ups)).
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// #[on(OrderPlaced)]
    /// fn reserve_stock(order: &OrderPlaced) -> Result<(), String> {
    ///     if order.order_id == 0 { return Err("order id 0 is invalid".into()) }
    ///     Ok(())
    /// }
    ///
    /// assert!(Bus::new().emit(OrderPlaced { order_id: 7 }).is_ok());
    /// assert!(!Bus::new().emit(OrderPlaced { order_id: 0 }).is_ok());
    /// ```
    pub fn is_ok(&self) -> bool {
        self.state.problems().is_none()
    }

    /// Returns the reports of follow-up events that did not succeed: events
    /// emitted by this event's handlers, at any depth, whose handlers failed
    /// or which the bus rejected. Follow-ups that succeeded are not listed.
    ///
    /// A follow-up counts when its emit completes while the emitting handler
    /// runs. An `emit_async` future spawned as a separate task reports only
    /// to the task that awaits it.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct OrderShipped { order_id: u64 }
    ///
    /// #[derive(Event, Serialize, Deserialize)]
    /// struct ShippingMailQueued { order_id: u64 }
    ///
    /// #[on(OrderShipped)]
    /// fn queue_mail(order: &OrderShipped) {
    ///     let bus = Bus::new();
    ///     bus.emit(ShippingMailQueued { order_id: order.order_id });
    /// }
    ///
    /// #[on(ShippingMailQueued)]
    /// fn send_mail(_: &ShippingMailQueued) -> Result<(), String> {
    ///     Err("mail server unreachable".into())
    /// }
    ///
    /// let report = Bus::new().emit(OrderShipped { order_id: 5 });
    /// assert!(report.failures().is_empty());
    /// assert!(!report.is_ok());
    /// let follow_up = &report.follow_ups()[0];
    /// assert_eq!(follow_up.event(), "ShippingMailQueued");
    /// assert_eq!(follow_up.failures()[0].error().to_string(), "mail server unreachable");
    /// ```
    pub fn follow_ups(&self) -> &[Report] {
        self.state
            .problems()
            .map_or(&[], |problems| &problems.follow_ups)
    }

    fn write_indented(&self, f: &mut fmt::Formatter<'_>, indent: usize) -> fmt::Result {
        let pad = "  ".repeat(indent);
        if let Some(rejection) = self.rejected() {
            return write!(f, "{pad}`{}` rejected: {rejection}", self.event());
        }
        let not_run = self
            .failures()
            .iter()
            .filter(|failure| failure.error.is_not_run())
            .count();
        let failed = self.failures().len() - not_run;
        write!(
            f,
            "{pad}`{}`: {} handler(s) ran, {failed} failed",
            self.event(),
            self.handlers_run()
        )?;
        if not_run > 0 {
            write!(f, ", {not_run} not run")?;
        }
        for failure in self.failures() {
            write!(f, "\n{pad}  - {failure}")?;
        }
        for follow_up in self.follow_ups() {
            write!(f, "\n{pad}  follow-up:\n")?;
            follow_up.write_indented(f, indent + 2)?;
        }
        Ok(())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_indented(f, 0)
    }
}

/// One handler that failed, with its error.
///
/// ```
/// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
/// #[on(OrderPlaced, name = "reserve_stock")]
/// fn reserve_stock(_: &OrderPlaced) -> Result<(), String> { Err("warehouse offline".into()) }
///
/// let report = Bus::new().emit(OrderPlaced { order_id: 7 });
/// assert_eq!(
///     report.failures()[0].to_string(),
///     "reserve_stock: warehouse offline; kept as dead letter 1"
/// );
/// ```
#[derive(Clone, Debug)]
pub struct HandlerFailure {
    handler: &'static HandlerInfo,
    error: HandlerError,
    attempts: u32,
    dead_letter: Option<DeadLetterId>,
}

impl HandlerFailure {
    pub(crate) fn new(
        handler: &'static HandlerInfo,
        error: HandlerError,
        attempts: u32,
        dead_letter: Option<DeadLetterId>,
    ) -> HandlerFailure {
        HandlerFailure {
            handler,
            error,
            attempts,
            dead_letter,
        }
    }

    /// Returns how many times the handler was tried: 0 if it did not run.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// #[on(OrderPlaced, attempts = 3)]
    /// fn reserve(_: &OrderPlaced) -> Result<(), String> { Err("out of stock".into()) }
    ///
    /// let report = Bus::new().emit(OrderPlaced);
    /// assert_eq!(report.failures()[0].attempts(), 3);
    /// ```
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Returns the id of the dead letter that keeps the event for this
    /// handler, when the handler's final policy is
    /// [`OnFailure::DeadLetter`](crate::policy::OnFailure::DeadLetter).
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
    /// #[on(OrderPlaced)]
    /// fn reserve(_: &OrderPlaced) -> Result<(), String> { Err("out of stock".into()) }
    ///
    /// let bus = Bus::new();
    /// let report = bus.emit(OrderPlaced);
    /// let id = report.failures()[0].dead_letter().unwrap();
    /// assert_eq!(bus.dead_letters().get(id).unwrap().unwrap().error(), "out of stock");
    /// ```
    pub fn dead_letter(&self) -> Option<DeadLetterId> {
        self.dead_letter
    }

    /// Returns the handler's name.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// #[on(OrderPlaced, name = "reserve_stock")]
    /// fn reserve_stock(_: &OrderPlaced) -> Result<(), String> { Err("warehouse offline".into()) }
    ///
    /// let report = Bus::new().emit(OrderPlaced { order_id: 7 });
    /// assert_eq!(report.failures()[0].handler(), "reserve_stock");
    /// ```
    pub fn handler(&self) -> &'static str {
        self.handler.name()
    }

    /// Returns the handler's description.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// #[on(OrderPlaced, priority = 10)]
    /// fn reserve_stock(_: &OrderPlaced) -> Result<(), String> { Err("warehouse offline".into()) }
    ///
    /// let report = Bus::new().emit(OrderPlaced { order_id: 7 });
    /// assert_eq!(report.failures()[0].handler_info().priority(), 10);
    /// ```
    pub fn handler_info(&self) -> &'static HandlerInfo {
        self.handler
    }

    /// Returns the error.
    ///
    /// ```
    /// # use events::{on, Bus, Event}; use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced { order_id: u64 }
    /// # use events::HandlerError;
    /// #[on(OrderPlaced)]
    /// fn reserve_stock(_: &OrderPlaced) { panic!("warehouse offline") }
    ///
    /// let report = Bus::new().emit(OrderPlaced { order_id: 7 });
    /// assert_eq!(report.failures()[0].error(), &HandlerError::Panicked("warehouse offline".into()));
    /// ```
    pub fn error(&self) -> &HandlerError {
        &self.error
    }
}

/// Writes the handler and its error, then the attempts when there were
/// several and the dead letter's id when the event was kept.
impl fmt::Display for HandlerFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.handler.name(), self.error)?;
        if self.attempts > 1 {
            write!(f, " (after {} attempts)", self.attempts)?;
        }
        if let Some(id) = &self.dead_letter {
            write!(f, "; kept as dead letter {id}")?;
        }
        Ok(())
    }
}

/// The reason a bus ran none of an event's handlers.
///
/// ```
/// use events::{on, Bus, Event, Rejection};
/// use serde::{Deserialize, Serialize};
/// use std::sync::OnceLock;
///
/// #[derive(Event, Serialize, Deserialize)]
/// struct PriceChanged;
///
/// static BUS: OnceLock<Bus> = OnceLock::new();
///
/// // Re-emits its own event, so only the depth limit ends the chain.
/// #[on(PriceChanged)]
/// fn reprice(_: &PriceChanged) {
///     BUS.get().unwrap().emit(PriceChanged);
/// }
///
/// let bus = BUS.get_or_init(|| Bus::builder().max_depth(1).build().unwrap());
/// let report = bus.emit(PriceChanged);
///
/// // The handler ran at depths 0 and 1; the emit at depth 2 was rejected.
/// let deepest = &report.follow_ups()[0].follow_ups()[0];
/// let expected = Rejection::DepthExceeded { chain: vec!["PriceChanged"; 3], max_depth: 1 };
/// assert_eq!(deepest.rejected(), Some(&expected));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// The event was emitted deeper than the bus allows; the chain lists the
    /// event names from the top-level event to the rejected one.
    DepthExceeded {
        /// Event names from the outermost to the rejected event.
        chain: Vec<&'static str>,
        /// The bus's limit.
        max_depth: u32,
    },
    /// The event was emitted after [`Bus::shutdown`](crate::Bus::shutdown)
    /// began. It is kept in the dead-letter store.
    ShutDown,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::DepthExceeded { chain, max_depth } => write!(
                f,
                "event chain {} is deeper than the limit of {max_depth}; look for handlers that emit each other's events, or raise the limit with `BusBuilder::max_depth`",
                chain.join(" -> ")
            ),
            Rejection::ShutDown => f.write_str(
                "the bus has been shut down; the event is kept in the dead-letter store",
            ),
        }
    }
}

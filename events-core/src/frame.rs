//! The event whose handlers are running on the current thread, so that
//! events emitted from inside a handler link to it.
//!
//! Each emit keeps a [`Frame`] on its own stack (or, for an `async` handler,
//! inside the future that polls it) and makes it current only while its
//! handlers run, through [`within`]. A thread-local pointer names the current
//! [`Node`], and each node points to the one it replaced, so the frames of a
//! nested chain form a linked list down the call stack. This costs two
//! thread-local writes per emit and no allocation.

use std::cell::{Cell, OnceCell, RefCell, RefMut};
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::ptr;
use std::task::{Context, Poll};

use crate::bus::Report;
use crate::envelope::{EventId, Metadata};
use crate::handler::Outcome;

/// The event whose handlers are running, as follow-ups see it.
pub(crate) struct Frame {
    pub(crate) name: &'static str,
    pub(crate) depth: u32,
    /// Whether the event is a stored one being replayed.
    pub(crate) replay: bool,
    /// Set up on first use. An event emitted without an envelope that starts
    /// a chain needs it only when a handler emits a follow-up or fails, so
    /// the common emit neither builds nor drops it. `ManuallyDrop` keeps the
    /// drop of an empty frame to one inlined check (see `Drop for Frame`).
    state: ManuallyDrop<OnceCell<FrameState>>,
}

impl Drop for Frame {
    #[inline(always)]
    fn drop(&mut self) {
        if self.state.get().is_some() {
            drop_state(&mut self.state);
        }
    }
}

/// Drops the state of a frame that set one up, out of line so that dropping
/// a frame without state stays one inlined check.
#[cold]
#[inline(never)]
fn drop_state(state: &mut ManuallyDrop<OnceCell<FrameState>>) {
    // SAFETY: `Frame::drop` calls this once, and the frame is not used afterwards.
    unsafe { ManuallyDrop::drop(state) }
}

struct FrameState {
    /// Generated only when needed, for events emitted without an envelope.
    id: OnceCell<EventId>,
    /// The correlation id of the chain, or `None` when this event starts it.
    correlation: Option<EventId>,
    /// The id of the event whose handler emitted this one.
    causation: Option<EventId>,
    /// Reports of follow-ups emitted by the running handlers that did not succeed.
    follow_ups: RefCell<Vec<Report>>,
}

impl FrameState {
    fn follow_ups(&self) -> RefMut<'_, Vec<Report>> {
        self.follow_ups.borrow_mut()
    }

    fn new(
        id: Option<EventId>,
        correlation: Option<EventId>,
        causation: Option<EventId>,
    ) -> FrameState {
        FrameState {
            id: id.map_or_else(OnceCell::new, OnceCell::from),
            correlation,
            causation,
            follow_ups: RefCell::new(Vec::new()),
        }
    }
}

impl Frame {
    /// Creates the frame of an event emitted without an envelope.
    #[inline(always)]
    pub(crate) fn lazy(name: &'static str) -> Frame {
        match parent_link() {
            Some(link) => Frame {
                name,
                depth: link.depth + 1,
                replay: false,
                state: ManuallyDrop::new(OnceCell::from(FrameState::new(
                    None,
                    Some(link.correlation),
                    Some(link.causation),
                ))),
            },
            None => Frame::top(name),
        }
    }

    /// Creates the frame of an event emitted without an envelope outside of
    /// any handler, which starts a chain.
    #[inline(always)]
    pub(crate) fn top(name: &'static str) -> Frame {
        Frame {
            name,
            depth: 0,
            replay: false,
            state: ManuallyDrop::new(OnceCell::new()),
        }
    }

    /// Creates the frame of an event with an envelope.
    pub(crate) fn of(metadata: &Metadata, depth: u32) -> Frame {
        let state = FrameState::new(
            Some(metadata.id().clone()),
            metadata.correlation_id().cloned(),
            metadata.causation_id().cloned(),
        );
        Frame {
            name: metadata.name(),
            depth,
            replay: false,
            state: ManuallyDrop::new(OnceCell::from(state)),
        }
    }

    /// Returns what a frame of the same event needs, to create such frames
    /// later, across `await` points where a `&Frame` cannot be held.
    pub(crate) fn seed(&self) -> Seed {
        let (id, correlation) = self.ids();
        Seed {
            name: self.name,
            depth: self.depth,
            replay: self.replay,
            correlation: self.state().correlation.clone(),
            causation: self.causation(),
            id,
            chain_correlation: correlation,
        }
    }

    fn state(&self) -> &FrameState {
        self.state.get_or_init(|| FrameState::new(None, None, None))
    }

    /// Returns the event's id, generating it if the event has none yet, and
    /// its chain's correlation id.
    pub(crate) fn ids(&self) -> (EventId, EventId) {
        let state = self.state();
        let id = state.id.get_or_init(EventId::new).clone();
        let correlation = state.correlation.clone().unwrap_or_else(|| id.clone());
        (id, correlation)
    }

    /// Returns the causation id of the event, if it has a parent.
    pub(crate) fn causation(&self) -> Option<EventId> {
        self.state.get()?.causation.clone()
    }

    /// Returns whether the frame set up its state, which contains the reports
    /// of failed follow-ups. A frame without state has none.
    #[inline(always)]
    pub(crate) fn has_state(&self) -> bool {
        self.state.get().is_some()
    }

    /// Takes the reports of failed follow-ups recorded so far.
    #[inline]
    pub(crate) fn take_follow_ups(&self) -> Vec<Report> {
        match self.state.get() {
            Some(state) => std::mem::take(&mut *state.follow_ups()),
            _ => Vec::new(),
        }
    }
}

/// One entry of the current-frame list, on the stack of the emit that owns it.
/// The ids and place of an event, from which frames of it are made. Unlike
/// a [`Frame`], it is `Sync`, so `async` code can hold it across `await`.
pub(crate) struct Seed {
    pub(crate) name: &'static str,
    pub(crate) depth: u32,
    pub(crate) replay: bool,
    pub(crate) id: EventId,
    correlation: Option<EventId>,
    causation: Option<EventId>,
    /// The correlation id the chain uses: `correlation`, or `id` when this
    /// event starts the chain.
    pub(crate) chain_correlation: EventId,
}

impl Seed {
    /// Creates a frame of the event, with its own list of follow-ups.
    pub(crate) fn frame(&self) -> Frame {
        let state = FrameState::new(
            Some(self.id.clone()),
            self.correlation.clone(),
            self.causation.clone(),
        );
        Frame {
            name: self.name,
            depth: self.depth,
            replay: self.replay,
            state: ManuallyDrop::new(OnceCell::from(state)),
        }
    }
}

pub(crate) struct Node<'f> {
    frame: &'f Frame,
    /// The node that was current when this one was entered, as `*const Node`.
    parent: *const (),
}

thread_local! {
    /// The current node, as `*const Node`, or null outside of any handler.
    static CURRENT: Cell<*const ()> = const { Cell::new(ptr::null()) };
}

impl<'f> Node<'f> {
    pub(crate) fn new(frame: &'f Frame) -> Self {
        Node {
            frame,
            parent: ptr::null(),
        }
    }

    /// Makes this node's frame the current one until the guard is dropped.
    ///
    /// The guard borrows the node, so the node (and its frame) cannot move
    /// or be dropped while it is current. The guard must be dropped, never
    /// forgotten, because it restores the previous node.
    #[inline]
    pub(crate) fn enter(&mut self) -> Entered<'_> {
        self.parent = CURRENT.with(Cell::get);
        CURRENT.with(|current| current.set(ptr::from_ref(self).cast()));
        Entered {
            previous: self.parent,
            _node: PhantomData,
        }
    }
}

/// Keeps a node current; restores the previous one when dropped, also on unwinding.
pub(crate) struct Entered<'n> {
    previous: *const (),
    _node: PhantomData<&'n ()>,
}

impl Drop for Entered<'_> {
    #[inline]
    fn drop(&mut self) {
        CURRENT.with(|current| current.set(self.previous));
    }
}

/// Runs `body` with `frame` as the current frame of this thread.
pub(crate) fn within<R>(frame: &Frame, body: impl FnOnce() -> R) -> R {
    let mut node = Node::new(frame);
    let _entered = node.enter();
    body()
}

/// Calls `visit` with each frame from the current one outwards, until it returns `false`.
fn visit_frames(mut visit: impl FnMut(&Frame) -> bool) {
    let mut node = CURRENT.with(Cell::get).cast::<Node<'_>>();
    // SAFETY: `CURRENT` and every `parent` link point to nodes that are
    // entered on this thread right now: `Node::enter` publishes a node while
    // its guard borrows it, and the guard restores the previous pointer when
    // dropped, also on unwinding. A node borrows its frame, so both stay valid.
    while let Some(current) = unsafe { node.as_ref() } {
        if !visit(current.frame) {
            return;
        }
        node = current.parent.cast();
    }
}

/// Calls `with` on the current frame, if any.
#[inline]
fn with_current<R>(with: impl FnOnce(&Frame) -> R) -> Option<R> {
    let node = CURRENT.with(Cell::get).cast::<Node<'_>>();
    // SAFETY: as in `visit_frames`.
    let node = unsafe { node.as_ref() }?;
    Some(with(node.frame))
}

/// The ids and depth a follow-up takes from the event whose handler emitted it.
pub(crate) struct ParentLink {
    pub(crate) correlation: EventId,
    pub(crate) causation: EventId,
    pub(crate) depth: u32,
}

/// Returns the link to the event being handled on this thread, generating its
/// id if it has none yet.
#[inline]
pub(crate) fn parent_link() -> Option<ParentLink> {
    with_current(|parent| {
        let (causation, correlation) = parent.ids();
        ParentLink {
            correlation,
            causation,
            depth: parent.depth,
        }
    })
}

/// Returns the depth a new event gets on this thread.
/// Returns the id and correlation id of the event whose handler is running
/// on this thread.
pub(crate) fn current_ids() -> Option<(EventId, EventId)> {
    with_current(Frame::ids)
}

/// Returns whether a handler is running on this thread, so that a new event
/// is a follow-up.
#[inline(always)]
pub(crate) fn is_nested() -> bool {
    !CURRENT.with(Cell::get).is_null()
}

#[inline]
pub(crate) fn next_depth() -> u32 {
    with_current(|parent| parent.depth + 1).unwrap_or(0)
}

/// Returns the names of the events being handled, outermost first.
pub(crate) fn current_chain() -> Vec<&'static str> {
    let mut names = Vec::new();
    visit_frames(|frame| {
        names.push(frame.name);
        true
    });
    names.reverse();
    names
}

/// Records a report that is not ok in the current frame, so that the report
/// of the event whose handler emitted it lists it.
pub(crate) fn hand_to_parent(report: &Report) {
    with_current(|parent| parent.state().follow_ups().push(report.clone()));
}

/// Polls an async handler with its event as the current frame, catching panics.
pub(crate) struct Scoped<F> {
    pub(crate) frame: Frame,
    pub(crate) future: F,
}

impl<F> Scoped<F>
where
    F: Future<Output = Outcome> + Unpin,
{
    /// Runs the handler to completion, returning its outcome and the reports
    /// of failed follow-ups it emitted.
    pub(crate) async fn finish(mut self) -> (Outcome, Frame) {
        let outcome = (&mut self).await;
        (outcome, self.frame)
    }
}

impl<F> Future for Scoped<F>
where
    F: Future<Output = Outcome> + Unpin,
{
    type Output = Outcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let future = &mut this.future;
        within(&this.frame, || {
            crate::bus::run_caught(|| match Pin::new(future).poll(cx) {
                Poll::Ready(outcome) => outcome.map(|()| Poll::Ready(())),
                Poll::Pending => Ok(Poll::Pending),
            })
        })
        .map_or_else(|error| Poll::Ready(Err(error)), |poll| poll.map(Ok))
    }
}

//! The run order of the handlers of one event: `after` and `before`
//! constraints first, then priority (highest first), then name.

use std::collections::HashMap;
use std::fmt;

use crate::handler::{run_order, HandlerInfo};

/// An `after` or `before` constraint that cannot be met.
///
/// ```
/// # use events::{on, Bus, BuildError, Event}; use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize)] struct OrderPlaced;
/// #[on(OrderPlaced, name = "charge", after = "reserve")]
/// fn charge(_: &OrderPlaced) {}
///
/// #[on(OrderPlaced, name = "reserve", after = "charge")]
/// fn reserve(_: &OrderPlaced) {}
///
/// let Err(BuildError::Order(errors)) = Bus::builder().build() else { panic!() };
/// assert_eq!(
///     errors[0].to_string(),
///     "handlers of `OrderPlaced` form a cycle: `charge` runs after `reserve`, which runs after `charge`; remove one of these constraints"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OrderError {
    /// A constraint names no registered handler.
    UnknownHandler {
        /// The event whose handlers are being ordered.
        event: &'static str,
        /// The handler that has the constraint.
        handler: &'static str,
        /// `"after"` or `"before"`.
        constraint: &'static str,
        /// The name it gives.
        missing: &'static str,
        /// The handlers of the event, which the constraint may have meant.
        known: Vec<&'static str>,
    },
    /// A constraint names a handler of another event.
    OtherEvent {
        /// The event whose handlers are being ordered.
        event: &'static str,
        /// The handler that has the constraint.
        handler: &'static str,
        /// `"after"` or `"before"`.
        constraint: &'static str,
        /// The handler it names.
        other: &'static str,
        /// The event that handler handles.
        other_event: &'static str,
    },
    /// Constraints that contradict each other.
    Cycle {
        /// The event whose handlers are being ordered.
        event: &'static str,
        /// The handlers of the cycle: each runs after the one that follows it,
        /// and the last after the first.
        handlers: Vec<&'static str>,
    },
}

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderError::UnknownHandler {
                event,
                handler,
                constraint,
                missing,
                known,
            } => {
                write!(
                    f,
                    "handler `{handler}` of `{event}` runs {constraint} `{missing}`, but no handler has that name; the handlers of `{event}` are "
                )?;
                write_names(f, known)
            }
            OrderError::OtherEvent {
                event,
                handler,
                constraint,
                other,
                other_event,
            } => write!(
                f,
                "handler `{handler}` of `{event}` runs {constraint} `{other}`, which handles `{other_event}`; order constraints apply to handlers of the same event"
            ),
            OrderError::Cycle { event, handlers } => {
                write!(f, "handlers of `{event}` form a cycle: ")?;
                for (index, handler) in handlers.iter().enumerate() {
                    if index == 0 {
                        write!(f, "`{handler}` runs after ")?;
                    } else {
                        write!(f, "`{handler}`, which runs after ")?;
                    }
                }
                write!(
                    f,
                    "`{}`; remove one of these constraints",
                    handlers.first().copied().unwrap_or_default()
                )
            }
        }
    }
}

fn write_names(f: &mut fmt::Formatter<'_>, names: &[&str]) -> fmt::Result {
    for (index, name) in names.iter().enumerate() {
        if index > 0 {
            f.write_str(", ")?;
        }
        write!(f, "`{name}`")?;
    }
    Ok(())
}

/// Sorts the handlers of one event. `all` is every registered handler, to
/// tell a misspelt name from a handler of another event.
pub(crate) fn resolve(
    handlers: &[&'static HandlerInfo],
    all: &[&'static HandlerInfo],
    errors: &mut Vec<OrderError>,
) -> Vec<&'static HandlerInfo> {
    let mut sorted: Vec<&'static HandlerInfo> = handlers.to_vec();
    sorted.sort_by(|a, b| run_order(a, b));
    if sorted
        .iter()
        .all(|h| h.after().is_empty() && h.before().is_empty())
    {
        return sorted;
    }

    let event = sorted[0].event().name();
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (index, handler) in sorted.iter().enumerate() {
        by_name.entry(handler.name()).or_default().push(index);
    }

    // `runs_after[i]` lists the handlers that must finish before `i` starts.
    let mut runs_after: Vec<Vec<usize>> = vec![Vec::new(); sorted.len()];
    let mut found_errors = false;
    for (index, handler) in sorted.iter().enumerate() {
        let constraints = handler
            .after()
            .iter()
            .map(|name| ("after", *name))
            .chain(handler.before().iter().map(|name| ("before", *name)));
        for (constraint, name) in constraints {
            let Some(targets) = by_name.get(name) else {
                let named = all.iter().find(|other| other.name() == name);
                if named.is_some_and(|other| other.event_type_id() == handler.event_type_id()) {
                    // A handler of this event that the bus leaves out: the
                    // constraint has nothing to order.
                    continue;
                }
                found_errors = true;
                errors.push(match named {
                    Some(other) => OrderError::OtherEvent {
                        event,
                        handler: handler.name(),
                        constraint,
                        other: other.name(),
                        other_event: other.event().name(),
                    },
                    None => OrderError::UnknownHandler {
                        event,
                        handler: handler.name(),
                        constraint,
                        missing: name,
                        known: sorted.iter().map(|h| h.name()).collect(),
                    },
                });
                continue;
            };
            for &target in targets {
                if constraint == "after" {
                    runs_after[index].push(target);
                } else {
                    runs_after[target].push(index);
                }
            }
        }
    }
    if found_errors {
        return sorted;
    }

    // Kahn's algorithm, always taking the first ready handler in priority
    // and name order, so that constraints move only the handlers they name.
    let mut waiting_on: Vec<usize> = runs_after.iter().map(Vec::len).collect();
    let mut unblocks: Vec<Vec<usize>> = vec![Vec::new(); sorted.len()];
    for (index, predecessors) in runs_after.iter().enumerate() {
        for &predecessor in predecessors {
            unblocks[predecessor].push(index);
        }
    }
    let mut placed = vec![false; sorted.len()];
    let mut order = Vec::with_capacity(sorted.len());
    while let Some(next) = (0..sorted.len()).find(|&i| !placed[i] && waiting_on[i] == 0) {
        placed[next] = true;
        order.push(sorted[next]);
        for &successor in &unblocks[next] {
            waiting_on[successor] -= 1;
        }
    }
    if order.len() < sorted.len() {
        let start = (0..sorted.len())
            .find(|&i| !placed[i])
            .expect("an unplaced handler");
        let cycle = find_cycle(start, &runs_after, &placed);
        errors.push(OrderError::Cycle {
            event,
            handlers: cycle.into_iter().map(|i| sorted[i].name()).collect(),
        });
        return sorted;
    }
    order
}

/// Follows "runs after" links from an unplaced handler until one repeats.
/// Every unplaced handler waits on another unplaced one, so this ends.
fn find_cycle(start: usize, runs_after: &[Vec<usize>], placed: &[bool]) -> Vec<usize> {
    let mut path = vec![start];
    let mut current = start;
    loop {
        let next = runs_after[current]
            .iter()
            .copied()
            .find(|&p| !placed[p])
            .expect("an unplaced handler waits on an unplaced one");
        if let Some(position) = path.iter().position(|&i| i == next) {
            return path.split_off(position);
        }
        path.push(next);
        current = next;
    }
}

//! Helpers shared by the bus tests: a bus for handlers that emit follow-ups,
//! and logs that handlers append to and tests read back.

#![allow(dead_code)]

use std::sync::{Mutex, OnceLock};

use events::{Bus, EventId};

/// Returns the bus that handlers use to emit follow-up events.
pub fn bus() -> &'static Bus {
    static BUS: OnceLock<Bus> = OnceLock::new();
    BUS.get_or_init(Bus::new)
}

pub fn record<T>(log: &Mutex<Vec<T>>, entry: T) {
    log.lock().unwrap().push(entry);
}

/// Removes and returns everything recorded in `log`.
pub fn take<T>(log: &Mutex<Vec<T>>) -> Vec<T> {
    std::mem::take(&mut *log.lock().unwrap())
}

/// Removes and returns the entries of `log` that `matches` selects, leaving
/// the entries of other tests in place.
pub fn take_matching<T>(log: &Mutex<Vec<T>>, matches: impl Fn(&T) -> bool) -> Vec<T> {
    let mut log = log.lock().unwrap();
    let (matching, others) = log.drain(..).partition(|entry| matches(entry));
    *log = others;
    matching
}

pub fn id(text: &str) -> EventId {
    EventId::from(text)
}

//! Failure and scheduling policies of handlers: retries, backoff, the final
//! policy, timeouts and the concurrency of `async` handlers.
//!
//! Each setting has a bus-wide default, set on [`BusBuilder`](crate::BusBuilder),
//! and a handler can override it in its `#[on(...)]` attribute:
//!
//! | setting | `#[on]` option | bus default | default |
//! |---|---|---|---|
//! | attempts and backoff | `attempts = 3`, `backoff = exponential("10ms", "1s")`, `jitter` | [`retry`](crate::BusBuilder::retry) | one attempt |
//! | after the last attempt | `on_failure = "dead_letter"`, `"log"` or `"stop"` | [`on_failure`](crate::BusBuilder::on_failure) | [`OnFailure::DeadLetter`] |
//! | time limit of an `async` handler | `timeout = "5s"` | [`timeout`](crate::BusBuilder::timeout) | none |
//! | `async` handlers of one event | `concurrent` | [`concurrency`](crate::BusBuilder::concurrency) | [`Concurrency::Sequential`] |
//!
//! ```
//! use events::policy::{OnFailure, Retry};
//! use events::{on, Bus, Event};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Serialize, Deserialize)]
//! struct InvoiceIssued { invoice_id: u64 }
//!
//! // Overrides the bus's policies: five attempts, then log the failure.
//! #[on(InvoiceIssued, name = "erp.export", attempts = 5, on_failure = "log")]
//! fn export(_: &InvoiceIssued) -> Result<(), String> { Err("ERP unreachable".into()) }
//!
//! // Takes the bus's policies.
//! #[on(InvoiceIssued, name = "mail.send")]
//! fn send_mail(_: &InvoiceIssued) -> Result<(), String> { Err("SMTP unreachable".into()) }
//!
//! let bus = Bus::builder()
//!     .retry(Retry::attempts(2))
//!     .on_failure(OnFailure::DeadLetter)
//!     .build()
//!     .unwrap();
//! let report = bus.emit(InvoiceIssued { invoice_id: 9 });
//! let tried: Vec<(&str, u32)> = report.failures().iter().map(|f| (f.handler(), f.attempts())).collect();
//! assert_eq!(tried, [("erp.export", 5), ("mail.send", 2)]);
//!
//! // Only the handler under `OnFailure::DeadLetter` left a dead letter.
//! let letters = bus.dead_letters().list().unwrap();
//! assert_eq!(letters.len(), 1);
//! assert_eq!(letters[0].1.handler(), Some("mail.send"));
//! ```

use std::cell::Cell;
use std::fmt;
use std::time::Duration;

/// How many times a handler is tried and how long the bus waits in between.
///
/// ```
/// use events::policy::{Backoff, Retry};
/// use std::time::Duration;
///
/// let retry = Retry::attempts(4).backoff(Backoff::exponential(
///     Duration::from_millis(10),
///     Duration::from_secs(1),
/// ));
/// assert_eq!(retry.max_attempts(), 4);
/// // The waits after the first, second and third failed attempts:
/// assert_eq!(retry.backoff_policy().delay(1), Duration::from_millis(10));
/// assert_eq!(retry.backoff_policy().delay(2), Duration::from_millis(20));
/// assert_eq!(retry.backoff_policy().delay(3), Duration::from_millis(40));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    attempts: u32,
    backoff: Backoff,
}

impl Retry {
    /// One attempt and no retry: the default.
    ///
    /// ```
    /// assert_eq!(events::policy::Retry::NONE.max_attempts(), 1);
    /// ```
    pub const NONE: Retry = Retry {
        attempts: 1,
        backoff: Backoff::fixed(Duration::ZERO),
    };

    /// Tries a handler up to `attempts` times in all, without waiting in
    /// between until [`backoff`](Retry::backoff) sets a wait. Zero counts as one.
    ///
    /// ```
    /// let retry = events::policy::Retry::attempts(3);
    /// assert_eq!(retry.max_attempts(), 3);
    /// assert_eq!(events::policy::Retry::attempts(0).max_attempts(), 1);
    /// ```
    pub const fn attempts(attempts: u32) -> Retry {
        Retry {
            attempts: if attempts == 0 { 1 } else { attempts },
            backoff: Backoff::fixed(Duration::ZERO),
        }
    }

    /// Sets the wait between attempts.
    ///
    /// ```
    /// use events::policy::{Backoff, Retry};
    /// use std::time::Duration;
    ///
    /// let retry = Retry::attempts(3).backoff(Backoff::fixed(Duration::from_millis(50)));
    /// assert_eq!(retry.backoff_policy().delay(2), Duration::from_millis(50));
    /// ```
    pub const fn backoff(mut self, backoff: Backoff) -> Retry {
        self.backoff = backoff;
        self
    }

    /// Returns how many attempts a handler gets in all, at least 1.
    ///
    /// ```
    /// assert_eq!(events::policy::Retry::attempts(5).max_attempts(), 5);
    /// ```
    pub const fn max_attempts(&self) -> u32 {
        self.attempts
    }

    /// Returns the wait between attempts.
    ///
    /// ```
    /// use events::policy::{Backoff, Retry};
    /// assert_eq!(Retry::NONE.backoff_policy(), &Backoff::fixed(std::time::Duration::ZERO));
    /// ```
    pub const fn backoff_policy(&self) -> &Backoff {
        &self.backoff
    }
}

impl Default for Retry {
    fn default() -> Self {
        Retry::NONE
    }
}

impl fmt::Display for Retry {
    /// ```
    /// use events::policy::{Backoff, Retry};
    /// use std::time::Duration;
    ///
    /// let retry = Retry::attempts(3).backoff(Backoff::fixed(Duration::from_millis(100)).with_jitter());
    /// assert_eq!(retry.to_string(), "3 attempts, fixed 100ms with jitter");
    /// assert_eq!(Retry::NONE.to_string(), "1 attempt");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.attempts == 1 {
            return f.write_str("1 attempt");
        }
        write!(f, "{} attempts", self.attempts)?;
        if self.backoff != Backoff::fixed(Duration::ZERO) {
            write!(f, ", {}", self.backoff)?;
        }
        Ok(())
    }
}

/// The wait before the next attempt of a failed handler.
///
/// A [`fixed`](Backoff::fixed) backoff waits the same time after every
/// failure. An [`exponential`](Backoff::exponential) one doubles the wait
/// after each failure, up to a maximum. [`with_jitter`](Backoff::with_jitter)
/// picks each wait at random between half the computed wait and all of it,
/// so that handlers that failed together do not retry together.
///
/// A synchronous emit waits by sleeping the calling thread; an `async` emit
/// waits on the tokio timer, which needs a tokio runtime with time enabled.
///
/// ```
/// use events::policy::Backoff;
/// use std::time::Duration;
///
/// let backoff = Backoff::exponential(Duration::from_millis(100), Duration::from_millis(250));
/// assert_eq!(backoff.delay(1), Duration::from_millis(100));
/// assert_eq!(backoff.delay(2), Duration::from_millis(200));
/// assert_eq!(backoff.delay(3), Duration::from_millis(250));
///
/// let jittered = backoff.with_jitter();
/// let wait = jittered.delay(2);
/// assert!(wait >= Duration::from_millis(100) && wait <= Duration::from_millis(200));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    exponential: bool,
    jitter: bool,
}

impl Backoff {
    /// Waits `delay` after every failed attempt.
    ///
    /// ```
    /// # use events::policy::Backoff; use std::time::Duration;
    /// assert_eq!(Backoff::fixed(Duration::from_secs(1)).delay(7), Duration::from_secs(1));
    /// ```
    pub const fn fixed(delay: Duration) -> Backoff {
        Backoff {
            initial: delay,
            max: delay,
            exponential: false,
            jitter: false,
        }
    }

    /// Waits `initial` after the first failed attempt and twice as long after
    /// each further one, never more than `max`.
    ///
    /// ```
    /// # use events::policy::Backoff; use std::time::Duration;
    /// let backoff = Backoff::exponential(Duration::from_millis(10), Duration::from_secs(1));
    /// assert_eq!(backoff.delay(4), Duration::from_millis(80));
    /// assert_eq!(backoff.delay(40), Duration::from_secs(1));
    /// ```
    pub const fn exponential(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max,
            exponential: true,
            jitter: false,
        }
    }

    /// Picks each wait at random between half the computed wait and all of it.
    ///
    /// ```
    /// # use events::policy::Backoff; use std::time::Duration;
    /// let backoff = Backoff::fixed(Duration::from_millis(100)).with_jitter();
    /// assert!(backoff.has_jitter());
    /// assert!(backoff.delay(1) >= Duration::from_millis(50));
    /// ```
    pub const fn with_jitter(mut self) -> Backoff {
        self.jitter = true;
        self
    }

    /// Returns whether waits are picked at random.
    ///
    /// ```
    /// # use events::policy::Backoff; use std::time::Duration;
    /// assert!(!Backoff::fixed(Duration::ZERO).has_jitter());
    /// ```
    pub const fn has_jitter(&self) -> bool {
        self.jitter
    }

    /// Returns the wait after failed attempt number `attempt` (counted from 1).
    ///
    /// ```
    /// # use events::policy::Backoff; use std::time::Duration;
    /// let backoff = Backoff::exponential(Duration::from_millis(10), Duration::from_millis(30));
    /// assert_eq!(backoff.delay(1), Duration::from_millis(10));
    /// assert_eq!(backoff.delay(3), Duration::from_millis(30));
    /// ```
    pub fn delay(&self, attempt: u32) -> Duration {
        let delay = if self.exponential {
            let doublings = attempt.saturating_sub(1).min(31);
            self.initial
                .checked_mul(1 << doublings)
                .unwrap_or(self.max)
                .min(self.max)
        } else {
            self.initial
        };
        if self.jitter && !delay.is_zero() {
            let half = delay / 2;
            half + half.mul_f64(random_unit())
        } else {
            delay
        }
    }
}

impl fmt::Display for Backoff {
    /// ```
    /// # use events::policy::Backoff; use std::time::Duration;
    /// let backoff = Backoff::exponential(Duration::from_millis(10), Duration::from_secs(2));
    /// assert_eq!(backoff.to_string(), "exponential 10ms up to 2s");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.exponential {
            write!(f, "exponential {:?} up to {:?}", self.initial, self.max)?;
        } else {
            write!(f, "fixed {:?}", self.initial)?;
        }
        if self.jitter {
            f.write_str(" with jitter")?;
        }
        Ok(())
    }
}

/// A number in `[0, 1)` from a per-thread xorshift generator seeded from the
/// clock and the thread. Jitter needs spread, not unpredictability.
fn random_unit() -> f64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(seed());
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

fn seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64);
    RandomState::new().hash_one(nanos) | 1
}

/// The final policy for an event whose handler failed on its last attempt.
///
/// ```
/// use events::policy::OnFailure;
/// assert_eq!(OnFailure::default(), OnFailure::DeadLetter);
/// assert_eq!(OnFailure::Stop.to_string(), "stop");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OnFailure {
    /// Keeps the event, the handler, the error and the attempts in the bus's
    /// [dead-letter store](crate::dead_letter), from where it can be listed and
    /// dispatched to the handler again. The remaining handlers run.
    #[default]
    DeadLetter,
    /// Logs the failure at error level and runs the remaining handlers.
    Log,
    /// Logs the failure and runs none of the remaining handlers of this
    /// event; the report lists them as not run.
    Stop,
}

impl fmt::Display for OnFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OnFailure::DeadLetter => "dead_letter",
            OnFailure::Log => "log",
            OnFailure::Stop => "stop",
        })
    }
}

/// The scheduling of the `async` handlers of one event at an `async` call site.
///
/// With [`Sequential`](Concurrency::Sequential), the default, each handler
/// finishes before the next starts, so a handler can rely on the ones
/// ordered before it. Handlers marked [`Concurrent`](Concurrency::Concurrent)
/// that follow each other in the order start together, and the next
/// sequential handler starts when all of them have finished. Synchronous
/// handlers always run one at a time.
///
/// ```
/// assert_eq!(events::policy::Concurrency::default(), events::policy::Concurrency::Sequential);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Concurrency {
    /// One handler at a time, in order.
    #[default]
    Sequential,
    /// Together with the neighbouring concurrent handlers.
    Concurrent,
}

impl fmt::Display for Concurrency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Concurrency::Sequential => "sequential",
            Concurrency::Concurrent => "concurrent",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_backoff_does_not_overflow() {
        let backoff = Backoff::exponential(Duration::from_secs(u64::MAX / 4), Duration::MAX);
        assert_eq!(backoff.delay(u32::MAX), Duration::MAX);
    }

    #[test]
    fn jitter_stays_within_half_and_whole_delay() {
        let backoff = Backoff::fixed(Duration::from_millis(100)).with_jitter();
        for _ in 0..1_000 {
            let delay = backoff.delay(1);
            assert!(delay >= Duration::from_millis(50));
            assert!(delay <= Duration::from_millis(100));
        }
    }
}

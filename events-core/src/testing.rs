//! Helpers for tests of code that emits and handles events.

//! Compile-time checks of `#[derive(Event)]` and `#[on]`: every mistake in
//! `tests/ui/derive` and `tests/ui/on` must fail to build with the error
//! recorded next to it, and every file in `tests/ui/pass` must build and run.
//!
//! After a deliberate change to a message, regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test --test ui` and review them.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/derive/*.rs");
    cases.compile_fail("tests/ui/on/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}

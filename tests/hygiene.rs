//! Macro hygiene: `#[derive(Event)]` and `#[on]` must expand correctly in a
//! module that redefines the names generated code might lean on.
//!
//! The `hostile` module below replaces prelude types and variants such as
//! `Result`, `Option`, `Ok`, `Err`, `Some`, `None`, `Box` and `Send` with
//! unrelated unit structs. It declares empty modules named `core`, `std`,
//! `inventory` and `events`. It also defines `macro_rules!` macros named like
//! the built-in `concat!`, `file!`, `line!`, `module_path!` and `stringify!`,
//! which fail to compile when called.
//!
//! Generated code that wrote any of these names without a leading `::` would
//! resolve to the local item and fail to build, and so would code that named
//! `inventory` directly instead of through the runtime crate's re-export. The
//! file compiling is the main check; the tests confirm that the handlers run.

use std::sync::atomic::{AtomicU32, Ordering};

/// How often each handler in `hostile` ran, in the order the handlers are declared.
static CALLS: [AtomicU32; 4] = [
    AtomicU32::new(0),
    AtomicU32::new(0),
    AtomicU32::new(0),
    AtomicU32::new(0),
];

#[allow(dead_code, non_camel_case_types, unused_macros, clippy::all)]
mod hostile {
    use ::events::{on, Envelope, Event};
    use ::serde::{Deserialize, Serialize};

    pub struct Result;
    pub struct Option;
    pub struct Ok;
    pub struct Err;
    pub struct Some;
    pub struct None;
    pub struct Box;
    pub struct Send;
    pub struct Sync;
    pub struct String;
    pub struct Vec;
    pub struct Default;
    pub struct From;
    pub struct Into;

    pub mod core {}
    pub mod std {}
    pub mod inventory {}
    pub mod events {}

    macro_rules! concat {
        ($($tokens:tt)*) => {
            compile_error!("generated code called the local `concat!`")
        };
    }
    macro_rules! file {
        ($($tokens:tt)*) => {
            compile_error!("generated code called the local `file!`")
        };
    }
    macro_rules! line {
        ($($tokens:tt)*) => {
            compile_error!("generated code called the local `line!`")
        };
    }
    macro_rules! module_path {
        ($($tokens:tt)*) => {
            compile_error!("generated code called the local `module_path!`")
        };
    }
    macro_rules! stringify {
        ($($tokens:tt)*) => {
            compile_error!("generated code called the local `stringify!`")
        };
    }

    /// An order placed in a module that shadows the prelude.
    #[derive(Event, Serialize, Deserialize)]
    #[event(name = "hygiene.order_placed", version = 2, kind = "integration")]
    pub struct OrderPlaced {
        /// The order's id.
        pub order_id: u64,
        pub note: ::std::option::Option<::std::string::String>,
        pub lines: ::std::vec::Vec<(::std::string::String, u32)>,
    }

    #[derive(Event, Serialize, Deserialize)]
    pub struct Tuple(pub u64);

    #[derive(Event, Serialize, Deserialize)]
    pub struct Unit;

    #[on(OrderPlaced)]
    fn sync_payload(order: &OrderPlaced) {
        super::CALLS[0].fetch_add(1, ::core::sync::atomic::Ordering::SeqCst);
        assert_eq!(order.order_id, 11);
    }

    #[on(OrderPlaced, name = "hygiene.sync_envelope", priority = 5)]
    fn sync_envelope(
        order: &Envelope<OrderPlaced>,
    ) -> ::core::result::Result<(), ::std::string::String> {
        super::CALLS[1].fetch_add(1, ::core::sync::atomic::Ordering::SeqCst);
        match order.subject() {
            ::core::option::Option::Some("order-11") => ::core::result::Result::Ok(()),
            other => ::core::result::Result::Err(::std::format!("unexpected subject {other:?}")),
        }
    }

    #[on(OrderPlaced, priority = -1)]
    async fn async_payload(order: &OrderPlaced) {
        super::CALLS[2].fetch_add(1, ::core::sync::atomic::Ordering::SeqCst);
        assert_eq!(order.lines.len(), 1);
    }

    #[on(OrderPlaced, priority = -2)]
    async fn async_envelope(
        order: &Envelope<OrderPlaced>,
    ) -> ::core::result::Result<
        (),
        ::std::boxed::Box<dyn ::std::error::Error + ::core::marker::Send + ::core::marker::Sync>,
    > {
        super::CALLS[3].fetch_add(1, ::core::sync::atomic::Ordering::SeqCst);
        if order.version() != 2 {
            return ::core::result::Result::Err("wrong version".into());
        }
        ::core::result::Result::Ok(())
    }

    #[on(Tuple)]
    fn tuple_handler(_: &Tuple) -> ::core::result::Result<(), &'static str> {
        ::core::result::Result::Err("tuple handler failed on purpose")
    }
}

#[tokio::test]
async fn shadowed_scope_handlers_run() {
    let order = hostile::OrderPlaced {
        order_id: 11,
        note: None,
        lines: vec![("sku-1".to_owned(), 2)],
    };
    let envelope = events::Envelope::new(order).with_subject("order-11");
    let report = events::Bus::new().emit_envelope_async(envelope).await;

    assert!(report.is_ok(), "failures: {:?}", report.failures());
    assert_eq!(report.handlers_run(), 4);
    for (index, calls) in CALLS.iter().enumerate() {
        assert_eq!(calls.load(Ordering::SeqCst), 1, "handler {index}");
    }
}

#[test]
fn shadowed_scope_registers_event() {
    use events::Event;

    let info = hostile::OrderPlaced::info();
    assert_eq!(info.name(), "hygiene.order_placed");
    assert_eq!(info.version(), 2);
    assert_eq!(info.kind(), events::EventKind::Integration);
    assert_eq!(
        info.doc(),
        "An order placed in a module that shadows the prelude."
    );
    assert_eq!(info.module_path(), "hygiene::hostile");
    assert_eq!(info.file(), "tests/hygiene.rs");
    assert_eq!(info.fields()[0].doc(), "The order's id.");
    assert_eq!(
        info.fields()[1].ty(),
        "::std::option::Option<::std::string::String>"
    );
    assert!(events::registry::find("hygiene.order_placed", 2).is_some());
}

#[test]
fn shadowed_scope_handler_names() {
    let names: Vec<&str> = events::registry::handlers_of::<hostile::OrderPlaced>()
        .map(|handler| handler.name())
        .collect();
    assert_eq!(
        names,
        [
            "hygiene.sync_envelope",
            "hygiene::hostile::sync_payload",
            "hygiene::hostile::async_payload",
            "hygiene::hostile::async_envelope",
        ]
    );
}

#[test]
fn shadowed_scope_tuple_and_unit_decode() {
    let json = serde_json::to_vec(&events::Envelope::new(hostile::Tuple(3))).unwrap();
    let decoded = events::decode(&json).unwrap();
    assert_eq!(decoded.payload::<hostile::Tuple>().unwrap().0, 3);

    let json = serde_json::to_vec(&events::Envelope::new(hostile::Unit)).unwrap();
    let decoded = events::decode(&json).unwrap();
    assert!(decoded.is::<hostile::Unit>());
}

#[test]
fn shadowed_scope_error_is_reported() {
    let report = events::Bus::new().emit(hostile::Tuple(1));
    assert_eq!(report.failures().len(), 1);
    assert_eq!(
        report.failures()[0].error().to_string(),
        "tuple handler failed on purpose"
    );
}

//! Compatibility checks of the event catalog with `events::compat`: each mode
//! with a compatible and an incompatible change, transitive-only breaks,
//! `$ref`s, nested arrays, nullable fields, enums, open and closed objects,
//! the lock file and the text of the errors.
//!
//! The schemas are written by hand in the shape that `schemars` 1.x derives
//! for Rust types (draft 2020-12).

use events::compat::{check, Break, BreakKind, CompatError, Direction, Lock, LockedVersion, Mode};
use serde_json::{json, Value};

const EVENT: &str = "OrderPlaced";

fn uint64() -> Value {
    json!({ "type": "integer", "format": "uint64", "minimum": 0 })
}

/// `struct OrderPlaced { order_id: u64, currency: String }`.
fn order_v1() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "OrderPlaced",
        "type": "object",
        "properties": {
            "order_id": uint64(),
            "currency": { "type": "string" }
        },
        "required": ["order_id", "currency"]
    })
}

/// `order_v1` with the properties in `extra` added and `required` replaced.
fn order_with(extra: Value, required: &[&str]) -> Value {
    let mut schema = order_v1();
    let properties = schema["properties"].as_object_mut().unwrap();
    for (name, property) in extra.as_object().unwrap() {
        properties.insert(name.clone(), property.clone());
    }
    schema["required"] = json!(required);
    schema
}

/// `order_v1` without the property `name`.
fn order_without(name: &str) -> Value {
    let mut schema = order_v1();
    schema["properties"].as_object_mut().unwrap().remove(name);
    let required: Vec<Value> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|required| *required != name)
        .cloned()
        .collect();
    schema["required"] = Value::Array(required);
    schema
}

fn lock_of(versions: &[(u32, &Value)]) -> Lock {
    Lock::from_events(
        versions
            .iter()
            .map(|(version, schema)| (EVENT, *version, (*schema).clone())),
    )
}

/// Checks `current` as the next version of `recorded` (v1 locked, v2 new).
fn check_next(recorded: &Value, current: &Value, mode: Mode) -> Result<(), CompatError> {
    let lock = lock_of(&[(1, recorded)]);
    let next = lock_of(&[(1, recorded), (2, current)]);
    check(&lock, &next, mode)
}

/// Checks a changed schema of the locked version 1.
fn check_changed(recorded: &Value, current: &Value, mode: Mode) -> Result<(), CompatError> {
    check(&lock_of(&[(1, recorded)]), &lock_of(&[(1, current)]), mode)
}

/// Returns `(path, kind, direction)` of each break, for short assertions.
fn summary(error: &CompatError) -> Vec<(String, BreakKind, Option<Direction>)> {
    error
        .breaks()
        .iter()
        .map(|found| {
            (
                found.path().to_owned(),
                found.kind().clone(),
                found.direction(),
            )
        })
        .collect()
}

fn only_break(result: Result<(), CompatError>) -> Break {
    let error = result.expect_err("expected a break");
    assert_eq!(error.breaks().len(), 1, "{error}");
    error.breaks()[0].clone()
}

fn changed_type(from: &str, to: &str) -> BreakKind {
    BreakKind::ChangedType {
        from: from.to_owned(),
        to: to.to_owned(),
    }
}

// Modes, each with a change that passes and one that breaks.

#[test]
fn backward_accepts_optional_field() {
    let v2 = order_with(
        json!({ "coupon": { "type": ["string", "null"] } }),
        &["order_id", "currency"],
    );
    assert_eq!(check_next(&order_v1(), &v2, Mode::Backward), Ok(()));
}

#[test]
fn backward_rejects_added_required_field() {
    let v2 = order_with(
        json!({ "coupon": { "type": "string" } }),
        &["order_id", "currency", "coupon"],
    );
    let found = only_break(check_next(&order_v1(), &v2, Mode::Backward));
    assert_eq!(found.event(), EVENT);
    assert_eq!((found.old_version(), found.new_version()), (1, 2));
    assert_eq!(found.path(), "coupon");
    assert_eq!(found.kind(), &BreakKind::AddedRequiredField);
    assert_eq!(found.direction(), Some(Direction::Backward));
}

#[test]
fn backward_accepts_removed_required_field() {
    let v2 = order_without("currency");
    assert_eq!(check_next(&order_v1(), &v2, Mode::Backward), Ok(()));
}

#[test]
fn forward_accepts_added_required_field() {
    let v2 = order_with(
        json!({ "coupon": { "type": "string" } }),
        &["order_id", "currency", "coupon"],
    );
    assert_eq!(check_next(&order_v1(), &v2, Mode::Forward), Ok(()));
}

#[test]
fn forward_rejects_removed_required_field() {
    let v2 = order_without("currency");
    let found = only_break(check_next(&order_v1(), &v2, Mode::Forward));
    assert_eq!(found.path(), "currency");
    assert_eq!(found.kind(), &BreakKind::RemovedRequiredField);
    assert_eq!(found.direction(), Some(Direction::Forward));
}

#[test]
fn forward_rejects_required_field_made_optional() {
    let v2 = order_with(json!({}), &["order_id"]);
    let found = only_break(check_next(&order_v1(), &v2, Mode::Forward));
    assert_eq!(found.path(), "currency");
    assert_eq!(found.kind(), &BreakKind::MadeOptional);
    assert_eq!(check_next(&order_v1(), &v2, Mode::Backward), Ok(()));
}

#[test]
fn backward_rejects_optional_field_made_required() {
    let v1 = order_with(
        json!({ "coupon": { "type": "string" } }),
        &["order_id", "currency"],
    );
    let v2 = order_with(
        json!({ "coupon": { "type": "string" } }),
        &["order_id", "currency", "coupon"],
    );
    let found = only_break(check_next(&v1, &v2, Mode::Backward));
    assert_eq!(found.path(), "coupon");
    assert_eq!(found.kind(), &BreakKind::MadeRequired);
}

#[test]
fn full_accepts_optional_field() {
    let v2 = order_with(
        json!({ "note": { "type": "string", "default": "" } }),
        &["order_id", "currency"],
    );
    assert_eq!(check_next(&order_v1(), &v2, Mode::Full), Ok(()));
}

#[test]
fn full_rejects_changed_type_both_ways() {
    let v2 = order_with(
        json!({ "order_id": { "type": "string" } }),
        &["order_id", "currency"],
    );
    let error = check_next(&order_v1(), &v2, Mode::Full).unwrap_err();
    assert_eq!(
        summary(&error),
        [
            (
                "order_id".to_owned(),
                changed_type("integer (uint64)", "string"),
                Some(Direction::Backward)
            ),
            (
                "order_id".to_owned(),
                changed_type("integer (uint64)", "string"),
                Some(Direction::Forward)
            ),
        ]
    );
}

#[test]
fn full_rejects_one_sided_change() {
    let v2 = order_without("currency");
    let error = check_next(&order_v1(), &v2, Mode::Full).unwrap_err();
    assert_eq!(
        summary(&error),
        [(
            "currency".to_owned(),
            BreakKind::RemovedRequiredField,
            Some(Direction::Forward)
        )]
    );
}

// Transitive modes compare with every earlier version.

/// v1 has `a: String`, v2 drops it, v3 brings it back as an optional integer.
fn readded_with_other_type() -> (Lock, Lock) {
    let v1 = json!({
        "type": "object",
        "properties": { "a": { "type": "string" }, "b": uint64() },
        "required": ["a", "b"]
    });
    let v2 = json!({
        "type": "object",
        "properties": { "b": uint64() },
        "required": ["b"]
    });
    let v3 = json!({
        "type": "object",
        "properties": { "a": { "type": ["integer", "null"], "format": "int64" }, "b": uint64() },
        "required": ["b"]
    });
    let lock = lock_of(&[(1, &v1), (2, &v2)]);
    let current = lock_of(&[(1, &v1), (2, &v2), (3, &v3)]);
    (lock, current)
}

#[test]
fn backward_passes_between_neighbours() {
    let (lock, current) = readded_with_other_type();
    assert_eq!(check(&lock, &current, Mode::Backward), Ok(()));
}

#[test]
fn backward_transitive_finds_readded_field() {
    let (lock, current) = readded_with_other_type();
    let found = only_break(check(&lock, &current, Mode::BackwardTransitive));
    assert_eq!((found.old_version(), found.new_version()), (1, 3));
    assert_eq!(found.path(), "a");
    assert_eq!(
        found.kind(),
        &changed_type("string", "integer (int64) or null")
    );
    assert_eq!(found.direction(), Some(Direction::Backward));
}

#[test]
fn backward_transitive_accepts_compatible_history() {
    let v2 = order_with(
        json!({ "coupon": { "type": ["string", "null"] } }),
        &["order_id", "currency"],
    );
    let v3 = order_with(
        json!({ "coupon": { "type": ["string", "null"] }, "note": { "type": "string", "default": "" } }),
        &["order_id", "currency"],
    );
    let lock = lock_of(&[(1, &order_v1()), (2, &v2)]);
    let current = lock_of(&[(1, &order_v1()), (2, &v2), (3, &v3)]);
    assert_eq!(check(&lock, &current, Mode::BackwardTransitive), Ok(()));
}

// Transitive modes also compare with the earlier schemas of one version,
// which is where transitive breaks show when upcasters join the versions.

/// Returns one version's schemas over time, as successive locks record them: `a`
/// as a string, then without `a`, then with `a` as an optional integer.
fn one_version_history() -> (Value, Value, Value) {
    let first = json!({
        "type": "object",
        "properties": { "a": { "type": "string" }, "b": uint64() },
        "required": ["a", "b"]
    });
    let second = json!({
        "type": "object",
        "properties": { "b": uint64() },
        "required": ["b"]
    });
    let third = json!({
        "type": "object",
        "properties": { "a": { "type": ["integer", "null"], "format": "int64" }, "b": uint64() },
        "required": ["b"]
    });
    (first, second, third)
}

#[test]
fn updated_lock_keeps_earlier_schemas() {
    let (first, second, third) = one_version_history();

    let after_second = lock_of(&[(1, &first)]).updated_with(&lock_of(&[(1, &second)]));
    let after_third = after_second.updated_with(&lock_of(&[(1, &third)]));

    let version = after_third.get(EVENT, 1).unwrap();
    assert_eq!(version.schema(), &third);
    assert_eq!(version.earlier_schemas(), [first.clone(), second.clone()]);

    // Unchanged schemas add nothing, and a schema that comes back leaves
    // the earlier list.
    let unchanged = after_third.updated_with(&lock_of(&[(1, &third)]));
    assert_eq!(unchanged.get(EVENT, 1).unwrap().earlier_schemas().len(), 2);
    let back = after_third.updated_with(&lock_of(&[(1, &second)]));
    assert_eq!(
        back.get(EVENT, 1).unwrap().earlier_schemas(),
        [first, third]
    );
}

#[test]
fn updated_lock_ignores_annotation_changes() {
    let (first, _, _) = one_version_history();
    let mut described = first.clone();
    described["description"] = json!("A parcel left the warehouse.");
    described["properties"]["a"]["description"] = json!("Carrier name.");
    // A property named `description` is data, so removing it is a change.
    let mut with_description_field = first.clone();
    with_description_field["properties"]["description"] = json!({ "type": "string" });

    let updated = lock_of(&[(1, &first)]).updated_with(&lock_of(&[(1, &described)]));
    let version = updated.get(EVENT, 1).unwrap();
    assert_eq!(version.schema(), &described);
    assert!(version.earlier_schemas().is_empty());

    let updated = lock_of(&[(1, &with_description_field)]).updated_with(&lock_of(&[(1, &first)]));
    assert_eq!(
        updated.get(EVENT, 1).unwrap().earlier_schemas(),
        [with_description_field]
    );
}

#[test]
fn break_against_recorded_and_earlier_reported_once() {
    // Both the recorded and the earlier schema have `a` as a string; they
    // differ only in a description.
    let (first, _, third) = one_version_history();
    let mut reworded = first.clone();
    reworded["properties"]["b"]["description"] = json!("Box count.");
    let mut recorded = Lock::new();
    recorded.insert(
        EVENT,
        1,
        LockedVersion::new(reworded).with_earlier_schema(first),
    );

    let found = only_break(check(
        &recorded,
        &lock_of(&[(1, &third)]),
        Mode::BackwardTransitive,
    ));

    assert_eq!(found.path(), "a");
    assert!(
        found
            .to_string()
            .starts_with("`OrderPlaced` recorded v1 -> changed v1"),
        "{found}"
    );
}

#[test]
fn field_breaking_recorded_schema_not_repeated_for_earlier() {
    // The earlier schema has no `provider`, the recorded one an optional
    // nullable `provider`, and the change makes it a required string.
    let earlier = order_v1();
    let recorded_schema = order_with(
        json!({ "provider": { "type": ["string", "null"], "default": null } }),
        &["order_id", "currency"],
    );
    let current = order_with(
        json!({ "provider": { "type": "string" } }),
        &["order_id", "currency", "provider"],
    );
    let mut recorded = Lock::new();
    recorded.insert(
        EVENT,
        1,
        LockedVersion::new(recorded_schema).with_earlier_schema(earlier),
    );

    let error = check(
        &recorded,
        &lock_of(&[(1, &current)]),
        Mode::BackwardTransitive,
    )
    .expect_err("making `provider` required breaks");

    assert!(!error.breaks().is_empty());
    for found in error.breaks() {
        assert_eq!(found.path(), "provider");
        assert!(
            found.to_string().starts_with("`OrderPlaced` recorded v1"),
            "{found}"
        );
    }
}

#[test]
fn updated_lock_drops_missing_versions() {
    let (first, second, _) = one_version_history();
    let recorded = lock_of(&[(1, &first), (2, &second)]);

    let updated = recorded.updated_with(&lock_of(&[(2, &second)]));

    assert!(updated.get(EVENT, 1).is_none());
    assert!(updated.get(EVENT, 2).unwrap().earlier_schemas().is_empty());
}

#[test]
fn backward_passes_against_latest_recorded_schema() {
    let (first, second, third) = one_version_history();
    let recorded = lock_of(&[(1, &first)]).updated_with(&lock_of(&[(1, &second)]));

    assert_eq!(
        check(&recorded, &lock_of(&[(1, &third)]), Mode::Backward),
        Ok(())
    );
}

#[test]
fn backward_transitive_finds_break_with_earlier_schema() {
    let (first, second, third) = one_version_history();
    let recorded = lock_of(&[(1, &first)]).updated_with(&lock_of(&[(1, &second)]));

    let found = only_break(check(
        &recorded,
        &lock_of(&[(1, &third)]),
        Mode::BackwardTransitive,
    ));

    assert_eq!((found.old_version(), found.new_version()), (1, 1));
    assert_eq!(found.path(), "a");
    assert_eq!(
        found.kind(),
        &changed_type("string", "integer (int64) or null")
    );
    assert!(
        found
            .to_string()
            .starts_with("`OrderPlaced` earlier v1 -> changed v1 at `a`"),
        "{found}"
    );
}

#[test]
fn transitive_finds_earlier_schema_across_upcast_free_versions() {
    // Version 2 has no upcaster, so it must read version 1 events of every
    // schema version 1 ever had.
    let (first, second, third) = one_version_history();
    let recorded = lock_of(&[(1, &first)]).updated_with(&lock_of(&[(1, &second)]));
    let current = lock_of(&[(1, &second), (2, &third)]);

    assert_eq!(check(&recorded, &current, Mode::Backward), Ok(()));
    let found = only_break(check(&recorded, &current, Mode::BackwardTransitive));
    assert_eq!((found.old_version(), found.new_version()), (1, 2));
    assert!(
        found
            .to_string()
            .starts_with("`OrderPlaced` earlier v1 -> v2"),
        "{found}"
    );
}

#[test]
fn transitive_skips_earlier_schema_joined_by_upcaster() {
    let (first, second, third) = one_version_history();
    let recorded = lock_of(&[(1, &first)]).updated_with(&lock_of(&[(1, &second)]));
    let mut current = lock_of(&[(1, &second)]);
    current.insert(EVENT, 2, LockedVersion::new(third).with_upcast_from(1));

    assert_eq!(check(&recorded, &current, Mode::FullTransitive), Ok(()));
}

#[test]
fn lock_file_keeps_earlier_schemas() {
    let (first, second, _) = one_version_history();
    let recorded = lock_of(&[(1, &first)]).updated_with(&lock_of(&[(1, &second)]));

    let text = recorded.to_string();
    let parsed: Lock = text.parse().unwrap();

    assert_eq!(parsed, recorded);
    let file: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(file["events"][EVENT]["1"]["earlier"], json!([first]));
}

/// v1 has a required `currency`, v2 keeps it optional, v3 drops it.
fn dropped_in_two_steps() -> (Lock, Lock) {
    let v2 = order_with(json!({}), &["order_id"]);
    let v3 = order_without("currency");
    let lock = lock_of(&[(1, &order_v1()), (2, &v2)]);
    let current = lock_of(&[(1, &order_v1()), (2, &v2), (3, &v3)]);
    (lock, current)
}

#[test]
fn forward_passes_between_neighbours() {
    let (lock, current) = dropped_in_two_steps();
    assert_eq!(check(&lock, &current, Mode::Forward), Ok(()));
}

#[test]
fn forward_transitive_finds_dropped_field() {
    let (lock, current) = dropped_in_two_steps();
    let found = only_break(check(&lock, &current, Mode::ForwardTransitive));
    assert_eq!((found.old_version(), found.new_version()), (1, 3));
    assert_eq!(found.path(), "currency");
    assert_eq!(found.kind(), &BreakKind::RemovedRequiredField);
}

#[test]
fn forward_transitive_accepts_compatible_history() {
    let v2 = order_with(
        json!({ "coupon": { "type": "string" } }),
        &["order_id", "currency", "coupon"],
    );
    let v3 = order_with(
        json!({ "coupon": { "type": "string" }, "note": { "type": "string" } }),
        &["order_id", "currency", "coupon", "note"],
    );
    let lock = lock_of(&[(1, &order_v1())]);
    let current = lock_of(&[(1, &order_v1()), (2, &v2), (3, &v3)]);
    assert_eq!(check(&lock, &current, Mode::ForwardTransitive), Ok(()));
}

#[test]
fn full_transitive_finds_both_histories() {
    let (lock, current) = readded_with_other_type();
    assert_eq!(check(&lock, &current, Mode::Full), Ok(()));
    let error = check(&lock, &current, Mode::FullTransitive).unwrap_err();
    assert_eq!(
        summary(&error),
        [
            (
                "a".to_owned(),
                changed_type("string", "integer (int64) or null"),
                Some(Direction::Backward)
            ),
            // v1 consumers require `a`, which v3 may leave out.
            (
                "a".to_owned(),
                BreakKind::MadeOptional,
                Some(Direction::Forward)
            ),
            (
                "a".to_owned(),
                changed_type("string", "integer (int64) or null"),
                Some(Direction::Forward)
            ),
        ]
    );
    assert!(error.breaks().iter().all(|found| found.old_version() == 1));
}

#[test]
fn full_transitive_accepts_optional_fields() {
    let v2 = order_with(
        json!({ "coupon": { "type": ["string", "null"] } }),
        &["order_id", "currency"],
    );
    let v3 = order_with(
        json!({ "note": { "type": "string", "default": "" } }),
        &["order_id", "currency"],
    );
    let lock = lock_of(&[(1, &order_v1())]);
    let current = lock_of(&[(1, &order_v1()), (2, &v2), (3, &v3)]);
    assert_eq!(check(&lock, &current, Mode::FullTransitive), Ok(()));
}

// The catalog itself.

#[test]
fn changed_version_is_compared_with_its_record() {
    let changed = order_with(
        json!({ "coupon": { "type": "string" } }),
        &["order_id", "currency", "coupon"],
    );
    let found = only_break(check_changed(&order_v1(), &changed, Mode::Backward));
    assert_eq!((found.old_version(), found.new_version()), (1, 1));
    assert_eq!(found.path(), "coupon");
    assert_eq!(found.kind(), &BreakKind::AddedRequiredField);
}

#[test]
fn removed_version_breaks_every_mode() {
    let v2 = order_with(json!({}), &["order_id"]);
    let lock = lock_of(&[(1, &order_v1()), (2, &v2)]);
    let current = lock_of(&[(2, &v2)]);
    for mode in [Mode::Backward, Mode::Forward, Mode::FullTransitive] {
        let found = only_break(check(&lock, &current, mode));
        assert_eq!(found.old_version(), 1, "{mode}");
        assert_eq!(found.kind(), &BreakKind::RemovedVersion, "{mode}");
        assert_eq!(found.direction(), None, "{mode}");
    }
}

#[test]
fn new_event_versions_are_compared() {
    let lock = Lock::from_events([("InvoiceIssued", 1, json!({ "type": "object" }))]);
    let current = Lock::from_events([
        ("InvoiceIssued", 1, json!({ "type": "object" })),
        (EVENT, 1, order_v1()),
        (EVENT, 2, order_without("currency")),
    ]);
    // The new event's versions are compared with each other.
    let found = only_break(check(&lock, &current, Mode::Forward));
    assert_eq!(found.event(), EVENT);
    assert_eq!(found.path(), "currency");
    assert_eq!(check(&lock, &current, Mode::Backward), Ok(()));
}

#[test]
fn unchanged_catalog_passes() {
    let lock = lock_of(&[(1, &order_v1()), (2, &order_without("currency"))]);
    assert_eq!(check(&lock, &lock.clone(), Mode::FullTransitive), Ok(()));
}

// References into $defs.

/// `struct OrderPlaced { lines: Vec<Line> }` with `Line` in `$defs`.
fn order_with_lines(line: Value) -> Value {
    json!({
        "type": "object",
        "properties": {
            "lines": { "type": "array", "items": { "$ref": "#/$defs/Line" } }
        },
        "required": ["lines"],
        "$defs": { "Line": line }
    })
}

fn line(sku: Value) -> Value {
    json!({
        "type": "object",
        "properties": { "sku": sku, "quantity": { "type": "integer", "format": "uint32", "minimum": 0 } },
        "required": ["sku", "quantity"]
    })
}

#[test]
fn ref_change_is_found_through_defs() {
    let v1 = order_with_lines(line(json!({ "type": "string" })));
    let v2 = order_with_lines(line(uint64()));
    let found = only_break(check_next(&v1, &v2, Mode::Backward));
    assert_eq!(found.path(), "lines[].sku");
    assert_eq!(found.kind(), &changed_type("string", "integer (uint64)"));
}

#[test]
fn ref_and_inline_schema_are_equal() {
    let v1 = order_with_lines(line(json!({ "type": "string" })));
    let v2 = json!({
        "type": "object",
        "properties": { "lines": { "type": "array", "items": line(json!({ "type": "string" })) } },
        "required": ["lines"]
    });
    assert_eq!(check_next(&v1, &v2, Mode::FullTransitive), Ok(()));
}

#[test]
fn renamed_def_passes() {
    let v1 = order_with_lines(line(json!({ "type": "string" })));
    let v2 = json!({
        "type": "object",
        "properties": {
            "lines": { "type": "array", "items": { "$ref": "#/$defs/OrderLine" } }
        },
        "required": ["lines"],
        "$defs": { "OrderLine": line(json!({ "type": "string" })) }
    });
    assert_eq!(check_next(&v1, &v2, Mode::Full), Ok(()));
}

#[test]
fn unresolved_ref_is_a_break() {
    let v2 = json!({
        "type": "object",
        "properties": {
            "lines": { "type": "array", "items": { "$ref": "#/$defs/Missing" } }
        },
        "required": ["lines"]
    });
    let v1 = order_with_lines(line(json!({ "type": "string" })));
    let found = only_break(check_next(&v1, &v2, Mode::Backward));
    assert_eq!(found.path(), "lines[]");
    assert_eq!(
        found.kind(),
        &BreakKind::UnresolvedReference {
            reference: "#/$defs/Missing".to_owned()
        }
    );
}

/// `struct Category { name: String, children: Vec<Category> }`.
fn category(name: Value) -> Value {
    json!({
        "$ref": "#/$defs/Category",
        "$defs": {
            "Category": {
                "type": "object",
                "properties": {
                    "name": name,
                    "children": { "type": "array", "items": { "$ref": "#/$defs/Category" } }
                },
                "required": ["name", "children"]
            }
        }
    })
}

#[test]
fn recursive_ref_terminates() {
    let v1 = category(json!({ "type": "string" }));
    assert_eq!(
        check_changed(&v1, &v1.clone(), Mode::FullTransitive),
        Ok(())
    );

    let v2 = category(json!({ "type": "integer" }));
    let error = check_next(&v1, &v2, Mode::Backward).unwrap_err();
    assert_eq!(
        summary(&error),
        [(
            "name".to_owned(),
            changed_type("string", "integer"),
            Some(Direction::Backward)
        )]
    );
}

// Nested arrays and maps.

/// `struct OrderPlaced { matrix: Vec<Vec<T>> }`.
fn matrix_of(cell: Value) -> Value {
    json!({
        "type": "object",
        "properties": {
            "matrix": { "type": "array", "items": { "type": "array", "items": cell } }
        },
        "required": ["matrix"]
    })
}

#[test]
fn nested_array_widening_is_backward_compatible() {
    let v1 = matrix_of(json!({ "type": "integer", "format": "uint32", "minimum": 0 }));
    let v2 = matrix_of(uint64());
    assert_eq!(check_next(&v1, &v2, Mode::Backward), Ok(()));

    let found = only_break(check_next(&v1, &v2, Mode::Forward));
    assert_eq!(found.path(), "matrix[][]");
    assert_eq!(
        found.kind(),
        &changed_type("integer (uint32)", "integer (uint64)")
    );
}

#[test]
fn array_items_inside_objects_inside_arrays() {
    let shipment = |code: Value| {
        json!({
            "type": "object",
            "properties": {
                "parcels": { "type": "array", "items": {
                    "type": "object",
                    "properties": { "codes": { "type": "array", "items": code } },
                    "required": ["codes"]
                } }
            },
            "required": ["parcels"]
        })
    };
    let v1 = shipment(json!({ "type": "string" }));
    let v2 = shipment(json!({ "type": "string", "format": "uuid" }));
    let found = only_break(check_next(&v1, &v2, Mode::Backward));
    assert_eq!(found.path(), "parcels[].codes[]");
    assert_eq!(found.kind(), &changed_type("string", "string (uuid)"));
}

#[test]
fn array_becoming_tuple_is_a_break() {
    let v1 = json!({ "type": "array", "items": { "type": "string" } });
    let v2 = json!({
        "type": "array",
        "prefixItems": [{ "type": "string" }, { "type": "string" }],
        "minItems": 2,
        "maxItems": 2
    });
    let found = only_break(check_next(&v1, &v2, Mode::Backward));
    assert_eq!(found.path(), "");
    assert_eq!(found.kind(), &changed_type("array", "tuple of 2"));
}

#[test]
fn map_value_type_change_is_found() {
    let prices = |value: Value| {
        json!({
            "type": "object",
            "properties": {
                "prices": {
                    "type": "object",
                    "additionalProperties": value,
                    "propertyNames": { "type": "string" }
                }
            },
            "required": ["prices"]
        })
    };
    let v1 = prices(json!({ "type": "integer", "format": "int64" }));
    let v2 = prices(json!({ "type": "number", "format": "double" }));
    assert_eq!(check_next(&v1, &v2, Mode::Backward), Ok(()));

    let found = only_break(check_next(&v1, &v2, Mode::Forward));
    assert_eq!(found.path(), "prices{}");
    assert_eq!(found.kind(), &changed_type("integer (int64)", "number"));
}

// Nullable and optional fields.

#[test]
fn nullable_type_array_made_non_nullable() {
    let v1 = order_with(
        json!({ "coupon": { "type": ["string", "null"] } }),
        &["order_id", "currency"],
    );
    let v2 = order_with(
        json!({ "coupon": { "type": "string" } }),
        &["order_id", "currency"],
    );

    let found = only_break(check_next(&v1, &v2, Mode::Backward));
    assert_eq!(found.path(), "coupon");
    assert_eq!(found.kind(), &BreakKind::MadeNonNullable);
    assert_eq!(check_next(&v1, &v2, Mode::Forward), Ok(()));
}

#[test]
fn nullable_any_of_made_nullable() {
    let address = json!({
        "type": "object",
        "properties": { "city": { "type": "string" } },
        "required": ["city"]
    });
    let v1 = json!({
        "type": "object",
        "properties": { "address": { "$ref": "#/$defs/Address" } },
        "required": ["address"],
        "$defs": { "Address": address }
    });
    let v2 = json!({
        "type": "object",
        "properties": {
            "address": { "anyOf": [{ "$ref": "#/$defs/Address" }, { "type": "null" }] }
        },
        "$defs": { "Address": address }
    });
    assert_eq!(check_next(&v1, &v2, Mode::Backward), Ok(()));

    let error = check_next(&v1, &v2, Mode::Forward).unwrap_err();
    assert_eq!(
        summary(&error),
        [
            (
                "address".to_owned(),
                BreakKind::MadeOptional,
                Some(Direction::Forward)
            ),
            (
                "address".to_owned(),
                BreakKind::MadeNullable,
                Some(Direction::Forward)
            ),
        ]
    );
}

#[test]
fn nullable_nested_field_change_is_found() {
    let address = |city: Value| {
        json!({
            "type": "object",
            "properties": {
                "address": { "anyOf": [{ "$ref": "#/$defs/Address" }, { "type": "null" }] }
            },
            "$defs": { "Address": {
                "type": "object",
                "properties": { "city": city },
                "required": ["city"]
            } }
        })
    };
    let v1 = address(json!({ "type": "string" }));
    let v2 = address(json!({ "type": "boolean" }));
    let found = only_break(check_next(&v1, &v2, Mode::Backward));
    assert_eq!(found.path(), "address.city");
    assert_eq!(found.kind(), &changed_type("string", "boolean"));
}

// Enums.

/// `enum Status { Placed, Paid, ... }` with the given unit variants.
fn status_of(values: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": { "status": { "$ref": "#/$defs/Status" } },
        "required": ["status"],
        "$defs": { "Status": { "type": "string", "enum": values } }
    })
}

#[test]
fn enum_narrowing_breaks_backward() {
    let v1 = status_of(&["Placed", "Paid", "Cancelled"]);
    let v2 = status_of(&["Placed", "Paid"]);
    let found = only_break(check_next(&v1, &v2, Mode::Backward));
    assert_eq!(found.path(), "status");
    assert_eq!(
        found.kind(),
        &BreakKind::NarrowedEnum {
            removed: vec![json!("Cancelled")]
        }
    );
    assert_eq!(check_next(&v1, &v2, Mode::Forward), Ok(()));
}

#[test]
fn enum_widening_breaks_forward() {
    let v1 = status_of(&["Placed", "Paid"]);
    let v2 = status_of(&["Placed", "Paid", "Refunded"]);
    assert_eq!(check_next(&v1, &v2, Mode::Backward), Ok(()));
    let found = only_break(check_next(&v1, &v2, Mode::Forward));
    assert_eq!(
        found.kind(),
        &BreakKind::WidenedEnum {
            added: vec![json!("Refunded")]
        }
    );
}

#[test]
fn documented_variants_as_one_of_const() {
    let v1 = json!({
        "oneOf": [
            { "type": "string", "enum": ["Placed"] },
            { "description": "Paid in full.", "type": "string", "const": "Paid" }
        ]
    });
    let v2 = json!({ "type": "string", "enum": ["Placed", "Paid"] });
    assert_eq!(check_next(&v1, &v2, Mode::Full), Ok(()));

    let v3 = json!({ "type": "string", "enum": ["Placed"] });
    let found = only_break(check_next(&v1, &v3, Mode::Backward));
    assert_eq!(
        found.kind(),
        &BreakKind::NarrowedEnum {
            removed: vec![json!("Paid")]
        }
    );
}

/// Builds an externally tagged enum with the unit variant `Placed` and the
/// data variants in `variants`.
fn payment_of(variants: Value) -> Value {
    let mut one_of = vec![json!({ "type": "string", "const": "Placed" })];
    for (name, data) in variants.as_object().unwrap() {
        one_of.push(json!({
            "type": "object",
            "properties": { (name.clone()): data },
            "required": [name],
            "additionalProperties": false
        }));
    }
    json!({ "oneOf": one_of })
}

#[test]
fn removed_data_variant_narrows_enum() {
    let card = json!({ "type": "object", "properties": { "last4": { "type": "string" } }, "required": ["last4"] });
    let v1 = payment_of(json!({ "Card": card.clone(), "Invoice": { "type": "integer" } }));
    let v2 = payment_of(json!({ "Card": card }));
    let found = only_break(check_next(&v1, &v2, Mode::Backward));
    assert_eq!(found.path(), "");
    assert_eq!(
        found.kind(),
        &BreakKind::NarrowedEnum {
            removed: vec![json!("Invoice")]
        }
    );

    let found = only_break(check_next(&v2, &v1, Mode::Forward));
    assert_eq!(
        found.kind(),
        &BreakKind::WidenedEnum {
            added: vec![json!("Invoice")]
        }
    );
}

#[test]
fn data_variant_field_change_is_found() {
    let card = |last4: Value| json!({ "type": "object", "properties": { "last4": last4 }, "required": ["last4"] });
    let v1 = payment_of(json!({ "Card": card(json!({ "type": "string" })) }));
    let v2 = payment_of(json!({ "Card": card(json!({ "type": "integer" })) }));
    let found = only_break(check_next(&v1, &v2, Mode::Backward));
    assert_eq!(found.path(), "Card.last4");
    assert_eq!(found.kind(), &changed_type("string", "integer"));
}

#[test]
fn internally_tagged_variant_path() {
    let shipped = |carrier: Value| {
        json!({
            "oneOf": [
                {
                    "type": "object",
                    "properties": { "type": { "type": "string", "const": "Placed" } },
                    "required": ["type"]
                },
                {
                    "type": "object",
                    "properties": {
                        "type": { "type": "string", "const": "Shipped" },
                        "carrier": carrier
                    },
                    "required": ["type", "carrier"]
                }
            ]
        })
    };
    let v1 = shipped(json!({ "type": "string" }));
    let v2 = shipped(json!({ "type": "array", "items": { "type": "string" } }));
    let found = only_break(check_next(&v1, &v2, Mode::Backward));
    assert_eq!(found.path(), "[type=Shipped].carrier");
    assert_eq!(found.kind(), &changed_type("string", "array"));
}

#[test]
fn string_becoming_enum_is_a_type_change() {
    let v1 = json!({ "type": "string" });
    let v2 = json!({ "type": "string", "enum": ["EUR", "USD"] });
    let found = only_break(check_next(&v1, &v2, Mode::Backward));
    assert_eq!(
        found.kind(),
        &changed_type("string", "one of \"EUR\", \"USD\"")
    );
    assert_eq!(check_next(&v1, &v2, Mode::Forward), Ok(()));
}

// Integer ranges.

#[test]
fn integer_range_narrowing() {
    let v1 = json!({ "type": "integer", "format": "int64" });
    let v2 = json!({ "type": "integer", "format": "uint64", "minimum": 0 });
    let error = check_next(&v1, &v2, Mode::Full).unwrap_err();
    assert_eq!(error.breaks().len(), 2, "{error}");

    let small = json!({ "type": "integer", "format": "uint8", "minimum": 0, "maximum": 255 });
    let wide = json!({ "type": "integer", "format": "int32" });
    assert_eq!(check_next(&small, &wide, Mode::Backward), Ok(()));
    assert!(check_next(&small, &wide, Mode::Forward).is_err());
}

// Open and closed objects.

/// `order_v1` with `#[serde(deny_unknown_fields)]`.
fn closed(mut schema: Value) -> Value {
    schema["additionalProperties"] = json!(false);
    schema
}

#[test]
fn open_object_accepts_optional_field_both_ways() {
    let v2 = order_with(
        json!({ "coupon": { "type": ["string", "null"] } }),
        &["order_id", "currency"],
    );
    assert_eq!(check_next(&order_v1(), &v2, Mode::FullTransitive), Ok(()));
}

#[test]
fn open_object_accepts_removed_optional_field_both_ways() {
    let v1 = order_with(
        json!({ "coupon": { "type": ["string", "null"] } }),
        &["order_id", "currency"],
    );
    assert_eq!(check_next(&v1, &order_v1(), Mode::Full), Ok(()));
}

#[test]
fn closed_object_rejects_added_field_forward() {
    let v1 = closed(order_v1());
    let v2 = closed(order_with(
        json!({ "coupon": { "type": ["string", "null"] } }),
        &["order_id", "currency"],
    ));
    assert_eq!(check_next(&v1, &v2, Mode::Backward), Ok(()));

    let found = only_break(check_next(&v1, &v2, Mode::Forward));
    assert_eq!(found.path(), "coupon");
    assert_eq!(found.kind(), &BreakKind::AddedField);
    assert_eq!(found.direction(), Some(Direction::Forward));
}

#[test]
fn closed_object_rejects_removed_field_backward() {
    let v1 = closed(order_with(
        json!({ "coupon": { "type": ["string", "null"] } }),
        &["order_id", "currency"],
    ));
    let v2 = closed(order_v1());
    assert_eq!(check_next(&v1, &v2, Mode::Forward), Ok(()));

    let found = only_break(check_next(&v1, &v2, Mode::Backward));
    assert_eq!(found.path(), "coupon");
    assert_eq!(found.kind(), &BreakKind::RemovedField);
}

#[test]
fn closing_an_object_keeps_declared_fields_readable() {
    // Rust producers of the open v1 write only the declared fields, so the
    // closed v2 still reads them.
    let v2 = closed(order_v1());
    assert_eq!(check_next(&order_v1(), &v2, Mode::Full), Ok(()));
}

#[test]
fn flattened_map_against_closed_object() {
    let open = order_with(json!({}), &["order_id", "currency"]);
    let mut with_extras = open.clone();
    with_extras["additionalProperties"] = json!({ "type": "string" });
    let found = only_break(check_next(
        &with_extras,
        &closed(open.clone()),
        Mode::Backward,
    ));
    assert_eq!(found.path(), "");
    assert_eq!(found.kind(), &BreakKind::OpenToClosed);

    let found = only_break(check_next(&closed(open), &with_extras, Mode::Forward));
    assert_eq!(found.kind(), &BreakKind::ClosedToOpen);
}

// The lock file.

#[test]
fn lock_round_trips_through_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.lock.json");
    let lock = Lock::from_events([
        (
            EVENT,
            10,
            LockedVersion::new(order_v1()).with_kind("integration"),
        ),
        (EVENT, 2, LockedVersion::new(order_without("currency"))),
        (
            "InvoiceIssued",
            1,
            LockedVersion::new(json!({ "type": "object" })),
        ),
    ]);

    lock.write(&path).unwrap();
    let read = Lock::read(&path).unwrap();
    assert_eq!(read, lock);
    assert_eq!(read.get(EVENT, 10).unwrap().kind(), Some("integration"));
    assert_eq!(read.get(EVENT, 2).unwrap().kind(), None);

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.ends_with("}\n"));
    let invoice = text.find("\"InvoiceIssued\"").unwrap();
    let order = text.find("\"OrderPlaced\"").unwrap();
    let v2 = text.find("\"2\":").unwrap();
    let v10 = text.find("\"10\":").unwrap();
    assert!(invoice < order, "event names are sorted");
    assert!(v2 < v10, "versions are sorted as numbers");

    // Writing the same catalog again gives the same bytes.
    read.write(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn lock_text_format() {
    let lock = Lock::from_events([(
        EVENT,
        1,
        LockedVersion::new(json!({ "type": "object" })).with_kind("domain"),
    )]);
    assert_eq!(
        lock.to_string(),
        r#"{
  "events": {
    "OrderPlaced": {
      "1": {
        "kind": "domain",
        "schema": {
          "type": "object"
        }
      }
    }
  }
}"#
    );
    assert_eq!(lock.to_string().parse::<Lock>().unwrap(), lock);
}

#[test]
fn lock_rejects_invalid_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.lock.json");
    std::fs::write(
        &path,
        r#"{ "events": { "OrderPlaced": { "one": { "schema": true } } } }"#,
    )
    .unwrap();
    let error = Lock::read(&path).unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("invalid event catalog lock "),
        "{message}"
    );
    assert!(message.contains("events.lock.json"), "{message}");
}

// Messages.

#[test]
fn break_display_text() {
    let v2 = json!({
        "type": "object",
        "properties": {
            "lines": { "type": "array", "items": { "$ref": "#/$defs/Line" } },
            "currency": { "type": "string" }
        },
        "required": ["lines", "currency"],
        "$defs": { "Line": line(json!({ "type": "string" })) }
    });
    let v1 = order_with_lines(line(uint64()));
    let error = check_next(&v1, &v2, Mode::Backward).unwrap_err();
    assert_eq!(
        error.to_string(),
        "`OrderPlaced` v1 -> v2 at `currency`: added required field, so v2 consumers cannot read \
         v1 events. Fix: make the field optional with a default (an `Option` or \
         `#[serde(default)]`), or bump the version and add an upcaster.\n\
         `OrderPlaced` v1 -> v2 at `lines[].sku`: changed type from integer (uint64) to string, \
         so v2 consumers cannot read v1 events. Fix: keep the old type and add a field with a \
         new name for the new one, or bump the version and add an upcaster."
    );
}

#[test]
fn break_display_of_forward_and_removed_version() {
    let lock = lock_of(&[(1, &order_v1()), (2, &order_v1())]);
    let current = lock_of(&[(1, &order_v1()), (3, &order_without("currency"))]);
    let error = check(&lock, &current, Mode::Forward).unwrap_err();
    let lines: Vec<String> = error.breaks().iter().map(Break::to_string).collect();
    assert_eq!(
        lines,
        [
            "`OrderPlaced` v2: version removed from the catalog. Fix: restore the type of this \
             version, or register a JSON upcaster from it (`#[upcaster(name = ..., from = ...)]`) \
             so that stored events still decode, or delete the version from the lock file once \
             no stored or in-flight event uses it.",
            "`OrderPlaced` v2 -> v3 at `currency`: removed required field, so v2 consumers \
             cannot read v3 events. Fix: keep the field, or bump the version and add an upcaster.",
        ]
    );
}

#[test]
fn mode_parses_registry_names() {
    for (text, mode) in [
        ("BACKWARD", Mode::Backward),
        ("forward", Mode::Forward),
        ("Full", Mode::Full),
        ("BACKWARD_TRANSITIVE", Mode::BackwardTransitive),
        ("forward_transitive", Mode::ForwardTransitive),
        ("FULL_TRANSITIVE", Mode::FullTransitive),
    ] {
        assert_eq!(text.parse::<Mode>(), Ok(mode));
        assert_eq!(mode.to_string().parse::<Mode>(), Ok(mode));
    }
    assert!("none".parse::<Mode>().is_err());
}

//! CloudEvents 1.0 conformance: produced events against the official JSON
//! Schema, the JSON-format fixtures of the Java SDK, the examples of the
//! specification, and byte-exact timestamps.
//!
//! Tests that read files take the data directory from `EVENTS_TEST_DATA`, which
//! must contain `cloudevents/cloudevents.schema.json`,
//! `cloudevents/sdk-fixtures-v1/` and `cloudevents/spec-examples.jsonl`. When
//! the variable is unset, those tests are reported as ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use events::{decode, DecodeErrorKind, DynEnvelope, Envelope, Event, ExtensionValue, Metadata};
use libtest_mimic::{Arguments, Failed, Trial};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

const DATA_VARIABLE: &str = "EVENTS_TEST_DATA";

/// The attributes of the CloudEvents core specification and the `events`
/// mapping. Every other attribute of a fixture is an extension.
const NON_EXTENSION_ATTRIBUTES: &[&str] = &[
    "specversion",
    "id",
    "source",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "dataschema",
    "data",
    "data_base64",
    "dataversion",
    "correlationid",
    "causationid",
];

// Events produced by this test.

/// A customer placed an order.
#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "shop.order.placed", version = 2, kind = "integration")]
struct OrderPlaced {
    order_id: u64,
    total_cents: u64,
}

/// A vehicle reported its latitude and longitude.
#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "fleet.vehicle.moved")]
struct VehicleMoved(f64, f64);

/// A customer emptied the cart.
#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "shop.cart.cleared")]
struct CartCleared;

// Events of the Java SDK fixtures.

/// The event type of every fixture in `sdk-fixtures-v1`.
#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "mock.test")]
struct MockTest(Value);

// Events of the specification's order workflow, with the payloads it shows.

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "com.example.order.placed")]
#[serde(rename_all = "camelCase")]
struct ExampleOrderPlaced {
    order_id: String,
    customer_id: String,
}

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "com.example.payment.processed")]
struct ExamplePaymentProcessed {
    amount: f64,
    currency: String,
}

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "com.example.inventory.checked")]
struct ExampleInventoryChecked {
    items: Vec<String>,
    available: bool,
}

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "com.example.shipping.scheduled")]
#[serde(rename_all = "camelCase")]
struct ExampleShippingScheduled {
    carrier: String,
    estimated_delivery: String,
}

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "com.example.payment.failed")]
struct ExamplePaymentFailed {
    error: String,
    retryable: bool,
}

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "com.example.order.fulfilled")]
#[serde(rename_all = "camelCase")]
struct ExampleOrderFulfilled {
    completed_at: String,
}

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "com.example.notification.email")]
struct ExampleEmailSent {
    recipient: String,
    template: String,
}

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "com.example.notification.sms")]
struct ExampleSmsSent {
    recipient: String,
    message: String,
}

// Events of the other specification examples, whose payloads vary from line
// to line (XML text, JSON objects, numbers).

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "com.github.pull_request.opened")]
struct ExamplePullRequestOpened(Value);

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "example.type")]
struct ExampleType(Value);

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "com.example.someevent")]
struct ExampleSomeEvent(Value);

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "com.example.someotherevent")]
struct ExampleSomeOtherEvent(Value);

/// An opaque binary payload, carried in `data_base64` with a non-JSON content type.
#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "example.type.binary")]
struct ExampleBinary(Vec<u8>);

/// A test that reads files from the data directory.
type DataTest = fn(&Path);

fn main() {
    let args = Arguments::from_args();
    let data_dir = std::env::var_os(DATA_VARIABLE).map(PathBuf::from);
    if data_dir.is_none() {
        eprintln!("{DATA_VARIABLE} is not set: tests that read CloudEvents data files are ignored");
    }

    let mut trials = vec![
        Trial::test("time_round_trips_for_each_precision", || {
            time_round_trips_for_each_precision();
            Ok(())
        }),
        Trial::test("time_round_trips_through_typed_envelope", || {
            time_round_trips_through_typed_envelope();
            Ok(())
        }),
        Trial::test("time_reformats_after_replacement", || {
            time_reformats_after_replacement();
            Ok(())
        }),
        Trial::test("nanosecond_envelope_reencodes_identically", || {
            nanosecond_envelope_reencodes_identically();
            Ok(())
        }),
        Trial::test("extension_name_invalid_rejected", || {
            extension_name_invalid_rejected();
            Ok(())
        }),
        Trial::test("extension_name_reserved_rejected", || {
            extension_name_reserved_rejected();
            Ok(())
        }),
        Trial::test("extension_name_valid_accepted", || {
            extension_name_valid_accepted();
            Ok(())
        }),
    ];

    let data_tests: &[(&str, DataTest)] = &[
        ("schema_is_valid_draft7", schema_is_valid_draft7),
        ("schema_rejects_broken_event", schema_rejects_broken_event),
        (
            "schema_accepts_envelope_without_subject",
            schema_accepts_envelope_without_subject,
        ),
        (
            "schema_accepts_envelope_with_every_attribute",
            schema_accepts_envelope_with_every_attribute,
        ),
        (
            "schema_accepts_nanosecond_time",
            schema_accepts_nanosecond_time,
        ),
        ("schema_accepts_unit_payload", schema_accepts_unit_payload),
        ("schema_accepts_tuple_payload", schema_accepts_tuple_payload),
        ("schema_accepts_named_payload", schema_accepts_named_payload),
        (
            "schema_accepts_batch_elements",
            schema_accepts_batch_elements,
        ),
        ("fixtures_decode_as_mock_test", fixtures_decode_as_mock_test),
        (
            "fixture_extensions_keep_types",
            fixture_extensions_keep_types,
        ),
        ("fixture_data_base64_decodes", fixture_data_base64_decodes),
        ("fixture_text_data_decodes", fixture_text_data_decodes),
        (
            "fixture_numeric_decimal_rejected",
            fixture_numeric_decimal_rejected,
        ),
        (
            "fixtures_reencode_to_schema_valid_events",
            fixtures_reencode_to_schema_valid_events,
        ),
        ("spec_examples_decode", spec_examples_decode),
        (
            "spec_example_binary_data_decodes",
            spec_example_binary_data_decodes,
        ),
        (
            "spec_examples_order_workflow_links",
            spec_examples_order_workflow_links,
        ),
        (
            "spec_examples_order_workflow_payloads",
            spec_examples_order_workflow_payloads,
        ),
        (
            "spec_examples_reencode_to_schema_valid_events",
            spec_examples_reencode_to_schema_valid_events,
        ),
    ];
    for &(name, test) in data_tests {
        let dir_for_trial = data_dir.clone();
        let trial = Trial::test(name, move || {
            let Some(dir) = dir_for_trial else {
                return Err(Failed::from(format!(
                    "{DATA_VARIABLE} is not set; set it to the directory that contains cloudevents/"
                )));
            };
            test(&dir);
            Ok(())
        });
        trials.push(trial.with_ignored_flag(data_dir.is_none()));
    }

    libtest_mimic::run(&args, trials).exit();
}

// Helpers.

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

fn schema_validator(dir: &Path) -> jsonschema::Validator {
    let path = dir.join("cloudevents/cloudevents.schema.json");
    let schema: Value = serde_json::from_slice(&read(&path)).unwrap();
    jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|error| panic!("cannot build a validator from {}: {error}", path.display()))
}

/// Panics with every schema violation of `instance`, each with its JSON pointer.
fn assert_schema_valid(validator: &jsonschema::Validator, instance: &Value) {
    let violations: Vec<String> = validator
        .iter_errors(instance)
        .map(|error| format!("{} at `{}`", error, error.instance_path))
        .collect();
    assert!(
        violations.is_empty(),
        "event violates the CloudEvents schema: {violations:?}\nevent: {instance}"
    );
}

const NANOSECOND_TIME: &str = "2026-02-03T04:05:06.123456789Z";

/// Seconds since the Unix epoch and nanoseconds of `NANOSECOND_TIME`.
const NANOSECOND_TIMESTAMP: (i64, u32) = (1_770_091_506, 123_456_789);

// `chrono` is not a dependency of this package, so times are built by parsing
// into the type `with_time` expects and compared as (seconds, nanoseconds).
fn with_nanosecond_time<E>(envelope: Envelope<E>) -> Envelope<E> {
    envelope.with_time(NANOSECOND_TIME.parse().unwrap())
}

fn timestamp(metadata: &Metadata) -> (i64, u32) {
    let time = metadata.time();
    (time.timestamp(), time.timestamp_subsec_nanos())
}

fn order_envelope(order_id: u64) -> Envelope<OrderPlaced> {
    Envelope::new(OrderPlaced {
        order_id,
        total_cents: 1_250,
    })
    .with_source("https://shop.example/orders")
}

fn minimal_event(name: &str, time: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "specversion": "1.0",
        "id": "time-1",
        "source": "https://clock.example",
        "type": name,
        "time": time,
        "data": null,
    }))
    .unwrap()
}

/// Returns the fixture files that contain valid events, sorted by name.
fn valid_fixture_paths(dir: &Path) -> Vec<PathBuf> {
    let fixtures = dir.join("cloudevents/sdk-fixtures-v1");
    let mut paths: Vec<PathBuf> = fs::read_dir(&fixtures)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", fixtures.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            !name.starts_with("fail_")
        })
        .collect();
    paths.sort();
    assert!(
        !paths.is_empty(),
        "no valid fixtures in {}",
        fixtures.display()
    );
    paths
}

fn decode_fixture(dir: &Path, file: &str) -> DynEnvelope {
    let path = dir.join("cloudevents/sdk-fixtures-v1").join(file);
    decode(&read(&path)).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn expected_extension(value: &Value) -> ExtensionValue {
    match value {
        Value::Bool(value) => ExtensionValue::Boolean(*value),
        Value::String(value) => ExtensionValue::String(value.clone()),
        Value::Number(number) => {
            let integer = number.as_i64().expect("fixture extension is an integer");
            ExtensionValue::Integer(i32::try_from(integer).unwrap())
        }
        other => panic!("fixture extension {other} is not a CloudEvents type"),
    }
}

/// One line of `spec-examples.jsonl` with its 1-based line number.
struct SpecExample {
    line: usize,
    bytes: Vec<u8>,
    json: Value,
}

fn spec_examples(dir: &Path) -> Vec<SpecExample> {
    let path = dir.join("cloudevents/spec-examples.jsonl");
    let text = String::from_utf8(read(&path)).unwrap();
    let examples: Vec<SpecExample> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| SpecExample {
            line: index + 1,
            bytes: line.as_bytes().to_vec(),
            json: serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("line {}: not JSON: {error}", index + 1)),
        })
        .collect();
    assert!(!examples.is_empty(), "{} has no events", path.display());
    examples
}

/// Returns whether `text` uses only the standard base64 alphabet and padding.
/// Some specification examples carry placeholder text such as "... base64 encoded string ...".
fn is_base64_text(text: &str) -> bool {
    text.bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || byte == b'+' || byte == b'/' || byte == b'=')
}

fn has_placeholder_base64(example: &SpecExample) -> bool {
    example.json["data_base64"]
        .as_str()
        .is_some_and(|text| !is_base64_text(text))
}

fn workflow_examples(dir: &Path) -> Vec<(SpecExample, DynEnvelope)> {
    let workflow: Vec<(SpecExample, DynEnvelope)> = spec_examples(dir)
        .into_iter()
        .filter(|example| example.json.get("correlationid").is_some())
        .map(|example| {
            let envelope = decode(&example.bytes)
                .unwrap_or_else(|error| panic!("line {}: {error}", example.line));
            (example, envelope)
        })
        .collect();
    assert!(!workflow.is_empty(), "no example carries `correlationid`");
    workflow
}

// Schema conformance of produced events.

fn schema_is_valid_draft7(dir: &Path) {
    let path = dir.join("cloudevents/cloudevents.schema.json");
    let schema: Value = serde_json::from_slice(&read(&path)).unwrap();

    assert_eq!(
        schema["$schema"],
        json!("http://json-schema.org/draft-07/schema#")
    );
    assert!(jsonschema::draft7::meta::is_valid(&schema));
}

fn schema_rejects_broken_event(dir: &Path) {
    let validator = schema_validator(dir);
    let mut event = serde_json::to_value(order_envelope(1)).unwrap();
    event["id"] = json!("");

    assert!(!validator.is_valid(&event));

    let mut event = serde_json::to_value(order_envelope(1)).unwrap();
    event["time"] = json!("yesterday");

    assert!(!validator.is_valid(&event));
}

fn schema_accepts_envelope_without_subject(dir: &Path) {
    let validator = schema_validator(dir);
    let event = serde_json::to_value(order_envelope(7)).unwrap();

    assert!(event.get("subject").is_none());
    assert_schema_valid(&validator, &event);
}

fn schema_accepts_envelope_with_every_attribute(dir: &Path) {
    let validator = schema_validator(dir);
    let cause = order_envelope(7);
    let envelope = order_envelope(8)
        .with_subject("order-8")
        .with_dataschema("https://shop.example/schemas/order-placed-v2.json")
        .with_correlation_id(cause.id().clone())
        .with_causation_id(cause.id().clone())
        .with_extension("tenant", "acme")
        .with_extension("priority", 3)
        .with_extension("sampled", true);
    let event = serde_json::to_value(with_nanosecond_time(envelope)).unwrap();

    assert_eq!(event["subject"], json!("order-8"));
    assert_eq!(event["correlationid"], json!(cause.id().to_string()));
    assert_eq!(event["causationid"], json!(cause.id().to_string()));
    assert_eq!(event["tenant"], json!("acme"));
    assert_eq!(event["priority"], json!(3));
    assert_eq!(event["sampled"], json!(true));
    assert_eq!(event["dataversion"], json!(2));
    assert_schema_valid(&validator, &event);
}

fn schema_accepts_nanosecond_time(dir: &Path) {
    let validator = schema_validator(dir);
    let event = serde_json::to_value(with_nanosecond_time(order_envelope(9))).unwrap();

    assert_eq!(event["time"], json!(NANOSECOND_TIME));
    assert_schema_valid(&validator, &event);
}

fn schema_accepts_unit_payload(dir: &Path) {
    let validator = schema_validator(dir);
    let event = serde_json::to_value(Envelope::new(CartCleared)).unwrap();

    assert_eq!(event["data"], Value::Null);
    assert_eq!(event["type"], json!("shop.cart.cleared"));
    assert_schema_valid(&validator, &event);
}

fn schema_accepts_tuple_payload(dir: &Path) {
    let validator = schema_validator(dir);
    let event = serde_json::to_value(Envelope::new(VehicleMoved(52.52, 13.405))).unwrap();

    assert_eq!(event["data"], json!([52.52, 13.405]));
    assert_schema_valid(&validator, &event);
}

fn schema_accepts_named_payload(dir: &Path) {
    let validator = schema_validator(dir);
    let event = serde_json::to_value(order_envelope(10)).unwrap();

    assert_eq!(event["data"], json!({"order_id": 10, "total_cents": 1_250}));
    assert_schema_valid(&validator, &event);
}

fn schema_accepts_batch_elements(dir: &Path) {
    let validator = schema_validator(dir);
    let batch = vec![
        order_envelope(11),
        order_envelope(12).with_subject("order-12"),
        with_nanosecond_time(order_envelope(13)),
    ];
    let json = serde_json::to_value(&batch).unwrap();
    let elements = json.as_array().expect("a batch serialises as a JSON array");

    assert_eq!(elements.len(), 3);
    for element in elements {
        assert_schema_valid(&validator, element);
    }
}

// The Java SDK fixtures.

fn fixtures_decode_as_mock_test(dir: &Path) {
    for path in valid_fixture_paths(dir) {
        let file = path.display();
        let json: Value = serde_json::from_slice(&read(&path)).unwrap();
        let envelope = decode(&read(&path)).unwrap_or_else(|error| panic!("{file}: {error}"));
        let metadata = envelope.metadata();

        assert_eq!(envelope.name(), "mock.test", "{file}");
        assert_eq!(envelope.version(), 1, "{file}");
        assert_eq!(envelope.id().to_string(), json["id"], "{file}");
        assert_eq!(metadata.source(), json["source"], "{file}");
        assert_eq!(metadata.subject(), json["subject"].as_str(), "{file}");
        assert_eq!(metadata.dataschema(), json["dataschema"].as_str(), "{file}");
        if json["time"] == json!("2018-04-26T14:48:09+02:00") {
            assert_eq!(timestamp(metadata), (1_524_746_889, 0), "{file}");
        }

        let expected_extensions: BTreeMap<String, ExtensionValue> = json
            .as_object()
            .unwrap()
            .iter()
            .filter(|(name, _)| !NON_EXTENSION_ATTRIBUTES.contains(&name.as_str()))
            .map(|(name, value)| (name.clone(), expected_extension(value)))
            .collect();
        assert_eq!(metadata.extensions(), &expected_extensions, "{file}");

        assert!(envelope.is::<MockTest>(), "{file}");
        let payload = envelope.payload::<MockTest>().unwrap();
        if let Some(data) = json.get("data") {
            assert_eq!(&payload.0, data, "{file}");
            assert_eq!(
                envelope.data_json(),
                Some(data.to_string().as_str()),
                "{file}"
            );
        }
        if json.get("data").is_none() && json.get("data_base64").is_none() {
            assert_eq!(payload.0, Value::Null, "{file}");
        }
    }
}

fn fixture_extensions_keep_types(dir: &Path) {
    let envelope = decode_fixture(dir, "json_data_with_ext.json");
    let extensions = envelope.metadata().extensions();

    assert_eq!(
        extensions.get("astring"),
        Some(&ExtensionValue::String("aaa".to_owned()))
    );
    assert_eq!(
        extensions.get("aboolean"),
        Some(&ExtensionValue::Boolean(true))
    );
    assert_eq!(
        extensions.get("anumber"),
        Some(&ExtensionValue::Integer(10))
    );
    assert_eq!(extensions.len(), 3);
}

fn fixture_data_base64_decodes(dir: &Path) {
    let envelope = decode_fixture(dir, "base64_json_data.json");

    assert_eq!(envelope.payload::<MockTest>(), Some(&MockTest(json!({}))));
    assert_eq!(envelope.data_json(), None);

    let reencoded = serde_json::to_value(&envelope).unwrap();
    assert_eq!(reencoded["data_base64"], json!("e30="));
    assert!(reencoded.get("data").is_none());
}

fn fixture_text_data_decodes(dir: &Path) {
    let envelope = decode_fixture(dir, "text_data.json");

    assert_eq!(
        envelope.payload::<MockTest>(),
        Some(&MockTest(json!("Hello World Lorena!")))
    );

    let reencoded = serde_json::to_value(&envelope).unwrap();
    assert_eq!(reencoded["datacontenttype"], json!("text/plain"));
}

fn fixture_numeric_decimal_rejected(dir: &Path) {
    let path = dir.join("cloudevents/sdk-fixtures-v1/fail_numeric_decimal.json");
    let bytes = read(&path);
    let error = decode(&bytes).unwrap_err();
    let message = error.to_string();

    let DecodeErrorKind::Attribute(attribute) = error.kind() else {
        panic!("expected an attribute error, got {:?}", error.kind());
    };
    assert_eq!(attribute.attribute, "decimal");
    assert_eq!(attribute.value.as_deref(), Some("42.42"));
    assert!(message.contains("`decimal`"), "{message}");
    assert!(message.contains("42.42"), "{message}");
    assert!(
        message.contains("send a whole number or a string"),
        "{message}"
    );
    assert_eq!(error.reason(), "invalid attribute");
    assert_eq!(error.raw(), bytes.as_slice());
}

fn fixtures_reencode_to_schema_valid_events(dir: &Path) {
    let validator = schema_validator(dir);
    for path in valid_fixture_paths(dir) {
        let file = path.display();
        let input: Value = serde_json::from_slice(&read(&path)).unwrap();
        let envelope = decode(&read(&path)).unwrap_or_else(|error| panic!("{file}: {error}"));
        let reencoded = serde_json::to_value(&envelope).unwrap();

        assert_schema_valid(&validator, &reencoded);
        for (name, value) in input.as_object().unwrap() {
            assert_eq!(
                reencoded.get(name),
                Some(value),
                "{file}: attribute `{name}`"
            );
        }
    }
}

// The examples of the CloudEvents specification.

fn spec_examples_decode(dir: &Path) {
    let mut failures = Vec::new();
    let mut rejected_placeholders = 0;
    for example in spec_examples(dir) {
        let result = decode(&example.bytes);
        if has_placeholder_base64(&example) {
            let error = result.expect_err("placeholder base64 text must be rejected");
            let DecodeErrorKind::Attribute(attribute) = error.kind() else {
                panic!(
                    "line {}: expected an attribute error, got {error}",
                    example.line
                );
            };
            assert_eq!(attribute.attribute, "data_base64", "line {}", example.line);
            rejected_placeholders += 1;
            continue;
        }
        match result {
            Ok(envelope) => {
                assert_eq!(
                    envelope.name(),
                    example.json["type"],
                    "line {}",
                    example.line
                );
                assert_eq!(
                    envelope.id().to_string(),
                    example.json["id"],
                    "line {}",
                    example.line
                );
            }
            Err(error) => failures.push(format!("line {}: {error}", example.line)),
        }
    }

    assert!(
        failures.is_empty(),
        "spec examples failed to decode: {failures:#?}"
    );
    assert!(rejected_placeholders > 0);
}

fn spec_example_binary_data_decodes(dir: &Path) {
    let example = spec_examples(dir)
        .into_iter()
        .find(|example| example.json["type"] == json!("example.type.binary"))
        .expect("an example of type `example.type.binary`");
    let envelope = decode(&example.bytes).unwrap();

    // "8J+koQ==" is the UTF-8 encoding of U+1F921.
    assert_eq!(
        envelope.payload::<ExampleBinary>(),
        Some(&ExampleBinary(vec![0xF0, 0x9F, 0xA4, 0xA1]))
    );
    assert_eq!(envelope.data_json(), None);

    let reencoded = serde_json::to_value(&envelope).unwrap();
    assert_eq!(reencoded["data_base64"], json!("8J+koQ=="));
    assert_eq!(
        reencoded["datacontenttype"],
        json!("application/octet-stream")
    );
}

fn spec_examples_order_workflow_links(dir: &Path) {
    let workflow = workflow_examples(dir);
    let ids: BTreeSet<String> = workflow
        .iter()
        .map(|(_, envelope)| envelope.id().to_string())
        .collect();

    for (example, envelope) in &workflow {
        let line = example.line;
        let metadata = envelope.metadata();

        assert_eq!(
            metadata.correlation_id().map(ToString::to_string),
            example.json["correlationid"].as_str().map(str::to_owned),
            "line {line}"
        );
        assert_eq!(
            metadata.causation_id().map(ToString::to_string),
            example.json["causationid"].as_str().map(str::to_owned),
            "line {line}"
        );
        assert!(
            !metadata.extensions().contains_key("correlationid"),
            "line {line}"
        );
        assert!(
            !metadata.extensions().contains_key("causationid"),
            "line {line}"
        );
        if let Some(cause) = metadata.causation_id() {
            assert!(
                ids.contains(&cause.to_string()),
                "line {line}: cause {cause} is not in the workflow"
            );
        }

        let reencoded = serde_json::to_value(envelope).unwrap();
        assert_eq!(
            reencoded["correlationid"], example.json["correlationid"],
            "line {line}"
        );
        assert_eq!(
            reencoded.get("causationid"),
            example.json.get("causationid"),
            "line {line}"
        );
    }

    let (_, first) = &workflow[0];
    assert_eq!(first.id().to_string(), "order-123");
    assert_eq!(
        first.metadata().correlation_or_id().to_string(),
        "txn-abc-123"
    );
    assert_eq!(first.metadata().causation_id(), None);
}

fn spec_examples_order_workflow_payloads(dir: &Path) {
    let workflow = workflow_examples(dir);
    let by_id: BTreeMap<String, &DynEnvelope> = workflow
        .iter()
        .map(|(_, envelope)| (envelope.id().to_string(), envelope))
        .collect();

    assert_eq!(
        by_id["order-123"].payload::<ExampleOrderPlaced>(),
        Some(&ExampleOrderPlaced {
            order_id: "123".to_owned(),
            customer_id: "456".to_owned(),
        })
    );
    assert_eq!(
        by_id["payment-789"].payload::<ExamplePaymentProcessed>(),
        Some(&ExamplePaymentProcessed {
            amount: 150.0,
            currency: "USD".to_owned(),
        })
    );
    assert_eq!(
        by_id["inventory-456"].payload::<ExampleInventoryChecked>(),
        Some(&ExampleInventoryChecked {
            items: vec!["sku-001".to_owned(), "sku-002".to_owned()],
            available: true,
        })
    );
    assert_eq!(
        by_id["shipping-012"].payload::<ExampleShippingScheduled>(),
        Some(&ExampleShippingScheduled {
            carrier: "FastShip".to_owned(),
            estimated_delivery: "2024-01-15".to_owned(),
        })
    );
    assert_eq!(
        by_id["error-345"].payload::<ExamplePaymentFailed>(),
        Some(&ExamplePaymentFailed {
            error: "Insufficient funds".to_owned(),
            retryable: true,
        })
    );
    assert_eq!(
        by_id["fulfillment-567"].payload::<ExampleOrderFulfilled>(),
        Some(&ExampleOrderFulfilled {
            completed_at: "2024-01-14T10:30:00Z".to_owned(),
        })
    );
    assert_eq!(
        by_id["notify-email-890"].payload::<ExampleEmailSent>(),
        Some(&ExampleEmailSent {
            recipient: "customer@example.com".to_owned(),
            template: "order-fulfilled".to_owned(),
        })
    );
    assert_eq!(
        by_id["notify-sms-891"].payload::<ExampleSmsSent>(),
        Some(&ExampleSmsSent {
            recipient: "+1234567890".to_owned(),
            message: "Your order has been fulfilled!".to_owned(),
        })
    );
}

fn spec_examples_reencode_to_schema_valid_events(dir: &Path) {
    let validator = schema_validator(dir);
    let mut checked = 0;
    for example in spec_examples(dir) {
        if has_placeholder_base64(&example) {
            continue;
        }
        let envelope =
            decode(&example.bytes).unwrap_or_else(|error| panic!("line {}: {error}", example.line));
        let reencoded = serde_json::to_value(&envelope).unwrap();

        assert_schema_valid(&validator, &reencoded);
        assert_eq!(
            reencoded.get("data"),
            example.json.get("data"),
            "line {}",
            example.line
        );
        assert_eq!(
            reencoded.get("data_base64"),
            example.json.get("data_base64"),
            "line {}",
            example.line
        );
        checked += 1;
    }

    assert!(checked > 0);
}

// Timestamps.

fn time_round_trips_for_each_precision() {
    // Each input with its instant as seconds since the Unix epoch and nanoseconds.
    let cases = [
        ("2018-04-26T14:48:09+02:00", (1_524_746_889, 0)),
        ("2015-02-01T00:00:00Z", (1_422_748_800, 0)),
        ("2015-02-01T00:00:00.00001Z", (1_422_748_800, 10_000)),
        ("2015-02-01T00:00:00.001Z", (1_422_748_800, 1_000_000)),
        ("2015-02-01T00:00:00.100Z", (1_422_748_800, 100_000_000)),
        (
            "2015-02-01T00:00:00.123456789Z",
            (1_422_748_800, 123_456_789),
        ),
        ("2015-02-01T00:00:00.5-08:30", (1_422_779_400, 500_000_000)),
    ];
    for (input, expected) in cases {
        let envelope = decode(&minimal_event("shop.cart.cleared", input)).unwrap();
        let reencoded = serde_json::to_value(&envelope).unwrap();

        assert_eq!(reencoded["time"], json!(input));
        assert_eq!(timestamp(envelope.metadata()), expected, "{input}");
    }
}

fn time_round_trips_through_typed_envelope() {
    let inputs = [
        "2018-04-26T14:48:09+02:00",
        "2015-02-01T00:00:00.00001Z",
        "2015-02-01T00:00:00.001Z",
        "2015-02-01T00:00:00.123456789Z",
    ];
    for input in inputs {
        let bytes = minimal_event("shop.cart.cleared", input);
        let envelope: Envelope<CartCleared> = serde_json::from_slice(&bytes).unwrap();
        let reencoded = serde_json::to_value(&envelope).unwrap();

        assert_eq!(reencoded["time"], json!(input));
    }
}

fn time_reformats_after_replacement() {
    let bytes = minimal_event("shop.cart.cleared", "2018-04-26T14:48:09+02:00");
    let envelope: Envelope<CartCleared> = serde_json::from_slice(&bytes).unwrap();
    let replaced = with_nanosecond_time(envelope);
    let reencoded = serde_json::to_value(&replaced).unwrap();

    assert_eq!(reencoded["time"], json!(NANOSECOND_TIME));
}

fn nanosecond_envelope_reencodes_identically() {
    let envelope = with_nanosecond_time(
        order_envelope(14)
            .with_subject("order-14")
            .with_extension("tenant", "acme")
            .with_correlation_id("txn-14"),
    );
    let first = serde_json::to_vec(&envelope).unwrap();

    let typed: Envelope<OrderPlaced> = serde_json::from_slice(&first).unwrap();
    let through_typed = serde_json::to_vec(&typed).unwrap();
    assert_eq!(
        String::from_utf8(through_typed).unwrap(),
        String::from_utf8(first.clone()).unwrap()
    );

    let dynamic = decode(&first).unwrap();
    let through_dynamic = serde_json::to_vec(&dynamic).unwrap();
    assert_eq!(
        String::from_utf8(through_dynamic).unwrap(),
        String::from_utf8(first.clone()).unwrap()
    );
    assert_eq!(timestamp(dynamic.metadata()), NANOSECOND_TIMESTAMP);
}

// Extension names set in code.

fn extension_name_invalid_rejected() {
    let error = order_envelope(1)
        .try_with_extension("Tenant-ID", "acme")
        .unwrap_err();

    assert_eq!(error.attribute, "Tenant-ID");
    assert_eq!(error.value.as_deref(), Some("\"acme\""));
    assert!(
        error.reason.contains("lowercase ASCII letters and digits"),
        "{error}"
    );
    assert!(error.reason.contains("`tenantid`"), "{error}");

    let error = order_envelope(2).try_with_extension("", 3).unwrap_err();
    assert_eq!(error.value.as_deref(), Some("3"));
    assert!(error.reason.contains("must not be empty"), "{error}");
}

fn extension_name_reserved_rejected() {
    let error = order_envelope(1)
        .try_with_extension("subject", "order-1")
        .unwrap_err();

    assert_eq!(error.attribute, "subject");
    assert!(error.reason.contains("CloudEvents"), "{error}");
    assert!(!error.reason.contains("for example"), "{error}");

    let panic = std::panic::catch_unwind(|| order_envelope(2).with_extension("dataversion", true))
        .unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("`dataversion`"), "{message}");
}

fn extension_name_valid_accepted() {
    let envelope = order_envelope(1)
        .try_with_extension("tenant", "acme")
        .unwrap()
        .try_with_extension("retries2", 2)
        .unwrap();
    let event = serde_json::to_value(&envelope).unwrap();

    assert_eq!(event["tenant"], json!("acme"));
    assert_eq!(event["retries2"], json!(2));
}

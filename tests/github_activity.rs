//! Tests of the GitHub activity example (`examples/github_activity.rs`).
//!
//! The tests on inline records always run, and so do the event store tests,
//! on stores in temporary directories. The tests on the GH Archive sample
//! read `$EVENTS_TEST_DATA/gharchive/2015-02-01-00.first100.jsonl` and are
//! reported as ignored when `EVENTS_TEST_DATA` is unset.

// The example's `main` and command-line parsing are not used here.
#[allow(dead_code)]
#[path = "../examples/github_activity.rs"]
mod github_activity;

use std::collections::BTreeSet;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use events::Decoder;
use events_store::{ExpectedVersion, ReadFrom, SqliteCheckpoints, SqliteStore, Store, StoreError};
use indicatif::ProgressBar;
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use serde_json::{json, Value};

use github_activity::{
    build_report, build_report_from_store, build_report_to, build_report_with, check_store_report,
    map_record, open_store_to_replay, ActivityReport, Outputs, PipelineError, RepoActivity,
    StoreWriter, LISTED_RECORDS,
};

/// A test that reads the GH Archive sample at the given path.
type SampleTest = fn(&Path) -> Result<(), Failed>;

/// The GH Archive sample, relative to `EVENTS_TEST_DATA`.
const SAMPLE: &str = "gharchive/2015-02-01-00.first100.jsonl";

fn main() {
    let args = Arguments::from_args();
    // Runs of `build_report` are serialized inside the example, so the tests
    // may run on several threads.
    let sample = std::env::var_os("EVENTS_TEST_DATA").map(|dir| PathBuf::from(dir).join(SAMPLE));

    let mut trials = vec![
        Trial::test("report_lists_unknown_type", report_lists_unknown_type),
        Trial::test("report_lists_malformed_line", report_lists_malformed_line),
        Trial::test("report_lists_invalid_payload", report_lists_invalid_payload),
        Trial::test(
            "report_lists_missing_created_at",
            report_lists_missing_created_at,
        ),
        Trial::test("report_lists_invalid_time", report_lists_invalid_time),
        Trial::test("report_skips_blank_lines", report_skips_blank_lines),
        Trial::test("report_counts_inline_events", report_counts_inline_events),
        Trial::test("top_repos_break_ties_by_name", top_repos_break_ties_by_name),
        Trial::test(
            "report_counts_handler_failure",
            report_counts_handler_failure,
        ),
        Trial::test("json_report_has_eight_keys", json_report_has_eight_keys),
        Trial::test("json_report_lists_records", json_report_lists_records),
        Trial::test("text_report_lists_failures", text_report_lists_failures),
        Trial::test(
            "map_record_writes_numeric_id_as_string",
            map_record_writes_numeric_id_as_string,
        ),
        Trial::test("map_record_rejects_array", map_record_rejects_array),
        Trial::test(
            "cloudevents_output_has_decoded_events",
            cloudevents_output_has_decoded_events,
        ),
        Trial::test("oversized_record_is_listed", oversized_record_is_listed),
        Trial::test("store_keeps_decoded_events", store_keeps_decoded_events),
        Trial::test("store_skips_stored_ids", store_skips_stored_ids),
        Trial::test(
            "store_report_matches_file_report",
            store_report_matches_file_report,
        ),
        Trial::test(
            "store_report_lists_handler_failure",
            store_report_lists_handler_failure,
        ),
        Trial::test(
            "store_report_lists_undecodable_event",
            store_report_lists_undecodable_event,
        ),
        Trial::test("text_report_caps_records", text_report_caps_records),
        Trial::test(
            "store_text_report_labels_positions",
            store_text_report_labels_positions,
        ),
        Trial::test(
            "store_text_report_caps_records",
            store_text_report_caps_records,
        ),
        Trial::test(
            "store_of_other_events_fails_check",
            store_of_other_events_fails_check,
        ),
        Trial::test("empty_store_fails_check", empty_store_fails_check),
        Trial::test(
            "store_with_github_events_passes_check",
            store_with_github_events_passes_check,
        ),
        Trial::test(
            "replay_open_rejects_missing_file",
            replay_open_rejects_missing_file,
        ),
        Trial::test(
            "replay_open_rejects_directory",
            replay_open_rejects_directory,
        ),
        Trial::test(
            "replay_open_leaves_empty_file_unchanged",
            replay_open_leaves_empty_file_unchanged,
        ),
        Trial::test(
            "replay_open_rejects_foreign_database",
            replay_open_rejects_foreign_database,
        ),
        Trial::test(
            "pipeline_store_error_is_not_repeated",
            pipeline_store_error_is_not_repeated,
        ),
    ];

    let sample_tests: [(&str, SampleTest); 7] = [
        ("sample_counts_events_by_type", sample_counts_events_by_type),
        ("sample_counts_push_commits", sample_counts_push_commits),
        ("sample_counts_distinct_repos", sample_counts_distinct_repos),
        (
            "sample_counts_distinct_actors",
            sample_counts_distinct_actors,
        ),
        ("sample_has_no_failures", sample_has_no_failures),
        (
            "sample_keeps_fractional_times",
            sample_keeps_fractional_times,
        ),
        (
            "sample_report_from_store_matches_file",
            sample_report_from_store_matches_file,
        ),
    ];
    for (name, test) in sample_tests {
        let is_ignored = sample.is_none();
        let sample = sample.clone();
        let trial = Trial::ignorable_test(name, move || match &sample {
            Some(path) => test(path).map(|()| Completion::Completed),
            None => Ok(Completion::ignored_with("EVENTS_TEST_DATA is not set")),
        });
        trials.push(trial.with_ignored_flag(is_ignored));
    }

    libtest_mimic::run(&args, trials).exit();
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Builds a GH Archive record of the 2015 shape.
fn record(id: &str, event_type: &str, login: &str, repo: &str, payload: Value) -> String {
    json!({
        "id": id,
        "type": event_type,
        "actor": {"id": 1, "login": login, "gravatar_id": "", "url": "https://api.github.com/users/x"},
        "repo": {"id": 2, "name": repo, "url": "https://api.github.com/repos/x"},
        "payload": payload,
        "public": true,
        "created_at": "2015-02-01T00:00:00Z",
    })
    .to_string()
}

fn push_payload(commits: usize) -> Value {
    let commits: Vec<Value> = (0..commits)
        .map(|index| {
            json!({
                "sha": format!("{index:040x}"),
                "author": {"email": "dev@example.com", "name": "dev"},
                "message": "Fix the build",
                "distinct": true,
                "url": "https://api.github.com/repos/x/commits/0",
            })
        })
        .collect();
    json!({
        "push_id": 561750394,
        "size": commits.len(),
        "distinct_size": commits.len(),
        "ref": "refs/heads/master",
        "head": "ce8fe25b11864d92f5fa9759cb32eb7dd3074008",
        "before": "8ad81dd42fff2b9bef0981112fea2fbc79411e97",
        "commits": commits,
    })
}

fn push(id: &str, login: &str, repo: &str, commits: usize) -> String {
    record(id, "PushEvent", login, repo, push_payload(commits))
}

fn watch(id: &str, login: &str, repo: &str) -> String {
    record(id, "WatchEvent", login, repo, json!({"action": "started"}))
}

fn report_of(lines: &[String]) -> Result<ActivityReport, Failed> {
    let input = lines.join("\n");
    build_report(Cursor::new(input)).map_err(|error| format!("reading failed: {error}").into())
}

fn read_sample(path: &Path) -> Result<String, Failed> {
    std::fs::read_to_string(path)
        .map_err(|error| format!("failed to read {}: {error}", path.display()).into())
}

fn sample_records(text: &str) -> Result<Vec<Value>, Failed> {
    text.lines()
        .map(|line| serde_json::from_str(line).map_err(|error| format!("{error}").into()))
        .collect()
}

// ---------------------------------------------------------------------------
// Inline records
// ---------------------------------------------------------------------------

fn report_lists_unknown_type() -> Result<(), Failed> {
    let lines = [
        push("1", "alice", "alice/app", 1),
        record(
            "2",
            "GollumEvent",
            "bob",
            "bob/wiki",
            json!({"pages": [{"page_name": "Home", "action": "edited"}]}),
        ),
    ];
    let report = report_of(&lines)?;

    assert_eq!(report.unknown_types.total, 1);
    assert_eq!(report.unknown_types.by_type.get("GollumEvent"), Some(&1));
    assert_eq!(report.unknown_types.records.len(), 1);
    let listed = &report.unknown_types.records[0];
    assert_eq!(listed.line, 2);
    assert_eq!(listed.event_type.as_deref(), Some("GollumEvent"));
    assert_eq!(listed.reason, "unknown event");
    assert!(
        listed.message.contains("`GollumEvent`"),
        "message: {}",
        listed.message
    );
    assert_eq!(report.events_total, 1);
    assert_eq!(report.decode_failures.total, 0);
    Ok(())
}

fn report_lists_malformed_line() -> Result<(), Failed> {
    let lines = [
        watch("1", "alice", "alice/app"),
        "{\"id\": \"2\", \"type\": \"PushEvent\"".to_owned(),
    ];
    let report = report_of(&lines)?;

    assert_eq!(report.decode_failures.total, 1);
    assert_eq!(
        report.decode_failures.by_reason.get("malformed JSON"),
        Some(&1)
    );
    let listed = &report.decode_failures.records[0];
    assert_eq!(listed.line, 2);
    assert_eq!(listed.event_type, None);
    assert!(
        listed.message.contains("EOF while parsing"),
        "message: {}",
        listed.message
    );
    assert_eq!(report.events_total, 1);
    Ok(())
}

fn report_lists_invalid_payload() -> Result<(), Failed> {
    let mut payload = push_payload(1);
    payload["commits"] = json!("many");
    let lines = [record("7", "PushEvent", "alice", "alice/app", payload)];
    let report = report_of(&lines)?;

    assert_eq!(report.decode_failures.total, 1);
    assert_eq!(
        report.decode_failures.by_reason.get("invalid payload"),
        Some(&1)
    );
    let listed = &report.decode_failures.records[0];
    assert_eq!(listed.line, 1);
    assert_eq!(listed.event_type.as_deref(), Some("PushEvent"));
    assert!(
        listed.message.contains("expected a sequence"),
        "message: {}",
        listed.message
    );
    assert!(
        listed.message.contains("payload.commits"),
        "message: {}",
        listed.message
    );
    assert_eq!(report.events_total, 0);
    assert_eq!(report.unknown_types.total, 0);
    Ok(())
}

fn report_lists_missing_created_at() -> Result<(), Failed> {
    let mut watch: Value = serde_json::from_str(&watch("3", "alice", "alice/app"))?;
    watch
        .as_object_mut()
        .ok_or("record is not an object")?
        .remove("created_at");
    let report = report_of(&[watch.to_string()])?;

    assert_eq!(
        report.decode_failures.by_reason.get("invalid record"),
        Some(&1)
    );
    let listed = &report.decode_failures.records[0];
    assert_eq!(listed.event_type.as_deref(), Some("WatchEvent"));
    assert!(
        listed.message.contains("created_at"),
        "message: {}",
        listed.message
    );
    assert_eq!(report.events_total, 0);
    Ok(())
}

fn report_lists_invalid_time() -> Result<(), Failed> {
    let line = watch("3", "alice", "alice/app").replace("2015-02-01T00:00:00Z", "yesterday");
    let report = report_of(&[line])?;

    assert_eq!(
        report.decode_failures.by_reason.get("invalid attribute"),
        Some(&1)
    );
    let listed = &report.decode_failures.records[0];
    assert!(
        listed.message.contains("`time`"),
        "message: {}",
        listed.message
    );
    assert_eq!(report.events_total, 0);
    Ok(())
}

fn report_skips_blank_lines() -> Result<(), Failed> {
    let lines = [
        String::new(),
        watch("1", "alice", "alice/app"),
        "   \r".to_owned(),
        "not json".to_owned(),
    ];
    let report = report_of(&lines)?;

    assert_eq!(report.events_total, 1);
    assert_eq!(report.decode_failures.total, 1);
    assert_eq!(report.decode_failures.records[0].line, 4);
    Ok(())
}

fn report_counts_inline_events() -> Result<(), Failed> {
    let lines = [
        push("1", "alice", "alice/app", 3),
        push("2", "bob", "alice/app", 2),
        watch("3", "carol", "bob/lib"),
        watch("4", "alice", "bob/lib"),
        record("5", "PublicEvent", "bob", "bob/tools", json!({})),
    ];
    let report = report_of(&lines)?;

    assert_eq!(report.events_total, 5);
    assert_eq!(report.by_type.get("PushEvent"), Some(&2));
    assert_eq!(report.by_type.get("WatchEvent"), Some(&2));
    assert_eq!(report.by_type.get("PublicEvent"), Some(&1));
    assert_eq!(report.by_type.len(), 3);
    assert_eq!(report.push_commits, 5);
    assert_eq!(report.distinct_repos, 3);
    assert_eq!(report.distinct_actors, 3);
    assert!(report.handler_failures.is_empty());
    Ok(())
}

fn top_repos_break_ties_by_name() -> Result<(), Failed> {
    let repos = [
        "zeta/z", "alpha/a", "mid/m", "beta/b", "gamma/g", "delta/d", "omega/o",
    ];
    let mut lines: Vec<String> = repos
        .iter()
        .enumerate()
        .map(|(index, repo)| watch(&index.to_string(), "alice", repo))
        .collect();
    lines.push(watch("100", "bob", "zeta/z"));
    let report = report_of(&lines)?;

    let expected = [
        ("zeta/z", 2),
        ("alpha/a", 1),
        ("beta/b", 1),
        ("delta/d", 1),
        ("gamma/g", 1),
    ];
    let expected: Vec<RepoActivity> = expected
        .iter()
        .map(|(name, events)| RepoActivity {
            name: (*name).to_owned(),
            events: *events,
        })
        .collect();
    assert_eq!(report.top_repos, expected);
    Ok(())
}

fn report_counts_handler_failure() -> Result<(), Failed> {
    let mut payload = push_payload(2);
    payload["size"] = json!(1);
    payload["distinct_size"] = json!(1);
    let lines = [
        watch("1", "alice", "alice/app"),
        record("2", "PushEvent", "alice", "alice/app", payload),
    ];
    let report = report_of(&lines)?;

    assert_eq!(report.handler_failures.len(), 1);
    let failure = &report.handler_failures[0];
    assert_eq!(failure.line, 2);
    assert_eq!(failure.event_type, "PushEvent");
    assert!(
        failure.handler.ends_with("check_push_counts"),
        "handler: {}",
        failure.handler
    );
    assert_eq!(
        failure.message,
        "push 561750394: 2 commits listed but size is 1"
    );
    // The other handler of the push still counted it.
    assert_eq!(report.events_total, 2);
    assert_eq!(report.push_commits, 2);
    Ok(())
}

fn json_report_has_eight_keys() -> Result<(), Failed> {
    let lines = [watch("1", "alice", "alice/app"), "not json".to_owned()];
    let report = report_of(&lines)?;
    let json = serde_json::to_value(&report)?;

    let keys: BTreeSet<&str> = json
        .as_object()
        .ok_or("the report is not a JSON object")?
        .keys()
        .map(String::as_str)
        .collect();
    let expected = BTreeSet::from([
        "events_total",
        "by_type",
        "push_commits",
        "distinct_repos",
        "distinct_actors",
        "top_repos",
        "unknown_types",
        "decode_failures",
    ]);
    assert_eq!(keys, expected);
    Ok(())
}

fn json_report_lists_records() -> Result<(), Failed> {
    let lines = [
        push("1", "alice", "alice/app", 1),
        record("2", "GollumEvent", "bob", "bob/wiki", json!({"pages": []})),
        "not json".to_owned(),
    ];
    let report = report_of(&lines)?;
    let json = serde_json::to_value(&report)?;

    assert_eq!(json["events_total"], 1);
    assert_eq!(json["by_type"], json!({"PushEvent": 1}));
    assert_eq!(json["push_commits"], 1);
    assert_eq!(json["distinct_repos"], 1);
    assert_eq!(json["distinct_actors"], 1);
    assert_eq!(
        json["top_repos"],
        json!([{"name": "alice/app", "events": 1}])
    );
    assert_eq!(json["unknown_types"]["total"], 1);
    assert_eq!(json["unknown_types"]["by_type"], json!({"GollumEvent": 1}));
    assert_eq!(json["unknown_types"]["records"][0]["line"], 2);
    assert_eq!(json["unknown_types"]["records"][0]["type"], "GollumEvent");
    assert_eq!(
        json["unknown_types"]["records"][0]["reason"],
        "unknown event"
    );
    assert_eq!(json["decode_failures"]["total"], 1);
    assert_eq!(
        json["decode_failures"]["by_reason"],
        json!({"malformed JSON": 1})
    );
    assert_eq!(json["decode_failures"]["records"][0]["line"], 3);
    assert_eq!(json["decode_failures"]["records"][0]["type"], Value::Null);
    Ok(())
}

fn text_report_lists_failures() -> Result<(), Failed> {
    let lines = [
        record("1", "GollumEvent", "bob", "bob/wiki", json!({"pages": []})),
        "not json".to_owned(),
    ];
    let text = report_of(&lines)?.to_string();

    assert!(
        text.contains("line 1: GollumEvent: unknown event:"),
        "report:\n{text}"
    );
    assert!(
        text.contains("line 2: (no type): malformed JSON:"),
        "report:\n{text}"
    );
    assert!(text.contains("Unknown event types:   1"), "report:\n{text}");
    assert!(text.contains("Decode failures:       1"), "report:\n{text}");
    Ok(())
}

fn map_record_writes_numeric_id_as_string() -> Result<(), Failed> {
    let line = watch("1", "alice", "alice/app").replace("\"id\":\"1\"", "\"id\":2549961020");
    let mapped = map_record(line.as_bytes()).map_err(|error| error.message)?;
    let envelope: Value = serde_json::from_slice(&mapped.cloudevent)?;

    assert_eq!(envelope["id"], "2549961020");
    assert_eq!(envelope["source"], "https://github.com");
    assert_eq!(envelope["subject"], "alice/app");
    assert_eq!(envelope["type"], "WatchEvent");
    assert_eq!(envelope["time"], "2015-02-01T00:00:00Z");
    assert_eq!(mapped.event_type.as_deref(), Some("WatchEvent"));
    Ok(())
}

fn map_record_rejects_array() -> Result<(), Failed> {
    let error = match map_record(b"[1, 2, 3, 4, 5, 6, 7, 8]") {
        Ok(mapped) => return Err(format!("mapped an array: {mapped:?}").into()),
        Err(error) => error,
    };

    assert_eq!(error.reason, "malformed JSON");
    assert!(
        error.message.contains("[1, 2"),
        "message: {}",
        error.message
    );
    Ok(())
}

fn cloudevents_output_has_decoded_events() -> Result<(), Failed> {
    let lines = [
        push("1", "alice", "alice/app", 1),
        "not json".to_owned(),
        watch("2", "bob", "bob/lib"),
    ];
    let mut output = Vec::new();
    build_report_with(
        Cursor::new(lines.join("\n")),
        &Decoder::new(),
        Some(&mut output),
    )?;
    let text = String::from_utf8(output)?;
    let written: Vec<Value> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;

    assert_eq!(written.len(), 2);
    assert_eq!(written[0]["type"], "PushEvent");
    assert_eq!(written[0]["id"], "1");
    assert_eq!(written[0]["dataversion"], 1);
    assert_eq!(written[1]["type"], "WatchEvent");
    assert_eq!(written[1]["data"]["payload"], json!({"action": "started"}));
    Ok(())
}

fn oversized_record_is_listed() -> Result<(), Failed> {
    let lines = [
        watch("1", "alice", "alice/app"),
        push("2", "bob", "bob/lib", 20),
    ];
    let input = lines.join("\n");
    let decoder = Decoder::new().max_size(lines[0].len() + 200);
    let report = build_report_with(Cursor::new(input), &decoder, None)?;

    assert_eq!(report.events_total, 1);
    assert_eq!(report.decode_failures.by_reason.get("too large"), Some(&1));
    assert_eq!(report.decode_failures.records[0].line, 2);
    Ok(())
}

// ---------------------------------------------------------------------------
// The GH Archive sample
// ---------------------------------------------------------------------------

fn sample_report(path: &Path) -> Result<ActivityReport, Failed> {
    let text = read_sample(path)?;
    Ok(build_report(Cursor::new(text))?)
}

fn sample_counts_events_by_type(path: &Path) -> Result<(), Failed> {
    let report = sample_report(path)?;

    assert_eq!(report.events_total, 100);
    let expected = [
        ("PushEvent", 60),
        ("CreateEvent", 12),
        ("IssueCommentEvent", 8),
        ("WatchEvent", 6),
        ("PullRequestEvent", 5),
        ("ForkEvent", 4),
        ("IssuesEvent", 3),
        ("PublicEvent", 1),
        ("CommitCommentEvent", 1),
    ];
    for (event_type, count) in expected {
        assert_eq!(
            report.by_type.get(event_type),
            Some(&count),
            "events of type {event_type}"
        );
    }
    assert_eq!(report.by_type.len(), expected.len());
    Ok(())
}

fn sample_counts_push_commits(path: &Path) -> Result<(), Failed> {
    let records = sample_records(&read_sample(path)?)?;
    let commits: usize = records
        .iter()
        .filter(|record| record["type"] == "PushEvent")
        .map(|record| record["payload"]["commits"].as_array().map_or(0, Vec::len))
        .sum();
    let report = sample_report(path)?;

    assert_eq!(report.push_commits, commits as u64);
    Ok(())
}

fn sample_counts_distinct_repos(path: &Path) -> Result<(), Failed> {
    let records = sample_records(&read_sample(path)?)?;
    let repos: BTreeSet<&str> = records
        .iter()
        .filter_map(|record| record["repo"]["name"].as_str())
        .collect();
    let report = sample_report(path)?;

    assert_eq!(report.distinct_repos, repos.len());
    Ok(())
}

fn sample_counts_distinct_actors(path: &Path) -> Result<(), Failed> {
    let records = sample_records(&read_sample(path)?)?;
    let actors: BTreeSet<&str> = records
        .iter()
        .filter_map(|record| record["actor"]["login"].as_str())
        .collect();
    let report = sample_report(path)?;

    assert_eq!(report.distinct_actors, actors.len());
    Ok(())
}

fn sample_has_no_failures(path: &Path) -> Result<(), Failed> {
    let report = sample_report(path)?;

    assert_eq!(
        report.decode_failures.total, 0,
        "{:?}",
        report.decode_failures
    );
    assert_eq!(report.unknown_types.total, 0, "{:?}", report.unknown_types);
    assert!(
        report.handler_failures.is_empty(),
        "{:?}",
        report.handler_failures
    );
    Ok(())
}

fn sample_keeps_fractional_times(path: &Path) -> Result<(), Failed> {
    let text = read_sample(path)?;
    let records = sample_records(&text)?;
    let mut output = Vec::new();
    build_report_with(Cursor::new(text), &Decoder::new(), Some(&mut output))?;
    let envelopes: Vec<&str> = std::str::from_utf8(&output)?.lines().collect();
    assert_eq!(envelopes.len(), records.len());

    let mut fractional = 0;
    for (record, envelope) in records.iter().zip(&envelopes) {
        let created_at = record["created_at"]
            .as_str()
            .ok_or("created_at is not a string")?;
        if !created_at.contains('.') {
            continue;
        }
        fractional += 1;
        // Compare the JSON text, not parsed values, so that the digits count.
        let attribute = format!("\"time\":\"{created_at}\"");
        assert!(
            envelope.contains(&attribute),
            "envelope of {} lacks {attribute}: {envelope}",
            record["id"]
        );
        // A second decode and encode keeps the text too.
        let decoded = events::decode(envelope.as_bytes())?;
        let encoded = serde_json::to_string(&decoded)?;
        assert!(
            encoded.contains(&attribute),
            "re-encoded envelope of {} lacks {attribute}: {encoded}",
            record["id"]
        );
    }
    assert_eq!(fractional, 3);
    Ok(())
}

// ---------------------------------------------------------------------------
// The event store
// ---------------------------------------------------------------------------

/// Builds the report of `lines` while appending the decoded events to the
/// store at `path`, and returns the report with the writer's counts.
fn report_into_store(
    lines: &[String],
    path: &Path,
) -> Result<(ActivityReport, StoreWriter), Failed> {
    let store = SqliteStore::open(path).map_err(|error| format!("open failed: {error}"))?;
    let mut writer = StoreWriter::new(store);
    let outputs = Outputs {
        cloudevents: None,
        store: Some(&mut writer),
        progress: ProgressBar::hidden(),
    };
    let report = build_report_to(Cursor::new(lines.join("\n")), &Decoder::new(), outputs)
        .map_err(|error| format!("building the report failed: {error}"))?;
    Ok((report, writer))
}

fn report_from_store(path: &Path) -> Result<ActivityReport, Failed> {
    let store = SqliteStore::open(path).map_err(|error| format!("open failed: {error}"))?;
    build_report_from_store(&store, &ProgressBar::hidden())
        .map_err(|error| format!("replay failed: {error:#}").into())
}

/// Asserts that two reports agree on every figure the handlers produce.
fn assert_same_figures(from_store: &ActivityReport, from_file: &ActivityReport) {
    assert_eq!(from_store.events_total, from_file.events_total);
    assert_eq!(from_store.by_type, from_file.by_type);
    assert_eq!(from_store.push_commits, from_file.push_commits);
    assert_eq!(from_store.distinct_repos, from_file.distinct_repos);
    assert_eq!(from_store.distinct_actors, from_file.distinct_actors);
    assert_eq!(from_store.top_repos, from_file.top_repos);
    assert_eq!(
        from_store.handler_failures.len(),
        from_file.handler_failures.len()
    );
}

fn store_keeps_decoded_events() -> Result<(), Failed> {
    let directory = tempfile::tempdir()?;
    let path = directory.path().join("events.sqlite3");
    let lines = [
        push("1", "alice", "alice/app", 2),
        record("2", "GollumEvent", "bob", "bob/wiki", json!({"pages": []})),
        "not json".to_owned(),
        watch("3", "carol", "alice/app"),
    ];

    let (_, writer) = report_into_store(&lines, &path)?;

    assert_eq!(writer.appended, 2);
    assert_eq!(writer.duplicates, 0);
    let store = SqliteStore::open(&path)?;
    let stored: Vec<_> = store.read(ReadFrom::Start).collect::<Result<_, _>>()?;
    let names: Vec<&str> = stored.iter().map(|event| event.name.as_str()).collect();
    assert_eq!(names, ["PushEvent", "WatchEvent"]);
    let ids: Vec<&str> = stored.iter().map(|event| event.id.as_str()).collect();
    assert_eq!(ids, ["1", "3"]);
    Ok(())
}

fn store_skips_stored_ids() -> Result<(), Failed> {
    let directory = tempfile::tempdir()?;
    let path = directory.path().join("events.sqlite3");
    let lines = [
        push("1", "alice", "alice/app", 1),
        watch("2", "bob", "bob/app"),
    ];

    report_into_store(&lines, &path)?;
    let (_, again) = report_into_store(&lines, &path)?;

    assert_eq!(again.appended, 0);
    assert_eq!(again.duplicates, 2);
    assert_eq!(report_from_store(&path)?.events_total, 2);
    Ok(())
}

fn store_report_matches_file_report() -> Result<(), Failed> {
    let directory = tempfile::tempdir()?;
    let path = directory.path().join("events.sqlite3");
    let lines = [
        push("1", "alice", "alice/app", 3),
        watch("2", "bob", "alice/app"),
        push("3", "carol", "carol/lib", 1),
        watch("4", "dave", "erin/site"),
    ];

    let (from_file, _) = report_into_store(&lines, &path)?;
    let from_store = report_from_store(&path)?;

    assert_same_figures(&from_store, &from_file);
    assert_eq!(from_store.to_string(), from_file.to_string());
    Ok(())
}

fn store_report_lists_handler_failure() -> Result<(), Failed> {
    let directory = tempfile::tempdir()?;
    let path = directory.path().join("events.sqlite3");
    let mut payload = push_payload(2);
    payload["size"] = json!(1);
    payload["distinct_size"] = json!(1);
    let lines = [
        watch("1", "alice", "alice/app"),
        record("2", "PushEvent", "alice", "alice/app", payload),
    ];

    let (from_file, _) = report_into_store(&lines, &path)?;
    let from_store = report_from_store(&path)?;

    assert_eq!(from_store.handler_failures.len(), 1);
    let failure = &from_store.handler_failures[0];
    // The second stored event, at position 2.
    assert_eq!(failure.line, 2);
    assert_eq!(failure.event_type, "PushEvent");
    assert_eq!(failure.handler, from_file.handler_failures[0].handler);
    assert_eq!(failure.message, from_file.handler_failures[0].message);
    assert_eq!(from_store.events_total, 2);
    Ok(())
}

fn store_report_lists_undecodable_event() -> Result<(), Failed> {
    let directory = tempfile::tempdir()?;
    let path = directory.path().join("events.sqlite3");
    let mut store = SqliteStore::open(&path)?;
    let unknown = br#"{"specversion":"1.0","id":"9","source":"https://github.com","type":"GollumEvent","data":{}}"#;
    store.append(&[&unknown[..]])?;
    let lines = [watch("1", "alice", "alice/app")];
    report_into_store(&lines, &path)?;

    let report = report_from_store(&path)?;

    assert_eq!(report.events_total, 1);
    assert_eq!(report.decode_failures.total, 1);
    let record = &report.decode_failures.records[0];
    assert_eq!(record.line, 1);
    assert_eq!(record.event_type.as_deref(), Some("GollumEvent"));
    assert_eq!(record.reason, "undecodable stored event");
    assert!(
        record.message.contains("GollumEvent"),
        "message: {}",
        record.message
    );
    Ok(())
}

fn sample_report_from_store_matches_file(path: &Path) -> Result<(), Failed> {
    let text = read_sample(path)?;
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let directory = tempfile::tempdir()?;
    let store_path = directory.path().join("events.sqlite3");

    let (from_file, writer) = report_into_store(&lines, &store_path)?;
    let from_store = report_from_store(&store_path)?;

    assert_eq!(writer.appended, from_file.events_total);
    assert_same_figures(&from_store, &from_file);
    assert_eq!(from_store.to_string(), from_file.to_string());
    Ok(())
}

/// Returns a CloudEvents JSON event of a type that has no event struct here.
fn other_event(id: usize) -> String {
    json!({
        "specversion": "1.0",
        "id": format!("product-{id}"),
        "source": "https://shop.example",
        "type": "ProductCreated",
        "data": {"sku": format!("SKU-{id}")},
    })
    .to_string()
}

/// Creates an event store at `path` that contains `count` events of a type
/// that has no event struct here.
fn store_other_events(path: &Path, count: usize) -> Result<(), Failed> {
    let events: Vec<String> = (1..=count).map(other_event).collect();
    SqliteStore::open(path)?.append(&events)?;
    Ok(())
}

/// Returns the lines of a text report that list a record or failure by
/// `unit` (`line` or `position`).
fn listed_lines<'a>(text: &'a str, unit: &str) -> Vec<&'a str> {
    let prefix = format!("  {unit} ");
    text.lines()
        .filter(|line| line.starts_with(&prefix))
        .collect()
}

fn text_report_caps_records() -> Result<(), Failed> {
    let extra = 3;
    let lines: Vec<String> = (0..LISTED_RECORDS + extra)
        .map(|_| "not json".to_owned())
        .collect();
    let report = report_of(&lines)?;
    let text = report.to_string();

    assert_eq!(report.decode_failures.records.len(), LISTED_RECORDS + extra);
    assert_eq!(
        listed_lines(&text, "line").len(),
        LISTED_RECORDS,
        "report:\n{text}"
    );
    assert!(
        text.contains(&format!(
            "  ... and {extra} more; `--format json` lists every record"
        )),
        "report:\n{text}"
    );
    let json = serde_json::to_value(&report)?;
    assert_eq!(
        json["decode_failures"]["records"].as_array().map(Vec::len),
        Some(LISTED_RECORDS + extra)
    );
    Ok(())
}

fn store_text_report_labels_positions() -> Result<(), Failed> {
    let directory = tempfile::tempdir()?;
    let path = directory.path().join("events.sqlite3");
    store_other_events(&path, 1)?;
    let mut payload = push_payload(2);
    payload["size"] = json!(1);
    let lines = [record("2", "PushEvent", "alice", "alice/app", payload)];
    report_into_store(&lines, &path)?;

    let report = report_from_store(&path)?;
    let text = report.to_string();

    assert!(report.from_store);
    assert_eq!(
        report.decode_failures.records[0].message,
        "unknown event `ProductCreated` (version 1): no event with this name is registered; \
         add `#[derive(Event)]` with `#[event(name = \"ProductCreated\")]` to its payload type \
         and link it into the program"
    );
    assert!(
        text.contains("  position 1: ProductCreated: undecodable stored event: unknown event `ProductCreated`"),
        "report:\n{text}"
    );
    assert!(
        text.contains("  position 2: PushEvent in "),
        "report:\n{text}"
    );
    assert!(listed_lines(&text, "line").is_empty(), "report:\n{text}");
    assert!(!text.contains("at position"), "report:\n{text}");
    Ok(())
}

fn store_text_report_caps_records() -> Result<(), Failed> {
    let directory = tempfile::tempdir()?;
    let path = directory.path().join("events.sqlite3");
    let extra = 4;
    store_other_events(&path, LISTED_RECORDS + extra)?;

    let report = report_from_store(&path)?;
    let text = report.to_string();

    assert_eq!(
        report.decode_failures.total,
        (LISTED_RECORDS + extra) as u64
    );
    assert_eq!(
        listed_lines(&text, "position").len(),
        LISTED_RECORDS,
        "report:\n{text}"
    );
    assert!(
        text.contains(&format!("  ... and {extra} more;")),
        "report:\n{text}"
    );
    Ok(())
}

fn store_of_other_events_fails_check() -> Result<(), Failed> {
    let directory = tempfile::tempdir()?;
    let path = directory.path().join("shop.sqlite3");
    store_other_events(&path, 3)?;
    let report = report_from_store(&path)?;

    let error = match check_store_report(&path, &report) {
        Ok(()) => return Err("a store without GitHub events passed the check".into()),
        Err(error) => error.to_string(),
    };

    assert_eq!(report.events_total, 0);
    assert!(error.contains("found no GitHub event"), "error: {error}");
    assert!(error.contains("none of its 3 events"), "error: {error}");
    assert_eq!(
        error.matches(&path.display().to_string()).count(),
        1,
        "error: {error}"
    );
    Ok(())
}

fn empty_store_fails_check() -> Result<(), Failed> {
    let directory = tempfile::tempdir()?;
    let path = directory.path().join("events.sqlite3");
    drop(SqliteStore::open(&path)?);
    let report = report_from_store(&path)?;

    let error = match check_store_report(&path, &report) {
        Ok(()) => return Err("an empty store passed the check".into()),
        Err(error) => error.to_string(),
    };

    assert!(error.contains("contains no events"), "error: {error}");
    Ok(())
}

fn store_with_github_events_passes_check() -> Result<(), Failed> {
    let directory = tempfile::tempdir()?;
    let path = directory.path().join("events.sqlite3");
    store_other_events(&path, 2)?;
    report_into_store(&[watch("1", "alice", "alice/app")], &path)?;
    let report = report_from_store(&path)?;

    check_store_report(&path, &report)?;

    assert_eq!(report.events_total, 1);
    assert_eq!(report.decode_failures.total, 2);
    Ok(())
}

/// Returns the error of opening `path` for `--from-store`.
fn replay_open_error(path: &Path) -> Result<String, Failed> {
    match open_store_to_replay(path) {
        Ok(store) => Err(format!("opened {store:?}").into()),
        Err(error) => Ok(format!("{error:#}")),
    }
}

fn replay_open_rejects_missing_file() -> Result<(), Failed> {
    let directory = tempfile::tempdir()?;
    let path = directory.path().join("missing.sqlite3");

    let error = replay_open_error(&path)?;

    assert!(error.starts_with("no event store at "), "error: {error}");
    assert!(error.contains("missing.sqlite3"), "error: {error}");
    assert!(!path.exists(), "the store was created");
    Ok(())
}

fn replay_open_rejects_directory() -> Result<(), Failed> {
    let directory = tempfile::tempdir()?;

    let error = replay_open_error(directory.path())?;

    assert!(error.contains("is a directory"), "error: {error}");
    assert!(
        error.contains("pass --from-store the SQLite file"),
        "error: {error}"
    );
    assert_eq!(std::fs::read_dir(directory.path())?.count(), 0);
    Ok(())
}

fn replay_open_leaves_empty_file_unchanged() -> Result<(), Failed> {
    let directory = tempfile::tempdir()?;
    let path = directory.path().join("empty.sqlite3");
    std::fs::write(&path, b"")?;

    let error = replay_open_error(&path)?;

    assert!(error.contains("is not an event store"), "error: {error}");
    assert_eq!(std::fs::metadata(&path)?.len(), 0);
    Ok(())
}

fn replay_open_rejects_foreign_database() -> Result<(), Failed> {
    let directory = tempfile::tempdir()?;
    let path = directory.path().join("app.sqlite3");
    // An SQLite database with a `checkpoints` table and no `events` table.
    drop(SqliteCheckpoints::open(&path)?);

    let first = replay_open_error(&path)?;
    let second = replay_open_error(&path)?;

    assert!(first.contains("is not an event store"), "error: {first}");
    // The first attempt created no `events` table, so the second fails alike.
    assert_eq!(second, first);
    Ok(())
}

fn pipeline_store_error_is_not_repeated() -> Result<(), Failed> {
    let error = PipelineError::Store(StoreError::Conflict {
        stream: "repo-1".to_owned(),
        expected: ExpectedVersion::Exact(2),
        actual: 0,
    });

    let message = format!("{:#}", anyhow::Error::new(error));

    assert_eq!(message.matches("stream `repo-1`").count(), 1, "{message}");
    Ok(())
}

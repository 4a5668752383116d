//! Summarizes GitHub activity from a GH Archive file. Each record is decoded
//! as a typed event through the registry and counted by `#[on]` handlers.
//!
//! GH Archive (<https://www.gharchive.org>) publishes the public GitHub event
//! stream as JSON lines, one event record per line. This example maps each
//! line onto a CloudEvents envelope, decodes the envelope with
//! [`events::Decoder`] and dispatches it with [`Bus::dispatch`].
//!
//! ```text
//! cargo run --example github_activity -- PATH
//! cargo run --example github_activity -- PATH --format json
//! cargo run --example github_activity -- PATH --write-cloudevents envelopes.jsonl
//! cargo run --example github_activity -- PATH --store events.sqlite3
//! cargo run --example github_activity -- --from-store events.sqlite3
//! zcat 2015-02-01-0.json.gz | cargo run --example github_activity -- -
//! ```
//!
//! Without a path, or with `-`, the records are read from standard input.
//!
//! # From a record to an envelope
//!
//! | CloudEvents attribute | value |
//! |---|---|
//! | `type` | the record's `type`, such as `PushEvent` |
//! | `id` | the record's `id`, with a JSON number written as a string |
//! | `time` | `created_at` as written, so `2015-02-01T00:00:00.00001Z` re-encodes byte for byte |
//! | `source` | `https://github.com` for every record, taking GitHub's event ids to be unique across GitHub (the 100 ids of the 2015 sample are) |
//! | `subject` | the repository name `owner/name`, which completes the source to the repository page |
//! | `data` | the record's `actor`, `repo`, `org` (left out when null or absent), `public` and `payload` |
//!
//! The mapper keeps records of every type. The registry decides which types
//! are known: a record of a type without an event struct here, such as
//! `GollumEvent`, fails to decode and is counted under `unknown_types`.
//! Blank lines are skipped. Every other line that does not become a handled
//! event is counted under `decode_failures`.
//!
//! # Event store
//!
//! `--store PATH` also appends every decoded event, as the CloudEvents JSON
//! that `--write-cloudevents` writes, to the SQLite event store at `PATH`
//! (see the `events-store` crate), creating it if it is missing. Events are
//! appended in batches of [`STORE_BATCH_EVENTS`]. The store keeps one copy
//! of each event id, so storing the same file twice adds nothing the second
//! time, and the program prints how many events were new.
//!
//! `--from-store PATH` builds the report from a replay of every event in the
//! store instead of reading GH Archive lines, through
//! [`events_store::Replay`]. `PATH` must be an event store already: a
//! missing file, a directory or another program's database is rejected, and
//! nothing is created or written in it. The store contains decoded events
//! only, so the unknown types and decode failures of the file that filled it
//! are not in this report. An event of the store that does not decode is
//! counted under `decode_failures` with reason `undecodable stored event`.
//! The `line` of such a record, and of a handler failure, is then the
//! event's position in the store, which the text report labels
//! `position N`. When no event of the store decodes as a GitHub event, for
//! example in a store of another application's events, the program prints
//! the report, then an error that states this, and exits with status 1.
//!
//! Reading a file and replaying a store draw a progress bar on standard
//! error when it is a terminal, and nothing otherwise.
//!
//! # Report
//!
//! The text report is printed by default. It lists the first
//! [`LISTED_RECORDS`] records of the unknown types and of the decode
//! failures, and counts the rest. `--format json` prints an object with
//! exactly these keys, and lists every record:
//!
//! | key | value |
//! |---|---|
//! | `events_total` | number of events dispatched to the handlers |
//! | `by_type` | object from event type to number of events, ordered by type |
//! | `push_commits` | number of commit objects in `PushEvent` payloads, which can be less than the sum of `size` because GitHub lists at most 20 per push |
//! | `distinct_repos` | number of distinct repository names (`repo.name`) |
//! | `distinct_actors` | number of distinct actor logins (`actor.login`) |
//! | `top_repos` | array of up to 5 `{"name", "events"}` objects, most events first, ties ordered by name |
//! | `unknown_types` | `{"total", "by_type", "records"}`: records whose type has no event struct |
//! | `decode_failures` | `{"total", "by_reason", "records"}`: lines that are not JSON, records without `created_at`, and records whose attributes or payload fail to decode |
//!
//! Each element of `records` is `{"line", "type", "reason", "message"}`:
//! the 1-based line number, the record's `type` (null when the line has
//! none), the short reason and the full error message. The reason comes from
//! [`events::DecodeError::reason`], or is `malformed JSON` or `invalid record`
//! for a line that could not be mapped onto an envelope.
//!
//! A handler that fails is logged to standard error and listed in the text
//! report, and the program then exits with status 1 because the figures may
//! be incomplete. The JSON report has no key for handler failures. Failing to
//! read the input or to write the CloudEvents file also exits with status 1.

use std::collections::HashMap;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal as _, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Mutex, MutexGuard, PoisonError};

use anyhow::{anyhow, bail, Context as _};
use clap::{Parser, ValueEnum};
use events::{on, Bus, DecodeError, DecodeErrorKind, Decoder, DynEnvelope, Event};
use events_store::{
    ReadFrom, Replay, ReplayOptions, SqliteStore, Step, Store, StoreError, Undecodable,
};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

// ---------------------------------------------------------------------------
// Events
//
// The payload types follow the GH Archive records of February 2015. They keep
// the fields this report or a typical consumer reads, and serde ignores the rest.
// ---------------------------------------------------------------------------

/// A GitHub user or organization account.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Account {
    pub id: u64,
    pub login: String,
}

/// The repository an event happened in.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Repo {
    pub id: u64,
    /// The full name, `owner/name`.
    pub name: String,
}

/// Commits were pushed to a branch or tag.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "PushEvent", kind = "integration")]
pub struct PushEvent {
    pub actor: Account,
    pub repo: Repo,
    /// The organization that owns the repository, if any.
    pub org: Option<Account>,
    pub public: bool,
    pub payload: PushPayload,
}

/// The payload of a [`PushEvent`].
#[derive(Serialize, Deserialize, Debug)]
pub struct PushPayload {
    pub push_id: u64,
    /// Number of commits in the push.
    pub size: u64,
    /// Number of commits in the push that were new to the repository.
    pub distinct_size: u64,
    /// The full Git ref pushed to, such as `refs/heads/master`.
    pub r#ref: String,
    /// SHA of the most recent commit after the push.
    pub head: String,
    /// SHA of the most recent commit before the push.
    pub before: String,
    /// The pushed commits. GitHub lists at most 20 in events (GitHub event
    /// types documentation, PushEvent), so there can be fewer than `size`.
    pub commits: Vec<Commit>,
}

/// One commit listed in a [`PushPayload`].
#[derive(Serialize, Deserialize, Debug)]
pub struct Commit {
    pub sha: String,
    pub message: String,
    /// Whether the commit was new to the repository.
    pub distinct: bool,
    pub author: CommitAuthor,
}

/// The Git author of a [`Commit`], as written in the commit.
#[derive(Serialize, Deserialize, Debug)]
pub struct CommitAuthor {
    pub name: String,
    pub email: String,
}

/// A repository, branch or tag was created.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "CreateEvent", kind = "integration")]
pub struct CreateEvent {
    pub actor: Account,
    pub repo: Repo,
    /// The organization that owns the repository, if any.
    pub org: Option<Account>,
    pub public: bool,
    pub payload: CreatePayload,
}

/// The payload of a [`CreateEvent`].
#[derive(Serialize, Deserialize, Debug)]
pub struct CreatePayload {
    /// The branch or tag name, or null when a repository was created.
    pub r#ref: Option<String>,
    /// `repository`, `branch` or `tag`.
    pub ref_type: String,
    pub master_branch: String,
    /// The repository description, null when it has none.
    pub description: Option<String>,
}

/// A comment was added to an issue or a pull request.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "IssueCommentEvent", kind = "integration")]
pub struct IssueCommentEvent {
    pub actor: Account,
    pub repo: Repo,
    /// The organization that owns the repository, if any.
    pub org: Option<Account>,
    pub public: bool,
    pub payload: IssueCommentPayload,
}

/// The payload of an [`IssueCommentEvent`].
#[derive(Serialize, Deserialize, Debug)]
pub struct IssueCommentPayload {
    /// `created` in the 2015 archive.
    pub action: String,
    pub issue: Issue,
    pub comment: IssueComment,
}

/// An issue, or the issue side of a pull request.
#[derive(Serialize, Deserialize, Debug)]
pub struct Issue {
    pub id: u64,
    pub number: u64,
    pub title: String,
    /// `open` or `closed`.
    pub state: String,
    pub user: Account,
    /// Number of comments.
    pub comments: u64,
    /// When the issue was closed, null while it is open.
    pub closed_at: Option<String>,
}

/// A comment on an issue.
#[derive(Serialize, Deserialize, Debug)]
pub struct IssueComment {
    pub id: u64,
    pub user: Account,
    pub body: String,
}

/// A user starred a repository.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "WatchEvent", kind = "integration")]
pub struct WatchEvent {
    pub actor: Account,
    pub repo: Repo,
    /// The organization that owns the repository, if any.
    pub org: Option<Account>,
    pub public: bool,
    pub payload: WatchPayload,
}

/// The payload of a [`WatchEvent`].
#[derive(Serialize, Deserialize, Debug)]
pub struct WatchPayload {
    /// `started`, the only action GitHub documents for this event.
    pub action: String,
}

/// A pull request was opened, closed, reopened or otherwise changed.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "PullRequestEvent", kind = "integration")]
pub struct PullRequestEvent {
    pub actor: Account,
    pub repo: Repo,
    /// The organization that owns the repository, if any.
    pub org: Option<Account>,
    pub public: bool,
    pub payload: PullRequestPayload,
}

/// The payload of a [`PullRequestEvent`].
#[derive(Serialize, Deserialize, Debug)]
pub struct PullRequestPayload {
    /// Such as `opened`, `closed` or `reopened`.
    pub action: String,
    pub number: u64,
    pub pull_request: PullRequest,
}

/// A pull request as the event reports it.
#[derive(Serialize, Deserialize, Debug)]
pub struct PullRequest {
    pub id: u64,
    pub number: u64,
    pub title: String,
    /// `open` or `closed`.
    pub state: String,
    pub user: Account,
    pub merged: bool,
    /// When the pull request was merged, null unless it was.
    pub merged_at: Option<String>,
    /// Number of commits in the pull request.
    pub commits: u64,
    pub additions: u64,
    pub deletions: u64,
    pub changed_files: u64,
}

/// A user forked a repository.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "ForkEvent", kind = "integration")]
pub struct ForkEvent {
    pub actor: Account,
    /// The repository that was forked.
    pub repo: Repo,
    /// The organization that owns the forked repository, if any.
    pub org: Option<Account>,
    pub public: bool,
    pub payload: ForkPayload,
}

/// The payload of a [`ForkEvent`].
#[derive(Serialize, Deserialize, Debug)]
pub struct ForkPayload {
    /// The new fork.
    pub forkee: Forkee,
}

/// The repository created by a fork.
#[derive(Serialize, Deserialize, Debug)]
pub struct Forkee {
    pub id: u64,
    /// The full name, `owner/name`.
    pub full_name: String,
    pub owner: Account,
    /// The repository description, null when it has none.
    pub description: Option<String>,
}

/// An issue was opened, closed, reopened, assigned or labeled.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "IssuesEvent", kind = "integration")]
pub struct IssuesEvent {
    pub actor: Account,
    pub repo: Repo,
    /// The organization that owns the repository, if any.
    pub org: Option<Account>,
    pub public: bool,
    pub payload: IssuesPayload,
}

/// The payload of an [`IssuesEvent`].
#[derive(Serialize, Deserialize, Debug)]
pub struct IssuesPayload {
    /// Such as `opened`, `closed` or `reopened`.
    pub action: String,
    pub issue: Issue,
}

/// A private repository was made public.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "PublicEvent", kind = "integration")]
pub struct PublicEvent {
    pub actor: Account,
    pub repo: Repo,
    /// The organization that owns the repository, if any.
    pub org: Option<Account>,
    pub public: bool,
    pub payload: PublicPayload,
}

/// The payload of a [`PublicEvent`]: an empty object.
#[derive(Serialize, Deserialize, Debug)]
pub struct PublicPayload {}

/// A comment was added to a commit.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "CommitCommentEvent", kind = "integration")]
pub struct CommitCommentEvent {
    pub actor: Account,
    pub repo: Repo,
    /// The organization that owns the repository, if any.
    pub org: Option<Account>,
    pub public: bool,
    pub payload: CommitCommentPayload,
}

/// The payload of a [`CommitCommentEvent`].
#[derive(Serialize, Deserialize, Debug)]
pub struct CommitCommentPayload {
    pub comment: CommitComment,
}

/// A comment on a commit, on the whole commit or on one line of its diff.
#[derive(Serialize, Deserialize, Debug)]
pub struct CommitComment {
    pub id: u64,
    /// SHA of the commented commit.
    pub commit_id: String,
    pub user: Account,
    /// The commented file, null for a comment on the whole commit.
    pub path: Option<String>,
    /// The commented line in the file, null for a comment on the whole commit.
    pub line: Option<u64>,
    /// The commented line in the diff, null for a comment on the whole commit.
    pub position: Option<u64>,
    pub body: String,
}

// ---------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------

/// Counts gathered by the handlers during one run of [`build_report_with`].
#[derive(Default)]
struct Tally {
    events_total: u64,
    by_type: BTreeMap<String, u64>,
    push_commits: u64,
    events_per_repo: BTreeMap<String, u64>,
    actors: BTreeSet<String>,
}

impl Tally {
    const fn new() -> Tally {
        Tally {
            events_total: 0,
            by_type: BTreeMap::new(),
            push_commits: 0,
            events_per_repo: BTreeMap::new(),
            actors: BTreeSet::new(),
        }
    }

    fn add_event(&mut self, event_type: &str, actor: &Account, repo: &Repo) {
        self.events_total += 1;
        *self.by_type.entry(event_type.to_owned()).or_default() += 1;
        *self.events_per_repo.entry(repo.name.clone()).or_default() += 1;
        self.actors.insert(actor.login.clone());
    }
}

// `#[on]` handlers are free functions without state of their own, so they add
// to this static. `RUN` is held for a whole run of `build_report_with`, so
// that concurrent runs (tests on several threads) do not mix their counts.
static TALLY: Mutex<Tally> = Mutex::new(Tally::new());
static RUN: Mutex<()> = Mutex::new(());

/// Locks the tally even when a handler panicked while holding it. The bus
/// reports that panic, and the counts the handler had not yet added are missing.
fn lock_tally() -> MutexGuard<'static, Tally> {
    TALLY.lock().unwrap_or_else(PoisonError::into_inner)
}

#[on(PushEvent)]
fn tally_push(push: &PushEvent) {
    let mut tally = lock_tally();
    tally.add_event(PushEvent::NAME, &push.actor, &push.repo);
    tally.push_commits += push.payload.commits.len() as u64;
}

/// Fails for a push whose counts contradict each other, which means that
/// `push_commits` may be wrong for it.
#[on(PushEvent)]
fn check_push_counts(push: &PushEvent) -> Result<(), String> {
    let payload = &push.payload;
    if payload.distinct_size > payload.size {
        return Err(format!(
            "push {}: distinct_size {} is larger than size {}",
            payload.push_id, payload.distinct_size, payload.size
        ));
    }
    if payload.commits.len() as u64 > payload.size {
        return Err(format!(
            "push {}: {} commits listed but size is {}",
            payload.push_id,
            payload.commits.len(),
            payload.size
        ));
    }
    Ok(())
}

#[on(CreateEvent)]
fn tally_create(event: &CreateEvent) {
    lock_tally().add_event(CreateEvent::NAME, &event.actor, &event.repo);
}

#[on(IssueCommentEvent)]
fn tally_issue_comment(event: &IssueCommentEvent) {
    lock_tally().add_event(IssueCommentEvent::NAME, &event.actor, &event.repo);
}

#[on(WatchEvent)]
fn tally_watch(event: &WatchEvent) {
    lock_tally().add_event(WatchEvent::NAME, &event.actor, &event.repo);
}

#[on(PullRequestEvent)]
fn tally_pull_request(event: &PullRequestEvent) {
    lock_tally().add_event(PullRequestEvent::NAME, &event.actor, &event.repo);
}

#[on(ForkEvent)]
fn tally_fork(event: &ForkEvent) {
    lock_tally().add_event(ForkEvent::NAME, &event.actor, &event.repo);
}

#[on(IssuesEvent)]
fn tally_issues(event: &IssuesEvent) {
    lock_tally().add_event(IssuesEvent::NAME, &event.actor, &event.repo);
}

#[on(PublicEvent)]
fn tally_public(event: &PublicEvent) {
    lock_tally().add_event(PublicEvent::NAME, &event.actor, &event.repo);
}

#[on(CommitCommentEvent)]
fn tally_commit_comment(event: &CommitCommentEvent) {
    lock_tally().add_event(CommitCommentEvent::NAME, &event.actor, &event.repo);
}

// ---------------------------------------------------------------------------
// Mapping GH Archive records onto CloudEvents
// ---------------------------------------------------------------------------

/// The `source` attribute of every mapped envelope.
pub const SOURCE: &str = "https://github.com";

/// A GH Archive record with its members kept as raw JSON text, so that `data`
/// carries them unchanged. A member that is null reads as `None`.
#[derive(Deserialize)]
struct ArchiveRecord<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(rename = "type", borrow)]
    event_type: Option<&'a RawValue>,
    #[serde(borrow)]
    created_at: Option<&'a RawValue>,
    #[serde(borrow)]
    actor: Option<&'a RawValue>,
    #[serde(borrow)]
    repo: Option<&'a RawValue>,
    #[serde(borrow)]
    org: Option<&'a RawValue>,
    #[serde(borrow)]
    public: Option<&'a RawValue>,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
}

/// The one member of `repo` the mapper reads, for the `subject` attribute.
#[derive(Deserialize)]
struct RepoName {
    name: String,
}

/// A CloudEvents JSON event built from an [`ArchiveRecord`]. Attributes the
/// record lacks are left out, so that the decoder reports them as missing.
#[derive(Serialize)]
struct MappedEnvelope<'a> {
    specversion: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<Box<RawValue>>,
    source: &'static str,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    event_type: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    time: &'a RawValue,
    data: ArchiveData<'a>,
}

#[derive(Serialize)]
struct ArchiveData<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    actor: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repo: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    org: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    public: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<&'a RawValue>,
}

/// One GH Archive record mapped onto CloudEvents JSON.
#[derive(Debug)]
pub struct MappedRecord {
    /// The record's `type`, when it is a string.
    pub event_type: Option<String>,
    /// The CloudEvents JSON event, ready for [`events::decode`].
    pub cloudevent: Vec<u8>,
}

/// A line that could not be mapped onto an envelope, with the reason.
#[derive(Debug)]
pub struct MappingError {
    /// The record's `type`, when the line is a JSON object with a string `type`.
    pub event_type: Option<String>,
    /// A short label, in the style of [`DecodeError::reason`].
    pub reason: &'static str,
    pub message: String,
}

/// Maps one GH Archive line onto a CloudEvents JSON event (see the mapping
/// table at the top of this file).
///
/// # Errors
///
/// Fails when the line is not a JSON object (reason `malformed JSON`) or has
/// no `created_at` (reason `invalid record`), because without it the decoder
/// would stamp the decoding time as the event time.
pub fn map_record(line: &[u8]) -> Result<MappedRecord, MappingError> {
    let malformed = |detail: String| MappingError {
        event_type: None,
        reason: "malformed JSON",
        message: format!("not a GH Archive record (a JSON object): {detail}"),
    };
    // Parsing into `RawValue` first rejects arrays, which serde would
    // otherwise accept as a struct with positional members.
    let raw: &RawValue =
        serde_json::from_slice(line).map_err(|error| malformed(error.to_string()))?;
    if !raw.get().starts_with('{') {
        return Err(malformed(format!("found `{}`", truncate(raw.get(), 40))));
    }
    let record: ArchiveRecord<'_> =
        serde_json::from_str(raw.get()).map_err(|error| malformed(error.to_string()))?;

    let event_type = record
        .event_type
        .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok());
    let Some(time) = record.created_at else {
        return Err(MappingError {
            event_type,
            reason: "invalid record",
            message: "missing `created_at`, which every GH Archive record carries".to_owned(),
        });
    };

    let envelope = MappedEnvelope {
        specversion: "1.0",
        id: record.id.map(id_as_string),
        source: SOURCE,
        event_type: record.event_type,
        subject: record
            .repo
            .and_then(|raw| serde_json::from_str::<RepoName>(raw.get()).ok())
            .map(|repo| repo.name),
        time,
        data: ArchiveData {
            actor: record.actor,
            repo: record.repo,
            org: record.org,
            public: record.public,
            payload: record.payload,
        },
    };
    let cloudevent = match serde_json::to_vec(&envelope) {
        Ok(bytes) => bytes,
        Err(error) => unreachable!("raw JSON values and strings always serialize: {error}"),
    };
    Ok(MappedRecord {
        event_type,
        cloudevent,
    })
}

/// Returns at most `max_chars` characters of `text`, with `...` when cut.
fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

/// Writes a numeric id as a JSON string, as CloudEvents requires, and keeps
/// any other value for the decoder to accept or reject.
fn id_as_string(raw: &RawValue) -> Box<RawValue> {
    let text = raw.get();
    let is_number = text.starts_with(|c: char| c == '-' || c.is_ascii_digit());
    if !is_number {
        return raw.to_owned();
    }
    match serde_json::value::to_raw_value(text) {
        Ok(string) => string,
        Err(error) => unreachable!("a string always serializes: {error}"),
    }
}

// ---------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------

/// The activity report of one run. Serializes to the JSON described at the
/// top of this file.
#[derive(Serialize, Debug)]
pub struct ActivityReport {
    pub events_total: u64,
    pub by_type: BTreeMap<String, u64>,
    pub push_commits: u64,
    pub distinct_repos: usize,
    pub distinct_actors: usize,
    pub top_repos: Vec<RepoActivity>,
    pub unknown_types: UnknownTypes,
    pub decode_failures: DecodeFailures,
    /// Not part of the JSON report: see the top of this file.
    #[serde(skip)]
    pub handler_failures: Vec<HandlerFailureRecord>,
    /// Whether the report was built from an event store, where the `line`
    /// of each record and handler failure is a position in the store.
    #[serde(skip)]
    pub from_store: bool,
}

/// A repository with its number of events.
#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct RepoActivity {
    pub name: String,
    pub events: u64,
}

/// Records whose type has no registered event.
#[derive(Serialize, Debug, Default)]
pub struct UnknownTypes {
    pub total: u64,
    pub by_type: BTreeMap<String, u64>,
    pub records: Vec<SkippedRecord>,
}

/// Lines that were not decoded into an event, except for unknown types.
#[derive(Serialize, Debug, Default)]
pub struct DecodeFailures {
    pub total: u64,
    pub by_reason: BTreeMap<String, u64>,
    pub records: Vec<SkippedRecord>,
}

/// A line that did not reach the handlers.
#[derive(Serialize, Debug)]
pub struct SkippedRecord {
    /// 1-based line number in the input.
    pub line: u64,
    /// The record's `type`, when the line has one.
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    pub reason: String,
    /// The error message. Positions in a decode error's message ("line 1
    /// column 173") refer to the mapped CloudEvents JSON, not to the input line.
    pub message: String,
}

/// A handler that failed on one event.
#[derive(Debug)]
pub struct HandlerFailureRecord {
    /// 1-based line number in the input, or the position in the event store
    /// for a report built from one.
    pub line: u64,
    pub event_type: String,
    pub handler: String,
    pub message: String,
}

/// How many repositories `top_repos` lists.
const TOP_REPOS: usize = 5;

/// How many records of the unknown types, and of the decode failures, the
/// text report lists. The JSON report lists every record.
pub const LISTED_RECORDS: usize = 5;

impl ActivityReport {
    fn from_tally(tally: Tally) -> ActivityReport {
        let mut ranked: Vec<RepoActivity> = tally
            .events_per_repo
            .iter()
            .map(|(name, events)| RepoActivity {
                name: name.clone(),
                events: *events,
            })
            .collect();
        ranked.sort_by(|a, b| b.events.cmp(&a.events).then_with(|| a.name.cmp(&b.name)));
        ranked.truncate(TOP_REPOS);

        ActivityReport {
            events_total: tally.events_total,
            by_type: tally.by_type,
            push_commits: tally.push_commits,
            distinct_repos: tally.events_per_repo.len(),
            distinct_actors: tally.actors.len(),
            top_repos: ranked,
            unknown_types: UnknownTypes::default(),
            decode_failures: DecodeFailures::default(),
            handler_failures: Vec::new(),
            from_store: false,
        }
    }
}

impl UnknownTypes {
    fn add(&mut self, record: SkippedRecord) {
        self.total += 1;
        let event_type = record.event_type.clone().unwrap_or_default();
        *self.by_type.entry(event_type).or_default() += 1;
        self.records.push(record);
    }
}

impl DecodeFailures {
    fn add(&mut self, record: SkippedRecord) {
        self.total += 1;
        *self.by_reason.entry(record.reason.clone()).or_default() += 1;
        self.records.push(record);
    }
}

impl fmt::Display for ActivityReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = if self.from_store { "position" } else { "line" };
        writeln!(f, "Events:                {}", self.events_total)?;
        writeln!(
            f,
            "Commits in pushes:     {} (commit objects listed; GH Archive lists at most 20 per push)",
            self.push_commits
        )?;
        writeln!(f, "Distinct repositories: {}", self.distinct_repos)?;
        writeln!(f, "Distinct actors:       {}", self.distinct_actors)?;

        writeln!(f, "\nEvents by type:")?;
        let mut by_count: Vec<(&String, &u64)> = self.by_type.iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        for (event_type, count) in by_count {
            writeln!(f, "  {event_type:<20} {count:>6}")?;
        }

        writeln!(f, "\nTop repositories by events:")?;
        for repo in &self.top_repos {
            writeln!(f, "  {:<40} {:>6}", repo.name, repo.events)?;
        }

        writeln!(f, "\nUnknown event types:   {}", self.unknown_types.total)?;
        for (event_type, count) in &self.unknown_types.by_type {
            writeln!(f, "  {event_type:<20} {count:>6}")?;
        }
        write_skipped(f, &self.unknown_types.records, unit)?;

        writeln!(f, "\nDecode failures:       {}", self.decode_failures.total)?;
        for (reason, count) in &self.decode_failures.by_reason {
            writeln!(f, "  {reason:<20} {count:>6}")?;
        }
        write_skipped(f, &self.decode_failures.records, unit)?;

        writeln!(
            f,
            "\nHandler failures:      {}",
            self.handler_failures.len()
        )?;
        for failure in &self.handler_failures {
            writeln!(
                f,
                "  {unit} {}: {} in {}: {}",
                failure.line, failure.event_type, failure.handler, failure.message
            )?;
        }
        Ok(())
    }
}

/// Writes the first [`LISTED_RECORDS`] records, each labelled with `unit`
/// (`line` or `position`) and its number, then how many are left out.
fn write_skipped(f: &mut fmt::Formatter<'_>, records: &[SkippedRecord], unit: &str) -> fmt::Result {
    for record in records.iter().take(LISTED_RECORDS) {
        let event_type = record.event_type.as_deref().unwrap_or("(no type)");
        writeln!(
            f,
            "  {unit} {}: {event_type}: {}: {}",
            record.line, record.reason, record.message
        )?;
    }
    if records.len() > LISTED_RECORDS {
        writeln!(
            f,
            "  ... and {} more; `--format json` lists every record",
            records.len() - LISTED_RECORDS
        )?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Running the pipeline
// ---------------------------------------------------------------------------

/// Builds the activity report of GH Archive JSON lines with the default decoder.
///
/// # Errors
///
/// Fails only when reading `reader` fails. Bad records are counted in the report.
pub fn build_report(reader: impl BufRead) -> io::Result<ActivityReport> {
    build_report_with(reader, &Decoder::new(), None)
}

/// Builds the activity report of GH Archive JSON lines, decoding with
/// `decoder` and writing each decoded envelope to `cloudevents`, if given, as
/// one line of CloudEvents JSON.
///
/// Runs are serialized: a call waits until any other call has finished,
/// because the handlers count into one static tally.
///
/// # Errors
///
/// Fails when reading `reader` or writing `cloudevents` fails. Bad records
/// are counted in the report.
pub fn build_report_with(
    reader: impl BufRead,
    decoder: &Decoder<'_>,
    cloudevents: Option<&mut dyn Write>,
) -> io::Result<ActivityReport> {
    let outputs = Outputs {
        cloudevents,
        store: None,
        progress: ProgressBar::hidden(),
    };
    build_report_to(reader, decoder, outputs).map_err(|error| match error {
        PipelineError::Io(error) => error,
        PipelineError::Store(error) => unreachable!("no store was given: {error}"),
    })
}

/// Where a run sends the decoded events besides the handlers, and how it
/// shows its progress.
pub struct Outputs<'a> {
    /// Receives each decoded event as one line of CloudEvents JSON.
    pub cloudevents: Option<&'a mut dyn Write>,
    /// Receives each decoded event in batches.
    pub store: Option<&'a mut StoreWriter>,
    /// Advanced by the bytes of every line read. Hidden bars draw nothing.
    pub progress: ProgressBar,
}

/// A failure of [`build_report_to`]. Its message contains the cause, so
/// [`source`](std::error::Error::source) returns `None`, as for
/// [`StoreError`], and printing the chain of causes does not repeat it.
#[derive(Debug)]
pub enum PipelineError {
    /// Reading the input or writing the CloudEvents file failed.
    Io(io::Error),
    /// Appending to the event store failed.
    Store(StoreError),
}

impl fmt::Display for PipelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PipelineError::Io(error) => {
                write!(
                    f,
                    "failed to read the input or write the CloudEvents file: {error}"
                )
            }
            // The store's message names the store, the operation and the fix.
            PipelineError::Store(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for PipelineError {}

impl From<io::Error> for PipelineError {
    fn from(error: io::Error) -> PipelineError {
        PipelineError::Io(error)
    }
}

impl From<StoreError> for PipelineError {
    fn from(error: StoreError) -> PipelineError {
        PipelineError::Store(error)
    }
}

/// Builds the activity report of GH Archive JSON lines as
/// [`build_report_with`] does, and also sends every decoded event to the
/// event store of `outputs`, if any.
///
/// # Errors
///
/// Fails when reading `reader`, writing the CloudEvents output or
/// appending to the store fails. Bad records are counted in the report.
pub fn build_report_to(
    mut reader: impl BufRead,
    decoder: &Decoder<'_>,
    outputs: Outputs<'_>,
) -> Result<ActivityReport, PipelineError> {
    let Outputs {
        mut cloudevents,
        mut store,
        progress,
    } = outputs;
    let _run = RUN.lock().unwrap_or_else(PoisonError::into_inner);
    *lock_tally() = Tally::new();

    let bus = Bus::new();
    let mut unknown_types = UnknownTypes::default();
    let mut decode_failures = DecodeFailures::default();
    let mut handler_failures = Vec::new();

    let mut buffer = Vec::new();
    let mut line_number = 0;
    loop {
        buffer.clear();
        if reader.read_until(b'\n', &mut buffer)? == 0 {
            break;
        }
        line_number += 1;
        progress.inc(buffer.len() as u64);
        if buffer.trim_ascii().is_empty() {
            continue;
        }

        let mapped = match map_record(&buffer) {
            Ok(mapped) => mapped,
            Err(error) => {
                decode_failures.add(SkippedRecord {
                    line: line_number,
                    event_type: error.event_type,
                    reason: error.reason.to_owned(),
                    message: error.message,
                });
                continue;
            }
        };

        let envelope = match decoder.decode(&mapped.cloudevent) {
            Ok(envelope) => envelope,
            Err(error) => {
                let is_unknown_type = is_unknown_type(&error);
                let record = SkippedRecord {
                    line: line_number,
                    event_type: mapped.event_type,
                    reason: error.reason().to_owned(),
                    message: error.to_string(),
                };
                if is_unknown_type {
                    unknown_types.add(record);
                } else {
                    decode_failures.add(record);
                }
                continue;
            }
        };

        if let Some(output) = cloudevents.as_deref_mut() {
            write_cloudevent(output, &envelope)?;
        }
        if let Some(store) = store.as_deref_mut() {
            store.push(&envelope)?;
        }
        collect_handler_failures(&bus, &envelope, line_number, &mut handler_failures);
    }
    if let Some(store) = store {
        store.flush()?;
    }
    progress.finish_and_clear();

    let tally = std::mem::take(&mut *lock_tally());
    let mut report = ActivityReport::from_tally(tally);
    report.unknown_types = unknown_types;
    report.decode_failures = decode_failures;
    report.handler_failures = handler_failures;
    Ok(report)
}

/// Number of events appended to the event store per transaction.
pub const STORE_BATCH_EVENTS: usize = 1_000;

/// Appends decoded events to an event store in batches of
/// [`STORE_BATCH_EVENTS`], one transaction per batch.
pub struct StoreWriter {
    store: SqliteStore,
    pending: Vec<Vec<u8>>,
    /// Events stored by this writer.
    pub appended: u64,
    /// Events whose id the store held already, so they were not stored again.
    pub duplicates: u64,
}

impl StoreWriter {
    /// Starts appending to `store`.
    pub fn new(store: SqliteStore) -> StoreWriter {
        StoreWriter {
            store,
            pending: Vec::with_capacity(STORE_BATCH_EVENTS),
            appended: 0,
            duplicates: 0,
        }
    }

    /// Queues one event, and appends the batch once it is full.
    ///
    /// # Errors
    ///
    /// Fails when the batch is appended and the store fails.
    pub fn push(&mut self, envelope: &DynEnvelope) -> Result<(), StoreError> {
        let json = match serde_json::to_vec(envelope) {
            Ok(json) => json,
            Err(error) => unreachable!("a decoded envelope always serializes: {error}"),
        };
        self.pending.push(json);
        if self.pending.len() >= STORE_BATCH_EVENTS {
            self.flush()?;
        }
        Ok(())
    }

    /// Appends the queued events in one transaction.
    ///
    /// # Errors
    ///
    /// Fails when the store fails. The queued events are then not stored.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let appended = self.store.append(&self.pending)?;
        let duplicates = appended.iter().filter(|event| event.duplicate).count() as u64;
        self.duplicates += duplicates;
        self.appended += appended.len() as u64 - duplicates;
        self.pending.clear();
        Ok(())
    }
}

/// Builds the activity report from a replay of every event in `store`, in
/// position order, drawing on `progress` for each event read.
///
/// Handler failures are taken from the bus's dead-letter store, where the
/// default policy of [`Bus::new`] keeps every failed event.
///
/// # Errors
///
/// Fails when reading the store fails, with the position of the last event
/// replayed. Undecodable events are counted in the report.
pub fn build_report_from_store(
    store: &impl Store,
    progress: &ProgressBar,
) -> anyhow::Result<ActivityReport> {
    let _run = RUN.lock().unwrap_or_else(PoisonError::into_inner);
    *lock_tally() = Tally::new();

    let bus = Bus::new();
    let mut replay = Replay::new(ReplayOptions::new());
    let mut decode_failures = DecodeFailures::default();
    // The position and name of each event whose handlers failed, by id.
    let mut failed: HashMap<String, (u64, String)> = HashMap::new();

    for event in store.read(ReadFrom::Start) {
        progress.inc(1);
        let stored = event
            .as_ref()
            .ok()
            .map(|stored| (stored.position, stored.id.clone(), stored.name.clone()));
        let failures_before = replay.report().failed_positions.len();
        let undecodable_before = replay.report().undecodable.len();
        let step =
            replay
                .handle(&bus, event)
                .with_context(|| match replay.report().last_position {
                    Some(position) => format!("reading failed after position {position}"),
                    None => "reading the first event failed".to_owned(),
                })?;
        if step == Step::Stop {
            break;
        }

        let report = replay.report();
        if let Some(undecodable) = report.undecodable.get(undecodable_before) {
            decode_failures.add(SkippedRecord {
                line: undecodable.position,
                event_type: stored.as_ref().map(|(_, _, name)| name.clone()),
                reason: "undecodable stored event".to_owned(),
                message: undecodable_cause(undecodable),
            });
        }
        if report.failed_positions.len() > failures_before {
            if let Some((position, id, name)) = stored {
                failed.insert(id, (position, name));
            }
        }
    }
    progress.finish_and_clear();

    let mut handler_failures = Vec::new();
    let letters = bus
        .dead_letters()
        .list()
        .context("failed to list the dead letters of the replay")?;
    for (_, letter) in letters {
        let Some(handler) = letter.handler() else {
            continue;
        };
        let (position, name) = failed
            .get(letter.event_id())
            .cloned()
            .unwrap_or((0, letter.event_name().to_owned()));
        handler_failures.push(HandlerFailureRecord {
            line: position,
            event_type: name,
            handler: handler.to_owned(),
            message: letter.error().to_owned(),
        });
    }
    handler_failures.sort_by_key(|failure| failure.line);

    let tally = std::mem::take(&mut *lock_tally());
    let mut report = ActivityReport::from_tally(tally);
    report.decode_failures = decode_failures;
    report.handler_failures = handler_failures;
    report.from_store = true;
    Ok(report)
}

/// Returns the error of an undecodable stored event without the words that
/// the record shows already: its position, and the reason `undecodable
/// stored event` that the replay puts first. An unreadable row keeps its
/// `unreadable row` label.
fn undecodable_cause(undecodable: &Undecodable) -> String {
    let position = format!(" at position {}", undecodable.position);
    let error = undecodable.error.replacen(&position, "", 1);
    match error.strip_prefix("undecodable stored event: ") {
        Some(cause) => cause.to_owned(),
        None => error,
    }
}

/// Opens the event store of `--from-store`, which must exist and be an
/// event store, so that a wrong path creates nothing.
///
/// # Errors
///
/// Fails when `path` does not exist, is a directory, or is not an event
/// store, with a message that names the case and what to pass instead.
pub fn open_store_to_replay(path: &Path) -> anyhow::Result<SqliteStore> {
    let error = match SqliteStore::open_existing(path) {
        Ok(store) => return Ok(store),
        Err(error) => error,
    };
    if path.is_dir() {
        bail!(
            "the event store {} is a directory; pass --from-store the SQLite file that \
             --store wrote",
            path.display()
        );
    }
    if !path.exists() {
        bail!(
            "no event store at {}; fill one with --store first",
            path.display()
        );
    }
    if let StoreError::NotAnEventStore { .. } = error {
        bail!(
            "{} is not an event store: it has no `events` table of events-store; pass \
             --from-store the SQLite file that --store wrote",
            path.display()
        );
    }
    Err(error.into())
}

/// Opens the event store of `--store`, creating it if it is missing.
///
/// # Errors
///
/// Fails when `path` is a directory, or the store cannot be opened or
/// created.
pub fn open_store_to_fill(path: &Path) -> anyhow::Result<SqliteStore> {
    SqliteStore::open(path).map_err(|error| {
        if path.is_dir() {
            return anyhow!(
                "the event store {} is a directory; pass --store the path of an SQLite file, \
                 such as events.sqlite3 inside it",
                path.display()
            );
        }
        anyhow::Error::from(error)
    })
}

/// Checks that a report built from the event store at `path` counted at
/// least one GitHub event. An empty report from a store means that the
/// store contains no events, or only events of other types.
///
/// # Errors
///
/// Fails when the report counted no event, with a message that gives the
/// reason: a store without events, or with events of other types only.
pub fn check_store_report(path: &Path, report: &ActivityReport) -> anyhow::Result<()> {
    if report.events_total > 0 {
        return Ok(());
    }
    let stored = report.decode_failures.total;
    if stored == 0 {
        bail!(
            "the event store {} contains no events; fill it from a GH Archive file with \
             --store first",
            path.display()
        );
    }
    bail!(
        "found no GitHub event in the event store {}: none of its {stored} events decodes as \
         one of the GitHub event types (see the decode failures); pass --from-store a store \
         that --store filled from GH Archive records",
        path.display()
    )
}

/// Returns a progress bar on standard error, hidden when `shown` is false.
/// With a `total`, the bar counts towards it in `unit`, else a spinner
/// counts what was done.
fn progress_bar(shown: bool, total: Option<u64>, unit: &str) -> ProgressBar {
    if !shown {
        return ProgressBar::hidden();
    }
    let (bar, template) = match total {
        Some(total) => (
            ProgressBar::new(total),
            format!(
                "[{{bar:40}}] {{human_pos}}/{{human_len}} {unit} ({{per_sec:0}}, {{eta}} left)"
            ),
        ),
        None => (
            ProgressBar::new_spinner(),
            format!("{{spinner}} {{human_pos}} {unit} ({{per_sec:0}})"),
        ),
    };
    let style = ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.with_style(style)
}

/// Returns whether no event of this name is registered, as opposed to an
/// unknown version of a registered name.
fn is_unknown_type(error: &DecodeError) -> bool {
    matches!(
        error.kind(),
        DecodeErrorKind::UnknownEvent { known_versions, .. } if known_versions.is_empty()
    )
}

fn write_cloudevent(output: &mut dyn Write, envelope: &DynEnvelope) -> io::Result<()> {
    serde_json::to_writer(&mut *output, envelope)?;
    output.write_all(b"\n")
}

/// Dispatches one envelope and appends the handlers that failed on it.
fn collect_handler_failures(
    bus: &Bus,
    envelope: &DynEnvelope,
    line: u64,
    failures: &mut Vec<HandlerFailureRecord>,
) {
    let report = bus.dispatch(envelope);
    for failure in report.failures() {
        failures.push(HandlerFailureRecord {
            line,
            event_type: envelope.name().to_owned(),
            handler: failure.handler().to_owned(),
            message: failure.error().to_string(),
        });
    }
    // NOTE: the depth limit never rejects a top-level dispatch, whose depth is
    // 0, so this branch has not run. It keeps a rejection from going unreported.
    if let Some(rejection) = report.rejected() {
        failures.push(HandlerFailureRecord {
            line,
            event_type: envelope.name().to_owned(),
            handler: "(none ran)".to_owned(),
            message: rejection.to_string(),
        });
    }
}

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

/// Summarizes GitHub activity in a GH Archive file of JSON lines: events per
/// type, commit objects listed in pushes, distinct repositories and actors, the most active
/// repositories, and the records that could not be decoded.
#[derive(Parser, Debug)]
#[command(name = "github_activity")]
struct Args {
    /// GH Archive file with one JSON event record per line. With `-` or no path, records are read from standard input
    path: Option<PathBuf>,

    /// Output format of the report
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,

    /// Also write every decoded event to FILE as CloudEvents JSON, one event per line
    #[arg(long, value_name = "FILE")]
    write_cloudevents: Option<PathBuf>,

    /// Maximum size of one mapped event, in bytes of CloudEvents JSON. Larger records are counted as decode failures
    #[arg(long, value_name = "BYTES", default_value_t = events::DEFAULT_MAX_SIZE)]
    max_event_size: usize,

    /// Also append every decoded event to the SQLite event store PATH, creating it if it is missing
    #[arg(long, value_name = "PATH")]
    store: Option<PathBuf>,

    /// Build the report from a replay of the SQLite event store PATH, which must exist (fill it with --store), instead of reading GH Archive records
    #[arg(long, value_name = "PATH", conflicts_with_all = ["path", "store", "write_cloudevents", "max_event_size"])]
    from_store: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// Aligned text for reading
    Text,
    /// One JSON object with the keys listed in the example's documentation
    Json,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt().with_writer(io::stderr).init();
    let args = Args::parse();
    match run(&args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let shows_progress = io::stderr().is_terminal();
    if let Some(path) = &args.from_store {
        let store = open_store_to_replay(path)?;
        let progress = progress_bar(shows_progress, None, "events replayed");
        // The errors of the replay name the store already.
        let report = build_report_from_store(&store, &progress)?;
        let code = print_report(args.format, &report)?;
        check_store_report(path, &report)?;
        return Ok(code);
    }

    let (input, input_size): (Box<dyn BufRead>, Option<u64>) = match args.path.as_deref() {
        None => (Box::new(io::stdin().lock()), None),
        Some(path) if path.as_os_str() == "-" => (Box::new(io::stdin().lock()), None),
        Some(path) => {
            let file =
                File::open(path).with_context(|| format!("failed to open {}", path.display()))?;
            let size = file.metadata().ok().map(|metadata| metadata.len());
            (Box::new(BufReader::new(file)), size)
        }
    };
    let mut store = match &args.store {
        Some(path) => Some(StoreWriter::new(open_store_to_fill(path)?)),
        None => None,
    };

    let mut cloudevents = match &args.write_cloudevents {
        Some(path) => {
            let file = File::create(path)
                .with_context(|| format!("failed to create {}", path.display()))?;
            Some((path, BufWriter::new(file)))
        }
        None => None,
    };

    let decoder = Decoder::new().max_size(args.max_event_size);
    let outputs = Outputs {
        cloudevents: cloudevents
            .as_mut()
            .map(|(_, writer)| writer as &mut dyn Write),
        store: store.as_mut(),
        progress: progress_bar(shows_progress, input_size, "bytes read"),
    };
    let report = build_report_to(input, &decoder, outputs)?;

    if let Some((path, mut writer)) = cloudevents {
        writer
            .flush()
            .with_context(|| format!("failed to write {}", path.display()))?;
    }
    if let (Some(path), Some(store)) = (&args.store, &store) {
        // Standard error, so that `--format json` keeps standard output JSON.
        eprintln!(
            "Stored {} new events in the event store {} ({} already stored)",
            store.appended,
            path.display(),
            store.duplicates
        );
    }
    print_report(args.format, &report)
}

/// Prints the report and returns the exit code its handler failures call for.
fn print_report(format: Format, report: &ActivityReport) -> anyhow::Result<ExitCode> {
    match format {
        Format::Text => print!("{report}"),
        Format::Json => println!("{}", serde_json::to_string_pretty(report)?),
    }

    // The bus has logged each handler failure to standard error.
    if report.handler_failures.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "error: {} handler failure(s), so the figures may be incomplete",
        report.handler_failures.len()
    );
    Ok(ExitCode::FAILURE)
}

//! Killing a writer that appends in a loop loses no acknowledged event
//! and leaves no half-written one.
//!
//! The test runs its own binary again as the writer: with
//! `EVENTS_STORE_CRASH_WRITER` set to a database path, `crash_writer`
//! appends batches in a loop and prints `ack <position> <id>` for each
//! event once its append has returned. The parent kills it with SIGKILL
//! after enough acknowledgements and checks the file.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use events::{Envelope, Event};
use events_store::{ReadFrom, SqliteStore, Store};
use serde::{Deserialize, Serialize};

const WRITER_ENV: &str = "EVENTS_STORE_CRASH_WRITER";

/// Acknowledgements the parent waits for before it kills the writer.
const ACKS_BEFORE_KILL: usize = 400;

/// A sensor reading. Its note is 0 to 2,800 bytes long, so batches write
/// rows of different sizes.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "crash.SensorRead")]
struct SensorRead {
    sensor: u64,
    value: f64,
    note: String,
}

/// The writer side; does nothing unless the parent started this binary
/// with `EVENTS_STORE_CRASH_WRITER`.
#[test]
fn crash_writer() {
    let Ok(path) = std::env::var(WRITER_ENV) else {
        return;
    };
    let mut store = SqliteStore::open(&path).unwrap();
    let mut stdout = std::io::stdout().lock();
    for round in 0u64.. {
        // Batches of 1 to 7 events, some into a stream.
        let batch: Vec<_> = (0..round % 7 + 1)
            .map(|index| {
                Envelope::new(SensorRead {
                    sensor: round * 10 + index,
                    value: round as f64 / 3.0,
                    note: "x".repeat((round % 5 * 700) as usize),
                })
            })
            .collect();
        let appended = if round % 2 == 0 {
            store.append(&batch).unwrap()
        } else {
            store
                .append_to_stream("sensors", events_store::ExpectedVersion::Any, &batch)
                .unwrap()
        };
        for (event, result) in batch.iter().zip(appended) {
            writeln!(stdout, "ack {} {}", result.position, event.id()).unwrap();
        }
        stdout.flush().unwrap();
    }
}

#[test]
fn killed_writer_loses_no_acknowledged_event() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("events.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_writer", "--nocapture", "--test-threads=1"])
        .env(WRITER_ENV, &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();

    let mut acknowledged = BTreeMap::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while acknowledged.len() < ACKS_BEFORE_KILL {
        let line = lines
            .next()
            .expect("the writer exited before enough acknowledgements")
            .unwrap();
        let Some(ack) = line.strip_prefix("ack ") else {
            continue;
        };
        let (position, id) = ack.split_once(' ').unwrap();
        acknowledged.insert(position.parse::<u64>().unwrap(), id.to_owned());
    }
    // Child::kill sends SIGKILL on Unix.
    child.kill().unwrap();
    child.wait().unwrap();

    let store = SqliteStore::open(&path).unwrap();
    let stored: Vec<_> = store.read(ReadFrom::Start).map(Result::unwrap).collect();

    let positions: Vec<u64> = stored.iter().map(|event| event.position).collect();
    let contiguous: Vec<u64> = (1..=stored.len() as u64).collect();
    assert_eq!(positions, contiguous, "positions have a gap");
    for event in &stored {
        let json: serde_json::Value = serde_json::from_slice(&event.json)
            .unwrap_or_else(|error| panic!("position {}: {error}", event.position));
        assert_eq!(json["id"], event.id.as_str());
        let decoded = event.decode().unwrap();
        assert!(decoded.payload::<SensorRead>().is_some());
    }
    for (position, id) in &acknowledged {
        let event = stored
            .get(*position as usize - 1)
            .unwrap_or_else(|| panic!("acknowledged position {position} is missing"));
        assert_eq!(&event.id, id, "position {position}");
    }
    let stream_versions: Vec<u64> = stored
        .iter()
        .filter_map(|event| event.stream_version)
        .collect();
    assert_eq!(
        stream_versions,
        (1..=stream_versions.len() as u64).collect::<Vec<_>>()
    );
}

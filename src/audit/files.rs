//! Digests of the files a pass wrote, recorded in the chain so that a file changed after
//! Recert wrote it is detected.
//!
//! The event, one per pass per review that writes any of its files:
//!
//! ```json
//! {"change": "files", "files": {"state.json": "sha256:…", "status.yaml": "sha256:…",
//!  "results/2026-01-01.csv": "sha256:…"}}
//! ```
//!
//! Paths are relative to the review's folder (so the digests still hold once it is archived).
//! `state.json` holds the head of this very chain, so its digest cannot be over the file as
//! written: it is over [`state_bytes`], the review's state without the audit head and the
//! manifests' revision (which a pass may record on its own).

use std::collections::BTreeMap;
use std::path::{Component, Path};

use serde_json::{Value, json};

use super::Record;
use crate::state::ReviewState;
use crate::store::Stored;

/// The value of `change` in a files event.
pub const CHANGE: &str = "files";

/// The state file's name in a review's folder.
pub const STATE: &str = "state.json";

/// The event recording `files`, each a path relative to the review's folder with the bytes
/// written there (for `state.json`, [`state_bytes`] of the state saved).
pub fn files_event(files: &[(&str, &[u8])]) -> Value {
    let files: serde_json::Map<String, Value> = files
        .iter()
        .map(|(path, bytes)| ((*path).to_owned(), Value::String(digest(bytes))))
        .collect();
    json!({ "change": CHANGE, "files": files })
}

/// What a state's digest is over: the review's state alone, exactly as `state.json` holds it
/// (one value a line, no indentation), so that the bytes digested are the bytes saved
/// ([`crate::store::Store::save_with_state`]) and a large state is serialised once a save.
pub fn state_bytes(state: &ReviewState) -> Vec<u8> {
    crate::store::state_json(state)
}

/// `sha256:` and the hex digest.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", super::sha256_hex(bytes))
}

/// Adds the digests a record carries (if it is a files event) to `files`, the later record
/// replacing the earlier.
pub(crate) fn collect(record: &Record, files: &mut BTreeMap<String, (u64, String)>) {
    if record.event.get("change").and_then(Value::as_str) != Some(CHANGE) {
        return;
    }
    let Some(map) = record.event.get("files").and_then(Value::as_object) else {
        return;
    };
    for (path, digest) in map {
        if let Some(digest) = digest.as_str() {
            files.insert(path.clone(), (record.seq, digest.to_owned()));
        }
    }
}

/// A file that is not what the chain last recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    #[error(
        "{path}: changed after Recert wrote it (its digest differs from the one recorded in record {seq})"
    )]
    Changed { path: String, seq: u64 },
    #[error("{path}: missing (record {seq} recorded its digest)")]
    Missing { path: String, seq: u64 },
    #[error("{path}: not written by Recert (no record of the trail covers it)")]
    Unrecorded { path: String },
    #[error("{path}: cannot be checked: {message}")]
    Unreadable { path: String, message: String },
}

/// Compares each file in `dir` whose digest `recorded` holds with that digest, and reports
/// status and results files the chain does not cover (only once it records any digest: older
/// trails recorded none).
pub fn check(dir: &Path, recorded: &BTreeMap<String, (u64, String)>) -> Vec<Mismatch> {
    let mut out = Vec::new();
    if recorded.is_empty() {
        return out;
    }
    for (rel, (seq, expected)) in recorded {
        let shown = dir.join(rel).display().to_string();
        if !is_plain_relative(rel) {
            out.push(Mismatch::Unreadable {
                path: shown,
                message: "the recorded path leaves the review's folder".to_owned(),
            });
            continue;
        }
        let path = dir.join(rel);
        let bytes = match crate::fsutil::open_read(&path).and_then(read) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                out.push(Mismatch::Missing {
                    path: shown,
                    seq: *seq,
                });
                continue;
            }
            Err(e) => {
                out.push(Mismatch::Unreadable {
                    path: shown,
                    message: e.to_string(),
                });
                continue;
            }
        };
        let actual = if rel == STATE {
            match serde_json::from_slice::<Stored>(&bytes) {
                Ok(stored) => digest(&state_bytes(&stored.state)),
                Err(e) => {
                    out.push(Mismatch::Unreadable {
                        path: shown,
                        message: e.to_string(),
                    });
                    continue;
                }
            }
        } else {
            digest(&bytes)
        };
        if &actual != expected {
            out.push(Mismatch::Changed {
                path: shown,
                seq: *seq,
            });
        }
    }
    for rel in outputs(dir) {
        if !recorded.contains_key(&rel) {
            out.push(Mismatch::Unrecorded {
                path: dir.join(rel).display().to_string(),
            });
        }
    }
    out
}

fn read(mut file: std::fs::File) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn is_plain_relative(rel: &str) -> bool {
    let path = Path::new(rel);
    !rel.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)))
}

/// The status and results files in a review's folder, as relative paths.
fn outputs(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if dir.join("status.yaml").exists() {
        out.push("status.yaml".to_owned());
    }
    if let Ok(entries) = std::fs::read_dir(dir.join("results")) {
        for entry in entries.filter_map(Result::ok) {
            if let Ok(name) = entry.file_name().into_string()
                && name.ends_with(".csv")
                && !name.starts_with('.')
            {
                out.push(format!("results/{name}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Head, append, verify_trail};
    use crate::model::review::Timestamp;

    #[test]
    fn the_event_records_a_sha256_per_path() {
        let event = files_event(&[("status.yaml", b"phase: Running\n")]);
        assert_eq!(event["change"], "files");
        assert_eq!(
            event["files"]["status.yaml"],
            // printf 'phase: Running\n' | sha256sum
            format!("sha256:{}", crate::audit::sha256_hex(b"phase: Running\n"))
        );
        assert!(
            event["files"]["status.yaml"]
                .as_str()
                .is_some_and(|d| d.len() == "sha256:".len() + 64)
        );
    }

    #[test]
    fn the_last_recorded_digest_of_each_file_is_the_one_checked() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("audit.jsonl");
        let at = Timestamp::parse("2026-12-01T00:00:00Z").expect("time");
        let head = append(
            &log,
            &Head::default(),
            "ga",
            at,
            &[files_event(&[
                ("status.yaml", b"one\n"),
                ("results/a.csv", b"a\n"),
            ])],
        )
        .expect("append");
        append(
            &log,
            &head,
            "ga",
            at,
            &[files_event(&[("status.yaml", b"two\n")])],
        )
        .expect("append");
        std::fs::write(dir.path().join("status.yaml"), "two\n").expect("status");
        std::fs::create_dir(dir.path().join("results")).expect("results");
        std::fs::write(dir.path().join("results/a.csv"), "a\n").expect("csv");
        let trail = verify_trail(&log, None, Some("ga")).expect("verifies");
        assert_eq!(check(dir.path(), &trail.files), []);

        std::fs::write(dir.path().join("status.yaml"), "one\n").expect("status");
        std::fs::write(dir.path().join("results/b.csv"), "b\n").expect("csv");
        std::fs::remove_file(dir.path().join("results/a.csv")).expect("rm");
        let found = check(dir.path(), &trail.files);
        assert!(
            matches!(&found[..], [
                Mismatch::Missing { path: a, seq: 1 },
                Mismatch::Changed { path: s, seq: 2 },
                Mismatch::Unrecorded { path: b },
            ] if a.ends_with("results/a.csv") && s.ends_with("status.yaml") && b.ends_with("results/b.csv")),
            "{found:?}"
        );
    }
}

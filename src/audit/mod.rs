//! The audit trail: an append-only, hash-chained log of every decision recorded and every
//! change made, one per review.
//!
//! Each line is a JSON record holding its sequence number, the hash of the previous record and
//! its own hash (SHA-256 over the previous hash and the record's canonical content). Editing,
//! deleting or reordering a line breaks the chain; cutting lines off the end is caught against
//! the head (last sequence number and hash) kept in the review's state. [`verify`] reports the
//! first break with its line number.
//!
//! The chain also carries the digests of the files a pass wrote ([`files`]), and its heads are
//! signed from time to time ([`checkpoint`]); [`state_dir`] checks all of it for a whole state
//! directory.

pub mod checkpoint;
pub mod files;
pub mod population;
pub mod state_dir;

pub use files::{files_event, state_bytes};

use std::io::{BufRead, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::model::review::Timestamp;

/// The hash before the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    pub at: Timestamp,
    pub review: String,
    pub event: Value,
    pub prev: String,
    pub hash: String,
}

/// Where the chain ends: recorded in the review's state so truncation is detectable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

/// What a record's hash covers besides the previous hash: its fields, keys in sorted order.
#[derive(Serialize)]
struct Content<'a> {
    at: Timestamp,
    event: &'a Value,
    review: &'a str,
    seq: u64,
}

/// A record as written, borrowing what it holds (a first reconcile writes a hundred thousand).
#[derive(Serialize)]
struct RecordRef<'a> {
    seq: u64,
    at: Timestamp,
    review: &'a str,
    event: &'a Value,
    prev: &'a str,
    hash: &'a str,
}

/// SHA-256 in lower-case hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Bytes in lower-case hex: digests named in ids and file names.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut hex = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    hex
}

fn digest(prev: &str, seq: u64, at: Timestamp, review: &str, event: &Value) -> String {
    // Canonical: the fields in sorted order, and serde_json writes an event's object keys
    // sorted too (no `preserve_order` feature).
    let content = Content {
        at,
        event,
        review,
        seq,
    };
    let mut hasher = Sha256::new();
    hasher.update(prev.as_bytes());
    // Serialising into the hasher cannot fail: every value here is plain data.
    let _ = serde_json::to_writer(HashWriter(&mut hasher), &content);
    hex(&hasher.finalize())
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Feeds what is written straight into the hash.
struct HashWriter<'h>(&'h mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Appends events to a log, continuing the chain from `head`; returns the new head.
pub fn append(
    path: &Path,
    head: &Head,
    review: &str,
    at: Timestamp,
    events: &[Value],
) -> std::io::Result<Head> {
    if events.is_empty() {
        return Ok(head.clone());
    }
    // A linked review folder would take the trail elsewhere; the log itself is opened
    // without following a link.
    if let Some(dir) = path.parent() {
        crate::fsutil::refuse_link(dir)?;
    }
    repair_torn_tail(path)?;
    set_aside_uncommitted(path, head)?;
    let mut head = if head.hash.is_empty() {
        Head {
            seq: 0,
            hash: GENESIS.to_owned(),
        }
    } else {
        head.clone()
    };
    let mut text = Vec::new();
    for event in events {
        let seq = head.seq + 1;
        let hash = digest(&head.hash, seq, at, review, event);
        let record = RecordRef {
            seq,
            at,
            review,
            event,
            prev: &head.hash,
            hash: &hash,
        };
        serde_json::to_writer(&mut text, &record).map_err(std::io::Error::other)?;
        text.push(b'\n');
        head = Head { seq, hash };
    }
    let mut file = crate::fsutil::open_append(path)?;
    // One write per batch: a crash leaves whole lines or a torn tail, which the next append
    // removes (it was never acknowledged).
    file.write_all(&text)?;
    file.sync_all()?;
    Ok(head)
}

/// The audit log is written ahead of the state: records past the head the state committed
/// describe changes whose state never reached the disk (a crash between the two), and the
/// next reconcile derives them again. They are moved to `audit.uncommitted.jsonl` beside the
/// log — kept as evidence, outside the chain — so the chain continues from the committed head.
fn set_aside_uncommitted(path: &Path, head: &Head) -> std::io::Result<()> {
    let committed = if head.hash.is_empty() { 0 } else { head.seq };
    // The usual case, told from the end of the log alone: its last record is the committed
    // head. A log grows for the life of its review; reading it whole on every append would
    // make each append cost the whole history.
    if let Ok(Some((_, tail))) = read_tail(path)
        && let Some(last) = tail.split(|&b| b == b'\n').rfind(|l| !l.is_empty())
        && serde_json::from_slice::<Record>(last).is_ok_and(|r| r.seq <= committed)
    {
        return Ok(());
    }
    let Ok(text) = crate::fsutil::open_read(path).and_then(std::io::read_to_string) else {
        return Ok(());
    };
    let lines: Vec<&str> = text.lines().collect();
    let last_seq = lines
        .last()
        .and_then(|l| serde_json::from_str::<Record>(l).ok())
        .map_or(0, |r| r.seq);
    if last_seq <= committed || (committed as usize) > lines.len() {
        return Ok(());
    }
    let keep = committed as usize;
    // Only a tail that continues the committed chain is moved; anything else is left for
    // `recert audit verify` to report.
    let matches_head = keep == 0
        || serde_json::from_str::<Record>(lines[keep - 1])
            .is_ok_and(|r| r.seq == head.seq && r.hash == head.hash);
    if !matches_head {
        return Ok(());
    }
    let aside = path.with_file_name("audit.uncommitted.jsonl");
    let mut tail = lines[keep..].join("\n");
    tail.push('\n');
    let mut file = crate::fsutil::open_append(&aside)?;
    file.write_all(tail.as_bytes())?;
    file.sync_all()?;
    let mut head_text = lines[..keep].join("\n");
    if keep > 0 {
        head_text.push('\n');
    }
    crate::fsutil::write_atomic(path, head_text.as_bytes())
}

/// Drops an incomplete last line left by a crash mid-write.
fn repair_torn_tail(path: &Path) -> std::io::Result<()> {
    let Ok(Some((start, tail))) = read_tail(path) else {
        return Ok(());
    };
    if tail.is_empty() || tail.ends_with(b"\n") {
        return Ok(());
    }
    let keep = match tail.iter().rposition(|&b| b == b'\n') {
        Some(i) => start + i as u64 + 1,
        None if start == 0 => 0,
        // A torn record longer than the tail read: find its start in the whole log.
        None => read_all(path)?
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i as u64 + 1),
    };
    let file = crate::fsutil::open_write(path)?;
    file.set_len(keep)?;
    file.sync_all()
}

fn read_all(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    crate::fsutil::open_read(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// How much of a log's end is read to find its last record.
const TAIL: u64 = 64 * 1024;

/// The last [`TAIL`] bytes of a file (all of it when smaller) and the offset they start at;
/// `None` when there is no file.
pub(crate) fn read_tail(path: &Path) -> std::io::Result<Option<(u64, Vec<u8>)>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = match crate::fsutil::open_read(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let start = len.saturating_sub(TAIL);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
    Ok(Some((start, tail)))
}

/// A break in the chain, or a chain that does not end where its state says it does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("{path}:{line}: {message}")]
    Broken {
        path: String,
        line: usize,
        message: String,
    },
    #[error(
        "{path}: the log ends at record {log} but the state recorded record {head}: records were removed from the end"
    )]
    Truncated { path: String, log: u64, head: u64 },
    #[error(
        "{path}: the log goes on past record {head}, the last one the state recorded, to record {log}: records were added without their state (a pass that crashed before writing it leaves this, set aside by the next pass), or the state was replaced by an older copy"
    )]
    PastHead { path: String, log: u64, head: u64 },
    #[error(
        "{path}: record {seq} is not the record the state recorded (its hash differs): the chain was rewritten from some record on, each later hash recomputed"
    )]
    Rewritten { path: String, seq: u64 },
    #[error(
        "{path}:{line}: the record belongs to review `{found}`, not `{expected}`: a different review's chain"
    )]
    OtherChain {
        path: String,
        line: usize,
        found: String,
        expected: String,
    },
    #[error("{path}: cannot read: {message}")]
    Io { path: String, message: String },
}

/// A chain that verified: its records, its end, and what the state-directory checks need.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trail {
    pub records: u64,
    /// The last record's number and hash (empty hash when the log is empty).
    pub head: Head,
    /// Each record's hash, record `n` at index `n - 1`: a checkpoint names a record by number.
    pub hashes: Vec<String>,
    /// The last digest recorded of each file, by path relative to the review's folder, with
    /// the record that recorded it.
    pub files: std::collections::BTreeMap<String, (u64, String)>,
    /// The population digest each instance's `instanceStarted` record carried.
    pub populations: population::Recorded,
}

/// Checks a log from its first line against `expected` (the head kept in state, when known).
/// Returns the number of records.
pub fn verify(path: &Path, expected: Option<&Head>) -> Result<u64, VerifyError> {
    verify_trail(path, expected, None).map(|t| t.records)
}

/// [`verify`], also checking that every record names `review` (when given), and returning what
/// the trail holds.
pub fn verify_trail(
    path: &Path,
    expected: Option<&Head>,
    review: Option<&str>,
) -> Result<Trail, VerifyError> {
    let name = path.display().to_string();
    let io = |e: std::io::Error| VerifyError::Io {
        path: name.clone(),
        message: e.to_string(),
    };
    let file = crate::fsutil::open_read(path).map_err(io)?;
    let mut prev = GENESIS.to_owned();
    let mut trail = Trail::default();
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line_no = index + 1;
        let line = line.map_err(io)?;
        let broken = |message: String| VerifyError::Broken {
            path: name.clone(),
            line: line_no,
            message,
        };
        let record: Record =
            serde_json::from_str(&line).map_err(|e| broken(format!("not an audit record: {e}")))?;
        let seq = trail.records;
        if record.seq != seq + 1 {
            return Err(broken(format!(
                "record {} follows record {seq}: a record was deleted or moved",
                record.seq
            )));
        }
        if record.prev != prev {
            return Err(broken(
                "the link to the previous record is broken: a record was deleted, moved or edited"
                    .to_owned(),
            ));
        }
        if digest(
            &record.prev,
            record.seq,
            record.at,
            &record.review,
            &record.event,
        ) != record.hash
        {
            return Err(broken(
                "the record's content does not match its hash: it was edited".to_owned(),
            ));
        }
        if let Some(expected) = review
            && record.review != expected
        {
            return Err(VerifyError::OtherChain {
                path: name,
                line: line_no,
                found: record.review,
                expected: expected.to_owned(),
            });
        }
        files::collect(&record, &mut trail.files);
        population::collect(&record, &mut trail.populations);
        trail.hashes.push(record.hash.clone());
        prev = record.hash;
        trail.records = record.seq;
    }
    if trail.records > 0 {
        trail.head = Head {
            seq: trail.records,
            hash: prev,
        };
    }
    if let Some(head) = expected.filter(|h| !h.hash.is_empty()) {
        check_head(&name, &trail, head)?;
    }
    Ok(trail)
}

/// Names a difference between where the log ends and the head its state recorded.
fn check_head(path: &str, trail: &Trail, head: &Head) -> Result<(), VerifyError> {
    let path = path.to_owned();
    if trail.records < head.seq {
        return Err(VerifyError::Truncated {
            path,
            log: trail.records,
            head: head.seq,
        });
    }
    // The log reaches the recorded record: it must be that very record.
    let at = usize::try_from(head.seq).unwrap_or(usize::MAX);
    if head.seq == 0 || trail.hashes.get(at - 1) != Some(&head.hash) {
        return Err(VerifyError::Rewritten {
            path,
            seq: head.seq,
        });
    }
    if trail.records > head.seq {
        return Err(VerifyError::PastHead {
            path,
            log: trail.records,
            head: head.seq,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_hash_covers_the_canonical_json_of_the_record_as_it_always_has() {
        // Logs written by earlier versions must still verify: the hash is SHA-256 over the
        // previous hash and the record's fields as a JSON object with sorted keys.
        let at = Timestamp::parse("2026-12-01T00:00:00Z").expect("time");
        let event =
            json!({"change": "decisionRecorded", "principal": "u-1", "b": [1, {"z": 1, "a": 2}]});
        let content = json!({ "seq": 7, "at": at, "review": "r", "event": event });
        let mut hasher = Sha256::new();
        hasher.update(GENESIS.as_bytes());
        hasher.update(content.to_string().as_bytes());
        let expected: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(digest(GENESIS, 7, at, "r", &event), expected);
    }

    fn log() -> (tempfile::TempDir, std::path::PathBuf, Head) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("audit.jsonl");
        let at = Timestamp::parse("2026-12-01T10:00:00Z").expect("time");
        let head = append(
            &path,
            &Head::default(),
            "ga",
            at,
            &[json!({"type": "a"}), json!({"type": "b"})],
        )
        .expect("append");
        let head = append(&path, &head, "ga", at, &[json!({"type": "c"})]).expect("append");
        (dir, path, head)
    }

    fn rewrite(path: &Path, f: impl FnOnce(&mut Vec<String>)) {
        let mut lines: Vec<String> = std::fs::read_to_string(path)
            .expect("read")
            .lines()
            .map(str::to_owned)
            .collect();
        f(&mut lines);
        std::fs::write(path, lines.join("\n") + "\n").expect("write");
    }

    #[test]
    fn an_untouched_log_verifies_against_its_head() {
        let (_dir, path, head) = log();
        assert_eq!(verify(&path, Some(&head)), Ok(3));
    }

    #[test]
    fn an_edited_record_is_detected_with_its_line() {
        let (_dir, path, head) = log();
        rewrite(&path, |lines| lines[1] = lines[1].replace("\"b\"", "\"B\""));
        assert!(matches!(
            verify(&path, Some(&head)),
            Err(VerifyError::Broken { line: 2, .. })
        ));
    }

    #[test]
    fn a_deleted_record_is_detected() {
        let (_dir, path, head) = log();
        rewrite(&path, |lines| {
            lines.remove(1);
        });
        assert!(matches!(
            verify(&path, Some(&head)),
            Err(VerifyError::Broken { line: 2, .. })
        ));
    }

    #[test]
    fn reordered_records_are_detected() {
        let (_dir, path, head) = log();
        rewrite(&path, |lines| lines.swap(0, 1));
        assert!(matches!(
            verify(&path, Some(&head)),
            Err(VerifyError::Broken { line: 1, .. })
        ));
    }

    #[test]
    fn records_cut_from_the_end_are_detected_against_the_head() {
        let (_dir, path, head) = log();
        rewrite(&path, |lines| {
            lines.pop();
        });
        assert!(matches!(
            verify(&path, Some(&head)),
            Err(VerifyError::Truncated { .. })
        ));
    }

    #[test]
    fn a_chain_rewritten_to_the_same_length_is_named_rewritten_not_truncated() {
        let (_dir, path, head) = log();
        // Every hash recomputed after record 2 was changed: the chain holds, its end does not.
        let at = Timestamp::parse("2026-12-01T10:00:00Z").expect("time");
        std::fs::remove_file(&path).expect("rm");
        append(
            &path,
            &Head::default(),
            "ga",
            at,
            &[
                json!({"type": "a"}),
                json!({"type": "B"}),
                json!({"type": "c"}),
            ],
        )
        .expect("rewrite");
        let e = verify(&path, Some(&head)).expect_err("rewritten");
        assert_eq!(
            e,
            VerifyError::Rewritten {
                path: path.display().to_string(),
                seq: 3
            }
        );
        assert!(!e.to_string().contains("removed from the end"), "{e}");
    }

    #[test]
    fn records_past_the_head_are_named_as_such() {
        let (_dir, path, _) = log();
        let older = Head {
            seq: 2,
            hash: verify_trail(&path, None, None).expect("trail").hashes[1].clone(),
        };
        assert!(matches!(
            verify(&path, Some(&older)),
            Err(VerifyError::PastHead {
                log: 3,
                head: 2,
                ..
            })
        ));
        // Record 2 itself replaced: rewritten, though the log is longer.
        let other = Head {
            seq: 2,
            hash: GENESIS.to_owned(),
        };
        assert!(matches!(
            verify(&path, Some(&other)),
            Err(VerifyError::Rewritten { seq: 2, .. })
        ));
    }

    #[test]
    fn another_reviews_chain_is_named() {
        let (_dir, path, head) = log();
        assert!(matches!(
            verify_trail(&path, Some(&head), Some("other")),
            Err(VerifyError::OtherChain { line: 1, ref found, .. }) if found == "ga"
        ));
    }

    #[test]
    fn appending_through_a_planted_link_is_refused_and_the_target_untouched() {
        let (dir, path, head) = log();
        let outside = tempfile::tempdir().expect("outside");
        let target = outside.path().join("victim.txt");
        std::fs::write(&target, "theirs\n").expect("victim");
        std::fs::remove_file(&path).expect("rm");
        std::os::unix::fs::symlink(&target, &path).expect("link");
        let at = Timestamp::parse("2026-12-02T10:00:00Z").expect("time");
        let e = append(&path, &head, "ga", at, &[json!({"type": "d"})]).expect_err("refused");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "theirs\n");

        // A linked review folder: refused before anything is written into it.
        let review = dir.path().join("linked");
        std::os::unix::fs::symlink(outside.path(), &review).expect("link");
        let e = append(
            &review.join("audit.jsonl"),
            &Head::default(),
            "ga",
            at,
            &[json!({"type": "a"})],
        )
        .expect_err("refused");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(!outside.path().join("audit.jsonl").exists());
    }

    #[test]
    fn records_past_the_committed_head_are_set_aside_and_the_chain_continues() {
        let (dir, path, head) = log();
        let at = Timestamp::parse("2026-12-02T10:00:00Z").expect("time");
        // A pass appended record 4, then crashed before its state (head 3) was written.
        append(&path, &head, "ga", at, &[json!({"type": "lost"})]).expect("append");
        let head = append(&path, &head, "ga", at, &[json!({"type": "again"})]).expect("append");
        assert_eq!(verify(&path, Some(&head)), Ok(4));
        let aside =
            std::fs::read_to_string(dir.path().join("audit.uncommitted.jsonl")).expect("kept");
        assert!(aside.contains("\"lost\""), "{aside}");
    }

    #[test]
    fn a_log_longer_than_the_tail_read_is_repaired_and_set_aside_as_a_short_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("audit.jsonl");
        let at = Timestamp::parse("2026-12-01T00:00:00Z").expect("time");
        let events: Vec<Value> = (0..400)
            .map(|i| json!({"change": "decisionRecorded", "principal": format!("u-{i}"), "reason": "x".repeat(200)}))
            .collect();
        let head = append(&path, &Head::default(), "ga", at, &events).expect("append");
        assert!(std::fs::metadata(&path).expect("log").len() > 2 * TAIL);

        // Record 401 reached the log, its state did not; then a crash tore a record longer
        // than the tail that is read.
        append(&path, &head, "ga", at, &[json!({"type": "lost"})]).expect("append");
        let mut text = std::fs::read_to_string(&path).expect("read");
        text.push_str(&format!(
            "{{\"seq\":402,\"event\":\"{}",
            "y".repeat(TAIL as usize + 10)
        ));
        std::fs::write(&path, text).expect("write");

        let next = append(&path, &head, "ga", at, &[json!({"type": "again"})]).expect("append");
        assert_eq!(next.seq, 401);
        assert_eq!(verify(&path, Some(&next)), Ok(401));
        let aside =
            std::fs::read_to_string(dir.path().join("audit.uncommitted.jsonl")).expect("kept");
        assert!(
            aside.contains("\"lost\"") && !aside.contains("yyy"),
            "{aside}"
        );
    }

    #[test]
    fn a_torn_last_line_from_a_crash_is_dropped_before_the_next_append() {
        let (_dir, path, head) = log();
        let mut text = std::fs::read_to_string(&path).expect("read");
        text.push_str("{\"seq\":4,\"at\":");
        std::fs::write(&path, text).expect("write");
        let at = Timestamp::parse("2026-12-02T10:00:00Z").expect("time");
        let head = append(&path, &head, "ga", at, &[json!({"type": "d"})]).expect("append");
        assert_eq!(verify(&path, Some(&head)), Ok(4));
    }
}

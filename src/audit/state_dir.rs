//! `recert audit verify` for a whole state directory: every review that exists, live or
//! archived, must have a trail that verifies, ends where its state says, covers the files on
//! disk and (given the public key) holds the latest signed checkpoint.

use std::collections::BTreeMap;
use std::path::Path;

use super::checkpoint::{self, Checkpoint, VerifyingKey};
use super::files::{self, Mismatch};
use super::{Trail, VerifyError};
use crate::store::{Store, Stored};

/// One problem found, named for what it is.
#[derive(Debug, thiserror::Error)]
pub enum Finding {
    #[error(
        "{path}: audit trail missing: the state recorded record {seq} of a chain that is no longer there"
    )]
    TrailMissing { path: String, seq: u64 },
    #[error(
        "{path}: state missing: the trail ({records} records) has no state.json to check its end against, so records cut from its end would go unseen"
    )]
    StateMissing { path: String, records: u64 },
    #[error("{path}: the review's folder holds files but neither a state nor an audit trail")]
    Untracked { path: String },
    #[error("{path}: cannot read the state: {message}")]
    StateUnreadable { path: String, message: String },
    #[error("{0}")]
    Chain(VerifyError),
    #[error("{0}")]
    File(Mismatch),
    #[error("{0}")]
    Population(super::population::Mismatch),
    #[error(
        "{path}: a symbolic link: Recert neither writes nor trusts links in its state directory"
    )]
    Link { path: String },
    #[error(
        "{path}: no signed checkpoint, though a public key was given (is the daemon signing with --signing-key?)"
    )]
    NoCheckpoint { path: String },
    #[error("{path}: {message}")]
    CheckpointUnreadable { path: String, message: String },
    #[error("{path}: the checkpoint of {at} does not hold: {why}")]
    CheckpointInvalid {
        path: String,
        at: String,
        why: checkpoint::Invalid,
    },
    #[error(
        "review {review}: the chain checkpointed at record {seq} on {at} is gone, or was rewritten from its first record"
    )]
    CheckpointedChainGone {
        review: String,
        seq: u64,
        at: String,
    },
    #[error(
        "{path}: record {seq} is not the record signed in the checkpoint of {at}: the chain was rewritten"
    )]
    CheckpointedRecordDiffers { path: String, seq: u64, at: String },
}

/// What `verify` found.
#[derive(Debug, Default)]
pub struct Report {
    pub trails: usize,
    pub records: u64,
    pub findings: Vec<Finding>,
}

/// The checkpoints to check the chains against, besides their own consistency.
#[derive(Debug, Default)]
pub struct Signed<'a> {
    /// The public key: the state directory's latest checkpoint is then required and checked.
    pub key: Option<&'a VerifyingKey>,
    /// A copy kept outside the state directory (from `recert audit checkpoint`), checked too:
    /// it catches a checkpoint in the state directory deleted or put back to an older one.
    pub kept: Option<(String, Checkpoint)>,
}

/// Checks every review's trail in `store`; with a key, also the signed checkpoints.
pub fn verify(store: &Store, signed: Signed<'_>) -> Report {
    let mut report = Report::default();
    let mut checkpoints = Vec::new();
    if let Some(key) = signed.key {
        let path = store.root().join(checkpoint::FILE).display().to_string();
        if let Some(c) = load_checkpoint(store, key, &mut report.findings) {
            checkpoints.push((path, c));
        }
        if let Some((path, kept)) = signed.kept {
            match kept.check(key) {
                Ok(()) => checkpoints.push((path, kept)),
                Err(why) => report.findings.push(Finding::CheckpointInvalid {
                    path,
                    at: kept.at.to_string(),
                    why,
                }),
            }
        }
    }
    // Chains the checkpoints name, by first record, until a trail shows them.
    let mut unseen: BTreeMap<&str, Vec<(&checkpoint::ChainHead, &Checkpoint)>> = BTreeMap::new();
    for (_, c) in &checkpoints {
        for head in &c.chains {
            unseen
                .entry(head.first.as_str())
                .or_default()
                .push((head, c));
        }
    }
    for dir in store.review_folders() {
        let Some(trail) = review(&dir, &mut report) else {
            continue;
        };
        let Some(signed) = trail.hashes.first().and_then(|f| unseen.remove(f.as_str())) else {
            continue;
        };
        for (head, checkpoint) in signed {
            let at = usize::try_from(head.seq).unwrap_or(usize::MAX);
            if head.seq == 0 || trail.hashes.get(at - 1) != Some(&head.hash) {
                report.findings.push(Finding::CheckpointedRecordDiffers {
                    path: dir.join("audit.jsonl").display().to_string(),
                    seq: head.seq,
                    at: checkpoint.at.to_string(),
                });
            }
        }
    }
    for (head, checkpoint) in unseen.into_values().flatten() {
        report.findings.push(Finding::CheckpointedChainGone {
            review: head.review.clone(),
            seq: head.seq,
            at: checkpoint.at.to_string(),
        });
    }
    report
}

fn load_checkpoint(
    store: &Store,
    key: &VerifyingKey,
    findings: &mut Vec<Finding>,
) -> Option<Checkpoint> {
    let path = store.root().join(checkpoint::FILE).display().to_string();
    match checkpoint::latest(store) {
        Ok(None) => {
            findings.push(Finding::NoCheckpoint { path });
            None
        }
        Err(e) => {
            findings.push(Finding::CheckpointUnreadable {
                path,
                message: e.to_string(),
            });
            None
        }
        Ok(Some(c)) => match c.check(key) {
            Ok(()) => Some(c),
            Err(why) => {
                findings.push(Finding::CheckpointInvalid {
                    path,
                    at: c.at.to_string(),
                    why,
                });
                None
            }
        },
    }
}

/// Checks one review's folder; returns its trail when that verified.
fn review(dir: &Path, report: &mut Report) -> Option<Trail> {
    let shown = |p: &Path| p.display().to_string();
    let state_path = dir.join(files::STATE);
    let log = dir.join("audit.jsonl");
    for path in [dir, &state_path, &log] {
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            report.findings.push(Finding::Link { path: shown(path) });
            return None;
        }
    }
    let stored = match crate::fsutil::open_read(&state_path).and_then(std::io::read_to_string) {
        Ok(text) => match serde_json::from_str::<Stored>(&text) {
            Ok(stored) => Some(stored),
            Err(e) => {
                report.findings.push(Finding::StateUnreadable {
                    path: shown(&state_path),
                    message: e.to_string(),
                });
                return None;
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            report.findings.push(Finding::StateUnreadable {
                path: shown(&state_path),
                message: e.to_string(),
            });
            return None;
        }
    };
    let head = stored
        .as_ref()
        .map(|s| &s.audit_head)
        .filter(|h| !h.hash.is_empty());
    if !log.exists() {
        if let Some(head) = head {
            report.findings.push(Finding::TrailMissing {
                path: shown(&log),
                seq: head.seq,
            });
        } else if stored.is_none() && has_files(dir) {
            report
                .findings
                .push(Finding::Untracked { path: shown(dir) });
        }
        return None;
    }
    report.trails += 1;
    let name = stored.as_ref().map(|s| s.state.name.as_str());
    let trail = match super::verify_trail(&log, head, name) {
        Ok(trail) => trail,
        Err(e) => {
            report.findings.push(Finding::Chain(e));
            return None;
        }
    };
    report.records += trail.records;
    if stored.is_none() && trail.records > 0 {
        report.findings.push(Finding::StateMissing {
            path: shown(&state_path),
            records: trail.records,
        });
    }
    let mut recorded = trail.files.clone();
    if stored.is_none() {
        // Already reported as missing: not again as a file.
        recorded.remove(files::STATE);
    }
    report
        .findings
        .extend(files::check(dir, &recorded).into_iter().map(Finding::File));
    if let Some(stored) = &stored {
        report.findings.extend(
            super::population::check(&shown(&state_path), &stored.state, &trail.populations)
                .into_iter()
                .map(Finding::Population),
        );
    }
    Some(trail)
}

/// Whether a folder holds anything but Recert's hidden temporaries and markers.
fn has_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .any(|e| !e.file_name().to_string_lossy().starts_with('.'))
    })
}

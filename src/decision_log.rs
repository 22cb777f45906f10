//! Decisions made on the reviewer page: an append-only log per review,
//! `STATE/reviews/NAME/web-decisions.jsonl`, one JSON line per decision.
//!
//! The page answers only once its line is on disk (fsynced), so a decision the reviewer saw
//! accepted survives a crash of the machine. The next pass reads the log and records each line
//! as an entry of the signed-in reviewer, under exactly the rules of an entry from a decisions
//! file ([`crate::reconcile`]), except that its recorded time is the time on the line, not the
//! pass's: the reviewer decided then.
//!
//! Many reviewers deciding at once must not each wait for an fsync of their own: one writer
//! thread takes every line waiting, writes each review's lines in one `write`, fsyncs each file
//! once, and then answers all of them (group commit).

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::model::decisions::{Decision, DecisionEntry, ReviewDecisionsSpec};
use crate::model::review::Timestamp;
use crate::reconcile::DecisionFile;

/// The log's file name in a review's folder.
pub const FILE: &str = "web-decisions.jsonl";

/// One decision as the page recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Recorded {
    /// The instance decided on, by id.
    pub instance: String,
    /// The signed-in reviewer's directory user id.
    pub reviewer: String,
    /// The principal decided on, by id.
    pub principal: String,
    pub decision: Decision,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the page recorded it.
    pub at: Timestamp,
    /// The identity provider's `sub` and `iss` of the sign-in.
    pub subject: String,
    pub issuer: String,
}

impl Recorded {
    /// Where an entry from the page says it came from, in status, results and the audit trail.
    pub fn source(&self) -> String {
        format!("web sign-in {} ({})", self.subject, self.issuer)
    }
}

/// The log of review `name` under the state directory `root`.
pub fn path(root: &Path, name: &str) -> PathBuf {
    root.join("reviews").join(name).join(FILE)
}

/// A line of the log that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub message: String,
}

/// Every complete line of the log at `path`, in the order written; none when there is no log.
/// A line still being written (no newline yet) is left for the next read; a line that cannot
/// be read (a torn write after a crash, a hand edit) is reported and skipped.
pub fn read(path: &Path) -> std::io::Result<(Vec<Recorded>, Vec<BadLine>)> {
    let mut file = match crate::fsutil::open_read(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for (index, line) in bytes[..complete].split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Recorded>(line) {
            Ok(recorded) => out.push(recorded),
            Err(e) => bad.push(BadLine {
                line: index + 1,
                message: e.to_string(),
            }),
        }
    }
    Ok((out, bad))
}

/// The last line of each reviewer on each principal of `instance`: the decision that stands
/// for the page (a later one replaces an earlier one, as an edited file entry does).
pub fn latest<'a>(log: &'a [Recorded], instance: &str) -> Vec<&'a Recorded> {
    let mut by_key: BTreeMap<(&str, &str), &Recorded> = BTreeMap::new();
    for recorded in log.iter().filter(|r| r.instance == instance) {
        by_key.insert((&recorded.reviewer, &recorded.principal), recorded);
    }
    by_key.into_values().collect()
}

/// A line as the engine takes it: an entry of the reviewer on the principal, naming its
/// instance, recorded at the line's time.
pub fn as_decision_file(review: &str, line: &Recorded) -> DecisionFile {
    DecisionFile {
        source: line.source(),
        spec: ReviewDecisionsSpec {
            review: review.to_owned(),
            instance: Some(line.instance.clone()),
            stage: None,
            reviewer: line.reviewer.clone(),
            decisions: vec![DecisionEntry {
                principal: Some(line.principal.clone()),
                principals: Vec::new(),
                decision: line.decision,
                reason: line.reason.clone(),
                instance: None,
                stage: None,
                after_reset: None,
            }],
        },
        recorded_at: Some(line.at),
    }
}

/// The last line of each reviewer on each principal of each instance, in log order of keys.
pub fn latest_of_all(log: &[Recorded]) -> Vec<&Recorded> {
    let mut by_key: BTreeMap<(&str, &str, &str), &Recorded> = BTreeMap::new();
    for line in log {
        by_key.insert((&line.instance, &line.reviewer, &line.principal), line);
    }
    by_key.into_values().collect()
}

/// Why lines could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("writing the decisions log: {0}")]
    Io(#[from] std::io::Error),
    #[error("the decisions log's writer has stopped")]
    Stopped,
}

struct Job {
    review: String,
    lines: Vec<Recorded>,
    done: oneshot::Sender<Result<(), String>>,
}

/// The one writer of every review's log in this process; cloning shares it.
#[derive(Debug, Clone)]
pub struct Appender {
    tx: mpsc::UnboundedSender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("review", &self.review).finish()
    }
}

impl Appender {
    /// Starts the writer thread for the state directory `root`. It ends when every clone is
    /// dropped.
    pub fn start(root: PathBuf) -> Appender {
        let (tx, rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("recert-decisions".to_owned())
            .spawn(move || write_loop(&root, rx))
            .map(|_| ())
            .unwrap_or_else(
                |e| tracing::error!(error = %e, "the decisions log's writer did not start"),
            );
        Appender { tx }
    }

    /// Appends `lines` to review `review`'s log and returns once they are on disk.
    pub async fn append(&self, review: &str, lines: Vec<Recorded>) -> Result<(), AppendError> {
        let (done, answer) = oneshot::channel();
        self.tx
            .send(Job {
                review: review.to_owned(),
                lines,
                done,
            })
            .map_err(|_| AppendError::Stopped)?;
        match answer.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(AppendError::Io(std::io::Error::other(message))),
            Err(_) => Err(AppendError::Stopped),
        }
    }
}

fn write_loop(root: &Path, mut rx: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = vec![first];
        while let Ok(job) = rx.try_recv() {
            jobs.push(job);
        }
        let mut by_review: BTreeMap<String, Vec<Job>> = BTreeMap::new();
        for job in jobs {
            by_review.entry(job.review.clone()).or_default().push(job);
        }
        for (review, jobs) in by_review {
            let result = write_lines(root, &review, jobs.iter().flat_map(|j| &j.lines))
                .map_err(|e| e.to_string());
            for job in jobs {
                let _ = job.done.send(result.clone());
            }
        }
    }
}

/// One `write` of every line (`O_APPEND`: a reader sees a line whole or not at all, and a killed
/// process loses none), then one fsync.
fn write_lines<'a>(
    root: &Path,
    review: &str,
    lines: impl Iterator<Item = &'a Recorded>,
) -> std::io::Result<()> {
    let folder = root.join("reviews").join(review);
    crate::fsutil::refuse_links(root, &folder)?;
    let mut text = Vec::new();
    for line in lines {
        serde_json::to_writer(&mut text, line)?;
        text.push(b'\n');
    }
    let mut file = crate::fsutil::open_append(&folder.join(FILE))?;
    file.write_all(&text)?;
    file.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(reviewer: &str, principal: &str, decision: Decision, at: &str) -> Recorded {
        Recorded {
            instance: "2026-12-01".to_owned(),
            reviewer: reviewer.to_owned(),
            principal: principal.to_owned(),
            decision,
            reason: Some("why".to_owned()),
            at: Timestamp::parse(at).expect("a time"),
            subject: "sub-1".to_owned(),
            issuer: "https://idp.example".to_owned(),
        }
    }

    #[tokio::test]
    async fn concurrent_appends_all_land_whole_and_the_latest_per_reviewer_and_principal_stands() {
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::create_dir_all(dir.path().join("reviews/r")).expect("a review folder");
        let appender = Appender::start(dir.path().to_owned());
        let mut tasks = Vec::new();
        for reviewer in 0..20 {
            let appender = appender.clone();
            tasks.push(tokio::spawn(async move {
                for item in 0..10 {
                    let decision = if item % 2 == 0 {
                        Decision::Approve
                    } else {
                        Decision::Deny
                    };
                    let recorded = line(
                        &format!("u-{reviewer}"),
                        &format!("p-{item}"),
                        decision,
                        "2026-12-02T10:00:00Z",
                    );
                    appender
                        .append("r", vec![recorded])
                        .await
                        .expect("appended");
                }
            }));
        }
        for task in tasks {
            task.await.expect("a task");
        }
        let (log, bad) = read(&path(dir.path(), "r")).expect("readable");
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(log.len(), 200);
        let mut later = line("u-3", "p-4", Decision::Deny, "2026-12-03T10:00:00Z");
        later.reason = Some("changed my mind".to_owned());
        appender
            .append("r", vec![later.clone()])
            .await
            .expect("appended");
        let (log, _) = read(&path(dir.path(), "r")).expect("readable");
        let standing = latest(&log, "2026-12-01");
        assert_eq!(standing.len(), 200, "one per reviewer and principal");
        assert!(standing.contains(&&later));
        assert!(
            latest(&log, "2027-03-01").is_empty(),
            "another instance has none"
        );
    }

    #[test]
    fn a_line_being_written_waits_and_a_torn_line_is_reported_not_fatal() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let file = dir.path().join(FILE);
        let good = serde_json::to_string(&line(
            "u-1",
            "p-1",
            Decision::Approve,
            "2026-12-02T10:00:00Z",
        ))
        .expect("json");
        std::fs::write(
            &file,
            format!("{good}\n{{\"instance\": \"2026-12-01\", \"rev\n{good}\n{{\"half"),
        )
        .expect("written");
        let (log, bad) = read(&file).expect("readable");
        assert_eq!(log.len(), 2);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].line, 2);
        assert_eq!(
            read(&dir.path().join("none")).expect("no log").0,
            Vec::new()
        );
    }

    #[test]
    fn the_log_refuses_a_link_in_place_of_the_review_folder() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let elsewhere = tempfile::tempdir().expect("another dir");
        std::fs::create_dir_all(dir.path().join("reviews")).expect("reviews");
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("reviews/r")).expect("a link");
        let recorded = line("u-1", "p-1", Decision::Approve, "2026-12-02T10:00:00Z");
        assert!(write_lines(dir.path(), "r", [&recorded].into_iter()).is_err());
        assert!(!elsewhere.path().join(FILE).exists());
    }
}

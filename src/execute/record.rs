//! Recording one review: its audit events, then its state (with any removals pending, so that
//! the state is on disk before the directory is touched), then its status and results. Nothing
//! is written in place of evidence that cannot be produced: an event that cannot be encoded, a
//! status or CSV that cannot be rendered, fails the review with a reason instead.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::audit;
use crate::error::ReviewError;
use crate::model::review::Timestamp;
use crate::reconcile::{Effect, ReviewPlan};
use crate::state::ReviewState;
use crate::status;
use crate::store::{Store, Stored};

/// Present in a review's folder while its status shows a problem (an error, a stale spec, a
/// stall), so that an idle pass still rewrites the status once the problem is gone.
const PROBLEM_MARKER: &str = "status.problem";

/// What the state directory holds of a review besides its state: the head of its audit chain
/// and the revision its status last showed.
pub type Heads = BTreeMap<String, (audit::Head, Option<String>)>;

/// What every record of a pass carries: its time and the manifests' revision.
#[derive(Debug, Clone, Copy)]
pub struct Stamp<'a> {
    pub now: Timestamp,
    pub revision: Option<&'a str>,
}

/// How recording a review ended.
#[derive(Debug)]
pub struct Recorded {
    pub name: String,
    pub error: Option<ReviewError>,
    /// The state written, summarised (none for an archived review).
    pub summary: Option<status::Summary>,
}

/// A review ready to record.
#[derive(Debug)]
pub struct Prepared {
    pub entry: Stored,
    /// Nothing to record: only the status may need rewriting.
    pub unchanged: bool,
    /// An error already met (the state of a new revision could not be saved).
    pub error: Option<ReviewError>,
}

/// Whether the review's status shows a problem.
pub fn shows_problem(store: &Store, review: &str) -> bool {
    store.review_dir(review).join(PROBLEM_MARKER).exists()
}

/// The entry to record for a review, or (`Err`) the summary of a review left alone: idle,
/// with the same revision.
pub fn prepare(
    store: &Store,
    review: &ReviewPlan,
    next: ReviewState,
    head: Option<&(audit::Head, Option<String>)>,
    idle: bool,
    revision: Option<&str>,
) -> Result<Prepared, status::Summary> {
    let name = &review.review;
    let same_revision = revision.is_none() || head.is_some_and(|(_, r)| r.as_deref() == revision);
    let recorded = store.review_dir(name).join("state.json").exists();
    if idle && same_revision && recorded {
        return Err(status::Summary::of(&next));
    }
    let entry = Stored {
        state: next,
        audit_head: head.map(|(h, _)| h.clone()).unwrap_or_default(),
        revision: revision.map(str::to_owned),
    };
    let mut error = None;
    if !same_revision
        && review.is_empty()
        && let Err(e) = store.save(&entry)
    {
        error = Some(ReviewError::StateWrite(e.to_string()));
    }
    Ok(Prepared {
        entry,
        unchanged: review.is_empty() && recorded,
        error,
    })
}

/// Records a review's plan: its audit events, then its state, then, for a deleted review, its
/// final status and results and the move to the archive (which then holds what the state and
/// the audit trail say: deleted). Returns whether the review was archived.
pub fn record_plan(
    store: &Store,
    review: &ReviewPlan,
    entry: &mut Stored,
    now: Timestamp,
    revision: Option<&str>,
) -> Result<bool, ReviewError> {
    let name = &review.review;
    std::fs::create_dir_all(store.review_dir(name)).map_err(|e| {
        ReviewError::StateWrite(format!("{}: {e}", store.review_dir(name).display()))
    })?;
    append_audit(store, name, entry, now, &events(review)?)?;
    store
        .save(entry)
        .map_err(|e| ReviewError::StateWrite(e.to_string()))?;
    if review.effects.contains(&Effect::Archive) {
        write_outputs(store, &entry.state, review, None, revision)?;
        store
            .archive(name, now)
            .map_err(|e| ReviewError::StateWrite(e.to_string()))?;
        return Ok(true);
    }
    Ok(false)
}

/// Appends events to the review's audit trail and moves the entry's head on.
pub fn append_audit(
    store: &Store,
    name: &str,
    entry: &mut Stored,
    now: Timestamp,
    events: &[Value],
) -> Result<(), ReviewError> {
    entry.audit_head = audit::append(
        &store.audit_path(name),
        &entry.audit_head,
        name,
        now,
        events,
    )
    .map_err(|e| ReviewError::AuditWrite(e.to_string()))?;
    Ok(())
}

/// The audit events of a review's plan: its changes and the notifications it sends.
fn events(review: &ReviewPlan) -> Result<Vec<Value>, ReviewError> {
    let mut out = Vec::with_capacity(review.changes.len());
    for change in &review.changes {
        out.push(serde_json::to_value(change).map_err(|e| {
            ReviewError::AuditWrite(format!("an event cannot be encoded ({e}): {change}"))
        })?);
    }
    for effect in &review.effects {
        if let Effect::Notify {
            event,
            instance,
            reviewers,
        } = effect
        {
            out.push(json!({ "change": "notification", "event": event, "instance": instance, "reviewers": reviewers }));
        }
    }
    Ok(out)
}

/// Writes a review's status and results after its records. `error` is the pass's own for this
/// review; `shown` is what the status shows (that error, or the directory's).
pub fn finish(
    store: &Store,
    review: &ReviewPlan,
    entry: &Stored,
    mut error: Option<ReviewError>,
    shown: Option<&ReviewError>,
    revision: Option<&str>,
) -> Option<Recorded> {
    let name = review.review.clone();
    if review.effects.contains(&Effect::Archive) {
        return error.map(|e| Recorded {
            name,
            error: Some(e),
            summary: None,
        });
    }
    let shown = error.as_ref().or(shown);
    if let Err(e) = write_outputs(store, &entry.state, review, shown, revision) {
        error = Some(e);
    }
    Some(Recorded {
        name,
        error,
        summary: Some(status::Summary::of(&entry.state)),
    })
}

/// Writes the status file and every instance's results, skipping files whose content is
/// unchanged (a quiet reconcile leaves no trace in `git status` or mtimes).
fn write_outputs(
    store: &Store,
    state: &ReviewState,
    review: &ReviewPlan,
    error: Option<&ReviewError>,
    revision: Option<&str>,
) -> Result<(), ReviewError> {
    let output = |e: &dyn std::fmt::Display| ReviewError::Output(e.to_string());
    let marker = store.review_dir(&state.name).join(PROBLEM_MARKER);
    let problem = error.is_some() || review.stale_spec.is_some() || review.stalled.is_some();
    if problem {
        store.write_derived(&marker, b"").map_err(|e| output(&e))?;
    } else if let Err(e) = std::fs::remove_file(&marker)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        return Err(output(&format!(
            "cannot remove `{}`: {e}",
            marker.display()
        )));
    }
    let mut files: Vec<(PathBuf, String)> = vec![(
        store.review_dir(&state.name).join("status.yaml"),
        status::render(state, review, error, revision).map_err(|e| output(&e))?,
    )];
    for instance in &state.instances {
        files.push((
            store.results_path(&state.name, &instance.id),
            status::results_csv(state, instance).map_err(|e| output(&e))?,
        ));
    }
    for (path, text) in files {
        if std::fs::read(&path).is_ok_and(|old| old == text.as_bytes()) {
            continue;
        }
        store
            .write_derived(&path, text.as_bytes())
            .map_err(|e| output(&e))?;
    }
    Ok(())
}

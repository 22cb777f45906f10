//! Recording one review: its audit events, then its state (with any removals pending, so that
//! the state is on disk before the directory is touched), then its status and results. Nothing
//! is written in place of evidence that cannot be produced: an event that cannot be encoded, a
//! status or CSV that cannot be rendered, fails the review with a reason instead.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::audit;
use crate::error::ReviewError;
use crate::model::review::NotificationEvent;
use crate::model::review::Timestamp;
use crate::reconcile::{Change, Effect, ReviewPlan};
use crate::report;
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
    /// Nothing to record: only the status may need rewriting (and with it the state, which
    /// holds the revision the status shows).
    pub unchanged: bool,
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
    Ok(Prepared {
        entry,
        unchanged: review.is_empty() && recorded,
    })
}

/// What a review's recording adds: the plan's events, and whether its state is saved.
#[derive(Debug, Default)]
pub struct Recording {
    pub events: Vec<Value>,
    pub save_state: bool,
}

impl Recording {
    /// A review's plan recorded in full: its events and its state.
    pub fn of(review: &ReviewPlan) -> Result<Recording, ReviewError> {
        Ok(Recording {
            events: events(review)?,
            save_state: true,
        })
    }
}

/// Records a review: one audit append holding the plan's events and the digests of every file
/// this recording writes (state, status, results), then the state, then the status and
/// results that changed, and, for a review deleted now, the move to the archive (which then
/// holds a final status, `phase: Deleted`, as the state and the audit trail say). `error` is
/// the pass's own for this review; `shown` is what the status shows besides (the directory's).
pub fn record(
    store: &Store,
    review: &ReviewPlan,
    entry: &mut Stored,
    stamp: Stamp<'_>,
    recording: Recording,
    mut error: Option<ReviewError>,
    shown: Option<&ReviewError>,
) -> Option<Recorded> {
    let name = review.review.clone();
    let archive = review.effects.contains(&Effect::Archive);
    let outcome = record_files(
        store,
        review,
        entry,
        stamp,
        recording,
        error.as_ref().or(shown),
    );
    if let Err(e) = outcome {
        // The status still says what went wrong, though the trail could not record it.
        if !archive {
            let _ = write_outputs(store, entry, review, Some(&e), stamp.revision);
        }
        error = Some(e);
    }
    if archive {
        return error.map(|e| Recorded {
            name,
            error: Some(e),
            summary: None,
        });
    }
    Some(Recorded {
        name,
        error,
        summary: Some(status::Summary::of(&entry.state)),
    })
}

fn record_files(
    store: &Store,
    review: &ReviewPlan,
    entry: &mut Stored,
    stamp: Stamp<'_>,
    recording: Recording,
    shown: Option<&ReviewError>,
) -> Result<(), ReviewError> {
    let name = &review.review;
    let dir = store.review_dir(name);
    std::fs::create_dir_all(&dir)
        .map_err(|e| ReviewError::StateWrite(format!("{}: {e}", dir.display())))?;
    // Every append moves the chain's head, which the state holds: whatever is recorded, the
    // state is saved after it (and its digest goes with the rest). When that is known already,
    // the state is serialised while the outputs are rendered.
    let surely = recording.save_state || !recording.events.is_empty();
    let (outputs, state) = rayon::join(
        || {
            changed_outputs(
                store,
                &entry.state,
                review,
                shown,
                stamp.revision,
                &entry.audit_head,
            )
        },
        || surely.then(|| audit::files::state_bytes(&entry.state)),
    );
    let outputs = outputs?;
    let state = match state {
        Some(state) => Some(state),
        None if !outputs.is_empty() => Some(audit::files::state_bytes(&entry.state)),
        None => None,
    };
    let mut files: Vec<(&str, &[u8])> = Vec::with_capacity(outputs.len() + 1);
    if let Some(state) = &state {
        files.push((audit::files::STATE, state));
    }
    files.extend(outputs.iter().map(|o| (o.name.as_str(), o.text.as_bytes())));
    let mut events = recording.events;
    if !files.is_empty() {
        events.push(audit::files::files_event(&files));
    }
    append_audit(store, name, entry, stamp.now, &events)?;
    if let Some(state) = &state {
        store
            .save_with_state(entry, state)
            .map_err(|e| ReviewError::StateWrite(e.to_string()))?;
    }
    write_changed(store, &entry.state, review, shown, &outputs)?;
    if review.effects.contains(&Effect::Archive) {
        store
            .archive(name, stamp.now)
            .map_err(|e| ReviewError::StateWrite(e.to_string()))?;
    }
    Ok(())
}

/// Records events and the state they lead to (with the state's digest) before the directory
/// is touched: the apply's first record.
pub fn record_state(
    store: &Store,
    name: &str,
    entry: &mut Stored,
    now: Timestamp,
    mut events: Vec<Value>,
) -> Result<(), ReviewError> {
    let dir = store.review_dir(name);
    std::fs::create_dir_all(&dir)
        .map_err(|e| ReviewError::StateWrite(format!("{}: {e}", dir.display())))?;
    let state = audit::files::state_bytes(&entry.state);
    events.push(audit::files::files_event(&[(audit::files::STATE, &state)]));
    append_audit(store, name, entry, now, &events)?;
    store
        .save_with_state(entry, &state)
        .map_err(|e| ReviewError::StateWrite(e.to_string()))
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
    events_of(review, 0, 0)
}

/// The audit events of the changes and effects of a review's plan from `changes` and
/// `effects` on (those added after its first record).
pub fn events_of(
    review: &ReviewPlan,
    changes: usize,
    effects: usize,
) -> Result<Vec<Value>, ReviewError> {
    let mut out = Vec::with_capacity(review.changes.len());
    for change in review.changes.iter().skip(changes) {
        out.push(serde_json::to_value(change).map_err(|e| {
            ReviewError::AuditWrite(format!("an event cannot be encoded ({e}): {change}"))
        })?);
    }
    for effect in review.effects.iter().skip(effects) {
        if let Effect::Notify {
            event,
            instance,
            sequence,
            reviewers,
            owners,
        } = effect
        {
            out.push(json!({ "change": "notification", "event": event, "instance": instance, "sequence": sequence, "reviewers": reviewers, "owners": owners }));
        }
    }
    Ok(out)
}

/// A status or results file to write, named relative to the review's folder.
#[derive(Debug)]
struct Output {
    name: String,
    path: PathBuf,
    text: String,
}

/// The status, every instance's results, and the auditor's report of each instance that ended
/// or finished an apply in this plan, whose content differs from what is on disk (a quiet
/// reconcile leaves no trace in `git status` or mtimes). `head` is where the audit trail ends
/// before this recording: the reports verify the trail up to it.
fn changed_outputs(
    store: &Store,
    state: &ReviewState,
    review: &ReviewPlan,
    error: Option<&ReviewError>,
    revision: Option<&str>,
    head: &audit::Head,
) -> Result<Vec<Output>, ReviewError> {
    use rayon::prelude::*;
    let output = |e: &dyn std::fmt::Display| ReviewError::Output(e.to_string());
    let dir = store.review_dir(&state.name);
    // The status and each instance's results are rendered side by side: for an instance of
    // a hundred thousand items they are tens of megabytes each.
    // The reports (rare: an instance's end, an apply's) verify the trail and render beside
    // them.
    let ((status, reports), results) = rayon::join(
        || {
            rayon::join(
                || status::render(state, review, error, revision),
                || reports(store, state, review, head),
            )
        },
        || {
            state
                .instances
                .par_iter()
                .map(|instance| {
                    let path = store.results_path(&state.name, &instance.id);
                    let text = status::results_csv(state, instance)?;
                    Ok(Output {
                        name: path.strip_prefix(&dir).map_or_else(
                            |_| path.display().to_string(),
                            |p| p.display().to_string(),
                        ),
                        text,
                        path,
                    })
                })
                .collect::<Result<Vec<Output>, status::RenderError>>()
        },
    );
    let mut files = vec![Output {
        name: "status.yaml".to_owned(),
        path: dir.join("status.yaml"),
        text: status.map_err(|e| output(&e))?,
    }];
    files.extend(results.map_err(|e| output(&e))?);
    files.extend(reports);
    files.retain(|o| !std::fs::read(&o.path).is_ok_and(|old| old == o.text.as_bytes()));
    Ok(files)
}

/// The auditor's reports this plan calls for: when an instance ends (its end date, a stop)
/// and when an apply finishes (the owners are told then too). The trail is verified once for
/// all of them, and only then: a report is evidence of a moment, not rewritten every pass.
fn reports(
    store: &Store,
    state: &ReviewState,
    review: &ReviewPlan,
    head: &audit::Head,
) -> Vec<Output> {
    let mut due: Vec<&str> = Vec::new();
    for change in &review.changes {
        if let Change::Completed { instance, .. } | Change::Stopped { instance, .. } = change {
            due.push(instance);
        }
    }
    for effect in &review.effects {
        if let Effect::Notify {
            event: NotificationEvent::Applied,
            instance,
            ..
        } = effect
        {
            due.push(instance);
        }
    }
    due.sort_unstable();
    due.dedup();
    let instances: Vec<&crate::state::Instance> = due
        .iter()
        .filter_map(|id| state.instances.iter().find(|i| i.id == *id))
        .collect();
    if instances.is_empty() {
        return Vec::new();
    }
    let dir = store.review_dir(&state.name);
    let chain = report::ChainCheck::of(&store.audit_path(&state.name), head);
    instances
        .into_iter()
        .map(|instance| {
            let path = report::path(store, &state.name, &instance.id);
            let text = report::render(&report::Evidence {
                state,
                instance,
                chain: &chain,
            });
            Output {
                name: path
                    .strip_prefix(&dir)
                    .map_or_else(|_| path.display().to_string(), |p| p.display().to_string()),
                text,
                path,
            }
        })
        .collect()
}

/// Writes the outputs, and the marker that says the status shows a problem.
fn write_changed(
    store: &Store,
    state: &ReviewState,
    review: &ReviewPlan,
    error: Option<&ReviewError>,
    outputs: &[Output],
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
    for o in outputs {
        store
            .write_derived(&o.path, o.text.as_bytes())
            .map_err(|e| output(&e))?;
    }
    Ok(())
}

/// Writes the status and results without recording them (after a failure to record).
fn write_outputs(
    store: &Store,
    entry: &Stored,
    review: &ReviewPlan,
    error: Option<&ReviewError>,
    revision: Option<&str>,
) -> Result<(), ReviewError> {
    let state = &entry.state;
    let outputs = changed_outputs(store, state, review, error, revision, &entry.audit_head)?;
    write_changed(store, state, review, error, &outputs)
}

//! The pass: which reviews it covers, planning them batch by batch (state, directory,
//! `reconcile`), and handing each planned review to be recorded — by the writer threads when it
//! removes nothing, through [`super::apply`] here when it does.

use std::collections::{BTreeMap, BTreeSet};

use crate::context::Context;
use crate::decision_log;
use crate::diag::Severity;
use crate::directory::registry::Directories;
use crate::directory::{self, Directory};
use crate::error::ReviewError;
use crate::load::Loaded;
use crate::model::Resource;
use crate::model::review::Timestamp;
use crate::reconcile::{
    self, DecisionFile, Desired, DesiredReview, Effect, Observed, ObservedReview, Plan, ReviewPlan,
};
use crate::state::ReviewState;
use crate::status;
use crate::store::{self, Store};

use super::record::{self, Heads, Recorded};
use super::writers::{Done, Job, Writers};
use super::{apply, notices};
use crate::notify::Notifiers;
use crate::notify::message::Message;

/// What a pass covers and whether it writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct PassOptions<'a> {
    /// The reviews to reconcile; every review, recorded or in the manifests, when `None`.
    pub only: Option<&'a BTreeSet<String>>,
    /// The manifests' revision (a commit), recorded in each status.
    pub revision: Option<&'a str>,
    /// Carry the plan out. Without it the pass only plans (`recert plan`), and the plan keeps
    /// every review's next state.
    pub write: bool,
    /// Reviews gone from the manifests whose deletion is not confirmed yet: they keep their
    /// last good spec (the daemon's; a command line's single load deletes at once).
    pub unconfirmed_deletions: Option<&'a BTreeSet<String>>,
}

/// What a pass computed and did.
#[derive(Debug, Default)]
pub struct PassReport {
    /// The plan. When the pass wrote, its reviews' `next` states were recorded and taken out
    /// (`states` summarises them).
    pub plan: Plan,
    /// The reviews that failed, with why.
    pub errors: BTreeMap<String, ReviewError>,
    /// Problems of the state directory not tied to one review.
    pub store_errors: Vec<store::Error>,
    /// Reviews whose directory could not be read.
    pub unreachable: BTreeSet<String>,
    /// A summary of the state written for each review touched.
    pub states: BTreeMap<String, status::Summary>,
    /// Apply results recorded, by result name.
    pub applied: BTreeMap<&'static str, u64>,
    /// Messages this pass put in outboxes, for the sender.
    pub queued: Vec<Message>,
    /// The outbox segments the states this pass read refer to, and those it wrote.
    segments: BTreeSet<String>,
}

impl PassReport {
    /// One review's recording, as the pass or a writer finished it.
    fn took(&mut self, recorded: Option<Recorded>) {
        let Some(recorded) = recorded else { return };
        if let Some(e) = recorded.error {
            self.errors.insert(recorded.name.clone(), e);
        }
        if let Some(summary) = recorded.summary {
            self.states.insert(recorded.name, summary);
        }
    }

    /// A review back from the writers: its outcome here, its plan into the pass's plan.
    fn took_back(&mut self, done: Done) {
        self.took(done.recorded);
        self.plan.reviews.push(done.review);
    }
}

/// The reviews and decisions the manifests ask for.
pub fn desired(loaded: &Loaded) -> Desired {
    desired_of(loaded, None)
}

/// The manifest files with an error: reviews recorded from them keep their last good spec.
pub fn failed_sources(loaded: &Loaded) -> BTreeSet<String> {
    loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.file.display().to_string())
        .collect()
}

/// [`desired`] for the reviews in `only` (all when `None`): a pass over a few reviews does not
/// copy every review's spec and decisions.
pub fn desired_of(loaded: &Loaded, only: Option<&BTreeSet<String>>) -> Desired {
    let wanted = |name: &str| only.is_none_or(|names| names.contains(name));
    let mut desired = Desired {
        failed_sources: failed_sources(loaded),
        ..Desired::default()
    };
    for doc in &loaded.docs {
        if let Resource::AccessReview(review) = &doc.resource
            && wanted(&review.metadata.name)
        {
            let source = loaded.path_of(doc).display().to_string();
            desired
                .reviews
                .entry(review.metadata.name.clone())
                .or_insert(DesiredReview {
                    spec: review.spec.clone(),
                    source,
                    decisions: Vec::new(),
                });
        }
    }
    for doc in &loaded.docs {
        if let Resource::ReviewDecisions(decisions) = &doc.resource
            && let Some(review) = desired.reviews.get_mut(&decisions.spec.review)
        {
            review.decisions.push(DecisionFile {
                source: loaded.path_of(doc).display().to_string(),
                spec: decisions.spec.clone(),
                recorded_at: None,
            });
        }
    }
    desired
}

/// Reviews planned and carried out together. A pass goes batch by batch, so that it holds the
/// states of one batch at a time, not of every review (a thousand states of a hundred items
/// each are a few hundred megabytes in memory).
const BATCH: usize = 64;

/// The first batch is small: the writers wait for it, and start sooner on a few reviews.
const FIRST_BATCH: usize = 8;

/// `names` in batches: [`FIRST_BATCH`], then [`BATCH`] at a time.
fn batches(names: &[String]) -> impl Iterator<Item = &[String]> {
    let (first, rest) = names.split_at(FIRST_BATCH.min(names.len()));
    std::iter::once(first)
        .filter(|b| !b.is_empty())
        .chain(rest.chunks(BATCH))
}

/// One pass over already loaded manifests at `now`: the daemon's, and the command line's
/// through [`super::load_and_run`]. When it writes, the plan returned has no `next` states:
/// they were recorded, and `states` summarises them.
pub async fn run(
    ctx: &Context,
    loaded: &Loaded,
    store: &Store,
    directories: &mut Directories<'_>,
    now: Timestamp,
    options: &PassOptions<'_>,
) -> PassReport {
    let mut desired = desired_of(loaded, options.only);
    if let Some(unconfirmed) = options.unconfirmed_deletions {
        desired.unconfirmed_deletions.clone_from(unconfirmed);
    }
    let mut report = PassReport::default();
    let names = pass_names(store, &desired, options.only, &mut report);
    if !options.write {
        let planned = plan_some(&names, &mut desired, store, directories, now).await;
        report.unreachable.extend(planned.errors.keys().cloned());
        report.store_errors = planned.store_errors;
        report.errors = planned.errors;
        report.plan = planned.plan;
        return report;
    }
    let notifiers = Notifiers::of(loaded);
    let mut writers = Writers::new(ctx, store, now, options.revision);
    let mut every_state_read = options.only.is_none();
    for batch in batches(&names) {
        if ctx.stop_requested() {
            every_state_read = false;
            break;
        }
        let planned = plan_some(batch, &mut desired, store, directories, now).await;
        carry_out(
            ctx,
            store,
            planned,
            directories,
            &notifiers,
            &mut writers,
            &mut report,
        )
        .await;
        // The writers record this batch while the next is planned; waiting for the one
        // before keeps about two batches of states in memory.
        for done in writers.settle(BATCH).await {
            report.took_back(done);
        }
    }
    for done in writers.settle(0).await {
        report.took_back(done);
    }
    // Only a pass that read every state knows every segment still referred to.
    if every_state_read && report.store_errors.is_empty() {
        match crate::notify::segment::collect_garbage(store, &report.segments) {
            Ok(0) => {}
            Ok(n) => tracing::debug!(deleted = n, "outbox segments collected"),
            Err(e) => tracing::warn!(error = %e, "cannot collect outbox segments"),
        }
    }
    report.plan.reviews.sort_by(|a, b| a.review.cmp(&b.review));
    report
}

/// Carries out a plan computed elsewhere (a benchmark's, a test's) as a pass would: for each
/// review, its audit events and state, then its removals through the journal, then its status
/// and results.
pub async fn carry_out_plan(
    ctx: &Context,
    store: &Store,
    plan: Plan,
    directories: &mut Directories<'_>,
    now: Timestamp,
    revision: Option<&str>,
) -> PassReport {
    let names: Vec<&str> = plan.reviews.iter().map(|r| r.review.as_str()).collect();
    let (stored, store_errors) = store.load_some(names.into_iter());
    let heads = stored
        .into_iter()
        .map(|(name, s)| (name, (s.audit_head, s.revision)))
        .collect();
    let planned = Planned {
        plan,
        heads,
        errors: BTreeMap::new(),
        store_errors,
        segments: BTreeSet::new(),
    };
    let mut report = PassReport::default();
    let notifiers = Notifiers::of(directories.loaded());
    let mut writers = Writers::new(ctx, store, now, revision);
    carry_out(
        ctx,
        store,
        planned,
        directories,
        &notifiers,
        &mut writers,
        &mut report,
    )
    .await;
    for done in writers.settle(0).await {
        report.took_back(done);
    }
    report.plan.reviews.sort_by(|a, b| a.review.cmp(&b.review));
    report
}

/// The reviews a pass covers: `only`, or every review recorded or in the manifests.
fn pass_names(
    store: &Store,
    desired: &Desired,
    only: Option<&BTreeSet<String>>,
    report: &mut PassReport,
) -> Vec<String> {
    match only {
        Some(names) => names.iter().cloned().collect(),
        None => {
            let recorded = store.names().unwrap_or_else(|e| {
                report.store_errors.push(e);
                Vec::new()
            });
            let mut names: BTreeSet<String> = recorded.into_iter().collect();
            names.extend(desired.reviews.keys().cloned());
            names.into_iter().collect()
        }
    }
}

/// What planning a batch of reviews found.
#[derive(Debug)]
struct Planned {
    plan: Plan,
    heads: Heads,
    /// Per-review problems reading the directory.
    errors: BTreeMap<String, ReviewError>,
    store_errors: Vec<store::Error>,
    /// The outbox segments the recorded states refer to.
    segments: BTreeSet<String>,
}

/// Reads the recorded state of `names`, observes what they need and reconciles them; their
/// desired reviews are taken out of `desired`.
async fn plan_some(
    names: &[String],
    desired: &mut Desired,
    store: &Store,
    directories: &mut Directories<'_>,
    now: Timestamp,
) -> Planned {
    let (stored, store_errors) = store.load_some(names.iter().map(String::as_str));
    let mut heads = BTreeMap::new();
    let mut recorded = BTreeMap::new();
    let mut segments = BTreeSet::new();
    for (name, stored) in stored {
        heads.insert(name.clone(), (stored.audit_head, stored.revision));
        segments.extend(stored.state.outbox.segments().map(str::to_owned));
        recorded.insert(name, stored.state);
    }
    let part = Desired {
        reviews: names
            .iter()
            .filter_map(|n| Some((n.clone(), desired.reviews.remove(n)?)))
            .collect(),
        failed_sources: desired.failed_sources.clone(),
        unconfirmed_deletions: desired.unconfirmed_deletions.clone(),
    };
    let mut part = part;
    for (name, review) in &mut part.reviews {
        review.decisions.extend(page_decisions(store, name));
    }
    let mut errors = BTreeMap::new();
    let observed = observe(&part, &recorded, now, directories, &mut errors).await;
    let mut plan = reconcile::reconcile(&part, observed, &recorded, now);
    notices::fold_deliveries(store, &mut plan.reviews);
    Planned {
        plan,
        heads,
        errors,
        store_errors,
        segments,
    }
}

/// The decisions the reviewer page recorded for review `name`: the latest of each reviewer on
/// each principal of each instance, as entries of their own with the time the page recorded
/// them.
fn page_decisions(store: &Store, name: &str) -> Vec<DecisionFile> {
    let path = decision_log::path(store.root(), name);
    let log = match decision_log::read(&path) {
        Ok((log, bad)) => {
            for line in bad {
                tracing::warn!(review = name, path = %path.display(), line = line.line, error = %line.message, "skipping an unreadable line of the reviewer page's decisions");
            }
            log
        }
        Err(e) => {
            tracing::error!(review = name, path = %path.display(), error = %e, "the reviewer page's decisions cannot be read");
            return Vec::new();
        }
    };
    decision_log::latest_of_all(&log)
        .into_iter()
        .map(|line| decision_log::as_decision_file(name, line))
        .collect()
}

/// Reads from each review's directory what `reconcile::needs` asks for it.
async fn observe(
    desired: &Desired,
    recorded: &BTreeMap<String, ReviewState>,
    now: Timestamp,
    directories: &mut Directories<'_>,
    errors: &mut BTreeMap<String, ReviewError>,
) -> Observed {
    let mut observed = Observed::default();
    for (name, need) in reconcile::needs(desired, recorded, now) {
        let spec = &desired.reviews[&name].spec;
        let directory = match directories.get(&spec.directory) {
            Ok(directory) => directory,
            Err(e) => {
                errors.insert(name, e);
                continue;
            }
        };
        let mut review = ObservedReview {
            directory_type: Some(directory.kind().as_str().to_owned()),
            ..ObservedReview::default()
        };
        if need.scope {
            match directory::observe(directory, &spec.scope).await {
                Ok(scope) => review.scope = Some(scope),
                Err(e) => {
                    errors.insert(
                        name.clone(),
                        ReviewError::directory(&spec.directory, "cannot read the scope from", e),
                    );
                }
            }
        }
        let names: Vec<String> = need.names.into_iter().collect();
        for chunk in names.chunks(directory.lookup_batch_size().max(1)) {
            match directory.lookup(chunk).await {
                Ok(found) => {
                    for name in chunk {
                        if let Some(p) = directory::resolve_name(&found, name) {
                            review.people.insert(name.clone(), p.id().to_owned());
                            // A reviewer named by id is also known by their user principal
                            // name: `recert pending --reviewer bob@…` finds what waits for
                            // `u-bob`.
                            if let directory::Principal::User(u) = p {
                                review
                                    .people
                                    .entry(reconcile::normalize(&u.user_principal_name))
                                    .or_insert_with(|| u.id.clone());
                                if let Some(manager) = &u.manager {
                                    review.managers.insert(u.id.clone(), manager.clone());
                                }
                            }
                        }
                    }
                }
                Err(e) => {
                    errors.insert(
                        name.clone(),
                        ReviewError::directory(&spec.directory, "cannot look up reviewers in", e),
                    );
                }
            }
        }
        observed.reviews.insert(name, review);
    }
    observed
}

/// Carries out a planned batch: reviews with removals here, one at a time through the
/// journal; the others go to `writers` (they leave the plan until the writers give them back).
async fn carry_out(
    ctx: &Context,
    store: &Store,
    planned: Planned,
    directories: &mut Directories<'_>,
    notifiers: &Notifiers,
    writers: &mut Writers,
    report: &mut PassReport,
) {
    let Planned {
        mut plan,
        heads,
        errors: observe_errors,
        store_errors,
        segments,
    } = planned;
    report.store_errors.extend(store_errors);
    report.segments.extend(segments);
    report.unreachable.extend(observe_errors.keys().cloned());
    // A review whose directory could not be read failed this pass, whatever its recording
    // does (its status shows why, and the daemon backs off).
    report.errors.extend(
        observe_errors
            .iter()
            .map(|(name, e)| (name.clone(), e.clone())),
    );
    let now = writers.now();
    let revision = writers.revision().map(str::to_owned);
    let revision = revision.as_deref();
    // Idle reviews (nothing to do, no new error, same revision) are not touched at all.
    // A review whose status shows a problem is not idle even when its plan is empty: the
    // problem may just have gone (a manifest fixed), and the status must say so.
    let idle = |r: &ReviewPlan| {
        r.is_empty()
            && r.stale_spec.is_none()
            && r.stalled.is_none()
            && !observe_errors.contains_key(&r.review)
            && !record::shows_problem(store, &r.review)
    };
    // Reviews that remove nothing only write their own files: the writers take them, which
    // matters when a thousand instances start at once and each state is fsynced. Reviews
    // with removals talk to the directory through the journal, one at a time, here.
    let mut serial = Vec::new();
    let mut parallel = Vec::new();
    let mut composed = Vec::new();
    for mut review in std::mem::take(&mut plan.reviews) {
        let Some(mut next) = review.next.take() else {
            report.plan.reviews.push(review);
            continue;
        };
        let messages = notices::compose_notices(
            &review.effects,
            &mut review.changes,
            &mut next,
            notifiers,
            directories,
            now,
        )
        .await;
        composed.push((review, next, messages));
    }
    // The batch's messages, in one file fsynced once, before any state refers to them.
    let all: Vec<&Message> = composed.iter().flat_map(|(_, _, m)| m).collect();
    let segment = notices::write_segment(ctx, store, &all);
    drop(all);
    report.segments.extend(segment.clone());
    for (review, mut next, messages) in composed {
        notices::enqueue(&mut next, &messages, segment.as_deref());
        report.queued.extend(messages);
        let is_idle = idle(&review);
        let prepared = record::prepare(
            store,
            &review,
            next,
            heads.get(&review.review),
            is_idle,
            revision,
        );
        let job = match prepared {
            Ok(prepared) => Job {
                shown: observe_errors.get(&review.review).cloned(),
                review,
                entry: prepared.entry,
                unchanged: prepared.unchanged,
                error: None,
            },
            Err(summary) => {
                report.states.insert(review.review.clone(), summary);
                report.plan.reviews.push(review);
                continue;
            }
        };
        let removes = job
            .review
            .effects
            .iter()
            .any(|e| matches!(e, Effect::Remove { .. }));
        if removes {
            serial.push(job);
        } else {
            parallel.push(job);
        }
    }
    let names = parallel
        .iter()
        .chain(&serial)
        .map(|j| j.review.review.as_str());
    if let Err(e) = store.create_review_dirs(names) {
        let e = ReviewError::StateWrite(e.to_string());
        for job in parallel.iter_mut().chain(&mut serial) {
            job.error.get_or_insert_with(|| e.clone());
        }
    }
    for job in parallel {
        writers.submit(job);
    }
    for mut job in serial {
        if ctx.stop_requested() {
            report.plan.reviews.push(job.review);
            continue;
        }
        let stamp = record::Stamp { now, revision };
        let mut recording = record::Recording::default();
        let mut journal = None;
        if !job.unchanged {
            match apply::apply_review(
                ctx,
                store,
                &job.review,
                &mut job.entry,
                directories,
                stamp,
                &mut report.applied,
            )
            .await
            {
                // The outcomes, the state holding them, the status and the results: one
                // audit append and one save; the journal goes once they are recorded.
                Ok(applied) => {
                    let mut events = applied.events;
                    // The owners hear how the apply ended once its outcomes are in the state.
                    let (effects, changes) = (job.review.effects.len(), job.review.changes.len());
                    reconcile::apply::notify_finished(&mut job.entry.state, &mut job.review);
                    let queued = notices::compose_notices(
                        &job.review.effects[effects..],
                        &mut job.review.changes,
                        &mut job.entry.state,
                        notifiers,
                        directories,
                        now,
                    )
                    .await;
                    let segment =
                        notices::write_segment(ctx, store, &queued.iter().collect::<Vec<_>>());
                    notices::enqueue(&mut job.entry.state, &queued, segment.as_deref());
                    report.segments.extend(segment);
                    report.queued.extend(queued);
                    match record::events_of(&job.review, changes, effects) {
                        Ok(more) => events.extend(more),
                        Err(e) => job.error = Some(e),
                    }
                    recording = record::Recording {
                        save_state: applied.journal.is_some() || !events.is_empty(),
                        events,
                    };
                    journal = applied.journal;
                }
                Err(e) => job.error = Some(e),
            }
        }
        let recorded = record::record(
            store,
            &job.review,
            &mut job.entry,
            stamp,
            recording,
            job.error,
            job.shown.as_ref(),
        );
        if let Some(journal) = journal
            && recorded.as_ref().is_some_and(|r| r.error.is_none())
            && let Err(e) = journal.clear()
        {
            tracing::warn!(review = %job.review.review, error = %e, "cannot clear the apply journal; the next pass reads its outcomes again");
        }
        report.took(recorded);
        report.plan.reviews.push(job.review);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_cover_every_name_once_in_order_a_small_one_first() {
        for n in [0, 1, 8, 9, 72, 73, 150] {
            let names: Vec<String> = (0..n).map(|i| format!("r-{i:03}")).collect();
            let sizes: Vec<usize> = batches(&names).map(<[String]>::len).collect();
            assert!(sizes.iter().all(|&s| s > 0), "{n}: {sizes:?}");
            assert_eq!(sizes.first().copied(), (n > 0).then(|| n.min(FIRST_BATCH)));
            assert!(sizes.iter().skip(1).all(|&s| s <= BATCH), "{n}: {sizes:?}");
            let joined: Vec<&String> = batches(&names).flatten().collect();
            assert_eq!(joined, names.iter().collect::<Vec<_>>());
        }
    }
}

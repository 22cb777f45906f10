//! Decisions: entries in reviewers' files become recorded decisions, or rejections.
//!
//! An entry is recorded when Recert first sees it with that decision and reason; its recorded
//! time orders it against others, and the last recorded decision on an item wins. An entry
//! that is invalid (reviewer not allowed, principal not in the instance, reason missing, or
//! arriving after the instance ended) is rejected and kept, so the status shows it. A reset
//! marks every accepted entry cleared: it counts again once the reviewer changes it or names
//! that reset in its `afterReset`. While an instance runs, removing an entry from the file
//! withdraws it; once it has ended, its decisions are frozen. Entries already in a file when
//! the next instance of a recurring review starts count for it only once changed or once they
//! name that instance (`instance`), so nobody is re-approved by an old file. One reviewer
//! deciding one principal differently in several places decides nothing until they agree.
//!
//! In a multi-stage review an entry counts for the stage in progress when it is recorded, if
//! the stage's reviewers include its reviewer and the stage reviews its item. The same carry
//! rule holds for stages: entries already in a file when a later stage starts count for it
//! only once changed or once they name it (`stage`). An entry naming a stage still to come
//! waits for it; one naming a stage that ended is rejected.

use std::collections::BTreeMap;

use crate::model::decisions::Decision;
use crate::model::review::Timestamp;
use crate::state::{DecisionState, Entry, EntryStatus, Instance, ReviewState};

use super::authority::{self, Names as _};
use super::{Change, DecisionFile, InstanceNames, ReviewPlan, normalize, subject_of};

struct Seen {
    reviewer: String,
    principal: String,
    decision: Decision,
    reason: Option<String>,
    source: String,
    /// Already in the file when this instance started (see `fresh`).
    carried: bool,
    /// Every file with an entry by this reviewer on this principal, when they disagree.
    conflict: Option<Vec<String>>,
    /// The reset the entry says it was made after.
    after_reset: Option<String>,
    /// The entry (or its file) names the instance it is meant for.
    named: bool,
    /// The stage the entry (or its file) names, from 1.
    stage: Option<u32>,
    /// When the reviewer page recorded it (an entry from a file is recorded when first seen).
    recorded: Option<Timestamp>,
    /// Why the entry cannot count whatever it says (it names a stage that ended).
    problem: Option<String>,
}

/// Whether two entries by one reviewer on one principal say the same thing (a reason of only
/// blanks is no reason). `validate` reports the entries this says disagree.
pub fn agree(a: (Decision, Option<&str>), b: (Decision, Option<&str>)) -> bool {
    fn reason(r: Option<&str>) -> Option<&str> {
        r.map(str::trim).filter(|r| !r.is_empty())
    }
    a.0 == b.0 && reason(a.1) == reason(b.1)
}

/// Why entries that disagree do not count, as a rejection says it.
pub fn conflict_reason(reviewer: &str, principal: &str, sources: &[String]) -> String {
    format!(
        "{CONFLICT}: `{reviewer}` decides `{principal}` differently in {}; none of these entries counts until they agree",
        sources.join(", ")
    )
}

const CONFLICT: &str = "conflicting decisions";

impl Seen {
    /// The file the entry is in, or every file of a conflict.
    fn sources(&self) -> String {
        self.conflict
            .as_ref()
            .map_or_else(|| self.source.clone(), |sources| sources.join(", "))
    }

    fn conflict_reason(&self) -> Option<String> {
        let sources = self.conflict.as_ref()?;
        Some(conflict_reason(&self.reviewer, &self.principal, sources))
    }
}

/// The conflict a recorded entry was rejected for, if any.
fn recorded_conflict(entry: &Entry) -> Option<&str> {
    match &entry.status {
        EntryStatus::Rejected { reason } if reason.starts_with(CONFLICT) => Some(reason),
        _ => None,
    }
}

impl Seen {
    fn entry(&self, seen: Timestamp, status: EntryStatus) -> Entry {
        Entry {
            reviewer: self.reviewer.clone(),
            principal: self.principal.clone(),
            decision: self.decision,
            reason: self.reason.clone(),
            source: self.sources(),
            seen: self.recorded.unwrap_or(seen),
            status,
        }
    }
}

/// Records the entries of `files` at `now`. With `page_until`, only the reviewer page's
/// decisions recorded before that time (the end of the stage or instance in progress, which
/// has passed) are recorded, and nothing is withdrawn: a decision the page recorded before an
/// end counts for what ended, however late the pass that reads it.
pub(super) fn record(
    state: &mut ReviewState,
    files: &[DecisionFile],
    now: Timestamp,
    page_until: Option<Timestamp>,
    plan: &mut ReviewPlan,
) {
    // Entries carried over from the previous instance (files without `instance:`) must not
    // re-approve anyone: on a new instance they count only once the reviewer changes them.
    let fresh = plan.changes.iter().find_map(|c| match c {
        Change::InstanceStarted { instance, .. } => Some(instance.clone()),
        _ => None,
    });
    // Likewise entries already in the files when a later stage starts count for it only once
    // changed or once they name it.
    let stage_fresh = plan.changes.iter().find_map(|c| match c {
        Change::StageStarted { instance, .. } => Some(instance.clone()),
        _ => None,
    });
    let Some(current) = state.instances.last().map(|i| i.id.clone()) else {
        // Nothing to decide on yet: entries are read again once an instance starts.
        return;
    };
    // Entries per instance id, keyed by reviewer and principal id.
    let mut seen: BTreeMap<String, BTreeMap<String, Seen>> = BTreeMap::new();
    // One set of names per instance, each indexed once, whatever the number of entries.
    let by_instance: Vec<InstanceNames<'_>> = state
        .instances
        .iter()
        .map(|i| InstanceNames::of(state, Some(i)))
        .collect();
    let no_instance = InstanceNames::of(state, None);
    let names_of = |target: &str| {
        by_instance
            .iter()
            .find(|n| n.instance().is_some_and(|i| i.id == target))
            .unwrap_or(&no_instance)
    };
    for file in files {
        if let Some(until) = page_until
            && file.recorded_at.is_none_or(|at| at >= until)
        {
            continue;
        }
        for entry in &file.spec.decisions {
            let named = entry.instance.as_ref().or(file.spec.instance.as_ref());
            let target = named.cloned().unwrap_or_else(|| current.clone());
            let known = state.instances.iter().any(|i| i.id == target);
            if !known
                && super::schedule::starts_later(&state.spec.instance_schedule(), &target, now)
            {
                // Decided ahead for an instance still to start: read again once it has.
                continue;
            }
            let names = names_of(&target);
            // A decision from the page is for the stage that was in progress when it was made.
            let stage = entry.stage.or(file.spec.stage).or_else(|| {
                let at = file.recorded_at?;
                let instance = names.instance()?;
                let index = instance.stages.iter().position(|s| at < s.end)?;
                u32::try_from(index + 1).ok()
            });
            let mut problem = None;
            if let (Some(instance), Some(wanted)) = (names.instance(), stage) {
                let running = u32::try_from(instance.stage + 1).unwrap_or(u32::MAX);
                let count = u32::try_from(instance.stages.len().max(1)).unwrap_or(u32::MAX);
                if wanted > count {
                    problem = Some(format!("instance {target} has no stage {wanted}"));
                } else if wanted > running && instance.ended.is_none() {
                    // Decided ahead for a stage still to come: read again once it has started.
                    continue;
                } else if wanted < running {
                    problem = Some(format!("stage {wanted} of instance {target} has ended"));
                }
            }
            let reviewer = resolve(names, &file.spec.reviewer);
            for name in entry.principals() {
                let principal = resolve(names, name);
                let mut key = Instance::entry_key(&reviewer, &principal);
                // The page's decision is an entry of its own beside the reviewer's file
                // entry: the one recorded last wins, as between reviewers.
                if file.recorded_at.is_some() {
                    key.push_str(WEB_KEY);
                }
                let instance = if known {
                    target.clone()
                } else {
                    // An instance that does not exist: keep the entry on the current one,
                    // under its own key, so the rejection is shown (and shown once).
                    key.push_str(&format!(" @{target}"));
                    current.clone()
                };
                let reason = entry.reason.clone().filter(|r| !r.trim().is_empty());
                let stage_carried = stage_fresh.as_deref() == Some(instance.as_str())
                    && names
                        .instance()
                        .is_none_or(|i| stage != u32::try_from(i.stage + 1).ok());
                let carried = (named.is_none()
                    && fresh.as_deref() == Some(instance.as_str())
                    && state.instances.len() > 1)
                    || stage_carried;
                let item = Seen {
                    reviewer: reviewer.clone(),
                    principal,
                    decision: entry.decision,
                    reason,
                    source: file.source.clone(),
                    carried,
                    conflict: None,
                    after_reset: entry.after_reset.clone(),
                    named: named.is_some(),
                    stage,
                    recorded: file.recorded_at,
                    problem: problem.clone(),
                };
                // One reviewer deciding one principal differently in two places (`rev@x`,
                // `REV@X` and `u-rev` are one reviewer): which they meant cannot be told, and
                // file order is an accident of naming, so none of them counts.
                match seen.entry(instance).or_default().entry(key) {
                    std::collections::btree_map::Entry::Vacant(slot) => {
                        slot.insert(item);
                    }
                    std::collections::btree_map::Entry::Occupied(mut slot) => {
                        let first = slot.get_mut();
                        let same = agree(
                            (first.decision, first.reason.as_deref()),
                            (item.decision, item.reason.as_deref()),
                        );
                        match &mut first.conflict {
                            Some(sources) => sources.push(item.source),
                            None if !same => {
                                first.conflict = Some(vec![first.source.clone(), item.source]);
                            }
                            None => {}
                        }
                    }
                }
            }
        }
    }

    for index in 0..state.instances.len() {
        let instance = &state.instances[index];
        let in_progress = instance.ended.is_none();
        let incoming = seen.remove(&instance.id).unwrap_or_default();
        if incoming.is_empty() && (!in_progress || page_until.is_some()) {
            continue;
        }
        let mut updates: Vec<(String, Option<Entry>)> = Vec::new();
        let last_reset = instance.resets.last().and_then(|r| r.token.as_deref());
        let names = InstanceNames::of(state, Some(instance));
        for (key, s) in &incoming {
            // A cleared entry counts again, unchanged, once it says it was made for now: after
            // the instance's last reset by naming it, or (cleared because it was carried over
            // into a new instance) by naming the instance.
            let reaffirmed = |e: &Entry| {
                e.status == EntryStatus::Cleared
                    && match last_reset {
                        Some(token) => s.after_reset.as_deref() == Some(token),
                        // Cleared when a later stage started: it names that stage.
                        None if instance.stage > 0 => {
                            s.stage == u32::try_from(instance.stage + 1).ok()
                        }
                        None => s.named,
                    }
            };
            match instance.entries.get(key) {
                Some(e)
                    if e.decision == s.decision
                        && e.reason == s.reason
                        && s.recorded.is_none_or(|at| at == e.seen)
                        && recorded_conflict(e) == s.conflict_reason().as_deref()
                        && !reaffirmed(e) =>
                {
                    if e.source != s.sources() {
                        updates.push((
                            key.clone(),
                            Some(Entry {
                                source: s.sources(),
                                ..e.clone()
                            }),
                        ));
                    }
                }
                _ if s.carried || made_before_reset(instance, s) => {
                    updates.push((key.clone(), Some(s.entry(now, EntryStatus::Cleared))));
                }
                _ => {
                    let status = if key.contains(" @") {
                        let wanted = key.rsplit(" @").next().unwrap_or_default();
                        EntryStatus::Rejected {
                            reason: format!("the review has no instance `{wanted}`"),
                        }
                    } else if let Some(ended) = &instance.ended {
                        EntryStatus::Rejected {
                            reason: format!("instance {} ended at {}", instance.id, ended.at),
                        }
                    } else if let Some(reason) = s.problem.clone() {
                        EntryStatus::Rejected { reason }
                    } else if let Some(reason) = s.conflict_reason() {
                        EntryStatus::Rejected { reason }
                    } else {
                        validate(&names, instance, s)
                    };
                    let change = match &status {
                        EntryStatus::Rejected { reason } => Change::DecisionRejected {
                            instance: instance.id.clone(),
                            reviewer: s.reviewer.clone(),
                            principal: s.principal.clone(),
                            reason: reason.clone(),
                        },
                        _ => Change::DecisionRecorded {
                            instance: instance.id.clone(),
                            reviewer: s.reviewer.clone(),
                            principal: s.principal.clone(),
                            decision: s.decision,
                            reason: s.reason.clone(),
                            source: s.sources(),
                        },
                    };
                    plan.changes.push(change);
                    updates.push((key.clone(), Some(s.entry(now, status))));
                }
            }
        }
        if in_progress && page_until.is_none() {
            for (key, e) in &instance.entries {
                if !incoming.contains_key(key) {
                    if e.status == EntryStatus::Accepted {
                        plan.changes.push(Change::DecisionWithdrawn {
                            instance: instance.id.clone(),
                            reviewer: e.reviewer.clone(),
                            principal: e.principal.clone(),
                        });
                    }
                    updates.push((key.clone(), None));
                }
            }
        }
        let instance = &mut state.instances[index];
        for (key, entry) in updates {
            match entry {
                Some(entry) => instance.entries.insert(key, entry),
                None => instance.entries.remove(&key),
            };
        }
        if in_progress {
            settle(instance);
        }
    }
}

/// Sets each item's decision to the last accepted entry on it (in a multi-stage instance, the
/// decision of the stage in progress, on the items it reviews).
fn settle(instance: &mut Instance) {
    let mut best: BTreeMap<&str, &Entry> = BTreeMap::new();
    for entry in instance
        .entries
        .values()
        .filter(|e| e.status == EntryStatus::Accepted)
    {
        let slot = best.entry(entry.principal.as_str()).or_insert(entry);
        if (entry.seen, &entry.reviewer) > (slot.seen, &slot.reviewer) {
            *slot = entry;
        }
    }
    let decided: BTreeMap<String, DecisionState> = best
        .into_iter()
        .map(|(principal, e)| {
            let state = DecisionState {
                decision: e.decision,
                reviewer: e.reviewer.clone(),
                reason: e.reason.clone(),
                at: e.seen,
                by_system: false,
                source: Some(e.source.clone()),
            };
            (principal.to_owned(), state)
        })
        .collect();
    if instance.staged() {
        let stage = instance.stage + 1;
        let Some(record) = instance.stages.get(instance.stage) else {
            return;
        };
        for id in &record.items {
            if let Some(item) = instance.items.get_mut(id) {
                let decision = decided.get(id).cloned();
                if item.stage_decision(stage) != decision.as_ref() {
                    item.set_stage_decision(stage, decision);
                }
            }
        }
        return;
    }
    for (id, item) in &mut instance.items {
        item.decision = decided.get(id).cloned();
    }
}

/// The suffix of a page decision's key in an instance's entries.
const WEB_KEY: &str = " web";

/// A page decision made before the stage's last reset, read only after it: the reset cleared
/// it, as it would have had the pass read it in time.
fn made_before_reset(instance: &Instance, s: &Seen) -> bool {
    s.recorded
        .is_some_and(|at| instance.resets.last().is_some_and(|r| at < r.at))
}

fn validate(names: &InstanceNames<'_>, instance: &Instance, s: &Seen) -> EntryStatus {
    match judge(
        names,
        instance,
        &s.reviewer,
        &s.principal,
        Some((s.decision, s.reason.as_deref())),
    ) {
        Ok(()) => EntryStatus::Accepted,
        Err(Refused::NotAllowed(reason) | Refused::Rule(reason)) => {
            EntryStatus::Rejected { reason }
        }
    }
}

/// Why a decision does not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The reviewer may not decide the item (or it is not in the stage in progress).
    NotAllowed(String),
    /// The decision lacks what the review requires of it.
    Rule(String),
}

/// The rule for one decision by `reviewer` (an id) on `principal` in `instance` (in progress):
/// whether the item is in the stage in progress, whether the reviewer may decide it (the
/// review's reviewers, an escalation level, independence), and, given the decision and its
/// reason, whether it has what the review requires. An entry from a file and a decision on the
/// reviewer page are judged by this one rule.
pub fn judge(
    names: &InstanceNames<'_>,
    instance: &Instance,
    reviewer: &str,
    principal: &str,
    decision: Option<(Decision, Option<&str>)>,
) -> Result<(), Refused> {
    let state = names.state();
    let Some(item) = instance.items.get(principal) else {
        return Err(Refused::NotAllowed(format!(
            "`{principal}` is not an item of instance {}",
            instance.id
        )));
    };
    if !instance.in_stage(principal) {
        return Err(Refused::NotAllowed(super::stages::not_reviewed_reason(
            state, instance, item,
        )));
    }
    let spec = names.spec();
    let subject = subject_of(&item.principal);
    let verdict = authority::may_decide(spec, names, reviewer, principal, Some(&subject));
    // An escalation level may have given the item to this reviewer as well.
    let escalated = || {
        super::escalate::escalated_to(instance, principal)
            .any(|r| authority::same(names, r, reviewer) == Some(true))
    };
    let independence = verdict == authority::Verdict::NotAllowed(authority::NOT_INDEPENDENT);
    if verdict != authority::Verdict::Allowed && (independence || !escalated()) {
        return Err(Refused::NotAllowed(format!(
            "`{reviewer}` may not decide on `{principal}`: {}",
            verdict.reason(spec.reviewers.kind)
        )));
    }
    let reason = decision
        .and_then(|(_, r)| r)
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if decision.is_some() && state.spec.settings.require_justification && reason.is_none() {
        return Err(Refused::Rule(
            "the review requires a reason for every decision".to_owned(),
        ));
    }
    Ok(())
}

/// A name (id or user principal name) as an id (see [`InstanceNames`]), or the name itself.
fn resolve(names: &InstanceNames<'_>, name: &str) -> String {
    names.id(name).unwrap_or_else(|| normalize(name))
}

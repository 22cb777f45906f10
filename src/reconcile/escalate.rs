//! Escalation: when a level's time comes and items are still undecided, they go to the level's
//! reviewers as well (the reviewer's manager, the fallback reviewers, or named users), once per
//! level and instance. Who may decide an item then includes them (see
//! [`super::allowed_reviewers_in`]), and they are notified.

use std::collections::{BTreeMap, BTreeSet};

use crate::directory::Principal;
use crate::model::review::{AccessReviewSpec, EscalateTo, NotificationEvent, Timestamp};
use crate::state::{EscalationRecord, Instance, ReviewState};

use super::authority::Names as _;
use super::{Change, Effect, InstanceNames, ReviewPlan, allowed_reviewers_in, normalize};

pub(super) fn escalate(state: &mut ReviewState, now: Timestamp, plan: &mut ReviewPlan) {
    let levels = state.spec.settings.escalations.clone();
    let Some(index) = state.instances.len().checked_sub(1) else {
        return;
    };
    for (level, escalation) in levels.iter().enumerate() {
        let instance = &state.instances[index];
        if instance.ended.is_some() || instance.escalations.iter().any(|e| e.level == level) {
            continue;
        }
        // In a multi-stage review each stage escalates on its own times.
        let (start, end) = instance.window();
        let due = escalation.due(start, end);
        // A level that would fall at or after the end never happens; one that fell while
        // Recert was not running happens now, recorded at its time.
        if due > now || due >= end {
            continue;
        }
        let record = escalation_of(state, instance, level, &escalation.label(level), due);
        let reviewers: BTreeSet<String> = record.items.values().flatten().cloned().collect();
        plan.changes.push(Change::Escalated {
            instance: instance.id.clone(),
            level: record.name.clone(),
            items: record.items.len(),
            reviewers: reviewers.iter().cloned().collect(),
            unresolved: record.unresolved.clone(),
        });
        if !reviewers.is_empty() {
            plan.effects.push(Effect::Notify {
                event: NotificationEvent::Escalated,
                instance: instance.id.clone(),
                sequence: u32::try_from(level + 1).unwrap_or(u32::MAX),
                reviewers: reviewers.into_iter().collect(),
                owners: Vec::new(),
            });
        }
        state.instances[index].escalations.push(record);
    }
}

/// Which undecided items of `instance` go to whom at `level`.
fn escalation_of(
    state: &ReviewState,
    instance: &Instance,
    level: usize,
    name: &str,
    at: Timestamp,
) -> EscalationRecord {
    let escalation = &state.spec.settings.escalations[level];
    let names = InstanceNames::of(state, Some(instance));
    let resolve = |n: &String| names.id(n).unwrap_or_else(|| normalize(n));
    let mut items = BTreeMap::new();
    let mut unresolved = BTreeSet::new();
    for (id, item) in instance
        .items
        .iter()
        .filter(|(id, i)| instance.pending(id, i))
    {
        let current = allowed_reviewers_in(&names, item);
        let mut targets: BTreeSet<String> = match escalation.to {
            EscalateTo::Fallback => names
                .spec()
                .fallback_reviewers
                .iter()
                .map(resolve)
                .collect(),
            EscalateTo::Users => escalation.users.iter().map(resolve).collect(),
            EscalateTo::Manager => current
                .iter()
                .filter_map(|reviewer| {
                    let manager = manager_of(state, instance, reviewer);
                    if manager.is_none() {
                        unresolved.insert(reviewer.clone());
                    }
                    manager
                })
                .collect(),
        };
        if state.spec.settings.forbid_self_decisions {
            targets.remove(id);
        }
        let new: Vec<String> = targets.difference(&current).cloned().collect();
        if !new.is_empty() {
            items.insert(id.clone(), new);
        }
    }
    EscalationRecord {
        level,
        name: name.to_owned(),
        at,
        items,
        unresolved: unresolved.into_iter().collect(),
    }
}

/// A reviewer's manager: from the instance's snapshot when the reviewer is one of its users,
/// else from what the directory said when the reviewer was looked up.
fn manager_of(state: &ReviewState, instance: &Instance, reviewer: &str) -> Option<String> {
    match instance.items.get(reviewer).map(|i| &i.principal) {
        Some(Principal::User(u)) => u.manager.clone(),
        _ => state.managers.get(reviewer).cloned(),
    }
}

/// Whom to look up before a level `to: manager` of the running instance can find every
/// reviewer's manager: the managers who review their reports' undecided items (a `manager`
/// review), unless already known. Named reviewers are looked up anyway, and a reviewer who is
/// one of the instance's users comes with their manager in the snapshot.
pub(super) fn managers_to_look_up<'a>(
    spec: &AccessReviewSpec,
    state: &'a ReviewState,
) -> Vec<&'a str> {
    let Some(instance) = state.in_progress() else {
        return Vec::new();
    };
    let pending = spec
        .settings
        .escalations
        .iter()
        .enumerate()
        .any(|(level, e)| {
            e.to == EscalateTo::Manager && !instance.escalations.iter().any(|r| r.level == level)
        });
    if !pending {
        return Vec::new();
    }
    instance
        .items
        .values()
        .filter(|i| i.decision.is_none())
        .filter_map(|i| match &i.principal {
            Principal::User(u) => u.manager.as_deref(),
            _ => None,
        })
        .filter(|m| !instance.items.contains_key(*m) && !state.managers.contains_key(*m))
        .collect()
}

/// The next time a level of the running instance falls due after `now`.
pub(super) fn next_due(state: &ReviewState, now: Timestamp) -> Option<Timestamp> {
    let instance = state.in_progress()?;
    state
        .spec
        .settings
        .escalations
        .iter()
        .enumerate()
        .filter(|(level, _)| !instance.escalations.iter().any(|e| e.level == *level))
        .map(|(_, e)| e.due(instance.window().0, instance.window().1))
        .filter(|due| *due > now && *due < instance.window().1)
        .min()
}

/// The reviews' escalation reviewers of an item in `instance`.
pub fn escalated_to<'a>(
    instance: &'a Instance,
    principal: &'a str,
) -> impl Iterator<Item = &'a String> {
    instance
        .escalations
        .iter()
        .filter_map(move |e| e.items.get(principal))
        .flatten()
}

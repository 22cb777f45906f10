//! Stages: a multi-stage review runs its stages one after the other inside each instance.
//!
//! The stages are planned when an instance starts (each starts when the previous one ends) and
//! move on by time, as Entra's do. When a stage ends its entries, resets and escalations are
//! frozen in its record; the next stage reviews the items whose outcome in it is listed in the
//! next stage's `fromPreviousStage` (`notReviewed`: no decision in that stage), and also any
//! item nobody could decide in it (under `forbidSelfDecisions`, a reviewer's own item when the
//! stage has no other reviewer nor fallback reviewer for it). Items that do not move on keep
//! their decision. The last stage ends with the instance (`complete`).

use std::collections::BTreeSet;

use crate::model::decisions::Decision;
use crate::model::review::{AccessReviewSpec, NotificationEvent, Stage, StageOutcome, Timestamp};
use crate::state::{Instance, ItemState, ReviewState, StageRecord};

use super::{Change, Effect, InstanceNames, ReviewPlan, allowed_reviewers_in};

/// The stages of an instance starting at `start`, with the first one started on every item.
pub(super) fn plan(
    spec: &AccessReviewSpec,
    start: Timestamp,
    items: &[&String],
) -> Vec<StageRecord> {
    if spec.stages.is_empty() {
        return Vec::new();
    }
    super::schedule::stage_windows(spec, start)
        .into_iter()
        .enumerate()
        .map(|(index, (start, end))| StageRecord {
            name: label(spec, index),
            start,
            end,
            ended: None,
            items: if index == 0 {
                items.iter().map(|s| (*s).clone()).collect()
            } else {
                BTreeSet::new()
            },
            entries: Default::default(),
            resets: Vec::new(),
            escalations: Vec::new(),
        })
        .collect()
}

/// The name of stage `index` (0 for the first).
pub fn label(spec: &AccessReviewSpec, index: usize) -> String {
    let name = index
        .checked_sub(1)
        .and_then(|i| spec.stages.get(i))
        .and_then(|s| s.name.as_deref());
    Stage::label(name, index + 1)
}

/// A stage as messages name it: "stage 2 (security team)", or "stage 2" without a name.
pub fn title(number: usize, name: &str) -> String {
    let plain = format!("stage {number}");
    if name == plain {
        plain
    } else {
        format!("{plain} ({name})")
    }
}

/// An item's outcome in a stage: its decision there, or `notReviewed`.
pub fn outcome(decision: Option<Decision>) -> StageOutcome {
    match decision {
        Some(Decision::Approve) => StageOutcome::Approve,
        Some(Decision::Deny) => StageOutcome::Deny,
        Some(Decision::DontKnow) => StageOutcome::DontKnow,
        None => StageOutcome::NotReviewed,
    }
}

/// Ends the stage in progress at `at` ([`freeze`]) and says so, with how many of its items it
/// decided. `next`: another stage follows, so the instance's entries, resets and escalations
/// move to the record (the next stage starts with none); else they are copied, and the
/// instance keeps its own as a single-stage one does, so that its frozen entries still match
/// the files.
pub(super) fn end_stage(instance: &mut Instance, at: Timestamp, next: bool, plan: &mut ReviewPlan) {
    let index = instance.stage;
    let Some(record) = instance.stages.get(index).filter(|r| r.ended.is_none()) else {
        return;
    };
    let decided = record
        .items
        .iter()
        .filter(|id| {
            instance
                .items
                .get(id.as_str())
                .is_some_and(|i| i.stage_decision(index + 1).is_some())
        })
        .count();
    plan.changes.push(Change::StageEnded {
        instance: instance.id.clone(),
        stage: index + 1,
        name: record.name.clone(),
        decided,
    });
    freeze(instance, at, next);
}

/// Freezes the stage in progress at `at`: its entries, resets and escalations go to its
/// record (moved when `next`, for the next stage to fill its own).
fn freeze(instance: &mut Instance, at: Timestamp, next: bool) {
    let index = instance.stage;
    let Some(record) = instance.stages.get_mut(index) else {
        return;
    };
    if record.ended.is_some() {
        return;
    }
    record.ended = Some(at);
    if next {
        record.entries = std::mem::take(&mut instance.entries);
        record.resets = std::mem::take(&mut instance.resets);
        record.escalations = std::mem::take(&mut instance.escalations);
    } else {
        record.entries.clone_from(&instance.entries);
        record.resets.clone_from(&instance.resets);
        record.escalations.clone_from(&instance.escalations);
    }
}

/// Moves the instance in progress through every stage whose end has passed by `now`, each at
/// its own end, short of the last (which ends with the instance).
pub(super) fn advance(state: &mut ReviewState, now: Timestamp, plan: &mut ReviewPlan) {
    loop {
        let Some(instance) = state.instances.last().filter(|i| i.ended.is_none()) else {
            return;
        };
        let index = instance.stage;
        let Some(current) = instance.stages.get(index) else {
            return;
        };
        if index + 1 >= instance.stages.len() || now < current.end {
            return;
        }
        let at = current.end;
        let listed: Vec<StageOutcome> = state
            .spec
            .stages
            .get(index)
            .map(|s| s.from_previous_stage.clone())
            .unwrap_or_else(|| {
                vec![
                    StageOutcome::Approve,
                    StageOutcome::Deny,
                    StageOutcome::DontKnow,
                    StageOutcome::NotReviewed,
                ]
            });
        // Who may decide in the ending stage is judged by its own reviewers.
        let names = InstanceNames::of(state, Some(instance));
        let moving: BTreeSet<String> = current
            .items
            .iter()
            .filter(|id| {
                let Some(item) = instance.items.get(id.as_str()) else {
                    return false;
                };
                let decided = item.stage_decision(index + 1).map(|d| d.decision);
                listed.contains(&outcome(decided))
                    || (decided.is_none() && allowed_reviewers_in(&names, item).is_empty())
            })
            .cloned()
            .collect();
        let id = instance.id.clone();
        let instance = state.instances.last_mut().expect("checked above");
        end_stage(instance, at, true, plan);
        let next = &mut instance.stages[index + 1];
        next.items = moving;
        let started_name = next.name.clone();
        let items = next.items.len();
        instance.stage = index + 1;
        plan.changes.push(Change::StageStarted {
            instance: id.clone(),
            stage: index + 2,
            name: started_name,
            items,
        });
        let reviewers = super::pending_reviewers(state, state.instances.last().expect("exists"));
        if !reviewers.is_empty() {
            plan.effects.push(Effect::Notify {
                event: NotificationEvent::StageStarted,
                instance: id,
                sequence: u32::try_from(index + 2).unwrap_or(u32::MAX),
                reviewers,
                owners: Vec::new(),
            });
        }
    }
}

/// Why the stage in progress does not take an entry on an item it does not review.
pub(super) fn not_reviewed_reason(
    state: &ReviewState,
    instance: &Instance,
    item: &ItemState,
) -> String {
    let stage = instance.stage + 1;
    let listed: Vec<&str> = state
        .spec
        .stages
        .get(instance.stage.wrapping_sub(1))
        .map(|s| s.from_previous_stage.iter().map(|o| o.as_str()).collect())
        .unwrap_or_default();
    let previous = outcome(item.stage_decision(stage - 1).map(|d| d.decision));
    format!(
        "stage {stage} of instance {} does not review `{}`: its outcome in stage {} is `{}`, and this stage reviews only {}; it keeps its decision",
        instance.id,
        item.principal.id(),
        stage - 1,
        previous.as_str(),
        listed.join(", ")
    )
}

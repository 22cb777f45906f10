//! Apply: removing the access of denied principals once an instance has ended.
//!
//! Only denied items of an ended instance are touched. Protected principals are never
//! removed. The guards (minimum remaining, maximum share removed) are checked over the whole
//! apply before anything is removed: a guard that would be crossed blocks the apply with a
//! reason, it never removes a part silently. Items waiting for the directory stay `pending`,
//! so an apply interrupted by a crash resumes with exactly the removals still owed.

use std::collections::BTreeSet;

use crate::directory::RemoveOutcome;
use crate::model::decisions::Decision;
use crate::model::review::{NotificationEvent, Timestamp};
use crate::state::{ApplyResult, ApplyState, EndReason, ReviewState};

use super::{Change, Effect, ReviewPlan, authority, new_token};

pub(super) fn apply(state: &mut ReviewState, now: Timestamp, plan: &mut ReviewPlan) {
    let requested = state.spec.requests.apply.clone();
    let token = new_token(requested.as_ref(), &mut state.handled.apply);
    let last_ended = state.instances.iter().rposition(|i| {
        i.ended
            .as_ref()
            .is_some_and(|e| e.reason != EndReason::Deleted)
    });
    if let Some(token) = token {
        match last_ended {
            Some(index) => start(state, index, Some(token), now, plan),
            None => plan.changes.push(Change::RequestIgnored {
                request: "apply".to_owned(),
                token,
                reason: "no instance has completed yet".to_owned(),
            }),
        }
    } else if state.spec.settings.auto_apply
        && let Some(index) = last_ended.filter(|&i| state.instances[i].apply.is_none())
    {
        start(state, index, None, now, plan);
    }
    notify_finished(state, plan);
    for instance in &state.instances {
        if instance.apply.as_ref().is_none_or(|a| a.blocked.is_some()) {
            continue;
        }
        for (principal, item) in &instance.items {
            if item.apply_result != Some(ApplyResult::Pending) {
                continue;
            }
            for access in item.access.iter().filter(|a| a.not_supported.is_none()) {
                plan.effects.push(Effect::Remove {
                    instance: instance.id.clone(),
                    principal: principal.clone(),
                    removal: access.removal.clone(),
                });
            }
        }
    }
}

fn start(
    state: &mut ReviewState,
    index: usize,
    token: Option<String>,
    now: Timestamp,
    plan: &mut ReviewPlan,
) {
    // Protected principals are matched by the same names as decisions (ids first), so a user
    // whose user principal name is another's id is not protected in their place.
    let protected: BTreeSet<String> = {
        let names = super::InstanceNames::of(state, state.instances.get(index));
        state.instances[index]
            .items
            .keys()
            .filter(|id| authority::is_protected(&state.spec, &names, id) == Some(true))
            .cloned()
            .collect()
    };
    let guards = state.spec.guards.clone();
    let instance = &mut state.instances[index];
    let is_protected = |id: &str| protected.contains(id);
    let candidates: Vec<String> = instance
        .items
        .iter()
        .filter(|(_, item)| {
            item.decision
                .as_ref()
                .is_some_and(|d| d.decision == Decision::Deny)
        })
        .filter(|(_, item)| matches!(item.apply_result, None | Some(ApplyResult::Failed { .. })))
        .map(|(id, _)| id.clone())
        .collect();
    let removable = |id: &String| {
        let item = &instance.items[id];
        !is_protected(id) && item.access.iter().any(|a| a.not_supported.is_none())
    };
    let to_remove = candidates.iter().filter(|id| removable(id)).count();
    let total = instance.items.len();
    let remaining = total - to_remove;
    let blocked = if guards
        .min_remaining_assignments
        .is_some_and(|min| remaining < min as usize)
    {
        Some(format!(
            "removing {to_remove} of {total} would leave {remaining}, fewer than minRemainingAssignments ({})",
            guards.min_remaining_assignments.unwrap_or_default()
        ))
    } else if guards
        .max_removal_percent
        .is_some_and(|max| to_remove * 100 > usize::from(max) * total)
    {
        Some(format!(
            "removing {to_remove} of {total} is more than maxRemovalPercent ({}%)",
            guards.max_removal_percent.unwrap_or_default()
        ))
    } else {
        None
    };
    let attempt = instance
        .apply
        .as_ref()
        .map_or(1, |a| a.attempt.saturating_add(1));
    instance.apply = Some(ApplyState {
        requested: now,
        token: token.clone(),
        blocked: blocked.clone(),
        attempt,
        notified: false,
    });
    if let Some(reason) = blocked {
        plan.changes.push(Change::ApplyBlocked {
            instance: instance.id.clone(),
            reason,
        });
        return;
    }
    let mut removals = 0;
    for id in candidates {
        let item = instance
            .items
            .get_mut(&id)
            .expect("candidates come from the items");
        // A retry proves its own removals afresh.
        item.remediation = None;
        item.apply_result = Some(if is_protected(&id) {
            ApplyResult::Protected
        } else if let Some(access) = item
            .access
            .iter()
            .find(|a| a.not_supported.is_some())
            .filter(|_| item.access.iter().all(|a| a.not_supported.is_some()))
        {
            ApplyResult::NotSupported {
                reason: access.not_supported.clone().unwrap_or_default(),
            }
        } else {
            removals += item
                .access
                .iter()
                .filter(|a| a.not_supported.is_none())
                .count();
            ApplyResult::Pending
        });
    }
    plan.changes.push(Change::ApplyStarted {
        instance: instance.id.clone(),
        token,
        removals,
    });
}

/// Tells the owners about each apply that has finished (nothing pending, or blocked by a
/// guard) and that they were not told about yet. The engine calls it for applies that finish
/// without the directory; the executor, once it has recorded a review's removals.
pub fn notify_finished(state: &mut ReviewState, plan: &mut ReviewPlan) {
    let owners = super::owner_ids(state);
    for instance in &mut state.instances {
        let Some(apply) = instance.apply.as_mut().filter(|a| !a.notified) else {
            continue;
        };
        let pending = apply.blocked.is_none()
            && instance
                .items
                .values()
                .any(|i| i.apply_result == Some(ApplyResult::Pending));
        if pending {
            continue;
        }
        apply.notified = true;
        plan.effects.push(Effect::Notify {
            event: NotificationEvent::Applied,
            instance: instance.id.clone(),
            sequence: apply.attempt,
            reviewers: Vec::new(),
            owners: owners.clone(),
        });
    }
}

/// The outcome of one removal, as the executor saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done(RemoveOutcome),
    /// The assignment was already gone when an interrupted apply resumed: the earlier attempt
    /// (journaled) removed it.
    DoneBefore,
    Failed(String),
}

/// Records the outcomes of an item's removals into the state.
pub fn record_outcome(
    state: &mut ReviewState,
    instance: &str,
    principal: &str,
    outcomes: &[Outcome],
    at: Timestamp,
) {
    let Some(item) = state
        .instances
        .iter_mut()
        .find(|i| i.id == instance)
        .and_then(|i| i.items.get_mut(principal))
    else {
        return;
    };
    let not_supported = item.access.iter().find_map(|a| a.not_supported.clone());
    let result = if let Some(error) = outcomes.iter().find_map(|o| match o {
        Outcome::Failed(e) => Some(e.clone()),
        _ => None,
    }) {
        ApplyResult::Failed { error, at }
    } else if let Some(reason) = outcomes.iter().find_map(|o| match o {
        Outcome::Done(RemoveOutcome::NotSupported { reason }) => Some(reason.clone()),
        _ => None,
    }) {
        ApplyResult::NotSupported { reason }
    } else if outcomes
        .iter()
        .all(|o| matches!(o, Outcome::Done(RemoveOutcome::NotFound)))
    {
        ApplyResult::NotFound { at }
    } else if let Some(reason) = not_supported {
        // The direct access went; access through a group stays, and says why.
        ApplyResult::NotSupported {
            reason: format!("direct access removed, but {reason}"),
        }
    } else {
        ApplyResult::Applied { at }
    };
    item.apply_result = Some(result);
}

//! What a review's state looks like to people: the status file and the results CSV.
//!
//! Both are derived from the state alone and sorted deterministically, so a reconcile that
//! changes nothing rewrites nothing and Git diffs show only what changed.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::directory::Principal;
use crate::error::ReviewError;
use crate::model::decisions::Decision;
use crate::model::review::{Requests, Timestamp};
use crate::reconcile::ReviewPlan;
use crate::state::{ApplyResult, EndReason, EntryStatus, Instance, Remediation, ReviewState};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Status<'a> {
    review: &'a str,
    source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    observed_revision: Option<&'a str>,
    phase: &'static str,
    conditions: Vec<Condition>,
    last_handled_requests: &'a Requests,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_edge: Option<Timestamp>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    missed_instances: &'a Vec<String>,
    instances: Vec<InstanceStatus<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Condition {
    #[serde(rename = "type")]
    kind: &'static str,
    status: &'static str,
    reason: &'static str,
    message: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct InstanceStatus<'a> {
    id: &'a str,
    target: &'a str,
    start: Timestamp,
    end: Timestamp,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ended_at: Option<Timestamp>,
    counts: BTreeMap<&'static str, usize>,
    /// What was read at launch: the directory, the query with each filter and how many it
    /// left out, the counts and the snapshot's digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    population: Option<&'a crate::population::Population>,
    reviewers: Vec<ReviewerProgress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    apply: Option<ApplyStatus<'a>>,
    items: Vec<ItemStatus<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rejected_decisions: Vec<Rejected<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    resets: Vec<ResetStatus<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reminders: Vec<ReminderStatus<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    escalations: Vec<EscalationStatus<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notifications: Option<NotificationStatus<'a>>,
    /// With stages: the stage in progress (from 1), or the last that ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    stage: Option<usize>,
    /// With stages: each stage, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stages: Vec<StageStatus<'a>>,
}

/// One stage of a multi-stage instance.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct StageStatus<'a> {
    stage: usize,
    name: &'a str,
    start: Timestamp,
    end: Timestamp,
    /// `notStarted`, `inProgress` or `ended`.
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ended_at: Option<Timestamp>,
    /// Who decides in the stage, as the review says it (`manager`, `self`, or the users).
    reviewers: String,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    fallback_reviewers: &'a [String],
    /// Items the stage reviews, and how many of each decision it took.
    counts: BTreeMap<&'static str, usize>,
    /// The items it reviews (principal ids).
    items: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rejected_decisions: Vec<Rejected<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    resets: Vec<ResetStatus<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    escalations: Vec<EscalationStatus<'a>>,
}

/// An item's decision in one stage.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ItemStageStatus<'a> {
    stage: usize,
    decision: &'static str,
    reviewer: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    decided_at: Timestamp,
}

/// An escalation level reached: when, and which undecided items went to whom.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct EscalationStatus<'a> {
    level: &'a str,
    at: Timestamp,
    /// Per item (principal id), the reviewers it went to as well.
    items: &'a BTreeMap<String, Vec<String>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    no_manager_known: &'a [String],
}

/// What became of an instance's notifications: sent, waiting (with the last temporary
/// failure), and every failure with its recipient.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct NotificationStatus<'a> {
    sent: u32,
    pending: usize,
    failed: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    retrying: Vec<Retrying<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    failures: Vec<&'a crate::notify::outbox::Failure>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Retrying<'a> {
    id: &'a str,
    notifier: &'a str,
    recipient: &'a str,
    attempts: u32,
    last_answer: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ReviewerProgress {
    reviewer: String,
    items: usize,
    decided: usize,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ApplyStatus<'a> {
    requested: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    blocked: Option<&'a str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ItemStatus<'a> {
    principal: &'a str,
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    decision: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reviewer: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    decided_at: Option<Timestamp>,
    /// Where the reviewer decided: their decisions file, or the reviewer page's sign-in.
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    by_system: bool,
    /// The principal decided on their own access (a self-review, or a reviewer who also holds
    /// the access): labelled for auditors.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    self_decision: bool,
    recommendation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    apply_result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remediation: Option<String>,
    /// With stages: the item's decision in each stage that decided it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stages: Vec<ItemStageStatus<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Rejected<'a> {
    reviewer: &'a str,
    principal: &'a str,
    source: &'a str,
    reason: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ResetStatus<'a> {
    at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
    cleared: usize,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ReminderStatus<'a> {
    at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
    reviewers: &'a [String],
}

pub fn decision_name(decision: Option<Decision>) -> &'static str {
    match decision {
        None => "undecided",
        Some(Decision::Approve) => "approve",
        Some(Decision::Deny) => "deny",
        Some(Decision::DontKnow) => "dontKnow",
    }
}

fn instance_state(instance: &Instance) -> &'static str {
    let applying = instance.apply.as_ref().is_some_and(|a| a.blocked.is_none())
        && instance
            .items
            .values()
            .any(|i| i.apply_result == Some(ApplyResult::Pending));
    match (&instance.ended, &instance.apply) {
        (None, _) => "InProgress",
        (Some(_), _) if applying => "Applying",
        (Some(_), Some(a)) if a.blocked.is_some() => "ApplyBlocked",
        (Some(_), Some(_)) => "Applied",
        (Some(e), None) if e.reason == EndReason::Stopped => "Stopped",
        (Some(e), None) if e.reason == EndReason::Deleted => "Deleted",
        (Some(_), None) => "Completed",
    }
}

/// The review's phase: that of its latest instance, or `Pending` before the first.
pub fn phase(state: &ReviewState) -> &'static str {
    match state.instances.last() {
        None => "Pending",
        Some(instance) => instance_state(instance),
    }
}

/// What the metrics show of a review: its phase and its latest instance's items by decision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub phase: &'static str,
    pub decisions: BTreeMap<&'static str, u64>,
    /// Messages waiting in the review's outbox.
    pub notifications_pending: usize,
}

impl Summary {
    pub fn of(state: &ReviewState) -> Summary {
        let mut decisions = BTreeMap::new();
        if let Some(instance) = state.instances.last() {
            for item in instance.items.values() {
                *decisions
                    .entry(decision_name(item.decision.as_ref().map(|d| d.decision)))
                    .or_default() += 1;
            }
        }
        Summary {
            phase: phase(state),
            decisions,
            notifications_pending: state.outbox.pending.len(),
        }
    }
}

/// The name of an apply result, as status, results and metrics show it.
pub fn apply_result_name(result: &ApplyResult) -> &'static str {
    match result {
        ApplyResult::Pending => "pending",
        ApplyResult::Applied { .. } => "applied",
        ApplyResult::NotFound { .. } => "notFound",
        ApplyResult::NotSupported { .. } => "notSupported",
        ApplyResult::Protected => "protected",
        ApplyResult::Failed { .. } => "failed",
    }
}

/// A status or results file could not be rendered: a bug, reported as one, never written as
/// a placeholder.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the status cannot be rendered: {0}")]
    Status(String),
    #[error("the results CSV cannot be rendered: {0}")]
    Results(String),
}

/// The status file of a review after `plan`. A pass's `error` sets the conditions' reason.
pub fn render(
    state: &ReviewState,
    plan: &ReviewPlan,
    error: Option<&ReviewError>,
    revision: Option<&str>,
) -> Result<String, RenderError> {
    // A review deleted from the manifests: its final status, kept in the archive, says so.
    let phase = if plan.deleted {
        "Deleted"
    } else {
        phase(state)
    };
    let reason = error.map(ReviewError::reason);
    let stalled = error
        .map(ToString::to_string)
        .or_else(|| plan.stalled.clone())
        .or_else(|| {
            state
                .instances
                .iter()
                .rev()
                .find_map(|i| i.apply.as_ref().and_then(|a| a.blocked.clone()))
                .map(|b| format!("apply blocked by a guard: {b}"))
        });
    let ready = stalled.is_none() && plan.stale_spec.is_none();
    let conditions = vec![
        Condition {
            kind: "Ready",
            status: if ready { "True" } else { "False" },
            reason: if plan.stale_spec.is_some() {
                "ManifestInvalid"
            } else if let Some(reason) = reason {
                reason
            } else if stalled.is_some() {
                "Stalled"
            } else {
                "Reconciled"
            },
            message: plan
                .stale_spec
                .clone()
                .or_else(|| stalled.clone())
                .unwrap_or_else(|| "the review is up to date".to_owned()),
        },
        Condition {
            kind: "Reconciling",
            status: if phase == "Applying" { "True" } else { "False" },
            reason: if phase == "Applying" {
                "Applying"
            } else {
                "Idle"
            },
            message: if phase == "Applying" {
                "removals are in progress".to_owned()
            } else {
                "nothing in progress".to_owned()
            },
        },
        Condition {
            kind: "Stalled",
            status: if stalled.is_some() { "True" } else { "False" },
            reason: match (reason, &stalled) {
                (Some(reason), _) => reason,
                (None, Some(_)) => "Blocked",
                (None, None) => "None",
            },
            message: stalled.unwrap_or_default(),
        },
    ];
    let mut conditions = conditions;
    if !state.outbox.disabled.is_empty() {
        let which: Vec<String> = state
            .outbox
            .disabled
            .iter()
            .map(|(name, answer)| format!("{name} ({answer})"))
            .collect();
        conditions.push(Condition {
            kind: "NotifierDisabled",
            status: "True",
            reason: "Gone",
            message: format!(
                "webhooks that answered 410 Gone get no more messages until their Notifier changes: {}",
                which.join(", ")
            ),
        });
    }
    let instances = state
        .instances
        .iter()
        .map(|i| instance_status(state, i))
        .collect();
    let status = Status {
        review: &state.name,
        source: &state.source,
        observed_revision: revision,
        phase,
        conditions,
        last_handled_requests: &state.handled,
        next_edge: plan.requeue_at,
        missed_instances: &state.missed,
        instances,
    };
    crate::yaml::write::to_string(&status).map_err(|e| RenderError::Status(e.to_string()))
}

fn notification_status<'a>(
    state: &'a ReviewState,
    instance: &'a Instance,
) -> Option<NotificationStatus<'a>> {
    let outbox = &state.outbox;
    let tally = outbox.instances.get(&instance.id);
    let pending: Vec<&crate::notify::outbox::Pending> = outbox
        .pending
        .iter()
        .filter(|p| p.instance == instance.id)
        .collect();
    if tally.is_none() && pending.is_empty() {
        return None;
    }
    Some(NotificationStatus {
        sent: tally.map_or(0, |t| t.sent),
        pending: pending.len(),
        failed: tally.map_or(0, |t| t.failed.len()),
        retrying: pending
            .iter()
            .filter_map(|p| {
                Some(Retrying {
                    id: &p.id,
                    notifier: &p.notifier,
                    recipient: &p.recipient,
                    attempts: p.attempts,
                    last_answer: p.last_answer.as_deref()?,
                })
            })
            .collect(),
        failures: tally.map(|t| t.failed.iter().collect()).unwrap_or_default(),
    })
}

fn instance_status<'a>(state: &'a ReviewState, instance: &'a Instance) -> InstanceStatus<'a> {
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    counts.insert("items", instance.items.len());
    for item in instance.items.values() {
        *counts
            .entry(decision_name(item.decision.as_ref().map(|d| d.decision)))
            .or_default() += 1;
        if let Some(result) = &item.apply_result {
            let key = match result {
                ApplyResult::Pending => "applyPending",
                ApplyResult::Applied { .. } => "applied",
                ApplyResult::NotFound { .. } => "applyNotFound",
                ApplyResult::NotSupported { .. } => "applyNotSupported",
                ApplyResult::Protected => "applyProtected",
                ApplyResult::Failed { .. } => "applyFailed",
            };
            *counts.entry(key).or_default() += 1;
        }
        if let Some(proof) = &item.remediation {
            let key = match proof {
                Remediation::Verified { .. } => "remediationVerified",
                Remediation::StillPresent { .. } => "remediationStillPresent",
                Remediation::CouldNotCheck { .. } => "remediationCouldNotCheck",
            };
            *counts.entry(key).or_default() += 1;
        }
    }
    let mut progress: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let names =
        crate::reconcile::InstanceNames::of(state, state.instances.last()).at_stage(instance.stage);
    // Reviewers' progress is the stage in progress's, on the items it reviews.
    for (_, item) in instance
        .items
        .iter()
        .filter(|(id, _)| instance.in_stage(id))
    {
        for reviewer in crate::reconcile::allowed_reviewers_in(&names, item) {
            let entry = progress.entry(reviewer).or_default();
            entry.0 += 1;
            entry.1 += usize::from(instance.stage_decision(item).is_some());
        }
    }
    // While a stage runs, a review that hides earlier stages' decisions shows its items with
    // the stage in progress's decision only.
    let hide = instance.staged()
        && instance.ended.is_none()
        && !state.spec.settings.show_previous_stage_decisions;
    let items = instance
        .items
        .iter()
        .map(|(id, item)| (id, item, hide && instance.in_stage(id)))
        .map(|(id, item, hidden)| {
            (
                id,
                item,
                hidden,
                if hidden {
                    instance.stage_decision(item)
                } else {
                    item.decision.as_ref()
                },
            )
        })
        .map(|(id, item, hidden, decision)| ItemStatus {
            principal: id,
            name: item.principal.display_name(),
            kind: match item.principal {
                Principal::User(_) => "user",
                Principal::Group(_) => "group",
                Principal::ServicePrincipal(_) => "servicePrincipal",
            },
            decision: decision_name(decision.map(|d| d.decision)),
            reviewer: decision.map(|d| d.reviewer.as_str()),
            reason: decision.and_then(|d| d.reason.as_deref()),
            decided_at: decision.map(|d| d.at),
            source: decision.and_then(|d| d.source.as_deref()),
            by_system: decision.is_some_and(|d| d.by_system),
            self_decision: decision.is_some_and(|d| !d.by_system && d.reviewer == *id),
            recommendation: match item.recommendation.decision {
                Some(d) => format!("{d}: {}", item.recommendation.reason),
                None => format!("none: {}", item.recommendation.reason),
            },
            apply_result: item.apply_result.as_ref().map(ToString::to_string),
            remediation: item.remediation.as_ref().map(ToString::to_string),
            stages: item
                .stages
                .iter()
                .filter(|d| !hidden || d.stage == instance.stage + 1)
                .map(|d| ItemStageStatus {
                    stage: d.stage,
                    decision: decision_name(Some(d.decision.decision)),
                    reviewer: &d.decision.reviewer,
                    reason: d.decision.reason.as_deref(),
                    decided_at: d.decision.at,
                })
                .collect(),
        })
        .collect();
    let rejected_decisions = rejected(&instance.entries);
    InstanceStatus {
        id: &instance.id,
        target: &instance.target,
        start: instance.start,
        end: instance.end,
        state: instance_state(instance),
        ended_at: instance.ended.as_ref().map(|e| e.at),
        counts,
        population: instance.population.as_ref(),
        reviewers: progress
            .into_iter()
            .map(|(reviewer, (items, decided))| ReviewerProgress {
                reviewer,
                items,
                decided,
            })
            .collect(),
        escalations: escalations(&instance.escalations),
        notifications: notification_status(state, instance),
        apply: instance.apply.as_ref().map(|a| ApplyStatus {
            requested: a.requested,
            token: a.token.as_deref(),
            blocked: a.blocked.as_deref(),
        }),
        items,
        rejected_decisions,
        resets: resets(&instance.resets),
        reminders: instance
            .reminders
            .iter()
            .map(|r| ReminderStatus {
                at: r.at,
                token: r.token.as_deref(),
                reviewers: &r.reviewers,
            })
            .collect(),
        stage: instance.staged().then_some(instance.stage + 1),
        stages: stage_statuses(state, instance),
    }
}

fn rejected(entries: &BTreeMap<String, crate::state::Entry>) -> Vec<Rejected<'_>> {
    entries
        .values()
        .filter_map(|e| match &e.status {
            EntryStatus::Rejected { reason } => Some(Rejected {
                reviewer: &e.reviewer,
                principal: &e.principal,
                source: &e.source,
                reason,
            }),
            _ => None,
        })
        .collect()
}

fn resets(resets: &[crate::state::ResetRecord]) -> Vec<ResetStatus<'_>> {
    resets
        .iter()
        .map(|r| ResetStatus {
            at: r.at,
            token: r.token.as_deref(),
            cleared: r.cleared,
        })
        .collect()
}

fn escalations(records: &[crate::state::EscalationRecord]) -> Vec<EscalationStatus<'_>> {
    records
        .iter()
        .map(|e| EscalationStatus {
            level: &e.name,
            at: e.at,
            items: &e.items,
            no_manager_known: &e.unresolved,
        })
        .collect()
}

/// Each stage of a multi-stage instance: the stage in progress's entries, resets and
/// escalations are the instance's own (shown on it too); an ended stage's are in its record.
fn stage_statuses<'a>(state: &'a ReviewState, instance: &'a Instance) -> Vec<StageStatus<'a>> {
    let spec = &state.spec;
    instance
        .stages
        .iter()
        .enumerate()
        .map(|(index, record)| {
            let number = index + 1;
            let started = index <= instance.stage;
            let running = index == instance.stage && record.ended.is_none();
            let (reviewers, fallback) = match index.checked_sub(1).map(|i| spec.stages.get(i)) {
                None => (&spec.reviewers, spec.fallback_reviewers.as_slice()),
                Some(Some(stage)) => (&stage.reviewers, stage.fallback_reviewers.as_slice()),
                Some(None) => (&spec.reviewers, &[][..]),
            };
            let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
            counts.insert("items", record.items.len());
            for id in &record.items {
                let decided = instance
                    .items
                    .get(id)
                    .and_then(|i| i.stage_decision(number))
                    .map(|d| d.decision);
                *counts.entry(decision_name(decided)).or_default() += 1;
            }
            let (entries, reset_records, escalation_records) = if running {
                (
                    &instance.entries,
                    &instance.resets[..],
                    &instance.escalations[..],
                )
            } else {
                (&record.entries, &record.resets[..], &record.escalations[..])
            };
            StageStatus {
                stage: number,
                name: &record.name,
                start: record.start,
                end: record.end,
                state: match (started, record.ended) {
                    (_, Some(_)) => "ended",
                    (true, None) => "inProgress",
                    (false, None) => "notStarted",
                },
                ended_at: record.ended,
                reviewers: match reviewers.kind {
                    crate::model::review::ReviewerType::SelfReview => "self".to_owned(),
                    crate::model::review::ReviewerType::Manager => "manager".to_owned(),
                    crate::model::review::ReviewerType::Users => reviewers.users.join(", "),
                },
                fallback_reviewers: fallback,
                counts,
                items: record.items.iter().map(String::as_str).collect(),
                rejected_decisions: rejected(entries),
                resets: resets(reset_records),
                escalations: escalations(escalation_records),
            }
        })
        .collect()
}

/// The columns of the results CSV.
pub const CSV_COLUMNS: &[&str] = &[
    "review",
    "instance",
    "instance_start",
    "instance_end",
    "instance_state",
    "target",
    "principal_id",
    "principal_name",
    "user_principal_name",
    "principal_type",
    "access",
    "recommendation",
    "recommendation_reason",
    "decision",
    "decided_by",
    "decided_at",
    "decided_by_system",
    "reason",
    "decision_source",
    "apply_result",
];

/// The results of one instance as CSV, one row per item, sorted by principal id.
pub fn results_csv(state: &ReviewState, instance: &Instance) -> Result<String, RenderError> {
    let failed = |e: &dyn std::fmt::Display| RenderError::Results(e.to_string());
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(256 * (instance.items.len() + 1)));
    // A multi-stage instance's rows go on with four columns per stage; a single-stage
    // instance's CSV is as it always was.
    let stage_columns: Vec<String> = (1..=instance.stages.len())
        .flat_map(|n| {
            ["decision", "reviewer", "reason", "decided_at"].map(|c| format!("stage{n}_{c}"))
        })
        .collect();
    writer
        .write_record(
            CSV_COLUMNS
                .iter()
                .copied()
                .chain(stage_columns.iter().map(String::as_str)),
        )
        .map_err(|e| failed(&e))?;
    // What every row of the instance repeats is formatted once; a row borrows the rest.
    let start = instance.start.to_string();
    let end = instance.end.to_string();
    let phase = instance_state(instance);
    for (id, item) in &instance.items {
        let (upn, kind) = match &item.principal {
            Principal::User(u) => (u.user_principal_name.as_str(), "user"),
            Principal::Group(_) => ("", "group"),
            Principal::ServicePrincipal(_) => ("", "servicePrincipal"),
        };
        let mut access = String::new();
        for (n, a) in item.access.iter().enumerate() {
            if n > 0 {
                access.push_str("; ");
            }
            let _ = match &a.via {
                Some(group) => write!(access, "{} via {group}", a.removal),
                None => write!(access, "{}", a.removal),
            };
        }
        let recommendation = item
            .recommendation
            .decision
            .map(|d| d.to_string())
            .unwrap_or_default();
        let decision = item.decision.as_ref();
        let decided_at = decision.map(|d| d.at.to_string()).unwrap_or_default();
        let apply_result = item
            .apply_result
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let row: [&str; 20] = [
            &state.name,
            &instance.id,
            &start,
            &end,
            phase,
            &instance.target,
            id,
            item.principal.display_name(),
            upn,
            kind,
            &access,
            &recommendation,
            &item.recommendation.reason,
            decision_name(decision.map(|d| d.decision)),
            decision.map_or("", |d| d.reviewer.as_str()),
            &decided_at,
            match decision.map(|d| d.by_system) {
                Some(true) => "true",
                Some(false) => "false",
                None => "",
            },
            decision
                .and_then(|d| d.reason.as_deref())
                .unwrap_or_default(),
            decision
                .and_then(|d| d.source.as_deref())
                .unwrap_or_default(),
            &apply_result,
        ];
        for cell in row {
            writer
                .write_field(neutralise(cell).as_bytes())
                .map_err(|e| failed(&e))?;
        }
        for number in 1..=instance.stages.len() {
            let decided = item.stage_decision(number);
            let at = decided.map(|d| d.at.to_string()).unwrap_or_default();
            let cells = [
                if decided.is_some() || instance.stages[number - 1].items.contains(id) {
                    decision_name(decided.map(|d| d.decision))
                } else {
                    // The stage did not review the item.
                    ""
                },
                decided.map_or("", |d| d.reviewer.as_str()),
                decided
                    .and_then(|d| d.reason.as_deref())
                    .unwrap_or_default(),
                &at,
            ];
            for cell in cells {
                writer
                    .write_field(neutralise(cell).as_bytes())
                    .map_err(|e| failed(&e))?;
            }
        }
        // An empty record after the fields ends the row (csv's documented way).
        writer.write_record(None::<&[u8]>).map_err(|e| failed(&e))?;
    }
    let bytes = writer.into_inner().map_err(|e| failed(&e.error()))?;
    String::from_utf8(bytes).map_err(|e| failed(&e))
}

/// Spreadsheets run a cell that starts with `=`, `+`, `-` or `@` (and tab or CR) as a
/// formula; OWASP's CSV-injection advice is to prefix such cells with a single quote.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_others_left_alone() {
        assert_eq!(neutralise("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise("+1"), "'+1");
        assert_eq!(neutralise("-2"), "'-2");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("alice@corp.example"), "alice@corp.example");
    }
}

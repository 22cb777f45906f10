//! What Recert remembers about each review between reconciles: its instances, their items, the
//! decisions seen in files and what became of them, requests handled, apply results.
//!
//! `reconcile` reads a [`ReviewState`] and returns the next one; `store` reads and writes it.
//! The last good spec is kept here so that a manifest that fails to load keeps its review
//! running instead of looking deleted.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::directory::{Access, Principal};
use crate::model::decisions::Decision;
use crate::model::review::{AccessReviewSpec, Requests, Timestamp};
use crate::population::Population;

/// The state of one review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewState {
    pub name: String,
    /// The manifest file the review was last loaded from.
    pub source: String,
    /// The last spec that loaded cleanly.
    pub spec: AccessReviewSpec,
    /// The last token of each request that was handled.
    #[serde(default)]
    pub handled: Requests,
    /// Instances, oldest first.
    #[serde(default)]
    pub instances: Vec<Instance>,
    /// Occurrences whose whole window passed while Recert was not running.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missed: Vec<String>,
    /// Reviewer and principal names (ids or user principal names) resolved to ids.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub known: BTreeMap<String, String>,
    /// The managers of looked-up users (reviewers among them), by user id: escalation to a
    /// reviewer's manager.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub managers: BTreeMap<String, String>,
    /// Notifications waiting to be sent, and what became of the others.
    #[serde(
        default,
        skip_serializing_if = "crate::notify::outbox::Outbox::is_empty"
    )]
    pub outbox: crate::notify::outbox::Outbox,
}

impl ReviewState {
    pub fn current(&self) -> Option<&Instance> {
        self.instances.last()
    }

    pub fn in_progress(&self) -> Option<&Instance> {
        self.instances.last().filter(|i| i.ended.is_none())
    }
}

/// One run of a review: a snapshot of the assignments in scope and the decisions on them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    /// The start date in UTC (`2026-12-01`); unique within the review.
    pub id: String,
    pub start: Timestamp,
    /// When the instance is due to end.
    pub end: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Ended>,
    /// What was reviewed (`role` or `group`), for the results.
    pub target: String,
    /// Items by principal id.
    pub items: BTreeMap<String, ItemState>,
    /// Every decision entry seen in the files, by reviewer and principal id.
    #[serde(default)]
    pub entries: BTreeMap<String, Entry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resets: Vec<ResetRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reminders: Vec<ReminderRecord>,
    /// Escalation levels reached, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalations: Vec<EscalationRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply: Option<ApplyState>,
    /// What was read at launch, from where and when, with the digest of the items as read
    /// ([`crate::population`]). Absent in instances started before Recert recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub population: Option<Population>,
    /// With a multi-stage review: the stage in progress (0 for the first), or the last one
    /// that ran once the instance ended.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stage: usize,
    /// With a multi-stage review: every stage, planned at the start. `entries`, `resets` and
    /// `escalations` above are the stage in progress's; they move to its record here when it
    /// ends, frozen. Empty for a single-stage review (and in states written before stages).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageRecord>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One stage of a multi-stage instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageRecord {
    /// The stage's name, or "stage N".
    pub name: String,
    pub start: Timestamp,
    /// When the stage is due to end.
    pub end: Timestamp,
    /// When it ended: its end, or when the instance was stopped or deleted. None while it runs
    /// or before it starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Timestamp>,
    /// The items (principal ids) the stage reviews, set when it starts: every item for the
    /// first, those whose outcome moved them on for a later one.
    #[serde(default)]
    pub items: std::collections::BTreeSet<String>,
    /// The stage's decision entries, once it ended.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub entries: BTreeMap<String, Entry>,
    /// The stage's resets, once it ended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resets: Vec<ResetRecord>,
    /// The escalation levels the stage reached, once it ended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalations: Vec<EscalationRecord>,
}

/// An item's decision in one stage of a multi-stage instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageDecision {
    /// The stage, from 1.
    pub stage: usize,
    #[serde(flatten)]
    pub decision: DecisionState,
}

/// An escalation level reached: which undecided items went to whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EscalationRecord {
    /// The level's index in `settings.escalations`.
    pub level: usize,
    pub name: String,
    pub at: Timestamp,
    /// Per undecided item (principal id), the reviewer ids it went to.
    pub items: BTreeMap<String, Vec<String>>,
    /// Reviewers whose escalation target is not known (no manager), by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unresolved: Vec<String>,
}

impl Instance {
    pub fn entry_key(reviewer: &str, principal: &str) -> String {
        format!("{reviewer} {principal}")
    }

    /// Whether the instance runs in stages.
    pub fn staged(&self) -> bool {
        !self.stages.is_empty()
    }

    /// When the stage in progress started and is due to end (the instance's own times for a
    /// single-stage review): escalations and what is pending are reckoned on it.
    pub fn window(&self) -> (Timestamp, Timestamp) {
        match self.stages.get(self.stage) {
            Some(stage) => (stage.start, stage.end),
            None => (self.start, self.end),
        }
    }

    /// Whether the stage in progress reviews this item (every item without stages).
    pub fn in_stage(&self, principal: &str) -> bool {
        self.stages
            .get(self.stage)
            .is_none_or(|s| s.items.contains(principal))
    }

    /// The item's decision in the stage in progress (its decision, without stages).
    pub fn stage_decision<'a>(&self, item: &'a ItemState) -> Option<&'a DecisionState> {
        if !self.staged() {
            return item.decision.as_ref();
        }
        item.stage_decision(self.stage + 1)
    }

    /// Whether the item waits for a decision in the stage in progress.
    pub fn pending(&self, principal: &str, item: &ItemState) -> bool {
        self.in_stage(principal) && self.stage_decision(item).is_none()
    }
}

impl ItemState {
    /// The item's decision in stage `number` (from 1).
    pub fn stage_decision(&self, number: usize) -> Option<&DecisionState> {
        self.stages
            .iter()
            .find(|d| d.stage == number)
            .map(|d| &d.decision)
    }

    /// Sets (or clears) the decision of stage `number`; the item's decision becomes the latest
    /// stage's decision where there is one: a later stage overrides an earlier one, and an
    /// item a later stage did not decide keeps its earlier decision.
    pub fn set_stage_decision(&mut self, number: usize, decision: Option<DecisionState>) {
        self.stages.retain(|d| d.stage != number);
        if let Some(decision) = decision {
            self.stages.push(StageDecision {
                stage: number,
                decision,
            });
            self.stages.sort_by_key(|d| d.stage);
        }
        self.decision = self.stages.last().map(|d| d.decision.clone());
    }
}

/// How an instance ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ended {
    pub at: Timestamp,
    pub reason: EndReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EndReason {
    /// The end date came.
    Completed,
    /// A `stop` request ended it early.
    Stopped,
    /// The manifest was deleted while it ran.
    Deleted,
}

/// One principal under review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemState {
    pub principal: Principal,
    pub access: Vec<Access>,
    pub recommendation: Recommendation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<DecisionState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_result: Option<ApplyResult>,
    /// Whether the directory, read again after the removals, still grants the access. States
    /// written before the check existed have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<Remediation>,
    /// With a multi-stage review: the decision of each stage that decided the item, in stage
    /// order. `decision` is the latest of them (or the default decision at the end).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageDecision>,
}

/// The decision that counts for an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionState {
    pub decision: Decision,
    /// Who decided: a reviewer's id, or `recert` for a default decision.
    pub reviewer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: Timestamp,
    /// Whether the system decided (the review's default decision), not a reviewer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_system: bool,
    /// Where the reviewer decided: the decisions file, or the reviewer page's sign-in
    /// (`web sign-in SUBJECT (ISSUER)`). None for a default decision, and in states recorded
    /// before Recert kept it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// What the inactivity look-back suggests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recommendation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    pub reason: String,
}

/// A decision entry as seen in a reviewer's file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub reviewer: String,
    pub principal: String,
    pub decision: Decision,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The file it came from.
    pub source: String,
    /// When Recert first saw this entry with this decision and reason: its recorded time.
    pub seen: Timestamp,
    pub status: EntryStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum EntryStatus {
    Accepted,
    /// Not used, and why.
    Rejected {
        reason: String,
    },
    /// Seen before a reset; it counts again only once the reviewer changes it.
    Cleared,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResetRecord {
    pub at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Decisions the reset cleared.
    pub cleared: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReminderRecord {
    pub at: Timestamp,
    /// The request token, or none for a scheduled reminder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub reviewers: Vec<String>,
}

/// Applying an instance's results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyState {
    pub requested: Timestamp,
    /// The `apply` token, or none for auto-apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// A guard that stopped the apply before anything was removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<String>,
    /// Which apply of the instance this is (1 for the first; a later `apply` request retries
    /// failed items).
    #[serde(default = "first")]
    pub attempt: u32,
    /// Whether the owners were told how it ended. Written only while false, so that applies
    /// recorded before notifications existed count as told.
    #[serde(default = "told", skip_serializing_if = "Clone::clone")]
    pub notified: bool,
}

fn first() -> u32 {
    1
}

fn told() -> bool {
    true
}

/// What applying did to one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "camelCase")]
pub enum ApplyResult {
    /// Waiting for the directory.
    Pending,
    /// The access was removed.
    Applied { at: Timestamp },
    /// The principal or the assignment no longer exists.
    NotFound { at: Timestamp },
    /// The directory cannot remove this access; the reason says which case.
    NotSupported { reason: String },
    /// A protected principal: never removed.
    Protected,
    /// The directory refused or failed.
    Failed { error: String, at: Timestamp },
}

impl fmt::Display for ApplyResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApplyResult::Pending => f.write_str("pending"),
            ApplyResult::Applied { .. } => f.write_str("applied"),
            ApplyResult::NotFound { .. } => f.write_str("no longer exists"),
            ApplyResult::NotSupported { reason } => write!(f, "not supported: {reason}"),
            ApplyResult::Protected => f.write_str("protected principal, not removed"),
            ApplyResult::Failed { error, .. } => write!(f, "failed: {error}"),
        }
    }
}

/// What reading the directory again after an item's removals showed: the proof that a denial
/// was carried out, or that it was not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "proof", rename_all = "camelCase")]
pub enum Remediation {
    /// None of the removed access is there any more.
    Verified { at: Timestamp },
    /// The directory still grants this access, though its removal was answered as done.
    StillPresent { at: Timestamp, access: Vec<String> },
    /// The directory could not be read again; the removal is unproven, not failed.
    CouldNotCheck { at: Timestamp, error: String },
}

impl Remediation {
    /// The name status, results and the report show.
    pub fn name(&self) -> &'static str {
        match self {
            Remediation::Verified { .. } => "verified",
            Remediation::StillPresent { .. } => "stillPresent",
            Remediation::CouldNotCheck { .. } => "couldNotCheck",
        }
    }
}

impl fmt::Display for Remediation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Remediation::Verified { .. } => f.write_str("verified: the access is gone"),
            Remediation::StillPresent { access, .. } => {
                write!(f, "still present: {}", access.join("; "))
            }
            Remediation::CouldNotCheck { error, .. } => write!(f, "could not check: {error}"),
        }
    }
}

//! `AccessReview`: what to review, who reviews it, when, and what happens to the results.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::directory::SecretRef;
use super::envelope::{DNS1123_LABEL, DNS1123_MESSAGE};
use super::resource;

resource!(
    /// A recurring or one-time review of who holds a privileged role (or belongs to a group).
    AccessReview,
    AccessReviewSpec,
    AccessReview
);

/// The review's definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AccessReviewSpec {
    /// The name of the `Directory` that holds the assignments under review.
    #[schemars(regex(pattern = DNS1123_LABEL), extend("errorMessage" = DNS1123_MESSAGE))]
    pub directory: String,
    /// The title reviewers see.
    #[schemars(length(min = 1, max = 256))]
    pub display_name: String,
    /// Why the review exists and what reviewers should consider; shown to reviewers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What is reviewed: the assignments of one role, or the members of one group.
    pub scope: Scope,
    /// Who decides.
    pub reviewers: Reviewers,
    /// Who decides items that have no reviewer of their own — with `reviewers.type: manager`,
    /// principals without a manager; with `self`, groups (a group cannot review itself) — and,
    /// with `users`, reviewers alongside the named users. User ids or user principal names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(length(min = 1)))]
    pub fallback_reviewers: Vec<String>,
    /// Who owns the review: user ids or user principal names. They are told when an instance
    /// ends and what applying its results did (through the review's `smtp` notifiers, at the
    /// address the directory gives them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(length(min = 1)))]
    pub owners: Vec<String>,
    /// When instances of the review run.
    pub schedule: Schedule,
    /// Later stages, run one after the other inside each instance once the first stage (the
    /// top-level `reviewers`, `fallbackReviewers` and `schedule.durationDays`) ends. At most
    /// two, so an instance has at most three stages. Absent: a single-stage review.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 2))]
    pub stages: Vec<Stage>,
    /// How decisions are taken and what happens to them.
    #[serde(default)]
    pub settings: Settings,
    /// Safety limits on applying results.
    #[serde(default)]
    pub guards: Guards,
    /// One-shot requests. Each value is a token: set a new token (a date, a ticket number) to
    /// ask for the action once; the status echoes the last token handled.
    #[serde(default)]
    pub requests: Requests,
}

impl AccessReviewSpec {
    /// How many stages each instance runs (1 without `stages`).
    pub fn stage_count(&self) -> usize {
        1 + self.stages.len()
    }

    /// The days each stage runs, in order.
    pub fn stage_days(&self) -> impl Iterator<Item = u32> + '_ {
        std::iter::once(self.schedule.duration_days)
            .chain(self.stages.iter().map(|s| s.duration_days))
    }

    /// The schedule of whole instances: an instance runs every stage, so it lasts the sum of
    /// the stages' days. The spec's own schedule with a single stage.
    pub fn instance_schedule(&self) -> std::borrow::Cow<'_, Schedule> {
        if self.stages.is_empty() {
            return std::borrow::Cow::Borrowed(&self.schedule);
        }
        let total = self.stage_days().fold(0u32, u32::saturating_add);
        std::borrow::Cow::Owned(Schedule {
            duration_days: total,
            ..self.schedule.clone()
        })
    }

    /// The review as stage `index` (0 for the first) sees it: that stage's reviewers and
    /// fallback reviewers in place of the top-level ones, so that one rule of who decides
    /// ([`crate::reconcile::authority`]) serves every stage. A stage the spec no longer has
    /// (the manifest dropped it while it ran) keeps the top-level reviewers.
    pub fn for_stage(&self, index: usize) -> std::borrow::Cow<'_, AccessReviewSpec> {
        match index.checked_sub(1).and_then(|i| self.stages.get(i)) {
            None => std::borrow::Cow::Borrowed(self),
            Some(stage) => std::borrow::Cow::Owned(AccessReviewSpec {
                reviewers: stage.reviewers.clone(),
                fallback_reviewers: stage.fallback_reviewers.clone(),
                ..self.clone()
            }),
        }
    }
}

/// A stage after the first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Stage {
    /// A name for the stage, shown in the status, the results and the messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub name: Option<String>,
    /// Who decides in this stage (any reviewer type).
    pub reviewers: Reviewers,
    /// The stage's fallback reviewers, as the top-level `fallbackReviewers` are for the first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(length(min = 1)))]
    pub fallback_reviewers: Vec<String>,
    /// How many days the stage runs; it starts when the previous stage ends.
    #[schemars(range(min = 1, max = 3650))]
    pub duration_days: u32,
    /// Which items this stage reviews, by their outcome in the previous stage: `approve`,
    /// `deny`, `dontKnow`, or `notReviewed` (no decision in that stage). This is Graph's
    /// `decisionsThatWillMoveToNextStage` of the previous stage. Items that do not move on keep
    /// their decision.
    #[schemars(length(min = 1), extend("uniqueItems" = true))]
    pub from_previous_stage: Vec<StageOutcome>,
}

impl Stage {
    /// The stage as status and messages name it: its name, else "stage N" (N from 1).
    pub fn label(name: Option<&str>, number: usize) -> String {
        name.map_or_else(|| format!("stage {number}"), str::to_owned)
    }
}

/// An item's outcome in a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum StageOutcome {
    /// Approved in that stage.
    Approve,
    /// Denied in that stage.
    Deny,
    /// Answered don't know in that stage.
    DontKnow,
    /// Not decided in that stage.
    NotReviewed,
}

impl StageOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            StageOutcome::Approve => "approve",
            StageOutcome::Deny => "deny",
            StageOutcome::DontKnow => "dontKnow",
            StageOutcome::NotReviewed => "notReviewed",
        }
    }
}

/// What is reviewed: set exactly one of `role` and `group`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend(
    "oneOf" = [{ "required": ["role"] }, { "required": ["group"] }],
    "errorMessage" = "a scope takes exactly one of `role` and `group`"
))]
pub struct Scope {
    /// Review the assignments of this role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<ObjectRef>,
    /// Review the members of this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<ObjectRef>,
    /// With `role`: which assignments, `active`, `eligible` or `all` (the default).
    #[serde(default)]
    pub assignments: AssignmentFilter,
    /// With `role`: only assignments at this resource scope, such as `/` (the whole directory)
    /// or `/subscriptions/…`. Absent: every scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub resource_scope: Option<String>,
    /// With `role`: when a group holds the role, review each of its members (transitively)
    /// instead of the group itself. Defaults to true. Access held through a group cannot be
    /// removed by apply; such items report "not supported".
    #[serde(default = "yes")]
    pub expand_groups: bool,
    /// Only principals with no sign-in for at least this many days when the instance starts
    /// (Graph's `inactiveDuration`). Principals whose sign-in is unknown (users the directory
    /// has no sign-in for, groups, service principals) are kept, and listed in the instance's
    /// population as such.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3650))]
    pub inactive_days: Option<u32>,
    /// `guest`: only guest users (groups and service principals are left out); `member`: no
    /// guest users (groups and service principals stay); `all` (the default): everyone.
    #[serde(default, skip_serializing_if = "UserTypeFilter::is_all")]
    pub user_type: UserTypeFilter,
    /// Principals never reviewed: ids, or user principal names (without case).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(length(min = 1)))]
    pub exclude: Vec<String>,
    /// Only principals that are members of this group, directly or through nested groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_of: Option<MemberOf>,
}

impl Scope {
    /// Whether any filter narrows who is reviewed.
    pub fn has_filters(&self) -> bool {
        self.inactive_days.is_some()
            || !self.user_type.is_all()
            || !self.exclude.is_empty()
            || self.member_of.is_some()
    }
}

/// Which users a review covers by their type (Graph's `userType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum UserTypeFilter {
    /// No guest users.
    Member,
    /// Only guest users.
    Guest,
    /// Everyone.
    #[default]
    All,
}

impl UserTypeFilter {
    pub fn is_all(&self) -> bool {
        *self == UserTypeFilter::All
    }
}

/// The group whose members alone are reviewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MemberOf {
    /// The group, by name or by id.
    pub group: ObjectRef,
}

/// A role or group, by name or by id: exactly one of `name` and `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend(
    "minProperties" = 1,
    "maxProperties" = 1,
    "errorMessage" = "takes exactly one of `name` and `id`"
))]
pub struct ObjectRef {
    /// The display name, such as `Global Administrator`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub name: Option<String>,
    /// The id (in Entra ID, a role definition or group object id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub id: Option<String>,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.name, &self.id) {
            (Some(name), _) => write!(f, "name `{name}`"),
            (None, Some(id)) => write!(f, "id `{id}`"),
            (None, None) => f.write_str("(empty)"),
        }
    }
}

/// Which assignments of a role are reviewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AssignmentFilter {
    /// Only assignments in force.
    Active,
    /// Only eligible (activatable) assignments.
    Eligible,
    /// Both.
    #[default]
    All,
}

/// Who decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("allOf" = [{
    "if": { "properties": { "type": { "const": "users" } }, "required": ["type"] },
    "then": { "required": ["users"] }
}]))]
pub struct Reviewers {
    /// `self`: each principal reviews their own access. `users`: the users listed in `users`
    /// review every item. `manager`: each principal's manager reviews them (see
    /// `fallbackReviewers`).
    #[serde(rename = "type")]
    pub kind: ReviewerType,
    /// With `type: users`: the reviewers, as user ids or user principal names. Reviewers added
    /// while an instance runs take part at once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(min = 1), inner(length(min = 1)))]
    pub users: Vec<String>,
}

/// The kind of reviewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ReviewerType {
    /// Each principal reviews their own access.
    #[serde(rename = "self")]
    SelfReview,
    /// Named users review every item.
    Users,
    /// Each principal's manager reviews them.
    Manager,
}

/// When the review runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Schedule {
    /// When the first instance starts: a date (`2026-12-01`, midnight UTC) or an RFC 3339
    /// date-time. The assignments in scope are snapshotted then.
    pub start: Timestamp,
    /// How many days each instance runs before it completes.
    #[schemars(range(min = 1, max = 3650))]
    pub duration_days: u32,
    /// How often a new instance starts. Defaults to `once`.
    #[serde(default)]
    pub recurrence: Recurrence,
    /// With a recurrence: every how many periods (2 with `weekly` is every other week).
    /// Defaults to 1.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 100))]
    pub interval: u32,
    /// With a recurrence: no instance starts after this date or date-time. Set at most one of
    /// `until` and `count`; with neither, the review recurs until the manifest is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
    /// With a recurrence: how many instances run in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub count: Option<u32>,
}

/// How often a review recurs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Recurrence {
    /// A single instance.
    #[default]
    Once,
    /// Every week.
    Weekly,
    /// Every month.
    Monthly,
    /// Every three months.
    Quarterly,
    /// Every six months.
    Semiannually,
    /// Every year.
    Annually,
}

impl Recurrence {
    /// The shortest time between two starts, in days, for one period: an instance must end
    /// before the next one starts, so `durationDays` may not exceed it.
    pub fn min_period_days(self) -> Option<u32> {
        match self {
            Recurrence::Once => None,
            Recurrence::Weekly => Some(7),
            // The shortest month (February, 28 days), quarter (Feb–Apr, 89), half-year
            // (Feb–Jul, 181) and year (365) bound the gap between two starts from below.
            Recurrence::Monthly => Some(28),
            Recurrence::Quarterly => Some(89),
            Recurrence::Semiannually => Some(181),
            Recurrence::Annually => Some(365),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Recurrence::Once => "once",
            Recurrence::Weekly => "weekly",
            Recurrence::Monthly => "monthly",
            Recurrence::Quarterly => "quarterly",
            Recurrence::Semiannually => "semiannually",
            Recurrence::Annually => "annually",
        }
    }
}

/// How decisions are taken and what happens to them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Settings {
    /// Whether every decision must carry a `reason`. Defaults to false.
    #[serde(default)]
    pub require_justification: bool,
    /// What undecided items become when an instance ends: `none` (they stay undecided, the
    /// default), `approve`, `deny`, or `recommendation` (the recommendation, where there is one).
    #[serde(default)]
    pub default_decision: DefaultDecision,
    /// Apply the results (remove denied assignments) as soon as an instance completes, without
    /// an `apply` request. Defaults to false.
    #[serde(default)]
    pub auto_apply: bool,
    /// Reviewer independence, for reviews with named or manager reviewers: a reviewer who also
    /// holds the access under review cannot decide their own item; the other reviewers and the
    /// fallback reviewers do. Defaults to false. (A self-review is what it is: each decision
    /// there is labelled a self-decision in the status.)
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forbid_self_decisions: bool,
    /// With `stages`: whether reviewers of a later stage see the earlier stages' decisions on
    /// their items (who, what, why) in the status, `recert pending` and the messages. Defaults
    /// to true (Entra's "show previous stages' decisions").
    #[serde(default = "yes", skip_serializing_if = "Clone::clone")]
    pub show_previous_stage_decisions: bool,
    /// Recommendations shown to reviewers.
    #[serde(default)]
    pub recommendations: Recommendations,
    /// Reminders to reviewers who still have undecided items.
    #[serde(default)]
    pub reminders: Reminders,
    /// Escalation levels, as midPoint names them: when items are still undecided at a level's
    /// time, they go to that level's reviewers as well (the reviewers they had keep them), who
    /// are notified. Up to five levels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 5))]
    pub escalations: Vec<Escalation>,
    /// How reviewers and owners are told: the notifiers the review uses, and for which events.
    #[serde(default)]
    pub notifications: Notifications,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            require_justification: false,
            default_decision: DefaultDecision::None,
            auto_apply: false,
            forbid_self_decisions: false,
            show_previous_stage_decisions: true,
            recommendations: Recommendations::default(),
            reminders: Reminders::default(),
            escalations: Vec::new(),
            notifications: Notifications::default(),
        }
    }
}

/// One escalation level. Set exactly one of `afterDays` and `daysBeforeEnd`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend(
    "oneOf" = [{ "required": ["afterDays"] }, { "required": ["daysBeforeEnd"] }],
    "errorMessage" = "set exactly one of `afterDays` and `daysBeforeEnd`"
))]
pub struct Escalation {
    /// A name for the level, shown in the status and the messages (`first`, `director`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub name: Option<String>,
    /// Escalate this many days after the instance starts (with `stages`, after each stage
    /// starts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 365))]
    pub after_days: Option<u32>,
    /// Escalate this many days before the instance ends (with `stages`, before each stage
    /// ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 365))]
    pub days_before_end: Option<u32>,
    /// Who the undecided items go to: `manager` (the manager of each reviewer who has not
    /// decided them), `fallback` (the review's `fallbackReviewers`) or `users` (the `users`
    /// listed here).
    pub to: EscalateTo,
    /// With `to: users`: user ids or user principal names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(length(min = 1)))]
    pub users: Vec<String>,
}

/// Who an escalation level goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum EscalateTo {
    /// The manager of each reviewer who still has the items undecided.
    Manager,
    /// The review's fallback reviewers.
    Fallback,
    /// The users the level lists.
    Users,
}

impl Escalation {
    /// When the level falls due in an instance running from `start` to `end`.
    pub fn due(&self, start: Timestamp, end: Timestamp) -> Timestamp {
        let day = jiff::SignedDuration::from_hours(24);
        match (self.after_days, self.days_before_end) {
            (Some(days), _) => Timestamp(
                start
                    .0
                    .checked_add(day * i32::try_from(days).unwrap_or(i32::MAX))
                    .unwrap_or(end.0),
            ),
            (None, Some(days)) => Timestamp(
                end.0
                    .checked_sub(day * i32::try_from(days).unwrap_or(i32::MAX))
                    .unwrap_or(start.0),
            ),
            (None, None) => end,
        }
    }

    /// The level as status and messages name it: its name, else its number (from 1).
    pub fn label(&self, index: usize) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("level {}", index + 1))
    }
}

/// What undecided items become at the end of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum DefaultDecision {
    /// They stay undecided, and keep their access.
    #[default]
    None,
    /// They are approved.
    Approve,
    /// They are denied, and removed on apply.
    Deny,
    /// They take the recommendation; where there is none, they stay undecided.
    Recommendation,
}

/// Recommendations from sign-in activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Recommendations {
    /// Whether reviewers see recommendations. Defaults to true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Recommend deny for a principal with no sign-in in this many days, approve otherwise.
    /// Defaults to 30.
    #[serde(default = "thirty")]
    #[schemars(range(min = 1, max = 730))]
    pub inactive_days: u32,
}

impl Default for Recommendations {
    fn default() -> Self {
        Recommendations {
            enabled: true,
            inactive_days: 30,
        }
    }
}

/// Reminders to reviewers with undecided items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Reminders {
    /// Whether reminders are sent on a schedule. Defaults to false (a `remind` request still
    /// sends one).
    #[serde(default)]
    pub enabled: bool,
    /// Days between reminders while an instance runs. Defaults to 3.
    #[serde(default = "three")]
    #[schemars(range(min = 1, max = 365))]
    pub interval_days: u32,
}

impl Default for Reminders {
    fn default() -> Self {
        Reminders {
            enabled: false,
            interval_days: 3,
        }
    }
}

/// How reviewers and owners are told. Reviewers are e-mailed when an instance starts and when
/// they are reminded; owners and `additionalRecipients` when an instance ends and when its
/// results are applied; webhook, Slack and Teams notifiers get one message per event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Notifications {
    /// The `Notifier` documents this review sends through, and for which events. No notifier,
    /// no notification (the engine's decisions are still recorded in the audit trail).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifiers: Vec<NotifierUse>,
    /// Whether reviewers are e-mailed (by the review's `smtp` notifiers). Defaults to true.
    /// Owners and additional recipients are e-mailed either way.
    #[serde(default = "yes")]
    pub email: bool,
    /// Text added to every message, such as who to ask about the review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub additional_content: Option<String>,
    /// E-mail addresses told, like the owners, when an instance ends and when its results are
    /// applied (a team's shared mailbox, an auditor).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(length(min = 3, max = 320)))]
    pub additional_recipients: Vec<String>,
    /// Moved: webhooks are `Notifier` documents (`type: webhook`) named in `notifiers`. Kept
    /// only so that validation can say so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("deprecated" = true))]
    pub webhooks: Vec<Webhook>,
}

impl Default for Notifications {
    fn default() -> Self {
        Notifications {
            notifiers: Vec::new(),
            email: true,
            additional_content: None,
            additional_recipients: Vec::new(),
            webhooks: Vec::new(),
        }
    }
}

/// A notifier a review sends through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NotifierUse {
    /// The `Notifier`'s `metadata.name`.
    #[schemars(regex(pattern = DNS1123_LABEL), extend("errorMessage" = DNS1123_MESSAGE))]
    pub name: String,
    /// Which events to send through it. Defaults to all of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<NotificationEvent>,
}

impl NotifierUse {
    pub fn wants(&self, event: NotificationEvent) -> bool {
        self.events.is_empty() || self.events.contains(&event)
    }
}

/// Moved to `Notifier` documents; see `notifiers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Webhook {
    /// The URL to POST to.
    pub url: String,
    /// Which events to send.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<NotificationEvent>,
    /// A key, by reference, to sign each body with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<SecretRef>,
}

/// A review event that can be notified.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum NotificationEvent {
    /// An instance started.
    InstanceStarted,
    /// A later stage of a multi-stage review started: its reviewers are told.
    StageStarted,
    /// Reviewers with undecided items are reminded.
    Reminder,
    /// An instance completed or was stopped.
    InstanceEnded,
    /// Undecided items went to an escalation level's reviewers.
    Escalated,
    /// Results were applied.
    Applied,
}

/// Safety limits on applying results. A guard that would be crossed stops the whole apply with
/// a status condition; nothing is removed partially.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Guards {
    /// Principals (user or group ids, or user principal names) that are never removed, such as
    /// break-glass accounts, whatever the decision.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(length(min = 1)))]
    pub protected_principals: Vec<String>,
    /// The role (or group) must keep at least this many assignments after an apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_remaining_assignments: Option<u32>,
    /// One apply may remove at most this percentage of the assignments in scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub max_removal_percent: Option<u8>,
}

/// One-shot requests: change a token to ask for the action once.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Requests {
    /// Stop the running instance now. It cannot be restarted; undecided items stay undecided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub stop: Option<String>,
    /// Clear every decision of the running instance; all items are undecided again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub reset: Option<String>,
    /// Remind reviewers who still have undecided items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub remind: Option<String>,
    /// Apply the results of the last completed instance: remove denied assignments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub apply: Option<String>,
}

/// A point in time, written as a date (`2026-12-01`, meaning midnight UTC) or an RFC 3339
/// date-time with an offset (`2026-12-01T09:00:00+01:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub jiff::Timestamp);

const TIMESTAMP_PATTERN: &str = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?([Zz]|[+-][0-9]{2}:[0-9]{2}))?$";
/// The custom `format` the loader checks with [`Timestamp::parse`]: the pattern alone lets
/// `2026-02-30` through. Other validators ignore a format they do not know.
pub const TIMESTAMP_FORMAT: &str = "recert-timestamp";
const TIMESTAMP_MESSAGE: &str =
    "must be a date (2026-12-01) or an RFC 3339 date-time with an offset (2026-12-01T09:00:00Z)";

/// Text that is not a date nor an RFC 3339 date-time, with why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TimestampError(String);

impl Timestamp {
    /// Parses a date (midnight UTC) or an RFC 3339 date-time.
    pub fn parse(s: &str) -> Result<Timestamp, TimestampError> {
        let bad = |e: jiff::Error| TimestampError(e.to_string());
        if s.len() == 10 {
            let date: jiff::civil::Date = s.parse().map_err(bad)?;
            let ts = date
                .to_zoned(jiff::tz::TimeZone::UTC)
                .map_err(bad)?
                .timestamp();
            return Ok(Timestamp(ts));
        }
        s.parse::<jiff::Timestamp>().map(Timestamp).map_err(bad)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s)
            .map_err(|e| serde::de::Error::custom(format_args!("`{s}` is not a valid date: {e}")))
    }
}

impl JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A date (2026-12-01, midnight UTC) or an RFC 3339 date-time with an offset.",
            "pattern": TIMESTAMP_PATTERN,
            "format": TIMESTAMP_FORMAT,
            "errorMessage": TIMESTAMP_MESSAGE,
        })
    }
}

fn yes() -> bool {
    true
}

fn one() -> u32 {
    1
}

fn three() -> u32 {
    3
}

fn thirty() -> u32 {
    30
}

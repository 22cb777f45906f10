//! The webhook event, version 1: the JSON body of every request a `webhook` notifier sends,
//! and its published JSON Schema (`schemas/webhook-event.schema.json`, draft-07, generated
//! from these types so that the two cannot drift).
//!
//! The shape follows Standard Webhooks' recommendation (`type`, `timestamp`, `data`) and adds
//! a `version`. Within `recert.dev/v1` fields may be added, never removed or changed in
//! meaning: receivers ignore fields they do not know, so the schema does not forbid them.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde::Serialize;
use serde_json::Value;

use crate::model::decisions::Decision;
use crate::model::review::NotificationEvent;

use super::message::{Message, RecipientRole};

/// Where the schema is committed, relative to the repository root.
pub const SCHEMA_FILE: &str = "schemas/webhook-event.schema.json";

/// The `$id` of the published schema.
pub const SCHEMA_ID: &str = "https://recert.dev/schemas/v1/webhook-event.schema.json";

/// A notification, as a webhook receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(
    title = "Recert webhook event",
    extend("allOf" = [
        {
            "if": { "properties": { "type": { "const": "review.instance.ended" } }, "required": ["type"] },
            "then": { "properties": { "data": { "description": "An ended event carries the outcome.", "required": ["outcome"] } } }
        },
        {
            "if": { "properties": { "type": { "const": "review.instance.applied" } }, "required": ["type"] },
            "then": { "properties": { "data": { "description": "An applied event carries what the apply did.", "required": ["applied"] } } }
        }
    ])
)]
pub struct WebhookEvent {
    /// The event format. Always `recert.dev/v1` for this schema; a change a receiver could
    /// trip on gets a new version.
    pub version: Version,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// The message's id, also sent as the `webhook-id` header. A crash between sending and
    /// recording can resend a message once, with the same id: drop the duplicate.
    pub id: String,
    /// When Recert decided to send the message (RFC 3339, UTC). A resend keeps it.
    #[schemars(extend("format" = "date-time"))]
    pub timestamp: String,
    /// The access review the event is about.
    pub review: ReviewInfo,
    /// The review's instance (one run of it, from its start to its due date).
    pub instance: InstanceInfo,
    /// Who the message is for.
    pub recipient: RecipientInfo,
    /// What the event tells, by `type`.
    pub data: EventData,
}

/// The event format's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub enum Version {
    /// Version 1.
    #[serde(rename = "recert.dev/v1")]
    V1,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub enum EventType {
    /// An instance started: `data` has the items or the reviewers.
    #[serde(rename = "review.instance.started")]
    InstanceStarted,
    /// Reviewers with undecided items are reminded: `data` has what is still undecided.
    #[serde(rename = "review.instance.reminder")]
    Reminder,
    /// An instance completed, was stopped or was deleted: `data.outcome` has the counts.
    #[serde(rename = "review.instance.ended")]
    InstanceEnded,
    /// An instance's results were applied: `data.applied` has each item's result.
    #[serde(rename = "review.instance.applied")]
    Applied,
    /// Undecided items went to an escalation level's reviewers: `data` has the items (to a
    /// reviewer) or the reviewers (to a channel), as for a reminder.
    #[serde(rename = "review.instance.escalated")]
    Escalated,
    /// A later stage of a multi-stage review started: `data` has its items (to a reviewer) or
    /// its reviewers (to a channel), as when an instance starts.
    #[serde(rename = "review.instance.stageStarted")]
    StageStarted,
}

impl From<NotificationEvent> for EventType {
    fn from(event: NotificationEvent) -> Self {
        match event {
            NotificationEvent::InstanceStarted => EventType::InstanceStarted,
            NotificationEvent::Reminder => EventType::Reminder,
            NotificationEvent::InstanceEnded => EventType::InstanceEnded,
            NotificationEvent::Applied => EventType::Applied,
            NotificationEvent::Escalated => EventType::Escalated,
            NotificationEvent::StageStarted => EventType::StageStarted,
        }
    }
}

/// The access review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewInfo {
    /// The `AccessReview`'s `metadata.name`.
    pub name: String,
    /// Its `displayName`.
    pub title: String,
    /// Its `description`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `settings.notifications.additionalContent`: what the owners want every recipient to
    /// read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_content: Option<String>,
    /// What is reviewed, in words (`role "Global Administrator"`, `group "prod-admins"`).
    pub target: String,
    /// A page where the review can be seen, when one is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// The review's instance the event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceInfo {
    /// The instance's id (its start date, as `recert pending` shows it).
    pub id: String,
    /// When it started (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub start: String,
    /// When it is due to end (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub due: String,
    /// Which occurrence of this event within the instance: the reminder's number, the apply's;
    /// 0 for events that happen once.
    pub sequence: u32,
}

/// Who the message is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecipientInfo {
    /// A reviewer, an owner, an additional recipient, or the whole channel.
    pub role: Role,
    /// The directory id of the reviewer or owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Their display name (else user principal name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Who the message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    /// A reviewer with items in the instance.
    Reviewer,
    /// One of the review's owners.
    Owner,
    /// An additional recipient the review names.
    Additional,
    /// Everyone behind the webhook: one message per event.
    Channel,
}

/// What the event tells. Which members are present depends on `type` and the recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventData {
    /// How many items the instance has.
    pub total: u32,
    /// Started and reminder, to a reviewer: their undecided items.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<Item>,
    /// Started and reminder, to a reviewer: where and how they record decisions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub how_to_decide: Option<HowToDecide>,
    /// Started and reminder, to a channel: every reviewer with undecided items.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reviewers: Vec<Reviewer>,
    /// Ended: the counts by decision, and what the default decision did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// Applied: what applying did to each denied item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied: Option<Applied>,
}

/// An item a reviewer is asked to decide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    /// The principal's directory id.
    pub principal: String,
    /// How decisions name the principal: the user principal name for a user, else the id.
    pub name: String,
    /// The principal's display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `user`, `group` or `servicePrincipal`.
    pub kind: String,
    /// The access under review, in words (`active, direct`).
    pub access: String,
    /// What Recert recommends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<Decision>,
    /// Why it recommends it (`no sign-in for 94 days`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommendation_reason: Option<String>,
    /// In a later stage of a multi-stage review: the earlier stages' decisions on the item, in
    /// words (`stage 1: approve by u-alice: runs the SOC`), unless the review hides them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous_stage_decisions: Vec<String>,
}

/// How a reviewer records decisions in Git.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HowToDecide {
    /// The `ReviewDecisions` file to create or edit, relative to the manifests folder.
    pub file: String,
    /// The reviewer, as decisions name them (`spec.reviewer`).
    pub reviewer: String,
    /// The `metadata.name` for the document.
    pub document_name: String,
    /// Whether every decision needs a `reason`.
    pub reason_required: bool,
}

/// A reviewer with undecided items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reviewer {
    /// Their directory id.
    pub id: String,
    /// Their user principal name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Their display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// How many of their items are undecided.
    pub pending: u32,
}

/// How an instance ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// `completed` (its due date came), `stopped` (an owner stopped it) or `deleted`.
    pub reason: String,
    /// When it ended (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub ended: String,
    /// Items approved.
    pub approved: u32,
    /// Items denied.
    pub denied: u32,
    /// Items decided `dontKnow` (they keep their access).
    pub dont_know: u32,
    /// Items nobody decided.
    pub undecided: u32,
    /// Items the default decision decided.
    pub defaulted: u32,
    /// The review's default decision: `none`, `approve`, `deny` or `recommendation`.
    pub default_decision: String,
    /// Whether the results are applied without an owner asking (`autoApply`).
    pub auto_apply: bool,
}

/// What an apply did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    /// Assignments removed.
    pub removed: u32,
    /// Denied principals already gone from the directory.
    pub not_found: u32,
    /// Denied principals kept because a guard protects them.
    pub protected: u32,
    /// Denied access that cannot be removed this way (through a nested group, synced from
    /// on-premises): still in place.
    pub not_supported: u32,
    /// Removals the directory refused or that kept failing: still in place.
    pub failed: u32,
    /// Set when a guard stopped the whole apply before anything was removed: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked: Option<String>,
    /// Every denied item, with its result.
    pub items: Vec<AppliedItem>,
}

/// One denied item's apply result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppliedItem {
    /// The principal's directory id.
    pub principal: String,
    /// The user principal name for a user, else the id.
    pub name: String,
    /// The principal's display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `applied` (removed), `notFound`, `protected`, `notSupported` or `failed`.
    pub result: String,
    /// For results other than `applied`: the reason, or the directory's error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The webhook event for a message.
pub fn event(msg: &Message) -> WebhookEvent {
    let c = &msg.content;
    WebhookEvent {
        version: Version::V1,
        kind: msg.event.into(),
        id: msg.id.clone(),
        timestamp: msg.created.to_string(),
        review: ReviewInfo {
            name: msg.review.clone(),
            title: c.title.clone(),
            description: c.description.clone(),
            additional_content: c.additional_content.clone(),
            target: c.target.clone(),
            link: c.link.clone(),
        },
        instance: InstanceInfo {
            id: msg.instance.clone(),
            start: c.start.to_string(),
            due: c.due.to_string(),
            sequence: msg.sequence,
        },
        recipient: RecipientInfo {
            role: match msg.to.role {
                RecipientRole::Reviewer => Role::Reviewer,
                RecipientRole::Owner => Role::Owner,
                RecipientRole::Additional => Role::Additional,
                RecipientRole::Channel => Role::Channel,
            },
            id: msg.to.id.clone(),
            name: msg.to.name.clone(),
        },
        data: EventData {
            total: c.total,
            items: c
                .items
                .iter()
                .map(|i| Item {
                    principal: i.principal.clone(),
                    name: i.name.clone(),
                    display_name: i.display_name.clone(),
                    kind: i.kind.clone(),
                    access: i.access.clone(),
                    recommendation: i.recommendation,
                    recommendation_reason: Some(i.recommendation_reason.clone())
                        .filter(|r| !r.is_empty()),
                    previous_stage_decisions: i.previous_stage_decisions.clone(),
                })
                .collect(),
            how_to_decide: c.how_to_decide.as_ref().map(|h| HowToDecide {
                file: h.file.clone(),
                reviewer: h.reviewer.clone(),
                document_name: h.document_name.clone(),
                reason_required: h.reason_required,
            }),
            reviewers: c
                .reviewers
                .iter()
                .map(|r| Reviewer {
                    id: r.id.clone(),
                    name: r.name.clone(),
                    display_name: r.display_name.clone(),
                    pending: r.pending,
                })
                .collect(),
            outcome: c.outcome.as_ref().map(|o| Outcome {
                reason: o.reason.clone(),
                ended: o.ended.to_string(),
                approved: o.approved,
                denied: o.denied,
                dont_know: o.dont_know,
                undecided: o.undecided,
                defaulted: o.defaulted,
                default_decision: o.default_decision.clone(),
                auto_apply: o.auto_apply,
            }),
            applied: c.applied.as_ref().map(|a| Applied {
                removed: a.removed,
                not_found: a.not_found,
                protected: a.protected,
                not_supported: a.not_supported,
                failed: a.failed,
                blocked: a.blocked.clone(),
                items: a
                    .items
                    .iter()
                    .map(|i| AppliedItem {
                        principal: i.principal.clone(),
                        name: i.name.clone(),
                        display_name: i.display_name.clone(),
                        result: i.result.clone(),
                        detail: i.detail.clone(),
                    })
                    .collect(),
            }),
        },
    }
}

/// The published schema of [`WebhookEvent`].
pub fn schema() -> Value {
    let root = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<WebhookEvent>();
    let mut schema = root.to_value();
    crate::schema::tidy(&mut schema);
    if let Value::Object(map) = &mut schema {
        // `$schema` first and `$id` beside it, as in recert.schema.json.
        let mut ordered = serde_json::Map::new();
        if let Some(draft) = map.remove("$schema") {
            ordered.insert("$schema".to_owned(), draft);
        }
        ordered.insert("$id".to_owned(), Value::from(SCHEMA_ID));
        ordered.extend(std::mem::take(map));
        *map = ordered;
    }
    schema
}

/// The schema as committed: pretty JSON with a trailing newline.
pub fn render_schema() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).expect("a JSON value always serialises");
    text.push('\n');
    text
}

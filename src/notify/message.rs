//! A notification as the outbox holds it: who it goes to, through which notifier, and the
//! facts it tells, frozen when the pass decided it. Rendering (`render`) turns the facts into
//! an e-mail or a JSON body; the same message renders the same way every time, so a resend
//! after a crash carries the same content and the same id.

use serde::{Deserialize, Serialize};

use crate::model::decisions::Decision;
use crate::model::notifier::Channel;
use crate::model::review::{NotificationEvent, Timestamp};

/// One message in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Deterministic: `msg_` and a digest of (review, instance, event, sequence, notifier,
    /// recipient). It is the e-mail's `Message-ID` (`<ID@recert>`) and the webhook's
    /// `webhook-id`, so a receiver can drop the one duplicate a crash may cause.
    pub id: String,
    /// The `Notifier` it goes through.
    pub notifier: String,
    pub channel: Channel,
    pub event: NotificationEvent,
    pub review: String,
    pub instance: String,
    /// Which occurrence of the event within the instance (the reminder's number, the apply's).
    pub sequence: u32,
    pub to: Recipient,
    /// When the pass decided it.
    pub created: Timestamp,
    pub content: Content,
    /// The principals of the items it tells (a reviewer's undecided items). The outbox keeps
    /// only these: what it tells of each is the instance's snapshot, which the state holds and
    /// never changes; [`Message::materialize`] fills `content.items` from it to send.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub item_ids: Vec<String>,
}

/// Who a message is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    pub role: RecipientRole,
    /// The directory id (a reviewer's, an owner's); none for an additional address or a
    /// channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The name to greet them by (the directory's display name, else the user principal name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The e-mail address (e-mail only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RecipientRole {
    /// A reviewer with items in the instance.
    Reviewer,
    /// One of the review's owners.
    Owner,
    /// An additional recipient the review names by address.
    Additional,
    /// The whole channel (a webhook, Slack, Teams): one message per event.
    Channel,
}

/// What a message tells. Fields not relevant to the event are empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    /// The review's `displayName`.
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `settings.notifications.additionalContent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_content: Option<String>,
    /// What is reviewed, in words (`role "Global Administrator"`, `group "prod-admins"`).
    pub target: String,
    pub start: Timestamp,
    /// When the instance is due to end.
    pub due: Timestamp,
    /// Items in the instance.
    pub total: u32,
    /// Started and reminder, to a reviewer: their undecided items. To a channel: empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ItemFact>,
    /// How a reviewer decides (started and reminder, to a reviewer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub how_to_decide: Option<HowToDecide>,
    /// Started and reminder, to a channel: every reviewer with undecided items.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reviewers: Vec<ReviewerFact>,
    /// Ended: the counts by decision and what the default decision did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// Applied: what applying did to each denied item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<AppliedFacts>,
    /// A link to the review (the reviewer page, when one is configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// One item a reviewer is asked about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemFact {
    /// The principal's id.
    pub principal: String,
    /// How decisions name them: the user principal name for a user, else the id.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `user`, `group` or `servicePrincipal`.
    pub kind: String,
    /// The access under review, in words (`active, direct`; `eligible, through group X`).
    pub access: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<Decision>,
    /// Why (last sign-in, disabled account).
    pub recommendation_reason: String,
    /// In a later stage of a multi-stage review: the earlier stages' decisions on the item, in
    /// words ("stage 1: approve by u-alice: runs the SOC"), unless the review hides them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous_stage_decisions: Vec<String>,
}

/// The three ways a reviewer can record decisions without Recert's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HowToDecide {
    /// The decisions file to create or edit, relative to the manifests' root
    /// (`decisions/<review>/<reviewer>.yaml`).
    pub file: String,
    /// The reviewer as decisions name them (user principal name).
    pub reviewer: String,
    /// The `ReviewDecisions` document's `metadata.name` to use.
    pub document_name: String,
    /// Whether a reason is required for every decision.
    pub reason_required: bool,
}

/// A reviewer with undecided items (channel messages).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewerFact {
    pub id: String,
    /// User principal name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub pending: u32,
}

/// How an instance ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// `completed`, `stopped` or `deleted`.
    pub reason: String,
    pub ended: Timestamp,
    pub approved: u32,
    pub denied: u32,
    pub dont_know: u32,
    pub undecided: u32,
    /// Items the default decision decided, and what it is (`none`, `approve`, `deny`,
    /// `recommendation`).
    pub defaulted: u32,
    pub default_decision: String,
    /// Whether results are applied on their own (`autoApply`).
    pub auto_apply: bool,
}

/// What an apply did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedFacts {
    pub removed: u32,
    pub not_found: u32,
    pub protected: u32,
    pub not_supported: u32,
    pub failed: u32,
    /// A guard stopped the apply before anything was removed, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<String>,
    /// Every item, with its result; items that were not removed say why.
    pub items: Vec<AppliedItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedItem {
    pub principal: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `applied`, `notFound`, `protected`, `notSupported`, `failed`.
    pub result: String,
    /// The reason or the directory's error, for results other than `applied`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Message {
    /// The message as it is sent: `content.items` from the snapshot of its instance in
    /// `state` (the review's state the message was composed from).
    pub fn materialize(&mut self, state: &crate::state::ReviewState) {
        if self.item_ids.is_empty() || !self.content.items.is_empty() {
            return;
        }
        if let Some(instance) = state.instances.iter().find(|i| i.id == self.instance) {
            self.content.items = self
                .item_ids
                .iter()
                .filter_map(|id| instance.items.get(id))
                .map(|item| super::compose::item_fact_in(state, instance, item))
                .collect();
        }
    }

    /// The deterministic id of a message.
    pub fn id_for(
        review: &str,
        instance: &str,
        event: NotificationEvent,
        sequence: u32,
        notifier: &str,
        recipient: &str,
    ) -> String {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        for part in [
            review,
            instance,
            event_name(event),
            &sequence.to_string(),
            notifier,
            recipient,
        ] {
            hash.update(part.as_bytes());
            hash.update([0u8]);
        }
        let digest = hash.finalize();
        format!("msg_{}", crate::audit::hex(&digest[..16]))
    }
}

/// The event's name in ids, webhook bodies and metrics (`instanceStarted`, …).
pub fn event_name(event: NotificationEvent) -> &'static str {
    match event {
        NotificationEvent::InstanceStarted => "instanceStarted",
        NotificationEvent::Reminder => "reminder",
        NotificationEvent::InstanceEnded => "instanceEnded",
        NotificationEvent::Applied => "applied",
        NotificationEvent::Escalated => "escalated",
        NotificationEvent::StageStarted => "stageStarted",
    }
}

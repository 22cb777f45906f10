//! The value `reconcile` returns: per review, what changes, what must be done outside, and the
//! state to record. `recert plan` prints exactly this value; `recert reconcile` executes it.

use std::fmt;

use serde::Serialize;

use crate::directory::Removal;
use crate::model::decisions::Decision;
use crate::model::notifier::Channel;
use crate::model::review::{NotificationEvent, Timestamp};
use crate::notify::outbox::{AttemptResult, Failure, Folded};
use crate::population::Population;
use crate::state::ReviewState;

/// What one reconcile would do, for every review.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub reviews: Vec<ReviewPlan>,
}

impl Plan {
    /// Whether executing the plan would change nothing anywhere.
    pub fn is_empty(&self) -> bool {
        self.reviews.iter().all(ReviewPlan::is_empty)
    }

    /// The earliest time something is due (an instance start or end, a reminder).
    pub fn requeue_at(&self) -> Option<Timestamp> {
        self.reviews.iter().filter_map(|r| r.requeue_at).min()
    }
}

/// What one reconcile would do for one review.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewPlan {
    pub review: String,
    pub changes: Vec<Change>,
    pub effects: Vec<Effect>,
    /// The state to record (for a review deleted now, its last, before the archive); `None`
    /// when there is no such review at all, and once `execute` has recorded it.
    pub next: Option<ReviewState>,
    /// The review is gone: deleted from the manifests now (its records move to the archive),
    /// or neither in the manifests nor recorded.
    pub deleted: bool,
    /// Whether `next` differs from what is recorded (a change, or names newly resolved).
    pub state_changed: bool,
    /// Why the recorded spec was kept instead of the manifest's (it failed to load).
    pub stale_spec: Option<String>,
    /// A problem that stops this review from progressing (for the status).
    pub stalled: Option<String>,
    /// When this review next needs a reconcile even if nothing else happens.
    pub requeue_at: Option<Timestamp>,
}

impl ReviewPlan {
    /// A review's plan that does nothing yet.
    pub fn new(review: &str) -> ReviewPlan {
        ReviewPlan {
            review: review.to_owned(),
            changes: Vec::new(),
            effects: Vec::new(),
            next: None,
            deleted: false,
            state_changed: false,
            stale_spec: None,
            stalled: None,
            requeue_at: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.effects.is_empty() && !self.state_changed
    }
}

/// A change to a review's recorded state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "camelCase")]
pub enum Change {
    Adopted,
    SpecUpdated,
    #[serde(rename_all = "camelCase")]
    InstanceStarted {
        instance: String,
        items: usize,
        /// What was read at launch; the audit trail's `instanceStarted` event carries it.
        #[serde(skip_serializing_if = "Option::is_none")]
        population: Option<Box<Population>>,
    },
    #[serde(rename_all = "camelCase")]
    InstanceMissed {
        instance: String,
    },
    #[serde(rename_all = "camelCase")]
    DecisionRecorded {
        instance: String,
        reviewer: String,
        principal: String,
        decision: Decision,
        reason: Option<String>,
        /// Where it was made: the decisions file, or the reviewer page's sign-in.
        #[serde(default)]
        source: String,
    },
    #[serde(rename_all = "camelCase")]
    DecisionRejected {
        instance: String,
        reviewer: String,
        principal: String,
        reason: String,
    },
    #[serde(rename_all = "camelCase")]
    DecisionWithdrawn {
        instance: String,
        reviewer: String,
        principal: String,
    },
    #[serde(rename_all = "camelCase")]
    Stopped {
        instance: String,
        token: String,
    },
    #[serde(rename_all = "camelCase")]
    Reset {
        instance: String,
        token: String,
        cleared: usize,
    },
    #[serde(rename_all = "camelCase")]
    Completed {
        instance: String,
        defaulted: usize,
    },
    #[serde(rename_all = "camelCase")]
    Reminded {
        instance: String,
        reviewers: Vec<String>,
        token: Option<String>,
        /// When the reminder was due (a scheduled one), or asked for (a request: the pass's
        /// time). A pass that runs late records the due time, not its own.
        at: Timestamp,
    },
    #[serde(rename_all = "camelCase")]
    ApplyStarted {
        instance: String,
        token: Option<String>,
        removals: usize,
    },
    #[serde(rename_all = "camelCase")]
    ApplyBlocked {
        instance: String,
        reason: String,
    },
    #[serde(rename_all = "camelCase")]
    RequestIgnored {
        request: String,
        token: String,
        reason: String,
    },
    #[serde(rename_all = "camelCase")]
    Deleted {
        stopped: Option<String>,
    },
    /// Undecided items went to an escalation level's reviewers as well.
    #[serde(rename_all = "camelCase")]
    Escalated {
        instance: String,
        level: String,
        items: usize,
        reviewers: Vec<String>,
        /// Reviewers whose escalation target is not known (no manager).
        unresolved: Vec<String>,
    },
    /// A stage of a multi-stage instance ended (at its end, or with the instance), with how
    /// many of its items it decided.
    #[serde(rename_all = "camelCase")]
    StageEnded {
        instance: String,
        /// From 1.
        stage: usize,
        name: String,
        decided: usize,
    },
    /// A later stage started, on the items the previous stage's outcomes moved on.
    #[serde(rename_all = "camelCase")]
    StageStarted {
        instance: String,
        /// From 2.
        stage: usize,
        name: String,
        items: usize,
    },
    /// Messages entered the outbox (the pass composed them from one `Notify` effect).
    #[serde(rename_all = "camelCase")]
    NotificationsQueued {
        instance: String,
        event: NotificationEvent,
        messages: Vec<QueuedMessage>,
    },
    /// Nobody could be told: no address, no such notifier.
    NotificationUnreachable(Failure),
    /// What one attempt to deliver a message came to (folded from the delivery log).
    NotificationDelivery(Folded),
}

/// One message queued, as the plan and the audit trail name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueuedMessage {
    pub id: String,
    pub notifier: String,
    pub channel: Channel,
    pub recipient: String,
}

/// Work outside the state: the directory, notifications, the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "effect", rename_all = "camelCase")]
pub enum Effect {
    #[serde(rename_all = "camelCase")]
    Remove {
        instance: String,
        principal: String,
        removal: Removal,
    },
    /// Tell people about an event: the reviewers named (instance started, reminder) and the
    /// review's owners (instance ended, applied); the pass turns it into messages for the
    /// review's notifiers.
    #[serde(rename_all = "camelCase")]
    Notify {
        event: NotificationEvent,
        instance: String,
        /// Which occurrence of the event in the instance: the reminder's number, the apply's
        /// attempt; 0 for events that happen once.
        sequence: u32,
        /// Reviewer ids.
        reviewers: Vec<String>,
        /// Owner ids (or names the directory did not resolve).
        owners: Vec<String>,
    },
    /// Move the review's status, results and audit trail to the archive.
    Archive,
}

/// An event in words.
fn event_words(event: NotificationEvent) -> &'static str {
    match event {
        NotificationEvent::InstanceStarted => "instance started",
        NotificationEvent::Reminder => "reminder",
        NotificationEvent::InstanceEnded => "instance ended",
        NotificationEvent::Applied => "results applied",
        NotificationEvent::Escalated => "escalation",
        NotificationEvent::StageStarted => "stage started",
    }
}

/// `n` and the noun, singular or plural ("1 item", "2 items").
fn count(n: usize, singular: &str, plural: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {plural}")
    }
}

/// Why a reminder or an apply happens: a request's token, or on its own.
fn why(token: Option<&String>, otherwise: &str) -> String {
    token.map_or_else(|| otherwise.to_owned(), |t| format!("requested as `{t}`"))
}

/// Each change as a sentence a reviewer or a review's owner reads in `recert plan` and
/// `recert reconcile` (and the daemon's log).
impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Adopted => f.write_str("Recert now tracks this review"),
            Change::SpecUpdated => f.write_str("the manifest changed; the new spec is recorded"),
            Change::InstanceStarted {
                instance,
                items,
                population,
            } => {
                write!(
                    f,
                    "instance {instance} started: {} to review",
                    count(*items, "assignment", "assignments")
                )?;
                match population.as_deref() {
                    Some(p) if p.read != p.kept => write!(
                        f,
                        " ({} read, {} left out by the scope's filters)",
                        p.read,
                        p.read - p.kept
                    ),
                    _ => Ok(()),
                }
            }
            Change::InstanceMissed { instance } => write!(
                f,
                "instance {instance} was missed: its whole window passed while Recert was not running"
            ),
            Change::DecisionRecorded {
                instance,
                reviewer,
                principal,
                decision,
                ..
            } => {
                let verb = match decision {
                    Decision::Approve => "approved",
                    Decision::Deny => "denied",
                    Decision::DontKnow => "answered don't know for",
                };
                write!(f, "{reviewer} {verb} {principal} (instance {instance})")
            }
            Change::DecisionRejected {
                instance,
                reviewer,
                principal,
                reason,
            } => write!(
                f,
                "{reviewer}'s decision on {principal} does not count (instance {instance}): {reason}"
            ),
            Change::DecisionWithdrawn {
                instance,
                reviewer,
                principal,
            } => write!(
                f,
                "{reviewer} withdrew the decision on {principal} (instance {instance})"
            ),
            Change::Stopped { instance, token } => write!(
                f,
                "instance {instance} stopped early (requested as `{token}`); undecided items stay undecided"
            ),
            Change::Reset {
                instance,
                token,
                cleared,
            } => write!(
                f,
                "instance {instance} reset (requested as `{token}`): {} cleared, every item is undecided again",
                count(*cleared, "decision", "decisions")
            ),
            Change::Completed {
                instance,
                defaulted: 0,
            } => write!(f, "instance {instance} ended"),
            Change::Completed {
                instance,
                defaulted,
            } => write!(
                f,
                "instance {instance} ended; the default decision filled {}",
                count(*defaulted, "undecided item", "undecided items")
            ),
            Change::Reminded {
                instance,
                reviewers,
                token,
                ..
            } => {
                let why = why(token.as_ref(), "on schedule");
                if reviewers.is_empty() {
                    write!(
                        f,
                        "reminder for instance {instance} ({why}): nobody has undecided items"
                    )
                } else {
                    write!(
                        f,
                        "reminder for instance {instance} ({why}) to {} with undecided items: {}",
                        count(reviewers.len(), "reviewer", "reviewers"),
                        reviewers.join(", ")
                    )
                }
            }
            Change::ApplyStarted {
                instance,
                token,
                removals,
            } => write!(
                f,
                "applying instance {instance} ({}): {} to remove",
                why(token.as_ref(), "auto-apply"),
                count(*removals, "access", "accesses")
            ),
            Change::ApplyBlocked { instance, reason } => {
                write!(f, "instance {instance} is not applied: {reason}")
            }
            Change::RequestIgnored {
                request,
                token,
                reason,
            } => write!(f, "request `{request}: {token}` ignored: {reason}"),
            Change::Escalated {
                instance,
                level,
                items,
                reviewers,
                unresolved,
            } => {
                write!(
                    f,
                    "instance {instance} escalated ({level}): {} go to {} as well",
                    count(*items, "undecided item", "undecided items"),
                    if reviewers.is_empty() {
                        "nobody new".to_owned()
                    } else {
                        reviewers.join(", ")
                    }
                )?;
                if !unresolved.is_empty() {
                    write!(f, "; no manager known for {}", unresolved.join(", "))?;
                }
                Ok(())
            }
            Change::StageEnded {
                instance,
                stage,
                name,
                decided,
            } => write!(
                f,
                "instance {instance}: {} ended, {} decided",
                super::stages::title(*stage, name),
                count(*decided, "item", "items")
            ),
            Change::StageStarted {
                instance,
                stage,
                name,
                items,
            } => write!(
                f,
                "instance {instance}: {} started: {} to review",
                super::stages::title(*stage, name),
                count(*items, "item", "items")
            ),
            Change::NotificationsQueued {
                instance,
                event,
                messages,
            } => {
                // A few names are enough to read; the audit trail has every message.
                const SHOWN: usize = 5;
                let names: Vec<String> = messages
                    .iter()
                    .take(SHOWN)
                    .map(|m| format!("{} ({})", m.recipient, m.notifier))
                    .collect();
                write!(
                    f,
                    "notification \"{}\" (instance {instance}): {} queued, to {}",
                    event_words(*event),
                    count(messages.len(), "message", "messages"),
                    names.join(", ")
                )?;
                if messages.len() > SHOWN {
                    write!(f, " and {} more", messages.len() - SHOWN)?;
                }
                Ok(())
            }
            Change::NotificationUnreachable(failure) => write!(
                f,
                "notification \"{}\" to {} through {} cannot be sent: {}",
                event_words(failure.event),
                failure.recipient,
                failure.notifier,
                failure.answer
            ),
            Change::NotificationDelivery(folded) => {
                let what = match folded.result {
                    AttemptResult::Delivered => "delivered",
                    AttemptResult::Retry => "not delivered yet, to be retried",
                    AttemptResult::Failed => "failed",
                    AttemptResult::Gone => "failed, and the webhook is disabled",
                };
                write!(
                    f,
                    "notification {} \"{}\" to {} through {}: {what} ({})",
                    folded.id,
                    event_words(folded.event),
                    folded.recipient,
                    folded.notifier,
                    folded.answer
                )
            }
            Change::Deleted { stopped } => match stopped {
                Some(instance) => write!(
                    f,
                    "the review was deleted from the manifests: instance {instance} stops without applying, and its records move to the archive"
                ),
                None => f.write_str(
                    "the review was deleted from the manifests: its records move to the archive",
                ),
            },
        }
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Effect::Remove {
                principal, removal, ..
            } => write!(f, "remove {removal} of {principal}"),
            Effect::Notify {
                event,
                instance,
                reviewers,
                owners,
                ..
            } => {
                let what = event_words(*event);
                let to = match (reviewers.len(), owners.len()) {
                    (0, 0) => "the review's notifiers".to_owned(),
                    (0, n) => count(n, "owner", "owners"),
                    (n, _) => count(n, "reviewer", "reviewers"),
                };
                write!(f, "\"{what}\" (instance {instance}) is for {to}")
            }
            Effect::Archive => f.write_str("move status, results and audit trail to the archive"),
        }
    }
}

impl fmt::Display for Plan {
    /// One line per change: names, reasons and directory values are escaped
    /// ([`crate::printable`]), so none can break a line or reach the terminal raw.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::printable::escape;
        for review in self
            .reviews
            .iter()
            .filter(|r| !r.is_empty() || r.stale_spec.is_some() || r.stalled.is_some())
        {
            writeln!(f, "review {}:", escape(&review.review))?;
            if let Some(reason) = &review.stale_spec {
                writeln!(f, "  ! keeping the last good spec: {}", escape(reason))?;
            }
            if let Some(reason) = &review.stalled {
                writeln!(f, "  ! stalled: {}", escape(reason))?;
            }
            for change in &review.changes {
                writeln!(f, "  ~ {}", escape(&change.to_string()))?;
            }
            for effect in &review.effects {
                let sign = if matches!(effect, Effect::Remove { .. }) {
                    '-'
                } else {
                    '>'
                };
                writeln!(f, "  {sign} {}", escape(&effect.to_string()))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_from_outside_are_printed_on_their_line_escaped() {
        let plan = Plan {
            reviews: vec![ReviewPlan {
                stalled: Some("SCIM said: \u{1b}[2Jgone\n::error file=evil.yaml::x".to_owned()),
                ..ReviewPlan::new("ga")
            }],
        };
        assert_eq!(
            plan.to_string(),
            "review ga:\n  ! stalled: SCIM said: \\x1b[2Jgone\\n::error file=evil.yaml::x\n"
        );
    }
}

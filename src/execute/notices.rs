//! The pass's side of notifications: folding what the sender recorded into each review's
//! state, and turning the engine's `Notify` effects into messages in the review's outbox
//! (looking up in the directory the reviewers and owners the instance does not hold).

use std::collections::{BTreeSet, HashMap};

use crate::directory::registry::Directories;
use crate::directory::{Directory, Principal, UserInfo};
use crate::model::review::Timestamp;
use crate::notify::Notifiers;
use crate::notify::compose::{self, Notice};
use crate::notify::message::Message;
use crate::notify::outbox::{self, Pending};
use crate::reconcile::{Change, Effect, ReviewPlan};
use crate::state::ReviewState;
use crate::store::Store;

/// Folds the new lines of each planned review's delivery log into its next state, each as a
/// change (so the review is recorded, and the audit trail holds every outcome).
pub fn fold_deliveries(store: &Store, reviews: &mut [ReviewPlan]) {
    for review in reviews {
        let Some(next) = review.next.as_mut() else {
            continue;
        };
        let path = store.review_dir(&review.review).join(outbox::DELIVERY_LOG);
        let (attempts, offset) = match outbox::read_log(&path, next.outbox.log_offset) {
            Ok(read) => read,
            Err(e) => {
                tracing::warn!(review = %review.review, error = %e, "cannot read the delivery log; its outcomes are folded in later");
                continue;
            }
        };
        if offset == next.outbox.log_offset {
            continue;
        }
        next.outbox.log_offset = offset;
        let folded = outbox::fold(&mut next.outbox, attempts);
        review
            .changes
            .extend(folded.into_iter().map(Change::NotificationDelivery));
    }
}

/// Composes the messages of `effects`' `Notify` notices into `next`'s outbox, with a change
/// for each message queued and each recipient who cannot be reached, and returns the messages
/// (the sender's queue). Composed once: the effect is the engine's decision, made once; a
/// message whose id is already pending is not queued twice.
pub async fn compose_notices(
    effects: &[Effect],
    changes: &mut Vec<Change>,
    next: &mut ReviewState,
    notifiers: &Notifiers,
    directories: &mut Directories<'_>,
    now: Timestamp,
) -> Vec<Message> {
    let notices: Vec<Notice<'_>> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Notify {
                event,
                instance,
                sequence,
                reviewers,
                owners,
            } => Some(Notice {
                event: *event,
                instance,
                sequence: *sequence,
                reviewers,
                owners,
            }),
            _ => None,
        })
        .collect();
    if notices.is_empty() || next.spec.settings.notifications.notifiers.is_empty() {
        return Vec::new();
    }
    let people = people(next, &notices, directories).await;
    let mut messages = Vec::new();
    let mut unreachable = Vec::new();
    for notice in notices {
        let composed = compose::compose(&next.name, next, notice, notifiers, &people, now);
        messages.extend(composed.messages);
        unreachable.extend(composed.unreachable);
    }
    let queued: BTreeSet<&str> = next
        .outbox
        .pending
        .iter()
        .map(|p| p.message.id.as_str())
        .collect();
    messages.retain(|m| !queued.contains(m.id.as_str()));
    for m in &messages {
        changes.push(Change::NotificationQueued {
            instance: m.instance.clone(),
            event: m.event,
            id: m.id.clone(),
            notifier: m.notifier.clone(),
            channel: m.channel,
            recipient: outbox::recipient_label(m),
        });
    }
    for failure in unreachable {
        changes.push(Change::NotificationUnreachable(failure.clone()));
        next.outbox
            .instances
            .entry(failure.instance.clone())
            .or_default()
            .failed
            .push(failure);
    }
    next.outbox.pending.extend(messages.iter().map(|m| Pending {
        message: m.clone(),
        attempts: 0,
        last_answer: None,
    }));
    messages
}

/// The users a review's notices name who are not among their instance's items, looked up in
/// the review's directory. A directory that cannot be read leaves them out: their messages are
/// reported as unreachable, with the rest sent.
async fn people(
    state: &ReviewState,
    notices: &[Notice<'_>],
    directories: &mut Directories<'_>,
) -> HashMap<String, UserInfo> {
    let mut wanted: BTreeSet<String> = BTreeSet::new();
    for notice in notices {
        let items = state
            .instances
            .iter()
            .find(|i| i.id == notice.instance)
            .map(|i| &i.items);
        for id in notice.reviewers.iter().chain(notice.owners) {
            let is_user_item = items
                .and_then(|items| items.get(id))
                .is_some_and(|i| matches!(i.principal, Principal::User(_)));
            if !is_user_item {
                wanted.insert(id.clone());
            }
        }
    }
    let mut out = HashMap::new();
    if wanted.is_empty() {
        return out;
    }
    let directory = match directories.get(&state.spec.directory) {
        Ok(directory) => directory,
        Err(e) => {
            tracing::warn!(review = %state.name, error = %e, "cannot open the directory to address notifications");
            return out;
        }
    };
    let wanted: Vec<String> = wanted.into_iter().collect();
    for chunk in wanted.chunks(directory.lookup_batch_size().max(1)) {
        match directory.lookup(chunk).await {
            Ok(found) => {
                for p in found {
                    if let Principal::User(u) = p {
                        out.insert(u.id.clone(), u);
                    }
                }
            }
            Err(e) => {
                tracing::warn!(review = %state.name, error = %e, "cannot look up notification recipients");
            }
        }
    }
    out
}

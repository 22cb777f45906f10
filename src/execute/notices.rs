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
use crate::notify::{outbox, segment};
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

/// Composes the messages of `effects`' `Notify` notices, with a change for each notice's
/// messages and each recipient who cannot be reached (recorded in `next`'s outbox as a
/// failure), and returns the messages, for [`enqueue`] once their segment is written.
/// Composed once: the effect is the engine's decision, made once; a message whose id is
/// already pending is not composed twice.
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
    let queued: BTreeSet<&str> = next.outbox.pending.iter().map(|p| p.id.as_str()).collect();
    messages.retain(|m| !queued.contains(m.id.as_str()));
    // One change per notice, listing its messages.
    let mut by_notice: std::collections::BTreeMap<(&str, u8), Vec<&Message>> =
        std::collections::BTreeMap::new();
    for m in &messages {
        by_notice
            .entry((m.instance.as_str(), m.event as u8))
            .or_default()
            .push(m);
    }
    for group in by_notice.into_values() {
        changes.push(Change::NotificationsQueued {
            instance: group[0].instance.clone(),
            event: group[0].event,
            messages: group
                .iter()
                .map(|m| crate::reconcile::plan::QueuedMessage {
                    id: m.id.clone(),
                    notifier: m.notifier.clone(),
                    channel: m.channel,
                    recipient: outbox::recipient_label(m),
                })
                .collect(),
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
    messages
}

/// Writes the messages a batch of reviews composed to one outbox segment, before any of
/// their states is saved, and returns its name. Without one (no messages, or the segment
/// could not be written), [`enqueue`] keeps each message whole in its state instead.
pub fn write_segment(
    ctx: &crate::context::Context,
    store: &Store,
    messages: &[&Message],
) -> Option<String> {
    if messages.is_empty() {
        return None;
    }
    match segment::write(store, messages) {
        Ok(name) => {
            if ctx.faults.abort_after_outbox_segment {
                std::process::abort();
            }
            Some(name)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot write an outbox segment; each message is kept whole in its review's state");
            None
        }
    }
}

/// Puts `messages` in `next`'s outbox: each a reference to `segment`, or whole without one.
pub fn enqueue(next: &mut ReviewState, messages: &[Message], segment: Option<&str>) {
    for m in messages {
        next.outbox.push(m, segment);
    }
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

/// Why a preview cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error("no review named `{0}` in the manifests")]
    NoReview(String),
    #[error("review `{0}` has no instance yet; pass --now with a time when one runs")]
    NoInstance(String),
    #[error(
        "review `{0}` names no notifier in settings.notifications.notifiers: nothing would be sent"
    )]
    NoNotifiers(String),
    #[error("the review's directory cannot be read: {0}")]
    Directory(String),
}

/// The messages `event` of `review`'s latest instance (as the next reconcile at the
/// context's time would have it) would send to `to` (a user id or user principal name: the
/// reviewer for a start or a reminder, the owner otherwise), and every channel message of the
/// event. Nothing is written or sent.
pub async fn preview(
    ctx: &crate::context::Context,
    loaded: &crate::load::Loaded,
    store: &Store,
    review: &str,
    event: crate::model::review::NotificationEvent,
    to: &str,
) -> Result<Vec<Message>, PreviewError> {
    use crate::model::review::NotificationEvent;
    let only: BTreeSet<String> = [review.to_owned()].into();
    let mut directories = Directories::new(loaded);
    let options = super::PassOptions {
        only: Some(&only),
        revision: None,
        write: false,
        unconfirmed_deletions: None,
    };
    let report = super::pass::run(ctx, loaded, store, &mut directories, ctx.now(), &options).await;
    if let Some(e) = report.errors.get(review) {
        return Err(PreviewError::Directory(e.to_string()));
    }
    let next = report
        .plan
        .reviews
        .into_iter()
        .find(|r| r.review == review)
        .and_then(|r| r.next)
        .ok_or_else(|| PreviewError::NoReview(review.to_owned()))?;
    if next.spec.settings.notifications.notifiers.is_empty() {
        return Err(PreviewError::NoNotifiers(review.to_owned()));
    }
    let instance = next
        .instances
        .last()
        .ok_or_else(|| PreviewError::NoInstance(review.to_owned()))?;
    let key = crate::reconcile::normalize(to);
    let id = next
        .known
        .get(&key)
        .cloned()
        .or_else(|| {
            instance.items.values().find_map(|i| match &i.principal {
                Principal::User(u) if u.user_principal_name.eq_ignore_ascii_case(to) => {
                    Some(u.id.clone())
                }
                _ => None,
            })
        })
        .unwrap_or_else(|| to.to_owned());
    let ids = [id.clone()];
    let to_reviewers = matches!(
        event,
        NotificationEvent::InstanceStarted
            | NotificationEvent::StageStarted
            | NotificationEvent::Reminder
    );
    let sequence = match event {
        NotificationEvent::Reminder => {
            u32::try_from(instance.reminders.len() + 1).unwrap_or(u32::MAX)
        }
        NotificationEvent::Applied => instance.apply.as_ref().map_or(1, |a| a.attempt),
        NotificationEvent::StageStarted => u32::try_from(instance.stage + 1).unwrap_or(u32::MAX),
        _ => 0,
    };
    let notice = Notice {
        event,
        instance: &instance.id,
        sequence,
        reviewers: if to_reviewers { &ids } else { &[] },
        owners: if to_reviewers { &[] } else { &ids },
    };
    let people = people(&next, &[notice], &mut directories).await;
    let notifiers = Notifiers::of(loaded);
    let composed = compose::compose(review, &next, notice, &notifiers, &people, ctx.now());
    let mut messages: Vec<Message> = composed
        .messages
        .into_iter()
        .filter(|m| m.to.id.as_deref().is_none_or(|i| i == id))
        .collect();
    for m in &mut messages {
        m.materialize(&next);
    }
    messages.sort_by(|a, b| a.notifier.cmp(&b.notifier));
    Ok(messages)
}

//! The sender: takes messages from the outboxes, sends each through its notifier's transport,
//! and appends what came of it to the review's delivery log. A delivered message is never sent
//! again; a temporary failure is retried with back-off until the notifier's retry time has
//! passed; a webhook that answered 410 Gone gets nothing more until its `Notifier` changes.
//!
//! Exactly once, as far as a crash allows: a message's outcome line is written (one `write`,
//! appended) as soon as its server answers, so a killed process loses none; a crash of the
//! machine between the server's answer and the log's fsync may send a message once more, with
//! the same `Message-ID` or `webhook-id`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::model::notifier::Channel;
use crate::model::review::{NotificationEvent, Timestamp};
use crate::store::Store;

use super::Notifiers;
use super::message::{Message, event_name};
use super::outbox::{self, Attempt, AttemptResult, Pending};
use super::segment;
use super::transport::{Delivery, Transports};

/// How many messages are in flight at once, across notifiers (each SMTP notifier also caps
/// its own connections).
const IN_FLIGHT: usize = 64;

/// The first retry's wait; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// How long temporary failures are retried when the notifier does not say.
pub const DEFAULT_RETRY_HOURS: u32 = 72;

/// Where the sender keeps the webhooks that answered 410 Gone.
const DISABLED_FILE: &str = "notifiers-disabled.json";

/// Counts for `/metrics`: messages by channel, event and result, and the outbox's depth.
#[derive(Debug, Default)]
pub struct Stats {
    counts: std::sync::Mutex<BTreeMap<(Channel, NotificationEvent, &'static str), u64>>,
    depth: AtomicU64,
}

impl Stats {
    fn count(&self, channel: Channel, event: NotificationEvent, result: AttemptResult) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *counts.entry((channel, event, result.as_str())).or_default() += 1;
    }

    /// Every (channel, event, result) with its count, zeros included, so that each series
    /// exists from the start.
    pub fn counts(&self) -> Vec<(&'static str, &'static str, &'static str, u64)> {
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = Vec::new();
        for channel in Channel::ALL {
            for event in [
                NotificationEvent::InstanceStarted,
                NotificationEvent::StageStarted,
                NotificationEvent::Reminder,
                NotificationEvent::InstanceEnded,
                NotificationEvent::Applied,
                NotificationEvent::Escalated,
            ] {
                for result in [
                    AttemptResult::Delivered,
                    AttemptResult::Retry,
                    AttemptResult::Failed,
                    AttemptResult::Gone,
                ] {
                    let n = counts
                        .get(&(channel, event, result.as_str()))
                        .copied()
                        .unwrap_or(0);
                    out.push((channel.as_str(), event_name(event), result.as_str(), n));
                }
            }
        }
        out
    }

    /// Messages waiting to be sent.
    pub fn depth(&self) -> u64 {
        self.depth.load(Ordering::Relaxed)
    }
}

/// A webhook disabled by a 410 answer, for as long as its settings stay the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Disabled {
    fingerprint: String,
    answer: String,
    at: Timestamp,
}

/// A message the state directory holds as waiting, and when it is due.
struct Waiting<'a> {
    review: &'a str,
    pending: &'a Pending,
    attempts: u32,
    due: Timestamp,
}

#[derive(Debug, Clone)]
struct Queued {
    message: Message,
    attempts: u32,
}

/// What one round of delivery did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Round {
    /// Reviews whose delivery log grew: a pass over them folds it in.
    pub reviews: BTreeSet<String>,
    pub delivered: u64,
    pub retrying: u64,
    pub failed: u64,
}

/// The sender's queue and transports.
#[derive(Debug)]
pub struct Sender {
    store: Store,
    notifiers: Notifiers,
    transports: Arc<Transports>,
    fingerprints: HashMap<String, String>,
    /// By when it is due, then id.
    queue: BTreeMap<(Timestamp, String), Queued>,
    queued: BTreeSet<String>,
    disabled: BTreeMap<String, Disabled>,
    stats: Arc<Stats>,
}

impl Sender {
    pub fn new(store: Store, notifiers: Notifiers, stats: Arc<Stats>) -> Sender {
        // Read without following a link, as every file of the state directory.
        let disabled = crate::fsutil::open_read(&store.root().join(DISABLED_FILE))
            .ok()
            .and_then(|file| serde_json::from_reader(std::io::BufReader::new(file)).ok())
            .unwrap_or_default();
        let mut sender = Sender {
            store,
            notifiers: Notifiers::default(),
            transports: Arc::new(Transports::new(&[])),
            fingerprints: HashMap::new(),
            queue: BTreeMap::new(),
            queued: BTreeSet::new(),
            disabled,
            stats,
        };
        sender.set_notifiers(notifiers);
        sender
    }

    /// The notifiers as the manifests now declare them. Transports are built again only when
    /// a notifier changed, so pooled connections survive a pass that changed nothing.
    pub fn set_notifiers(&mut self, notifiers: Notifiers) {
        let fingerprints: HashMap<String, String> = notifiers
            .iter()
            .map(|(name, (spec, path))| (name.clone(), fingerprint(spec, path)))
            .collect();
        if fingerprints != self.fingerprints || self.notifiers.is_empty() {
            let list: Vec<_> = notifiers
                .iter()
                .map(|(name, (spec, path))| (name.clone(), spec.clone(), path.clone()))
                .collect();
            self.transports = Arc::new(Transports::new(&list));
        }
        self.fingerprints = fingerprints;
        self.notifiers = notifiers;
    }

    /// Closes the idle SMTP connections politely (QUIT): before a command line exits.
    pub async fn shutdown(&self) {
        self.transports.shutdown().await;
    }

    /// SMTP connections the notifier's transport has opened.
    pub fn connections_opened(&self, notifier: &str) -> u64 {
        self.transports.connections_opened(notifier)
    }

    /// Queues messages, due now. A message already queued is not queued twice.
    pub fn enqueue(&mut self, messages: impl IntoIterator<Item = Message>, now: Timestamp) {
        for message in messages {
            self.push(message, 0, now);
        }
        self.stats
            .depth
            .store(self.queue.len() as u64, Ordering::Relaxed);
    }

    fn push(&mut self, message: Message, attempts: u32, due: Timestamp) {
        if self.queued.insert(message.id.clone()) {
            self.queue
                .insert((due, message.id.clone()), Queued { message, attempts });
        }
    }

    /// Queues every message still waiting in the state directory (after a restart): each
    /// review's outbox, less what its delivery log says was already done, each message read
    /// from its outbox segment (each segment read once).
    pub fn load_pending(&mut self, now: Timestamp) -> Result<(), crate::store::Error> {
        let names = self.store.names()?;
        let (stored, errors) = self.store.load_some(names.iter().map(String::as_str));
        for e in errors {
            tracing::warn!(error = %e, "a review's outbox cannot be read");
        }
        // What waits, by the segment holding it (none: held whole in the state).
        let mut waiting: BTreeMap<Option<&str>, Vec<Waiting<'_>>> = BTreeMap::new();
        for (name, stored) in &stored {
            let outbox = &stored.state.outbox;
            if outbox.pending.is_empty() {
                continue;
            }
            let path = self.store.review_dir(name).join(outbox::DELIVERY_LOG);
            let (attempts, _) = outbox::read_log(&path, outbox.log_offset).unwrap_or_default();
            let mut retries: HashMap<&str, (u32, Timestamp)> = HashMap::new();
            let mut done: BTreeSet<&str> = BTreeSet::new();
            for a in &attempts {
                match a.result {
                    AttemptResult::Retry => {
                        let entry = retries.entry(a.id.as_str()).or_insert((0, a.at));
                        entry.0 += 1;
                        entry.1 = a.at;
                    }
                    _ => {
                        done.insert(a.id.as_str());
                    }
                }
            }
            for pending in &outbox.pending {
                if done.contains(pending.id.as_str()) {
                    continue;
                }
                let (more, last) = retries
                    .get(pending.id.as_str())
                    .copied()
                    .unwrap_or((0, pending.last_attempt.unwrap_or(now)));
                let attempts = pending.attempts + more;
                let due = if attempts == 0 {
                    now
                } else {
                    later(last, backoff(attempts, None)).min(later(now, MAX_BACKOFF))
                };
                waiting
                    .entry(pending.segment.as_deref())
                    .or_default()
                    .push(Waiting {
                        review: name,
                        pending,
                        attempts,
                        due,
                    });
            }
        }
        let mut queue = Vec::new();
        for (segment, entries) in waiting {
            let mut bodies = match segment {
                None => HashMap::new(),
                Some(segment) => {
                    let wanted: BTreeSet<&str> =
                        entries.iter().map(|w| w.pending.id.as_str()).collect();
                    match segment::read(&self.store, segment, &wanted) {
                        Ok(bodies) => bodies,
                        Err(e) if e.is_not_found() => HashMap::new(),
                        Err(e) => {
                            // Perhaps passing (a permission, the disk): tried again on the
                            // next start.
                            tracing::error!(error = %e, "an outbox segment cannot be read; its messages wait");
                            continue;
                        }
                    }
                }
            };
            for Waiting {
                review,
                pending,
                attempts,
                due,
            } in entries
            {
                let message = match &pending.message {
                    Some(message) => Some(Message::clone(message)),
                    None => bodies.remove(&pending.id),
                };
                match message {
                    Some(mut message) => {
                        message.materialize(&stored[review].state);
                        queue.push((message, attempts, due));
                    }
                    None => self.lost(review, pending, segment.unwrap_or_default(), now),
                }
            }
        }
        for (message, attempts, due) in queue {
            self.push(message, attempts, due);
        }
        self.stats
            .depth
            .store(self.queue.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Records as failed a message its segment does not hold (the segment was deleted or
    /// edited by hand): nothing can be sent, and the next pass folds the failure in.
    fn lost(&self, review: &str, pending: &Pending, segment: &str, now: Timestamp) {
        let answer = format!("the message is missing from its outbox segment `{segment}`");
        tracing::error!(review, id = %pending.id, "{answer}");
        let attempt = Attempt {
            id: pending.id.clone(),
            at: now,
            result: AttemptResult::Failed,
            answer,
        };
        let path = self.store.review_dir(review).join(outbox::DELIVERY_LOG);
        if let Err(e) = outbox::append_log(&path, &[attempt], true) {
            tracing::error!(review, error = %e, "cannot record a lost message");
        }
    }

    /// When the next message is due, if any waits.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.queue.keys().next().map(|(due, _)| *due)
    }

    pub fn depth(&self) -> usize {
        self.queue.len()
    }

    /// Sends every message due at the clock's time, and records each outcome. Stops early
    /// (leaving the rest queued) when the context is cancelled or `deadline` passes.
    pub async fn deliver_due(
        &mut self,
        ctx: &Context,
        deadline: Option<tokio::time::Instant>,
    ) -> Round {
        let mut round = Round::default();
        let now = ctx.clock.now();
        let due: Vec<(Timestamp, String)> = self
            .queue
            .range(..=(now, String::from("\u{10FFFF}")))
            .map(|(k, _)| k.clone())
            .collect();
        let mut work: std::collections::VecDeque<Queued> = due
            .into_iter()
            .filter_map(|k| {
                let q = self.queue.remove(&k)?;
                self.queued.remove(&q.message.id);
                Some(q)
            })
            .collect();
        self.materialize(&mut work);
        let mut running = tokio::task::JoinSet::new();
        let mut touched_logs: BTreeSet<PathBuf> = BTreeSet::new();
        loop {
            let stopping =
                ctx.stop_requested() || deadline.is_some_and(|d| tokio::time::Instant::now() >= d);
            while !stopping && running.len() < IN_FLIGHT {
                let Some(queued) = work.pop_front() else {
                    break;
                };
                if let Some(delivery) = self.refuse(&queued.message) {
                    self.settle(queued, delivery, ctx, &mut round, &mut touched_logs);
                    continue;
                }
                let transports = Arc::clone(&self.transports);
                running.spawn(async move {
                    let delivery = transports.send(&queued.message).await;
                    (queued, delivery)
                });
            }
            if running.is_empty() {
                break;
            }
            let next = match deadline {
                Some(d) => tokio::select! {
                    joined = running.join_next() => joined,
                    () = tokio::time::sleep_until(d) => None,
                    () = ctx.cancel.cancelled() => None,
                },
                None => tokio::select! {
                    joined = running.join_next() => joined,
                    () = ctx.cancel.cancelled() => None,
                },
            };
            match next {
                Some(Ok((queued, delivery))) => {
                    self.settle(queued, delivery, ctx, &mut round, &mut touched_logs);
                }
                Some(Err(e)) => tracing::error!(error = %e, "a delivery task failed"),
                None => {
                    // Out of time: what is in flight is abandoned unrecorded, and sent again
                    // (same id) next time.
                    running.abort_all();
                    break;
                }
            }
        }
        for queued in work {
            let id = queued.message.id.clone();
            if self.queued.insert(id.clone()) {
                self.queue.insert((now, id), queued);
            }
        }
        for path in touched_logs {
            if let Err(e) = crate::fsutil::open_read(&path).and_then(|f| f.sync_data()) {
                tracing::warn!(path = %path.display(), error = %e, "cannot sync the delivery log");
            }
        }
        self.stats
            .depth
            .store(self.queue.len() as u64, Ordering::Relaxed);
        round
    }

    /// Fills in the items of messages queued by a pass (which names them by id), from their
    /// reviews' states, each read once.
    fn materialize(&self, work: &mut std::collections::VecDeque<Queued>) {
        let wanted: BTreeSet<&str> = work
            .iter()
            .filter(|q| !q.message.item_ids.is_empty() && q.message.content.items.is_empty())
            .map(|q| q.message.review.as_str())
            .collect();
        if wanted.is_empty() {
            return;
        }
        let (stored, errors) = self.store.load_some(wanted.into_iter());
        for e in errors {
            tracing::warn!(error = %e, "a review's state cannot be read to fill in its messages");
        }
        for q in work.iter_mut() {
            if let Some(s) = stored.get(&q.message.review) {
                q.message.materialize(&s.state);
            }
        }
    }

    /// Why a message is not sent at all: its notifier is gone from the manifests, or disabled.
    fn refuse(&mut self, message: &Message) -> Option<Delivery> {
        let Some(current) = self.fingerprints.get(&message.notifier) else {
            return Some(Delivery::Permanent {
                answer: format!(
                    "no Notifier named `{}` is declared any more",
                    message.notifier
                ),
            });
        };
        let disabled = self.disabled.get(&message.notifier)?;
        if &disabled.fingerprint != current {
            // The notifier changed (a new URL): it is enabled again.
            self.disabled.remove(&message.notifier);
            self.save_disabled();
            return None;
        }
        Some(Delivery::Gone {
            answer: format!(
                "disabled since {}: the webhook answered {}; change the Notifier to enable it again",
                disabled.at, disabled.answer
            ),
        })
    }

    fn settle(
        &mut self,
        queued: Queued,
        delivery: Delivery,
        ctx: &Context,
        round: &mut Round,
        touched: &mut BTreeSet<PathBuf>,
    ) {
        let now = ctx.clock.now();
        let message = &queued.message;
        let retry_hours = self
            .notifiers
            .get(&message.notifier)
            .and_then(|(spec, _)| spec.retry_hours)
            .unwrap_or(DEFAULT_RETRY_HOURS);
        let (result, answer, retry_after) = match delivery {
            Delivery::Delivered { answer } => (AttemptResult::Delivered, answer, None),
            Delivery::Permanent { answer } => (AttemptResult::Failed, answer, None),
            Delivery::Gone { answer } => {
                if let Some(fp) = self.fingerprints.get(&message.notifier)
                    && !self.disabled.contains_key(&message.notifier)
                {
                    self.disabled.insert(
                        message.notifier.clone(),
                        Disabled {
                            fingerprint: fp.clone(),
                            answer: answer.clone(),
                            at: now,
                        },
                    );
                    self.save_disabled();
                }
                (AttemptResult::Gone, answer, None)
            }
            Delivery::Temporary {
                answer,
                retry_after,
            } => {
                let give_up = later(
                    message.created,
                    Duration::from_secs(u64::from(retry_hours) * 3600),
                );
                if now >= give_up {
                    let answer = format!(
                        "gave up after {} attempts over {retry_hours} hours; the last answer: {answer}",
                        queued.attempts + 1
                    );
                    (AttemptResult::Failed, answer, None)
                } else {
                    (AttemptResult::Retry, answer, retry_after)
                }
            }
        };
        self.stats.count(message.channel, message.event, result);
        match result {
            AttemptResult::Delivered => round.delivered += 1,
            AttemptResult::Retry => round.retrying += 1,
            AttemptResult::Failed | AttemptResult::Gone => round.failed += 1,
        }
        let attempt = Attempt {
            id: message.id.clone(),
            at: now,
            result,
            answer,
        };
        let path = self
            .store
            .review_dir(&message.review)
            .join(outbox::DELIVERY_LOG);
        if let Err(e) = outbox::append_log(&path, std::slice::from_ref(&attempt), false) {
            // Unrecorded: it stays queued, and is sent again (same id) on the next round.
            tracing::error!(review = %message.review, error = %e, "cannot record a delivery");
            let id = message.id.clone();
            if self.queued.insert(id.clone()) {
                self.queue.insert((later(now, FIRST_BACKOFF), id), queued);
            }
            return;
        }
        tracing::info!(review = %message.review, id = %message.id, notifier = %message.notifier, result = result.as_str(), answer = %attempt.answer, "notification");
        touched.insert(path);
        round.reviews.insert(message.review.clone());
        if result == AttemptResult::Retry {
            let attempts = queued.attempts + 1;
            let due = later(now, backoff(attempts, retry_after));
            let id = queued.message.id.clone();
            if self.queued.insert(id.clone()) {
                self.queue.insert(
                    (due, id),
                    Queued {
                        message: queued.message,
                        attempts,
                    },
                );
            }
        }
    }

    fn save_disabled(&self) {
        let bytes = match serde_json::to_vec_pretty(&self.disabled) {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode the disabled webhooks");
                return;
            }
        };
        if let Err(e) = crate::fsutil::write_atomic(&self.store.root().join(DISABLED_FILE), &bytes)
        {
            tracing::error!(error = %e, "cannot record a disabled webhook");
        }
    }
}

/// The wait before the next attempt: doubling from [`FIRST_BACKOFF`] up to [`MAX_BACKOFF`],
/// or longer when the server asked (`Retry-After`).
fn backoff(attempts: u32, retry_after: Option<Duration>) -> Duration {
    let doubling = FIRST_BACKOFF.saturating_mul(1u32 << attempts.saturating_sub(1).min(16));
    doubling
        .min(MAX_BACKOFF)
        .max(retry_after.unwrap_or_default().min(MAX_BACKOFF * 24))
}

fn later(t: Timestamp, by: Duration) -> Timestamp {
    let span = jiff::SignedDuration::try_from(by).unwrap_or(jiff::SignedDuration::MAX);
    Timestamp(t.0.checked_add(span).unwrap_or(jiff::Timestamp::MAX))
}

/// What identifies a notifier's settings: when it changes, a disabled webhook is enabled
/// again and the transports are rebuilt.
fn fingerprint(spec: &crate::model::notifier::NotifierSpec, path: &std::path::Path) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(serde_json::to_vec(spec).unwrap_or_default());
    hash.update(path.as_os_str().as_encoded_bytes());
    let digest = hash.finalize();
    crate::audit::hex(&digest[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_an_hour_and_honours_retry_after() {
        assert_eq!(backoff(1, None), Duration::from_secs(30));
        assert_eq!(backoff(2, None), Duration::from_secs(60));
        assert_eq!(backoff(3, None), Duration::from_secs(120));
        assert_eq!(backoff(30, None), MAX_BACKOFF);
        assert_eq!(
            backoff(1, Some(Duration::from_secs(600))),
            Duration::from_secs(600)
        );
    }
}

//! The outbox: messages the pass decided, and the delivery log the sender appends each outcome
//! to. A review's state holds a slim reference to each message waiting ([`Pending`]: enough for
//! the status, the metrics and folding outcomes); the message itself is in the outbox segment
//! its pass wrote ([`super::segment`]), on disk before the state that refers to it, so a
//! message exists exactly when the decision to send it does. The pass folds new outcomes into
//! the state ([`fold`]): delivered and failed messages leave the outbox and are counted per
//! instance.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::notifier::Channel;
use crate::model::review::{NotificationEvent, Timestamp};

use super::message::Message;

/// The file in a review's folder that the sender appends outcomes to.
pub const DELIVERY_LOG: &str = "deliveries.jsonl";

/// A review's notifications: what waits to be sent, and what became of the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outbox {
    /// Messages not delivered yet (nor failed for good), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<Pending>,
    /// How far the delivery log has been folded in, in bytes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub log_offset: u64,
    /// Per instance: messages sent, and every failure.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub instances: BTreeMap<String, Tally>,
    /// Webhooks that answered 410 Gone: no message goes through them again until their URL
    /// changes. By notifier name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub disabled: BTreeMap<String, String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Outbox {
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
            && self.log_offset == 0
            && self.instances.is_empty()
            && self.disabled.is_empty()
    }

    /// Puts a message in the outbox: a reference to it in `segment`, or, without one, the
    /// whole message.
    pub fn push(&mut self, message: &Message, segment: Option<&str>) {
        self.pending.push(Pending {
            id: message.id.clone(),
            notifier: message.notifier.clone(),
            channel: message.channel,
            event: message.event,
            instance: message.instance.clone(),
            recipient: recipient_label(message),
            segment: segment.map(str::to_owned),
            message: segment.is_none().then(|| Box::new(message.clone())),
            attempts: 0,
            last_answer: None,
            last_attempt: None,
        });
    }

    /// Messages waiting for `instance`.
    pub fn pending_for(&self, instance: &str) -> usize {
        self.pending
            .iter()
            .filter(|p| p.instance == instance)
            .count()
    }

    /// The outbox segments its messages are in.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.pending.iter().filter_map(|p| p.segment.as_deref())
    }
}

/// A message waiting to be sent: what the status, the metrics and folding its outcomes need.
/// The message itself is in its outbox segment; states written before segments existed (and
/// a pass that could not write its segment) hold the whole message instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "PendingRecord")]
pub struct Pending {
    pub id: String,
    pub notifier: String,
    pub channel: Channel,
    pub event: NotificationEvent,
    pub instance: String,
    /// Who it is for, in one word ([`recipient_label`]).
    pub recipient: String,
    /// The outbox segment that holds the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// The whole message, when no segment holds it; its items named by id (see
    /// [`Message::materialize`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Box<Message>>,
    /// Attempts that met a temporary failure.
    #[serde(default, skip_serializing_if = "is_zero32")]
    pub attempts: u32,
    /// The last temporary failure's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_answer: Option<String>,
    /// When it was last tried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt: Option<Timestamp>,
}

/// A pending message as a state file holds it: a reference to a segment, or (written before
/// segments) the whole message with nothing beside it but the attempts.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PendingRecord {
    id: Option<String>,
    notifier: Option<String>,
    channel: Option<Channel>,
    event: Option<NotificationEvent>,
    instance: Option<String>,
    recipient: Option<String>,
    segment: Option<String>,
    message: Option<Box<Message>>,
    #[serde(default)]
    attempts: u32,
    last_answer: Option<String>,
    last_attempt: Option<Timestamp>,
}

/// Why a pending message in a state cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum PendingError {
    #[error("a pending notification names neither its message nor the outbox segment holding it")]
    Incomplete,
    #[error(
        "a pending notification names `{0}` as its outbox segment, which is not a segment's name"
    )]
    BadSegment(String),
}

impl TryFrom<PendingRecord> for Pending {
    type Error = PendingError;

    fn try_from(r: PendingRecord) -> Result<Pending, PendingError> {
        if let Some(segment) = &r.segment
            && !super::segment::is_name(segment)
        {
            return Err(PendingError::BadSegment(segment.clone()));
        }
        if let Some(message) = r.message {
            return Ok(Pending {
                id: r.id.unwrap_or_else(|| message.id.clone()),
                notifier: r.notifier.unwrap_or_else(|| message.notifier.clone()),
                channel: r.channel.unwrap_or(message.channel),
                event: r.event.unwrap_or(message.event),
                instance: r.instance.unwrap_or_else(|| message.instance.clone()),
                recipient: r.recipient.unwrap_or_else(|| recipient_label(&message)),
                segment: r.segment,
                message: Some(message),
                attempts: r.attempts,
                last_answer: r.last_answer,
                last_attempt: r.last_attempt,
            });
        }
        match (
            r.id,
            r.notifier,
            r.channel,
            r.event,
            r.instance,
            r.recipient,
            r.segment,
        ) {
            (
                Some(id),
                Some(notifier),
                Some(channel),
                Some(event),
                Some(instance),
                Some(recipient),
                Some(segment),
            ) => Ok(Pending {
                id,
                notifier,
                channel,
                event,
                instance,
                recipient,
                segment: Some(segment),
                message: None,
                attempts: r.attempts,
                last_answer: r.last_answer,
                last_attempt: r.last_attempt,
            }),
            _ => Err(PendingError::Incomplete),
        }
    }
}

fn is_zero32(n: &u32) -> bool {
    *n == 0
}

/// What became of an instance's messages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tally {
    pub sent: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<Failure>,
}

/// A message that was not delivered, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    /// The message id; none when no message could be made (a recipient without an address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub notifier: String,
    pub channel: Channel,
    pub event: NotificationEvent,
    pub instance: String,
    /// Who it was for: an address, a name, or the channel.
    pub recipient: String,
    /// The server's answer, or why nothing was sent.
    pub answer: String,
    pub at: Timestamp,
}

/// One line of the delivery log: what one attempt to send a message came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub id: String,
    pub at: Timestamp,
    pub result: AttemptResult,
    /// The server's answer (an SMTP reply, an HTTP status line), or the error.
    pub answer: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttemptResult {
    /// Accepted by the server: never sent again.
    Delivered,
    /// A temporary failure; tried again later.
    Retry,
    /// A permanent failure (or temporary failures past the notifier's retry time): never sent
    /// again.
    Failed,
    /// HTTP 410: the message failed and the webhook is disabled.
    Gone,
}

impl AttemptResult {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptResult::Delivered => "delivered",
            AttemptResult::Retry => "retry",
            AttemptResult::Failed => "failed",
            AttemptResult::Gone => "gone",
        }
    }
}

/// What folding one attempt into the outbox did, for the audit trail and the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Folded {
    pub id: String,
    pub notifier: String,
    pub channel: Channel,
    pub event: NotificationEvent,
    pub instance: String,
    pub recipient: String,
    pub result: AttemptResult,
    pub answer: String,
    pub at: Timestamp,
}

/// Who a message is for, in one word for status and logs.
pub fn recipient_label(message: &Message) -> String {
    message
        .to
        .address
        .clone()
        .or_else(|| message.to.id.clone())
        .or_else(|| message.to.name.clone())
        .unwrap_or_else(|| message.notifier.clone())
}

/// Folds delivery attempts into the outbox: pure. Attempts for messages no longer pending (a
/// duplicate line after a crash) change nothing.
pub fn fold(outbox: &mut Outbox, attempts: Vec<Attempt>) -> Vec<Folded> {
    let mut out = Vec::new();
    for attempt in attempts {
        let Some(index) = outbox.pending.iter().position(|p| p.id == attempt.id) else {
            continue;
        };
        let pending = &outbox.pending[index];
        let folded = Folded {
            id: attempt.id.clone(),
            notifier: pending.notifier.clone(),
            channel: pending.channel,
            event: pending.event,
            instance: pending.instance.clone(),
            recipient: pending.recipient.clone(),
            result: attempt.result,
            answer: attempt.answer.clone(),
            at: attempt.at,
        };
        match attempt.result {
            AttemptResult::Retry => {
                let pending = &mut outbox.pending[index];
                pending.attempts = pending.attempts.saturating_add(1);
                pending.last_answer = Some(attempt.answer);
                pending.last_attempt = Some(attempt.at);
            }
            AttemptResult::Delivered => {
                let done = outbox.pending.remove(index);
                let tally = outbox.instances.entry(done.instance).or_default();
                tally.sent = tally.sent.saturating_add(1);
            }
            AttemptResult::Failed | AttemptResult::Gone => {
                let done = outbox.pending.remove(index);
                if attempt.result == AttemptResult::Gone {
                    outbox
                        .disabled
                        .insert(done.notifier.clone(), attempt.answer.clone());
                }
                outbox
                    .instances
                    .entry(done.instance.clone())
                    .or_default()
                    .failed
                    .push(Failure {
                        instance: done.instance,
                        id: Some(done.id),
                        notifier: done.notifier,
                        channel: done.channel,
                        event: done.event,
                        recipient: done.recipient,
                        answer: attempt.answer,
                        at: attempt.at,
                    });
            }
        }
        out.push(folded);
    }
    out
}

/// The complete lines of the delivery log after `offset`, and the offset after them. A line
/// being written (no newline yet) waits for the next read; a line that cannot be read (a torn
/// write after a machine crash) is skipped with a warning.
pub fn read_log(path: &Path, offset: u64) -> std::io::Result<(Vec<Attempt>, u64)> {
    let mut file = match crate::fsutil::open_read(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), offset)),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    if len <= offset {
        return Ok((Vec::new(), offset));
    }
    file.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::with_capacity(usize::try_from(len - offset).unwrap_or(0));
    file.read_to_end(&mut bytes)?;
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut out = Vec::new();
    for line in bytes[..complete].split(|&b| b == b'\n') {
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Attempt>(line) {
            Ok(attempt) => out.push(attempt),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "skipping an unreadable line of the delivery log")
            }
        }
    }
    Ok((out, offset + complete as u64))
}

/// Appends attempts to a delivery log in one write (`O_APPEND`): a line is whole or absent
/// for a reader, and survives the process being killed. `sync` makes it survive the machine.
pub fn append_log(path: &Path, attempts: &[Attempt], sync: bool) -> std::io::Result<()> {
    let mut text = Vec::with_capacity(attempts.len() * 160);
    for attempt in attempts {
        serde_json::to_writer(&mut text, attempt)?;
        text.push(b'\n');
    }
    let mut file = crate::fsutil::open_append(path)?;
    file.write_all(&text)?;
    if sync {
        file.sync_data()?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::notify::message::{Content, Recipient, RecipientRole};

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).expect("a valid time")
    }

    pub(crate) fn message(id: &str, instance: &str) -> Message {
        Message {
            id: id.to_owned(),
            notifier: "mail".to_owned(),
            channel: Channel::Smtp,
            event: NotificationEvent::InstanceStarted,
            review: "r".to_owned(),
            instance: instance.to_owned(),
            sequence: 0,
            to: Recipient {
                role: RecipientRole::Reviewer,
                id: Some("u-bob".to_owned()),
                name: Some("Bob".to_owned()),
                address: Some("bob@corp.example".to_owned()),
            },
            created: ts("2026-12-01"),
            content: Content {
                title: "R".to_owned(),
                description: None,
                additional_content: None,
                target: "role `X`".to_owned(),
                start: ts("2026-12-01"),
                due: ts("2026-12-15"),
                total: 1,
                items: Vec::new(),
                how_to_decide: None,
                reviewers: Vec::new(),
                outcome: None,
                applied: None,
                link: None,
            },
            item_ids: Vec::new(),
        }
    }

    fn attempt(id: &str, result: AttemptResult) -> Attempt {
        Attempt {
            id: id.to_owned(),
            at: ts("2026-12-01T10:00:00Z"),
            result,
            answer: "250 OK".to_owned(),
        }
    }

    fn outbox(ids: &[&str]) -> Outbox {
        let mut o = Outbox::default();
        for id in ids {
            o.push(&message(id, "2026-12-01"), Some("seg_00"));
        }
        o
    }

    #[test]
    fn a_pending_message_is_stored_as_a_reference_to_its_segment() {
        let mut o = Outbox::default();
        o.push(&message("m1", "2026-12-01"), Some("seg_0a"));
        let json = serde_json::to_value(&o).expect("encode");
        let p = &json["pending"][0];
        assert_eq!(p["segment"], "seg_0a");
        assert_eq!(p["recipient"], "bob@corp.example");
        assert!(p.get("message").is_none(), "{p}");
        let back: Outbox = serde_json::from_value(json).expect("decode");
        assert_eq!(back, o);
    }

    #[test]
    fn a_state_from_before_segments_holding_whole_messages_still_reads() {
        let mut legacy = serde_json::json!({
            "message": serde_json::to_value(message("m1", "2026-12-01")).expect("encode"),
            "attempts": 2,
            "lastAnswer": "421 busy",
        });
        let p: Pending = serde_json::from_value(legacy.clone()).expect("decode");
        assert_eq!(p.id, "m1");
        assert_eq!(p.instance, "2026-12-01");
        assert_eq!(p.recipient, "bob@corp.example");
        assert_eq!(p.attempts, 2);
        assert_eq!(p.segment, None);
        assert_eq!(p.message.as_ref().map(|m| m.id.as_str()), Some("m1"));
        // Folding works on it as on a reference.
        let mut o = Outbox {
            pending: vec![p],
            ..Outbox::default()
        };
        fold(&mut o, vec![attempt("m1", AttemptResult::Delivered)]);
        assert!(o.pending.is_empty());
        assert_eq!(o.instances["2026-12-01"].sent, 1);
        // Neither a message nor a segment, or a segment name that is not one: refused.
        legacy["message"] = serde_json::Value::Null;
        legacy["id"] = "m1".into();
        let e = serde_json::from_value::<Pending>(legacy).expect_err("incomplete");
        assert!(e.to_string().contains("neither"), "{e}");
        let mut o = Outbox::default();
        o.push(&message("m1", "2026-12-01"), Some("seg_0a"));
        let mut json = serde_json::to_value(&o).expect("encode");
        json["pending"][0]["segment"] = "../../etc/passwd".into();
        let e = serde_json::from_value::<Outbox>(json).expect_err("bad segment");
        assert!(e.to_string().contains("not a segment's name"), "{e}");
    }

    #[test]
    fn a_delivered_message_leaves_the_outbox_once_and_is_counted_once() {
        let mut o = outbox(&["a", "b"]);
        let folded = fold(
            &mut o,
            vec![
                attempt("a", AttemptResult::Delivered),
                // A crash between sending and recording sends again: the same id, once more.
                attempt("a", AttemptResult::Delivered),
            ],
        );
        assert_eq!(folded.len(), 1);
        assert_eq!(o.pending.len(), 1);
        assert_eq!(o.instances["2026-12-01"].sent, 1);
    }

    #[test]
    fn retries_stay_pending_with_their_answer_failures_are_kept_per_recipient() {
        let mut o = outbox(&["a", "b", "c"]);
        let mut gone = attempt("c", AttemptResult::Gone);
        gone.answer = "410 Gone".to_owned();
        fold(
            &mut o,
            vec![
                attempt("a", AttemptResult::Retry),
                attempt("b", AttemptResult::Failed),
                gone,
            ],
        );
        assert_eq!(o.pending.len(), 1);
        assert_eq!(o.pending[0].attempts, 1);
        let failed = &o.instances["2026-12-01"].failed;
        assert_eq!(failed.len(), 2);
        assert_eq!(failed[0].recipient, "bob@corp.example");
        assert_eq!(o.disabled.get("mail").map(String::as_str), Some("410 Gone"));
    }

    proptest::proptest! {
        /// However the log repeats or interleaves outcomes (a crash resends, a retry comes
        /// before the success), each message is counted once: sent once if it was ever
        /// delivered, failed once if it failed first, and pending only while nothing final
        /// was recorded for it.
        #[test]
        fn each_message_ends_once_whatever_the_log_holds(
            log in proptest::collection::vec((0usize..6, 0u8..4), 0..40)
        ) {
            let ids: Vec<String> = (0..6).map(|i| format!("m{i}")).collect();
            let mut o = outbox(&ids.iter().map(String::as_str).collect::<Vec<_>>());
            let results = [
                AttemptResult::Delivered,
                AttemptResult::Retry,
                AttemptResult::Failed,
                AttemptResult::Gone,
            ];
            let attempts: Vec<Attempt> = log
                .iter()
                .map(|&(m, r)| attempt(&ids[m], results[usize::from(r)]))
                .collect();
            // What the first final outcome of each message was.
            let mut first_final: std::collections::BTreeMap<&str, AttemptResult> =
                std::collections::BTreeMap::new();
            for a in &attempts {
                if a.result != AttemptResult::Retry {
                    first_final.entry(a.id.as_str()).or_insert(a.result);
                }
            }
            // Fold in two halves, as two passes would.
            let (first, second) = attempts.split_at(attempts.len() / 2);
            fold(&mut o, first.to_vec());
            fold(&mut o, second.to_vec());
            let tally = o.instances.get("2026-12-01").cloned().unwrap_or_default();
            let delivered = first_final
                .values()
                .filter(|r| **r == AttemptResult::Delivered)
                .count();
            proptest::prop_assert_eq!(tally.sent as usize, delivered);
            proptest::prop_assert_eq!(tally.failed.len(), first_final.len() - delivered);
            proptest::prop_assert_eq!(o.pending.len(), ids.len() - first_final.len());
            for p in &o.pending {
                proptest::prop_assert!(!first_final.contains_key(p.id.as_str()));
            }
        }
    }

    #[test]
    fn the_log_is_read_line_by_line_and_a_half_written_line_waits() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join(DELIVERY_LOG);
        append_log(&path, &[attempt("a", AttemptResult::Delivered)], false).expect("append");
        let (first, offset) = read_log(&path, 0).expect("read");
        assert_eq!(first.len(), 1);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        file.write_all(br#"{"id":"b","#).expect("write");
        let (none, same) = read_log(&path, offset).expect("read");
        assert!(none.is_empty());
        assert_eq!(same, offset);
        file.write_all(
            br#""at":"2026-12-01T10:00:00Z","result":"failed","answer":"550"}
"#,
        )
        .expect("write");
        let (second, end) = read_log(&path, offset).expect("read");
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].result, AttemptResult::Failed);
        assert!(end > offset);
    }
}

//! Sends one message through its notifier and says what the other end answered, in the four
//! outcomes delivery acts on. Retrying, recording and back-off are the delivery loop's; this
//! module only sends and classifies.
//!
//! One transport per notifier, built on its first message and reused: SMTP keeps its
//! connections open between messages ([`smtp`]), HTTP keeps one client per notifier
//! ([`post`]). A notifier whose secrets cannot be read yet is built again on its next message,
//! so a Secret mounted late (or fixed and the daemon restarted) is picked up without losing the
//! messages waiting for it.
//!
//! No answer ever carries a secret or a URL given by reference: those are credentials.

mod post;
mod signature;
mod smtp;
mod smtp_socket;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::OnceCell;

use super::message::Message;
use crate::directory::secret::{self, Secret};
use crate::model::directory::SecretRef;
use crate::model::notifier::{Channel, NotifierSpec};

pub use signature::{SignatureError, signature, signing_key};

/// What sending one message came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Accepted: the server's reply line, or the HTTP status.
    Delivered { answer: String },
    /// Worth trying again later: the server is down or busy, or asked to wait.
    Temporary {
        answer: String,
        /// How long the server asked to be left alone (HTTP `Retry-After`).
        retry_after: Option<Duration>,
    },
    /// Refused for good: sending it again would meet the same answer.
    Permanent { answer: String },
    /// HTTP 410: the endpoint is gone, and the notifier should be disabled.
    Gone { answer: String },
}

impl Delivery {
    pub fn answer(&self) -> &str {
        match self {
            Delivery::Delivered { answer }
            | Delivery::Temporary { answer, .. }
            | Delivery::Permanent { answer }
            | Delivery::Gone { answer } => answer,
        }
    }

    fn temporary(answer: impl Into<String>) -> Delivery {
        Delivery::Temporary {
            answer: answer.into(),
            retry_after: None,
        }
    }

    fn permanent(answer: impl Into<String>) -> Delivery {
        Delivery::Permanent {
            answer: answer.into(),
        }
    }
}

/// The transports of every notifier, by name.
#[derive(Debug)]
pub struct Transports {
    slots: BTreeMap<String, Slot>,
}

#[derive(Debug)]
struct Slot {
    spec: NotifierSpec,
    /// The folder of the manifest the notifier came from: relative paths resolve against it.
    base: PathBuf,
    built: OnceCell<Built>,
    /// SMTP connections opened, kept outside the transport so it reads 0 before the first.
    opened: Arc<AtomicU64>,
}

#[derive(Debug)]
enum Built {
    Smtp(smtp::Smtp),
    Post(post::Post),
}

impl Transports {
    /// `notifiers`: (name, spec, the manifest file it came from: relative paths such as
    /// `smtp.caFile` and `file:` secret references resolve against its folder). Nothing is
    /// read or opened until a message needs it.
    pub fn new(notifiers: &[(String, NotifierSpec, PathBuf)]) -> Transports {
        let slots = notifiers
            .iter()
            .map(|(name, spec, file)| {
                let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
                let slot = Slot {
                    spec: spec.clone(),
                    base,
                    built: OnceCell::new(),
                    opened: Arc::new(AtomicU64::new(0)),
                };
                (name.clone(), slot)
            })
            .collect();
        Transports { slots }
    }

    /// Sends `msg` through its notifier, once: no retry here.
    pub async fn send(&self, msg: &Message) -> Delivery {
        let Some(slot) = self.slots.get(&msg.notifier) else {
            return Delivery::permanent(format!("there is no notifier named `{}`", msg.notifier));
        };
        if msg.channel != slot.spec.kind {
            return Delivery::permanent(format!(
                "the message is for a {} channel, but notifier `{}` is of type {}",
                msg.channel, msg.notifier, slot.spec.kind
            ));
        }
        let built = slot.built.get_or_try_init(|| async { build(slot) }).await;
        match built {
            Ok(Built::Smtp(smtp)) => smtp.send(msg).await,
            Ok(Built::Post(post)) => post.send(msg).await,
            Err(refusal) => refusal,
        }
    }

    /// SMTP connections opened so far through this notifier (0 for other channels).
    pub fn connections_opened(&self, notifier: &str) -> u64 {
        self.slots
            .get(notifier)
            .map_or(0, |slot| slot.opened.load(Ordering::Relaxed))
    }

    /// Closes the idle SMTP connections politely (QUIT), for a clean exit.
    pub async fn shutdown(&self) {
        for slot in self.slots.values() {
            if let Some(Built::Smtp(smtp)) = slot.built.get() {
                smtp.shutdown().await;
            }
        }
    }
}

/// The notifier's transport, or why it cannot be built: as a delivery outcome, since that is
/// what the message it was built for comes to.
fn build(slot: &Slot) -> Result<Built, Delivery> {
    let spec = &slot.spec;
    let missing = |block: &str| {
        Delivery::permanent(format!(
            "the notifier is of type {} but has no `{block}` settings",
            spec.kind
        ))
    };
    match spec.kind {
        Channel::Smtp => {
            let settings = spec.smtp.as_ref().ok_or_else(|| missing("smtp"))?;
            smtp::Smtp::new(settings, &slot.base, slot.opened.clone()).map(Built::Smtp)
        }
        Channel::Webhook => {
            let settings = spec.webhook.as_ref().ok_or_else(|| missing("webhook"))?;
            post::Post::webhook(settings, &slot.base).map(Built::Post)
        }
        Channel::Slack => {
            let settings = spec.slack.as_ref().ok_or_else(|| missing("slack"))?;
            post::Post::incoming(Channel::Slack, settings, &slot.base).map(Built::Post)
        }
        Channel::Teams => {
            let settings = spec.teams.as_ref().ok_or_else(|| missing("teams"))?;
            post::Post::incoming(Channel::Teams, settings, &slot.base).map(Built::Post)
        }
    }
}

/// Reads a secret the transport needs. One that cannot be read is a temporary failure: the
/// message waits in the outbox until the Secret is mounted or the variable set.
fn read_secret(what: &str, reference: &SecretRef, base: &Path) -> Result<Secret, Delivery> {
    secret::resolve(reference, base)
        .map_err(|e| Delivery::temporary(format!("cannot read the {what}: {e}")))
}

/// Where a secret comes from, in words, for answers that must not show its value.
fn secret_source(reference: &SecretRef) -> String {
    match (&reference.env, &reference.file) {
        (Some(name), _) => format!("environment variable `{name}`"),
        (None, Some(file)) => format!("file `{file}`"),
        (None, None) => "an empty reference".to_owned(),
    }
}

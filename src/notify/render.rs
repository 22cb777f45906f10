//! Rendering a message: the e-mail's subject, text and HTML; the webhook's versioned JSON event;
//! Slack's Block Kit message; Teams' Adaptive Card. Pure: the same message renders the same
//! way every time (no clock, no randomness; times come from the message).
//!
//! Each event is first composed into a channel-neutral document (`compose`), which each
//! channel then writes in its own markup with its own escaping (`text`, `html`, `slack`,
//! `teams`). The webhook body is the typed event of [`super::event`].

mod compose;
mod doc;
mod html;
mod slack;
mod teams;
mod text;

use serde_json::Value;

use super::message::Message;
use crate::model::notifier::Channel;

pub use compose::{command_of, decide_command, decisions_snippet, snippet_of};

/// An e-mail's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The e-mail for a message to a person.
pub fn email(msg: &Message) -> Email {
    let doc = compose::compose(msg);
    Email {
        text: text::render(&doc),
        html: html::render(&doc),
        subject: doc.subject,
    }
}

/// The webhook event body (schema `schemas/webhook-event.schema.json`).
pub fn webhook_event(msg: &Message) -> Value {
    serde_json::to_value(super::event::event(msg)).expect("the event serialises to JSON")
}

/// The Slack incoming-webhook body.
pub fn slack(msg: &Message) -> Value {
    slack::render(&compose::compose(msg))
}

/// The Teams Workflows webhook body.
pub fn teams(msg: &Message) -> Value {
    teams::render(&compose::compose(msg))
}

/// Exactly what would be sent for `msg`, for `recert notify preview`: for an e-mail its `To`
/// and `Subject` headers, the text part and the HTML part; for the other channels the JSON
/// body, pretty-printed.
pub fn preview(msg: &Message) -> String {
    let json = |body: Value| {
        let mut text = serde_json::to_string_pretty(&body).expect("JSON values serialise");
        text.push('\n');
        text
    };
    match msg.channel {
        Channel::Smtp => {
            let mail = email(msg);
            let to = match (&msg.to.name, &msg.to.address) {
                (Some(name), Some(address)) => format!("{} <{address}>", doc::one_line(name)),
                (None, Some(address)) => address.clone(),
                (_, None) => "(no address)".to_owned(),
            };
            format!(
                "To: {to}\nSubject: {}\nMessage-ID: <{}@recert>\n\n--- text/plain\n{}\n--- text/html\n{}",
                mail.subject, msg.id, mail.text, mail.html
            )
        }
        Channel::Webhook => json(webhook_event(msg)),
        Channel::Slack => json(slack(msg)),
        Channel::Teams => json(teams(msg)),
    }
}

#[cfg(test)]
mod tests;

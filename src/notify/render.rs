//! Rendering a message: the e-mail's subject, text and HTML; the webhook's versioned JSON event;
//! Slack's Block Kit message; Teams' Adaptive Card. Pure: the same message renders the same
//! way every time.

use serde_json::{Value, json};

use super::message::{Message, event_name};

/// An e-mail's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The e-mail for a message to a person.
pub fn email(msg: &Message) -> Email {
    Email {
        subject: format!("{}: {}", msg.content.title, event_name(msg.event)),
        text: msg.content.title.clone(),
        html: format!("<p>{}</p>", msg.content.title),
    }
}

/// The webhook event body (schema `schemas/webhook-event.schema.json`).
pub fn webhook_event(msg: &Message) -> Value {
    json!({ "type": event_name(msg.event), "review": msg.review })
}

/// The Slack incoming-webhook body.
pub fn slack(msg: &Message) -> Value {
    json!({ "text": msg.content.title })
}

/// The Teams Workflows webhook body.
pub fn teams(msg: &Message) -> Value {
    json!({ "type": "message", "attachments": [] , "text": msg.content.title})
}

/// Exactly what would be sent, for people to read.
pub fn preview(msg: &Message) -> String {
    match msg.channel {
        crate::model::notifier::Channel::Smtp => {
            let e = email(msg);
            format!(
                "To: {}\nSubject: {}\n\n{}\n\n{}\n",
                msg.to.address.as_deref().unwrap_or(""),
                e.subject,
                e.text,
                e.html
            )
        }
        crate::model::notifier::Channel::Webhook => pretty(&webhook_event(msg)),
        crate::model::notifier::Channel::Slack => pretty(&slack(msg)),
        crate::model::notifier::Channel::Teams => pretty(&teams(msg)),
    }
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

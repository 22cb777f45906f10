//! `Notifier`: a channel notifications go through — an SMTP server, a signed webhook, a Slack
//! or a Teams incoming webhook. Declared once; reviews name the notifiers they use in
//! `settings.notifications.notifiers`.
//!
//! Every credential and every webhook URL that embeds one (Slack's and Teams' do) is a
//! reference ([`SecretRef`]), never inline.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::directory::{HTTP_URL, HTTP_URL_MESSAGE, SecretRef};
use super::resource;

resource!(
    /// A channel notifications are delivered through: `smtp` (e-mail to reviewers and owners),
    /// `webhook` (a JSON event signed per Standard Webhooks v1), `slack` (a Block Kit message to
    /// an incoming webhook) or `teams` (an Adaptive Card to a Teams Workflows webhook).
    Notifier,
    NotifierSpec,
    Notifier
);

/// Which channel, and how to reach it. Set `type` and the block of the same name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("allOf" = [
    { "if": { "properties": { "type": { "const": "smtp" } }, "required": ["type"] }, "then": { "required": ["smtp"] } },
    { "if": { "properties": { "type": { "const": "webhook" } }, "required": ["type"] }, "then": { "required": ["webhook"] } },
    { "if": { "properties": { "type": { "const": "slack" } }, "required": ["type"] }, "then": { "required": ["slack"] } },
    { "if": { "properties": { "type": { "const": "teams" } }, "required": ["type"] }, "then": { "required": ["teams"] } }
]))]
pub struct NotifierSpec {
    /// The channel: `smtp`, `webhook`, `slack` or `teams`.
    #[serde(rename = "type")]
    pub kind: Channel,
    /// Settings for `type: smtp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<SmtpSettings>,
    /// Settings for `type: webhook`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookSettings>,
    /// Settings for `type: slack`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<IncomingWebhook>,
    /// Settings for `type: teams`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams: Option<IncomingWebhook>,
    /// How long a message that meets only temporary failures (a server down, SMTP 4xx, HTTP
    /// 5xx, 408, 429) is retried before it is recorded as failed, in hours. Defaults to 72.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 720))]
    pub retry_hours: Option<u32>,
}

/// A notification channel.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum Channel {
    /// E-mail through an SMTP server.
    Smtp,
    /// An HTTP POST of a JSON event, signed per Standard Webhooks v1.
    Webhook,
    /// A Slack incoming webhook.
    Slack,
    /// A Microsoft Teams Workflows webhook.
    Teams,
}

impl Channel {
    pub const ALL: [Channel; 4] = [
        Channel::Smtp,
        Channel::Webhook,
        Channel::Slack,
        Channel::Teams,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Smtp => "smtp",
            Channel::Webhook => "webhook",
            Channel::Slack => "slack",
            Channel::Teams => "teams",
        }
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which the server must offer (port 587). The
    /// default.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No encryption: refused unless `host` is a loopback address (a local relay).
    None,
}

/// An SMTP server (a relay, Exchange Online, SES, a local MTA).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SmtpSettings {
    /// The server's host name or IP address.
    #[schemars(length(min = 1, max = 253))]
    pub host: String,
    /// The port. Defaults to 587 with `starttls`, 465 with `implicit`, 25 with `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<u16>,
    /// `starttls` (the default), `implicit`, or `none` (loopback hosts only).
    #[serde(default)]
    pub tls: SmtpTls,
    /// A PEM file of certificate authorities to trust for this server, instead of the
    /// system's (a private relay's CA), relative to this manifest's file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub ca_file: Option<String>,
    /// The user name to authenticate with (AUTH PLAIN or LOGIN). Set it with `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub username: Option<String>,
    /// The password, by reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretRef>,
    /// The sender: an address, optionally with a name (`Access Reviews <reviews@corp.example>`).
    #[schemars(length(min = 3, max = 320))]
    pub from: String,
    /// Where replies go, if not to `from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 320))]
    pub reply_to: Option<String>,
    /// How many connections to the server may be open at once. Defaults to 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 64))]
    pub max_connections: Option<u32>,
}

/// A generic webhook: each event is POSTed as a JSON body (schema
/// `schemas/webhook-event.schema.json`) signed per Standard Webhooks v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend(
    "oneOf" = [{ "required": ["url"] }, { "required": ["urlFrom"] }],
    "errorMessage" = "set exactly one of `url` and `urlFrom`"
))]
pub struct WebhookSettings {
    /// The URL to POST to. `http://` only to loopback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = HTTP_URL), extend("errorMessage" = HTTP_URL_MESSAGE))]
    pub url: Option<String>,
    /// The URL, by reference, when it carries a credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_from: Option<SecretRef>,
    /// The signing secret (`whsec_` followed by base64), by reference. Each request carries
    /// `webhook-id`, `webhook-timestamp` and `webhook-signature` headers.
    pub secret: SecretRef,
    /// How long one request may take, in seconds. Defaults to 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 300))]
    pub timeout_seconds: Option<u32>,
}

/// A Slack incoming webhook or a Teams Workflows webhook: the URL is the credential, so it is
/// only ever given by reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IncomingWebhook {
    /// The webhook URL, by reference.
    pub url_from: SecretRef,
    /// How long one request may take, in seconds. Defaults to 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 300))]
    pub timeout_seconds: Option<u32>,
}

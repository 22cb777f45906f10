//! Webhook, Slack and Teams: one JSON POST per message through one HTTP client per notifier,
//! and what the status code means for delivery.

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use ring::hmac;

use super::signature::{signature, signing_key};
use super::{Delivery, read_secret, secret_source};
use crate::directory::redact::Redactor;
use crate::model::notifier::{Channel, IncomingWebhook, WebhookSettings};
use crate::notify::config;
use crate::notify::message::Message;
use crate::notify::render;

/// How much of an error body an answer quotes.
const BODY_QUOTE: usize = 512;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// One notifier's HTTP endpoint.
pub(super) struct Post {
    channel: Channel,
    client: reqwest::Client,
    url: reqwest::Url,
    /// Standard Webhooks signing key (webhooks only).
    key: Option<hmac::Key>,
    /// Knows the URL when it came by reference, and the signing secret.
    redactor: Redactor,
}

impl std::fmt::Debug for Post {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may be a credential (Slack's and Teams' are).
        f.debug_struct("Post")
            .field("channel", &self.channel)
            .field("signed", &self.key.is_some())
            .finish_non_exhaustive()
    }
}

impl Post {
    pub(super) fn webhook(settings: &WebhookSettings, base: &Path) -> Result<Post, Delivery> {
        let redactor = Redactor::new();
        let url = match (&settings.url, &settings.url_from) {
            (Some(url), _) => {
                if let Some(problem) = config::url_problem(url) {
                    return Err(Delivery::permanent(problem));
                }
                parse_url(url, || format!("`{url}`"))?
            }
            (None, Some(reference)) => secret_url(reference, base, &redactor)?,
            (None, None) => {
                return Err(Delivery::permanent(
                    "the webhook has neither `url` nor `urlFrom`",
                ));
            }
        };
        let secret = read_secret("webhook signing secret", &settings.secret, base)?;
        redactor.learn(secret.expose());
        let key = signing_key(secret.expose()).map_err(|e| {
            Delivery::permanent(format!(
                "{e} (read from {})",
                secret_source(&settings.secret)
            ))
        })?;
        Ok(Post {
            channel: Channel::Webhook,
            client: client(settings.timeout_seconds)?,
            url,
            key: Some(key),
            redactor,
        })
    }

    pub(super) fn incoming(
        channel: Channel,
        settings: &IncomingWebhook,
        base: &Path,
    ) -> Result<Post, Delivery> {
        let redactor = Redactor::new();
        let url = secret_url(&settings.url_from, base, &redactor)?;
        Ok(Post {
            channel,
            client: client(settings.timeout_seconds)?,
            url,
            key: None,
            redactor,
        })
    }

    pub(super) async fn send(&self, msg: &Message) -> Delivery {
        let body = match self.channel {
            Channel::Webhook => render::webhook_event(msg),
            Channel::Slack => render::slack(msg),
            Channel::Teams => render::teams(msg),
            Channel::Smtp => return Delivery::permanent("an e-mail cannot be POSTed"),
        };
        let body = match serde_json::to_vec(&body) {
            Ok(body) => body,
            Err(e) => return Delivery::permanent(format!("cannot serialise the body: {e}")),
        };
        let mut request = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json");
        if let Some(key) = &self.key {
            let timestamp = jiff::Timestamp::now().as_second();
            request = request
                .header("webhook-id", &msg.id)
                .header("webhook-timestamp", timestamp.to_string())
                .header(
                    "webhook-signature",
                    signature(key, &msg.id, timestamp, &body),
                );
        }
        let response = match request.body(body).send().await {
            Ok(response) => response,
            Err(e) => return self.transport_error(e),
        };
        let status = response.status();
        let headers = response.headers().clone();
        // A body that cannot be read whole still leaves the status to act on.
        let body = response.bytes().await.unwrap_or_default();
        self.classify(status, &headers, &body)
    }

    fn classify(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Delivery {
        let line = match status.canonical_reason() {
            Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
            None => format!("HTTP {}", status.as_u16()),
        };
        if status.is_success() {
            return Delivery::Delivered { answer: line };
        }
        let answer = self.redactor.redact(&with_body(line, body));
        match status.as_u16() {
            410 => Delivery::Gone { answer },
            429 | 503 => Delivery::Temporary {
                answer,
                retry_after: crate::directory::http::retry_after(headers),
            },
            408 | 500..=599 => Delivery::Temporary {
                answer,
                retry_after: None,
            },
            // Redirects are not followed (the signature names one endpoint, and a POST must not
            // turn into a GET elsewhere); a 3xx, like any other 4xx, is the receiver's refusal.
            _ => Delivery::Permanent { answer },
        }
    }

    fn transport_error(&self, e: reqwest::Error) -> Delivery {
        // reqwest names the URL in its errors; a URL by reference is a credential.
        let e = e.without_url();
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        let answer = self.redactor.redact(&text);
        if e.is_builder() {
            Delivery::permanent(answer)
        } else {
            Delivery::temporary(answer)
        }
    }
}

fn client(timeout_seconds: Option<u32>) -> Result<reqwest::Client, Delivery> {
    // Only ring is compiled in; installing it twice (from two clients) is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let timeout = timeout_seconds.map_or(DEFAULT_TIMEOUT, |s| Duration::from_secs(s.into()));
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("recert/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Delivery::permanent(format!("cannot build the HTTP client: {e}")))
}

/// A URL read from a secret: checked like an inline one, but never quoted.
fn secret_url(
    reference: &crate::model::directory::SecretRef,
    base: &Path,
    redactor: &Redactor,
) -> Result<reqwest::Url, Delivery> {
    let secret = read_secret("webhook URL", reference, base)?;
    let text = secret.expose();
    redactor.learn(text);
    let source = || format!("the URL in {}", secret_source(reference));
    let url = parse_url(text, source)?;
    redactor.learn(url.as_str());
    redactor.learn(url.path());
    if let Some(query) = url.query() {
        redactor.learn(query);
    }
    let plain_to_remote =
        url.scheme() == "http" && !url.host_str().is_some_and(config::is_loopback_host);
    if plain_to_remote || !matches!(url.scheme(), "http" | "https") {
        return Err(Delivery::permanent(format!(
            "{} is not https (plain http is allowed only to a loopback host)",
            source()
        )));
    }
    Ok(url)
}

fn parse_url(text: &str, name: impl Fn() -> String) -> Result<reqwest::Url, Delivery> {
    reqwest::Url::parse(text)
        .map_err(|e| Delivery::permanent(format!("{} is not a URL: {e}", name())))
}

/// The status line and the start of the body, cut on a character boundary.
fn with_body(line: String, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(BODY_QUOTE)]);
    let text = text.trim_end_matches('\u{FFFD}').trim();
    if text.is_empty() {
        line
    } else {
        format!("{line}: {text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post() -> Post {
        let redactor = Redactor::new();
        redactor.learn("https://hooks.example/services/T0/B0/s3cr3tT0ken");
        redactor.learn("/services/T0/B0/s3cr3tT0ken");
        Post {
            channel: Channel::Slack,
            client: client(None).expect("a client"),
            url: reqwest::Url::parse("https://hooks.example/services/T0/B0/s3cr3tT0ken")
                .expect("url"),
            key: None,
            redactor,
        }
    }

    fn classify(status: u16, headers: &[(&str, &str)], body: &str) -> Delivery {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                v.parse().expect("value"),
            );
        }
        post().classify(
            StatusCode::from_u16(status).expect("status"),
            &map,
            body.as_bytes(),
        )
    }

    #[test]
    fn statuses_map_to_what_delivery_does_next() {
        assert_eq!(
            classify(204, &[], ""),
            Delivery::Delivered {
                answer: "HTTP 204 No Content".to_owned()
            }
        );
        assert!(matches!(classify(410, &[], "gone"), Delivery::Gone { .. }));
        for status in [408, 500, 502, 504] {
            assert!(
                matches!(
                    classify(status, &[], ""),
                    Delivery::Temporary {
                        retry_after: None,
                        ..
                    }
                ),
                "{status}"
            );
        }
        for status in [301, 400, 401, 403, 404, 413] {
            assert!(
                matches!(classify(status, &[], ""), Delivery::Permanent { .. }),
                "{status}"
            );
        }
        assert_eq!(
            classify(429, &[("retry-after", "7")], ""),
            Delivery::Temporary {
                answer: "HTTP 429 Too Many Requests".to_owned(),
                retry_after: Some(Duration::from_secs(7))
            }
        );
        let Delivery::Temporary { retry_after, .. } =
            classify(503, &[("retry-after", "Wed, 21 Oct 2099 07:28:00 GMT")], "")
        else {
            panic!("503 is temporary");
        };
        assert!(retry_after.is_some_and(|d| d > Duration::from_secs(3600)));
    }

    #[test]
    fn the_answer_quotes_the_body_but_not_a_secret_url() {
        let body = format!(
            "invalid_payload for https://hooks.example/services/T0/B0/s3cr3tT0ken {}",
            "é".repeat(400)
        );
        let answer = classify(400, &[], &body).answer().to_owned();
        assert!(
            answer.starts_with("HTTP 400 Bad Request: invalid_payload"),
            "{answer}"
        );
        assert!(!answer.contains("s3cr3tT0ken"), "{answer}");
        // 512 bytes of body at most, cut between characters.
        assert!(answer.len() < 600, "{}", answer.len());
        assert!(!answer.contains('\u{FFFD}'), "{answer}");
    }
}

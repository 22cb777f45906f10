//! What a `Notifier` must be before anything is sent through it: the settings block matches the
//! type, addresses are addresses, plain SMTP only to loopback. `recert validate` reports these
//! at file:line:col; the transports refuse the same cases at run time with the same words.

use crate::model::notifier::{Channel, NotifierSpec, SmtpTls};

/// One problem with a notifier's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// JSON pointer of the field.
    pub pointer: &'static str,
    pub message: String,
    pub note: Option<String>,
}

/// Every problem with `spec`.
pub fn problems(spec: &NotifierSpec) -> Vec<Problem> {
    let mut out = Vec::new();
    let blocks = [
        ("/spec/smtp", "smtp", spec.smtp.is_some(), Channel::Smtp),
        (
            "/spec/webhook",
            "webhook",
            spec.webhook.is_some(),
            Channel::Webhook,
        ),
        ("/spec/slack", "slack", spec.slack.is_some(), Channel::Slack),
        ("/spec/teams", "teams", spec.teams.is_some(), Channel::Teams),
    ];
    for (pointer, name, present, kind) in blocks {
        if present && kind != spec.kind {
            out.push(Problem {
                pointer,
                message: format!(
                    "`{name}` settings given for a notifier of type `{}`",
                    spec.kind
                ),
                note: Some(format!("remove `{name}`, or set `type: {name}`")),
            });
        }
    }
    if let Some(smtp) = &spec.smtp {
        if smtp.tls == SmtpTls::None && !is_loopback_host(&smtp.host) {
            out.push(Problem {
                pointer: "/spec/smtp/tls",
                message: format!(
                    "`tls: none` sends mail (and any password) in clear text to `{}`",
                    smtp.host
                ),
                note: Some(
                    "use `starttls` or `implicit`; `none` is allowed only for a loopback host (127.0.0.1, ::1, localhost)"
                        .to_owned(),
                ),
            });
        }
        if smtp.username.is_some() != smtp.password.is_some() {
            let (pointer, missing) = if smtp.username.is_some() {
                ("/spec/smtp/username", "password")
            } else {
                ("/spec/smtp/password", "username")
            };
            out.push(Problem {
                pointer,
                message: format!("`{missing}` is missing: authentication needs both"),
                note: None,
            });
        }
        if let Err(e) = mailbox(&smtp.from) {
            out.push(Problem {
                pointer: "/spec/smtp/from",
                message: format!("`{}` is not an e-mail address: {e}", smtp.from),
                note: Some(
                    "write `reviews@corp.example` or `Access Reviews <reviews@corp.example>`"
                        .to_owned(),
                ),
            });
        }
        if let Some(reply_to) = &smtp.reply_to
            && let Err(e) = mailbox(reply_to)
        {
            out.push(Problem {
                pointer: "/spec/smtp/replyTo",
                message: format!("`{reply_to}` is not an e-mail address: {e}"),
                note: None,
            });
        }
    }
    if let Some(webhook) = &spec.webhook
        && let Some(url) = &webhook.url
        && let Some(problem) = url_problem(url)
    {
        out.push(Problem {
            pointer: "/spec/webhook/url",
            message: problem,
            note: Some("use https://, or give the URL by reference with `urlFrom`".to_owned()),
        });
    }
    out
}

/// Why `url` may not be used as written: plain `http://` to a host that is not loopback, or
/// not a URL at all.
pub fn url_problem(url: &str) -> Option<String> {
    let parsed = match reqwest::Url::parse(url) {
        Ok(parsed) => parsed,
        Err(e) => return Some(format!("`{url}` is not a URL: {e}")),
    };
    match parsed.scheme() {
        "https" => None,
        "http" if parsed.host_str().is_some_and(is_loopback_host) => None,
        "http" => Some(format!(
            "`{url}` is plain http to a host that is not loopback: events and their signatures would travel in clear text"
        )),
        other => Some(format!(
            "`{url}`: the scheme `{other}` is not http or https"
        )),
    }
}

/// A loopback host: `localhost`, 127.0.0.0/8 or ::1 (bracketed or not).
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks an address with an optional display name (`Name <a@b.example>`), as e-mail headers
/// need it.
pub fn mailbox(text: &str) -> Result<(), String> {
    text.parse::<lettre::message::Mailbox>()
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Checks a bare address (`a@b.example`).
pub fn address(text: &str) -> Result<(), String> {
    text.parse::<lettre::Address>()
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_told_apart_from_the_rest() {
        for host in [
            "localhost",
            "127.0.0.1",
            "127.8.9.10",
            "::1",
            "[::1]",
            "LOCALHOST",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "smtp.corp.example",
            "10.0.0.1",
            "0.0.0.0",
            "::",
            "localhost.evil.example",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn addresses_with_and_without_names() {
        assert!(mailbox("reviews@corp.example").is_ok());
        assert!(mailbox("Access Reviews <reviews@corp.example>").is_ok());
        assert!(mailbox("Zoë Ärger <zoe@corp.example>").is_ok());
        assert!(mailbox("not an address").is_err());
        assert!(address("a@b.example").is_ok());
        assert!(address("a@").is_err());
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert_eq!(url_problem("https://hooks.example/x"), None);
        assert_eq!(url_problem("http://127.0.0.1:8080/x"), None);
        assert_eq!(url_problem("http://[::1]:8080/x"), None);
        assert!(url_problem("http://hooks.example/x").is_some());
        assert!(url_problem("ftp://hooks.example/x").is_some());
    }
}

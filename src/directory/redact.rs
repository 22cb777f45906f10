//! Credentials taken out of every text a directory's answer can put into an error.
//!
//! A token endpoint, Graph or a SCIM service may echo its request back in an error body (a
//! debugging proxy, a misconfigured gateway, a server that quotes what it could not parse), and
//! such a body ends up in `status.yaml`, the logs and stderr. A [`Redactor`] replaces what
//! Recert knows to be a credential (the resolved secrets, every access token and client
//! assertion it was given or made) and whatever is shaped like one (`access_token` and kin in
//! JSON or form bodies, `Authorization` headers, `Bearer` credentials, JWTs), whatever the
//! server sent.

use std::fmt;
use std::sync::{Arc, LazyLock, RwLock};

use regex::{Captures, Regex};

use super::{Error, RemoveOutcome};

/// What a credential is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Values shorter than this are not looked for by value: a three-letter secret would take
/// every "abc" out of a message. Patterns still catch them where they are labelled.
const MIN_KNOWN: usize = 4;

/// How many known values are kept: tokens are renewed every hour or so, and an old one may
/// still be echoed by a server answering late; the oldest are forgotten first.
const MAX_KNOWN: usize = 64;

/// Field names whose values are credentials, in JSON (`"k": "v"`) and form (`k=v`) shapes,
/// with or without `_`.
const FIELDS: &str = r"access_?token|refresh_?token|id_?token|client_?secret|client_?assertion|password|bearer_?token";

static JSON_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    // The quotes may be escaped once: a JSON body quoted inside another JSON string.
    Regex::new(&format!(
        r#"(?i)(\\?"(?:{FIELDS})\\?"\s*:\s*\\?")(?:[^"\\]|\\[^"])*"#
    ))
    .expect("a valid pattern")
});

static FORM_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    // A backslash ends the value too: inside a JSON string it starts the escaped closing quote.
    Regex::new(&format!(r#"(?i)\b((?:{FIELDS})\s*=\s*)[^&\s"',;)}}\]\\]+"#))
        .expect("a valid pattern")
});

/// An `Authorization` header (or a field of that name) whatever its scheme. The word must stand
/// alone: Graph's error code `Authorization_RequestDenied` is not a header.
static AUTHORIZATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)\b(authorization\\?"?\s*[:=]\s*\\?"?)(?:(?:bearer|basic|digest|negotiate|ntlm)\s+)?[^\s"',;}\]\\]+"#,
    )
    .expect("a valid pattern")
});

/// `Bearer <credential>`. What follows must look like a token (digits or token punctuation
/// in it), so that prose such as "the bearer token was refused" stays as it is.
static BEARER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(bearer\s+)([A-Za-z0-9\-._~+/]+=*)").expect("a valid pattern")
});

/// A JWT (access tokens and client assertions are JWTs): three base64url parts, the first a
/// JSON object (`{"` encodes as `eyJ`).
static JWT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*").expect("a valid pattern")
});

/// Takes credentials out of text. Clones share what they know, so a token learnt by the token
/// source is redacted from the errors of every request.
#[derive(Clone, Default)]
pub struct Redactor {
    known: Arc<RwLock<Vec<String>>>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.known.read().map_or(0, |k| k.len());
        write!(f, "Redactor({n} known values)")
    }
}

impl Redactor {
    pub fn new() -> Redactor {
        Redactor::default()
    }

    /// Remembers a credential, as written and in the encodings a server may echo it in
    /// (form-urlencoded as it was sent, JSON-escaped).
    pub fn learn(&self, value: &str) {
        let value = value.trim();
        if value.chars().count() < MIN_KNOWN {
            return;
        }
        let mut forms = vec![value.to_owned(), form_encode(value)];
        if let Ok(quoted) = serde_json::to_string(value) {
            forms.push(quoted[1..quoted.len() - 1].to_owned());
        }
        let Ok(mut known) = self.known.write() else {
            return;
        };
        for form in forms {
            if !known.contains(&form) {
                known.push(form);
            }
        }
        let excess = known.len().saturating_sub(MAX_KNOWN);
        known.drain(..excess);
    }

    /// `text` without any credential this redactor knows or recognises.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        if let Ok(known) = self.known.read() {
            // Longest first, so a value that contains another is replaced whole.
            let mut known: Vec<&String> = known.iter().collect();
            known.sort_by_key(|k| std::cmp::Reverse(k.len()));
            for value in known {
                if out.contains(value.as_str()) {
                    out = out.replace(value.as_str(), REDACTED);
                }
            }
        }
        redact_patterns(&out)
    }

    /// The error with its text redacted.
    pub fn error(&self, error: Error) -> Error {
        match error {
            Error::Http { status, body } => Error::Http {
                status,
                body: self.redact(&body),
            },
            Error::NotFound(m) => Error::NotFound(self.redact(&m)),
            Error::Auth(m) => Error::Auth(self.redact(&m)),
            Error::Unavailable(m) => Error::Unavailable(self.redact(&m)),
            Error::Invalid(m) => Error::Invalid(self.redact(&m)),
            throttled @ Error::Throttled { .. } => throttled,
        }
    }

    /// The outcome with its reason redacted.
    pub fn outcome(&self, outcome: RemoveOutcome) -> RemoveOutcome {
        match outcome {
            RemoveOutcome::NotSupported { reason } => RemoveOutcome::NotSupported {
                reason: self.redact(&reason),
            },
            other => other,
        }
    }
}

/// Only the patterns: for text from a server whose credentials are not known here.
pub fn redact_patterns(text: &str) -> String {
    let text = JWT.replace_all(text, REDACTED);
    let text = JSON_FIELD.replace_all(&text, format!("${{1}}{REDACTED}"));
    let text = FORM_FIELD.replace_all(&text, format!("${{1}}{REDACTED}"));
    let text = AUTHORIZATION.replace_all(&text, format!("${{1}}{REDACTED}"));
    let text = BEARER.replace_all(&text, |c: &Captures<'_>| {
        let token = &c[2];
        let looks_like_one = token.len() >= 6
            && token.bytes().any(|b| {
                b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
            });
        if looks_like_one {
            format!("{}{REDACTED}", &c[1])
        } else {
            c[0].to_owned()
        }
    });
    text.into_owned()
}

/// `application/x-www-form-urlencoded`, as a form body carries a secret.
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor(known: &[&str]) -> Redactor {
        let r = Redactor::new();
        for k in known {
            r.learn(k);
        }
        r
    }

    #[test]
    fn known_values_are_redacted_as_written_and_as_sent_in_a_form() {
        let r = redactor(&["s3cr3t+/=value", "test-token-1"]);
        let text = r.redact(
            "got client_id=x&secret=s3cr3t%2B%2F%3Dvalue; raw s3cr3t+/=value; token test-token-1 again",
        );
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(!text.contains("test-token-1"), "{text}");
        assert!(text.contains("client_id=x"), "{text}");
    }

    #[test]
    fn short_values_are_not_redacted_by_value() {
        let r = redactor(&["abc"]);
        assert_eq!(
            r.redact("abc is not a secret here"),
            "abc is not a secret here"
        );
    }

    #[test]
    fn labelled_credentials_are_redacted_whoever_sent_them() {
        let text = redact_patterns(
            r#"{"access_token":"tok1","refresh_token": "tok2"} client_secret=abc&client_assertion=def&scope=x Authorization: Bearer zzz999 authorization=Basic dXNlcjpw"#,
        );
        for leaked in ["tok1", "tok2", "abc", "def", "zzz999", "dXNlcjpw"] {
            assert!(!text.contains(leaked), "{leaked} in {text}");
        }
        assert!(text.contains("scope=x"), "{text}");
    }

    #[test]
    fn a_form_echoed_inside_a_json_string_leaves_the_json_readable() {
        let body = r#"{"error":{"code":"x","message":"got client_secret=abc123\"&scope=y"}}"#;
        let redacted = redact_patterns(body);
        assert!(!redacted.contains("abc123"), "{redacted}");
        assert!(
            serde_json::from_str::<serde_json::Value>(&redacted).is_ok(),
            "{redacted}"
        );
    }

    #[test]
    fn escaped_json_and_jwts_are_redacted() {
        let text = redact_patterns(
            r#"message: "{\"access_token\":\"abc.def\"}" and eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl"#,
        );
        assert!(!text.contains("abc.def"), "{text}");
        assert!(!text.contains("eyJhbGciOi"), "{text}");
        assert!(!text.contains("c2lnbmF0dXJl"), "{text}");
    }

    #[test]
    fn prose_about_tokens_and_graph_error_codes_are_left_alone() {
        for text in [
            "the service refused the bearer token",
            "Authorization_RequestDenied: Insufficient privileges to complete the operation.",
            "AADSTS7000215: Invalid client secret provided.",
        ] {
            assert_eq!(redact_patterns(text), text);
        }
    }

    #[test]
    fn errors_and_reasons_are_redacted() {
        let r = redactor(&["hunter22"]);
        let e = r.error(Error::Http {
            status: 400,
            body: "echo hunter22".to_owned(),
        });
        assert_eq!(
            e,
            Error::Http {
                status: 400,
                body: format!("echo {REDACTED}")
            }
        );
        let o = r.outcome(RemoveOutcome::NotSupported {
            reason: "hunter22".to_owned(),
        });
        assert_eq!(
            o,
            RemoveOutcome::NotSupported {
                reason: REDACTED.to_owned()
            }
        );
    }
}

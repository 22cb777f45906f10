//! The HTTP layer shared by the Graph and SCIM directories: one `reqwest` client over rustls,
//! a concurrency limit, a per-request timeout, and one retry policy.
//!
//! Throttling (429, and 503/504 with `Retry-After`) waits as long as the server asks — Graph
//! sends fractional seconds (`Retry-After: 2.128`) — and other transient failures (5xx,
//! refused or dropped connections, timeouts) back off exponentially with full jitter. Both stop
//! at a bound, so one unhealthy directory cannot hold a reconcile forever. Bodies are read
//! inside the loop, so a connection dropped mid-body is retried like any other transport error.
//!
//! Every error text made here, from a body or a transport failure, goes through the client's
//! [`Redactor`] first: a server that echoes its request must not put the credentials it was sent
//! into the errors Recert writes.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use tokio::sync::Semaphore;

use super::Error;
use super::redact::Redactor;

/// How a client behaves towards one service.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Which kind of directory this is (`graph`, `scim`): the label of the request metrics.
    pub service: &'static str,
    pub max_concurrent: usize,
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

/// Bounds on retrying one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first back-off; it doubles with every attempt.
    pub base_delay: Duration,
    /// No single wait is longer than this, whatever `Retry-After` says.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` after a transient failure: full jitter over an
    /// exponentially growing window (AWS's "exponential backoff and jitter").
    pub fn backoff(&self, attempt: u32) -> Duration {
        let window = self
            .base_delay
            .saturating_mul(1u32 << attempt.min(20))
            .min(self.max_delay);
        window.mul_f64(jitter())
    }
}

/// A uniformly distributed number in [0.5, 1): half the window is always waited, so retries
/// from many clients still spread out without any of them hammering at once.
fn jitter() -> f64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static SEED: OnceLock<RandomState> = OnceLock::new();
    let n = SEED
        .get_or_init(RandomState::new)
        .hash_one(COUNTER.fetch_add(1, Ordering::Relaxed));
    0.5 + (n >> 11) as f64 / (1u64 << 53) as f64 / 2.0
}

/// A response read whole.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::Invalid(format!(
                "cannot read the {} response: {e}",
                self.status.as_u16()
            ))
        })
    }
}

/// Turns an error response's body into a message (Graph and SCIM shape their errors
/// differently).
pub type DescribeError = fn(StatusCode, &[u8]) -> String;

/// A client for one service.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    limit: Arc<Semaphore>,
    settings: Settings,
    describe: DescribeError,
    redactor: Redactor,
}

impl Http {
    pub fn new(settings: Settings, describe: DescribeError) -> Result<Http, Error> {
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("recert/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Unavailable(format!("cannot build the HTTP client: {e}")))?;
        Ok(Http {
            client,
            limit: Arc::new(Semaphore::new(settings.max_concurrent.max(1))),
            settings,
            describe,
            redactor: Redactor::new(),
        })
    }

    /// What this client redacts from its errors; the directory teaches it the credentials it
    /// sends, and the errors it makes itself from bodies go through it too.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// An error response's body as a message, credentials removed: from the body before it
    /// is cut short (a credential cut in half would no longer be recognised), and from the
    /// message (a description may unescape what the body had escaped).
    pub fn describe(&self, status: StatusCode, body: &[u8]) -> String {
        let body = self.redactor.redact(&String::from_utf8_lossy(body));
        self.redactor
            .redact(&(self.describe)(status, body.as_bytes()))
    }

    /// The underlying client, for building requests.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends the request `build` makes, retrying transient failures, and returns the first
    /// response that is not one: 2xx, 3xx and 4xx other than 429 are the caller's to read.
    /// `build` is called once per attempt, so each attempt is a fresh request. A 501 is returned
    /// as it is, not retried.
    pub async fn send(&self, build: impl Fn() -> RequestBuilder) -> Result<Response, Error> {
        let policy = self.settings.retry;
        let mut attempt = 0;
        loop {
            let result = {
                let _permit =
                    self.limit.acquire().await.map_err(|_| {
                        Error::Unavailable("the client is shutting down".to_owned())
                    })?;
                self.attempt(build()).await
            };
            attempt += 1;
            let last = attempt >= policy.max_attempts;
            match result {
                Ok(response) => {
                    let status = response.status;
                    count(self.settings.service, status.as_str());
                    let throttled = status == StatusCode::TOO_MANY_REQUESTS
                        || ((status == StatusCode::SERVICE_UNAVAILABLE
                            || status == StatusCode::GATEWAY_TIMEOUT)
                            && response.headers.contains_key(RETRY_AFTER));
                    if throttled {
                        let asked = retry_after(&response.headers);
                        if last {
                            return Err(Error::Throttled {
                                retry_after_ms: asked
                                    .unwrap_or(policy.max_delay)
                                    .as_millis()
                                    .try_into()
                                    .unwrap_or(u64::MAX),
                            });
                        }
                        let wait = asked
                            .unwrap_or_else(|| policy.backoff(attempt))
                            .min(policy.max_delay);
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    // 501 says the server does not do this at all: asking again cannot help,
                    // and the caller may try another form of the request.
                    if status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED {
                        if last {
                            return Err(Error::Http {
                                status: status.as_u16(),
                                body: self.describe(status, &response.body),
                            });
                        }
                        tokio::time::sleep(policy.backoff(attempt)).await;
                        continue;
                    }
                    return Ok(response);
                }
                Err(e) => {
                    count(self.settings.service, "error");
                    if last {
                        return Err(Error::Unavailable(self.redactor.redact(&e)));
                    }
                    tokio::time::sleep(policy.backoff(attempt)).await;
                }
            }
        }
    }

    async fn attempt(&self, request: RequestBuilder) -> Result<Response, String> {
        let response = request.send().await.map_err(describe_transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(describe_transport)?;
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// The error for a response the caller did not expect.
    pub fn unexpected(&self, response: &Response) -> Error {
        let body = self.describe(response.status, &response.body);
        match response.status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Error::Auth(body),
            StatusCode::NOT_FOUND => Error::NotFound(body),
            status => Error::Http {
                status: status.as_u16(),
                body,
            },
        }
    }
}

/// The transport error and its causes in one line, without the URL's query (which may name
/// principals) — reqwest's own Display already leaves credentials out, as we send them only in
/// headers and bodies.
fn describe_transport(e: reqwest::Error) -> String {
    let mut out = if e.is_timeout() {
        "the request timed out".to_owned()
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        "the connection failed".to_owned()
    };
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// `Retry-After` as seconds (fractional allowed, as Graph sends them) or as an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let when = jiff::fmt::rfc2822::parse(value).ok()?;
    let now = jiff::Timestamp::now();
    let wait = now.until(when.timestamp()).ok()?;
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

fn install_crypto_provider() {
    // Only ring is compiled in; installing it twice (from two clients) is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Requests sent to directories, by service and status code (`error` for transport failures):
/// the `recert_directory_requests_total` metric.
pub fn request_counts() -> BTreeMap<(&'static str, String), u64> {
    counts().lock().map(|m| m.clone()).unwrap_or_default()
}

fn counts() -> &'static Mutex<BTreeMap<(&'static str, String), u64>> {
    static COUNTS: OnceLock<Mutex<BTreeMap<(&'static str, String), u64>>> = OnceLock::new();
    COUNTS.get_or_init(Default::default)
}

fn count(service: &'static str, status: &str) {
    if let Ok(mut map) = counts().lock() {
        *map.entry((service, status.to_owned())).or_default() += 1;
    }
}

/// A response as a server would have sent it, for tests of the code that reads responses.
#[cfg(test)]
pub fn test_response(status: u16, body: &str) -> Response {
    Response {
        status: StatusCode::from_u16(status).expect("a valid status"),
        headers: HeaderMap::new(),
        body: Bytes::from(body.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_takes_fractional_seconds() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("2.128"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(2128)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
    }

    #[test]
    fn retry_after_takes_an_http_date_in_the_past_as_now() {
        let mut headers = HeaderMap::new();
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_ignores_garbage_and_negative_values() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("-1"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn backoff_grows_within_its_window_and_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        for attempt in 0..12 {
            let window = (100u64 << attempt).min(1000);
            let wait = policy.backoff(attempt).as_millis() as u64;
            assert!(
                wait >= window / 2 && wait <= window,
                "attempt {attempt}: {wait} ms outside [{}, {window}]",
                window / 2
            );
        }
    }
}

//! JSON batching: up to 20 GETs in one `POST /$batch`, each answered with its own status.
//!
//! Items Graph throttles inside a successful batch (429, or 503/504) are sent again in a later
//! batch, after the longest `Retry-After` among them, for as long as each round gets some of
//! them through; a 404 means the object does not exist;
//! any other failure of an item fails the whole call, with that item's Graph error.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::directory::Error;
use crate::directory::http::RetryPolicy;

use super::client::GraphClient;
use super::error_body::ODataError;

/// Graph's limit on requests in one batch.
pub const MAX_BATCH: usize = 20;

#[derive(Debug, Deserialize)]
struct BatchResponse {
    #[serde(default)]
    responses: Vec<ItemResponse>,
}

#[derive(Debug, Deserialize)]
struct ItemResponse {
    id: String,
    status: u16,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Value,
}

/// GETs every relative URL in `urls` (each starting with `/`, at most [`MAX_BATCH`]) in one
/// batch, and answers, in the same order, each body or `None` for a 404.
pub async fn get_many(
    client: &GraphClient,
    urls: &[String],
    policy: RetryPolicy,
) -> Result<Vec<Option<Value>>, Error> {
    if urls.len() > MAX_BATCH {
        return Err(Error::Invalid(format!(
            "{} requests do not fit in one batch of {MAX_BATCH}",
            urls.len()
        )));
    }
    let mut out: Vec<Option<Value>> = vec![None; urls.len()];
    let mut pending: Vec<usize> = (0..urls.len()).collect();
    let mut attempt = 0;
    while !pending.is_empty() {
        let requests: Vec<Value> = pending
            .iter()
            .map(|&i| json!({ "id": i.to_string(), "method": "GET", "url": urls[i] }))
            .collect();
        let body = json!({ "requests": requests });
        let response = client
            .send(Method::POST, &client.url("/$batch"), Some(&body))
            .await?;
        if !response.status.is_success() {
            return Err(client.http.unexpected(&response));
        }
        let batch: BatchResponse = response.json()?;
        let mut answered = vec![false; urls.len()];
        let mut retry = Vec::new();
        let mut wait: Option<Duration> = None;
        for item in batch.responses {
            let Some(i) = item
                .id
                .parse::<usize>()
                .ok()
                .filter(|i| pending.contains(i))
            else {
                continue;
            };
            answered[i] = true;
            match item.status {
                200..=299 => out[i] = Some(item.body),
                404 => out[i] = None,
                429 | 503 | 504 => {
                    retry.push(i);
                    let asked = item
                        .headers
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
                        .and_then(|(_, v)| v.trim().parse::<f64>().ok())
                        .filter(|s| s.is_finite() && *s >= 0.0)
                        .map(Duration::from_secs_f64);
                    wait = wait.max(asked.or(Some(policy.backoff(attempt))));
                }
                status if status >= 500 => {
                    retry.push(i);
                    wait = wait.max(Some(policy.backoff(attempt)));
                }
                status => {
                    let detail = ODataError::from_value(&item.body)
                        .map(|e| client.http.redactor().redact(&e.describe()))
                        .unwrap_or_else(|| "no error body".to_owned());
                    return Err(match status {
                        401 | 403 => Error::Auth(detail),
                        _ => Error::Http {
                            status,
                            body: detail,
                        },
                    });
                }
            }
        }
        // An item the batch did not answer at all is asked again.
        retry.extend(pending.iter().copied().filter(|&i| !answered[i]));
        retry.sort_unstable();
        retry.dedup();
        if retry.is_empty() {
            break;
        }
        // The retry budget counts rounds in which nothing got through: a rate limit that lets
        // a few items through each round is making progress, and is waited out.
        if retry.len() < pending.len() {
            attempt = 0;
        }
        attempt += 1;
        if attempt >= policy.max_attempts {
            let ms = wait.unwrap_or(policy.max_delay).as_millis();
            return Err(Error::Throttled {
                retry_after_ms: ms.try_into().unwrap_or(u64::MAX),
            });
        }
        tokio::time::sleep(
            wait.unwrap_or_else(|| policy.backoff(attempt))
                .min(policy.max_delay),
        )
        .await;
        pending = retry;
    }
    Ok(out)
}

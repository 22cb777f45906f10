//! Authenticated requests to Graph through the shared HTTP layer, and paging.
//!
//! A 401 whose error code says the token is bad (expired early, revoked, signed by a key that
//! rolled) drops the cached token and tries once more with a new one. Paging follows the whole
//! `@odata.nextLink` as Graph returns it, never rebuilt from parts, and only on the configured
//! Graph origin, so a forged link cannot carry the bearer token elsewhere.

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::directory::Error;
use crate::directory::http::{Http, Response};

use super::error_body::ODataError;
use super::mapping::Collection;
use super::token::TokenSource;

/// Graph error codes on a 401 that mean the token itself was refused.
const TOKEN_ERRORS: &[&str] = &[
    "InvalidAuthenticationToken",
    "ExpiredAuthenticationToken",
    "CompactToken_ParsingFailed",
];

#[derive(Debug)]
pub struct GraphClient {
    pub http: Http,
    /// The Graph endpoint without a trailing slash (`https://graph.microsoft.com/v1.0`).
    base: String,
    /// Scheme, host and port of `base`: where page links may point.
    origin: String,
    token: TokenSource,
}

impl GraphClient {
    pub fn new(http: Http, base: &str, token: TokenSource) -> Result<GraphClient, Error> {
        let base = base.trim_end_matches('/').to_owned();
        let origin = origin(&base)
            .ok_or_else(|| Error::Invalid(format!("`{base}` is not an http(s) URL")))?;
        Ok(GraphClient {
            http,
            base,
            origin,
            token,
        })
    }

    /// The absolute URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends one request with a bearer token, renewing the token once if Graph refuses it.
    /// Any status comes back; throttling and transient failures are retried below this.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Response, Error> {
        let mut renewed = false;
        loop {
            let token = self.token.get(&self.http).await?;
            let response = self
                .http
                .send(|| {
                    let mut request = self
                        .http
                        .client()
                        .request(method.clone(), url)
                        .bearer_auth(token.expose());
                    if let Some(body) = body {
                        request = request.json(body);
                    }
                    request
                })
                .await?;
            if response.status == StatusCode::UNAUTHORIZED && !renewed && token_refused(&response) {
                self.token.invalidate(&token).await;
                renewed = true;
                continue;
            }
            return Ok(response);
        }
    }

    /// GETs `url` and reads the JSON body; any status but 2xx is an error.
    pub async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, Error> {
        let response = self.send(Method::GET, url, None).await?;
        if !response.status.is_success() {
            return Err(self.http.unexpected(&response));
        }
        response.json()
    }

    /// One page of a collection: `url` is the first page's URL or a `@odata.nextLink`.
    pub async fn page<T: DeserializeOwned>(&self, url: &str) -> Result<Collection<T>, Error> {
        self.check_link(url)?;
        self.get_json(url).await
    }

    /// Every item of a collection, page by page.
    pub async fn all<T: DeserializeOwned>(&self, first: &str) -> Result<Vec<T>, Error> {
        let mut out = Vec::new();
        let mut url = first.to_owned();
        loop {
            let page: Collection<T> = self.page(&url).await?;
            out.extend(page.value);
            match page.next_link {
                Some(next) => url = next,
                None => return Ok(out),
            }
        }
    }

    /// Refuses a page link that leaves the Graph endpoint's origin.
    pub fn check_link(&self, url: &str) -> Result<(), Error> {
        if origin(url).is_some_and(|o| o.eq_ignore_ascii_case(&self.origin)) {
            Ok(())
        } else {
            Err(Error::Invalid(
                "a page link points outside the Graph endpoint; it was not followed".to_owned(),
            ))
        }
    }
}

fn token_refused(response: &Response) -> bool {
    ODataError::parse(&response.body).is_some_and(|e| TOKEN_ERRORS.contains(&e.code()))
}

/// `scheme://host[:port]` of an absolute http(s) URL.
pub fn origin(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    let host = parsed.host_str()?;
    Some(match parsed.port() {
        Some(port) => format!("{}://{host}:{port}", parsed.scheme()),
        None => format!("{}://{host}", parsed.scheme()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_keep_scheme_host_and_explicit_port() {
        assert_eq!(
            origin("https://graph.microsoft.com/v1.0").as_deref(),
            Some("https://graph.microsoft.com")
        );
        assert_eq!(
            origin("http://127.0.0.1:8080/v1.0/users?$top=5").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(origin("ftp://x/y"), None);
        assert_eq!(origin("/relative"), None);
    }
}

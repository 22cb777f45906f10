//! The OpenID Connect provider as the page talks to it: discovery, its keys (cached, fetched
//! again when a token names a key not seen yet), the authorization request (code flow with
//! PKCE S256, state and nonce) and the code exchange, authenticated with the client secret.

pub mod jwt;
#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::Url;
use serde::Deserialize;
use serde_json::Value;
use sha2::Digest;
use tokio::sync::Mutex;

use super::config::{Settings, secure_or_loopback};
use jwt::{Expect, Jwks, TokenError};

/// How long one call to the provider may take.
const TIMEOUT: Duration = Duration::from_secs(15);
/// The keys are fetched again at most this often on an unknown key id, so that tokens naming
/// made-up keys cannot make the page hammer the provider.
const REFETCH_AFTER: Duration = Duration::from_secs(30);
/// The discovery document and keys are read again after this long anyway.
const MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// What discovery says (the fields the page uses).
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
}

/// Why talking to the provider failed. Never holds the client secret or a token.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("cannot reach the OpenID provider at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the OpenID provider's {what} is invalid: {reason}")]
    Invalid { what: &'static str, reason: String },
    #[error("the OpenID provider refused the code exchange: {0}")]
    Refused(String),
    #[error(transparent)]
    Token(#[from] TokenError),
}

#[derive(Debug)]
struct Cache {
    metadata: Option<(Metadata, Instant)>,
    jwks: Option<(Jwks, Instant)>,
}

/// One provider, shared by every request.
#[derive(Debug)]
pub struct Provider {
    client: reqwest::Client,
    settings: Settings,
    cache: Mutex<Cache>,
    /// [`REFETCH_AFTER`]; a test sets it to zero.
    refetch_after: Duration,
}

/// The PKCE pair and the values that tie the provider's answer to this sign-in.
#[derive(Debug, Clone)]
pub struct Authorization {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

impl Provider {
    pub fn new(settings: Settings) -> Result<Provider, ProviderError> {
        // Only ring is compiled in; installing it twice (from two clients) is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT.min(Duration::from_secs(10)))
            .user_agent(concat!("recert/", env!("CARGO_PKG_VERSION")))
            // A redirect could lead the client secret to another host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ProviderError::Unreachable {
                url: settings.issuer.clone(),
                reason: e.to_string(),
            })?;
        Ok(Provider {
            client,
            settings,
            cache: Mutex::new(Cache {
                metadata: None,
                jwks: None,
            }),
            refetch_after: REFETCH_AFTER,
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The discovery document, read once and kept.
    pub async fn metadata(&self) -> Result<Metadata, ProviderError> {
        let mut cache = self.cache.lock().await;
        if let Some((metadata, at)) = &cache.metadata
            && at.elapsed() < MAX_AGE
        {
            return Ok(metadata.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.settings.issuer.trim_end_matches('/')
        );
        let metadata: Metadata = self.get_json(&url, "discovery document").await?;
        if metadata.issuer != self.settings.issuer {
            return Err(ProviderError::Invalid {
                what: "discovery document",
                reason: format!(
                    "it names issuer `{}`, not `{}`",
                    metadata.issuer, self.settings.issuer
                ),
            });
        }
        for (name, endpoint) in [
            ("authorization_endpoint", &metadata.authorization_endpoint),
            ("token_endpoint", &metadata.token_endpoint),
            ("jwks_uri", &metadata.jwks_uri),
        ] {
            let safe = Url::parse(endpoint).is_ok_and(|u| secure_or_loopback(&u));
            if !safe {
                return Err(ProviderError::Invalid {
                    what: "discovery document",
                    reason: format!("`{name}` must be an https:// URL (http:// only on loopback)"),
                });
            }
        }
        if !metadata.code_challenge_methods_supported.is_empty()
            && !metadata
                .code_challenge_methods_supported
                .iter()
                .any(|m| m == "S256")
        {
            return Err(ProviderError::Invalid {
                what: "discovery document",
                reason: "the provider does not support PKCE with S256".to_owned(),
            });
        }
        cache.metadata = Some((metadata.clone(), Instant::now()));
        Ok(metadata)
    }

    /// Where to send the browser, and what to remember until it comes back.
    pub async fn authorize(&self) -> Result<Authorization, ProviderError> {
        let metadata = self.metadata().await?;
        let state = super::session::random_token(32);
        let nonce = super::session::random_token(32);
        let verifier = super::session::random_token(32);
        let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
        let mut url =
            Url::parse(&metadata.authorization_endpoint).map_err(|e| ProviderError::Invalid {
                what: "authorization endpoint",
                reason: e.to_string(),
            })?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", &self.settings.redirect_uri)
            .append_pair("scope", &self.settings.scopes)
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(Authorization {
            url: url.to_string(),
            state,
            nonce,
            verifier,
        })
    }

    /// Exchanges the code for tokens and returns the verified ID token's claims.
    pub async fn exchange(
        &self,
        code: &str,
        verifier: &str,
        nonce: &str,
        now: i64,
    ) -> Result<Value, ProviderError> {
        let metadata = self.metadata().await?;
        let s = &self.settings;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", s.redirect_uri.as_str()),
            ("code_verifier", verifier),
        ];
        let mut request = self.client.post(&metadata.token_endpoint);
        // client_secret_basic unless the provider says it only takes the secret in the body.
        let methods = &metadata.token_endpoint_auth_methods_supported;
        let basic = methods.is_empty() || methods.iter().any(|m| m == "client_secret_basic");
        if basic {
            let credentials = format!(
                "{}:{}",
                form_encode(&s.client_id),
                form_encode(s.client_secret.expose())
            );
            request = request.header(
                reqwest::header::AUTHORIZATION,
                format!("Basic {}", STANDARD.encode(credentials)),
            );
        } else {
            form.push(("client_id", s.client_id.as_str()));
            form.push(("client_secret", s.client_secret.expose()));
        }
        let response = request
            .form(&form)
            .send()
            .await
            .map_err(|e| self.unreachable(&metadata.token_endpoint, &e))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            // Only the standard error fields, cut short: never the whole body.
            let field = |k| {
                body.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .chars()
                    .take(200)
                    .collect::<String>()
            };
            return Err(ProviderError::Refused(
                format!(
                    "HTTP {} {} {}",
                    status.as_u16(),
                    field("error"),
                    field("error_description")
                )
                .trim_end()
                .to_owned(),
            ));
        }
        let token = body
            .get("id_token")
            .and_then(Value::as_str)
            .ok_or(ProviderError::Invalid {
                what: "token response",
                reason: "it has no id_token".to_owned(),
            })?;
        let expect = Expect {
            issuer: &s.issuer,
            client_id: &s.client_id,
            nonce,
            now,
        };
        self.verify(token, &metadata, &expect).await
    }

    async fn verify(
        &self,
        token: &str,
        metadata: &Metadata,
        expect: &Expect<'_>,
    ) -> Result<Value, ProviderError> {
        let parsed = jwt::parse(token)?;
        let key = {
            let mut cache = self.cache.lock().await;
            let fresh = |at: &Instant, limit| at.elapsed() < limit;
            let known = cache
                .jwks
                .as_ref()
                .filter(|(_, at)| fresh(at, MAX_AGE))
                .and_then(|(jwks, _)| parsed.key(jwks).cloned());
            match known {
                Some(key) => key,
                None => {
                    let recent = cache
                        .jwks
                        .as_ref()
                        .is_some_and(|(_, at)| fresh(at, self.refetch_after));
                    if recent {
                        return Err(TokenError::UnknownKey.into());
                    }
                    let jwks: Jwks = self.get_json(&metadata.jwks_uri, "JWKS").await?;
                    let key = parsed.key(&jwks).cloned();
                    cache.jwks = Some((jwks, Instant::now()));
                    key.ok_or(TokenError::UnknownKey)?
                }
            }
        };
        Ok(parsed.verify(&key, expect)?)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        what: &'static str,
    ) -> Result<T, ProviderError> {
        let response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| self.unreachable(url, &e))?;
        if !response.status().is_success() {
            return Err(ProviderError::Invalid {
                what,
                reason: format!("{url} answered HTTP {}", response.status().as_u16()),
            });
        }
        response.json().await.map_err(|e| ProviderError::Invalid {
            what,
            reason: e.to_string(),
        })
    }

    fn unreachable(&self, url: &str, e: &reqwest::Error) -> ProviderError {
        // reqwest names the URL, never the form body that holds the secret.
        ProviderError::Unreachable {
            url: url.to_owned(),
            reason: e.to_string(),
        }
    }
}

/// `application/x-www-form-urlencoded` encoding, which client_secret_basic asks of the id and
/// the secret before they are joined (RFC 6749 §2.3.1).
fn form_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

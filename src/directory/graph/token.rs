//! OAuth 2.0 client credentials against the Microsoft identity platform: a client secret, or a
//! client assertion (an RS256-signed JWT) made from a certificate. One token is cached and
//! shared until shortly before it expires; the refresh is single-flight, so a burst of
//! requests after expiry asks for one token, not one each.

use std::fmt;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::directory::Error;
use crate::directory::http::Http;
use crate::directory::secret::Secret;

/// How the application proves who it is.
pub enum Credential {
    Secret(Secret),
    /// Boxed: the RSA key is far larger than a secret.
    Certificate(Box<Certificate>),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Secret(_) => f.write_str("Credential::Secret(***)"),
            Credential::Certificate(c) => write!(f, "Credential::Certificate({c:?})"),
        }
    }
}

/// A certificate and its RSA private key, read from one PEM file.
pub struct Certificate {
    key: RsaKeyPair,
    /// Base64url SHA-256 of the certificate's DER: the `x5t#S256` header.
    x5t_s256: String,
    /// Base64url SHA-1 of the same: the `x5t` header, which older tenants still look for.
    x5t: String,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The thumbprint identifies the certificate and is public; the key is not shown.
        write!(f, "Certificate(x5t#S256={})", self.x5t_s256)
    }
}

impl Certificate {
    /// Reads a PEM bundle holding the certificate (the first `CERTIFICATE` block) and its RSA
    /// private key (PKCS#8 or PKCS#1). Errors never quote the file's content.
    pub fn from_pem(pem: &[u8]) -> Result<Certificate, String> {
        let cert = CertificateDer::pem_slice_iter(pem)
            .next()
            .ok_or("the client certificate file holds no CERTIFICATE block")?
            .map_err(|e| {
                format!("cannot read the certificate in the client certificate file: {e}")
            })?;
        let key = PrivateKeyDer::from_pem_slice(pem).map_err(|e| {
            format!("cannot read a private key in the client certificate file: {e}")
        })?;
        let key = match &key {
            PrivateKeyDer::Pkcs8(der) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der()),
            _ => {
                return Err(
                    "the client certificate's private key must be an RSA key (PKCS#8 or PKCS#1)"
                        .to_owned(),
                );
            }
        }
        .map_err(|e| {
            format!("the client certificate's private key is not usable for RS256: {e}")
        })?;
        let sha256 = ring::digest::digest(&ring::digest::SHA256, cert.as_ref());
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, cert.as_ref());
        Ok(Certificate {
            key,
            x5t_s256: URL_SAFE_NO_PAD.encode(sha256.as_ref()),
            x5t: URL_SAFE_NO_PAD.encode(sha1.as_ref()),
        })
    }

    /// The signed client assertion for `audience` (the token endpoint), valid for ten minutes.
    fn assertion(&self, client_id: &str, audience: &str) -> Result<String, Error> {
        let rng = SystemRandom::new();
        let mut jti = [0u8; 16];
        rng.fill(&mut jti)
            .map_err(|_| Error::Auth("no randomness for the client assertion".to_owned()))?;
        let now = jiff::Timestamp::now().as_second();
        let header = serde_json::json!({
            "alg": "RS256",
            "typ": "JWT",
            "x5t#S256": self.x5t_s256,
            "x5t": self.x5t,
        });
        let claims = serde_json::json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": crate::audit::hex(&jti),
            "nbf": now,
            "iat": now,
            "exp": now + 600,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &rng,
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| Error::Auth("cannot sign the client assertion".to_owned()))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

/// Where and as whom to ask for tokens.
#[derive(Debug)]
pub struct TokenSource {
    token_url: String,
    client_id: String,
    scope: String,
    credential: Credential,
    cached: Mutex<Option<Cached>>,
}

#[derive(Debug, Clone)]
struct Cached {
    token: Secret,
    refresh_at: Instant,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    /// Seconds; some endpoints send it as a string.
    expires_in: Option<serde_json::Value>,
    error: Option<String>,
    error_description: Option<String>,
}

impl TokenSource {
    /// `authority` and `tenant` make the token endpoint; `scope` is the resource's `/.default`.
    pub fn new(
        authority: &str,
        tenant: &str,
        client_id: &str,
        scope: String,
        credential: Credential,
    ) -> TokenSource {
        TokenSource {
            token_url: format!(
                "{}/{}/oauth2/v2.0/token",
                authority.trim_end_matches('/'),
                encode_segment(tenant)
            ),
            client_id: client_id.to_owned(),
            scope,
            credential,
            cached: Mutex::new(None),
        }
    }

    /// A valid token: the cached one, or a new one.
    pub async fn get(&self, http: &Http) -> Result<Secret, Error> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        let (token, lifetime) = self.fetch(http).await?;
        // Renew 10% of the lifetime early, at most five minutes: a request sent just before
        // expiry must not arrive just after it.
        let margin = (lifetime / 10).min(Duration::from_secs(300));
        *cached = Some(Cached {
            token: token.clone(),
            refresh_at: Instant::now() + lifetime.saturating_sub(margin),
        });
        Ok(token)
    }

    /// Forgets `token` if it is still the cached one (the service rejected it); a token
    /// another request already replaced is left alone.
    pub async fn invalidate(&self, token: &Secret) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|c| &c.token == token) {
            *cached = None;
        }
    }

    async fn fetch(&self, http: &Http) -> Result<(Secret, Duration), Error> {
        let mut form: Vec<(&str, String)> = vec![
            ("client_id", self.client_id.clone()),
            ("scope", self.scope.clone()),
            ("grant_type", "client_credentials".to_owned()),
        ];
        match &self.credential {
            Credential::Secret(secret) => form.push(("client_secret", secret.expose().to_owned())),
            Credential::Certificate(cert) => {
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
                ));
                let assertion = cert.assertion(&self.client_id, &self.token_url)?;
                http.redactor().learn(&assertion);
                form.push(("client_assertion", assertion));
            }
        }
        let response = http
            .send(|| http.client().post(&self.token_url).form(&form))
            .await?;
        let body: TokenResponse = serde_json::from_slice(&response.body).map_err(|_| {
            Error::Auth(format!(
                "the token endpoint answered HTTP {} with a body that is not a token response: {}",
                response.status.as_u16(),
                http.describe(response.status, &response.body)
            ))
        })?;
        // Learnt before anything is made of the answer: a token the endpoint issued and then
        // quoted in an error must not be shown either.
        if let Some(token) = body.access_token.as_deref() {
            http.redactor().learn(token);
        }
        if !response.status.is_success() {
            // AADSTS descriptions name the tenant, app and problem, never the credential; an
            // endpoint that is not Entra ID may quote the request, so it is redacted all the same.
            let description = body
                .error_description
                .as_deref()
                .and_then(|d| d.lines().next())
                .unwrap_or("no description");
            return Err(Error::Auth(http.redactor().redact(&format!(
                "the token endpoint refused the credentials (HTTP {}, {}): {description}",
                response.status.as_u16(),
                body.error.as_deref().unwrap_or("no error code"),
            ))));
        }
        let token = body.access_token.filter(|t| !t.is_empty()).ok_or_else(|| {
            Error::Auth("the token endpoint answered without an access token".to_owned())
        })?;
        let seconds = match body.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_f64(),
            Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        }
        .filter(|s| s.is_finite() && *s > 0.0)
        // Without a lifetime, assume the platform's usual hour and let a 401 renew it early.
        .unwrap_or(3600.0);
        Ok((
            Secret::new(token),
            Duration::from_secs_f64(seconds.min(86_400.0)),
        ))
    }
}

/// Percent-encodes one URL path segment (a tenant, an id, a user principal name).
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode_segment("alice@corp.example"), "alice@corp.example");
        assert_eq!(encode_segment("o'brien#1/x y"), "o%27brien%231%2Fx%20y");
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let credential = Credential::Secret(Secret::new("hunter2"));
        assert!(!format!("{credential:?}").contains("hunter2"));
    }

    #[test]
    fn a_pem_without_a_certificate_is_refused_without_quoting_it() {
        let e = Certificate::from_pem(
            b"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
        )
        .expect_err("no certificate");
        assert!(e.contains("no CERTIFICATE"), "{e}");
        assert!(!e.contains("MIIB"), "{e}");
    }
}

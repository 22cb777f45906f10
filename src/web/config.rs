//! What a `ReviewerPortal` must be before the page serves it, and the settings it resolves to
//! at start. `recert validate` reports [`problems`] at file:line:col; [`Settings::resolve`]
//! refuses the same cases with the same words, and reads the secrets.

use std::path::Path;
use std::time::Duration;

use reqwest::Url;

use crate::directory::secret::{Secret, SecretError, resolve};
use crate::model::portal::{PrincipalClaim, ReviewerPortalSpec};

/// One problem with a portal's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// JSON pointer of the field.
    pub pointer: &'static str,
    pub message: String,
    pub note: String,
}

/// Every problem with `spec` the schema cannot see: plain http off loopback, a URL with a
/// path, query or credentials where an origin is wanted.
pub fn problems(spec: &ReviewerPortalSpec) -> Vec<Problem> {
    let mut out = Vec::new();
    match Url::parse(&spec.external_url) {
        Ok(url) => {
            if !secure_or_loopback(&url) {
                out.push(Problem {
                    pointer: "/spec/externalUrl",
                    message: format!(
                        "`{}` would carry sign-ins and session cookies in clear text",
                        spec.external_url
                    ),
                    note: "use https://; http:// is allowed only on loopback (127.0.0.1, ::1, localhost)".to_owned(),
                });
            }
            if url.path() != "/"
                || url.query().is_some()
                || url.fragment().is_some()
                || has_credentials(&url)
            {
                out.push(Problem {
                    pointer: "/spec/externalUrl",
                    message: format!("`{}` is not an origin", spec.external_url),
                    note: "give scheme, host and port only (`https://recert.corp.example`); the page is served from its root".to_owned(),
                });
            }
        }
        Err(e) => out.push(Problem {
            pointer: "/spec/externalUrl",
            message: format!("`{}` is not a URL: {e}", spec.external_url),
            note: "write `https://recert.corp.example`".to_owned(),
        }),
    }
    match Url::parse(&spec.oidc.issuer) {
        Ok(url) => {
            if !secure_or_loopback(&url) {
                out.push(Problem {
                    pointer: "/spec/oidc/issuer",
                    message: format!(
                        "`{}` would send the client secret and ID tokens in clear text",
                        spec.oidc.issuer
                    ),
                    note: "use https://; http:// is allowed only on loopback (127.0.0.1, ::1, localhost)".to_owned(),
                });
            }
            if url.query().is_some() || url.fragment().is_some() || has_credentials(&url) {
                out.push(Problem {
                    pointer: "/spec/oidc/issuer",
                    message: format!("`{}` is not an issuer", spec.oidc.issuer),
                    note: "an issuer has no query, fragment or credentials".to_owned(),
                });
            }
        }
        Err(e) => out.push(Problem {
            pointer: "/spec/oidc/issuer",
            message: format!("`{}` is not a URL: {e}", spec.oidc.issuer),
            note: "write the issuer as its ID tokens spell it".to_owned(),
        }),
    }
    out
}

fn has_credentials(url: &Url) -> bool {
    !url.username().is_empty() || url.password().is_some()
}

/// `https://`, or `http://` to a loopback host.
pub fn secure_or_loopback(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => is_loopback(url),
        _ => false,
    }
}

/// The host is 127.0.0.0/8, ::1 or `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The portal as the page runs it: URLs parsed, secrets read.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The origin browsers reach the page at, without a trailing slash.
    pub origin: String,
    pub redirect_uri: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub principal_claim: PrincipalClaim,
    pub scopes: String,
    /// Ids and user principal names (lower case) of the admins.
    pub admins: Vec<String>,
    pub session: Duration,
    pub read_only: bool,
    /// Cookies carry `Secure` unless the page is plain http on loopback.
    pub secure_cookies: bool,
    /// From `sessionKey`; `None`: a key made at start.
    pub session_key: Option<Secret>,
    /// The `Directory` whose users sign in.
    pub directory: String,
}

/// Why a portal's settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("ReviewerPortal `{name}`: {}: {message}", pointer.trim_start_matches("/spec/"))]
    Invalid {
        name: String,
        pointer: &'static str,
        message: String,
    },
    #[error("ReviewerPortal `{name}`: {field}: {source}")]
    Secret {
        name: String,
        field: &'static str,
        source: SecretError,
    },
    #[error("ReviewerPortal `{name}`: sessionKey: the key must be at least 32 characters")]
    ShortSessionKey { name: String },
}

/// The shortest session key accepted: 32 bytes, the HMAC-SHA256 key length.
const MIN_SESSION_KEY: usize = 32;

impl Settings {
    /// Checks `spec` and reads its secrets; a relative secret file is taken from `base` (the
    /// portal document's folder).
    pub fn resolve(
        name: &str,
        spec: &ReviewerPortalSpec,
        base: &Path,
    ) -> Result<Settings, ConfigError> {
        if let Some(problem) = problems(spec).into_iter().next() {
            return Err(ConfigError::Invalid {
                name: name.to_owned(),
                pointer: problem.pointer,
                message: problem.message,
            });
        }
        let secret = |field, reference| {
            resolve(reference, base).map_err(|source| ConfigError::Secret {
                name: name.to_owned(),
                field,
                source,
            })
        };
        let client_secret = secret("oidc.clientSecret", &spec.oidc.client_secret)?;
        let session_key = match &spec.session_key {
            Some(reference) => {
                let key = secret("sessionKey", reference)?;
                if key.expose().len() < MIN_SESSION_KEY {
                    return Err(ConfigError::ShortSessionKey {
                        name: name.to_owned(),
                    });
                }
                Some(key)
            }
            None => None,
        };
        let url = Url::parse(&spec.external_url).map_err(|e| ConfigError::Invalid {
            name: name.to_owned(),
            pointer: "/spec/externalUrl",
            message: e.to_string(),
        })?;
        let origin = url.origin().ascii_serialization();
        let mut scopes = vec!["openid".to_owned()];
        let asked = if spec.oidc.scopes.is_empty() {
            vec!["profile".to_owned(), "email".to_owned()]
        } else {
            spec.oidc.scopes.clone()
        };
        for scope in asked {
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        Ok(Settings {
            redirect_uri: format!("{origin}/auth/callback"),
            secure_cookies: !(url.scheme() == "http" && is_loopback(&url)),
            origin,
            issuer: spec.oidc.issuer.clone(),
            client_id: spec.oidc.client_id.clone(),
            client_secret,
            principal_claim: spec.oidc.principal_claim,
            scopes: scopes.join(" "),
            admins: spec.admins.iter().map(|a| a.to_lowercase()).collect(),
            session: Duration::from_secs(u64::from(spec.session_hours.unwrap_or(8)) * 3600),
            read_only: spec.read_only,
            session_key,
            directory: spec.directory.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::directory::SecretRef;
    use crate::model::portal::OidcSettings;

    fn spec(external: &str, issuer: &str) -> ReviewerPortalSpec {
        ReviewerPortalSpec {
            external_url: external.to_owned(),
            directory: "corp".to_owned(),
            oidc: OidcSettings {
                issuer: issuer.to_owned(),
                client_id: "recert".to_owned(),
                client_secret: SecretRef {
                    env: Some("RECERT_TEST_PORTAL_SECRET".to_owned()),
                    file: None,
                },
                principal_claim: PrincipalClaim::Oid,
                scopes: Vec::new(),
            },
            admins: Vec::new(),
            session_hours: None,
            read_only: false,
            session_key: None,
        }
    }

    #[test]
    fn session_hours_and_scopes_are_what_the_sign_in_uses() {
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::write(dir.path().join("secret"), "s3cret").expect("a secret");
        let mut portal = spec("https://recert.corp.example", "https://idp.corp.example");
        portal.oidc.client_secret = SecretRef {
            env: None,
            file: Some("secret".to_owned()),
        };
        let defaults = Settings::resolve("p", &portal, dir.path()).expect("resolves");
        assert_eq!(defaults.session, Duration::from_secs(8 * 3600));
        assert_eq!(defaults.scopes, "openid profile email");
        portal.session_hours = Some(2);
        portal.oidc.scopes = vec!["email".to_owned(), "openid".to_owned(), "groups".to_owned()];
        let set = Settings::resolve("p", &portal, dir.path()).expect("resolves");
        assert_eq!(set.session, Duration::from_secs(2 * 3600));
        // `openid` is always asked, first and once.
        assert_eq!(set.scopes, "openid email groups");
    }

    #[test]
    fn plain_http_is_refused_off_loopback_only() {
        let ok = spec("http://127.0.0.1:8080", "http://localhost:9000/oidc");
        assert_eq!(problems(&ok), []);
        let bad = spec("http://recert.corp.example", "http://idp.corp.example");
        let pointers: Vec<_> = problems(&bad).iter().map(|p| p.pointer).collect();
        assert_eq!(pointers, ["/spec/externalUrl", "/spec/oidc/issuer"]);
        assert_eq!(
            problems(&spec("https://r.example", "https://i.example/v2.0")),
            []
        );
    }

    #[test]
    fn the_external_url_is_an_origin() {
        let bad = spec("https://r.example/reviews?x=1", "https://i.example");
        assert_eq!(problems(&bad).len(), 1);
        let bad = spec("https://user:pw@r.example", "https://i.example");
        assert_eq!(problems(&bad).len(), 1);
    }
}

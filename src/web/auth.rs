//! Sign-in, sign-out, and what handlers use to know who is asking: [`SignedIn`] for any
//! request of a signed-in user, [`Posted`] for a form they submitted (its CSRF token checked).

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::pages::problem;
use super::principals::Principals;
use super::redirect::{encode, local_path};
use super::session::{Pending, Purpose, Session, cookie, random_token, same, set_cookie};
use super::{Portal, now};

/// How long a sign-in may take at the provider.
const PENDING_SECONDS: i64 = 600;
/// The most a form body may hold.
const MAX_FORM: usize = 64 * 1024;

/// A signed-in user, from a valid session cookie. A GET without one is sent to sign in (and
/// back); any other method is refused.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The directory user's id.
    pub principal: String,
    /// Their user principal name and display name.
    pub upn: String,
    pub name: String,
    /// The ID token's `sub` and `iss`.
    pub subject: String,
    pub issuer: String,
    /// Every form this user submits carries it as the field `csrf`.
    pub csrf: String,
    /// Listed in the portal's `admins`.
    pub admin: bool,
    /// The portal is `readOnly`: show, never decide.
    pub read_only: bool,
}

impl<P: Principals> FromRequestParts<Arc<Portal<P>>> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        portal: &Arc<Portal<P>>,
    ) -> Result<SignedIn, Response> {
        let session = parts
            .headers
            .get(header::COOKIE)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| cookie(h, portal.session_cookie()))
            .map(|c| {
                portal
                    .signer
                    .open::<Session>(Purpose::Session, c, now(), |s| s.exp)
            });
        match session {
            Some(Ok(s)) => {
                let settings = portal.provider.settings();
                let admin = settings
                    .admins
                    .iter()
                    .any(|a| *a == s.principal.to_lowercase() || *a == s.upn.to_lowercase());
                Ok(SignedIn {
                    principal: s.principal,
                    upn: s.upn,
                    name: s.name,
                    subject: s.sub,
                    issuer: s.iss,
                    csrf: s.csrf,
                    admin,
                    read_only: settings.read_only,
                })
            }
            Some(Err(e)) if parts.method != Method::GET => {
                tracing::info!(reason = %e, "a request with an invalid session cookie was refused");
                Err(problem(
                    StatusCode::FORBIDDEN,
                    "Not signed in",
                    "Your session is not valid; sign in again.",
                ))
            }
            None if parts.method != Method::GET => Err(problem(
                StatusCode::FORBIDDEN,
                "Not signed in",
                "Sign in first.",
            )),
            other => {
                if let Some(Err(e)) = other {
                    tracing::info!(reason = %e, "an invalid session cookie was ignored");
                }
                let here = parts
                    .uri
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_owned();
                let back = local_path(&here).unwrap_or_else(|| "/".to_owned());
                Err(Redirect::to(&format!("/auth/login?return={}", encode(&back))).into_response())
            }
        }
    }
}

/// A form a signed-in user submitted: refused with 403 unless its `csrf` field is their
/// session's token and, when the browser says where it came from (`Origin`), it came from
/// this page.
#[derive(Debug)]
pub struct Posted<T> {
    pub user: SignedIn,
    pub form: T,
}

impl<P: Principals, T: DeserializeOwned> FromRequest<Arc<Portal<P>>> for Posted<T> {
    type Rejection = Response;

    async fn from_request(
        request: Request,
        portal: &Arc<Portal<P>>,
    ) -> Result<Posted<T>, Response> {
        let (mut parts, body) = request.into_parts();
        let user = SignedIn::from_request_parts(&mut parts, portal).await?;
        let forbidden = |detail: &str| problem(StatusCode::FORBIDDEN, "Refused", detail);
        if let Some(origin) = parts.headers.get(header::ORIGIN)
            && origin.as_bytes() != portal.provider.settings().origin.as_bytes()
        {
            tracing::info!(principal = %user.principal, "a form posted from another origin was refused");
            return Err(forbidden("The form was not sent from this page."));
        }
        let bytes = axum::body::to_bytes(body, MAX_FORM).await.map_err(|_| {
            problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Refused",
                "The form is too large.",
            )
        })?;
        #[derive(Deserialize)]
        struct Token {
            csrf: Option<String>,
        }
        let token: Token = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| forbidden("The form is not one this page sent."))?;
        if !token.csrf.is_some_and(|t| same(&t, &user.csrf)) {
            tracing::info!(principal = %user.principal, "a form without this session's CSRF token was refused");
            return Err(forbidden(
                "The form is out of date or was not sent from this page; reload the page and try again.",
            ));
        }
        let form = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Refused",
                &format!("The form is incomplete: {e}"),
            )
        })?;
        Ok(Posted { user, form })
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    #[serde(rename = "return")]
    return_to: Option<String>,
}

/// Sends the browser to the provider, remembering state, nonce and PKCE verifier.
pub async fn login<P: Principals>(
    State(portal): State<Arc<Portal<P>>>,
    Query(query): Query<LoginQuery>,
) -> Response {
    let return_to = match query.return_to.as_deref() {
        None => "/".to_owned(),
        Some(r) => match local_path(r) {
            Some(path) => path,
            None => {
                tracing::info!("a sign-in with a return address off this page was refused");
                return problem(
                    StatusCode::BAD_REQUEST,
                    "Refused",
                    "After signing in you can only be sent to a page of this site.",
                );
            }
        },
    };
    let authorization = match portal.provider.authorize().await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "cannot start a sign-in");
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in is unavailable",
                "The sign-in provider cannot be reached; try again in a few minutes.",
            );
        }
    };
    let pending = Pending {
        state: authorization.state,
        nonce: authorization.nonce,
        verifier: authorization.verifier,
        return_to,
        exp: now() + PENDING_SECONDS,
    };
    let value = portal.signer.seal(Purpose::Pending, &pending);
    let cookie = set_cookie(
        portal.pending_cookie(),
        &value,
        "/auth",
        PENDING_SECONDS,
        portal.secure(),
    );
    with_cookies(Redirect::to(&authorization.url).into_response(), &[cookie])
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// The provider's answer: checks state, exchanges the code, verifies the ID token, maps the
/// claim to a directory user and starts the session.
pub async fn callback<P: Principals>(
    State(portal): State<Arc<Portal<P>>>,
    parts: Parts,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let clear = set_cookie(portal.pending_cookie(), "", "/auth", 0, portal.secure());
    let refuse = |status, title: &str, detail: &str| {
        with_cookies(problem(status, title, detail), std::slice::from_ref(&clear))
    };
    let pending = parts
        .headers
        .get(header::COOKIE)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| cookie(h, portal.pending_cookie()))
        .map(|c| {
            portal
                .signer
                .open::<Pending>(Purpose::Pending, c, now(), |p| p.exp)
        });
    let Some(Ok(pending)) = pending else {
        tracing::info!("a sign-in answer without a valid sign-in cookie was refused");
        return refuse(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "This sign-in was not started here, or took too long.",
        );
    };
    if !query
        .state
        .as_deref()
        .is_some_and(|s| same(s, &pending.state))
    {
        tracing::info!("a sign-in answer with the wrong state was refused");
        return refuse(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "This sign-in was not started here.",
        );
    }
    if let Some(error) = &query.error {
        tracing::info!(error = %error.chars().take(100).collect::<String>(), "the provider refused a sign-in");
        return refuse(
            StatusCode::FORBIDDEN,
            "Sign-in failed",
            "The sign-in provider did not sign you in.",
        );
    }
    let Some(code) = query.code.as_deref() else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "The sign-in provider sent no code.",
        );
    };
    let claims = match portal
        .provider
        .exchange(code, &pending.verifier, &pending.nonce, now())
        .await
    {
        Ok(claims) => claims,
        Err(e) => {
            tracing::warn!(error = %e, "a sign-in was refused");
            return refuse(
                StatusCode::FORBIDDEN,
                "Sign-in failed",
                "The sign-in could not be verified.",
            );
        }
    };
    let text = |name| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let claim = portal.provider.settings().principal_claim;
    let value = text(claim.as_str());
    if value.is_empty() {
        tracing::warn!(
            claim = claim.as_str(),
            "an ID token without the principal claim was refused"
        );
        return refuse(
            StatusCode::FORBIDDEN,
            "Sign-in refused",
            &format!(
                "The sign-in provider did not say who you are (no `{}` claim).",
                claim.as_str()
            ),
        );
    }
    let person = match portal.principals.find(claim, &value).await {
        Ok(Some(person)) => person,
        Ok(None) => {
            tracing::info!(claim = claim.as_str(), value = %value, "a sign-in naming nobody in the directory was refused");
            return refuse(
                StatusCode::FORBIDDEN,
                "Not in the directory",
                &format!(
                    "You signed in as `{value}`, but the directory has no enabled user with that {}.",
                    if claim == crate::model::portal::PrincipalClaim::Oid {
                        "id"
                    } else {
                        "user principal name"
                    }
                ),
            );
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot map a sign-in to a directory user");
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in is unavailable",
                "The directory cannot be read; try again in a few minutes.",
            );
        }
    };
    let lifetime = i64::try_from(portal.provider.settings().session.as_secs()).unwrap_or(i64::MAX);
    let session = Session {
        principal: person.id,
        upn: person.upn,
        name: person.name,
        sub: text("sub"),
        iss: text("iss"),
        exp: now().saturating_add(lifetime),
        csrf: random_token(32),
    };
    tracing::info!(principal = %session.principal, "signed in");
    let value = portal.signer.seal(Purpose::Session, &session);
    let cookie = set_cookie(
        portal.session_cookie(),
        &value,
        "/",
        lifetime,
        portal.secure(),
    );
    with_cookies(
        Redirect::to(&pending.return_to).into_response(),
        &[clear, cookie],
    )
}

#[derive(Debug, Deserialize)]
pub struct NoFields {}

/// Ends the session (a POST with the session's CSRF token).
pub async fn logout<P: Principals>(
    State(portal): State<Arc<Portal<P>>>,
    posted: Posted<NoFields>,
) -> Response {
    tracing::info!(principal = %posted.user.principal, "signed out");
    let clear = set_cookie(portal.session_cookie(), "", "/", 0, portal.secure());
    let body = "<h1>Signed out</h1><p><a href=\"/auth/login\">Sign in</a></p>";
    with_cookies(
        axum::response::Html(super::pages::layout("Signed out", body)).into_response(),
        &[clear],
    )
}

fn with_cookies(mut response: Response, cookies: &[String]) -> Response {
    for c in cookies {
        if let Ok(value) = HeaderValue::from_str(c) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

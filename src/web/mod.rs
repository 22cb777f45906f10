//! The reviewer page (`recert run --web-listen`): its sign-in with OpenID Connect, sessions,
//! CSRF protection and security headers. The pages themselves are routes added in [`app`];
//! each takes [`SignedIn`] (who is asking) or [`Posted`] (a form they sent, CSRF checked).
//!
//! Layout: `config` (the `ReviewerPortal` checked and resolved), `oidc` (discovery, keys,
//! code exchange, ID token verification), `session` (signed cookies), `redirect` (return
//! paths), `principals` (claim → directory user), `auth` (sign-in and sign-out handlers and
//! the extractors), `pages` (HTML), `start` (the portal found among the manifests); the pages
//! themselves: `reviews` (what a person may see of the state directory), `reviewer_page`,
//! `owner_page`.

pub mod auth;
pub mod config;
pub mod decide;
pub mod oidc;
pub mod owner_page;
pub mod pages;
pub mod principals;
pub mod redirect;
pub mod reviewer_page;
pub mod reviews;
pub mod session;
pub mod start;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

pub use auth::{Posted, SignedIn};
pub use config::Settings;
pub use principals::{DirectoryPrincipals, Principals};
pub use start::{StartError, start};

use crate::daemon::server::{Limits, ListenError, accept_loop, bind};
use oidc::{Provider, ProviderError};
use session::Signer;

/// What every request of the page shares.
#[derive(Debug)]
pub struct Portal<P> {
    pub provider: Provider,
    pub signer: Signer,
    pub principals: P,
    /// The state directory the pages read (`recert run --state-dir`).
    pub state_dir: PathBuf,
    /// Where decisions go (`recert run` with a state directory); none: the page records none.
    pub sink: Option<decide::Sink>,
}

impl<P> Portal<P> {
    pub fn new(
        settings: Settings,
        principals: P,
        state_dir: PathBuf,
    ) -> Result<Portal<P>, ProviderError> {
        let signer = Signer::new(settings.session_key.as_ref().map(|k| k.expose().as_bytes()));
        Ok(Portal {
            provider: Provider::new(settings)?,
            signer,
            principals,
            state_dir,
            sink: None,
        })
    }

    fn secure(&self) -> bool {
        self.provider.settings().secure_cookies
    }

    /// `__Host-` binds the cookie to this host and path `/`; browsers accept the prefix only
    /// on `Secure` cookies, so plain-http loopback goes without.
    fn session_cookie(&self) -> &'static str {
        if self.secure() {
            "__Host-recert_session"
        } else {
            "recert_session"
        }
    }

    fn pending_cookie(&self) -> &'static str {
        if self.secure() {
            "__Secure-recert_signin"
        } else {
            "recert_signin"
        }
    }
}

/// The page's routes.
pub fn app<P: Principals>(portal: Arc<Portal<P>>) -> Router {
    Router::new()
        .route("/", get(landing::<P>))
        .route("/reviews/{review}", get(review_page::<P>))
        .route("/reviews/{review}/overview", get(overview_page::<P>))
        .route("/reviews/{review}/results/{file}", get(results_csv::<P>))
        .route("/auth/login", get(auth::login::<P>))
        .route("/auth/callback", get(auth::callback::<P>))
        .route("/auth/logout", post(auth::logout::<P>))
        .route("/reviews/{review}/decide", post(decide::decide::<P>))
        .route("/static/recert.css", get(stylesheet))
        .fallback(not_found)
        .with_state(portal)
        .layer(axum::middleware::from_fn(security_headers))
}

/// Binds `addr` now (a taken port fails start-up) and serves the page until the process
/// ends, under the same connection limits as the probes.
pub async fn serve<P: Principals>(
    addr: SocketAddr,
    portal: Portal<P>,
    limits: Limits,
) -> Result<SocketAddr, ListenError> {
    let (listener, local) = bind(addr).await?;
    let portal = Arc::new(portal);
    // Discovery now, so that a misconfigured provider shows in the log at start; beside the
    // start, which a slow provider must not hold up. One that is down is asked again at the
    // first sign-in.
    tokio::spawn({
        let portal = portal.clone();
        async move {
            if let Err(e) = portal.provider.metadata().await {
                tracing::warn!(error = %e, "the OpenID provider cannot be used yet; sign-in will try again");
            }
        }
    });
    tokio::spawn(accept_loop(listener, app(portal), limits));
    Ok(local)
}

/// Unix seconds now.
pub(crate) fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

async fn landing<P: Principals>(State(portal): State<Arc<Portal<P>>>, user: SignedIn) -> Response {
    let dir = portal.state_dir.clone();
    let page = off_workers(move || {
        reviews::load_all(&dir).map(|states| {
            (
                "Access reviews".to_owned(),
                reviewer_page::landing(&user, &states),
            )
        })
    });
    html(page.await)
}

async fn review_page<P: Principals>(
    State(portal): State<Arc<Portal<P>>>,
    Path(review): Path<String>,
    Query(query): Query<reviewer_page::ReviewQuery>,
    user: SignedIn,
) -> Response {
    let dir = portal.state_dir.clone();
    html(off_workers(move || reviewer_page::review_page(&dir, &user, &review, &query)).await)
}

#[derive(Debug, serde::Deserialize)]
struct InstanceQuery {
    instance: Option<String>,
}

async fn overview_page<P: Principals>(
    State(portal): State<Arc<Portal<P>>>,
    Path(review): Path<String>,
    Query(query): Query<InstanceQuery>,
    user: SignedIn,
) -> Response {
    let dir = portal.state_dir.clone();
    html(
        off_workers(move || owner_page::overview(&dir, &user, &review, query.instance.as_deref()))
            .await,
    )
}

async fn results_csv<P: Principals>(
    State(portal): State<Arc<Portal<P>>>,
    Path((review, file)): Path<(String, String)>,
    user: SignedIn,
) -> Response {
    let Some(instance) = file.strip_suffix(".csv").map(str::to_owned) else {
        return nothing_here();
    };
    let dir = portal.state_dir.clone();
    let name = format!("{review}-{instance}.csv");
    let csv = off_workers(move || owner_page::results_csv(&dir, &user, &review, &instance)).await;
    match csv {
        Ok(csv) => {
            // The file name comes from the URL: only characters that need no quoting.
            let name: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}\""),
                    ),
                ],
                csv,
            )
                .into_response()
        }
        Err(e) => page_error(&e),
    }
}

/// Reading states and rendering a page is blocking work (the store reads on rayon's threads):
/// it runs beside the async workers, which keep serving the probes and sign-ins.
async fn off_workers<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, reviews::PageError> + Send + 'static,
) -> Result<T, reviews::PageError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) => {
            tracing::error!(error = %e, "rendering a page failed");
            Err(reviews::PageError::Failed)
        }
    }
}

fn html(page: Result<(String, String), reviews::PageError>) -> Response {
    match page {
        Ok((title, body)) => Html(pages::layout(&title, &body)).into_response(),
        Err(e) => page_error(&e),
    }
}

fn page_error(e: &reviews::PageError) -> Response {
    match e {
        // The very answer of a page that does not exist: nothing tells a review nobody
        // may see from one that is not there.
        reviews::PageError::NotFound => nothing_here(),
        other => {
            // The log says which file; the page does not show the server's paths.
            tracing::error!(error = %other, "a page could not be shown");
            pages::problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Not available",
                "The review's records cannot be read just now; try again later.",
            )
        }
    }
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        pages::STYLESHEET,
    )
        .into_response()
}

async fn not_found() -> Response {
    nothing_here()
}

fn nothing_here() -> Response {
    pages::problem(StatusCode::NOT_FOUND, "Not found", "There is no such page.")
}

/// The headers every response carries: no script, no framing, nothing kept in a cache (pages
/// show decisions), no sniffing, no referrer to other sites.
const SECURITY_HEADERS: [(HeaderName, &str); 5] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "same-origin"),
    (header::CACHE_CONTROL, "no-store"),
];

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

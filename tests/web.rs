//! The reviewer page's sign-in, over HTTP against the real binary (`recert run --web-listen`):
//! a full sign-in through a real OpenID provider (node-oidc-provider, started by
//! `scripts/test-peers`' kit) by HTTP and in Chromium, and every refusal the page owes —
//! forged ID tokens (from a provider stand-in on loopback that signs what the test tells it
//! to), CSRF, tampered and expired cookies, open redirects — with its security headers, and
//! the secrets kept out of every page, log line and state file.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use recert_testkit::peers::{OidcClient, OidcPeer};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

use super::daemon::Daemon;
use crate::support::{Tree, root};

pub(crate) const CLIENT_ID: &str = "recert-web";
pub(crate) const CLIENT_SECRET: &str = "client-secret-7f3a9c2e5b81d604";
const SESSION_KEY: &str = "session-key-0123456789abcdef0123456789abcdef";

const DIRECTORY: &str = "apiVersion: recert.dev/v1alpha1
kind: Directory
metadata:
  name: corp
spec:
  type: file
  file:
    path: corp-directory.yaml
";

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A tree with the example directory and a portal for `issuer`; the page is to listen on
/// `web_port`.
pub(crate) fn portal_tree(web_port: u16, issuer: &str, claim: &str) -> Tree {
    let tree = Tree::new();
    let data = std::fs::read_to_string(root().join("examples/corp-directory.yaml"))
        .expect("the example directory");
    let portal = format!(
        "apiVersion: recert.dev/v1alpha1
kind: ReviewerPortal
metadata:
  name: reviews
spec:
  externalUrl: http://127.0.0.1:{web_port}
  directory: corp
  oidc:
    issuer: {issuer}
    clientId: {CLIENT_ID}
    clientSecret: {{file: ../secrets/client-secret}}
    principalClaim: {claim}
  admins: [carol@corp.example]
  sessionKey: {{file: ../secrets/session-key}}
"
    );
    tree.write("m/directory.yaml", DIRECTORY)
        .write("m/corp-directory.yaml", data)
        .write("m/portal.yaml", portal)
        .write("secrets/client-secret", CLIENT_SECRET)
        .write("secrets/session-key", SESSION_KEY);
    tree
}

/// `recert run` with the page on `web_port`, once it answers.
pub(crate) fn start_daemon(tree: &Tree, web_port: u16) -> Daemon {
    let addr = format!("127.0.0.1:{web_port}");
    let daemon = Daemon::start(
        tree.path(),
        &["m", "--state-dir", "state", "--web-listen", &addr],
        &[],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(
            Instant::now() < deadline,
            "the page never listened; the daemon logged:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
    daemon
}

/// One HTTP answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: String,
}

impl Answer {
    pub(crate) fn location(&self) -> String {
        self.header("location")
    }

    pub(crate) fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }
}

/// A browser as far as the page cares: cookies (shared by every port of 127.0.0.1, as
/// browsers share them), no automatic redirects, every body kept to search for secrets.
pub(crate) struct Browser {
    pub(crate) client: reqwest::Client,
    pub(crate) jar: BTreeMap<String, String>,
    pub(crate) seen: Vec<String>,
}

impl Browser {
    pub(crate) fn new() -> Browser {
        // Only ring is built in; reqwest wants it chosen before a client is made.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Browser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a client"),
            jar: BTreeMap::new(),
            seen: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub(crate) async fn send(&mut self, request: reqwest::RequestBuilder) -> Answer {
        let request = if self.jar.is_empty() {
            request
        } else {
            request.header("cookie", self.cookie_header())
        };
        let response = request.send().await.expect("the request is answered");
        let answer = Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.text().await.expect("a body"),
        };
        for set in answer.set_cookies() {
            let first = set.split(';').next().unwrap_or_default();
            let Some((name, value)) = first.split_once('=') else {
                continue;
            };
            let lower = set.to_lowercase();
            if value.is_empty() || lower.contains("max-age=0") || lower.contains("1970") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), value.to_owned());
            }
        }
        self.seen
            .push(format!("{:?}\n{}", answer.headers, answer.body));
        answer
    }

    pub(crate) async fn get(&mut self, url: &str) -> Answer {
        let request = self.client.get(url);
        self.send(request).await
    }

    pub(crate) async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Answer {
        let request = self.client.post(url).form(form);
        self.send(request).await
    }

    /// Follows redirects from `url` (relative ones against `origin`) until an answer that is
    /// not one.
    async fn follow(&mut self, mut url: String, origin: &str) -> (String, Answer) {
        for _ in 0..20 {
            let answer = self.get(&url).await;
            if !(300..400).contains(&answer.status) {
                return (url, answer);
            }
            let next = answer.location();
            url = absolute(&next, &url, origin);
        }
        panic!("too many redirects from {url}");
    }
}

fn absolute(location: &str, from: &str, origin: &str) -> String {
    if location.starts_with("http") {
        return location.to_owned();
    }
    let base = reqwest::Url::parse(from)
        .unwrap_or_else(|_| reqwest::Url::parse(origin).expect("the page's origin is a URL"));
    base.join(location).expect("a URL").to_string()
}

fn query(url: &str) -> BTreeMap<String, String> {
    reqwest::Url::parse(url)
        .expect("a URL")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub(crate) fn assert_security_headers(answer: &Answer, what: &str) {
    for (name, value) in [
        ("content-security-policy", CSP),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(answer.header(name), value, "{name} on {what}");
    }
}

/// Signs in through the real provider's development login form as `login`, starting from
/// `start` on the page; returns where the page sent the browser at the end, and that answer.
async fn sign_in_by_http(
    browser: &mut Browser,
    web: &str,
    start: &str,
    login: &str,
) -> (String, Answer) {
    let (mut url, mut answer) = browser.follow(format!("{web}{start}"), web).await;
    let action = regex::Regex::new(r#"action="([^"]+)""#).expect("a regex");
    // The login form, then (a first sign-in of this client) the consent form.
    for _ in 0..3 {
        if !url.contains("/interaction/") {
            break;
        }
        let form = action
            .captures(&answer.body)
            .and_then(|c| c.get(1))
            .map(|m| m.as_str().replace("&amp;", "&"))
            .unwrap_or_else(|| panic!("a form at {url}: {}", answer.body));
        let target = absolute(&form, &url, web);
        let posted = if answer.body.contains("name=\"login\"") {
            browser
                .post(
                    &target,
                    &[("prompt", "login"), ("login", login), ("password", "any")],
                )
                .await
        } else {
            browser.post(&target, &[("prompt", "consent")]).await
        };
        assert!(
            (300..400).contains(&posted.status),
            "{target} answered {}: {}",
            posted.status,
            posted.body
        );
        let next = absolute(&posted.location(), &target, web);
        (url, answer) = browser.follow(next, web).await;
    }
    (url, answer)
}

pub(crate) fn assert_no_secret(haystacks: &[&str], what: &str) {
    for secret in [CLIENT_SECRET, SESSION_KEY] {
        for text in haystacks {
            assert!(!text.contains(secret), "{what} holds a secret:\n{text}");
        }
    }
}

/// Every file under `dir`, as text.
fn files_text(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(files_text(&path));
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.push(String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    out
}

#[tokio::test]
async fn a_reviewer_signs_in_through_a_real_openid_provider_and_out_again() {
    let web_port = free_port();
    let web = format!("http://127.0.0.1:{web_port}");
    let peer = OidcPeer::start(&OidcClient {
        client_id: CLIENT_ID.to_owned(),
        client_secret: CLIENT_SECRET.to_owned(),
        redirect_uri: format!("{web}/auth/callback"),
    });
    let tree = portal_tree(web_port, &peer.issuer(), "oid");
    let daemon = start_daemon(&tree, web_port);
    let mut browser = Browser::new();

    // Not signed in: the page sends the browser to sign in, and back where it was.
    let first = browser.get(&format!("{web}/?tab=mine")).await;
    assert_eq!(first.status, 303);
    assert_eq!(first.location(), "/auth/login?return=/%3Ftab%3Dmine");
    let (url, answer) = sign_in_by_http(
        &mut browser,
        &web,
        "/auth/login?return=/%3Ftab%3Dmine",
        "carol",
    )
    .await;
    assert_eq!(url, format!("{web}/?tab=mine"), "{}", peer.log());
    assert_eq!(answer.status, 200, "{}\n{}", answer.body, daemon.log());
    assert!(answer.body.contains("Carol Schmidt"), "{}", answer.body);
    assert!(
        answer.body.contains("(directory id <code>u-carol</code>)"),
        "{}",
        answer.body
    );
    assert!(
        answer.body.contains("(administrator)"),
        "carol is an admin: {}",
        answer.body
    );
    assert_security_headers(&answer, "the landing page");
    let session = browser
        .jar
        .get("recert_session")
        .cloned()
        .expect("a session cookie");

    // Sign-out is a POST with the session's CSRF token; the cookie is then cleared.
    let csrf = regex::Regex::new(r#"name="csrf" value="([^"]+)""#)
        .expect("a regex")
        .captures(&answer.body)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_owned())
        .expect("the sign-out form's token");
    let out = browser
        .post(&format!("{web}/auth/logout"), &[("csrf", &csrf)])
        .await;
    assert_eq!(out.status, 200, "{}", out.body);
    assert!(out.body.contains("Signed out"));
    assert!(!browser.jar.contains_key("recert_session"));
    assert_eq!(browser.get(&format!("{web}/")).await.status, 303);

    let log = daemon.log();
    assert!(
        log.contains("signed in") && log.contains("u-carol"),
        "{log}"
    );
    let mut texts: Vec<&str> = browser.seen.iter().map(String::as_str).collect();
    texts.push(&log);
    let state = files_text(&tree.path().join("state"));
    texts.extend(state.iter().map(String::as_str));
    assert_no_secret(&texts, "a page, the daemon's log or the state directory");
    assert!(!session.contains(CLIENT_SECRET));
}

#[tokio::test]
async fn a_sign_in_whose_claim_names_nobody_in_the_directory_is_refused() {
    let web_port = free_port();
    let web = format!("http://127.0.0.1:{web_port}");
    // People named by their e-mail address this time.
    let peer = OidcPeer::start(&OidcClient {
        client_id: CLIENT_ID.to_owned(),
        client_secret: CLIENT_SECRET.to_owned(),
        redirect_uri: format!("{web}/auth/callback"),
    });
    let tree = portal_tree(web_port, &peer.issuer(), "email");
    let daemon = start_daemon(&tree, web_port);
    // Nobody of that name; a disabled account (ivan.contractor in the example directory).
    for login in ["zoe", "ivan.contractor"] {
        let mut browser = Browser::new();
        let (_, answer) = sign_in_by_http(&mut browser, &web, "/auth/login", login).await;
        assert_eq!(
            answer.status,
            403,
            "{login}: {}\n{}",
            answer.body,
            daemon.log()
        );
        assert!(
            answer.body.contains("Not in the directory"),
            "{}",
            answer.body
        );
        assert!(
            answer.body.contains(&format!("{login}@corp.example")),
            "{}",
            answer.body
        );
        assert!(!browser.jar.contains_key("recert_session"));
        assert_security_headers(&answer, "the refusal");
    }

    // The same provider, a person the directory knows, by e-mail address: signed in.
    let mut browser = Browser::new();
    let (_, answer) = sign_in_by_http(&mut browser, &web, "/auth/login", "bob").await;
    assert_eq!(answer.status, 200, "{}\n{}", answer.body, daemon.log());
    assert!(answer.body.contains("u-bob") && !answer.body.contains("(administrator)"));
    assert_no_secret(
        &[&daemon.log(), &browser.seen.join("\n")],
        "a page or the log",
    );
}

#[tokio::test]
async fn chromium_signs_in_and_the_landing_page_is_screenshotted() {
    let web_port = free_port();
    let web = format!("http://127.0.0.1:{web_port}");
    let peer = OidcPeer::start(&OidcClient {
        client_id: CLIENT_ID.to_owned(),
        client_secret: CLIENT_SECRET.to_owned(),
        redirect_uri: format!("{web}/auth/callback"),
    });
    let tree = portal_tree(web_port, &peer.issuer(), "preferred_username");
    let daemon = start_daemon(&tree, web_port);
    let out_dir = root().join("target/test-artefacts");
    std::fs::create_dir_all(&out_dir).expect("artefact folder");
    let png = out_dir.join("reviewer-page-signed-in.png");
    let _ = std::fs::remove_file(&png);
    let seen = tokio::task::spawn_blocking({
        let png = png.clone();
        move || peer.browser_sign_in(&format!("{web}/"), "alice", &png)
    })
    .await
    .expect("the browser ran");
    assert_eq!(
        seen["url"],
        format!("http://127.0.0.1:{web_port}/"),
        "{}",
        daemon.log()
    );
    let text = seen["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("Signed in as Alice Nguyen (directory id u-alice)"),
        "{text}"
    );
    assert_eq!(
        seen["cookie"],
        json!({"httpOnly": true, "sameSite": "Lax", "path": "/"})
    );
    let bytes = std::fs::read(&png).expect("the screenshot");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
}

/// A provider stand-in on loopback: discovery, its keys, and a token endpoint that answers
/// with whatever ID token the test set, recording each token request.
struct FakeProvider {
    issuer: String,
    key: EcdsaKeyPair,
    next: Arc<Mutex<String>>,
    requests: Arc<Mutex<Vec<BTreeMap<String, String>>>>,
}

fn key_pair() -> EcdsaKeyPair {
    let rng = SystemRandom::new();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("a key");
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).expect("a key")
}

fn sign(key: &EcdsaKeyPair, header: &Value, claims: &Value) -> String {
    let signed = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let sig = key
        .sign(&SystemRandom::new(), signed.as_bytes())
        .expect("signs");
    format!("{signed}.{}", B64.encode(sig.as_ref()))
}

fn json_body(value: &Value) -> ([(&'static str, &'static str); 1], String) {
    ([("content-type", "application/json")], value.to_string())
}

impl FakeProvider {
    async fn start() -> FakeProvider {
        use axum::routing::{get, post};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr: SocketAddr = listener.local_addr().expect("its address");
        let issuer = format!("http://{addr}");
        let key = key_pair();
        let point = key.public_key().as_ref().to_vec();
        let jwks = json!({"keys": [{
            "kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256",
            "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65]),
        }]});
        let discovery = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
        });
        let next = Arc::new(Mutex::new(String::new()));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || {
                    let discovery = discovery.clone();
                    async move { json_body(&discovery) }
                }),
            )
            .route(
                "/jwks",
                get(move || {
                    let jwks = jwks.clone();
                    async move { json_body(&jwks) }
                }),
            )
            .route(
                "/token",
                post({
                    let next = next.clone();
                    let requests = requests.clone();
                    move |body: String| {
                        let next = next.clone();
                        let requests = requests.clone();
                        async move {
                        let form: BTreeMap<String, String> =
                            serde_urlencoded::from_str(&body).expect("a form");
                        requests.lock().expect("lock").push(form);
                        let token = next.lock().expect("lock").clone();
                        json_body(&json!({"id_token": token, "token_type": "Bearer", "access_token": "at"}))
                        }
                    }
                }),
            );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeProvider {
            issuer,
            key,
            next,
            requests,
        }
    }

    fn claims(&self, nonce: &str, upn: &str) -> Value {
        let now = jiff::Timestamp::now().as_second();
        json!({"iss": self.issuer, "aud": CLIENT_ID, "sub": "s-1", "iat": now,
               "exp": now + 300, "nonce": nonce, "preferred_username": upn})
    }
}

/// Starts a sign-in on the page; the authorization request's query.
async fn begin(browser: &mut Browser, web: &str) -> BTreeMap<String, String> {
    let answer = browser.get(&format!("{web}/auth/login")).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    assert_security_headers(&answer, "/auth/login");
    let cookie = answer.set_cookies().join("\n");
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && cookie.contains("Path=/auth"),
        "{cookie}"
    );
    query(&answer.location())
}

/// A page whose provider is the stand-in; the session claim is `preferred_username`.
async fn with_fake_provider() -> (FakeProvider, Tree, Daemon, String) {
    let provider = FakeProvider::start().await;
    let web_port = free_port();
    let tree = portal_tree(web_port, &provider.issuer, "preferred_username");
    let daemon = start_daemon(&tree, web_port);
    (
        provider,
        tree,
        daemon,
        format!("http://127.0.0.1:{web_port}"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_id_tokens_are_refused_and_only_the_genuine_one_signs_in() {
    let (provider, _tree, daemon, web) = with_fake_provider().await;
    let other_key = key_pair();
    let header = json!({"alg": "ES256", "kid": "k1"});
    type Forge = Box<dyn Fn(&FakeProvider, &str) -> String>;
    let unsigned = |p: &FakeProvider, nonce: &str| {
        format!(
            "{}.{}.",
            B64.encode(json!({"alg": "none"}).to_string()),
            B64.encode(p.claims(nonce, "alice@corp.example").to_string())
        )
    };
    let hmac = |p: &FakeProvider, nonce: &str| {
        // Signed with the client secret, which anyone holding it could do.
        let signed = format!(
            "{}.{}",
            B64.encode(json!({"alg": "HS256", "kid": "k1"}).to_string()),
            B64.encode(p.claims(nonce, "alice@corp.example").to_string())
        );
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, CLIENT_SECRET.as_bytes());
        let tag = ring::hmac::sign(&key, signed.as_bytes());
        format!("{signed}.{}", B64.encode(tag.as_ref()))
    };
    let with = |change: fn(&mut Value)| -> Forge {
        let header = header.clone();
        Box::new(move |p: &FakeProvider, nonce: &str| {
            let mut claims = p.claims(nonce, "alice@corp.example");
            change(&mut claims);
            sign(&p.key, &header, &claims)
        })
    };
    let cases: Vec<(&str, Forge, &str)> = vec![
        (
            "another issuer",
            with(|c| c["iss"] = json!("http://127.0.0.1:1")),
            "issued by",
        ),
        (
            "another audience",
            with(|c| c["aud"] = json!("someone-else")),
            "not for this client",
        ),
        (
            "several audiences, no azp",
            with(|c| c["aud"] = json!([CLIENT_ID, "other"])),
            "not for this client",
        ),
        (
            "an expired token",
            with(|c| c["exp"] = json!(1_000_000_000)),
            "expired",
        ),
        (
            "another sign-in's nonce",
            with(|c| c["nonce"] = json!("stolen")),
            "nonce",
        ),
        ("alg none", Box::new(unsigned), "algorithm `none`"),
        (
            "HS256 with the client secret",
            Box::new(hmac),
            "algorithm `HS256`",
        ),
        (
            "another key under the provider's key id",
            Box::new(move |p: &FakeProvider, nonce: &str| {
                sign(
                    &other_key,
                    &json!({"alg": "ES256", "kid": "k1"}),
                    &p.claims(nonce, "alice@corp.example"),
                )
            }),
            "signature does not verify",
        ),
    ];
    for (what, forge, logged) in &cases {
        let mut browser = Browser::new();
        let authorization = begin(&mut browser, &web).await;
        *provider.next.lock().expect("lock") = forge(&provider, &authorization["nonce"]);
        let answer = browser
            .get(&format!(
                "{web}/auth/callback?code=c1&state={}",
                authorization["state"]
            ))
            .await;
        assert_eq!(answer.status, 403, "{what}: {}", answer.body);
        assert!(
            answer.body.contains("could not be verified"),
            "{what}: {}",
            answer.body
        );
        assert!(!browser.jar.contains_key("recert_session"), "{what}");
        assert_security_headers(&answer, what);
        assert!(
            daemon.log().contains(logged),
            "{what}: the log names why:\n{}",
            daemon.log()
        );
    }

    // The genuine token signs in, so each refusal above was the forgery's doing.
    let mut browser = Browser::new();
    let authorization = begin(&mut browser, &web).await;
    let claims = provider.claims(&authorization["nonce"], "alice@corp.example");
    *provider.next.lock().expect("lock") = sign(&provider.key, &header, &claims);
    let answer = browser
        .get(&format!(
            "{web}/auth/callback?code=c2&state={}",
            authorization["state"]
        ))
        .await;
    assert_eq!(answer.status, 303, "{}\n{}", answer.body, daemon.log());
    assert_eq!(answer.location(), "/");
    let cookies = answer.set_cookies().join("\n");
    assert!(cookies.contains("recert_session="), "{cookies}");
    assert!(
        !cookies.contains("Secure"),
        "plain http on loopback: {cookies}"
    );
    // The exchange sent the PKCE verifier of that challenge, and the secret in the body as
    // the provider asked.
    let request = provider
        .requests
        .lock()
        .expect("lock")
        .last()
        .cloned()
        .expect("a token request");
    use sha2::Digest;
    let challenge = B64.encode(sha2::Sha256::digest(request["code_verifier"].as_bytes()));
    assert_eq!(challenge, authorization["code_challenge"]);
    assert_eq!(authorization["code_challenge_method"], "S256");
    assert_eq!(request["client_secret"], CLIENT_SECRET);
    assert_eq!(request["redirect_uri"], format!("{web}/auth/callback"));
    assert_no_secret(
        &[&daemon.log(), &browser.seen.join("\n")],
        "a page or the log",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_without_this_browsers_sign_in_is_refused() {
    let (provider, _tree, _daemon, web) = with_fake_provider().await;
    let mut browser = Browser::new();
    let authorization = begin(&mut browser, &web).await;
    let claims = provider.claims(&authorization["nonce"], "alice@corp.example");
    *provider.next.lock().expect("lock") = sign(
        &provider.key,
        &json!({"alg": "ES256", "kid": "k1"}),
        &claims,
    );
    // Another state than the one this browser's sign-in holds.
    let answer = browser
        .get(&format!("{web}/auth/callback?code=c&state=forged"))
        .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    // Someone else's answer, replayed in a browser that started no sign-in.
    let mut stranger = Browser::new();
    let answer = stranger
        .get(&format!(
            "{web}/auth/callback?code=c&state={}",
            authorization["state"]
        ))
        .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(!stranger.jar.contains_key("recert_session"));
    assert!(
        provider.requests.lock().expect("lock").is_empty(),
        "no code was exchanged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_address_off_the_page_is_refused() {
    let (_provider, _tree, _daemon, web) = with_fake_provider().await;
    let mut browser = Browser::new();
    for bad in [
        "//evil.example",
        "/%5Cevil.example",
        "%2F%2Fevil.example",
        "/%252F%252Fevil.example",
        "https://evil.example/",
        "https:evil.example",
        "/%09/evil.example",
        "%5C%2Fevil.example",
    ] {
        let answer = browser.get(&format!("{web}/auth/login?return={bad}")).await;
        assert_eq!(answer.status, 400, "{bad}: {}", answer.location());
        assert!(answer.location().is_empty(), "{bad}");
        assert_security_headers(&answer, bad);
    }
    let answer = browser
        .get(&format!("{web}/auth/login?return=/reviews%3Fx%3D1"))
        .await;
    assert_eq!(answer.status, 303);
}

/// A session cookie as the page seals it, with the key the portal was given.
pub(crate) fn seal_session(session: &Value) -> String {
    let body = B64.encode(session.to_string());
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SESSION_KEY.as_bytes());
    let tag = ring::hmac::sign(&key, format!("recert.session.{body}").as_bytes());
    format!("{body}.{}", B64.encode(tag.as_ref()))
}

fn session(exp: i64) -> Value {
    json!({"principal": "u-grace", "upn": "grace@corp.example", "name": "Grace Hopper",
           "sub": "s-9", "iss": "http://127.0.0.1:1", "exp": exp, "csrf": "the-csrf-token"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_need_the_sessions_csrf_token_and_cookies_must_be_genuine_and_current() {
    let (_provider, _tree, daemon, web) = with_fake_provider().await;
    let now = jiff::Timestamp::now().as_second();
    let mut browser = Browser::new();

    // A cookie sealed with the portal's key is honoured (so the refusals below are about
    // what was changed, not about the test's sealing).
    browser
        .jar
        .insert("recert_session".into(), seal_session(&session(now + 600)));
    let page = browser.get(&format!("{web}/")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("u-grace"));
    assert_security_headers(&page, "/");

    let logout = format!("{web}/auth/logout");
    for (what, form) in [
        ("no token", vec![]),
        ("another token", vec![("csrf", "not-the-token")]),
        ("an empty token", vec![("csrf", "")]),
    ] {
        let answer = browser.post(&logout, &form).await;
        assert_eq!(answer.status, 403, "{what}: {}", answer.body);
        assert_security_headers(&answer, what);
        assert!(
            browser.jar.contains_key("recert_session"),
            "{what}: still signed in"
        );
    }
    // The right token from another site's page.
    let request = browser
        .client
        .post(&logout)
        .header("origin", "https://evil.example")
        .form(&[("csrf", "the-csrf-token")]);
    assert_eq!(browser.send(request).await.status, 403);

    // Tampered: another user's id under the signature of Grace's cookie.
    let genuine = seal_session(&session(now + 600));
    let (_, tag) = genuine.split_once('.').expect("two parts");
    let mut mallory = session(now + 600);
    mallory["principal"] = json!("u-mallory");
    let tampered = format!("{}.{tag}", B64.encode(mallory.to_string()));
    // Expired, though genuinely sealed.
    let expired = seal_session(&session(now - 1));
    for (what, cookie) in [("tampered", tampered), ("expired", expired)] {
        let mut browser = Browser::new();
        browser.jar.insert("recert_session".into(), cookie);
        let answer = browser.get(&format!("{web}/")).await;
        assert_eq!(answer.status, 303, "{what}: {}", answer.body);
        assert_eq!(answer.location(), "/auth/login?return=/", "{what}");
        let answer = browser.post(&logout, &[("csrf", "the-csrf-token")]).await;
        assert_eq!(answer.status, 403, "{what}");
    }

    let answer = browser.post(&logout, &[("csrf", "the-csrf-token")]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let cleared = answer.set_cookies().join("\n");
    assert!(
        cleared.contains("recert_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    for path in ["/nope", "/static/recert.css"] {
        let answer = browser.get(&format!("{web}{path}")).await;
        assert_security_headers(&answer, path);
    }
    assert_no_secret(
        &[&daemon.log(), &browser.seen.join("\n")],
        "a page or the log",
    );
}

#[test]
fn the_page_does_not_start_without_exactly_one_usable_portal() {
    let run = |tree: &Tree| {
        tree.recert(&[
            "run",
            "m",
            "--state-dir",
            "state",
            "--web-listen",
            "127.0.0.1:0",
        ])
    };
    // No portal among the manifests.
    let tree = portal_tree(1, "http://127.0.0.1:1", "oid");
    std::fs::remove_file(tree.path().join("m/portal.yaml")).expect("remove the portal");
    let out = run(&tree);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("--web-listen needs a ReviewerPortal among the manifests"),
        "{}",
        out.stderr
    );

    // Its client secret cannot be read: the message says where it was looked for.
    let tree = portal_tree(1, "http://127.0.0.1:1", "oid");
    std::fs::remove_file(tree.path().join("secrets/client-secret")).expect("remove the secret");
    let out = run(&tree);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("ReviewerPortal `reviews`: oidc.clientSecret: cannot read secret file"),
        "{}",
        out.stderr
    );

    // A session key too short to sign with.
    let tree = portal_tree(1, "http://127.0.0.1:1", "oid");
    tree.write("secrets/session-key", "short");
    let out = run(&tree);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("at least 32 characters"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(CLIENT_SECRET), "{}", out.stderr);
}

//! A Microsoft Graph v1.0-compatible server on 127.0.0.1 for tests and benchmarks: an
//! in-memory tenant, the identity platform's token endpoint, the endpoints the Graph directory
//! calls, JSON batching, and faults switched on per test (rate limit, 5xx bursts, slow answers,
//! dropped connections, tokens that expire early). It follows the published contract in
//! `tests/contracts/graph/`, and it counts what it was asked.

pub mod routes;
pub mod tenant;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

pub use routes::{Op, Reply};
#[allow(unused_imports, reason = "the benchmark seeds no groups")]
pub use tenant::{Contact, Group, Kind, ServicePrincipal, Tenant, User};

/// A fault the server plays on the next requests to Graph endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and a Graph error body.
    Status(u16),
    /// Close the connection without answering.
    Drop,
    /// Answer with this status and a Graph error whose message quotes the request: its
    /// `Authorization` header, the bare token, and its body (a server that echoes its input).
    Echo(u16),
}

/// How the token endpoint echoes a request it is told to refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenEcho {
    /// An OAuth error whose `error_description` quotes the form (secret included) and a token.
    Description,
    /// A body that is not a token response at all: the form and a token, as plain text.
    Raw,
}

/// The access token an echoing token endpoint quotes as if it had issued it.
pub const ECHOED_TOKEN: &str = "issued-tok-4242";

/// What the server was asked, by kind. Only requests that reached an endpoint count in
/// `lists`, `gets`, `batches` and `writes` (top-level requests) and `batch_items` (the requests
/// inside batches); faults count apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub tokens: u64,
    pub lists: u64,
    pub gets: u64,
    pub batches: u64,
    pub batch_items: u64,
    pub writes: u64,
    /// Answered 429 by the rate limit (whole requests and batch items).
    pub throttled: u64,
    /// Answered by an injected 5xx or dropped.
    pub injected: u64,
    /// Answered 401 for a bad or expired token.
    pub unauthorized: u64,
    /// Requests per endpoint (`GET roleManagement/directory/roleAssignmentScheduleInstances`…).
    pub by_endpoint: BTreeMap<String, u64>,
}

#[derive(Debug)]
struct Bucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// Takes a token, or says how long until one is there.
    fn take(&mut self) -> Result<(), Duration> {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate)
            .min(self.capacity);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

#[derive(Debug, Default)]
struct Faults {
    queue: VecDeque<Fault>,
    bucket: Option<Bucket>,
    delay: Option<Duration>,
    /// Added to every `Retry-After` the rate limit sends (a test asks for a longer wait).
    retry_after_floor: Duration,
    /// Expire every token once this many more requests have been authorised.
    expire_after: Option<u64>,
    /// Refuse every token request, quoting it.
    token_echo: Option<TokenEcho>,
}

#[derive(Debug, Default)]
struct Shared {
    tenant: Mutex<Tenant>,
    faults: Mutex<Faults>,
    counts: Mutex<Counts>,
    /// Issued tokens and when each expires.
    tokens: Mutex<HashMap<String, Instant>>,
    addr: Mutex<Option<SocketAddr>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The running server; dropping it stops it.
#[derive(Debug)]
pub struct GraphServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl GraphServer {
    /// Starts a server over `tenant` on its own threads, listening on 127.0.0.1 (any port).
    pub fn start(tenant: Tenant) -> GraphServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("server runtime");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("non-blocking");
        let addr = listener.local_addr().expect("address");
        let shared = Arc::new(Shared {
            tenant: Mutex::new(tenant),
            addr: Mutex::new(Some(addr)),
            ..Shared::default()
        });
        let accept_shared = Arc::clone(&shared);
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = Arc::clone(&accept_shared);
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(Arc::clone(&shared), req));
                    let _ = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        GraphServer {
            addr,
            shared,
            runtime: Some(runtime),
        }
    }

    /// The Graph endpoint (`baseUrl`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1.0", self.addr)
    }

    /// The token authority (`authorityUrl`).
    pub fn authority_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn tenant(&self) -> MutexGuard<'_, Tenant> {
        lock(&self.shared.tenant)
    }

    pub fn counts(&self) -> Counts {
        lock(&self.shared.counts).clone()
    }

    pub fn reset_counts(&self) {
        *lock(&self.shared.counts) = Counts::default();
    }

    /// Plays `fault` on each of the next `n` Graph requests.
    pub fn fail_next(&self, n: usize, fault: Fault) {
        let mut faults = lock(&self.shared.faults);
        faults.queue.extend(std::iter::repeat_n(fault, n));
    }

    /// A token-bucket rate limit: `per_second` requests a second; the bucket holds at most
    /// `burst` tokens and starts with one, so no client gets ahead of the rate by more than
    /// `burst - 1` requests. Each request, and each item of a batch, takes a token; without one
    /// it is answered 429 with the time until the next token as a fractional `Retry-After`.
    pub fn rate_limit(&self, per_second: f64, burst: f64) {
        lock(&self.shared.faults).bucket = Some(Bucket {
            rate: per_second,
            capacity: burst.max(1.0),
            tokens: 1.0,
            last: Instant::now(),
        });
    }

    pub fn no_rate_limit(&self) {
        lock(&self.shared.faults).bucket = None;
    }

    /// Delays every Graph answer.
    pub fn slow(&self, delay: Option<Duration>) {
        lock(&self.shared.faults).delay = delay;
    }

    /// Makes the token endpoint refuse every request and quote it back (or stop, with `None`).
    pub fn echo_token_requests(&self, echo: Option<TokenEcho>) {
        lock(&self.shared.faults).token_echo = echo;
    }

    /// Expires every token issued so far, as a revocation or key roll-over would.
    pub fn expire_tokens(&self) {
        expire_all(&self.shared);
    }

    /// Expires every token issued by then once `n` more requests have been authorised: an
    /// early expiry in the middle of a run of another process.
    pub fn expire_tokens_after(&self, n: u64) {
        lock(&self.shared.faults).expire_after = Some(n);
    }
}

impl Drop for GraphServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Closes the connection without a response (hyper drops a connection whose service fails).
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for DropConnection {}

type HttpResponse = hyper::Response<Full<Bytes>>;

async fn handle(
    shared: Arc<Shared>,
    req: hyper::Request<Incoming>,
) -> Result<HttpResponse, DropConnection> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let auth = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err(DropConnection),
    };
    let addr = lock(&shared.addr).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));

    if method == "POST" && path.ends_with("/oauth2/v2.0/token") {
        lock(&shared.counts).tokens += 1;
        return Ok(respond(token_endpoint(&shared, &path, &body, addr)));
    }
    let Some(rest) = path.strip_prefix("/v1.0/") else {
        return Ok(respond(routes::error(
            404,
            "BadRequest",
            "Unsupported API version.",
        )));
    };

    let (fault, delay) = {
        let mut faults = lock(&shared.faults);
        (faults.queue.pop_front(), faults.delay)
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    match fault {
        Some(Fault::Drop) => {
            lock(&shared.counts).injected += 1;
            return Err(DropConnection);
        }
        Some(Fault::Echo(status)) => {
            lock(&shared.counts).injected += 1;
            let auth = auth.clone().unwrap_or_default();
            let bare = auth.strip_prefix("Bearer ").unwrap_or_default();
            return Ok(respond(routes::error(
                status,
                "BadRequest",
                &format!(
                    "Cannot process {method} {path}: Authorization: {auth}; the token {bare} is not valid here; body {}",
                    String::from_utf8_lossy(&body)
                ),
            )));
        }
        Some(Fault::Status(status)) => {
            lock(&shared.counts).injected += 1;
            return Ok(respond(routes::error(
                status,
                if status == 503 {
                    "serviceNotAvailable"
                } else {
                    "generalException"
                },
                "The service is temporarily unavailable.",
            )));
        }
        None => {}
    }

    if !authorized(&shared, auth.as_deref()) {
        lock(&shared.counts).unauthorized += 1;
        return Ok(respond(routes::error(
            401,
            "InvalidAuthenticationToken",
            "Access token has expired or is not yet valid.",
        )));
    }
    if let Some(reply) = throttle(&shared) {
        return Ok(respond(reply));
    }

    let base = format!("http://{addr}/v1.0");
    let client_id = lock(&shared.tenant).client_id.clone();
    if method == "POST" && rest == "$batch" {
        lock(&shared.counts).batches += 1;
        return Ok(respond(batch(&shared, &body, &base, &client_id)));
    }
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => {
                return Ok(respond(routes::error(
                    400,
                    "BadRequest",
                    "Unable to read JSON request payload.",
                )));
            }
        }
    };
    let reply = dispatch(
        &shared,
        (&method, rest, &query),
        body,
        &base,
        &client_id,
        false,
    );
    Ok(respond(reply))
}

/// Routes one request (top-level or a batch item) and counts it.
fn dispatch(
    shared: &Shared,
    (method, path, query): (&str, &str, &str),
    body: Value,
    base: &str,
    client_id: &str,
    in_batch: bool,
) -> Reply {
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode)
        .collect();
    let query: Vec<(String, String)> = parse_query(query);
    let request = routes::Request {
        method,
        segments,
        query,
        body,
        base,
        client_id,
    };
    let (reply, op) = {
        let mut tenant = lock(&shared.tenant);
        routes::route(&mut tenant, &request)
    };
    let mut counts = lock(&shared.counts);
    if in_batch {
        counts.batch_items += 1;
    } else {
        match op {
            Op::List => counts.lists += 1,
            Op::Get => counts.gets += 1,
            Op::Write => counts.writes += 1,
        }
    }
    // The endpoint without the object ids: `GET users/{id}`, `DELETE groups/{id}/members/{id}/$ref`.
    let directory_object = matches!(
        request.segments.first().map(String::as_str),
        Some("users" | "groups")
    );
    let template: Vec<&str> = request
        .segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if (directory_object && i == 1) || (i == 3 && s != "$ref") {
                "{id}"
            } else {
                s.as_str()
            }
        })
        .collect();
    let endpoint = format!("{method} {}", template.join("/"));
    *counts.by_endpoint.entry(endpoint).or_default() += 1;
    reply
}

fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(&k.replace('+', " ")), decode(&v.replace('+', " ")))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn expire_all(shared: &Shared) {
    let now = Instant::now();
    for expiry in lock(&shared.tokens).values_mut() {
        *expiry = now;
    }
}

fn authorized(shared: &Shared, header: Option<&str>) -> bool {
    let Some(token) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
        return false;
    };
    let valid = lock(&shared.tokens)
        .get(token)
        .is_some_and(|expiry| Instant::now() < *expiry);
    if valid {
        let mut faults = lock(&shared.faults);
        if let Some(n) = faults.expire_after.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                faults.expire_after = None;
                drop(faults);
                expire_all(shared);
            }
        }
    }
    valid
}

/// The rate limit's answer, if the request is over it.
fn throttle(shared: &Shared) -> Option<Reply> {
    let mut faults = lock(&shared.faults);
    let floor = faults.retry_after_floor;
    let wait = faults.bucket.as_mut()?.take().err()?;
    drop(faults);
    lock(&shared.counts).throttled += 1;
    Some(throttled(wait + floor))
}

/// 429 as `throttling.429.json` shows it, with a fractional `Retry-After`.
fn throttled(wait: Duration) -> Reply {
    let mut reply = Reply::json(
        429,
        json!({
            "error": {
                "code": "TooManyRequests",
                "innerError": {
                    "code": "429",
                    "date": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S").to_string(),
                    "message": "Please retry after",
                    "request-id": "94fb3b52-452a-4535-a601-69e0a90e3aa2",
                    "status": "429"
                },
                "message": "Please retry again later."
            }
        }),
    );
    reply.headers.push((
        "Retry-After".to_owned(),
        format!("{:.3}", wait.as_secs_f64().max(0.001)),
    ));
    reply
}

fn batch(shared: &Shared, body: &[u8], base: &str, client_id: &str) -> Reply {
    let Ok(parsed) = serde_json::from_slice::<Value>(body) else {
        return routes::error(400, "BadRequest", "Unable to read JSON request payload.");
    };
    let Some(requests) = parsed.get("requests").and_then(Value::as_array) else {
        return routes::error(400, "BadRequest", "The batch has no requests.");
    };
    if requests.len() > 20 {
        return routes::error(
            400,
            "BadRequest",
            "Number of requests in the batch exceeds 20.",
        );
    }
    let mut ids = std::collections::BTreeSet::new();
    for r in requests {
        let id = r
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_lowercase();
        if id.is_empty() || !ids.insert(id) {
            return routes::error(400, "BadRequest", "Batch request ids must be unique.");
        }
    }
    let mut statuses: HashMap<String, u16> = HashMap::new();
    let mut responses = Vec::with_capacity(requests.len());
    for r in requests {
        let id = r.get("id").and_then(Value::as_str).unwrap_or("").to_owned();
        let method = r
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("GET")
            .to_uppercase();
        let url = r.get("url").and_then(Value::as_str).unwrap_or("");
        let failed_dependency = r
            .get("dependsOn")
            .and_then(Value::as_array)
            .is_some_and(|d| {
                d.iter()
                    .filter_map(Value::as_str)
                    .any(|dep| !statuses.get(dep).is_some_and(|s| (200..300).contains(s)))
            });
        let reply = if failed_dependency {
            routes::error(
                424,
                "FailedDependency",
                "A request this one depends on failed.",
            )
        } else if let Some(reply) = throttle(shared) {
            reply
        } else {
            let (path, query) = url.split_once('?').unwrap_or((url, ""));
            // Item URLs are relative to the version root, with or without the leading slash
            // (the docs' examples carry both forms).
            let path = path.trim_start_matches('/');
            let path = path
                .strip_prefix("v1.0/")
                .or_else(|| path.strip_prefix("beta/"))
                .unwrap_or(path);
            dispatch(
                shared,
                (&method, path, query),
                r.get("body").cloned().unwrap_or(Value::Null),
                base,
                client_id,
                true,
            )
        };
        statuses.insert(id.clone(), reply.status);
        let headers: serde_json::Map<String, Value> =
            std::iter::once(("Content-Type".to_owned(), json!("application/json")))
                .chain(reply.headers.iter().map(|(k, v)| (k.clone(), json!(v))))
                .collect();
        let mut item = json!({"id": id, "status": reply.status, "headers": headers});
        if let Some(body) = reply.body {
            item["body"] = body;
        }
        responses.push(item);
    }
    Reply::json(200, json!({ "responses": responses }))
}

fn token_endpoint(shared: &Shared, path: &str, body: &[u8], addr: SocketAddr) -> Reply {
    let form: HashMap<String, String> = parse_query(&String::from_utf8_lossy(body))
        .into_iter()
        .collect();
    let tenant = lock(&shared.tenant).clone();
    let echo = lock(&shared.faults).token_echo;
    let quoted = format!(
        "cannot use the request {} ({{\"access_token\":\"{ECHOED_TOKEN}\"}})",
        String::from_utf8_lossy(body)
    );
    match echo {
        Some(TokenEcho::Description) => {
            return Reply::json(
                400,
                json!({"error": "invalid_request", "error_description": format!("AADSTS900144: {quoted}")}),
            );
        }
        Some(TokenEcho::Raw) => return Reply::json(400, Value::String(quoted)),
        None => {}
    }
    let refuse = |code: &str, description: &str| {
        Reply::json(
            if code == "invalid_client" { 401 } else { 400 },
            json!({"error": code, "error_description": description, "error_codes": [7000215], "trace_id": "0f4e7a4c", "correlation_id": "5b8c1e9a"}),
        )
    };
    if path.trim_matches('/').split('/').next() != Some(tenant.tenant_id.as_str()) {
        return refuse("invalid_request", "AADSTS90002: Tenant not found.");
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return refuse(
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type.",
        );
    }
    if form.get("client_id") != Some(&tenant.client_id) {
        return refuse(
            "unauthorized_client",
            "AADSTS700016: Application not found in the directory.",
        );
    }
    if form.get("scope") != Some(&format!("http://{addr}/.default")) {
        return refuse(
            "invalid_scope",
            "AADSTS70011: The provided value for the input parameter 'scope' is not valid.",
        );
    }
    let token_url = format!("http://{addr}{path}");
    let ok = match (form.get("client_secret"), form.get("client_assertion")) {
        (Some(secret), None) => secret == &tenant.client_secret,
        (None, Some(assertion)) => {
            form.get("client_assertion_type").map(String::as_str)
                == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                && tenant.certificate.as_ref().is_some_and(|(key, x5t)| {
                    verify_assertion(assertion, key, x5t, &tenant.client_id, &token_url)
                })
        }
        _ => false,
    };
    if !ok {
        return refuse(
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
        );
    }
    let mut tokens = lock(&shared.tokens);
    let token = format!("test-token-{}", tokens.len() + 1);
    tokens.insert(
        token.clone(),
        Instant::now() + Duration::from_secs(tenant.token_lifetime_secs),
    );
    Reply::json(
        200,
        json!({"token_type": "Bearer", "expires_in": tenant.token_lifetime_secs, "ext_expires_in": tenant.token_lifetime_secs, "access_token": token}),
    )
}

/// Checks a client assertion: RS256 over header and claims with the certificate's key, the
/// certificate named by `x5t#S256`, audience, issuer, subject and lifetime.
fn verify_assertion(assertion: &str, key: &[u8], x5t: &str, client_id: &str, aud: &str) -> bool {
    let mut parts = assertion.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let decode = |p: &str| URL_SAFE_NO_PAD.decode(p).ok();
    let (Some(header), Some(claims), Some(signature)) = (decode(h), decode(c), decode(s)) else {
        return false;
    };
    let (Ok(header), Ok(claims)) = (
        serde_json::from_slice::<Value>(&header),
        serde_json::from_slice::<Value>(&claims),
    ) else {
        return false;
    };
    let public =
        ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, key);
    let now = jiff::Timestamp::now().as_second();
    header["alg"] == "RS256"
        && header["x5t#S256"] == x5t
        && claims["aud"] == aud
        && claims["iss"] == client_id
        && claims["sub"] == client_id
        && claims["exp"].as_i64().is_some_and(|exp| exp > now)
        && public
            .verify(format!("{h}.{c}").as_bytes(), &signature)
            .is_ok()
}

fn respond(reply: Reply) -> HttpResponse {
    let mut builder = hyper::Response::builder().status(reply.status);
    for (k, v) in &reply.headers {
        builder = builder.header(k, v);
    }
    let body = match reply.body {
        Some(body) => {
            builder = builder.header("Content-Type", "application/json");
            Bytes::from(body.to_string())
        }
        None => Bytes::new(),
    };
    builder
        .body(Full::new(body))
        .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::from_static(b"bad response"))))
}

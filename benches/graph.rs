//! Graph directory benchmark, against the Graph-compatible test server on loopback.
//!
//! ```text
//! cargo bench --bench graph                      # 100,000 assignments, 10,000 removals at 100/s
//! cargo bench --bench graph -- --quick           # 10,000 assignments, 1,000 removals at 100/s
//! cargo bench --bench graph -- [--assignments N] [--removals N] [--rate R] [--burst B]
//! ```
//!
//! Reports, in process, through the real `GraphDirectory` and the engine's `observe`:
//!
//! - a full read of one role held by N principals (N/2 active, N/2 eligible): the requests it
//!   took (pages of instances, batches of look-ups) and its wall time;
//! - N removals, one after another as the engine applies them, under a server rate limit of
//!   R requests a second (a token bucket starting with one token and holding at most B,
//!   default 1: no burst), against the floor N/R seconds;
//! - N more removals with as many in flight as the directory allows (`maxConcurrentRequests`,
//!   4), which is what the directory itself sustains when its caller does not wait for each
//!   (each worker retries a throttling error until it gets through).

#![allow(
    clippy::print_stdout,
    reason = "a benchmark reports on standard output"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser as _;
use recert::directory::graph::token::Credential;
use recert::directory::graph::{GraphConfig, GraphDirectory};
use recert::directory::http::RetryPolicy;
use recert::directory::secret::Secret;
use recert::directory::{Directory, Error, Removal, RemoveOutcome, observe};
use recert::model::directory_data::AssignmentType;
use recert::model::review::Scope;
use recert_testkit::bench;
use recert_testkit::graph_server::{GraphServer, Kind, Tenant, User};

/// Graph directory benchmark, against the Graph-compatible test server on loopback.
#[derive(Debug, clap::Parser)]
#[command(bin_name = "cargo bench --bench graph --")]
struct Args {
    /// A tenth of the default size: 10,000 assignments, 1,000 removals
    #[arg(long)]
    quick: bool,
    /// Assignments read [default: 100,000; 10,000 with --quick]
    #[arg(long, value_name = "N")]
    assignments: Option<usize>,
    /// Removals per run [default: 10,000; 1,000 with --quick]
    #[arg(long, value_name = "N")]
    removals: Option<usize>,
    /// Requests a second the server allows
    #[arg(long, default_value_t = 100.0, value_name = "R")]
    rate: f64,
    /// Tokens the server's rate-limit bucket holds
    #[arg(long, default_value_t = 1.0, value_name = "B")]
    burst: f64,
    #[command(flatten)]
    _cargo: bench::Cargo,
}

const ROLE: &str = "62e90394-69f5-4237-9190-012177145e10";

fn tenant(assignments: usize) -> Tenant {
    let mut t = Tenant::new();
    t.role(ROLE, "Global Administrator");
    for i in 0..assignments {
        let id = format!("u-{i:07}");
        t.user(User {
            id: id.clone(),
            upn: format!("user{i}@contoso.example"),
            display_name: format!("User {i}"),
            enabled: i % 17 != 0,
            on_premises: i % 5 == 0,
            last_sign_in: Some(format!(
                "2026-{:02}-{:02}T08:00:00Z",
                1 + i % 11,
                1 + i % 28
            )),
            manager: (i > 0).then(|| format!("u-{:07}", i / 10)),
            user_type: Some(if i % 23 == 0 { "Guest" } else { "Member" }),
        });
        let kind = if i % 2 == 0 {
            Kind::Active
        } else {
            Kind::Eligible
        };
        t.assign(&format!("a-{i:07}"), &id, ROLE, kind);
    }
    t
}

fn directory(server: &GraphServer) -> GraphDirectory {
    let (tenant_id, client_id, secret) = {
        let t = server.tenant();
        (
            t.tenant_id.clone(),
            t.client_id.clone(),
            t.client_secret.clone(),
        )
    };
    GraphDirectory::new(GraphConfig {
        tenant_id,
        client_id,
        credential: Credential::Secret(Secret::new(secret)),
        authority_url: server.authority_url(),
        base_url: server.base_url(),
        max_concurrent: 4,
        timeout: Duration::from_secs(30),
        retry: RetryPolicy::default(),
    })
    .expect("directory")
}

/// A removal tried `attempts` times, waiting what a throttling error asks. The engine itself
/// calls `remove` once (through `remove_many`) and relies on the HTTP layer's retry policy
/// alone; the concurrent case below retries on top of it only to finish every removal while
/// four workers race for one token bucket.
async fn remove_retrying(dir: &GraphDirectory, removal: &Removal, attempts: u32) -> RemoveOutcome {
    let mut attempt = 0;
    loop {
        match dir.remove(removal).await {
            Ok(outcome) => return outcome,
            Err(e) if e.is_retryable() && attempt + 1 < attempts => {
                let wait = match e {
                    Error::Throttled { retry_after_ms } => Duration::from_millis(retry_after_ms),
                    _ => Duration::from_millis(200 << attempt),
                };
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(e) => panic!("removal failed: {e}"),
        }
    }
}

fn main() {
    let args = Args::parse();
    let scale = if args.quick { 10 } else { 1 };
    let assignments = args.assignments.unwrap_or(100_000 / scale);
    let removals = args.removals.unwrap_or(10_000 / scale);
    let (rate, burst) = (args.rate, args.burst);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    println!("Graph directory benchmark (test server on 127.0.0.1)");
    // Twice `removals` active assignments are needed: one set per removal run.
    let server = GraphServer::start(tenant(assignments.max(removals * 4)));
    let page = server.tenant().instance_page;
    let dir = directory(&server);
    let scope: Scope =
        serde_json::from_value(serde_json::json!({"role": {"id": ROLE}})).expect("scope");

    let started = Instant::now();
    let observed = rt.block_on(observe(&dir, &scope)).expect("full read");
    let read = started.elapsed();
    let counts = server.counts();
    let requests = counts.lists + counts.gets + counts.batches + counts.tokens;
    assert_eq!(observed.items.len(), assignments.max(removals * 4));
    println!(
        "full read: {} assignments ({} active, {} eligible; instance pages of {page}) in {:.2} s",
        observed.items.len(),
        observed.items.len().div_ceil(2),
        observed.items.len() / 2,
        read.as_secs_f64()
    );
    println!(
        "  requests: {requests} ({} list pages, {} batches carrying {} look-ups, {} token) = {:.0} requests/s, {:.0} assignments/s",
        counts.lists,
        counts.batches,
        counts.batch_items,
        counts.tokens,
        requests as f64 / read.as_secs_f64(),
        observed.items.len() as f64 / read.as_secs_f64()
    );

    // Removals: the first `removals` active assignments, one after another; then the next
    // `removals`, four in flight.
    let target = |k: usize| {
        let i = 2 * k;
        Removal::Assignment {
            id: format!("a-{i:07}"),
            kind: AssignmentType::Active,
            principal: format!("u-{i:07}"),
            role: ROLE.to_owned(),
            scope: "/".to_owned(),
        }
    };
    let floor = removals as f64 / rate;
    server.reset_counts();
    server.rate_limit(rate, burst);
    let started = Instant::now();
    rt.block_on(async {
        for k in 0..removals {
            let removal = target(k);
            let outcome = remove_retrying(&dir, &removal, 1).await;
            assert_eq!(outcome, RemoveOutcome::Removed, "{removal}");
        }
    });
    let took = started.elapsed().as_secs_f64();
    let counts = server.counts();
    assert_eq!(server.tenant().removed.len(), removals, "each removal once");
    println!(
        "removals, one at a time (as the engine applies): {removals} under a rate limit of {rate} requests/s (bucket of {burst}) in {took:.2} s; floor {floor:.2} s; ratio {:.3} (goal <= 1.2)",
        took / floor
    );
    println!(
        "  requests: {} writes accepted, {} answered 429 with Retry-After",
        counts.writes, counts.throttled
    );

    server.reset_counts();
    server.rate_limit(rate, burst);
    let dir = Arc::new(dir);
    let next = Arc::new(AtomicUsize::new(removals));
    let started = Instant::now();
    rt.block_on(async {
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..4 {
            let dir = Arc::clone(&dir);
            let next = Arc::clone(&next);
            workers.spawn(async move {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= 2 * removals {
                        return;
                    }
                    let removal = target(k);
                    // Four workers race for each token; one that loses six times in a row
                    // gets a throttling error and, here, simply tries again.
                    let outcome = remove_retrying(&dir, &removal, 1_000).await;
                    assert_eq!(outcome, RemoveOutcome::Removed, "{removal}");
                }
            });
        }
        while let Some(done) = workers.join_next().await {
            done.expect("worker");
        }
    });
    let took = started.elapsed().as_secs_f64();
    let counts = server.counts();
    assert_eq!(
        server.tenant().removed.len(),
        2 * removals,
        "each removal once"
    );
    println!(
        "removals, four in flight: {removals} under a rate limit of {rate} requests/s (bucket of {burst}) in {took:.2} s; floor {floor:.2} s; ratio {:.3} (goal <= 1.2)",
        took / floor
    );
    println!(
        "  requests: {} writes accepted, {} answered 429 with Retry-After",
        counts.writes, counts.throttled
    );
}

//! Reviewer page benchmark: many reviewers deciding at once.
//!
//! ```text
//! cargo bench --bench decide -- [--reviewers 100] [--decisions 20] [--runs 3]
//! ```
//!
//! Generates an embedded directory where each of `--reviewers` managers has `--decisions`
//! reports holding a role, a manager review of that role starting now, and a
//! `ReviewerPortal`; starts the real `recert run --web-listen` on them and waits for the
//! instance. Then every manager, signed in (a session cookie sealed with the portal's
//! `sessionKey`, as the page seals it after an OpenID sign-in), posts one decision per report,
//! one after the other, all managers at once. Each POST is timed from send to the page's
//! answer (it answers once the decision is fsynced). Last it waits until the review's state
//! holds every decision, and fails if one is missing.

#![allow(
    clippy::print_stdout,
    reason = "a benchmark reports on standard output"
)]

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser as _;
use recert::web::session::{Purpose, Session, Signer};
use recert_testkit::bench;

#[derive(Debug, clap::Parser)]
#[command(bin_name = "cargo bench --bench decide --")]
struct Args {
    /// Reviewers deciding at once
    #[arg(long, default_value_t = 100, value_name = "N")]
    reviewers: usize,
    /// Decisions each reviewer posts, one after the other
    #[arg(long, default_value_t = 20, value_name = "N")]
    decisions: usize,
    /// Measured runs (fresh daemon and state each)
    #[arg(long, default_value_t = 3, value_name = "N")]
    runs: usize,
    #[command(flatten)]
    work: bench::WorkDir,
    #[command(flatten)]
    _cargo: bench::Cargo,
}

const KEY: &str = "bench-session-key-0123456789abcdef0123456789";
const ISSUER: &str = "http://127.0.0.1:9";

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("a folder");
    std::fs::write(path, text).expect("written");
}

fn tree(root: &Path, reviewers: usize, decisions: usize, port: u16, today: &str) {
    let mut data = String::from(
        "apiVersion: recert.dev/v1alpha1\nkind: DirectoryData\nmetadata: {name: corp}\nspec:\n  users:\n",
    );
    for m in 0..reviewers {
        let _ = writeln!(
            data,
            "    - {{id: m-{m}, userPrincipalName: m{m}@corp.example, displayName: Manager {m}}}"
        );
    }
    for u in 0..reviewers * decisions {
        let _ = writeln!(
            data,
            "    - {{id: u-{u}, userPrincipalName: u{u}@corp.example, displayName: User {u}, manager: m-{}, lastSignIn: 2026-11-20T00:00:00Z}}",
            u / decisions
        );
    }
    data.push_str("  roles:\n    - {id: r-0, displayName: Admin}\n  assignments:\n");
    for u in 0..reviewers * decisions {
        let _ = writeln!(
            data,
            "    - {{id: a-{u}, principal: u-{u}, role: r-0, type: active}}"
        );
    }
    let m = root.join("m");
    write(&m.join("data.yaml"), &data);
    write(
        &m.join("directory.yaml"),
        "apiVersion: recert.dev/v1alpha1\nkind: Directory\nmetadata: {name: corp}\nspec:\n  type: file\n  file: {path: data.yaml}\n",
    );
    write(
        &m.join("review.yaml"),
        &format!(
            "apiVersion: recert.dev/v1alpha1\nkind: AccessReview\nmetadata: {{name: admins}}\nspec:\n  directory: corp\n  displayName: Admins\n  scope:\n    role: {{id: r-0}}\n  reviewers:\n    type: manager\n  schedule:\n    start: {today}\n    durationDays: 14\n    recurrence: once\n"
        ),
    );
    write(
        &m.join("portal.yaml"),
        &format!(
            "apiVersion: recert.dev/v1alpha1\nkind: ReviewerPortal\nmetadata: {{name: reviews}}\nspec:\n  externalUrl: http://127.0.0.1:{port}\n  directory: corp\n  oidc:\n    issuer: {ISSUER}\n    clientId: recert\n    clientSecret: {{file: ../secrets/client}}\n    principalClaim: preferred_username\n  sessionKey: {{file: ../secrets/key}}\n"
        ),
    );
    write(&root.join("secrets/client"), "bench-client-secret");
    write(&root.join("secrets/key"), KEY);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Items of the instance in `state.json`, and how many have a decision.
fn decided(state: &Path) -> Option<(usize, usize)> {
    let text = std::fs::read(state).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&text).ok()?;
    let items = value["state"]["instances"].as_array()?.last()?["items"].as_object()?;
    Some((
        items.len(),
        items.values().filter(|i| !i["decision"].is_null()).count(),
    ))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Stop(Child);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

struct Run {
    latencies: Vec<Duration>,
    wall: Duration,
    settled: Duration,
}

async fn run(work: &Path, args: &Args) -> Run {
    let port = free_port();
    let today = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    tree(work, args.reviewers, args.decisions, port, &today);
    let log = std::fs::File::create(work.join("daemon.log")).expect("a log");
    let child = Command::new(env!("CARGO_BIN_EXE_recert"))
        .current_dir(work)
        .args(["run", "m", "--state-dir", "state", "--web-listen"])
        .arg(format!("127.0.0.1:{port}"))
        // Every reviewer holds a connection: more than the default cap of 64.
        .args(["--http-max-connections", &(args.reviewers + 16).to_string()])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("recert run starts");
    let _stop = Stop(child);
    let state = work.join("state/reviews/admins/state.json");
    let total = args.reviewers * args.decisions;
    let deadline = Instant::now() + Duration::from_secs(120);
    while decided(&state).is_none_or(|(items, _)| items < total) {
        assert!(
            Instant::now() < deadline,
            "the instance never started; recert run logged:\n{}",
            std::fs::read_to_string(work.join("daemon.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(args.reviewers)
        .build()
        .expect("a client");
    let signer = Signer::new(Some(KEY.as_bytes()));
    let exp = jiff::Timestamp::now().as_second() + 3600;
    let url = format!("http://127.0.0.1:{port}/reviews/admins/decide");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for m in 0..args.reviewers {
        let cookie = signer.seal(
            Purpose::Session,
            &Session {
                principal: format!("m-{m}"),
                upn: format!("m{m}@corp.example"),
                name: format!("Manager {m}"),
                sub: format!("sub-{m}"),
                iss: ISSUER.to_owned(),
                exp,
                csrf: format!("csrf-{m}"),
            },
        );
        let (client, url, today) = (client.clone(), url.clone(), today.clone());
        let decisions = args.decisions;
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::with_capacity(decisions);
            for d in 0..decisions {
                let principal = format!("u-{}", m * decisions + d);
                let decision = if d % 5 == 0 { "deny" } else { "approve" };
                let form = [
                    ("csrf", format!("csrf-{m}")),
                    ("instance", today.clone()),
                    ("action", "decide".to_owned()),
                    ("decision", decision.to_owned()),
                    ("reason", format!("benchmark decision {d}")),
                    ("principal", principal),
                ];
                let sent = Instant::now();
                let answer = client
                    .post(&url)
                    .header("cookie", format!("recert_session={cookie}"))
                    .form(&form)
                    .send()
                    .await
                    .expect("the page answers");
                let status = answer.status().as_u16();
                let body = answer.text().await.unwrap_or_default();
                times.push(sent.elapsed());
                assert_eq!(status, 303, "a decision was refused: {body}");
            }
            times
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("a reviewer"));
    }
    let wall = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if decided(&state).is_some_and(|(_, d)| d == total) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "decisions lost: the state holds {:?} of {total}; recert run logged:\n{}",
            decided(&state),
            std::fs::read_to_string(work.join("daemon.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let settled = started.elapsed();
    let log = std::fs::read_to_string(work.join("state/reviews/admins/web-decisions.jsonl"))
        .expect("the decision log");
    assert_eq!(log.lines().count(), total, "one line per decision");
    latencies.sort();
    Run {
        latencies,
        wall,
        settled,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    let parent = args.work.create(Path::new(env!("CARGO_TARGET_TMPDIR")));
    println!(
        "decide benchmark: {} reviewers posting {} decisions each at once, {} runs",
        args.reviewers, args.decisions, args.runs
    );
    for r in 0..args.runs {
        let work = parent.path().join(format!("run-{r}"));
        let run = run(&work, &args).await;
        let l = &run.latencies;
        println!(
            "  run {r}: {} POSTs in {:.0} ms ({:.0}/s); latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; every decision in the state {:.0} ms after the first POST",
            l.len(),
            ms(run.wall),
            l.len() as f64 / run.wall.as_secs_f64(),
            ms(percentile(l, 50.0)),
            ms(percentile(l, 99.0)),
            ms(*l.last().expect("latencies")),
            ms(run.settled),
        );
    }
}

//! `recert run` as users run it: the real binary on a temporary tree, driven by file edits,
//! git-sync-style link flips, the clock and signals, observed through the state dir and the
//! HTTP endpoints.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{DATA, DIRECTORY, Tree, recert};

/// A running daemon, killed by PID when the test ends.
pub(crate) struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    pub(crate) fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let log = unique(dir.join("daemon.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_recert"))
            .arg("run")
            .args(args)
            .args(["--log-format", "json", "--debounce", "20ms"])
            .envs(env.iter().copied())
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("recert run starts");
        Daemon { child, log }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the process to exit; its exit code.
    fn wait(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unique(path: PathBuf) -> PathBuf {
    let mut n = 0;
    loop {
        let candidate = path.with_extension(format!("{n}.log"));
        if !candidate.exists() {
            return candidate;
        }
        n += 1;
    }
}

/// Polls until `check` holds; fails the test with `what` (and the daemon's log) otherwise.
/// The bound is a guard against a hang, not a performance claim.
fn eventually(daemon: &Daemon, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!(
        "{what} never happened; the daemon logged:\n{}",
        daemon.log()
    );
}

fn status(state: &Path, review: &str) -> String {
    std::fs::read_to_string(state.join("reviews").join(review).join("status.yaml"))
        .unwrap_or_default()
}

fn rfc3339(offset_seconds: i64) -> String {
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(offset_seconds);
    at.round(jiff::Unit::Second).expect("round").to_string()
}

/// A self-review of the Global Administrators, `ga-self`, from `start` for `days` days, with
/// extra lines under `spec` (already indented).
fn self_review(start: &str, days: u32, extra: &str) -> String {
    format!(
        r#"apiVersion: recert.dev/v1alpha1
kind: AccessReview
metadata:
  name: ga-self
spec:
  directory: corp
  displayName: Global Administrators
  scope:
    role: {{name: Global Administrator}}
  reviewers:
    type: self
  schedule:
    start: "{start}"
    durationDays: {days}
{extra}"#
    )
}

/// `ga-self`, started an hour ago, running 14 days.
fn running_review() -> String {
    self_review(&rfc3339(-3600), 14, "")
}

const ALICE_APPROVES: &str = r#"apiVersion: recert.dev/v1alpha1
kind: ReviewDecisions
metadata:
  name: alice
spec:
  review: ga-self
  reviewer: u-alice
  decisions:
    - principal: u-alice
      decision: approve
      reason: still on call
"#;

fn manifests(tree: &Tree, at: &str) {
    tree.write(&format!("{at}/directory.yaml"), DIRECTORY)
        .write(&format!("{at}/data.yaml"), DATA)
        .write(&format!("{at}/reviews/ga.yaml"), running_review());
}

fn alice_decision(status: &str) -> bool {
    status.contains("decision: approve") && status.contains("reviewer: u-alice")
}

#[test]
fn a_new_decision_file_is_reflected_in_status() {
    let tree = Tree::new();
    manifests(&tree, "m");
    let daemon = Daemon::start(tree.path(), &["m", "--state-dir", "state"], &[]);
    let state = tree.path().join("state");
    eventually(&daemon, "the review starting", || {
        status(&state, "ga-self").contains("phase: InProgress")
    });
    assert!(!alice_decision(&status(&state, "ga-self")));

    tree.write("m/decisions/alice.yaml", ALICE_APPROVES);
    eventually(&daemon, "alice's decision in the status", || {
        alice_decision(&status(&state, "ga-self"))
    });
    // Every log line is JSON, and the lines about a review name it.
    let log = daemon.log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON log line"))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["span"]["review"] == "ga-self" && l["message"] == "reconciled"),
        "{log}"
    );
}

#[test]
fn a_git_sync_flip_is_followed_and_its_commit_recorded() {
    let tree = Tree::new();
    manifests(&tree, "git/.worktrees/aaa111");
    std::os::unix::fs::symlink(".worktrees/aaa111", tree.path().join("git/repo")).expect("link");
    let daemon = Daemon::start(tree.path(), &["git/repo", "--state-dir", "state"], &[]);
    let state = tree.path().join("state");
    eventually(&daemon, "the first revision in the status", || {
        status(&state, "ga-self").contains("aaa111")
    });

    // git-sync: a new worktree, the link replaced atomically, the old worktree deleted.
    manifests(&tree, "git/.worktrees/bbb222");
    tree.write("git/.worktrees/bbb222/decisions/alice.yaml", ALICE_APPROVES);
    std::os::unix::fs::symlink(".worktrees/bbb222", tree.path().join("git/repo.tmp"))
        .expect("link");
    std::fs::rename(
        tree.path().join("git/repo.tmp"),
        tree.path().join("git/repo"),
    )
    .expect("flip");
    std::fs::remove_dir_all(tree.path().join("git/.worktrees/aaa111")).expect("delete old");

    eventually(&daemon, "the new revision and its decision", || {
        let s = status(&state, "ga-self");
        s.contains("bbb222") && alice_decision(&s)
    });
    assert!(!status(&state, "ga-self").contains("aaa111"));
    // Nothing was written into the watched tree.
    let written: Vec<_> = walk(&tree.path().join("git/.worktrees/bbb222"));
    assert_eq!(
        written,
        [
            "data.yaml",
            "decisions/alice.yaml",
            "directory.yaml",
            "reviews/ga.yaml"
        ]
    );
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(
                    path.strip_prefix(dir)
                        .expect("inside")
                        .display()
                        .to_string(),
                );
            }
        }
    }
    out.sort();
    out
}

/// The daemon in this process on tokio's paused clock: a day of schedule passes in no real
/// time, and nothing but the review's end (no file event, no resync, no poll) can complete it.
#[tokio::test(start_paused = true)]
async fn a_review_reaching_its_end_completes_on_its_schedule_without_any_file_event() {
    use recert::context::{Context, TokioClock};
    use recert::daemon::{Config, run, watch};
    use recert::model::review::Timestamp;

    let tree = Tree::new();
    tree.write("m/directory.yaml", DIRECTORY)
        .write("m/data.yaml", DATA)
        .write(
            "m/reviews/ga.yaml",
            self_review("2026-12-01T10:00:00Z", 1, ""),
        );
    let start = Timestamp::parse("2026-12-01T10:00:05Z").expect("time");
    let ctx = Context::new(std::sync::Arc::new(TokioClock::starting_at(start)));
    let week = Duration::from_secs(7 * 86_400);
    let config = Config {
        path: tree.path().join("m"),
        state_dir: tree.path().join("state"),
        listen: None,
        web_listen: None,
        resync: week,
        debounce: Duration::from_millis(50),
        watch: watch::Mode::Poll,
        poll_interval: week,
        shutdown_timeout: Duration::from_secs(5),
        max_backoff: Duration::from_secs(60),
        signing_key: None,
        http_limits: recert::daemon::server::Limits::default(),
        debounce_max_wait: Duration::from_secs(2),
        load: recert::load::Options::default(),
    };
    let daemon = tokio::spawn(run(config, ctx.clone()));
    let state = tree.path().join("state");
    // The daemon's writer threads work in real time while tokio's clock stands still: wait for
    // them in real time, yielding to the daemon's task in between, without moving the clock.
    let settled = async |what: &str, phase: &str| {
        for _ in 0..3_000 {
            if status(&state, "ga-self").contains(phase) {
                return;
            }
            assert!(!daemon.is_finished(), "the daemon stopped before {what}");
            std::thread::sleep(Duration::from_millis(10));
            tokio::task::yield_now().await;
        }
        panic!("{what} did not happen");
    };
    settled("the review's start", "phase: InProgress").await;
    // Nothing happens until the end: the clock jumps to a minute before it.
    tokio::time::sleep(Duration::from_secs(86_400 - 5 - 60)).await;
    assert!(
        status(&state, "ga-self").contains("phase: InProgress"),
        "a minute before its end the review still runs"
    );
    // The daemon's timer for the end fires on the way to two minutes later.
    tokio::time::sleep(Duration::from_secs(120)).await;
    settled("the review's completion at its end", "phase: Completed").await;
    assert!(
        ctx.now() < Timestamp::parse("2026-12-02T10:02:00Z").expect("time"),
        "no resync or poll could have done it"
    );
    ctx.cancel.cancel();
    daemon
        .await
        .expect("the daemon task")
        .expect("the daemon stops cleanly");
}

#[test]
fn an_invalid_edit_keeps_the_review_on_its_last_good_spec_with_the_error_in_status() {
    let tree = Tree::new();
    manifests(&tree, "m");
    let good = std::fs::read_to_string(tree.path().join("m/reviews/ga.yaml")).expect("review");
    let daemon = Daemon::start(tree.path(), &["m", "--state-dir", "state"], &[]);
    let state = tree.path().join("state");
    eventually(&daemon, "the review starting", || {
        status(&state, "ga-self").contains("phase: InProgress")
    });
    let broken = good.replace("durationDays: 14", "durationDays: fourteen");
    tree.write("m/reviews/ga.yaml", broken);
    eventually(&daemon, "the error in the status", || {
        let s = status(&state, "ga-self");
        s.contains("ManifestInvalid") && s.contains("phase: InProgress")
    });
    // Fixing it brings the review back to Ready.
    tree.write("m/reviews/ga.yaml", &good);
    eventually(&daemon, "the review ready again", || {
        let s = status(&state, "ga-self");
        !s.contains("ManifestInvalid") && s.contains("reason: Reconciled")
    });
}

#[test]
fn a_second_instance_on_the_same_state_dir_is_refused() {
    let tree = Tree::new();
    manifests(&tree, "m");
    let first = Daemon::start(tree.path(), &["m", "--state-dir", "state"], &[]);
    let state = tree.path().join("state");
    eventually(&first, "the first daemon working", || {
        status(&state, "ga-self").contains("phase:")
    });
    let second = recert(tree.path(), &["run", "m", "--state-dir", "state"]);
    assert_eq!(second.code, 2, "{}", second.stderr);
    assert!(
        second.stderr.contains("in use by another recert (pid"),
        "{}",
        second.stderr
    );
}

#[test]
fn reconcile_is_refused_while_the_daemon_holds_the_state_dir() {
    let tree = Tree::new();
    manifests(&tree, "m");
    let daemon = Daemon::start(tree.path(), &["m", "--state-dir", "state"], &[]);
    let state = tree.path().join("state");
    eventually(&daemon, "the daemon working", || {
        status(&state, "ga-self").contains("phase:")
    });
    let log = state.join("reviews/ga-self/audit.jsonl");
    let before = std::fs::read(&log).expect("audit trail");
    let out = recert(tree.path(), &["reconcile", "m", "--state-dir", "state"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("in use by another recert (pid"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read(&log).expect("audit trail"), before);
}

/// Six users denied by default at the end of a review that ends three seconds after it is
/// written, applied automatically, from a file directory outside the watched tree (the daemon never writes
/// inside it).
fn apply_tree() -> Tree {
    let tree = Tree::new();
    let users: String = (1..=6)
        .map(|i| format!("    - {{id: u-{i}, userPrincipalName: user{i}@corp.example}}\n"))
        .collect();
    let assignments: String = (1..=6)
        .map(|i| format!("    - {{id: a-{i}, principal: u-{i}, role: r-ga}}\n"))
        .collect();
    tree.write(
        "outside/data.yaml",
        format!(
            "apiVersion: recert.dev/v1alpha1\nkind: DirectoryData\nmetadata:\n  name: corp\nspec:\n  users:\n{users}  roles:\n    - {{id: r-ga, displayName: Global Administrator}}\n  assignments:\n{assignments}"
        ),
    );
    tree.write(
        "m/directory.yaml",
        DIRECTORY.replace("path: data.yaml", "path: ../outside/data.yaml"),
    );
    tree.write(
        "m/reviews/ga.yaml",
        self_review(
            &rfc3339(-86_400 + 3),
            1,
            "  settings:\n    defaultDecision: deny\n    autoApply: true\n",
        ),
    );
    tree
}

#[test]
fn sigterm_during_an_apply_stops_cleanly_and_the_next_start_finishes_it_exactly_once() {
    let tree = apply_tree();
    let state = tree.path().join("state");
    let mut daemon = Daemon::start(
        tree.path(),
        &["m", "--state-dir", "state", "--data-dir", "outside"],
        &[("RECERT_FAULT_REMOVE_DELAY_MS", "300")],
    );
    let data = tree.path().join("outside/data.yaml");
    let remaining = || {
        std::fs::read_to_string(&data)
            .expect("data")
            .matches("principal: u-")
            .count()
    };
    eventually(&daemon, "the first removal", || remaining() < 6);
    daemon.signal("TERM");
    assert_eq!(
        daemon.wait(Duration::from_secs(20)),
        Some(0),
        "a stop exits cleanly; log:\n{}",
        daemon.log()
    );
    let left = remaining();
    assert!(left > 0, "the stop came before the apply finished");
    assert!(daemon.log().contains("stopping"), "{}", daemon.log());

    let mut daemon = Daemon::start(
        tree.path(),
        &["m", "--state-dir", "state", "--data-dir", "outside"],
        &[],
    );
    eventually(&daemon, "the apply finished", || {
        status(&state, "ga-self").contains("phase: Applied")
    });
    assert_eq!(remaining(), 0, "{}", status(&state, "ga-self"));
    // Exactly once: one applyResult per principal in the audit trail, every one `applied`.
    let audit =
        std::fs::read_to_string(state.join("reviews/ga-self/audit.jsonl")).expect("audit trail");
    let results: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON"))
        .filter(|e| e["event"]["change"] == "applyResult")
        .collect();
    let mut principals: Vec<String> = results
        .iter()
        .map(|e| {
            e["event"]["principal"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    principals.sort();
    assert_eq!(
        principals,
        ["u-1", "u-2", "u-3", "u-4", "u-5", "u-6"],
        "{audit}"
    );
    assert!(
        results
            .iter()
            .all(|e| e["event"]["result"]["result"] == "applied"),
        "{audit}"
    );
    // A graceful stop: a process killed mid-pass may leave records past the head, which
    // `verify` rightly reports (the next pass sets them aside).
    daemon.signal("TERM");
    assert_eq!(
        daemon.wait(Duration::from_secs(20)),
        Some(0),
        "{}",
        daemon.log()
    );
    let verify = recert(tree.path(), &["audit", "verify", "--state-dir", "state"]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
}

fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (code, body)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[test]
fn the_endpoints_answer_and_metrics_parse_as_prometheus_text() {
    let tree = Tree::new();
    manifests(&tree, "m");
    tree.write("m/decisions/alice.yaml", ALICE_APPROVES);
    let addr = format!("127.0.0.1:{}", free_port());
    let daemon = Daemon::start(
        tree.path(),
        &["m", "--state-dir", "state", "--listen", &addr],
        &[],
    );
    eventually(&daemon, "/readyz answering 200", || {
        TcpStream::connect(&addr).is_ok() && http_get(&addr, "/readyz").0 == 200
    });
    assert_eq!(http_get(&addr, "/healthz").0, 200);
    let (code, text) = http_get(&addr, "/metrics");
    assert_eq!(code, 200);
    let samples = parse_prometheus(&text);
    let value = |name: &str, labels: &str| {
        samples
            .iter()
            .find(|(n, l, _)| n == name && l == labels)
            .map(|(_, _, v)| *v)
    };
    assert_eq!(
        value(
            "recert_reconciles_total",
            "result=\"success\",reason=\"Reconciled\""
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(value("recert_reviews", "phase=\"InProgress\""), Some(1.0));
    assert_eq!(value("recert_items", "decision=\"approve\""), Some(1.0));
    assert!(value("recert_last_successful_sync_timestamp_seconds", "").is_some_and(|v| v > 0.0));
    assert!(value("recert_reconcile_duration_seconds_count", "").is_some_and(|v| v >= 1.0));
    assert_eq!(value("recert_queue_depth", ""), Some(0.0));
}

/// A strict reader of the text exposition format 0.0.4: every line is a `# HELP`, a
/// `# TYPE` naming a known type before the family's samples, or a sample
/// `name{label="value",...} number` whose family was typed.
fn parse_prometheus(text: &str) -> Vec<(String, String, f64)> {
    let mut typed: Vec<(String, String)> = Vec::new();
    let mut samples = Vec::new();
    let is_name = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && !s.starts_with(|c: char| c.is_ascii_digit())
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(is_name(name), "{line}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            typed.push((name.to_owned(), kind.to_owned()));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            assert!(
                is_name(rest.split(' ').next().unwrap_or_default()),
                "{line}"
            );
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "stray line: {line:?}"
        );
        let (series, value) = line.rsplit_once(' ').expect("sample value");
        let value: f64 = value.parse().expect("a float value");
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.strip_suffix('}').expect("closing brace")),
            None => (series, ""),
        };
        assert!(is_name(name), "{line}");
        if !labels.is_empty() {
            for pair in labels.split("\",") {
                let (key, value) = pair.split_once("=\"").expect("label=\"value\"");
                assert!(is_name(key), "{line}");
                assert!(!value.trim_end_matches('"').contains('\n'), "{line}");
            }
        }
        let family = typed
            .iter()
            .rev()
            .find(|(f, kind)| {
                name == f
                    || (kind == "histogram"
                        && [
                            format!("{f}_bucket"),
                            format!("{f}_sum"),
                            format!("{f}_count"),
                        ]
                        .iter()
                        .any(|n| n == name))
            })
            .unwrap_or_else(|| panic!("sample before its # TYPE: {line}"));
        let _ = family;
        samples.push((name.to_owned(), labels.to_owned(), value));
    }
    samples
}

#[test]
fn polling_picks_up_changes_where_file_events_are_not_used() {
    let tree = Tree::new();
    manifests(&tree, "m");
    let daemon = Daemon::start(
        tree.path(),
        &[
            "m",
            "--state-dir",
            "state",
            "--watch",
            "poll",
            "--poll-interval",
            "200ms",
        ],
        &[],
    );
    let state = tree.path().join("state");
    eventually(&daemon, "the review starting", || {
        status(&state, "ga-self").contains("phase: InProgress")
    });
    tree.write("m/decisions/alice.yaml", ALICE_APPROVES);
    eventually(&daemon, "alice's decision, found by polling", || {
        alice_decision(&status(&state, "ga-self"))
    });
    assert!(
        daemon.log().contains("polling the manifests"),
        "{}",
        daemon.log()
    );
}

#[test]
fn a_review_gone_from_its_file_is_deleted_only_when_a_second_load_confirms_it() {
    let tree = Tree::new();
    manifests(&tree, "m");
    let daemon = Daemon::start(tree.path(), &["m", "--state-dir", "state"], &[]);
    let state = tree.path().join("state");
    eventually(&daemon, "the review starting", || {
        status(&state, "ga-self").contains("phase: InProgress")
    });
    // The review's document goes; the file still parses (another document stays in it).
    tree.write(
        "m/reviews/ga.yaml",
        running_review().replace("name: ga-self", "name: other-review"),
    );
    eventually(&daemon, "the deletion, once confirmed", || {
        !state.join("reviews/ga-self").exists()
    });
    // The records move inside the pass; the pass logs the deletion once it returns.
    eventually(&daemon, "the deletion logged", || {
        daemon.log().contains("review deleted")
    });
    let log = daemon.log();
    let noticed = log
        .find("gone from the manifests")
        .expect("the first load only notes the absence");
    let deleted = log.find("review deleted").expect("a later pass deletes");
    assert!(noticed < deleted, "{log}");
    let archived = std::fs::read_dir(state.join("archive"))
        .expect("archive")
        .count();
    assert_eq!(archived, 1);
}

#[test]
fn a_directory_echoing_its_credentials_leaks_them_into_neither_the_log_nor_the_status() {
    use crate::support::graph_server::{ECHOED_TOKEN, GraphServer, TokenEcho};
    let server = GraphServer::start(crate::graph::big_tenant(2, 0));
    let secret = "Zx9s3cr3t+/q==";
    let (tenant_id, client_id) = {
        let mut t = server.tenant();
        t.client_secret = secret.to_owned();
        (t.tenant_id.clone(), t.client_id.clone())
    };
    server.echo_token_requests(Some(TokenEcho::Description));
    let tree = Tree::new();
    tree.write(
        "m/directory.yaml",
        format!(
            "apiVersion: recert.dev/v1alpha1\nkind: Directory\nmetadata:\n  name: corp\nspec:\n  type: graph\n  graph:\n    tenantId: {tenant_id}\n    clientId: {client_id}\n    clientSecret: {{env: RECERT_TEST_GRAPH_SECRET}}\n    authorityUrl: {}\n    baseUrl: {}\n",
            server.authority_url(),
            server.base_url()
        ),
    )
    .write("m/reviews/ga.yaml", running_review());
    let daemon = Daemon::start(
        tree.path(),
        &["m", "--state-dir", "state"],
        &[("RECERT_TEST_GRAPH_SECRET", secret)],
    );
    let state = tree.path().join("state");
    eventually(&daemon, "the echo, redacted, in log and status", || {
        daemon.log().contains("[REDACTED]") && status(&state, "ga-self").contains("[REDACTED]")
    });
    let written = format!("{}{}", daemon.log(), status(&state, "ga-self"));
    for leaked in [secret, "Zx9s3cr3t%2B%2Fq%3D%3D", ECHOED_TOKEN] {
        assert!(!written.contains(leaked), "`{leaked}` leaked:\n{written}");
    }
}

#[test]
fn idle_connections_over_the_cap_neither_starve_the_probes_nor_stay_open() {
    let tree = Tree::new();
    manifests(&tree, "m");
    let addr = format!("127.0.0.1:{}", free_port());
    let daemon = Daemon::start(
        tree.path(),
        &[
            "m",
            "--state-dir",
            "state",
            "--listen",
            &addr,
            "--http-max-connections",
            "4",
            "--http-header-timeout",
            "200ms",
        ],
        &[],
    );
    eventually(&daemon, "/healthz answering", || {
        TcpStream::connect(&addr).is_ok() && http_get(&addr, "/healthz").0 == 200
    });
    // Slowloris: more connections than the cap, none sending a byte.
    let mut idle: Vec<TcpStream> = (0..10)
        .map(|_| TcpStream::connect(&addr).expect("connect"))
        .collect();
    // Every one is closed by the server: at once over the cap, after the header timeout
    // within it. The read timeout only guards against a hang.
    for stream in &mut idle {
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut byte = [0u8; 1];
        match stream.read(&mut byte) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("an idle connection was not closed: {other:?}"),
        }
    }
    assert_eq!(http_get(&addr, "/healthz"), (200, "ok\n".to_owned()));
}

#[test]
fn a_fifo_as_data_file_is_refused_by_the_daemon_which_still_stops_on_sigterm() {
    let tree = Tree::new();
    tree.write(
        "m/directory.yaml",
        DIRECTORY.replace("path: data.yaml", "path: ../pipe.yaml"),
    )
    .write("m/reviews/ga.yaml", running_review());
    let made = Command::new("mkfifo")
        .arg(tree.path().join("pipe.yaml"))
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let mut daemon = Daemon::start(
        tree.path(),
        &["m", "--state-dir", "state", "--data-dir", "."],
        &[],
    );
    // The words `validate` and `reconcile` use (see tests/input.rs).
    eventually(&daemon, "the FIFO refused", || {
        daemon
            .log()
            .contains("cannot be read: it is a FIFO (named pipe), not a regular file")
    });
    daemon.signal("TERM");
    assert_eq!(
        daemon.wait(Duration::from_secs(20)),
        Some(0),
        "{}",
        daemon.log()
    );
}

#[test]
fn the_daemon_delivers_beside_its_passes_and_folds_each_outcome_into_the_status() {
    use recert_testkit::peers::{WebhookFaults, WebhookPeer};
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let peer = WebhookPeer::start(Some(SECRET), WebhookFaults::default());
    let tree = Tree::new();
    tree.write("m/directory.yaml", DIRECTORY)
        .write("m/data.yaml", DATA)
        .write(
            "m/reviews/ga.yaml",
            self_review(
                &rfc3339(-3600),
                14,
                "  settings:\n    notifications:\n      notifiers:\n        - name: hook\n",
            ),
        )
        .write(
            "m/notifiers.yaml",
            format!(
                "apiVersion: recert.dev/v1alpha1\nkind: Notifier\nmetadata:\n  name: hook\nspec:\n  type: webhook\n  webhook:\n    url: {}\n    secret:\n      env: HOOK_SECRET\n",
                peer.url("/recert")
            ),
        );
    let addr = format!("127.0.0.1:{}", free_port());
    let daemon = Daemon::start(
        tree.path(),
        &["m", "--state-dir", "state", "--listen", &addr],
        &[("HOOK_SECRET", SECRET)],
    );
    eventually(&daemon, "the webhook receiving the start", || {
        peer.requests().len() == 1
    });
    assert_eq!(peer.requests()[0].verified, Some(true));
    let state = tree.path().join("state");
    eventually(&daemon, "the delivery folded into the status", || {
        status(&state, "ga-self").contains("sent: 1")
    });
    let audit = std::fs::read_to_string(state.join("reviews/ga-self/audit.jsonl")).expect("audit");
    assert!(audit.contains("\"notificationDelivery\""), "{audit}");
    let (_, text) = http_get(&addr, "/metrics");
    let samples = parse_prometheus(&text);
    let delivered = samples.iter().find(|(n, l, _)| {
        n == "recert_notifications_total"
            && l == "channel=\"webhook\",event=\"instanceStarted\",result=\"delivered\""
    });
    assert_eq!(delivered.map(|s| s.2), Some(1.0), "{text}");
    assert!(
        samples
            .iter()
            .any(|(n, _, v)| n == "recert_notification_outbox_depth" && *v == 0.0),
        "{text}"
    );
    // Nothing is sent twice, however often the daemon passes.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(peer.requests().len(), 1);
}

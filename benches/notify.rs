//! Notifications benchmark: 1,000 reviews starting at once, their 5,000 reviewers e-mailed.
//!
//! ```text
//! scripts/test-peers cargo bench --bench notify -- [--reviews 1000] [--reviewers 5000] [--runs 3]
//!     [--assignments 10000] [--max-connections N] [--dir DIR]
//! cargo bench --bench notify -- --generate-only DIR   # write both review sets and stop:
//! #   recert reconcile DIR/with --state-dir /tmp/state --now 2026-12-02T09:00:00Z --deliver-timeout 0
//! ```
//!
//! The review set is the test kit's uniform one (`recert_testkit::manifests`), with every
//! review naming `--reviewers / --reviews` reviewers of its own (`type: users`, by user
//! principal name, `userN@corp.example`), no decisions yet, all starting at once. Each run:
//!
//! 1. **The pass**: the `recert` binary (release) reconciles the set once into a fresh state
//!    directory with `--deliver-timeout 0`, once without a notifier and once with an `smtp`
//!    notifier named by every review (one e-mail per reviewer composed into the outboxes,
//!    nothing sent). The overhead of the second over the first is the figure; goal ≤ 10%.
//! 2. **Delivery**: `recert reconcile --deliver-timeout 600` on the second state directory
//!    sends those e-mails to a fresh aiosmtpd (`SmtpPeer`, plain, loopback) and records each
//!    outcome; timed as a whole process, from start to exit, with the messages the server
//!    received and the connections Recert opened. Then the ceiling: the server's own
//!    throughput, Python's `smtplib` sending the very messages that server received (the
//!    same bytes) over one connection to another fresh aiosmtpd
//!    (`scripts/peers/smtplib_ceiling.py`). Goal: Recert within 1.2× of the ceiling.
//!
//! Both deliveries are also timed from the server's side, from the first message's arrival
//! to the last (the sink's clock), which leaves out what happens before the first message
//! (Recert: start-up, reading the manifests and the outboxes; Python: connecting) and after
//! the last (Recert: the pass that folds the outcomes into status and audit trail).
//!
//! The medians of `--runs` runs are reported. The peers come from `scripts/test-peers`.

#![allow(
    clippy::print_stdout,
    reason = "a benchmark reports on standard output"
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Parser as _;
use recert::store::Store;
use recert_testkit::bench;
use recert_testkit::manifests::{self, Notifier, Options};
use recert_testkit::peers::{SmtpOptions, SmtpPeer};

/// Notifications benchmark: the pass with and without notifiers, and delivering the e-mails.
#[derive(Debug, clap::Parser)]
#[command(bin_name = "cargo bench --bench notify --")]
struct Args {
    /// Reviews, each over a role of its own, all starting at once
    #[arg(long, default_value_t = 1000, value_name = "N")]
    reviews: usize,
    /// Distinct reviewers in all, spread evenly over the reviews (one e-mail each)
    #[arg(long, default_value_t = 5000, value_name = "N")]
    reviewers: usize,
    /// Role assignments in all (the items; each reviewer's e-mail lists their review's)
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    assignments: usize,
    /// Measured runs (the median is reported)
    #[arg(long, default_value_t = 3, value_name = "N")]
    runs: usize,
    /// The notifier's `smtp.maxConnections` [default: Recert's]
    #[arg(long, value_name = "N")]
    max_connections: Option<u32>,
    /// Only write the review sets into DIR/without and DIR/with (its notifier pointing at port
    /// 2525), and stop (for profiling)
    #[arg(long, value_name = "DIR")]
    generate_only: Option<PathBuf>,
    #[command(flatten)]
    work: bench::WorkDir,
    #[command(flatten)]
    _cargo: bench::Cargo,
}

/// When every review starts, and the time the passes run at (the day after).
const START: &str = "2026-12-01";
const NOW: &str = "2026-12-02T09:00:00Z";
const NOTIFIER: &str = "mail";

fn notifier_yaml(port: u16, max_connections: Option<u32>) -> String {
    let max = max_connections
        .map(|n| format!("    maxConnections: {n}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: recert.dev/v1alpha1\nkind: Notifier\nmetadata:\n  name: {NOTIFIER}\nspec:\n  type: smtp\n  smtp:\n    host: 127.0.0.1\n    port: {port}\n    tls: none\n    from: \"Access Reviews <access-reviews@corp.example>\"\n{max}"
    )
}

/// Runs `recert reconcile` at [`NOW`] and times it, start to exit.
fn reconcile(manifests: &Path, state: &Path, deliver_timeout: u64) -> Duration {
    // Only what this run writes is timed, not the write-back of what came before.
    let _ = Command::new("sync").status();
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_recert"))
        .args(["reconcile", "--now", NOW, "--deliver-timeout"])
        .arg(deliver_timeout.to_string())
        .arg("--state-dir")
        .arg(state)
        .arg(manifests)
        .output()
        .expect("recert runs");
    let took = started.elapsed();
    assert!(
        output.status.success(),
        "recert reconcile: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    took
}

/// Messages waiting in the outboxes of the state directory, and those delivered.
fn outboxes(state: &Path) -> (usize, u64) {
    let store = Store::open(state).expect("the state directory");
    let names = store.names().expect("the reviews");
    let (stored, errors) = store.load_some(names.iter().map(String::as_str));
    assert!(errors.is_empty(), "every state reads: {errors:?}");
    let pending = stored.values().map(|s| s.state.outbox.pending.len()).sum();
    let sent = stored
        .values()
        .flat_map(|s| s.state.outbox.instances.values())
        .map(|t| u64::from(t.sent))
        .sum();
    (pending, sent)
}

/// From the first arrival to the last, by the server's clock.
fn span(peer: &SmtpPeer) -> Duration {
    let arrivals = peer.arrivals();
    match (arrivals.first(), arrivals.last()) {
        (Some(first), Some(last)) => Duration::from_nanos(last - first),
        _ => Duration::ZERO,
    }
}

/// One run's figures.
#[derive(Debug, Clone, Copy)]
struct Sample {
    pass_without: Duration,
    pass_with: Duration,
    recert: Duration,
    recert_span: Duration,
    connections: u64,
    ceiling: Duration,
    ceiling_span: Duration,
    ceiling_connections: u64,
    bytes: usize,
}

/// The ceiling: `smtplib_ceiling.py` sends `raw` over one connection to a fresh server.
fn ceiling(work: &Path, raw: &[String]) -> (Duration, Duration, u64) {
    let folder = work.join("eml");
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).expect("a folder for the messages");
    for (i, text) in raw.iter().enumerate() {
        std::fs::write(folder.join(format!("{i:06}.eml")), text).expect("a message");
    }
    let sink = SmtpPeer::start(SmtpOptions::default());
    let python = std::env::var("RECERT_TEST_PEERS_PYTHON").expect("set by scripts/test-peers");
    let scripts = std::env::var("RECERT_TEST_PEERS_SCRIPTS").expect("set by scripts/test-peers");
    let output = Command::new(python)
        .arg(Path::new(&scripts).join("smtplib_ceiling.py"))
        .args(["--port", &sink.port.to_string(), "--dir"])
        .arg(&folder)
        .output()
        .expect("smtplib_ceiling.py runs");
    assert!(
        output.status.success(),
        "smtplib_ceiling.py: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the ceiling's JSON line");
    assert_eq!(report["messages"].as_u64(), Some(raw.len() as u64));
    let received = sink.messages().len();
    assert_eq!(received, raw.len(), "the sink received every message");
    let seconds = report["seconds"].as_f64().expect("seconds");
    (
        Duration::from_secs_f64(seconds),
        span(&sink),
        sink.connections(),
    )
}

/// The review set, without a notifier into `plain`, with one (at `port`) into `notified`.
fn generate(args: &Args, plain: &Path, notified: &Path, port: u16) {
    let per_review = (args.reviewers / args.reviews.max(1)).max(1);
    let yaml = notifier_yaml(port, args.max_connections);
    let set = |notifier| Options {
        notifier,
        reviewers_per_review: per_review,
        decisions: false,
        ..Options::new(args.reviews, args.assignments, START)
    };
    manifests::generate_with(plain, &set(None));
    manifests::generate_with(
        notified,
        &set(Some(Notifier {
            name: NOTIFIER,
            yaml: &yaml,
        })),
    );
}

fn run(args: &Args, work: &Path, run: usize) -> Sample {
    let per_review = (args.reviewers / args.reviews.max(1)).max(1);
    let reviewers = per_review * args.reviews;
    let root = work.join(format!("run-{run}"));
    let sink = SmtpPeer::start(SmtpOptions::default());
    let plain = root.join("without/manifests");
    let notified = root.join("with/manifests");
    generate(args, &plain, &notified, sink.port);

    // Part 1: the pass, the order alternating between runs.
    let (without_state, with_state) = (root.join("without/state"), root.join("with/state"));
    let (pass_without, pass_with) = if run.is_multiple_of(2) {
        let a = reconcile(&plain, &without_state, 0);
        (a, reconcile(&notified, &with_state, 0))
    } else {
        let b = reconcile(&notified, &with_state, 0);
        (reconcile(&plain, &without_state, 0), b)
    };
    assert_eq!(outboxes(&without_state), (0, 0), "no notifier, no message");
    assert_eq!(
        outboxes(&with_state),
        (reviewers, 0),
        "one e-mail per reviewer waits in the outboxes"
    );

    // Part 2: delivery, then the ceiling on the same messages.
    let recert = reconcile(&notified, &with_state, 600);
    let mails = sink.messages();
    assert_eq!(mails.len(), reviewers, "every e-mail arrived");
    let ids: BTreeSet<&str> = mails
        .iter()
        .filter_map(|m| m.header("Message-ID"))
        .collect();
    assert_eq!(ids.len(), reviewers, "each once");
    assert_eq!(
        outboxes(&with_state),
        (0, reviewers as u64),
        "every delivery is recorded"
    );
    let raw: Vec<String> = mails.into_iter().map(|m| m.raw).collect();
    let bytes = raw.iter().map(String::len).sum();
    let (ceiling, ceiling_span, ceiling_connections) = ceiling(&root, &raw);
    let sample = Sample {
        pass_without,
        pass_with,
        recert,
        recert_span: span(&sink),
        connections: sink.connections(),
        ceiling,
        ceiling_span,
        ceiling_connections,
        bytes,
    };
    // Kept until the end: on ext4 without a journal, files created just after others were
    // deleted cost many times more (benches/README.md), which would slow the next run.
    sample
}

/// The median, and the lowest and highest.
fn spread(samples: &[Sample], f: impl Fn(&Sample) -> Duration) -> (f64, f64, f64) {
    let mut v: Vec<f64> = samples.iter().map(|s| f(s).as_secs_f64()).collect();
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn main() {
    let args = Args::parse();
    if let Some(dir) = &args.generate_only {
        generate(&args, &dir.join("without"), &dir.join("with"), 2525);
        return;
    }
    let dir = args.work.create(Path::new(env!("CARGO_TARGET_TMPDIR")));
    let runs = args.runs.max(1);
    let per_review = (args.reviewers / args.reviews.max(1)).max(1);
    let reviewers = per_review * args.reviews;
    let samples: Vec<Sample> = (0..runs).map(|i| run(&args, dir.path(), i)).collect();

    let ms = |(m, lo, hi): (f64, f64, f64)| {
        format!(
            "{:>9.1} ms  ({:.1}–{:.1})",
            m * 1000.0,
            lo * 1000.0,
            hi * 1000.0
        )
    };
    let without = spread(&samples, |s| s.pass_without);
    let with = spread(&samples, |s| s.pass_with);
    let overheads: Vec<f64> = {
        let mut v: Vec<f64> = samples
            .iter()
            .map(|s| (s.pass_with.as_secs_f64() / s.pass_without.as_secs_f64() - 1.0) * 100.0)
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    println!(
        "notify benchmark: {} reviews starting at once, {reviewers} reviewers ({per_review} each), {} assignments; median of {runs} runs (min–max)",
        args.reviews, args.assignments
    );
    println!("  the pass (recert reconcile --deliver-timeout 0):");
    println!("    without notifiers           {}", ms(without));
    println!(
        "    with an smtp notifier       {}   {reviewers} e-mails into the outboxes",
        ms(with)
    );
    println!(
        "    overhead                    {:>+9.1} %   (per run {:+.1} to {:+.1} %)   goal ≤ 10 %",
        (with.0 / without.0 - 1.0) * 100.0,
        overheads[0],
        overheads[overheads.len() - 1],
    );
    let bytes = samples[0].bytes;
    println!(
        "  delivery of {reviewers} e-mails ({:.1} KiB each on average) to aiosmtpd on loopback, plain:",
        bytes as f64 / reviewers as f64 / 1024.0
    );
    let rate = |secs: f64| reviewers as f64 / secs;
    let recert = spread(&samples, |s| s.recert);
    let recert_span = spread(&samples, |s| s.recert_span);
    let ceiling = spread(&samples, |s| s.ceiling);
    let ceiling_span = spread(&samples, |s| s.ceiling_span);
    let connections: BTreeSet<u64> = samples.iter().map(|s| s.connections).collect();
    let ceiling_connections: BTreeSet<u64> =
        samples.iter().map(|s| s.ceiling_connections).collect();
    println!(
        "                                  timed by the client                 first to last arrival       connections"
    );
    println!(
        "    recert reconcile (whole run) {}  {:>6.0} msg/s   {:>9.1} ms  {:>6.0} msg/s   {connections:?}",
        ms(recert),
        rate(recert.0),
        recert_span.0 * 1000.0,
        rate(recert_span.0)
    );
    println!(
        "    smtplib, one connection      {}  {:>6.0} msg/s   {:>9.1} ms  {:>6.0} msg/s   {ceiling_connections:?}",
        ms(ceiling),
        rate(ceiling.0),
        ceiling_span.0 * 1000.0,
        rate(ceiling_span.0)
    );
    println!(
        "    recert / ceiling             {:>9.2}×                                 {:>9.2}×                      goal ≤ 1.2×",
        recert.0 / ceiling.0,
        recert_span.0 / ceiling_span.0
    );
}

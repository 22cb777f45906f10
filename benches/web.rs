//! Reviewer page benchmark: the server's time for the page of a reviewer with 1,000 items.
//!
//! ```text
//! cargo bench --bench web -- [--items 1000] [--runs 50] [--dir DIR]
//! ```
//!
//! The test kit's review set with one review of `--items` role assignments and one named
//! reviewer (`user0@corp.example`, `u-0`), half the items decided in a decisions file, is
//! reconciled by the `recert` binary into a fresh state directory. Then, in this process, the
//! page's own work is timed `--runs` times after one warm-up: what the handler of
//! `GET /reviews/{review}` does — open the state directory, read and decode the review's
//! `state.json`, ask the engine's rule who may decide each item, and write the HTML — once
//! for every item and once with the pending filter (`?show=pending`). The time of the HTTP
//! exchange around it (headers, the session cookie's HMAC) is not included; it does not
//! grow with the items. Goal: under 100 ms.

#![allow(
    clippy::print_stdout,
    reason = "a benchmark reports on standard output"
)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Parser as _;
use recert::web::SignedIn;
use recert::web::reviewer_page::{ReviewQuery, review_page};
use recert_testkit::bench;
use recert_testkit::manifests::{self, Options};

const NOW: &str = "2026-12-02T09:00:00Z";
const REVIEW: &str = "review-0000";

/// Reviewer page benchmark: a reviewer with 1,000 items.
#[derive(Debug, clap::Parser)]
#[command(bin_name = "cargo bench --bench web --")]
struct Args {
    /// The reviewer's items (role assignments of the one review)
    #[arg(long, default_value_t = 1000, value_name = "N")]
    items: usize,
    /// Measured renders of each page
    #[arg(long, default_value_t = 50, value_name = "N")]
    runs: usize,
    #[command(flatten)]
    work: bench::WorkDir,
    #[command(flatten)]
    _cargo: bench::Cargo,
}

fn reconcile(manifests: &Path, state: &Path) {
    let output = Command::new(env!("CARGO_BIN_EXE_recert"))
        .args(["reconcile", "--now", NOW, "--deliver-timeout", "0"])
        .arg("--state-dir")
        .arg(state)
        .arg(manifests)
        .output()
        .expect("recert runs");
    assert!(
        output.status.success(),
        "recert reconcile: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

fn main() {
    let args = Args::parse();
    let work = args.work.create(Path::new(env!("CARGO_TARGET_TMPDIR")));
    let manifests_dir = work.path().join("manifests");
    let state = work.path().join("state");
    manifests::generate_with(
        &manifests_dir,
        &Options {
            reviewers_per_review: 1,
            ..Options::new(1, args.items, "2026-12-01")
        },
    );
    reconcile(&manifests_dir, &state);
    let user = SignedIn {
        principal: "u-0".to_owned(),
        upn: "user0@corp.example".to_owned(),
        name: "User 0".to_owned(),
        subject: "s-0".to_owned(),
        issuer: "https://login.corp.example".to_owned(),
        csrf: "csrf".to_owned(),
        admin: false,
        read_only: false,
    };
    println!(
        "reviewer page: 1 review, {} items for one reviewer; {} runs each after a warm-up",
        args.items, args.runs
    );
    for (what, show) in [("every item", None), ("pending only", Some("pending"))] {
        let query = ReviewQuery {
            instance: None,
            show: show.map(str::to_owned),
        };
        let render = || review_page(&state, &user, REVIEW, &query).expect("the page renders");
        let (_, body) = render();
        let rows = body.matches("<tr>").count() - 1;
        let mut times: Vec<Duration> = (0..args.runs)
            .map(|_| {
                let started = Instant::now();
                let page = render();
                let took = started.elapsed();
                std::hint::black_box(page);
                took
            })
            .collect();
        times.sort();
        println!(
            "  {what:<13} {rows:>5} rows, {:>7} KiB: median {:>6.1} ms, p95 {:>6.1} ms, max {:>6.1} ms",
            body.len() / 1024,
            percentile(&times, 0.5).as_secs_f64() * 1000.0,
            percentile(&times, 0.95).as_secs_f64() * 1000.0,
            times.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
        );
    }
}

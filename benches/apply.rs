//! Apply benchmark: denied assignments removed from the embedded file directory.
//!
//! ```text
//! cargo bench --bench apply -- [--sizes 1000,10000,100000] [--percent 10] [--part both]
//! ```
//!
//! Part A (`--part directory`), in process: a `DirectoryData` file of N assignments, and one
//! `FileDirectory::remove_many` call removing `--percent` of them (one parse, all the cuts,
//! one read-back, one atomic write). Part B (`--part end-to-end`): the same data file beside a
//! `Directory`, one `AccessReview` of the role with `autoApply` and a `ReviewDecisions` denying
//! `--percent` of the principals; the `recert` binary reconciles once at the start (the instance starts,
//! the decisions are recorded) and once after the end, which applies: that second pass is
//! timed. Each size is measured `--runs` times on fresh files; the median is reported, with
//! the time per thousand assignments so that linear growth shows as a flat column.

#![allow(
    clippy::print_stdout,
    reason = "a benchmark reports on standard output"
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use recert::directory::file::FileDirectory;
use recert::directory::{Directory, Removal, RemoveOutcome};
use recert::model::directory_data::AssignmentType;

// The allocator the `recert` binary uses, so that these figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(about = "Removing denied assignments from the embedded file directory")]
struct Args {
    /// Assignments in the data file; one measurement per size.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    sizes: Vec<usize>,
    /// Percentage of the assignments denied (and removed).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(1..=100))]
    percent: u8,
    /// Which part to run.
    #[arg(long, value_enum, default_value_t = Part::Both)]
    part: Part,
    /// Measured runs per size (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Where the files go (default: the folder cargo sets aside for benchmarks in `target/`;
    /// not the system temp folder, often tmpfs, where fsync is free).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Part {
    Directory,
    EndToEnd,
    Both,
}

/// The users, one role and `n` assignments of it, each of a user of its own, in the flow style
/// one entry per line that generated files use, with a comment every hundred entries as people
/// leave them.
fn data_file(n: usize) -> String {
    let mut text = String::from(
        "apiVersion: recert.dev/v1alpha1\nkind: DirectoryData\nmetadata: {name: corp}\nspec:\n  users:\n    - {id: u-reviewer, userPrincipalName: reviewer@corp.example}\n",
    );
    for u in 0..n {
        let _ = writeln!(
            text,
            "    - {{id: u-{u}, userPrincipalName: user{u}@corp.example, displayName: User {u}}}"
        );
    }
    text.push_str("  roles:\n    - {id: r-0, displayName: Admin}\n  assignments:\n");
    for i in 0..n {
        if i % 100 == 0 {
            let _ = writeln!(text, "    # batch {}", i / 100);
        }
        let kind = if i % 4 == 0 { "eligible" } else { "active" };
        let _ = writeln!(
            text,
            "    - {{id: a-{i}, principal: u-{i}, role: r-0, type: {kind}}}"
        );
    }
    text
}

/// The assignments denied: every one in `100 / percent`, spread over the file.
fn denied(n: usize, percent: u8) -> impl Iterator<Item = usize> {
    let step = (100 / usize::from(percent)).max(1);
    (0..n).step_by(step)
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn report(label: &str, n: usize, removed: usize, took: Duration) {
    let ms = took.as_secs_f64() * 1000.0;
    println!(
        "  {label:<11} {n:>7} assignments  {removed:>6} removed  {ms:>9.1} ms  {:>7.2} ms per 1k assignments  {:>6.1} µs per removal",
        ms / (n as f64 / 1000.0),
        ms * 1000.0 / removed as f64,
    );
}

/// Part A: one `remove_many` of the denied assignments.
fn directory_level(work: &Path, n: usize, percent: u8, runs: usize) {
    let text = data_file(n);
    let targets: Vec<Removal> = denied(n, percent)
        .map(|i| Removal::Assignment {
            id: format!("a-{i}"),
            kind: if i % 4 == 0 {
                AssignmentType::Eligible
            } else {
                AssignmentType::Active
            },
            principal: format!("u-{i}"),
            role: "r-0".to_owned(),
            scope: "/".to_owned(),
        })
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut samples = Vec::new();
    for run in 0..runs {
        let path = work.join(format!("directory-{n}-{run}/data.yaml"));
        write(&path, &text);
        let directory = FileDirectory::open(&path).expect("a valid data file");
        let started = Instant::now();
        let outcomes = rt.block_on(directory.remove_many(&targets));
        samples.push(started.elapsed());
        assert!(
            outcomes.iter().all(|o| *o == Ok(RemoveOutcome::Removed)),
            "every denied assignment is removed: {:?}",
            outcomes.iter().find(|o| **o != Ok(RemoveOutcome::Removed))
        );
        assert_eq!(directory.data().assignments.len(), n - targets.len());
    }
    report("directory", n, targets.len(), median(samples));
}

/// Part B: `recert reconcile` at the end of an instance with `autoApply`.
fn end_to_end(work: &Path, n: usize, percent: u8, runs: usize) {
    let data = data_file(n);
    let denied: Vec<usize> = denied(n, percent).collect();
    let mut decisions = String::from(
        "apiVersion: recert.dev/v1alpha1\nkind: ReviewDecisions\nmetadata: {name: reviewer}\nspec:\n  review: admins\n  reviewer: reviewer@corp.example\n  decisions:\n",
    );
    for &i in &denied {
        let _ = writeln!(
            decisions,
            "    - {{principal: u-{i}, decision: deny, reason: Left}}"
        );
    }
    let mut samples = Vec::new();
    for run in 0..runs {
        let root = work.join(format!("end-to-end-{n}-{run}"));
        let manifests = root.join("manifests");
        write(
            &manifests.join("directory.yaml"),
            "apiVersion: recert.dev/v1alpha1\nkind: Directory\nmetadata: {name: corp}\nspec:\n  type: file\n  file: {path: data.yaml}\n",
        );
        write(&manifests.join("data.yaml"), &data);
        write(
            &manifests.join("review.yaml"),
            "apiVersion: recert.dev/v1alpha1\nkind: AccessReview\nmetadata: {name: admins}\nspec:\n  directory: corp\n  displayName: Admins\n  scope:\n    role: {id: r-0}\n    assignments: all\n  reviewers:\n    type: users\n    users: [reviewer@corp.example]\n  schedule:\n    start: 2026-12-01\n    durationDays: 14\n    recurrence: once\n  settings:\n    defaultDecision: none\n    autoApply: true\n",
        );
        write(&manifests.join("decisions.yaml"), &decisions);
        let state = root.join("state");
        let reconcile = |now: &str| {
            let output = Command::new(env!("CARGO_BIN_EXE_recert"))
                .args(["reconcile", "--state-dir"])
                .arg(&state)
                .args(["--now", now])
                .arg(&manifests)
                .output()
                .expect("recert runs");
            assert!(
                output.status.success(),
                "recert reconcile --now {now}: {}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        };
        reconcile("2026-12-02T00:00:00Z");
        let _ = Command::new("sync").status();
        let started = Instant::now();
        reconcile("2026-12-16T00:00:01Z");
        samples.push(started.elapsed());
        let left = std::fs::read_to_string(manifests.join("data.yaml"))
            .expect("data")
            .matches("    - {id: a-")
            .count();
        assert_eq!(left, n - denied.len(), "the pass applied every denial");
    }
    report("end to end", n, denied.len(), median(samples));
}

fn main() {
    let args = Args::parse();
    let parent = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    std::fs::create_dir_all(&parent).expect("benchmark folder");
    let work = tempfile::tempdir_in(&parent).expect("temp dir");
    let runs = args.runs.max(1);
    println!(
        "apply benchmark: {}% of the assignments denied, median of {runs} runs",
        args.percent
    );
    if args.part != Part::EndToEnd {
        for &n in &args.sizes {
            directory_level(work.path(), n, args.percent, runs);
        }
    }
    if args.part != Part::Directory {
        for &n in &args.sizes {
            end_to_end(work.path(), n, args.percent, runs);
        }
    }
}

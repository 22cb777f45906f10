//! Benchmark of `recert validate` on a generated repository of review manifests.
//!
//! Generates N (default 10,000) valid manifest files with the test kit's corpus generator
//! (`recert_testkit::corpus`: one file-type `Directory`, the `DirectoryData` it points to,
//! ~35% `AccessReview` files and ~65% `ReviewDecisions` files), then runs the `recert` binary
//! on them (one warm-up, then several measured runs) and prints wall time, files per second
//! and the child's peak memory.
//!
//! ```text
//! cargo bench --bench validate -- [--files N] [--runs R] [--seed S] [--keep DIR] [--single-doc]
//! cargo bench --bench validate -- --generate-only DIR [--files N] [--seed S] [--single-doc]
//! ```
//!
//! `--findings N` times instead one file of N reviews whose directory does not exist and N
//! reviews sharing one name: every one a finding across documents (these once took time
//! quadratic in N).
//!
//! Everything generated is valid, so the run fails if the validator reports anything.

// A bench binary reports on the terminal: that is its whole point.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::Parser as _;
use recert_testkit::bench;
use recert_testkit::corpus::{self, Stats};

const GNU_TIME: &str = "/usr/bin/time";

type Result<T> = std::result::Result<T, String>;

/// Generates a repository of valid Recert manifests and times `recert validate --format json`
/// on it.
#[derive(Debug, clap::Parser)]
#[command(bin_name = "cargo bench --bench validate --")]
struct Args {
    /// Files to generate (at least 4: a directory, its data, a review, a decision)
    #[arg(long, default_value_t = 10_000, value_name = "N",
          value_parser = clap::value_parser!(u64).range(4..))]
    files: u64,
    /// Measured runs after one warm-up
    #[arg(long, default_value_t = 5, value_name = "R",
          value_parser = clap::value_parser!(u64).range(1..))]
    runs: u64,
    /// Generator seed
    #[arg(long, default_value_t = 1, value_name = "S")]
    seed: u64,
    /// Generate into DIR (new or empty) and keep it, instead of a temp dir
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
    /// Only write the files into DIR (new or empty); do not run recert
    #[arg(long, value_name = "DIR")]
    generate_only: Option<PathBuf>,
    /// One document per file (for tools that read only single-document YAML)
    #[arg(long)]
    single_doc: bool,
    /// Instead: one file of N unresolved references and N duplicate names
    #[arg(long, value_name = "N")]
    findings: Option<usize>,
    #[command(flatten)]
    _cargo: bench::Cargo,
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> Result<ExitCode> {
    let args = Args::parse();
    let options = corpus::Options {
        files: args.files as usize,
        seed: args.seed,
        single_doc: args.single_doc,
    };

    if let Some(n) = args.findings {
        return bench_findings(n, args.runs as usize);
    }

    if let Some(dir) = &args.generate_only {
        prepare_dir(dir)?;
        let stats = generate(dir, &options)?;
        print_stats(dir, &stats);
        return Ok(ExitCode::SUCCESS);
    }

    let temp;
    let dir: PathBuf = match &args.keep {
        Some(dir) => {
            prepare_dir(dir)?;
            dir.clone()
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("recert-bench-")
                .tempdir()
                .map_err(|e| format!("cannot create a temp dir: {e}"))?;
            temp.path().to_path_buf()
        }
    };
    let stats = generate(&dir, &options)?;
    print_stats(&dir, &stats);
    println!();
    bench(&dir, &stats, args.runs as usize)
}

fn generate(dir: &Path, options: &corpus::Options) -> Result<Stats> {
    corpus::generate(dir, options).map_err(|e| e.to_string())
}

fn print_stats(dir: &Path, stats: &Stats) {
    println!("generated {} in {:.2?}", dir.display(), stats.elapsed);
    print!("{stats}");
}

/// Creates `dir`, or checks that it is empty: generation never overwrites someone's files.
fn prepare_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        let mut entries =
            std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        if entries.next().is_some() {
            return Err(format!(
                "{} is not empty; give a new or empty directory",
                dir.display()
            ));
        }
        Ok(())
    } else {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
    }
}

// ---------------------------------------------------------------------------------------------
// Measuring

struct Run {
    wall: Duration,
    /// Peak resident set of the child, in KiB, when GNU time is there to tell.
    max_rss_kib: Option<u64>,
    files: u64,
    documents: u64,
}

fn run_recert(bin: &Path, dir: &Path, time_out: Option<&Path>) -> Result<Run> {
    let mut command = match time_out {
        Some(out) => {
            let mut c = Command::new(GNU_TIME);
            c.arg("-f").arg("%M").arg("-o").arg(out).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    command
        .args(["validate", "--format", "json"])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let output = command
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let wall = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).map_err(|e| {
        format!(
            "recert exited with {} and printed no JSON report ({e}):\n{stderr}",
            output.status
        )
    })?;
    let count = |field: &str| report.get(field).and_then(serde_json::Value::as_u64);
    let (errors, warnings) = (count("errors").unwrap_or(0), count("warnings").unwrap_or(0));
    if !output.status.success() || errors > 0 || warnings > 0 {
        let mut message = format!(
            "recert exited with {}: {errors} errors, {warnings} warnings on generated files that \
             should all be valid",
            output.status
        );
        let diagnostics = report.get("diagnostics").and_then(|d| d.as_array());
        for d in diagnostics.into_iter().flatten().take(20) {
            let text = |f: &str| d.get(f).and_then(|v| v.as_str()).unwrap_or("");
            let line = d
                .pointer("/span/line")
                .and_then(|v| v.as_u64())
                .unwrap_or(0);
            let _ = write!(
                message,
                "\n  {}:{line}: {} [{}] {}",
                text("file"),
                text("severity"),
                text("code"),
                text("message")
            );
        }
        if !stderr.trim().is_empty() {
            let _ = write!(message, "\n{stderr}");
        }
        return Err(message);
    }
    let max_rss_kib = time_out.and_then(|out| {
        let text = std::fs::read_to_string(out).ok()?;
        text.lines().last()?.trim().parse().ok()
    });
    Ok(Run {
        wall,
        max_rss_kib,
        files: count("files").unwrap_or(0),
        documents: count("documents").unwrap_or(0),
    })
}

fn bench(dir: &Path, stats: &Stats, measured: usize) -> Result<ExitCode> {
    let bin = Path::new(env!("CARGO_BIN_EXE_recert"));
    let scratch = tempfile::Builder::new()
        .prefix("recert-bench-time-")
        .tempdir()
        .map_err(|e| format!("cannot create a temp dir: {e}"))?;
    let time_out = scratch.path().join("time.txt");
    let time_out = Path::new(GNU_TIME).is_file().then_some(time_out.as_path());
    if time_out.is_none() {
        println!(
            "note: {GNU_TIME} not found (Debian: apt-get install -y time); peak memory is n/a"
        );
    }
    println!(
        "running {} validate --format json {} (1 warm-up + {} measured)",
        bin.display(),
        dir.display(),
        measured
    );

    let warm_up = run_recert(bin, dir, time_out)?;
    if warm_up.files != stats.files as u64 || warm_up.documents != stats.documents as u64 {
        return Err(format!(
            "recert read {} files and {} documents; {} and {} were generated",
            warm_up.files, warm_up.documents, stats.files, stats.documents
        ));
    }
    let mut runs = Vec::with_capacity(measured);
    for i in 0..measured {
        let run = run_recert(bin, dir, time_out)?;
        println!(
            "  run {}: {:>8.1} ms, peak RSS {}",
            i + 1,
            ms(run.wall),
            run.max_rss_kib.map_or("n/a".to_owned(), mib)
        );
        runs.push(run);
    }

    let mut walls: Vec<Duration> = runs.iter().map(|r| r.wall).collect();
    walls.sort_unstable();
    let min = walls[0];
    let median = if walls.len() % 2 == 1 {
        walls[walls.len() / 2]
    } else {
        (walls[walls.len() / 2 - 1] + walls[walls.len() / 2]) / 2
    };
    let peak = runs.iter().filter_map(|r| r.max_rss_kib).max();
    let per_second = |d: Duration| stats.files as f64 / d.as_secs_f64();

    println!();
    println!(
        "recert validate: {} files, {} documents, 0 findings",
        stats.files, stats.documents
    );
    println!("  +--------------------+---------------+");
    println!("  | metric             |         value |");
    println!("  +--------------------+---------------+");
    println!("  | files              | {:>13} |", stats.files);
    println!("  | documents          | {:>13} |", stats.documents);
    println!(
        "  | MiB of YAML        | {:>13.1} |",
        stats.bytes as f64 / (1024.0 * 1024.0)
    );
    println!("  | runs               | {:>13} |", runs.len());
    println!("  | wall time, min     | {:>10.1} ms |", ms(min));
    println!("  | wall time, median  | {:>10.1} ms |", ms(median));
    println!("  | files/s (median)   | {:>13.0} |", per_second(median));
    println!("  | files/s (best)     | {:>13.0} |", per_second(min));
    println!(
        "  | peak memory (RSS)  | {:>13} |",
        peak.map_or("n/a".to_owned(), mib)
    );
    println!("  +--------------------+---------------+");
    Ok(ExitCode::SUCCESS)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

// ---------------------------------------------------------------------------------------------
// Many findings in one file

const FINDINGS_DIRECTORY: &str = "apiVersion: recert.dev/v1alpha1
kind: Directory
metadata: {name: corp}
spec:
  type: file
  file: {path: data.yaml}
---
apiVersion: recert.dev/v1alpha1
kind: DirectoryData
metadata: {name: corp}
spec:
  users: [{id: u-a, userPrincipalName: a@corp.example}]
  roles: [{id: r-ga, displayName: Global Administrator}]
";

fn findings_review(name: &str, directory: &str) -> String {
    format!(
        "apiVersion: recert.dev/v1alpha1
kind: AccessReview
metadata: {{name: {name}}}
spec:
  directory: {directory}
  displayName: Global Administrators
  scope: {{role: {{name: Global Administrator}}}}
  reviewers: {{type: self}}
  schedule: {{start: 2026-12-01, durationDays: 14}}
---
"
    )
}

/// Times `recert validate` on one file of `n` unresolved references and `n` duplicate names.
fn bench_findings(n: usize, runs: usize) -> Result<ExitCode> {
    let dir = tempfile::Builder::new()
        .prefix("recert-bench-findings-")
        .tempdir()
        .map_err(|e| format!("cannot create a temp dir: {e}"))?;
    let write = |name: &str, text: &str| {
        std::fs::write(dir.path().join(name), text).map_err(|e| format!("cannot write: {e}"))
    };
    write("data.yaml", FINDINGS_DIRECTORY)?;
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&findings_review(
            &format!("lost-{i}"),
            &format!("nowhere-{i}"),
        ));
    }
    for _ in 0..n {
        text.push_str(&findings_review("twin", "corp"));
    }
    write("many.yaml", &text)?;
    let bin = Path::new(env!("CARGO_BIN_EXE_recert"));
    let expected = (2 * n).saturating_sub(1);
    println!(
        "running {} validate --format json on {} documents ({n} unresolved references, {n} with one name; 1 warm-up + {runs} measured)",
        bin.display(),
        2 * n + 2
    );
    let mut walls = Vec::with_capacity(runs);
    for i in 0..=runs {
        let started = Instant::now();
        let output = Command::new(bin)
            .args(["validate", "--format", "json"])
            .arg(dir.path())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
        let wall = started.elapsed();
        let report: serde_json::Value = serde_json::from_slice(&output.stdout)
            .map_err(|e| format!("recert printed no JSON report ({e})"))?;
        let found = report["diagnostics"].as_array().map_or(0, Vec::len);
        if found != expected {
            return Err(format!("recert reported {found} findings, not {expected}"));
        }
        if i > 0 {
            println!("  run {i}: {:>8.1} ms", ms(wall));
            walls.push(wall);
        }
    }
    walls.sort_unstable();
    println!(
        "recert validate, {expected} findings in one file: min {:.1} ms, median {:.1} ms",
        ms(walls[0]),
        ms(walls[walls.len() / 2])
    );
    Ok(ExitCode::SUCCESS)
}

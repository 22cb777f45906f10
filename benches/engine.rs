//! Engine benchmark: 1,000 reviews over 100,000 assignments in the embedded file directory.
//!
//! ```text
//! cargo bench --bench engine -- [--reviews N] [--assignments N]
//! cargo bench --bench engine -- --generate-only DIR   # write the manifests and stop (profiling)
//! ```
//!
//! Reports, in process: the first full reconcile (every instance starts: the directory is read,
//! 1,000 snapshots are taken, every decision file is recorded, state, status, results and
//! audit are written), a second full reconcile with nothing to do, and an incremental
//! reconcile after one decision file changes (that file parsed, that review reconciled and
//! its records written — what the daemon does per file event), with peak memory.

#![allow(
    clippy::print_stdout,
    reason = "a benchmark reports on standard output"
)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::Parser as _;
use recert::context::Context;
use recert::directory::registry::Directories;
use recert::execute;
use recert::load::{self, SchemaSet};
use recert::model::Resource;
use recert::model::review::Timestamp;
use recert::reconcile::{self, DecisionFile, Desired, Observed};
use recert::store::Store;
use recert_testkit::bench;

// The allocator the `recert` binary uses, so that these figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Engine benchmark: 1,000 reviews over 100,000 assignments in the embedded file directory.
#[derive(Debug, clap::Parser)]
#[command(bin_name = "cargo bench --bench engine --")]
struct Args {
    #[command(flatten)]
    set: bench::ReviewSet,
    #[command(flatten)]
    work: bench::WorkDir,
    #[command(flatten)]
    _cargo: bench::Cargo,
}

/// Resets the kernel's peak-RSS counter for this process (Linux 4.0+), so the next reading is
/// the peak of what follows.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(f64::NAN);
    kib / 1024.0
}

/// Waits until everything written so far is on disk, so that a measured pass does not also
/// pay for the write-back of what the previous one wrote (a first pass writes 125 MB).
fn settle() {
    let _ = std::process::Command::new("sync").status();
}

/// CPU time this process has used, user and system, in seconds (Linux: `/proc/self/stat`,
/// in clock ticks of 1/100 s, the value of `CLK_TCK` on Linux's common architectures); NaN
/// elsewhere. With the wall time it tells a slow disk from a busy processor.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name in parentheses may hold spaces: count fields after its `)`.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the `)`.
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => (user + system) / 100.0,
        _ => f64::NAN,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let args = Args::parse();
    let (reviews, assignments) = (args.set.reviews, args.set.assignments);
    if let Some(dir) = &args.set.generate_only {
        recert_testkit::manifests::generate(dir, reviews, assignments, "2026-12-01");
        return;
    }
    let dir = args
        .work
        .create(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")));
    let manifests = dir.path().join("manifests");
    recert_testkit::manifests::generate(&manifests, reviews, assignments, "2026-12-01");
    let store = Store::open(&dir.path().join("state")).expect("state dir");
    let paths = vec![manifests.clone()];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let now = Timestamp::parse("2026-12-02T09:00:00Z").expect("time");
    let ctx = Context::at(Some(now));
    let options = load::Options::default();
    // One pass over the generated manifests into `store`, writing or only planning.
    let run_pass = |store: &Store, write: bool| {
        rt.block_on(execute::load_and_run(
            &ctx, &paths, &options, store, write, None,
        ))
    };

    // The first reconcile runs first, in a process that has only generated files so far, so
    // its peak memory is its own.
    settle();
    reset_peak();
    let cpu = cpu_seconds();
    let started = Instant::now();
    let first = run_pass(&store, true);
    let full = started.elapsed();
    let mut first_cpu = vec![cpu_seconds() - cpu];
    let full_peak = peak_mib();
    assert!(
        first.report.errors.is_empty() && first.manifest_errors().next().is_none(),
        "the generated set reconciles cleanly: {:?}",
        first.report.errors
    );
    let started_instances = first
        .report
        .plan
        .reviews
        .iter()
        .filter(|r| {
            r.changes
                .iter()
                .any(|c| matches!(c, reconcile::Change::InstanceStarted { .. }))
        })
        .count();
    assert_eq!(started_instances, reviews);
    drop(first);
    // Two more first passes, each into a state directory of its own: one sample of a pass
    // that creates five thousand files says as much about the file system's mood as about
    // Recert.
    let mut firsts = vec![full];
    for run in 1..3 {
        let fresh = Store::open(&dir.path().join(format!("state-first-{run}"))).expect("state dir");
        settle();
        let cpu = cpu_seconds();
        let started = Instant::now();
        drop(run_pass(&fresh, true));
        firsts.push(started.elapsed());
        first_cpu.push(cpu_seconds() - cpu);
    }
    firsts.sort();
    first_cpu.sort_by(f64::total_cmp);

    // How the first pass divides: loading alone, and loading + observing + planning (into a
    // fresh state directory, so every instance starts again).
    let started = Instant::now();
    drop(load::load(
        &paths,
        &load::Options::default(),
        &SchemaSet::new(),
    ));
    let load_time = started.elapsed();
    let fresh = Store::open(&dir.path().join("state-fresh")).expect("state dir");
    let started = Instant::now();
    drop(run_pass(&fresh, false));
    let plan_time = started.elapsed();

    let mut steady = Vec::new();
    settle();
    for _ in 0..3 {
        let started = Instant::now();
        let pass = run_pass(&store, true);
        steady.push(started.elapsed());
        assert!(pass.report.plan.is_empty(), "nothing to do the second time");
    }
    steady.sort();

    // Incremental: the daemon keeps the loaded set; one decisions file changes.
    let loaded = load::load(&paths, &load::Options::default(), &SchemaSet::new());
    let desired_all: Desired = execute::desired(&loaded);
    let mut incremental = Vec::new();
    for round in 0..20 {
        let r = 1 + 2 * round;
        let name = format!("review-{r:04}");
        let file = manifests.join(format!("decisions/{name}.yaml"));
        let mut text = std::fs::read_to_string(&file).expect("decisions");
        text = text.replacen("decision: approve", "decision: deny", 1);
        std::fs::write(&file, text).expect("edit");

        let started = Instant::now();
        let changed = load::load(
            std::slice::from_ref(&file),
            &load::Options::default(),
            &SchemaSet::new(),
        );
        let mut desired = Desired::default();
        let mut review = desired_all.reviews[&name].clone();
        review.decisions = changed
            .docs
            .iter()
            .filter_map(|d| match &d.resource {
                Resource::ReviewDecisions(x) => Some(DecisionFile {
                    source: file.display().to_string(),
                    spec: x.spec.clone(),
                    recorded_at: None,
                }),
                _ => None,
            })
            .collect();
        desired.reviews.insert(name.clone(), review);
        let (stored, _) = store.load_some(std::iter::once(name.as_str()));
        let recorded: BTreeMap<_, _> = stored.into_iter().map(|(k, v)| (k, v.state)).collect();
        let plan = reconcile::reconcile(&desired, Observed::default(), &recorded, now);
        let mut directories = Directories::new(&loaded);
        let carried = rt.block_on(execute::carry_out_plan(
            &ctx,
            &store,
            plan,
            &mut directories,
            now,
            None,
        ));
        incremental.push(started.elapsed());
        assert!(carried.errors.is_empty(), "{:?}", carried.errors);
        assert!(
            carried.plan.reviews[0]
                .changes
                .iter()
                .any(|c| matches!(c, reconcile::Change::DecisionRecorded { .. })),
            "the change is recorded"
        );
    }
    incremental.sort();
    let p = |v: &[Duration], q: f64| ms(v[((v.len() as f64 - 1.0) * q).round() as usize]);

    let data_bytes = std::fs::metadata(manifests.join("data.yaml"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "engine benchmark: {reviews} reviews, {assignments} assignments (data file {:.1} MiB), {} manifest files",
        data_bytes as f64 / 1_048_576.0,
        2 + 2 * reviews
    );
    println!(
        "  full reconcile, first (all instances start):  {:>8.1} ms   (median of 3; min {:.1}, max {:.1})   peak RSS {full_peak:.0} MiB",
        p(&firsts, 0.5),
        p(&firsts, 0.0),
        p(&firsts, 1.0)
    );
    println!(
        "    (CPU time, user and system, median {:.2} s; alone: loading and validating the manifests {:.1} ms; load + observe + reconcile {:.1} ms)",
        first_cpu[first_cpu.len() / 2],
        ms(load_time),
        ms(plan_time)
    );
    println!(
        "  full reconcile, nothing to do (median of 3):  {:>8.1} ms",
        p(&steady, 0.5)
    );
    println!(
        "  incremental, one decision file (20 runs):     p50 {:>6.2} ms   p95 {:>6.2} ms   max {:>6.2} ms",
        p(&incremental, 0.5),
        p(&incremental, 0.95),
        p(&incremental, 1.0)
    );
}

//! Daemon benchmark: event-to-status latency, and CPU used while idle.
//!
//! ```text
//! cargo bench --bench daemon -- [--reviews N] [--assignments N] [--edits N] [--idle SECONDS]
//! cargo bench --bench daemon -- --generate-only DIR    # only write the manifests
//! ```
//!
//! Generates the engine benchmark's manifests (1,000 reviews over 100,000 assignments by
//! default) with every review in progress, starts the real `recert run` on them, and waits for
//! `/readyz`. Then, `--edits` times (200 by default), it rewrites one decisions file the way
//! git and editors do (a new file renamed over the old one), flipping one decision, and
//! measures the time until that review's `status.yaml` changes. Last, it leaves the daemon
//! alone for `--idle` seconds (60) and reads the CPU time it used from `/proc/PID/stat`.

#![allow(
    clippy::print_stdout,
    reason = "a benchmark reports on standard output"
)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser as _;
use recert_testkit::bench;

/// Daemon benchmark: event-to-status latency, and CPU used while idle.
#[derive(Debug, clap::Parser)]
#[command(bin_name = "cargo bench --bench daemon --")]
struct Args {
    #[command(flatten)]
    set: bench::ReviewSet,
    /// Decisions files to edit, one at a time, each timed to its status
    #[arg(long, default_value_t = 200, value_name = "N")]
    edits: usize,
    /// Seconds to leave the daemon alone while its CPU time is read
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    idle: u64,
    #[command(flatten)]
    work: bench::WorkDir,
    #[command(flatten)]
    _cargo: bench::Cargo,
}

fn http_status(addr: &str, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

/// User plus system CPU time of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 =
        fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    // CLK_TCK is 100 on Linux for every architecture Rust targets here.
    ticks / 100.0
}

fn peak_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(f64::NAN)
        / 1024.0
}

fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp~");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

fn main() {
    let args = Args::parse();
    let (reviews, assignments) = (args.set.reviews, args.set.assignments);
    let (edits, idle) = (args.edits, args.idle);
    let dir = args.work.create(Path::new(env!("CARGO_TARGET_TMPDIR")));
    let manifests = dir.path().join("manifests");
    let yesterday = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24);
    let start = yesterday
        .round(jiff::Unit::Second)
        .expect("round")
        .to_string();
    if let Some(out) = &args.set.generate_only {
        recert_testkit::manifests::generate(out, reviews, assignments, &start);
        return;
    }
    recert_testkit::manifests::generate(&manifests, reviews, assignments, &start);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr = format!("127.0.0.1:{port}");

    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_recert"))
        .args([
            "run",
            "manifests",
            "--state-dir",
            "state",
            "--listen",
            &addr,
        ])
        .args(["--log", "warn", "--debounce", "10ms", "--resync", "1h"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("recert run starts");
    let pid = child.id();
    while http_status(&addr, "/readyz") != Some(200) {
        assert!(
            child.try_wait().expect("wait").is_none(),
            "recert run exited"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let first = started.elapsed();

    let mut latencies = Vec::with_capacity(edits);
    for i in 0..edits {
        let r = (i * 7919) % reviews;
        let file = manifests.join(format!("decisions/review-{r:04}.yaml"));
        let status_path = dir
            .path()
            .join(format!("state/reviews/review-{r:04}/status.yaml"));
        let before = std::fs::read(&status_path).expect("status");
        let text = std::fs::read_to_string(&file).expect("decisions");
        let flipped = if text.contains("decision: deny") {
            text.replacen("decision: deny", "decision: approve", 1)
        } else {
            text.replacen("decision: approve", "decision: deny", 1)
        };
        let t0 = Instant::now();
        write_atomically(&file, &flipped);
        loop {
            if std::fs::read(&status_path).is_ok_and(|now| now != before) {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "edit {i} of review-{r:04} never reached its status"
            );
            std::thread::sleep(Duration::from_micros(500));
        }
        latencies.push(t0.elapsed());
    }
    latencies.sort();

    std::thread::sleep(Duration::from_secs(2));
    let cpu_before = cpu_seconds(pid);
    std::thread::sleep(Duration::from_secs(idle));
    let cpu_idle = cpu_seconds(pid) - cpu_before;
    let peak = peak_mib(pid);

    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p = |q: f64| ms(latencies[((latencies.len() as f64 - 1.0) * q).round() as usize]);
    println!(
        "recert run: {reviews} reviews over {assignments} assignments, every review in progress"
    );
    println!(
        "  start to /readyz (first full reconcile): {:>8.0} ms",
        ms(first)
    );
    println!(
        "  event-to-status latency ({edits} edits):  p50 {:>6.1} ms   p99 {:>6.1} ms   max {:>6.1} ms",
        p(0.5),
        p(0.99),
        p(1.0)
    );
    println!("  CPU used over {idle} idle seconds:          {cpu_idle:>6.2} s");
    println!("  peak memory of the daemon:                {peak:>6.0} MiB");
}

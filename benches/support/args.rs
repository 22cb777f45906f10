//! Command-line values of the benchmarks (no harness, no argument crate).

/// The value after `name`, or `default` when it is missing or does not parse.
pub fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Where a benchmark puts its files: `--dir DIR`, else the folder cargo sets aside for
/// benchmarks in `target/`. Not the system temp folder: that is tmpfs on many machines (fsync
/// free, figures too good) and, on ext4 without a journal, may sit in a block group where
/// every new inode costs ten times more than elsewhere on the same disk.
#[allow(dead_code)]
pub fn work_dir() -> tempfile::TempDir {
    let parent = arg("--dir", String::new());
    let parent = if parent.is_empty() {
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
    } else {
        std::path::PathBuf::from(parent)
    };
    std::fs::create_dir_all(&parent).expect("benchmark folder");
    tempfile::tempdir_in(&parent).expect("temp dir")
}

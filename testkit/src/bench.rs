//! The benchmarks' shared command-line arguments (clap, flattened into each benchmark's own).

use std::path::{Path, PathBuf};

/// What `cargo bench` itself passes: `--bench`, to every benchmark binary.
#[derive(Debug, clap::Args)]
pub struct Cargo {
    /// Set by `cargo bench`; means nothing here.
    #[arg(long = "bench", hide = true)]
    pub bench: bool,
}

/// Where a benchmark puts its files.
#[derive(Debug, clap::Args)]
pub struct WorkDir {
    /// Work in a new folder inside DIR [default: the folder cargo sets aside for benchmarks,
    /// target/tmp]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

impl WorkDir {
    /// A new folder inside `--dir`, else inside `default`: the benchmark's
    /// `env!("CARGO_TARGET_TMPDIR")`, which cargo sets only when it builds benchmarks and
    /// integration tests. Not the system temp folder: that is tmpfs on many machines (fsync
    /// free, figures too good) and, on ext4 without a journal, may sit in a block group where
    /// every new inode costs ten times more than elsewhere on the same disk.
    pub fn create(&self, default: &Path) -> tempfile::TempDir {
        let parent = self.dir.as_deref().unwrap_or(default);
        std::fs::create_dir_all(parent).expect("benchmark folder");
        tempfile::tempdir_in(parent).expect("temp dir")
    }
}

/// The size of the generated review set ([`crate::manifests`]) of the engine and daemon
/// benchmarks.
#[derive(Debug, clap::Args)]
pub struct ReviewSet {
    /// Reviews, each over a role of its own
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub reviews: usize,
    /// Role assignments in all
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub assignments: usize,
    /// Only write the manifests into DIR, and stop (for profiling)
    #[arg(long, value_name = "DIR")]
    pub generate_only: Option<PathBuf>,
}

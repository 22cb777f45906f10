//! `recert audit verify`, `audit checkpoint` and `audit keygen`: the evidence in the state
//! directory, and the key that signs its checkpoints.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::audit::{checkpoint, state_dir};
use crate::store::Store;

use super::Outcome;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check every review's audit trail (live and archived): edits, deletions, reordering,
    /// truncation, files changed after Recert wrote them and, with --public-key, the latest
    /// signed checkpoint.
    Verify {
        #[arg(long, env = "RECERT_STATE_DIR", value_name = "DIR")]
        state_dir: PathBuf,
        /// The checkpoints' public key (PEM); outside the state directory.
        #[arg(long, env = "RECERT_PUBLIC_KEY_FILE", value_name = "FILE")]
        public_key: Option<PathBuf>,
        /// A checkpoint kept outside the state directory (`recert audit checkpoint`'s output),
        /// checked as well as the state directory's.
        #[arg(long, value_name = "FILE", requires = "public_key")]
        checkpoint: Option<PathBuf>,
    },
    /// Print the latest signed checkpoint (JSON), to keep a copy outside the state directory.
    Checkpoint {
        #[arg(long, env = "RECERT_STATE_DIR", value_name = "DIR")]
        state_dir: PathBuf,
    },
    /// Make an Ed25519 key pair for signing checkpoints (PEM; the private key mode 0600).
    Keygen {
        /// Where to write the private key (PKCS#8); never overwritten.
        #[arg(long, value_name = "FILE")]
        private_key: PathBuf,
        /// Where to write the public key (SubjectPublicKeyInfo); never overwritten.
        #[arg(long, value_name = "FILE")]
        public_key: PathBuf,
    },
}

pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    match &args.command {
        Command::Verify {
            state_dir,
            public_key,
            checkpoint,
        } => verify(state_dir, public_key.as_deref(), checkpoint.as_deref()),
        Command::Checkpoint { state_dir } => print_checkpoint(state_dir),
        Command::Keygen {
            private_key,
            public_key,
        } => keygen(private_key, public_key),
    }
}

fn open(state_dir: &Path) -> anyhow::Result<Store> {
    Store::open(state_dir)
        .with_context(|| format!("cannot open the state directory {}", state_dir.display()))
}

fn verify(
    state_dir: &Path,
    public_key: Option<&Path>,
    kept: Option<&Path>,
) -> anyhow::Result<Outcome> {
    let key = public_key
        .map(|p| checkpoint::VerifyingKey::load(p, state_dir))
        .transpose()?;
    let kept = kept
        .map(|p| checkpoint::read(p).map(|c| (p.display().to_string(), c)))
        .transpose()?;
    let store = open(state_dir)?;
    let report = state_dir::verify(
        &store,
        state_dir::Signed {
            key: key.as_ref(),
            kept,
        },
    );
    for finding in &report.findings {
        super::out(&format!("{finding}\n"))?;
    }
    super::err(&format!(
        "verified {} audit trails, {} records{}: {} problems\n",
        report.trails,
        report.records,
        if key.is_some() {
            " and the signed checkpoint"
        } else {
            ""
        },
        report.findings.len()
    ))?;
    Ok(if report.findings.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}

fn print_checkpoint(state_dir: &Path) -> anyhow::Result<Outcome> {
    let store = open(state_dir)?;
    match checkpoint::latest(&store)? {
        Some(checkpoint) => {
            super::out(&format!("{}\n", serde_json::to_string(&checkpoint)?))?;
            Ok(Outcome::Clean)
        }
        None => {
            super::err(&format!(
                "{}: no signed checkpoint yet (the daemon and `recert reconcile` write one with --signing-key)\n",
                store.root().join(checkpoint::FILE).display()
            ))?;
            Ok(Outcome::Findings)
        }
    }
}

fn keygen(private_key: &Path, public_key: &Path) -> anyhow::Result<Outcome> {
    let (private, public) = checkpoint::generate()?;
    write_new(private_key, private.as_bytes(), 0o600)?;
    write_new(public_key, public.as_bytes(), 0o644)?;
    super::err(&format!(
        "wrote {} (keep it secret, outside the state directory) and {}\n",
        private_key.display(),
        public_key.display()
    ))?;
    Ok(Outcome::Clean)
}

/// Creates `path` with `mode`; an existing file (or link) is never replaced: losing a signing
/// key to a typo would orphan every checkpoint it signed.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The signing key for a command that writes the state, read before the pass so that a bad
/// key stops it before anything is written.
pub(crate) fn signing_key(
    path: Option<&Path>,
    state_dir: &Path,
) -> anyhow::Result<Option<checkpoint::SigningKey>> {
    Ok(path
        .map(|p| checkpoint::SigningKey::load(p, state_dir))
        .transpose()?)
}

/// Signs the heads after a pass, when a key was given.
pub(crate) fn sign(
    store: &Store,
    key: Option<&checkpoint::SigningKey>,
    now: crate::model::review::Timestamp,
) -> anyhow::Result<()> {
    if let Some(key) = key {
        checkpoint::sign(store, key, now).context("cannot sign the checkpoint")?;
    }
    Ok(())
}

/// The state directory's lock, for every command that writes the state: one Recert at a time.
pub(crate) fn lock(state_dir: &Path) -> anyhow::Result<crate::daemon::lock::StateLock> {
    Ok(crate::daemon::lock::StateLock::acquire(state_dir)?)
}

//! `recert report`: an instance's auditor's report, written atomically or printed.

use std::path::PathBuf;

use anyhow::Context;

use crate::store::Store;

use super::Outcome;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The review.
    pub review: String,
    /// The instance (its id, the start date); the latest by default.
    #[arg(long)]
    pub instance: Option<String>,
    #[arg(long, env = "RECERT_STATE_DIR", value_name = "DIR")]
    pub state_dir: PathBuf,
    /// Write the report to this file (atomically) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Writes the report; exits 1 when it had to say that the audit trail is broken, so that a
/// script collecting evidence notices.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let store = Store::open(&args.state_dir).with_context(|| {
        format!(
            "cannot open the state directory {}",
            args.state_dir.display()
        )
    })?;
    let report = crate::report::for_review(&store, &args.review, args.instance.as_deref())?;
    match &args.output {
        Some(path) => crate::fsutil::write_atomic(path, report.html.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => super::out(&report.html)?,
    }
    if let Some(broken) = report.broken {
        super::err(&format!(
            "recert: the audit trail of `{}` does not verify, as the report says: {broken}\n",
            args.review
        ))?;
        return Ok(Outcome::Findings);
    }
    Ok(Outcome::Clean)
}

//! `recert plan`, `reconcile`, `export`, `pending` and `audit verify`: the engine from the
//! command line. `--now` replaces the clock for drills and tests.

use std::path::PathBuf;

use anyhow::Context;

use crate::cli::render;
use crate::execute;
use crate::model::review::Timestamp;
use crate::printable::escape;
use crate::store::Store;

use super::Outcome;

#[derive(Debug, clap::Args)]
pub struct EngineArgs {
    /// Manifest files and folders.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Where status, results, audit trail and state are kept (not inside the manifests).
    #[arg(long, env = "RECERT_STATE_DIR", value_name = "DIR")]
    pub state_dir: PathBuf,
    /// The time to reconcile at (RFC 3339 or a date), instead of the clock.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<Timestamp>,
}

#[derive(Debug, clap::Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// The manifests' revision (a commit), recorded in each status.
    #[arg(long, env = "RECERT_REVISION")]
    pub revision: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The review.
    pub review: String,
    /// The instance (its id, the start date); the latest by default.
    #[arg(long)]
    pub instance: Option<String>,
    #[arg(long, env = "RECERT_STATE_DIR", value_name = "DIR")]
    pub state_dir: PathBuf,
    /// Write the CSV to this file (atomically) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct PendingArgs {
    /// The reviewer: a user id or user principal name.
    #[arg(long)]
    pub reviewer: String,
    #[arg(long, env = "RECERT_STATE_DIR", value_name = "DIR")]
    pub state_dir: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Check every audit trail (live and archived) for edits, deletions and reordering.
    Verify {
        #[arg(long, env = "RECERT_STATE_DIR", value_name = "DIR")]
        state_dir: PathBuf,
    },
}

fn parse_time(s: &str) -> Result<Timestamp, String> {
    Timestamp::parse(s)
}

fn now(arg: Option<Timestamp>) -> Timestamp {
    arg.unwrap_or_else(|| Timestamp(jiff::Timestamp::now()))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn report_manifests(pass: &execute::Pass) -> anyhow::Result<()> {
    let diagnostics: Vec<_> = pass.loaded.diagnostics.clone();
    if !diagnostics.is_empty() {
        super::err(&render::human(&diagnostics, &pass.loaded.sources))?;
    }
    for error in &pass.store_errors {
        super::err(&format!("error: {}\n", escape(error)))?;
    }
    for (review, error) in &pass.errors {
        super::err(&format!("error: review {review}: {}\n", escape(error)))?;
    }
    Ok(())
}

pub fn plan(args: &EngineArgs) -> anyhow::Result<Outcome> {
    let store = Store::open(&args.state_dir).with_context(|| {
        format!(
            "cannot open the state directory {}",
            args.state_dir.display()
        )
    })?;
    let pass = runtime()?.block_on(execute::plan(&args.paths, &store, now(args.now)));
    report_manifests(&pass)?;
    if pass.plan.is_empty() {
        super::out("No changes: the reviews are up to date.\n")?;
    } else {
        super::out(&pass.plan.to_string())?;
    }
    Ok(if !pass.store_errors.is_empty() {
        Outcome::Error
    } else if !pass.plan.is_empty() {
        Outcome::Changes
    } else if pass.manifest_errors().next().is_some() || !pass.errors.is_empty() {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

pub fn reconcile(args: &ReconcileArgs) -> anyhow::Result<Outcome> {
    let engine = &args.engine;
    let store = Store::open(&engine.state_dir).with_context(|| {
        format!(
            "cannot open the state directory {}",
            engine.state_dir.display()
        )
    })?;
    let pass = runtime()?.block_on(execute::reconcile_once(
        &engine.paths,
        &store,
        now(engine.now),
        args.revision.as_deref(),
    ));
    report_manifests(&pass)?;
    super::out(&pass.plan.to_string())?;
    Ok(if !pass.store_errors.is_empty() {
        Outcome::Error
    } else if pass.manifest_errors().next().is_some() || !pass.errors.is_empty() {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

pub fn export(args: &ExportArgs) -> anyhow::Result<Outcome> {
    let store = Store::open(&args.state_dir).with_context(|| {
        format!(
            "cannot open the state directory {}",
            args.state_dir.display()
        )
    })?;
    let csv = execute::results(&store, &args.review, args.instance.as_deref())
        .map_err(anyhow::Error::msg)?;
    match &args.output {
        Some(path) => crate::fsutil::write_atomic(path, csv.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => super::out(&csv)?,
    }
    Ok(Outcome::Clean)
}

pub fn pending(args: &PendingArgs) -> anyhow::Result<Outcome> {
    let store = Store::open(&args.state_dir).with_context(|| {
        format!(
            "cannot open the state directory {}",
            args.state_dir.display()
        )
    })?;
    let items = execute::pending(&store, &args.reviewer);
    if items.is_empty() {
        super::out(&format!("Nothing is waiting for {}.\n", args.reviewer))?;
    }
    for (review, instance, principal, name) in items {
        let [review, instance, principal, name] =
            [review, instance, principal, name].map(|v| escape(&v).into_owned());
        super::out(&format!("{review}\t{instance}\t{principal}\t{name}\n"))?;
    }
    Ok(Outcome::Clean)
}

pub fn audit(args: &AuditArgs) -> anyhow::Result<Outcome> {
    let AuditCommand::Verify { state_dir } = &args.command;
    let store = Store::open(state_dir)
        .with_context(|| format!("cannot open the state directory {}", state_dir.display()))?;
    let mut failed = false;
    let mut records = 0;
    let logs = store.audit_logs();
    for (path, head) in &logs {
        match crate::audit::verify(path, head.as_ref()) {
            Ok(n) => records += n,
            Err(e) => {
                failed = true;
                super::out(&format!("{e}\n"))?;
            }
        }
    }
    super::err(&format!(
        "verified {} audit trails, {records} records\n",
        logs.len()
    ))?;
    Ok(if failed {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

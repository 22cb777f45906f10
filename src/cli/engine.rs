//! `recert plan`, `reconcile`, `export` and `pending`: the engine from the
//! command line. `--now` replaces the clock for drills and tests.

use std::path::PathBuf;

use anyhow::Context;

use crate::cli::render;
use crate::execute;
use crate::model::review::Timestamp;
use crate::printable::escape;
use crate::query;
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
    #[command(flatten)]
    pub trust: super::trust::TrustArgs,
}

#[derive(Debug, clap::Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// The manifests' revision (a commit), recorded in each status.
    #[arg(long, env = "RECERT_REVISION")]
    pub revision: Option<String>,
    /// Sign a checkpoint of every audit chain's head with this Ed25519 key (PEM, outside the
    /// state directory) when the pass moved one.
    #[arg(long, env = "RECERT_SIGNING_KEY_FILE", value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
    /// After the pass, deliver the notifications that are due (and retries that fall due)
    /// for at most this many seconds; what is left waits in the outbox for the next run.
    /// 0 delivers nothing.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub deliver_timeout: u64,
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

fn parse_time(s: &str) -> Result<Timestamp, String> {
    Timestamp::parse(s).map_err(|e| e.to_string())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn report_manifests(run: &execute::Run) -> anyhow::Result<()> {
    let diagnostics: Vec<_> = run.loaded.diagnostics.clone();
    if !diagnostics.is_empty() {
        super::err(&render::human(&diagnostics, &run.loaded.sources))?;
    }
    for error in &run.report.store_errors {
        super::err(&format!("error: {}\n", escape(&error.to_string())))?;
    }
    for (review, error) in &run.report.errors {
        super::err(&format!(
            "error: review {review}: {}\n",
            escape(&error.to_string())
        ))?;
    }
    Ok(())
}

pub fn plan(args: &EngineArgs) -> anyhow::Result<Outcome> {
    let options = crate::load::Options::trusting(args.trust.trust());
    let store = Store::open(&args.state_dir).with_context(|| {
        format!(
            "cannot open the state directory {}",
            args.state_dir.display()
        )
    })?;
    let ctx = crate::context::Context::at(args.now);
    let run = runtime()?.block_on(execute::load_and_run(
        &ctx,
        &args.paths,
        &options,
        &store,
        false,
        None,
    ));
    report_manifests(&run)?;
    let report = &run.report;
    if report.plan.is_empty() {
        super::out("No changes: the reviews are up to date.\n")?;
    } else {
        super::out(&report.plan.to_string())?;
    }
    // Errors win over changes: a CI gate that watches for 1 must not miss an error because
    // the same run would also change something.
    Ok(if !report.store_errors.is_empty() {
        Outcome::Error
    } else if run.manifest_errors().next().is_some() || !report.errors.is_empty() {
        Outcome::Findings
    } else if !report.plan.is_empty() {
        Outcome::Changes
    } else {
        Outcome::Clean
    })
}

pub fn reconcile(args: &ReconcileArgs) -> anyhow::Result<Outcome> {
    let engine = &args.engine;
    let options = crate::load::Options::trusting(engine.trust.trust());
    let key = super::audit::signing_key(args.signing_key.as_deref(), &engine.state_dir)?;
    let _lock = super::audit::lock(&engine.state_dir)?;
    let store = Store::open(&engine.state_dir).with_context(|| {
        format!(
            "cannot open the state directory {}",
            engine.state_dir.display()
        )
    })?;
    let ctx = crate::context::Context::at(engine.now);
    let runtime = runtime()?;
    let mut run = runtime.block_on(execute::load_and_run(
        &ctx,
        &engine.paths,
        &options,
        &store,
        true,
        args.revision.as_deref(),
    ));
    // Nothing waits in any outbox the pass saw: no need to read every state again.
    let waiting = run
        .report
        .states
        .values()
        .any(|s| s.notifications_pending > 0);
    let delivered = if args.deliver_timeout > 0 && waiting {
        let timeout = std::time::Duration::from_secs(args.deliver_timeout);
        Some(runtime.block_on(execute::deliver_and_fold(
            &ctx,
            &run.loaded,
            &store,
            timeout,
            args.revision.as_deref(),
        ))?)
    } else {
        None
    };
    super::audit::sign(&store, key.as_ref(), ctx.now())?;
    report_manifests(&run)?;
    super::out(&run.report.plan.to_string())?;
    if let Some(delivered) = delivered {
        if let Some(report) = delivered.report {
            // The folding pass's changes (each delivery) after the main pass's.
            super::out(&report.plan.to_string())?;
            run.report.errors.extend(report.errors);
            run.report.store_errors.extend(report.store_errors);
            run.report.states.extend(report.states);
        }
        let round = &delivered.round;
        if round.delivered + round.retrying + round.failed > 0 || delivered.waiting > 0 {
            super::out(&format!(
                "\nNotifications: {} delivered, {} failed, {} waiting for a retry.\n",
                round.delivered, round.failed, delivered.waiting
            ))?;
        }
    }
    super::out(&where_reviews_stand(&run.report, &engine.state_dir))?;
    Ok(if !run.report.store_errors.is_empty() {
        Outcome::Error
    } else if run.manifest_errors().next().is_some() || !run.report.errors.is_empty() {
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
    let csv = query::results(&store, &args.review, args.instance.as_deref())?;
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
    let items = query::pending(&store, &args.reviewer);
    if items.is_empty() {
        super::out(&format!("Nothing is waiting for {}.\n", args.reviewer))?;
    }
    for item in items {
        let [review, instance, principal, name] = [
            &item.review,
            &item.instance,
            &item.principal,
            &item.display_name,
        ]
        .map(|v| escape(v).into_owned());
        // A multi-stage review's lines go on with the stage in progress and what the earlier
        // stages decided; a single-stage review's are as they always were.
        let mut staged = String::new();
        if let Some(stage) = &item.stage {
            staged.push('\t');
            staged.push_str(&escape(stage));
            for earlier in &item.earlier {
                staged.push('\t');
                staged.push_str(&escape(earlier));
            }
        }
        super::out(&format!(
            "{review}\t{instance}\t{principal}\t{name}{staged}\n"
        ))?;
    }
    Ok(Outcome::Clean)
}

/// After a reconcile, for whoever ran it: where each review stands, where its status is, and
/// what to run next.
fn where_reviews_stand(report: &execute::PassReport, state_dir: &std::path::Path) -> String {
    use std::fmt::Write as _;
    if report.states.is_empty() {
        return String::new();
    }
    let mut text = String::from("\nWhere the reviews stand:\n");
    for (name, summary) in &report.states {
        let total: u64 = summary.decisions.values().sum();
        let undecided = summary.decisions.get("undecided").copied().unwrap_or(0);
        let stand = match summary.phase {
            "Pending" => "not started yet".to_owned(),
            "InProgress" => format!("in progress, {undecided} of {total} items undecided"),
            "Applying" => "applying its results".to_owned(),
            "ApplyBlocked" => "completed; its apply is blocked by a guard".to_owned(),
            "Applied" => "completed and applied".to_owned(),
            "Stopped" => format!("stopped early, {undecided} of {total} items undecided"),
            "Completed" => "completed".to_owned(),
            other => other.to_lowercase(),
        };
        let status = state_dir.join("reviews").join(name).join("status.yaml");
        let _ = writeln!(
            text,
            "  {name}: {stand}\n    status: {}",
            escape(&status.display().to_string())
        );
    }
    let _ = writeln!(
        text,
        "Next: `recert pending --reviewer ID --state-dir {dir}` lists what waits for a reviewer; \
         `recert export REVIEW --state-dir {dir}` prints an instance's results (CSV).",
        dir = escape(&state_dir.display().to_string())
    );
    text
}

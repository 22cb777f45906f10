//! The command line: parses arguments and dispatches to one module per subcommand.
//!
//! Subcommands return an [`ExitCode`]-like [`Outcome`]; `main` maps errors that escape them
//! (usage and I/O problems) to exit code 2.

mod audit;
mod codeowners;
mod decide;
mod engine;
pub mod mask;
mod notify;
pub mod render;
mod report;
mod run;
mod schema;
mod trust;
mod validate;

use std::io::Write;

use clap::{Parser, Subcommand};

/// Privileged-access reviews as code.
#[derive(Debug, Parser)]
#[command(name = "recert", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifests against the schema and Recert's rules; report every problem.
    Validate(validate::Args),
    /// Print, write or check the JSON Schema of Recert's documents.
    Schema(schema::Args),
    /// Show what the next reconcile would do (exit 3 when it would change something).
    Plan(engine::EngineArgs),
    /// Reconcile once: start, stop, reset, complete, remind and apply as the reviews ask.
    Reconcile(engine::ReconcileArgs),
    /// Print an instance's results as CSV.
    Export(engine::ExportArgs),
    /// List the items waiting for a reviewer across all reviews.
    Pending(engine::PendingArgs),
    /// Check the audit trails, print the signed checkpoint, make a signing key.
    Audit(audit::Args),
    /// Generate CODEOWNERS: decisions files to their reviewers' Git owners, the rest to admins.
    Codeowners(codeowners::Args),
    /// Record a decision in the reviewer's decisions file (created, or edited in place).
    Decide(decide::Args),
    /// Run continuously: watch the manifests, follow the schedule, reconcile, serve probes.
    Run(run::Args),
    /// Notifications: preview what would be sent.
    Notify(notify::Args),
    /// Write an instance's auditor's report: one self-contained, printable HTML file.
    Report(report::Args),
}

/// How a command ended, as the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to report.
    Clean = 0,
    /// The command ran and found problems in the input.
    Findings = 1,
    /// Usage or I/O error: the command could not do its job.
    Error = 2,
    /// `recert plan`: the next reconcile would change something.
    Changes = 3,
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Schema(args) => schema::run(&args),
        Command::Plan(args) => engine::plan(&args),
        Command::Reconcile(args) => engine::reconcile(&args),
        Command::Export(args) => engine::export(&args),
        Command::Pending(args) => engine::pending(&args),
        Command::Audit(args) => audit::run(&args),
        Command::Codeowners(args) => codeowners::run(&args),
        Command::Decide(args) => decide::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Notify(args) => notify::run(&args),
        Command::Report(args) => report::run(&args),
    }
}

/// Writes to stdout, treating a closed pipe (`recert validate | head`) as success: the reader
/// has what it wanted, and Rust would otherwise panic on the failed write.
pub(crate) fn out(text: &str) -> anyhow::Result<()> {
    write_ignoring_broken_pipe(&mut std::io::stdout().lock(), text)
}

/// Writes to stderr, where everything is for people: no control character but the line
/// breaks gets through, whichever message forgot to escape its values.
pub(crate) fn err(text: &str) -> anyhow::Result<()> {
    let text = crate::printable::escape_keeping_lines(text);
    write_ignoring_broken_pipe(&mut std::io::stderr().lock(), &text)
}

fn write_ignoring_broken_pipe(w: &mut impl Write, text: &str) -> anyhow::Result<()> {
    match w.write_all(text.as_bytes()).and_then(|()| w.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

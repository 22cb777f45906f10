//! `recert notify preview`: prints exactly what a notification would send (the e-mail's
//! headers, text and HTML; a webhook's, Slack's or Teams' JSON body) without sending it.

use std::path::PathBuf;

use anyhow::Context;

use crate::execute::notices;
use crate::load::{self, SchemaSet};
use crate::model::review::{NotificationEvent, Timestamp};
use crate::notify::render;
use crate::store::Store;

use super::Outcome;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print what an event of a review's latest instance would send to one person, and to
    /// the review's webhook, Slack and Teams notifiers, without sending anything.
    Preview(PreviewArgs),
}

#[derive(Debug, clap::Args)]
pub struct PreviewArgs {
    /// The review.
    pub review: String,
    /// Who receives it: the reviewer (a user id or user principal name) for `instanceStarted`
    /// and `reminder`, the owner for `instanceEnded` and `applied`.
    #[arg(long, visible_alias = "to")]
    pub reviewer: String,
    /// The event.
    #[arg(long, value_enum, default_value = "instance-started")]
    pub event: EventArg,
    /// Manifest files and folders.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// The state directory, so the preview shows the instance as it is recorded (its
    /// decisions, reminders, apply results). Without it, the instance as the manifests and the
    /// directory alone would start it at `--now`.
    #[arg(long, env = "RECERT_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// The time to preview at, instead of the clock.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<Timestamp>,
    #[command(flatten)]
    pub trust: super::trust::TrustArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum EventArg {
    #[value(alias = "instanceStarted")]
    InstanceStarted,
    Reminder,
    /// A later stage of a multi-stage review started.
    #[value(alias = "stageStarted")]
    StageStarted,
    #[value(alias = "instanceEnded")]
    InstanceEnded,
    Applied,
}

impl From<EventArg> for NotificationEvent {
    fn from(e: EventArg) -> NotificationEvent {
        match e {
            EventArg::InstanceStarted => NotificationEvent::InstanceStarted,
            EventArg::Reminder => NotificationEvent::Reminder,
            EventArg::StageStarted => NotificationEvent::StageStarted,
            EventArg::InstanceEnded => NotificationEvent::InstanceEnded,
            EventArg::Applied => NotificationEvent::Applied,
        }
    }
}

fn parse_time(s: &str) -> Result<Timestamp, String> {
    Timestamp::parse(s).map_err(|e| e.to_string())
}

pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    match &args.command {
        Command::Preview(args) => preview(args),
    }
}

fn preview(args: &PreviewArgs) -> anyhow::Result<Outcome> {
    let options = load::Options::trusting(args.trust.trust());
    // Without a state directory, an empty one that is thrown away: nothing is written to it.
    let scratch;
    let state_dir = match &args.state_dir {
        Some(dir) => dir.as_path(),
        None => {
            scratch = tempfile::tempdir().context("cannot make a scratch state directory")?;
            scratch.path()
        }
    };
    let store = Store::open(state_dir)
        .with_context(|| format!("cannot open the state directory {}", state_dir.display()))?;
    let loaded = load::load(&args.paths, &options, &SchemaSet::new());
    let errors: Vec<_> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == crate::diag::Severity::Error)
        .cloned()
        .collect();
    if !errors.is_empty() {
        super::err(&super::render::human(&errors, &loaded.sources))?;
    }
    let ctx = crate::context::Context::at(args.now);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let messages = match runtime.block_on(notices::preview(
        &ctx,
        &loaded,
        &store,
        &args.review,
        args.event.into(),
        &args.reviewer,
    )) {
        Ok(messages) => messages,
        Err(e) => {
            super::err(&format!("error: {e}\n"))?;
            return Ok(Outcome::Findings);
        }
    };
    if messages.is_empty() {
        super::out(&format!(
            "Nothing would be sent to {} for this event (they have no items, or no notifier of the review takes the event).\n",
            args.reviewer
        ))?;
        return Ok(Outcome::Clean);
    }
    for (i, message) in messages.iter().enumerate() {
        if i > 0 {
            super::out("\n")?;
        }
        super::out(&format!(
            "=== {} ({}) {} ===\n",
            message.notifier, message.channel, message.id
        ))?;
        super::out(&render::preview(message))?;
    }
    Ok(Outcome::Clean)
}

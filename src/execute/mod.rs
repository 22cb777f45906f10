//! One reconcile pass, end to end: load the manifests, read the state, read the directory as
//! far as `reconcile::needs` asks, compute the plan, and carry it out — state first, then the
//! directory through the journal, then the audit trail, status and results.
//!
//! - [`pass`]: the pass itself, batch by batch; `recert plan` is the same pass with writing
//!   turned off.
//! - [`record`]: recording one review: its audit events, state, status and results.
//! - [`apply`]: a review's removals, through the journal.
//! - [`remediation`]: the directory read again after them, to prove each access is gone.
//! - `writers`: the threads that record reviews without removals while the pass plans on.
//!
//! Reviews are isolated: a review whose directory cannot be read, or whose state cannot be
//! loaded, reports that in its status (with a [`ReviewError`]'s reason) and the others go on.

pub mod apply;
pub mod notices;
pub mod pass;
pub mod record;
pub mod remediation;
mod writers;

use std::path::PathBuf;

use crate::context::Context;
use crate::diag::{Diagnostic, Severity};
use crate::directory::registry::Directories;
use crate::load::{self, Loaded, SchemaSet};
use crate::store::Store;

pub use crate::error::ReviewError;
pub use pass::{PassOptions, PassReport, carry_out_plan, desired, desired_of, failed_sources};

/// A pass over manifests loaded from paths (the command line's): what was loaded, and what the
/// pass did with it.
#[derive(Debug)]
pub struct Run {
    pub loaded: Loaded,
    pub report: PassReport,
}

impl Run {
    pub fn manifest_errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.loaded
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }
}

/// Loads the manifests under `paths` and runs one pass over every review at the context's
/// time: planning only, or carrying the plan out when `write` is set.
pub async fn load_and_run(
    ctx: &Context,
    paths: &[PathBuf],
    options: &load::Options,
    store: &Store,
    write: bool,
    revision: Option<&str>,
) -> Run {
    let loaded = load::load(paths, options, &SchemaSet::new());
    let mut directories = Directories::new(&loaded);
    let options = PassOptions {
        only: None,
        revision,
        write,
        unconfirmed_deletions: None,
    };
    let report = pass::run(ctx, &loaded, store, &mut directories, ctx.now(), &options).await;
    drop(directories);
    Run { loaded, report }
}

/// What delivering the outboxes did, and the pass that folded its outcomes into the reviews.
#[derive(Debug)]
pub struct Delivered {
    pub round: crate::notify::deliver::Round,
    /// Messages still waiting (due later, or out of time).
    pub waiting: usize,
    pub report: Option<PassReport>,
}

/// Sends what every outbox holds that is due now, for at most `timeout`, then folds the outcomes into the reviews it touched (their status, state and
/// audit trail) with a pass over them alone: `recert reconcile`'s delivery before it exits.
pub async fn deliver_and_fold(
    ctx: &Context,
    loaded: &Loaded,
    store: &Store,
    timeout: std::time::Duration,
    revision: Option<&str>,
) -> Result<Delivered, crate::store::Error> {
    use crate::notify::deliver::{Round, Sender};
    let notifiers = crate::notify::Notifiers::of(loaded);
    let mut sender = Sender::new(store.clone(), notifiers, std::sync::Arc::default());
    sender.load_pending(ctx.now())?;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut total = Round::default();
    // What is due now, and what falls due while this round runs; a retry due later waits
    // for the next run (or the daemon), so a reconcile never sleeps on a mail server.
    while sender.depth() > 0 && !ctx.stop_requested() {
        let round = sender.deliver_due(ctx, Some(deadline)).await;
        let idle = round.delivered + round.retrying + round.failed == 0;
        total.delivered += round.delivered;
        total.retrying += round.retrying;
        total.failed += round.failed;
        total.reviews.extend(round.reviews);
        let due_now = sender.next_due().is_some_and(|due| due <= ctx.now());
        if idle || !due_now || tokio::time::Instant::now() >= deadline {
            break;
        }
    }
    sender.shutdown().await;
    let waiting = sender.depth();
    let report = if total.reviews.is_empty() {
        None
    } else {
        let mut directories = Directories::new(loaded);
        let options = PassOptions {
            only: Some(&total.reviews),
            revision,
            write: true,
            unconfirmed_deletions: None,
        };
        Some(pass::run(ctx, loaded, store, &mut directories, ctx.now(), &options).await)
    };
    Ok(Delivered {
        round: total,
        waiting,
        report,
    })
}

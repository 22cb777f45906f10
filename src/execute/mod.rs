//! One reconcile pass, end to end: load the manifests, read the state, read the directory as
//! far as `reconcile::needs` asks, compute the plan, and carry it out — state first, then the
//! directory through the journal, then the audit trail, status and results.
//!
//! - [`pass`]: the pass itself, batch by batch; `recert plan` is the same pass with writing
//!   turned off.
//! - [`record`]: recording one review: its audit events, state, status and results.
//! - [`apply`]: a review's removals, through the journal.
//! - `writers`: the threads that record reviews without removals while the pass plans on.
//!
//! Reviews are isolated: a review whose directory cannot be read, or whose state cannot be
//! loaded, reports that in its status (with a [`ReviewError`]'s reason) and the others go on.

pub mod apply;
pub mod notices;
pub mod pass;
pub mod record;
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

//! `recert codeowners`: a CODEOWNERS file that gives each decisions file to its reviewer's Git
//! owners and everything else to the admins (see `crate::codeowners`).

use std::path::PathBuf;

use anyhow::Context;

use crate::codeowners::{self, Owners};
use crate::load::{self, SchemaSet};

use super::Outcome;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Manifest files and folders.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// The mapping from reviewers to Git owners, and the admins (YAML).
    #[arg(long, value_name = "FILE")]
    pub owners: PathBuf,
    /// The repository's top folder: CODEOWNERS paths start there.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub root: PathBuf,
    /// Write to this file (atomically) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let owners = Owners::load(&args.owners)?;
    let loaded = load::load(&args.paths, &load::Options::default(), &SchemaSet::new());
    if loaded.has_errors() {
        super::err(&super::render::human(&loaded.diagnostics, &loaded.sources))?;
        super::err("recert codeowners: fix the manifests first (`recert validate`)\n")?;
        return Ok(Outcome::Findings);
    }
    let (text, warnings) = codeowners::render(&loaded, &owners, &args.root);
    match &args.output {
        Some(path) => crate::fsutil::write_atomic(path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => super::out(&text)?,
    }
    for warning in &warnings {
        super::err(&format!("warning: {warning}\n"))?;
    }
    Ok(if warnings.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}

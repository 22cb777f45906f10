//! `recert schema`: prints, writes or checks the published JSON Schema.

use std::path::PathBuf;

use anyhow::Context;

use crate::fsutil::write_atomic;
use crate::schema;

use super::Outcome;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write the schema to this file (atomically) instead of printing it.
    #[arg(long, short, value_name = "FILE", conflicts_with = "check")]
    pub output: Option<PathBuf>,
    /// Compare FILE (default `schemas/recert.schema.json`) with the schema this build
    /// generates; exit 1 when they differ.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = schema::SCHEMA_FILE)]
    pub check: Option<PathBuf>,
}

pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let generated = schema::render();
    if let Some(path) = &args.check {
        let committed = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if committed == generated {
            return Ok(Outcome::Clean);
        }
        super::err(&format!(
            "{} is out of date with the model: run `recert schema --output {}` and commit it\n",
            path.display(),
            path.display()
        ))?;
        return Ok(Outcome::Findings);
    }
    match &args.output {
        Some(path) => write_atomic(path, generated.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => super::out(&generated)?,
    }
    Ok(Outcome::Clean)
}

//! `recert validate PATH...`: every problem in every file, for CI and pre-commit.

use std::path::PathBuf;

use crate::diag::{Code, Severity};
use crate::load::{self, SchemaSet};

use super::Outcome;
use super::render::{self, Counts, Format};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files and folders to check. Folders are walked for `.yaml`/`.yml` files, skipping
    /// hidden entries and paths listed in `.recertignore` files.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// How to report findings.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Treat warnings as findings (exit 1).
    #[arg(long)]
    pub deny_warnings: bool,
    /// Skip files larger than this many bytes, with an error.
    #[arg(long, value_name = "BYTES", default_value_t = load::DEFAULT_MAX_FILE_SIZE)]
    pub max_file_size: u64,
    /// Print findings only, not the summary line.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub trust: super::trust::TrustArgs,
}

pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let schemas = SchemaSet::new();
    let options = load::Options {
        max_file_size: args.max_file_size,
        trust: args.trust.trust(),
    };
    let loaded = load::load_with_directory_data(&args.paths, &options, &schemas);
    let counts = Counts {
        files: loaded.sources.len(),
        documents: loaded.documents_read,
    };
    let diagnostics = &loaded.diagnostics;
    // Human output masks the lines it shows itself; the other formats show none, but their
    // messages may quote a value.
    let masked = match args.format {
        Format::Human => Vec::new(),
        _ => super::mask::diagnostics(diagnostics, &loaded.sources),
    };
    match args.format {
        Format::Human => {
            super::out(&render::human(diagnostics, &loaded.sources))?;
            if !args.quiet {
                super::err(&render::summary(diagnostics, counts))?;
            }
        }
        Format::Github => {
            super::out(&render::github(&masked))?;
            if !args.quiet {
                super::err(&render::summary(diagnostics, counts))?;
            }
        }
        Format::Json => super::out(&render::json(&masked, counts))?,
        Format::Sarif => super::out(&render::sarif(&masked))?,
    }
    let io_failed = diagnostics.iter().any(|d| d.code == Code::Io);
    let findings = diagnostics.iter().any(|d| {
        d.severity == Severity::Error || (args.deny_warnings && d.severity == Severity::Warning)
    });
    Ok(if io_failed {
        Outcome::Error
    } else if findings {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

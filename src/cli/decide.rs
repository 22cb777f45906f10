//! `recert decide`: records one decision in the reviewer's decisions file, creating the file
//! or editing it in place (comments and order kept; see `edit`).

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::edit::{DecideRequest, upsert_decision};
use crate::load::{self, SchemaSet};
use crate::model::Resource;
use crate::model::decisions::Decision;

use super::Outcome;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("decision").required(true).args(["approve", "deny", "dont_know"])))]
pub struct Args {
    /// The review.
    pub review: String,
    /// Who decides: a user id or user principal name.
    #[arg(long)]
    pub reviewer: String,
    /// The principal decided on: a user or group id, or a user principal name.
    #[arg(long)]
    pub principal: String,
    /// Keep the access.
    #[arg(long)]
    pub approve: bool,
    /// Remove the access when the results are applied.
    #[arg(long)]
    pub deny: bool,
    /// Undecided in substance; keeps the access.
    #[arg(long)]
    pub dont_know: bool,
    /// Why. Required by reviews that set `requireJustification`.
    #[arg(long)]
    pub reason: Option<String>,
    /// The instance decided on (its id, the start date); the one in progress by default.
    #[arg(long)]
    pub instance: Option<String>,
    /// The decisions file to write; found under PATH (or created in PATH/decisions/) by default.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The manifests folder.
    #[arg(default_value = ".")]
    pub path: PathBuf,
}

pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let decision = if args.approve {
        Decision::Approve
    } else if args.deny {
        Decision::Deny
    } else {
        Decision::DontKnow
    };
    let slug = slug(&args.reviewer);
    let name: String = format!("{}-{slug}", args.review)
        .chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned();
    let file = match &args.file {
        Some(file) => file.clone(),
        None => find(
            &args.path,
            &args.review,
            &args.reviewer,
            args.instance.as_deref(),
        )
        .unwrap_or_else(|| args.path.join("decisions").join(format!("{name}.yaml"))),
    };
    let existing = match std::fs::read_to_string(&file) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
    };
    let request = DecideRequest {
        name: &name,
        review: &args.review,
        instance: args.instance.as_deref(),
        reviewer: &args.reviewer,
        principal: &args.principal,
        decision,
        reason: args.reason.as_deref(),
    };
    let text = upsert_decision(existing.as_deref(), &request)
        .with_context(|| format!("cannot record the decision in {}", file.display()))?;
    if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    crate::fsutil::write_atomic(&file, text.as_bytes())
        .with_context(|| format!("cannot write {}", file.display()))?;
    let verb = if existing.is_some() {
        "updated"
    } else {
        "created"
    };
    super::out(&format!(
        "{verb} {}: {} {decision} on {}\n",
        file.display(),
        args.reviewer,
        args.principal
    ))?;
    Ok(Outcome::Clean)
}

/// The file already holding this reviewer's decisions on the review, if any.
fn find(path: &Path, review: &str, reviewer: &str, instance: Option<&str>) -> Option<PathBuf> {
    let loaded = load::load(
        &[path.to_path_buf()],
        &load::Options::default(),
        &SchemaSet::new(),
    );
    loaded.docs.iter().find_map(|doc| match &doc.resource {
        Resource::ReviewDecisions(d)
            if d.spec.review == review
                && d.spec.reviewer.eq_ignore_ascii_case(reviewer)
                && d.spec.instance.as_deref() == instance =>
        {
            Some(loaded.path_of(doc).to_path_buf())
        }
        _ => None,
    })
}

/// A reviewer's name as part of a DNS-1123 label.
fn slug(reviewer: &str) -> String {
    let local = reviewer.split('@').next().unwrap_or(reviewer);
    let mut out = String::new();
    for c in local.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

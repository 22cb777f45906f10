//! `recert decide`: records one decision in the reviewer's decisions file, creating the file
//! or editing it in place (comments and order kept; see `edit`).

use std::path::PathBuf;

use anyhow::Context;

use crate::edit::{DecideRequest, upsert_decision};
use crate::load::rules::resolve_relative;
use crate::load::{self, Loaded, SchemaSet};
use crate::model::Resource;
use crate::model::decisions::{Decision, ReviewDecisionsSpec};
use crate::model::directory_data::DirectoryDataSpec;
use crate::model::review::{AccessReviewSpec, Timestamp};
use crate::reconcile::authority::{self, DataNames};
use crate::reconcile::schedule;

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
    /// The time that decides which instance is in progress (RFC 3339 or a date), instead of
    /// the clock.
    #[arg(long, value_name = "TIME", value_parser = Timestamp::parse)]
    pub now: Option<Timestamp>,
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
    let now = args
        .now
        .unwrap_or_else(|| Timestamp(jiff::Timestamp::now()));
    let loaded = load::load_with_directory_data(
        std::slice::from_ref(&args.path),
        &load::Options::default(),
        &SchemaSet::new(),
    );
    let review = loaded
        .docs
        .iter()
        .find_map(|doc| match &doc.resource {
            Resource::AccessReview(r) if r.metadata.name == args.review => Some(&r.spec),
            _ => None,
        })
        .with_context(|| {
            format!(
                "no AccessReview named `{}` under {}",
                args.review,
                args.path.display()
            )
        })?;
    let data = directory_data(&loaded, review);
    let names = data.map(DataNames::new);
    let same = |a: &str, b: &str| match &names {
        Some(names) => authority::same(names, a, b) == Some(true),
        None => a.eq_ignore_ascii_case(b),
    };
    // Which instance the entry is for: the one named, else the one in progress (or, between
    // instances, the next), written on the entry so that re-affirming in a new instance counts.
    let entry_instance = match &args.instance {
        Some(_) => None,
        None => Some(instance_at(review, now).with_context(|| {
            format!(
                "review `{}` has no instance in progress or to come",
                args.review
            )
        })?),
    };
    // A decision for an instance that has ended (or never runs) would only be rejected.
    if let Some(instance) = &args.instance
        && instance_at(review, now).as_ref() != Some(instance)
        && !schedule::starts_later(&review.instance_schedule(), instance, now)
    {
        return refuse(&format!(
            "instance `{instance}` of review `{}` is not in progress at {now} and does not start later: a decision for it would be rejected; nothing was written",
            args.review
        ));
    }
    if let Some(names) = &names
        && let Some(principal) = names.resolve(&args.principal)
    {
        let subject = names.subject(principal);
        // In a multi-stage review, by the reviewers of the stage running now.
        let stage = schedule::latest_started(&review.instance_schedule(), now)
            .filter(|o| now < o.end)
            .map(|o| schedule::stage_at(review, o.start, now));
        let verdict = authority::may_decide_in_stages(
            review,
            names,
            &args.reviewer,
            principal,
            Some(&subject),
            if review.stages.is_empty() {
                Some(0)
            } else {
                stage
            },
        );
        if let authority::Verdict::NotAllowed(why) = verdict {
            return refuse(&format!(
                "`{}` may not decide on `{}` in review `{}`: {why}; nothing was written",
                args.reviewer, args.principal, args.review
            ));
        }
    }

    let found = find(&loaded, &args.review, args.instance.as_deref(), |r| {
        same(r, &args.reviewer)
    });
    // In the reviewer's own file, the principal keeps the spelling already there, so the
    // entry is updated instead of a second one being added under another name.
    let (reviewer, principal) = match &found {
        Some((_, spec)) => (
            spec.reviewer.clone(),
            spec.decisions
                .iter()
                .flat_map(|d| d.principals())
                .find(|p| same(p, &args.principal))
                .unwrap_or(&args.principal)
                .to_owned(),
        ),
        None => (args.reviewer.clone(), args.principal.clone()),
    };
    let slug = slug(&args.reviewer);
    let name: String = format!("{}-{slug}", args.review)
        .chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned();
    let file = match (&args.file, &found) {
        (Some(file), _) => file.clone(),
        (None, Some((path, _))) => path.clone(),
        (None, None) => args.path.join("decisions").join(format!("{name}.yaml")),
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
        reviewer: &reviewer,
        principal: &principal,
        decision,
        reason: args.reason.as_deref(),
        entry_instance: entry_instance.as_deref(),
        after_reset: review.requests.reset.as_deref(),
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
    let instance = args
        .instance
        .as_deref()
        .or(entry_instance.as_deref())
        .unwrap_or_default();
    let running = schedule::latest_started(&review.instance_schedule(), now)
        .is_some_and(|o| o.id() == instance && now < o.end);
    let when = if running {
        "it counts from the next reconcile".to_owned()
    } else {
        format!("it counts once instance {instance} starts")
    };
    super::out(&format!(
        "{verb} {}: {} {decision} on {} for instance {instance}; {when}\n",
        file.display(),
        args.reviewer,
        args.principal
    ))?;
    Ok(Outcome::Clean)
}

/// A decision that would not take effect: said on stderr, exit 1, nothing written.
fn refuse(message: &str) -> anyhow::Result<Outcome> {
    super::err(&format!("error: {message}\n"))?;
    Ok(Outcome::Findings)
}

/// The id of the instance in progress at `now`, or of the next one to start.
fn instance_at(review: &AccessReviewSpec, now: Timestamp) -> Option<String> {
    schedule::latest_started(&review.instance_schedule(), now)
        .filter(|o| now < o.end)
        .or_else(|| schedule::next_start(&review.instance_schedule(), now))
        .map(|o| o.id())
}

/// The `DirectoryData` of a review's file directory, when it was loaded.
fn directory_data<'a>(
    loaded: &'a Loaded,
    review: &AccessReviewSpec,
) -> Option<&'a DirectoryDataSpec> {
    let doc = loaded.docs.iter().find(
        |d| matches!(&d.resource, Resource::Directory(x) if x.metadata.name == review.directory),
    )?;
    let Resource::Directory(directory) = &doc.resource else {
        return None;
    };
    let file = directory.spec.file.as_ref()?;
    let wanted = resolve_relative(loaded.path_of(doc), &file.path);
    let wanted = std::fs::canonicalize(&wanted).unwrap_or(wanted);
    loaded.docs.iter().find_map(|d| match &d.resource {
        Resource::DirectoryData(data)
            if std::fs::canonicalize(loaded.path_of(d)).is_ok_and(|p| p == wanted) =>
        {
            Some(&data.spec)
        }
        _ => None,
    })
}

/// The file already holding this reviewer's decisions on the review, if any, and its spec.
fn find(
    loaded: &Loaded,
    review: &str,
    instance: Option<&str>,
    is_reviewer: impl Fn(&str) -> bool,
) -> Option<(PathBuf, ReviewDecisionsSpec)> {
    loaded.docs.iter().find_map(|doc| match &doc.resource {
        Resource::ReviewDecisions(d)
            if d.spec.review == review
                && is_reviewer(&d.spec.reviewer)
                && d.spec.instance.as_deref() == instance =>
        {
            Some((loaded.path_of(doc).to_path_buf(), d.spec.clone()))
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

//! A varied repository of valid manifests, the size of a large organisation's: what the
//! `validate` benchmark reads, and what a test checks `recert validate` accepts.
//!
//! One file-type `Directory`, the `DirectoryData` it points to (400 users with a manager
//! hierarchy, service and break-glass accounts, 30 groups, 40 roles, about 500 assignments),
//! ~35% `AccessReview` files and ~65% `ReviewDecisions` files. Everything is valid, across
//! documents too (references resolve, reviewers are allowed, names are unique, no principal
//! twice in a decisions file): this holds by construction. Generation is deterministic for a
//! given seed (xorshift64*, no `rand`), so a figure can be reproduced on the same files.

mod decisions;
mod directory;
mod review;
mod rng;
mod vocabulary;

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use decisions::{decide, render_decisions};
use directory::{Directory, Principal};
use review::{Review, unique_name};
use rng::Rng;

const SCHEMA_URL: &str = "https://recert.dev/schemas/v1alpha1/recert.schema.json";
const API_VERSION: &str = "recert.dev/v1alpha1";
const DIRECTORY_NAME: &str = "corp";
const DOMAIN: &str = "corp.example";

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    /// Files to write, at least 4 (the directory, its data, a review, a decision).
    pub files: usize,
    pub seed: u64,
    /// One document per file, for tools that read only single-document YAML; otherwise
    /// about 10% of review and decision files hold two.
    pub single_doc: bool,
}

/// A file or folder that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct Error {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// What was generated, counted as it was written.
#[derive(Debug, Default)]
pub struct Stats {
    pub files: usize,
    pub documents: usize,
    pub bytes: usize,
    pub review_files: usize,
    pub review_docs: usize,
    pub decision_files: usize,
    pub decision_docs: usize,
    pub decision_entries: usize,
    pub multi_doc_files: usize,
    pub review_lines: Vec<usize>,
    pub users: usize,
    pub groups: usize,
    pub roles: usize,
    pub assignments: usize,
    pub elapsed: Duration,
}

fn write_file(root: &Path, relative: &str, text: &str, stats: &mut Stats) -> Result<(), Error> {
    let path = root.join(relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| Error {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(&path, text).map_err(|source| Error { path, source })?;
    stats.files += 1;
    stats.bytes += text.len();
    Ok(())
}

pub(super) fn modeline() -> String {
    format!("# yaml-language-server: $schema={SCHEMA_URL}\n")
}

/// Writes `options.files` valid manifests into `root`.
pub fn generate(root: &Path, options: &Options) -> Result<Stats, Error> {
    let started = Instant::now();
    let mut rng = Rng::new(options.seed);
    let mut stats = Stats::default();
    let multi_percent = if options.single_doc { 0 } else { 10 };

    // The directory: a file-type Directory and the DirectoryData it points at.
    let dir = Directory::generate(&mut rng);
    stats.users = dir.users.len();
    stats.groups = dir.groups.len();
    stats.roles = dir.roles.len();
    stats.assignments = dir.assignments.len();
    let mut directory = format!(
        "{}# The corp directory, kept in this repository and edited by `recert apply`.\n\
         apiVersion: {API_VERSION}\nkind: Directory\nmetadata:\n  name: {DIRECTORY_NAME}\n\
         spec:\n  type: file\n  file:\n    path: {DIRECTORY_NAME}-data.yaml\n",
        modeline()
    );
    // The notifiers reviews name: the mail relay, the SIEM, and a webhook per team.
    directory.push_str(&format!(
        "---\n# Mail to reviewers and owners.\napiVersion: {API_VERSION}\nkind: Notifier\n\
         metadata:\n  name: mail\nspec:\n  type: smtp\n  smtp:\n    host: smtp.corp.example\n\
         \x20   username: recert\n    password:\n      env: RECERT_SMTP_PASSWORD\n\
         \x20   from: \"Access Reviews <reviews@corp.example>\"\n\
         ---\napiVersion: {API_VERSION}\nkind: Notifier\nmetadata:\n  name: siem\nspec:\n\
         \x20 type: webhook\n  webhook:\n    url: https://siem.corp.example:8443/ingest/recert\n\
         \x20   secret:\n      file: /var/run/secrets/recert/siem-webhook\n"
    ));
    let mut notifiers = 2;
    for team in vocabulary::TEAMS {
        directory.push_str(&format!(
            "---\napiVersion: {API_VERSION}\nkind: Notifier\nmetadata:\n  name: hook-{team}\n\
             spec:\n  type: webhook\n  webhook:\n    url: https://hooks.corp.example/recert/{team}\n\
             \x20   secret:\n      env: RECERT_WEBHOOK_{}\n",
            team.to_uppercase()
        ));
        notifiers += 1;
    }
    write_file(
        root,
        &format!("directory/{DIRECTORY_NAME}.yaml"),
        &directory,
        &mut stats,
    )?;
    write_file(
        root,
        &format!("directory/{DIRECTORY_NAME}-data.yaml"),
        &dir.render(),
        &mut stats,
    )?;
    stats.documents += 2 + notifiers;

    let rest = options.files - 2;
    let review_files = ((rest * 35 + 50) / 100).clamp(1, rest - 1);
    let decision_files = rest - review_files;

    // Reviews, one or two to a file.
    let mut reviews: Vec<Review> = Vec::new();
    for _ in 0..review_files {
        let docs = if rng.percent(multi_percent) { 2 } else { 1 };
        let mut text = modeline();
        let mut path = String::new();
        for d in 0..docs {
            let mut review = Review::plan(reviews.len(), &dir, &mut rng);
            let body = review.render(&dir, &mut rng);
            stats.review_lines.push(body.lines().count());
            if d == 0 {
                let ext = if rng.percent(5) { "yml" } else { "yaml" };
                path = format!("reviews/{}/{}.{ext}", review.team, review.name);
            } else {
                text.push_str("---\n");
            }
            text.push_str(&body);
            reviews.push(review);
        }
        write_file(root, &path, &text, &mut stats)?;
        stats.review_files += 1;
        stats.review_docs += docs;
        stats.documents += docs;
        stats.multi_doc_files += usize::from(docs > 1);
    }

    // Decisions: each file one reviewer's; sometimes a second document for another review
    // the same reviewer may decide, on other principals.
    let mut names = HashSet::new();
    // What each reviewer already decided in each review: one reviewer deciding one principal
    // in two files is a finding (`conflicting-decisions` when the decisions differ), so no
    // principal is decided twice by the same reviewer in the same review.
    let mut earlier: std::collections::HashMap<(usize, usize), HashSet<Principal>> =
        std::collections::HashMap::new();
    let mut fresh = |r: usize, mut decided: decisions::Decided| {
        let seen = earlier.entry((r, decided.reviewer)).or_default();
        decided.principals.retain(|p| !seen.contains(p));
        seen.extend(decided.principals.iter().copied());
        (!decided.principals.is_empty()).then_some(decided)
    };
    for _ in 0..decision_files {
        let mut used: HashSet<Principal> = HashSet::new();
        let (r, decided) = loop {
            let r = rng.below(reviews.len());
            if let Some(decided) =
                decide(&reviews[r], None, &dir, &used, &mut rng).and_then(|d| fresh(r, d))
            {
                break (r, decided);
            }
        };
        used.extend(decided.principals.iter().copied());
        let mut docs = vec![(r, decided)];
        if rng.percent(multi_percent) {
            let reviewer = docs[0].1.reviewer;
            for _ in 0..50 {
                let other = rng.below(reviews.len());
                if other == r {
                    continue;
                }
                if let Some(decided) =
                    decide(&reviews[other], Some(reviewer), &dir, &used, &mut rng)
                        .and_then(|d| fresh(other, d))
                {
                    docs.push((other, decided));
                    break;
                }
            }
        }
        let mut text = modeline();
        let mut path = String::new();
        for (d, (r, decided)) in docs.iter().enumerate() {
            let review = &reviews[*r];
            let handle = &dir.users[decided.reviewer].handle;
            let name = unique_name(&format!("{}-{handle}", review.name), &mut names);
            if d == 0 {
                path = format!("decisions/{}/{name}.yaml", review.team);
            } else {
                text.push_str("---\n");
            }
            text.push_str(&render_decisions(&name, review, decided, &dir, &mut rng));
            stats.decision_entries += decided.principals.len();
        }
        write_file(root, &path, &text, &mut stats)?;
        stats.decision_files += 1;
        stats.decision_docs += docs.len();
        stats.documents += docs.len();
        stats.multi_doc_files += usize::from(docs.len() > 1);
    }
    stats.elapsed = started.elapsed();
    Ok(stats)
}

impl fmt::Display for Stats {
    /// What the files hold, one line a kind, for a person.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lines = self.review_lines.clone();
        lines.sort_unstable();
        let median = lines.get(lines.len() / 2).copied().unwrap_or(0);
        writeln!(
            f,
            "  files      {:>7}  ({} multi-document), {:.1} MiB",
            self.files,
            self.multi_doc_files,
            self.bytes as f64 / (1024.0 * 1024.0)
        )?;
        writeln!(f, "  documents  {:>7}", self.documents)?;
        writeln!(
            f,
            "  directory        2  (Directory + DirectoryData: {} users, {} groups, {} roles, {} assignments)",
            self.users, self.groups, self.roles, self.assignments
        )?;
        writeln!(
            f,
            "  reviews    {:>7}  files, {} documents, {}–{} lines (median {median})",
            self.review_files,
            self.review_docs,
            lines.first().copied().unwrap_or(0),
            lines.last().copied().unwrap_or(0),
        )?;
        writeln!(
            f,
            "  decisions  {:>7}  files, {} documents, {} decided principals",
            self.decision_files, self.decision_docs, self.decision_entries
        )
    }
}

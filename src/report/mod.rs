//! The auditor's report: one self-contained HTML file per instance, built from the review's
//! state and its audit trail, that answers an auditor's questions on its own — what was
//! reviewed and from where, who decided and whether they decided on themselves, every decision
//! with its reason and file, what the default decision did, what the apply removed and the
//! proof it is gone, and whether the audit trail those facts come from is intact.
//!
//! The file has no scripts and fetches nothing (its content security policy forbids both), and
//! it prints. Every value in it is escaped. It is rendered from the state alone, so rendering
//! the same state twice gives the same bytes: the daemon rewrites it only when its facts change.
//!
//! The report is a list of [`Section`]s, each built by one function of [`SECTIONS`]; a new
//! kind of evidence (stages, escalations) is one more function in that list.

mod html;
mod sections;
mod stages;

use std::path::{Path, PathBuf};

use crate::audit::{self, Head, VerifyError};
use crate::query::QueryError;
use crate::state::{Instance, ReviewState};
use crate::store::Store;

pub use html::escape;

/// What the report says of the audit trail: where it ends and whether it verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainCheck {
    /// The head the state recorded.
    pub head: Head,
    /// The records read when the chain verified up to that head, or the first break.
    pub verified: Result<u64, VerifyError>,
    /// The trail's path as the errors name it, which the report replaces with the file's own
    /// name: the report travels, the state directory's location does not.
    pub path: String,
}

impl ChainCheck {
    /// Verifies the trail at `path` against the head the state recorded. A review with no
    /// record yet has an empty trail, not a broken one.
    pub fn of(path: &Path, head: &Head) -> ChainCheck {
        let verified = if head.seq == 0 && !path.exists() {
            Ok(0)
        } else {
            audit::verify(path, Some(head))
        };
        ChainCheck {
            head: head.clone(),
            verified,
            path: path.display().to_string(),
        }
    }
}

/// Everything a report is built from.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    pub state: &'a ReviewState,
    pub instance: &'a Instance,
    pub chain: &'a ChainCheck,
}

/// One part of the report: its anchor, its heading and its markup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub id: &'static str,
    pub title: &'static str,
    pub body: String,
}

/// Builds one section, or none when it has nothing to say for this instance.
pub type Builder = fn(&Evidence<'_>) -> Option<Section>;

/// The sections, in the order the report shows them.
pub const SECTIONS: &[Builder] = &[
    sections::population,
    sections::reviewers,
    sections::decisions,
    stages::stages,
    sections::entries,
    sections::escalations,
    sections::default_decision,
    sections::apply,
    sections::history,
    sections::audit_trail,
];

/// The report of one instance, as HTML.
pub fn render(evidence: &Evidence<'_>) -> String {
    let sections: Vec<Section> = SECTIONS
        .iter()
        .filter_map(|build| build(evidence))
        .collect();
    let mut body = sections::heading(evidence);
    body.push_str("<nav><ol>\n");
    for s in &sections {
        body.push_str(&format!(
            "<li><a href=\"#{}\">{}</a></li>\n",
            s.id,
            escape(s.title)
        ));
    }
    body.push_str("</ol></nav>\n");
    for s in &sections {
        body.push_str(&format!(
            "<section id=\"{}\">\n<h2>{}</h2>\n{}</section>\n",
            s.id,
            escape(s.title),
            s.body
        ));
    }
    html::page(
        &format!(
            "Access review evidence: {} ({})",
            evidence.state.spec.display_name, evidence.instance.id
        ),
        &body,
    )
}

/// Where the daemon keeps an instance's report, in the review's folder.
pub fn path(store: &Store, review: &str, instance: &str) -> PathBuf {
    store
        .review_dir(review)
        .join("reports")
        .join(format!("{instance}.html"))
}

/// A report, and the break in the trail it reports, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub html: String,
    pub broken: Option<String>,
}

/// The report of an instance of a stored review (the latest when none is named), with its
/// audit trail verified now.
pub fn for_review(
    store: &Store,
    review: &str,
    instance: Option<&str>,
) -> Result<Report, QueryError> {
    let (entry, index) = crate::query::stored_instance(store, review, instance)?;
    let chosen = &entry.state.instances[index];
    let chain = ChainCheck::of(&store.audit_path(review), &entry.audit_head);
    let html = render(&Evidence {
        state: &entry.state,
        instance: chosen,
        chain: &chain,
    });
    Ok(Report {
        html,
        broken: chain.verified.err().map(|e| e.to_string()),
    })
}

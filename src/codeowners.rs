//! A CODEOWNERS file from the manifests: Recert takes a decision's author from
//! `spec.reviewer`, which anyone who can push may write; Git's code owners and branch
//! protection are what make that field true. Each decisions file goes to the Git owners of
//! the reviewer it names, everything else (directories, which say where credentials go, the
//! reviews, new files) to the admins.
//!
//! The mapping (`owners.yaml`):
//!
//! ```yaml
//! admins: ["@corp/iam-admins"]
//! reviewers:
//!   alice@corp.example: "@alice"
//!   u-carol: ["@carol", "@carol-deputy"]
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use crate::load::Loaded;
use crate::model::Resource;

/// Who owns what, as configured.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Owners {
    /// Own every file not given to a reviewer below: `Directory`, `DirectoryData` and
    /// `AccessReview` manifests, this mapping, CODEOWNERS itself, new decisions files.
    pub admins: OneOrMany,
    /// A reviewer, as the manifests name them (user id or principal name), to their Git
    /// owners (`@user`, `@org/team` or an e-mail address).
    #[serde(default)]
    pub reviewers: BTreeMap<String, OneOrMany>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn list(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// Why the mapping cannot be used, with where.
#[derive(Debug, thiserror::Error)]
pub enum OwnersError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{col}: {message}")]
    Invalid {
        path: String,
        line: u32,
        col: u32,
        message: String,
    },
}

impl Owners {
    /// Reads the mapping at `path`.
    pub fn load(path: &Path) -> Result<Owners, OwnersError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| OwnersError::Io {
            path: shown.clone(),
            source,
        })?;
        Owners::parse(&shown, &text)
    }

    pub fn parse(shown: &str, text: &str) -> Result<Owners, OwnersError> {
        let invalid = |span: crate::source::Span, message: String| OwnersError::Invalid {
            path: shown.to_owned(),
            line: span.line,
            col: span.col,
            message,
        };
        let parsed = crate::load::yaml::parse(text);
        if let Some(e) = parsed.errors.first() {
            return Err(invalid(e.span, e.message.clone()));
        }
        let Some(doc) = parsed.documents.first() else {
            return Err(invalid(
                crate::source::Span::point(1, 1),
                "empty: expected `admins` and `reviewers`".to_owned(),
            ));
        };
        let owners: Owners =
            serde_path_to_error::deserialize(doc.root.to_value()).map_err(|e| {
                let pointer = pointer(&e.path().to_string());
                // A misspelt key is shown at the key, a wrong value at the value.
                let span = if e.inner().to_string().starts_with("unknown field") {
                    doc.root.key_span_of(&pointer)
                } else {
                    doc.root.span_of(&pointer)
                };
                invalid(span, format!("{}: {}", e.path(), e.inner()))
            })?;
        let all = std::iter::once(("/admins".to_owned(), &owners.admins)).chain(
            owners.reviewers.iter().map(|(k, v)| {
                (
                    format!("/reviewers/{}", k.replace('~', "~0").replace('/', "~1")),
                    v,
                )
            }),
        );
        for (at, list) in all {
            if let Some(owner) = list.list().into_iter().find(|o| !is_owner(o)) {
                return Err(invalid(
                    doc.root.span_of(&at),
                    format!(
                        "`{owner}` is not a Git owner (`@user`, `@org/team` or an e-mail address)"
                    ),
                ));
            }
        }
        Ok(owners)
    }
}

/// serde_path_to_error's `a.b[0]` as a JSON pointer `/a/b/0`.
fn pointer(path: &str) -> String {
    if path == "." {
        return String::new();
    }
    path.replace('[', ".")
        .replace(']', "")
        .split('.')
        .filter(|s| !s.is_empty())
        .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
        .collect()
}

fn is_owner(owner: &str) -> bool {
    let plain = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
    };
    match owner.strip_prefix('@') {
        Some(handle) => plain(handle),
        None => owner.contains('@') && !owner.chars().any(|c| c.is_whitespace() || c == '#'),
    }
}

/// What generating found worth saying besides the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Warning {
    #[error(
        "{file}: reviewer `{reviewer}` has no Git owner in the mapping: the file stays with the admins"
    )]
    Unmapped { file: String, reviewer: String },
    #[error(
        "{file}: holds the decisions of several reviewers ({reviewers}): any of their owners may approve a change to the others'; keep one reviewer per file"
    )]
    Shared { file: String, reviewers: String },
}

/// The CODEOWNERS text for `loaded` (paths relative to `root`, the repository's top), and
/// what it could not hand to a reviewer.
pub fn render(loaded: &Loaded, owners: &Owners, root: &Path) -> (String, Vec<Warning>) {
    let admins = owners.admins.list().join(" ");
    let mut admin_files = BTreeSet::new();
    let mut decisions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for doc in &loaded.docs {
        let path = repo_path(loaded.path_of(doc), root);
        match &doc.resource {
            Resource::ReviewDecisions(d) => {
                decisions
                    .entry(path)
                    .or_default()
                    .insert(d.spec.reviewer.clone());
            }
            _ => {
                admin_files.insert(path);
            }
        }
    }
    let mut out = String::from(
        "# Generated by `recert codeowners`; regenerate when reviews, decisions or the owners \
         mapping change.\n# Recert takes a decision's author from `spec.reviewer`: these owners, \
         with branch protection\n# requiring their review, are what make it true.\n\n\
         # Everything not listed below, new decisions files included: the admins.\n",
    );
    out.push_str(&format!("* {admins}\n"));
    if !admin_files.is_empty() {
        out.push_str(
            "\n# Directories, notifiers and the reviewer portal (they say where credentials and messages go, and who signs in), directory data and reviews.\n",
        );
        for path in &admin_files {
            out.push_str(&format!("{} {admins}\n", escape(path)));
        }
    }
    let mut warnings = Vec::new();
    if !decisions.is_empty() {
        out.push_str("\n# Decisions: each file only by the Git owners of the reviewer it names.\n");
    }
    for (path, reviewers) in &decisions {
        if reviewers.len() > 1 {
            warnings.push(Warning::Shared {
                file: path.clone(),
                reviewers: reviewers.iter().cloned().collect::<Vec<_>>().join(", "),
            });
        }
        let mut handles = BTreeSet::new();
        for reviewer in reviewers {
            match owners.reviewers.get(reviewer) {
                Some(o) => handles.extend(o.list()),
                None => warnings.push(Warning::Unmapped {
                    file: path.clone(),
                    reviewer: reviewer.clone(),
                }),
            }
        }
        // A file with an unmapped reviewer keeps the admins: nobody else could approve it.
        if handles.is_empty() || reviewers.iter().any(|r| !owners.reviewers.contains_key(r)) {
            continue;
        }
        let handles: Vec<String> = handles.into_iter().collect();
        out.push_str(&format!("{} {}\n", escape(path), handles.join(" ")));
    }
    (out, warnings)
}

/// `/a/b.yaml`: the file's path from the repository's top, as CODEOWNERS anchors it.
fn repo_path(path: &Path, root: &Path) -> String {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let file = normalise(&absolute(path));
    let root = normalise(&absolute(root));
    let rel = file.strip_prefix(&root).unwrap_or(&file);
    let parts: Vec<String> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    format!("/{}", parts.join("/"))
}

fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// CODEOWNERS patterns end at whitespace and comments start at `#`.
fn escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c.is_whitespace() || c == '#' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_error_names_its_line_and_field() {
        let e = Owners::parse("owners.yaml", "admins: \"@sec\"\nreviewer:\n  a: \"@a\"\n")
            .expect_err("misspelt");
        assert!(
            e.to_string()
                .starts_with("owners.yaml:2:1: reviewer: unknown field"),
            "{e}"
        );
        let e = Owners::parse(
            "owners.yaml",
            "admins: \"@sec\"\nreviewers: {a: \"alice smith\"}\n",
        )
        .expect_err("not an owner");
        assert!(
            e.to_string().contains("`alice smith` is not a Git owner"),
            "{e}"
        );
    }

    #[test]
    fn paths_are_anchored_at_the_repository_and_escaped() {
        assert_eq!(
            repo_path(Path::new("./m/../m/decisions/a b.yaml"), Path::new(".")),
            "/m/decisions/a b.yaml"
        );
        assert_eq!(escape("/m/a b#.yaml"), "/m/a\\ b\\#.yaml");
    }
}

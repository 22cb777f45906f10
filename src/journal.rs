//! The apply journal: an intent line before each removal, an outcome line after it.
//!
//! A crash between the directory's answer and the state write is resumed from here: a removal
//! with an outcome is never sent again, and one with only an intent is sent again and, if the
//! directory says the assignment is gone, counted as removed by the interrupted attempt. The
//! journal is deleted once the outcomes are in the review's state.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::directory::{Removal, RemoveOutcome};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Line {
    instance: String,
    principal: String,
    removal: Removal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outcome: Option<JournalOutcome>,
}

/// An outcome as journaled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum JournalOutcome {
    Done { outcome: RemoveOutcome },
    DoneBefore,
    Failed { error: String },
}

type Key = (String, String, Removal);

/// A review's journal.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    intents: BTreeSet<Key>,
    outcomes: BTreeMap<Key, JournalOutcome>,
}

impl Journal {
    /// Opens (reading what an interrupted run left) the journal at `path`.
    pub fn open(path: &Path) -> std::io::Result<Journal> {
        let mut journal = Journal {
            path: path.to_path_buf(),
            intents: BTreeSet::new(),
            outcomes: BTreeMap::new(),
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(journal),
            Err(e) => return Err(e),
        };
        // A torn last line (crash mid-write) was never acted on: skip it.
        for line in text
            .lines()
            .filter_map(|l| serde_json::from_str::<Line>(l).ok())
        {
            let key = (line.instance, line.principal, line.removal);
            match line.outcome {
                Some(outcome) => {
                    journal.outcomes.insert(key, outcome);
                }
                None => {
                    journal.intents.insert(key);
                }
            }
        }
        Ok(journal)
    }

    pub fn outcome(
        &self,
        instance: &str,
        principal: &str,
        removal: &Removal,
    ) -> Option<&JournalOutcome> {
        self.outcomes
            .get(&(instance.to_owned(), principal.to_owned(), removal.clone()))
    }

    /// Whether an earlier run announced this removal (and may have carried it out).
    pub fn was_attempted(&self, instance: &str, principal: &str, removal: &Removal) -> bool {
        self.intents
            .contains(&(instance.to_owned(), principal.to_owned(), removal.clone()))
    }

    pub fn intent(
        &mut self,
        instance: &str,
        principal: &str,
        removal: &Removal,
    ) -> std::io::Result<()> {
        self.write(&Line {
            instance: instance.to_owned(),
            principal: principal.to_owned(),
            removal: removal.clone(),
            outcome: None,
        })
    }

    pub fn record(
        &mut self,
        instance: &str,
        principal: &str,
        removal: &Removal,
        outcome: JournalOutcome,
    ) -> std::io::Result<()> {
        self.outcomes.insert(
            (instance.to_owned(), principal.to_owned(), removal.clone()),
            outcome.clone(),
        );
        self.write(&Line {
            instance: instance.to_owned(),
            principal: principal.to_owned(),
            removal: removal.clone(),
            outcome: Some(outcome),
        })
    }

    fn write(&self, line: &Line) -> std::io::Result<()> {
        let mut text = serde_json::to_string(line).map_err(std::io::Error::other)?;
        text.push('\n');
        let mut file = crate::fsutil::open_append(&self.path)?;
        file.write_all(text.as_bytes())?;
        // The intent must be on disk before the directory is asked, or a crash could lose it.
        file.sync_all()
    }

    /// Deletes the journal once its outcomes are recorded in the state.
    pub fn clear(self) -> std::io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

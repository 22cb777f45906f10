//! The apply journal: an intent line before each removal, an outcome line after it. A group of
//! removals sent to the directory together is announced with one write and one flush, and its
//! outcomes recorded likewise.
//!
//! A crash between the directory's answer and the state write is resumed from here: a removal
//! with an outcome is never sent again, and one with only an intent is sent again and, if the
//! directory says the assignment is gone, counted as removed by the interrupted attempt. The
//! journal is deleted once the outcomes are in the review's state.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::directory::{Removal, RemoveOutcome};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Line {
    instance: String,
    principal: String,
    removal: Removal,
    #[serde(default)]
    outcome: Option<JournalOutcome>,
}

/// A line as written: borrowed, so a group of a thousand is written without copying them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LineRef<'a> {
    instance: &'a str,
    principal: &'a str,
    removal: &'a Removal,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'a JournalOutcome>,
}

/// An outcome as journaled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum JournalOutcome {
    Done { outcome: RemoveOutcome },
    DoneBefore,
    Failed { error: String },
}

/// Entries by instance, then principal, then removal: nested so that a lookup borrows its
/// key's parts instead of building an owned key each time.
type ByKey<V> = BTreeMap<String, BTreeMap<String, BTreeMap<Removal, V>>>;

fn get<'m, V>(
    map: &'m ByKey<V>,
    instance: &str,
    principal: &str,
    removal: &Removal,
) -> Option<&'m V> {
    map.get(instance)?.get(principal)?.get(removal)
}

fn insert<V>(map: &mut ByKey<V>, instance: &str, principal: &str, removal: &Removal, value: V) {
    let principals = match map.get_mut(instance) {
        Some(p) => p,
        None => map.entry(instance.to_owned()).or_default(),
    };
    let removals = match principals.get_mut(principal) {
        Some(r) => r,
        None => principals.entry(principal.to_owned()).or_default(),
    };
    removals.insert(removal.clone(), value);
}

/// A review's journal.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    /// Intents an earlier run wrote.
    intents: ByKey<()>,
    outcomes: ByKey<JournalOutcome>,
}

impl Journal {
    /// Opens (reading what an interrupted run left) the journal at `path`.
    pub fn open(path: &Path) -> std::io::Result<Journal> {
        let mut journal = Journal {
            path: path.to_path_buf(),
            intents: BTreeMap::new(),
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
            let (instance, principal, removal) = (&line.instance, &line.principal, &line.removal);
            match line.outcome {
                Some(outcome) => {
                    insert(&mut journal.outcomes, instance, principal, removal, outcome)
                }
                None => insert(&mut journal.intents, instance, principal, removal, ()),
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
        get(&self.outcomes, instance, principal, removal)
    }

    /// Whether an earlier run announced this removal (and may have carried it out).
    pub fn was_attempted(&self, instance: &str, principal: &str, removal: &Removal) -> bool {
        get(&self.intents, instance, principal, removal).is_some()
    }

    /// Announces a group of removals with one write and one flush to disk: the directory may
    /// be asked to carry out any of them once this returns.
    pub fn intents(&mut self, removals: &[(&str, &str, &Removal)]) -> std::io::Result<()> {
        self.write(
            removals
                .iter()
                .map(|&(instance, principal, removal)| LineRef {
                    instance,
                    principal,
                    removal,
                    outcome: None,
                }),
        )
    }

    /// Records the outcomes of a group of removals with one write and one flush to disk.
    pub fn record_all(
        &mut self,
        outcomes: &[(&str, &str, &Removal, JournalOutcome)],
    ) -> std::io::Result<()> {
        self.write(
            outcomes
                .iter()
                .map(|(instance, principal, removal, outcome)| LineRef {
                    instance,
                    principal,
                    removal,
                    outcome: Some(outcome),
                }),
        )?;
        for (instance, principal, removal, outcome) in outcomes {
            insert(
                &mut self.outcomes,
                instance,
                principal,
                removal,
                outcome.clone(),
            );
        }
        Ok(())
    }

    fn write<'a>(&self, lines: impl Iterator<Item = LineRef<'a>>) -> std::io::Result<()> {
        let mut text = Vec::new();
        for line in lines {
            serde_json::to_writer(&mut text, &line).map_err(std::io::Error::other)?;
            text.push(b'\n');
        }
        if text.is_empty() {
            return Ok(());
        }
        let mut file = crate::fsutil::open_append(&self.path)?;
        file.write_all(&text)?;
        // The intents must be on disk before the directory is asked, or a crash could lose
        // them.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::directory_data::AssignmentType;

    fn removals(n: usize) -> Vec<Removal> {
        (0..n)
            .map(|i| Removal::assignment(&format!("a-{i}"), AssignmentType::Active))
            .collect()
    }

    #[test]
    fn a_group_of_intents_and_outcomes_reads_back_after_a_crash() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("journal.jsonl");
        let all = removals(1000);
        let mut journal = Journal::open(&path).expect("new journal");
        let intents: Vec<(&str, &str, &Removal)> = all.iter().map(|r| ("i-1", "u-a", r)).collect();
        journal.intents(&intents).expect("intents");
        let done = JournalOutcome::Done {
            outcome: RemoveOutcome::Removed,
        };
        let outcomes: Vec<(&str, &str, &Removal, JournalOutcome)> = all[..600]
            .iter()
            .map(|r| ("i-1", "u-a", r, done.clone()))
            .collect();
        journal.record_all(&outcomes).expect("outcomes");
        assert_eq!(journal.outcome("i-1", "u-a", &all[0]), Some(&done));
        // This run wrote the intents: they are not an earlier run's.
        assert!(!journal.was_attempted("i-1", "u-a", &all[0]));
        drop(journal);

        // The crash: the rest of the group's outcomes never made it to disk.
        let journal = Journal::open(&path).expect("reopened");
        for (i, removal) in all.iter().enumerate() {
            assert!(journal.was_attempted("i-1", "u-a", removal), "{removal}");
            let expected = (i < 600).then_some(&done);
            assert_eq!(
                journal.outcome("i-1", "u-a", removal),
                expected,
                "{removal}"
            );
            assert!(!journal.was_attempted("i-2", "u-a", removal));
            assert!(!journal.was_attempted("i-1", "u-b", removal));
        }
    }

    #[test]
    fn a_group_torn_mid_write_keeps_its_whole_lines_and_drops_the_torn_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("journal.jsonl");
        let all = removals(3);
        let mut journal = Journal::open(&path).expect("new journal");
        let intents: Vec<(&str, &str, &Removal)> = all.iter().map(|r| ("i-1", "u-a", r)).collect();
        journal.intents(&intents).expect("intents");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), 3);
        std::fs::write(&path, &text[..text.len() - 10]).expect("tear");
        let journal = Journal::open(&path).expect("reopened");
        assert!(journal.was_attempted("i-1", "u-a", &all[1]));
        assert!(!journal.was_attempted("i-1", "u-a", &all[2]));
    }

    #[test]
    fn an_empty_group_writes_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("journal.jsonl");
        let mut journal = Journal::open(&path).expect("new journal");
        journal.intents(&[]).expect("nothing");
        journal.record_all(&[]).expect("nothing");
        assert!(!path.exists());
    }
}

//! The state directory: each review's state, status, results and audit trail, and the archive.
//!
//! ```text
//! STATE/reviews/NAME/state.json        what reconcile remembers (and the audit head)
//! STATE/reviews/NAME/status.yaml       phase, conditions, counts, every item
//! STATE/reviews/NAME/results/ID.csv    one per instance, for auditors
//! STATE/reviews/NAME/audit.jsonl       hash-chained audit trail
//! STATE/reviews/NAME/journal.jsonl     only while an apply runs
//! STATE/outbox/SEGMENT.jsonl           notifications waiting (`notify::segment`)
//! STATE/archive/NAME-TIME/             a deleted review's records, kept
//! ```
//!
//! The state directory is separate from the manifests: git-sync's tree is read-only and
//! replaced on every sync.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit::Head;
use crate::fsutil::write_atomic;
use crate::model::review::Timestamp;
use crate::state::ReviewState;

/// A review's state as `state.json` holds it: one value a line, no indentation. One value per
/// line keeps diffs of the state line-sized; no indentation, because a thousand states of a
/// hundred items each are otherwise half spaces, written and fsynced on every pass.
pub fn state_json(state: &ReviewState) -> Vec<u8> {
    let mut text = Vec::with_capacity(64 * 1024);
    let mut serializer = serde_json::Serializer::with_formatter(
        &mut text,
        serde_json::ser::PrettyFormatter::with_indent(b""),
    );
    // Serialising plain data (strings, numbers, maps with string keys) into memory cannot
    // fail; the empty text it would leave is refused by every reader.
    let _ = state.serialize(&mut serializer);
    text
}

/// A review's state as stored, with the head of its audit chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stored {
    pub state: ReviewState,
    #[serde(default)]
    pub audit_head: Head,
    /// The manifests' revision the status last showed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{path}: the stored state cannot be read ({message}); move it aside to start the review afresh"
    )]
    Corrupt { path: String, message: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    pub fn open(root: &Path) -> Result<Store, Error> {
        let reviews = root.join("reviews");
        std::fs::create_dir_all(&reviews).map_err(io(root))?;
        for dir in [&reviews, &root.join("archive")] {
            crate::fsutil::refuse_link(dir).map_err(io(dir))?;
        }
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn review_dir(&self, name: &str) -> PathBuf {
        self.root.join("reviews").join(name)
    }

    pub fn audit_path(&self, name: &str) -> PathBuf {
        self.review_dir(name).join("audit.jsonl")
    }

    pub fn journal_path(&self, name: &str) -> PathBuf {
        self.review_dir(name).join("journal.jsonl")
    }

    pub fn results_path(&self, name: &str, instance: &str) -> PathBuf {
        self.review_dir(name)
            .join("results")
            .join(format!("{instance}.csv"))
    }

    /// Every stored review; one that cannot be read is an error of its own, and the others
    /// are still returned.
    pub fn load(&self) -> (BTreeMap<String, Stored>, Vec<Error>) {
        match self.names() {
            Ok(names) => self.load_some(names.iter().map(String::as_str)),
            Err(e) => (BTreeMap::new(), vec![e]),
        }
    }

    /// The names of the reviews recorded, sorted.
    pub fn names(&self) -> Result<Vec<String>, Error> {
        let dir = self.root.join("reviews");
        let entries = std::fs::read_dir(&dir).map_err(io(&dir))?;
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        Ok(names)
    }

    /// The stored state of the named reviews only (a reconcile of a few reviews reads only
    /// their files).
    pub fn load_some<'n>(
        &self,
        names: impl Iterator<Item = &'n str>,
    ) -> (BTreeMap<String, Stored>, Vec<Error>) {
        // Read and decoded on every core: a full pass reads a thousand states.
        let names: Vec<&str> = names.collect();
        let read: Vec<(&str, Result<Option<Stored>, Error>)> = names
            .into_par_iter()
            .map(|name| (name, self.read_state(name)))
            .collect();
        let mut out = BTreeMap::new();
        let mut errors = Vec::new();
        for (name, result) in read {
            match result {
                Ok(Some(stored)) => {
                    out.insert(name.to_owned(), stored);
                }
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
        (out, errors)
    }

    fn read_state(&self, name: &str) -> Result<Option<Stored>, Error> {
        let path = self.review_dir(name).join("state.json");
        // A linked review folder or state is someone else's: refused, by name, not read.
        self.refuse_links(&path)?;
        let read = crate::fsutil::open_read(&path).and_then(|mut f| {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut f, &mut bytes).map(|_| bytes)
        });
        match read {
            Ok(bytes) => serde_json::from_slice::<Stored>(&bytes)
                .map(Some)
                .map_err(|e| Error::Corrupt {
                    path: path.display().to_string(),
                    message: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Refuses `path` when it or a folder between the state directory and it is a link.
    pub fn refuse_links(&self, path: &Path) -> Result<(), Error> {
        crate::fsutil::refuse_links(&self.root, path).map_err(io(path))
    }

    pub fn save(&self, stored: &Stored) -> Result<(), Error> {
        self.save_with_state(stored, &state_json(&stored.state))
    }

    /// [`Store::save`] with the state already serialised by [`state_json`] (the bytes the
    /// audit trail's digest is over): a state of a hundred thousand items is serialised once.
    pub fn save_with_state(&self, stored: &Stored, state: &[u8]) -> Result<(), Error> {
        let dir = self.review_dir(&stored.state.name);
        let path = dir.join("state.json");
        self.refuse_links(&path)?;
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        // What serde writes for `Stored` with the same formatter: with no indentation, a
        // nested value's text does not depend on its depth, so the state's bytes fit as they are.
        let mut text = Vec::with_capacity(state.len() + 256);
        text.extend_from_slice(b"{\n\"state\": ");
        text.extend_from_slice(state);
        text.extend_from_slice(b",\n\"auditHead\": ");
        let mut rest = serde_json::Serializer::with_formatter(
            &mut text,
            serde_json::ser::PrettyFormatter::with_indent(b""),
        );
        stored
            .audit_head
            .serialize(&mut rest)
            .map_err(|e| io(&path)(std::io::Error::other(e)))?;
        if let Some(revision) = &stored.revision {
            text.extend_from_slice(b",\n\"revision\": ");
            serde_json::to_writer(&mut text, revision)
                .map_err(|e| io(&path)(std::io::Error::other(e)))?;
        }
        text.extend_from_slice(b"\n}\n");
        write_atomic(&path, &text).map_err(io(&path))
    }

    /// Creates the folders of the reviews in `names` that have none, then fsyncs `reviews/`
    /// once for all of them: a state fsynced in a folder whose own entry is not on disk could
    /// vanish with it in a power cut.
    pub fn create_review_dirs<'n>(
        &self,
        names: impl IntoIterator<Item = &'n str>,
    ) -> Result<(), Error> {
        let mut created = false;
        for name in names {
            let dir = self.review_dir(name);
            match std::fs::create_dir(&dir) {
                Ok(()) => created = true,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    self.refuse_links(&dir)?;
                }
                Err(e) => return Err(io(&dir)(e)),
            }
        }
        if created {
            let reviews = self.root.join("reviews");
            std::fs::File::open(&reviews)
                .and_then(|d| d.sync_all())
                .map_err(io(&reviews))?;
        }
        Ok(())
    }

    /// Writes a file derived from the state (status, results); see `fsutil::write_derived`.
    pub fn write_derived(&self, path: &Path, contents: &[u8]) -> Result<(), Error> {
        self.refuse_links(path)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        crate::fsutil::write_derived(path, contents).map_err(io(path))
    }

    /// Moves a review's records to the archive; evidence is never deleted.
    pub fn archive(&self, name: &str, at: Timestamp) -> Result<PathBuf, Error> {
        let archive = self.root.join("archive");
        std::fs::create_dir_all(&archive).map_err(io(&archive))?;
        let stamp = at.0.strftime("%Y%m%dT%H%M%SZ").to_string();
        let target = archive.join(format!("{name}-{stamp}"));
        let from = self.review_dir(name);
        std::fs::rename(&from, &target).map_err(io(&from))?;
        std::fs::File::open(&archive)
            .and_then(|d| d.sync_all())
            .map_err(io(&archive))?;
        Ok(target)
    }

    /// Every review's folder, live (`reviews/NAME`) then archived (`archive/NAME-TIME`),
    /// each sorted; links among them are listed too, for the caller to refuse.
    pub fn review_folders(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for parent in [self.root.join("reviews"), self.root.join("archive")] {
            let Ok(entries) = std::fs::read_dir(&parent) else {
                continue;
            };
            let mut dirs: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir() || t.is_symlink()))
                .map(|e| e.path())
                .collect();
            dirs.sort();
            out.extend(dirs);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_saved_from_its_bytes_is_what_serde_writes_and_reads_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let state = ReviewState {
            name: "ga".to_owned(),
            source: "reviews/ga.yaml".to_owned(),
            spec: crate::reconcile::tests::base_spec(),
            handled: Default::default(),
            instances: Vec::new(),
            missed: vec!["2026-11-01".to_owned()],
            known: [("alice@x".to_owned(), "u-alice".to_owned())].into(),
            managers: Default::default(),
            outbox: Default::default(),
        };
        for revision in [None, Some("abc \"quoted\"".to_owned())] {
            let stored = Stored {
                state: state.clone(),
                audit_head: Head {
                    seq: 3,
                    hash: "ff00".to_owned(),
                },
                revision,
            };
            store.save(&stored).expect("save");
            let written = std::fs::read(store.review_dir("ga").join("state.json")).expect("read");
            let mut expected = Vec::new();
            let mut serializer = serde_json::Serializer::with_formatter(
                &mut expected,
                serde_json::ser::PrettyFormatter::with_indent(b""),
            );
            stored.serialize(&mut serializer).expect("serialise");
            expected.push(b'\n');
            assert_eq!(
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&expected)
            );
            let (read, errors) = store.load_some(std::iter::once("ga"));
            assert!(errors.is_empty());
            assert_eq!(read.get("ga"), Some(&stored));
        }
    }
}

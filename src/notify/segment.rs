//! Outbox segments: the messages a pass composed for a batch of reviews, in one file
//! (`STATE/outbox/SEGMENT.jsonl`, a message a line), written atomically and fsynced once before
//! the states that refer to them are saved. Each review's state keeps only a slim reference to
//! its messages ([`super::outbox::Pending`]): the bodies were most of a state's size, and a
//! state is rewritten and fsynced on every change of its review.
//!
//! A segment is named by a digest of the ids it holds. After a crash between a segment and
//! the states that refer to it, the next pass composes the same messages under the same ids
//! again (and writes them again, as a segment of the same name when the batch is the same);
//! the orphan left behind is never read, and goes with the next collection.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::store::Store;

use super::message::Message;

/// The folder of the state directory the segments are in.
pub const DIR: &str = "outbox";

const PREFIX: &str = "seg_";
const SUFFIX: &str = ".jsonl";

#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: a message cannot be encoded: {source}")]
    Encode {
        path: String,
        source: serde_json::Error,
    },
}

impl SegmentError {
    /// The segment is not there (deleted, or never written).
    pub fn is_not_found(&self) -> bool {
        matches!(self, SegmentError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SegmentError + '_ {
    move |source| SegmentError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Whether `name` is a segment's name (`seg_` and lowercase hex): a name read from a state
/// file never reaches outside the outbox folder.
pub fn is_name(name: &str) -> bool {
    name.strip_prefix(PREFIX).is_some_and(|hex| {
        !hex.is_empty()
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The segment's name: a digest of the ids of its messages.
pub fn name_of(messages: &[&Message]) -> String {
    use sha2::{Digest, Sha256};
    let mut ids: Vec<&str> = messages.iter().map(|m| m.id.as_str()).collect();
    ids.sort_unstable();
    let mut hash = Sha256::new();
    for id in ids {
        hash.update(id.as_bytes());
        hash.update([0u8]);
    }
    let digest = hash.finalize();
    format!("{PREFIX}{}", crate::audit::hex(&digest[..16]))
}

/// Where segment `name` is.
pub fn path(store: &Store, name: &str) -> PathBuf {
    store.root().join(DIR).join(format!("{name}{SUFFIX}"))
}

/// Writes `messages` to a segment, atomically and fsynced, and returns its name.
pub fn write(store: &Store, messages: &[&Message]) -> Result<String, SegmentError> {
    let dir = store.root().join(DIR);
    store
        .refuse_links(&dir)
        .map_err(|e| io(&dir)(std::io::Error::other(e)))?;
    match std::fs::create_dir(&dir) {
        // A folder's new entry is durable once its parent is synced.
        Ok(()) => std::fs::File::open(store.root())
            .and_then(|d| d.sync_all())
            .map_err(io(store.root()))?,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io(&dir)(e)),
    }
    let name = name_of(messages);
    let path = path(store, &name);
    let mut text = Vec::with_capacity(messages.len() * 1024);
    for message in messages {
        serde_json::to_writer(&mut text, *message).map_err(|source| SegmentError::Encode {
            path: path.display().to_string(),
            source,
        })?;
        text.push(b'\n');
    }
    crate::fsutil::write_atomic(&path, &text).map_err(io(&path))?;
    Ok(name)
}

/// The messages of segment `name` whose ids are in `wanted`, by id. A line that cannot be
/// read (the file was edited) is skipped with a warning naming it; the rest are returned.
pub fn read(
    store: &Store,
    name: &str,
    wanted: &BTreeSet<&str>,
) -> Result<HashMap<String, Message>, SegmentError> {
    let path = path(store, name);
    store
        .refuse_links(&path)
        .map_err(|e| io(&path)(std::io::Error::other(e)))?;
    let mut bytes = Vec::new();
    crate::fsutil::open_read(&path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(io(&path))?;
    let mut out = HashMap::new();
    for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Message>(line) {
            Ok(message) if wanted.contains(message.id.as_str()) => {
                out.insert(message.id.clone(), message);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(
                path = %path.display(),
                line = n + 1,
                column = e.column(),
                error = %e,
                "skipping an unreadable message of an outbox segment"
            ),
        }
    }
    Ok(out)
}

/// Deletes every segment not in `referenced`: those whose messages all left the outboxes
/// (sent, or failed for good), and orphans of a crash. The caller has read every review's
/// state, and `referenced` holds every segment one of them refers to. Each deletion is one
/// `unlink`: a reader sees the whole segment or none. Returns how many were deleted.
pub fn collect_garbage(
    store: &Store,
    referenced: &BTreeSet<String>,
) -> Result<usize, SegmentError> {
    let dir = store.root().join(DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io(&dir)(e)),
    };
    let mut deleted = 0;
    for entry in entries {
        let entry = entry.map_err(io(&dir))?;
        let file = entry.file_name();
        let Some(name) = file.to_str().and_then(|f| f.strip_suffix(SUFFIX)) else {
            continue;
        };
        if !is_name(name) || referenced.contains(name) {
            continue;
        }
        let path = entry.path();
        match std::fs::remove_file(&path) {
            Ok(()) => deleted += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&path)(e)),
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_digests_only_and_nothing_else_passes_for_one() {
        assert!(is_name("seg_0123abcd"));
        for bad in [
            "seg_",
            "seg_../x",
            "seg_ABCD",
            "../seg_00",
            "msg_00",
            "seg_00/..",
            "",
        ] {
            assert!(!is_name(bad), "{bad}");
        }
        assert!(is_name(&name_of(&[])));
    }

    #[test]
    fn a_segment_gives_back_the_messages_asked_for() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let store = Store::open(dir.path()).expect("store");
        let messages: Vec<Message> = ["a", "b", "c"]
            .iter()
            .map(|id| {
                let mut m = crate::notify::outbox::tests::message(id, "2026-12-01");
                m.content.title = format!("title {id}");
                m
            })
            .collect();
        let refs: Vec<&Message> = messages.iter().collect();
        let name = write(&store, &refs).expect("write");
        assert!(is_name(&name));
        // The same ids, in any order: the same name.
        let reversed: Vec<&Message> = messages.iter().rev().collect();
        assert_eq!(name_of(&reversed), name);
        let wanted: BTreeSet<&str> = ["a", "c"].into();
        let read = read(&store, &name, &wanted).expect("read");
        assert_eq!(read.len(), 2);
        assert_eq!(read["c"], messages[2]);
        let e = super::read(&store, "seg_ff", &wanted).expect_err("missing");
        assert!(e.is_not_found(), "{e}");
    }

    #[test]
    fn only_unreferenced_segments_are_collected() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let store = Store::open(dir.path()).expect("store");
        std::fs::create_dir(dir.path().join(DIR)).expect("outbox");
        for name in ["seg_01", "seg_02"] {
            std::fs::write(path(&store, name), b"").expect("segment");
        }
        // Not a segment: left alone.
        std::fs::write(dir.path().join(DIR).join("notes.txt"), b"").expect("other");
        let referenced: BTreeSet<String> = ["seg_02".to_owned()].into();
        assert_eq!(collect_garbage(&store, &referenced).expect("collect"), 1);
        assert!(!path(&store, "seg_01").exists());
        assert!(path(&store, "seg_02").exists());
        assert!(dir.path().join(DIR).join("notes.txt").exists());
    }
}

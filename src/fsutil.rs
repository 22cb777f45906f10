//! Atomic file writes: every file Recert writes goes through [`write_atomic`], so a reader (or
//! a crash) sees the old content or the new, never a mix.
//!
//! Nothing here follows a symbolic link in the file's place: anyone who can plant a link in the
//! state directory could otherwise make Recert append to or overwrite a file elsewhere.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A symbolic link found where Recert writes: refused, never followed.
#[derive(Debug, thiserror::Error)]
#[error("`{}` is a symbolic link: Recert does not follow links in its state directory", path.display())]
pub struct LinkRefused {
    pub path: PathBuf,
}

fn link_refused(path: &Path) -> std::io::Error {
    std::io::Error::other(LinkRefused {
        path: path.to_path_buf(),
    })
}

/// `O_NOFOLLOW`, which std has no constant for (the flag's bits fit an `i32`).
pub(crate) const NOFOLLOW: i32 = rustix::fs::OFlags::NOFOLLOW.bits() as i32;

/// Names the link when the kernel refused to follow one (`O_NOFOLLOW` fails with `ELOOP`).
fn name_link(path: &Path) -> impl FnOnce(std::io::Error) -> std::io::Error + '_ {
    move |e| {
        if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
            link_refused(path)
        } else {
            e
        }
    }
}

/// Opens `path` for appending (created if missing); a link in its place is refused.
pub fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(NOFOLLOW)
        .open(path)
        .map_err(name_link(path))
}

/// Opens an existing `path` for writing in place (no truncation); a link is refused.
pub fn open_write(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .custom_flags(NOFOLLOW)
        .open(path)
        .map_err(name_link(path))
}

/// Opens `path` for reading; a link is refused.
pub fn open_read(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(NOFOLLOW)
        .open(path)
        .map_err(name_link(path))
}

/// Refuses `path` when it, or any folder between `root` and it, is a symbolic link (`root`
/// itself may be one: the operator chose it). A missing path is fine: it is created as a file.
pub fn refuse_links(root: &Path, path: &Path) -> std::io::Result<()> {
    let Ok(below) = path.strip_prefix(root) else {
        return refuse_link(path);
    };
    let mut at = root.to_path_buf();
    for part in below.components() {
        at.push(part);
        refuse_link(&at)?;
    }
    Ok(())
}

/// Refuses `path` when it is a symbolic link.
pub fn refuse_link(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(link_refused(path)),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Writes `contents` to `path` through a temporary file in the same folder: write, fsync,
/// rename over the target, fsync the folder (so the rename itself survives a power cut).
pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    replace(path, contents, true)
}

/// Replaces `path` atomically for readers (temp file, rename) without forcing it to disk.
///
/// For files derived from durable state (status, results): after a power cut such a file may
/// be old or empty, and the next reconcile rewrites it because its content differs. Skipping
/// the two fsyncs matters when a first reconcile writes thousands of them.
pub fn write_derived(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    replace(path, contents, false)
}

fn replace(path: &Path, contents: &[u8], durable: bool) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // The rename would replace a link rather than write through it, but a link where Recert
    // writes means someone else put it there: refuse it, by name. (Linked folders inside the
    // state directory are refused by the store, which knows where that directory starts.)
    refuse_link(path)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("recert");
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    temp.write_all(contents)?;
    if durable {
        temp.as_file().sync_all()?;
    }
    temp.persist(path).map_err(|e| e.error)?;
    if durable {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_the_whole_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("status.yaml");
        write_atomic(&path, b"first version, rather long\n").expect("first write");
        write_atomic(&path, b"second\n").expect("second write");
        assert_eq!(std::fs::read(&path).expect("read back"), b"second\n");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from("status.yaml")]);
    }

    #[test]
    fn a_link_in_the_place_of_a_file_is_refused_and_its_target_left_alone() {
        let dir = tempfile::tempdir().expect("temp dir");
        let outside = dir.path().join("outside.txt");
        std::fs::write(&outside, b"theirs\n").expect("outside");
        let link = dir.path().join("audit.jsonl");
        std::os::unix::fs::symlink(&outside, &link).expect("link");

        for e in [
            open_append(&link).map(drop).expect_err("append"),
            write_atomic(&link, b"ours\n").expect_err("replace"),
        ] {
            let inner = e.get_ref().and_then(|e| e.downcast_ref::<LinkRefused>());
            assert!(inner.is_some_and(|l| l.path == link), "{e}");
            assert!(e.to_string().contains("symbolic link"), "{e}");
        }
        assert_eq!(std::fs::read(&outside).expect("read"), b"theirs\n");
    }

    #[test]
    fn a_linked_folder_below_the_root_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let elsewhere = tempfile::tempdir().expect("elsewhere");
        std::fs::create_dir(dir.path().join("reviews")).expect("reviews");
        let linked = dir.path().join("reviews").join("ga");
        std::os::unix::fs::symlink(elsewhere.path(), &linked).expect("link");
        let e = refuse_links(dir.path(), &linked.join("state.json")).expect_err("refused");
        assert!(e.to_string().contains("reviews/ga"), "{e}");
        refuse_links(dir.path(), &dir.path().join("reviews/other/state.json")).expect("no link");
    }
}

//! Atomic file writes: every file Recert writes goes through [`write_atomic`], so a reader (or
//! a crash) sees the old content or the new, never a mix.

use std::io::Write;
use std::path::Path;

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
}

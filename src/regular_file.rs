//! Reading a file named by a user or a manifest, safely: only regular files, never more than
//! the size limit.
//!
//! A path may name a FIFO (opening it for reading blocks until a writer comes, forever), a
//! device (`/dev/zero` never ends) or a socket. The type is checked by path first, so that a
//! device is not even opened (opening some has effects: a tape rewinds); that leaves a race
//! (the file can be swapped between the check and the open), so the file is then opened
//! without blocking, its type is checked again on the open descriptor, and at most the limit
//! plus one byte is read, whatever the file grows to meanwhile.

use std::fs::File;
use std::io::Read as _;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Why a file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("no such file or directory")]
    NotFound,
    #[error("permission denied")]
    PermissionDenied,
    #[error("it is {0}, not a regular file (only regular files are read)")]
    NotRegular(&'static str),
    #[error("the file is {size} bytes, more than the limit of {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error("{0}")]
    Io(std::io::Error),
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> ReadError {
        match e.kind() {
            std::io::ErrorKind::NotFound => ReadError::NotFound,
            std::io::ErrorKind::PermissionDenied => ReadError::PermissionDenied,
            _ => ReadError::Io(e),
        }
    }
}

/// Opens `path` for reading if it is a regular file (after following links), without ever
/// blocking on the open.
pub fn open(path: &Path) -> Result<File, ReadError> {
    let kind = std::fs::metadata(path)?.file_type();
    if !kind.is_file() {
        return Err(ReadError::NotRegular(describe(kind)));
    }
    // A FIFO with no writer would block the open itself; the flag is harmless on a regular
    // file, where reads never block. A terminal swapped in must not become ours.
    let flags = rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(path)?;
    let kind = file.metadata()?.file_type();
    if kind.is_file() {
        Ok(file)
    } else {
        Err(ReadError::NotRegular(describe(kind)))
    }
}

/// The bytes of the regular file at `path`, refusing a file larger than `limit` bytes.
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = open(path)?;
    let size = file.metadata()?.len();
    if size > limit {
        return Err(ReadError::TooLarge { size, limit });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // One byte past the limit tells a file that grew since the size was taken.
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    let read = bytes.len() as u64;
    if read > limit {
        return Err(ReadError::TooLarge { size: read, limit });
    }
    Ok(bytes)
}

/// A file type in words, for the message.
fn describe(kind: std::fs::FileType) -> &'static str {
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_refused_without_blocking_and_a_device_without_reading_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let fifo = dir.path().join("fifo.yaml");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        // With no writer, a blocking open would never return.
        assert!(matches!(
            read(&fifo, 1024),
            Err(ReadError::NotRegular("a FIFO (named pipe)"))
        ));
        assert!(matches!(
            read(Path::new("/dev/zero"), 1024),
            Err(ReadError::NotRegular("a character device"))
        ));
        assert!(matches!(
            read(dir.path(), 1024),
            Err(ReadError::NotRegular("a directory"))
        ));
        assert!(matches!(
            read(&dir.path().join("missing"), 1024),
            Err(ReadError::NotFound)
        ));
    }

    #[test]
    fn a_file_over_the_limit_is_refused_and_one_at_it_is_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("f.yaml");
        std::fs::write(&path, b"12345").expect("write");
        assert_eq!(read(&path, 5).expect("at the limit"), b"12345");
        assert!(matches!(
            read(&path, 4),
            Err(ReadError::TooLarge { size: 5, limit: 4 })
        ));
    }
}

//! The state dir belongs to one Recert at a time: two daemons on one state dir would both
//! apply the same decisions and interleave their audit trails.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The state directory cannot be locked: another Recert holds it, or it cannot be opened.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LockError(String);

/// Held for the life of the process; the operating system releases it when the process ends,
/// however it ends, so a crash never leaves a stale lock behind.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
    path: PathBuf,
}

impl StateLock {
    pub fn acquire(state_dir: &Path) -> Result<StateLock, LockError> {
        std::fs::create_dir_all(state_dir).map_err(|e| {
            LockError(format!(
                "cannot create the state dir `{}`: {e}",
                state_dir.display()
            ))
        })?;
        let path = state_dir.join(".lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            // A planted link would have the pid written over whatever it points to.
            .custom_flags(crate::fsutil::NOFOLLOW)
            .open(&path)
            .map_err(|e| LockError(format!("cannot open `{}`: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() {
                    "another recert".to_owned()
                } else {
                    format!("another recert (pid {holder})")
                };
                return Err(LockError(format!(
                    "the state dir `{}` is in use by {who}; run one recert per state dir",
                    state_dir.display()
                )));
            }
            Err(TryLockError::Error(e)) => {
                return Err(LockError(format!("cannot lock `{}`: {e}", path.display())));
            }
        }
        // The pid is only for the message above; the lock itself is what counts.
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "{}", std::process::id());
        let _ = file.flush();
        Ok(StateLock { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_state_dir_is_refused_with_the_holders_pid() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = StateLock::acquire(dir.path()).expect("first lock");
        let second = StateLock::acquire(dir.path()).expect_err("second lock");
        assert!(
            second
                .to_string()
                .contains(&format!("pid {}", std::process::id())),
            "{second}"
        );
        drop(first);
        StateLock::acquire(dir.path()).expect("free again once the holder is gone");
    }
}

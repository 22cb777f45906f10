//! File events from the operating system (inotify on Linux) into the control loop, or polling
//! when the system cannot watch.
//!
//! Events only say "look again": the loop re-resolves the tree and compares contents, so a
//! missed or spurious event costs at most one pass, never a wrong result.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc::UnboundedSender;

/// How to notice changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// File events, falling back to polling when they are unavailable.
    Auto,
    /// Poll only (network file systems, where events do not arrive).
    Poll,
}

#[derive(Debug)]
pub struct Watcher {
    inner: Option<notify::RecommendedWatcher>,
    /// The resolved tree being watched recursively (edits in place).
    root: Option<PathBuf>,
    /// Set when polling instead of (or for want of) events.
    pub polling: Option<Duration>,
    poll_interval: Duration,
}

impl Watcher {
    /// Watches `points` (the link's parent, where git-sync flips) and, recursively, `root`
    /// (the resolved tree, for edits in place).
    pub fn start(
        mode: Mode,
        points: &[PathBuf],
        root: &Path,
        poll_interval: Duration,
        tx: UnboundedSender<()>,
    ) -> Watcher {
        let mut watcher = Watcher {
            inner: None,
            root: None,
            polling: None,
            poll_interval,
        };
        if mode == Mode::Poll {
            tracing::info!(
                interval = ?poll_interval,
                "polling the manifests (--watch poll)"
            );
            watcher.polling = Some(poll_interval);
            return watcher;
        }
        let handler = move |event: notify::Result<notify::Event>| match event {
            Ok(event) if matches!(event.kind, EventKind::Access(_)) => {}
            // An error event (a queue overflow) also means "look again".
            _ => {
                let _ = tx.send(());
            }
        };
        let mut inner = match notify::recommended_watcher(handler) {
            Ok(inner) => inner,
            Err(e) => {
                watcher.fall_back(&e.to_string());
                return watcher;
            }
        };
        for point in points {
            if let Err(e) = inner.watch(point, RecursiveMode::NonRecursive) {
                watcher.fall_back(&format!("cannot watch `{}`: {e}", point.display()));
                return watcher;
            }
        }
        watcher.inner = Some(inner);
        watcher.follow(root);
        watcher
    }

    /// Watches the tree the link now points at (after a flip), instead of the old one.
    pub fn follow(&mut self, root: &Path) {
        if self.root.as_deref() == Some(root) {
            return;
        }
        let Some(inner) = self.inner.as_mut() else {
            return;
        };
        if let Some(old) = self.root.take() {
            // The old tree is usually gone already (git-sync deletes it): nothing to undo.
            let _ = inner.unwatch(&old);
        }
        match inner.watch(root, RecursiveMode::Recursive) {
            Ok(()) => self.root = Some(root.to_path_buf()),
            Err(e) => {
                let reason = format!("cannot watch `{}`: {e}", root.display());
                self.fall_back(&reason);
            }
        }
    }

    fn fall_back(&mut self, reason: &str) {
        tracing::warn!(
            reason,
            interval = ?self.poll_interval,
            "file events are unavailable (inotify missing or its limits reached); polling instead"
        );
        self.inner = None;
        self.polling = Some(self.poll_interval);
    }
}

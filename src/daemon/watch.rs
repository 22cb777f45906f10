//! File events from the operating system (inotify on Linux) into the control loop, or polling
//! when the system cannot watch.
//!
//! Events only say "look again": the loop re-resolves the tree and compares contents, so a
//! missed or spurious event costs at most one pass, never a wrong result. Events about paths
//! the walk skips (hidden entries, files that are not YAML, `.recertignore`d paths) are
//! dropped here: a log file rewritten every few milliseconds must not keep the loop busy.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

use crate::load::IGNORE_FILE;

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
    /// The same, as the event handler reads it to drop events the walk would skip.
    filter_root: Arc<RwLock<PathBuf>>,
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
        let filter_root = Arc::new(RwLock::new(root.to_path_buf()));
        let mut watcher = Watcher {
            inner: None,
            root: None,
            filter_root: filter_root.clone(),
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
        let handler = move |event: notify::Result<notify::Event>| {
            let wanted = match filter_root.read() {
                Ok(root) => starts_a_pass(&event, &root),
                Err(_) => true,
            };
            if wanted {
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
        if let Ok(mut filter_root) = self.filter_root.write() {
            *filter_root = root.to_path_buf();
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

/// Whether an event from the watcher asks for a pass over the tree at `root`.
fn starts_a_pass(event: &notify::Result<notify::Event>, root: &Path) -> bool {
    match event {
        Ok(event) if matches!(event.kind, EventKind::Access(_)) => false,
        Ok(event) if !event.paths.is_empty() => event.paths.iter().any(|p| relevant(root, p)),
        // An event without paths, or an error event (a queue overflow), means "look again".
        _ => true,
    }
}

/// Whether a change at `path` can change what is loaded from `root`: not when the walk skips
/// it. Outside the tree (the folder where git-sync flips its link) everything counts.
pub fn relevant(root: &Path, path: &Path) -> bool {
    let Ok(inside) = path.strip_prefix(root) else {
        return true;
    };
    if inside.as_os_str().is_empty() || path.file_name() == Some(IGNORE_FILE.as_ref()) {
        return true;
    }
    if inside
        .components()
        .any(|c| c.as_os_str().as_encoded_bytes().starts_with(b"."))
    {
        return false;
    }
    let meta = std::fs::symlink_metadata(path).ok();
    let is_dir = meta.as_ref().is_some_and(std::fs::Metadata::is_dir);
    if recertignored(root, path, is_dir) {
        return false;
    }
    let yaml = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    match meta {
        Some(_) if is_dir => true,
        Some(_) => yaml,
        // Gone: a file by its extension; without one it may have been a folder moved away,
        // whose files sent no event of their own.
        None => yaml || path.extension().is_none(),
    }
}

/// Whether a `.recertignore` file between `root` and `path` skips it (the deepest that says
/// anything decides, as in the walk).
fn recertignored(root: &Path, path: &Path, is_dir: bool) -> bool {
    let mut folder = path.parent();
    while let Some(dir) = folder.filter(|d| d.starts_with(root)) {
        let file = dir.join(IGNORE_FILE);
        if file.is_file() {
            let (matcher, _) = ignore::gitignore::Gitignore::new(&file);
            let found = matcher.matched_path_or_any_parents(path, is_dir);
            if found.is_ignore() {
                return true;
            }
            if found.is_whitelist() {
                return false;
            }
        }
        folder = dir.parent();
    }
    false
}

/// After a first event: waits until events have stopped for `quiet`, but never longer than
/// `max_wait` in all, so that a file written again and again cannot hold passes off forever.
pub async fn settle(events: &mut UnboundedReceiver<()>, quiet: Duration, max_wait: Duration) {
    let deadline = Instant::now() + max_wait;
    loop {
        let until = (Instant::now() + quiet).min(deadline);
        match tokio::time::timeout_at(until, events.recv()).await {
            Ok(Some(())) if Instant::now() < deadline => {}
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn events_every_20ms_still_let_a_pass_start_within_the_maximum_wait() {
        let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
        let writer = tokio::spawn(async move {
            loop {
                if tx.send(()).is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let started = Instant::now();
        settle(
            &mut events,
            Duration::from_millis(50),
            Duration::from_secs(2),
        )
        .await;
        // The clock is paused: this is where the wait ended, not how long a machine took.
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        writer.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_ends_after_the_quiet_time() {
        let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
        for _ in 0..3 {
            tx.send(()).expect("send");
        }
        let started = Instant::now();
        settle(
            &mut events,
            Duration::from_millis(50),
            Duration::from_secs(2),
        )
        .await;
        assert_eq!(started.elapsed(), Duration::from_millis(50));
    }

    #[test]
    fn events_about_hidden_or_non_yaml_files_start_no_pass() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        let modified = |name: &str| {
            let path = root.join(name);
            std::fs::write(&path, "x").expect("write");
            Ok(
                notify::Event::new(EventKind::Modify(notify::event::ModifyKind::Any))
                    .add_path(path),
            )
        };
        assert!(!starts_a_pass(&modified(".cache"), root));
        assert!(!starts_a_pass(&modified("build.log"), root));
        assert!(starts_a_pass(&modified("review.yaml"), root));
        let overflow = Err(notify::Error::generic("queue overflow"));
        assert!(starts_a_pass(&overflow, root));
    }

    #[test]
    fn only_paths_the_walk_reads_are_relevant() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        let write = |name: &str, text: &str| {
            let path = root.join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, text).expect("write");
            path
        };
        write(".recertignore", "drafts/\n*.tmp.yaml\n");
        assert!(relevant(root, &write("reviews/ga.yaml", "")));
        assert!(relevant(root, &write("reviews/ga.yml", "")));
        assert!(relevant(root, &root.join("reviews")));
        assert!(relevant(root, &root.join(".recertignore")));
        assert!(relevant(root, &root.join("reviews/deleted.yaml")));
        assert!(relevant(root, &root.join("a-folder-moved-away")));
        assert!(relevant(root.join("tree").as_path(), root));

        assert!(!relevant(root, &write(".hidden.yaml", "")));
        assert!(!relevant(root, &write(".git/index", "")));
        assert!(!relevant(root, &write("reviews/.ga.yaml.swp", "")));
        assert!(!relevant(root, &write("notes.txt", "")));
        assert!(!relevant(root, &write("Makefile", "")));
        assert!(!relevant(root, &root.join("reviews/ga.yaml~")));
        assert!(!relevant(root, &write("drafts/x.yaml", "")));
        assert!(!relevant(root, &write("reviews/y.tmp.yaml", "")));
    }
}

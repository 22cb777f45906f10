//! Where the manifests are right now.
//!
//! git-sync publishes each commit as a new worktree and flips a symbolic link to it
//! atomically, then deletes the old worktree. So the path Recert is given may pass through a
//! link that changes under it: the link is re-resolved on every event, everything is loaded
//! from the one tree it points at, and the target's name (git-sync names worktrees by commit)
//! is the revision.

use std::path::{Component, Path, PathBuf};

/// The manifests' location, with the link that leads to it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    /// What the user named, as given (made absolute).
    pub path: PathBuf,
    /// The last symbolic link on the way to `path`, if any: the one git-sync flips.
    pub link: Option<PathBuf>,
}

/// One resolution of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The directory (or file) to load, with every link resolved.
    pub root: PathBuf,
    /// The link's target name: the commit, for git-sync.
    pub revision: Option<String>,
}

impl Tree {
    pub fn new(path: &Path) -> std::io::Result<Tree> {
        let path = std::path::absolute(path)?;
        let mut link = None;
        let mut prefix = PathBuf::new();
        for component in path.components() {
            prefix.push(component);
            if matches!(component, Component::Normal(_))
                && std::fs::symlink_metadata(&prefix).is_ok_and(|m| m.file_type().is_symlink())
            {
                link = Some(prefix.clone());
            }
        }
        Ok(Tree { path, link })
    }

    /// Resolves the link now. Between two calls git-sync may have flipped it.
    pub fn resolve(&self) -> std::io::Result<Resolved> {
        let root = std::fs::canonicalize(&self.path)?;
        let revision = match &self.link {
            Some(link) => std::fs::read_link(link)?
                .file_name()
                .map(|n| n.to_string_lossy().into_owned()),
            None => None,
        };
        Ok(Resolved { root, revision })
    }

    /// Where a flip shows: the link's parent (besides the resolved tree itself).
    pub fn watch_points(&self) -> Vec<PathBuf> {
        self.link
            .as_ref()
            .and_then(|l| l.parent())
            .map(|p| vec![p.to_path_buf()])
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_git_sync_link_gives_the_commit_as_revision_and_follows_the_flip() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        std::fs::create_dir_all(root.join(".worktrees/aaa111/reviews")).expect("mkdir");
        std::fs::create_dir_all(root.join(".worktrees/bbb222/reviews")).expect("mkdir");
        std::os::unix::fs::symlink(".worktrees/aaa111", root.join("repo")).expect("link");
        let tree = Tree::new(&root.join("repo/reviews")).expect("tree");
        assert_eq!(tree.link.as_deref(), Some(root.join("repo").as_path()));
        assert_eq!(tree.watch_points(), vec![root.to_path_buf()]);
        let first = tree.resolve().expect("resolve");
        assert_eq!(first.revision.as_deref(), Some("aaa111"));
        assert!(first.root.ends_with(".worktrees/aaa111/reviews"));

        // git-sync's flip: a new link renamed over the old one.
        std::os::unix::fs::symlink(".worktrees/bbb222", root.join("repo.tmp")).expect("link");
        std::fs::rename(root.join("repo.tmp"), root.join("repo")).expect("flip");
        let second = tree.resolve().expect("resolve");
        assert_eq!(second.revision.as_deref(), Some("bbb222"));
        assert!(second.root.ends_with(".worktrees/bbb222/reviews"));
    }

    #[test]
    fn a_plain_directory_has_no_revision() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tree = Tree::new(dir.path()).expect("tree");
        assert_eq!(tree.link, None);
        assert!(tree.watch_points().is_empty());
        assert_eq!(tree.resolve().expect("resolve").revision, None);
    }
}

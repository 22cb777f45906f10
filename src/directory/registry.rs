//! The directories a pass uses, opened from the manifests on first use and, in the daemon,
//! kept open between passes (a Graph token, the index over a large file directory) while the
//! manifests that define them stay the same.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::directory::AnyDirectory;
use crate::directory::file::FileDirectory;
use crate::directory::graph::{GraphConfig, GraphDirectory};
use crate::directory::scim::ScimDirectory;
use crate::error::ReviewError;
use crate::load::{Loaded, rules::resolve_relative};
use crate::model::directory::DirectoryType;
use crate::model::{Directory as DirectoryDoc, Resource};

/// The directories the manifests define, opened on first use.
#[derive(Debug)]
pub struct Directories<'a> {
    loaded: &'a Loaded,
    open: BTreeMap<String, Opened>,
    /// Names whose cache entry was checked against this pass's manifests.
    checked: BTreeSet<String>,
    protected: Vec<PathBuf>,
}

/// Directories kept open between passes (the daemon's): a Graph token, an index over a large
/// file directory, are reused while the manifests that define them stay the same.
#[derive(Debug, Default)]
pub struct DirectoryCache {
    open: BTreeMap<String, Opened>,
    protected: Vec<PathBuf>,
}

impl DirectoryCache {
    /// A cache whose file directories under any of `protected` are never edited.
    pub fn protecting(protected: Vec<PathBuf>) -> DirectoryCache {
        DirectoryCache {
            open: BTreeMap::new(),
            protected,
        }
    }
}

#[derive(Debug)]
struct Opened {
    /// What the directory was opened from: its manifest, and a file directory's data.
    key: u64,
    directory: Result<AnyDirectory, ReviewError>,
}

/// Opens the directory named `name` for a caller that keeps it beside the passes (the
/// reviewer page's sign-in look-ups).
pub fn open_one(loaded: &Loaded, name: &str) -> Result<AnyDirectory, ReviewError> {
    Directories::new(loaded).open_directory(name)
}

impl<'a> Directories<'a> {
    pub fn new(loaded: &'a Loaded) -> Directories<'a> {
        Directories::with_cache(loaded, DirectoryCache::default())
    }

    pub fn with_cache(loaded: &'a Loaded, cache: DirectoryCache) -> Directories<'a> {
        Directories {
            loaded,
            open: cache.open,
            checked: BTreeSet::new(),
            protected: cache.protected,
        }
    }

    /// What to keep for the next pass.
    pub fn into_cache(self) -> DirectoryCache {
        DirectoryCache {
            open: self.open,
            protected: self.protected,
        }
    }

    /// The manifests this pass reads.
    pub fn loaded(&self) -> &'a Loaded {
        self.loaded
    }

    pub fn get(&mut self, name: &str) -> Result<&AnyDirectory, ReviewError> {
        if !self.checked.contains(name) {
            self.checked.insert(name.to_owned());
            let key = self.key_of(name);
            let reuse = self
                .open
                .get(name)
                .is_some_and(|o| o.key == key && o.directory.is_ok());
            if !reuse {
                let directory = self.open_directory(name).map(|d| self.protect(d));
                self.open.insert(name.to_owned(), Opened { key, directory });
            }
        }
        match self.open.get(name).map(|o| &o.directory) {
            Some(Ok(directory)) => Ok(directory),
            Some(Err(e)) => Err(e.clone()),
            None => Err(ReviewError::DirectoryConfig(format!(
                "no Directory named `{name}` is loaded"
            ))),
        }
    }

    /// A hash of everything the directory named `name` is opened from.
    fn key_of(&self, name: &str) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for doc in &self.loaded.docs {
            match &doc.resource {
                Resource::Directory(x) if x.metadata.name == name => {
                    self.loaded.path_of(doc).hash(&mut hasher);
                    serde_json::to_string(&x.spec)
                        .unwrap_or_default()
                        .hash(&mut hasher);
                }
                // The hash the loader took of the text: a data file edited by an apply or a
                // commit reopens the directory.
                Resource::DirectoryData(_) => {
                    self.loaded.path_of(doc).hash(&mut hasher);
                    self.loaded.content_hash(doc.file).hash(&mut hasher);
                }
                _ => {}
            }
        }
        hasher.finish()
    }

    fn protect(&self, directory: AnyDirectory) -> AnyDirectory {
        match directory {
            AnyDirectory::File(file) => {
                let path =
                    std::fs::canonicalize(file.path()).unwrap_or_else(|_| file.path().to_owned());
                match self.protected.iter().find(|root| path.starts_with(root)) {
                    Some(root) => {
                        let reason = format!(
                            "the file directory `{}` is inside the watched tree `{}`, which `recert run` never writes; keep the data file outside it, or apply with `recert reconcile`",
                            file.path().display(),
                            root.display()
                        );
                        AnyDirectory::File(file.read_only(reason))
                    }
                    None => AnyDirectory::File(file),
                }
            }
            other => other,
        }
    }

    fn open_directory(&self, name: &str) -> Result<AnyDirectory, ReviewError> {
        self.open_named(name).map_err(ReviewError::DirectoryConfig)
    }

    fn open_named(&self, name: &str) -> Result<AnyDirectory, String> {
        let doc = self
            .loaded
            .docs
            .iter()
            .find(|d| matches!(&d.resource, Resource::Directory(x) if x.metadata.name == name))
            .ok_or_else(|| format!("no Directory named `{name}` is loaded"))?;
        let Resource::Directory(directory) = &doc.resource else {
            unreachable!("matched on the kind above");
        };
        let DirectoryDoc { spec, .. } = directory.as_ref();
        crate::load::policy::check_open(self.loaded, doc, spec)
            .map_err(|f| format!("directory `{name}`: {f}"))?;
        match (spec.kind, &spec.file) {
            (DirectoryType::File, Some(file)) => {
                let path = resolve_relative(self.loaded.path_of(doc), &file.path);
                let wanted = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
                let already = self.loaded.docs.iter().find(|d| {
                    matches!(d.resource, Resource::DirectoryData(_))
                        && std::fs::canonicalize(self.loaded.path_of(d)).is_ok_and(|p| p == wanted)
                });
                // The engine never runs on data `validate` rejects.
                crate::directory::file::refuse_findings(self.loaded, &path)
                    .map_err(|e| format!("directory `{name}`: {e}"))?;
                match already {
                    Some(d) => {
                        let Resource::DirectoryData(data) = &d.resource else {
                            unreachable!("matched on the kind above");
                        };
                        let text = self.loaded.sources[d.file].text.as_deref();
                        Ok(AnyDirectory::File(FileDirectory::from_loaded(
                            &path,
                            text.unwrap_or_default(),
                            d.index,
                            &data.spec,
                        )))
                    }
                    None => FileDirectory::open(&path)
                        .map(AnyDirectory::File)
                        .map_err(|e| e.to_string()),
                }
            }
            (DirectoryType::Scim, _) => match &spec.scim {
                Some(settings) => {
                    // A relative secret file is the manifest's neighbour, wherever Recert runs.
                    let base = self
                        .loaded
                        .path_of(doc)
                        .parent()
                        .unwrap_or_else(|| std::path::Path::new("."));
                    ScimDirectory::new(settings, base)
                        .map(AnyDirectory::Scim)
                        .map_err(|e| format!("directory `{name}`: {e}"))
                }
                None => Err(format!(
                    "directory `{name}` has `type: scim` but no `scim` block"
                )),
            },
            (DirectoryType::Graph, _) => {
                let settings = spec.graph.as_ref().ok_or_else(|| {
                    format!("directory `{name}` is of type `graph` but has no `graph` settings")
                })?;
                let base = self
                    .loaded
                    .path_of(doc)
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                let config = GraphConfig::from_settings(settings, &base)
                    .map_err(|e| format!("directory `{name}`: {e}"))?;
                GraphDirectory::new(config)
                    .map(AnyDirectory::Graph)
                    .map_err(|e| format!("directory `{name}`: {e}"))
            }
            (kind, _) => Err(format!(
                "directory `{name}` is of type `{}`, which this build cannot reach yet",
                kind.as_str()
            )),
        }
    }
}

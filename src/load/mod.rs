//! Loading: from paths on disk to validated, typed documents plus every problem found.
//!
//! `load` never stops at the first problem and never fails as a whole: unreadable files,
//! broken YAML and schema violations become diagnostics, and every document that passed is
//! returned so that one broken file cannot hide another's findings or stop the daemon.
//!
//! The stages: walk (`.yaml`/`.yml`, hidden entries and `.recertignore` patterns skipped) →
//! read (size limit, UTF-8) → `yaml::parse` (spanned trees) → per document: envelope, inline
//! secrets, `validate::SchemaSet`, typed decode → `rules` across all documents.

pub(crate) mod parallel_decode;
pub mod policy;
pub mod rules;
pub mod validate;

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::Value;

use crate::diag::{Code, Diagnostic, field_path};
use crate::model::{self, Kind, Resource};
use crate::source::{SourceFile, position_of};

// Reading YAML lives in `crate::yaml` with the rest of YAML text; many callers know it as
// part of loading, so it is reachable here too (the same module, not a copy).
pub use crate::yaml;
pub use validate::SchemaSet;
use yaml::{Node, NodeValue, YamlErrorKind};

/// The largest file read, by default. Manifests are a few kilobytes; a `DirectoryData` with
/// tens of thousands of assignments is a few megabytes.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 16 * 1024 * 1024;

/// The name of the ignore files the walk honours (gitignore syntax).
pub const IGNORE_FILE: &str = ".recertignore";

/// How to load.
#[derive(Debug, Clone)]
pub struct Options {
    pub max_file_size: u64,
    /// The data directories and authorities the operator trusts ([`policy`]).
    pub trust: policy::Trust,
}

impl Default for Options {
    /// The size limit, and no trust beyond the built-in rules: the command line's
    /// `--data-dir` and `--allow-authority` come in through [`Options::trusting`].
    fn default() -> Self {
        Options {
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            trust: policy::Trust::default(),
        }
    }
}

impl Options {
    /// The default options, trusting what the operator said to trust.
    pub fn trusting(trust: policy::Trust) -> Options {
        Options {
            trust,
            ..Options::default()
        }
    }
}

/// A document that passed validation, with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedDoc {
    /// Index into [`Loaded::sources`].
    pub file: usize,
    /// 0-based position of the document in its file.
    pub index: usize,
    /// The spanned tree, when the file was read with positions (it had a finding); otherwise
    /// the rules read positions again from the source, only for the findings they make.
    pub root: Option<Node>,
    pub resource: Resource,
}

/// Everything `load` found.
#[derive(Debug, Default)]
pub struct Loaded {
    pub sources: Vec<SourceFile>,
    pub docs: Vec<LoadedDoc>,
    pub diagnostics: Vec<Diagnostic>,
    /// How many YAML documents were read, valid or not.
    pub documents_read: usize,
    /// The manifests tree: the folders loaded, resolved ([`policy::manifest_roots`]).
    pub roots: Vec<PathBuf>,
    /// What the load was told to trust.
    pub trust: policy::Trust,
    /// Per source, what [`load_reusing`] needs to reuse it.
    files: Vec<FileMeta>,
}

/// What a file contributed apart from its documents.
#[derive(Debug, Clone, Default)]
struct FileMeta {
    hash: u64,
    /// Size, modification time and inode when read: a file whose stamp is unchanged (and not
    /// too recent to trust) is reused without being read again.
    stamp: Option<Stamp>,
    diagnostics: Vec<Diagnostic>,
    /// The findings of the rules inside its `DirectoryData` documents.
    data_rules: Option<Vec<Diagnostic>>,
    documents_read: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: std::time::SystemTime,
    inode: u64,
}

impl Stamp {
    /// The stamp of a file, if it is old enough to be trusted: a file modified within the last
    /// second could be written again within the file system's timestamp granularity with the
    /// same size (git's "racy git" problem), so it is always read.
    fn of(path: &Path) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).ok()?;
        let modified = meta.modified().ok()?;
        let age = std::time::SystemTime::now().duration_since(modified).ok()?;
        (age > std::time::Duration::from_secs(1)).then_some(Stamp {
            len: meta.len(),
            modified,
            inode: meta.ino(),
        })
    }
}

impl Loaded {
    /// A hash of a loaded file's text (0 when it could not be read).
    pub fn content_hash(&self, file: usize) -> u64 {
        self.files.get(file).map_or(0, |f| f.hash)
    }
}

impl Loaded {
    pub fn path_of(&self, doc: &LoadedDoc) -> &Path {
        &self.sources[doc.file].path
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == crate::diag::Severity::Error)
    }
}

/// Loads every manifest under `paths` and checks the rules that span documents.
pub fn load(paths: &[PathBuf], options: &Options, schemas: &SchemaSet) -> Loaded {
    load_reusing(paths, options, schemas, Loaded::default())
}

/// [`load`], then also every `DirectoryData` file a file-type `Directory` points to that the
/// walk did not reach (the daemon layout keeps it outside the manifests), so that `validate`
/// checks decisions against the directory wherever it is, and reports that file's findings.
pub fn load_with_directory_data(
    paths: &[PathBuf],
    options: &Options,
    schemas: &SchemaSet,
) -> Loaded {
    let loaded = load(paths, options, schemas);
    let roots = policy::manifest_roots(paths);
    let outside = rules::data_files_outside(&loaded, &roots, &options.trust);
    if outside.is_empty() {
        return loaded;
    }
    let all: Vec<PathBuf> = paths.iter().cloned().chain(outside).collect();
    load_reusing(&all, options, schemas, loaded)
}

/// Loads like [`load`], but a file whose text is exactly that of a file in `previous` is not
/// parsed again: its documents and findings move over (with the new path). This is what the
/// daemon does on every event: a git-sync flip puts every file at a new path with mostly the
/// same contents, and an edit changes one file.
pub fn load_reusing(
    paths: &[PathBuf],
    options: &Options,
    schemas: &SchemaSet,
    previous: Loaded,
) -> Loaded {
    let read_started = std::time::Instant::now();
    let (files, mut diagnostics) = walk(paths);
    // Previous files by path and stamp: unchanged files are not even read.
    let by_path: std::collections::HashMap<&Path, usize> = previous
        .sources
        .iter()
        .enumerate()
        .filter(|(i, _)| previous.files.get(*i).is_some_and(|m| m.stamp.is_some()))
        .map(|(i, s)| (s.path.as_path(), i))
        .collect();
    let texts: Vec<Result<Read, Box<Diagnostic>>> = files
        .par_iter()
        .map(|path| {
            let stamp = Stamp::of(path);
            if let (Some(stamp), Some(&i)) = (stamp, by_path.get(path.as_path()))
                && previous.files[i].stamp == Some(stamp)
            {
                return Ok(Read::Unchanged(i));
            }
            read_text(path, options).map(|text| {
                let hash = hash_text(&text);
                Read::Text(text, hash, stamp)
            })
        })
        .collect();
    drop(by_path);

    tracing::debug!(took = ?read_started.elapsed(), files = files.len(), "manifests walked, read and hashed");
    // Previous files by content, and their documents grouped per file.
    let mut old_docs: Vec<Vec<LoadedDoc>> =
        (0..previous.sources.len()).map(|_| Vec::new()).collect();
    for doc in previous.docs {
        let file = doc.file;
        old_docs[file].push(doc);
    }
    let mut by_hash: std::collections::HashMap<u64, Vec<usize>> = std::collections::HashMap::new();
    for (i, meta) in previous.files.iter().enumerate() {
        by_hash.entry(meta.hash).or_default().push(i);
    }
    let mut old_sources: Vec<Option<SourceFile>> = previous.sources.into_iter().map(Some).collect();
    let mut old_meta = previous.files;

    enum Slot {
        Reused(SourceFile, Vec<LoadedDoc>, FileMeta),
        Parse(String, u64, Option<Stamp>),
        Unreadable(Box<Diagnostic>),
    }
    let mut slots: Vec<Slot> = Vec::with_capacity(files.len());
    for (path, text) in files.iter().zip(texts) {
        let (text, hash, stamp) = match text {
            Ok(Read::Text(text, hash, stamp)) => (text, hash, stamp),
            Ok(Read::Unchanged(i)) => match old_sources[i].take() {
                Some(source) => {
                    let meta = std::mem::take(&mut old_meta[i]);
                    slots.push(Slot::Reused(source, std::mem::take(&mut old_docs[i]), meta));
                    continue;
                }
                // Taken already (the same file listed twice): read it.
                None => match read_text(path, options) {
                    Ok(text) => {
                        let hash = hash_text(&text);
                        (text, hash, None)
                    }
                    Err(d) => {
                        slots.push(Slot::Unreadable(d));
                        continue;
                    }
                },
            },
            Err(d) => {
                slots.push(Slot::Unreadable(d));
                continue;
            }
        };
        let hit = by_hash.get_mut(&hash).and_then(|candidates| {
            let at = candidates.iter().position(|&i| {
                old_sources[i]
                    .as_ref()
                    .is_some_and(|s| s.text.as_deref() == Some(text.as_str()))
            })?;
            Some(candidates.swap_remove(at))
        });
        match hit.and_then(|i| Some((i, old_sources[i].take()?))) {
            Some((i, mut source)) => {
                let mut meta = std::mem::take(&mut old_meta[i]);
                for d in meta
                    .diagnostics
                    .iter_mut()
                    .chain(meta.data_rules.iter_mut().flatten())
                {
                    d.file = path.clone();
                }
                source.path = path.clone();
                meta.stamp = stamp;
                slots.push(Slot::Reused(source, std::mem::take(&mut old_docs[i]), meta));
            }
            None => slots.push(Slot::Parse(text, hash, stamp)),
        }
    }
    enum Done {
        Reused(SourceFile, Vec<LoadedDoc>, FileMeta),
        Parsed(FileResult, u64, Option<Stamp>),
        Unreadable(Box<Diagnostic>),
    }
    let done: Vec<Done> = slots
        .into_par_iter()
        .zip(files.par_iter())
        .map(|(slot, path)| match slot {
            Slot::Reused(source, docs, meta) => Done::Reused(source, docs, meta),
            Slot::Parse(text, hash, stamp) => {
                Done::Parsed(check_text(path, text, schemas), hash, stamp)
            }
            Slot::Unreadable(d) => Done::Unreadable(d),
        })
        .collect();

    let mut loaded = Loaded {
        roots: policy::manifest_roots(paths),
        trust: options.trust.clone(),
        ..Loaded::default()
    };
    for (file, (done, path)) in done.into_iter().zip(&files).enumerate() {
        let meta = match done {
            Done::Reused(source, docs, meta) => {
                loaded.sources.push(source);
                loaded
                    .docs
                    .extend(docs.into_iter().map(|d| LoadedDoc { file, ..d }));
                meta
            }
            Done::Parsed(result, hash, stamp) => {
                loaded.sources.push(result.source);
                loaded
                    .docs
                    .extend(
                        result
                            .docs
                            .into_iter()
                            .map(|(index, root, resource)| LoadedDoc {
                                file,
                                index,
                                root,
                                resource,
                            }),
                    );
                FileMeta {
                    hash,
                    stamp,
                    diagnostics: result.diagnostics,
                    data_rules: None,
                    documents_read: result.documents_read,
                }
            }
            Done::Unreadable(d) => {
                loaded.sources.push(SourceFile {
                    path: path.clone(),
                    text: None,
                });
                // Never reused: an unreadable file is read again next time.
                FileMeta {
                    hash: 0,
                    stamp: None,
                    diagnostics: vec![*d],
                    data_rules: None,
                    documents_read: 0,
                }
            }
        };
        loaded.documents_read += meta.documents_read;
        diagnostics.extend(meta.diagnostics.iter().cloned());
        loaded.files.push(meta);
    }
    let rules_started = std::time::Instant::now();
    let cached: std::collections::HashMap<usize, Vec<Diagnostic>> = loaded
        .files
        .iter_mut()
        .enumerate()
        .filter_map(|(i, meta)| Some((i, meta.data_rules.take()?)))
        .collect();
    let (found, mut data_rules) = rules::check_reusing(&loaded, &cached);
    for (i, meta) in loaded.files.iter_mut().enumerate() {
        meta.data_rules = data_rules.remove(&i);
    }
    diagnostics.extend(found);
    tracing::debug!(took = ?rules_started.elapsed(), "cross-document rules checked");
    diagnostics.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    diagnostics.dedup();
    loaded.diagnostics = diagnostics;
    loaded
}

/// A walked file: read, or unchanged since the previous load (by its index there).
enum Read {
    Text(String, u64, Option<Stamp>),
    Unchanged(usize),
}

fn hash_text(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

/// The manifest files under `paths`, sorted, and a diagnostic for each path that cannot be
/// walked. A file named explicitly is read whatever its extension.
pub fn walk(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<Diagnostic>) {
    let mut files = Vec::new();
    let mut diagnostics = Vec::new();
    for path in paths {
        match std::fs::metadata(path) {
            Err(e) => diagnostics.push(Diagnostic::error(
                Code::Io,
                path,
                format!("cannot read: {}", io_reason(&e)),
            )),
            Ok(meta) if !meta.is_dir() => files.push(path.clone()),
            Ok(_) => {
                let walker = ignore::WalkBuilder::new(path)
                    .standard_filters(false)
                    .hidden(true)
                    .add_custom_ignore_filename(IGNORE_FILE)
                    .sort_by_file_path(Ord::cmp)
                    .build();
                for entry in walker {
                    match entry {
                        Ok(entry)
                            if entry.file_type().is_some_and(|t| t.is_file())
                                && is_yaml(entry.path()) =>
                        {
                            files.push(entry.into_path());
                        }
                        Ok(_) => {}
                        Err(e) => {
                            let at = error_path(&e).unwrap_or(path.as_path()).to_path_buf();
                            diagnostics.push(Diagnostic::error(
                                Code::Io,
                                at,
                                format!("cannot read: {e}"),
                            ));
                        }
                    }
                }
            }
        }
    }
    files.sort();
    files.dedup();
    (files, diagnostics)
}

fn error_path(error: &ignore::Error) -> Option<&Path> {
    match error {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        _ => None,
    }
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

fn io_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => error.to_string(),
    }
}

struct FileResult {
    source: SourceFile,
    docs: Vec<(usize, Option<Node>, Resource)>,
    diagnostics: Vec<Diagnostic>,
    documents_read: usize,
}

/// Checks one file's text: every document in it, each independently.
fn check_text(path: &Path, text: String, schemas: &SchemaSet) -> FileResult {
    let mut result = FileResult {
        source: SourceFile {
            path: path.to_path_buf(),
            text: None,
        },
        docs: Vec::new(),
        diagnostics: Vec::new(),
        documents_read: 0,
    };
    // Fast path: most files have no finding, and then no position is ever needed.
    if let Some(docs) = load_clean(&text, schemas) {
        result.documents_read = docs.len();
        result.docs = docs
            .into_iter()
            .map(|(index, resource)| (index, None, resource))
            .collect();
        result.source.text = Some(text);
        return result;
    }
    let parsed = yaml::parse(&text);
    result.source.text = Some(text);
    for error in parsed.errors {
        let code = match error.kind {
            YamlErrorKind::Syntax => Code::YamlSyntax,
            YamlErrorKind::DuplicateKey => Code::DuplicateKey,
            YamlErrorKind::AliasLimit => Code::AliasLimit,
            YamlErrorKind::TooDeep => Code::TooDeep,
            YamlErrorKind::Unsupported => Code::YamlUnsupported,
        };
        let mut d = Diagnostic::error(code, path, error.message).at(error.span);
        d.notes = error.notes;
        result.diagnostics.push(d);
    }
    for document in parsed.documents {
        if is_empty(&document.root) {
            continue;
        }
        result.documents_read += 1;
        let (resource, diagnostics) = check_document(path, &document.root, schemas);
        result.diagnostics.extend(diagnostics);
        if let (Some(resource), false) = (resource, document.damaged) {
            result
                .docs
                .push((document.index, Some(document.root), resource));
        }
    }
    // An editor that truncates a file before writing it anew, or a bad merge, must not read as
    // "every review in this file was deleted": the file's reviews keep their last good spec.
    if result.documents_read == 0 && result.diagnostics.is_empty() {
        result.diagnostics.push(Diagnostic::error(
            Code::EmptyFile,
            path,
            "the file holds no document; reviews recorded from it keep their last good spec \
             (to delete a review, delete its document or the whole file)",
        ));
    }
    result
}

/// Every document of a file that has no finding at all, decoded without positions; `None`
/// as soon as anything is wrong (the caller then reads the file again with positions).
fn load_clean(text: &str, schemas: &SchemaSet) -> Option<Vec<(usize, Resource)>> {
    let parsed = yaml::parse_values(text);
    if !parsed.errors.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for document in parsed.documents {
        if document.root.is_null() {
            continue;
        }
        if document.damaged {
            return None;
        }
        let value = document.root;
        if value.get("apiVersion").and_then(Value::as_str) != Some(model::API_VERSION) {
            return None;
        }
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .and_then(Kind::parse)?;
        // The checks and the decoding both only read the value: a large DirectoryData
        // is checked on one core while it is decoded on another.
        let (clean, decoded) = rayon::join(
            || inline_secrets(&value).is_empty() && schemas.is_valid(kind, &value),
            || match kind {
                Kind::DirectoryData => {
                    parallel_decode::directory_data(&value).map_or_else(|| decode(kind, &value), Ok)
                }
                _ => decode(kind, &value),
            },
        );
        if !clean {
            return None;
        }
        if kind == Kind::DirectoryData {
            parallel_decode::drop_in_parallel(value);
        }
        out.push((document.index, decoded.ok()?));
    }
    // A file with no document is a finding, reported by the slow path.
    (!out.is_empty()).then_some(out)
}

fn read_text(path: &Path, options: &Options) -> Result<String, Box<Diagnostic>> {
    use crate::regular_file::ReadError;
    let mut bytes = crate::regular_file::read(path, options.max_file_size).map_err(|e| {
        Box::new(match e {
            ReadError::TooLarge { .. } => {
                Diagnostic::error(Code::FileTooLarge, path, e.to_string())
                    .note("raise the limit with --max-file-size if this file is really a manifest")
            }
            _ => Diagnostic::error(Code::Io, path, format!("cannot read: {e}")),
        })
    })?;
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.into_bytes();
        let text = String::from_utf8_lossy(&bytes[..valid]);
        let (line, col) = position_of(&text, valid);
        Box::new(
            Diagnostic::error(
                Code::NotUtf8,
                path,
                format!("the file is not UTF-8: invalid byte 0x{:02x}", bytes[valid]),
            )
            .at(crate::source::Span::point(line, col))
            .note("save the file as UTF-8"),
        )
    })
}

fn is_empty(node: &Node) -> bool {
    matches!(node.value, NodeValue::Scalar(Value::Null))
}

/// The names of fields that hold secrets. A plain string under one of them is a secret written
/// inline; compared without case, `_` or `-`.
const SECRET_KEYS: &[&str] = &[
    "clientsecret",
    "clientcertificate",
    "bearertoken",
    "signingsecret",
    "secret",
    "password",
    "token",
    "apikey",
    "privatekey",
    "accesstoken",
];

/// The length of the longest of [`SECRET_KEYS`].
const LONGEST: usize = {
    let mut longest = 0;
    let mut i = 0;
    while i < SECRET_KEYS.len() {
        if SECRET_KEYS[i].len() > longest {
            longest = SECRET_KEYS[i].len();
        }
        i += 1;
    }
    longest
};

fn is_secret_key(key: &str) -> bool {
    // This runs on every key of every document (a large DirectoryData has half a million,
    // none a secret): ASCII keys are folded into a small buffer, without allocating.
    if !key.is_ascii() {
        let normal: String = key
            .chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect();
        return SECRET_KEYS.contains(&normal.as_str());
    }
    let mut folded = [0u8; LONGEST];
    let mut len = 0;
    for b in key.bytes().filter(|b| *b != b'_' && *b != b'-') {
        if len == LONGEST {
            return false;
        }
        folded[len] = b.to_ascii_lowercase();
        len += 1;
    }
    SECRET_KEYS.iter().any(|k| k.as_bytes() == &folded[..len])
}

/// Pointers to secret fields whose value is written inline, with the field's name. One scan
/// serves both paths: the fast path only asks whether there is any.
fn inline_secrets(value: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    find_secrets(value, &mut Vec::new(), &mut found);
    found
}

/// A step from a value to one of its children.
#[derive(Clone, Copy)]
enum Step<'v> {
    Key(&'v str),
    Index(usize),
}

fn find_secrets<'v>(value: &'v Value, path: &mut Vec<Step<'v>>, found: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                path.push(Step::Key(key));
                let inline = match child {
                    Value::String(s) => !s.is_empty(),
                    Value::Number(_) => true,
                    _ => false,
                };
                if inline && is_secret_key(key) {
                    found.push((spell(path), key.clone()));
                } else {
                    find_secrets(child, path, found);
                }
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                path.push(Step::Index(i));
                find_secrets(child, path, found);
                path.pop();
            }
        }
        _ => {}
    }
}

/// A path as a JSON pointer (RFC 6901).
fn spell(path: &[Step<'_>]) -> String {
    let mut pointer = String::new();
    for step in path {
        pointer.push('/');
        match step {
            Step::Key(key) => pointer.push_str(&key.replace('~', "~0").replace('/', "~1")),
            Step::Index(i) => pointer.push_str(&i.to_string()),
        }
    }
    pointer
}

/// Checks one document: envelope, inline secrets, schema, typed decode.
fn check_document(
    path: &Path,
    root: &Node,
    schemas: &SchemaSet,
) -> (Option<Resource>, Vec<Diagnostic>) {
    let mut out = Vec::new();
    if !matches!(root.value, NodeValue::Map(_)) {
        out.push(
            Diagnostic::error(
                Code::NotADocument,
                path,
                "a document must be a mapping with `apiVersion`, `kind`, `metadata` and `spec`",
            )
            .at(root.span),
        );
        return (None, out);
    }
    let api_version = root.get("apiVersion");
    match api_version.map(|n| (n, n.as_str())) {
        None => out.push(
            Diagnostic::error(
                Code::MissingField,
                path,
                "missing required field `apiVersion`",
            )
            .at(root.span)
            .field("apiVersion"),
        ),
        Some((_, Some(model::API_VERSION))) => {}
        Some((node, text)) => out.push(
            Diagnostic::error(
                Code::UnknownApiVersion,
                path,
                format!(
                    "unknown apiVersion `{}`",
                    text.map_or_else(|| node.to_value().to_string(), str::to_owned)
                ),
            )
            .at(node.span)
            .field("apiVersion")
            .note(format!("this Recert understands `{}`", model::API_VERSION)),
        ),
    }
    let kind = match root.get("kind") {
        None => {
            out.push(
                Diagnostic::error(Code::MissingField, path, "missing required field `kind`")
                    .at(root.span)
                    .field("kind"),
            );
            None
        }
        Some(node) => match node.as_str().and_then(Kind::parse) {
            Some(kind) => Some(kind),
            None => {
                let text = node
                    .as_str()
                    .map_or_else(|| node.to_value().to_string(), str::to_owned);
                let names = Kind::ALL.map(Kind::as_str);
                let mut d =
                    Diagnostic::error(Code::UnknownKind, path, format!("unknown kind `{text}`"))
                        .at(node.span)
                        .field("kind")
                        .note(format!("expected one of: {}", names.join(", ")));
                if let Some(best) = validate::did_you_mean(&text, names) {
                    d = d.note(format!("did you mean `{best}`?"));
                }
                out.push(d);
                None
            }
        },
    };
    let Some(kind) = kind else {
        return (None, out);
    };

    let value = root.to_value();
    let secrets = inline_secrets(&value);
    let mut skip: Vec<String> = vec!["/apiVersion".to_owned(), "/kind".to_owned()];
    for (pointer, key) in secrets {
        out.push(
            Diagnostic::error(Code::InlineSecret, path, format!("`{}` holds a secret written inline", field_path(&pointer)))
                .at(root.span_of(&pointer))
                .field(field_path(&pointer))
                .note(format!("give it by reference: `{key}: {{env: VARIABLE}}` or `{key}: {{file: /path/to/secret}}`"))
                .note("a secret committed to Git must be rotated: removing it from the file does not remove it from the history"),
        );
        skip.push(pointer);
    }

    out.extend(schemas.check(kind, &value, root, path, &skip));
    if !out.is_empty() {
        return (None, out);
    }
    match decode(kind, value) {
        Ok(resource) => (Some(resource), out),
        Err((pointer, message)) => {
            out.push(
                Diagnostic::error(Code::InvalidValue, path, message)
                    .at(root.span_of(&pointer))
                    .field(field_path(&pointer)),
            );
            (None, out)
        }
    }
}

/// Decodes a schema-valid value into its typed form. What the schema cannot say (a date that
/// matches the pattern but does not exist) fails here, with the pointer to the value.
fn decode<'de, D>(kind: Kind, value: D) -> Result<Resource, (String, String)>
where
    D: serde::Deserializer<'de>,
{
    fn typed<'de, D, T>(value: D) -> Result<T, (String, String)>
    where
        D: serde::Deserializer<'de>,
        T: serde::Deserialize<'de>,
    {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let mut pointer = String::new();
            for segment in e.path().iter() {
                pointer.push('/');
                match segment {
                    serde_path_to_error::Segment::Seq { index } => {
                        pointer.push_str(&index.to_string())
                    }
                    serde_path_to_error::Segment::Map { key } => pointer.push_str(key),
                    serde_path_to_error::Segment::Enum { variant } => pointer.push_str(variant),
                    serde_path_to_error::Segment::Unknown => pointer.push('?'),
                }
            }
            (pointer, e.into_inner().to_string())
        })
    }
    Ok(match kind {
        Kind::Directory => Resource::Directory(Box::new(typed(value)?)),
        Kind::DirectoryData => Resource::DirectoryData(typed(value)?),
        Kind::AccessReview => Resource::AccessReview(Box::new(typed(value)?)),
        Kind::ReviewDecisions => Resource::ReviewDecisions(typed(value)?),
        Kind::Notifier => Resource::Notifier(Box::new(typed(value)?)),
        Kind::ReviewerPortal => Resource::ReviewerPortal(Box::new(typed(value)?)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REVIEW: &str = "apiVersion: recert.dev/v1alpha1\nkind: AccessReview\nmetadata:\n  name: r\nspec:\n  directory: missing\n  displayName: R\n  scope:\n    role: {name: X}\n  reviewers: {type: self}\n  schedule: {start: 2026-12-01, durationDays: 14}\n";

    fn summary(loaded: &Loaded) -> Vec<String> {
        let mut out: Vec<String> = loaded
            .docs
            .iter()
            .map(|d| format!("{} {}", loaded.path_of(d).display(), d.resource.name()))
            .collect();
        out.extend(
            loaded
                .diagnostics
                .iter()
                .map(|d| format!("{} {}", d.file.display(), d.code)),
        );
        out
    }

    #[test]
    fn reloading_after_a_flip_and_an_edit_matches_a_fresh_load() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        // A directory whose data has a finding of the DirectoryData rules (a duplicate id).
        let data = "apiVersion: recert.dev/v1alpha1\nkind: DirectoryData\nmetadata:\n  name: d\nspec:\n  users:\n    - {id: u-1, userPrincipalName: one@x.example}\n    - {id: u-1, userPrincipalName: two@x.example}\n";
        for root in [&a, &b] {
            std::fs::create_dir_all(root).expect("mkdir");
            std::fs::write(root.join("r.yaml"), REVIEW).expect("write");
            std::fs::write(root.join("data.yaml"), data).expect("write");
        }
        std::fs::write(a.join("s.yaml"), REVIEW.replace("name: r", "name: s")).expect("write");
        std::fs::write(b.join("s.yaml"), REVIEW.replace("name: r", "name: t")).expect("write");
        let schemas = SchemaSet::new();
        let options = Options::default();
        let first = load(std::slice::from_ref(&a), &options, &schemas);
        // `r.yaml` is the same text at a new path (a flip), `s.yaml` changed.
        let reused = load_reusing(std::slice::from_ref(&b), &options, &schemas, first);
        let fresh = load(std::slice::from_ref(&b), &options, &schemas);
        assert_eq!(summary(&reused), summary(&fresh));
        assert!(summary(&reused).iter().any(|l| l.ends_with("s.yaml t")));
        // The unresolved directory reference and the duplicate id are reported at the new path.
        assert!(
            summary(&reused)
                .iter()
                .any(|l| l.starts_with(&b.join("data.yaml").display().to_string())),
            "{:?}",
            summary(&reused)
        );
        assert!(
            reused.diagnostics.iter().all(|d| d.file.starts_with(&b)),
            "{:?}",
            summary(&reused)
        );
    }

    #[test]
    fn secret_keys_match_whatever_the_spelling_style() {
        assert!(is_secret_key("clientSecret"));
        assert!(is_secret_key("client_secret"));
        assert!(is_secret_key("Bearer-Token"));
        assert!(is_secret_key("CLIENT_CERTIFICATE"));
        assert!(!is_secret_key("clientId"));
        assert!(!is_secret_key("clientCertificates"));
        assert!(!is_secret_key("secretName"));
        // Non-ASCII keys take the general path, folded as Unicode folds them: the Kelvin
        // sign lower-cases to `k`.
        assert!(is_secret_key("To\u{212A}en"));
        assert!(!is_secret_key("tökén"));
    }
}

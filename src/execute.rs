//! One reconcile pass, end to end: load the manifests, read the state, read the directory as
//! far as `reconcile::needs` asks, compute the plan, and carry it out — state first, then the
//! directory through the journal, then the audit trail, status and results.
//!
//! Reviews are isolated: a review whose directory cannot be read, or whose state cannot be
//! loaded, reports that in its status and the others go on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::audit;
use crate::diag::{Diagnostic, Severity};
use crate::directory::file::FileDirectory;
use crate::directory::graph::{GraphConfig, GraphDirectory};
use crate::directory::scim::ScimDirectory;
use crate::directory::{self, AnyDirectory, Directory, RemoveOutcome};
use crate::journal::{Journal, JournalOutcome};
use crate::load::{self, Loaded, SchemaSet, rules::resolve_relative};
use crate::model::directory::DirectoryType;
use crate::model::review::Timestamp;
use crate::model::{Directory as DirectoryDoc, Resource};
use crate::reconcile::apply::{Outcome, record_outcome};
use crate::reconcile::{
    self, DecisionFile, Desired, DesiredReview, Effect, Observed, ObservedReview, Plan, ReviewPlan,
};
use crate::state::ReviewState;
use crate::status;
use crate::store::{Store, Stored};

mod writers;
use writers::{Done, Job, Writers};

/// Fault injection for crash drills and tests: abort the process after this many removals.
pub const FAULT_ABORT_AFTER_REMOVALS: &str = "RECERT_FAULT_ABORT_AFTER_REMOVALS";

/// Fault injection for shutdown drills and tests: wait this many milliseconds before each
/// removal, as a slow directory would.
pub const FAULT_REMOVE_DELAY_MS: &str = "RECERT_FAULT_REMOVE_DELAY_MS";

/// What a pass has done so far across reviews.
#[derive(Debug)]
struct Progress {
    removals_done: usize,
    faults: Faults,
    applied: BTreeMap<&'static str, u64>,
}

/// Present in a review's folder while its status shows a problem (an error, a stale spec, a
/// stall), so that an idle pass still rewrites the status once the problem is gone.
const PROBLEM_MARKER: &str = "status.problem";

/// The fault hooks, read once per pass.
#[derive(Debug, Clone, Copy, Default)]
struct Faults {
    abort_after: Option<usize>,
    remove_delay: Option<Duration>,
}

impl Faults {
    fn from_env() -> Faults {
        let number = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        Faults {
            abort_after: number(FAULT_ABORT_AFTER_REMOVALS).and_then(|n| usize::try_from(n).ok()),
            remove_delay: number(FAULT_REMOVE_DELAY_MS).map(Duration::from_millis),
        }
    }
}

/// Attempts per removal when the directory answers with a retryable error.
const REMOVE_ATTEMPTS: u32 = 4;

/// Everything one pass computed.
#[derive(Debug)]
pub struct Pass {
    pub loaded: Loaded,
    pub plan: Plan,
    /// Per-review problems (directory unreadable, state unreadable, a write failed).
    pub errors: BTreeMap<String, String>,
    /// Problems not tied to one review (a state file that cannot be parsed).
    pub store_errors: Vec<String>,
}

impl Pass {
    pub fn manifest_errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.loaded
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }
}

/// The reviews and decisions the manifests ask for.
pub fn desired(loaded: &Loaded) -> Desired {
    desired_of(loaded, None)
}

/// The manifest files with an error: reviews recorded from them keep their last good spec.
pub fn failed_sources(loaded: &Loaded) -> BTreeSet<String> {
    loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.file.display().to_string())
        .collect()
}

/// [`desired`] for the reviews in `only` (all when `None`): a pass over a few reviews does not
/// copy every review's spec and decisions.
pub fn desired_of(loaded: &Loaded, only: Option<&BTreeSet<String>>) -> Desired {
    let wanted = |name: &str| only.is_none_or(|names| names.contains(name));
    let mut desired = Desired {
        failed_sources: failed_sources(loaded),
        ..Desired::default()
    };
    for doc in &loaded.docs {
        if let Resource::AccessReview(review) = &doc.resource
            && wanted(&review.metadata.name)
        {
            let source = loaded.path_of(doc).display().to_string();
            desired
                .reviews
                .entry(review.metadata.name.clone())
                .or_insert(DesiredReview {
                    spec: review.spec.clone(),
                    source,
                    decisions: Vec::new(),
                });
        }
    }
    for doc in &loaded.docs {
        if let Resource::ReviewDecisions(decisions) = &doc.resource
            && let Some(review) = desired.reviews.get_mut(&decisions.spec.review)
        {
            review.decisions.push(DecisionFile {
                source: loaded.path_of(doc).display().to_string(),
                spec: decisions.spec.clone(),
            });
        }
    }
    desired
}

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
    directory: Result<AnyDirectory, String>,
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

    pub fn get(&mut self, name: &str) -> Result<&AnyDirectory, String> {
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
            None => Err(format!("no Directory named `{name}` is loaded")),
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

    fn open_directory(&self, name: &str) -> Result<AnyDirectory, String> {
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
        load::policy::check_open(self.loaded, doc, spec)
            .map_err(|f| format!("directory `{name}`: {f}"))?;
        match (spec.kind, &spec.file) {
            (DirectoryType::File, Some(file)) => {
                let path = resolve_relative(self.loaded.path_of(doc), &file.path);
                let wanted = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
                let already = self.loaded.docs.iter().find(|d| {
                    matches!(d.resource, Resource::DirectoryData(_))
                        && std::fs::canonicalize(self.loaded.path_of(d)).is_ok_and(|p| p == wanted)
                });
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

/// Loads, reads and plans, without changing anything.
pub async fn plan(paths: &[PathBuf], store: &Store, now: Timestamp) -> Pass {
    let loaded = load::load(paths, &load::Options::default(), &SchemaSet::new());
    let mut directories = Directories::new(&loaded);
    let result = plan_loaded(&loaded, store, &mut directories, now, None).await;
    drop(directories);
    Pass {
        loaded,
        plan: result.plan,
        errors: result.errors,
        store_errors: result.store_errors,
    }
}

/// What a pass over already loaded manifests computed and did.
#[derive(Debug, Default)]
pub struct PassResult {
    pub plan: Plan,
    /// Per-review problems (directory unreadable, state unreadable, a write failed).
    pub errors: BTreeMap<String, String>,
    /// Problems not tied to one review.
    pub store_errors: Vec<String>,
    /// Reviews whose directory could not be read.
    pub unreachable: BTreeSet<String>,
    /// A summary of the state written for each review touched.
    pub states: BTreeMap<String, status::Summary>,
    /// Apply results recorded, by result name.
    pub applied: BTreeMap<&'static str, u64>,
}

/// Plans the reviews in `only` (every review, recorded or in the manifests, when `None`).
pub async fn plan_loaded(
    loaded: &Loaded,
    store: &Store,
    directories: &mut Directories<'_>,
    now: Timestamp,
    only: Option<&BTreeSet<String>>,
) -> PassResult {
    let mut desired = desired_of(loaded, only);
    let mut result = PassResult::default();
    let names = pass_names(store, &desired, only, &mut result);
    let planned = plan_some(&names, &mut desired, store, directories, now).await;
    result.store_errors.extend(planned.store_errors);
    result.errors = planned.errors;
    result.plan = planned.plan;
    result
}

/// Reviews planned and carried out together. A pass goes batch by batch, so that it holds the
/// states of one batch at a time, not of every review (a thousand states of a hundred items
/// each are a few hundred megabytes in memory).
const BATCH: usize = 64;

/// The first batch is small: the writers wait for it, and start sooner on a few reviews.
const FIRST_BATCH: usize = 8;

/// `names` in batches: [`FIRST_BATCH`], then [`BATCH`] at a time.
fn batches(names: &[String]) -> impl Iterator<Item = &[String]> {
    let (first, rest) = names.split_at(FIRST_BATCH.min(names.len()));
    std::iter::once(first)
        .filter(|b| !b.is_empty())
        .chain(rest.chunks(BATCH))
}

/// Plans and carries out the reviews in `only` (all when `None`): the daemon's pass. The plan
/// returned has no `next` states: they were recorded, and `states` summarises them.
pub async fn reconcile_loaded(
    loaded: &Loaded,
    store: &Store,
    directories: &mut Directories<'_>,
    now: Timestamp,
    revision: Option<&str>,
    only: Option<&BTreeSet<String>>,
) -> PassResult {
    let mut desired = desired_of(loaded, only);
    let mut result = PassResult::default();
    let names = pass_names(store, &desired, only, &mut result);
    let mut writers = Writers::new(store, now, revision);
    for batch in batches(&names) {
        if stop_requested() {
            break;
        }
        let mut planned = plan_some(batch, &mut desired, store, directories, now).await;
        result.store_errors.append(&mut planned.store_errors);
        result.unreachable.extend(planned.errors.keys().cloned());
        let carried = carry_out(
            store,
            &mut planned.plan,
            planned.heads,
            directories,
            &planned.errors,
            &mut writers,
        )
        .await;
        result.errors.extend(planned.errors);
        result.took(carried);
        result.plan.reviews.append(&mut planned.plan.reviews);
        // The writers record this batch while the next is planned; waiting for the one
        // before keeps about two batches of states in memory.
        for done in writers.settle(BATCH).await {
            result.took_back(done);
        }
    }
    for done in writers.settle(0).await {
        result.took_back(done);
    }
    result.plan.reviews.sort_by(|a, b| a.review.cmp(&b.review));
    result
}

impl PassResult {
    fn took(&mut self, carried: Carried) {
        self.errors.extend(carried.errors);
        self.states.extend(carried.states);
        for (name, n) in carried.applied {
            *self.applied.entry(name).or_default() += n;
        }
    }

    fn took_back(&mut self, done: Done) {
        let mut carried = Carried::default();
        carried.took(done, &mut self.plan.reviews);
        self.took(carried);
    }
}

/// The reviews a pass covers: `only`, or every review recorded or in the manifests.
fn pass_names(
    store: &Store,
    desired: &Desired,
    only: Option<&BTreeSet<String>>,
    result: &mut PassResult,
) -> Vec<String> {
    match only {
        Some(names) => names.iter().cloned().collect(),
        None => {
            let recorded = store.names().unwrap_or_else(|e| {
                result.store_errors.push(e.to_string());
                Vec::new()
            });
            let mut names: BTreeSet<String> = recorded.into_iter().collect();
            names.extend(desired.reviews.keys().cloned());
            names.into_iter().collect()
        }
    }
}

/// What planning some reviews found.
struct Planned {
    plan: Plan,
    heads: Heads,
    /// Per-review problems reading the directory.
    errors: BTreeMap<String, String>,
    store_errors: Vec<String>,
}

/// Reads the recorded state of `names`, observes what they need and reconciles them; their
/// desired reviews are taken out of `desired`.
async fn plan_some(
    names: &[String],
    desired: &mut Desired,
    store: &Store,
    directories: &mut Directories<'_>,
    now: Timestamp,
) -> Planned {
    let (stored, store_errors) = store.load_some(names.iter().map(String::as_str));
    let mut heads = BTreeMap::new();
    let mut recorded = BTreeMap::new();
    for (name, stored) in stored {
        heads.insert(name.clone(), (stored.audit_head, stored.revision));
        recorded.insert(name, stored.state);
    }
    let part = Desired {
        reviews: names
            .iter()
            .filter_map(|n| Some((n.clone(), desired.reviews.remove(n)?)))
            .collect(),
        failed_sources: desired.failed_sources.clone(),
    };
    let mut errors = BTreeMap::new();
    let observed = observe(&part, &recorded, now, directories, &mut errors).await;
    Planned {
        plan: reconcile::reconcile(&part, observed, &recorded, now),
        heads,
        errors,
        store_errors: store_errors.iter().map(ToString::to_string).collect(),
    }
}

async fn observe(
    desired: &Desired,
    recorded: &BTreeMap<String, ReviewState>,
    now: Timestamp,
    directories: &mut Directories<'_>,
    errors: &mut BTreeMap<String, String>,
) -> Observed {
    let mut observed = Observed::default();
    for (name, need) in reconcile::needs(desired, recorded, now) {
        let spec = &desired.reviews[&name].spec;
        let directory = match directories.get(&spec.directory) {
            Ok(directory) => directory,
            Err(e) => {
                errors.insert(name, e);
                continue;
            }
        };
        let mut review = ObservedReview::default();
        if need.scope {
            match directory::observe(directory, &spec.scope).await {
                Ok(scope) => review.scope = Some(scope),
                Err(e) => {
                    errors.insert(
                        name.clone(),
                        format!(
                            "cannot read the scope from directory `{}`: {e}",
                            spec.directory
                        ),
                    );
                }
            }
        }
        let names: Vec<String> = need.names.into_iter().collect();
        for chunk in names.chunks(directory.lookup_batch_size().max(1)) {
            match directory.lookup(chunk).await {
                Ok(found) => {
                    for name in chunk {
                        let hit = found.iter().find(|p| match p {
                            directory::Principal::User(u) => {
                                u.id == *name || u.user_principal_name.eq_ignore_ascii_case(name)
                            }
                            directory::Principal::Group(g) => g.id == *name,
                            directory::Principal::ServicePrincipal(s) => s.id == *name,
                        });
                        if let Some(p) = hit {
                            review.people.insert(name.clone(), p.id().to_owned());
                        }
                    }
                }
                Err(e) => {
                    errors.insert(
                        name.clone(),
                        format!(
                            "cannot look up reviewers in directory `{}`: {e}",
                            spec.directory
                        ),
                    );
                }
            }
        }
        observed.reviews.insert(name, review);
    }
    observed
}

/// One full pass: load, plan, then carry the plan out.
pub async fn reconcile_once(
    paths: &[PathBuf],
    store: &Store,
    now: Timestamp,
    revision: Option<&str>,
) -> Pass {
    let loaded = load::load(paths, &load::Options::default(), &SchemaSet::new());
    let mut directories = Directories::new(&loaded);
    let result = reconcile_loaded(&loaded, store, &mut directories, now, revision, None).await;
    drop(directories);
    Pass {
        loaded,
        plan: result.plan,
        errors: result.errors,
        store_errors: result.store_errors,
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

/// Asks every pass in this process to stop at the next safe point: between reviews, or after
/// a removal's outcome is journaled. What is left is finished by the next pass, as after a
/// crash.
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}

pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// What carrying out a plan did.
#[derive(Debug, Default)]
pub struct Carried {
    /// The reviews that failed, with why.
    pub errors: BTreeMap<String, String>,
    /// A summary of the state written for each review touched (after its apply results);
    /// not the states themselves, which a full pass would otherwise hold all at once.
    pub states: BTreeMap<String, status::Summary>,
    /// Apply results recorded, by result name.
    pub applied: BTreeMap<&'static str, u64>,
}

/// Carries out a plan: for each review, its audit events and state, then its removals through
/// the journal, then its status and results. Each review's `next` state is taken from the plan
/// as it is recorded (the plan keeps its changes and effects); `states` summarises them.
pub async fn carry_out_plan(
    store: &Store,
    plan: &mut Plan,
    directories: &mut Directories<'_>,
    observe_errors: &BTreeMap<String, String>,
    now: Timestamp,
    revision: Option<&str>,
) -> Carried {
    let names: Vec<&str> = plan.reviews.iter().map(|r| r.review.as_str()).collect();
    let (stored, _) = store.load_some(names.into_iter());
    let heads = stored
        .into_iter()
        .map(|(name, s)| (name, (s.audit_head, s.revision)))
        .collect();
    let mut writers = Writers::new(store, now, revision);
    let mut carried = carry_out(
        store,
        plan,
        heads,
        directories,
        observe_errors,
        &mut writers,
    )
    .await;
    for done in writers.settle(0).await {
        carried.took(done, &mut plan.reviews);
    }
    plan.reviews.sort_by(|a, b| a.review.cmp(&b.review));
    carried
}

/// What the state directory holds of a review besides its state: the head of its audit chain
/// and the revision its status last showed.
type Heads = BTreeMap<String, (audit::Head, Option<String>)>;

/// Carries out the reviews of `plan` with removals, and hands the others to `writers` (they
/// leave `plan` until the writers give them back).
async fn carry_out(
    store: &Store,
    plan: &mut Plan,
    heads: Heads,
    directories: &mut Directories<'_>,
    observe_errors: &BTreeMap<String, String>,
    writers: &mut Writers,
) -> Carried {
    let now = writers.now();
    let revision = writers.revision().map(str::to_owned);
    let revision = revision.as_deref();
    let mut carried = Carried::default();
    let mut progress = Progress {
        removals_done: 0,
        faults: Faults::from_env(),
        applied: BTreeMap::new(),
    };
    // Idle reviews (nothing to do, no new error, same revision) are not touched at all.
    // A review whose status shows a problem is not idle even when its plan is empty: the
    // problem may just have gone (a manifest fixed), and the status must say so.
    let idle = |r: &ReviewPlan| {
        r.is_empty()
            && r.stale_spec.is_none()
            && r.stalled.is_none()
            && !observe_errors.contains_key(&r.review)
            && !store.review_dir(&r.review).join(PROBLEM_MARKER).exists()
    };
    // Reviews that remove nothing only write their own files: the writers take them, which
    // matters when a thousand instances start at once and each state is fsynced. Reviews
    // with removals talk to the directory through the journal, one at a time, here.
    let mut serial = Vec::new();
    let mut parallel = Vec::new();
    for mut review in std::mem::take(&mut plan.reviews) {
        let Some(next) = review.next.take() else {
            plan.reviews.push(review);
            continue;
        };
        let is_idle = idle(&review);
        let prepared = prepare(
            store,
            &review,
            next,
            heads.get(&review.review),
            is_idle,
            revision,
        );
        let (entry, unchanged, error) = match prepared {
            Ok(prepared) => prepared,
            Err(summary) => {
                carried.states.insert(review.review.clone(), summary);
                plan.reviews.push(review);
                continue;
            }
        };
        let removes = review
            .effects
            .iter()
            .any(|e| matches!(e, Effect::Remove { .. }));
        if removes {
            serial.push((plan.reviews.len(), entry, unchanged, error));
            plan.reviews.push(review);
        } else {
            parallel.push(Job {
                shown: observe_errors.get(&review.review).cloned(),
                review,
                entry,
                unchanged,
                error,
            });
        }
    }
    let names = parallel.iter().map(|j| j.review.review.as_str()).chain(
        serial
            .iter()
            .map(|(at, ..)| plan.reviews[*at].review.as_str()),
    );
    if let Err(e) = store.create_review_dirs(names) {
        let e = e.to_string();
        for job in &mut parallel {
            job.error.get_or_insert_with(|| e.clone());
        }
        for (_, _, _, error) in &mut serial {
            error.get_or_insert_with(|| e.clone());
        }
    }
    for job in parallel {
        writers.submit(job);
    }
    for (at, mut entry, unchanged, mut error) in serial {
        if stop_requested() {
            break;
        }
        let review = &plan.reviews[at];
        if !unchanged
            && let Err(e) =
                carry_out_review(store, review, &mut entry, directories, now, &mut progress).await
        {
            error = Some(e);
        }
        let shown = observe_errors.get(&review.review).map(String::as_str);
        carried.record(finish(store, review, &entry, error, shown, revision));
    }
    carried.applied = progress.applied;
    carried
}

/// What a review's pass ended with.
#[derive(Debug)]
struct Finished {
    name: String,
    error: Option<String>,
    summary: Option<status::Summary>,
}

impl Carried {
    fn record(&mut self, finished: Option<Finished>) {
        let Some(finished) = finished else { return };
        if let Some(e) = finished.error {
            self.errors.insert(finished.name.clone(), e);
        }
        if let Some(summary) = finished.summary {
            self.states.insert(finished.name, summary);
        }
    }

    /// Takes back a review from the writers: its outcome here, its plan into `reviews`.
    fn took(&mut self, done: Done, reviews: &mut Vec<ReviewPlan>) {
        self.record(done.finished);
        reviews.push(done.review);
    }
}

/// The entry to record for a review (with whether it is unchanged, and an error already
/// met), or (`Err`) the summary of a review left alone: idle, with the same revision.
fn prepare(
    store: &Store,
    review: &ReviewPlan,
    next: ReviewState,
    head: Option<&(audit::Head, Option<String>)>,
    idle: bool,
    revision: Option<&str>,
) -> Result<(Stored, bool, Option<String>), status::Summary> {
    let name = &review.review;
    let same_revision = revision.is_none() || head.is_some_and(|(_, r)| r.as_deref() == revision);
    let recorded = store.review_dir(name).join("state.json").exists();
    if idle && same_revision && recorded {
        return Err(status::Summary::of(&next));
    }
    let entry = Stored {
        state: next,
        audit_head: head.map(|(h, _)| h.clone()).unwrap_or_default(),
        revision: revision.map(str::to_owned),
    };
    let mut error = None;
    if !same_revision
        && review.is_empty()
        && let Err(e) = store.save(&entry)
    {
        error = Some(e.to_string());
    }
    Ok((entry, review.is_empty() && recorded, error))
}

/// Writes a review's status and results after its records. `error` is the pass's own for this
/// review; `shown` is what the status shows (that error, or the directory's).
fn finish(
    store: &Store,
    review: &ReviewPlan,
    entry: &Stored,
    mut error: Option<String>,
    shown: Option<&str>,
    revision: Option<&str>,
) -> Option<Finished> {
    let name = review.review.clone();
    if review.effects.contains(&Effect::Archive) {
        return error.map(|e| Finished {
            name,
            error: Some(e),
            summary: None,
        });
    }
    let shown = error.as_deref().or(shown);
    if let Err(e) = write_outputs(store, &entry.state, review, shown, revision) {
        error = Some(e);
    }
    Some(Finished {
        name,
        error,
        summary: Some(status::Summary::of(&entry.state)),
    })
}

/// Records a review's plan: its audit events, then its state (with any removals pending, so
/// that the state is on disk before the directory is touched), then the archive for a deleted
/// review. Returns whether the review was archived.
fn record_plan(
    store: &Store,
    review: &ReviewPlan,
    entry: &mut Stored,
    now: Timestamp,
) -> Result<bool, String> {
    let name = &review.review;
    std::fs::create_dir_all(store.review_dir(name)).map_err(|e| e.to_string())?;
    entry.audit_head = audit::append(
        &store.audit_path(name),
        &entry.audit_head,
        name,
        now,
        &events(review),
    )
    .map_err(|e| format!("cannot append to the audit trail: {e}"))?;
    store.save(entry).map_err(|e| e.to_string())?;
    if review.effects.contains(&Effect::Archive) {
        store.archive(name, now).map_err(|e| e.to_string())?;
        return Ok(true);
    }
    Ok(false)
}

fn events(review: &crate::reconcile::ReviewPlan) -> Vec<Value> {
    let mut out: Vec<Value> = review
        .changes
        .iter()
        .map(|c| serde_json::to_value(c).unwrap_or(Value::Null))
        .collect();
    for effect in &review.effects {
        if let Effect::Notify {
            event,
            instance,
            reviewers,
        } = effect
        {
            out.push(json!({ "change": "notification", "event": event, "instance": instance, "reviewers": reviewers }));
        }
    }
    out
}

async fn carry_out_review(
    store: &Store,
    review: &crate::reconcile::ReviewPlan,
    entry: &mut Stored,
    directories: &mut Directories<'_>,
    now: Timestamp,
    progress: &mut Progress,
) -> Result<(), String> {
    let name = &review.review;
    if record_plan(store, review, entry, now)? {
        return Ok(());
    }
    let mut groups: BTreeMap<(String, String), Vec<directory::Removal>> = BTreeMap::new();
    for effect in &review.effects {
        if let Effect::Remove {
            instance,
            principal,
            removal,
        } = effect
        {
            groups
                .entry((instance.clone(), principal.clone()))
                .or_default()
                .push(removal.clone());
        }
    }
    if groups.is_empty() {
        return Ok(());
    }
    let directory = directories.get(&entry.state.spec.directory)?;
    let mut journal = Journal::open(&store.journal_path(name))
        .map_err(|e| format!("cannot read the apply journal: {e}"))?;
    let mut applied = Vec::new();
    for ((instance, principal), removals) in groups {
        let mut outcomes = Vec::new();
        for removal in removals {
            let outcome = match journal.outcome(&instance, &principal, &removal) {
                Some(done) => from_journal(done),
                None => {
                    let attempted = journal.was_attempted(&instance, &principal, &removal);
                    journal
                        .intent(&instance, &principal, &removal)
                        .map_err(|e| format!("cannot write the apply journal: {e}"))?;
                    if let Some(delay) = progress.faults.remove_delay {
                        tokio::time::sleep(delay).await;
                    }
                    let outcome = match remove_with_retries(directory, &removal).await {
                        Ok(RemoveOutcome::NotFound) if attempted => Outcome::DoneBefore,
                        Ok(done) => Outcome::Done(done),
                        Err(e) => Outcome::Failed(e.to_string()),
                    };
                    journal
                        .record(&instance, &principal, &removal, to_journal(&outcome))
                        .map_err(|e| format!("cannot write the apply journal: {e}"))?;
                    progress.removals_done += 1;
                    if progress
                        .faults
                        .abort_after
                        .is_some_and(|n| progress.removals_done >= n)
                    {
                        std::process::abort();
                    }
                    if stop_requested() {
                        return Err(
                            "interrupted by shutdown; the next start finishes this apply \
                                    from its journal"
                                .to_owned(),
                        );
                    }
                    outcome
                }
            };
            outcomes.push(outcome);
        }
        record_outcome(&mut entry.state, &instance, &principal, &outcomes, now);
        let result = entry
            .state
            .instances
            .iter()
            .find(|i| i.id == instance)
            .and_then(|i| i.items.get(&principal))
            .and_then(|i| i.apply_result.clone());
        if let Some(result) = &result {
            *progress
                .applied
                .entry(status::apply_result_name(result))
                .or_default() += 1;
        }
        applied.push(json!({ "change": "applyResult", "instance": instance, "principal": principal, "result": result }));
    }
    entry.audit_head = audit::append(
        &store.audit_path(name),
        &entry.audit_head,
        name,
        now,
        &applied,
    )
    .map_err(|e| format!("cannot append to the audit trail: {e}"))?;
    store.save(entry).map_err(|e| e.to_string())?;
    journal
        .clear()
        .map_err(|e| format!("cannot clear the apply journal: {e}"))
}

async fn remove_with_retries<D: Directory>(
    directory: &D,
    removal: &directory::Removal,
) -> Result<RemoveOutcome, directory::Error> {
    let mut attempt = 0;
    loop {
        match directory.remove(removal).await {
            Err(e) if e.is_retryable() && attempt + 1 < REMOVE_ATTEMPTS => {
                let wait = match &e {
                    directory::Error::Throttled { retry_after_ms } => {
                        Duration::from_millis(*retry_after_ms)
                    }
                    _ => Duration::from_millis(200 << attempt),
                };
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

fn from_journal(done: &JournalOutcome) -> Outcome {
    match done {
        JournalOutcome::Done { outcome } => Outcome::Done(outcome.clone()),
        JournalOutcome::DoneBefore => Outcome::DoneBefore,
        JournalOutcome::Failed { error } => Outcome::Failed(error.clone()),
    }
}

fn to_journal(outcome: &Outcome) -> JournalOutcome {
    match outcome {
        Outcome::Done(outcome) => JournalOutcome::Done {
            outcome: outcome.clone(),
        },
        Outcome::DoneBefore => JournalOutcome::DoneBefore,
        Outcome::Failed(error) => JournalOutcome::Failed {
            error: error.clone(),
        },
    }
}

/// Writes the status file and every instance's results, skipping files whose content is
/// unchanged (a quiet reconcile leaves no trace in `git status` or mtimes).
fn write_outputs(
    store: &Store,
    state: &ReviewState,
    review: &crate::reconcile::ReviewPlan,
    error: Option<&str>,
    revision: Option<&str>,
) -> Result<(), String> {
    let marker = store.review_dir(&state.name).join(PROBLEM_MARKER);
    let problem = error.is_some() || review.stale_spec.is_some() || review.stalled.is_some();
    if problem {
        store
            .write_derived(&marker, b"")
            .map_err(|e| e.to_string())?;
    } else if let Err(e) = std::fs::remove_file(&marker)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        return Err(format!("cannot remove `{}`: {e}", marker.display()));
    }
    let mut files: Vec<(PathBuf, String)> = vec![(
        store.review_dir(&state.name).join("status.yaml"),
        status::render(state, review, error, revision),
    )];
    for instance in &state.instances {
        files.push((
            store.results_path(&state.name, &instance.id),
            status::results_csv(state, instance),
        ));
    }
    for (path, text) in files {
        if std::fs::read(&path).is_ok_and(|old| old == text.as_bytes()) {
            continue;
        }
        store
            .write_derived(&path, text.as_bytes())
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The instances of reviews in the state directory with undecided items a reviewer may decide.
pub fn pending(store: &Store, reviewer: &str) -> Vec<(String, String, String, String)> {
    let (stored, _) = store.load();
    let mut out = Vec::new();
    for (name, entry) in stored {
        let state = entry.state;
        let Some(instance) = state.in_progress() else {
            continue;
        };
        let me: BTreeSet<String> = [reconcile::normalize(reviewer)]
            .into_iter()
            .chain(state.known.get(&reconcile::normalize(reviewer)).cloned())
            .chain(
                instance
                    .items
                    .iter()
                    .filter_map(|(id, item)| match &item.principal {
                        directory::Principal::User(u)
                            if u.user_principal_name.eq_ignore_ascii_case(reviewer) =>
                        {
                            Some(id.clone())
                        }
                        _ => None,
                    }),
            )
            .collect();
        for (id, item) in &instance.items {
            if item.decision.is_none()
                && reconcile::allowed_reviewers(&state, item)
                    .iter()
                    .any(|r| me.contains(r))
            {
                out.push((
                    name.clone(),
                    instance.id.clone(),
                    id.clone(),
                    item.principal.display_name().to_owned(),
                ));
            }
        }
    }
    out
}

/// The path of a review's results for an instance (the latest when none is named).
pub fn results(store: &Store, review: &str, instance: Option<&str>) -> Result<String, String> {
    // Only this review's state is read; a state that cannot be read says why.
    let (stored, errors) = store.load_some(std::iter::once(review));
    if let Some(error) = errors.first() {
        return Err(error.to_string());
    }
    let entry = stored
        .get(review)
        .ok_or_else(|| format!("no review `{review}` in {}", store.root().display()))?;
    let chosen = match instance {
        Some(id) => entry
            .state
            .instances
            .iter()
            .find(|i| i.id == id)
            .ok_or_else(|| format!("review `{review}` has no instance `{id}`"))?,
        None => entry
            .state
            .instances
            .last()
            .ok_or_else(|| format!("review `{review}` has no instance yet"))?,
    };
    Ok(status::results_csv(&entry.state, chosen))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_cover_every_name_once_in_order_a_small_one_first() {
        for n in [0, 1, 8, 9, 72, 73, 150] {
            let names: Vec<String> = (0..n).map(|i| format!("r-{i:03}")).collect();
            let sizes: Vec<usize> = batches(&names).map(<[String]>::len).collect();
            assert!(sizes.iter().all(|&s| s > 0), "{n}: {sizes:?}");
            assert_eq!(sizes.first().copied(), (n > 0).then(|| n.min(FIRST_BATCH)));
            assert!(sizes.iter().skip(1).all(|&s| s <= BATCH), "{n}: {sizes:?}");
            let joined: Vec<&String> = batches(&names).flatten().collect();
            assert_eq!(joined, names.iter().collect::<Vec<_>>());
        }
    }
}

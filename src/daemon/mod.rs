//! `recert run`: the long-running reconciler.
//!
//! One control loop owns everything that changes: the loaded manifests, the open directories,
//! the schedule of every review and its back-off. Triggers — file events (debounced), the next
//! schedule edge of any review, the periodic resync, a poll tick — only wake the loop, and
//! each pass reconciles exactly the reviews that trigger concerns, one pass at a time, so a
//! review is never reconciled twice at once. The probes and metrics are served beside it.

pub mod lock;
pub mod metrics;
pub mod server;
pub mod tree;
pub mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::context::Context;
use crate::diag::Severity;
use crate::directory::registry::{Directories, DirectoryCache};
use crate::execute::{self, PassOptions};
use crate::load::{self, Loaded, SchemaSet};
use crate::model::Resource;
use crate::model::review::Timestamp;
use crate::store::Store;

use lock::StateLock;
use server::Health;
use tree::{Resolved, Tree};

/// How the daemon runs; every field has a flag and an environment variable.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub state_dir: PathBuf,
    pub listen: Option<SocketAddr>,
    /// Serve the reviewer page (the manifests' `ReviewerPortal`) here.
    pub web_listen: Option<SocketAddr>,
    pub http_limits: server::Limits,
    /// A full pass at least this often, whatever else happens.
    pub resync: Duration,
    /// Quiet time after a file event before the pass (an editor writes several events).
    pub debounce: Duration,
    /// The longest a pass waits after the first event of a burst that does not stop.
    pub debounce_max_wait: Duration,
    pub watch: watch::Mode,
    pub poll_interval: Duration,
    /// How long a stop may take to finish the work in flight.
    pub shutdown_timeout: Duration,
    /// The longest back-off of a failing review.
    pub max_backoff: Duration,
    /// Signs a checkpoint of every audit chain's head after each pass that moved one.
    pub signing_key: Option<Arc<crate::audit::checkpoint::SigningKey>>,
    /// How the manifests are loaded: the size limit and what the operator trusts
    /// (`--data-dir`, `--allow-authority`).
    pub load: load::Options,
}

/// How long a review must stay gone from the manifests before it is deleted: the second of
/// two loads this far apart (or a debounce, if longer) deletes it. A file emptied or cut short
/// for a moment, as an editor or a checkout does while it writes, deletes nothing.
const CONFIRM_DELETION: Duration = Duration::from_secs(1);

/// Why a pass runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// The first pass, a resync: everything.
    Full,
    /// Files changed (an event or a poll): what changed.
    Files,
    /// A schedule edge or a back-off ended: the reviews that are due.
    Timer,
}

impl Trigger {
    fn label(self) -> &'static str {
        match self {
            Trigger::Full => "resync",
            Trigger::Files => "files",
            Trigger::Timer => "schedule",
        }
    }
}

/// A failing review's retry schedule.
#[derive(Debug, Clone, Copy)]
struct Backoff {
    failures: u32,
    until: Instant,
}

struct Daemon {
    config: Config,
    tree: Tree,
    resolved: Option<Resolved>,
    store: Store,
    schemas: SchemaSet,
    loaded: Loaded,
    /// Per review, what its manifests were at the last load, and the files that failed.
    desired: Option<(BTreeMap<String, Fingerprint>, BTreeSet<String>)>,
    directories: DirectoryCache,
    /// When each review next needs a pass (its next start, end or reminder).
    due: BTreeMap<String, Timestamp>,
    backoff: BTreeMap<String, Backoff>,
    /// Reviews whose directory could not be read in their last pass.
    unreachable: BTreeSet<String>,
    /// Recorded reviews gone from the manifests, since when: a review is deleted only when a
    /// second load, at least [`CONFIRM_DELETION`] (or the debounce, if longer) later, still
    /// does not find it.
    absent_since: BTreeMap<String, Instant>,
    /// When to load again to confirm a deletion.
    recheck_at: Option<Instant>,
    /// Those of `absent_since` that a later load confirmed gone.
    confirmed_deletions: BTreeSet<String>,
    /// The manifest errors of the last load, each logged once.
    last_errors: BTreeSet<String>,
    /// Reviews whose delivery log grew: the next pass folds it in.
    delivered: BTreeSet<String>,
    /// To the sender: new messages, and the notifiers as the manifests declare them.
    sender: mpsc::UnboundedSender<ToSender>,
    health: Arc<Health>,
    ctx: Context,
}

/// What the control loop tells the sender.
#[derive(Debug)]
enum ToSender {
    Notifiers(crate::notify::Notifiers),
    Messages(Vec<crate::notify::message::Message>),
}

/// The sender's task: delivers beside the passes, so a pass never waits on a mail server, and
/// reports which reviews' delivery logs grew.
async fn send_notifications(
    store: Store,
    ctx: Context,
    stats: Arc<crate::notify::deliver::Stats>,
    mut commands: mpsc::UnboundedReceiver<ToSender>,
    delivered: mpsc::UnboundedSender<BTreeSet<String>>,
) {
    let mut sender = crate::notify::deliver::Sender::new(store, Default::default(), stats);
    // The first word from the control loop is the notifiers of its first load.
    match commands.recv().await {
        Some(ToSender::Notifiers(n)) => sender.set_notifiers(n),
        Some(ToSender::Messages(m)) => sender.enqueue(m, ctx.now()),
        None => return,
    }
    if let Err(e) = sender.load_pending(ctx.now()) {
        tracing::error!(error = %e, "cannot read the outboxes; messages queued before this start wait for the next");
    }
    loop {
        let round = sender.deliver_due(&ctx, None).await;
        if !round.reviews.is_empty() && delivered.send(round.reviews).is_err() {
            return;
        }
        let wait = sender.next_due().map(|due| {
            let now = ctx.now();
            Duration::try_from(now.0.until(due.0).unwrap_or_default()).unwrap_or_default()
        });
        tokio::select! {
            command = commands.recv() => match command {
                Some(ToSender::Notifiers(n)) => sender.set_notifiers(n),
                Some(ToSender::Messages(m)) => sender.enqueue(m, ctx.now()),
                None => return,
            },
            () = sleep_or_forever(wait) => {}
            () = ctx.cancel.cancelled() => return,
        }
    }
}

async fn sleep_or_forever(wait: Option<Duration>) {
    match wait {
        Some(wait) => tokio::time::sleep(wait).await,
        None => std::future::pending().await,
    }
}

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot use `{path}`: {source}")]
    Path {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    StateInsideTree(String),
    #[error(transparent)]
    Lock(#[from] lock::LockError),
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    #[error(transparent)]
    Listen(#[from] server::ListenError),
    #[error(transparent)]
    Web(#[from] crate::web::StartError),
}

/// Runs until the context is cancelled (SIGTERM or SIGINT in the binary; a test's own stop).
/// Errors are those that stop it from starting.
pub async fn run(config: Config, ctx: Context) -> Result<(), StartError> {
    let path_error = |path: &std::path::Path| {
        let path = path.display().to_string();
        move |source| StartError::Path { path, source }
    };
    let tree = Tree::new(&config.path).map_err(path_error(&config.path))?;
    let resolved = tree.resolve().map_err(path_error(&config.path))?;
    let state_dir =
        std::path::absolute(&config.state_dir).map_err(path_error(&config.state_dir))?;
    refuse_state_inside_tree(&tree, &resolved, &state_dir).map_err(StartError::StateInsideTree)?;
    let lock = StateLock::acquire(&state_dir)?;
    let store = Store::open(&state_dir)?;

    let health = Arc::new(Health::default());
    health.directories_ok.store(true, Ordering::SeqCst);
    if let Some(addr) = config.listen {
        let local = server::serve(addr, health.clone(), config.http_limits).await?;
        tracing::info!(%local, "serving /healthz, /readyz and /metrics");
    }
    // Reviews to reconcile now, out of schedule: those whose notifications were delivered, and
    // those the reviewer page recorded decisions for.
    let (delivered_tx, mut delivered_rx) = mpsc::unbounded_channel();
    if let Some(addr) = config.web_listen {
        let sink = crate::web::decide::Sink::new(store.clone(), delivered_tx.clone(), ctx.clone());
        let local = crate::web::start(
            addr,
            &resolved.root,
            &state_dir,
            &config.load,
            config.http_limits,
            Some(sink),
        )
        .await?;
        tracing::info!(%local, "serving the reviewer page");
    }

    let (to_sender, sender_commands) = mpsc::unbounded_channel();
    tokio::spawn(send_notifications(
        store.clone(),
        ctx.clone(),
        health.metrics.notifications.clone(),
        sender_commands,
        delivered_tx,
    ));
    let (tx, mut events) = mpsc::unbounded_channel();
    let mut watcher = watch::Watcher::start(
        config.watch,
        &tree.watch_points(),
        &resolved.root,
        config.poll_interval,
        tx,
    );
    // The tree being watched is never written: file directories inside it are read-only.
    let protected = vec![resolved.root.clone(), tree.path.clone()];
    let mut daemon = Daemon {
        tree,
        resolved: None,
        store,
        schemas: SchemaSet::new(),
        loaded: Loaded::default(),
        desired: None,
        directories: DirectoryCache::protecting(protected),
        due: BTreeMap::new(),
        backoff: BTreeMap::new(),
        unreachable: BTreeSet::new(),
        absent_since: BTreeMap::new(),
        recheck_at: None,
        confirmed_deletions: BTreeSet::new(),
        last_errors: BTreeSet::new(),
        delivered: BTreeSet::new(),
        sender: to_sender,
        health,
        config,
        ctx: ctx.clone(),
    };
    tracing::info!(
        path = %daemon.config.path.display(),
        state_dir = %state_dir.display(),
        lock = %lock.path().display(),
        "recert started"
    );

    let mut trigger = Some(Trigger::Full);
    let mut last_full = Instant::now();
    loop {
        if let Some(t) = trigger.take() {
            let grace = daemon.config.shutdown_timeout;
            let stopped = {
                let pass = daemon.pass(t);
                tokio::pin!(pass);
                tokio::select! {
                    () = &mut pass => false,
                    () = ctx.cancel.cancelled() => {
                        // The pass is not dropped: it sees the stop request at its next safe
                        // point (between reviews, or after a removal is journaled) and returns.
                        tracing::info!("stopping: finishing the work in flight");
                        tokio::select! {
                            () = &mut pass => {}
                            () = tokio::time::sleep(grace) => {
                                tracing::warn!(
                                    ?grace,
                                    "the work in flight did not finish in time; exiting, the journal resumes it"
                                );
                            }
                        }
                        true
                    }
                }
            };
            if stopped {
                break;
            }
            if t == Trigger::Full {
                last_full = Instant::now();
            }
            if let Some(root) = daemon.resolved.as_ref().map(|r| r.root.clone()) {
                watcher.follow(&root);
            }
        }
        if ctx.stop_requested() {
            break;
        }
        let wake = daemon.next_wake(last_full, watcher.polling);
        daemon
            .health
            .metrics
            .queue_depth(daemon.due_now(Instant::now()).len());
        tokio::select! {
            Some(()) = events.recv() => {
                let config = &daemon.config;
                watch::settle(&mut events, config.debounce, config.debounce_max_wait).await;
                trigger = Some(Trigger::Files);
            }
            () = tokio::time::sleep_until(wake.0) => {
                trigger = Some(wake.1);
            }
            Some(reviews) = delivered_rx.recv() => {
                daemon.delivered.extend(reviews);
                trigger = Some(Trigger::Timer);
            }
            () = ctx.cancel.cancelled() => {
                tracing::info!("stopping");
                break;
            }
        }
    }
    drop(lock);
    tracing::info!("recert stopped");
    Ok(())
}

impl Daemon {
    /// When to wake without an event, and why.
    fn next_wake(&self, last_full: Instant, polling: Option<Duration>) -> (Instant, Trigger) {
        let now = Instant::now();
        let mut wake = (last_full + self.config.resync, Trigger::Full);
        if let Some(at) = self.recheck_at {
            wake = wake.min_by_instant((at, Trigger::Files));
        }
        if let Some(interval) = polling {
            wake = wake.min_by_instant((now + interval, Trigger::Files));
        }
        let clock = self.ctx.now().0;
        for (name, at) in &self.due {
            let wait = clock
                .until(at.0)
                .ok()
                .and_then(|d| Duration::try_from(d).ok())
                .unwrap_or(Duration::ZERO);
            let at = self
                .backoff
                .get(name)
                .map_or(now + wait, |b| b.until.max(now + wait));
            wake = wake.min_by_instant((at, Trigger::Timer));
        }
        for backoff in self.backoff.values() {
            wake = wake.min_by_instant((backoff.until, Trigger::Timer));
        }
        wake
    }

    /// The reviews a timer pass takes now.
    fn due_now(&self, now: Instant) -> BTreeSet<String> {
        let clock = self.ctx.now();
        let mut out: BTreeSet<String> = self
            .due
            .iter()
            .filter(|(_, at)| **at <= clock)
            .map(|(name, _)| name.clone())
            .collect();
        out.extend(
            self.backoff
                .iter()
                .filter(|(_, b)| b.until <= now)
                .map(|(name, _)| name.clone()),
        );
        out.retain(|name| self.backoff.get(name).is_none_or(|b| b.until <= now));
        out.extend(self.delivered.iter().cloned());
        out
    }

    async fn pass(&mut self, trigger: Trigger) {
        let started = Instant::now();
        let now = self.ctx.now();
        let selection = match trigger {
            Trigger::Full | Trigger::Files => match self.refresh(trigger) {
                Some(selection) => selection,
                None => return,
            },
            Trigger::Timer => Some(self.due_now(started)),
        };
        if selection.as_ref().is_some_and(BTreeSet::is_empty) {
            return;
        }
        tracing::debug!(took = ?started.elapsed(), reviews = ?selection.as_ref().map(BTreeSet::len), "selected");
        let revision = self.resolved.as_ref().and_then(|r| r.revision.clone());
        let mut directories =
            Directories::with_cache(&self.loaded, std::mem::take(&mut self.directories));
        let unconfirmed: BTreeSet<String> = self.unconfirmed_deletions();
        let options = PassOptions {
            only: selection.as_ref(),
            revision: revision.as_deref(),
            write: true,
            unconfirmed_deletions: Some(&unconfirmed),
        };
        let mut result = execute::pass::run(
            &self.ctx,
            &self.loaded,
            &self.store,
            &mut directories,
            now,
            &options,
        )
        .await;
        self.directories = directories.into_cache();
        if let Some(selection) = &selection {
            self.delivered.retain(|name| !selection.contains(name));
        } else {
            self.delivered.clear();
        }
        let queued = std::mem::take(&mut result.queued);
        if !queued.is_empty() {
            let _ = self.sender.send(ToSender::Messages(queued));
        }

        let metrics = &self.health.metrics;
        let clock = Instant::now();
        for review in &result.plan.reviews {
            let name = &review.review;
            let _span = tracing::info_span!("review", review = %name).entered();
            let error = result.errors.get(name);
            metrics.reconciled(error.map(execute::ReviewError::reason));
            match review.requeue_at {
                Some(at) if !review.deleted => {
                    self.due.insert(name.clone(), at);
                }
                _ => {
                    self.due.remove(name);
                }
            }
            if review.deleted {
                metrics.review(name, None);
                self.backoff.remove(name);
                self.unreachable.remove(name);
                tracing::info!("review deleted; its records are archived");
                continue;
            }
            metrics.review(name, result.states.get(name).cloned());
            for change in &review.changes {
                tracing::info!(change = %change, "reconciled");
            }
            if let Some(reason) = &review.stale_spec {
                tracing::warn!(%reason, "keeping the last good spec");
            }
            match error {
                Some(e) => {
                    let failures = self.backoff.get(name).map_or(0, |b| b.failures) + 1;
                    let wait = backoff_delay(failures, self.config.max_backoff);
                    self.backoff.insert(
                        name.clone(),
                        Backoff {
                            failures,
                            until: clock + wait,
                        },
                    );
                    tracing::warn!(error = %e, retry_in = ?wait, "reconcile failed");
                }
                None => {
                    if self.backoff.remove(name).is_some() {
                        tracing::info!("recovered");
                    }
                }
            }
            if result.unreachable.contains(name) {
                self.unreachable.insert(name.clone());
            } else {
                self.unreachable.remove(name);
            }
        }
        for (name, n) in &result.applied {
            metrics.apply_results(name, *n);
        }
        if let Some(key) = &self.config.signing_key {
            match crate::audit::checkpoint::sign(&self.store, key, now) {
                Ok(Some(_)) => tracing::debug!("checkpoint signed"),
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "cannot sign the checkpoint"),
            }
        }
        for e in &result.store_errors {
            tracing::error!(error = %e, "state dir");
        }
        let ok = result.errors.is_empty() && result.store_errors.is_empty();
        self.health
            .directories_ok
            .store(self.unreachable.is_empty(), Ordering::SeqCst);
        if trigger == Trigger::Full {
            self.health.synced.store(true, Ordering::SeqCst);
        }
        let took = started.elapsed();
        metrics.pass(
            trigger.label(),
            took,
            ok,
            now.0.as_millisecond() as f64 / 1000.0,
        );
        tracing::debug!(
            trigger = trigger.label(),
            reviews = result.plan.reviews.len(),
            took = ?took,
            "pass done"
        );
    }

    /// Notes which recorded reviews the manifests no longer hold, and returns those whose
    /// absence is now confirmed: seen on an earlier load at least the confirmation delay ago.
    /// A review back in the manifests is forgotten here.
    fn confirm_deletions(&mut self, present: &BTreeMap<String, Fingerprint>) -> BTreeSet<String> {
        let recorded: BTreeSet<String> = match self.store.names() {
            Ok(names) => names.into_iter().collect(),
            Err(e) => {
                tracing::error!(error = %e, "state dir");
                return BTreeSet::new();
            }
        };
        let now = Instant::now();
        let delay = CONFIRM_DELETION.max(self.config.debounce);
        self.absent_since
            .retain(|name, _| recorded.contains(name) && !present.contains_key(name));
        let mut confirmed = BTreeSet::new();
        for name in recorded.iter().filter(|n| !present.contains_key(*n)) {
            match self.absent_since.get(name) {
                Some(since) if now.duration_since(*since) >= delay => {
                    confirmed.insert(name.clone());
                }
                Some(_) => {}
                None => {
                    tracing::info!(review = %name, "gone from the manifests; deleted if a second look confirms it");
                    self.absent_since.insert(name.clone(), now);
                }
            }
        }
        self.recheck_at = self
            .absent_since
            .iter()
            .filter(|(name, _)| !confirmed.contains(*name))
            .map(|(_, since)| *since + delay)
            .min();
        self.confirmed_deletions.clone_from(&confirmed);
        confirmed
    }

    /// The reviews whose deletion waits for confirmation by a later load.
    fn unconfirmed_deletions(&self) -> BTreeSet<String> {
        self.absent_since
            .keys()
            .filter(|name| !self.confirmed_deletions.contains(*name))
            .cloned()
            .collect()
    }

    /// Re-resolves the tree and reloads what changed. Returns the reviews to reconcile (`None`
    /// for all of them), or `None` outright when the tree cannot be read (the last loaded set
    /// stays, and the next event or resync tries again).
    fn refresh(&mut self, trigger: Trigger) -> Option<Option<BTreeSet<String>>> {
        // Set again below when a deletion still waits; a tree that cannot be read waits for
        // the next event or resync instead of waking the loop at once.
        self.recheck_at = None;
        let resolved = match self.tree.resolve() {
            Ok(resolved) => resolved,
            Err(e) => {
                tracing::error!(
                    path = %self.tree.path.display(),
                    error = %e,
                    "cannot resolve the manifests; keeping the last loaded set"
                );
                return None;
            }
        };
        let previous = std::mem::take(&mut self.loaded);
        let load_started = Instant::now();
        let load = || {
            load::load_reusing(
                std::slice::from_ref(&resolved.root),
                &self.config.load,
                &self.schemas,
                previous,
            )
        };
        // Loading is CPU work: on the binary's two workers it must not stall the probes; on a
        // test's single-threaded runtime (paused time) there is nothing else to stall.
        let loaded = match tokio::runtime::Handle::current().runtime_flavor() {
            tokio::runtime::RuntimeFlavor::CurrentThread => load(),
            _ => tokio::task::block_in_place(load),
        };
        tracing::debug!(took = ?load_started.elapsed(), files = loaded.sources.len(), "manifests loaded");
        let new_errors = error_lines(&loaded);
        for line in new_errors.difference(&self.last_errors) {
            tracing::warn!(finding = %line, "manifest error; its review keeps its last good spec");
        }
        let fingerprints = fingerprints(&loaded);
        let failed = execute::failed_sources(&loaded);
        let revision_changed = self
            .resolved
            .as_ref()
            .is_some_and(|r| r.revision != resolved.revision);
        if revision_changed {
            tracing::info!(
                revision = resolved.revision.as_deref().unwrap_or("-"),
                root = %resolved.root.display(),
                "new revision"
            );
        }
        let selection = match (&self.desired, trigger) {
            (Some((old, old_failed)), Trigger::Files)
                if !revision_changed && *old_failed == failed =>
            {
                let mut changed: BTreeSet<String> = BTreeSet::new();
                for (name, print) in &fingerprints {
                    if old.get(name) != Some(print) {
                        changed.insert(name.clone());
                    }
                }
                for name in old.keys() {
                    if !fingerprints.contains_key(name) {
                        changed.insert(name.clone());
                    }
                }
                // A changed manifest is retried at once, whatever its back-off.
                for name in &changed {
                    self.backoff.remove(name);
                }
                Some(changed)
            }
            _ => None,
        };
        let confirmed = self.confirm_deletions(&fingerprints);
        let selection = selection.map(|mut names| {
            names.extend(confirmed);
            names
        });
        self.last_errors = new_errors;
        let _ = self
            .sender
            .send(ToSender::Notifiers(crate::notify::Notifiers::of(&loaded)));
        self.loaded = loaded;
        self.desired = Some((fingerprints, failed));
        self.resolved = Some(resolved);
        Some(selection)
    }
}

/// What a review's manifests are: its own file and its decisions files, each by path and
/// content. Any change to them is a change to the review (a conservative test: another
/// document in the same file changing counts too), found without copying any spec.
type Fingerprint = Vec<(PathBuf, u64)>;

fn fingerprints(loaded: &Loaded) -> BTreeMap<String, Fingerprint> {
    let mut out: BTreeMap<String, Fingerprint> = BTreeMap::new();
    let mut decisions: Vec<(&str, (PathBuf, u64))> = Vec::new();
    for doc in &loaded.docs {
        let print = (
            loaded.path_of(doc).to_path_buf(),
            loaded.content_hash(doc.file),
        );
        match &doc.resource {
            Resource::AccessReview(review) => {
                out.entry(review.metadata.name.clone())
                    .or_default()
                    .insert(0, print);
            }
            Resource::ReviewDecisions(d) => decisions.push((d.spec.review.as_str(), print)),
            _ => {}
        }
    }
    for (review, print) in decisions {
        if let Some(entry) = out.get_mut(review) {
            entry.push(print);
        }
    }
    for print in out.values_mut() {
        print[1..].sort();
    }
    out
}

fn error_lines(loaded: &Loaded) -> BTreeSet<String> {
    loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| {
            let at = d
                .span
                .map(|s| format!(":{}:{}", s.line, s.col))
                .unwrap_or_default();
            format!("{}{at}: {}: {}", d.file.display(), d.code, d.message)
        })
        .collect()
}

/// Exponential back-off with jitter: 1 s, 2 s, 4 s … up to `max`, each between half and all
/// of its window.
fn backoff_delay(failures: u32, max: Duration) -> Duration {
    let policy = crate::directory::http::RetryPolicy {
        max_attempts: u32::MAX,
        base_delay: Duration::from_millis(500),
        max_delay: max,
    };
    policy.backoff(failures)
}

fn refuse_state_inside_tree(
    tree: &Tree,
    resolved: &Resolved,
    state_dir: &std::path::Path,
) -> Result<(), String> {
    let state = std::fs::canonicalize(state_dir).unwrap_or_else(|_| state_dir.to_path_buf());
    let mut roots = vec![resolved.root.clone(), tree.path.clone()];
    if let Some(link) = &tree.link
        && let Some(parent) = link.parent()
    {
        roots.push(parent.to_path_buf());
    }
    if let Some(root) = roots.iter().find(|r| state.starts_with(r)) {
        return Err(format!(
            "the state dir `{}` is inside the watched tree `{}`; the daemon never writes there \
             (and would wake itself up): put the state dir elsewhere",
            state_dir.display(),
            root.display()
        ));
    }
    Ok(())
}

trait MinByInstant {
    fn min_by_instant(self, other: Self) -> Self;
}

impl MinByInstant for (Instant, Trigger) {
    fn min_by_instant(self, other: Self) -> Self {
        if other.0 < self.0 { other } else { self }
    }
}

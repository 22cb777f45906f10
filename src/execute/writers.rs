//! The threads that record reviews without removals, while the pass goes on planning.
//!
//! Recording a review is mostly waiting for the disk (its audit trail and its state are
//! fsynced). A pass that planned a batch, then wrote it, then planned the next left the disk
//! idle while it planned and the cores idle while it waited; here the writers take each
//! review as it is handed over and the pass plans the next batch meanwhile.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::mpsc as notify;

use tokio_util::sync::CancellationToken;

use super::record::{self, Recorded};
use crate::context::Context;
use crate::error::ReviewError;
use crate::model::review::Timestamp;
use crate::reconcile::ReviewPlan;
use crate::store::{Store, Stored};

/// Writer threads at most. A first pass fsyncs three times a review, one after the other, so
/// the pass goes only as fast as fsyncs complete; a disk completes more of them a second the
/// more are in flight, because the file system commits them together (on ext4 with a journal,
/// 1,000 a second one at a time, 3,000 with 12 in flight, 5,300 with 32). Most of the time a
/// writer waits; what it allocates is its review's files, freed when they are written.
const WRITERS: usize = 32;

/// A review to record, owned so that it can travel to a writer thread.
#[derive(Debug)]
pub(super) struct Job {
    pub(super) review: ReviewPlan,
    pub(super) entry: Stored,
    /// Nothing to record: only the status may need rewriting.
    pub(super) unchanged: bool,
    pub(super) error: Option<ReviewError>,
    /// The directory's error, shown in the status.
    pub(super) shown: Option<ReviewError>,
}

/// A review handed back by a writer.
#[derive(Debug)]
pub(super) struct Done {
    pub(super) review: ReviewPlan,
    /// `None` when the pass was asked to stop before the review was recorded: the next pass
    /// does it.
    pub(super) recorded: Option<Recorded>,
}

/// What every writer needs to record a review.
#[derive(Debug)]
struct Ctx {
    store: Store,
    now: Timestamp,
    revision: Option<String>,
    cancel: CancellationToken,
}

#[derive(Debug)]
pub(super) struct Writers {
    ctx: Arc<Ctx>,
    queue: Option<mpsc::Sender<Job>>,
    shared: Arc<Mutex<mpsc::Receiver<Job>>>,
    done_tx: notify::UnboundedSender<Done>,
    done_rx: notify::UnboundedReceiver<Done>,
    threads: Vec<JoinHandle<()>>,
    in_flight: usize,
}

impl Writers {
    pub(super) fn new(
        context: &Context,
        store: &Store,
        now: Timestamp,
        revision: Option<&str>,
    ) -> Writers {
        let (queue, shared) = mpsc::channel();
        let (done_tx, done_rx) = notify::unbounded_channel();
        Writers {
            ctx: Arc::new(Ctx {
                store: store.clone(),
                now,
                revision: revision.map(str::to_owned),
                cancel: context.cancel.clone(),
            }),
            queue: Some(queue),
            shared: Arc::new(Mutex::new(shared)),
            done_tx,
            done_rx,
            threads: Vec::new(),
            in_flight: 0,
        }
    }

    /// The time of the pass.
    pub(super) fn now(&self) -> Timestamp {
        self.ctx.now
    }

    /// The manifests' revision the pass records.
    pub(super) fn revision(&self) -> Option<&str> {
        self.ctx.revision.as_deref()
    }

    /// Hands a review over; a thread is started for it unless enough are running.
    pub(super) fn submit(&mut self, job: Job) {
        self.in_flight += 1;
        if self.threads.len() < WRITERS.min(self.in_flight) {
            let ctx = Arc::clone(&self.ctx);
            let shared = Arc::clone(&self.shared);
            let done = self.done_tx.clone();
            match std::thread::Builder::new()
                .name("recert-writer".to_owned())
                .spawn(move || work(&ctx, &shared, &done))
            {
                Ok(thread) => self.threads.push(thread),
                // No thread to be had: a thread already running takes the job, or, with none,
                // it is recorded here.
                Err(_) if self.threads.is_empty() => {
                    let _ = self.done_tx.send(record(&self.ctx, job));
                    return;
                }
                Err(_) => {}
            }
        }
        if let Some(queue) = &self.queue
            && let Err(mpsc::SendError(job)) = queue.send(job)
        {
            let _ = self.done_tx.send(record(&self.ctx, job));
        }
    }

    /// Waits until at most `left` reviews are still being recorded; returns those finished.
    pub(super) async fn settle(&mut self, left: usize) -> Vec<Done> {
        let mut out = Vec::new();
        while let Ok(done) = self.done_rx.try_recv() {
            out.push(done);
        }
        self.in_flight -= out.len();
        while self.in_flight > left {
            // The receiver holds a sender itself, so this ends only with a review.
            let Some(done) = self.done_rx.recv().await else {
                break;
            };
            out.push(done);
            self.in_flight -= 1;
        }
        out
    }
}

impl Drop for Writers {
    /// A pass dropped half-way still lets what it handed over be recorded, as a crash would
    /// not: the threads finish the queue and end.
    fn drop(&mut self) {
        self.queue = None;
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn work(ctx: &Ctx, shared: &Mutex<mpsc::Receiver<Job>>, done: &notify::UnboundedSender<Done>) {
    loop {
        let next = match shared.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = next else { return };
        if done.send(record(ctx, job)).is_err() {
            return;
        }
    }
}

/// Records a review: its audit events and state, then its status and results.
fn record(ctx: &Ctx, mut job: Job) -> Done {
    if ctx.cancel.is_cancelled() {
        return Done {
            review: job.review,
            recorded: None,
        };
    }
    // A bug that panics here must not cost the pass the review's plan, nor leave the pass
    // waiting for a review that never comes back.
    let recorded = catch_unwind(AssertUnwindSafe(|| {
        let stamp = record::Stamp {
            now: ctx.now,
            revision: ctx.revision.as_deref(),
        };
        let recording = if job.unchanged {
            Ok(record::Recording::default())
        } else {
            record::Recording::of(&job.review)
        };
        let (recording, error) = match recording {
            Ok(recording) => (recording, job.error.take()),
            Err(e) => (record::Recording::default(), Some(e)),
        };
        record::record(
            &ctx.store,
            &job.review,
            &mut job.entry,
            stamp,
            recording,
            error,
            job.shown.as_ref(),
        )
    }))
    .unwrap_or_else(|_| {
        tracing::error!(review = %job.review.review, "recording the review panicked");
        Some(Recorded {
            name: job.review.review.clone(),
            error: Some(ReviewError::Internal),
            summary: None,
        })
    });
    Done {
        review: job.review,
        recorded,
    }
}

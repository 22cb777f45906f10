//! What a pass needs from the world besides its inputs: the clock, cancellation and the fault
//! hooks of the crash drills. One value carries them, so nothing is read from a global or the
//! environment in the middle of a pass, and a test can hand in a paused clock or stop a daemon
//! without a signal.

use std::fmt;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::model::review::Timestamp;

/// Where the time comes from.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp(jiff::Timestamp::now())
    }
}

/// A clock that stands still (`--now`).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// Wall time that moves with tokio's clock from an anchor: under `tokio::time::pause` a test
/// advances days of schedule in no real time, and the daemon's timers and its idea of "now"
/// stay in step.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    wall: jiff::Timestamp,
    at: tokio::time::Instant,
}

impl TokioClock {
    /// A clock that reads `wall` now (in tokio's time) and runs on from there.
    pub fn starting_at(wall: Timestamp) -> TokioClock {
        TokioClock {
            wall: wall.0,
            at: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        let elapsed = tokio::time::Instant::now().saturating_duration_since(self.at);
        let elapsed = jiff::SignedDuration::try_from(elapsed).unwrap_or(jiff::SignedDuration::MAX);
        Timestamp(self.wall.saturating_add(elapsed).unwrap_or(self.wall))
    }
}

/// Fault hooks for crash and shutdown drills. They exist only in builds with the
/// `fault-injection` feature (the test build turns it on); a release build has no way to
/// abort itself on purpose.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Abort the process once this many removals have been journaled as done (0: before the
    /// first is sent).
    pub abort_after_removals: Option<usize>,
    /// Wait this long before each removal, as a slow directory would.
    pub remove_delay: Option<std::time::Duration>,
    /// Put a file directory's data file back as it was before an apply's removals once they
    /// are answered, before they are proven: access the directory reported removed that is
    /// still there.
    pub restore_removed: bool,
    /// Abort the process once a pass has written an outbox segment, before the states that
    /// refer to it are saved.
    pub abort_after_outbox_segment: bool,
}

/// The variables the drills set, read once at start in builds with `fault-injection`.
#[cfg(feature = "fault-injection")]
pub mod fault_env {
    /// Abort the process after this many removals.
    pub const ABORT_AFTER_REMOVALS: &str = "RECERT_FAULT_ABORT_AFTER_REMOVALS";
    /// Wait this many milliseconds before each removal.
    pub const REMOVE_DELAY_MS: &str = "RECERT_FAULT_REMOVE_DELAY_MS";
    /// Set (to anything) to put the data file back after the removals.
    pub const RESTORE_REMOVED: &str = "RECERT_FAULT_RESTORE_REMOVED";
    /// Set (to anything) to abort once an outbox segment is written.
    pub const ABORT_AFTER_OUTBOX_SEGMENT: &str = "RECERT_FAULT_ABORT_AFTER_OUTBOX_SEGMENT";
}

impl Faults {
    /// The drills' variables; none in a build without `fault-injection`.
    pub fn from_env() -> Faults {
        #[cfg(feature = "fault-injection")]
        {
            let number = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
            Faults {
                abort_after_removals: number(fault_env::ABORT_AFTER_REMOVALS)
                    .and_then(|n| usize::try_from(n).ok()),
                remove_delay: number(fault_env::REMOVE_DELAY_MS)
                    .map(std::time::Duration::from_millis),
                restore_removed: std::env::var_os(fault_env::RESTORE_REMOVED).is_some(),
                abort_after_outbox_segment: std::env::var_os(fault_env::ABORT_AFTER_OUTBOX_SEGMENT)
                    .is_some(),
            }
        }
        #[cfg(not(feature = "fault-injection"))]
        Faults::default()
    }
}

/// The clock, cancellation and fault hooks of a run.
#[derive(Debug, Clone)]
pub struct Context {
    pub clock: Arc<dyn Clock>,
    /// Cancelled to ask every pass to stop at its next safe point: between reviews, or after a
    /// removal's outcome is journaled. What is left is finished by the next pass, as after a
    /// crash.
    pub cancel: CancellationToken,
    pub faults: Faults,
}

impl Context {
    pub fn new(clock: Arc<dyn Clock>) -> Context {
        Context {
            clock,
            cancel: CancellationToken::new(),
            faults: Faults::default(),
        }
    }

    /// The system clock, a fresh token, and the fault hooks of the environment (in builds that
    /// have them).
    pub fn system() -> Context {
        Context {
            faults: Faults::from_env(),
            ..Context::new(Arc::new(SystemClock))
        }
    }

    /// [`Context::system`], at a fixed time when one is given (`--now`).
    pub fn at(now: Option<Timestamp>) -> Context {
        match now {
            Some(now) => Context {
                faults: Faults::from_env(),
                ..Context::new(Arc::new(FixedClock(now)))
            },
            None => Context::system(),
        }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn stop_requested(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_tokio_clock_moves_with_paused_time() {
        let start = Timestamp::parse("2026-12-01T10:00:00Z").expect("time");
        let clock = TokioClock::starting_at(start);
        assert_eq!(clock.now(), start);
        tokio::time::sleep(std::time::Duration::from_secs(86_400)).await;
        assert_eq!(
            clock.now(),
            Timestamp::parse("2026-12-02T10:00:00Z").expect("time")
        );
    }
}

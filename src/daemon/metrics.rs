//! What `/metrics` serves, in the Prometheus text exposition format (version 0.0.4).
//!
//! Written by hand: a dozen series, and the format is a few lines of escaping; a client
//! library would bring a registry and OpenMetrics framing that the sidecar does not need.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use crate::status;

/// Bounds of the reconcile duration histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    /// The sender's counts, shared with it.
    pub notifications: std::sync::Arc<crate::notify::deliver::Stats>,
}

#[derive(Debug, Default)]
struct Inner {
    /// By (result, reason).
    reconciles: BTreeMap<(&'static str, &'static str), u64>,
    duration_buckets: [u64; BUCKETS.len()],
    duration_count: u64,
    duration_sum: f64,
    /// Per review, its latest instance summarised.
    reviews: BTreeMap<String, status::Summary>,
    apply_results: BTreeMap<&'static str, u64>,
    queue_depth: u64,
    last_success: Option<f64>,
    passes: BTreeMap<&'static str, u64>,
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One review reconciled: successfully (`None`), or failed for a reason
    /// ([`crate::error::ReviewError::reason`]).
    pub fn reconciled(&self, error: Option<&'static str>) {
        let key = match error {
            None => ("success", "Reconciled"),
            Some(reason) => ("error", reason),
        };
        *self.lock().reconciles.entry(key).or_default() += 1;
    }

    /// One pass finished, whatever it covered.
    pub fn pass(&self, trigger: &'static str, took: Duration, ok: bool, at_unix: f64) {
        let mut inner = self.lock();
        let seconds = took.as_secs_f64();
        for (bucket, bound) in inner.duration_buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        inner.duration_count += 1;
        inner.duration_sum += seconds;
        *inner.passes.entry(trigger).or_default() += 1;
        if ok {
            inner.last_success = Some(at_unix);
        }
    }

    pub fn review(&self, name: &str, summary: Option<status::Summary>) {
        let mut inner = self.lock();
        match summary {
            Some(summary) => {
                inner.reviews.insert(name.to_owned(), summary);
            }
            None => {
                inner.reviews.remove(name);
            }
        }
    }

    /// Apply results recorded by a pass (each counted once, when it is recorded).
    pub fn apply_results(&self, result: &'static str, n: u64) {
        *self.lock().apply_results.entry(result).or_default() += n;
    }

    pub fn queue_depth(&self, depth: usize) {
        self.lock().queue_depth = depth as u64;
    }

    /// The exposition text.
    pub fn render(&self, directory_requests: &BTreeMap<(&'static str, String), u64>) -> String {
        let inner = self.lock();
        let mut out = String::new();
        family(
            &mut out,
            "recert_notifications_total",
            "counter",
            "Notification delivery attempts, by channel, event and result (delivered, retry, failed, gone).",
        );
        for (channel, event, result, n) in self.notifications.counts() {
            sample(
                &mut out,
                "recert_notifications_total",
                &[("channel", channel), ("event", event), ("result", result)],
                n as f64,
            );
        }
        family(
            &mut out,
            "recert_notification_outbox_depth",
            "gauge",
            "Notifications waiting in the outbox to be sent (due now, or waiting for a retry).",
        );
        sample(
            &mut out,
            "recert_notification_outbox_depth",
            &[],
            self.notifications.depth() as f64,
        );
        family(
            &mut out,
            "recert_reconciles_total",
            "counter",
            "Reviews reconciled, by result and, for errors, why.",
        );
        // Every label from the start, so that a rate over a series that has not moved yet is
        // 0, not absent.
        let keys = std::iter::once(("success", "Reconciled"))
            .chain(crate::error::REASONS.iter().map(|r| ("error", *r)));
        for (result, reason) in keys {
            let n = inner
                .reconciles
                .get(&(result, reason))
                .copied()
                .unwrap_or(0);
            sample(
                &mut out,
                "recert_reconciles_total",
                &[("result", result), ("reason", reason)],
                n as f64,
            );
        }
        family(
            &mut out,
            "recert_reconcile_passes_total",
            "counter",
            "Reconcile passes, by what triggered them.",
        );
        for (trigger, n) in &inner.passes {
            sample(
                &mut out,
                "recert_reconcile_passes_total",
                &[("trigger", trigger)],
                *n as f64,
            );
        }
        family(
            &mut out,
            "recert_reconcile_duration_seconds",
            "histogram",
            "How long a reconcile pass took.",
        );
        for (bound, n) in BUCKETS.iter().zip(inner.duration_buckets) {
            sample(
                &mut out,
                "recert_reconcile_duration_seconds_bucket",
                &[("le", &bound.to_string())],
                n as f64,
            );
        }
        sample(
            &mut out,
            "recert_reconcile_duration_seconds_bucket",
            &[("le", "+Inf")],
            inner.duration_count as f64,
        );
        sample(
            &mut out,
            "recert_reconcile_duration_seconds_sum",
            &[],
            inner.duration_sum,
        );
        sample(
            &mut out,
            "recert_reconcile_duration_seconds_count",
            &[],
            inner.duration_count as f64,
        );

        let mut phases: BTreeMap<&str, u64> = BTreeMap::new();
        let mut decisions: BTreeMap<&str, u64> = BTreeMap::new();
        for summary in inner.reviews.values() {
            *phases.entry(summary.phase).or_default() += 1;
            for (decision, n) in &summary.decisions {
                *decisions.entry(decision).or_default() += n;
            }
        }
        family(
            &mut out,
            "recert_reviews",
            "gauge",
            "Reviews by the phase of their latest instance.",
        );
        for (phase, n) in phases {
            sample(&mut out, "recert_reviews", &[("phase", phase)], n as f64);
        }
        family(
            &mut out,
            "recert_items",
            "gauge",
            "Items of the latest instance of every review, by decision.",
        );
        for (decision, n) in decisions {
            sample(
                &mut out,
                "recert_items",
                &[("decision", decision)],
                n as f64,
            );
        }
        family(
            &mut out,
            "recert_apply_results_total",
            "counter",
            "Apply results recorded, by result.",
        );
        for (result, n) in &inner.apply_results {
            sample(
                &mut out,
                "recert_apply_results_total",
                &[("result", result)],
                *n as f64,
            );
        }
        family(
            &mut out,
            "recert_directory_requests_total",
            "counter",
            "HTTP requests sent to directories, by directory type and status code.",
        );
        for ((service, status), n) in directory_requests {
            sample(
                &mut out,
                "recert_directory_requests_total",
                &[("directory", service), ("status", status)],
                *n as f64,
            );
        }
        family(
            &mut out,
            "recert_queue_depth",
            "gauge",
            "Reviews waiting for a reconcile.",
        );
        sample(
            &mut out,
            "recert_queue_depth",
            &[],
            inner.queue_depth as f64,
        );
        family(
            &mut out,
            "recert_last_successful_sync_timestamp_seconds",
            "gauge",
            "When the last pass without errors finished (Unix time); 0 before the first.",
        );
        sample(
            &mut out,
            "recert_last_successful_sync_timestamp_seconds",
            &[],
            inner.last_success.unwrap_or(0.0),
        );
        out
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (key, value)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{key}=\"{}\"", escape(value));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// Label values escape backslash, double quote and line feed (the exposition format's rule).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut out = String::new();
        sample(&mut out, "m", &[("l", "a\"b\\c\nd")], 1.0);
        assert_eq!(out, "m{l=\"a\\\"b\\\\c\\nd\"} 1\n");
    }

    #[test]
    fn the_histogram_is_cumulative_and_counts_every_pass() {
        let metrics = Metrics::default();
        metrics.pass("files", Duration::from_millis(3), true, 1.0);
        metrics.pass("files", Duration::from_millis(300), true, 2.0);
        let text = metrics.render(&BTreeMap::new());
        assert!(text.contains("recert_reconcile_duration_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("recert_reconcile_duration_seconds_bucket{le=\"0.5\"} 2\n"));
        assert!(text.contains("recert_reconcile_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("recert_reconcile_duration_seconds_count 2\n"));
        assert!(text.contains("recert_last_successful_sync_timestamp_seconds 2\n"));
    }
}

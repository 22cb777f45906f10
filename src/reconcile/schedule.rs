//! When instances run: the occurrences of a schedule, by calendar arithmetic in UTC.

use jiff::{Span, tz::TimeZone};

use crate::model::review::{Recurrence, Schedule, Timestamp};

/// One occurrence of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    pub index: u32,
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Occurrence {
    /// The instance id: the start date in UTC.
    pub fn id(&self) -> String {
        instance_id(self.start)
    }
}

pub fn instance_id(start: Timestamp) -> String {
    start.0.to_zoned(TimeZone::UTC).date().to_string()
}

/// The `index`-th occurrence, if the schedule has one. Each is computed from the first start
/// (not from the previous occurrence) so that month ends do not drift: a monthly review
/// starting on 31 January runs on 28 February and then 31 March.
pub fn occurrence(schedule: &Schedule, index: u32) -> Option<Occurrence> {
    if schedule.recurrence == Recurrence::Once && index > 0 {
        return None;
    }
    if schedule.count.is_some_and(|count| index >= count) {
        return None;
    }
    let steps = i64::from(index) * i64::from(schedule.interval);
    let span = match schedule.recurrence {
        Recurrence::Once => Span::new(),
        Recurrence::Weekly => Span::new().try_weeks(steps).ok()?,
        Recurrence::Monthly => Span::new().try_months(steps).ok()?,
        Recurrence::Quarterly => Span::new().try_months(steps.checked_mul(3)?).ok()?,
        Recurrence::Semiannually => Span::new().try_months(steps.checked_mul(6)?).ok()?,
        Recurrence::Annually => Span::new().try_years(steps).ok()?,
    };
    let start = schedule
        .start
        .0
        .to_zoned(TimeZone::UTC)
        .checked_add(span)
        .ok()?
        .timestamp();
    if schedule.until.is_some_and(|until| start > until.0) {
        return None;
    }
    let end = start
        .checked_add(Span::new().hours(24 * i64::from(schedule.duration_days)))
        .ok()?;
    Some(Occurrence {
        index,
        start: Timestamp(start),
        end: Timestamp(end),
    })
}

/// The latest occurrence that has started by `now`.
pub fn latest_started(schedule: &Schedule, now: Timestamp) -> Option<Occurrence> {
    let mut latest = None;
    let mut index = 0;
    while let Some(occ) = occurrence(schedule, index) {
        if occ.start > now {
            break;
        }
        latest = Some(occ);
        index += 1;
    }
    latest
}

/// The first occurrence that starts after `now`.
pub fn next_start(schedule: &Schedule, now: Timestamp) -> Option<Occurrence> {
    let mut index = 0;
    while let Some(occ) = occurrence(schedule, index) {
        if occ.start > now {
            return Some(occ);
        }
        index += 1;
    }
    None
}

/// Whether the schedule has an occurrence with this id (its start date) that starts after
/// `now`: a decision written ahead for it waits for it.
pub fn starts_later(schedule: &Schedule, id: &str, now: Timestamp) -> bool {
    // Ids are start dates: occurrences come in date order, so the walk stops at the id.
    if id.parse::<jiff::civil::Date>().is_err() {
        return false;
    }
    let mut index = 0;
    while let Some(occurrence) = occurrence(schedule, index) {
        let this = occurrence.id();
        if this.as_str() >= id {
            return this == id && occurrence.start > now;
        }
        index += 1;
    }
    false
}

/// When each stage of an instance starting at `start` runs: one after the other, each for its
/// days.
pub fn stage_windows(
    spec: &crate::model::review::AccessReviewSpec,
    start: Timestamp,
) -> Vec<(Timestamp, Timestamp)> {
    let mut at = start;
    spec.stage_days()
        .map(|days| {
            let end = add_days(at, days);
            let window = (at, end);
            at = end;
            window
        })
        .collect()
}

/// The stage (0 for the first) that runs at `now` in an instance starting at `start`: the
/// first before it starts, the last after the instance ends.
pub fn stage_at(
    spec: &crate::model::review::AccessReviewSpec,
    start: Timestamp,
    now: Timestamp,
) -> usize {
    stage_windows(spec, start)
        .iter()
        .position(|(_, end)| now < *end)
        .unwrap_or(spec.stages.len())
}

/// `at` plus a number of whole days.
pub fn add_days(at: Timestamp, days: u32) -> Timestamp {
    Timestamp(
        at.0.checked_add(Span::new().hours(24 * i64::from(days)))
            .unwrap_or(at.0),
    )
}

/// Whole days from `earlier` to `later` (negative if `later` is earlier).
pub fn days_between(earlier: Timestamp, later: Timestamp) -> i64 {
    (later.0.as_second() - earlier.0.as_second()).div_euclid(86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).expect("valid timestamp")
    }

    fn schedule(start: &str, recurrence: Recurrence) -> Schedule {
        Schedule {
            start: ts(start),
            duration_days: 14,
            recurrence,
            interval: 1,
            until: None,
            count: None,
        }
    }

    #[test]
    fn monthly_occurrences_clamp_to_month_ends_without_drifting() {
        let s = schedule("2027-01-31", Recurrence::Monthly);
        let ids: Vec<String> = (0..3)
            .map(|i| occurrence(&s, i).expect("occurs").id())
            .collect();
        assert_eq!(ids, ["2027-01-31", "2027-02-28", "2027-03-31"]);
    }

    #[test]
    fn count_and_until_end_the_series() {
        let mut s = schedule("2026-12-01", Recurrence::Quarterly);
        s.count = Some(2);
        assert!(occurrence(&s, 1).is_some());
        assert!(occurrence(&s, 2).is_none());
        s.count = None;
        s.until = Some(ts("2027-03-01"));
        assert_eq!(
            occurrence(&s, 1).map(|o| o.id()),
            Some("2027-03-01".to_owned())
        );
        assert!(occurrence(&s, 2).is_none());
    }

    #[test]
    fn a_one_time_review_has_a_single_occurrence_ending_after_its_duration() {
        let s = schedule("2026-12-01T09:00:00Z", Recurrence::Once);
        let first = occurrence(&s, 0).expect("occurs");
        assert_eq!(first.end, ts("2026-12-15T09:00:00Z"));
        assert!(occurrence(&s, 1).is_none());
        assert_eq!(
            latest_started(&s, ts("2027-06-01")).map(|o| o.index),
            Some(0)
        );
        assert_eq!(latest_started(&s, ts("2026-11-30")), None);
    }

    #[test]
    fn interval_multiplies_the_period() {
        let mut s = schedule("2026-12-07", Recurrence::Weekly);
        s.interval = 2;
        assert_eq!(
            occurrence(&s, 1).map(|o| o.id()),
            Some("2026-12-21".to_owned())
        );
        assert_eq!(next_start(&s, ts("2026-12-08")).map(|o| o.index), Some(1));
    }
}

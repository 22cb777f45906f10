//! Invariants of the engine under random histories: decisions, requests and time in any order.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::tests::{World, user};
use crate::directory::Removal;
use crate::model::decisions::Decision;
use crate::model::review::{DefaultDecision, ReviewerType, Reviewers};
use crate::state::{EndReason, EntryStatus};

#[derive(Debug, Clone)]
enum Event {
    Decide {
        reviewer: usize,
        principal: usize,
        decision: Decision,
        reason: bool,
    },
    Stop,
    Reset,
    Apply,
    Remind,
    Wait {
        hours: u32,
    },
}

fn event(people: usize) -> impl Strategy<Value = Event> {
    let decision = prop_oneof![
        Just(Decision::Approve),
        Just(Decision::Deny),
        Just(Decision::DontKnow)
    ];
    prop_oneof![
        6 => (0..people, 0..people, decision, any::<bool>()).prop_map(|(reviewer, principal, decision, reason)| Event::Decide { reviewer, principal, decision, reason }),
        1 => Just(Event::Stop),
        1 => Just(Event::Reset),
        2 => Just(Event::Apply),
        1 => Just(Event::Remind),
        3 => (1u32..120).prop_map(|hours| Event::Wait { hours }),
    ]
}

#[derive(Debug, Clone)]
struct Setup {
    people: usize,
    named: bool,
    protected: Vec<usize>,
    min_remaining: Option<u32>,
    max_percent: Option<u8>,
    auto_apply: bool,
    default: DefaultDecision,
    require_reason: bool,
}

fn setup() -> impl Strategy<Value = Setup> {
    let default = prop_oneof![
        Just(DefaultDecision::None),
        Just(DefaultDecision::Approve),
        Just(DefaultDecision::Deny),
        Just(DefaultDecision::Recommendation)
    ];
    (
        2usize..7,
        any::<bool>(),
        proptest::collection::vec(0usize..7, 0..2),
        proptest::option::of(0u32..5),
        proptest::option::of(0u8..=100),
        any::<bool>(),
        default,
        any::<bool>(),
    )
        .prop_map(
            |(
                people,
                named,
                protected,
                min_remaining,
                max_percent,
                auto_apply,
                default,
                require_reason,
            )| Setup {
                people,
                named,
                protected,
                min_remaining,
                max_percent,
                auto_apply,
                default,
                require_reason,
            },
        )
}

fn world(setup: &Setup) -> World {
    let ids: Vec<String> = (0..setup.people).map(|i| format!("p{i}")).collect();
    let mut people: Vec<_> = ids.iter().map(|id| user(id)).collect();
    // Half of them signed in long ago, so recommendations differ.
    for (i, person) in people.iter_mut().enumerate() {
        if i % 2 == 1 {
            person.last_sign_in = Some(super::tests::ts("2025-01-01"));
        }
    }
    let mut w = World::new(super::tests::base_spec(), people);
    if setup.named {
        w.spec.reviewers = Reviewers {
            kind: ReviewerType::Users,
            users: vec!["p0".into(), "p1".into()],
        };
    }
    w.spec.guards.protected_principals = setup
        .protected
        .iter()
        .filter(|&&i| i < setup.people)
        .map(|i| format!("p{i}"))
        .collect();
    w.spec.guards.min_remaining_assignments = setup.min_remaining;
    w.spec.guards.max_removal_percent = setup.max_percent;
    w.spec.settings.auto_apply = setup.auto_apply;
    w.spec.settings.default_decision = setup.default;
    w.spec.settings.require_justification = setup.require_reason;
    w
}

fn at(hours: u32) -> String {
    let base = super::tests::ts("2026-12-01").0;
    base.checked_add(jiff::Span::new().hours(i64::from(hours)))
        .expect("in range")
        .to_string()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn no_history_breaks_the_invariants(setup in setup(), events in proptest::collection::vec(event(7), 1..40)) {
        let mut w = world(&setup);
        let mut hours = 0u32;
        let mut token = 0;
        w.step(&at(hours));
        for event in events {
            match event {
                Event::Decide { reviewer, principal, decision, reason } => {
                    let (r, p) = (format!("p{}", reviewer % setup.people), format!("p{}", principal % setup.people));
                    w.decide(&r, &p, decision, reason.then_some("because"));
                }
                Event::Stop => { token += 1; w.spec.requests.stop = Some(format!("s{token}")); }
                Event::Reset => { token += 1; w.spec.requests.reset = Some(format!("r{token}")); }
                Event::Apply => { token += 1; w.spec.requests.apply = Some(format!("a{token}")); }
                Event::Remind => { token += 1; w.spec.requests.remind = Some(format!("m{token}")); }
                Event::Wait { hours: h } => hours += h,
            }
            let now = at(hours);
            w.step(&now);

            // Carrying a plan out leaves nothing to do at the same instant.
            let again = w.plan(&now);
            prop_assert!(again.is_empty(), "not idempotent at {}: {}", now, again);
        }

        let Some(state) = w.recorded.get("ga") else { return Ok(()); };
        let removed: Vec<&Removal> = w.removed.iter().collect();
        let unique: BTreeSet<&Removal> = removed.iter().copied().collect();
        prop_assert_eq!(unique.len(), removed.len(), "a removal was made twice");
        for instance in &state.instances {
            let denied_removed = instance.items.iter().filter(|(id, _)| removed.iter().any(|r| matches!(r, Removal::Assignment { id: a, .. } if *a == format!("a-{id}")))).count();
            for (id, item) in &instance.items {
                let was_removed = removed.iter().any(|r| matches!(r, Removal::Assignment { id: a, .. } if *a == format!("a-{id}")));
                if was_removed {
                    prop_assert!(instance.ended.as_ref().is_some_and(|e| e.reason != EndReason::Deleted), "removed from an instance that had not ended");
                    prop_assert_eq!(item.decision.as_ref().map(|d| d.decision), Some(Decision::Deny), "removed {} without a deny", id);
                    prop_assert!(!w.spec.guards.protected_principals.contains(id), "removed protected {}", id);
                }
            }
            if denied_removed > 0 {
                let total = instance.items.len();
                if let Some(min) = setup.min_remaining {
                    prop_assert!(total - denied_removed >= min as usize, "crossed minRemainingAssignments");
                }
                if let Some(max) = setup.max_percent {
                    prop_assert!(denied_removed * 100 <= usize::from(max) * total, "crossed maxRemovalPercent");
                }
            }
            // A stopped instance accepts no decision recorded after it stopped.
            if let Some(ended) = &instance.ended {
                for entry in instance.entries.values() {
                    if entry.seen > ended.at {
                        prop_assert!(entry.status != EntryStatus::Accepted, "a decision was accepted after the instance ended");
                    }
                }
            }
        }
    }
}

//! Invariants of multi-stage reviews under random histories: no stage loses a decision made
//! before it.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::tests::{World, base_spec, ts, user};
use crate::model::decisions::Decision;
use crate::model::review::{DefaultDecision, ReviewerType, Reviewers, Stage, StageOutcome};
use crate::state::DecisionState;

#[derive(Debug, Clone)]
enum Event {
    Decide {
        reviewer: usize,
        principal: usize,
        decision: Decision,
        stage: Option<u32>,
    },
    Stop,
    Reset,
    Remind,
    Wait {
        hours: u32,
    },
}

fn event() -> impl Strategy<Value = Event> {
    let decision = prop_oneof![
        Just(Decision::Approve),
        Just(Decision::Deny),
        Just(Decision::DontKnow)
    ];
    prop_oneof![
        8 => (0..REVIEWERS.len(), 0..PEOPLE, decision, proptest::option::of(1u32..4))
            .prop_map(|(reviewer, principal, decision, stage)| Event::Decide { reviewer, principal, decision, stage }),
        1 => Just(Event::Stop),
        1 => Just(Event::Reset),
        1 => Just(Event::Remind),
        4 => (1u32..60).prop_map(|hours| Event::Wait { hours }),
    ]
}

const PEOPLE: usize = 4;
/// Reviewers of the stages: p0 and p1 are also under review; carol is in two stages.
const REVIEWERS: [&str; 5] = ["p0", "p1", "carol", "dave", "mia"];

fn outcome_sets() -> impl Strategy<Value = Vec<StageOutcome>> {
    proptest::sample::subsequence(
        vec![
            StageOutcome::Approve,
            StageOutcome::Deny,
            StageOutcome::DontKnow,
            StageOutcome::NotReviewed,
        ],
        1..=4,
    )
}

fn reviewers(which: u8) -> Reviewers {
    match which % 3 {
        0 => Reviewers {
            kind: ReviewerType::Manager,
            users: vec![],
        },
        1 => Reviewers {
            kind: ReviewerType::Users,
            users: vec!["carol".into(), "p0".into()],
        },
        _ => Reviewers {
            kind: ReviewerType::Users,
            users: vec!["carol".into(), "dave".into()],
        },
    }
}

fn world(
    kinds: [u8; 3],
    froms: [Vec<StageOutcome>; 2],
    third: bool,
    forbid: bool,
    default: bool,
) -> World {
    let mut spec = base_spec();
    spec.reviewers = reviewers(kinds[0]);
    spec.schedule.duration_days = 3;
    spec.settings.forbid_self_decisions = forbid;
    if default {
        spec.settings.default_decision = DefaultDecision::Deny;
    }
    let [second_from, third_from] = froms;
    spec.stages.push(Stage {
        name: None,
        reviewers: reviewers(kinds[1]),
        fallback_reviewers: vec![],
        duration_days: 3,
        from_previous_stage: second_from,
    });
    if third {
        spec.stages.push(Stage {
            name: Some("last".into()),
            reviewers: reviewers(kinds[2]),
            fallback_reviewers: vec!["mia".into()],
            duration_days: 2,
            from_previous_stage: third_from,
        });
    }
    let people = (0..PEOPLE)
        .map(|i| {
            let mut u = user(&format!("p{i}"));
            u.manager = Some("mia".into());
            u
        })
        .collect();
    World::new(spec, people)
}

fn at(hours: u32) -> String {
    ts("2026-12-01")
        .0
        .checked_add(jiff::Span::new().hours(i64::from(hours)))
        .expect("in range")
        .to_string()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn no_stage_loses_a_decision_made_before_it(
        kinds in proptest::array::uniform3(0u8..3),
        second_from in outcome_sets(),
        third_from in outcome_sets(),
        third in any::<bool>(),
        forbid in any::<bool>(),
        default in any::<bool>(),
        events in proptest::collection::vec(event(), 1..40),
    ) {
        let mut w = world(kinds, [second_from, third_from], third, forbid, default);
        let mut hours = 0u32;
        let mut token = 0;
        w.step(&at(hours));
        // Per stage (from 1) whose end has passed, each item's decision in it, as first frozen.
        let mut frozen: BTreeMap<usize, BTreeMap<String, Option<DecisionState>>> = BTreeMap::new();
        for event in events {
            match event {
                Event::Decide { reviewer, principal, decision, stage } => {
                    let reviewer = REVIEWERS[reviewer];
                    w.decide(reviewer, &format!("p{principal}"), decision, None);
                    if let Some(file) = w.files.get_mut(reviewer) {
                        file.stage = stage;
                    }
                }
                Event::Stop => { token += 1; w.spec.requests.stop = Some(format!("s{token}")); }
                Event::Reset => { token += 1; w.spec.requests.reset = Some(format!("r{token}")); }
                Event::Remind => { token += 1; w.spec.requests.remind = Some(format!("m{token}")); }
                Event::Wait { hours: h } => hours += h,
            }
            let now = at(hours);
            w.step(&now);
            let again = w.plan(&now);
            prop_assert!(again.is_empty(), "not idempotent at {}: {}", now, again);

            let instance = w.instance();
            for (index, record) in instance.stages.iter().enumerate() {
                if record.ended.is_none() {
                    continue;
                }
                let decisions: BTreeMap<String, Option<DecisionState>> = instance
                    .items
                    .iter()
                    .map(|(id, item)| (id.clone(), item.stage_decision(index + 1).cloned()))
                    .collect();
                let first = frozen.entry(index + 1).or_insert_with(|| decisions.clone());
                prop_assert_eq!(&*first, &decisions, "stage {} changed after it ended", index + 1);
            }
            for (id, item) in &instance.items {
                // Only the stages that reviewed an item decided it.
                for d in &item.stages {
                    prop_assert!(instance.stages[d.stage - 1].items.contains(id), "{} decided in stage {} that does not review it", id, d.stage);
                }
                // The effective decision is the latest stage's, or the default at the end.
                match (item.stages.last(), &item.decision) {
                    (Some(last), decision) => prop_assert_eq!(Some(&last.decision), decision.as_ref()),
                    (None, Some(d)) => prop_assert!(d.by_system && instance.ended.is_some(), "{} decided outside any stage", id),
                    (None, None) => {}
                }
            }
        }
    }
}

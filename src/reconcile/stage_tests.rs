//! Every rule of multi-stage reviews, as plain values (see `tests` for the world they run in).

use super::tests::{World, base_spec, ts, user};
use super::*;
use crate::model::review::{EscalateTo, Escalation, ReviewerType, Reviewers, Stage, StageOutcome};
use crate::state::EntryStatus;

use StageOutcome::{Approve, Deny, DontKnow, NotReviewed};

/// A manager review (Mia manages Alice, Bob and Eve) for 7 days, then Carol and Dave for 7 days
/// on the items whose first-stage outcome is listed.
fn two_stages(from: &[StageOutcome]) -> World {
    let mut spec = base_spec();
    spec.reviewers.kind = ReviewerType::Manager;
    spec.schedule.duration_days = 7;
    spec.stages = vec![Stage {
        name: Some("owners".into()),
        reviewers: Reviewers {
            kind: ReviewerType::Users,
            users: vec!["carol".into(), "dave".into()],
        },
        fallback_reviewers: vec![],
        duration_days: 7,
        from_previous_stage: from.to_vec(),
    }];
    let people = ["alice", "bob", "eve"]
        .iter()
        .map(|id| {
            let mut u = user(id);
            u.manager = Some("mia".into());
            u
        })
        .collect();
    World::new(spec, people)
}

/// Stage 1: Mia approves Alice and denies Bob; Eve stays undecided.
fn first_stage_decided(world: &mut World) {
    world.step("2026-12-01");
    world.decide("mia", "alice", Decision::Approve, None);
    world.decide("mia", "bob", Decision::Deny, Some("left the team"));
    world.step("2026-12-02");
}

fn stage_items(world: &World) -> Vec<String> {
    let instance = world.instance();
    instance.stages[instance.stage]
        .items
        .iter()
        .cloned()
        .collect()
}

fn rejection(world: &World, reviewer: &str, principal: &str) -> Option<String> {
    match &world
        .instance()
        .entries
        .get(&crate::state::Instance::entry_key(reviewer, principal))?
        .status
    {
        EntryStatus::Rejected { reason } => Some(reason.clone()),
        _ => None,
    }
}

#[test]
fn an_instance_runs_its_stages_back_to_back_and_ends_after_the_last() {
    let mut world = two_stages(&[Approve]);
    let plan = world.step("2026-12-01");
    let instance = world.instance();
    assert_eq!(instance.end, ts("2026-12-15"), "start + 7 + 7 days");
    let windows: Vec<_> = instance.stages.iter().map(|s| (s.start, s.end)).collect();
    assert_eq!(
        windows,
        [
            (ts("2026-12-01"), ts("2026-12-08")),
            (ts("2026-12-08"), ts("2026-12-15"))
        ]
    );
    assert_eq!(instance.stages[1].name, "owners");
    assert_eq!(instance.stages[0].name, "stage 1");
    assert_eq!(stage_items(&world), ["alice", "bob", "eve"]);
    // The daemon comes back when the first stage ends.
    assert_eq!(plan.reviews[0].requeue_at, Some(ts("2026-12-08")));
    let plan = world.step("2026-12-08");
    assert_eq!(world.instance().stage, 1);
    assert!(world.instance().ended.is_none());
    assert_eq!(plan.reviews[0].requeue_at, Some(ts("2026-12-15")));
    world.step("2026-12-15");
    assert!(world.instance().ended.is_some());
    assert!(world.instance().stages.iter().all(|s| s.ended.is_some()));
}

#[test]
fn the_previous_stages_outcomes_listed_decide_which_items_move_on() {
    // Alice approved, Bob denied, Eve not reviewed in the first stage.
    let cases: &[(&[StageOutcome], &[&str])] = &[
        (&[Approve], &["alice"]),
        (&[Deny], &["bob"]),
        (&[NotReviewed], &["eve"]),
        (&[DontKnow], &[]),
        (&[Approve, Deny], &["alice", "bob"]),
        (
            &[Approve, Deny, DontKnow, NotReviewed],
            &["alice", "bob", "eve"],
        ),
    ];
    for (from, expected) in cases {
        let mut world = two_stages(from);
        first_stage_decided(&mut world);
        let plan = world.step("2026-12-08");
        assert_eq!(stage_items(&world), *expected, "from {from:?}");
        let said = plan.reviews[0].changes.iter().any(|c| {
            matches!(c, Change::StageStarted { stage: 2, items, .. } if *items == expected.len())
        });
        assert!(said, "from {from:?}: {plan}");
    }
}

#[test]
fn a_later_stage_overrides_the_items_it_sees_and_the_others_keep_their_decision() {
    let mut world = two_stages(&[Approve, NotReviewed]);
    first_stage_decided(&mut world);
    world.step("2026-12-08");
    world.decide("carol", "alice", Decision::Deny, Some("no longer needed"));
    // Bob did not move on: Carol cannot decide him in this stage.
    world.decide("carol", "bob", Decision::Approve, None);
    world.step("2026-12-09");
    let alice = &world.instance().items["alice"];
    assert_eq!(world.decision("alice"), Some(Decision::Deny));
    assert_eq!(
        alice
            .stage_decision(1)
            .map(|d| (d.decision, d.reviewer.as_str())),
        Some((Decision::Approve, "mia")),
        "the first stage's decision stays on record"
    );
    assert_eq!(
        alice.stage_decision(2).map(|d| d.reviewer.as_str()),
        Some("carol")
    );
    assert_eq!(world.decision("bob"), Some(Decision::Deny));
    let reason = rejection(&world, "carol", "bob").expect("rejected");
    assert!(reason.contains("does not review `bob`"), "{reason}");
    assert!(reason.contains("`deny`"), "{reason}");
    // Eve moved on and nobody decided her in stage 2: she stays undecided, and at the end
    // the default decision (none here) leaves her so. Alice's override is final.
    world.step("2026-12-15");
    assert_eq!(world.decision("eve"), None);
    assert_eq!(world.decision("alice"), Some(Decision::Deny));
}

#[test]
fn an_item_that_moved_on_without_a_later_decision_keeps_its_earlier_one() {
    let mut world = two_stages(&[Approve, Deny]);
    world.spec.settings.default_decision = DefaultDecision::Deny;
    first_stage_decided(&mut world);
    world.step("2026-12-08");
    world.step("2026-12-15");
    // Alice: approved in stage 1, moved on, not decided in stage 2: still approved.
    assert_eq!(world.decision("alice"), Some(Decision::Approve));
    // The default decision fills only items with no decision at all.
    let eve = world.instance().items["eve"]
        .decision
        .clone()
        .expect("defaulted");
    assert!(eve.by_system);
    assert_eq!(eve.decision, Decision::Deny);
    assert!(world.instance().items["eve"].stages.is_empty());
}

#[test]
fn the_first_stages_reviewers_do_not_decide_in_the_next() {
    let mut world = two_stages(&[Approve]);
    first_stage_decided(&mut world);
    world.step("2026-12-08");
    // Mia's old entries are carried, not counted; changing one is judged by stage 2's rule.
    assert_eq!(
        world.instance().entries[&crate::state::Instance::entry_key("mia", "alice")].status,
        EntryStatus::Cleared
    );
    world.decide("mia", "alice", Decision::Deny, None);
    world.step("2026-12-09");
    assert_eq!(world.decision("alice"), Some(Decision::Approve));
    let reason = rejection(&world, "mia", "alice").expect("rejected");
    assert!(reason.contains("may not decide"), "{reason}");
    // Stage 1's entries are frozen in its record.
    assert_eq!(world.instance().stages[0].entries.len(), 2);
}

#[test]
fn a_reviewer_in_both_stages_counts_in_the_next_only_once_they_change_or_name_it() {
    let mut world = two_stages(&[Approve]);
    world.spec.reviewers = Reviewers {
        kind: ReviewerType::Users,
        users: vec!["carol".into()],
    };
    world.step("2026-12-01");
    world.decide("carol", "alice", Decision::Approve, None);
    world.decide("carol", "bob", Decision::Approve, None);
    world.step("2026-12-02");
    world.step("2026-12-08");
    let alice = &world.instance().items["alice"];
    assert_eq!(
        alice.stage_decision(2),
        None,
        "not re-approved by an old file"
    );
    // Naming the stage re-affirms Alice; changing the decision decides Bob.
    world.files.get_mut("carol").expect("file").decisions[0].stage = Some(2);
    world.decide("carol", "bob", Decision::Deny, None);
    world.step("2026-12-09");
    let items = &world.instance().items;
    assert_eq!(
        items["alice"].stage_decision(2).map(|d| d.decision),
        Some(Decision::Approve)
    );
    assert_eq!(world.decision("bob"), Some(Decision::Deny));
    assert_eq!(items["bob"].stages.len(), 2);
}

#[test]
fn entries_naming_a_stage_wait_for_it_or_are_rejected_once_it_ended() {
    let mut world = two_stages(&[Approve]);
    first_stage_decided(&mut world);
    // Carol decides ahead for stage 2: read again once it starts.
    world.decide("carol", "alice", Decision::Deny, None);
    world.files.get_mut("carol").expect("file").stage = Some(2);
    world.step("2026-12-03");
    assert!(
        world
            .instance()
            .entries
            .keys()
            .all(|k| !k.starts_with("carol"))
    );
    world.step("2026-12-08");
    world.step("2026-12-09");
    assert_eq!(world.decision("alice"), Some(Decision::Deny));
    // A decision for stage 1 now is too late; stage 3 does not exist.
    world.decide("dave", "alice", Decision::Approve, None);
    world.files.get_mut("dave").expect("file").stage = Some(1);
    world.step("2026-12-10");
    let reason = rejection(&world, "dave", "alice").expect("rejected");
    assert!(
        reason.contains("stage 1 of instance 2026-12-01 has ended"),
        "{reason}"
    );
    world.files.get_mut("dave").expect("file").stage = Some(3);
    world.decide("dave", "alice", Decision::DontKnow, None);
    world.step("2026-12-11");
    let reason = rejection(&world, "dave", "alice").expect("rejected");
    assert!(reason.contains("has no stage 3"), "{reason}");
    assert_eq!(world.decision("alice"), Some(Decision::Deny));
}

#[test]
fn reset_clears_the_decisions_of_the_stage_in_progress_only() {
    let mut world = two_stages(&[Approve]);
    first_stage_decided(&mut world);
    world.step("2026-12-08");
    world.decide("carol", "alice", Decision::Deny, None);
    world.step("2026-12-09");
    world.spec.requests.reset = Some("r1".into());
    let plan = world.step("2026-12-10");
    let reset = plan.reviews[0].changes.iter().find_map(|c| match c {
        Change::Reset { cleared, .. } => Some(*cleared),
        _ => None,
    });
    assert_eq!(reset, Some(1));
    let alice = &world.instance().items["alice"];
    assert_eq!(alice.stage_decision(2), None);
    assert_eq!(
        world.decision("alice"),
        Some(Decision::Approve),
        "stage 1 stands"
    );
    assert_eq!(world.decision("bob"), Some(Decision::Deny));
}

#[test]
fn stop_ends_the_whole_instance_whatever_its_stage() {
    let mut world = two_stages(&[Approve]);
    first_stage_decided(&mut world);
    world.spec.requests.stop = Some("s1".into());
    world.step("2026-12-03");
    let instance = world.instance();
    assert_eq!(
        instance.ended.as_ref().map(|e| e.reason),
        Some(EndReason::Stopped)
    );
    assert_eq!(instance.stage, 0);
    assert_eq!(instance.stages[0].ended, Some(ts("2026-12-03")));
    // The next stage never starts.
    let plan = world.step("2026-12-09");
    assert!(plan.reviews[0].changes.is_empty(), "{plan}");
    assert!(world.instance().stages[1].items.is_empty());
}

fn notices(plan: &Plan) -> Vec<(NotificationEvent, u32, Vec<String>)> {
    plan.reviews[0]
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Notify {
                event,
                sequence,
                reviewers,
                ..
            } => Some((*event, *sequence, reviewers.clone())),
            _ => None,
        })
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn a_stage_start_tells_its_reviewers_and_remind_reaches_the_stage_in_progress() {
    let mut world = two_stages(&[Approve]);
    let plan = world.step("2026-12-01");
    assert_eq!(
        notices(&plan),
        [(NotificationEvent::InstanceStarted, 0, strings(&["mia"]))]
    );
    world.decide("mia", "alice", Decision::Approve, None);
    world.step("2026-12-02");
    let plan = world.step("2026-12-08");
    assert_eq!(
        notices(&plan),
        [(
            NotificationEvent::StageStarted,
            2,
            strings(&["carol", "dave"])
        )]
    );
    world.spec.requests.remind = Some("now".into());
    let plan = world.step("2026-12-09");
    assert_eq!(
        notices(&plan),
        [(NotificationEvent::Reminder, 1, strings(&["carol", "dave"]))],
        "not Mia, though Bob and Eve are undecided"
    );
    // Nobody is pending once the stage's items are decided.
    world.decide("carol", "alice", Decision::Approve, None);
    world.spec.requests.remind = Some("again".into());
    world.step("2026-12-10");
    assert!(
        world
            .instance()
            .reminders
            .last()
            .is_some_and(|r| r.reviewers.is_empty())
    );
}

#[test]
fn apply_waits_for_the_last_stage() {
    let mut world = two_stages(&[Approve]);
    world.spec.settings.auto_apply = true;
    first_stage_decided(&mut world);
    world.step("2026-12-08");
    assert!(
        world.removed.is_empty(),
        "Bob's denial is not applied between stages"
    );
    world.spec.requests.apply = Some("a1".into());
    let plan = world.step("2026-12-09");
    assert!(world.removed.is_empty(), "{plan}");
    world.step("2026-12-15");
    assert_eq!(world.removed.len(), 1);
}

#[test]
fn escalation_times_are_the_stage_s_and_each_stage_records_its_levels() {
    let mut world = two_stages(&[Approve, NotReviewed]);
    world.spec.settings.escalations = vec![Escalation {
        name: None,
        after_days: Some(2),
        days_before_end: None,
        to: EscalateTo::Users,
        users: vec!["uma".into()],
    }];
    world.step("2026-12-01");
    world.decide("mia", "alice", Decision::Approve, None);
    world.step("2026-12-02");
    let plan = world.step("2026-12-03");
    assert_eq!(
        notices(&plan),
        [(NotificationEvent::Escalated, 1, strings(&["uma"]))]
    );
    assert_eq!(
        world.instance().escalations[0]
            .items
            .keys()
            .collect::<Vec<_>>(),
        ["bob", "eve"]
    );
    // Uma decides Bob in stage 1 through the escalation; it moves on no further (deny).
    world.decide("uma", "bob", Decision::Deny, None);
    world.step("2026-12-04");
    let plan = world.step("2026-12-08");
    assert_eq!(plan.reviews[0].requeue_at, Some(ts("2026-12-10")), "{plan}");
    assert_eq!(world.instance().stages[0].escalations.len(), 1);
    assert!(world.instance().escalations.is_empty());
    assert_eq!(world.decision("bob"), Some(Decision::Deny));
    // Two days into stage 2, its undecided items (Alice and Eve) go to Uma again.
    let plan = world.step("2026-12-10");
    assert_eq!(
        notices(&plan),
        [(NotificationEvent::Escalated, 1, strings(&["uma"]))]
    );
    assert_eq!(
        world.instance().escalations[0]
            .items
            .keys()
            .collect::<Vec<_>>(),
        ["alice", "eve"]
    );
    assert_eq!(world.instance().escalations[0].at, ts("2026-12-10"));
}

#[test]
fn under_forbidden_self_decisions_an_own_item_nobody_may_decide_moves_on() {
    let mut world = two_stages(&[Approve]);
    world.spec.reviewers = Reviewers {
        kind: ReviewerType::Users,
        users: vec!["alice".into()],
    };
    world.spec.settings.forbid_self_decisions = true;
    world.step("2026-12-01");
    world.decide("alice", "bob", Decision::Deny, None);
    world.decide("alice", "alice", Decision::Approve, None);
    world.step("2026-12-02");
    assert!(rejection(&world, "alice", "alice").is_some());
    world.step("2026-12-08");
    // Alice's own item had nobody to decide it: it goes to stage 2 whatever the outcome
    // listed; Eve (undecided, but decidable) does not.
    assert_eq!(stage_items(&world), ["alice"]);
    world.decide("carol", "alice", Decision::Approve, None);
    world.step("2026-12-09");
    assert_eq!(world.decision("alice"), Some(Decision::Approve));
    // With a fallback reviewer in stage 1, the item would have gone to them instead.
    let mut with_fallback = two_stages(&[Approve]);
    with_fallback.spec.reviewers = world.spec.reviewers.clone();
    with_fallback.spec.settings.forbid_self_decisions = true;
    with_fallback.spec.fallback_reviewers = vec!["fiona".into()];
    with_fallback.step("2026-12-01");
    with_fallback.decide("fiona", "alice", Decision::Deny, None);
    with_fallback.step("2026-12-02");
    assert_eq!(with_fallback.decision("alice"), Some(Decision::Deny));
    with_fallback.step("2026-12-08");
    assert!(stage_items(&with_fallback).is_empty());
}

#[test]
fn stage_transitions_missed_while_recert_was_down_happen_at_their_times() {
    let mut world = two_stages(&[Approve]);
    first_stage_decided(&mut world);
    let plan = world.step("2026-12-20");
    let said: Vec<String> = plan.reviews[0]
        .changes
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        said,
        [
            "instance 2026-12-01: stage 1 ended, 2 items decided",
            "instance 2026-12-01: stage 2 (owners) started: 1 item to review",
            "instance 2026-12-01: stage 2 (owners) ended, 0 items decided",
            "instance 2026-12-01 ended",
        ]
    );
    let instance = world.instance();
    assert_eq!(instance.stages[0].ended, Some(ts("2026-12-08")));
    assert_eq!(instance.stages[1].ended, Some(ts("2026-12-15")));
}

#[test]
fn a_single_stage_state_is_written_as_before_stages_existed() {
    let mut world = World::self_review(&["alice"]);
    world.step("2026-12-01");
    world.decide("alice", "alice", Decision::Approve, None);
    world.step("2026-12-02");
    let json = serde_json::to_string(world.state()).expect("serializes");
    for key in ["\"stages\"", "\"stage\"", "showPreviousStageDecisions"] {
        assert!(!json.contains(key), "{key} in {json}");
    }
    let back: crate::state::ReviewState = serde_json::from_str(&json).expect("loads");
    assert_eq!(&back, world.state());
}

#[test]
fn later_reviewers_are_told_earlier_decisions_unless_the_review_hides_them() {
    let mut world = two_stages(&[Approve, NotReviewed]);
    first_stage_decided(&mut world);
    world.step("2026-12-08");
    let fact = |world: &World| {
        let state = world.state();
        let instance = world.instance();
        crate::notify::compose::item_fact_in(state, instance, &instance.items["alice"])
    };
    assert_eq!(
        fact(&world).previous_stage_decisions,
        ["stage 1: approve by mia"]
    );
    // A stage's own decision is not an earlier one.
    world.decide("carol", "alice", Decision::Deny, Some("gone"));
    world.step("2026-12-09");
    assert_eq!(fact(&world).previous_stage_decisions.len(), 1);
    world.spec.settings.show_previous_stage_decisions = false;
    world.step("2026-12-10");
    assert!(fact(&world).previous_stage_decisions.is_empty());
}

#[test]
fn the_next_instance_of_a_recurring_review_starts_with_the_first_stages_reviewers() {
    let mut world = two_stages(&[Approve]);
    world.spec.schedule.recurrence = crate::model::review::Recurrence::Monthly;
    first_stage_decided(&mut world);
    world.step("2026-12-08");
    world.step("2026-12-15");
    let plan = world.step("2027-01-01");
    assert_eq!(world.instance().id, "2027-01-01");
    assert_eq!(world.instance().stage, 0);
    assert_eq!(
        notices(&plan),
        [(NotificationEvent::InstanceStarted, 0, strings(&["mia"]))]
    );
}

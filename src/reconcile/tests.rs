//! Every rule of a review's life, as plain values: no directory, no clock.

use std::collections::BTreeMap;

use super::apply::{Outcome, record_outcome};
use super::*;
use crate::directory::{
    Access, Item, ObservedScope, Principal, Removal, RemoveOutcome, UserInfo, observe::TargetKind,
};
use crate::model::decisions::{Decision, DecisionEntry, ReviewDecisionsSpec};
use crate::model::directory_data::{AssignmentType, Source};
use crate::model::review::*;
use crate::state::{ApplyResult, EndReason, EntryStatus, ReviewState};

pub(crate) fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).expect("valid timestamp")
}

pub(crate) fn user(id: &str) -> UserInfo {
    UserInfo {
        id: id.to_owned(),
        user_principal_name: format!("{id}@corp.example"),
        display_name: None,
        manager: None,
        last_sign_in: Some(ts("2026-11-20")),
        enabled: true,
        source: Source::Cloud,
        mail: None,
        user_type: Default::default(),
    }
}

pub(crate) fn base_spec() -> AccessReviewSpec {
    AccessReviewSpec {
        directory: "corp".into(),
        display_name: "Global Administrators".into(),
        description: None,
        scope: Scope {
            role: Some(ObjectRef {
                name: Some("Global Administrator".into()),
                id: None,
            }),
            group: None,
            assignments: AssignmentFilter::All,
            resource_scope: None,
            expand_groups: true,
            inactive_days: None,
            user_type: Default::default(),
            exclude: vec![],
            member_of: None,
        },
        reviewers: Reviewers {
            kind: ReviewerType::SelfReview,
            users: vec![],
        },
        fallback_reviewers: vec![],
        owners: vec![],
        schedule: Schedule {
            start: ts("2026-12-01"),
            duration_days: 14,
            recurrence: Recurrence::Once,
            interval: 1,
            until: None,
            count: None,
        },
        stages: vec![],
        settings: Settings::default(),
        guards: Guards::default(),
        requests: Requests::default(),
    }
}

/// A review, its directory and its recorded state, moved through time.
pub(crate) struct World {
    pub spec: AccessReviewSpec,
    pub people: Vec<UserInfo>,
    pub files: BTreeMap<String, ReviewDecisionsSpec>,
    pub recorded: BTreeMap<String, ReviewState>,
    pub removed: Vec<Removal>,
    pub failed: bool,
    pub deleted: bool,
    /// The reviewer page's decision log.
    pub page: Vec<crate::decision_log::Recorded>,
}

impl World {
    pub fn new(spec: AccessReviewSpec, people: Vec<UserInfo>) -> World {
        World {
            spec,
            people,
            files: BTreeMap::new(),
            recorded: BTreeMap::new(),
            removed: Vec::new(),
            failed: false,
            deleted: false,
            page: Vec::new(),
        }
    }

    pub fn self_review(ids: &[&str]) -> World {
        World::new(base_spec(), ids.iter().map(|id| user(id)).collect())
    }

    fn scope(&self) -> ObservedScope {
        let items = self
            .people
            .iter()
            .map(|u| {
                let access = Access {
                    removal: Removal::assignment(&format!("a-{}", u.id), AssignmentType::Active),
                    via: None,
                    not_supported: None,
                };
                (
                    u.id.clone(),
                    Item {
                        principal: Principal::User(u.clone()),
                        access: vec![access],
                    },
                )
            })
            .collect();
        ObservedScope {
            target_kind: TargetKind::Role,
            target_id: "r-ga".into(),
            target_name: "Global Administrator".into(),
            items,
            member_of: None,
        }
    }

    pub fn decide(
        &mut self,
        reviewer: &str,
        principal: &str,
        decision: Decision,
        reason: Option<&str>,
    ) -> &mut World {
        let file = self
            .files
            .entry(reviewer.to_owned())
            .or_insert_with(|| ReviewDecisionsSpec {
                review: "ga".into(),
                instance: None,
                stage: None,
                reviewer: reviewer.to_owned(),
                decisions: vec![],
            });
        file.decisions
            .retain(|d| d.principal.as_deref() != Some(principal));
        file.decisions.push(DecisionEntry {
            principal: Some(principal.to_owned()),
            principals: vec![],
            decision,
            reason: reason.map(str::to_owned),
            instance: None,
            stage: None,
            after_reset: None,
        });
        self
    }

    pub fn desired(&self) -> Desired {
        let mut desired = Desired::default();
        if self.failed {
            desired.failed_sources.insert("reviews/ga.yaml".into());
        } else if !self.deleted {
            let decisions = self
                .files
                .iter()
                .map(|(r, spec)| DecisionFile {
                    source: format!("decisions/{r}.yaml"),
                    spec: spec.clone(),
                    recorded_at: None,
                })
                .chain(
                    crate::decision_log::latest_of_all(&self.page)
                        .into_iter()
                        .map(|line| crate::decision_log::as_decision_file("ga", line)),
                )
                .collect();
            desired.reviews.insert(
                "ga".into(),
                DesiredReview {
                    spec: self.spec.clone(),
                    source: "reviews/ga.yaml".into(),
                    decisions,
                },
            );
        }
        desired
    }

    /// The plan at `now`, with the directory read as `needs` asks.
    pub fn plan(&self, now: &str) -> Plan {
        let desired = self.desired();
        let needs = needs(&desired, &self.recorded, ts(now));
        let mut observed = Observed::default();
        for (name, need) in needs {
            let people = need
                .names
                .iter()
                .filter_map(|n| {
                    // Ids first, as `directory::resolve_name` does.
                    self.people
                        .iter()
                        .find(|u| u.id == *n)
                        .or_else(|| {
                            self.people
                                .iter()
                                .find(|u| normalize(&u.user_principal_name) == *n)
                        })
                        .map(|u| (n.clone(), u.id.clone()))
                })
                .collect();
            observed.reviews.insert(
                name,
                ObservedReview {
                    scope: need.scope.then(|| self.scope()),
                    directory_type: Some("file".into()),
                    people,
                    managers: self
                        .people
                        .iter()
                        .filter_map(|u| Some((u.id.clone(), u.manager.clone()?)))
                        .collect(),
                },
            );
        }
        reconcile(&desired, observed, &self.recorded, ts(now))
    }

    /// Reconciles at `now` and carries the plan out: removals succeed.
    pub fn step(&mut self, now: &str) -> Plan {
        let plan = self.plan(now);
        for review in &plan.reviews {
            let Some(mut next) = review.next.clone() else {
                self.recorded.remove(&review.review);
                continue;
            };
            let mut removed = false;
            for effect in &review.effects {
                if let Effect::Remove {
                    instance,
                    principal,
                    removal,
                } = effect
                {
                    removed = true;
                    self.removed.push(removal.clone());
                    record_outcome(
                        &mut next,
                        instance,
                        principal,
                        &[Outcome::Done(RemoveOutcome::Removed)],
                        ts(now),
                    );
                }
            }
            if removed {
                // As the executor does once the outcomes are recorded.
                super::apply::notify_finished(&mut next, &mut ReviewPlan::new(&review.review));
            }
            if review.effects.contains(&Effect::Archive) {
                self.recorded.remove(&review.review);
            } else {
                self.recorded.insert(review.review.clone(), next);
            }
        }
        plan
    }

    /// The reviewer page records `reviewer`'s decision at `at` on the running instance.
    pub fn page_decides(
        &mut self,
        reviewer: &str,
        principal: &str,
        decision: Decision,
        reason: Option<&str>,
        at: &str,
    ) -> &mut World {
        let instance = self.instance().id.clone();
        self.page.push(crate::decision_log::Recorded {
            instance,
            reviewer: reviewer.to_owned(),
            principal: principal.to_owned(),
            decision,
            reason: reason.map(str::to_owned),
            at: ts(at),
            subject: format!("sub-{reviewer}"),
            issuer: "https://idp.example".to_owned(),
        });
        self
    }

    pub fn state(&self) -> &ReviewState {
        &self.recorded["ga"]
    }

    pub fn instance(&self) -> &crate::state::Instance {
        self.state().instances.last().expect("an instance")
    }

    pub fn decision(&self, principal: &str) -> Option<Decision> {
        self.instance().items[principal]
            .decision
            .as_ref()
            .map(|d| d.decision)
    }
}

fn changes(plan: &Plan) -> Vec<String> {
    plan.reviews
        .iter()
        .flat_map(|r| r.changes.iter().map(ToString::to_string))
        .collect()
}

#[test]
fn nothing_starts_before_the_start_date_and_the_start_is_the_next_edge() {
    let mut world = World::self_review(&["alice", "bob"]);
    let plan = world.step("2026-11-30T12:00:00Z");
    assert_eq!(changes(&plan), ["Recert now tracks this review"]);
    assert!(world.state().instances.is_empty());
    assert_eq!(plan.requeue_at(), Some(ts("2026-12-01")));
    assert!(world.step("2026-11-30T13:00:00Z").is_empty());
}

#[test]
fn an_instance_starts_at_its_start_date_and_snapshots_every_assignment_in_scope() {
    let mut world = World::self_review(&["alice", "bob"]);
    let plan = world.step("2026-12-01T00:00:05Z");
    assert!(
        changes(&plan).contains(&"instance 2026-12-01 started: 2 assignments to review".to_owned())
    );
    let instance = world.instance();
    assert_eq!(instance.id, "2026-12-01");
    assert_eq!(instance.end, ts("2026-12-15"));
    assert_eq!(instance.items.keys().collect::<Vec<_>>(), ["alice", "bob"]);
    // The reviewers are told.
    assert!(plan.reviews[0].effects.iter().any(|e| matches!(e, Effect::Notify { event: NotificationEvent::InstanceStarted, reviewers, .. } if reviewers == &["alice", "bob"])));
    // The snapshot does not move when the directory does.
    world.people.push(user("carol"));
    world.step("2026-12-02");
    assert_eq!(world.instance().items.len(), 2);
}

#[test]
fn a_self_reviewer_decides_their_own_item_and_is_rejected_on_anyone_elses() {
    let mut world = World::self_review(&["alice", "bob"]);
    world.step("2026-12-01");
    world.decide("alice", "alice", Decision::Approve, Some("still on call"));
    world.decide("alice", "bob", Decision::Deny, Some("left"));
    let plan = world.step("2026-12-02");
    let changes = changes(&plan);
    assert!(
        changes.contains(&"alice approved alice (instance 2026-12-01)".to_owned()),
        "{changes:?}"
    );
    assert!(
        changes
            .iter()
            .any(|c| c.starts_with("alice's decision on bob does not count")),
        "{changes:?}"
    );
    assert_eq!(world.decision("alice"), Some(Decision::Approve));
    assert_eq!(world.decision("bob"), None);
    let rejected = &world.instance().entries["alice bob"];
    assert!(
        matches!(&rejected.status, EntryStatus::Rejected { reason } if reason.contains("self-review"))
    );
}

#[test]
fn decisions_may_name_principals_and_reviewers_by_user_principal_name() {
    let mut world = World::self_review(&["alice"]);
    world.step("2026-12-01");
    world.decide(
        "Alice@Corp.Example",
        "alice@corp.example",
        Decision::Approve,
        None,
    );
    world.step("2026-12-02");
    assert_eq!(world.decision("alice"), Some(Decision::Approve));
}

#[test]
fn the_last_decision_recorded_wins() {
    let mut spec = base_spec();
    spec.reviewers = Reviewers {
        kind: ReviewerType::Users,
        users: vec!["carol".into(), "dave".into()],
    };
    let mut world = World::new(spec, vec![user("alice"), user("carol"), user("dave")]);
    world.step("2026-12-01");
    world.decide("carol", "alice", Decision::Approve, None);
    world.step("2026-12-02");
    world.decide("dave", "alice", Decision::Deny, None);
    world.step("2026-12-03");
    assert_eq!(world.decision("alice"), Some(Decision::Deny));
    // Carol changes her mind later: hers is now the last.
    world.decide("carol", "alice", Decision::DontKnow, Some("need to ask"));
    world.step("2026-12-04");
    assert_eq!(world.decision("alice"), Some(Decision::DontKnow));
    assert_eq!(
        world.instance().items["alice"]
            .decision
            .as_ref()
            .map(|d| d.reviewer.as_str()),
        Some("carol")
    );
}

#[test]
fn a_required_reason_is_enforced() {
    let mut world = World::self_review(&["alice"]);
    world.spec.settings.require_justification = true;
    world.step("2026-12-01");
    world.decide("alice", "alice", Decision::Approve, Some("  "));
    world.step("2026-12-02");
    assert_eq!(world.decision("alice"), None);
    world.decide("alice", "alice", Decision::Approve, Some("on call"));
    world.step("2026-12-03");
    assert_eq!(world.decision("alice"), Some(Decision::Approve));
}

#[test]
fn reviewers_added_while_an_instance_runs_take_part_at_once() {
    let mut spec = base_spec();
    spec.reviewers = Reviewers {
        kind: ReviewerType::Users,
        users: vec!["carol".into()],
    };
    let mut world = World::new(spec, vec![user("alice"), user("carol"), user("erin")]);
    world.step("2026-12-01");
    world.decide("erin", "alice", Decision::Deny, None);
    world.step("2026-12-02");
    assert_eq!(world.decision("alice"), None);
    world.spec.reviewers.users.push("erin@corp.example".into());
    world.decide("erin", "alice", Decision::Deny, Some("now a reviewer"));
    world.step("2026-12-03");
    assert_eq!(world.decision("alice"), Some(Decision::Deny));
}

#[test]
fn manager_reviews_go_to_the_manager_and_to_fallback_reviewers_without_one() {
    let mut spec = base_spec();
    spec.reviewers = Reviewers {
        kind: ReviewerType::Manager,
        users: vec![],
    };
    spec.fallback_reviewers = vec!["frank".into()];
    let mut alice = user("alice");
    alice.manager = Some("carol".into());
    let mut world = World::new(spec, vec![alice, user("bob"), user("carol"), user("frank")]);
    world.step("2026-12-01");
    world.decide("carol", "alice", Decision::Approve, None);
    world.decide("carol", "bob", Decision::Approve, None);
    world.decide("frank", "bob", Decision::Deny, None);
    world.decide("frank", "alice", Decision::Deny, None);
    world.step("2026-12-02");
    assert_eq!(world.decision("alice"), Some(Decision::Approve));
    assert_eq!(world.decision("bob"), Some(Decision::Deny));
}

#[test]
fn a_decision_for_a_principal_outside_the_instance_is_rejected() {
    let mut spec = base_spec();
    spec.reviewers = Reviewers {
        kind: ReviewerType::Users,
        users: vec!["carol".into()],
    };
    let mut world = World::new(spec, vec![user("alice"), user("carol")]);
    world.people.retain(|u| u.id != "carol");
    world.step("2026-12-01");
    world.decide("carol", "mallory", Decision::Deny, None);
    let plan = world.step("2026-12-02");
    assert!(
        changes(&plan)
            .iter()
            .any(|c| c.contains("`mallory` is not an item of instance 2026-12-01")),
        "{:?}",
        changes(&plan)
    );
}

#[test]
fn stop_ends_the_instance_at_once_keeps_undecided_items_and_rejects_later_decisions() {
    let mut world = World::self_review(&["alice", "bob"]);
    world.step("2026-12-01");
    world.decide("alice", "alice", Decision::Approve, None);
    world.step("2026-12-02");
    world.spec.requests.stop = Some("INC-1".into());
    let plan = world.step("2026-12-03");
    assert!(changes(&plan).contains(&"instance 2026-12-01 stopped early (requested as `INC-1`); undecided items stay undecided".to_owned()));
    let ended = world.instance().ended.clone().expect("ended");
    assert_eq!(
        (ended.at, ended.reason),
        (ts("2026-12-03"), EndReason::Stopped)
    );
    assert_eq!(world.decision("bob"), None);
    world.decide("bob", "bob", Decision::Approve, None);
    world.step("2026-12-04");
    assert_eq!(world.decision("bob"), None);
    assert!(matches!(
        world.instance().entries["bob bob"].status,
        EntryStatus::Rejected { .. }
    ));
    // The same token does nothing again; a stopped instance cannot be restarted.
    assert!(world.step("2026-12-05").is_empty());
    assert!(world.instance().ended.is_some());
}

#[test]
fn stop_with_nothing_running_is_ignored_and_said_so() {
    let mut world = World::self_review(&["alice"]);
    world.spec.requests.stop = Some("early".into());
    let plan = world.step("2026-11-01");
    assert!(
        changes(&plan)
            .contains(&"request `stop: early` ignored: no instance is in progress".to_owned())
    );
    assert_eq!(world.state().handled.stop.as_deref(), Some("early"));
}

#[test]
fn reset_clears_every_decision_and_old_entries_count_again_only_when_changed() {
    let mut world = World::self_review(&["alice", "bob"]);
    world.step("2026-12-01");
    world.decide("alice", "alice", Decision::Approve, None);
    world.decide("bob", "bob", Decision::Approve, None);
    world.step("2026-12-02");
    world.spec.requests.reset = Some("r1".into());
    let plan = world.step("2026-12-03");
    assert!(
        changes(&plan)
            .contains(&"instance 2026-12-01 reset (requested as `r1`): 2 decisions cleared, every item is undecided again".to_owned())
    );
    assert_eq!(
        (world.decision("alice"), world.decision("bob")),
        (None, None)
    );
    assert_eq!(world.instance().resets.len(), 1);
    // Unchanged entries stay cleared.
    assert!(world.step("2026-12-04").is_empty());
    // Bob decides again by changing his entry.
    world.decide("bob", "bob", Decision::Deny, Some("no longer needed"));
    world.step("2026-12-05");
    assert_eq!(
        (world.decision("alice"), world.decision("bob")),
        (None, Some(Decision::Deny))
    );
}

#[test]
fn reset_after_the_instance_ended_is_ignored() {
    let mut world = World::self_review(&["alice"]);
    world.step("2026-12-01");
    world.step("2026-12-16");
    world.spec.requests.reset = Some("late".into());
    let plan = world.step("2026-12-17");
    assert!(
        changes(&plan).contains(
            &"request `reset: late` ignored: a reset applies only to an instance in progress"
                .to_owned()
        )
    );
}

#[test]
fn at_the_end_the_default_decision_fills_undecided_items_as_the_system() {
    for (default, expected) in [
        (DefaultDecision::None, None),
        (DefaultDecision::Approve, Some(Decision::Approve)),
        (DefaultDecision::Deny, Some(Decision::Deny)),
        (DefaultDecision::Recommendation, Some(Decision::Deny)),
    ] {
        let mut stale = user("bob");
        stale.last_sign_in = Some(ts("2026-01-01"));
        let mut world = World::new(base_spec(), vec![user("alice"), stale]);
        world.spec.settings.default_decision = default;
        world.step("2026-12-01");
        world.decide("alice", "alice", Decision::Approve, None);
        world.step("2026-12-02");
        let plan = world.step("2026-12-15T00:00:01Z");
        assert!(
            changes(&plan)[0].starts_with("instance 2026-12-01 ended"),
            "{:?}",
            changes(&plan)
        );
        let ended = world.instance().ended.clone().expect("ended");
        assert_eq!(
            (ended.at, ended.reason),
            (ts("2026-12-15"), EndReason::Completed)
        );
        assert_eq!(
            world.decision("alice"),
            Some(Decision::Approve),
            "{default:?}"
        );
        assert_eq!(world.decision("bob"), expected, "{default:?}");
        if let Some(decision) = &world.instance().items["bob"].decision {
            assert!(decision.by_system);
            assert_eq!(decision.reviewer, SYSTEM_REVIEWER);
        }
    }
}

#[test]
fn recommendations_follow_the_inactivity_look_back() {
    let spec = base_spec();
    let now = ts("2026-12-01");
    let mut active = user("a");
    active.last_sign_in = Some(ts("2026-11-25"));
    let mut stale = user("s");
    stale.last_sign_in = Some(ts("2026-10-01"));
    let mut unknown = user("u");
    unknown.last_sign_in = None;
    let mut disabled = user("d");
    disabled.enabled = false;
    assert_eq!(
        recommend(&spec, &Principal::User(active), now).decision,
        Some(Decision::Approve)
    );
    let r = recommend(&spec, &Principal::User(stale), now);
    assert_eq!(
        (r.decision, r.reason.as_str()),
        (
            Some(Decision::Deny),
            "no sign-in for 61 days (look-back 30 days)"
        )
    );
    assert_eq!(
        recommend(&spec, &Principal::User(unknown), now).decision,
        None
    );
    assert_eq!(
        recommend(&spec, &Principal::User(disabled), now).decision,
        Some(Decision::Deny)
    );
}

fn completed_with(world: &mut World, decisions: &[(&str, Decision)]) {
    world.step("2026-12-01");
    for (who, decision) in decisions {
        world.decide(who, who, *decision, None);
    }
    world.step("2026-12-02");
    world.step("2026-12-16");
}

#[test]
fn apply_removes_only_denied_items_of_a_completed_instance() {
    let mut world = World::self_review(&["alice", "bob", "carol", "dave"]);
    world.spec.requests.apply = Some("go".into());
    let plan = world.step("2026-12-01");
    assert!(
        changes(&plan)
            .contains(&"request `apply: go` ignored: no instance has completed yet".to_owned())
    );
    world.spec.requests.apply = None;
    completed_with(
        &mut world,
        &[
            ("alice", Decision::Approve),
            ("bob", Decision::Deny),
            ("carol", Decision::DontKnow),
        ],
    );
    assert!(
        world.removed.is_empty(),
        "nothing is removed without an apply request"
    );
    world.spec.requests.apply = Some("go-2".into());
    let plan = world.step("2026-12-17");
    assert!(
        changes(&plan).contains(
            &"applying instance 2026-12-01 (requested as `go-2`): 1 access to remove".to_owned()
        ),
        "{:?}",
        changes(&plan)
    );
    assert_eq!(
        world.removed,
        [Removal::assignment("a-bob", AssignmentType::Active)]
    );
    assert!(matches!(
        world.instance().items["bob"].apply_result,
        Some(ApplyResult::Applied { .. })
    ));
    for other in ["alice", "carol", "dave"] {
        assert_eq!(world.instance().items[other].apply_result, None, "{other}");
    }
    // Done: nothing more to do, and the same token does not apply again.
    assert!(world.step("2026-12-18").is_empty());
    assert_eq!(world.removed.len(), 1);
}

#[test]
fn auto_apply_applies_when_the_instance_completes() {
    let mut world = World::self_review(&["alice", "bob"]);
    world.spec.settings.auto_apply = true;
    completed_with(&mut world, &[("bob", Decision::Deny)]);
    assert_eq!(world.removed.len(), 1);
    assert!(world.step("2026-12-20").is_empty());
}

#[test]
fn protected_principals_are_never_removed() {
    let mut world = World::self_review(&["alice", "breakglass"]);
    world.spec.guards.protected_principals = vec!["breakglass@corp.example".into()];
    world.spec.settings.auto_apply = true;
    completed_with(
        &mut world,
        &[("alice", Decision::Deny), ("breakglass", Decision::Deny)],
    );
    assert_eq!(
        world.removed,
        [Removal::assignment("a-alice", AssignmentType::Active)]
    );
    assert_eq!(
        world.instance().items["breakglass"].apply_result,
        Some(ApplyResult::Protected)
    );
}

#[test]
fn a_guard_blocks_the_whole_apply_instead_of_removing_part_of_it() {
    for (min, max, expected) in [
        (
            Some(3),
            None,
            "removing 2 of 4 would leave 2, fewer than minRemainingAssignments (3)",
        ),
        (
            None,
            Some(25),
            "removing 2 of 4 is more than maxRemovalPercent (25%)",
        ),
    ] {
        let mut world = World::self_review(&["a", "b", "c", "d"]);
        world.spec.guards.min_remaining_assignments = min;
        world.spec.guards.max_removal_percent = max;
        world.spec.settings.auto_apply = true;
        world.step("2026-12-01");
        world.decide("a", "a", Decision::Deny, None);
        world.decide("b", "b", Decision::Deny, None);
        world.step("2026-12-02");
        let plan = world.step("2026-12-16");
        assert!(
            changes(&plan).contains(&format!("instance 2026-12-01 is not applied: {expected}")),
            "{:?}",
            changes(&plan)
        );
        assert!(world.removed.is_empty());
        assert!(
            world
                .instance()
                .items
                .values()
                .all(|i| i.apply_result.is_none())
        );
        // Auto-apply does not retry a blocked apply by itself.
        assert!(world.step("2026-12-17").is_empty());
    }
}

#[test]
fn access_through_a_group_is_not_supported_and_says_which_group() {
    let mut world = World::self_review(&["alice"]);
    world.spec.settings.auto_apply = true;
    world.step("2026-12-01");
    let instance = world
        .recorded
        .get_mut("ga")
        .and_then(|s| s.instances.last_mut())
        .expect("instance");
    instance.items.get_mut("alice").expect("alice").access = vec![Access {
        removal: Removal::assignment("a-ops", AssignmentType::Active),
        via: Some("g-ops".into()),
        not_supported: Some("access is held through group `Ops`".into()),
    }];
    world.decide("alice", "alice", Decision::Deny, None);
    world.step("2026-12-02");
    world.step("2026-12-16");
    assert!(world.removed.is_empty());
    assert_eq!(
        world.instance().items["alice"].apply_result,
        Some(ApplyResult::NotSupported {
            reason: "access is held through group `Ops`".into()
        })
    );
}

#[test]
fn an_interrupted_apply_resumes_with_exactly_the_pending_removals() {
    let mut world = World::self_review(&["a", "b"]);
    world.spec.settings.auto_apply = true;
    world.step("2026-12-01");
    world.decide("a", "a", Decision::Deny, None);
    world.decide("b", "b", Decision::Deny, None);
    world.step("2026-12-02");
    // The plan is recorded but the executor dies after the first removal.
    let plan = world.plan("2026-12-16");
    let mut next = plan.reviews[0].next.clone().expect("state");
    record_outcome(
        &mut next,
        "2026-12-01",
        "a",
        &[Outcome::Done(RemoveOutcome::Removed)],
        ts("2026-12-16"),
    );
    world.recorded.insert("ga".into(), next);
    let resumed = world.plan("2026-12-16T00:05:00Z");
    let removals: Vec<&Effect> = resumed.reviews[0]
        .effects
        .iter()
        .filter(|e| matches!(e, Effect::Remove { .. }))
        .collect();
    assert_eq!(
        removals,
        [&Effect::Remove {
            instance: "2026-12-01".into(),
            principal: "b".into(),
            removal: Removal::assignment("a-b", AssignmentType::Active)
        }]
    );
}

#[test]
fn remind_reaches_only_reviewers_with_undecided_items() {
    let mut world = World::self_review(&["alice", "bob", "carol"]);
    world.step("2026-12-01");
    world.decide("alice", "alice", Decision::Approve, None);
    world.step("2026-12-02");
    world.spec.requests.remind = Some("nudge".into());
    let plan = world.step("2026-12-03");
    let notified: Vec<&Effect> = plan.reviews[0]
        .effects
        .iter()
        .filter(|e| {
            matches!(
                e,
                Effect::Notify {
                    event: NotificationEvent::Reminder,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(
        notified,
        [&Effect::Notify {
            event: NotificationEvent::Reminder,
            instance: "2026-12-01".into(),
            sequence: 1,
            reviewers: vec!["bob".into(), "carol".into()],
            owners: vec![],
        }]
    );
    assert!(world.step("2026-12-03T01:00:00Z").is_empty());
}

#[test]
fn scheduled_reminders_go_out_every_interval_while_the_instance_runs() {
    let mut world = World::self_review(&["alice"]);
    world.spec.settings.reminders = Reminders {
        enabled: true,
        interval_days: 3,
    };
    let plan = world.step("2026-12-01");
    assert_eq!(plan.requeue_at(), Some(ts("2026-12-04")));
    assert!(world.step("2026-12-03").is_empty());
    let plan = world.step("2026-12-04T08:00:00Z");
    assert_eq!(
        changes(&plan),
        [
            "reminder for instance 2026-12-01 (on schedule) to 1 reviewer with undecided items: alice"
        ]
    );
    assert!(world.step("2026-12-05").is_empty());
    assert_eq!(changes(&world.step("2026-12-07")).len(), 1);
}

#[test]
fn a_scheduled_reminder_is_recorded_at_its_due_time_when_the_pass_runs_late() {
    let mut world = World::self_review(&["alice"]);
    world.spec.settings.reminders = Reminders {
        enabled: true,
        interval_days: 3,
    };
    world.step("2026-12-01");
    // Nobody ran Recert on the 4th; the pass on the 5th sends the reminder due on the 4th.
    let plan = world.step("2026-12-05T16:30:00Z");
    let at = plan.reviews[0].changes.iter().find_map(|c| match c {
        Change::Reminded { at, .. } => Some(*at),
        _ => None,
    });
    assert_eq!(
        at,
        Some(ts("2026-12-04")),
        "the audit event carries the due time"
    );
    let recorded: Vec<Timestamp> = world.state().instances[0]
        .reminders
        .iter()
        .map(|r| r.at)
        .collect();
    assert_eq!(recorded, [ts("2026-12-04")]);
}

#[test]
fn recurrence_starts_the_next_instance_with_its_own_id_and_fresh_items() {
    let mut world = World::self_review(&["alice"]);
    world.spec.schedule.recurrence = Recurrence::Monthly;
    world.spec.schedule.count = Some(2);
    world.step("2026-12-01");
    world.decide("alice", "alice", Decision::Approve, None);
    world.step("2026-12-02");
    world.people.push(user("bob"));
    let plan = world.step("2027-01-01");
    assert!(
        changes(&plan).contains(&"instance 2027-01-01 started: 2 assignments to review".to_owned()),
        "{:?}",
        changes(&plan)
    );
    assert_eq!(world.state().instances.len(), 2);
    assert_eq!(
        world.decision("alice"),
        None,
        "a new instance starts undecided; the old entry does not count"
    );
    world.decide(
        "alice",
        "alice",
        Decision::Approve,
        Some("reviewed again in January"),
    );
    world.step("2027-01-02");
    assert_eq!(world.decision("alice"), Some(Decision::Approve));
    world.step("2027-01-20");
    assert!(
        world.step("2027-02-01").is_empty(),
        "count: 2 ends the series"
    );
}

#[test]
fn an_occurrence_whose_whole_window_passed_is_recorded_as_missed() {
    let mut world = World::self_review(&["alice"]);
    let plan = world.step("2026-12-20");
    assert!(
        changes(&plan).contains(
            &"instance 2026-12-01 was missed: its whole window passed while Recert was not running"
                .to_owned()
        )
    );
    assert!(world.state().instances.is_empty());
}

#[test]
fn deleting_the_manifest_stops_the_running_instance_without_applying_and_archives() {
    let mut world = World::self_review(&["alice"]);
    world.spec.settings.auto_apply = true;
    world.step("2026-12-01");
    world.decide("alice", "alice", Decision::Deny, None);
    world.step("2026-12-02");
    world.deleted = true;
    let plan = world.plan("2026-12-03");
    let review = &plan.reviews[0];
    assert_eq!(
        review.changes,
        [Change::Deleted {
            stopped: Some("2026-12-01".into())
        }]
    );
    assert_eq!(review.effects, [Effect::Archive]);
    let ended = review
        .next
        .as_ref()
        .and_then(|s| s.instances[0].ended.clone())
        .expect("stopped");
    assert_eq!(ended.reason, EndReason::Deleted);
}

#[test]
fn a_manifest_that_fails_to_load_keeps_its_review_on_the_last_good_spec() {
    let mut world = World::self_review(&["alice"]);
    world.step("2026-12-01");
    world.failed = true;
    let plan = world.step("2026-12-16");
    let review = &plan.reviews[0];
    assert!(
        review
            .stale_spec
            .as_deref()
            .is_some_and(|s| s.contains("reviews/ga.yaml failed to load"))
    );
    assert!(!review.changes.contains(&Change::Deleted { stopped: None }));
    assert!(
        world.instance().ended.is_some(),
        "the review goes on: its instance completes on schedule"
    );
}

#[test]
fn after_a_plan_is_carried_out_the_next_reconcile_has_nothing_to_do() {
    let mut world = World::self_review(&["alice", "bob"]);
    world.spec.settings.auto_apply = true;
    world.spec.settings.reminders.enabled = true;
    for now in ["2026-12-01", "2026-12-04", "2026-12-10", "2026-12-16"] {
        if now == "2026-12-10" {
            world.decide("bob", "bob", Decision::Deny, None);
        }
        world.step(now);
        assert!(world.plan(now).is_empty(), "at {now}: {}", world.plan(now));
    }
}

#[test]
fn a_decision_first_seen_after_the_end_is_rejected_however_often_recert_ran() {
    for reconcile_in_between in [false, true] {
        let mut world = World::self_review(&["alice"]);
        world.spec.schedule.start = ts("2026-12-28");
        world.step("2026-12-28T01:00:00Z");
        assert_eq!(world.instance().end, ts("2027-01-11"));
        if reconcile_in_between {
            world.step("2027-01-11T06:00:00Z");
        }
        world.decide("alice", "alice", Decision::Approve, Some("still needed"));
        let plan = world.step("2027-01-12");
        assert_eq!(
            world.decision("alice"),
            None,
            "reconcile in between: {reconcile_in_between}"
        );
        let entry = &world.instance().entries["alice alice"];
        assert!(
            matches!(&entry.status, EntryStatus::Rejected { reason } if reason.contains("ended")),
            "reconcile in between: {reconcile_in_between}: {:?} {:?}",
            entry.status,
            changes(&plan)
        );
    }
}

#[test]
fn a_user_principal_name_equal_to_another_users_id_never_stands_in_for_them() {
    // Sue's id is `u-sue`; Mallory's user principal name is `u-sue` too.
    let mut world = World::self_review(&["u-sue", "mallory"]);
    world.people[1].user_principal_name = "u-sue".into();
    world.spec.guards.protected_principals = vec!["u-sue".into()];
    world.spec.settings.auto_apply = true;
    world.step("2026-12-01");
    world.decide("u-sue", "u-sue", Decision::Approve, None);
    world.decide("mallory", "mallory", Decision::Deny, None);
    world.step("2026-12-02");
    assert_eq!(world.decision("u-sue"), Some(Decision::Approve));
    assert_eq!(world.decision("mallory"), Some(Decision::Deny));
    world.step("2026-12-16");
    // Sue is protected by her id; Mallory is not protected by spelling it.
    assert_eq!(
        world.removed,
        [Removal::assignment("a-mallory", AssignmentType::Active)]
    );
}

#[test]
fn in_a_self_review_a_fallback_reviewer_decides_for_a_protected_account_and_nobody_else() {
    let mut world = World::self_review(&["alice", "breakglass", "carol"]);
    world.spec.fallback_reviewers = vec!["carol@corp.example".into()];
    world.spec.guards.protected_principals = vec!["breakglass@corp.example".into()];
    world.step("2026-12-01");
    world.decide(
        "carol@corp.example",
        "breakglass@corp.example",
        Decision::Approve,
        Some("emergency access"),
    );
    world.decide("carol@corp.example", "alice", Decision::Deny, None);
    world.step("2026-12-02");
    assert_eq!(world.decision("breakglass"), Some(Decision::Approve));
    assert_eq!(world.decision("alice"), None);
}

#[test]
fn one_reviewer_deciding_one_principal_differently_in_several_files_decides_nothing() {
    let mut spec = base_spec();
    spec.reviewers = Reviewers {
        kind: ReviewerType::Users,
        users: vec!["rev@corp.example".into()],
    };
    let mut world = World::new(spec, vec![user("alice"), user("rev")]);
    world.people[1].user_principal_name = "rev@corp.example".into();
    world.step("2026-12-01");
    // The same reviewer, spelt three ways, in three files.
    world.decide("rev@corp.example", "alice", Decision::Approve, None);
    world.decide("REV@CORP.EXAMPLE", "alice", Decision::Deny, None);
    world.decide("rev", "alice", Decision::Approve, None);
    let plan = world.step("2026-12-02");
    assert_eq!(world.decision("alice"), None, "{:?}", changes(&plan));
    let entry = &world.instance().entries["rev alice"];
    assert!(
        matches!(&entry.status, EntryStatus::Rejected { reason } if reason.starts_with("conflicting decisions")),
        "{:?}",
        entry.status
    );
    assert_eq!(
        entry.source,
        "decisions/REV@CORP.EXAMPLE.yaml, decisions/rev.yaml, decisions/rev@corp.example.yaml"
    );
    // Nothing changes while the files stay as they are.
    assert!(world.step("2026-12-03").is_empty());
    // Once the files agree, the decision counts.
    world.decide("REV@CORP.EXAMPLE", "alice", Decision::Approve, None);
    world.step("2026-12-04");
    assert_eq!(world.decision("alice"), Some(Decision::Approve));
}

#[test]
fn an_entry_naming_its_instance_or_the_reset_it_follows_counts_when_reaffirmed() {
    let mut world = World::self_review(&["alice"]);
    world.spec.schedule.recurrence = Recurrence::Monthly;
    world.step("2026-12-01");
    world.decide("alice", "alice", Decision::Approve, Some("on call"));
    world.step("2026-12-02");
    assert_eq!(world.decision("alice"), Some(Decision::Approve));
    // A reset clears it; the same entry, now naming the reset, counts again.
    world.spec.requests.reset = Some("r1".into());
    world.step("2026-12-03");
    assert_eq!(world.decision("alice"), None);
    world.files.get_mut("alice").expect("file").decisions[0].after_reset = Some("r1".into());
    world.step("2026-12-04");
    assert_eq!(world.decision("alice"), Some(Decision::Approve));
    // The next instance: the old entry does not carry over; naming the instance does count.
    world.step("2027-01-01");
    assert_eq!(world.instance().id, "2027-01-01");
    assert_eq!(world.decision("alice"), None);
    world.files.get_mut("alice").expect("file").decisions[0].instance = Some("2027-01-01".into());
    world.step("2027-01-02");
    assert_eq!(world.decision("alice"), Some(Decision::Approve));
    // Decided ahead for the instance after: nothing is rejected, and it counts once it starts.
    world.files.get_mut("alice").expect("file").decisions[0].instance = Some("2027-02-01".into());
    let plan = world.step("2027-01-20");
    assert!(
        !changes(&plan).iter().any(|c| c.starts_with("reject")),
        "{:?}",
        changes(&plan)
    );
    world.step("2027-02-01T00:00:01Z");
    assert_eq!(world.instance().id, "2027-02-01");
    assert_eq!(world.decision("alice"), Some(Decision::Approve));
}

/// The engine's notices of one plan, as (event, sequence, reviewers, owners).
fn notices(plan: &Plan) -> Vec<(NotificationEvent, u32, Vec<String>, Vec<String>)> {
    plan.reviews
        .iter()
        .flat_map(|r| &r.effects)
        .filter_map(|e| match e {
            Effect::Notify {
                event,
                sequence,
                reviewers,
                owners,
                ..
            } => Some((*event, *sequence, reviewers.clone(), owners.clone())),
            _ => None,
        })
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn who_is_told_of_each_event() {
    struct Case {
        name: &'static str,
        steps: fn(&mut World) -> Plan,
        want: Vec<(NotificationEvent, u32, Vec<String>, Vec<String>)>,
    }
    let cases = [
        Case {
            name: "a start tells every reviewer with items, and not the owners",
            steps: |w| w.step("2026-12-01"),
            want: vec![(
                NotificationEvent::InstanceStarted,
                0,
                strings(&["alice", "bob", "carol"]),
                vec![],
            )],
        },
        Case {
            name: "a reminder tells only the reviewers still undecided, numbered",
            steps: |w| {
                w.step("2026-12-01");
                w.decide("alice", "alice", Decision::Approve, None);
                w.step("2026-12-02");
                w.spec.requests.remind = Some("one".into());
                w.step("2026-12-03");
                w.decide("bob", "bob", Decision::Approve, None);
                w.spec.requests.remind = Some("two".into());
                w.step("2026-12-04")
            },
            want: vec![(NotificationEvent::Reminder, 2, strings(&["carol"]), vec![])],
        },
        Case {
            name: "the end tells the owners, resolved to ids",
            steps: |w| {
                w.step("2026-12-01");
                w.step("2026-12-15")
            },
            want: vec![(
                NotificationEvent::InstanceEnded,
                0,
                vec![],
                strings(&["bob"]),
            )],
        },
        Case {
            name: "a stop tells the owners too",
            steps: |w| {
                w.step("2026-12-01");
                w.spec.requests.stop = Some("halt".into());
                w.step("2026-12-02")
            },
            want: vec![(
                NotificationEvent::InstanceEnded,
                0,
                vec![],
                strings(&["bob"]),
            )],
        },
        Case {
            name: "an apply with nothing to remove tells the owners at once",
            steps: |w| {
                w.step("2026-12-01");
                w.decide("alice", "alice", Decision::Approve, None);
                w.step("2026-12-15");
                w.spec.requests.apply = Some("go".into());
                w.step("2026-12-16")
            },
            want: vec![(NotificationEvent::Applied, 1, vec![], strings(&["bob"]))],
        },
    ];
    for case in cases {
        let mut spec = base_spec();
        spec.owners = vec!["bob@corp.example".into()];
        let mut world = World::new(
            spec,
            ["alice", "bob", "carol"]
                .iter()
                .map(|id| user(id))
                .collect(),
        );
        let plan = (case.steps)(&mut world);
        assert_eq!(notices(&plan), case.want, "{}", case.name);
    }
}

#[test]
fn an_empty_instance_tells_nobody() {
    let mut world = World::self_review(&[]);
    let plan = world.step("2026-12-01");
    assert!(notices(&plan).is_empty(), "{plan}");
}

#[test]
fn an_apply_with_removals_tells_the_owners_once_its_outcomes_are_recorded() {
    let mut spec = base_spec();
    spec.owners = vec!["alice".into()];
    let mut world = World::new(spec, ["alice", "bob"].iter().map(|id| user(id)).collect());
    world.step("2026-12-01");
    world.decide("bob", "bob", Decision::Deny, None);
    world.step("2026-12-02");
    world.step("2026-12-15");
    world.spec.requests.apply = Some("go".into());
    let plan = world.plan("2026-12-16");
    // The removal is owed: nobody is told before the directory answered.
    assert!(
        notices(&plan)
            .iter()
            .all(|n| n.0 != NotificationEvent::Applied),
        "{plan}"
    );
    // Once the executor recorded the outcome, the same rule tells the owners, once.
    let mut state = plan.reviews[0].next.clone().expect("a next state");
    super::apply::record_outcome(
        &mut state,
        "2026-12-01",
        "bob",
        &[super::apply::Outcome::Done(
            crate::directory::RemoveOutcome::Removed,
        )],
        ts("2026-12-16"),
    );
    let mut review = ReviewPlan::new("ga");
    super::apply::notify_finished(&mut state, &mut review);
    super::apply::notify_finished(&mut state, &mut review);
    let told: Vec<&Effect> = review.effects.iter().collect();
    assert_eq!(
        told,
        [&Effect::Notify {
            event: NotificationEvent::Applied,
            instance: "2026-12-01".into(),
            sequence: 1,
            reviewers: vec![],
            owners: vec!["alice".into()],
        }]
    );
}

#[test]
fn with_forbidden_self_decisions_a_named_reviewers_own_item_goes_to_the_others() {
    let mut spec = base_spec();
    spec.reviewers.kind = ReviewerType::Users;
    spec.reviewers.users = vec!["alice".into(), "bob".into()];
    spec.settings.forbid_self_decisions = true;
    let mut world = World::new(spec, ["alice", "bob"].iter().map(|id| user(id)).collect());
    world.step("2026-12-01");
    world.decide("alice", "alice", Decision::Approve, None);
    world.step("2026-12-02");
    let state = &world.recorded["ga"];
    let instance = &state.instances[0];
    assert_eq!(
        instance.items["alice"].decision, None,
        "her own approval does not count"
    );
    let entry = &instance.entries[&crate::state::Instance::entry_key("alice", "alice")];
    assert!(
        matches!(&entry.status, EntryStatus::Rejected { reason } if reason.contains("forbidSelfDecisions")),
        "{:?}",
        entry.status
    );
    world.decide("bob", "alice", Decision::Approve, None);
    world.step("2026-12-03");
    let decided = world.recorded["ga"].instances[0].items["alice"]
        .decision
        .clone();
    assert_eq!(decided.map(|d| d.reviewer), Some("bob".to_owned()));
}

fn manager_world(levels: Vec<Escalation>) -> World {
    let mut spec = base_spec();
    spec.reviewers.kind = ReviewerType::Manager;
    spec.fallback_reviewers = vec!["fiona".into()];
    spec.settings.escalations = levels;
    let mut alice = user("alice");
    alice.manager = Some("mia".into());
    let mut bob = user("bob");
    bob.manager = Some("mia".into());
    let mut mia = user("mia");
    mia.manager = Some("max".into());
    World::new(spec, vec![alice, bob, mia])
}

fn level(to: EscalateTo, after_days: Option<u32>, days_before_end: Option<u32>) -> Escalation {
    Escalation {
        name: None,
        after_days,
        days_before_end,
        to,
        users: vec![],
    }
}

#[test]
fn escalation_levels_fall_due_once_each_and_give_undecided_items_to_their_reviewers() {
    let mut users = level(EscalateTo::Users, None, Some(2));
    users.users = vec!["uma".into()];
    users.name = Some("last call".into());
    let mut world = manager_world(vec![level(EscalateTo::Manager, Some(5), None), users]);
    world.step("2026-12-01");
    world.decide("mia", "alice", Decision::Approve, None);
    // Before the first level: nothing, and the daemon is told when to come back.
    let plan = world.step("2026-12-05");
    assert!(notices(&plan).is_empty(), "{plan}");
    assert_eq!(plan.reviews[0].requeue_at, Some(ts("2026-12-06")));
    // Day 5: Bob's item, undecided by Mia, goes to Mia's manager, Max. Alice's is decided.
    let plan = world.step("2026-12-06");
    assert_eq!(
        notices(&plan),
        vec![(NotificationEvent::Escalated, 1, strings(&["max"]), vec![])]
    );
    let instance = &world.recorded["ga"].instances[0];
    assert_eq!(
        instance.escalations[0].items.keys().collect::<Vec<_>>(),
        ["bob"]
    );
    // Mia reviews herself? No: her manager Max is her reviewer, and Max's manager is unknown.
    assert!(!instance.escalations[0].items.contains_key("mia"));
    // Max may now decide Bob's item.
    world.decide("max", "bob", Decision::Deny, Some("left"));
    world.step("2026-12-07");
    let bob = &world.recorded["ga"].instances[0].items["bob"];
    assert_eq!(
        bob.decision.as_ref().map(|d| d.reviewer.as_str()),
        Some("max")
    );
    // Two days before the end (the 13th): what is still undecided goes to Uma, once.
    let plan = world.step("2026-12-13");
    assert_eq!(
        notices(&plan),
        vec![(NotificationEvent::Escalated, 2, strings(&["uma"]), vec![])]
    );
    let last = &world.recorded["ga"].instances[0].escalations[1];
    assert_eq!(last.name, "last call");
    assert_eq!(last.items.keys().collect::<Vec<_>>(), ["mia"]);
    assert!(notices(&world.step("2026-12-14")).is_empty());
}

#[test]
fn an_escalation_missed_while_recert_was_down_happens_once_at_its_time_and_never_after_the_end() {
    let mut world = manager_world(vec![level(EscalateTo::Fallback, Some(3), None)]);
    world.step("2026-12-01");
    world.step("2026-12-10");
    let instance = &world.recorded["ga"].instances[0];
    assert_eq!(instance.escalations.len(), 1);
    assert_eq!(instance.escalations[0].at, ts("2026-12-04"));
    assert!(
        instance.escalations[0]
            .items
            .values()
            .all(|r| r == &["fiona".to_owned()])
    );
    // A level that would fall after the end never happens.
    let mut late = manager_world(vec![level(EscalateTo::Fallback, Some(20), None)]);
    late.step("2026-12-01");
    late.step("2026-12-30");
    assert!(late.recorded["ga"].instances[0].escalations.is_empty());
}

#[test]
fn a_decision_by_an_escalation_reviewer_before_the_level_is_rejected() {
    let mut users = level(EscalateTo::Users, Some(5), None);
    users.users = vec!["uma".into()];
    let mut world = manager_world(vec![users]);
    world.step("2026-12-01");
    world.decide("uma", "bob", Decision::Approve, None);
    world.step("2026-12-02");
    assert_eq!(
        world.recorded["ga"].instances[0].items["bob"].decision,
        None
    );
}

#[test]
fn a_level_to_managers_has_the_reviewing_managers_looked_up_until_it_has_happened() {
    let mut users = level(EscalateTo::Users, None, Some(2));
    users.users = vec!["Uma@corp.example".into()];
    let mut world = manager_world(vec![level(EscalateTo::Manager, Some(5), None), users]);
    world.step("2026-12-01");
    let names = |world: &World, now: &str| {
        needs(&world.desired(), &world.recorded, ts(now))
            .remove("ga")
            .map(|n| n.names.into_iter().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    // Max reviews Mia's item and is no item himself: his manager is known only once he is
    // looked up. Mia is an item, her manager in the snapshot. Uma is named by the last level.
    // (Fiona, the fallback reviewer, is not in this directory, so she is always asked for.)
    assert_eq!(
        names(&world, "2026-12-02"),
        ["fiona", "max", "uma@corp.example"]
    );
    world.step("2026-12-06");
    assert_eq!(world.recorded["ga"].instances[0].escalations.len(), 1);
    assert_eq!(names(&world, "2026-12-07"), ["fiona", "uma@corp.example"]);
}

fn decided_by(world: &World, principal: &str) -> Option<(Decision, String, Timestamp, String)> {
    let d = world.instance().items[principal].decision.as_ref()?;
    Some((
        d.decision,
        d.reviewer.clone(),
        d.at,
        d.source.clone().unwrap_or_default(),
    ))
}

fn users_review(reviewers: &[&str], people: &[&str]) -> World {
    let mut spec = base_spec();
    spec.reviewers = Reviewers {
        kind: ReviewerType::Users,
        users: reviewers.iter().map(|r| (*r).to_owned()).collect(),
    };
    World::new(spec, people.iter().map(|p| user(p)).collect())
}

#[test]
fn a_page_decision_counts_at_the_time_the_page_recorded_it_and_the_last_recorded_wins() {
    let mut world = users_review(&["carol"], &["alice", "carol"]);
    world.step("2026-12-01");
    world.page_decides(
        "carol",
        "alice",
        Decision::Approve,
        None,
        "2026-12-02T10:00:00Z",
    );
    world.step("2026-12-02T11:00:00Z");
    assert_eq!(
        decided_by(&world, "alice"),
        Some((
            Decision::Approve,
            "carol".into(),
            ts("2026-12-02T10:00:00Z"),
            "web sign-in sub-carol (https://idp.example)".into()
        ))
    );
    assert!(
        world.step("2026-12-02T12:00:00Z").is_empty(),
        "read again, it changes nothing"
    );
    // Her decisions file says otherwise, later: the file's entry is the last recorded.
    world.decide("carol", "alice", Decision::Deny, Some("left the team"));
    world.step("2026-12-03");
    assert_eq!(
        decided_by(&world, "alice").map(|d| (d.0, d.3)),
        Some((Decision::Deny, "decisions/carol.yaml".into()))
    );
    // And the page again, later still.
    world.page_decides(
        "carol",
        "alice",
        Decision::DontKnow,
        Some("asking"),
        "2026-12-04T09:00:00Z",
    );
    world.step("2026-12-04T10:00:00Z");
    assert_eq!(
        decided_by(&world, "alice").map(|d| d.0),
        Some(Decision::DontKnow)
    );
    // The same decision made again on the page is a new record: it is the last one.
    world.page_decides(
        "carol",
        "alice",
        Decision::DontKnow,
        Some("asking"),
        "2026-12-05T09:00:00Z",
    );
    world.step("2026-12-05T10:00:00Z");
    assert_eq!(
        decided_by(&world, "alice").map(|d| d.2),
        Some(ts("2026-12-05T09:00:00Z"))
    );
}

#[test]
fn a_page_decision_is_judged_by_the_rules_of_an_entry_from_a_file() {
    let mut world = users_review(&["carol"], &["alice", "carol", "dave"]);
    world.spec.settings.require_justification = true;
    world.step("2026-12-01");
    world.page_decides(
        "dave",
        "alice",
        Decision::Approve,
        Some("ok"),
        "2026-12-02T10:00:00Z",
    );
    world.page_decides(
        "carol",
        "alice",
        Decision::Approve,
        None,
        "2026-12-02T10:00:00Z",
    );
    let plan = world.step("2026-12-02T11:00:00Z");
    assert_eq!(world.decision("alice"), None);
    let rejected: Vec<String> = changes(&plan)
        .into_iter()
        .filter(|c| c.contains("does not count"))
        .collect();
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert!(
        rejected.iter().any(|c| c.contains("`dave` may not decide")),
        "{rejected:?}"
    );
    assert!(
        rejected.iter().any(|c| c.contains("requires a reason")),
        "{rejected:?}"
    );
}

#[test]
fn a_page_decision_made_before_the_end_counts_though_first_read_after_it() {
    let mut world = users_review(&["carol"], &["alice", "bob", "carol"]);
    world.step("2026-12-01");
    // The instance ends on 2026-12-15; the page recorded this a minute before, and the next
    // pass runs a day late.
    world.page_decides(
        "carol",
        "alice",
        Decision::Deny,
        Some("left"),
        "2026-12-14T23:59:00Z",
    );
    world.decide("carol", "bob", Decision::Deny, Some("left"));
    world.step("2026-12-16");
    assert!(world.instance().ended.is_some());
    assert_eq!(
        decided_by(&world, "alice").map(|d| (d.0, d.1)),
        Some((Decision::Deny, "carol".into()))
    );
    // A file entry first seen after the end does not count.
    assert_ne!(world.decision("bob"), Some(Decision::Deny));
    // A page decision recorded after the end does not either.
    world.page_decides(
        "carol",
        "carol",
        Decision::Deny,
        Some("late"),
        "2026-12-15T00:00:01Z",
    );
    world.step("2026-12-17");
    assert_ne!(world.decision("carol"), Some(Decision::Deny));
}

#[test]
fn a_page_decision_made_before_a_reset_is_cleared_however_late_it_is_read() {
    let mut world = users_review(&["carol"], &["alice", "carol"]);
    world.step("2026-12-01");
    world.spec.requests.reset = Some("r1".into());
    world.step("2026-12-03");
    world.page_decides(
        "carol",
        "alice",
        Decision::Approve,
        None,
        "2026-12-02T12:00:00Z",
    );
    world.step("2026-12-04");
    assert_eq!(world.decision("alice"), None, "made before the reset");
    world.page_decides(
        "carol",
        "alice",
        Decision::Approve,
        None,
        "2026-12-04T12:00:00Z",
    );
    world.step("2026-12-05");
    assert_eq!(
        world.decision("alice"),
        Some(Decision::Approve),
        "made after it"
    );
}

#[test]
fn a_page_decision_never_counts_for_a_later_instance() {
    let mut world = users_review(&["carol"], &["alice", "carol"]);
    world.spec.schedule.recurrence = Recurrence::Monthly;
    world.step("2026-12-01");
    world.page_decides(
        "carol",
        "alice",
        Decision::Approve,
        None,
        "2026-12-02T10:00:00Z",
    );
    world.step("2026-12-03");
    assert_eq!(world.decision("alice"), Some(Decision::Approve));
    world.step("2027-01-01");
    assert_eq!(world.instance().id, "2027-01-01");
    assert_eq!(world.decision("alice"), None);
    assert_eq!(
        world.state().instances[0].items["alice"]
            .decision
            .as_ref()
            .map(|d| d.decision),
        Some(Decision::Approve),
        "the first instance keeps it"
    );
}

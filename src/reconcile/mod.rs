//! The review engine: `reconcile(desired, observed, recorded, now) -> Plan`.
//!
//! Every rule of an access review's life lives here, as a pure function — no I/O, no clock, no
//! async — so each rule is tested with plain values. The caller loads the manifests (desired),
//! reads the directory (observed: only what [`needs`] asks for), reads the state directory
//! (recorded) and passes the time; `execute` carries the returned [`Plan`] out.
//!
//! One reconcile handles, in this order, for each review: deletion or a manifest that fails to
//! load; the instance due by the schedule; the end of an instance whose end date has passed
//! (with the default decision); `stop`; `reset`; the decisions in the files; reminders;
//! `apply` and its guards.

pub mod apply;
pub mod authority;
pub mod decisions;
pub mod escalate;
pub mod filters;
pub mod plan;
pub mod schedule;
pub mod stages;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rayon::prelude::*;

use crate::directory::{ObservedScope, Principal};
use crate::model::decisions::{Decision, ReviewDecisionsSpec};
use crate::model::review::{
    AccessReviewSpec, DefaultDecision, NotificationEvent, ReviewerType, Timestamp,
};

use crate::population::Population;
use crate::state::{
    DecisionState, EndReason, Ended, Instance, ItemState, Recommendation, ReviewState,
};
use authority::Names as _;

pub use plan::{Change, Effect, Plan, ReviewPlan};

/// The reviewer id recorded for decisions the system makes (the default decision).
pub const SYSTEM_REVIEWER: &str = "recert";

/// What the manifests ask for.
#[derive(Debug, Clone, Default)]
pub struct Desired {
    pub reviews: BTreeMap<String, DesiredReview>,
    /// Manifest files that failed to load this time: a review recorded from one of them keeps
    /// its last good spec instead of being deleted.
    pub failed_sources: BTreeSet<String>,
    /// Reviews gone from the manifests whose deletion is not confirmed yet (the daemon confirms
    /// it on a later load): they keep their last good spec meanwhile.
    pub unconfirmed_deletions: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DesiredReview {
    pub spec: AccessReviewSpec,
    pub source: String,
    pub decisions: Vec<DecisionFile>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DecisionFile {
    pub source: String,
    pub spec: ReviewDecisionsSpec,
    /// For a decision made on the reviewer page ([`crate::decision_log`]): when the page
    /// recorded it. An entry from a file is recorded when a pass first sees it.
    pub recorded_at: Option<Timestamp>,
}

/// What was read from the directories, per review.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub reviews: BTreeMap<String, ObservedReview>,
}

#[derive(Debug, Clone, Default)]
pub struct ObservedReview {
    /// The scope, read when [`needs`] asked for it (an instance is due to start).
    pub scope: Option<ObservedScope>,
    /// The type of the review's directory (`graph`, `scim`, `file`), for the population record.
    pub directory_type: Option<String>,
    /// Names (ids, or lower-cased user principal names) resolved to ids.
    pub people: BTreeMap<String, String>,
    /// The managers of the users looked up, by user id.
    pub managers: BTreeMap<String, String>,
}

/// What a review needs read from its directory before it can be reconciled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    pub scope: bool,
    /// Reviewer and principal names not resolved yet.
    pub names: BTreeSet<String>,
}

/// What each review needs from its directory for the next reconcile at `now`. Steady state
/// needs nothing: the directory is read when an instance starts, and names are resolved once.
pub fn needs(
    desired: &Desired,
    recorded: &BTreeMap<String, ReviewState>,
    now: Timestamp,
) -> BTreeMap<String, Needs> {
    let mut out = BTreeMap::new();
    for (name, review) in &desired.reviews {
        let state = recorded.get(name);
        let mut need = Needs {
            scope: instance_due(&review.spec, state, now).is_some(),
            names: BTreeSet::new(),
        };
        let known = |n: &str| state.is_some_and(|s| s.known.contains_key(&normalize(n)));
        let mut want = |n: &str| {
            if !known(n) {
                need.names.insert(normalize(n));
            }
        };
        review.spec.reviewers.users.iter().for_each(|n| want(n));
        review.spec.fallback_reviewers.iter().for_each(|n| want(n));
        for stage in &review.spec.stages {
            stage.reviewers.users.iter().for_each(|n| want(n));
            stage.fallback_reviewers.iter().for_each(|n| want(n));
        }
        review.spec.owners.iter().for_each(|n| want(n));
        review
            .spec
            .guards
            .protected_principals
            .iter()
            .for_each(|n| want(n));
        // A level's users, so that the status and the messages name them by id as it names
        // everyone else.
        review
            .spec
            .settings
            .escalations
            .iter()
            .flat_map(|e| &e.users)
            .for_each(|n| want(n));
        if let Some(state) = state {
            escalate::managers_to_look_up(&review.spec, state)
                .into_iter()
                .for_each(&mut want);
        }
        for file in &review.decisions {
            want(&file.spec.reviewer);
            file.spec
                .decisions
                .iter()
                .flat_map(|d| d.principals())
                .for_each(&mut want);
        }
        if need.scope || !need.names.is_empty() {
            out.insert(name.clone(), need);
        }
    }
    out
}

/// Names are matched without case (user principal names are case-insensitive).
pub fn normalize(name: &str) -> String {
    name.to_lowercase()
}

/// Computes what to do now. The observation is taken by value: a new instance's snapshot
/// moves the observed items instead of copying them (1,000 reviews of 100 items each).
pub fn reconcile(
    desired: &Desired,
    mut observed: Observed,
    recorded: &BTreeMap<String, ReviewState>,
    now: Timestamp,
) -> Plan {
    let names: BTreeSet<&String> = desired.reviews.keys().chain(recorded.keys()).collect();
    let work: Vec<(&String, ObservedReview)> = names
        .into_iter()
        .map(|name| (name, observed.reviews.remove(name).unwrap_or_default()))
        .collect();
    // Reviews are independent of each other: each is reconciled on any core.
    let reviews = work
        .into_par_iter()
        .map(|(name, observed)| reconcile_review(name, desired, observed, recorded.get(name), now))
        .collect();
    Plan { reviews }
}

/// The occurrence that should be running at `now` but has no instance yet.
fn instance_due(
    spec: &AccessReviewSpec,
    state: Option<&ReviewState>,
    now: Timestamp,
) -> Option<schedule::Occurrence> {
    let occurrence = schedule::latest_started(&spec.instance_schedule(), now)?;
    let id = occurrence.id();
    let recorded =
        state.is_some_and(|s| s.instances.iter().any(|i| i.id == id) || s.missed.contains(&id));
    (!recorded && now < occurrence.end).then_some(occurrence)
}

fn reconcile_review(
    name: &str,
    desired: &Desired,
    observed: ObservedReview,
    recorded: Option<&ReviewState>,
    now: Timestamp,
) -> ReviewPlan {
    let mut plan = ReviewPlan::new(name);
    let mut state = match (desired.reviews.get(name), recorded) {
        (Some(review), Some(recorded)) => {
            let mut state = recorded.clone();
            if state.spec != review.spec {
                plan.changes.push(Change::SpecUpdated);
                state.spec = review.spec.clone();
            }
            state.source.clone_from(&review.source);
            state
        }
        (Some(review), None) => {
            plan.changes.push(Change::Adopted);
            ReviewState {
                name: name.to_owned(),
                source: review.source.clone(),
                spec: review.spec.clone(),
                handled: Default::default(),
                instances: Vec::new(),
                missed: Vec::new(),
                known: BTreeMap::new(),
                managers: BTreeMap::new(),
                outbox: Default::default(),
            }
        }
        (None, Some(recorded)) if desired.failed_sources.contains(&recorded.source) => {
            plan.stale_spec = Some(format!(
                "{} failed to load; the review runs on its last good spec",
                recorded.source
            ));
            recorded.clone()
        }
        (None, Some(recorded)) if desired.unconfirmed_deletions.contains(name) => {
            plan.stale_spec = Some(format!(
                "the review is gone from {}; it is deleted if a second look, a moment later, \
                 confirms it, and runs on its last good spec until then",
                recorded.source
            ));
            recorded.clone()
        }
        (None, Some(recorded)) => {
            let mut state = recorded.clone();
            let stopped = match state.instances.last_mut() {
                Some(instance) if instance.ended.is_none() => {
                    stages::end_stage(instance, now, false, &mut plan);
                    instance.ended = Some(Ended {
                        at: now,
                        reason: EndReason::Deleted,
                    });
                    Some(instance.id.clone())
                }
                _ => None,
            };
            plan.changes.push(Change::Deleted { stopped });
            plan.effects.push(Effect::Archive);
            plan.next = Some(state);
            plan.deleted = true;
            plan.state_changed = true;
            return plan;
        }
        (None, None) => {
            plan.deleted = true;
            return plan;
        }
    };
    for (name, id) in &observed.people {
        state
            .known
            .entry(name.clone())
            .or_insert_with(|| id.clone());
    }
    for (user, manager) in &observed.managers {
        state.managers.insert(user.clone(), manager.clone());
    }
    let decision_files = desired
        .reviews
        .get(name)
        .map_or(&[][..], |r| r.decisions.as_slice());

    // The schedule's edges are settled in time order before anything seen at `now` is
    // recorded: an instance whose end has passed ends at its end, so a decision (or a stop or
    // reset) first seen afterwards does not count, however long ago Recert last ran.
    start_instance(&mut state, observed, now, &mut plan);
    // A decision the reviewer page recorded before the stage or instance in progress ended
    // counts for it, even when this is the first pass to read it.
    if let Some(end) = state
        .in_progress()
        .map(|i| i.window().1)
        .filter(|end| *end <= now)
    {
        decisions::record(&mut state, decision_files, end, Some(end), &mut plan);
    }
    complete(&mut state, now, &mut plan);
    stop(&mut state, now, &mut plan);
    reset(&mut state, now, &mut plan);
    decisions::record(&mut state, decision_files, now, None, &mut plan);
    remind(&mut state, now, &mut plan);
    escalate::escalate(&mut state, now, &mut plan);
    apply::apply(&mut state, now, &mut plan);

    plan.requeue_at = requeue_at(&state, now);
    plan.state_changed = recorded != Some(&state);
    plan.next = Some(state);
    plan
}

fn start_instance(
    state: &mut ReviewState,
    observed: ObservedReview,
    now: Timestamp,
    plan: &mut ReviewPlan,
) {
    // A running instance must end (at its end date, or by stop) before the next one starts.
    if state.in_progress().is_some_and(|i| now < i.end) {
        return;
    }
    let Some(occurrence) = schedule::latest_started(&state.spec.instance_schedule(), now) else {
        return;
    };
    let id = occurrence.id();
    if state.instances.iter().any(|i| i.id == id) || state.missed.contains(&id) {
        return;
    }
    if now >= occurrence.end {
        plan.changes.push(Change::InstanceMissed {
            instance: id.clone(),
        });
        state.missed.push(id);
        return;
    }
    // The previous instance, if still open, completes first (its end date has passed).
    complete(state, now, plan);
    let Some(scope) = observed.scope else {
        plan.stalled = Some(format!(
            "instance {id} is due but the directory has not been read"
        ));
        return;
    };
    let spec = &state.spec;
    let read = scope.items.len();
    // Sign-in is judged at the instance's start, as Graph's `inactiveDuration` is, even when
    // Recert snapshots it later.
    let filtered = match filters::apply(
        &spec.scope,
        scope.member_of.as_ref(),
        occurrence.start,
        scope.items,
    ) {
        Ok(filtered) => filtered,
        Err(e) => {
            plan.stalled = Some(format!("instance {id} is due but {e}"));
            return;
        }
    };
    let items: BTreeMap<String, ItemState> = filtered
        .kept
        .into_iter()
        .map(|(id, item)| {
            let recommendation = recommend(spec, &item.principal, now);
            let state = ItemState {
                principal: item.principal,
                access: item.access,
                recommendation,
                decision: None,
                apply_result: None,
                remediation: None,
                stages: Vec::new(),
            };
            (id, state)
        })
        .collect();
    let target = match scope.target_kind {
        crate::directory::observe::TargetKind::Role => format!("role {}", scope.target_name),
        crate::directory::observe::TargetKind::Group => format!("group {}", scope.target_name),
    };
    let role = scope.target_kind == crate::directory::observe::TargetKind::Role;
    let population = Population {
        read_at: now,
        directory: crate::population::Source {
            name: spec.directory.clone(),
            kind: observed.directory_type,
        },
        query: crate::population::Query {
            target: scope.target_kind,
            target_id: scope.target_id,
            target_name: scope.target_name,
            assignments: role.then_some(spec.scope.assignments),
            resource_scope: spec.scope.resource_scope.clone().filter(|_| role),
            expand_groups: role.then_some(spec.scope.expand_groups),
            filters: filtered.filters,
        },
        read,
        kept: items.len(),
        digest: crate::population::digest(&items),
    };
    let stage_plan = stages::plan(spec, occurrence.start, &items_ids(&items));
    let instance = Instance {
        id: id.clone(),
        start: occurrence.start,
        end: occurrence.end,
        ended: None,
        target,
        items,
        entries: BTreeMap::new(),
        resets: Vec::new(),
        reminders: Vec::new(),
        escalations: Vec::new(),
        apply: None,
        population: Some(population.clone()),
        stage: 0,
        stages: stage_plan,
    };
    plan.changes.push(Change::InstanceStarted {
        instance: id.clone(),
        items: instance.items.len(),
        population: Some(Box::new(population)),
    });
    let reviewers = pending_reviewers(state, &instance);
    state.instances.push(instance);
    if !reviewers.is_empty() {
        plan.effects.push(Effect::Notify {
            event: NotificationEvent::InstanceStarted,
            instance: id,
            sequence: 0,
            reviewers,
            owners: Vec::new(),
        });
    }
}

fn items_ids(items: &BTreeMap<String, ItemState>) -> Vec<&String> {
    items.keys().collect()
}

/// The recommendation for an item, from sign-in activity at `now`.
pub fn recommend(spec: &AccessReviewSpec, principal: &Principal, now: Timestamp) -> Recommendation {
    let settings = &spec.settings.recommendations;
    if !settings.enabled {
        return Recommendation {
            decision: None,
            reason: "recommendations are off".to_owned(),
        };
    }
    let user = match principal {
        Principal::User(user) => user,
        Principal::ServicePrincipal(sp) if !sp.enabled => {
            return Recommendation {
                decision: Some(Decision::Deny),
                reason: "the service principal is disabled".to_owned(),
            };
        }
        Principal::ServicePrincipal(_) => {
            return Recommendation {
                decision: None,
                reason: "a service principal's sign-in activity is not read".to_owned(),
            };
        }
        Principal::Group(_) => {
            return Recommendation {
                decision: None,
                reason: "a group has no sign-in activity".to_owned(),
            };
        }
    };
    if !user.enabled {
        return Recommendation {
            decision: Some(Decision::Deny),
            reason: "the account is disabled".to_owned(),
        };
    }
    match user.last_sign_in {
        None => Recommendation {
            decision: None,
            reason: "no sign-in activity is known".to_owned(),
        },
        Some(last) => {
            let days = schedule::days_between(last, now);
            if days >= i64::from(settings.inactive_days) {
                Recommendation {
                    decision: Some(Decision::Deny),
                    reason: format!(
                        "no sign-in for {days} days (look-back {} days)",
                        settings.inactive_days
                    ),
                }
            } else {
                Recommendation {
                    decision: Some(Decision::Approve),
                    reason: format!("signed in {days} days ago"),
                }
            }
        }
    }
}

/// The ids allowed to decide on an item, by the review's current spec (so reviewers added
/// while an instance runs take part at once). The rule is [`authority::candidates`].
pub fn allowed_reviewers(state: &ReviewState, item: &ItemState) -> BTreeSet<String> {
    allowed_reviewers_in(&InstanceNames::of(state, state.instances.last()), item)
}

/// [`allowed_reviewers`] with the names of the latest instance already at hand: a loop over
/// every item asks this once an item, and the names answer each from an index built once.
pub fn allowed_reviewers_in(names: &InstanceNames<'_>, item: &ItemState) -> BTreeSet<String> {
    allowed_reviewers_resolving(names, item, &mut HashMap::new())
}

/// [`allowed_reviewers_in`] for many items of one instance: `resolved` keeps each reviewer
/// name's id once looked up, since every item of a review names the same reviewers.
pub fn allowed_reviewers_resolving(
    names: &InstanceNames<'_>,
    item: &ItemState,
    resolved: &mut HashMap<String, String>,
) -> BTreeSet<String> {
    let subject = subject_of(&item.principal);
    authority::candidates(names.spec(), names, item.principal.id(), Some(&subject))
        .unwrap_or_default()
        .iter()
        .map(|n| {
            if let Some(id) = resolved.get(n.as_ref()) {
                return id.clone();
            }
            let id = names.id(n).unwrap_or_else(|| normalize(n));
            resolved.insert(n.to_string(), id.clone());
            id
        })
        .chain(
            names
                .instance()
                .into_iter()
                .flat_map(|i| escalate::escalated_to(i, item.principal.id()).cloned()),
        )
        .collect()
}

/// What the rule of who decides needs to know of a principal.
pub fn subject_of(principal: &Principal) -> authority::Subject<'_> {
    match principal {
        Principal::User(user) => authority::Subject::User {
            id: &user.id,
            manager: user.manager.as_deref(),
        },
        Principal::Group(_) | Principal::ServicePrincipal(_) => {
            authority::Subject::Other { id: principal.id() }
        }
    }
}

/// Names as a review knows them: ids first (an item of the instance, then a name the directory
/// resolved, ids before user principal names), then an item's user principal name. A user whose
/// user principal name equals another principal's id therefore never stands in for them.
#[derive(Debug)]
pub struct InstanceNames<'a> {
    state: &'a ReviewState,
    instance: Option<&'a Instance>,
    /// The review as the instance's stage in progress sees it (its reviewers).
    spec: std::borrow::Cow<'a, AccessReviewSpec>,
    /// The instance's users by user principal name (lower-cased), the first in id order for
    /// each: built on the first look-up that needs it, so that resolving every entry of a
    /// large instance is linear, not a scan of the items per name.
    by_upn: std::cell::OnceCell<HashMap<String, &'a str>>,
}

impl<'a> InstanceNames<'a> {
    pub fn of(state: &'a ReviewState, instance: Option<&'a Instance>) -> InstanceNames<'a> {
        let stage = instance.map_or(0, |i| i.stage);
        InstanceNames {
            state,
            instance,
            spec: state.spec.for_stage(stage),
            by_upn: std::cell::OnceCell::new(),
        }
    }

    /// These names, judging by stage `stage`'s reviewers (0 for the first) instead of the
    /// instance's: what waits in another instance than the one names resolve against.
    pub fn at_stage(mut self, stage: usize) -> InstanceNames<'a> {
        self.spec = self.state.spec.for_stage(stage);
        self
    }

    /// The review as the instance's stage in progress sees it: that stage's reviewers and
    /// fallback reviewers (the review itself without stages).
    pub fn spec(&self) -> &AccessReviewSpec {
        &self.spec
    }

    /// The instance these names resolve against.
    pub fn instance(&self) -> Option<&'a Instance> {
        self.instance
    }

    /// The review these names belong to.
    pub fn state(&self) -> &'a ReviewState {
        self.state
    }

    fn by_upn(&self) -> &HashMap<String, &'a str> {
        self.by_upn.get_or_init(|| {
            let mut index = HashMap::new();
            for (id, item) in self.instance.iter().flat_map(|i| &i.items) {
                if let Principal::User(u) = &item.principal {
                    index
                        .entry(normalize(&u.user_principal_name))
                        .or_insert(id.as_str());
                }
            }
            index
        })
    }
}

impl authority::Names for InstanceNames<'_> {
    fn id(&self, name: &str) -> Option<String> {
        if let Some(instance) = self.instance
            && instance.items.contains_key(name)
        {
            return Some(name.to_owned());
        }
        let lower = normalize(name);
        if let Some(id) = self.state.known.get(&lower) {
            return Some(id.clone());
        }
        self.by_upn().get(&lower).map(|id| (*id).to_owned())
    }
}

/// Reviewers who still have undecided items in an instance (in its stage in progress).
fn pending_reviewers(state: &ReviewState, instance: &Instance) -> Vec<String> {
    let mut undecided = instance
        .items
        .iter()
        .filter(|(id, i)| instance.pending(id, i))
        .map(|(_, i)| i);
    // A new instance is not recorded yet: its stage, not the last instance's, says who decides.
    let names = InstanceNames::of(state, state.instances.last()).at_stage(instance.stage);
    // Named reviewers review every item alike: one undecided item is enough to know.
    if names.spec().reviewers.kind == ReviewerType::Users {
        return undecided
            .next()
            .map(|item| allowed_reviewers_in(&names, item).into_iter().collect())
            .unwrap_or_default();
    }
    let mut out: BTreeSet<String> = BTreeSet::new();
    let mut resolved = HashMap::new();
    for item in undecided {
        out.extend(allowed_reviewers_resolving(&names, item, &mut resolved));
    }
    out.into_iter().collect()
}

/// A new token for a request: `Some(token)` once, then `None` after it is handled.
fn new_token(requested: Option<&String>, handled: &mut Option<String>) -> Option<String> {
    let token = requested?;
    if handled.as_ref() == Some(token) {
        return None;
    }
    *handled = Some(token.clone());
    Some(token.clone())
}

fn stop(state: &mut ReviewState, now: Timestamp, plan: &mut ReviewPlan) {
    let requested = state.spec.requests.stop.clone();
    let Some(token) = new_token(requested.as_ref(), &mut state.handled.stop) else {
        return;
    };
    let owners = owner_ids(state);
    match state.instances.last_mut() {
        Some(instance) if instance.ended.is_none() => {
            stages::end_stage(instance, now, false, plan);
            instance.ended = Some(Ended {
                at: now,
                reason: EndReason::Stopped,
            });
            plan.changes.push(Change::Stopped {
                instance: instance.id.clone(),
                token,
            });
            plan.effects.push(Effect::Notify {
                event: NotificationEvent::InstanceEnded,
                instance: instance.id.clone(),
                sequence: 0,
                reviewers: Vec::new(),
                owners,
            });
        }
        _ => plan.changes.push(Change::RequestIgnored {
            request: "stop".to_owned(),
            token,
            reason: "no instance is in progress".to_owned(),
        }),
    }
}

fn reset(state: &mut ReviewState, now: Timestamp, plan: &mut ReviewPlan) {
    let requested = state.spec.requests.reset.clone();
    let Some(token) = new_token(requested.as_ref(), &mut state.handled.reset) else {
        return;
    };
    let Some(instance) = state.instances.last_mut().filter(|i| i.ended.is_none()) else {
        let reason = "a reset applies only to an instance in progress".to_owned();
        plan.changes.push(Change::RequestIgnored {
            request: "reset".to_owned(),
            token,
            reason,
        });
        return;
    };
    let mut cleared = 0;
    for entry in instance.entries.values_mut() {
        if entry.status == crate::state::EntryStatus::Accepted {
            entry.status = crate::state::EntryStatus::Cleared;
            cleared += 1;
        }
    }
    // A reset clears the stage in progress only: earlier stages' decisions stand.
    let stage = instance.stage + 1;
    let staged = instance.staged();
    for item in instance.items.values_mut() {
        if staged {
            item.set_stage_decision(stage, None);
        } else {
            item.decision = None;
        }
    }
    instance.resets.push(crate::state::ResetRecord {
        at: now,
        token: Some(token.clone()),
        cleared,
    });
    plan.changes.push(Change::Reset {
        instance: instance.id.clone(),
        token,
        cleared,
    });
}

/// Ends an instance whose end date has passed and fills undecided items with the default.
fn complete(state: &mut ReviewState, now: Timestamp, plan: &mut ReviewPlan) {
    stages::advance(state, now, plan);
    let default = state.spec.settings.default_decision;
    let owners = owner_ids(state);
    let Some(instance) = state.instances.last_mut().filter(|i| i.ended.is_none()) else {
        return;
    };
    let end = instance.end;
    if now < end {
        return;
    }
    let mut defaulted = 0;
    for item in instance.items.values_mut().filter(|i| i.decision.is_none()) {
        let decision = match default {
            DefaultDecision::None => None,
            DefaultDecision::Approve => Some(Decision::Approve),
            DefaultDecision::Deny => Some(Decision::Deny),
            DefaultDecision::Recommendation => item.recommendation.decision,
        };
        if let Some(decision) = decision {
            let reason = match default {
                DefaultDecision::Recommendation => format!(
                    "no reviewer decided; default decision follows the recommendation ({})",
                    item.recommendation.reason
                ),
                _ => format!("no reviewer decided; default decision `{decision}`"),
            };
            item.decision = Some(DecisionState {
                decision,
                reviewer: SYSTEM_REVIEWER.to_owned(),
                reason: Some(reason),
                at: end,
                by_system: true,
                source: None,
            });
            defaulted += 1;
        }
    }
    stages::end_stage(instance, end, false, plan);
    instance.ended = Some(Ended {
        at: end,
        reason: EndReason::Completed,
    });
    plan.changes.push(Change::Completed {
        instance: instance.id.clone(),
        defaulted,
    });
    plan.effects.push(Effect::Notify {
        event: NotificationEvent::InstanceEnded,
        instance: instance.id.clone(),
        sequence: 0,
        reviewers: Vec::new(),
        owners,
    });
}

/// The review's owners as directory ids where the directory resolved them (else as written:
/// the message to them then reports that it has no address).
pub fn owner_ids(state: &ReviewState) -> Vec<String> {
    let mut out: Vec<String> = state
        .spec
        .owners
        .iter()
        .map(|o| {
            state
                .known
                .get(&normalize(o))
                .cloned()
                .unwrap_or_else(|| o.clone())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

fn remind(state: &mut ReviewState, now: Timestamp, plan: &mut ReviewPlan) {
    let requested = state.spec.requests.remind.clone();
    let token = new_token(requested.as_ref(), &mut state.handled.remind);
    let in_progress = state.in_progress().cloned();
    let Some(instance) = in_progress else {
        if let Some(token) = token {
            plan.changes.push(Change::RequestIgnored {
                request: "remind".to_owned(),
                token,
                reason: "no instance is in progress".to_owned(),
            });
        }
        return;
    };
    let reviewers = pending_reviewers(state, &instance);
    let send =
        |token: Option<String>, at: Timestamp, state: &mut ReviewState, plan: &mut ReviewPlan| {
            let mut sequence = 0;
            if let Some(current) = state.instances.last_mut() {
                current.reminders.push(crate::state::ReminderRecord {
                    at,
                    token: token.clone(),
                    reviewers: reviewers.clone(),
                });
                sequence = u32::try_from(current.reminders.len()).unwrap_or(u32::MAX);
            }
            plan.changes.push(Change::Reminded {
                instance: instance.id.clone(),
                reviewers: reviewers.clone(),
                token,
                at,
            });
            if !reviewers.is_empty() {
                plan.effects.push(Effect::Notify {
                    event: NotificationEvent::Reminder,
                    instance: instance.id.clone(),
                    sequence,
                    reviewers: reviewers.clone(),
                    owners: Vec::new(),
                });
            }
        };
    if let Some(token) = token {
        send(Some(token), now, state, plan);
    }
    let reminders = &state.spec.settings.reminders;
    if reminders.enabled && !reviewers.is_empty() {
        let due_index =
            schedule::days_between(instance.start, now) / i64::from(reminders.interval_days.max(1));
        if due_index >= 1 {
            let days = u32::try_from(due_index)
                .unwrap_or(u32::MAX)
                .saturating_mul(reminders.interval_days);
            let due = schedule::add_days(instance.start, days);
            let sent = instance
                .reminders
                .iter()
                .any(|r| r.token.is_none() && r.at == due);
            if !sent && due < instance.end {
                send(None, due, state, plan);
            }
        }
    }
}

/// The next time this review needs a reconcile even without any other event.
fn requeue_at(state: &ReviewState, now: Timestamp) -> Option<Timestamp> {
    let mut candidates = Vec::new();
    if let Some(instance) = state.in_progress() {
        candidates.push(instance.end);
        candidates.push(instance.window().1);
        let reminders = &state.spec.settings.reminders;
        if reminders.enabled {
            let interval = i64::from(reminders.interval_days.max(1));
            let next_index = schedule::days_between(instance.start, now) / interval + 1;
            let days = u32::try_from(next_index * interval).unwrap_or(u32::MAX);
            candidates.push(schedule::add_days(instance.start, days));
        }
    }
    if let Some(next) = schedule::next_start(&state.spec.instance_schedule(), now) {
        candidates.push(next.start);
    }
    candidates.extend(escalate::next_due(state, now));
    candidates.into_iter().filter(|t| *t > now).min()
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod stage_props;
#[cfg(test)]
mod stage_tests;
#[cfg(test)]
pub(crate) mod tests;

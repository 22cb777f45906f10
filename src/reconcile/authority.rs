//! Who may decide on an item: the one rule both `reconcile` (on an instance's snapshot) and
//! `validate` (on the `DirectoryData` it can see) apply, so CI never passes what the engine
//! rejects nor the reverse.
//!
//! Names are ids or user principal names: two namespaces. A name is an id when some principal
//! has it as id, and only otherwise a user principal name (see [`Names`]); two names are the
//! same person when they are equal ignoring case or resolve to the same id.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use crate::model::directory_data::DirectoryDataSpec;

use crate::model::review::{AccessReviewSpec, ReviewerType};

use super::normalize;

/// Resolves a reviewer or principal name to an id, ids first, as far as it is known.
pub trait Names {
    /// The id `name` stands for; `None` when it cannot be told.
    fn id(&self, name: &str) -> Option<String>;
}

/// What is known of the principal decided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    User {
        id: &'a str,
        manager: Option<&'a str>,
    },
    /// A group or a service principal: it cannot review itself and has no manager.
    Other { id: &'a str },
}

impl Subject<'_> {
    fn id(&self) -> &str {
        match self {
            Subject::User { id, .. } | Subject::Other { id } => id,
        }
    }
}

/// The names of a `DirectoryData` (what `validate` and `decide` can see of a file directory):
/// ids first, then lower-cased user principal names, as the file directory looks them up.
#[derive(Debug)]
pub struct DataNames<'a> {
    ids: HashSet<&'a str>,
    upns: HashMap<String, &'a str>,
    managers: HashMap<&'a str, Option<&'a str>>,
}

impl<'a> DataNames<'a> {
    pub fn new(data: &'a DirectoryDataSpec) -> DataNames<'a> {
        let mut ids: HashSet<&str> = data.groups.iter().map(|g| g.id.as_str()).collect();
        let mut upns = HashMap::with_capacity(data.users.len());
        let mut managers = HashMap::with_capacity(data.users.len());
        for user in &data.users {
            ids.insert(&user.id);
            upns.insert(user.user_principal_name.to_lowercase(), user.id.as_str());
            managers.insert(user.id.as_str(), user.manager.as_deref());
        }
        DataNames {
            ids,
            upns,
            managers,
        }
    }

    /// The id of the principal a name stands for.
    pub fn resolve(&self, name: &str) -> Option<&'a str> {
        self.ids
            .get(name)
            .copied()
            .or_else(|| self.upns.get(&name.to_lowercase()).copied())
    }

    pub fn is_user(&self, id: &str) -> bool {
        self.managers.contains_key(id)
    }

    /// What the rule needs to know of the principal with this id.
    pub fn subject(&self, id: &'a str) -> Subject<'a> {
        match self.managers.get(id) {
            Some(manager) => Subject::User {
                id,
                manager: *manager,
            },
            None => Subject::Other { id },
        }
    }
}

impl Names for DataNames<'_> {
    fn id(&self, name: &str) -> Option<String> {
        self.resolve(name).map(str::to_owned)
    }
}

/// Whether a reviewer may decide on a principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Not allowed; the rule in words.
    NotAllowed(&'static str),
    /// Not enough is known of the directory to tell (a validate without the directory's data).
    Unknown,
}

/// Whether two names are the same person: `Some(true)` or `Some(false)` when it can be told.
pub fn same(names: &dyn Names, a: &str, b: &str) -> Option<bool> {
    if a == b || normalize(a) == normalize(b) {
        return Some(true);
    }
    let ids = (names.id(a), names.id(b));
    match ids {
        (Some(x), Some(y)) => Some(x == y),
        (Some(x), None) if x == b => Some(true),
        (None, Some(y)) if y == a => Some(true),
        _ => None,
    }
}

/// The names (as written in the review, or ids) that may decide on a principal, or `None`
/// when that depends on what is not known (a manager review without the directory).
///
/// - named reviewers (`type: users`): the listed users and the fallback reviewers, on every item;
/// - self-review: each user their own item; the fallback reviewers decide for principals who
///   cannot review themselves: groups, service principals, and the review's protected
///   principals (emergency access accounts, which no person holds);
/// - manager review: a user's manager; the fallback reviewers for principals without one.
pub fn candidates<'s>(
    spec: &'s AccessReviewSpec,
    names: &dyn Names,
    principal: &'s str,
    subject: Option<&Subject<'s>>,
) -> Option<Vec<Cow<'s, str>>> {
    let fallback = || {
        spec.fallback_reviewers
            .iter()
            .map(|n| Cow::from(n.as_str()))
    };
    let mut out = candidates_by_type(spec, names, principal, subject, fallback)?;
    if independent(spec) {
        // Nobody decides their own access; whoever is left (other reviewers, the fallback
        // reviewers) does.
        out.retain(|c| same(names, c, principal) != Some(true));
        if out.is_empty() {
            out.extend(fallback().filter(|c| same(names, c, principal) != Some(true)));
        }
    }
    Some(out)
}

/// Whether the review forbids self-decisions (never in a self-review, which is one by design).
fn independent(spec: &AccessReviewSpec) -> bool {
    spec.settings.forbid_self_decisions && spec.reviewers.kind != ReviewerType::SelfReview
}

/// Why a self-decision is refused, in words.
pub const NOT_INDEPENDENT: &str = "the review forbids self-decisions (`forbidSelfDecisions`): nobody decides their own access; the other reviewers and the fallback reviewers do";

fn candidates_by_type<'s, F, I>(
    spec: &'s AccessReviewSpec,
    names: &dyn Names,
    principal: &'s str,
    subject: Option<&Subject<'s>>,
    fallback: F,
) -> Option<Vec<Cow<'s, str>>>
where
    F: Fn() -> I,
    I: Iterator<Item = Cow<'s, str>>,
{
    Some(match (spec.reviewers.kind, subject) {
        (ReviewerType::Users, _) => spec
            .reviewers
            .users
            .iter()
            .map(|n| Cow::from(n.as_str()))
            .chain(fallback())
            .collect(),
        (ReviewerType::SelfReview, Some(Subject::User { id, .. })) => {
            let mut out = vec![Cow::from(*id)];
            if is_protected(spec, names, id) == Some(true) {
                out.extend(fallback());
            }
            out
        }
        (ReviewerType::SelfReview, None) => {
            let mut out = vec![Cow::from(principal)];
            if is_protected(spec, names, principal) == Some(true) {
                out.extend(fallback());
            }
            out
        }
        (
            ReviewerType::Manager,
            Some(Subject::User {
                manager: Some(m), ..
            }),
        ) => vec![Cow::from(*m)],
        (ReviewerType::Manager, None) => return None,
        (_, Some(Subject::Other { .. }))
        | (ReviewerType::Manager, Some(Subject::User { manager: None, .. })) => {
            fallback().collect()
        }
    })
}

/// Whether `principal` is one of the review's protected principals.
pub fn is_protected(spec: &AccessReviewSpec, names: &dyn Names, principal: &str) -> Option<bool> {
    let mut unknown = false;
    for p in &spec.guards.protected_principals {
        match same(names, p, principal) {
            Some(true) => return Some(true),
            Some(false) => {}
            None => unknown = true,
        }
    }
    if unknown { None } else { Some(false) }
}

/// Whether `reviewer` may decide on `principal` (named as written; `subject` when the
/// directory says who it is).
pub fn may_decide(
    spec: &AccessReviewSpec,
    names: &dyn Names,
    reviewer: &str,
    principal: &str,
    subject: Option<&Subject<'_>>,
) -> Verdict {
    let principal = subject.map_or(principal, Subject::id);
    if independent(spec) && same(names, reviewer, principal) == Some(true) {
        return Verdict::NotAllowed(NOT_INDEPENDENT);
    }
    let Some(candidates) = candidates(spec, names, principal, subject) else {
        return Verdict::Unknown;
    };
    let mut unknown = false;
    for candidate in &candidates {
        match same(names, candidate, reviewer) {
            Some(true) => return Verdict::Allowed,
            Some(false) => {}
            None => unknown = true,
        }
    }
    if unknown || may_be_escalated_to(spec, names, reviewer) {
        return Verdict::Unknown;
    }
    Verdict::NotAllowed(why(spec.reviewers.kind))
}

/// [`may_decide`] in a multi-stage review: by stage `stage`'s reviewers (0 for the first)
/// when it is given, else allowed when any stage allows it (the first refusal otherwise).
pub fn may_decide_in_stages(
    spec: &AccessReviewSpec,
    names: &dyn Names,
    reviewer: &str,
    principal: &str,
    subject: Option<&Subject<'_>>,
    stage: Option<usize>,
) -> Verdict {
    let stages: Vec<usize> = match stage {
        Some(stage) => vec![stage],
        None => (0..spec.stage_count()).collect(),
    };
    let mut first = None;
    let mut unknown = false;
    for stage in stages {
        match may_decide(&spec.for_stage(stage), names, reviewer, principal, subject) {
            Verdict::Allowed => return Verdict::Allowed,
            Verdict::Unknown => unknown = true,
            refused => {
                first.get_or_insert(refused);
            }
        }
    }
    match first {
        Some(refused) if !unknown => refused,
        _ => Verdict::Unknown,
    }
}

/// Whether an escalation level could give items to `reviewer`: whether it does depends on the
/// running instance (who has not decided, when), which only the engine knows.
fn may_be_escalated_to(spec: &AccessReviewSpec, names: &dyn Names, reviewer: &str) -> bool {
    use crate::model::review::EscalateTo;
    spec.settings.escalations.iter().any(|e| match e.to {
        EscalateTo::Manager => true,
        EscalateTo::Fallback => spec
            .fallback_reviewers
            .iter()
            .any(|f| same(names, f, reviewer) == Some(true)),
        EscalateTo::Users => e
            .users
            .iter()
            .any(|u| same(names, u, reviewer) == Some(true)),
    })
}

impl Verdict {
    /// The rule that refused, in words (the reviewer type's rule when it was allowed).
    pub fn reason(&self, kind: ReviewerType) -> &'static str {
        match self {
            Verdict::NotAllowed(why) => why,
            _ => why(kind),
        }
    }
}

/// The rule of a reviewer type, in words, for a rejection.
pub fn why(kind: ReviewerType) -> &'static str {
    match kind {
        ReviewerType::SelfReview => {
            "in a self-review each principal decides only their own access (fallback reviewers decide for groups, service principals and protected principals)"
        }
        ReviewerType::Users => "only the review's named reviewers and fallback reviewers decide",
        ReviewerType::Manager => {
            "only the principal's manager (or a fallback reviewer, when there is no manager) decides"
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::reconcile::tests::base_spec;

    struct Map(BTreeMap<&'static str, &'static str>);

    impl Names for Map {
        fn id(&self, name: &str) -> Option<String> {
            self.0
                .get(name)
                .or_else(|| self.0.get(normalize(name).as_str()))
                .map(|s| (*s).to_owned())
        }
    }

    #[test]
    fn a_reviewer_named_by_id_is_the_reviewer_the_review_names_by_user_principal_name() {
        let mut spec = base_spec();
        spec.reviewers.kind = ReviewerType::Users;
        spec.reviewers.users = vec!["carol@corp.example".into()];
        let names = Map(BTreeMap::from([
            ("carol@corp.example", "u-carol"),
            ("u-carol", "u-carol"),
            ("u-dave", "u-dave"),
        ]));
        let alice = Subject::User {
            id: "u-alice",
            manager: None,
        };
        assert_eq!(
            may_decide(&spec, &names, "u-carol", "u-alice", Some(&alice)),
            Verdict::Allowed
        );
        assert!(matches!(
            may_decide(&spec, &names, "u-dave", "u-alice", Some(&alice)),
            Verdict::NotAllowed(_)
        ));
        // Without the directory the same entry cannot be judged, so it is not flagged.
        let nothing = Map(BTreeMap::new());
        assert_eq!(
            may_decide(&spec, &nothing, "u-carol", "u-alice", None),
            Verdict::Unknown
        );
    }

    #[test]
    fn in_a_self_review_fallback_reviewers_decide_only_for_who_cannot_review_themselves() {
        let mut spec = base_spec();
        spec.fallback_reviewers = vec!["carol@corp.example".into()];
        spec.guards.protected_principals = vec!["breakglass@corp.example".into()];
        let names = Map(BTreeMap::from([
            ("carol@corp.example", "u-carol"),
            ("breakglass@corp.example", "u-breakglass"),
            ("u-breakglass", "u-breakglass"),
            ("u-grace", "u-grace"),
        ]));
        let user = |id| Subject::User { id, manager: None };
        let verdict = |reviewer, subject: Subject<'static>| {
            may_decide(&spec, &names, reviewer, subject.id(), Some(&subject))
        };
        assert_eq!(
            verdict("carol@corp.example", user("u-breakglass")),
            Verdict::Allowed
        );
        assert_eq!(
            verdict("carol@corp.example", Subject::Other { id: "g-ops" }),
            Verdict::Allowed
        );
        assert!(matches!(
            verdict("carol@corp.example", user("u-grace")),
            Verdict::NotAllowed(_)
        ));
        assert_eq!(verdict("u-grace", user("u-grace")), Verdict::Allowed);
    }

    #[test]
    fn with_forbidden_self_decisions_a_reviewer_never_decides_their_own_access() {
        let names = Map(BTreeMap::from([
            ("carol@corp.example", "u-carol"),
            ("u-carol", "u-carol"),
            ("dave@corp.example", "u-dave"),
            ("u-dave", "u-dave"),
            ("peggy@corp.example", "u-peggy"),
            ("u-alice", "u-alice"),
        ]));
        let user = |id, manager| Subject::User { id, manager };
        struct Case {
            kind: ReviewerType,
            forbid: bool,
            reviewer: &'static str,
            subject: Subject<'static>,
            allowed: bool,
        }
        let carol = user("u-carol", None);
        let cases = [
            // Named reviewers: Carol may decide Alice, but not herself once forbidden.
            Case {
                kind: ReviewerType::Users,
                forbid: true,
                reviewer: "u-carol",
                subject: user("u-alice", None),
                allowed: true,
            },
            Case {
                kind: ReviewerType::Users,
                forbid: false,
                reviewer: "u-carol",
                subject: carol,
                allowed: true,
            },
            Case {
                kind: ReviewerType::Users,
                forbid: true,
                reviewer: "u-carol",
                subject: carol,
                allowed: false,
            },
            // Her item goes to the other named reviewer and to the fallback reviewer.
            Case {
                kind: ReviewerType::Users,
                forbid: true,
                reviewer: "u-dave",
                subject: carol,
                allowed: true,
            },
            Case {
                kind: ReviewerType::Users,
                forbid: true,
                reviewer: "peggy@corp.example",
                subject: carol,
                allowed: true,
            },
            // A manager who is (by bad data) their own manager: the fallback reviewer decides.
            Case {
                kind: ReviewerType::Manager,
                forbid: true,
                reviewer: "u-carol",
                subject: user("u-carol", Some("u-carol")),
                allowed: false,
            },
            Case {
                kind: ReviewerType::Manager,
                forbid: true,
                reviewer: "peggy@corp.example",
                subject: user("u-carol", Some("u-carol")),
                allowed: true,
            },
            // A self-review stays one: the flag does not apply.
            Case {
                kind: ReviewerType::SelfReview,
                forbid: true,
                reviewer: "u-carol",
                subject: carol,
                allowed: true,
            },
        ];
        for (n, case) in cases.iter().enumerate() {
            let mut spec = base_spec();
            spec.reviewers.kind = case.kind;
            spec.reviewers.users = vec!["carol@corp.example".into(), "dave@corp.example".into()];
            spec.fallback_reviewers = vec!["peggy@corp.example".into()];
            spec.settings.forbid_self_decisions = case.forbid;
            let verdict = may_decide(
                &spec,
                &names,
                case.reviewer,
                case.subject.id(),
                Some(&case.subject),
            );
            assert_eq!(
                verdict == Verdict::Allowed,
                case.allowed,
                "case {n}: {verdict:?}"
            );
            if !case.allowed && case.kind == ReviewerType::Users {
                assert_eq!(verdict, Verdict::NotAllowed(NOT_INDEPENDENT), "case {n}");
            }
        }
    }
}

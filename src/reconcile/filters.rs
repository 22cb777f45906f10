//! Who is reviewed: the scope's filters, applied to what the directory returned in scope when
//! an instance snapshots its items.
//!
//! The filters run in a fixed order — `exclude`, `userType`, `memberOf`, `inactiveDays` — and
//! a principal left out is counted under the first filter that leaves it out, so that the
//! principals read are exactly those kept plus those each filter excluded.

use std::collections::{BTreeMap, BTreeSet};

use crate::directory::Principal;
use crate::directory::observe::{GroupMembers, Item};
use crate::model::directory_data::UserType;
use crate::model::review::{Scope, Timestamp, UserTypeFilter};
use crate::population::{
    ExcludeFilter, Filters, InactiveDaysFilter, MemberOfFilter, UserTypeResult,
};

use super::normalize;
use super::schedule::days_between;

/// A filter the directory observation had to serve and did not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("the scope's `memberOf` group was not read from the directory")]
    MemberOfNotRead,
}

/// The items kept, and what each filter did.
#[derive(Debug, Clone, PartialEq)]
pub struct Filtered {
    pub kept: BTreeMap<String, Item>,
    pub filters: Filters,
}

/// Applies `scope`'s filters to `items`, as of `at` (the instance's start) for `inactiveDays`;
/// `member_of` is the `memberOf` group as the directory observation read it.
pub fn apply(
    scope: &Scope,
    member_of: Option<&GroupMembers>,
    at: Timestamp,
    items: BTreeMap<String, Item>,
) -> Result<Filtered, FilterError> {
    let mut filters = Filters::default();
    let excluded: BTreeSet<String> = scope.exclude.iter().map(|n| normalize(n)).collect();
    if !scope.exclude.is_empty() {
        filters.exclude = Some(ExcludeFilter {
            principals: scope.exclude.clone(),
            excluded: 0,
        });
    }
    if !scope.user_type.is_all() {
        filters.user_type = Some(UserTypeResult {
            user_type: scope.user_type,
            excluded: 0,
        });
    }
    let members = match (&scope.member_of, member_of) {
        (None, _) => None,
        (Some(_), None) => return Err(FilterError::MemberOfNotRead),
        (Some(filter), Some(group)) => {
            filters.member_of = Some(MemberOfFilter {
                group: filter.group.clone(),
                group_id: group.id.clone(),
                group_name: group.name.clone(),
                members: group.members.len(),
                excluded: 0,
            });
            Some(&group.members)
        }
    };
    if let Some(days) = scope.inactive_days {
        filters.inactive_days = Some(InactiveDaysFilter {
            days,
            excluded: 0,
            unknown_sign_in: Vec::new(),
        });
    }

    let mut kept = BTreeMap::new();
    for (id, item) in items {
        if let Some(f) = filters.exclude.as_mut()
            && is_excluded(&item.principal, &excluded)
        {
            f.excluded += 1;
            continue;
        }
        if let Some(f) = filters.user_type.as_mut()
            && !user_type_matches(&item.principal, f.user_type)
        {
            f.excluded += 1;
            continue;
        }
        if let (Some(f), Some(members)) = (filters.member_of.as_mut(), members)
            && !members.contains(&id)
        {
            f.excluded += 1;
            continue;
        }
        if let Some(f) = filters.inactive_days.as_mut() {
            match inactive(&item.principal, f.days, at) {
                Some(false) => {
                    f.excluded += 1;
                    continue;
                }
                Some(true) => {}
                None => f.unknown_sign_in.push(id.clone()),
            }
        }
        kept.insert(id, item);
    }
    Ok(Filtered { kept, filters })
}

/// Whether `exclude` (lower-cased) names the principal: by id, or a user by user principal
/// name without case.
fn is_excluded(principal: &Principal, exclude: &BTreeSet<String>) -> bool {
    exclude.contains(&normalize(principal.id()))
        || matches!(principal, Principal::User(u) if exclude.contains(&normalize(&u.user_principal_name)))
}

/// `guest` keeps only guest users; `member` leaves guest users out and keeps everyone else
/// (groups and service principals are not guests).
fn user_type_matches(principal: &Principal, filter: UserTypeFilter) -> bool {
    let guest = matches!(principal, Principal::User(u) if u.user_type == UserType::Guest);
    match filter {
        UserTypeFilter::All => true,
        UserTypeFilter::Guest => guest,
        UserTypeFilter::Member => !guest,
    }
}

/// Whether the principal has not signed in for `days` days at `at`; `None` when its sign-in
/// is not known (a user without one, a group, a service principal).
fn inactive(principal: &Principal, days: u32, at: Timestamp) -> Option<bool> {
    match principal {
        Principal::User(u) => u
            .last_sign_in
            .map(|last| days_between(last, at) >= i64::from(days)),
        Principal::Group(_) | Principal::ServicePrincipal(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::observe::Access;
    use crate::directory::{GroupInfo, Removal, ServicePrincipalInfo};
    use crate::model::directory_data::{AssignmentType, Membership, Source};
    use crate::model::review::{MemberOf, ObjectRef};
    use crate::reconcile::tests::{base_spec, ts, user};

    fn item(principal: Principal) -> (String, Item) {
        let access = Access {
            removal: Removal::assignment(&format!("a-{}", principal.id()), AssignmentType::Active),
            via: None,
            not_supported: None,
        };
        (
            principal.id().to_owned(),
            Item {
                principal,
                access: vec![access],
            },
        )
    }

    /// Users `active` (signed in 2026-11-20), `stale` (2026-06-01), `never` (unknown),
    /// `guest` (a guest, signed in 2026-11-20), group `g1` and service principal `sp1`.
    fn items() -> BTreeMap<String, Item> {
        let mut stale = user("stale");
        stale.last_sign_in = Some(ts("2026-06-01"));
        let mut never = user("never");
        never.last_sign_in = None;
        let mut guest = user("guest");
        guest.user_type = UserType::Guest;
        [
            Principal::User(user("active")),
            Principal::User(stale),
            Principal::User(never),
            Principal::User(guest),
            Principal::Group(GroupInfo {
                id: "g1".into(),
                display_name: "Ops".into(),
                membership: Membership::Assigned,
                source: Source::Cloud,
            }),
            Principal::ServicePrincipal(ServicePrincipalInfo {
                id: "sp1".into(),
                display_name: "Deployer".into(),
                app_id: None,
                enabled: true,
            }),
        ]
        .into_iter()
        .map(item)
        .collect()
    }

    fn scope() -> Scope {
        base_spec().scope
    }

    fn members(ids: &[&str]) -> GroupMembers {
        GroupMembers {
            id: "g-team".into(),
            name: "Team".into(),
            members: ids.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn run(scope: &Scope, group: Option<&GroupMembers>) -> (Vec<String>, Filters) {
        let out = apply(scope, group, ts("2026-12-01"), items()).expect("filters apply");
        (out.kept.into_keys().collect(), out.filters)
    }

    #[test]
    fn table() {
        struct Case {
            name: &'static str,
            scope: Scope,
            group: Option<GroupMembers>,
            kept: &'static [&'static str],
        }
        let with = |f: &dyn Fn(&mut Scope)| {
            let mut s = scope();
            f(&mut s);
            s
        };
        let cases = [
            Case {
                name: "no filter keeps everyone",
                scope: scope(),
                group: None,
                kept: &["active", "g1", "guest", "never", "sp1", "stale"],
            },
            Case {
                name: "inactiveDays keeps the stale and the unknown (groups, service principals, no sign-in)",
                scope: with(&|s| s.inactive_days = Some(90)),
                group: None,
                kept: &["g1", "never", "sp1", "stale"],
            },
            Case {
                name: "inactiveDays counts whole days: 11 days since 2026-11-20 is inactive for 11",
                scope: with(&|s| s.inactive_days = Some(11)),
                group: None,
                kept: &["active", "g1", "guest", "never", "sp1", "stale"],
            },
            Case {
                name: "inactiveDays one day more leaves the recent out",
                scope: with(&|s| s.inactive_days = Some(12)),
                group: None,
                kept: &["g1", "never", "sp1", "stale"],
            },
            Case {
                name: "userType guest keeps guest users only",
                scope: with(&|s| s.user_type = UserTypeFilter::Guest),
                group: None,
                kept: &["guest"],
            },
            Case {
                name: "userType member leaves guests out, keeps groups and service principals",
                scope: with(&|s| s.user_type = UserTypeFilter::Member),
                group: None,
                kept: &["active", "g1", "never", "sp1", "stale"],
            },
            Case {
                name: "exclude by id, by user principal name without case, a group and a service principal",
                scope: with(&|s| {
                    s.exclude = vec![
                        "active".into(),
                        "STALE@corp.example".into(),
                        "g1".into(),
                        "sp1".into(),
                        "nobody".into(),
                    ]
                }),
                group: None,
                kept: &["guest", "never"],
            },
            Case {
                name: "a user principal name never stands for a group of that id",
                scope: with(&|s| s.exclude = vec!["g1@corp.example".into()]),
                group: None,
                kept: &["active", "g1", "guest", "never", "sp1", "stale"],
            },
            Case {
                name: "memberOf keeps members: users, service principals, nested groups",
                scope: with(&|s| {
                    s.member_of = Some(MemberOf {
                        group: ObjectRef {
                            name: Some("Team".into()),
                            id: None,
                        },
                    })
                }),
                group: Some(members(&["active", "sp1", "g1", "outsider"])),
                kept: &["active", "g1", "sp1"],
            },
            Case {
                name: "memberOf of an empty group keeps nobody",
                scope: with(&|s| {
                    s.member_of = Some(MemberOf {
                        group: ObjectRef {
                            name: None,
                            id: Some("g-team".into()),
                        },
                    })
                }),
                group: Some(members(&[])),
                kept: &[],
            },
        ];
        for case in cases {
            let (kept, _) = run(&case.scope, case.group.as_ref());
            assert_eq!(kept, case.kept, "{}", case.name);
        }
    }

    #[test]
    fn each_principal_is_counted_once_under_the_first_filter_that_leaves_it_out() {
        let mut s = scope();
        s.exclude = vec!["guest".into()];
        s.user_type = UserTypeFilter::Member;
        s.member_of = Some(MemberOf {
            group: ObjectRef {
                name: Some("Team".into()),
                id: None,
            },
        });
        s.inactive_days = Some(90);
        let group = members(&["guest", "stale", "never", "active", "g1"]);
        let (kept, filters) = run(&s, Some(&group));
        assert_eq!(kept, ["g1", "never", "stale"]);
        // guest: exclude (not userType); sp1: memberOf; active: inactiveDays.
        assert_eq!(filters.exclude.expect("set").excluded, 1);
        assert_eq!(filters.user_type.expect("set").excluded, 0);
        let member_of = filters.member_of.expect("set");
        assert_eq!((member_of.excluded, member_of.members), (1, 5));
        assert_eq!(member_of.group_id, "g-team");
        let inactive = filters.inactive_days.expect("set");
        assert_eq!(inactive.excluded, 1);
        assert_eq!(inactive.unknown_sign_in, ["g1", "never"]);
    }

    #[test]
    fn filters_not_set_are_not_recorded() {
        let (_, filters) = run(&scope(), None);
        assert!(filters.is_empty());
    }

    #[test]
    fn a_member_of_filter_without_its_group_read_is_an_error_not_an_empty_review() {
        let mut s = scope();
        s.member_of = Some(MemberOf {
            group: ObjectRef {
                name: Some("Team".into()),
                id: None,
            },
        });
        assert_eq!(
            apply(&s, None, ts("2026-12-01"), items()),
            Err(FilterError::MemberOfNotRead)
        );
    }

    #[test]
    fn an_instance_snapshots_only_what_the_filters_keep_and_records_its_population() {
        use crate::reconcile::tests::World;
        let mut world = World::self_review(&["alice", "bob", "carol"]);
        world.spec.scope.exclude = vec!["BOB@corp.example".into()];
        world.spec.scope.inactive_days = Some(30);
        world.people[2].last_sign_in = Some(ts("2026-01-01"));
        let plan = world.step("2026-12-01T00:00:05Z");
        let instance = world.instance();
        assert_eq!(instance.items.keys().collect::<Vec<_>>(), ["carol"]);
        let population = instance.population.as_ref().expect("recorded");
        assert_eq!((population.read, population.kept), (3, 1));
        assert_eq!(population.read_at, ts("2026-12-01T00:00:05Z"));
        assert_eq!(population.directory.name, "corp");
        assert_eq!(population.directory.kind.as_deref(), Some("file"));
        assert_eq!(population.query.target_id, "r-ga");
        let filters = &population.query.filters;
        assert_eq!(filters.exclude.as_ref().map(|f| f.excluded), Some(1));
        assert_eq!(filters.inactive_days.as_ref().map(|f| f.excluded), Some(1));
        assert_eq!(
            population.digest,
            crate::population::digest(&instance.items)
        );
        // The audit event of the start carries the same record.
        let change = &plan.reviews[0].changes;
        let started = change
            .iter()
            .find(|c| matches!(c, crate::reconcile::Change::InstanceStarted { .. }))
            .expect("started");
        assert_eq!(
            started.to_string(),
            "instance 2026-12-01 started: 1 assignment to review (3 read, 2 left out by the scope's filters)"
        );
        let event = serde_json::to_value(started).expect("encodes");
        assert_eq!(event["population"]["digest"], population.digest.as_str());
        assert_eq!(event["population"]["kept"], 1);
    }

    #[test]
    fn a_member_of_group_not_read_stalls_the_start_instead_of_starting_empty() {
        use crate::reconcile::tests::World;
        let mut world = World::self_review(&["alice"]);
        world.spec.scope.member_of = Some(MemberOf {
            group: ObjectRef {
                name: Some("Team".into()),
                id: None,
            },
        });
        let plan = world.step("2026-12-01T00:00:05Z");
        assert!(world.state().instances.is_empty());
        let stalled = plan.reviews[0].stalled.as_deref().unwrap_or_default();
        assert!(
            stalled.contains("`memberOf` group was not read"),
            "{stalled}"
        );
    }
}

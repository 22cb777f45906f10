//! Remediation proof: after an apply, the directory is read again for every removal it
//! answered as done, so that a denial counts as carried out only when the access is really
//! gone. A directory that acknowledged a removal and kept the access (a sync job that put it
//! back, a write that did not stick, replication that lost it) is caught here, not by the next
//! review.
//!
//! Each role and each group is listed once for all the removals that touch it, through the
//! same [`Directory`] methods a review reads its scope with.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::directory::{AssignmentInfo, Directory, Error, Removal};
use crate::model::directory_data::AssignmentType;

/// What the directory showed of one removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    Gone,
    Present,
    Unknown(String),
}

/// Checks each removal against what the directory lists now, in the order given.
pub async fn check<D: Directory>(directory: &D, removals: &[&Removal]) -> Vec<Check> {
    let mut roles: BTreeMap<&str, Result<Held, Error>> = BTreeMap::new();
    let mut groups: BTreeMap<&str, Result<BTreeSet<String>, Error>> = BTreeMap::new();
    for removal in removals {
        match removal {
            Removal::Assignment { role, .. } if !role.is_empty() => {
                if !roles.contains_key(role.as_str()) {
                    let listed = all_assignments(directory, role).await.map(Held::of);
                    roles.insert(role, listed);
                }
            }
            Removal::Assignment { .. } => {}
            Removal::GroupMember { group, .. } => {
                if !groups.contains_key(group.as_str()) {
                    groups.insert(group, all_members(directory, group).await);
                }
            }
        }
    }
    removals
        .iter()
        .map(|removal| match removal {
            Removal::Assignment {
                id,
                kind,
                principal,
                role,
                scope,
            } => match roles.get(role.as_str()) {
                None => Check::Unknown(format!(
                    "{removal} was recorded without its role, so its role's assignments cannot be listed"
                )),
                Some(Err(e)) => Check::Unknown(format!("listing the assignments of role `{role}`: {e}")),
                Some(Ok(held)) => {
                    if held.holds(id, *kind, principal, scope) { Check::Present } else { Check::Gone }
                }
            },
            Removal::GroupMember { group, member } => match groups.get(group.as_str()) {
                Some(Ok(members)) if members.contains(member) => Check::Present,
                Some(Ok(_)) => Check::Gone,
                Some(Err(e)) => Check::Unknown(format!("listing the members of group `{group}`: {e}")),
                None => Check::Unknown(format!("group `{group}` was not listed")),
            },
        })
        .collect()
}

/// A role's assignments as listed after the apply, indexed for the look-ups of every removal:
/// ten thousand removals from a role of a hundred thousand assignments are ten thousand hash
/// look-ups, not a scan of the list each.
struct Held {
    /// (assignment id, type)
    ids: HashSet<(String, AssignmentType)>,
    /// (principal, scope with the root as `/`, type)
    grants: HashSet<(String, String, AssignmentType)>,
}

impl Held {
    fn of(list: Vec<AssignmentInfo>) -> Held {
        let mut held = Held {
            ids: HashSet::with_capacity(list.len()),
            grants: HashSet::with_capacity(list.len()),
        };
        for a in list {
            held.grants
                .insert((a.principal, root(&a.scope).to_owned(), a.kind));
            held.ids.insert((a.id, a.kind));
        }
        held
    }

    /// The same assignment, or one that grants the principal the same role at the same scope
    /// in the same way: Graph may answer a later listing with a new instance id for what is, to
    /// the principal, the same access.
    fn holds(&self, id: &str, kind: AssignmentType, principal: &str, scope: &str) -> bool {
        self.ids.contains(&(id.to_owned(), kind))
            || (!principal.is_empty()
                && self
                    .grants
                    .contains(&(principal.to_owned(), root(scope).to_owned(), kind)))
    }
}

/// A directory-wide scope is written both ways.
fn root(scope: &str) -> &str {
    if scope.is_empty() { "/" } else { scope }
}

async fn all_assignments<D: Directory>(
    directory: &D,
    role: &str,
) -> Result<Vec<AssignmentInfo>, Error> {
    let mut all = Vec::new();
    let mut page = None;
    loop {
        let next = directory.list_assignments(role, page).await?;
        all.extend(next.items);
        match next.next {
            Some(token) => page = Some(token),
            None => return Ok(all),
        }
    }
}

async fn all_members<D: Directory>(directory: &D, group: &str) -> Result<BTreeSet<String>, Error> {
    let mut all = BTreeSet::new();
    let mut page = None;
    loop {
        let next = match directory.list_members(group, page).await {
            // A group that is gone grants nothing.
            Err(Error::NotFound(_)) => return Ok(all),
            other => other?,
        };
        all.extend(next.items);
        match next.next {
            Some(token) => page = Some(token),
            None => return Ok(all),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(id: &str, principal: &str, scope: &str, kind: AssignmentType) -> AssignmentInfo {
        AssignmentInfo {
            id: id.to_owned(),
            principal: principal.to_owned(),
            role: "r".to_owned(),
            kind,
            scope: scope.to_owned(),
        }
    }

    #[test]
    fn an_access_is_held_by_its_id_or_by_the_same_grant_under_a_new_id() {
        use AssignmentType::{Active, Eligible};
        let held = Held::of(vec![
            listed("a-1", "u-1", "/", Active),
            listed("a-9", "u-2", "", Eligible),
            listed("a-3", "u-3", "/subscriptions/s", Active),
        ]);
        assert!(held.holds("a-1", Active, "u-1", "/"));
        // Re-issued under a new id: the same principal, scope and type still hold it; the
        // directory-wide scope is written either way.
        assert!(held.holds("a-2", Eligible, "u-2", "/"));
        assert!(
            !held.holds("a-2", Active, "u-2", "/"),
            "another type is not the same access"
        );
        assert!(
            !held.holds("a-4", Active, "u-3", "/"),
            "another scope is not the same access"
        );
        assert!(
            !held.holds("a-1", Eligible, "", "/"),
            "the id with another type"
        );
        assert!(
            !held.holds("a-5", Active, "", ""),
            "no principal: only the id counts"
        );
    }
}

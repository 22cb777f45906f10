//! Remediation proof: after an apply, the directory is read again for every removal it
//! answered as done, so that a denial counts as carried out only when the access is really
//! gone. A directory that acknowledged a removal and kept the access (a sync job that put it
//! back, a write that did not stick, replication that lost it) is caught here, not by the next
//! review.
//!
//! Each role and each group is listed once for all the removals that touch it, through the
//! same [`Directory`] methods a review reads its scope with.

use std::collections::{BTreeMap, BTreeSet};

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
    let mut roles: BTreeMap<&str, Result<Vec<AssignmentInfo>, Error>> = BTreeMap::new();
    let mut groups: BTreeMap<&str, Result<BTreeSet<String>, Error>> = BTreeMap::new();
    for removal in removals {
        match removal {
            Removal::Assignment { role, .. } if !role.is_empty() => {
                if !roles.contains_key(role.as_str()) {
                    roles.insert(role, all_assignments(directory, role).await);
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
                Some(Ok(list)) => {
                    let held = list
                        .iter()
                        .any(|a| still_holds(a, id, *kind, principal, scope));
                    if held { Check::Present } else { Check::Gone }
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

/// The same assignment, or one that grants the principal the same role at the same scope in
/// the same way: Graph may answer a later listing with a new instance id for what is, to the
/// principal, the same access.
fn still_holds(
    a: &AssignmentInfo,
    id: &str,
    kind: AssignmentType,
    principal: &str,
    scope: &str,
) -> bool {
    let root = |s: &str| {
        if s.is_empty() {
            "/".to_owned()
        } else {
            s.to_owned()
        }
    };
    a.kind == kind
        && (a.id == id
            || (!principal.is_empty() && a.principal == principal && root(&a.scope) == root(scope)))
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

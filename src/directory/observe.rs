//! What a review sees of a directory: every principal in scope, and how each holds the access.
//!
//! Written once over the [`Directory`] trait so that paging, batching of look-ups and group
//! expansion behave the same for every directory. Access held through a group is marked with
//! the reason it cannot be removed by a review (the seed documents' nested-group, dynamic-group
//! and on-premises cases), so `reconcile` stays a pure function of this value.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::model::directory_data::{AssignmentType, Membership, Source};
use crate::model::review::{AssignmentFilter, Scope};

use super::{Directory, Error, GroupInfo, Principal, Removal};

/// The assignments (or memberships) a review covers, by principal id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedScope {
    /// What the review covers: `role` or `group`.
    pub target_kind: TargetKind,
    pub target_id: String,
    pub target_name: String,
    pub items: BTreeMap<String, Item>,
    /// The group of the scope's `memberOf` filter, read only when the review has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_of: Option<GroupMembers>,
}

/// A group and everyone in it: users, service principals and nested groups, transitively.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMembers {
    pub id: String,
    pub name: String,
    pub members: BTreeSet<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TargetKind {
    Role,
    Group,
}

/// One principal in scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub principal: Principal,
    /// Every way the principal holds the access; never empty.
    pub access: Vec<Access>,
}

/// One way a principal holds the access under review.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Access {
    /// What apply would remove.
    pub removal: Removal,
    /// The group the access comes through, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// Why a review cannot remove this access; `None` when it can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_supported: Option<String>,
}

/// Reads the scope of a review from a directory, and the members of its `memberOf` group when
/// it has that filter (the filters themselves are applied by `reconcile`).
pub async fn observe<D: Directory>(directory: &D, scope: &Scope) -> Result<ObservedScope, Error> {
    let mut observed = observe_target(directory, scope).await?;
    if let Some(filter) = &scope.member_of {
        let key = filter
            .group
            .id
            .as_deref()
            .or(filter.group.name.as_deref())
            .unwrap_or_default();
        let group = find_group(directory, key).await?;
        let mut principals = HashMap::new();
        let (members, groups) = expand(directory, &group.id, &mut principals).await?;
        let mut ids: BTreeSet<String> = members.iter().map(|(p, _)| p.id().to_owned()).collect();
        ids.extend(groups.into_iter().filter(|g| *g != group.id));
        observed.member_of = Some(GroupMembers {
            id: group.id,
            name: group.display_name,
            members: ids,
        });
    }
    Ok(observed)
}

async fn observe_target<D: Directory>(
    directory: &D,
    scope: &Scope,
) -> Result<ObservedScope, Error> {
    match (&scope.role, &scope.group) {
        (Some(role), _) => {
            observe_role(directory, scope, role.id.as_deref(), role.name.as_deref()).await
        }
        (None, Some(group)) => {
            observe_group(
                directory,
                group
                    .id
                    .as_deref()
                    .or(group.name.as_deref())
                    .unwrap_or_default(),
            )
            .await
        }
        (None, None) => Err(Error::Invalid(
            "the review's scope names neither a role nor a group".to_owned(),
        )),
    }
}

async fn observe_role<D: Directory>(
    directory: &D,
    scope: &Scope,
    id: Option<&str>,
    name: Option<&str>,
) -> Result<ObservedScope, Error> {
    let role = directory
        .find_role(id, name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("role {}", id.or(name).unwrap_or_default())))?;

    let mut assignments = Vec::new();
    let mut page = None;
    loop {
        let batch = directory.list_assignments(&role.id, page).await?;
        assignments.extend(batch.items);
        match batch.next {
            Some(next) => page = Some(next),
            None => break,
        }
    }
    assignments.retain(|a| {
        let kind_ok = match scope.assignments {
            AssignmentFilter::All => true,
            AssignmentFilter::Active => a.kind == AssignmentType::Active,
            AssignmentFilter::Eligible => a.kind == AssignmentType::Eligible,
        };
        kind_ok && scope.resource_scope.as_ref().is_none_or(|s| *s == a.scope)
    });

    let ids: Vec<String> = assignments
        .iter()
        .map(|a| a.principal.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut principals = lookup_all(directory, &ids).await?;
    let mut items: BTreeMap<String, Item> = BTreeMap::new();
    let mut groups: Vec<(GroupInfo, Removal)> = Vec::new();
    for assignment in &assignments {
        // An assignment whose principal no longer exists has nobody to review.
        let Some(principal) = principals.get(&assignment.principal).cloned() else {
            continue;
        };
        let removal = Removal::Assignment {
            id: assignment.id.clone(),
            kind: assignment.kind,
            principal: assignment.principal.clone(),
            role: assignment.role.clone(),
            scope: assignment.scope.clone(),
        };
        match principal {
            Principal::Group(group) if scope.expand_groups => groups.push((group, removal)),
            principal => push_access(
                &mut items,
                principal,
                Access {
                    removal,
                    via: None,
                    not_supported: None,
                },
            ),
        }
    }
    for (group, removal) in groups {
        for (member, path) in transitive_members(directory, &group.id, &mut principals).await? {
            let via = path.last().cloned().unwrap_or_else(|| group.id.clone());
            let reason = format!(
                "access is held through group `{}`; remove the member from that group, or review the group itself (expandGroups: false)",
                group.display_name
            );
            push_access(
                &mut items,
                member,
                Access {
                    removal: removal.clone(),
                    via: Some(via),
                    not_supported: Some(reason),
                },
            );
        }
    }
    Ok(ObservedScope {
        target_kind: TargetKind::Role,
        target_id: role.id,
        target_name: role.display_name,
        items,
        member_of: None,
    })
}

/// The one group whose id or display name is `key`.
async fn find_group<D: Directory>(directory: &D, key: &str) -> Result<GroupInfo, Error> {
    let mut found = directory.find_groups(key).await?;
    if found.len() > 1 {
        return Err(Error::Invalid(format!(
            "{} groups are named `{key}`; name the group by id",
            found.len()
        )));
    }
    found
        .pop()
        .ok_or_else(|| Error::NotFound(format!("group {key}")))
}

async fn observe_group<D: Directory>(directory: &D, key: &str) -> Result<ObservedScope, Error> {
    let group = find_group(directory, key).await?;
    let mut principals = HashMap::new();
    let mut items = BTreeMap::new();
    for (member, path) in transitive_members(directory, &group.id, &mut principals).await? {
        let direct = path.is_empty();
        let not_supported = if !direct {
            let nested = principals
                .get(&path[0])
                .map_or(path[0].as_str(), Principal::display_name);
            Some(format!(
                "member through nested group `{nested}`; remove them from that group"
            ))
        } else if group.membership == Membership::Dynamic {
            Some(format!(
                "group `{}` is dynamic: its members come from a rule",
                group.display_name
            ))
        } else if group.source == Source::OnPremises {
            Some(format!(
                "group `{}` is synced from on-premises and cannot be changed here",
                group.display_name
            ))
        } else {
            None
        };
        let removal = Removal::GroupMember {
            group: group.id.clone(),
            member: member.id().to_owned(),
        };
        let via = path.first().cloned();
        push_access(
            &mut items,
            member,
            Access {
                removal,
                via,
                not_supported,
            },
        );
    }
    Ok(ObservedScope {
        target_kind: TargetKind::Group,
        target_id: group.id,
        target_name: group.display_name,
        items,
        member_of: None,
    })
}

fn push_access(items: &mut BTreeMap<String, Item>, principal: Principal, access: Access) {
    let item = items
        .entry(principal.id().to_owned())
        .or_insert_with(|| Item {
            principal,
            access: Vec::new(),
        });
    if !item.access.contains(&access) {
        item.access.push(access);
        item.access.sort();
    }
}

/// Every member of a group, transitively, with the chain of nested groups each was reached
/// through (empty for direct members). Breadth-first, so each member keeps its shortest path;
/// a group seen twice (a cycle) is not expanded again.
async fn transitive_members<D: Directory>(
    directory: &D,
    root: &str,
    principals: &mut HashMap<String, Principal>,
) -> Result<Vec<(Principal, Vec<String>)>, Error> {
    Ok(expand(directory, root, principals).await?.0)
}

/// [`transitive_members`], and every group expanded on the way (the root among them).
async fn expand<D: Directory>(
    directory: &D,
    root: &str,
    principals: &mut HashMap<String, Principal>,
) -> Result<(Vec<(Principal, Vec<String>)>, BTreeSet<String>), Error> {
    let mut out = Vec::new();
    let mut queue = VecDeque::from([(root.to_owned(), Vec::<String>::new())]);
    let mut expanded = BTreeSet::from([root.to_owned()]);
    let mut seen = BTreeSet::new();
    while let Some((group, path)) = queue.pop_front() {
        let mut members = Vec::new();
        let mut page = None;
        loop {
            let batch = directory.list_members(&group, page).await?;
            members.extend(batch.items);
            match batch.next {
                Some(next) => page = Some(next),
                None => break,
            }
        }
        let unknown: Vec<String> = members
            .iter()
            .filter(|m| !principals.contains_key(*m))
            .cloned()
            .collect();
        principals.extend(lookup_all(directory, &unknown).await?);
        for member in members {
            let Some(principal) = principals.get(&member).cloned() else {
                continue;
            };
            match &principal {
                Principal::Group(_) => {
                    if expanded.insert(member.clone()) {
                        let mut nested = path.clone();
                        nested.push(member.clone());
                        queue.push_back((member, nested));
                    }
                }
                Principal::User(_) | Principal::ServicePrincipal(_) => {
                    if seen.insert(member.clone()) {
                        out.push((principal, path.clone()));
                    }
                }
            }
        }
    }
    Ok((out, expanded))
}

/// Looks principals up in batches of the directory's size.
async fn lookup_all<D: Directory>(
    directory: &D,
    ids: &[String],
) -> Result<HashMap<String, Principal>, Error> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(directory.lookup_batch_size().max(1)) {
        for principal in directory.lookup(chunk).await? {
            out.insert(principal.id().to_owned(), principal);
        }
    }
    Ok(out)
}

//! The population at launch: what an instance read, from where and when, and a digest of the
//! snapshot it kept, so that an auditor can check the population was complete and was not
//! edited afterwards.
//!
//! The digest is over the *canonical snapshot*: a JSON array with one object per item of the
//! instance, in ascending order of principal id (the order of `items` in `state.json`), each
//! object holding the item's `principal` and `access` exactly as `state.json` holds them,
//! written with every object's keys sorted, no whitespace and non-ASCII characters as they
//! are (UTF-8). `digest` is `sha256:` and the lower-case hex SHA-256 of those bytes. In Python:
//!
//! ```python
//! items = instance["items"]
//! snap = [{"principal": items[k]["principal"], "access": items[k]["access"]} for k in sorted(items)]
//! data = json.dumps(snap, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
//! assert "sha256:" + hashlib.sha256(data).hexdigest() == instance["population"]["digest"]
//! ```
//!
//! Decisions, recommendations and apply results are not in the snapshot: they change while the
//! instance runs; what was read at launch does not.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::directory::observe::TargetKind;
use crate::model::review::{AssignmentFilter, ObjectRef, Timestamp, UserTypeFilter};
use crate::state::ItemState;

/// What an instance read at launch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Population {
    /// When the directory was read.
    pub read_at: Timestamp,
    /// Which directory.
    pub directory: Source,
    /// What was asked of it.
    pub query: Query,
    /// Principals the directory returned in scope, before the filters.
    pub read: usize,
    /// Principals kept: the instance's items.
    pub kept: usize,
    /// `sha256:` and the hex digest of the canonical snapshot of the items (see the module).
    pub digest: String,
}

/// The directory a population was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    /// The `Directory` document's name.
    pub name: String,
    /// Its type (`graph`, `scim`, `file`), where the reader knew it.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// The query: the role or group, which of its assignments, and the filters with what each did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Query {
    /// `role` or `group`.
    pub target: TargetKind,
    pub target_id: String,
    pub target_name: String,
    /// With a role: which assignments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignments: Option<AssignmentFilter>,
    /// With a role: the one resource scope read, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_scope: Option<String>,
    /// With a role: whether groups holding it were expanded to their members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expand_groups: Option<bool>,
    /// The scope's filters, in the order they are applied; absent ones were not set.
    #[serde(default, skip_serializing_if = "Filters::is_empty")]
    pub filters: Filters,
}

/// Each filter as set, and how many principals it left out. A principal left out by several
/// is counted once, under the first in this order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<ExcludeFilter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<UserTypeResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_of: Option<MemberOfFilter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive_days: Option<InactiveDaysFilter>,
}

impl Filters {
    pub fn is_empty(&self) -> bool {
        self.exclude.is_none()
            && self.user_type.is_none()
            && self.member_of.is_none()
            && self.inactive_days.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExcludeFilter {
    /// The ids and user principal names listed.
    pub principals: Vec<String>,
    pub excluded: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserTypeResult {
    pub user_type: UserTypeFilter,
    pub excluded: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberOfFilter {
    /// The group as the review names it.
    pub group: ObjectRef,
    /// The group the directory resolved it to.
    pub group_id: String,
    pub group_name: String,
    /// Its members, transitively (users, service principals and nested groups).
    pub members: usize,
    pub excluded: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InactiveDaysFilter {
    pub days: u32,
    pub excluded: usize,
    /// Principals kept because their sign-in is not known (users without one, groups, service
    /// principals): by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_sign_in: Vec<String>,
}

/// The canonical snapshot of `items` (see the module): the bytes the digest is over.
pub fn canonical(items: &BTreeMap<String, ItemState>) -> Vec<u8> {
    let snapshot: Vec<Value> = items
        .values()
        .map(|item| json!({ "access": item.access, "principal": item.principal }))
        .collect();
    // `serde_json::Value` objects are sorted maps (no `preserve_order` feature), so this is
    // written with sorted keys; plain data cannot fail to serialise.
    serde_json::to_vec(&snapshot).unwrap_or_default()
}

/// `sha256:` and the hex digest of the canonical snapshot of `items`.
pub fn digest(items: &BTreeMap<String, ItemState>) -> String {
    crate::audit::files::digest(&canonical(items))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::observe::Access;
    use crate::directory::{Principal, Removal};
    use crate::model::decisions::Decision;
    use crate::model::directory_data::AssignmentType;
    use crate::reconcile::tests::user;
    use crate::state::{DecisionState, Recommendation};

    fn items() -> BTreeMap<String, ItemState> {
        ["b-\u{e9}", "a"]
            .into_iter()
            .map(|id| {
                let mut u = user(id);
                u.display_name = Some(format!("Ren\u{e9}e \"{id}\""));
                let item = ItemState {
                    principal: Principal::User(u),
                    access: vec![Access {
                        removal: Removal::assignment(&format!("x-{id}"), AssignmentType::Active),
                        via: None,
                        not_supported: None,
                    }],
                    recommendation: Recommendation {
                        decision: None,
                        reason: "none".into(),
                    },
                    decision: None,
                    apply_result: None,
                    remediation: None,
                    stages: Vec::new(),
                };
                (id.to_owned(), item)
            })
            .collect()
    }

    #[test]
    fn the_canonical_snapshot_is_sorted_compact_json_of_principal_and_access_by_id() {
        let text = String::from_utf8(canonical(&items())).expect("UTF-8");
        assert_eq!(
            text,
            concat!(
                r#"[{"access":[{"removal":{"id":"x-a","kind":"active","principal":"","role":"","scope":"","type":"assignment"}}],"#,
                r#""principal":{"displayName":"Renée \"a\"","enabled":true,"id":"a","lastSignIn":"2026-11-20T00:00:00Z","manager":null,"source":"cloud","type":"user","userPrincipalName":"a@corp.example"}},"#,
                r#"{"access":[{"removal":{"id":"x-b-é","kind":"active","principal":"","role":"","scope":"","type":"assignment"}}],"#,
                r#""principal":{"displayName":"Renée \"b-é\"","enabled":true,"id":"b-é","lastSignIn":"2026-11-20T00:00:00Z","manager":null,"source":"cloud","type":"user","userPrincipalName":"b-é@corp.example"}}]"#,
            )
        );
    }

    #[test]
    fn the_digest_follows_what_was_read_and_not_what_was_decided() {
        let before = items();
        let digest_before = digest(&before);
        assert!(digest_before.starts_with("sha256:") && digest_before.len() == 7 + 64);

        let mut decided = before.clone();
        for item in decided.values_mut() {
            item.decision = Some(DecisionState {
                decision: Decision::Deny,
                reviewer: "r".into(),
                reason: None,
                at: crate::reconcile::tests::ts("2026-12-02"),
                by_system: false,
                source: None,
            });
            item.recommendation.reason = "changed".into();
        }
        assert_eq!(digest(&decided), digest_before);

        let mut renamed = before.clone();
        if let Some(item) = renamed.get_mut("a")
            && let Principal::User(u) = &mut item.principal
        {
            u.manager = Some("m".into());
        }
        assert_ne!(digest(&renamed), digest_before);

        let mut fewer = before;
        fewer.remove("a");
        assert_ne!(digest(&fewer), digest_before);
    }
}

//! Graph's JSON, as far as a review reads it, and how it maps onto the directory model.
//!
//! Every field a review does not strictly need is optional: Graph returns more or fewer
//! properties depending on `$select`, licences and permissions, and a missing one must not
//! fail a read.

use serde::Deserialize;

use crate::directory::{AssignmentInfo, GroupInfo, ServicePrincipalInfo, UserInfo};
use crate::model::directory_data::{AssignmentType, Membership, Source, UserType};
use crate::model::review::Timestamp;

/// One page of a collection.
#[derive(Debug, Clone, Deserialize)]
pub struct Collection<T> {
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    #[serde(default, rename = "@odata.nextLink")]
    pub next_link: Option<String>,
    #[serde(default, rename = "@odata.count")]
    pub count: Option<i64>,
}

/// A `unifiedRoleDefinition`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinition {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub is_built_in: Option<bool>,
}

/// A `unifiedRoleAssignment`, `unifiedRoleAssignmentScheduleInstance` or
/// `unifiedRoleEligibilityScheduleInstance`: the fields they share.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    pub id: String,
    pub principal_id: String,
    pub role_definition_id: String,
    #[serde(default)]
    pub directory_scope_id: Option<String>,
    /// `Direct`, `Group` or `Inherited` on schedule instances.
    #[serde(default)]
    pub member_type: Option<String>,
    /// `Assigned` or `Activated` on active schedule instances.
    #[serde(default)]
    pub assignment_type: Option<String>,
    #[serde(default)]
    pub principal: Option<DirectoryObject>,
}

impl RoleAssignment {
    /// Whether the principal holds this only through a role-assignable group. The group's own
    /// assignment is listed too, and the engine expands it and reports its members' access as
    /// held through the group; listing the inherited copies as well would offer to remove
    /// what only the group membership grants.
    pub fn is_inherited(&self) -> bool {
        self.member_type
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case("inherited"))
    }

    pub fn to_info(&self, kind: AssignmentType) -> AssignmentInfo {
        AssignmentInfo {
            id: self.id.clone(),
            principal: self.principal_id.clone(),
            role: self.role_definition_id.clone(),
            kind,
            scope: self
                .directory_scope_id
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "/".to_owned()),
        }
    }
}

/// A `directoryObject`: a user, a group, a service principal, … told apart by `@odata.type`
/// (or by the endpoint it was read from).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryObject {
    #[serde(default, rename = "@odata.type")]
    pub odata_type: Option<String>,
    /// Always there unless a `$select` left it out (every read here selects it).
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    #[serde(default)]
    pub account_enabled: Option<bool>,
    /// A user's SMTP address; null for a user without a mailbox.
    #[serde(default)]
    pub mail: Option<String>,
    /// A user's `Member` or `Guest`; null for some accounts made before the property existed,
    /// which Entra ID treats as members.
    #[serde(default)]
    pub user_type: Option<String>,
    #[serde(default)]
    pub on_premises_sync_enabled: Option<bool>,
    #[serde(default)]
    pub group_types: Option<Vec<String>>,
    #[serde(default)]
    pub sign_in_activity: Option<SignInActivity>,
    #[serde(default)]
    pub manager: Option<Box<DirectoryObject>>,
    /// A service principal's application (client) id.
    #[serde(default)]
    pub app_id: Option<String>,
}

/// A user's `signInActivity`: timestamps as Graph sends them (text), read when mapped.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInActivity {
    #[serde(default)]
    pub last_sign_in_date_time: Option<String>,
    #[serde(default)]
    pub last_non_interactive_sign_in_date_time: Option<String>,
    #[serde(default)]
    pub last_successful_sign_in_date_time: Option<String>,
}

impl SignInActivity {
    /// When the user last used the account: the last successful sign-in where Graph reports it,
    /// else the latest interactive or non-interactive attempt. Graph's "never" placeholder
    /// (`0001-01-01T00:00:00Z`) and unreadable values count as no sign-in.
    pub fn last_sign_in(&self) -> Option<Timestamp> {
        if let Some(t) = parse_time(self.last_successful_sign_in_date_time.as_deref()) {
            return Some(t);
        }
        let interactive = parse_time(self.last_sign_in_date_time.as_deref());
        let other = parse_time(self.last_non_interactive_sign_in_date_time.as_deref());
        interactive.max(other)
    }
}

fn parse_time(value: Option<&str>) -> Option<Timestamp> {
    let t = Timestamp::parse(value?.trim()).ok()?;
    // Graph writes "never" as the year 1.
    (t.0.as_second() > 0).then_some(t)
}

/// What kind of object an `@odata.type` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    User,
    Group,
    Other,
}

impl DirectoryObject {
    pub fn kind(&self) -> Option<ObjectKind> {
        let t = self.odata_type.as_deref()?;
        Some(match t.trim_start_matches('#') {
            "microsoft.graph.user" => ObjectKind::User,
            "microsoft.graph.group" => ObjectKind::Group,
            _ => ObjectKind::Other,
        })
    }

    pub fn to_user(&self) -> UserInfo {
        UserInfo {
            id: self.id.clone(),
            user_principal_name: self
                .user_principal_name
                .clone()
                .unwrap_or_else(|| self.id.clone()),
            display_name: self.display_name.clone(),
            // A manager can be an organizational contact (user-list-manager.md), who has no
            // account to review with: escalation to it goes nowhere, so it counts as none.
            manager: self
                .manager
                .as_deref()
                .filter(|m| m.kind().is_none_or(|k| k == ObjectKind::User) && !m.id.is_empty())
                .map(|m| m.id.clone()),
            last_sign_in: self
                .sign_in_activity
                .as_ref()
                .and_then(SignInActivity::last_sign_in),
            // Graph omits accountEnabled only when it was not selected; every read here
            // selects it, so a missing value is treated as the default state of an account.
            enabled: self.account_enabled.unwrap_or(true),
            source: source(self.on_premises_sync_enabled),
            mail: self.mail.clone().filter(|m| !m.trim().is_empty()),
            user_type: self
                .user_type
                .as_deref()
                .map_or(UserType::Member, UserType::from_directory),
        }
    }

    pub fn to_service_principal(&self) -> ServicePrincipalInfo {
        ServicePrincipalInfo {
            id: self.id.clone(),
            display_name: self
                .display_name
                .clone()
                .or_else(|| self.app_id.clone())
                .unwrap_or_else(|| self.id.clone()),
            app_id: self.app_id.clone(),
            // Graph leaves `accountEnabled` out for some service principals: enabled then.
            enabled: self.account_enabled.unwrap_or(true),
        }
    }

    pub fn to_group(&self) -> GroupInfo {
        let dynamic = self
            .group_types
            .iter()
            .flatten()
            .any(|t| t.eq_ignore_ascii_case("DynamicMembership"));
        GroupInfo {
            id: self.id.clone(),
            display_name: self.display_name.clone().unwrap_or_else(|| self.id.clone()),
            membership: if dynamic {
                Membership::Dynamic
            } else {
                Membership::Assigned
            },
            source: source(self.on_premises_sync_enabled),
        }
    }
}

fn source(on_premises_sync_enabled: Option<bool>) -> Source {
    // `true` while synced; `false` once sync stopped (the object is cloud-mastered again);
    // null for objects that were never synced.
    if on_premises_sync_enabled == Some(true) {
        Source::OnPremises
    } else {
        Source::Cloud
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_address_is_mail_else_the_user_principal_name() {
        let with_mail: DirectoryObject = serde_json::from_str(
            r#"{"id":"1","userPrincipalName":"alice@corp.example","mail":"alice.smith@corp.example"}"#,
        )
        .expect("parses");
        assert_eq!(
            with_mail.to_user().address(),
            Some("alice.smith@corp.example")
        );
        // Graph sends `"mail": null` for a user without a mailbox.
        let without: DirectoryObject = serde_json::from_str(
            r#"{"id":"2","userPrincipalName":"bob@corp.example","mail":null}"#,
        )
        .expect("parses");
        assert_eq!(without.to_user().address(), Some("bob@corp.example"));
    }

    #[test]
    fn an_expanded_manager_counts_when_it_is_a_user_and_not_when_it_is_a_contact() {
        let read = |manager: &str| {
            let body =
                format!(r#"{{"id":"1","userPrincipalName":"a@corp.example","manager":{manager}}}"#);
            let user: DirectoryObject = serde_json::from_str(&body).expect("parses");
            user.to_user().manager
        };
        assert_eq!(
            read(r##"{"@odata.type":"#microsoft.graph.user","id":"u-9"}"##).as_deref(),
            Some("u-9")
        );
        // The docs' examples leave the type out of an expanded manager.
        assert_eq!(read(r#"{"id":"u-9"}"#).as_deref(), Some("u-9"));
        assert_eq!(
            read(r##"{"@odata.type":"#microsoft.graph.orgContact","id":"c-1"}"##),
            None
        );
        assert_eq!(read("null"), None);
    }

    #[test]
    fn the_last_successful_sign_in_wins_and_year_one_means_never() {
        let activity: SignInActivity = serde_json::from_str(
            r#"{"lastSignInDateTime":"2021-06-17T16:41:33Z","lastNonInteractiveSignInDateTime":"0001-01-01T00:00:00Z"}"#,
        )
        .expect("parses");
        assert_eq!(
            activity.last_sign_in().map(|t| t.to_string()),
            Some("2021-06-17T16:41:33Z".to_owned())
        );
        let activity: SignInActivity = serde_json::from_str(
            r#"{"lastSignInDateTime":"2021-06-17T16:41:33Z","lastSuccessfulSignInDateTime":"2021-05-01T00:00:00.1234567Z"}"#,
        )
        .expect("parses");
        assert_eq!(
            activity.last_sign_in().map(|t| t.to_string()),
            Some("2021-05-01T00:00:00.1234567Z".to_owned())
        );
        let never: SignInActivity =
            serde_json::from_str(r#"{"lastSignInDateTime":"0001-01-01T00:00:00Z"}"#)
                .expect("parses");
        assert_eq!(never.last_sign_in(), None);
    }

    #[test]
    fn dynamic_and_synced_groups_are_recognised() {
        let group: DirectoryObject = serde_json::from_str(
            r##"{"@odata.type":"#microsoft.graph.group","id":"g1","displayName":"All staff","groupTypes":["Unified","DynamicMembership"],"onPremisesSyncEnabled":true}"##,
        )
        .expect("parses");
        assert_eq!(group.kind(), Some(ObjectKind::Group));
        let info = group.to_group();
        assert_eq!(info.membership, Membership::Dynamic);
        assert_eq!(info.source, Source::OnPremises);
    }
}

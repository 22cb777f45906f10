//! `DirectoryData`: the embedded directory, a YAML file of users, groups, roles and
//! assignments. A `Directory` with `type: file` points at it; applying a review's results edits
//! it. It is a document like the others so that `recert validate` and editors check it too.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::resource;
use super::review::Timestamp;

resource!(
    /// The contents of an embedded file directory: users, groups, roles and role assignments.
    DirectoryData,
    DirectoryDataSpec,
    DirectoryData
);

/// Users, groups, roles and the assignments that tie them together.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DirectoryDataSpec {
    /// The directory's users.
    #[serde(default)]
    pub users: Vec<User>,
    /// The directory's groups; a group may hold a role, and may contain other groups.
    #[serde(default)]
    pub groups: Vec<Group>,
    /// The roles that can be assigned.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Who holds which role.
    #[serde(default)]
    pub assignments: Vec<Assignment>,
}

/// A user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct User {
    /// A stable, unique id (in Entra ID, the object id).
    #[schemars(length(min = 1))]
    pub id: String,
    /// The sign-in name, such as `alice@corp.example`. Unique; reviews and decisions may name a
    /// user by it instead of the id.
    #[schemars(length(min = 1))]
    pub user_principal_name: String,
    /// The name people see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The id of this user's manager, for manager reviews.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    /// When the user last signed in (RFC 3339, or a date). Absent: unknown, and the review
    /// makes no recommendation for this user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sign_in: Option<Timestamp>,
    /// Whether the account can sign in. Defaults to true.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
    /// The address notifications are e-mailed to. Defaults to the user principal name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 320))]
    pub mail: Option<String>,
    /// Where the account is mastered. Defaults to `cloud`.
    #[serde(default, skip_serializing_if = "Source::is_cloud")]
    pub source: Source,
    /// `member` (the default) or `guest`, as Entra ID's `userType`: a review's
    /// `scope.userType` selects by it.
    #[serde(default, skip_serializing_if = "UserType::is_member")]
    pub user_type: UserType,
}

/// A user's type, as Entra ID's `userType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum UserType {
    /// A member of the organisation.
    #[default]
    Member,
    /// A guest from outside it.
    Guest,
}

impl UserType {
    pub fn is_member(&self) -> bool {
        *self == UserType::Member
    }

    /// Graph's spelling (`Member`, `Guest`) or SCIM's `userType` value: `Guest`, without case,
    /// is a guest; any other value (SCIM's `Employee`, `Contractor`, …) is a member.
    pub fn from_directory(value: &str) -> UserType {
        if value.eq_ignore_ascii_case("guest") {
            UserType::Guest
        } else {
            UserType::Member
        }
    }
}

/// A group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Group {
    /// A stable, unique id.
    #[schemars(length(min = 1))]
    pub id: String,
    /// The group's name, unique; a review's group scope may name it.
    #[schemars(length(min = 1))]
    pub display_name: String,
    /// Direct members: ids of users or of other (nested) groups.
    #[serde(default)]
    pub members: Vec<String>,
    /// How members are added: `assigned` by hand, or `dynamic` by a rule. Defaults to
    /// `assigned`. Membership of a dynamic group cannot be removed by a review.
    #[serde(default, skip_serializing_if = "Membership::is_assigned")]
    pub membership: Membership,
    /// Where the group is mastered. Defaults to `cloud`. Membership of a group synced from
    /// on-premises cannot be changed here.
    #[serde(default, skip_serializing_if = "Source::is_cloud")]
    pub source: Source,
}

/// A role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Role {
    /// A stable, unique id (in Entra ID, the role definition's template id).
    #[schemars(length(min = 1))]
    pub id: String,
    /// The role's name, unique, such as `Global Administrator`.
    #[schemars(length(min = 1))]
    pub display_name: String,
}

/// One principal holding one role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Assignment {
    /// A stable, unique id; removal names the assignment by it.
    #[schemars(length(min = 1))]
    pub id: String,
    /// The id of the user or group that holds the role.
    #[schemars(length(min = 1))]
    pub principal: String,
    /// The id of the role.
    #[schemars(length(min = 1))]
    pub role: String,
    /// `active` (in force now) or `eligible` (may be activated). Defaults to `active`.
    #[serde(default, rename = "type")]
    pub kind: AssignmentType,
    /// Where the role applies, such as `/` (the whole directory, the default) or
    /// `/subscriptions/…`.
    #[serde(default = "root_scope")]
    #[schemars(length(min = 1))]
    pub scope: String,
}

/// `active` or `eligible`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum AssignmentType {
    /// The assignment is in force.
    #[default]
    Active,
    /// The principal may activate the role when needed (PIM eligibility).
    Eligible,
}

/// Where an account or group is mastered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    /// Mastered in the directory itself.
    #[default]
    Cloud,
    /// Synced from an on-premises directory; it cannot be changed here.
    OnPremises,
}

impl Source {
    fn is_cloud(&self) -> bool {
        *self == Source::Cloud
    }
}

/// How a group's members are added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Membership {
    /// Members are added and removed by hand.
    #[default]
    Assigned,
    /// Members are computed from a rule.
    Dynamic,
}

impl Membership {
    fn is_assigned(&self) -> bool {
        *self == Membership::Assigned
    }
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn root_scope() -> String {
    "/".to_owned()
}

//! Directories: where role assignments live.
//!
//! [`Directory`] is shaped for real directory APIs — lists come in pages, principals are
//! looked up many at a time, and a removal answers for one item — so that Microsoft Graph and
//! SCIM implement it as naturally as the embedded [`file::FileDirectory`]. What a review needs
//! from a directory (the assignments in scope, expanded through groups, with each principal's
//! sign-in and manager) is assembled once, for every implementation, by [`observe`].

pub mod any;
pub mod file;
pub mod graph;
pub mod http;
pub mod observe;
pub mod redact;
pub mod registry;
pub mod scim;
pub mod secret;

use std::fmt;
use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::model::directory_data::{AssignmentType, Membership, Source, UserType};
use crate::model::review::Timestamp;

pub use any::AnyDirectory;
pub use observe::{Access, Item, ObservedScope, observe};

/// A role that can be assigned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleInfo {
    pub id: String,
    pub display_name: String,
}

/// A user as a review needs to know them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    pub id: String,
    pub user_principal_name: String,
    pub display_name: Option<String>,
    pub manager: Option<String>,
    pub last_sign_in: Option<Timestamp>,
    /// The e-mail address notifications go to: Graph's `mail`, SCIM's primary `emails` value,
    /// the embedded directory's `mail`. See [`UserInfo::address`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
    pub enabled: bool,
    pub source: Source,
    /// Graph's `userType`, SCIM's `userType` attribute (`Guest` without case is a guest),
    /// the embedded directory's `userType`; absent, a member.
    #[serde(default, skip_serializing_if = "UserType::is_member")]
    pub user_type: UserType,
}

impl UserInfo {
    /// Where to e-mail this user: `mail`, else the user principal name when it is an address
    /// (in Entra ID and most SCIM services it is), else nowhere.
    pub fn address(&self) -> Option<&str> {
        self.mail
            .as_deref()
            .filter(|m| crate::notify::config::address(m).is_ok())
            .or_else(|| {
                Some(self.user_principal_name.as_str())
                    .filter(|u| crate::notify::config::address(u).is_ok())
            })
    }
}

/// A group as a review needs to know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupInfo {
    pub id: String,
    pub display_name: String,
    pub membership: Membership,
    pub source: Source,
}

/// An application's identity in the directory (an Entra ID service principal): it can hold a
/// role, cannot review itself and has no manager, so its items go to fallback reviewers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipalInfo {
    pub id: String,
    pub display_name: String,
    /// The application (client) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    pub enabled: bool,
}

/// A user, a group or a service principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Principal {
    User(UserInfo),
    Group(GroupInfo),
    ServicePrincipal(ServicePrincipalInfo),
}

impl Principal {
    pub fn id(&self) -> &str {
        match self {
            Principal::User(u) => &u.id,
            Principal::Group(g) => &g.id,
            Principal::ServicePrincipal(s) => &s.id,
        }
    }

    pub fn display_name(&self) -> &str {
        match self {
            Principal::User(u) => u.display_name.as_deref().unwrap_or(&u.user_principal_name),
            Principal::Group(g) => &g.display_name,
            Principal::ServicePrincipal(s) => &s.display_name,
        }
    }
}

/// The principal a name (an id or a user principal name) stands for among `found` (what a
/// [`Directory::lookup`] returned for a batch of names). Ids and user principal names are two
/// namespaces: a principal whose id is `name` wins over a user whose user principal name
/// spells it, so one user can never stand in for another.
pub fn resolve_name<'a>(found: &'a [Principal], name: &str) -> Option<&'a Principal> {
    found.iter().find(|p| p.id() == name).or_else(|| {
        found.iter().find(|p| {
            matches!(p, Principal::User(u) if u.user_principal_name.to_lowercase() == name.to_lowercase())
        })
    })
}

/// One role assignment as the directory lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentInfo {
    pub id: String,
    pub principal: String,
    pub role: String,
    pub kind: AssignmentType,
    pub scope: String,
}

/// One page of a list, and the token for the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// What a removal targets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Removal {
    /// A role assignment, active or eligible. Principal, role and scope travel with the id
    /// because Graph removes a PIM-managed assignment by a schedule request that names them,
    /// not by the assignment's id.
    #[serde(rename_all = "camelCase")]
    Assignment {
        id: String,
        kind: AssignmentType,
        #[serde(default)]
        principal: String,
        #[serde(default)]
        role: String,
        #[serde(default)]
        scope: String,
    },
    /// A member of a group (for a group-scoped review).
    #[serde(rename_all = "camelCase")]
    GroupMember { group: String, member: String },
}

#[cfg(test)]
impl Removal {
    /// An assignment by id alone, for tests that do not need principal, role or scope.
    pub fn assignment(id: &str, kind: AssignmentType) -> Removal {
        Removal::Assignment {
            id: id.to_owned(),
            kind,
            principal: String::new(),
            role: String::new(),
            scope: String::new(),
        }
    }
}

impl fmt::Display for Removal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Removal::Assignment { id, kind, .. } => {
                let kind = match kind {
                    AssignmentType::Active => "active",
                    AssignmentType::Eligible => "eligible",
                };
                write!(f, "{kind} assignment `{id}`")
            }
            Removal::GroupMember { group, member } => {
                write!(f, "membership of `{member}` in group `{group}`")
            }
        }
    }
}

/// How one removal went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum RemoveOutcome {
    Removed,
    /// The assignment (or membership) was not there.
    NotFound,
    /// The directory cannot make this change; the reason says why.
    NotSupported {
        reason: String,
    },
}

/// Failures talking to a directory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("the directory asked to slow down (retry after {retry_after_ms} ms)")]
    Throttled { retry_after_ms: u64 },
    #[error("the directory answered HTTP {status}: {body}")]
    Http { status: u16, body: String },
    #[error("not found: {0}")]
    NotFound(String),
    #[error("authentication failed: {0}")]
    Auth(String),
    #[error("cannot reach the directory: {0}")]
    Unavailable(String),
    #[error("the directory's data is invalid: {0}")]
    Invalid(String),
}

impl Error {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Throttled { .. } | Error::Unavailable(_) => true,
            Error::Http { status, .. } => *status >= 500 || *status == 429,
            Error::NotFound(_) | Error::Auth(_) | Error::Invalid(_) => false,
        }
    }
}

/// A directory that holds role assignments.
///
/// Every method answers for what it was asked and nothing more; paging loops, group expansion
/// and batching of look-ups are the caller's ([`observe`]), written once for every directory.
pub trait Directory: Send + Sync {
    /// Every role the directory defines.
    fn roles(&self) -> impl Future<Output = Result<Vec<RoleInfo>, Error>> + Send;

    /// The first role whose id is `id` or whose display name is `name`, in [`roles`] order.
    /// A directory that holds its roles in memory answers without listing them all; a
    /// review of one role among a thousand asks this once.
    ///
    /// [`roles`]: Directory::roles
    fn find_role(
        &self,
        id: Option<&str>,
        name: Option<&str>,
    ) -> impl Future<Output = Result<Option<RoleInfo>, Error>> + Send {
        async move {
            Ok(self
                .roles()
                .await?
                .into_iter()
                .find(|r| Some(r.id.as_str()) == id || Some(r.display_name.as_str()) == name))
        }
    }

    /// Groups whose id or display name is `key`.
    fn find_groups(&self, key: &str) -> impl Future<Output = Result<Vec<GroupInfo>, Error>> + Send;

    /// One page of the assignments of a role.
    fn list_assignments(
        &self,
        role: &str,
        page: Option<String>,
    ) -> impl Future<Output = Result<Page<AssignmentInfo>, Error>> + Send;

    /// One page of a group's direct members (user or group ids).
    fn list_members(
        &self,
        group: &str,
        page: Option<String>,
    ) -> impl Future<Output = Result<Page<String>, Error>> + Send;

    /// The most ids [`Directory::lookup`] takes at once (Graph's `$batch` takes 20).
    fn lookup_batch_size(&self) -> usize;

    /// The principals with these ids (users also by user principal name, without case, as
    /// Graph's `/users/{id | userPrincipalName}` allows); names that match nothing are left out.
    fn lookup(&self, ids: &[String]) -> impl Future<Output = Result<Vec<Principal>, Error>> + Send;

    /// Removes one assignment or membership.
    fn remove(&self, target: &Removal)
    -> impl Future<Output = Result<RemoveOutcome, Error>> + Send;

    /// Removes many, answering for each target in order as [`remove`] one after another
    /// would: a target listed twice is removed once, and its second mention answers
    /// `NotFound`.
    ///
    /// By default one [`remove`] after another, so that each removal is its own request to
    /// a remote directory, as it always was; a directory that can change many entries at the
    /// cost of one (the file directory: one parse, one write) does so.
    ///
    /// [`remove`]: Directory::remove
    fn remove_many(
        &self,
        targets: &[Removal],
    ) -> impl Future<Output = Vec<Result<RemoveOutcome, Error>>> + Send {
        async move {
            let mut outcomes = Vec::with_capacity(targets.len());
            for target in targets {
                outcomes.push(self.remove(target).await);
            }
            outcomes
        }
    }
}

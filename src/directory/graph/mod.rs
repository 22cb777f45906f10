//! Microsoft Entra ID through Microsoft Graph v1.0.
//!
//! What is read, and from where:
//!
//! - roles: `/roleManagement/directory/roleDefinitions`;
//! - active assignments: `roleAssignmentScheduleInstances`, which lists every active
//!   assignment, permanent or activated through PIM; eligible ones:
//!   `roleEligibilityScheduleInstances`. Both are filtered on `roleDefinitionId`. Instances a
//!   principal holds only through a role-assignable group (`memberType: Inherited`) are left
//!   out: the group's own assignment is listed, and the engine expands it;
//! - principals: `POST /$batch` of `GET /users/{id}` (with `signInActivity` and the manager's
//!   id), then, for the ids that are not users, `GET /groups/{id}`, then, for what is neither,
//!   `GET /servicePrincipals/{id}` (applications holding roles; they cannot review themselves,
//!   so their items go to the fallback reviewers). Other objects (devices) are left out;
//! - group members: `/groups/{id}/members`, direct members only (the engine expands nesting).
//!
//! Removals: an active assignment by a `roleAssignmentScheduleRequest` with `adminRemove`,
//! falling back to `DELETE /roleAssignments/{id}` when PIM answers that it holds no such
//! assignment (one made outside PIM); an eligible one by a `roleEligibilityScheduleRequest`
//! with `adminRemove`; a group member by `DELETE /groups/{id}/members/{member}/$ref`.
//!
//! A removal request is retried when its answer is lost (a dropped connection, a 5xx). If Graph
//! had acted on the lost attempt, the retry finds nothing and the removal reports `NotFound`
//! ("no longer exists") although this run removed it; the assignment is gone either way.

pub mod batch;
pub mod client;
pub mod error_body;
pub mod mapping;
pub mod token;

use std::path::Path;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::model::directory::GraphSettings;
use crate::model::directory_data::AssignmentType;

use super::http::{self, Http, RetryPolicy};
use super::secret;
use super::{
    AssignmentInfo, Directory, Error, GroupInfo, Page, Principal, Removal, RemoveOutcome, RoleInfo,
};

use client::GraphClient;
use error_body::ODataError;
use mapping::{Collection, DirectoryObject, ObjectKind, RoleAssignment, RoleDefinition};
use token::{Certificate, Credential, TokenSource, encode_segment};

pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
pub const DEFAULT_BASE_URL: &str = "https://graph.microsoft.com/v1.0";

/// The largest page `/groups` and `/groups/{id}/members` return (`$top`).
const GROUP_PAGE: usize = 999;

const USER_SELECT: &str = "id,userPrincipalName,displayName,mail,accountEnabled,onPremisesSyncEnabled,signInActivity,userType";
const GROUP_SELECT: &str = "id,displayName,groupTypes,onPremisesSyncEnabled";
const SERVICE_PRINCIPAL_SELECT: &str = "id,displayName,appId,accountEnabled";
const ASSIGNMENT_SELECT: &str =
    "id,principalId,roleDefinitionId,directoryScopeId,memberType,assignmentType";

/// The justification a removal request carries, for the tenant's PIM audit history.
const JUSTIFICATION: &str = "Removed by Recert: access denied in an access review";

/// Graph error codes (on a 400) meaning the assignment to remove does not exist (documented for
/// PIM requests: "RoleAssignmentDoesNotExist").
const NOT_FOUND_CODES: &[&str] = &["RoleAssignmentDoesNotExist", "Request_ResourceNotFound"];

/// Graph error codes (on a 400) meaning PIM refuses this removal by policy, not by fault:
/// an activation younger than five minutes, or a rule of the role's management policy.
const REFUSED_CODES: &[&str] = &[
    "ActiveDurationTooShort",
    "RoleAssignmentRequestPolicyValidationFailed",
];

/// How to reach a tenant.
#[derive(Debug)]
pub struct GraphConfig {
    pub tenant_id: String,
    pub client_id: String,
    pub credential: Credential,
    pub authority_url: String,
    pub base_url: String,
    pub max_concurrent: usize,
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl GraphConfig {
    /// The configuration a `Directory` manifest describes; secrets are read from where they are
    /// referenced, relative paths from `base_dir` (the manifest's folder).
    pub fn from_settings(
        settings: &GraphSettings,
        base_dir: &Path,
    ) -> Result<GraphConfig, SettingsError> {
        let credential = match (&settings.client_secret, &settings.client_certificate) {
            (Some(reference), None) => Credential::Secret(secret::resolve(reference, base_dir)?),
            (None, Some(reference)) => {
                let pem = secret::resolve(reference, base_dir)?;
                let certificate = Certificate::from_pem(pem.expose().as_bytes())
                    .map_err(SettingsError::Certificate)?;
                Credential::Certificate(Box::new(certificate))
            }
            _ => return Err(SettingsError::Credential),
        };
        Ok(GraphConfig {
            tenant_id: settings.tenant_id.clone(),
            client_id: settings.client_id.clone(),
            credential,
            authority_url: settings
                .authority_url
                .clone()
                .unwrap_or_else(|| DEFAULT_AUTHORITY.to_owned()),
            base_url: settings
                .base_url
                .clone()
                .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned()),
            max_concurrent: settings.max_concurrent_requests.unwrap_or(4) as usize,
            timeout: Duration::from_secs(settings.request_timeout_seconds.unwrap_or(30).into()),
            retry: RetryPolicy::default(),
        })
    }
}

/// Why a Graph `Directory`'s settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Secret(#[from] secret::SecretError),
    #[error("{0}")]
    Certificate(String),
    #[error("a graph directory takes exactly one of `clientSecret` and `clientCertificate`")]
    Credential,
}

/// A Microsoft Entra ID tenant, read and changed through Graph.
#[derive(Debug)]
pub struct GraphDirectory {
    client: GraphClient,
    retry: RetryPolicy,
}

impl GraphDirectory {
    pub fn new(config: GraphConfig) -> Result<GraphDirectory, Error> {
        let http = Http::new(
            http::Settings {
                service: "graph",
                max_concurrent: config.max_concurrent,
                timeout: config.timeout,
                retry: config.retry,
            },
            error_body::describe,
        )?;
        if let Credential::Secret(secret) = &config.credential {
            http.redactor().learn(secret.expose());
        }
        let origin = client::origin(config.base_url.trim_end_matches('/')).ok_or_else(|| {
            Error::Invalid(format!("`{}` is not an http(s) URL", config.base_url))
        })?;
        // The token is for the resource the base URL names (`https://graph.microsoft.com`, a
        // national cloud's Graph, or a test server), asked as its `/.default` scope.
        let token = TokenSource::new(
            &config.authority_url,
            &config.tenant_id,
            &config.client_id,
            format!("{origin}/.default"),
            config.credential,
        );
        Ok(GraphDirectory {
            client: GraphClient::new(http, &config.base_url, token)?,
            retry: config.retry,
        })
    }

    /// What this directory's errors are redacted with: its client secret, tokens and
    /// assertions.
    pub fn redactor(&self) -> &super::redact::Redactor {
        self.client.http.redactor()
    }

    /// An absolute URL with query parameters, encoded.
    fn url_with(&self, path: &str, params: &[(&str, String)]) -> Result<String, Error> {
        reqwest::Url::parse_with_params(&self.client.url(path), params)
            .map(String::from)
            .map_err(|e| Error::Invalid(format!("cannot build a Graph URL: {e}")))
    }

    async fn get_optional(&self, url: &str) -> Result<Option<DirectoryObject>, Error> {
        let response = self.client.send(Method::GET, url, None).await?;
        match response.status {
            s if s.is_success() => response.json().map(Some),
            StatusCode::NOT_FOUND => Ok(None),
            // A malformed id (not a GUID) is a 400 from /groups/{id}: no such group either.
            StatusCode::BAD_REQUEST => Ok(None),
            _ => Err(self.client.http.unexpected(&response)),
        }
    }

    async fn remove_assignment(
        &self,
        id: &str,
        kind: AssignmentType,
        principal: &str,
        role: &str,
        scope: &str,
    ) -> Result<RemoveOutcome, Error> {
        if principal.is_empty() || role.is_empty() {
            return Err(Error::Invalid(format!(
                "assignment `{id}` was recorded without its principal and role, which Graph needs to remove it; reconcile again to read it afresh"
            )));
        }
        let endpoint = match kind {
            AssignmentType::Active => "/roleManagement/directory/roleAssignmentScheduleRequests",
            AssignmentType::Eligible => "/roleManagement/directory/roleEligibilityScheduleRequests",
        };
        let body = json!({
            "action": "adminRemove",
            "principalId": principal,
            "roleDefinitionId": role,
            "directoryScopeId": if scope.is_empty() { "/" } else { scope },
            "justification": JUSTIFICATION,
        });
        let response = self
            .client
            .send(Method::POST, &self.client.url(endpoint), Some(&body))
            .await?;
        if response.status.is_success() {
            return Ok(RemoveOutcome::Removed);
        }
        let error = ODataError::parse(&response.body);
        let code = error.as_ref().map_or("", ODataError::code);
        if response.status == StatusCode::NOT_FOUND
            || (response.status == StatusCode::BAD_REQUEST && NOT_FOUND_CODES.contains(&code))
        {
            return match kind {
                // PIM holds no such active assignment; the directory's role assignments may
                // still hold one made outside PIM.
                AssignmentType::Active => self.delete_role_assignment(id).await,
                AssignmentType::Eligible => Ok(RemoveOutcome::NotFound),
            };
        }
        if response.status == StatusCode::BAD_REQUEST && REFUSED_CODES.contains(&code) {
            return Ok(RemoveOutcome::NotSupported {
                reason: format!(
                    "Privileged Identity Management refused the removal: {}",
                    self.client
                        .http
                        .redactor()
                        .redact(&error.map(|e| e.describe()).unwrap_or_default())
                ),
            });
        }
        Err(self.client.http.unexpected(&response))
    }

    async fn delete_role_assignment(&self, id: &str) -> Result<RemoveOutcome, Error> {
        let url = self.client.url(&format!(
            "/roleManagement/directory/roleAssignments/{}",
            encode_segment(id)
        ));
        let response = self.client.send(Method::DELETE, &url, None).await?;
        match response.status {
            s if s.is_success() => Ok(RemoveOutcome::Removed),
            StatusCode::NOT_FOUND => Ok(RemoveOutcome::NotFound),
            _ => Err(self.client.http.unexpected(&response)),
        }
    }

    async fn remove_member(&self, group: &str, member: &str) -> Result<RemoveOutcome, Error> {
        let url = self.client.url(&format!(
            "/groups/{}/members/{}/$ref",
            encode_segment(group),
            encode_segment(member)
        ));
        let response = self.client.send(Method::DELETE, &url, None).await?;
        match response.status {
            s if s.is_success() => Ok(RemoveOutcome::Removed),
            StatusCode::NOT_FOUND => Ok(RemoveOutcome::NotFound),
            // Graph refuses to change a dynamic group's or an on-premises-synced group's
            // members with a 400 that explains which.
            StatusCode::BAD_REQUEST => Ok(RemoveOutcome::NotSupported {
                reason: format!(
                    "Graph refused to remove the member: {}",
                    self.client.http.describe(response.status, &response.body)
                ),
            }),
            _ => Err(self.client.http.unexpected(&response)),
        }
    }
}

/// Where `list_assignments` is: the active instances, then the eligible ones.
enum Cursor {
    Active(Option<String>),
    Eligible(Option<String>),
}

const ACTIVE: &str = "active ";
const ELIGIBLE: &str = "eligible ";

impl Cursor {
    fn parse(token: Option<String>) -> Result<Cursor, Error> {
        let Some(token) = token else {
            return Ok(Cursor::Active(None));
        };
        let link = |rest: &str| (!rest.is_empty()).then(|| rest.to_owned());
        if let Some(rest) = token.strip_prefix(ACTIVE) {
            Ok(Cursor::Active(link(rest)))
        } else if let Some(rest) = token.strip_prefix(ELIGIBLE) {
            Ok(Cursor::Eligible(link(rest)))
        } else {
            Err(Error::Invalid(
                "bad page token for Graph assignments".to_owned(),
            ))
        }
    }
}

fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// An OData string literal's content: single quotes doubled.
fn odata_quote(s: &str) -> String {
    s.replace('\'', "''")
}

impl Directory for GraphDirectory {
    async fn roles(&self) -> Result<Vec<RoleInfo>, Error> {
        let url = self.url_with(
            "/roleManagement/directory/roleDefinitions",
            &[("$select", "id,displayName,isBuiltIn".to_owned())],
        )?;
        let roles: Vec<RoleDefinition> = self.client.all(&url).await?;
        Ok(roles
            .into_iter()
            .map(|r| RoleInfo {
                display_name: r.display_name.unwrap_or_else(|| r.id.clone()),
                id: r.id,
            })
            .collect())
    }

    async fn find_groups(&self, key: &str) -> Result<Vec<GroupInfo>, Error> {
        if is_guid(key) {
            let url = self.url_with(
                &format!("/groups/{}", encode_segment(key)),
                &[("$select", GROUP_SELECT.to_owned())],
            )?;
            if let Some(group) = self.get_optional(&url).await? {
                return Ok(vec![group.to_group()]);
            }
        }
        let url = self.url_with(
            "/groups",
            &[
                ("$filter", format!("displayName eq '{}'", odata_quote(key))),
                ("$select", GROUP_SELECT.to_owned()),
                ("$top", GROUP_PAGE.to_string()),
            ],
        )?;
        let groups: Vec<DirectoryObject> = self.client.all(&url).await?;
        Ok(groups.iter().map(DirectoryObject::to_group).collect())
    }

    async fn list_assignments(
        &self,
        role: &str,
        page: Option<String>,
    ) -> Result<Page<AssignmentInfo>, Error> {
        let (kind, endpoint, link) = match Cursor::parse(page)? {
            Cursor::Active(link) => (
                AssignmentType::Active,
                "/roleManagement/directory/roleAssignmentScheduleInstances",
                link,
            ),
            Cursor::Eligible(link) => (
                AssignmentType::Eligible,
                "/roleManagement/directory/roleEligibilityScheduleInstances",
                link,
            ),
        };
        let url = match link {
            Some(link) => link,
            None => self.url_with(
                endpoint,
                &[
                    (
                        "$filter",
                        format!("roleDefinitionId eq '{}'", odata_quote(role)),
                    ),
                    ("$select", ASSIGNMENT_SELECT.to_owned()),
                ],
            )?,
        };
        let collection: Collection<RoleAssignment> = self.client.page(&url).await?;
        let items = collection
            .value
            .iter()
            .filter(|a| !a.is_inherited())
            .map(|a| a.to_info(kind))
            .collect();
        let next = match (kind, collection.next_link) {
            (AssignmentType::Active, Some(link)) => Some(format!("{ACTIVE}{link}")),
            (AssignmentType::Active, None) => Some(ELIGIBLE.to_owned()),
            (AssignmentType::Eligible, Some(link)) => Some(format!("{ELIGIBLE}{link}")),
            (AssignmentType::Eligible, None) => None,
        };
        Ok(Page { items, next })
    }

    async fn list_members(&self, group: &str, page: Option<String>) -> Result<Page<String>, Error> {
        let url = match page {
            Some(link) => link,
            None => self.url_with(
                &format!("/groups/{}/members", encode_segment(group)),
                &[
                    ("$select", "id".to_owned()),
                    ("$top", GROUP_PAGE.to_string()),
                ],
            )?,
        };
        let collection: Collection<DirectoryObject> = self.client.page(&url).await?;
        Ok(Page {
            items: collection
                .value
                .into_iter()
                // Devices, contacts and service principals can be members too; a review covers
                // people and the groups that contain them.
                .filter(|m| m.kind() != Some(ObjectKind::Other) && !m.id.is_empty())
                .map(|m| m.id)
                .collect(),
            next: collection.next_link,
        })
    }

    fn lookup_batch_size(&self) -> usize {
        batch::MAX_BATCH
    }

    async fn lookup(&self, ids: &[String]) -> Result<Vec<Principal>, Error> {
        let mut unique: Vec<&String> = Vec::with_capacity(ids.len());
        for id in ids {
            if !unique.contains(&id) {
                unique.push(id);
            }
        }
        let mut out = Vec::with_capacity(unique.len());
        for chunk in unique.chunks(batch::MAX_BATCH) {
            let users: Vec<String> = chunk
                .iter()
                .map(|id| {
                    format!(
                        "/users/{}?$select={USER_SELECT}&$expand=manager($select=id)",
                        encode_segment(id)
                    )
                })
                .collect();
            let found = batch::get_many(&self.client, &users, self.retry).await?;
            let mut not_users = Vec::new();
            for (id, body) in chunk.iter().zip(found) {
                match body {
                    Some(body) => out.push(Principal::User(parse_object(body)?.to_user())),
                    None => not_users.push(*id),
                }
            }
            // A user principal name is never a group's id; only object ids are tried as groups.
            not_users.retain(|id| !id.contains('@'));
            if not_users.is_empty() {
                continue;
            }
            let groups: Vec<String> = not_users
                .iter()
                .map(|id| format!("/groups/{}?$select={GROUP_SELECT}", encode_segment(id)))
                .collect();
            let found = batch::get_many(&self.client, &groups, self.retry).await?;
            let mut neither = Vec::new();
            for (id, body) in not_users.iter().zip(found) {
                match body {
                    Some(body) => out.push(Principal::Group(parse_object(body)?.to_group())),
                    None => neither.push(*id),
                }
            }
            // Applications hold roles too (a service principal with Global Administrator is
            // exactly what a review must not miss).
            if neither.is_empty() {
                continue;
            }
            let apps: Vec<String> = neither
                .iter()
                .map(|id| {
                    format!(
                        "/servicePrincipals/{}?$select={SERVICE_PRINCIPAL_SELECT}",
                        encode_segment(id)
                    )
                })
                .collect();
            for body in batch::get_many(&self.client, &apps, self.retry)
                .await?
                .into_iter()
                .flatten()
            {
                out.push(Principal::ServicePrincipal(
                    parse_object(body)?.to_service_principal(),
                ));
            }
        }
        Ok(out)
    }

    async fn remove(&self, target: &Removal) -> Result<RemoveOutcome, Error> {
        match target {
            Removal::Assignment {
                id,
                kind,
                principal,
                role,
                scope,
            } => {
                self.remove_assignment(id, *kind, principal, role, scope)
                    .await
            }
            Removal::GroupMember { group, member } => self.remove_member(group, member).await,
        }
    }
}

fn parse_object(body: Value) -> Result<DirectoryObject, Error> {
    let object: DirectoryObject = serde_json::from_value(body)
        .map_err(|e| Error::Invalid(format!("cannot read a directory object from Graph: {e}")))?;
    if object.id.is_empty() {
        return Err(Error::Invalid(
            "Graph returned a directory object without an id".to_owned(),
        ));
    }
    Ok(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_are_recognised_and_names_are_not() {
        assert!(is_guid("02bd9fd6-8f93-4758-87c3-1fb73740a315"));
        assert!(!is_guid("Prod Admins"));
        assert!(!is_guid("02bd9fd6-8f93-4758-87c3-1fb73740a31g"));
    }

    #[test]
    fn quotes_in_filter_literals_are_doubled() {
        assert_eq!(odata_quote("O'Brien's group"), "O''Brien''s group");
    }

    #[test]
    fn page_tokens_walk_active_then_eligible() {
        assert!(matches!(Cursor::parse(None), Ok(Cursor::Active(None))));
        assert!(matches!(
            Cursor::parse(Some("eligible ".to_owned())),
            Ok(Cursor::Eligible(None))
        ));
        assert!(matches!(
            Cursor::parse(Some("active https://x/next".to_owned())),
            Ok(Cursor::Active(Some(link))) if link == "https://x/next"
        ));
        assert!(Cursor::parse(Some("garbage".to_owned())).is_err());
    }
}

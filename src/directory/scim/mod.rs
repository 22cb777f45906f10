//! A SCIM 2.0 service provider (RFC 7643/7644) as a directory.
//!
//! SCIM has no roles, so **groups are the roles under review**:
//!
//! * [`Directory::roles`] lists the groups (id, `displayName`);
//! * [`Directory::list_assignments`] of a group gives its members as active assignments at
//!   scope `/`, each with the id `{group}:{member}`, derived so that the same membership has
//!   the same id on every read;
//! * a member that is itself a group is access through a nested group, reported by
//!   [`super::observe`] exactly as for the file directory (not removable by the review);
//! * users map `userName` → user principal name, `displayName` (else `name.formatted`),
//!   `active` → enabled (missing means active), and the enterprise extension's
//!   `manager.value` → manager. Core SCIM has no sign-in time, so it is unknown.
//!
//! Reads: lists page with `startIndex`/`count`/`sortBy=id` and go on from the number of
//! resources actually received, since a server may cap a page below what was asked. Look-ups
//! send one `filter=id eq "a" or userName eq "a" or …` per batch (then the same for groups
//! with whatever matched no user). Each id no filter matched is asked for by path
//! (`GET /Users/{id}`, then `/Groups/{id}`), since some servers ignore an attribute they cannot
//! filter on instead of refusing the filter; a server that refuses `or` filters, or whose
//! filter missed what a path found, is asked one id at a time from then on.
//!
//! A review's group is found by an `id`/`displayName` filter, or, when that finds nothing, by
//! listing the groups and matching them here.
//!
//! Known limit: [`Directory::lookup`] takes bare ids, so on a server whose users and groups
//! share one id space (django-scim2 numbers both from 1) a nested group whose id is also a
//! user's id is taken for that user. A group's members come whole with the group (`attributes=members`):
//! SCIM has no paging for a multi-valued attribute.
//!
//! Removal is `PATCH /Groups/{id}`, in the RFC form first and the Entra ID form as a fallback
//! (see [`remove`]), guarded by the group's ETag when the server gives one.

mod filter;
mod lookup;
mod remove;
pub mod wire;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8};
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, ETAG, IF_MATCH};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;

use super::http::{Http, Response, RetryPolicy, Settings};
use super::secret::{self, Secret};
use super::{
    AssignmentInfo, Directory, Error, GroupInfo, Page, Principal, Removal, RemoveOutcome, RoleInfo,
};
use crate::model::directory::ScimSettings;
use crate::model::directory_data::AssignmentType;

/// Resources per page unless the Directory says otherwise.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// Ids per look-up filter: two clauses each, so a batch stays well under common URL limits.
pub const LOOKUP_BATCH: usize = 50;

const SCIM_JSON: &str = "application/scim+json";
const USER_ATTRIBUTES: &str = "id,userName,displayName,name,active,emails,userType,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
const GROUP_ATTRIBUTES: &str = "id,displayName";

/// A SCIM service provider.
#[derive(Debug)]
pub struct ScimDirectory {
    http: Http,
    base: Url,
    token: Secret,
    page_size: usize,
    /// Set once the server has refused an `or` filter, or a filter has missed what exists:
    /// look-ups go one id at a time.
    no_or_filters: AtomicBool,
    /// Which member-removal form this server accepted last ([`remove::Dialect`]).
    dialect: AtomicU8,
    /// The last members and version read of each group, for removals guarded by `If-Match`.
    groups: Mutex<HashMap<String, Snapshot>>,
    /// Requests sent, by method and status: what tests and benchmarks count.
    requests: Mutex<BTreeMap<(String, u16), u64>>,
}

/// A group's members as last read, and the version they were read at.
#[derive(Debug, Clone)]
struct Snapshot {
    members: HashSet<String>,
    version: Option<String>,
}

/// A query's result, or the server's refusal of its filter (so the caller can fall back).
enum Queried<T> {
    Found(Vec<T>),
    FilterRejected(Error),
}

impl ScimDirectory {
    /// A client for the service the settings name. A relative secret file is read from
    /// `base_dir`, the folder of the Directory manifest.
    pub fn new(settings: &ScimSettings, base_dir: &Path) -> Result<ScimDirectory, Error> {
        let token = secret::resolve(&settings.bearer_token, base_dir)
            .map_err(|e| Error::Auth(format!("cannot read the bearer token: {e}")))?;
        let base = Url::parse(settings.base_url.trim_end_matches('/'))
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base())
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "`{}` is not an http(s) base URL",
                    settings.base_url
                ))
            })?;
        let http = Http::new(
            Settings {
                service: "scim",
                max_concurrent: settings.max_concurrent_requests.unwrap_or(4).max(1) as usize,
                timeout: Duration::from_secs(u64::from(
                    settings.request_timeout_seconds.unwrap_or(30).max(1),
                )),
                retry: RetryPolicy::default(),
            },
            wire::describe_error,
        )?;
        http.redactor().learn(token.expose());
        Ok(ScimDirectory {
            http,
            base,
            token,
            page_size: settings
                .page_size
                .map_or(DEFAULT_PAGE_SIZE, |n| n.max(1) as usize),
            no_or_filters: AtomicBool::new(false),
            dialect: AtomicU8::new(remove::Dialect::Unknown as u8),
            groups: Mutex::new(HashMap::new()),
            requests: Mutex::new(BTreeMap::new()),
        })
    }

    /// What this directory's errors are redacted with: its bearer token.
    pub fn redactor(&self) -> &super::redact::Redactor {
        self.http.redactor()
    }

    /// Requests sent so far, by method and HTTP status.
    pub fn requests(&self) -> BTreeMap<(String, u16), u64> {
        self.requests.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Requests sent so far with this method, whatever their status.
    pub fn requests_with(&self, method: &str) -> u64 {
        self.requests()
            .iter()
            .filter(|((m, _), _)| m == method)
            .map(|(_, n)| n)
            .sum()
    }

    /// `base/segment/segment…`, each segment percent-encoded (ids may hold any character).
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Sends one request (with the shared retry policy) and counts it.
    async fn call(
        &self,
        method: Method,
        url: Url,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
        if_match: Option<&str>,
    ) -> Result<Response, Error> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| Error::Invalid(format!("cannot encode the request: {e}")))?;
        let response = self
            .http
            .send(|| {
                let mut request = self
                    .http
                    .client()
                    .request(method.clone(), url.clone())
                    .bearer_auth(self.token.expose())
                    .header(ACCEPT, format!("{SCIM_JSON}, application/json"));
                if !query.is_empty() {
                    request = request.query(query);
                }
                if let Some(body) = &body {
                    request = request.header(CONTENT_TYPE, SCIM_JSON).body(body.clone());
                }
                if let Some(version) = if_match {
                    request = request.header(IF_MATCH, version);
                }
                request
            })
            .await?;
        if let Ok(mut counts) = self.requests.lock() {
            *counts
                .entry((method.to_string(), response.status.as_u16()))
                .or_default() += 1;
        }
        Ok(response)
    }

    /// Every resource of `endpoint` the filter selects, page by page.
    async fn query<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        filter: Option<&str>,
        attributes: &str,
    ) -> Result<Queried<T>, Error> {
        let url = self.url(&[endpoint]);
        let mut out = Vec::new();
        let mut start = 1usize;
        loop {
            let mut query = vec![
                ("attributes", attributes.to_owned()),
                // Unsorted order may change between calls, which would skip or repeat
                // resources across pages.
                ("sortBy", "id".to_owned()),
                ("startIndex", start.to_string()),
                ("count", self.page_size.to_string()),
            ];
            if let Some(filter) = filter {
                query.push(("filter", filter.to_owned()));
            }
            let response = self
                .call(Method::GET, url.clone(), &query, None, None)
                .await?;
            if filter.is_some() && start == 1 && filter::rejected(&response) {
                return Ok(Queried::FilterRejected(self.http.unexpected(&response)));
            }
            if response.status != StatusCode::OK {
                return Err(self.http.unexpected(&response));
            }
            let page: wire::ListResponse<T> = response.json()?;
            let got = page.resources.len();
            out.extend(page.resources);
            // Go on from what was received, never from what was asked: a server caps pages
            // at its own maximum (`itemsPerPage` below `count`).
            let done = match page.total_results {
                Some(total) => got == 0 || out.len() as u64 >= total,
                None => got == 0 || got < self.page_size,
            };
            if done {
                return Ok(Queried::Found(out));
            }
            start += got;
        }
    }

    /// A query whose filter the server must support.
    async fn query_all<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        filter: Option<&str>,
        attributes: &str,
    ) -> Result<Vec<T>, Error> {
        match self.query(endpoint, filter, attributes).await? {
            Queried::Found(items) => Ok(items),
            Queried::FilterRejected(e) => Err(e),
        }
    }

    /// One resource by id; `None` when the server has no such resource.
    async fn get_one<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        id: &str,
        attributes: &str,
    ) -> Result<Option<(T, Option<String>)>, Error> {
        let query = [("attributes", attributes.to_owned())];
        let response = self
            .call(Method::GET, self.url(&[endpoint, id]), &query, None, None)
            .await?;
        match response.status {
            StatusCode::OK => {
                let etag = etag(&response);
                Ok(Some((response.json()?, etag)))
            }
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.http.unexpected(&response)),
        }
    }

    /// Reads a group's members and version, and remembers them for a later removal.
    async fn read_group(&self, group: &str) -> Result<Option<(Vec<String>, Snapshot)>, Error> {
        let Some((resource, etag)) = self
            .get_one::<wire::Group>("Groups", group, "members")
            .await?
        else {
            self.forget(group);
            return Ok(None);
        };
        let members = resource.member_ids();
        let snapshot = Snapshot {
            members: members.iter().cloned().collect(),
            version: etag.or_else(|| resource.meta.and_then(|m| m.version)),
        };
        self.remember(group, &snapshot);
        Ok(Some((members, snapshot)))
    }

    fn remember(&self, group: &str, snapshot: &Snapshot) {
        if let Ok(mut groups) = self.groups.lock() {
            // Without a version a stale copy could not be detected, so it is not kept.
            if snapshot.version.is_some() {
                groups.insert(group.to_owned(), snapshot.clone());
            } else {
                groups.remove(group);
            }
        }
    }

    fn forget(&self, group: &str) {
        if let Ok(mut groups) = self.groups.lock() {
            groups.remove(group);
        }
    }

    /// The remembered version of the group, if the remembered copy has the member.
    fn remembered_version(&self, group: &str, member: &str) -> Option<String> {
        let groups = self.groups.lock().ok()?;
        let snapshot = groups.get(group)?;
        if snapshot.members.contains(member) {
            snapshot.version.clone()
        } else {
            None
        }
    }

    /// After a removal: the remembered copy loses the member and takes the group's new
    /// version; without one it cannot be trusted any more and is dropped.
    fn removed(&self, group: &str, member: &str, version: Option<String>) {
        if let Ok(mut groups) = self.groups.lock() {
            match (groups.get_mut(group), version) {
                (Some(snapshot), Some(version)) => {
                    snapshot.members.remove(member);
                    snapshot.version = Some(version);
                }
                _ => {
                    groups.remove(group);
                }
            }
        }
    }

    async fn members(&self, group: &str, page: Option<String>) -> Result<Vec<String>, Error> {
        if let Some(token) = page {
            return Err(Error::Invalid(format!("bad page token `{token}`")));
        }
        match self.read_group(group).await? {
            Some((members, _)) => Ok(members),
            None => Err(Error::NotFound(format!("group {group}"))),
        }
    }
}

fn etag(response: &Response) -> Option<String> {
    response
        .headers
        .get(ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The id of the assignment a membership stands for.
pub fn assignment_id(group: &str, member: &str) -> String {
    format!("{group}:{member}")
}

impl Directory for ScimDirectory {
    async fn roles(&self) -> Result<Vec<RoleInfo>, Error> {
        let groups: Vec<wire::Group> = self.query_all("Groups", None, GROUP_ATTRIBUTES).await?;
        Ok(groups
            .iter()
            .map(|g| {
                let info = g.info();
                RoleInfo {
                    id: info.id,
                    display_name: info.display_name,
                }
            })
            .collect())
    }

    async fn find_groups(&self, key: &str) -> Result<Vec<GroupInfo>, Error> {
        let wanted = filter::any([filter::eq("id", key), filter::eq("displayName", key)]);
        let groups: Vec<wire::Group> = match self
            .query("Groups", Some(&wanted), GROUP_ATTRIBUTES)
            .await?
        {
            Queried::Found(groups) if !groups.is_empty() => groups,
            // Refused, or found nothing: some servers (django-scim2) answer a group filter
            // with an empty list whatever it says, so the groups are listed and matched here
            // before the review is told its group does not exist.
            _ => self.query_all("Groups", None, GROUP_ATTRIBUTES).await?,
        };
        // `displayName` compares without case in SCIM; the engine names groups exactly, as
        // the file directory does.
        let mut out: Vec<GroupInfo> = groups
            .iter()
            .filter(|g| g.id == key || g.display_name.as_deref() == Some(key))
            .map(wire::Group::info)
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out.dedup_by(|a, b| a.id == b.id);
        Ok(out)
    }

    async fn list_assignments(
        &self,
        role: &str,
        page: Option<String>,
    ) -> Result<Page<AssignmentInfo>, Error> {
        let members = self.members(role, page).await?;
        Ok(Page {
            items: members
                .into_iter()
                .map(|member| AssignmentInfo {
                    id: assignment_id(role, &member),
                    principal: member,
                    role: role.to_owned(),
                    kind: AssignmentType::Active,
                    scope: "/".to_owned(),
                })
                .collect(),
            next: None,
        })
    }

    async fn list_members(&self, group: &str, page: Option<String>) -> Result<Page<String>, Error> {
        Ok(Page {
            items: self.members(group, page).await?,
            next: None,
        })
    }

    fn lookup_batch_size(&self) -> usize {
        LOOKUP_BATCH
    }

    async fn lookup(&self, ids: &[String]) -> Result<Vec<Principal>, Error> {
        self.look_up(ids).await
    }

    async fn remove(&self, target: &Removal) -> Result<RemoveOutcome, Error> {
        let (group, member) = match target {
            Removal::Assignment {
                principal, role, ..
            } => (role, principal),
            Removal::GroupMember { group, member } => (group, member),
        };
        if group.is_empty() || member.is_empty() {
            return Err(Error::Invalid(format!(
                "{target} names no group and member to remove"
            )));
        }
        self.remove_member(group, member).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::directory::SecretRef;

    fn directory(base_url: &str) -> (tempfile::TempDir, Result<ScimDirectory, Error>) {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("token"), "s3cr3t-token\n").expect("write");
        let settings = ScimSettings {
            base_url: base_url.to_owned(),
            bearer_token: SecretRef {
                env: None,
                file: Some("token".to_owned()),
            },
            page_size: None,
            max_concurrent_requests: None,
            request_timeout_seconds: None,
        };
        let opened = ScimDirectory::new(&settings, dir.path());
        (dir, opened)
    }

    #[test]
    fn ids_are_one_path_segment_whatever_they_hold() {
        let (_dir, opened) = directory("https://scim.example/tenant/v2/");
        let scim = opened.expect("opens");
        assert_eq!(
            scim.url(&["Users", "a/b c?d#e"]).as_str(),
            "https://scim.example/tenant/v2/Users/a%2Fb%20c%3Fd%23e"
        );
        assert_eq!(
            scim.url(&["Groups"]).as_str(),
            "https://scim.example/tenant/v2/Groups"
        );
    }

    #[test]
    fn the_token_is_never_in_debug_output() {
        let (_dir, opened) = directory("https://scim.example/v2");
        let debug = format!("{:?}", opened.expect("opens"));
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(debug.contains("Secret(***)"), "{debug}");
    }

    #[test]
    fn an_error_body_that_echoes_the_token_is_reported_without_it() {
        let (_dir, opened) = directory("https://scim.example/v2");
        let scim = opened.expect("opens");
        let body = br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","detail":"cannot parse; you sent Authorization: Bearer s3cr3t-token and s3cr3t-token"}"#;
        let response =
            crate::directory::http::test_response(400, std::str::from_utf8(body).expect("utf-8"));
        let error = scim.http.unexpected(&response);
        let text = error.to_string();
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(text.contains("cannot parse"), "{text}");
    }

    #[test]
    fn a_missing_token_or_a_bad_url_is_an_error_not_a_panic() {
        let (dir, _) = directory("https://scim.example/v2");
        std::fs::remove_file(dir.path().join("token")).expect("remove");
        let settings = ScimSettings {
            base_url: "https://scim.example/v2".to_owned(),
            bearer_token: SecretRef {
                env: None,
                file: Some("token".to_owned()),
            },
            page_size: Some(0),
            max_concurrent_requests: Some(0),
            request_timeout_seconds: Some(0),
        };
        let error = ScimDirectory::new(&settings, dir.path()).expect_err("no token");
        assert!(
            matches!(&error, Error::Auth(m) if m.contains("cannot read the bearer token")),
            "{error}"
        );
        let (_dir, opened) = directory("mailto:someone@example.com");
        assert!(matches!(opened, Err(Error::Invalid(_))));
    }
}

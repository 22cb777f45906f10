//! The real SCIM server the tests talk to, started by `scripts/test-peers` (which `.ci/run`
//! runs the suite under): one tenant per test, seeded through `/Bulk`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// An environment variable `scripts/test-peers` sets. A missing one fails the test: a peer
/// test that passes without its peer would prove nothing.
pub fn var(name: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "{name} is not set: the SCIM tests need the real SCIM servers that \
                 `scripts/test-peers` starts. Run the tests through `.ci/run` (or \
                 `scripts/test-peers cargo test --workspace --locked`)."
            )
        })
}

/// One test's own tenant of the shared server.
pub struct Tenant {
    pub base: String,
    pub token: String,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

/// A user to create; `manager` names another user of the same seed by user name.
pub struct NewUser<'a> {
    pub user_name: &'a str,
    pub display_name: &'a str,
    pub active: bool,
    pub manager: Option<&'a str>,
}

pub fn user(user_name: &str) -> NewUser<'_> {
    NewUser {
        user_name,
        display_name: user_name,
        active: true,
        manager: None,
    }
}

impl Tenant {
    /// A fresh tenant of scim2-server, named after the test (and this process, so a re-run
    /// starts empty).
    pub fn new(test: &str) -> Tenant {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "{test}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let url = var("RECERT_TEST_SCIM_URL");
        Tenant::at(format!("{}/{name}/v2", url.trim_end_matches('/')))
    }

    /// django-scim2, which has no tenants: a test names what it creates after itself.
    pub fn entra() -> Tenant {
        Tenant::at(var("RECERT_TEST_SCIM_ENTRA_URL"))
    }

    fn at(base: String) -> Tenant {
        // The crate builds reqwest without a default crypto provider; installing ring twice
        // is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Tenant {
            base,
            token: var("RECERT_TEST_SCIM_TOKEN"),
            client: reqwest::Client::new(),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
        }
    }

    /// Requests with this method that scim2-server's access log shows for this tenant
    /// (`"PATCH /tenant/v2/Groups/… HTTP/1.1" 204`), whoever sent them.
    pub fn logged(&self, method: &str) -> usize {
        let log = std::fs::read_to_string(var("RECERT_TEST_SCIM_LOG")).expect("the peer's log");
        let path = self
            .base
            .split_once("//")
            .and_then(|(_, rest)| rest.split_once('/'))
            .map(|(_, path)| format!("\"{method} /{path}/"))
            .expect("a tenant URL");
        log.lines().filter(|l| l.contains(&path)).count()
    }

    /// Runs a future on this tenant's runtime (the directory under test is async).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// A `ScimDirectory` settings block for this tenant, the token taken from the environment.
    pub fn settings(&self, page_size: Option<u32>) -> recert::model::directory::ScimSettings {
        recert::model::directory::ScimSettings {
            base_url: self.base.clone(),
            bearer_token: recert::model::directory::SecretRef {
                env: Some("RECERT_TEST_SCIM_TOKEN".to_owned()),
                file: None,
            },
            page_size,
            max_concurrent_requests: None,
            request_timeout_seconds: None,
        }
    }

    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.runtime.block_on(async {
            let mut request = self
                .client
                .request(method, format!("{}{path}", self.base))
                .bearer_auth(&self.token);
            if let Some(body) = body {
                request = request
                    .header("content-type", "application/scim+json")
                    .body(body.to_string());
            }
            let response = request.send().await.expect("the SCIM peer answers");
            let status = response.status().as_u16();
            let text = response.text().await.expect("body");
            let value = if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
            };
            (status, value)
        })
    }

    /// Runs bulk operations (at most 1000 per request) and returns the new ids by `bulkId`.
    pub fn bulk(&self, operations: Vec<Value>) -> BTreeMap<String, String> {
        let mut ids = BTreeMap::new();
        for chunk in operations.chunks(1000) {
            let (status, body) = self.request(
                reqwest::Method::POST,
                "/Bulk",
                Some(json!({"schemas": [BULK], "Operations": chunk})),
            );
            assert_eq!(status, 200, "{body}");
            for op in body["Operations"].as_array().expect("operations") {
                assert_eq!(op["status"], "201", "{op}");
                let location = op["location"].as_str().expect("location");
                let id = location.rsplit('/').next().expect("id");
                ids.insert(
                    op["bulkId"].as_str().expect("bulkId").to_owned(),
                    id.to_owned(),
                );
            }
        }
        ids
    }

    /// Creates the users (managers first, in one bulk each) and returns ids by user name.
    pub fn users(&self, users: &[NewUser<'_>]) -> BTreeMap<String, String> {
        let mut ids = BTreeMap::new();
        let mut pending: Vec<&NewUser<'_>> = users.iter().collect();
        while !pending.is_empty() {
            let (ready, later): (Vec<_>, Vec<_>) = pending
                .into_iter()
                .partition(|u| u.manager.is_none_or(|m| ids.contains_key(m)));
            assert!(!ready.is_empty(), "managers form a cycle");
            let operations = ready
                .iter()
                .map(|u| {
                    let mut data = json!({
                        "schemas": [USER, ENTERPRISE],
                        "userName": u.user_name,
                        "displayName": u.display_name,
                        "active": u.active,
                    });
                    if let Some(manager) = u.manager {
                        data[ENTERPRISE] = json!({"manager": {"value": ids[manager]}});
                    }
                    json!({"method": "POST", "path": "/Users", "bulkId": u.user_name, "data": data})
                })
                .collect();
            ids.extend(self.bulk(operations));
            pending = later;
        }
        ids
    }

    /// Creates one user without Bulk; returns its id.
    pub fn create_user(&self, user_name: &str) -> String {
        let (status, body) = self.request(
            reqwest::Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": user_name})),
        );
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().expect("id").to_owned()
    }

    /// Creates one user with this `userType` (RFC 7643 §4.1.1), or none; returns its id.
    pub fn create_typed_user(&self, user_name: &str, user_type: Option<&str>) -> String {
        let mut data = json!({"schemas": [USER], "userName": user_name});
        if let Some(t) = user_type {
            data["userType"] = json!(t);
        }
        let (status, body) = self.request(reqwest::Method::POST, "/Users", Some(data));
        assert_eq!(status, 201, "{body}");
        assert_eq!(
            body.get("userType").and_then(Value::as_str),
            user_type,
            "{body}"
        );
        body["id"].as_str().expect("id").to_owned()
    }

    /// Creates a group with these member ids; returns its id.
    pub fn group(&self, name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        let (status, body) = self.request(
            reqwest::Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": name, "members": members})),
        );
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().expect("id").to_owned()
    }

    /// The group's member ids, sorted.
    pub fn members(&self, group: &str) -> Vec<String> {
        let (status, body) = self.request(
            reqwest::Method::GET,
            &format!("/Groups/{group}?attributes=members"),
            None,
        );
        assert_eq!(status, 200, "{body}");
        let mut members: Vec<String> = body["members"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m["value"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        members.sort();
        members
    }

    /// Adds or removes a member behind Recert's back (RFC form).
    pub fn patch_member(&self, group: &str, op: &str, member: &str) {
        let operation = match op {
            "add" => json!({"op": "add", "path": "members", "value": [{"value": member}]}),
            _ => json!({"op": "remove", "path": format!("members[value eq \"{member}\"]")}),
        };
        let (status, body) = self.request(
            reqwest::Method::PATCH,
            &format!("/Groups/{group}"),
            Some(json!({"schemas": [PATCH], "Operations": [operation]})),
        );
        assert!(matches!(status, 200 | 204), "{status}: {body}");
    }
}

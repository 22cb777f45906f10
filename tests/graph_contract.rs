//! The published Graph contract (`tests/contracts/graph/`, Microsoft's documentation data):
//! the client reads every example response, the test server's answers validate against the
//! schemas derived from Graph's metadata, and the documented requests the server supports get
//! the documented status from it.

use std::path::PathBuf;

use recert::directory::graph::error_body::ODataError;
use recert::directory::graph::mapping::{
    Collection, DirectoryObject, ObjectKind, RoleAssignment, RoleDefinition,
};
use serde_json::{Value, json};

use crate::graph::block_on;
use crate::support::graph_server::{Contact, GraphServer, Group, Kind, Tenant, User};
use crate::support::root;

fn dir() -> PathBuf {
    root().join("tests/contracts/graph")
}

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every fixture file but the schemas, sorted.
fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .expect("contracts")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && n != "schemas.v1.json")
        .collect();
    names.sort();
    names
}

/// The primary example and the additional ones.
fn examples(f: &Value) -> Vec<Value> {
    let mut out = vec![f.clone()];
    out.extend(
        f.get("additionalExamples")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    );
    out
}

fn parse<T: serde::de::DeserializeOwned>(name: &str, body: &Value) -> T {
    serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("{name}: {e}\n{body:#}"))
}

fn check_error(name: &str, body: &Value) {
    let error = ODataError::from_value(body).unwrap_or_else(|| panic!("{name}: not an error"));
    assert!(!error.error.message.is_empty(), "{name}");
    let inner = error
        .error
        .inner_error
        .as_ref()
        .unwrap_or_else(|| panic!("{name}"));
    assert!(inner.request_id.is_some() && inner.date.is_some(), "{name}");
}

#[test]
fn the_client_reads_every_published_example_response() {
    let mut checked = 0;
    for name in fixture_names() {
        let f = fixture(&name);
        for example in examples(&f) {
            let body = &example["response"]["body"];
            let status = example["response"]["status"].as_u64();
            checked += 1;
            match name.as_str() {
                "roleManagement.directory.roleDefinitions.list.json" => {
                    let c: Collection<RoleDefinition> = parse(&name, body);
                    assert!(
                        !c.value.is_empty() && c.value.iter().all(|r| r.display_name.is_some())
                    );
                }
                "roleManagement.directory.roleDefinitions.get.json" => {
                    let r: RoleDefinition = parse(&name, body);
                    assert!(
                        r.display_name.is_some() && r.is_built_in.is_some(),
                        "{name}"
                    );
                }
                "roleManagement.directory.roleAssignments.list.json"
                | "roleManagement.directory.roleAssignmentScheduleInstances.list.json"
                | "roleManagement.directory.roleEligibilityScheduleInstances.list.json" => {
                    let c: Collection<RoleAssignment> = parse(&name, body);
                    assert!(!c.value.is_empty(), "{name}");
                    for a in &c.value {
                        assert!(!a.principal_id.is_empty() && !a.role_definition_id.is_empty());
                        assert_eq!(a.directory_scope_id.as_deref(), Some("/"), "{name}");
                        if let Some(p) = &a.principal {
                            assert_eq!(p.kind(), Some(ObjectKind::User), "{name}");
                            assert_eq!(p.id, a.principal_id);
                        }
                    }
                    if name.contains("roleAssignments.list")
                        && example["request"]["url"]
                            .as_str()
                            .is_some_and(|u| u.contains("$expand=principal"))
                    {
                        assert!(c.value.iter().all(|a| a.principal.is_some()), "{name}");
                    }
                    if name.contains("ScheduleInstances") {
                        assert!(
                            c.value
                                .iter()
                                .all(|a| a.member_type.as_deref() == Some("Direct"))
                        );
                    }
                }
                "users.get.json" | "users.manager.get.json" => {
                    let u: DirectoryObject = parse(&name, body);
                    let url = example["request"]["url"].as_str().unwrap_or("");
                    // A `$select` without `id` returns no id (the docs' second example).
                    assert_eq!(u.id.is_empty(), url.contains("$select"), "{name}");
                    assert!(u.display_name.is_some(), "{name}");
                    if name == "users.manager.get.json" {
                        assert!(u.user_principal_name.is_some(), "{name}");
                    }
                }
                "users.list.signInActivity.json" => {
                    let c: Collection<DirectoryObject> = parse(&name, body);
                    let with_activity: Vec<_> = c
                        .value
                        .iter()
                        .filter_map(|u| u.sign_in_activity.as_ref())
                        .collect();
                    if example["request"]["url"]
                        .as_str()
                        .is_some_and(|u| u.contains("signInActivity"))
                    {
                        assert_eq!(with_activity.len(), c.value.len(), "{name}");
                        assert_eq!(
                            c.value[0]
                                .to_user()
                                .last_sign_in
                                .map(|t| t.to_string())
                                .as_deref(),
                            Some("2021-06-17T16:41:33Z")
                        );
                    }
                    if example["request"]["url"]
                        .as_str()
                        .is_some_and(|u| u.contains("$count=true"))
                    {
                        assert!(c.count.is_some(), "{name}: @odata.count");
                    }
                }
                "groups.members.list.json"
                | "groups.transitiveMembers.list.json"
                | "paging.nextLink.json" => {
                    let c: Collection<DirectoryObject> = parse(&name, body);
                    // The docs' member list omits `@odata.type`; such members are kept (the
                    // client drops only objects typed as something other than user or group).
                    assert!(c.value.iter().all(|m| !m.id.is_empty()), "{name}");
                    if name.starts_with("groups.") {
                        assert!(
                            c.value.iter().all(|m| m.kind() != Some(ObjectKind::Other)),
                            "{name}: members are users and groups"
                        );
                    }
                    if name == "paging.nextLink.json" {
                        assert!(
                            c.next_link
                                .as_deref()
                                .is_some_and(|l| l.contains("$skiptoken="))
                        );
                    }
                }
                "batch.json-batching.json" => {
                    let items = body["responses"].as_array().expect("responses");
                    for item in items {
                        match item["status"].as_u64() {
                            Some(403 | 405) => check_error(&name, &item["body"]),
                            Some(200) => {
                                let _: Collection<DirectoryObject> = parse(&name, &item["body"]);
                            }
                            _ => {}
                        }
                    }
                    assert!(items.iter().any(|i| i["status"] == 405));
                }
                "errors.odataError.json" | "throttling.429.json" => {
                    check_error(&name, body);
                    if name == "throttling.429.json" {
                        let e = ODataError::from_value(body).expect("error");
                        assert_eq!(e.code(), "TooManyRequests");
                        assert_eq!(
                            e.error.inner_error.and_then(|i| i.date).as_deref(),
                            Some("2020-08-18T12:51:51"),
                            "a date without an offset is kept, not rejected"
                        );
                        assert_eq!(example["response"]["headers"]["Retry-After"], "2.128");
                    }
                }
                "roleManagement.directory.roleAssignmentScheduleRequests.create.json"
                | "roleManagement.directory.roleEligibilityScheduleRequests.create.adminRemove.json" =>
                {
                    // The client reads only the status of a create; the echo names the action.
                    assert_eq!(status, Some(201), "{name}");
                    assert!(body["action"].is_string() && body["principalId"].is_string());
                }
                "groups.members.ref.delete.json"
                | "roleManagement.directory.roleAssignments.delete.json" => {
                    assert_eq!(status, Some(204), "{name}");
                    assert!(body.is_null());
                }
                other => panic!("{other}: a fixture no test reads; add it here"),
            }
        }
    }
    assert!(checked >= 25, "{checked} examples");
}

/// The schema document with `$ref` at the root pointing at one of its definitions. The one
/// change: `innerError.date` may lack a UTC offset, as every real Graph error shows (the
/// contract README lists this disagreement between the docs and the metadata).
fn validator(def: &str) -> jsonschema::Validator {
    let mut schema = fixture("schemas.v1.json");
    schema["$defs"]["microsoft.graph.ODataErrors.InnerError"]["properties"]["date"] =
        json!({"type": ["string", "null"]});
    schema["$ref"] = json!(format!("#/$defs/{def}"));
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{def}: {e}"))
}

fn assert_valid(def: &str, body: &Value) {
    let v = validator(def);
    let errors: Vec<String> = v
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{def}: {errors:#?}\n{body:#}");
}

/// A tenant holding the objects the documentation's examples name, so their requests can be
/// replayed.
fn docs_tenant() -> Tenant {
    let mut t = Tenant::new();
    t.role(
        "62e90394-69f5-4237-9190-012177145e10",
        "Global Administrator",
    )
    .role(
        "f189965f-f560-4c59-9101-933d4c87a91a",
        "Application Support Administrator",
    )
    .role(
        "8424c6f0-a189-499e-bbd0-26c1753c96d4",
        "Attribute Assignment Administrator",
    )
    .role(
        "3a2c62db-5318-420d-8d74-23affee5d9d5",
        "Intune Administrator",
    );
    for (id, upn) in [
        ("87d349ed-44d7-43e1-9a83-5f2406dee5bd", "AdeleV@contoso.com"),
        ("071cc716-8147-4397-a5ba-b2105951cc0b", "alex@contoso.com"),
        ("5bde3e51-d13b-4db1-9948-fe4b109d11a7", "joey@contoso.com"),
    ] {
        t.user(User {
            id: id.to_owned(),
            upn: upn.to_owned(),
            display_name: upn.to_owned(),
            enabled: true,
            on_premises: false,
            last_sign_in: Some("2021-06-17T16:41:33Z".to_owned()),
            manager: Some("5bde3e51-d13b-4db1-9948-fe4b109d11a7".to_owned()),
            user_type: Some("Member"),
        });
    }
    t.assign(
        "lAPpYvVpN0KRkAEhdxReEJC2sEqbR_9Hr48lds9SGHI-1",
        "5bde3e51-d13b-4db1-9948-fe4b109d11a7",
        "62e90394-69f5-4237-9190-012177145e10",
        Kind::Active,
    );
    t.assign(
        "eligible-1",
        "071cc716-8147-4397-a5ba-b2105951cc0b",
        "8424c6f0-a189-499e-bbd0-26c1753c96d4",
        Kind::Eligible,
    );
    t.group(Group {
        id: "02bd9fd6-8f93-4758-87c3-1fb73740a315".to_owned(),
        display_name: "Sales".to_owned(),
        dynamic: false,
        on_premises: false,
        members: vec!["87d349ed-44d7-43e1-9a83-5f2406dee5bd".to_owned()],
    });
    t
}

/// A plain client (the server speaks HTTP/1 on loopback; rustls is configured but unused).
fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// A token from the server's token endpoint.
async fn token(client: &reqwest::Client, server: &GraphServer) -> String {
    let (tenant, client_id, secret) = {
        let t = server.tenant();
        (
            t.tenant_id.clone(),
            t.client_id.clone(),
            t.client_secret.clone(),
        )
    };
    let body: Value = client
        .post(format!(
            "{}/{tenant}/oauth2/v2.0/token",
            server.authority_url()
        ))
        .form(&[
            ("client_id", client_id.as_str()),
            ("client_secret", secret.as_str()),
            ("grant_type", "client_credentials"),
            ("scope", &format!("{}/.default", server.authority_url())),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token body");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// The schema a successful answer of `name`'s endpoint validates against.
fn schema_for(name: &str) -> Option<&'static str> {
    Some(match name {
        "roleManagement.directory.roleDefinitions.list.json" => {
            "microsoft.graph.unifiedRoleDefinitionCollectionResponse"
        }
        "roleManagement.directory.roleDefinitions.get.json" => {
            "microsoft.graph.unifiedRoleDefinition"
        }
        "roleManagement.directory.roleAssignments.list.json" => {
            "microsoft.graph.unifiedRoleAssignmentCollectionResponse"
        }
        "roleManagement.directory.roleAssignmentScheduleInstances.list.json" => {
            "microsoft.graph.unifiedRoleAssignmentScheduleInstanceCollectionResponse"
        }
        "roleManagement.directory.roleEligibilityScheduleInstances.list.json" => {
            "microsoft.graph.unifiedRoleEligibilityScheduleInstanceCollectionResponse"
        }
        "roleManagement.directory.roleEligibilityScheduleRequests.create.adminRemove.json" => {
            "microsoft.graph.unifiedRoleEligibilityScheduleRequest"
        }
        "roleManagement.directory.roleAssignmentScheduleRequests.create.json" => {
            "microsoft.graph.unifiedRoleAssignmentScheduleRequest"
        }
        "users.get.json" | "users.manager.get.json" => "microsoft.graph.user",
        "users.list.signInActivity.json" => "microsoft.graph.userCollectionResponse",
        "groups.members.list.json" | "groups.transitiveMembers.list.json" => {
            "microsoft.graph.directoryObjectCollectionResponse"
        }
        _ => return None,
    })
}

#[test]
fn the_server_answers_documented_requests_as_documented_and_valid_against_the_schemas() {
    let server = GraphServer::start(docs_tenant());
    let origin = server.authority_url();
    block_on(async {
        let client = http_client();
        let token = token(&client, &server).await;
        let mut replayed = Vec::new();
        for name in fixture_names() {
            for example in examples(&fixture(&name)) {
                let request = &example["request"];
                let Some(url) = request["url"].as_str() else {
                    continue;
                };
                // Placeholders (`{id}`), delegated-only calls (`/me`, selfActivate), OData casts
                // and `$search` are not what an application's review makes.
                let unsupported = url.contains('{')
                    || url.contains("/me/")
                    || url.contains("$search")
                    || url.contains("/microsoft.graph.")
                    || request["body"]["action"] == "selfActivate";
                if unsupported || !url.starts_with("https://graph.microsoft.com/v1.0") {
                    continue;
                }
                let url = url.replacen("https://graph.microsoft.com", &origin, 1);
                let method = reqwest::Method::from_bytes(
                    request["method"].as_str().unwrap_or("GET").as_bytes(),
                )
                .expect("method");
                let mut builder = client.request(method, &url).bearer_auth(&token);
                if !request["body"].is_null() {
                    builder = builder.json(&request["body"]);
                }
                let response = builder.send().await.expect("send");
                let status = response.status().as_u16();
                let text = response.text().await.expect("body");
                assert_eq!(
                    Some(u64::from(status)),
                    example["response"]["status"].as_u64(),
                    "{name}: {url}\n{text}"
                );
                if !text.is_empty() {
                    let body: Value = serde_json::from_str(&text).expect("JSON");
                    if let Some(def) = schema_for(&name) {
                        assert_valid(def, &body);
                    }
                }
                replayed.push(format!("{name}: {url}"));
            }
        }
        assert!(replayed.len() >= 12, "{replayed:#?}");

        // Errors: a missing object, a bad token, the rate limit.
        let missing = client
            .get(format!("{}/users/nobody", server.base_url()))
            .bearer_auth(&token)
            .send()
            .await
            .expect("send");
        assert_eq!(missing.status(), 404);
        assert_valid(
            "microsoft.graph.ODataErrors.ODataError",
            &missing.json().await.expect("json"),
        );
        let unauthorised = client
            .get(format!("{}/users", server.base_url()))
            .bearer_auth("forged")
            .send()
            .await
            .expect("send");
        assert_eq!(unauthorised.status(), 401);
        let body: Value = unauthorised.json().await.expect("json");
        assert_valid("microsoft.graph.ODataErrors.ODataError", &body);
        assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
        server.rate_limit(0.5, 1.0);
        let _ = client
            .get(format!("{}/users", server.base_url()))
            .bearer_auth(&token)
            .send()
            .await
            .expect("send");
        let throttled = client
            .get(format!("{}/users", server.base_url()))
            .bearer_auth(&token)
            .send()
            .await
            .expect("send");
        assert_eq!(throttled.status(), 429);
        let wait: f64 = throttled.headers()["retry-after"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("fractional seconds");
        assert!(wait > 0.0 && wait <= 2.0, "{wait}");
        let body: Value = throttled.json().await.expect("json");
        assert_valid("microsoft.graph.ODataErrors.ODataError", &body);
        assert_eq!(body["error"]["code"], "TooManyRequests");
        server.no_rate_limit();

        // Batches: more than 20 requests, or a repeated id, is a 400; items answer on their own.
        let batch = |requests: Vec<Value>| {
            client
                .post(format!("{}/$batch", server.base_url()))
                .bearer_auth(&token)
                .json(&json!({ "requests": requests }))
                .send()
        };
        let too_many: Vec<Value> = (0..21)
            .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users"}))
            .collect();
        assert_eq!(batch(too_many).await.expect("send").status(), 400);
        let twice = vec![
            json!({"id": "1", "method": "GET", "url": "/users"}),
            json!({"id": "1", "method": "GET", "url": "/users"}),
        ];
        assert_eq!(batch(twice).await.expect("send").status(), 400);
        let mixed = vec![
            json!({"id": "1", "method": "GET", "url": "/users/nobody"}),
            json!({"id": "2", "method": "GET", "url": "/users/AdeleV@contoso.com?$select=id,signInActivity"}),
            json!({"id": "3", "method": "GET", "url": "/users/87d349ed-44d7-43e1-9a83-5f2406dee5bd", "dependsOn": ["1"]}),
        ];
        let body: Value = batch(mixed)
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        let statuses: Vec<u64> = body["responses"]
            .as_array()
            .expect("responses")
            .iter()
            .filter_map(|r| r["status"].as_u64())
            .collect();
        assert_eq!(statuses, [404, 200, 424]);
        assert_valid("microsoft.graph.user", &body["responses"][1]["body"]);
        assert!(body["responses"][1]["body"]["signInActivity"]["lastSignInDateTime"].is_string());
    });
}

#[test]
fn paging_follows_next_links_with_an_opaque_skiptoken_and_caps_top() {
    let mut t = Tenant::new();
    for i in 0..2_100 {
        t.simple_user(&format!("u-{i:05}"), &format!("u{i}@contoso.example"), None);
    }
    let server = GraphServer::start(t);
    block_on(async {
        let client = http_client();
        let token = token(&client, &server).await;
        let mut url = format!(
            "{}/users?$select=id,signInActivity&$top=999",
            server.base_url()
        );
        let mut sizes = Vec::new();
        loop {
            let body: Value = client
                .get(&url)
                .bearer_auth(&token)
                .send()
                .await
                .expect("send")
                .json()
                .await
                .expect("json");
            assert_valid("microsoft.graph.userCollectionResponse", &body);
            sizes.push(body["value"].as_array().expect("value").len());
            match body["@odata.nextLink"].as_str() {
                Some(next) => url = next.to_owned(),
                None => break,
            }
        }
        // With signInActivity selected, Graph returns at most 120 users a page.
        assert_eq!(sizes.iter().sum::<usize>(), 2_100);
        assert!(sizes.iter().all(|s| *s <= 120), "{sizes:?}");
        assert_eq!(sizes.len(), 2_100usize.div_ceil(120));
    });
}

#[test]
fn a_manager_is_a_directory_object_and_none_is_a_graph_404() {
    let mut t = Tenant::new();
    t.simple_user(
        "u-boss",
        "boss@contoso.example",
        Some("2026-11-20T08:12:31Z"),
    );
    t.user(User {
        id: "u-alice".to_owned(),
        upn: "alice@contoso.example".to_owned(),
        display_name: "Alice".to_owned(),
        enabled: true,
        on_premises: false,
        last_sign_in: None,
        manager: Some("u-boss".to_owned()),
        user_type: Some("Member"),
    });
    t.user(User {
        id: "u-carl".to_owned(),
        upn: "carl@contoso.example".to_owned(),
        manager: Some("c-desk".to_owned()),
        ..t.users["u-alice"].clone()
    });
    t.contact(Contact {
        id: "c-desk".to_owned(),
        display_name: "Outsourcing desk".to_owned(),
        mail: "desk@outsourcer.example".to_owned(),
    });
    let server = GraphServer::start(t);
    block_on(async {
        let client = http_client();
        let token = token(&client, &server).await;
        let get = |path: &str| {
            client
                .get(format!("{}{path}", server.base_url()))
                .bearer_auth(&token)
                .send()
        };
        let json = |r: reqwest::Response| async move {
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.expect("json"))
        };

        // GET /users/{id|userPrincipalName}/manager: the manager as a directoryObject, with a
        // user's default properties (signInActivity only when selected).
        let (status, body) = json(
            get("/users/alice@contoso.example/manager")
                .await
                .expect("send"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_valid("microsoft.graph.user", &body);
        assert_eq!(body["@odata.type"], "#microsoft.graph.user");
        assert_eq!(body["id"], "u-boss");
        assert_eq!(body["userPrincipalName"], "boss@contoso.example");
        assert!(
            body["@odata.context"]
                .as_str()
                .is_some_and(|c| c.ends_with("/$metadata#directoryObjects/$entity")),
            "{body}"
        );
        assert!(body.get("signInActivity").is_none(), "{body}");
        let (_, selected) = json(
            get("/users/u-alice/manager?$select=id,signInActivity")
                .await
                .expect("send"),
        )
        .await;
        assert!(
            selected["signInActivity"]["lastSignInDateTime"].is_string(),
            "{selected}"
        );
        assert!(selected.get("displayName").is_none(), "{selected}");

        // The manager may be an organizational contact.
        let (status, body) = json(get("/users/u-carl/manager").await.expect("send")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["@odata.type"], "#microsoft.graph.orgContact");
        assert_eq!(body["id"], "c-desk");

        // No manager: 404 with Graph's error body.
        let (status, body) = json(get("/users/u-boss/manager").await.expect("send")).await;
        assert_eq!(status, 404, "{body}");
        assert_valid("microsoft.graph.ODataErrors.ODataError", &body);
        assert_eq!(body["error"]["code"], "Request_ResourceNotFound");
        let (status, body) = json(get("/users/nobody/manager").await.expect("send")).await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(body["error"]["code"], "Request_ResourceNotFound");

        // `$expand=manager` nests the same object, `$select` inside the parentheses applying to
        // it; a user without a manager has no `manager` at all. This is what the client sends.
        let (status, body) = json(
            get("/users/u-alice?$select=id,displayName&$expand=manager($select=id,displayName)")
                .await
                .expect("send"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_valid("microsoft.graph.user", &body);
        assert_eq!(
            body["manager"],
            json!({"@odata.type": "#microsoft.graph.user", "id": "u-boss", "displayName": "boss"})
        );
        let (_, body) = json(get("/users/u-boss?$expand=manager").await.expect("send")).await;
        assert!(body.get("manager").is_none(), "{body}");
        let (_, body) = json(get("/users/u-carl?$expand=manager").await.expect("send")).await;
        assert_eq!(
            body["manager"]["@odata.type"],
            "#microsoft.graph.orgContact"
        );
        let user: DirectoryObject = serde_json::from_value(body).expect("a user");
        assert_eq!(user.to_user().manager, None, "a contact cannot review");
    });
}

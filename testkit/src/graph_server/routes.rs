//! The Graph endpoints the client calls (and the ones the contract fixtures show), over the
//! in-memory tenant: OData `$filter` in the forms used, `$select`, `$expand`, `$top` capped per
//! endpoint, and `@odata.nextLink` paging with an opaque `$skiptoken`.

use serde_json::{Map, Value, json};

use super::tenant::{Assignment, Kind, Tenant, User};

/// One answer: status, extra headers, JSON body (none for 204).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

/// What a request was, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    List,
    Get,
    Write,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Some(body),
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: None,
        }
    }
}

/// A Graph error body, with `innerError.date` without an offset, as the service sends it.
pub fn error(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(
        status,
        json!({
            "error": {
                "code": code,
                "message": message,
                "innerError": {
                    "date": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S").to_string(),
                    "request-id": "9f1c0a52-1d7e-4b7e-a0c7-3a8c0c1e2d4f",
                    "client-request-id": "9f1c0a52-1d7e-4b7e-a0c7-3a8c0c1e2d4f",
                }
            }
        }),
    )
}

fn not_found(what: &str) -> Reply {
    error(
        404,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{what}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

fn bad_request(message: &str) -> Reply {
    error(400, "BadRequest", message)
}

/// A request, decoded.
#[derive(Debug)]
pub struct Request<'a> {
    pub method: &'a str,
    /// Path segments after the version, percent-decoded.
    pub segments: Vec<String>,
    pub query: Vec<(String, String)>,
    pub body: Value,
    /// `http://127.0.0.1:PORT/v1.0`, for the links the server writes.
    pub base: &'a str,
    pub client_id: &'a str,
}

impl Request<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn select(&self) -> Option<Vec<String>> {
        self.param("$select")
            .map(|s| s.split(',').map(|p| p.trim().to_owned()).collect())
    }

    fn expands(&self, what: &str) -> bool {
        self.expand(what).is_some()
    }

    /// The options of `what` in `$expand` (`manager($select=id,displayName)` gives `$select`),
    /// when it is expanded.
    fn expand(&self, what: &str) -> Option<Vec<(String, String)>> {
        let expand = self.param("$expand")?;
        top_level(expand, ',').into_iter().find_map(|item| {
            let item = item.trim();
            let (name, options) = match item.split_once('(') {
                Some((name, rest)) => (name.trim(), rest.strip_suffix(')').unwrap_or(rest)),
                None => (item, ""),
            };
            name.eq_ignore_ascii_case(what).then(|| {
                top_level(options, ';')
                    .into_iter()
                    .filter_map(|o| o.split_once('='))
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                    .collect()
            })
        })
    }

    /// The page size: `$top` capped at `max`, or `default`.
    fn top(&self, default: usize, max: usize) -> Result<usize, Reply> {
        match self.param("$top") {
            None => Ok(default),
            Some(t) => t
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|t| *t >= 1)
                .map(|t| t.min(max))
                .ok_or_else(|| bad_request("Invalid value for $top.")),
        }
    }

    fn skiptoken(&self) -> Option<String> {
        self.param("$skiptoken").and_then(|t| {
            let bytes: Option<Vec<u8>> = (0..t.len())
                .step_by(2)
                .map(|i| t.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
                .collect();
            bytes.and_then(|b| String::from_utf8(b).ok())
        })
    }

    /// `field eq 'value'` (quotes doubled inside), the only `$filter` form the client sends.
    fn filter_eq(&self) -> Result<Option<(String, String)>, Reply> {
        let Some(filter) = self.param("$filter") else {
            return Ok(None);
        };
        let filter = filter.trim();
        let parsed = filter.split_once(" eq ").and_then(|(field, value)| {
            let value = value.trim().strip_prefix('\'')?.strip_suffix('\'')?;
            Some((field.trim().to_owned(), value.replace("''", "'")))
        });
        parsed
            .map(Some)
            .ok_or_else(|| bad_request(&format!("Invalid filter clause: {filter}")))
    }

    /// The link to the page after `last`.
    fn next_link(&self, last: &str) -> String {
        let path: String = self
            .segments
            .iter()
            .map(|s| format!("/{}", encode(s)))
            .collect();
        let mut url = url::Url::parse(&format!("{}{path}", self.base)).expect("server URL");
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in &self.query {
                if !k.trim().eq_ignore_ascii_case("$skiptoken") {
                    q.append_pair(k.trim(), v);
                }
            }
            let token: String = last.bytes().map(|b| format!("{b:02x}")).collect();
            q.append_pair("$skiptoken", &token);
        }
        url.to_string()
    }
}

/// `text` split at each `separator` outside parentheses.
fn top_level(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            c if c == separator && depth == 0 => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts.retain(|p| !p.trim().is_empty());
    parts
}

fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~@$".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Keeps `id`, `@odata.type` and the selected properties.
fn apply_select(value: Value, select: &Option<Vec<String>>) -> Value {
    let (Some(select), Value::Object(map)) = (select, &value) else {
        return value;
    };
    let kept: Map<String, Value> = map
        .iter()
        .filter(|(k, _)| {
            k.as_str() == "id"
                || k.as_str() == "@odata.type"
                || k.as_str() == "principal"
                || k.as_str() == "manager"
                || select.iter().any(|s| s == *k)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(kept)
}

/// A page of `items` (already after the skiptoken), `size` long.
fn page(
    request: &Request,
    context: &str,
    items: impl Iterator<Item = (String, Value)>,
    size: usize,
) -> Reply {
    let select = request.select();
    let mut value = Vec::with_capacity(size.min(1000));
    let mut last = None;
    let mut more = false;
    for (key, item) in items {
        if value.len() == size {
            more = true;
            break;
        }
        value.push(apply_select(item, &select));
        last = Some(key);
    }
    let mut body = json!({
        "@odata.context": format!("{}/$metadata#{context}", request.base),
        "value": value,
    });
    if more && let Some(last) = last {
        body["@odata.nextLink"] = json!(request.next_link(&last));
    }
    Reply::json(200, body)
}

/// Answers one request.
pub fn route(tenant: &mut Tenant, request: &Request) -> (Reply, Op) {
    let segs: Vec<&str> = request.segments.iter().map(String::as_str).collect();
    let method = request.method;
    let result = match (method, segs.as_slice()) {
        ("GET", ["roleManagement", "directory", "roleDefinitions"]) => {
            let items = tenant.roles.iter().map(|r| {
                (
                    r.id.clone(),
                    json!({"id": r.id, "displayName": r.display_name, "isBuiltIn": true, "isEnabled": true, "description": null, "templateId": r.id, "version": "1", "rolePermissions": [], "resourceScopes": ["/"]}),
                )
            });
            let after = request.skiptoken();
            let items: Vec<_> = items
                .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a))
                .collect();
            Ok((
                page(
                    request,
                    "roleManagement/directory/roleDefinitions",
                    items.into_iter(),
                    1000,
                ),
                Op::List,
            ))
        }
        ("GET", ["roleManagement", "directory", "roleDefinitions", id]) => Ok((
            match tenant.roles.iter().find(|r| r.id == *id) {
                Some(r) => Reply::json(
                    200,
                    json!({"@odata.context": format!("{}/$metadata#roleManagement/directory/roleDefinitions/$entity", request.base), "id": r.id, "displayName": r.display_name, "isBuiltIn": true, "isEnabled": true, "rolePermissions": [], "resourceScopes": ["/"]}),
                ),
                None => not_found(id),
            },
            Op::Get,
        )),
        (
            "GET",
            [
                "roleManagement",
                "directory",
                endpoint @ ("roleAssignments"
                | "roleAssignmentScheduleInstances"
                | "roleEligibilityScheduleInstances"),
            ],
        ) => list_assignments(tenant, request, endpoint).map(|r| (r, Op::List)),
        ("DELETE", ["roleManagement", "directory", "roleAssignments", id]) => {
            let reply = match tenant.assignments.get(*id) {
                Some(a) if a.kind == Kind::Active && a.member_type == "Direct" => {
                    if !tenant.kept_after_removal.contains(*id) {
                        tenant.assignments.remove(*id);
                    }
                    tenant.removed.push((*id).to_owned());
                    Reply::empty(204)
                }
                _ => not_found(id),
            };
            Ok((reply, Op::Write))
        }
        (
            "POST",
            [
                "roleManagement",
                "directory",
                endpoint @ ("roleAssignmentScheduleRequests" | "roleEligibilityScheduleRequests"),
            ],
        ) => {
            let kind = if *endpoint == "roleAssignmentScheduleRequests" {
                Kind::Active
            } else {
                Kind::Eligible
            };
            Ok((schedule_request(tenant, request, endpoint, kind), Op::Write))
        }
        ("GET", ["users"]) => {
            let signin = request
                .select()
                .is_some_and(|s| s.iter().any(|p| p == "signInActivity"));
            // user-list.md: up to 999 a page, 120 when signInActivity is selected.
            match request.top(100, if signin { 120 } else { 999 }) {
                Ok(size) => {
                    let after = request.skiptoken();
                    let filter = request.param("$filter").map(str::to_owned);
                    let items: Vec<(String, Value)> = tenant
                        .users
                        .values()
                        .filter(|u| after.as_ref().is_none_or(|a| &u.id > a))
                        .filter(|u| match &filter {
                            None => true,
                            Some(f) => starts_with_filter(f)
                                .is_some_and(|p| u.display_name.to_lowercase().starts_with(&p)),
                        })
                        .take(size + 1)
                        .map(|u| (u.id.clone(), user_view(tenant, u, request)))
                        .collect();
                    let mut reply = page(request, "users", items.into_iter(), size);
                    if request.param("$count").is_some_and(|c| c == "true")
                        && let Some(body) = reply.body.as_mut()
                    {
                        body["@odata.count"] = json!(tenant.users.len());
                    }
                    Ok((reply, Op::List))
                }
                Err(e) => Ok((e, Op::List)),
            }
        }
        ("GET", ["users", key]) => Ok((
            match tenant.find_user(key) {
                Some(u) => {
                    let mut v = apply_select(user_view(tenant, u, request), &request.select());
                    v["@odata.context"] =
                        json!(format!("{}/$metadata#users/$entity", request.base));
                    Reply::json(200, v)
                }
                None => not_found(key),
            },
            Op::Get,
        )),
        // user-list-manager.md: a directoryObject (the user or organizational contact), or 404
        // when none is assigned.
        ("GET", ["users", key, "manager"]) => Ok((
            match tenant.find_user(key) {
                Some(u) => match manager_view(tenant, u, &request.select()) {
                    Some(mut m) => {
                        m["@odata.context"] = json!(format!(
                            "{}/$metadata#directoryObjects/$entity",
                            request.base
                        ));
                        Reply::json(200, m)
                    }
                    None => not_found("manager"),
                },
                None => not_found(key),
            },
            Op::Get,
        )),
        ("GET", ["groups"]) => match (request.top(100, 999), request.filter_eq()) {
            (Ok(size), Ok(filter)) => {
                let after = request.skiptoken();
                let items: Vec<(String, Value)> = tenant
                    .groups
                    .values()
                    .filter(|g| after.as_ref().is_none_or(|a| &g.id > a))
                    .filter(|g| match &filter {
                        Some((f, v)) if f == "displayName" => &g.display_name == v,
                        Some(_) => false,
                        None => true,
                    })
                    .take(size + 1)
                    .map(|g| (g.id.clone(), tenant.group_json(g)))
                    .collect();
                Ok((page(request, "groups", items.into_iter(), size), Op::List))
            }
            (Err(e), _) | (_, Err(e)) => Ok((e, Op::List)),
        },
        ("GET", ["servicePrincipals", id]) => Ok((
            match tenant.service_principals.get(*id) {
                Some(sp) => Reply::json(
                    200,
                    apply_select(tenant.service_principal_json(sp), &request.select()),
                ),
                None => not_found(id),
            },
            Op::Get,
        )),
        ("GET", ["groups", id]) => Ok((
            match tenant.groups.get(*id) {
                Some(g) => Reply::json(200, apply_select(tenant.group_json(g), &request.select())),
                None => not_found(id),
            },
            Op::Get,
        )),
        ("GET", ["groups", id, which @ ("members" | "transitiveMembers")]) => {
            let Some(group) = tenant.groups.get(*id) else {
                return (not_found(id), Op::List);
            };
            let members = if *which == "members" {
                group.members.clone()
            } else {
                transitive(tenant, id)
            };
            match request.top(100, 999) {
                Ok(size) => {
                    let start = request
                        .skiptoken()
                        .and_then(|t| t.parse::<usize>().ok())
                        .map_or(0, |i| i + 1);
                    let items = members
                        .iter()
                        .enumerate()
                        .skip(start)
                        .filter_map(|(i, m)| tenant.object_json(m).map(|v| (i.to_string(), v)));
                    Ok((page(request, "directoryObjects", items, size), Op::List))
                }
                Err(e) => Ok((e, Op::List)),
            }
        }
        ("DELETE", ["groups", id, "members", member, "$ref"]) => {
            let reply = match tenant.groups.get_mut(*id) {
                None => not_found(id),
                Some(g) if g.dynamic => bad_request(
                    "Insufficient privileges to complete the operation: the group has dynamic membership and its members are computed from its rule.",
                ),
                Some(g) if g.on_premises => bad_request(
                    "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.",
                ),
                Some(g) => match g.members.iter().position(|m| m == member) {
                    Some(i) => {
                        let pair = format!("{id}/{member}");
                        if !tenant.kept_after_removal.contains(&pair) {
                            g.members.remove(i);
                        }
                        tenant.removed.push(pair);
                        Reply::empty(204)
                    }
                    None => not_found(member),
                },
            };
            Ok((reply, Op::Write))
        }
        _ => Err(()),
    };
    result.unwrap_or_else(|()| {
        (
            error(
                400,
                "BadRequest",
                &format!(
                    "Resource not found for the segment '{}'.",
                    segs.last().unwrap_or(&"")
                ),
            ),
            Op::Get,
        )
    })
}

fn user_view(tenant: &Tenant, u: &User, request: &Request) -> Value {
    let mut v = user_properties(tenant.user_json(u), &request.select());
    // `$expand=manager` nests the manager's directoryObject, with the `$select` given inside
    // the parentheses; a user without a manager has no `manager` property at all.
    if let Some(options) = request.expand("manager") {
        let select = options
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("$select"))
            .map(|(_, s)| s.split(',').map(|p| p.trim().to_owned()).collect());
        if let Some(m) = manager_view(tenant, u, &select) {
            v["manager"] = m;
        }
    }
    v
}

/// A user without the properties Graph returns only when selected: signInActivity and
/// userType (user.md: userType "Returned only on $select").
fn user_properties(mut v: Value, select: &Option<Vec<String>>) -> Value {
    if let Value::Object(map) = &mut v {
        for property in ["signInActivity", "userType"] {
            if !select
                .as_ref()
                .is_some_and(|s| s.iter().any(|p| p == property))
            {
                map.remove(property);
            }
        }
    }
    v
}

/// The manager of `u` as a directoryObject: the user or organizational contact it names,
/// `@odata.type` and `id` always there.
fn manager_view(tenant: &Tenant, u: &User, select: &Option<Vec<String>>) -> Option<Value> {
    let id = u.manager.as_deref()?;
    let v = match tenant.users.get(id) {
        Some(m) => user_properties(tenant.user_json(m), select),
        None => tenant.contact_json(tenant.contacts.get(id)?),
    };
    Some(apply_select(v, select))
}

/// `startswith(displayName,'a')`, lower-cased prefix.
fn starts_with_filter(filter: &str) -> Option<String> {
    let inner = filter
        .trim()
        .strip_prefix("startswith(displayName,")?
        .strip_suffix(')')?;
    Some(inner.trim().trim_matches('\'').to_lowercase())
}

fn transitive(tenant: &Tenant, root: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut queue = vec![root.to_owned()];
    let mut seen = std::collections::BTreeSet::from([root.to_owned()]);
    while let Some(g) = queue.pop() {
        for m in tenant
            .groups
            .get(&g)
            .map(|g| g.members.clone())
            .unwrap_or_default()
        {
            if seen.insert(m.clone()) {
                if tenant.groups.contains_key(&m) {
                    queue.push(m.clone());
                }
                out.push(m);
            }
        }
    }
    out
}

fn list_assignments(tenant: &Tenant, request: &Request, endpoint: &str) -> Result<Reply, ()> {
    let filter = match request.filter_eq() {
        Ok(f) => f,
        Err(e) => return Ok(e),
    };
    let (kind, size) = match endpoint {
        "roleAssignments" => (Kind::Active, request.top(100, 999).unwrap_or(100)),
        "roleAssignmentScheduleInstances" => (Kind::Active, tenant.instance_page),
        _ => (Kind::Eligible, tenant.instance_page),
    };
    let matches = |a: &Assignment| match &filter {
        None => true,
        Some((f, v)) if f == "roleDefinitionId" => &a.role == v,
        Some((f, v)) if f == "principalId" => &a.principal == v,
        Some(_) => false,
    };
    let expand = request.expands("principal");
    let after = request.skiptoken();
    let range = match &after {
        Some(a) => tenant
            .assignments
            .range::<String, _>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)),
        None => tenant.assignments.range::<String, _>(..),
    };
    let items = range
        .map(|(_, a)| a)
        .filter(|a| a.kind == kind && matches(a))
        // roleAssignments lists direct assignments only; PIM's instances list inherited ones too.
        .filter(|a| endpoint != "roleAssignments" || a.member_type == "Direct")
        .take(size + 1)
        .map(|a| {
            let v = if endpoint == "roleAssignments" {
                tenant.role_assignment_json(a, expand)
            } else {
                tenant.assignment_json(a, expand)
            };
            (a.id.clone(), v)
        })
        .collect::<Vec<_>>();
    Ok(page(
        request,
        &format!("roleManagement/directory/{endpoint}"),
        items.into_iter(),
        size,
    ))
}

fn schedule_request(tenant: &mut Tenant, request: &Request, endpoint: &str, kind: Kind) -> Reply {
    let body = &request.body;
    let field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
    let (Some(action), Some(principal), Some(role)) = (
        field("action"),
        field("principalId"),
        field("roleDefinitionId"),
    ) else {
        return bad_request("action, principalId and roleDefinitionId are required.");
    };
    let scope = field("directoryScopeId").unwrap_or_else(|| "/".to_owned());
    let status = match action.to_ascii_lowercase().as_str() {
        "adminremove" => {
            let found = tenant
                .assignments
                .values()
                .find(|a| {
                    a.kind == kind
                        && a.principal == principal
                        && a.role == role
                        && a.scope == scope
                        && a.member_type == "Direct"
                        && !a.outside_pim
                })
                .map(|a| a.id.clone());
            let Some(id) = found else {
                return error(
                    400,
                    "RoleAssignmentDoesNotExist",
                    "The Role assignment does not exist.",
                );
            };
            if !tenant.kept_after_removal.contains(&id) {
                tenant.assignments.remove(&id);
            }
            tenant.removed.push(id);
            "Revoked"
        }
        "adminassign" => {
            let exists = tenant.assignments.values().any(|a| {
                a.kind == kind && a.principal == principal && a.role == role && a.scope == scope
            });
            if exists {
                return error(
                    400,
                    "RoleAssignmentExists",
                    "The Role assignment already exists.",
                );
            }
            let id = format!("req-{}", tenant.requests.len() + 1);
            tenant.assign(&id, &principal, &role, kind);
            "Provisioned"
        }
        _ => {
            return bad_request(&format!(
                "The action `{action}` is not supported for an application."
            ));
        }
    };
    let id = format!(
        "{:08x}-0000-4000-8000-{:012x}",
        tenant.requests.len() + 1,
        tenant.requests.len() + 1
    );
    let echo = json!({
        "@odata.context": format!("{}/$metadata#roleManagement/directory/{endpoint}/$entity", request.base),
        "id": id,
        "status": status,
        "createdDateTime": jiff::Timestamp::now().to_string(),
        "completedDateTime": null,
        "approvalId": null,
        "customData": null,
        "action": action,
        "principalId": principal,
        "roleDefinitionId": role,
        "directoryScopeId": scope,
        "appScopeId": null,
        "isValidationOnly": false,
        "targetScheduleId": null,
        "justification": body.get("justification").cloned().unwrap_or(Value::Null),
        "scheduleInfo": body.get("scheduleInfo").cloned().map(camel_case_types).unwrap_or(Value::Null),
        "createdBy": {"application": {"displayName": null, "id": request.client_id}, "device": null, "user": null},
        "ticketInfo": {"ticketNumber": null, "ticketSystem": null},
    });
    tenant.requests.push(echo.clone());
    Reply::json(201, echo)
}

/// The docs send `"type": "NoExpiration"`; the service accepts it and answers in the
/// metadata's camelCase (`noExpiration`).
fn camel_case_types(mut value: Value) -> Value {
    match &mut value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "type"
                    && let Value::String(s) = v
                    && let Some(first) = s.chars().next()
                {
                    *s = first.to_lowercase().chain(s.chars().skip(1)).collect();
                } else {
                    *v = camel_case_types(v.take());
                }
            }
        }
        Value::Array(items) => {
            for v in items.iter_mut() {
                *v = camel_case_types(v.take());
            }
        }
        _ => {}
    }
    value
}

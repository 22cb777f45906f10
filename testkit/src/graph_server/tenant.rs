//! The server's in-memory tenant: what tests seed and what the endpoints read and change.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

/// An assignment's kind, as the two PIM instance endpoints split them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Active,
    Eligible,
}

#[derive(Debug, Clone)]
pub struct Role {
    pub id: String,
    pub display_name: String,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub upn: String,
    pub display_name: String,
    pub enabled: bool,
    pub on_premises: bool,
    /// `lastSignInDateTime`, as Graph writes it.
    pub last_sign_in: Option<String>,
    pub manager: Option<String>,
    /// `Member` or `Guest`; null for accounts made before Entra ID recorded it.
    pub user_type: Option<&'static str>,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub display_name: String,
    pub dynamic: bool,
    pub on_premises: bool,
    pub members: Vec<String>,
}

/// An organizational contact (`orgContact`): someone outside the tenant, without an account.
/// Entra ID lets one be a user's manager.
#[derive(Debug, Clone)]
pub struct Contact {
    pub id: String,
    pub display_name: String,
    pub mail: String,
}

/// An application's service principal.
#[derive(Debug, Clone)]
pub struct ServicePrincipal {
    pub id: String,
    pub display_name: String,
    pub app_id: String,
    pub enabled: bool,
}

#[derive(Debug, Clone)]
pub struct Assignment {
    pub id: String,
    pub principal: String,
    pub role: String,
    pub scope: String,
    pub kind: Kind,
    /// `Direct`, or `Inherited` for the copies a role-assignable group's members get.
    pub member_type: &'static str,
    /// Made through `roleAssignments` outside PIM: PIM's schedule requests do not see it, as
    /// the Graph client's fallback expects.
    pub outside_pim: bool,
}

/// Everything the server holds.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    /// The RSA public key (PKCS#1 DER) and `x5t#S256` of the certificate credential, if any.
    pub certificate: Option<(Vec<u8>, String)>,
    pub token_lifetime_secs: u64,
    /// The page size of the PIM instance endpoints, which take no `$top`.
    pub instance_page: usize,
    pub roles: Vec<Role>,
    pub users: BTreeMap<String, User>,
    upns: HashMap<String, String>,
    pub groups: BTreeMap<String, Group>,
    pub service_principals: BTreeMap<String, ServicePrincipal>,
    pub contacts: BTreeMap<String, Contact>,
    /// By id, so pages can resume after the last id served (stable while items are removed).
    pub assignments: BTreeMap<String, Assignment>,
    /// Every schedule request created, in order.
    pub requests: Vec<Value>,
    /// Ids of assignments and `group/member` pairs removed, in order, once per removal.
    pub removed: Vec<String>,
    /// Assignment ids and `group/member` pairs whose removal is answered as Graph answers a
    /// successful one (the request `Revoked`, the `DELETE` 204) while the access stays listed:
    /// what a write lost to replication, or undone by a sync, looks like to a client.
    pub kept_after_removal: std::collections::BTreeSet<String>,
}

impl Tenant {
    pub fn new() -> Tenant {
        Tenant {
            tenant_id: "contoso.example".to_owned(),
            client_id: "11111111-2222-3333-4444-555555555555".to_owned(),
            client_secret: "s3cr3t-for-tests".to_owned(),
            certificate: None,
            token_lifetime_secs: 3600,
            instance_page: 100,
            roles: Vec::new(),
            users: BTreeMap::new(),
            upns: HashMap::new(),
            groups: BTreeMap::new(),
            service_principals: BTreeMap::new(),
            contacts: BTreeMap::new(),
            assignments: BTreeMap::new(),
            requests: Vec::new(),
            removed: Vec::new(),
            kept_after_removal: std::collections::BTreeSet::new(),
        }
    }

    pub fn role(&mut self, id: &str, name: &str) -> &mut Tenant {
        self.roles.push(Role {
            id: id.to_owned(),
            display_name: name.to_owned(),
        });
        self
    }

    pub fn user(&mut self, user: User) -> &mut Tenant {
        self.upns.insert(user.upn.to_lowercase(), user.id.clone());
        self.users.insert(user.id.clone(), user);
        self
    }

    /// A cloud user, enabled, who signed in at `last_sign_in`.
    pub fn simple_user(&mut self, id: &str, upn: &str, last_sign_in: Option<&str>) -> &mut Tenant {
        self.user(User {
            id: id.to_owned(),
            upn: upn.to_owned(),
            display_name: upn.split('@').next().unwrap_or(upn).to_owned(),
            enabled: true,
            on_premises: false,
            last_sign_in: last_sign_in.map(str::to_owned),
            manager: None,
            user_type: Some("Member"),
        })
    }

    pub fn service_principal(&mut self, sp: ServicePrincipal) -> &mut Tenant {
        self.service_principals.insert(sp.id.clone(), sp);
        self
    }

    pub fn service_principal_json(&self, sp: &ServicePrincipal) -> Value {
        json!({
            "@odata.type": "#microsoft.graph.servicePrincipal",
            "id": sp.id,
            "displayName": sp.display_name,
            "appId": sp.app_id,
            "accountEnabled": sp.enabled,
        })
    }

    pub fn contact(&mut self, contact: Contact) -> &mut Tenant {
        self.contacts.insert(contact.id.clone(), contact);
        self
    }

    pub fn group(&mut self, group: Group) -> &mut Tenant {
        self.groups.insert(group.id.clone(), group);
        self
    }

    pub fn assign(&mut self, id: &str, principal: &str, role: &str, kind: Kind) -> &mut Tenant {
        self.assignments.insert(
            id.to_owned(),
            Assignment {
                id: id.to_owned(),
                principal: principal.to_owned(),
                role: role.to_owned(),
                scope: "/".to_owned(),
                kind,
                member_type: "Direct",
                outside_pim: false,
            },
        );
        self
    }

    pub fn find_user(&self, key: &str) -> Option<&User> {
        self.users.get(key).or_else(|| {
            self.upns
                .get(&key.to_lowercase())
                .and_then(|id| self.users.get(id))
        })
    }

    pub fn user_json(&self, u: &User) -> Value {
        let mut v = json!({
            "@odata.type": "#microsoft.graph.user",
            "id": u.id,
            "displayName": u.display_name,
            "userPrincipalName": u.upn,
            "mail": u.upn,
            "accountEnabled": u.enabled,
            "onPremisesSyncEnabled": if u.on_premises { Value::Bool(true) } else { Value::Null },
            "userType": u.user_type,
        });
        v["signInActivity"] = json!({
            "lastSignInDateTime": u.last_sign_in,
            "lastSignInRequestId": u.last_sign_in.as_ref().map(|_| "d4d31c40-4c36-4775-ad59-7d1e6a171f00"),
            "lastNonInteractiveSignInDateTime": "0001-01-01T00:00:00Z",
            "lastNonInteractiveSignInRequestId": "",
            "lastSuccessfulSignInDateTime": u.last_sign_in,
            "lastSuccessfulSignInRequestId": u.last_sign_in.as_ref().map(|_| "d4d31c40-4c36-4775-ad59-7d1e6a171f00"),
        });
        v
    }

    pub fn contact_json(&self, c: &Contact) -> Value {
        json!({
            "@odata.type": "#microsoft.graph.orgContact",
            "id": c.id,
            "displayName": c.display_name,
            "mail": c.mail,
        })
    }

    pub fn group_json(&self, g: &Group) -> Value {
        json!({
            "@odata.type": "#microsoft.graph.group",
            "id": g.id,
            "displayName": g.display_name,
            "groupTypes": if g.dynamic { vec!["DynamicMembership"] } else { Vec::new() },
            "membershipRule": if g.dynamic { Value::String("user.department -eq \"Ops\"".to_owned()) } else { Value::Null },
            "onPremisesSyncEnabled": if g.on_premises { Value::Bool(true) } else { Value::Null },
        })
    }

    /// A user or a group by id, as a directoryObject.
    pub fn object_json(&self, id: &str) -> Option<Value> {
        if let Some(u) = self.find_user(id) {
            return Some(self.user_json(u));
        }
        self.groups.get(id).map(|g| self.group_json(g))
    }

    pub fn assignment_json(&self, a: &Assignment, expand_principal: bool) -> Value {
        let mut v = json!({
            "id": a.id,
            "principalId": a.principal,
            "roleDefinitionId": a.role,
            "directoryScopeId": a.scope,
            "appScopeId": null,
            "startDateTime": null,
            "endDateTime": null,
            "memberType": a.member_type,
            "roleAssignmentOriginId": a.id,
        });
        match a.kind {
            Kind::Active => {
                v["assignmentType"] = json!("Assigned");
                v["roleAssignmentScheduleId"] = json!(a.id);
            }
            Kind::Eligible => {
                v["roleEligibilityScheduleId"] = json!(a.id);
            }
        }
        if expand_principal && let Some(p) = self.object_json(&a.principal) {
            v["principal"] = p;
        }
        v
    }

    /// The `roleAssignments` view: active assignments only, without PIM's schedule fields.
    pub fn role_assignment_json(&self, a: &Assignment, expand_principal: bool) -> Value {
        let mut v = json!({
            "id": a.id,
            "principalId": a.principal,
            "resourceScope": a.scope,
            "directoryScopeId": a.scope,
            "roleDefinitionId": a.role,
        });
        if expand_principal && let Some(p) = self.object_json(&a.principal) {
            v["principal"] = p;
        }
        v
    }
}

impl Default for Tenant {
    fn default() -> Self {
        Tenant::new()
    }
}

//! The escalation scenario of `crate::escalation` against scim2-server, whose users carry the
//! enterprise extension's `manager`. django-scim2, the other peer, cannot express managers: its
//! user resource has no enterprise extension.

use std::collections::BTreeMap;

use super::peer::{NewUser, Tenant};
use crate::escalation::{HOLDERS, PEOPLE, ROLE_NAME, Setup, run, upn};
use crate::support::Tree;

#[test]
fn escalation_on_scim() {
    let tenant = Tenant::new("escalation");
    let upns: Vec<(String, Option<String>)> = PEOPLE
        .iter()
        .map(|(name, manager)| (upn(name), manager.map(upn)))
        .collect();
    let users: Vec<NewUser<'_>> = upns
        .iter()
        .map(|(user_name, manager)| NewUser {
            user_name,
            display_name: user_name,
            active: true,
            manager: manager.as_deref(),
        })
        .collect();
    let by_upn = tenant.users(&users);
    let ids: BTreeMap<String, String> = PEOPLE
        .iter()
        .map(|(name, _)| ((*name).to_owned(), by_upn[&upn(name)].clone()))
        .collect();
    let holders: Vec<&str> = HOLDERS.iter().map(|h| ids[*h].as_str()).collect();
    tenant.group(ROLE_NAME, &holders);
    let tree = Tree::new();
    tree.write(
        "manifests/directory.yaml",
        format!(
            "apiVersion: recert.dev/v1alpha1
kind: Directory
metadata:
  name: corp
spec:
  type: scim
  scim:
    baseUrl: {}
    bearerToken: {{env: RECERT_TEST_SCIM_TOKEN}}
",
            tenant.base
        ),
    );
    run(&Setup {
        tree,
        ids,
        env: Vec::new(),
    });
}

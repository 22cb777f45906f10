//! The whole engine (`plan`, `reconcile` with `--now`, apply) through the real binary against
//! the real SCIM server: each test seeds its own tenant, writes manifests that point at it,
//! and checks both Recert's status files and the server's groups.

use std::collections::BTreeMap;

use serde_json::json;

use super::peer::{NewUser, Tenant, user};
use crate::support::{Output, Tree};

/// The seeded tenant: Carol manages Alice, Bob (disabled), Dave and Frank; Erin is in Prod
/// Admins only through the nested On Call group; three more groups make the group list page.
struct Corp {
    tenant: Tenant,
    ids: BTreeMap<String, String>,
    prod: String,
    on_call: String,
}

fn corp(test: &str) -> Corp {
    let tenant = Tenant::new(test);
    let carol = Some("carol@corp.example");
    let person = |name, display, active, manager| NewUser {
        user_name: name,
        display_name: display,
        active,
        manager,
    };
    let ids = tenant.users(&[
        person("carol@corp.example", "Carol Schmidt", true, None),
        person("alice@corp.example", "Alice Nguyen", true, carol),
        person("bob@corp.example", "Bob Martins", false, carol),
        person("dave@corp.example", "Dave Okafor", true, carol),
        person("frank@corp.example", "Frank Li", true, carol),
        user("erin@corp.example"),
    ]);
    for name in ["Finance", "Legal", "Support"] {
        tenant.group(name, &[&ids["carol@corp.example"]]);
    }
    let on_call = tenant.group("On Call", &[&ids["erin@corp.example"]]);
    let prod = tenant.group(
        "Prod Admins",
        &[
            &ids["alice@corp.example"],
            &ids["bob@corp.example"],
            &ids["dave@corp.example"],
            &ids["frank@corp.example"],
            &on_call,
        ],
    );
    Corp {
        tenant,
        ids,
        prod,
        on_call,
    }
}

impl Corp {
    fn id(&self, name: &str) -> &str {
        &self.ids[&format!("{name}@corp.example")]
    }
}

/// A `type: scim` Directory whose token is read from a file beside it.
fn scim_directory(tree: &Tree, tenant: &Tenant, token: &str, page_size: u32) {
    tree.write("manifests/secrets/scim-token", format!("{token}\n"));
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
    bearerToken: {{file: secrets/scim-token}}
    pageSize: {page_size}
",
            tenant.base
        ),
    );
}

fn review(name: &str, scope: &str, reviewers: &str) -> String {
    format!(
        "apiVersion: recert.dev/v1alpha1
kind: AccessReview
metadata:
  name: {name}
spec:
  directory: corp
  displayName: Prod Admins
  scope:
    {scope}
  reviewers:
    {reviewers}
  fallbackReviewers: [carol@corp.example]
  schedule:
    start: 2026-12-01
    durationDays: 14
  settings:
    defaultDecision: recommendation
    recommendations: {{enabled: true}}
"
    )
}

const CAROL: &str = "apiVersion: recert.dev/v1alpha1
kind: ReviewDecisions
metadata:
  name: carol
spec:
  review: prod-admins
  reviewer: carol@corp.example
  decisions:
    - principals: [dave@corp.example, frank@corp.example]
      decision: deny
      reason: Moved teams.
    - principal: alice@corp.example
      decision: approve
      reason: On the platform team.
";

fn reconcile(tree: &Tree, now: &str) -> Output {
    let out = tree.recert(&[
        "reconcile",
        "manifests",
        "--state-dir",
        "state",
        "--now",
        now,
    ]);
    assert_eq!(
        out.code, 0,
        "reconcile at {now}:\n{}{}",
        out.stdout, out.stderr
    );
    out
}

fn plan(tree: &Tree, now: &str) -> Output {
    tree.recert(&["plan", "manifests", "--state-dir", "state", "--now", now])
}

fn read(tree: &Tree, rel: &str) -> String {
    std::fs::read_to_string(tree.path().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Appends a request token to the review (its manifest ends inside `spec.settings`).
fn request(tree: &Tree, review: &str, kind: &str, token: &str) {
    let rel = format!("manifests/reviews/{review}.yaml");
    let mut text = read(tree, &rel);
    if !text.contains("  requests:\n") {
        text.push_str("  requests:\n");
    }
    text.push_str(&format!("    {kind}: {token}\n"));
    tree.write(&rel, text);
}

#[test]
fn a_group_as_role_review_removes_the_denied_members_exactly_once() {
    let corp = corp("engine-role");
    let tree = Tree::new();
    // Three to a page: the group list and every look-up take several pages.
    scim_directory(&tree, &corp.tenant, &corp.tenant.token, 3);
    tree.write(
        "manifests/reviews/prod-admins.yaml",
        review(
            "prod-admins",
            "role: {name: Prod Admins}",
            "type: users\n    users: [carol@corp.example]",
        ),
    )
    .write(
        "manifests/reviews/prod-admins-managers.yaml",
        review(
            "prod-admins-managers",
            "role: {name: Prod Admins}",
            "type: manager",
        ),
    )
    .write("manifests/decisions/carol.yaml", CAROL);

    let out = reconcile(&tree, "2026-12-01T10:00:00Z");
    assert!(
        out.stdout
            .contains("instance 2026-12-01 started: 5 assignments to review"),
        "alice, bob, dave, frank and erin (through On Call): {}",
        out.stdout
    );
    let status = read(&tree, "state/reviews/prod-admins/status.yaml");
    assert!(status.contains("target: role Prod Admins"), "{status}");
    assert!(
        status.contains("recommendation: \"deny: the account is disabled\""),
        "bob is `active: false`: {status}"
    );
    // The manager comes from the enterprise extension: Carol reviews her four reports, and
    // Erin, who has no manager, falls back to Carol too.
    let managers = read(&tree, "state/reviews/prod-admins-managers/status.yaml");
    assert!(
        managers.contains(&format!(
            "  - reviewer: {}\n    items: 5\n",
            corp.id("carol")
        )),
        "{managers}"
    );

    // The instance runs to its end, where Bob's undecided item takes the recommendation.
    let out = reconcile(&tree, "2026-12-15T10:00:00Z");
    assert!(
        out.stdout.contains("instance 2026-12-01 ended"),
        "{}",
        out.stdout
    );

    // Frank leaves the group before the apply: his item reports that it no longer exists.
    corp.tenant
        .patch_member(&corp.prod, "remove", corp.id("frank"));
    request(&tree, "prod-admins", "apply", "apply-1");
    let planned = plan(&tree, "2026-12-16T10:00:00Z");
    assert_eq!(planned.code, 3, "{}{}", planned.stdout, planned.stderr);
    for name in ["bob", "dave", "frank"] {
        let line = format!(
            "- remove active assignment `{}:{}` of {}",
            corp.prod,
            corp.id(name),
            corp.id(name)
        );
        assert!(planned.stdout.contains(&line), "{line}\n{}", planned.stdout);
    }
    assert_eq!(
        corp.tenant.members(&corp.prod).len(),
        4,
        "plan writes nothing"
    );

    let out = reconcile(&tree, "2026-12-16T10:00:00Z");
    assert!(
        out.stdout.contains(
            "applying instance 2026-12-01 (requested as `apply-1`): 3 accesses to remove"
        ),
        "{}",
        out.stdout
    );
    let mut expected = vec![corp.id("alice").to_owned(), corp.on_call.clone()];
    expected.sort();
    assert_eq!(corp.tenant.members(&corp.prod), expected);
    assert_eq!(
        corp.tenant.members(&corp.on_call),
        [corp.id("erin")],
        "access through a nested group is not removed"
    );
    let status = read(&tree, "state/reviews/prod-admins/status.yaml");
    assert_eq!(
        status.matches("applyResult: applied").count(),
        2,
        "{status}"
    );
    assert!(
        status.contains("applyResult: no longer exists"),
        "frank: {status}"
    );

    // Nothing is left to do, and a second run leaves the group as it is.
    let again = plan(&tree, "2026-12-16T10:00:00Z");
    assert_eq!(
        (again.code, again.stdout.as_str()),
        (0, "No changes: the reviews are up to date.\n"),
        "{}",
        again.stdout
    );
    reconcile(&tree, "2026-12-16T11:00:00Z");
    assert_eq!(corp.tenant.members(&corp.prod), expected);
    // The server's own log: the test's removal of Frank, then one PATCH each for Bob and
    // Dave. Frank's removal found him gone and wrote nothing; the re-run wrote nothing.
    assert_eq!(corp.tenant.logged("PATCH"), 3);
    let audit = read(&tree, "state/reviews/prod-admins/audit.jsonl");
    assert_eq!(audit.matches("\"applyResult\"").count(), 3, "{audit}");
    assert_eq!(
        tree.recert(&["audit", "verify", "--state-dir", "state"])
            .code,
        0
    );
}

#[test]
fn a_wrong_token_is_reported_in_the_status_and_changes_nothing() {
    let corp = corp("engine-401");
    let tree = Tree::new();
    scim_directory(&tree, &corp.tenant, "not-the-token", 100);
    tree.write(
        "manifests/reviews/prod-admins.yaml",
        review(
            "prod-admins",
            "group: {name: Prod Admins}",
            "type: users\n    users: [carol@corp.example]",
        ),
    );
    let out = tree.recert(&[
        "reconcile",
        "manifests",
        "--state-dir",
        "state",
        "--now",
        "2026-12-01T10:00:00Z",
    ]);
    let status = read(&tree, "state/reviews/prod-admins/status.yaml");
    assert!(
        status.contains("authentication failed")
            && status.contains("the service refused the bearer token"),
        "{}{}\n{status}",
        out.stdout,
        out.stderr
    );
    assert!(
        !status.contains("not-the-token"),
        "the token is never shown"
    );
    assert!(!status.contains("state: InProgress"), "{status}");
    // The conditions say why, as a reason a tool can act on.
    assert!(status.contains("reason: DirectoryRefused"), "{status}");
    assert_eq!(corp.tenant.members(&corp.prod).len(), 5);
}

/// The seeded tenant as a `DirectoryData` document with the same ids and names.
fn as_directory_data(corp: &Corp) -> String {
    let (_, users) = corp
        .tenant
        .request(reqwest::Method::GET, "/Users?count=1000", None);
    let (_, groups) = corp
        .tenant
        .request(reqwest::Method::GET, "/Groups?count=1000", None);
    let users: Vec<_> = users["Resources"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| {
            let mut entry = json!({
                "id": u["id"], "userName": u["userName"], "displayName": u["displayName"],
                "enabled": u["active"],
            });
            if let Some(manager) =
                u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"]["value"]
                    .as_str()
            {
                entry["manager"] = json!(manager);
            }
            entry
        })
        .collect();
    let groups: Vec<_> = groups["Resources"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            let members: Vec<_> = g["members"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| m["value"].clone())
                .collect();
            json!({"id": g["id"], "displayName": g["displayName"], "members": members})
        })
        .collect();
    let mut text = String::from(
        "apiVersion: recert.dev/v1alpha1\nkind: DirectoryData\nmetadata: {name: copy}\nspec:\n  users:\n",
    );
    for u in users {
        let line = u
            .to_string()
            .replace("\"userName\"", "\"userPrincipalName\"");
        text.push_str(&format!("    - {line}\n"));
    }
    text.push_str("  groups:\n");
    for g in groups {
        text.push_str(&format!("    - {g}\n"));
    }
    text.push_str("  roles: []\n  assignments: []\n");
    text
}

#[test]
fn a_nested_group_member_is_reported_as_the_file_directory_reports_it() {
    let corp = corp("engine-nested");
    let file = Tree::new();
    file.write(
        "manifests/directory.yaml",
        "apiVersion: recert.dev/v1alpha1\nkind: Directory\nmetadata: {name: corp}\nspec:\n  type: file\n  file: {path: data.yaml}\n",
    )
    .write("manifests/data.yaml", as_directory_data(&corp));
    let scim = Tree::new();
    scim_directory(&scim, &corp.tenant, &corp.tenant.token, 100);
    let decisions = CAROL.replace(
        "principal: alice@corp.example\n      decision: approve",
        "principal: erin@corp.example\n      decision: deny",
    );
    for tree in [&file, &scim] {
        tree.write(
            "manifests/reviews/prod-admins.yaml",
            review(
                "prod-admins",
                "group: {name: Prod Admins}",
                "type: users\n    users: [carol@corp.example]",
            ),
        )
        .write("manifests/decisions/carol.yaml", &decisions);
        reconcile(tree, "2026-12-01T10:00:00Z");
        request(tree, "prod-admins", "stop", "stop-1");
        reconcile(tree, "2026-12-02T10:00:00Z");
        request(tree, "prod-admins", "apply", "apply-1");
        reconcile(tree, "2026-12-03T10:00:00Z");
    }
    let instances = |tree: &Tree| {
        let status = read(tree, "state/reviews/prod-admins/status.yaml");
        status
            .split_once("\ninstances:\n")
            .map(|(_, rest)| rest.to_owned())
            .unwrap_or_else(|| panic!("no instances: {status}"))
    };
    let from_scim = instances(&scim);
    // The same in every way but the population's directory type.
    assert_eq!(
        instances(&file).replace("\n      type: file\n", "\n      type: scim\n"),
        from_scim
    );
    assert!(
        from_scim.contains("member through nested group `On Call`; remove them from that group"),
        "{from_scim}"
    );
    assert_eq!(
        corp.tenant.members(&corp.on_call),
        [corp.id("erin")],
        "erin stays in On Call"
    );
}

#[test]
fn a_group_review_runs_end_to_end_against_a_server_with_the_entra_dialect() {
    // django-scim2: integer ids, no ETags, `id` ignored in filters, only the Entra form of
    // member removal. One shared database, so everything is named after this test.
    let peer = Tenant::entra();
    let carol = peer.create_user("e2e-carol@corp.example");
    let ann = peer.create_user("e2e-ann@corp.example");
    let ben = peer.create_user("e2e-ben@corp.example");
    let group = peer.group("e2e-ops", &[]);
    for id in [&ann, &ben] {
        peer.patch_member(&group, "add", id);
    }
    let tree = Tree::new();
    scim_directory(&tree, &peer, &peer.token, 100);
    tree.write(
        "manifests/reviews/prod-admins.yaml",
        review(
            "prod-admins",
            "group: {name: e2e-ops}",
            "type: users\n    users: [e2e-carol@corp.example]",
        ),
    )
    .write(
        "manifests/decisions/carol.yaml",
        "apiVersion: recert.dev/v1alpha1
kind: ReviewDecisions
metadata:
  name: carol
spec:
  review: prod-admins
  reviewer: e2e-carol@corp.example
  decisions:
    - principal: e2e-ben@corp.example
      decision: deny
      reason: Left the team.
    - principal: e2e-ann@corp.example
      decision: approve
      reason: On call.
",
    );
    let out = reconcile(&tree, "2026-12-01T10:00:00Z");
    assert!(
        out.stdout
            .contains("instance 2026-12-01 started: 2 assignments to review"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!("{carol} denied {ben}")),
        "{}",
        out.stdout
    );
    request(&tree, "prod-admins", "stop", "stop-1");
    reconcile(&tree, "2026-12-02T10:00:00Z");
    request(&tree, "prod-admins", "apply", "apply-1");
    let out = reconcile(&tree, "2026-12-03T10:00:00Z");
    assert!(
        out.stdout
            .contains("applying instance 2026-12-01 (requested as `apply-1`): 1 access to remove"),
        "{}",
        out.stdout
    );
    assert_eq!(peer.members(&group), vec![ann]);
    let status = read(&tree, "state/reviews/prod-admins/status.yaml");
    assert_eq!(
        status.matches("applyResult: applied").count(),
        1,
        "{status}"
    );
    let again = plan(&tree, "2026-12-03T10:00:00Z");
    assert_eq!(
        (again.code, again.stdout.as_str()),
        (0, "No changes: the reviews are up to date.\n"),
        "{}",
        again.stdout
    );
}

#[test]
fn user_type_is_read_from_scim_and_a_guests_only_review_keeps_only_guests() {
    let tenant = Tenant::new("engine-user-type");
    let guest = tenant.create_typed_user("vendor@partner.example", Some("Guest"));
    let lower = tenant.create_typed_user("contractor@partner.example", Some("guest"));
    let employee = tenant.create_typed_user("emma@corp.example", Some("Employee"));
    let untyped = tenant.create_typed_user("carol@corp.example", None);
    tenant.group("Vendors", &[&guest, &lower, &employee, &untyped]);
    let tree = Tree::new();
    scim_directory(&tree, &tenant, &tenant.token, 100);
    tree.write(
        "manifests/reviews/vendors.yaml",
        review(
            "vendors",
            "group: {name: Vendors}\n    userType: guest",
            "type: users\n    users: [carol@corp.example]",
        ),
    );
    let out = reconcile(&tree, "2026-12-01T10:00:00Z");
    assert!(
        out.stdout.contains(
            "instance 2026-12-01 started: 2 assignments to review (4 read, 2 left out by the scope's filters)"
        ),
        "{}",
        out.stdout
    );
    let state: serde_json::Value =
        serde_json::from_str(&read(&tree, "state/reviews/vendors/state.json")).expect("state");
    let instance = &state["state"]["instances"][0];
    let mut kept: Vec<&str> = instance["items"]
        .as_object()
        .expect("items")
        .keys()
        .map(String::as_str)
        .collect();
    kept.sort_unstable();
    let mut guests = vec![guest.as_str(), lower.as_str()];
    guests.sort_unstable();
    assert_eq!(kept, guests);
    assert_eq!(instance["items"][&guest]["principal"]["userType"], "guest");
    let population = &instance["population"];
    assert_eq!(population["directory"]["type"], "scim");
    assert_eq!(population["query"]["filters"]["userType"]["excluded"], 2);
}

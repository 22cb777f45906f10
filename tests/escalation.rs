//! Escalation end to end, through the `recert` binary, with the same people and the same review
//! on each kind of directory: the embedded file, the Graph-compatible test server here, and a
//! real SCIM server in `scim::escalation`.
//!
//! Carol manages Alice and Bob and is managed by Dan; Erin has no manager, so her item goes to
//! the fallback reviewers Frank and Gina, who have no manager either (on Graph, Gina's manager
//! is an organizational contact, who cannot review); Uma is the last-call reviewer. The review
//! is a manager review with two levels: `skip level` (to the reviewer's manager, after three
//! days) and `last call` (to Uma, three days before the end). Carol, Frank and Gina never
//! decide.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::support::graph_server::{Contact, GraphServer, Kind, Tenant, User};
use crate::support::{Output, Tree, recert_with_env};

/// User names (before `@corp.example`) and their managers' names.
pub const PEOPLE: &[(&str, Option<&str>)] = &[
    ("dan", None),
    ("carol", Some("dan")),
    ("alice", Some("carol")),
    ("bob", Some("carol")),
    ("erin", None),
    ("frank", None),
    ("gina", None),
    ("uma", None),
];

/// Who holds the role under review.
pub const HOLDERS: &[&str] = &["alice", "bob", "erin"];

pub const ROLE_NAME: &str = "Global Administrator";

const START: &str = "2026-12-01T10:00:00Z";

pub fn upn(name: &str) -> String {
    format!("{name}@corp.example")
}

pub const REVIEW: &str = "apiVersion: recert.dev/v1alpha1
kind: AccessReview
metadata:
  name: ga
spec:
  directory: corp
  displayName: Global Administrators
  scope:
    role: {name: Global Administrator}
  reviewers:
    type: manager
  fallbackReviewers: [frank@corp.example, gina@corp.example]
  schedule:
    start: 2026-12-01
    durationDays: 14
  settings:
    requireJustification: true
    escalations:
      - {name: skip level, afterDays: 3, to: manager}
      - {name: last call, daysBeforeEnd: 3, to: users, users: [uma@corp.example]}
";

/// A manifests folder whose `Directory` named `corp` points at one directory, the ids that
/// directory gave each person (by name), and the environment `recert` needs to reach it.
pub struct Setup {
    pub tree: Tree,
    pub ids: BTreeMap<String, String>,
    pub env: Vec<(String, String)>,
}

impl Setup {
    fn id(&self, name: &str) -> &str {
        &self.ids[name]
    }

    fn reconcile(&self, now: &str) -> Output {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let out = recert_with_env(
            self.tree.path(),
            &[
                "reconcile",
                "manifests",
                "--state-dir",
                "state",
                "--now",
                now,
            ],
            &env,
        );
        assert_eq!(
            out.code, 0,
            "reconcile at {now}:\n{}{}",
            out.stdout, out.stderr
        );
        out
    }

    fn status(&self) -> Value {
        let text = std::fs::read_to_string(self.tree.path().join("state/reviews/ga/status.yaml"))
            .expect("status.yaml");
        let parsed = recert::yaml::parse_values(&text);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        parsed
            .documents
            .into_iter()
            .next()
            .map(|d| d.root)
            .expect("one document")
    }

    /// `reviewer` decides `principal` in their own ReviewDecisions file.
    fn decide(&self, reviewer: &str, principal: &str, decision: &str, reason: &str) {
        self.tree.write(
            &format!("manifests/decisions/{reviewer}.yaml"),
            format!(
                "apiVersion: recert.dev/v1alpha1
kind: ReviewDecisions
metadata:
  name: {reviewer}-ga
spec:
  review: ga
  reviewer: {}
  decisions:
    - principal: {}
      decision: {decision}
      reason: {reason}
",
                upn(reviewer),
                upn(principal)
            ),
        );
    }

    /// The status's item of `name`.
    fn item(&self, status: &Value, name: &str) -> Value {
        status["instances"][0]["items"]
            .as_array()
            .and_then(|items| items.iter().find(|i| i["principal"] == self.id(name)))
            .cloned()
            .unwrap_or_else(|| panic!("no item of {name}: {status:#}"))
    }

    /// `items` of an escalation as the status should show it: item ids to target ids.
    fn targets(&self, items: &[(&str, &str)]) -> Value {
        let map: serde_json::Map<String, Value> = items
            .iter()
            .map(|(item, to)| (self.id(item).to_owned(), json!([self.id(to)])))
            .collect();
        Value::Object(map)
    }
}

/// The scenario every directory must pass the same way.
pub fn run(setup: &Setup) {
    setup.tree.write("manifests/reviews/ga.yaml", REVIEW);
    let out = setup.reconcile(START);
    assert!(
        out.stdout
            .contains("instance 2026-12-01 started: 3 assignments to review"),
        "{}",
        out.stdout
    );

    // Dan may not decide yet: his reports' items are Carol's.
    setup.decide("dan", "alice", "approve", "Still on the platform team.");
    setup.reconcile("2026-12-02T10:00:00Z");
    let status = setup.status();
    let rejected = &status["instances"][0]["rejectedDecisions"];
    assert_eq!(rejected[0]["principal"], setup.id("alice"), "{status:#}");
    assert!(
        rejected[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("may not decide")),
        "{status:#}"
    );
    assert_eq!(setup.item(&status, "alice")["decision"], "undecided");

    // Day 3: nobody has decided. Carol's items go to Dan; Frank and Gina have Erin's and no
    // manager.
    let out = setup.reconcile("2026-12-04T12:00:00Z");
    let mut unresolved = vec![setup.id("frank"), setup.id("gina")];
    unresolved.sort_unstable();
    assert!(
        out.stdout.contains(&format!(
            "instance 2026-12-01 escalated (skip level): 2 undecided items go to {} as well; no manager known for {}",
            setup.id("dan"),
            unresolved.join(", ")
        )),
        "{}",
        out.stdout
    );
    let status = setup.status();
    let level = &status["instances"][0]["escalations"][0];
    assert_eq!(level["level"], "skip level", "{status:#}");
    assert_eq!(
        level["items"],
        setup.targets(&[("alice", "dan"), ("bob", "dan")]),
        "{status:#}"
    );
    assert_eq!(level["noManagerKnown"], json!(unresolved), "{status:#}");
    // Dan's entry from before the level stays rejected as it was seen.
    assert_eq!(setup.item(&status, "alice")["decision"], "undecided");

    // Dan decides again, now that the item is his too, and it counts.
    setup.decide("dan", "alice", "approve", "Confirmed for Carol.");
    setup.reconcile("2026-12-05T10:00:00Z");
    let alice = setup.item(&setup.status(), "alice");
    assert_eq!(alice["decision"], "approve", "{alice}");
    assert_eq!(alice["reviewer"], setup.id("dan"), "{alice}");

    // Three days before the end, what is still undecided goes to Uma.
    let out = setup.reconcile("2026-12-12T12:00:00Z");
    assert!(
        out.stdout.contains("escalated (last call)"),
        "{}",
        out.stdout
    );
    let status = setup.status();
    let level = &status["instances"][0]["escalations"][1];
    assert_eq!(level["level"], "last call", "{status:#}");
    assert_eq!(
        level["items"],
        setup.targets(&[("bob", "uma"), ("erin", "uma")]),
        "{status:#}"
    );
    setup.decide("uma", "erin", "deny", "No longer on call.");
    setup.reconcile("2026-12-13T10:00:00Z");
    let erin = setup.item(&setup.status(), "erin");
    assert_eq!(erin["decision"], "deny", "{erin}");
    assert_eq!(erin["reviewer"], setup.id("uma"), "{erin}");

    // The audit trail holds both levels, and its chain is whole.
    let audit = std::fs::read_to_string(setup.tree.path().join("state/reviews/ga/audit.jsonl"))
        .expect("audit.jsonl");
    let escalated: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("an audit line"))
        .filter(|r| r["event"]["change"] == "escalated")
        .map(|r| r["event"].clone())
        .collect();
    assert_eq!(escalated.len(), 2, "{audit}");
    assert_eq!(escalated[0]["level"], "skip level");
    assert_eq!(escalated[0]["reviewers"], json!([setup.id("dan")]));
    assert_eq!(escalated[0]["unresolved"], json!(unresolved));
    assert_eq!(escalated[1]["level"], "last call");
    assert_eq!(escalated[1]["reviewers"], json!([setup.id("uma")]));
    let verify = recert_with_env(
        setup.tree.path(),
        &["audit", "verify", "--state-dir", "state"],
        &[],
    );
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
}

#[test]
fn escalation_on_the_embedded_directory() {
    let tree = Tree::new();
    let mut data = String::from(
        "apiVersion: recert.dev/v1alpha1\nkind: DirectoryData\nmetadata:\n  name: corp\nspec:\n  users:\n",
    );
    let mut ids = BTreeMap::new();
    for (name, manager) in PEOPLE {
        let _ = write!(
            data,
            "    - {{id: u-{name}, userPrincipalName: {}",
            upn(name)
        );
        if let Some(m) = manager {
            let _ = write!(data, ", manager: u-{m}");
        }
        data.push_str("}\n");
        ids.insert((*name).to_owned(), format!("u-{name}"));
    }
    let _ = write!(
        data,
        "  roles:\n    - {{id: r-ga, displayName: {ROLE_NAME}}}\n  assignments:\n"
    );
    for name in HOLDERS {
        let _ = writeln!(
            data,
            "    - {{id: a-{name}, principal: u-{name}, role: r-ga}}"
        );
    }
    tree.write("manifests/data.yaml", data).write(
        "manifests/directory.yaml",
        "apiVersion: recert.dev/v1alpha1\nkind: Directory\nmetadata: {name: corp}\nspec:\n  type: file\n  file: {path: data.yaml}\n",
    );
    run(&Setup {
        tree,
        ids,
        env: Vec::new(),
    });
}

const SECRET_VAR: &str = "RECERT_TEST_GRAPH_SECRET";

#[test]
fn escalation_on_graph() {
    let mut tenant = Tenant::new();
    tenant.role(crate::graph::ROLE, ROLE_NAME);
    let mut ids = BTreeMap::new();
    for (name, manager) in PEOPLE {
        tenant.user(User {
            id: format!("u-{name}"),
            upn: upn(name),
            display_name: (*name).to_owned(),
            enabled: true,
            on_premises: false,
            last_sign_in: Some("2026-11-20T08:12:31Z".to_owned()),
            manager: manager.map(|m| format!("u-{m}")),
            user_type: Some("Member"),
        });
        ids.insert((*name).to_owned(), format!("u-{name}"));
    }
    for name in HOLDERS {
        tenant.assign(
            &format!("a-{name}"),
            &format!("u-{name}"),
            crate::graph::ROLE,
            Kind::Active,
        );
    }
    // Gina's manager in Entra ID is an organizational contact: someone without an account,
    // who cannot review, so she has no manager to escalate to on Graph either.
    tenant.contact(Contact {
        id: "c-outsourcer".to_owned(),
        display_name: "Outsourcing desk".to_owned(),
        mail: "desk@outsourcer.example".to_owned(),
    });
    if let Some(gina) = tenant.users.get_mut("u-gina") {
        gina.manager = Some("c-outsourcer".to_owned());
    }
    let server = GraphServer::start(tenant);
    let (tenant_id, client_id, secret) = {
        let t = server.tenant();
        (
            t.tenant_id.clone(),
            t.client_id.clone(),
            t.client_secret.clone(),
        )
    };
    let tree = Tree::new();
    tree.write(
        "manifests/directory.yaml",
        format!(
            "apiVersion: recert.dev/v1alpha1
kind: Directory
metadata:
  name: corp
spec:
  type: graph
  graph:
    tenantId: {tenant_id}
    clientId: {client_id}
    clientSecret: {{env: {SECRET_VAR}}}
    authorityUrl: {}
    baseUrl: {}
    requestTimeoutSeconds: 10
",
            server.authority_url(),
            server.base_url()
        ),
    );
    run(&Setup {
        tree,
        ids,
        env: vec![(SECRET_VAR.to_owned(), secret)],
    });
}

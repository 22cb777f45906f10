//! The whole engine — the real `recert` binary — against the Graph-compatible test server: a
//! `Directory` of `type: graph` whose secret comes from an environment variable, a review of a
//! role, a reviewer's decisions, and the apply at the end of the instance, under throttling,
//! 5xx bursts, dropped connections and a token that expires in the middle of the run.

use std::fmt::Write as _;

use crate::graph::{ROLE, big_tenant};
use crate::support::graph_server::{Fault, GraphServer, Group, Kind, ServicePrincipal, Tenant};
use crate::support::{Output, Tree, recert_with_env};

const SECRET_VAR: &str = "RECERT_TEST_GRAPH_SECRET";
const REVIEW: &str = "ga";
const START: &str = "2026-12-01T10:00:00Z";
const DURING: &str = "2026-12-02T10:00:00Z";
/// After the 14-day instance ends: undecided items are approved, denied ones removed.
const AFTER: &str = "2026-12-16T10:00:00Z";

struct Setup {
    server: GraphServer,
    tree: Tree,
}

impl Setup {
    fn new(mut tenant: Tenant) -> Setup {
        tenant.simple_user("u-carol", "carol@contoso.example", None);
        let server = GraphServer::start(tenant);
        let tree = Tree::new();
        let (tenant_id, client_id) = {
            let t = server.tenant();
            (t.tenant_id.clone(), t.client_id.clone())
        };
        tree.write(
            "manifests/directory.yaml",
            format!(
                "apiVersion: recert.dev/v1alpha1
kind: Directory
metadata:
  name: entra
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
        tree.write(
            "manifests/review.yaml",
            format!(
                "apiVersion: recert.dev/v1alpha1
kind: AccessReview
metadata:
  name: {REVIEW}
spec:
  directory: entra
  displayName: Global Administrators
  scope:
    role: {{id: {ROLE}}}
  reviewers:
    type: users
    users: [carol@contoso.example]
  schedule:
    start: 2026-12-01
    durationDays: 14
  settings:
    defaultDecision: approve
    autoApply: true
"
            ),
        );
        Setup { server, tree }
    }

    /// Carol denies these principals.
    fn deny(&self, principals: &[&str]) {
        let mut text = format!(
            "apiVersion: recert.dev/v1alpha1
kind: ReviewDecisions
metadata:
  name: carol-ga
spec:
  review: {REVIEW}
  reviewer: carol@contoso.example
  decisions:
"
        );
        for p in principals {
            let _ = write!(
                text,
                "    - principal: {p}\n      decision: deny\n      reason: No longer needs the role.\n"
            );
        }
        self.tree.write("manifests/decisions/carol.yaml", text);
    }

    fn reconcile(&self, now: &str) -> Output {
        let secret = self.server.tenant().client_secret.clone();
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
            &[(SECRET_VAR, &secret)],
        );
        assert_eq!(
            out.code, 0,
            "reconcile at {now}:\n{}{}",
            out.stdout, out.stderr
        );
        assert!(
            !out.stdout.contains(&secret) && !out.stderr.contains(&secret),
            "the secret leaked into the output"
        );
        out
    }

    fn status(&self) -> String {
        std::fs::read_to_string(
            self.tree
                .path()
                .join(format!("state/reviews/{REVIEW}/status.yaml")),
        )
        .expect("status.yaml")
    }

    fn results(&self) -> String {
        std::fs::read_to_string(
            self.tree
                .path()
                .join(format!("state/reviews/{REVIEW}/results/2026-12-01.csv")),
        )
        .expect("results CSV")
    }
}

#[test]
fn thousands_of_assignments_are_read_page_by_page_and_an_idle_reconcile_writes_nothing() {
    let (active, eligible) = (2_300, 700);
    let setup = Setup::new(big_tenant(active, eligible));
    let page = setup.server.tenant().instance_page;
    let out = setup.reconcile(START);
    assert!(
        out.stdout.contains(&format!(
            "started: {} assignments to review",
            active + eligible
        )),
        "{}",
        out.stdout
    );
    let counts = setup.server.counts();
    // One list of roles, then the active and the eligible instances page by page; every
    // principal looked up once, twenty to a batch, and one more batch for the reviewer named
    // in the review. Nothing else.
    let lists = 1 + active.div_ceil(page) + eligible.div_ceil(page);
    assert_eq!(counts.lists, lists as u64, "{counts:?}");
    assert_eq!(
        counts.batches,
        (active + eligible).div_ceil(20) as u64 + 1,
        "{counts:?}"
    );
    assert_eq!(
        counts.batch_items,
        (active + eligible) as u64 + 1,
        "{counts:?}"
    );
    assert_eq!(counts.gets, 0, "{counts:?}");
    assert_eq!(counts.writes, 0, "{counts:?}");

    setup.server.reset_counts();
    setup.reconcile(DURING);
    assert_eq!(
        setup.server.counts().writes,
        0,
        "nothing to change, nothing written"
    );
    // The instance ends with no denial: every item is approved, nothing is removed.
    setup.reconcile(AFTER);
    let counts = setup.server.counts();
    assert_eq!(counts.writes, 0, "{counts:?}");
    assert!(setup.server.tenant().removed.is_empty());
}

#[test]
fn a_throttled_apply_removes_each_denied_assignment_exactly_once() {
    let setup = Setup::new(big_tenant(60, 20));
    setup.reconcile(START);
    let denied: Vec<String> = (0..80).step_by(2).map(|i| format!("u-{i:06}")).collect();
    setup.deny(&denied.iter().map(String::as_str).collect::<Vec<_>>());
    setup.reconcile(DURING);
    setup.server.reset_counts();
    // 25 requests a second in bursts of 2: the 40 removals outrun it and are throttled.
    setup.server.rate_limit(25.0, 2.0);
    let out = setup.reconcile(AFTER);
    assert!(
        out.stdout.contains("40 accesses to remove"),
        "{}",
        out.stdout
    );

    let counts = setup.server.counts();
    assert!(counts.throttled > 0, "the rate limit was hit: {counts:?}");
    let tenant = setup.server.tenant();
    let mut removed = tenant.removed.clone();
    removed.sort();
    let expected: Vec<String> = (0..80).step_by(2).map(|i| format!("a-{i:06}")).collect();
    assert_eq!(
        removed, expected,
        "each denied assignment once, nothing else"
    );
    assert_eq!(counts.writes, 40, "{counts:?}");
    drop(tenant);
    let status = setup.status();
    assert!(status.contains("phase: Applied"), "{status}");
    assert!(status.contains("applied: 40"), "{status}");
    assert_eq!(
        status.matches("applyResult: applied").count(),
        40,
        "{status}"
    );
}

#[test]
fn bursts_of_5xx_dropped_connections_and_an_expired_token_converge() {
    let setup = Setup::new(big_tenant(30, 0));
    setup.server.fail_next(2, Fault::Status(503));
    setup.server.fail_next(1, Fault::Drop);
    setup.reconcile(START);
    setup.deny(&["u-000001", "u-000002", "u-000003"]);
    setup.reconcile(DURING);

    setup.server.reset_counts();
    setup.server.fail_next(1, Fault::Status(500));
    setup.server.fail_next(1, Fault::Drop);
    // The token this run gets stops working after two requests; the client renews it once.
    setup.server.expire_tokens_after(2);
    setup.reconcile(AFTER);
    let counts = setup.server.counts();
    assert_eq!(counts.injected, 2, "{counts:?}");
    assert_eq!(counts.tokens, 2, "one token, then one renewal: {counts:?}");
    assert!(counts.unauthorized >= 1, "{counts:?}");
    let mut removed = setup.server.tenant().removed.clone();
    removed.sort();
    assert_eq!(removed, ["a-000001", "a-000002", "a-000003"]);
}

#[test]
fn a_vanished_assignment_a_group_held_access_and_an_eligible_removal_are_reported_as_such() {
    let mut t = big_tenant(3, 1);
    t.simple_user(
        "u-member",
        "member@contoso.example",
        Some("2026-11-01T00:00:00Z"),
    );
    t.group(Group {
        id: "g-admins".to_owned(),
        display_name: "Tier-0 admins".to_owned(),
        dynamic: false,
        on_premises: false,
        members: vec!["u-member".to_owned()],
    });
    t.assign("a-group", "g-admins", ROLE, Kind::Active);
    let setup = Setup::new(t);
    setup.reconcile(START);
    // u-000000's assignment goes away before the apply; u-member holds the role only through
    // the group; u-000003 is eligible.
    setup.deny(&["u-000000", "member@contoso.example", "u-000003"]);
    setup.reconcile(DURING);
    setup.server.tenant().assignments.remove("a-000000");
    setup.reconcile(AFTER);

    let results = setup.results();
    let row = |principal: &str| {
        results
            .lines()
            .find(|l| l.contains(principal))
            .unwrap_or_else(|| panic!("no row for {principal}:\n{results}"))
            .to_owned()
    };
    assert!(row("u-000000").contains("no longer exists"), "{results}");
    assert!(row("u-member").contains("not supported"), "{results}");
    assert!(row("u-member").contains("Tier-0 admins"), "{results}");
    assert!(
        row("u-000003").contains("applied") || row("u-000003").contains("Applied"),
        "{results}"
    );
    let status = setup.status();
    assert!(status.contains("applyNotFound"), "{status}");
    assert!(status.contains("applyNotSupported"), "{status}");

    let tenant = setup.server.tenant();
    assert_eq!(
        tenant.removed,
        ["a-000003"],
        "the group and its member were left alone"
    );
    let request = tenant.requests.last().expect("a schedule request");
    assert_eq!(request["action"], "adminRemove");
    assert_eq!(request["principalId"], "u-000003");
    assert!(
        request["@odata.context"]
            .as_str()
            .is_some_and(|c| c.contains("roleEligibilityScheduleRequests")),
        "{request}"
    );
}

#[test]
fn a_service_principal_holding_the_role_is_reviewed_and_its_denied_assignment_removed() {
    let mut tenant = Tenant::new();
    tenant
        .role(ROLE, "Global Administrator")
        .simple_user("u-ann", "ann@contoso.example", Some("2026-11-30T08:00:00Z"))
        .service_principal(ServicePrincipal {
            id: "sp-deploy".to_owned(),
            display_name: "Deploy pipeline".to_owned(),
            app_id: "99999999-0000-0000-0000-000000000001".to_owned(),
            enabled: true,
        })
        .assign("a-ann", "u-ann", ROLE, Kind::Active)
        .assign("a-sp", "sp-deploy", ROLE, Kind::Active);
    let setup = Setup::new(tenant);
    setup.reconcile(START);
    let status = setup.status();
    assert!(
        status.contains("principal: sp-deploy")
            && status.contains("name: Deploy pipeline")
            && status.contains("type: servicePrincipal"),
        "{status}"
    );
    // Carol, a named reviewer, may decide for the application.
    setup.deny(&["sp-deploy"]);
    setup.reconcile(DURING);
    setup.reconcile(AFTER);
    assert_eq!(setup.server.tenant().removed, ["a-sp"]);
    let results = setup.results();
    let row = results
        .lines()
        .find(|l| l.contains("sp-deploy"))
        .expect("a row for the service principal");
    assert!(
        row.contains("servicePrincipal") && row.contains("applied"),
        "{row}"
    );
}

/// Every file under `dir`, as text, one after the other.
fn all_text(dir: &std::path::Path) -> String {
    let mut out = String::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.push_str(&all_text(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            let _ = writeln!(out, "== {}", path.display());
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    out
}

#[test]
fn an_echoing_token_endpoint_or_graph_leaks_no_credential_into_status_state_or_stderr() {
    use crate::support::graph_server::{ECHOED_TOKEN, TokenEcho};
    let setup = Setup::new(big_tenant(3, 0));
    let secret = "Zx9s3cr3t+/q==";
    setup.server.tenant().client_secret = secret.to_owned();
    let encoded = "Zx9s3cr3t%2B%2Fq%3D%3D";
    let run = || {
        let out = recert_with_env(
            setup.tree.path(),
            &[
                "reconcile",
                "manifests",
                "--state-dir",
                "state",
                "--now",
                START,
            ],
            &[(SECRET_VAR, secret)],
        );
        format!(
            "{}{}{}",
            out.stdout,
            out.stderr,
            all_text(&setup.tree.path().join("state"))
        )
    };
    let check = |written: &str| {
        for leaked in [secret, encoded, ECHOED_TOKEN, "test-token-", "Bearer test"] {
            assert!(
                !written.contains(leaked),
                "`{leaked}` leaked into:\n{written}"
            );
        }
    };

    for echo in [TokenEcho::Raw, TokenEcho::Description] {
        setup.server.echo_token_requests(Some(echo));
        let written = run();
        assert!(
            setup.status().contains("[REDACTED]"),
            "{echo:?}: the echo is in status.yaml, redacted:\n{}",
            setup.status()
        );
        check(&written);
    }
    setup.server.echo_token_requests(None);
    setup.server.fail_next(1, Fault::Echo(400));
    let written = run();
    assert!(
        setup.status().contains("Cannot process GET"),
        "Graph's echo is in status.yaml:\n{}",
        setup.status()
    );
    check(&written);
}

#[test]
fn a_guests_only_review_reads_user_type_from_graph_and_keeps_only_guests() {
    let mut tenant = big_tenant(6, 0);
    for id in ["u-000001", "u-000003"] {
        if let Some(u) = tenant.users.get_mut(id) {
            u.user_type = Some("Guest");
        }
    }
    // An account older than the property: Graph answers null, a member.
    if let Some(u) = tenant.users.get_mut("u-000005") {
        u.user_type = None;
    }
    let setup = Setup::new(tenant);
    let path = setup.tree.path().join("manifests/review.yaml");
    let review = std::fs::read_to_string(&path).expect("review");
    let scope = format!("    role: {{id: {ROLE}}}\n");
    setup.tree.write(
        "manifests/review.yaml",
        review.replace(&scope, &format!("{scope}    userType: guest\n")),
    );
    let out = setup.reconcile(START);
    assert!(
        out.stdout.contains(
            "started: 2 assignments to review (6 read, 4 left out by the scope's filters)"
        ),
        "{}",
        out.stdout
    );
    let status = setup.status();
    let items: Vec<&str> = status
        .lines()
        .filter_map(|l| l.strip_prefix("  - principal: "))
        .collect();
    assert_eq!(items, ["u-000001", "u-000003"], "{status}");
    for line in [
        "    directory:\n      name: entra\n      type: graph\n",
        "      filters:\n        userType:\n          userType: guest\n          excluded: 4\n",
        "    read: 6\n    kept: 2\n",
    ] {
        assert!(status.contains(line), "{line}\nnot in\n{status}");
    }
}

#[test]
fn an_assignment_graph_keeps_after_revoking_it_is_a_failed_apply_and_the_rest_are_proven_gone() {
    let mut tenant = big_tenant(3, 1);
    // Graph answers the revocation of a-000001 as done and goes on listing it.
    tenant.kept_after_removal.insert("a-000001".to_owned());
    let setup = Setup::new(tenant);
    setup.reconcile(START);
    setup.deny(&["u-000001", "u-000002", "u-000003"]);
    setup.reconcile(DURING);
    setup.reconcile(AFTER);

    let mut removed = setup.server.tenant().removed.clone();
    removed.sort();
    assert_eq!(removed, ["a-000001", "a-000002", "a-000003"]);
    let status = setup.status();
    assert!(status.contains("applyFailed: 1"), "{status}");
    assert!(status.contains("applied: 2"), "{status}");
    assert!(status.contains("remediationStillPresent: 1"), "{status}");
    assert!(status.contains("remediationVerified: 2"), "{status}");
    assert!(
        status.contains(
            "failed: the directory still grants active assignment `a-000001` after answering its removal as done"
        ),
        "{status}"
    );
    let results = setup.results();
    let row = results
        .lines()
        .find(|l| l.contains("u-000001"))
        .expect("a row for u-000001");
    assert!(row.contains("still grants"), "{row}");
}

//! Who is reviewed and the population at launch, through the binary on the embedded directory:
//! the scope's filters narrow the snapshot and say what each left out; the state, the status
//! and the audit trail record what was read; the digest recomputes from `state.json` alone; and
//! `recert audit verify` catches a snapshot edited after launch.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::Value;
use sha2::{Digest, Sha256};

use recert::store::{Store, Stored};

use crate::support::{DIRECTORY, Output, Tree};

const REVIEW: &str = "owners";

/// Ten principals holding one role: recent, stale and never-signed-in members, a stale guest, a
/// group (held directly: the review does not expand groups) and a service principal.
const DATA: &str = r#"apiVersion: recert.dev/v1alpha1
kind: DirectoryData
metadata:
  name: corp
spec:
  users:
    - {id: u-recent, userPrincipalName: recent@corp.example, lastSignIn: 2026-11-25}
    - {id: u-stale, userPrincipalName: stale@corp.example, lastSignIn: 2026-05-01}
    - {id: u-never, userPrincipalName: never@corp.example}
    - {id: u-guest, userPrincipalName: guest_x#EXT#@corp.example, lastSignIn: 2026-01-01, userType: guest}
    - {id: u-outsider, userPrincipalName: outsider@corp.example, lastSignIn: 2026-01-01}
    - {id: u-skipped, userPrincipalName: Skipped@corp.example, lastSignIn: 2026-01-01}
  groups:
    - {id: g-eng, displayName: Engineering, members: [u-recent, g-platform]}
    - {id: g-platform, displayName: Platform, members: [u-stale, u-never, u-guest, u-skipped, g-ops]}
    - {id: g-ops, displayName: Ops, members: []}
  roles:
    - {id: r-owner, displayName: Owner}
  assignments:
    - {id: a-recent, principal: u-recent, role: r-owner}
    - {id: a-stale, principal: u-stale, role: r-owner}
    - {id: a-never, principal: u-never, role: r-owner}
    - {id: a-guest, principal: u-guest, role: r-owner}
    - {id: a-outsider, principal: u-outsider, role: r-owner}
    - {id: a-skipped, principal: u-skipped, role: r-owner}
    - {id: a-ops, principal: g-ops, role: r-owner}
"#;

fn review(filters: &str) -> String {
    format!(
        r#"apiVersion: recert.dev/v1alpha1
kind: AccessReview
metadata:
  name: {REVIEW}
spec:
  directory: corp
  displayName: Owners
  scope:
    role: {{name: Owner}}
    expandGroups: false
{filters}
  reviewers:
    type: users
    users: [recent@corp.example]
  schedule:
    start: 2026-12-01
    durationDays: 14
"#
    )
}

const FILTERS: &str = "    inactiveDays: 90
    userType: member
    exclude: [skipped@CORP.example]
    memberOf: {group: {name: Engineering}}";

fn reconciled(filters: &str) -> Tree {
    let tree = Tree::new();
    tree.write("m/directory.yaml", DIRECTORY)
        .write("m/data.yaml", DATA)
        .write("m/reviews/owners.yaml", review(filters));
    let out = tree.recert(&[
        "reconcile",
        "m",
        "--state-dir",
        "state",
        "--now",
        "2026-12-02T08:00:00Z",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    tree
}

fn review_dir(tree: &Tree) -> PathBuf {
    tree.path().join("state/reviews").join(REVIEW)
}

fn state_json(tree: &Tree) -> Value {
    let text = std::fs::read(review_dir(tree).join("state.json")).expect("state");
    serde_json::from_slice(&text).expect("JSON")
}

fn status(tree: &Tree) -> String {
    std::fs::read_to_string(review_dir(tree).join("status.yaml")).expect("status")
}

fn started_event(tree: &Tree) -> Value {
    std::fs::read_to_string(review_dir(tree).join("audit.jsonl"))
        .expect("log")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("record")["event"].clone())
        .find(|e| e["change"] == "instanceStarted")
        .expect("an instanceStarted event")
}

fn verify(tree: &Tree) -> Output {
    tree.recert(&["audit", "verify", "--state-dir", "state"])
}

#[test]
fn the_filters_narrow_the_snapshot_and_the_status_says_what_each_left_out() {
    let tree = reconciled(FILTERS);
    let state = state_json(&tree);
    let instance = &state["state"]["instances"][0];
    let kept: Vec<&String> = instance["items"]
        .as_object()
        .expect("items")
        .keys()
        .collect();
    // Outsider is not in Engineering; Skipped is excluded by user principal name, without
    // case; the guest is a guest; Recent signed in a week ago. Stale is inactive; Never's
    // sign-in is unknown and Ops is a group: both kept and listed as unknown.
    assert_eq!(kept, ["g-ops", "u-never", "u-stale"]);
    let population = &instance["population"];
    assert_eq!(population["read"], 7);
    assert_eq!(population["kept"], 3);
    assert_eq!(population["readAt"], "2026-12-02T08:00:00Z");
    assert_eq!(population["directory"]["name"], "corp");
    assert_eq!(population["directory"]["type"], "file");
    let filters = &population["query"]["filters"];
    assert_eq!(filters["exclude"]["excluded"], 1);
    assert_eq!(filters["userType"]["excluded"], 1);
    assert_eq!(filters["memberOf"]["excluded"], 1);
    assert_eq!(filters["memberOf"]["groupId"], "g-eng");
    assert_eq!(filters["inactiveDays"]["excluded"], 1);
    assert_eq!(
        filters["inactiveDays"]["unknownSignIn"],
        serde_json::json!(["g-ops", "u-never"])
    );

    let status = status(&tree);
    for line in [
        "  population:\n    readAt: \"2026-12-02T08:00:00Z\"\n    directory:\n      name: corp\n      type: file\n",
        "        exclude:\n          principals:\n          - skipped@CORP.example\n          excluded: 1\n",
        "        userType:\n          userType: member\n          excluded: 1\n",
        "        inactiveDays:\n          days: 90\n          excluded: 1\n          unknownSignIn:\n          - g-ops\n          - u-never\n",
        "    read: 7\n    kept: 3\n",
    ] {
        assert!(status.contains(line), "{line}\nnot in\n{status}");
    }

    // The audit trail's start carries the same record.
    let event = started_event(&tree);
    assert_eq!(event["population"], *population);
}

#[test]
fn without_filters_everything_read_is_kept_and_no_filter_is_recorded() {
    let tree = reconciled("");
    let population = &state_json(&tree)["state"]["instances"][0]["population"];
    assert_eq!(population["read"], 7);
    assert_eq!(population["kept"], 7);
    assert!(population["query"].get("filters").is_none(), "{population}");
    assert_eq!(population["query"]["expandGroups"], false);
    assert_eq!(population["query"]["assignments"], "all");
}

/// JSON with every object's keys sorted and no whitespace, written here rather than by the
/// crate, so that the digest is recomputed the way an auditor's own script would.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            out.push('{');
            for (n, (k, v)) in sorted.into_iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).expect("key"));
                out.push(':');
                canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (n, v) in items.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn recompute(instance: &Value) -> String {
    let items = instance["items"].as_object().expect("items");
    let mut ids: Vec<&String> = items.keys().collect();
    ids.sort();
    let snapshot: Vec<Value> = ids
        .into_iter()
        .map(|id| {
            serde_json::json!({
                "principal": items[id]["principal"],
                "access": items[id]["access"],
            })
        })
        .collect();
    let mut text = String::new();
    canonical(&Value::Array(snapshot), &mut text);
    let mut hex = String::from("sha256:");
    for b in Sha256::digest(text.as_bytes()) {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

#[test]
fn the_digest_recomputes_from_state_json_alone() {
    let tree = reconciled(FILTERS);
    let instance = &state_json(&tree)["state"]["instances"][0];
    assert_eq!(recompute(instance), instance["population"]["digest"]);
    // And so for every example review, whose names and ids are less tame.
    let examples = Tree::new();
    let out = crate::support::recert(
        &crate::support::root(),
        &[
            "reconcile",
            "examples",
            "--state-dir",
            &examples.path().join("state").display().to_string(),
            "--now",
            "2026-12-02T10:00:00Z",
        ],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let mut checked = 0;
    for entry in std::fs::read_dir(examples.path().join("state/reviews")).expect("reviews") {
        let path = entry.expect("entry").path().join("state.json");
        let state: Value =
            serde_json::from_slice(&std::fs::read(&path).expect("state")).expect("JSON");
        for instance in state["state"]["instances"].as_array().expect("instances") {
            assert_eq!(
                recompute(instance),
                instance["population"]["digest"],
                "{}",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 4, "{checked} instances checked");
}

#[test]
fn the_auditors_python_script_recomputes_the_digest_and_names_an_edit() {
    let python = std::env::var("RECERT_TEST_PEERS_PYTHON")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "RECERT_TEST_PEERS_PYTHON is not set: this test runs scripts/population_digest.py \
                 with the Python that `scripts/test-peers` provides. Run the tests through \
                 `.ci/run` (or `scripts/test-peers cargo test --workspace --locked`)."
            )
        });
    let tree = reconciled(FILTERS);
    let state = review_dir(&tree).join("state.json");
    let run = || {
        std::process::Command::new(&python)
            .arg(crate::support::root().join("scripts/population_digest.py"))
            .arg(&state)
            .output()
            .expect("python runs")
    };
    let out = run();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    assert!(
        text.starts_with("2026-12-01 sha256:") && text.trim_end().ends_with(" ok"),
        "{text}"
    );

    edit_state(&tree, |stored| {
        stored.state.instances[0].items.remove("u-never");
    });
    let out = run();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.trim_end().ends_with(" EDITED"), "{text}");
}

/// Edits the state as someone with write access to the state directory would, with Recert's
/// own types (so the file stays valid and only what the edit touches changes).
fn edit_state(tree: &Tree, edit: impl FnOnce(&mut Stored)) {
    let store = Store::open(&tree.path().join("state")).expect("store");
    let text = std::fs::read(review_dir(tree).join("state.json")).expect("state");
    let mut stored: Stored = serde_json::from_slice(&text).expect("stored");
    edit(&mut stored);
    store.save(&stored).expect("save");
}

#[test]
fn audit_verify_catches_a_snapshot_edited_after_launch() {
    let tree = reconciled(FILTERS);
    let clean = verify(&tree);
    assert_eq!(clean.code, 0, "{}{}", clean.stdout, clean.stderr);

    // An item quietly dropped from the snapshot.
    edit_state(&tree, |stored| {
        stored.state.instances[0].items.remove("u-stale");
    });
    let out = verify(&tree);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("instance 2026-12-01: the items no longer hash to the population's digest"),
        "{}",
        out.stdout
    );

    // The state's digest edited to match: the audit trail still holds the one of the launch.
    edit_state(&tree, |stored| {
        let instance = &mut stored.state.instances[0];
        let digest = recert::population::digest(&instance.items);
        if let Some(p) = instance.population.as_mut() {
            p.digest = digest;
            p.kept -= 1;
        }
    });
    let out = verify(&tree);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("no longer hash"), "{}", out.stdout);
    assert!(
        out.stdout.contains("is not the one record")
            && out.stdout.contains("of the audit trail recorded at launch"),
        "{}",
        out.stdout
    );

    // The population removed altogether.
    edit_state(&tree, |stored| stored.state.instances[0].population = None);
    let out = verify(&tree);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("recorded a population at launch, but the state holds none"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_member_of_group_that_does_not_exist_stalls_the_review_and_starts_nothing() {
    let tree = Tree::new();
    tree.write("m/directory.yaml", DIRECTORY)
        .write("m/data.yaml", DATA)
        .write(
            "m/reviews/owners.yaml",
            review("    memberOf: {group: {name: Nobody}}"),
        );
    let out = tree.recert(&[
        "reconcile",
        "m",
        "--state-dir",
        "state",
        "--now",
        "2026-12-02T08:00:00Z",
    ]);
    assert_ne!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let status = status(&tree);
    assert!(status.contains("group Nobody"), "{status}");
    assert!(!status.contains("instances:\n- id"), "{status}");
}

#[test]
fn validate_names_a_member_of_group_and_an_excluded_principal_the_directory_lacks() {
    let tree = Tree::new();
    tree.write("m/directory.yaml", DIRECTORY)
        .write("m/data.yaml", DATA)
        .write(
            "m/reviews/owners.yaml",
            review("    memberOf: {group: {name: Enginering}}\n    exclude: [u-stale, u-gone]"),
        );
    let out = tree.recert(&["validate", "m"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        text.contains("the directory has no group with name `Enginering`")
            && text.contains("did you mean `Engineering`?"),
        "{text}"
    );
    assert!(
        text.contains("excluded principal `u-gone` is not in the directory")
            && !text.contains("`u-stale`"),
        "{text}"
    );
}

//! The engine through the real binary over a copy of `examples/`, driven with `--now`: a whole
//! review (start, decisions, reset, more decisions, stop, apply, export, audit), and a crash in
//! the middle of an apply.

use std::path::{Path, PathBuf};
use std::process::Command;

use recert_testkit::manifests;

use crate::support::{Output, recert, root};

const REVIEW: &str = "subscription-owners-quarterly";

struct Drill {
    dir: tempfile::TempDir,
}

impl Drill {
    fn new() -> Drill {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_dir(&root().join("examples"), &dir.path().join("manifests"));
        Drill { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.path(rel), text).unwrap_or_else(|e| panic!("{rel}: {e}"));
    }

    fn run(&self, args: &[&str]) -> Output {
        recert(self.dir.path(), args)
    }

    fn reconcile(&self, now: &str) -> Output {
        let out = self.run(&[
            "reconcile",
            "manifests",
            "--state-dir",
            "state",
            "--now",
            now,
            "--revision",
            "abc123",
        ]);
        assert_eq!(
            out.code, 0,
            "reconcile at {now}:\n{}{}",
            out.stdout, out.stderr
        );
        out
    }

    /// Adds a request token under the review's `spec` (the manifest ends inside `spec`).
    fn request(&self, kind: &str, token: &str) {
        let rel = format!("manifests/reviews/{REVIEW}.yaml");
        let mut text = self.read(&rel);
        if !text.contains("  requests:\n") {
            text.push_str("  requests:\n");
        }
        text.push_str(&format!("    {kind}: {token}\n"));
        self.write(&rel, &text);
    }

    fn status(&self) -> String {
        self.read(&format!("state/reviews/{REVIEW}/status.yaml"))
    }

    /// Reconciles at 2026-12-03 (after the apply request) in a process the fault hook aborts
    /// after `removals` removals.
    fn apply_aborting_after(&self, removals: usize) {
        let crashed = Command::new(env!("CARGO_BIN_EXE_recert"))
            .args([
                "reconcile",
                "manifests",
                "--state-dir",
                "state",
                "--now",
                "2026-12-03T10:00:00Z",
            ])
            .env(
                recert::context::fault_env::ABORT_AFTER_REMOVALS,
                removals.to_string(),
            )
            .current_dir(self.dir.path())
            .output()
            .expect("run recert");
        assert!(!crashed.status.success(), "the fault aborts the process");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read examples") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        if name == "invalid" || name == "ci" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

const BOB: &str = "apiVersion: recert.dev/v1alpha1
kind: ReviewDecisions
metadata:
  name: bob-subscription-owners
spec:
  review: subscription-owners-quarterly
  reviewer: u-bob
  decisions:
    - principal: olivia@corp.example
      decision: deny
      reason: Confirmed with Erin - moved to analytics.
";

#[test]
fn a_whole_review_runs_from_start_to_export_through_the_binary() {
    let drill = Drill::new();
    let directory_before = drill.read("manifests/corp-directory.yaml");

    // Before the start date: the review is adopted and waits.
    let out = drill.reconcile("2026-11-30T12:00:00Z");
    assert!(
        out.stdout.contains(&format!(
            "review {REVIEW}:\n  ~ Recert now tracks this review"
        )),
        "{}",
        out.stdout
    );
    assert!(
        drill.status().contains("phase: Pending"),
        "{}",
        drill.status()
    );

    // The instance starts and Carol's file is recorded.
    let out = drill.reconcile("2026-12-01T10:00:00Z");
    assert!(
        out.stdout
            .contains("instance 2026-12-01 started: 7 assignments to review"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("u-carol denied u-dave"),
        "{}",
        out.stdout
    );
    let status = drill.status();
    assert!(
        status.contains("phase: InProgress") && status.contains("observedRevision: abc123"),
        "{status}"
    );

    // Bob decides later: his is the last decision on Olivia.
    drill.write("manifests/decisions/bob-subscription-owners.yaml", BOB);
    drill.reconcile("2026-12-02T10:00:00Z");
    assert!(
        drill
            .status()
            .contains("reason: Confirmed with Erin - moved to analytics."),
        "{}",
        drill.status()
    );

    // Reset clears every decision.
    drill.request("reset", "reset-1");
    let out = drill.reconcile("2026-12-03T10:00:00Z");
    assert!(
        out.stdout
            .contains("instance 2026-12-01 reset (requested as `reset-1`): 7 decisions cleared"),
        "{}",
        out.stdout
    );
    assert!(drill.status().contains("cleared: 7"));
    assert!(
        !drill.status().contains("decision: deny"),
        "{}",
        drill.status()
    );

    // Carol decides again by changing her entries.
    let carol = drill
        .read("manifests/decisions/carol-subscription-owners.yaml")
        .replace(
            "Moved to the data team",
            "Re-confirmed after the reset - moved to the data team",
        )
        .replace(
            "Contract ended",
            "Re-confirmed after the reset - contract ended",
        );
    drill.write("manifests/decisions/carol-subscription-owners.yaml", &carol);
    drill.reconcile("2026-12-04T10:00:00Z");
    assert_eq!(
        drill.status().matches("decision: deny").count(),
        2,
        "{}",
        drill.status()
    );

    // Stop ends the instance; a decision after it is rejected and shown.
    drill.request("stop", "stop-1");
    let out = drill.reconcile("2026-12-05T10:00:00Z");
    assert!(
        out.stdout
            .contains("instance 2026-12-01 stopped early (requested as `stop-1`)"),
        "{}",
        out.stdout
    );
    drill.write(
        "manifests/decisions/bob-subscription-owners.yaml",
        &BOB.replace("Confirmed with Erin", "Late - confirmed with Erin"),
    );
    let out = drill.reconcile("2026-12-05T11:00:00Z");
    assert!(
        out.stdout.contains(
            "u-bob's decision on u-olivia does not count (instance 2026-12-01): instance 2026-12-01 ended"
        ),
        "{}",
        out.stdout
    );
    assert!(
        drill.status().contains("rejectedDecisions:"),
        "{}",
        drill.status()
    );

    // The plan shows the removals before anything happens.
    drill.request("apply", "apply-1");
    let plan = drill.run(&[
        "plan",
        "manifests",
        "--state-dir",
        "state",
        "--now",
        "2026-12-06T10:00:00Z",
    ]);
    assert_eq!(plan.code, 3, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout
            .contains("- remove active assignment `ra-owner-dave` of u-dave"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("- remove eligible assignment `ra-owner-ivan` of u-ivan"),
        "{}",
        plan.stdout
    );
    assert_eq!(
        drill.read("manifests/corp-directory.yaml"),
        directory_before,
        "plan changes nothing"
    );

    // Apply removes exactly the denied direct assignments, keeping the file's comments.
    let out = drill.reconcile("2026-12-06T10:00:00Z");
    assert!(
        out.stdout.contains(
            "applying instance 2026-12-01 (requested as `apply-1`): 2 accesses to remove"
        ),
        "{}",
        out.stdout
    );
    let directory_after = drill.read("manifests/corp-directory.yaml");
    assert!(
        !directory_after.contains("id: ra-owner-dave")
            && !directory_after.contains("id: ra-owner-ivan")
    );
    assert!(
        directory_after.contains("id: ra-owner-erin")
            && directory_after.contains("# Owner of the production subscription.")
    );
    assert_eq!(
        directory_before.lines().count() - directory_after.lines().count(),
        10
    );
    let status = drill.status();
    assert_eq!(
        status.matches("applyResult: applied").count(),
        2,
        "{status}"
    );
    assert!(
        drill.run(&["validate", "manifests"]).code == 0,
        "the edited directory file is still valid"
    );

    // Nothing more to do.
    let plan = drill.run(&[
        "plan",
        "manifests",
        "--state-dir",
        "state",
        "--now",
        "2026-12-06T10:00:00Z",
    ]);
    assert_eq!(
        (plan.code, plan.stdout.as_str()),
        (0, "No changes: the reviews are up to date.\n"),
        "{}",
        plan.stdout
    );

    // Export: one row per item, the decisions and results an auditor needs.
    let csv = drill.run(&["export", REVIEW, "--state-dir", "state"]);
    assert_eq!(csv.code, 0);
    let rows: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(rows.len(), 8, "{}", csv.stdout);
    assert!(rows[0].starts_with("review,instance,instance_start"));
    let dave = rows
        .iter()
        .find(|r| r.contains(",u-dave,"))
        .expect("dave's row");
    assert!(
        dave.contains(",deny,u-carol,") && dave.contains("Re-confirmed after the reset"),
        "{dave}"
    );
    assert_eq!(
        std::fs::read_to_string(
            drill.path(&format!("state/reviews/{REVIEW}/results/2026-12-01.csv"))
        )
        .expect("results file"),
        csv.stdout
    );

    // The audit trail verifies, and an edit is detected.
    let audit = drill.run(&["audit", "verify", "--state-dir", "state"]);
    assert_eq!(audit.code, 0, "{}{}", audit.stdout, audit.stderr);
    let log = drill.path(&format!("state/reviews/{REVIEW}/audit.jsonl"));
    let text = std::fs::read_to_string(&log).expect("audit");
    std::fs::write(
        &log,
        text.replacen("\"decision\":\"deny\"", "\"decision\":\"approve\"", 1),
    )
    .expect("tamper");
    let audit = drill.run(&["audit", "verify", "--state-dir", "state"]);
    assert_eq!(audit.code, 1);
    assert!(
        audit
            .stdout
            .contains("does not match its hash: it was edited"),
        "{}",
        audit.stdout
    );
}

#[test]
fn pending_lists_what_waits_for_a_reviewer_across_reviews() {
    let drill = Drill::new();
    drill.reconcile("2026-12-01T10:00:00Z");
    let out = drill.run(&[
        "pending",
        "--reviewer",
        "peggy@corp.example",
        "--state-dir",
        "state",
    ]);
    assert_eq!(out.code, 0);
    // Peggy is a fallback reviewer of the Owner review and of the manager review (for Alice,
    // who has no manager, already decided by her file), and the one reviewer of the clean-up
    // of inactive engineers.
    assert!(
        out.stdout.lines().all(|l| {
            l.starts_with("subscription-owners-quarterly\t2026-12-01\t")
                || l.starts_with("engineering-owners-inactive\t2026-12-01\t")
        }),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("\tu-niaj\t"), "{}", out.stdout);
    let out = drill.run(&["pending", "--reviewer", "u-grace", "--state-dir", "state"]);
    assert_eq!(out.stdout, "Nothing is waiting for u-grace.\n");
}

#[test]
fn a_crash_in_the_middle_of_an_apply_is_finished_by_the_next_run_exactly_once() {
    let drill = Drill::new();
    drill.reconcile("2026-12-01T10:00:00Z");
    drill.request("stop", "stop-1");
    drill.reconcile("2026-12-02T10:00:00Z");
    drill.request("apply", "apply-1");

    drill.apply_aborting_after(1);
    let journal = drill.path(&format!("state/reviews/{REVIEW}/journal.jsonl"));
    assert!(journal.exists(), "the journal survives the crash");
    let after_crash = drill.read("manifests/corp-directory.yaml");
    assert!(
        !after_crash.contains("id: ra-owner-dave") && after_crash.contains("id: ra-owner-ivan"),
        "one removal was made before the crash"
    );
    assert!(
        drill.status().contains("phase: Applying") || drill.status().contains("phase: Stopped"),
        "{}",
        drill.status()
    );

    let out = drill.reconcile("2026-12-03T10:05:00Z");
    assert!(
        !out.stdout.contains("applying instance"),
        "the apply is not started again: {}",
        out.stdout
    );
    assert!(
        !journal.exists(),
        "the journal is cleared once the state holds the outcomes"
    );
    let done = drill.read("manifests/corp-directory.yaml");
    assert!(!done.contains("id: ra-owner-ivan") && done.contains("id: ra-owner-erin"));
    let status = drill.status();
    assert!(status.contains("phase: Applied"), "{status}");
    assert!(
        !status.contains("no longer exists"),
        "dave's removal is not mistaken for someone else's: {status}"
    );
    let audit = std::fs::read_to_string(drill.path(&format!("state/reviews/{REVIEW}/audit.jsonl")))
        .expect("audit");
    assert_eq!(
        audit.matches("\"applyResult\"").count(),
        2,
        "one result per removed item:\n{audit}"
    );
    assert_eq!(
        drill.run(&["audit", "verify", "--state-dir", "state"]).code,
        0
    );
    assert!(
        drill
            .run(&[
                "plan",
                "manifests",
                "--state-dir",
                "state",
                "--now",
                "2026-12-03T10:05:00Z"
            ])
            .stdout
            .starts_with("No changes")
    );
}

#[test]
fn decide_edits_the_reviewers_file_in_place_and_the_engine_records_it() {
    let drill = Drill::new();
    drill.reconcile("2026-12-01T10:00:00Z");
    let before = drill.read("manifests/decisions/carol-subscription-owners.yaml");
    let out = drill.run(&[
        "decide",
        REVIEW,
        "--reviewer",
        "carol@corp.example",
        "--principal",
        "olivia@corp.example",
        "--deny",
        "--reason",
        "Moved to analytics: see ticket #42",
        "manifests",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .starts_with("updated manifests/decisions/carol-subscription-owners.yaml"),
        "{}",
        out.stdout
    );
    let after = drill.read("manifests/decisions/carol-subscription-owners.yaml");
    // Only Olivia's entry changed; every comment and other entry is byte-identical.
    let changed: Vec<(&str, &str)> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(changed.len(), 2, "{changed:?}");
    assert!(
        changed
            .iter()
            .all(|(old, _)| old.contains("dontKnow") || old.contains("She may have moved")),
        "{changed:?}"
    );
    assert_eq!(drill.run(&["validate", "manifests"]).code, 0);
    let out = drill.reconcile("2026-12-02T10:00:00Z");
    assert!(
        out.stdout.contains("u-carol denied u-olivia"),
        "{}",
        out.stdout
    );

    // A reviewer without a file gets a new one, valid and recorded.
    let out = drill.run(&[
        "decide",
        REVIEW,
        "--reviewer",
        "u-bob",
        "--principal",
        "u-niaj",
        "--approve",
        "--reason",
        "On call",
        "manifests",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .starts_with("created manifests/decisions/subscription-owners-quarterly-u-bob.yaml"),
        "{}",
        out.stdout
    );
    assert_eq!(drill.run(&["validate", "manifests"]).code, 0);
    let out = drill.reconcile("2026-12-03T10:00:00Z");
    assert!(
        out.stdout.contains("u-bob approved u-niaj"),
        "{}",
        out.stdout
    );

    // Exactly one of the decision flags.
    let out = drill.run(&[
        "decide",
        REVIEW,
        "--reviewer",
        "u-bob",
        "--principal",
        "u-niaj",
        "--approve",
        "--deny",
        "manifests",
    ]);
    assert_eq!(out.code, 2);
}

#[test]
fn deleting_a_manifest_archives_its_records_and_the_audit_still_verifies() {
    let drill = Drill::new();
    drill.reconcile("2026-12-01T10:00:00Z");
    std::fs::remove_file(drill.path(&format!("manifests/reviews/{REVIEW}.yaml")))
        .expect("delete manifest");
    std::fs::remove_file(drill.path("manifests/decisions/carol-subscription-owners.yaml"))
        .expect("delete decisions");
    let out = drill.reconcile("2026-12-02T10:00:00Z");
    assert!(
        out.stdout.contains(
            "the review was deleted from the manifests: instance 2026-12-01 stops without applying, and its records move to the archive"
        ),
        "{}",
        out.stdout
    );
    assert!(!drill.path(&format!("state/reviews/{REVIEW}")).exists());
    let archived: Vec<_> = std::fs::read_dir(drill.path("state/archive"))
        .expect("archive")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    assert_eq!(archived, [format!("{REVIEW}-20261202T100000Z")]);
    let dir = drill.path(&format!("state/archive/{REVIEW}-20261202T100000Z"));
    for kept in [
        "state.json",
        "status.yaml",
        "audit.jsonl",
        "results/2026-12-01.csv",
    ] {
        assert!(dir.join(kept).exists(), "{kept} is kept in the archive");
    }
    assert!(
        std::fs::read_to_string(dir.join("audit.jsonl"))
            .expect("audit")
            .contains("\"deleted\"")
    );
    let audit = drill.run(&["audit", "verify", "--state-dir", "state"]);
    assert_eq!(audit.code, 0, "{}{}", audit.stdout, audit.stderr);
    assert!(
        audit.stderr.starts_with("verified 6 audit trails"),
        "{}",
        audit.stderr
    );
    // Nothing was removed from the directory.
    assert!(
        drill
            .read("manifests/corp-directory.yaml")
            .contains("id: ra-owner-dave")
    );
    // The archive holds the final word, as the state and the audit trail do: deleted.
    let status = std::fs::read_to_string(dir.join("status.yaml")).expect("status");
    assert!(status.contains("phase: Deleted"), "{status}");
    assert!(!status.contains("nextEdge"), "{status}");
    let csv = std::fs::read_to_string(dir.join("results/2026-12-01.csv")).expect("results");
    assert!(
        csv.lines().skip(1).all(|l| l.contains(",Deleted,")),
        "every row says the instance was deleted: {csv}"
    );
}

#[test]
fn an_emptied_manifest_is_a_finding_and_never_deletes_its_review() {
    let drill = Drill::new();
    drill.reconcile("2026-12-01T10:00:00Z");
    let rel = format!("manifests/reviews/{REVIEW}.yaml");
    for emptied in ["", "# being rewritten\n"] {
        drill.write(&rel, emptied);
        let validate = drill.run(&["validate", "manifests"]);
        assert_eq!(validate.code, 1, "{}", validate.stdout);
        assert!(
            validate.stdout.contains("error[empty-file]"),
            "{}",
            validate.stdout
        );
        let out = drill.run(&[
            "reconcile",
            "manifests",
            "--state-dir",
            "state",
            "--now",
            "2026-12-02T10:00:00Z",
        ]);
        assert_eq!(
            out.code, 1,
            "a manifest error: {}{}",
            out.stdout, out.stderr
        );
        assert!(
            !out.stdout.contains("deleted from the manifests"),
            "{}",
            out.stdout
        );
        assert!(drill.path(&format!("state/reviews/{REVIEW}")).exists());
        assert!(!drill.path("state/archive").exists());
        let status = drill.status();
        assert!(status.contains("phase: InProgress"), "{status}");
        assert!(status.contains("reason: ManifestInvalid"), "{status}");
    }
}

#[test]
fn plan_exits_1_for_errors_even_when_it_would_also_change_something() {
    let drill = Drill::new();
    drill.write(
        "manifests/broken.yaml",
        "apiVersion: recert.dev/v1alpha1\nkind: Nonsense\n",
    );
    let out = drill.run(&[
        "plan",
        "manifests",
        "--state-dir",
        "state",
        "--now",
        "2026-12-01T10:00:00Z",
    ]);
    assert!(
        out.stdout.contains("started:"),
        "changes are planned: {}",
        out.stdout
    );
    assert_eq!(out.code, 1, "errors win over changes: {}", out.stderr);
}

#[test]
fn a_fault_that_aborts_after_zero_removals_removes_nothing() {
    let drill = Drill::new();
    drill.reconcile("2026-12-01T10:00:00Z");
    drill.request("stop", "stop-1");
    drill.reconcile("2026-12-02T10:00:00Z");
    drill.request("apply", "apply-1");
    let before = drill.read("manifests/corp-directory.yaml");
    drill.apply_aborting_after(0);
    assert_eq!(
        drill.read("manifests/corp-directory.yaml"),
        before,
        "no removal is sent before the abort"
    );
}

#[test]
fn export_reads_only_its_review_and_names_a_state_file_it_cannot_read() {
    let drill = Drill::new();
    drill.reconcile("2026-12-01T10:00:00Z");
    std::fs::write(
        drill.path("state/reviews/prod-admins-group/state.json"),
        "{ not json",
    )
    .expect("corrupt another review");
    let out = drill.run(&["export", REVIEW, "--state-dir", "state"]);
    assert_eq!(
        out.code, 0,
        "another review's broken state does not matter: {}",
        out.stderr
    );
    std::fs::write(
        drill.path(&format!("state/reviews/{REVIEW}/state.json")),
        "{ not json",
    )
    .expect("corrupt");
    let out = drill.run(&["export", REVIEW, "--state-dir", "state"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains(&format!(
            "state/reviews/{REVIEW}/state.json: the stored state cannot be read"
        )),
        "{}",
        out.stderr
    );
}

/// A pass goes through the reviews in batches, and writes one batch while it plans the next:
/// with more reviews than two batches, every review is still recorded once, fully, and the
/// pass reports them all, in order.
#[test]
fn a_pass_over_several_batches_records_every_review_and_reports_them_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reviews = 150;
    manifests::generate(&dir.path().join("manifests"), reviews, 1500, "2026-12-01");
    let now = "2026-12-02T09:00:00Z";
    let args = ["manifests", "--state-dir", "state", "--now", now];
    let run = |command: &str| recert(dir.path(), &[&[command][..], &args[..]].concat());

    let pass = run("reconcile");
    assert_eq!(pass.code, 0, "{}", pass.stderr);
    let reported: Vec<&str> = pass
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("review ")?.strip_suffix(':'))
        .collect();
    let expected: Vec<String> = (0..reviews).map(|r| format!("review-{r:04}")).collect();
    assert_eq!(reported, expected);
    for name in &expected {
        let folder = dir.path().join("state/reviews").join(name);
        let state = std::fs::read_to_string(folder.join("state.json")).expect("state");
        assert!(state.contains("\"id\": \"2026-12-01\""), "{name}: {state}");
        let status = std::fs::read_to_string(folder.join("status.yaml")).expect("status");
        assert!(status.contains("phase: InProgress"), "{name}: {status}");
        assert!(folder.join("results/2026-12-01.csv").is_file(), "{name}");
        let audit = std::fs::read_to_string(folder.join("audit.jsonl")).expect("audit");
        assert_eq!(
            audit.matches("\"change\":\"instanceStarted\"").count(),
            1,
            "{name}: {audit}"
        );
    }

    let again = run("plan");
    assert_eq!(again.code, 0, "nothing left to do: {}", again.stdout);
    let verify = recert(dir.path(), &["audit", "verify", "--state-dir", "state"]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
}

/// The examples are what a newcomer copies: every decision in them must count. Validate and
/// reconcile apply one rule, so a clean `validate` and no rejection go together.
#[test]
fn no_example_decision_is_rejected_at_a_time_inside_every_instance() {
    let drill = Drill::new();
    // 2026-12-08 12:00 UTC is inside the first instance of each example review.
    drill.reconcile("2026-12-02T10:00:00Z");
    drill.reconcile("2026-12-08T12:00:00Z");
    for review in [
        "global-admins-self-review",
        "privileged-role-admins-manager",
        "prod-admins-group",
        REVIEW,
    ] {
        let status = drill.read(&format!("state/reviews/{review}/status.yaml"));
        assert!(status.contains("state: InProgress"), "{review}:\n{status}");
        assert!(
            !status.contains("rejectedDecisions"),
            "{review} rejects an example decision:\n{status}"
        );
    }
    // Carol's decision for the emergency access account counts.
    let status = drill.read("state/reviews/global-admins-self-review/status.yaml");
    let breakglass = status
        .split("- principal: ")
        .find(|item| item.starts_with("u-breakglass-01"))
        .expect("the break-glass item");
    assert!(
        breakglass.contains("decision: approve") && breakglass.contains("reviewer: u-carol"),
        "{breakglass}"
    );
}

/// `recert decide` updates the entry already there whatever name it is given, and a
/// re-affirmed decision counts after a reset and in the next instance.
#[test]
fn decide_updates_the_entry_by_any_name_and_a_reaffirmed_decision_counts() {
    let drill = Drill::new();
    drill.reconcile("2026-12-01T10:00:00Z");
    let carol = "manifests/decisions/carol-subscription-owners.yaml";
    let decide = |principal: &str, now: &str| {
        let out = drill.run(&[
            "decide",
            REVIEW,
            "--reviewer",
            "u-carol",
            "--principal",
            principal,
            "--deny",
            "--reason",
            "Moved to the data team in March 2026; no sign-in since 2026-03-14.",
            "--now",
            now,
            "manifests",
        ]);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        out
    };
    // The file names Dave by user principal name and the reviewer by user principal name.
    let out = decide("u-dave", "2026-12-02T10:00:00Z");
    assert!(
        out.stdout.starts_with(&format!("updated {carol}")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("for instance 2026-12-01"),
        "{}",
        out.stdout
    );
    let text = drill.read(carol);
    assert!(!text.contains("u-dave"), "{text}");
    assert_eq!(text.matches("dave@corp.example").count(), 1, "{text}");
    assert!(text.contains("instance: \"2026-12-01\""), "{text}");
    assert_eq!(drill.run(&["validate", "manifests"]).code, 0);
    drill.reconcile("2026-12-02T10:00:00Z");

    // A reset clears every decision; re-affirming the same one counts again.
    drill.request("reset", "r1");
    drill.reconcile("2026-12-03T10:00:00Z");
    decide("dave@corp.example", "2026-12-04T10:00:00Z");
    assert!(drill.read(carol).contains("afterReset: r1"));
    let out = drill.reconcile("2026-12-04T10:00:00Z");
    assert!(
        out.stdout.contains("u-carol denied u-dave"),
        "{}",
        out.stdout
    );

    // The next quarter's instance: the old entry does not carry over; re-affirming counts.
    let out = drill.reconcile("2027-03-02T10:00:00Z");
    assert!(
        !out.stdout.contains("decision `deny` on u-dave"),
        "{}",
        out.stdout
    );
    decide("dave@corp.example", "2027-03-02T11:00:00Z");
    assert!(drill.read(carol).contains("instance: \"2027-03-01\""));
    let out = drill.reconcile("2027-03-02T12:00:00Z");
    assert!(
        out.stdout
            .contains("u-carol denied u-dave (instance 2027-03-01)"),
        "{}",
        out.stdout
    );
}

/// `recert decide` never reports success for a decision the engine would reject.
#[test]
fn decide_refuses_a_decision_that_would_not_count_and_writes_nothing() {
    let drill = Drill::new();
    let carol = "manifests/decisions/carol-subscription-owners.yaml";
    let before = drill.read(carol);
    let decide = |reviewer: &str, extra: &[&str]| {
        let mut args = vec![
            "decide",
            REVIEW,
            "--reviewer",
            reviewer,
            "--principal",
            "u-dave",
            "--approve",
            "--reason",
            "needed",
            "--now",
            "2026-12-02T10:00:00Z",
        ];
        args.extend_from_slice(extra);
        args.push("manifests");
        drill.run(&args)
    };
    // Mallory is not a reviewer of the Owner review.
    let out = decide("mallory@corp.example", &[]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("may not decide"), "{}", out.stderr);
    // An instance that does not run now nor later.
    let out = decide("u-carol", &["--instance", "2026-09-01"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("would be rejected"), "{}", out.stderr);
    assert_eq!(drill.read(carol), before);
    assert!(
        !drill
            .path("manifests/decisions/subscription-owners-quarterly-mallory.yaml")
            .exists()
    );
}

/// A decision first seen after the end does not count, whether or not a reconcile ran between
/// the end and the decision.
#[test]
fn a_decision_added_after_the_end_is_rejected_however_often_recert_ran() {
    for reconcile_in_between in [false, true] {
        let drill = Drill::new();
        drill.reconcile("2026-12-02T10:00:00Z");
        // The Owner review's first instance ends on 2026-12-22 at 08:00 UTC.
        if reconcile_in_between {
            drill.reconcile("2026-12-22T09:00:00Z");
        }
        drill.write("manifests/decisions/bob.yaml", BOB);
        let out = drill.reconcile("2026-12-23T10:00:00Z");
        assert!(
            out.stdout
                .contains("u-bob's decision on u-olivia does not count"),
            "reconcile in between: {reconcile_in_between}\n{}",
            out.stdout
        );
        let status = drill.status();
        let olivia = status
            .split("- principal: ")
            .find(|item| item.starts_with("u-olivia"))
            .and_then(|item| item.split("rejectedDecisions").next())
            .expect("Olivia's item");
        assert!(!olivia.contains("reviewer: u-bob"), "{olivia}");
        assert!(status.contains("rejectedDecisions"), "{status}");
    }
}

/// The README's first command, run as written (less `cargo run --release --`) on a copy of
/// the checkout's examples: it shows reviews at work whatever the day, in sentences, and says
/// where to look next.
#[test]
fn the_readmes_first_command_shows_the_reviews_at_work_and_where_to_look() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let command = readme
        .lines()
        .find_map(|l| l.strip_prefix("cargo run --release -- "))
        .expect("the README's first command");
    let args: Vec<&str> = command.split_whitespace().collect();
    assert!(args.contains(&"--now"), "the same on any day: {command}");
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&root().join("examples"), &dir.path().join("examples"));
    let out = recert(dir.path(), &args);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    for shown in [
        "instance 2026-12-01 started: 7 assignments to review",
        "u-carol denied u-dave (instance 2026-12-01)",
        "Where the reviews stand:",
        "subscription-owners-quarterly: in progress, 1 of 7 items undecided",
        "status: .recert-state/reviews/subscription-owners-quarterly/status.yaml",
        "recert pending --reviewer ID --state-dir .recert-state",
    ] {
        assert!(out.stdout.contains(shown), "{shown}:\n{}", out.stdout);
    }
    for verb in ["adopt the review", "start instance", "notify "] {
        assert!(
            !out.stdout.contains(verb),
            "no internal verbs: {}",
            out.stdout
        );
    }
}

#[test]
fn a_removal_the_directory_keeps_is_a_failed_apply_with_its_proof_and_a_retry_proves_it_gone() {
    let drill = Drill::new();
    drill.reconcile("2026-12-01T10:00:00Z");
    drill.request("stop", "stop-1");
    drill.reconcile("2026-12-02T10:00:00Z");
    drill.request("apply", "apply-1");
    let before = drill.read("manifests/corp-directory.yaml");

    // The file directory answers both removals as done; the drill puts the file back before
    // they are proven, as a sync job restoring the entries would.
    let out = crate::support::recert_with_env(
        drill.dir.path(),
        &[
            "reconcile",
            "manifests",
            "--state-dir",
            "state",
            "--now",
            "2026-12-03T10:00:00Z",
        ],
        &[(recert::context::fault_env::RESTORE_REMOVED, "1")],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(drill.read("manifests/corp-directory.yaml"), before);
    let status = drill.status();
    assert_eq!(
        status.matches("applyResult: applied").count(),
        0,
        "{status}"
    );
    assert!(status.contains("applyFailed: 2"), "{status}");
    assert!(status.contains("remediationStillPresent: 2"), "{status}");
    assert!(
        status.contains(
            "applyResult: \"failed: the directory still grants active assignment `ra-owner-dave` after answering its removal as done\""
        ),
        "{status}"
    );
    assert!(
        status.contains("remediation: \"still present: eligible assignment `ra-owner-ivan`\""),
        "{status}"
    );
    let audit = drill.read(&format!("state/reviews/{REVIEW}/audit.jsonl"));
    let proof = audit
        .lines()
        .find(|l| l.contains("\"remediationProof\""))
        .expect("a remediationProof event");
    assert_eq!(
        proof.matches("\"proof\":\"stillPresent\"").count(),
        2,
        "{proof}"
    );
    // The owners' message says the apply failed for both, and why.
    let state: serde_json::Value =
        serde_json::from_str(&drill.read(&format!("state/reviews/{REVIEW}/state.json")))
            .expect("state");
    // Each waits in the outbox segment the state names.
    let applied: Vec<String> = state["state"]["outbox"]["pending"]
        .as_array()
        .expect("pending messages")
        .iter()
        .filter(|p| p["event"] == "applied")
        .map(|p| {
            let segment = p["segment"].as_str().expect("a segment");
            drill
                .read(&format!("state/outbox/{segment}.jsonl"))
                .lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a message"))
                .find(|m| m["id"] == p["id"])
                .expect("the message in its segment")["content"]
                .to_string()
        })
        .collect();
    assert!(!applied.is_empty(), "{state}");
    for content in &applied {
        assert!(
            content.contains("still grants active assignment")
                && content.contains("\"removed\":0")
                && content.contains("\"failed\":2"),
            "{content}"
        );
    }

    // A second apply retries the failed items; this time the access is gone, and proven so.
    let rel = format!("manifests/reviews/{REVIEW}.yaml");
    drill.write(
        &rel,
        &drill.read(&rel).replace("apply: apply-1", "apply: apply-2"),
    );
    drill.reconcile("2026-12-04T10:00:00Z");
    let status = drill.status();
    assert_eq!(
        status.matches("applyResult: applied").count(),
        2,
        "{status}"
    );
    assert!(status.contains("remediationVerified: 2"), "{status}");
    assert!(!status.contains("stillPresent"), "{status}");
    assert_eq!(
        status
            .matches("remediation: \"verified: the access is gone\"")
            .count(),
        2,
        "{status}"
    );
    assert_eq!(
        drill.run(&["audit", "verify", "--state-dir", "state"]).code,
        0
    );
}

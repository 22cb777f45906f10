//! A multi-stage review through the real binary on the embedded directory, driven with
//! `--now`: the example's managers decide in stage 1, the security team in stage 2 on the items
//! the managers approved (or left undecided), overriding one; status, results and the audit
//! trail show every stage.

use std::path::{Path, PathBuf};

use crate::support::{Output, recert, root};

const REVIEW: &str = "security-admins-two-stage";

struct Run {
    dir: tempfile::TempDir,
}

impl Run {
    fn new() -> Run {
        let dir = tempfile::tempdir().expect("temp dir");
        let manifests = dir.path().join("manifests");
        std::fs::create_dir_all(manifests.join("reviews")).expect("mkdir");
        std::fs::create_dir_all(manifests.join("decisions")).expect("mkdir");
        for file in [
            "directory.yaml",
            "corp-directory.yaml",
            "reviews/security-admins-two-stage.yaml",
        ] {
            std::fs::copy(root().join("examples").join(file), manifests.join(file))
                .unwrap_or_else(|e| panic!("{file}: {e}"));
        }
        Run { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    fn decide(&self, reviewer: &str, decisions: &[(&str, &str, &str)]) {
        let mut text = format!(
            "apiVersion: recert.dev/v1alpha1\nkind: ReviewDecisions\nmetadata:\n  name: {reviewer}-security-admins\nspec:\n  review: {REVIEW}\n  reviewer: {reviewer}@corp.example\n  decisions:\n"
        );
        for (principal, decision, reason) in decisions {
            text.push_str(&format!(
                "    - principal: {principal}@corp.example\n      decision: {decision}\n      reason: {reason}\n"
            ));
        }
        let rel = format!("manifests/decisions/{reviewer}.yaml");
        std::fs::write(self.path(&rel), text).expect("write decisions");
    }

    fn reconcile(&self, now: &str) -> Output {
        let out = recert(
            self.dir.path(),
            &[
                "reconcile",
                "manifests",
                "--state-dir",
                "state",
                "--now",
                now,
            ],
        );
        assert_eq!(out.code, 0, "at {now}:\n{}{}", out.stdout, out.stderr);
        out
    }

    fn status(&self) -> serde_json::Value {
        yaml_value(&self.read(&format!("state/reviews/{REVIEW}/status.yaml")))
    }
}

fn yaml_value(text: &str) -> serde_json::Value {
    let parsed = recert::yaml::parse_values(text);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    parsed
        .documents
        .into_iter()
        .next()
        .map(|d| d.root)
        .expect("one document")
}

fn item<'a>(status: &'a serde_json::Value, principal: &str) -> &'a serde_json::Value {
    status["instances"][0]["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["principal"] == principal))
        .unwrap_or_else(|| panic!("no item {principal}: {status}"))
}

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).expect("results");
    text.lines()
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

#[test]
fn a_two_stage_review_runs_managers_then_the_security_team_and_keeps_every_stage() {
    let run = Run::new();
    run.reconcile("2026-12-01T09:00:00Z");
    // Stage 1: Alice (Carol's manager) approves Carol; Carol (Grace's manager) approves Grace.
    run.decide("alice", &[("carol", "approve", "runs the SOC")]);
    run.decide("carol", &[("grace", "approve", "on call for incidents")]);
    // Peggy is not a reviewer of stage 1: her entry does not count there.
    run.decide("peggy", &[("carol", "deny", "too early")]);
    run.reconcile("2026-12-02T09:00:00Z");
    let status = run.status();
    assert_eq!(status["instances"][0]["stage"], 1);
    assert_eq!(item(&status, "u-carol")["decision"], "approve");
    let rejected = status["instances"][0]["rejectedDecisions"].to_string();
    assert!(rejected.contains("u-peggy"), "{rejected}");

    // Stage 2 starts on day 7: both approvals move on to the security team.
    let out = run.reconcile("2026-12-08T09:00:00Z");
    assert!(
        out.stdout
            .contains("stage 2 (security team) started: 2 items to review"),
        "{}",
        out.stdout
    );
    let status = run.status();
    let stages = &status["instances"][0]["stages"];
    assert_eq!(status["instances"][0]["stage"], 2);
    assert_eq!(stages[0]["state"], "ended");
    assert_eq!(stages[0]["counts"]["approve"], 2);
    assert_eq!(stages[1]["state"], "inProgress");
    assert_eq!(stages[1]["reviewers"], "peggy@corp.example");
    // Peggy's file, already there, does not count for stage 2 until she changes it.
    assert_eq!(item(&status, "u-carol")["decision"], "approve");

    // What waits for Peggy: the stage, and what the managers decided.
    let pending = |run: &Run| {
        let out = recert(
            run.dir.path(),
            &[
                "pending",
                "--reviewer",
                "peggy@corp.example",
                "--state-dir",
                "state",
            ],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout
    };
    let shown = pending(&run);
    assert!(
        shown.contains(
            "u-carol\tCarol Schmidt\tstage 2 (security team)\tstage 1: approve by u-alice: runs the SOC\n"
        ),
        "{shown}"
    );
    // A review that hides earlier stages' decisions shows Peggy only the stage, and its status
    // shows the stage's own (none yet) while it runs.
    let manifest = run.path(&format!("manifests/reviews/{REVIEW}.yaml"));
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    let hidden = text.replace(
        "    requireJustification: true\n",
        "    requireJustification: true\n    showPreviousStageDecisions: false\n",
    );
    std::fs::write(&manifest, &hidden).expect("write");
    run.reconcile("2026-12-08T10:00:00Z");
    let shown = pending(&run);
    assert!(
        shown.contains("u-carol\tCarol Schmidt\tstage 2 (security team)\n"),
        "{shown}"
    );
    let status = run.status();
    assert_eq!(item(&status, "u-carol")["decision"], "undecided");
    assert!(item(&status, "u-carol").get("stages").is_none());
    std::fs::write(&manifest, &text).expect("write");

    // Peggy overrides Carol's approval; she leaves Grace's as the manager decided it.
    run.decide("peggy", &[("carol", "deny", "moved to sales")]);
    run.reconcile("2026-12-09T09:00:00Z");
    let status = run.status();
    let carol = item(&status, "u-carol");
    assert_eq!(carol["decision"], "deny", "{carol}");
    assert_eq!(carol["reviewer"], "u-peggy");
    assert_eq!(carol["stages"][0]["decision"], "approve");
    assert_eq!(carol["stages"][0]["reviewer"], "u-alice");
    assert_eq!(carol["stages"][1]["decision"], "deny");

    // The instance ends after the last stage.
    run.reconcile("2026-12-15T09:00:00Z");
    let status = run.status();
    assert_eq!(status["instances"][0]["state"], "Completed", "{status}");
    assert_eq!(status["instances"][0]["stages"][1]["state"], "ended");

    // The auditor's report shows the decisions stage by stage.
    let report = recert(run.dir.path(), &["report", REVIEW, "--state-dir", "state"]);
    assert_eq!(report.code, 0, "{}", report.stderr);
    let start = report
        .stdout
        .find("<section id=\"stages\">")
        .expect("a stages section");
    let end = start
        + report.stdout[start..]
            .find("</section>")
            .expect("the section ends");
    insta::assert_snapshot!("stages-report", &report.stdout[start..end]);
    // Grace's decision that counts is stage 1's: the report names the file it came from.
    let decisions = report
        .stdout
        .split("<section id=\"decisions\">")
        .nth(1)
        .and_then(|rest| rest.split("</section>").next())
        .expect("a decisions section");
    let grace = decisions
        .split("<tr>")
        .find(|row| row.contains("u-grace"))
        .expect("Grace's row");
    assert!(grace.contains("manifests/decisions/carol.yaml"), "{grace}");
    assert!(grace.contains("approve"), "{grace}");

    // Results: the usual columns, then four per stage.
    let rows = csv_rows(&run.path(&format!("state/reviews/{REVIEW}/results/2026-12-01.csv")));
    let header = &rows[0];
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}: {header:?}"))
    };
    let carol_row = rows
        .iter()
        .find(|r| r[col("principal_id")] == "u-carol")
        .expect("Carol's row");
    assert_eq!(carol_row[col("decision")], "deny");
    assert_eq!(carol_row[col("stage1_decision")], "approve");
    assert_eq!(carol_row[col("stage1_reviewer")], "u-alice");
    assert_eq!(carol_row[col("stage1_reason")], "runs the SOC");
    assert_eq!(carol_row[col("stage2_decision")], "deny");
    assert_eq!(carol_row[col("stage2_reviewer")], "u-peggy");
    assert!(!carol_row[col("stage2_decided_at")].is_empty());
    assert_eq!(header.last().map(String::as_str), Some("stage2_decided_at"));

    // The audit trail records each stage's end and the second stage's start, and verifies.
    let audit = run.read(&format!("state/reviews/{REVIEW}/audit.jsonl"));
    assert_eq!(
        audit.matches("\"change\":\"stageEnded\"").count(),
        2,
        "{audit}"
    );
    assert_eq!(
        audit.matches("\"change\":\"stageStarted\"").count(),
        1,
        "{audit}"
    );
    // Entries frozen at the end are not judged again.
    assert!(!audit.contains("ended at"), "{audit}");
    let verify = recert(run.dir.path(), &["audit", "verify", "--state-dir", "state"]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
}

#[test]
fn validate_judges_an_entry_by_the_stages_reviewers_and_names_a_stage_the_review_lacks() {
    let run = Run::new();
    // Peggy reviews stage 2 only, Alice stage 1 (as Carol's manager): both validate.
    run.decide("peggy", &[("carol", "approve", "confirmed")]);
    run.decide("alice", &[("carol", "approve", "runs the SOC")]);
    let out = recert(run.dir.path(), &["validate", "manifests"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    // Dave reviews no stage.
    run.decide("dave", &[("carol", "approve", "why not")]);
    let out = recert(run.dir.path(), &["validate", "manifests"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("reviewer-not-allowed"),
        "{}",
        out.stdout
    );
    std::fs::remove_file(run.path("manifests/decisions/dave.yaml")).expect("remove");
    // Naming a stage: Carol (Grace's manager) is no reviewer of stage 2 (Alice could be, as
    // its escalation level's user), and there is no stage 3.
    run.decide("carol", &[("grace", "approve", "on call")]);
    let out = recert(run.dir.path(), &["validate", "manifests"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let carol = run.path("manifests/decisions/carol.yaml");
    let text = std::fs::read_to_string(&carol).expect("read");
    std::fs::write(
        &carol,
        text.replace("  decisions:\n", "  stage: 2\n  decisions:\n"),
    )
    .expect("write");
    let out = recert(run.dir.path(), &["validate", "manifests"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("reviewer-not-allowed"),
        "{}",
        out.stdout
    );
    std::fs::write(
        &carol,
        text.replace("  decisions:\n", "  stage: 3\n  decisions:\n"),
    )
    .expect("write");
    let out = recert(run.dir.path(), &["validate", "manifests"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(
            "carol.yaml:8:10: error[invalid-value]: review `security-admins-two-stage` has no stage 3 (it has 2)"
        ),
        "{}",
        out.stdout
    );
}

#[test]
fn an_entry_naming_an_ended_stage_stays_with_it_unless_changed() {
    let run = Run::new();
    run.reconcile("2026-12-01T09:00:00Z");
    run.decide("alice", &[("carol", "approve", "runs the SOC")]);
    let alice = run.path("manifests/decisions/alice.yaml");
    let text = std::fs::read_to_string(&alice).expect("read");
    std::fs::write(
        &alice,
        text.replace("  decisions:\n", "  stage: 1\n  decisions:\n"),
    )
    .expect("write");
    run.reconcile("2026-12-02T09:00:00Z");
    run.reconcile("2026-12-08T09:00:00Z");
    run.reconcile("2026-12-09T09:00:00Z");
    let status = run.status();
    assert_eq!(item(&status, "u-carol")["decision"], "approve");
    // Unchanged, Alice's stage-1 entry is carried (not counted again, not rejected) in stage 2.
    assert!(
        status["instances"][0].get("rejectedDecisions").is_none(),
        "{status}"
    );
    // Changed, it is a decision for a stage that has ended.
    let text = std::fs::read_to_string(&alice).expect("read");
    std::fs::write(&alice, text.replace("decision: approve", "decision: deny")).expect("write");
    run.reconcile("2026-12-10T09:00:00Z");
    let status = run.status();
    let rejected = status["instances"][0]["rejectedDecisions"].to_string();
    assert!(
        rejected.contains("stage 1 of instance 2026-12-01 has ended"),
        "{rejected}"
    );
    assert_eq!(item(&status, "u-carol")["decision"], "approve");
}

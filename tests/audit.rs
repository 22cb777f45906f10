//! `recert audit` against a state directory tampered with as an attacker with write access to
//! it would: trails and states deleted, chains rewritten whole, files edited, links planted.

use std::path::{Path, PathBuf};

use recert::audit::{self, Head, files};
use recert::model::review::Timestamp;
use recert::store::{Store, Stored};

use crate::support::{DATA, DIRECTORY, Output, SELF_REVIEW, Tree};

const REVIEW: &str = "ga-self";

/// `ga-self` reconciled once, on the day after it started.
fn reconciled() -> Tree {
    let tree = Tree::new();
    tree.write("m/directory.yaml", DIRECTORY)
        .write("m/data.yaml", DATA)
        .write("m/reviews/ga.yaml", SELF_REVIEW);
    let out = reconcile(&tree, "2026-12-02", &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    tree
}

fn reconcile(tree: &Tree, now: &str, extra: &[&str]) -> Output {
    let mut args = vec!["reconcile", "m", "--state-dir", "state", "--now", now];
    args.extend_from_slice(extra);
    tree.recert(&args)
}

fn review_dir(tree: &Tree) -> PathBuf {
    tree.path().join("state/reviews").join(REVIEW)
}

fn verify(tree: &Tree, extra: &[&str]) -> Output {
    let mut args = vec!["audit", "verify", "--state-dir", "state"];
    args.extend_from_slice(extra);
    tree.recert(&args)
}

fn stored(tree: &Tree) -> Stored {
    let text = std::fs::read(review_dir(tree).join("state.json")).expect("state");
    serde_json::from_slice(&text).expect("a stored state")
}

fn events(log: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .expect("log")
        .lines()
        .map(|l| {
            serde_json::from_str::<audit::Record>(l)
                .expect("record")
                .event
        })
        .collect()
}

fn at() -> Timestamp {
    Timestamp::parse("2026-12-02T00:00:00Z").expect("time")
}

/// What someone with write access to the state directory and no key can do: write a whole new
/// chain, every hash recomputed, with the first `keep` events kept and the rest changed, and
/// point the state at its end.
fn rewrite_chain(tree: &Tree, keep: usize) {
    let log = review_dir(tree).join("audit.jsonl");
    let mut events = events(&log);
    for event in events.iter_mut().skip(keep) {
        event["forged"] = serde_json::json!(true);
    }
    std::fs::remove_file(&log).expect("rm");
    let head = audit::append(&log, &Head::default(), REVIEW, at(), &events).expect("rewrite");
    let store = Store::open(&tree.path().join("state")).expect("store");
    let mut entry = stored(tree);
    entry.audit_head = head;
    store.save(&entry).expect("save");
}

#[test]
fn an_untouched_state_directory_verifies() {
    let tree = reconciled();
    let out = verify(&tree, &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.starts_with("verified 1 audit trails"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_deleted_trail_is_named_missing() {
    let tree = reconciled();
    std::fs::remove_file(review_dir(&tree).join("audit.jsonl")).expect("rm");
    let out = verify(&tree, &[]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("audit.jsonl: audit trail missing"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_deleted_state_is_reported_so_truncation_cannot_hide_behind_it() {
    let tree = reconciled();
    let dir = review_dir(&tree);
    std::fs::remove_file(dir.join("state.json")).expect("rm");
    // And the trail cut short: without a state, only the report of the missing state says so.
    let log = dir.join("audit.jsonl");
    let text = std::fs::read_to_string(&log).expect("log");
    let first = text.lines().next().expect("a record");
    std::fs::write(&log, format!("{first}\n")).expect("truncate");
    let out = verify(&tree, &[]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("state.json: state missing"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_chain_rewritten_to_its_length_is_named_rewritten_not_truncated() {
    let tree = reconciled();
    let head = stored(&tree).audit_head;
    rewrite_chain(&tree, 1);
    // The attacker forgot the state: it still names the old last record.
    let store = Store::open(&tree.path().join("state")).expect("store");
    let mut entry = stored(&tree);
    entry.audit_head = head;
    store.save(&entry).expect("save");
    let out = verify(&tree, &[]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("the chain was rewritten"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("removed from the end"),
        "{}",
        out.stdout
    );
}

/// Records a files event as a pass does once the executor records them: the digests of the
/// files on disk, in the chain, and the state's head moved past it.
fn record_files(tree: &Tree) {
    let dir = review_dir(tree);
    let entry = stored(tree);
    let state = files::state_bytes(&entry.state);
    let status = std::fs::read(dir.join("status.yaml")).expect("status");
    let csv = std::fs::read(dir.join("results/2026-12-01.csv")).expect("results");
    let event = files::files_event(&[
        ("state.json", &state),
        ("status.yaml", &status),
        ("results/2026-12-01.csv", &csv),
    ]);
    let head = audit::append(
        &dir.join("audit.jsonl"),
        &entry.audit_head,
        REVIEW,
        at(),
        &[event],
    )
    .expect("append");
    let store = Store::open(&tree.path().join("state")).expect("store");
    store
        .save(&Stored {
            audit_head: head,
            ..entry
        })
        .expect("save");
}

#[test]
fn files_changed_after_recert_wrote_them_are_named() {
    let tree = reconciled();
    record_files(&tree);
    assert_eq!(verify(&tree, &[]).code, 0);

    let dir = review_dir(&tree);
    // A decision written into the state: the chain's records are intact, the state is not.
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("state.json")).expect("state"))
            .expect("JSON");
    state["state"]["instances"][0]["items"]["u-alice"]["decision"] = serde_json::json!({
        "decision": "approve", "reviewer": "u-alice", "reason": "trust me", "at": "2026-12-02T00:00:00Z"
    });
    std::fs::write(
        dir.join("state.json"),
        serde_json::to_vec_pretty(&state).expect("JSON"),
    )
    .expect("flip");
    serde_json::from_slice::<Stored>(&std::fs::read(dir.join("state.json")).expect("state"))
        .expect("the flipped state still reads as a state");
    let status = std::fs::read_to_string(dir.join("status.yaml")).expect("status");
    std::fs::write(dir.join("status.yaml"), status + "# edited\n").expect("edit");
    std::fs::write(dir.join("results/2026-12-02.csv"), "planted\n").expect("plant");

    let out = verify(&tree, &[]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    for expected in [
        "state.json: changed after Recert wrote it",
        "status.yaml: changed after Recert wrote it",
        "results/2026-12-02.csv: not written by Recert",
    ] {
        assert!(out.stdout.contains(expected), "{expected}:\n{}", out.stdout);
    }
    assert!(!out.stdout.contains("2026-12-01.csv"), "{}", out.stdout);
}

fn keys(tree: &Tree) -> (String, String) {
    let out = tree.recert(&[
        "audit",
        "keygen",
        "--private-key",
        "keys/signing.pem",
        "--public-key",
        "keys/public.pem",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    ("keys/signing.pem".to_owned(), "keys/public.pem".to_owned())
}

#[test]
fn a_chain_rewritten_without_the_key_fails_against_the_signed_checkpoint() {
    let tree = reconciled();
    std::fs::create_dir(tree.path().join("keys")).expect("keys");
    let (private, public) = keys(&tree);
    let out = reconcile(&tree, "2026-12-03", &["--signing-key", &private]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let out = verify(&tree, &["--public-key", &public]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let printed = tree.recert(&["audit", "checkpoint", "--state-dir", "state"]);
    assert_eq!(printed.code, 0, "{}", printed.stderr);
    let checkpoint: serde_json::Value = serde_json::from_str(&printed.stdout).expect("JSON");
    assert_eq!(checkpoint["chains"][0]["review"], REVIEW);
    assert_eq!(checkpoint["chains"][0]["seq"], stored(&tree).audit_head.seq);

    // Rewritten consistently after the first record: the chain verifies on its own...
    rewrite_chain(&tree, 1);
    assert_eq!(verify(&tree, &[]).code, 0);
    // ...but not against what was signed.
    let out = verify(&tree, &["--public-key", &public]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("is not the record signed in the checkpoint"),
        "{}",
        out.stdout
    );

    // Rewritten from the first record: the signed chain is gone.
    rewrite_chain(&tree, 0);
    let out = verify(&tree, &["--public-key", &public]);
    assert!(
        out.stdout
            .contains("review ga-self: the chain checkpointed at record"),
        "{}",
        out.stdout
    );

    // The checkpoint deleted: a key given and nothing signed is a failure.
    std::fs::remove_file(tree.path().join("state/checkpoint.json")).expect("rm");
    let out = verify(&tree, &["--public-key", &public]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("no signed checkpoint"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_signing_key_inside_the_state_directory_is_refused() {
    let tree = reconciled();
    let out = tree.recert(&[
        "audit",
        "keygen",
        "--private-key",
        "state/signing.pem",
        "--public-key",
        "public.pem",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = reconcile(&tree, "2026-12-03", &["--signing-key", "state/signing.pem"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("inside the state directory"),
        "{}",
        out.stderr
    );
    assert!(!tree.path().join("state/checkpoint.json").exists());
}

#[test]
fn a_planted_link_to_an_outside_file_is_not_appended_to() {
    let tree = reconciled();
    let outside = tree.path().join("outside.txt");
    std::fs::write(&outside, "not Recert's\n").expect("outside");
    let log = review_dir(&tree).join("audit.jsonl");
    std::fs::remove_file(&log).expect("rm");
    std::os::unix::fs::symlink(&outside, &log).expect("link");

    // The review ends: its completion would be appended.
    let out = reconcile(&tree, "2026-12-20", &[]);
    assert_ne!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("is a symbolic link"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(&outside).expect("outside"),
        "not Recert's\n"
    );
    let out = verify(&tree, &[]);
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("a symbolic link"), "{}", out.stdout);
}

#[test]
fn a_linked_review_folder_is_refused_and_not_written_into() {
    let tree = reconciled();
    let dir = review_dir(&tree);
    let elsewhere = tree.path().join("elsewhere");
    std::fs::rename(&dir, &elsewhere).expect("move");
    std::os::unix::fs::symlink(&elsewhere, &dir).expect("link");
    let before = std::fs::read(elsewhere.join("audit.jsonl")).expect("log");

    let out = reconcile(&tree, "2026-12-20", &[]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("reviews/ga-self` is a symbolic link"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read(elsewhere.join("audit.jsonl")).expect("log"),
        before
    );
    assert!(
        !std::fs::read_to_string(elsewhere.join("status.yaml"))
            .expect("status")
            .contains("Completed"),
    );
}

#[test]
fn an_older_checkpoint_put_back_is_caught_by_the_copy_kept_elsewhere() {
    let tree = reconciled();
    std::fs::create_dir(tree.path().join("keys")).expect("keys");
    let (private, public) = keys(&tree);
    let checkpoint = tree.path().join("state/checkpoint.json");
    assert_eq!(
        reconcile(&tree, "2026-12-03", &["--signing-key", &private]).code,
        0
    );
    let older = std::fs::read(&checkpoint).expect("checkpoint");
    let signed_then = stored(&tree).audit_head.seq;
    // The instance completes: the chain grows, a new checkpoint is signed, and the team keeps
    // a copy of it elsewhere.
    assert_eq!(
        reconcile(&tree, "2026-12-20", &["--signing-key", &private]).code,
        0
    );
    assert!(stored(&tree).audit_head.seq > signed_then);
    let kept = tree.recert(&["audit", "checkpoint", "--state-dir", "state"]);
    std::fs::write(tree.path().join("keys/kept.json"), &kept.stdout).expect("kept");

    // Rewritten after the older checkpoint's records, and the older checkpoint put back.
    rewrite_chain(&tree, usize::try_from(signed_then).expect("small"));
    std::fs::write(&checkpoint, older).expect("put back");
    assert_eq!(verify(&tree, &["--public-key", &public]).code, 0);
    let out = verify(
        &tree,
        &["--public-key", &public, "--checkpoint", "keys/kept.json"],
    );
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("is not the record signed in the checkpoint of 2026-12-20"),
        "{}",
        out.stdout
    );
}

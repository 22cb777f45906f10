//! Notifications end to end, through the `recert` binary: a reconcile composes the messages,
//! keeps them in the outbox, delivers them to real servers on loopback (aiosmtpd with STARTTLS
//! and AUTH; a receiver that verifies Standard Webhooks signatures with the `standardwebhooks`
//! package) and records each outcome in the status and the audit trail. The peers come from
//! `scripts/test-peers`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use recert_testkit::peers::{SmtpOptions, SmtpPeer, WebhookFaults, WebhookPeer};

use crate::support::{Output, recert};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const START: &str = "2026-12-01T10:00:00Z";

/// A manifests folder and a state folder for one test.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    /// `users` review themselves (one Global Administrator assignment each); `owners` own the
    /// review; `notifiers` are Notifier documents (YAML) and `uses` the review's
    /// `notifiers:` entries.
    fn new(
        users: &[(&str, Option<&str>)],
        owners: &[&str],
        notifiers: &str,
        uses: &[&str],
    ) -> Setup {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("manifests");
        std::fs::create_dir_all(&root).expect("manifests folder");
        let mut data = String::from(
            "apiVersion: recert.dev/v1alpha1\nkind: DirectoryData\nmetadata:\n  name: corp-data\nspec:\n  users:\n",
        );
        for (upn, mail) in users {
            let id = format!("u-{}", upn.split('@').next().unwrap_or(upn));
            let _ = writeln!(
                data,
                "    - id: {id}\n      userPrincipalName: {upn}\n      displayName: {}\n      lastSignIn: 2026-11-20",
                display(upn)
            );
            if let Some(mail) = mail {
                let _ = writeln!(data, "      mail: {mail}");
            }
        }
        data.push_str(
            "  roles:\n    - id: r-ga\n      displayName: Global Administrator\n  assignments:\n",
        );
        for (upn, _) in users {
            let id = upn.split('@').next().unwrap_or(upn);
            let _ = writeln!(
                data,
                "    - id: ra-{id}\n      principal: u-{id}\n      role: r-ga\n      type: active\n      scope: /"
            );
        }
        std::fs::write(root.join("corp-data.yaml"), data).expect("write the data");
        std::fs::write(
            root.join("directory.yaml"),
            "apiVersion: recert.dev/v1alpha1\nkind: Directory\nmetadata:\n  name: corp\nspec:\n  type: file\n  file:\n    path: corp-data.yaml\n",
        )
        .expect("write the directory");
        std::fs::write(root.join("notifiers.yaml"), notifiers).expect("write the notifiers");
        let mut review = String::from(
            "apiVersion: recert.dev/v1alpha1\nkind: AccessReview\nmetadata:\n  name: ga\nspec:\n  directory: corp\n  displayName: Global Administrators\n  description: Keep only who still needs it.\n  scope:\n    role:\n      name: Global Administrator\n  reviewers:\n    type: self\n  schedule:\n    start: 2026-12-01\n    durationDays: 14\n",
        );
        if !owners.is_empty() {
            review.push_str("  owners:\n");
            for owner in owners {
                let _ = writeln!(review, "    - {owner}");
            }
        }
        review.push_str("  settings:\n    requireJustification: true\n    notifications:\n      additionalContent: Questions to iam@corp.example.\n      notifiers:\n");
        for name in uses {
            let _ = writeln!(review, "        - name: {name}");
        }
        std::fs::write(root.join("review.yaml"), review).expect("write the review");
        Setup { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn reconcile(&self, now: &str) -> Output {
        let out = recert(
            self.path(),
            &[
                "reconcile",
                "manifests",
                "--state-dir",
                "state",
                "--now",
                now,
            ],
        );
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        out
    }

    fn status(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.path().join("state/reviews/ga/status.yaml"))
            .expect("the status");
        let value: serde_json::Value = yaml_value(&text);
        value
    }

    fn audit(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.path().join("state/reviews/ga/audit.jsonl"))
            .expect("the audit trail")
            .lines()
            .map(|l| serde_json::from_str(l).expect("an audit line"))
            .collect()
    }
}

/// The status YAML as JSON, read by Recert's own YAML reader.
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

fn display(upn: &str) -> String {
    let local = upn.split('@').next().unwrap_or(upn);
    let mut chars = local.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

fn smtp_notifier(peer: &SmtpPeer, name: &str) -> String {
    let ca = peer
        .ca_pem_path
        .as_ref()
        .map(|p| format!("    caFile: {}\n", p.display()))
        .unwrap_or_default();
    let tls = if peer.ca_pem_path.is_some() {
        "starttls"
    } else {
        "none"
    };
    format!(
        "apiVersion: recert.dev/v1alpha1\nkind: Notifier\nmetadata:\n  name: {name}\nspec:\n  type: smtp\n  smtp:\n    host: 127.0.0.1\n    port: {}\n    tls: {tls}\n{ca}    username: recert\n    password:\n      file: smtp-password\n    from: \"Access Reviews <reviews@corp.example>\"\n",
        peer.port
    )
}

fn webhook_notifier(peer: &WebhookPeer, name: &str) -> String {
    format!(
        "apiVersion: recert.dev/v1alpha1\nkind: Notifier\nmetadata:\n  name: {name}\nspec:\n  type: webhook\n  webhook:\n    url: {}\n    secret:\n      file: webhook-secret\n",
        peer.url("/recert")
    )
}

fn secured_smtp() -> SmtpPeer {
    SmtpPeer::start(SmtpOptions {
        tls: true,
        auth: Some(("recert".to_owned(), "s3cret-pass".to_owned())),
        ..SmtpOptions::default()
    })
}

fn write_secrets(setup: &Setup) {
    let root = setup.path().join("manifests");
    std::fs::write(root.join("smtp-password"), "s3cret-pass\n").expect("secret");
    std::fs::write(root.join("webhook-secret"), SECRET).expect("secret");
}

fn notifications(status: &serde_json::Value) -> &serde_json::Value {
    &status["instances"][0]["notifications"]
}

#[test]
fn reviewers_are_emailed_once_with_their_items_and_how_to_decide() {
    let peer = secured_smtp();
    let setup = Setup::new(
        &[
            ("alice@corp.example", Some("alice.smith@mail.corp.example")),
            ("bob@corp.example", None),
            // No address: a user principal name that is not one, and no `mail`.
            ("svc-legacy", None),
        ],
        &[],
        &smtp_notifier(&peer, "mail"),
        &["mail"],
    );
    write_secrets(&setup);
    let out = setup.reconcile(START);
    assert!(
        out.stdout.contains("Notifications: 2 delivered"),
        "{}",
        out.stdout
    );

    let mails = peer.messages();
    let to: BTreeSet<String> = mails.iter().flat_map(|m| m.rcpt_tos.clone()).collect();
    assert_eq!(
        to,
        ["alice.smith@mail.corp.example", "bob@corp.example"]
            .map(str::to_owned)
            .into()
    );
    for mail in &mails {
        assert!(mail.tls && mail.authenticated, "over STARTTLS with AUTH");
        assert_eq!(mail.header("Auto-Submitted"), Some("auto-generated"));
        let id = mail.header("Message-ID").expect("a Message-ID");
        assert!(id.starts_with("<msg_") && id.ends_with("@recert>"), "{id}");
        let subject = mail.header("Subject").expect("a subject");
        assert!(subject.contains("Global Administrators"), "{subject}");
        let kinds: Vec<&str> = mail.parts.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(kinds, ["text/plain", "text/html"]);
        let text = &mail.parts[0].1;
        // How to decide: the file, a snippet to paste, the command line.
        assert!(text.contains("kind: ReviewDecisions"), "{text}");
        assert!(text.contains("recert decide ga"), "{text}");
        assert!(text.contains("Questions to iam@corp.example."), "{text}");
        assert!(text.contains("Keep only who still needs it."), "{text}");
    }
    let alice = mails
        .iter()
        .find(|m| {
            m.rcpt_tos
                .contains(&"alice.smith@mail.corp.example".to_owned())
        })
        .expect("Alice's mail");
    assert!(alice.parts[0].1.contains("alice@corp.example"));
    assert!(
        !alice.parts[0].1.contains("bob@corp.example"),
        "only her own items"
    );

    let status = setup.status();
    let n = notifications(&status);
    assert_eq!(n["sent"], 2, "{n}");
    assert_eq!(n["pending"], 0, "{n}");
    assert_eq!(n["failed"], 1, "{n}");
    assert_eq!(n["failures"][0]["recipient"], "svc-legacy", "{n}");
    let audit = setup.audit();
    let delivered: Vec<&serde_json::Value> = audit
        .iter()
        .filter(|line| {
            line["event"]["change"] == "notificationDelivery"
                && line["event"]["result"] == "delivered"
        })
        .collect();
    assert_eq!(delivered.len(), 2, "each delivery is in the audit trail");

    // Exactly once: reconciling again sends nothing more.
    setup.reconcile("2026-12-01T11:00:00Z");
    assert_eq!(peer.messages().len(), 2);
    let verify = recert(setup.path(), &["audit", "verify", "--state-dir", "state"]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
}

#[test]
fn a_server_down_at_first_gets_each_mail_once_it_is_up() {
    let mut peer = secured_smtp();
    peer.stop();
    let setup = Setup::new(
        &[("alice@corp.example", None), ("bob@corp.example", None)],
        &[],
        &smtp_notifier(&peer, "mail"),
        &["mail"],
    );
    write_secrets(&setup);
    let out = setup.reconcile(START);
    assert!(
        out.stdout.contains("2 waiting for a retry"),
        "{}",
        out.stdout
    );
    let status = setup.status();
    assert_eq!(notifications(&status)["pending"], 2);
    assert_eq!(notifications(&status)["retrying"][0]["attempts"], 1);

    peer.restart();
    // Before the back-off has passed, nothing is tried.
    setup.reconcile("2026-12-01T10:00:10Z");
    assert!(peer.messages().is_empty());
    setup.reconcile("2026-12-01T10:05:00Z");
    assert_eq!(peer.messages().len(), 2);
    setup.reconcile("2026-12-01T11:00:00Z");
    assert_eq!(peer.messages().len(), 2, "delivered once");
    let status = setup.status();
    assert_eq!(notifications(&status)["sent"], 2);
    assert_eq!(notifications(&status)["pending"], 0);
}

#[test]
fn a_temporary_then_a_permanent_answer_are_told_apart_in_the_status() {
    let peer = SmtpPeer::start(SmtpOptions {
        tls: true,
        auth: Some(("recert".to_owned(), "s3cret-pass".to_owned())),
        tempfail: 1,
        permfail_rcpt: Some("bob".to_owned()),
        ..SmtpOptions::default()
    });
    let setup = Setup::new(
        &[("alice@corp.example", None), ("bob@corp.example", None)],
        &[],
        &smtp_notifier(&peer, "mail"),
        &["mail"],
    );
    write_secrets(&setup);
    setup.reconcile(START);
    setup.reconcile("2026-12-01T10:05:00Z");
    let status = setup.status();
    let n = notifications(&status);
    assert_eq!(n["sent"], 1, "{n}");
    assert_eq!(n["failed"], 1, "{n}");
    let failure = &n["failures"][0];
    assert_eq!(failure["recipient"], "bob@corp.example");
    assert!(
        failure["answer"]
            .as_str()
            .unwrap_or_default()
            .contains("550"),
        "the server's answer: {failure}"
    );
    // The permanent failure is not tried again.
    setup.reconcile("2026-12-02T10:00:00Z");
    assert_eq!(peer.messages().len(), 1);
}

#[test]
fn owners_hear_the_end_and_the_apply_with_every_item_not_removed_named() {
    let peer = secured_smtp();
    let setup = Setup::new(
        &[
            ("alice@corp.example", None),
            ("bob@corp.example", None),
            ("olivia@corp.example", Some("olivia@owners.corp.example")),
        ],
        &["olivia@corp.example"],
        &smtp_notifier(&peer, "mail"),
        &["mail"],
    );
    write_secrets(&setup);
    setup.reconcile(START);
    let started = peer.messages().len();
    assert_eq!(started, 3, "every reviewer, the owner among them");
    let decide = recert(
        setup.path(),
        &[
            "decide",
            "ga",
            "manifests",
            "--reviewer",
            "bob@corp.example",
            "--principal",
            "bob@corp.example",
            "--deny",
            "--reason",
            "left the team",
            "--now",
            "2026-12-02",
        ],
    );
    assert_eq!(decide.code, 0, "{}{}", decide.stdout, decide.stderr);
    setup.reconcile("2026-12-02T10:00:00Z");
    setup.reconcile("2026-12-15T10:00:00Z");
    let ended: Vec<_> = peer.messages().into_iter().skip(started).collect();
    assert_eq!(ended.len(), 1, "the end goes to the owner alone");
    assert_eq!(ended[0].rcpt_tos, ["olivia@owners.corp.example"]);
    let text = &ended[0].parts[0].1;
    assert!(text.to_lowercase().contains("denied"), "{text}");
}

#[test]
fn a_webhook_event_is_signed_as_the_standard_webhooks_verifier_expects() {
    let peer = WebhookPeer::start(Some(SECRET), WebhookFaults::default());
    let setup = Setup::new(
        &[("alice@corp.example", None), ("bob@corp.example", None)],
        &[],
        &webhook_notifier(&peer, "hook"),
        &["hook"],
    );
    write_secrets(&setup);
    setup.reconcile(START);
    let requests = peer.requests();
    assert_eq!(requests.len(), 1, "one message per event for a channel");
    let hook = &requests[0];
    assert_eq!(hook.verified, Some(true), "{:?}", hook.error);
    let body: serde_json::Value = serde_json::from_str(&hook.body).expect("a JSON body");
    assert_eq!(body["review"]["name"], "ga", "{body}");
    assert_eq!(
        hook.headers.get("webhook-id").map(String::as_str),
        body["id"].as_str(),
        "the webhook-id is the message's id"
    );
    let status = setup.status();
    assert_eq!(notifications(&status)["sent"], 1);
}

#[test]
fn a_webhook_that_answers_410_is_disabled_until_its_notifier_changes() {
    let peer = WebhookPeer::start(
        Some(SECRET),
        WebhookFaults {
            gone: true,
            ..WebhookFaults::default()
        },
    );
    let setup = Setup::new(
        &[("alice@corp.example", None)],
        &[],
        &webhook_notifier(&peer, "hook"),
        &["hook"],
    );
    write_secrets(&setup);
    setup.reconcile(START);
    assert_eq!(peer.requests().len(), 1);
    let status = setup.status();
    let disabled = status["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "NotifierDisabled"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(disabled["status"], "True", "{status}");
    // The reminder goes nowhere: the webhook stays disabled.
    let review = setup.path().join("manifests/review.yaml");
    let text = std::fs::read_to_string(&review).expect("review");
    std::fs::write(&review, text + "  requests:\n    remind: r1\n").expect("write");
    setup.reconcile("2026-12-03T10:00:00Z");
    assert_eq!(
        peer.requests().len(),
        1,
        "nothing more to a disabled webhook"
    );
}

#[test]
fn a_sender_killed_in_the_middle_loses_nothing_and_duplicates_only_under_the_same_id() {
    let peer = SmtpPeer::start(SmtpOptions {
        delay_ms: 20,
        ..SmtpOptions::default()
    });
    let names: Vec<String> = (0..200)
        .map(|i| format!("user{i:03}@corp.example"))
        .collect();
    let users: Vec<(&str, Option<&str>)> = names.iter().map(|n| (n.as_str(), None)).collect();
    let notifier = format!(
        "apiVersion: recert.dev/v1alpha1\nkind: Notifier\nmetadata:\n  name: mail\nspec:\n  type: smtp\n  smtp:\n    host: 127.0.0.1\n    port: {}\n    tls: none\n    from: reviews@corp.example\n",
        peer.port
    );
    let setup = Setup::new(&users, &[], &notifier, &["mail"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_recert"))
        .args([
            "reconcile",
            "manifests",
            "--state-dir",
            "state",
            "--now",
            START,
        ])
        .current_dir(setup.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("recert starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while peer.messages().len() < 20 {
        assert!(Instant::now() < deadline, "no delivery started");
        assert!(
            child.try_wait().expect("wait").is_none(),
            "recert ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // SIGKILL: no chance to finish anything.
    child.kill().expect("kill");
    child.wait().expect("reap");
    let before = peer.messages().len();
    assert!(before < 200, "killed in the middle ({before} sent)");

    setup.reconcile("2026-12-01T10:10:00Z");
    let mails = peer.messages();
    let mut by_recipient: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut by_id: BTreeMap<String, usize> = BTreeMap::new();
    for mail in &mails {
        let id = mail.header("Message-ID").expect("an id").to_owned();
        *by_id.entry(id.clone()).or_default() += 1;
        for to in &mail.rcpt_tos {
            by_recipient
                .entry(to.clone())
                .or_default()
                .insert(id.clone());
        }
    }
    assert_eq!(by_recipient.len(), 200, "every reviewer got their mail");
    assert!(
        by_recipient.values().all(|ids| ids.len() == 1),
        "a duplicate carries the same Message-ID"
    );
    assert!(
        by_id.values().all(|&n| n <= 2),
        "sent at most twice: {by_id:?}"
    );
    let status = setup.status();
    assert_eq!(notifications(&status)["sent"], 200);
    assert_eq!(notifications(&status)["pending"], 0);
}

/// A plain SMTP notifier (no TLS, no login) to `peer`.
fn plain_smtp_notifier(peer: &SmtpPeer) -> String {
    format!(
        "apiVersion: recert.dev/v1alpha1\nkind: Notifier\nmetadata:\n  name: mail\nspec:\n  type: smtp\n  smtp:\n    host: 127.0.0.1\n    port: {}\n    tls: none\n    from: reviews@corp.example\n",
        peer.port
    )
}

/// The outbox segments in the state directory.
fn segments(setup: &Setup) -> BTreeSet<String> {
    std::fs::read_dir(setup.path().join("state/outbox"))
        .map(|entries| {
            entries
                .map(|e| {
                    e.expect("an entry")
                        .file_name()
                        .to_string_lossy()
                        .into_owned()
                })
                .filter(|n| n.ends_with(".jsonl"))
                .collect()
        })
        .unwrap_or_default()
}

/// Each recipient got exactly one mail, and no Message-ID came twice.
fn each_once(peer: &SmtpPeer, recipients: usize) {
    let mails = peer.messages();
    let ids: BTreeSet<String> = mails
        .iter()
        .map(|m| m.header("Message-ID").expect("an id").to_owned())
        .collect();
    let to: BTreeSet<&String> = mails.iter().flat_map(|m| &m.rcpt_tos).collect();
    assert_eq!(mails.len(), recipients, "{ids:?}");
    assert_eq!(ids.len(), recipients);
    assert_eq!(to.len(), recipients);
}

#[test]
fn a_crash_between_the_outbox_segment_and_the_states_loses_no_mail_and_sends_none_twice() {
    let peer = SmtpPeer::start(SmtpOptions::default());
    let names: Vec<String> = (0..5).map(|i| format!("user{i}@corp.example")).collect();
    let users: Vec<(&str, Option<&str>)> = names.iter().map(|n| (n.as_str(), None)).collect();
    let setup = Setup::new(&users, &[], &plain_smtp_notifier(&peer), &["mail"]);
    // The pass writes the batch's messages to a segment, then dies before any state is saved.
    let status = Command::new(env!("CARGO_BIN_EXE_recert"))
        .args([
            "reconcile",
            "manifests",
            "--state-dir",
            "state",
            "--now",
            START,
        ])
        .env("RECERT_FAULT_ABORT_AFTER_OUTBOX_SEGMENT", "1")
        .current_dir(setup.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("recert runs");
    assert!(!status.success(), "the drill aborts the pass");
    assert!(peer.messages().is_empty(), "nothing sent before the states");
    assert!(!setup.path().join("state/reviews/ga/state.json").exists());
    let crashed = segments(&setup);
    assert_eq!(crashed.len(), 1, "{crashed:?}");
    // An orphan under another name, as a crash with a different batch would leave: never read.
    let only = crashed.first().expect("one segment");
    let orphan = setup
        .path()
        .join("state/outbox/seg_00000000000000000000000000000000.jsonl");
    std::fs::copy(setup.path().join("state/outbox").join(only), &orphan).expect("copy");

    // The next pass makes the same decision, under the same ids, and sends each mail once.
    setup.reconcile("2026-12-01T10:05:00Z");
    each_once(&peer, 5);
    let status = setup.status();
    assert_eq!(notifications(&status)["sent"], 5);
    assert_eq!(notifications(&status)["pending"], 0);

    // A pass that read every state finds no message pending: the segments go, orphan and all.
    setup.reconcile("2026-12-01T10:10:00Z");
    assert!(segments(&setup).is_empty(), "{:?}", segments(&setup));
    each_once(&peer, 5);
}

#[test]
fn a_state_holding_whole_messages_from_before_segments_still_delivers_them() {
    let peer = SmtpPeer::start(SmtpOptions::default());
    let names: Vec<String> = (0..3).map(|i| format!("user{i}@corp.example")).collect();
    let users: Vec<(&str, Option<&str>)> = names.iter().map(|n| (n.as_str(), None)).collect();
    let setup = Setup::new(&users, &[], &plain_smtp_notifier(&peer), &["mail"]);
    let reconcile_only = |now: &str| {
        let out = recert(
            setup.path(),
            &[
                "reconcile",
                "manifests",
                "--state-dir",
                "state",
                "--now",
                now,
                "--deliver-timeout",
                "0",
            ],
        );
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    };
    reconcile_only(START);
    // A full pass keeps the segment of messages still pending.
    reconcile_only("2026-12-01T10:01:00Z");
    let written = segments(&setup);
    assert_eq!(written.len(), 1, "{written:?}");
    let segment_path = setup
        .path()
        .join("state/outbox")
        .join(written.first().expect("one"));
    let bodies: BTreeMap<String, serde_json::Value> = std::fs::read_to_string(&segment_path)
        .expect("the segment")
        .lines()
        .map(|l| {
            let m: serde_json::Value = serde_json::from_str(l).expect("a message");
            (m["id"].as_str().expect("an id").to_owned(), m)
        })
        .collect();
    assert_eq!(bodies.len(), 3);

    // The state as Recert wrote it before segments: each pending entry the whole message.
    let state_path = setup.path().join("state/reviews/ga/state.json");
    let mut stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).expect("state")).expect("json");
    let pending = stored["state"]["outbox"]["pending"]
        .as_array_mut()
        .expect("pending messages");
    assert_eq!(pending.len(), 3);
    for p in pending.iter_mut() {
        assert!(p.get("message").is_none(), "slim: {p}");
        let id = p["id"].as_str().expect("an id").to_owned();
        *p = serde_json::json!({ "message": bodies[&id] });
    }
    std::fs::write(&state_path, serde_json::to_vec(&stored).expect("json")).expect("write");
    std::fs::remove_file(&segment_path).expect("no segment");

    setup.reconcile("2026-12-01T10:05:00Z");
    each_once(&peer, 3);
    let status = setup.status();
    assert_eq!(notifications(&status)["sent"], 3);
    assert_eq!(notifications(&status)["pending"], 0);
}

#[test]
fn preview_prints_what_a_reviewer_would_get_without_sending() {
    let peer = secured_smtp();
    let setup = Setup::new(
        &[("alice@corp.example", None), ("bob@corp.example", None)],
        &[],
        &smtp_notifier(&peer, "mail"),
        &["mail"],
    );
    write_secrets(&setup);
    let out = recert(
        setup.path(),
        &[
            "notify",
            "preview",
            "ga",
            "manifests",
            "--reviewer",
            "alice@corp.example",
            "--state-dir",
            "state",
            "--now",
            START,
        ],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("To: Alice <alice@corp.example>"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("kind: ReviewDecisions"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("<html") || out.stdout.contains("<table"),
        "{}",
        out.stdout
    );
    assert!(peer.messages().is_empty(), "a preview sends nothing");
    assert!(
        !setup.path().join("state/reviews/ga/state.json").exists(),
        "and records nothing"
    );
}

#[test]
fn with_a_reviewer_page_the_email_links_to_the_review_on_it() {
    let peer = secured_smtp();
    let setup = Setup::new(
        &[("alice@corp.example", None)],
        &[],
        &smtp_notifier(&peer, "mail"),
        &["mail"],
    );
    write_secrets(&setup);
    let preview = || {
        recert(
            setup.path(),
            &[
                "notify",
                "preview",
                "ga",
                "manifests",
                "--reviewer",
                "alice@corp.example",
                "--state-dir",
                "state",
                "--now",
                START,
            ],
        )
    };
    let link = "https://recert.corp.example/reviews/ga";
    let without = preview();
    assert_eq!(without.code, 0, "{}{}", without.stdout, without.stderr);
    assert!(!without.stdout.contains(link), "{}", without.stdout);
    std::fs::write(
        setup.path().join("manifests/portal.yaml"),
        "apiVersion: recert.dev/v1alpha1\nkind: ReviewerPortal\nmetadata:\n  name: reviews\nspec:\n  \
         externalUrl: https://recert.corp.example\n  directory: corp\n  oidc:\n    \
         issuer: https://login.corp.example\n    clientId: recert\n    \
         clientSecret: {env: RECERT_OIDC_CLIENT_SECRET}\n",
    )
    .expect("portal");
    let with = preview();
    assert_eq!(with.code, 0, "{}{}", with.stdout, with.stderr);
    assert!(with.stdout.contains(link), "{}", with.stdout);
}

#[test]
fn an_escalation_hands_the_undecided_items_on_and_mails_the_new_reviewer() {
    let peer = secured_smtp();
    let setup = Setup::new(
        &[
            ("alice@corp.example", None),
            ("bob@corp.example", None),
            ("uma@corp.example", None),
        ],
        &[],
        &smtp_notifier(&peer, "mail"),
        &["mail"],
    );
    write_secrets(&setup);
    let review = setup.path().join("manifests/review.yaml");
    let text = std::fs::read_to_string(&review).expect("review");
    std::fs::write(
        &review,
        text + "    escalations:\n      - {name: last call, afterDays: 3, to: users, users: [uma@corp.example]}\n",
    )
    .expect("write");
    setup.reconcile(START);
    let decide = |reviewer: &str, principal: &str, now: &str| {
        recert(
            setup.path(),
            &[
                "decide",
                "ga",
                "manifests",
                "--reviewer",
                reviewer,
                "--principal",
                principal,
                "--approve",
                "--reason",
                "still needed",
                "--now",
                now,
            ],
        )
    };
    let out = decide("alice@corp.example", "alice@corp.example", "2026-12-02");
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    setup.reconcile("2026-12-02T10:00:00Z");
    let before = peer.messages().len();
    // Day 3: Bob's item is still undecided and goes to Uma as well; Alice's is decided.
    let out = setup.reconcile("2026-12-04T10:00:00Z");
    assert!(
        out.stdout.contains("escalated (last call)"),
        "{}",
        out.stdout
    );
    let mails: Vec<_> = peer.messages().into_iter().skip(before).collect();
    assert_eq!(mails.len(), 1, "one e-mail, to Uma");
    assert_eq!(mails[0].rcpt_tos, ["uma@corp.example"]);
    let subject = mails[0].header("Subject").expect("subject");
    assert!(subject.starts_with("Escalated to you"), "{subject}");
    assert!(mails[0].parts[0].1.contains("bob@corp.example"));
    // Uma may now decide Bob's item, and her decision counts.
    let out = decide("uma@corp.example", "bob@corp.example", "2026-12-05");
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    setup.reconcile("2026-12-05T10:00:00Z");
    let status = setup.status();
    let bob = status["instances"][0]["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["principal"] == "u-bob"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(bob["decision"], "approve", "{bob}");
    assert_eq!(bob["reviewer"], "u-uma", "{bob}");
    assert_eq!(
        status["instances"][0]["escalations"][0]["level"],
        "last call"
    );
    // The auditor's report says what the level did.
    let report = recert(setup.path(), &["report", "ga", "--state-dir", "state"]);
    assert_eq!(report.code, 0, "{}", report.stderr);
    assert!(report.stdout.contains("Escalations"), "{}", report.stdout);
    assert!(report.stdout.contains("u-bob → u-uma"), "{}", report.stdout);
}

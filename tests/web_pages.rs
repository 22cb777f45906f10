//! The reviewer and owner pages over HTTP against the real binary: what each person sees is
//! what the engine lets them decide, nobody reaches another reviewer's items or a review they
//! do not own by any endpoint, the read-only mode shows the e-mail's snippet instead of a
//! form. Sessions are sealed with the portal's key (the sign-in itself is tested in `web`).

use std::time::{Duration, Instant};

use serde_json::json;

use super::daemon::Daemon;
use recert_testkit::peers::{OidcClient, OidcPeer};

use super::web::{
    Answer, Browser, CLIENT_ID, CLIENT_SECRET, assert_no_secret, assert_security_headers,
    free_port, portal_tree, seal_session, start_daemon,
};
use crate::support::{Tree, root};

const REVIEW: &str = "pra-manager";

/// A manager review of the Privileged Role Administrators running today: Alice has no
/// manager (Peggy, the fallback, decides her), Carol manages Grace and Heidi, Alice manages
/// Mallory. Peggy owns it; Carol is the portal's admin. Carol has decided Grace already.
fn review_tree(web_port: u16, issuer: &str, read_only: bool) -> Tree {
    let tree = portal_tree(web_port, issuer, "preferred_username");
    let today = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    tree.write(
        "m/review.yaml",
        format!(
            "apiVersion: recert.dev/v1alpha1
kind: AccessReview
metadata:
  name: {REVIEW}
spec:
  directory: corp
  displayName: PRA <manager> review
  owners: [peggy@corp.example]
  scope:
    role:
      name: Privileged Role Administrator
    assignments: all
  reviewers:
    type: manager
  fallbackReviewers: [peggy@corp.example]
  schedule:
    start: {today}
    durationDays: 10
  settings:
    requireJustification: true
    recommendations:
      inactiveDays: 30
"
        ),
    )
    .write(
        "m/decisions/carol.yaml",
        format!(
            "apiVersion: recert.dev/v1alpha1
kind: ReviewDecisions
metadata:
  name: carol-pra
spec:
  review: {REVIEW}
  reviewer: carol@corp.example
  decisions:
    - principal: grace@corp.example
      decision: approve
      reason: needs it for <b>PIM</b> approvals
"
        ),
    );
    if read_only {
        let portal = std::fs::read_to_string(tree.path().join("m/portal.yaml")).expect("portal");
        tree.write("m/portal.yaml", format!("{portal}  readOnly: true\n"));
    }
    tree
}

/// The daemon with the page, once the review's first pass has recorded Carol's decision.
fn start(read_only: bool) -> (Tree, Daemon, String) {
    let web_port = free_port();
    // No provider: these tests seal their sessions themselves.
    let tree = review_tree(web_port, "http://127.0.0.1:1", read_only);
    let daemon = started(&tree, web_port);
    (tree, daemon, format!("http://127.0.0.1:{web_port}"))
}

fn started(tree: &Tree, web_port: u16) -> Daemon {
    let daemon = start_daemon(tree, web_port);
    let state = tree
        .path()
        .join(format!("state/reviews/{REVIEW}/state.json"));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(&state).unwrap_or_default();
        if text.contains("\"reviewer\": \"u-carol\"") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the review never recorded Carol's decision; the daemon logged:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    daemon
}

/// A browser signed in as the directory user `id` (`upn`).
fn signed_in(id: &str, upn: &str, name: &str) -> Browser {
    let mut browser = Browser::new();
    let exp = jiff::Timestamp::now().as_second() + 600;
    let session = json!({"principal": id, "upn": upn, "name": name, "sub": "s-1",
                         "iss": "http://127.0.0.1:1", "exp": exp, "csrf": format!("csrf-{id}")});
    browser
        .jar
        .insert("recert_session".into(), seal_session(&session));
    browser
}

fn instance_id() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%d").to_string()
}

/// The principals a reviewer page offers to decide (its checkboxes).
fn offered(answer: &Answer) -> Vec<String> {
    let re = regex::Regex::new(r#"name="principal" value="([^"]+)""#).expect("a regex");
    re.captures_iter(&answer.body)
        .map(|c| c[1].to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_reviewer_sees_and_may_select_exactly_the_items_the_engine_gives_them() {
    let (_tree, daemon, web) = start(false);
    let page = format!("{web}/reviews/{REVIEW}");

    let mut carol = signed_in("u-carol", "carol@corp.example", "Carol Schmidt");
    let answer = carol.get(&page).await;
    assert_eq!(answer.status, 200, "{}\n{}", answer.body, daemon.log());
    assert_security_headers(&answer, "the reviewer page");
    assert_eq!(offered(&answer), ["u-grace", "u-heidi"]);
    let body = &answer.body;
    // Escaped, with the decision and who made it, the access and the recommendation.
    assert!(body.contains("PRA &lt;manager&gt; review"), "{body}");
    assert!(
        body.contains("<strong>approve</strong> by carol@corp.example<br><small>“needs it for &lt;b&gt;PIM&lt;/b&gt; approvals”"),
        "{body}"
    );
    assert!(body.contains("<br><small>in carol.yaml</small>"), "{body}");
    assert!(
        !body.contains("/tmp") && !body.contains(".tmp"),
        "a server path: {body}"
    );
    assert!(
        body.contains("Role “Privileged Role Administrator”"),
        "{body}"
    );
    assert!(body.contains("1 of 2 decided"), "{body}");
    // The form the decision handler takes, with the reason required by this review.
    for field in [
        r#"action="/reviews/pra-manager/decide""#,
        r#"name="csrf" value="csrf-u-carol""#,
        &format!(r#"name="instance" value="{}""#, instance_id()),
        r#"name="return" value="/reviews/pra-manager""#,
        r#"name="action" value="decide""#,
        r#"name="action" value="accept" formnovalidate"#,
        r#"name="reason" rows="2" required"#,
        r#"<label class="visually-hidden" for="p-u-heidi">Select Heidi Larsen</label>"#,
    ] {
        assert!(body.contains(field), "{field} missing:\n{body}");
    }

    // Still pending: Heidi only.
    let pending = carol.get(&format!("{page}?show=pending")).await;
    assert_eq!(offered(&pending), ["u-heidi"]);
    assert!(
        pending
            .body
            .contains(r#"name="return" value="/reviews/pra-manager?show=pending""#)
    );

    // Alice decides her report Mallory; Peggy, the fallback, decides Alice (no manager).
    let mut alice = signed_in("u-alice", "alice@corp.example", "Alice Nguyen");
    assert_eq!(offered(&alice.get(&page).await), ["u-mallory"]);
    let mut peggy = signed_in("u-peggy", "peggy@corp.example", "Peggy Moreau");
    assert_eq!(offered(&peggy.get(&page).await), ["u-alice"]);

    // The landing page lists the running instance with each one's own progress.
    let landing = carol.get(&format!("{web}/")).await;
    assert!(
        landing
            .body
            .contains(r#"<a href="/reviews/pra-manager">PRA &lt;manager&gt; review</a>"#)
            && landing
                .body
                .contains("1 of 2 decided, <strong>1 pending</strong>"),
        "{}",
        landing.body
    );
    let landing = alice.get(&format!("{web}/")).await;
    assert!(landing.body.contains("0 of 1 decided"), "{}", landing.body);
    assert!(!landing.body.contains("/overview"), "Alice owns nothing");
    assert_no_secret(
        &[
            &daemon.log(),
            &carol.seen.join("\n"),
            &alice.seen.join("\n"),
        ],
        "a page or the log",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_endpoint_shows_a_review_to_somebody_without_a_part_in_it() {
    let (_tree, daemon, web) = start(false);
    let instance = instance_id();
    let missing = signed_in("u-bob", "bob@corp.example", "Bob")
        .get(&format!("{web}/reviews/no-such-review"))
        .await;
    assert_eq!(missing.status, 404);

    // Bob has no item, and owns nothing: every page of the review answers as if it did not
    // exist, whatever ids he tries.
    let mut bob = signed_in("u-bob", "bob@corp.example", "Bob Martins");
    for path in [
        format!("/reviews/{REVIEW}"),
        format!("/reviews/{REVIEW}?instance={instance}"),
        format!("/reviews/{REVIEW}?instance={instance}&show=pending"),
        format!("/reviews/{REVIEW}/overview"),
        format!("/reviews/{REVIEW}/overview?instance={instance}"),
        format!("/reviews/{REVIEW}/results/{instance}.csv"),
        format!("/reviews/..%2F..%2Freviews%2F{REVIEW}"),
        format!("/reviews/%2E%2E/results/{instance}.csv"),
    ] {
        let answer = bob.get(&format!("{web}{path}")).await;
        assert_eq!(answer.status, 404, "{path}: {}", answer.body);
        assert_eq!(
            answer.body, missing.body,
            "{path} tells more than a missing review"
        );
        assert_security_headers(&answer, &path);
        for secret in ["u-grace", "u-heidi", "u-mallory", "Grace", "Mallory"] {
            assert!(!answer.body.contains(secret), "{path} shows {secret}");
        }
    }
    let landing = bob.get(&format!("{web}/")).await;
    assert!(!landing.body.contains(REVIEW), "{}", landing.body);

    // Alice reviews Mallory but neither owns the review nor sees Carol's items by naming them.
    let mut alice = signed_in("u-alice", "alice@corp.example", "Alice Nguyen");
    for path in [
        format!("/reviews/{REVIEW}/overview"),
        format!("/reviews/{REVIEW}/results/{instance}.csv"),
    ] {
        assert_eq!(
            alice.get(&format!("{web}{path}")).await.status,
            404,
            "{path}"
        );
    }
    let mine = alice
        .get(&format!("{web}/reviews/{REVIEW}?principal=u-grace"))
        .await;
    assert_eq!(offered(&mine), ["u-mallory"]);
    assert!(!mine.body.contains("Grace"), "{}", mine.body);

    // A user principal name that spells somebody's id does not make its holder them.
    let mut eve = signed_in("u-eve", "u-carol", "Eve");
    assert_eq!(
        eve.get(&format!("{web}/reviews/{REVIEW}")).await.status,
        404
    );
    let _ = daemon;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_sees_progress_per_reviewer_and_downloads_the_results() {
    let (tree, daemon, web) = start(false);
    let instance = instance_id();
    let mut peggy = signed_in("u-peggy", "peggy@corp.example", "Peggy Moreau");
    let landing = peggy.get(&format!("{web}/")).await;
    assert!(
        landing
            .body
            .contains(r#"<a href="/reviews/pra-manager/overview">"#),
        "{}",
        landing.body
    );
    let overview = peggy.get(&format!("{web}/reviews/{REVIEW}/overview")).await;
    assert_eq!(overview.status, 200, "{}\n{}", overview.body, daemon.log());
    assert_security_headers(&overview, "the overview");
    let body = &overview.body;
    // Carol: two items, one decided; Alice and Peggy: one each, undecided.
    for row in [
        "carol@corp.example <small><code>u-carol</code></small></td><td data-label=\"Items\">2</td><td data-label=\"Decided\">1</td><td data-label=\"Pending\">1</td>",
        "Alice Nguyen <small><code>u-alice</code></small></td><td data-label=\"Items\">1</td><td data-label=\"Decided\">0</td>",
        "<code>u-peggy</code></small></td><td data-label=\"Items\">1</td><td data-label=\"Decided\">0</td>",
        &format!("href=\"/reviews/pra-manager/results/{instance}.csv\" download"),
    ] {
        assert!(body.contains(row), "{row} missing:\n{body}");
    }
    let csv = peggy
        .get(&format!("{web}/reviews/{REVIEW}/results/{instance}.csv"))
        .await;
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert_eq!(csv.header("content-type"), "text/csv; charset=utf-8");
    assert_eq!(
        csv.header("content-disposition"),
        format!("attachment; filename=\"pra-manager-{instance}.csv\"")
    );
    assert_eq!(csv.header("cache-control"), "no-store");
    // The very CSV `recert export` writes.
    let export = tree.recert(&[
        "export",
        REVIEW,
        "--state-dir",
        "state",
        "--instance",
        &instance,
    ]);
    assert_eq!(export.code, 0, "{}", export.stderr);
    assert_eq!(csv.body, export.stdout);
    assert!(csv.body.contains("u-grace"));

    // Carol is the portal's admin: she sees every review's overview.
    let mut carol = signed_in("u-carol", "carol@corp.example", "Carol Schmidt");
    let answer = carol.get(&format!("{web}/reviews/{REVIEW}/overview")).await;
    assert_eq!(answer.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_portal_shows_the_snippet_and_commands_instead_of_a_form() {
    let (_tree, daemon, web) = start(true);
    let mut carol = signed_in("u-carol", "carol@corp.example", "Carol Schmidt");
    let answer = carol.get(&format!("{web}/reviews/{REVIEW}")).await;
    assert_eq!(answer.status, 200, "{}\n{}", answer.body, daemon.log());
    let body = &answer.body;
    assert!(
        !body.contains("<form method=\"post\" action=\"/reviews"),
        "{body}"
    );
    assert!(offered(&answer).is_empty());
    let instance = instance_id();
    for text in [
        "kind: ReviewDecisions",
        "review: pra-manager",
        "reviewer: carol@corp.example",
        "- principal: heidi@corp.example  # Heidi Larsen",
        &format!("instance: &quot;{instance}&quot;"),
        "reason:     # required",
        "recert decide pra-manager --reviewer carol@corp.example --principal heidi@corp.example",
    ] {
        assert!(body.contains(text), "{text} missing:\n{body}");
    }
    // Grace is decided: she is in the table but not in the snippet.
    assert!(!body.contains("- principal: grace@corp.example"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_a_reviewer_denies_one_accepts_the_rest_and_another_sees_none_of_them() {
    let web_port = free_port();
    let web = format!("http://127.0.0.1:{web_port}");
    let peer = OidcPeer::start(&OidcClient {
        client_id: CLIENT_ID.to_owned(),
        client_secret: CLIENT_SECRET.to_owned(),
        redirect_uri: format!("{web}/auth/callback"),
    });
    // Carol's two reports are both pending: Grace (recommended: approve) and Heidi.
    let tree = review_tree(web_port, &peer.issuer(), false);
    std::fs::remove_file(tree.path().join("m/decisions/carol.yaml")).expect("no decisions yet");
    let daemon = start_daemon(&tree, web_port);
    let review_dir = tree.path().join(format!("state/reviews/{REVIEW}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !review_dir.join("status.yaml").exists() {
        assert!(
            Instant::now() < deadline,
            "no first pass:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out_dir = root().join("target/test-artefacts");
    std::fs::create_dir_all(&out_dir).expect("artefact folder");
    let page = format!("{web}/reviews/{REVIEW}?show=pending");
    let peer = std::sync::Arc::new(peer);
    let run = |login: &'static str, steps: &'static [&'static str]| {
        let peer = peer.clone();
        let page = page.clone();
        let shots = out_dir.join(format!("reviewer-page-{login}"));
        for suffix in ["items", "decided", "phone"] {
            let _ =
                std::fs::remove_file(out_dir.join(format!("reviewer-page-{login}-{suffix}.png")));
        }
        tokio::task::spawn_blocking(move || peer.browser_review(&page, login, &shots, steps))
    };
    let carol = run(
        "carol",
        &[
            "--deny",
            "u-heidi",
            "--reason",
            "Moved to the data team in October",
            "--accept",
            "yes",
        ],
    )
    .await
    .expect("the browser ran");
    assert_eq!(
        carol["offered"],
        json!(["u-grace", "u-heidi"]),
        "{carol}\n{}",
        daemon.log()
    );
    assert_eq!(
        carol["offeredAfter"],
        json!([]),
        "{carol}\n{}",
        daemon.log()
    );
    let text = carol["text"].as_str().unwrap_or_default();
    assert!(text.contains("2 of 2 decided, 0 pending"), "{text}");
    for step in carol["steps"].as_array().expect("steps") {
        assert_eq!(step["url"], json!(page), "{carol}");
    }

    // The evidence: status.yaml and the results CSV hold both decisions, by Carol.
    let status = std::fs::read_to_string(review_dir.join("status.yaml")).expect("status");
    for text in [
        "  - principal: u-heidi\n    name: Heidi Larsen\n    type: user\n    decision: deny\n    reviewer: u-carol\n    reason: Moved to the data team in October\n",
        "  - principal: u-grace\n    name: Grace Adeyemi\n    type: user\n    decision: approve\n    reviewer: u-carol\n    reason: \"recommendation accepted: signed in",
    ] {
        assert!(status.contains(text), "{text} missing:\n{status}");
    }
    let csv = std::fs::read_to_string(review_dir.join(format!("results/{}.csv", instance_id())))
        .expect("results");
    let row = |id: &str| {
        csv.lines()
            .find(|l| l.contains(&format!(",{id},")))
            .unwrap_or_else(|| panic!("{id} in {csv}"))
            .to_owned()
    };
    assert!(row("u-heidi").contains(",deny,u-carol,"), "{csv}");
    assert!(
        row("u-heidi").contains("Moved to the data team in October"),
        "{csv}"
    );
    assert!(row("u-grace").contains(",approve,u-carol,"), "{csv}");
    // Mallory is Alice's, and stays undecided.
    assert!(row("u-mallory").contains(",undecided,"), "{csv}");

    // Carol's page says what she decided, and where.
    let mut sealed = signed_in("u-carol", "carol@corp.example", "Carol Schmidt");
    let mine = sealed.get(&format!("{web}/reviews/{REVIEW}")).await;
    assert!(
        mine.body.contains("<strong>deny</strong> by carol@corp.example<br><small>“Moved to the data team in October”</small><br><small>on the reviewer page</small>"),
        "{}",
        mine.body
    );

    // Alice sees her report only, none of Carol's, decided or not.
    let alice = run("alice", &[]).await.expect("the browser ran");
    assert_eq!(alice["offered"], json!(["u-mallory"]), "{alice}");
    let text = alice["text"].as_str().unwrap_or_default();
    assert!(!text.contains("Heidi") && !text.contains("Grace"), "{text}");
    for shot in [
        "reviewer-page-carol-items.png",
        "reviewer-page-carol-decided.png",
        "reviewer-page-carol-phone.png",
        "reviewer-page-alice-items.png",
    ] {
        let bytes = std::fs::read(out_dir.join(shot)).expect("the screenshot");
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{shot} is a PNG");
    }
}

/// The manager review in two stages: managers (from two days ago, for a day), then Peggy (for
/// ten days) on what was approved or not reviewed. Stage 1 is reconciled at its time, with
/// Carol's decision on Grace; the daemon then finds stage 2 in progress.
async fn in_stage_two(show_earlier: bool) -> (Tree, Daemon, String) {
    let web_port = free_port();
    let tree = review_tree(web_port, "http://127.0.0.1:1", false);
    let now = jiff::Timestamp::now();
    let start = (now - jiff::SignedDuration::from_hours(48))
        .strftime("%Y-%m-%d")
        .to_string();
    let review = std::fs::read_to_string(tree.path().join("m/review.yaml")).expect("review");
    let review = review
        .replace(
            "    durationDays: 10\n",
            "    durationDays: 1\n  stages:\n    - name: security team\n      reviewers:\n        type: users\n        users: [peggy@corp.example]\n      durationDays: 10\n      fromPreviousStage: [approve, notReviewed]\n",        )
        .replace(&format!("    start: {}\n", instance_id()), &format!("    start: {start}\n"))
        .replace(
            "    requireJustification: true\n",
            &format!(
                "    requireJustification: true\n    showPreviousStageDecisions: {show_earlier}\n"
            ),
        );
    assert!(
        review.contains("stages:") && review.contains(&start),
        "{review}"
    );
    tree.write("m/review.yaml", review);
    let stage_one = format!("{start}T12:00:00Z");
    let out = tree.recert(&[
        "reconcile",
        "m",
        "--state-dir",
        "state",
        "--now",
        &stage_one,
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let daemon = start_daemon(&tree, web_port);
    let web = format!("http://127.0.0.1:{web_port}");
    let mut peggy = signed_in("u-peggy", "peggy@corp.example", "Peggy Moreau");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = peggy.get(&format!("{web}/reviews/{REVIEW}")).await;
        if answer
            .body
            .contains("stage 2 (security team) is in progress")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stage 2 never started: {}\n{}",
            answer.body,
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (tree, daemon, web)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_later_stage_its_reviewers_see_its_items_with_the_earlier_decisions() {
    let (_tree, daemon, web) = in_stage_two(true).await;
    let page = format!("{web}/reviews/{REVIEW}");
    let mut peggy = signed_in("u-peggy", "peggy@corp.example", "Peggy Moreau");
    let answer = peggy.get(&page).await;
    assert_eq!(
        offered(&answer),
        ["u-alice", "u-grace", "u-heidi", "u-mallory"],
        "{}",
        daemon.log()
    );
    assert!(
        answer.body.contains(
            "<span class=\"pending\">pending</span><br><small>Earlier, stage 1: approve by carol@corp.example — “needs it for &lt;b&gt;PIM&lt;/b&gt; approvals”</small>"
        ),
        "{}",
        answer.body
    );
    assert!(answer.body.contains("0 of 4 decided"), "{}", answer.body);
    // Carol reviewed stage 1 only: nothing is hers now.
    let mut carol = signed_in("u-carol", "carol@corp.example", "Carol Schmidt");
    assert_eq!(carol.get(&page).await.status, 404);
    // The owner sees the stages and every stage's decision.
    let overview = peggy.get(&format!("{page}/overview")).await;
    for text in [
        "<td data-label=\"Stage\">stage 1</td>",
        "<td data-label=\"State\">ended</td>",
        "<td data-label=\"Stage\">stage 2 (security team)</td>",
        "<td data-label=\"State\">in progress</td>",
        "Stage 1: approve by carol@corp.example",
    ] {
        assert!(
            overview.body.contains(text),
            "{text} missing:\n{}",
            overview.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_that_hides_earlier_stages_decisions_keeps_them_off_the_pages() {
    let (_tree, _daemon, web) = in_stage_two(false).await;
    let mut peggy = signed_in("u-peggy", "peggy@corp.example", "Peggy Moreau");
    for path in ["", "/overview"] {
        let answer = peggy.get(&format!("{web}/reviews/{REVIEW}{path}")).await;
        assert_eq!(answer.status, 200);
        assert!(
            !answer.body.contains("needs it for") && !answer.body.contains("by carol@"),
            "{path}: {}",
            answer.body
        );
    }
}

async fn post_form(browser: &mut Browser, url: &str, fields: Vec<(&str, String)>) -> Answer {
    let request = browser.client.post(url).form(&fields);
    browser.send(request).await
}

/// Waits until the review's `status.yaml` says `wanted`.
fn status_says(tree: &Tree, daemon: &Daemon, wanted: &str) -> String {
    let path = tree
        .path()
        .join(format!("state/reviews/{REVIEW}/status.yaml"));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.contains(wanted) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "status.yaml never said {wanted:?}:\n{text}\nthe daemon logged:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_posted_is_recorded_only_for_the_reviewers_own_items_and_by_the_engines_rules() {
    let (tree, daemon, web) = start(false);
    let decide = format!("{web}/reviews/{REVIEW}/decide");
    let log = tree
        .path()
        .join(format!("state/reviews/{REVIEW}/web-decisions.jsonl"));
    let today = instance_id();
    let mut alice = signed_in("u-alice", "alice@corp.example", "Alice");
    let form = |principal: &'static str, reason: &'static str| {
        let today = today.clone();
        move |csrf: &'static str| {
            vec![
                ("csrf", csrf.to_owned()),
                ("instance", today.clone()),
                ("action", "decide".to_owned()),
                ("decision", "deny".to_owned()),
                ("reason", reason.to_owned()),
                ("principal", principal.to_owned()),
            ]
        }
    };
    // Carol's report, an item that does not exist, and a real item in an instance that does
    // not exist: refused alike, nothing recorded.
    for principal in ["u-heidi", "u-nobody"] {
        let answer = post_form(&mut alice, &decide, form(principal, "left")("csrf-u-alice")).await;
        assert_eq!(answer.status, 403, "{principal}: {}", answer.body);
        assert_security_headers(&answer, "a refused decision");
    }
    let mut other_instance = form("u-mallory", "left")("csrf-u-alice");
    other_instance[1].1 = "2020-01-01".into();
    assert_eq!(
        post_form(&mut alice, &decide, other_instance).await.status,
        403
    );
    // Her own report, without the CSRF token, or without the reason the review requires.
    assert_eq!(
        post_form(&mut alice, &decide, form("u-mallory", "left")("not-hers"))
            .await
            .status,
        403
    );
    let answer = post_form(&mut alice, &decide, form("u-mallory", " ")("csrf-u-alice")).await;
    assert_eq!(answer.status, 409, "{}", answer.body);
    assert!(answer.body.contains("requires a reason"), "{}", answer.body);
    // A review name that is a path (here one that leads back to the review itself): refused
    // before it reaches the state directory.
    let escape = format!("{web}/reviews/{REVIEW}%2F..%2F{REVIEW}/decide");
    let answer = post_form(
        &mut alice,
        &escape,
        form("u-mallory", "left")("csrf-u-alice"),
    )
    .await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert!(!log.exists(), "nothing refused is recorded");

    // Her own report, with a reason: on disk before the answer, then in the status.
    let answer = post_form(
        &mut alice,
        &decide,
        form("u-mallory", "moved to finance")("csrf-u-alice"),
    )
    .await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    let lines = std::fs::read_to_string(&log).expect("the decision log");
    assert_eq!(lines.lines().count(), 1, "{lines}");
    assert!(
        lines.contains(r#""reviewer":"u-alice","principal":"u-mallory","decision":"deny""#),
        "{lines}"
    );
    let status = status_says(
        &tree,
        &daemon,
        "source: web sign-in s-1 (http://127.0.0.1:1)",
    );
    assert!(status.contains("reason: moved to finance"), "{status}");

    // Carol accepts the recommendations of her pending items (Heidi; Grace is decided).
    let mut carol = signed_in("u-carol", "carol@corp.example", "Carol");
    let answer = post_form(
        &mut carol,
        &decide,
        vec![
            ("csrf", "csrf-u-carol".to_owned()),
            ("instance", today.clone()),
            ("action", "accept".to_owned()),
        ],
    )
    .await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    let lines = std::fs::read_to_string(&log).expect("the decision log");
    assert_eq!(lines.lines().count(), 2, "{lines}");
    assert!(
        lines.contains(r#""reviewer":"u-carol","principal":"u-heidi""#),
        "{lines}"
    );
    assert!(lines.contains("recommendation accepted"), "{lines}");
    drop(daemon);

    // A read-only page records nothing.
    let (tree, _daemon, web) = start(true);
    let mut alice = signed_in("u-alice", "alice@corp.example", "Alice");
    let request = alice
        .client
        .post(format!("{web}/reviews/{REVIEW}/decide"))
        .form(&form("u-mallory", "left")("csrf-u-alice"));
    let answer = alice.send(request).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert!(
        !tree
            .path()
            .join(format!("state/reviews/{REVIEW}/web-decisions.jsonl"))
            .exists()
    );
}

//! What each event renders to on each channel (snapshots), and the properties that matter
//! whatever the wording: escaping, valid decisions snippets, channel limits.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::*;
use crate::model::decisions::Decision;
use crate::model::notifier::Channel;
use crate::model::review::{NotificationEvent, Timestamp};
use crate::notify::message::{
    AppliedFacts, AppliedItem, Content, HowToDecide, ItemFact, Message, Outcome, Recipient,
    RecipientRole, ReviewerFact,
};

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).expect("timestamp")
}

fn item(name: &str, display: &str, recommendation: Option<Decision>, why: &str) -> ItemFact {
    ItemFact {
        principal: format!("u-{}", name.split('@').next().unwrap_or(name)),
        name: name.to_owned(),
        display_name: Some(display.to_owned()),
        kind: "user".to_owned(),
        access: "eligible, direct".to_owned(),
        recommendation,
        recommendation_reason: why.to_owned(),
        previous_stage_decisions: Vec::new(),
    }
}

fn content() -> Content {
    Content {
        title: "Privileged Role Administrators — monthly manager review".to_owned(),
        description: Some(
            "Privileged Role Administrators can grant any Entra role, including Global \
             Administrator. Managers: approve only people whose current job needs it."
                .to_owned(),
        ),
        additional_content: Some("Questions? Ask the Identity team in #iam-help.".to_owned()),
        target: "role \"Privileged Role Administrator\"".to_owned(),
        start: ts("2026-12-01T00:00:00Z"),
        due: ts("2026-12-11T00:00:00Z"),
        total: 4,
        items: Vec::new(),
        how_to_decide: None,
        reviewers: Vec::new(),
        outcome: None,
        applied: None,
        link: None,
    }
}

fn message(event: NotificationEvent, channel: Channel, to: Recipient, content: Content) -> Message {
    let recipient = to.id.clone().unwrap_or_else(|| "channel".to_owned());
    Message {
        id: Message::id_for(
            "privileged-role-admins-manager",
            "2026-12-01",
            event,
            0,
            "mail",
            &recipient,
        ),
        notifier: "mail".to_owned(),
        channel,
        event,
        review: "privileged-role-admins-manager".to_owned(),
        instance: "2026-12-01".to_owned(),
        sequence: 0,
        to,
        created: ts("2026-12-01T00:00:05Z"),
        content,
        item_ids: Vec::new(),
    }
}

fn carol() -> Recipient {
    Recipient {
        role: RecipientRole::Reviewer,
        id: Some("u-carol".to_owned()),
        name: Some("Carol Okafor".to_owned()),
        address: Some("carol@corp.example".to_owned()),
    }
}

fn owner() -> Recipient {
    Recipient {
        role: RecipientRole::Owner,
        id: Some("u-peggy".to_owned()),
        name: Some("Peggy Shah".to_owned()),
        address: Some("peggy@corp.example".to_owned()),
    }
}

fn channel() -> Recipient {
    Recipient {
        role: RecipientRole::Channel,
        id: None,
        name: None,
        address: None,
    }
}

fn how() -> HowToDecide {
    HowToDecide {
        file: "decisions/privileged-role-admins-manager/carol.yaml".to_owned(),
        reviewer: "carol@corp.example".to_owned(),
        document_name: "privileged-role-admins-manager-carol".to_owned(),
        reason_required: true,
    }
}

/// Carol's two reports hold the role: one signs in, one has not for months.
fn started() -> Message {
    let mut c = content();
    c.items = vec![
        item(
            "grace@corp.example",
            "Grace Lindqvist",
            Some(Decision::Approve),
            "signed in 3 days ago",
        ),
        item(
            "heidi@corp.example",
            "Heidi Novak",
            Some(Decision::Deny),
            "no sign-in for 94 days",
        ),
    ];
    c.how_to_decide = Some(how());
    c.link = Some("https://recert.corp.example/reviews/privileged-role-admins-manager".to_owned());
    message(
        NotificationEvent::InstanceStarted,
        Channel::Smtp,
        carol(),
        c,
    )
}

fn reminder() -> Message {
    let mut msg = started();
    msg.event = NotificationEvent::Reminder;
    msg.sequence = 1;
    msg.created = ts("2026-12-03T00:00:05Z");
    msg.content.items.truncate(1);
    msg.content.link = None;
    msg
}

fn escalated() -> Message {
    let mut msg = reminder();
    msg.event = NotificationEvent::Escalated;
    msg.created = ts("2026-12-06T00:00:05Z");
    msg
}

fn channel_escalated() -> Message {
    let mut msg = channel_started(Channel::Webhook);
    msg.event = NotificationEvent::Escalated;
    msg.sequence = 1;
    msg
}

fn reviewers() -> Vec<ReviewerFact> {
    vec![
        ReviewerFact {
            id: "u-carol".to_owned(),
            name: Some("carol@corp.example".to_owned()),
            display_name: Some("Carol Okafor".to_owned()),
            pending: 2,
        },
        ReviewerFact {
            id: "u-peggy".to_owned(),
            name: Some("peggy@corp.example".to_owned()),
            display_name: None,
            pending: 1,
        },
    ]
}

fn channel_started(channel_kind: Channel) -> Message {
    let mut c = content();
    c.reviewers = reviewers();
    c.link = Some("https://recert.corp.example/reviews/privileged-role-admins-manager".to_owned());
    message(
        NotificationEvent::InstanceStarted,
        channel_kind,
        channel(),
        c,
    )
}

fn ended() -> Message {
    let mut c = content();
    c.outcome = Some(Outcome {
        reason: "completed".to_owned(),
        ended: ts("2026-12-11T00:00:00Z"),
        approved: 2,
        denied: 1,
        dont_know: 0,
        undecided: 1,
        defaulted: 0,
        default_decision: "none".to_owned(),
        auto_apply: false,
    });
    message(NotificationEvent::InstanceEnded, Channel::Smtp, owner(), c)
}

fn applied_item(name: &str, result: &str, detail: Option<&str>) -> AppliedItem {
    AppliedItem {
        principal: match name.split_once('@') {
            Some((user, _)) => format!("u-{user}"),
            None => name.to_owned(),
        },
        name: name.to_owned(),
        display_name: None,
        result: result.to_owned(),
        detail: detail.map(str::to_owned),
    }
}

fn applied() -> Message {
    let mut c = content();
    c.applied = Some(AppliedFacts {
        removed: 1,
        not_found: 0,
        protected: 1,
        not_supported: 1,
        failed: 1,
        blocked: None,
        items: vec![
            applied_item("heidi@corp.example", "applied", None),
            applied_item(
                "mallory@corp.example",
                "failed",
                Some(
                    "Graph answered 403 Forbidden: Insufficient privileges to complete the operation.",
                ),
            ),
            applied_item(
                "g-finance-admins",
                "notSupported",
                Some("the group is synced from on-premises Active Directory: remove it there"),
            ),
            applied_item(
                "breakglass@corp.example",
                "protected",
                Some("listed in guards.protectedPrincipals"),
            ),
        ],
    });
    message(NotificationEvent::Applied, Channel::Smtp, owner(), c)
}

fn blocked() -> Message {
    let mut msg = applied();
    let a = msg.content.applied.as_mut().expect("applied facts");
    a.removed = 0;
    a.not_supported = 0;
    a.failed = 0;
    a.protected = 0;
    a.blocked = Some(
        "removing 3 of 4 assignments would leave 1, below guards.minRemainingAssignments (2)"
            .to_owned(),
    );
    a.items.clear();
    msg
}

fn every_message() -> Vec<(&'static str, Message)> {
    vec![
        ("started", started()),
        ("reminder", reminder()),
        ("escalated", escalated()),
        ("channel-started", channel_started(Channel::Webhook)),
        ("channel-escalated", channel_escalated()),
        ("ended", ended()),
        ("applied", applied()),
        ("blocked", blocked()),
    ]
}

#[test]
fn emails_for_every_event_read_as_snapshotted() {
    for (name, msg) in every_message() {
        let mail = email(&msg);
        insta::assert_snapshot!(
            format!("email-{name}-text"),
            format!("Subject: {}\n\n{}", mail.subject, mail.text)
        );
        insta::assert_snapshot!(format!("email-{name}-html"), mail.html);
        // Plain text wraps at 72 columns, except what must be copied whole: code (indented
        // four spaces) and words longer than a line.
        for line in mail.text.lines() {
            assert!(
                line.chars().count() <= 72 || line.starts_with("    ") || !line.contains(' '),
                "{name}: {line:?}"
            );
        }
    }
}

#[test]
fn json_bodies_read_as_snapshotted() {
    let pretty = |v: Value| serde_json::to_string_pretty(&v).expect("json");
    for (name, msg) in every_message() {
        insta::assert_snapshot!(format!("webhook-{name}"), pretty(webhook_event(&msg)));
    }
    for (name, msg) in [
        ("channel-started", channel_started(Channel::Slack)),
        ("applied", applied()),
    ] {
        insta::assert_snapshot!(format!("slack-{name}"), pretty(slack(&msg)));
        insta::assert_snapshot!(format!("teams-{name}"), pretty(teams(&msg)));
    }
}

#[test]
fn preview_shows_the_headers_and_both_parts_of_an_email_and_the_json_of_a_webhook() {
    let mail = preview(&started());
    assert!(mail.starts_with(
        "To: Carol Okafor <carol@corp.example>\nSubject: Access review: Privileged Role \
         Administrators — monthly manager review — 2 items to review by 2026-12-11\n"
    ));
    let text = mail
        .find("--- text/plain\nOpen the review:\nhttps://")
        .expect("text part");
    let html = mail
        .find("--- text/html\n<!DOCTYPE html>")
        .expect("html part");
    assert!(text < html);

    let body = preview(&channel_started(Channel::Webhook));
    let parsed: Value = serde_json::from_str(&body).expect("the preview is the JSON body");
    assert_eq!(parsed, webhook_event(&channel_started(Channel::Webhook)));
}

const HOSTILE: &str = "<script>alert('x')</script><img src=x onerror=alert(1)> & \"Eve\"";

#[test]
fn html_escapes_every_value_from_the_directory_and_the_manifest() {
    let mut msg = started();
    msg.to.name = Some(HOSTILE.to_owned());
    msg.content.title = HOSTILE.to_owned();
    msg.content.description = Some(HOSTILE.to_owned());
    msg.content.items[0].display_name = Some(HOSTILE.to_owned());
    msg.content.items[0].recommendation_reason = HOSTILE.to_owned();
    msg.content.link = Some("https://x.example/\"><script>alert(1)</script>".to_owned());
    let html = email(&msg).html;
    for raw in ["<script", "<img", "onerror=alert(1)>", "\"Eve\"", "'x'"] {
        assert!(!html.contains(raw), "{raw} reached the HTML:\n{html}");
    }
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(html.contains("&amp; &quot;Eve&quot;"));

    let mut applied = applied();
    let a = applied.content.applied.as_mut().expect("applied");
    a.items[1].detail = Some(HOSTILE.to_owned());
    a.items[1].display_name = Some(HOSTILE.to_owned());
    let html = email(&applied).html;
    assert!(
        !html.contains("<script") && !html.contains("<img"),
        "{html}"
    );
}

#[test]
fn a_link_that_is_not_http_is_not_offered() {
    let mut msg = started();
    msg.content.link = Some("javascript:alert(1)".to_owned());
    let mail = email(&msg);
    assert!(!mail.html.contains("javascript:"));
    assert!(!mail.text.contains("javascript:"));
    assert!(!slack(&msg).to_string().contains("javascript:"));
    assert!(!teams(&msg).to_string().contains("javascript:"));
}

#[test]
fn slack_and_teams_escape_their_markup() {
    let mut msg = channel_started(Channel::Slack);
    msg.content.reviewers[0].display_name =
        Some("<!channel> *Mallory* [x](https://evil.example)".to_owned());
    let slack = slack(&msg).to_string();
    assert!(!slack.contains("<!channel>"), "{slack}");
    assert!(slack.contains("&lt;!channel&gt;"));
    msg.content.link = Some("https://x.example/a|b>c".to_owned());
    let link = super::slack(&msg)["blocks"][1]["text"]["text"].clone();
    assert_eq!(link, "<https://x.example/a%7Cb&gt;c|Open the review>");
    let teams = teams(&msg).to_string();
    assert!(!teams.contains("[x](https"), "{teams}");
    assert!(teams.contains(r"\\[x\\](https://evil.example)"), "{teams}");
}

#[test]
fn non_ascii_names_pass_through_unchanged() {
    let name = "Zoë Ångström-Øre 山田 太郎 🙂";
    let mut msg = started();
    msg.to.name = Some(name.to_owned());
    msg.content.items[0].display_name = Some(name.to_owned());
    msg.content.title = format!("Überprüfung — {name}");
    let mail = email(&msg);
    assert!(mail.subject.contains(name));
    assert!(mail.text.contains(&format!("Hello {name},")));
    assert!(mail.html.contains(&format!("Hello {name},")));
    assert!(mail.text.contains(&format!("{name} (grace@corp.example)")));
    assert!(webhook_event(&msg)["data"]["items"][0]["displayName"] == name);
    let mut channel = channel_started(Channel::Slack);
    channel.content.reviewers[0].display_name = Some(name.to_owned());
    assert!(slack(&channel).to_string().contains(name));
    assert!(teams(&channel).to_string().contains(name));
}

#[test]
fn teams_body_is_an_adaptive_card_in_a_message_envelope() {
    let body = teams(&channel_started(Channel::Teams));
    assert_eq!(body["type"], "message");
    let attachments = body["attachments"].as_array().expect("attachments");
    assert_eq!(attachments.len(), 1);
    let attachment = &attachments[0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert!(attachment.get("contentUrl").is_some_and(Value::is_null));
    let card = &attachment["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.4");
    assert_eq!(
        card["$schema"],
        "http://adaptivecards.io/schemas/adaptive-card.json"
    );
    let body = card["body"].as_array().expect("card body");
    assert!(!body.is_empty());
    for element in body {
        let kind = element["type"].as_str().expect("element type");
        assert!(
            ["TextBlock", "FactSet", "Container"].contains(&kind),
            "{kind}"
        );
    }
    let actions = card["actions"].as_array().expect("actions");
    assert_eq!(actions[0]["type"], "Action.OpenUrl");
    assert_eq!(
        actions[0]["url"],
        "https://recert.corp.example/reviews/privileged-role-admins-manager"
    );
    // Without a link there is no action to show.
    let mut no_link = channel_started(Channel::Teams);
    no_link.content.link = None;
    assert!(
        teams(&no_link)["attachments"][0]["content"]
            .get("actions")
            .is_none()
    );
}

/// Every text in a Block Kit message, with the limit Slack holds it to.
fn slack_texts(body: &Value) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for block in body["blocks"].as_array().expect("blocks") {
        match block["type"].as_str() {
            Some("header") => {
                out.push((150, block["text"]["text"].as_str().expect("t").to_owned()))
            }
            Some("section") => {
                if let Some(text) = block["text"]["text"].as_str() {
                    out.push((3000, text.to_owned()));
                }
                for field in block["fields"].as_array().into_iter().flatten() {
                    out.push((2000, field["text"].as_str().expect("t").to_owned()));
                }
                assert!(block["fields"].as_array().is_none_or(|f| f.len() <= 10));
            }
            Some("context") => {
                for element in block["elements"].as_array().expect("elements") {
                    out.push((3000, element["text"].as_str().expect("t").to_owned()));
                }
            }
            other => panic!("unexpected block {other:?}"),
        }
    }
    out
}

#[test]
fn slack_stays_within_block_kit_limits_with_500_items() {
    let mut msg = started();
    msg.channel = Channel::Slack;
    msg.content.title = "T".repeat(400);
    msg.content.items = (0..500)
        .map(|i| {
            item(
                &format!("user{i:03}@corp.example"),
                &format!("User Number {i:03}"),
                Some(Decision::Deny),
                "no sign-in for 94 days",
            )
        })
        .collect();
    msg.content.reviewers = (0..500)
        .map(|i| ReviewerFact {
            id: format!("u-{i}"),
            name: Some(format!("reviewer{i}@corp.example")),
            display_name: None,
            pending: 1,
        })
        .collect();
    let body = slack(&msg);
    let blocks = body["blocks"].as_array().expect("blocks");
    assert!(blocks.len() <= 50, "{} blocks", blocks.len());
    for (max, text) in slack_texts(&body) {
        assert!(!text.is_empty());
        assert!(
            text.chars().count() <= max,
            "{} > {max}",
            text.chars().count()
        );
    }
    let all = body.to_string();
    assert!(all.contains("user000@corp.example"));
    assert!(
        all.contains("more_"),
        "a shortened list says how many are not shown"
    );
    assert!(!all.contains("user499@corp.example"));
    // The text e-mail names every item.
    let mail = email(&msg);
    assert!(mail.text.contains("user499@corp.example"));

    // Nothing to list still makes a message Slack accepts.
    let mut empty = started();
    empty.content.items.clear();
    for (_, text) in slack_texts(&slack(&empty)) {
        assert!(!text.is_empty());
    }

    // More facts, lists and paragraphs than 50 blocks hold: the last block says so.
    let mut many = applied();
    many.channel = Channel::Slack;
    let a = many.content.applied.as_mut().expect("applied");
    a.items = (0..60)
        .map(|i| applied_item(&format!("p{i}"), &format!("result{i}"), Some("why")))
        .collect();
    many.content.description = Some("d".to_owned());
    let body = slack(&many);
    let blocks = body["blocks"].as_array().expect("blocks");
    assert!(blocks.len() <= 50);
    slack_texts(&body);
}

#[test]
fn teams_lists_at_most_50_entries_and_says_how_many_more() {
    let mut msg = channel_started(Channel::Teams);
    msg.content.reviewers = (0..120)
        .map(|i| ReviewerFact {
            id: format!("u-{i}"),
            name: Some(format!("reviewer{i}@corp.example")),
            display_name: None,
            pending: 1,
        })
        .collect();
    let text = teams(&msg).to_string();
    assert!(text.contains("reviewer49@corp.example"));
    assert!(!text.contains("reviewer50@corp.example"));
    assert!(text.contains("… and 70 more"));
}

#[test]
fn an_apply_that_left_access_in_place_says_so_in_the_subject_and_first() {
    let mail = email(&applied());
    assert!(mail.subject.contains("2 NOT removed"), "{}", mail.subject);
    let alert = mail
        .text
        .find("IMPORTANT: 2 items denied were NOT removed")
        .expect("alert");
    let failed = mail.text.find("mallory@corp.example").expect("failed item");
    let unsupported = mail
        .text
        .find("g-finance-admins")
        .expect("unsupported item");
    let removed = mail.text.find("Removed (1)").expect("removed heading");
    assert!(alert < failed && failed < removed && unsupported < removed);
    assert!(mail.text.contains("Insufficient privileges"));
    assert!(mail.text.contains("synced from on-premises"));

    let stopped = email(&blocked());
    assert!(stopped.subject.contains("BLOCKED"));
    assert!(stopped.text.contains("IMPORTANT: Nothing was removed"));
    assert!(stopped.text.contains("minRemainingAssignments"));
    let slack = slack(&blocked()).to_string();
    assert!(slack.contains(":warning: *Nothing was removed"));
}

/// A manifests folder with the example directory and the review the fixtures are about.
fn manifests() -> tempfile::TempDir {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let dir = tempfile::tempdir().expect("temp dir");
    for file in [
        "directory.yaml",
        "corp-directory.yaml",
        "reviews/privileged-role-admins-manager.yaml",
    ] {
        let to = dir.path().join(file);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(root.join(file), to).expect("copy example");
    }
    dir
}

fn load_errors(dir: &Path) -> Vec<String> {
    let loaded = crate::load::load_with_directory_data(
        &[dir.to_path_buf()],
        &crate::load::Options::default(),
        &crate::load::SchemaSet::new(),
    );
    loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == crate::diag::Severity::Error)
        .map(|d| format!("{d:?}"))
        .collect()
}

#[test]
fn the_decisions_snippet_filled_in_is_a_valid_review_decisions_and_unfilled_is_not() {
    let msg = started();
    let how = msg.content.how_to_decide.clone().expect("how to decide");
    let snippet = decisions_snippet(&msg, &how);
    let dir = manifests();
    assert_eq!(
        load_errors(dir.path()),
        Vec::<String>::new(),
        "the fixture loads"
    );
    let file = dir.path().join(&how.file);
    std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");

    // As pasted: nothing is decided, and validation says so instead of guessing.
    std::fs::write(&file, &snippet).expect("write");
    let errors = load_errors(dir.path());
    assert!(
        errors
            .iter()
            .all(|e| e.contains("decision") || e.contains("reason"))
            && errors
                .iter()
                .any(|e| e.contains("spec.decisions[0].decision"))
            && errors
                .iter()
                .any(|e| e.contains("spec.decisions[1].decision")),
        "{errors:#?}"
    );

    // Filled in as the comments ask, it is valid against the real review and directory.
    let filled = snippet
        .replacen("decision:   #", "decision: approve   #", 1)
        .replacen("decision:   #", "decision: deny   #", 1)
        .replace("reason:     #", "reason: Checked with the team   #");
    std::fs::write(&file, &filled).expect("write");
    assert_eq!(load_errors(dir.path()), Vec::<String>::new(), "{filled}");
    // The check is against the real review: Carol may not decide for someone outside her team.
    let outsider = filled.replace("heidi@corp.example", "mallory@corp.example");
    std::fs::write(&file, &outsider).expect("write");
    assert!(!load_errors(dir.path()).is_empty(), "{outsider}");
    std::fs::write(&file, &filled).expect("write");
    let loaded = crate::load::load(
        std::slice::from_ref(&file),
        &crate::load::Options::default(),
        &crate::load::SchemaSet::new(),
    );
    let spec = loaded
        .docs
        .iter()
        .find_map(|d| match &d.resource {
            crate::model::Resource::ReviewDecisions(r) => Some(r.spec.clone()),
            _ => None,
        })
        .expect("a ReviewDecisions");
    assert_eq!(spec.review, "privileged-role-admins-manager");
    assert_eq!(spec.reviewer, "carol@corp.example");
    let decided: Vec<(Option<&str>, Decision, Option<&str>)> = spec
        .decisions
        .iter()
        .map(|d| (d.principal.as_deref(), d.decision, d.instance.as_deref()))
        .collect();
    assert_eq!(
        decided,
        [
            (
                Some("grace@corp.example"),
                Decision::Approve,
                Some("2026-12-01")
            ),
            (
                Some("heidi@corp.example"),
                Decision::Deny,
                Some("2026-12-01")
            ),
        ]
    );
}

#[test]
fn the_decisions_snippet_quotes_names_yaml_would_misread() {
    let mut msg = started();
    msg.content.items = vec![
        item(
            "yes",
            "Yes: the # user\nsecond line",
            Some(Decision::Deny),
            "reason\nwith a break",
        ),
        item("2026-12-01", "A date", None, ""),
    ];
    let how = msg.content.how_to_decide.clone().expect("how");
    let snippet = decisions_snippet(&msg, &how);
    let parsed = crate::yaml::parse(&snippet);
    assert!(parsed.errors.is_empty(), "{snippet}");
    let decisions = parsed.documents[0]
        .root
        .get("spec")
        .and_then(|s| s.get("decisions"))
        .expect("decisions");
    let names: Vec<String> = match &decisions.value {
        crate::yaml::NodeValue::Seq(items) => items
            .iter()
            .map(|i| {
                i.get("principal")
                    .and_then(|p| p.as_str())
                    .expect("str")
                    .to_owned()
            })
            .collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(names, ["yes", "2026-12-01"]);
}

#[test]
fn the_decide_command_quotes_what_the_shell_would_read() {
    let mut msg = started();
    msg.content.items[0].name = "o'brien$HOME@corp.example".to_owned();
    let how = how();
    let command = decide_command(&msg, &how, &msg.content.items[0]);
    assert_eq!(
        command,
        "recert decide privileged-role-admins-manager --reviewer carol@corp.example \
         --principal 'o'\\''brien$HOME@corp.example' --approve --reason \"…\""
    );
    let command = decide_command(&msg, &how, &msg.content.items[1]);
    assert!(command.contains("--principal heidi@corp.example --deny"));
}

#[test]
fn webhook_bodies_for_every_event_validate_against_the_schema() {
    let schema = crate::notify::event::schema();
    let validator = jsonschema::draft7::new(&schema).expect("a valid schema");
    for (name, msg) in every_message() {
        let body = webhook_event(&msg);
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        assert_eq!(body["version"], "recert.dev/v1");
        assert_eq!(body["id"], msg.id.as_str());
    }
    // The schema ties the type to its data: an ended event without its outcome is invalid.
    let mut body = webhook_event(&ended());
    body["data"]
        .as_object_mut()
        .expect("data")
        .remove("outcome");
    assert!(!validator.is_valid(&body));
}

#[test]
fn rendering_is_deterministic() {
    for (_, msg) in every_message() {
        assert_eq!(email(&msg), email(&msg));
        assert_eq!(slack(&msg), slack(&msg));
        assert_eq!(teams(&msg), teams(&msg));
        assert_eq!(webhook_event(&msg), webhook_event(&msg));
    }
}

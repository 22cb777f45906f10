//! What each event tells each recipient, as a channel-neutral [`Doc`].

use crate::model::API_VERSION;
use crate::model::decisions::Decision;
use crate::model::review::{NotificationEvent, Timestamp};
use crate::notify::message::{
    AppliedFacts, AppliedItem, HowToDecide, ItemFact, Message, Outcome, RecipientRole, ReviewerFact,
};
use crate::yaml::write::yaml_scalar;

use super::doc::{Block, Doc, Entry, one_line, safe_link};

/// The document a message renders from.
pub fn compose(msg: &Message) -> Doc {
    match msg.event {
        NotificationEvent::InstanceStarted
        | NotificationEvent::StageStarted
        | NotificationEvent::Reminder
        | NotificationEvent::Escalated => {
            if msg.to.role == RecipientRole::Reviewer || !msg.content.items.is_empty() {
                to_reviewer(msg)
            } else {
                overview(msg)
            }
        }
        NotificationEvent::InstanceEnded => ended(msg),
        NotificationEvent::Applied => applied(msg),
    }
}

/// Started or reminder, to a reviewer: their undecided items and how to decide them.
fn to_reviewer(msg: &Message) -> Doc {
    let c = &msg.content;
    let title = one_line(&c.title);
    let n = c.items.len();
    let reminder = msg.event == NotificationEvent::Reminder;
    let escalated = msg.event == NotificationEvent::Escalated;
    let (subject, lead) = if escalated {
        (
            format!(
                "Escalated to you: {title} — {} undecided, due {}",
                count(n, "item"),
                date(&c.due)
            ),
            format!(
                "The access review “{}”, which reviews who holds {}, has {} still undecided \
                 by its reviewers, which now {} to you as well. Please decide {} by {}.",
                c.title,
                c.target,
                count(n, "item"),
                if n == 1 { "goes" } else { "go" },
                if n == 1 { "it" } else { "them" },
                date_time(&c.due)
            ),
        )
    } else if reminder {
        (
            format!(
                "Reminder: {title} — {} still undecided, due {}",
                count(n, "item"),
                date(&c.due)
            ),
            format!(
                "This is a reminder: you still have {} undecided in the access review “{}”, \
                 which reviews who holds {}. Please decide {} by {}.",
                count(n, "item"),
                c.title,
                c.target,
                if n == 1 { "it" } else { "them" },
                date_time(&c.due)
            ),
        )
    } else {
        (
            format!(
                "Access review: {title} — {} to review by {}",
                count(n, "item"),
                date(&c.due)
            ),
            format!(
                "You are a reviewer in the access review “{}”, which reviews who holds {}. \
                 You have {} to decide by {}.",
                c.title,
                c.target,
                count(n, "item"),
                date_time(&c.due)
            ),
        )
    };
    let mut blocks = greeting(msg);
    blocks.push(Block::Paragraph(lead));
    blocks.extend(review_texts(msg));
    blocks.push(Block::Heading(if reminder || escalated {
        format!("Still undecided ({n})")
    } else {
        format!("Your items ({n})")
    }));
    blocks.push(Block::List(c.items.iter().map(item_entry).collect()));
    if let Some(how) = &c.how_to_decide {
        blocks.extend(how_to_decide(msg, how));
    }
    Doc {
        summary: subject.clone(),
        subject,
        link: safe_link(c.link.as_deref()),
        blocks,
        footer: footer(msg),
    }
}

/// Started or reminder, to a channel (or anyone without items): who still has to decide.
fn overview(msg: &Message) -> Doc {
    let c = &msg.content;
    let title = one_line(&c.title);
    let reviewers = c.reviewers.len();
    let (subject, lead) = if msg.event == NotificationEvent::Escalated {
        (
            format!(
                "Escalated: {title} — undecided items went to {}, due {}",
                count(reviewers, "reviewer"),
                date(&c.due)
            ),
            format!(
                "The access review “{}” ({}) is due {}. Its undecided items were escalated: \
                 {} now {} them as well.",
                c.title,
                c.target,
                date_time(&c.due),
                capitalise(&count(reviewers, "reviewer")),
                if reviewers == 1 { "has" } else { "have" }
            ),
        )
    } else if msg.event == NotificationEvent::Reminder {
        (
            format!(
                "Reminder: {title} — {} with undecided items, due {}",
                count(reviewers, "reviewer"),
                date(&c.due)
            ),
            format!(
                "The access review “{}” ({}) is due {}. {} still {} undecided items.",
                c.title,
                c.target,
                date_time(&c.due),
                capitalise(&count(reviewers, "reviewer")),
                if reviewers == 1 { "has" } else { "have" }
            ),
        )
    } else {
        (
            format!(
                "Access review started: {title} — {} to review by {}",
                count(c.total as usize, "item"),
                date(&c.due)
            ),
            format!(
                "The access review “{}” started on {}: it reviews who holds {}, {} for {} \
                 to decide by {}.",
                c.title,
                date_time(&c.start),
                c.target,
                count(c.total as usize, "item"),
                count(reviewers, "reviewer"),
                date_time(&c.due)
            ),
        )
    };
    let mut blocks = greeting(msg);
    blocks.push(Block::Paragraph(lead));
    blocks.extend(review_texts(msg));
    if !c.reviewers.is_empty() {
        blocks.push(Block::Heading(format!(
            "Reviewers with undecided items ({reviewers})"
        )));
        blocks.push(Block::List(
            c.reviewers.iter().map(reviewer_entry).collect(),
        ));
    }
    Doc {
        summary: subject.clone(),
        subject,
        link: safe_link(c.link.as_deref()),
        blocks,
        footer: footer(msg),
    }
}

/// Instance ended, to owners and additional recipients: the counts and what happens next.
fn ended(msg: &Message) -> Doc {
    let c = &msg.content;
    let title = one_line(&c.title);
    let Some(o) = &c.outcome else {
        return bare(msg, format!("Access review ended: {title}"));
    };
    let verb = match o.reason.as_str() {
        "completed" => "ended",
        "stopped" => "stopped",
        "deleted" => "deleted",
        _ => "ended",
    };
    let subject = format!(
        "Access review {verb}: {title} — {} approved, {} denied, {} undecided",
        o.approved, o.denied, o.undecided
    );
    let how = match o.reason.as_str() {
        "completed" => "ended on its due date".to_owned(),
        "stopped" => "was stopped before its due date".to_owned(),
        "deleted" => "was deleted".to_owned(),
        other => format!("ended ({other})"),
    };
    let mut blocks = greeting(msg);
    blocks.extend([
        Block::Paragraph(format!(
            "The access review “{}”, which reviews who holds {}, {} ({}). It started on {} \
             with {}.",
            c.title,
            c.target,
            how,
            date_time(&o.ended),
            date_time(&c.start),
            count(c.total as usize, "item")
        )),
        Block::Heading("Decisions".to_owned()),
        Block::Facts(outcome_facts(o)),
        Block::Paragraph(default_words(o)),
        Block::Paragraph(apply_words(o)),
    ]);
    Doc {
        summary: subject.clone(),
        subject,
        link: safe_link(c.link.as_deref()),
        blocks,
        footer: footer(msg),
    }
}

fn outcome_facts(o: &Outcome) -> Vec<(String, String)> {
    let mut facts = vec![
        ("Approved".to_owned(), o.approved.to_string()),
        ("Denied".to_owned(), o.denied.to_string()),
        ("Don't know".to_owned(), o.dont_know.to_string()),
        ("Undecided".to_owned(), o.undecided.to_string()),
    ];
    if o.default_decision != "none" {
        facts.push((
            format!("Decided by the default decision ({})", o.default_decision),
            o.defaulted.to_string(),
        ));
    }
    facts
}

fn default_words(o: &Outcome) -> String {
    match (o.default_decision.as_str(), o.defaulted) {
        ("none", _) if o.undecided == 0 => {
            "Every item was decided; the review has no default decision.".to_owned()
        }
        ("none", _) if o.undecided == 1 => {
            "The review has no default decision: the undecided item keeps its access.".to_owned()
        }
        ("none", _) => format!(
            "The review has no default decision: the {} undecided items keep their access.",
            o.undecided
        ),
        (default, 0) => {
            format!(
                "The default decision ({default}) had nothing to decide: no item was left undecided by the reviewers."
            )
        }
        ("recommendation", n) => format!(
            "The default decision took the recommendation for {} no reviewer decided.",
            count(n as usize, "item")
        ),
        (default, n) => format!(
            "The default decision ({default}) decided {} no reviewer decided.",
            count(n as usize, "item")
        ),
    }
}

fn apply_words(o: &Outcome) -> String {
    if o.auto_apply {
        "Results are applied automatically: denied access is removed next, and you will be told \
         what the apply did, item by item."
            .to_owned()
    } else if o.denied > 0 {
        "Results are not applied automatically: denied access stays in place until an owner asks \
         for the apply (a new `requests.apply` token in the review's manifest; `recert plan` \
         previews the removals)."
            .to_owned()
    } else {
        "No access was denied: applying the results would remove nothing.".to_owned()
    }
}

/// Applied, to owners: every item's result, what was not removed first and prominently.
fn applied(msg: &Message) -> Doc {
    let c = &msg.content;
    let title = one_line(&c.title);
    let Some(a) = &c.applied else {
        return bare(msg, format!("Access review applied: {title}"));
    };
    let not_done = a.not_supported + a.failed;
    let subject = if a.blocked.is_some() {
        format!("Access review apply BLOCKED: {title} — nothing was removed")
    } else if not_done > 0 {
        format!(
            "Access review applied: {title} — {} removed, {not_done} NOT removed",
            a.removed
        )
    } else {
        format!("Access review applied: {title} — {} removed", a.removed)
    };
    let mut blocks = greeting(msg);
    if let Some(why) = &a.blocked {
        blocks.push(Block::Alert(format!(
            "Nothing was removed: a guard stopped the apply before any change, and every denied \
             access is still in place. Why: {why}"
        )));
    }
    if not_done > 0 {
        blocks.push(Block::Alert(format!(
            "{} denied {} NOT removed: the access is still in place. Each one is listed below \
             with the reason; remove it by hand, or fix the cause and apply again.",
            count(not_done as usize, "item"),
            if not_done == 1 { "was" } else { "were" }
        )));
    }
    if a.blocked.is_some() {
        blocks.push(Block::Paragraph(format!(
            "The results of the access review “{}” ({}), instance {}, were not applied. \
             Check the guard and the denials (`recert plan` shows what an apply would remove).",
            c.title, c.target, msg.instance
        )));
    } else {
        blocks.push(Block::Paragraph(format!(
            "The results of the access review “{}” ({}), instance {}, were applied.",
            c.title, c.target, msg.instance
        )));
        blocks.push(Block::Facts(applied_facts(a)));
    }
    for (result, heading) in RESULTS {
        let items: Vec<&AppliedItem> = a.items.iter().filter(|i| i.result == result).collect();
        if !items.is_empty() {
            blocks.push(Block::Heading(format!("{heading} ({})", items.len())));
            blocks.push(Block::List(items.into_iter().map(applied_entry).collect()));
        }
    }
    let other: Vec<&AppliedItem> = a
        .items
        .iter()
        .filter(|i| !RESULTS.iter().any(|(r, _)| *r == i.result))
        .collect();
    if !other.is_empty() {
        blocks.push(Block::Heading(format!("Other results ({})", other.len())));
        blocks.push(Block::List(other.into_iter().map(applied_entry).collect()));
    }
    Doc {
        summary: subject.clone(),
        subject,
        link: safe_link(c.link.as_deref()),
        blocks,
        footer: footer(msg),
    }
}

/// Apply results in the order they are listed: what was not carried out first.
const RESULTS: [(&str, &str); 5] = [
    ("failed", "Failed — NOT removed"),
    ("notSupported", "Not supported — NOT removed"),
    ("protected", "Protected — kept by a guard"),
    ("notFound", "Already gone"),
    ("applied", "Removed"),
];

fn applied_facts(a: &AppliedFacts) -> Vec<(String, String)> {
    vec![
        ("Removed".to_owned(), a.removed.to_string()),
        ("Failed (NOT removed)".to_owned(), a.failed.to_string()),
        (
            "Not supported (NOT removed)".to_owned(),
            a.not_supported.to_string(),
        ),
        ("Protected (kept)".to_owned(), a.protected.to_string()),
        ("Already gone".to_owned(), a.not_found.to_string()),
    ]
}

fn applied_entry(item: &AppliedItem) -> Entry {
    let mut details = Vec::new();
    if item.principal != item.name {
        details.push(("Id".to_owned(), item.principal.clone()));
    }
    if let Some(detail) = &item.detail {
        details.push(("Why".to_owned(), detail.clone()));
    }
    Entry {
        title: principal_title(&item.name, item.display_name.as_deref()),
        details,
    }
}

/// An ended or applied message whose facts are missing: say what happened, no more.
fn bare(msg: &Message, subject: String) -> Doc {
    let mut blocks = greeting(msg);
    blocks.push(Block::Paragraph(format!(
        "The access review “{}” ({}), instance {}: {}.",
        msg.content.title,
        msg.content.target,
        msg.instance,
        crate::notify::message::event_name(msg.event)
    )));
    Doc {
        summary: subject.clone(),
        subject,
        link: safe_link(msg.content.link.as_deref()),
        blocks,
        footer: footer(msg),
    }
}

/// Ways to decide: the decisions file with a snippet to paste, and `recert decide`.
fn how_to_decide(msg: &Message, how: &HowToDecide) -> Vec<Block> {
    let items = &msg.content.items;
    let reason = if how.reason_required {
        "This review requires a reason for every decision."
    } else {
        "A reason is optional."
    };
    let mut blocks = vec![
        Block::Heading("How to decide".to_owned()),
        Block::Paragraph(format!(
            "Decide each item: approve keeps the access, deny removes it when the results are \
             applied, dontKnow keeps it. {reason}"
        )),
        Block::Paragraph(format!(
            "1. In the repository, create or edit {} (in the manifests folder) and open a pull \
             request. Paste the entries below and fill in each `decision:` with approve, deny \
             or dontKnow{}. If the file already exists, add the entries under its `decisions:`.",
            how.file,
            if how.reason_required {
                ", and each `reason:`"
            } else {
                ""
            }
        )),
        Block::Code(decisions_snippet(msg, how)),
    ];
    if let Some(first) = items.first() {
        blocks.push(Block::Paragraph(format!(
            "2. Or, from the manifests folder of a checkout, let `recert decide` write the file \
             for you, one item at a time: use --approve, --deny or --dont-know{}{}",
            if how.reason_required {
                ", with your reason"
            } else {
                ""
            },
            if items.len() > 1 {
                ", and --principal for each item. For the first one:"
            } else {
                ":"
            }
        )));
        blocks.push(Block::Code(decide_command(msg, how, first)));
    }
    blocks
}

/// A `ReviewDecisions` document listing the items with `decision:` left empty: pasted as it
/// is it fails validation instead of deciding anything, and once filled in it is valid. The
/// recommendation is a comment, so that nobody records it without choosing it.
pub fn decisions_snippet(msg: &Message, how: &HowToDecide) -> String {
    snippet_of(&msg.review, &msg.instance, &msg.content.items, how)
}

/// [`decisions_snippet`] for `items` of a review's instance (the reviewer page's read-only
/// mode shows the same snippet as the e-mail).
pub fn snippet_of(review: &str, instance: &str, items: &[ItemFact], how: &HowToDecide) -> String {
    let mut out = format!(
        "apiVersion: {API_VERSION}\nkind: ReviewDecisions\nmetadata:\n  name: {}\nspec:\n  \
         review: {}\n  reviewer: {}\n  decisions:\n",
        yaml_scalar(&how.document_name),
        yaml_scalar(review),
        yaml_scalar(&how.reviewer),
    );
    for item in items {
        out.push_str("    - principal: ");
        out.push_str(&yaml_scalar(&item.name));
        if let Some(display) = &item.display_name {
            out.push_str("  # ");
            out.push_str(&one_line(display));
        }
        out.push_str("\n      instance: ");
        out.push_str(&yaml_scalar(instance));
        out.push_str("\n      decision:   # ");
        match item.recommendation {
            Some(decision) => {
                out.push_str("recommended: ");
                out.push_str(decision.as_str());
                if !item.recommendation_reason.is_empty() {
                    out.push_str(" (");
                    out.push_str(&one_line(&item.recommendation_reason));
                    out.push(')');
                }
            }
            None => out.push_str("approve, deny or dontKnow"),
        }
        if how.reason_required {
            out.push_str("\n      reason:     # required");
        } else {
            out.push_str("\n      # reason: optional");
        }
        out.push('\n');
    }
    out
}

/// The `recert decide` command for one item, quoted for a POSIX shell. The decision shown is
/// the recommendation (approve when there is none); the text around it says to choose.
pub fn decide_command(msg: &Message, how: &HowToDecide, item: &ItemFact) -> String {
    command_of(&msg.review, how, item)
}

/// [`decide_command`] for an item of `review`.
pub fn command_of(review: &str, how: &HowToDecide, item: &ItemFact) -> String {
    let flag = match item.recommendation {
        Some(Decision::Deny) => "--deny",
        Some(Decision::DontKnow) => "--dont-know",
        Some(Decision::Approve) | None => "--approve",
    };
    let mut command = format!(
        "recert decide {} --reviewer {} --principal {} {flag}",
        shell_word(review),
        shell_word(&how.reviewer),
        shell_word(&item.name)
    );
    if how.reason_required {
        command.push_str(" --reason \"…\"");
    }
    command
}

/// `word` as one POSIX shell word: bare when it holds nothing the shell reads, else in single
/// quotes (which quote everything but a single quote, written `'\''`).
fn shell_word(word: &str) -> String {
    let bare = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c));
    if bare {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn item_entry(item: &ItemFact) -> Entry {
    let mut details = vec![
        ("Kind".to_owned(), kind_words(&item.kind)),
        ("Access".to_owned(), item.access.clone()),
    ];
    if let Some(decision) = item.recommendation {
        let why = if item.recommendation_reason.is_empty() {
            decision.to_string()
        } else {
            format!("{decision} — {}", item.recommendation_reason)
        };
        details.push(("Recommended".to_owned(), why));
    }
    for earlier in &item.previous_stage_decisions {
        details.push(("Earlier stage".to_owned(), one_line(earlier)));
    }
    Entry {
        title: principal_title(&item.name, item.display_name.as_deref()),
        details,
    }
}

fn reviewer_entry(reviewer: &ReviewerFact) -> Entry {
    let name = reviewer.name.as_deref().unwrap_or(&reviewer.id);
    Entry {
        title: principal_title(name, reviewer.display_name.as_deref()),
        details: vec![("Undecided".to_owned(), reviewer.pending.to_string())],
    }
}

/// `Display Name (name)`, or the name alone.
fn principal_title(name: &str, display: Option<&str>) -> String {
    match display {
        Some(display) if !display.is_empty() && display != name => format!("{display} ({name})"),
        _ => name.to_owned(),
    }
}

fn kind_words(kind: &str) -> String {
    match kind {
        "servicePrincipal" => "service principal".to_owned(),
        other => other.to_owned(),
    }
}

/// The opening line, as the start of the blocks (none for a channel).
fn greeting(msg: &Message) -> Vec<Block> {
    let text = match (msg.to.role, msg.to.name.as_deref()) {
        (RecipientRole::Channel, _) => return Vec::new(),
        (_, Some(name)) if !name.trim().is_empty() => format!("Hello {},", one_line(name)),
        _ => "Hello,".to_owned(),
    };
    vec![Block::Paragraph(text)]
}

/// The review's description and the additional content its owners wrote for recipients.
fn review_texts(msg: &Message) -> Vec<Block> {
    let c = &msg.content;
    [c.description.as_deref(), c.additional_content.as_deref()]
        .into_iter()
        .flatten()
        .filter(|t| !t.trim().is_empty())
        .map(|t| Block::Paragraph(t.trim().to_owned()))
        .collect()
}

fn footer(msg: &Message) -> String {
    let why = match msg.to.role {
        RecipientRole::Reviewer => "you are a reviewer in",
        RecipientRole::Owner => "you own",
        RecipientRole::Additional => "you are named as a recipient of",
        RecipientRole::Channel => "this channel is notified by",
    };
    format!(
        "Sent by Recert because {why} the access review {} (instance {}). Message {}.",
        msg.review, msg.instance, msg.id
    )
}

/// `1 item`, `3 items`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `2026-12-15`, in UTC.
pub fn date(ts: &Timestamp) -> String {
    ts.0.strftime("%Y-%m-%d").to_string()
}

/// `Tuesday 15 December 2026, 09:00 UTC`.
pub fn date_time(ts: &Timestamp) -> String {
    ts.0.strftime("%A %-d %B %Y, %H:%M UTC").to_string()
}

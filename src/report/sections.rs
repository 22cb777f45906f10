//! The report's sections, one function each, from the state and the trail's check.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::directory::{Principal, Removal};
use crate::model::directory_data::AssignmentType;
use crate::model::review::{AssignmentFilter, DefaultDecision, ReviewerType};
use crate::reconcile::{InstanceNames, allowed_reviewers_in};
use crate::state::{
    ApplyResult, EndReason, EntryStatus, Instance, ItemState, Remediation, ReviewState,
};
use crate::status::decision_name;

use super::html::{Html, escape, facts, para, table};
use super::{Evidence, Section};

/// The title, and what the report is of.
pub fn heading(e: &Evidence<'_>) -> String {
    let (state, instance) = (e.state, e.instance);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<h1>{}</h1>\n<p class=\"subtitle\">Access review evidence: review <code>{}</code>, instance <code>{}</code></p>",
        escape(&state.spec.display_name),
        escape(&state.name),
        escape(&instance.id)
    );
    let ended = match &instance.ended {
        Some(ended) => format!("{} ({})", ended.at, end_reason(ended.reason)),
        None => "not yet: the instance is in progress".to_owned(),
    };
    let mut list = vec![
        ("Review manifest", Html::code(&state.source)),
        ("Instance", Html::text(&instance.id)),
        ("Started", Html::text(&instance.start.to_string())),
        ("Due to end", Html::text(&instance.end.to_string())),
        ("Ended", Html::text(&ended)),
    ];
    if let Some(description) = &state.spec.description {
        list.push(("Description", Html::text(description)));
    }
    facts(&mut out, list);
    out
}

fn end_reason(reason: EndReason) -> &'static str {
    match reason {
        EndReason::Completed => "completed on its end date",
        EndReason::Stopped => "stopped early by a request",
        EndReason::Deleted => "its manifest was deleted",
    }
}

fn principal_type(p: &Principal) -> &'static str {
    match p {
        Principal::User(_) => "user",
        Principal::Group(_) => "group",
        Principal::ServicePrincipal(_) => "service principal",
    }
}

fn principal_cell(id: &str, item: &ItemState) -> Html {
    let mut html = Html::text(item.principal.display_name());
    let upn = match &item.principal {
        Principal::User(u) if u.user_principal_name != item.principal.display_name() => {
            Some(u.user_principal_name.as_str())
        }
        _ => None,
    };
    let _ = write!(
        html.0,
        "<br><code>{}</code>{} ({})",
        escape(id),
        upn.map(|u| format!(" {}", escape(u))).unwrap_or_default(),
        principal_type(&item.principal)
    );
    html
}

fn access_cell(item: &ItemState) -> Html {
    let lines: Vec<String> = item
        .access
        .iter()
        .map(|a| {
            let mut line = a.removal.to_string();
            if let Some(via) = &a.via {
                let _ = write!(line, " via group {via}");
            }
            if let Some(why) = &a.not_supported {
                let _ = write!(line, " (cannot be removed by a review: {why})");
            }
            line
        })
        .collect();
    Html::lines(lines.iter().map(String::as_str))
}

/// Scope and population at launch: what was read, from where and when, and how much.
pub fn population(e: &Evidence<'_>) -> Option<Section> {
    let (spec, instance) = (&e.state.spec, e.instance);
    let scope = &spec.scope;
    let object = |r: &crate::model::review::ObjectRef| match (&r.id, &r.name) {
        (Some(id), Some(name)) => format!("{name} ({id})"),
        (Some(id), None) => id.clone(),
        (None, Some(name)) => name.clone(),
        (None, None) => String::new(),
    };
    let what = match (&scope.role, &scope.group) {
        (Some(role), _) => format!("role {}", object(role)),
        (None, Some(group)) => format!("members of group {}", object(group)),
        (None, None) => "nothing named".to_owned(),
    };
    let assignments = match scope.assignments {
        AssignmentFilter::Active => "active assignments only",
        AssignmentFilter::Eligible => "eligible assignments only",
        AssignmentFilter::All => "active and eligible assignments",
    };
    let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut active, mut eligible, mut members, mut via_group, mut not_removable) = (0, 0, 0, 0, 0);
    for item in instance.items.values() {
        *by_type.entry(principal_type(&item.principal)).or_default() += 1;
        for access in &item.access {
            match &access.removal {
                Removal::Assignment {
                    kind: AssignmentType::Active,
                    ..
                } => active += 1,
                Removal::Assignment {
                    kind: AssignmentType::Eligible,
                    ..
                } => eligible += 1,
                Removal::GroupMember { .. } => members += 1,
            }
            via_group += usize::from(access.via.is_some());
            not_removable += usize::from(access.not_supported.is_some());
        }
    }
    let principals = by_type
        .iter()
        .map(|(kind, n)| format!("{n} {kind}{}", if *n == 1 { "" } else { "s" }))
        .collect::<Vec<_>>()
        .join(", ");
    let mut body = String::new();
    facts(
        &mut body,
        vec![
            ("Directory", Html::code(&spec.directory)),
            ("Reviewed", Html::text(&what)),
            ("As the snapshot names it", Html::text(&instance.target)),
            ("Assignments", Html::text(assignments)),
            (
                "Resource scope",
                Html::text(
                    scope
                        .resource_scope
                        .as_deref()
                        .unwrap_or("the whole directory (/)"),
                ),
            ),
            (
                "Groups holding the access",
                Html::text(if scope.expand_groups {
                    "expanded: their members are reviewed one by one"
                } else {
                    "reviewed as groups"
                }),
            ),
            ("Snapshot taken", Html::text(&instance.start.to_string())),
            ("Items", Html::text(&instance.items.len().to_string())),
            (
                "Principals",
                Html::text(if principals.is_empty() {
                    "none"
                } else {
                    &principals
                }),
            ),
            (
                "Access held",
                Html::text(&format!(
                    "{active} active assignments, {eligible} eligible assignments, {members} group memberships; {via_group} through a group, {not_removable} that a review cannot remove"
                )),
            ),
        ],
    );
    para(
        &mut body,
        "The items below are the population as read from the directory when the instance started. The state holds that snapshot; the audit trail records the start with the number of items, and the digest of every state written since, so an edit made outside Recert shows when the trail is verified.",
    );
    Some(Section {
        id: "population",
        title: "Scope and population at launch",
        body,
    })
}

/// The names the state knows for an id (user principal names, names in the manifests).
fn names_of(state: &ReviewState, id: &str) -> Vec<String> {
    let mut names: BTreeSet<String> = state
        .known
        .iter()
        .filter(|(name, known)| known.as_str() == id && name.as_str() != id)
        .map(|(name, _)| name.clone())
        .collect();
    for instance in &state.instances {
        if let Some(item) = instance.items.get(id) {
            names.insert(item.principal.display_name().to_owned());
        }
    }
    names.into_iter().collect()
}

fn is_self_decision(id: &str, item: &ItemState) -> bool {
    item.decision
        .as_ref()
        .is_some_and(|d| !d.by_system && d.reviewer == id)
}

/// Who reviews, with fallbacks, how much each decided, and every decision made on oneself.
pub fn reviewers(e: &Evidence<'_>) -> Option<Section> {
    let (state, instance) = (e.state, e.instance);
    let spec = &state.spec;
    let mut body = String::new();
    let kind = match spec.reviewers.kind {
        ReviewerType::SelfReview => {
            "self-review: each principal decides on their own access (every decision below is a self-review)"
        }
        ReviewerType::Users => "named users decide on every item",
        ReviewerType::Manager => "each principal's manager decides",
    };
    let list = |names: &[String]| {
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    };
    facts(
        &mut body,
        vec![
            ("Reviewers", Html::text(kind)),
            ("Named reviewers", Html::text(&list(&spec.reviewers.users))),
            (
                "Fallback reviewers",
                Html::text(&list(&spec.fallback_reviewers)),
            ),
            ("Owners", Html::text(&list(&spec.owners))),
        ],
    );
    let names = InstanceNames::of(state, Some(instance));
    let mut progress: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    for item in instance.items.values() {
        for reviewer in allowed_reviewers_in(&names, item) {
            let entry = progress.entry(reviewer).or_default();
            entry.0 += 1;
        }
        if let Some(d) = item.decision.as_ref().filter(|d| !d.by_system) {
            let entry = progress.entry(d.reviewer.clone()).or_default();
            entry.1 += 1;
            entry.2 += usize::from(is_self_decision(item.principal.id(), item));
        }
    }
    let rows = progress
        .iter()
        .map(|(reviewer, (may, decided, own))| {
            let mut who = Html::code(reviewer);
            let known = names_of(state, reviewer);
            if !known.is_empty() {
                let _ = write!(who.0, "<br>{}", escape(&known.join(", ")));
            }
            let own = if *own > 0 {
                Html::text(&own.to_string()).with_badge("self-review")
            } else {
                Html::text("0")
            };
            vec![
                who,
                Html::text(&may.to_string()),
                Html::text(&decided.to_string()),
                own,
            ]
        })
        .collect();
    table(
        &mut body,
        &[
            "Reviewer",
            "Items they may decide",
            "Decisions that count",
            "On their own access",
        ],
        rows,
        "No reviewer could decide any item.",
    );
    let own = instance
        .items
        .iter()
        .filter(|(id, item)| is_self_decision(id, item))
        .count();
    para(
        &mut body,
        &if own == 0 {
            "No decision that counts was made by the principal it is about.".to_owned()
        } else {
            match own {
                1 => "1 decision that counts was made by the principal it is about: labelled self-review below.".to_owned(),
                n => format!("{n} decisions that count were made by the principals they are about: labelled self-review below."),
            }
        },
    );
    Some(Section {
        id: "reviewers",
        title: "Reviewers and their independence",
        body,
    })
}

/// The file an item's counting decision came from, when a reviewer made it.
fn source_of<'a>(instance: &'a Instance, principal: &str, item: &ItemState) -> Option<&'a str> {
    let decision = item.decision.as_ref().filter(|d| !d.by_system)?;
    // In a multi-stage instance the decision that counts may be an earlier stage's, whose
    // entries are frozen in that stage's record.
    let entries = match item.stages.last() {
        Some(last) if last.stage != instance.stage + 1 => {
            &instance.stages.get(last.stage - 1)?.entries
        }
        _ => &instance.entries,
    };
    entries
        .get(&Instance::entry_key(&decision.reviewer, principal))
        .filter(|e| e.status == EntryStatus::Accepted)
        .map(|e| e.source.as_str())
}

/// The decision that counts for every item.
pub fn decisions(e: &Evidence<'_>) -> Option<Section> {
    let instance = e.instance;
    let rows = instance
        .items
        .iter()
        .map(|(id, item)| {
            let d = item.decision.as_ref();
            let mut decision = Html::text(decision_name(d.map(|d| d.decision)));
            if d.is_some_and(|d| d.by_system) {
                decision = decision.with_badge("default decision");
            }
            if is_self_decision(id, item) {
                decision = decision.with_badge("self-review");
            }
            let recommendation = match item.recommendation.decision {
                Some(r) => format!("{r}: {}", item.recommendation.reason),
                None => format!("none: {}", item.recommendation.reason),
            };
            vec![
                principal_cell(id, item),
                access_cell(item),
                Html::text(&recommendation),
                decision,
                d.map_or_else(Html::default, |d| Html::code(&d.reviewer)),
                d.map_or_else(Html::default, |d| Html::text(&d.at.to_string())),
                d.and_then(|d| d.reason.as_deref())
                    .map_or_else(Html::default, Html::text),
                source_of(instance, id, item).map_or_else(Html::default, Html::code),
            ]
        })
        .collect();
    let mut body = String::new();
    table(
        &mut body,
        &[
            "Principal",
            "Access",
            "Recommendation",
            "Decision",
            "Reviewer",
            "Recorded",
            "Reason",
            "Decisions file",
        ],
        rows,
        "The instance has no items.",
    );
    Some(Section {
        id: "decisions",
        title: "Decisions",
        body,
    })
}

/// Every decision entry seen in the reviewers' files, counted or not, and why not.
pub fn entries(e: &Evidence<'_>) -> Option<Section> {
    let rows = e
        .instance
        .entries
        .values()
        .map(|entry| {
            let status = match &entry.status {
                EntryStatus::Accepted => Html::text("counted"),
                EntryStatus::Rejected { reason } => Html(format!(
                    "<span class=\"bad\">not counted</span>: {}",
                    escape(reason)
                )),
                EntryStatus::Cleared => Html::text("cleared by a reset"),
            };
            vec![
                Html::code(&entry.reviewer),
                Html::code(&entry.principal),
                Html::text(entry.decision.as_str()),
                entry
                    .reason
                    .as_deref()
                    .map_or_else(Html::default, Html::text),
                Html::code(&entry.source),
                Html::text(&entry.seen.to_string()),
                status,
            ]
        })
        .collect();
    let mut body = String::new();
    table(
        &mut body,
        &[
            "Reviewer",
            "Principal",
            "Decision",
            "Reason",
            "File",
            "First seen",
            "Status",
        ],
        rows,
        "No decision entry was seen in any file.",
    );
    Some(Section {
        id: "entries",
        title: "Decision entries seen in the files",
        body,
    })
}

/// What the review's default decision did to the items nobody decided.
pub fn default_decision(e: &Evidence<'_>) -> Option<Section> {
    let (spec, instance) = (&e.state.spec, e.instance);
    let setting = match spec.settings.default_decision {
        DefaultDecision::None => "none: undecided items stay undecided and keep their access",
        DefaultDecision::Approve => "approve: undecided items are approved and keep their access",
        DefaultDecision::Deny => {
            "deny: undecided items are denied and their access removed on apply"
        }
        DefaultDecision::Recommendation => {
            "recommendation: undecided items take the recommendation, where there is one"
        }
    };
    let mut by: BTreeMap<&str, usize> = BTreeMap::new();
    let mut undecided = 0;
    for item in instance.items.values() {
        match &item.decision {
            Some(d) if d.by_system => *by.entry(decision_name(Some(d.decision))).or_default() += 1,
            Some(_) => {}
            None => undecided += 1,
        }
    }
    let defaulted: usize = by.values().sum();
    let effect = if instance.ended.is_none() {
        "not applied yet: the instance is in progress".to_owned()
    } else if defaulted == 0 {
        "it decided no item".to_owned()
    } else {
        by.iter()
            .map(|(d, n)| format!("{n} item{} {d}", if *n == 1 { "" } else { "s" }))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut body = String::new();
    facts(
        &mut body,
        vec![
            ("Setting", Html::text(setting)),
            ("Effect", Html::text(&effect)),
            ("Left undecided", Html::text(&undecided.to_string())),
            (
                "Applied automatically",
                Html::text(if spec.settings.auto_apply {
                    "yes"
                } else {
                    "no: on request"
                }),
            ),
        ],
    );
    Some(Section {
        id: "default-decision",
        title: "The default decision",
        body,
    })
}

/// The escalation levels the review declares, and what each one reached did.
pub fn escalations(e: &Evidence<'_>) -> Option<Section> {
    let levels = &e.state.spec.settings.escalations;
    if levels.is_empty() {
        return None;
    }
    let instance = e.instance;
    // In a multi-stage instance each stage reached its own levels (their times count from
    // the stage's start and end): a stage that ended keeps them in its record, the stage in
    // progress on the instance.
    let stages: Vec<(Option<&str>, &[crate::state::EscalationRecord])> = if instance.staged() {
        instance
            .stages
            .iter()
            .enumerate()
            .filter_map(|(i, record)| {
                let reached: &[crate::state::EscalationRecord] = if record.ended.is_some() {
                    &record.escalations
                } else if i == instance.stage {
                    &instance.escalations
                } else {
                    return None;
                };
                Some((Some(record.name.as_str()), reached))
            })
            .collect()
    } else {
        vec![(None, instance.escalations.as_slice())]
    };
    let mut rows = Vec::new();
    for (stage, reached_in) in &stages {
        for (index, level) in levels.iter().enumerate() {
            let when = match (level.after_days, level.days_before_end) {
                (Some(d), _) => format!("{d} days after the start"),
                (None, Some(d)) => format!("{d} days before the end"),
                (None, None) => String::new(),
            };
            let to = match level.to {
                crate::model::review::EscalateTo::Manager => "each reviewer's manager".to_owned(),
                crate::model::review::EscalateTo::Fallback => "the fallback reviewers".to_owned(),
                crate::model::review::EscalateTo::Users => level.users.join(", "),
            };
            let reached = reached_in.iter().find(|r| r.level == index);
            let outcome = match reached {
                None => "not reached".to_owned(),
                Some(r) if r.items.is_empty() => {
                    format!("reached {}: nothing undecided to hand on", r.at)
                }
                Some(r) => {
                    let mut lines: Vec<String> = r
                        .items
                        .iter()
                        .map(|(item, to)| format!("{item} → {}", to.join(", ")))
                        .collect();
                    if !r.unresolved.is_empty() {
                        lines.push(format!("no manager known for {}", r.unresolved.join(", ")));
                    }
                    format!("reached {}: {}", r.at, lines.join("; "))
                }
            };
            let label = match stage {
                Some(stage) => format!("{stage}: {}", level.label(index)),
                None => level.label(index),
            };
            rows.push(vec![
                Html::text(&label),
                Html::text(&when),
                Html::text(&to),
                Html::text(&outcome),
            ]);
        }
    }
    let mut body = String::new();
    table(
        &mut body,
        &["Level", "When", "To", "What it did"],
        rows,
        "No escalation level.",
    );
    Some(Section {
        id: "escalations",
        title: "Escalations",
        body,
    })
}

fn result_cell(result: &ApplyResult) -> Html {
    let class = match result {
        ApplyResult::Applied { .. } | ApplyResult::NotFound { .. } => "ok",
        ApplyResult::Failed { .. } => "bad",
        _ => "",
    };
    Html(format!(
        "<span class=\"{class}\">{}</span>",
        escape(&result.to_string())
    ))
}

fn proof_cell(proof: Option<&Remediation>) -> Html {
    match proof {
        None => Html(format!(
            "<span class=\"none\">{}</span>",
            escape("not checked")
        )),
        Some(p @ Remediation::Verified { at }) => Html(format!(
            "<span class=\"ok\">{}</span><br>{}",
            escape(p.name()),
            escape(&at.to_string())
        )),
        Some(p @ Remediation::StillPresent { at, access }) => Html(format!(
            "<span class=\"bad\">{}</span>: {}<br>{}",
            escape(p.name()),
            escape(&access.join("; ")),
            escape(&at.to_string())
        )),
        Some(p @ Remediation::CouldNotCheck { at, error }) => Html(format!(
            "<span class=\"bad\">{}</span>: {}<br>{}",
            escape(p.name()),
            escape(error),
            escape(&at.to_string())
        )),
    }
}

/// What applying the results did, item by item, with the proof each removal holds.
pub fn apply(e: &Evidence<'_>) -> Option<Section> {
    let instance = e.instance;
    let mut body = String::new();
    let Some(apply) = &instance.apply else {
        para(&mut body, "The results have not been applied.");
        return Some(Section {
            id: "apply",
            title: "Apply and remediation proof",
            body,
        });
    };
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut proofs: BTreeMap<&str, usize> = BTreeMap::new();
    for item in instance.items.values() {
        if let Some(r) = &item.apply_result {
            *counts
                .entry(crate::status::apply_result_name(r))
                .or_default() += 1;
        }
        if let Some(p) = &item.remediation {
            *proofs.entry(p.name()).or_default() += 1;
        }
    }
    let summary = |m: &BTreeMap<&str, usize>| {
        if m.is_empty() {
            "none".to_owned()
        } else {
            m.iter()
                .map(|(k, n)| format!("{k}: {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    facts(
        &mut body,
        vec![
            ("Requested", Html::text(&apply.requested.to_string())),
            (
                "By",
                Html::text(&match &apply.token {
                    Some(token) => format!("the request `{token}`"),
                    None => "auto-apply".to_owned(),
                }),
            ),
            ("Attempt", Html::text(&apply.attempt.to_string())),
            (
                "Blocked by a guard",
                Html::text(apply.blocked.as_deref().unwrap_or("no")),
            ),
            ("Results", Html::text(&summary(&counts))),
            ("Remediation proof", Html::text(&summary(&proofs))),
        ],
    );
    let rows = instance
        .items
        .iter()
        .filter_map(|(id, item)| {
            let result = item.apply_result.as_ref()?;
            Some(vec![
                principal_cell(id, item),
                access_cell(item),
                result_cell(result),
                proof_cell(item.remediation.as_ref()),
            ])
        })
        .collect();
    table(
        &mut body,
        &["Principal", "Access", "Apply result", "Remediation proof"],
        rows,
        "No item was to be removed.",
    );
    para(
        &mut body,
        "After the removals the directory was read again: verified means the access is gone; stillPresent means the directory still grants it, and the item counts as failed; couldNotCheck means the directory could not be read, and the removal is unproven.",
    );
    Some(Section {
        id: "apply",
        title: "Apply and remediation proof",
        body,
    })
}

/// Resets and reminders, when there were any.
pub fn history(e: &Evidence<'_>) -> Option<Section> {
    let instance = e.instance;
    if instance.resets.is_empty() && instance.reminders.is_empty() {
        return None;
    }
    let mut rows: Vec<Vec<Html>> = Vec::new();
    for r in &instance.resets {
        rows.push(vec![
            Html::text(&r.at.to_string()),
            Html::text("reset"),
            Html::text(&format!(
                "{} decision{} cleared{}",
                r.cleared,
                if r.cleared == 1 { "" } else { "s" },
                r.token
                    .as_deref()
                    .map(|t| format!(" (request `{t}`)"))
                    .unwrap_or_default()
            )),
        ]);
    }
    for r in &instance.reminders {
        rows.push(vec![
            Html::text(&r.at.to_string()),
            Html::text("reminder"),
            Html::text(&format!(
                "to {}{}",
                r.reviewers.join(", "),
                r.token
                    .as_deref()
                    .map(|t| format!(" (request `{t}`)"))
                    .unwrap_or_default()
            )),
        ]);
    }
    rows.sort_by(|a, b| a[0].0.cmp(&b[0].0));
    let mut body = String::new();
    table(&mut body, &["When", "What", "Detail"], rows, "");
    Some(Section {
        id: "history",
        title: "Resets and reminders",
        body,
    })
}

/// The head of the audit trail and whether the chain verified up to it.
pub fn audit_trail(e: &Evidence<'_>) -> Option<Section> {
    let chain = e.chain;
    let mut body = String::new();
    let result = match &chain.verified {
        Ok(records) => Html(format!(
            "<span class=\"ok\">intact</span>: {} record{}, every hash recomputed and every link checked; the chain ends at the head the state recorded",
            records,
            if *records == 1 { "" } else { "s" }
        )),
        Err(error) => Html(format!(
            "<span class=\"bad\">broken</span>: {}",
            escape(&error.to_string().replace(&chain.path, "audit.jsonl"))
        )),
    };
    facts(
        &mut body,
        vec![
            ("Trail", Html::code("audit.jsonl")),
            ("Head record", Html::text(&chain.head.seq.to_string())),
            (
                "Head hash",
                if chain.head.hash.is_empty() {
                    Html::text("none: the trail is empty")
                } else {
                    Html::code(&chain.head.hash)
                },
            ),
            ("Verification", result),
        ],
    );
    para(
        &mut body,
        "Every record's hash covers the one before it. The command recert audit verify repeats this check, together with the digests of the files written (this report among them), and a signed checkpoint, where one is kept, vouches for the head.",
    );
    Some(Section {
        id: "audit-trail",
        title: "Audit trail",
        body,
    })
}

//! The report's stages section: for a multi-stage instance, each stage's window, reviewers and
//! the decisions it took, item by item, so an auditor sees who decided what at which stage and
//! which later decision overrode an earlier one.

use crate::model::review::ReviewerType;
use crate::reconcile::stages::{outcome, title};
use crate::state::{EntryStatus, Instance};
use crate::status::decision_name;

use super::html::{Html, facts, table};
use super::{Evidence, Section};

/// Each stage of a multi-stage instance, its decisions item by item.
pub fn stages(e: &Evidence<'_>) -> Option<Section> {
    let (state, instance) = (e.state, e.instance);
    if !instance.staged() {
        return None;
    }
    let mut body = String::new();
    for (index, record) in instance.stages.iter().enumerate() {
        let number = index + 1;
        let spec = state.spec.for_stage(index);
        let reviewers = match spec.reviewers.kind {
            ReviewerType::SelfReview => "each principal (self-review)".to_owned(),
            ReviewerType::Manager => "each principal's manager".to_owned(),
            ReviewerType::Users => spec.reviewers.users.join(", "),
        };
        let state_words = match (index <= instance.stage, record.ended) {
            (_, Some(at)) => format!("ended {at}"),
            (true, None) => "in progress".to_owned(),
            (false, None) => "did not start".to_owned(),
        };
        let mut stage_facts = vec![
            (
                "Runs",
                Html::text(&format!(
                    "{} to {} ({state_words})",
                    record.start, record.end
                )),
            ),
            ("Reviewers", Html::text(&reviewers)),
        ];
        if !spec.fallback_reviewers.is_empty() {
            stage_facts.push((
                "Fallback reviewers",
                Html::text(&spec.fallback_reviewers.join(", ")),
            ));
        }
        if let Some(from) = index.checked_sub(1).and_then(|i| state.spec.stages.get(i)) {
            let listed: Vec<&str> = from
                .from_previous_stage
                .iter()
                .map(|o| o.as_str())
                .collect();
            stage_facts.push((
                "Reviews",
                Html::text(&format!(
                    "items whose stage {index} outcome is {} ({} items)",
                    listed.join(" or "),
                    record.items.len()
                )),
            ));
        }
        body.push_str(&format!(
            "<h3>{}</h3>\n",
            super::escape(&title(number, &record.name))
        ));
        facts(&mut body, stage_facts);
        let rows = record
            .items
            .iter()
            .filter_map(|id| Some((id, instance.items.get(id)?)))
            .map(|(id, item)| {
                let d = item.stage_decision(number);
                let mut decision = Html::text(decision_name(d.map(|d| d.decision)));
                let later = item.stages.iter().find(|s| s.stage > number);
                if let Some(later) =
                    later.filter(|l| Some(l.decision.decision) != d.map(|d| d.decision))
                {
                    decision = decision.with_badge(&format!("overridden in stage {}", later.stage));
                }
                vec![
                    Html::code(id),
                    decision,
                    d.map_or_else(Html::default, |d| Html::code(&d.reviewer)),
                    d.map_or_else(Html::default, |d| Html::text(&d.at.to_string())),
                    d.and_then(|d| d.reason.as_deref())
                        .map_or_else(Html::default, Html::text),
                    source(instance, index, id).map_or_else(Html::default, Html::code),
                    Html::text(outcome(d.map(|d| d.decision)).as_str()),
                ]
            })
            .collect();
        table(
            &mut body,
            &[
                "Principal",
                "Decision",
                "Reviewer",
                "Recorded",
                "Reason",
                "Decisions file",
                "Outcome",
            ],
            rows,
            "The stage reviewed no item.",
        );
    }
    Some(Section {
        id: "stages",
        title: "Stages",
        body,
    })
}

/// The file of the accepted entry that decided an item in a stage.
fn source<'a>(instance: &'a Instance, index: usize, principal: &str) -> Option<&'a str> {
    let decision = instance.items.get(principal)?.stage_decision(index + 1)?;
    let record = instance.stages.get(index)?;
    // The stage in progress keeps its entries on the instance until it ends.
    let entries = if record.ended.is_none() {
        &instance.entries
    } else {
        &record.entries
    };
    entries
        .get(&Instance::entry_key(&decision.reviewer, principal))
        .filter(|e| e.status == EntryStatus::Accepted)
        .map(|e| e.source.as_str())
}

//! The owner's page of a review (`spec.owners`; admins: every review): each instance's
//! progress per reviewer, the decisions, the apply results, and the results CSV to download.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::reconcile::{self, InstanceNames};
use crate::state::{Instance, ReviewState};

use super::SignedIn;
use super::pages::{escape, push_escaped};
use super::redirect::encode;
use super::reviewer_page::{
    Deciders, date, decision_words, file_name, source_words, target_words, viewer,
};
use super::reviews::{self, PageError};

/// The overview of `review` for one of its owners: title and body.
pub fn overview(
    state_dir: &Path,
    user: &SignedIn,
    review: &str,
    instance: Option<&str>,
) -> Result<(String, String), PageError> {
    let stored = reviews::load_review(state_dir, review)?;
    let state = &stored.state;
    if !reviews::owns(state, viewer(user)) {
        return Err(PageError::NotFound);
    }
    let shown = match instance {
        Some(id) => Some(
            state
                .instances
                .iter()
                .find(|i| i.id == id)
                .ok_or(PageError::NotFound)?,
        ),
        None => state.current(),
    };
    Ok((state.spec.display_name.clone(), body(state, shown)))
}

/// The results CSV of an instance of a review `user` owns: `recert export`'s.
pub fn results_csv(
    state_dir: &Path,
    user: &SignedIn,
    review: &str,
    instance: &str,
) -> Result<String, PageError> {
    let stored = reviews::load_review(state_dir, review)?;
    let state = &stored.state;
    if !reviews::owns(state, viewer(user)) {
        return Err(PageError::NotFound);
    }
    let instance = state
        .instances
        .iter()
        .find(|i| i.id == instance)
        .ok_or(PageError::NotFound)?;
    Ok(crate::status::results_csv(state, instance)?)
}

fn body(state: &ReviewState, shown: Option<&Instance>) -> String {
    let review = encode(&state.name);
    let mut out = String::with_capacity(4096);
    out.push_str("<p><a href=\"/\">← Access reviews</a></p><h1>");
    push_escaped(&mut out, &state.spec.display_name);
    out.push_str("</h1><dl class=\"facts\"><dt>Review</dt><dd><code>");
    push_escaped(&mut out, &state.name);
    out.push_str("</code></dd><dt>Manifest</dt><dd><code>");
    push_escaped(&mut out, file_name(&state.source));
    out.push_str("</code></dd><dt>Owners</dt><dd>");
    push_escaped(&mut out, &state.spec.owners.join(", "));
    out.push_str("</dd></dl>");
    if state.instances.is_empty() {
        out.push_str("<p>No instance has started yet.</p>");
        return out;
    }
    out.push_str(
        "<h2>Instances</h2><table class=\"items\"><thead><tr><th scope=\"col\">Instance</th>\
         <th scope=\"col\">Due</th><th scope=\"col\">State</th><th scope=\"col\">Decided</th>\
         <th scope=\"col\">Results</th></tr></thead><tbody>",
    );
    for instance in state.instances.iter().rev() {
        let decided = instance
            .items
            .values()
            .filter(|i| i.decision.is_some())
            .count();
        let _ = write!(
            out,
            "<tr><td data-label=\"Instance\"><a href=\"/reviews/{review}/overview?instance={id_q}\">{id}</a></td>\
             <td data-label=\"Due\">{}</td><td data-label=\"State\">{}</td>\
             <td data-label=\"Decided\">{decided} of {}</td>\
             <td data-label=\"Results\"><a href=\"/reviews/{review}/results/{id_q}.csv\" download>CSV</a></td></tr>",
            date(&instance.end),
            escape(&instance_state(instance)),
            instance.items.len(),
            id = escape(&instance.id),
            id_q = escape(&encode(&instance.id)),
        );
    }
    out.push_str("</tbody></table>");
    if let Some(instance) = shown {
        instance_details(&mut out, state, instance);
    }
    out
}

fn instance_state(instance: &Instance) -> String {
    let mut words = match &instance.ended {
        None => "running".to_owned(),
        Some(e) => format!("ended {} ({:?})", date(&e.at), e.reason).to_lowercase(),
    };
    if let Some(apply) = &instance.apply {
        match &apply.blocked {
            Some(why) => {
                let _ = write!(words, "; apply blocked: {why}");
            }
            None => {
                let _ = write!(words, "; applied (attempt {})", apply.attempt);
            }
        }
    }
    words
}

fn instance_details(out: &mut String, state: &ReviewState, instance: &Instance) {
    let _ = write!(
        out,
        "<h2>Instance {}</h2><dl class=\"facts\"><dt>Reviewing</dt><dd>{}</dd><dt>Started</dt><dd>{}</dd>\
         <dt>Due</dt><dd>{}</dd><dt>State</dt><dd>{}</dd></dl>",
        escape(&instance.id),
        escape(&target_words(&instance.target)),
        date(&instance.start),
        date(&instance.end),
        escape(&instance_state(instance)),
    );
    if instance.staged() {
        stages_table(out, instance);
    }
    // Progress per reviewer (with stages: in the stage in progress), by the engine's rule of
    // who decides which item.
    let names = InstanceNames::of(state, Some(instance));
    let mut per: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut reviewers_of: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (id, item) in &instance.items {
        if !instance.in_stage(id) {
            continue;
        }
        let allowed = reconcile::allowed_reviewers_in(&names, item);
        for r in &allowed {
            let e = per.entry(r.clone()).or_default();
            e.0 += 1;
            if instance.stage_decision(item).is_some() {
                e.1 += 1;
            }
        }
        reviewers_of.insert(id, allowed.into_iter().collect());
    }
    let hide = reviews::hides_earlier_stages(state, instance);
    let deciders = Deciders::new(state, instance);
    let label = |id: &str| deciders.name(id);
    out.push_str(
        "<h3>Progress per reviewer</h3><table class=\"items\"><thead><tr><th scope=\"col\">Reviewer</th>\
         <th scope=\"col\">Items</th><th scope=\"col\">Decided</th><th scope=\"col\">Pending</th></tr></thead><tbody>",
    );
    for (reviewer, (total, decided)) in &per {
        let _ = write!(
            out,
            "<tr><td data-label=\"Reviewer\">{} <small><code>{}</code></small></td><td data-label=\"Items\">{total}</td>\
             <td data-label=\"Decided\">{decided}</td><td data-label=\"Pending\">{}</td></tr>",
            escape(&label(reviewer)),
            escape(reviewer),
            total - decided
        );
    }
    out.push_str("</tbody></table>");
    out.push_str(
        "<h3>Decisions</h3><table class=\"items\"><thead><tr><th scope=\"col\">Principal</th>\
         <th scope=\"col\">Reviewers</th><th scope=\"col\">Recommendation</th><th scope=\"col\">Decision</th>\
         <th scope=\"col\">Apply</th></tr></thead><tbody>",
    );
    for (id, item) in &instance.items {
        out.push_str("<tr><td data-label=\"Principal\"><strong>");
        push_escaped(out, item.principal.display_name());
        out.push_str("</strong><br><small><code>");
        push_escaped(out, id);
        out.push_str("</code></small></td><td data-label=\"Reviewers\">");
        let who: Vec<String> = reviewers_of
            .get(id.as_str())
            .into_iter()
            .flatten()
            .map(|r| label(r))
            .collect();
        push_escaped(out, &who.join(", "));
        out.push_str("</td><td data-label=\"Recommendation\">");
        match item.recommendation.decision {
            Some(d) => out.push_str(decision_words(d)),
            None => out.push_str("none"),
        }
        out.push_str("<br><small>");
        push_escaped(out, &item.recommendation.reason);
        out.push_str("</small></td><td data-label=\"Decision\">");
        // As in status.yaml: a review that hides earlier stages' decisions shows, while a
        // stage runs, only its decision on the items it reviews.
        let hidden = hide && instance.in_stage(id);
        let shown = if hidden {
            instance.stage_decision(item)
        } else {
            item.decision.as_ref()
        };
        match shown {
            None => out.push_str("<span class=\"pending\">pending</span>"),
            Some(d) => {
                out.push_str("<strong>");
                out.push_str(decision_words(d.decision));
                out.push_str("</strong> by ");
                if d.by_system {
                    out.push_str("Recert (default decision)");
                } else {
                    push_escaped(out, &label(&d.reviewer));
                }
                if let Some(reason) = &d.reason {
                    out.push_str("<br><small>“");
                    push_escaped(out, reason);
                    out.push_str("”</small>");
                }
                if let Some(source) = &d.source {
                    out.push_str("<br><small>");
                    push_escaped(out, &source_words(source));
                    out.push_str("</small>");
                }
            }
        }
        if instance.staged() && !hidden {
            for d in &item.stages {
                let _ = write!(
                    out,
                    "<br><small>Stage {}: {} by ",
                    d.stage,
                    decision_words(d.decision.decision)
                );
                push_escaped(out, &label(&d.decision.reviewer));
                out.push_str("</small>");
            }
        }
        out.push_str("</td><td data-label=\"Apply\">");
        match &item.apply_result {
            Some(r) => push_escaped(out, &r.to_string()),
            None => out.push('—'),
        }
        if let Some(proof) = &item.remediation {
            out.push_str("<br><small>");
            push_escaped(out, &proof.to_string());
            out.push_str("</small>");
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table>");
}

fn stages_table(out: &mut String, instance: &Instance) {
    out.push_str(
        "<h3>Stages</h3><table class=\"items\"><thead><tr><th scope=\"col\">Stage</th>\
         <th scope=\"col\">Start</th><th scope=\"col\">Due</th><th scope=\"col\">State</th>\
         <th scope=\"col\">Items</th></tr></thead><tbody>",
    );
    for (index, stage) in instance.stages.iter().enumerate() {
        let state = if stage.ended.is_some() {
            "ended"
        } else if index == instance.stage && instance.ended.is_none() {
            "in progress"
        } else {
            "not started"
        };
        let _ = write!(
            out,
            "<tr><td data-label=\"Stage\">{}</td><td data-label=\"Start\">{}</td>\
             <td data-label=\"Due\">{}</td><td data-label=\"State\">{state}</td>\
             <td data-label=\"Items\">{}</td></tr>",
            escape(&crate::reconcile::stages::title(index + 1, &stage.name)),
            date(&stage.start),
            date(&stage.end),
            stage.items.len(),
        );
    }
    out.push_str("</tbody></table>");
}

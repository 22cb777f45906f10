//! The reviewer's pages: the landing page (every running instance in which they have items)
//! and one review's items with the decision form, or, for a `readOnly` portal, the decisions
//! snippet and `recert decide` commands the e-mails carry.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;

use crate::directory::{Principal, Removal};
use crate::model::review::Timestamp;
use crate::notify::compose::{how_to_decide, item_fact, item_fact_in};
use crate::notify::render::{command_of, snippet_of};
use crate::state::{Instance, ItemState, ReviewState};
use crate::store::Stored;

use super::SignedIn;
use super::pages::{escape, push_escaped};
use super::redirect::encode;
use super::reviews::{self, PageError, Viewer};

/// The reviewer page's query: which instance (default: the running one, else the latest) and
/// whether to show only what is still pending.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ReviewQuery {
    pub instance: Option<String>,
    pub show: Option<String>,
}

impl ReviewQuery {
    fn pending_only(&self) -> bool {
        self.show.as_deref() == Some("pending")
    }
}

pub fn viewer(user: &SignedIn) -> Viewer<'_> {
    Viewer {
        id: &user.principal,
        upn: &user.upn,
        admin: user.admin,
    }
}

/// `2026-12-15`.
pub fn date(ts: &Timestamp) -> String {
    ts.0.strftime("%Y-%m-%d").to_string()
}

/// The landing page's body: the running instances with the user's items, and the reviews
/// they own.
pub fn landing(user: &SignedIn, states: &[Stored]) -> String {
    let mut out = String::with_capacity(4096);
    let role = if user.admin { " (administrator)" } else { "" };
    let _ = write!(
        out,
        "<h1>Access reviews</h1><p>Signed in as <strong>{}</strong>{role} (directory id <code>{}</code>).</p>",
        escape(&user.name),
        escape(&user.principal),
    );
    out.push_str("<h2>Your reviews</h2>");
    let mut rows = String::new();
    for stored in states {
        let state = &stored.state;
        let Some(instance) = state.in_progress() else {
            continue;
        };
        let mine = reviews::items_for(state, instance, &user.principal);
        if mine.is_empty() {
            continue;
        }
        let (decided, pending) = reviews::progress(instance, &mine);
        let _ = write!(
            rows,
            "<tr><td data-label=\"Review\"><a href=\"/reviews/{}\">{}</a></td>\
             <td data-label=\"Reviewing\">{}</td><td data-label=\"Instance\">{}</td>\
             <td data-label=\"Due\">{}</td><td data-label=\"Progress\">{decided} of {} decided, \
             <strong>{pending} pending</strong></td></tr>",
            encode(&state.name),
            escape(&state.spec.display_name),
            escape(&target_words(&instance.target)),
            escape(&instance.id),
            date(&instance.end),
            mine.len(),
        );
    }
    if rows.is_empty() {
        out.push_str("<p>Nothing is waiting for you: no running review has items for you.</p>");
    } else {
        out.push_str(
            "<table class=\"items\"><thead><tr><th scope=\"col\">Review</th><th scope=\"col\">Reviewing</th>\
             <th scope=\"col\">Instance</th><th scope=\"col\">Due</th><th scope=\"col\">Progress</th></tr></thead><tbody>",
        );
        out.push_str(&rows);
        out.push_str("</tbody></table>");
    }
    let owned: Vec<&ReviewState> = states
        .iter()
        .map(|s| &s.state)
        .filter(|s| reviews::owns(s, viewer(user)))
        .collect();
    if !owned.is_empty() {
        out.push_str(if user.admin {
            "<h2>Every review (administrator)</h2><ul>"
        } else {
            "<h2>Reviews you own</h2><ul>"
        });
        for state in owned {
            let _ = write!(
                out,
                "<li><a href=\"/reviews/{}/overview\">{}</a> <small>({})</small></li>",
                encode(&state.name),
                escape(&state.spec.display_name),
                escape(&state.name)
            );
        }
        out.push_str("</ul>");
    }
    out.push_str(&super::pages::sign_out_form(&user.csrf));
    out
}

/// The page of one review for a reviewer, read from the state directory: title and body.
pub fn review_page(
    state_dir: &Path,
    user: &SignedIn,
    review: &str,
    query: &ReviewQuery,
) -> Result<(String, String), PageError> {
    let stored = reviews::load_review(state_dir, review)?;
    let state = &stored.state;
    let instance =
        reviews::pick_instance(state, query.instance.as_deref()).ok_or(PageError::NotFound)?;
    let mine = reviews::items_for(state, instance, &user.principal);
    // Somebody with no items here learns nothing, not even that the review exists; an owner
    // is sent to the overview's link from the landing page instead.
    if mine.is_empty() {
        return Err(PageError::NotFound);
    }
    Ok((
        state.spec.display_name.clone(),
        review_body(state, instance, &mine, user, query),
    ))
}

/// The body of a reviewer's page for `items` (theirs) of `instance`.
pub fn review_body(
    state: &ReviewState,
    instance: &Instance,
    items: &[&ItemState],
    user: &SignedIn,
    query: &ReviewQuery,
) -> String {
    let review = encode(&state.name);
    let (decided, pending) = reviews::progress(instance, items);
    let running =
        instance.ended.is_none() && state.in_progress().is_some_and(|i| i.id == instance.id);
    let mut out = String::with_capacity(2048 + items.len() * 900);
    out.push_str("<p><a href=\"/\">← All your reviews</a></p><h1>");
    push_escaped(&mut out, &state.spec.display_name);
    out.push_str("</h1>");
    if let Some(description) = &state.spec.description {
        out.push_str("<p>");
        push_escaped(&mut out, description);
        out.push_str("</p>");
    }
    let _ = write!(
        out,
        "<dl class=\"facts\"><dt>Reviewing</dt><dd>{}</dd><dt>Instance</dt><dd>{}</dd>\
         <dt>Due</dt><dd>{}</dd><dt>Your progress</dt><dd>{decided} of {} decided, \
         <strong>{pending} pending</strong></dd></dl>",
        escape(&target_words(&instance.target)),
        escape(&instance.id),
        date(&instance.end),
        items.len(),
    );
    if let Some(stage) = instance.stages.get(instance.stage) {
        let _ = write!(
            out,
            "<p class=\"note\">This review runs in {} stages; {} is in progress, due {}.</p>",
            instance.stages.len(),
            escape(&crate::reconcile::stages::title(
                instance.stage + 1,
                &stage.name
            )),
            date(&stage.end),
        );
    }
    if let Some(ended) = &instance.ended {
        let _ = write!(
            out,
            "<p class=\"note\">This instance ended on {} ({:?}); decisions can no longer be recorded.</p>",
            date(&ended.at),
            ended.reason
        );
    }
    let instance_param = match &query.instance {
        Some(id) => format!("instance={}&amp;", escape(&encode(id))),
        None => String::new(),
    };
    let pending_only = query.pending_only();
    let _ = write!(
        out,
        "<nav class=\"filter\" aria-label=\"Which items\"><a href=\"/reviews/{review}{q}\"{all}>All your items ({})</a> \
         <a href=\"/reviews/{review}?{instance_param}show=pending\"{pend}>Still pending ({pending})</a></nav>",
        items.len(),
        q = if instance_param.is_empty() {
            String::new()
        } else {
            format!("?{}", instance_param.trim_end_matches("&amp;"))
        },
        all = if pending_only {
            ""
        } else {
            " aria-current=\"page\""
        },
        pend = if pending_only {
            " aria-current=\"page\""
        } else {
            ""
        },
    );
    let shown: Vec<&ItemState> = items
        .iter()
        .copied()
        .filter(|i| !pending_only || instance.stage_decision(i).is_none())
        .collect();
    // No form over an empty table: with nothing shown there is nothing to select.
    let deciding = running && !user.read_only && !shown.is_empty();
    let reason_required = state.spec.settings.require_justification;
    if deciding {
        let back = format!(
            "/reviews/{review}{}",
            match (&query.instance, pending_only) {
                (None, false) => String::new(),
                (None, true) => "?show=pending".to_owned(),
                (Some(id), p) => format!(
                    "?instance={}{}",
                    encode(id),
                    if p { "&show=pending" } else { "" }
                ),
            }
        );
        let _ = write!(
            out,
            "<form method=\"post\" action=\"/reviews/{review}/decide\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <input type=\"hidden\" name=\"instance\" value=\"{}\">\
             <input type=\"hidden\" name=\"return\" value=\"{}\">\
             <fieldset class=\"decide\"><legend>Decide the items you select below</legend>\
             <div class=\"choices\">\
             <span><input type=\"radio\" id=\"d-approve\" name=\"decision\" value=\"approve\" required><label for=\"d-approve\">Approve (keep the access)</label></span>\
             <span><input type=\"radio\" id=\"d-deny\" name=\"decision\" value=\"deny\"><label for=\"d-deny\">Deny (remove it when the results are applied)</label></span>\
             <span><input type=\"radio\" id=\"d-dontknow\" name=\"decision\" value=\"dontKnow\"><label for=\"d-dontknow\">Don't know (keeps it)</label></span>\
             </div><label for=\"reason\">Reason{}</label>\
             <textarea id=\"reason\" name=\"reason\" rows=\"2\"{}></textarea>\
             <div class=\"buttons\"><button type=\"submit\" name=\"action\" value=\"decide\">Record this decision for the selected items</button>\
             <button type=\"submit\" name=\"action\" value=\"accept\" formnovalidate>Accept the recommendations</button></div>\
             <p class=\"hint\">Accepting with no item selected accepts the recommendation of every pending item that has one.</p>\
             </fieldset>",
            escape(&user.csrf),
            escape(&instance.id),
            escape(&back),
            if reason_required {
                " (required by this review)"
            } else {
                " (optional)"
            },
            if reason_required { " required" } else { "" },
        );
    }
    if shown.is_empty() {
        out.push_str("<p>Nothing is pending: every item of yours is decided.</p>");
    } else {
        items_table(&mut out, state, instance, &shown, deciding);
    }
    if deciding {
        out.push_str("</form>");
    }
    if user.read_only && running {
        read_only_how_to(&mut out, state, instance, items, user);
    }
    out
}

/// The table of items; with checkboxes named `principal` when the reviewer can decide here.
fn items_table(
    out: &mut String,
    state: &ReviewState,
    instance: &Instance,
    items: &[&ItemState],
    selectable: bool,
) {
    let names = Deciders::new(state, instance);
    let earlier_shown = !reviews::hides_earlier_stages(state, instance);
    out.push_str("<table class=\"items\"><caption>Your items</caption><thead><tr>");
    if selectable {
        out.push_str("<th scope=\"col\">Select</th>");
    }
    out.push_str(
        "<th scope=\"col\">Principal</th><th scope=\"col\">Access</th>\
         <th scope=\"col\">Recommendation</th><th scope=\"col\">Decision</th></tr></thead><tbody>",
    );
    for item in items {
        let fact = item_fact(item);
        let id = item.principal.id();
        out.push_str("<tr>");
        if selectable {
            out.push_str(
                "<td data-label=\"Select\"><input type=\"checkbox\" name=\"principal\" value=\"",
            );
            push_escaped(out, id);
            out.push_str("\" id=\"p-");
            push_escaped(out, id);
            out.push_str("\"><label class=\"visually-hidden\" for=\"p-");
            push_escaped(out, id);
            out.push_str("\">Select ");
            push_escaped(out, item.principal.display_name());
            out.push_str("</label></td>");
        }
        out.push_str("<td data-label=\"Principal\"><strong>");
        push_escaped(out, item.principal.display_name());
        out.push_str("</strong><br><small>");
        push_escaped(out, &fact.name);
        let kind = match &item.principal {
            Principal::User(u) if !u.enabled => " · user, disabled",
            Principal::User(_) => "",
            Principal::Group(_) => " · group",
            Principal::ServicePrincipal(_) => " · service principal",
        };
        out.push_str(kind);
        out.push_str("</small></td><td data-label=\"Access\">");
        push_escaped(out, &target_words(&instance.target));
        for scope in scopes(item) {
            out.push_str(" at <code>");
            push_escaped(out, scope);
            out.push_str("</code>");
        }
        out.push_str("<br><small>");
        push_escaped(out, &fact.access);
        out.push_str("</small></td><td data-label=\"Recommendation\">");
        match fact.recommendation {
            Some(d) => {
                out.push_str("<strong>");
                out.push_str(decision_words(d));
                out.push_str("</strong>");
            }
            None => out.push_str("none"),
        }
        if !fact.recommendation_reason.is_empty() {
            out.push_str("<br><small>");
            push_escaped(out, &fact.recommendation_reason);
            out.push_str("</small>");
        }
        out.push_str("</td><td data-label=\"Decision\">");
        match instance.stage_decision(item) {
            None => out.push_str("<span class=\"pending\">pending</span>"),
            Some(d) => {
                out.push_str("<strong>");
                out.push_str(decision_words(d.decision));
                out.push_str("</strong> by ");
                if d.by_system {
                    out.push_str("Recert (the review's default decision)");
                } else {
                    push_escaped(out, &names.name(&d.reviewer));
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
        if earlier_shown {
            for earlier in item.stages.iter().filter(|d| d.stage <= instance.stage) {
                let _ = write!(
                    out,
                    "<br><small>Earlier, stage {}: {} by ",
                    earlier.stage,
                    decision_words(earlier.decision.decision)
                );
                push_escaped(out, &names.name(&earlier.decision.reviewer));
                if let Some(reason) = &earlier.decision.reason {
                    out.push_str(" — “");
                    push_escaped(out, reason);
                    out.push('”');
                }
                out.push_str("</small>");
            }
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table>");
}

/// A `readOnly` portal: decisions are made in Git. The snippet and commands are the e-mail's
/// ([`crate::notify::render::snippet_of`], [`crate::notify::render::command_of`]).
fn read_only_how_to(
    out: &mut String,
    state: &ReviewState,
    instance: &Instance,
    items: &[&ItemState],
    user: &SignedIn,
) {
    let pending: Vec<_> = items
        .iter()
        .filter(|i| instance.stage_decision(i).is_none())
        .map(|i| item_fact_in(state, instance, i))
        .collect();
    out.push_str("<h2>How to decide</h2>");
    if pending.is_empty() {
        out.push_str("<p>Nothing is pending.</p>");
        return;
    }
    let how = how_to_decide(&state.name, state, &user.upn);
    let _ = write!(
        out,
        "<p>Decisions for this review are recorded in the repository. Create or edit <code>{}</code> \
         (in the manifests folder), paste the entries below, fill in each <code>decision:</code>{} \
         and open a pull request.</p><pre><code>",
        escape(&how.file),
        if how.reason_required {
            " and <code>reason:</code>"
        } else {
            ""
        }
    );
    push_escaped(out, &snippet_of(&state.name, &instance.id, &pending, &how));
    out.push_str(
        "</code></pre><p>Or, from the manifests folder of a checkout, let <code>recert decide</code> \
         write the file, one item at a time (the decision shown is the recommendation; choose \
         yours):</p><pre><code>",
    );
    for fact in &pending {
        push_escaped(out, &command_of(&state.name, &how, fact));
        out.push('\n');
    }
    out.push_str("</code></pre>");
}

/// People who decided, by id: the instance's users by display name, then the user principal
/// names the directory resolved, else the id.
pub(super) struct Deciders<'a> {
    instance: &'a Instance,
    by_id: HashMap<&'a str, &'a str>,
}

impl<'a> Deciders<'a> {
    pub(super) fn new(state: &'a ReviewState, instance: &'a Instance) -> Deciders<'a> {
        let by_id = state
            .known
            .iter()
            .filter(|(name, _)| name.contains('@'))
            .map(|(name, id)| (id.as_str(), name.as_str()))
            .collect();
        Deciders { instance, by_id }
    }

    pub(super) fn name(&self, id: &str) -> String {
        if let Some(item) = self.instance.items.get(id) {
            return item.principal.display_name().to_owned();
        }
        self.by_id
            .get(id)
            .map_or_else(|| id.to_owned(), |n| (*n).to_owned())
    }
}

/// Where a decision was made, in words: on the page, or in which decisions file (its name
/// only: the page does not show the server's paths).
pub fn source_words(source: &str) -> String {
    if source.starts_with("web sign-in ") {
        "on the reviewer page".to_owned()
    } else {
        format!("in {}", file_name(source))
    }
}

/// The last component of a path as the state records it.
pub fn file_name(path: &str) -> &str {
    Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(path)
}

/// The scopes of an item's role assignments (none for a group's members).
fn scopes(item: &ItemState) -> impl Iterator<Item = &str> {
    let mut seen: Vec<&str> = Vec::new();
    for a in &item.access {
        if let Removal::Assignment { scope, .. } = &a.removal
            && !scope.is_empty()
            && !seen.contains(&scope.as_str())
        {
            seen.push(scope);
        }
    }
    seen.into_iter()
}

/// `role Global Administrator` → `Role “Global Administrator”`.
pub fn target_words(target: &str) -> String {
    match target.split_once(' ') {
        Some(("role", name)) => format!("Role “{name}”"),
        Some(("group", name)) => format!("Member of group “{name}”"),
        _ => target.to_owned(),
    }
}

pub fn decision_words(d: crate::model::decisions::Decision) -> &'static str {
    use crate::model::decisions::Decision;
    match d {
        Decision::Approve => "approve",
        Decision::Deny => "deny",
        Decision::DontKnow => "don't know",
    }
}

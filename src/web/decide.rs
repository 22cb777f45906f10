//! Decisions made on the page: `POST /reviews/{review}/decide`.
//!
//! The page checks a decision with the engine's own rule ([`decisions::judge`]) against the
//! review's recorded state, writes it to the review's decision log ([`crate::decision_log`]),
//! and answers only once the line is on disk. The daemon then reconciles the review at once;
//! the engine records the line as an entry of the signed-in reviewer, under the rules of an
//! entry from a file, and it is the engine's verdict that counts: a state that changed between
//! the check and the pass (a reset, a stage that ended) is judged again there.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use super::pages::problem;
use super::{Portal, Posted, Principals, SignedIn, redirect};
use crate::context::Context;
use crate::decision_log::{Appender, Recorded};
use crate::model::decisions::Decision;
use crate::model::review::Timestamp;
use crate::reconcile::{InstanceNames, decisions};
use crate::state::{Instance, ItemState, ReviewState};
use crate::store::Store;

/// Where the page's decisions go, and what it reads to check them.
#[derive(Debug)]
pub struct Sink {
    pub appender: Appender,
    pub store: Store,
    /// Reviews whose log grew: the daemon reconciles them now.
    pub touched: mpsc::UnboundedSender<std::collections::BTreeSet<String>>,
    pub states: States,
    /// The daemon's clock: a decision's time is on the same clock as the passes that judge it.
    pub ctx: Context,
}

impl Sink {
    pub fn new(
        store: Store,
        touched: mpsc::UnboundedSender<std::collections::BTreeSet<String>>,
        ctx: Context,
    ) -> Sink {
        Sink {
            ctx,
            appender: Appender::start(store.root().to_owned()),
            store,
            touched,
            states: States::default(),
        }
    }
}

/// The reviews' recorded states as last read, each read again only when its `state.json`
/// changed: many reviewers deciding at once on a review of a thousand items must not each
/// parse its state.
#[derive(Debug, Default)]
pub struct States {
    cached: Mutex<HashMap<String, (FileStamp, Arc<ReviewState>)>>,
}

type FileStamp = (SystemTime, u64);

impl States {
    /// Review `name`'s state, none when it has none recorded.
    pub async fn get(&self, store: &Store, name: &str) -> Result<Option<Arc<ReviewState>>, String> {
        let path = store.review_dir(name).join("state.json");
        let stamp = match std::fs::symlink_metadata(&path) {
            Ok(meta) => (
                meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                meta.len(),
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        if let Some((at, state)) = self.lock().get(name)
            && *at == stamp
        {
            return Ok(Some(state.clone()));
        }
        let store = store.clone();
        let owned = name.to_owned();
        let loaded = tokio::task::spawn_blocking(move || {
            let (mut stored, errors) = store.load_some(std::iter::once(owned.as_str()));
            match stored.remove(&owned) {
                Some(stored) => Ok(Some(stored.state)),
                None => match errors.into_iter().next() {
                    Some(e) => Err(e.to_string()),
                    None => Ok(None),
                },
            }
        })
        .await
        .map_err(|e| e.to_string())??;
        let Some(state) = loaded else { return Ok(None) };
        let state = Arc::new(state);
        self.lock().insert(name.to_owned(), (stamp, state.clone()));
        Ok(Some(state))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (FileStamp, Arc<ReviewState>)>> {
        self.cached
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What a decision form asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub instance: String,
    pub action: Action,
    pub reason: Option<String>,
    /// The items selected, by principal id.
    pub principals: Vec<String>,
    pub return_to: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Decide(Decision),
    /// Take the recommendation of each item selected, or of every pending item with one.
    Accept,
}

/// Why a form is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The form is malformed (400).
    Form(String),
    /// An item the reviewer may not decide, or that is not theirs to see (403). The message
    /// never says whether the item exists.
    NotYours(String),
    /// The decision breaks a rule the reviewer can fix (a reason is required), or the instance
    /// or stage is over (409).
    Rule(String),
}

impl Form {
    /// The form's fields, `principal` repeated.
    pub fn parse(fields: Vec<(String, String)>) -> Result<Form, Refusal> {
        let mut instance = None;
        let mut action = None;
        let mut decision = None;
        let mut reason = None;
        let mut principals = Vec::new();
        let mut return_to = None;
        for (key, value) in fields {
            match key.as_str() {
                "csrf" => {}
                "instance" => instance = Some(value),
                "action" => action = Some(value),
                "decision" => decision = Some(value),
                "reason" => reason = Some(value).filter(|r| !r.trim().is_empty()),
                "principal" => principals.push(value),
                "return" => return_to = Some(value),
                // A field of the page's own (a filter, a select-all box) means nothing here.
                _ => {}
            }
        }
        let instance =
            instance.ok_or_else(|| Refusal::Form("the form names no instance".to_owned()))?;
        let action = match (action.as_deref(), decision.as_deref()) {
            (Some("accept"), _) => Action::Accept,
            (Some("decide") | None, Some(d)) => Action::Decide(parse_decision(d)?),
            (Some("decide") | None, None) => {
                return Err(Refusal::Form(
                    "choose approve, deny or don't know".to_owned(),
                ));
            }
            (Some(other), _) => return Err(Refusal::Form(format!("unknown action `{other}`"))),
        };
        if matches!(action, Action::Decide(_)) && principals.is_empty() {
            return Err(Refusal::Form("select at least one item".to_owned()));
        }
        Ok(Form {
            instance,
            action,
            reason,
            principals,
            return_to,
        })
    }
}

fn parse_decision(text: &str) -> Result<Decision, Refusal> {
    match text {
        "approve" => Ok(Decision::Approve),
        "deny" => Ok(Decision::Deny),
        "dontKnow" => Ok(Decision::DontKnow),
        other => Err(Refusal::Form(format!("unknown decision `{other}`"))),
    }
}

/// Who is deciding, as the sign-in says.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    pub reviewer: &'a str,
    pub subject: &'a str,
    pub issuer: &'a str,
}

/// The lines `form` records for `who` in `state` at `now`, each checked by the engine's rule;
/// all or none.
pub fn lines(
    state: &ReviewState,
    who: Who<'_>,
    form: &Form,
    now: Timestamp,
) -> Result<Vec<Recorded>, Refusal> {
    let instance = state
        .instances
        .iter()
        .find(|i| i.id == form.instance)
        .ok_or_else(|| {
            Refusal::NotYours(format!(
                "this review has no instance `{}` of yours",
                form.instance
            ))
        })?;
    if let Some(ended) = &instance.ended {
        return Err(Refusal::Rule(format!(
            "instance {} ended at {}: its decisions are final",
            instance.id, ended.at
        )));
    }
    let end = instance.window().1;
    if now >= end {
        return Err(Refusal::Rule(format!(
            "this stage of instance {} ended at {end}; reload the page",
            instance.id
        )));
    }
    let names = InstanceNames::of(state, Some(instance));
    let chosen: Vec<(&ItemState, Decision, Option<String>)> = match form.action {
        Action::Decide(decision) => form
            .principals
            .iter()
            .map(|p| Ok((item_of(instance, p)?, decision, form.reason.clone())))
            .collect::<Result<_, Refusal>>()?,
        Action::Accept => {
            let selected: Vec<&ItemState> = if form.principals.is_empty() {
                instance
                    .items
                    .values()
                    .filter(|item| {
                        instance.pending(item.principal.id(), item)
                            && decisions::judge(
                                &names,
                                instance,
                                who.reviewer,
                                item.principal.id(),
                                None,
                            )
                            .is_ok()
                    })
                    .collect()
            } else {
                form.principals
                    .iter()
                    .map(|p| item_of(instance, p))
                    .collect::<Result<_, Refusal>>()?
            };
            selected
                .into_iter()
                .filter_map(|item| {
                    let decision = item.recommendation.decision?;
                    let reason = form.reason.clone().unwrap_or_else(|| {
                        format!("recommendation accepted: {}", item.recommendation.reason)
                    });
                    Some((item, decision, Some(reason)))
                })
                .collect()
        }
    };
    if chosen.is_empty() {
        return Err(Refusal::Form(
            "no item selected has a recommendation".to_owned(),
        ));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(chosen.len());
    for (item, decision, reason) in chosen {
        let principal = item.principal.id();
        if !seen.insert(principal) {
            continue;
        }
        decisions::judge(
            &names,
            instance,
            who.reviewer,
            principal,
            Some((decision, reason.as_deref())),
        )
        .map_err(|e| match e {
            decisions::Refused::NotAllowed(why) => Refusal::NotYours(why),
            decisions::Refused::Rule(why) => Refusal::Rule(why),
        })?;
        out.push(Recorded {
            instance: instance.id.clone(),
            reviewer: who.reviewer.to_owned(),
            principal: principal.to_owned(),
            decision,
            reason,
            at: now,
            subject: who.subject.to_owned(),
            issuer: who.issuer.to_owned(),
        });
    }
    Ok(out)
}

/// The item, or the same refusal whether it does not exist or is someone else's.
fn item_of<'a>(instance: &'a Instance, principal: &str) -> Result<&'a ItemState, Refusal> {
    instance
        .items
        .get(principal)
        .ok_or_else(|| Refusal::NotYours(format!("`{principal}` is not an item you review")))
}

/// `POST /reviews/{review}/decide`.
pub async fn decide<P: Principals>(
    State(portal): State<Arc<Portal<P>>>,
    Path(review): Path<String>,
    posted: Posted<Vec<(String, String)>>,
) -> Response {
    let Posted { user, form } = posted;
    let refuse = |status: StatusCode, why: &str| problem(status, "Not recorded", why);
    if user.read_only {
        return refuse(
            StatusCode::FORBIDDEN,
            "This page is read-only: decisions are made in the review's decisions files.",
        );
    }
    let Some(sink) = portal.sink.as_ref() else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "This page does not record decisions.",
        );
    };
    // The name comes from the URL and becomes a path below: only a review name can be one
    // (a DNS-1123 label, as the schema requires of every review), never `..` or a slash.
    if !is_review_name(&review) {
        return refused(
            &user,
            &review,
            Refusal::NotYours("no such review of yours".to_owned()),
        );
    }
    let form = match Form::parse(form) {
        Ok(form) => form,
        Err(refusal) => return refused(&user, &review, refusal),
    };
    let state = match sink.states.get(&sink.store, &review).await {
        Ok(Some(state)) => state,
        Ok(None) => {
            return refused(
                &user,
                &review,
                Refusal::NotYours("no such review of yours".to_owned()),
            );
        }
        Err(e) => {
            tracing::error!(review, error = %e, "the page could not read a review's state");
            return refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The review's state cannot be read now; try again.",
            );
        }
    };
    let who = Who {
        reviewer: &user.principal,
        subject: &user.subject,
        issuer: &user.issuer,
    };
    let lines = match lines(&state, who, &form, sink.ctx.now()) {
        Ok(lines) => lines,
        Err(refusal) => return refused(&user, &review, refusal),
    };
    let count = lines.len();
    if let Err(e) = sink.appender.append(&review, lines).await {
        tracing::error!(review, error = %e, "a decision from the page was not recorded");
        return refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The decision was not recorded; try again.",
        );
    }
    tracing::info!(review, reviewer = %user.principal, count, "decisions recorded from the page");
    let _ = sink.touched.send(std::iter::once(review.clone()).collect());
    let back = form
        .return_to
        .as_deref()
        .and_then(redirect::local_path)
        .unwrap_or_else(|| format!("/reviews/{}", redirect::encode(&review)));
    (StatusCode::SEE_OTHER, [(header::LOCATION, back)]).into_response()
}

/// Whether `name` can be a review's name: the schema's pattern for `metadata.name`.
fn is_review_name(name: &str) -> bool {
    static PATTERN: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    PATTERN
        .get_or_init(|| regex::Regex::new(crate::model::envelope::DNS1123_LABEL).ok())
        .as_ref()
        .is_some_and(|p| p.is_match(name))
}

fn refused(user: &SignedIn, review: &str, refusal: Refusal) -> Response {
    let (status, why) = match refusal {
        Refusal::Form(why) => (StatusCode::BAD_REQUEST, why),
        Refusal::NotYours(why) => {
            tracing::info!(review, principal = %user.principal, why, "a decision on an item not theirs was refused");
            (StatusCode::FORBIDDEN, why)
        }
        Refusal::Rule(why) => (StatusCode::CONFLICT, why),
    };
    problem(status, "Not recorded", &why)
}

#[cfg(test)]
mod tests {
    use super::is_review_name;

    #[test]
    fn only_a_review_name_from_the_url_reaches_the_state_directory() {
        for good in ["pra-manager", "a", "global-admins-2"] {
            assert!(is_review_name(good), "{good}");
        }
        for bad in [
            "",
            "..",
            "../archive/x",
            "a/b",
            "-a",
            "a-",
            "A",
            "a.b",
            "a\\b",
            &"a".repeat(64),
        ] {
            assert!(!is_review_name(bad), "{bad}");
        }
    }
}

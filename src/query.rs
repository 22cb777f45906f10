//! Read-only questions about the state directory: what waits for a reviewer, and the results
//! of an instance (`recert pending`, `recert export`). They never write.

use std::collections::BTreeSet;

use crate::reconcile;
use crate::reconcile::authority::Names as _;
use crate::status;
use crate::store::{self, Store};

/// An undecided item a reviewer may decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub review: String,
    pub instance: String,
    pub principal: String,
    pub display_name: String,
    /// With stages: the stage in progress, as "stage N (name)".
    pub stage: Option<String>,
    /// With stages: the earlier stages' decisions on the item, in words ("stage 1: approve by
    /// u-alice: reason"), unless the review hides them (`showPreviousStageDecisions: false`).
    pub earlier: Vec<String>,
}

/// Why a question cannot be answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    State(store::Error),
    #[error("no review `{review}` in {state_dir}")]
    NoReview { review: String, state_dir: String },
    #[error("review `{review}` has no instance `{instance}`")]
    NoInstance { review: String, instance: String },
    #[error("review `{0}` has no instance yet")]
    NoInstanceYet(String),
    #[error("the results cannot be rendered: {0}")]
    Render(status::RenderError),
}

/// The instances of reviews in the state directory with undecided items a reviewer may decide.
pub fn pending(store: &Store, reviewer: &str) -> Vec<Pending> {
    let (stored, _) = store.load();
    let mut out = Vec::new();
    for (name, entry) in stored {
        let state = entry.state;
        let Some(instance) = state.in_progress() else {
            continue;
        };
        // The reviewer as the review knows them: the name given, and the id it resolves to
        // (ids first, then names the directory resolved, then an item's user principal name),
        // by the same rule the engine decides with.
        let names = reconcile::InstanceNames::of(&state, Some(instance));
        let me: BTreeSet<String> = [reconcile::normalize(reviewer)]
            .into_iter()
            .chain(names.id(reviewer))
            .collect();
        let stage = instance
            .stages
            .get(instance.stage)
            .map(|s| reconcile::stages::title(instance.stage + 1, &s.name));
        let show = state.spec.settings.show_previous_stage_decisions;
        for (id, item) in &instance.items {
            if instance.pending(id, item)
                && reconcile::allowed_reviewers_in(&names, item)
                    .iter()
                    .any(|r| me.contains(r))
            {
                out.push(Pending {
                    review: name.clone(),
                    instance: instance.id.clone(),
                    principal: id.clone(),
                    display_name: item.principal.display_name().to_owned(),
                    stage: stage.clone(),
                    earlier: item
                        .stages
                        .iter()
                        .filter(|d| show && d.stage <= instance.stage)
                        .map(|d| {
                            let mut said = format!(
                                "stage {}: {} by {}",
                                d.stage, d.decision.decision, d.decision.reviewer
                            );
                            if let Some(reason) = &d.decision.reason {
                                said.push_str(&format!(": {reason}"));
                            }
                            said
                        })
                        .collect(),
                });
            }
        }
    }
    out
}

/// A stored review and the index of one of its instances (the latest when none is named):
/// what `export` and `report` read.
pub fn stored_instance(
    store: &Store,
    review: &str,
    instance: Option<&str>,
) -> Result<(store::Stored, usize), QueryError> {
    // Only this review's state is read; a state that cannot be read says why.
    let (mut stored, errors) = store.load_some(std::iter::once(review));
    if let Some(error) = errors.into_iter().next() {
        return Err(QueryError::State(error));
    }
    let entry = stored.remove(review).ok_or_else(|| QueryError::NoReview {
        review: review.to_owned(),
        state_dir: store.root().display().to_string(),
    })?;
    let index = match instance {
        Some(id) => entry
            .state
            .instances
            .iter()
            .position(|i| i.id == id)
            .ok_or_else(|| QueryError::NoInstance {
                review: review.to_owned(),
                instance: id.to_owned(),
            })?,
        None => entry
            .state
            .instances
            .len()
            .checked_sub(1)
            .ok_or_else(|| QueryError::NoInstanceYet(review.to_owned()))?,
    };
    Ok((entry, index))
}

/// The results CSV of a review's instance (the latest when none is named).
pub fn results(store: &Store, review: &str, instance: Option<&str>) -> Result<String, QueryError> {
    let (entry, index) = stored_instance(store, review, instance)?;
    status::results_csv(&entry.state, &entry.state.instances[index]).map_err(QueryError::Render)
}

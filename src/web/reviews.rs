//! What a signed-in person may see of the state directory: the items the engine lets them
//! decide (by [`crate::reconcile::allowed_reviewers_in`], the one rule of who decides what) and
//! the reviews they own. Read per request from the state directory; never written.

use std::path::Path;

use crate::reconcile::{self, InstanceNames};
use crate::state::{Instance, ItemState, ReviewState};
use crate::store::{self, Store, Stored};

/// Why a page cannot be shown. `NotFound` covers both a review that does not exist and one
/// the person has no part in, so that a page never tells which.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("there is no such review for you")]
    NotFound,
    #[error(transparent)]
    State(#[from] store::Error),
    #[error("the results cannot be rendered: {0}")]
    Render(#[from] crate::status::RenderError),
    #[error("the page's work stopped")]
    Failed,
}

/// Who is asking, as far as what they may see goes.
#[derive(Debug, Clone, Copy)]
pub struct Viewer<'a> {
    /// The directory user's id: the only name matched against reviewers.
    pub id: &'a str,
    /// Their user principal name: matched only against owners the directory never resolved.
    pub upn: &'a str,
    pub admin: bool,
}

/// A review's stored state, if `name` is a review the state directory records. The name comes
/// from a URL: it is looked up among the recorded names, never joined into a path unchecked.
pub fn load_review(state_dir: &Path, name: &str) -> Result<Stored, PageError> {
    let store = Store::open(state_dir)?;
    if !store.names()?.iter().any(|n| n == name) {
        return Err(PageError::NotFound);
    }
    let (mut stored, errors) = store.load_some(std::iter::once(name));
    if let Some(e) = errors.into_iter().next() {
        return Err(e.into());
    }
    stored.remove(name).ok_or(PageError::NotFound)
}

/// Every stored review; a state that cannot be read is logged and left out.
pub fn load_all(state_dir: &Path) -> Result<Vec<Stored>, PageError> {
    let store = Store::open(state_dir)?;
    let (stored, errors) = store.load();
    for e in errors {
        tracing::warn!(error = %e, "a review's state cannot be read for the reviewer page");
    }
    Ok(stored.into_values().collect())
}

/// The items of `instance` that `viewer` may decide (with stages: in the stage in progress),
/// in principal id order.
pub fn items_for<'s>(
    state: &'s ReviewState,
    instance: &'s Instance,
    viewer: &str,
) -> Vec<&'s ItemState> {
    let names = InstanceNames::of(state, Some(instance));
    instance
        .items
        .iter()
        .filter(|(id, item)| {
            instance.in_stage(id) && reconcile::allowed_reviewers_in(&names, item).contains(viewer)
        })
        .map(|(_, item)| item)
        .collect()
}

/// Whether earlier stages' decisions are kept from reviewers and the page: while a stage runs
/// in a review with `showPreviousStageDecisions: false`, as in `status.yaml`.
pub fn hides_earlier_stages(state: &ReviewState, instance: &Instance) -> bool {
    instance.staged()
        && instance.ended.is_none()
        && !state.spec.settings.show_previous_stage_decisions
}

/// The instance a reviewer page shows: the one named, else the running one, else the latest.
pub fn pick_instance<'s>(state: &'s ReviewState, id: Option<&str>) -> Option<&'s Instance> {
    match id {
        Some(id) => state.instances.iter().find(|i| i.id == id),
        None => state.in_progress().or_else(|| state.current()),
    }
}

/// Whether `viewer` owns the review (`spec.owners`, resolved to ids as the engine resolves
/// them); admins own every review.
pub fn owns(state: &ReviewState, viewer: Viewer<'_>) -> bool {
    if viewer.admin {
        return true;
    }
    state.spec.owners.iter().any(|owner| {
        match state.known.get(&reconcile::normalize(owner)) {
            Some(id) => id == viewer.id,
            // Not resolved by the directory: an owner named by user principal name is still
            // theirs, but a bare string never matches a user principal name, which could
            // spell somebody else's id.
            None => {
                owner == viewer.id
                    || (owner.contains('@') && owner.eq_ignore_ascii_case(viewer.upn))
            }
        }
    })
}

/// Decided and undecided among `items` (with stages: in the stage in progress).
pub fn progress(instance: &Instance, items: &[&ItemState]) -> (usize, usize) {
    let decided = items
        .iter()
        .filter(|i| instance.stage_decision(i).is_some())
        .count();
    (decided, items.len() - decided)
}

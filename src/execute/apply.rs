//! A review's removals, through the journal, so that each happens once across crashes.
//!
//! The removals of one review go to its directory together: intents for all of them are
//! journaled (one fsync), the directory removes them (`Directory::remove_many`: the embedded
//! directory edits its file once, Graph and SCIM send one request a removal under the HTTP
//! layer's retry policy), and their outcomes are journaled (one fsync). A crash after the
//! intents and before the outcomes is resumed by sending those removals again: one the
//! directory no longer has was removed by the interrupted attempt.

use std::collections::BTreeMap;

use serde_json::json;

use crate::context::Context;
use crate::directory::registry::Directories;
use crate::directory::{self, AnyDirectory, Directory, RemoveOutcome};
use crate::error::ReviewError;
use crate::journal::{Journal, JournalOutcome};
use crate::model::review::Timestamp;
use crate::reconcile::apply::{Outcome, record_outcome};
use crate::reconcile::{Effect, ReviewPlan};
use crate::state::{ApplyResult, Remediation};
use crate::status;
use crate::store::{Store, Stored};

use super::{record, remediation};

/// One removal of an item: which instance, which principal, what to remove.
type Target = (String, String, directory::Removal);

/// A review's removals carried out: their outcomes are in the entry's state, `events` are the
/// apply results to record, and the journal is cleared once they are.
#[derive(Debug)]
pub struct Applied {
    pub events: Vec<serde_json::Value>,
    pub journal: Option<Journal>,
}

/// Records a review's plan, then carries out its removals and puts their outcomes in the
/// state; the caller records them (with the status and results, in one audit append) and
/// then clears the journal. `applied` counts the apply results, by name.
pub async fn apply_review(
    ctx: &Context,
    store: &Store,
    review: &ReviewPlan,
    entry: &mut Stored,
    directories: &mut Directories<'_>,
    stamp: record::Stamp<'_>,
    applied: &mut BTreeMap<&'static str, u64>,
) -> Result<Applied, ReviewError> {
    let name = &review.review;
    let now = stamp.now;
    let events = record::Recording::of(review)?.events;
    // The directory is opened (for a large embedded one: its data copied and indexed) while
    // the state with the removals pending is recorded: neither waits for the other. Its
    // error, if any, counts only once the state is on disk.
    let directory_name = entry.state.spec.directory.clone();
    let (recorded, opened) = rayon::join(
        || record::record_state(store, name, entry, now, events),
        || directories.get(&directory_name).map(|_| ()),
    );
    recorded?;
    opened?;
    // The removals of each item, in the plan's order.
    let mut groups: BTreeMap<(String, String), Vec<directory::Removal>> = BTreeMap::new();
    for effect in &review.effects {
        if let Effect::Remove {
            instance,
            principal,
            removal,
        } = effect
        {
            groups
                .entry((instance.clone(), principal.clone()))
                .or_default()
                .push(removal.clone());
        }
    }
    if groups.is_empty() {
        return Ok(Applied {
            events: Vec::new(),
            journal: None,
        });
    }
    let directory = directories.get(&entry.state.spec.directory)?;
    let journal_error = |e: std::io::Error| {
        ReviewError::Journal(format!(
            "the apply journal `{}`: {e}",
            store.journal_path(name).display()
        ))
    };
    let mut journal = Journal::open(&store.journal_path(name)).map_err(journal_error)?;

    let targets: Vec<Target> = groups
        .iter()
        .flat_map(|((instance, principal), removals)| {
            removals
                .iter()
                .map(|r| (instance.clone(), principal.clone(), r.clone()))
        })
        .collect();
    let mut outcomes: BTreeMap<&Target, Outcome> = BTreeMap::new();
    let pending: Vec<&Target> = targets
        .iter()
        .filter(|t| match journal.outcome(&t.0, &t.1, &t.2) {
            Some(done) => {
                outcomes.insert(t, from_journal(done));
                false
            }
            None => true,
        })
        .collect();
    // The drill that keeps removed access in place needs the file as it was.
    let restore = match directory {
        AnyDirectory::File(file) if ctx.faults.restore_removed => std::fs::read(file.path()).ok(),
        _ => None,
    };
    let mut done = 0;
    for chunk in chunks(ctx, &pending) {
        if let Some(limit) = ctx.faults.abort_after_removals
            && done >= limit
        {
            std::process::abort();
        }
        if let Some(delay) = ctx.faults.remove_delay {
            tokio::time::sleep(delay).await;
        }
        let attempted: Vec<bool> = chunk
            .iter()
            .map(|t| journal.was_attempted(&t.0, &t.1, &t.2))
            .collect();
        let intents: Vec<(&str, &str, &directory::Removal)> = chunk
            .iter()
            .map(|t| (t.0.as_str(), t.1.as_str(), &t.2))
            .collect();
        journal.intents(&intents).map_err(journal_error)?;
        let removals: Vec<directory::Removal> = chunk.iter().map(|t| t.2.clone()).collect();
        let results = directory.remove_many(&removals).await;
        let mut answered = Vec::with_capacity(chunk.len());
        for ((target, result), attempted) in chunk.iter().zip(results).zip(attempted) {
            let outcome = match result {
                Ok(RemoveOutcome::NotFound) if attempted => Outcome::DoneBefore,
                Ok(done) => Outcome::Done(done),
                Err(e) => Outcome::Failed(e.to_string()),
            };
            answered.push((*target, to_journal(&outcome)));
            outcomes.insert(target, outcome);
        }
        let answered: Vec<(&str, &str, &directory::Removal, JournalOutcome)> = answered
            .into_iter()
            .map(|(t, outcome)| (t.0.as_str(), t.1.as_str(), &t.2, outcome))
            .collect();
        journal.record_all(&answered).map_err(journal_error)?;
        done += chunk.len();
        if ctx
            .faults
            .abort_after_removals
            .is_some_and(|limit| done >= limit)
        {
            std::process::abort();
        }
        if ctx.stop_requested() && outcomes.len() < targets.len() {
            return Err(ReviewError::Interrupted);
        }
    }

    if let (Some(before), AnyDirectory::File(file)) = (&restore, directory) {
        crate::fsutil::write_atomic(file.path(), before).map_err(|e| {
            ReviewError::StateWrite(format!("the restore drill: {}: {e}", file.path().display()))
        })?;
    }
    let proofs = prove(directory, &targets, &outcomes, now).await;

    let mut events = Vec::with_capacity(groups.len() + 1);
    let mut proven: BTreeMap<&str, Vec<serde_json::Value>> = BTreeMap::new();
    for ((instance, principal), removals) in &groups {
        let item_outcomes: Vec<Outcome> = removals
            .iter()
            .filter_map(|r| {
                outcomes
                    .get(&(instance.clone(), principal.clone(), r.clone()))
                    .cloned()
            })
            .collect();
        record_outcome(&mut entry.state, instance, principal, &item_outcomes, now);
        let item = entry
            .state
            .instances
            .iter_mut()
            .find(|i| i.id == *instance)
            .and_then(|i| i.items.get_mut(principal));
        let mut result = None;
        if let Some(item) = item {
            if let Some(proof) = proofs.get(&(instance.as_str(), principal.as_str())) {
                if let Remediation::StillPresent { access, .. } = proof {
                    item.apply_result = Some(ApplyResult::Failed {
                        error: format!(
                            "the directory still grants {} after answering its removal as done",
                            access.join(" and ")
                        ),
                        at: now,
                    });
                }
                proven
                    .entry(instance.as_str())
                    .or_default()
                    .push(proof_event(principal, proof));
                item.remediation = Some(proof.clone());
            }
            result = item.apply_result.clone();
        }
        if let Some(result) = &result {
            *applied
                .entry(status::apply_result_name(result))
                .or_default() += 1;
        }
        events.push(json!({ "change": "applyResult", "instance": instance, "principal": principal, "result": result }));
    }
    // One event per instance holds the proof of every item it checked.
    for (instance, items) in proven {
        events.push(json!({ "change": "remediationProof", "instance": instance, "items": items }));
    }
    Ok(Applied {
        events,
        journal: Some(journal),
    })
}

/// Reads the directory again for every removal answered as done (removed now, gone already,
/// or removed by an interrupted attempt) and sums up each item's checks: any access still
/// there makes it `stillPresent`, else any that could not be read `couldNotCheck`.
async fn prove<'t>(
    directory: &AnyDirectory,
    targets: &'t [Target],
    outcomes: &BTreeMap<&Target, Outcome>,
    now: Timestamp,
) -> BTreeMap<(&'t str, &'t str), Remediation> {
    let done: Vec<&Target> = targets
        .iter()
        .filter(|t| {
            matches!(
                outcomes.get(t),
                Some(
                    Outcome::DoneBefore
                        | Outcome::Done(RemoveOutcome::Removed | RemoveOutcome::NotFound)
                )
            )
        })
        .collect();
    if done.is_empty() {
        return BTreeMap::new();
    }
    let removals: Vec<&directory::Removal> = done.iter().map(|t| &t.2).collect();
    let checks = match directory.refresh() {
        Ok(()) => remediation::check(directory, &removals).await,
        Err(e) => vec![remediation::Check::Unknown(e.to_string()); removals.len()],
    };
    // Per item: the access still there, and the first error that kept a check from reading.
    #[derive(Default)]
    struct Seen {
        present: Vec<String>,
        unknown: Option<String>,
    }
    let mut per_item: BTreeMap<(&str, &str), Seen> = BTreeMap::new();
    for (target, check) in done.iter().zip(checks) {
        let entry = per_item
            .entry((target.0.as_str(), target.1.as_str()))
            .or_default();
        match check {
            remediation::Check::Gone => {}
            remediation::Check::Present => entry.present.push(target.2.to_string()),
            remediation::Check::Unknown(error) => {
                entry.unknown.get_or_insert(error);
            }
        }
    }
    per_item
        .into_iter()
        .map(|(key, Seen { present, unknown })| {
            let proof = match (present.is_empty(), unknown) {
                (false, _) => Remediation::StillPresent {
                    at: now,
                    access: present,
                },
                (true, Some(error)) => Remediation::CouldNotCheck { at: now, error },
                (true, None) => Remediation::Verified { at: now },
            };
            (key, proof)
        })
        .collect()
}

fn proof_event(principal: &str, proof: &Remediation) -> serde_json::Value {
    match proof {
        Remediation::Verified { .. } => json!({ "principal": principal, "proof": proof.name() }),
        Remediation::StillPresent { access, .. } => {
            json!({ "principal": principal, "proof": proof.name(), "access": access })
        }
        Remediation::CouldNotCheck { error, .. } => {
            json!({ "principal": principal, "proof": proof.name(), "error": error })
        }
    }
}

/// The removals, in the groups they are sent in: all at once, or one at a time when a drill's
/// fault hook is set, so that it can abort or be stopped between two removals as it could
/// against a slow directory.
fn chunks<'t>(ctx: &Context, pending: &'t [&'t Target]) -> std::slice::Chunks<'t, &'t Target> {
    let drill = ctx.faults.abort_after_removals.is_some() || ctx.faults.remove_delay.is_some();
    pending.chunks(if drill { 1 } else { pending.len().max(1) })
}

fn from_journal(done: &JournalOutcome) -> Outcome {
    match done {
        JournalOutcome::Done { outcome } => Outcome::Done(outcome.clone()),
        JournalOutcome::DoneBefore => Outcome::DoneBefore,
        JournalOutcome::Failed { error } => Outcome::Failed(error.clone()),
    }
}

fn to_journal(outcome: &Outcome) -> JournalOutcome {
    match outcome {
        Outcome::Done(outcome) => JournalOutcome::Done {
            outcome: outcome.clone(),
        },
        Outcome::DoneBefore => JournalOutcome::DoneBefore,
        Outcome::Failed(error) => JournalOutcome::Failed {
            error: error.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::file::FileDirectory;
    use crate::model::directory_data::AssignmentType;

    const DATA: &str = "apiVersion: recert.dev/v1alpha1
kind: DirectoryData
metadata: {name: corp}
spec:
  users:
    - {id: u-a, userPrincipalName: a@x}
    - {id: u-b, userPrincipalName: b@x}
  roles:
    - {id: r-1, displayName: Admin}
  assignments:
    - {id: a-1, principal: u-a, role: r-1}
    - {id: a-2, principal: u-a, role: r-1, type: eligible}
    - {id: a-3, principal: u-b, role: r-1}
";

    fn removal(id: &str, principal: &str, kind: AssignmentType) -> directory::Removal {
        directory::Removal::Assignment {
            id: id.to_owned(),
            kind,
            principal: principal.to_owned(),
            role: "r-1".to_owned(),
            scope: String::new(),
        }
    }

    #[test]
    fn each_item_is_proven_by_all_its_removals_and_an_unreadable_directory_proves_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("data.yaml");
        std::fs::write(&path, DATA).expect("write");
        let directory = AnyDirectory::File(FileDirectory::open(&path).expect("valid"));
        let now = Timestamp::parse("2026-12-23T10:00:00Z").expect("time");
        let targets: Vec<Target> = vec![
            (
                "i".into(),
                "u-a".into(),
                removal("a-1", "u-a", AssignmentType::Active),
            ),
            (
                "i".into(),
                "u-a".into(),
                removal("a-2", "u-a", AssignmentType::Eligible),
            ),
            (
                "i".into(),
                "u-b".into(),
                removal("a-3", "u-b", AssignmentType::Active),
            ),
        ];
        let removals: Vec<directory::Removal> = targets.iter().map(|t| t.2.clone()).collect();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let answered = runtime.block_on(directory.remove_many(&removals));
        assert!(answered.iter().all(|a| *a == Ok(RemoveOutcome::Removed)));
        let done: BTreeMap<&Target, Outcome> = targets
            .iter()
            .map(|t| (t, Outcome::Done(RemoveOutcome::Removed)))
            .collect();
        let prove_now = || runtime.block_on(prove(&directory, &targets, &done, now));

        let proofs = prove_now();
        assert_eq!(proofs[&("i", "u-a")], Remediation::Verified { at: now });
        assert_eq!(proofs[&("i", "u-b")], Remediation::Verified { at: now });

        // a-2 comes back: u-a's item is still present, for that access alone.
        let one_back = DATA
            .replace("    - {id: a-1, principal: u-a, role: r-1}\n", "")
            .replace("    - {id: a-3, principal: u-b, role: r-1}\n", "");
        std::fs::write(&path, one_back).expect("put one back");
        let proofs = prove_now();
        assert_eq!(
            proofs[&("i", "u-a")],
            Remediation::StillPresent {
                at: now,
                access: vec!["eligible assignment `a-2`".to_owned()]
            }
        );
        assert_eq!(proofs[&("i", "u-b")], Remediation::Verified { at: now });

        // A file that no longer reads: nothing is proven either way, and the error says why.
        std::fs::write(&path, "spec: [").expect("break");
        for proof in prove_now().values() {
            assert!(
                matches!(proof, Remediation::CouldNotCheck { error, .. } if error.contains("data.yaml")),
                "{proof:?}"
            );
        }
    }
}

//! The population at launch, checked: each instance's items must still hash to the digest
//! recorded when it started ([`crate::population`]), in its state and in the `instanceStarted`
//! record of the audit trail, so that a snapshot edited after launch is caught even when the
//! state's own record of the digest was edited to match.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Record;
use crate::state::ReviewState;

/// What the trail recorded of each instance's population: its digest, by instance id, with the
/// record that carried it; `None` for an `instanceStarted` record without one (written before
/// Recert recorded populations).
pub type Recorded = BTreeMap<String, (u64, Option<String>)>;

/// Adds what a record carries (if it is an `instanceStarted` event) to `recorded`.
pub(crate) fn collect(record: &Record, recorded: &mut Recorded) {
    let event = &record.event;
    if event.get("change").and_then(Value::as_str) != Some("instanceStarted") {
        return;
    }
    let Some(instance) = event.get("instance").and_then(Value::as_str) else {
        return;
    };
    let digest = event
        .pointer("/population/digest")
        .and_then(Value::as_str)
        .map(str::to_owned);
    recorded.insert(instance.to_owned(), (record.seq, digest));
}

/// A population that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    #[error(
        "{path}: instance {instance}: the items no longer hash to the population's digest ({recorded}, now {found}): the snapshot was edited after launch"
    )]
    ItemsEdited {
        path: String,
        instance: String,
        recorded: String,
        found: String,
    },
    #[error(
        "{path}: instance {instance}: the population's digest ({state}) is not the one record {seq} of the audit trail recorded at launch ({trail}): the state was edited"
    )]
    DigestEdited {
        path: String,
        instance: String,
        seq: u64,
        state: String,
        trail: String,
    },
    #[error(
        "{path}: instance {instance}: record {seq} of the audit trail recorded a population at launch, but the state holds none: it was removed"
    )]
    Removed {
        path: String,
        instance: String,
        seq: u64,
    },
}

/// Checks every instance of `state` (read from `path`) against its population and against
/// what the trail recorded.
pub fn check(path: &str, state: &ReviewState, recorded: &Recorded) -> Vec<Mismatch> {
    let mut out = Vec::new();
    for instance in &state.instances {
        let trail = recorded.get(&instance.id);
        let Some(population) = &instance.population else {
            if let Some((seq, Some(_))) = trail {
                out.push(Mismatch::Removed {
                    path: path.to_owned(),
                    instance: instance.id.clone(),
                    seq: *seq,
                });
            }
            continue;
        };
        let found = crate::population::digest(&instance.items);
        if found != population.digest {
            out.push(Mismatch::ItemsEdited {
                path: path.to_owned(),
                instance: instance.id.clone(),
                recorded: population.digest.clone(),
                found,
            });
        }
        if let Some((seq, Some(digest))) = trail
            && *digest != population.digest
        {
            out.push(Mismatch::DigestEdited {
                path: path.to_owned(),
                instance: instance.id.clone(),
                seq: *seq,
                state: population.digest.clone(),
                trail: digest.clone(),
            });
        }
    }
    out
}

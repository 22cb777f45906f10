//! Typed decoding of a large `DirectoryData` on every core.
//!
//! Its lists hold a hundred thousand entries and decoding them one after another kept one core
//! busy while the other waited. The entries of a list decode independently, so each list is
//! decoded in parallel and the rest of the document (the envelope, anything unexpected in
//! `spec`) as usual. Only the fast path: on any failure the caller decodes the whole value
//! again one entry after another, which reports the error exactly as before.

use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::model::Resource;
use crate::model::directory_data::DirectoryData;

/// Below this many entries in all, the plain decode is as fast.
const MIN_ENTRIES: usize = 4096;

/// The lists of a `DirectoryData`'s `spec`, decoded entry by entry.
const LISTS: [&str; 4] = ["users", "groups", "roles", "assignments"];

/// The `DirectoryData` in `value`, or `None` when it is small or anything fails to decode.
pub(crate) fn directory_data(value: &Value) -> Option<Resource> {
    let spec = value.get("spec")?.as_object()?;
    let list = |key: &str| spec.get(key).and_then(Value::as_array);
    let entries: usize = LISTS.iter().filter_map(|key| list(key)).map(Vec::len).sum();
    if entries < MIN_ENTRIES {
        return None;
    }
    // The document with its lists emptied: decoded as usual, so every other field (and an
    // unknown one) is handled exactly as the plain decode handles it.
    let rest = without_lists(value)?;
    let (head, lists) = rayon::join(
        move || serde_json::from_value::<DirectoryData>(rest).ok(),
        || {
            let ((users, groups), (roles, assignments)) = rayon::join(
                || rayon::join(|| decode_all(list("users")), || decode_all(list("groups"))),
                || {
                    rayon::join(
                        || decode_all(list("roles")),
                        || decode_all(list("assignments")),
                    )
                },
            );
            Some((users?, groups?, roles?, assignments?))
        },
    );
    let mut data = head?;
    let (users, groups, roles, assignments) = lists?;
    data.spec.users = users;
    data.spec.groups = groups;
    data.spec.roles = roles;
    data.spec.assignments = assignments;
    Some(Resource::DirectoryData(data))
}

/// Frees a large document's tree on every core: a hundred thousand small maps took one core
/// some 25 ms to free while the other waited.
pub(crate) fn drop_in_parallel(mut value: Value) {
    let Some(spec) = value.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let lists: Vec<Vec<Value>> = spec
        .values_mut()
        .filter_map(|v| match v {
            Value::Array(items) if items.len() >= MIN_ENTRIES => Some(std::mem::take(items)),
            _ => None,
        })
        .collect();
    lists
        .into_par_iter()
        .flat_map(|items| items.into_par_iter().with_min_len(1024))
        .for_each(drop);
}

/// Every entry of a list; an absent list is empty, as the plain decode's default makes it.
fn decode_all<T: DeserializeOwned + Send>(list: Option<&Vec<Value>>) -> Option<Vec<T>> {
    list.map_or(Some(Vec::new()), |items| {
        items
            .par_iter()
            .with_min_len(512)
            .map(|item| T::deserialize(item).ok())
            .collect()
    })
}

/// A copy of the document whose `spec` lists are empty (a list that is not a list is kept).
fn without_lists(value: &Value) -> Option<Value> {
    let mut copy = serde_json::Map::new();
    for (key, value) in value.as_object()? {
        let value = match (key.as_str(), value) {
            ("spec", Value::Object(spec)) => Value::Object(
                spec.iter()
                    .map(|(k, v)| match v {
                        Value::Array(_) if LISTS.contains(&k.as_str()) => {
                            (k.clone(), Value::Array(Vec::new()))
                        }
                        _ => (k.clone(), v.clone()),
                    })
                    .collect(),
            ),
            _ => value.clone(),
        };
        copy.insert(key.clone(), value);
    }
    Some(Value::Object(copy))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(users: usize, extra: &str) -> Value {
        let users: Vec<Value> = (0..users)
            .map(|i| {
                serde_json::json!({
                    "id": format!("u-{i}"),
                    "userPrincipalName": format!("user{i}@corp.example"),
                    "lastSignIn": "2026-06-01",
                    "enabled": i % 7 != 0,
                })
            })
            .collect();
        let assignments: Vec<Value> = (0..users.len())
            .map(|i| serde_json::json!({"id": format!("a-{i}"), "principal": format!("u-{i}"), "role": "r-1", "type": if i % 2 == 0 { "active" } else { "eligible" }}))
            .collect();
        let mut value = serde_json::json!({
            "apiVersion": "recert.dev/v1alpha1",
            "kind": "DirectoryData",
            "metadata": {"name": "corp", "labels": {"team": "iam"}},
            "spec": {
                "users": users,
                "roles": [{"id": "r-1", "displayName": "Admin"}],
                "assignments": assignments,
            },
        });
        if !extra.is_empty() {
            value["spec"][extra] = Value::Bool(true);
        }
        value
    }

    #[test]
    fn a_large_directory_decodes_to_what_the_plain_decode_gives() {
        let value = data(5000, "");
        let Some(Resource::DirectoryData(parallel)) = directory_data(&value) else {
            panic!("decodes in parallel");
        };
        let plain: DirectoryData = serde_json::from_value(value).expect("plain decode");
        assert_eq!(parallel.spec, plain.spec);
        assert_eq!(
            serde_json::to_value(&parallel).expect("serialises"),
            serde_json::to_value(&plain).expect("serialises")
        );
        assert_eq!(parallel.spec.users.len(), 5000);
        assert!(parallel.spec.groups.is_empty());
    }

    #[test]
    fn anything_wrong_or_small_is_left_to_the_plain_decode() {
        // An unknown field in spec, a bad entry deep in a list, a list that is not a list.
        assert!(directory_data(&data(5000, "surprise")).is_none());
        let mut bad = data(5000, "");
        bad["spec"]["users"][4321]["lastSignIn"] = Value::String("2026-02-30".to_owned());
        assert!(directory_data(&bad).is_none());
        let mut odd = data(5000, "");
        odd["spec"]["groups"] = Value::String("none".to_owned());
        assert!(directory_data(&odd).is_none());
        assert!(directory_data(&data(100, "")).is_none());
    }
}

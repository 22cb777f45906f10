//! `ScimDirectory` against the real server, where counting its requests matters: ETag
//! conflicts, removals that find nothing to remove, batched look-ups, and the server's page cap.

use std::path::Path;

use recert::directory::scim::ScimDirectory;
use recert::directory::{Directory, Principal, Removal, RemoveOutcome};
use serde_json::json;

use super::peer::{Tenant, user};

fn open(tenant: &Tenant, page_size: Option<u32>) -> ScimDirectory {
    ScimDirectory::new(&tenant.settings(page_size), Path::new(".")).expect("opens")
}

fn member(group: &str, member: &str) -> Removal {
    Removal::GroupMember {
        group: group.to_owned(),
        member: member.to_owned(),
    }
}

#[test]
fn a_removal_on_a_stale_etag_reads_the_group_again_and_retries() {
    let tenant = Tenant::new("etag-412");
    let ids = tenant.users(&[user("ann"), user("ben"), user("cat")]);
    let group = tenant.group("Ops", &[&ids["ann"], &ids["ben"]]);
    let directory = open(&tenant, None);

    // Recert reads the group (and its version); someone else then changes it.
    let page = tenant
        .block_on(directory.list_members(&group, None))
        .expect("members");
    assert_eq!(page.items.len(), 2);
    tenant.patch_member(&group, "add", &ids["cat"]);

    let outcome = tenant.block_on(directory.remove(&member(&group, &ids["ann"])));
    assert_eq!(outcome, Ok(RemoveOutcome::Removed));
    let requests = directory.requests();
    assert_eq!(
        requests.get(&("PATCH".into(), 412)),
        Some(&1),
        "{requests:?}"
    );
    assert_eq!(
        requests.get(&("PATCH".into(), 204)),
        Some(&1),
        "{requests:?}"
    );
    let mut expected = vec![ids["ben"].clone(), ids["cat"].clone()];
    expected.sort();
    assert_eq!(tenant.members(&group), expected, "the other change is kept");
}

#[test]
fn a_member_already_gone_and_a_missing_group_are_not_found_and_write_nothing() {
    let tenant = Tenant::new("not-found");
    let ids = tenant.users(&[user("ann"), user("ben")]);
    let group = tenant.group("Ops", &[&ids["ann"], &ids["ben"]]);
    let directory = open(&tenant, None);

    let first = tenant.block_on(directory.remove(&member(&group, &ids["ann"])));
    assert_eq!(first, Ok(RemoveOutcome::Removed));
    let again = tenant.block_on(directory.remove(&member(&group, &ids["ann"])));
    assert_eq!(again, Ok(RemoveOutcome::NotFound));
    let gone = tenant.block_on(directory.remove(&member("no-such-group", &ids["ben"])));
    assert_eq!(gone, Ok(RemoveOutcome::NotFound));
    assert_eq!(
        directory.requests_with("PATCH"),
        1,
        "{:?}",
        directory.requests()
    );
    assert_eq!(tenant.members(&group), [ids["ben"].clone()]);

    // The assignment form of a removal (a role review) names the group as its role.
    let by_assignment = Removal::Assignment {
        id: recert::directory::scim::assignment_id(&group, &ids["ben"]),
        kind: Default::default(),
        principal: ids["ben"].clone(),
        role: group.clone(),
        scope: "/".into(),
    };
    assert_eq!(
        tenant.block_on(directory.remove(&by_assignment)),
        Ok(RemoveOutcome::Removed)
    );
    assert!(tenant.members(&group).is_empty());
}

#[test]
fn look_ups_go_fifty_ids_to_a_request_and_page_within_a_batch() {
    let tenant = Tenant::new("lookups");
    let names: Vec<String> = (0..120)
        .map(|i| format!("user{i:03}@corp.example"))
        .collect();
    let ids = tenant.users(&names.iter().map(|n| user(n)).collect::<Vec<_>>());
    let group = tenant.group("Ops", &[&ids[&names[0]]]);

    // Ids, user names in another case, a group and a name that matches nothing.
    let mut wanted: Vec<String> = names[..100].iter().map(|n| ids[n].clone()).collect();
    wanted.extend(names[100..].iter().map(|n| n.to_uppercase()));
    wanted.push(group.clone());
    wanted.push("nobody@corp.example".into());

    for (page_size, expected_gets) in [(None, 4), (Some(7), 20)] {
        let directory = open(&tenant, page_size);
        let batch = directory.lookup_batch_size();
        let mut found = Vec::new();
        for chunk in wanted.chunks(batch) {
            found.extend(tenant.block_on(directory.lookup(chunk)).expect("look-up"));
        }
        let users = found
            .iter()
            .filter(|p| matches!(p, Principal::User(_)))
            .count();
        let groups = found
            .iter()
            .filter(|p| matches!(p, Principal::Group(_)))
            .count();
        assert_eq!((users, groups), (120, 1), "page size {page_size:?}");
        // 50 ids a batch: 3 user queries, and one group query for the last batch, whose ids
        // did not all match a user. Seven to a page, the batches take 8 + 8 + 3 pages.
        assert_eq!(
            directory.requests_with("GET"),
            expected_gets,
            "page size {page_size:?}: {:?}",
            directory.requests()
        );
    }
}

#[test]
fn a_list_goes_on_past_the_servers_page_cap() {
    let tenant = Tenant::new("page-cap");
    let operations = (0..1005)
        .map(|i| {
            json!({"method": "POST", "path": "/Groups", "bulkId": format!("g{i}"),
                   "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                            "displayName": format!("Group {i:04}")}})
        })
        .collect();
    let ids = tenant.bulk(operations);
    // Asked for 5000 a page, the server sends at most 1000 (its maxResults).
    let directory = open(&tenant, Some(5000));
    let roles = tenant.block_on(directory.roles()).expect("roles");
    assert_eq!(roles.len(), 1005);
    let mut listed: Vec<&str> = roles.iter().map(|r| r.id.as_str()).collect();
    listed.sort_unstable();
    listed.dedup();
    assert_eq!(listed.len(), 1005, "no group is listed twice");
    assert!(
        ids.values()
            .all(|id| listed.binary_search(&id.as_str()).is_ok())
    );
    assert_eq!(
        directory.requests_with("GET"),
        2,
        "{:?}",
        directory.requests()
    );
}

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

    // The version the PATCH answered with stands in for a read: the next removal from the
    // same group is a single request.
    let before = directory.requests();
    let outcome = tenant.block_on(directory.remove(&member(&group, &ids["ben"])));
    assert_eq!(outcome, Ok(RemoveOutcome::Removed));
    let sent: u64 = directory.requests().values().sum::<u64>() - before.values().sum::<u64>();
    assert_eq!(sent, 1, "{:?}", directory.requests());
    assert_eq!(tenant.members(&group), [ids["cat"].clone()]);
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

    for (page_size, expected_gets) in [(None, 6), (Some(7), 22)] {
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
        // did not all match a user (seven to a page, the batches take 8 + 8 + 3 pages); then
        // the one name nothing matched is asked for by path, as a user and as a group.
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

#[test]
fn a_server_that_refuses_the_rfc_form_gets_the_entra_form_and_keeps_getting_it() {
    // django-scim2 answers the RFC form with 501 and takes only the Entra ID form.
    let peer = Tenant::entra();
    let ids: Vec<String> = ["ann", "ben", "cat"]
        .iter()
        .map(|n| peer.create_user(&format!("dialect-{n}")))
        .collect();
    let group = peer.group("dialect-ops", &[]);
    for id in &ids {
        peer.patch_member(&group, "add", id);
    }
    let directory = open(&peer, None);

    let first = peer.block_on(directory.remove(&member(&group, &ids[0])));
    assert_eq!(first, Ok(RemoveOutcome::Removed));
    let requests = directory.requests();
    assert_eq!(
        (
            requests.get(&("PATCH".into(), 501)),
            requests.get(&("PATCH".into(), 200))
        ),
        (Some(&1), Some(&1)),
        "the RFC form, refused, then the Entra form: {requests:?}"
    );
    // The shared layer counts every attempt; no other peer answers 501, so this one is ours.
    assert_eq!(
        recert::directory::http::request_counts().get(&("scim", "501".to_owned())),
        Some(&1),
        "a 501 is not retried"
    );

    let second = peer.block_on(directory.remove(&member(&group, &ids[1])));
    assert_eq!(second, Ok(RemoveOutcome::Removed));
    let requests = directory.requests();
    assert_eq!(
        (
            requests.get(&("PATCH".into(), 501)),
            requests.get(&("PATCH".into(), 200))
        ),
        (Some(&1), Some(&2)),
        "the Entra form first, remembered: {requests:?}"
    );

    let again = peer.block_on(directory.remove(&member(&group, &ids[0])));
    assert_eq!(again, Ok(RemoveOutcome::NotFound));
    assert_eq!(
        directory.requests_with("PATCH"),
        3,
        "{:?}",
        directory.requests()
    );
    assert_eq!(peer.members(&group), [ids[2].clone()]);

    // Its filter ignores `id` (it answers with nothing, not an error): a user the filter
    // missed is still found by path, and the filter is not trusted for ids again.
    let gets = directory.requests_with("GET");
    let wanted = [ids[2].clone(), "DIALECT-ANN".to_owned()];
    let found = peer.block_on(directory.lookup(&wanted)).expect("look-up");
    let mut names: Vec<&str> = found
        .iter()
        .map(|p| match p {
            Principal::User(u) => u.user_principal_name.as_str(),
            Principal::Group(g) => g.display_name.as_str(),
            Principal::ServicePrincipal(s) => s.display_name.as_str(),
        })
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["dialect-ann", "dialect-cat"]);
    assert_eq!(
        directory.requests_with("GET") - gets,
        3,
        "a user filter, a group filter for the id no user matched, then GET /Users/{{id}} for the \
         one it missed: {:?}",
        directory.requests()
    );
    let gets = directory.requests_with("GET");
    let found = peer
        .block_on(directory.lookup(&wanted[..1]))
        .expect("look-up");
    assert_eq!(found.len(), 1);
    assert_eq!(
        directory.requests_with("GET") - gets,
        1,
        "straight to GET /Users/{{id}}"
    );
}

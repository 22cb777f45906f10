//! Looking principals up: batched `or` filters, checked by path where a filter found nothing.

use std::sync::atomic::Ordering;

use super::{GROUP_ATTRIBUTES, Queried, ScimDirectory, USER_ATTRIBUTES, filter, wire};
use crate::directory::{Error, Principal};

impl ScimDirectory {
    /// The principals these ids or user names name, in as few requests as the server allows.
    pub(super) async fn look_up(&self, ids: &[String]) -> Result<Vec<Principal>, Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        if self.no_or_filters.load(Ordering::Relaxed) {
            return self.lookup_each(ids, true).await;
        }
        let Some(mut found) = self.lookup_batched(ids).await? else {
            self.no_or_filters.store(true, Ordering::Relaxed);
            return self.lookup_each(ids, true).await;
        };
        // Some servers ignore a filter attribute they do not support (django-scim2 and `id`)
        // and answer with nothing rather than an error, which would drop principals from a
        // review without a word. So each id the filter did not match is asked for by path,
        // and once that finds what the filter missed, the filter is not trusted again.
        let missing: Vec<String> = ids
            .iter()
            .filter(|id| !found.iter().any(|p| matches(p, id)))
            .cloned()
            .collect();
        if !missing.is_empty() {
            let extra = self.lookup_each(&missing, false).await?;
            if !extra.is_empty() {
                self.no_or_filters.store(true, Ordering::Relaxed);
            }
            found.extend(extra);
        }
        Ok(found)
    }

    /// Users by id or user name, then groups by id, with one `or` filter each.
    async fn lookup_batched(&self, ids: &[String]) -> Result<Option<Vec<Principal>>, Error> {
        let users = filter::any(
            ids.iter()
                .flat_map(|id| [filter::eq("id", id), filter::eq("userName", id)]),
        );
        let users: Vec<wire::User> =
            match self.query("Users", Some(&users), USER_ATTRIBUTES).await? {
                Queried::Found(users) => users,
                Queried::FilterRejected(_) => return Ok(None),
            };
        let mut out: Vec<Principal> = users
            .into_iter()
            .map(|u| Principal::User(u.into_info()))
            .collect();
        let rest: Vec<&String> = ids
            .iter()
            .filter(|id| !out.iter().any(|p| matches(p, id)))
            .collect();
        if !rest.is_empty() {
            let groups = filter::any(rest.iter().map(|id| filter::eq("id", id)));
            match self
                .query::<wire::Group>("Groups", Some(&groups), GROUP_ATTRIBUTES)
                .await?
            {
                Queried::Found(groups) => {
                    out.extend(groups.iter().map(|g| Principal::Group(g.info())));
                }
                Queried::FilterRejected(_) => return Ok(None),
            }
        }
        Ok(Some(out))
    }

    /// The fallback for servers without (reliable) `or` filters: each id by `GET /Users/{id}`,
    /// then by `userName eq` (unless a filter already asked), then as a group.
    async fn lookup_each(&self, ids: &[String], by_name: bool) -> Result<Vec<Principal>, Error> {
        let mut out = Vec::new();
        for id in ids {
            if let Some((user, _)) = self
                .get_one::<wire::User>("Users", id, USER_ATTRIBUTES)
                .await?
            {
                out.push(Principal::User(user.into_info()));
                continue;
            }
            let name = filter::eq("userName", id);
            if by_name
                && let Queried::Found(users) = self
                    .query::<wire::User>("Users", Some(&name), USER_ATTRIBUTES)
                    .await?
                && let Some(user) = users.into_iter().next()
            {
                out.push(Principal::User(user.into_info()));
                continue;
            }
            if let Some((group, _)) = self
                .get_one::<wire::Group>("Groups", id, GROUP_ATTRIBUTES)
                .await?
            {
                out.push(Principal::Group(group.info()));
            }
        }
        Ok(out)
    }
}

/// Whether a principal answers to `key`: its id, or a user's name without case.
fn matches(principal: &Principal, key: &str) -> bool {
    match principal {
        Principal::User(u) => u.id == key || u.user_principal_name.eq_ignore_ascii_case(key),
        Principal::Group(g) => g.id == key,
        Principal::ServicePrincipal(s) => s.id == key,
    }
}

//! Removing a member from a group: `PATCH /Groups/{id}`.
//!
//! Servers disagree on the form (see the project's test-peer notes): the RFC 7644 §3.5.2.2
//! form `{"op":"remove","path":"members[value eq \"id\"]"}` is sent first; a server that
//! answers it with 400 `invalidValue`/`invalidPath` or 501 gets, once, the Entra ID form
//! `{"op":"remove","path":"members","value":[{"value":"id"}]}`. Whichever form a server
//! accepted is sent first from then on.
//!
//! A removal first makes sure the member is there — a group that is gone (404) or a member
//! already absent is `NotFound`, and sends no write — then patches with `If-Match` set to the
//! version it read, when the server gives versions. A 412 means the group changed in between:
//! it is read again and the removal retried, a bounded number of times.

use std::sync::atomic::Ordering;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::wire::{PATCH_OP, ScimError};
use super::{ScimDirectory, etag, filter};
use crate::directory::http::Response;
use crate::directory::{Error, RemoveOutcome};

/// Conflicting writes (412) tolerated for one removal before it fails.
const MAX_CONFLICTS: u32 = 3;

/// A member-removal form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Dialect {
    /// Nothing accepted yet: the RFC form goes first.
    Unknown = 0,
    Rfc = 1,
    Entra = 2,
}

impl Dialect {
    fn from_u8(n: u8) -> Dialect {
        match n {
            1 => Dialect::Rfc,
            2 => Dialect::Entra,
            _ => Dialect::Unknown,
        }
    }

    fn other(self) -> Dialect {
        match self {
            Dialect::Entra => Dialect::Rfc,
            Dialect::Rfc | Dialect::Unknown => Dialect::Entra,
        }
    }

    /// The PATCH body that removes `member` in this form.
    pub fn body(self, member: &str) -> Value {
        let operation = match self {
            Dialect::Entra => {
                json!({"op": "remove", "path": "members", "value": [{"value": member}]})
            }
            Dialect::Rfc | Dialect::Unknown => {
                json!({"op": "remove", "path": filter::member_path(member)})
            }
        };
        json!({"schemas": [PATCH_OP], "Operations": [operation]})
    }
}

/// How one PATCH went.
#[derive(Debug)]
enum Patched {
    /// Removed; the group's new version, if the server sent one.
    Done(Option<String>),
    /// The group, or the member, is not there.
    Absent,
    /// The group changed since it was read (412).
    Conflict,
    /// The server does not take this form of removal.
    FormRejected(Error),
}

/// Whether an error response refuses the removal's form rather than its content: a 400
/// whose `scimType` says the path or value is not understood, or 501.
fn form_rejected(response: &Response) -> bool {
    match response.status {
        StatusCode::NOT_IMPLEMENTED => true,
        StatusCode::BAD_REQUEST => ScimError::parse(&response.body)
            .and_then(|e| e.scim_type)
            .is_some_and(|t| matches!(t.as_str(), "invalidValue" | "invalidPath")),
        _ => false,
    }
}

/// A 400 `noTarget`: the path selected nothing, so the member is already absent.
fn no_target(response: &Response) -> bool {
    response.status == StatusCode::BAD_REQUEST
        && ScimError::parse(&response.body)
            .and_then(|e| e.scim_type)
            .is_some_and(|t| t == "noTarget")
}

impl ScimDirectory {
    pub(super) async fn remove_member(
        &self,
        group: &str,
        member: &str,
    ) -> Result<RemoveOutcome, Error> {
        // A remembered copy is trusted only to say the member is there: the PATCH's If-Match
        // catches it being stale. That the member is absent is always read fresh.
        let mut known = self.remembered_version(group, member);
        for _ in 0..MAX_CONFLICTS {
            let version = match known.take() {
                Some(version) => Some(version),
                None => match self.read_group(group).await? {
                    Some((_, snapshot)) if snapshot.members.contains(member) => snapshot.version,
                    _ => return Ok(RemoveOutcome::NotFound),
                },
            };
            match self.patch_remove(group, member, version.as_deref()).await? {
                Patched::Done(version) => {
                    self.removed(group, member, version);
                    return Ok(RemoveOutcome::Removed);
                }
                Patched::Absent => {
                    self.forget(group);
                    return Ok(RemoveOutcome::NotFound);
                }
                Patched::Conflict => self.forget(group),
                Patched::FormRejected(e) => return Err(e),
            }
        }
        Err(Error::Http {
            status: 412,
            body: format!(
                "group `{group}` changed under every one of {MAX_CONFLICTS} attempts to remove `{member}`"
            ),
        })
    }

    /// One removal, in the form this server took last, and once in the other form if that
    /// one is refused.
    async fn patch_remove(
        &self,
        group: &str,
        member: &str,
        version: Option<&str>,
    ) -> Result<Patched, Error> {
        let first = Dialect::from_u8(self.dialect.load(Ordering::Relaxed));
        let first = if first == Dialect::Unknown {
            Dialect::Rfc
        } else {
            first
        };
        let refused = match self.patch_once(group, member, version, first).await? {
            Patched::FormRejected(e) => e,
            done => return Ok(done),
        };
        let second = first.other();
        match self.patch_once(group, member, version, second).await? {
            Patched::FormRejected(e) => Ok(Patched::FormRejected(Error::Invalid(format!(
                "group `{group}` refused both forms of member removal: {refused}; then {e}"
            )))),
            done => Ok(done),
        }
    }

    async fn patch_once(
        &self,
        group: &str,
        member: &str,
        version: Option<&str>,
        dialect: Dialect,
    ) -> Result<Patched, Error> {
        let response = self
            .call(
                Method::PATCH,
                self.url(&["Groups", group]),
                &[],
                Some(&dialect.body(member)),
                version,
            )
            .await?;
        let outcome = match response.status {
            StatusCode::OK | StatusCode::NO_CONTENT => Patched::Done(etag(&response)),
            StatusCode::NOT_FOUND => Patched::Absent,
            StatusCode::PRECONDITION_FAILED => Patched::Conflict,
            _ if no_target(&response) => Patched::Absent,
            _ if form_rejected(&response) => Patched::FormRejected(self.http.unexpected(&response)),
            _ => return Err(self.http.unexpected(&response)),
        };
        if matches!(outcome, Patched::Done(_) | Patched::Absent) {
            self.dialect.store(dialect as u8, Ordering::Relaxed);
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::http::test_response as response;

    #[test]
    fn the_two_forms_of_removal() {
        assert_eq!(
            Dialect::Rfc.body("u\"1"),
            json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "remove", "path": "members[value eq \"u\\\"1\"]"}]})
        );
        assert_eq!(
            Dialect::Entra.body("u1"),
            json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "remove", "path": "members", "value": [{"value": "u1"}]}]})
        );
        assert_eq!(Dialect::Unknown.other(), Dialect::Entra);
        assert_eq!(Dialect::Entra.other(), Dialect::Rfc);
    }

    #[test]
    fn which_answers_refuse_the_form() {
        // scim2-server on the Entra form; django-scim2 on the RFC form.
        assert!(form_rejected(&response(
            400,
            r#"{"status":"400","scimType":"invalidValue","detail":"a remove operation carries no value"}"#
        )));
        assert!(form_rejected(&response(
            400,
            r#"{"status":"400","scimType":"invalidPath"}"#
        )));
        assert!(form_rejected(&response(
            501,
            r#"{"detail":"","status":501}"#
        )));
        assert!(!form_rejected(&response(
            400,
            r#"{"status":"400","scimType":"mutability"}"#
        )));
        assert!(!form_rejected(&response(400, "not json")));
        assert!(!form_rejected(&response(
            409,
            r#"{"scimType":"invalidValue"}"#
        )));
        assert!(no_target(&response(400, r#"{"scimType":"noTarget"}"#)));
    }
}

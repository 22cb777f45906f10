//! The SCIM messages Recert reads (RFC 7643 resources, RFC 7644 list and error messages).
//!
//! Deserialisation is lenient where servers differ in practice: `status` comes as a string or a
//! number, `active` may be missing (a user is active unless it says otherwise), and fields this
//! client does not use are ignored.

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use crate::directory::{GroupInfo, UserInfo};
use crate::model::directory_data::{Membership, Source, UserType};

pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A page of a query (RFC 7644 §3.4.2).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse<T> {
    #[serde(default)]
    pub total_results: Option<u64>,
    #[serde(default)]
    pub items_per_page: Option<u64>,
    #[serde(default = "Vec::new", rename = "Resources")]
    pub resources: Vec<T>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Meta {
    #[serde(default)]
    pub version: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Name {
    #[serde(default)]
    pub formatted: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Reference {
    #[serde(default)]
    pub value: Option<String>,
}

/// A multi-valued attribute's value (RFC 7643 §2.4): `emails` here.
#[derive(Debug, Deserialize)]
pub struct MultiValued {
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub primary: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct EnterpriseUser {
    #[serde(default)]
    pub manager: Option<Reference>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub user_name: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub name: Option<Name>,
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub emails: Option<Vec<MultiValued>>,
    /// RFC 7643 §4.1.1: the organisation's own label (`Employee`, `Contractor`, `Guest`, …).
    #[serde(default)]
    pub user_type: Option<String>,
    #[serde(
        default,
        rename = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    )]
    pub enterprise: Option<EnterpriseUser>,
}

impl User {
    pub fn into_info(self) -> UserInfo {
        let display_name = self
            .display_name
            .filter(|n| !n.trim().is_empty())
            .or_else(|| self.name.and_then(|n| n.formatted))
            .filter(|n| !n.trim().is_empty());
        // The primary address (RFC 7643 §2.4: at most one is primary), else the first.
        let emails = self.emails.unwrap_or_default();
        let mail = emails
            .iter()
            .find(|e| e.primary == Some(true))
            .or_else(|| emails.first())
            .and_then(|e| e.value.clone())
            .filter(|m| !m.trim().is_empty());
        UserInfo {
            mail,
            user_principal_name: self.user_name.unwrap_or_else(|| self.id.clone()),
            id: self.id,
            display_name,
            manager: self
                .enterprise
                .and_then(|e| e.manager)
                .and_then(|m| m.value)
                .filter(|m| !m.is_empty()),
            // Core SCIM has no sign-in time; the engine treats `None` as "not known".
            last_sign_in: None,
            enabled: self.active.unwrap_or(true),
            source: Source::Cloud,
            user_type: self
                .user_type
                .as_deref()
                .map_or(UserType::Member, UserType::from_directory),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Member {
    #[serde(default)]
    pub value: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub members: Option<Vec<Member>>,
    #[serde(default)]
    pub meta: Option<Meta>,
}

impl Group {
    pub fn info(&self) -> GroupInfo {
        GroupInfo {
            id: self.id.clone(),
            display_name: self.display_name.clone().unwrap_or_else(|| self.id.clone()),
            // SCIM has no dynamic or synced groups in its core schema: every group a client may
            // write to is an assigned one.
            membership: Membership::Assigned,
            source: Source::Cloud,
        }
    }

    pub fn member_ids(&self) -> Vec<String> {
        self.members
            .iter()
            .flatten()
            .filter_map(|m| m.value.clone())
            .filter(|v| !v.is_empty())
            .collect()
    }
}

/// An error response (RFC 7644 §3.12).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScimError {
    #[serde(default)]
    pub scim_type: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub status: Option<Value>,
}

impl ScimError {
    pub fn parse(body: &[u8]) -> Option<ScimError> {
        serde_json::from_slice::<ScimError>(body)
            .ok()
            .filter(|e| e.scim_type.is_some() || e.detail.is_some() || e.status.is_some())
    }
}

/// The most a foreign error body may add to a message: enough for any real detail, not
/// enough for an HTML error page to flood the status file.
const MAX_BODY: usize = 300;

/// The message for an error response: SCIM's `detail` and `scimType` when the body is a SCIM
/// error, else the start of the body. Used by the shared HTTP layer for every SCIM call.
pub fn describe_error(status: StatusCode, body: &[u8]) -> String {
    let mut out = match ScimError::parse(body) {
        Some(e) => {
            let detail = e.detail.filter(|d| !d.trim().is_empty());
            match (detail, e.scim_type) {
                (Some(d), Some(t)) => format!("{d} (scimType {t})"),
                (Some(d), None) => d,
                (None, Some(t)) => format!("scimType {t}"),
                (None, None) => status.canonical_reason().unwrap_or("error").to_owned(),
            }
        }
        None => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                status.canonical_reason().unwrap_or("error").to_owned()
            } else if text.len() > MAX_BODY {
                let cut = (0..=MAX_BODY)
                    .rev()
                    .find(|&i| text.is_char_boundary(i))
                    .unwrap_or(0);
                format!("{}…", &text[..cut])
            } else {
                text.to_owned()
            }
        }
    };
    if status == StatusCode::UNAUTHORIZED {
        out.push_str(" (HTTP 401: the service refused the bearer token)");
    } else if status == StatusCode::FORBIDDEN {
        out.push_str(" (HTTP 403: the token lacks a permission this call needs)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_address_is_the_primary_email_else_the_first() {
        let user: User = serde_json::from_str(
            r#"{"id":"u1","userName":"bob","emails":[{"value":"b@home.example","type":"home"},{"value":"bob@corp.example","type":"work","primary":true}]}"#,
        )
        .expect("parses");
        let info = user.into_info();
        assert_eq!(info.mail.as_deref(), Some("bob@corp.example"));
        assert_eq!(info.address(), Some("bob@corp.example"));
        let user: User = serde_json::from_str(
            r#"{"id":"u2","userName":"carol","emails":[{"value":"carol@corp.example"}]}"#,
        )
        .expect("parses");
        assert_eq!(user.into_info().address(), Some("carol@corp.example"));
        // No e-mail and a user name that is not an address: nowhere to write to.
        let user: User = serde_json::from_str(r#"{"id":"u3","userName":"svc"}"#).expect("parses");
        assert_eq!(user.into_info().address(), None);
    }

    #[test]
    fn a_list_response_is_read_with_its_paging_fields() {
        let body = br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults":27,"startIndex":11,"itemsPerPage":10,
            "Resources":[{"id":"g1","displayName":"Admins","meta":{"version":"W/\"4\""}}]}"#;
        let page: ListResponse<Group> = serde_json::from_slice(body).expect("parses");
        assert_eq!(page.total_results, Some(27));
        assert_eq!(page.items_per_page, Some(10));
        assert_eq!(page.resources.len(), 1);
        assert_eq!(page.resources[0].info().display_name, "Admins");
        let version = page.resources[0]
            .meta
            .as_ref()
            .and_then(|m| m.version.clone());
        assert_eq!(version.as_deref(), Some("W/\"4\""));
    }

    #[test]
    fn an_empty_list_may_leave_resources_out() {
        let body = br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0}"#;
        let page: ListResponse<User> = serde_json::from_slice(body).expect("parses");
        assert!(page.resources.is_empty());
    }

    #[test]
    fn a_user_maps_to_what_a_review_needs() {
        let body = br#"{"id":"u1","userName":"alice@x","name":{"formatted":"Alice A"},
            "active":false,"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
            {"manager":{"value":"u9","displayName":"Boss"}}}"#;
        let user: User = serde_json::from_slice(body).expect("parses");
        let info = user.into_info();
        assert_eq!(info.user_principal_name, "alice@x");
        assert_eq!(info.display_name.as_deref(), Some("Alice A"));
        assert_eq!(info.manager.as_deref(), Some("u9"));
        assert!(!info.enabled);
        assert_eq!(info.last_sign_in, None);
    }

    #[test]
    fn a_user_without_active_is_enabled() {
        let user: User = serde_json::from_slice(br#"{"id":"u1"}"#).expect("parses");
        let info = user.into_info();
        assert!(info.enabled);
        assert_eq!(info.user_principal_name, "u1");
        assert_eq!(info.manager, None);
    }

    #[test]
    fn members_without_a_value_are_skipped() {
        let group: Group = serde_json::from_slice(
            br#"{"id":"g","members":[{"value":"a"},{"display":"x"},{"value":""},{"value":"b","$ref":"../Users/b"}]}"#,
        )
        .expect("parses");
        assert_eq!(group.member_ids(), ["a", "b"]);
    }

    #[test]
    fn a_scim_error_gives_its_detail_and_type() {
        let body = br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400",
            "scimType":"invalidFilter","detail":"invalid syntax at column 10"}"#;
        assert_eq!(
            describe_error(StatusCode::BAD_REQUEST, body),
            "invalid syntax at column 10 (scimType invalidFilter)"
        );
        let parsed = ScimError::parse(body).expect("a SCIM error");
        assert_eq!(parsed.status, Some(Value::String("400".into())));
    }

    #[test]
    fn a_numeric_status_and_empty_detail_still_parse() {
        // django-scim2 answers the RFC remove form this way.
        let body = br#"{"detail":"","status":501}"#;
        let parsed = ScimError::parse(body).expect("a SCIM error");
        assert_eq!(parsed.status, Some(Value::from(501)));
        assert_eq!(
            describe_error(StatusCode::NOT_IMPLEMENTED, body),
            "Not Implemented"
        );
    }

    #[test]
    fn a_401_says_the_token_was_refused_and_a_foreign_body_is_cut() {
        let body = br#"{"status":"401","detail":"Authorization failure"}"#;
        assert_eq!(
            describe_error(StatusCode::UNAUTHORIZED, body),
            "Authorization failure (HTTP 401: the service refused the bearer token)"
        );
        let html = "<html>".repeat(100);
        let message = describe_error(StatusCode::BAD_GATEWAY, html.as_bytes());
        assert!(message.ends_with('…') && message.len() < 310, "{message}");
        assert_eq!(describe_error(StatusCode::NOT_FOUND, b""), "Not Found");
    }
}

//! SCIM filter expressions (RFC 7644 §3.4.2.2) built from values we do not control.
//!
//! A filter's comparison value is a JSON string, so quoting it as JSON is the whole escaping
//! rule: a `"` or `\` in an id or a user name cannot end the string early or change the filter.

use reqwest::StatusCode;

use super::wire::ScimError;
use crate::directory::http::Response;

/// `attribute eq "value"`, the value quoted and escaped as a JSON string.
pub fn eq(attribute: &str, value: &str) -> String {
    // Serialising a `&str` cannot fail; the fallback only keeps the code panic-free.
    let quoted = serde_json::to_string(value).unwrap_or_else(|_| "\"\"".to_owned());
    format!("{attribute} eq {quoted}")
}

/// The clauses joined with `or`.
pub fn any(clauses: impl IntoIterator<Item = String>) -> String {
    clauses.into_iter().collect::<Vec<_>>().join(" or ")
}

/// The PATCH path that selects one member (RFC 7644 §3.5.2.2): `members[value eq "id"]`.
pub fn member_path(member: &str) -> String {
    format!("members[{}]", eq("value", member))
}

/// Whether an error response refuses a query's filter rather than failing it: a 400 whose
/// `scimType` is `invalidFilter` or `tooMany`, or 501. The caller then asks another way.
pub fn rejected(response: &Response) -> bool {
    match response.status {
        StatusCode::NOT_IMPLEMENTED => true,
        StatusCode::BAD_REQUEST => ScimError::parse(&response.body)
            .and_then(|e| e.scim_type)
            .is_some_and(|t| matches!(t.as_str(), "invalidFilter" | "tooMany")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::http::test_response as response;

    #[test]
    fn a_plain_value_is_quoted() {
        assert_eq!(eq("userName", "alice@x"), r#"userName eq "alice@x""#);
    }

    #[test]
    fn quotes_and_backslashes_cannot_break_out_of_the_string() {
        assert_eq!(
            eq("userName", r#"a" or userName pr or "b\"#),
            r#"userName eq "a\" or userName pr or \"b\\""#
        );
        assert_eq!(eq("id", r"c:\temp"), r#"id eq "c:\\temp""#);
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(eq("id", "a\nb\u{1}"), r#"id eq "a\nb\u0001""#);
    }

    #[test]
    fn clauses_are_joined_with_or() {
        assert_eq!(
            any([eq("id", "a"), eq("userName", "a")]),
            r#"id eq "a" or userName eq "a""#
        );
        assert_eq!(any(Vec::new()), "");
    }

    #[test]
    fn the_member_path_escapes_the_member() {
        assert_eq!(member_path("u-1"), r#"members[value eq "u-1"]"#);
        assert_eq!(member_path(r#"x"]"#), r#"members[value eq "x\"]"]"#);
    }

    #[test]
    fn which_answers_refuse_a_filter() {
        assert!(rejected(&response(
            400,
            r#"{"status":"400","scimType":"invalidFilter","detail":"invalid syntax at column 10"}"#
        )));
        assert!(rejected(&response(400, r#"{"scimType":"tooMany"}"#)));
        assert!(rejected(&response(501, "")));
        assert!(!rejected(&response(400, r#"{"scimType":"invalidValue"}"#)));
        assert!(!rejected(&response(403, "")));
    }
}

//! Graph's error body, `{"error": {"code", "message", "innerError": {"request-id", ...}}}`, read
//! leniently: every field may be missing, and `innerError.date` is kept as text because the
//! service sends it without a UTC offset (`"2025-02-13T10:17:05"`), which a strict date-time
//! parser would reject.

use reqwest::StatusCode;
use serde::Deserialize;

/// The body of a Graph error response (OData v4 error format).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ODataError {
    #[serde(default)]
    pub error: MainError,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MainError {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, alias = "innererror")]
    pub inner_error: Option<InnerError>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct InnerError {
    #[serde(default, rename = "request-id")]
    pub request_id: Option<String>,
    #[serde(default, rename = "client-request-id")]
    pub client_request_id: Option<String>,
    #[serde(default)]
    pub date: Option<String>,
}

impl ODataError {
    /// The error in a body, if the body is one.
    pub fn parse(body: &[u8]) -> Option<ODataError> {
        serde_json::from_slice::<ODataError>(body)
            .ok()
            .filter(|e| !e.error.code.is_empty() || !e.error.message.is_empty())
    }

    /// The error as a value inside a `$batch` response item.
    pub fn from_value(body: &serde_json::Value) -> Option<ODataError> {
        serde_json::from_value::<ODataError>(body.clone())
            .ok()
            .filter(|e| !e.error.code.is_empty() || !e.error.message.is_empty())
    }

    pub fn code(&self) -> &str {
        &self.error.code
    }

    /// `Code: message (request-id …)`: what support needs to trace the call, nothing more.
    pub fn describe(&self) -> String {
        let mut out = match (self.error.code.is_empty(), self.error.message.is_empty()) {
            (false, false) => format!("{}: {}", self.error.code, self.error.message),
            (false, true) => self.error.code.clone(),
            _ => self.error.message.clone(),
        };
        if let Some(id) = self
            .error
            .inner_error
            .as_ref()
            .and_then(|i| i.request_id.as_deref())
            .filter(|id| !id.is_empty())
        {
            out.push_str(&format!(" (request-id {id})"));
        }
        out
    }
}

/// The [`crate::directory::http::DescribeError`] for Graph: the parsed error, or the start of a
/// body that is not one (a proxy's HTML page, say), never more than a line.
pub fn describe(status: StatusCode, body: &[u8]) -> String {
    if let Some(error) = ODataError::parse(body) {
        return error.describe();
    }
    let text = String::from_utf8_lossy(body);
    let line: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(200)
        .collect();
    if line.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("no description")
            .to_owned()
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_message_and_request_id_make_the_description() {
        let body = br#"{"error":{"code":"Request_ResourceNotFound","message":"Resource 'x' does not exist.","innerError":{"date":"2025-02-13T10:17:05","request-id":"abc-123","client-request-id":"def"}}}"#;
        let error = ODataError::parse(body).expect("parses");
        assert_eq!(error.code(), "Request_ResourceNotFound");
        assert_eq!(
            error
                .error
                .inner_error
                .as_ref()
                .and_then(|i| i.date.as_deref()),
            Some("2025-02-13T10:17:05")
        );
        assert_eq!(
            describe(StatusCode::NOT_FOUND, body),
            "Request_ResourceNotFound: Resource 'x' does not exist. (request-id abc-123)"
        );
    }

    #[test]
    fn a_body_that_is_not_an_error_is_shown_on_one_short_line() {
        let body = "<html>\n  <body>Bad gateway</body>\n</html>".as_bytes();
        assert_eq!(
            describe(StatusCode::BAD_GATEWAY, body),
            "<html> <body>Bad gateway</body> </html>"
        );
        assert_eq!(describe(StatusCode::BAD_GATEWAY, b""), "Bad Gateway");
        assert!(describe(StatusCode::BAD_GATEWAY, &[b'x'; 5000]).len() <= 200);
    }
}

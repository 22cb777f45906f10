//! The page's HTML: server-rendered, no script, one stylesheet; every value escaped.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// `text` safe inside HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page around `body` (already HTML).
pub fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Recert</title><link rel=\"stylesheet\" href=\"/static/recert.css\"></head>\
         <body><header><strong>Recert</strong> access reviews</header><main>{body}</main></body></html>\n",
        escape(title)
    )
}

/// The sign-out form: a POST carrying the session's CSRF token.
pub fn sign_out_form(csrf: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/auth/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <button type=\"submit\">Sign out</button></form>",
        escape(csrf)
    )
}

/// A page that explains why something was refused, with a way to sign in again.
pub fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = format!(
        "<h1>{}</h1><p>{}</p><p><a href=\"/auth/login\">Sign in again</a></p>",
        escape(title),
        escape(detail)
    );
    (status, Html(layout(title, &body))).into_response()
}

pub const STYLESHEET: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1b1b1b}\
header{background:#243b53;color:#fff;padding:.6rem 1rem}\
main{max-width:60rem;margin:1.5rem auto;padding:0 1rem}\
button{font:inherit;padding:.3rem .8rem}\n";

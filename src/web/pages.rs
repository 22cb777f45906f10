//! The page's HTML: server-rendered, no script, one stylesheet; every value escaped.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// `text` safe inside HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_escaped(&mut out, text);
    out
}

/// [`escape`] appended to `out` (a page of a thousand rows builds one string).
pub fn push_escaped(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
        out.push_str(&rest[..at]);
        out.push_str(match rest.as_bytes()[at] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
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

/// Contrast: text #1b1b1b on white, links #0b5394 (7:1), pending #8a3b00 (6.8:1). Under 40em
/// each table row becomes a card whose cells carry their column's name (`data-label`).
pub const STYLESHEET: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1b1b1b;line-height:1.4}\
header{background:#243b53;color:#fff;padding:.6rem 1rem}\
main{max-width:72rem;margin:1.5rem auto;padding:0 1rem}\
a{color:#0b5394}\
a:focus,button:focus,input:focus,textarea:focus{outline:3px solid #f0b400;outline-offset:2px}\
button{font:inherit;padding:.4rem .9rem;margin:.2rem .4rem .2rem 0}\
small{color:#3b3b3b}\
.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}\
.facts dt{font-weight:600}.facts dd{margin:0}\
.filter a{margin-right:1rem}.filter a[aria-current]{font-weight:700;text-decoration:none}\
.decide{border:1px solid #9aa5b1;padding:.6rem 1rem;margin:1rem 0}\
.decide .choices span{display:inline-block;margin:0 1rem .3rem 0}.decide .choices label{margin-left:.3rem}\
.decide textarea{display:block;width:100%;box-sizing:border-box;font:inherit}\
.hint,.note{color:#3b3b3b}\
.pending{color:#8a3b00;font-weight:600}\
table.items{border-collapse:collapse;width:100%;margin:1rem 0}\
.items caption{text-align:left;font-weight:600}\
.items th,.items td{border-bottom:1px solid #d9dee3;padding:.4rem .5rem;text-align:left;vertical-align:top}\
.items input[type=checkbox]{width:1.3rem;height:1.3rem}\
pre{background:#f3f5f7;padding:.8rem;overflow-x:auto}\
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}\
@media (max-width:40em){.items thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}\
.items tr{display:block;border-bottom:2px solid #9aa5b1;padding:.4rem 0}\
.items td{display:block;border:0;padding:.2rem 0}\
.items td::before{content:attr(data-label);display:block;font-size:.8rem;font-weight:600;color:#3b3b3b}\
.facts{grid-template-columns:1fr}.decide .choices span{display:block}}\n";

//! Where a sign-in may return to: a path on this page, never another site.
//!
//! Browsers read `//evil.example`, `/\evil.example` and `\/evil.example` as other hosts, strip
//! tabs and newlines from URLs, and some servers decode once more than expected; so the
//! value is refused if any of its decodings looks like anything but a plain local path, and it
//! must also resolve to this origin.

use reqwest::Url;

/// The longest return path kept.
const MAX_LEN: usize = 2048;

/// `candidate` if it is a same-origin path (with an optional query), else `None`.
pub fn local_path(candidate: &str) -> Option<String> {
    if candidate.is_empty() || candidate.len() > MAX_LEN {
        return None;
    }
    let mut text = candidate.to_owned();
    // Three rounds of decoding catch `%252F%252F` and friends; a value that still decodes
    // further is refused rather than trusted.
    for _ in 0..3 {
        if !plain(&text) {
            return None;
        }
        let decoded = percent_decode(&text)?;
        if decoded == text {
            return same_origin(candidate).then(|| candidate.to_owned());
        }
        text = decoded;
    }
    None
}

fn plain(path: &str) -> bool {
    let mut chars = path.chars();
    chars.next() == Some('/')
        && !matches!(chars.next(), Some('/' | '\\'))
        && !path.contains('\\')
        && !path.chars().any(char::is_control)
}

fn same_origin(path: &str) -> bool {
    let base = Url::parse("https://recert.invalid/").expect("a valid URL");
    base.join(path)
        .is_ok_and(|url| url.origin() == base.origin() && url.fragment().is_none())
}

/// `%XX` decoded; `None` if the result is not UTF-8 or an escape is cut short.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `text` percent-encoded for a query value.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_are_kept() {
        for ok in ["/", "/reviews/ga?instance=2026-q4", "/a%20b"] {
            assert_eq!(local_path(ok).as_deref(), Some(ok), "{ok}");
        }
    }

    #[test]
    fn other_sites_are_refused_however_spelt() {
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "https://evil.example/",
            "evil.example",
            "/%2F%2Fevil.example",
            "%2F%2Fevil.example",
            "/%5Cevil.example",
            "/%252F%252Fevil.example",
            "/%25252F%25252Fevil.example",
            "/\t/evil.example",
            "/%09/evil.example",
            "javascript:alert(1)",
            "",
            "/a#frag",
        ] {
            assert_eq!(local_path(bad), None, "{bad}");
        }
    }
}

//! Text from manifests, directories and file names made safe to print for people.
//!
//! A value may hold control characters: a newline that starts a line with `::error` becomes a
//! real GitHub workflow command in a CI log, and an ANSI escape rewrites the terminal. Every
//! human-readable output passes such text through [`escape`], which spells the C0 and C1
//! controls and DEL the way Rust does (`\n`, `\x1b`, `\u{9b}`); JSON and SARIF need nothing,
//! serde escapes them already.

use std::borrow::Cow;

/// `text` with every control character spelt out, newlines included.
pub fn escape(text: &str) -> Cow<'_, str> {
    escape_where(text, |_| true)
}

/// [`escape`], keeping line breaks: for whole messages put together by Recert itself, whose
/// lines are its own (the values inside were escaped already).
pub fn escape_keeping_lines(text: &str) -> Cow<'_, str> {
    escape_where(text, |c| c != '\n')
}

/// One character as [`escape`] prints it.
pub fn escape_char(c: char) -> Cow<'static, str> {
    if is_control(c) {
        Cow::Owned(spell(c))
    } else {
        Cow::Owned(c.to_string())
    }
}

fn escape_where(text: &str, escaped: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(|c| is_control(c) && escaped(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_control(c) && escaped(c) {
            out.push_str(&spell(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// C0 (including tab, CR and LF), DEL and C1: what `char::is_control` means.
fn is_control(c: char) -> bool {
    c.is_control()
}

fn spell(c: char) -> String {
    match c {
        '\n' => "\\n".to_owned(),
        '\r' => "\\r".to_owned(),
        '\t' => "\\t".to_owned(),
        c if (c as u32) < 0x80 => format!("\\x{:02x}", c as u32),
        c => format!("\\u{{{:x}}}", c as u32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_spelt_out_and_other_text_is_left_alone() {
        assert_eq!(
            escape("Foo\n::error file=evil.yaml::x"),
            "Foo\\n::error file=evil.yaml::x"
        );
        assert_eq!(
            escape("\u{1b}[31mred\u{7f}\u{9b}"),
            "\\x1b[31mred\\x7f\\u{9b}"
        );
        assert_eq!(escape("a\tb\rc"), "a\\tb\\rc");
        assert!(matches!(escape("plain, ünïcode `x`"), Cow::Borrowed(_)));
        assert_eq!(escape_keeping_lines("a\u{1b}\nb\r\n"), "a\\x1b\nb\\r\n");
        assert_eq!(escape_char('\u{85}'), "\\u{85}");
    }
}

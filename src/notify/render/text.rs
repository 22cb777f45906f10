//! The e-mail's plain-text part: wrapped at 72 columns (what mail readers expect of plain
//! text), code indented and never wrapped, so that a snippet pastes exactly.

use super::doc::{Block, Doc};

const WIDTH: usize = 72;

pub fn render(doc: &Doc) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(link) = &doc.link {
        parts.push(format!("Open the review:\n{link}"));
    }
    for block in &doc.blocks {
        parts.push(match block {
            Block::Heading(text) => {
                let text = text.trim();
                format!("{text}\n{}", "-".repeat(text.chars().count()))
            }
            Block::Paragraph(text) => wrap(text, "", hanging(text)),
            Block::Alert(text) => wrap(&format!("IMPORTANT: {text}"), "! ", "! "),
            Block::Facts(facts) => {
                let width = facts
                    .iter()
                    .map(|(k, _)| k.chars().count())
                    .max()
                    .unwrap_or(0);
                facts
                    .iter()
                    .map(|(k, v)| {
                        let pad = " ".repeat(width - k.chars().count());
                        format!("  {k}:{pad} {v}")
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            }
            Block::List(entries) if entries.is_empty() => "  (none)".to_owned(),
            Block::List(entries) => entries
                .iter()
                .map(|entry| {
                    let mut out = wrap(&entry.title, "- ", "  ");
                    for (label, value) in &entry.details {
                        out.push('\n');
                        out.push_str(&wrap(&format!("{label}: {value}"), "  ", "    "));
                    }
                    out
                })
                .collect::<Vec<_>>()
                .join("\n\n"),
            Block::Code(code) => code
                .lines()
                .map(|line| {
                    if line.is_empty() {
                        String::new()
                    } else {
                        format!("    {line}")
                    }
                })
                .collect::<Vec<_>>()
                .join("\n"),
        });
    }
    parts.push(format!("-- \n{}", wrap(&doc.footer, "", "")));
    let mut text = parts.join("\n\n");
    text.push('\n');
    text
}

/// A numbered step (`1. …`) continues under its text, not under its number.
fn hanging(text: &str) -> &'static str {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 1 && text[digits..].starts_with(". ") {
        "   "
    } else {
        ""
    }
}

/// `text` wrapped at [`WIDTH`], the first line after `first` and the others after `rest`. Line
/// breaks in `text` are kept; a word longer than a line (a URL) gets a line of its own.
fn wrap(text: &str, first: &str, rest: &str) -> String {
    let mut out = String::new();
    let mut prefix = first;
    for (n, source_line) in text.lines().enumerate() {
        if n > 0 {
            out.push('\n');
            prefix = rest;
        }
        let mut line = String::from(prefix);
        let mut len = prefix.chars().count();
        let mut empty = true;
        for word in source_line.split_whitespace() {
            let word_len = word.chars().count();
            if !empty && len + 1 + word_len > WIDTH {
                out.push_str(line.trim_end());
                out.push('\n');
                line = String::from(rest);
                len = rest.chars().count();
                empty = true;
            }
            if !empty {
                line.push(' ');
                len += 1;
            }
            line.push_str(word);
            len += word_len;
            empty = false;
        }
        out.push_str(line.trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_every_word_and_no_line_is_longer_than_it_must_be() {
        let text = "Approve only if you used it in the last quarter and still need it; otherwise \
                    deny, and request it again through PIM when needed: \
                    https://portal.example/a/very/long/url/that/cannot/be/broken/anywhere/at/all";
        let wrapped = wrap(text, "- ", "  ");
        for line in wrapped.lines() {
            assert!(
                line.chars().count() <= WIDTH || !line.trim().contains(' '),
                "{line:?}"
            );
        }
        let words = |s: &str| {
            s.split_whitespace()
                .filter(|w| *w != "-")
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(words(&wrapped), words(text));
        assert!(wrapped.starts_with("- Approve"));
    }
}

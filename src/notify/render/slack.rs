//! Slack's Block Kit message for an incoming webhook: `text` (the fallback notifications and
//! old clients show) and `blocks`. Kept within Block Kit's limits, which Slack enforces by
//! refusing the whole message: 50 blocks, 150 characters in a header, 3,000 in a section's
//! text, 10 fields of 2,000 in a section. A list too long for a section ends "and N more".

use serde_json::{Value, json};

use super::doc::{Block, Doc};

pub const MAX_BLOCKS: usize = 50;
pub const MAX_HEADER: usize = 150;
pub const MAX_SECTION: usize = 3000;
const MAX_FIELDS: usize = 10;
const MAX_FIELD: usize = 2000;
/// One entry of a list: long enough for any name and error, short enough that a section
/// holds several.
const MAX_LINE: usize = 600;

pub fn render(doc: &Doc) -> Value {
    let mut blocks = vec![json!({
        "type": "header",
        "text": { "type": "plain_text", "text": truncate(&doc.subject, MAX_HEADER), "emoji": false }
    })];
    if let Some(link) = &doc.link {
        blocks.push(section(format!("<{}|Open the review>", link_target(link))));
    }
    for block in &doc.blocks {
        match block {
            Block::Heading(text) => blocks.push(section(format!("*{}*", escape(text)))),
            Block::Paragraph(text) => blocks.push(section(escape(text))),
            Block::Alert(text) => blocks.push(section(format!(":warning: *{}*", escape(text)))),
            Block::Facts(facts) => {
                for chunk in facts.chunks(MAX_FIELDS) {
                    let fields: Vec<Value> = chunk
                        .iter()
                        .map(|(label, value)| {
                            let text = format!("*{}*\n{}", escape(label), escape(value));
                            json!({ "type": "mrkdwn", "text": truncate(&text, MAX_FIELD) })
                        })
                        .collect();
                    blocks.push(json!({ "type": "section", "fields": fields }));
                }
            }
            Block::List(entries) => {
                let lines: Vec<String> = entries
                    .iter()
                    .map(|entry| {
                        let mut line = format!("• *{}*", escape(&entry.title));
                        for (label, value) in &entry.details {
                            line.push_str(&format!(" · {}: {}", escape(label), escape(value)));
                        }
                        truncate(&line, MAX_LINE)
                    })
                    .collect();
                let (mut text, more) = fit_lines(&lines, MAX_SECTION);
                // Slack refuses a section with empty text.
                if lines.is_empty() {
                    text.push_str("None.");
                }
                if more > 0 {
                    text.push_str(&format!("\n_… and {more} more_"));
                }
                blocks.push(section(text));
            }
            Block::Code(code) => {
                let lines: Vec<String> = code.lines().map(escape).collect();
                // Six characters for the fences.
                let (code, more) = fit_lines(&lines, MAX_SECTION - 6);
                let mut text = format!("```{code}```");
                if more > 0 {
                    text.push_str(&format!("\n_… and {more} more lines_"));
                }
                blocks.push(section(text));
            }
        }
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{ "type": "mrkdwn", "text": truncate(&escape(&doc.footer), MAX_SECTION) }]
    }));
    if blocks.len() > MAX_BLOCKS {
        let dropped = blocks.len() - (MAX_BLOCKS - 1);
        blocks.truncate(MAX_BLOCKS - 1);
        blocks.push(json!({
            "type": "context",
            "elements": [{ "type": "mrkdwn", "text": format!("_… {dropped} more parts not shown_") }]
        }));
    }
    json!({ "text": escape(&doc.summary), "blocks": blocks })
}

fn section(text: String) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": truncate(&text, MAX_SECTION) } })
}

/// As many whole lines as fit in `max` characters, with room left after them for a line
/// saying how many did not fit; and that number.
fn fit_lines(lines: &[String], max: usize) -> (String, usize) {
    const ROOM: usize = 40;
    let mut out = String::new();
    let mut len = 0;
    for (i, line) in lines.iter().enumerate() {
        let add = line.chars().count() + usize::from(i > 0);
        let budget = if i + 1 == lines.len() {
            max
        } else {
            max - ROOM
        };
        if len + add > budget {
            return (out, lines.len() - i);
        }
        if i > 0 {
            out.push('\n');
        }
        out.push_str(line);
        len += add;
    }
    (out, 0)
}

/// Slack's escaping for text in mrkdwn and in `text`: only `&`, `<` and `>` are special (they
/// make links and mentions); everything else is shown as written.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A URL for `<url|label>`: escaped like text, with the `|` that would end it percent-encoded.
fn link_target(url: &str) -> String {
    escape(url).replace('|', "%7C")
}

/// At most `max` characters, the last one an ellipsis when cut.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

//! The Teams Workflows webhook body: an Adaptive Card (1.4, what Teams renders) inside the
//! `{"type":"message","attachments":[…]}` envelope those flows expect; a bare `{"text":…}`
//! makes them fail.
//!
//! Teams reads TextBlock and FactSet text as Markdown, so values are escaped with CommonMark
//! backslashes: a display name cannot turn into a link or bold text. A card must stay well
//! under Teams' message size (about 28 KB), so a list shows its first 50 entries.

use serde_json::{Value, json};

use super::doc::{Block, Doc};

pub const MAX_ENTRIES: usize = 50;
const MAX_CODE: usize = 4000;

pub fn render(doc: &Doc) -> Value {
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": escape(&doc.subject),
        "size": "Large",
        "weight": "Bolder",
        "wrap": true
    })];
    for block in &doc.blocks {
        match block {
            Block::Heading(text) => body.push(json!({
                "type": "TextBlock",
                "text": escape(text),
                "size": "Medium",
                "weight": "Bolder",
                "spacing": "Medium",
                "wrap": true
            })),
            Block::Paragraph(text) => body.push(text_block(&escape(text))),
            Block::Alert(text) => body.push(json!({
                "type": "Container",
                "style": "attention",
                "items": [{
                    "type": "TextBlock",
                    "text": escape(text),
                    "color": "Attention",
                    "weight": "Bolder",
                    "wrap": true
                }]
            })),
            Block::Facts(facts) => body.push(json!({
                "type": "FactSet",
                "facts": facts
                    .iter()
                    .map(|(title, value)| json!({ "title": escape(title), "value": escape(value) }))
                    .collect::<Vec<_>>()
            })),
            Block::List(entries) => {
                let mut lines: Vec<String> = entries
                    .iter()
                    .take(MAX_ENTRIES)
                    .map(|entry| {
                        let mut line = format!("- **{}**", escape(&entry.title));
                        for (label, value) in &entry.details {
                            line.push_str(&format!(" · {}: {}", escape(label), escape(value)));
                        }
                        line
                    })
                    .collect();
                if entries.len() > MAX_ENTRIES {
                    lines.push(format!("- … and {} more", entries.len() - MAX_ENTRIES));
                }
                if lines.is_empty() {
                    lines.push("None.".to_owned());
                }
                // Teams separates list items with `\r`; `\n\n` would indent the next one.
                body.push(text_block(&lines.join("\r")));
            }
            Block::Code(code) => {
                let mut text = escape(code);
                if text.chars().count() > MAX_CODE {
                    text = text.chars().take(MAX_CODE).collect();
                    text.push('…');
                }
                body.push(json!({
                    "type": "TextBlock",
                    "text": text,
                    "fontType": "Monospace",
                    "wrap": true
                }));
            }
        }
    }
    body.push(json!({
        "type": "TextBlock",
        "text": escape(&doc.footer),
        "size": "Small",
        "isSubtle": true,
        "spacing": "Large",
        "wrap": true
    }));
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": { "width": "Full" },
        "fallbackText": doc.summary,
        "body": body
    });
    if let Some(link) = &doc.link {
        card["actions"] =
            json!([{ "type": "Action.OpenUrl", "title": "Open the review", "url": link }]);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card
        }]
    })
}

fn text_block(text: &str) -> Value {
    json!({ "type": "TextBlock", "text": text, "wrap": true })
}

/// `text` as literal Markdown: every character Teams would read as emphasis, a link, code or
/// an escape gets a backslash.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '*' | '_' | '[' | ']' | '`' | '~' | '<' | '>') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

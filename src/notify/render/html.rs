//! The e-mail's HTML part. Written for the strictest common reader, Outlook's Word engine:
//! layout in tables (no flex, no grid), every style inline (no `<style>` block, which some
//! clients drop), no scripts, no images, nothing fetched from elsewhere. Every value that came
//! from a manifest or the directory goes through [`escape`].

use std::fmt::Write as _;

use super::doc::{Block, Doc};

const FONT: &str = "font-family:'Segoe UI',Helvetica,Arial,sans-serif;";
const MUTED: &str = "#5e6c84";

pub fn render(doc: &Doc) -> String {
    let mut body = String::new();
    if let Some(link) = &doc.link {
        let _ = writeln!(
            body,
            "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" \
             style=\"margin:0 0 16px 0;\"><tr><td style=\"background-color:#0052cc;\
             padding:10px 18px;\"><a href=\"{}\" style=\"{FONT}color:#ffffff;\
             text-decoration:none;font-weight:bold;\">Open the review</a></td></tr></table>",
            escape(link)
        );
    }
    for block in &doc.blocks {
        match block {
            Block::Heading(text) => {
                let _ = writeln!(
                    body,
                    "<h2 style=\"{FONT}margin:24px 0 8px 0;font-size:18px;color:#172b4d;\">{}</h2>",
                    escape(text)
                );
            }
            Block::Paragraph(text) => {
                let _ = writeln!(
                    body,
                    "<p style=\"{FONT}margin:0 0 12px 0;\">{}</p>",
                    inline(text)
                );
            }
            Block::Alert(text) => {
                let _ = writeln!(
                    body,
                    "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" \
                     cellspacing=\"0\" border=\"0\" style=\"margin:0 0 16px 0;\"><tr><td \
                     style=\"{FONT}background-color:#ffebe6;border-left:4px solid #de350b;\
                     padding:12px 16px;color:#bf2600;font-weight:bold;\">{}</td></tr></table>",
                    inline(text)
                );
            }
            Block::Facts(facts) => {
                body.push_str(
                    "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" \
                     border=\"0\" style=\"margin:0 0 12px 0;\">\n",
                );
                for (label, value) in facts {
                    let _ = writeln!(
                        body,
                        "<tr><td style=\"{FONT}padding:3px 16px 3px 0;color:{MUTED};\">{}</td>\
                         <td style=\"{FONT}padding:3px 0;font-weight:bold;\">{}</td></tr>",
                        escape(label),
                        escape(value)
                    );
                }
                body.push_str("</table>\n");
            }
            Block::List(entries) => {
                body.push_str(
                    "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" \
                     cellspacing=\"0\" border=\"0\" style=\"margin:0 0 12px 0;\
                     border-top:1px solid #dfe1e6;\">\n",
                );
                if entries.is_empty() {
                    let _ = writeln!(
                        body,
                        "<tr><td style=\"{FONT}padding:8px 0;color:{MUTED};\">None.</td></tr>"
                    );
                }
                for entry in entries {
                    let _ = write!(
                        body,
                        "<tr><td style=\"{FONT}padding:8px 0;border-bottom:1px solid #dfe1e6;\">\
                         <strong>{}</strong>",
                        escape(&entry.title)
                    );
                    for (label, value) in &entry.details {
                        let _ = write!(
                            body,
                            "<br><span style=\"color:{MUTED};\">{}:</span> {}",
                            escape(label),
                            escape(value)
                        );
                    }
                    body.push_str("</td></tr>\n");
                }
                body.push_str("</table>\n");
            }
            Block::Code(code) => {
                let _ = writeln!(
                    body,
                    "<pre style=\"margin:0 0 12px 0;padding:12px;background-color:#f4f5f7;\
                     border:1px solid #dfe1e6;font-family:Consolas,Menlo,'Courier New',monospace;\
                     font-size:13px;line-height:1.4;white-space:pre;\">{}</pre>",
                    escape(code)
                );
            }
        }
    }
    let _ = writeln!(
        body,
        "<p style=\"{FONT}margin:24px 0 0 0;padding-top:12px;border-top:1px solid #dfe1e6;\
         font-size:12px;color:#6b778c;\">{}</p>",
        escape(&doc.footer)
    );
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{subject}</title>\n</head>\n\
         <body style=\"margin:0;padding:0;background-color:#f4f5f7;\">\n\
         <div style=\"display:none;max-height:0;overflow:hidden;\">{summary}</div>\n\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" \
         border=\"0\" style=\"background-color:#f4f5f7;\"><tr><td align=\"center\" \
         style=\"padding:24px 12px;\">\n\
         <table role=\"presentation\" width=\"640\" cellpadding=\"0\" cellspacing=\"0\" \
         border=\"0\" style=\"width:640px;max-width:100%;background-color:#ffffff;\
         border:1px solid #dfe1e6;\"><tr><td style=\"{FONT}padding:24px 28px;font-size:15px;\
         line-height:1.5;color:#172b4d;\">\n\
         {body}</td></tr></table>\n</td></tr></table>\n</body>\n</html>\n",
        subject = escape(&doc.subject),
        summary = escape(&doc.summary),
    )
}

/// A paragraph: escaped, `code` between backticks set in a fixed font, line breaks kept.
fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let parts: Vec<&str> = text.split('`').collect();
    // An odd backtick is text, not the start of code that never ends.
    let balanced = parts.len() % 2 == 1;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 && !balanced {
            out.push('`');
        }
        if balanced && i % 2 == 1 {
            let _ = write!(
                out,
                "<code style=\"font-family:Consolas,Menlo,'Courier New',monospace;\
                 background-color:#f4f5f7;padding:0 3px;\">{}</code>",
                escape(part)
            );
        } else {
            out.push_str(&escape(part));
        }
    }
    out.replace('\n', "<br>\n")
}

/// `text` safe anywhere in HTML: between tags and inside a quoted attribute.
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

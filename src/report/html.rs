//! The few pieces of HTML the report is made of. Every value passes through [`escape`] on its
//! way in; only the markup written here is not escaped.

use std::fmt::Write as _;

/// Text as HTML character data or a quoted attribute value.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters would make the file look like something else to a reader.
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(out, "\u{FFFD}");
            }
            c => out.push(c),
        }
    }
    out
}

/// Markup already escaped, to put in a table cell or a paragraph as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Html(pub String);

impl Html {
    pub fn text(text: &str) -> Html {
        Html(escape(text))
    }

    /// Text in a `<code>` element.
    pub fn code(text: &str) -> Html {
        Html(format!("<code>{}</code>", escape(text)))
    }

    /// Text followed by a labelled badge (`self-review`, `default decision`).
    pub fn with_badge(mut self, badge: &str) -> Html {
        let _ = write!(self.0, " <span class=\"badge\">{}</span>", escape(badge));
        self
    }

    /// Lines, each escaped, one under the other.
    pub fn lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Html {
        Html(
            lines
                .into_iter()
                .map(escape)
                .collect::<Vec<_>>()
                .join("<br>"),
        )
    }
}

impl From<&str> for Html {
    fn from(text: &str) -> Html {
        Html::text(text)
    }
}

impl From<String> for Html {
    fn from(text: String) -> Html {
        Html::text(&text)
    }
}

/// A table with a header row; an empty one says so instead.
pub fn table(out: &mut String, headers: &[&str], rows: Vec<Vec<Html>>, empty: &str) {
    if rows.is_empty() {
        let _ = writeln!(out, "<p class=\"none\">{}</p>", escape(empty));
        return;
    }
    out.push_str("<table>\n<thead><tr>");
    for h in headers {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", cell.0);
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// A list of label and value pairs.
pub fn facts(out: &mut String, facts: Vec<(&str, Html)>) {
    out.push_str("<dl>\n");
    for (label, value) in facts {
        let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", escape(label), value.0);
    }
    out.push_str("</dl>\n");
}

/// A paragraph of text.
pub fn para(out: &mut String, text: &str) {
    let _ = writeln!(out, "<p>{}</p>", escape(text));
}

/// The page around the sections: no scripts, nothing fetched (the policy forbids it even to a
/// browser that would), and a print layout.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>
<html lang=\"en\">
<head>
<meta charset=\"utf-8\">
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">
<meta name=\"generator\" content=\"recert\">
<title>{}</title>
<style>
{STYLE}</style>
</head>
<body>
{body}</body>
</html>
",
        escape(title)
    )
}

const STYLE: &str = "body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1b1f24; margin: 2rem auto; max-width: 70rem; padding: 0 1.5rem; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; border-bottom: 2px solid #d0d7de; padding-bottom: 0.2rem; margin-top: 2rem; }
.subtitle { color: #57606a; margin-top: 0; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #d0d7de; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; word-break: break-all; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; }
dt { font-weight: 600; }
dd { margin: 0; }
.badge { display: inline-block; border: 1px solid #9a6700; color: #9a6700; border-radius: 0.6rem; padding: 0 0.4rem; font-size: 0.8rem; }
.ok { color: #1a7f37; font-weight: 600; }
.bad { color: #cf222e; font-weight: 600; }
.none { color: #57606a; font-style: italic; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  @page { size: A4 landscape; margin: 12mm; }
  h2 { break-after: avoid; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; }
  th { background: none; }
}
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_values_is_escaped() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(escape("a\u{1b}[31mb"), "a\u{FFFD}[31mb");
    }
}

//! Renders diagnostics for people and machines: human, GitHub annotations, JSON, SARIF 2.1.0.
//!
//! Renderers return strings; only `cli` writes them out.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use crate::diag::{Code, Diagnostic, Severity};
use crate::printable::{escape, escape_char};
use crate::source::SourceFile;

use super::mask::Masker;

/// The output format of `recert validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `path:line:col: error[code]: message`, the source line and a caret.
    Human,
    /// GitHub Actions workflow commands (`::error file=…,line=…::…`): annotations on the PR.
    Github,
    /// One JSON object: counts and every diagnostic.
    Json,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
}

/// What was checked, for the summary lines.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub files: usize,
    pub documents: usize,
}

/// Characters of a source line shown on each side of the caret.
const EXCERPT_CONTEXT: usize = 60;

pub fn human(diagnostics: &[Diagnostic], sources: &[SourceFile]) -> String {
    let mut out = String::new();
    let masker = Masker::new(diagnostics, sources);
    for d in diagnostics {
        let d = &masker.diagnostic(d);
        let _ = write!(out, "{}", location(&d.file, d));
        let _ = writeln!(out, " {}[{}]: {}", d.severity, d.code, escape(&d.message));
        let line = d.span.and_then(|span| {
            let source = sources.iter().find(|s| s.path == d.file)?;
            Some((span, source.line(span.line)?))
        });
        let gutter = d.span.map_or(1, |s| s.line.to_string().len());
        let pad = " ".repeat(gutter);
        if let Some((span, text)) = line {
            let text = masker.line(&d.file, span.line, text);
            let text = if d.code == Code::InlineSecret {
                mask(&text, span.col, span.end_col, span.end_line == span.line)
            } else {
                text
            };
            // Each character as printed: a control character in the line is spelt out, and
            // the caret is placed by the printed widths.
            let chars: Vec<std::borrow::Cow<'static, str>> = text
                .chars()
                .map(|c| {
                    if c == '\t' {
                        ' '.to_string().into()
                    } else {
                        escape_char(c)
                    }
                })
                .collect();
            let printed = |range: std::ops::Range<usize>| -> usize {
                chars[range].iter().map(|p| p.chars().count()).sum()
            };
            let start = (span.col as usize).saturating_sub(1).min(chars.len());
            let width = if span.end_line == span.line {
                (span.end_col.saturating_sub(span.col) as usize).max(1)
            } else {
                1
            };
            // Long lines (minified YAML) are shown as a window around the caret.
            let from = start.saturating_sub(EXCERPT_CONTEXT);
            let to = chars
                .len()
                .min(start + width.min(EXCERPT_CONTEXT) + EXCERPT_CONTEXT);
            let prefix = if from > 0 { "..." } else { "" };
            let suffix = if to < chars.len() { "..." } else { "" };
            let shown: String = chars[from..to].concat();
            let width = width.min(to.saturating_sub(start));
            let width = printed(start..start + width).max(1);
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{} | {prefix}{shown}{suffix}", span.line);
            let _ = writeln!(
                out,
                "{pad} | {}{}",
                " ".repeat(prefix.len() + printed(from..start)),
                "^".repeat(width)
            );
        }
        if let Some(field) = &d.field {
            let _ = writeln!(out, "{pad} = field: {}", escape(field));
        }
        for note in &d.notes {
            let _ = writeln!(out, "{pad} = note: {}", escape(note));
        }
        out.push('\n');
    }
    out
}

fn location(path: &Path, d: &Diagnostic) -> String {
    match d.span {
        Some(span) => format!(
            "{}:{}:{}:",
            escape(&path.to_string_lossy()),
            span.line,
            span.col
        ),
        None => format!("{}:", escape(&path.to_string_lossy())),
    }
}

/// Hides a secret's characters in a source line shown back to the user (CI logs are shared).
fn mask(text: &str, col: u32, end_col: u32, same_line: bool) -> String {
    let start = (col - 1) as usize;
    let end = if same_line {
        (end_col - 1) as usize
    } else {
        usize::MAX
    };
    text.chars()
        .enumerate()
        .map(|(i, c)| {
            if i >= start && i < end && !c.is_whitespace() {
                '*'
            } else {
                c
            }
        })
        .collect()
}

pub fn summary(diagnostics: &[Diagnostic], counts: Counts) -> String {
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    format!(
        "checked {} {}, {} {}: {} {}, {} {}\n",
        counts.files,
        plural(counts.files, "file", "files"),
        counts.documents,
        plural(counts.documents, "document", "documents"),
        errors,
        plural(errors, "error", "errors"),
        warnings,
        plural(warnings, "warning", "warnings"),
    )
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// GitHub Actions workflow commands; see "Workflow commands for GitHub Actions", which
/// requires `%`, CR and LF escaped in the message and also `:` and `,` in properties.
pub fn github(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut properties = vec![format!(
            "file={}",
            escape_property(&escape(&d.file.to_string_lossy()))
        )];
        if let Some(span) = d.span {
            properties.push(format!("line={}", span.line));
            properties.push(format!("col={}", span.col));
            properties.push(format!("endLine={}", span.end_line));
            if span.end_line == span.line {
                properties.push(format!("endColumn={}", span.end_col));
            }
        }
        properties.push(format!(
            "title={}",
            escape_property(&format!("recert {}", d.code))
        ));
        // The values are escaped first: only the line breaks put in here are encoded as such,
        // so no value can end the command and start one of its own.
        let mut message = escape(&d.message).into_owned();
        if let Some(field) = &d.field {
            message.push_str(&format!("\nfield: {}", escape(field)));
        }
        for note in &d.notes {
            message.push_str(&format!("\n{}", escape(note)));
        }
        let _ = writeln!(
            out,
            "::{command} {}::{}",
            properties.join(","),
            escape_data(&message)
        );
    }
    out
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

pub fn json(diagnostics: &[Diagnostic], counts: Counts) -> String {
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let value = json!({
        "files": counts.files,
        "documents": counts.documents,
        "errors": errors,
        "warnings": diagnostics.len() - errors,
        "diagnostics": diagnostics,
    });
    let mut text = serde_json::to_string_pretty(&value).expect("diagnostics always serialise");
    text.push('\n');
    text
}

/// SARIF 2.1.0 (OASIS), the format GitHub code scanning ingests. Every code is a rule, so
/// code scanning can show its description and filter by it.
pub fn sarif(diagnostics: &[Diagnostic]) -> String {
    let rules: Vec<Value> = Code::ALL
        .iter()
        .map(|code| {
            json!({
                "id": code.as_str(),
                "shortDescription": { "text": code.description() },
                "defaultConfiguration": { "level": "error" },
            })
        })
        .collect();
    let results: Vec<Value> = diagnostics
        .iter()
        .map(|d| {
            let mut text = d.message.clone();
            for note in &d.notes {
                text.push_str(&format!("\n{note}"));
            }
            let mut physical = json!({ "artifactLocation": { "uri": artifact_uri(&d.file) } });
            if let Some(span) = d.span {
                physical["region"] = json!({
                    "startLine": span.line,
                    "startColumn": span.col,
                    "endLine": span.end_line,
                    "endColumn": span.end_col,
                });
            }
            let mut result = json!({
                "ruleId": d.code.as_str(),
                "ruleIndex": Code::ALL.iter().position(|c| *c == d.code).unwrap_or(0),
                "level": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "message": { "text": text },
                "locations": [{ "physicalLocation": physical }],
            });
            if let Some(field) = &d.field {
                result["properties"] = json!({ "field": field });
            }
            result
        })
        .collect();
    let value = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "recert",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://recert.dev",
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    let mut text = serde_json::to_string_pretty(&value).expect("SARIF always serialises");
    text.push('\n');
    text
}

/// A relative path as a relative URI reference (forward slashes, percent-encoded); an
/// absolute one as a `file://` URI.
fn artifact_uri(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    let text = text.strip_prefix("./").unwrap_or(&text);
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(byte as char)
            }
            _ => {
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
    if path.is_absolute() {
        format!("file://{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Span;

    #[test]
    fn github_annotations_escape_newlines_and_property_separators() {
        let d = Diagnostic::error(
            Code::UnknownField,
            "a,b:c.yaml",
            "unknown field `x`\nsecond line 100%",
        )
        .at(Span {
            line: 3,
            col: 5,
            end_line: 3,
            end_col: 9,
        })
        .note("did you mean `y`?");
        // A line break inside a value is spelt out; those between message and notes are
        // encoded as the workflow-command rules require.
        assert_eq!(
            github(&[d]),
            "::error file=a%2Cb%3Ac.yaml,line=3,col=5,endLine=3,endColumn=9,title=recert unknown-field::unknown field `x`\\nsecond line 100%25%0Adid you mean `y`?\n"
        );
    }

    #[test]
    fn artifact_uris_are_relative_and_percent_encoded() {
        assert_eq!(
            artifact_uri(Path::new("./my dir/a.yaml")),
            "my%20dir/a.yaml"
        );
        assert_eq!(artifact_uri(Path::new("/abs/a.yaml")), "file:///abs/a.yaml");
    }

    #[test]
    fn inline_secrets_are_masked_in_the_source_excerpt() {
        assert_eq!(
            mask("  clientSecret: hunter2", 17, 24, true),
            "  clientSecret: *******"
        );
    }
}

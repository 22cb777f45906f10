//! Secrets hidden from every line of a source file shown back to the user, whatever the
//! finding is about: CI logs, PR annotations and SARIF uploads are read by many.
//!
//! A finding's excerpt is one line, but that line may hold another secret than the one the
//! finding is about (two on one line), or a secret the finding is not about at all (an unknown
//! field's line, a misspelt `clientSecrett`). So every value that looks like a secret is masked
//! on any line shown, found two ways:
//!
//! - from the file's YAML tree: every scalar under a key named like a secret (`secret`,
//!   `password`, `token`, `credential`, `apiKey`, `privateKey`, `certificate`, matched as a
//!   substring without case, `_` or `-`), in lists and nested maps (`clientSecret: {value: …}`)
//!   alike, except the names a reference gives (`env`, `file`) — by position, and by value
//!   wherever else the value appears (in a message, on another line);
//! - on the line itself, for a file whose YAML is too broken to read: `key: value` pairs and
//!   flow maps and lists under such keys.
//!
//! Masking keeps every character's place (`*` for each), so carets still point where they did.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

use crate::diag::Diagnostic;
use crate::load::yaml::{self, Node, NodeValue};
use crate::source::{SourceFile, Span};

/// Substrings of a key (lower case, without `_` and `-`) that make its value a secret.
const SECRET_WORDS: &[&str] = &[
    "secret",
    "passw",
    "token",
    "credential",
    "apikey",
    "privatekey",
    "accesskey",
    "signingkey",
    "certificate",
];

/// Keys of a secret reference, whose values name where the secret is, not what it is.
const REFERENCE_KEYS: &[&str] = &["env", "file"];

/// Values shorter than this are masked where they stand, not searched for elsewhere: a
/// two-letter secret would star out every word it is part of.
const MIN_SEARCHED: usize = 4;

/// A secret-looking key and what follows its colon, on one line (the fallback).
static KEY_ON_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?im)["']?([A-Za-z0-9_\-]*(?:secret|passw|token|credential|api[_-]?key|private[_-]?key|access[_-]?key|signing[_-]?key|certificate)[A-Za-z0-9_\-]*)["']?[ \t]*:(?:[ \t]+|$|["'{\[])"#)
        .expect("a valid pattern")
});

/// Whether a key names a secret.
pub fn is_secret_key(key: &str) -> bool {
    let folded: String = key
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    SECRET_WORDS.iter().any(|w| folded.contains(w))
}

/// The secrets of one file.
#[derive(Debug, Default)]
struct FileSecrets {
    spans: Vec<Span>,
    values: Vec<String>,
}

/// Masks for the files some diagnostics are about.
#[derive(Debug, Default)]
pub struct Masker {
    files: HashMap<PathBuf, FileSecrets>,
}

impl Masker {
    /// Reads the secrets of every file a diagnostic names (once each).
    pub fn new(diagnostics: &[Diagnostic], sources: &[SourceFile]) -> Masker {
        let mut files = HashMap::new();
        for d in diagnostics {
            if files.contains_key(&d.file) {
                continue;
            }
            let secrets = sources
                .iter()
                .find(|s| s.path == d.file)
                .and_then(|s| s.text.as_deref())
                .map(secrets_of)
                .unwrap_or_default();
            files.insert(d.file.clone(), secrets);
        }
        Masker { files }
    }

    /// Line `number` of `file` (its `text`) with every secret on it starred out.
    pub fn line(&self, file: &Path, number: u32, text: &str) -> String {
        let mut chars: Vec<char> = text.chars().collect();
        let hide = |from: usize, to: usize, chars: &mut Vec<char>| {
            for c in chars.iter_mut().take(to).skip(from) {
                if !c.is_whitespace() {
                    *c = '*';
                }
            }
        };
        if let Some(secrets) = self.files.get(file) {
            for span in &secrets.spans {
                if span.line > number || span.end_line < number {
                    continue;
                }
                let from = if span.line == number {
                    (span.col as usize).saturating_sub(1)
                } else {
                    0
                };
                let to = if span.end_line == number {
                    (span.end_col as usize).saturating_sub(1)
                } else {
                    usize::MAX
                };
                hide(from, to, &mut chars);
            }
        }
        for (from, to) in line_secrets(text) {
            hide(from, to, &mut chars);
        }
        let masked: String = chars.into_iter().collect();
        self.values(file, &masked)
    }

    /// `text` (a message, a note) with every secret value of `file` starred out.
    pub fn values(&self, file: &Path, text: &str) -> String {
        let Some(secrets) = self.files.get(file) else {
            return text.to_owned();
        };
        let mut out = text.to_owned();
        for value in &secrets.values {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), &"*".repeat(value.chars().count()));
            }
        }
        out
    }

    /// The diagnostic with its message, field and notes masked.
    pub fn diagnostic(&self, d: &Diagnostic) -> Diagnostic {
        let mut d = d.clone();
        d.message = self.values(&d.file, &d.message);
        d.field = d.field.map(|f| self.values(&d.file, &f));
        d.notes = d.notes.iter().map(|n| self.values(&d.file, n)).collect();
        d
    }
}

/// The diagnostics with every secret value of their files starred out of their texts, for the
/// formats that show no source lines (GitHub annotations, JSON, SARIF).
pub fn diagnostics(diagnostics: &[Diagnostic], sources: &[SourceFile]) -> Vec<Diagnostic> {
    let masker = Masker::new(diagnostics, sources);
    diagnostics.iter().map(|d| masker.diagnostic(d)).collect()
}

/// Every secret scalar of a text, by position and by value.
fn secrets_of(text: &str) -> FileSecrets {
    let mut out = FileSecrets::default();
    // Most files (a large DirectoryData) name no secret at all: not parsed again for nothing.
    if !KEY_ON_LINE.is_match(text) {
        return out;
    }
    let parsed = yaml::parse(text);
    for document in &parsed.documents {
        walk(&document.root, false, text, &mut out);
    }
    out.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    out.values.dedup();
    out
}

/// Collects the scalars under a secret key. `secret` says whether `node` is under one.
fn walk(node: &Node, secret: bool, text: &str, out: &mut FileSecrets) {
    let mut stack = vec![(node, secret)];
    while let Some((node, secret)) = stack.pop() {
        match &node.value {
            NodeValue::Scalar(value) => {
                if secret {
                    out.spans.push(node.span);
                    let plain = match value {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    for v in [plain, written(text, node.span)] {
                        if v.chars().count() >= MIN_SEARCHED {
                            out.values.push(v);
                        }
                    }
                }
            }
            NodeValue::Seq(items) => stack.extend(items.iter().map(|i| (i, secret))),
            NodeValue::Map(entries) => {
                for e in entries {
                    let reference = secret && REFERENCE_KEYS.contains(&e.key.as_str());
                    let under = (secret || is_secret_key(&e.key)) && !reference;
                    if reference && !matches!(e.value.value, NodeValue::Scalar(_)) {
                        // `env: {…}` is no reference: whatever it holds is hidden.
                        stack.push((&e.value, true));
                    } else {
                        stack.push((&e.value, under));
                    }
                }
            }
        }
    }
}

/// The text a single-line span covers, as written (quotes included).
fn written(text: &str, span: Span) -> String {
    if span.line != span.end_line {
        return String::new();
    }
    text.split('\n')
        .nth((span.line as usize).saturating_sub(1))
        .map(|l| {
            l.chars()
                .skip((span.col as usize).saturating_sub(1))
                .take(span.end_col.saturating_sub(span.col) as usize)
                .collect()
        })
        .unwrap_or_default()
}

/// Character ranges of secret values on one line, read from the line alone.
fn line_secrets(line: &str) -> Vec<(usize, usize)> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    // Byte offsets to character offsets.
    let char_at = |byte: usize| line[..byte].chars().count();
    for m in KEY_ON_LINE.find_iter(line) {
        // JSON style (`"token":"x"`) has no space after the colon: the match took the value's
        // first character.
        let end = if m.as_str().ends_with(['"', '\'', '{', '[']) {
            m.end() - 1
        } else {
            m.end()
        };
        let start = char_at(end);
        match chars.get(start) {
            Some('{' | '[') => out.extend(flow_values(&chars, start)),
            Some(_) => {
                let end = scalar_end(&chars, start);
                if end > start {
                    out.push((start, end));
                }
            }
            None => {}
        }
    }
    out
}

/// Where a plain or quoted scalar starting at `start` ends: its closing quote, or the first
/// `,`, `}`, `]` or ` #`.
fn scalar_end(chars: &[char], start: usize) -> usize {
    match chars[start] {
        q @ ('"' | '\'') => {
            let mut i = start + 1;
            while i < chars.len() {
                if chars[i] == '\\' && q == '"' {
                    i += 2;
                    continue;
                }
                if chars[i] == q {
                    return i + 1;
                }
                i += 1;
            }
            chars.len()
        }
        _ => {
            let mut i = start;
            while i < chars.len() {
                if matches!(chars[i], ',' | '}' | ']')
                    || (chars[i] == '#' && i > start && chars[i - 1].is_whitespace())
                {
                    break;
                }
                i += 1;
            }
            // Trailing spaces are not part of the value.
            while i > start && chars[i - 1].is_whitespace() {
                i -= 1;
            }
            i
        }
    }
}

/// The values inside a flow map or list starting at `start`, except those of `env`/`file`.
fn flow_values(chars: &[char], start: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut i = start;
    let mut after_reference = false;
    while i < chars.len() {
        match chars[i] {
            '{' | '[' => {
                depth += 1;
                i += 1;
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                i += 1;
                if depth == 0 {
                    break;
                }
            }
            ',' => {
                after_reference = false;
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            _ => {
                let end = scalar_end(chars, i).max(i + 1);
                let token: String = chars[i..end].iter().collect();
                // A key is followed by a colon: `env:`, `value:`.
                let (key, rest) = match token.split_once(':') {
                    Some((k, r)) if chars[i] != '"' && chars[i] != '\'' => (Some(k.trim()), r),
                    _ => (None, ""),
                };
                match key {
                    Some(k) => {
                        after_reference = REFERENCE_KEYS.contains(&k);
                        let value_start = i + k.chars().count() + 1;
                        let skip = rest.chars().take_while(|c| c.is_whitespace()).count();
                        let from = value_start + skip;
                        if from < end && !after_reference {
                            out.push((from, end));
                        }
                        if from >= end {
                            // `key: {` or `key: value` split by the scanner: the value follows.
                            i = end;
                            continue;
                        }
                    }
                    None if !after_reference => out.push((i, end)),
                    None => {}
                }
                i = end;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(text: &str, line: u32) -> String {
        let file = PathBuf::from("d.yaml");
        let d = Diagnostic::error(crate::diag::Code::UnknownField, &file, "x");
        let sources = [SourceFile {
            path: file.clone(),
            text: Some(text.to_owned()),
        }];
        let masker = Masker::new(&[d], &sources);
        let shown = text.split('\n').nth(line as usize - 1).expect("line");
        masker.line(&file, line, shown)
    }

    #[test]
    fn two_secrets_on_one_line_are_both_masked() {
        let text =
            "spec:\n  graph: {clientSecret: hunter22, bearerToken: \"tok-9999\", tenantId: corp}\n";
        let line = masked(text, 2);
        assert!(!line.contains("hunter22"), "{line}");
        assert!(!line.contains("tok-9999"), "{line}");
        assert!(line.contains("tenantId: corp"), "{line}");
    }

    #[test]
    fn values_lists_and_misspelt_keys_are_masked() {
        let text = "spec:\n  clientSecret: {value: hunter22}\n  apiKeys:\n    - abcd1234\n  clientSecrett: zyxw9876\n  passwd: \"p@ss word\"\n  tenantId: corp\n";
        for (line, secret) in [
            (2, "hunter22"),
            (4, "abcd1234"),
            (5, "zyxw9876"),
            (6, "p@ss word"),
        ] {
            let shown = masked(text, line);
            assert!(!shown.contains(secret), "line {line}: {shown}");
        }
        assert_eq!(masked(text, 7), "  tenantId: corp");
    }

    #[test]
    fn references_keep_their_names() {
        let text = "spec:\n  clientSecret: {env: GRAPH_SECRET}\n  bearerToken:\n    file: /run/secrets/token\n";
        assert_eq!(masked(text, 2), "  clientSecret: {env: GRAPH_SECRET}");
        assert_eq!(masked(text, 4), "    file: /run/secrets/token");
    }

    #[test]
    fn a_secret_is_masked_where_else_it_appears() {
        let text = "spec:\n  clientSecret: hunter22\n  note: hunter22 again\n";
        assert_eq!(masked(text, 3), "  note: ******** again");
    }

    #[test]
    fn a_broken_file_is_masked_line_by_line() {
        let text = "spec:\n  clientSecret: hunter22, token: 'abc def'\n\t bad: [\n  password: {value: s3cret, env: NAME}\n";
        let line = masked(text, 2);
        assert!(
            !line.contains("hunter22") && !line.contains("abc def"),
            "{line}"
        );
        let line = masked(text, 4);
        assert!(!line.contains("s3cret"), "{line}");
        assert!(line.contains("env: NAME"), "{line}");
        let json = "{\"spec\": {\"apiToken\":\"abcd-1234\", \"x\": [\n";
        let line = masked(json, 1);
        assert!(!line.contains("abcd-1234"), "{line}");
    }
}

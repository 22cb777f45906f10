//! Loaded source files and positions in them.
//!
//! Positions are 1-based lines and 1-based columns counted in characters (what editors and
//! GitHub annotations expect), taken from the YAML parser's markers.

use std::path::{Path, PathBuf};

/// A position range in a source file: 1-based lines, 1-based character columns; the end is
/// exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    pub line: u32,
    pub col: u32,
    pub end_line: u32,
    pub end_col: u32,
}

impl Span {
    pub fn point(line: u32, col: u32) -> Span {
        Span {
            line,
            col,
            end_line: line,
            end_col: col + 1,
        }
    }
}

/// One file read from disk.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as the user gave it or as the walk found it (never made absolute, so output
    /// stays relative and reproducible).
    pub path: PathBuf,
    /// The text, when it could be read as UTF-8.
    pub text: Option<String>,
}

impl SourceFile {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The text of a 1-based line, without its line break.
    pub fn line(&self, line: u32) -> Option<&str> {
        let text = self.text.as_deref()?;
        text.split('\n')
            .nth(line.checked_sub(1)? as usize)
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
    }
}

/// Line and column (1-based, in characters) of a byte offset in a text.
pub fn position_of(text: &str, byte: usize) -> (u32, u32) {
    let before = &text.as_bytes()[..byte.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let col = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (to_u32(line), to_u32(col))
}

pub(crate) fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

//! Comment-preserving edits of YAML text people wrote: replace a scalar, cut a map entry, cut
//! one or many sequence items, append an item in the list's own style.
//!
//! Files people write (decisions files, an embedded `DirectoryData`) are edited in place
//! rather than re-serialised: re-serialising would drop their comments, reorder their keys and
//! restyle their lists, and the change would show as a rewritten file instead of the lines it
//! is about. The functions here only locate text and return [`Edit`]s; [`apply`] splices them
//! in one pass. They do not check their own work: every caller parses the result again and
//! compares it with the data it expects before it writes anything.
//!
//! Positions come from the parser as (line, character column), 1-based; [`Text`] is the one
//! line index that turns them into byte offsets.

use serde_json::Value;

use super::write::{flow_scalar, yaml_scalar};
use super::{Entry, Node, NodeValue};

/// Why a part of the text cannot be edited safely; nothing is changed when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: cannot edit `{field}`: {why}")]
pub struct CannotEdit {
    pub line: u32,
    pub column: u32,
    pub field: String,
    pub why: String,
}

/// One replacement of the bytes `from..to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub from: usize,
    pub to: usize,
    pub insert: String,
}

impl Edit {
    pub fn insert(at: usize, insert: String) -> Edit {
        Edit {
            from: at,
            to: at,
            insert,
        }
    }

    fn cut(from: usize, to: usize) -> Edit {
        Edit {
            from,
            to,
            insert: String::new(),
        }
    }
}

/// Applies edits that do not overlap, in one pass over the text; edits at the same offset go
/// in the order given. Overlapping edits mean the file's layout fooled the locating code: they
/// are refused, naming `field`.
pub fn apply(text: &str, mut edits: Vec<Edit>, field: &str) -> Result<String, CannotEdit> {
    edits.sort_by_key(|e| e.from);
    let growth: usize = edits.iter().map(|e| e.insert.len()).sum();
    let mut out = String::with_capacity(text.len() + growth);
    let mut done = 0;
    for edit in edits {
        let (Some(before), true) = (text.get(done..edit.from), edit.to >= edit.from) else {
            let (line, column) = crate::source::position_of(text, edit.from);
            return Err(CannotEdit {
                line,
                column,
                field: field.to_owned(),
                why: "the layout here is too unusual to edit safely".into(),
            });
        };
        out.push_str(before);
        out.push_str(&edit.insert);
        done = edit.to;
    }
    out.push_str(text.get(done..).unwrap_or_default());
    Ok(out)
}

/// Where a map entry's value sits in the text.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    /// Byte offset of the `:` after the key.
    pub colon: usize,
    pub start: usize,
    pub end: usize,
    /// `key:` with no value at all; `start == end == colon + 1`.
    pub empty: bool,
}

impl Slot {
    /// Replaces the value with `value`, already written as YAML (see [`yaml_scalar`]).
    pub fn replace(&self, value: &str) -> Edit {
        Edit {
            from: self.start,
            to: self.end,
            insert: if self.empty {
                format!(" {value}")
            } else {
                value.to_owned()
            },
        }
    }
}

/// A new list item, written in whichever style the list it joins uses.
pub trait NewItem {
    /// Its lines as a block item: the first starts with `prefix` (`    - `), the others are
    /// indented to match; every line ends with `eol`.
    fn block(&self, prefix: &str, eol: &str) -> String;
    /// The item inside a flow collection (`{...}`, or a scalar written for flow context).
    fn flow(&self) -> String;
}

/// 0-based column (the indentation before a key) from the parser's 1-based one.
pub fn col0(col: u32) -> usize {
    col.saturating_sub(1) as usize
}

/// A text with its line starts, to turn the parser's (line, character column) positions into
/// byte offsets and to find what the parser's spans leave out: the parser's end positions are
/// not reliable after quoted scalars and flow collections (they run on over a trailing
/// comment) nor for block scalars, so those ends are found by scanning the text.
#[derive(Debug)]
pub struct Text<'a> {
    text: &'a str,
    starts: Vec<usize>,
    /// The line break of new lines: a CRLF file stays CRLF.
    pub eol: &'static str,
}

impl<'a> Text<'a> {
    pub fn new(text: &'a str) -> Text<'a> {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
        Text { text, starts, eol }
    }

    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// The byte offset of a (line, character column) position, both 1-based; the end of a
    /// line is a position too.
    pub fn offset(&self, line: u32, col: u32) -> Option<usize> {
        let start = *self.starts.get((line as usize).checked_sub(1)?)?;
        let line_text = &self.text[start..self.next_line_start(line)];
        let chars = col0(col);
        line_text
            .char_indices()
            .nth(chars)
            .map(|(i, _)| start + i)
            .or_else(|| (line_text.chars().count() == chars).then_some(start + line_text.len()))
    }

    /// The (line, character column) of a byte offset, both 1-based.
    pub fn position(&self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.text.len());
        let line = self.line_of(offset);
        let start = self.line_start(line);
        let col = self
            .text
            .get(start..offset)
            .map_or(0, |s| s.chars().count());
        (line, crate::source::to_u32(col + 1))
    }

    pub fn start(&self, node: &Node) -> Option<usize> {
        self.offset(node.span.line, node.span.col)
    }

    pub fn starts_with(&self, node: &Node, c: char) -> bool {
        self.start(node)
            .is_some_and(|o| self.text[o..].starts_with(c))
    }

    /// The line (1-based) holding the byte at `offset`.
    pub fn line_of(&self, offset: usize) -> u32 {
        crate::source::to_u32(self.starts.partition_point(|&s| s <= offset))
    }

    pub fn line_start(&self, line: u32) -> usize {
        self.starts
            .get((line as usize).saturating_sub(1))
            .copied()
            .unwrap_or(self.text.len())
    }

    pub fn next_line_start(&self, line: u32) -> usize {
        self.starts
            .get(line as usize)
            .copied()
            .unwrap_or(self.text.len())
    }

    /// The offset of the line break ending `line` (or the end of the text).
    pub fn line_end(&self, line: u32) -> usize {
        let body = &self.text[self.line_start(line)..self.next_line_start(line)];
        let body = body.strip_suffix('\n').unwrap_or(body);
        let body = body.strip_suffix('\r').unwrap_or(body);
        self.line_start(line) + body.len()
    }

    pub fn unsupported(&self, node: &Node, field: &str, why: &str) -> CannotEdit {
        CannotEdit {
            line: node.span.line,
            column: node.span.col,
            field: field.to_owned(),
            why: why.to_owned(),
        }
    }

    fn unsupported_at(&self, offset: usize, field: &str, why: &str) -> CannotEdit {
        let (line, column) = self.position(offset);
        CannotEdit {
            line,
            column,
            field: field.to_owned(),
            why: why.to_owned(),
        }
    }

    /// The end of a scalar or flow collection (exclusive); `None` for block collections.
    pub fn node_end(&self, node: &Node) -> Option<usize> {
        let start = self.start(node)?;
        match self.text[start..].chars().next()? {
            '"' | '\'' => quoted_end(self.text, start),
            '[' | '{' => flow_end(self.text, start),
            _ => match node.value {
                NodeValue::Scalar(_) => self.offset(node.span.end_line, node.span.end_col),
                _ => None,
            },
        }
    }

    /// The end of the last content line of a block scalar: the lines after its start that are
    /// blank or indented at least as deep as its first line.
    fn block_scalar_end(&self, node: &Node) -> usize {
        let indent = col0(node.span.col);
        let mut last = node.span.line;
        for line in node.span.line..=crate::source::to_u32(self.starts.len()) {
            let body = &self.text[self.line_start(line)..self.line_end(line)];
            if body.trim().is_empty() {
                continue;
            }
            if body.len() - body.trim_start_matches(' ').len() < indent {
                break;
            }
            last = line;
        }
        self.line_end(last)
    }

    /// Where the value of a map entry is written.
    pub fn value_slot(&self, entry: &Entry, field: &str) -> Result<Slot, CannotEdit> {
        let cannot = |why| self.unsupported(&entry.value, field, why);
        let key_start = self
            .offset(entry.key_span.line, entry.key_span.col)
            .ok_or_else(|| cannot("its key cannot be located"))?;
        let key_end = match self.text[key_start..].chars().next() {
            Some('"' | '\'') => quoted_end(self.text, key_start),
            _ => self.offset(entry.key_span.end_line, entry.key_span.end_col),
        }
        .ok_or_else(|| cannot("its key cannot be located"))?;
        let colon = key_end + self.text[key_end..].len()
            - self.text[key_end..].trim_start_matches([' ', '\t']).len();
        if !self.text[colon..].starts_with(':') {
            return Err(cannot("its key is not followed by `:`"));
        }
        let after = self.text[colon + 1..].trim_start_matches([' ', '\t']);
        let after_at = self.text.len() - after.len();
        let value_start = self
            .start(&entry.value)
            .ok_or_else(|| cannot("its value cannot be located"))?;
        if after.starts_with(['|', '>']) {
            return Ok(Slot {
                colon,
                start: after_at,
                end: self.block_scalar_end(&entry.value),
                empty: false,
            });
        }
        if is_empty_null(&entry.value, &self.text[value_start..]) {
            return Ok(Slot {
                colon,
                start: colon + 1,
                end: colon + 1,
                empty: true,
            });
        }
        let end = self
            .node_end(&entry.value)
            .filter(|&end| end > value_start && value_start > colon)
            .ok_or_else(|| cannot("its value cannot be located"))?;
        Ok(Slot {
            colon,
            start: value_start,
            end,
            empty: false,
        })
    }

    /// The last line holding any of the node's own text (comments and blank lines after it
    /// belong to whatever follows).
    pub fn last_line(&self, node: &Node, field: &str) -> Result<u32, CannotEdit> {
        let lost = || self.unsupported(node, field, "its end cannot be located");
        if let Some(end) = self.node_end(node) {
            return Ok(self.line_of(end.saturating_sub(1)));
        }
        match &node.value {
            NodeValue::Scalar(_) => Ok(node.span.line),
            NodeValue::Seq(items) => items
                .iter()
                .map(|i| self.last_line(i, field))
                .try_fold(node.span.line, |max, l| Ok(max.max(l?))),
            NodeValue::Map(entries) => entries.iter().try_fold(node.span.line, |max, e| {
                let last = match &e.value.value {
                    NodeValue::Map(_) | NodeValue::Seq(_) => self.last_line(&e.value, field)?,
                    NodeValue::Scalar(_) => {
                        let slot = self.value_slot(e, &e.key).map_err(|_| lost())?;
                        self.line_of(slot.end.max(slot.colon + 1) - 1)
                    }
                };
                Ok(max.max(last).max(e.key_span.line))
            }),
        }
    }

    /// Inserts `block` (whole lines, ending in a line break) after `line`.
    pub fn insert_after_line(&self, line: u32, block: &str) -> Edit {
        let at = self.next_line_start(line);
        if at == self.text.len() && !self.text.is_empty() && !self.text.ends_with('\n') {
            // The file ends without a line break: the new lines get the one before them
            // instead of after, so the file still ends as it did.
            let block = block.strip_suffix(self.eol).unwrap_or(block);
            return Edit::insert(at, format!("{}{block}", self.eol));
        }
        Edit::insert(at, block.to_owned())
    }

    /// The byte range of whole lines `first..=last`, for cutting them.
    fn lines_range(&self, first: u32, last: u32) -> (usize, usize) {
        let to = self.next_line_start(last);
        if to == self.text.len() && !self.text.ends_with('\n') && first > 1 {
            // The last line has no line break: take the one before it instead.
            return (self.line_end(first - 1), to);
        }
        (self.line_start(first), to)
    }

    /// The text before a block sequence item on its line, when it is the usual `  - `.
    pub fn dash_prefix(&self, item: &Node) -> Option<&'a str> {
        let start = self.start(item)?;
        let prefix = &self.text[self.line_start(item.span.line)..start];
        let rest = prefix.trim_start_matches(' ').strip_prefix('-')?;
        (!rest.is_empty() && rest.trim_matches(' ').is_empty()).then_some(prefix)
    }

    /// `key: value` as a new entry right after `after` (whose value is in `slot`).
    pub fn insert_after_entry(
        &self,
        after: &Entry,
        slot: &Slot,
        key: &str,
        value: &str,
        flow: bool,
    ) -> Edit {
        if flow {
            return Edit::insert(slot.end, format!(", {key}: {}", flow_scalar(value)));
        }
        let indent = " ".repeat(col0(after.key_span.col));
        let last = self.line_of(slot.end.max(slot.colon + 1) - 1);
        Edit::insert(
            self.line_end(last),
            format!("{}{indent}{key}: {}", self.eol, yaml_scalar(value)),
        )
    }

    /// Cuts entry `at` out of a mapping: its whole lines in a block mapping, its characters
    /// and one separating comma in a flow mapping.
    pub fn cut_entry(
        &self,
        entries: &[Entry],
        at: usize,
        flow: bool,
        field: &str,
    ) -> Result<Edit, CannotEdit> {
        let entry = &entries[at];
        let slot = self.value_slot(entry, field)?;
        let key_start = self
            .offset(entry.key_span.line, entry.key_span.col)
            .ok_or_else(|| self.unsupported_at(slot.colon, field, "its key cannot be located"))?;
        let next_key = || {
            entries
                .get(at + 1)
                .and_then(|n| self.offset(n.key_span.line, n.key_span.col))
                .ok_or_else(|| self.unsupported_at(key_start, field, "it cannot be cut cleanly"))
        };
        let own_line = self.text[self.line_start(entry.key_span.line)..key_start]
            .trim()
            .is_empty();
        let (from, to) = if flow && at > 0 {
            let previous = &entries[at - 1];
            (self.value_slot(previous, &previous.key)?.end, slot.end)
        } else if flow || !own_line {
            // The first key of a flow mapping, or of a block item (`- reason: ...`): cut up to
            // the next key so the `{` or `- ` stays.
            (key_start, next_key()?)
        } else {
            let last = self.line_of(slot.end.max(slot.colon + 1) - 1);
            self.lines_range(entry.key_span.line, last)
        };
        Ok(Edit::cut(from, to))
    }

    /// Cuts item `index` out of a sequence; see [`Text::cut_items`].
    pub fn cut_item(&self, seq: &Node, index: usize, field: &str) -> Result<Vec<Edit>, CannotEdit> {
        self.cut_items(seq, &[index], field)
    }

    /// Cuts the items at `indices` (ascending, each once) out of a sequence, in one pass over
    /// them: in a block sequence each item's whole lines (from its `- ` to its last line of
    /// content; comments and blank lines between items stay with what follows them), in a
    /// flow sequence each run of cut items with one separating comma. A block sequence that
    /// loses every item gets `[]` where its last item was, indented under its key: a key left
    /// with no value reads as null, not as an empty list.
    ///
    /// The result is the same as cutting the items one at a time, from the first to the last,
    /// each on the text the previous cut left.
    pub fn cut_items(
        &self,
        seq: &Node,
        indices: &[usize],
        field: &str,
    ) -> Result<Vec<Edit>, CannotEdit> {
        let NodeValue::Seq(items) = &seq.value else {
            return Err(self.unsupported(seq, field, "it is not a list"));
        };
        if indices.is_empty() {
            return Ok(Vec::new());
        }
        if !indices.is_sorted_by(|a, b| a < b) || indices.last().is_some_and(|&i| i >= items.len())
        {
            return Err(self.unsupported(seq, field, "the items to cut are not in the list"));
        }
        if self.starts_with(seq, '[') {
            self.cut_flow_items(items, indices, field)
        } else {
            self.cut_block_items(items, indices, field)
        }
    }

    fn cut_flow_items(
        &self,
        items: &[Node],
        indices: &[usize],
        field: &str,
    ) -> Result<Vec<Edit>, CannotEdit> {
        let lost = |n: &Node| self.unsupported(n, field, "it cannot be cut cleanly");
        let start = |n: &Node| self.start(n).ok_or_else(|| lost(n));
        let end = |n: &Node| self.node_end(n).ok_or_else(|| lost(n));
        let mut edits = Vec::new();
        let mut i = 0;
        while i < indices.len() {
            // A run of consecutive items is one cut: `[a, b, c, d]` less b and c is "b, c, "
            // (up to the next kept item) or, at the end of the list, ", c, d".
            let first = indices[i];
            let mut last = first;
            while indices.get(i + 1) == Some(&(last + 1)) {
                i += 1;
                last += 1;
            }
            i += 1;
            let (from, to) = match (items.get(last + 1), first.checked_sub(1)) {
                (Some(next), _) => (start(&items[first])?, start(next)?),
                (None, Some(previous)) => (end(&items[previous])?, end(&items[last])?),
                (None, None) => (start(&items[first])?, end(&items[last])?),
            };
            edits.push(Edit::cut(from, to));
        }
        Ok(edits)
    }

    fn cut_block_items(
        &self,
        items: &[Node],
        indices: &[usize],
        field: &str,
    ) -> Result<Vec<Edit>, CannotEdit> {
        let mut edits: Vec<Edit> = Vec::with_capacity(indices.len());
        for &index in indices {
            let item = &items[index];
            self.dash_prefix(item)
                .ok_or_else(|| self.unsupported(item, field, "it cannot be cut cleanly"))?;
            let (from, to) = self.lines_range(item.span.line, self.last_line(item, field)?);
            match edits.last_mut() {
                // Next to the previous cut (or, when the last line has no line break, sharing
                // the break before it): one cut, as cutting them one after the other gives.
                Some(previous) if from <= previous.to => previous.to = previous.to.max(to),
                _ => edits.push(Edit::cut(from, to)),
            }
        }
        if indices.len() == items.len() {
            let last = edits.last_mut().expect("at least one item is cut");
            let item = &items[indices[indices.len() - 1]];
            let prefix = self.dash_prefix(item).unwrap_or_default();
            let dash = prefix.len() - prefix.trim_start_matches(' ').len();
            let empty = format!("{}[]", " ".repeat(dash + 2));
            // Where the last item was (the cuts before it that touch it are merged into its
            // own, so nothing they left lies between): on its own line, or after the line
            // break the cut took when the file ends without one.
            let at_line_start = last.from == 0 || self.text[..last.from].ends_with('\n');
            last.insert = match (at_line_start, self.text[..last.to].ends_with('\n')) {
                (true, true) => format!("{empty}{}", self.eol),
                (true, false) => empty,
                (false, _) => format!("{}{empty}", self.eol),
            };
        }
        Ok(edits)
    }

    /// A new item after the last item of a non-empty block list, with the same dash and
    /// indentation, and in flow style if that item is.
    pub fn append_block(
        &self,
        items: &[Node],
        item: &dyn NewItem,
        field: &str,
    ) -> Result<Edit, CannotEdit> {
        let last = items
            .last()
            .ok_or_else(|| self.unsupported_at(0, field, "the list is empty"))?;
        let prefix = self.dash_prefix(last).ok_or_else(|| {
            self.unsupported(last, field, "the list's items do not start with `- `")
        })?;
        let entry = if self.starts_with(last, '{') {
            format!("{prefix}{}{}", item.flow(), self.eol)
        } else {
            item.block(prefix, self.eol)
        };
        Ok(self.insert_after_line(self.last_line(last, field)?, &entry))
    }

    /// A new item at the end of a non-empty flow list: on its own line when the list has one
    /// item per line, else after a comma on the same line.
    pub fn append_flow(
        &self,
        seq: &Node,
        items: &[Node],
        item: &dyn NewItem,
        field: &str,
    ) -> Result<Vec<Edit>, CannotEdit> {
        let last = items
            .last()
            .ok_or_else(|| self.unsupported(seq, field, "the list is empty"))?;
        let lost = || self.unsupported(last, field, "its end cannot be located");
        let item_end = self.node_end(last).ok_or_else(lost)?;
        let seq_end = self.node_end(seq).ok_or_else(lost)?;
        let item_line = self.line_of(item_end - 1);
        let indent =
            &self.text[self.line_start(last.span.line)..self.start(last).ok_or_else(lost)?];
        let one_per_line = self.line_of(seq_end - 1) > item_line
            && indent.trim().is_empty()
            && last.span.line > seq.span.line;
        let entry = item.flow();
        if !one_per_line {
            return Ok(vec![Edit::insert(item_end, format!(", {entry}"))]);
        }
        let line_end = self.line_end(item_line);
        let trailing_comma = self.text[item_end..line_end].trim_start().starts_with(',');
        Ok(if trailing_comma {
            vec![Edit::insert(
                line_end,
                format!("{}{indent}{entry},", self.eol),
            )]
        } else {
            vec![
                Edit::insert(item_end, ",".to_owned()),
                Edit::insert(line_end, format!("{}{indent}{entry}", self.eol)),
            ]
        })
    }

    /// Gives an empty or absent-valued list (`key: []`, `key:`) its first item: as a block
    /// list under the key, or as a flow list when the mapping holding the key is flow.
    pub fn fill_list(
        &self,
        key: &Entry,
        parent_flow: bool,
        item: &dyn NewItem,
        field: &str,
    ) -> Result<Vec<Edit>, CannotEdit> {
        let slot = self.value_slot(key, field)?;
        if parent_flow {
            return Ok(vec![slot.replace(&format!("[{}]", item.flow()))]);
        }
        let indent = " ".repeat(col0(key.key_span.col));
        let block = item.block(&format!("{indent}  - "), self.eol);
        let block = block.strip_suffix(self.eol).unwrap_or(&block);
        let key_line = self.line_of(slot.colon);
        let value_line = self.line_of(slot.start);
        let value_last = self.line_of(slot.end.max(slot.start + 1) - 1);
        let alone = !slot.empty
            && value_line > key_line
            && self.text[self.line_start(value_line)..slot.start]
                .trim()
                .is_empty()
            && self.text[slot.end..self.line_end(value_last)]
                .trim()
                .is_empty();
        if alone {
            // A `[]` on a line of its own (as an emptied block list is left): its line goes,
            // and the comments between it and the key stay below the new item.
            let (from, to) = self.lines_range(value_line, value_last);
            return Ok(vec![
                Edit::insert(self.line_end(key_line), format!("{}{block}", self.eol)),
                Edit::cut(from, to),
            ]);
        }
        let line_end = self.line_end(self.line_of(slot.end.max(slot.colon + 1) - 1));
        Ok(vec![
            Edit::cut(slot.colon + 1, slot.end),
            Edit::insert(line_end, format!("{}{block}", self.eol)),
        ])
    }
}

/// A null written as nothing at all (`key:`), whose span the parser puts on the `:`.
fn is_empty_null(node: &Node, text_at: &str) -> bool {
    matches!(node.value, NodeValue::Scalar(Value::Null))
        && !["~", "null", "Null", "NULL"]
            .iter()
            .any(|literal| text_at.starts_with(literal))
}

/// The end (exclusive) of the quoted scalar starting at `start`.
fn quoted_end(text: &str, start: usize) -> Option<usize> {
    let quote = text[start..].chars().next()?;
    let mut chars = text[start + 1..].char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if quote == '"' => {
                chars.next();
            }
            c if c == quote => {
                // `''` is an escaped quote inside a single-quoted scalar.
                if quote == '\'' && chars.peek().is_some_and(|&(_, n)| n == '\'') {
                    chars.next();
                } else {
                    return Some(start + 1 + i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// The end (exclusive) of the flow collection whose opening bracket is at `start`.
fn flow_end(text: &str, start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut previous = ' ';
    let mut i = start;
    while let Some(c) = text[i..].chars().next() {
        let mut next = i + c.len_utf8();
        match c {
            '[' | '{' => depth += 1,
            ']' | '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(next);
                }
            }
            // A quote opens a quoted scalar only where a token starts: `don't` is plain.
            '"' | '\'' if " \t\r\n[{,:".contains(previous) => next = quoted_end(text, i)?,
            '#' if previous.is_whitespace() => {
                next = text[i..].find('\n').map_or(text.len(), |n| i + n);
            }
            _ => {}
        }
        previous = c;
        i = next;
    }
    None
}

/// Cuts items out of several sequences of one document in one pass over the text: `cuts`
/// pairs the JSON pointer of a sequence (under `root`, the document's parsed tree) with the
/// indices of the items to cut, ascending. Sequences must not nest in one another's cut items.
pub fn cut_sequence_items(
    text: &str,
    root: &Node,
    cuts: &[(String, Vec<usize>)],
) -> Result<String, CannotEdit> {
    let t = Text::new(text);
    let mut edits = Vec::with_capacity(cuts.iter().map(|(_, i)| i.len()).sum());
    for (pointer, indices) in cuts {
        let Some((seq, _)) = root.locate(pointer) else {
            return Err(t.unsupported(root, pointer, "it cannot be located"));
        };
        edits.extend(t.cut_items(seq, indices, pointer)?);
    }
    apply(text, edits, "the cut items")
}

/// A guess at [`cut_sequence_items`] for one block sequence under a top-level key
/// (`spec.assignments` of a one-document file), found by reading lines instead of parsing the
/// whole text: the items of a block sequence start with `- ` at one indentation, and an item
/// runs to its last line of content (comments and blank lines after it belong to what
/// follows), as the parsed cut has it. `None` where the text is not that plain (several
/// documents, flow style, every item cut, a line it cannot place).
///
/// A guess only: the caller must read the result back and check it holds exactly what it
/// should, and cut with the parsed tree when it does not. A large data file is then parsed
/// once with positions only when its text is unusual, not on every apply.
pub fn guess_block_cuts(text: &str, parent: &str, key: &str, indices: &[usize]) -> Option<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let content = |l: &str| {
        let t = l.trim_start();
        !(t.is_empty() || t.starts_with('#'))
    };
    let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
    // One document: a separator or end marker anywhere but the first line is not handled.
    if lines
        .iter()
        .skip(1)
        .any(|l| l.starts_with("---") || l.starts_with("..."))
    {
        return None;
    }
    let is_key = |l: &str, at: usize, name: &str| {
        indent(l) == at
            && l[at..]
                .strip_prefix(name)
                .and_then(|r| r.strip_prefix(':'))
                .is_some_and(|r| {
                    let r = r.trim_start_matches(' ');
                    r.is_empty() || r.starts_with('\n') || r.starts_with('#') || r.starts_with('\r')
                })
    };
    let parent_at = lines.iter().position(|l| is_key(l, 0, parent))?;
    // The parent's keys are at the indentation of its first line of content.
    let first = lines[parent_at + 1..].iter().position(|l| content(l))? + parent_at + 1;
    let key_indent = indent(lines[first]);
    if key_indent == 0 {
        return None;
    }
    let mut key_at = None;
    for (n, l) in lines.iter().enumerate().skip(first) {
        if !content(l) {
            continue;
        }
        if indent(l) < key_indent {
            break;
        }
        if is_key(l, key_indent, key) {
            key_at = Some(n);
            break;
        }
    }
    let key_at = key_at?;
    // The items: `- ` lines at one indentation, each running to its last line of content.
    let start = lines[key_at + 1..].iter().position(|l| content(l))? + key_at + 1;
    let dash = indent(lines[start]);
    if dash < key_indent || !lines[start][dash..].starts_with("- ") {
        return None;
    }
    let mut items: Vec<(usize, usize)> = Vec::new();
    for (n, l) in lines.iter().enumerate().skip(start) {
        if !content(l) {
            continue;
        }
        let at = indent(l);
        if at == dash && l[at..].starts_with("- ") {
            items.push((n, n));
        } else if at > dash {
            items.last_mut()?.1 = n;
        } else {
            break;
        }
    }
    if indices.is_empty() || indices.len() >= items.len() {
        return None;
    }
    let mut cut = vec![false; lines.len()];
    for &i in indices {
        let (from, to) = *items.get(i)?;
        cut[from..=to].iter_mut().for_each(|c| *c = true);
    }
    let mut out = String::with_capacity(text.len());
    for (line, gone) in lines.iter().zip(cut) {
        if !gone {
            out.push_str(line);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LISTS: &str = "# Who holds what.
spec:
  groups:
    - {id: g-1, members: [u-a, u-b, \"u-c\", u-d]}   # ops
  assignments:
    - {id: a-1, principal: u-a, role: r-1}
    # The second one.
    - id: a-2
      principal: u-b   # Bob
      role: r-1

    - id: a-3
      principal: 'u-c'
      role: r-2
    - {id: a-4, principal: u-d, role: r-1}   # last
  roles: []
";

    fn root(text: &str) -> Node {
        let parsed = crate::yaml::parse(text);
        assert!(parsed.errors.is_empty(), "{:?}\n{text}", parsed.errors);
        parsed
            .documents
            .into_iter()
            .next()
            .expect("a document")
            .root
    }

    fn cut(text: &str, cuts: &[(&str, &[usize])]) -> Result<String, CannotEdit> {
        let cuts: Vec<(String, Vec<usize>)> = cuts
            .iter()
            .map(|(p, i)| ((*p).to_owned(), i.to_vec()))
            .collect();
        cut_sequence_items(text, &root(text), &cuts)
    }

    #[test]
    fn a_guessed_block_cut_is_the_parsed_cut_or_nothing() {
        // Every proper subset of the four assignments of LISTS: the guess equals the cut the
        // parsed tree makes.
        for mask in 1u8..15 {
            let indices: Vec<usize> = (0..4).filter(|i| mask & (1 << i) != 0).collect();
            let guessed = guess_block_cuts(LISTS, "spec", "assignments", &indices);
            let parsed = cut(LISTS, &[("/spec/assignments", &indices)]).expect("cut");
            assert_eq!(guessed.as_deref(), Some(parsed.as_str()), "{indices:?}");
        }
        // What it leaves to the parsed cut: every item, a flow list, several documents, an
        // index past the end, a missing key.
        assert_eq!(
            guess_block_cuts(LISTS, "spec", "assignments", &[0, 1, 2, 3]),
            None
        );
        assert_eq!(
            guess_block_cuts(
                "spec:\n  assignments: [a, b]\n",
                "spec",
                "assignments",
                &[0]
            ),
            None
        );
        let two = format!("{LISTS}---\n{LISTS}");
        assert_eq!(guess_block_cuts(&two, "spec", "assignments", &[0]), None);
        assert_eq!(guess_block_cuts(LISTS, "spec", "assignments", &[9]), None);
        assert_eq!(guess_block_cuts(LISTS, "spec", "users", &[0]), None);
    }

    proptest! {
        #[test]
        fn a_guess_on_generated_lists_is_the_parsed_cut(
            items in proptest::collection::vec((0u8..4, any::<bool>()), 2..12),
            picks in proptest::collection::vec(any::<bool>(), 12),
        ) {
            // Items in flow and block style, with comments and blank lines between them.
            let mut text = String::from("apiVersion: x\nspec:\n  users: []\n  assignments:\n");
            for (n, (style, comment)) in items.iter().enumerate() {
                if *comment {
                    text.push_str("    # a note\n\n");
                }
                match style {
                    0 => text.push_str(&format!("    - {{id: a-{n}, role: r}}\n")),
                    1 => text.push_str(&format!("    - id: a-{n}\n      role: r   # why\n")),
                    2 => text.push_str(&format!("    - id: a-{n}\n      # inside\n      role: r\n")),
                    _ => text.push_str(&format!("    - id: 'a-{n}'\n\n      role: r\n")),
                }
            }
            text.push_str("  roles: []\n");
            let indices: Vec<usize> = (0..items.len()).filter(|&i| picks[i]).collect();
            prop_assume!(!indices.is_empty() && indices.len() < items.len());
            let guessed = guess_block_cuts(&text, "spec", "assignments", &indices);
            let parsed = cut(&text, &[("/spec/assignments", &indices)]).expect("cut");
            prop_assert_eq!(guessed, Some(parsed));
        }
    }

    #[test]
    fn block_items_are_cut_by_their_lines_keeping_the_comments_between_them() {
        let out = cut(LISTS, &[("/spec/assignments", &[1, 2])]).expect("cut");
        assert_eq!(
            out,
            LISTS.replace(
                "    - id: a-2\n      principal: u-b   # Bob\n      role: r-1\n\n    - id: a-3\n      principal: 'u-c'\n      role: r-2\n",
                "\n",
            )
        );
        assert!(
            out.contains("    # The second one.\n\n    - {id: a-4"),
            "{out}"
        );
        let out = cut(LISTS, &[("/spec/assignments", &[0, 3])]).expect("cut");
        assert_eq!(
            out,
            LISTS
                .replace("    - {id: a-1, principal: u-a, role: r-1}\n", "")
                .replace("    - {id: a-4, principal: u-d, role: r-1}   # last\n", "")
        );
    }

    #[test]
    fn flow_items_are_cut_with_one_comma_per_run() {
        let members = |cut_at: &[usize]| {
            let out = cut(LISTS, &[("/spec/groups/0/members", cut_at)]).expect("cut");
            let line = out.lines().find(|l| l.contains("g-1")).expect("the group");
            line.to_owned()
        };
        let group = |list: &str| format!("    - {{id: g-1, members: {list}}}   # ops");
        assert_eq!(members(&[1, 2]), group("[u-a, u-d]"));
        assert_eq!(members(&[0, 2]), group("[u-b, u-d]"));
        assert_eq!(members(&[2, 3]), group("[u-a, u-b]"));
        assert_eq!(members(&[0, 1, 3]), group("[\"u-c\"]"));
        assert_eq!(members(&[0, 1, 2, 3]), group("[]"));
    }

    #[test]
    fn a_block_list_that_loses_every_item_becomes_an_empty_flow_list() {
        let out = cut(LISTS, &[("/spec/assignments", &[0, 1, 2, 3])]).expect("cut");
        assert_eq!(
            out,
            "# Who holds what.
spec:
  groups:
    - {id: g-1, members: [u-a, u-b, \"u-c\", u-d]}   # ops
  assignments:
    # The second one.

      []
  roles: []
"
        );
        assert_eq!(
            root(&out).get("spec").and_then(|s| s.get("assignments")),
            Some(&Node {
                span: root(&out).span_of("/spec/assignments"),
                value: NodeValue::Seq(Vec::new())
            })
        );
        // Without a final line break, the `[]` takes the place of the last line.
        let text = "k:\n  - a\n  - b";
        assert_eq!(cut(text, &[("/k", &[0, 1])]).expect("cut"), "k:\n    []");
        assert_eq!(cut(text, &[("/k", &[1])]).expect("cut"), "k:\n  - a");
    }

    #[test]
    fn several_lists_are_cut_in_one_pass() {
        let out = cut(
            LISTS,
            &[
                ("/spec/assignments", &[0, 2]),
                ("/spec/groups/0/members", &[3]),
            ],
        )
        .expect("cut");
        let expected = LISTS
            .replace("[u-a, u-b, \"u-c\", u-d]", "[u-a, u-b, \"u-c\"]")
            .replace("    - {id: a-1, principal: u-a, role: r-1}\n", "")
            .replace(
                "    - id: a-3\n      principal: 'u-c'\n      role: r-2\n",
                "",
            );
        assert_eq!(out, expected);
    }

    #[test]
    fn what_cannot_be_cut_cleanly_is_refused_with_its_position() {
        let text = "k:\n  -\n    id: a\n  - b\n";
        let error = cut(text, &[("/k", &[0])]).expect_err("no `- ` before the item");
        assert_eq!(
            (error.line, error.column, error.field.as_str()),
            (3, 5, "/k")
        );
        let error = cut(LISTS, &[("/spec/nothing", &[0])]).expect_err("no such list");
        assert_eq!(error.field, "/spec/nothing");
        let error = cut(LISTS, &[("/spec/assignments", &[2, 1])]).expect_err("not ascending");
        assert_eq!(error.why, "the items to cut are not in the list");
        let error = cut(LISTS, &[("/spec/assignments", &[4])]).expect_err("out of range");
        assert_eq!(error.why, "the items to cut are not in the list");
    }

    #[test]
    fn a_line_index_maps_character_columns_to_bytes() {
        let t = Text::new("é: ü\r\nnext\n");
        assert_eq!(t.offset(1, 4), Some(4));
        assert_eq!(t.offset(1, 5), Some(6));
        assert_eq!(t.offset(2, 1), Some(8));
        assert_eq!(t.offset(3, 1), Some(13));
        assert_eq!(t.offset(4, 1), None);
        assert_eq!(t.position(8), (2, 1));
        assert_eq!(t.position(4), (1, 4));
        assert_eq!(t.eol, "\r\n");
        assert_eq!(t.line_end(1), 6);
    }

    /// A list whose items come in every style the engine handles, with comments and blank
    /// lines between them, and a flow list beside it.
    fn list_text(styles: &[u8], flow_len: usize, final_break: bool) -> String {
        let mut text = String::from("spec:\n  items:\n");
        for (i, style) in styles.iter().enumerate() {
            match style % 5 {
                0 => text.push_str(&format!("    - {{id: x-{i}, v: 1}}\n")),
                1 => text.push_str(&format!("    - id: x-{i}   # note\n      v: \"q, {i}\"\n")),
                2 => text.push_str(&format!("    # about x-{i}\n    - 'x-{i}'\n")),
                3 => text.push_str(&format!("    - [x-{i}, {{a: b}}]\n\n")),
                _ => text.push_str(&format!(
                    "    - id: x-{i}\n      list:\n        - a\n        - b\n"
                )),
            }
        }
        let flow: Vec<String> = (0..flow_len).map(|i| format!("f-{i}")).collect();
        text.push_str(&format!("  flow: [{}]  # end\n", flow.join(", ")));
        if !final_break {
            text.pop();
        }
        text
    }

    /// Cutting the items one at a time, each on the text the last cut left.
    fn one_by_one(text: &str, pointer: &str, indices: &[usize]) -> String {
        let mut text = text.to_owned();
        for (done, &index) in indices.iter().enumerate() {
            let root = root(&text);
            let (seq, _) = root.locate(pointer).expect("the list");
            let t = Text::new(&text);
            let edits = t.cut_item(seq, index - done, pointer).expect("one cut");
            text = apply(&text, edits, pointer).expect("applies");
        }
        text
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn cutting_a_subset_in_one_pass_equals_cutting_it_item_by_item(
            styles in proptest::collection::vec(0u8..5, 1..12),
            flow_len in 1usize..6,
            picks in proptest::collection::vec(any::<bool>(), 18),
            final_break in any::<bool>(),
        ) {
            let text = list_text(&styles, flow_len, final_break);
            let items: Vec<usize> = (0..styles.len()).filter(|&i| picks[i]).collect();
            let flow: Vec<usize> = (0..flow_len).filter(|&i| picks[12 + i]).collect();
            let batch = cut(&text, &[("/spec/items", &items), ("/spec/flow", &flow)])
                .expect("cut");
            let sequential = one_by_one(&one_by_one(&text, "/spec/items", &items), "/spec/flow", &flow);
            prop_assert_eq!(&batch, &sequential);
            let value = root(&batch).to_value();
            let kept = value["spec"]["items"].as_array().map_or(0, Vec::len);
            prop_assert_eq!(kept, styles.len() - items.len());
            prop_assert_eq!(value["spec"]["flow"].as_array().map(Vec::len), Some(flow_len - flow.len()));
        }
    }
}

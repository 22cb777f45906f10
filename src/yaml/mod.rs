//! YAML text, the one home of it: reading (here), writing ([`write`]) and comment-preserving
//! edits of text people wrote ([`edit`]).
//!
//! Reading turns YAML text into spanned trees, one per document, with every node's position.
//! Built on `saphyr-parser`'s event stream rather than a serde deserializer because validation
//! needs the position of *every* node (to place schema errors), must survive hostile input
//! (alias bombs, absurd nesting) without hanging or overflowing the stack, and must report
//! duplicate keys, which serde-based loaders silently resolve. Scalars are resolved with the
//! YAML 1.2 core schema: `yes`/`no`/`on` are strings, and so is `2026-12-01`.

use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, ScanError, Span as YSpan, Tag};
use serde_json::{Map, Number, Value};

use crate::source::{Span, to_u32};

pub mod edit;
mod split;
pub mod write;

/// Deepest nesting of collections accepted. Recert's deepest legitimate path is about six
/// levels; 64 leaves room for free-form labels while keeping recursive walks shallow.
pub const MAX_DEPTH: usize = 64;

/// Most values one file may add through aliases. Plain values are bounded by the file-size
/// limit; aliases are not (each copies its anchor), so a "billion laughs" file grows
/// exponentially. Manifests rarely use aliases at all; 100,000 copies is far beyond honest use.
pub const MAX_ALIAS_NODES: usize = 100_000;

/// A YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: NodeValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    Scalar(Value),
    Seq(Vec<Node>),
    /// Entries in document order: the key's text and span, then the value.
    Map(Vec<Entry>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Node,
}

impl Node {
    /// The plain data, for schema validation and typed decoding.
    pub fn to_value(&self) -> Value {
        match &self.value {
            NodeValue::Scalar(v) => v.clone(),
            NodeValue::Seq(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            NodeValue::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_value()))
                    .collect::<Map<_, _>>(),
            ),
        }
    }

    /// The node a JSON pointer designates, with the span of its key when it is a map entry.
    pub fn locate(&self, pointer: &str) -> Option<(&Node, Option<Span>)> {
        let mut node = self;
        let mut key_span = None;
        for raw in pointer.split('/').skip(1) {
            let segment = raw.replace("~1", "/").replace("~0", "~");
            match &node.value {
                NodeValue::Map(entries) => {
                    let entry = entries.iter().find(|e| e.key == segment)?;
                    key_span = Some(entry.key_span);
                    node = &entry.value;
                }
                NodeValue::Seq(items) => {
                    node = items.get(segment.parse::<usize>().ok()?)?;
                    key_span = None;
                }
                NodeValue::Scalar(_) => return None,
            }
        }
        Some((node, key_span))
    }

    /// The span of the node a pointer designates, or of its nearest existing ancestor.
    pub fn span_of(&self, pointer: &str) -> Span {
        let mut current = pointer;
        loop {
            if let Some((node, _)) = self.locate(current) {
                return node.span;
            }
            match current.rfind('/') {
                Some(i) => current = &current[..i],
                None => return self.span,
            }
        }
    }

    /// The span of the key of the entry a pointer designates (falling back to the node).
    pub fn key_span_of(&self, pointer: &str) -> Span {
        match self.locate(pointer) {
            Some((_, Some(key))) => key,
            Some((node, None)) => node.span,
            None => self.span_of(pointer),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            NodeValue::Map(entries) => entries.iter().find(|e| e.key == key).map(|e| &e.value),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Scalar(Value::String(s)) => Some(s),
            _ => None,
        }
    }
}

/// A problem found while reading YAML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub kind: YamlErrorKind,
    pub span: Span,
    pub message: String,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YamlErrorKind {
    /// The parser gave up; the rest of the file is not read.
    Syntax,
    DuplicateKey,
    AliasLimit,
    TooDeep,
    Unsupported,
}

/// One document of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Document<T = Node> {
    /// 0-based position of the document in its file.
    pub index: usize,
    pub root: T,
    /// Whether a problem inside the document made the tree incomplete or ambiguous (a
    /// duplicate key): it is still validated, but not used.
    pub damaged: bool,
}

/// What a file held: its complete documents and the problems found.
#[derive(Debug)]
pub struct Parsed<T = Node> {
    pub documents: Vec<Document<T>>,
    pub errors: Vec<YamlError>,
}

/// A tree the builder can produce: the spanned [`Node`] (for placing findings and editing
/// text), or a plain [`Value`] (the fast path: most files have no finding, and their
/// positions are never needed).
pub trait Tree: Sized + Clone {
    fn scalar(value: Value, span: Span) -> Self;
    fn seq(items: Vec<Self>, span: Span) -> Self;
    fn map(entries: Vec<(String, Span, Self)>, span: Span) -> Self;
    /// Values in the tree, for the alias budget.
    fn size(&self) -> usize;
}

impl Tree for Node {
    fn scalar(value: Value, span: Span) -> Self {
        Node {
            span,
            value: NodeValue::Scalar(value),
        }
    }

    fn seq(items: Vec<Self>, span: Span) -> Self {
        Node {
            span,
            value: NodeValue::Seq(items),
        }
    }

    fn map(entries: Vec<(String, Span, Self)>, span: Span) -> Self {
        let entries = entries
            .into_iter()
            .map(|(key, key_span, value)| Entry {
                key,
                key_span,
                value,
            })
            .collect();
        Node {
            span,
            value: NodeValue::Map(entries),
        }
    }

    fn size(&self) -> usize {
        match &self.value {
            NodeValue::Scalar(_) => 1,
            NodeValue::Seq(items) => 1 + items.iter().map(Tree::size).sum::<usize>(),
            NodeValue::Map(entries) => {
                1 + entries.iter().map(|e| 1 + e.value.size()).sum::<usize>()
            }
        }
    }
}

impl Tree for Value {
    fn scalar(value: Value, _: Span) -> Self {
        value
    }

    fn seq(items: Vec<Self>, _: Span) -> Self {
        Value::Array(items)
    }

    fn map(entries: Vec<(String, Span, Self)>, _: Span) -> Self {
        Value::Object(
            entries
                .into_iter()
                .map(|(key, _, value)| (key, value))
                .collect(),
        )
    }

    fn size(&self) -> usize {
        match self {
            Value::Array(items) => 1 + items.iter().map(Tree::size).sum::<usize>(),
            Value::Object(map) => 1 + map.values().map(|v| 1 + v.size()).sum::<usize>(),
            _ => 1,
        }
    }
}

/// Reads every document of a YAML text into spanned trees. Never panics, never recurses on
/// input depth.
pub fn parse(text: &str) -> Parsed<Node> {
    parse_into(text)
}

/// Reads every document into plain values: the same checks and errors as [`parse`], without
/// positions. A large text's long block lists are read on several cores (see [`split`]).
pub fn parse_values(text: &str) -> Parsed<Value> {
    split::parse_values(text).unwrap_or_else(|| parse_into(text))
}

fn parse_into<T: Tree>(text: &str) -> Parsed<T> {
    drive(text, |_, _, _| true).0.parsed
}

/// Feeds the events of `text` to a builder, showing each to `watch` first (with the builder
/// as it stands). Stops when `watch` returns false; the flag says whether it ran to the end.
fn drive<T: Tree>(
    text: &str,
    mut watch: impl FnMut(&Event<'_>, &YSpan, &Builder<T>) -> bool,
) -> (Builder<T>, bool) {
    let mut builder = Builder::<T> {
        parsed: Parsed {
            documents: Vec::new(),
            errors: Vec::new(),
        },
        stack: Vec::new(),
        anchors: HashMap::new(),
        alias_nodes: 0,
        damaged: false,
        deepest: 0,
        anchored: false,
    };
    let mut parser = Parser::new_from_str(text);
    loop {
        match parser.next_event() {
            None => break,
            Some(Ok((event, span))) => {
                if !watch(&event, &span, &builder) {
                    return (builder, false);
                }
                if let Err(error) = builder.event(event, span) {
                    builder.parsed.errors.push(error);
                    break;
                }
            }
            Some(Err(error)) => {
                builder.parsed.errors.push(syntax_error(&error));
                break;
            }
        }
    }
    (builder, true)
}

fn syntax_error(error: &ScanError) -> YamlError {
    let marker = error.marker();
    // The scanner tracks flow nesting ahead of the events and gives up on its own limit first.
    let kind = if error.info().contains("recursion limit") {
        YamlErrorKind::TooDeep
    } else {
        YamlErrorKind::Syntax
    };
    YamlError {
        kind,
        span: Span::point(to_u32(marker.line()), to_u32(marker.col() + 1)),
        message: format!("invalid YAML: {}", error.info()),
        notes: Vec::new(),
    }
}

fn span_of(span: &YSpan) -> Span {
    let start = marker_pos(&span.start);
    let end = marker_pos(&span.end);
    Span {
        line: start.0,
        col: start.1,
        end_line: end.0.max(start.0),
        end_col: if end.0 > start.0 {
            end.1
        } else {
            end.1.max(start.1 + 1)
        },
    }
}

fn marker_pos(marker: &Marker) -> (u32, u32) {
    (to_u32(marker.line()), to_u32(marker.col() + 1))
}

/// A collection being built.
enum Frame<T> {
    Seq {
        span: Span,
        anchor: usize,
        items: Vec<T>,
    },
    Map {
        span: Span,
        anchor: usize,
        entries: Vec<(String, Span, T)>,
        /// Keys seen, once the map is large enough for a linear scan to matter.
        seen: Option<HashSet<String>>,
        /// The key read, waiting for its value.
        pending_key: Option<(String, Span)>,
    },
}

struct Builder<T> {
    parsed: Parsed<T>,
    stack: Vec<Frame<T>>,
    anchors: HashMap<usize, (T, usize)>,
    alias_nodes: usize,
    damaged: bool,
    /// The deepest the stack has been.
    deepest: usize,
    /// Whether any anchor or alias was seen.
    anchored: bool,
}

fn complex_key(span: Span) -> YamlError {
    YamlError {
        kind: YamlErrorKind::Unsupported,
        span,
        message: "a mapping key must be a plain value, not a list or mapping".to_owned(),
        notes: vec!["the rest of the file is not read".to_owned()],
    }
}

impl<T: Tree> Builder<T> {
    /// Whether the next node completed is a mapping key.
    fn expecting_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame::Map {
                pending_key: None,
                ..
            })
        )
    }

    fn event(&mut self, event: Event<'_>, span: YSpan) -> Result<(), YamlError> {
        let here = span_of(&span);
        match event {
            Event::DocumentStart(_) => {
                self.anchors.clear();
                self.damaged = false;
            }
            Event::Scalar(text, style, anchor, tag) => {
                let value = resolve_scalar(&text, style, tag.as_deref(), here)?;
                if self.expecting_key() {
                    let key = match value {
                        Value::String(s) => s,
                        Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    if let Some(Frame::Map { pending_key, .. }) = self.stack.last_mut() {
                        *pending_key = Some((key, here));
                    }
                    return Ok(());
                }
                self.push(T::scalar(value, here), anchor, 1)?;
            }
            Event::SequenceStart(anchor, tag) => {
                check_tag(tag.as_deref(), "!!seq", here)?;
                self.open(here)?;
                self.stack.push(Frame::Seq {
                    span: here,
                    anchor,
                    items: Vec::new(),
                });
            }
            Event::MappingStart(anchor, tag) => {
                check_tag(tag.as_deref(), "!!map", here)?;
                self.open(here)?;
                self.stack.push(Frame::Map {
                    span: here,
                    anchor,
                    entries: Vec::new(),
                    seen: None,
                    pending_key: None,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return Ok(());
                };
                let (node, anchor) = match frame {
                    Frame::Seq {
                        span,
                        anchor,
                        items,
                    } => (T::seq(items, widen(span, here)), anchor),
                    Frame::Map {
                        span,
                        anchor,
                        entries,
                        ..
                    } => (T::map(entries, widen(span, here)), anchor),
                };
                // Sizes matter only for anchors (alias expansion); counting every collection
                // would cost O(n × depth).
                let size = if anchor == 0 { 0 } else { node.size() };
                self.push(node, anchor, size)?;
            }
            Event::Alias(id) => {
                self.anchored = true;
                let Some((node, size)) = self.anchors.get(&id).cloned() else {
                    return Err(YamlError {
                        kind: YamlErrorKind::Syntax,
                        span: here,
                        message: "alias to an anchor that is not defined".to_owned(),
                        notes: Vec::new(),
                    });
                };
                self.count(size, here)?;
                // The copy keeps the anchor's positions: errors inside it point at the text
                // that defines the value, which is where it has to be fixed.
                self.push(node, 0, size)?;
            }
            Event::DocumentEnd | Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn open(&mut self, here: Span) -> Result<(), YamlError> {
        if self.expecting_key() {
            return Err(complex_key(here));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError {
                kind: YamlErrorKind::TooDeep,
                span: here,
                message: format!("values are nested more than {MAX_DEPTH} levels deep"),
                notes: vec!["the rest of the file is not read".to_owned()],
            });
        }
        self.deepest = self.deepest.max(self.stack.len() + 1);
        Ok(())
    }

    fn count(&mut self, n: usize, here: Span) -> Result<(), YamlError> {
        self.alias_nodes = self.alias_nodes.saturating_add(n);
        if self.alias_nodes > MAX_ALIAS_NODES {
            return Err(YamlError {
                kind: YamlErrorKind::AliasLimit,
                span: here,
                message: format!("aliases expand to more than {MAX_ALIAS_NODES} values"),
                notes: vec![
                    "this looks like an alias bomb; the rest of the file is not read".to_owned(),
                ],
            });
        }
        Ok(())
    }

    /// Places a finished node into its parent, or finishes a document.
    fn push(&mut self, node: T, anchor: usize, size: usize) -> Result<(), YamlError> {
        if anchor != 0 {
            self.anchored = true;
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => {
                let index = self.parsed.documents.len();
                let damaged = std::mem::take(&mut self.damaged);
                self.parsed.documents.push(Document {
                    index,
                    root: node,
                    damaged,
                });
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                span,
                pending_key: None,
                ..
            }) => {
                // Only an alias can arrive here as a key (scalars are taken in `event`).
                return Err(complex_key(*span));
            }
            Some(Frame::Map {
                entries,
                seen,
                pending_key,
                ..
            }) => {
                let Some((key, key_span)) = pending_key.take() else {
                    return Ok(());
                };
                let duplicate = match seen {
                    Some(set) => !set.insert(key.clone()),
                    None => entries.iter().any(|(k, _, _)| *k == key),
                };
                if duplicate {
                    let first = entries
                        .iter()
                        .find(|(k, _, _)| *k == key)
                        .map(|(_, s, _)| *s);
                    self.damaged = true;
                    self.parsed.errors.push(YamlError {
                        kind: YamlErrorKind::DuplicateKey,
                        span: key_span,
                        message: format!("duplicate key `{key}`"),
                        notes: first
                            .map(|f| {
                                vec![format!(
                                    "first defined at line {}, column {}",
                                    f.line, f.col
                                )]
                            })
                            .unwrap_or_default(),
                    });
                } else {
                    entries.push((key, key_span, node));
                    if seen.is_none() && entries.len() > 16 {
                        *seen = Some(entries.iter().map(|(k, _, _)| k.clone()).collect());
                    }
                }
            }
        }
        Ok(())
    }
}

fn widen(start: Span, end: Span) -> Span {
    Span {
        end_line: end.end_line,
        end_col: end.end_col,
        ..start
    }
}

fn check_tag(tag: Option<&Tag>, allowed: &str, here: Span) -> Result<(), YamlError> {
    match tag {
        None => Ok(()),
        Some(tag) if tag.is_yaml_core_schema() && format!("!!{}", tag.suffix) == allowed => Ok(()),
        Some(tag) => Err(unsupported_tag(tag, here)),
    }
}

fn unsupported_tag(tag: &Tag, here: Span) -> YamlError {
    YamlError {
        kind: YamlErrorKind::Unsupported,
        span: here,
        message: format!("unsupported YAML tag `{}{}`", tag.handle, tag.suffix),
        notes: vec![
            "Recert documents use plain YAML values; the rest of the file is not read".to_owned(),
        ],
    }
}

/// Resolves a scalar by the YAML 1.2 core schema; quoted and block scalars are strings.
fn resolve_scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    here: Span,
) -> Result<Value, YamlError> {
    if let Some(tag) = tag {
        if !tag.is_yaml_core_schema() {
            return Err(unsupported_tag(tag, here));
        }
        return match tag.suffix.as_str() {
            "str" => Ok(Value::String(text.to_owned())),
            "null" | "bool" | "int" | "float" => Ok(resolve_plain(text)),
            _ => Err(unsupported_tag(tag, here)),
        };
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::String(text.to_owned()));
    }
    Ok(resolve_plain(text))
}

fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Some(n) = parse_int(text) {
        return Value::Number(n);
    }
    if is_float(text)
        && let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64)
    {
        return Value::Number(n);
    }
    Value::String(text.to_owned())
}

fn parse_int(text: &str) -> Option<Number> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = if let Some(hex) = text.strip_prefix("0x") {
        (16, hex)
    } else if let Some(oct) = text.strip_prefix("0o") {
        (8, oct)
    } else {
        (10, digits)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    if radix != 10 && text.len() != digits.len() + 2 {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        let value = i64::try_from(magnitude).ok()?.checked_neg()?;
        Some(Number::from(value))
    } else {
        Some(Number::from(magnitude))
    }
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` — the core schema's float form
/// (`.inf` and `.nan` are left as strings: JSON cannot hold them).
fn is_float(text: &str) -> bool {
    let s = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], Some(&mantissa[i + 1..])),
        None => (mantissa, None),
    };
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac {
        Some(frac) => digits(int) && digits(frac) && !(int.is_empty() && frac.is_empty()),
        None => !int.is_empty() && digits(int),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Value {
        let parsed = parse(text);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        parsed.documents[0].root.to_value()
    }

    #[test]
    fn plain_scalars_follow_the_yaml_1_2_core_schema() {
        let v = value(
            "a: yes\nb: true\nc: 2026-12-01\nd: 014\ne: 1.5\nf: ~\ng: '12'\nh: 0x1F\ni: -3\nj: 1e3\nk: .inf\n",
        );
        assert_eq!(v["a"], "yes");
        assert_eq!(v["b"], true);
        assert_eq!(v["c"], "2026-12-01");
        assert_eq!(v["d"], 14);
        assert_eq!(v["e"], 1.5);
        assert!(v["f"].is_null());
        assert_eq!(v["g"], "12");
        assert_eq!(v["h"], 31);
        assert_eq!(v["i"], -3);
        assert_eq!(v["j"], 1000.0);
        assert_eq!(v["k"], ".inf");
    }

    #[test]
    fn the_plain_and_the_spanned_builders_read_the_same_values() {
        let text = "a: &x {b: [1, two, ~, 2026-12-01]}\nc: *x\n---\n- 'q'\n- {d: yes}\n---\n";
        let spanned = parse(text);
        let plain = parse_values(text);
        assert!(spanned.errors.is_empty() && plain.errors.is_empty());
        let spanned: Vec<Value> = spanned
            .documents
            .iter()
            .map(|d| d.root.to_value())
            .collect();
        let plain: Vec<Value> = plain.documents.into_iter().map(|d| d.root).collect();
        assert_eq!(spanned, plain);
        assert_eq!(plain.len(), 3);
    }

    #[test]
    fn every_document_of_a_stream_is_read_with_its_positions() {
        let parsed = parse("a: 1\n---\nb:\n  c: [x, y]\n");
        assert_eq!(parsed.documents.len(), 2);
        let second = &parsed.documents[1].root;
        let (node, key) = second.locate("/b/c/1").expect("node exists");
        assert_eq!(node.as_str(), Some("y"));
        assert_eq!((node.span.line, node.span.col), (4, 10));
        assert!(key.is_none());
        assert_eq!(second.key_span_of("/b/c").line, 4);
        assert_eq!(second.key_span_of("/b/c").col, 3);
    }

    #[test]
    fn duplicate_keys_are_reported_at_the_second_key_with_the_first_position() {
        let parsed = parse("a: 1\nb: 2\na: 3\n");
        assert_eq!(parsed.errors.len(), 1);
        let error = &parsed.errors[0];
        assert_eq!(error.kind, YamlErrorKind::DuplicateKey);
        assert_eq!((error.span.line, error.span.col), (3, 1));
        assert_eq!(error.notes, ["first defined at line 1, column 1"]);
        assert!(parsed.documents[0].damaged);
        assert_eq!(parsed.documents[0].root.to_value()["a"], 1);
    }

    #[test]
    fn an_alias_bomb_stops_at_the_node_limit_instead_of_expanding() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let prev = i - 1;
            text.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
        }
        let parsed = parse(&text);
        assert_eq!(parsed.errors.len(), 1);
        assert_eq!(parsed.errors[0].kind, YamlErrorKind::AliasLimit);
        assert!(parsed.documents.is_empty());
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let text = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let parsed = parse(&text);
        assert_eq!(parsed.errors.len(), 1);
        assert_eq!(parsed.errors[0].kind, YamlErrorKind::TooDeep);
    }

    #[test]
    fn custom_tags_are_refused_and_core_str_tag_forces_a_string() {
        assert_eq!(value("a: !!str 12\n")["a"], "12");
        let parsed = parse("a: !Ref x\n");
        assert_eq!(parsed.errors[0].kind, YamlErrorKind::Unsupported);
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let parsed = parse("a: 1\nb: [1, 2\nc: 3\n");
        assert_eq!(parsed.errors.len(), 1);
        assert_eq!(parsed.errors[0].kind, YamlErrorKind::Syntax);
        assert!(parsed.errors[0].span.line >= 2);
    }

    #[test]
    fn tabs_in_indentation_are_syntax_errors() {
        let parsed = parse("a:\n\tb: 1\n");
        assert_eq!(parsed.errors.len(), 1, "{:?}", parsed);
        assert_eq!(parsed.errors[0].span.line, 2);
    }
}

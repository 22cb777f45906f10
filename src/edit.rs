//! Recording one reviewer's decision in a `ReviewDecisions` file.
//!
//! This module owns the text of decision files when Recert writes to them: it creates a new
//! file, or changes the one entry a decision is about in an existing one. It edits the text in
//! place instead of re-serialising the document, because a decisions file is written by people:
//! re-serialising would drop their comments, reorder their keys and restyle their lists, and
//! the pull request that records one decision would show a rewritten file instead of a one-line
//! diff. Only the scalars that change are replaced (or the lines of an added or removed entry
//! are inserted or cut); every other byte stays as the reviewer wrote it.
//!
//! Text surgery is easy to get subtly wrong, so every edit is checked: the new text is parsed
//! again and its data must equal the old data with exactly the intended change, computed
//! separately on the parsed values. An edit that fails the check is refused, never returned.

use serde_json::{Map, Value};

use crate::load::yaml::{self, Entry, Node, NodeValue, Parsed};
use crate::model::API_VERSION;
use crate::model::decisions::Decision;
use crate::source::position_of;

/// The first line of a new file: editors that speak the YAML language server then complete
/// and check the document against the published schema.
pub const SCHEMA_MODELINE: &str =
    "# yaml-language-server: $schema=https://recert.dev/schemas/v1alpha1/recert.schema.json";

const KIND: &str = "ReviewDecisions";

/// One decision to record.
#[derive(Debug, Clone, Copy)]
pub struct DecideRequest<'a> {
    /// `metadata.name` when a new file is created; an existing file keeps its name.
    pub name: &'a str,
    pub review: &'a str,
    /// The instance decided on; `None` matches only documents without `spec.instance`.
    pub instance: Option<&'a str>,
    pub reviewer: &'a str,
    pub principal: &'a str,
    pub decision: Decision,
    /// `None` removes an existing reason: it was written for the old decision.
    pub reason: Option<&'a str>,
    /// The entry's own `instance`: the instance it is meant for. `None` leaves it as it is.
    pub entry_instance: Option<&'a str>,
    /// The entry's `afterReset`: the reset it is made after. `None` leaves it as it is.
    pub after_reset: Option<&'a str>,
}

impl DecideRequest<'_> {
    /// The fields `decide` sets besides the decision and reason, in the order written.
    fn marks(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("instance", self.entry_instance),
            ("afterReset", self.after_reset),
        ]
        .into_iter()
        .filter_map(|(key, value)| Some((key, value?)))
    }
}

/// Why a decision could not be recorded. The file is never changed when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error(
        "line {line}, column {column}: {message}; the file must be valid YAML before a decision can be recorded in it"
    )]
    Yaml {
        line: u32,
        column: u32,
        message: String,
    },
    #[error(
        "no `ReviewDecisions` document for review `{review}`{} by `{reviewer}` in the file",
        instance_note(.instance)
    )]
    NoDocument {
        review: String,
        instance: Option<String>,
        reviewer: String,
    },
    #[error(
        "documents {first} and {second} both hold the decisions of `{reviewer}` on review `{review}`; merge them first"
    )]
    SeveralDocuments {
        first: usize,
        second: usize,
        review: String,
        reviewer: String,
    },
    #[error(
        "line {line}: `{principal}` is decided again at line {other_line} of `spec.decisions`; a principal may appear once in a file"
    )]
    DuplicatePrincipal {
        principal: String,
        line: u32,
        other_line: u32,
    },
    #[error("line {line}, column {column}: cannot edit `{field}`: {why}")]
    Unsupported {
        line: u32,
        column: u32,
        field: String,
        why: String,
    },
    #[error(
        "recording the decision on `{principal}` would change more than that decision; the file is left as it was"
    )]
    Unverified { principal: String },
}

fn instance_note(instance: &Option<String>) -> String {
    instance
        .as_ref()
        .map(|i| format!(" (instance `{i}`)"))
        .unwrap_or_default()
}

/// Returns the new text of a decisions file with `request` applied: a new file when
/// `existing` is `None`, otherwise `existing` with only the entry for the principal changed.
pub fn upsert_decision(
    existing: Option<&str>,
    request: &DecideRequest,
) -> Result<String, EditError> {
    match existing {
        None => new_file(request),
        Some(text) => update_file(text, request),
    }
}

fn new_file(request: &DecideRequest) -> Result<String, EditError> {
    let mut out = format!(
        "{SCHEMA_MODELINE}\napiVersion: {API_VERSION}\nkind: {KIND}\nmetadata:\n  name: {}\nspec:\n  review: {}\n",
        yaml_scalar(request.name),
        yaml_scalar(request.review),
    );
    if let Some(instance) = request.instance {
        out.push_str(&format!("  instance: {}\n", yaml_scalar(instance)));
    }
    out.push_str(&format!(
        "  reviewer: {}\n  decisions:\n",
        yaml_scalar(request.reviewer)
    ));
    out.push_str(&block_entry("    - ", request, "\n"));

    let mut spec = Map::new();
    spec.insert("review".into(), request.review.into());
    if let Some(instance) = request.instance {
        spec.insert("instance".into(), instance.into());
    }
    spec.insert("reviewer".into(), request.reviewer.into());
    spec.insert("decisions".into(), Value::Array(vec![new_entry(request)]));
    let expected = serde_json::json!({
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": { "name": request.name },
        "spec": spec,
    });
    verify(&out, &[expected], request)?;
    Ok(out)
}

/// Where the principal already appears in the target document's `spec.decisions`.
#[derive(Debug, Clone, Copy)]
enum Found {
    /// `principal: x` in entry `entry`.
    Single { entry: usize },
    /// Item `item` of the `principals` list of entry `entry`.
    Listed { entry: usize, item: usize },
}

fn update_file(text: &str, request: &DecideRequest) -> Result<String, EditError> {
    let parsed = parse_clean(text)?;
    let index = find_document(&parsed, request)?;
    let root = &parsed.documents[index].root;
    let found = find_principal(root, request.principal)?;
    let old: Vec<Value> = parsed.documents.iter().map(|d| d.root.to_value()).collect();
    let mut expected = old.clone();
    expected[index] = expected_document(&old[index], found, request);

    let edited = match found {
        Some(Found::Single { entry }) => {
            let mut edited = update_entry(text, root, entry, request)?;
            // One field a pass, each on freshly parsed text.
            for (key, value) in request.marks() {
                edited = set_entry_field(&edited, index, entry, key, value)?;
            }
            edited
        }
        Some(Found::Listed { entry, item }) => {
            // Two passes, each on freshly parsed text, so the append sees the list as the cut
            // left it (possibly empty) instead of reasoning about both edits at once.
            let cut = unlist(text, root, entry, item)?;
            append(&cut, index, request)?
        }
        None => append(text, index, request)?,
    };
    verify(&edited, &expected, request)?;
    Ok(edited)
}

fn parse_clean(text: &str) -> Result<Parsed, EditError> {
    let parsed = yaml::parse(text);
    if let Some(error) = parsed.errors.first() {
        return Err(EditError::Yaml {
            line: error.span.line,
            column: error.span.col,
            message: error.message.clone(),
        });
    }
    Ok(parsed)
}

/// Position (in `parsed.documents`) of the one document the request is about.
fn find_document(parsed: &Parsed, request: &DecideRequest) -> Result<usize, EditError> {
    let matching: Vec<usize> = parsed
        .documents
        .iter()
        .enumerate()
        .filter(|(_, d)| is_target(&d.root, request))
        .map(|(i, _)| i)
        .collect();
    match matching[..] {
        [] => Err(EditError::NoDocument {
            review: request.review.to_owned(),
            instance: request.instance.map(str::to_owned),
            reviewer: request.reviewer.to_owned(),
        }),
        [one] => Ok(one),
        [first, second, ..] => Err(EditError::SeveralDocuments {
            first: first + 1,
            second: second + 1,
            review: request.review.to_owned(),
            reviewer: request.reviewer.to_owned(),
        }),
    }
}

fn text_of(node: Option<&Node>) -> Option<&str> {
    node.and_then(Node::as_str)
}

fn is_target(root: &Node, request: &DecideRequest) -> bool {
    let Some(spec) = root.get("spec") else {
        return false;
    };
    text_of(root.get("kind")) == Some(KIND)
        && text_of(spec.get("review")) == Some(request.review)
        && text_of(spec.get("reviewer")).is_some_and(|r| r.eq_ignore_ascii_case(request.reviewer))
        && text_of(spec.get("instance")) == request.instance
}

fn decision_items(root: &Node) -> &[Node] {
    match root.get("spec").and_then(|s| s.get("decisions")) {
        Some(Node {
            value: NodeValue::Seq(items),
            ..
        }) => items,
        _ => &[],
    }
}

fn same_principal(node: &Node, principal: &str) -> bool {
    node.as_str()
        .is_some_and(|p| p.eq_ignore_ascii_case(principal))
}

/// Where the principal is decided; a principal decided twice is refused rather than guessed.
fn find_principal(root: &Node, principal: &str) -> Result<Option<Found>, EditError> {
    let mut hits: Vec<(Found, u32)> = Vec::new();
    for (entry, item) in decision_items(root).iter().enumerate() {
        if let Some(p) = item
            .get("principal")
            .filter(|p| same_principal(p, principal))
        {
            hits.push((Found::Single { entry }, p.span.line));
        }
        if let Some(Node {
            value: NodeValue::Seq(list),
            ..
        }) = item.get("principals")
        {
            for (i, p) in list.iter().enumerate() {
                if same_principal(p, principal) {
                    hits.push((Found::Listed { entry, item: i }, p.span.line));
                }
            }
        }
    }
    match hits[..] {
        [] => Ok(None),
        [(found, _)] => Ok(Some(found)),
        [(_, first), (_, second), ..] => Err(EditError::DuplicatePrincipal {
            principal: principal.to_owned(),
            line: second,
            other_line: first,
        }),
    }
}

/// The document's data as it must read after the edit, computed on values alone so that it
/// checks the text surgery rather than repeating it.
fn expected_document(old: &Value, found: Option<Found>, request: &DecideRequest) -> Value {
    let mut doc = old.clone();
    let Some(spec) = doc.get_mut("spec").and_then(Value::as_object_mut) else {
        return doc;
    };
    let decisions = spec
        .entry("decisions")
        .or_insert_with(|| Value::Array(Vec::new()));
    if decisions.is_null() {
        *decisions = Value::Array(Vec::new());
    }
    let Some(list) = decisions.as_array_mut() else {
        return doc;
    };
    match found {
        Some(Found::Single { entry }) => {
            if let Some(map) = list.get_mut(entry).and_then(Value::as_object_mut) {
                map.insert("decision".into(), request.decision.as_str().into());
                match request.reason {
                    Some(reason) => map.insert("reason".into(), reason.into()),
                    None => map.remove("reason"),
                };
                for (key, value) in request.marks() {
                    map.insert(key.into(), value.into());
                }
            }
        }
        Some(Found::Listed { entry, item }) => {
            let now_empty = list
                .get_mut(entry)
                .and_then(|e| e.get_mut("principals"))
                .and_then(Value::as_array_mut)
                .is_some_and(|principals| {
                    principals.remove(item);
                    principals.is_empty()
                });
            if now_empty {
                list.remove(entry);
            }
            list.push(new_entry(request));
        }
        None => list.push(new_entry(request)),
    }
    doc
}

fn new_entry(request: &DecideRequest) -> Value {
    let mut entry = Map::new();
    entry.insert("principal".into(), request.principal.into());
    entry.insert("decision".into(), request.decision.as_str().into());
    if let Some(reason) = request.reason {
        entry.insert("reason".into(), reason.into());
    }
    for (key, value) in request.marks() {
        entry.insert(key.into(), value.into());
    }
    Value::Object(entry)
}

/// The new text must parse cleanly into exactly the expected documents.
fn verify(text: &str, expected: &[Value], request: &DecideRequest) -> Result<(), EditError> {
    let parsed = yaml::parse(text);
    let same = parsed.errors.is_empty()
        && parsed.documents.len() == expected.len()
        && parsed
            .documents
            .iter()
            .zip(expected)
            .all(|(d, e)| !d.damaged && d.root.to_value() == *e);
    if same {
        Ok(())
    } else {
        Err(EditError::Unverified {
            principal: request.principal.to_owned(),
        })
    }
}

/// Changes the decision and reason of the entry that names the principal alone.
fn update_entry(
    text: &str,
    root: &Node,
    index: usize,
    request: &DecideRequest,
) -> Result<String, EditError> {
    let t = Text::new(text);
    let path = format!("spec.decisions[{index}]");
    let entry = &decision_items(root)[index];
    let NodeValue::Map(entries) = &entry.value else {
        return Err(t.unsupported(entry, &path, "the entry is not a mapping"));
    };
    let flow = t.starts_with(entry, '{');
    let mut edits = Vec::new();

    let Some(decision) = entries.iter().find(|e| e.key == "decision") else {
        return Err(t.unsupported(entry, &path, "the entry has no `decision`"));
    };
    let decision_slot = t.value_slot(decision, &format!("{path}.decision"))?;
    if decision.value.as_str() != Some(request.decision.as_str()) {
        edits.push(decision_slot.replace(request.decision.as_str()));
    }

    let reason_at = entries.iter().position(|e| e.key == "reason");
    let reason_path = format!("{path}.reason");
    match (request.reason, reason_at) {
        (Some(reason), Some(at)) => {
            let old = &entries[at];
            if old.value.as_str() != Some(reason) {
                let slot = t.value_slot(old, &reason_path)?;
                edits.push(slot.replace(&scalar(reason, flow)));
            }
        }
        (Some(reason), None) => {
            edits.push(t.insert_after_entry(decision, &decision_slot, "reason", reason, flow));
        }
        (None, Some(at)) => edits.push(t.cut_entry(entries, at, flow, &reason_path)?),
        (None, None) => {}
    }
    apply(text, edits)
}

/// Sets `key: value` in entry `entry` of document `doc`'s `spec.decisions` (after its
/// `decision` when new), leaving the rest of the text as it is.
fn set_entry_field(
    text: &str,
    doc: usize,
    entry: usize,
    key: &str,
    value: &str,
) -> Result<String, EditError> {
    let parsed = parse_clean(text)?;
    let root = &parsed.documents[doc].root;
    let t = Text::new(text);
    let path = format!("spec.decisions[{entry}]");
    let node = &decision_items(root)[entry];
    let NodeValue::Map(entries) = &node.value else {
        return Err(t.unsupported(node, &path, "the entry is not a mapping"));
    };
    let flow = t.starts_with(node, '{');
    let edit = match entries.iter().find(|e| e.key == key) {
        Some(old) if old.value.as_str() == Some(value) => return Ok(text.to_owned()),
        Some(old) => t
            .value_slot(old, &format!("{path}.{key}"))?
            .replace(&scalar(value, flow)),
        None => {
            let Some(decision) = entries.iter().find(|e| e.key == "decision") else {
                return Err(t.unsupported(node, &path, "the entry has no `decision`"));
            };
            let slot = t.value_slot(decision, &format!("{path}.decision"))?;
            t.insert_after_entry(decision, &slot, key, value, flow)
        }
    };
    apply(text, vec![edit])
}

/// Takes the principal out of the `principals` list of entry `index`, or takes the whole
/// entry out when it was the list's only principal.
fn unlist(text: &str, root: &Node, index: usize, item: usize) -> Result<String, EditError> {
    let t = Text::new(text);
    let decisions = root
        .get("spec")
        .and_then(|s| s.get("decisions"))
        .expect("find_principal found the principal in this list");
    let entry = &decision_items(root)[index];
    let list = entry
        .get("principals")
        .expect("find_principal found the principal in this list");
    let path = format!("spec.decisions[{index}]");
    let edit = match &list.value {
        NodeValue::Seq(items) if items.len() > 1 => {
            t.cut_item(list, item, &format!("{path}.principals[{item}]"))?
        }
        _ => t.cut_item(decisions, index, &path)?,
    };
    apply(text, vec![edit])
}

/// Adds an entry for the principal at the end of `spec.decisions`, in the list's own style.
fn append(text: &str, index: usize, request: &DecideRequest) -> Result<String, EditError> {
    let parsed = parse_clean(text)?;
    let root = &parsed
        .documents
        .get(index)
        .expect("edits keep every document")
        .root;
    let t = Text::new(text);
    let Some(
        spec @ Node {
            value: NodeValue::Map(spec_entries),
            ..
        },
    ) = root.get("spec")
    else {
        return Err(t.unsupported(root, "spec", "it is not a mapping"));
    };
    let spec_flow = t.starts_with(spec, '{');
    let edits = match spec_entries.iter().find(|e| e.key == "decisions") {
        None if spec_flow => {
            let last = spec_entries.last().expect("a matching spec has a review");
            let slot = t.value_slot(last, &format!("spec.{}", last.key))?;
            let insert = format!(", decisions: [{}]", flow_entry(request));
            vec![Edit::insert(slot.end, insert)]
        }
        None => {
            let indent = " ".repeat(col0(spec_entries[0].key_span.col));
            let block = format!(
                "{indent}decisions:{}{}",
                t.eol,
                block_entry(&format!("{indent}  - "), request, t.eol)
            );
            vec![t.insert_after_line(t.last_line(spec)?, &block)]
        }
        Some(decisions) => match &decisions.value.value {
            NodeValue::Seq(items) if !items.is_empty() => {
                if t.starts_with(&decisions.value, '[') {
                    t.append_flow(&decisions.value, items, request)?
                } else {
                    t.append_block(items, request)?
                }
            }
            NodeValue::Seq(_) | NodeValue::Scalar(Value::Null) => {
                t.fill_list(decisions, spec_flow, request)?
            }
            _ => {
                return Err(t.unsupported(&decisions.value, "spec.decisions", "it is not a list"));
            }
        },
    };
    apply(text, edits)
}

/// A block-style entry: `prefix` (`    - `) starts the first line, the others are indented to
/// match it.
fn block_entry(prefix: &str, request: &DecideRequest, eol: &str) -> String {
    let indent = " ".repeat(prefix.chars().count());
    let mut out = format!(
        "{prefix}principal: {}{eol}{indent}decision: {}{eol}",
        yaml_scalar(request.principal),
        request.decision.as_str()
    );
    for (key, value) in request.marks() {
        out.push_str(&format!("{indent}{key}: {}{eol}", yaml_scalar(value)));
    }
    if let Some(reason) = request.reason {
        out.push_str(&format!("{indent}reason: {}{eol}", yaml_scalar(reason)));
    }
    out
}

fn flow_entry(request: &DecideRequest) -> String {
    let reason = request
        .reason
        .map(|r| format!(", reason: {}", flow_scalar(r)))
        .unwrap_or_default();
    let marks: String = request
        .marks()
        .map(|(key, value)| format!(", {key}: {}", flow_scalar(value)))
        .collect();
    format!(
        "{{principal: {}, decision: {}{marks}{reason}}}",
        flow_scalar(request.principal),
        request.decision.as_str()
    )
}

fn scalar(s: &str, flow: bool) -> String {
    if flow { flow_scalar(s) } else { yaml_scalar(s) }
}

/// `s` as a block-context YAML scalar: plain when that reads back as the same string in any
/// YAML parser (1.1 ones included, which take `yes` and `2026-01-01` for other types),
/// double-quoted otherwise.
pub fn yaml_scalar(s: &str) -> String {
    if plain_is_safe(s, false) {
        s.to_owned()
    } else {
        double_quoted(s)
    }
}

/// Like [`yaml_scalar`], for inside `[...]` or `{...}`, where `,[]{}` end a plain scalar.
fn flow_scalar(s: &str) -> String {
    if plain_is_safe(s, true) {
        s.to_owned()
    } else {
        double_quoted(s)
    }
}

fn plain_is_safe(s: &str, flow: bool) -> bool {
    const FLOW: &[char] = &[',', '[', ']', '{', '}'];
    // Belt and braces: the status writer's rules are meant to be enough, but reading the text
    // back with the parser Recert itself uses is what actually decides.
    crate::yaml_write::is_plain_safe(s)
        && !(flow && s.contains(FLOW))
        && reads_back_as(&format!("k: {s}\n"), s)
}

fn reads_back_as(text: &str, s: &str) -> bool {
    let parsed = yaml::parse(text);
    parsed.errors.is_empty()
        && parsed.documents.len() == 1
        && parsed.documents[0].root.get("k").and_then(Node::as_str) == Some(s)
}

fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    crate::yaml_write::push_double_quoted(&mut out, s);
    out
}

/// One replacement of the bytes `from..to`.
#[derive(Debug)]
struct Edit {
    from: usize,
    to: usize,
    insert: String,
}

impl Edit {
    fn insert(at: usize, insert: String) -> Edit {
        Edit {
            from: at,
            to: at,
            insert,
        }
    }
}

/// Applies edits that do not overlap; edits at the same offset go in the order given.
fn apply(text: &str, mut edits: Vec<Edit>) -> Result<String, EditError> {
    edits.sort_by_key(|e| e.from);
    let mut out = String::with_capacity(text.len() + 128);
    let mut done = 0;
    for edit in edits {
        let (Some(before), true) = (text.get(done..edit.from), edit.to >= edit.from) else {
            // Overlapping edits mean the file's layout fooled the locating code.
            let (line, column) = position_of(text, edit.from);
            return Err(EditError::Unsupported {
                line,
                column,
                field: "spec.decisions".into(),
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
struct Slot {
    /// Byte offset of the `:` after the key.
    colon: usize,
    start: usize,
    end: usize,
    /// `key:` with no value at all; `start == end == colon + 1`.
    empty: bool,
}

impl Slot {
    fn replace(&self, value: &str) -> Edit {
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

/// 0-based column (the indentation before a key) from the parser's 1-based one.
fn col0(col: u32) -> usize {
    col.saturating_sub(1) as usize
}

/// A text with its line starts, to turn the parser's (line, character column) positions into
/// byte offsets and to find what the parser's spans leave out: the parser's end positions are
/// not reliable after quoted scalars and flow collections (they run on over a trailing
/// comment) nor for block scalars, so those ends are found by scanning the text.
struct Text<'a> {
    text: &'a str,
    starts: Vec<usize>,
    /// The line break of new lines: a CRLF file stays CRLF.
    eol: &'static str,
}

impl<'a> Text<'a> {
    fn new(text: &'a str) -> Text<'a> {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
        Text { text, starts, eol }
    }

    fn offset(&self, line: u32, col: u32) -> Option<usize> {
        let start = *self.starts.get((line as usize).checked_sub(1)?)?;
        let line_text = &self.text[start..self.next_line_start(line)];
        let chars = col0(col);
        line_text
            .char_indices()
            .nth(chars)
            .map(|(i, _)| start + i)
            .or_else(|| (line_text.chars().count() == chars).then_some(start + line_text.len()))
    }

    fn start(&self, node: &Node) -> Option<usize> {
        self.offset(node.span.line, node.span.col)
    }

    fn starts_with(&self, node: &Node, c: char) -> bool {
        self.start(node)
            .is_some_and(|o| self.text[o..].starts_with(c))
    }

    fn line_of(&self, offset: usize) -> u32 {
        crate::source::to_u32(self.starts.partition_point(|&s| s <= offset))
    }

    fn line_start(&self, line: u32) -> usize {
        self.starts
            .get((line as usize).saturating_sub(1))
            .copied()
            .unwrap_or(self.text.len())
    }

    fn next_line_start(&self, line: u32) -> usize {
        self.starts
            .get(line as usize)
            .copied()
            .unwrap_or(self.text.len())
    }

    /// The offset of the line break ending `line` (or the end of the text).
    fn line_end(&self, line: u32) -> usize {
        let body = &self.text[self.line_start(line)..self.next_line_start(line)];
        let body = body.strip_suffix('\n').unwrap_or(body);
        let body = body.strip_suffix('\r').unwrap_or(body);
        self.line_start(line) + body.len()
    }

    fn unsupported(&self, node: &Node, field: &str, why: &str) -> EditError {
        EditError::Unsupported {
            line: node.span.line,
            column: node.span.col,
            field: field.to_owned(),
            why: why.to_owned(),
        }
    }

    fn unsupported_at(&self, offset: usize, field: &str, why: &str) -> EditError {
        let (line, column) = position_of(self.text, offset);
        EditError::Unsupported {
            line,
            column,
            field: field.to_owned(),
            why: why.to_owned(),
        }
    }

    /// The end of a scalar or flow collection (exclusive); `None` for block collections.
    fn node_end(&self, node: &Node) -> Option<usize> {
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
    fn value_slot(&self, entry: &Entry, field: &str) -> Result<Slot, EditError> {
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
    fn last_line(&self, node: &Node) -> Result<u32, EditError> {
        let lost = || self.unsupported(node, "spec.decisions", "its end cannot be located");
        if let Some(end) = self.node_end(node) {
            return Ok(self.line_of(end.saturating_sub(1)));
        }
        match &node.value {
            NodeValue::Scalar(_) => Ok(node.span.line),
            NodeValue::Seq(items) => items
                .iter()
                .map(|i| self.last_line(i))
                .try_fold(node.span.line, |max, l| Ok(max.max(l?))),
            NodeValue::Map(entries) => entries.iter().try_fold(node.span.line, |max, e| {
                let last = match &e.value.value {
                    NodeValue::Map(_) | NodeValue::Seq(_) => self.last_line(&e.value)?,
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
    fn insert_after_line(&self, line: u32, block: &str) -> Edit {
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
    fn dash_prefix(&self, item: &Node) -> Option<&'a str> {
        let start = self.start(item)?;
        let prefix = &self.text[self.line_start(item.span.line)..start];
        let rest = prefix.trim_start_matches(' ').strip_prefix('-')?;
        (!rest.is_empty() && rest.trim_matches(' ').is_empty()).then_some(prefix)
    }

    /// `key: value` as a new entry right after `after` (whose value is in `slot`).
    fn insert_after_entry(
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
    fn cut_entry(
        &self,
        entries: &[Entry],
        at: usize,
        flow: bool,
        field: &str,
    ) -> Result<Edit, EditError> {
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
        Ok(Edit {
            from,
            to,
            insert: String::new(),
        })
    }

    /// Cuts item `index` out of a sequence: its lines in a block sequence, its characters and
    /// one separating comma in a flow sequence.
    fn cut_item(&self, seq: &Node, index: usize, field: &str) -> Result<Edit, EditError> {
        let NodeValue::Seq(items) = &seq.value else {
            return Err(self.unsupported(seq, field, "it is not a list"));
        };
        let item = &items[index];
        let lost = || self.unsupported(item, field, "it cannot be cut cleanly");
        let (from, to) = if self.starts_with(seq, '[') {
            let start = |n: &Node| self.start(n).ok_or_else(lost);
            let end = |n: &Node| self.node_end(n).ok_or_else(lost);
            match (
                items.get(index + 1),
                index.checked_sub(1).map(|i| &items[i]),
            ) {
                (Some(next), _) => (start(item)?, start(next)?),
                (None, Some(previous)) => (end(previous)?, end(item)?),
                (None, None) => (start(item)?, end(item)?),
            }
        } else {
            self.dash_prefix(item).ok_or_else(lost)?;
            self.lines_range(item.span.line, self.last_line(item)?)
        };
        Ok(Edit {
            from,
            to,
            insert: String::new(),
        })
    }

    /// A new entry after the last item of a block `decisions` list, with the same dash and
    /// indentation, and in flow style if that item is.
    fn append_block(
        &self,
        items: &[Node],
        request: &DecideRequest,
    ) -> Result<Vec<Edit>, EditError> {
        let last = items.last().expect("called with a non-empty list");
        let prefix = self.dash_prefix(last).ok_or_else(|| {
            self.unsupported(
                last,
                "spec.decisions",
                "the list's items do not start with `- `",
            )
        })?;
        let entry = if self.starts_with(last, '{') {
            format!("{prefix}{}{}", flow_entry(request), self.eol)
        } else {
            block_entry(prefix, request, self.eol)
        };
        Ok(vec![self.insert_after_line(self.last_line(last)?, &entry)])
    }

    /// A new entry at the end of a flow `decisions` list: on its own line when the list has
    /// one entry per line, else after a comma on the same line.
    fn append_flow(
        &self,
        seq: &Node,
        items: &[Node],
        request: &DecideRequest,
    ) -> Result<Vec<Edit>, EditError> {
        let last = items.last().expect("called with a non-empty list");
        let lost = || self.unsupported(last, "spec.decisions", "its end cannot be located");
        let item_end = self.node_end(last).ok_or_else(lost)?;
        let seq_end = self.node_end(seq).ok_or_else(lost)?;
        let item_line = self.line_of(item_end - 1);
        let indent =
            &self.text[self.line_start(last.span.line)..self.start(last).ok_or_else(lost)?];
        let one_per_line = self.line_of(seq_end - 1) > item_line
            && indent.trim().is_empty()
            && last.span.line > seq.span.line;
        let entry = flow_entry(request);
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

    /// Gives an empty or absent-valued `decisions:` its first entry: as a block list under the
    /// key, or as a flow list inside a flow `spec`.
    fn fill_list(
        &self,
        decisions: &Entry,
        spec_flow: bool,
        request: &DecideRequest,
    ) -> Result<Vec<Edit>, EditError> {
        let slot = self.value_slot(decisions, "spec.decisions")?;
        if spec_flow {
            return Ok(vec![slot.replace(&format!("[{}]", flow_entry(request)))]);
        }
        let indent = " ".repeat(col0(decisions.key_span.col));
        let block = block_entry(&format!("{indent}  - "), request, self.eol);
        let block = block.strip_suffix(self.eol).unwrap_or(&block);
        let line_end = self.line_end(self.line_of(slot.end.max(slot.colon + 1) - 1));
        Ok(vec![
            Edit {
                from: slot.colon + 1,
                to: slot.end,
                insert: String::new(),
            },
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ReviewDecisions;

    const CAROL: &str = "# yaml-language-server: $schema=../../schemas/recert.schema.json
# Carol's decisions for the quarterly Owner review.
apiVersion: recert.dev/v1alpha1
kind: ReviewDecisions
metadata:
  name: carol-subscription-owners
spec:
  review: subscription-owners-quarterly
  reviewer: carol@corp.example
  decisions:
    # Dave moved teams.
    - principal: dave@corp.example
      decision: deny
      reason: Left the platform team in October

    - principals: [erin@corp.example, u-frank]
      decision: approve
      reason: On call for production
    - principal: u-grace   # contractor
      decision: dontKnow
";

    fn request<'a>(
        principal: &'a str,
        decision: Decision,
        reason: Option<&'a str>,
    ) -> DecideRequest<'a> {
        DecideRequest {
            name: "carol-subscription-owners",
            review: "subscription-owners-quarterly",
            instance: None,
            reviewer: "carol@corp.example",
            principal,
            decision,
            reason,
            entry_instance: None,
            after_reset: None,
        }
    }

    fn upsert(text: &str, request: &DecideRequest) -> String {
        upsert_decision(Some(text), request).expect("the edit applies")
    }

    fn value(text: &str) -> Value {
        let parsed = yaml::parse(text);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        parsed.documents[0].root.to_value()
    }

    #[test]
    fn a_new_file_is_schema_valid_and_round_trips_into_the_model() {
        let request = DecideRequest {
            instance: Some("2026-01-01"),
            ..request(
                "dave@corp.example",
                Decision::Deny,
                Some("Left: see ticket #42"),
            )
        };
        let text = upsert_decision(None, &request).expect("new file");
        assert_eq!(
            text,
            format!(
                "{SCHEMA_MODELINE}
apiVersion: recert.dev/v1alpha1
kind: ReviewDecisions
metadata:
  name: carol-subscription-owners
spec:
  review: subscription-owners-quarterly
  instance: \"2026-01-01\"
  reviewer: carol@corp.example
  decisions:
    - principal: dave@corp.example
      decision: deny
      reason: \"Left: see ticket #42\"
"
            )
        );
        let parsed = yaml::parse(&text);
        let root = &parsed.documents[0].root;
        let findings = crate::load::SchemaSet::new().check(
            crate::model::Kind::ReviewDecisions,
            &root.to_value(),
            root,
            std::path::Path::new("new.yaml"),
            &[],
        );
        assert!(findings.is_empty(), "{findings:?}");
        let typed: ReviewDecisions = serde_json::from_value(root.to_value()).expect("decodes");
        assert_eq!(typed.metadata.name, "carol-subscription-owners");
        assert_eq!(typed.spec.instance.as_deref(), Some("2026-01-01"));
        let entry = &typed.spec.decisions[0];
        assert_eq!(entry.principal.as_deref(), Some("dave@corp.example"));
        assert_eq!(entry.decision, Decision::Deny);
        assert_eq!(entry.reason.as_deref(), Some("Left: see ticket #42"));
    }

    #[test]
    fn updating_a_block_entry_changes_only_its_decision_and_reason() {
        let text = upsert(
            CAROL,
            &request(
                "Dave@Corp.Example",
                Decision::Approve,
                Some("Back on the team"),
            ),
        );
        assert_eq!(
            text,
            CAROL.replace(
                "      decision: deny\n      reason: Left the platform team in October\n",
                "      decision: approve\n      reason: Back on the team\n",
            )
        );
    }

    #[test]
    fn a_reason_is_added_on_the_line_after_the_decision() {
        let text = upsert(
            CAROL,
            &request("u-grace", Decision::Deny, Some("Contract ended")),
        );
        assert_eq!(
            text,
            CAROL.replace(
                "      decision: dontKnow\n",
                "      decision: deny\n      reason: Contract ended\n",
            )
        );
    }

    #[test]
    fn a_decision_without_a_reason_removes_the_old_reason_line() {
        let text = upsert(
            CAROL,
            &request("dave@corp.example", Decision::Approve, None),
        );
        assert_eq!(
            text,
            CAROL.replace(
                "      decision: deny\n      reason: Left the platform team in October\n",
                "      decision: approve\n",
            )
        );
    }

    #[test]
    fn a_reason_written_first_in_its_entry_is_removed_without_losing_the_dash() {
        let text = "apiVersion: recert.dev/v1alpha1
kind: ReviewDecisions
metadata: {name: x}
spec:
  review: subscription-owners-quarterly
  reviewer: carol@corp.example
  decisions:
    - reason: 'Old, and wrong'  # from last quarter
      principal: u-a
      decision: deny
";
        let out = upsert(text, &request("u-a", Decision::Approve, None));
        assert!(
            out.ends_with("  decisions:\n    - principal: u-a\n      decision: approve\n"),
            "{out}"
        );
    }

    #[test]
    fn a_principal_is_moved_out_of_a_principals_list_into_its_own_entry() {
        let text = upsert(
            CAROL,
            &request("erin@corp.example", Decision::Deny, Some("Moved to sales")),
        );
        let expected = CAROL.replace("[erin@corp.example, u-frank]", "[u-frank]")
            + "    - principal: erin@corp.example\n      decision: deny\n      reason: Moved to sales\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn the_last_principal_of_a_list_takes_its_entry_with_it() {
        let text = CAROL.replace(
            "    - principals: [erin@corp.example, u-frank]\n",
            "    - principals:\n        - u-frank\n",
        );
        let out = upsert(&text, &request("U-FRANK", Decision::Deny, None));
        let expected = text.replace(
            "    - principals:\n        - u-frank\n      decision: approve\n      reason: On call for production\n",
            "",
        ) + "    - principal: U-FRANK\n      decision: deny\n";
        assert_eq!(out, expected);
    }

    #[test]
    fn one_principal_of_a_block_principals_list_is_cut_by_its_line() {
        let text = CAROL.replace(
            "    - principals: [erin@corp.example, u-frank]\n",
            "    - principals:\n        - erin@corp.example\n        - u-frank  # on call\n",
        );
        let out = upsert(&text, &request("u-frank", Decision::Approve, None));
        let expected = text.replace("        - u-frank  # on call\n", "")
            + "    - principal: u-frank\n      decision: approve\n";
        assert_eq!(out, expected);
    }

    #[test]
    fn a_new_principal_is_appended_with_the_indentation_of_the_list() {
        let text = CAROL.replace("    - ", "  -   ");
        let out = upsert(&text, &request("u-heidi", Decision::Approve, None));
        assert_eq!(
            out,
            format!("{text}  -   principal: u-heidi\n      decision: approve\n")
        );
    }

    #[test]
    fn an_entry_is_appended_before_comments_that_follow_the_list() {
        let text = format!("{CAROL}  # Next quarter: ask about u-ivan.\n");
        let out = upsert(&text, &request("u-heidi", Decision::Approve, None));
        assert_eq!(
            out,
            format!(
                "{CAROL}    - principal: u-heidi\n      decision: approve\n  # Next quarter: ask about u-ivan.\n"
            )
        );
    }

    #[test]
    fn a_flow_entry_is_updated_in_place() {
        let text = "kind: ReviewDecisions
apiVersion: recert.dev/v1alpha1
metadata: {name: x}
spec:
  review: subscription-owners-quarterly
  reviewer: carol@corp.example
  decisions:
    - {principal: u-a, decision: approve}   # checked in person
    - {principal: u-b, decision: deny, reason: \"gone\"}
";
        let out = upsert(text, &request("u-a", Decision::Deny, Some("Left, in May")));
        assert_eq!(
            out,
            text.replace(
                "{principal: u-a, decision: approve}",
                "{principal: u-a, decision: deny, reason: \"Left, in May\"}"
            )
        );
        let out = upsert(text, &request("u-b", Decision::DontKnow, None));
        assert_eq!(
            out,
            text.replace(
                "{principal: u-b, decision: deny, reason: \"gone\"}",
                "{principal: u-b, decision: dontKnow}"
            )
        );
        let out = upsert(text, &request("u-c", Decision::Approve, None));
        assert_eq!(
            out,
            format!("{text}    - {{principal: u-c, decision: approve}}\n")
        );
    }

    #[test]
    fn a_flow_decisions_list_stays_flow() {
        let text = "kind: ReviewDecisions
spec: {review: subscription-owners-quarterly, reviewer: carol@corp.example, decisions: [{principal: u-a, decision: approve}]}
";
        let out = upsert(text, &request("u-b", Decision::Deny, None));
        assert_eq!(
            out,
            text.replace(
                "decision: approve}]",
                "decision: approve}, {principal: u-b, decision: deny}]"
            )
        );
        let multi_line = "kind: ReviewDecisions
spec:
  review: subscription-owners-quarterly
  reviewer: carol@corp.example
  decisions: [
    {principal: u-a, decision: approve},  # first
    {principal: u-b, decision: approve}   # second
  ]
";
        let out = upsert(multi_line, &request("u-c", Decision::Deny, None));
        assert_eq!(
            out,
            multi_line.replace(
                "{principal: u-b, decision: approve}   # second\n",
                "{principal: u-b, decision: approve},   # second\n    {principal: u-c, decision: deny}\n"
            )
        );
    }

    #[test]
    fn an_empty_or_absent_decisions_list_gets_a_block_entry() {
        let head = "kind: ReviewDecisions
spec:
  review: subscription-owners-quarterly
  reviewer: carol@corp.example
";
        let entry = "    - principal: u-a\n      decision: approve\n";
        for (before, after) in [
            (
                "  decisions: []  # none yet\n",
                "  decisions:  # none yet\n",
            ),
            ("  decisions:\n", "  decisions:\n"),
            ("", "  decisions:\n"),
        ] {
            let out = upsert(
                &format!("{head}{before}"),
                &request("u-a", Decision::Approve, None),
            );
            assert_eq!(out, format!("{head}{after}{entry}"));
        }
    }

    #[test]
    fn only_the_matching_document_of_a_multi_document_file_changes() {
        let other = CAROL.replace("subscription-owners-quarterly", "key-vault-admins-monthly");
        let text = format!("{other}---\n{CAROL}---\n# Trailing note.\n");
        let out = upsert(
            &text,
            &request("dave@corp.example", Decision::Approve, None),
        );
        let changed = CAROL.replace(
            "      decision: deny\n      reason: Left the platform team in October\n",
            "      decision: approve\n",
        );
        assert_eq!(out, format!("{other}---\n{changed}---\n# Trailing note.\n"));
    }

    #[test]
    fn reasons_that_need_quotes_round_trip_exactly() {
        for reason in [
            "Left: see ticket #42",
            "yes",
            "2026-01-01",
            " padded ",
            "line one\nline \"two\"",
            "- starts like a list",
            "tab\there",
            "",
        ] {
            let out = upsert(
                CAROL,
                &request("dave@corp.example", Decision::Deny, Some(reason)),
            );
            let v = value(&out);
            assert_eq!(v["spec"]["decisions"][0]["reason"], reason, "{out}");
            let new = upsert_decision(None, &request("u-a", Decision::Deny, Some(reason)))
                .expect("new file");
            assert_eq!(
                value(&new)["spec"]["decisions"][0]["reason"],
                reason,
                "{new}"
            );
        }
    }

    #[test]
    fn plain_scalars_are_used_only_where_they_read_back_unchanged() {
        assert_eq!(yaml_scalar("dave@corp.example"), "dave@corp.example");
        assert_eq!(yaml_scalar("On call, for prod"), "On call, for prod");
        assert_eq!(flow_scalar("On call, for prod"), "\"On call, for prod\"");
        assert_eq!(
            yaml_scalar("Left: see ticket #42"),
            "\"Left: see ticket #42\""
        );
        assert_eq!(yaml_scalar("No"), "\"No\"");
        assert_eq!(yaml_scalar("12"), "\"12\"");
        assert_eq!(yaml_scalar("null"), "\"null\"");
        assert_eq!(yaml_scalar("a\u{7}b"), "\"a\\u0007b\"");
    }

    #[test]
    fn a_block_scalar_reason_is_replaced_whole() {
        let text = CAROL.replace(
            "      reason: Left the platform team in October\n",
            "      reason: >\n        Left the platform team\n        in October\n\n",
        );
        let out = upsert(
            &text,
            &request("dave@corp.example", Decision::Deny, Some("Gone")),
        );
        assert_eq!(
            out,
            text.replace(
                "      reason: >\n        Left the platform team\n        in October\n",
                "      reason: Gone\n",
            )
        );
    }

    #[test]
    fn a_file_without_a_matching_document_is_an_error() {
        let wrong_review = DecideRequest {
            review: "another-review",
            ..request("dave@corp.example", Decision::Deny, None)
        };
        let error = upsert_decision(Some(CAROL), &wrong_review).expect_err("no document");
        assert_eq!(
            error.to_string(),
            "no `ReviewDecisions` document for review `another-review` by `carol@corp.example` in the file"
        );
        let pinned = DecideRequest {
            instance: Some("2026-01-01"),
            ..request("dave@corp.example", Decision::Deny, None)
        };
        assert!(matches!(
            upsert_decision(Some(CAROL), &pinned),
            Err(EditError::NoDocument { .. })
        ));
    }

    #[test]
    fn a_principal_decided_twice_is_refused() {
        let text = format!("{CAROL}    - principal: u-FRANK\n      decision: deny\n");
        let error = upsert_decision(Some(&text), &request("u-frank", Decision::Deny, None))
            .expect_err("ambiguous");
        assert!(
            matches!(
                error,
                EditError::DuplicatePrincipal {
                    line: 21,
                    other_line: 16,
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn invalid_yaml_is_refused_with_its_position() {
        let error = upsert_decision(
            Some("spec: [1, 2\nkind: x\n"),
            &request("u-a", Decision::Deny, None),
        )
        .expect_err("invalid");
        assert!(matches!(error, EditError::Yaml { .. }), "{error}");
    }

    #[test]
    fn crlf_line_endings_are_kept() {
        let text = CAROL.replace('\n', "\r\n");
        let out = upsert(
            &text,
            &request("u-grace", Decision::Deny, Some("Contract ended")),
        );
        assert_eq!(
            out,
            text.replace(
                "      decision: dontKnow\r\n",
                "      decision: deny\r\n      reason: Contract ended\r\n",
            )
        );
        let out = upsert(&text, &request("u-heidi", Decision::Approve, None));
        assert_eq!(
            out,
            format!("{text}    - principal: u-heidi\r\n      decision: approve\r\n")
        );
        let out = upsert(
            &text,
            &request("dave@corp.example", Decision::Approve, None),
        );
        assert!(!out.replace("\r\n", "").contains('\n'), "{out:?}");
    }

    #[test]
    fn a_file_without_a_final_line_break_still_ends_without_one() {
        let text = CAROL.trim_end();
        let out = upsert(text, &request("u-heidi", Decision::Approve, None));
        assert_eq!(
            out,
            format!("{text}\n    - principal: u-heidi\n      decision: approve")
        );
    }

    #[test]
    fn an_unchanged_decision_leaves_the_text_as_it_was() {
        let text = CAROL.replace(
            "reason: Left the platform team in October",
            "reason: 'Left'",
        );
        let out = upsert(
            &text,
            &request("dave@corp.example", Decision::Deny, Some("Left")),
        );
        assert_eq!(out, text);
    }

    #[test]
    fn an_aliased_decision_is_refused_rather_than_edited_at_its_anchor() {
        let text = "kind: ReviewDecisions
spec:
  review: subscription-owners-quarterly
  reviewer: carol@corp.example
  decisions:
    - principal: u-a
      decision: &same approve
    - principal: u-b
      decision: *same
";
        for principal in ["u-a", "u-b"] {
            let outcome = upsert_decision(Some(text), &request(principal, Decision::Deny, None));
            assert!(
                matches!(
                    outcome,
                    Err(EditError::Unsupported { .. } | EditError::Unverified { .. })
                ),
                "{outcome:?}"
            );
        }
    }

    #[test]
    fn quoted_keys_and_values_are_found_past_their_trailing_comments() {
        let text = CAROL.replace(
            "    - principal: u-grace   # contractor\n      decision: dontKnow\n",
            "    - \"principal\": u-grace\n      'decision': \"dontKnow\"  # asked HR\n      \"reason\": 'Pending, HR'   # ticket 7\n",
        );
        let out = upsert(&text, &request("u-grace", Decision::Deny, Some("HR: gone")));
        assert_eq!(
            out,
            text.replace(
                "'decision': \"dontKnow\"  # asked HR\n      \"reason\": 'Pending, HR'",
                "'decision': deny  # asked HR\n      \"reason\": \"HR: gone\"",
            )
        );
        let out = upsert(&text, &request("u-grace", Decision::Deny, None));
        assert!(out.ends_with("'decision': deny  # asked HR\n"), "{out}");
    }
}

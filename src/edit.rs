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
//! The text surgery itself is [`crate::yaml::edit`]'s; this module decides which edits a
//! decision needs. Text surgery is easy to get subtly wrong, so every edit is checked: the new
//! text is parsed again and its data must equal the old data with exactly the intended change,
//! computed separately on the parsed values. An edit that fails the check is refused, never
//! returned.

use serde_json::{Map, Value};

use crate::model::API_VERSION;
use crate::model::decisions::Decision;
use crate::yaml::edit::{CannotEdit, Edit, NewItem, Text, apply, col0};
use crate::yaml::write::{flow_scalar, yaml_scalar};
use crate::yaml::{self, Node, NodeValue, Parsed};

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

impl From<CannotEdit> for EditError {
    fn from(e: CannotEdit) -> EditError {
        EditError::Unsupported {
            line: e.line,
            column: e.column,
            field: e.field,
            why: e.why,
        }
    }
}

/// The field every edit of a decisions file is about, named when one cannot be made.
const DECISIONS: &str = "spec.decisions";

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
        return Err(t
            .unsupported(entry, &path, "the entry is not a mapping")
            .into());
    };
    let flow = t.starts_with(entry, '{');
    let mut edits = Vec::new();

    let Some(decision) = entries.iter().find(|e| e.key == "decision") else {
        return Err(t
            .unsupported(entry, &path, "the entry has no `decision`")
            .into());
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
    Ok(apply(text, edits, DECISIONS)?)
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
        return Err(t
            .unsupported(node, &path, "the entry is not a mapping")
            .into());
    };
    let flow = t.starts_with(node, '{');
    let edit = match entries.iter().find(|e| e.key == key) {
        Some(old) if old.value.as_str() == Some(value) => return Ok(text.to_owned()),
        Some(old) => t
            .value_slot(old, &format!("{path}.{key}"))?
            .replace(&scalar(value, flow)),
        None => {
            let Some(decision) = entries.iter().find(|e| e.key == "decision") else {
                return Err(t
                    .unsupported(node, &path, "the entry has no `decision`")
                    .into());
            };
            let slot = t.value_slot(decision, &format!("{path}.decision"))?;
            t.insert_after_entry(decision, &slot, key, value, flow)
        }
    };
    Ok(apply(text, vec![edit], DECISIONS)?)
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
    let edits = match &list.value {
        NodeValue::Seq(items) if items.len() > 1 => {
            t.cut_item(list, item, &format!("{path}.principals[{item}]"))?
        }
        _ => t.cut_item(decisions, index, &path)?,
    };
    Ok(apply(text, edits, DECISIONS)?)
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
        return Err(t.unsupported(root, "spec", "it is not a mapping").into());
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
            vec![t.insert_after_line(t.last_line(spec, DECISIONS)?, &block)]
        }
        Some(decisions) => match &decisions.value.value {
            NodeValue::Seq(items) if !items.is_empty() => {
                if t.starts_with(&decisions.value, '[') {
                    t.append_flow(&decisions.value, items, request, DECISIONS)?
                } else {
                    vec![t.append_block(items, request, DECISIONS)?]
                }
            }
            NodeValue::Seq(_) | NodeValue::Scalar(Value::Null) => {
                t.fill_list(decisions, spec_flow, request, DECISIONS)?
            }
            _ => {
                return Err(t
                    .unsupported(&decisions.value, DECISIONS, "it is not a list")
                    .into());
            }
        },
    };
    Ok(apply(text, edits, DECISIONS)?)
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

impl NewItem for DecideRequest<'_> {
    fn block(&self, prefix: &str, eol: &str) -> String {
        block_entry(prefix, self, eol)
    }

    fn flow(&self) -> String {
        flow_entry(self)
    }
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
    fn the_only_entry_leaving_its_list_is_replaced_by_the_new_one() {
        let text = "kind: ReviewDecisions
spec:
  review: subscription-owners-quarterly
  reviewer: carol@corp.example
  decisions:
    # The whole team.
    - principals:
        - u-frank
      decision: approve
  # Reviewed in person.
";
        let out = upsert(text, &request("u-frank", Decision::Deny, None));
        assert_eq!(
            out,
            text.replace(
                "    - principals:\n        - u-frank\n      decision: approve\n",
                "",
            )
            .replace(
                "  decisions:\n    # The whole team.\n",
                "  decisions:\n    - principal: u-frank\n      decision: deny\n    # The whole team.\n",
            )
        );
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

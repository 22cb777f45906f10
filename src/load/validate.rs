//! Schema validation of one document, with every violation placed on its line and column.
//!
//! Each document is validated against its own kind's definition (see `schema.rs` for why), and
//! each `jsonschema` error becomes a [`Diagnostic`]: the instance path is looked up in the
//! spanned tree, the keyword picks the code, and the schema node next to the keyword supplies
//! what was expected (allowed fields for "did you mean", `errorMessage` for patterns).

use serde_json::Value;

use crate::diag::{Code, Diagnostic, field_path};
use crate::model::Kind;
use crate::model::envelope::DNS1123_LABEL;
use crate::model::review::{TIMESTAMP_FORMAT, Timestamp};
use crate::schema;

use crate::yaml::Node;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use std::path::Path;

/// The compiled schemas, one per kind; built once and shared by every thread.
pub struct SchemaSet {
    validators: Vec<(Kind, jsonschema::Validator)>,
    /// Any kind's schema document: all share the same `definitions`, which is where the
    /// validator's schema paths point.
    document: Value,
}

impl std::fmt::Debug for SchemaSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaSet").finish_non_exhaustive()
    }
}

impl SchemaSet {
    pub fn new() -> SchemaSet {
        let validators = Kind::ALL
            .iter()
            .map(|&kind| {
                let validator = jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft7)
                    .should_validate_formats(true)
                    .with_format(TIMESTAMP_FORMAT, |s: &str| Timestamp::parse(s).is_ok())
                    .build(&schema::for_kind(kind))
                    .expect("the generated schema compiles; a test guards this");
                (kind, validator)
            })
            .collect();
        SchemaSet {
            validators,
            document: schema::for_kind(Kind::Directory),
        }
    }

    /// Every violation of `kind`'s schema in `value`, except under the pointers in `skip`
    /// (already reported more precisely).
    pub fn check(
        &self,
        kind: Kind,
        value: &Value,
        root: &Node,
        file: &Path,
        skip: &[String],
    ) -> Vec<Diagnostic> {
        let Some((_, validator)) = self.validators.iter().find(|(k, _)| *k == kind) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for error in validator.iter_errors(value) {
            let pointer = error.instance_path().as_str();
            if skip.iter().any(|s| is_within(pointer, s)) {
                continue;
            }
            let keyword_at = error.schema_path().as_str();
            let node_schema = self.schema_at(parent_pointer(keyword_at));
            out.extend(self.describe(
                error.kind(),
                error.instance(),
                pointer,
                keyword_at,
                node_schema,
                root,
                file,
                skip,
            ));
        }
        fold_misspellings(&mut out);
        out
    }

    /// Whether `value` passes `kind`'s schema, without collecting errors.
    pub fn is_valid(&self, kind: Kind, value: &Value) -> bool {
        self.validators
            .iter()
            .find(|(k, _)| *k == kind)
            .is_some_and(|(_, v)| v.is_valid(value))
    }

    fn schema_at(&self, pointer: &str) -> Option<&Value> {
        self.document.pointer(pointer)
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "one call site; a struct would only rename the arguments"
    )]
    fn describe(
        &self,
        kind: &ValidationErrorKind,
        instance: &Value,
        pointer: &str,
        keyword_at: &str,
        node_schema: Option<&Value>,
        root: &Node,
        file: &Path,
        skip: &[String],
    ) -> Vec<Diagnostic> {
        let field = field_path(pointer);
        // A finding about a whole mapping or list points at its key; one about a value, at it.
        let at = if instance.is_object() || instance.is_array() {
            root.key_span_of(pointer)
        } else {
            root.span_of(pointer)
        };
        let error_message = node_schema
            .and_then(|s| s.get("errorMessage"))
            .and_then(Value::as_str);
        let diag = |code: Code, message: String| {
            Diagnostic::error(code, file, message)
                .at(at)
                .field(field.clone())
        };
        match kind {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                let allowed: Vec<&str> = node_schema
                    .and_then(|s| s.get("properties"))
                    .and_then(Value::as_object)
                    .map(|p| p.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                unexpected
                    .iter()
                    .filter_map(|name| {
                        let child =
                            format!("{pointer}/{}", name.replace('~', "~0").replace('/', "~1"));
                        if skip.iter().any(|s| is_within(&child, s)) {
                            return None;
                        }
                        let within = if field.is_empty() {
                            "the document".to_owned()
                        } else {
                            format!("`{field}`")
                        };
                        let d = Diagnostic::error(
                            Code::UnknownField,
                            file,
                            format!("unknown field `{name}` in {within}"),
                        )
                        .at(root.key_span_of(&child))
                        .field(field_path(&child));
                        Some(match did_you_mean(name, allowed.iter().copied()) {
                            Some(best) => d.note(format!("did you mean `{best}`?")),
                            None => d.note(format!(
                                "expected one of: {}",
                                quoted_list(allowed.iter().copied())
                            )),
                        })
                    })
                    .collect()
            }
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                let child = format!("{pointer}/{name}");
                let mut d = Diagnostic::error(
                    Code::MissingField,
                    file,
                    format!("missing required field `{name}`"),
                )
                .at(root.key_span_of(pointer))
                .field(field_path(&child));
                if let Some(condition) = self.condition_of(keyword_at) {
                    d = d.note(format!("required because {condition}"));
                }
                vec![d]
            }
            ValidationErrorKind::Type { kind } => {
                let expected = match kind {
                    TypeKind::Single(t) => article(&t.to_string()),
                    TypeKind::Multiple(set) => set
                        .iter()
                        .map(|t| article(&t.to_string()))
                        .collect::<Vec<_>>()
                        .join(" or "),
                };
                vec![diag(
                    Code::WrongType,
                    format!("expected {expected}, found {}", describe_value(instance)),
                )]
            }
            ValidationErrorKind::Enum { options } => {
                let options: Vec<&str> = options
                    .as_array()
                    .map(|o| o.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let mut d = diag(
                    Code::InvalidValue,
                    format!("{} is not an allowed value", describe_value(instance)),
                )
                .note(format!(
                    "expected one of: {}",
                    quoted_list(options.iter().copied())
                ));
                if let Some(best) = instance
                    .as_str()
                    .and_then(|s| did_you_mean(s, options.iter().copied()))
                {
                    d = d.note(format!("did you mean `{best}`?"));
                }
                vec![d]
            }
            ValidationErrorKind::Constant { expected_value } => {
                vec![diag(
                    Code::InvalidValue,
                    format!(
                        "expected {expected_value}, found {}",
                        describe_value(instance)
                    ),
                )]
            }
            ValidationErrorKind::Format { .. } => {
                let message = instance
                    .as_str()
                    .and_then(|s| Timestamp::parse(s).err())
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                let mut d = diag(
                    Code::InvalidValue,
                    format!(
                        "{} is not a valid date or date-time",
                        describe_value(instance)
                    ),
                );
                if let Some(rule) = error_message {
                    d = d.note(format!("the value {rule}"));
                }
                if !message.is_empty() {
                    d = d.note(message);
                }
                vec![d]
            }
            ValidationErrorKind::Pattern { pattern } => {
                let code = if pattern == DNS1123_LABEL {
                    Code::InvalidName
                } else {
                    Code::InvalidValue
                };
                let rule = error_message.map_or_else(
                    || format!("must match the pattern `{pattern}`"),
                    str::to_owned,
                );
                vec![diag(code, format!("{} {rule}", describe_value(instance)))]
            }
            ValidationErrorKind::Minimum { limit }
            | ValidationErrorKind::ExclusiveMinimum { limit } => {
                vec![diag(
                    Code::InvalidValue,
                    format!(
                        "{} is too small: the minimum is {limit}",
                        describe_value(instance)
                    ),
                )]
            }
            ValidationErrorKind::Maximum { limit }
            | ValidationErrorKind::ExclusiveMaximum { limit } => {
                vec![diag(
                    Code::InvalidValue,
                    format!(
                        "{} is too large: the maximum is {limit}",
                        describe_value(instance)
                    ),
                )]
            }
            ValidationErrorKind::MinLength { limit } if *limit == 1 => {
                vec![diag(Code::InvalidValue, "must not be empty".to_owned())]
            }
            ValidationErrorKind::MinLength { limit } => {
                vec![diag(
                    Code::InvalidValue,
                    format!("must be at least {limit} characters long"),
                )]
            }
            ValidationErrorKind::MaxLength { limit } => {
                vec![diag(
                    Code::InvalidValue,
                    format!("must be at most {limit} characters long"),
                )]
            }
            ValidationErrorKind::MinItems { limit } if *limit == 1 => {
                vec![diag(
                    Code::InvalidValue,
                    "must list at least one entry".to_owned(),
                )]
            }
            ValidationErrorKind::MinItems { limit } => vec![diag(
                Code::InvalidValue,
                format!("must list at least {limit} entries"),
            )],
            ValidationErrorKind::MaxItems { limit } => vec![diag(
                Code::InvalidValue,
                format!("must list at most {limit} entries"),
            )],
            _ => {
                let message = error_message.map_or_else(
                    || format!("invalid value: fails `{}`", kind.keyword()),
                    str::to_owned,
                );
                vec![diag(Code::InvalidValue, message)]
            }
        }
    }

    /// For a keyword inside an `if`/`then`, the condition in words: "`type` is `graph`".
    fn condition_of(&self, keyword_at: &str) -> Option<String> {
        let then_at = keyword_at.rfind("/then/")?;
        let condition = self.schema_at(&format!("{}/if/properties", &keyword_at[..then_at]))?;
        let (name, test) = condition.as_object()?.iter().next()?;
        Some(format!("`{name}` is `{}`", test.get("const")?.as_str()?))
    }
}

impl Default for SchemaSet {
    fn default() -> Self {
        SchemaSet::new()
    }
}

/// A misspelt field is both unknown and (when required) missing; the unknown-field finding
/// already says "did you mean", so the missing-field one only repeats it.
fn fold_misspellings(out: &mut Vec<Diagnostic>) {
    let meant: Vec<String> = out
        .iter()
        .filter(|d| d.code == Code::UnknownField)
        .filter_map(|d| {
            let field = d.field.as_deref()?;
            let suggestion = d
                .notes
                .iter()
                .find_map(|n| n.strip_prefix("did you mean `")?.strip_suffix("`?"))?;
            Some(match field.rfind('.') {
                Some(i) => format!("{}.{suggestion}", &field[..i]),
                None => suggestion.to_owned(),
            })
        })
        .collect();
    out.retain(|d| {
        !(d.code == Code::MissingField && d.field.as_ref().is_some_and(|f| meant.contains(f)))
    });
}

fn parent_pointer(pointer: &str) -> &str {
    pointer.rfind('/').map_or("", |i| &pointer[..i])
}

/// Whether `pointer` is `ancestor` or below it.
pub(crate) fn is_within(pointer: &str, ancestor: &str) -> bool {
    pointer == ancestor
        || (pointer.starts_with(ancestor) && pointer.as_bytes().get(ancestor.len()) == Some(&b'/'))
}

fn article(type_name: &str) -> String {
    match type_name {
        "object" => "a mapping".to_owned(),
        "array" => "a list".to_owned(),
        "integer" => "an integer".to_owned(),
        "null" => "nothing".to_owned(),
        other => format!("a {other}"),
    }
}

/// A value as a message shows it: short, typed, never the whole of a large value.
pub(crate) fn describe_value(value: &Value) -> String {
    match value {
        Value::Null => "an empty value".to_owned(),
        Value::Bool(b) => format!("the boolean `{b}`"),
        Value::Number(n) => format!("the number `{n}`"),
        Value::String(s) if s.chars().count() > 60 => {
            let head: String = s.chars().take(57).collect();
            format!("the string `{head}...`")
        }
        Value::String(s) => format!("the string `{s}`"),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a mapping".to_owned(),
    }
}

/// The closest of `candidates` to a misspelt `word`, if one is close enough to be a typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (c, strsim::jaro_winkler(&lower, &c.to_lowercase())))
        .filter(|&(_, score)| score >= 0.8)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
}

fn quoted_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    items
        .into_iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_finds_a_typo_and_ignores_unrelated_words() {
        let fields = [
            "start",
            "durationDays",
            "recurrence",
            "interval",
            "until",
            "count",
        ];
        assert_eq!(did_you_mean("durationDay", fields), Some("durationDays"));
        assert_eq!(did_you_mean("reccurence", fields), Some("recurrence"));
        assert_eq!(did_you_mean("colour", fields), None);
    }

    #[test]
    fn within_respects_segment_boundaries() {
        assert!(is_within(
            "/spec/graph/clientSecret",
            "/spec/graph/clientSecret"
        ));
        assert!(is_within(
            "/spec/graph/clientSecret/env",
            "/spec/graph/clientSecret"
        ));
        assert!(!is_within(
            "/spec/graph/clientSecretFile",
            "/spec/graph/clientSecret"
        ));
    }
}

//! The published JSON Schema, generated from the model types.
//!
//! Draft-07 because the YAML language server (the editors' consumer) reads only that. The root
//! schema dispatches on `kind` with `if`/`then`, not `oneOf`: a `oneOf` over four kinds makes
//! every mistake report "not valid under any of the schemas", while `if`/`then` reports the
//! mistake against the document's own kind. The loader validates each document against its
//! kind's definition directly, for the same reason.

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::model::{self, Kind};

/// Where `recert schema` writes the schema, relative to the repository root.
pub const SCHEMA_FILE: &str = "schemas/recert.schema.json";

/// The `$id` of the published schema; examples point their modeline at the committed file.
pub const SCHEMA_ID: &str = "https://recert.dev/schemas/v1alpha1/recert.schema.json";

/// The draft-07 meta-schema URI.
const DRAFT07: &str = "http://json-schema.org/draft-07/schema#";

/// Generates the whole published schema.
pub fn generate() -> Value {
    let definitions = definitions();
    let dispatch: Vec<Value> = Kind::ALL
        .iter()
        .map(|kind| {
            json!({
                "if": { "properties": { "kind": { "const": kind.as_str() } }, "required": ["kind"] },
                "then": { "$ref": format!("#/definitions/{kind}") }
            })
        })
        .collect();
    json!({
        "$schema": DRAFT07,
        "$id": SCHEMA_ID,
        "title": "Recert document",
        "description": "A Recert resource: Directory, DirectoryData, AccessReview or ReviewDecisions.",
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {
                "description": "The API version of this document. Always `recert.dev/v1alpha1`.",
                "enum": [model::API_VERSION]
            },
            "kind": {
                "description": "The kind of this document.",
                "enum": Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>()
            },
            "metadata": true,
            "spec": true
        },
        "allOf": dispatch,
        "definitions": definitions,
    })
}

/// The schema a document of one kind is validated against: the kind's definition, with every
/// definition it may reference.
pub fn for_kind(kind: Kind) -> Value {
    json!({
        "$schema": DRAFT07,
        "$ref": format!("#/definitions/{kind}"),
        "definitions": definitions(),
    })
}

/// Renders the schema as committed: pretty JSON with a trailing newline.
pub fn render() -> String {
    let mut text =
        serde_json::to_string_pretty(&generate()).expect("a JSON value always serialises");
    text.push('\n');
    text
}

fn definitions() -> Map<String, Value> {
    let mut generator = SchemaSettings::draft07().into_generator();
    generator.subschema_for::<model::Directory>();
    generator.subschema_for::<model::DirectoryData>();
    generator.subschema_for::<model::AccessReview>();
    generator.subschema_for::<model::ReviewDecisions>();
    generator.subschema_for::<model::Notifier>();
    generator.subschema_for::<model::ReviewerPortal>();
    let mut definitions: Map<String, Value> =
        generator.take_definitions(true).into_iter().collect();
    for schema in definitions.values_mut() {
        tidy(schema);
    }
    definitions
}

/// Makes the generated schema say what the loader accepts, and read well in an editor.
///
/// - An optional field may be left out but not set to `null`: serde would read `null` as "not
///   set", which hides a half-written entry (`clientSecret:` with nothing after it).
/// - Doc comments are wrapped at 100 columns; editors show descriptions as flowing text, so
///   single line breaks are joined (blank lines still separate paragraphs).
pub(crate) fn tidy(schema: &mut Value) {
    let Value::Object(map) = schema else {
        if let Value::Array(items) = schema {
            items.iter_mut().for_each(tidy);
        }
        return;
    };
    if let Some(Value::Array(types)) = map.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let single = types.remove(0);
            map.insert("type".to_owned(), single);
        }
    }
    if let Some(Value::Array(any_of)) = map.get("anyOf") {
        let non_null: Vec<&Value> = any_of.iter().filter(|s| !is_null_schema(s)).collect();
        if non_null.len() == 1 && any_of.len() == 2 {
            let inner = non_null[0].clone();
            map.remove("anyOf");
            map.insert("allOf".to_owned(), Value::Array(vec![inner]));
        }
    }
    if let Some(Value::Array(branches)) = map.get("oneOf") {
        let consts: Option<Vec<(Value, Value)>> = branches
            .iter()
            .map(|b| {
                Some((
                    b.get("const")?.clone(),
                    b.get("description").cloned().unwrap_or(Value::Null),
                ))
            })
            .collect();
        if let Some(consts) = consts {
            // A documented Rust enum comes out as `oneOf` of `const`s, which validators report
            // as "not valid under any of the schemas". `enum` reports the allowed values, and
            // `enumDescriptions` (read by the YAML language server) keeps the documentation.
            map.remove("oneOf");
            map.insert("type".to_owned(), Value::from("string"));
            let (values, descriptions): (Vec<Value>, Vec<Value>) = consts.into_iter().unzip();
            map.insert("enum".to_owned(), Value::Array(values));
            let descriptions = descriptions.into_iter().map(|d| match d {
                Value::String(text) => Value::String(unwrap_lines(&text)),
                _ => Value::from(""),
            });
            map.insert(
                "enumDescriptions".to_owned(),
                Value::Array(descriptions.collect()),
            );
        }
    }
    if let Some(Value::String(text)) = map.get_mut("description") {
        *text = unwrap_lines(text);
    }
    map.values_mut().for_each(tidy);
}

fn is_null_schema(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("null")
        && schema.as_object().is_some_and(|m| m.len() == 1)
}

fn unwrap_lines(text: &str) -> String {
    text.split("\n\n")
        .map(|paragraph| {
            paragraph
                .split('\n')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

//! The published schema: draft-07, complete descriptions, and it agrees with the loader.

use serde_json::Value;

fn published() -> Value {
    let text = std::fs::read_to_string(crate::support::root().join("schemas/recert.schema.json"))
        .expect("committed schema");
    serde_json::from_str(&text).expect("the schema is JSON")
}

#[test]
fn the_committed_schema_is_what_the_code_generates() {
    let committed =
        std::fs::read_to_string(crate::support::root().join(recert::schema::SCHEMA_FILE))
            .expect("committed schema");
    assert!(
        committed == recert::schema::render(),
        "schemas/recert.schema.json is stale: run `cargo run -- schema --output schemas/recert.schema.json`"
    );
}

#[test]
fn the_schema_is_valid_draft_07() {
    let schema = published();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    jsonschema::draft7::meta::validate(&schema).expect("valid against the draft-07 meta-schema");
}

fn walk_properties(schema: &Value, at: &str, missing: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Object(properties)) = map.get("properties") {
                for (name, property) in properties {
                    let documented = property
                        .get("description")
                        .and_then(Value::as_str)
                        .is_some_and(|d| !d.trim().is_empty());
                    // `metadata`/`spec` at the root are described by the kind they dispatch to.
                    if !documented && property != &Value::Bool(true) {
                        missing.push(format!("{at}/properties/{name}"));
                    }
                }
            }
            // `if` subschemas are conditions, not fields anyone types.
            for (key, value) in map.iter().filter(|(key, _)| *key != "if") {
                walk_properties(value, &format!("{at}/{key}"), missing);
            }
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| walk_properties(v, &format!("{at}/{i}"), missing)),
        _ => {}
    }
}

#[test]
fn every_field_has_a_description_for_editors() {
    let mut missing = Vec::new();
    walk_properties(&published(), "", &mut missing);
    assert!(
        missing.is_empty(),
        "fields without a description: {missing:#?}"
    );
}

fn closes_every_object(schema: &Value, at: &str, open: &mut Vec<String>) {
    if let Value::Object(map) = schema {
        if map.contains_key("properties")
            && at.starts_with("/definitions/")
            && map.get("additionalProperties") != Some(&Value::Bool(false))
        {
            open.push(at.to_owned());
        }
        for (key, value) in map {
            closes_every_object(value, &format!("{at}/{key}"), open);
        }
    }
}

#[test]
fn unknown_fields_are_rejected_everywhere() {
    let mut open = Vec::new();
    closes_every_object(&published(), "", &mut open);
    assert!(
        open.is_empty(),
        "objects that accept unknown fields: {open:#?}"
    );
}

fn webhook_event_schema() -> Value {
    let text =
        std::fs::read_to_string(crate::support::root().join(recert::notify::event::SCHEMA_FILE))
            .expect("committed webhook event schema");
    serde_json::from_str(&text).expect("the schema is JSON")
}

#[test]
fn the_committed_webhook_event_schema_is_what_the_code_generates() {
    let path = crate::support::root().join(recert::notify::event::SCHEMA_FILE);
    let generated = recert::notify::event::render_schema();
    // What regenerates it: the same test, told to write.
    if std::env::var_os("RECERT_WRITE_SCHEMAS").is_some() {
        recert::fsutil::write_atomic(&path, generated.as_bytes()).expect("write the schema");
    }
    let committed = std::fs::read_to_string(&path).expect("committed webhook event schema");
    assert!(
        committed == generated,
        "{} is stale: run `RECERT_WRITE_SCHEMAS=1 cargo test --test main webhook_event_schema` and commit it",
        recert::notify::event::SCHEMA_FILE
    );
}

#[test]
fn the_webhook_event_schema_is_valid_draft_07_and_documents_every_field() {
    let schema = webhook_event_schema();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(schema["$id"], recert::notify::event::SCHEMA_ID);
    jsonschema::draft7::meta::validate(&schema).expect("valid against the draft-07 meta-schema");
    let mut missing = Vec::new();
    walk_properties(&schema, "", &mut missing);
    assert!(
        missing.is_empty(),
        "fields without a description: {missing:#?}"
    );
}

//! Sample JSON made from the official spec's schemas: every required field, and every optional
//! one whose schema gives an example; a scalar is its example (else its first enum value, else a
//! value of its type and format).

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{Map, Value, json};

/// The official spec, read once.
pub fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| cobo_oauth_codegen::load_spec(&spec_path()).unwrap())
}

pub fn spec_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../openapi/cobo-waas2-openapi.yaml")
}

/// The schema `#/components/schemas/<name>`.
pub fn schema(name: &str) -> &'static Value {
    spec()
        .pointer(&format!("/components/schemas/{name}"))
        .unwrap_or_else(|| panic!("no schema {name}"))
}

/// `(data_type, schema name)` of every data type the spec's `WebhookEventData` names.
pub fn data_types() -> Vec<(String, String)> {
    schema("WebhookEventData")["discriminator"]["mapping"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(tag, target)| {
            let target = target.as_str().unwrap();
            (
                tag.clone(),
                target
                    .trim_start_matches("#/components/schemas/")
                    .to_owned(),
            )
        })
        .collect()
}

/// A webhook event's data of type `tag`, whose schema is `schema_name`.
pub fn event_data(tag: &str, schema_name: &str) -> Value {
    let mut data = sample(schema(schema_name), 0);
    data["data_type"] = json!(tag);
    data
}

/// A callback's body: a `Transaction`.
pub fn transaction() -> Value {
    sample(schema("Transaction"), 0)
}

fn by_ref(reference: &str) -> &'static Value {
    spec()
        .pointer(reference.trim_start_matches('#'))
        .unwrap_or_else(|| panic!("unresolved {reference}"))
}

fn resolve(mut schema: &'static Value) -> &'static Value {
    while let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        schema = by_ref(reference);
    }
    schema
}

/// How deep optional fields are still filled in (the spec has recursive schemas).
const OPTIONAL_DEPTH: usize = 6;

pub fn sample(schema: &'static Value, depth: usize) -> Value {
    let schema = resolve(schema);
    assert!(depth < 40, "runaway recursion at {schema}");
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        let mut merged = Map::new();
        for part in parts {
            if let Value::Object(fields) = sample(part, depth) {
                merged.extend(fields);
            }
        }
        return Value::Object(merged);
    }
    for key in ["oneOf", "anyOf"] {
        let Some(branches) = schema.get(key).and_then(Value::as_array) else {
            continue;
        };
        // A discriminated union: its first mapped shape, with the value that names it.
        let property = schema
            .pointer("/discriminator/propertyName")
            .and_then(Value::as_str);
        let mapping = schema
            .pointer("/discriminator/mapping")
            .and_then(Value::as_object);
        if let (Some(property), Some((tag, target))) =
            (property, mapping.and_then(|m| m.iter().next()))
        {
            let target = target.as_str().unwrap_or_default();
            let mut value = sample(by_ref(target), depth);
            value[property] = json!(tag);
            return value;
        }
        return sample(&branches[0], depth);
    }
    if let Some(example) = schema.get("example").filter(|e| fits(schema, e)) {
        return example.clone();
    }
    if let Some(first) = schema.get("enum").and_then(|e| e.get(0)) {
        return first.clone();
    }
    let format = schema
        .get("format")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match schema.get("type").and_then(Value::as_str) {
        Some("array") => json!([sample(&schema["items"], depth + 1)]),
        Some("string") => json!(match format {
            "uuid" => "3fa85f64-5717-4562-b3fc-2c963f66afa6",
            "date-time" => "2024-01-01T00:00:00Z",
            "date" => "2024-01-01",
            _ => "x",
        }),
        Some("integer") => schema.get("minimum").cloned().unwrap_or(json!(1)),
        Some("number") => schema.get("minimum").cloned().unwrap_or(json!(1.5)),
        Some("boolean") => json!(true),
        _ => object(schema, depth),
    }
}

fn object(schema: &'static Value, depth: usize) -> Value {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut fields = Map::new();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            let wanted = required.contains(&name.as_str())
                || (depth < OPTIONAL_DEPTH && resolve(property).get("example").is_some());
            if wanted {
                fields.insert(name.clone(), sample(property, depth + 1));
            }
        }
    }
    Value::Object(fields)
}

/// Whether an example has the schema's JSON type (the spec has a few that do not; a value of
/// the type is made for those).
fn fits(schema: &Value, example: &Value) -> bool {
    match schema.get("type").and_then(Value::as_str) {
        Some("string") => example.is_string(),
        Some("integer") => example.is_i64() || example.is_u64(),
        Some("number") => example.is_number(),
        Some("boolean") => example.is_boolean(),
        Some("array") | Some("object") | None => false,
        Some(_) => false,
    }
}

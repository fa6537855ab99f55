//! Rule: a JSON response, or a request body, whose media type has no schema.
//!
//! progenitor 0.15.1 panics (`todo!`) on a JSON response without a schema and
//! errors on a body without one. A missing schema means "any value", so the
//! equivalent schema is added: `{}` for JSON/form content, `{type: string,
//! format: binary}` for octet-stream and `{type: string}` for text bodies.
//! Shared `$ref` responses/bodies are copied into the operation first.

use serde_json::{Value, json};

use super::model::Change;
use super::{body_media_types::essence, operations, pointer};

/// Rule name reported in [`Change::rule`].
pub const RULE: &str = "add-missing-schema";

fn any_schema(content_type: &str) -> Value {
    match essence(content_type) {
        "application/octet-stream" => json!({"type": "string", "format": "binary"}),
        "text/plain" | "text/x-markdown" => json!({"type": "string"}),
        _ => json!({}),
    }
}

/// Which media types of an object the rule looks at.
type Select = fn(&str) -> bool;

fn is_json(ct: &str) -> bool {
    ct == "application/json" || ct.starts_with("application/json;")
}

/// Returns the patched object if some selected media type lacks a schema.
fn patch(object: &Value, select: Select) -> Option<(Value, Vec<String>)> {
    let content = object.get("content")?.as_object()?;
    let missing: Vec<String> = content
        .iter()
        .filter(|(k, mt)| select(k) && mt.get("schema").is_none())
        .map(|(k, _)| k.clone())
        .collect();
    if missing.is_empty() {
        return None;
    }
    let mut new = object.clone();
    for k in &missing {
        if let Some(mt) = new["content"]
            .get_mut(k.as_str())
            .and_then(Value::as_object_mut)
        {
            mt.insert("schema".into(), any_schema(k));
        }
    }
    Some((new, missing))
}

/// Applies the rule to every operation.
pub fn apply(
    spec: &mut Value,
    changes: &mut Vec<Change>,
) -> Result<(), super::model::NormalizeError> {
    for op in operations::list(spec) {
        let mut targets: Vec<(String, Select)> =
            vec![(pointer::join(&op.pointer, "requestBody"), |_| true)];
        if let Some(rs) = spec
            .pointer(&pointer::join(&op.pointer, "responses"))
            .and_then(Value::as_object)
        {
            for k in rs.keys() {
                targets.push((
                    pointer::join(&pointer::join(&op.pointer, "responses"), k),
                    is_json,
                ));
            }
        }
        for (ptr, select) in targets {
            let Some(raw) = spec.pointer(&ptr) else {
                continue;
            };
            let object = super::operations::resolve(spec, raw, &op, &ptr)?;
            let Some((new, missing)) = patch(object, select) else {
                continue;
            };
            if let Some(slot) = spec.pointer_mut(&ptr) {
                *slot = new;
            }
            changes.push(Change {
                pointer: ptr,
                operation: op.operation_id.clone(),
                rule: RULE,
                detail: format!(
                    "media types {missing:?} had no schema; added the any-value schema"
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_any_schema() {
        let mut spec = json!({"paths": {"/x": {
            "get": {"operationId": "a", "responses": {
                "200": {"description": "d", "content": {"application/json": {}}},
                "400": {"description": "e", "content": {"text/html": {}}}}},
            "post": {"operationId": "b", "requestBody": {"content": {"application/octet-stream": {}}},
                "responses": {"200": {"description": "d", "content": {"application/json": {"schema": {}}}}}}}}});
        let before = spec.clone();
        let mut changes = Vec::new();
        apply(&mut spec, &mut changes).unwrap();
        let get = &spec["paths"]["/x"]["get"]["responses"];
        assert_eq!(
            get["200"],
            json!({"description": "d", "content": {"application/json": {"schema": {}}}})
        );
        assert_eq!(get["400"], before["paths"]["/x"]["get"]["responses"]["400"]);
        assert_eq!(
            spec["paths"]["/x"]["post"]["requestBody"],
            json!({"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}})
        );
        assert_eq!(changes.len(), 2);
        assert_eq!(
            spec["paths"]["/x"]["post"]["responses"],
            before["paths"]["/x"]["post"]["responses"]
        );
    }
}

//! Rule: a request body offering several media types.
//!
//! progenitor 0.15.1 panics (`todo!`) on more than one request media type.
//! The one progenitor handles best is kept (JSON first, then the others it
//! supports, else the first listed); the rest move, unchanged, into the
//! request body's `x-alternative-content` extension.

use serde_json::{Map, Value};

use super::model::Change;
use super::operations;

/// Rule name reported in [`Change::rule`].
pub const RULE: &str = "multiple-body-media-types";

/// Media types (before any `;`) progenitor 0.15.1 accepts for a request body.
pub const SUPPORTED: [&str; 5] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "application/octet-stream",
    "text/plain",
    "text/x-markdown",
];

/// The media type without parameters, e.g. `application/json`.
pub fn essence(content_type: &str) -> &str {
    content_type
        .split(';')
        .next()
        .unwrap_or(content_type)
        .trim()
}

/// Applies the rule to every operation.
pub fn apply(
    spec: &mut Value,
    changes: &mut Vec<Change>,
) -> Result<(), super::model::NormalizeError> {
    for request in operations::request_bodies(spec)? {
        let Some(content) = request.content() else {
            continue;
        };
        let (op, body, body_ptr) = (&request.op, &request.body, request.pointer.clone());
        if content.len() <= 1 {
            continue;
        }
        let keys: Vec<&String> = content.keys().collect();
        let keep = keys
            .iter()
            .find(|k| essence(k) == "application/json")
            .or_else(|| keys.iter().find(|k| SUPPORTED.contains(&essence(k))))
            .unwrap_or(&keys[0])
            .to_string();
        let mut kept = Map::new();
        let mut moved = Map::new();
        for (k, v) in content {
            if *k == keep {
                kept.insert(k.clone(), v.clone())
            } else {
                moved.insert(k.clone(), v.clone())
            };
        }
        let moved_names: Vec<String> = moved.keys().cloned().collect();
        let mut new_body = body.clone();
        new_body["content"] = Value::Object(kept);
        new_body["x-alternative-content"] = Value::Object(moved);
        if let Some(slot) = spec.pointer_mut(&body_ptr) {
            *slot = new_body;
        }
        changes.push(Change {
            pointer: body_ptr,
            operation: op.operation_id.clone(),
            rule: RULE,
            detail: format!("kept {keep}; moved {moved_names:?} to x-alternative-content"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_json_and_moves_the_rest() {
        let mut spec = json!({"paths": {"/x": {
            "post": {"operationId": "two", "requestBody": {"$ref": "#/components/requestBodies/B"},
                "responses": {"200": {"description": "ok"}}},
            "put": {"operationId": "one", "requestBody": {"content": {"application/json": {"schema": {}}}},
                "responses": {"200": {"description": "ok"}}}}},
            "components": {"requestBodies": {"B": {"description": "b", "content": {
                "application/xml": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object"}}}}}}});
        let before = spec.clone();
        let mut changes = Vec::new();
        apply(&mut spec, &mut changes).unwrap();
        assert_eq!(
            spec["paths"]["/x"]["post"]["requestBody"],
            json!({"description": "b",
            "content": {"application/json": {"schema": {"type": "object"}}},
            "x-alternative-content": {"application/xml": {"schema": {"type": "string"}}}})
        );
        assert_eq!(spec["paths"]["/x"]["put"], before["paths"]["/x"]["put"]);
        assert_eq!(spec["components"], before["components"]);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].pointer, "/paths/~1x/post/requestBody");
    }
}

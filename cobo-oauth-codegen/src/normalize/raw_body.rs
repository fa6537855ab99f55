//! Rule: a request body whose media type progenitor cannot encode
//! (e.g. `multipart/form-data`).
//!
//! progenitor 0.15.1 errors on such bodies. The body becomes a raw
//! `application/octet-stream` body (`type: string, format: binary`), so the
//! generated method takes a pre-encoded `reqwest::Body`. The original media
//! type and its object stay in the media type's `x-original-content-type` and
//! `x-original-media-type` extensions; the caller sends the same bytes and sets
//! the original `Content-Type` (with its boundary) in `ClientHooks::pre`.

use serde_json::{Value, json};

use super::{
    Change,
    body_media_types::{SUPPORTED, essence},
    operations,
};

/// Rule name reported in [`Change::rule`].
pub const RULE: &str = "unsupported-body-media-type";

/// Applies the rule to every operation with a single-media-type body.
pub fn apply(
    spec: &mut Value,
    changes: &mut Vec<Change>,
) -> Result<(), super::model::NormalizeError> {
    for request in operations::request_bodies(spec)? {
        let Some(content) = request.content() else {
            continue;
        };
        let (op, body, body_ptr) = (&request.op, &request.body, request.pointer.clone());
        if content.len() != 1 {
            continue;
        }
        let Some((ct, media)) = content.iter().next() else {
            continue;
        };
        if SUPPORTED.contains(&essence(ct)) {
            continue;
        }
        let mut new_body = body.clone();
        new_body["content"] = json!({"application/octet-stream": {
            "schema": {"type": "string", "format": "binary"},
            "x-original-content-type": ct,
            "x-original-media-type": media,
        }});
        let detail = format!(
            "{ct} body sent raw as application/octet-stream (original in x-original-media-type); \
             set Content-Type {ct} in ClientHooks::pre for {}",
            op.label()
        );
        if let Some(slot) = spec.pointer_mut(&body_ptr) {
            *slot = new_body;
        }
        changes.push(Change {
            pointer: body_ptr,
            operation: op.operation_id.clone(),
            rule: RULE,
            detail,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_becomes_raw_body_keeping_original() {
        let form = json!({"schema": {"type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary"}}}});
        let mut spec = json!({"paths": {"/upload": {
            "post": {"operationId": "upload", "requestBody": {"$ref": "#/components/requestBodies/U"},
                "responses": {"201": {"description": "ok"}}},
            "put": {"operationId": "json", "requestBody": {"content": {"application/json": {"schema": {}}}},
                "responses": {"200": {"description": "ok"}}}}},
            "components": {"requestBodies": {"U": {"description": "file", "required": true,
                "content": {"multipart/form-data": form.clone()}}}}});
        let before = spec.clone();
        let mut changes = Vec::new();
        apply(&mut spec, &mut changes).unwrap();
        assert_eq!(
            spec["paths"]["/upload"]["post"]["requestBody"],
            json!({
            "description": "file", "required": true,
            "content": {"application/octet-stream": {
                "schema": {"type": "string", "format": "binary"},
                "x-original-content-type": "multipart/form-data",
                "x-original-media-type": form}}})
        );
        assert_eq!(
            spec["paths"]["/upload"]["put"],
            before["paths"]["/upload"]["put"]
        );
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].operation.as_deref(), Some("upload"));
        assert_eq!(changes[0].pointer, "/paths/~1upload/post/requestBody");
    }
}

//! Normalizes an OpenAPI 3.0 document so that progenitor 0.15.1 can generate
//! a client from it, rewriting only the shapes progenitor cannot take into
//! equivalent ones and reporting every rewrite.
//!
//! Rules, applied in this order (one module each):
//! - [`operation_ids`]: missing or repeated `operationId`s;
//! - [`enum_idents`]: string enums whose values give clashing Rust names;
//! - [`missing_schemas`]: JSON media types without a schema;
//! - [`body_media_types`]: request bodies with several media types;
//! - [`raw_body`]: request bodies progenitor cannot encode (multipart);
//! - [`success_schemas`]: different success-response schemas;
//! - [`error_schemas`]: different error-response schemas;
//! - [`all_of`]: `allOf`s of plain objects, merged into one object (typify's own merge is
//!   slow and, for two `oneOf`s of one property, gives nameless variants);
//! - [`required_properties`]: object schemas that require a property they do not define;
//! - [`secret_tokens`]: marks `access_token` / `refresh_token` strings secret (not a shape
//!   progenitor cannot take: a type it should not give them);
//! - [`open_enums`]: every use of an enum becomes the runtime's `OpenEnum` of it, so a value
//!   Cobo adds later is kept instead of failing the response.

use serde_json::Value;

mod all_of;
mod body_media_types;
mod enum_idents;
mod error_schemas;
mod missing_schemas;
mod model;
pub(crate) mod naming;
pub(crate) mod open_enums;
mod operation_ids;
pub(crate) mod operations;
pub(crate) mod pointer;
mod raw_body;
mod report;
mod required_properties;
mod responses;
mod schemas;
mod secret_tokens;
pub(crate) mod subset;
mod success_schemas;

#[cfg(test)]
mod official_spec_tests;

pub(crate) use enum_idents::VARNAMES;
use model::DOCUMENT;
pub use model::{Change, NormalizeError, Normalized, Skipped};

/// Rewrites `spec` into an equivalent document progenitor 0.15.1 accepts.
pub(crate) fn normalize(mut spec: Value) -> Result<Normalized, NormalizeError> {
    let version = spec
        .get("openapi")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if spec.is_object() && !version.starts_with("3.0") {
        return Err(NormalizeError::Invalid {
            operation: DOCUMENT.into(),
            pointer: "/openapi".into(),
            message: format!("\"openapi\" is {version:?}, expected 3.0.x"),
        });
    }
    if !spec.is_object() || !spec.get("paths").is_some_and(Value::is_object) {
        return Err(NormalizeError::Invalid {
            operation: DOCUMENT.into(),
            pointer: if spec.is_object() {
                "/paths".into()
            } else {
                String::new()
            },
            message: "expected an object with a `paths` object".into(),
        });
    }
    let mut changes = Vec::new();
    let mut skipped = Vec::new();
    let mut notes = Vec::new();
    operation_ids::apply(&mut spec, &mut changes);
    enum_idents::apply(&mut spec, &mut changes);
    missing_schemas::apply(&mut spec, &mut changes)?;
    body_media_types::apply(&mut spec, &mut changes)?;
    raw_body::apply(&mut spec, &mut changes)?;
    success_schemas::apply(&mut spec, &mut changes, &mut skipped)?;
    error_schemas::apply(&mut spec, &mut changes, &mut skipped)?;
    all_of::apply(&mut spec, &mut changes);
    required_properties::apply(&mut spec, &mut changes);
    secret_tokens::apply(&mut spec, &mut changes);
    open_enums::apply(&mut spec, &mut changes, &mut notes);
    validate(&spec)?;
    Ok(Normalized {
        spec,
        changes,
        skipped,
        notes,
    })
}

/// Checks that the output deserializes as `openapiv3::OpenAPI`, operation by
/// operation first so that an error names the operation.
fn validate(spec: &Value) -> Result<(), NormalizeError> {
    for op in operations::list(spec) {
        if let Some(v) = spec.pointer(&op.pointer)
            && let Err(e) = serde_json::from_value::<openapiv3::Operation>(v.clone())
        {
            return Err(NormalizeError::Invalid {
                operation: op.label(),
                pointer: op.pointer.clone(),
                message: e.to_string(),
            });
        }
    }
    if let Some(schemas) = spec
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        for (name, s) in schemas {
            if let Err(e) =
                serde_json::from_value::<openapiv3::ReferenceOr<openapiv3::Schema>>(s.clone())
            {
                return Err(NormalizeError::Invalid {
                    operation: DOCUMENT.into(),
                    pointer: pointer::join("/components/schemas", name),
                    message: e.to_string(),
                });
            }
        }
    }
    serde_json::from_value::<openapiv3::OpenAPI>(spec.clone())
        .map(|_| ())
        .map_err(|e| NormalizeError::Invalid {
            operation: DOCUMENT.into(),
            pointer: String::new(),
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(paths: Value) -> Value {
        json!({"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": paths})
    }

    #[test]
    fn untouched_document_is_identical() {
        let spec = doc(json!({"/x": {"get": {"operationId": "x", "responses": {
            "200": {"description": "ok", "content": {"application/json": {"schema": {"type": "string"}}}}}}}}));
        let out = normalize(spec.clone()).unwrap();
        assert!(out.changes.is_empty() && out.skipped.is_empty());
        assert_eq!(
            serde_json::to_string(&out.spec).unwrap(),
            serde_json::to_string(&spec).unwrap()
        );
    }

    #[test]
    fn errors_name_operation_and_pointer() {
        let spec = doc(json!({"/x": {"get": {"operationId": "x", "responses": {
            "200": {"$ref": "#/components/responses/missing"}}}}}));
        let e = normalize(spec).unwrap_err().to_string();
        assert_eq!(
            e,
            "operation x at /paths/~1x/get/responses/200: unresolvable $ref #/components/responses/missing"
        );
        let e = normalize(doc(
            json!({"/x": {"get": {"operationId": "x", "responses": {"200": {"descr": 1}}}}}),
        ))
        .unwrap_err();
        assert!(
            matches!(e, NormalizeError::Invalid { ref operation, ref pointer, .. }
            if operation == "x" && pointer == "/paths/~1x/get"),
            "{e}"
        );
        assert!(normalize(json!([])).is_err());
    }
}

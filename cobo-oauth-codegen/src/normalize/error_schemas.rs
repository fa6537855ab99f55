//! Rule: error responses (4xx, 5xx, `default`) with different JSON schemas,
//! e.g. an OAuth `4XX` body next to the usual `5XX` `ErrorResponse`.
//!
//! progenitor 0.15.1 asserts a single error type per operation. The schemas
//! are combined into one `oneOf` schema `{Op}ErrorResponse` under
//! `components/schemas` (inline ones hoisted under their response's name),
//! used by every error response; status codes are unchanged, so the HTTP
//! status stays available on the error value.

use serde_json::Value;

use super::{
    Change, NormalizeError, Skipped, operations,
    responses::{self, Status},
};

/// Rule name reported in [`Change::rule`].
pub const RULE: &str = "merge-error-schemas";

/// Applies the rule to every operation; operations that cannot be expressed
/// are removed and reported in `skipped`.
pub fn apply(
    spec: &mut Value,
    changes: &mut Vec<Change>,
    skipped: &mut Vec<Skipped>,
) -> Result<(), NormalizeError> {
    for op in operations::list(spec) {
        let resps = responses::classify(spec, &op)?;
        let err = responses::group(&resps, Status::is_error);
        if !responses::needs_merge(&err) {
            continue;
        }
        let members: Vec<responses::Resp> = err.iter().map(|r| (*r).clone()).collect();
        let base = format!("{}-error-response", op.label());
        if let Err(reason) = responses::merge(spec, &op, &members, &base, RULE, changes) {
            super::operations::skip(
                spec,
                &op,
                &super::pointer::join(&op.pointer, "responses"),
                reason,
                skipped,
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merges_oauth_and_standard_errors() {
        let oauth = json!({"type": "object", "required": ["error", "error_description"],
            "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}}});
        let mut spec = json!({"paths": {"/oauth/token": {
            "get": {"operationId": "get_token", "responses": {
                "2XX": {"description": "ok"},
                "4XX": {"$ref": "#/components/responses/oauthErrorResponse"},
                "5XX": {"$ref": "#/components/responses/internalServerError"}}},
            "post": {"operationId": "other", "responses": {
                "2XX": {"description": "ok"},
                "4XX": {"$ref": "#/components/responses/internalServerError"},
                "5XX": {"$ref": "#/components/responses/internalServerError"}}}}},
            "components": {
                "schemas": {"ErrorResponse": {"type": "object"}},
                "responses": {
                    "oauthErrorResponse": {"description": "oauth", "content": {"application/json": {"schema": oauth.clone()}}},
                    "internalServerError": {"description": "ise", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}}}});
        let before = spec.clone();
        let (mut changes, mut skipped) = (Vec::new(), Vec::new());
        apply(&mut spec, &mut changes, &mut skipped).unwrap();
        assert!(skipped.is_empty());
        let s = &spec["components"]["schemas"];
        assert_eq!(s["OauthErrorResponse"], oauth);
        assert_eq!(
            s["GetTokenErrorResponse"]["oneOf"],
            json!([
            {"$ref": "#/components/schemas/OauthErrorResponse"},
            {"$ref": "#/components/schemas/ErrorResponse"}])
        );
        let r = &spec["paths"]["/oauth/token"]["get"]["responses"];
        let combined = json!({"$ref": "#/components/schemas/GetTokenErrorResponse"});
        assert_eq!(
            r["4XX"],
            json!({"description": "oauth", "content": {"application/json": {"schema": combined}}})
        );
        assert_eq!(
            r["5XX"],
            json!({"description": "ise", "content": {"application/json": {"schema": combined}}})
        );
        assert_eq!(r["2XX"], json!({"description": "ok"}));
        // untouched operation and shared response components are byte-identical
        assert_eq!(
            serde_json::to_string(&spec["paths"]["/oauth/token"]["post"]).unwrap(),
            serde_json::to_string(&before["paths"]["/oauth/token"]["post"]).unwrap()
        );
        assert_eq!(
            spec["components"]["responses"],
            before["components"]["responses"]
        );
        let rules: Vec<_> = changes
            .iter()
            .map(|c| (c.pointer.as_str(), c.operation.as_deref()))
            .collect();
        assert_eq!(
            rules,
            vec![
                ("/components/schemas/OauthErrorResponse", Some("get_token")),
                (
                    "/components/schemas/GetTokenErrorResponse",
                    Some("get_token")
                ),
                ("/paths/~1oauth~1token/get/responses", Some("get_token")),
            ]
        );
    }
}

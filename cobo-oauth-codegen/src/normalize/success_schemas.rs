//! Rule: success responses (2xx, 101, `default`) with different JSON schemas.
//!
//! progenitor 0.15.1 asserts a single success type per operation. The
//! schemas are combined into one `oneOf` schema under `components/schemas`
//! (`{Op}SuccessResponse`) used by every success response; status codes are
//! unchanged. When a `default` response belongs to both the success and the
//! error group and either needs merging, both groups share one combined
//! schema (`{Op}ResponseBody`), since `default` can have only one type.

use serde_json::Value;

use super::{
    Change, NormalizeError, Skipped, operations,
    responses::{self, Status},
};

/// Rule name reported in [`Change::rule`].
pub const RULE: &str = "merge-success-schemas";

/// Applies the rule to every operation; operations that cannot be expressed
/// are removed and reported in `skipped`.
pub fn apply(
    spec: &mut Value,
    changes: &mut Vec<Change>,
    skipped: &mut Vec<Skipped>,
) -> Result<(), NormalizeError> {
    for op in operations::list(spec) {
        let resps = responses::classify(spec, &op)?;
        let succ = responses::group(&resps, Status::is_success);
        let err = responses::group(&resps, Status::is_error);
        let has_default = |g: &[&responses::Resp]| g.iter().any(|r| r.status == Status::Default);
        let (members, base) = if has_default(&succ)
            && has_default(&err)
            && (responses::needs_merge(&succ) || responses::needs_merge(&err))
        {
            let mut all: Vec<responses::Resp> = succ.iter().map(|r| (*r).clone()).collect();
            all.extend(
                err.iter()
                    .filter(|r| r.status != Status::Default)
                    .map(|r| (*r).clone()),
            );
            (all, format!("{}-response-body", op.label()))
        } else if responses::needs_merge(&succ) {
            (
                succ.iter().map(|r| (*r).clone()).collect(),
                format!("{}-success-response", op.label()),
            )
        } else {
            continue;
        };
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

    fn body(schema: Value) -> Value {
        json!({"description": "d", "content": {"application/json": {"schema": schema}}})
    }

    #[test]
    fn merges_two_success_schemas() {
        let mut spec = json!({"paths": {"/x": {
            "get": {"operationId": "two_ok", "responses": {
                "200": body(json!({"$ref": "#/components/schemas/A"})),
                "201": body(json!({"type": "object", "properties": {"b": {"type": "string"}}}))}},
            "put": {"operationId": "fine", "responses": {"200": body(json!({"$ref": "#/components/schemas/A"}))}}}},
            "components": {"schemas": {"A": {"type": "object"}}}});
        let before = spec.clone();
        let (mut changes, mut skipped) = (Vec::new(), Vec::new());
        apply(&mut spec, &mut changes, &mut skipped).unwrap();
        assert!(skipped.is_empty());
        let schemas = &spec["components"]["schemas"];
        assert_eq!(
            schemas["TwoOk201Body"],
            json!({"type": "object", "properties": {"b": {"type": "string"}}})
        );
        assert_eq!(
            schemas["TwoOkSuccessResponse"]["oneOf"],
            json!([
            {"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/TwoOk201Body"}])
        );
        let r = &spec["paths"]["/x"]["get"]["responses"];
        assert_eq!(
            r["200"],
            body(json!({"$ref": "#/components/schemas/TwoOkSuccessResponse"}))
        );
        assert_eq!(
            r["201"],
            body(json!({"$ref": "#/components/schemas/TwoOkSuccessResponse"}))
        );
        assert_eq!(spec["paths"]["/x"]["put"], before["paths"]["/x"]["put"]);
        assert_eq!(changes.len(), 3);
        assert_eq!(changes[2].pointer, "/paths/~1x/get/responses");
        assert_eq!(changes[2].operation.as_deref(), Some("two_ok"));
    }

    #[test]
    fn shared_default_gets_one_schema_and_mixed_kinds_are_skipped() {
        let mut spec = json!({"paths": {"/x": {
            "get": {"operationId": "dflt", "responses": {
                "200": body(json!({"$ref": "#/components/schemas/A"})),
                "400": body(json!({"$ref": "#/components/schemas/B"})),
                "default": body(json!({"$ref": "#/components/schemas/E"}))}},
            "post": {"operationId": "mixed", "responses": {
                "200": body(json!({"$ref": "#/components/schemas/A"})),
                "204": {"description": "empty"}}}}}});
        let (mut changes, mut skipped) = (Vec::new(), Vec::new());
        apply(&mut spec, &mut changes, &mut skipped).unwrap();
        assert_eq!(
            spec["components"]["schemas"]["DfltResponseBody"]["oneOf"],
            json!([
            {"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/E"},
            {"$ref": "#/components/schemas/B"}])
        );
        let r = &spec["paths"]["/x"]["get"]["responses"];
        for k in ["200", "400", "default"] {
            assert_eq!(
                r[k]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/DfltResponseBody"
            );
        }
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].operation, "mixed");
        assert_eq!(skipped[0].pointer, "/paths/~1x/post/responses");
        assert!(spec["paths"]["/x"].get("post").is_none());
    }
}

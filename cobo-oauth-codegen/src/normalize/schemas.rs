//! Finds every schema object in a document (components and operations),
//! including nested subschemas.

use serde_json::Value;

use super::{operations, pointer::join};

/// One schema location: its JSON pointer and the operation that owns it
/// (`None` for schemas under `components`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaLoc {
    /// JSON pointer of the schema object.
    pub pointer: String,
    /// `operationId` of the operation containing it, if any.
    pub operation: Option<String>,
}

/// Lists all schema objects in pre-order (a parent before its subschemas).
pub fn list(spec: &Value) -> Vec<SchemaLoc> {
    let mut out = Vec::new();
    let mut roots: Vec<(String, Option<String>)> = Vec::new();
    if let Some(c) = spec.get("components") {
        let each = |key: &str| -> Vec<(String, &Value)> {
            c.get(key)
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (join(&join("/components", key), k), v))
                        .collect()
                })
                .unwrap_or_default()
        };
        for (p, _) in each("schemas") {
            roots.push((p, None));
        }
        for (p, v) in each("parameters").into_iter().chain(each("headers")) {
            holder_roots(v, &p, &None, &mut roots);
        }
        for (p, v) in each("requestBodies") {
            content_roots(v, &p, &None, &mut roots);
        }
        for (p, v) in each("responses") {
            response_roots(v, &p, &None, &mut roots);
        }
    }
    if let Some(paths) = spec.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            let ip = join("/paths", path);
            list_params(item, &ip, &None, &mut roots);
        }
    }
    for op in operations::list(spec) {
        let Some(v) = spec.pointer(&op.pointer) else {
            continue;
        };
        let id = op.operation_id.clone();
        list_params(v, &op.pointer, &id, &mut roots);
        if let Some(rb) = v.get("requestBody") {
            content_roots(rb, &join(&op.pointer, "requestBody"), &id, &mut roots);
        }
        if let Some(rs) = v.get("responses").and_then(Value::as_object) {
            for (code, r) in rs {
                response_roots(
                    r,
                    &join(&join(&op.pointer, "responses"), code),
                    &id,
                    &mut roots,
                );
            }
        }
    }
    for (p, op) in roots {
        if let Some(v) = spec.pointer(&p) {
            nested(v, &p, &op, &mut out);
        }
    }
    out
}

fn list_params(
    holder: &Value,
    p: &str,
    op: &Option<String>,
    roots: &mut Vec<(String, Option<String>)>,
) {
    if let Some(ps) = holder.get("parameters").and_then(Value::as_array) {
        for (i, prm) in ps.iter().enumerate() {
            holder_roots(
                prm,
                &join(&join(p, "parameters"), &i.to_string()),
                op,
                roots,
            );
        }
    }
}

/// A parameter or header: `schema` or `content`.
fn holder_roots(
    v: &Value,
    p: &str,
    op: &Option<String>,
    roots: &mut Vec<(String, Option<String>)>,
) {
    if v.get("schema").is_some() {
        roots.push((join(p, "schema"), op.clone()));
    }
    content_roots(v, p, op, roots);
}

fn content_roots(
    v: &Value,
    p: &str,
    op: &Option<String>,
    roots: &mut Vec<(String, Option<String>)>,
) {
    if let Some(c) = v.get("content").and_then(Value::as_object) {
        for (mt, m) in c {
            if m.get("schema").is_some() {
                roots.push((join(&join(&join(p, "content"), mt), "schema"), op.clone()));
            }
        }
    }
}

fn response_roots(
    v: &Value,
    p: &str,
    op: &Option<String>,
    roots: &mut Vec<(String, Option<String>)>,
) {
    content_roots(v, p, op, roots);
    if let Some(h) = v.get("headers").and_then(Value::as_object) {
        for (name, hv) in h {
            holder_roots(hv, &join(&join(p, "headers"), name), op, roots);
        }
    }
}

fn nested(v: &Value, p: &str, op: &Option<String>, out: &mut Vec<SchemaLoc>) {
    if !v.is_object() {
        return;
    }
    out.push(SchemaLoc {
        pointer: p.to_string(),
        operation: op.clone(),
    });
    if let Some(props) = v.get("properties").and_then(Value::as_object) {
        for (k, s) in props {
            nested(s, &join(&join(p, "properties"), k), op, out);
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(s) = v.get(key) {
            nested(s, &join(p, key), op, out);
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(arr) = v.get(key).and_then(Value::as_array) {
            for (i, s) in arr.iter().enumerate() {
                nested(s, &join(&join(p, key), &i.to_string()), op, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_nested_and_operation_schemas() {
        let spec = json!({
            "paths": {"/x": {"get": {"operationId": "op",
                "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "", "content": {"application/json": {
                    "schema": {"type": "array", "items": {"type": "string"}}}}}}}}},
            "components": {"schemas": {"A": {"properties": {"enum": {"type": "string"}}}}}
        });
        let found: Vec<_> = list(&spec)
            .into_iter()
            .map(|l| (l.pointer, l.operation))
            .collect();
        assert_eq!(
            found,
            vec![
                ("/components/schemas/A".into(), None),
                ("/components/schemas/A/properties/enum".into(), None),
                (
                    "/paths/~1x/get/parameters/0/schema".into(),
                    Some("op".into())
                ),
                (
                    "/paths/~1x/get/responses/200/content/application~1json/schema".into(),
                    Some("op".into())
                ),
                (
                    "/paths/~1x/get/responses/200/content/application~1json/schema/items".into(),
                    Some("op".into())
                ),
            ]
        );
    }
}

//! Cuts a document down to some operations and the components they reference.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::pointer;

/// A document holding only the operations whose `operationId` is in `ids`
/// (with their path-level parameters) and the components they reference.
#[cfg(test)]
pub fn only_operations(spec: &Value, ids: &[&str]) -> Value {
    let mut paths = Map::new();
    for op in super::operations::list(spec) {
        if !op
            .operation_id
            .as_deref()
            .is_some_and(|id| ids.contains(&id))
        {
            continue;
        }
        let item = paths.entry(op.path.clone()).or_insert_with(|| json!({}));
        if let Some(params) = spec
            .pointer(&pointer::join("/paths", &op.path))
            .and_then(|i| i.get("parameters"))
        {
            item["parameters"] = params.clone();
        }
        item[op.method.as_str()] = spec.pointer(&op.pointer).cloned().unwrap_or(Value::Null);
    }
    let paths = Value::Object(paths);
    let refs = closure(spec, &paths);
    let mut out = subset(spec, paths, &refs);
    for key in ["servers", "security", "tags"] {
        if let Some(v) = spec.get(key) {
            out[key] = v.clone();
        }
    }
    if let Some(s) = spec.pointer("/components/securitySchemes") {
        out["components"]["securitySchemes"] = s.clone();
    }
    out
}

/// JSON pointers of all components reachable through `$ref`s from `root`.
pub fn closure(spec: &Value, root: &Value) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![root];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(m) => {
                if let Some(p) = m
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(pointer::ref_to_pointer)
                    && found.insert(p.to_string())
                    && let Some(target) = spec.pointer(p)
                {
                    stack.push(target);
                }
                stack.extend(m.values());
            }
            Value::Array(a) => stack.extend(a.iter()),
            _ => {}
        }
    }
    found
}

/// A document with `paths` and only the components listed in `refs`.
pub fn subset(spec: &Value, paths: Value, refs: &BTreeSet<String>) -> Value {
    let mut components = Map::new();
    for p in refs {
        let mut parts = p.trim_start_matches('/').splitn(3, '/');
        let (Some("components"), Some(kind), Some(name)) =
            (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let Some(v) = spec.pointer(p) else { continue };
        let name = name.replace("~1", "/").replace("~0", "~");
        let entry = components
            .entry(kind.to_string())
            .or_insert_with(|| json!({}));
        entry[name] = v.clone();
    }
    json!({
        "openapi": spec.get("openapi").cloned().unwrap_or(json!("3.0.3")),
        "info": spec.get("info").cloned().unwrap_or(json!({"title": "", "version": ""})),
        "paths": paths,
        "components": components,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_referenced_components() {
        let spec = json!({"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
            "paths": {"/a": {"get": {"operationId": "a", "responses": {"200": {"$ref": "#/components/responses/R"}}},
                              "post": {"operationId": "b", "responses": {}}},
                      "/c": {"get": {"operationId": "c", "responses": {}}}},
            "components": {"responses": {"R": {"description": "", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/A"}}}}},
                "schemas": {"A": {"properties": {"b": {"$ref": "#/components/schemas/B"}}}, "B": {}, "Unused": {}}}});
        let out = only_operations(&spec, &["a"]);
        assert_eq!(
            out["paths"],
            json!({"/a": {"get": spec["paths"]["/a"]["get"]}})
        );
        let names: Vec<&String> = out["components"]["schemas"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(names, ["A", "B"]);
        assert!(out["components"]["responses"].get("R").is_some());
    }
}

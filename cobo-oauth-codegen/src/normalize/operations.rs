//! Enumerates the operations of a document.

use serde_json::Value;

use super::model::{NormalizeError, Skipped};
use super::pointer;

/// HTTP methods that may key an operation inside a path item.
pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Location of one operation in the document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpRef {
    /// Path template, e.g. `/oauth/token`.
    pub path: String,
    /// Lower-case HTTP method.
    pub method: String,
    /// JSON pointer of the operation object, e.g. `/paths/~1oauth~1token/get`.
    pub pointer: String,
    /// The operation's `operationId`, if any.
    pub operation_id: Option<String>,
}

/// Lists every operation in document order.
pub fn list(spec: &Value) -> Vec<OpRef> {
    let Some(paths) = spec.get("paths").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            out.push(OpRef {
                path: path.clone(),
                method: method.clone(),
                pointer: pointer::join(&pointer::join("/paths", path), method),
                operation_id: op
                    .get("operationId")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            });
        }
    }
    out
}

/// An operation's request body, resolved through `$ref`s.
pub struct RequestBody {
    /// The operation.
    pub op: OpRef,
    /// JSON pointer of its `requestBody`.
    pub pointer: String,
    /// The resolved body object.
    pub body: Value,
}

impl RequestBody {
    /// The body's `content` map, if it has one.
    pub fn content(&self) -> Option<&serde_json::Map<String, Value>> {
        self.body.get("content").and_then(Value::as_object)
    }
}

/// Every operation's request body, in document order.
pub fn request_bodies(spec: &Value) -> Result<Vec<RequestBody>, NormalizeError> {
    let mut out = Vec::new();
    for op in list(spec) {
        let at = pointer::join(&op.pointer, "requestBody");
        let Some(raw) = spec.pointer(&at) else {
            continue;
        };
        let body = resolve(spec, raw, &op, &at)?.clone();
        out.push(RequestBody {
            op,
            pointer: at,
            body,
        });
    }
    Ok(out)
}

impl OpRef {
    /// The operation id, or `METHOD path` when it has none.
    pub fn label(&self) -> String {
        self.operation_id
            .clone()
            .unwrap_or_else(|| format!("{} {}", self.method.to_uppercase(), self.path))
    }
}

/// Resolves `value` (found at `at`, inside `op`) through local `$ref`s.
pub fn resolve<'a>(
    spec: &'a Value,
    value: &'a Value,
    op: &OpRef,
    at: &str,
) -> Result<&'a Value, NormalizeError> {
    pointer::deref(spec, value)
        .map(|(v, _)| v)
        .map_err(|reference| NormalizeError::UnresolvedRef {
            operation: op.label(),
            pointer: at.into(),
            reference,
        })
}

/// Removes `op` from the document and records why.
pub fn skip(spec: &mut Value, op: &OpRef, at: &str, reason: String, skipped: &mut Vec<Skipped>) {
    if let Some(item) = spec
        .pointer_mut(&pointer::join("/paths", &op.path))
        .and_then(Value::as_object_mut)
    {
        item.remove(&op.method);
    }
    skipped.push(Skipped {
        operation: op.label(),
        pointer: at.into(),
        reason,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_operations_skipping_path_parameters() {
        let spec = json!({"paths": {"/a/{id}": {
            "parameters": [], "get": {"operationId": "g"}, "post": {}}}});
        let ops = list(&spec);
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].pointer, "/paths/~1a~1{id}/get");
        assert_eq!(ops[0].operation_id.as_deref(), Some("g"));
        assert_eq!(ops[1].label(), "POST /a/{id}");
    }
}

//! Rule: operations without an `operationId`, or sharing one.
//!
//! progenitor 0.15.1 rejects both. A missing id becomes `{method}_{path}` in
//! snake case; a repeated id gets a numeric suffix (`_2`, `_3`, ...).

use std::collections::HashSet;

use heck::ToSnakeCase;
use serde_json::{Value, json};

use super::model::Change;
use super::operations;

/// Rule name reported in [`Change::rule`].
pub const RULE: &str = "operation-ids";

/// Applies the rule to every operation.
pub fn apply(spec: &mut Value, changes: &mut Vec<Change>) {
    let ops = operations::list(spec);
    let mut used: HashSet<String> = HashSet::new();
    let mut fixes = Vec::new();
    for op in &ops {
        match &op.operation_id {
            Some(id) if used.insert(id.clone()) => {}
            other => fixes.push((op, other.clone())),
        }
    }
    for (op, old) in fixes {
        let base = old
            .clone()
            .unwrap_or_else(|| format!("{}_{}", op.method, op.path).to_snake_case());
        let id = std::iter::once(base.clone())
            .chain((2..).map(|n| format!("{base}_{n}")))
            .find(|c| !used.contains(c))
            .unwrap_or(base);
        used.insert(id.clone());
        if let Some(o) = spec.pointer_mut(&op.pointer).and_then(Value::as_object_mut) {
            o.insert("operationId".into(), json!(id));
        }
        changes.push(Change {
            pointer: format!("{}/operationId", op.pointer),
            operation: Some(id.clone()),
            rule: RULE,
            detail: match old {
                Some(old) => format!("duplicate operationId {old} renamed {id}"),
                None => format!("missing operationId set to {id}"),
            },
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_and_dedupes() {
        let mut spec = json!({"paths": {"/a/{id}": {
            "get": {"responses": {}}, "post": {"operationId": "x"}, "put": {"operationId": "x"}}}});
        let before = spec.clone();
        let mut changes = Vec::new();
        apply(&mut spec, &mut changes);
        let item = &spec["paths"]["/a/{id}"];
        assert_eq!(item["get"]["operationId"], "get_a_id");
        assert_eq!(item["put"]["operationId"], "x_2");
        assert_eq!(item["post"], before["paths"]["/a/{id}"]["post"]);
        assert_eq!(changes.len(), 2);
    }
}

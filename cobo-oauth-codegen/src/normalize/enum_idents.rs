//! Rule: string enums whose values do not yield distinct Rust identifiers.
//!
//! typify 0.8 panics ("Failed to make unique variant names") when two enum
//! values sanitise to the same identifier (e.g. `>`, `>=`, `<` all become
//! `X`). Duplicated values are simply removed (same set of accepted values);
//! otherwise the enum is replaced by an anchored `pattern` accepting exactly
//! the same strings, and the original list is kept in `x-original-enum`.

use serde_json::{Value, json};
use unicode_ident::is_xid_continue;

use super::model::Change;
use super::{naming::pascal, schemas};

/// Rule name reported in [`Change::rule`].
pub const RULE: &str = "enum-non-identifier-values";

/// Applies the rule to every schema in the document.
pub fn apply(spec: &mut Value, changes: &mut Vec<Change>) {
    for loc in schemas::list(spec) {
        let Some(schema) = spec.pointer_mut(&loc.pointer) else {
            continue;
        };
        if let Some(detail) = rewrite(schema) {
            changes.push(Change {
                pointer: loc.pointer,
                operation: loc.operation,
                rule: RULE,
                detail,
            });
        }
    }
}

/// typify's two naming attempts; `true` if either gives distinct identifiers.
fn typify_names_unique(values: &[&str]) -> bool {
    let distinct = |names: Vec<String>| {
        let mut seen = std::collections::HashSet::new();
        names.into_iter().all(|n| seen.insert(n))
    };
    distinct(values.iter().map(|v| pascal(v)).collect())
        || distinct(
            values
                .iter()
                .map(|v| pascal(&v.replace(|c: char| c == '_' || !is_xid_continue(c), "X")))
                .collect(),
        )
}

/// Escapes ECMAScript regex syntax characters (valid in regress' unicode mode).
fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\^$.|?*+()[]{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Rewrites one schema object in place; returns a description if it changed.
fn rewrite(schema: &mut Value) -> Option<String> {
    let obj = schema.as_object_mut()?;
    if obj.get("type").is_some_and(|t| t != "string") {
        return None;
    }
    let original = obj.get("enum")?.as_array()?.clone();
    let mut values: Vec<&str> = Vec::new();
    let mut has_null = false;
    for v in &original {
        match v {
            Value::String(s) => values.push(s),
            Value::Null => has_null = true,
            _ => return None,
        }
    }
    let mut deduped: Vec<&str> = Vec::new();
    for v in &values {
        if !deduped.contains(v) {
            deduped.push(v);
        }
    }
    if deduped.len() == values.len() && typify_names_unique(&values) {
        return None;
    }
    if typify_names_unique(&deduped) {
        let mut new_enum: Vec<Value> = deduped.iter().map(|s| json!(s)).collect();
        if has_null {
            new_enum.push(Value::Null);
        }
        obj.insert("enum".into(), Value::Array(new_enum));
        return Some(format!(
            "removed duplicate enum values from {}",
            Value::Array(original)
        ));
    }
    let pattern = format!(
        "^(?:{})$",
        deduped
            .iter()
            .map(|v| regex_escape(v))
            .collect::<Vec<_>>()
            .join("|")
    );
    let idents: Vec<String> = deduped.iter().map(|v| pascal(v)).collect();
    obj.remove("enum");
    obj.entry("type").or_insert(json!("string"));
    if let Some(old) = obj.remove("pattern") {
        obj.insert("x-original-pattern".into(), old);
    }
    obj.insert("pattern".into(), json!(pattern));
    if has_null {
        obj.insert("nullable".into(), json!(true));
    }
    obj.insert("x-original-enum".into(), Value::Array(original.clone()));
    Some(format!(
        "enum {} gives non-unique Rust variants {:?}; replaced by pattern {} (values kept in x-original-enum)",
        Value::Array(original),
        idents,
        pattern
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(op_enum: Value) -> Value {
        json!({
            "paths": {"/x": {"get": {"operationId": "x", "parameters": [
                {"name": "op", "in": "query", "schema": {"type": "string", "enum": op_enum}}],
                "responses": {"200": {"description": "ok"}}}}},
            "components": {"schemas": {
                "Op": {"type": "string", "enum": [">", ">=", "<", "<=", "="], "description": "d"},
                "Fine": {"type": "string", "enum": ["a", "b_c"]}}}
        })
    }

    #[test]
    fn replaces_colliding_enum_with_pattern() {
        let mut s = spec(json!(["asc", "desc"]));
        let before = s.clone();
        let mut changes = Vec::new();
        apply(&mut s, &mut changes);
        assert_eq!(
            s["components"]["schemas"]["Op"],
            json!({"type": "string", "description": "d",
                "pattern": "^(?:>|>=|<|<=|=)$",
                "x-original-enum": [">", ">=", "<", "<=", "="]})
        );
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].pointer, "/components/schemas/Op");
        assert_eq!(changes[0].operation, None);
        // untouched parts are identical
        assert_eq!(s["paths"], before["paths"]);
        assert_eq!(
            s["components"]["schemas"]["Fine"],
            before["components"]["schemas"]["Fine"]
        );
    }

    #[test]
    fn dedupes_and_escapes_inline_enums() {
        let mut s = spec(json!(["a", "a", null]));
        let mut changes = Vec::new();
        apply(&mut s, &mut changes);
        let p = "/paths/~1x/get/parameters/0/schema";
        assert_eq!(s.pointer(p).unwrap()["enum"], json!(["a", null]));
        assert_eq!(changes[1].pointer, p);
        assert_eq!(changes[1].operation.as_deref(), Some("x"));

        let mut s = spec(json!(["a.b", "a*b"]));
        apply(&mut s, &mut Vec::new());
        assert_eq!(s.pointer(p).unwrap()["pattern"], json!("^(?:a\\.b|a\\*b)$"));
    }

    #[test]
    fn second_naming_attempt_is_respected() {
        // "_a" and "a" both give "A", but typify's X-substitution separates them.
        assert!(typify_names_unique(&["_a", "a"]));
        assert!(!typify_names_unique(&[">", "<"]));
    }
}

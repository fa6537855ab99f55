//! Rule `enum-identifiers`: string enums whose values do not make distinct Rust identifiers.
//!
//! typify names enum variants after their values and panics when two names collide
//! (`Failed to make unique variant names for [>,>=,<,<=,=]`, Cobo's `PolicyFieldOperator`). There
//! is no way to name the variants in the spec, so the rule turns such an enum into a plain
//! string: the allowed values go into the description and into `x-cobo-enum`, so nothing is lost
//! from the spec, and the wire format is the same.

use std::collections::HashSet;

use heck::ToPascalCase as _;
use serde_json::Value;

use super::Change;

const RULE: &str = "enum-identifiers";

/// typify's identifier for a value (`typify_impl::util::sanitize`, Pascal case).
fn sanitize(value: &str) -> String {
    let cleaned: String = value
        .replace('\'', "")
        .chars()
        .map(|c| {
            if unicode_ident::is_xid_continue(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let out = match value {
        "+1" => "plus1".to_pascal_case(),
        "-1" => "minus1".to_pascal_case(),
        _ => cleaned.to_pascal_case(),
    };
    match out.chars().next() {
        None => "X".to_owned(),
        Some(c) if unicode_ident::is_xid_start(c) => out,
        Some(_) => format!("X{out}"),
    }
}

fn unique(names: impl Iterator<Item = String>) -> bool {
    let mut seen = HashSet::new();
    names.into_iter().all(|name| seen.insert(name))
}

/// Whether typify can name the variants of an enum with these values.
pub fn nameable(values: &[&str]) -> bool {
    unique(values.iter().map(|v| sanitize(v)))
        || unique(values.iter().map(|v| {
            sanitize(&v.replace(
                |c: char| c == '_' || !unicode_ident::is_xid_continue(c),
                "X",
            ))
        }))
}

/// Applies the rule everywhere in the document.
pub fn apply(spec: &mut Value, changes: &mut Vec<Change>) {
    walk(spec, &mut String::new(), changes);
}

fn walk(value: &mut Value, at: &mut String, changes: &mut Vec<Change>) {
    match value {
        Value::Object(object) => {
            let values: Option<Vec<String>> = object
                .get("enum")
                .and_then(Value::as_array)
                .and_then(|values| {
                    values
                        .iter()
                        .map(|v| v.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                });
            if let Some(values) = values {
                let refs: Vec<&str> = values.iter().map(String::as_str).collect();
                if !refs.is_empty() && !nameable(&refs) {
                    let listed = refs
                        .iter()
                        .map(|v| format!("`{v}`"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let description = object
                        .get("description")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let description = format!(
                        "{}{}Allowed values: {listed}.",
                        description.trim_end(),
                        if description.is_empty() { "" } else { "\n\n" }
                    );
                    object.insert("description".to_owned(), Value::String(description));
                    let original = object.remove("enum").unwrap_or_default();
                    object.insert("x-cobo-enum".to_owned(), original);
                    changes.push(Change {
                        pointer: at.clone(),
                        operation: None,
                        rule: RULE,
                        detail: format!(
                            "enum [{}] has no distinct variant names: now a string listing them",
                            refs.join(", ")
                        ),
                    });
                }
            }
            for (key, child) in object.iter_mut() {
                let len = at.len();
                at.push('/');
                at.push_str(&key.replace('~', "~0").replace('/', "~1"));
                walk(child, at, changes);
                at.truncate(len);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter_mut().enumerate() {
                let len = at.len();
                at.push_str(&format!("/{index}"));
                walk(child, at, changes);
                at.truncate(len);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn knows_which_values_typify_can_name() {
        assert!(nameable(&["Custodial", "MPC", "SmartContract"]));
        assert!(nameable(&["a-b", "a_b2"]));
        assert!(!nameable(&[">", ">=", "<", "<=", "="]));
    }

    #[test]
    fn rewrites_only_enums_without_names() {
        let mut spec = json!({"components": {"schemas": {
            "Op": {"type": "string", "description": "Operator.", "enum": [">", ">=", "="]},
            "Kind": {"type": "string", "enum": ["A", "B"]}
        }}});
        let kind = spec["components"]["schemas"]["Kind"].clone();
        let mut changes = Vec::new();
        apply(&mut spec, &mut changes);
        let op = &spec["components"]["schemas"]["Op"];
        assert_eq!(op.get("enum"), None);
        assert_eq!(op["x-cobo-enum"], json!([">", ">=", "="]));
        assert_eq!(
            op["description"],
            "Operator.\n\nAllowed values: `>`, `>=`, `=`."
        );
        assert_eq!(spec["components"]["schemas"]["Kind"], kind);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].pointer, "/components/schemas/Op");
    }
}

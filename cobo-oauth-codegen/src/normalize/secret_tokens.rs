//! Rule: the token properties of the OAuth schemas are marked secret.
//!
//! Not a shape progenitor cannot take, but a type it should not give: `access_token` and
//! `refresh_token` strings would be plain `String`s, copied and dropped without being wiped. The
//! rule adds `x-cobo-secret: true` to every object property of those names whose schema is an
//! inline `type: string`; the generator settings turn such strings into `SecretText`, which
//! redacts `Debug` and zeroizes its memory on drop.

use serde_json::{Map, Value};

use super::model::Change;
use super::pointer;

/// Rule name reported in [`Change::rule`].
pub const RULE: &str = "secret-token-strings";

/// The extension that marks a string schema secret.
pub const EXTENSION: &str = "x-cobo-secret";

/// Property names whose string values are secrets.
pub const SECRET_PROPERTIES: [&str; 2] = ["access_token", "refresh_token"];

/// Applies the rule to the whole document.
pub fn apply(spec: &mut Value, changes: &mut Vec<Change>) {
    mark(spec, "", changes);
}

/// Marks the secret properties of every object below `value` (found at `at`).
fn mark(value: &mut Value, at: &str, changes: &mut Vec<Change>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::Object(properties)) = object.get_mut("properties") {
                let base = pointer::join(at, "properties");
                mark_properties(properties, &base, changes);
            }
            for (key, child) in object.iter_mut() {
                mark(child, &pointer::join(at, key), changes);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                mark(item, &pointer::join(at, &index.to_string()), changes);
            }
        }
        _ => {}
    }
}

fn mark_properties(properties: &mut Map<String, Value>, at: &str, changes: &mut Vec<Change>) {
    for name in SECRET_PROPERTIES {
        let Some(Value::Object(schema)) = properties.get_mut(name) else {
            continue;
        };
        let is_string = schema.get("type").and_then(Value::as_str) == Some("string");
        if !is_string || schema.contains_key(EXTENSION) || schema.contains_key("enum") {
            continue;
        }
        schema.insert(EXTENSION.to_owned(), Value::Bool(true));
        changes.push(Change {
            pointer: pointer::join(at, name),
            operation: None,
            rule: RULE,
            detail: format!("`{name}` is a secret: generated as SecretText (zeroized, redacted)"),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn marks_inline_token_strings_only() {
        let mut spec = json!({"components": {"schemas": {
            "T": {"type": "object", "properties": {
                "refresh_token": {"type": "string", "description": "d"},
                "access_token": {"$ref": "#/components/schemas/S"},
                "token_type": {"type": "string"}
            }}
        }}});
        let mut changes = Vec::new();
        apply(&mut spec, &mut changes);
        let properties = &spec["components"]["schemas"]["T"]["properties"];
        assert_eq!(properties["refresh_token"][EXTENSION], true);
        assert!(properties["access_token"].get(EXTENSION).is_none());
        assert!(properties["token_type"].get(EXTENSION).is_none());
        assert_eq!(changes.len(), 1);
        assert_eq!(
            changes[0].pointer,
            "/components/schemas/T/properties/refresh_token"
        );
        apply(&mut spec, &mut changes);
        assert_eq!(changes.len(), 1, "idempotent");
    }
}

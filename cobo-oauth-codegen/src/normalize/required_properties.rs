//! Rule: an object schema whose `required` names a property it does not define.
//!
//! Cobo's spec has a few: `WebhookEvent` requires `id` while its property is `event_id`,
//! `Transaction` requires `transaction_type` while its property is `type`, `TransferParams`
//! requires `request_type`, which it does not define. typify turns such a name into a required
//! field of type `serde_json::Value`, so a real event or transaction (which has no such field)
//! fails to deserialize, and a request cannot be built without inventing a value. The name is
//! removed from `required` and reported; the properties themselves are untouched.
//!
//! Only schemas that define their own `properties` and no `allOf`/`anyOf`/`oneOf` are
//! rewritten, and a name that a sibling defines in an `allOf` the schema belongs to (by `$ref`
//! or inline) stays: there it is meaningful.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::model::Change;
use super::{pointer, schemas};

/// Rule name reported in [`Change::rule`].
pub const RULE: &str = "required-without-property";

/// Applies the rule to every schema of the document.
pub fn apply(spec: &mut Value, changes: &mut Vec<Change>) {
    let siblings = defined_by_siblings(spec);
    for location in schemas::list(spec) {
        let context = siblings.get(&location.pointer);
        let Some(schema) = spec
            .pointer_mut(&location.pointer)
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        if ["allOf", "anyOf", "oneOf"]
            .iter()
            .any(|key| schema.contains_key(*key))
        {
            continue;
        }
        let Some(defined) = schema.get("properties").and_then(Value::as_object) else {
            continue;
        };
        let defined: BTreeSet<String> = defined
            .keys()
            .cloned()
            .chain(context.into_iter().flatten().cloned())
            .collect();
        let Some(required) = schema.get_mut("required").and_then(Value::as_array_mut) else {
            continue;
        };
        let undefined: Vec<String> = required
            .iter()
            .filter_map(Value::as_str)
            .filter(|name| !defined.contains(*name))
            .map(str::to_owned)
            .collect();
        if undefined.is_empty() {
            continue;
        }
        required.retain(|name| name.as_str().is_none_or(|name| defined.contains(name)));
        changes.push(Change {
            pointer: pointer::join(&location.pointer, "required"),
            operation: location.operation.clone(),
            rule: RULE,
            detail: format!(
                "required names no property of the schema ({}): removed from required",
                undefined.join(", ")
            ),
        });
    }
}

/// For each schema that is a member of an `allOf` (a component listed by `$ref`, or an inline
/// member by its pointer), the property names its siblings there define.
fn defined_by_siblings(spec: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![(String::new(), spec)];
    while let Some((at, value)) = stack.pop() {
        match value {
            Value::Object(object) => {
                if let Some(Value::Array(members)) = object.get("allOf") {
                    let all_of = pointer::join(&at, "allOf");
                    let names: Vec<(String, BTreeSet<String>)> = members
                        .iter()
                        .enumerate()
                        .map(|(index, member)| {
                            let place = pointer::as_ref(member)
                                .and_then(pointer::ref_to_pointer)
                                .map(str::to_owned)
                                .unwrap_or_else(|| pointer::join(&all_of, &index.to_string()));
                            (place, property_names(spec, member, 8))
                        })
                        .collect();
                    for (index, (place, _)) in names.iter().enumerate() {
                        let entry = found.entry(place.clone()).or_default();
                        for (other, (_, defined)) in names.iter().enumerate() {
                            if other != index {
                                entry.extend(defined.iter().cloned());
                            }
                        }
                    }
                }
                for (key, child) in object {
                    stack.push((pointer::join(&at, key), child));
                }
            }
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    stack.push((pointer::join(&at, &index.to_string()), item));
                }
            }
            _ => {}
        }
    }
    found
}

/// The property names a schema defines, through `$ref`s and nested `allOf`s.
fn property_names(spec: &Value, schema: &Value, depth: usize) -> BTreeSet<String> {
    let Ok((schema, _)) = pointer::deref(spec, schema) else {
        return BTreeSet::new();
    };
    let mut names: BTreeSet<String> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    if depth > 0
        && let Some(Value::Array(members)) = schema.get("allOf")
    {
        for member in members {
            names.extend(property_names(spec, member, depth - 1));
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn drops_required_names_without_a_property_except_those_a_sibling_defines() {
        let mut spec = json!({"openapi": "3.0.3", "paths": {}, "components": {"schemas": {
            "WebhookEvent": {"type": "object", "required": ["id", "url"],
                "properties": {"event_id": {"type": "string"}, "url": {"type": "string"}}},
            "Base": {"type": "object", "required": ["extra"], "properties": {"a": {"type": "string"}}},
            "Derived": {"allOf": [{"$ref": "#/components/schemas/Base"},
                {"type": "object", "required": ["a"], "properties": {"extra": {"type": "string"}}}]}
        }}});
        let before = spec.clone();
        let mut changes = Vec::new();
        apply(&mut spec, &mut changes);
        assert_eq!(
            spec.pointer("/components/schemas/WebhookEvent/required"),
            Some(&json!(["url"]))
        );
        assert_eq!(changes.len(), 1, "{changes:?}");
        // Base requires `extra`, which Derived's other member defines; Derived's inline member
        // requires `a`, which Base defines: both are left alone.
        assert_eq!(
            changes[0].pointer,
            "/components/schemas/WebhookEvent/required"
        );
        assert!(changes[0].detail.contains("(id)"));
        assert_eq!(
            spec["components"]["schemas"]["Base"],
            before["components"]["schemas"]["Base"]
        );
        assert_eq!(
            spec["components"]["schemas"]["Derived"],
            before["components"]["schemas"]["Derived"]
        );
    }
}

#[cfg(test)]
mod composed_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_member_of_an_all_of_loses_a_name_no_sibling_defines() {
        let mut spec = json!({"openapi": "3.0.3", "paths": {}, "components": {"schemas": {
            "Transaction": {"type": "object", "required": ["transaction_type", "type"],
                "properties": {"type": {"type": "string"}}},
            "Detail": {"allOf": [{"$ref": "#/components/schemas/Transaction"},
                {"type": "object", "properties": {"raw": {"type": "string"}}}]}
        }}});
        let mut changes = Vec::new();
        apply(&mut spec, &mut changes);
        assert_eq!(
            spec.pointer("/components/schemas/Transaction/required"),
            Some(&json!(["type"]))
        );
        assert_eq!(changes.len(), 1, "{changes:?}");
    }
}

//! Rule: `allOf` of plain object schemas, merged into one object before typify sees it.
//!
//! typify 0.8 merges an `allOf` itself, resolving every `$ref` and intersecting every pair of
//! schemas it meets; where two members define the same property as two `oneOf`s (Cobo's
//! `TransactionDetails` extends `Transaction`, whose `fee` is a `TransactionFee`, with a `fee`
//! that is a `TransactionRequestFee`), it builds every pairwise intersection with `not`s of the
//! others: most of a minute for Cobo's whole spec, and an enum of `Variant0`..`Variant5` of
//! enums. This rule does the same merge, losslessly, on the spec:
//!
//! - an `allOf` whose members (through `$ref`, and nested `allOf`s merged first) are all plain
//!   objects (`type: object`, `properties`, `required`, and documentation: nothing else) becomes
//!   one object with every member's properties and the union of their `required`; the outer
//!   schema keeps its own `title`, `description` and `example` (typify drops the members' too);
//! - a property two members define differently: when the two differ only in documentation
//!   (`description`, `example`, `title`), the later member's (the extension's) is kept; when
//!   both are `oneOf`s with a `discriminator` on the same property and the same mapping keys,
//!   their intersection is, by the discriminator's meaning, the `oneOf` of each key's two
//!   variants merged: new components `{Schema}{Property}` (the `oneOf`, with its discriminator)
//!   and `{Schema}{Property}{Key}` (each merged variant); otherwise the property becomes the
//!   `allOf` of the two, the literal intersection, for typify to merge.
//!
//! Anything else (a member with `oneOf`, `additionalProperties`, `nullable`, a non-object
//! type, ...) leaves the `allOf` as it is.

use serde_json::{Map, Value, json};

use super::model::Change;
use super::naming::{fresh_schema_name, pascal};
use super::{pointer, schemas};

/// Rule name reported in [`Change::rule`].
pub const RULE: &str = "merge-all-of";

/// The keys a plain object member may have.
const PLAIN: [&str; 6] = [
    "type",
    "properties",
    "required",
    "description",
    "title",
    "example",
];

/// Documentation: keys that do not change which values a schema accepts.
const DOCUMENTATION: [&str; 3] = ["description", "example", "title"];

/// How deep `allOf`s nest through `$ref`s before the rule gives up (a cycle).
const MAX_DEPTH: usize = 16;

/// Applies the rule to every schema of the document, until nothing more merges.
pub fn apply(spec: &mut Value, changes: &mut Vec<Change>) {
    // A merge copies members' properties into the merged object; an `allOf` among them is
    // found in the next round.
    for _ in 0..MAX_DEPTH {
        let before = changes.len();
        for location in schemas::list(spec) {
            let Some(schema) = spec
                .pointer(&location.pointer)
                .filter(|s| s.get("allOf").is_some())
                .cloned()
            else {
                continue;
            };
            let context = location
                .pointer
                .strip_prefix("/components/schemas/")
                .filter(|name| !name.contains('/'))
                .map(|name| name.replace("~1", "/").replace("~0", "~"));
            let mut merger = Merger {
                spec,
                context,
                created: Vec::new(),
                notes: Vec::new(),
            };
            let Some(merged) = merger.merge(&schema, 0) else {
                continue;
            };
            let Merger { created, notes, .. } = merger;
            let members = schema["allOf"].as_array().map_or(0, Vec::len);
            if let Some(target) = spec.pointer_mut(&location.pointer) {
                *target = merged;
            }
            for (name, component) in &created {
                if let Some(all) = spec
                    .pointer_mut("/components/schemas")
                    .and_then(Value::as_object_mut)
                {
                    all.insert(name.clone(), component.clone());
                }
            }
            let mut detail = format!("allOf of {members} object schemas merged into one object");
            if !notes.is_empty() {
                detail.push_str(&format!("; {}", notes.join("; ")));
            }
            changes.push(Change {
                pointer: location.pointer,
                operation: location.operation,
                rule: RULE,
                detail,
            });
        }
        if changes.len() == before {
            break;
        }
    }
}

/// One merge: the document it reads, the component it belongs to (for new components' names),
/// the components it creates and what it says about conflicting properties.
struct Merger<'a> {
    spec: &'a Value,
    context: Option<String>,
    created: Vec<(String, Value)>,
    notes: Vec<String>,
}

impl Merger<'_> {
    /// The merged object of a schema with an `allOf`, or `None` when it is not made of plain
    /// objects.
    fn merge(&mut self, schema: &Value, depth: usize) -> Option<Value> {
        let outer = schema.as_object()?;
        if depth > MAX_DEPTH
            || outer
                .keys()
                .any(|k| k != "allOf" && !PLAIN.contains(&k.as_str()))
            || !is_object_type(outer)
        {
            return None;
        }
        let mut members = Vec::new();
        for member in outer.get("allOf")?.as_array()? {
            members.push(self.plain(member, depth + 1)?);
        }
        let own: Map<String, Value> = outer
            .iter()
            .filter(|(k, _)| matches!(k.as_str(), "properties" | "required"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        members.push(own);
        let mut properties = Map::new();
        let mut required: Vec<Value> = Vec::new();
        for member in &members {
            if let Some(props) = member.get("properties").and_then(Value::as_object) {
                for (name, property) in props {
                    let combined = match properties.get(name) {
                        None => property.clone(),
                        Some(earlier) if earlier == property => property.clone(),
                        Some(earlier) => self.intersect(name, earlier, property, depth)?,
                    };
                    properties.insert(name.clone(), combined);
                }
            }
            for name in member
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if !required.contains(name) {
                    required.push(name.clone());
                }
            }
        }
        let mut merged = Map::new();
        merged.insert("type".into(), json!("object"));
        for key in DOCUMENTATION {
            if let Some(v) = outer.get(key) {
                merged.insert(key.into(), v.clone());
            }
        }
        if !required.is_empty() {
            merged.insert("required".into(), Value::Array(required));
        }
        merged.insert("properties".into(), Value::Object(properties));
        Some(Value::Object(merged))
    }

    /// A member as a plain object (its `$ref` followed, its own `allOf` merged).
    fn plain(&mut self, member: &Value, depth: usize) -> Option<Map<String, Value>> {
        let (resolved, _) = pointer::deref(self.spec, member).ok()?;
        let object = resolved.as_object()?;
        if object.contains_key("allOf") {
            return match self.merge(resolved, depth)? {
                Value::Object(map) => Some(map),
                _ => None,
            };
        }
        (object.keys().all(|k| PLAIN.contains(&k.as_str())) && is_object_type(object))
            .then(|| object.clone())
    }

    /// What a property is when two members define it differently (both must hold).
    fn intersect(
        &mut self,
        name: &str,
        earlier: &Value,
        later: &Value,
        depth: usize,
    ) -> Option<Value> {
        if without_documentation(earlier) == without_documentation(later) {
            self.notes.push(format!(
                "property {name}: the two definitions differ only in documentation, the later's kept"
            ));
            return Some(later.clone());
        }
        if let Some(union) = self.intersect_discriminated(name, earlier, later, depth) {
            return Some(union);
        }
        self.notes.push(format!(
            "property {name}: defined differently by two members, kept as the allOf of both"
        ));
        Some(json!({"allOf": [earlier, later]}))
    }

    /// Two `oneOf`s discriminated by the same property with the same keys: the `oneOf` of each
    /// key's two variants merged, as new components.
    fn intersect_discriminated(
        &mut self,
        name: &str,
        a: &Value,
        b: &Value,
        depth: usize,
    ) -> Option<Value> {
        let context = self.context.clone()?;
        let (ra, _) = pointer::deref(self.spec, a).ok()?;
        let (rb, _) = pointer::deref(self.spec, b).ok()?;
        let (property, mapping_a) = discriminated(ra)?;
        let (property_b, mapping_b) = discriminated(rb)?;
        let mut keys_a: Vec<&String> = mapping_a.keys().collect();
        let mut keys_b: Vec<&String> = mapping_b.keys().collect();
        keys_a.sort();
        keys_b.sort();
        if property != property_b || keys_a != keys_b {
            return None;
        }
        let base = format!("{context}-{name}");
        let union_name = self.fresh(&base);
        let mut refs = Vec::new();
        let mut mapping = Map::new();
        let mut variants = Vec::new();
        for (key, ref_a) in mapping_a {
            let ref_b = mapping_b.get(key)?;
            let pair = json!({"allOf": [{"$ref": ref_a}, {"$ref": ref_b}]});
            let noted = self.notes.len();
            let mut variant = self.merge(&pair, depth + 1)?;
            for note in &mut self.notes[noted..] {
                *note = format!("{name} ({property} {key}): {note}");
            }
            if let (Some(title), Some(map)) = (
                pointer::deref(self.spec, &json!({"$ref": ref_a}))
                    .ok()
                    .and_then(|(v, _)| v.get("title").cloned()),
                variant.as_object_mut(),
            ) {
                map.insert("title".into(), title);
            }
            let variant_name = self.fresh(&format!("{union_name}-{key}"));
            let reference = format!("#/components/schemas/{}", pointer::escape(&variant_name));
            refs.push(json!({"$ref": reference}));
            mapping.insert(key.clone(), json!(reference));
            variants.push((variant_name, variant));
        }
        let mut union = Map::new();
        if let Some(description) = rb.get("description").or_else(|| ra.get("description")) {
            union.insert("description".into(), description.clone());
        }
        union.insert("oneOf".into(), Value::Array(refs));
        union.insert(
            "discriminator".into(),
            json!({"propertyName": property, "mapping": mapping}),
        );
        let names: Vec<&str> = variants.iter().map(|(n, _)| n.as_str()).collect();
        self.notes.push(format!(
            "property {name}: both definitions are oneOfs discriminated by {property}; their \
             intersection is {union_name}, one merged variant per {property} ({})",
            names.join(", ")
        ));
        self.created.extend(variants);
        self.created
            .push((union_name.clone(), Value::Object(union)));
        Some(json!({"$ref": format!("#/components/schemas/{}", pointer::escape(&union_name))}))
    }

    /// A component name free both in the document and among those this merge creates.
    fn fresh(&self, base: &str) -> String {
        let mut candidate = fresh_schema_name(self.spec, base);
        let mut n = 2;
        while self
            .created
            .iter()
            .any(|(taken, _)| pascal(taken) == candidate)
        {
            candidate = fresh_schema_name(self.spec, &format!("{base}{n}"));
            n += 1;
        }
        candidate
    }
}

/// Whether a schema's `type`, if any, is `object`.
fn is_object_type(schema: &Map<String, Value>) -> bool {
    schema.get("type").is_none_or(|t| t == "object")
}

/// The schema without its top-level documentation keys.
fn without_documentation(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !DOCUMENTATION.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A `oneOf` of `$ref`s, each named in its `discriminator`'s mapping and nothing else: its
/// property and mapping (key to reference).
fn discriminated(schema: &Value) -> Option<(&str, &Map<String, Value>)> {
    let object = schema.as_object()?;
    if object.keys().any(|k| {
        !matches!(
            k.as_str(),
            "oneOf" | "discriminator" | "description" | "title"
        )
    }) {
        return None;
    }
    let discriminator = object.get("discriminator")?;
    let property = discriminator.get("propertyName")?.as_str()?;
    let mapping = discriminator.get("mapping")?.as_object()?;
    let one_of = object.get("oneOf")?.as_array()?;
    let mut mapped: Vec<&str> = mapping.values().filter_map(Value::as_str).collect();
    let mut listed: Vec<&str> = one_of.iter().filter_map(pointer::as_ref).collect();
    mapped.sort_unstable();
    listed.sort_unstable();
    (mapped.len() == mapping.len() && listed.len() == one_of.len() && mapped == listed)
        .then_some((property, mapping))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(schemas: Value) -> Value {
        json!({"paths": {}, "components": {"schemas": schemas}})
    }

    #[test]
    fn merges_plain_objects_through_refs_and_nested_all_of() {
        let mut s = spec(json!({
            "Base": {"type": "object", "required": ["id"], "description": "base",
                "properties": {"id": {"type": "string"}}},
            "Middle": {"allOf": [{"$ref": "#/components/schemas/Base"},
                {"type": "object", "properties": {"n": {"type": "integer"}}}]},
            "Top": {"description": "top", "required": ["m"], "allOf": [
                {"$ref": "#/components/schemas/Middle"},
                {"type": "object", "required": ["n"], "properties": {"m": {"type": "boolean"}}}]}
        }));
        let mut changes = Vec::new();
        apply(&mut s, &mut changes);
        assert_eq!(
            s["components"]["schemas"]["Top"],
            json!({"type": "object", "description": "top", "required": ["id", "n", "m"],
                "properties": {"id": {"type": "string"}, "n": {"type": "integer"},
                    "m": {"type": "boolean"}}})
        );
        assert_eq!(
            s["components"]["schemas"]["Middle"],
            json!({"type": "object", "required": ["id"], "properties": {
                "id": {"type": "string"}, "n": {"type": "integer"}}})
        );
        assert_eq!(changes.len(), 2);
        assert!(changes.iter().all(|c| c.rule == RULE));
        // The referenced component itself is untouched.
        assert_eq!(
            s["components"]["schemas"]["Base"]["description"],
            json!("base")
        );
    }

    #[test]
    fn leaves_what_is_not_plain_objects() {
        let original = spec(json!({
            "A": {"allOf": [{"type": "object", "additionalProperties": false},
                {"type": "object", "properties": {"x": {"type": "string"}}}]},
            "B": {"allOf": [{"oneOf": [{"type": "string"}, {"type": "integer"}]}]},
            "C": {"nullable": true, "allOf": [{"type": "object"}]},
            "D": {"allOf": [{"type": "string"}, {"type": "object"}]}
        }));
        let mut s = original.clone();
        let mut changes = Vec::new();
        apply(&mut s, &mut changes);
        assert_eq!(s, original);
        assert!(changes.is_empty());
    }

    #[test]
    fn conflicting_properties_keep_their_intersection() {
        let mut s = spec(json!({
            "A": {"type": "object", "properties": {
                "doc": {"type": "string", "description": "a"},
                "n": {"type": "integer"}}},
            "B": {"allOf": [{"$ref": "#/components/schemas/A"}, {"type": "object", "properties": {
                "doc": {"type": "string", "description": "b"},
                "n": {"type": "integer", "format": "int32"}}}]}
        }));
        let mut changes = Vec::new();
        apply(&mut s, &mut changes);
        let b = &s["components"]["schemas"]["B"]["properties"];
        assert_eq!(b["doc"], json!({"type": "string", "description": "b"}));
        assert_eq!(
            b["n"],
            json!({"allOf": [{"type": "integer"}, {"type": "integer", "format": "int32"}]})
        );
        assert!(changes[0].detail.contains("property n"), "{changes:?}");
    }

    #[test]
    fn intersects_discriminated_one_ofs_per_key() {
        let variant =
            |fields: Value| json!({"type": "object", "required": ["kind"], "properties": fields});
        let one_of = |prefix: &str| {
            json!({"oneOf": [{"$ref": format!("#/components/schemas/{prefix}X")},
                    {"$ref": format!("#/components/schemas/{prefix}Y")}],
                "discriminator": {"propertyName": "kind", "mapping": {
                    "x": format!("#/components/schemas/{prefix}X"),
                    "y": format!("#/components/schemas/{prefix}Y")}}})
        };
        let mut s = spec(json!({
            "ActualX": variant(json!({"kind": {"type": "string"}, "used": {"type": "string"}})),
            "ActualY": variant(json!({"kind": {"type": "string"}, "gas": {"type": "string"}})),
            "LimitX": variant(json!({"kind": {"type": "string"}, "max": {"type": "string"}})),
            "LimitY": variant(json!({"kind": {"type": "string"}, "cap": {"type": "string"}})),
            "Actual": one_of("Actual"),
            "Limit": one_of("Limit"),
            "Tx": {"type": "object", "properties": {"fee": {"$ref": "#/components/schemas/Actual"}}},
            "TxDetails": {"allOf": [{"$ref": "#/components/schemas/Tx"},
                {"type": "object", "properties": {"fee": {"$ref": "#/components/schemas/Limit"}}}]}
        }));
        let mut changes = Vec::new();
        apply(&mut s, &mut changes);
        let schemas = &s["components"]["schemas"];
        assert_eq!(
            schemas["TxDetails"]["properties"]["fee"],
            json!({"$ref": "#/components/schemas/TxDetailsFee"})
        );
        assert_eq!(
            schemas["TxDetailsFee"],
            json!({"oneOf": [{"$ref": "#/components/schemas/TxDetailsFeeX"},
                    {"$ref": "#/components/schemas/TxDetailsFeeY"}],
                "discriminator": {"propertyName": "kind", "mapping": {
                    "x": "#/components/schemas/TxDetailsFeeX",
                    "y": "#/components/schemas/TxDetailsFeeY"}}})
        );
        assert_eq!(
            schemas["TxDetailsFeeX"],
            json!({"type": "object", "required": ["kind"], "properties": {
                "kind": {"type": "string"}, "used": {"type": "string"}, "max": {"type": "string"}}})
        );
        assert_eq!(
            schemas["TxDetailsFeeY"]["properties"],
            json!({"kind": {"type": "string"}, "gas": {"type": "string"}, "cap": {"type": "string"}})
        );
        assert!(
            changes[0].detail.contains("intersection is TxDetailsFee"),
            "{changes:?}"
        );
    }
}

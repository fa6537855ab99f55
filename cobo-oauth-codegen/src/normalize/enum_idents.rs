//! Rule: string enums whose values do not yield distinct Rust identifiers.
//!
//! typify 0.8 panics ("Failed to make unique variant names") when two enum
//! values sanitise to the same identifier (e.g. `>`, `>=`, `<` all become
//! `X`). Duplicated values are simply removed (same set of accepted values);
//! otherwise the values stay and [`VARNAMES`] (`x-enum-varnames`) names each
//! one's Rust variant (`PolicyFieldOperator::{Gt, Ge, Lt, Le, Eq}` for `>`,
//! `>=`, `<`, `<=`, `=`). The generator hands typify the names as values and
//! gives each variant its value back as its wire form
//! (`#[serde(rename = ">")]`, `Display`, `FromStr`): see `crate::varnames`.
//! An inline enum also gets a `title`, the name of its Rust type.

use serde_json::{Value, json};
use unicode_ident::is_xid_continue;

use super::model::Change;
use super::naming::{inline_type_name, pascal};
use super::schemas;

/// Rule name reported in [`Change::rule`].
pub const RULE: &str = "enum-non-identifier-values";

/// Applies the rule to every schema in the document.
pub fn apply(spec: &mut Value, changes: &mut Vec<Change>) {
    for loc in schemas::list(spec) {
        let component = loc
            .pointer
            .strip_prefix("/components/schemas/")
            .is_some_and(|name| !name.contains('/'));
        // typify names an inline enum's type by its title; the generator finds it by that name.
        let title = (!component).then(|| inline_type_name(spec, &loc.pointer));
        let Some(schema) = spec.pointer_mut(&loc.pointer) else {
            continue;
        };
        if let Some(detail) = rewrite(schema, title) {
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

/// The extension naming an enum's Rust variants, one per value, in order (openapi-generator's
/// convention); the generator gives each variant that name and the value as its wire form.
pub const VARNAMES: &str = "x-enum-varnames";

/// What a symbol is called in a variant name.
fn symbol_word(c: char) -> String {
    match c {
        '>' => "gt".into(),
        '<' => "lt".into(),
        '=' => "eq".into(),
        '!' => "not".into(),
        '.' => "dot".into(),
        '*' => "star".into(),
        '+' => "plus".into(),
        '-' => "minus".into(),
        '/' => "slash".into(),
        '%' => "percent".into(),
        '&' => "and".into(),
        '|' => "or".into(),
        '@' => "at".into(),
        '#' => "hash".into(),
        '$' => "dollar".into(),
        ':' => "colon".into(),
        ',' => "comma".into(),
        ' ' => "space".into(),
        '_' => "underscore".into(),
        other => format!("u{:x}", u32::from(other)),
    }
}

/// Distinct Rust variant names for `values`: comparison operators by their usual names
/// (`>` `Gt`, `>=` `Ge`, `<` `Lt`, `<=` `Le`, `=` `Eq`, `!=` `Ne`), other symbols spelled out
/// (`a.b` `ADotB`), and a number after a name that is still taken.
fn variant_names(values: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for value in values {
        let base = match *value {
            ">" => "Gt".to_owned(),
            ">=" => "Ge".to_owned(),
            "<" => "Lt".to_owned(),
            "<=" => "Le".to_owned(),
            "=" | "==" => "Eq".to_owned(),
            "!=" | "<>" => "Ne".to_owned(),
            _ => {
                let mut words = String::new();
                for c in value.chars() {
                    if is_xid_continue(c) && c != '_' {
                        words.push(c);
                    } else {
                        words.push('-');
                        words.push_str(&symbol_word(c));
                        words.push('-');
                    }
                }
                pascal(&words)
            }
        };
        let mut name = base.clone();
        let mut n = 2;
        while names.contains(&name) {
            name = format!("{base}{n}");
            n += 1;
        }
        names.push(name);
    }
    names
}

/// Rewrites one schema object in place; returns a description if it changed.
fn rewrite(schema: &mut Value, title: Option<String>) -> Option<String> {
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
    let idents: Vec<String> = deduped.iter().map(|v| pascal(v)).collect();
    let names = variant_names(&deduped);
    let mut new_enum: Vec<Value> = deduped.iter().map(|s| json!(s)).collect();
    if has_null {
        new_enum.push(Value::Null);
    }
    obj.insert("enum".into(), Value::Array(new_enum));
    obj.insert(VARNAMES.into(), json!(names));
    if title.is_some() && !obj.contains_key("title") {
        obj.insert("title".into(), json!(title));
    }
    Some(format!(
        "enum {} gives non-unique Rust variants {:?}; variants named {:?} ({VARNAMES}), the values kept as their wire form",
        Value::Array(original),
        idents,
        names
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
    fn names_the_variants_of_colliding_values_and_keeps_the_values() {
        let mut s = spec(json!(["asc", "desc"]));
        let before = s.clone();
        let mut changes = Vec::new();
        apply(&mut s, &mut changes);
        assert_eq!(
            s["components"]["schemas"]["Op"],
            json!({"type": "string", "enum": [">", ">=", "<", "<=", "="], "description": "d",
                "x-enum-varnames": ["Gt", "Ge", "Lt", "Le", "Eq"]})
        );
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].pointer, "/components/schemas/Op");
        assert_eq!(changes[0].operation, None);
        assert!(
            changes[0]
                .detail
                .contains(r#"variants named ["Gt", "Ge", "Lt", "Le", "Eq"]"#),
            "{}",
            changes[0].detail
        );
        // untouched parts are identical
        assert_eq!(s["paths"], before["paths"]);
        assert_eq!(
            s["components"]["schemas"]["Fine"],
            before["components"]["schemas"]["Fine"]
        );
    }

    #[test]
    fn dedupes_and_names_inline_enums() {
        let mut s = spec(json!(["a", "a", null]));
        let mut changes = Vec::new();
        apply(&mut s, &mut changes);
        let p = "/paths/~1x/get/parameters/0/schema";
        assert_eq!(s.pointer(p).unwrap()["enum"], json!(["a", null]));
        assert_eq!(changes[1].pointer, p);
        assert_eq!(changes[1].operation.as_deref(), Some("x"));

        let mut s = spec(json!(["a.b", "a*b", "a+b", "a%b"]));
        apply(&mut s, &mut Vec::new());
        let inline = s.pointer(p).unwrap();
        assert_eq!(inline["enum"], json!(["a.b", "a*b", "a+b", "a%b"]));
        assert_eq!(
            inline["x-enum-varnames"],
            json!(["ADotB", "AStarB", "APlusB", "APercentB"])
        );
        // typify names the inline enum's type by its title.
        assert_eq!(inline["title"], json!("XOp"));
    }

    #[test]
    fn names_stay_distinct() {
        assert_eq!(
            variant_names(&["!=", "<>", "a-b", "a_b"]),
            ["Ne", "Ne2", "AMinusB", "AUnderscoreB"]
        );
    }

    #[test]
    fn second_naming_attempt_is_respected() {
        // "_a" and "a" both give "A", but typify's X-substitution separates them.
        assert!(typify_names_unique(&["_a", "a"]));
        assert!(!typify_names_unique(&[">", "<"]));
    }
}

//! Rule: every use of an enum becomes the runtime's `OpenEnum` of it.
//!
//! typify 0.8 makes a closed Rust enum of a string enum (and a checked newtype of an integer
//! one), so one value Cobo adds fails deserialization of the whole response it comes in. This
//! rule leaves every enum's definition as it is (the Rust type typify makes of it lists the
//! known values) and gives each *use* of one (a property, an array's items, a map's values, a
//! parameter, a body) the extension typify reads as a Rust type, `x-rust-type`, naming
//! `cobo_oauth_runtime::OpenEnum` with the enum as its parameter: the field is
//! `OpenEnum<TransactionStatus>`, which holds a listed value or the unlisted one as it came
//! (`OpenEnum<TssStatus, i64>` for an integer enum), and serializes it back unchanged. The
//! generator settings point the crate at the runtime the client uses
//! ([`crate::settings::progenitor_settings`]).
//!
//! An enum defined inline gets a `title` (the name typify gives such a type: the component,
//! property, operation and parameter names joined), since typify names the parameters of an
//! `x-rust-type` by their title. The members of a `oneOf`, `anyOf` or `allOf` are left as they
//! are: in a `oneOf` or `anyOf` an unlisted value must not match, or the variant chosen would
//! change; an `allOf` of several members (a property two merged members define differently,
//! see rule `merge-all-of`) is not an enum itself, and typify intersects its members. Such a
//! use stays closed (a value the enum does not list fails deserialization) and the rule says
//! so, in a note per component or operation ([`Normalized::notes`](super::Normalized::notes)).
//! An `allOf` of one `$ref` beside annotations only (`allOf: [$ref]` with a `default`, the
//! usual way to annotate a `$ref` in OpenAPI 3.0) is a use of that enum: opened, its
//! annotations kept beside the wrapper.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::model::Change;
use super::naming::{inline_type_name, pascal, segments};
use super::{pointer, schemas};

/// Rule name reported in [`Change::rule`].
pub const RULE: &str = "open-enums";

/// The crate `x-rust-type` names (the generator settings map it to the client's runtime path).
pub const RUNTIME_CRATE: &str = "cobo-oauth-runtime";

/// The open type, as `x-rust-type` names it.
const OPEN_ENUM: &str = "cobo_oauth_runtime::OpenEnum";

/// Applies the rule to every enum use of the document; one change per component or operation
/// whose schemas it rewrote, listing each use, and one note per component or operation with
/// enum uses it left closed, listing each and why.
pub fn apply(spec: &mut Value, changes: &mut Vec<Change>, notes: &mut Vec<Change>) {
    let mut taken: HashSet<String> = spec
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|m| m.keys().map(|k| pascal(k)).collect())
        .unwrap_or_default();
    // Per owner (component or operation), in document order: its operation, each use opened,
    // each left closed.
    let mut owners: Vec<Owner> = Vec::new();
    for location in schemas::list(spec) {
        let Some(schema) = spec.pointer(&location.pointer) else {
            continue;
        };
        if let Some(combinator) = combinator_member(&location.pointer) {
            if let Some(name) = enum_name(spec, schema) {
                let why = if combinator == "allOf" {
                    "a member of an allOf, which typify intersects"
                } else {
                    "a member of a oneOf or anyOf, which an unlisted value must not match"
                };
                owner(&mut owners, &location.pointer, &location.operation)
                    .closed
                    .push((location.pointer.clone(), format!("{name} ({why})")));
            }
            continue;
        }
        if !is_use(&location.pointer) {
            continue;
        }
        let (opened, name) = if let Some(reference) = pointer::as_ref(schema) {
            let Some(integer) = pointer::deref(spec, schema)
                .ok()
                .and_then(|(target, _)| enum_kind(target))
            else {
                continue;
            };
            let name = pascal(pointer::ref_name(reference));
            (open(&json!({"$ref": reference}), None, integer), name)
        } else if let Some(integer) = enum_kind(schema) {
            // A title already there names the type (typify's own choice, before this rule).
            let name = match schema.get("title").and_then(Value::as_str) {
                Some(title) => pascal(title),
                None => fresh(&mut taken, &inline_type_name(spec, &location.pointer)),
            };
            let mut inner = schema.clone();
            if let Some(map) = inner.as_object_mut() {
                map.entry("title").or_insert_with(|| json!(name));
            }
            (
                open(&inner, schema.get("description"), integer),
                format!("{name} (inline)"),
            )
        } else if let Some((reference, integer)) = annotated_ref(spec, schema) {
            // `allOf: [$ref]` beside a default or a description (OpenAPI 3.0 ignores siblings
            // of a `$ref`): the same use of the enum, its annotations kept beside the wrapper.
            let mut opened = open(
                &json!({"$ref": reference}),
                schema.get("description"),
                integer,
            );
            if let (Some(wrapper), Some(annotations)) = (opened.as_object_mut(), schema.as_object())
            {
                for (key, value) in annotations {
                    if key != "allOf" && key != "description" {
                        wrapper.insert(key.clone(), value.clone());
                    }
                }
            }
            (opened, pascal(pointer::ref_name(&reference)))
        } else {
            continue;
        };
        if let Some(target) = spec.pointer_mut(&location.pointer) {
            *target = opened;
        }
        owner(&mut owners, &location.pointer, &location.operation)
            .opened
            .push((location.pointer.clone(), format!("OpenEnum<{name}>")));
    }
    for owner in owners {
        let uses = |list: &[(String, String)]| {
            list.iter()
                .map(|(pointer, what)| {
                    format!(
                        "{} {what}",
                        pointer.strip_prefix(&owner.pointer).unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        for (list, what, out) in [
            (
                &owner.opened,
                "enum uses open (a value the enum does not list is kept as it came)",
                &mut *changes,
            ),
            (
                &owner.closed,
                "enum uses left closed (a value the enum does not list fails deserialization)",
                &mut *notes,
            ),
        ] {
            if !list.is_empty() {
                out.push(Change {
                    pointer: owner.pointer.clone(),
                    operation: owner.operation.clone(),
                    rule: RULE,
                    detail: format!("{what}: {}", uses(list)),
                });
            }
        }
    }
}

/// A component or operation whose schemas use enums: each use opened and each left closed,
/// by pointer, with what it is.
struct Owner {
    pointer: String,
    operation: Option<String>,
    opened: Vec<(String, String)>,
    closed: Vec<(String, String)>,
}

/// The owner of the schema at `pointer` (its first three segments), added if new.
fn owner<'a>(
    owners: &'a mut Vec<Owner>,
    pointer: &str,
    operation: &Option<String>,
) -> &'a mut Owner {
    let name: String = pointer.split('/').take(4).collect::<Vec<_>>().join("/");
    let index = match owners.iter().position(|o| o.pointer == name) {
        Some(index) => index,
        None => {
            owners.push(Owner {
                pointer: name,
                operation: operation.clone(),
                opened: Vec::new(),
                closed: Vec::new(),
            });
            owners.len() - 1
        }
    };
    &mut owners[index]
}

/// The combinator (`allOf`, `oneOf`, `anyOf`) the schema at `pointer` is a member of.
fn combinator_member(pointer: &str) -> Option<String> {
    match segments(pointer).as_slice() {
        [.., combinator, index]
            if matches!(combinator.as_str(), "allOf" | "oneOf" | "anyOf")
                && index.parse::<usize>().is_ok() =>
        {
            Some(combinator.clone())
        }
        _ => None,
    }
}

/// The name of the enum `schema` is (through a `$ref`) or defines inline, if it is one.
fn enum_name(spec: &Value, schema: &Value) -> Option<String> {
    match pointer::as_ref(schema) {
        Some(reference) => {
            let (target, _) = pointer::deref(spec, schema).ok()?;
            enum_kind(target)?;
            Some(pascal(pointer::ref_name(reference)))
        }
        None => {
            enum_kind(schema)?;
            Some(match schema.get("title").and_then(Value::as_str) {
                Some(title) => format!("{} (inline)", pascal(title)),
                None => "an inline enum".to_owned(),
            })
        }
    }
}

/// The enum `$ref` of a schema that is `allOf: [$ref]` with annotations only (a default, a
/// description, an example...), and whether the enum is an integer one.
fn annotated_ref(spec: &Value, schema: &Value) -> Option<(String, bool)> {
    const ANNOTATIONS: [&str; 7] = [
        "allOf",
        "default",
        "description",
        "example",
        "title",
        "deprecated",
        "readOnly",
    ];
    let map = schema.as_object()?;
    if !map.keys().all(|key| ANNOTATIONS.contains(&key.as_str())) {
        return None;
    }
    let [member] = map.get("allOf")?.as_array()?.as_slice() else {
        return None;
    };
    let reference = pointer::as_ref(member)?;
    let (target, _) = pointer::deref(spec, member).ok()?;
    Some((reference.to_owned(), enum_kind(target)?))
}

/// `Some(is_integer)` for a string or integer enum.
fn enum_kind(schema: &Value) -> Option<bool> {
    let values = schema.get("enum")?.as_array()?;
    match schema.get("type").and_then(Value::as_str) {
        Some("integer") => Some(true),
        Some("string") => Some(false),
        None if values.iter().all(|v| v.is_string() || v.is_null()) => Some(false),
        _ => None,
    }
}

/// Whether the schema at `pointer` is a value's type (a property, items, a map's values, a
/// parameter's or a body's schema), not a component's definition or a combinator's member.
fn is_use(pointer: &str) -> bool {
    let segments = segments(pointer);
    if segments.first().is_some_and(|s| s == "components") && segments.len() <= 3 {
        return false;
    }
    match segments.as_slice() {
        [.., parent, _] if parent == "properties" => true,
        [.., last] => matches!(last.as_str(), "items" | "additionalProperties" | "schema"),
        [] => false,
    }
}

/// The `x-rust-type` schema for `OpenEnum<inner>` (`OpenEnum<inner, i64>` for an integer enum).
fn open(inner: &Value, description: Option<&Value>, integer: bool) -> Value {
    let mut parameters = vec![inner.clone()];
    if integer {
        parameters.push(json!({"type": "integer", "format": "int64"}));
    }
    let mut wrapper = Map::new();
    if let Some(description) = description {
        wrapper.insert("description".into(), description.clone());
    }
    wrapper.insert(
        "x-rust-type".into(),
        json!({"crate": RUNTIME_CRATE, "version": "*", "path": OPEN_ENUM, "parameters": parameters}),
    );
    Value::Object(wrapper)
}

/// `name`, or `name2`, `name3`...: the first not taken (and now taken).
fn fresh(taken: &mut HashSet<String>, name: &str) -> String {
    let mut candidate = name.to_owned();
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = format!("{name}{n}");
        n += 1;
    }
    taken.insert(candidate.clone());
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opened(inner: Value, integer: bool) -> Value {
        let mut parameters = vec![inner];
        if integer {
            parameters.push(json!({"type": "integer", "format": "int64"}));
        }
        json!({"x-rust-type": {"crate": "cobo-oauth-runtime", "version": "*",
            "path": "cobo_oauth_runtime::OpenEnum", "parameters": parameters}})
    }

    #[test]
    fn every_use_of_an_enum_is_open_and_definitions_stay() {
        let status = json!({"type": "string", "enum": ["Completed", "Failed"]});
        let mut s = json!({
            "paths": {"/t": {"get": {"operationId": "list_t", "parameters": [
                {"name": "status", "in": "query", "schema": {"$ref": "#/components/schemas/Status"}},
                {"name": "order", "in": "query", "schema": {"type": "string", "enum": ["asc", "desc"]}}],
                "responses": {"200": {"description": "ok"}}}}},
            "components": {"schemas": {
                "Status": status,
                "Code": {"type": "integer", "enum": [100, 110]},
                "Tx": {"type": "object", "properties": {
                    "status": {"$ref": "#/components/schemas/Status"},
                    "codes": {"type": "array", "items": {"$ref": "#/components/schemas/Code"}},
                    "side": {"type": "string", "description": "d", "enum": ["In", "Out"]},
                    "fee": {"oneOf": [{"$ref": "#/components/schemas/Status"}, {"type": "object"}]}}}}}
        });
        let (mut changes, mut notes) = (Vec::new(), Vec::new());
        apply(&mut s, &mut changes, &mut notes);
        let schemas = &s["components"]["schemas"];
        assert_eq!(schemas["Status"], status);
        let tx = &schemas["Tx"]["properties"];
        assert_eq!(
            tx["status"],
            opened(json!({"$ref": "#/components/schemas/Status"}), false)
        );
        assert_eq!(
            tx["codes"]["items"],
            opened(json!({"$ref": "#/components/schemas/Code"}), true)
        );
        let mut side = opened(
            json!({"type": "string", "description": "d", "enum": ["In", "Out"], "title": "TxSide"}),
            false,
        );
        side["description"] = json!("d");
        assert_eq!(tx["side"], side);
        // A oneOf's member is left alone.
        assert_eq!(
            tx["fee"]["oneOf"][0],
            json!({"$ref": "#/components/schemas/Status"})
        );
        let parameters = &s["paths"]["/t"]["get"]["parameters"];
        assert_eq!(
            parameters[0]["schema"],
            opened(json!({"$ref": "#/components/schemas/Status"}), false)
        );
        assert_eq!(
            parameters[1]["schema"]["x-rust-type"]["parameters"][0]["title"],
            json!("ListTOrder")
        );
        let report: Vec<(&str, Option<&str>, &str)> = changes
            .iter()
            .map(|c| {
                (
                    c.pointer.as_str(),
                    c.operation.as_deref(),
                    c.detail.as_str(),
                )
            })
            .collect();
        let open = "enum uses open (a value the enum does not list is kept as it came): ";
        assert_eq!(
            report,
            [
                (
                    "/components/schemas/Tx",
                    None,
                    &*format!(
                        "{open}/properties/status OpenEnum<Status>, \
                         /properties/codes/items OpenEnum<Code>, /properties/side OpenEnum<TxSide (inline)>"
                    )
                ),
                (
                    "/paths/~1t/get",
                    Some("list_t"),
                    &*format!(
                        "{open}/parameters/0/schema OpenEnum<Status>, \
                         /parameters/1/schema OpenEnum<ListTOrder (inline)>"
                    )
                ),
            ]
        );
        assert!(changes.iter().all(|c| c.rule == RULE));
        // The oneOf's member stays closed: a note says so (the spec there is unchanged).
        assert_eq!(
            notes,
            [Change {
                pointer: "/components/schemas/Tx".into(),
                operation: None,
                rule: RULE,
                detail: "enum uses left closed (a value the enum does not list fails \
                         deserialization): /properties/fee/oneOf/0 Status (a member of a oneOf or \
                         anyOf, which an unlisted value must not match)"
                    .into()
            }]
        );
    }

    #[test]
    fn inline_names_do_not_collide_with_components() {
        let mut s = json!({"paths": {}, "components": {"schemas": {
            "TxSide": {"type": "object"},
            "Tx": {"type": "object", "properties": {"side": {"type": "string", "enum": ["In"]}}}}}});
        apply(&mut s, &mut Vec::new(), &mut Vec::new());
        assert_eq!(
            s.pointer("/components/schemas/Tx/properties/side/x-rust-type/parameters/0/title"),
            Some(&json!("TxSide2"))
        );
    }

    #[test]
    fn enums_in_an_all_of_stay_closed_and_the_report_says_which_and_why() {
        // Two merged members define `status` differently (rule merge-all-of keeps the allOf of
        // both): closed. A parameter that puts a default beside its $ref with allOf is a use of
        // the enum like any other: opened, its default kept.
        let spec = json!({"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
            "paths": {"/t": {"get": {"operationId": "list_t", "parameters": [
                {"name": "status", "in": "query",
                 "schema": {"allOf": [{"$ref": "#/components/schemas/Status"}], "default": "Done"}}],
                "responses": {"200": {"description": "ok", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Tx"}}}}}}}},
            "components": {"schemas": {
                "Status": {"type": "string", "enum": ["Done", "Failed"]},
                "Base": {"type": "object", "properties": {"status": {"$ref": "#/components/schemas/Status"}}},
                "Tx": {"allOf": [{"$ref": "#/components/schemas/Base"}, {"type": "object",
                    "properties": {"status": {"type": "string", "enum": ["Done"]}}}]}}}});
        let normalized = crate::normalize::normalize(spec).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            normalized
                .changes
                .iter()
                .all(|c| !c.detail.contains("left closed")),
            "a note is no rewrite"
        );
        assert_eq!(normalized.notes.len(), 1, "{:?}", normalized.notes);
        let parameter = normalized
            .spec
            .pointer("/paths/~1t/get/parameters/0/schema")
            .unwrap_or_else(|| panic!("no parameter schema"));
        assert_eq!(
            parameter.pointer("/x-rust-type/parameters/0/$ref"),
            Some(&json!("#/components/schemas/Status"))
        );
        assert_eq!(parameter.get("default"), Some(&json!("Done")));
        assert_eq!(parameter.get("allOf"), None);
        let report = normalized.report();
        let closed = "enum uses left closed (a value the enum does not list fails deserialization)";
        let expected = format!(
            "[open-enums] /components/schemas/Tx: {closed}: /properties/status/allOf/0 \
                 Status (a member of an allOf, which typify intersects), /properties/status/allOf/1 \
                 an inline enum (a member of an allOf, which typify intersects)"
        );
        assert!(report.contains(&expected), "no {expected} in {report}");
        assert!(
            report.contains(
                "[open-enums] /paths/~1t/get (list_t): enum uses open (a value the enum does not \
                 list is kept as it came): /parameters/0/schema OpenEnum<Status>"
            ),
            "{report}"
        );
    }
}

//! Shared machinery of the response-merging rules: classifies an operation's
//! responses exactly as progenitor 0.15.1 does, and rewrites a group of
//! responses so that they all carry one combined `oneOf` schema.

use serde_json::{Value, json};

use super::model::{Change, NormalizeError};
use super::{naming, operations::OpRef, pointer};

/// A response key as progenitor orders it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// An explicit code such as `201`.
    Code(u16),
    /// A range such as `4XX` (holds the leading digit).
    Range(u16),
    /// The `default` response.
    Default,
}

impl Status {
    /// Parses a response key (`default`, `201`, `4XX`, `4xx`).
    pub fn parse(key: &str) -> Option<Status> {
        let k = key.trim_matches(|c| c == '\'' || c == '"');
        if k == "default" {
            return Some(Status::Default);
        }
        if k.len() == 3 && k[1..].eq_ignore_ascii_case("XX") {
            return k[..1].parse().ok().map(Status::Range);
        }
        k.parse().ok().map(Status::Code)
    }

    fn value(self) -> u16 {
        match self {
            Status::Code(c) => c,
            Status::Range(r) => r * 100,
            Status::Default => 1000,
        }
    }

    /// progenitor's `is_success_or_default`.
    pub fn is_success(self) -> bool {
        matches!(
            self,
            Status::Default | Status::Code(101) | Status::Code(200..=299) | Status::Range(2)
        )
    }

    /// progenitor's `is_error_or_default`.
    pub fn is_error(self) -> bool {
        matches!(
            self,
            Status::Default | Status::Code(400..=599) | Status::Range(4..=5)
        )
    }
}

/// What progenitor makes of a response body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// JSON with a schema; the string identifies the Rust type it becomes.
    Typed(String),
    /// No content.
    None,
    /// Non-JSON content (a byte stream).
    Raw,
    /// A 101 upgrade.
    Upgrade,
}

/// One classified response of an operation.
#[derive(Clone, Debug)]
pub struct Resp {
    /// Key in the `responses` object.
    pub key: String,
    /// Parsed key.
    pub status: Status,
    /// Body kind.
    pub kind: Kind,
    /// The JSON media type key and its schema, for typed responses.
    pub json: Option<(String, Value)>,
    /// Name of the `components/responses` entry it came from, if a `$ref`.
    pub via: Option<String>,
    /// The dereferenced response object.
    pub object: Value,
}

/// Classifies the responses of `op`, `default` first then in document
/// order (progenitor's order).
pub fn classify(spec: &Value, op: &OpRef) -> Result<Vec<Resp>, NormalizeError> {
    let rs_ptr = pointer::join(&op.pointer, "responses");
    let Some(rs) = spec.pointer(&rs_ptr).and_then(Value::as_object) else {
        return Ok(Vec::new());
    };
    let mut keys: Vec<&String> = rs.keys().filter(|k| *k == "default").collect();
    keys.extend(rs.keys().filter(|k| *k != "default"));
    let mut out = Vec::new();
    for key in keys {
        let r_ptr = pointer::join(&rs_ptr, key);
        let raw = &rs[key.as_str()];
        let object = super::operations::resolve(spec, raw, op, &r_ptr)?;
        let via = pointer::as_ref(raw).map(|r| pointer::ref_name(r).to_string());
        let Some(status) = Status::parse(key) else {
            continue;
        };
        let content = object.get("content").and_then(Value::as_object);
        let json_mt = content.and_then(|c| {
            c.iter()
                .find(|(k, _)| *k == "application/json" || k.starts_with("application/json;"))
        });
        let (kind, json) = match json_mt {
            Some((k, mt)) => match mt.get("schema") {
                Some(schema) => (
                    Kind::Typed(identity(schema)),
                    Some((k.clone(), schema.clone())),
                ),
                None => (Kind::Typed(String::new()), None),
            },
            None if status == Status::Code(101) => (Kind::Upgrade, None),
            None if content.is_some_and(|c| !c.is_empty()) => (Kind::Raw, None),
            None => (Kind::None, None),
        };
        out.push(Resp {
            key: key.clone(),
            status,
            kind,
            json,
            via,
            object: object.clone(),
        });
    }
    Ok(out)
}

/// The Rust type a schema becomes: a `$ref` names its component type; an
/// inline schema is identified by its content.
fn identity(schema: &Value) -> String {
    match pointer::as_ref(schema) {
        Some(r) => format!("ref:{r}"),
        None => format!("inline:{schema}"),
    }
}

/// progenitor's `extract_responses` selection: filter, stable sort by status,
/// and drop a trailing `default` that follows a `2XX`.
pub fn group(resps: &[Resp], filter: fn(Status) -> bool) -> Vec<&Resp> {
    let mut items: Vec<&Resp> = resps.iter().filter(|r| filter(r.status)).collect();
    items.sort_by_key(|r| r.status.value());
    let n = items.len();
    if n >= 2 && items[n - 2].status == Status::Range(2) && items[n - 1].status == Status::Default {
        items.pop();
    }
    items
}

/// `true` if progenitor would see more than one body type in the group.
pub fn needs_merge(items: &[&Resp]) -> bool {
    items.iter().any(|r| r.kind != items[0].kind)
}

/// Rewrites `members` (responses of `op`) to share a new `oneOf` schema named
/// after `name_base`. Returns `Err(reason)` if some member has no JSON body,
/// which no schema can express.
pub fn merge(
    spec: &mut Value,
    op: &OpRef,
    members: &[Resp],
    name_base: &str,
    rule: &'static str,
    changes: &mut Vec<Change>,
) -> Result<(), String> {
    if let Some(bad) = members.iter().find(|r| r.json.is_none()) {
        return Err(format!(
            "responses {:?} mix body kinds ({:?} for {}); progenitor 0.15.1 needs one body type per \
             success/error group and an empty or non-JSON body has no schema to combine",
            members.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
            bad.kind,
            bad.key
        ));
    }
    let op_id = op.operation_id.clone();
    let label = op.label();
    // One variant per distinct type, in progenitor's status order.
    let mut variants: Vec<Value> = Vec::new();
    let mut seen: Vec<&Kind> = Vec::new();
    for r in members {
        if seen.contains(&&r.kind) {
            continue;
        }
        seen.push(&r.kind);
        let Some((_, schema)) = r.json.as_ref() else {
            continue;
        };
        if pointer::as_ref(schema).is_some() {
            variants.push(schema.clone());
            continue;
        }
        let base = match &r.via {
            Some(v) => v.clone(),
            None => format!("{label}-{}-body", r.key),
        };
        let existing = naming::pascal(&base);
        let name = if spec.pointer(&format!(
            "/components/schemas/{}",
            pointer::escape(&existing)
        )) == Some(schema)
        {
            existing
        } else {
            let name = naming::fresh_schema_name(spec, &base);
            insert_schema(spec, &name, schema.clone());
            changes.push(Change {
                pointer: pointer::join("/components/schemas", &name),
                operation: op_id.clone(),
                rule,
                detail: format!(
                    "hoisted inline schema of response {} to components/schemas/{name}",
                    r.key
                ),
            });
            name
        };
        variants.push(json!({"$ref": format!("#/components/schemas/{}", pointer::escape(&name))}));
    }
    let keys: Vec<&str> = members.iter().map(|r| r.key.as_str()).collect();
    let name = naming::fresh_schema_name(spec, name_base);
    let names: Vec<&str> = variants
        .iter()
        .map(|v| pointer::as_ref(v).map(pointer::ref_name).unwrap_or("?"))
        .collect();
    insert_schema(
        spec,
        &name,
        json!({
            "description": format!(
                "Body of a {} response of `{label}`: one of the schemas those responses declare.",
                keys.join("/")
            ),
            "oneOf": variants,
        }),
    );
    changes.push(Change {
        pointer: pointer::join("/components/schemas", &name),
        operation: op_id.clone(),
        rule,
        detail: format!("added oneOf {names:?} for responses {keys:?}"),
    });
    let rs_ptr = pointer::join(&op.pointer, "responses");
    for r in members {
        let Some((mt, _)) = r.json.as_ref() else {
            continue;
        };
        let mut object = r.object.clone();
        object["content"][mt.as_str()]["schema"] =
            json!({"$ref": format!("#/components/schemas/{name}")});
        if let Some(slot) = spec.pointer_mut(&pointer::join(&rs_ptr, &r.key)) {
            *slot = object;
        }
    }
    changes.push(Change {
        pointer: rs_ptr,
        operation: op_id,
        rule,
        detail: format!(
            "responses {keys:?} (status codes unchanged) now use components/schemas/{name}"
        ),
    });
    Ok(())
}

fn insert_schema(spec: &mut Value, name: &str, schema: Value) {
    if !spec.get("components").is_some_and(Value::is_object) {
        spec["components"] = json!({});
    }
    if !spec["components"]
        .get("schemas")
        .is_some_and(Value::is_object)
    {
        spec["components"]["schemas"] = json!({});
    }
    spec["components"]["schemas"][name] = schema;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_groups_like_progenitor() {
        assert_eq!(Status::parse("4xx"), Some(Status::Range(4)));
        assert_eq!(Status::parse("201"), Some(Status::Code(201)));
        let spec = json!({"paths": {"/x": {"get": {"operationId": "x", "responses": {
            "2XX": {"description": "", "content": {"application/json": {"schema": {"type": "string"}}}},
            "default": {"description": "", "content": {"application/json": {"schema": {"type": "integer"}}}}}}}}});
        let op = &super::super::operations::list(&spec)[0];
        let resps = classify(&spec, op).unwrap();
        assert_eq!(resps[0].key, "default");
        // a default after 2XX is never reached on success
        assert_eq!(group(&resps, Status::is_success).len(), 1);
        assert!(!needs_merge(&group(&resps, Status::is_success)));
    }
}

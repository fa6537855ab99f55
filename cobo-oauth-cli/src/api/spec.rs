//! The OpenAPI spec the `api` command checks against: its operations, their parameters and the
//! top-level properties of their JSON bodies, read from the spec as JSON values.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::run::CliError;

/// Cobo's official spec (a copy of the workspace's `openapi/cobo-waas2-openapi.yaml`, checked
/// equal by a test), embedded so that the command works anywhere.
pub const OFFICIAL_SPEC: &str = include_str!("../../openapi/cobo-waas2-openapi.yaml");

/// The methods an OpenAPI path item may hold.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One parameter of an operation.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    /// `path` or `query` (header and cookie parameters are not offered).
    pub location: String,
    pub required: bool,
    pub schema: Value,
    pub description: String,
}

/// What the JSON body of an operation may hold.
#[derive(Debug, Clone, Default)]
pub struct Body {
    pub required: bool,
    /// The media type (`application/json`, `multipart/form-data`, ...).
    pub media_type: String,
    /// Its top-level properties, when the schema lists them (else any object is accepted).
    pub properties: Option<BTreeSet<String>>,
    /// The top-level properties it requires (of a schema that is not a `oneOf`/`anyOf`).
    pub required_properties: BTreeSet<String>,
    /// The JSON type of the body (`object`, `array`, ...), when the schema says one.
    pub json_type: Option<String>,
}

/// One operation of the spec.
#[derive(Debug, Clone)]
pub struct Op {
    pub id: String,
    pub method: String,
    pub path: String,
    pub summary: String,
    pub accepts_oauth2: bool,
    pub params: Vec<Param>,
    pub body: Option<Body>,
}

/// A parsed spec.
#[derive(Debug)]
pub struct Spec {
    pub ops: Vec<Op>,
}

impl Spec {
    /// Parses a spec (YAML or JSON).
    pub fn parse(text: &str) -> Result<Self, CliError> {
        let root: Value = serde_yaml::from_str(text)
            .map_err(|e| CliError::Usage(format!("the spec is not YAML or JSON: {e}")))?;
        let global_oauth2 = has_oauth2(root.get("security"));
        let mut ops = Vec::new();
        let paths = root.get("paths").and_then(Value::as_object);
        for (path, item) in paths.into_iter().flatten() {
            let item = resolve(&root, item);
            let shared: Vec<&Value> = item
                .get("parameters")
                .and_then(Value::as_array)
                .map(|a| a.iter().collect())
                .unwrap_or_default();
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let mut params: Vec<Param> = Vec::new();
                let own = op.get("parameters").and_then(Value::as_array);
                // An operation's own parameter replaces a path item's of the same name and place.
                for raw in own.into_iter().flatten().chain(shared.iter().copied()) {
                    let Some(param) = param(&root, raw) else {
                        continue;
                    };
                    if !params
                        .iter()
                        .any(|p| p.name == param.name && p.location == param.location)
                    {
                        params.push(param);
                    }
                }
                ops.push(Op {
                    id: text_of(op, "operationId"),
                    method: method.to_ascii_uppercase(),
                    path: path.clone(),
                    summary: text_of(op, "summary"),
                    accepts_oauth2: match op.get("security") {
                        Some(security) => has_oauth2(Some(security)),
                        None => global_oauth2,
                    },
                    params,
                    body: op.get("requestBody").map(|b| body(&root, b)),
                });
            }
        }
        ops.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
        Ok(Self { ops })
    }
}

fn text_of(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Whether a `security` list names the `OAuth2` scheme.
fn has_oauth2(security: Option<&Value>) -> bool {
    security
        .and_then(Value::as_array)
        .is_some_and(|list| list.iter().any(|r| r.get("OAuth2").is_some()))
}

/// `value`, or what its `$ref` (a local JSON pointer) names, followed up to a few times.
pub fn resolve<'a>(root: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..16 {
        let Some(pointer) = value.get("$ref").and_then(Value::as_str) else {
            return value;
        };
        match pointer.strip_prefix('#').and_then(|p| root.pointer(p)) {
            Some(target) => value = target,
            None => return value,
        }
    }
    value
}

fn param(root: &Value, raw: &Value) -> Option<Param> {
    let p = resolve(root, raw);
    let location = text_of(p, "in");
    if location != "path" && location != "query" {
        return None;
    }
    Some(Param {
        name: text_of(p, "name"),
        required: p.get("required").and_then(Value::as_bool).unwrap_or(false),
        schema: p
            .get("schema")
            .map(|s| resolve(root, s).clone())
            .unwrap_or(Value::Null),
        description: text_of(p, "description")
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned(),
        location,
    })
}

fn body(root: &Value, raw: &Value) -> Body {
    let b = resolve(root, raw);
    let content = b.get("content").and_then(Value::as_object);
    let (media_type, schema) = content
        .and_then(|c| c.iter().next())
        .map(|(media, m)| {
            (
                media.clone(),
                m.get("schema")
                    .map(|s| resolve(root, s))
                    .unwrap_or(&Value::Null),
            )
        })
        .unwrap_or_default();
    let mut properties = BTreeSet::new();
    let mut required_properties = BTreeSet::new();
    let open = collect(
        root,
        schema,
        &mut properties,
        &mut required_properties,
        true,
    );
    // A required property is a valid one, even where the spec forgets to list it (the official
    // `TransferParams` requires `request_type` without describing it).
    properties.extend(required_properties.iter().cloned());
    Body {
        required: b.get("required").and_then(Value::as_bool).unwrap_or(false),
        media_type,
        json_type: json_type(root, schema, &mut Vec::new(), 0),
        properties: (!open && !properties.is_empty()).then_some(properties),
        required_properties,
    }
}

/// The JSON type values of `schema` have: its `type`; `object` for a schema that describes
/// properties; the type all its `allOf` members give, or all its `oneOf` / `anyOf` variants;
/// else `None` (any type).
fn json_type<'r>(
    root: &'r Value,
    schema: &'r Value,
    expanding: &mut Vec<&'r str>,
    depth: usize,
) -> Option<String> {
    let pointer = schema.get("$ref").and_then(Value::as_str);
    if depth > MAX_DEPTH || pointer.is_some_and(|p| expanding.contains(&p)) {
        return None;
    }
    expanding.extend(pointer);
    let schema = resolve(root, schema);
    let found = if let Some(own) = schema.get("type").and_then(Value::as_str) {
        Some(own.to_owned())
    } else if ["properties", "required", "additionalProperties"]
        .iter()
        .any(|key| schema.get(key).is_some())
    {
        Some("object".to_owned())
    } else {
        let mut of = |key: &str, every: bool| {
            let members = schema.get(key).and_then(Value::as_array)?;
            let types: Vec<Option<String>> = members
                .iter()
                .map(|m| json_type(root, m, expanding, depth + 1))
                .collect();
            if every {
                // All of them: any one that says a type says the type.
                types.into_iter().flatten().next()
            } else {
                // One of them: a type only when every variant has that one.
                let first = types.first().cloned().flatten()?;
                types
                    .iter()
                    .all(|t| t.as_deref() == Some(first.as_str()))
                    .then_some(first)
            }
        };
        of("allOf", true)
            .or_else(|| of("oneOf", false))
            .or_else(|| of("anyOf", false))
    };
    if pointer.is_some() {
        expanding.pop();
    }
    found
}

/// How deep [`collect`] follows nested `allOf` / `oneOf` / `anyOf` members; a schema nested
/// deeper is taken as accepting any property (nothing refused that the spec may allow).
const MAX_DEPTH: usize = 32;

/// Gathers the top-level properties of `schema` (through `allOf`, and of every `oneOf` /
/// `anyOf` variant), and the required ones where every value must have them. True when the
/// schema accepts properties it does not list. A `$ref` met again inside its own expansion (a
/// recursive schema, `A: {allOf: [$ref A]}`) adds nothing new and is skipped.
fn collect(
    root: &Value,
    schema: &Value,
    properties: &mut BTreeSet<String>,
    required: &mut BTreeSet<String>,
    must: bool,
) -> bool {
    collect_within(
        root,
        schema,
        &mut Gathered {
            properties,
            required,
            expanding: Vec::new(),
        },
        must,
        0,
    )
}

/// What [`collect`] gathers, and the `$ref`s it is expanding (the way down to here).
struct Gathered<'g, 'r> {
    properties: &'g mut BTreeSet<String>,
    required: &'g mut BTreeSet<String>,
    expanding: Vec<&'r str>,
}

fn collect_within<'r>(
    root: &'r Value,
    schema: &'r Value,
    gathered: &mut Gathered<'_, 'r>,
    must: bool,
    depth: usize,
) -> bool {
    if depth > MAX_DEPTH {
        return true;
    }
    let pointer = schema.get("$ref").and_then(Value::as_str);
    if let Some(pointer) = pointer {
        if gathered.expanding.contains(&pointer) {
            return false;
        }
        gathered.expanding.push(pointer);
    }
    let schema = resolve(root, schema);
    let mut open = schema
        .get("additionalProperties")
        .is_some_and(|a| a != &Value::Bool(false));
    if let Some(own) = schema.get("properties").and_then(Value::as_object) {
        gathered.properties.extend(own.keys().cloned());
    }
    if must && let Some(list) = schema.get("required").and_then(Value::as_array) {
        gathered
            .required
            .extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    for (key, all) in [("allOf", must), ("oneOf", false), ("anyOf", false)] {
        for member in schema
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            open |= collect_within(root, member, gathered, all, depth + 1);
        }
    }
    if pointer.is_some() {
        gathered.expanding.pop();
    }
    open
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_official_spec_has_its_270_operations_with_their_parameters() {
        let spec = Spec::parse(OFFICIAL_SPEC).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(spec.ops.len(), 270);
        let get_wallet = spec
            .ops
            .iter()
            .find(|o| o.id == "get_wallet_by_id")
            .unwrap_or_else(|| panic!("no get_wallet_by_id"));
        assert_eq!(
            (get_wallet.method.as_str(), get_wallet.path.as_str()),
            ("GET", "/wallets/{wallet_id}")
        );
        // A path item's parameter, shared by its operations.
        assert!(
            get_wallet
                .params
                .iter()
                .any(|p| p.name == "wallet_id" && p.location == "path" && p.required)
        );
        assert!(get_wallet.accepts_oauth2);
        let token = spec.ops.iter().find(|o| o.id == "get_token");
        assert!(token.is_some_and(|o| !o.accepts_oauth2));
        let transfer = spec
            .ops
            .iter()
            .find(|o| o.id == "create_transfer_transaction")
            .and_then(|o| o.body.clone())
            .unwrap_or_default();
        // Not marked required in the spec, but its schema requires properties.
        assert!(!transfer.required);
        assert_eq!(transfer.json_type.as_deref(), Some("object"));
        assert!(transfer.required_properties.contains("request_id"));
        assert!(
            transfer
                .properties
                .as_ref()
                .is_some_and(|p| p.contains("request_type"))
        );
        assert!(
            transfer
                .properties
                .is_some_and(|p| p.contains("destination"))
        );
    }

    #[test]
    fn a_recursive_schema_is_read_without_recursing_forever() {
        // `A` is all of itself and more; `B` and `C` are one of each other.
        let spec = r##"
openapi: 3.0.3
paths:
  /things:
    post:
      operationId: create_thing
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/A'}
  /others:
    post:
      operationId: create_other
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/B'}
components:
  schemas:
    A:
      allOf:
        - $ref: '#/components/schemas/A'
        - type: object
          required: [name]
          properties: {name: {type: string}}
    B:
      type: object
      properties: {b: {type: string}}
      oneOf: [{$ref: '#/components/schemas/C'}]
    C:
      type: object
      properties: {c: {type: string}}
      anyOf: [{$ref: '#/components/schemas/B'}]
"##;
        let spec = Spec::parse(spec).unwrap_or_else(|e| panic!("{e}"));
        let body = |id: &str| {
            spec.ops
                .iter()
                .find(|o| o.id == id)
                .and_then(|o| o.body.clone())
                .unwrap_or_default()
        };
        let thing = body("create_thing");
        assert_eq!(
            thing
                .properties
                .unwrap_or_default()
                .into_iter()
                .collect::<Vec<_>>(),
            ["name"]
        );
        assert!(thing.required_properties.contains("name"));
        assert_eq!(thing.json_type.as_deref(), Some("object"));
        let other = body("create_other");
        assert_eq!(
            other
                .properties
                .unwrap_or_default()
                .into_iter()
                .collect::<Vec<_>>(),
            ["b", "c"]
        );
    }

    #[test]
    fn a_schema_nested_too_deep_accepts_any_property() {
        let mut schema = serde_json::json!({"properties": {"deep": {}}});
        for _ in 0..=MAX_DEPTH {
            schema = serde_json::json!({"allOf": [schema]});
        }
        let (mut properties, mut required) = (BTreeSet::new(), BTreeSet::new());
        assert!(collect(
            &Value::Null,
            &schema,
            &mut properties,
            &mut required,
            true
        ));
        assert!(properties.is_empty());
    }

    #[test]
    fn the_embedded_copy_is_the_workspaces_official_spec() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../openapi/cobo-waas2-openapi.yaml"
        );
        let workspace = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            workspace == OFFICIAL_SPEC,
            "cobo-oauth-cli/openapi/cobo-waas2-openapi.yaml differs from openapi/cobo-waas2-openapi.yaml: copy it again"
        );
    }
}

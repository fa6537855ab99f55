//! Rule `error-responses`: an operation whose error responses (4XX, 5XX, 4xx, 5xx) carry
//! different schemas.
//!
//! progenitor generates one error type per operation and panics on two
//! (`assertion failed: response_types.len() <= 1`). Cobo's `/oauth/token` has exactly that: 4XX
//! `{error, error_description}` and 5XX `ErrorResponse`. The rule adds one schema per set of error
//! bodies, a `oneOf` of them (named `AOrB`), and points each error response of the operation at
//! it. Status codes, descriptions and both shapes are kept, so the generated error still tells
//! them apart, with the HTTP status.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::pointer::resolve;
use super::{Change, NormalizeError, for_each_operation, operation_id, pointer};

const RULE: &str = "error-responses";

fn is_error_status(status: &str) -> bool {
    status.starts_with('4') || status.starts_with('5')
}

fn pascal(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// One distinct error body of an operation.
struct Member {
    name: String,
    schema: Value,
}

/// Applies the rule.
pub fn apply(spec: &mut Value, changes: &mut Vec<Change>) -> Result<(), NormalizeError> {
    let original = spec.clone();
    let existing = original["components"]["schemas"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut added: BTreeMap<String, Value> = BTreeMap::new();

    for_each_operation(spec, |path, method, operation| {
        let id = operation_id(path, method, operation);
        let Some(responses) = operation.get("responses").and_then(Value::as_object) else {
            return Ok(());
        };
        let mut errors = Vec::new();
        let mut members: Vec<Member> = Vec::new();
        for (status, response) in responses
            .iter()
            .filter(|(status, _)| is_error_status(status))
        {
            let at = pointer(&["paths", path, method, "responses", status]);
            let resolved =
                resolve(&original, response).ok_or_else(|| NormalizeError::Unsupported {
                    operation: id.clone(),
                    pointer: at.clone(),
                    reason: "unresolvable $ref".to_owned(),
                })?;
            let Some(schema) = resolved.pointer("/content/application~1json/schema") else {
                continue;
            };
            if !members.iter().any(|m| &m.schema == schema) {
                let name = match schema.get("$ref").and_then(Value::as_str) {
                    Some(reference) => reference.rsplit('/').next().unwrap_or_default().to_owned(),
                    None => {
                        let base = response
                            .get("$ref")
                            .and_then(Value::as_str)
                            .map(|r| pascal(r.rsplit('/').next().unwrap_or_default()))
                            .unwrap_or_else(|| format!("{}{}", pascal(&id), pascal(status)));
                        format!("{base}Body")
                    }
                };
                members.push(Member {
                    name,
                    schema: schema.clone(),
                });
            }
            errors.push((status.clone(), resolved.clone(), at));
        }
        if members.len() <= 1 {
            return Ok(());
        }
        for member in members.iter().filter(|m| m.schema.get("$ref").is_none()) {
            match existing
                .get(&member.name)
                .or_else(|| added.get(&member.name))
            {
                Some(other) if other != &member.schema => {
                    return Err(NormalizeError::Unsupported {
                        operation: id.clone(),
                        pointer: pointer(&["paths", path, method, "responses"]),
                        reason: format!(
                            "schema name {} is taken by a different schema",
                            member.name
                        ),
                    });
                }
                _ => {
                    added.insert(member.name.clone(), member.schema.clone());
                }
            }
        }
        let combined = members
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>()
            .join("Or");
        let refs: Vec<Value> = members
            .iter()
            .map(|m| json!({ "$ref": format!("#/components/schemas/{}", m.name) }))
            .collect();
        added.insert(
            combined.clone(),
            json!({
                "description": format!("One of the error bodies: {}.", members.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ")),
                "oneOf": refs,
            }),
        );
        for (status, mut resolved, at) in errors {
            if let Some(schema) = resolved.pointer_mut("/content/application~1json/schema") {
                *schema = json!({ "$ref": format!("#/components/schemas/{combined}") });
            }
            operation["responses"][status.as_str()] = resolved;
            changes.push(Change {
                pointer: at,
                operation: Some(id.clone()),
                rule: RULE,
                detail: format!(
                    "error body is now #/components/schemas/{combined} (a oneOf keeping each shape)"
                ),
            });
        }
        Ok(())
    })?;

    if !added.is_empty() {
        let schemas = spec
            .as_object_mut()
            .map(|root| root.entry("components").or_insert_with(|| json!({})))
            .and_then(|components| components.as_object_mut())
            .map(|components| components.entry("schemas").or_insert_with(|| json!({})));
        if let Some(Value::Object(schemas)) = schemas {
            for (name, schema) in added {
                if !schemas.contains_key(&name) {
                    changes.push(Change {
                        pointer: pointer(&["components", "schemas", &name]),
                        operation: None,
                        rule: RULE,
                        detail: "added".to_owned(),
                    });
                    schemas.insert(name, schema);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Value {
        json!({
            "openapi": "3.0.3",
            "paths": {
                "/t": {
                    "get": {
                        "operationId": "get_t",
                        "responses": {
                            "2XX": {"description": "ok"},
                            "4XX": {"$ref": "#/components/responses/oauthError"},
                            "5XX": {"description": "boom", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
                        }
                    }
                },
                "/same": {"get": {"operationId": "same", "responses": {
                    "4XX": {"description": "a", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}},
                    "5XX": {"description": "b", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
                }}}
            },
            "components": {
                "schemas": {"ErrorResponse": {"type": "object", "required": ["error_code"], "properties": {"error_code": {"type": "integer"}}}},
                "responses": {"oauthError": {"description": "unauthorized", "content": {"application/json": {"schema": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}}}}}
            }
        })
    }

    #[test]
    fn combines_different_error_bodies_and_keeps_each_shape() {
        let mut spec = spec();
        let before_same = spec["paths"]["/same"].clone();
        let mut changes = Vec::new();
        apply(&mut spec, &mut changes).unwrap();
        let combined = "#/components/schemas/OauthErrorBodyOrErrorResponse";
        for status in ["4XX", "5XX"] {
            assert_eq!(
                spec["paths"]["/t"]["get"]["responses"][status]["content"]["application/json"]["schema"]
                    ["$ref"],
                combined
            );
        }
        assert_eq!(
            spec["paths"]["/t"]["get"]["responses"]["4XX"]["description"],
            "unauthorized"
        );
        assert_eq!(
            spec["paths"]["/t"]["get"]["responses"]["5XX"]["description"],
            "boom"
        );
        assert_eq!(
            spec["components"]["schemas"]["OauthErrorBodyOrErrorResponse"]["oneOf"],
            json!([{"$ref": "#/components/schemas/OauthErrorBody"}, {"$ref": "#/components/schemas/ErrorResponse"}])
        );
        assert_eq!(
            spec["components"]["schemas"]["OauthErrorBody"]["required"],
            json!(["error"])
        );
        assert_eq!(
            spec["paths"]["/same"], before_same,
            "an operation progenitor takes is untouched"
        );
        assert_eq!(
            spec["components"]["responses"],
            self::spec()["components"]["responses"],
            "shared responses untouched"
        );
        assert_eq!(changes.len(), 4);
        assert!(changes.iter().all(|c| c.rule == RULE));
        assert_eq!(changes[0].pointer, "/paths/~1t/get/responses/4XX");
    }

    #[test]
    fn an_unresolvable_ref_names_the_operation_and_pointer() {
        let mut spec = spec();
        spec["paths"]["/t"]["get"]["responses"]["4XX"] =
            json!({"$ref": "#/components/responses/missing"});
        let error = apply(&mut spec, &mut Vec::new()).unwrap_err().to_string();
        assert!(
            error.contains("get_t") && error.contains("/paths/~1t/get/responses/4XX"),
            "{error}"
        );
    }
}

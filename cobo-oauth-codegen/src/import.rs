//! Subset import: copy operations (by `operationId`, by tag, or by method and path) from a
//! source spec, Cobo's official one usually, into your own, with every component they
//! reference and the security schemes and tags they name.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use serde_json::{Value, json};

use crate::error::CodegenError;
use crate::normalize::operations::{self, OpRef};
use crate::normalize::pointer;
use crate::spec;

/// Which operations to copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Select {
    /// The operation with this `operationId`, e.g. `list_wallets`.
    OperationId(String),
    /// Every operation with this tag, e.g. `Wallets`.
    Tag(String),
    /// The operation at this method and path, e.g. `GET` `/wallets`.
    Route {
        /// HTTP method, any case.
        method: String,
        /// Path template as in the spec, e.g. `/wallets/{wallet_id}`.
        path: String,
    },
}

impl fmt::Display for Select {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OperationId(id) => write!(f, "operationId {id}"),
            Self::Tag(tag) => write!(f, "tag {tag}"),
            Self::Route { method, path } => write!(f, "{} {path}", method.to_uppercase()),
        }
    }
}

/// Why operations could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Nothing in the source matches a selection.
    #[error("no operation of the source spec matches {0}")]
    NotFound(Select),
    /// The target already has something else under this pointer.
    #[error("{pointer} differs between the source spec and yours; reconcile it by hand")]
    Conflict {
        /// JSON pointer of the operation or component.
        pointer: String,
    },
    /// What the source has where an operation belongs is not an object.
    #[error("{pointer} in the source spec is not an operation object")]
    NotAnOperation {
        /// JSON pointer of the offending value, e.g. `/paths/~1wallets/get`.
        pointer: String,
    },
    /// A spec is not an object with a `paths` object.
    #[error("{0} is not an OpenAPI document with a `paths` object")]
    NotASpec(&'static str),
    /// The target has something of the wrong type where the import writes.
    #[error(
        "{pointer} in the target spec is not what OpenAPI puts there (an object, or the tags' array)"
    )]
    Malformed {
        /// JSON pointer of the offending value.
        pointer: String,
    },
    /// A `$ref` in what is imported points outside `#/components/`, or nowhere.
    #[error("the reference {reference} does not resolve to a component of the source spec")]
    Reference {
        /// The `$ref` string.
        reference: String,
    },
}

/// What an import copied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Imported {
    /// The operations added, as `METHOD path (operationId)`.
    pub operations: Vec<String>,
    /// The operations that were already there, identical.
    pub unchanged: Vec<String>,
    /// How many components (schemas, responses, parameters, security schemes...) were added.
    pub components: usize,
}

/// Copies the operations `selection` picks from `source` into `target`. On an error `target`
/// is left as it was.
pub fn import(
    source: &Value,
    target: &mut Value,
    selection: &[Select],
) -> Result<Imported, ImportError> {
    let mut draft = target.clone();
    let imported = import_into(source, &mut draft, selection)?;
    *target = draft;
    Ok(imported)
}

fn import_into(
    source: &Value,
    target: &mut Value,
    selection: &[Select],
) -> Result<Imported, ImportError> {
    if !source.get("paths").is_some_and(Value::is_object) {
        return Err(ImportError::NotASpec("the source"));
    }
    check_shape(target)?;
    let chosen = choose(source, selection)?;
    let mut imported = Imported::default();
    let mut roots: Vec<Value> = Vec::new();
    let mut schemes = BTreeSet::new();
    let mut tags = BTreeSet::new();
    for op in &chosen {
        let mut operation = match source.pointer(&op.pointer) {
            Some(operation @ Value::Object(_)) => operation.clone(),
            _ => {
                return Err(ImportError::NotAnOperation {
                    pointer: op.pointer.clone(),
                });
            }
        };
        if operation.get("security").is_none() && source.get("security") != target.get("security") {
            // The source's document-wide requirement applies to it: say so in the operation,
            // so that it means the same in a document whose requirement differs.
            operation["security"] = source.get("security").cloned().unwrap_or(json!([]));
        }
        let label = format!(
            "{} {} ({})",
            op.method.to_uppercase(),
            op.path,
            op.operation_id.as_deref().unwrap_or("no operationId")
        );
        schemes.extend(security_schemes(source, &operation));
        tags.extend(
            operation["tags"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned),
        );
        let shared = source["paths"][&op.path].get("parameters").cloned();
        roots.extend(shared.clone());
        roots.push(operation.clone());
        match target["paths"]
            .get(&op.path)
            .and_then(|i| i.get(&op.method))
        {
            Some(existing) if existing == &operation => imported.unchanged.push(label),
            Some(_) => {
                return Err(ImportError::Conflict {
                    pointer: op.pointer.clone(),
                });
            }
            None => {
                let item = &mut target["paths"][&op.path];
                if let Some(shared) = shared {
                    match item.get("parameters") {
                        Some(existing) if existing != &shared => {
                            return Err(ImportError::Conflict {
                                pointer: pointer::join(
                                    &pointer::join("/paths", &op.path),
                                    "parameters",
                                ),
                            });
                        }
                        _ => item["parameters"] = shared,
                    }
                }
                item[&op.method] = operation;
                imported.operations.push(label);
            }
        }
    }
    let mut components: BTreeSet<String> = schemes
        .iter()
        .map(|name| pointer::join("/components/securitySchemes", name))
        .filter(|p| source.pointer(p).is_some())
        .collect();
    roots.extend(components.iter().filter_map(|p| source.pointer(p).cloned()));
    components.extend(referenced_components(source, &roots)?);
    for component in &components {
        imported.components += copy_component(source, target, component)?;
    }
    copy_tags(source, target, &tags);
    Ok(imported)
}

/// Checks that `target` can take operations and components where the import puts them, so
/// that a malformed spec is an error naming the place, never a panic.
fn check_shape(target: &Value) -> Result<(), ImportError> {
    let malformed = |pointer: String| Err(ImportError::Malformed { pointer });
    let Some(paths) = target.get("paths").and_then(Value::as_object) else {
        return Err(ImportError::NotASpec("the target"));
    };
    for (path, item) in paths {
        if !item.is_object() {
            return malformed(pointer::join("/paths", path));
        }
    }
    match target.get("components") {
        None => {}
        Some(Value::Object(sections)) => {
            for (section, entries) in sections {
                if !entries.is_object() {
                    return malformed(pointer::join("/components", section));
                }
            }
        }
        Some(_) => return malformed("/components".to_owned()),
    }
    match target.get("tags") {
        None | Some(Value::Array(_)) => Ok(()),
        Some(_) => malformed("/tags".to_owned()),
    }
}

/// The components (as `/components/<kind>/<name>` pointers) that `roots` reach through
/// `$ref`s, following each whole component (a `$ref` may point inside one, e.g. to a
/// property). A reference outside `#/components/`, or one that does not resolve, is an error:
/// the imported spec would not stand alone.
fn referenced_components(source: &Value, roots: &[Value]) -> Result<BTreeSet<String>, ImportError> {
    let mut found = BTreeSet::new();
    let mut stack: Vec<&Value> = roots.iter().collect();
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(object) => {
                if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
                    let unresolved = || ImportError::Reference {
                        reference: reference.to_owned(),
                    };
                    let component = component_of(reference).ok_or_else(unresolved)?;
                    if !found.contains(&component) {
                        stack.push(source.pointer(&component).ok_or_else(unresolved)?);
                        found.insert(component);
                    }
                }
                stack.extend(object.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    Ok(found)
}

/// The pointer of the component a local reference points into: `#/components/schemas/A/properties/b`
/// → `/components/schemas/A`.
fn component_of(reference: &str) -> Option<String> {
    let rest = reference.strip_prefix("#/components/")?;
    let mut segments = rest.split('/');
    let (kind, name) = (segments.next()?, segments.next()?);
    (!kind.is_empty() && !name.is_empty()).then(|| format!("/components/{kind}/{name}"))
}

/// Imports into the spec file at `into` (created from the source's header when missing) and
/// writes it back as YAML, keeping its leading comment lines.
pub fn import_file(
    from: &Path,
    into: &Path,
    selection: &[Select],
) -> Result<Imported, CodegenError> {
    let source = spec::load_spec(from)?;
    let mut target = if into.exists() {
        spec::load_spec(into)?
    } else {
        empty_like(&source, into)
    };
    let imported = import(&source, &mut target, selection)?;
    // Nothing new: the file (its comments, its layout) is left as it is.
    if !into.exists() || !imported.operations.is_empty() || imported.components > 0 {
        spec::save_yaml(into, &target)?;
    }
    Ok(imported)
}

/// The operations of `source` that `selection` picks, each once, in the source's order.
fn choose(source: &Value, selection: &[Select]) -> Result<Vec<OpRef>, ImportError> {
    let all = operations::list(source);
    let mut chosen: Vec<OpRef> = Vec::new();
    for select in selection {
        let matches: Vec<&OpRef> = all
            .iter()
            .filter(|op| match select {
                Select::OperationId(id) => op.operation_id.as_deref() == Some(id.as_str()),
                Select::Tag(tag) => source
                    .pointer(&op.pointer)
                    .and_then(|o| o.get("tags"))
                    .and_then(Value::as_array)
                    .is_some_and(|tags| tags.iter().any(|t| t.as_str() == Some(tag.as_str()))),
                Select::Route { method, path } => {
                    op.method.eq_ignore_ascii_case(method) && &op.path == path
                }
            })
            .collect();
        if matches.is_empty() {
            return Err(ImportError::NotFound(select.clone()));
        }
        for op in matches {
            if !chosen.contains(op) {
                chosen.push(op.clone());
            }
        }
    }
    Ok(chosen)
}

/// The security schemes an operation names (by name, not by `$ref`), or the source document's
/// when it names none.
fn security_schemes(source: &Value, operation: &Value) -> BTreeSet<String> {
    operation
        .get("security")
        .or_else(|| source.get("security"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|requirement| requirement.keys().cloned())
        .collect()
}

/// Copies the component at `reference` (a JSON pointer) unless `target` has it, identical.
fn copy_component(
    source: &Value,
    target: &mut Value,
    reference: &str,
) -> Result<usize, ImportError> {
    let segments: Vec<String> = reference
        .trim_start_matches('/')
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let [components, section, name] = &segments[..] else {
        return Err(ImportError::Reference {
            reference: format!("#{reference}"),
        });
    };
    let Some(wanted) = source.pointer(reference) else {
        return Ok(0);
    };
    match target[components.as_str()][section.as_str()].get(name.as_str()) {
        Some(existing) if existing == wanted => Ok(0),
        Some(_) => Err(ImportError::Conflict {
            pointer: reference.to_owned(),
        }),
        None => {
            target[components.as_str()][section.as_str()][name.as_str()] = wanted.clone();
            Ok(1)
        }
    }
}

/// Adds the source's definitions of `tags` that the target lacks.
fn copy_tags(source: &Value, target: &mut Value, tags: &BTreeSet<String>) {
    let name = |t: &Value| t.get("name").and_then(Value::as_str).map(str::to_owned);
    let present: BTreeSet<String> = target["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(name)
        .collect();
    let missing: Vec<Value> = source["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| name(t).is_some_and(|n| tags.contains(&n) && !present.contains(&n)))
        .cloned()
        .collect();
    if missing.is_empty() {
        return;
    }
    if !target["tags"].is_array() {
        target["tags"] = json!([]);
    }
    if let Some(list) = target["tags"].as_array_mut() {
        list.extend(missing);
    }
}

/// A spec with the source's version, servers and security, and no operations yet.
fn empty_like(source: &Value, path: &Path) -> Value {
    let title = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("cobo-subset");
    let mut spec = json!({
        "openapi": source.get("openapi").cloned().unwrap_or(json!("3.0.3")),
        "info": {
            "title": title,
            "version": source.pointer("/info/version").cloned().unwrap_or(json!("1")),
            "description": "Operations imported from Cobo's official WaaS 2.0 spec with cobo-oauth-codegen.",
        },
    });
    for key in ["servers", "security"] {
        if let Some(value) = source.get(key) {
            spec[key] = value.clone();
        }
    }
    spec["paths"] = json!({});
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> Value {
        json!({
            "openapi": "3.0.3", "info": {"title": "cobo", "version": "2"},
            "security": [{"CoboAuth": []}],
            "tags": [{"name": "Wallets"}, {"name": "Transactions"}],
            "paths": {
                "/wallets": {"get": {"operationId": "list_wallets", "tags": ["Wallets"],
                    "security": [{"OAuth2": []}],
                    "responses": {"200": {"$ref": "#/components/responses/Wallets"}}}},
                "/wallets/{wallet_id}": {
                    "parameters": [{"$ref": "#/components/parameters/wallet_id"}],
                    "get": {"operationId": "get_wallet_by_id", "tags": ["Wallets"], "responses": {}}},
                "/transactions": {"get": {"operationId": "list_transactions", "tags": ["Transactions"], "responses": {}}}
            },
            "components": {
                "securitySchemes": {"CoboAuth": {"type": "apiKey"}, "OAuth2": {"type": "oauth2"}},
                "parameters": {"wallet_id": {"name": "wallet_id", "in": "path", "schema": {"type": "string"}}},
                "responses": {"Wallets": {"description": "", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Wallet"}}}}},
                "schemas": {"Wallet": {"properties": {"chain": {"$ref": "#/components/schemas/Chain"}}},
                            "Chain": {"type": "string"}, "Unused": {}}
            }
        })
    }

    fn empty() -> Value {
        json!({"openapi": "3.0.3", "info": {"title": "mine", "version": "1"}, "paths": {}})
    }

    #[test]
    fn a_tag_brings_its_operations_their_components_schemes_and_tag() {
        let mut target = empty();
        let imported = import(&source(), &mut target, &[Select::Tag("Wallets".into())])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            imported.operations,
            [
                "GET /wallets (list_wallets)",
                "GET /wallets/{wallet_id} (get_wallet_by_id)"
            ]
        );
        let schemas: Vec<&String> = target["components"]["schemas"]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(schemas, ["Chain", "Wallet"]);
        assert!(target.pointer("/components/parameters/wallet_id").is_some());
        assert!(
            target
                .pointer("/paths/~1wallets~1{wallet_id}/parameters")
                .is_some()
        );
        assert!(
            target
                .pointer("/components/securitySchemes/OAuth2")
                .is_some()
        );
        // get_wallet_by_id names no security: the document's (CoboAuth) applies to it.
        assert!(
            target
                .pointer("/components/securitySchemes/CoboAuth")
                .is_some()
        );
        assert_eq!(target["tags"], json!([{"name": "Wallets"}]));
        assert!(target.pointer("/paths/~1transactions").is_none());
        // 2 schemas, 1 response, 1 parameter, 2 security schemes
        assert_eq!(imported.components, 6);
    }

    #[test]
    fn importing_again_changes_nothing_and_a_different_copy_is_a_conflict() {
        let by_id = [
            Select::OperationId("list_transactions".into()),
            Select::Route {
                method: "get".into(),
                path: "/wallets".into(),
            },
        ];
        let mut target = empty();
        import(&source(), &mut target, &by_id).unwrap_or_else(|e| panic!("{e}"));
        let once = target.clone();
        let again = import(&source(), &mut target, &by_id).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(target, once);
        assert!(again.operations.is_empty() && again.components == 0);
        assert_eq!(again.unchanged.len(), 2);

        target["components"]["schemas"]["Chain"] = json!({"type": "integer"});
        target["paths"]
            .as_object_mut()
            .map(|p| p.remove("/wallets"));
        let before = target.clone();
        match import(&source(), &mut target, &by_id) {
            Err(ImportError::Conflict { pointer }) => {
                assert_eq!(pointer, "/components/schemas/Chain")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(target, before, "a failed import leaves the spec as it was");
    }

    #[test]
    fn a_reference_into_a_component_brings_the_whole_component_and_what_it_needs() {
        let mut source = source();
        source["paths"]["/transactions"]["get"]["responses"] = json!({"200": {"description": "", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Wallet/properties/chain"}}}}});
        let mut target = empty();
        import(
            &source,
            &mut target,
            &[Select::OperationId("list_transactions".into())],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(target.pointer("/components/schemas/Wallet").is_some());
        assert!(target.pointer("/components/schemas/Chain").is_some());

        source["paths"]["/transactions"]["get"]["responses"]["200"] =
            json!({"$ref": "#/components/responses/Missing"});
        let error = import(&source, &mut empty(), &[Select::Tag("Transactions".into())])
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some(
                "the reference #/components/responses/Missing does not resolve to a component of the source spec"
            )
        );
    }

    #[test]
    fn a_malformed_target_is_an_error_naming_the_place_not_a_panic() {
        for (key, value, pointer) in [
            ("components", json!("none"), "/components"),
            ("components", json!({"schemas": []}), "/components/schemas"),
            ("tags", json!({}), "/tags"),
            ("paths", json!({"/wallets": "x"}), "/paths/~1wallets"),
        ] {
            let mut target = empty();
            target[key] = value;
            match import(&source(), &mut target, &[Select::Tag("Wallets".into())]) {
                Err(ImportError::Malformed { pointer: found }) => assert_eq!(found, pointer),
                other => panic!("{key}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_operation_keeps_its_meaning_in_a_spec_whose_global_security_differs() {
        let mut target = empty();
        target["security"] = json!([{"OAuth2": []}]);
        import(
            &source(),
            &mut target,
            &[Select::OperationId("list_transactions".into())],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            target["paths"]["/transactions"]["get"]["security"],
            json!([{"CoboAuth": []}])
        );
        assert!(
            target
                .pointer("/components/securitySchemes/CoboAuth")
                .is_some()
        );
    }

    #[test]
    fn an_operation_that_is_not_an_object_is_an_error_naming_it_not_a_panic() {
        for value in [
            json!(5),
            json!([{"operationId": "x"}]),
            json!("x"),
            json!(null),
        ] {
            let mut source = source();
            source["paths"]["/x"] = json!({"get": value});
            // The global requirements differ: the import writes the operation's own.
            let mut target = empty();
            target["security"] = json!([{"OAuth2": []}]);
            let before = target.clone();
            let route = Select::Route {
                method: "GET".into(),
                path: "/x".into(),
            };
            match import(&source, &mut target, &[route]) {
                Err(ImportError::NotAnOperation { pointer }) => {
                    assert_eq!(pointer, "/paths/~1x/get", "{value}");
                }
                other => panic!("{value}: {other:?}"),
            }
            assert_eq!(target, before, "{value}");
        }
    }

    #[test]
    fn an_unknown_selection_is_named() {
        let error = import(
            &source(),
            &mut empty(),
            &[Select::OperationId("list_walets".into())],
        )
        .err()
        .map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("no operation of the source spec matches operationId list_walets")
        );
    }
}

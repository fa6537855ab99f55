//! Runs progenitor without letting it panic, and names the culprit on failure.
//!
//! On failure of the whole document, each operation is generated alone (with
//! only the components it references); the first failing one is reported,
//! narrowed to a single component schema when the schemas alone fail.
//! Failures that no single operation reproduces are narrowed to a component.

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use openapiv3::OpenAPI;
use proc_macro2::TokenStream;
use progenitor::{GenerationSettings, Generator};
use serde_json::{Map, Value, json};

use crate::normalize::subset::{closure, subset};
use crate::normalize::{operations, pointer};

/// A progenitor failure, located where possible.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// Reproduced by one operation (and, if `component` is set, by that
    /// component schema alone).
    #[error("progenitor {} on operation {operation} at {pointer}: {message}", verb(*.panicked))]
    Operation {
        /// The operation's `operationId`.
        operation: String,
        /// JSON pointer of the operation, or of the component schema at fault.
        pointer: String,
        /// The panic or error message.
        message: String,
        /// `true` if progenitor panicked rather than returned an error.
        panicked: bool,
    },
    /// Reproduced by a component schema that no single operation triggers.
    #[error("progenitor {} on component {pointer}: {message}", verb(*.panicked))]
    Component {
        /// JSON pointer of the component schema.
        pointer: String,
        /// The panic or error message.
        message: String,
        /// `true` if progenitor panicked.
        panicked: bool,
    },
    /// Only the document as a whole fails (e.g. a clash between operations).
    #[error("progenitor {} on the document (no single operation or component reproduces it): {message}", verb(*.panicked))]
    Document {
        /// The panic or error message.
        message: String,
        /// `true` if progenitor panicked.
        panicked: bool,
    },
}

fn verb(panicked: bool) -> &'static str {
    if panicked { "panicked" } else { "failed" }
}

/// Generates `spec` with `settings`; never panics. On failure, locates the
/// operation (and component) responsible.
pub fn generate_checked(
    spec: &OpenAPI,
    settings: &GenerationSettings,
) -> Result<TokenStream, GenerateError> {
    let message = match run(spec, settings) {
        Ok(tokens) => return Ok(tokens),
        Err(failure) => failure,
    };
    let value = serde_json::to_value(spec).unwrap_or(Value::Null);
    Err(locate(&value, settings).unwrap_or(GenerateError::Document {
        message: message.0,
        panicked: message.1,
    }))
}

/// One generation attempt: `Err((message, panicked))` on failure.
fn run(spec: &OpenAPI, settings: &GenerationSettings) -> Result<TokenStream, (String, bool)> {
    let _quiet = QuietPanics::new();
    match catch_unwind(AssertUnwindSafe(|| {
        Generator::new(settings).generate_tokens(spec)
    })) {
        Ok(Ok(tokens)) => Ok(tokens),
        Ok(Err(e)) => Err((e.to_string(), false)),
        Err(payload) => Err((panic_message(payload.as_ref()), true)),
    }
}

fn run_value(value: &Value, settings: &GenerationSettings) -> Result<(), (String, bool)> {
    let spec: OpenAPI =
        serde_json::from_value(value.clone()).map_err(|e| (e.to_string(), false))?;
    run(&spec, settings).map(|_| ())
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(non-string panic payload)".into())
}

thread_local! {
    /// Set while this thread probes progenitor: its panics are expected and caught.
    static PROBING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Keeps the panic hook quiet for this thread while it lives. The process's hook is wrapped
/// once, never swapped back and forth, so threads probing at the same time (parallel tests, a
/// tool generating several specs) cannot leave it silenced, and other threads' panics are
/// always reported.
struct QuietPanics;

impl QuietPanics {
    fn new() -> Self {
        static WRAPPED: std::sync::Once = std::sync::Once::new();
        WRAPPED.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if !PROBING.with(std::cell::Cell::get) {
                    previous(info);
                }
            }));
        });
        PROBING.with(|probing| probing.set(true));
        QuietPanics
    }
}

impl Drop for QuietPanics {
    fn drop(&mut self) {
        PROBING.with(|probing| probing.set(false));
    }
}

fn locate(spec: &Value, settings: &GenerationSettings) -> Option<GenerateError> {
    for op in operations::list(spec) {
        let item_ptr = pointer::join("/paths", &op.path);
        let mut item = Map::new();
        if let Some(params) = spec.pointer(&item_ptr).and_then(|i| i.get("parameters")) {
            item.insert("parameters".into(), params.clone());
        }
        item.insert(
            op.method.clone(),
            spec.pointer(&op.pointer).cloned().unwrap_or(Value::Null),
        );
        let item = Value::Object(item);
        let refs = closure(spec, &item);
        let one = subset(spec, json!({ op.path.clone(): item }), &refs);
        let Err((message, panicked)) = run_value(&one, settings) else {
            continue;
        };
        let pointer =
            component_culprit(spec, &refs, settings).unwrap_or_else(|| op.pointer.clone());
        return Some(GenerateError::Operation {
            operation: op.label(),
            pointer,
            message,
            panicked,
        });
    }
    let all: BTreeSet<String> = component_pointers(spec);
    let pointer = component_culprit(spec, &all, settings)?;
    let refs = closure(spec, &json!({"$ref": format!("#{pointer}")}));
    let (message, panicked) = run_value(&subset(spec, json!({}), &refs), settings).err()?;
    Some(GenerateError::Component {
        pointer,
        message,
        panicked,
    })
}

/// Among the component schemas in `refs`, the failing one with the fewest
/// dependencies (the most precise culprit), if the schemas alone fail.
fn component_culprit(
    spec: &Value,
    refs: &BTreeSet<String>,
    settings: &GenerationSettings,
) -> Option<String> {
    run_value(&subset(spec, json!({}), refs), settings).err()?;
    refs.iter()
        .filter(|p| p.starts_with("/components/schemas/"))
        .map(|p| (p, closure(spec, &json!({"$ref": format!("#{p}")}))))
        .filter(|(_, deps)| run_value(&subset(spec, json!({}), deps), settings).is_err())
        .min_by_key(|(_, deps)| deps.len())
        .map(|(p, _)| p.clone())
}

fn component_pointers(spec: &Value) -> BTreeSet<String> {
    spec.pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|m| {
            m.keys()
                .map(|k| pointer::join("/components/schemas", k))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use progenitor::{HooksMode, InterfaceStyle, TagStyle};
    use quote::quote;

    fn settings() -> GenerationSettings {
        let mut s = GenerationSettings::new();
        s.with_interface(InterfaceStyle::Builder)
            .with_tag(TagStyle::Merged)
            .with_inner_type(quote!(crate::Hooks))
            .with_hooks(HooksMode::Expected);
        s
    }

    fn doc(paths: Value, schemas: Value) -> OpenAPI {
        serde_json::from_value(
            json!({"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
            "paths": paths, "components": {"schemas": schemas}}),
        )
        .unwrap()
    }

    fn ok(schema: &str) -> Value {
        json!({"description": "", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
    }

    #[test]
    fn names_the_operation_and_component_that_panic() {
        let spec = doc(
            json!({"/a": {"get": {"operationId": "good", "responses": {"200": ok("A")}}},
                   "/b": {"get": {"operationId": "bad", "responses": {"200": ok("Wrap")}}}}),
            json!({"A": {"type": "string"},
                   "Wrap": {"type": "object", "properties": {"op": {"$ref": "#/components/schemas/Op"}}},
                   "Op": {"type": "string", "enum": [">", "<"]}}),
        );
        let e = generate_checked(&spec, &settings()).unwrap_err();
        match e {
            GenerateError::Operation {
                operation,
                pointer,
                panicked,
                message,
            } => {
                assert_eq!(operation, "bad");
                assert_eq!(pointer, "/components/schemas/Op");
                assert!(panicked);
                assert!(message.contains("unique variant names"), "{message}");
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn names_operation_for_progenitor_errors_and_passes_good_specs() {
        let spec = doc(
            json!({"/a": {"get": {"operationId": "good", "responses": {"200": ok("A")}}},
                   "/b": {"post": {"operationId": "upload", "requestBody": {"content": {
                        "multipart/form-data": {"schema": {"type": "object"}}}}, "responses": {"200": ok("A")}}}}),
            json!({"A": {"type": "string"}}),
        );
        let e = generate_checked(&spec, &settings()).unwrap_err();
        assert!(
            matches!(&e, GenerateError::Operation { operation, pointer, panicked: false, .. }
            if operation == "upload" && pointer == "/paths/~1b/post"),
            "{e}"
        );
        let good = doc(
            json!({"/a": {"get": {"operationId": "good", "responses": {"200": ok("A")}}}}),
            json!({"A": {"type": "string"}}),
        );
        assert!(generate_checked(&good, &settings()).is_ok());
    }

    #[test]
    fn names_unreferenced_component() {
        let spec = doc(
            json!({}),
            json!({"Op": {"type": "string", "enum": [">", "<"]}}),
        );
        let e = generate_checked(&spec, &settings()).unwrap_err();
        assert!(
            matches!(&e, GenerateError::Component { pointer, .. } if pointer == "/components/schemas/Op"),
            "{e}"
        );
    }
}

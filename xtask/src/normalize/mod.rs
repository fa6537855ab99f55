//! The normalization step between the spec as written and progenitor.
//!
//! progenitor 0.15 cannot take some shapes of Cobo's spec (it panics on them). Each rule here
//! rewrites one such shape into an equivalent that progenitor takes, records what it changed as a
//! [`Change`], and leaves everything else byte-identical. A shape no rule can rewrite is an
//! error, or a [`Skipped`] operation, that names the operation and the JSON pointer.

mod enum_identifiers;
mod error_responses;
mod pointer;

use std::fmt::Write as _;

use serde_json::Value;

pub use pointer::pointer;

/// One rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Where, as a JSON pointer into the spec as written.
    pub pointer: String,
    /// The operation it belongs to, if any.
    pub operation: Option<String>,
    /// The rule that made it.
    pub rule: &'static str,
    /// What it did.
    pub detail: String,
}

/// An operation left out of the generated client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Its operationId.
    pub operation: String,
    /// Its JSON pointer.
    pub pointer: String,
    /// Why.
    pub reason: String,
}

/// The normalized spec and what was done to it.
#[derive(Debug, Clone)]
pub struct Normalized {
    /// The spec progenitor reads.
    pub spec: Value,
    /// Every rewrite.
    pub changes: Vec<Change>,
    /// Every operation left out.
    pub skipped: Vec<Skipped>,
    /// How many operations the normalized spec has.
    pub operations: usize,
}

/// A shape the normalization cannot handle.
#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    /// The document is not an OpenAPI 3.0 document.
    #[error("not an OpenAPI 3.0 document: {0}")]
    NotOpenApi(String),
    /// A shape no rule handles.
    #[error("operation {operation} at {pointer}: {reason}")]
    Unsupported {
        /// The operationId.
        operation: String,
        /// The JSON pointer.
        pointer: String,
        /// What is wrong.
        reason: String,
    },
}

/// The HTTP methods of a path item.
pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Normalizes a spec.
pub fn normalize(mut spec: Value) -> Result<Normalized, NormalizeError> {
    let version = spec
        .get("openapi")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !version.starts_with("3.0") {
        return Err(NormalizeError::NotOpenApi(format!(
            "\"openapi\" is {version:?}, expected 3.0.x"
        )));
    }
    if !spec.get("paths").is_some_and(Value::is_object) {
        return Err(NormalizeError::NotOpenApi("no \"paths\" object".to_owned()));
    }
    let mut changes = Vec::new();
    let skipped = Vec::new();
    enum_identifiers::apply(&mut spec, &mut changes);
    error_responses::apply(&mut spec, &mut changes)?;
    let operations = count_operations(&spec);
    Ok(Normalized {
        spec,
        changes,
        skipped,
        operations,
    })
}

/// Counts the operations of a spec.
pub fn count_operations(spec: &Value) -> usize {
    spec["paths"].as_object().map_or(0, |paths| {
        paths
            .values()
            .map(|item| METHODS.iter().filter(|m| item.get(**m).is_some()).count())
            .sum()
    })
}

/// Calls `f` on every operation: (path, method, operation).
pub fn for_each_operation(
    spec: &mut Value,
    mut f: impl FnMut(&str, &str, &mut Value) -> Result<(), NormalizeError>,
) -> Result<(), NormalizeError> {
    let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    for (path, item) in paths.iter_mut() {
        for method in METHODS {
            if let Some(operation) = item.get_mut(method) {
                f(path, method, operation)?;
            }
        }
    }
    Ok(())
}

/// The operationId of an operation, or `METHOD path`.
pub fn operation_id(path: &str, method: &str, operation: &Value) -> String {
    operation
        .get("operationId")
        .and_then(Value::as_str)
        .map_or_else(
            || format!("{} {path}", method.to_uppercase()),
            str::to_owned,
        )
}

/// Finds the operation progenitor fails on, by generating each operation alone with all the
/// components; `fails` returns the failure for a one-operation spec.
pub fn find_culprit(spec: &Value, fails: impl Fn(&Value) -> Option<String>) -> Option<String> {
    let paths = spec["paths"].as_object()?;
    let mut components_only = spec.clone();
    components_only["paths"] = serde_json::json!({});
    if let Some(failure) = fails(&components_only) {
        return Some(format!(
            "the component schemas, not an operation (/components/schemas): {failure}"
        ));
    }
    for (path, item) in paths {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let mut one = spec.clone();
            let mut only = item.clone();
            if let Some(object) = only.as_object_mut() {
                object.retain(|key, _| key == method || !METHODS.contains(&key.as_str()));
            }
            one["paths"] = serde_json::json!({ path: only });
            if let Some(failure) = fails(&one) {
                return Some(format!(
                    "operation {} ({}): {failure}",
                    operation_id(path, method, operation),
                    pointer(&["paths", path, method])
                ));
            }
        }
    }
    None
}

impl Normalized {
    /// A readable report of what was changed and skipped.
    pub fn report(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "normalization: {} change(s), {} operation(s) skipped",
            self.changes.len(),
            self.skipped.len()
        );
        for change in &self.changes {
            let _ = writeln!(
                out,
                "  [{}] {}{}: {}",
                change.rule,
                change.pointer,
                change
                    .operation
                    .as_ref()
                    .map(|o| format!(" ({o})"))
                    .unwrap_or_default(),
                change.detail
            );
        }
        for skipped in &self.skipped {
            let _ = writeln!(
                out,
                "  [skipped] {} ({}): {}",
                skipped.pointer, skipped.operation, skipped.reason
            );
        }
        out
    }
}

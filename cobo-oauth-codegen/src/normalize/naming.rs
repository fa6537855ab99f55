//! Rust identifier naming as typify 0.8 does it, and fresh component names.

use std::collections::HashSet;

use heck::ToPascalCase;
use serde_json::Value;
use unicode_ident::{is_xid_continue, is_xid_start};

/// Mirrors typify's `sanitize(_, Case::Pascal)`: the Rust identifier typify
/// derives from a schema name or an enum value.
pub fn pascal(input: &str) -> String {
    let out = match input {
        "+1" => "plus1".to_string(),
        "-1" => "minus1".to_string(),
        _ => input
            .replace('\'', "")
            .replace(|c: char| !is_xid_continue(c), "-")
            .to_pascal_case(),
    };
    let prefix = "x".to_pascal_case();
    let out = match out.chars().next() {
        None => prefix,
        Some(c) if is_xid_start(c) => out,
        Some(_) => format!("{prefix}{out}"),
    };
    if matches!(out.as_str(), "Self" | "_") {
        format!("{out}_")
    } else {
        out
    }
}

/// Picks a name for a new `components/schemas` entry that, once turned into
/// a Rust identifier, collides neither with an existing schema nor with the
/// names progenitor gives inline operation types (`{Op}Response`, `{Op}Body`).
pub fn fresh_schema_name(spec: &Value, base: &str) -> String {
    let mut taken: HashSet<String> = spec
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|m| m.keys().map(|k| pascal(k)).collect())
        .unwrap_or_default();
    for op in super::operations::list(spec) {
        if let Some(id) = op.operation_id {
            taken.insert(pascal(&format!("{id}-response")));
            taken.insert(pascal(&format!("{id}-body")));
        }
    }
    let base = pascal(base);
    if !taken.contains(&base) {
        return base;
    }
    // `taken` is finite, so some numbered name is free.
    (2u64..)
        .map(|n| format!("{base}{n}"))
        .find(|c| !taken.contains(c))
        .unwrap_or_else(|| format!("{base}{}", taken.len() + 2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mirrors_typify() {
        assert_eq!(pascal(">="), "X");
        assert_eq!(pascal("in_progress"), "InProgress");
        assert_eq!(pascal("oauthErrorResponse"), "OauthErrorResponse");
    }

    #[test]
    fn avoids_taken_names() {
        let spec = json!({"components": {"schemas": {"Taken": {}}},
            "paths": {"/x": {"get": {"operationId": "get_token_error"}}}});
        assert_eq!(fresh_schema_name(&spec, "taken"), "Taken2");
        assert_eq!(
            fresh_schema_name(&spec, "get_token-error-response"),
            "GetTokenErrorResponse2"
        );
        assert_eq!(fresh_schema_name(&spec, "Other"), "Other");
    }
}

//! Rust identifier naming as typify 0.8 does it, and fresh component names.

use std::collections::HashSet;

use heck::{ToPascalCase, ToSnakeCase};
use serde_json::Value;
use unicode_ident::{is_xid_continue, is_xid_start};

use super::pointer;

/// The first step typify and progenitor share when they make an identifier: `+1`/`-1` spelled
/// out, apostrophes dropped, every character that cannot continue an identifier a word break,
/// then `case` applied.
fn words(input: &str, case: fn(&str) -> String) -> String {
    match input {
        "+1" => "plus1".to_owned(),
        "-1" => "minus1".to_owned(),
        _ => case(
            &input
                .replace('\'', "")
                .replace(|c: char| !is_xid_continue(c), "-"),
        ),
    }
}

/// Mirrors typify's `sanitize(_, Case::Pascal)`: the Rust identifier typify
/// derives from a schema name or an enum value.
pub fn pascal(input: &str) -> String {
    let out = words(input, |w| w.to_pascal_case());
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

/// Mirrors progenitor 0.15.1's `sanitize(_, Case::Snake)`: the name it gives an operation's
/// method, and the `operation_id` its hooks receive.
pub fn snake(input: &str) -> String {
    let out = words(input, |w| w.to_snake_case());
    let out = match out.chars().next() {
        None => "x".to_owned(),
        Some(c) if is_xid_start(c) => out,
        Some(_) => format!("_{out}"),
    };
    // A keyword (`type`, `match`) is not an identifier: progenitor appends `_`.
    if syn::parse_str::<syn::Ident>(&out).is_ok() {
        out
    } else {
        format!("{out}_")
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

/// The unescaped segments of a JSON pointer.
pub fn segments(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// The name of an inline schema's type, from where it is: the component (or operation and
/// parameter, body, response), then each property, `item` or `value` on the way.
pub fn inline_type_name(spec: &Value, pointer: &str) -> String {
    let segments = segments(pointer);
    let mut words: Vec<String> = Vec::new();
    let mut rest: &[String] = &segments;
    match segments.as_slice() {
        [components, _, name, tail @ ..] if components == "components" => {
            words.push(name.clone());
            rest = tail;
        }
        [paths, path, method, tail @ ..] if paths == "paths" => {
            let operation = spec
                .pointer(&pointer::join(&pointer::join("/paths", path), method))
                .and_then(|o| o.get("operationId"))
                .and_then(Value::as_str)
                .unwrap_or(method);
            words.push(operation.to_owned());
            rest = tail;
            if let [parameters, index, tail @ ..] = rest
                && parameters == "parameters"
            {
                let parameter = spec
                    .pointer(&format!(
                        "{}/parameters/{index}",
                        pointer::join(&pointer::join("/paths", path), method)
                    ))
                    .and_then(|p| p.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or(index);
                words.push(parameter.to_owned());
                rest = tail;
            }
        }
        _ => {}
    }
    let mut iter = rest.iter().peekable();
    while let Some(segment) = iter.next() {
        match segment.as_str() {
            "properties" => {
                if let Some(name) = iter.next() {
                    words.push(name.clone());
                }
            }
            "items" => words.push("item".into()),
            "additionalProperties" => words.push("value".into()),
            "requestBody" => words.push("body".into()),
            "responses" => {
                iter.next();
                words.push("response".into());
            }
            "allOf" | "oneOf" | "anyOf" => {
                if let Some(index) = iter.next() {
                    words.push(format!("variant{index}"));
                }
            }
            "content" => {
                iter.next();
            }
            _ => {}
        }
    }
    pascal(&words.join("-"))
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

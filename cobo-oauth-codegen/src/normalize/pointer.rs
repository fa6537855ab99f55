//! JSON pointer helpers and local `$ref` resolution.

use serde_json::Value;

/// Escapes one JSON pointer segment (`~` → `~0`, `/` → `~1`).
pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Appends an (unescaped) segment to a JSON pointer.
pub fn join(base: &str, segment: &str) -> String {
    format!("{base}/{}", escape(segment))
}

/// Converts a local reference (`#/components/...`) into a JSON pointer.
/// Returns `None` for non-local references.
pub fn ref_to_pointer(reference: &str) -> Option<&str> {
    reference.strip_prefix('#')
}

/// Returns the `$ref` string of a reference object, if `value` is one.
pub fn as_ref(value: &Value) -> Option<&str> {
    value.get("$ref").and_then(Value::as_str)
}

/// Follows a chain of local `$ref`s starting at `value` (at most 32 hops).
/// Returns the final non-reference value and the last reference followed,
/// or `Err(reference)` naming the reference that could not be resolved.
pub fn deref<'a>(
    spec: &'a Value,
    value: &'a Value,
) -> Result<(&'a Value, Option<&'a str>), String> {
    let mut current = value;
    let mut last = None;
    for _ in 0..32 {
        match as_ref(current) {
            None => return Ok((current, last)),
            Some(reference) => {
                let target = ref_to_pointer(reference)
                    .and_then(|p| spec.pointer(p))
                    .ok_or_else(|| reference.to_string())?;
                last = Some(reference);
                current = target;
            }
        }
    }
    Err(format!("{} (reference cycle)", last.unwrap_or_default()))
}

/// The last segment (unescaped) of a local reference, e.g. the component name.
pub fn ref_name(reference: &str) -> &str {
    reference.rsplit('/').next().unwrap_or(reference)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_and_derefs() {
        assert_eq!(join("/paths", "/oauth/token"), "/paths/~1oauth~1token");
        let spec = json!({"components": {"responses": {
            "a": {"$ref": "#/components/responses/b"}, "b": {"description": "x"}}}});
        let start = json!({"$ref": "#/components/responses/a"});
        let (v, last) = deref(&spec, &start).unwrap();
        assert_eq!(v, &json!({"description": "x"}));
        assert_eq!(last, Some("#/components/responses/b"));
        assert!(deref(&spec, &json!({"$ref": "#/nope"})).is_err());
    }
}

//! JSON pointers (RFC 6901) and `$ref` resolution.

use serde_json::Value;

/// A JSON pointer from its segments: `~` becomes `~0`, `/` becomes `~1`.
pub fn pointer(segments: &[&str]) -> String {
    segments
        .iter()
        .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// Follows local `$ref`s (`#/...`) until a value that is not a reference.
pub fn resolve<'a>(spec: &'a Value, mut value: &'a Value) -> Option<&'a Value> {
    for _ in 0..32 {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => value = spec.pointer(reference.strip_prefix('#')?)?,
            None => return Some(value),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_segments() {
        assert_eq!(
            pointer(&["paths", "/oauth/token", "get"]),
            "/paths/~1oauth~1token/get"
        );
        assert_eq!(pointer(&["a~b"]), "/a~0b");
    }

    #[test]
    fn resolves_chains() {
        let spec = serde_json::json!({"a": {"$ref": "#/b"}, "b": {"$ref": "#/c"}, "c": 1});
        assert_eq!(resolve(&spec, &spec["a"]), Some(&serde_json::json!(1)));
        assert_eq!(resolve(&spec, &serde_json::json!({"$ref": "#/nope"})), None);
    }
}

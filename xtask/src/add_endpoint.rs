//! `cargo xtask add-endpoint METHOD PATH`: copies an operation, and every component it references,
//! from Cobo's official spec into `openapi/cobo-oauth.yaml`.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::task::{TaskError, load_spec, read, write};

/// Collects the `#/components/...` references reachable from `value`, following them through
/// `source`.
fn references(source: &Value, value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(object) => {
            for (key, child) in object {
                match (key.as_str(), child.as_str()) {
                    ("$ref", Some(reference)) if reference.starts_with("#/components/") => {
                        if found.insert(reference.to_owned())
                            && let Some(target) = source.pointer(&reference[1..])
                        {
                            references(source, target, found);
                        }
                    }
                    _ => references(source, child, found),
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| references(source, item, found)),
        _ => {}
    }
}

/// Adds `METHOD path` from `source_path` to the spec at `spec_path`.
pub fn run(
    method: &str,
    path: &str,
    source_path: &Path,
    spec_path: &Path,
) -> Result<(), TaskError> {
    let source = load_spec(source_path)?;
    let mut spec = load_spec(spec_path)?;
    let method = method.to_ascii_lowercase();
    let not_found = || {
        TaskError::Codegen(format!(
            "{} {path} is not in {}",
            method.to_uppercase(),
            source_path.display()
        ))
    };
    let operation = source["paths"]
        .get(path)
        .and_then(|item| item.get(&method))
        .ok_or_else(not_found)?
        .clone();
    if spec["paths"]
        .get(path)
        .and_then(|item| item.get(&method))
        .is_some()
    {
        return Err(TaskError::Codegen(format!(
            "{} {path} is already in {}",
            method.to_uppercase(),
            spec_path.display()
        )));
    }
    let mut found = BTreeSet::new();
    references(&source, &operation, &mut found);
    if let Some(shared) = source["paths"][path].get("parameters") {
        references(&source, shared, &mut found);
        spec["paths"][path]["parameters"] = shared.clone();
    }
    spec["paths"][path][&method] = operation;
    let mut added = 0;
    for reference in &found {
        let segments: Vec<&str> = reference.trim_start_matches("#/").split('/').collect();
        let [_, section, name] = segments[..] else {
            continue;
        };
        let wanted = source
            .pointer(&reference[1..])
            .cloned()
            .unwrap_or(Value::Null);
        match spec["components"][section].get(name) {
            Some(existing) if existing == &wanted => {}
            Some(_) => {
                return Err(TaskError::Codegen(format!(
                    "{reference} differs between {} and {}; reconcile it by hand",
                    source_path.display(),
                    spec_path.display()
                )));
            }
            None => {
                spec["components"][section][name] = wanted;
                added += 1;
            }
        }
    }
    let text = read(spec_path)?;
    let header: String = text
        .lines()
        .take_while(|line| line.starts_with('#'))
        .map(|line| format!("{line}\n"))
        .collect();
    let yaml = serde_yaml::to_string(&spec).map_err(|e| TaskError::Codegen(e.to_string()))?;
    write(spec_path, &format!("{header}{yaml}"))?;
    eprintln!(
        "added {} {path} and {added} component(s) to {}; now run `cargo xtask codegen`",
        method.to_uppercase(),
        spec_path.display()
    );
    Ok(())
}

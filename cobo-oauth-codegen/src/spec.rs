//! Reading and writing specs: YAML or JSON in, the same document as `serde_json::Value`.

use std::path::Path;

use serde_json::Value;

use crate::error::CodegenError;

/// Reads a file.
pub fn read(path: &Path) -> Result<String, CodegenError> {
    std::fs::read_to_string(path).map_err(|source| CodegenError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Writes a file, creating its directory.
pub fn write(path: &Path, contents: &str) -> Result<(), CodegenError> {
    let io = |source| CodegenError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::write(path, contents).map_err(io)
}

/// Loads a YAML or JSON spec (JSON is YAML) as a JSON value, keeping the order of its keys.
pub fn load(path: &Path) -> Result<Value, CodegenError> {
    let text = read(path)?;
    let parsed = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| e.to_string())
    } else {
        serde_yaml::from_str(&text).map_err(|e| e.to_string())
    };
    parsed.map_err(|reason| CodegenError::Spec {
        path: path.to_owned(),
        reason,
    })
}

/// Writes `spec` as YAML to `path`, keeping the comment lines that start the file there.
pub fn save_yaml(path: &Path, spec: &Value) -> Result<(), CodegenError> {
    let header: String = std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .take_while(|line| line.starts_with('#'))
        .map(|line| format!("{line}\n"))
        .collect();
    let yaml = serde_yaml::to_string(spec).map_err(|e| CodegenError::Spec {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    write(path, &format!("{header}{yaml}"))
}
